//! `open-security-group`: security groups open to the internet.
//!
//! - [`targets`]: which groups an event points at (pure)
//! - [`policy`]: the rule: rules to revoke, allowed ports to re-open (pure)
//! - [`aws`]: the EC2 calls and their IAM actions
//! - [`undo`]: the rules each fix revoked and added, and the calls that restore them (pure)
//! - [`item`]: a group as an AWS Config item describes it (for the Config rule)
//!
//! This file ties them into the invocation loop: re-read, decide, fix, and say what happened.

pub mod aws;
pub mod item;
pub mod policy;
pub mod targets;
pub mod undo;

pub use aws::{SecurityGroupActions, IAM_ACTIONS};
pub use policy::*;
pub use targets::{changed_prefix_list, targets_of, GroupTarget};

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::config::Settings;
use crate::error::AwsError;
use crate::exemption;
use crate::identity::OwnIdentity;
use crate::invocation::{Remediation, Targets, Unrelated};
use crate::notify::exemption_report::Exempt;
use crate::organization::Accounts;
use crate::outcome::{Outcome, OutcomeKind, ResourceType, Severity};
use crate::trigger::{Trigger, TriggerEvent};

pub struct OpenSecurityGroup {
    /// The EC2 client of each account and region it acts in.
    pub accounts: Accounts<SecurityGroupActions>,
    pub settings: Settings,
    identity: Arc<OwnIdentity>,
}

impl OpenSecurityGroup {
    /// The same client for every account and region (tests).
    pub fn new(actions: SecurityGroupActions, settings: Settings, identity: OwnIdentity) -> Self {
        OpenSecurityGroup {
            accounts: Accounts::fixed(actions),
            settings,
            identity: Arc::new(identity),
        }
    }

    /// The function as it runs in Lambda: clients and identity from the SDK configuration, in each
    /// event's account (through the member role in organization mode) and region.
    pub fn from_sdk_config(sdk: &SdkConfig, settings: Settings) -> Self {
        let member_role = settings.organization.member_role_name.clone();
        let identity =
            Arc::new(OwnIdentity::from_sdk_config(sdk).with_member_role(member_role.clone()));
        OpenSecurityGroup {
            accounts: Accounts::new(
                sdk,
                SecurityGroupActions::from_sdk_config,
                identity.clone(),
                member_role,
                "open-security-group",
            ),
            settings,
            identity,
        }
    }

    async fn actions(&self, trigger: &Trigger) -> Result<Arc<SecurityGroupActions>, AwsError> {
        self.accounts.get(&trigger.account, &trigger.region).await
    }
}

/// What the fix at the rules quota did: its changes, and a severity raised when allowed ports closed.
struct InPlaceFix {
    changes: Vec<String>,
    closed: Vec<String>,
    severity: Option<Severity>,
    /// Set when a wrong rule is still open: the outcome is `failed`, listing what did change.
    failed: Option<String>,
    /// The ids of the rules revoked or rewritten, and the allowed ranges that took their place.
    revoked: Vec<String>,
    added: Vec<Reopen>,
}

impl std::fmt::Display for InPlaceFix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the group is at its rules quota ({RULES_QUOTA_EXCEEDED}), so the broad rules were narrowed in place")?;
        if !self.closed.is_empty() {
            write!(
                f,
                "; ALLOWED PORTS CLOSED, no rule slot left to keep them open: {}; free slots in the group and open them again",
                self.closed.join(", ")
            )?;
        }
        Ok(())
    }
}

