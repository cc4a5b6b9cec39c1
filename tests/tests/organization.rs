//! Organization mode, end to end: three accounts x two regions on one moto (the central account,
//! 123456789012, and two members reached through assumed-role credentials, which moto scopes to the
//! role's account). The real binaries assume the member role themselves, exactly as in AWS.

use std::time::Duration;

use remediation_tests::ec2::{self as sg, ingress, open};
use remediation_tests::organization::{member, JobQueue, MEMBER_ROLE};
use remediation_tests::{event, unique, Account, Aws, FunctionProcess, ACCOUNT, REGION};
use serde_json::{json, Value};

const FUNCTION: &str = "open-security-group";
const SAMPLE_GROUP: &str = "sg-0a1b2c3d4e5f60718";
const ALPHA: &str = "111111111111";
const BETA: &str = "222222222222";
const OTHER_REGION: &str = "eu-west-1";

/// A group open on SSH to the world, and its negative twin open only to a partner's /24.
async fn open_and_narrow(aws: &Aws) -> (String, String) {
    let open_group = sg::create_group(&aws.ec2, &unique("web")).await;
    open(&aws.ec2, &open_group, "tcp", 22, 22, "0.0.0.0/0").await;
    let narrow = sg::create_group(&aws.ec2, &unique("partner")).await;
    open(&aws.ec2, &narrow, "tcp", 22, 22, "203.0.113.0/24").await;
    (open_group, narrow)
}

/// The CloudTrail event of SSH opened on `group` in `account` and `region`.
fn ssh_opened(group: &str, account: &str, region: &str) -> Value {
    event(
        &format!("{FUNCTION}/authorize-sg-ingress-ssh-world.json"),
        &[(SAMPLE_GROUP, group), (ACCOUNT, account), (REGION, region)],
    )
}

async fn organization_function(central: &Account, extra: &[(&str, &str)]) -> FunctionProcess {
    let mut settings = vec![("MEMBER_ROLE_NAME", MEMBER_ROLE)];
    settings.extend_from_slice(extra);
    central.function(FUNCTION, &settings).await
}

/// The function in organization mode, sweeping `accounts` through `queue`.
async fn sweeping(central: &Account, queue: &JobQueue, accounts: &str) -> FunctionProcess {
    organization_function(
        central,
        &[
            ("SWEEP_QUEUE_URL", &queue.url),
            ("SWEEP_ACCOUNTS", accounts),
        ],
    )
    .await
}

fn by_resource(notifications: &[remediation_tests::Notification], id: &str) -> Vec<Value> {
    notifications
        .iter()
        .filter(|n| n.document["resource_id"] == id)
        .map(|n| n.document.clone())
        .collect()
}

