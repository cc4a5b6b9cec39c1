//! Hostile input: every function's trigger handling, fed arbitrary JSON, real events with a value of
//! the wrong type anywhere, real events cut short, huge arrays, deep nesting and strange keys.
//! Whatever arrives, a function must not panic: it answers `ignored` with a reason, or (when the
//! damaged event still names a resource) tries AWS, which here is an unreachable endpoint.
//! Case counts are bounded for CI; raise them with `PROPTEST_CASES`.

use std::sync::OnceLock;

use aws_config::{BehaviorVersion, SdkConfig};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::config::Settings;
use crate::config_rule::ConfigRule;
use crate::identity::OwnIdentity;
use crate::instance::{InstanceActions, UntaggedInstances};
use crate::invocation::{handle, InvocationError, Remediation, Report, Status};
use crate::notify::Notifier;
use crate::s3::{S3Actions, S3PublicAccess};
use crate::security_group::{OpenSecurityGroup, SecurityGroupActions};

/// Nothing listens on port 9: every AWS call fails at once, as a transient error.
async fn unreachable_aws() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "AKID", "SECRET", None, None, "hostile",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

struct Functions {
    runtime: tokio::runtime::Runtime,
    s3: S3PublicAccess,
    groups: OpenSecurityGroup,
    instances: UntaggedInstances,
    rule: ConfigRule,
    notifier: Notifier,
}

fn functions() -> &'static Functions {
    static FUNCTIONS: OnceLock<Functions> = OnceLock::new();
    FUNCTIONS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let sdk = runtime.block_on(unreachable_aws());
        let settings = Settings::default();
        Functions {
            s3: S3PublicAccess::new(
                S3Actions::from_sdk_config(&sdk),
                settings.clone(),
                Some("us-east-1".into()),
            ),
            groups: OpenSecurityGroup::new(
                SecurityGroupActions::from_sdk_config(&sdk),
                settings.clone(),
                OwnIdentity::from_sdk_config(&sdk),
            ),
            instances: UntaggedInstances::new(
                InstanceActions::from_sdk_config(&sdk),
                settings.clone(),
                OwnIdentity::from_sdk_config(&sdk),
            ),
            rule: ConfigRule::from_sdk_config(&sdk, settings),
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(&sdk),
                None,
                "hostile",
                "remediation:exempt",
            ),
            runtime,
        }
    })
}

/// What a remediation may answer to anything: a report whose every entry has a reason, or a
/// retryable failure that comes from AWS being unreachable.
fn check_answer(payload: &Value, result: Result<Report, InvocationError>) -> Result<(), String> {
    let (report, retried) = match result {
        Ok(report) => (report, false),
        Err(err) => {
            if err.reasons.iter().any(|r| r.trim().is_empty()) || err.reasons.is_empty() {
                return Err(format!("an error without reasons for {payload}"));
            }
            (err.report, true)
        }
    };
    for entry in &report.results {
        if entry.reason.trim().is_empty() {
            return Err(format!(
                "{} without a reason for {payload}",
                entry.outcome.as_str()
            ));
        }
    }
    if !retried && report.results.is_empty() && report.status != Status::Done {
        return Err(format!("{:?} without saying why: {payload}", report.status));
    }
    Ok(())
}

/// Every function's answer to one payload.
fn all_functions_answer(payload: &Value) -> Result<(), String> {
    let f = functions();
    f.runtime.block_on(async {
        check_answer(payload, answer(payload, &f.s3, &f.notifier).await)?;
        check_answer(payload, answer(payload, &f.groups, &f.notifier).await)?;
        check_answer(payload, answer(payload, &f.instances, &f.notifier).await)?;
        match f.rule.handle(payload).await {
            Ok(response) if response.results.is_empty() => {
                Err(format!("config-rule: no result for {payload}"))
            }
            // Errors are fine: AWS is unreachable, or a rule parameter is bad (both named).
            Ok(_) | Err(_) => Ok(()),
        }
    })
}

async fn answer<R: Remediation>(
    payload: &Value,
    remediation: &R,
    notifier: &Notifier,
) -> Result<Report, InvocationError> {
    handle(payload.clone(), remediation, notifier).await
}

/// Every sample event in `events/`, as JSON.
fn samples() -> &'static Vec<Value> {
    static SAMPLES: OnceLock<Vec<Value>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let root = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        for dir in std::fs::read_dir(&root).expect("events/") {
            let dir = dir.expect("entry").path();
            if !dir.is_dir() {
                continue;
            }
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .expect("dir")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            for file in files {
                let text = std::fs::read_to_string(&file).expect("read");
                found.push(serde_json::from_str(&text).expect("sample events are JSON"));
            }
        }
        assert!(
            found.len() > 40,
            "expected the sample events, found {}",
            found.len()
        );
        found
    })
}

