use super::*;
use crate::config::PortSet;
use crate::outcome::Severity;
use crate::trigger::parse_payload;
use crate::trigger::TriggerEvent;
use proptest::prelude::*;
use serde_json::Value;

fn v4(id: &str, protocol: &str, from: i32, to: i32, cidr: &str) -> IngressRule {
    IngressRule {
        rule_id: id.into(),
        protocol: protocol.into(),
        from_port: from,
        to_port: to,
        source: RuleSource::Ipv4(cidr.into()),
        description: String::new(),
    }
}

fn v6(id: &str, protocol: &str, from: i32, to: i32, cidr: &str) -> IngressRule {
    IngressRule {
        source: RuleSource::Ipv6(cidr.into()),
        ..v4(id, protocol, from, to, "")
    }
}

/// A customer-managed prefix list holding the internet (as the AWS layer reads it).
fn open_list() -> RuleSource {
    RuleSource::PrefixList {
        id: "pl-0open".into(),
        internet: vec![ANY_IPV4.into()],
    }
}

/// Its negative twin: a list of private and partner ranges (no entry counts as the internet).
fn private_list() -> RuleSource {
    RuleSource::PrefixList {
        id: "pl-0private".into(),
        internet: Vec::new(),
    }
}

fn web() -> PortSet {
    PortSet::parse("80,443").unwrap()
}

fn revoked_ids(plan: &GroupPlan) -> Vec<&str> {
    plan.revoke.iter().map(|r| r.rule_id.as_str()).collect()
}

fn reopened(plan: &GroupPlan) -> Vec<String> {
    plan.reopen.iter().map(|r| r.to_string()).collect()
}

#[test]
fn ssh_open_to_the_world_is_revoked_and_nothing_reopened() {
    let plan = plan_group(&[v4("r1", "tcp", 22, 22, ANY_IPV4)], &web(), &[]);
    assert_eq!(revoked_ids(&plan), ["r1"]);
    assert!(plan.reopen.is_empty());
    assert_eq!(plan.changes(), ["revoked tcp 22 from 0.0.0.0/0"]);
    assert_eq!(plan.severity(), Severity::High);
    assert_eq!(
        plan.reason(&web()),
        "ingress open to the internet beyond the allowed public ports (80,443): tcp 22 from 0.0.0.0/0 (r1)"
    );
}

#[test]
fn rules_that_must_stay_untouched() {
    let rules = [
        v4("private", "tcp", 22, 22, "10.0.0.0/8"),
        v4("https", "tcp", 443, 443, ANY_IPV4),
        v6("http6", "tcp", 80, 80, ANY_IPV6),
        v4("partner", "tcp", 22, 22, "203.0.113.0/24"),
        IngressRule {
            source: private_list(),
            ..v4("prefix", "-1", -1, -1, "")
        },
        IngressRule {
            source: RuleSource::Other("sg-0fedcba9876543210".into()),
            ..v4("peer", "tcp", 5432, 5432, "")
        },
    ];
    assert!(plan_group(&rules, &web(), &[]).is_compliant());
}

#[test]
fn ranges_at_the_edges() {
    let plan = plan_group(&[v4("r", "tcp", 79, 81, ANY_IPV4)], &web(), &[]);
    assert_eq!(revoked_ids(&plan), ["r"]);
    assert_eq!(reopened(&plan), ["tcp 80 to 0.0.0.0/0"]);

    let plan = plan_group(&[v4("r", "tcp", 0, 65535, ANY_IPV4)], &web(), &[]);
    assert_eq!(
        reopened(&plan),
        ["tcp 80 to 0.0.0.0/0", "tcp 443 to 0.0.0.0/0"]
    );

    assert!(plan_group(&[v4("r", "tcp", 443, 443, ANY_IPV4)], &web(), &[]).is_compliant());
    assert!(plan_group(&[v4("r", "tcp", 80, 80, ANY_IPV4)], &web(), &[]).is_compliant());

    let ranges = PortSet::parse("8000-8080").unwrap();
    let plan = plan_group(&[v4("r", "tcp", 7990, 8090, ANY_IPV4)], &ranges, &[]);
    assert_eq!(reopened(&plan), ["tcp 8000-8080 to 0.0.0.0/0"]);
    assert!(plan_group(&[v4("r", "tcp", 8000, 8080, ANY_IPV4)], &ranges, &[]).is_compliant());
}

