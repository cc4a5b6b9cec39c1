//! The message, pure: the text people read, the JSON document programs read (`docs/notifications.md`,
//! `docs/notification.schema.json`), the subject and the filterable attributes, for one resource or for a
//! sweep's digest.

use serde::Serialize;
use serde_json::json;

use crate::outcome::{Outcome, OutcomeKind, ResourceType};
use crate::trigger::{Source, Trigger};
use crate::undo::{cli_commands, Restore};

/// The machine-readable document (`version` 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Document {
    pub version: u32,
    pub function: String,
    pub outcome: OutcomeKind,
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub account: String,
    /// The account's name in AWS Organizations, when it could be read (organization mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    pub region: String,
    pub reason: String,
    pub changes: Vec<String>,
    pub trigger: TriggerRef,
    /// Each part the changes replaced, as read before (with `after`, as they left it), and `undo`: the
    /// calls that restore it. On every `remediated` message; on a `failed` one that changed something.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Restore>,
    /// Set when `prior`, `after` and `undo` did not fit in one SNS message: why, and where they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_omitted: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TriggerRef {
    pub source: Source,
    pub event_id: String,
    pub detail: String,
    /// Who asked for this fix, when a person did (a Security Hub custom action).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

impl TriggerRef {
    pub fn of(trigger: &Trigger) -> Self {
        TriggerRef {
            source: trigger.source,
            event_id: trigger.event_id.clone(),
            detail: trigger.detail(),
            requested_by: trigger.requested_by(),
        }
    }
}

