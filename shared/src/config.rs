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

/// `SWEEP_ACCOUNTS`: the accounts a fanned-out sweep covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SweepAccounts {
    /// Empty: the function's own account.
    #[default]
    Own,
    /// `organization`: every active account of the organization (Organizations `ListAccounts`).
    Organization,
    /// Account ids, in the order given.
    Listed(Vec<String>),
}

/// Organization mode and fanned-out sweeps (`MEMBER_ROLE_NAME`, `SWEEP_*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrganizationSettings {
    /// The role the functions assume in every other account; `None`: single-account mode.
    pub member_role_name: Option<String>,
    pub sweep_accounts: SweepAccounts,
    /// Empty: the function's own region.
    pub sweep_regions: Vec<String>,
    /// The queue a scheduled sweep fans out through, one job per account x region; `None`: inline.
    pub sweep_queue_url: Option<String>,
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
    pub organization: OrganizationSettings,
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
            organization: OrganizationSettings::default(),
        }
    }
}

impl Settings {
    /// Whether to decide and tell without changing anything, for this trigger: `DRY_RUN`, unless a
    /// person asked for the fix (a Security Hub custom action), which is carried out even in a dry run.
    pub fn dry_run_for(&self, trigger: &crate::trigger::Trigger) -> bool {
        self.dry_run && !trigger.is_approval()
    }

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
        settings.organization = OrganizationSettings::from_lookup(&get)?;
        Ok(settings)
    }
}

impl OrganizationSettings {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut org = OrganizationSettings::default();
        if let Some(name) = get("MEMBER_ROLE_NAME") {
            let name = name.trim().to_string();
            // IAM role names: 1-64 characters of letters, digits and `+=,.@_-` (IAM API Reference,
            // CreateRole, RoleName). A path or an ARN is not a name.
            let valid = name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
            if !valid {
                return Err(invalid(
                    "MEMBER_ROLE_NAME",
                    &name,
                    "expected an IAM role name (up to 64 letters, digits or +=,.@_-), not a path or ARN",
                ));
            }
            org.member_role_name = Some(name);
        }
        if let Some(url) = get("SWEEP_QUEUE_URL") {
            let url = url.trim().to_string();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid(
                    "SWEEP_QUEUE_URL",
                    &url,
                    "expected an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)",
                ));
            }
            org.sweep_queue_url = Some(url);
        }
        if let Some(value) = get("SWEEP_ACCOUNTS") {
            org.sweep_accounts =
                parse_sweep_accounts(&value).map_err(|e| invalid("SWEEP_ACCOUNTS", &value, &e))?;
            let needs = match (&org.sweep_queue_url, &org.member_role_name) {
                (None, _) => {
                    Some("SWEEP_QUEUE_URL (sweeps of other accounts fan out through a queue)")
                }
                (_, None) => {
                    Some("MEMBER_ROLE_NAME (the role to act through in the other accounts)")
                }
                _ => None,
            };
            if let Some(needs) = needs {
                return Err(invalid("SWEEP_ACCOUNTS", &value, &format!("needs {needs}")));
            }
        }
        if let Some(value) = get("SWEEP_REGIONS") {
            org.sweep_regions =
                parse_regions(&value).map_err(|e| invalid("SWEEP_REGIONS", &value, &e))?;
            if org.sweep_queue_url.is_none() {
                return Err(invalid(
                    "SWEEP_REGIONS",
                    &value,
                    "needs SWEEP_QUEUE_URL (sweeps of several regions fan out through a queue)",
                ));
            }
        }
        Ok(org)
    }
}

/// `organization`, or comma-separated 12-digit account ids.
fn parse_sweep_accounts(text: &str) -> Result<SweepAccounts, String> {
    if text.trim().eq_ignore_ascii_case("organization") {
        return Ok(SweepAccounts::Organization);
    }
    let mut accounts: Vec<String> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.len() != 12 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{part:?} is not an account id (12 digits); expected ids or `organization`"
            ));
        }
        if !accounts.iter().any(|a| a == part) {
            accounts.push(part.to_string());
        }
    }
    Ok(SweepAccounts::Listed(accounts))
}

/// Comma-separated region names such as `us-east-1,eu-west-1`.
fn parse_regions(text: &str) -> Result<Vec<String>, String> {
    let mut regions: Vec<String> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut pieces = part.split('-');
        let well_formed = pieces.clone().count() >= 3
            && pieces
                .next()
                .is_some_and(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_lowercase()))
            && part
                .rsplit('-')
                .next()
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !well_formed {
            return Err(format!("{part:?} is not a region name such as us-east-1"));
        }
        if !regions.iter().any(|r| r == part) {
            regions.push(part.to_string());
        }
    }
    Ok(regions)
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
            ("MEMBER_ROLE_NAME", "arn:aws:iam::123456789012:role/x"),
            ("MEMBER_ROLE_NAME", "path/role"),
            ("SWEEP_QUEUE_URL", "jobs"),
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
    fn organization_settings_parse_and_say_what_they_need() {
        let queue = (
            "SWEEP_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
        );
        let role = ("MEMBER_ROLE_NAME", "remediation-member");
        let s = settings(&[
            queue,
            role,
            ("SWEEP_ACCOUNTS", "111111111111, 222222222222,111111111111"),
            ("SWEEP_REGIONS", "us-east-1,eu-west-1"),
        ])
        .unwrap();
        let org = &s.organization;
        assert_eq!(org.member_role_name.as_deref(), Some("remediation-member"));
        assert_eq!(
            org.sweep_accounts,
            SweepAccounts::Listed(vec!["111111111111".into(), "222222222222".into()])
        );
        assert_eq!(org.sweep_regions, ["us-east-1", "eu-west-1"]);
        let s = settings(&[queue, role, ("SWEEP_ACCOUNTS", "Organization")]).unwrap();
        assert_eq!(s.organization.sweep_accounts, SweepAccounts::Organization);
        // Defaults: single-account, inline sweeps of the own account and region.
        assert_eq!(
            settings(&[]).unwrap().organization,
            OrganizationSettings::default()
        );

        for (vars, variable, says) in [
            (
                vec![queue, role, ("SWEEP_ACCOUNTS", "1234")],
                "SWEEP_ACCOUNTS",
                "12 digits",
            ),
            (
                vec![role, ("SWEEP_ACCOUNTS", "111111111111")],
                "SWEEP_ACCOUNTS",
                "SWEEP_QUEUE_URL",
            ),
            (
                vec![queue, ("SWEEP_ACCOUNTS", "111111111111")],
                "SWEEP_ACCOUNTS",
                "MEMBER_ROLE_NAME",
            ),
            (
                vec![("SWEEP_REGIONS", "us-east-1")],
                "SWEEP_REGIONS",
                "SWEEP_QUEUE_URL",
            ),
            (
                vec![queue, ("SWEEP_REGIONS", "virginia")],
                "SWEEP_REGIONS",
                "region name",
            ),
            (
                vec![queue, ("SWEEP_REGIONS", "US-EAST-1")],
                "SWEEP_REGIONS",
                "region name",
            ),
        ] {
            let err = settings(&vars).unwrap_err();
            assert_eq!(err.variable, variable, "{vars:?}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn overlapping_port_ranges_merge() {
        let ports = PortSet::parse("80-90,85-100,101,443").unwrap();
        assert_eq!(ports.to_string(), "80-101,443");
    }
}
