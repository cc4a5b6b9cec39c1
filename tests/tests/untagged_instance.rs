//! End to end: the real `untagged-instance` binary under the Runtime API emulator, against moto.
//! Instances are seeded with the SDK; the function reads them back as it would on AWS.

use std::time::Duration;

use remediation_tests::ec2::{
    instance, instance_state, launch, launch_hibernating, launch_one, stop, tag,
};
use remediation_tests::{event, Account, FunctionProcess};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const FUNCTION: &str = "untagged-instance";
const SAMPLE_INSTANCE: &str = "i-0a1b2c3d4e5f60718";
const STOP_AFTER: &str = "remediation:stop-after";

const GOOD: &[(&str, &str)] = &[("Name", "web-1"), ("env", "dev")];
const NO_ENV: &[(&str, &str)] = &[("Name", "web-1")];

struct World {
    account: Account,
}

impl std::ops::Deref for World {
    type Target = Account;
    fn deref(&self) -> &Account {
        &self.account
    }
}

impl World {
    async fn new() -> World {
        World {
            account: Account::new().await,
        }
    }

    async fn function(&self, settings: &[(&str, &str)]) -> FunctionProcess {
        self.account.function(FUNCTION, settings).await
    }

    /// A sample event about `instance_id`.
    fn event(&self, file: &str, instance_id: &str) -> Value {
        event(
            &format!("{FUNCTION}/{file}"),
            &[(SAMPLE_INSTANCE, instance_id)],
        )
    }

    async fn launch(&self, tags: &[(&str, &str)]) -> String {
        launch_one(&self.aws.ec2, tags).await
    }

    async fn state(&self, instance_id: &str) -> String {
        instance_state(&self.aws.ec2, instance_id).await
    }

    async fn mark(&self, instance_id: &str) -> Option<String> {
        instance(&self.aws.ec2, instance_id)
            .await
            .1
            .get(STOP_AFTER)
            .cloned()
    }
}

fn is_stopped(state: &str) -> bool {
    matches!(state, "stopping" | "stopped")
}

fn outcome(response: &Value) -> &str {
    response["results"][0]["outcome"].as_str().unwrap_or("?")
}

/// The CreateTags event (same request shape as DeleteTags) adding `key=value` to `instance_id`.
fn create_tags_event(world: &World, instance_id: &str, key: &str, value: &str) -> Value {
    let mut event = world.event("delete-tags-instance.json", instance_id);
    event["detail"]["eventName"] = json!("CreateTags");
    event["detail"]["requestParameters"]["tagSet"] =
        json!({"items": [{"key": key, "value": value}]});
    event
}

#[tokio::test]
async fn an_instance_without_env_is_stopped_and_a_tagged_one_keeps_running() {
    let world = World::new().await;
    let bad = world.launch(NO_ENV).await;
    let good = world.launch(GOOD).await;
    let mut function = world.function(&[]).await;

    let response = function
        .invoke(&world.event("run-instances.json", &bad))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&response), "remediated", "{response}");
    assert!(is_stopped(&world.state(&bad).await));

    let response = function
        .invoke(&world.event("run-instances.json", &good))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&response), "compliant", "{response}");
    assert_eq!(world.state(&good).await, "running");

    let notes = world.inbox.drain().await;
    assert_eq!(notes.len(), 1, "one message, for the stopped instance");
    let doc = &notes[0].document;
    assert_eq!(doc["function"], FUNCTION);
    assert_eq!(doc["outcome"], "remediated");
    assert_eq!(doc["resource_type"], "ec2-instance");
    assert_eq!(doc["resource_id"], bad.as_str());
    assert_eq!(doc["changes"], json!(["stopped"]));
    assert_eq!(doc["trigger"]["source"], "cloudtrail");
    assert_eq!(doc["reason"], "missing tag env (required: Name, env)");
    assert_eq!(notes[0].subject, format!("[remediated] {bad}: stopped"));
    assert_eq!(
        notes[0].attributes["resource_type"]["Value"],
        "ec2-instance"
    );
}

