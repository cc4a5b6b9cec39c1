//! End to end: the real `config-rule` binary under the Runtime API emulator. S3 and EC2 are moto;
//! Config is the rig's recording stub (moto's PutEvaluations only works in test mode), reached
//! through `AWS_ENDPOINT_URL_CONFIG_SERVICE` as a user would point the SDK at any endpoint.

use remediation_tests::config_stub::ConfigStub;
use remediation_tests::ec2::{self as ec2state, launch_one, open};
use remediation_tests::s3 as s3state;
use remediation_tests::{event, unique, Account, FunctionError, FunctionProcess};
use serde_json::{json, Value};

const FUNCTION: &str = "config-rule";
const SAMPLE_GROUP: &str = "sg-0a1b2c3d4e5f60718";
const SAMPLE_BUCKET: &str = "example-public-bucket";
const SAMPLE_INSTANCE: &str = "i-0a1b2c3d4e5f60718";

struct World {
    account: Account,
    config: ConfigStub,
}

impl World {
    async fn new() -> World {
        World {
            account: Account::new().await,
            config: ConfigStub::start().await,
        }
    }

    async fn function(&self, settings: &[(&str, &str)]) -> FunctionProcess {
        let mut all = vec![(
            "AWS_ENDPOINT_URL_CONFIG_SERVICE",
            self.config.endpoint.as_str(),
        )];
        all.extend_from_slice(settings);
        self.account.function(FUNCTION, &all).await
    }

    /// The verdict reported for one resource id: (compliance, annotation).
    fn verdict(&self, resource_id: &str) -> (String, String) {
        let evaluations = self.config.evaluations();
        let found: Vec<&Value> = evaluations
            .iter()
            .filter(|e| e["ComplianceResourceId"] == resource_id)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one evaluation of {resource_id}: {evaluations:?}"
        );
        (
            found[0]["ComplianceType"].as_str().unwrap().to_string(),
            found[0]["Annotation"].as_str().unwrap_or("").to_string(),
        )
    }
}

fn sample(file: &str, replacements: &[(&str, &str)]) -> Value {
    event(&format!("{FUNCTION}/{file}"), replacements)
}

#[tokio::test]
async fn configuration_items_of_each_type_are_evaluated_and_reported() {
    let world = World::new().await;
    let mut function = world.function(&[]).await;
    for file in [
        "configuration-item-change-security-group.json",
        "configuration-item-change-s3-bucket.json",
        "configuration-item-change-instance.json",
    ] {
        let response = function.invoke(&sample(file, &[])).await.response().clone();
        assert_eq!(response["status"], "done", "{file}: {response}");
    }
    assert_eq!(
        world.verdict(SAMPLE_GROUP),
        (
            "NON_COMPLIANT".to_string(),
            "tcp 22 open to 0.0.0.0/0 (allowed public ports: 80,443)".to_string()
        )
    );
    assert_eq!(
        world.verdict(SAMPLE_BUCKET),
        (
            "NON_COMPLIANT".to_string(),
            "the bucket ACL granted READ to AllUsers (anyone on the internet)".to_string()
        )
    );
    assert_eq!(
        world.verdict(SAMPLE_INSTANCE),
        (
            "NON_COMPLIANT".to_string(),
            "missing tag env (required: Name, env)".to_string()
        )
    );
    let calls = world.config.calls();
    assert_eq!(calls.len(), 3, "one PutEvaluations per invocation");
    for call in &calls {
        assert_eq!(call.operation, "PutEvaluations");
        assert!(call.body["ResultToken"]
            .as_str()
            .unwrap()
            .starts_with("eyJ"));
        assert!(call.body["Evaluations"][0]["OrderingTimestamp"].is_number());
    }
}

