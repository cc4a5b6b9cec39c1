use super::*;
use crate::security_group::{IngressRule, RuleSource};
use crate::test_support::mocked_client;
use aws_sdk_config::operation::put_evaluations::PutEvaluationsOutput;
use aws_sdk_config::types::{ComplianceType, Evaluation as SdkEvaluation};
use aws_smithy_mocks::{mock, Rule};
use aws_smithy_types::date_time::Format;
use serde_json::json;
use std::sync::{Arc, Mutex};
use time::format_description::well_known::Rfc3339;

const SG: &str = "sg-0a1b2c3d4e5f60718";
const INSTANCE_ID: &str = "i-0a1b2c3d4e5f60718";
const BUCKET_NAME: &str = "example-public-bucket";

fn now() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-29T12:00:00Z", &Rfc3339).unwrap()
}

fn sample(name: &str) -> Value {
    crate::test_support::sample_payload(&format!("config-rule/{name}"))
}

fn invoking_event(payload: &Value) -> Value {
    serde_json::from_str(payload["invokingEvent"].as_str().unwrap()).unwrap()
}

fn item(name: &str) -> Value {
    invoking_event(&sample(name))["configurationItem"].clone()
}

/// A sample with its configuration item changed by `edit`.
fn sample_with(name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut payload = sample(name);
    let mut event = invoking_event(&payload);
    edit(&mut event);
    payload["invokingEvent"] = Value::String(event.to_string());
    payload
}

/// The function's response as Lambda returns it.
fn json_response(report: RuleReport) -> Value {
    serde_json::to_value(report).unwrap()
}

fn scope() -> RuleScope {
    rule_scope(&Settings::default(), &json!({})).unwrap()
}

// --- rule parameters ---

#[test]
fn parameters_override_the_settings_and_unknown_keys_are_ignored() {
    let scope = rule_scope(
        &Settings::default(),
        &json!({"allowedPublicPorts": "443, 8000-8080", "requiredTags": "Owner", "exemptTag": "keep",
                "resourceTypes": "AWS::EC2::Instance,AWS::S3::Bucket", "myParameterKey": "x"}),
    )
    .unwrap();
    assert_eq!(
        scope.settings.allowed_public_ports.to_string(),
        "443,8000-8080"
    );
    assert_eq!(scope.settings.required_tags[0].key, "Owner");
    assert_eq!(scope.settings.exempt_tag, "keep");
    assert_eq!(scope.resource_types, [INSTANCE, BUCKET]);
    let all = rule_scope(
        &Settings::default(),
        &json!({"myParameterKey": "myParameterValue"}),
    )
    .unwrap();
    assert_eq!(all.resource_types, DEFAULT_RESOURCE_TYPES);
    assert_eq!(all.settings, Settings::default());
    let empty_ports = rule_scope(&Settings::default(), &json!({"allowedPublicPorts": ""})).unwrap();
    assert!(empty_ports
        .settings
        .allowed_public_ports
        .ranges()
        .is_empty());
}

#[test]
fn a_bad_parameter_is_an_error_naming_it() {
    for (name, value) in [
        ("allowedPublicPorts", "ssh"),
        ("requiredTags", "env="),
        ("resourceTypes", "AWS::RDS::DBInstance"),
        ("exemptTag", " "),
    ] {
        let err = rule_scope(&Settings::default(), &json!({ name: value })).unwrap_err();
        assert_eq!(err.name, name);
        assert!(
            err.to_string()
                .starts_with(&format!("invalid rule parameter {name}=")),
            "{err}"
        );
    }
}

// --- items, one per resource type ---