#[tokio::test]
async fn every_trigger_kind_stops_an_untagged_instance() {
    let world = World::new().await;
    let mut function = world.function(&[]).await;
    for file in [
        "instance-running.json",
        "instance-pending.json",
        "run-instances.json",
        "delete-tags-instance.json",
        "config-required-tags.json",
        "config-required-tags-first-evaluation.json",
    ] {
        let id = world.launch(&[]).await;
        let response = function
            .invoke(&world.event(file, &id))
            .await
            .response()
            .clone();
        assert_eq!(outcome(&response), "remediated", "{file}: {response}");
        assert!(is_stopped(&world.state(&id).await), "{file}");
    }
    // CreateTags that sets a value outside the list.
    let id = world.launch(NO_ENV).await;
    tag(&world.aws.ec2, &id, "env", "qa").await;
    let mut function = world
        .function(&[("REQUIRED_TAGS", "Name,env=prod|stg|dev")])
        .await;
    let response = function
        .invoke(&create_tags_event(&world, &id, "env", "qa"))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&response), "remediated", "{response}");
    assert!(response["results"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("tag env=\"qa\" is not one of prod|stg|dev"));
    let sources: Vec<String> = world
        .inbox
        .drain()
        .await
        .iter()
        .map(|n| {
            n.document["trigger"]["source"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sources.len(), 7);
    for source in ["ec2-state", "cloudtrail", "config"] {
        assert!(sources.iter().any(|s| s == source), "{sources:?}");
    }
}

#[tokio::test]
async fn allowed_values_and_case_hints() {
    let world = World::new().await;
    let prod = world.launch(&[("Name", "db"), ("env", "prod")]).await;
    let capital_key = world.launch(&[("Name", "db"), ("Env", "prod")]).await;
    let capital_value = world.launch(&[("Name", "db"), ("env", "Prod")]).await;
    let empty_name = world.launch(&[("Name", " "), ("env", "prod")]).await;
    let mut function = world
        .function(&[("REQUIRED_TAGS", "Name,env=prod|stg|dev")])
        .await;
    for id in [&prod, &capital_key, &capital_value, &empty_name] {
        function
            .invoke(&world.event("instance-running.json", id))
            .await;
    }
    assert_eq!(world.state(&prod).await, "running");
    for id in [&capital_key, &capital_value, &empty_name] {
        assert!(is_stopped(&world.state(id).await), "{id}");
    }
    let reasons: Vec<(String, String)> = world
        .inbox
        .drain()
        .await
        .iter()
        .map(|n| {
            (
                n.document["resource_id"].as_str().unwrap().to_string(),
                n.document["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason = |id: &str| reasons.iter().find(|(i, _)| i == id).unwrap().1.clone();
    assert!(reason(&capital_key)
        .contains("it has \"Env\": tag keys are case-sensitive, rename it to env"));
    assert!(reason(&capital_value).contains("values are case-sensitive: use env=prod"));
    assert!(reason(&empty_name).contains("tag Name is empty"));
    assert_eq!(reasons.len(), 3);
}

#[tokio::test]
async fn exempt_auto_scaling_and_stopped_instances_are_not_stopped() {
    let world = World::new().await;
    let exempt = world.launch(&[("remediation:exempt", "load test")]).await;
    let scaled = world
        .launch(&[("aws:autoscaling:groupName", "web-asg")])
        .await;
    let already_stopped = world.launch(&[]).await;
    stop(&world.aws.ec2, &already_stopped).await;
    let mut function = world.function(&[]).await;

    let mut outcomes = Vec::new();
    for id in [&exempt, &scaled, &already_stopped] {
        let response = function
            .invoke(&world.event("instance-running.json", id))
            .await
            .response()
            .clone();
        outcomes.push(outcome(&response).to_string());
    }
    assert_eq!(outcomes, ["skipped", "skipped", "compliant"]);
    assert_eq!(world.state(&exempt).await, "running");
    assert_eq!(world.state(&scaled).await, "running");

    let notes = world.inbox.drain().await;
    assert_eq!(notes.len(), 2, "no message about the stopped instance");
    let scaled_note = notes
        .iter()
        .find(|n| n.document["resource_id"] == scaled.as_str())
        .unwrap();
    assert_eq!(scaled_note.document["outcome"], "skipped");
    assert!(scaled_note.document["reason"]
        .as_str()
        .unwrap()
        .contains("Auto Scaling group web-asg would replace it"));
    assert_eq!(scaled_note.document["changes"], json!([]));
}

#[tokio::test]
async fn grace_period_marks_waits_stops_after_the_deadline_and_unmarks_when_fixed() {
    let world = World::new().await;
    let late = world.launch(NO_ENV).await;
    let fixed = world.launch(NO_ENV).await;
    let mut function = world.function(&[("GRACE_MINUTES", "30")]).await;
    let before = OffsetDateTime::now_utc();

    // First sight: marked, still running, told when it will be stopped.
    for id in [&late, &fixed] {
        let response = function
            .invoke(&world.event("instance-running.json", id))
            .await
            .response()
            .clone();
        assert_eq!(outcome(&response), "marked", "{response}");
        assert_eq!(world.state(id).await, "running");
    }
    let deadline = world.mark(&late).await.expect("marked");
    let parsed = OffsetDateTime::parse(&deadline, &Rfc3339).expect("RFC 3339");
    let minutes = (parsed - before).whole_seconds() as f64 / 60.0;
    assert!(
        (29.0..=31.0).contains(&minutes),
        "deadline {deadline} is {minutes} min away"
    );
    assert!(deadline.ends_with('Z'), "{deadline} is UTC");
    let notes = world.inbox.drain().await;
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].document["outcome"], "marked");
    assert_eq!(
        notes[0].document["changes"],
        json!([format!("tagged {STOP_AFTER}={deadline}")])
    );
    assert!(notes[0].document["reason"]
        .as_str()
        .unwrap()
        .contains(&format!(
            "it will be stopped after {deadline} unless it is tagged Name, env"
        )));

    // Before the deadline: nothing happens, nobody is told again.
    let response = function
        .invoke(&world.event("instance-running.json", &late))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&response), "waiting", "{response}");
    assert_eq!(world.state(&late).await, "running");

    // After the deadline (the mark moved into the past): stopped.
    tag(&world.aws.ec2, &late, STOP_AFTER, "2026-01-01T00:00:00Z").await;
    let response = function
        .invoke(&world.event("instance-running.json", &late))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&response), "remediated", "{response}");
    assert!(is_stopped(&world.state(&late).await));

    // Fixed in time: the mark goes, the instance keeps running, no message.
    tag(&world.aws.ec2, &fixed, "env", "dev").await;
    let response = function
        .invoke(&create_tags_event(&world, &fixed, "env", "dev"))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&response), "compliant", "{response}");
    assert_eq!(
        response["results"][0]["changes"],
        json!([format!("removed tag {STOP_AFTER}")])
    );
    assert_eq!(world.mark(&fixed).await, None);
    assert_eq!(world.state(&fixed).await, "running");

    let notes = world.inbox.drain().await;
    assert_eq!(notes.len(), 1, "only the stop after the deadline");
    assert!(notes[0].document["reason"]
        .as_str()
        .unwrap()
        .contains("the grace period ended at 2026-01-01T00:00:00Z"));
}

