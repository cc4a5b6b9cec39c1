//! The instance rule, pure: which tags an instance lacks, and what to do about it (stop, mark with a
//! deadline, wait, skip). The Config rule judges with the same code.
//!
//! Wrong: a `pending` or `running` instance missing a `REQUIRED_TAGS` key, with an empty value, or
//! with a value outside the key's allowed list. Fix: stop it, or with `GRACE_MINUTES` > 0 tag it
//! `remediation:stop-after=<deadline>` first and stop it on a later event or sweep after the deadline.
//! Never stopped: exempt instances, and capacity another service launches and replaces (Auto Scaling
//! groups, EC2 Fleet, Spot Fleet, EKS node groups, Karpenter, EMR, ECS), recognised by the system tags
//! those services put on their instances. An instance configured for hibernation is hibernated.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::{Settings, TagRule};
use crate::exemption::{exemption_of, Exemption};

/// The grace-period mark: a UTC RFC 3339 time after which the instance is stopped.
pub const STOP_AFTER_TAG: &str = "remediation:stop-after";
/// Set by EC2 Auto Scaling on every instance it launches.
pub const AUTOSCALING_TAG: &str = "aws:autoscaling:groupName";

/// Another service that launched the instance and replaces it when it stops: stopping it either
/// breaks that service's cluster or just gets it replaced, untagged again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manager {
    /// `Auto Scaling group`, `EKS node group`, `EMR cluster`, ...
    pub kind: &'static str,
    /// The group, fleet, node pool or cluster, from the tag's value.
    pub name: String,
    /// Where a person fixes the tags so that new instances carry them.
    pub fix_in: &'static str,
}

impl fmt::Display for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// The tag each manager puts on the instances it launches, most specific first (an EKS node group's
/// instances also carry the Auto Scaling tag of the group under it; a Karpenter node carries the EC2
/// Fleet tag of the fleet it was launched through). A key ending in `/` is a prefix.
///
/// - `eks:nodegroup-name`: EKS managed node groups (EKS User Guide, "Managed node groups": EKS tags the
///   node group's resources with `eks:cluster-name` and `eks:nodegroup-name`; the service-linked role
///   AWSServiceRoleForAmazonEKSNodegroup acts on resources by these tags). A node group runs on an Auto
///   Scaling group, so its instances are skipped through that tag as well.
/// - `karpenter.sh/nodepool` (`karpenter.sh/provisioner-name` before Karpenter v0.32): Karpenter
///   (karpenter.sh, "NodeClasses": the tags Karpenter adds to the instances it launches), and
///   `eks:eks-cluster-name`, which EKS Auto Mode and Karpenter v1 put on their nodes.
/// - `aws:elasticmapreduce:job-flow-id`: EMR (EMR Management Guide, "Tag clusters": EMR adds the
///   system tags `aws:elasticmapreduce:job-flow-id` and `aws:elasticmapreduce:instance-group-role`).
/// - `AmazonECSManaged`: the tag ECS puts on the Auto Scaling group of a capacity provider with managed
///   scaling (ECS Developer Guide, "Auto Scaling group capacity providers"), where it is propagated to the
///   instances; those carry the Auto Scaling tag too, so they are skipped either way, and named as ECS's.
/// - `aws:autoscaling:groupName`: EC2 Auto Scaling (Auto Scaling User Guide, "Tag Auto Scaling groups
///   and instances"); AWS Batch managed compute environments run their instances through an Auto
///   Scaling group, an EC2 Fleet or a Spot Fleet, and are recognised by those tags.
/// - `aws:ec2spot:fleet-request-id`: Spot Fleet; `aws:ec2:fleet-id`: EC2 Fleet (EC2 User Guide,
///   "Tag a new or existing EC2 Fleet / Spot Fleet request": the fleet tags each instance it launches).
/// - `kubernetes.io/cluster/<name>`: a node of a self-managed Kubernetes cluster (the key the AWS cloud
///   provider and EKS node bootstrap require on nodes).
const MANAGERS: &[(&str, &str, &str)] = &[
    (
        "eks:nodegroup-name",
        "EKS node group",
        "the node group's launch template",
    ),
    (
        "karpenter.sh/nodepool",
        "Karpenter node pool",
        "the node pool's EC2NodeClass tags",
    ),
    (
        "karpenter.sh/provisioner-name",
        "Karpenter provisioner",
        "the provisioner's tags",
    ),
    (
        "eks:eks-cluster-name",
        "EKS cluster",
        "the cluster's node pool (EC2NodeClass) tags",
    ),
    (
        "aws:elasticmapreduce:job-flow-id",
        "EMR cluster",
        "the cluster's tags (EMR copies them to its instances)",
    ),
    (
        "AmazonECSManaged",
        "ECS capacity provider",
        "the capacity provider's launch template",
    ),
    (
        AUTOSCALING_TAG,
        "Auto Scaling group",
        "the group's launch template",
    ),
    (
        "aws:ec2spot:fleet-request-id",
        "Spot Fleet",
        "the fleet's launch template",
    ),
    (
        "aws:ec2:fleet-id",
        "EC2 Fleet",
        "the fleet's launch template",
    ),
    (
        "kubernetes.io/cluster/",
        "Kubernetes cluster",
        "the cluster's node template",
    ),
];

