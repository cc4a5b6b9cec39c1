//! Seeding and reading EC2 security groups and instances in moto, for tests and the demo.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, Tag, TagSpecification, UserIdGroupPair,
};
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
    authorize(ec2, group_id, permission.build()).await;
}

/// A customer-managed IPv4 prefix list holding `cidrs`; its id.
pub async fn create_prefix_list(ec2: &Client, name: &str, cidrs: &[&str]) -> String {
    let mut request = ec2
        .create_managed_prefix_list()
        .prefix_list_name(name)
        .address_family("IPv4")
        .max_entries(10);
    for cidr in cidrs {
        request = request.entries(
            aws_sdk_ec2::types::AddPrefixListEntry::builder()
                .cidr(*cidr)
                .build(),
        );
    }
    request
        .send()
        .await
        .expect("create prefix list")
        .prefix_list
        .and_then(|list| list.prefix_list_id)
        .expect("prefix list id")
}

/// Authorizes `protocol` `from`-`to` from a prefix list.
pub async fn open_to_prefix_list(
    ec2: &Client,
    group_id: &str,
    protocol: &str,
    from: i32,
    to: i32,
    list: &str,
) {
    let permission = IpPermission::builder()
        .ip_protocol(protocol)
        .from_port(from)
        .to_port(to)
        .prefix_list_ids(
            aws_sdk_ec2::types::PrefixListId::builder()
                .prefix_list_id(list)
                .build(),
        )
        .build();
    authorize(ec2, group_id, permission).await;
}

/// Lets another group in on a port (a rule that must never be touched).
pub async fn open_to_group(ec2: &Client, group_id: &str, port: i32, peer_group_id: &str) {
    let permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(peer_group_id).build())
        .build();
    authorize(ec2, group_id, permission).await;
}

async fn authorize(ec2: &Client, group_id: &str, permission: IpPermission) {
    ec2.authorize_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(permission)
        .send()
        .await
        .expect("authorize ingress");
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

/// Tags any EC2 resource (group or instance).
pub async fn tag(ec2: &Client, resource_id: &str, key: &str, value: &str) {
    ec2.create_tags()
        .resources(resource_id)
        .tags(Tag::builder().key(key).value(value).build())
        .send()
        .await
        .expect("create tags");
}

pub async fn tag_group(ec2: &Client, group_id: &str, key: &str, value: &str) {
    tag(ec2, group_id, key, value).await;
}

pub async fn untag(ec2: &Client, resource_id: &str, key: &str) {
    ec2.delete_tags()
        .resources(resource_id)
        .tags(Tag::builder().key(key).build())
        .send()
        .await
        .expect("delete tags");
}

/// Launches `count` instances carrying `tags` (moto runs them at once) and returns their ids.
/// moto accepts `aws:` tags from users, which lets tests seed `aws:autoscaling:groupName`
/// (on AWS only Auto Scaling sets it).
pub async fn launch(ec2: &Client, count: i32, tags: &[(&str, &str)]) -> Vec<String> {
    launch_with(ec2, count, tags, false).await
}

/// One instance launched with hibernation enabled (`HibernationOptions.Configured`).
pub async fn launch_hibernating(ec2: &Client, tags: &[(&str, &str)]) -> String {
    launch_with(ec2, 1, tags, true).await.remove(0)
}

async fn launch_with(
    ec2: &Client,
    count: i32,
    tags: &[(&str, &str)],
    hibernation: bool,
) -> Vec<String> {
    let mut request = ec2
        .run_instances()
        .image_id("ami-0abcdef1234567890")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(count)
        .max_count(count);
    if hibernation {
        request = request.hibernation_options(
            aws_sdk_ec2::types::HibernationOptionsRequest::builder()
                .configured(true)
                .build(),
        );
    }
    if !tags.is_empty() {
        let mut spec =
            TagSpecification::builder().resource_type(aws_sdk_ec2::types::ResourceType::Instance);
        for (k, v) in tags {
            spec = spec.tags(Tag::builder().key(*k).value(*v).build());
        }
        request = request.tag_specifications(spec.build());
    }
    request
        .send()
        .await
        .expect("run instances")
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(String::from))
        .collect()
}

pub async fn launch_one(ec2: &Client, tags: &[(&str, &str)]) -> String {
    launch(ec2, 1, tags).await.remove(0)
}

/// The state name and tags of an instance.
pub async fn instance(ec2: &Client, instance_id: &str) -> (String, BTreeMap<String, String>) {
    let out = ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .expect("describe instance");
    let instance = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .expect("instance exists");
    let state = instance
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    let tags = instance
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect();
    (state, tags)
}

pub async fn instance_state(ec2: &Client, instance_id: &str) -> String {
    instance(ec2, instance_id).await.0
}

pub async fn stop(ec2: &Client, instance_id: &str) {
    ec2.stop_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .expect("stop instance");
}
