//! Organization mode at scale: one scheduled sweep fanned out over ACCOUNTS x REGIONS on one moto (each
//! member account reached through assumed-role credentials, as in AWS), its jobs consumed the way the
//! SQS event source consumes them (one job per invocation, `SweepConcurrency` consumers at once), and a
//! monthly cost estimate from what was measured.

use std::time::{Duration, Instant};

use remediation_tests::ec2::{self as ec2rig, open};
use remediation_tests::organization::{member, JobQueue, MEMBER_ROLE};
use remediation_tests::{event, Aws, FunctionProcess, MotoServer};
use serde_json::{json, Value};

use super::{millis, notification_topic, start, tally};

/// The template's default `SweepConcurrency`.
const CONSUMERS: usize = 5;
/// Security groups per account x region, the first one open on SSH to the world.
const GROUPS_PER_PLACE: usize = 4;
const FUNCTION: &str = "open-security-group";

/// us-east-1 list prices (AWS pricing pages, December 2026) used by the estimate.
const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
const SQS_PER_MILLION_REQUESTS: f64 = 0.40;
const SNS_PER_MILLION_PUBLISHES: f64 = 0.50;
const FARGATE_VCPU_HOUR: f64 = 0.040_48;
const FARGATE_GB_HOUR: f64 = 0.004_445;
/// A conservative AWS round trip for the estimate (moto answers in a few ms; AWS in 10-50 ms).
const AWS_ROUND_TRIP_MS: f64 = 30.0;
const HOURS_PER_MONTH: f64 = 730.0;

fn account_id(i: usize) -> String {
    format!("{:012}", 100_000_000_000u64 + i as u64)
}

/// One account x region as the side-by-side comparison seeded it, measured earlier in the same run: the
/// AWS calls of our three sweeps, and the time of Custodian's three policy runs.
pub struct PerPlace {
    pub estate: String,
    pub our_calls: f64,
    pub custodian_ms: f64,
}

/// The fan-out sweep over `accounts` x `regions`; the estimate prices a month of it for an estate of
/// `per_place` in every account x region.
pub async fn measure(accounts: usize, regions: &[&str], per_place: Option<PerPlace>) -> Value {
    let server = MotoServer::start();
    let endpoint = server.endpoint();
    let central = Aws::new(&endpoint).await;
    let seeding = Instant::now();
    let ids: Vec<String> = (0..accounts).map(account_id).collect();
    let mut open_groups = Vec::new();
    for id in &ids {
        for region in regions {
            let aws = member(&endpoint, id, region).await;
            for g in 0..GROUPS_PER_PLACE {
                let group = ec2rig::create_group(&aws.ec2, &format!("bench-org-{g}")).await;
                if g == 0 {
                    open(&aws.ec2, &group, "tcp", 22, 22, "0.0.0.0/0").await;
                    open_groups.push((aws.clone(), group));
                } else {
                    open(&aws.ec2, &group, "tcp", 443, 443, "0.0.0.0/0").await;
                }
            }
        }
    }
    eprintln!(
        "  organization: seeded {accounts} accounts x {} regions in {:?}",
        regions.len(),
        seeding.elapsed()
    );
    let queue = JobQueue::create(&central, "bench-sweep-jobs").await;
    let topic = notification_topic(&central).await;
    let settings = vec![
        ("NOTIFICATION_TOPIC_ARN".to_string(), topic),
        ("MEMBER_ROLE_NAME".to_string(), MEMBER_ROLE.to_string()),
        ("SWEEP_QUEUE_URL".to_string(), queue.url.clone()),
        ("SWEEP_ACCOUNTS".to_string(), ids.join(",")),
        ("SWEEP_REGIONS".to_string(), regions.join(",")),
    ];
    let mut consumers: Vec<FunctionProcess> = Vec::new();
    for _ in 0..CONSUMERS {
        let binary = super::bin_dir(&super::setting("BENCH_PROFILE", "deploy")).join(FUNCTION);
        consumers.push(start(&binary, FUNCTION, &server, &settings).await);
    }

    server.start_recording();
    let started = Instant::now();
    let sweep = event(&format!("{FUNCTION}/scheduled-sweep.json"), &[]);
    let fan_out = consumers[0]
        .invoke_with_timeout(&sweep, Duration::from_secs(300))
        .await;
    let fan_out_ms = millis(fan_out.duration);
    let jobs_queued = fan_out.response()["results"][0]["reason"].clone();

    // Each consumer takes one job at a time until the queue is empty, as the event source would.
    let queue = std::sync::Arc::new(queue);
    let mut tasks = Vec::new();
    for mut process in consumers {
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut durations = Vec::new();
            let mut failures = 0;
            while let Some(delivery) = queue.receive_one(Duration::from_secs(120)).await {
                let invocation = process
                    .invoke_with_timeout(&delivery.event, Duration::from_secs(60))
                    .await;
                let response = invocation.response().clone();
                failures += queue.settle(&delivery, &response).await.len();
                durations.push(millis(invocation.duration));
            }
            (durations, failures)
        }));
    }
    let mut job_ms: Vec<f64> = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (durations, failed) = task.await.expect("consumer");
        job_ms.extend(durations);
        failures += failed;
    }
    let wall_ms = millis(started.elapsed());
    let calls = tally(&server.recorded_calls());
    let mut fixed = 0;
    for (aws, group) in &open_groups {
        if ec2rig::ingress(&aws.ec2, group).await.is_empty() {
            fixed += 1;
        }
    }
    let jobs = job_ms.len();
    let total_calls: usize = calls.values().sum();
    let sqs_calls: usize = calls
        .iter()
        .filter(|(op, _)| {
            [
                "SendMessageBatch",
                "SendMessage",
                "ReceiveMessage",
                "DeleteMessage",
            ]
            .contains(&op.as_str())
        })
        .map(|(_, n)| n)
        .sum();
    let assume_calls = calls.get("AssumeRole").copied().unwrap_or(0);
    let notifications = calls.get("Publish").copied().unwrap_or(0)
        + calls.get("PublishBatch").copied().unwrap_or(0);
    let mean_job_ms = job_ms.iter().sum::<f64>() / jobs.max(1) as f64;
    // The calls one job makes against its account (reads and fixes), without the queue's and SNS's.
    let calls_per_job =
        (total_calls - sqs_calls - notifications - assume_calls) as f64 / jobs.max(1) as f64;
    eprintln!(
        "  organization: {jobs} jobs, {total_calls} calls, {wall_ms:.0} ms wall, {fixed}/{} fixed",
        open_groups.len()
    );

    json!({
        "accounts": accounts,
        "regions": regions,
        "resources": accounts * regions.len() * GROUPS_PER_PLACE,
        "wrong": open_groups.len(),
        "fixed": fixed,
        "consumers": CONSUMERS,
        "jobs": jobs,
        "fan_out": jobs_queued,
        "fan_out_ms": fan_out_ms,
        "wall_ms": wall_ms,
        "job_ms_mean": mean_job_ms,
        "job_ms_max": job_ms.iter().cloned().fold(0.0, f64::max),
        "batch_item_failures": failures,
        "aws_calls": total_calls,
        "aws_calls_by_operation": calls,
        "assume_role_calls": assume_calls,
        "calls_per_job": calls_per_job,
        "monthly_estimate": estimate(100, regions.len(), calls_per_job, per_place),
    })
}