#[test]
fn all_traffic_in_both_families_reopens_web_ports_per_family() {
    let rules = [
        v4("a4", "-1", -1, -1, ANY_IPV4),
        v6("a6", "-1", -1, -1, ANY_IPV6),
    ];
    let plan = plan_group(&rules, &web(), &[]);
    assert_eq!(revoked_ids(&plan), ["a4", "a6"]);
    assert_eq!(
        reopened(&plan),
        [
            "tcp 80 to 0.0.0.0/0",
            "tcp 443 to 0.0.0.0/0",
            "tcp 80 to ::/0",
            "tcp 443 to ::/0"
        ]
    );
    assert_eq!(plan.changes()[0], "revoked all traffic from 0.0.0.0/0");
    assert_eq!(
        plan.changes()[2],
        "re-opened tcp 80 to 0.0.0.0/0 (allowed port, kept open)"
    );
}

#[test]
fn ports_already_open_by_a_kept_rule_are_not_reopened() {
    let rules = [
        v4("all", "-1", -1, -1, ANY_IPV4),
        v4("https", "tcp", 443, 443, ANY_IPV4),
    ];
    let plan = plan_group(&rules, &web(), &[]);
    assert_eq!(revoked_ids(&plan), ["all"]);
    assert_eq!(reopened(&plan), ["tcp 80 to 0.0.0.0/0"]);

    // Two revoked rules covering the same allowed port re-open it once.
    let rules = [
        v4("a", "tcp", 0, 1000, ANY_IPV4),
        v4("b", "-1", -1, -1, ANY_IPV4),
    ];
    let plan = plan_group(&rules, &web(), &[]);
    assert_eq!(
        reopened(&plan),
        ["tcp 80 to 0.0.0.0/0", "tcp 443 to 0.0.0.0/0"]
    );
}

#[test]
fn udp_icmp_and_other_protocols_open_to_the_world_are_wrong() {
    for rule in [
        v4("udp", "udp", 53, 53, ANY_IPV4),
        v4("udp443", "udp", 443, 443, ANY_IPV4),
        v4("icmp", "icmp", 8, 0, ANY_IPV4),
        v4("icmp-any", "icmp", -1, -1, ANY_IPV4),
        v6("icmp6", "icmpv6", -1, -1, ANY_IPV6),
        v4("gre", "47", -1, -1, ANY_IPV4),
        v4("tcp-number", "6", 22, 22, ANY_IPV4),
    ] {
        let plan = plan_group(std::slice::from_ref(&rule), &web(), &[]);
        assert_eq!(revoked_ids(&plan), [rule.rule_id.as_str()], "{rule}");
        assert!(plan.reopen.is_empty(), "{rule}");
    }
    assert!(plan_group(&[v4("tcp-number", "6", 443, 443, ANY_IPV4)], &web(), &[]).is_compliant());
    assert_eq!(
        v4("i", "icmp", 8, 0, ANY_IPV4).to_string(),
        "icmp from 0.0.0.0/0"
    );
}

#[test]
fn no_allowed_ports_means_web_ports_are_wrong_too() {
    let none = PortSet::parse("").unwrap();
    let plan = plan_group(&[v4("https", "tcp", 443, 443, ANY_IPV4)], &none, &[]);
    assert_eq!(revoked_ids(&plan), ["https"]);
    assert!(plan.reopen.is_empty());
    assert!(plan.reason(&none).contains("allowed public ports (none)"));
}

#[test]
fn a_finding_about_port_22_fixes_only_rules_reaching_22() {
    let rules = [
        v4("ssh", "tcp", 22, 22, ANY_IPV4),
        v4("range", "tcp", 20, 30, ANY_IPV4),
        v4("all", "-1", -1, -1, ANY_IPV4),
        v4("dns", "udp", 53, 53, ANY_IPV4),
        v4("rdp", "tcp", 3389, 3389, ANY_IPV4),
        v4("icmp", "icmp", -1, -1, ANY_IPV4),
    ];
    let plan = plan_group(&rules, &web(), &[22]);
    assert_eq!(revoked_ids(&plan), ["ssh", "range", "all"]);
    assert_eq!(
        reopened(&plan),
        ["tcp 80 to 0.0.0.0/0", "tcp 443 to 0.0.0.0/0"]
    );
}