#[tokio::test]
async fn oversized_items_are_read_from_the_account() {
    let world = World::new().await;
    let ec2 = &world.account.aws.ec2;
    let group = ec2state::create_group(ec2, &unique("web")).await;
    open(ec2, &group, "tcp", 3389, 3389, "::/0").await;
    let bucket = unique("public");
    s3state::create_public_bucket(&world.account.aws.s3, &bucket).await;
    let instance = launch_one(ec2, &[("Name", "a"), ("env", "dev")]).await;

    let mut function = world.function(&[]).await;
    for (file, from, to) in [
        (
            "oversized-configuration-item-change-security-group.json",
            SAMPLE_GROUP,
            group.as_str(),
        ),
        (
            "oversized-configuration-item-change-s3-bucket.json",
            SAMPLE_BUCKET,
            bucket.as_str(),
        ),
        (
            "oversized-configuration-item-change-instance.json",
            SAMPLE_INSTANCE,
            instance.as_str(),
        ),
    ] {
        function
            .invoke(&sample(file, &[(from, to)]))
            .await
            .response();
    }
    assert_eq!(
        world.verdict(&group),
        (
            "NON_COMPLIANT".to_string(),
            "tcp 3389 open to ::/0 (allowed public ports: 80,443)".to_string()
        )
    );
    assert_eq!(world.verdict(&bucket).0, "NON_COMPLIANT");
    assert_eq!(world.verdict(&instance).0, "COMPLIANT");

    // A resource deleted in the meantime is not applicable.
    let gone = "sg-0000000000000dead";
    function
        .invoke(&sample(
            "oversized-configuration-item-change-security-group.json",
            &[(SAMPLE_GROUP, gone)],
        ))
        .await
        .response();
    assert_eq!(world.verdict(gone).0, "NOT_APPLICABLE");
}

/// The rule and the remediations agree: after a scheduled evaluation, running each remediation's
/// sweep changes exactly the resources the rule called NON_COMPLIANT.
#[tokio::test]
async fn a_scheduled_run_judges_everything_as_the_remediations_would_fix_it() {
    let world = World::new().await;
    let aws = &world.account.aws;
    let open_group = ec2state::create_group(&aws.ec2, &unique("open")).await;
    open(&aws.ec2, &open_group, "tcp", 22, 22, "0.0.0.0/0").await;
    let web_group = ec2state::create_group(&aws.ec2, &unique("web")).await;
    open(&aws.ec2, &web_group, "tcp", 443, 443, "0.0.0.0/0").await;
    let exempt_group = ec2state::create_group(&aws.ec2, &unique("exempt")).await;
    open(&aws.ec2, &exempt_group, "-1", -1, -1, "0.0.0.0/0").await;
    ec2state::tag_group(&aws.ec2, &exempt_group, "remediation:exempt", "lab").await;
    let public_bucket = unique("public");
    s3state::create_public_bucket(&aws.s3, &public_bucket).await;
    let private_bucket = unique("private");
    s3state::create_private_bucket(&aws.s3, &private_bucket).await;
    let tagged = launch_one(&aws.ec2, &[("Name", "a"), ("env", "prod")]).await;
    let untagged = launch_one(&aws.ec2, &[("Name", "a")]).await;

    let mut rule = world.function(&[]).await;
    let response = rule
        .invoke(&sample("scheduled-notification.json", &[]))
        .await
        .response()
        .clone();
    assert_eq!(
        response["results"][0]["message_type"],
        "ScheduledNotification"
    );
    let non_compliant: Vec<String> = world
        .config
        .evaluations()
        .iter()
        .filter(|e| e["ComplianceType"] == "NON_COMPLIANT")
        .map(|e| e["ComplianceResourceId"].as_str().unwrap().to_string())
        .collect();
    let mut expected = vec![open_group.clone(), public_bucket.clone(), untagged.clone()];
    expected.sort();
    let mut found = non_compliant.clone();
    found.sort();
    assert_eq!(found, expected);
    for compliant in [&web_group, &private_bucket, &tagged] {
        assert_eq!(world.verdict(compliant).0, "COMPLIANT", "{compliant}");
    }
    assert!(world
        .verdict(&exempt_group)
        .1
        .starts_with("exempt (tag remediation:exempt: lab)"));

    // Now the remediations sweep the same account: they change exactly those resources.
    let mut changed = Vec::new();
    for (function, sweep) in [
        ("s3-public-access", "s3-public-access/scheduled-sweep.json"),
        (
            "open-security-group",
            "open-security-group/scheduled-sweep.json",
        ),
        (
            "untagged-instance",
            "untagged-instance/scheduled-sweep.json",
        ),
    ] {
        let mut remediation = world.account.function(function, &[]).await;
        let response = remediation
            .invoke(&event(sweep, &[]))
            .await
            .response()
            .clone();
        for result in response["results"].as_array().unwrap() {
            if result["outcome"] == "remediated" {
                changed.push(result["resource_id"].as_str().unwrap().to_string());
            }
        }
    }
    changed.sort();
    assert_eq!(changed, expected);
}