impl OpenSecurityGroup {
    /// The fix for a group with no free rule slot ([`GroupPlan::in_place`]): rewrite each broad rule
    /// into its first allowed range, revoke the rest, then re-open the remaining allowed ranges in the
    /// freed slots. When EC2 refuses the rewrite, the broad rules are revoked and all their allowed
    /// ranges try the freed slots; whatever finds none is closed with the internet, and named.
    async fn narrow_in_place(
        &self,
        actions: &SecurityGroupActions,
        group_id: &str,
        plan: &GroupPlan,
    ) -> Result<InPlaceFix, AwsError> {
        let in_place = plan.in_place();
        let mut changes = Vec::new();
        let mut closed = Vec::new();
        let mut revoke = in_place.revoke.clone();
        let mut reopen_after = in_place.reopen_after.clone();
        let mut revoked = Vec::new();
        let mut added = Vec::new();
        let rule = |id: &str| plan.revoke.iter().find(|r| r.rule_id == id);
        match actions.rewrite(group_id, &in_place.rewrite).await {
            Ok(()) => {
                changes.extend(in_place.rewrite.iter().map(|(id, reopen)| {
                    let was = rule(id).map(ToString::to_string).unwrap_or_default();
                    format!("narrowed {was} ({id}) in place to {reopen}")
                }));
                revoked.extend(in_place.rewrite.iter().map(|(id, _)| id.clone()));
                added.extend(in_place.rewrite.iter().map(|(_, reopen)| reopen.clone()));
            }
            Err(err) if err.is_transient() || err.is_not_found() => return Err(err),
            // Revoke them too; their allowed ranges then try the slots the revocations free.
            Err(err) => {
                tracing::warn!(error = %err, group_id, "could not rewrite rules in place; revoking them");
                revoke.extend(in_place.rewrite.iter().map(|(id, _)| id.clone()));
                let first: Vec<Reopen> = in_place.rewrite.iter().map(|(_, r)| r.clone()).collect();
                reopen_after.splice(0..0, first);
            }
        }
        if !revoke.is_empty() {
            match actions.revoke(group_id, &revoke).await {
                Ok(()) => {
                    changes.extend(
                        revoke
                            .iter()
                            .filter_map(|id| rule(id))
                            .map(|r| format!("revoked {r}")),
                    );
                    revoked.extend(revoke);
                }
                Err(err) if err.is_transient() && changes.is_empty() => return Err(err),
                Err(err) => {
                    return Ok(InPlaceFix {
                        changes,
                        closed: Vec::new(),
                        severity: Some(Severity::High),
                        failed: Some(format!("revoking failed: {err}")),
                        revoked,
                        added,
                    })
                }
            }
        }
        if !reopen_after.is_empty() {
            match actions.authorize(group_id, &reopen_after).await {
                Ok(()) => {
                    changes.extend(
                        reopen_after
                            .iter()
                            .map(|r| format!("re-opened {r} (allowed port, kept open)")),
                    );
                    added.extend(reopen_after);
                }
                Err(err) => {
                    tracing::warn!(error = %err, group_id, "could not re-open allowed ports");
                    closed.extend(reopen_after.iter().map(ToString::to_string));
                }
            }
        }
        changes.extend(
            closed
                .iter()
                .map(|c| format!("closed allowed {c} as well (no free rule slot)")),
        );
        let severity = (!closed.is_empty()).then_some(Severity::High);
        Ok(InPlaceFix {
            changes,
            closed,
            severity,
            failed: None,
            revoked,
            added,
        })
    }
}

impl Remediation for OpenSecurityGroup {
    type Target = GroupTarget;

    async fn targets(&self, trigger: &Trigger) -> Result<Targets<GroupTarget>, AwsError> {
        let changed_list = changed_prefix_list(trigger);
        if trigger.is_sweep() || changed_list.is_some() {
            // A changed prefix list: every group that uses it, found in the same two listings.
            let groups = self.actions(trigger).await?.all_groups().await?;
            let found: Vec<GroupTarget> = groups
                .into_iter()
                .filter(|(_, state)| {
                    changed_list
                        .as_ref()
                        .is_none_or(|id| state.uses_prefix_list(id))
                })
                .map(|(id, state)| GroupTarget {
                    prefetched: Some(state),
                    ..GroupTarget::new(id)
                })
                .collect();
            if let (Some(list), true) = (&changed_list, found.is_empty()) {
                return Ok(Targets::Unrelated(Unrelated::new(format!(
                    "no security group uses prefix list {list}"
                ))));
            }
            return Ok(Targets::Found(found));
        }
        if let TriggerEvent::ApiCall(call) = &trigger.event {
            if self.identity.made(call).await {
                return Ok(Targets::Unrelated(Unrelated::new(format!(
                    "{} was made by this function's own role (its own fix)",
                    call.event_name
                ))));
            }
        }
        Ok(targets_of(trigger).into())
    }

