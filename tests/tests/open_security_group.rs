//! End to end: the real `open-security-group` binary under the Runtime API emulator, against moto.
//! moto quirk relied on: AuthorizeSecurityGroupIngress' response lists only the last rule it created,
//! so tests read rules back with DescribeSecurityGroupRules (as the function does) instead.

use remediation_tests::ec2::{self as sg, egress, ingress, open};
use remediation_tests::{event, unique, Account, FunctionProcess};
use serde_json::{json, Value};

const FUNCTION: &str = "open-security-group";
const SAMPLE_GROUP: &str = "sg-0a1b2c3d4e5f60718";

struct World {
    account: Account,
    group: String,
}

impl std::ops::Deref for World {
    type Target = Account;
    fn deref(&self) -> &Account {
        &self.account
    }
}

impl World {
    async fn new() -> World {
        let account = Account::new().await;
        let group = sg::create_group(&account.aws.ec2, &unique("web")).await;
        World { account, group }
    }

    async fn function(&self, settings: &[(&str, &str)]) -> FunctionProcess {
        self.account.function(FUNCTION, settings).await
    }

    fn event(&self, file: &str) -> Value {
        event(
            &format!("{FUNCTION}/{file}"),
            &[(SAMPLE_GROUP, &self.group)],
        )
    }

    async fn ingress(&self) -> Vec<String> {
        ingress(&self.aws.ec2, &self.group).await
    }

    /// EC2's answer when the group has no free rule slot, for the next `times` authorizations (-1:
    /// all): moto has no rules quota, so the rig gives it. `more` are further faults to inject with it.
    fn at_rules_quota(&self, times: i64, more: &[Value]) {
        let mut faults = vec![json!({
            "operation": "AuthorizeSecurityGroupIngress", "times": times, "status": 400,
            "code": "RulesPerSecurityGroupLimitExceeded",
            "message": "The maximum number of rules per security group has been reached."
        })];
        faults.extend_from_slice(more);
        self.moto.server().inject_faults(Value::Array(faults));
    }

    /// Starts the function with its defaults and sweeps every group: the response.
    async fn sweep(&self) -> Value {
        let mut function = self.function(&[]).await;
        let invocation = function.invoke(&self.event("scheduled-sweep.json")).await;
        invocation.response().clone()
    }
}

fn lines(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn ssh_open_to_the_world_is_revoked_and_the_rest_stays() {
    let world = World::new().await;
    let peer = sg::create_group(&world.aws.ec2, &unique("db-clients")).await;
    open(&world.aws.ec2, &world.group, "tcp", 22, 22, "0.0.0.0/0").await;
    open(&world.aws.ec2, &world.group, "tcp", 22, 22, "10.0.0.0/8").await;
    open(&world.aws.ec2, &world.group, "tcp", 443, 443, "0.0.0.0/0").await;
    open(&world.aws.ec2, &world.group, "tcp", 80, 80, "::/0").await;
    sg::open_to_group(&world.aws.ec2, &world.group, 5432, &peer).await;
    let egress_before = egress(&world.aws.ec2, &world.group).await;

    let mut function = world.function(&[]).await;
    let invocation = function
        .invoke(&world.event("authorize-sg-ingress-ssh-world.json"))
        .await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "remediated");

    assert_eq!(
        world.ingress().await,
        lines(&[
            "tcp 22-22 10.0.0.0/8",
            "tcp 443-443 0.0.0.0/0",
            "tcp 80-80 ::/0",
            &format!("tcp 5432-5432 {peer}")
        ])
    );
    assert_eq!(
        egress(&world.aws.ec2, &world.group).await,
        egress_before,
        "egress is never touched"
    );
    let notes = world.inbox.drain().await;
    assert_eq!(notes.len(), 1);
    let doc = &notes[0].document;
    assert_eq!(doc["function"], FUNCTION);
    assert_eq!(doc["resource_type"], "security-group");
    assert_eq!(doc["resource_id"], world.group.as_str());
    assert_eq!(doc["changes"], json!(["revoked tcp 22 from 0.0.0.0/0"]));
    assert!(
        doc["reason"]
            .as_str()
            .unwrap()
            .contains("tcp 22 from 0.0.0.0/0 (sgr-"),
        "{doc}"
    );
    assert_eq!(
        notes[0].subject,
        format!(
            "[remediated] {}: revoked tcp 22 from 0.0.0.0/0",
            world.group
        )
    );
    assert_eq!(notes[0].attributes["severity"]["Value"], "high");
}

