//! Security groups open to the internet: which triggers point at which groups, the pure plan
//! (current ingress rules -> rules to revoke, allowed ports to re-open), and the actions that apply it.
//!
//! Wrong: an ingress rule from `0.0.0.0/0` or `::/0` that reaches any port outside
//! `ALLOWED_PUBLIC_PORTS` (TCP). Protocol `-1` reaches everything; public UDP, ICMP and other protocols
//! are always wrong. Rules from other CIDRs, prefix lists or other groups are never touched, nor egress.
//! Fix: revoke the rule by its id; when it also covered allowed ports, authorize just those ports
//! publicly again (same address family), first, so web traffic never stops.

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, SecurityGroupRule};
use serde_json::Value;

use crate::config::{PortSet, Settings};
use crate::error::AwsError;
use crate::invocation::{Remediation, Targets};
use crate::outcome::{Outcome, OutcomeKind, ResourceType, Severity};
use crate::shape::{ec2_items, str_field};
use crate::trigger::{ApiCall, Trigger, TriggerEvent};

/// The IAM actions behind every EC2 call in this module (checked against the code and the template).
pub const IAM_ACTIONS: &[&str] = &[
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
];

pub const ANY_IPV4: &str = "0.0.0.0/0";
pub const ANY_IPV6: &str = "::/0";
const ALL_PORTS: RangeInclusive<u16> = 0..=65535;

// ---------------------------------------------------------------------------------------------
// Rules (the state the plan reads)
// ---------------------------------------------------------------------------------------------

/// Where an ingress rule lets traffic in from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSource {
    Ipv4(String),
    Ipv6(String),
    /// A prefix list or another security group: never touched.
    Other(String),
}

/// One ingress rule as `DescribeSecurityGroupRules` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngressRule {
    pub rule_id: String,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all), or a protocol number.
    pub protocol: String,
    /// -1 when the protocol has no ports (all traffic, ICMP "any type").
    pub from_port: i32,
    pub to_port: i32,
    pub source: RuleSource,
}

/// What the rule's protocol field means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    All,
    Tcp,
    Udp,
    Icmp,
    Other,
}

fn protocol_of(text: &str) -> Protocol {
    match text.trim().to_ascii_lowercase().as_str() {
        "-1" | "all" => Protocol::All,
        "tcp" | "6" => Protocol::Tcp,
        "udp" | "17" => Protocol::Udp,
        "icmp" | "1" | "icmpv6" | "58" => Protocol::Icmp,
        _ => Protocol::Other,
    }
}

impl IngressRule {
    /// The CIDR when the rule is open to the whole internet.
    pub fn public_cidr(&self) -> Option<&'static str> {
        match &self.source {
            RuleSource::Ipv4(cidr) if cidr.trim() == ANY_IPV4 => Some(ANY_IPV4),
            RuleSource::Ipv6(cidr) if cidr.trim() == ANY_IPV6 => Some(ANY_IPV6),
            _ => None,
        }
    }

    /// The TCP/UDP port range; `None` when the protocol has no ports or the range is unreadable.
    fn port_range(&self) -> Option<RangeInclusive<u16>> {
        if self.from_port < 0 || self.to_port < 0 {
            return Some(ALL_PORTS);
        }
        let from = u16::try_from(self.from_port).ok()?;
        let to = u16::try_from(self.to_port).ok()?;
        (from <= to).then_some(from..=to)
    }

    /// TCP ports this rule opens (all of them for protocol -1).
    fn tcp_ports(&self) -> Option<RangeInclusive<u16>> {
        match protocol_of(&self.protocol) {
            Protocol::All => Some(ALL_PORTS),
            Protocol::Tcp => self.port_range(),
            _ => None,
        }
    }

    /// Whether traffic to `port` (TCP or UDP) gets through this rule.
    fn reaches_port(&self, port: u16) -> bool {
        match protocol_of(&self.protocol) {
            Protocol::All | Protocol::Other => true,
            Protocol::Tcp | Protocol::Udp => self.port_range().is_some_and(|r| r.contains(&port)),
            Protocol::Icmp => false,
        }
    }

    /// Public and reaching something that is not an allowed TCP port.
    pub fn is_wrong(&self, allowed: &PortSet) -> bool {
        if self.public_cidr().is_none() {
            return false;
        }
        match protocol_of(&self.protocol) {
            Protocol::Tcp => match self.port_range() {
                Some(range) => !covers(allowed, &range),
                None => true,
            },
            _ => true,
        }
    }

    /// `tcp 22`, `tcp 8000-8080`, `all traffic`, `icmp`, `udp 53`.
    pub fn traffic(&self) -> String {
        match protocol_of(&self.protocol) {
            Protocol::All => "all traffic".to_string(),
            Protocol::Icmp => self.protocol.to_ascii_lowercase(),
            Protocol::Other => format!("protocol {}", self.protocol),
            Protocol::Tcp | Protocol::Udp => {
                let name = if protocol_of(&self.protocol) == Protocol::Tcp {
                    "tcp"
                } else {
                    "udp"
                };
                match self.port_range() {
                    Some(r) if r == ALL_PORTS => format!("{name} all ports"),
                    Some(r) => format!("{name} {}", ports_text(&r)),
                    None => format!("{name} {}-{}", self.from_port, self.to_port),
                }
            }
        }
    }

    pub fn source_text(&self) -> &str {
        match &self.source {
            RuleSource::Ipv4(s) | RuleSource::Ipv6(s) | RuleSource::Other(s) => s,
        }
    }
}

