//! `make bench`: how fast, how small and how frugal the functions are, and how they compare with
//! Cloud Custodian on the same estate. A benchmark, not a test: it measures and writes
//! bench/results/latest.{json,md,svg}; nothing here passes or fails except a broken setup.
//!
//! Everything runs locally: the release binaries under the rig's Lambda Runtime API emulator,
//! moto as AWS (its request recorder counts the API calls), and `custodian` from .venv-bench.
//! The functions are measured as deployed (`target/deploy`, `make deploy-build`) and, for comparison,
//! as the test rig builds them (`target/release`).
//! Sizes: BENCH_INSTANCE_SWEEPS (default `1000,10000`), BENCH_GROUP_SWEEPS (`1000`), BENCH_BUCKET_SWEEPS (`1000`),
//! BENCH_COLD_RUNS (`5`), BENCH_WARM_RUNS (`20`), BENCH_PEER_SCALE (`1`: 50 buckets, 100 groups,
//! 200 instances), BENCH_ORG_ACCOUNTS (`50`, swept in BENCH_ORG_REGIONS, `us-east-1,eu-west-1`);
//! BENCH_OUT: where to write (`bench/results`).

mod estate;
mod floor;
mod organization;
mod peer_event;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use remediation_tests::config_stub::ConfigStub;
use remediation_tests::ec2::{self as ec2rig, open};
use remediation_tests::s3 as s3rig;
use remediation_tests::{
    event, function_binary, moto_env, repo_root, Aws, FunctionProcess, MotoServer,
};
use serde_json::{json, Value};

use estate::{Kind, Sizes};

