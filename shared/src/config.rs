//! Settings read once from the environment at start-up (`docs/settings.md` lists them).
//!
//! A bad value is an error that names the variable, so Lambda shows it as an init failure
//! instead of the function running with a policy nobody asked for.

use std::fmt;
use std::ops::RangeInclusive;

#[derive(Debug, thiserror::Error)]
#[error("invalid setting {variable}={value:?}: {reason}")]
pub struct SettingsError {
    pub variable: &'static str,
    pub value: String,
    pub reason: String,
}

/// TCP ports that may stay open to the internet, as inclusive ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSet(Vec<RangeInclusive<u16>>);

impl PortSet {
    pub fn new(mut ranges: Vec<RangeInclusive<u16>>) -> Self {
        ranges.sort_by_key(|r| *r.start());
        let mut merged: Vec<RangeInclusive<u16>> = Vec::new();
        for range in ranges {
            match merged.last_mut() {
                Some(last) if *range.start() <= last.end().saturating_add(1) => {
                    let end = (*last.end()).max(*range.end());
                    *last = *last.start()..=end;
                }
                _ => merged.push(range),
            }
        }
        PortSet(merged)
    }

    /// Parses `80,443,8000-8080`; an empty string is an empty set.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (from, to) = match part.split_once('-') {
                Some((from, to)) => (parse_port(from)?, parse_port(to)?),
                None => {
                    let port = parse_port(part)?;
                    (port, port)
                }
            };
            if from > to {
                return Err(format!("port range {part} runs backwards"));
            }
            ranges.push(from..=to);
        }
        Ok(PortSet::new(ranges))
    }

    pub fn ranges(&self) -> &[RangeInclusive<u16>] {
        &self.0
    }

    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|r| r.contains(&port))
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}-{}", r.start(), r.end())
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .map_err(|_| format!("{:?} is not a port number (0-65535)", text.trim()))
}

/// One entry of `REQUIRED_TAGS`: a key, and optionally the values it may have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRule {
    pub key: String,
    /// Empty means any non-empty value is fine.
    pub allowed_values: Vec<String>,
}

/// Parses `Name,env=prod|stg|dev`.
pub fn parse_required_tags(text: &str) -> Result<Vec<TagRule>, String> {
    let mut rules = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, allowed_values) = match part.split_once('=') {
            Some((key, values)) => {
                let values: Vec<String> = values
                    .split('|')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(String::from)
                    .collect();
                if values.is_empty() {
                    return Err(format!("tag {key:?} lists no allowed values after '='"));
                }
                (key.trim(), values)
            }
            None => (part, Vec::new()),
        };
        if key.is_empty() {
            return Err(format!("{part:?} has an empty tag key"));
        }
        if rules.iter().any(|r: &TagRule| r.key == key) {
            return Err(format!("tag key {key:?} is listed twice"));
        }
        rules.push(TagRule {
            key: key.to_string(),
            allowed_values,
        });
    }
    Ok(rules)
}

pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_string()),
    }
}

/// `BLOCK_PUBLIC_ACCESS`: when S3 Block Public Access is turned on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BlockPublicAccessMode {
    /// `true`: on a bucket found exposed (a public ACL grant or a public bucket policy).
    #[default]
    WhenExposed,
    /// `always`: every bucket in scope, and the account, must have all four settings on; Block
    /// Public Access turned off is a finding by itself (Security Hub controls S3.8 and S3.1).
    Always,
    /// `false`: never changed.
    Never,
}

impl BlockPublicAccessMode {
    fn parse(text: &str) -> Result<Self, String> {
        if text.trim().eq_ignore_ascii_case("always") {
            return Ok(BlockPublicAccessMode::Always);
        }
        match parse_bool(text) {
            Ok(true) => Ok(BlockPublicAccessMode::WhenExposed),
            Ok(false) => Ok(BlockPublicAccessMode::Never),
            Err(_) => Err("expected true, always or false".to_string()),
        }
    }

    pub fn allows_changes(self) -> bool {
        self != BlockPublicAccessMode::Never
    }
}

