//! `untagged-instance`: running instances without the required tags.
//!
//! - [`targets`]: which instances an event points at (pure)
//! - [`policy`]: the rule: tag problems, and stop / mark / wait / skip (pure)
//! - [`aws`]: the EC2 calls, in batches, and their IAM actions
//! - [`undo`]: the state a stop or a mark replaced, and the calls that restore it (pure)
//! - [`item`]: an instance as an AWS Config item describes it (for the Config rule)
//!
//! This file ties them into the invocation loop: instances are read, planned and changed many at a
//! time, then each gets its own outcome.

pub mod aws;
pub mod item;
pub mod policy;
pub mod targets;
pub mod undo;

pub use aws::{InstanceActions, PerInstance, IAM_ACTIONS};
pub use policy::*;
pub use targets::{targets_of, InstanceTarget};

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use time::OffsetDateTime;

use crate::config::Settings;
use crate::error::{AwsError, ErrorKind};
use crate::identity::OwnIdentity;
use crate::invocation::{Remediation, Targets, Unrelated};
use crate::notify::exemption_report::Exempt;
use crate::organization::Accounts;
use crate::outcome::{Outcome, OutcomeKind, ResourceType, Severity};
use crate::trigger::{Trigger, TriggerEvent};
use crate::undo::Restore;

pub struct UntaggedInstances {
    /// The EC2 client of each account and region it acts in.
    pub accounts: Accounts<InstanceActions>,
    pub settings: Settings,
    identity: Arc<OwnIdentity>,
    /// The current time (tests pass a fixed clock).
    clock: fn() -> OffsetDateTime,
}

impl UntaggedInstances {
    /// The same client for every account and region (tests).
    pub fn new(actions: InstanceActions, settings: Settings, identity: OwnIdentity) -> Self {
        UntaggedInstances {
            accounts: Accounts::fixed(actions),
            settings,
            identity: Arc::new(identity),
            clock: OffsetDateTime::now_utc,
        }
    }

    /// The function as it runs in Lambda: clients and identity from the SDK configuration, in each
    /// event's account (through the member role in organization mode) and region.
    pub fn from_sdk_config(sdk: &SdkConfig, settings: Settings) -> Self {
        let member_role = settings.organization.member_role_name.clone();
        let identity =
            Arc::new(OwnIdentity::from_sdk_config(sdk).with_member_role(member_role.clone()));
        UntaggedInstances {
            accounts: Accounts::new(
                sdk,
                InstanceActions::from_sdk_config,
                identity.clone(),
                member_role,
                "untagged-instance",
            ),
            settings,
            identity,
            clock: OffsetDateTime::now_utc,
        }
    }

    async fn actions(&self, trigger: &Trigger) -> Result<Arc<InstanceActions>, AwsError> {
        self.accounts.get(&trigger.account, &trigger.region).await
    }

    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    /// The instances' current state: prefetched by a sweep, or read in as few calls as possible.
    async fn current_states(
        &self,
        actions: &InstanceActions,
        targets: &[InstanceTarget],
    ) -> Result<HashMap<String, InstanceState>, AwsError> {
        let mut states: HashMap<String, InstanceState> = targets
            .iter()
            .filter_map(|t| t.prefetched.clone())
            .map(|s| (s.instance_id.clone(), s))
            .collect();
        let to_read: Vec<String> = targets
            .iter()
            .filter(|t| t.prefetched.is_none())
            .map(|t| t.instance_id.clone())
            .collect();
        if !to_read.is_empty() {
            for state in actions.instances(&to_read).await? {
                states.insert(state.instance_id.clone(), state);
            }
        }
        Ok(states)
    }

    /// Applies the plans that change something, batched by kind of change.
    async fn apply(
        &self,
        actions: &InstanceActions,
        plans: &[(String, InstancePlan)],
        dry_run: bool,
    ) -> PerInstance {
        let ids_where = |wanted: fn(&InstanceAction) -> bool| -> Vec<String> {
            plans
                .iter()
                .filter(|(_, plan)| wanted(&plan.action))
                .map(|(id, _)| id.clone())
                .collect()
        };
        let mut results = PerInstance::new();
        if dry_run {
            return results;
        }
        let to_stop = ids_where(|a| {
            matches!(
                a,
                InstanceAction::Stop {
                    hibernate: false,
                    ..
                }
            )
        });
        results.extend(actions.stop(&to_stop, false).await);
        let to_hibernate = ids_where(|a| {
            matches!(
                a,
                InstanceAction::Stop {
                    hibernate: true,
                    ..
                }
            )
        });
        results.extend(actions.stop(&to_hibernate, true).await);
        let to_unmark = ids_where(|a| matches!(a, InstanceAction::RemoveMark));
        results.extend(actions.untag(&to_unmark, STOP_AFTER_TAG).await);
        // Deadlines differ by the second at most within one invocation, but tag by value anyway.
        let mut by_deadline: HashMap<&str, Vec<String>> = HashMap::new();
        for (id, plan) in plans {
            if let InstanceAction::Mark(deadline) = &plan.action {
                by_deadline
                    .entry(deadline.as_str())
                    .or_default()
                    .push(id.clone());
            }
        }
        for (deadline, ids) in by_deadline {
            results.extend(actions.tag(&ids, STOP_AFTER_TAG, deadline).await);
        }
        results
    }

