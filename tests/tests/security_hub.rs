//! End to end: Security Hub findings through the real function binaries under the Runtime API
//! emulator, resources in moto, `BatchUpdateFindings` in a recording stub (moto has none).

use remediation_tests::ec2;
use remediation_tests::organization::{member, MEMBER_ROLE};
use remediation_tests::s3::{self as s3state};
use remediation_tests::security_hub_stub::{Fault, SecurityHubStub};
use remediation_tests::{event, unique, Account, FunctionError, FunctionProcess};
use serde_json::{json, Value};

const S3: &str = "s3-public-access";
const SAMPLE_BUCKET: &str = "example-public-bucket";
const SAMPLE_GROUP: &str = "sg-0a1b2c3d4e5f60718";
const SAMPLE_INSTANCE: &str = "i-0a1b2c3d4e5f60718";

struct World {
    account: Account,
    hub: SecurityHubStub,
}

impl World {
    async fn new() -> World {
        World {
            account: Account::new().await,
            hub: SecurityHubStub::start().await,
        }
    }

    async fn function(&self, name: &str, settings: &[(&str, &str)]) -> FunctionProcess {
        let mut all = vec![("AWS_ENDPOINT_URL_SECURITYHUB", self.hub.endpoint.as_str())];
        all.extend_from_slice(settings);
        self.account.function(name, &all).await
    }

    async fn public_bucket(&self) -> String {
        let bucket = unique("hub");
        s3state::create_public_bucket(&self.account.aws.s3, &bucket).await;
        bucket
    }

    async fn is_public(&self, bucket: &str) -> bool {
        s3state::bucket_grants(&self.account.aws.s3, bucket)
            .await
            .iter()
            .any(|g| g.starts_with("uri:"))
    }
}

fn s3_finding(file: &str, bucket: &str) -> Value {
    event(&format!("{S3}/{file}"), &[(SAMPLE_BUCKET, bucket)])
}