#[test]
fn the_internet_in_pieces_counts_and_narrow_or_private_ranges_do_not() {
    for wide in [
        "0.0.0.0/0",
        "::/0",
        "0.0.0.0/1",
        "128.0.0.0/1",
        "10.0.0.0/7",
        "2000::/3",
        "::/1",
        " 0.0.0.0/0 ",
    ] {
        assert!(is_internet_wide(wide), "{wide}");
    }
    for narrow in [
        "10.0.0.0/8",
        "203.0.113.0/24",
        "172.16.0.0/12",
        "2001:db8::/32",
        "2000::/16",
        "fc00::/7",
        "fd00::/8",
        "0.0.0.0",
        "pl-1234",
        "sg-1234",
        "x/1",
    ] {
        assert!(!is_internet_wide(narrow), "{narrow}");
    }
    // Both halves of the internet: both revoked, and the allowed ports re-opened from each half.
    let rules = [
        v4("lower", "tcp", 0, 65535, "0.0.0.0/1"),
        v4("upper", "tcp", 0, 65535, "128.0.0.0/1"),
        v4("partner", "tcp", 22, 22, "203.0.113.0/24"),
        v6("ula", "tcp", 22, 22, "fc00::/7"),
    ];
    let plan = plan_group(&rules, &web(), &[]);
    let revoked: Vec<&str> = plan.revoke.iter().map(|r| r.rule_id.as_str()).collect();
    assert_eq!(revoked, ["lower", "upper"]);
    assert_eq!(
        reopened(&plan),
        [
            "tcp 80 to 0.0.0.0/1",
            "tcp 443 to 0.0.0.0/1",
            "tcp 80 to 128.0.0.0/1",
            "tcp 443 to 128.0.0.0/1"
        ]
    );
}

fn arbitrary_rule() -> impl Strategy<Value = IngressRule> {
    let protocol = prop::sample::select(vec!["tcp", "udp", "icmp", "-1", "6", "17", "47"]);
    let source = prop_oneof![
        4 => Just(RuleSource::Ipv4(ANY_IPV4.into())),
        3 => Just(RuleSource::Ipv6(ANY_IPV6.into())),
        1 => Just(RuleSource::Ipv4("10.0.0.0/8".into())),
        1 => Just(RuleSource::Ipv4("203.0.113.0/24".into())),
        1 => Just(RuleSource::Ipv4("0.0.0.0/1".into())),
        1 => Just(RuleSource::Ipv4("128.0.0.0/1".into())),
        1 => Just(RuleSource::Ipv6("2001:db8::/32".into())),
        1 => Just(RuleSource::Ipv6("2000::/3".into())),
        1 => Just(RuleSource::Ipv6("fc00::/7".into())),
        1 => Just(open_list()),
        1 => Just(private_list()),
        1 => Just(RuleSource::Other("sg-1234".into())),
    ];
    let ports = prop_oneof![
        Just((-1, -1)),
        (0u16..=1000, 0u16..=200)
            .prop_map(|(a, span)| (i32::from(a), i32::from(a) + i32::from(span))),
        (60000u16..=65535).prop_map(|a| (i32::from(a), 65535)),
        prop::sample::select(vec![
            (22, 22),
            (80, 80),
            (443, 443),
            (79, 81),
            (0, 65535),
            (442, 444)
        ]),
    ];
    (protocol, source, ports, 0u32..1_000_000).prop_map(|(protocol, source, (from, to), n)| {
        IngressRule {
            rule_id: format!("sgr-{n:08}"),
            protocol: protocol.to_string(),
            from_port: from,
            to_port: to,
            source,
            description: String::new(),
        }
    })
}

fn arbitrary_allowed() -> impl Strategy<Value = PortSet> {
    prop::collection::vec((0u16..=1000, 0u16..=50), 0..4).prop_map(|ranges| {
        PortSet::new(
            ranges
                .into_iter()
                .map(|(a, span)| a..=a.saturating_add(span))
                .collect(),
        )
    })
}

/// Whether TCP `port` is reachable from the internet `source` through any of `rules` (or re-opened ranges).
fn reachable(rules: &[IngressRule], reopen: &[Reopen], source: &RuleSource, port: u16) -> bool {
    rules.iter().any(|r| {
        r.is_public() && r.source == *source && r.tcp_ports().is_some_and(|p| p.contains(&port))
    }) || reopen
        .iter()
        .any(|r| r.source == *source && r.ports.contains(&port))
}

