//! `s3-public-access`: S3 exposure by its effect: public ACL grants, public bucket policies, Block
//! Public Access turned off.
//!
//! - [`targets`]: which buckets, objects and accounts an event points at (pure)
//! - [`policy`]: the rule: what is public, what the fix changes and keeps (pure)
//! - [`statements`]: a bucket policy's public statements, and the policy without them (pure)
//! - [`aws`]: the S3 and S3 Control calls and their IAM actions
//! - [`undo`]: the state each fix replaced and the calls that restore it (pure)
//! - [`item`]: a bucket as an AWS Config item describes it (for the Config rule)
//!
//! This file ties them into the invocation loop: re-read, decide, fix, and say what happened.

pub mod aws;
pub mod item;
pub mod policy;
pub mod statements;
pub mod targets;
pub mod undo;

pub use aws::{S3Actions, ACLS_DISABLED, IAM_ACTIONS};
pub use policy::*;
pub use targets::{request_grants_public_access, targets_of, S3Target};

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::config::{BlockPublicAccessMode, Settings};
use crate::error::AwsError;
use crate::exemption;
use crate::identity::OwnIdentity;
use crate::invocation::{Remediation, Targets, Unrelated};
use crate::notify::exemption_report::Exempt;
use crate::organization::Accounts;
use crate::outcome::{Outcome, OutcomeKind, ResourceType, Severity};
use crate::trigger::Trigger;

/// What a change that S3 refused because the bucket's ACLs are disabled amounts to.
const ACLS_DISABLED_CHANGE: &str =
    "ACLs are disabled on the bucket (Object Ownership: bucket owner enforced), so its public grants no longer apply";

pub struct S3PublicAccess {
    /// The S3 and S3 Control clients of each account and region it acts in.
    pub accounts: Accounts<S3Actions>,
    pub settings: Settings,
    /// The region whose buckets a sweep checks when the event names none.
    pub region: Option<String>,
}

impl S3PublicAccess {
    /// The same clients for every account and region (tests).
    pub fn new(actions: S3Actions, settings: Settings, region: Option<String>) -> Self {
        S3PublicAccess {
            accounts: Accounts::fixed(actions),
            settings,
            region,
        }
    }

    /// The function as it runs in Lambda: clients from the SDK configuration, in each event's account
    /// (through the member role in organization mode) and region.
    pub fn from_sdk_config(sdk: &SdkConfig, settings: Settings) -> Self {
        let region = sdk.region().map(|r| r.to_string());
        let member_role = settings.organization.member_role_name.clone();
        let identity = Arc::new(OwnIdentity::from_sdk_config(sdk));
        S3PublicAccess {
            accounts: Accounts::new(
                sdk,
                S3Actions::from_sdk_config,
                identity,
                member_role,
                "s3-public-access",
            ),
            settings,
            region,
        }
    }

    async fn actions(&self, trigger: &Trigger) -> Result<Arc<S3Actions>, AwsError> {
        self.accounts.get(&trigger.account, &trigger.region).await
    }

    fn always(&self) -> bool {
        self.settings.block_public_access == BlockPublicAccessMode::Always
    }

    /// Every bucket of the region (a sweep, or a change to the account's settings).
    async fn buckets(&self, trigger: &Trigger) -> Result<Vec<S3Target>, AwsError> {
        let region = Some(trigger.region.as_str())
            .filter(|r| !r.is_empty())
            .or(self.region.as_deref());
        let buckets = self.actions(trigger).await?.list_buckets(region).await?;
        Ok(buckets.into_iter().map(S3Target::Bucket).collect())
    }

    /// The reason after the bucket's exemption tag: `Err(why it is skipped)` while it holds.
    fn exempt(
        &self,
        reason: String,
        bucket: &str,
        tags: &[(String, String)],
    ) -> Result<String, String> {
        exemption::judge(
            reason,
            &format!("bucket {bucket}"),
            tags,
            &self.settings.exempt_tag,
            exemption::today(),
        )
    }

