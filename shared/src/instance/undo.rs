//! The way back from an instance fix, pure: the state it was in before a stop (start it again), and
//! the grace-period mark (remove it, or give it back its earlier value).

use serde_json::{json, Value};

use super::policy::{InstanceState, STOP_AFTER_TAG};
use crate::undo::{Call, Restore};

/// A running instance stopped (or hibernated): `StartInstances` brings it back, from hibernation too.
/// Its tags are recorded for the person reading (the fix did not change them, the undo does not).
pub fn stop(before: &InstanceState) -> Restore {
    let call = Call::new(
        "ec2",
        "StartInstances",
        json!({"InstanceIds": [before.instance_id]}),
        &["state"],
    );
    let tags = tags_json(&before.tags);
    Restore::default()
        .part("state", json!(before.state), json!("stopped"), vec![call])
        .part("tags", tags.clone(), tags, Vec::new())
}

/// The grace-period mark set to `deadline` on an instance that had `before` (usually none).
pub fn mark(instance_id: &str, before: Option<&str>, deadline: &str) -> Restore {
    let call = match before {
        None => Call::new(
            "ec2",
            "DeleteTags",
            json!({"Resources": [instance_id], "Tags": [{"Key": STOP_AFTER_TAG}]}),
            &["stop_after"],
        ),
        Some(value) => Call::new(
            "ec2",
            "CreateTags",
            json!({"Resources": [instance_id], "Tags": [{"Key": STOP_AFTER_TAG, "Value": value}]}),
            &["stop_after"],
        ),
    };
    Restore::default().part("stop_after", json!(before), json!(deadline), vec![call])
}

/// Tags as EC2 lists them: `[{"Key": .., "Value": ..}]`.
pub fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(key, value)| json!({"Key": key, "Value": value}))
            .collect(),
    )
}