fn internet_sources() -> Vec<RuleSource> {
    let mut sources: Vec<RuleSource> = [ANY_IPV4, "0.0.0.0/1", "128.0.0.0/1"]
        .into_iter()
        .map(|c| RuleSource::Ipv4(c.into()))
        .collect();
    sources.extend(
        [ANY_IPV6, "2000::/3"]
            .into_iter()
            .map(|c| RuleSource::Ipv6(c.into())),
    );
    sources.push(open_list());
    sources
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_plan_fixes_exactly_what_is_wrong(
        rules in prop::collection::vec(arbitrary_rule(), 0..8),
        allowed in arbitrary_allowed(),
    ) {
        let plan = plan_group(&rules, &allowed, &[]);
        // Never touches a rule that is not open to the internet, nor a rule that is fine.
        for rule in &plan.revoke {
            prop_assert!(rule.is_public(), "{rule}");
            prop_assert!(rule.is_wrong(&allowed), "{rule}");
        }
        let kept: Vec<IngressRule> = rules.iter().filter(|r| !plan.revoke.contains(r)).cloned().collect();
        // Leaves no disallowed port publicly reachable.
        prop_assert!(kept.iter().all(|r| !r.is_wrong(&allowed)));
        for reopen in &plan.reopen {
            prop_assert!(covers(&allowed, &reopen.ports), "{reopen}");
        }
        // Never closes an allowed port that was open, per source; re-opens nothing twice.
        for source in internet_sources() {
            for range in allowed.ranges() {
                for port in range.clone() {
                    let before = reachable(&rules, &[], &source, port);
                    let after = reachable(&kept, &plan.reopen, &source, port);
                    prop_assert_eq!(before, after, "{} tcp {}", source, port);
                    let copies = plan.reopen.iter().filter(|r| r.source == source && r.ports.contains(&port)).count()
                        + usize::from(reachable(&kept, &[], &source, port));
                    prop_assert!(copies <= 1, "{} tcp {} opened {} times", source, port, copies);
                }
            }
        }
    }

    /// At the rules quota the same fix is reached another way: every wrong rule is either rewritten
    /// into an allowed range of its own source or revoked, and the rewrites plus the later re-opens
    /// are exactly the plan's re-opens.
    #[test]
    fn the_in_place_plan_ends_where_the_plan_ends(
        rules in prop::collection::vec(arbitrary_rule(), 0..8),
        allowed in arbitrary_allowed(),
    ) {
        let plan = plan_group(&rules, &allowed, &[]);
        let in_place = plan.in_place();
        let mut handled: Vec<&str> = in_place.rewrite.iter().map(|(id, _)| id.as_str()).collect();
        handled.extend(in_place.revoke.iter().map(String::as_str));
        handled.sort_unstable();
        let mut wrong: Vec<&str> = plan.revoke.iter().map(|r| r.rule_id.as_str()).collect();
        wrong.sort_unstable();
        wrong.dedup();
        handled.dedup();
        prop_assert_eq!(handled, wrong);
        for (id, reopen) in &in_place.rewrite {
            let rule = plan.revoke.iter().find(|r| r.rule_id == *id).unwrap();
            prop_assert_eq!(&reopen.source, &rule.source);
            prop_assert!(covers(&allowed, &reopen.ports), "{}", reopen);
        }
        let mut opened: Vec<String> = in_place.rewrite.iter().map(|(_, r)| r.to_string())
            .chain(in_place.reopen_after.iter().map(ToString::to_string)).collect();
        let mut wanted: Vec<String> = plan.reopen.iter().map(ToString::to_string).collect();
        opened.sort();
        wanted.sort();
        prop_assert_eq!(opened, wanted);
    }

    #[test]
    fn a_focused_plan_only_revokes_rules_reaching_the_ports(
        rules in prop::collection::vec(arbitrary_rule(), 0..8),
        port in prop::sample::select(vec![22u16, 80, 443, 3389, 5000]),
    ) {
        let plan = plan_group(&rules, &web(), &[port]);
        for rule in &plan.revoke {
            prop_assert!(rule.reaches_port(port), "{rule} does not reach {port}");
        }
        let unfocused = plan_group(&rules, &web(), &[]);
        prop_assert!(plan.revoke.iter().all(|r| unfocused.revoke.contains(r)));
    }
}

fn event(name: &str) -> Trigger {
    crate::test_support::sample_trigger(&format!("open-security-group/{name}"))
}

