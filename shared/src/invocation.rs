//! One invocation, the same for every function: parse the payload, find the resources each trigger
//! points at, check and fix each one, notify, and answer with a JSON report.

use std::collections::BTreeMap;
use std::future::Future;

use serde::Serialize;
use serde_json::Value;

use crate::error::AwsError;
use crate::notify::Notifier;
use crate::outcome::{Outcome, OutcomeKind, ResourceType, Severity};
use crate::trigger::{parse_payload, Ignored, Source, Trigger};

/// What one trigger points at.
pub enum Targets<T> {
    /// Not an event this function acts on, and why.
    Ignored(String),
    Found(Vec<T>),
}

/// A function's policy and actions, behind the shared invocation loop.
pub trait Remediation: Sync {
    type Target: Send + Sync;

    /// The resources a trigger points at (for a scheduled sweep: every resource in scope).
    fn targets(
        &self,
        trigger: &Trigger,
    ) -> impl Future<Output = Result<Targets<Self::Target>, AwsError>> + Send;

    /// Re-reads the resource's current state, decides, and fixes it unless it is compliant,
    /// exempt, or this is a dry run.
    fn check(
        &self,
        target: &Self::Target,
        trigger: &Trigger,
    ) -> impl Future<Output = Result<Outcome, AwsError>> + Send;

    /// How a target is named in outcomes (for failures the check could not describe itself).
    fn describe(&self, target: &Self::Target) -> (ResourceType, String);
}

/// One line of the response.
#[derive(Debug, Serialize)]
pub struct ReportEntry {
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    pub reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// The function's response: what it did with every event and resource.
#[derive(Debug, Serialize)]
pub struct Report {
    pub function: String,
    /// `ignored` when nothing in the payload was usable, `done` otherwise.
    pub status: &'static str,
    pub summary: BTreeMap<&'static str, usize>,
    pub results: Vec<ReportEntry>,
}

impl Report {
    fn new(function: &str) -> Self {
        Report {
            function: function.to_string(),
            status: "ignored",
            summary: BTreeMap::new(),
            results: Vec::new(),
        }
    }

    fn push(&mut self, entry: ReportEntry) {
        *self.summary.entry(entry.outcome).or_default() += 1;
        if entry.outcome != "ignored" {
            self.status = "done";
        }
        self.results.push(entry);
    }

    fn ignored(&mut self, ignored: Ignored, source: Option<Source>) {
        tracing::info!(reason = %ignored.reason, event_id = ignored.event_id.as_deref().unwrap_or(""), "event ignored");
        self.push(ReportEntry {
            outcome: "ignored",
            resource_type: None,
            resource_id: None,
            reason: ignored.reason,
            changes: Vec::new(),
            source,
            event_id: ignored.event_id,
        });
    }

    fn outcome(&mut self, outcome: Outcome, trigger: &Trigger) {
        self.push(ReportEntry {
            outcome: outcome.outcome.as_str(),
            resource_type: Some(outcome.resource_type.as_str()),
            resource_id: Some(outcome.resource_id),
            reason: outcome.reason,
            changes: outcome.changes,
            source: Some(trigger.source),
            event_id: Some(trigger.event_id.clone()),
        });
    }
}

/// Handles one Lambda payload. Returns an error (so Lambda retries) only when an AWS call failed
/// transiently or a notification could not be sent; everything else is in the report.
/// Every fix is idempotent, so a retry of the whole payload is safe.
pub async fn handle<R: Remediation>(
    payload: Value,
    remediation: &R,
    notifier: &Notifier,
) -> Result<Report, InvocationError> {
    let mut report = Report::new(notifier.function());
    let mut retry_reasons = Vec::new();

    for parsed in parse_payload(&payload) {
        let trigger = match parsed {
            Ok(trigger) => trigger,
            Err(ignored) => {
                report.ignored(ignored, None);
                continue;
            }
        };
        let targets = match remediation.targets(&trigger).await {
            Ok(Targets::Found(targets)) => targets,
            Ok(Targets::Ignored(reason)) => {
                report.ignored(trigger.ignored(reason), Some(trigger.source));
                continue;
            }
            Err(err) => {
                tracing::error!(error = %err, event_id = %trigger.event_id, "could not list the resources to check");
                if err.is_transient() {
                    retry_reasons.push(err.to_string());
                } else {
                    report.ignored(
                        trigger.ignored(format!("could not list the resources to check: {err}")),
                        Some(trigger.source),
                    );
                }
                continue;
            }
        };
        tracing::info!(source = %trigger.source, event_id = %trigger.event_id, detail = %trigger.detail(), targets = targets.len(), "trigger accepted");

        for target in &targets {
            let outcome = match remediation.check(target, &trigger).await {
                Ok(outcome) => outcome,
                Err(err) if err.is_transient() => {
                    let (_, id) = remediation.describe(target);
                    tracing::warn!(error = %err, resource_id = %id, "transient AWS error: Lambda will retry");
                    retry_reasons.push(format!("{id}: {err}"));
                    continue;
                }
                Err(err) => {
                    let (resource_type, id) = remediation.describe(target);
                    if err.is_not_found() {
                        Outcome::new(
                            OutcomeKind::NotFound,
                            resource_type,
                            id,
                            format!("no longer exists ({err})"),
                        )
                    } else {
                        Outcome::new(OutcomeKind::Failed, resource_type, id, err.to_string())
                            .with_severity(Severity::High)
                    }
                }
            };
            tracing::info!(
                outcome = outcome.outcome.as_str(),
                resource_type = outcome.resource_type.as_str(),
                resource_id = %outcome.resource_id,
                reason = %outcome.reason,
                changes = ?outcome.changes,
                "decision"
            );
            if outcome.outcome.is_notified() {
                if let Err(err) = notifier.publish(&outcome, &trigger).await {
                    tracing::error!(error = %err, resource_id = %outcome.resource_id, "notification failed; the change itself stands");
                    retry_reasons.push(format!("notification for {}: {err}", outcome.resource_id));
                }
            }
            report.outcome(outcome, &trigger);
        }
    }

    if retry_reasons.is_empty() {
        Ok(report)
    } else {
        Err(InvocationError {
            reasons: retry_reasons,
            report,
        })
    }
}

/// A failure worth a retry; carries what was done anyway, for the logs.
#[derive(Debug, thiserror::Error)]
#[error("{} step(s) failed and will be retried: {}", reasons.len(), reasons.join("; "))]
pub struct InvocationError {
    pub reasons: Vec<String>,
    pub report: Report,
}

/// Turns the result into what the Lambda runtime expects, logging the partial report of a failure.
pub fn into_response(
    result: Result<Report, InvocationError>,
) -> Result<Value, lambda_runtime::Error> {
    match result {
        Ok(report) => Ok(serde_json::to_value(report)?),
        Err(err) => {
            tracing::error!(
                error = %err,
                done = %serde_json::to_string(&err.report).unwrap_or_default(),
                "invocation failed"
            );
            Err(err.into())
        }
    }
}