/// The paths to every value in `value` (object keys and array indexes), the root included.
fn paths(value: &Value) -> Vec<Vec<PathStep>> {
    let mut all = vec![Vec::new()];
    let mut i = 0;
    while i < all.len() {
        let path = all[i].clone();
        match lookup(value, &path) {
            Some(Value::Object(map)) => {
                for key in map.keys() {
                    let mut next = path.clone();
                    next.push(PathStep::Key(key.clone()));
                    all.push(next);
                }
            }
            Some(Value::Array(items)) => {
                for index in 0..items.len() {
                    let mut next = path.clone();
                    next.push(PathStep::Index(index));
                    all.push(next);
                }
            }
            _ => {}
        }
        i += 1;
    }
    all
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn lookup<'a>(value: &'a Value, path: &[PathStep]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, step| match step {
        PathStep::Key(k) => v.get(k),
        PathStep::Index(i) => v.get(i),
    })
}

fn lookup_mut<'a>(value: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        PathStep::Key(k) => v.get_mut(k),
        PathStep::Index(i) => v.get_mut(i),
    })
}

/// Values of every JSON type, the awkward ones included.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(u64::MAX)),
        Just(json!(1e300)),
        Just(json!(-0.5)),
        Just(json!("")),
        Just(json!(" ")),
        Just(json!("0.0.0.0/0")),
        Just(json!("-1")),
        Just(json!("\u{0}\u{202e}\u{fffd}")),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"items": {}})),
        Just(json!([{}])),
        strange_string().prop_map(Value::String),
        Just(huge_array()),
        Just(deep_nesting(100)),
    ]
}

/// Strings that are not what anyone expects: lossy-decoded bytes (as a non-UTF-8 key would arrive
/// after a lenient decoder), control characters, right-to-left marks, very long strings.
fn strange_string() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        "[\\x00-\\x1f\\u{202e}\\u{feff}\\u{10ffff}]{0,10}",
        Just("x".repeat(300_000)),
    ]
}

fn huge_array() -> Value {
    Value::Array(
        (0..20_000)
            .map(
                |i| json!({"groupId": format!("sg-{i:017x}"), "instanceId": format!("i-{i:017x}")}),
            )
            .collect(),
    )
}

/// Nested arrays and objects, `depth` deep (serde_json parses at most 128 levels, so this is about
/// as deep as a payload can arrive).
fn deep_nesting(depth: usize) -> Value {
    (0..depth).fold(json!("bottom"), |inner, level| {
        if level % 2 == 0 {
            json!([inner])
        } else {
            json!({ "detail": inner })
        }
    })
}

/// Arbitrary JSON, with keys drawn partly from the names real events use.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("detail-type".to_string()),
        Just("source".to_string()),
        Just("detail".to_string()),
        Just("Records".to_string()),
        Just("Sns".to_string()),
        Just("Message".to_string()),
        Just("eventName".to_string()),
        Just("eventSource".to_string()),
        Just("requestParameters".to_string()),
        Just("invokingEvent".to_string()),
        Just("ruleParameters".to_string()),
        Just("messageType".to_string()),
        Just("resourceType".to_string()),
        Just("instance-id".to_string()),
        strange_string(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        strange_string().prop_map(Value::String),
        Just(json!("AWS API Call via CloudTrail")),
        Just(json!("Scheduled Event")),
        Just(json!("aws.ec2")),
        Just(json!("ScheduledNotification")),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A real event with the value at one path replaced.
fn event_with_a_wrong_value() -> impl Strategy<Value = Value> {
    (
        0..samples().len(),
        any::<prop::sample::Index>(),
        hostile_value(),
    )
        .prop_map(|(sample, at, replacement)| {
            let mut event = samples()[sample].clone();
            let all = paths(&event);
            let path = &all[at.index(all.len())];
            if let Some(slot) = lookup_mut(&mut event, path) {
                *slot = replacement;
            }
            event
        })
}

/// A real event cut short: everything after some point in its text is dropped, and the prefix
/// closed again so that it parses (what a truncating proxy or a partial capture leaves).
fn truncated_event() -> impl Strategy<Value = Value> {
    (0..samples().len(), any::<prop::sample::Index>()).prop_map(|(sample, at)| {
        let text = samples()[sample].to_string();
        let mut cut = at.index(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        close_json(&text[..cut])
    })
}

/// The longest prefix of `prefix` that can be closed into JSON, closed.
fn close_json(prefix: &str) -> Value {
    for end in (0..=prefix.len()).rev() {
        if !prefix.is_char_boundary(end) {
            continue;
        }
        let head = prefix[..end].trim_end().trim_end_matches([',', ':']);
        let mut closers = Vec::new();
        let mut in_string = false;
        let mut escaped = false;
        for c in head.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '{' if !in_string => closers.push('}'),
                '[' if !in_string => closers.push(']'),
                '}' | ']' if !in_string => {
                    closers.pop();
                }
                _ => {}
            }
        }
        let mut candidate = head.to_string();
        if in_string {
            candidate.push('"');
        }
        candidate.extend(closers.iter().rev());
        if let Ok(value) = serde_json::from_str(&candidate) {
            return value;
        }
    }
    Value::Null
}

