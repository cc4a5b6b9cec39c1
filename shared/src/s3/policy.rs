//! The S3 rule, pure: what makes a bucket, an object or the account public, and what the fix keeps.
//!
//! A bucket is exposed by its effect, whatever caused it:
//! - a grant to AllUsers or AuthenticatedUsers (any permission) in its ACL (or in the ACL of the object
//!   an event names). Fix: the same ACL without those grants, the owner and every other grant kept
//!   exactly;
//! - a bucket policy S3 judges public (`GetBucketPolicyStatus`), unless `RestrictPublicBuckets` (on the
//!   bucket or the account) already cuts its public statements off. Fix: Block Public Access on the
//!   bucket; with `PUBLIC_POLICY=remove` also the policy without its public statements.
//!
//! Then all four Block Public Access settings on the bucket (unless `BLOCK_PUBLIC_ACCESS=false` or they
//! are on already). With `BLOCK_PUBLIC_ACCESS=always`, a bucket or account without all four is wrong by
//! itself. A bucket carrying the exemption tag is left alone; a bucket still public after the fix the
//! settings allow is `failed`, never `remediated`.

use serde::Serialize;

use super::statements::{PolicyDocument, PublicStatement};
use crate::config::{BlockPublicAccessMode, PublicPolicyFix, Settings};

pub const ALL_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS_URI: &str =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

pub const BLOCK_PUBLIC_ACCESS_CHANGE: &str = "enabled Block Public Access (all four settings)";

/// The owner of an ACL, as S3 reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub id: Option<String>,
    pub display_name: Option<String>,
}

/// Who a grant is to, field for field as S3 reports it, so that a kept grant is written back unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Grantee {
    /// `CanonicalUser`, `AmazonCustomerByEmail` or `Group` (the ACL's `xsi:type`).
    pub kind: String,
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub email_address: Option<String>,
    pub uri: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub grantee: Grantee,
    /// `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`, `FULL_CONTROL`.
    pub permission: String,
}

impl Grant {
    pub fn to_group(uri: &str, permission: &str) -> Self {
        Grant {
            grantee: Grantee {
                kind: "Group".into(),
                uri: Some(uri.into()),
                ..Grantee::default()
            },
            permission: permission.into(),
        }
    }

    pub fn to_canonical_user(id: &str, permission: &str) -> Self {
        Grant {
            grantee: Grantee {
                kind: "CanonicalUser".into(),
                id: Some(id.into()),
                ..Grantee::default()
            },
            permission: permission.into(),
        }
    }

    pub fn to_email(address: &str, permission: &str) -> Self {
        Grant {
            grantee: Grantee {
                kind: "AmazonCustomerByEmail".into(),
                email_address: Some(address.into()),
                ..Grantee::default()
            },
            permission: permission.into(),
        }
    }
}

/// An ACL: the owner and the grants, passed back unchanged except for removals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Acl {
    pub owner: Option<Owner>,
    pub grants: Vec<Grant>,
}

/// A bucket's Block Public Access settings (a setting S3 leaves out counts as off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BlockPublicAccess {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl BlockPublicAccess {
    pub const ALL_ON: BlockPublicAccess = BlockPublicAccess {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// What S3 applies: the most restrictive combination of the bucket's and the account's settings
    /// (S3 API reference, PutPublicAccessBlock).
    pub fn combined(bucket: Option<&Self>, account: Option<&Self>) -> Self {
        let (b, a) = (
            bucket.copied().unwrap_or_default(),
            account.copied().unwrap_or_default(),
        );
        BlockPublicAccess {
            block_public_acls: b.block_public_acls || a.block_public_acls,
            ignore_public_acls: b.ignore_public_acls || a.ignore_public_acls,
            block_public_policy: b.block_public_policy || a.block_public_policy,
            restrict_public_buckets: b.restrict_public_buckets || a.restrict_public_buckets,
        }
    }

    /// The names of the settings that are off, as S3 spells them.
    pub fn off(current: Option<&Self>) -> Vec<&'static str> {
        let c = current.copied().unwrap_or_default();
        [
            ("BlockPublicAcls", c.block_public_acls),
            ("IgnorePublicAcls", c.ignore_public_acls),
            ("BlockPublicPolicy", c.block_public_policy),
            ("RestrictPublicBuckets", c.restrict_public_buckets),
        ]
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(name, _)| name)
        .collect()
    }
}

/// The public group a grantee URI names: `AllUsers` or `AuthenticatedUsers`.
pub fn public_group_of_uri(uri: &str) -> Option<&'static str> {
    let uri = uri.trim().trim_end_matches('/');
    if uri.eq_ignore_ascii_case(ALL_USERS_URI)
        || uri.eq_ignore_ascii_case(&ALL_USERS_URI.replacen("http", "https", 1))
    {
        Some("AllUsers")
    } else if uri.eq_ignore_ascii_case(AUTHENTICATED_USERS_URI)
        || uri.eq_ignore_ascii_case(&AUTHENTICATED_USERS_URI.replacen("http", "https", 1))
    {
        Some("AuthenticatedUsers")
    } else {
        None
    }
}

