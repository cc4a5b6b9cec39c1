//! The way back from a security group fix, pure: the rules it revoked (with their descriptions) and
//! the rules it added, in the EC2 API's `IpPermission` shape, and the calls that restore the group.

use serde_json::{json, Map, Value};

use super::policy::{IngressRule, Reopen, RuleSource};
use crate::undo::{same_rule, Call, Restore};

/// One rule as an `IpPermission` of `AuthorizeSecurityGroupIngress` (one source per rule).
pub fn rule_json(rule: &IngressRule) -> Value {
    permission(
        &rule.protocol,
        rule.from_port,
        rule.to_port,
        &rule.source,
        &rule.description,
    )
}

/// An allowed range re-opened by the fix, as the rule it added.
pub fn reopen_json(reopen: &Reopen) -> Value {
    permission(
        "tcp",
        i32::from(*reopen.ports.start()),
        i32::from(*reopen.ports.end()),
        &reopen.source,
        &reopen.description(),
    )
}

fn permission(protocol: &str, from: i32, to: i32, source: &RuleSource, description: &str) -> Value {
    let mut range = Map::new();
    let list = match source {
        RuleSource::Ipv4(cidr) => {
            range.insert("CidrIp".into(), json!(cidr));
            "IpRanges"
        }
        RuleSource::Ipv6(cidr) => {
            range.insert("CidrIpv6".into(), json!(cidr));
            "Ipv6Ranges"
        }
        RuleSource::PrefixList { id, .. } => {
            range.insert("PrefixListId".into(), json!(id));
            "PrefixListIds"
        }
        RuleSource::Other(group) => {
            range.insert("GroupId".into(), json!(group));
            "UserIdGroupPairs"
        }
    };
    if !description.is_empty() {
        range.insert("Description".into(), json!(description));
    }
    let mut out = Map::new();
    out.insert("IpProtocol".into(), json!(protocol));
    // Protocol -1 has no ports (EC2 ignores them); ICMP's -1 means every type and code.
    if protocol != "-1" {
        out.insert("FromPort".into(), json!(from));
        out.insert("ToPort".into(), json!(to));
    }
    out.insert(list.into(), json!([range]));
    Value::Object(out)
}

/// A group whose `revoked` rules are gone and whose `reopened` ranges were authorized: the rules it
/// had before are put back, and only the rules the fix really added (not those that were there
/// already, which EC2 answered `InvalidPermission.Duplicate`) are revoked. `at_quota`: the group had
/// no free rule slot, so the added rules go first, freeing slots for the restored ones; otherwise the
/// restored rules go first, so the allowed ports never close.
pub fn group(
    group_id: &str,
    revoked: &[IngressRule],
    reopened: &[Reopen],
    before: &[IngressRule],
    at_quota: bool,
) -> Restore {
    let prior: Vec<Value> = revoked.iter().map(rule_json).collect();
    let existing: Vec<Value> = before.iter().map(rule_json).collect();
    let added: Vec<Value> = reopened
        .iter()
        .map(reopen_json)
        .filter(|rule| !existing.iter().any(|e| same_rule(e, rule)))
        .collect();
    let mut authorize = Vec::new();
    if !prior.is_empty() {
        authorize.push(Call::new(
            "ec2",
            "AuthorizeSecurityGroupIngress",
            json!({"GroupId": group_id, "IpPermissions": prior}),
            &["ingress"],
        ));
    }
    let mut revoke = Vec::new();
    if !added.is_empty() {
        // Revoking by content: a description is not part of what identifies a rule.
        let without_descriptions: Vec<Value> = added.iter().map(without_description).collect();
        revoke.push(Call::new(
            "ec2",
            "RevokeSecurityGroupIngress",
            json!({"GroupId": group_id, "IpPermissions": without_descriptions}),
            &["ingress"],
        ));
    }
    let calls = if at_quota {
        [revoke, authorize].concat()
    } else {
        [authorize, revoke].concat()
    };
    Restore::default().part("ingress", json!(prior), json!(added), calls)
}

fn without_description(rule: &Value) -> Value {
    let mut rule = rule.clone();
    if let Some(fields) = rule.as_object_mut() {
        for ranges in fields.values_mut().filter_map(Value::as_array_mut) {
            for range in ranges.iter_mut().filter_map(Value::as_object_mut) {
                range.remove("Description");
            }
        }
    }
    rule
}
