//! `local-invoke <function> <event.json> [NAME=VALUE ...]`: the Docker-free `sam local invoke`.
//!
//! Runs the real function binary (target/release/<function>) under the Lambda Runtime API emulator,
//! sends it one event, prints the logs to stderr and the response to stdout.
//! AWS calls go to `AWS_ENDPOINT_URL` when it is set; otherwise to a fresh moto_server started for
//! this run (empty: the function will find nothing to fix, which is handy to check event handling).
//! Settings (`DRY_RUN`, `NOTIFICATION_TOPIC_ARN`, ...) come from the environment or NAME=VALUE arguments.

use std::process::ExitCode;

use remediation_tests::security_hub_stub::SecurityHubStub;
use remediation_tests::{function_binary, moto_env, FunctionProcess, Moto};

const SETTINGS: &[&str] = &[
    "NOTIFICATION_TOPIC_ARN",
    "DRY_RUN",
    "EXEMPT_TAG",
    "ALLOWED_PUBLIC_PORTS",
    "REQUIRED_TAGS",
    "GRACE_MINUTES",
    "BLOCK_PUBLIC_ACCESS",
    "RUST_LOG",
    "AWS_LAMBDA_LOG_LEVEL",
];

const AWS_PASS_THROUGH: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_MAX_ATTEMPTS",
];

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args[0].starts_with('-') {
        eprintln!("usage: local-invoke <function> <event.json> [NAME=VALUE ...]");
        eprintln!("  e.g. local-invoke s3-public-access events/s3-public-access/put-bucket-acl-allusers-read.json DRY_RUN=true");
        return ExitCode::from(2);
    }
    let (function, event_path) = (&args[0], &args[1]);
    let event: serde_json::Value =
        match std::fs::read_to_string(event_path).map(|t| serde_json::from_str(&t)) {
            Ok(Ok(event)) => event,
            Ok(Err(err)) => {
                eprintln!("{event_path} is not JSON: {err}");
                return ExitCode::from(2);
            }
            Err(err) => {
                eprintln!("cannot read {event_path}: {err}");
                return ExitCode::from(2);
            }
        };

    let mut _moto = None;
    let mut env: Vec<(String, String)> = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) if !endpoint.is_empty() => {
            let mut env = vec![("AWS_ENDPOINT_URL".to_string(), endpoint)];
            for name in AWS_PASS_THROUGH {
                if let Ok(value) = std::env::var(name) {
                    env.push((name.to_string(), value));
                }
            }
            env
        }
        _ => {
            let server = Moto::dedicated();
            eprintln!(
                "local-invoke: started an empty moto_server at {}",
                server.endpoint()
            );
            let env = moto_env(&server.endpoint());
            _moto = Some(server);
            env
        }
    };
    for name in SETTINGS {
        if let Ok(value) = std::env::var(name) {
            env.push((name.to_string(), value));
        }
    }
    for arg in &args[2..] {
        match arg.split_once('=') {
            Some((name, value)) => env.push((name.to_string(), value.to_string())),
            None => {
                eprintln!("expected NAME=VALUE, got {arg:?}");
                return ExitCode::from(2);
            }
        }
    }

    // moto has no BatchUpdateFindings: a Security Hub event's updates go to a recording stand-in,
    // printed below, unless an endpoint for Security Hub is given.
    let hub = match std::env::var("AWS_ENDPOINT_URL_SECURITYHUB") {
        Ok(endpoint) if !endpoint.is_empty() => {
            env.push(("AWS_ENDPOINT_URL_SECURITYHUB".to_string(), endpoint));
            None
        }
        _ => {
            let hub = SecurityHubStub::start().await;
            env.push((
                "AWS_ENDPOINT_URL_SECURITYHUB".to_string(),
                hub.endpoint.clone(),
            ));
            Some(hub)
        }
    };

    let mut process = FunctionProcess::start(&function_binary(function), function, &env).await;
    let invocation = process.invoke(&event).await;
    for update in hub.iter().flat_map(|hub| hub.updates()) {
        eprintln!("local-invoke: BatchUpdateFindings {update}");
    }
    // On failure show everything the process logged, start-up included.
    let logs = if invocation.result.is_ok() {
        invocation.logs.clone()
    } else {
        process.logs()
    };
    for line in &logs {
        eprintln!("{line}");
    }
    eprintln!(
        "local-invoke: {function} request {} took {} ms (init {} ms)",
        invocation.request_id,
        invocation.duration.as_millis(),
        process
            .init_duration()
            .map(|d| d.as_millis().to_string())
            .unwrap_or_else(|| "?".into())
    );
    match invocation.result {
        Ok(response) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&response).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&format!("{err:?}")).unwrap_or_default()
            );
            ExitCode::FAILURE
        }
    }
}
