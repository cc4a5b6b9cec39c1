//! A bucket as an AWS Config configuration item describes it (for the Config rule), read into the
//! policy's own types.

use serde_json::Value;

use super::policy::{
    Acl, BlockPublicAccess, BucketPolicy, BucketState, Grant, ALL_USERS_URI,
    AUTHENTICATED_USERS_URI,
};
use super::statements::PolicyDocument;
use crate::shape::{embedded_json, str_field};

/// Everything a bucket item says about its exposure: ACL grants, `supplementaryConfiguration.BucketPolicy`
/// (`{"policyText": "<JSON string>"}`) and `PublicAccessBlockConfiguration` (`blockPublicAcls`, ...).
/// The item carries no `GetBucketPolicyStatus`, so the policy is judged by its statements.
pub fn bucket_state_from_item(item: &Value) -> BucketState {
    let supplementary =
        |name: &str| embedded_json(item.pointer(&format!("/supplementaryConfiguration/{name}")));
    let policy = str_field(&supplementary("BucketPolicy"), "policyText").map(|text| BucketPolicy {
        text: text.to_string(),
        is_public: PolicyDocument::parse(text).is_ok_and(|d| !d.public_statements().is_empty()),
    });
    BucketState {
        acl: Acl {
            owner: None,
            grants: grants_from_item(item),
        },
        policy,
        block_public_access: block_public_access_of(&supplementary(
            "PublicAccessBlockConfiguration",
        )),
        account_block_public_access: None,
    }
}

/// Config's spelling of the four settings (`blockPublicAcls`, ...), on a bucket or an account item;
/// `None` when there is no configuration object (a setting left out counts as off).
fn block_public_access_of(configuration: &Value) -> Option<BlockPublicAccess> {
    let flag = |name: &str| configuration.get(name).and_then(Value::as_bool) == Some(true);
    configuration.is_object().then(|| BlockPublicAccess {
        block_public_acls: flag("blockPublicAcls"),
        ignore_public_acls: flag("ignorePublicAcls"),
        block_public_policy: flag("blockPublicPolicy"),
        restrict_public_buckets: flag("restrictPublicBuckets"),
    })
}

const LOG_DELIVERY_URI: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Grants from a bucket item's `supplementaryConfiguration.AccessControlList` (a JSON string of
/// `grantList` entries whose grantee is `"AllUsers"`, `"AuthenticatedUsers"`, `"LogDelivery"` or
/// `{"id": ...}`, with permissions like `Read`, `FullControl`).
pub fn grants_from_item(item: &Value) -> Vec<Grant> {
    let acl = embedded_json(item.pointer("/supplementaryConfiguration/AccessControlList"));
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
    block_public_access_of(&embedded_json(item.get("configuration")))
}
