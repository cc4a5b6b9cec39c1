//! Start-up of a function process: logging, settings, AWS configuration. Runs once per cold start.

use aws_config::{BehaviorVersion, SdkConfig};
use tracing_subscriber::EnvFilter;

use crate::config::{Settings, SettingsError};

/// JSON logs (one object per line, as CloudWatch and Lambda's JSON log format expect), each with the
/// invocation's request id.
/// Level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, `info` by default; the SDK's own chatter stays at `warn`.
pub fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| l.to_lowercase())
        .unwrap_or_else(|| "info".to_string());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},aws_config=warn,aws_smithy_runtime=warn,aws_runtime=warn,hyper=warn,h2=warn,rustls=warn"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_env_filter(filter)
        // The runtime opens one span per invocation carrying the request id.
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}

/// Reads the settings; a bad value is logged with the variable's name and ends start-up.
pub fn load_settings() -> Result<Settings, SettingsError> {
    Settings::from_env().inspect_err(|err| {
        tracing::error!(variable = err.variable, error = %err, "invalid setting: the function cannot start");
    })
}

/// The SDK configuration from the standard sources (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL[_<SERVICE>]`).
pub async fn load_aws_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// Whether requests to `service` go to an endpoint other than AWS's own (a local emulator).
/// `service_env` is the service's suffix in `AWS_ENDPOINT_URL_<SERVICE>`, e.g. `S3`.
pub fn endpoint_overridden(sdk: &SdkConfig, service_env: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    sdk.endpoint_url().is_some()
        || set("AWS_ENDPOINT_URL")
        || set(&format!("AWS_ENDPOINT_URL_{service_env}"))
}
