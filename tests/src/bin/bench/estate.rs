//! The pretend estate both tools are let loose on: buckets, security groups and instances, some
//! wrong, some right, some exempt. Every resource knows what it should look like afterwards, so
//! the end state says what each tool fixed, missed, over-fixed or wrongly changed.

use std::collections::BTreeMap;

use aws_sdk_s3::types::BucketCannedAcl;
use remediation_tests::ec2::{self as ec2rig, ingress};
use remediation_tests::s3::{self as s3rig, block_public_access, bucket_grants};
use remediation_tests::Aws;

pub const EXEMPT: &str = "remediation:exempt";
pub const ASG_TAG: &str = "aws:autoscaling:groupName";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Bucket,
    Group,
    Instance,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bucket => "s3-bucket",
            Kind::Group => "security-group",
            Kind::Instance => "ec2-instance",
        }
    }
}

/// One seeded resource.
#[derive(Clone, Debug)]
pub struct Resource {
    pub kind: Kind,
    /// Bucket name, security group id or instance id.
    pub id: String,
    /// Whether the policy says it must be fixed.
    pub wrong: bool,
    /// What it should look like after an exact fix (for the others: as it was).
    pub expected: String,
}

/// What happened to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Wrong, and now exactly as it should be.
    Fixed,
    /// Wrong, and still wrong.
    Missed,
    /// Wrong, no longer wrong, but more was changed than needed (e.g. allowed web ports closed).
    OverFixed,
    /// Right (compliant or exempt), and left exactly as it was.
    LeftAlone,
    /// Right, and changed anyway.
    WronglyChanged,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fixed => "fixed",
            Verdict::Missed => "missed",
            Verdict::OverFixed => "over-fixed",
            Verdict::LeftAlone => "left alone",
            Verdict::WronglyChanged => "wrongly changed",
        }
    }
}

/// How many of each kind to seed.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub buckets: usize,
    pub groups: usize,
    pub instances: usize,
}

pub async fn seed(aws: &Aws, sizes: Sizes) -> Vec<Resource> {
    let mut resources = Vec::new();
    seed_buckets(aws, sizes.buckets, &mut resources).await;
    seed_groups(aws, sizes.groups, &mut resources).await;
    seed_instances(aws, sizes.instances, &mut resources).await;
    resources
}

/// Of every twelve buckets: two public-read, two public with a partner grant to keep, one public but
/// exempt, five private, one public through its bucket policy (anyone may read every object), one
/// private with a public object in it.
async fn seed_buckets(aws: &Aws, count: usize, out: &mut Vec<Resource>) {
    for i in 0..count {
        let name = format!("bench-bucket-{i:05}");
        match i % 12 {
            10 => {
                s3rig::create_private_bucket(&aws.s3, &name).await;
                let policy = s3rig::policy_with(&name, &s3rig::public_read_statement(&name));
                s3rig::put_bucket_policy(&aws.s3, &name, &policy).await;
                out.push(public_by_effect(&name, "policy"));
                continue;
            }
            11 => {
                s3rig::create_private_bucket(&aws.s3, &name).await;
                s3rig::put_public_object(&aws.s3, &name, OBJECT).await;
                out.push(public_by_effect(&name, "object"));
                continue;
            }
            _ => {}
        }
        let wrong = match i % 10 {
            0 | 1 => {
                s3rig::create_bucket_with_canned_acl(&aws.s3, &name, BucketCannedAcl::PublicRead)
                    .await;
                true
            }
            2 | 3 => {
                s3rig::create_public_bucket(&aws.s3, &name).await;
                true
            }
            4 => {
                s3rig::create_public_bucket(&aws.s3, &name).await;
                s3rig::tag_bucket(&aws.s3, &name, EXEMPT, "yes").await;
                false
            }
            _ => {
                s3rig::create_private_bucket(&aws.s3, &name).await;
                false
            }
        };
        let before = bucket_state(aws, &name).await;
        let expected = if wrong {
            let grants: Vec<String> = bucket_grants(&aws.s3, &name)
                .await
                .into_iter()
                .filter(|g| !is_public_grant(g))
                .collect();
            format!("{grants:?} block {:?}", Some([true; 4]))
        } else {
            before
        };
        out.push(Resource {
            kind: Kind::Bucket,
            id: name,
            wrong,
            expected,
        });
    }
}

/// The object the public-object bucket holds.
const OBJECT: &str = "reports/q3.csv";

/// A bucket public through its policy or an object: fixed when that exposure no longer has effect
/// (the statement or grant gone, or Block Public Access cutting it off), however a tool got there.
fn public_by_effect(bucket: &str, through: &str) -> Resource {
    Resource {
        kind: Kind::Bucket,
        id: bucket.to_string(),
        wrong: true,
        expected: format!("public through its {through}: false"),
    }
}

