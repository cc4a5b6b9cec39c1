//! End to end: a remediation fixes a resource (the real function binary under the emulator, against
//! moto), its message is read back as a subscriber gets it, and the real `remediation-undo` binary puts
//! the resource back from that message. Each kind of change, the refusal when someone changed the
//! resource since, a second run that changes nothing, a dry run, and input that is not a message.

use std::io::Write;
use std::process::{Command, Stdio};

use remediation_tests::ec2::{self as sg, ingress, open};
use remediation_tests::s3::{self as s3state, PARTNER_ID};
use remediation_tests::{event, function_binary, moto_env, unique, Account, ACCOUNT};
use serde_json::{json, Value};

/// What one run of `remediation-undo` did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `remediation-undo` against the account's moto with `args`, `input` on standard input.
fn undo(account: &Account, args: &[&str], input: &str) -> Run {
    let mut child = Command::new(function_binary("remediation-undo"))
        .args(args)
        .envs(moto_env(&account.moto.endpoint()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start remediation-undo");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write input");
    let out = child.wait_with_output().expect("remediation-undo ran");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// The one notification of the fix: the SNS envelope as the SQS subscriber received it.
async fn the_message(account: &Account) -> (Value, String) {
    let notes = account.inbox.drain().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].document["outcome"], "remediated");
    (notes[0].document.clone(), notes[0].body.clone())
}

/// The S3 calls that write (`S3 PUT ...`, `S3 DELETE ...`) moto received while `run` ran.
fn writes_during(account: &Account, run: impl FnOnce() -> Run) -> (Run, Vec<String>) {
    account.moto.server().start_recording();
    let result = run();
    let writes = account
        .moto
        .server()
        .recorded_calls()
        .into_iter()
        .filter(|c| !c.starts_with("S3 GET") && !c.starts_with("Describe") && !c.starts_with("Get"))
        .collect();
    (result, writes)
}

#[tokio::test]
async fn a_public_acl_fix_is_undone_exactly_and_a_second_run_changes_nothing() {
    let account = Account::new().await;
    let bucket = unique("bucket");
    s3state::create_public_bucket(&account.aws.s3, &bucket).await;
    let grants_before = s3state::bucket_grants(&account.aws.s3, &bucket).await;
    assert!(grants_before.contains(&"uri:AllUsers READ".to_string()));

    let mut function = account.function("s3-public-access", &[]).await;
    let fix = event(
        "s3-public-access/put-bucket-acl-allusers-read.json",
        &[("example-public-bucket", &bucket)],
    );
    function.invoke(&fix).await;
    assert_ne!(
        s3state::bucket_grants(&account.aws.s3, &bucket).await,
        grants_before
    );
    let (document, envelope) = the_message(&account).await;
    assert_eq!(
        document["undo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["operation"].as_str().unwrap())
            .collect::<Vec<_>>(),
        // Block Public Access first: while it is on, S3 refuses a public ACL.
        ["DeletePublicAccessBlock", "PutBucketAcl"],
        "{document}"
    );

    // From the SNS envelope, as the queue delivered it.
    let run = undo(&account, &["-"], &envelope);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        s3state::bucket_grants(&account.aws.s3, &bucket).await,
        grants_before,
        "owner, partner and the public grants are back"
    );
    assert_eq!(
        s3state::block_public_access(&account.aws.s3, &bucket).await,
        None,
        "the bucket had no Block Public Access"
    );
    assert!(
        run.stdout.contains("aws s3api put-bucket-acl"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("will fix it again"),
        "the person is told the next event fixes it again: {}",
        run.stdout
    );

    let (again, writes) = writes_during(&account, || undo(&account, &["-"], &envelope));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("nothing to restore"),
        "{}",
        again.stdout
    );
    assert_eq!(writes, Vec::<String>::new(), "a second run writes nothing");
}