impl fmt::Display for IngressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} from {}", self.traffic(), self.source_text())
    }
}

fn ports_text(range: &RangeInclusive<u16>) -> String {
    if range.start() == range.end() {
        range.start().to_string()
    } else {
        format!("{}-{}", range.start(), range.end())
    }
}

/// Whether every port of `range` is allowed.
fn covers(allowed: &PortSet, range: &RangeInclusive<u16>) -> bool {
    allowed
        .ranges()
        .iter()
        .any(|a| a.start() <= range.start() && range.end() <= a.end())
}

/// The parts of `range` that are allowed ports.
fn allowed_within(allowed: &PortSet, range: &RangeInclusive<u16>) -> Vec<RangeInclusive<u16>> {
    allowed
        .ranges()
        .iter()
        .filter_map(|a| {
            let start = (*a.start()).max(*range.start());
            let end = (*a.end()).min(*range.end());
            (start <= end).then_some(start..=end)
        })
        .collect()
}

/// `range` minus every range in `taken`.
fn subtract(range: RangeInclusive<u16>, taken: &[RangeInclusive<u16>]) -> Vec<RangeInclusive<u16>> {
    let mut pieces = vec![range];
    for cut in taken {
        pieces = pieces
            .into_iter()
            .flat_map(|piece| {
                let mut left = Vec::new();
                if cut.end() < piece.start() || cut.start() > piece.end() {
                    left.push(piece);
                    return left;
                }
                if cut.start() > piece.start() {
                    left.push(*piece.start()..=cut.start() - 1);
                }
                if cut.end() < piece.end() {
                    left.push(cut.end() + 1..=*piece.end());
                }
                left
            })
            .collect();
    }
    pieces
}

// ---------------------------------------------------------------------------------------------
// Plan (pure)
// ---------------------------------------------------------------------------------------------

/// Allowed TCP ports to open again to the internet after revoking a broader rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reopen {
    pub cidr: &'static str,
    pub ports: RangeInclusive<u16>,
    /// The rule whose revocation made this necessary.
    pub replaces: String,
}

impl Reopen {
    /// The rule description AWS stores (allowed characters only: no quotes or angle brackets).
    pub fn description(&self) -> String {
        format!(
            "kept open by open-security-group when it revoked {}",
            self.replaces
        )
    }
}

impl fmt::Display for Reopen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp {} to {}", ports_text(&self.ports), self.cidr)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupPlan {
    pub revoke: Vec<IngressRule>,
    pub reopen: Vec<Reopen>,
}

impl GroupPlan {
    pub fn is_compliant(&self) -> bool {
        self.revoke.is_empty()
    }

