//! A security group as an AWS Config configuration item describes it (for the Config rule), read
//! into the policy's own types.

use serde_json::Value;

use super::policy::{IngressRule, RuleSource};
use crate::shape::str_field;

/// Ingress rules from a security group item's `configuration.ipPermissions` (rule ids are not in
/// the item; the verdict does not need them).
pub fn rules_from_item(item: &Value) -> Vec<IngressRule> {
    let mut rules = Vec::new();
    for permission in item
        .pointer("/configuration/ipPermissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let protocol = str_field(permission, "ipProtocol")
            .unwrap_or("-1")
            .to_string();
        let port = |name: &str| {
            permission
                .get(name)
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(-1)
        };
        let rule = |source: RuleSource| IngressRule {
            rule_id: String::new(),
            protocol: protocol.clone(),
            from_port: port("fromPort"),
            to_port: port("toPort"),
            source,
            description: String::new(),
        };
        // `ipv4Ranges` (objects) is the current field; older items only have `ipRanges` (strings).
        let v4: Vec<String> = match permission.get("ipv4Ranges").and_then(Value::as_array) {
            Some(ranges) => ranges
                .iter()
                .filter_map(|r| str_field(r, "cidrIp").map(String::from))
                .collect(),
            None => permission
                .get("ipRanges")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().or_else(|| str_field(r, "cidrIp")))
                .map(String::from)
                .collect(),
        };
        rules.extend(v4.into_iter().map(|c| rule(RuleSource::Ipv4(c))));
        for range in permission
            .get("ipv6Ranges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(cidr) = str_field(range, "cidrIpv6") {
                rules.push(rule(RuleSource::Ipv6(cidr.to_string())));
            }
        }
        // A prefix list's entries are not in the item: see [`references_prefix_list`].
        for entry in permission
            .get("prefixListIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = str_field(entry, "prefixListId") {
                rules.push(rule(RuleSource::PrefixList {
                    id: id.to_string(),
                    internet: Vec::new(),
                }));
            }
        }
        for entry in permission
            .get("userIdGroupPairs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = str_field(entry, "groupId").unwrap_or("userIdGroupPairs");
            rules.push(rule(RuleSource::Other(id.to_string())));
        }
    }
    rules
}

/// Whether an ingress rule of the item references a prefix list. Config's item holds the list's id,
/// not its entries, so such a group is judged on its current state, read as the remediation reads it.
pub fn references_prefix_list(item: &Value) -> bool {
    rules_from_item(item)
        .iter()
        .any(|rule| matches!(rule.source, RuleSource::PrefixList { .. }))
}