#[test]
fn a_security_group_item_is_judged_like_the_remediation_would() {
    let evaluation = evaluate_item(
        &item("configuration-item-change-security-group.json"),
        &scope(),
        now(),
    )
    .unwrap();
    assert_eq!(
        evaluation,
        Evaluation {
            resource_type: SECURITY_GROUP.into(),
            resource_id: SG.into(),
            compliance: Compliance::NonCompliant,
            annotation: "tcp 22 open to 0.0.0.0/0 (allowed public ports: 80,443)".into(),
            ordering_timestamp: "2026-03-14T10:02:55.300Z".into(),
        }
    );
    let ssh_allowed = rule_scope(
        &Settings::default(),
        &json!({"allowedPublicPorts": "22,80,443"}),
    )
    .unwrap();
    let evaluation = evaluate_item(
        &item("configuration-item-change-security-group.json"),
        &ssh_allowed,
        now(),
    )
    .unwrap();
    assert_eq!(evaluation.compliance, Compliance::Compliant);
    // 5432 from another group stays fine whatever the allowed ports are.
    let nothing_allowed =
        rule_scope(&Settings::default(), &json!({"allowedPublicPorts": ""})).unwrap();
    let evaluation = evaluate_item(
        &item("configuration-item-change-security-group.json"),
        &nothing_allowed,
        now(),
    )
    .unwrap();
    assert_eq!(
        evaluation.annotation,
        "tcp 22 open to 0.0.0.0/0; tcp 443 open to 0.0.0.0/0; tcp 443 open to ::/0 (allowed public ports: none)"
    );
}

#[test]
fn legacy_ip_ranges_and_exemptions() {
    let mut group = item("configuration-item-change-security-group.json");
    for permission in group["configuration"]["ipPermissions"]
        .as_array_mut()
        .unwrap()
    {
        permission.as_object_mut().unwrap().remove("ipv4Ranges");
    }
    let evaluation = evaluate_item(&group, &scope(), now()).unwrap();
    assert_eq!(
        evaluation.compliance,
        Compliance::NonCompliant,
        "read from ipRanges strings"
    );
    group["tags"] = json!({"remediation:exempt": "bastion"});
    let evaluation = evaluate_item(&group, &scope(), now()).unwrap();
    assert_eq!(evaluation.compliance, Compliance::Compliant);
    assert_eq!(
        evaluation.annotation,
        "exempt (tag remediation:exempt: bastion): tcp 22 open to 0.0.0.0/0 (allowed public ports: 80,443)"
    );
}

