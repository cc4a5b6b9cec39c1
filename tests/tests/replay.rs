//! Duplicates, disorder and loops, end to end: a day of mixed events for the three remediation
//! functions, replayed in order once on one account and shuffled twice on an identical one, must
//! leave the same end state with the same changes made once; and the CloudTrail events that the
//! functions' own changes cause must not lead to any further change.
//! The shuffle's seed is printed; `REPLAY_SEED=<n>` replays a failing order.

use std::collections::BTreeMap;

use aws_sdk_s3::types::BucketCannedAcl;
use remediation_tests::ec2::{self as sg, instance, launch_one, open};
use remediation_tests::s3::{self as buckets, block_public_access, bucket_grants, object_grants};
use remediation_tests::{event, unique, Account, FunctionProcess};
use serde_json::{json, Value};

const S3: &str = "s3-public-access";
const GROUPS: &str = "open-security-group";
const INSTANCES: &str = "untagged-instance";
const OBJECT_KEY: &str = "reports/q1.csv";
const EXEMPT: &str = "remediation:exempt";

/// One account seeded with the same resources, named the same way, as every other.
struct Day {
    account: Account,
    base: String,
    /// Logical name -> security group or instance id (differs between accounts).
    ids: BTreeMap<&'static str, String>,
    functions: BTreeMap<&'static str, FunctionProcess>,
}

impl Day {
    async fn seed(base: &str) -> Day {
        let account = Account::new().await;
        let (s3, ec2) = (&account.aws.s3, &account.aws.ec2);
        let bucket = |name: &str| format!("{base}-{name}");
        buckets::create_public_bucket(s3, &bucket("public")).await;
        buckets::create_bucket_with_canned_acl(s3, &bucket("canned"), BucketCannedAcl::PublicRead)
            .await;
        buckets::create_private_bucket(s3, &bucket("private")).await;
        buckets::put_public_object(s3, &bucket("private"), OBJECT_KEY).await;
        buckets::create_public_bucket(s3, &bucket("exempt")).await;
        buckets::tag_bucket(s3, &bucket("exempt"), EXEMPT, "yes").await;

        let mut ids = BTreeMap::new();
        for (name, protocol, port, cidr, exempt) in [
            ("sg-ssh", "tcp", 22, "0.0.0.0/0", false),
            ("sg-all", "-1", -1, "0.0.0.0/0", false),
            ("sg-web", "tcp", 443, "0.0.0.0/0", false),
            ("sg-private", "tcp", 22, "10.0.0.0/8", false),
            ("sg-exempt", "tcp", 22, "0.0.0.0/0", true),
        ] {
            let group = sg::create_group(ec2, &format!("{base}-{name}")).await;
            open(ec2, &group, protocol, port, port, cidr).await;
            if exempt {
                sg::tag_group(ec2, &group, EXEMPT, "yes").await;
            }
            ids.insert(name, group);
        }
        for (name, tags) in [
            ("i-untagged", vec![]),
            ("i-no-env", vec![("Name", "batch")]),
            ("i-tagged", vec![("Name", "web"), ("env", "prod")]),
            ("i-exempt", vec![(EXEMPT, "yes")]),
        ] {
            ids.insert(name, launch_one(ec2, &tags).await);
        }

        let mut functions = BTreeMap::new();
        for name in [S3, GROUPS, INSTANCES] {
            functions.insert(name, account.function(name, &[]).await);
        }
        Day {
            account,
            base: base.to_string(),
            ids,
            functions,
        }
    }

    /// A sample event of `function` about the logical resource `name`.
    fn event(&self, function: &str, file: &str, name: &str) -> Value {
        let bucket = format!("{}-{name}", self.base);
        let id = self.ids.get(name).map(String::as_str).unwrap_or("");
        event(
            &format!("{function}/{file}"),
            &[
                ("example-public-bucket", &bucket),
                ("sg-0a1b2c3d4e5f60718", id),
                ("i-0a1b2c3d4e5f60718", id),
            ],
        )
    }

