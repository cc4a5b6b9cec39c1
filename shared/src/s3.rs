//! Public S3 ACLs: which triggers point at which bucket or object, the pure plan (current ACL ->
//! grants to remove), and the actions that apply it.
//!
//! Wrong: a grant to AllUsers or AuthenticatedUsers on a bucket ACL or on the object an event names.
//! Fix: rewrite the ACL keeping the owner and every other grant exactly, then turn on all four Block
//! Public Access settings of the bucket (unless `BLOCK_PUBLIC_ACCESS=false`).

use aws_config::SdkConfig;
use aws_sdk_s3::types::{AccessControlPolicy, Grant, Owner, PublicAccessBlockConfiguration, Type};
use serde_json::Value;

use crate::config::Settings;
use crate::error::AwsError;
use crate::invocation::{Remediation, Targets};
use crate::outcome::{Outcome, OutcomeKind, ResourceType, Severity};
use crate::shape::{field_ignore_case, one_or_many, str_field, strings};
use crate::trigger::{ApiCall, Trigger, TriggerEvent};

/// The IAM actions behind every S3 call in this module (checked against the code and the template).
pub const IAM_ACTIONS: &[&str] = &[
    "s3:GetBucketAcl",
    "s3:PutBucketAcl",
    "s3:GetObjectAcl",
    "s3:PutObjectAcl",
    "s3:GetBucketTagging",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:ListAllMyBuckets",
];

pub const ALL_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS_URI: &str =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// Canned ACLs that grant to AllUsers or AuthenticatedUsers.
const PUBLIC_CANNED_ACLS: &[&str] = &["public-read", "public-read-write", "authenticated-read"];
const GRANT_HEADERS: &[&str] = &[
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
];

/// A bucket, or one object in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum S3Target {
    Bucket(String),
    Object { bucket: String, key: String },
}

// ---------------------------------------------------------------------------------------------
// Triggers -> targets (pure)
// ---------------------------------------------------------------------------------------------

/// The buckets and objects an event points at, or why the event is not for this function.
/// A scheduled sweep is answered by [`S3PublicAccess::targets`], which lists the buckets.
pub fn targets_of(trigger: &Trigger) -> Result<Vec<S3Target>, String> {
    match &trigger.event {
        TriggerEvent::ApiCall(call) => api_call_targets(call),
        TriggerEvent::Compliance(change) if change.resource_type == "AWS::S3::Bucket" => {
            Ok(vec![S3Target::Bucket(change.resource_id.clone())])
        }
        TriggerEvent::Compliance(change) => Err(format!(
            "Config rule {} is about {}, not an S3 bucket",
            change.rule_name, change.resource_type
        )),
        TriggerEvent::Finding(finding) => {
            if !finding.finding_type.starts_with("Policy:S3/Bucket") {
                return Err(format!(
                    "GuardDuty finding type {} is not about a bucket's public access",
                    finding.finding_type
                ));
            }
            if finding.buckets.is_empty() {
                return Err(format!("GuardDuty finding {} names no bucket", finding.id));
            }
            Ok(finding
                .buckets
                .iter()
                .cloned()
                .map(S3Target::Bucket)
                .collect())
        }
        TriggerEvent::Schedule { .. } => {
            Err("scheduled sweeps list the buckets themselves".to_string())
        }
        TriggerEvent::StateChange(_) | TriggerEvent::ConfigRule(_) => {
            Err(format!("{} events are not about S3", trigger.source))
        }
    }
}

fn api_call_targets(call: &ApiCall) -> Result<Vec<S3Target>, String> {
    if call.event_source != "s3.amazonaws.com" {
        return Err(format!(
            "{} from {} is not an S3 call",
            call.event_name, call.event_source
        ));
    }
    let request = &call.request;
    let bucket = str_field(request, "bucketName")
        .map(String::from)
        .or_else(|| bucket_from_resources(call))
        .ok_or_else(|| format!("{} names no bucket", call.event_name))?;
    match call.event_name.as_str() {
        "PutBucketAcl" | "CreateBucket" | "DeleteBucketPublicAccessBlock" => {
            Ok(vec![S3Target::Bucket(bucket)])
        }
        "PutBucketPublicAccessBlock" if block_public_access_fully_on(request) => {
            Err("PutBucketPublicAccessBlock turned every protection on".to_string())
        }
        "PutBucketPublicAccessBlock" => Ok(vec![S3Target::Bucket(bucket)]),
        "PutObjectAcl" => Ok(vec![object_target(call, bucket)?]),
        "PutObject" | "CopyObject" if request_grants_public_access(request) => {
            Ok(vec![object_target(call, bucket)?])
        }
        "PutObject" | "CopyObject" => Err(format!("{} set no public ACL", call.event_name)),
        other => Err(format!("S3 call {other} does not change public access")),
    }
}

