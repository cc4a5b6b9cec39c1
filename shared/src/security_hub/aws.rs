//! `BatchUpdateFindings`, in the account and region whose Security Hub sent each finding (through the
//! member role in organization mode, like every other call in another account).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_securityhub::types::{
    AwsSecurityFindingIdentifier, NoteUpdate, WorkflowStatus as SdkWorkflowStatus, WorkflowUpdate,
};

use super::update::{batches, FindingUpdate};
use crate::error::{AwsError, ErrorKind};
use crate::identity::OwnIdentity;
use crate::organization::Accounts;

/// The one IAM action: `BatchUpdateFindings` ("BatchUpdateFindings and BatchUpdateFindingsV2 both use
/// securityhub:BatchUpdateFindings", Security Hub API Reference).
pub const IAM_ACTIONS: &[&str] = &["securityhub:BatchUpdateFindings"];

/// Findings Security Hub could not update for a reason worth another try (Security Hub API Reference,
/// `BatchUpdateFindingsUnprocessedFinding.ErrorCode`); the others (`FindingNotFound`, `InvalidInput`,
/// `DuplicatedFindingIdentifier`, `FindingSizeExceeded`) would fail the same way again.
const RETRYABLE_CODES: &[&str] = &["ConcurrentUpdateError", "InternalFailure"];
/// A batch's unprocessed findings are sent again this many times before the invocation fails (and
/// Lambda retries it: every fix is idempotent, and a fixed resource is then found compliant).
const ATTEMPTS: u32 = 3;
/// Wait before sending unprocessed findings again, doubled each time: a concurrent update (another
/// tool, or Security Hub's own import) is given time to finish.
const BACKOFF: Duration = Duration::from_millis(200);

/// Updates findings; its clients are made on the first Security Hub trigger, so functions that never
/// get one pay nothing at start-up.
pub struct SecurityHub {
    reach: Reach,
    function: String,
}

enum Reach {
    Fixed(Arc<aws_sdk_securityhub::Client>),
    Live(Box<Live>),
}

struct Live {
    sdk: SdkConfig,
    member_role: Option<String>,
    accounts: OnceLock<Accounts<aws_sdk_securityhub::Client>>,
}

impl SecurityHub {
    pub fn from_sdk_config(sdk: &SdkConfig, member_role: Option<String>, function: &str) -> Self {
        SecurityHub {
            reach: Reach::Live(Box::new(Live {
                sdk: sdk.clone(),
                member_role,
                accounts: OnceLock::new(),
            })),
            function: function.to_string(),
        }
    }

    /// One client whatever the account and region (tests).
    pub fn fixed(client: aws_sdk_securityhub::Client, function: &str) -> Self {
        SecurityHub {
            reach: Reach::Fixed(Arc::new(client)),
            function: function.to_string(),
        }
    }

    async fn client(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Arc<aws_sdk_securityhub::Client>, AwsError> {
        match &self.reach {
            Reach::Fixed(fixed) => Ok(Arc::clone(fixed)),
            Reach::Live(live) => {
                let accounts = live.accounts.get_or_init(|| {
                    Accounts::new(
                        &live.sdk,
                        aws_sdk_securityhub::Client::new,
                        Arc::new(OwnIdentity::from_sdk_config(&live.sdk)),
                        live.member_role.clone(),
                        &self.function,
                    )
                });
                accounts.get(account, region).await
            }
        }
    }

    /// Sends every update, batched; returns the updates that failed with why (a transient error:
    /// the invocation is retried; a permanent one: logged, since a retry would fail the same way).
    pub async fn update_all<'u>(
        &self,
        updates: &'u [FindingUpdate],
    ) -> Vec<(&'u FindingUpdate, AwsError)> {
        let mut failed = Vec::new();
        for batch in batches(updates) {
            let first = batch[0];
            let result = match self.client(&first.hub_account, &first.hub_region).await {
                Ok(client) => send(&client, &batch, &self.function).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(()) => tracing::info!(
                    findings = batch.len(),
                    status = first.status.as_str(),
                    account = %first.hub_account,
                    region = %first.hub_region,
                    "Security Hub findings updated"
                ),
                Err(err) => {
                    tracing::error!(error = %err, findings = batch.len(), "Security Hub findings not updated");
                    failed.extend(batch.into_iter().map(|u| (u, err.clone())));
                }
            }
        }
        failed
    }
}

/// One `BatchUpdateFindings` call (findings of one account and region, one status, one note), with
/// the findings Security Hub left unprocessed for a passing reason sent again.
async fn send(
    client: &aws_sdk_securityhub::Client,
    batch: &[&FindingUpdate],
    function: &str,
) -> Result<(), AwsError> {
    let first = batch[0];
    let mut pending: Vec<AwsSecurityFindingIdentifier> = batch
        .iter()
        .map(|u| {
            AwsSecurityFindingIdentifier::builder()
                .id(&u.id)
                .product_arn(&u.product_arn)
                .build()
        })
        .collect();
    for attempt in 1..=ATTEMPTS {
        let request = client
            .batch_update_findings()
            .set_finding_identifiers(Some(pending.clone()))
            .note(
                NoteUpdate::builder()
                    .text(&first.note)
                    .updated_by(function)
                    .build(),
            );
        let answer = request
            .workflow(
                WorkflowUpdate::builder()
                    .status(SdkWorkflowStatus::from(first.status.as_str()))
                    .build(),
            )
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("BatchUpdateFindings", err))?;
        let mut retry = Vec::new();
        let mut last_code = "";
        for unprocessed in answer.unprocessed_findings() {
            let code = unprocessed.error_code().unwrap_or_default();
            let id = unprocessed
                .finding_identifier()
                .map(|f| f.id())
                .unwrap_or_default();
            if RETRYABLE_CODES.contains(&code) {
                last_code = code;
                retry.extend(unprocessed.finding_identifier().cloned());
            } else {
                // Gone or refused for good (an archived finding, say): nothing a retry changes.
                tracing::warn!(
                    finding = id,
                    code,
                    message = unprocessed.error_message().unwrap_or_default(),
                    "Security Hub did not update the finding"
                );
            }
        }
        if retry.is_empty() {
            return Ok(());
        }
        if attempt == ATTEMPTS {
            return Err(AwsError::new(
                "BatchUpdateFindings",
                ErrorKind::Transient,
                Some(last_code),
                format!(
                    "{} finding(s) still unprocessed after {ATTEMPTS} attempts",
                    retry.len()
                ),
            ));
        }
        pending = retry;
        tokio::time::sleep(BACKOFF * 2u32.pow(attempt - 1)).await;
    }
    Ok(())
}
