//! The function's response: what it did with every event and resource of the payload.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use aws_lambda_events::sqs::BatchItemFailure;
use serde::{Serialize, Serializer};

use crate::outcome::{Outcome, OutcomeKind, ResourceType};
use crate::trigger::{Ignored, Source, Trigger};

/// At most this many ids of unchecked resources are listed in the response (the count is always there).
const MAX_LISTED_LEFT: usize = 100;

/// How the invocation as a whole ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every event was handled (a sweep with nothing in scope too).
    Done,
    /// Nothing in the payload was usable.
    Ignored,
    /// Time ran out before every resource was checked.
    Unfinished,
}

/// The `outcome` of one line of the report: a resource's [`OutcomeKind`], or what happened to an
/// event that no resource outcome stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportOutcome {
    Resource(OutcomeKind),
    /// Not an event this function acts on (the line says why).
    Ignored,
    /// Resources left unchecked at the deadline.
    Unfinished,
    /// The weekly exemption report was sent (the line says how many it lists).
    Reported,
    /// Sweep jobs were put on the sweep queue: a sweep fanned out, or a job's continuation.
    Queued,
    /// An SQS message failed alone (`batchItemFailures`): SQS delivers it again.
    Retried,
}

impl ReportOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportOutcome::Resource(kind) => kind.as_str(),
            ReportOutcome::Ignored => "ignored",
            ReportOutcome::Unfinished => "unfinished",
            ReportOutcome::Reported => "reported",
            ReportOutcome::Queued => "queued",
            ReportOutcome::Retried => "retried",
        }
    }
}

impl From<OutcomeKind> for ReportOutcome {
    fn from(kind: OutcomeKind) -> Self {
        ReportOutcome::Resource(kind)
    }
}

impl Serialize for ReportOutcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Ordered by name, so that the summary reads alphabetically and can be looked up by name.
impl Ord for ReportOutcome {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for ReportOutcome {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Borrow<str> for ReportOutcome {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// One line of the response.
#[derive(Debug, Serialize)]
pub struct ReportEntry {
    pub outcome: ReportOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<ResourceType>,
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

impl ReportEntry {
    /// A line about an event rather than a resource.
    fn about_event(outcome: ReportOutcome, reason: String, trigger: Option<&Trigger>) -> Self {
        ReportEntry {
            outcome,
            resource_type: None,
            resource_id: None,
            reason,
            changes: Vec::new(),
            source: trigger.map(|t| t.source),
            event_id: trigger.map(|t| t.event_id.clone()),
            left: Vec::new(),
        }
    }
}

/// The function's response: what it did with every event and resource.
#[derive(Debug, Serialize)]
pub struct Report {
    pub function: String,
    pub status: Status,
    pub summary: BTreeMap<ReportOutcome, usize>,
    pub results: Vec<ReportEntry>,
    /// An SQS batch only: the messages to deliver again, each failed alone (Lambda's partial batch
    /// response, with `ReportBatchItemFailures` on the event source mapping).
    #[serde(rename = "batchItemFailures", skip_serializing_if = "Option::is_none")]
    pub batch_item_failures: Option<Vec<BatchItemFailure>>,
}

impl Report {
    pub(super) fn new(function: &str) -> Self {
        Report {
            function: function.to_string(),
            status: Status::Ignored,
            summary: BTreeMap::new(),
            results: Vec::new(),
            batch_item_failures: None,
        }
    }

    /// Answers an SQS batch: every message succeeds unless [`Report::retry_message`] fails it.
    pub(super) fn for_sqs_batch(&mut self) {
        self.batch_item_failures = Some(Vec::new());
    }

    /// Fails one SQS message, so that SQS delivers it again after its visibility timeout.
    pub(super) fn retry_message(
        &mut self,
        message_id: &str,
        reasons: &[String],
        trigger: Option<&Trigger>,
    ) {
        let reason = format!(
            "SQS delivers message {message_id} again: {}",
            reasons.join("; ")
        );
        tracing::warn!(message_id, "{reason}");
        self.push(ReportEntry::about_event(
            ReportOutcome::Retried,
            reason,
            trigger,
        ));
        let failures = self.batch_item_failures.get_or_insert_with(Vec::new);
        if !failures.iter().any(|f| f.item_identifier == message_id) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id.to_string();
            failures.push(failure);
        }
    }

