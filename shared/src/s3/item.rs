//! A bucket as an AWS Config configuration item describes it (for the Config rule), read into the
//! policy's own types.

use serde_json::Value;

use super::policy::{
    Acl, BlockPublicAccess, BucketPolicy, BucketState, Grant, ALL_USERS_URI,
    AUTHENTICATED_USERS_URI,
};
use super::statements::PolicyDocument;
use crate::shape::str_field;

/// Everything a bucket item says about its exposure: ACL grants, `supplementaryConfiguration.BucketPolicy`
/// (`{"policyText": "<JSON string>"}`) and `PublicAccessBlockConfiguration` (`blockPublicAcls`, ...).
/// The item carries no `GetBucketPolicyStatus`, so the policy is judged by its statements.
pub fn bucket_state_from_item(item: &Value) -> BucketState {
    let supplementary =
        |name: &str| match item.pointer(&format!("/supplementaryConfiguration/{name}")) {
            Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
            Some(other) => other.clone(),
            None => Value::Null,
        };
    let policy = str_field(&supplementary("BucketPolicy"), "policyText").map(|text| BucketPolicy {
        text: text.to_string(),
        is_public: PolicyDocument::parse(text).is_ok_and(|d| !d.public_statements().is_empty()),
    });
    let block = supplementary("PublicAccessBlockConfiguration");
    let flag = |name: &str| block.get(name).and_then(Value::as_bool) == Some(true);
    let block_public_access = block.is_object().then(|| BlockPublicAccess {
        block_public_acls: flag("blockPublicAcls"),
        ignore_public_acls: flag("ignorePublicAcls"),
        block_public_policy: flag("blockPublicPolicy"),
        restrict_public_buckets: flag("restrictPublicBuckets"),
    });
    BucketState {
        acl: Acl {
            owner: None,
            grants: grants_from_item(item),
        },
        policy,
        block_public_access,
        account_block_public_access: None,
    }
}

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

/// An `AWS::S3::AccountPublicAccessBlock` item's `configuration` (`blockPublicAcls`, ...); `None` when
/// the item carries none.
pub fn account_block_from_item(item: &Value) -> Option<BlockPublicAccess> {
    let configuration = match item.get("configuration") {
        Some(Value::String(text)) => serde_json::from_str(text).ok()?,
        Some(other @ Value::Object(_)) => other.clone(),
        _ => return None,
    };
    let flag = |name: &str| configuration.get(name).and_then(Value::as_bool) == Some(true);
    Some(BlockPublicAccess {
        block_public_acls: flag("blockPublicAcls"),
        ignore_public_acls: flag("ignorePublicAcls"),
        block_public_policy: flag("blockPublicPolicy"),
        restrict_public_buckets: flag("restrictPublicBuckets"),
    })
}