#[tokio::test]
async fn all_traffic_in_both_families_keeps_web_ports_open() {
    let world = World::new().await;
    open(&world.aws.ec2, &world.group, "-1", -1, -1, "0.0.0.0/0").await;
    open(&world.aws.ec2, &world.group, "-1", -1, -1, "::/0").await;
    let mut function = world.function(&[]).await;
    let invocation = function
        .invoke(&world.event("authorize-sg-ingress-all-protocols.json"))
        .await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "remediated");
    assert_eq!(
        world.ingress().await,
        lines(&[
            "tcp 80-80 0.0.0.0/0",
            "tcp 443-443 0.0.0.0/0",
            "tcp 80-80 ::/0",
            "tcp 443-443 ::/0"
        ])
    );
    let notes = world.inbox.drain().await;
    assert_eq!(
        notes[0].document["changes"],
        json!([
            "revoked all traffic from 0.0.0.0/0",
            "revoked all traffic from ::/0",
            "re-opened tcp 80 to 0.0.0.0/0 (allowed port, kept open)",
            "re-opened tcp 443 to 0.0.0.0/0 (allowed port, kept open)",
            "re-opened tcp 80 to ::/0 (allowed port, kept open)",
            "re-opened tcp 443 to ::/0 (allowed port, kept open)"
        ])
    );
}

#[tokio::test]
async fn each_trigger_kind_fixes_the_group() {
    let world = World::new().await;
    let mut function = world.function(&[]).await;
    for (file, protocol, port, cidr) in [
        (
            "authorize-sg-ingress-legacy-toplevel.json",
            "tcp",
            22,
            "0.0.0.0/0",
        ),
        ("authorize-sg-ingress-ipv6-world.json", "tcp", 3389, "::/0"),
        ("config-restricted-ssh.json", "tcp", 22, "0.0.0.0/0"),
        (
            "guardduty-recon-portprobe-port-22.json",
            "tcp",
            22,
            "0.0.0.0/0",
        ),
        ("guardduty-ssh-brute-force.json", "tcp", 22, "0.0.0.0/0"),
        ("guardduty-portprobe-via-sns.json", "tcp", 22, "0.0.0.0/0"),
        (
            "authorize-sg-ingress-ssh-world.json",
            "udp",
            53,
            "0.0.0.0/0",
        ),
    ] {
        open(&world.aws.ec2, &world.group, protocol, port, port, cidr).await;
        let invocation = function.invoke(&world.event(file)).await;
        let response = invocation.response();
        assert_eq!(
            response["results"][0]["outcome"], "remediated",
            "{file}: {response}"
        );
        assert!(world.ingress().await.is_empty(), "{file}");
    }
    assert_eq!(world.inbox.drain().await.len(), 7);
}

#[tokio::test]
async fn a_port_probe_on_22_leaves_other_public_rules_for_other_triggers() {
    let world = World::new().await;
    open(&world.aws.ec2, &world.group, "tcp", 22, 22, "0.0.0.0/0").await;
    open(&world.aws.ec2, &world.group, "tcp", 3306, 3306, "0.0.0.0/0").await;
    let mut function = world.function(&[]).await;
    let invocation = function
        .invoke(&world.event("guardduty-recon-portprobe-port-22.json"))
        .await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "remediated");
    assert_eq!(world.ingress().await, lines(&["tcp 3306-3306 0.0.0.0/0"]));
    let invocation = function
        .invoke(&world.event("config-restricted-ssh.json"))
        .await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "remediated");
    assert!(world.ingress().await.is_empty());
}

#[tokio::test]
async fn allowed_and_private_rules_are_compliant_without_notification() {
    let world = World::new().await;
    open(&world.aws.ec2, &world.group, "tcp", 443, 443, "0.0.0.0/0").await;
    open(&world.aws.ec2, &world.group, "tcp", 22, 22, "10.0.0.0/8").await;
    open(&world.aws.ec2, &world.group, "-1", -1, -1, "192.168.0.0/16").await;
    let before = world.ingress().await;
    let mut function = world.function(&[]).await;
    for file in [
        "config-restricted-ssh.json",
        "guardduty-recon-portprobe-port-22.json",
    ] {
        let invocation = function.invoke(&world.event(file)).await;
        assert_eq!(
            invocation.response()["results"][0]["outcome"],
            "compliant",
            "{file}"
        );
    }
    assert_eq!(world.ingress().await, before);
    assert!(world.inbox.drain().await.is_empty());
}

