//! Instances without the required tags: the pure tag policy (also used by the Config rule), the plan
//! for one instance (stop, mark with a deadline, wait, skip), the actions that apply plans in batches,
//! and the remediation that ties them to triggers.
//!
//! Wrong: a `pending` or `running` instance missing a `REQUIRED_TAGS` key, with an empty value, or
//! with a value outside the key's allowed list. Fix: stop it, or with `GRACE_MINUTES` > 0 tag it
//! `remediation:stop-after=<deadline>` first and stop it on a later event or sweep after the deadline.
//! Never stopped: exempt instances and Auto Scaling group members (the group would replace them).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, Instance, Tag};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::{Settings, TagRule};
use crate::error::AwsError;
use crate::identity::OwnIdentity;
use crate::invocation::{Remediation, Targets};
use crate::outcome::{Outcome, OutcomeKind, ResourceType, Severity};
use crate::shape::{ec2_items, str_field};
use crate::trigger::{ApiCall, Trigger, TriggerEvent};

/// The IAM actions behind every EC2 call in this module (checked against the code and the template).
pub const IAM_ACTIONS: &[&str] = &[
    "ec2:DescribeInstances",
    "ec2:StopInstances",
    "ec2:CreateTags",
    "ec2:DeleteTags",
];

/// The grace-period mark: a UTC RFC 3339 time after which the instance is stopped.
pub const STOP_AFTER_TAG: &str = "remediation:stop-after";
/// Set by EC2 Auto Scaling on every instance it launches.
pub const AUTOSCALING_TAG: &str = "aws:autoscaling:groupName";
/// Instance ids per StopInstances / CreateTags / DeleteTags call.
const CHANGE_BATCH: usize = 100;
/// Instance ids per `instance-id` filter (EC2 accepts at most 200 filter values).
const DESCRIBE_BATCH: usize = 200;

// ---------------------------------------------------------------------------------------------
// Tag policy (pure; shared with the Config rule)
// ---------------------------------------------------------------------------------------------

/// One way an instance's tags break `REQUIRED_TAGS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagProblem {
    /// No tag with this key. `similar` is a key that differs only by case or spaces (`Env`).
    Missing {
        key: String,
        similar: Option<String>,
    },
    /// The key is there, with an empty (or blank) value.
    Empty { key: String },
    /// The value is not one of the allowed values. `similar` is an allowed value it differs from
    /// only by case or spaces (`Prod` for `prod`).
    NotAllowed {
        key: String,
        value: String,
        allowed: Vec<String>,
        similar: Option<String>,
    },
}

impl fmt::Display for TagProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagProblem::Missing { key, similar: None } => write!(f, "missing tag {key}"),
            TagProblem::Missing {
                key,
                similar: Some(found),
            } => write!(
                f,
                "missing tag {key} (it has {found:?}: tag keys are case-sensitive, rename it to {key})"
            ),
            TagProblem::Empty { key } => write!(f, "tag {key} is empty"),
            TagProblem::NotAllowed {
                key,
                value,
                allowed,
                similar,
            } => {
                write!(f, "tag {key}={value:?} is not one of {}", allowed.join("|"))?;
                if let Some(similar) = similar {
                    write!(f, " (values are case-sensitive: use {key}={similar})")?;
                }
                Ok(())
            }
        }
    }
}