    async fn remediate_bucket(
        &self,
        actions: &S3Actions,
        dry_run: bool,
        bucket: &str,
        account: &str,
    ) -> Result<Outcome, AwsError> {
        let outcome = |kind, reason: String| {
            Outcome::new(kind, ResourceType::S3Bucket, bucket, reason).with_severity(Severity::High)
        };
        let (state, tags) = actions.bucket_state(bucket, account).await?;
        let plan = plan_bucket(&state, &self.settings);
        if plan.is_compliant() {
            return Ok(outcome(OutcomeKind::Compliant, compliant_reason(&state)));
        }
        let reason = match self.exempt(plan.reason(), bucket, &tags) {
            Ok(reason) => reason,
            Err(skipped) => return Ok(outcome(OutcomeKind::Skipped, skipped)),
        };
        let unfixable = plan.unfixable(&self.settings);
        if dry_run {
            let reason = match &unfixable {
                Some(why) => format!("{reason}; even so it would stay public: {why}"),
                None => reason,
            };
            return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(plan.changes()));
        }

        let mut done = Vec::new();
        let mut fix = undo::BucketFix::default();
        // A refusal: a failure that lists what was done, and its undo.
        let failed = |err: AwsError, done: Vec<String>, fix: &undo::BucketFix| {
            refused(err, done.is_empty(), |err| {
                outcome(OutcomeKind::Failed, format!("{reason}; {err}"))
                    .with_changes(done)
                    .with_restore(undo::bucket(bucket, &state, fix))
            })
        };
        // Writes that do not depend on each other go out together. Block Public Access waits for a
        // policy rewrite: with BlockPublicPolicy on, S3 rejects a PutBucketPolicy it judges public
        // (S3 User Guide, "Blocking public access to your Amazon S3 storage"), and only S3 judges.
        let fixed_acl = Acl {
            owner: state.acl.owner.clone(),
            grants: plan.acl.kept.clone(),
        };
        let block_at_once = plan.enable_block_public_access && plan.policy_rewrite.is_none();
        let (acl_written, policy_written, mut blocked) = tokio::join!(
            async {
                if plan.acl.is_compliant() {
                    None
                } else {
                    Some(actions.put_bucket_acl(bucket, &fixed_acl).await)
                }
            },
            async {
                match &plan.policy_rewrite {
                    Some(PolicyRewrite::Put(text)) => Some((
                        actions.put_bucket_policy(bucket, text).await,
                        Some(text.clone()),
                    )),
                    Some(PolicyRewrite::Delete) => {
                        Some((actions.delete_bucket_policy(bucket).await, None))
                    }
                    None => None,
                }
            },
            async {
                if block_at_once {
                    Some(actions.block_public_access(bucket).await)
                } else {
                    None
                }
            },
        );
        // Everything that succeeded is told, with the first refusal.
        let mut refusals = Vec::new();
        match acl_written {
            Some(Ok(())) => {
                done.extend(plan.acl.changes());
                fix.acl = Some(fixed_acl);
            }
            Some(Err(err)) if err.has_code(ACLS_DISABLED) => {
                done.push(ACLS_DISABLED_CHANGE.to_string())
            }
            Some(Err(err)) => refusals.push(err),
            None => {}
        }
        match policy_written {
            Some((Ok(()), after)) => {
                done.extend(plan.policy_changes());
                fix.policy = Some(after);
            }
            Some((Err(err), _)) => refusals.push(err),
            None => {}
        }
        if plan.enable_block_public_access && !block_at_once && refusals.is_empty() {
            blocked = Some(actions.block_public_access(bucket).await);
        }
        match blocked {
            Some(Ok(())) => {
                done.push(BLOCK_PUBLIC_ACCESS_CHANGE.to_string());
                fix.block_public_access = true;
            }
            Some(Err(err)) => refusals.push(err),
            None => {}
        }
        if let Some(err) = refusals.into_iter().next() {
            return failed(err, done, &fix);
        }
        let restore = undo::bucket(bucket, &state, &fix);
        if let Some(why) = unfixable {
            return Ok(outcome(
                OutcomeKind::Failed,
                format!("{reason}; it is still public: {why}"),
            )
            .with_changes(done)
            .with_restore(restore));
        }
        // Without Block Public Access only S3 can say whether the rewritten policy is private.
        if plan.public_policy.is_some()
            && !plan.enable_block_public_access
            && actions.policy_is_public(bucket).await?
        {
            return Ok(outcome(
                OutcomeKind::Failed,
                format!("{reason}; S3 still judges the rewritten policy public, and BLOCK_PUBLIC_ACCESS=false forbids Block Public Access"),
            )
            .with_changes(done)
            .with_restore(restore));
        }
        Ok(outcome(OutcomeKind::Remediated, reason)
            .with_changes(done)
            .with_restore(restore))
    }

    async fn remediate_object(
        &self,
        actions: &S3Actions,
        dry_run: bool,
        bucket: &str,
        key: &str,
    ) -> Result<Outcome, AwsError> {
        let id = format!("{bucket}/{key}");
        let outcome = |kind, reason: String| {
            Outcome::new(kind, ResourceType::S3Object, &id, reason).with_severity(Severity::High)
        };
        let (acl, block, tags) = tokio::try_join!(
            actions.object_acl(bucket, key),
            actions.public_access_block(bucket),
            actions.bucket_tags(bucket),
        )?;
        let plan = plan_acl(&acl.grants);
        if plan.is_compliant() {
            return Ok(outcome(
                OutcomeKind::Compliant,
                "no public grants in the object ACL".into(),
            ));
        }
        let reason = match self.exempt(plan.reason("object"), bucket, &tags) {
            Ok(reason) => reason,
            Err(skipped) => return Ok(outcome(OutcomeKind::Skipped, skipped)),
        };
        // Block Public Access is a bucket setting: for an object it also stops the next public one.
        let block_public_access = self.settings.block_public_access.allows_changes()
            && block_public_access_needed(block.as_ref());
        let block_change = format!("{BLOCK_PUBLIC_ACCESS_CHANGE} on bucket {bucket}");
        let mut planned = plan.changes();
        if block_public_access {
            planned.push(block_change.clone());
        }
        if dry_run {
            return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(planned));
        }
        let fixed = Acl {
            owner: acl.owner.clone(),
            grants: plan.kept.clone(),
        };
        // The object's ACL and the bucket's Block Public Access do not depend on each other.
        let (acl_written, blocked) =
            tokio::join!(actions.put_object_acl(bucket, key, &fixed), async {
                if block_public_access {
                    Some(actions.block_public_access(bucket).await)
                } else {
                    None
                }
            },);
        let (mut done, rewritten) = match acl_written {
            Ok(()) => (plan.changes(), Some(&fixed)),
            Err(err) if err.has_code(ACLS_DISABLED) => {
                (vec![ACLS_DISABLED_CHANGE.to_string()], None)
            }
            // Block Public Access went on while the grants stayed: that change is told too.
            Err(err) if matches!(blocked, Some(Ok(()))) => {
                return refused(err, false, |err| {
                    outcome(
                        OutcomeKind::Failed,
                        format!("{reason}; {block_change}, but the public grants could not be removed: {err}"),
                    )
                    .with_changes(vec![block_change.clone()])
                    .with_restore(undo::object(bucket, key, &acl, None, block.as_ref(), true))
                })
            }
            Err(err) => return Err(err),
        };
        let restore = |blocked| undo::object(bucket, key, &acl, rewritten, block.as_ref(), blocked);
        match blocked {
            Some(Ok(())) => done.push(block_change),
            // The grants are gone; say plainly that the second step did not happen.
            Some(Err(err)) => {
                return refused(err, done.is_empty(), |err| {
                    outcome(
                        OutcomeKind::Failed,
                        format!("{reason}; the public grants were removed but {err}"),
                    )
                    .with_changes(done)
                    .with_restore(restore(false))
                })
            }
            None => {}
        }
        Ok(outcome(OutcomeKind::Remediated, reason)
            .with_changes(done)
            .with_restore(restore(block_public_access)))
    }

    /// An upload started with a public ACL: once it completes the object is public, unless the
    /// bucket (or the account) ignores public ACLs. Nothing exists yet to rewrite.
    async fn remediate_upload(
        &self,
        actions: &S3Actions,
        dry_run: bool,
        bucket: &str,
        key: &str,
        account: &str,
    ) -> Result<Outcome, AwsError> {
        let id = format!("{bucket}/{key}");
        let outcome = |kind, reason: String| {
            Outcome::new(kind, ResourceType::S3Object, &id, reason).with_severity(Severity::High)
        };
        let (block, account_block, tags) = tokio::try_join!(
            actions.public_access_block(bucket),
            actions.account_public_access_block(account),
            actions.bucket_tags(bucket),
        )?;
        if BlockPublicAccess::combined(block.as_ref(), account_block.as_ref()).ignore_public_acls {
            return Ok(outcome(
                OutcomeKind::Compliant,
                "the upload's public ACL will not apply: IgnorePublicAcls is on".into(),
            ));
        }
        let reason = format!("a multipart upload to bucket {bucket} was started with a public ACL, so the object will be public when the upload completes");
        let reason = match self.exempt(reason, bucket, &tags) {
            Ok(reason) => reason,
            Err(skipped) => return Ok(outcome(OutcomeKind::Skipped, skipped)),
        };
        if !self.settings.block_public_access.allows_changes() {
            return Ok(outcome(
                OutcomeKind::Failed,
                format!("{reason}; only the bucket's IgnorePublicAcls can keep it private and BLOCK_PUBLIC_ACCESS=false forbids it"),
            ));
        }
        let change = format!("{BLOCK_PUBLIC_ACCESS_CHANGE} on bucket {bucket} (IgnorePublicAcls keeps the uploaded object private)");
        if dry_run {
            return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(vec![change]));
        }
        match actions.block_public_access(bucket).await {
            Ok(()) => Ok(outcome(OutcomeKind::Remediated, reason)
                .with_changes(vec![change])
                .with_restore(undo::bucket_block_public_access(bucket, block.as_ref()))),
            Err(err) => refused(err, true, |err| {
                outcome(OutcomeKind::Failed, format!("{reason}; {err}"))
            }),
        }
    }

    async fn remediate_account(
        &self,
        actions: &S3Actions,
        dry_run: bool,
        account: &str,
    ) -> Result<Outcome, AwsError> {
        let outcome = |kind, reason: String| {
            Outcome::new(kind, ResourceType::S3Account, account, reason)
                .with_severity(Severity::High)
        };
        let current = actions.account_public_access_block(account).await?;
        let Some(reason) = plan_account(current.as_ref(), &self.settings) else {
            return Ok(outcome(
                OutcomeKind::Compliant,
                "account-level Block Public Access is on (all four settings)".into(),
            ));
        };
        let change = vec![ACCOUNT_BLOCK_PUBLIC_ACCESS_CHANGE.to_string()];
        if dry_run {
            return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(change));
        }
        match actions.block_account_public_access(account).await {
            Ok(()) => Ok(outcome(OutcomeKind::Remediated, reason)
                .with_changes(change)
                .with_restore(undo::account_block_public_access(account, current.as_ref()))),
            Err(err) => refused(err, true, |err| {
                outcome(OutcomeKind::Failed, format!("{reason}; {err}"))
            }),
        }
    }
}