#[tokio::test]
async fn custom_allowed_ports_are_respected() {
    let world = World::new().await;
    open(&world.aws.ec2, &world.group, "tcp", 8000, 8100, "0.0.0.0/0").await;
    let mut function = world
        .function(&[("ALLOWED_PUBLIC_PORTS", "443,8000-8080")])
        .await;
    let invocation = function
        .invoke(&world.event("config-restricted-ssh.json"))
        .await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "remediated");
    assert_eq!(world.ingress().await, lines(&["tcp 8000-8080 0.0.0.0/0"]));
}

#[tokio::test]
async fn exempt_group_is_skipped_and_dry_run_changes_nothing() {
    let world = World::new().await;
    open(&world.aws.ec2, &world.group, "tcp", 22, 22, "0.0.0.0/0").await;
    let before = world.ingress().await;

    let mut dry = world.function(&[("DRY_RUN", "true")]).await;
    let invocation = dry
        .invoke(&world.event("authorize-sg-ingress-ssh-world.json"))
        .await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "dry-run");
    assert_eq!(world.ingress().await, before);

    sg::tag_group(
        &world.aws.ec2,
        &world.group,
        "remediation:exempt",
        "bastion",
    )
    .await;
    let mut function = world.function(&[]).await;
    let invocation = function
        .invoke(&world.event("authorize-sg-ingress-ssh-world.json"))
        .await;
    assert_eq!(invocation.response()["results"][0]["outcome"], "skipped");
    assert_eq!(world.ingress().await, before);

    let notes = world.inbox.drain().await;
    let outcomes: Vec<&str> = notes
        .iter()
        .map(|n| n.document["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["dry-run", "skipped"]);
    assert_eq!(
        notes[0].document["changes"],
        json!(["revoked tcp 22 from 0.0.0.0/0"])
    );
}

#[tokio::test]
async fn replay_deleted_group_and_unrelated_events() {
    let world = World::new().await;
    open(&world.aws.ec2, &world.group, "tcp", 22, 22, "0.0.0.0/0").await;
    let mut function = world.function(&[]).await;
    let payload = world.event("authorize-sg-ingress-ssh-world.json");
    assert_eq!(
        function.invoke(&payload).await.response()["results"][0]["outcome"],
        "remediated"
    );
    assert_eq!(
        function.invoke(&payload).await.response()["results"][0]["outcome"],
        "compliant"
    );

    world
        .aws
        .ec2
        .delete_security_group()
        .group_id(&world.group)
        .send()
        .await
        .unwrap();
    let invocation = function.invoke(&payload).await;
    assert_eq!(
        invocation.response()["results"][0]["outcome"],
        "not-found",
        "{:?}",
        invocation.response()
    );

    for payload in [
        event(
            "open-security-group/ignored-config-restricted-ssh-compliant.json",
            &[],
        ),
        event(
            "open-security-group/ignored-guardduty-sample-finding.json",
            &[],
        ),
        event(
            "open-security-group/ignored-guardduty-archived-finding.json",
            &[],
        ),
        event("s3-public-access/put-bucket-acl-allusers-read.json", &[]),
        json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "detail": []}),
    ] {
        let invocation = function.invoke(&payload).await;
        assert_eq!(invocation.response()["status"], "ignored", "{payload}");
    }
    assert_eq!(
        world.inbox.drain().await.len(),
        1,
        "one notification in all"
    );
}

#[tokio::test]
async fn scheduled_sweep_fixes_every_open_group_and_only_those() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    let open_ssh = world.group.clone();
    open(ec2, &open_ssh, "tcp", 22, 22, "0.0.0.0/0").await;
    let web_only = sg::create_group(ec2, &unique("web-only")).await;
    open(ec2, &web_only, "tcp", 443, 443, "::/0").await;
    let exempt = sg::create_group(ec2, &unique("exempt")).await;
    open(ec2, &exempt, "tcp", 3389, 3389, "0.0.0.0/0").await;
    sg::tag_group(ec2, &exempt, "remediation:exempt", "lab").await;

    let mut function = world.function(&[]).await;
    let invocation = function.invoke(&world.event("scheduled-sweep.json")).await;
    let response = invocation.response();
    assert_eq!(response["summary"]["remediated"], 1, "{response}");
    assert_eq!(response["summary"]["skipped"], 1, "{response}");
    assert!(ingress(ec2, &open_ssh).await.is_empty());
    assert_eq!(ingress(ec2, &web_only).await, lines(&["tcp 443-443 ::/0"]));
    assert_eq!(
        ingress(ec2, &exempt).await,
        lines(&["tcp 3389-3389 0.0.0.0/0"])
    );
    let notes = world.inbox.drain().await;
    assert_eq!(
        notes.len(),
        1,
        "a sweep notifies what it changed, not the exempt group again"
    );
    assert_eq!(notes[0].document["resource_id"], open_ssh.as_str());
}