    /// A day of events, in the order they happened: each problem reported by several sources,
    /// compliant and exempt resources mentioned too, unrelated events, and the hourly sweeps.
    fn events(&self) -> Vec<(&'static str, Value)> {
        let e = |function: &'static str, file: &str, name: &str| {
            (function, self.event(function, file, name))
        };
        vec![
            e(S3, "put-bucket-acl-allusers-read.json", "public"),
            e(GROUPS, "authorize-sg-ingress-ssh-world.json", "sg-ssh"),
            e(INSTANCES, "run-instances.json", "i-untagged"),
            e(INSTANCES, "instance-pending.json", "i-no-env"),
            e(S3, "create-bucket-public-read.json", "canned"),
            e(S3, "put-object-acl-public-read.json", "private"),
            e(GROUPS, "authorize-sg-ingress-all-protocols.json", "sg-all"),
            e(GROUPS, "authorize-sg-ingress-ssh-world.json", "sg-web"),
            e(
                GROUPS,
                "authorize-sg-ingress-legacy-toplevel.json",
                "sg-private",
            ),
            e(GROUPS, "authorize-sg-ingress-ssh-world.json", "sg-exempt"),
            e(S3, "put-bucket-acl-allusers-read.json", "exempt"),
            e(INSTANCES, "instance-running.json", "i-tagged"),
            e(INSTANCES, "instance-running.json", "i-exempt"),
            e(INSTANCES, "instance-running.json", "i-untagged"),
            e(S3, "ignored-put-bucket-acl-access-denied.json", "public"),
            e(GROUPS, "ignored-guardduty-sample-finding.json", "sg-ssh"),
            e(S3, "config-s3-bucket-public-read-prohibited.json", "public"),
            e(GROUPS, "config-restricted-ssh.json", "sg-ssh"),
            e(INSTANCES, "config-required-tags.json", "i-untagged"),
            e(
                S3,
                "guardduty-s3-bucket-anonymous-access-granted.json",
                "canned",
            ),
            e(GROUPS, "guardduty-ssh-brute-force.json", "sg-ssh"),
            e(INSTANCES, "delete-tags-instance.json", "i-no-env"),
            e(S3, "delete-bucket-public-access-block.json", "private"),
            e(S3, "scheduled-sweep.json", ""),
            e(GROUPS, "scheduled-sweep.json", ""),
            e(INSTANCES, "scheduled-sweep.json", ""),
        ]
    }

    async fn play(&mut self, events: &[(&'static str, Value)]) {
        for (function, payload) in events {
            let process = self.functions.get_mut(function).expect("function");
            let invocation = process.invoke(payload).await;
            invocation.response();
        }
    }

    /// What matters at the end of the day, by logical name.
    async fn state(&self) -> BTreeMap<String, String> {
        let (s3, ec2) = (&self.account.aws.s3, &self.account.aws.ec2);
        let mut state = BTreeMap::new();
        for name in ["public", "canned", "private", "exempt"] {
            let bucket = format!("{}-{name}", self.base);
            state.insert(
                format!("bucket {name}"),
                format!(
                    "{:?} block {:?}",
                    bucket_grants(s3, &bucket).await,
                    block_public_access(s3, &bucket).await
                ),
            );
        }
        let private = format!("{}-private", self.base);
        state.insert(
            "object".into(),
            format!("{:?}", object_grants(s3, &private, OBJECT_KEY).await),
        );
        for (name, id) in &self.ids {
            let value = if name.starts_with("sg-") {
                format!("{:?}", sg::ingress(ec2, id).await)
            } else {
                format!("{:?}", instance(ec2, id).await)
            };
            state.insert(name.to_string(), value);
        }
        state
    }

    /// (resource type, resource id) of every `remediated` notification, in order.
    async fn remediations(&self) -> Vec<(String, String)> {
        self.account
            .inbox
            .drain()
            .await
            .iter()
            .filter(|n| n.document["outcome"] == "remediated")
            .map(|n| {
                (
                    n.document["resource_type"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    n.document["resource_id"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// The changes made since recording started, one line per changing call and resource
    /// (`StopInstances i-untagged`, `S3 PUT /<base>-public?acl`), sorted. A call that changes
    /// two instances counts once for each, so batching differences between orders do not matter.
    fn changes(&self) -> Vec<String> {
        let names: BTreeMap<&str, &str> = self.ids.iter().map(|(k, v)| (v.as_str(), *k)).collect();
        let mut changes = Vec::new();
        for (op, params) in self.account.moto.server().recorded_requests() {
            if !is_change(&op) {
                continue;
            }
            let resources: Vec<&str> = params
                .iter()
                .filter(|(key, _)| {
                    key == "GroupId"
                        || key.starts_with("InstanceId.")
                        || key.starts_with("ResourceId.")
                })
                .map(|(_, id)| names.get(id.as_str()).copied().unwrap_or(id.as_str()))
                .collect();
            if resources.is_empty() {
                changes.push(op.replace(&self.base, "<base>"));
            }
            for resource in resources {
                changes.push(format!("{op} {resource}"));
            }
        }
        changes.sort();
        changes
    }
}

fn is_change(call: &str) -> bool {
    !(call.starts_with("Describe")
        || call.starts_with("Get")
        || call.starts_with("List")
        || call.starts_with("S3 GET")
        || call.starts_with("S3 HEAD")
        || call == "Publish"
        || call == "PublishBatch")
}

/// A small deterministic shuffle (xorshift), so a failing order can be replayed from its seed.
fn shuffle<T>(items: &mut [T], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let j = (*seed % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn replay_seed() -> u64 {
    std::env::var("REPLAY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 | 1)
                .unwrap_or(0x9e37_79b9_7f4a_7c15)
        })
}

#[tokio::test]
async fn shuffled_and_duplicated_events_end_like_one_ordered_pass() {
    let base = unique("replay");
    let mut ordered = Day::seed(&base).await;
    let mut shuffled = Day::seed(&base).await;
    assert_eq!(
        ordered.state().await,
        shuffled.state().await,
        "identical accounts"
    );

    ordered.account.moto.server().start_recording();
    let day = ordered.events();
    ordered.play(&day).await;
    let ordered_changes = ordered.changes();
    println!("changes of the ordered pass: {ordered_changes:#?}");

    let seed = replay_seed();
    println!("REPLAY_SEED={seed}");
    let mut rng = seed;
    shuffled.account.moto.server().start_recording();
    let mut first = shuffled.events();
    shuffle(&mut first, &mut rng);
    let mut second = shuffled.events();
    shuffle(&mut second, &mut rng);
    shuffled.play(&first).await;
    shuffled.play(&second).await;
    let shuffled_changes = shuffled.changes();

    let end = ordered.state().await;
    assert_eq!(
        end,
        shuffled.state().await,
        "same end state (REPLAY_SEED={seed})"
    );
    assert_eq!(
        ordered_changes, shuffled_changes,
        "the same changes, each made once (REPLAY_SEED={seed})"
    );

    // And the end state is the right one: every problem fixed, everything else as it was.
    for fixed in ["bucket public", "bucket canned", "object"] {
        assert!(!end[fixed].contains("AllUsers"), "{fixed}: {}", end[fixed]);
    }
    assert!(
        end["bucket exempt"].contains("AllUsers"),
        "exempt bucket untouched"
    );
    assert_eq!(end["sg-ssh"], "[]");
    assert_eq!(
        end["sg-all"],
        r#"["tcp 443-443 0.0.0.0/0", "tcp 80-80 0.0.0.0/0"]"#
    );
    assert_eq!(end["sg-web"], r#"["tcp 443-443 0.0.0.0/0"]"#);
    assert_eq!(end["sg-private"], r#"["tcp 22-22 10.0.0.0/8"]"#);
    assert_eq!(end["sg-exempt"], r#"["tcp 22-22 0.0.0.0/0"]"#);
    for (name, state) in [
        ("i-untagged", "stopped"),
        ("i-no-env", "stopped"),
        ("i-tagged", "running"),
        ("i-exempt", "running"),
    ] {
        assert!(end[name].contains(state), "{name}: {}", end[name]);
    }

    // One remediated notification per fixed resource, in both.
    let mut told = ordered.remediations().await;
    let mut told_shuffled = shuffled.remediations().await;
    assert_eq!(told.len(), 7, "{told:?}");
    assert_eq!(told_shuffled.len(), 7, "{told_shuffled:?}");
    told.sort();
    told.dedup();
    told_shuffled.sort();
    told_shuffled.dedup();
    assert_eq!(told.len(), 7, "no resource fixed twice");
    assert_eq!(told_shuffled.len(), 7, "no resource fixed twice");
}

/// The CloudTrail events that the functions' own changes cause, as CloudTrail would record them
/// (made by the function's role), for every kind of change the functions made.
fn echoes(day: &Day, changes: &[String]) -> Vec<Value> {
    let role = |function: &str| {
        json!({"type": "AssumedRole", "principalId": format!("AROAEXAMPLE:{function}"),
               "arn": format!("arn:aws:sts::123456789012:assumed-role/remediation-{function}/{function}"),
               "accountId": "123456789012",
               "sessionContext": {"sessionIssuer": {"type": "Role",
                   "arn": format!("arn:aws:iam::123456789012:role/remediation-{function}"),
                   "accountId": "123456789012", "userName": format!("remediation-{function}")}}})
    };
    let by = |function: &str, mut event: Value, name: &str| {
        event["detail"]["eventName"] = json!(name);
        event["detail"]["userIdentity"] = role(function);
        event
    };
    let mut echoes = Vec::new();
    for call in changes {
        let op = call.split(' ').next().unwrap_or("");
        let op = if op == "S3" { call.as_str() } else { op };
        if op.starts_with("S3 PUT") && op.contains("?acl") && op.contains(OBJECT_KEY) {
            echoes.push(by(
                S3,
                day.event(S3, "put-object-acl-public-read.json", "private"),
                "PutObjectAcl",
            ));
        } else if op.starts_with("S3 PUT") && op.contains("?acl") {
            for name in ["public", "canned"] {
                echoes.push(by(
                    S3,
                    day.event(S3, "put-bucket-acl-allusers-read.json", name),
                    "PutBucketAcl",
                ));
            }
        } else if op.starts_with("S3 PUT") && op.contains("publicAccessBlock") {
            for name in ["public", "canned", "private"] {
                echoes.push(by(
                    S3,
                    day.event(S3, "put-bucket-public-access-block-disabled.json", name),
                    "PutPublicAccessBlock",
                ));
            }
        } else if op == "RevokeSecurityGroupIngress" || op == "AuthorizeSecurityGroupIngress" {
            for name in ["sg-ssh", "sg-all"] {
                let mut echo = day.event(GROUPS, "authorize-sg-ingress-ssh-world.json", name);
                // What the function re-opens: an allowed port, to the internet.
                echo["detail"]["requestParameters"]["ipPermissions"]["items"][0]["fromPort"] =
                    json!(443);
                echo["detail"]["requestParameters"]["ipPermissions"]["items"][0]["toPort"] =
                    json!(443);
                echoes.push(by(GROUPS, echo, op));
            }
        } else if op == "StopInstances" || op == "CreateTags" || op == "DeleteTags" {
            for name in ["i-untagged", "i-no-env"] {
                echoes.push(by(
                    INSTANCES,
                    day.event(INSTANCES, "delete-tags-instance.json", name),
                    op,
                ));
                let mut state = day.event(INSTANCES, "instance-running.json", name);
                for next in ["stopping", "stopped"] {
                    state["detail"]["state"] = json!(next);
                    echoes.push(state.clone());
                }
            }
        } else {
            panic!("a kind of change without an echo in this test: {op}");
        }
    }
    echoes
}

#[tokio::test]
async fn the_functions_own_changes_trigger_nothing_further() {
    let mut day = Day::seed(&unique("loop")).await;
    day.account.moto.server().start_recording();
    let events = day.events();
    day.play(&events).await;
    let mut changes = day.changes();
    changes.dedup();
    assert!(changes.len() >= 4, "the day changed things: {changes:?}");
    let _ = day.account.inbox.drain().await;

    // Every echo goes to every function (a broader net than the template's event rules).
    let echoes = echoes(&day, &changes);
    println!("{} echoes of {changes:?}", echoes.len());
    day.account.moto.server().start_recording();
    for echo in &echoes {
        for function in [S3, GROUPS, INSTANCES] {
            let process = day.functions.get_mut(function).expect("function");
            let invocation = process.invoke(echo).await;
            for result in invocation.response()["results"].as_array().unwrap() {
                let outcome = result["outcome"].as_str().unwrap();
                assert!(
                    ["ignored", "compliant", "not-found", "skipped"].contains(&outcome),
                    "{function} answered {result} to its own {}",
                    echo["detail"]["eventName"]
                );
                assert_ne!(outcome, "skipped", "echoes are about fixed resources only");
            }
        }
    }
    assert_eq!(
        day.changes(),
        Vec::<String>::new(),
        "no change after the echoes"
    );
    assert!(
        day.account.inbox.drain().await.is_empty(),
        "nothing to tell"
    );
}
