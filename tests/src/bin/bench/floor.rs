//! What the functions are measured against: moto's own round-trip time per call, and a bare client
//! replaying a sweep's AWS calls one after another (no policy, no parsing, no notifications built),
//! against the same moto.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange};
use aws_sdk_sns::types::PublishBatchRequestEntry;
use remediation_tests::Aws;
use serde_json::{json, Value};

use crate::{millis, percentile};

const SAMPLES: usize = 30;

/// Median time of `call`, made `SAMPLES` times one after another.
async fn median<F, Fut>(mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        call().await;
        times.push(millis(started.elapsed()));
    }
    times.sort_by(f64::total_cmp);
    percentile(&times, 0.5)
}

/// moto's round trip for the calls on the functions' critical paths, with the same SDK clients
/// the functions use: a read and a write per service, and a publish.
pub async fn round_trips(aws: &Aws, topic: &str) -> Value {
    let bucket = "bench-rtt";
    remediation_tests::s3::create_private_bucket(&aws.s3, bucket).await;
    let group = remediation_tests::ec2::create_group(&aws.ec2, "bench-rtt").await;
    let instance = remediation_tests::ec2::launch_one(&aws.ec2, &[("Name", "rtt")]).await;
    let s3_read = median(|| async {
        aws.s3.get_bucket_acl().bucket(bucket).send().await.ok();
    })
    .await;
    let s3_write = median(|| async {
        aws.s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(all_blocked())
            .send()
            .await
            .ok();
    })
    .await;
    let group_read = median(|| async {
        aws.ec2
            .describe_security_groups()
            .group_ids(&group)
            .send()
            .await
            .ok();
    })
    .await;
    // An idempotent EC2 write, as costly to moto as a revoke or a stop.
    let ec2_write = median(|| async {
        aws.ec2
            .create_tags()
            .resources(&group)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("k")
                    .value("v")
                    .build(),
            )
            .send()
            .await
            .ok();
    })
    .await;
    let instance_read = median(|| async {
        aws.ec2
            .describe_instances()
            .instance_ids(&instance)
            .send()
            .await
            .ok();
    })
    .await;
    let publish = median(|| async {
        aws.sns
            .publish()
            .topic_arn(topic)
            .message("{}")
            .send()
            .await
            .ok();
    })
    .await;
    json!({
        "s3_read_ms": s3_read, "s3_write_ms": s3_write,
        "ec2_group_read_ms": group_read, "ec2_instance_read_ms": instance_read,
        "ec2_write_ms": ec2_write, "sns_publish_ms": publish,
    })
}

/// The fewest sequential round trips a remediation's fix needs (one round of reads, one of writes,
/// one publish), named by the round-trip entries above; `None` for the Config rule.
pub fn critical_path(function: &str) -> Option<[&'static str; 3]> {
    match function {
        "s3-public-access" => Some(["s3_read_ms", "s3_write_ms", "sns_publish_ms"]),
        "open-security-group" => Some(["ec2_group_read_ms", "ec2_write_ms", "sns_publish_ms"]),
        "untagged-instance" => Some(["ec2_instance_read_ms", "ec2_write_ms", "sns_publish_ms"]),
        _ => None,
    }
}

/// Publishes `messages` small messages ten per call, as the sweep's notifications.
async fn publish_batches(aws: &Aws, topic: &str, messages: usize) {
    let mut left = messages;
    let mut n = 0;
    while left > 0 {
        let entries = (0..left.min(10))
            .map(|_| {
                n += 1;
                PublishBatchRequestEntry::builder()
                    .id(format!("m{n}"))
                    .message("{}")
                    .build()
                    .expect("entry")
            })
            .collect();
        aws.sns
            .publish_batch()
            .topic_arn(topic)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .ok();
        left = left.saturating_sub(10);
    }
}

/// The instance sweep's calls: the running instances page by page, a StopInstances per thousand of
/// the ids `fixed`, and their notifications.
pub async fn instance_sweep(aws: &Aws, topic: &str, fixed: &[String]) -> Duration {
    let started = Instant::now();
    let mut pages = aws
        .ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .build(),
        )
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        page.expect("describe instances");
    }
    for chunk in fixed.chunks(1000) {
        aws.ec2
            .stop_instances()
            .set_instance_ids(Some(chunk.to_vec()))
            .send()
            .await
            .ok();
    }
    publish_batches(aws, topic, fixed.len()).await;
    started.elapsed()
}

