//! The test rig shared by every end-to-end test, the demo and `local-invoke`:
//! - [`moto`]: moto_server from the project's venv (started on a free port, reset per test)
//! - [`emulator`]: a Lambda Runtime API emulator running the real function binaries
//! - helpers to load sample events, build AWS clients against moto, and read notifications.

pub mod config_stub;
pub mod ec2;
pub mod emulator;
pub mod moto;
pub mod organization;
pub mod s3;
pub mod security_hub_stub;
pub mod stub;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

pub use emulator::{FunctionError, FunctionProcess, Invocation};
pub use moto::{Moto, MotoServer};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// A function binary next to the running executable (target/<profile>/ or its deps/ folder),
/// or in `REMEDIATION_BIN_DIR`.
pub fn function_binary(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("REMEDIATION_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent();
    while let Some(d) = dir {
        let candidate = d.join(name);
        if candidate.is_file() {
            return candidate;
        }
        if d.file_name().is_some_and(|n| n == "target") {
            break;
        }
        dir = d.parent();
    }
    panic!(
        "no {name} binary next to {} (build it with `make build`, or set REMEDIATION_BIN_DIR)",
        exe.display()
    )
}

/// A sample event from `events/`, with names replaced (`("example-public-bucket", "my-bucket")`).
/// Values are JSON-escaped, since events are substituted as text.
pub fn event(relative: &str, replacements: &[(&str, &str)]) -> Value {
    let path = repo_root().join("events").join(relative);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (from, to) in replacements {
        let escaped = serde_json::to_string(to).expect("string");
        text = text.replace(from, &escaped[1..escaped.len() - 1]);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{relative} after substitution: {e}"))
}

/// The environment a function gets in tests: moto as every endpoint, fake credentials, one region.
pub fn moto_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_MAX_ATTEMPTS", "2"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Starts a function binary under the emulator with moto's environment plus `settings`.
pub async fn start_function(
    name: &str,
    endpoint: &str,
    settings: &[(&str, &str)],
) -> FunctionProcess {
    let mut env = moto_env(endpoint);
    env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    FunctionProcess::start(&function_binary(name), name, &env).await
}

/// Runs the real `remediation-undo` against moto at `endpoint` with `args`, extra `env`, and `input`
/// on its standard input.
pub fn run_undo(
    endpoint: &str,
    env: &[(&str, &str)],
    args: &[&str],
    input: &str,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(function_binary("remediation-undo"))
        .args(args)
        .envs(moto_env(endpoint))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start remediation-undo");
    if let Some(mut stdin) = child.stdin.take() {
        // A run that exits before reading (bad arguments) closes its end: nothing to report.
        let _ = stdin.write_all(input.as_bytes());
    }
    child.wait_with_output().expect("remediation-undo ran")
}

/// One test's pretend account: a moto server of its own, clients, and a notification inbox.
pub struct Account {
    pub moto: Moto,
    pub aws: Aws,
    pub inbox: Notifications,
}

impl Account {
    pub async fn new() -> Account {
        let moto = Moto::checkout();
        let aws = Aws::new(&moto.endpoint()).await;
        let inbox = aws.notification_topic(&unique("remediation")).await;
        Account { moto, aws, inbox }
    }

    /// Starts function `name` against this account, notifying its inbox, with extra `settings`.
    pub async fn function(&self, name: &str, settings: &[(&str, &str)]) -> FunctionProcess {
        let mut all = vec![("NOTIFICATION_TOPIC_ARN", self.inbox.topic_arn.as_str())];
        all.extend_from_slice(settings);
        start_function(name, &self.moto.endpoint(), &all).await
    }
}

/// SDK clients pointed at moto, for seeding and inspecting state.
#[derive(Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub s3: aws_sdk_s3::Client,
    /// The function's own S3 actions, for what the S3 client cannot reach (the account-level settings
    /// through S3 Control, behind the same endpoint override as the functions).
    pub s3_actions: remediation::s3::S3Actions,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sts: aws_sdk_sts::Client,
    pub organizations: aws_sdk_organizations::Client,
}

impl Aws {
    pub async fn new(endpoint: &str) -> Aws {
        let credentials =
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests");
        Aws::with_credentials(endpoint, REGION, credentials).await
    }

    /// Clients in `region` with `credentials` (moto acts in the account the credentials belong to).
    pub async fn with_credentials(
        endpoint: &str,
        region: &str,
        credentials: aws_sdk_s3::config::Credentials,
    ) -> Aws {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(region.to_string()))
            .credentials_provider(credentials)
            .load()
            .await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        Aws {
            ec2: aws_sdk_ec2::Client::new(&sdk),
            s3,
            s3_actions: remediation::s3::S3Actions::from_sdk_config(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sts: aws_sdk_sts::Client::new(&sdk),
            organizations: aws_sdk_organizations::Client::new(&sdk),
        }
    }

    /// An SNS topic with an SQS queue subscribed, to read notifications back as a subscriber would.
    pub async fn notification_topic(&self, name: &str) -> Notifications {
        let topic_arn = self
            .sns
            .create_topic()
            .name(name)
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        let queue_url = self
            .sqs
            .create_queue()
            .queue_name(format!("{name}-inbox"))
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}-inbox");
        self.sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .expect("subscribe");
        Notifications {
            topic_arn,
            queue_url,
            sqs: self.sqs.clone(),
        }
    }
}

