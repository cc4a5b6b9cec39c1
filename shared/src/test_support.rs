//! Unit-test helpers for the action layers: SDK clients answered by aws-smithy-mocks (no network).

use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;

/// A client of the SDK crate `$sdk` whose calls are answered by `$rules` (in any order), with
/// the standard retry policy at 1 ms backoff so retry tests stay fast.
macro_rules! mocked_client {
    ($sdk:ident, $rules:expr) => {{
        let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
            .rule_mode(aws_smithy_mocks::RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        let retry = $sdk::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(std::time::Duration::from_millis(1));
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "AKID", "SECRET", None, None, "test",
            ))
            .retry_config(retry)
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        $sdk::Client::from_conf(config)
    }};
}
pub(crate) use mocked_client;

/// An HTTP error response with an XML body, as S3 and EC2 send them.
pub fn http_error(status: u16, body: String) -> Response {
    Response::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body),
    )
}

/// A sample event from the repository's `events/` folder (`"untagged-instance/run-instances.json"`).
pub fn sample_payload(relative: &str) -> serde_json::Value {
    let path = format!("{}/../events/{relative}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first trigger of a sample event, which must parse.
pub fn sample_trigger(relative: &str) -> crate::trigger::Trigger {
    crate::trigger::parse_payload(&sample_payload(relative))
        .remove(0)
        .unwrap_or_else(|ignored| panic!("{relative}: {}", ignored.reason))
}

/// A sample event of the project's `events/` folder (`<function>/<file>.json`), as JSON.
pub fn sample_event(relative: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
}