#[test]
fn each_sample_event_points_at_the_group() {
    const SG: &str = "sg-0a1b2c3d4e5f60718";
    for file in [
        "authorize-sg-ingress-ssh-world.json",
        "authorize-sg-ingress-legacy-toplevel.json",
        "authorize-sg-ingress-ipv6-world.json",
        "authorize-sg-ingress-all-protocols.json",
        "authorize-sg-ingress-prefix-list.json",
        "config-restricted-ssh.json",
    ] {
        assert_eq!(
            targets_of(&event(file)),
            Ok(vec![GroupTarget::new(SG)]),
            "{file}"
        );
    }
    for file in [
        "guardduty-recon-portprobe-port-22.json",
        "guardduty-ssh-brute-force.json",
        "guardduty-portprobe-via-sns.json",
    ] {
        let targets = targets_of(&event(file)).unwrap();
        assert_eq!(targets.len(), 1, "{file}");
        assert_eq!(targets[0].group_id, SG);
        assert_eq!(targets[0].focus_ports, [22], "{file}");
    }
}

#[test]
fn events_that_open_nothing_to_the_internet_are_not_targets() {
    let mut trigger = event("authorize-sg-ingress-ssh-world.json");
    let TriggerEvent::ApiCall(call) = &mut trigger.event else {
        panic!()
    };
    call.request["ipPermissions"]["items"][0]["ipRanges"]["items"][0]["cidrIp"] =
        "10.0.0.0/8".into();
    call.response["securityGroupRuleSet"]["items"][0]["cidrIpv4"] = "10.0.0.0/8".into();
    assert!(targets_of(&trigger)
        .unwrap_err()
        .reason
        .contains("no rule open to the internet"));

    let mut trigger = event("authorize-sg-ingress-legacy-toplevel.json");
    let TriggerEvent::ApiCall(call) = &mut trigger.event else {
        panic!()
    };
    call.request["cidrIp"] = "192.168.0.0/16".into();
    call.response["securityGroupRuleSet"]["items"][0]["cidrIpv4"] = "192.168.0.0/16".into();
    assert!(targets_of(&trigger).is_err());

    let mut trigger = event("guardduty-recon-portprobe-port-22.json");
    let TriggerEvent::Finding(finding) = &mut trigger.event else {
        panic!()
    };
    finding.resource_role = Some("ACTOR".into());
    assert!(targets_of(&trigger)
        .unwrap_err()
        .reason
        .contains("attacker"));

    let s3 = format!(
        "{}/../events/s3-public-access/put-bucket-acl-allusers-read.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let payload: Value = serde_json::from_str(&std::fs::read_to_string(s3).unwrap()).unwrap();
    assert!(targets_of(&parse_payload(&payload).remove(0).unwrap()).is_err());
}

mod flows {
    use super::*;
    use crate::identity::OwnIdentity;
    use crate::notify::Notifier;
    use crate::test_support::{http_error, mocked_client};
    use aws_sdk_ec2::operation::authorize_security_group_ingress::AuthorizeSecurityGroupIngressOutput;
    use aws_sdk_ec2::operation::describe_security_group_rules::DescribeSecurityGroupRulesOutput;
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
    use aws_sdk_ec2::types::{SecurityGroup, SecurityGroupRule};
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::{mock, Rule};
    use aws_smithy_runtime_api::http::Response;

    const SG: &str = "sg-0a1b2c3d4e5f60718";

    fn client(rules: &[&Rule]) -> Client {
        mocked_client!(aws_sdk_ec2, rules)
    }

    fn ec2_error(status: u16, code: &str) -> Response {
        http_error(
            status,
            format!("<Response><Errors><Error><Code>{code}</Code><Message>{code} from the test</Message></Error></Errors><RequestID>r</RequestID></Response>"),
        )
    }

    fn group() -> Rule {
        mock!(Client::describe_security_groups).then_output(|| {
            DescribeSecurityGroupsOutput::builder()
                .security_groups(SecurityGroup::builder().group_id(SG).build())
                .build()
        })
    }

    fn rules() -> Rule {
        mock!(Client::describe_security_group_rules).then_output(|| {
            DescribeSecurityGroupRulesOutput::builder()
                .security_group_rules(
                    SecurityGroupRule::builder()
                        .security_group_rule_id("sgr-all")
                        .group_id(SG)
                        .is_egress(false)
                        .ip_protocol("-1")
                        .from_port(-1)
                        .to_port(-1)
                        .cidr_ipv4(ANY_IPV4)
                        .build(),
                )
                .build()
        })
    }

    fn function(client: Client) -> OpenSecurityGroup {
        OpenSecurityGroup::new(
            SecurityGroupActions::from_client(client),
            Settings::default(),
            OwnIdentity::fixed(
                "arn:aws:sts::123456789012:assumed-role/remediation-open-security-group/x",
            ),
        )
    }

    fn notifier() -> Notifier {
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::Config::builder()
                .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
                .region(aws_sdk_sns::config::Region::new("us-east-1"))
                .build(),
        );
        Notifier::new(sns, None, "open-security-group", "remediation:exempt")
    }

    #[tokio::test]
    async fn throttled_revoke_makes_the_invocation_fail_so_lambda_retries() {
        let (group, rules) = (group(), rules());
        let authorize = mock!(Client::authorize_security_group_ingress)
            .match_requests(|request| request.ip_permissions().len() == 2)
            .then_output(|| {
                AuthorizeSecurityGroupIngressOutput::builder()
                    .r#return(true)
                    .build()
            });
        let revoke = mock!(Client::revoke_security_group_ingress)
            .sequence()
            .http_response(|| ec2_error(503, "RequestLimitExceeded"))
            .times(3)
            .build();
        let remediation = function(client(&[&group, &rules, &authorize, &revoke]));
        let payload: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../events/open-security-group/authorize-sg-ingress-all-protocols.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        let err = crate::invocation::handle(payload, &remediation, &notifier())
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("RevokeSecurityGroupIngress failed (RequestLimitExceeded)"),
            "{err}"
        );
        assert_eq!(revoke.num_calls(), 3, "the SDK retried before giving up");
        assert_eq!(
            authorize.num_calls(),
            1,
            "web ports were re-opened first, 80 and 443 in one call"
        );
    }

    #[tokio::test]
    async fn an_already_revoked_rule_is_success() {
        let (group, rules) = (group(), rules());
        let authorize = mock!(Client::authorize_security_group_ingress)
            .then_http_response(|| ec2_error(400, "InvalidPermission.Duplicate"));
        let revoke = mock!(Client::revoke_security_group_ingress)
            .then_http_response(|| ec2_error(400, "InvalidSecurityGroupRuleId.NotFound"));
        let remediation = function(client(&[&group, &rules, &authorize, &revoke]));
        let outcome = remediation
            .remediate(&GroupTarget::new(SG), &event("config-restricted-ssh.json"))
            .await
            .unwrap();
        assert_eq!(outcome.outcome, OutcomeKind::Remediated);
        assert_eq!(outcome.changes[0], "revoked all traffic from 0.0.0.0/0");
    }

    #[tokio::test]
    async fn a_denied_reopen_revokes_nothing() {
        let (group, rules) = (group(), rules());
        let authorize = mock!(Client::authorize_security_group_ingress)
            .then_http_response(|| ec2_error(403, "UnauthorizedOperation"));
        let revoke = mock!(Client::revoke_security_group_ingress)
            .then_http_response(|| ec2_error(500, "never called"));
        let remediation = function(client(&[&group, &rules, &authorize, &revoke]));
        let outcome = remediation
            .remediate(&GroupTarget::new(SG), &event("config-restricted-ssh.json"))
            .await
            .unwrap();
        assert_eq!(outcome.outcome, OutcomeKind::Failed);
        assert!(
            outcome.reason.contains("nothing was revoked"),
            "{}",
            outcome.reason
        );
        assert_eq!(revoke.num_calls(), 0);
    }
}