    /// The outcome of one instance's plan, given what applying it returned.
    fn outcome(
        &self,
        instance_id: &str,
        before: Option<&InstanceState>,
        plan: &InstancePlan,
        applied: Option<&Result<(), AwsError>>,
        dry_run: bool,
    ) -> Result<Outcome, AwsError> {
        let settings = &self.settings;
        let required = required_tags_text(&settings.required_tags);
        let mut problems = problems_text(&plan.problems);
        if let Some(ended) = &plan.exemption_ended {
            problems = format!("{problems}; {ended}");
        }
        let outcome = |kind, reason: String| {
            Outcome::new(kind, ResourceType::Ec2Instance, instance_id, reason)
        };
        let changed = |kind_done,
                       change: String,
                       reason: String,
                       restore: Restore|
         -> Result<Outcome, AwsError> {
            if dry_run {
                return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(vec![change]));
            }
            match applied {
                None | Some(Ok(())) => Ok(outcome(kind_done, reason)
                    .with_changes(vec![change])
                    .with_restore(restore)),
                Some(Err(err)) if err.is_transient() || err.is_not_found() => Err(err.clone()),
                Some(Err(err)) => {
                    let advice =
                        stop_refusal_advice(instance_id, err.code.as_deref(), &err.message)
                            .map(|advice| format!("; what to do: {advice}"))
                            .unwrap_or_default();
                    Ok(outcome(
                        OutcomeKind::Failed,
                        format!("{reason}; {change} failed: {err}{advice}"),
                    )
                    .with_severity(Severity::High))
                }
            }
        };
        match &plan.action {
            InstanceAction::NotRunning => Ok(outcome(
                OutcomeKind::Compliant,
                "not pending or running: nothing to stop".to_string(),
            )),
            InstanceAction::Compliant => Ok(outcome(
                OutcomeKind::Compliant,
                format!("carries the required tags ({required})"),
            )),
            InstanceAction::RemoveMark => {
                let mut result = outcome(
                    OutcomeKind::Compliant,
                    format!("now carries the required tags ({required}); the stop deadline is cancelled"),
                );
                match applied {
                    _ if dry_run => {}
                    None | Some(Ok(())) => {
                        result.changes = vec![format!("removed tag {STOP_AFTER_TAG}")]
                    }
                    Some(Err(err)) if err.is_transient() => return Err(err.clone()),
                    Some(Err(err)) => {
                        tracing::warn!(error = %err, instance_id, "could not remove the grace-period mark")
                    }
                }
                Ok(result)
            }
            InstanceAction::Exempt(tag) => Ok(outcome(
                OutcomeKind::Skipped,
                format!("{problems}; the instance is exempt ({tag})"),
            )),
            InstanceAction::Managed(manager) => Ok(outcome(
                OutcomeKind::Skipped,
                format!("{problems}; not stopped because {manager} would replace it: fix the tags in {} (required: {required})", manager.fix_in),
            )),
            InstanceAction::Stop {
                deadline_passed,
                hibernate,
            } => {
                let mut reason = format!("{problems} (required: {required})");
                if let Some(deadline) = deadline_passed {
                    reason.push_str(&format!("; the grace period ended at {deadline}"));
                }
                if plan_was_pending(applied) {
                    return Ok(outcome(
                        OutcomeKind::Waiting,
                        format!("{reason}; still pending, so it is stopped once running (state-change event or sweep)"),
                    ));
                }
                let change = if *hibernate {
                    "hibernated (launched with hibernation enabled: its memory is kept on the root volume)"
                } else {
                    "stopped"
                };
                let restore = before.map(undo::stop).unwrap_or_default();
                changed(OutcomeKind::Remediated, change.to_string(), reason, restore)
            }
            InstanceAction::Mark(deadline) => changed(
                OutcomeKind::Marked,
                format!("tagged {STOP_AFTER_TAG}={deadline}"),
                format!("{problems}; it will be stopped after {deadline} unless it is tagged {required} by then"),
                undo::mark(
                    instance_id,
                    before.and_then(|s| s.tag(STOP_AFTER_TAG)),
                    deadline,
                ),
            ),
            InstanceAction::Wait(deadline) => Ok(outcome(
                OutcomeKind::Waiting,
                format!("{problems}; marked earlier, to be stopped after {deadline}"),
            )),
        }
    }
}