/// A sweep's messages go ten to a PublishBatch call, each still one message per group with its own
/// subject and attributes; a batch SNS refuses goes message by message, and nothing is lost.
#[tokio::test]
async fn a_sweep_publishes_its_messages_in_batches_of_ten_and_loses_none() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    let mut groups = vec![world.group.clone()];
    for i in 0..22 {
        groups.push(sg::create_group(ec2, &unique(&format!("open-{i}"))).await);
    }
    for group in &groups {
        open(ec2, group, "tcp", 22, 22, "0.0.0.0/0").await;
    }
    world.moto.server().start_recording();
    let response = world.sweep().await;
    assert_eq!(response["summary"]["remediated"], 23, "{response}");
    let calls = world.moto.server().recorded_calls();
    let count = |name: &str| calls.iter().filter(|c| *c == name).count();
    assert_eq!(
        (count("PublishBatch"), count("Publish")),
        (3, 0),
        "{calls:?}"
    );
    let notes = world.inbox.drain().await;
    let mut named: Vec<String> = notes
        .iter()
        .map(|n| n.document["resource_id"].as_str().unwrap().to_string())
        .collect();
    named.sort();
    let mut expected = groups.clone();
    expected.sort();
    assert_eq!(named, expected, "one message per group");
    for note in &notes {
        let id = note.document["resource_id"].as_str().unwrap();
        assert_eq!(
            note.subject,
            format!("[remediated] {id}: revoked tcp 22 from 0.0.0.0/0")
        );
        assert_eq!(note.attributes["outcome"]["Value"], "remediated");
    }

    // The first batch refused as a whole (and its retry: AWS_MAX_ATTEMPTS=2): its ten go one by one.
    for group in &groups {
        open(ec2, group, "tcp", 22, 22, "0.0.0.0/0").await;
    }
    world.moto.server().inject_faults(json!([{
        "operation": "PublishBatch", "times": 2, "status": 500,
        "code": "InternalError", "message": "try again"
    }]));
    world.moto.server().start_recording();
    let response = world.sweep().await;
    assert_eq!(response["summary"]["remediated"], 23, "{response}");
    let calls = world.moto.server().recorded_calls();
    let count = |name: &str| calls.iter().filter(|c| *c == name).count();
    assert_eq!(count("Publish"), 10, "{calls:?}");
    assert_eq!(world.inbox.drain().await.len(), 23, "none lost");
}

