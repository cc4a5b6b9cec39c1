//! `make demo`: the remediations at work on a pretend account (moto), before the user's eyes.
//!
//! Seeds a public bucket, a public object, a private bucket, a security group open to the world
//! (directly and through a prefix list), and instances with and without the required tags (one of them
//! an EC2 Fleet member, which is left running),
//! runs the real function binaries through the Lambda Runtime API emulator on the sample events, and
//! prints the state before and after and the notifications a person would receive by email; shows a
//! Security Hub finding proposed in a dry run, approved with the custom action, fixed and resolved
//! (Security Hub's side played by a recording stub: moto has no BatchUpdateFindings); then undoes the
//! security group fix from its message with `remediation-undo`.

use remediation_tests::ec2 as sg;
use remediation_tests::s3::{self as s3state, PARTNER_ID};

use remediation_tests::security_hub_stub::SecurityHubStub;
use remediation_tests::{event, run_undo, start_function, Aws, Moto};

const PUBLIC_BUCKET: &str = "demo-public-bucket";
const DATA_BUCKET: &str = "demo-data-bucket";
const PRIVATE_BUCKET: &str = "demo-private-bucket";
/// Public the way buckets are today: ACLs disabled, a bucket policy open to everyone.
const POLICY_BUCKET: &str = "demo-website-bucket";
const KEY: &str = "reports/q1.csv";
/// Found public by Security Hub's control S3.2.
const HUB_BUCKET: &str = "demo-shared-exports";

fn heading(text: &str) {
    println!("\n\x1b[1m== {text}\x1b[0m");
}

fn show(label: &str, grants: &[String], owner: &str) {
    println!("  {label}:");
    for grant in grants {
        let grant = grant
            .replace(owner, "<owner>")
            .replace(PARTNER_ID, "<partner account>");
        let warn =
            if grant.starts_with("uri:AllUsers") || grant.starts_with("uri:AuthenticatedUsers") {
                "   <- public"
            } else {
                ""
            };
        println!("    {grant}{warn}");
    }
}

async fn show_group(aws: &Aws, group: &str) {
    println!("  security group {group} ingress:");
    for rule in sg::ingress(&aws.ec2, group).await {
        let open_world = rule.ends_with(" 0.0.0.0/0") || rule.ends_with(" ::/0");
        let allowed = rule.starts_with("tcp 80-80 ") || rule.starts_with("tcp 443-443 ");
        let warn = if open_world && !allowed {
            "   <- open to the internet"
        } else {
            ""
        };
        println!("    {rule}{warn}");
    }
}

async fn show_state(aws: &Aws, owner: &str) {
    show(
        &format!("bucket {PUBLIC_BUCKET}"),
        &s3state::bucket_grants(&aws.s3, PUBLIC_BUCKET).await,
        owner,
    );
    show(
        &format!("object {DATA_BUCKET}/{KEY}"),
        &s3state::object_grants(&aws.s3, DATA_BUCKET, KEY).await,
        owner,
    );
    show(
        &format!("bucket {PRIVATE_BUCKET}"),
        &s3state::bucket_grants(&aws.s3, PRIVATE_BUCKET).await,
        owner,
    );
    let policy = s3state::bucket_policy(&aws.s3, POLICY_BUCKET).await;
    let cut_off = matches!(
        s3state::block_public_access(&aws.s3, POLICY_BUCKET).await,
        Some([_, _, _, true])
    );
    let statements: Vec<String> = policy
        .as_deref()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|p| p["Statement"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let public = match (s["Principal"] == "*", cut_off) {
                (true, false) => "   <- anyone on the internet",
                (true, true) => "   (cut off by RestrictPublicBuckets)",
                _ => "",
            };
            format!(
                "{} ({}){public}",
                s["Sid"].as_str().unwrap_or("?"),
                s["Action"]
            )
        })
        .collect();
    println!("  bucket {POLICY_BUCKET} policy statements:");
    for statement in statements {
        println!("    {statement}");
    }
    for bucket in [PUBLIC_BUCKET, DATA_BUCKET, PRIVATE_BUCKET, POLICY_BUCKET] {
        let block = match s3state::block_public_access(&aws.s3, bucket).await {
            Some([true, true, true, true]) => "all four on".to_string(),
            Some(flags) => format!("{flags:?}"),
            None => "not configured".to_string(),
        };
        println!("  Block Public Access on {bucket}: {block}");
    }
}

