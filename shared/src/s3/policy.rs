//! The S3 rule, pure: what makes a bucket or object public, and what the fix keeps.
//!
//! Wrong: a grant to AllUsers or AuthenticatedUsers (any permission) on a bucket ACL, or on the
//! object an event names. Fix: the same ACL without those grants, the owner and every other grant kept
//! exactly; then all four Block Public Access settings on the bucket (unless `BLOCK_PUBLIC_ACCESS=false`
//! or they are on already). A bucket carrying the exemption tag is left alone.

use serde::Serialize;

use crate::config::Settings;

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
#[derive(Clone, Debug, PartialEq)]
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

/// `Some(why)` when the bucket carries the exemption tag.
pub fn exemption(bucket: &str, tag_keys: &[String], settings: &Settings) -> Option<String> {
    tag_keys
        .contains(&settings.exempt_tag)
        .then(|| format!("bucket {bucket} is exempt (tag {})", settings.exempt_tag))
}