/// The public group a grant is to, if any.
pub fn public_group(grant: &Grant) -> Option<&'static str> {
    if grant.grantee.kind != "Group" {
        return None;
    }
    public_group_of_uri(grant.grantee.uri.as_deref()?)
}

/// Which grants stay and which go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclPlan {
    pub kept: Vec<Grant>,
    pub removed: Vec<Grant>,
}

pub fn plan_acl(grants: &[Grant]) -> AclPlan {
    let (removed, kept): (Vec<Grant>, Vec<Grant>) = grants
        .iter()
        .cloned()
        .partition(|g| public_group(g).is_some());
    AclPlan { kept, removed }
}

impl AclPlan {
    pub fn is_compliant(&self) -> bool {
        self.removed.is_empty()
    }

    /// `removed AllUsers READ`, one per removed grant.
    pub fn changes(&self) -> Vec<String> {
        self.removed
            .iter()
            .map(|g| {
                format!(
                    "removed {} {}",
                    public_group(g).unwrap_or("?"),
                    g.permission
                )
            })
            .collect()
    }

    /// Why the ACL was wrong, for a person.
    pub fn reason(&self, what: &str) -> String {
        let parts: Vec<String> = self
            .removed
            .iter()
            .map(|g| {
                let group = public_group(g).unwrap_or("?");
                let who = if group == "AllUsers" {
                    "anyone on the internet"
                } else {
                    "any AWS account"
                };
                format!("{} to {group} ({who})", g.permission)
            })
            .collect();
        format!("the {what} ACL granted {}", parts.join(" and "))
    }
}

/// Whether any of the four Block Public Access settings is off (or there is no configuration).
pub fn block_public_access_needed(current: Option<&BlockPublicAccess>) -> bool {
    current.is_none_or(|c| *c != BlockPublicAccess::ALL_ON)
}

/// A bucket's policy: its text, and S3's own judgement of it (`GetBucketPolicyStatus` -> `IsPublic`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketPolicy {
    pub text: String,
    pub is_public: bool,
}

/// Everything that decides whether a bucket is public, read at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketState {
    pub acl: Acl,
    pub policy: Option<BucketPolicy>,
    pub block_public_access: Option<BlockPublicAccess>,
    pub account_block_public_access: Option<BlockPublicAccess>,
}

/// A public bucket policy that nothing cuts off, and the statements that make it so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicPolicy {
    /// Empty when S3 judges the policy public but no statement is public by this module's rule
    /// (S3 knows condition keys this function does not): then only Block Public Access can close it.
    pub statements: Vec<PublicStatement>,
}

/// The policy to write instead: the same policy without its public statements, or none at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyRewrite {
    Put(String),
    Delete,
}

/// What is wrong with a bucket and what the settings allow to be done about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketPlan {
    pub acl: AclPlan,
    pub public_policy: Option<PublicPolicy>,
    pub policy_rewrite: Option<PolicyRewrite>,
    /// `BLOCK_PUBLIC_ACCESS=always` and the bucket lacks some of the four settings: their names.
    pub posture: Vec<&'static str>,
    pub enable_block_public_access: bool,
}

pub fn plan_bucket(state: &BucketState, settings: &Settings) -> BucketPlan {
    let acl = plan_acl(&state.acl.grants);
    let combined = BlockPublicAccess::combined(
        state.block_public_access.as_ref(),
        state.account_block_public_access.as_ref(),
    );
    let public_policy = state
        .policy
        .as_ref()
        .filter(|p| p.is_public && !combined.restrict_public_buckets)
        .map(|p| {
            let document = PolicyDocument::parse(&p.text).ok();
            let statements = document
                .as_ref()
                .map(PolicyDocument::public_statements)
                .unwrap_or_default();
            (document, statements)
        });
    let policy_rewrite = match (&public_policy, settings.public_policy) {
        (Some((Some(document), statements)), PublicPolicyFix::Remove) if !statements.is_empty() => {
            let removed: Vec<usize> = statements.iter().map(|s| s.index).collect();
            Some(match document.without(&removed) {
                Some(text) => PolicyRewrite::Put(text),
                None => PolicyRewrite::Delete,
            })
        }
        _ => None,
    };
    let public_policy = public_policy.map(|(_, statements)| PublicPolicy { statements });
    let posture = match settings.block_public_access {
        BlockPublicAccessMode::Always => BlockPublicAccess::off(state.block_public_access.as_ref()),
        _ => Vec::new(),
    };
    let exposed = !acl.is_compliant() || public_policy.is_some() || !posture.is_empty();
    let enable_block_public_access = exposed
        && settings.block_public_access.allows_changes()
        && block_public_access_needed(state.block_public_access.as_ref());
    BucketPlan {
        acl,
        public_policy,
        policy_rewrite,
        posture,
        enable_block_public_access,
    }
}