/// The service that launched this instance and would replace it, from its system tags.
pub fn manager_of(tags: &[(String, String)]) -> Option<Manager> {
    MANAGERS.iter().find_map(|&(key, kind, fix_in)| {
        let (found_key, value) = tags.iter().find(|(k, _)| match key.strip_suffix('/') {
            Some(_) => k.starts_with(key) && k.len() > key.len(),
            None => k == key,
        })?;
        // A key-only tag (`AmazonECSManaged`) names nothing; the cluster tag names by its key.
        let name = match key.strip_suffix('/') {
            Some(_) => found_key[key.len()..].to_string(),
            None if value.trim().is_empty() => tags
                .iter()
                .find(|(k, _)| k == AUTOSCALING_TAG)
                .map(|(_, group)| group.clone())
                .unwrap_or_default(),
            None => value.clone(),
        };
        Some(Manager { kind, name, fix_in })
    })
}

/// One way an instance's tags break `REQUIRED_TAGS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagProblem {
    /// No tag with this key. `similar` is a key that differs only by case or spaces (`Env`).
    Missing {
        key: String,
        similar: Option<String>,
    },
    /// The key is there, with an empty (or blank) value.
    Empty { key: String },
    /// The value is not one of the allowed values. `similar` is an allowed value it differs from
    /// only by case or spaces (`Prod` for `prod`).
    NotAllowed {
        key: String,
        value: String,
        allowed: Vec<String>,
        similar: Option<String>,
    },
}

impl fmt::Display for TagProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagProblem::Missing { key, similar: None } => write!(f, "missing tag {key}"),
            TagProblem::Missing {
                key,
                similar: Some(found),
            } => write!(
                f,
                "missing tag {key} (it has {found:?}: tag keys are case-sensitive, rename it to {key})"
            ),
            TagProblem::Empty { key } => write!(f, "tag {key} is empty"),
            TagProblem::NotAllowed {
                key,
                value,
                allowed,
                similar,
            } => {
                write!(f, "tag {key}={value:?} is not one of {}", allowed.join("|"))?;
                if let Some(similar) = similar {
                    write!(f, " (values are case-sensitive: use {key}={similar})")?;
                }
                Ok(())
            }
        }
    }
}