/// Keys that are the same apart from case and surrounding spaces (`Env`, ` env`).
fn loosely_equal(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Everything wrong with `tags` under `rules`; empty means compliant.
pub fn tag_problems(tags: &[(String, String)], rules: &[TagRule]) -> Vec<TagProblem> {
    let mut problems = Vec::new();
    for rule in rules {
        let Some((_, value)) = tags.iter().find(|(key, _)| *key == rule.key) else {
            // A look-alike that another rule requires as it is would be bad advice to rename.
            let similar = tags
                .iter()
                .find(|(key, _)| {
                    loosely_equal(key, &rule.key) && !rules.iter().any(|r| r.key == *key)
                })
                .map(|(key, _)| key.clone());
            problems.push(TagProblem::Missing {
                key: rule.key.clone(),
                similar,
            });
            continue;
        };
        if value.trim().is_empty() {
            problems.push(TagProblem::Empty {
                key: rule.key.clone(),
            });
        } else if !rule.allowed_values.is_empty() && !rule.allowed_values.contains(value) {
            let similar = rule
                .allowed_values
                .iter()
                .find(|allowed| loosely_equal(allowed, value))
                .cloned();
            problems.push(TagProblem::NotAllowed {
                key: rule.key.clone(),
                value: value.clone(),
                allowed: rule.allowed_values.clone(),
                similar,
            });
        }
    }
    problems
}

/// `Name, env=prod|stg|dev`: what a correctly tagged instance carries.
pub fn required_tags_text(rules: &[TagRule]) -> String {
    rules
        .iter()
        .map(|rule| {
            if rule.allowed_values.is_empty() {
                rule.key.clone()
            } else {
                format!("{}={}", rule.key, rule.allowed_values.join("|"))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `missing tag env; tag Name is empty`.
pub fn problems_text(problems: &[TagProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------------
// The plan for one instance (pure)
// ---------------------------------------------------------------------------------------------

/// An instance as DescribeInstances reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceState {
    pub instance_id: String,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`.
    pub state: String,
    pub tags: Vec<(String, String)>,
}

impl InstanceState {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state.as_str(), "pending" | "running")
    }
}

/// What to do with one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceAction {
    /// Not pending or running: nothing to stop.
    NotRunning,
    Compliant,
    /// Compliant now, but still carries a grace-period mark: remove it.
    RemoveMark,
    /// Wrong, but carries the exemption tag.
    Exempt,
    /// Wrong, but a member of this Auto Scaling group.
    AutoScaling(String),
    /// Wrong: stop now (no grace period, or its deadline has passed).
    Stop {
        deadline_passed: Option<String>,
    },
    /// Wrong, first seen: tag it with this deadline.
    Mark(String),
    /// Wrong, marked earlier, deadline not reached yet.
    Wait(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstancePlan {
    pub problems: Vec<TagProblem>,
    pub action: InstanceAction,
}

/// A UTC time as `remediation:stop-after` holds it: RFC 3339, whole seconds.
pub fn format_deadline(time: OffsetDateTime) -> String {
    let time = time
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(time);
    time.format(&Rfc3339).unwrap_or_default()
}

/// Decides from the instance's current state, the settings and the current time.
pub fn plan_instance(
    instance: &InstanceState,
    settings: &Settings,
    now: OffsetDateTime,
) -> InstancePlan {
    let problems = tag_problems(&instance.tags, &settings.required_tags);
    let mark = instance.tag(STOP_AFTER_TAG);
    let action = if !instance.is_running() {
        InstanceAction::NotRunning
    } else if problems.is_empty() {
        match mark {
            Some(_) => InstanceAction::RemoveMark,
            None => InstanceAction::Compliant,
        }
    } else if instance.tag(&settings.exempt_tag).is_some() {
        InstanceAction::Exempt
    } else if let Some(group) = instance.tag(AUTOSCALING_TAG) {
        InstanceAction::AutoScaling(group.to_string())
    } else if settings.grace_minutes == 0 {
        InstanceAction::Stop {
            deadline_passed: None,
        }
    } else {
        // An unreadable mark (`never`, a typo) gets a fresh deadline: it must not keep the
        // instance running forever, nor cut the grace period short.
        match mark.and_then(|m| OffsetDateTime::parse(m.trim(), &Rfc3339).ok()) {
            Some(deadline) if deadline <= now => InstanceAction::Stop {
                deadline_passed: Some(format_deadline(deadline)),
            },
            Some(deadline) => InstanceAction::Wait(format_deadline(deadline)),
            None => InstanceAction::Mark(format_deadline(
                now + time::Duration::minutes(i64::from(settings.grace_minutes)),
            )),
        }
    };
    InstancePlan { problems, action }
}

// ---------------------------------------------------------------------------------------------
// Triggers
// ---------------------------------------------------------------------------------------------

/// An instance to check; a sweep has already read its state.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceTarget {
    pub instance_id: String,
    pub prefetched: Option<InstanceState>,
}

impl InstanceTarget {
    pub fn new(instance_id: impl Into<String>) -> Self {
        InstanceTarget {
            instance_id: instance_id.into(),
            prefetched: None,
        }
    }
}

/// The instance ids an event points at, or why the event is not for this function.
pub fn targets_of(trigger: &Trigger) -> Result<Vec<String>, String> {
    match &trigger.event {
        TriggerEvent::ApiCall(call) => api_call_instances(call),
        TriggerEvent::StateChange(change) => match change.state.as_str() {
            "pending" | "running" => Ok(vec![change.instance_id.clone()]),
            other => Err(format!(
                "instance {} entered {other}; only pending or running instances are checked",
                change.instance_id
            )),
        },
        TriggerEvent::Compliance(change) if change.resource_type == "AWS::EC2::Instance" => {
            Ok(vec![change.resource_id.clone()])
        }
        TriggerEvent::Compliance(change) => Err(format!(
            "Config rule {} is about {}, not an EC2 instance",
            change.rule_name, change.resource_type
        )),
        TriggerEvent::Schedule { .. } => {
            Err("scheduled sweeps list the instances themselves".to_string())
        }
        TriggerEvent::Finding(_) | TriggerEvent::ConfigRule(_) => Err(format!(
            "{} events are not about instance tags",
            trigger.source
        )),
    }
}

fn api_call_instances(call: &ApiCall) -> Result<Vec<String>, String> {
    if call.event_source != "ec2.amazonaws.com" {
        return Err(format!(
            "{} from {} is not an EC2 call",
            call.event_name, call.event_source
        ));
    }
    let ids: Vec<String> = match call.event_name.as_str() {
        "RunInstances" => ec2_items(call.response.get("instancesSet"))
            .iter()
            .filter_map(|item| str_field(item, "instanceId").map(String::from))
            .collect(),
        "CreateTags" | "DeleteTags" => ec2_items(call.request.get("resourcesSet"))
            .iter()
            .filter_map(|item| str_field(item, "resourceId"))
            .filter(|id| id.starts_with("i-"))
            .map(String::from)
            .collect(),
        other => return Err(format!("EC2 call {other} does not change instance tags")),
    };
    if ids.is_empty() {
        return Err(format!("{} names no instance", call.event_name));
    }
    let mut seen = HashSet::new();
    Ok(ids
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Actions (SDK calls)
// ---------------------------------------------------------------------------------------------

fn instance_state(instance: &Instance) -> Option<InstanceState> {
    Some(InstanceState {
        instance_id: instance.instance_id()?.to_string(),
        state: instance
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        tags: instance
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect(),
    })
}

/// The result of one change per instance id.
pub type PerInstance = HashMap<String, Result<(), AwsError>>;

#[derive(Clone, Debug)]
pub struct InstanceActions {
    client: aws_sdk_ec2::Client,
}

impl InstanceActions {
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        InstanceActions {
            client: aws_sdk_ec2::Client::new(sdk),
        }
    }

    pub fn from_client(client: aws_sdk_ec2::Client) -> Self {
        InstanceActions { client }
    }

    /// The instances with these ids that exist (a filter, so unknown ids are left out, not an error).
    pub async fn instances(&self, ids: &[String]) -> Result<Vec<InstanceState>, AwsError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(DESCRIBE_BATCH) {
            let filter = Filter::builder()
                .name("instance-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            found.extend(self.describe(filter).await?);
        }
        Ok(found)
    }

    /// Every pending or running instance of the region: one call per 1000 instances.
    pub async fn running_instances(&self) -> Result<Vec<InstanceState>, AwsError> {
        let filter = Filter::builder()
            .name("instance-state-name")
            .values("pending")
            .values("running")
            .build();
        self.describe(filter).await
    }

    async fn describe(&self, filter: Filter) -> Result<Vec<InstanceState>, AwsError> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .describe_instances()
            .filters(filter)
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeInstances", e))?;
            found.extend(
                page.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter_map(instance_state),
            );
        }
        Ok(found)
    }

    /// Stops instances, many per call. An instance already stopping or stopped is simply reported
    /// in its current state by EC2, so a repeat is harmless.
    pub async fn stop(&self, ids: &[String]) -> PerInstance {
        in_batches(ids, "StopInstances", |batch| {
            self.client
                .stop_instances()
                .set_instance_ids(Some(batch))
                .send()
        })
        .await
    }

    /// Tags instances with `key=value`, many per call.
    pub async fn tag(&self, ids: &[String], key: &str, value: &str) -> PerInstance {
        let tag = Tag::builder().key(key).value(value).build();
        in_batches(ids, "CreateTags", |batch| {
            self.client
                .create_tags()
                .set_resources(Some(batch))
                .tags(tag.clone())
                .send()
        })
        .await
    }

    /// Removes the tag `key` from instances, many per call.
    pub async fn untag(&self, ids: &[String], key: &str) -> PerInstance {
        let tag = Tag::builder().key(key).build();
        in_batches(ids, "DeleteTags", |batch| {
            self.client
                .delete_tags()
                .set_resources(Some(batch))
                .tags(tag.clone())
                .send()
        })
        .await
    }
}

/// Sends `operation` for batches of ids. EC2 fails a whole batch when one instance cannot take the
/// change (wrong state, unsupported, gone); such a batch is retried one id at a time so that one
/// instance cannot block the others. A transient failure is reported for the whole batch (Lambda
/// retries).
async fn in_batches<F, Fut, O, E>(ids: &[String], operation: &'static str, send: F) -> PerInstance
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let call = |batch: Vec<String>| {
        let sent = send(batch);
        async move {
            sent.await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(operation, e))
        }
    };
    let mut results = PerInstance::new();
    for batch in ids.chunks(CHANGE_BATCH) {
        match call(batch.to_vec()).await {
            Err(err) if batch.len() > 1 && !err.is_transient() => {
                tracing::info!(error = %err, batch = batch.len(), "batch refused; retrying one instance at a time");
                for id in batch {
                    results.insert(id.clone(), call(vec![id.clone()]).await);
                }
            }
            result => {
                for id in batch {
                    results.insert(id.clone(), result.clone());
                }
            }
        }
    }
    results
}

// ---------------------------------------------------------------------------------------------
// The remediation
// ---------------------------------------------------------------------------------------------

pub struct UntaggedInstances {
    pub actions: InstanceActions,
    pub settings: Settings,
    identity: OwnIdentity,
    /// The current time (tests pass a fixed clock).
    clock: fn() -> OffsetDateTime,
}

impl UntaggedInstances {
    pub fn new(actions: InstanceActions, settings: Settings, identity: OwnIdentity) -> Self {
        UntaggedInstances {
            actions,
            settings,
            identity,
            clock: OffsetDateTime::now_utc,
        }
    }

    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    /// The instances' current state: prefetched by a sweep, or read in as few calls as possible.
    async fn current_states(
        &self,
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
            for state in self.actions.instances(&to_read).await? {
                states.insert(state.instance_id.clone(), state);
            }
        }
        Ok(states)
    }

    /// Applies the plans that change something, batched by kind of change.
    async fn apply(&self, plans: &[(String, InstancePlan)]) -> PerInstance {
        let ids_where = |wanted: fn(&InstanceAction) -> bool| -> Vec<String> {
            plans
                .iter()
                .filter(|(_, plan)| wanted(&plan.action))
                .map(|(id, _)| id.clone())
                .collect()
        };
        let mut results = PerInstance::new();
        if self.settings.dry_run {
            return results;
        }
        let to_stop = ids_where(|a| matches!(a, InstanceAction::Stop { .. }));
        results.extend(self.actions.stop(&to_stop).await);
        let to_unmark = ids_where(|a| matches!(a, InstanceAction::RemoveMark));
        results.extend(self.actions.untag(&to_unmark, STOP_AFTER_TAG).await);
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
            results.extend(self.actions.tag(&ids, STOP_AFTER_TAG, deadline).await);
        }
        results
    }

    /// The outcome of one instance's plan, given what applying it returned.
    fn outcome(
        &self,
        instance_id: &str,
        plan: &InstancePlan,
        applied: Option<&Result<(), AwsError>>,
    ) -> Result<Outcome, AwsError> {
        let settings = &self.settings;
        let required = required_tags_text(&settings.required_tags);
        let problems = problems_text(&plan.problems);
        let outcome = |kind, reason: String| {
            Outcome::new(kind, ResourceType::Ec2Instance, instance_id, reason)
        };
        let changed = |kind_done, change: String, reason: String| -> Result<Outcome, AwsError> {
            if settings.dry_run {
                return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(vec![change]));
            }
            match applied {
                None | Some(Ok(())) => Ok(outcome(kind_done, reason).with_changes(vec![change])),
                Some(Err(err)) if err.is_transient() || err.is_not_found() => Err(err.clone()),
                Some(Err(err)) => Ok(outcome(
                    OutcomeKind::Failed,
                    format!("{reason}; {change} failed: {err}"),
                )
                .with_severity(Severity::High)),
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
                    _ if settings.dry_run => {}
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
            InstanceAction::Exempt => Ok(outcome(
                OutcomeKind::Skipped,
                format!(
                    "{problems}; the instance is exempt (tag {})",
                    settings.exempt_tag
                ),
            )),
            InstanceAction::AutoScaling(group) => Ok(outcome(
                OutcomeKind::Skipped,
                format!("{problems}; not stopped because Auto Scaling group {group} would replace it: fix the tags in the group's launch template (required: {required})"),
            )),
            InstanceAction::Stop { deadline_passed } => {
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
                changed(OutcomeKind::Remediated, "stopped".to_string(), reason)
            }
            InstanceAction::Mark(deadline) => changed(
                OutcomeKind::Marked,
                format!("tagged {STOP_AFTER_TAG}={deadline}"),
                format!("{problems}; it will be stopped after {deadline} unless it is tagged {required} by then"),
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
            let running = self.actions.running_instances().await?;
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
                return Ok(Targets::Ignored(format!(
                    "{} was made by this function's own role (its own mark)",
                    call.event_name
                )));
            }
        }
        Ok(match targets_of(trigger) {
            Ok(ids) => Targets::Found(ids.into_iter().map(InstanceTarget::new).collect()),
            Err(reason) => Targets::Ignored(reason),
        })
    }

    async fn check(&self, target: &InstanceTarget, trigger: &Trigger) -> Result<Outcome, AwsError> {
        let mut results = self.check_all(std::slice::from_ref(target), trigger).await;
        results.pop().unwrap_or_else(|| {
            Err(AwsError::new(
                "DescribeInstances",
                crate::error::ErrorKind::Permanent,
                None,
                "no result",
            ))
        })
    }

    /// Reads, plans and applies for all targets at once, so that a sweep over thousands of
    /// instances takes a handful of calls.
    async fn check_all(
        &self,
        targets: &[InstanceTarget],
        _trigger: &Trigger,
    ) -> Vec<Result<Outcome, AwsError>> {
        let states = match self.current_states(targets).await {
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
        let applied = self.apply(&plans).await;
        let plans: HashMap<String, InstancePlan> = plans.into_iter().collect();
        targets
            .iter()
            .map(|target| {
                let id = target.instance_id.as_str();
                match plans.get(id) {
                    Some(plan) => self.outcome(id, plan, applied.get(id)),
                    None => Err(AwsError::new(
                        "DescribeInstances",
                        crate::error::ErrorKind::NotFound,
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

    fn describe(&self, target: &InstanceTarget) -> (ResourceType, String) {
        (ResourceType::Ec2Instance, target.instance_id.clone())
    }
}

#[cfg(test)]
mod tests;