/// A sweep's findings of one outcome (`dry-run` or `failed`) in one message: the document programs read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DigestDocument {
    pub version: u32,
    pub function: String,
    pub outcome: OutcomeKind,
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    pub region: String,
    pub digest: Digest,
    pub trigger: TriggerRef,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Digest {
    /// How many resources the sweep found with this outcome.
    pub count: usize,
    /// The first [`DIGEST_LISTED`] of them (a message must stay within SNS's 256 KB).
    pub resources: Vec<DigestEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DigestEntry {
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub reason: String,
    pub changes: Vec<String>,
}

/// What SNS takes in one message, every member of the structure together: "at most 256 KB in size
/// (262,144 bytes, not 262,144 characters)" (SNS API Reference, Publish, `Message`).
pub const SNS_MESSAGE_LIMIT: usize = 262_144;

/// Resources listed by name in a digest; the count says how many there were in all.
pub const DIGEST_LISTED: usize = 50;

/// Everything that goes into one `Publish` call.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    /// The JSON document programs read: a [`Document`] or a [`DigestDocument`].
    pub document: serde_json::Value,
    /// `outcome`, `resource_type`, `severity`.
    pub attributes: Vec<(&'static str, String)>,
}

impl Message {
    pub fn build(function: &str, exempt_tag: &str, outcome: &Outcome, trigger: &Trigger) -> Self {
        let mut document = Document {
            version: 1,
            function: function.to_string(),
            outcome: outcome.outcome,
            resource_type: outcome.resource_type,
            resource_id: outcome.resource_id.clone(),
            account: trigger.account.clone(),
            account_name: trigger.account_name.clone(),
            region: trigger.region.clone(),
            reason: outcome.reason.clone(),
            changes: outcome.changes.clone(),
            trigger: TriggerRef::of(trigger),
            // A remediated message always says what to restore, if only that nothing needs it.
            restore: match (&outcome.restore, outcome.outcome) {
                (None, OutcomeKind::Remediated) => Some(Restore::default()),
                (restore, _) => restore.clone(),
            },
            restore_omitted: None,
        };
        let assemble = |document: &Document, commands: bool| Message {
            subject: subject(outcome),
            text: human_text(function, exempt_tag, outcome, document, commands),
            attributes: vec![
                ("outcome", document.outcome.as_str().to_string()),
                ("resource_type", document.resource_type.as_str().to_string()),
                ("severity", outcome.severity.as_str().to_string()),
            ],
            document: serde_json::to_value(document).unwrap_or_default(),
        };
        // A large bucket policy appears in prior, after and undo, and the document in four members:
        // first the commands leave the text, then the restore leaves the message (it is in the log).
        let message = assemble(&document, true);
        if message.structured_body().len() <= SNS_MESSAGE_LIMIT {
            return message;
        }
        let message = assemble(&document, false);
        if message.structured_body().len() <= SNS_MESSAGE_LIMIT {
            return message;
        }
        document.restore = Some(Restore::default());
        document.restore_omitted = Some(format!(
            "prior, after and undo are too large for one SNS message (256 KB): they are in the function's log, on the line \"decision\" for {} of event {}",
            outcome.resource_id, trigger.event_id
        ));
        assemble(&document, false)
    }

    /// One message for a sweep's findings of one outcome (`kind`: dry-run or failed), instead of one per
    /// resource every sweep. Attributes: the outcome, `resource_type` `digest`, the highest severity.
    pub fn digest(
        function: &str,
        exempt_tag: &str,
        kind: OutcomeKind,
        outcomes: &[&Outcome],
        trigger: &Trigger,
    ) -> Self {
        let document = DigestDocument {
            version: 1,
            function: function.to_string(),
            outcome: kind,
            account: trigger.account.clone(),
            account_name: trigger.account_name.clone(),
            region: trigger.region.clone(),
            digest: Digest {
                count: outcomes.len(),
                resources: outcomes
                    .iter()
                    .take(DIGEST_LISTED)
                    .map(|o| DigestEntry {
                        resource_type: o.resource_type,
                        resource_id: o.resource_id.clone(),
                        reason: o.reason.clone(),
                        changes: o.changes.clone(),
                    })
                    .collect(),
            },
            trigger: TriggerRef::of(trigger),
        };
        let severity = outcomes
            .iter()
            .map(|o| o.severity)
            .max()
            .unwrap_or(crate::outcome::Severity::Medium);
        let place = place(
            &document.account,
            document.account_name.as_deref(),
            &document.region,
        );
        let count = outcomes.len();
        let (headline, what) = match kind {
            OutcomeKind::DryRun => (
                format!("Sweep of {place}: {count} resource(s) need fixing. DRY_RUN is on, so nothing was changed."),
                format!("{count} would change"),
            ),
            _ => (
                format!("Sweep of {place}: {count} resource(s) could not be fixed."),
                format!("{count} could not be fixed"),
            ),
        };
        let mut text = format!("{headline}\n");
        for entry in &document.digest.resources {
            text.push_str(&format!(
                "\n- {} {}: {}\n",
                entry.resource_type.noun(),
                entry.resource_id,
                entry.reason
            ));
            for change in &entry.changes {
                text.push_str(&format!(
                    "    {}: {change}\n",
                    if kind == OutcomeKind::DryRun {
                        "would change"
                    } else {
                        "changed before the failure"
                    }
                ));
            }
        }
        if count > DIGEST_LISTED {
            text.push_str(&format!(
                "\n... and {} more (the function's response and logs list every one).\n",
                count - DIGEST_LISTED
            ));
        }
        text.push_str(&format!(
            "\nA sweep lists these once per run instead of one message per resource; changes it makes still get a message each.\nTo exempt a resource from automatic remediation, tag it (an object: its bucket) with the key \"{exempt_tag}\".\n\n-- {function}\n"
        ));
        Message {
            subject: short_subject(format!(
                "[{}] sweep of {}: {what}",
                kind.as_str(),
                or_unknown(&document.region)
            )),
            text,
            attributes: vec![
                ("outcome", kind.as_str().to_string()),
                ("resource_type", "digest".to_string()),
                ("severity", severity.as_str().to_string()),
            ],
            document: serde_json::to_value(&document).unwrap_or_default(),
        }
    }

    /// The `Message` parameter for `MessageStructure=json`.
    pub fn structured_body(&self) -> String {
        let document = serde_json::to_string(&self.document).unwrap_or_default();
        json!({
            "default": self.text,
            "email": self.text,
            "sqs": document,
            "lambda": document,
            "http": document,
            "https": document,
        })
        .to_string()
    }
}

const SUBJECT_LIMIT: usize = 100;

/// `[remediated] my-bucket: removed AllUsers READ (+1 more)`: printable ASCII, at most 100 characters
/// (SNS rejects anything else).
pub fn subject(outcome: &Outcome) -> String {
    let summary = match (outcome.outcome, outcome.changes.as_slice()) {
        (
            OutcomeKind::Remediated | OutcomeKind::DryRun | OutcomeKind::Marked,
            [first, rest @ ..],
        ) => {
            if rest.is_empty() {
                first.clone()
            } else {
                format!("{first} (+{} more)", rest.len())
            }
        }
        _ => outcome.reason.clone(),
    };
    short_subject(format!(
        "[{}] {}: {}",
        outcome.outcome.as_str(),
        outcome.resource_id,
        summary
    ))
}

/// Printable ASCII, at most 100 characters: what SNS accepts as a subject.
pub(crate) fn short_subject(full: String) -> String {
    let ascii: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if ascii.len() <= SUBJECT_LIMIT {
        ascii
    } else {
        format!("{}...", &ascii[..SUBJECT_LIMIT - 3])
    }
}

fn human_text(
    function: &str,
    exempt_tag: &str,
    outcome: &Outcome,
    doc: &Document,
    commands: bool,
) -> String {
    let noun = outcome.resource_type.noun();
    let id = &outcome.resource_id;
    let place = place(&doc.account, doc.account_name.as_deref(), &doc.region);
    let headline = match outcome.outcome {
        OutcomeKind::Remediated => format!("Fixed {noun} {id} ({place})."),
        OutcomeKind::DryRun => format!(
            "Dry run: {noun} {id} ({place}) needs fixing. DRY_RUN is on, so nothing was changed."
        ),
        OutcomeKind::Skipped => {
            format!("Left {noun} {id} ({place}) as it is, although it is not compliant.")
        }
        OutcomeKind::Marked => {
            format!("Marked {noun} {id} ({place}) to be fixed after a grace period.")
        }
        OutcomeKind::Failed => format!("Could not fix {noun} {id} ({place})."),
        OutcomeKind::Compliant | OutcomeKind::NotFound | OutcomeKind::Waiting => {
            format!("{noun} {id} ({place}): nothing to do.")
        }
    };
    let mut text = format!("{headline}\n\nWhy: {}\n", outcome.reason);
    if !outcome.changes.is_empty() {
        let heading = match outcome.outcome {
            OutcomeKind::DryRun => "Would change",
            OutcomeKind::Failed => "Changed before the failure",
            _ => "Changed",
        };
        text.push_str(&format!("\n{heading}:\n"));
        for change in &outcome.changes {
            text.push_str(&format!("  - {change}\n"));
        }
    }
    text.push_str(&format!(
        "\nTrigger: {} ({} event {})\n",
        doc.trigger.detail, doc.trigger.source, doc.trigger.event_id
    ));
    if let Some(requested_by) = &doc.trigger.requested_by {
        text.push_str(&format!("Asked for by: {requested_by}\n"));
    }
    if let Some(omitted) = &doc.restore_omitted {
        text.push_str(&format!("\nTo undo this: {omitted}.\n"));
    } else if !commands {
        text.push_str("\nTo undo this, run remediation-undo on this message's JSON document (the commands are too long for this text). Exempt it first (below), or the next event fixes it again.\n");
    } else if let Some(restore) = doc.restore.as_ref().filter(|r| !r.is_empty()) {
        text.push_str("\nTo undo this, paste the commands below, or run remediation-undo on this message's JSON document (it first checks that nothing changed since). Exempt it first (below), or the next event fixes it again:\n");
        for command in cli_commands(&restore.undo, &doc.region) {
            text.push_str(&format!("  {command}\n"));
        }
    }
    if outcome.resource_type == ResourceType::S3Account {
        // An account has no tag to exempt it: the setting decides.
        text.push_str("\nAccount-level Block Public Access is enforced because BLOCK_PUBLIC_ACCESS=always; with true it is left as it is.\n");
    } else if outcome.outcome != OutcomeKind::Skipped {
        // Objects are exempted through their bucket (object tags are not read).
        let what = match outcome.resource_type {
            ResourceType::S3Object => "this object's bucket",
            _ => "it",
        };
        text.push_str(&format!(
            "\nTo exempt this {noun} from automatic remediation, tag {what} with the key \"{exempt_tag}\"; the value can say until when, since when, who and why: \"until=YYYY-MM-DD since=YYYY-MM-DD by=you reason\" (without until= it holds until the tag is removed).\n"
        ));
    }
    text.push_str(&format!("\n-- {function}\n"));
    text
}

/// `account 111111111111 (payments-prod), eu-west-1`: where the resource is, as a person reads it.
fn place(account: &str, name: Option<&str>, region: &str) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(name) => format!(
            "account {} ({name}), {}",
            or_unknown(account),
            or_unknown(region)
        ),
        None => format!("account {}, {}", or_unknown(account), or_unknown(region)),
    }
}