#[tokio::test]
async fn a_removed_public_policy_and_block_public_access_are_put_back() {
    let account = Account::new().await;
    let bucket = unique("bucket");
    s3state::create_private_bucket(&account.aws.s3, &bucket).await;
    let policy = s3state::policy_with(&bucket, &s3state::public_read_statement(&bucket));
    s3state::put_bucket_policy(&account.aws.s3, &bucket, &policy).await;

    let mut function = account
        .function("s3-public-access", &[("PUBLIC_POLICY", "remove")])
        .await;
    let fix = event(
        "s3-public-access/put-bucket-policy-public.json",
        &[("example-public-bucket", &bucket)],
    );
    function.invoke(&fix).await;
    let rewritten = s3state::bucket_policy(&account.aws.s3, &bucket)
        .await
        .unwrap();
    assert!(!rewritten.contains("PublicRead"));
    let (document, _) = the_message(&account).await;
    assert_eq!(document["prior"]["policy"], policy.as_str());

    let run = undo(&account, &["-"], &document.to_string());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let restored: Value = serde_json::from_str(
        &s3state::bucket_policy(&account.aws.s3, &bucket)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        restored,
        serde_json::from_str::<Value>(&policy).unwrap(),
        "the policy is back, public statement and all"
    );
    assert_eq!(
        s3state::block_public_access(&account.aws.s3, &bucket).await,
        None
    );
}

/// Someone changed the ACL after the fix: the undo refuses and says what differs, changes nothing;
/// with --force it restores.
#[tokio::test]
async fn a_resource_changed_since_is_refused_unless_forced() {
    let account = Account::new().await;
    let bucket = unique("bucket");
    s3state::create_public_bucket(&account.aws.s3, &bucket).await;
    let grants_before = s3state::bucket_grants(&account.aws.s3, &bucket).await;
    let mut function = account.function("s3-public-access", &[]).await;
    let fix = event(
        "s3-public-access/put-bucket-acl-allusers-read.json",
        &[("example-public-bucket", &bucket)],
    );
    function.invoke(&fix).await;
    let (document, _) = the_message(&account).await;
    // Someone else's change: the partner loses its grant.
    let owner = s3state::owner_id(&account.aws.s3, &bucket).await;
    account
        .aws
        .s3
        .put_bucket_acl()
        .bucket(&bucket)
        .grant_full_control(format!("id={owner}"))
        .send()
        .await
        .unwrap();
    let changed = s3state::bucket_grants(&account.aws.s3, &bucket).await;

    let run = undo(&account, &["-"], &document.to_string());
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("refused") && run.stderr.contains("acl is now"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(
        s3state::bucket_grants(&account.aws.s3, &bucket).await,
        changed,
        "a refusal changes nothing"
    );

    let dry = undo(
        &account,
        &["--dry-run", "--force", "-"],
        &document.to_string(),
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains("would restore") && dry.stdout.contains(PARTNER_ID),
        "{}",
        dry.stdout
    );
    assert_eq!(
        s3state::bucket_grants(&account.aws.s3, &bucket).await,
        changed,
        "a dry run changes nothing"
    );

    let forced = undo(&account, &["--force", "-"], &document.to_string());
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(
        s3state::bucket_grants(&account.aws.s3, &bucket).await,
        grants_before
    );
}

#[tokio::test]
async fn the_account_settings_are_put_back() {
    let account = Account::new().await;
    let s3 = &account.aws.s3_actions;
    assert_eq!(s3.account_public_access_block(ACCOUNT).await.unwrap(), None);
    let mut function = account
        .function("s3-public-access", &[("BLOCK_PUBLIC_ACCESS", "always")])
        .await;
    function
        .invoke(&event(
            "s3-public-access/put-account-public-access-block-disabled.json",
            &[],
        ))
        .await;
    assert!(s3
        .account_public_access_block(ACCOUNT)
        .await
        .unwrap()
        .is_some());
    let (document, envelope) = the_message(&account).await;
    assert_eq!(document["resource_type"], "s3-account");
    assert_eq!(document["undo"][0]["service"], "s3control");

    let run = undo(&account, &["-"], &envelope);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(s3.account_public_access_block(ACCOUNT).await.unwrap(), None);
}

/// A broad rule revoked and the allowed ports re-opened: the undo authorizes the rule again (its
/// description too) and revokes only the rules the fix added; the partner's rule is never touched.
#[tokio::test]
async fn a_security_group_fix_is_undone_rules_descriptions_and_all() {
    let account = Account::new().await;
    let ec2 = &account.aws.ec2;
    let group = sg::create_group(ec2, &unique("web")).await;
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(0)
                .to_port(65535)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .description("temporary debugging")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    open(ec2, &group, "tcp", 22, 22, "203.0.113.0/24").await;
    let before = ingress(ec2, &group).await;

    let mut function = account.function("open-security-group", &[]).await;
    let sweep = event("open-security-group/scheduled-sweep.json", &[]);
    function.invoke(&sweep).await;
    assert_ne!(ingress(ec2, &group).await, before);
    let (_, envelope) = the_message(&account).await;

    // As `aws sqs receive-message` prints it.
    let received = json!({"Messages": [{"MessageId": "m-1", "Body": envelope}]});
    let run = undo(&account, &["-"], &received.to_string());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(ingress(ec2, &group).await, before);
    let rules = ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&group)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let descriptions: Vec<Option<&str>> = rules
        .security_group_rules()
        .iter()
        .filter(|r| r.from_port() == Some(0) && r.is_egress() == Some(false))
        .map(|r| r.description())
        .collect();
    assert_eq!(descriptions, [Some("temporary debugging")]);

    let again = undo(&account, &["-"], &received.to_string());
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("nothing to restore"),
        "{}",
        again.stdout
    );
}