#[tokio::test]
async fn its_own_reauthorization_is_recognised_by_role_and_ignored() {
    let world = World::new().await;
    open(&world.aws.ec2, &world.group, "tcp", 22, 22, "0.0.0.0/0").await;
    // Run the function with credentials of its own role, as Lambda does.
    let sts = aws_sdk_sts::Client::new(
        &aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(world.moto.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "testing", "testing", None, None, "t",
            ))
            .load()
            .await,
    );
    let creds = sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/remediation-open-security-group")
        .role_session_name("open-security-group")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let mut function = world
        .function(&[
            ("AWS_ACCESS_KEY_ID", creds.access_key_id()),
            ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key()),
            ("AWS_SESSION_TOKEN", creds.session_token()),
        ])
        .await;
    let own = world.event("ignored-authorize-sg-ingress-by-remediation-role.json");
    let invocation = function.invoke(&own).await;
    let response = invocation.response();
    assert_eq!(response["status"], "ignored", "{response}");
    assert!(
        response["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("own role"),
        "{response}"
    );

    // The same change by someone whose session is merely named like the function is not ignored.
    let mut impostor = own.clone();
    impostor["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
        json!("arn:aws:iam::123456789012:role/developer");
    let invocation = function.invoke(&impostor).await;
    assert_eq!(
        invocation.response()["results"][0]["outcome"],
        "remediated",
        "{:?}",
        invocation.response()
    );
    assert!(world.ingress().await.is_empty());
}

/// The internet in pieces (`0.0.0.0/1` + `128.0.0.0/1`, `2000::/3`) is revoked like `0.0.0.0/0`, the
/// allowed ports re-opened from the same pieces; a partner's `/24`, `10.0.0.0/8` and unique-local IPv6
/// stay exactly as they were.
#[tokio::test]
async fn the_internet_in_pieces_is_closed_and_narrow_sources_stay() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    open(ec2, &world.group, "tcp", 0, 65535, "0.0.0.0/1").await;
    open(ec2, &world.group, "tcp", 0, 65535, "128.0.0.0/1").await;
    open(ec2, &world.group, "tcp", 3389, 3389, "2000::/3").await;
    open(ec2, &world.group, "tcp", 22, 22, "203.0.113.0/24").await;
    open(ec2, &world.group, "tcp", 5432, 5432, "10.0.0.0/8").await;
    open(ec2, &world.group, "tcp", 22, 22, "fc00::/7").await;

    let mut function = world.function(&[]).await;
    let invocation = function.invoke(&world.event("scheduled-sweep.json")).await;
    assert_eq!(
        invocation.response()["summary"]["remediated"],
        1,
        "{}",
        invocation.response()
    );
    assert_eq!(
        world.ingress().await,
        lines(&[
            "tcp 22-22 203.0.113.0/24",
            "tcp 5432-5432 10.0.0.0/8",
            "tcp 22-22 fc00::/7",
            "tcp 80-80 0.0.0.0/1",
            "tcp 443-443 0.0.0.0/1",
            "tcp 80-80 128.0.0.0/1",
            "tcp 443-443 128.0.0.0/1",
        ])
    );
    let notes = world.inbox.drain().await;
    let changes = notes[0].document["changes"].to_string();
    for piece in ["0.0.0.0/1", "128.0.0.0/1", "2000::/3"] {
        assert!(changes.contains(&format!("from {piece}")), "{changes}");
    }
}

/// A rule from a customer-managed prefix list holding `0.0.0.0/0` is the internet: it is revoked, the
/// allowed web ports are re-opened from the same list, and the list itself is never edited. Negative
/// twins: a rule from a list of private and partner ranges, and one from an AWS-managed list, stay.
#[tokio::test]
async fn a_prefix_list_holding_the_internet_is_closed_and_narrow_lists_stay() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    let open_list =
        sg::create_prefix_list(ec2, &unique("everyone"), &["0.0.0.0/0", "10.0.0.0/8"]).await;
    let partners =
        sg::create_prefix_list(ec2, &unique("partners"), &["10.0.0.0/8", "203.0.113.0/24"]).await;
    let aws_managed = ec2
        .describe_managed_prefix_lists()
        .send()
        .await
        .unwrap()
        .prefix_lists()
        .iter()
        .find(|l| l.owner_id() == Some("AWS"))
        .and_then(|l| l.prefix_list_id().map(String::from))
        .expect("moto's AWS-managed prefix lists");
    sg::open_to_prefix_list(ec2, &world.group, "tcp", 0, 65535, &open_list).await;
    sg::open_to_prefix_list(ec2, &world.group, "tcp", 22, 22, &partners).await;
    sg::open_to_prefix_list(ec2, &world.group, "tcp", 443, 443, &aws_managed).await;

    let mut function = world.function(&[]).await;
    let invocation = function.invoke(&world.event("scheduled-sweep.json")).await;
    assert_eq!(
        invocation.response()["summary"]["remediated"],
        1,
        "{}",
        invocation.response()
    );
    assert_eq!(
        world.ingress().await,
        lines(&[
            &format!("tcp 22-22 {partners}"),
            &format!("tcp 443-443 {aws_managed}"),
            &format!("tcp 80-80 {open_list}"),
            &format!("tcp 443-443 {open_list}"),
        ])
    );
    let entries = ec2
        .get_managed_prefix_list_entries()
        .prefix_list_id(&open_list)
        .send()
        .await
        .unwrap();
    assert_eq!(
        entries.entries().len(),
        2,
        "the list itself is never edited"
    );
    let notes = world.inbox.drain().await;
    let reason = notes[0].document["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "tcp all ports from prefix list {open_list} (holds 0.0.0.0/0)"
        )),
        "{reason}"
    );
}

