use super::*;
use serde_json::json;
use std::path::PathBuf;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn load(relative: &str) -> Value {
    crate::test_support::sample_event(relative)
}

fn one(relative: &str) -> Result<Trigger, Ignored> {
    let mut parsed = parse_payload(&load(relative));
    assert_eq!(parsed.len(), 1, "{relative}");
    parsed.remove(0)
}

fn api_call(relative: &str) -> ApiCall {
    match one(relative).unwrap().event {
        TriggerEvent::ApiCall(call) => call,
        other => panic!("{relative}: {other:?}"),
    }
}

#[test]
fn every_sample_event_parses_or_is_ignored_as_its_name_says() {
    let mut seen = 0;
    for function in std::fs::read_dir(events_dir()).unwrap() {
        let function = function.unwrap().path();
        if !function.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&function).unwrap() {
            let file = file.unwrap().path();
            let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".json") || name == "env.json" {
                continue;
            }
            let relative = format!("{}/{name}", function.file_name().unwrap().to_string_lossy());
            let parsed = one(&relative);
            if name.starts_with("ignored-") && !relative.contains("by-remediation-role") {
                let ignored = parsed.expect_err(&relative);
                assert!(!ignored.reason.is_empty(), "{relative}");
            } else {
                let trigger = parsed.unwrap_or_else(|e| panic!("{relative}: {e:?}"));
                assert_eq!(trigger.account, "123456789012", "{relative}");
                assert!(!trigger.event_id.is_empty(), "{relative}");
                assert!(!trigger.detail().is_empty(), "{relative}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 30, "only {seen} sample events found");
}

#[test]
fn cloudtrail_put_bucket_acl_keeps_request_and_actor() {
    let trigger = one("s3-public-access/put-bucket-acl-allusers-read.json").unwrap();
    assert_eq!(trigger.source, Source::Cloudtrail);
    assert_eq!(trigger.event_id, "af2f6885-44eb-4f79-a0bf-32ee2ce4bda4");
    assert_eq!(trigger.region, "us-east-1");
    let TriggerEvent::ApiCall(call) = trigger.event else {
        panic!()
    };
    assert_eq!(call.event_source, "s3.amazonaws.com");
    assert_eq!(call.event_name, "PutBucketAcl");
    assert_eq!(
        call.cloudtrail_event_id,
        "d6014eb9-ae46-415c-8d95-5a99d1e3a2a7"
    );
    assert!(call.actor.ends_with("/alice@example.com"), "{}", call.actor);
    assert!(call
        .actor_role_arn
        .as_deref()
        .unwrap()
        .contains("AWSReservedSSO_AdministratorAccess"));
    assert_eq!(call.request["bucketName"], "example-public-bucket");
    assert_eq!(
        call.resources,
        [(
            "AWS::S3::Bucket".to_string(),
            "arn:aws:s3:::example-public-bucket".to_string()
        )]
    );
}

#[test]
fn cloudtrail_error_events_are_ignored() {
    let ignored = one("s3-public-access/ignored-put-bucket-acl-access-denied.json").unwrap_err();
    assert!(
        ignored.reason.contains("AccessDenied"),
        "{}",
        ignored.reason
    );
    assert_eq!(
        ignored.event_id.as_deref(),
        Some("dc4c7362-9a43-4b11-8804-2d6e70ffc89e")
    );
}

#[test]
fn data_events_list_the_object() {
    let call = api_call("s3-public-access/put-object-public-read-write.json");
    assert!(call
        .resources
        .iter()
        .any(|(kind, arn)| kind == "AWS::S3::Object"
            && arn == "arn:aws:s3:::example-public-bucket/reports/q1.csv"));
}

#[test]
fn state_change_config_guardduty_schedule() {
    let trigger = one("untagged-instance/instance-running.json").unwrap();
    assert_eq!(trigger.source, Source::Ec2State);
    assert_eq!(
        trigger.event,
        TriggerEvent::StateChange(StateChange {
            instance_id: "i-0a1b2c3d4e5f60718".into(),
            state: "running".into()
        })
    );

    let trigger = one("s3-public-access/config-s3-bucket-public-read-prohibited.json").unwrap();
    assert_eq!(trigger.source, Source::Config);
    assert_eq!(
        trigger.event,
        TriggerEvent::Compliance(ComplianceChange {
            rule_name: "s3-bucket-public-read-prohibited".into(),
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "example-public-bucket".into(),
        })
    );
    let first = one("untagged-instance/config-required-tags-first-evaluation.json").unwrap();
    assert!(
        matches!(first.event, TriggerEvent::Compliance(ref c) if c.resource_id == "i-0a1b2c3d4e5f60718")
    );
    let compliant =
        one("open-security-group/ignored-config-restricted-ssh-compliant.json").unwrap_err();
    assert!(
        compliant.reason.contains("COMPLIANT"),
        "{}",
        compliant.reason
    );

    let trigger =
        one("s3-public-access/guardduty-s3-bucket-anonymous-access-granted.json").unwrap();
    assert_eq!(trigger.source, Source::Guardduty);
    assert_eq!(trigger.event_id, "6a03b676ab070549ca304b4ee831cf22");
    let TriggerEvent::Finding(finding) = trigger.event else {
        panic!()
    };
    assert_eq!(
        finding.finding_type,
        "Policy:S3/BucketAnonymousAccessGranted"
    );
    assert_eq!(finding.buckets, ["example-public-bucket"]);
    assert_eq!(finding.severity, 8.0);

    let TriggerEvent::Finding(probe) =
        one("open-security-group/guardduty-recon-portprobe-port-22.json")
            .unwrap()
            .event
    else {
        panic!()
    };
    assert_eq!(probe.instance_id.as_deref(), Some("i-0a1b2c3d4e5f60718"));
    assert_eq!(probe.security_group_ids, ["sg-0a1b2c3d4e5f60718"]);
    assert_eq!(probe.ports, [22]);
    assert_eq!(probe.resource_role.as_deref(), Some("TARGET"));

    let TriggerEvent::Finding(brute) = one("open-security-group/guardduty-ssh-brute-force.json")
        .unwrap()
        .event
    else {
        panic!()
    };
    assert_eq!(brute.ports, [22]);

    let trigger = one("s3-public-access/scheduled-sweep.json").unwrap();
    assert_eq!(trigger.source, Source::Schedule);
    assert!(
        matches!(trigger.event, TriggerEvent::Schedule { ref rule_arns } if rule_arns.len() == 1)
    );
}

#[test]
fn sample_and_archived_findings_are_ignored() {
    let sample = one("open-security-group/ignored-guardduty-sample-finding.json").unwrap_err();
    assert!(sample.reason.contains("sample"), "{}", sample.reason);
    let archived = one("open-security-group/ignored-guardduty-archived-finding.json").unwrap_err();
    assert!(archived.reason.contains("archived"), "{}", archived.reason);

    // The newer additionalInfo shape hides the flag in a JSON string.
    let mut finding = load("s3-public-access/guardduty-s3-bucket-anonymous-access-granted.json");
    finding["detail"]["service"]["additionalInfo"]["value"] = json!("{\"sample\":true}");
    assert!(parse_event(&finding).unwrap_err().reason.contains("sample"));
}

#[test]
fn sns_wrapped_events_parse_like_the_inner_event() {
    let direct = one("s3-public-access/put-bucket-acl-allusers-read.json").unwrap();
    let wrapped = one("s3-public-access/cloudtrail-put-bucket-acl-via-sns.json").unwrap();
    assert_eq!(direct, wrapped);
    let probe = one("open-security-group/guardduty-portprobe-via-sns.json").unwrap();
    assert_eq!(probe.source, Source::Guardduty);
}

#[test]
fn config_rule_invocation_decodes_its_json_strings() {
    let trigger = one("config-rule/configuration-item-change-security-group.json").unwrap();
    let TriggerEvent::ConfigRule(rule) = trigger.event else {
        panic!()
    };
    assert_eq!(
        rule.invoking_event["messageType"],
        "ConfigurationItemChangeNotification"
    );
    assert!(rule.invoking_event["configurationItem"].is_object());
    assert!(rule.rule_parameters.is_object());
    assert!(!rule.result_token.is_empty());
    assert_eq!(trigger.region, "us-east-1");
}

#[test]
fn duplicate_findings_in_a_batch_are_kept_once() {
    let inner = load("s3-public-access/guardduty-s3-bucket-anonymous-access-granted.json");
    let mut newer = inner.clone();
    newer["detail"]["updatedAt"] = json!("2026-03-14T09:30:00.000Z");
    newer["detail"]["service"]["count"] = json!(2);
    let record = |event: &Value| {
        json!({
            "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:t:1",
            "Sns": {
                "Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Subject": null, "Message": event.to_string(), "Timestamp": "2026-03-14T09:30:01.000Z",
                "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://x", "UnsubscribeUrl": "https://x",
                "MessageAttributes": {}
            }
        })
    };
    let batch = json!({"Records": [record(&inner), record(&newer), record(&inner)]});
    let parsed = parse_payload(&batch);
    let kept: Vec<&Trigger> = parsed.iter().filter_map(|p| p.as_ref().ok()).collect();
    assert_eq!(kept.len(), 1);
    let TriggerEvent::Finding(finding) = &kept[0].event else {
        panic!()
    };
    assert_eq!(finding.updated_at, "2026-03-14T09:30:00.000Z");
    let duplicates: Vec<&Ignored> = parsed.iter().filter_map(|p| p.as_ref().err()).collect();
    assert_eq!(duplicates.len(), 2);
    assert!(duplicates.iter().all(|i| i.reason.contains("duplicate")));
}

#[test]
fn malformed_and_unrelated_payloads_are_ignored_with_a_reason() {
    let cases = [
        json!(null),
        json!([]),
        json!([{"detail-type": "Scheduled Event"}]),
        json!("text"),
        json!(42),
        json!({}),
        json!({"hello": "world"}),
        json!({"Records": []}),
        json!({"Records": "nope"}),
        json!({"detail-type": 5, "source": "aws.s3", "detail": {}}),
        json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": {}}),
        json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": null}),
        json!({"detail-type": "Some Other Thing", "source": "x", "detail": {}}),
        json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {"state": "running"}}),
        json!({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {"id": 5}}),
        json!({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {}}),
        json!({"detail-type": "Config Rules Compliance Change", "source": "aws.config", "detail": {}}),
        json!({"invokingEvent": "{not json", "resultToken": "t", "eventLeftScope": false}),
        json!({"invokingEvent": "{}", "resultToken": "t"}),
    ];
    for case in cases {
        let parsed = parse_payload(&case);
        assert!(!parsed.is_empty(), "{case}");
        for entry in parsed {
            let ignored = entry.expect_err(&case.to_string());
            assert!(!ignored.reason.is_empty(), "{case}");
        }
    }
}

