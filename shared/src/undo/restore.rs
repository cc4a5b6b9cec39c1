//! What a fix changed and how to put it back, pure: the `prior` state (as read before the change), the
//! `after` state (as the fix left it), and the `undo` calls, in order, with the API's own operation and
//! parameter names. Each resource builds its own in its `undo.rs`; `remediation-undo` carries them out.
//!
//! A state is kept per *part* of the resource (`acl`, `policy`, `block_public_access`, `ingress`,
//! `state`, `stop_after`), and each call names the part it restores, so that the undo tool can tell, part
//! by part, whether the resource is still as the fix left it (restore it), already as it was before
//! (nothing to do: a second run changes nothing), or changed since by someone else (refuse).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The before, the after and the way back of one remediated resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Restore {
    /// Each part the fix changed, exactly as read before the change.
    pub prior: BTreeMap<String, Value>,
    /// The same parts as the fix left them.
    pub after: BTreeMap<String, Value>,
    /// The calls that restore `prior`, in order.
    pub undo: Vec<Call>,
}

/// One AWS call of an undo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// `s3`, `s3control` or `ec2`.
    pub service: String,
    /// The API's operation name (`PutBucketAcl`).
    pub operation: String,
    /// The operation's parameters, with the API's own names.
    pub parameters: Value,
    /// The parts of `prior` this call helps restore: it is made while any of them is still as the
    /// fix left it, and skipped once they are all as before.
    pub restores: Vec<String>,
}

impl Call {
    pub fn new(service: &str, operation: &str, parameters: Value, restores: &[&str]) -> Self {
        Call {
            service: service.to_string(),
            operation: operation.to_string(),
            parameters,
            restores: restores.iter().map(|part| part.to_string()).collect(),
        }
    }
}

impl Restore {
    /// Records one part: its state before and after, and the calls that bring it back.
    pub fn part(mut self, name: &str, prior: Value, after: Value, calls: Vec<Call>) -> Self {
        self.prior.insert(name.to_string(), prior);
        self.after.insert(name.to_string(), after);
        self.undo.extend(calls);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.undo.is_empty()
    }
}

/// Where a part of the resource stands now, compared with the remediation's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartState {
    /// As the fix left it: the undo calls for it restore it.
    AsFixed,
    /// Already as it was before the fix: nothing to restore.
    AsBefore,
    /// Neither: someone changed it since; what differs, for a person.
    Changed(String),
}

/// Judges one part: `current` as read now (in the same shape as `prior` and `after`). For `ingress`
/// the shapes differ: `prior` holds the rules the fix revoked, `after` the rules it added, and
/// `current` every ingress rule the group has now; see [`judge_rules`].
pub fn judge_part(name: &str, prior: &Value, after: &Value, current: &Value) -> PartState {
    if name == "ingress" {
        return judge_rules(prior, after, current);
    }
    let (prior, after, now) = (
        normalize(name, prior),
        normalize(name, after),
        normalize(name, current),
    );
    if now == after {
        PartState::AsFixed
    } else if now == prior {
        PartState::AsBefore
    } else {
        PartState::Changed(format!(
            "{name} is now {}; the remediation left it {}",
            compact(current),
            compact(&after)
        ))
    }
}

