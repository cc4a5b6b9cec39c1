//! End to end: the weekly exemption report. Each remediation, on the report's schedule, sends one
//! message listing the region's resources of its kind that carry the exemption tag, and fixes nothing.

use remediation_tests::ec2::{self as sg, ingress, open};
use remediation_tests::s3 as s3state;
use remediation_tests::{event, unique, Account};
use serde_json::{json, Value};

const EXEMPT: &str = "remediation:exempt";

#[tokio::test]
async fn each_remediation_reports_its_exempt_resources_and_fixes_nothing() {
    let account = Account::new().await;
    let (s3, ec2) = (&account.aws.s3, &account.aws.ec2);
    let kept_bucket = unique("kept");
    s3state::create_public_bucket(s3, &kept_bucket).await;
    s3state::tag_bucket(
        s3,
        &kept_bucket,
        EXEMPT,
        "until=2099-01-31 since=2026-11-01 by=jdoe website",
    )
    .await;
    s3state::create_public_bucket(s3, &unique("plain")).await;
    let ended_group = sg::create_group(ec2, &unique("ended")).await;
    sg::tag_group(
        ec2,
        &ended_group,
        EXEMPT,
        "until=2026-01-31 by=ops load test",
    )
    .await;
    let open_group = sg::create_group(ec2, &unique("open")).await;
    open(ec2, &open_group, "tcp", 22, 22, "0.0.0.0/0").await;
    let forever = sg::launch_one(ec2, &[(EXEMPT, "lab")]).await;
    let untagged = sg::launch_one(ec2, &[]).await;

    let mut reports = Vec::new();
    for function in [
        "s3-public-access",
        "open-security-group",
        "untagged-instance",
    ] {
        let mut process = account.function(function, &[]).await;
        let invocation = process
            .invoke(&event(&format!("{function}/exemption-report.json"), &[]))
            .await;
        let response = invocation.response();
        assert_eq!(
            response["results"][0]["outcome"], "reported",
            "{function}: {response}"
        );
        let notes = account.inbox.drain().await;
        assert_eq!(notes.len(), 1, "{function}: one report");
        assert!(
            notes[0]
                .subject
                .starts_with("[report] exemptions in us-east-1"),
            "{}",
            notes[0].subject
        );
        assert_eq!(notes[0].attributes["outcome"]["Value"], "report");
        reports.push(notes[0].document["exemptions"].clone());
    }
    let only = |report: &Value| -> Value {
        let entries = report.as_array().unwrap();
        assert_eq!(entries.len(), 1, "only the exempt resource: {report}");
        entries[0].clone()
    };
    let bucket = only(&reports[0]);
    assert_eq!(bucket["resource_id"], kept_bucket.as_str());
    assert_eq!(
        (bucket["status"].clone(), bucket["by"].clone()),
        (json!("active"), json!("jdoe"))
    );
    assert!(bucket["age_days"].as_i64().unwrap() >= 30, "{bucket}");
    let group = only(&reports[1]);
    assert_eq!(group["resource_id"], ended_group.as_str());
    assert_eq!(group["status"], "ended");
    let instance = only(&reports[2]);
    assert_eq!(instance["resource_id"], forever.as_str());
    assert_eq!(
        (instance["status"].clone(), instance["reason"].clone()),
        (json!("no-end"), json!("lab"))
    );

    // A report is not a sweep: what is wrong stays for the sweep and the events.
    assert_eq!(ingress(ec2, &open_group).await, ["tcp 22-22 0.0.0.0/0"]);
    assert_eq!(sg::instance_state(ec2, &untagged).await, "running");
    assert!(s3state::bucket_grants(s3, &kept_bucket)
        .await
        .contains(&"uri:AllUsers READ".to_string()));
}
