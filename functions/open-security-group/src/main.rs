//! Revokes security group ingress open to 0.0.0.0/0 or ::/0 on ports outside ALLOWED_PUBLIC_PORTS,
//! re-opening the allowed ports a broad rule also covered.
//! Triggers: CloudTrail ingress changes, Config compliance changes, GuardDuty exposed-port findings, schedule.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use remediation::identity::OwnIdentity;
use remediation::security_group::{OpenSecurityGroup, SecurityGroupActions};
use remediation::{startup, Notifier};
use serde_json::Value;

const FUNCTION: &str = "open-security-group";

#[tokio::main]
async fn main() -> Result<(), Error> {
    startup::init_logging();
    let settings = startup::load_settings()?;
    let sdk = startup::load_aws_config().await;
    let notifier = Notifier::from_settings(&sdk, &settings, FUNCTION);
    let groups = OpenSecurityGroup::new(
        SecurityGroupActions::from_sdk_config(&sdk),
        settings,
        OwnIdentity::from_sdk_config(&sdk),
    );

    run(service_fn(|event: LambdaEvent<Value>| {
        handler(event, &groups, &notifier)
    }))
    .await
}

async fn handler(
    event: LambdaEvent<Value>,
    groups: &OpenSecurityGroup,
    notifier: &Notifier,
) -> Result<Value, Error> {
    let deadline = remediation::Deadline::from_lambda(&event.context);
    remediation::into_response(
        remediation::handle_until(event.payload, groups, notifier, deadline).await,
    )
}
