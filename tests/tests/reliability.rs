//! Faults, end to end: the real binaries under the Runtime API emulator while AWS misbehaves.
//! Throttling and failing SNS are injected by the rig's moto launcher (tools/moto_server.py),
//! access denied comes from moto's own IAM enforcement (`reset-auth`).

use std::time::Duration;

use remediation_tests::ec2::{self as sg, ingress, open};
use remediation_tests::moto::free_port;
use remediation_tests::{
    event, log_filter_matches, metric_filter_pattern, start_function, unique, Account,
    FunctionError, Invocation,
};
use serde_json::{json, Value};

const FUNCTION: &str = "open-security-group";
const SAMPLE_GROUP: &str = "sg-0a1b2c3d4e5f60718";

fn ssh_event(group: &str) -> Value {
    event(
        &format!("{FUNCTION}/authorize-sg-ingress-ssh-world.json"),
        &[(SAMPLE_GROUP, group)],
    )
}

fn sweep() -> Value {
    event(&format!("{FUNCTION}/scheduled-sweep.json"), &[])
}

/// The error message of an invocation that must have failed (so that Lambda retries).
fn reported_error(invocation: &Invocation) -> String {
    match &invocation.result {
        Err(FunctionError::Reported { body, .. }) => body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        other => panic!(
            "expected an error for Lambda to retry, got {other:?}\nlogs:\n{}",
            invocation.logs.join("\n")
        ),
    }
}

/// Every SNS Publish answers 500 from now on (the rig's fault injection).
fn sns_fails(account: &Account) {
    account
        .moto
        .server()
        .inject_faults(json!([{"operation": "Publish", "times": -1,
        "status": 500, "code": "InternalError", "message": "SNS is having a bad day"}]));
}

async fn group_open_on_ssh(account: &Account) -> String {
    let group = sg::create_group(&account.aws.ec2, &unique("web")).await;
    open(&account.aws.ec2, &group, "tcp", 22, 22, "0.0.0.0/0").await;
    group
}

#[tokio::test]
async fn endpoint_down_answers_with_an_error_before_the_deadline() {
    // Nothing listens on this port: every connection is refused.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let mut function = start_function(FUNCTION, &endpoint, &[]).await;
    let timeout = Duration::from_secs(20);
    for attempt in 0..2 {
        let invocation = function
            .invoke_with_timeout(&ssh_event("sg-0123456789abcdef0"), timeout)
            .await;
        let message = reported_error(&invocation);
        assert!(message.contains("will be retried"), "{message}");
        assert!(
            invocation.duration < timeout,
            "attempt {attempt}: answered after {:?}",
            invocation.duration
        );
    }
}