/// A group at its rules quota (moto has no quota: the rig answers AuthorizeSecurityGroupIngress with
/// EC2's RulesPerSecurityGroupLimitExceeded): the all-ports rule is narrowed in place to an allowed port
/// (ModifySecurityGroupRules needs no free slot), SSH is revoked, and the second allowed port, which
/// found no slot, is named loudly as closed. Negative twin: the partner's rule stays.
#[tokio::test]
async fn at_the_rules_quota_the_broad_rule_is_narrowed_in_place_and_closed_ports_are_named() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    open(ec2, &world.group, "tcp", 0, 65535, "0.0.0.0/0").await;
    open(ec2, &world.group, "tcp", 22, 22, "0.0.0.0/0").await;
    open(ec2, &world.group, "tcp", 22, 22, "203.0.113.0/24").await;
    world.at_rules_quota(-1, &[]);
    let response = world.sweep().await;
    assert_eq!(
        response["results"][0]["outcome"], "remediated",
        "{response}"
    );
    assert_eq!(
        world.ingress().await,
        lines(&["tcp 22-22 203.0.113.0/24", "tcp 80-80 0.0.0.0/0"])
    );
    assert_eq!(
        world.moto.server().fault_hits()["AuthorizeSecurityGroupIngress"],
        2
    );
    let notes = world.inbox.drain().await;
    assert_eq!(notes[0].attributes["severity"]["Value"], "high");
    let note = &notes[0].document;
    let reason = note["reason"].as_str().unwrap();
    assert!(
        reason.contains("ALLOWED PORTS CLOSED") && reason.contains("tcp 443 to 0.0.0.0/0"),
        "{reason}"
    );
    let changes = note["changes"].to_string();
    assert!(
        changes.contains("narrowed tcp all ports from 0.0.0.0/0"),
        "{changes}"
    );
    assert!(
        changes.contains("in place to tcp 80 to 0.0.0.0/0"),
        "{changes}"
    );
    assert!(
        changes.contains("revoked tcp 22 from 0.0.0.0/0"),
        "{changes}"
    );
}

/// Negative twin of the quota case: when revoking frees a slot (the quota error on the first try only),
/// the broad rule is narrowed in place and the second allowed port finds room: nothing allowed closes.
#[tokio::test]
async fn below_the_rules_quota_every_allowed_port_stays_open() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    open(ec2, &world.group, "tcp", 0, 65535, "0.0.0.0/0").await;
    world.at_rules_quota(1, &[]);
    let response = world.sweep().await;
    assert_eq!(
        response["results"][0]["outcome"], "remediated",
        "{response}"
    );
    assert_eq!(
        world.ingress().await,
        lines(&["tcp 443-443 0.0.0.0/0", "tcp 80-80 0.0.0.0/0"])
    );
    let notes = world.inbox.drain().await;
    let reason = notes[0].document["reason"].as_str().unwrap();
    assert!(!reason.contains("CLOSED"), "{reason}");
}

/// Adding `0.0.0.0/0` to a prefix list opens every group that uses it, with no group event: the
/// `ModifyManagedPrefixList` event makes the function check exactly those groups. Negative twins: a
/// group open to the world without the list is not this event's business (the sweep's), and a group
/// using another list of private ranges stays.
#[tokio::test]
async fn a_prefix_list_that_gains_the_internet_closes_the_groups_that_use_it() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    let list = sg::create_prefix_list(ec2, &unique("vendors"), &["198.51.100.0/24"]).await;
    let other_list = sg::create_prefix_list(ec2, &unique("office"), &["10.0.0.0/8"]).await;
    sg::open_to_prefix_list(ec2, &world.group, "tcp", 22, 22, &list).await;
    let second = sg::create_group(ec2, &unique("admin")).await;
    sg::open_to_prefix_list(ec2, &second, "tcp", 3389, 3389, &list).await;
    let elsewhere = sg::create_group(ec2, &unique("other")).await;
    sg::open_to_prefix_list(ec2, &elsewhere, "tcp", 22, 22, &other_list).await;
    open(ec2, &elsewhere, "tcp", 23, 23, "0.0.0.0/0").await;
    let version = ec2
        .describe_managed_prefix_lists()
        .prefix_list_ids(&list)
        .send()
        .await
        .unwrap()
        .prefix_lists()[0]
        .version();
    ec2.modify_managed_prefix_list()
        .prefix_list_id(&list)
        .set_current_version(version)
        .add_entries(
            aws_sdk_ec2::types::AddPrefixListEntry::builder()
                .cidr("0.0.0.0/0")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let mut function = world.function(&[]).await;
    let changed = event(
        &format!("{FUNCTION}/modify-managed-prefix-list-add-world.json"),
        &[("pl-0a1b2c3d4e5f60718", &list)],
    );
    let response = function.invoke(&changed).await.response().clone();
    assert_eq!(response["summary"]["remediated"], 2, "{response}");
    assert_eq!(world.ingress().await, Vec::<String>::new());
    assert_eq!(sg::ingress(ec2, &second).await, Vec::<String>::new());
    assert_eq!(
        sg::ingress(ec2, &elsewhere).await,
        lines(&[&format!("tcp 22-22 {other_list}"), "tcp 23-23 0.0.0.0/0"])
    );

    // A list no group uses: nothing to check.
    let unused = sg::create_prefix_list(ec2, &unique("unused"), &["0.0.0.0/0"]).await;
    let response = function
        .invoke(&event(
            &format!("{FUNCTION}/modify-managed-prefix-list-add-world.json"),
            &[("pl-0a1b2c3d4e5f60718", &unused)],
        ))
        .await
        .response()
        .clone();
    assert_eq!(response["status"], "ignored", "{response}");
}