/// Security group rules by content: the fix revoked `prior` and added `after`. As fixed: none of the
/// revoked rules is back and every added rule is there; as before: the reverse.
pub fn judge_rules(revoked: &Value, added: &Value, current: &Value) -> PartState {
    let now: Vec<Value> = rules(current).iter().map(rule_key).collect();
    let present = |rule: &Value| now.contains(&rule_key(rule));
    let (revoked, added) = (rules(revoked), rules(added));
    let revoked_back: Vec<&Value> = revoked.iter().filter(|r| present(r)).collect();
    let added_there: Vec<&Value> = added.iter().filter(|r| present(r)).collect();
    if revoked_back.is_empty() && added_there.len() == added.len() {
        PartState::AsFixed
    } else if revoked_back.len() == revoked.len() && added_there.is_empty() {
        PartState::AsBefore
    } else {
        let mut differs = Vec::new();
        if !revoked_back.is_empty() {
            differs.push(format!(
                "{} of the {} revoked rule(s) are back: {}",
                revoked_back.len(),
                revoked.len(),
                revoked_back
                    .iter()
                    .map(|r| rule_text(r))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let missing: Vec<String> = added
            .iter()
            .filter(|r| !present(r))
            .map(rule_text)
            .collect();
        if !missing.is_empty() {
            differs.push(format!(
                "rule(s) the remediation added are gone: {}",
                missing.join(", ")
            ));
        }
        PartState::Changed(format!("ingress: {}", differs.join("; ")))
    }
}

fn rules(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

/// Whether two rules in `IpPermission` shape let the same traffic in (ids and descriptions aside).
pub fn same_rule(a: &Value, b: &Value) -> bool {
    rule_key(a) == rule_key(b)
}

/// A rule by what it lets in (protocol, ports, source), not by its id or description.
fn rule_key(rule: &Value) -> Value {
    let protocol = match rule["IpProtocol"]
        .as_str()
        .unwrap_or("")
        .to_ascii_lowercase()
        .as_str()
    {
        "6" => "tcp".to_string(),
        "17" => "udp".to_string(),
        "1" => "icmp".to_string(),
        "58" => "icmpv6".to_string(),
        "all" => "-1".to_string(),
        other => other.to_string(),
    };
    let ports = if protocol == "-1" {
        json!([-1, -1])
    } else {
        json!([rule["FromPort"], rule["ToPort"]])
    };
    json!([protocol, ports, rule_source(rule)])
}

/// The one source of a rule in `IpPermission` shape (one range per rule).
pub fn rule_source(rule: &Value) -> String {
    let first = |list: &str, field: &str| {
        rule[list]
            .as_array()
            .and_then(|l| l.first())
            .and_then(|r| r[field].as_str())
            .map(String::from)
    };
    first("IpRanges", "CidrIp")
        .or_else(|| first("Ipv6Ranges", "CidrIpv6"))
        .or_else(|| first("PrefixListIds", "PrefixListId"))
        .or_else(|| first("UserIdGroupPairs", "GroupId"))
        .unwrap_or_default()
}

/// A rule for a person: `tcp 22 from 0.0.0.0/0`.
pub fn rule_text(rule: &Value) -> String {
    let key = rule_key(rule);
    let protocol = key[0].as_str().unwrap_or("");
    let (from, to) = (
        key[1][0].as_i64().unwrap_or(-1),
        key[1][1].as_i64().unwrap_or(-1),
    );
    let ports = match (protocol, from, to) {
        ("-1", _, _) => "all traffic".to_string(),
        (_, -1, _) => protocol.to_string(),
        (_, f, t) if f == t => format!("{protocol} {f}"),
        (_, f, t) => format!("{protocol} {f}-{t}"),
    };
    format!("{ports} from {}", rule_source(rule))
}

/// Two readings of a part compare equal when they mean the same: an ACL by owner id and its grants in
/// any order (display names are informational, and S3 stops returning them), a policy by its JSON,
/// Block Public Access with a missing setting as off.
fn normalize(name: &str, value: &Value) -> Value {
    match name {
        "acl" if !value.is_null() => {
            let mut grants: Vec<Value> = value["Grants"]
                .as_array()
                .map(|grants| grants.iter().map(normalize_grant).collect())
                .unwrap_or_default();
            grants.sort_by_key(|g| g.to_string());
            json!({"Owner": value["Owner"]["ID"], "Grants": grants})
        }
        "policy" => match value.as_str() {
            Some(text) => serde_json::from_str(text).unwrap_or_else(|_| value.clone()),
            None => Value::Null,
        },
        "block_public_access" if !value.is_null() => {
            let on = |field: &str| value[field].as_bool().unwrap_or(false);
            json!([
                on("BlockPublicAcls"),
                on("IgnorePublicAcls"),
                on("BlockPublicPolicy"),
                on("RestrictPublicBuckets")
            ])
        }
        _ => value.clone(),
    }
}

fn normalize_grant(grant: &Value) -> Value {
    let grantee = &grant["Grantee"];
    json!({
        "Type": grantee["Type"],
        "ID": grantee["ID"],
        "URI": grantee["URI"],
        "EmailAddress": grantee["EmailAddress"],
        "Permission": grant["Permission"],
    })
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 300 {
        format!("{}...", text.chars().take(300).collect::<String>())
    } else {
        text
    }
}

/// The undo as `aws` CLI commands a person can paste (the email's last lines).
pub fn cli_commands(undo: &[Call], region: &str) -> Vec<String> {
    undo.iter()
        .map(|call| {
            let service = match call.service.as_str() {
                "s3" => "s3api",
                other => other,
            };
            let mut command = format!("aws {service} {}", kebab(&call.operation));
            if !region.is_empty() {
                command.push_str(&format!(" --region {region}"));
            }
            if let Some(parameters) = call.parameters.as_object() {
                for (name, value) in parameters {
                    // Strings and lists of strings as words (`--instance-ids i-1 i-2`), structures as
                    // JSON, which the CLI takes for any parameter.
                    let words: Vec<String> = match value {
                        Value::String(s) => vec![shell_quote(s)],
                        Value::Array(items) if items.iter().all(Value::is_string) => items
                            .iter()
                            .filter_map(Value::as_str)
                            .map(shell_quote)
                            .collect(),
                        other => vec![shell_quote(&other.to_string())],
                    };
                    command.push_str(&format!(" --{} {}", kebab(name), words.join(" ")));
                }
            }
            command
        })
        .collect()
}

/// `PutBucketAcl` -> `put-bucket-acl`, `IpPermissions` -> `ip-permissions`, `CidrIpv4` -> `cidr-ipv4`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let after_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
        let before_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if c.is_uppercase()
            && i > 0
            && (after_lower || (before_lower && chars[i - 1].is_uppercase()))
        {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// One shell word: plain when safe, otherwise single-quoted.
fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_and_parameter_names_become_the_cli_s() {
        for (name, cli) in [
            ("PutBucketAcl", "put-bucket-acl"),
            ("AccessControlPolicy", "access-control-policy"),
            ("IpPermissions", "ip-permissions"),
            ("GroupId", "group-id"),
            ("InstanceIds", "instance-ids"),
            ("AccountId", "account-id"),
            (
                "PublicAccessBlockConfiguration",
                "public-access-block-configuration",
            ),
            (
                "AuthorizeSecurityGroupIngress",
                "authorize-security-group-ingress",
            ),
        ] {
            assert_eq!(kebab(name), cli);
        }
    }

    #[test]
    fn cli_commands_quote_what_the_shell_would_split() {
        let call = Call::new(
            "s3",
            "PutBucketPolicy",
            json!({"Bucket": "b", "Policy": "{\"Sid\":\"it's\"}"}),
            &["policy"],
        );
        assert_eq!(
            cli_commands(&[call], "eu-west-1"),
            vec![
                r#"aws s3api put-bucket-policy --region eu-west-1 --bucket b --policy '{"Sid":"it'\''s"}'"#
            ]
        );
    }

    #[test]
    fn lists_of_ids_are_words_and_structures_json() {
        let start = Call::new(
            "ec2",
            "StartInstances",
            json!({"InstanceIds": ["i-1", "i-2"]}),
            &["state"],
        );
        let untag = Call::new(
            "ec2",
            "DeleteTags",
            json!({"Resources": ["i-1"], "Tags": [{"Key": "remediation:stop-after"}]}),
            &["stop_after"],
        );
        assert_eq!(
            cli_commands(&[start, untag], ""),
            [
                "aws ec2 start-instances --instance-ids i-1 i-2",
                r#"aws ec2 delete-tags --resources i-1 --tags '[{"Key":"remediation:stop-after"}]'"#
            ]
        );
    }

    #[test]
    fn a_part_is_judged_as_fixed_as_before_or_changed() {
        let on = json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true});
        assert_eq!(
            judge_part("block_public_access", &Value::Null, &on, &on),
            PartState::AsFixed
        );
        assert_eq!(
            judge_part("block_public_access", &Value::Null, &on, &Value::Null),
            PartState::AsBefore
        );
        let half = json!({"BlockPublicAcls": true});
        assert!(matches!(
            judge_part("block_public_access", &Value::Null, &on, &half),
            PartState::Changed(_)
        ));
        // A policy by meaning, not by its whitespace.
        assert_eq!(
            judge_part(
                "policy",
                &json!("{\"a\": 1}"),
                &Value::Null,
                &json!("{\"a\":1}")
            ),
            PartState::AsBefore
        );
    }

    #[test]
    fn acls_compare_by_owner_and_grants_in_any_order_without_display_names() {
        let grant =
            |uri: &str, p: &str| json!({"Grantee": {"Type": "Group", "URI": uri}, "Permission": p});
        let prior = json!({"Owner": {"ID": "o", "DisplayName": "me"}, "Grants": [grant("a", "READ"), grant("b", "WRITE")]});
        let after = json!({"Owner": {"ID": "o"}, "Grants": [grant("b", "WRITE")]});
        let reordered =
            json!({"Owner": {"ID": "o"}, "Grants": [grant("b", "WRITE"), grant("a", "READ")]});
        assert_eq!(
            judge_part("acl", &prior, &after, &reordered),
            PartState::AsBefore
        );
        assert_eq!(
            judge_part("acl", &prior, &after, &after),
            PartState::AsFixed
        );
        let other = json!({"Owner": {"ID": "o"}, "Grants": [grant("c", "READ")]});
        assert!(matches!(
            judge_part("acl", &prior, &after, &other),
            PartState::Changed(_)
        ));
    }

    #[test]
    fn rules_are_judged_by_what_they_let_in() {
        let rule = |p: &str, from: i64, to: i64, cidr: &str| json!({"IpProtocol": p, "FromPort": from, "ToPort": to, "IpRanges": [{"CidrIp": cidr, "Description": "x"}]});
        let revoked = json!([rule("tcp", 0, 65535, "0.0.0.0/0")]);
        let added = json!([rule("tcp", 443, 443, "0.0.0.0/0")]);
        let unrelated = rule("tcp", 22, 22, "10.0.0.0/8");
        assert_eq!(
            judge_rules(
                &revoked,
                &added,
                &json!([rule("6", 443, 443, "0.0.0.0/0"), unrelated])
            ),
            PartState::AsFixed
        );
        assert_eq!(
            judge_rules(
                &revoked,
                &added,
                &json!([rule("tcp", 0, 65535, "0.0.0.0/0"), unrelated])
            ),
            PartState::AsBefore
        );
        let both = json!([
            rule("tcp", 0, 65535, "0.0.0.0/0"),
            rule("tcp", 443, 443, "0.0.0.0/0")
        ]);
        match judge_rules(&revoked, &added, &both) {
            PartState::Changed(why) => assert!(why.contains("tcp 0-65535 from 0.0.0.0/0"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