const FUNCTIONS: [&str; 4] = [
    "s3-public-access",
    "open-security-group",
    "untagged-instance",
    "config-rule",
];

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn sizes(name: &str, default: &str) -> Vec<usize> {
    setting(name, default)
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Operation -> count.
fn tally(calls: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for call in calls {
        // S3 REST calls carry the bucket in the path: keep method and sub-resource only.
        let name = match call.strip_prefix("S3 ") {
            Some(rest) => {
                let (method, path) = rest.split_once(' ').unwrap_or((rest, ""));
                let sub = path.split_once('?').map(|(_, q)| q).unwrap_or("");
                format!("S3 {method} ?{}", sub.split('=').next().unwrap_or(""))
            }
            None => call.clone(),
        };
        *counts.entry(name).or_default() += 1;
    }
    counts
}

/// A moto server of its own, with clients for seeding.
async fn fresh_account() -> (MotoServer, Aws) {
    let server = MotoServer::start();
    let aws = Aws::new(&server.endpoint()).await;
    (server, aws)
}

/// A topic without subscribers: the functions publish as they would in AWS.
async fn notification_topic(aws: &Aws) -> String {
    aws.sns
        .create_topic()
        .name("bench")
        .send()
        .await
        .expect("topic")
        .topic_arn
        .unwrap_or_default()
}

async fn start(
    binary: &Path,
    function: &str,
    server: &MotoServer,
    extra: &[(String, String)],
) -> FunctionProcess {
    let mut env = moto_env(&server.endpoint());
    env.extend(extra.iter().cloned());
    FunctionProcess::start(binary, function, &env).await
}

/// Where each profile's binaries are: the rig's own (`release`, next to this bench) and the
/// deployed ones (`deploy`, built by `make deploy-build`).
fn bin_dir(profile: &str) -> PathBuf {
    let release = function_binary("s3-public-access")
        .parent()
        .expect("target/release")
        .to_path_buf();
    match profile {
        "release" => release,
        other => release.parent().expect("target").join(other),
    }
}

/// Seeds one problem for `function`: the event that reports it, and the resource's id.
async fn one_problem(function: &str, aws: &Aws, n: usize) -> (Value, String) {
    match function {
        "s3-public-access" => {
            let bucket = format!("bench-cold-{n}");
            s3rig::create_public_bucket(&aws.s3, &bucket).await;
            let event = event(
                "s3-public-access/put-bucket-acl-allusers-read.json",
                &[("example-public-bucket", &bucket)],
            );
            (event, bucket)
        }
        "open-security-group" | "config-rule" => {
            let group = ec2rig::create_group(&aws.ec2, &format!("bench-cold-{n}")).await;
            open(&aws.ec2, &group, "tcp", 22, 22, "0.0.0.0/0").await;
            let file = if function == "config-rule" {
                "config-rule/configuration-item-change-security-group.json"
            } else {
                "open-security-group/authorize-sg-ingress-ssh-world.json"
            };
            (event(file, &[("sg-0a1b2c3d4e5f60718", &group)]), group)
        }
        _ => {
            let instance = ec2rig::launch_one(&aws.ec2, &[]).await;
            let event = event(
                "untagged-instance/instance-running.json",
                &[("i-0a1b2c3d4e5f60718", &instance)],
            );
            (event, instance)
        }
    }
}

/// Whether the problem `one_problem` seeded is gone (the Config rule only reports: always true).
async fn problem_fixed(function: &str, aws: &Aws, id: &str) -> bool {
    match function {
        "s3-public-access" => !s3rig::bucket_grants(&aws.s3, id)
            .await
            .iter()
            .any(|g| g.contains("AllUsers")),
        "open-security-group" => !ec2rig::ingress(&aws.ec2, id)
            .await
            .iter()
            .any(|rule| rule.contains("22") && rule.contains("0.0.0.0/0")),
        "untagged-instance" => ec2rig::instance_state(&aws.ec2, id).await != "running",
        _ => true,
    }
}

/// Where `started` (the function's own log line) says its init went, in ms per phase.
fn init_phases(logs: &[String]) -> Option<Value> {
    logs.iter().find_map(|line| {
        let line: Value = serde_json::from_str(line).ok()?;
        (line["message"] == "started").then(|| {
            let mut phases: Value = line["phases"]
                .as_str()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            phases["in_main_ms"] = line["init_ms"].clone();
            phases
        })
    })
}

/// The median of each phase over the cold starts.
fn median_phases(runs: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(first) = runs.first().and_then(Value::as_object) {
        for phase in first.keys() {
            let mut values: Vec<f64> = runs.iter().filter_map(|r| r[phase].as_f64()).collect();
            values.sort_by(f64::total_cmp);
            out.insert(phase.clone(), json!(percentile(&values, 0.5)));
        }
    }
    Value::Object(out)
}

/// Cold start (with where its init goes), warm latency, peak memory and AWS calls of one function
/// built with one profile (`bin_dir`), each invocation fixing one freshly seeded problem
/// (config-rule: evaluating one configuration item). Cold: the event is queued before the process
/// starts, so the first answer is spawn to response, with no wait in between.
async fn measure_function(
    function: &str,
    bin_dir: &Path,
    cold_runs: usize,
    warm_runs: usize,
    with_peer: bool,
) -> Value {
    let (server, aws) = fresh_account().await;
    let config = ConfigStub::start().await;
    let topic = notification_topic(&aws).await;
    let extra = vec![
        ("NOTIFICATION_TOPIC_ARN".to_string(), topic.clone()),
        (
            "AWS_ENDPOINT_URL_CONFIG_SERVICE".to_string(),
            config.endpoint.clone(),
        ),
    ];
    let binary = bin_dir.join(function);
    // One invocation first, not measured: moto sets up each service's state on its first request,
    // which AWS does not make anyone wait for.
    let (payload, _) = one_problem(function, &aws, 0).await;
    start(&binary, function, &server, &extra)
        .await
        .invoke(&payload)
        .await
        .response();
    let mut init = Vec::new();
    let mut first_response = Vec::new();
    let mut phases = Vec::new();
    let mut fixed = 0;
    let mut n = 0;
    for _ in 0..cold_runs {
        n += 1;
        let (payload, id) = one_problem(function, &aws, n).await;
        let mut process = start(&binary, function, &server, &extra).await;
        let invocation = process.invoke(&payload).await;
        invocation.response();
        first_response.push(millis(process.spawned_at.elapsed()));
        init.push(process.init_duration().map(millis).unwrap_or(0.0));
        phases.extend(init_phases(&process.logs()));
        fixed += usize::from(problem_fixed(function, &aws, &id).await);
    }

    let mut process = start(&binary, function, &server, &extra).await;
    let mut warm = Vec::new();
    let mut calls = BTreeMap::new();
    for run in 0..=warm_runs {
        n += 1;
        let (payload, _) = one_problem(function, &aws, n).await;
        let counted = run == warm_runs;
        let config_calls_before = config.calls().len();
        if counted {
            server.start_recording();
        }
        let invocation = process.invoke(&payload).await;
        invocation.response();
        if counted {
            calls = tally(&server.recorded_calls());
            for call in config.calls().into_iter().skip(config_calls_before) {
                *calls.entry(call.operation).or_default() += 1;
            }
        } else if run > 0 {
            warm.push(millis(invocation.duration));
        }
    }
    let rss = process.peak_rss_kib().unwrap_or(0);
    init.sort_by(f64::total_cmp);
    first_response.sort_by(f64::total_cmp);
    warm.sort_by(f64::total_cmp);
    let total_calls: usize = calls.values().sum();
    let mut result = json!({
        "function": function,
        "binary_bytes": std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0),
        "cold_init_ms_p50": percentile(&init, 0.5),
        "init_phases_ms_p50": median_phases(&phases),
        "cold_first_response_ms_p50": percentile(&first_response, 0.5),
        "cold_first_response_ms_max": percentile(&first_response, 1.0),
        "cold_fixed": fixed,
        "cold_runs": cold_runs,
        "warm_ms_p50": percentile(&warm, 0.5),
        "warm_ms_p95": percentile(&warm, 0.95),
        "peak_rss_kib": rss,
        "aws_calls_per_remediation": total_calls,
        "aws_calls_by_operation": calls,
    });
    // The floors: our init plus the fix's fewest sequential round trips at moto's measured round-trip
    // time (what AWS, answering side by side, would allow), and our init plus a bare client making
    // the fix's calls with the same concurrency (what moto, answering one at a time, allows).
    if let Some(path) = floor::critical_path(function).filter(|_| with_peer) {
        let round_trips = floor::round_trips(&aws, &topic).await;
        let rounds: f64 = path
            .iter()
            .map(|p| round_trips[*p].as_f64().unwrap_or(0.0))
            .sum();
        let init_p50 = percentile(&init, 0.5);
        result["round_trip_floor_ms"] = json!(((init_p50 + rounds) * 10.0).round() / 10.0);
        let mut bare = Vec::new();
        for run in 0..cold_runs {
            let (_, id) = one_problem(function, &aws, 20_000 + run).await;
            bare.push(millis(
                floor::bare_fix(function, &server.endpoint(), &topic, &id).await,
            ));
        }
        bare.sort_by(f64::total_cmp);
        result["bare_fix_ms_p50"] = json!(percentile(&bare, 0.5));
        result["floor_ms"] = json!(((init_p50 + percentile(&bare, 0.5)) * 10.0).round() / 10.0);
        result["floor_round_trips"] = json!(path
            .iter()
            .map(|p| json!({"call": p, "ms": round_trips[*p]}))
            .collect::<Vec<_>>());
        result["custodian_event"] = peer_event::measure(function, &server, &aws, cold_runs).await;
    }
    result
}

