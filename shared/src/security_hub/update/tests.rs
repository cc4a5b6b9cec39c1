use super::*;
use crate::outcome::ResourceType;
use crate::trigger::CustomAction;

fn finding(control: &str) -> ControlFinding {
    ControlFinding {
        id: format!(
            "arn:aws:securityhub:us-east-1:123456789012:security-control/{control}/finding/1"
        ),
        product_arn: "arn:aws:securityhub:us-east-1::product/aws/securityhub".into(),
        control_id: control.into(),
        title: "t".into(),
        resources: Vec::new(),
        hub_account: "123456789012".into(),
        hub_region: "us-east-1".into(),
        action: None,
        note_by: None,
        note_is_latest: false,
    }
}

fn outcome(kind: OutcomeKind) -> Outcome {
    Outcome::new(
        kind,
        ResourceType::S3Bucket,
        "b",
        format!("why {}", kind.as_str()),
    )
    .with_changes(vec!["removed AllUsers READ".into()])
}

fn status(kind: OutcomeKind, closes: bool) -> Option<WorkflowStatus> {
    update_for(&finding("S3.2"), &[&outcome(kind)], "f", closes).map(|u| u.status)
}

#[test]
fn resolved_only_when_fixed_or_compliant_and_the_control_is_vouched_for() {
    use OutcomeKind::*;
    assert_eq!(status(Remediated, true), Some(WorkflowStatus::Resolved));
    assert_eq!(status(Compliant, true), Some(WorkflowStatus::Resolved));
    assert_eq!(status(NotFound, true), Some(WorkflowStatus::Resolved));
    for kind in [DryRun, Skipped, Failed, Marked, Waiting] {
        assert_eq!(
            status(kind, true),
            Some(WorkflowStatus::Notified),
            "{kind:?}"
        );
        assert_eq!(
            status(kind, false),
            Some(WorkflowStatus::Notified),
            "{kind:?}"
        );
    }
    // Fixed, but the fix does not settle the control: people were told, Security Hub decides.
    assert_eq!(status(Remediated, false), Some(WorkflowStatus::Notified));
    // Nothing wrong by this rule, nothing done, and a control it does not vouch for: left alone.
    assert_eq!(status(Compliant, false), None);
    assert_eq!(status(NotFound, false), None);
}

#[test]
fn one_unsettled_resource_keeps_the_finding_open() {
    let fixed = outcome(OutcomeKind::Remediated);
    let failed = outcome(OutcomeKind::Failed);
    let update = update_for(&finding("S3.2"), &[&fixed, &failed], "f", true).unwrap();
    assert_eq!(update.status, WorkflowStatus::Notified);
    assert!(
        update.note.contains("fixed S3 bucket b") && update.note.contains("failed S3 bucket b"),
        "{}",
        update.note
    );
}

#[test]
fn no_outcome_no_update() {
    assert_eq!(update_for(&finding("S3.2"), &[], "f", true), None);
}

#[test]
fn the_note_says_what_changed_who_changed_it_and_who_asked() {
    let mut asked = finding("S3.2");
    asked.action = Some(CustomAction {
        name: "Remediate".into(),
        arn: "arn:aws:securityhub:us-east-1:123456789012:action/custom/Remediate".into(),
    });
    let update = update_for(
        &asked,
        &[&outcome(OutcomeKind::Remediated)],
        "s3-public-access",
        true,
    )
    .unwrap();
    assert!(
        update.note.starts_with("s3-public-access: "),
        "{}",
        update.note
    );
    assert!(
        update.note.contains("custom action \"Remediate\""),
        "{}",
        update.note
    );
    assert!(
        update.note.contains("removed AllUsers READ"),
        "{}",
        update.note
    );
    let unvouched = update_for(
        &finding("S3.8"),
        &[&outcome(OutcomeKind::Remediated)],
        "s3-public-access",
        false,
    )
    .unwrap();
    assert!(
        unvouched.note.contains("does not vouch for control S3.8"),
        "{}",
        unvouched.note
    );
}

#[test]
fn a_long_note_is_cut_to_what_security_hub_takes() {
    let mut long = outcome(OutcomeKind::Remediated);
    long.changes = (0..100)
        .map(|i| format!("revoked tcp {i} from 0.0.0.0/0"))
        .collect();
    let update = update_for(&finding("EC2.19"), &[&long], "open-security-group", true).unwrap();
    assert_eq!(update.note.chars().count(), MAX_NOTE_CHARS);
    assert!(update.note.ends_with('…'));
}

fn update(account: &str, id: usize, status: WorkflowStatus, note: &str) -> FindingUpdate {
    FindingUpdate {
        hub_account: account.into(),
        hub_region: "us-east-1".into(),
        id: format!("finding-{id}"),
        product_arn: "p".into(),
        status,
        note: note.into(),
        message_id: None,
    }
}

#[test]
fn batches_hold_one_account_status_and_note_each_at_most_a_hundred_findings() {
    let mut updates: Vec<FindingUpdate> = (0..250)
        .map(|i| update("111111111111", i, WorkflowStatus::Resolved, "same"))
        .collect();
    updates.push(update("222222222222", 0, WorkflowStatus::Resolved, "same"));
    updates.push(update(
        "111111111111",
        900,
        WorkflowStatus::Notified,
        "same",
    ));
    updates.push(update(
        "111111111111",
        901,
        WorkflowStatus::Resolved,
        "other",
    ));
    // The same finding twice: sent once (Security Hub refuses a request naming it twice).
    updates.push(update("111111111111", 0, WorkflowStatus::Resolved, "same"));
    let batches = batches(&updates);
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 253, "{sizes:?}");
    assert!(
        sizes.iter().all(|&n| n <= MAX_FINDINGS_PER_CALL),
        "{sizes:?}"
    );
    assert_eq!(batches.len(), 6, "{sizes:?}");
    for batch in &batches {
        let first = batch[0];
        assert!(batch.iter().all(|u| u.hub_account == first.hub_account
            && u.status == first.status
            && u.note == first.note));
        let mut ids: Vec<&str> = batch.iter().map(|u| u.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), batch.len());
    }
}