/// The group sweep's calls: every group and every rule, page by page, a revoke per group `fixed`
/// (SSH from anywhere), and their notifications.
pub async fn group_sweep(aws: &Aws, topic: &str, fixed: &[String]) -> Duration {
    let started = Instant::now();
    let mut groups = aws
        .ec2
        .describe_security_groups()
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = groups.next().await {
        page.expect("describe groups");
    }
    let mut rules = aws
        .ec2
        .describe_security_group_rules()
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = rules.next().await {
        page.expect("describe rules");
    }
    for group in fixed {
        aws.ec2
            .revoke_security_group_ingress()
            .group_id(group)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(22)
                    .to_port(22)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .send()
            .await
            .ok();
    }
    publish_batches(aws, topic, fixed.len()).await;
    started.elapsed()
}

/// The bucket sweep's calls: the buckets, the five reads per bucket (ACL, policy, policy status,
/// Block Public Access of the bucket and of the account) and its tags, the ACL and Block Public
/// Access writes per bucket `fixed`, and their notifications.
pub async fn bucket_sweep(aws: &Aws, topic: &str, account: &str, fixed: &[String]) -> Duration {
    let started = Instant::now();
    let buckets: Vec<String> = aws
        .s3
        .list_buckets()
        .send()
        .await
        .expect("list buckets")
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(String::from))
        .collect();
    for bucket in &buckets {
        aws.s3.get_bucket_acl().bucket(bucket).send().await.ok();
        aws.s3.get_bucket_policy().bucket(bucket).send().await.ok();
        aws.s3
            .get_bucket_policy_status()
            .bucket(bucket)
            .send()
            .await
            .ok();
        aws.s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .ok();
        aws.s3_actions
            .account_public_access_block(account)
            .await
            .ok();
        aws.s3.get_bucket_tagging().bucket(bucket).send().await.ok();
    }
    for bucket in fixed {
        aws.s3
            .put_bucket_acl()
            .bucket(bucket)
            .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
            .send()
            .await
            .ok();
        aws.s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(all_blocked())
            .send()
            .await
            .ok();
    }
    publish_batches(aws, topic, fixed.len()).await;
    started.elapsed()
}

fn all_blocked() -> aws_sdk_s3::types::PublicAccessBlockConfiguration {
    aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build()
}

/// A bare client making the calls of one fix with the same concurrency as the function (one round of
/// reads, one of writes, the publish), from fresh clients (new connections, as a cold start has),
/// without policy or parsing: what moto itself takes for the fix. moto answers one request at a
/// time, so a round of six reads costs it about six round trips; AWS answers them side by side.
pub async fn bare_fix(function: &str, endpoint: &str, topic: &str, id: &str) -> Duration {
    let aws = Aws::new(endpoint).await;
    let started = Instant::now();
    match function {
        "s3-public-access" => {
            let s3 = &aws.s3;
            let _ = tokio::join!(
                s3.get_bucket_acl().bucket(id).send(),
                s3.get_bucket_policy().bucket(id).send(),
                s3.get_bucket_policy_status().bucket(id).send(),
                s3.get_public_access_block().bucket(id).send(),
                aws.s3_actions
                    .account_public_access_block(remediation_tests::ACCOUNT),
                s3.get_bucket_tagging().bucket(id).send(),
            );
            let _ = tokio::join!(
                s3.put_bucket_acl()
                    .bucket(id)
                    .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
                    .send(),
                s3.put_public_access_block()
                    .bucket(id)
                    .public_access_block_configuration(all_blocked())
                    .send(),
            );
        }
        "open-security-group" => {
            let _ = tokio::join!(
                aws.ec2.describe_security_groups().group_ids(id).send(),
                aws.ec2
                    .describe_security_group_rules()
                    .filters(Filter::builder().name("group-id").values(id).build())
                    .max_results(1000)
                    .send(),
            );
            aws.ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(22)
                        .to_port(22)
                        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                        .build(),
                )
                .send()
                .await
                .ok();
        }
        _ => {
            aws.ec2
                .describe_instances()
                .instance_ids(id)
                .send()
                .await
                .ok();
            aws.ec2.stop_instances().instance_ids(id).send().await.ok();
        }
    }
    aws.sns
        .publish()
        .topic_arn(topic)
        .message("{}")
        .send()
        .await
        .ok();
    started.elapsed()
}
