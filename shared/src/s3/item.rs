//! A bucket as an AWS Config configuration item describes it (for the Config rule), read into the
//! policy's own types.

use serde_json::Value;

use super::policy::{Grant, ALL_USERS_URI, AUTHENTICATED_USERS_URI};
use crate::shape::str_field;

const LOG_DELIVERY_URI: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Grants from a bucket item's `supplementaryConfiguration.AccessControlList` (a JSON string of
/// `grantList` entries whose grantee is `"AllUsers"`, `"AuthenticatedUsers"`, `"LogDelivery"` or
/// `{"id": ...}`, with permissions like `Read`, `FullControl`).
pub fn grants_from_item(item: &Value) -> Vec<Grant> {
    let acl = match item.pointer("/supplementaryConfiguration/AccessControlList") {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    ["grantList", "grantSet"]
        .iter()
        .filter_map(|field| acl.get(*field).and_then(Value::as_array))
        .flatten()
        .filter_map(config_grant)
        .collect()
}

fn config_grant(entry: &Value) -> Option<Grant> {
    let permission = match str_field(entry, "permission")? {
        "FullControl" => "FULL_CONTROL",
        "Read" => "READ",
        "Write" => "WRITE",
        "ReadAcp" => "READ_ACP",
        "WriteAcp" => "WRITE_ACP",
        other => other,
    };
    Some(match entry.get("grantee")? {
        Value::String(group) => {
            let uri = match group.as_str() {
                "AllUsers" => ALL_USERS_URI,
                "AuthenticatedUsers" => AUTHENTICATED_USERS_URI,
                "LogDelivery" => LOG_DELIVERY_URI,
                other => other,
            };
            Grant::to_group(uri, permission)
        }
        object => {
            let id = str_field(object, "id").or_else(|| str_field(object, "identifier"))?;
            Grant::to_canonical_user(id, permission)
        }
    })
}