/// Whether the bucket's policy or its object is still public in effect, in the form `expected` has.
async fn exposure_by_effect(aws: &Aws, bucket: &str, expected: &str) -> String {
    let block = block_public_access(&aws.s3, bucket)
        .await
        .unwrap_or([false; 4]);
    let (through, public) = if expected.contains("policy") {
        let policy_public = aws
            .s3
            .get_bucket_policy_status()
            .bucket(bucket)
            .send()
            .await
            .ok()
            .and_then(|o| o.policy_status().and_then(|s| s.is_public()))
            .unwrap_or(false);
        // RestrictPublicBuckets cuts a public policy off (S3 User Guide, Block Public Access).
        ("policy", policy_public && !block[3])
    } else {
        let grants = s3rig::object_grants(&aws.s3, bucket, OBJECT).await;
        // IgnorePublicAcls makes S3 ignore the object's public grants.
        (
            "object",
            grants.iter().any(|g| is_public_grant(g)) && !block[1],
        )
    };
    format!("public through its {through}: {public}")
}

fn is_public_grant(grant: &str) -> bool {
    grant.starts_with("uri:AllUsers") || grant.starts_with("uri:AuthenticatedUsers")
}

/// Ingress rules seeded per group, and what must remain: (protocol, from, to, cidr).
type Rule = (&'static str, i32, i32, &'static str);

const WORLD: &str = "0.0.0.0/0";
const WORLD_V6: &str = "::/0";

/// Of every fourteen groups, ten as below and four more: SSH from `::/0`, UDP 443 from anywhere
/// (QUIC; the allowed ports are TCP ports, so public UDP is wrong), SSH from another group (never
/// touched), SSH from a customer-managed prefix list that holds `0.0.0.0/0` (see `seed_groups`).
fn group_plan(i: usize) -> (&'static str, Vec<Rule>, Vec<Rule>, bool) {
    match i % 14 {
        10 => (
            "ssh-world-v6",
            vec![("tcp", 22, 22, WORLD_V6)],
            vec![],
            true,
        ),
        11 => ("quic-world", vec![("udp", 443, 443, WORLD)], vec![], true),
        12 => ("ssh-from-group", vec![], vec![], false),
        13 => ("ssh-from-world-prefix-list", vec![], vec![], true),
        _ => classic_group_plan(i),
    }
}

fn classic_group_plan(i: usize) -> (&'static str, Vec<Rule>, Vec<Rule>, bool) {
    match i % 10 {
        0 | 1 => ("ssh-world", vec![("tcp", 22, 22, WORLD)], vec![], true),
        2 => (
            "all-traffic-world",
            vec![("-1", -1, -1, WORLD)],
            vec![("tcp", 80, 80, WORLD), ("tcp", 443, 443, WORLD)],
            true,
        ),
        3 => (
            "all-tcp-world",
            vec![("tcp", 0, 65535, WORLD)],
            vec![("tcp", 80, 80, WORLD), ("tcp", 443, 443, WORLD)],
            true,
        ),
        4 => (
            "ssh-world-and-private-and-web",
            vec![
                ("tcp", 22, 22, WORLD),
                ("tcp", 22, 22, "10.0.0.0/8"),
                ("tcp", 443, 443, WORLD),
            ],
            vec![("tcp", 22, 22, "10.0.0.0/8"), ("tcp", 443, 443, WORLD)],
            true,
        ),
        5 | 6 => (
            "web-world",
            vec![("tcp", 443, 443, WORLD), ("tcp", 80, 80, WORLD)],
            vec![("tcp", 443, 443, WORLD), ("tcp", 80, 80, WORLD)],
            false,
        ),
        7 | 8 => (
            "ssh-private",
            vec![("tcp", 22, 22, "10.0.0.0/8")],
            vec![("tcp", 22, 22, "10.0.0.0/8")],
            false,
        ),
        _ => (
            "ssh-world-exempt",
            vec![("tcp", 22, 22, WORLD)],
            vec![("tcp", 22, 22, WORLD)],
            false,
        ),
    }
}

async fn seed_groups(aws: &Aws, count: usize, out: &mut Vec<Resource>) {
    // Other groups' rules point at these: a peer group and a prefix list holding the internet.
    let peer = ec2rig::create_group(&aws.ec2, "bench-sg-peer").await;
    let world_list = ec2rig::create_prefix_list(&aws.ec2, "bench-world", &[WORLD]).await;
    for i in 0..count {
        let (shape, rules, remaining, wrong) = group_plan(i);
        let name = format!("bench-sg-{i:05}-{shape}");
        let id = ec2rig::create_group(&aws.ec2, &name).await;
        for (protocol, from, to, cidr) in &rules {
            ec2rig::open(&aws.ec2, &id, protocol, *from, *to, cidr).await;
        }
        let mut kept_reference = None;
        match shape {
            "ssh-from-group" => {
                ec2rig::open_to_group(&aws.ec2, &id, 22, &peer).await;
                kept_reference = Some(format!("tcp 22-22 {peer}"));
            }
            "ssh-from-world-prefix-list" => {
                ec2rig::open_to_prefix_list(&aws.ec2, &id, "tcp", 22, 22, &world_list).await;
            }
            _ => {}
        }
        if shape.ends_with("exempt") {
            ec2rig::tag_group(&aws.ec2, &id, EXEMPT, "yes").await;
        }
        let mut expected: Vec<String> = remaining
            .iter()
            .map(|(p, from, to, cidr)| format!("{p} {from}-{to} {cidr}"))
            .chain(kept_reference)
            .collect();
        expected.sort();
        out.push(Resource {
            kind: Kind::Group,
            id,
            wrong,
            expected: format!("{expected:?}"),
        });
    }
}