/// A stopped instance is started again; a grace-period mark is taken off.
#[tokio::test]
async fn a_stopped_instance_is_started_and_a_grace_mark_removed() {
    let account = Account::new().await;
    let ec2 = &account.aws.ec2;
    let stopped = sg::launch_one(ec2, &[("Name", "batch")]).await;
    let marked = sg::launch_one(ec2, &[("Name", "batch")]).await;

    let mut stopper = account.function("untagged-instance", &[]).await;
    stopper
        .invoke(&event(
            "untagged-instance/instance-running.json",
            &[("i-0a1b2c3d4e5f60718", &stopped)],
        ))
        .await;
    assert_eq!(sg::instance_state(ec2, &stopped).await, "stopped");
    let (document, envelope) = the_message(&account).await;
    assert_eq!(document["prior"]["state"], "running");
    let run = undo(&account, &["-"], &envelope);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(sg::instance_state(ec2, &stopped).await, "running");

    let mut marker = account
        .function("untagged-instance", &[("GRACE_MINUTES", "60")])
        .await;
    marker
        .invoke(&event(
            "untagged-instance/instance-running.json",
            &[("i-0a1b2c3d4e5f60718", &marked)],
        ))
        .await;
    let notes = account.inbox.drain().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].document["outcome"], "marked");
    assert!(sg::instance(ec2, &marked)
        .await
        .1
        .contains_key("remediation:stop-after"));
    let run = undo(&account, &["-"], &notes[0].body);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!sg::instance(ec2, &marked)
        .await
        .1
        .contains_key("remediation:stop-after"));
    assert_eq!(sg::instance_state(ec2, &marked).await, "running");
}

#[tokio::test]
async fn input_that_is_not_a_message_is_refused_with_exit_2() {
    let account = Account::new().await;
    for input in ["", "not json", "{}", r#"{"Message": "{broken"}"#] {
        let run = undo(&account, &["-"], input);
        assert_eq!(run.code, 2, "{input:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty());
    }
    let usage = undo(&account, &[], "");
    assert_eq!(usage.code, 2);
    assert!(
        usage.stderr.starts_with("usage: remediation-undo"),
        "{}",
        usage.stderr
    );
    // A message that changed nothing has nothing to undo.
    let dry = json!({"outcome": "dry-run", "resource_type": "s3-bucket", "resource_id": "b", "account": ACCOUNT, "region": "us-east-1"});
    let run = undo(&account, &["-"], &dry.to_string());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("nothing to undo"), "{}", run.stdout);
}