/// One scheduled sweep over `count` resources, 10% of them wrong, then the floor: a bare client
/// replaying the sweep's calls one after another on the same moto. The floor runs second, on the
/// state the sweep left (its reads see fixed resources, its writes change nothing), so if anything
/// it is a little cheaper than the sweep's own calls were.
async fn measure_sweep(kind: Kind, count: usize, bin_dir: &Path) -> Value {
    let (server, aws) = fresh_account().await;
    let seeding = Instant::now();
    let function = match kind {
        Kind::Instance => {
            let wrong = count / 10;
            let mut left = count - wrong;
            while left > 0 {
                let batch = left.min(500);
                ec2rig::launch(&aws.ec2, batch as i32, &[("Name", "web"), ("env", "prod")]).await;
                left -= batch;
            }
            let mut left = wrong;
            while left > 0 {
                let batch = left.min(500);
                ec2rig::launch(&aws.ec2, batch as i32, &[("Name", "batch")]).await;
                left -= batch;
            }
            "untagged-instance"
        }
        Kind::Group => {
            for i in 0..count {
                let group = ec2rig::create_group(&aws.ec2, &format!("bench-sweep-{i:05}")).await;
                let port = if i % 10 == 0 { 22 } else { 443 };
                open(&aws.ec2, &group, "tcp", port, port, "0.0.0.0/0").await;
            }
            "open-security-group"
        }
        Kind::Bucket => {
            for i in 0..count {
                let bucket = format!("bench-sweep-{i:05}");
                if i % 10 == 0 {
                    s3rig::create_bucket_with_canned_acl(
                        &aws.s3,
                        &bucket,
                        aws_sdk_s3::types::BucketCannedAcl::PublicRead,
                    )
                    .await;
                } else {
                    s3rig::create_private_bucket(&aws.s3, &bucket).await;
                }
            }
            "s3-public-access"
        }
    };
    let seeded_in = seeding.elapsed();
    let topic = notification_topic(&aws).await;
    let mut process = start(
        &bin_dir.join(function),
        function,
        &server,
        &[("NOTIFICATION_TOPIC_ARN".to_string(), topic.clone())],
    )
    .await;
    process.wait_ready(Duration::from_secs(30)).await;
    let sweep = event(&format!("{function}/scheduled-sweep.json"), &[]);
    server.start_recording();
    let invocation = process
        .invoke_with_timeout(&sweep, Duration::from_secs(1800))
        .await;
    let calls = tally(&server.recorded_calls());
    // A sweep that failed (moto slower than the functions' attempt timeout) is a result too.
    let (response, failure) = match &invocation.result {
        Ok(response) => (response.clone(), None),
        Err(err) => {
            let why = format!("{err:?}");
            eprintln!("  {function} sweep over {count} failed: {why}");
            (Value::Null, Some(why))
        }
    };
    let fixed: Vec<String> = response["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["outcome"] == "remediated")
        .filter_map(|r| r["resource_id"].as_str().map(String::from))
        .collect();
    let floor = match kind {
        Kind::Instance => floor::instance_sweep(&aws, &topic, &fixed).await,
        Kind::Group => floor::group_sweep(&aws, &topic, &fixed).await,
        Kind::Bucket => floor::bucket_sweep(&aws, &topic, remediation_tests::ACCOUNT, &fixed).await,
    };
    let notifications = calls.get("Publish").copied().unwrap_or(0)
        + calls.get("PublishBatch").copied().unwrap_or(0);
    let total: usize = calls.values().sum();
    eprintln!(
        "  {function} sweep over {count}: {:?} ({total} calls; floor {floor:?}), seeded in {seeded_in:?}",
        invocation.duration
    );
    json!({
        "function": function,
        "resources": count,
        "wrong": count / 10,
        "wall_ms": millis(invocation.duration),
        "floor_ms": millis(floor),
        "aws_calls": total,
        "aws_calls_without_notifications": total - notifications,
        "notifications": notifications,
        "aws_calls_by_operation": calls,
        "summary": response["summary"],
        "failed": failure,
        "peak_rss_kib": process.peak_rss_kib().unwrap_or(0),
    })
}

/// Our three remediation functions, started cold, one sweep each, without notifications
/// (Custodian's policies send none either).
async fn run_ours(server: &MotoServer) -> BTreeMap<Kind, (f64, BTreeMap<String, usize>)> {
    let mut runs = BTreeMap::new();
    for (kind, function) in [
        (Kind::Bucket, "s3-public-access"),
        (Kind::Group, "open-security-group"),
        (Kind::Instance, "untagged-instance"),
    ] {
        server.start_recording();
        let started = Instant::now();
        let mut process = start(
            &bin_dir(&setting("BENCH_PROFILE", "deploy")).join(function),
            function,
            server,
            &[],
        )
        .await;
        let invocation = process
            .invoke_with_timeout(
                &event(&format!("{function}/scheduled-sweep.json"), &[]),
                Duration::from_secs(900),
            )
            .await;
        invocation.response();
        runs.insert(
            kind,
            (millis(started.elapsed()), tally(&server.recorded_calls())),
        );
    }
    runs
}

fn custodian() -> PathBuf {
    std::env::var_os("CUSTODIAN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-bench/bin/custodian"))
}

