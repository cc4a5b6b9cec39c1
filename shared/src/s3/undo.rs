//! The way back from an S3 fix, pure: the state before and after each part it changed (the ACL, the
//! bucket policy, Block Public Access of the bucket or the account), in the shapes and with the names
//! of the S3 and S3 Control APIs, and the calls that restore it.

use serde_json::{json, Map, Value};

use super::policy::{plan_acl, Acl, BlockPublicAccess, BucketState, Grant, Grantee, Owner};
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

/// What a bucket fix changed, step by step (a step that did not happen is `None` / `false`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketFix {
    /// The ACL written instead of the one read.
    pub acl: Option<Acl>,
    /// The policy written instead of the one read (`Some(None)`: deleted).
    pub policy: Option<Option<String>>,
    /// Block Public Access turned all on.
    pub block_public_access: bool,
}

/// The way back from a bucket fix: `before` as read, `fix` as done. Public grants and public
/// statements can only be put back while the bucket's Block Public Access lets them in
/// (`BlockPublicAcls` refuses a public ACL, `BlockPublicPolicy` a public policy: S3 API Reference,
/// PublicAccessBlockConfiguration), and they may have been there under settings that block them now
/// or blocked them already (set after the grant). So when needed the undo first lifts just those
/// settings, puts the ACL and policy back, then puts Block Public Access back exactly as it was.
pub fn bucket(name: &str, before: &BucketState, fix: &BucketFix) -> Restore {
    let mut restore = Restore::default();
    let mut put_back = Vec::new();
    if let Some(fixed) = &fix.acl {
        restore = restore.part(
            "acl",
            acl_json(&before.acl),
            acl_json(fixed),
            vec![Call::new(
                "s3",
                "PutBucketAcl",
                json!({"Bucket": name, "AccessControlPolicy": acl_json(&before.acl)}),
                &["acl"],
            )],
        );
        if !plan_acl(&before.acl.grants).is_compliant() {
            put_back.push(PutBack::Acl);
        }
    }
    if let Some(after) = &fix.policy {
        let text = before
            .policy
            .as_ref()
            .map(|p| p.text.as_str())
            .unwrap_or("");
        restore = restore.part(
            "policy",
            json!(text),
            json!(after),
            vec![Call::new(
                "s3",
                "PutBucketPolicy",
                json!({"Bucket": name, "Policy": text}),
                &["policy"],
            )],
        );
        put_back.push(PutBack::Policy);
    }
    with_block_public_access(
        restore,
        ("s3", "Bucket", name),
        before.block_public_access.as_ref(),
        fix.block_public_access,
        &put_back,
    )
}

/// The way back from an object fix: its ACL (`fixed`, when it was rewritten), and the bucket's Block
/// Public Access (`turned_on`: all four, from `block_before`), lifted while the public grants go back
/// as for a bucket.
pub fn object(
    bucket: &str,
    key: &str,
    before: &Acl,
    fixed: Option<&Acl>,
    block_before: Option<&BlockPublicAccess>,
    turned_on: bool,
) -> Restore {
    let mut restore = Restore::default();
    let mut put_back = Vec::new();
    if let Some(fixed) = fixed {
        restore = restore.part(
            "acl",
            acl_json(before),
            acl_json(fixed),
            vec![Call::new(
                "s3",
                "PutObjectAcl",
                json!({"Bucket": bucket, "Key": key, "AccessControlPolicy": acl_json(before)}),
                &["acl"],
            )],
        );
        put_back.push(PutBack::Acl);
    }
    with_block_public_access(
        restore,
        ("s3", "Bucket", bucket),
        block_before,
        turned_on,
        &put_back,
    )
}

/// What goes back that Block Public Access may refuse.
#[derive(Clone, Copy, PartialEq)]
enum PutBack {
    /// Public grants (`BlockPublicAcls` refuses them).
    Acl,
    /// A public policy (`BlockPublicPolicy` refuses it).
    Policy,
}