#[test]
fn a_prefix_list_holding_the_internet_is_judged_like_the_internet() {
    let all = IngressRule {
        source: open_list(),
        ..v4("pl-all", "-1", -1, -1, "")
    };
    let ssh_from_private = IngressRule {
        source: private_list(),
        ..v4("pl-ssh", "tcp", 22, 22, "")
    };
    let plan = plan_group(&[all, ssh_from_private], &web(), &[]);
    assert_eq!(revoked_ids(&plan), ["pl-all"]);
    assert_eq!(
        reopened(&plan),
        [
            "tcp 80 to prefix list pl-0open (holds 0.0.0.0/0)",
            "tcp 443 to prefix list pl-0open (holds 0.0.0.0/0)"
        ]
    );
    assert!(plan
        .reason(&web())
        .contains("all traffic from prefix list pl-0open (holds 0.0.0.0/0) (pl-all)"));
}

#[test]
fn at_the_rules_quota_broad_rules_are_narrowed_in_place() {
    let rules = [
        v4("all", "tcp", 0, 65535, ANY_IPV4),
        v4("ssh", "tcp", 22, 22, ANY_IPV4),
        v4("https", "tcp", 443, 443, "10.0.0.0/8"),
    ];
    let in_place = plan_group(&rules, &web(), &[]).in_place();
    let rewrites: Vec<String> = in_place
        .rewrite
        .iter()
        .map(|(id, r)| format!("{id} -> {r}"))
        .collect();
    assert_eq!(rewrites, ["all -> tcp 80 to 0.0.0.0/0"]);
    assert_eq!(in_place.revoke, ["ssh"]);
    let after: Vec<String> = in_place
        .reopen_after
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(after, ["tcp 443 to 0.0.0.0/0"]);
}

