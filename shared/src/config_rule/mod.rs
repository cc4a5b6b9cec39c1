//! `config-rule`: the custom AWS Config rule, judging buckets, security groups and instances with the
//! very policies the remediations enforce, so Config shows exactly what the functions would fix.
//!
//! - [`parameters`]: the rule's `ruleParameters` over the function's settings (pure)
//! - [`policy`]: verdicts from the remediations' policies, and a configuration item judged (pure)
//! - [`aws`]: `PutEvaluations`, 100 at a time, and the rule's IAM actions
//!
//! This file handles the three message types: a configuration item (evaluated from the item itself,
//! except a security group referencing a prefix list, whose entries the item does not hold), an
//! oversized item (its current state read with the remediations' own action layers), and a
//! scheduled run (every resource of the rule's types).

pub mod aws;
pub mod parameters;
pub mod policy;

pub use aws::{ConfigActions, IAM_ACTIONS};
pub use parameters::{rule_scope, ParameterError, RuleScope};
pub use policy::*;

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::config::Settings;
use crate::error::AwsError;
use crate::instance::InstanceActions;
use crate::invocation::Reach;
use crate::invocation::{Deadline, Status};
use crate::lambda::{Error, Function};
use crate::notify::Notifier;
use crate::s3::{BucketState, S3Actions};
use crate::security_group::item::references_prefix_list;
use crate::security_group::SecurityGroupActions;
use crate::shape::str_field;
use crate::trigger::{parse_payload, ConfigRuleInvocation, Trigger, TriggerEvent};

/// The function's response.
#[derive(Debug, Serialize)]
pub struct RuleReport {
    pub function: &'static str,
    /// `ignored` when the payload held no Config rule invocation, `done` otherwise.
    pub status: Status,
    pub results: Vec<RuleResult>,
}

/// What became of one event of the payload.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum RuleResult {
    Ignored { status: Status, reason: String },
    Reported(Reported),
}

/// One rule invocation, evaluated and reported to Config.
#[derive(Debug, Serialize)]
pub struct Reported {
    pub status: Status,
    pub rule: String,
    pub message_type: String,
    pub summary: BTreeMap<Compliance, usize>,
    /// Resources a scheduled run could not read for a permanent reason (left out, not guessed).
    pub unreadable: Vec<String>,
    pub evaluations: Vec<Evaluation>,
}

