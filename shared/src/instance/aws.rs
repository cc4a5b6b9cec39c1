//! The EC2 calls on instances, and the IAM actions they need: reads of many instances per call, and
//! changes in batches that fall back to one instance at a time when EC2 refuses a batch.

use std::collections::HashMap;
use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, Instance, Tag};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::policy::InstanceState;
use crate::error::AwsError;

/// The IAM actions behind every EC2 call in this file (checked against the code and the template).
pub const IAM_ACTIONS: &[&str] = &[
    "ec2:DescribeInstances",
    "ec2:StopInstances",
    "ec2:CreateTags",
    "ec2:DeleteTags",
];
/// Instance ids per StopInstances / CreateTags / DeleteTags call.
const CHANGE_BATCH: usize = 100;
/// Instance ids per `instance-id` filter (EC2 accepts at most 200 filter values).
const DESCRIBE_BATCH: usize = 200;

fn instance_state(instance: &Instance) -> Option<InstanceState> {
    Some(InstanceState {
        instance_id: instance.instance_id()?.to_string(),
        state: instance
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        tags: instance
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect(),
        hibernation: instance
            .hibernation_options()
            .and_then(|h| h.configured())
            .unwrap_or(false),
    })
}

/// The result of one change per instance id.
pub type PerInstance = HashMap<String, Result<(), AwsError>>;

#[derive(Clone, Debug)]
pub struct InstanceActions {
    client: aws_sdk_ec2::Client,
}

impl InstanceActions {
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        InstanceActions {
            client: aws_sdk_ec2::Client::new(sdk),
        }
    }

    pub fn from_client(client: aws_sdk_ec2::Client) -> Self {
        InstanceActions { client }
    }

    /// The instances with these ids that exist (a filter, so unknown ids are left out, not an error).
    pub async fn instances(&self, ids: &[String]) -> Result<Vec<InstanceState>, AwsError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(DESCRIBE_BATCH) {
            let filter = Filter::builder()
                .name("instance-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            found.extend(self.describe(filter).await?);
        }
        Ok(found)
    }

    /// Every pending or running instance of the region: one call per 1000 instances.
    pub async fn running_instances(&self) -> Result<Vec<InstanceState>, AwsError> {
        let filter = Filter::builder()
            .name("instance-state-name")
            .values("pending")
            .values("running")
            .build();
        self.describe(filter).await
    }

    async fn describe(&self, filter: Filter) -> Result<Vec<InstanceState>, AwsError> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .describe_instances()
            .filters(filter)
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeInstances", e))?;
            found.extend(
                page.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter_map(instance_state),
            );
        }
        Ok(found)
    }

    /// Stops instances, many per call; with `hibernate`, hibernates them (EC2 API Reference,
    /// StopInstances `Hibernate`: "If the instance cannot hibernate successfully, a normal shutdown
    /// occurs", so this never leaves one running). An instance already stopping or stopped is simply
    /// reported in its current state by EC2, so a repeat is harmless.
    pub async fn stop(&self, ids: &[String], hibernate: bool) -> PerInstance {
        in_batches(ids, "StopInstances", |batch| {
            self.client
                .stop_instances()
                .set_instance_ids(Some(batch))
                .set_hibernate(hibernate.then_some(true))
                .send()
        })
        .await
    }

    /// Tags instances with `key=value`, many per call.
    pub async fn tag(&self, ids: &[String], key: &str, value: &str) -> PerInstance {
        let tag = Tag::builder().key(key).value(value).build();
        in_batches(ids, "CreateTags", |batch| {
            self.client
                .create_tags()
                .set_resources(Some(batch))
                .tags(tag.clone())
                .send()
        })
        .await
    }

    /// Removes the tag `key` from instances, many per call.
    pub async fn untag(&self, ids: &[String], key: &str) -> PerInstance {
        let tag = Tag::builder().key(key).build();
        in_batches(ids, "DeleteTags", |batch| {
            self.client
                .delete_tags()
                .set_resources(Some(batch))
                .tags(tag.clone())
                .send()
        })
        .await
    }
}

/// Sends `operation` for batches of ids. EC2 fails a whole batch when one instance cannot take the
/// change (wrong state, unsupported, gone); such a batch is retried one id at a time so that one
/// instance cannot block the others. A transient failure is reported for the whole batch (Lambda
/// retries).
async fn in_batches<F, Fut, O, E>(ids: &[String], operation: &'static str, send: F) -> PerInstance
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let call = |batch: Vec<String>| {
        let sent = send(batch);
        async move {
            sent.await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(operation, e))
        }
    };
    let mut results = PerInstance::new();
    for batch in ids.chunks(CHANGE_BATCH) {
        match call(batch.to_vec()).await {
            Err(err) if batch.len() > 1 && !err.is_transient() => {
                tracing::info!(error = %err, batch = batch.len(), "batch refused; retrying one instance at a time");
                for id in batch {
                    results.insert(id.clone(), call(vec![id.clone()]).await);
                }
            }
            result => {
                for id in batch {
                    results.insert(id.clone(), result.clone());
                }
            }
        }
    }
    results
}