/// `requestParameters.key` as given; the object ARN in `resources` when the key is missing.
fn object_target(call: &ApiCall, bucket: String) -> Result<S3Target, String> {
    let key = str_field(&call.request, "key")
        .map(String::from)
        .or_else(|| {
            let prefix = format!("arn:aws:s3:::{bucket}/");
            call.resources
                .iter()
                .filter(|(kind, _)| kind == "AWS::S3::Object")
                .find_map(|(_, arn)| arn.strip_prefix(&prefix).map(String::from))
        });
    match key {
        Some(key) if !key.is_empty() => Ok(S3Target::Object { bucket, key }),
        _ => Err(format!("{} names no object key", call.event_name)),
    }
}

fn bucket_from_resources(call: &ApiCall) -> Option<String> {
    call.resources
        .iter()
        .find(|(kind, _)| kind == "AWS::S3::Bucket")
        .and_then(|(_, arn)| arn.strip_prefix("arn:aws:s3:::"))
        .map(String::from)
}

/// Whether a request's headers or body grant anything to AllUsers or AuthenticatedUsers.
pub fn request_grants_public_access(request: &Value) -> bool {
    let canned = strings(field_ignore_case(request, "x-amz-acl"))
        .iter()
        .any(|acl| PUBLIC_CANNED_ACLS.contains(&acl.trim()));
    let headers = GRANT_HEADERS.iter().any(|header| {
        strings(field_ignore_case(request, header))
            .iter()
            .any(|value| {
                value.contains("/global/AllUsers") || value.contains("/global/AuthenticatedUsers")
            })
    });
    let body = request
        .pointer("/AccessControlPolicy/AccessControlList")
        .map(|list| {
            one_or_many(list.get("Grant")).iter().any(|grant| {
                grant
                    .get("Grantee")
                    .and_then(|g| str_field(g, "URI"))
                    .is_some_and(|uri| public_group_of_uri(uri).is_some())
            })
        })
        .unwrap_or(false);
    canned || headers || body
}

/// True only when the request visibly sets all four settings to true (booleans or strings).
fn block_public_access_fully_on(request: &Value) -> bool {
    let Some(config) = request.get("PublicAccessBlockConfiguration") else {
        return false;
    };
    [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ]
    .iter()
    .all(|name| match config.get(*name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

// ---------------------------------------------------------------------------------------------
// Plan (pure)
// ---------------------------------------------------------------------------------------------

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
    let grantee = grant.grantee()?;
    if grantee.r#type() != &Type::Group {
        return None;
    }
    public_group_of_uri(grantee.uri()?)
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
                    permission(g)
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
                format!("{} to {group} ({who})", permission(g))
            })
            .collect();
        format!("the {what} ACL granted {}", parts.join(" and "))
    }
}

fn permission(grant: &Grant) -> &str {
    grant.permission().map(|p| p.as_str()).unwrap_or("?")
}

/// Whether any of the four Block Public Access settings is off (or there is no configuration).
pub fn block_public_access_needed(current: Option<&PublicAccessBlockConfiguration>) -> bool {
    match current {
        None => true,
        Some(c) => ![
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets(),
        ]
        .iter()
        .all(|setting| *setting == Some(true)),
    }
}

pub const BLOCK_PUBLIC_ACCESS_CHANGE: &str = "enabled Block Public Access (all four settings)";

// ---------------------------------------------------------------------------------------------
// Actions (SDK calls)
// ---------------------------------------------------------------------------------------------

/// An ACL as S3 returns it: the owner and the grants, passed back unchanged except for removals.
#[derive(Clone, Debug, PartialEq)]
pub struct Acl {
    pub owner: Option<Owner>,
    pub grants: Vec<Grant>,
}