#[tokio::test]
async fn events_from_member_accounts_are_fixed_there_and_nowhere_else() {
    let central = Account::new().await;
    let endpoint = central.moto.endpoint();
    let alpha = member(&endpoint, ALPHA, REGION).await;
    let beta_abroad = member(&endpoint, BETA, OTHER_REGION).await;
    let (alpha_open, alpha_narrow) = open_and_narrow(&alpha).await;
    let (beta_open, _) = open_and_narrow(&beta_abroad).await;
    let (central_open, _) = open_and_narrow(&central.aws).await;

    let mut function = organization_function(&central, &[]).await;
    let answer = function
        .invoke(&ssh_opened(&alpha_open, ALPHA, REGION))
        .await;
    assert_eq!(
        answer.response()["summary"]["remediated"],
        1,
        "{}",
        answer.response()
    );
    assert!(
        ingress(&alpha.ec2, &alpha_open).await.is_empty(),
        "fixed in its own account"
    );
    // Nothing else moved: the twin in the same account, the same kind of rule elsewhere.
    assert_eq!(
        ingress(&alpha.ec2, &alpha_narrow).await,
        ["tcp 22-22 203.0.113.0/24"]
    );
    assert_eq!(
        ingress(&beta_abroad.ec2, &beta_open).await,
        ["tcp 22-22 0.0.0.0/0"]
    );
    assert_eq!(
        ingress(&central.aws.ec2, &central_open).await,
        ["tcp 22-22 0.0.0.0/0"]
    );

    // Another member, another region: acted on there, through clients in that region.
    let answer = function
        .invoke(&ssh_opened(&beta_open, BETA, OTHER_REGION))
        .await;
    assert_eq!(
        answer.response()["summary"]["remediated"],
        1,
        "{}",
        answer.response()
    );
    assert!(ingress(&beta_abroad.ec2, &beta_open).await.is_empty());
    assert_eq!(
        ingress(&central.aws.ec2, &central_open).await,
        ["tcp 22-22 0.0.0.0/0"]
    );

    let notifications = central.inbox.drain().await;
    let alpha_message = &by_resource(&notifications, &alpha_open)[0];
    assert_eq!(alpha_message["account"], ALPHA);
    assert_eq!(alpha_message["region"], REGION);
    let beta_message = &by_resource(&notifications, &beta_open)[0];
    assert_eq!(beta_message["account"], BETA);
    assert_eq!(beta_message["region"], OTHER_REGION);
    // The undo names the account and region it must act in.
    assert_eq!(
        beta_message["undo"][0]["operation"],
        "AuthorizeSecurityGroupIngress"
    );
    // One AssumeRole per member account, kept for the next event.
    let assumed = function
        .logs()
        .iter()
        .filter(|l| l.contains("assumed the member role"))
        .count();
    assert_eq!(assumed, 2, "{}", function.logs().join("\n"));
    function
        .invoke(&ssh_opened(&alpha_open, ALPHA, REGION))
        .await;
    let assumed_again = function
        .logs()
        .iter()
        .filter(|l| l.contains("assumed the member role"))
        .count();
    assert_eq!(
        assumed_again, 2,
        "credentials are kept until shortly before they expire"
    );
}

#[tokio::test]
async fn single_account_mode_leaves_other_accounts_alone() {
    let central = Account::new().await;
    let alpha = member(&central.moto.endpoint(), ALPHA, REGION).await;
    let (alpha_open, _) = open_and_narrow(&alpha).await;

    let mut function = central.function(FUNCTION, &[]).await;
    let answer = function
        .invoke(&ssh_opened(&alpha_open, ALPHA, REGION))
        .await;
    let response = answer.response();
    assert_eq!(response["summary"]["ignored"], 1, "{response}");
    let reason = response["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(ALPHA) && reason.contains("MEMBER_ROLE_NAME"),
        "{reason}"
    );
    assert_eq!(
        ingress(&alpha.ec2, &alpha_open).await,
        ["tcp 22-22 0.0.0.0/0"]
    );
    assert!(central.inbox.drain().await.is_empty());
}

#[tokio::test]
async fn an_account_whose_role_cannot_be_assumed_fails_alone_and_is_told() {
    let central = Account::new().await;
    let endpoint = central.moto.endpoint();
    let alpha = member(&endpoint, ALPHA, REGION).await;
    let beta = member(&endpoint, BETA, REGION).await;
    let (alpha_open, _) = open_and_narrow(&alpha).await;
    let (beta_open, _) = open_and_narrow(&beta).await;
    // BETA has no member role (or one that does not trust us): STS answers AccessDenied.
    central.moto.server().inject_faults(json!([{
        "operation": "AssumeRole", "times": -1, "status": 403, "code": "AccessDenied",
        "match": {"RoleArn": BETA},
        "message": "User is not authorized to perform: sts:AssumeRole"
    }]));

    // Both events in one SNS batch, as an SNS-subscribed function gets them.
    let records: Vec<Value> = [(ALPHA, &alpha_open), (BETA, &beta_open)]
        .iter()
        .enumerate()
        .map(|(i, (account, group))| {
            json!({
                "EventSource": "aws:sns", "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:t:1",
                "Sns": {"Type": "Notification", "MessageId": format!("m-{i}"),
                        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Subject": null,
                        "Message": ssh_opened(group, account, REGION).to_string(),
                        "Timestamp": "2026-12-02T10:00:00.000Z", "SignatureVersion": "1",
                        "Signature": "x", "SigningCertUrl": "https://x", "UnsubscribeUrl": "https://x",
                        "MessageAttributes": {}}
            })
        })
        .collect();
    let batch = json!({ "Records": records });
    let mut function = organization_function(&central, &[]).await;
    let answer = function.invoke(&batch).await;
    // A retry cannot mend a missing role: answered, not retried; the other account was fixed.
    let response = answer.response();
    assert_eq!(response["summary"]["remediated"], 1, "{response}");
    assert_eq!(response["summary"]["failed"], 1, "{response}");
    assert!(ingress(&alpha.ec2, &alpha_open).await.is_empty());
    assert_eq!(
        ingress(&beta.ec2, &beta_open).await,
        ["tcp 22-22 0.0.0.0/0"]
    );

    let notifications = central.inbox.drain().await;
    let failed = &by_resource(&notifications, &beta_open)[0];
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["resource_type"], "security-group");
    assert_eq!(failed["account"], BETA);
    let reason = failed["reason"].as_str().unwrap();
    let role_arn = format!("arn:aws:iam::{BETA}:role/{MEMBER_ROLE}");
    assert!(
        reason.contains(BETA) && reason.contains(&role_arn),
        "{reason}"
    );
}