/// What a month of hourly sweeps of every remediation over `accounts` x `regions` costs: each job's
/// calls one after another at a conservative AWS round trip, for the estate the comparison measured in
/// every account x region (else the fan-out's own jobs), next to c7n-org on Fargate running the three
/// Custodian policies per account x region for as long as they took on that estate.
fn estimate(
    accounts: usize,
    regions: usize,
    calls_per_job: f64,
    per_place: Option<PerPlace>,
) -> Value {
    let sweeps = HOURS_PER_MONTH;
    let functions = 3.0;
    let places = (accounts * regions) as f64;
    let jobs = places * sweeps * functions;
    // The three functions' calls in one account x region, one after another.
    let calls_per_place = per_place
        .as_ref()
        .map(|p| p.our_calls)
        .unwrap_or(calls_per_job * functions);
    let gb_seconds = places * sweeps * calls_per_place * AWS_ROUND_TRIP_MS / 1000.0 * 0.125;
    let lambda = gb_seconds * LAMBDA_ARM_GB_SECOND
        + (jobs + sweeps * functions) / 1e6 * LAMBDA_PER_MILLION_REQUESTS;
    // Each job: sent (in batches of ten), received, deleted; plus the event source's idle long polls
    // (a few pollers, one 20 s poll each: about 2 x 3 per minute per queue).
    let sqs_requests = jobs * (0.1 + 1.0 + 1.0) + 2.0 * 3.0 * 60.0 * sweeps * functions;
    let sqs = sqs_requests / 1e6 * SQS_PER_MILLION_REQUESTS;
    // Notifications are one per change, not per sweep: say 1,000 changes a month across the estate.
    let sns = 1000.0 / 1e6 * SNS_PER_MILLION_PUBLISHES;
    let ours = lambda + sqs + sns;
    let custodian = per_place.as_ref().map(|p| {
        // c7n-org: per account x region, the three policies (interpreter start included), on
        // 1 vCPU / 2 GB Fargate billed for the time they run.
        let hours = places * p.custodian_ms / 1000.0 / 3600.0 * sweeps;
        let cost = hours * (FARGATE_VCPU_HOUR + 2.0 * FARGATE_GB_HOUR);
        json!({"compute_hours": hours, "usd": cost, "ms_per_place": p.custodian_ms})
    });
    json!({
        "accounts": accounts,
        "regions": regions,
        "estate_per_place": per_place.as_ref().map(|p| p.estate.clone()),
        "calls_per_place": calls_per_place,
        "sweeps_per_month": sweeps,
        "jobs": jobs,
        "assumed_aws_round_trip_ms": AWS_ROUND_TRIP_MS,
        "lambda_gb_seconds": gb_seconds,
        "usd": {"lambda": lambda, "sqs": sqs, "sns": sns, "eventbridge": 0.0, "total": ours},
        "eventbridge_note": "The schedules' events cost nothing; events member accounts forward are custom events on the central bus, $1.00 per million, whatever the sweeps do",
        "c7n_org_on_fargate": custodian,
    })
}