/// Keys that are the same apart from case and surrounding spaces (`Env`, ` env`).
pub(crate) fn loosely_equal(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Everything wrong with `tags` under `rules`; empty means compliant.
pub fn tag_problems(tags: &[(String, String)], rules: &[TagRule]) -> Vec<TagProblem> {
    let mut problems = Vec::new();
    for rule in rules {
        let Some((_, value)) = tags.iter().find(|(key, _)| *key == rule.key) else {
            // A look-alike that another rule requires as it is would be bad advice to rename.
            let similar = tags
                .iter()
                .find(|(key, _)| {
                    loosely_equal(key, &rule.key) && !rules.iter().any(|r| r.key == *key)
                })
                .map(|(key, _)| key.clone());
            problems.push(TagProblem::Missing {
                key: rule.key.clone(),
                similar,
            });
            continue;
        };
        if value.trim().is_empty() {
            problems.push(TagProblem::Empty {
                key: rule.key.clone(),
            });
        } else if !rule.allowed_values.is_empty() && !rule.allowed_values.contains(value) {
            let similar = rule
                .allowed_values
                .iter()
                .find(|allowed| loosely_equal(allowed, value))
                .cloned();
            problems.push(TagProblem::NotAllowed {
                key: rule.key.clone(),
                value: value.clone(),
                allowed: rule.allowed_values.clone(),
                similar,
            });
        }
    }
    problems
}

/// `Name, env=prod|stg|dev`: what a correctly tagged instance carries.
pub fn required_tags_text(rules: &[TagRule]) -> String {
    rules
        .iter()
        .map(|rule| {
            if rule.allowed_values.is_empty() {
                rule.key.clone()
            } else {
                format!("{}={}", rule.key, rule.allowed_values.join("|"))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `missing tag env; tag Name is empty`.
pub fn problems_text(problems: &[TagProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// An instance as DescribeInstances reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceState {
    pub instance_id: String,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`.
    pub state: String,
    pub tags: Vec<(String, String)>,
    /// `HibernationOptions.Configured`: launched with hibernation enabled.
    pub hibernation: bool,
}

impl InstanceState {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state.as_str(), "pending" | "running")
    }
}

/// What to do with one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceAction {
    /// Not pending or running: nothing to stop.
    NotRunning,
    Compliant,
    /// Compliant now, but still carries a grace-period mark: remove it.
    RemoveMark,
    /// Wrong, but carries the exemption tag, which still holds: the tag and what it says.
    Exempt(String),
    /// Wrong, but launched by another service that would replace it.
    Managed(Manager),
    /// Wrong: stop now (no grace period, or its deadline has passed); hibernate it when it was
    /// launched with hibernation enabled, so its memory survives.
    Stop {
        deadline_passed: Option<String>,
        hibernate: bool,
    },
    /// Wrong, first seen: tag it with this deadline.
    Mark(String),
    /// Wrong, marked earlier, deadline not reached yet.
    Wait(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstancePlan {
    pub problems: Vec<TagProblem>,
    pub action: InstanceAction,
    /// The instance carries the exemption tag, but its end date has passed: whose it was, and when.
    pub exemption_ended: Option<String>,
}

/// A UTC time as `remediation:stop-after` holds it: RFC 3339, whole seconds.
pub fn format_deadline(time: OffsetDateTime) -> String {
    let time = time
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(time);
    time.format(&Rfc3339).unwrap_or_default()
}

/// Decides from the instance's current state, the settings and the current time.
pub fn plan_instance(
    instance: &InstanceState,
    settings: &Settings,
    now: OffsetDateTime,
) -> InstancePlan {
    let problems = tag_problems(&instance.tags, &settings.required_tags);
    let mark = instance.tag(STOP_AFTER_TAG);
    let today = now.to_offset(time::UtcOffset::UTC).date();
    let exemption = exemption_of(&instance.tags, &settings.exempt_tag, today);
    let action = if !instance.is_running() {
        InstanceAction::NotRunning
    } else if problems.is_empty() {
        match mark {
            Some(_) => InstanceAction::RemoveMark,
            None => InstanceAction::Compliant,
        }
    } else if let Some(Exemption::Active(tag)) = &exemption {
        InstanceAction::Exempt(tag.clone())
    } else if let Some(manager) = manager_of(&instance.tags) {
        InstanceAction::Managed(manager)
    } else if settings.grace_minutes == 0 {
        InstanceAction::Stop {
            deadline_passed: None,
            hibernate: instance.hibernation,
        }
    } else {
        // An unreadable mark (`never`, a typo) gets a fresh deadline: it must not keep the
        // instance running forever, nor cut the grace period short.
        match mark.and_then(|m| OffsetDateTime::parse(m.trim(), &Rfc3339).ok()) {
            Some(deadline) if deadline <= now => InstanceAction::Stop {
                deadline_passed: Some(format_deadline(deadline)),
                hibernate: instance.hibernation,
            },
            Some(deadline) => InstanceAction::Wait(format_deadline(deadline)),
            None => InstanceAction::Mark(format_deadline(
                now + time::Duration::minutes(i64::from(settings.grace_minutes)),
            )),
        }
    };
    let exemption_ended = match exemption {
        Some(ended @ Exemption::Ended(_)) if !problems.is_empty() => {
            Some(ended.describe("the instance"))
        }
        _ => None,
    };
    InstancePlan {
        problems,
        action,
        exemption_ended,
    }
}

/// What a person can do when EC2 refuses to stop an instance, in plain words, from the error code EC2
/// gives (EC2 API Reference, "Error codes for the Amazon EC2 API": `OperationNotPermitted` for an
/// instance with stop protection, `UnsupportedOperation` for one that can only be terminated, such as
/// an instance-store root or a one-time Spot Instance). `None` for anything else.
pub fn stop_refusal_advice(instance_id: &str, code: Option<&str>, message: &str) -> Option<String> {
    let message = message.to_ascii_lowercase();
    let exempt = "or, if it must keep running, tag it with the exemption key";
    match code? {
        "OperationNotPermitted" => Some(format!(
            "stop protection is on: turn it off with `aws ec2 modify-instance-attribute --instance-id {instance_id} --no-disable-api-stop`, {exempt}"
        )),
        "UnsupportedOperation" if message.contains("spot") => Some(format!(
            "a one-time Spot Instance cannot be stopped, only terminated: terminate it by hand after checking what runs on it, {exempt}"
        )),
        "UnsupportedOperation" => Some(format!(
            "EC2 cannot stop this instance (an instance-store root volume or a one-time Spot Instance can only be terminated): terminate it by hand after checking what runs on it, {exempt}"
        )),
        _ => None,
    }
}
