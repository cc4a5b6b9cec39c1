//! The calls of organization mode that are not about a resource: the sweep queue (SQS) and the
//! organization's accounts and their names (Organizations).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_organizations::types::{AccountState, AccountStatus};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::config::{OrganizationSettings, SweepAccounts};
use crate::error::{AwsError, ErrorKind};
use crate::organization::sweep::{jobs, Member, SweepJob};
use crate::trigger::Trigger;

/// IAM actions of organization mode, granted only when it is on: the member role, and the
/// organization's accounts and their names (from the management account or its delegated admin).
pub const IAM_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "organizations:ListAccounts",
    "organizations:DescribeAccount",
];

/// IAM actions of the sweep queue: sending jobs (this code), and receiving and deleting them (Lambda's
/// SQS event source, with the function's role: "ReceiveMessage, DeleteMessage, GetQueueAttributes",
/// Lambda Developer Guide, "Execution role permissions" for Amazon SQS).
pub const SWEEP_QUEUE_IAM_ACTIONS: &[&str] = &[
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

/// SQS takes at most ten entries per `SendMessageBatch` (SQS API Reference, SendMessageBatch).
const BATCH_ENTRIES: usize = 10;
/// Entries SQS did not take are sent again this many times before the fan-out fails (and Lambda retries it).
const ENTRY_ATTEMPTS: usize = 3;

/// Fans sweeps out and names accounts; built once per process, like the notifier.
pub struct Organization {
    sqs: aws_sdk_sqs::Client,
    organizations: aws_sdk_organizations::Client,
    settings: OrganizationSettings,
    function: String,
    /// Account names from Organizations (`None`: it could not tell), asked once per account.
    names: Mutex<HashMap<String, Option<String>>>,
}

impl Organization {
    pub fn from_sdk_config(
        sdk: &SdkConfig,
        settings: &OrganizationSettings,
        function: &str,
    ) -> Self {
        Organization {
            sqs: aws_sdk_sqs::Client::new(sdk),
            organizations: aws_sdk_organizations::Client::new(sdk),
            settings: settings.clone(),
            function: function.to_string(),
            names: Mutex::new(HashMap::new()),
        }
    }

    /// Whether scheduled sweeps go through the queue instead of running inline.
    pub fn fans_out(&self) -> bool {
        self.settings.sweep_queue_url.is_some()
    }

    fn queue_url(&self) -> Result<&str, AwsError> {
        self.settings.sweep_queue_url.as_deref().ok_or_else(|| {
            AwsError::new(
                "SendMessage",
                ErrorKind::Permanent,
                None,
                "SWEEP_QUEUE_URL is not set",
            )
        })
    }

    /// Sends one job per account x region of the sweep `trigger` started; returns how many.
    pub async fn fan_out(&self, trigger: &Trigger) -> Result<usize, AwsError> {
        let accounts = match &self.settings.sweep_accounts {
            SweepAccounts::Own => vec![Member {
                id: trigger.account.clone(),
                name: None,
            }],
            SweepAccounts::Listed(ids) => ids
                .iter()
                .map(|id| Member {
                    id: id.clone(),
                    name: None,
                })
                .collect(),
            SweepAccounts::Organization => self.active_accounts().await?,
        };
        let regions = if self.settings.sweep_regions.is_empty() {
            vec![trigger.region.clone()]
        } else {
            self.settings.sweep_regions.clone()
        };
        let jobs = jobs(&self.function, &trigger.event_id, &accounts, &regions);
        self.send(&jobs).await?;
        tracing::info!(jobs = jobs.len(), accounts = accounts.len(), regions = regions.len(), sweep_id = %trigger.event_id, "sweep fanned out");
        Ok(jobs.len())
    }

    /// Sends a job's continuation.
    pub async fn continue_with(&self, job: &SweepJob) -> Result<(), AwsError> {
        self.send(std::slice::from_ref(job)).await
    }

    async fn send(&self, jobs: &[SweepJob]) -> Result<(), AwsError> {
        let url = self.queue_url()?;
        for chunk in jobs.chunks(BATCH_ENTRIES) {
            let mut waiting: Vec<(String, String)> = chunk
                .iter()
                .enumerate()
                .map(|(i, job)| {
                    (
                        i.to_string(),
                        serde_json::to_string(job).unwrap_or_default(),
                    )
                })
                .collect();
            for attempt in 1..=ENTRY_ATTEMPTS {
                let entries = waiting
                    .iter()
                    .map(|(id, body)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(id)
                            .message_body(body)
                            .build()
                            .map_err(|err| {
                                AwsError::new(
                                    "SendMessageBatch",
                                    ErrorKind::Permanent,
                                    None,
                                    err.to_string(),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let answer = self
                    .sqs
                    .send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|err| AwsError::from_sdk("SendMessageBatch", err))?;
                // A batch call can succeed with some entries failed (SQS API Reference, SendMessageBatch:
                // "the result of each message is reported individually").
                let failed: Vec<&str> = answer.failed().iter().map(|f| f.id()).collect();
                if failed.is_empty() {
                    break;
                }
                if attempt == ENTRY_ATTEMPTS {
                    let first = &answer.failed()[0];
                    return Err(AwsError::new(
                        "SendMessageBatch",
                        ErrorKind::Transient,
                        Some(first.code()),
                        format!(
                            "{} sweep job(s) not queued: {}",
                            failed.len(),
                            first.message().unwrap_or("")
                        ),
                    ));
                }
                waiting.retain(|(id, _)| failed.contains(&id.as_str()));
            }
        }
        Ok(())
    }

    /// The organization's active accounts, with their names (Organizations `ListAccounts`).
    async fn active_accounts(&self) -> Result<Vec<Member>, AwsError> {
        let mut members = Vec::new();
        let mut pages = self.organizations.list_accounts().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| AwsError::from_sdk("ListAccounts", err))?;
            for account in page.accounts() {
                // `State` replaces the deprecated `Status` (Organizations API Reference, Account);
                // either says ACTIVE for an account that can be swept.
                let active = match account.state() {
                    Some(state) => *state == AccountState::Active,
                    None => account.status() == Some(&AccountStatus::Active),
                };
                if let (true, Some(id)) = (active, account.id()) {
                    members.push(Member {
                        id: id.to_string(),
                        name: account.name().map(String::from),
                    });
                    self.remember(id, account.name());
                }
            }
        }
        Ok(members)
    }

    fn remember(&self, account: &str, name: Option<&str>) {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        names.insert(account.to_string(), name.map(String::from));
    }

    /// The account's name, when Organizations can tell it (organization mode only; from the
    /// management account or a delegated administrator). Asked once per account and process.
    pub async fn account_name(&self, account: &str) -> Option<String> {
        if self.settings.member_role_name.is_none() || account.is_empty() {
            return None;
        }
        if let Some(known) = self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(account)
        {
            return known.clone();
        }
        let name = match self
            .organizations
            .describe_account()
            .account_id(account)
            .send()
            .await
        {
            Ok(answer) => answer.account().and_then(|a| a.name()).map(String::from),
            Err(err) => {
                let err = AwsError::from_sdk("DescribeAccount", err);
                tracing::warn!(account, error = %err, "the account's name is unknown (Organizations did not tell it)");
                None
            }
        };
        self.remember(account, name.as_deref());
        name
    }
}
