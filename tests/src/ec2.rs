//! Seeding and reading EC2 security groups in moto, for tests and the demo.

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, Tag, UserIdGroupPair};
use aws_sdk_ec2::Client;

pub async fn create_group(ec2: &Client, name: &str) -> String {
    ec2.create_security_group()
        .group_name(name)
        .description(format!("test group {name}"))
        .send()
        .await
        .expect("create security group")
        .group_id
        .expect("group id")
}

/// Authorizes one ingress rule; `cidr` with a `:` is IPv6. Ports -1 for protocol -1 / ICMP.
pub async fn open(ec2: &Client, group_id: &str, protocol: &str, from: i32, to: i32, cidr: &str) {
    let mut permission = IpPermission::builder()
        .ip_protocol(protocol)
        .from_port(from)
        .to_port(to);
    permission = if cidr.contains(':') {
        permission.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
    } else {
        permission.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
    };
    ec2.authorize_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(permission.build())
        .send()
        .await
        .expect("authorize ingress");
}

/// Lets another group in on a port (a rule that must never be touched).
pub async fn open_to_group(ec2: &Client, group_id: &str, port: i32, peer_group_id: &str) {
    let permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(peer_group_id).build())
        .build();
    ec2.authorize_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(permission)
        .send()
        .await
        .expect("authorize group pair");
}

/// `tcp 22-22 0.0.0.0/0`, `-1 -1--1 ::/0`, `tcp 5432-5432 sg-...`: one line per ingress rule, sorted.
pub async fn ingress(ec2: &Client, group_id: &str) -> Vec<String> {
    rules(ec2, group_id, false).await
}

pub async fn egress(ec2: &Client, group_id: &str) -> Vec<String> {
    rules(ec2, group_id, true).await
}

async fn rules(ec2: &Client, group_id: &str, egress: bool) -> Vec<String> {
    let out = ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(group_id)
                .build(),
        )
        .send()
        .await
        .expect("describe rules");
    let mut lines: Vec<String> = out
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(egress))
        .map(|r| {
            let source = r
                .cidr_ipv4()
                .or(r.cidr_ipv6())
                .or(r.prefix_list_id())
                .or(r.referenced_group_info().and_then(|g| g.group_id()))
                .unwrap_or("?");
            format!(
                "{} {}-{} {source}",
                r.ip_protocol().unwrap_or("?"),
                r.from_port().unwrap_or(-1),
                r.to_port().unwrap_or(-1)
            )
        })
        .collect();
    lines.sort();
    lines
}

pub async fn tag_group(ec2: &Client, group_id: &str, key: &str, value: &str) {
    ec2.create_tags()
        .resources(group_id)
        .tags(Tag::builder().key(key).value(value).build())
        .send()
        .await
        .expect("tag group");
}