    /// `revoked tcp 22 from 0.0.0.0/0`, `re-opened tcp 443 to 0.0.0.0/0 (allowed port, kept open)`.
    pub fn changes(&self) -> Vec<String> {
        // Revocations first: they are the fix, and the first change becomes the Subject.
        let revoked = self.revoke.iter().map(|r| format!("revoked {r}"));
        let reopened = self
            .reopen
            .iter()
            .map(|r| format!("re-opened {r} (allowed port, kept open)"));
        revoked.chain(reopened).collect()
    }

    pub fn reason(&self, allowed: &PortSet) -> String {
        let rules: Vec<String> = self
            .revoke
            .iter()
            .map(|r| format!("{r} ({})", r.rule_id))
            .collect();
        let allowed = if allowed.ranges().is_empty() {
            "none".to_string()
        } else {
            allowed.to_string()
        };
        format!(
            "ingress open to the internet beyond the allowed public ports ({allowed}): {}",
            rules.join(", ")
        )
    }

    /// High when the internet reaches remote administration or everything; medium otherwise.
    pub fn severity(&self) -> Severity {
        let critical = self
            .revoke
            .iter()
            .any(|r| [22, 3389].iter().any(|p| r.reaches_port(*p)));
        if critical {
            Severity::High
        } else {
            Severity::Medium
        }
    }
}

/// Decides which of a group's ingress rules to revoke and which allowed ports to re-open.
/// `focus_ports`: only rules reaching one of these ports (a GuardDuty finding about them); empty
/// means every wrong rule.
pub fn plan_group(rules: &[IngressRule], allowed: &PortSet, focus_ports: &[u16]) -> GroupPlan {
    let revoke: Vec<IngressRule> = rules
        .iter()
        .filter(|r| r.is_wrong(allowed))
        .filter(|r| focus_ports.is_empty() || focus_ports.iter().any(|p| r.reaches_port(*p)))
        .cloned()
        .collect();

    let mut reopen: Vec<Reopen> = Vec::new();
    for rule in &revoke {
        let (Some(cidr), Some(tcp)) = (rule.public_cidr(), rule.tcp_ports()) else {
            continue;
        };
        // Ports that stay open anyway: public TCP coverage of the same family from rules we keep,
        // and what this plan already re-opens.
        let mut taken: Vec<RangeInclusive<u16>> = rules
            .iter()
            .filter(|kept| !revoke.contains(kept) && kept.public_cidr() == Some(cidr))
            .filter_map(IngressRule::tcp_ports)
            .collect();
        taken.extend(
            reopen
                .iter()
                .filter(|r| r.cidr == cidr)
                .map(|r| r.ports.clone()),
        );
        for wanted in allowed_within(allowed, &tcp) {
            for ports in subtract(wanted, &taken) {
                reopen.push(Reopen {
                    cidr,
                    ports,
                    replaces: rule.rule_id.clone(),
                });
            }
        }
    }
    GroupPlan { revoke, reopen }
}

// ---------------------------------------------------------------------------------------------
// Triggers -> targets (pure)
// ---------------------------------------------------------------------------------------------

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
pub fn targets_of(trigger: &Trigger) -> Result<Vec<GroupTarget>, String> {
    match &trigger.event {
        TriggerEvent::ApiCall(call) => api_call_targets(call),
        TriggerEvent::Compliance(change) if change.resource_type == "AWS::EC2::SecurityGroup" => {
            Ok(vec![GroupTarget::new(&change.resource_id)])
        }
        TriggerEvent::Compliance(change) => Err(format!(
            "Config rule {} is about {}, not a security group",
            change.rule_name, change.resource_type
        )),
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
                return Err(format!(
                    "GuardDuty finding type {} is not about an exposed port",
                    finding.finding_type
                ));
            }
            if finding.resource_role.as_deref() == Some("ACTOR") {
                return Err(format!(
                    "GuardDuty finding {}: the instance is the attacker, not the target",
                    finding.id
                ));
            }
            if finding.security_group_ids.is_empty() {
                return Err(format!(
                    "GuardDuty finding {} names no security group",
                    finding.id
                ));
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
        TriggerEvent::Schedule { .. } => {
            Err("scheduled sweeps list the groups themselves".to_string())
        }
        TriggerEvent::StateChange(_) | TriggerEvent::ConfigRule(_) => Err(format!(
            "{} events are not about security groups",
            trigger.source
        )),
    }
}

