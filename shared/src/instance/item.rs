//! An instance as an AWS Config configuration item describes it (for the Config rule), read into the
//! policy's own [`InstanceState`].

use serde_json::Value;

use super::policy::InstanceState;
use crate::shape::config_item_tags;

/// The instance's state (`configuration.state.name`), hibernation (`configuration.hibernationOptions`)
/// and the item's tags.
pub fn instance_from_item(item: &Value, instance_id: &str) -> InstanceState {
    let state = item
        .pointer("/configuration/state/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    InstanceState {
        instance_id: instance_id.to_string(),
        state,
        tags: config_item_tags(item),
        hibernation: item
            .pointer("/configuration/hibernationOptions/configured")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}