// proptest's default of 256 cases each; PROPTEST_CASES overrides it.
proptest! {
    #[test]
    fn arbitrary_json_gets_an_answer(payload in arbitrary_json()) {
        prop_assert!(all_functions_answer(&payload).is_ok(), "{:?}", all_functions_answer(&payload));
    }

    #[test]
    fn a_wrong_type_anywhere_in_a_real_event_gets_an_answer(payload in event_with_a_wrong_value()) {
        let answer = all_functions_answer(&payload);
        prop_assert!(answer.is_ok(), "{:?}", answer);
    }

    #[test]
    fn a_truncated_real_event_gets_an_answer(payload in truncated_event()) {
        let answer = all_functions_answer(&payload);
        prop_assert!(answer.is_ok(), "{:?}", answer);
    }
}

#[test]
fn huge_and_deep_payloads_get_an_answer() {
    let records: Vec<Value> = (0..5_000)
        .map(|i| json!({"EventSource": "aws:sns", "Sns": {"Message": format!("not json {i}")}}))
        .collect();
    for payload in [
        json!({ "Records": records }),
        huge_array(),
        deep_nesting(120),
        json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
               "detail": {"eventName": "AuthorizeSecurityGroupIngress", "eventSource": "ec2.amazonaws.com",
                          "requestParameters": {"groupId": huge_array(), "ipPermissions": {"items": huge_array()}}}}),
        json!({"x".repeat(1_000_000): "y"}),
    ] {
        all_functions_answer(&payload).unwrap();
    }
}

#[test]
fn closing_a_cut_event_keeps_what_was_there() {
    assert_eq!(
        close_json(r#"{"a": [1, 2, {"b": "tex"#),
        json!({"a": [1, 2, {"b": "tex"}]})
    );
    assert_eq!(close_json(r#"{"a": 1, "b"#), json!({"a": 1}));
    assert_eq!(close_json(""), Value::Null);
}

/// The sample events that ship inside the `aws_lambda_events` crate (every AWS service's events, 174 of
/// them), where cargo unpacked the version `Cargo.lock` names (`$CARGO_HOME/registry/src/*/`).
fn aws_lambda_events_fixtures() -> Vec<(String, Value)> {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"aws_lambda_events\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .expect("aws_lambda_events in Cargo.lock");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let crate_dir = format!("aws_lambda_events-{version}");
    let fixtures = std::fs::read_dir(cargo_home.join("registry/src"))
        .expect("cargo's registry sources")
        .filter_map(Result::ok)
        .map(|index| index.path().join(&crate_dir).join("src/fixtures"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "{crate_dir}/src/fixtures not unpacked under {}",
                cargo_home.display()
            )
        });
    let mut found: Vec<(String, Value)> = std::fs::read_dir(&fixtures)
        .unwrap_or_else(|e| panic!("{}: {e}", fixtures.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let name = path.file_name()?.to_string_lossy().to_string();
            Some((name, serde_json::from_str(&text).ok()?))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Every AWS event a new user might try (the fixtures of `aws_lambda_events`) gets a clean answer from
/// every function: `ignored` with a reason, an outcome, or an error a retry can mend (AWS is unreachable
/// here). In particular the Config rule never fails on a documented message type it does not evaluate
/// (`ConfigurationSnapshotDeliveryCompleted`): Lambda would retry it twice and park it in the DLQ.
#[test]
fn every_event_fixture_of_aws_lambda_events_gets_a_clean_answer() {
    let fixtures = aws_lambda_events_fixtures();
    assert!(fixtures.len() >= 100, "{} fixtures", fixtures.len());
    let f = functions();
    for (name, payload) in &fixtures {
        if let Err(problem) = all_functions_answer(payload) {
            panic!("{name}: {problem}");
        }
        let rule = f.runtime.block_on(f.rule.handle(payload));
        match rule {
            Ok(_) => {}
            Err(crate::config_rule::ConfigRuleError::Aws(err)) if err.is_transient() => {}
            Err(err) => {
                panic!("{name}: config-rule fails with an error a retry cannot mend: {err}")
            }
        }
    }
}