/// An endpoint that accepts connections and never answers (a black hole, not a refusal): each AWS call
/// gives up after its attempt timeout, and the function answers with an error for Lambda to retry, long
/// before the deadline, instead of hanging until Lambda kills it with nothing reported.
#[tokio::test]
async fn a_hung_endpoint_times_out_and_the_event_is_retried_before_the_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut function = start_function(FUNCTION, &endpoint, &[]).await;
    // A Config compliance change: one describe call, no loop-guard lookup before it.
    let config_event = event(
        &format!("{FUNCTION}/config-restricted-ssh.json"),
        &[(SAMPLE_GROUP, "sg-0123456789abcdef0")],
    );
    let deadline = Duration::from_secs(45);
    let invocation = function.invoke_with_timeout(&config_event, deadline).await;
    let message = reported_error(&invocation);
    assert!(message.contains("will be retried"), "{message}");
    // The group's two reads go out at once; whichever hung up first is named.
    assert!(
        message.contains("DescribeSecurityGroups")
            || message.contains("DescribeSecurityGroupRules"),
        "names a call that hung: {message}"
    );
    // Two attempts (AWS_MAX_ATTEMPTS=2 in the rig) of at most 10 s each, well inside the deadline.
    assert!(
        invocation.duration < Duration::from_secs(30),
        "answered after {:?}",
        invocation.duration
    );
    hold.abort();
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_and_then_by_lambda() {
    let account = Account::new().await;
    let group = group_open_on_ssh(&account).await;
    let mut function = account
        .function(FUNCTION, &[("AWS_MAX_ATTEMPTS", "3")])
        .await;
    let throttled = |times: i64| {
        json!([{"operation": "RevokeSecurityGroupIngress", "times": times, "status": 400,
                "code": "RequestLimitExceeded", "message": "Request limit exceeded."}])
    };

    // A short burst: the SDK's own retry gets through.
    account.moto.server().inject_faults(throttled(2));
    let invocation = function.invoke(&ssh_event(&group)).await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "remediated");
    let hits = account.moto.server().fault_hits();
    assert_eq!(hits.get("RevokeSecurityGroupIngress"), Some(&2), "{hits:?}");
    assert!(ingress(&account.aws.ec2, &group).await.is_empty());
    assert_eq!(account.inbox.drain().await.len(), 1);

    // Throttled for good: 3 attempts, then an error so that Lambda retries the event; nothing notified.
    open(&account.aws.ec2, &group, "tcp", 22, 22, "0.0.0.0/0").await;
    account.moto.server().inject_faults(throttled(-1));
    let invocation = function.invoke(&ssh_event(&group)).await;
    let message = reported_error(&invocation);
    assert!(message.contains("RequestLimitExceeded"), "{message}");
    assert_eq!(
        account.moto.server().fault_hits()["RevokeSecurityGroupIngress"],
        3
    );
    assert_eq!(ingress(&account.aws.ec2, &group).await.len(), 1);
    assert!(account.inbox.drain().await.is_empty());

    // Lambda's retry, once the throttling is over, fixes it.
    account.moto.server().inject_faults(json!([]));
    let invocation = function.invoke(&ssh_event(&group)).await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "remediated");
    assert!(ingress(&account.aws.ec2, &group).await.is_empty());
}

#[tokio::test]
async fn access_denied_is_a_failed_outcome_and_people_are_told() {
    let account = Account::new().await;
    let group = group_open_on_ssh(&account).await;
    // A role that may look and tell, but not revoke (as if someone trimmed the template's policy).
    let (key, secret) = account.moto.server().iam_user(
        &unique("trimmed-role"),
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["ec2:Describe*", "sns:Publish", "sts:GetCallerIdentity"], "Resource": "*"}]}),
    );
    let mut function = account
        .function(
            FUNCTION,
            &[
                ("AWS_ACCESS_KEY_ID", &key),
                ("AWS_SECRET_ACCESS_KEY", &secret),
            ],
        )
        .await;

    account.moto.server().enforce_iam(true);
    let invocation = function.invoke(&ssh_event(&group)).await;
    account.moto.server().enforce_iam(false);

    let result = &invocation.response()["results"][0];
    assert_eq!(result["outcome"], "failed", "{result}");
    assert!(
        result["reason"]
            .as_str()
            .unwrap()
            .contains("RevokeSecurityGroupIngress"),
        "{result}"
    );
    assert_eq!(ingress(&account.aws.ec2, &group).await.len(), 1);
    let notes = account.inbox.drain().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].document["outcome"], "failed");
    assert_eq!(notes[0].attributes["severity"]["Value"], "high");
    // The stack's FailedOutcomes metric (and its alarm) counts this from the log line.
    let pattern = metric_filter_pattern("FailedOutcomes");
    assert!(
        invocation
            .logs
            .iter()
            .any(|l| log_filter_matches(&pattern, l)),
        "no log line matches {pattern}:\n{}",
        invocation.logs.join("\n")
    );
    // The outcome is counted as an embedded metric, per function and outcome.
    let lines: Vec<Value> = invocation
        .logs
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let metric = lines
        .iter()
        .find(|l| l.get("_aws").is_some() && l["outcome"] == "failed")
        .unwrap_or_else(|| panic!("no embedded metric for the failure:\n{lines:#?}"));
    assert_eq!(
        metric["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["function", "outcome"]])
    );
    assert_eq!(metric["Resources"], 1);
    assert!(metric["function"].as_str().is_some_and(|f| !f.is_empty()));
    // The decision names where the resource is, and the invocation's span the version and region.
    let decision = lines
        .iter()
        .find(|l| l["message"] == "decision")
        .expect("a decision line");
    assert_eq!(decision["account"], "123456789012", "{decision}");
    assert_eq!(decision["region"], "us-east-1", "{decision}");
    assert!(
        decision["span"]["function_version"].is_string(),
        "{decision}"
    );
    assert_eq!(decision["span"]["region"], "us-east-1", "{decision}");
}

