//! The exemption tag, pure: whether a resource is exempt today, and what the tag's value says.
//!
//! The key (`EXEMPT_TAG`, default `remediation:exempt`) exempts a bucket, security group or instance.
//! Its value may give the exemption an end and an owner, in words a person types into a tag:
//! `until=2027-01-31 by=jdoe@example.com vendor migration`. AWS tag values allow letters, digits, spaces
//! and `+ - = . _ : / @` (Tagging AWS resources, "Tag naming limits and requirements"), so the parts are
//! separated by spaces: `until=YYYY-MM-DD` (UTC, the last day it holds), `by=` or `owner=` (who set it),
//! `since=YYYY-MM-DD` (when it was granted: the weekly exemption report gives its age), and the rest, or
//! what follows `reason=`, is the reason. An exemption without an end is honoured, as
//! before; one whose end has passed is not, and the message says whose it was and that it ended.

use std::fmt;

use time::{Date, Month};

/// What the exemption tag's value says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExemptionTag {
    /// The last day (UTC) the exemption holds.
    pub until: Option<Date>,
    /// An `until=` that is not a date: the exemption is honoured without an end, and the message says so.
    pub unreadable_until: Option<String>,
    pub by: Option<String>,
    /// `since=YYYY-MM-DD`: the day it was granted, for the exemption report's age.
    pub since: Option<Date>,
    pub reason: String,
}

/// What the exemption means for a resource today; each names the tag with what its value says
/// (`tag remediation:exempt: until 2027-01-31, set by jdoe, vendor migration`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exemption {
    /// Exempt: leave it alone.
    Active(String),
    /// The tag is there but its end has passed: the resource is fixed as if it had none, and the
    /// message says whose exemption ended, and when.
    Ended(String),
}

/// `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

impl ExemptionTag {
    pub fn parse(value: &str) -> Self {
        let mut tag = ExemptionTag::default();
        let mut words: Vec<&str> = Vec::new();
        let mut tokens = value.split_whitespace();
        while let Some(token) = tokens.next() {
            let (key, rest) = token.split_once('=').unwrap_or(("", token));
            match key.to_ascii_lowercase().as_str() {
                "until" => match parse_date(rest) {
                    Some(date) => tag.until = Some(date),
                    None => tag.unreadable_until = Some(rest.to_string()),
                },
                "by" | "owner" if !rest.is_empty() => tag.by = Some(rest.to_string()),
                "since" if parse_date(rest).is_some() => tag.since = parse_date(rest),
                // Everything after `reason=` is the reason, spaces and all.
                "reason" => {
                    words.push(rest);
                    words.extend(tokens.by_ref());
                }
                _ => words.push(token),
            }
        }
        tag.reason = words.join(" ").trim().to_string();
        tag
    }

    /// Whether the exemption still holds on `today` (the end day itself included).
    pub fn holds_on(&self, today: Date) -> bool {
        self.until.is_none_or(|until| today <= until)
    }
}

impl fmt::Display for ExemptionTag {
    /// `until 2027-01-31, set by jdoe, vendor migration`; empty when the value says nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match (&self.until, &self.unreadable_until) {
            (Some(until), _) => parts.push(format!("until {until}")),
            (None, Some(text)) => {
                parts.push(format!("no end: until={text} is not a YYYY-MM-DD date"))
            }
            (None, None) => {}
        }
        if let Some(by) = &self.by {
            parts.push(format!("set by {by}"));
        }
        if !self.reason.is_empty() {
            parts.push(self.reason.clone());
        }
        f.write_str(&parts.join(", "))
    }
}

/// The exemption a resource's tags give it on `today`; `None` when it does not carry `exempt_tag`.
pub fn exemption_of(tags: &[(String, String)], exempt_tag: &str, today: Date) -> Option<Exemption> {
    let (_, value) = tags.iter().find(|(key, _)| key == exempt_tag)?;
    let tag = ExemptionTag::parse(value);
    let says = tag.to_string();
    let named = if says.is_empty() {
        format!("tag {exempt_tag}")
    } else {
        format!("tag {exempt_tag}: {says}")
    };
    Some(if tag.holds_on(today) {
        Exemption::Active(named)
    } else {
        Exemption::Ended(named)
    })
}

impl Exemption {
    /// `bucket b is exempt (tag ...)` / `bucket b's exemption (tag ...) ended, ...`.
    pub fn describe(&self, what: &str) -> String {
        match self {
            Exemption::Active(tag) => format!("{what} is exempt ({tag})"),
            Exemption::Ended(tag) => {
                format!("{what}'s exemption ({tag}) ended, so it is no longer left alone")
            }
        }
    }
}

