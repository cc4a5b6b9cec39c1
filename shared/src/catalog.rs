//! The four functions as the template and the tests see them: their binary names, the IAM actions
//! their code needs, and which triggers each one acts on.

use crate::organization::aws as organization;
use crate::trigger::{Trigger, TriggerEvent};
use crate::{config_rule, instance, notify, s3, security_group, security_hub};

pub const FUNCTIONS: [&str; 4] = [
    "s3-public-access",
    "open-security-group",
    "untagged-instance",
    "config-rule",
];

/// Every IAM action `function` needs for the AWS calls it makes (sts:GetCallerIdentity, used by
/// the loop guard, needs none).
pub fn iam_actions(function: &str) -> Vec<&'static str> {
    let lists: &[&[&'static str]] = match function {
        "s3-public-access" | "open-security-group" | "untagged-instance" => &[
            member_actions(function),
            notify::IAM_ACTIONS,
            organization::IAM_ACTIONS,
            organization::SWEEP_QUEUE_IAM_ACTIONS,
            security_hub::IAM_ACTIONS,
        ],
        "config-rule" => &[config_rule::IAM_ACTIONS],
        _ => &[],
    };
    let mut actions: Vec<&'static str> = lists.iter().flat_map(|l| l.iter().copied()).collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

/// The IAM actions a remediation calls in the account it fixes: what its own role grants in a single
/// account, and what the member role grants it in every other account of an organization.
pub fn member_actions(function: &str) -> &'static [&'static str] {
    match function {
        "s3-public-access" => s3::IAM_ACTIONS,
        "open-security-group" => security_group::IAM_ACTIONS,
        "untagged-instance" => instance::IAM_ACTIONS,
        _ => &[],
    }
}