#[derive(Clone, Debug)]
pub struct S3Actions {
    client: aws_sdk_s3::Client,
}

impl S3Actions {
    /// Path-style addressing when an endpoint override points at a local emulator.
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        let path_style = crate::startup::endpoint_overridden(sdk, "S3");
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build();
        S3Actions {
            client: aws_sdk_s3::Client::from_conf(config),
        }
    }

    pub fn from_client(client: aws_sdk_s3::Client) -> Self {
        S3Actions { client }
    }

    pub async fn bucket_acl(&self, bucket: &str) -> Result<Acl, AwsError> {
        let out = self
            .client
            .get_bucket_acl()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetBucketAcl", e))?;
        Ok(Acl {
            owner: out.owner().cloned(),
            grants: out.grants().to_vec(),
        })
    }

    pub async fn object_acl(&self, bucket: &str, key: &str) -> Result<Acl, AwsError> {
        let out = self
            .client
            .get_object_acl()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetObjectAcl", e))?;
        Ok(Acl {
            owner: out.owner().cloned(),
            grants: out.grants().to_vec(),
        })
    }

    fn policy(owner: Option<&Owner>, grants: &[Grant]) -> AccessControlPolicy {
        AccessControlPolicy::builder()
            .set_owner(owner.cloned())
            .set_grants(Some(grants.to_vec()))
            .build()
    }

    pub async fn put_bucket_acl(
        &self,
        bucket: &str,
        owner: Option<&Owner>,
        grants: &[Grant],
    ) -> Result<(), AwsError> {
        self.client
            .put_bucket_acl()
            .bucket(bucket)
            .access_control_policy(Self::policy(owner, grants))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutBucketAcl", e))?;
        Ok(())
    }

    pub async fn put_object_acl(
        &self,
        bucket: &str,
        key: &str,
        owner: Option<&Owner>,
        grants: &[Grant],
    ) -> Result<(), AwsError> {
        self.client
            .put_object_acl()
            .bucket(bucket)
            .key(key)
            .access_control_policy(Self::policy(owner, grants))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObjectAcl", e))?;
        Ok(())
    }

    /// The bucket's tag keys; a bucket without tags answers `NoSuchTagSet`.
    pub async fn bucket_tag_keys(&self, bucket: &str) -> Result<Vec<String>, AwsError> {
        match self.client.get_bucket_tagging().bucket(bucket).send().await {
            Ok(out) => Ok(out.tag_set().iter().map(|t| t.key().to_string()).collect()),
            Err(err) => {
                let err = AwsError::from_sdk("GetBucketTagging", err);
                if err.has_code("NoSuchTagSet") {
                    Ok(Vec::new())
                } else {
                    Err(err)
                }
            }
        }
    }

    /// The bucket's Block Public Access settings; `None` when it has none.
    pub async fn public_access_block(
        &self,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlockConfiguration>, AwsError> {
        match self
            .client
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(out) => Ok(out.public_access_block_configuration().cloned()),
            Err(err) => {
                let err = AwsError::from_sdk("GetPublicAccessBlock", err);
                if err.has_code("NoSuchPublicAccessBlockConfiguration") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    pub async fn block_public_access(&self, bucket: &str) -> Result<(), AwsError> {
        let all_on = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.client
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(all_on)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock", e))?;
        Ok(())
    }

    /// Every bucket of the account in `region` (all regions when `None`), page by page.
    pub async fn list_buckets(&self, region: Option<&str>) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_buckets()
            .set_bucket_region(region.map(String::from))
            .max_buckets(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListBuckets", e))?;
            names.extend(
                page.buckets()
                    .iter()
                    .filter_map(|b| b.name().map(String::from)),
            );
        }
        Ok(names)
    }
}

// ---------------------------------------------------------------------------------------------
// The remediation
// ---------------------------------------------------------------------------------------------

pub struct S3PublicAccess {
    pub actions: S3Actions,
    pub settings: Settings,
    /// The region whose buckets a sweep checks.
    pub region: Option<String>,
}

impl S3PublicAccess {
    pub fn new(actions: S3Actions, settings: Settings, region: Option<String>) -> Self {
        S3PublicAccess {
            actions,
            settings,
            region,
        }
    }

    /// One flow for a bucket and for an object; only the ACL calls and the wording differ.
    async fn check_target(&self, target: &S3Target) -> Result<Outcome, AwsError> {
        let (resource_type, id) = self.describe(target);
        let (bucket, what) = match target {
            S3Target::Bucket(bucket) => (bucket.as_str(), "bucket"),
            S3Target::Object { bucket, .. } => (bucket.as_str(), "object"),
        };
        let acl = match target {
            S3Target::Bucket(bucket) => self.actions.bucket_acl(bucket).await?,
            S3Target::Object { bucket, key } => self.actions.object_acl(bucket, key).await?,
        };
        let plan = plan_acl(&acl.grants);
        let outcome = |kind, reason: String| {
            Outcome::new(kind, resource_type, &id, reason).with_severity(Severity::High)
        };
        if plan.is_compliant() {
            return Ok(outcome(
                OutcomeKind::Compliant,
                format!("no public grants in the {what} ACL"),
            ));
        }
        let reason = plan.reason(what);
        if let Some(skip) = self.exemption(bucket).await? {
            return Ok(outcome(OutcomeKind::Skipped, format!("{reason}; {skip}")));
        }
        // Block Public Access is a bucket setting: for an object it also stops the next public one.
        let block_public_access = self.settings.block_public_access
            && block_public_access_needed(self.actions.public_access_block(bucket).await?.as_ref());
        let block_change = match target {
            S3Target::Bucket(_) => BLOCK_PUBLIC_ACCESS_CHANGE.to_string(),
            S3Target::Object { .. } => format!("{BLOCK_PUBLIC_ACCESS_CHANGE} on bucket {bucket}"),
        };
        let mut planned = plan.changes();
        if block_public_access {
            planned.push(block_change.clone());
        }
        if self.settings.dry_run {
            return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(planned));
        }

        let owner = acl.owner.as_ref();
        match target {
            S3Target::Bucket(bucket) => {
                self.actions
                    .put_bucket_acl(bucket, owner, &plan.kept)
                    .await?
            }
            S3Target::Object { bucket, key } => {
                self.actions
                    .put_object_acl(bucket, key, owner, &plan.kept)
                    .await?
            }
        }
        let mut done = plan.changes();
        if block_public_access {
            match self.actions.block_public_access(bucket).await {
                Ok(()) => done.push(block_change),
                // The grants are gone; say plainly that the second step did not happen.
                Err(err) if !err.is_transient() => {
                    return Ok(outcome(
                        OutcomeKind::Failed,
                        format!("{reason}; the public grants were removed but {err}"),
                    )
                    .with_changes(done));
                }
                Err(err) => return Err(err),
            }
        }
        Ok(outcome(OutcomeKind::Remediated, reason).with_changes(done))
    }

    /// `Some(why)` when the bucket carries the exemption tag.
    async fn exemption(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        let keys = self.actions.bucket_tag_keys(bucket).await?;
        Ok(keys.contains(&self.settings.exempt_tag).then(|| {
            format!(
                "bucket {bucket} is exempt (tag {})",
                self.settings.exempt_tag
            )
        }))
    }
}

impl Remediation for S3PublicAccess {
    type Target = S3Target;

    async fn targets(&self, trigger: &Trigger) -> Result<Targets<S3Target>, AwsError> {
        if trigger.is_sweep() {
            let region = self
                .region
                .as_deref()
                .or(Some(trigger.region.as_str()).filter(|r| !r.is_empty()));
            let buckets = self.actions.list_buckets(region).await?;
            return Ok(Targets::Found(
                buckets.into_iter().map(S3Target::Bucket).collect(),
            ));
        }
        Ok(match targets_of(trigger) {
            Ok(targets) => Targets::Found(targets),
            Err(reason) => Targets::Ignored(reason),
        })
    }

    async fn check(&self, target: &S3Target, _trigger: &Trigger) -> Result<Outcome, AwsError> {
        self.check_target(target).await
    }

    fn describe(&self, target: &S3Target) -> (ResourceType, String) {
        match target {
            S3Target::Bucket(bucket) => (ResourceType::S3Bucket, bucket.clone()),
            S3Target::Object { bucket, key } => (ResourceType::S3Object, format!("{bucket}/{key}")),
        }
    }
}

#[cfg(test)]
mod tests;