fn finding_id(event: &Value) -> String {
    event["detail"]["findings"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn outcome(response: &Value) -> &str {
    response["results"][0]["outcome"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_failed_control_is_fixed_and_its_finding_resolved_with_what_changed() {
    let world = World::new().await;
    let bucket = world.public_bucket().await;
    let mut function = world.function(S3, &[]).await;
    let finding = s3_finding("securityhub-s3-2-failed.json", &bucket);

    let response = function.invoke(&finding).await.response().clone();
    assert_eq!(outcome(&response), "remediated", "{response}");
    assert!(
        !world.is_public(&bucket).await,
        "the public grants are gone"
    );

    let updates = world.hub.updates();
    assert_eq!(updates.len(), 1, "{updates:?}");
    let update = &updates[0];
    assert_eq!(
        update["FindingIdentifiers"],
        json!([{"Id": finding_id(&finding), "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/securityhub"}])
    );
    assert_eq!(update["Workflow"]["Status"], "RESOLVED");
    assert_eq!(update["Note"]["UpdatedBy"], S3);
    let note = update["Note"]["Text"].as_str().unwrap();
    assert!(
        note.starts_with("s3-public-access: fixed S3 bucket"),
        "{note}"
    );
    assert!(note.contains("removed AllUsers READ"), "{note}");

    let notes = world.account.inbox.drain().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let trigger = &notes[0].document["trigger"];
    assert_eq!(trigger["source"], "securityhub");
    assert_eq!(trigger["event_id"], finding_id(&finding));
    assert!(trigger.get("requested_by").is_none(), "{trigger}");

    // The same finding again (Security Hub's next import before its check ran): nothing to fix, no
    // message, and the finding is resolved again.
    let again = function.invoke(&finding).await.response().clone();
    assert_eq!(outcome(&again), "compliant", "{again}");
    assert!(world.account.inbox.drain().await.is_empty());
    let updates = world.hub.updates();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1]["Workflow"]["Status"], "RESOLVED");
    assert!(updates[1]["Note"]["Text"]
        .as_str()
        .unwrap()
        .contains("re-read S3 bucket"));
}

#[tokio::test]
async fn a_dry_run_proposes_and_a_custom_action_is_a_persons_approval() {
    let world = World::new().await;
    let bucket = world.public_bucket().await;
    let mut function = world.function(S3, &[("DRY_RUN", "true")]).await;

    let proposed = function
        .invoke(&s3_finding("securityhub-s3-2-failed.json", &bucket))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&proposed), "dry-run", "{proposed}");
    assert!(world.is_public(&bucket).await, "a dry run changes nothing");
    let updates = world.hub.updates();
    assert_eq!(updates[0]["Workflow"]["Status"], "NOTIFIED");
    assert!(
        updates[0]["Note"]["Text"]
            .as_str()
            .unwrap()
            .contains("dry run"),
        "{}",
        updates[0]
    );
    let notes = world.account.inbox.drain().await;
    assert_eq!(notes[0].document["outcome"], "dry-run");

    let action = s3_finding("securityhub-s3-2-custom-action.json", &bucket);
    let approved = function.invoke(&action).await.response().clone();
    assert_eq!(
        outcome(&approved),
        "remediated",
        "DRY_RUN does not hold back a person's request: {approved}"
    );
    assert!(!world.is_public(&bucket).await);
    let notes = world.account.inbox.drain().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let requested_by = notes[0].document["trigger"]["requested_by"]
        .as_str()
        .unwrap();
    assert!(requested_by.contains("\"Remediate now\""), "{requested_by}");
    assert!(
        requested_by.contains("action/custom/RemediateNow"),
        "{requested_by}"
    );
    let update = &world.hub.updates()[1];
    assert_eq!(update["Workflow"]["Status"], "RESOLVED");
    assert!(
        update["Note"]["Text"]
            .as_str()
            .unwrap()
            .contains("custom action \"Remediate now\""),
        "{update}"
    );

    // An S3 event in the same dry-run deployment still only proposes: the approval was for that finding.
    let twin = world.public_bucket().await;
    let imported = function
        .invoke(&s3_finding("securityhub-s3-2-failed.json", &twin))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&imported), "dry-run");
    assert!(world.is_public(&twin).await);
}