fn api_call_targets(call: &ApiCall) -> Result<Vec<GroupTarget>, String> {
    if call.event_source != "ec2.amazonaws.com" {
        return Err(format!(
            "{} from {} is not an EC2 call",
            call.event_name, call.event_source
        ));
    }
    let request = &call.request;
    let group_ids: Vec<String> = match call.event_name.as_str() {
        "AuthorizeSecurityGroupIngress" => {
            if !request_opens_to_internet(request) && !response_opens_to_internet(&call.response) {
                return Err(
                    "AuthorizeSecurityGroupIngress added no rule open to the internet".to_string(),
                );
            }
            group_from_request_or_response(call).into_iter().collect()
        }
        "ModifySecurityGroupRules" => group_from_request_or_response(call).into_iter().collect(),
        // A new group starts with no ingress; the event only matters when it came with rules
        // (e.g. CloudFormation), so check it.
        "CreateSecurityGroup" => str_field(&call.response, "groupId")
            .map(String::from)
            .into_iter()
            .collect(),
        other => {
            return Err(format!(
                "EC2 call {other} does not change security group ingress"
            ))
        }
    };
    if group_ids.is_empty() {
        return Err(format!("{} names no security group", call.event_name));
    }
    Ok(group_ids.into_iter().map(GroupTarget::new).collect())
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
fn request_opens_to_internet(request: &Value) -> bool {
    let is_public = |v: Option<&str>| matches!(v.map(str::trim), Some(ANY_IPV4) | Some(ANY_IPV6));
    if is_public(str_field(request, "cidrIp")) || is_public(str_field(request, "cidrIpv6")) {
        return true;
    }
    let permissions = ec2_items(request.get("ipPermissions"));
    if permissions.is_empty() && str_field(request, "cidrIp").is_none() {
        return true;
    }
    permissions.iter().any(|p| {
        ec2_items(p.get("ipRanges"))
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
            matches!(str_field(r, "cidrIpv4"), Some(ANY_IPV4))
                || matches!(str_field(r, "cidrIpv6"), Some(ANY_IPV6))
        })
}

// ---------------------------------------------------------------------------------------------
// Actions (SDK calls)
// ---------------------------------------------------------------------------------------------

/// A group's current state: whether it is exempt, and its ingress rules.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupState {
    pub tag_keys: Vec<String>,
    pub ingress: Vec<IngressRule>,
}

fn ingress_rule(rule: &SecurityGroupRule) -> Option<IngressRule> {
    if rule.is_egress() == Some(true) {
        return None;
    }
    let source = if let Some(cidr) = rule.cidr_ipv4() {
        RuleSource::Ipv4(cidr.to_string())
    } else if let Some(cidr) = rule.cidr_ipv6() {
        RuleSource::Ipv6(cidr.to_string())
    } else if let Some(list) = rule.prefix_list_id() {
        RuleSource::Other(list.to_string())
    } else {
        let group = rule
            .referenced_group_info()
            .and_then(|g| g.group_id())
            .unwrap_or("another source");
        RuleSource::Other(group.to_string())
    };
    Some(IngressRule {
        rule_id: rule.security_group_rule_id()?.to_string(),
        protocol: rule.ip_protocol().unwrap_or("-1").to_string(),
        from_port: rule.from_port().unwrap_or(-1),
        to_port: rule.to_port().unwrap_or(-1),
        source,
    })
}

#[derive(Clone, Debug)]
pub struct SecurityGroupActions {
    client: aws_sdk_ec2::Client,
}