#[test]
fn a_changed_prefix_list_is_named_and_other_calls_name_none() {
    const LIST: &str = "pl-0a1b2c3d4e5f60718";
    let changed = event("modify-managed-prefix-list-add-world.json");
    assert_eq!(changed_prefix_list(&changed).as_deref(), Some(LIST));
    // Restoring an old version changes the entries too; the id is read unwrapped and from the
    // response as well.
    let with = |request: Value, response: Value| {
        let mut trigger = changed.clone();
        let TriggerEvent::ApiCall(call) = &mut trigger.event else {
            panic!()
        };
        call.event_name = "RestoreManagedPrefixListVersion".into();
        call.request = request;
        call.response = response;
        trigger
    };
    let TriggerEvent::ApiCall(call) = &changed.event else {
        panic!()
    };
    let response = call.response.clone();
    let wrapped = serde_json::json!({"RestoreManagedPrefixListVersionRequest": {"PrefixListId": LIST, "PreviousVersion": 1, "CurrentVersion": 2}});
    assert_eq!(
        changed_prefix_list(&with(wrapped, Value::Null)).as_deref(),
        Some(LIST)
    );
    let from_response = with(Value::Null, response);
    assert_eq!(changed_prefix_list(&from_response).as_deref(), Some(LIST));
    let nameless = with(Value::Null, Value::Null);
    assert_eq!(changed_prefix_list(&nameless), None);
    assert!(targets_of(&nameless).is_err());
    for other in [
        "authorize-sg-ingress-prefix-list.json",
        "scheduled-sweep.json",
        "config-restricted-ssh.json",
    ] {
        assert_eq!(changed_prefix_list(&event(other)), None, "{other}");
    }
}

// -------------------------------------------------------------------------------------------
// Undo: the calls a fix records give the group back its rules, in an order EC2 accepts.
// -------------------------------------------------------------------------------------------

mod undo_after_fix {
    use super::*;
    use crate::security_group::undo::{self, rule_json};
    use crate::undo::{judge_part, same_rule, Call, PartState, Restore};

    /// EC2 as far as an undo touches a group: `AuthorizeSecurityGroupIngress` refuses a rule the
    /// group has (`InvalidPermission.Duplicate`) and one past the group's rule quota
    /// (`RulesPerSecurityGroupLimitExceeded`); `RevokeSecurityGroupIngress` refuses a rule it does not
    /// have (`InvalidPermission.NotFound`) (EC2 API Reference, "Error codes for the Amazon EC2 API").
    fn apply(rules: &mut Vec<Value>, quota: usize, call: &Call) -> Result<(), String> {
        let permissions = call.parameters["IpPermissions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for permission in permissions {
            let at = rules.iter().position(|r| same_rule(r, &permission));
            match (call.operation.as_str(), at) {
                ("AuthorizeSecurityGroupIngress", Some(_)) => {
                    return Err("InvalidPermission.Duplicate".into())
                }
                ("AuthorizeSecurityGroupIngress", None) if rules.len() >= quota => {
                    return Err(RULES_QUOTA_EXCEEDED.into())
                }
                ("AuthorizeSecurityGroupIngress", None) => rules.push(permission),
                ("RevokeSecurityGroupIngress", Some(at)) => {
                    rules.remove(at);
                }
                ("RevokeSecurityGroupIngress", None) => {
                    return Err("InvalidPermission.NotFound".into())
                }
                (other, _) => return Err(format!("unexpected {other}")),
            }
        }
        Ok(())
    }

    fn sorted(rules: &[Value]) -> Vec<String> {
        let mut texts: Vec<String> = rules.iter().map(Value::to_string).collect();
        texts.sort();
        texts
    }

    fn judged(rules: &[Value], restore: &Restore) -> PartState {
        judge_part(
            "ingress",
            &restore.prior["ingress"],
            &restore.after["ingress"],
            &Value::Array(rules.to_vec()),
        )
    }