/// Cloud Custodian, one `custodian run` per policy (bench/custodian-policies.yml).
fn run_custodian(server: &MotoServer) -> BTreeMap<Kind, (f64, BTreeMap<String, usize>)> {
    let policies = repo_root().join("bench/custodian-policies.yml");
    let output = std::env::temp_dir().join(format!("custodian-{}", server.port));
    let mut runs = BTreeMap::new();
    for (kind, policy) in [
        (Kind::Bucket, "s3-public-grants"),
        (Kind::Group, "sg-public-ingress"),
        (Kind::Instance, "ec2-missing-tags"),
    ] {
        server.start_recording();
        let started = Instant::now();
        let log = std::fs::File::create(output.with_extension("log")).expect("custodian log");
        let status = std::process::Command::new(custodian())
            .args([
                "run",
                "--cache-period",
                "0",
                "--region",
                "us-east-1",
                "-p",
                policy,
                "-s",
            ])
            .arg(&output)
            .arg(&policies)
            .envs(moto_env(&server.endpoint()))
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}): make bench installs it",
                    custodian().display()
                )
            });
        assert!(status.success(), "custodian {policy} failed");
        runs.insert(
            kind,
            (millis(started.elapsed()), tally(&server.recorded_calls())),
        );
    }
    runs
}