/// Notifications delivered to the test's queue.
pub struct Notifications {
    pub topic_arn: String,
    pub queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

/// One notification as an SQS subscriber receives it.
#[derive(Debug, Clone)]
pub struct Notification {
    pub subject: String,
    /// The JSON document (the `sqs` member of the structured message).
    pub document: Value,
    /// `outcome`, `resource_type`, `severity` message attributes.
    pub attributes: Value,
    /// The SQS message body as delivered: the SNS envelope around the document.
    pub body: String,
}

impl Notifications {
    /// Everything delivered so far (waits briefly for stragglers when nothing has arrived yet).
    pub async fn drain(&self) -> Vec<Notification> {
        let mut received = Vec::new();
        let mut empty_polls = 0;
        while empty_polls < 3 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                if !received.is_empty() {
                    break;
                }
                empty_polls += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            for message in messages {
                let envelope: Value =
                    serde_json::from_str(message.body().unwrap_or("{}")).expect("SNS envelope");
                let document = envelope["Message"]
                    .as_str()
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or(Value::Null);
                if let Err(violations) = check_notification(&document) {
                    panic!("a published notification breaks docs/notification.schema.json: {violations}\n{document:#}");
                }
                received.push(Notification {
                    subject: envelope["Subject"].as_str().unwrap_or("").to_string(),
                    document,
                    attributes: envelope["MessageAttributes"].clone(),
                    body: message.body().unwrap_or("{}").to_string(),
                });
                if let Some(handle) = message.receipt_handle() {
                    let _ = self
                        .sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
            }
        }
        received
    }
}

/// `template.yaml` as JSON (it uses the long form of intrinsic functions, so plain YAML reads it).
pub fn template() -> Value {
    template_file("template.yaml")
}

/// `member.yaml` (the member account's stack) as JSON.
pub fn member_template() -> Value {
    template_file("member.yaml")
}

fn template_file(name: &str) -> Value {
    let output = std::process::Command::new(moto::python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(repo_root().join(name))
        .output()
        .expect("python with PyYAML (make venv)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("template JSON")
}

/// Whether a CloudWatch Logs metric filter pattern of the one form the template uses,
/// `{ $.field = "value" }`, matches a JSON log line (CloudWatch Logs User Guide, "Filter pattern syntax
/// for metric filters": JSON property selectors). Other forms fail the test that asks.
pub fn log_filter_matches(pattern: &str, line: &str) -> bool {
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a JSON filter pattern: {pattern}"));
    let (selector, value) = inner
        .split_once('=')
        .unwrap_or_else(|| panic!("only `$.field = \"value\"` is modelled: {pattern}"));
    let field = selector
        .trim()
        .strip_prefix("$.")
        .unwrap_or_else(|| panic!("not a property selector: {pattern}"));
    let value = value.trim().trim_matches('"');
    serde_json::from_str::<Value>(line)
        .ok()
        .is_some_and(|json| json[field] == value)
}

/// The filter pattern of the template's metric filter that counts `metric`.
pub fn metric_filter_pattern(metric: &str) -> String {
    let template = template();
    template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|r| {
            r["Type"] == "AWS::Logs::MetricFilter"
                && r["Properties"]["MetricTransformations"][0]["MetricName"] == metric
        })
        .and_then(|r| r["Properties"]["FilterPattern"].as_str())
        .unwrap_or_else(|| panic!("no metric filter counts {metric}"))
        .to_string()
}

/// The notification document's JSON Schema, as the project documents it (`docs/notification.schema.json`).
pub fn notification_schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = repo_root().join("docs/notification.schema.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
    })
}