/// `PUBLIC_POLICY`: how a bucket exposed by its bucket policy is closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PublicPolicyFix {
    /// `block`: Block Public Access alone (`RestrictPublicBuckets` cuts the public statements off);
    /// the policy text stays as its owner wrote it.
    #[default]
    Block,
    /// `remove`: also rewrite the policy without its public statements, every other one kept.
    Remove,
}

impl PublicPolicyFix {
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "block" => Ok(PublicPolicyFix::Block),
            "remove" => Ok(PublicPolicyFix::Remove),
            _ => Err("expected block or remove".to_string()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub notification_topic_arn: Option<String>,
    /// SQS queue that keeps a notification SNS would not take after a change (the stack's dead-letter
    /// queue), so that no change goes untold when a retry would find the resource compliant.
    pub undelivered_queue_url: Option<String>,
    pub dry_run: bool,
    pub exempt_tag: String,
    pub allowed_public_ports: PortSet,
    pub required_tags: Vec<TagRule>,
    pub grace_minutes: u32,
    pub block_public_access: BlockPublicAccessMode,
    pub public_policy: PublicPolicyFix,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            notification_topic_arn: None,
            undelivered_queue_url: None,
            dry_run: false,
            exempt_tag: "remediation:exempt".to_string(),
            allowed_public_ports: PortSet::new(vec![80..=80, 443..=443]),
            required_tags: vec![
                TagRule {
                    key: "Name".to_string(),
                    allowed_values: Vec::new(),
                },
                TagRule {
                    key: "env".to_string(),
                    allowed_values: Vec::new(),
                },
            ],
            grace_minutes: 0,
            block_public_access: BlockPublicAccessMode::WhenExposed,
            public_policy: PublicPolicyFix::Block,
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads every setting through `lookup`; unset or blank values take the default
    /// (SAM passes empty strings for empty parameters).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut settings = Settings::default();

        if let Some(arn) = get("NOTIFICATION_TOPIC_ARN") {
            let arn = arn.trim().to_string();
            if !arn.starts_with("arn:") || !arn.contains(":sns:") {
                return Err(invalid(
                    "NOTIFICATION_TOPIC_ARN",
                    &arn,
                    "expected an SNS topic ARN (arn:aws:sns:...)",
                ));
            }
            settings.notification_topic_arn = Some(arn);
        }
        if let Some(url) = get("UNDELIVERED_QUEUE_URL") {
            let url = url.trim().to_string();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid(
                    "UNDELIVERED_QUEUE_URL",
                    &url,
                    "expected an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)",
                ));
            }
            settings.undelivered_queue_url = Some(url);
        }
        if let Some(value) = get("DRY_RUN") {
            settings.dry_run = parse_bool(&value).map_err(|e| invalid("DRY_RUN", &value, &e))?;
        }
        if let Some(value) = get("EXEMPT_TAG") {
            settings.exempt_tag = value.trim().to_string();
        }
        if let Some(value) = lookup("ALLOWED_PUBLIC_PORTS") {
            // Unlike the others, an empty value is meaningful here: no public port at all.
            settings.allowed_public_ports =
                PortSet::parse(&value).map_err(|e| invalid("ALLOWED_PUBLIC_PORTS", &value, &e))?;
        }
        if let Some(value) = get("REQUIRED_TAGS") {
            settings.required_tags =
                parse_required_tags(&value).map_err(|e| invalid("REQUIRED_TAGS", &value, &e))?;
        }
        if let Some(value) = get("GRACE_MINUTES") {
            settings.grace_minutes = value.trim().parse::<u32>().map_err(|_| {
                invalid(
                    "GRACE_MINUTES",
                    &value,
                    "expected whole minutes (0 or more)",
                )
            })?;
        }
        if let Some(value) = get("BLOCK_PUBLIC_ACCESS") {
            settings.block_public_access = BlockPublicAccessMode::parse(&value)
                .map_err(|e| invalid("BLOCK_PUBLIC_ACCESS", &value, &e))?;
        }
        if let Some(value) = get("PUBLIC_POLICY") {
            settings.public_policy =
                PublicPolicyFix::parse(&value).map_err(|e| invalid("PUBLIC_POLICY", &value, &e))?;
        }
        Ok(settings)
    }
}