#[test]
fn a_bucket_item_is_judged_from_its_acl() {
    let bucket = item("configuration-item-change-s3-bucket.json");
    let evaluation = evaluate_item(&bucket, &scope(), now()).unwrap();
    assert_eq!(evaluation.resource_id, BUCKET_NAME);
    assert_eq!(evaluation.compliance, Compliance::NonCompliant);
    assert_eq!(
        evaluation.annotation,
        "the bucket ACL granted READ to AllUsers (anyone on the internet)"
    );
    let mut private = bucket.clone();
    let mut acl: Value = serde_json::from_str(
        private["supplementaryConfiguration"]["AccessControlList"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    acl["grantList"][1] = json!({"grantee": "LogDelivery", "permission": "Write"});
    private["supplementaryConfiguration"]["AccessControlList"] = Value::String(acl.to_string());
    assert_eq!(
        evaluate_item(&private, &scope(), now()).unwrap().compliance,
        Compliance::Compliant
    );
    acl["grantList"][1] = json!({"grantee": "AuthenticatedUsers", "permission": "WriteAcp"});
    private["supplementaryConfiguration"]["AccessControlList"] = Value::String(acl.to_string());
    assert_eq!(
        evaluate_item(&private, &scope(), now()).unwrap().annotation,
        "the bucket ACL granted WRITE_ACP to AuthenticatedUsers (any AWS account)"
    );
}

#[test]
fn a_bucket_item_is_judged_by_its_policy_too() {
    let mut bucket = item("configuration-item-change-s3-bucket.json");
    let mut acl: Value = serde_json::from_str(
        bucket["supplementaryConfiguration"]["AccessControlList"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    acl["grantList"].as_array_mut().unwrap().truncate(1);
    bucket["supplementaryConfiguration"]["AccessControlList"] = Value::String(acl.to_string());
    let public = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;
    bucket["supplementaryConfiguration"]["BucketPolicy"] = json!({ "policyText": public });
    let evaluation = evaluate_item(&bucket, &scope(), now()).unwrap();
    assert_eq!(evaluation.compliance, Compliance::NonCompliant);
    assert!(
        evaluation.annotation.contains("\"PublicRead\""),
        "{}",
        evaluation.annotation
    );

    // Cut off by the bucket's RestrictPublicBuckets, or fixed to one VPC endpoint: fine.
    let mut restricted = bucket.clone();
    restricted["supplementaryConfiguration"]["PublicAccessBlockConfiguration"]
        ["restrictPublicBuckets"] = json!(true);
    assert_eq!(
        evaluate_item(&restricted, &scope(), now())
            .unwrap()
            .compliance,
        Compliance::Compliant
    );
    let vpce = public.replace(
        r#""Resource":"*""#,
        r#""Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}"#,
    );
    bucket["supplementaryConfiguration"]["BucketPolicy"] = json!({ "policyText": vpce });
    assert_eq!(
        evaluate_item(&bucket, &scope(), now()).unwrap().compliance,
        Compliance::Compliant
    );
}

#[test]
fn the_account_settings_are_judged_only_under_always_and_only_when_asked_for() {
    let account = |configuration: Value| {
        json!({"resourceType": ACCOUNT_BLOCK, "resourceId": "123456789012", "configurationItemStatus": "OK",
               "configurationItemCaptureTime": "2026-03-14T10:02:55.300Z", "configuration": configuration})
    };
    let off = account(
        json!({"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": false, "restrictPublicBuckets": false}),
    );
    let on = account(
        json!({"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": true, "restrictPublicBuckets": true}),
    );
    assert!(
        !scope().resource_types.contains(&ACCOUNT_BLOCK),
        "opted into, not default"
    );
    let always = |mode| {
        let settings = Settings {
            block_public_access: mode,
            ..Settings::default()
        };
        rule_scope(&settings, &json!({"resourceTypes": ACCOUNT_BLOCK})).unwrap()
    };
    let strict = always(crate::config::BlockPublicAccessMode::Always);
    let evaluation = evaluate_item(&off, &strict, now()).unwrap();
    assert_eq!(evaluation.compliance, Compliance::NonCompliant);
    assert!(
        evaluation
            .annotation
            .contains("BlockPublicPolicy, RestrictPublicBuckets"),
        "{}",
        evaluation.annotation
    );
    assert_eq!(
        evaluate_item(&on, &strict, now()).unwrap().compliance,
        Compliance::Compliant
    );
    let lenient = always(crate::config::BlockPublicAccessMode::WhenExposed);
    assert_eq!(
        evaluate_item(&off, &lenient, now()).unwrap().compliance,
        Compliance::NotApplicable
    );
}

#[test]
fn an_instance_item_is_judged_from_its_tags_and_state() {
    let instance = item("configuration-item-change-instance.json");
    let evaluation = evaluate_item(&instance, &scope(), now()).unwrap();
    assert_eq!(evaluation.resource_id, INSTANCE_ID);
    assert_eq!(evaluation.compliance, Compliance::NonCompliant);
    assert_eq!(
        evaluation.annotation,
        "missing tag env (required: Name, env)"
    );

    let only_name = rule_scope(&Settings::default(), &json!({"requiredTags": "Name"})).unwrap();
    assert_eq!(
        evaluate_item(&instance, &only_name, now())
            .unwrap()
            .compliance,
        Compliance::Compliant
    );

    let mut stopped = instance.clone();
    stopped["configuration"]["state"] = json!({"code": 80, "name": "stopped"});
    let evaluation = evaluate_item(&stopped, &scope(), now()).unwrap();
    assert_eq!(evaluation.compliance, Compliance::NotApplicable);
    assert_eq!(evaluation.annotation, "instance is stopped");

    let mut scaled = instance;
    scaled["tags"]["aws:autoscaling:groupName"] = json!("web");
    let evaluation = evaluate_item(&scaled, &scope(), now()).unwrap();
    assert_eq!(evaluation.compliance, Compliance::NonCompliant);
    assert!(
        evaluation.annotation.contains("Auto Scaling group web"),
        "{}",
        evaluation.annotation
    );
}

#[test]
fn deleted_resources_and_types_out_of_scope_are_not_applicable() {
    let mut deleted = item("configuration-item-change-security-group.json");
    deleted["configurationItemStatus"] = json!("ResourceDeleted");
    let evaluation = evaluate_item(&deleted, &scope(), now()).unwrap();
    assert_eq!(evaluation.compliance, Compliance::NotApplicable);

    let buckets_only = rule_scope(&Settings::default(), &json!({"resourceTypes": BUCKET})).unwrap();
    let evaluation = evaluate_item(
        &item("configuration-item-change-instance.json"),
        &buckets_only,
        now(),
    )
    .unwrap();
    assert_eq!(evaluation.compliance, Compliance::NotApplicable);

    let mut volume = item("configuration-item-change-instance.json");
    volume["resourceType"] = json!("AWS::EC2::Volume");
    assert_eq!(
        evaluate_item(&volume, &scope(), now()).unwrap().compliance,
        Compliance::NotApplicable
    );
    assert!(evaluate_item(&json!({}), &scope(), now()).is_none());
}

#[test]
fn annotations_stay_within_256_characters() {
    assert_eq!(annotation("short"), "short");
    let exact = "x".repeat(256);
    assert_eq!(annotation(&exact), exact);
    let long = "é".repeat(300);
    let cut = annotation(&long);
    assert_eq!(cut.chars().count(), 256);
    assert!(cut.ends_with("..."));
    // Many open rules make a long annotation; it is cut, not rejected.
    let rules: Vec<IngressRule> = (1000..1100)
        .map(|p| IngressRule {
            rule_id: String::new(),
            protocol: "tcp".into(),
            from_port: p,
            to_port: p,
            source: RuleSource::Ipv4("0.0.0.0/0".into()),
            description: String::new(),
        })
        .collect();
    let (_, why) =
        security_group_verdict(&[], &rules, &Settings::default(), crate::exemption::today());
    let evaluation = Evaluation::new(SECURITY_GROUP, SG, (Compliance::NonCompliant, why), "");
    assert_eq!(evaluation.annotation.chars().count(), 256);
}

// --- PutEvaluations and the message types, against mocked Config ---

/// PutEvaluations answered with success; every request's evaluations are kept.
fn recording_put() -> (Rule, Arc<Mutex<Vec<Vec<SdkEvaluation>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let rule = mock!(aws_sdk_config::Client::put_evaluations)
        .match_requests(move |req| {
            assert_eq!(req.result_token(), Some(TOKEN));
            log.lock().unwrap().push(req.evaluations().to_vec());
            true
        })
        .then_output(|| PutEvaluationsOutput::builder().build());
    (rule, seen)
}

const TOKEN: &str = "eyJlbmNyeXB0ZWREYXRhIjpbNTAsLTQ5LC0xMCw4M10sIm1hdGVyaWFsU2V0U2VyaWFsTnVtYmVyIjoxLCJpdlBhcmFtZXRlclNwZWMiOnsiaXYiOls5OCwxNCwtMTAyXX19";

/// The rule with mocked Config; S3 and EC2 answer from `ec2_rules` / `s3_rules` (none: any call fails).
fn rule_with(config_rules: &[&Rule], ec2_rules: &[&Rule], s3_rules: &[&Rule]) -> ConfigRule {
    ConfigRule::from_clients(
        S3Actions::from_clients(
            mocked_client!(aws_sdk_s3, s3_rules),
            mocked_client!(aws_sdk_s3control, Vec::<&aws_smithy_mocks::Rule>::new()),
        ),
        SecurityGroupActions::from_client(mocked_client!(aws_sdk_ec2, ec2_rules)),
        InstanceActions::from_client(mocked_client!(aws_sdk_ec2, ec2_rules)),
        ConfigActions::from_client(mocked_client!(aws_sdk_config, config_rules)),
        Settings::default(),
    )
    .with_clock(now)
}

fn evaluations(n: usize) -> Vec<Evaluation> {
    (0..n)
        .map(|i| {
            Evaluation::new(
                INSTANCE,
                &format!("i-{i:05}"),
                (Compliance::Compliant, "fine".into()),
                "2026-03-14T10:02:55.300Z",
            )
        })
        .collect()
}

#[tokio::test]
async fn evaluations_go_out_a_hundred_per_call() {
    for (count, expected) in [
        (1, vec![1]),
        (100, vec![100]),
        (101, vec![100, 1]),
        (250, vec![100, 100, 50]),
    ] {
        let (put, seen) = recording_put();
        let rule = rule_with(&[&put], &[], &[]);
        rule.config
            .put_evaluations(TOKEN, &evaluations(count))
            .await
            .unwrap();
        let sizes: Vec<usize> = seen.lock().unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, expected, "{count} evaluations");
    }
}

#[tokio::test]
async fn failed_evaluations_are_sent_again_then_the_invocation_fails() {
    let failing = evaluations(1)
        .iter()
        .map(aws::sdk_evaluation)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let once = failing.clone();
    let put = mock!(aws_sdk_config::Client::put_evaluations)
        .sequence()
        .output(move || {
            PutEvaluationsOutput::builder()
                .set_failed_evaluations(Some(once.clone()))
                .build()
        })
        .output(|| PutEvaluationsOutput::builder().build())
        .build();
    let rule = rule_with(&[&put], &[], &[]);
    rule.config
        .put_evaluations(TOKEN, &evaluations(3))
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 2, "the failed one was sent again");

    let always = failing.clone();
    let put = mock!(aws_sdk_config::Client::put_evaluations).then_output(move || {
        PutEvaluationsOutput::builder()
            .set_failed_evaluations(Some(always.clone()))
            .build()
    });
    let rule = rule_with(&[&put], &[], &[]);
    let err = rule
        .config
        .put_evaluations(TOKEN, &evaluations(1))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Config kept rejecting 1 evaluation(s), e.g. i-00000"),
        "{err}"
    );
    assert_eq!(put.num_calls(), 3);
}

#[tokio::test]
async fn a_configuration_item_is_evaluated_without_reading_anything() {
    for (file, resource_type, id, timestamp) in [
        (
            "configuration-item-change-security-group.json",
            "AWS::EC2::SecurityGroup",
            SG,
            "2026-03-14T10:02:55.3Z",
        ),
        (
            "configuration-item-change-s3-bucket.json",
            "AWS::S3::Bucket",
            BUCKET_NAME,
            "2026-03-14T10:02:55.3Z",
        ),
        (
            "configuration-item-change-instance.json",
            "AWS::EC2::Instance",
            INSTANCE_ID,
            "2026-03-14T10:02:55.3Z",
        ),
    ] {
        let (put, seen) = recording_put();
        let rule = rule_with(&[&put], &[], &[]);
        let response = json_response(rule.handle(&sample(file)).await.unwrap());
        assert_eq!(
            response["results"][0]["summary"]["NON_COMPLIANT"], 1,
            "{file}: {response}"
        );
        let sent = seen.lock().unwrap();
        assert_eq!(sent.len(), 1);
        let evaluation = &sent[0][0];
        assert_eq!(evaluation.compliance_resource_type(), resource_type);
        assert_eq!(evaluation.compliance_resource_id(), id);
        assert_eq!(evaluation.compliance_type(), &ComplianceType::NonCompliant);
        assert_eq!(
            evaluation
                .ordering_timestamp()
                .fmt(Format::DateTime)
                .unwrap(),
            timestamp,
            "the item's capture time orders it"
        );
    }
}

#[tokio::test]
async fn a_resource_that_left_the_scope_is_not_applicable() {
    let (put, seen) = recording_put();
    let rule = rule_with(&[&put], &[], &[]);
    let mut payload = sample("configuration-item-change-security-group.json");
    payload["eventLeftScope"] = json!(true);
    rule.handle(&payload).await.unwrap();
    assert_eq!(
        seen.lock().unwrap()[0][0].compliance_type(),
        &ComplianceType::NotApplicable
    );

    let deleted = sample_with("configuration-item-change-instance.json", |event| {
        event["configurationItem"]["configurationItemStatus"] = json!("ResourceDeleted");
    });
    let (put, seen) = recording_put();
    rule_with(&[&put], &[], &[]).handle(&deleted).await.unwrap();
    assert_eq!(
        seen.lock().unwrap()[0][0].compliance_type(),
        &ComplianceType::NotApplicable
    );
}

#[tokio::test]
async fn an_oversized_item_is_read_from_ec2() {
    use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
    use aws_sdk_ec2::types::{
        Instance, InstanceState as Ec2State, InstanceStateName, Reservation, Tag,
    };
    let describe = mock!(aws_sdk_ec2::Client::describe_instances).then_output(|| {
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .instances(
                        Instance::builder()
                            .instance_id(INSTANCE_ID)
                            .state(Ec2State::builder().name(InstanceStateName::Running).build())
                            .tags(Tag::builder().key("Name").value("a").build())
                            .tags(Tag::builder().key("env").value("dev").build())
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let (put, seen) = recording_put();
    let rule = rule_with(&[&put], &[&describe], &[]);
    let response = json_response(
        rule.handle(&sample("oversized-configuration-item-change-instance.json"))
            .await
            .unwrap(),
    );
    assert_eq!(
        response["results"][0]["summary"]["COMPLIANT"], 1,
        "{response}"
    );
    assert_eq!(describe.num_calls(), 1);
    assert_eq!(
        seen.lock().unwrap()[0][0].compliance_resource_id(),
        INSTANCE_ID
    );

    // Gone by now: not applicable.
    let empty = mock!(aws_sdk_ec2::Client::describe_instances)
        .then_output(|| DescribeInstancesOutput::builder().build());
    let (put, seen) = recording_put();
    let rule = rule_with(&[&put], &[&empty], &[]);
    rule.handle(&sample("oversized-configuration-item-change-instance.json"))
        .await
        .unwrap();
    assert_eq!(
        seen.lock().unwrap()[0][0].compliance_type(),
        &ComplianceType::NotApplicable
    );
}

#[tokio::test]
async fn a_scheduled_run_evaluates_every_resource_of_its_types() {
    use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
    use aws_sdk_ec2::types::{Instance, InstanceState as Ec2State, InstanceStateName, Reservation};
    let instances: Vec<Instance> = (0..250)
        .map(|i| {
            Instance::builder()
                .instance_id(format!("i-{i:05}"))
                .state(Ec2State::builder().name(InstanceStateName::Running).build())
                .build()
        })
        .collect();
    let describe = mock!(aws_sdk_ec2::Client::describe_instances).then_output(move || {
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .set_instances(Some(instances.clone()))
                    .build(),
            )
            .build()
    });
    let (put, seen) = recording_put();
    let rule = rule_with(&[&put], &[&describe], &[]);
    let response = json_response(
        rule.handle(&sample("scheduled-notification-instance.json"))
            .await
            .unwrap(),
    );
    assert_eq!(
        response["results"][0]["summary"]["NON_COMPLIANT"], 250,
        "{}",
        response["results"][0]["summary"]
    );
    let sizes: Vec<usize> = seen.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let first = &seen.lock().unwrap()[0][0];
    assert_eq!(
        first.ordering_timestamp().fmt(Format::DateTime).unwrap(),
        "2026-03-14T12:00:00.373Z",
        "scheduled results are ordered by the notification time"
    );
    assert_eq!(
        first.annotation(),
        Some("missing tag Name; missing tag env (required: Name, env)")
    );
}

#[tokio::test]
async fn bad_parameters_and_other_events_get_clear_answers() {
    let (put, seen) = recording_put();
    let rule = rule_with(&[&put], &[], &[]);
    let mut payload = sample("configuration-item-change-security-group.json");
    payload["ruleParameters"] = json!("{\"allowedPublicPorts\":\"ssh\"}");
    let err = rule.handle(&payload).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid rule parameter allowedPublicPorts=ssh"),
        "{err}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing reported on a bad parameter"
    );

    let state_change = json!({"version": "0", "id": "x", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": "123456789012", "time": "2026-03-14T10:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"instance-id": INSTANCE_ID, "state": "running"}});
    for payload in [
        state_change,
        json!([1, 2]),
        json!({"invokingEvent": "{", "resultToken": "t"}),
    ] {
        let response = json_response(rule.handle(&payload).await.unwrap());
        assert_eq!(response["status"], "ignored", "{response}");
        assert!(!response["results"][0]["reason"]
            .as_str()
            .unwrap()
            .is_empty());
    }
}

#[test]
fn a_blank_tag_value_is_non_compliant_as_the_remediation_sees_it() {
    let mut instance = item("configuration-item-change-instance.json");
    instance["tags"] = json!({"Name": " ", "env": "dev"});
    let evaluation = evaluate_item(&instance, &scope(), now()).unwrap();
    assert_eq!(evaluation.compliance, Compliance::NonCompliant);
    assert_eq!(
        evaluation.annotation,
        "tag Name is empty (required: Name, env)"
    );
}

/// A documented message type the rule does not evaluate is answered, not failed: a failure would only
/// make Lambda retry it twice and park it in the dead-letter queue.
#[tokio::test]
async fn a_message_type_that_names_nothing_to_evaluate_is_ignored() {
    let payload = sample_with("configuration-item-change-security-group.json", |event| {
        event["messageType"] = json!("ConfigurationSnapshotDeliveryCompleted");
    });
    let (put, seen) = recording_put();
    let rule = rule_with(&[&put], &[], &[]);
    let response = json_response(rule.handle(&payload).await.unwrap());
    assert_eq!(response["status"], "ignored", "{response}");
    assert!(
        response["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("ConfigurationSnapshotDeliveryCompleted"),
        "{response}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing reported to Config"
    );
}