    async fn remediate(
        &self,
        target: &GroupTarget,
        trigger: &Trigger,
    ) -> Result<Outcome, AwsError> {
        let actions = self.actions(trigger).await?;
        let group_id = target.group_id.as_str();
        let state = match &target.prefetched {
            Some(state) => state.clone(),
            None => actions.group_state(group_id).await?,
        };
        let allowed = &self.settings.allowed_public_ports;
        let plan = plan_group(&state.ingress, allowed, &target.focus_ports);
        let outcome = |kind, reason: String| {
            Outcome::new(kind, ResourceType::SecurityGroup, group_id, reason)
                .with_severity(plan.severity())
        };
        if plan.is_compliant() {
            return Ok(outcome(
                OutcomeKind::Compliant,
                "no ingress open to the internet on disallowed ports".to_string(),
            ));
        }
        let what = format!("group {group_id}");
        let reason = match exemption::judge(
            plan.reason(allowed),
            &what,
            &state.tags,
            &self.settings.exempt_tag,
            exemption::today(),
        ) {
            Ok(reason) => reason,
            Err(skipped) => return Ok(outcome(OutcomeKind::Skipped, skipped)),
        };
        if self.settings.dry_run_for(trigger) {
            return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(plan.changes()));
        }

        // Re-open allowed ports first, so web traffic never stops; then revoke.
        if !plan.reopen.is_empty() {
            match actions.authorize(group_id, &plan.reopen).await {
                Ok(()) => {}
                Err(err) if err.is_transient() || err.is_not_found() => return Err(err),
                // No free slot for the allowed ports: narrow the broad rules where they stand.
                Err(err) if err.has_code(RULES_QUOTA_EXCEEDED) => {
                    let fixed = self.narrow_in_place(&actions, group_id, &plan).await?;
                    let revoked: Vec<IngressRule> = plan
                        .revoke
                        .iter()
                        .filter(|r| fixed.revoked.contains(&r.rule_id))
                        .cloned()
                        .collect();
                    let restore =
                        undo::group(group_id, &revoked, &fixed.added, &state.ingress, true);
                    let (kind, reason) = match &fixed.failed {
                        Some(failure) => {
                            (OutcomeKind::Failed, format!("{reason}; {fixed}; {failure}"))
                        }
                        None => (OutcomeKind::Remediated, format!("{reason}; {fixed}")),
                    };
                    return Ok(outcome(kind, reason)
                        .with_changes(fixed.changes)
                        .with_severity(fixed.severity.unwrap_or(plan.severity()))
                        .with_restore(restore));
                }
                // Without the re-opened ports, revoking would close allowed traffic: stop here.
                Err(err) => {
                    return Ok(outcome(
                        OutcomeKind::Failed,
                        format!("{reason}; nothing was revoked because {err}"),
                    ))
                }
            }
        }
        let done: Vec<String> = plan
            .reopen
            .iter()
            .map(|reopen| format!("re-opened {reopen} (allowed port, kept open)"))
            .collect();
        let rule_ids: Vec<String> = plan.revoke.iter().map(|r| r.rule_id.clone()).collect();
        match actions.revoke(group_id, &rule_ids).await {
            Ok(()) => {}
            Err(err) if err.is_transient() || err.is_not_found() => return Err(err),
            Err(err) => {
                return Ok(outcome(
                    OutcomeKind::Failed,
                    format!("{reason}; revoking failed: {err}"),
                )
                .with_changes(done)
                .with_restore(undo::group(
                    group_id,
                    &[],
                    &plan.reopen,
                    &state.ingress,
                    false,
                )));
            }
        }
        Ok(outcome(OutcomeKind::Remediated, reason)
            .with_changes(plan.changes())
            .with_restore(undo::group(
                group_id,
                &plan.revoke,
                &plan.reopen,
                &state.ingress,
                false,
            )))
    }

    fn closes_control(&self, control_id: &str) -> bool {
        policy::closes_control(control_id, &self.settings.allowed_public_ports)
    }

    async fn foreign(&self, trigger: &Trigger) -> Result<Option<Unrelated>, AwsError> {
        self.accounts.foreign(&trigger.account).await
    }

    fn resource_of(&self, target: &GroupTarget) -> (ResourceType, String) {
        (ResourceType::SecurityGroup, target.group_id.clone())
    }

    /// The region's groups that carry the exemption tag, from the sweep's two listings.
    async fn exempt_resources(&self, trigger: &Trigger) -> Result<Vec<Exempt>, AwsError> {
        let groups = self.actions(trigger).await?.all_groups().await?;
        Ok(groups
            .into_iter()
            .filter_map(|(id, state)| {
                let (_, value) = state
                    .tags
                    .iter()
                    .find(|(k, _)| *k == self.settings.exempt_tag)?;
                Some(Exempt {
                    resource_type: ResourceType::SecurityGroup,
                    resource_id: id.clone(),
                    value: value.clone(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