/// EC2 refuses to stop an instance that is still `pending` (`IncorrectInstanceState`); the
/// `running` state-change event (or the next sweep) stops it, so this is not a failure.
fn plan_was_pending(applied: Option<&Result<(), AwsError>>) -> bool {
    matches!(applied, Some(Err(err)) if err.has_code("IncorrectInstanceState"))
}

impl Remediation for UntaggedInstances {
    type Target = InstanceTarget;

    async fn targets(&self, trigger: &Trigger) -> Result<Targets<InstanceTarget>, AwsError> {
        if trigger.is_sweep() {
            let running = self.actions(trigger).await?.running_instances().await?;
            return Ok(Targets::Found(
                running
                    .into_iter()
                    .map(|state| InstanceTarget {
                        instance_id: state.instance_id.clone(),
                        prefetched: Some(state),
                    })
                    .collect(),
            ));
        }
        if let TriggerEvent::ApiCall(call) = &trigger.event {
            if self.identity.made(call).await {
                return Ok(Targets::Unrelated(Unrelated::new(format!(
                    "{} was made by this function's own role (its own mark)",
                    call.event_name
                ))));
            }
        }
        Ok(targets_of(trigger)
            .map(|ids| ids.into_iter().map(InstanceTarget::new).collect())
            .into())
    }

    async fn remediate(
        &self,
        target: &InstanceTarget,
        trigger: &Trigger,
    ) -> Result<Outcome, AwsError> {
        let mut results = self
            .remediate_chunk(std::slice::from_ref(target), trigger)
            .await;
        results.pop().unwrap_or_else(|| {
            Err(AwsError::new(
                "DescribeInstances",
                ErrorKind::Permanent,
                None,
                "no result",
            ))
        })
    }

    /// Reads, plans and applies for all targets at once, so that a sweep over thousands of
    /// instances takes a handful of calls.
    async fn remediate_chunk(
        &self,
        targets: &[InstanceTarget],
        trigger: &Trigger,
    ) -> Vec<Result<Outcome, AwsError>> {
        let actions = match self.actions(trigger).await {
            Ok(actions) => actions,
            Err(err) => return targets.iter().map(|_| Err(err.clone())).collect(),
        };
        let states = match self.current_states(&actions, targets).await {
            Ok(states) => states,
            Err(err) => return targets.iter().map(|_| Err(err.clone())).collect(),
        };
        let now = (self.clock)();
        let plans: Vec<(String, InstancePlan)> = states
            .values()
            .map(|state| {
                (
                    state.instance_id.clone(),
                    plan_instance(state, &self.settings, now),
                )
            })
            .collect();
        let dry_run = self.settings.dry_run_for(trigger);
        let applied = self.apply(&actions, &plans, dry_run).await;
        let plans: HashMap<String, InstancePlan> = plans.into_iter().collect();
        targets
            .iter()
            .map(|target| {
                let id = target.instance_id.as_str();
                match plans.get(id) {
                    Some(plan) => self.outcome(id, states.get(id), plan, applied.get(id), dry_run),
                    None => Err(AwsError::new(
                        "DescribeInstances",
                        ErrorKind::NotFound,
                        Some("InvalidInstanceID.NotFound"),
                        format!("instance {id} does not exist"),
                    )),
                }
            })
            .collect()
    }

    /// A thousand instances per chunk: at most ten StopInstances calls between looks at the deadline.
    fn chunk_size(&self) -> usize {
        1000
    }

    async fn foreign(&self, trigger: &Trigger) -> Result<Option<Unrelated>, AwsError> {
        self.accounts.foreign(&trigger.account).await
    }

    fn resource_of(&self, target: &InstanceTarget) -> (ResourceType, String) {
        (ResourceType::Ec2Instance, target.instance_id.clone())
    }

    /// The region's pending and running instances that carry the exemption tag (a stopped one is
    /// nothing the exemption protects from), from the sweep's listing.
    async fn exempt_resources(&self, trigger: &Trigger) -> Result<Vec<Exempt>, AwsError> {
        let running = self.actions(trigger).await?.running_instances().await?;
        Ok(running
            .into_iter()
            .filter_map(|state| {
                let value = state.tag(&self.settings.exempt_tag)?.to_string();
                Some(Exempt {
                    resource_type: ResourceType::Ec2Instance,
                    resource_id: state.instance_id,
                    value,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
