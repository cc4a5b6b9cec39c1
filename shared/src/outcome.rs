//! What a function decided about one resource.

use serde::Serialize;

use crate::undo::Restore;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    /// Changed to fix what was wrong.
    Remediated,
    /// Wrong, but `DRY_RUN` is on: `changes` says what would have been done.
    DryRun,
    /// Wrong, but left alone on purpose (exemption tag, Auto Scaling group, ...).
    Skipped,
    /// Wrong, and marked with a deadline (grace period) instead of changed now.
    Marked,
    /// Wrong, and the fix failed for a reason a retry cannot mend.
    Failed,
    /// Wrong, already marked (grace period) or not yet fixable (a pending instance): a later
    /// event or sweep acts. No notification: people were told when it was marked.
    Waiting,
    /// Nothing wrong now: no change, no notification.
    Compliant,
    /// The resource no longer exists: nothing to do, no notification.
    NotFound,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 8] = [
        OutcomeKind::Remediated,
        OutcomeKind::DryRun,
        OutcomeKind::Skipped,
        OutcomeKind::Marked,
        OutcomeKind::Failed,
        OutcomeKind::Waiting,
        OutcomeKind::Compliant,
        OutcomeKind::NotFound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Remediated => "remediated",
            OutcomeKind::DryRun => "dry-run",
            OutcomeKind::Skipped => "skipped",
            OutcomeKind::Marked => "marked",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Waiting => "waiting",
            OutcomeKind::Compliant => "compliant",
            OutcomeKind::NotFound => "not-found",
        }
    }

    /// Whether people are told about it (nothing to do means a log line only, no message).
    pub fn is_notified(self) -> bool {
        !matches!(
            self,
            OutcomeKind::Compliant | OutcomeKind::NotFound | OutcomeKind::Waiting
        )
    }

    /// Whether a scheduled sweep sends a message of its own about it: a change it made, or a grace-period
    /// mark it set. What a sweep would change (dry run) or could not change (failed) it lists in one digest
    /// per outcome instead ([`OutcomeKind::is_digested_by_sweep`]): those findings repeat every sweep, and
    /// a message per resource per sweep would bury people. A skipped resource was reported when its event
    /// came.
    pub fn is_notified_by_sweep(self) -> bool {
        matches!(self, OutcomeKind::Remediated | OutcomeKind::Marked)
    }

    /// Whether a scheduled sweep lists it in its digest of the same outcome.
    pub fn is_digested_by_sweep(self) -> bool {
        matches!(self, OutcomeKind::DryRun | OutcomeKind::Failed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceType {
    S3Bucket,
    S3Object,
    /// An account's own Block Public Access settings; the resource id is the account id.
    S3Account,
    SecurityGroup,
    Ec2Instance,
    /// A whole member account, when the function could not act in it (organization mode).
    AwsAccount,
}

impl ResourceType {
    pub const ALL: [ResourceType; 6] = [
        ResourceType::S3Bucket,
        ResourceType::S3Object,
        ResourceType::S3Account,
        ResourceType::SecurityGroup,
        ResourceType::Ec2Instance,
        ResourceType::AwsAccount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::S3Bucket => "s3-bucket",
            ResourceType::S3Object => "s3-object",
            ResourceType::S3Account => "s3-account",
            ResourceType::SecurityGroup => "security-group",
            ResourceType::Ec2Instance => "ec2-instance",
            ResourceType::AwsAccount => "aws-account",
        }
    }

    /// How a person names it in a sentence.
    pub fn noun(self) -> &'static str {
        match self {
            ResourceType::S3Bucket => "S3 bucket",
            ResourceType::S3Object => "S3 object",
            ResourceType::S3Account => "account's S3 Block Public Access",
            ResourceType::SecurityGroup => "security group",
            ResourceType::Ec2Instance => "EC2 instance",
            ResourceType::AwsAccount => "AWS account",
        }
    }
}

/// How urgent a finding is, for subscribers that filter on the `severity` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub outcome: OutcomeKind,
    pub resource_type: ResourceType,
    pub resource_id: String,
    /// Why it was wrong, or why it was skipped or failed.
    pub reason: String,
    /// Short human strings: what changed, or would change in a dry run.
    pub changes: Vec<String>,
    pub severity: Severity,
    /// What the changes replaced and how to put it back (`prior`, `after`, `undo` in the message).
    #[serde(skip)]
    pub restore: Option<Restore>,
}

impl Outcome {
    pub fn new(
        outcome: OutcomeKind,
        resource_type: ResourceType,
        resource_id: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Outcome {
            outcome,
            resource_type,
            resource_id: resource_id.into(),
            reason: reason.into(),
            changes: Vec::new(),
            severity: Severity::Medium,
            restore: None,
        }
    }

    pub fn with_changes(mut self, changes: Vec<String>) -> Self {
        self.changes = changes;
        self
    }

    /// Records how to undo the changes (nothing when nothing was changed).
    pub fn with_restore(mut self, restore: Restore) -> Self {
        self.restore = (!restore.is_empty()).then_some(restore);
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports, notifications and message attributes use both forms: they must be the same strings.
    #[test]
    fn serialised_names_are_the_as_str_names() {
        for kind in OutcomeKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for resource_type in ResourceType::ALL {
            assert_eq!(
                serde_json::to_value(resource_type).unwrap(),
                resource_type.as_str()
            );
        }
        for severity in [Severity::Low, Severity::Medium, Severity::High] {
            assert_eq!(serde_json::to_value(severity).unwrap(), severity.as_str());
        }
    }
}