#[tokio::test]
async fn the_loop_guard_knows_the_member_role_in_member_accounts() {
    let central = Account::new().await;
    let alpha = member(&central.moto.endpoint(), ALPHA, REGION).await;
    let (alpha_open, _) = open_and_narrow(&alpha).await;
    // The function's own re-authorization in ALPHA, as CloudTrail records it there: the member role.
    let own_change = event(
        &format!("{FUNCTION}/ignored-authorize-sg-ingress-by-remediation-role.json"),
        &[
            (SAMPLE_GROUP, &alpha_open),
            ("remediation-open-security-group", MEMBER_ROLE),
            (ACCOUNT, ALPHA),
        ],
    );
    let mut function = organization_function(&central, &[]).await;
    let answer = function.invoke(&own_change).await;
    let response = answer.response();
    assert_eq!(response["summary"]["ignored"], 1, "{response}");
    assert!(
        response["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("own"),
        "{response}"
    );
    assert_eq!(
        ingress(&alpha.ec2, &alpha_open).await,
        ["tcp 22-22 0.0.0.0/0"]
    );

    // Its negative twin: the same call by a person in ALPHA is fixed.
    let answer = function
        .invoke(&ssh_opened(&alpha_open, ALPHA, REGION))
        .await;
    assert_eq!(answer.response()["summary"]["remediated"], 1);
}

/// Delivers the queue to the function until it is empty, as Lambda's event source mapping would;
/// returns the responses.
async fn drain_queue(
    queue: &JobQueue,
    function: &mut FunctionProcess,
    timeout: Duration,
) -> Vec<Value> {
    let mut responses = Vec::new();
    for _ in 0..100 {
        let Some(delivery) = queue.receive().await else {
            return responses;
        };
        let answer = function.invoke_with_timeout(&delivery.event, timeout).await;
        let response = answer.response().clone();
        queue.settle(&delivery, &response).await;
        responses.push(response);
    }
    panic!("the queue never emptied: {responses:#?}");
}

fn scheduled_sweep() -> Value {
    event(&format!("{FUNCTION}/scheduled-sweep.json"), &[])
}

#[tokio::test]
async fn a_fanned_out_sweep_fixes_every_account_and_region_through_the_queue() {
    let central = Account::new().await;
    let endpoint = central.moto.endpoint();
    let queue = JobQueue::create(&central.aws, &unique("sweep-jobs")).await;
    let mut places = Vec::new();
    for account in [ACCOUNT, ALPHA, BETA] {
        for region in [REGION, OTHER_REGION] {
            let aws = if account == ACCOUNT && region == REGION {
                central.aws.clone()
            } else {
                member(&endpoint, account, region).await
            };
            let (open_group, narrow) = open_and_narrow(&aws).await;
            places.push((account, region, aws, open_group, narrow));
        }
    }
    let accounts = format!("{ACCOUNT},{ALPHA},{BETA}");
    let regions = format!("{REGION},{OTHER_REGION}");
    let mut function = organization_function(
        &central,
        &[
            ("SWEEP_QUEUE_URL", &queue.url),
            ("SWEEP_ACCOUNTS", &accounts),
            ("SWEEP_REGIONS", &regions),
        ],
    )
    .await;

    let answer = function.invoke(&scheduled_sweep()).await;
    let response = answer.response();
    assert_eq!(response["summary"]["queued"], 1, "{response}");
    assert!(
        response["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("6 job(s)"),
        "{response}"
    );
    // The schedule itself fixes nothing: the jobs do.
    for (_, _, aws, open_group, _) in &places {
        assert_eq!(ingress(&aws.ec2, open_group).await, ["tcp 22-22 0.0.0.0/0"]);
    }
    let jobs = queue.peek().await;
    assert_eq!(jobs.len(), 6, "{jobs:#?}");

    let responses = drain_queue(&queue, &mut function, Duration::from_secs(60)).await;
    for response in &responses {
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    }
    let notifications = central.inbox.drain().await;
    for (account, region, aws, open_group, narrow) in &places {
        assert!(
            ingress(&aws.ec2, open_group).await.is_empty(),
            "{account} {region}"
        );
        assert_eq!(
            ingress(&aws.ec2, narrow).await,
            ["tcp 22-22 203.0.113.0/24"],
            "{account} {region}"
        );
        let told = by_resource(&notifications, open_group);
        assert_eq!(told.len(), 1, "{account} {region}: {told:#?}");
        assert_eq!(told[0]["account"], *account);
        assert_eq!(told[0]["region"], *region);
        assert_eq!(told[0]["trigger"]["source"], "schedule");
    }
}

#[tokio::test]
async fn a_job_that_runs_short_of_time_goes_on_where_it_stopped() {
    let central = Account::new().await;
    let queue = JobQueue::create(&central.aws, &unique("sweep-jobs")).await;
    let alpha = member(&central.moto.endpoint(), ALPHA, REGION).await;
    let mut groups = Vec::new();
    for _ in 0..45 {
        let (open_group, _) = open_and_narrow(&alpha).await;
        groups.push(open_group);
    }
    // A slow account: every revoke takes 1.3 s. A job checks ten groups at a time and, with a 3 s
    // deadline, stops starting new ones 600 ms before it: two rounds (20 groups, done at 2.6 s) per
    // run, so forty-five groups take three runs.
    central.moto.server().inject_faults(json!([{
        "operation": "RevokeSecurityGroupIngress", "times": -1, "delay_ms": 1300
    }]));
    let mut function = sweeping(&central, &queue, ALPHA).await;
    function.invoke(&scheduled_sweep()).await;
    let responses = drain_queue(&queue, &mut function, Duration::from_secs(3)).await;

    let continued: Vec<&Value> = responses
        .iter()
        .filter(|r| r["summary"]["queued"] == 1)
        .collect();
    assert!(
        continued.len() >= 2,
        "at least two continuations: {responses:#?}"
    );
    let parts: Vec<String> = continued
        .iter()
        .map(|r| {
            r["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["outcome"] == "queued")
                .unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        parts[0].contains("part 1") && parts[1].contains("part 2"),
        "{parts:#?}"
    );
    // Every group reached, each fixed and told exactly once.
    let notifications = central.inbox.drain().await;
    for group in &groups {
        assert!(ingress(&alpha.ec2, group).await.is_empty(), "{group}");
        assert_eq!(by_resource(&notifications, group).len(), 1, "{group}");
    }
    for response in &responses {
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    }
}

#[tokio::test]
async fn an_unreachable_account_in_a_sweep_is_told_once_and_not_retried() {
    let central = Account::new().await;
    let queue = JobQueue::create(&central.aws, &unique("sweep-jobs")).await;
    let alpha = member(&central.moto.endpoint(), ALPHA, REGION).await;
    let (alpha_open, _) = open_and_narrow(&alpha).await;
    central.moto.server().inject_faults(json!([{
        "operation": "AssumeRole", "times": -1, "status": 403, "code": "AccessDenied",
        "match": {"RoleArn": BETA}
    }]));
    let accounts = format!("{ALPHA},{BETA}");
    let mut function = sweeping(&central, &queue, &accounts).await;
    function.invoke(&scheduled_sweep()).await;
    let responses = drain_queue(&queue, &mut function, Duration::from_secs(60)).await;
    for response in &responses {
        assert_eq!(
            response["batchItemFailures"],
            json!([]),
            "not retried: {response}"
        );
    }
    assert!(
        ingress(&alpha.ec2, &alpha_open).await.is_empty(),
        "the reachable account is swept"
    );
    let notifications = central.inbox.drain().await;
    let told: Vec<&Value> = notifications
        .iter()
        .map(|n| &n.document)
        .filter(|d| d["resource_type"] == "aws-account")
        .collect();
    assert_eq!(told.len(), 1, "{notifications:#?}");
    assert_eq!(told[0]["resource_id"], BETA);
    assert_eq!(told[0]["outcome"], "failed");
    assert!(
        told[0]["reason"].as_str().unwrap().contains(MEMBER_ROLE),
        "{}",
        told[0]
    );
}

#[tokio::test]
async fn sweep_accounts_organization_covers_every_active_account_by_name() {
    let central = Account::new().await;
    let endpoint = central.moto.endpoint();
    let queue = JobQueue::create(&central.aws, &unique("sweep-jobs")).await;
    let orgs = &central.aws.organizations;
    orgs.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("create organization");
    let created = orgs
        .create_account()
        .email("payments@example.com")
        .account_name("payments-prod")
        .send()
        .await
        .expect("create account");
    let payments = created
        .create_account_status()
        .and_then(|s| s.account_id())
        .expect("account id")
        .to_string();
    let aws = member(&endpoint, &payments, REGION).await;
    let (open_group, narrow) = open_and_narrow(&aws).await;

    let mut function = sweeping(&central, &queue, "organization").await;
    let answer = function.invoke(&scheduled_sweep()).await;
    // The management account and the new one.
    assert!(
        answer.response()["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("2 job(s)"),
        "{}",
        answer.response()
    );
    drain_queue(&queue, &mut function, Duration::from_secs(60)).await;

    assert!(ingress(&aws.ec2, &open_group).await.is_empty());
    assert_eq!(
        ingress(&aws.ec2, &narrow).await,
        ["tcp 22-22 203.0.113.0/24"]
    );
    let notifications = central.inbox.drain().await;
    let told = notifications
        .iter()
        .find(|n| n.document["resource_id"] == open_group.as_str())
        .expect("told");
    assert_eq!(told.document["account"], payments.as_str());
    assert_eq!(told.document["account_name"], "payments-prod");
}

#[tokio::test]
async fn a_job_that_fails_for_a_reason_worth_retrying_fails_alone_and_comes_back() {
    let central = Account::new().await;
    let endpoint = central.moto.endpoint();
    let queue = JobQueue::create(&central.aws, &unique("sweep-jobs")).await;
    let alpha = member(&endpoint, ALPHA, REGION).await;
    let beta = member(&endpoint, BETA, REGION).await;
    let (alpha_open, _) = open_and_narrow(&alpha).await;
    let (beta_open, _) = open_and_narrow(&beta).await;
    let accounts = format!("{ALPHA},{BETA}");
    let mut function = sweeping(&central, &queue, &accounts).await;
    function.invoke(&scheduled_sweep()).await;
    // The first job's listing is throttled on both of the SDK's attempts (AWS_MAX_ATTEMPTS=2).
    central.moto.server().inject_faults(json!([{
        "operation": "DescribeSecurityGroups", "times": 2, "status": 400, "code": "RequestLimitExceeded"
    }]));
    let delivery = queue.receive().await.expect("two jobs");
    assert_eq!(
        delivery.event["Records"].as_array().unwrap().len(),
        2,
        "both jobs in one batch"
    );
    let answer = function.invoke(&delivery.event).await;
    let response = answer.response().clone();
    let failed = queue.settle(&delivery, &response).await;
    assert_eq!(failed.len(), 1, "only the throttled job fails: {response}");
    assert_eq!(response["summary"]["retried"], 1, "{response}");
    assert_eq!(
        response["summary"]["remediated"], 1,
        "the other job is done: {response}"
    );

    // SQS delivers the failed job again; this time it goes through.
    let responses = drain_queue(&queue, &mut function, Duration::from_secs(60)).await;
    assert_eq!(responses.len(), 1, "{responses:#?}");
    assert_eq!(responses[0]["batchItemFailures"], json!([]));
    assert!(ingress(&alpha.ec2, &alpha_open).await.is_empty());
    assert!(ingress(&beta.ec2, &beta_open).await.is_empty());
    let notifications = central.inbox.drain().await;
    assert_eq!(by_resource(&notifications, &alpha_open).len(), 1);
    assert_eq!(by_resource(&notifications, &beta_open).len(), 1);
}

#[tokio::test]
async fn a_public_bucket_in_a_member_account_is_closed_there_and_the_twin_stays() {
    let central = Account::new().await;
    let alpha = member(&central.moto.endpoint(), ALPHA, REGION).await;
    let public = unique("alpha-public");
    let private = unique("alpha-private");
    remediation_tests::s3::create_public_bucket(&alpha.s3, &public).await;
    remediation_tests::s3::create_private_bucket(&alpha.s3, &private).await;
    let event = event(
        "s3-public-access/put-bucket-acl-allusers-read.json",
        &[("example-public-bucket", &public), (ACCOUNT, ALPHA)],
    );
    let mut function = central
        .function("s3-public-access", &[("MEMBER_ROLE_NAME", MEMBER_ROLE)])
        .await;
    let answer = function.invoke(&event).await;
    assert_eq!(
        answer.response()["summary"]["remediated"],
        1,
        "{}",
        answer.response()
    );
    let grants = remediation_tests::s3::bucket_grants(&alpha.s3, &public).await;
    assert!(
        !grants
            .iter()
            .any(|g| g.contains("AllUsers") || g.contains("AuthenticatedUsers")),
        "{grants:?}"
    );
    assert_eq!(
        remediation_tests::s3::block_public_access(&alpha.s3, &public).await,
        Some([true; 4]),
        "Block Public Access on, in the member account"
    );
    assert_eq!(
        remediation_tests::s3::block_public_access(&alpha.s3, &private).await,
        None
    );
    let told = central.inbox.drain().await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].document["account"], ALPHA);
}

#[tokio::test]
async fn an_untagged_instance_in_a_member_region_is_stopped_there() {
    let central = Account::new().await;
    let beta = member(&central.moto.endpoint(), BETA, OTHER_REGION).await;
    let untagged = remediation_tests::ec2::launch_one(&beta.ec2, &[]).await;
    let tagged =
        remediation_tests::ec2::launch_one(&beta.ec2, &[("Name", "web"), ("env", "prod")]).await;
    let event = event(
        "untagged-instance/instance-running.json",
        &[
            ("i-0a1b2c3d4e5f60718", &untagged),
            (ACCOUNT, BETA),
            (REGION, OTHER_REGION),
        ],
    );
    let mut function = central
        .function("untagged-instance", &[("MEMBER_ROLE_NAME", MEMBER_ROLE)])
        .await;
    let answer = function.invoke(&event).await;
    assert_eq!(
        answer.response()["summary"]["remediated"],
        1,
        "{}",
        answer.response()
    );
    assert_eq!(
        remediation_tests::ec2::instance_state(&beta.ec2, &untagged).await,
        "stopped"
    );
    assert_eq!(
        remediation_tests::ec2::instance_state(&beta.ec2, &tagged).await,
        "running"
    );
    let told = central.inbox.drain().await;
    assert_eq!(told[0].document["account"], BETA);
    assert_eq!(told[0].document["region"], OTHER_REGION);
}

#[tokio::test]
async fn a_fix_in_a_member_account_is_undone_there_through_the_member_role() {
    let central = Account::new().await;
    let endpoint = central.moto.endpoint();
    let alpha = member(&endpoint, ALPHA, OTHER_REGION).await;
    let (alpha_open, _) = open_and_narrow(&alpha).await;
    let mut function = organization_function(&central, &[]).await;
    function
        .invoke(&ssh_opened(&alpha_open, ALPHA, OTHER_REGION))
        .await;
    assert!(ingress(&alpha.ec2, &alpha_open).await.is_empty());
    let message = central.inbox.drain().await.remove(0);

    let undone = remediation_tests::run_undo(
        &endpoint,
        &[("MEMBER_ROLE_NAME", MEMBER_ROLE)],
        &["-"],
        &message.body,
    );
    assert!(
        undone.status.success(),
        "{}",
        String::from_utf8_lossy(&undone.stderr)
    );
    assert_eq!(
        ingress(&alpha.ec2, &alpha_open).await,
        ["tcp 22-22 0.0.0.0/0"],
        "restored in ALPHA, eu-west-1"
    );
}