    /// Sweep jobs put on the queue (a fan-out or a continuation), and why.
    pub(super) fn queued(&mut self, reason: String, trigger: &Trigger) {
        tracing::info!(event_id = %trigger.event_id, "{reason}");
        self.push(ReportEntry::about_event(
            ReportOutcome::Queued,
            reason,
            Some(trigger),
        ));
    }

    fn count(&mut self, outcome: ReportOutcome) {
        *self.summary.entry(outcome).or_default() += 1;
        match outcome {
            ReportOutcome::Ignored => {}
            ReportOutcome::Unfinished => self.status = Status::Unfinished,
            ReportOutcome::Reported | ReportOutcome::Queued | ReportOutcome::Retried
                if self.status == Status::Ignored =>
            {
                self.status = Status::Done
            }
            ReportOutcome::Reported | ReportOutcome::Queued | ReportOutcome::Retried => {}
            ReportOutcome::Resource(_) if self.status == Status::Ignored => {
                self.status = Status::Done
            }
            ReportOutcome::Resource(_) => {}
        }
    }

    fn push(&mut self, entry: ReportEntry) {
        self.count(entry.outcome);
        self.results.push(entry);
    }

    /// A sweep that found nothing in scope: done, with nothing to list.
    pub(super) fn nothing_in_scope(&mut self) {
        if self.status == Status::Ignored {
            self.status = Status::Done;
        }
    }

    pub(super) fn ignored(&mut self, ignored: Ignored, trigger: Option<&Trigger>) {
        tracing::info!(reason = %ignored.reason, event_id = ignored.event_id.as_deref().unwrap_or(""), "event ignored");
        let mut entry = ReportEntry::about_event(ReportOutcome::Ignored, ignored.reason, trigger);
        entry.event_id = ignored.event_id;
        self.push(entry);
    }

    /// The weekly exemption report: `count` exempt resources listed (none: no message).
    pub(super) fn exemption_report(&mut self, count: usize, trigger: &Trigger) {
        let reason = match count {
            0 => {
                "exemption report: no resource carries the exemption tag, so no message".to_string()
            }
            n => format!("exemption report sent: {n} exempt resource(s)"),
        };
        self.push(ReportEntry::about_event(
            ReportOutcome::Reported,
            reason,
            Some(trigger),
        ));
    }

    /// The resources of a trigger could not be listed, for a reason a retry cannot mend.
    pub(super) fn listing_failed(&mut self, reason: String, trigger: &Trigger) {
        self.push(ReportEntry::about_event(
            OutcomeKind::Failed.into(),
            reason,
            Some(trigger),
        ));
    }

    pub(super) fn outcome(&mut self, outcome: Outcome, trigger: &Trigger) {
        // A sweep's compliant resources are counted, not listed: thousands of "nothing wrong"
        // lines would only bloat the response (Lambda allows 6 MB) and the function's memory.
        if outcome.outcome == OutcomeKind::Compliant && trigger.is_sweep() {
            self.count(OutcomeKind::Compliant.into());
            return;
        }
        self.push(ReportEntry {
            outcome: outcome.outcome.into(),
            resource_type: Some(outcome.resource_type),
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
    pub(super) fn unfinished(
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
        // `outcome` as in the decision lines: the stack's metric filter counts `unfinished` from it.
        tracing::warn!(outcome = "unfinished", event_id = %trigger.event_id, left = left.len(), checked, "{reason}");
        let mut entry = ReportEntry::about_event(ReportOutcome::Unfinished, reason, Some(trigger));
        entry.left = left.into_iter().take(MAX_LISTED_LEFT).collect();
        self.push(entry);
        (!trigger.is_sweep())
            .then(|| format!("event {}: {what} before the deadline", trigger.event_id))
    }
}
