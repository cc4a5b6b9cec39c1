//! The security group rule, pure: which ingress rules open the group to the internet beyond the
//! allowed ports, and what the fix revokes and re-opens.
//!
//! Wrong: an ingress rule from the internet that reaches any port outside `ALLOWED_PUBLIC_PORTS` (TCP).
//! The internet is `0.0.0.0/0` and `::/0`, and also the internet in pieces: an IPv4 source of `/7` or
//! wider (`0.0.0.0/1` + `128.0.0.0/1`), an IPv6 source of `/15` or wider outside the unique-local
//! `fc00::/7`, and a customer-managed prefix list holding any such CIDR (the rule is judged; the list,
//! which other groups may use, is never edited). Protocol `-1` reaches everything; public UDP, ICMP and
//! other protocols are always wrong. Rules from narrower CIDRs (`10.0.0.0/8`, a partner's `/24`), prefix
//! lists without such entries, or other groups are never touched, nor egress.
//! Fix: revoke the rule by its id; when it also covered allowed ports, authorize just those ports again
//! from the same source, first, so web traffic never stops. A group at its rules quota has no slot for
//! that: the broad rule is then rewritten in place into an allowed range ([`GroupPlan::in_place`]).
//! An exempt group is left alone.

use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use crate::config::PortSet;
use crate::outcome::Severity;

pub const ANY_IPV4: &str = "0.0.0.0/0";
pub const ANY_IPV6: &str = "::/0";
const ALL_PORTS: RangeInclusive<u16> = 0..=65535;
/// The widest IPv4 prefix that is still a "piece" of the internet: `/7` or wider counts as the internet.
const WIDEST_IPV4_PIECE: u8 = 7;
/// The same line for IPv6: `/15` or wider (outside the unique-local `fc00::/7`).
const WIDEST_IPV6_PIECE: u8 = 15;

/// Whether a CIDR opens to the internet: the two "anywhere" CIDRs, or a piece of the internet wide
/// enough to count as it (IPv4 `/7` or wider; IPv6 `/15` or wider, unless unique-local `fc00::/7`).
/// An unreadable CIDR is not judged (EC2 stores only valid ones).
pub fn is_internet_wide(cidr: &str) -> bool {
    match crate::cidr::parse(cidr) {
        Some((IpAddr::V4(_), prefix)) => prefix <= WIDEST_IPV4_PIECE,
        Some((IpAddr::V6(v6), prefix)) => {
            let unique_local = prefix >= 7 && (v6.octets()[0] & 0xfe) == 0xfc;
            prefix <= WIDEST_IPV6_PIECE && !unique_local
        }
        None => false,
    }
}

/// A group's current state: its tags (for the exemption), and its ingress rules.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupState {
    pub tags: Vec<(String, String)>,
    pub ingress: Vec<IngressRule>,
}

impl GroupState {
    /// Whether an ingress rule of the group references the prefix list `id`.
    pub fn uses_prefix_list(&self, id: &str) -> bool {
        self.ingress.iter().any(
            |rule| matches!(&rule.source, RuleSource::PrefixList { id: used, .. } if used == id),
        )
    }
}

/// Where an ingress rule lets traffic in from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSource {
    Ipv4(String),
    Ipv6(String),
    /// A managed prefix list, with those of its entries that count as the internet (empty for an
    /// AWS-managed list, which holds AWS's own service ranges, and for a list of narrow ranges).
    PrefixList {
        id: String,
        internet: Vec<String>,
    },
    /// Another security group: never touched.
    Other(String),
}