impl RuleResult {
    fn ignored(reason: String) -> Self {
        tracing::info!(%reason, "event ignored");
        RuleResult::Ignored {
            status: Status::Ignored,
            reason,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigRuleError {
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Rejected(String),
}

pub struct ConfigRule {
    s3: S3Actions,
    groups: SecurityGroupActions,
    instances: InstanceActions,
    config: ConfigActions,
    defaults: Settings,
    clock: fn() -> OffsetDateTime,
}

impl ConfigRule {
    pub fn from_sdk_config(sdk: &SdkConfig, defaults: Settings) -> Self {
        ConfigRule {
            s3: S3Actions::from_sdk_config(sdk),
            groups: SecurityGroupActions::from_sdk_config(sdk),
            instances: InstanceActions::from_sdk_config(sdk),
            config: ConfigActions::from_sdk_config(sdk),
            defaults,
            clock: OffsetDateTime::now_utc,
        }
    }

    pub fn from_clients(
        s3: S3Actions,
        groups: SecurityGroupActions,
        instances: InstanceActions,
        config: ConfigActions,
        defaults: Settings,
    ) -> Self {
        ConfigRule {
            s3,
            groups,
            instances,
            config,
            defaults,
            clock: OffsetDateTime::now_utc,
        }
    }

    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    /// Handles one Lambda payload: evaluates and reports every Config rule invocation in it.
    /// Anything else is answered as ignored; bad parameters and AWS failures are errors.
    pub async fn handle(&self, payload: &Value) -> Result<RuleReport, ConfigRuleError> {
        let mut results = Vec::new();
        for parsed in parse_payload(payload) {
            let trigger = match parsed {
                Ok(trigger) => trigger,
                Err(ignored) => {
                    results.push(RuleResult::ignored(ignored.reason));
                    continue;
                }
            };
            let TriggerEvent::ConfigRule(invocation) = &trigger.event else {
                results.push(RuleResult::ignored(format!(
                    "{} events are for the remediation functions, not the Config rule",
                    trigger.source
                )));
                continue;
            };
            results.push(self.evaluate_and_report(&trigger, invocation).await?);
        }
        let status = if results
            .iter()
            .all(|r| matches!(r, RuleResult::Ignored { .. }))
        {
            Status::Ignored
        } else {
            Status::Done
        };
        Ok(RuleReport {
            function: "config-rule",
            status,
            results,
        })
    }

    async fn evaluate_and_report(
        &self,
        trigger: &Trigger,
        invocation: &ConfigRuleInvocation,
    ) -> Result<RuleResult, ConfigRuleError> {
        let scope = rule_scope(&self.defaults, &invocation.rule_parameters)?;
        let event = &invocation.invoking_event;
        let message_type = str_field(event, "messageType").unwrap_or("");
        let now = (self.clock)();
        let notified = str_field(event, "notificationCreationTime")
            .map(String::from)
            .unwrap_or_else(|| rfc3339(now));
        let (evaluations, unreadable) = match message_type {
            "ConfigurationItemChangeNotification" => {
                let item = event.get("configurationItem").unwrap_or(&Value::Null);
                let mut evaluation = evaluate_item(item, &scope, now).ok_or_else(|| {
                    ConfigRuleError::Rejected("the configuration item names no resource".into())
                })?;
                if invocation.event_left_scope {
                    evaluation.compliance = Compliance::NotApplicable;
                    evaluation.annotation = "the resource left the rule's scope".to_string();
                } else if evaluation.compliance != Compliance::NotApplicable
                    && evaluation.resource_type == SECURITY_GROUP
                    && references_prefix_list(item)
                {
                    let verdict = self
                        .current_verdict(
                            SECURITY_GROUP,
                            &evaluation.resource_id,
                            &scope.settings,
                            now,
                        )
                        .await?;
                    evaluation = Evaluation::new(
                        SECURITY_GROUP,
                        &evaluation.resource_id,
                        verdict,
                        &evaluation.ordering_timestamp,
                    );
                }
                (vec![evaluation], Vec::new())
            }
            "OversizedConfigurationItemChangeNotification" => {
                let summary = event
                    .get("configurationItemSummary")
                    .unwrap_or(&Value::Null);
                let (Some(resource_type), Some(resource_id)) = (
                    str_field(summary, "resourceType"),
                    str_field(summary, "resourceId"),
                ) else {
                    return Err(ConfigRuleError::Rejected(
                        "the oversized item summary names no resource".into(),
                    ));
                };
                let captured =
                    str_field(summary, "configurationItemCaptureTime").unwrap_or(&notified);
                let status = str_field(summary, "configurationItemStatus").unwrap_or("OK");
                let verdict = if invocation.event_left_scope {
                    (
                        Compliance::NotApplicable,
                        "the resource left the rule's scope".to_string(),
                    )
                } else if status.starts_with("ResourceDeleted") {
                    (
                        Compliance::NotApplicable,
                        format!("resource status {status}"),
                    )
                } else if !scope.resource_types.contains(&resource_type) {
                    (
                        Compliance::NotApplicable,
                        format!("{resource_type} is not evaluated by this rule"),
                    )
                } else {
                    self.current_verdict(resource_type, resource_id, &scope.settings, now)
                        .await?
                };
                (
                    vec![Evaluation::new(
                        resource_type,
                        resource_id,
                        verdict,
                        captured,
                    )],
                    Vec::new(),
                )
            }
            "ScheduledNotification" => self.evaluate_all(&scope, trigger, &notified, now).await?,
            // Config also sends other message types (e.g. ConfigurationSnapshotDeliveryCompleted);
            // they name nothing to evaluate, and failing would only make Lambda retry them.
            other => {
                return Ok(RuleResult::ignored(format!(
                "Config message type {other:?} is not evaluated (only configuration item changes, \
                     oversized configuration items and scheduled notifications are)"
            )))
            }
        };
        self.config
            .put_evaluations(&invocation.result_token, &evaluations)
            .await?;
        let mut summary: BTreeMap<Compliance, usize> = BTreeMap::new();
        for evaluation in &evaluations {
            *summary.entry(evaluation.compliance).or_default() += 1;
            tracing::info!(
                resource_type = %evaluation.resource_type,
                resource_id = %evaluation.resource_id,
                compliance = evaluation.compliance.as_str(),
                annotation = %evaluation.annotation,
                "evaluation"
            );
        }
        Ok(RuleResult::Reported(Reported {
            status: Status::Done,
            rule: invocation.rule_name.clone(),
            message_type: message_type.to_string(),
            summary,
            unreadable,
            evaluations,
        }))
    }

    /// The verdict on one resource's current state, read as the remediation reads it.
    async fn current_verdict(
        &self,
        resource_type: &str,
        resource_id: &str,
        settings: &Settings,
        now: OffsetDateTime,
    ) -> Result<Verdict, AwsError> {
        let gone = |err: &AwsError| {
            (
                Compliance::NotApplicable,
                format!("resource no longer exists ({err})"),
            )
        };
        let today = now.to_offset(time::UtcOffset::UTC).date();
        match resource_type {
            SECURITY_GROUP => match self.groups.group_state(resource_id).await {
                Ok(state) => Ok(security_group_verdict(
                    &state.tags,
                    &state.ingress,
                    settings,
                    today,
                )),
                Err(err) if err.is_not_found() => Ok(gone(&err)),
                Err(err) => Err(err),
            },
            ACCOUNT_BLOCK => {
                let current = self.s3.account_public_access_block(resource_id).await?;
                Ok(account_verdict(current.as_ref(), settings))
            }
            BUCKET => match self.bucket_state(resource_id).await {
                Ok((state, tags)) => Ok(bucket_verdict(&tags, &state, settings, today)),
                Err(err) if err.is_not_found() => Ok(gone(&err)),
                Err(err) => Err(err),
            },
            _ => {
                let found = self.instances.instances(&[resource_id.to_string()]).await?;
                Ok(match found.first() {
                    Some(instance) => instance_verdict(instance, settings, now),
                    None => (
                        Compliance::NotApplicable,
                        "instance no longer exists".to_string(),
                    ),
                })
            }
        }
    }

    /// As the remediation reads it, by the bucket's own settings (the rule is not told the account's
    /// Block Public Access, so a bucket only the account shields is judged on its own).
    async fn bucket_state(
        &self,
        bucket: &str,
    ) -> Result<(BucketState, Vec<(String, String)>), AwsError> {
        self.s3.bucket_state(bucket, "").await
    }

    /// Every resource of the rule's types in the region. Buckets that cannot be read for a
    /// permanent reason are left out (and listed), not guessed.
    async fn evaluate_all(
        &self,
        scope: &RuleScope,
        trigger: &Trigger,
        notified: &str,
        now: OffsetDateTime,
    ) -> Result<(Vec<Evaluation>, Vec<String>), AwsError> {
        let (region, account) = (trigger.region.as_str(), trigger.account.as_str());
        let settings = &scope.settings;
        let today = now.to_offset(time::UtcOffset::UTC).date();
        let mut evaluations = Vec::new();
        let mut unreadable = Vec::new();
        if scope.resource_types.contains(&ACCOUNT_BLOCK) && !account.is_empty() {
            let current = self.s3.account_public_access_block(account).await?;
            let verdict = account_verdict(current.as_ref(), settings);
            evaluations.push(Evaluation::new(ACCOUNT_BLOCK, account, verdict, notified));
        }
        if scope.resource_types.contains(&SECURITY_GROUP) {
            for (group_id, state) in self.groups.all_groups().await? {
                let verdict = security_group_verdict(&state.tags, &state.ingress, settings, today);
                evaluations.push(Evaluation::new(
                    SECURITY_GROUP,
                    &group_id,
                    verdict,
                    notified,
                ));
            }
        }
        if scope.resource_types.contains(&INSTANCE) {
            for instance in self.instances.running_instances().await? {
                let verdict = instance_verdict(&instance, settings, now);
                evaluations.push(Evaluation::new(
                    INSTANCE,
                    &instance.instance_id,
                    verdict,
                    notified,
                ));
            }
        }
        if scope.resource_types.contains(&BUCKET) {
            let region = Some(region).filter(|r| !r.is_empty());
            for bucket in self.s3.list_buckets(region).await? {
                match self.bucket_state(&bucket).await {
                    Ok((state, tags)) => {
                        let verdict = bucket_verdict(&tags, &state, settings, today);
                        evaluations.push(Evaluation::new(BUCKET, &bucket, verdict, notified));
                    }
                    Err(err) if err.is_transient() => return Err(err),
                    // Deleted since the listing: nothing to report.
                    Err(err) if err.is_not_found() => {}
                    Err(err) => {
                        tracing::error!(error = %err, bucket, "bucket not evaluated");
                        unreadable.push(format!("{bucket}: {err}"));
                    }
                }
            }
        }
        Ok((evaluations, unreadable))
    }
}

/// Config calls the rule synchronously and retries a failed invocation itself; nothing is notified.
impl Function for ConfigRule {
    async fn invoke(
        &self,
        payload: Value,
        _: Deadline,
        _: &Notifier,
        _: Reach<'_>,
    ) -> Result<Value, Error> {
        match self.handle(&payload).await {
            Ok(report) => Ok(serde_json::to_value(report)?),
            Err(err) => {
                tracing::error!(error = %err, "evaluation failed");
                Err(err.into())
            }
        }
    }
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