fn or_unknown(value: &str) -> &str {
    if value.is_empty() {
        "unknown"
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Severity;
    use crate::trigger::{Source, TriggerEvent};
    use serde_json::Value;

    fn trigger() -> Trigger {
        Trigger {
            source: Source::Schedule,
            event_id: "evt-1".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            event: TriggerEvent::Schedule { rule_arns: vec![] },
            account_name: None,
            message_id: None,
        }
    }

    fn remediated() -> Outcome {
        Outcome::new(
            OutcomeKind::Remediated,
            ResourceType::S3Bucket,
            "my-bucket",
            "the bucket ACL granted READ to AllUsers (anyone on the internet)",
        )
        .with_changes(vec![
            "removed AllUsers READ".into(),
            "enabled Block Public Access".into(),
        ])
        .with_severity(Severity::High)
        .with_restore(crate::s3::undo::bucket_block_public_access(
            "my-bucket",
            None,
        ))
    }

    #[test]
    fn document_follows_the_contract() {
        let message = Message::build(
            "s3-public-access",
            "remediation:exempt",
            &remediated(),
            &trigger(),
        );
        let body: Value = serde_json::from_str(&message.structured_body()).unwrap();
        for key in ["default", "email", "sqs", "lambda", "http", "https"] {
            assert!(body[key].is_string(), "{key}");
        }
        let doc: Value = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "version": 1,
                "function": "s3-public-access",
                "outcome": "remediated",
                "resource_type": "s3-bucket",
                "resource_id": "my-bucket",
                "account": "123456789012",
                "region": "us-east-1",
                "reason": "the bucket ACL granted READ to AllUsers (anyone on the internet)",
                "changes": ["removed AllUsers READ", "enabled Block Public Access"],
                "trigger": {"source": "schedule", "event_id": "evt-1", "detail": "scheduled sweep"},
                "prior": {"block_public_access": null},
                "after": {"block_public_access": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}},
                "undo": [{"service": "s3", "operation": "DeletePublicAccessBlock", "parameters": {"Bucket": "my-bucket"}, "restores": ["block_public_access"]}]
            })
        );
        assert_eq!(body["lambda"], body["sqs"]);
        assert_eq!(
            message.attributes,
            [
                ("outcome", "remediated".to_string()),
                ("resource_type", "s3-bucket".to_string()),
                ("severity", "high".to_string())
            ]
        );
    }

    /// A 20 KB bucket policy (the largest S3 takes) is in prior, after and undo, and the document in
    /// four members: the message must still fit SNS's limit, and say where the restore went.
    #[test]
    fn a_restore_too_large_for_sns_leaves_the_message_for_the_log() {
        let statement = |i: usize| {
            format!(
                r#"{{"Sid":"S{i:05}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/{i}/*"}}"#
            )
        };
        let policy = |n: usize| {
            let statements: Vec<String> = (0..n).map(statement).collect();
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
                statements.join(",")
            )
        };
        let (large, small) = (policy(140), policy(5));
        assert!(
            large.len() > 19_000 && large.len() <= 20 * 1024,
            "{}",
            large.len()
        );
        for (text, omitted) in [(&large, true), (&small, false)] {
            let fix = crate::s3::undo::BucketFix {
                policy: Some(Some(text[..text.len() / 2].to_string())),
                ..Default::default()
            };
            let state = crate::s3::BucketState {
                policy: Some(crate::s3::BucketPolicy {
                    text: text.clone(),
                    is_public: true,
                }),
                ..Default::default()
            };
            let outcome = remediated().with_restore(crate::s3::undo::bucket("b", &state, &fix));
            let message = Message::build(
                "s3-public-access",
                "remediation:exempt",
                &outcome,
                &trigger(),
            );
            assert!(
                message.structured_body().len() <= SNS_MESSAGE_LIMIT,
                "{}",
                message.structured_body().len()
            );
            assert_eq!(message.document.get("restore_omitted").is_some(), omitted);
            assert_eq!(
                message.document["undo"].as_array().unwrap().is_empty(),
                omitted
            );
            assert!(message.text.contains("To undo this"), "{}", message.text);
        }
    }

    /// Organization mode: the account's name, when known, is in the document and in the words.
    #[test]
    fn a_member_account_is_named_in_the_document_and_the_text() {
        let mut trigger = trigger();
        trigger.account = "111111111111".into();
        trigger.region = "eu-west-1".into();
        trigger.account_name = Some("payments-prod".into());
        let message = Message::build("s3-public-access", "x", &remediated(), &trigger);
        assert_eq!(message.document["account"], "111111111111");
        assert_eq!(message.document["account_name"], "payments-prod");
        assert!(
            message
                .text
                .contains("(account 111111111111 (payments-prod), eu-west-1)"),
            "{}",
            message.text
        );
        // Without a name the field is absent, not empty.
        trigger.account_name = None;
        let message = Message::build("s3-public-access", "x", &remediated(), &trigger);
        assert!(message.document.get("account_name").is_none());
        assert!(
            message.text.contains("(account 111111111111, eu-west-1)"),
            "{}",
            message.text
        );
    }

    #[test]
    fn a_fix_a_person_asked_for_says_so_in_the_document_and_the_text() {
        let event = crate::test_support::sample_event(
            "s3-public-access/securityhub-s3-2-custom-action.json",
        );
        let asked = crate::trigger::parse_payload(&event).remove(0).unwrap();
        let message = Message::build("s3-public-access", "x", &remediated(), &asked);
        let requested_by = message.document["trigger"]["requested_by"]
            .as_str()
            .unwrap();
        assert!(requested_by.contains("\"Remediate now\""), "{requested_by}");
        assert!(requested_by.contains("does not say who"), "{requested_by}");
        assert!(
            message
                .text
                .contains(&format!("Asked for by: {requested_by}")),
            "{}",
            message.text
        );
        // Not asked for: nothing claimed.
        let plain = Message::build("s3-public-access", "x", &remediated(), &trigger());
        assert!(plain.document["trigger"].get("requested_by").is_none());
        assert!(!plain.text.contains("Asked for by"));
    }

    #[test]
    fn human_text_says_what_where_why_changes_and_how_to_exempt() {
        let text = Message::build(
            "s3-public-access",
            "remediation:exempt",
            &remediated(),
            &trigger(),
        )
        .text;
        assert!(
            text.contains("Fixed S3 bucket my-bucket (account 123456789012, us-east-1)"),
            "{text}"
        );
        assert!(
            text.contains("Why: the bucket ACL granted READ to AllUsers"),
            "{text}"
        );
        assert!(text.contains("  - removed AllUsers READ\n"), "{text}");
        assert!(
            text.contains(
                "  aws s3api delete-public-access-block --region us-east-1 --bucket my-bucket\n"
            ),
            "the email ends with the undo as commands: {text}"
        );
        assert!(text.contains("remediation:exempt"), "{text}");

        let mut dry = remediated();
        dry.outcome = OutcomeKind::DryRun;
        let text = Message::build("f", "x", &dry, &trigger()).text;
        assert!(
            text.contains("nothing was changed") && text.contains("Would change:"),
            "{text}"
        );
    }

    #[test]
    fn subject_starts_with_outcome_and_stays_short_and_ascii() {
        assert_eq!(
            subject(&remediated()),
            "[remediated] my-bucket: removed AllUsers READ (+1 more)"
        );
        let skipped = Outcome::new(
            OutcomeKind::Skipped,
            ResourceType::S3Object,
            "b/ключ",
            "exempt by tag",
        );
        assert_eq!(subject(&skipped), "[skipped] b/????: exempt by tag");
        let long = Outcome::new(
            OutcomeKind::Failed,
            ResourceType::S3Object,
            "k".repeat(300),
            "x",
        );
        let s = subject(&long);
        assert_eq!(s.len(), 100);
        assert!(s.starts_with("[failed] kkk") && s.ends_with("..."));
    }
    #[test]
    fn a_digest_lists_a_sweeps_findings_in_one_message() {
        let outcomes: Vec<Outcome> = (0..60)
            .map(|i| {
                Outcome::new(
                    OutcomeKind::DryRun,
                    ResourceType::Ec2Instance,
                    format!("i-{i:03}"),
                    "missing tag env",
                )
                .with_changes(vec!["stopped".into()])
                .with_severity(if i == 7 {
                    Severity::High
                } else {
                    Severity::Medium
                })
            })
            .collect();
        let refs: Vec<&Outcome> = outcomes.iter().collect();
        let message = Message::digest(
            "untagged-instance",
            "keep",
            OutcomeKind::DryRun,
            &refs,
            &trigger(),
        );
        assert_eq!(
            message.subject,
            "[dry-run] sweep of us-east-1: 60 would change"
        );
        assert_eq!(
            message.attributes,
            [
                ("outcome", "dry-run".to_string()),
                ("resource_type", "digest".to_string()),
                ("severity", "high".to_string())
            ]
        );
        let digest = &message.document["digest"];
        assert_eq!(digest["count"], 60);
        assert_eq!(digest["resources"].as_array().unwrap().len(), DIGEST_LISTED);
        assert_eq!(digest["resources"][0]["resource_id"], "i-000");
        assert_eq!(
            digest["resources"][0]["changes"],
            serde_json::json!(["stopped"])
        );
        assert_eq!(message.document["outcome"], "dry-run");
        assert_eq!(message.document["account"], "123456789012");
        assert!(
            message.text.contains("60 resource(s) need fixing"),
            "{}",
            message.text
        );
        assert!(
            message
                .text
                .contains("- EC2 instance i-000: missing tag env"),
            "{}",
            message.text
        );
        assert!(message.text.contains("and 10 more"), "{}", message.text);
        assert!(message.text.contains("\"keep\""), "{}", message.text);
        assert!(message.structured_body().len() < 256 * 1024);
    }
}
