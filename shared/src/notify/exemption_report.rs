//! The weekly exemption report, pure: one message listing every resource of one kind in the region
//! that carries the exemption tag, with what its value says (reason, owner, end), whether it has ended,
//! and its age when the value says since when.

use serde::Serialize;
use time::Date;

use super::message::{short_subject, Message, TriggerRef};
use crate::exemption::ExemptionTag;
use crate::outcome::ResourceType;
use crate::trigger::Trigger;

/// One exempt resource, as read: its kind, id and the exemption tag's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exempt {
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub value: String,
}

/// The machine-readable report (`version` 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportDocument {
    pub version: u32,
    pub function: String,
    pub outcome: &'static str,
    pub account: String,
    pub region: String,
    pub exemptions: Vec<ReportEntry>,
    pub trigger: TriggerRef,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportEntry {
    pub resource_type: ResourceType,
    pub resource_id: String,
    /// The tag's value exactly as set.
    pub tag_value: String,
    pub reason: String,
    pub by: Option<String>,
    /// `YYYY-MM-DD`, the last day it holds; `None`: no end.
    pub until: Option<String>,
    /// `active`, `ended` (no longer protects: fixed at the next event), `no-end`.
    pub status: &'static str,
    /// Days since `since=`; `None` when the value does not say.
    pub age_days: Option<i64>,
}

/// The report of `exempt` resources on `today`; `None` when there are none (nothing to tell).
pub fn message(
    function: &str,
    exempt_tag: &str,
    exempt: &[Exempt],
    today: Date,
    trigger: &Trigger,
) -> Option<Message> {
    let first = exempt.first()?;
    let noun = first.resource_type.noun();
    let entries: Vec<ReportEntry> = exempt.iter().map(|e| entry(e, today)).collect();
    let count = |status: &str| entries.iter().filter(|e| e.status == status).count();
    let (ended, no_end) = (count("ended"), count("no-end"));
    let region = if trigger.region.is_empty() {
        "unknown"
    } else {
        &trigger.region
    };
    let mut text = format!(
        "Exemption report for account {}, {region}: {} {noun}(s) carry the tag {exempt_tag}; {ended} ended (fixed again at their next event), {no_end} without an end date.\n",
        trigger.account,
        entries.len()
    );
    for e in &entries {
        let status = match (e.status, &e.until) {
            ("ended", Some(until)) => format!("ENDED {until}"),
            (_, Some(until)) => format!("until {until}"),
            _ => "NO END DATE".to_string(),
        };
        let age = e
            .age_days
            .map(|days| format!("{days} days old"))
            .unwrap_or_else(|| "age unknown (no since=)".to_string());
        let by = e.by.as_deref().unwrap_or("owner not named (no by=)");
        let reason = if e.reason.is_empty() {
            "no reason given"
        } else {
            &e.reason
        };
        text.push_str(&format!(
            "\n- {} {}: {status}; {age}; {by}; {reason}\n",
            e.resource_type.noun(),
            e.resource_id
        ));
    }
    text.push_str(&format!(
        "\nAn exemption is best written as \"until=YYYY-MM-DD since=YYYY-MM-DD by=owner reason\" in the value of {exempt_tag}. Remove the tag when it is no longer needed.\n\n-- {function}\n"
    ));
    let document = ReportDocument {
        version: 1,
        function: function.to_string(),
        outcome: "report",
        account: trigger.account.clone(),
        region: trigger.region.clone(),
        exemptions: entries,
        trigger: TriggerRef {
            source: trigger.source,
            event_id: trigger.event_id.clone(),
            detail: "weekly exemption report".to_string(),
            requested_by: None,
        },
    };
    Some(Message {
        subject: short_subject(format!(
            "[report] exemptions in {region}: {} {noun}(s), {ended} ended, {no_end} without end",
            document.exemptions.len()
        )),
        text,
        attributes: vec![
            ("outcome", "report".to_string()),
            ("resource_type", "exemption-report".to_string()),
            ("severity", "low".to_string()),
        ],
        document: serde_json::to_value(&document).unwrap_or_default(),
    })
}

fn entry(exempt: &Exempt, today: Date) -> ReportEntry {
    let tag = ExemptionTag::parse(&exempt.value);
    let status = match tag.until {
        None => "no-end",
        Some(_) if tag.holds_on(today) => "active",
        Some(_) => "ended",
    };
    ReportEntry {
        resource_type: exempt.resource_type,
        resource_id: exempt.resource_id.clone(),
        tag_value: exempt.value.clone(),
        reason: tag.reason.clone(),
        by: tag.by.clone(),
        until: tag.until.map(|d| d.to_string()),
        status,
        age_days: tag.since.map(|since| (today - since).whole_days()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::{Source, TriggerEvent};

    fn trigger() -> Trigger {
        Trigger {
            source: Source::Schedule,
            event_id: "e".into(),
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            event: TriggerEvent::Schedule { rule_arns: vec![] },
            account_name: None,
            message_id: None,
        }
    }

    fn exempt(id: &str, value: &str) -> Exempt {
        Exempt {
            resource_type: ResourceType::SecurityGroup,
            resource_id: id.into(),
            value: value.into(),
        }
    }

    #[test]
    fn each_exemption_is_listed_with_its_end_owner_reason_and_age() {
        let today = Date::from_calendar_date(2026, time::Month::December, 7).unwrap();
        let message = message(
            "open-security-group",
            "remediation:exempt",
            &[
                exempt(
                    "sg-active",
                    "until=2027-01-31 since=2026-11-30 by=jdoe vendor migration",
                ),
                exempt("sg-ended", "until=2026-12-01 by=ops load test"),
                exempt("sg-forever", ""),
            ],
            today,
            &trigger(),
        )
        .expect("a report");
        assert_eq!(
            message.subject,
            "[report] exemptions in eu-west-1: 3 security group(s), 1 ended, 1 without end"
        );
        for line in [
            "- security group sg-active: until 2027-01-31; 7 days old; jdoe; vendor migration",
            "- security group sg-ended: ENDED 2026-12-01; age unknown (no since=); ops; load test",
            "- security group sg-forever: NO END DATE; age unknown (no since=); owner not named (no by=); no reason given",
        ] {
            assert!(message.text.contains(line), "{line}\n{}", message.text);
        }
        let entries = &message.document["exemptions"];
        assert_eq!(entries[0]["status"], "active");
        assert_eq!(entries[0]["age_days"], 7);
        assert_eq!(entries[1]["status"], "ended");
        assert_eq!(entries[2]["status"], "no-end");
        assert_eq!(entries[2]["until"], serde_json::Value::Null);
        assert_eq!(message.document["outcome"], "report");
    }

    #[test]
    fn no_exempt_resource_means_no_message() {
        let today = Date::from_calendar_date(2026, time::Month::December, 7).unwrap();
        assert_eq!(message("f", "t", &[], today, &trigger()), None);
    }
}