#[tokio::test]
async fn dry_run_stops_and_marks_nothing() {
    let world = World::new().await;
    let id = world.launch(&[]).await;
    for settings in [
        &[("DRY_RUN", "true")][..],
        &[("DRY_RUN", "true"), ("GRACE_MINUTES", "5")],
    ] {
        let mut function = world.function(settings).await;
        let response = function
            .invoke(&world.event("instance-running.json", &id))
            .await
            .response()
            .clone();
        assert_eq!(outcome(&response), "dry-run", "{response}");
    }
    assert_eq!(world.state(&id).await, "running");
    assert_eq!(world.mark(&id).await, None);
    let notes = world.inbox.drain().await;
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].document["changes"], json!(["stopped"]));
    assert!(notes[1].document["changes"][0]
        .as_str()
        .unwrap()
        .starts_with(&format!("tagged {STOP_AFTER}=")));
}

/// A dry-run deployment sweeps every hour: its findings come as one digest per sweep, not one message per
/// instance per sweep, while what an event reports still gets a message of its own.
#[tokio::test]
async fn a_dry_run_sweep_sends_one_digest_of_its_findings() {
    let world = World::new().await;
    let untagged = launch(&world.aws.ec2, 3, NO_ENV).await;
    let good = launch(&world.aws.ec2, 2, GOOD).await;
    let mut function = world.function(&[("DRY_RUN", "true")]).await;
    let sweep = world.event("scheduled-sweep.json", "-");
    for _ in 0..2 {
        let response = function.invoke(&sweep).await.response().clone();
        assert_eq!(response["summary"]["dry-run"], 3, "{response}");
        let notes = world.inbox.drain().await;
        assert_eq!(notes.len(), 1, "one digest per sweep: {notes:#?}");
        let digest = &notes[0];
        assert!(
            digest.subject.starts_with("[dry-run] sweep of "),
            "{}",
            digest.subject
        );
        assert_eq!(digest.attributes["resource_type"]["Value"], "digest");
        assert_eq!(digest.attributes["outcome"]["Value"], "dry-run");
        assert_eq!(digest.document["digest"]["count"], 3);
        let listed: Vec<&str> = digest.document["digest"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["resource_id"].as_str().unwrap())
            .collect();
        for id in &untagged {
            assert!(
                listed.contains(&id.as_str()),
                "{id} missing from {listed:?}"
            );
        }
        for id in &good {
            assert!(!listed.contains(&id.as_str()), "{id} is tagged");
        }
    }
    for id in untagged.iter().chain(&good) {
        assert_eq!(world.state(id).await, "running", "dry run");
    }
}