    /// A group as EC2 holds it: no two rules let the same traffic in; each with a description.
    fn group() -> impl Strategy<Value = Vec<IngressRule>> {
        prop::collection::vec(
            (arbitrary_rule(), proptest::option::of("[a-z ]{1,12}")),
            0..10,
        )
        .prop_map(|rules| {
            let mut group: Vec<IngressRule> = Vec::new();
            for (mut rule, description) in rules {
                rule.description = description.unwrap_or_default();
                if !group
                    .iter()
                    .any(|r| same_rule(&rule_json(r), &rule_json(&rule)))
                {
                    group.push(rule);
                }
            }
            group
        })
    }

    fn check(
        before: &[IngressRule],
        mut rules: Vec<Value>,
        restore: &Restore,
        quota: usize,
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(judged(&rules, restore), PartState::AsFixed);
        for call in &restore.undo {
            apply(&mut rules, quota, call)
                .map_err(|e| TestCaseError::fail(format!("{} refused: {e}", call.operation)))?;
        }
        let original: Vec<Value> = before.iter().map(rule_json).collect();
        prop_assert_eq!(
            sorted(&rules),
            sorted(&original),
            "the group has its rules back, descriptions too"
        );
        prop_assert_eq!(judged(&rules, restore), PartState::AsBefore);
        Ok(())
    }

    proptest! {
        /// With a free slot: revoke, re-open the allowed ports; the undo authorizes the revoked rules
        /// (first, so allowed ports never close) and revokes only the rules the fix added.
        #[test]
        fn undo_after_the_fix_gives_back_the_rules(before in group(), allowed in arbitrary_allowed()) {
            let plan = plan_group(&before, &allowed, &[]);
            prop_assume!(!plan.is_compliant());
            let mut rules: Vec<Value> = before.iter().map(rule_json).collect();
            for reopen in &plan.reopen {
                let rule = undo::reopen_json(reopen);
                if !rules.iter().any(|r| same_rule(r, &rule)) {
                    rules.push(rule);
                }
            }
            rules.retain(|r| !plan.revoke.iter().any(|gone| same_rule(r, &rule_json(gone))));
            let restore = undo::group("sg-1", &plan.revoke, &plan.reopen, &before, false);
            check(&before, rules, &restore, usize::MAX)?;
        }

        /// At the rules quota: narrowed in place, the rest revoked, remaining allowed ranges in the
        /// freed slots; the undo frees the slots first, then puts the rules back, within the quota.
        #[test]
        fn undo_after_the_fix_in_place_gives_back_the_rules_within_the_quota(before in group(), allowed in arbitrary_allowed()) {
            let plan = plan_group(&before, &allowed, &[]);
            prop_assume!(!plan.is_compliant());
            let in_place = plan.in_place();
            let added: Vec<Reopen> = in_place.rewrite.iter().map(|(_, r)| r.clone()).chain(in_place.reopen_after.clone()).collect();
            let mut rules: Vec<Value> = before.iter().map(rule_json).collect();
            rules.retain(|r| !plan.revoke.iter().any(|gone| same_rule(r, &rule_json(gone))));
            for reopen in &added {
                let rule = undo::reopen_json(reopen);
                if !rules.iter().any(|r| same_rule(r, &rule)) {
                    rules.push(rule);
                }
            }
            let quota = before.len().max(rules.len());
            let restore = undo::group("sg-1", &plan.revoke, &added, &before, true);
            check(&before, rules, &restore, quota)?;
        }
    }
}

/// A finding is resolved only when none of its control's ports may stay open under ALLOWED_PUBLIC_PORTS.
#[test]
fn security_hub_controls_vouched_for_follow_the_allowed_ports() {
    use crate::config::PortSet;
    let web = PortSet::parse("80,443").unwrap();
    for control in ["EC2.13", "EC2.14", "EC2.18", "EC2.19"] {
        assert!(policy::closes_control(control, &web), "{control}");
    }
    assert!(!policy::closes_control("EC2.2", &web));
    let ssh = PortSet::parse("22,80,443").unwrap();
    assert!(!policy::closes_control("EC2.13", &ssh));
    assert!(!policy::closes_control("EC2.19", &ssh));
    assert!(!policy::closes_control("EC2.18", &ssh));
    assert!(policy::closes_control("EC2.14", &ssh));
    let mysql = PortSet::parse("3306").unwrap();
    assert!(!policy::closes_control("EC2.19", &mysql));
    assert!(!policy::closes_control("EC2.18", &mysql));
    assert!(policy::closes_control("EC2.13", &mysql));
}