/// The same estate on two servers: ours on one, Custodian on the other, then both judged.
async fn compare_with_custodian(scale: usize) -> Value {
    let sizes = Sizes {
        buckets: 50 * scale,
        groups: 100 * scale,
        instances: 200 * scale,
    };
    let (ours_server, ours_aws) = fresh_account().await;
    let (peer_server, peer_aws) = fresh_account().await;
    let ours_estate = estate::seed(&ours_aws, sizes).await;
    let peer_estate = estate::seed(&peer_aws, sizes).await;

    let ours = run_ours(&ours_server).await;
    let peer = run_custodian(&peer_server);
    let ours_verdicts = estate::judge(&ours_aws, &ours_estate).await;
    let peer_verdicts = estate::judge(&peer_aws, &peer_estate).await;

    let mut kinds = Vec::new();
    for kind in [Kind::Bucket, Kind::Group, Kind::Instance] {
        let side =
            |runs: &BTreeMap<Kind, (f64, BTreeMap<String, usize>)>,
             verdicts: &BTreeMap<Kind, BTreeMap<estate::Verdict, usize>>| {
                let (ms, calls) = &runs[&kind];
                let verdicts: BTreeMap<&str, usize> = verdicts
                    .get(&kind)
                    .map(|v| v.iter().map(|(k, n)| (k.as_str(), *n)).collect())
                    .unwrap_or_default();
                json!({"wall_ms": ms, "aws_calls": calls.values().sum::<usize>(),
                   "aws_calls_by_operation": calls, "verdicts": verdicts})
            };
        let count = ours_estate.iter().filter(|r| r.kind == kind).count();
        let wrong = ours_estate
            .iter()
            .filter(|r| r.kind == kind && r.wrong)
            .count();
        kinds.push(json!({
            "resource_type": kind.as_str(),
            "resources": count,
            "wrong": wrong,
            "ours": side(&ours, &ours_verdicts),
            "custodian": side(&peer, &peer_verdicts),
        }));
    }
    json!({"sizes": {"buckets": sizes.buckets, "groups": sizes.groups, "instances": sizes.instances},
           "by_resource_type": kinds})
}