/// Organization mode: a message from a member account is undone there, through the member role
/// (moto acts in the account of the assumed role). Twin: without the role setting the tool acts in its
/// own account, where the group does not exist, and refuses.
#[tokio::test]
async fn a_member_accounts_change_is_undone_through_the_member_role() {
    const MEMBER: &str = "111111111111";
    let account = Account::new().await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(account.moto.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "testing", "testing", None, None, "t",
        ))
        .load()
        .await;
    let assumed = aws_sdk_sts::Client::new(&sdk)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{MEMBER}:role/remediation-member"))
        .role_session_name("test-setup")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    let member_ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&sdk)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_string()),
                None,
                "member",
            ))
            .build(),
    );
    let group = sg::create_group(&member_ec2, &unique("member-web")).await;
    open(&member_ec2, &group, "tcp", 443, 443, "0.0.0.0/0").await;
    let all_ports = json!({"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]});
    let https = json!({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]});
    let message = json!({
        "version": 1, "function": "open-security-group", "outcome": "remediated",
        "resource_type": "security-group", "resource_id": group, "account": MEMBER, "region": "us-east-1",
        "reason": "tcp 0-65535 open to the internet", "changes": ["revoked tcp all ports from 0.0.0.0/0"],
        "trigger": {"source": "schedule", "event_id": "e", "detail": "scheduled sweep"},
        "prior": {"ingress": [all_ports]}, "after": {"ingress": [https]},
        "undo": [
            {"service": "ec2", "operation": "AuthorizeSecurityGroupIngress", "parameters": {"GroupId": group, "IpPermissions": [all_ports]}, "restores": ["ingress"]},
            {"service": "ec2", "operation": "RevokeSecurityGroupIngress", "parameters": {"GroupId": group, "IpPermissions": [https]}, "restores": ["ingress"]}
        ]
    });

    let own_account = undo(&account, &["-"], &message.to_string());
    assert_eq!(
        own_account.code, 3,
        "{}{}",
        own_account.stdout, own_account.stderr
    );
    assert!(
        own_account.stderr.contains("no longer exists"),
        "{}",
        own_account.stderr
    );

    let mut child = Command::new(function_binary("remediation-undo"))
        .arg("-")
        .envs(moto_env(&account.moto.endpoint()))
        .env("MEMBER_ROLE_NAME", "remediation-member")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        ingress(&member_ec2, &group).await,
        ["tcp 0-65535 0.0.0.0/0"]
    );
}

#[tokio::test]
async fn a_public_object_fix_is_undone_with_its_bucket_settings() {
    let account = Account::new().await;
    let s3 = &account.aws.s3;
    let bucket = unique("data");
    s3state::create_private_bucket(s3, &bucket).await;
    s3state::put_public_object(s3, &bucket, "reports/q1.csv").await;
    let before = s3state::object_grants(s3, &bucket, "reports/q1.csv").await;
    assert!(before.contains(&"uri:AllUsers READ".to_string()));

    let mut function = account.function("s3-public-access", &[]).await;
    let fix = event(
        "s3-public-access/put-object-acl-public-read.json",
        &[("example-public-bucket", &bucket)],
    );
    function.invoke(&fix).await;
    assert_ne!(
        s3state::object_grants(s3, &bucket, "reports/q1.csv").await,
        before
    );
    assert_eq!(
        s3state::block_public_access(s3, &bucket).await,
        Some([true; 4])
    );
    let (document, envelope) = the_message(&account).await;
    assert_eq!(document["resource_type"], "s3-object");

    let run = undo(&account, &["-"], &envelope);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        s3state::object_grants(s3, &bucket, "reports/q1.csv").await,
        before
    );
    assert_eq!(s3state::block_public_access(s3, &bucket).await, None);
}

/// At the rules quota the fix narrowed the broad rule in place: the undo revokes what the fix left
/// first (freeing the slot), then authorizes the old rule, so it fits under the same quota.
#[tokio::test]
async fn a_fix_narrowed_in_place_at_the_rules_quota_is_undone() {
    let account = Account::new().await;
    let ec2 = &account.aws.ec2;
    let group = sg::create_group(ec2, &unique("full")).await;
    open(ec2, &group, "tcp", 0, 65535, "0.0.0.0/0").await;
    open(ec2, &group, "tcp", 22, 22, "203.0.113.0/24").await;
    let before = ingress(ec2, &group).await;
    // moto has no rules quota: EC2's answer for the function's two authorizations.
    account.moto.server().inject_faults(json!([{
        "operation": "AuthorizeSecurityGroupIngress", "times": 2, "status": 400,
        "code": "RulesPerSecurityGroupLimitExceeded",
        "message": "The maximum number of rules per security group has been reached."
    }]));
    let mut function = account.function("open-security-group", &[]).await;
    function
        .invoke(&event("open-security-group/scheduled-sweep.json", &[]))
        .await;
    assert_eq!(
        ingress(ec2, &group).await,
        ["tcp 22-22 203.0.113.0/24", "tcp 80-80 0.0.0.0/0"]
    );
    let (document, envelope) = the_message(&account).await;
    let operations: Vec<&str> = document["undo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        [
            "RevokeSecurityGroupIngress",
            "AuthorizeSecurityGroupIngress"
        ]
    );

    let run = undo(&account, &["-"], &envelope);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(ingress(ec2, &group).await, before);
}
