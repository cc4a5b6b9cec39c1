//! Which security groups an event points at (pure). A scheduled sweep reads every group instead
//! (`OpenSecurityGroup::targets`).

use serde_json::Value;

use super::policy::{is_internet_wide, GroupState};
use crate::invocation::Unrelated;
use crate::shape::{ec2_items, str_field};
use crate::trigger::{ApiCall, Trigger, TriggerEvent};

/// A group to check, and the ports a finding was about (empty: all of them).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupTarget {
    pub group_id: String,
    pub focus_ports: Vec<u16>,
    /// State already read by a sweep (rules and exemption), so the check needs no more calls.
    pub prefetched: Option<GroupState>,
}

impl GroupTarget {
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupTarget {
            group_id: group_id.into(),
            focus_ports: Vec::new(),
            prefetched: None,
        }
    }
}

/// The group ids an event points at, or why the event is not for this function.
pub fn targets_of(trigger: &Trigger) -> Result<Vec<GroupTarget>, Unrelated> {
    match &trigger.event {
        TriggerEvent::ApiCall(call) => api_call_targets(call),
        TriggerEvent::Compliance(change) if change.resource_type == "AWS::EC2::SecurityGroup" => {
            Ok(vec![GroupTarget::new(&change.resource_id)])
        }
        TriggerEvent::Compliance(change) => Err(Unrelated::new(format!(
            "Config rule {} is about {}, not a security group",
            change.rule_name, change.resource_type
        ))),
        TriggerEvent::Finding(finding) => {
            let exposed = finding
                .finding_type
                .starts_with("Recon:EC2/PortProbeUnprotectedPort")
                || finding
                    .finding_type
                    .starts_with("UnauthorizedAccess:EC2/SSHBruteForce")
                || finding
                    .finding_type
                    .starts_with("UnauthorizedAccess:EC2/RDPBruteForce");
            if !exposed {
                return Err(Unrelated::new(format!(
                    "GuardDuty finding type {} is not about an exposed port",
                    finding.finding_type
                )));
            }
            if finding.resource_role.as_deref() == Some("ACTOR") {
                return Err(Unrelated::new(format!(
                    "GuardDuty finding {}: the instance is the attacker, not the target",
                    finding.id
                )));
            }
            if finding.security_group_ids.is_empty() {
                return Err(Unrelated::new(format!(
                    "GuardDuty finding {} names no security group",
                    finding.id
                )));
            }
            Ok(finding
                .security_group_ids
                .iter()
                .map(|id| GroupTarget {
                    focus_ports: finding.ports.clone(),
                    ..GroupTarget::new(id)
                })
                .collect())
        }
        TriggerEvent::SecurityHub(finding) => Ok(finding
            .resources_for("AwsEc2SecurityGroup", "a security group")?
            .into_iter()
            .map(GroupTarget::new)
            .collect()),
        TriggerEvent::Schedule { .. } | TriggerEvent::Job(_) => Err(Unrelated::new(
            "scheduled sweeps list the groups themselves",
        )),
        TriggerEvent::StateChange(_) | TriggerEvent::ConfigRule(_) => Err(Unrelated::new(format!(
            "{} events are not about security groups",
            trigger.source
        ))),
    }
}

fn api_call_targets(call: &ApiCall) -> Result<Vec<GroupTarget>, Unrelated> {
    if call.event_source != "ec2.amazonaws.com" {
        return Err(Unrelated::new(format!(
            "{} from {} is not an EC2 call",
            call.event_name, call.event_source
        )));
    }
    let request = &call.request;
    let group_ids: Vec<String> = match call.event_name.as_str() {
        "AuthorizeSecurityGroupIngress" => {
            if !request_opens_to_internet(request) && !response_opens_to_internet(&call.response) {
                return Err(Unrelated::new(
                    "AuthorizeSecurityGroupIngress added no rule open to the internet",
                ));
            }
            group_from_request_or_response(call).into_iter().collect()
        }
        "ModifySecurityGroupRules" => group_from_request_or_response(call).into_iter().collect(),
        // Which groups use the list is not in the event: `OpenSecurityGroup::targets` reads them.
        "ModifyManagedPrefixList" | "RestoreManagedPrefixListVersion" => {
            return Err(Unrelated::new(match changed_list(call) {
                Some(list) => format!("{} changed prefix list {list}: the groups that use it are found by reading every group", call.event_name),
                None => format!("{} names no prefix list", call.event_name),
            }))
        }
        // A new group starts with no ingress; the event only matters when it came with rules
        // (e.g. CloudFormation), so check it.
        "CreateSecurityGroup" => str_field(&call.response, "groupId")
            .map(String::from)
            .into_iter()
            .collect(),
        other => {
            return Err(Unrelated::new(format!(
                "EC2 call {other} does not change security group ingress"
            )))
        }
    };
    if group_ids.is_empty() {
        return Err(Unrelated::new(format!(
            "{} names no security group",
            call.event_name
        )));
    }
    Ok(group_ids.into_iter().map(GroupTarget::new).collect())
}