impl BucketPlan {
    pub fn is_compliant(&self) -> bool {
        self.acl.is_compliant() && self.public_policy.is_none() && self.posture.is_empty()
    }

    /// Why the bucket is wrong, for a person: each cause, in the order ACL, policy, posture.
    pub fn reason(&self) -> String {
        let mut parts = Vec::new();
        if !self.acl.is_compliant() {
            parts.push(self.acl.reason("bucket"));
        }
        if let Some(policy) = &self.public_policy {
            parts.push(if policy.statements.is_empty() {
                "S3 judges the bucket policy public (no single statement is public by the rules this function knows)".to_string()
            } else {
                let named: Vec<String> = policy.statements.iter().map(PublicStatement::describe).collect();
                format!("the bucket policy is public through {}", named.join(" and "))
            });
        }
        if !self.posture.is_empty() {
            parts.push(format!(
                "Block Public Access is off on the bucket ({}) and BLOCK_PUBLIC_ACCESS=always requires all four settings",
                self.posture.join(", ")
            ));
        }
        parts.join("; ")
    }

    /// The changes, in the order they are made: ACL, policy, Block Public Access.
    pub fn changes(&self) -> Vec<String> {
        let mut changes = self.acl.changes();
        changes.extend(self.policy_changes());
        if self.enable_block_public_access {
            changes.push(BLOCK_PUBLIC_ACCESS_CHANGE.to_string());
        }
        changes
    }

    /// What the policy rewrite changes: each statement taken out, or the whole policy deleted.
    pub fn policy_changes(&self) -> Vec<String> {
        match (&self.policy_rewrite, &self.public_policy) {
            (Some(PolicyRewrite::Put(_)), Some(policy)) => policy
                .statements
                .iter()
                .map(|s| format!("removed policy {}", s.describe()))
                .collect(),
            (Some(PolicyRewrite::Delete), _) => {
                vec!["deleted the bucket policy (every statement in it was public)".to_string()]
            }
            _ => Vec::new(),
        }
    }

    /// Why the settings leave the bucket public, when they do: nothing planned ends the exposure.
    /// Only `BLOCK_PUBLIC_ACCESS=false` can leave that so: otherwise Block Public Access is planned,
    /// since a policy that is still public means `RestrictPublicBuckets` is off on the bucket.
    pub fn unfixable(&self, settings: &Settings) -> Option<String> {
        self.public_policy.as_ref()?;
        if self.enable_block_public_access || self.policy_rewrite.is_some() {
            return None;
        }
        Some(match settings.public_policy {
            PublicPolicyFix::Block => {
                "BLOCK_PUBLIC_ACCESS=false and PUBLIC_POLICY=block leave no fix for a public bucket policy"
            }
            // `remove` plans a rewrite whenever it names a statement: here it named none.
            PublicPolicyFix::Remove => {
                "PUBLIC_POLICY=remove found no statement to remove, and BLOCK_PUBLIC_ACCESS=false forbids Block Public Access"
            }
        }
        .to_string())
    }
}

/// The account-level Block Public Access settings (`s3-account`): wrong only under
/// `BLOCK_PUBLIC_ACCESS=always`, when some of the four are off. `None`: nothing to do.
pub fn plan_account(current: Option<&BlockPublicAccess>, settings: &Settings) -> Option<String> {
    let off = BlockPublicAccess::off(current);
    (settings.block_public_access == BlockPublicAccessMode::Always && !off.is_empty()).then(|| {
        format!(
            "account-level Block Public Access is off ({}) and BLOCK_PUBLIC_ACCESS=always requires all four settings",
            off.join(", ")
        )
    })
}

pub const ACCOUNT_BLOCK_PUBLIC_ACCESS_CHANGE: &str =
    "enabled account-level Block Public Access (all four settings)";

/// Whether a bucket or account this function found compliant, or fixed, passes Security Hub control
/// `control_id` too (Security Hub controls for Amazon S3): S3.2 and S3.3 (public read, public write:
/// ACL grants and bucket policies, what this rule judges); S3.8 and S3.1 (Block Public Access on the
/// bucket and on the account) only when `BLOCK_PUBLIC_ACCESS=always` makes them part of the rule.
pub fn closes_control(control_id: &str, settings: &Settings) -> bool {
    match control_id {
        "S3.2" | "S3.3" => true,
        "S3.1" | "S3.8" => settings.block_public_access == BlockPublicAccessMode::Always,
        _ => false,
    }
}