#[tokio::test]
async fn a_sweep_over_300_instances_stops_exactly_the_wrong_ones_in_a_few_calls() {
    let world = World::new().await;
    let ec2 = &world.aws.ec2;
    let good = launch(ec2, 150, GOOD).await;
    let missing_env = launch(ec2, 90, NO_ENV).await;
    let untagged = launch(ec2, 30, &[]).await;
    let exempt = launch(ec2, 15, &[("remediation:exempt", "batch")]).await;
    let scaled = launch(ec2, 15, &[("aws:autoscaling:groupName", "workers")]).await;
    let stopped_already = launch(ec2, 10, &[]).await;
    for id in &stopped_already {
        stop(ec2, id).await;
    }

    let mut function = world.function(&[]).await;
    let server = world.moto.server();
    server.start_recording();
    let response = function
        .invoke_with_timeout(
            &world.event("scheduled-sweep.json", "-"),
            Duration::from_secs(120),
        )
        .await
        .response()
        .clone();
    let calls = server.recorded_calls();

    assert_eq!(
        response["summary"]["remediated"], 120,
        "{}",
        response["summary"]
    );
    assert_eq!(
        response["summary"]["skipped"], 30,
        "{}",
        response["summary"]
    );
    assert_eq!(
        response["summary"]["compliant"], 150,
        "{}",
        response["summary"]
    );
    for id in missing_env.iter().chain(&untagged) {
        assert!(is_stopped(&world.state(id).await), "{id}");
    }
    for id in good.iter().chain(&exempt).chain(&scaled) {
        assert_eq!(world.state(id).await, "running", "{id}");
    }
    let count = |name: &str| calls.iter().filter(|c| *c == name).count();
    assert_eq!(count("DescribeInstances"), 1, "{calls:?}");
    assert_eq!(count("StopInstances"), 2, "120 instances in batches of 100");
    assert_eq!(
        count("PublishBatch"),
        12,
        "one message per stopped instance, ten per call, none for skipped ones in a sweep"
    );
    assert_eq!(count("Publish"), 0, "{calls:?}");
    assert_eq!(calls.len(), 1 + 2 + 12, "{calls:?}");
    assert_eq!(world.inbox.drain().await.len(), 120);
}

#[tokio::test]
async fn a_nonexistent_instance_is_nothing_to_do() {
    let world = World::new().await;
    let mut function = world.function(&[]).await;
    let response = function
        .invoke(&world.event("run-instances.json", "i-0000000000000dead"))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&response), "not-found", "{response}");
    assert!(world.inbox.drain().await.is_empty());
}

