//! The Config call (`PutEvaluations`), and the IAM actions the rule needs. Resources are read through
//! the remediations' own action layers, read-only.

use aws_config::SdkConfig;
use aws_sdk_config::types::{ComplianceType, Evaluation as SdkEvaluation};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use super::policy::{Compliance, Evaluation};
use super::ConfigRuleError;
use crate::error::AwsError;

/// The IAM actions this rule needs: its own PutEvaluations, and the read-only calls it makes through
/// the remediations' action layers (never their changes).
pub const IAM_ACTIONS: &[&str] = &[
    "config:PutEvaluations",
    "s3:ListAllMyBuckets",
    "s3:GetBucketAcl",
    "s3:GetBucketTagging",
    "s3:GetBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetAccountPublicAccessBlock",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
    "ec2:DescribeInstances",
];

/// Config's limit on evaluations per PutEvaluations call.
const EVALUATIONS_PER_CALL: usize = 100;
/// Extra PutEvaluations rounds for evaluations Config reports back as failed.
const RETRY_ROUNDS: usize = 2;

#[derive(Clone, Debug)]
pub struct ConfigActions {
    config: aws_sdk_config::Client,
}

impl ConfigActions {
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        ConfigActions {
            config: aws_sdk_config::Client::new(sdk),
        }
    }

    pub fn from_client(config: aws_sdk_config::Client) -> Self {
        ConfigActions { config }
    }

    /// Sends evaluations 100 per call; evaluations Config reports as failed are sent again
    /// (twice at most), then the invocation fails so that Lambda retries it.
    pub async fn put_evaluations(
        &self,
        result_token: &str,
        evaluations: &[Evaluation],
    ) -> Result<(), ConfigRuleError> {
        let mut pending: Vec<SdkEvaluation> = evaluations
            .iter()
            .map(sdk_evaluation)
            .collect::<Result<_, _>>()?;
        for round in 0..=RETRY_ROUNDS {
            let mut failed = Vec::new();
            for batch in pending.chunks(EVALUATIONS_PER_CALL) {
                let output = self
                    .config
                    .put_evaluations()
                    .result_token(result_token)
                    .set_evaluations(Some(batch.to_vec()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("PutEvaluations", e))?;
                failed.extend(output.failed_evaluations().iter().cloned());
            }
            if failed.is_empty() {
                return Ok(());
            }
            tracing::warn!(
                failed = failed.len(),
                round,
                "Config did not accept some evaluations"
            );
            pending = failed;
        }
        Err(ConfigRuleError::Rejected(format!(
            "Config kept rejecting {} evaluation(s), e.g. {}",
            pending.len(),
            pending
                .first()
                .map(|e| e.compliance_resource_id())
                .unwrap_or("?")
        )))
    }
}

pub(super) fn sdk_evaluation(evaluation: &Evaluation) -> Result<SdkEvaluation, ConfigRuleError> {
    let ordering = DateTime::from_str(&evaluation.ordering_timestamp, Format::DateTime)
        .unwrap_or_else(|_| DateTime::from(std::time::SystemTime::now()));
    let compliance = match evaluation.compliance {
        Compliance::Compliant => ComplianceType::Compliant,
        Compliance::NonCompliant => ComplianceType::NonCompliant,
        Compliance::NotApplicable => ComplianceType::NotApplicable,
    };
    SdkEvaluation::builder()
        .compliance_resource_type(&evaluation.resource_type)
        .compliance_resource_id(&evaluation.resource_id)
        .compliance_type(compliance)
        .annotation(&evaluation.annotation)
        .ordering_timestamp(ordering)
        .build()
        .map_err(|e| ConfigRuleError::Rejected(format!("evaluation not buildable: {e}")))
}
