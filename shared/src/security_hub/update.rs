//! What each finding a function acted on is told (pure): its workflow status and a note.
//!
//! A finding is `RESOLVED` only when the function can vouch for what its control checks: the
//! resource was fixed or found compliant, and the control is one the function's rule covers under
//! its settings (`Remediation::closes_control`). A fix that does not settle the control (an untagged
//! instance stopped is still untagged) or a dry run, a skip, a failure, a grace-period mark: `NOTIFIED`,
//! people were told. Compliant under the function's rule but a control it does not vouch for: the
//! finding is left as it is (the function did nothing; Security Hub's next check decides).

use std::collections::BTreeMap;

use crate::outcome::{Outcome, OutcomeKind};
use crate::text::clip;
use crate::trigger::ControlFinding;

/// `BatchUpdateFindings` takes at most 100 findings per call (Security Hub API Reference,
/// BatchUpdateFindings: `FindingIdentifiers`, "up to 100 findings at a time").
pub const MAX_FINDINGS_PER_CALL: usize = 100;
/// ASFF `Note.Text`: at most 512 characters.
pub const MAX_NOTE_CHARS: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkflowStatus {
    Resolved,
    Notified,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Resolved => "RESOLVED",
            WorkflowStatus::Notified => "NOTIFIED",
        }
    }
}

/// One finding's update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingUpdate {
    /// Where the finding is updated: the account and region whose Security Hub sent it.
    pub hub_account: String,
    pub hub_region: String,
    pub id: String,
    pub product_arn: String,
    pub status: WorkflowStatus,
    pub note: String,
    /// The SQS message it came in, if any: a failed update fails that message alone.
    pub message_id: Option<String>,
}

/// The update of `finding` after `outcomes` (its resources' outcomes, in order); `None` when there
/// is nothing to tell: no outcome (the invocation is retried and decides then), or nothing done and a
/// control the function does not vouch for. `closes` says whether it vouches for the finding's control
/// under its settings.
pub fn update_for(
    finding: &ControlFinding,
    outcomes: &[&Outcome],
    function: &str,
    closes: bool,
) -> Option<FindingUpdate> {
    if outcomes.is_empty() {
        return None;
    }
    let settled = outcomes.iter().all(|o| {
        matches!(
            o.outcome,
            OutcomeKind::Remediated | OutcomeKind::Compliant | OutcomeKind::NotFound
        )
    });
    let changed = outcomes
        .iter()
        .any(|o| o.outcome == OutcomeKind::Remediated);
    let status = match (settled, closes, changed) {
        (true, true, _) => WorkflowStatus::Resolved,
        (true, false, false) => return None,
        _ => WorkflowStatus::Notified,
    };
    let mut note = outcomes
        .iter()
        .map(|o| outcome_note(o))
        .collect::<Vec<_>>()
        .join(" | ");
    if let Some(action) = &finding.action {
        note = format!(
            "asked for by Security Hub custom action {:?}: {note}",
            action.name
        );
    }
    if !closes && changed && settled {
        note.push_str(&format!(
            " | {function} does not vouch for control {} under its settings: Security Hub's next check decides",
            finding.control_id
        ));
    }
    Some(FindingUpdate {
        hub_account: finding.hub_account.clone(),
        hub_region: finding.hub_region.clone(),
        id: finding.id.clone(),
        product_arn: finding.product_arn.clone(),
        status,
        note: clip(&format!("{function}: {note}"), MAX_NOTE_CHARS, "…"),
        message_id: None,
    })
}

/// One outcome in a few words: what was done, or why not.
fn outcome_note(outcome: &Outcome) -> String {
    let what = format!("{} {}", outcome.resource_type.noun(), outcome.resource_id);
    match outcome.outcome {
        OutcomeKind::Remediated => format!("fixed {what}: {}", outcome.changes.join("; ")),
        OutcomeKind::Compliant => format!("re-read {what}: {}", outcome.reason),
        OutcomeKind::NotFound => format!("{what} no longer exists"),
        OutcomeKind::DryRun => format!(
            "dry run, {what} left as it is; would: {} (reason: {})",
            outcome.changes.join("; "),
            outcome.reason
        ),
        kind => format!("{} {what}: {}", kind.as_str(), outcome.reason),
    }
}

/// The updates as `BatchUpdateFindings` calls: one call updates findings of one account and region
/// with one status and one note, at most [`MAX_FINDINGS_PER_CALL`] of them; a finding named twice is
/// sent once (Security Hub refuses a request that names a finding twice).
pub fn batches(updates: &[FindingUpdate]) -> Vec<Vec<&FindingUpdate>> {
    type Key<'a> = (&'a str, &'a str, WorkflowStatus, &'a str);
    let mut groups: BTreeMap<Key, Vec<&FindingUpdate>> = BTreeMap::new();
    for update in updates {
        let group = groups
            .entry((
                &update.hub_account,
                &update.hub_region,
                update.status,
                &update.note,
            ))
            .or_default();
        if !group
            .iter()
            .any(|u| u.id == update.id && u.product_arn == update.product_arn)
        {
            group.push(update);
        }
    }
    groups
        .into_values()
        .flat_map(|group| {
            group
                .chunks(MAX_FINDINGS_PER_CALL)
                .map(<[_]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests;