/// What a write S3 refused becomes. While `nothing_changed`, a transient refusal is returned, so
/// Lambda retries (every step is idempotent), and so is a resource not found (the invocation loop
/// reports it gone, nothing left to do). Otherwise `failed`, built by `failure` with the reason and
/// what was changed, so that no change goes untold: the writes of one fix go out together, so a
/// passing refusal of one can come after another has already changed the resource (a retry could
/// find the resource compliant and never tell that change). The next event or sweep finishes it.
fn refused(
    err: AwsError,
    nothing_changed: bool,
    failure: impl FnOnce(AwsError) -> Outcome,
) -> Result<Outcome, AwsError> {
    if nothing_changed && (err.is_transient() || err.is_not_found()) {
        Err(err)
    } else {
        Ok(failure(err))
    }
}

/// Why a bucket needs nothing, for the log line.
fn compliant_reason(state: &BucketState) -> String {
    match &state.policy {
        Some(policy) if policy.is_public => "no public grants in the bucket ACL; the public bucket policy is cut off by RestrictPublicBuckets".to_string(),
        _ => "no public grants in the bucket ACL and no public bucket policy".to_string(),
    }
}

impl Remediation for S3PublicAccess {
    type Target = S3Target;

    async fn targets(&self, trigger: &Trigger) -> Result<Targets<S3Target>, AwsError> {
        if trigger.is_sweep() {
            let mut targets = Vec::new();
            if self.always() && !trigger.account.is_empty() {
                targets.push(S3Target::Account(trigger.account.clone()));
            }
            targets.extend(self.buckets(trigger).await?);
            return Ok(Targets::Found(targets));
        }
        let targets = match targets_of(trigger) {
            Ok(targets) => targets,
            Err(unrelated) => return Ok(Targets::Unrelated(unrelated)),
        };
        // The account's settings are a resource of their own only under `always`; otherwise turning
        // them off may have exposed any bucket they shielded, so every bucket is checked.
        if !self.always() && targets.iter().any(|t| matches!(t, S3Target::Account(_))) {
            return Ok(Targets::Found(self.buckets(trigger).await?));
        }
        Ok(Targets::Found(targets))
    }