/// Checks a notification document against the schema; `Err` lists every violation.
pub fn check_notification(document: &Value) -> Result<(), String> {
    let violations: Vec<String> = notification_schema()
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations.join("; "))
    }
}

/// A name unique to this test run (bucket names must be unique and lowercase).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn remediated() -> Value {
        json!({"version": 1, "function": "s3-public-access", "outcome": "remediated",
               "resource_type": "s3-bucket", "resource_id": "my-bucket", "account": "123456789012",
               "region": "us-east-1", "reason": "the bucket ACL granted READ to AllUsers",
               "changes": ["removed AllUsers READ"],
               "trigger": {"source": "cloudtrail", "event_id": "e-1", "detail": "PutBucketAcl by x"},
               "prior": {"acl": {"Owner": {"ID": "o"}, "Grants": []}},
               "after": {"acl": {"Owner": {"ID": "o"}, "Grants": []}},
               "undo": [{"service": "s3", "operation": "PutBucketAcl", "restores": ["acl"],
                         "parameters": {"Bucket": "my-bucket", "AccessControlPolicy": {"Owner": {"ID": "o"}, "Grants": []}}}]})
    }

    /// The schema the end-to-end tests hold every message to must be able to say no.
    #[test]
    fn the_notification_schema_accepts_the_contract_and_rejects_breaches() {
        assert_eq!(check_notification(&remediated()), Ok(()));
        let mut added = remediated();
        added["note"] = json!("new");
        assert_eq!(check_notification(&added), Ok(()), "fields may be added");

        type Breach = (&'static str, fn(&mut Value));
        let breaches: [Breach; 10] = [
            ("a fix without its undo", |d| {
                d.as_object_mut().unwrap().remove("undo");
            }),
            ("a fix without its prior state", |d| {
                d.as_object_mut().unwrap().remove("prior");
            }),
            ("an undo call of another service", |d| {
                d["undo"][0]["service"] = json!("iam")
            }),
            ("a fix without changes", |d| d["changes"] = json!([])),
            ("an unknown outcome", |d| d["outcome"] = json!("compliant")),
            ("a missing trigger", |d| {
                d.as_object_mut().unwrap().remove("trigger");
            }),
            ("an unknown source", |d| {
                d["trigger"]["source"] = json!("email")
            }),
            ("another version", |d| d["version"] = json!(2)),
            ("an empty reason", |d| d["reason"] = json!("")),
            ("an account that is not one", |d| d["account"] = json!("me")),
        ];
        for (what, breach) in breaches {
            let mut document = remediated();
            breach(&mut document);
            assert!(check_notification(&document).is_err(), "{what} passed");
        }
        let mut skipped = remediated();
        skipped["outcome"] = json!("skipped");
        skipped["changes"] = json!([]);
        assert_eq!(
            check_notification(&skipped),
            Ok(()),
            "a skipped resource changed nothing"
        );
    }
}