fn invalid(variable: &'static str, value: &str, reason: &str) -> SettingsError {
    SettingsError {
        variable,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_design_table() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.notification_topic_arn, None);
        assert!(!s.dry_run);
        assert_eq!(s.exempt_tag, "remediation:exempt");
        assert_eq!(s.allowed_public_ports.to_string(), "80,443");
        let keys: Vec<&str> = s.required_tags.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["Name", "env"]);
        assert_eq!(s.grace_minutes, 0);
        assert_eq!(s.block_public_access, BlockPublicAccessMode::WhenExposed);
        assert_eq!(s.public_policy, PublicPolicyFix::Block);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("ALLOWED_PUBLIC_PORTS", "ssh"),
            ("ALLOWED_PUBLIC_PORTS", "90-80"),
            ("ALLOWED_PUBLIC_PORTS", "70000"),
            ("GRACE_MINUTES", "soon"),
            ("GRACE_MINUTES", "-5"),
            ("BLOCK_PUBLIC_ACCESS", "perhaps"),
            ("PUBLIC_POLICY", "delete"),
            ("DRY_RUN", "maybe"),
            ("REQUIRED_TAGS", "env="),
            ("REQUIRED_TAGS", "env,env"),
            ("NOTIFICATION_TOPIC_ARN", "my-topic"),
            ("UNDELIVERED_QUEUE_URL", "my-queue"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn parses_every_documented_form() {
        let s = settings(&[
            (
                "NOTIFICATION_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:t",
            ),
            ("DRY_RUN", "TRUE"),
            ("EXEMPT_TAG", "keep-me"),
            ("ALLOWED_PUBLIC_PORTS", "443, 8000-8080,80"),
            ("REQUIRED_TAGS", "Name, env=prod|stg|dev"),
            ("GRACE_MINUTES", "30"),
            ("BLOCK_PUBLIC_ACCESS", "false"),
        ])
        .unwrap();
        assert_eq!(
            s.notification_topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:t")
        );
        assert!(s.dry_run);
        assert_eq!(s.exempt_tag, "keep-me");
        assert_eq!(s.allowed_public_ports.to_string(), "80,443,8000-8080");
        assert!(s.allowed_public_ports.contains(8080));
        assert!(!s.allowed_public_ports.contains(8081));
        assert_eq!(s.required_tags[1].allowed_values, ["prod", "stg", "dev"]);
        assert_eq!(s.grace_minutes, 30);
        assert_eq!(s.block_public_access, BlockPublicAccessMode::Never);
    }

    #[test]
    fn block_public_access_and_public_policy_take_their_three_and_two_values() {
        for (value, mode) in [
            ("true", BlockPublicAccessMode::WhenExposed),
            ("Always", BlockPublicAccessMode::Always),
            ("false", BlockPublicAccessMode::Never),
        ] {
            let s = settings(&[("BLOCK_PUBLIC_ACCESS", value)]).unwrap();
            assert_eq!(s.block_public_access, mode, "{value}");
        }
        for (value, fix) in [
            ("block", PublicPolicyFix::Block),
            ("REMOVE", PublicPolicyFix::Remove),
        ] {
            let s = settings(&[("PUBLIC_POLICY", value)]).unwrap();
            assert_eq!(s.public_policy, fix, "{value}");
        }
    }

    #[test]
    fn empty_allowed_ports_means_none_and_blank_others_mean_default() {
        let s = settings(&[("ALLOWED_PUBLIC_PORTS", ""), ("DRY_RUN", " ")]).unwrap();
        assert!(s.allowed_public_ports.ranges().is_empty());
        assert!(!s.dry_run);
    }

    #[test]
    fn overlapping_port_ranges_merge() {
        let ports = PortSet::parse("80-90,85-100,101,443").unwrap();
        assert_eq!(ports.to_string(), "80-101,443");
    }
}
