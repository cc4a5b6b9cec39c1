//! The Config rule's judgement, pure: the remediations' own policies (`s3::plan_acl`,
//! `security_group::plan_group`, `instance::plan_instance`) answered as Config compliance, so Config
//! shows exactly what the functions would fix, and a configuration item judged from its own content.

use serde::Serialize;
use serde_json::Value;
use time::{Date, OffsetDateTime};

use super::parameters::RuleScope;
use crate::config::BlockPublicAccessMode;
use crate::config::Settings;
use crate::exemption::{exemption_of, Exemption};
use crate::instance::item::instance_from_item;
use crate::instance::{
    plan_instance, problems_text, required_tags_text, InstanceAction, InstanceState,
};
use crate::s3::item::{account_block_from_item, bucket_state_from_item};
use crate::s3::{plan_account, plan_bucket, BlockPublicAccess, BucketState};
use crate::security_group::item::rules_from_item;
use crate::security_group::{plan_group, IngressRule};
use crate::shape::{config_item_tags, str_field};

pub const BUCKET: &str = "AWS::S3::Bucket";
pub const SECURITY_GROUP: &str = "AWS::EC2::SecurityGroup";
pub const INSTANCE: &str = "AWS::EC2::Instance";
/// The account's own S3 Block Public Access settings (resource id: the account id).
pub const ACCOUNT_BLOCK: &str = "AWS::S3::AccountPublicAccessBlock";
/// Every type the rule can evaluate (`resourceTypes` may name any of them).
pub const RESOURCE_TYPES: [&str; 4] = [BUCKET, SECURITY_GROUP, INSTANCE, ACCOUNT_BLOCK];
/// What a rule without `resourceTypes` evaluates: the three resources the remediations fix. The
/// account-level settings are opted into, since they are a finding only with `BLOCK_PUBLIC_ACCESS=always`.
pub const DEFAULT_RESOURCE_TYPES: [&str; 3] = [BUCKET, SECURITY_GROUP, INSTANCE];

/// Config's limit on an annotation's length, in characters.
const ANNOTATION_LIMIT: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compliance {
    Compliant,
    NonCompliant,
    NotApplicable,
}

impl Compliance {
    pub fn as_str(self) -> &'static str {
        match self {
            Compliance::Compliant => "COMPLIANT",
            Compliance::NonCompliant => "NON_COMPLIANT",
            Compliance::NotApplicable => "NOT_APPLICABLE",
        }
    }
}

pub type Verdict = (Compliance, String);

/// A wrong resource after its exemption tag: `COMPLIANT` while the exemption holds (saying what the
/// tag says), `NON_COMPLIANT` otherwise, noting an exemption that ended.
fn judged(settings: &Settings, tags: &[(String, String)], finding: String, today: Date) -> Verdict {
    match exemption_of(tags, &settings.exempt_tag, today) {
        Some(Exemption::Active(tag)) => {
            (Compliance::Compliant, format!("exempt ({tag}): {finding}"))
        }
        Some(Exemption::Ended(tag)) => (
            Compliance::NonCompliant,
            format!("{finding}; exemption ({tag}) ended"),
        ),
        None => (Compliance::NonCompliant, finding),
    }
}

/// What `open-security-group` would revoke.
pub fn security_group_verdict(
    tags: &[(String, String)],
    rules: &[IngressRule],
    settings: &Settings,
    today: Date,
) -> Verdict {
    let allowed = &settings.allowed_public_ports;
    let plan = plan_group(rules, allowed, &[]);
    if plan.is_compliant() {
        return (
            Compliance::Compliant,
            "no ingress open to the internet on disallowed ports".to_string(),
        );
    }
    let open: Vec<String> = plan
        .revoke
        .iter()
        .map(|r| format!("{} open to {}", r.traffic(), r.source))
        .collect();
    let allowed = if allowed.ranges().is_empty() {
        "none".to_string()
    } else {
        allowed.to_string()
    };
    let finding = format!("{} (allowed public ports: {allowed})", open.join("; "));
    judged(settings, tags, finding, today)
}

/// What `s3-public-access` would fix: public grants, a public policy nothing cuts off, and (with
/// `BLOCK_PUBLIC_ACCESS=always`) Block Public Access not all on.
pub fn bucket_verdict(
    tags: &[(String, String)],
    state: &BucketState,
    settings: &Settings,
    today: Date,
) -> Verdict {
    let plan = plan_bucket(state, settings);
    if plan.is_compliant() {
        return (
            Compliance::Compliant,
            "no public grants in the bucket ACL and no public bucket policy".to_string(),
        );
    }
    let finding = plan.reason();
    judged(settings, tags, finding, today)
}