/// Whether `function` acts on `trigger` (`Err` says why not). Sweeps count as handled by the
/// remediations; Config rule invocations only by `config-rule`.
pub fn handles(function: &str, trigger: &Trigger) -> Result<(), String> {
    let sweep = trigger.is_sweep();
    let rule_invocation = matches!(trigger.event, TriggerEvent::ConfigRule(_));
    match function {
        "config-rule" if rule_invocation => Ok(()),
        "config-rule" => Err("not a Config rule invocation".to_string()),
        _ if sweep || trigger.is_exemption_report() => Ok(()),
        "s3-public-access" => s3::targets_of(trigger).map(|_| ()).map_err(|u| u.reason),
        // A changed prefix list points at the groups that use it, read when the event comes.
        "open-security-group" if security_group::changed_prefix_list(trigger).is_some() => Ok(()),
        "open-security-group" => security_group::targets_of(trigger)
            .map(|_| ())
            .map_err(|u| u.reason),
        "untagged-instance" => instance::targets_of(trigger)
            .map(|_| ())
            .map_err(|u| u.reason),
        other => Err(format!("no function named {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::parse_payload;
    use std::path::PathBuf;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The IAM action of an SDK fluent call (`get_bucket_acl` -> `s3:GetBucketAcl`).
    fn iam_action(service: &str, call: &str) -> Option<String> {
        let renamed = match (service, call) {
            ("s3", "get_public_access_block") => Some("s3:GetBucketPublicAccessBlock"),
            ("s3", "put_public_access_block") => Some("s3:PutBucketPublicAccessBlock"),
            // "To use this operation, you must have the s3:PutBucketPublicAccessBlock permission"
            // (S3 API Reference, DeletePublicAccessBlock); the account-level twin likewise.
            ("s3", "delete_public_access_block") => Some("s3:PutBucketPublicAccessBlock"),
            ("s3control", "delete_public_access_block") => Some("s3:PutAccountPublicAccessBlock"),
            ("s3", "list_buckets") => Some("s3:ListAllMyBuckets"),
            // S3 Control's account-level settings (S3 API reference, S3 Control PutPublicAccessBlock).
            ("s3control", "get_public_access_block") => Some("s3:GetAccountPublicAccessBlock"),
            ("s3control", "put_public_access_block") => Some("s3:PutAccountPublicAccessBlock"),
            // PublishBatch is authorized as sns:Publish (SNS Developer Guide, "Amazon SNS API
            // permissions: Actions and resources reference").
            ("sns", "publish_batch") => Some("sns:Publish"),
            // GetCallerIdentity needs no permission.
            ("sts", "get_caller_identity") => return None,
            _ => None,
        };
        if let Some(action) = renamed {
            return Some(action.to_string());
        }
        let pascal: String = call
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        Some(format!("{service}:{pascal}"))
    }

    /// The SDK operations a module's source calls on `receiver` (`client`, `config`, `sts`).
    fn calls_in(source: &str, receiver: &str) -> Vec<String> {
        let flat: String = source.chars().filter(|c| !c.is_whitespace()).collect();
        let needle = format!("{receiver}.");
        let mut calls = Vec::new();
        let mut rest = flat.as_str();
        while let Some(at) = rest.find(&needle) {
            rest = &rest[at + needle.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if rest[name.len()..].starts_with("()") && !name.is_empty() {
                calls.push(name);
            }
        }
        calls.sort();
        calls.dedup();
        calls
    }

    #[test]
    fn each_module_lists_the_iam_action_of_every_call_it_makes() {
        for (file, receivers, listed) in [
            (
                "s3/aws.rs",
                &[("s3", "client"), ("s3control", "control")][..],
                s3::IAM_ACTIONS,
            ),
            (
                "security_group/aws.rs",
                &[("ec2", "client")],
                security_group::IAM_ACTIONS,
            ),
            (
                "instance/aws.rs",
                &[("ec2", "client")],
                instance::IAM_ACTIONS,
            ),
            ("notify/mod.rs", &[("sns", "client")], notify::IAM_ACTIONS),
            (
                "notify/mod.rs",
                &[("sqs", "sqs")],
                notify::UNDELIVERED_IAM_ACTIONS,
            ),
            (
                "config_rule/aws.rs",
                &[("config", "config")],
                config_rule::IAM_ACTIONS,
            ),
            (
                "undo/aws.rs",
                &[("ec2", "ec2")],
                crate::undo::aws::IAM_ACTIONS,
            ),
            (
                "security_hub/aws.rs",
                &[("securityhub", "client")],
                security_hub::IAM_ACTIONS,
            ),
        ] {
            let source = std::fs::read_to_string(repo().join("shared/src").join(file)).unwrap();
            let actions: Vec<(String, String)> = receivers
                .iter()
                .flat_map(|(service, receiver)| {
                    calls_in(&source, receiver)
                        .into_iter()
                        .map(|call| (iam_action(service, &call).unwrap(), call))
                })
                .collect();
            assert!(!actions.is_empty(), "{file}: no SDK calls found");
            for (action, call) in &actions {
                assert!(
                    listed.contains(&action.as_str()),
                    "{file} calls {call}: {action} is not in its IAM_ACTIONS"
                );
            }
            // Both read through the remediations' own actions, so list more than they call here.
            if file != "config_rule/aws.rs" && file != "undo/aws.rs" {
                for action in listed {
                    assert!(
                        actions.iter().any(|(a, _)| a == action),
                        "{file} lists {action} but never calls it"
                    );
                }
            }
        }
        let identity = std::fs::read_to_string(repo().join("shared/src/identity.rs")).unwrap();
        assert!(calls_in(&identity, "sts").contains(&"get_caller_identity".to_string()));
    }

    /// The layers stay apart: targets, policy and item readers are pure (no SDK types, no calls);
    /// only `aws.rs` talks to AWS.
    #[test]
    fn only_the_aws_layer_calls_aws() {
        for folder in ["s3", "security_group", "instance", "config_rule"] {
            let dir = repo().join("shared/src").join(folder);
            let mut layers = Vec::new();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                layers.push(name.clone());
                if ![
                    "policy.rs",
                    "targets.rs",
                    "item.rs",
                    "parameters.rs",
                    "undo.rs",
                ]
                .contains(&name.as_str())
                {
                    continue;
                }
                let source = std::fs::read_to_string(&path).unwrap();
                for forbidden in ["aws_sdk_", "aws_config", ".send()", "async fn"] {
                    assert!(
                        !source.contains(forbidden),
                        "{folder}/{name} is a pure layer but uses {forbidden}"
                    );
                }
            }
            for required in ["mod.rs", "policy.rs", "aws.rs"] {
                assert!(
                    layers.iter().any(|l| l == required),
                    "{folder} has no {required}"
                );
            }
        }
    }

    #[test]
    fn the_config_rule_only_reads() {
        let mut remediation_reads: Vec<&str> = s3::IAM_ACTIONS
            .iter()
            .chain(security_group::IAM_ACTIONS)
            .chain(instance::IAM_ACTIONS)
            .copied()
            .filter(|a| a.contains(":Get") || a.contains(":Describe") || a.contains(":List"))
            .collect();
        remediation_reads.push("config:PutEvaluations");
        for action in config_rule::IAM_ACTIONS {
            assert!(remediation_reads.contains(action), "{action}");
        }
    }

    #[test]
    fn every_sample_event_is_handled_by_its_function_or_named_ignored() {
        for function in FUNCTIONS {
            let dir = repo().join("events").join(function);
            let mut count = 0;
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                let payload: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let verdicts: Vec<Result<(), String>> = parse_payload(&payload)
                    .into_iter()
                    .map(|parsed| {
                        parsed
                            .map_err(|i| i.reason)
                            .and_then(|t| handles(function, &t))
                    })
                    .collect();
                let handled = verdicts.iter().all(Result::is_ok);
                // The loop guard's sample is a valid event; the running function ignores it by role.
                let expect_handled =
                    !name.starts_with("ignored-") || name.contains("by-remediation-role");
                assert_eq!(handled, expect_handled, "{function}/{name}: {verdicts:?}");
                count += 1;
            }
            assert!(count >= 3, "{function} has sample events");
        }
    }

    #[test]
    fn functions_do_not_handle_each_others_events() {
        let path = repo().join("events/untagged-instance/instance-running.json");
        let payload: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let trigger = parse_payload(&payload).remove(0).unwrap();
        assert!(handles("untagged-instance", &trigger).is_ok());
        for other in ["s3-public-access", "open-security-group", "config-rule"] {
            assert!(handles(other, &trigger).is_err(), "{other}");
        }
    }
}
