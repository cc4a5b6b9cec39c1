//! The way back from an S3 fix, pure: the state before and after each part it changed (the ACL, the
//! bucket policy, Block Public Access of the bucket or the account), in the shapes and with the names
//! of the S3 and S3 Control APIs, and the calls that restore it.

use serde_json::{json, Map, Value};

use super::policy::{Acl, BlockPublicAccess, Grant, Grantee, Owner};
use crate::undo::{Call, Restore};

/// An ACL as `PutBucketAcl`'s `AccessControlPolicy` takes it.
pub fn acl_json(acl: &Acl) -> Value {
    let mut out = Map::new();
    if let Some(owner) = &acl.owner {
        out.insert(
            "Owner".into(),
            fields(&[("ID", &owner.id), ("DisplayName", &owner.display_name)]),
        );
    }
    let grants = acl.grants.iter().map(|grant| {
        let g = &grant.grantee;
        let mut grantee = fields(&[
            ("ID", &g.id),
            ("DisplayName", &g.display_name),
            ("EmailAddress", &g.email_address),
            ("URI", &g.uri),
        ]);
        grantee["Type"] = json!(g.kind);
        json!({"Grantee": grantee, "Permission": grant.permission})
    });
    out.insert("Grants".into(), Value::Array(grants.collect()));
    Value::Object(out)
}

/// The ACL an undo call carries; `None` when the value is not one.
pub fn acl_from_json(value: &Value) -> Option<Acl> {
    let text = |v: &Value| v.as_str().map(String::from);
    let owner = value.get("Owner").map(|o| Owner {
        id: text(&o["ID"]),
        display_name: text(&o["DisplayName"]),
    });
    let grants = value["Grants"]
        .as_array()?
        .iter()
        .map(|grant| {
            let g = &grant["Grantee"];
            Some(Grant {
                grantee: Grantee {
                    kind: text(&g["Type"])?,
                    id: text(&g["ID"]),
                    display_name: text(&g["DisplayName"]),
                    email_address: text(&g["EmailAddress"]),
                    uri: text(&g["URI"]),
                },
                permission: text(&grant["Permission"])?,
            })
        })
        .collect::<Option<Vec<Grant>>>()?;
    Some(Acl { owner, grants })
}

/// Block Public Access as `PutPublicAccessBlock`'s `PublicAccessBlockConfiguration`; null for none.
pub fn block_public_access_json(settings: Option<&BlockPublicAccess>) -> Value {
    match settings {
        None => Value::Null,
        Some(s) => json!({
            "BlockPublicAcls": s.block_public_acls,
            "IgnorePublicAcls": s.ignore_public_acls,
            "BlockPublicPolicy": s.block_public_policy,
            "RestrictPublicBuckets": s.restrict_public_buckets,
        }),
    }
}

pub fn block_public_access_from_json(value: &Value) -> Option<BlockPublicAccess> {
    let on = |field: &str| value[field].as_bool().unwrap_or(false);
    value.is_object().then(|| BlockPublicAccess {
        block_public_acls: on("BlockPublicAcls"),
        ignore_public_acls: on("IgnorePublicAcls"),
        block_public_policy: on("BlockPublicPolicy"),
        restrict_public_buckets: on("RestrictPublicBuckets"),
    })
}

/// A bucket's ACL rewritten from `before` to `after`.
pub fn bucket_acl(bucket: &str, before: &Acl, after: &Acl) -> Restore {
    let call = Call::new(
        "s3",
        "PutBucketAcl",
        json!({"Bucket": bucket, "AccessControlPolicy": acl_json(before)}),
        "acl",
    );
    Restore::default().part("acl", acl_json(before), acl_json(after), vec![call])
}

/// An object's ACL rewritten from `before` to `after`.
pub fn object_acl(bucket: &str, key: &str, before: &Acl, after: &Acl) -> Restore {
    let call = Call::new(
        "s3",
        "PutObjectAcl",
        json!({"Bucket": bucket, "Key": key, "AccessControlPolicy": acl_json(before)}),
        "acl",
    );
    Restore::default().part("acl", acl_json(before), acl_json(after), vec![call])
}

/// A bucket policy rewritten from `before` to `after` (`None`: deleted).
pub fn bucket_policy(bucket: &str, before: &str, after: Option<&str>) -> Restore {
    let call = Call::new(
        "s3",
        "PutBucketPolicy",
        json!({"Bucket": bucket, "Policy": before}),
        "policy",
    );
    Restore::default().part("policy", json!(before), json!(after), vec![call])
}

/// A bucket's Block Public Access turned all on from `before` (`None`: it had no configuration).
pub fn bucket_block_public_access(bucket: &str, before: Option<&BlockPublicAccess>) -> Restore {
    let call = match before {
        None => Call::new(
            "s3",
            "DeletePublicAccessBlock",
            json!({"Bucket": bucket}),
            "block_public_access",
        ),
        Some(_) => Call::new(
            "s3",
            "PutPublicAccessBlock",
            json!({"Bucket": bucket, "PublicAccessBlockConfiguration": block_public_access_json(before)}),
            "block_public_access",
        ),
    };
    all_on_from(before, call)
}

/// The account's Block Public Access turned all on from `before`, through S3 Control.
pub fn account_block_public_access(account: &str, before: Option<&BlockPublicAccess>) -> Restore {
    let call = match before {
        None => Call::new(
            "s3control",
            "DeletePublicAccessBlock",
            json!({"AccountId": account}),
            "block_public_access",
        ),
        Some(_) => Call::new(
            "s3control",
            "PutPublicAccessBlock",
            json!({"AccountId": account, "PublicAccessBlockConfiguration": block_public_access_json(before)}),
            "block_public_access",
        ),
    };
    all_on_from(before, call)
}

fn all_on_from(before: Option<&BlockPublicAccess>, call: Call) -> Restore {
    Restore::default().part(
        "block_public_access",
        block_public_access_json(before),
        block_public_access_json(Some(&BlockPublicAccess::ALL_ON)),
        vec![call],
    )
}

fn fields(pairs: &[(&str, &Option<String>)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .filter_map(|(name, value)| value.as_ref().map(|v| (name.to_string(), json!(v))))
            .collect(),
    )
}