#[tokio::test]
async fn a_failing_notification_keeps_the_fix_and_asks_for_a_retry() {
    let account = Account::new().await;
    let group = group_open_on_ssh(&account).await;
    let mut function = account.function(FUNCTION, &[]).await;
    account.moto.server().start_recording();
    sns_fails(&account);

    let invocation = function.invoke(&ssh_event(&group)).await;
    let message = reported_error(&invocation);
    assert!(message.contains("notification for"), "{message}");
    assert!(
        ingress(&account.aws.ec2, &group).await.is_empty(),
        "the fix stands"
    );
    assert!(
        invocation
            .logs
            .iter()
            .any(|l| l.contains("notification failed")),
        "logged"
    );

    // Lambda's retry finds the group fixed: no second revoke, nothing undone.
    account.moto.server().inject_faults(json!([]));
    let invocation = function.invoke(&ssh_event(&group)).await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "compliant");
    let revokes = account
        .moto
        .server()
        .recorded_calls()
        .iter()
        .filter(|call| call.as_str() == "RevokeSecurityGroupIngress")
        .count();
    assert_eq!(revokes, 1);
}

/// After a fix, Lambda's retry of a failed invocation would find the resource compliant and say nothing:
/// with an undelivered queue (the stack's dead-letter queue), the message SNS refused is kept there
/// whole, so the change is never untold, and the invocation does not need a retry.
#[tokio::test]
async fn a_notification_sns_refuses_after_a_fix_is_kept_in_the_undelivered_queue() {
    let account = Account::new().await;
    let group = group_open_on_ssh(&account).await;
    let queue_url = account
        .aws
        .sqs
        .create_queue()
        .queue_name(unique("undelivered"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mut function = account
        .function(FUNCTION, &[("UNDELIVERED_QUEUE_URL", &queue_url)])
        .await;
    sns_fails(&account);

    let invocation = function.invoke(&ssh_event(&group)).await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "remediated");
    assert!(
        ingress(&account.aws.ec2, &group).await.is_empty(),
        "the fix stands"
    );
    let kept = account
        .aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(kept.len(), 1, "one message kept: {kept:?}");
    let body: Value = serde_json::from_str(kept[0].body().unwrap()).unwrap();
    let document = &body["document"];
    assert_eq!(document["outcome"], "remediated", "{body:#}");
    assert_eq!(document["resource_id"], group.as_str());
    assert!(
        document["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "revoked tcp 22 from 0.0.0.0/0"),
        "{body:#}"
    );
    assert_eq!(remediation_tests::check_notification(document), Ok(()));
    let why = body["undelivered_notification"]["error"].as_str().unwrap();
    assert!(why.contains("InternalError"), "{why}");
    assert!(body["undelivered_notification"]["text"]
        .as_str()
        .unwrap()
        .contains(&group));
    assert!(
        account.inbox.drain().await.is_empty(),
        "SNS delivered nothing"
    );
}

#[tokio::test]
async fn a_sweep_near_its_deadline_stops_cleanly_and_says_what_is_left() {
    let account = Account::new().await;
    let mut groups = Vec::new();
    for _ in 0..300 {
        groups.push(group_open_on_ssh(&account).await);
    }
    let mut function = account.function(FUNCTION, &[]).await;
    let timeout = Duration::from_secs(2);
    let invocation = function.invoke_with_timeout(&sweep(), timeout).await;
    assert!(
        invocation.duration < timeout,
        "answered after {:?}: {:?}\n{}",
        invocation.duration,
        invocation.result,
        invocation.logs.join("\n")
    );
    let response = invocation.response();
    assert_eq!(response["status"], "unfinished", "{}", response["summary"]);
    let pattern = metric_filter_pattern("UnfinishedSweeps");
    assert!(
        invocation
            .logs
            .iter()
            .any(|l| log_filter_matches(&pattern, l)),
        "no log line matches {pattern}"
    );
    let fixed = response["summary"]["remediated"].as_u64().unwrap_or(0) as usize;
    assert!(fixed > 0, "some groups were fixed before time ran out");
    let unfinished = response["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["outcome"] == "unfinished")
        .expect("an unfinished entry");
    let reason = unfinished["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("{} of {} resources not checked", 300 - fixed, 300))
            || reason.contains("resources not checked"),
        "{reason}"
    );

    let mut still_open = Vec::new();
    for group in &groups {
        if !ingress(&account.aws.ec2, group).await.is_empty() {
            still_open.push(group.clone());
        }
    }
    assert_eq!(
        still_open.len(),
        300 - fixed,
        "exactly the reported ones are fixed"
    );
    let listed: Vec<String> = unfinished["left"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), still_open.len().min(100));
    assert!(
        listed.iter().all(|id| still_open.contains(id)),
        "left = still open"
    );
    assert_eq!(
        account.inbox.drain().await.len(),
        fixed,
        "one message per fix"
    );

    // The next sweep, with time to spare, does the rest.
    let invocation = function.invoke(&sweep()).await;
    assert_eq!(invocation.response()["status"], "done");
    assert_eq!(
        invocation.response()["summary"]["remediated"],
        json!(still_open.len())
    );
}

#[tokio::test]
async fn an_event_left_unchecked_at_the_deadline_is_retried() {
    let account = Account::new().await;
    let group = group_open_on_ssh(&account).await;
    let mut function = account.function(FUNCTION, &[]).await;
    // No time at all: the function must not start, and must ask Lambda to retry.
    let invocation = function
        .invoke_with_timeout(&ssh_event(&group), Duration::from_millis(0))
        .await;
    match &invocation.result {
        Err(FunctionError::Reported { body, .. }) => {
            let message = body["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains("before the deadline"), "{message}");
        }
        // The emulator may give up first; either way nothing was changed.
        Err(FunctionError::Timeout) => {}
        other => panic!("expected a retry, got {other:?}"),
    }
    assert_eq!(ingress(&account.aws.ec2, &group).await.len(), 1);
}

#[tokio::test]
async fn payloads_that_are_not_json_get_an_error_and_the_function_lives_on() {
    let account = Account::new().await;
    let group = group_open_on_ssh(&account).await;
    let mut function = account.function(FUNCTION, &[]).await;
    let real = ssh_event(&group).to_string();
    let truncated = real.as_bytes()[..real.len() / 2].to_vec();
    let lone_surrogate = br#"{"detail-type": "\udc80", "detail": {}}"#.to_vec();
    let not_utf8 = b"{\"detail-type\": \"\xff\xfe\"}".to_vec();
    for body in [truncated, lone_surrogate, not_utf8, Vec::new()] {
        let invocation = function
            .invoke_raw(body.clone(), Duration::from_secs(10))
            .await;
        match &invocation.result {
            Err(FunctionError::Reported { body: error, .. }) => assert!(
                error["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("deserialize"),
                "{error}"
            ),
            other => panic!("{}: {other:?}", String::from_utf8_lossy(&body)),
        }
    }
    let invocation = function.invoke(&ssh_event(&group)).await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "remediated");
}