impl SecurityGroupActions {
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        SecurityGroupActions {
            client: aws_sdk_ec2::Client::new(sdk),
        }
    }

    pub fn from_client(client: aws_sdk_ec2::Client) -> Self {
        SecurityGroupActions { client }
    }

    /// The group's tags and ingress rules; a missing group is a `NotFound` error.
    pub async fn group_state(&self, group_id: &str) -> Result<GroupState, AwsError> {
        let groups = self
            .client
            .describe_security_groups()
            .group_ids(group_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
        let tag_keys = groups
            .security_groups()
            .iter()
            .flat_map(|g| g.tags())
            .filter_map(|t| t.key().map(String::from))
            .collect();
        let mut ingress = Vec::new();
        let mut pages = self
            .client
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(group_id).build())
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeSecurityGroupRules", e))?;
            ingress.extend(page.security_group_rules().iter().filter_map(ingress_rule));
        }
        Ok(GroupState { tag_keys, ingress })
    }

    /// Every group of the region with its state, in a number of calls that grows with pages, not groups.
    pub async fn all_groups(&self) -> Result<Vec<(String, GroupState)>, AwsError> {
        let mut states: Vec<(String, GroupState)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut pages = self
            .client
            .describe_security_groups()
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
            for group in page.security_groups() {
                let Some(id) = group.group_id() else { continue };
                index.insert(id.to_string(), states.len());
                states.push((
                    id.to_string(),
                    GroupState {
                        tag_keys: group
                            .tags()
                            .iter()
                            .filter_map(|t| t.key().map(String::from))
                            .collect(),
                        ingress: Vec::new(),
                    },
                ));
            }
        }
        let mut pages = self
            .client
            .describe_security_group_rules()
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeSecurityGroupRules", e))?;
            for rule in page.security_group_rules() {
                let (Some(group_id), Some(ingress)) = (rule.group_id(), ingress_rule(rule)) else {
                    continue;
                };
                if let Some(&i) = index.get(group_id) {
                    states[i].1.ingress.push(ingress);
                }
            }
        }
        Ok(states)
    }

    /// Opens allowed ports again, all in one call; a rule that already exists is fine (when the
    /// batch fails for that reason, each port is opened on its own).
    pub async fn authorize(&self, group_id: &str, reopens: &[Reopen]) -> Result<(), AwsError> {
        match self.authorize_batch(group_id, reopens).await {
            Err(err) if err.has_code("InvalidPermission.Duplicate") && reopens.len() > 1 => {
                for reopen in reopens {
                    match self
                        .authorize_batch(group_id, std::slice::from_ref(reopen))
                        .await
                    {
                        Err(err) if !err.has_code("InvalidPermission.Duplicate") => {
                            return Err(err)
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            Err(err) if err.has_code("InvalidPermission.Duplicate") => Ok(()),
            other => other,
        }
    }

    async fn authorize_batch(&self, group_id: &str, reopens: &[Reopen]) -> Result<(), AwsError> {
        let permissions = reopens.iter().map(|reopen| {
            let permission = IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(i32::from(*reopen.ports.start()))
                .to_port(i32::from(*reopen.ports.end()));
            if reopen.cidr == ANY_IPV6 {
                permission.ipv6_ranges(
                    Ipv6Range::builder()
                        .cidr_ipv6(ANY_IPV6)
                        .description(reopen.description())
                        .build(),
                )
            } else {
                permission.ip_ranges(
                    IpRange::builder()
                        .cidr_ip(ANY_IPV4)
                        .description(reopen.description())
                        .build(),
                )
            }
            .build()
        });
        self.client
            .authorize_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions.collect()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| AwsError::from_sdk("AuthorizeSecurityGroupIngress", err))
    }

    /// Revokes rules by id. A rule that is already gone counts as revoked: when the batch fails
    /// for that reason, each rule is revoked on its own.
    pub async fn revoke(&self, group_id: &str, rule_ids: &[String]) -> Result<(), AwsError> {
        match self.revoke_batch(group_id, rule_ids).await {
            Err(err) if err.is_not_found() && rule_ids.len() > 1 => {
                for rule_id in rule_ids {
                    match self
                        .revoke_batch(group_id, std::slice::from_ref(rule_id))
                        .await
                    {
                        Err(err) if err.is_not_found() => {}
                        other => other?,
                    }
                }
                Ok(())
            }
            Err(err) if err.is_not_found() && !err.has_code("InvalidGroup.NotFound") => Ok(()),
            other => other,
        }
    }

    async fn revoke_batch(&self, group_id: &str, rule_ids: &[String]) -> Result<(), AwsError> {
        self.client
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_security_group_rule_ids(Some(rule_ids.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e))?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The remediation
// ---------------------------------------------------------------------------------------------

pub struct OpenSecurityGroup {
    pub actions: SecurityGroupActions,
    pub settings: Settings,
    identity: crate::identity::OwnIdentity,
}

impl OpenSecurityGroup {
    pub fn new(
        actions: SecurityGroupActions,
        settings: Settings,
        identity: crate::identity::OwnIdentity,
    ) -> Self {
        OpenSecurityGroup {
            actions,
            settings,
            identity,
        }
    }
}

impl Remediation for OpenSecurityGroup {
    type Target = GroupTarget;

    async fn targets(&self, trigger: &Trigger) -> Result<Targets<GroupTarget>, AwsError> {
        if trigger.is_sweep() {
            let groups = self.actions.all_groups().await?;
            return Ok(Targets::Found(
                groups
                    .into_iter()
                    .map(|(id, state)| GroupTarget {
                        prefetched: Some(state),
                        ..GroupTarget::new(id)
                    })
                    .collect(),
            ));
        }
        if let TriggerEvent::ApiCall(call) = &trigger.event {
            if self.identity.made(call).await {
                return Ok(Targets::Ignored(format!(
                    "{} was made by this function's own role (its own fix)",
                    call.event_name
                )));
            }
        }
        Ok(match targets_of(trigger) {
            Ok(targets) => Targets::Found(targets),
            Err(reason) => Targets::Ignored(reason),
        })
    }

    async fn check(&self, target: &GroupTarget, _trigger: &Trigger) -> Result<Outcome, AwsError> {
        let group_id = target.group_id.as_str();
        let state = match &target.prefetched {
            Some(state) => state.clone(),
            None => self.actions.group_state(group_id).await?,
        };
        let allowed = &self.settings.allowed_public_ports;
        let plan = plan_group(&state.ingress, allowed, &target.focus_ports);
        let outcome = |kind, reason: String| {
            Outcome::new(kind, ResourceType::SecurityGroup, group_id, reason)
                .with_severity(plan.severity())
        };
        if plan.is_compliant() {
            return Ok(outcome(
                OutcomeKind::Compliant,
                "no ingress open to the internet on disallowed ports".to_string(),
            ));
        }
        let reason = plan.reason(allowed);
        if state.tag_keys.contains(&self.settings.exempt_tag) {
            return Ok(outcome(
                OutcomeKind::Skipped,
                format!(
                    "{reason}; group {group_id} is exempt (tag {})",
                    self.settings.exempt_tag
                ),
            ));
        }
        if self.settings.dry_run {
            return Ok(outcome(OutcomeKind::DryRun, reason).with_changes(plan.changes()));
        }

        // Re-open allowed ports first, so web traffic never stops; then revoke.
        if !plan.reopen.is_empty() {
            match self.actions.authorize(group_id, &plan.reopen).await {
                Ok(()) => {}
                Err(err) if err.is_transient() || err.is_not_found() => return Err(err),
                // Without the re-opened ports, revoking would close allowed traffic: stop here.
                Err(err) => {
                    return Ok(outcome(
                        OutcomeKind::Failed,
                        format!("{reason}; nothing was revoked because {err}"),
                    ))
                }
            }
        }
        let done: Vec<String> = plan
            .reopen
            .iter()
            .map(|reopen| format!("re-opened {reopen} (allowed port, kept open)"))
            .collect();
        let rule_ids: Vec<String> = plan.revoke.iter().map(|r| r.rule_id.clone()).collect();
        match self.actions.revoke(group_id, &rule_ids).await {
            Ok(()) => {}
            Err(err) if err.is_transient() || err.is_not_found() => return Err(err),
            Err(err) => {
                return Ok(outcome(
                    OutcomeKind::Failed,
                    format!("{reason}; revoking failed: {err}"),
                )
                .with_changes(done));
            }
        }
        Ok(outcome(OutcomeKind::Remediated, reason).with_changes(plan.changes()))
    }

    fn describe(&self, target: &GroupTarget) -> (ResourceType, String) {
        (ResourceType::SecurityGroup, target.group_id.clone())
    }
}

#[cfg(test)]
mod tests;