    async fn remediate(&self, target: &S3Target, trigger: &Trigger) -> Result<Outcome, AwsError> {
        let actions = self.actions(trigger).await?;
        let dry_run = self.settings.dry_run_for(trigger);
        match target {
            S3Target::Bucket(bucket) => {
                self.remediate_bucket(&actions, dry_run, bucket, &trigger.account)
                    .await
            }
            S3Target::Object { bucket, key } => {
                self.remediate_object(&actions, dry_run, bucket, key).await
            }
            S3Target::Upload { bucket, key } => {
                self.remediate_upload(&actions, dry_run, bucket, key, &trigger.account)
                    .await
            }
            S3Target::Account(account) => self.remediate_account(&actions, dry_run, account).await,
        }
    }

    fn closes_control(&self, control_id: &str) -> bool {
        closes_control(control_id, &self.settings)
    }

    async fn foreign(&self, trigger: &Trigger) -> Result<Option<Unrelated>, AwsError> {
        self.accounts.foreign(&trigger.account).await
    }

    fn resource_of(&self, target: &S3Target) -> (ResourceType, String) {
        match target {
            S3Target::Bucket(bucket) => (ResourceType::S3Bucket, bucket.clone()),
            S3Target::Object { bucket, key } | S3Target::Upload { bucket, key } => {
                (ResourceType::S3Object, format!("{bucket}/{key}"))
            }
            S3Target::Account(account) => (ResourceType::S3Account, account.clone()),
        }
    }

    /// The region's buckets that carry the exemption tag: one tag read per bucket.
    async fn exempt_resources(&self, trigger: &Trigger) -> Result<Vec<Exempt>, AwsError> {
        let actions = self.actions(trigger).await?;
        let mut exempt = Vec::new();
        for target in self.buckets(trigger).await? {
            let S3Target::Bucket(bucket) = target else {
                continue;
            };
            let tags = match actions.bucket_tags(&bucket).await {
                Ok(tags) => tags,
                // Deleted since it was listed.
                Err(err) if err.is_not_found() => continue,
                Err(err) => return Err(err),
            };
            if let Some((_, value)) = tags.iter().find(|(k, _)| *k == self.settings.exempt_tag) {
                exempt.push(Exempt {
                    resource_type: ResourceType::S3Bucket,
                    resource_id: bucket.clone(),
                    value: value.clone(),
                });
            }
        }
        Ok(exempt)
    }
}

#[cfg(test)]
mod tests;