#[tokio::test]
async fn replays_change_nothing_more_and_unrelated_events_are_ignored() {
    let world = World::new().await;
    let id = world.launch(&[]).await;
    let mut function = world.function(&[]).await;
    let delete_tags = world.event("delete-tags-instance.json", &id);
    assert_eq!(
        outcome(&function.invoke(&delete_tags).await.response().clone()),
        "remediated"
    );
    assert_eq!(
        outcome(&function.invoke(&delete_tags).await.response().clone()),
        "compliant"
    );
    assert_eq!(
        world.inbox.drain().await.len(),
        1,
        "one message for two deliveries"
    );

    let volume_tags = {
        let mut e = create_tags_event(&world, "vol-0123456789abcdef0", "env", "x");
        e["detail"]["eventName"] = json!("CreateTags");
        e
    };
    for payload in [
        volume_tags,
        event("open-security-group/config-restricted-ssh.json", &[]),
        event("s3-public-access/put-bucket-acl-allusers-read.json", &[]),
        json!({"hello": "world"}),
    ] {
        let response = function.invoke(&payload).await.response().clone();
        assert_eq!(response["status"], "ignored", "{response}");
        assert!(!response["results"][0]["reason"]
            .as_str()
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn a_bad_required_tags_setting_stops_the_process_before_the_first_invocation() {
    let world = World::new().await;
    for value in ["env=", "Name,Name"] {
        let mut function = world.function(&[("REQUIRED_TAGS", value)]).await;
        let status = function
            .wait_exit(Duration::from_secs(10))
            .await
            .expect("the process ends");
        assert!(!status.success());
        assert!(function.init_duration().is_none());
        let logs = function.logs().join("\n");
        assert!(logs.contains("REQUIRED_TAGS"), "{logs}");
    }
}

/// Stop protection (moto does not model `DisableApiStop`, so the rig answers `StopInstances` as EC2
/// does): the instance keeps running, and the message says how to turn the protection off.
#[tokio::test]
async fn a_stop_protected_instance_is_failed_with_what_a_person_can_do() {
    let world = World::new().await;
    let protected = world.launch(NO_ENV).await;
    world.moto.server().inject_faults(json!([{
        "operation": "StopInstances", "times": -1, "status": 400, "code": "OperationNotPermitted",
        "message": "The instance may not be stopped. Modify its 'disableApiStop' instance attribute and try again."
    }]));
    let mut function = world.function(&[]).await;
    let response = function
        .invoke(&world.event("instance-running.json", &protected))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&response), "failed", "{response}");
    assert_eq!(world.state(&protected).await, "running");
    let notes = world.inbox.drain().await;
    assert_eq!(notes.len(), 1);
    let reason = notes[0].document["reason"].as_str().unwrap();
    assert!(
        reason.contains("stop protection is on")
            && reason.contains(&format!("--instance-id {protected} --no-disable-api-stop")),
        "{reason}"
    );
}

/// Capacity another service launches and replaces (their system tags: EC2 Fleet, Spot Fleet, an EKS
/// node group, Karpenter, EMR, a Kubernetes cluster) keeps running, each named in its message; the
/// negative twin, an ordinary instance with the same missing tag, is stopped by the same sweep.
#[tokio::test]
async fn capacity_other_services_replace_keeps_running_naming_its_manager() {
    let world = World::new().await;
    let managed: Vec<(&[(&str, &str)], &str)> = vec![
        (
            &[("aws:ec2:fleet-id", "fleet-5d2f")],
            "EC2 Fleet fleet-5d2f",
        ),
        (
            &[("aws:ec2spot:fleet-request-id", "sfr-77aa")],
            "Spot Fleet sfr-77aa",
        ),
        (
            &[
                ("aws:autoscaling:groupName", "eks-ng-web"),
                ("eks:nodegroup-name", "web"),
            ],
            "EKS node group web",
        ),
        (
            &[("karpenter.sh/nodepool", "default")],
            "Karpenter node pool default",
        ),
        (
            &[("aws:elasticmapreduce:job-flow-id", "j-3KXXXXXX")],
            "EMR cluster j-3KXXXXXX",
        ),
        (
            &[("kubernetes.io/cluster/prod", "owned")],
            "Kubernetes cluster prod",
        ),
    ];
    let mut ids = Vec::new();
    for (tags, _) in &managed {
        let mut all = NO_ENV.to_vec();
        all.extend_from_slice(tags);
        ids.push(world.launch(&all).await);
    }
    let ordinary = world.launch(NO_ENV).await;

    let mut function = world.function(&[]).await;
    let response = function
        .invoke(&world.event("scheduled-sweep.json", "-"))
        .await
        .response()
        .clone();
    assert_eq!(response["summary"]["skipped"], managed.len(), "{response}");
    assert_eq!(response["summary"]["remediated"], 1, "{response}");
    assert!(is_stopped(&world.state(&ordinary).await));
    // A sweep reports skipped instances in its response (their own events were notified).
    let results = response["results"].as_array().unwrap();
    for (id, (_, named)) in ids.iter().zip(&managed) {
        assert_eq!(world.state(id).await, "running", "{named}");
        let result = results
            .iter()
            .find(|r| r["resource_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no result for {named}: {response}"));
        let reason = result["reason"].as_str().unwrap();
        assert_eq!(result["outcome"], "skipped");
        assert!(
            reason.contains(&format!("{named} would replace it")),
            "{reason}"
        );
    }
    // The event of one of them is notified, naming its manager.
    let first = &ids[0];
    function
        .invoke(&world.event("instance-running.json", first))
        .await;
    let notes = world.inbox.drain().await;
    let note = notes
        .iter()
        .find(|n| n.document["resource_id"] == first.as_str())
        .expect("a message about the fleet instance");
    assert!(note.document["reason"].as_str().unwrap().contains(
        "EC2 Fleet fleet-5d2f would replace it: fix the tags in the fleet's launch template"
    ));
}

/// An instance launched with hibernation enabled is hibernated (StopInstances with `Hibernate=true`;
/// moto accepts the flag without modelling it, so the rig's request log shows what was sent), and its
/// negative twin, launched without, is stopped without the flag.
#[tokio::test]
async fn an_instance_launched_for_hibernation_is_hibernated_not_stopped() {
    let world = World::new().await;
    let hibernating = launch_hibernating(&world.aws.ec2, NO_ENV).await;
    let ordinary = world.launch(NO_ENV).await;
    let server = world.moto.server();
    server.start_recording();

    let mut function = world.function(&[]).await;
    let response = function
        .invoke(&world.event("scheduled-sweep.json", "-"))
        .await
        .response()
        .clone();
    assert_eq!(response["summary"]["remediated"], 2, "{response}");
    let stops: Vec<Vec<(String, String)>> = server
        .recorded_requests()
        .into_iter()
        .filter(|(operation, _)| operation == "StopInstances")
        .map(|(_, params)| params)
        .collect();
    let sent_for = |id: &str| {
        stops
            .iter()
            .find(|params| params.iter().any(|(_, v)| v == id))
            .cloned()
            .unwrap_or_default()
    };
    let hibernate = |params: &[(String, String)]| {
        params
            .iter()
            .find(|(k, _)| k == "Hibernate")
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        hibernate(&sent_for(&hibernating)).as_deref(),
        Some("true"),
        "{stops:?}"
    );
    assert_eq!(hibernate(&sent_for(&ordinary)), None, "{stops:?}");
    assert!(is_stopped(&world.state(&hibernating).await));

    let notes = world.inbox.drain().await;
    let change_of = |id: &str| {
        notes
            .iter()
            .find(|n| n.document["resource_id"] == id)
            .map(|n| n.document["changes"][0].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert!(
        change_of(&hibernating).starts_with("hibernated"),
        "{notes:?}"
    );
    assert_eq!(change_of(&ordinary), "stopped");
}

/// An instance's exemption ends on its `until=` day: after it the instance is stopped like any other,
/// and the message says whose exemption ended; before it, it keeps running.
#[tokio::test]
async fn an_instance_exemption_ends_on_its_date() {
    let world = World::new().await;
    let mut ended_tags = NO_ENV.to_vec();
    ended_tags.push(("remediation:exempt", "until=2021-06-30 by=ops load test"));
    let ended = world.launch(&ended_tags).await;
    let mut holding_tags = NO_ENV.to_vec();
    holding_tags.push(("remediation:exempt", "until=2099-06-30 by=ops load test"));
    let holding = world.launch(&holding_tags).await;

    let mut function = world.function(&[]).await;
    for id in [&ended, &holding] {
        function
            .invoke(&world.event("instance-running.json", id))
            .await;
    }
    assert!(is_stopped(&world.state(&ended).await));
    assert_eq!(world.state(&holding).await, "running");
    let notes = world.inbox.drain().await;
    let reason_of = |id: &str| {
        notes
            .iter()
            .find(|n| n.document["resource_id"] == id)
            .map(|n| n.document["reason"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert!(
        reason_of(&ended).contains("the instance's exemption (tag remediation:exempt: until 2021-06-30, set by ops, load test) ended"),
        "{}",
        reason_of(&ended)
    );
    assert!(
        reason_of(&holding).contains("the instance is exempt (tag remediation:exempt: until 2099-06-30, set by ops, load test)"),
        "{}",
        reason_of(&holding)
    );
}
