//! One invocation, the same for every function: parse the payload, find the resources each trigger
//! points at, check and fix each one, notify, and answer with a JSON report.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

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

    /// Checks the targets of one trigger, in order. Remediations that can read and change many
    /// resources per AWS call (instances) override this and [`Remediation::chunk_size`]; the
    /// others check one by one.
    fn check_all(
        &self,
        targets: &[Self::Target],
        trigger: &Trigger,
    ) -> impl Future<Output = Vec<Result<Outcome, AwsError>>> + Send {
        async move {
            let mut results = Vec::with_capacity(targets.len());
            for target in targets {
                // Boxed: the SDK's futures are deep, and unboxed they exceed the compiler's layout depth limit.
                results.push(Box::pin(self.check(target, trigger)).await);
            }
            results
        }
    }

    /// How many targets one `check_all` call gets: their outcomes are notified before the next
    /// chunk starts, and the deadline is looked at between chunks.
    fn chunk_size(&self) -> usize {
        1
    }

    /// How a target is named in outcomes (for failures the check could not describe itself).
    fn describe(&self, target: &Self::Target) -> (ResourceType, String);
}

/// When an invocation stops starting new work, so that it still answers before Lambda's deadline.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    stop_at: Option<Instant>,
}

/// Most time kept back from Lambda's deadline to finish the resource at hand, notify and answer.
const MAX_DEADLINE_RESERVE: Duration = Duration::from_secs(5);

impl Deadline {
    /// No deadline (tests, tools).
    pub fn none() -> Self {
        Deadline { stop_at: None }
    }

    /// Lambda's deadline for this invocation, less a reserve: a fifth of the time left, at most 5 s
    /// (a function with a 60 s timeout stops starting new checks 5 s before the end).
    pub fn from_lambda(context: &lambda_runtime::Context) -> Self {
        Self::before(context.deadline())
    }

    pub fn before(deadline: SystemTime) -> Self {
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let reserve = (left / 5).min(MAX_DEADLINE_RESERVE);
        Deadline {
            stop_at: Some(Instant::now() + (left - reserve)),
        }
    }

    pub fn is_near(&self) -> bool {
        self.stop_at.is_some_and(|at| Instant::now() >= at)
    }
}

/// At most this many ids of unchecked resources are listed in the response (the count is always there).
const MAX_LISTED_LEFT: usize = 100;

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
    /// `unfinished` only: resources not checked before the deadline (the first 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<String>,
}

/// The function's response: what it did with every event and resource.
#[derive(Debug, Serialize)]
pub struct Report {
    pub function: String,
    /// `ignored` when nothing in the payload was usable, `unfinished` when time ran out before every
    /// resource was checked, `done` otherwise.
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
        match entry.outcome {
            "ignored" => {}
            "unfinished" => self.status = "unfinished",
            _ if self.status == "ignored" => self.status = "done",
            _ => {}
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
            left: Vec::new(),
        });
    }

    fn outcome(&mut self, outcome: Outcome, trigger: &Trigger) {
        // A sweep's compliant resources are counted, not listed: thousands of "nothing wrong"
        // lines would only bloat the response (Lambda allows 6 MB) and the function's memory.
        if outcome.outcome == OutcomeKind::Compliant && trigger.is_sweep() {
            *self.summary.entry("compliant").or_default() += 1;
            if self.status == "ignored" {
                self.status = "done";
            }
            return;
        }
        self.push(ReportEntry {
            outcome: outcome.outcome.as_str(),
            resource_type: Some(outcome.resource_type.as_str()),
            resource_id: Some(outcome.resource_id),
            reason: outcome.reason,
            changes: outcome.changes,
            source: Some(trigger.source),
            event_id: Some(trigger.event_id.clone()),
            left: Vec::new(),
        });
    }

    /// Resources of a trigger that were not checked because time ran out. Returns why Lambda must
    /// retry an event; a sweep needs no retry (the next sweep goes on, a retry would start over).
    fn unfinished(
        &mut self,
        trigger: &Trigger,
        left: Vec<String>,
        checked: usize,
    ) -> Option<String> {
        let what = if left.is_empty() && checked == 0 {
            "the event was not started".to_string()
        } else {
            format!(
                "{} of {} resources not checked",
                left.len(),
                left.len() + checked
            )
        };
        let then = if trigger.is_sweep() {
            "the next sweep checks them"
        } else {
            "Lambda retries the event"
        };
        let reason = format!("the invocation's deadline was near: {what}; {then}");
        tracing::warn!(event_id = %trigger.event_id, left = left.len(), checked, "{reason}");
        self.push(ReportEntry {
            outcome: "unfinished",
            resource_type: None,
            resource_id: None,
            reason,
            changes: Vec::new(),
            source: Some(trigger.source),
            event_id: Some(trigger.event_id.clone()),
            left: left.into_iter().take(MAX_LISTED_LEFT).collect(),
        });
        (!trigger.is_sweep())
            .then(|| format!("event {}: {what} before the deadline", trigger.event_id))
    }
}

