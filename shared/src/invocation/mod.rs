//! One invocation, the same for every remediation: parse the payload, find the resources each trigger
//! points at, re-read and fix each one, notify, and answer with a JSON [`Report`].
//!
//! - [`deadline`]: when to stop starting new work so that the answer beats Lambda's deadline
//! - [`report`]: the response, typed

pub mod deadline;
pub mod report;

pub use deadline::Deadline;
pub use report::{Report, ReportEntry, ReportOutcome, Status};

use std::fmt;
use std::future::Future;

use serde_json::Value;

use crate::error::AwsError;
use crate::notify::exemption_report::Exempt;
use crate::notify::{Notifier, BATCH_ENTRIES};
use crate::organization::sweep::{self, Cursor};
use crate::organization::Organization;
use crate::outcome::{Outcome, OutcomeKind, ResourceType, Severity};
use crate::security_hub::update::update_for;
use crate::security_hub::{FindingUpdate, SecurityHub};
use crate::trigger::{is_sqs_batch, parse_payload, Trigger};

/// How many resources a sweep reads and fixes at the same time: one chunk, whose messages make one
/// `PublishBatch` ([`BATCH_ENTRIES`]). Each resource is a few calls at once (an S3 bucket five reads),
/// so a chunk is a few dozen requests in flight; EC2 and S3 throttle per account and API with token
/// buckets that hold about a hundred requests (EC2: "Request throttling for the Amazon EC2 API"), and
/// a throttled call (`RequestLimitExceeded`, `SlowDown`) is retried by the SDK with backoff.
pub const CONCURRENT_RESOURCES: usize = BATCH_ENTRIES;

/// Why an event is not for this function; it is answered `ignored` with this reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unrelated {
    pub reason: String,
}

