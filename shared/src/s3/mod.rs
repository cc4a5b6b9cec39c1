//! `s3-public-access`: public S3 ACLs.
//!
//! - [`targets`]: which buckets and objects an event points at (pure)
//! - [`policy`]: the rule: grants to remove, Block Public Access, exemption (pure)
//! - [`aws`]: the S3 calls and their IAM actions
//! - [`item`]: a bucket as an AWS Config item describes it (for the Config rule)
//!
//! This file ties them into the invocation loop: re-read, decide, fix, and say what happened.

pub mod aws;
pub mod item;
pub mod policy;
pub mod targets;

pub use aws::{S3Actions, IAM_ACTIONS};
pub use policy::*;
pub use targets::{request_grants_public_access, targets_of, S3Target};

use aws_config::SdkConfig;

use crate::config::Settings;
use crate::error::AwsError;
use crate::invocation::{Remediation, Targets};
use crate::outcome::{Outcome, OutcomeKind, ResourceType, Severity};
use crate::trigger::Trigger;

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

    /// The function as it runs in Lambda: clients from the SDK configuration, sweeps in its region.
    pub fn from_sdk_config(sdk: &SdkConfig, settings: Settings) -> Self {
        let region = sdk.region().map(|r| r.to_string());
        S3PublicAccess::new(S3Actions::from_sdk_config(sdk), settings, region)
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
        Ok(targets_of(trigger).into())
    }

    /// One flow for a bucket and for an object; only the ACL calls and the wording differ.
    async fn remediate(&self, target: &S3Target, _trigger: &Trigger) -> Result<Outcome, AwsError> {
        let (resource_type, id) = self.resource_of(target);
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
        let tag_keys = self.actions.bucket_tag_keys(bucket).await?;
        if let Some(skip) = exemption(bucket, &tag_keys, &self.settings) {
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

        let fixed = Acl {
            owner: acl.owner,
            grants: plan.kept.clone(),
        };
        match target {
            S3Target::Bucket(bucket) => self.actions.put_bucket_acl(bucket, &fixed).await?,
            S3Target::Object { bucket, key } => {
                self.actions.put_object_acl(bucket, key, &fixed).await?
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

    fn resource_of(&self, target: &S3Target) -> (ResourceType, String) {
        match target {
            S3Target::Bucket(bucket) => (ResourceType::S3Bucket, bucket.clone()),
            S3Target::Object { bucket, key } => (ResourceType::S3Object, format!("{bucket}/{key}")),
        }
    }
}

#[cfg(test)]
mod tests;