#[test]
fn truncated_sample_events_never_panic() {
    let text = std::fs::read_to_string(
        events_dir().join("s3-public-access/put-bucket-acl-allusers-read.json"),
    )
    .unwrap();
    let event: Value = serde_json::from_str(&text).unwrap();
    // Remove each top-level and detail field in turn.
    let keys: Vec<String> = event.as_object().unwrap().keys().cloned().collect();
    for key in &keys {
        let mut broken = event.clone();
        broken.as_object_mut().unwrap().remove(key);
        let _ = parse_payload(&broken);
    }
    let detail_keys: Vec<String> = event["detail"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for key in &detail_keys {
        let mut broken = event.clone();
        broken["detail"].as_object_mut().unwrap().remove(key);
        let _ = parse_payload(&broken);
        broken["detail"][key] = json!([[]]);
        let _ = parse_payload(&broken);
    }
}

fn control_finding(trigger: &Trigger) -> &ControlFinding {
    trigger
        .security_hub()
        .unwrap_or_else(|| panic!("not a Security Hub finding: {trigger:?}"))
}

#[test]
fn security_hub_standard_finding_names_its_control_bucket_and_hub() {
    let trigger = one("s3-public-access/securityhub-s3-2-failed.json").unwrap();
    let finding = control_finding(&trigger);
    assert_eq!(trigger.source, Source::Securityhub);
    assert_eq!(trigger.source.as_str(), "securityhub");
    assert_eq!(
        trigger.event_id, finding.id,
        "the finding Id, not the envelope id"
    );
    assert!(finding.id.contains("/S3.2/finding/"));
    assert_eq!(
        finding.product_arn,
        "arn:aws:securityhub:us-east-1::product/aws/securityhub"
    );
    assert_eq!(finding.control_id, "S3.2");
    assert_eq!(
        finding.resources_of("AwsS3Bucket"),
        vec!["example-public-bucket"]
    );
    assert_eq!(
        (finding.hub_account.as_str(), finding.hub_region.as_str()),
        ("123456789012", "us-east-1")
    );
    assert!(finding.action.is_none());
    assert!(!trigger.is_approval());
    assert!(trigger.detail().contains("S3.2"), "{}", trigger.detail());
}

#[test]
fn consolidated_control_finding_takes_the_security_control_id() {
    let trigger = one("s3-public-access/securityhub-s3-8-failed-consolidated.json").unwrap();
    let finding = control_finding(&trigger);
    assert_eq!(finding.control_id, "S3.8");
    assert_eq!(
        finding.resources_of("AwsS3Bucket"),
        vec!["example-public-bucket"]
    );
    let groups = one("open-security-group/securityhub-ec2-19-failed.json").unwrap();
    assert_eq!(control_finding(&groups).control_id, "EC2.19");
    assert_eq!(
        control_finding(&groups).resources_of("AwsEc2SecurityGroup"),
        vec!["sg-0a1b2c3d4e5f60718"]
    );
    let instances = one("untagged-instance/securityhub-ec2-8-failed-consolidated.json").unwrap();
    assert_eq!(
        control_finding(&instances).resources_of("AwsEc2Instance"),
        vec!["i-0a1b2c3d4e5f60718"]
    );
}

#[test]
fn a_finding_without_its_control_id_fields_takes_the_generator_id() {
    let mut event = load("s3-public-access/securityhub-s3-2-failed.json");
    let finding = &mut event["detail"]["findings"][0];
    finding["Compliance"]
        .as_object_mut()
        .unwrap()
        .remove("SecurityControlId");
    finding["ProductFields"]
        .as_object_mut()
        .unwrap()
        .remove("ControlId");
    let trigger = parse_payload(&event).remove(0).unwrap();
    assert_eq!(control_finding(&trigger).control_id, "S3.2");
}

#[test]
fn a_custom_action_is_a_persons_request() {
    let trigger = one("s3-public-access/securityhub-s3-2-custom-action.json").unwrap();
    let finding = control_finding(&trigger);
    let action = finding.action.as_ref().expect("custom action");
    assert_eq!(action.name, "Remediate now");
    assert_eq!(
        action.arn,
        "arn:aws:securityhub:us-east-1:123456789012:action/custom/RemediateNow"
    );
    assert!(trigger.is_approval());
    assert!(
        trigger.detail().contains("a person asked"),
        "{}",
        trigger.detail()
    );
}

#[test]
fn findings_not_to_act_on_are_ignored_with_their_reason() {
    let base = load("s3-public-access/securityhub-s3-2-failed.json");
    let cases: [(&str, Value, &str); 6] = [
        ("/Workflow/Status", json!("SUPPRESSED"), "SUPPRESSED"),
        ("/Workflow/Status", json!("RESOLVED"), "RESOLVED"),
        ("/Compliance/Status", json!("PASSED"), "PASSED"),
        ("/Compliance", json!(null), "not a control check"),
        ("/RecordState", json!("ARCHIVED"), "ARCHIVED"),
        ("/Resources", json!([]), "names no resource"),
    ];
    for (pointer, value, reason) in cases {
        let mut event = base.clone();
        *event["detail"]["findings"][0].pointer_mut(pointer).unwrap() = value;
        let ignored = parse_payload(&event).remove(0).expect_err(pointer);
        assert!(
            ignored.reason.contains(reason),
            "{pointer}: {}",
            ignored.reason
        );
        assert!(
            ignored.event_id.as_deref().unwrap().contains("/finding/"),
            "{ignored:?}"
        );
    }
    let suppressed = one("s3-public-access/ignored-securityhub-s3-2-suppressed.json").unwrap_err();
    assert!(
        suppressed.reason.contains("SUPPRESSED"),
        "{}",
        suppressed.reason
    );
    let mut empty = base.clone();
    empty["detail"]["findings"] = json!([]);
    assert!(parse_payload(&empty)
        .remove(0)
        .unwrap_err()
        .reason
        .contains("no findings"));
}

#[test]
fn every_finding_of_an_event_is_a_trigger_in_its_own_account_and_region() {
    let mut event = load("s3-public-access/securityhub-s3-2-failed.json");
    let first = event["detail"]["findings"][0].clone();
    let mut member = first.clone();
    member["Id"] =
        json!("arn:aws:securityhub:eu-west-1:111111111111:subscription/x/S3.2/finding/member");
    member["AwsAccountId"] = json!("111111111111");
    member["Region"] = json!("eu-west-1");
    let mut passed = first.clone();
    passed["Compliance"]["Status"] = json!("PASSED");
    event["detail"]["findings"] = json!([first, member, passed]);
    let parsed = parse_payload(&event);
    assert_eq!(parsed.len(), 3);
    let own = parsed[0].as_ref().unwrap();
    let other = parsed[1].as_ref().unwrap();
    assert_eq!(
        (own.account.as_str(), own.region.as_str()),
        ("123456789012", "us-east-1")
    );
    assert_eq!(
        (other.account.as_str(), other.region.as_str()),
        ("111111111111", "eu-west-1")
    );
    // Updated where the event came from: the administrator account, the aggregation region.
    assert_eq!(control_finding(other).hub_account, "123456789012");
    assert_eq!(control_finding(other).hub_region, "us-east-1");
    assert!(parsed[2].as_ref().unwrap_err().reason.contains("PASSED"));
}

#[test]
fn an_account_finding_names_the_account_by_its_id() {
    let mut event = load("s3-public-access/securityhub-s3-8-failed-consolidated.json");
    event["detail"]["findings"][0]["Resources"] = json!([{"Type": "AwsAccount", "Id": "AWS::::Account:123456789012", "Partition": "aws", "Region": "us-east-1"}]);
    event["detail"]["findings"][0]["Compliance"]["SecurityControlId"] = json!("S3.1");
    let trigger = parse_payload(&event).remove(0).unwrap();
    assert_eq!(
        control_finding(&trigger).resources_of("AwsAccount"),
        vec!["123456789012"]
    );
}

#[test]
fn the_functions_own_update_coming_back_is_an_echo_and_a_new_check_is_not() {
    let mut event = load("s3-public-access/securityhub-s3-2-failed.json");
    let finding = &mut event["detail"]["findings"][0];
    finding["Workflow"]["Status"] = json!("NOTIFIED");
    finding["Note"] = json!({"Text": "s3-public-access: dry run", "UpdatedBy": "s3-public-access", "UpdatedAt": "2026-12-01T14:40:00.000Z"});
    let echo = parse_payload(&event).remove(0).unwrap();
    assert!(control_finding(&echo).is_echo_of("s3-public-access"));
    assert!(!control_finding(&echo).is_echo_of("open-security-group"));
    // Security Hub checked again after the note: UpdatedAt moves past it.
    event["detail"]["findings"][0]["UpdatedAt"] = json!("2026-12-02T02:00:00.000Z");
    let recheck = parse_payload(&event).remove(0).unwrap();
    assert!(!control_finding(&recheck).is_echo_of("s3-public-access"));
    // Times of another precision compare as times: a note a second before the finding is older.
    event["detail"]["findings"][0]["UpdatedAt"] = json!("2026-12-01T14:40:00.500Z");
    event["detail"]["findings"][0]["Note"]["UpdatedAt"] = json!("2026-12-01T14:40:00Z");
    let older = parse_payload(&event).remove(0).unwrap();
    assert!(!control_finding(&older).is_echo_of("s3-public-access"));
    event["detail"]["findings"][0]["Note"]["UpdatedAt"] = json!("2026-12-01T14:40:01Z");
    let newer = parse_payload(&event).remove(0).unwrap();
    assert!(control_finding(&newer).is_echo_of("s3-public-access"));
    // A person's custom action is never an echo, whatever the note says.
    let mut action = load("s3-public-access/securityhub-s3-2-custom-action.json");
    action["detail"]["findings"][0]["Note"] = json!({"Text": "x", "UpdatedBy": "s3-public-access", "UpdatedAt": "2099-01-01T00:00:00.000Z"});
    let asked = parse_payload(&action).remove(0).unwrap();
    assert!(!control_finding(&asked).is_echo_of("s3-public-access"));
}

#[test]
fn a_security_hub_event_through_sns_is_parsed_like_one_from_eventbridge() {
    let direct = load("open-security-group/securityhub-ec2-19-failed.json");
    let wrapped = json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:t:1",
        "Sns": {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Subject": null, "Message": direct.to_string(), "Timestamp": "2026-12-01T14:32:26.000Z",
                "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "x", "UnsubscribeUrl": "x",
                "MessageAttributes": {}}
    }]});
    let via_sns = parse_payload(&wrapped).remove(0).unwrap();
    assert_eq!(via_sns, parse_payload(&direct).remove(0).unwrap());
}