/// The moto the tests run, as installed (not as pinned somewhere).
fn moto_version() -> String {
    std::process::Command::new(remediation_tests::moto::python())
        .args(["-c", "import moto; print(moto.__version__)"])
        .output()
        .ok()
        .map(|o| format!("moto[server] {}", String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_else(|| "moto (version unknown)".into())
}

fn custodian_version() -> String {
    std::process::Command::new(custodian())
        .arg("version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu": cpu,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

#[tokio::main]
async fn main() {
    let dir = std::env::var_os("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("bench/results"));
    // `bench --report`: write the table and chart again from latest.json, without measuring.
    if std::env::args().any(|a| a == "--report") {
        let text = std::fs::read_to_string(dir.join("latest.json")).expect("latest.json");
        let results: Value = serde_json::from_str(&text).expect("latest.json is JSON");
        write_reports(&dir, &results);
        return;
    }
    // `bench --organization`: measure organization mode alone and add it to latest.json (its own date
    // on the section), priced with the side-by-side estate that latest.json already holds.
    if std::env::args().any(|a| a == "--organization") {
        let text = std::fs::read_to_string(dir.join("latest.json")).expect("latest.json");
        let mut results: Value = serde_json::from_str(&text).expect("latest.json is JSON");
        let org = measure_organization(&results["custodian_comparison"]).await;
        results["organization"] = org;
        std::fs::write(
            dir.join("latest.json"),
            serde_json::to_string_pretty(&results).expect("json") + "\n",
        )
        .expect("write json");
        write_reports(&dir, &results);
        return;
    }
    let cold_runs: usize = setting("BENCH_COLD_RUNS", "5").parse().unwrap_or(5);
    let warm_runs: usize = setting("BENCH_WARM_RUNS", "20").parse().unwrap_or(20);
    let started = Instant::now();

    let profile = setting("BENCH_PROFILE", "deploy");
    eprintln!("bench: functions (cold start, warm latency, memory, calls), profile {profile}");
    let deployed = bin_dir(&profile);
    assert!(
        deployed.join(FUNCTIONS[0]).is_file(),
        "no deployed binaries in {} (make bench builds them with `make deploy-build`)",
        deployed.display()
    );
    let mut functions = Vec::new();
    for function in FUNCTIONS {
        functions.push(measure_function(function, &deployed, cold_runs, warm_runs, true).await);
    }
    eprintln!("bench: functions, the test rig's release profile");
    let mut release_profile = Vec::new();
    for function in FUNCTIONS.iter().filter(|_| profile != "release") {
        release_profile.push(
            measure_function(function, &bin_dir("release"), cold_runs, warm_runs, false).await,
        );
    }

    eprintln!("bench: sweeps");
    let mut sweeps = Vec::new();
    for count in sizes("BENCH_INSTANCE_SWEEPS", "1000,10000") {
        sweeps.push(measure_sweep(Kind::Instance, count, &deployed).await);
    }
    for count in sizes("BENCH_GROUP_SWEEPS", "1000") {
        sweeps.push(measure_sweep(Kind::Group, count, &deployed).await);
    }
    for count in sizes("BENCH_BUCKET_SWEEPS", "1000") {
        sweeps.push(measure_sweep(Kind::Bucket, count, &deployed).await);
    }

    eprintln!("bench: side by side with Cloud Custodian");
    let scale: usize = setting("BENCH_PEER_SCALE", "1").parse().unwrap_or(1);
    let peer = compare_with_custodian(scale).await;

    let org = measure_organization(&peer).await;

    let results = json!({
        "version": 1,
        "date": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "command": "make bench",
        "machine": machine(),
        "moto": moto_version(),
        "custodian": custodian_version(),
        "profile": profile,
        "functions": functions,
        "release_profile": release_profile,
        "sweeps": sweeps,
        "custodian_comparison": peer,
        "organization": org,
        "bench_seconds": started.elapsed().as_secs(),
    });
    std::fs::create_dir_all(&dir).expect("results folder");
    std::fs::write(
        dir.join("latest.json"),
        serde_json::to_string_pretty(&results).expect("json") + "\n",
    )
    .expect("write json");
    write_reports(&dir, &results);
    println!("{}", report::markdown(&results));
    eprintln!(
        "bench: wrote {}/latest.{{json,md,svg}} in {:?}",
        dir.display(),
        started.elapsed()
    );
}

/// Organization mode: a sweep fanned out over BENCH_ORG_ACCOUNTS x BENCH_ORG_REGIONS, priced with the
/// side-by-side comparison's estate (`peer`) in every account x region.
async fn measure_organization(peer: &Value) -> Value {
    eprintln!("bench: organization mode (a sweep fanned out over accounts x regions)");
    let org_accounts: usize = setting("BENCH_ORG_ACCOUNTS", "50").parse().unwrap_or(50);
    let org_regions = setting("BENCH_ORG_REGIONS", "us-east-1,eu-west-1");
    let org_regions: Vec<&str> = org_regions
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    // The comparison's estate, as if every account x region held it: our calls and Custodian's time.
    let per_place = peer["by_resource_type"]
        .as_array()
        .map(|kinds| organization::PerPlace {
            estate: format!(
                "{} buckets, {} security groups, {} instances",
                peer["sizes"]["buckets"], peer["sizes"]["groups"], peer["sizes"]["instances"]
            ),
            our_calls: kinds
                .iter()
                .map(|k| k["ours"]["aws_calls"].as_f64().unwrap_or(0.0))
                .sum(),
            custodian_ms: kinds
                .iter()
                .map(|k| k["custodian"]["wall_ms"].as_f64().unwrap_or(0.0))
                .sum(),
        });
    let mut org = organization::measure(org_accounts, &org_regions, per_place).await;
    org["date"] = json!(time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default());
    org
}

fn write_reports(dir: &std::path::Path, results: &Value) {
    std::fs::write(dir.join("latest.md"), report::markdown(results)).expect("write md");
    std::fs::write(dir.join("latest.svg"), report::svg(results)).expect("write svg");
}
