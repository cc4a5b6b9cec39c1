//! The SAM template against the code: every function is deployed, each role grants exactly the
//! actions the function's code calls (plus logging, the dead-letter queue and the key), nothing more.

use std::collections::BTreeSet;
use std::process::Command;

use remediation::catalog::{iam_actions, FUNCTIONS};
use remediation_tests::{moto::python, repo_root};
use serde_json::Value;

/// Actions every function needs to run at all, whatever its code does.
const RUNTIME_ACTIONS: &[&str] = &[
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:SendMessage",
    "kms:GenerateDataKey",
    "kms:Decrypt",
];

/// The template as JSON (it uses the long form of intrinsic functions, so plain YAML reads it).
fn template() -> Value {
    let output = Command::new(python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(repo_root().join("template.yaml"))
        .output()
        .expect("python with PyYAML (make venv)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("template JSON")
}

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
        let needed: BTreeSet<&str> = iam_actions(&name).into_iter().collect();
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
            }
        }
    }
}

#[test]
fn the_ec2_mutating_functions_have_reserved_concurrency_and_every_function_a_dead_letter_queue() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["DeadLetterQueue"]["Type"], "SQS");
    assert!(
        globals["EventInvokeConfig"]["MaximumRetryAttempts"]
            .as_u64()
            .unwrap()
            <= 2
    );
    for (name, function) in functions(&template) {
        let reserved = function["Properties"]["ReservedConcurrentExecutions"].as_u64();
        if name == "open-security-group" || name == "untagged-instance" {
            assert!(reserved.is_some_and(|r| r <= 5), "{name}: {reserved:?}");
        }
        assert_eq!(
            function["Properties"]["LoggingConfig"]["LogFormat"], "JSON",
            "{name}"
        );
    }
}
