//! The SAM template against the code: every function is deployed, each role grants exactly the
//! actions the function's code calls (plus logging, the dead-letter queue and the key), nothing more.

use std::collections::BTreeSet;
use std::process::Command;

use remediation::catalog::{iam_actions, FUNCTIONS};
use remediation_tests::{log_filter_matches, repo_root, template};
use serde_json::Value;

/// Actions every function needs to run at all, whatever its code does.
const RUNTIME_ACTIONS: &[&str] = &[
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:SendMessage",
    "kms:GenerateDataKey",
    "kms:Decrypt",
];

fn functions(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .map(|r| {
            (
                r["Metadata"]["BuildProperties"]["Binary"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r.clone(),
            )
        })
        .collect()
}

/// Every action a role's policies allow, including those written as `Fn::Sub` JSON strings.
fn allowed_actions(policy: &Value, found: &mut Vec<(String, Value)>) {
    match policy {
        Value::String(text) if text.trim_start().starts_with('{') => {
            if let Ok(parsed) = serde_json::from_str::<Value>(text) {
                allowed_actions(&parsed, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| allowed_actions(i, found)),
        Value::Object(map) => {
            if let (Some(Value::String(effect)), Some(actions)) =
                (map.get("Effect"), map.get("Action"))
            {
                if effect == "Allow" {
                    let list: Vec<String> = match actions {
                        Value::String(a) => vec![a.clone()],
                        Value::Array(a) => a
                            .iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect(),
                        _ => Vec::new(),
                    };
                    for action in list {
                        found.push((action, Value::Object(map.clone())));
                    }
                }
            }
            map.values().for_each(|v| allowed_actions(v, found));
        }
        _ => {}
    }
}

#[test]
fn every_workspace_function_is_deployed_and_nothing_else() {
    let mut in_workspace: Vec<String> = std::fs::read_dir(repo_root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    in_workspace.sort();
    let mut in_template: Vec<String> = functions(&template()).into_iter().map(|(n, _)| n).collect();
    in_template.sort();
    let mut known: Vec<String> = FUNCTIONS.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(in_workspace, in_template);
    assert_eq!(in_workspace, known);
}

#[test]
fn each_role_allows_exactly_what_its_function_calls() {
    let template = template();
    for (name, function) in functions(&template) {
        let role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap();
        let role = &template["Resources"][role_id];
        assert_eq!(role["Type"], "AWS::IAM::Role", "{name}");
        assert!(
            role["Properties"].get("ManagedPolicyArns").is_none(),
            "{name}: no managed policies"
        );
        let mut statements = Vec::new();
        allowed_actions(&role["Properties"]["Policies"], &mut statements);
        let granted: BTreeSet<&str> = statements
            .iter()
            .map(|(a, _)| a.as_str())
            .filter(|a| !RUNTIME_ACTIONS.contains(a))
            .collect();
        let needed: BTreeSet<&str> = iam_actions(&name)
            .into_iter()
            .filter(|a| !RUNTIME_ACTIONS.contains(a))
            .collect();
        assert_eq!(granted, needed, "{name}: granted vs called");
        for (action, _) in &statements {
            assert!(!action.contains('*'), "{name}: wildcard action {action}");
        }
        // Tag writes are limited to the grace-period mark.
        for (action, statement) in &statements {
            if action == "ec2:CreateTags" || action == "ec2:DeleteTags" {
                assert_eq!(
                    statement["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"],
                    serde_json::json!(["remediation:stop-after"]),
                    "{name}: {action}"
                );
                tag_condition_allows_only_the_mark(&statement["Condition"], &name);
            }
        }
    }
}

/// Whether an IAM `Condition` block with `ForAllValues:StringEquals` and `Null` on `aws:TagKeys` matches
/// a request whose tag keys are `keys` (`None`: the request names no tags). The semantics, as the IAM
/// User Guide documents them ("Multivalued context keys examples", "Condition operators to check
/// existence of condition keys"): `ForAllValues` is true when every key of the request is in the list,
/// and also when the request has no such key at all; `Null: "false"` is true only when the key is present
/// and not empty. Other operators are unknown here and fail the test.
fn tag_keys_condition_matches(condition: &Value, keys: Option<&[&str]>) -> bool {
    let present = keys.filter(|k| !k.is_empty());
    condition
        .as_object()
        .expect("a condition block")
        .iter()
        .all(|(operator, tests)| {
            let expected = &tests["aws:TagKeys"];
            match operator.as_str() {
                "ForAllValues:StringEquals" => {
                    let allowed: Vec<&str> = match expected {
                        Value::Array(values) => values.iter().filter_map(Value::as_str).collect(),
                        Value::String(one) => vec![one.as_str()],
                        other => panic!("unexpected value {other}"),
                    };
                    present.is_none_or(|keys| keys.iter().all(|k| allowed.contains(k)))
                }
                "Null" => match expected.as_str() {
                    Some("true") => present.is_none(),
                    Some("false") => present.is_some(),
                    other => panic!("Null takes \"true\" or \"false\", not {other:?}"),
                },
                other => panic!("condition operator {other} is not modelled by this test"),
            }
        })
}

/// The tag permission must not reach any tag but the grace-period mark: in particular not a DeleteTags
/// call without tags, which deletes every tag of the instance.
fn tag_condition_allows_only_the_mark(condition: &Value, function: &str) {
    for (request, allowed) in [
        (Some(&["remediation:stop-after"][..]), true),
        (Some(&["env"][..]), false),
        (Some(&["remediation:stop-after", "Name"][..]), false),
        (Some(&[][..]), false),
        (None, false),
    ] {
        assert_eq!(
            tag_keys_condition_matches(condition, request),
            allowed,
            "{function}: tag keys {request:?}"
        );
    }
}

#[test]
fn the_tag_condition_model_catches_a_condition_without_null() {
    // The condition as it was before: ForAllValues alone lets a DeleteTags without tags through.
    let loose = serde_json::json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["remediation:stop-after"]}});
    assert!(tag_keys_condition_matches(&loose, None));
    let result = std::panic::catch_unwind(|| tag_condition_allows_only_the_mark(&loose, "loose"));
    assert!(
        result.is_err(),
        "the policy test must fail on the loose condition"
    );
}

/// Reserved concurrency fails the whole deployment in an account whose concurrency quota cannot leave 100
/// unreserved (new accounts often start below 112): it is opt-in, and bounded when on.
#[test]
fn the_ec2_mutating_functions_can_reserve_concurrency_and_every_function_has_a_dead_letter_queue() {
    let template = template();
    assert_eq!(
        template["Parameters"]["ReserveConcurrency"]["Default"], "false",
        "reserving concurrency is opt-in"
    );
    assert_eq!(
        template["Conditions"]["ReservingConcurrency"]["Fn::Equals"],
        serde_json::json!([{"Ref": "ReserveConcurrency"}, "true"])
    );
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["DeadLetterQueue"]["Type"], "SQS");
    assert_eq!(
        globals["DeadLetterQueue"]["TargetArn"],
        serde_json::json!({"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})
    );
    // Notifications SNS refuses after a change are kept in the same queue people watch.
    assert_eq!(
        globals["Environment"]["Variables"]["UNDELIVERED_QUEUE_URL"],
        serde_json::json!({"Ref": "DeadLetterQueue"})
    );
    assert!(
        globals["EventInvokeConfig"]["MaximumRetryAttempts"]
            .as_u64()
            .unwrap()
            <= 2
    );
    for (name, function) in functions(&template) {
        assert_eq!(
            function["Properties"]["LoggingConfig"]["LogFormat"], "JSON",
            "{name}"
        );
        let reserved = &function["Properties"]["ReservedConcurrentExecutions"];
        let ec2_mutating = name == "open-security-group" || name == "untagged-instance";
        if reserved.is_null() && !ec2_mutating {
            continue;
        }
        let choice = reserved["Fn::If"].as_array().unwrap_or_else(|| {
            panic!("{name}: reserved concurrency must depend on ReserveConcurrency: {reserved}")
        });
        assert_eq!(choice[0], "ReservingConcurrency", "{name}");
        assert_eq!(
            choice[2],
            serde_json::json!({"Ref": "AWS::NoValue"}),
            "{name}: off means none"
        );
        let when_on = choice[1].as_u64();
        if ec2_mutating {
            assert!(when_on.is_some_and(|r| r <= 5), "{name}: {when_on:?}");
        }
    }
}

/// Whether an EventBridge pattern matches an event, for the parts of the pattern language the template
/// uses: exact values, `prefix`, `wildcard` (`*` for any run of characters), `$or` (any of its patterns),
/// nested objects, and arrays in the event (a field matches when any element matches, also for fields
/// inside arrays of objects). EventBridge User Guide, "Event pattern syntax" and "Content filtering".
fn pattern_matches(pattern: &Value, event: &Value) -> bool {
    match (pattern, event) {
        (_, Value::Array(items)) => items.iter().any(|item| pattern_matches(pattern, item)),
        (Value::Object(fields), Value::Object(_)) => fields.iter().all(|(name, wanted)| {
            if name == "$or" {
                let choices = wanted.as_array().expect("$or takes a list of patterns");
                return choices.iter().any(|choice| pattern_matches(choice, event));
            }
            event
                .get(name)
                .is_some_and(|value| pattern_matches(wanted, value))
        }),
        (Value::Array(choices), value) => choices.iter().any(|choice| match choice {
            Value::Object(operator) => {
                match (operator.get("prefix"), operator.get("wildcard"), value) {
                    (Some(Value::String(prefix)), _, Value::String(text)) => {
                        text.starts_with(prefix.as_str())
                    }
                    (_, Some(Value::String(glob)), Value::String(text)) => wildcard(glob, text),
                    (Some(_), _, _) | (_, Some(_), _) => false,
                    (None, None, _) => {
                        panic!("pattern operator {choice} is not modelled by this test")
                    }
                }
            }
            exact => exact == value,
        }),
        _ => false,
    }
}

/// EventBridge's `wildcard`: `*` matches any run of characters, everything else itself.
fn wildcard(glob: &str, text: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return glob == text;
    }
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The Security Hub rules that invoke `function` (plain `AWS::Events::Rule`s, made only with the
/// SecurityHub parameter), with the custom action's ARN as the stack in account 123456789012 and
/// us-east-1 would make it.
fn security_hub_patterns(template: &Value, function: &str) -> Vec<Value> {
    let id = function_resource_id(template, function);
    resources_of(template, "AWS::Events::Rule")
        .into_iter()
        .filter(|(_, rule)| rule["Properties"]["Targets"][0]["Arn"]["Ref"] == format!("{id}.Alias"))
        .map(|(_, rule)| {
            let mut pattern = rule["Properties"]["EventPattern"].clone();
            if pattern.get("resources").is_some() {
                pattern["resources"] = serde_json::json!([
                    "arn:aws:securityhub:us-east-1:123456789012:action/custom/RemediateNow"
                ]);
            }
            pattern
        })
        .collect()
}

fn function_resource_id(template: &Value, function: &str) -> String {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"] == function)
        .map(|(id, _)| id.clone())
        .unwrap()
}

/// Security Hub (parameter SecurityHub): for each remediation a rule for the failed control findings of
/// its resource types (never SUPPRESSED or RESOLVED ones) and one for the console's "Remediate now"
/// custom action of this stack alone, both on the default bus (where Security Hub's administrator account
/// receives its members' findings) and made only with the parameter; the roles may set a finding
/// RESOLVED or NOTIFIED but never suppress or reopen one.
#[test]
fn security_hub_reaches_each_remediation_only_with_its_findings() {
    let template = template();
    let action = &template["Resources"]["RemediateAction"];
    assert_eq!(action["Type"], "AWS::SecurityHub::ActionTarget");
    assert_eq!(action["Condition"], "SecurityHubOn");
    assert_eq!(action["Properties"]["Id"], "RemediateNow");
    assert!(
        action["Properties"]["Name"].as_str().unwrap().len() < 20,
        "Security Hub's limit"
    );
    let sample = |file: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(repo_root().join("events").join(file)).unwrap(),
        )
        .unwrap()
    };
    for (function, types, sample_file) in [
        (
            "s3-public-access",
            vec!["AwsS3Bucket", "AwsAccount"],
            "s3-public-access/securityhub-s3-2-failed.json",
        ),
        (
            "open-security-group",
            vec!["AwsEc2SecurityGroup"],
            "open-security-group/securityhub-ec2-19-failed.json",
        ),
        (
            "untagged-instance",
            vec!["AwsEc2Instance"],
            "untagged-instance/securityhub-ec2-8-failed-consolidated.json",
        ),
    ] {
        let id = function_resource_id(&template, function);
        let rules: Vec<(&String, &Value)> = resources_of(&template, "AWS::Events::Rule")
            .into_iter()
            .filter(|(_, r)| r["Properties"]["Targets"][0]["Arn"]["Ref"] == format!("{id}.Alias"))
            .collect();
        assert_eq!(rules.len(), 2, "{function}: findings and custom action");
        for (name, rule) in &rules {
            assert_eq!(rule["Condition"], "SecurityHubOn", "{name}");
            assert!(
                rule["Properties"].get("EventBusName").is_none(),
                "{name}: the default bus"
            );
            assert_eq!(
                rule["Properties"]["EventPattern"]["detail"]["findings"]["Resources"]["Type"],
                serde_json::json!(types),
                "{name}"
            );
            // Lambda lets this rule invoke the function's alias.
            let allowed = resources_of(&template, "AWS::Lambda::Permission")
                .into_iter()
                .any(|(_, p)| {
                    p["Properties"]["SourceArn"]["Fn::GetAtt"][0] == name.as_str()
                        && p["Properties"]["FunctionName"]["Ref"] == format!("{id}.Alias")
                        && p["Condition"] == "SecurityHubOn"
                });
            assert!(allowed, "{name}: no permission to invoke {function}");
        }
        let patterns = security_hub_patterns(&template, function);
        let imported = sample(sample_file);
        assert!(
            patterns.iter().any(|p| pattern_matches(p, &imported)),
            "{function}: {sample_file}"
        );
        for status in ["SUPPRESSED", "RESOLVED"] {
            let mut closed = imported.clone();
            closed["detail"]["findings"][0]["Workflow"]["Status"] = serde_json::json!(status);
            assert!(
                !patterns.iter().any(|p| pattern_matches(p, &closed)),
                "{function}: {status}"
            );
        }
        let mut passed = imported.clone();
        passed["detail"]["findings"][0]["Compliance"]["Status"] = serde_json::json!("PASSED");
        assert!(
            !patterns.iter().any(|p| pattern_matches(p, &passed)),
            "{function}: PASSED"
        );
        // The custom action: this stack's own, on this function's resource types only.
        let mut asked = sample("s3-public-access/securityhub-s3-2-custom-action.json");
        asked["detail"]["findings"] = imported["detail"]["findings"].clone();
        assert!(
            patterns.iter().any(|p| pattern_matches(p, &asked)),
            "{function}: custom action"
        );
        let mut foreign = asked.clone();
        foreign["resources"] = serde_json::json!([
            "arn:aws:securityhub:us-east-1:999999999999:action/custom/RemediateNow"
        ]);
        assert!(
            !patterns.iter().any(|p| pattern_matches(p, &foreign)),
            "{function}: a custom action of another account"
        );
    }
    // The control filters: a bucket's S3.5 (SSL) or a group's EC2.2 (default group) never invoke.
    let mut ssl = sample("s3-public-access/securityhub-s3-2-failed.json");
    ssl["detail"]["findings"][0]["Compliance"]["SecurityControlId"] = serde_json::json!("S3.5");
    ssl["detail"]["findings"][0]["ProductFields"]["ControlId"] = serde_json::json!("S3.5");
    assert!(!security_hub_patterns(&template, "s3-public-access")
        .iter()
        .any(|p| pattern_matches(p, &ssl)));
    let consolidated = sample("s3-public-access/securityhub-s3-8-failed-consolidated.json");
    assert!(security_hub_patterns(&template, "s3-public-access")
        .iter()
        .any(|p| pattern_matches(p, &consolidated)));
    // A bucket finding never reaches the group function.
    assert!(!security_hub_patterns(&template, "open-security-group")
        .iter()
        .any(|p| pattern_matches(p, &consolidated)));

    for (name, role) in remediation_roles(&template) {
        let policies = role["Properties"]["Policies"].as_array().unwrap();
        let hub = policies
            .iter()
            .find(|p| p["Fn::If"][0] == "SecurityHubOn")
            .unwrap_or_else(|| panic!("{name}: no Security Hub policy"));
        let statements = hub["Fn::If"][1]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
        let deny = statements
            .iter()
            .find(|s| s["Effect"] == "Deny")
            .expect("a deny");
        assert_eq!(deny["Action"], "securityhub:BatchUpdateFindings");
        assert_eq!(
            deny["Condition"]["StringEquals"]["securityhub:ASFFSyntaxPath/Workflow.Status"],
            serde_json::json!(["SUPPRESSED", "NEW"]),
            "{name}"
        );
    }
}

/// Every EventBridge-delivered sample event a function handles reaches it through one of its rules; the
/// function's own ignored samples (a failed call, a compliant result) may or may not. And an event that
/// cannot matter to a function does not invoke it.
#[test]
fn each_function_is_invoked_by_its_sample_events_and_not_by_tag_changes_on_other_resources() {
    let template = template();
    for (name, function) in functions(&template) {
        let hub_patterns = security_hub_patterns(&template, &name);
        let mut patterns: Vec<&Value> = function["Properties"]["Events"]
            .as_object()
            .map(|events| {
                events
                    .values()
                    .filter(|e| e["Type"] == "EventBridgeRule")
                    .map(|e| &e["Properties"]["Pattern"])
                    .collect()
            })
            .unwrap_or_default();
        patterns.extend(hub_patterns.iter());
        let dir = repo_root().join("events").join(&name);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            let event: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let from_eventbridge =
                event.get("detail-type").is_some() && event["detail-type"] != "Scheduled Event";
            if !from_eventbridge || file.starts_with("ignored-") {
                continue;
            }
            assert!(
                patterns.iter().any(|p| pattern_matches(p, &event)),
                "{name}: no rule delivers {file}"
            );
        }
        if name == "s3-public-access" {
            // Data events: an ordinary upload does not invoke the function, a public one does.
            let public: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("put-object-public-read-write.json")).unwrap(),
            )
            .unwrap();
            let mut private = public.clone();
            private["detail"]["requestParameters"]
                .as_object_mut()
                .unwrap()
                .remove("x-amz-acl");
            assert!(
                !patterns.iter().any(|p| pattern_matches(p, &private)),
                "a private PutObject must not invoke {name}"
            );
            let mut granted = private.clone();
            granted["detail"]["requestParameters"]["x-amz-grant-read"] =
                serde_json::json!("uri=http://acs.amazonaws.com/groups/global/AllUsers");
            assert!(
                patterns.iter().any(|p| pattern_matches(p, &granted)),
                "a PutObject granting AllUsers does"
            );
        }
        if name == "untagged-instance" {
            let mut on_a_volume: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("delete-tags-instance.json")).unwrap(),
            )
            .unwrap();
            on_a_volume["detail"]["requestParameters"]["resourcesSet"]["items"] =
                serde_json::json!([{"resourceId": "vol-0123456789abcdef0"}]);
            assert!(
                !patterns.iter().any(|p| pattern_matches(p, &on_a_volume)),
                "tags on a volume must not invoke {name}"
            );
            let mut mixed = on_a_volume.clone();
            mixed["detail"]["requestParameters"]["resourcesSet"]["items"] = serde_json::json!(
                [{"resourceId": "vol-0123456789abcdef0"}, {"resourceId": "i-0a1b2c3d4e5f60718"}]
            );
            assert!(
                patterns.iter().any(|p| pattern_matches(p, &mixed)),
                "a call that also names an instance does"
            );
        }
    }
}