async fn show_instances(aws: &Aws, instances: &[(&str, String)]) {
    for (label, id) in instances {
        let (state, tags) = sg::instance(&aws.ec2, id).await;
        let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "  instance {id} ({label}): {state}, tags [{}]",
            tags.join(", ")
        );
    }
}

#[tokio::main]
async fn main() {
    let moto = Moto::dedicated();
    let aws = Aws::new(&moto.endpoint()).await;
    let inbox = aws.notification_topic("security-remediation").await;
    println!("moto_server (a pretend AWS account) at {}", moto.endpoint());

    s3state::create_public_bucket(&aws.s3, PUBLIC_BUCKET).await;
    s3state::create_private_bucket(&aws.s3, DATA_BUCKET).await;
    s3state::put_public_object(&aws.s3, DATA_BUCKET, KEY).await;
    s3state::create_private_bucket(&aws.s3, PRIVATE_BUCKET).await;
    s3state::create_private_bucket(&aws.s3, POLICY_BUCKET).await;
    let website_policy = s3state::policy_with(
        POLICY_BUCKET,
        &s3state::public_read_statement(POLICY_BUCKET),
    );
    s3state::put_bucket_policy(&aws.s3, POLICY_BUCKET, &website_policy).await;
    let owner = s3state::owner_id(&aws.s3, PRIVATE_BUCKET).await;
    let group = sg::create_group(&aws.ec2, "demo-web").await;
    sg::open(&aws.ec2, &group, "-1", -1, -1, "0.0.0.0/0").await;
    sg::open(&aws.ec2, &group, "tcp", 22, 22, "::/0").await;
    sg::open(&aws.ec2, &group, "tcp", 5432, 5432, "10.0.0.0/16").await;
    // A vendors' prefix list someone widened to the whole internet: the rule that uses it is closed.
    let vendors =
        sg::create_prefix_list(&aws.ec2, "demo-vendors", &["198.51.100.0/24", "0.0.0.0/0"]).await;
    sg::open_to_prefix_list(&aws.ec2, &group, "tcp", 3389, 3389, &vendors).await;
    let instances = [
        (
            "no env tag",
            sg::launch_one(&aws.ec2, &[("Name", "build-box")]).await,
        ),
        ("no tags, grace period", sg::launch_one(&aws.ec2, &[]).await),
        (
            "tagged",
            sg::launch_one(&aws.ec2, &[("Name", "api"), ("env", "prod")]).await,
        ),
        (
            "no env tag, EC2 Fleet member",
            sg::launch_one(
                &aws.ec2,
                &[("Name", "batch-worker"), ("aws:ec2:fleet-id", "fleet-demo")],
            )
            .await,
        ),
    ];

    heading("Before");
    show_state(&aws, &owner).await;
    show_group(&aws, &group).await;
    show_instances(&aws, &instances).await;

    let settings = [("NOTIFICATION_TOPIC_ARN", inbox.topic_arn.as_str())];
    let endpoint = moto.endpoint();
    let mut function = start_function("s3-public-access", &moto.endpoint(), &settings).await;
    heading("Running s3-public-access on sample events");
    for (file, bucket) in [
        ("put-bucket-policy-public.json", POLICY_BUCKET),
        ("put-bucket-acl-allusers-read.json", PUBLIC_BUCKET),
        ("put-object-acl-public-read.json", DATA_BUCKET),
        ("put-bucket-acl-canned-public-read.json", PRIVATE_BUCKET),
        ("put-bucket-acl-allusers-read.json", PUBLIC_BUCKET),
    ] {
        let payload = event(
            &format!("s3-public-access/{file}"),
            &[("example-public-bucket", bucket)],
        );
        let invocation = function.invoke(&payload).await;
        match &invocation.result {
            Ok(response) => {
                for result in response["results"].as_array().into_iter().flatten() {
                    println!(
                        "  {file} on {bucket}: {} {} ({} ms)",
                        result["outcome"].as_str().unwrap_or("?"),
                        result["resource_id"].as_str().unwrap_or(""),
                        invocation.duration.as_millis()
                    );
                }
            }
            Err(err) => println!("  {file}: error {err:?}"),
        }
    }
    println!("  (the last run replays the first event: nothing left to fix, so no second message)");

    heading("Running open-security-group on a Config compliance change");
    let mut groups = start_function("open-security-group", &moto.endpoint(), &settings).await;
    let payload = event(
        "open-security-group/config-restricted-ssh.json",
        &[("sg-0a1b2c3d4e5f60718", &group)],
    );
    let invocation = groups.invoke(&payload).await;
    if let Ok(response) = &invocation.result {
        println!(
            "  config-restricted-ssh.json on {group}: {} ({} ms)",
            response["results"][0]["outcome"].as_str().unwrap_or("?"),
            invocation.duration.as_millis()
        );
    }

    heading("Running untagged-instance on EC2 state changes (the second with GRACE_MINUTES=60)");
    let mut stopper = start_function("untagged-instance", &endpoint, &settings).await;
    let graceful_settings = [settings[0], ("GRACE_MINUTES", "60")];
    let mut graceful = start_function("untagged-instance", &endpoint, &graceful_settings).await;
    for (i, (label, id)) in instances.iter().enumerate() {
        let function = if i == 1 { &mut graceful } else { &mut stopper };
        let payload = event(
            "untagged-instance/instance-running.json",
            &[("i-0a1b2c3d4e5f60718", id)],
        );
        let invocation = function.invoke(&payload).await;
        if let Ok(response) = &invocation.result {
            println!(
                "  instance-running.json on {id} ({label}): {} ({} ms)",
                response["results"][0]["outcome"].as_str().unwrap_or("?"),
                invocation.duration.as_millis()
            );
        }
    }

    heading("Security Hub: a dry-run deployment proposes, a person approves in the console");
    s3state::create_public_bucket(&aws.s3, HUB_BUCKET).await;
    let hub = SecurityHubStub::start().await;
    let hub_settings = [
        settings[0],
        ("DRY_RUN", "true"),
        ("AWS_ENDPOINT_URL_SECURITYHUB", hub.endpoint.as_str()),
    ];
    let mut proposer = start_function("s3-public-access", &endpoint, &hub_settings).await;
    for file in [
        "securityhub-s3-2-failed.json",
        "securityhub-s3-2-custom-action.json",
    ] {
        let payload = event(
            &format!("s3-public-access/{file}"),
            &[("example-public-bucket", HUB_BUCKET)],
        );
        let invocation = proposer.invoke(&payload).await;
        if let Ok(response) = &invocation.result {
            println!(
                "  {file} on {HUB_BUCKET} (DRY_RUN=true): {} ({} ms)",
                response["results"][0]["outcome"].as_str().unwrap_or("?"),
                invocation.duration.as_millis()
            );
        }
        if let Some(update) = hub.updates().last() {
            println!(
                "    Security Hub told: {} \"{}\"",
                update["Workflow"]["Status"]
                    .as_str()
                    .unwrap_or("(unchanged)"),
                update["Note"]["Text"].as_str().unwrap_or("")
            );
        }
    }

    heading("After");
    show_state(&aws, &owner).await;
    show_group(&aws, &group).await;
    show_instances(&aws, &instances).await;

    heading("What the security team receives (email)");
    for (subject, message) in moto.published(&inbox.topic_arn) {
        println!("  Subject: {subject}\n");
        for line in message["email"].as_str().unwrap_or("").lines() {
            println!("  | {line}");
        }
        println!();
    }
    heading("What a program subscribed over SQS receives (first message)");
    let notes = inbox.drain().await;
    if let Some(first) = notes.first() {
        let pretty = serde_json::to_string_pretty(&first.document).unwrap_or_default();
        println!(
            "{}",
            pretty
                .lines()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    heading("Undoing the security group fix: remediation-undo on its message, as the queue delivered it");
    let Some(note) = notes
        .iter()
        .find(|n| n.document["resource_type"] == "security-group")
    else {
        println!("  (no security group message to undo)");
        return;
    };
    let out = run_undo(&endpoint, &[], &["-"], &note.body);
    println!(
        "  $ remediation-undo - < message.json   (exit {})",
        out.status.code().unwrap_or(-1)
    );
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
    {
        println!("  | {line}");
    }
    show_group(&aws, &group).await;
    println!("  (the group is as it was before the fix; running it again changes nothing)");
}
