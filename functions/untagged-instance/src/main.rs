//! Stops running instances that lack the tags REQUIRED_TAGS asks for, or with GRACE_MINUTES > 0
//! marks them with a deadline first. Exempt instances and Auto Scaling group members are left alone.
//! Triggers: EC2 state changes, CloudTrail RunInstances/CreateTags/DeleteTags, Config compliance
//! changes, and a schedule (a sweep of every running instance, stopped in batches).

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use remediation::identity::OwnIdentity;
use remediation::instance::{InstanceActions, UntaggedInstances};
use remediation::{startup, Notifier};
use serde_json::Value;

const FUNCTION: &str = "untagged-instance";

#[tokio::main]
async fn main() -> Result<(), Error> {
    startup::init_logging();
    let settings = startup::load_settings()?;
    let sdk = startup::load_aws_config().await;
    let notifier = Notifier::from_settings(&sdk, &settings, FUNCTION);
    let instances = UntaggedInstances::new(
        InstanceActions::from_sdk_config(&sdk),
        settings,
        OwnIdentity::from_sdk_config(&sdk),
    );

    run(service_fn(|event: LambdaEvent<Value>| {
        handler(event, &instances, &notifier)
    }))
    .await
}

async fn handler(
    event: LambdaEvent<Value>,
    instances: &UntaggedInstances,
    notifier: &Notifier,
) -> Result<Value, Error> {
    let deadline = remediation::Deadline::from_lambda(&event.context);
    remediation::into_response(
        remediation::handle_until(event.payload, instances, notifier, deadline).await,
    )
}