impl Unrelated {
    pub fn new(reason: impl Into<String>) -> Self {
        Unrelated {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Unrelated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// What one trigger points at.
pub enum Targets<T> {
    /// Not an event this function acts on, and why.
    Unrelated(Unrelated),
    Found(Vec<T>),
}

impl<T> From<Result<Vec<T>, Unrelated>> for Targets<T> {
    fn from(targets: Result<Vec<T>, Unrelated>) -> Self {
        match targets {
            Ok(found) => Targets::Found(found),
            Err(unrelated) => Targets::Unrelated(unrelated),
        }
    }
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
    fn remediate(
        &self,
        target: &Self::Target,
        trigger: &Trigger,
    ) -> impl Future<Output = Result<Outcome, AwsError>> + Send;

    /// Remediates a chunk of one trigger's targets, all at once; results in the targets' order.
    /// Remediations that can read and change many resources per AWS call (instances) override this
    /// and [`Remediation::chunk_size`].
    fn remediate_chunk(
        &self,
        targets: &[Self::Target],
        trigger: &Trigger,
    ) -> impl Future<Output = Vec<Result<Outcome, AwsError>>> + Send {
        // Boxed: the SDK's futures are deep, and unboxed they exceed the compiler's layout depth limit.
        let each = targets
            .iter()
            .map(|target| Box::pin(self.remediate(target, trigger)));
        futures_util::future::join_all(each)
    }

    /// How many targets one `remediate_chunk` call gets: their outcomes are notified before the next
    /// chunk starts, and the deadline is looked at between chunks. By default
    /// [`CONCURRENT_RESOURCES`].
    fn chunk_size(&self) -> usize {
        CONCURRENT_RESOURCES
    }

    /// Why an event from the trigger's account is not for this function (single-account mode and
    /// another account); `None`: it is. By default every account is.
    fn foreign(
        &self,
        _trigger: &Trigger,
    ) -> impl Future<Output = Result<Option<Unrelated>, AwsError>> + Send {
        async { Ok(None) }
    }

    /// Whether the function vouches for a Security Hub control under its settings: when its outcome
    /// is remediated or compliant, the control's check passes too, so the finding may be `RESOLVED`.
    /// By default none.
    fn closes_control(&self, _control_id: &str) -> bool {
        false
    }

    /// How a target is named in outcomes (for failures the remediation could not describe itself).
    fn resource_of(&self, target: &Self::Target) -> (ResourceType, String);

    /// Every resource in scope that carries the exemption tag, with its value: the weekly report.
    fn exempt_resources(
        &self,
        trigger: &Trigger,
    ) -> impl Future<Output = Result<Vec<Exempt>, AwsError>> + Send;
}

/// Who is told, besides the SNS topic, and what organization mode adds.
#[derive(Clone, Copy, Default)]
pub struct Reach<'a> {
    pub organization: Option<&'a Organization>,
    /// Updates the Security Hub findings the invocation acted on.
    pub security_hub: Option<&'a SecurityHub>,
}

/// [`handle_until`] without a deadline, organization mode or Security Hub.
pub async fn handle<R: Remediation>(
    payload: Value,
    remediation: &R,
    notifier: &Notifier,
) -> Result<Report, InvocationError> {
    handle_until(
        payload,
        remediation,
        notifier,
        Reach::default(),
        Deadline::none(),
    )
    .await
}

/// Handles one Lambda payload. Returns an error (so Lambda retries) only when an AWS call failed
/// transiently, a notification could not be sent, or an event's resources were left unchecked at
/// the deadline; everything else is in the report. A sweep that runs out of time answers with what
/// it did and what is left (`unfinished`): the next sweep goes on, a retry would start over; a sweep
/// job from the queue sends its continuation instead. In an SQS batch each message fails alone
/// (`batchItemFailures`). Every fix is idempotent, so a retry of the whole payload is safe. The
/// Security Hub findings acted on are updated last, in batches.
pub async fn handle_until<R: Remediation>(
    payload: Value,
    remediation: &R,
    notifier: &Notifier,
    reach: Reach<'_>,
    deadline: Deadline,
) -> Result<Report, InvocationError> {
    let mut report = Report::new(notifier.function());
    if is_sqs_batch(&payload) {
        report.for_sqs_batch();
    }
    let mut retry_reasons = Vec::new();
    let mut finding_updates = Vec::new();

    for parsed in parse_payload(&payload) {
        let mut trigger = match parsed {
            Ok(trigger) => trigger,
            Err(ignored) => {
                report.ignored(ignored, None);
                continue;
            }
        };
        let run = Run {
            remediation,
            notifier,
            organization: reach.organization,
            deadline,
        };
        let mut outcomes = Vec::new();
        let reasons = Box::pin(run.trigger(&mut trigger, &mut report, &mut outcomes)).await;
        // A finding is told only what was decided for all its resources: a retry decides the rest.
        if let Some(finding) = trigger.security_hub().filter(|_| reasons.is_empty()) {
            let outcomes: Vec<&Outcome> = outcomes.iter().collect();
            let closes = remediation.closes_control(&finding.control_id);
            if let Some(mut update) = update_for(finding, &outcomes, notifier.function(), closes) {
                update.message_id = trigger.message_id.clone();
                finding_updates.push(update);
            }
        }
        match (&trigger.message_id, reasons.is_empty()) {
            (_, true) => {}
            (Some(message_id), false) => report.retry_message(message_id, &reasons, Some(&trigger)),
            (None, false) => retry_reasons.extend(reasons),
        }
    }

    if let Some(security_hub) = reach.security_hub {
        // Boxed: the SDK's futures are deep, and unboxed they exceed the compiler's layout depth limit.
        Box::pin(update_findings(
            security_hub,
            &finding_updates,
            &mut report,
            &mut retry_reasons,
        ))
        .await;
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

/// What one invocation works with.
struct Run<'a, R> {
    remediation: &'a R,
    notifier: &'a Notifier,
    organization: Option<&'a Organization>,
    deadline: Deadline,
}

impl<R: Remediation> Run<'_, R> {
    /// Handles one trigger, keeping its resources' outcomes in `outcomes`; returns why it must be
    /// tried again (empty: done).
    async fn trigger(
        &self,
        trigger: &mut Trigger,
        report: &mut Report,
        outcomes: &mut Vec<Outcome>,
    ) -> Vec<String> {
        let (remediation, notifier, deadline) = (self.remediation, self.notifier, self.deadline);
        let mut retry_reasons = Vec::new();
        if trigger
            .security_hub()
            .is_some_and(|finding| finding.is_echo_of(notifier.function()))
        {
            report.ignored(
                trigger.ignored("Security Hub sent back this function's own update of the finding"),
                Some(trigger),
            );
            return retry_reasons;
        }
        if deadline.is_near() {
            if trigger.job().is_some() {
                // A job is a message that nothing else will send again: SQS delivers it anew.
                retry_reasons.push(format!(
                    "sweep job {} not started before the deadline",
                    trigger.event_id
                ));
            }
            retry_reasons.extend(report.unfinished(trigger, Vec::new(), 0));
            return retry_reasons;
        }
        match remediation.foreign(trigger).await {
            Ok(None) => {}
            Ok(Some(unrelated)) => {
                report.ignored(trigger.ignored(unrelated.reason), Some(trigger));
                return retry_reasons;
            }
            Err(err) => {
                retry_reasons.push(err.to_string());
                return retry_reasons;
            }
        }
        if trigger.is_exemption_report() {
            let listed = Box::pin(remediation.exempt_resources(trigger)).await;
            let sent = match listed {
                Ok(exempt) => notifier
                    .publish_exemption_report(&exempt, trigger)
                    .await
                    .map(|()| exempt.len()),
                Err(err) => Err(err),
            };
            match sent {
                Ok(count) => report.exemption_report(count, trigger),
                Err(err) if err.is_transient() => retry_reasons.push(err.to_string()),
                Err(err) => report.listing_failed(
                    format!("could not list the exempt resources: {err}"),
                    trigger,
                ),
            }
            return retry_reasons;
        }
        if let Some(organization) = self.organization.filter(|o| o.fans_out()) {
            if trigger.is_sweep() && trigger.job().is_none() {
                match organization.fan_out(trigger).await {
                    Ok(jobs) => report.queued(
                        format!("sweep fanned out: {jobs} job(s), one per account and region"),
                        trigger,
                    ),
                    Err(err) if err.is_transient() => retry_reasons.push(err.to_string()),
                    Err(err) => report
                        .listing_failed(format!("could not fan the sweep out: {err}"), trigger),
                }
                return retry_reasons;
            }
        }
        // The account's name (organization mode) is asked while the resources are listed.
        let name = async {
            match (&trigger.account_name, self.organization) {
                (None, Some(organization)) => organization.account_name(&trigger.account).await,
                (name, _) => name.clone(),
            }
        };
        // Boxed: the SDK's futures are deep, and unboxed they exceed the compiler's layout depth limit.
        let (name, listed) = tokio::join!(name, Box::pin(remediation.targets(trigger)));
        trigger.account_name = name;
        let trigger = &*trigger;
        let targets = match listed {
            Ok(Targets::Found(targets)) => targets,
            Ok(Targets::Unrelated(unrelated)) => {
                report.ignored(trigger.ignored(unrelated.reason), Some(trigger));
                return retry_reasons;
            }
            Err(err) => {
                tracing::error!(error = %err, event_id = %trigger.event_id, "could not list the resources to check");
                if err.is_transient() {
                    retry_reasons.push(err.to_string());
                } else if trigger.is_sweep() {
                    // A whole account or region out of reach: told once, not retried (a retry
                    // cannot help; the next sweep tries again).
                    let outcome = Outcome::new(
                        OutcomeKind::Failed,
                        ResourceType::AwsAccount,
                        &trigger.account,
                        format!(
                            "the sweep of {} could not list its resources: {err}",
                            trigger.region
                        ),
                    )
                    .with_severity(Severity::High);
                    if let Err(err) = notifier.publish(&outcome, trigger).await {
                        retry_reasons.push(format!(
                            "notification for account {}: {err}",
                            trigger.account
                        ));
                    }
                    report.outcome(outcome, trigger);
                } else {
                    // No single resource to name, so nothing to notify; the error log and the
                    // response say it, and a retry would fail the same way.
                    report.listing_failed(
                        format!("could not list the resources to check: {err}"),
                        trigger,
                    );
                }
                return retry_reasons;
            }
        };
        // A job goes through its account in a fixed order, from where its last run stopped.
        let targets = match trigger.job() {
            Some(job) => sweep::in_job_order(job, targets, |t| {
                let (kind, id) = remediation.resource_of(t);
                Cursor::at(kind, &id)
            }),
            None => targets,
        };
        if targets.is_empty() {
            if trigger.is_sweep() {
                // An account with nothing in scope: a sweep that is done.
                report.nothing_in_scope();
            } else {
                report.ignored(
                    trigger.ignored("the event names no resource this function checks"),
                    Some(trigger),
                );
            }
            return retry_reasons;
        }
        tracing::info!(source = %trigger.source, event_id = %trigger.event_id, account = %trigger.account, region = %trigger.region, detail = %trigger.detail(), targets = targets.len(), "trigger accepted");

        let mut checked = 0;
        // Messages not yet published: a sweep sends them in batches.
        let mut to_notify: Vec<Outcome> = Vec::new();
        // A sweep's dry-run and failed findings, told in one digest per outcome at the end.
        let mut digest: Vec<Outcome> = Vec::new();
        for chunk in targets.chunks(remediation.chunk_size().max(1)) {
            if deadline.is_near() {
                break;
            }
            let results = Box::pin(remediation.remediate_chunk(chunk, trigger)).await;
            checked += chunk.len();
            for (target, result) in chunk.iter().zip(results) {
                let Some(outcome) = settle(remediation, target, result, &mut retry_reasons) else {
                    continue;
                };
                tracing::info!(
                    account = %trigger.account,
                    region = %trigger.region,
                    outcome = outcome.outcome.as_str(),
                    resource_type = outcome.resource_type.as_str(),
                    resource_id = %outcome.resource_id,
                    reason = %outcome.reason,
                    changes = ?outcome.changes,
                    // The way back, also when it is too large for the message.
                    restore = %outcome
                        .restore
                        .as_ref()
                        .and_then(|r| serde_json::to_string(r).ok())
                        .unwrap_or_default(),
                    "decision"
                );
                if trigger.security_hub().is_some() {
                    outcomes.push(outcome.clone());
                }
                let notified = if trigger.is_sweep() {
                    outcome.outcome.is_notified_by_sweep()
                } else {
                    outcome.outcome.is_notified()
                };
                if notified {
                    to_notify.push(outcome.clone());
                } else if trigger.is_sweep() && outcome.outcome.is_digested_by_sweep() {
                    digest.push(outcome.clone());
                }
                report.outcome(outcome, trigger);
            }
            // An event's messages go out with its chunk; a sweep's ten at a time (one PublishBatch).
            if !trigger.is_sweep() || to_notify.len() >= BATCH_ENTRIES {
                publish_waiting(notifier, &mut to_notify, trigger, &mut retry_reasons).await;
            }
        }
        publish_waiting(notifier, &mut to_notify, trigger, &mut retry_reasons).await;
        if let Err(err) = notifier.publish_digest(&digest, trigger).await {
            tracing::error!(error = %err, resources = digest.len(), "digest notification failed");
            retry_reasons.push(format!("digest of {} resources: {err}", digest.len()));
        }
        if checked < targets.len() {
            match (trigger.job(), self.organization) {
                (Some(job), Some(organization)) if retry_reasons.is_empty() => {
                    let last = checked
                        .checked_sub(1)
                        .map(|i| remediation.resource_of(&targets[i]));
                    let next = job.continuation(
                        last.as_ref()
                            .map(|(kind, id)| Cursor::at(*kind, id))
                            .or_else(|| job.after.clone()),
                    );
                    match organization.continue_with(&next).await {
                        Ok(()) => report.queued(
                            format!(
                                "the deadline was near: {checked} of {} resources checked; the job goes on as part {} after {}",
                                targets.len(),
                                next.part,
                                last.map(|(_, id)| id).unwrap_or_else(|| "the start".into())
                            ),
                            trigger,
                        ),
                        Err(err) => retry_reasons.push(format!("continuation of the sweep job: {err}")),
                    }
                }
                // A job that failed part way is delivered again whole (every fix is idempotent).
                (Some(_), _) => retry_reasons.push(format!(
                    "sweep job {}: {} of {} resources not checked",
                    trigger.event_id,
                    targets.len() - checked,
                    targets.len()
                )),
                (None, _) => {
                    let left: Vec<String> = targets[checked..]
                        .iter()
                        .map(|target| remediation.resource_of(target).1)
                        .collect();
                    retry_reasons.extend(report.unfinished(trigger, left, checked));
                }
            }
        }
        retry_reasons
    }
}

/// Updates the Security Hub findings acted on. An update that failed for a passing reason makes the
/// invocation fail (or its SQS message), so that it is retried: the retry finds a fixed resource
/// compliant and resolves the finding then.
async fn update_findings(
    security_hub: &SecurityHub,
    updates: &[FindingUpdate],
    report: &mut Report,
    retry_reasons: &mut Vec<String>,
) {
    for (update, err) in security_hub.update_all(updates).await {
        if !err.is_transient() {
            continue;
        }
        let reason = format!("Security Hub finding {}: {err}", update.id);
        match &update.message_id {
            Some(message_id) => report.retry_message(message_id, &[reason], None),
            None => retry_reasons.push(reason),
        }
    }
}

/// Publishes the waiting messages (in batches where there are several); a message that could not be
/// delivered makes the invocation fail, so that Lambda retries (the change itself stands).
async fn publish_waiting(
    notifier: &Notifier,
    to_notify: &mut Vec<Outcome>,
    trigger: &Trigger,
    retry_reasons: &mut Vec<String>,
) {
    if to_notify.is_empty() {
        return;
    }
    let outcomes: Vec<&Outcome> = to_notify.iter().collect();
    for (resource_id, err) in notifier.publish_all(&outcomes, trigger).await {
        tracing::error!(error = %err, resource_id = %resource_id, "notification failed; the change itself stands");
        retry_reasons.push(format!("notification for {resource_id}: {err}"));
    }
    to_notify.clear();
}

/// The outcome of one remediation; `None` for a transient error, which is kept for Lambda's retry.
fn settle<R: Remediation>(
    remediation: &R,
    target: &R::Target,
    result: Result<Outcome, AwsError>,
    retry_reasons: &mut Vec<String>,
) -> Option<Outcome> {
    match result {
        Ok(outcome) => Some(outcome),
        Err(err) if err.is_transient() => {
            let (_, id) = remediation.resource_of(target);
            tracing::warn!(error = %err, resource_id = %id, "transient AWS error: Lambda will retry");
            retry_reasons.push(format!("{id}: {err}"));
            None
        }
        Err(err) => {
            let (resource_type, id) = remediation.resource_of(target);
            Some(if err.is_not_found() {
                Outcome::new(
                    OutcomeKind::NotFound,
                    resource_type,
                    id,
                    format!("no longer exists ({err})"),
                )
            } else {
                Outcome::new(OutcomeKind::Failed, resource_type, id, err.to_string())
                    .with_severity(Severity::High)
            })
        }
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

#[cfg(test)]
mod tests;