impl RuleSource {
    /// Whether traffic from here is traffic from the internet.
    pub fn is_internet(&self) -> bool {
        match self {
            RuleSource::Ipv4(cidr) | RuleSource::Ipv6(cidr) => is_internet_wide(cidr),
            RuleSource::PrefixList { internet, .. } => !internet.is_empty(),
            RuleSource::Other(_) => false,
        }
    }
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::Ipv4(s) | RuleSource::Ipv6(s) | RuleSource::Other(s) => {
                f.write_str(s.trim())
            }
            RuleSource::PrefixList { id, internet } if internet.is_empty() => f.write_str(id),
            RuleSource::PrefixList { id, internet } => {
                write!(f, "prefix list {id} (holds {})", internet.join(", "))
            }
        }
    }
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
    /// The rule's description (empty when it has none): kept so that an undo restores it.
    pub description: String,
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
    /// Whether the rule lets the internet in (whole, in a piece wide enough to count, or through a
    /// prefix list holding such a CIDR).
    pub fn is_public(&self) -> bool {
        self.source.is_internet()
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
    pub fn tcp_ports(&self) -> Option<RangeInclusive<u16>> {
        match protocol_of(&self.protocol) {
            Protocol::All => Some(ALL_PORTS),
            Protocol::Tcp => self.port_range(),
            _ => None,
        }
    }

    /// Whether traffic to `port` (TCP or UDP) gets through this rule.
    pub fn reaches_port(&self, port: u16) -> bool {
        match protocol_of(&self.protocol) {
            Protocol::All | Protocol::Other => true,
            Protocol::Tcp | Protocol::Udp => self.port_range().is_some_and(|r| r.contains(&port)),
            Protocol::Icmp => false,
        }
    }

    /// Public and reaching something that is not an allowed TCP port.
    pub fn is_wrong(&self, allowed: &PortSet) -> bool {
        if !self.is_public() {
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
}

impl fmt::Display for IngressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} from {}", self.traffic(), self.source)
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
pub(crate) fn covers(allowed: &PortSet, range: &RangeInclusive<u16>) -> bool {
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

/// Allowed TCP ports to open again, from the same source, after revoking a broader rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reopen {
    /// The revoked rule's own source (`0.0.0.0/0`, `::/0`, a piece such as `0.0.0.0/1`, or the
    /// prefix list).
    pub source: RuleSource,
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
        write!(f, "tcp {} to {}", ports_text(&self.ports), self.source)
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

    /// The same fix for a group at its rules quota, where re-opening first needs a free slot: each
    /// revoked rule that covered allowed ports is rewritten in place (ModifySecurityGroupRules keeps
    /// the rule, so no slot is needed and the allowed range never closes) into its first allowed
    /// range; the other wrong rules are revoked; the remaining allowed ranges are re-opened last, in
    /// the slots the revocations freed.
    pub fn in_place(&self) -> InPlacePlan {
        let mut rewrite: Vec<(String, Reopen)> = Vec::new();
        let mut reopen_after: Vec<Reopen> = Vec::new();
        for reopen in &self.reopen {
            if rewrite.iter().any(|(id, _)| *id == reopen.replaces) {
                reopen_after.push(reopen.clone());
            } else {
                rewrite.push((reopen.replaces.clone(), reopen.clone()));
            }
        }
        let revoke = self
            .revoke
            .iter()
            .filter(|rule| !rewrite.iter().any(|(id, _)| *id == rule.rule_id))
            .map(|rule| rule.rule_id.clone())
            .collect();
        InPlacePlan {
            rewrite,
            revoke,
            reopen_after,
        }
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

/// [`GroupPlan::in_place`]: the fix without a free rule slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InPlacePlan {
    /// Rule id, and the allowed range (same source) it becomes.
    pub rewrite: Vec<(String, Reopen)>,
    /// Wrong rules that covered no allowed port, by id.
    pub revoke: Vec<String>,
    /// Allowed ranges beyond the first of each rewritten rule, re-opened after the revocations.
    pub reopen_after: Vec<Reopen>,
}

/// The error EC2 gives when a group has no free rule slot (EC2 API Reference, "Error codes for the
/// Amazon EC2 API": `RulesPerSecurityGroupLimitExceeded`, "You've reached the limit on the number of
/// rules that you can add to a security group"). A rule that references a prefix list takes as many
/// slots as the list's maximum entries (VPC User Guide, "Work with customer-managed prefix lists").
pub const RULES_QUOTA_EXCEEDED: &str = "RulesPerSecurityGroupLimitExceeded";

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
        let Some(tcp) = rule.tcp_ports() else {
            continue;
        };
        // Ports that stay open anyway: public TCP coverage from the same source by rules we keep,
        // and what this plan already re-opens.
        let mut taken: Vec<RangeInclusive<u16>> = rules
            .iter()
            .filter(|kept| !revoke.contains(kept) && kept.source == rule.source)
            .filter_map(IngressRule::tcp_ports)
            .collect();
        taken.extend(
            reopen
                .iter()
                .filter(|r| r.source == rule.source)
                .map(|r| r.ports.clone()),
        );
        for wanted in allowed_within(allowed, &tcp) {
            for ports in subtract(wanted, &taken) {
                reopen.push(Reopen {
                    source: rule.source.clone(),
                    ports,
                    replaces: rule.rule_id.clone(),
                });
            }
        }
    }
    GroupPlan { revoke, reopen }
}

/// The ports Security Hub control EC2.19 calls high risk (Security Hub controls for Amazon EC2, EC2.19).
const HIGH_RISK_PORTS: &[u16] = &[
    20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500,
    5601, 8080, 8088, 8888, 9200, 9300,
];
/// EC2.18's authorized TCP ports when the control's parameter is left at its default.
const EC2_18_DEFAULT_AUTHORIZED: &[u16] = &[80, 443];

/// Whether a group this function found compliant, or fixed, passes Security Hub control `control_id`
/// too: the control's ports must all be ports this rule never leaves open to the internet
/// (`allowed`: `ALLOWED_PUBLIC_PORTS`). EC2.13: 22; EC2.14: 3389; EC2.19: the high-risk ports; EC2.18:
/// every port but the authorized ones (80 and 443 by default), so only when `allowed` is within them.
pub fn closes_control(control_id: &str, allowed: &PortSet) -> bool {
    match control_id {
        "EC2.13" => !allowed.contains(22),
        "EC2.14" => !allowed.contains(3389),
        "EC2.19" => !HIGH_RISK_PORTS.iter().any(|&port| allowed.contains(port)),
        "EC2.18" => allowed.ranges().iter().all(|range| {
            range
                .clone()
                .all(|port| EC2_18_DEFAULT_AUTHORIZED.contains(&port))
        }),
        _ => false,
    }
}