/// `make sam-build` and `sam deploy` read one architecture (samconfig.toml's deploy parameters): a binary
/// built for one and deployed as the other cannot execute.
#[test]
fn build_and_deploy_agree_on_the_architecture() {
    let samconfig = std::fs::read_to_string(repo_root().join("samconfig.toml")).unwrap();
    let deployed = ["arm64", "x86_64"]
        .into_iter()
        .find(|arch| samconfig.contains(&format!("Architecture=\\\"{arch}\\\"")))
        .expect("samconfig.toml deploys an Architecture");
    let allowed = &template()["Parameters"]["Architecture"]["AllowedValues"];
    assert!(allowed.as_array().unwrap().iter().any(|a| a == deployed));

    let make = |args: &[&str]| {
        Command::new("make")
            .arg("-n")
            .arg("sam-build")
            .args(args)
            .current_dir(repo_root())
            .output()
            .expect("make")
    };
    let built = make(&[]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let commands = String::from_utf8_lossy(&built.stdout);
    assert!(
        commands.contains(&format!(
            "sam build --parameter-overrides Architecture={deployed}"
        )),
        "{commands}"
    );
    let other = if deployed == "arm64" {
        "x86_64"
    } else {
        "arm64"
    };
    let refused = make(&[&format!("ARCH={other}")]);
    assert!(!refused.status.success(), "ARCH={other} must not build");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("samconfig.toml deploys"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// The logical ids of the template's resources of `kind`, with the resources.
fn resources_of<'t>(template: &'t Value, kind: &str) -> Vec<(&'t String, &'t Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// Nobody is blind after deploy: each function has an alarm on its errors, throttles, dropped events
/// and dead-letter errors; the dead-letter queue's depth, `failed` outcomes and `unfinished` sweeps have
/// alarms too; every alarm tells the topic, and CloudWatch may use the topic's key.
#[test]
fn every_function_is_watched_and_every_alarm_tells_the_topic() {
    let template = template();
    let alarms = resources_of(&template, "AWS::CloudWatch::Alarm");
    for (id, alarm) in &alarms {
        assert_eq!(
            alarm["Properties"]["AlarmActions"],
            serde_json::json!([{"Ref": "NotificationTopic"}]),
            "{id}"
        );
    }
    let watched = |function: &str, metric: &str| {
        alarms.iter().any(|(_, alarm)| {
            alarm["Properties"]["Metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| {
                    let stat = &m["MetricStat"]["Metric"];
                    stat["Namespace"] == "AWS/Lambda"
                        && stat["MetricName"] == metric
                        && stat["Dimensions"][0]["Value"] == serde_json::json!({"Ref": function})
                })
        })
    };
    for (function, _) in resources_of(&template, "AWS::Serverless::Function") {
        for metric in [
            "Errors",
            "Throttles",
            "AsyncEventsDropped",
            "DeadLetterErrors",
        ] {
            assert!(
                watched(function, metric),
                "{function}: no alarm on {metric}"
            );
        }
    }
    assert!(
        alarms.iter().any(|(_, a)| {
            a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && a["Properties"]["Dimensions"][0]["Value"]
                    == serde_json::json!({"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]})
        }),
        "no alarm on the dead-letter queue"
    );

    // `failed` outcomes and `unfinished` sweeps are counted from each remediation's logs, and alarmed.
    let filters = resources_of(&template, "AWS::Logs::MetricFilter");
    for (name, function) in functions(&template) {
        if name == "config-rule" {
            continue;
        }
        let log_group = &function["Properties"]["LoggingConfig"]["LogGroup"];
        for (metric, outcome) in [
            ("FailedOutcomes", "failed"),
            ("UnfinishedSweeps", "unfinished"),
        ] {
            let line = format!(r#"{{"level":"INFO","message":"x","outcome":"{outcome}"}}"#);
            let counted = filters.iter().any(|(_, f)| {
                let p = &f["Properties"];
                &p["LogGroupName"] == log_group
                    && p["MetricTransformations"][0]["MetricName"] == metric
                    && log_filter_matches(p["FilterPattern"].as_str().unwrap(), &line)
            });
            assert!(counted, "{name}: {metric} is not counted from its logs");
            assert!(
                alarms
                    .iter()
                    .any(|(_, a)| a["Properties"]["MetricName"] == metric),
                "no alarm on {metric}"
            );
        }
    }

    let key_policy =
        &template["Resources"]["NotificationKey"]["Properties"]["KeyPolicy"]["Statement"];
    assert!(
        key_policy.as_array().unwrap().iter().any(|s| {
            s["Principal"]["Service"] == "cloudwatch.amazonaws.com"
                && s["Action"] == serde_json::json!(["kms:GenerateDataKey*", "kms:Decrypt"])
        }),
        "alarms cannot publish to the encrypted topic"
    );
}

/// What a platform team expects of a stack it deploys everywhere: versions behind an alias that the
/// triggers invoke, an optional permissions boundary on every role, a named key, a dashboard of the
/// metrics the alarms read, and tags that reach every resource.
#[test]
fn deployable_as_platform_teams_expect() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["AutoPublishAlias"], "live");

    assert_eq!(
        template["Parameters"]["PermissionsBoundaryArn"]["Default"],
        ""
    );
    let roles = resources_of(&template, "AWS::IAM::Role");
    assert!(roles.len() >= 4);
    for (id, role) in roles {
        assert_eq!(
            role["Properties"]["PermissionsBoundary"],
            serde_json::json!({"Fn::If": ["HasPermissionsBoundary", {"Ref": "PermissionsBoundaryArn"}, {"Ref": "AWS::NoValue"}]}),
            "{id}"
        );
    }

    let aliases = resources_of(&template, "AWS::KMS::Alias");
    assert!(
        aliases.iter().any(|(_, a)| a["Properties"]["TargetKeyId"]
            == serde_json::json!({"Ref": "NotificationKey"})),
        "the notification key has an alias"
    );

    let dashboards = resources_of(&template, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1);
    let body = dashboards[0].1["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .unwrap();
    for shown in [
        "Remediation,function,outcome",
        "Errors",
        "Throttles",
        "FailedOutcomes",
        "UnfinishedSweeps",
        "ApproximateNumberOfMessagesVisible",
    ] {
        assert!(body.contains(shown), "the dashboard does not show {shown}");
    }
    // The body must be JSON once CloudFormation has substituted the references.
    let mut substituted = String::new();
    let mut rest = body;
    while let Some(at) = rest.find("${") {
        substituted.push_str(&rest[..at]);
        substituted.push('x');
        rest = &rest[at + rest[at..].find('}').unwrap() + 1..];
    }
    substituted.push_str(rest);
    serde_json::from_str::<Value>(&substituted).expect("the dashboard body is JSON");

    let samconfig = std::fs::read_to_string(repo_root().join("samconfig.toml")).unwrap();
    assert!(
        samconfig.contains("tags = \"project="),
        "stack tags (CloudFormation propagates them to every resource that takes tags)"
    );
}

/// The three remediations' roles: (function, role resource).
fn remediation_roles(template: &Value) -> Vec<(String, Value)> {
    functions(template)
        .into_iter()
        .filter(|(name, _)| name != "config-rule")
        .map(|(name, function)| {
            let role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap()
                .to_string();
            (name, template["Resources"][&role_id].clone())
        })
        .collect()
}

/// The central functions' EventBridge rules: (function, pattern).
fn central_rules(template: &Value) -> Vec<(String, Value)> {
    let mut rules = Vec::new();
    for (name, function) in functions(template) {
        for event in function["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|e| e.values())
        {
            if event["Type"] == "EventBridgeRule" {
                rules.push((name.clone(), event["Properties"].clone()));
            }
        }
    }
    rules
}

/// Organization mode: every rule of the functions sits on the central bus, which admits the organization
/// and nothing else; the member accounts forward exactly what those rules match.
#[test]
fn member_accounts_forward_exactly_what_the_central_rules_match() {
    let template = template();
    let member = remediation_tests::member_template();
    let central = central_rules(&template);
    assert!(!central.is_empty());
    for (name, rule) in &central {
        assert_eq!(
            rule["EventBusName"]["Fn::If"],
            serde_json::json!(["OrganizationMode", {"Ref": "CentralEventBus"}, {"Ref": "AWS::NoValue"}]),
            "{name}: on the central bus in organization mode, the default bus otherwise"
        );
    }
    let policy = &template["Resources"]["CentralEventBusPolicy"]["Properties"]["Statement"];
    assert_eq!(policy["Principal"], "*");
    assert_eq!(policy["Action"], "events:PutEvents");
    assert_eq!(
        policy["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        serde_json::json!({"Ref": "OrganizationId"}),
        "only the organization's accounts may send"
    );

    let forwarded: Vec<&Value> = resources_of(&member, "AWS::Events::Rule")
        .into_iter()
        .map(|(_, rule)| &rule["Properties"])
        .collect();
    let mut central_patterns: Vec<String> = central
        .iter()
        .map(|(_, r)| r["Pattern"].to_string())
        .collect();
    let mut member_patterns: Vec<String> = forwarded
        .iter()
        .map(|r| r["EventPattern"].to_string())
        .collect();
    central_patterns.sort();
    member_patterns.sort();
    assert_eq!(
        member_patterns, central_patterns,
        "the same patterns, one forwarding rule each"
    );
    let bus = "arn:${AWS::Partition}:events:${CentralRegion}:${CentralAccountId}:event-bus/${CentralEventBusName}";
    for rule in forwarded {
        let targets = rule["Targets"].as_array().unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0]["Arn"]["Fn::Sub"], bus);
        assert_eq!(targets[0]["RoleArn"]["Fn::GetAtt"][0], "ForwardingRole");
    }
    let mut statements = Vec::new();
    allowed_actions(
        &member["Resources"]["ForwardingRole"]["Properties"]["Policies"],
        &mut statements,
    );
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0].0, "events:PutEvents");
    assert_eq!(
        statements[0].1["Resource"]["Fn::Sub"], bus,
        "the central bus and nothing else"
    );
}

/// The member role: exactly the actions the three remediations call in an account they fix (the
/// lists the single-account roles are checked against), for the three central roles alone.
#[test]
fn the_member_role_allows_exactly_what_the_functions_call_and_trusts_only_them() {
    let template = template();
    let member = remediation_tests::member_template();
    let role = &member["Resources"]["MemberRole"]["Properties"];
    let mut statements = Vec::new();
    allowed_actions(&role["Policies"], &mut statements);
    let granted: BTreeSet<&str> = statements.iter().map(|(a, _)| a.as_str()).collect();
    let needed: BTreeSet<&str> = [
        "s3-public-access",
        "open-security-group",
        "untagged-instance",
    ]
    .iter()
    .flat_map(|f| remediation::catalog::member_actions(f).iter().copied())
    .collect();
    assert_eq!(granted, needed, "member role vs what the functions call");
    for (action, statement) in &statements {
        assert!(!action.contains('*'), "wildcard action {action}");
        if action == "ec2:CreateTags" || action == "ec2:DeleteTags" {
            tag_condition_allows_only_the_mark(&statement["Condition"], "member role");
        }
    }
    // The same conditional grants as the central stack: policy rewrites only with remove, account
    // settings only with always.
    let conditional: Vec<String> = role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Fn::If"][0].as_str().map(String::from))
        .collect();
    assert_eq!(
        conditional,
        [
            "RemovingPublicStatements",
            "EnforcingAccountBlockPublicAccess"
        ]
    );

    // Trust: the central account, and within it only the three functions' roles, which the central
    // stack names after itself in organization mode.
    let trust = &role["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust.as_array().unwrap().len(), 1);
    assert_eq!(trust[0]["Action"], "sts:AssumeRole");
    assert_eq!(
        trust[0]["Principal"]["AWS"]["Fn::Sub"],
        "arn:${AWS::Partition}:iam::${CentralAccountId}:root"
    );
    let trusted: Vec<&str> = trust[0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Fn::Sub"].as_str().unwrap())
        .collect();
    let mut expected = Vec::new();
    for (name, role) in remediation_roles(&template) {
        let role_name = &role["Properties"]["RoleName"]["Fn::If"];
        assert_eq!(role_name[0], "OrganizationMode", "{name}");
        let central_name = role_name[1]["Fn::Sub"]
            .as_str()
            .unwrap()
            .replace("${AWS::StackName}", "${CentralStackName}");
        expected.push(format!(
            "arn:${{AWS::Partition}}:iam::${{CentralAccountId}}:role/{central_name}"
        ));
    }
    let mut trusted_sorted = trusted.clone();
    trusted_sorted.sort();
    expected.sort();
    assert_eq!(trusted_sorted, expected);
    // And the central roles may assume that role by name, only in organization mode.
    for (name, role) in remediation_roles(&template) {
        let policies = role["Properties"]["Policies"].as_array().unwrap();
        let organization = policies
            .iter()
            .find(|p| p["Fn::If"][1]["PolicyName"] == "organization")
            .unwrap_or_else(|| panic!("{name}: organization policy"));
        assert_eq!(organization["Fn::If"][0], "OrganizationMode", "{name}");
        assert_eq!(
            organization["Fn::If"][1]["PolicyDocument"]["Statement"][0]["Resource"]["Fn::Sub"],
            "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}",
            "{name}"
        );
    }
}

/// Sweeps through the queue: each remediation consumes its own queue one job at a time, reports
/// partial batch failures, stays within the concurrency the parameter allows, and never sees a job
/// twice while it runs.
#[test]
fn each_remediation_consumes_its_own_sweep_queue() {
    let template = template();
    let resources = template["Resources"].as_object().unwrap();
    for (name, function) in functions(&template) {
        if name == "config-rule" {
            assert!(
                function["Properties"].get("Environment").is_none(),
                "config-rule sweeps nothing"
            );
            continue;
        }
        let (function_id, _) = resources
            .iter()
            .find(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"] == name.as_str())
            .unwrap();
        let env = &function["Properties"]["Environment"]["Variables"];
        let queue_id = env["SWEEP_QUEUE_URL"]["Fn::If"][1]["Ref"].as_str().unwrap();
        assert_eq!(env["SWEEP_QUEUE_URL"]["Fn::If"][0], "FanningOut", "{name}");
        assert_eq!(
            env["SWEEP_ACCOUNTS"]["Fn::If"][0], "OrganizationMode",
            "{name}"
        );
        let queue = &resources[queue_id];
        assert_eq!(queue["Type"], "AWS::SQS::Queue");
        assert_eq!(queue["Condition"], "FanningOut");
        let timeout = function["Properties"]["Timeout"]
            .as_u64()
            .or(template["Globals"]["Function"]["Timeout"].as_u64())
            .unwrap();
        assert!(
            queue["Properties"]["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout,
            "{name}: visibility timeout at least six times the function's"
        );
        assert!(
            queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].is_object(),
            "{name}"
        );
        let mappings: Vec<&Value> = resources
            .values()
            .filter(|r| r["Type"] == "AWS::Lambda::EventSourceMapping")
            .filter(|r| r["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] == queue_id)
            .collect();
        assert_eq!(mappings.len(), 1, "{name}: one consumer of its queue");
        let mapping = &mappings[0]["Properties"];
        assert_eq!(
            mapping["FunctionName"]["Ref"],
            format!("{function_id}.Alias"),
            "{name}"
        );
        assert_eq!(mapping["BatchSize"], 1, "{name}");
        assert_eq!(
            mapping["FunctionResponseTypes"],
            serde_json::json!(["ReportBatchItemFailures"])
        );
        assert_eq!(
            mapping["ScalingConfig"]["MaximumConcurrency"]["Ref"],
            "SweepConcurrency"
        );
    }
    let concurrency = &template["Parameters"]["SweepConcurrency"];
    // Lambda's bounds for an SQS event source's maximum concurrency (Lambda API Reference, ScalingConfig).
    assert_eq!(
        (
            concurrency["MinValue"].as_u64(),
            concurrency["MaxValue"].as_u64()
        ),
        (Some(2), Some(1000))
    );
    assert_eq!(
        template["Parameters"]["OrganizationId"]["Default"], "",
        "single-account by default"
    );
    assert_eq!(
        template["Parameters"]["SweepThroughQueue"]["Default"],
        "false"
    );
}

/// `sam build` cannot name a cargo profile, so the Makefile gives its release build the deploy
/// profile's settings through cargo's environment overrides: the two lists must stay the same.
#[test]
fn sam_build_gets_the_deploy_profile() {
    let root = remediation_tests::repo_root();
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let makefile = std::fs::read_to_string(root.join("Makefile")).expect("Makefile");
    let deploy: Vec<(String, String)> = cargo
        .split("[profile.deploy]")
        .nth(1)
        .expect("a [profile.deploy] in Cargo.toml")
        .lines()
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            (
                key.trim().to_string(),
                value.trim().trim_matches('"').to_string(),
            )
        })
        .filter(|(key, _)| key != "inherits")
        .collect();
    assert!(deploy.len() >= 3, "{deploy:?}");
    let overrides = makefile
        .lines()
        .find(|line| line.starts_with("SAM_DEPLOY_PROFILE :="))
        .expect("SAM_DEPLOY_PROFILE in the Makefile");
    let mut named: Vec<&str> = overrides
        .split_whitespace()
        .filter(|word| word.starts_with("CARGO_PROFILE_RELEASE_"))
        .collect();
    for (key, value) in &deploy {
        let wanted = format!(
            "CARGO_PROFILE_RELEASE_{}={value}",
            key.to_uppercase().replace('-', "_")
        );
        assert!(
            named.contains(&wanted.as_str()),
            "{wanted} missing from: {overrides}"
        );
        named.retain(|word| *word != wanted);
    }
    assert!(
        named.is_empty(),
        "overrides not in [profile.deploy]: {named:?}"
    );
    // And sam-build passes them.
    assert!(makefile.contains("$(SAM_DEPLOY_PROFILE) $(SAM) build"));
}
