//! Backs custom AWS Config rules (`CUSTOM_LAMBDA`): evaluates S3 buckets, security groups and
//! instances with the same policies the remediation functions enforce, and reports the results with
//! PutEvaluations. ALLOWED_PUBLIC_PORTS, REQUIRED_TAGS and EXEMPT_TAG are the defaults; a rule's
//! `ruleParameters` override them.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use remediation::config_rule::ConfigRule;
use remediation::startup;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    startup::init_logging();
    let settings = startup::load_settings()?;
    let sdk = startup::load_aws_config().await;
    let rule = ConfigRule::from_sdk_config(&sdk, settings);

    run(service_fn(|event: LambdaEvent<Value>| {
        handler(event, &rule)
    }))
    .await
}

async fn handler(event: LambdaEvent<Value>, rule: &ConfigRule) -> Result<Value, Error> {
    rule.handle(&event.payload).await.map_err(|err| {
        tracing::error!(error = %err, "evaluation failed");
        err.into()
    })
}