proptest::proptest! {
    /// However many findings an event carries and whatever state each is in, every finding gets exactly
    /// one answer, in order, and a trigger exactly when it is FAILED, ACTIVE and neither SUPPRESSED nor
    /// RESOLVED.
    #[test]
    fn every_finding_of_an_event_gets_one_answer(
        states in proptest::collection::vec(
            (
                proptest::sample::select(vec!["FAILED", "PASSED", "WARNING", "NOT_AVAILABLE", ""]),
                proptest::sample::select(vec!["ACTIVE", "ARCHIVED", ""]),
                proptest::sample::select(vec!["NEW", "NOTIFIED", "SUPPRESSED", "RESOLVED", ""]),
                proptest::sample::select(vec!["111111111111", "222222222222", ""]),
            ),
            1..40,
        )
    ) {
        let mut event = load("s3-public-access/securityhub-s3-2-failed.json");
        let template = event["detail"]["findings"][0].clone();
        let findings: Vec<Value> = states
            .iter()
            .enumerate()
            .map(|(i, (compliance, record, workflow, account))| {
                let mut finding = template.clone();
                finding["Id"] = json!(format!("finding-{i}"));
                finding["Compliance"]["Status"] = json!(compliance);
                finding["RecordState"] = json!(record);
                finding["Workflow"]["Status"] = json!(workflow);
                finding["AwsAccountId"] = json!(account);
                finding
            })
            .collect();
        event["detail"]["findings"] = json!(findings);
        let parsed = parse_payload(&event);
        proptest::prop_assert_eq!(parsed.len(), states.len());
        for (i, (entry, (compliance, record, workflow, account))) in parsed.iter().zip(&states).enumerate() {
            let counts = *compliance == "FAILED"
                && *record == "ACTIVE"
                && !matches!(*workflow, "SUPPRESSED" | "RESOLVED");
            proptest::prop_assert_eq!(entry.is_ok(), counts, "finding {}: {:?}", i, entry);
            match entry {
                Ok(trigger) => {
                    proptest::prop_assert_eq!(&trigger.event_id, &format!("finding-{i}"));
                    let expected = if account.is_empty() { "123456789012" } else { account };
                    proptest::prop_assert_eq!(trigger.account.as_str(), expected);
                }
                Err(ignored) => {
                    proptest::prop_assert_eq!(ignored.event_id.clone(), Some(format!("finding-{i}")));
                }
            }
        }
    }
}