/// Half tagged right, a fifth without `env`, a tenth untagged, a tenth untagged but exempt, a
/// tenth untagged in an Auto Scaling group (which would replace a stopped instance).
pub fn instance_tags(i: usize) -> (Vec<(&'static str, &'static str)>, bool) {
    match i % 10 {
        0..=4 => (vec![("Name", "web"), ("env", "prod")], false),
        5 | 6 => (vec![("Name", "batch")], true),
        7 => (vec![], true),
        8 => (vec![(EXEMPT, "yes")], false),
        _ => (vec![(ASG_TAG, "web-asg")], false),
    }
}

async fn seed_instances(aws: &Aws, count: usize, out: &mut Vec<Resource>) {
    // Launched in groups of the same tags, 500 per RunInstances call.
    for shape in 0..10 {
        let n = (0..count).filter(|i| i % 10 == shape).count();
        if n == 0 {
            continue;
        }
        let (tags, wrong) = instance_tags(shape);
        let mut ids = Vec::new();
        let mut left = n;
        while left > 0 {
            let batch = left.min(500);
            ids.extend(ec2rig::launch(&aws.ec2, batch as i32, &tags).await);
            left -= batch;
        }
        for id in ids {
            out.push(Resource {
                kind: Kind::Instance,
                id,
                wrong,
                expected: if wrong { "stopped" } else { "running" }.to_string(),
            });
        }
    }
}

pub async fn bucket_state(aws: &Aws, bucket: &str) -> String {
    format!(
        "{:?} block {:?}",
        bucket_grants(&aws.s3, bucket).await,
        block_public_access(&aws.s3, bucket).await
    )
}

/// Every instance's state, by id (one paginated read).
pub async fn instance_states(aws: &Aws) -> BTreeMap<String, String> {
    let mut states = BTreeMap::new();
    let mut pages = aws
        .ec2
        .describe_instances()
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.expect("describe instances");
        for instance in page.reservations().iter().flat_map(|r| r.instances()) {
            let id = instance.instance_id().unwrap_or_default().to_string();
            let state = instance
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            states.insert(id, state);
        }
    }
    states
}

/// Judges every resource by its state now.
pub async fn judge(aws: &Aws, resources: &[Resource]) -> BTreeMap<Kind, BTreeMap<Verdict, usize>> {
    let instances = instance_states(aws).await;
    let mut verdicts: BTreeMap<Kind, BTreeMap<Verdict, usize>> = BTreeMap::new();
    for resource in resources {
        let now = match resource.kind {
            Kind::Bucket if resource.expected.starts_with("public through") => {
                exposure_by_effect(aws, &resource.id, &resource.expected).await
            }
            Kind::Bucket => bucket_state(aws, &resource.id).await,
            Kind::Group => format!("{:?}", ingress(&aws.ec2, &resource.id).await),
            Kind::Instance => instances.get(&resource.id).cloned().unwrap_or_default(),
        };
        let verdict = match (resource.wrong, now == resource.expected) {
            (true, true) => Verdict::Fixed,
            (true, false) if still_wrong(resource.kind, &now) => Verdict::Missed,
            (true, false) => Verdict::OverFixed,
            (false, true) => Verdict::LeftAlone,
            (false, false) => Verdict::WronglyChanged,
        };
        *verdicts
            .entry(resource.kind)
            .or_default()
            .entry(verdict)
            .or_default() += 1;
    }
    verdicts
}

/// Whether the problem the policy is about is still there.
fn still_wrong(kind: Kind, now: &str) -> bool {
    match kind {
        Kind::Bucket => {
            now.contains("uri:AllUsers")
                || now.contains("uri:AuthenticatedUsers")
                || now.ends_with(": true")
        }
        Kind::Group => {
            let rules: Vec<String> = serde_json::from_str(now).unwrap_or_default();
            // The estate's only prefix list holds the internet.
            rules.iter().any(|rule| {
                (rule.ends_with(" 0.0.0.0/0") || rule.ends_with(" ::/0") || rule.contains(" pl-"))
                    && !rule.starts_with("tcp 80-80 ")
                    && !rule.starts_with("tcp 443-443 ")
            })
        }
        Kind::Instance => now == "running" || now == "pending",
    }
}