/// [`handle_until`] without a deadline.
pub async fn handle<R: Remediation>(
    payload: Value,
    remediation: &R,
    notifier: &Notifier,
) -> Result<Report, InvocationError> {
    handle_until(payload, remediation, notifier, Deadline::none()).await
}

/// Handles one Lambda payload. Returns an error (so Lambda retries) only when an AWS call failed
/// transiently, a notification could not be sent, or an event's resources were left unchecked at
/// the deadline; everything else is in the report. A sweep that runs out of time answers with what
/// it did and what is left (`unfinished`): the next sweep goes on, a retry would start over.
/// Every fix is idempotent, so a retry of the whole payload is safe.
pub async fn handle_until<R: Remediation>(
    payload: Value,
    remediation: &R,
    notifier: &Notifier,
    deadline: Deadline,
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
        if deadline.is_near() {
            retry_reasons.extend(report.unfinished(&trigger, Vec::new(), 0));
            continue;
        }
        // Boxed: the SDK's futures are deep, and unboxed they exceed the compiler's layout depth limit.
        let targets = match Box::pin(remediation.targets(&trigger)).await {
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
                    // No single resource to name, so nothing to notify; the error log and the
                    // response say it, and a retry would fail the same way.
                    report.push(ReportEntry {
                        outcome: "failed",
                        resource_type: None,
                        resource_id: None,
                        reason: format!("could not list the resources to check: {err}"),
                        changes: Vec::new(),
                        source: Some(trigger.source),
                        event_id: Some(trigger.event_id.clone()),
                        left: Vec::new(),
                    });
                }
                continue;
            }
        };
        if targets.is_empty() {
            if trigger.is_sweep() {
                // An account with nothing in scope: a sweep that is done.
                report.status = "done";
            } else {
                report.ignored(
                    trigger.ignored("the event names no resource this function checks"),
                    Some(trigger.source),
                );
            }
            continue;
        }
        tracing::info!(source = %trigger.source, event_id = %trigger.event_id, detail = %trigger.detail(), targets = targets.len(), "trigger accepted");

        let mut checked = 0;
        for chunk in targets.chunks(remediation.chunk_size().max(1)) {
            if deadline.is_near() {
                break;
            }
            let results = Box::pin(remediation.check_all(chunk, &trigger)).await;
            checked += chunk.len();
            for (target, result) in chunk.iter().zip(results) {
                let Some(outcome) = settle(remediation, target, result, &mut retry_reasons) else {
                    continue;
                };
                tracing::info!(
                    outcome = outcome.outcome.as_str(),
                    resource_type = outcome.resource_type.as_str(),
                    resource_id = %outcome.resource_id,
                    reason = %outcome.reason,
                    changes = ?outcome.changes,
                    "decision"
                );
                let notified = if trigger.is_sweep() {
                    outcome.outcome.is_notified_by_sweep()
                } else {
                    outcome.outcome.is_notified()
                };
                if notified {
                    if let Err(err) = notifier.publish(&outcome, &trigger).await {
                        tracing::error!(error = %err, resource_id = %outcome.resource_id, "notification failed; the change itself stands");
                        retry_reasons
                            .push(format!("notification for {}: {err}", outcome.resource_id));
                    }
                }
                report.outcome(outcome, &trigger);
            }
        }
        if checked < targets.len() {
            let left: Vec<String> = targets[checked..]
                .iter()
                .map(|target| remediation.describe(target).1)
                .collect();
            retry_reasons.extend(report.unfinished(&trigger, left, checked));
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

/// The outcome of one check; `None` for a transient error, which is kept for Lambda's retry.
fn settle<R: Remediation>(
    remediation: &R,
    target: &R::Target,
    result: Result<Outcome, AwsError>,
    retry_reasons: &mut Vec<String>,
) -> Option<Outcome> {
    match result {
        Ok(outcome) => Some(outcome),
        Err(err) if err.is_transient() => {
            let (_, id) = remediation.describe(target);
            tracing::warn!(error = %err, resource_id = %id, "transient AWS error: Lambda will retry");
            retry_reasons.push(format!("{id}: {err}"));
            None
        }
        Err(err) => {
            let (resource_type, id) = remediation.describe(target);
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
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::trigger::TriggerEvent;
    use serde_json::json;

    /// Answers each target name with a fixed result.
    struct Fake(Vec<(&'static str, Result<OutcomeKind, ErrorKind>)>);

    impl Remediation for Fake {
        type Target = &'static str;

        async fn targets(&self, trigger: &Trigger) -> Result<Targets<&'static str>, AwsError> {
            Ok(match trigger.event {
                TriggerEvent::Schedule { .. } => {
                    Targets::Found(self.0.iter().map(|(name, _)| *name).collect())
                }
                _ => Targets::Ignored("not for the fake".into()),
            })
        }

        async fn check(&self, target: &&'static str, _: &Trigger) -> Result<Outcome, AwsError> {
            let (_, result) = self.0.iter().find(|(name, _)| name == target).unwrap();
            match result {
                Ok(kind) => Ok(
                    Outcome::new(*kind, ResourceType::S3Bucket, *target, "because")
                        .with_changes(vec!["changed".into()]),
                ),
                Err(kind) => Err(AwsError::new(
                    "GetBucketAcl",
                    *kind,
                    Some("Code"),
                    "message",
                )),
            }
        }

        fn describe(&self, target: &&'static str) -> (ResourceType, String) {
            (ResourceType::S3Bucket, target.to_string())
        }
    }

    fn sweep() -> Value {
        json!({"version": "0", "id": "sweep-1", "detail-type": "Scheduled Event", "source": "aws.events",
               "account": "123456789012", "time": "2026-03-14T12:00:00Z", "region": "us-east-1",
               "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"], "detail": {}})
    }

    /// A notifier whose topic cannot be reached (nothing listens on port 9).
    fn notifier(topic: Option<&str>) -> Notifier {
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "a", "b", None, None, "t",
            ))
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
            .build();
        Notifier::new(
            aws_sdk_sns::Client::from_conf(config),
            topic.map(String::from),
            "fake",
            "exempt",
        )
    }

    #[tokio::test]
    async fn outcomes_errors_and_summary() {
        let fake = Fake(vec![
            ("fixed", Ok(OutcomeKind::Remediated)),
            ("fine", Ok(OutcomeKind::Compliant)),
            ("gone", Err(ErrorKind::NotFound)),
            ("denied", Err(ErrorKind::Permanent)),
        ]);
        let report = handle(sweep(), &fake, &notifier(None)).await.unwrap();
        assert_eq!(report.status, "done");
        let summary: Vec<(&str, usize)> = report.summary.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(
            summary,
            [
                ("compliant", 1),
                ("failed", 1),
                ("not-found", 1),
                ("remediated", 1)
            ]
        );
        let denied = report
            .results
            .iter()
            .find(|r| r.resource_id.as_deref() == Some("denied"))
            .unwrap();
        assert_eq!(denied.reason, "GetBucketAcl failed (Code): message");
    }

    #[tokio::test]
    async fn a_transient_error_fails_the_invocation_after_doing_the_rest() {
        let fake = Fake(vec![
            ("slow", Err(ErrorKind::Transient)),
            ("fixed", Ok(OutcomeKind::Remediated)),
        ]);
        let err = handle(sweep(), &fake, &notifier(None)).await.unwrap_err();
        assert_eq!(err.reasons.len(), 1);
        assert!(err.reasons[0].starts_with("slow: "), "{:?}", err.reasons);
        assert_eq!(
            err.report.summary.get("remediated"),
            Some(&1),
            "the other resource was still fixed"
        );
    }

    #[tokio::test]
    async fn a_failed_notification_keeps_the_fix_and_asks_for_a_retry() {
        let fake = Fake(vec![
            ("fixed", Ok(OutcomeKind::Remediated)),
            ("fine", Ok(OutcomeKind::Compliant)),
        ]);
        let topic = "arn:aws:sns:us-east-1:123456789012:unreachable";
        let err = handle(sweep(), &fake, &notifier(Some(topic)))
            .await
            .unwrap_err();
        assert_eq!(
            err.reasons.len(),
            1,
            "only the remediated resource is notified: {:?}",
            err.reasons
        );
        assert!(
            err.reasons[0].starts_with("notification for fixed"),
            "{:?}",
            err.reasons
        );
        assert_eq!(err.report.summary.get("remediated"), Some(&1));
    }

    /// Takes 20 ms per target.
    struct Slow(Vec<&'static str>);

    impl Remediation for Slow {
        type Target = &'static str;

        async fn targets(&self, _: &Trigger) -> Result<Targets<&'static str>, AwsError> {
            Ok(Targets::Found(self.0.clone()))
        }

        async fn check(&self, target: &&'static str, _: &Trigger) -> Result<Outcome, AwsError> {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(Outcome::new(
                OutcomeKind::Remediated,
                ResourceType::S3Bucket,
                *target,
                "because",
            )
            .with_changes(vec!["changed".into()]))
        }

        fn describe(&self, target: &&'static str) -> (ResourceType, String) {
            (ResourceType::S3Bucket, target.to_string())
        }
    }

    const MANY: [&str; 50] = ["r"; 50];

    #[tokio::test]
    async fn a_sweep_stops_before_the_deadline_and_reports_what_is_left() {
        let slow = Slow(MANY.to_vec());
        // 500 ms left: a reserve of 100 ms, so about 20 of the 50 targets fit.
        let deadline = Deadline::before(SystemTime::now() + Duration::from_millis(500));
        let started = Instant::now();
        let report = handle_until(sweep(), &slow, &notifier(None), deadline)
            .await
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(450),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(report.status, "unfinished");
        let done = report.summary["remediated"];
        assert!((5..45).contains(&done), "{done} done");
        let left = report.results.last().unwrap();
        assert_eq!(left.outcome, "unfinished");
        assert_eq!(left.left.len(), 50 - done);
        assert!(left
            .reason
            .contains(&format!("{} of 50 resources not checked", 50 - done)));
    }

    #[tokio::test]
    async fn an_event_cut_short_by_the_deadline_is_retried() {
        let slow = Slow(MANY.to_vec());
        let mut event = sweep();
        event["detail-type"] = json!("EC2 Instance State-change Notification");
        event["detail"] = json!({"instance-id": "i-1", "state": "running"});
        let deadline = Deadline::before(SystemTime::now() + Duration::from_millis(300));
        let err = handle_until(event, &slow, &notifier(None), deadline)
            .await
            .unwrap_err();
        assert!(
            err.reasons[0].contains("resources not checked before the deadline"),
            "{:?}",
            err.reasons
        );
        assert_eq!(err.report.status, "unfinished");
    }

    #[tokio::test]
    async fn ignored_payloads_say_why() {
        let fake = Fake(vec![]);
        for payload in [
            json!([]),
            json!({"detail-type": "Other", "source": "x", "detail": {}}),
        ] {
            let report = handle(payload, &fake, &notifier(None)).await.unwrap();
            assert_eq!(report.status, "ignored");
            assert_eq!(report.results.len(), 1);
            assert!(!report.results[0].reason.is_empty());
        }
        let mut cloudtrail = sweep();
        cloudtrail["detail-type"] = json!("EC2 Instance State-change Notification");
        cloudtrail["detail"] = json!({"instance-id": "i-1", "state": "running"});
        let report = handle(cloudtrail, &fake, &notifier(None)).await.unwrap();
        assert_eq!(report.results[0].reason, "not for the fake");
        let response = into_response(Ok(report)).unwrap();
        assert_eq!(response["status"], "ignored");
    }
}