/// The prefix list whose entries a CloudTrail call changed (`ModifyManagedPrefixList`, which can add
/// `0.0.0.0/0` to a list groups already use, and `RestoreManagedPrefixListVersion`). No group event
/// follows such a change, so the groups that reference the list are read and checked. CloudTrail
/// records these newer EC2 calls with the request wrapped in `<Operation>Request`, as it does
/// `ModifySecurityGroupRules`; the id is also looked for unwrapped and in the response.
pub fn changed_prefix_list(trigger: &Trigger) -> Option<String> {
    match &trigger.event {
        TriggerEvent::ApiCall(call) => changed_list(call),
        _ => None,
    }
}

fn changed_list(call: &ApiCall) -> Option<String> {
    let wrapper = match call.event_name.as_str() {
        "ModifyManagedPrefixList" => "ModifyManagedPrefixListRequest",
        "RestoreManagedPrefixListVersion" => "RestoreManagedPrefixListVersionRequest",
        _ => return None,
    };
    if call.event_source != "ec2.amazonaws.com" {
        return None;
    }
    let request = call.request.get(wrapper).unwrap_or(&call.request);
    ["PrefixListId", "prefixListId"]
        .iter()
        .find_map(|key| str_field(request, key))
        .or_else(|| {
            call.response
                .as_object()
                .into_iter()
                .flat_map(|response| response.values())
                .find_map(|inner| inner.pointer("/prefixList/prefixListId")?.as_str())
        })
        .filter(|id| id.starts_with("pl-"))
        .map(String::from)
}

fn group_from_request_or_response(call: &ApiCall) -> Option<String> {
    str_field(&call.request, "groupId")
        .map(String::from)
        .or_else(|| {
            ec2_items(call.response.get("securityGroupRuleSet"))
                .iter()
                .find_map(|r| str_field(r, "groupId").map(String::from))
        })
        .or_else(|| {
            // ModifySecurityGroupRules: {"ModifySecurityGroupRulesRequest": {"GroupId": ...}}
            call.request
                .pointer("/ModifySecurityGroupRulesRequest/GroupId")
                .and_then(Value::as_str)
                .map(String::from)
        })
}

/// Both request shapes: `ipPermissions.items[]` and the legacy top-level `cidrIp`.
/// Requests without any CIDR at all (unknown shapes) count as possibly public: re-reading is cheap.
/// So does a rule from a prefix list: the event does not hold the list's entries.
fn request_opens_to_internet(request: &Value) -> bool {
    let is_public = |v: Option<&str>| v.is_some_and(is_internet_wide);
    if is_public(str_field(request, "cidrIp")) || is_public(str_field(request, "cidrIpv6")) {
        return true;
    }
    let permissions = ec2_items(request.get("ipPermissions"));
    if permissions.is_empty() && str_field(request, "cidrIp").is_none() {
        return true;
    }
    permissions.iter().any(|p| {
        !ec2_items(p.get("prefixListIds")).is_empty()
            || ec2_items(p.get("ipRanges"))
                .iter()
                .any(|r| is_public(str_field(r, "cidrIp")))
            || ec2_items(p.get("ipv6Ranges"))
                .iter()
                .any(|r| is_public(str_field(r, "cidrIpv6")))
    })
}

fn response_opens_to_internet(response: &Value) -> bool {
    ec2_items(response.get("securityGroupRuleSet"))
        .iter()
        .any(|r| {
            str_field(r, "cidrIpv4").is_some_and(is_internet_wide)
                || str_field(r, "cidrIpv6").is_some_and(is_internet_wide)
                || str_field(r, "prefixListId").is_some()
        })
}