#[tokio::test]
async fn suppressed_findings_and_the_functions_own_update_are_left_alone() {
    let world = World::new().await;
    let bucket = world.public_bucket().await;
    let mut function = world.function(S3, &[]).await;

    let suppressed = function
        .invoke(&s3_finding(
            "ignored-securityhub-s3-2-suppressed.json",
            &bucket,
        ))
        .await
        .response()
        .clone();
    assert_eq!(outcome(&suppressed), "ignored");
    assert!(suppressed["results"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("SUPPRESSED"));

    // Every BatchUpdateFindings comes back as an Imported event, its note newer than the finding.
    let mut echo = s3_finding("securityhub-s3-2-failed.json", &bucket);
    echo["detail"]["findings"][0]["Workflow"]["Status"] = json!("NOTIFIED");
    echo["detail"]["findings"][0]["Note"] = json!({"Text": "s3-public-access: dry run", "UpdatedBy": S3, "UpdatedAt": "2026-12-01T14:33:00.000Z"});
    let answer = function.invoke(&echo).await.response().clone();
    assert_eq!(outcome(&answer), "ignored", "{answer}");
    assert!(answer["results"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("own update"));

    assert!(world.is_public(&bucket).await, "untouched");
    assert!(world.hub.updates().is_empty());
    assert!(world.account.inbox.drain().await.is_empty());

    // Security Hub checked again later and the bucket is still public: that is news.
    echo["detail"]["findings"][0]["UpdatedAt"] = json!("2026-12-02T02:00:00.000Z");
    let recheck = function.invoke(&echo).await.response().clone();
    assert_eq!(outcome(&recheck), "remediated", "{recheck}");
}

#[tokio::test]
async fn a_group_finding_narrows_the_group_and_a_control_the_settings_cannot_vouch_for_stays_open()
{
    let world = World::new().await;
    let ec2_client = &world.account.aws.ec2;
    let group = ec2::create_group(ec2_client, &unique("hub")).await;
    ec2::open(ec2_client, &group, "tcp", 22, 22, "0.0.0.0/0").await;
    ec2::open(ec2_client, &group, "tcp", 22, 22, "203.0.113.0/24").await;
    let finding = event(
        "open-security-group/securityhub-ec2-19-failed.json",
        &[(SAMPLE_GROUP, &group)],
    );
    let mut function = world.function("open-security-group", &[]).await;
    let response = function.invoke(&finding).await.response().clone();
    assert_eq!(outcome(&response), "remediated", "{response}");
    let ingress = ec2::ingress(ec2_client, &group).await;
    assert!(
        !ingress.iter().any(|r| r.contains("0.0.0.0/0")),
        "{ingress:?}"
    );
    assert!(
        ingress.iter().any(|r| r.contains("203.0.113.0/24")),
        "the partner keeps SSH: {ingress:?}"
    );
    assert_eq!(world.hub.updates()[0]["Workflow"]["Status"], "RESOLVED");

    // MySQL open to the world, and the settings allow 3306: compliant by this rule, yet EC2.19 fails
    // on 3306. Untouched, nobody told, and the finding left open as it is.
    let allowed = world.account.aws.ec2.clone();
    let mysql = ec2::create_group(&allowed, &unique("hub")).await;
    ec2::open(&allowed, &mysql, "tcp", 3306, 3306, "0.0.0.0/0").await;
    let mut lenient = world
        .function(
            "open-security-group",
            &[("ALLOWED_PUBLIC_PORTS", "80,443,3306")],
        )
        .await;
    let finding = event(
        "open-security-group/securityhub-ec2-19-failed.json",
        &[(SAMPLE_GROUP, &mysql)],
    );
    let response = lenient.invoke(&finding).await.response().clone();
    assert_eq!(outcome(&response), "compliant", "{response}");
    assert!(ec2::ingress(&allowed, &mysql)
        .await
        .iter()
        .any(|r| r.contains("0.0.0.0/0")));
    assert_eq!(
        world.hub.updates().len(),
        1,
        "the finding is left open as it is: {:?}",
        world.hub.updates()
    );
    let notes = world.account.inbox.drain().await;
    assert_eq!(
        notes.len(),
        1,
        "only the first group's fix is told: {notes:?}"
    );
}

#[tokio::test]
async fn an_instance_finding_stops_the_untagged_instance_but_stopping_does_not_resolve_it() {
    let world = World::new().await;
    let untagged = ec2::launch_one(&world.account.aws.ec2, &[]).await;
    let finding = event(
        "untagged-instance/securityhub-ec2-8-failed-consolidated.json",
        &[(SAMPLE_INSTANCE, &untagged)],
    );
    let mut function = world.function("untagged-instance", &[]).await;
    let response = function.invoke(&finding).await.response().clone();
    assert_eq!(outcome(&response), "remediated", "{response}");
    let state = ec2::instance_state(&world.account.aws.ec2, &untagged).await;
    assert!(state == "stopping" || state == "stopped", "{state}");
    let update = &world.hub.updates()[0];
    assert_eq!(
        update["Workflow"]["Status"], "NOTIFIED",
        "a stopped instance is still untagged: {update}"
    );
}

#[tokio::test]
async fn findings_security_hub_could_not_update_are_sent_again_and_an_outage_is_retried_by_lambda()
{
    let world = World::new().await;
    let bucket = world.public_bucket().await;
    let mut function = world.function(S3, &[]).await;
    let finding = s3_finding("securityhub-s3-2-failed.json", &bucket);

    // A concurrent update: the finding is sent again in the same invocation.
    world
        .hub
        .fail_next(&[Fault::Unprocessed("ConcurrentUpdateError")]);
    let response = function.invoke(&finding).await.response().clone();
    assert_eq!(outcome(&response), "remediated");
    let updates = world.hub.updates();
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(
        SecurityHubStub::updated_ids(&updates[1]),
        vec![finding_id(&finding)]
    );

    // A finding Security Hub no longer has: a retry cannot help, the invocation succeeds.
    let other = world.public_bucket().await;
    world
        .hub
        .fail_next(&[Fault::Unprocessed("FindingNotFound")]);
    let gone = function
        .invoke(&s3_finding("securityhub-s3-2-failed.json", &other))
        .await;
    assert_eq!(outcome(gone.response()), "remediated");
    assert_eq!(world.hub.updates().len(), 3, "not sent again");

    // Security Hub down (every attempt of the SDK's retries): the fix stands, told, and the
    // invocation fails so that Lambda retries; the retry finds the bucket fixed and resolves it.
    let third = world.public_bucket().await;
    let event = s3_finding("securityhub-s3-2-failed.json", &third);
    world.hub.fail_next(&[
        Fault::Error(503, "ServiceUnavailableException"),
        Fault::Error(503, "ServiceUnavailableException"),
    ]);
    let failed = function.invoke(&event).await;
    match &failed.result {
        Err(FunctionError::Reported { body, .. }) => {
            assert!(body.to_string().contains("BatchUpdateFindings"), "{body}")
        }
        other => panic!("expected a reported error, got {other:?}"),
    }
    assert!(!world.is_public(&third).await, "the fix stands");
    let retried = function.invoke(&event).await.response().clone();
    assert_eq!(outcome(&retried), "compliant");
    let last = world.hub.updates().pop().unwrap();
    assert_eq!(last["Workflow"]["Status"], "RESOLVED");
    assert_eq!(
        SecurityHubStub::updated_ids(&last),
        vec![finding_id(&event)]
    );
}

/// Organization mode: the central account is Security Hub's administrator and receives a member's
/// finding. The bucket is fixed in the member account through
/// the member role; the finding is updated in the administrator's own Security Hub, with its own
/// credentials (an administrator may update its members' findings).
#[tokio::test]
async fn a_members_finding_is_fixed_in_the_member_account_and_updated_by_the_administrator() {
    const ALPHA: &str = "111111111111";
    const ALPHA_REGION: &str = remediation_tests::REGION;
    let world = World::new().await;
    let alpha = member(&world.account.moto.endpoint(), ALPHA, ALPHA_REGION).await;
    let bucket = unique("alpha-hub");
    s3state::create_public_bucket(&alpha.s3, &bucket).await;
    let mut finding = s3_finding("securityhub-s3-2-failed.json", &bucket);
    finding["detail"]["findings"][0]["AwsAccountId"] = json!(ALPHA);
    finding["detail"]["findings"][0]["Region"] = json!(ALPHA_REGION);

    let mut function = world
        .function(S3, &[("MEMBER_ROLE_NAME", MEMBER_ROLE)])
        .await;
    let response = function.invoke(&finding).await.response().clone();
    assert_eq!(outcome(&response), "remediated", "{response}");
    let grants = s3state::bucket_grants(&alpha.s3, &bucket).await;
    assert!(!grants.iter().any(|g| g.starts_with("uri:")), "{grants:?}");
    let notes = world.account.inbox.drain().await;
    assert_eq!(notes[0].document["account"], ALPHA);
    assert_eq!(notes[0].document["region"], ALPHA_REGION);

    let updates = world.hub.updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["Workflow"]["Status"], "RESOLVED");
    assert_eq!(
        world.hub.signers(),
        vec!["testing"],
        "signed with the administrator's own credentials, not the member role's"
    );

    // The same finding without a member role: another account's resource is not this deployment's.
    let mut single = world.function(S3, &[]).await;
    let ignored = single.invoke(&finding).await.response().clone();
    assert_eq!(outcome(&ignored), "ignored", "{ignored}");
    assert_eq!(world.hub.updates().len(), 1, "nothing claimed for it");
}