/// The reason for a wrong resource, after its exemption: `Err(why it is skipped)` while the exemption
/// holds, `Ok(reason)` otherwise, saying so when an exemption ended.
pub fn judge(
    reason: String,
    what: &str,
    tags: &[(String, String)],
    exempt_tag: &str,
    today: Date,
) -> Result<String, String> {
    match exemption_of(tags, exempt_tag, today) {
        Some(active @ Exemption::Active(_)) => Err(format!("{reason}; {}", active.describe(what))),
        Some(ended) => Ok(format!("{reason}; {}", ended.describe(what))),
        None => Ok(reason),
    }
}

/// Today, UTC: the day exemptions are judged on.
pub fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TAG: &str = "remediation:exempt";

    fn day(text: &str) -> Date {
        parse_date(text).unwrap()
    }

    fn tags(value: &str) -> Vec<(String, String)> {
        vec![("Name".into(), "web".into()), (TAG.into(), value.into())]
    }

    #[test]
    fn an_exemption_without_an_end_holds() {
        for value in ["", "lab", "load test by the perf team"] {
            assert!(matches!(
                exemption_of(&tags(value), TAG, day("2030-01-01")),
                Some(Exemption::Active(_))
            ));
        }
        assert_eq!(
            judge(
                "public".into(),
                "bucket b",
                &tags(""),
                TAG,
                day("2030-01-01")
            ),
            Err("public; bucket b is exempt (tag remediation:exempt)".into())
        );
    }

    #[test]
    fn an_exemption_holds_through_its_last_day_and_ends_after() {
        let value = "until=2026-12-31 by=jdoe@example.com vendor migration";
        assert_eq!(
            judge("open".into(), "group sg-1", &tags(value), TAG, day("2026-12-31")),
            Err("open; group sg-1 is exempt (tag remediation:exempt: until 2026-12-31, set by jdoe@example.com, vendor migration)".into())
        );
        assert_eq!(
            judge("open".into(), "group sg-1", &tags(value), TAG, day("2027-01-01")),
            Ok("open; group sg-1's exemption (tag remediation:exempt: until 2026-12-31, set by jdoe@example.com, vendor migration) ended, so it is no longer left alone".into())
        );
    }

    #[test]
    fn the_value_is_read_as_people_write_it() {
        let tag = ExemptionTag::parse(
            "Until=2027-02-01 owner=team-data reason=nightly export: until=soon",
        );
        assert_eq!(tag.until, Some(day("2027-02-01")));
        assert_eq!(tag.by.as_deref(), Some("team-data"));
        assert_eq!(
            tag.reason, "nightly export: until=soon",
            "everything after reason= is the reason"
        );
        let unreadable = ExemptionTag::parse("until=next-week");
        assert_eq!(unreadable.until, None);
        assert!(
            unreadable.holds_on(day("2099-01-01")),
            "honoured without an end, as the message says"
        );
        assert!(unreadable
            .to_string()
            .contains("until=next-week is not a YYYY-MM-DD date"));
        assert_eq!(
            ExemptionTag::parse("until=2027-02-30").until,
            None,
            "no such day"
        );
    }

    #[test]
    fn only_the_configured_key_exempts() {
        let other = vec![("remediation:Exempt".to_string(), "".to_string())];
        assert_eq!(exemption_of(&other, TAG, day("2026-01-01")), None);
        assert_eq!(
            judge("public".into(), "bucket b", &other, TAG, day("2026-01-01")),
            Ok("public".into())
        );
    }

    proptest! {
        /// An exemption with an end holds exactly until that day, whatever else the value says.
        #[test]
        fn the_end_decides(
            until in 0i32..3000, today in 0i32..3000,
            by in proptest::option::of("[a-z@.]{1,12}"),
            reason in "[A-Za-z ]{0,20}",
        ) {
            let base = day("2026-01-01");
            let until = base + time::Duration::days(i64::from(until));
            let today = base + time::Duration::days(i64::from(today));
            let mut value = format!("until={until} {reason}");
            if let Some(by) = &by {
                value = format!("by={by} {value}");
            }
            let judged = judge("public".into(), "bucket b", &tags(&value), TAG, today);
            prop_assert_eq!(judged.is_err(), today <= until, "{:?}", judged);
            let tag = ExemptionTag::parse(&value);
            prop_assert_eq!(tag.by, by);
            prop_assert_eq!(tag.reason, reason.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
}
