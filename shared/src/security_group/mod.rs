//! `open-security-group`: security groups open to the internet.
//!
//! - [`targets`]: which groups an event points at (pure)
//! - [`policy`]: the rule: rules to revoke, allowed ports to re-open, exemption (pure)
//! - [`aws`]: the EC2 calls and their IAM actions
//! - [`item`]: a group as an AWS Config item describes it (for the Config rule)
//!
//! This file ties them into the invocation loop: re-read, decide, fix, and say what happened.

pub mod aws;
pub mod item;
pub mod policy;
pub mod targets;

pub use aws::{SecurityGroupActions, IAM_ACTIONS};
pub use policy::*;
pub use targets::{targets_of, GroupTarget};

use aws_config::SdkConfig;

use crate::config::Settings;
use crate::error::AwsError;
use crate::identity::OwnIdentity;
use crate::invocation::{Remediation, Targets, Unrelated};
use crate::outcome::{Outcome, OutcomeKind, ResourceType};
use crate::trigger::{Trigger, TriggerEvent};

pub struct OpenSecurityGroup {
    pub actions: SecurityGroupActions,
    pub settings: Settings,
    identity: OwnIdentity,
}

impl OpenSecurityGroup {
    pub fn new(actions: SecurityGroupActions, settings: Settings, identity: OwnIdentity) -> Self {
        OpenSecurityGroup {
            actions,
            settings,
            identity,
        }
    }

    /// The function as it runs in Lambda: clients and identity from the SDK configuration.
    pub fn from_sdk_config(sdk: &SdkConfig, settings: Settings) -> Self {
        OpenSecurityGroup::new(
            SecurityGroupActions::from_sdk_config(sdk),
            settings,
            OwnIdentity::from_sdk_config(sdk),
        )
    }
}

impl Remediation for OpenSecurityGroup {
    type Target = GroupTarget;

    async fn targets(&self, trigger: &Trigger) -> Result<Targets<GroupTarget>, AwsError> {
        if trigger.is_sweep() {
            let groups = self.actions.all_groups().await?;
            return Ok(Targets::Found(
                groups
                    .into_iter()
                    .map(|(id, state)| GroupTarget {
                        prefetched: Some(state),
                        ..GroupTarget::new(id)
                    })
                    .collect(),
            ));
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
        _trigger: &Trigger,
    ) -> Result<Outcome, AwsError> {
        let group_id = target.group_id.as_str();
        let state = match &target.prefetched {
            Some(state) => state.clone(),
            None => self.actions.group_state(group_id).await?,
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
        let reason = plan.reason(allowed);
        if let Some(skip) = exemption(group_id, &state.tag_keys, &self.settings) {
            return Ok(outcome(OutcomeKind::Skipped, format!("{reason}; {skip}")));
        }
        if self.settings.dry_run {
            return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(plan.changes()));
        }

        // Re-open allowed ports first, so web traffic never stops; then revoke.
        if !plan.reopen.is_empty() {
            match self.actions.authorize(group_id, &plan.reopen).await {
                Ok(()) => {}
                Err(err) if err.is_transient() || err.is_not_found() => return Err(err),
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
        match self.actions.revoke(group_id, &rule_ids).await {
            Ok(()) => {}
            Err(err) if err.is_transient() || err.is_not_found() => return Err(err),
            Err(err) => {
                return Ok(outcome(
                    OutcomeKind::Failed,
                    format!("{reason}; revoking failed: {err}"),
                )
                .with_changes(done));
            }
        }
        Ok(outcome(OutcomeKind::Remediated, reason).with_changes(plan.changes()))
    }

    fn resource_of(&self, target: &GroupTarget) -> (ResourceType, String) {
        (ResourceType::SecurityGroup, target.group_id.clone())
    }
}

#[cfg(test)]
mod tests;