#[tokio::test]
async fn rule_parameters_override_the_settings_and_a_bad_one_is_an_error() {
    let world = World::new().await;
    let ec2 = &world.account.aws.ec2;
    let group = ec2state::create_group(ec2, &unique("ssh")).await;
    open(ec2, &group, "tcp", 22, 22, "0.0.0.0/0").await;
    let mut function = world.function(&[]).await;

    let mut allow_ssh = sample("scheduled-notification-security-group.json", &[]);
    allow_ssh["ruleParameters"] =
        json!("{\"resourceTypes\":\"AWS::EC2::SecurityGroup\",\"allowedPublicPorts\":\"22,443\"}");
    function.invoke(&allow_ssh).await.response();
    assert_eq!(world.verdict(&group).0, "COMPLIANT");
    assert!(
        world
            .config
            .evaluations()
            .iter()
            .all(|e| e["ComplianceResourceType"] == "AWS::EC2::SecurityGroup"),
        "resourceTypes limits the run"
    );

    let before = world.config.calls().len();
    let mut bad = sample("scheduled-notification.json", &[]);
    bad["ruleParameters"] = json!("{\"requiredTags\":\"env=\"}");
    let invocation = function.invoke(&bad).await;
    match &invocation.result {
        Err(FunctionError::Reported { body, .. }) => {
            let message = body["errorMessage"].as_str().unwrap_or("");
            assert!(
                message.contains("invalid rule parameter requiredTags=env="),
                "{body}"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(world.config.calls().len(), before, "nothing reported");
}

#[tokio::test]
async fn remediation_events_are_ignored_by_the_rule() {
    let world = World::new().await;
    let mut function = world.function(&[]).await;
    let response = function
        .invoke(&event("untagged-instance/instance-running.json", &[]))
        .await
        .response()
        .clone();
    assert_eq!(response["status"], "ignored", "{response}");
    assert!(world.config.calls().is_empty());
}

/// A configuration item holds a prefix list's id, not its entries: a group whose rule references a
/// list is judged on its current state, read as the remediation reads it. The group from a list holding
/// `0.0.0.0/0` is non-compliant, its negative twin from a list of private ranges compliant.
#[tokio::test]
async fn groups_from_prefix_lists_are_judged_by_the_lists_entries() {
    let world = World::new().await;
    let ec2 = &world.account.aws.ec2;
    let open_list = ec2state::create_prefix_list(ec2, &unique("everyone"), &["0.0.0.0/0"]).await;
    let private_list = ec2state::create_prefix_list(ec2, &unique("office"), &["10.0.0.0/8"]).await;
    let mut function = world.function(&[]).await;
    let mut groups = Vec::new();
    for list in [&open_list, &private_list] {
        let group = ec2state::create_group(ec2, &unique("admin")).await;
        ec2state::open_to_prefix_list(ec2, &group, "tcp", 22, 22, list).await;
        let mut invocation = sample(
            "configuration-item-change-security-group.json",
            &[(SAMPLE_GROUP, &group)],
        );
        let mut item: Value =
            serde_json::from_str(invocation["invokingEvent"].as_str().unwrap()).unwrap();
        item["configurationItem"]["configuration"]["ipPermissions"] = json!([{
            "fromPort": 22, "toPort": 22, "ipProtocol": "tcp", "ipv4Ranges": [], "ipRanges": [],
            "ipv6Ranges": [], "userIdGroupPairs": [], "prefixListIds": [{"prefixListId": list}]
        }]);
        invocation["invokingEvent"] = json!(item.to_string());
        let response = function.invoke(&invocation).await.response().clone();
        assert_eq!(response["status"], "done", "{response}");
        groups.push(group);
    }
    let (compliance, annotation) = world.verdict(&groups[0]);
    assert_eq!(compliance, "NON_COMPLIANT");
    assert_eq!(
        annotation,
        format!("tcp 22 open to prefix list {open_list} (holds 0.0.0.0/0) (allowed public ports: 80,443)")
    );
    assert_eq!(world.verdict(&groups[1]).0, "COMPLIANT");
}