/// What `s3-public-access` would do about the account's own settings: under `always`, all four on.
pub fn account_verdict(current: Option<&BlockPublicAccess>, settings: &Settings) -> Verdict {
    if settings.block_public_access != BlockPublicAccessMode::Always {
        return (
            Compliance::NotApplicable,
            "account-level Block Public Access is required only with BLOCK_PUBLIC_ACCESS=always"
                .to_string(),
        );
    }
    match plan_account(current, settings) {
        Some(finding) => (Compliance::NonCompliant, finding),
        None => (
            Compliance::Compliant,
            "account-level Block Public Access is on (all four settings)".to_string(),
        ),
    }
}

/// What `untagged-instance` would stop (or mark). Instances that are not pending or running are
/// not applicable; capacity another service manages (Auto Scaling, fleets, EKS, EMR, ECS) is
/// non-compliant although the function leaves it running.
pub fn instance_verdict(
    instance: &InstanceState,
    settings: &Settings,
    now: OffsetDateTime,
) -> Verdict {
    let plan = plan_instance(instance, settings, now);
    let required = required_tags_text(&settings.required_tags);
    let problems = problems_text(&plan.problems);
    match plan.action {
        InstanceAction::NotRunning => (
            Compliance::NotApplicable,
            format!("instance is {}", instance.state),
        ),
        InstanceAction::Compliant | InstanceAction::RemoveMark => (
            Compliance::Compliant,
            format!("carries the required tags ({required})"),
        ),
        InstanceAction::Exempt(tag) => {
            (Compliance::Compliant, format!("exempt ({tag}): {problems}"))
        }
        InstanceAction::Managed(manager) => (
            Compliance::NonCompliant,
            format!(
                "{problems}; {manager}: fix {} (not stopped)",
                manager.fix_in
            ),
        ),
        InstanceAction::Stop { .. } | InstanceAction::Mark(_) | InstanceAction::Wait(_) => (
            Compliance::NonCompliant,
            format!("{problems} (required: {required})"),
        ),
    }
}

/// At most 256 characters, cut on a character boundary.
pub fn annotation(text: &str) -> String {
    crate::text::clip(text, ANNOTATION_LIMIT, "...")
}

/// One result for Config.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    pub resource_type: String,
    pub resource_id: String,
    pub compliance: Compliance,
    pub annotation: String,
    /// RFC 3339: when the evaluated state was captured.
    pub ordering_timestamp: String,
}

impl Evaluation {
    pub fn new(
        resource_type: &str,
        resource_id: &str,
        (compliance, why): Verdict,
        ordering_timestamp: &str,
    ) -> Self {
        Evaluation {
            resource_type: resource_type.to_string(),
            resource_id: resource_id.to_string(),
            compliance,
            annotation: annotation(&why),
            ordering_timestamp: ordering_timestamp.to_string(),
        }
    }
}

/// Evaluates one configuration item from its own content.
pub fn evaluate_item(item: &Value, scope: &RuleScope, now: OffsetDateTime) -> Option<Evaluation> {
    let resource_type = str_field(item, "resourceType")?;
    let resource_id = str_field(item, "resourceId")?;
    let captured = str_field(item, "configurationItemCaptureTime").unwrap_or("");
    let status = str_field(item, "configurationItemStatus").unwrap_or("OK");
    let evaluation = |verdict| {
        Some(Evaluation::new(
            resource_type,
            resource_id,
            verdict,
            captured,
        ))
    };
    if !scope.resource_types.contains(&resource_type) {
        return evaluation((
            Compliance::NotApplicable,
            format!("{resource_type} is not evaluated by this rule"),
        ));
    }
    if status.starts_with("ResourceDeleted") || status == "ResourceNotRecorded" {
        return evaluation((
            Compliance::NotApplicable,
            format!("resource status {status}"),
        ));
    }
    let tags = config_item_tags(item);
    let today = now.to_offset(time::UtcOffset::UTC).date();
    let settings = &scope.settings;
    evaluation(match resource_type {
        SECURITY_GROUP => security_group_verdict(&tags, &rules_from_item(item), settings, today),
        BUCKET => bucket_verdict(&tags, &bucket_state_from_item(item), settings, today),
        ACCOUNT_BLOCK => account_verdict(account_block_from_item(item).as_ref(), settings),
        _ => instance_verdict(&instance_from_item(item, resource_id), settings, now),
    })
}