impl PutBack {
    fn part(self) -> &'static str {
        match self {
            PutBack::Acl => "acl",
            PutBack::Policy => "policy",
        }
    }
}

/// Adds Block Public Access to a restore: its own part when the fix turned it on, and around the
/// calls that put back what it refuses, the settings they need. When the settings from before the fix
/// let them in, those go back first (one call); when even those refuse them (the grant predates the
/// setting), just the refusing settings are lifted first and everything is put back after. A call
/// that serves several parts is made while any of them still needs restoring.
fn with_block_public_access(
    restore: Restore,
    (service, field, id): (&str, &str, &str),
    before: Option<&BlockPublicAccess>,
    turned_on: bool,
    put_back: &[PutBack],
) -> Restore {
    let current = if turned_on {
        Some(BlockPublicAccess::ALL_ON)
    } else {
        before.copied()
    };
    let refused_now = refused_by(current.as_ref(), put_back);
    let refused_before = refused_by(before, put_back);
    let mut parts: Vec<&str> = refused_now.iter().map(|p| p.part()).collect();
    let mut restore = restore;
    if turned_on {
        parts.push("block_public_access");
        restore = restore.part(
            "block_public_access",
            block_public_access_json(before),
            block_public_access_json(Some(&BlockPublicAccess::ALL_ON)),
            Vec::new(),
        );
    }
    if parts.is_empty() {
        return restore;
    }
    let mut first = Vec::new();
    let mut last = Vec::new();
    match (refused_before.is_empty(), current) {
        // The old settings let everything back in: they go back first.
        (true, _) => first.push(put_block(service, field, id, before, &parts)),
        (false, Some(current)) => {
            let lifted = BlockPublicAccess {
                block_public_acls: current.block_public_acls
                    && !refused_now.contains(&PutBack::Acl),
                block_public_policy: current.block_public_policy
                    && !refused_now.contains(&PutBack::Policy),
                ..current
            };
            let lifting: Vec<&str> = refused_now.iter().map(|p| p.part()).collect();
            first.push(put_block(service, field, id, Some(&lifted), &lifting));
            last.push(put_block(service, field, id, before, &parts));
        }
        (false, None) => {}
    }
    Restore {
        undo: [first, restore.undo, last].concat(),
        ..restore
    }
}

/// Which of `put_back` Block Public Access `settings` refuse.
fn refused_by(settings: Option<&BlockPublicAccess>, put_back: &[PutBack]) -> Vec<PutBack> {
    put_back
        .iter()
        .copied()
        .filter(|p| {
            settings.is_some_and(|s| match p {
                PutBack::Acl => s.block_public_acls,
                PutBack::Policy => s.block_public_policy,
            })
        })
        .collect()
}

/// `PutPublicAccessBlock` with `settings`, or `DeletePublicAccessBlock` when there were none, on the
/// bucket (`s3`, `Bucket`) or the account (`s3control`, `AccountId`).
fn put_block(
    service: &str,
    field: &str,
    id: &str,
    settings: Option<&BlockPublicAccess>,
    restores: &[&str],
) -> Call {
    match settings {
        None => Call::new(
            service,
            "DeletePublicAccessBlock",
            json!({ field: id }),
            restores,
        ),
        Some(_) => Call::new(
            service,
            "PutPublicAccessBlock",
            json!({ field: id, "PublicAccessBlockConfiguration": block_public_access_json(settings) }),
            restores,
        ),
    }
}

/// An upload's bucket: Block Public Access turned all on from `before`.
pub fn bucket_block_public_access(bucket: &str, before: Option<&BlockPublicAccess>) -> Restore {
    with_block_public_access(
        Restore::default(),
        ("s3", "Bucket", bucket),
        before,
        true,
        &[],
    )
}

/// The account's Block Public Access turned all on from `before`, through S3 Control.
pub fn account_block_public_access(account: &str, before: Option<&BlockPublicAccess>) -> Restore {
    with_block_public_access(
        Restore::default(),
        ("s3control", "AccountId", account),
        before,
        true,
        &[],
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