/// When EC2 refuses the in-place rewrite too (here an older role without ModifySecurityGroupRules) and
/// the group stays full, the internet is closed anyway: the broad rule is revoked, and every allowed
/// port that found no slot is named as closed. Nothing is left open from the internet.
#[tokio::test]
async fn at_the_rules_quota_without_a_rewrite_the_internet_is_closed_and_the_ports_named() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    open(ec2, &world.group, "-1", -1, -1, "0.0.0.0/0").await;
    open(ec2, &world.group, "tcp", 22, 22, "203.0.113.0/24").await;
    world.at_rules_quota(
        -1,
        &[
            json!({"operation": "ModifySecurityGroupRules", "times": -1, "status": 403,
                 "code": "UnauthorizedOperation",
                 "message": "You are not authorized to perform this operation."}),
        ],
    );
    let response = world.sweep().await;
    assert_eq!(
        response["results"][0]["outcome"], "remediated",
        "{response}"
    );
    assert_eq!(world.ingress().await, lines(&["tcp 22-22 203.0.113.0/24"]));
    let notes = world.inbox.drain().await;
    assert_eq!(notes[0].attributes["severity"]["Value"], "high");
    let reason = notes[0].document["reason"].as_str().unwrap();
    assert!(
        reason.contains("ALLOWED PORTS CLOSED")
            && reason.contains("tcp 80 to 0.0.0.0/0")
            && reason.contains("tcp 443 to 0.0.0.0/0"),
        "{reason}"
    );
    let changes = notes[0].document["changes"].to_string();
    assert!(
        changes.contains("revoked all traffic from 0.0.0.0/0"),
        "{changes}"
    );
}

/// A group's exemption ends on its `until=` day: an ended one is fixed (the message says whose it was),
/// one that still holds is left open, as an exemption without an end is.
#[tokio::test]
async fn a_group_exemption_holds_until_its_end_date() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    let holding = sg::create_group(ec2, &unique("holding")).await;
    open(ec2, &world.group, "tcp", 22, 22, "0.0.0.0/0").await;
    open(ec2, &holding, "tcp", 22, 22, "0.0.0.0/0").await;
    sg::tag_group(
        ec2,
        &world.group,
        "remediation:exempt",
        "until=2022-02-28 by=netops bastion",
    )
    .await;
    sg::tag_group(
        ec2,
        &holding,
        "remediation:exempt",
        "until=2099-02-28 by=netops bastion",
    )
    .await;

    let mut function = world.function(&[]).await;
    let response = function
        .invoke(&world.event("scheduled-sweep.json"))
        .await
        .response()
        .clone();
    assert_eq!(response["summary"]["remediated"], 1, "{response}");
    assert_eq!(world.ingress().await, Vec::<String>::new());
    assert_eq!(
        sg::ingress(ec2, &holding).await,
        lines(&["tcp 22-22 0.0.0.0/0"])
    );
    let notes = world.inbox.drain().await;
    let reason = notes[0].document["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "group {}'s exemption (tag remediation:exempt: until 2022-02-28, set by netops, bastion) ended",
            world.group
        )),
        "{reason}"
    );
}
