//! Cloud Custodian's event path: the policy that matches a function, in its Lambda mode, handling the
//! same real-shaped event in a fresh Python process through `c7n.handler.dispatch_event`, as
//! Custodian's own Lambda does on a cold start (bench/custodian_event.py).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use remediation_tests::{moto_env, repo_root, Aws, MotoServer};
use serde_json::{json, Value};

use crate::{millis, one_problem, percentile, problem_fixed};

fn python() -> PathBuf {
    crate::custodian().with_file_name("python")
}

fn policy(function: &str) -> &'static str {
    match function {
        "s3-public-access" => "s3-public-grants",
        "open-security-group" => "sg-public-ingress",
        _ => "ec2-missing-tags",
    }
}

fn seconds_since_epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// `runs` cold starts, each on a freshly seeded problem: spawn to exit, split into the interpreter's
/// start, `import c7n.handler`, and handling the event; and how many of the problems were gone after.
pub async fn measure(function: &str, server: &MotoServer, aws: &Aws, runs: usize) -> Value {
    let script = repo_root().join("bench/custodian_event.py");
    let dir = std::env::temp_dir().join(format!("c7n-event-{function}-{}", server.port));
    let prepared = Command::new(python())
        .arg(&script)
        .args(["prepare", policy(function)])
        .arg(&dir)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): make bench installs it",
                python().display()
            )
        });
    assert!(prepared.success(), "custodian_event.py prepare failed");
    let (mut total, mut interpreter, mut import, mut work) = (vec![], vec![], vec![], vec![]);
    let mut fixed = 0;
    for n in 0..runs {
        let (event, id) = one_problem(function, aws, 10_000 + n).await;
        let event_file = dir.join("event.json");
        std::fs::write(&event_file, event.to_string()).expect("event file");
        let log = std::fs::File::create(dir.join("custodian.log")).expect("custodian log");
        let spawned = SystemTime::now();
        let started = Instant::now();
        let output = Command::new(python())
            .arg(&script)
            .arg("run")
            .arg(&event_file)
            .current_dir(&dir)
            .envs(moto_env(&server.endpoint()))
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .stderr(Stdio::from(log))
            .output()
            .expect("custodian event run");
        total.push(millis(started.elapsed()));
        assert!(
            output.status.success(),
            "custodian event run failed: see {}",
            dir.display()
        );
        let times: Value = String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_default();
        let ms = |s: f64| (s * 1000.0 * 10.0).round() / 10.0;
        interpreter.push(ms(
            times["started"].as_f64().unwrap_or(0.0) - seconds_since_epoch(spawned)
        ));
        import.push(ms(times["import_s"].as_f64().unwrap_or(0.0)));
        work.push(ms(times["work_s"].as_f64().unwrap_or(0.0)));
        fixed += usize::from(problem_fixed(function, aws, &id).await);
    }
    for v in [&mut total, &mut interpreter, &mut import, &mut work] {
        v.sort_by(f64::total_cmp);
    }
    json!({
        "policy": policy(function),
        "runs": runs,
        "fixed": fixed,
        "spawn_to_exit_ms_p50": percentile(&total, 0.5),
        "interpreter_ms_p50": percentile(&interpreter, 0.5),
        "import_ms_p50": percentile(&import, 0.5),
        "work_ms_p50": percentile(&work, 0.5),
    })
}
