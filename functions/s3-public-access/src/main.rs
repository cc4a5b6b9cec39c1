//! Removes public grants from S3 bucket and object ACLs and turns on Block Public Access.
//! Triggers: CloudTrail S3 calls, Config compliance changes, GuardDuty S3 findings, schedule.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use remediation::s3::{S3Actions, S3PublicAccess};
use remediation::{startup, Notifier};
use serde_json::Value;

const FUNCTION: &str = "s3-public-access";

#[tokio::main]
async fn main() -> Result<(), Error> {
    startup::init_logging();
    let settings = startup::load_settings()?;
    let sdk = startup::load_aws_config().await;
    let notifier = Notifier::from_settings(&sdk, &settings, FUNCTION);
    let region = sdk.region().map(|r| r.to_string());
    let s3 = S3PublicAccess::new(S3Actions::from_sdk_config(&sdk), settings, region);

    run(service_fn(|event: LambdaEvent<Value>| {
        handler(event, &s3, &notifier)
    }))
    .await
}

async fn handler(
    event: LambdaEvent<Value>,
    s3: &S3PublicAccess,
    notifier: &Notifier,
) -> Result<Value, Error> {
    let deadline = remediation::Deadline::from_lambda(&event.context);
    remediation::into_response(
        remediation::handle_until(event.payload, s3, notifier, deadline).await,
    )
}
