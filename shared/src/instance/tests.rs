use super::*;
use crate::config::parse_required_tags;
use crate::config::TagRule;
use crate::trigger::parse_payload;
use crate::trigger::TriggerEvent;
use proptest::prelude::*;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

const INSTANCE: &str = "i-0a1b2c3d4e5f60718";

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rules(text: &str) -> Vec<TagRule> {
    parse_required_tags(text).unwrap()
}

fn running(pairs: &[(&str, &str)]) -> InstanceState {
    InstanceState {
        instance_id: INSTANCE.to_string(),
        state: "running".to_string(),
        tags: tags(pairs),
        hibernation: false,
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-29T12:00:00Z", &Rfc3339).unwrap()
}

fn settings(grace_minutes: u32) -> Settings {
    Settings {
        grace_minutes,
        ..Settings::default()
    }
}

// --- tag policy ---

#[test]
fn correctly_tagged_instances_have_no_problems() {
    assert!(tag_problems(
        &tags(&[("Name", "web"), ("env", "dev")]),
        &rules("Name,env")
    )
    .is_empty());
    assert!(tag_problems(
        &tags(&[("env", "prod"), ("Name", "db"), ("team", "x")]),
        &rules("Name,env=prod|stg|dev")
    )
    .is_empty());
    // A case variant next to the exact key does not matter.
    assert!(tag_problems(
        &tags(&[("Env", "x"), ("env", "dev"), ("Name", "a")]),
        &rules("Name,env")
    )
    .is_empty());
    assert!(
        tag_problems(&[], &[]).is_empty(),
        "no rules, nothing required"
    );
}

#[test]
fn missing_keys_and_case_hints() {
    let problems = tag_problems(
        &tags(&[("Name", "web"), ("Env", "dev")]),
        &rules("Name,env"),
    );
    assert_eq!(
        problems,
        [TagProblem::Missing {
            key: "env".into(),
            similar: Some("Env".into())
        }]
    );
    assert_eq!(
        problems[0].to_string(),
        "missing tag env (it has \"Env\": tag keys are case-sensitive, rename it to env)"
    );
    let problems = tag_problems(&tags(&[(" env ", "dev")]), &rules("Name,env"));
    assert_eq!(
        problems,
        [
            TagProblem::Missing {
                key: "Name".into(),
                similar: None
            },
            TagProblem::Missing {
                key: "env".into(),
                similar: Some(" env ".into())
            }
        ]
    );
    assert_eq!(problems[0].to_string(), "missing tag Name");
}

#[test]
fn empty_values_and_values_outside_the_list() {
    let rules = rules("Name,env=prod|stg|dev");
    let problems = tag_problems(&tags(&[("Name", "  "), ("env", "qa")]), &rules);
    assert_eq!(problems[0], TagProblem::Empty { key: "Name".into() });
    assert_eq!(
        problems[1].to_string(),
        "tag env=\"qa\" is not one of prod|stg|dev"
    );
    let problems = tag_problems(&tags(&[("Name", "a"), ("env", "Prod")]), &rules);
    assert_eq!(
        problems[0].to_string(),
        "tag env=\"Prod\" is not one of prod|stg|dev (values are case-sensitive: use env=prod)"
    );
    let problems = tag_problems(&tags(&[("Name", "a"), ("env", "")]), &rules);
    assert_eq!(problems, [TagProblem::Empty { key: "env".into() }]);
}

#[test]
fn many_unrelated_tags_change_nothing() {
    let mut many: Vec<(String, String)> = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
    assert_eq!(tag_problems(&many, &rules("Name,env")).len(), 2);
    many.push(("env".into(), "dev".into()));
    many.push(("Name".into(), "n".into()));
    assert!(tag_problems(&many, &rules("Name,env")).is_empty());
}

#[test]
fn texts_for_people() {
    assert_eq!(
        required_tags_text(&rules("Name,env=prod|dev")),
        "Name, env=prod|dev"
    );
    let problems = tag_problems(&[], &rules("Name,env"));
    assert_eq!(
        problems_text(&problems),
        "missing tag Name; missing tag env"
    );
}

fn arbitrary_rules() -> impl Strategy<Value = Vec<TagRule>> {
    proptest::collection::btree_map(
        "[A-Za-z][a-z]{0,5}",
        proptest::collection::vec("[a-z]{1,4}", 0..3),
        1..4,
    )
    .prop_map(|map| {
        map.into_iter()
            .map(|(key, mut allowed_values)| {
                allowed_values.sort();
                allowed_values.dedup();
                TagRule {
                    key,
                    allowed_values,
                }
            })
            .collect()
    })
}

/// Tags that satisfy `rules`, plus unrelated ones (keys that are no rule's key).
fn compliant_tags(
    rules: &[TagRule],
    noise: Vec<(String, String)>,
    pick: usize,
) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = noise
        .into_iter()
        .filter(|(k, _)| rules.iter().all(|r| !loosely_equal(k, &r.key)))
        .collect();
    for rule in rules {
        let value = if rule.allowed_values.is_empty() {
            "x".to_string()
        } else {
            rule.allowed_values[pick % rule.allowed_values.len()].clone()
        };
        tags.push((rule.key.clone(), value));
    }
    tags
}

proptest! {
    #[test]
    fn compliant_tags_pass_and_each_removed_key_is_named(
        rules in arbitrary_rules(),
        noise in proptest::collection::vec(("[A-Za-z:]{1,8}", "[a-z]{0,3}"), 0..30),
        pick in 0usize..5,
        remove in 0usize..4,
    ) {
        let tags = compliant_tags(&rules, noise, pick);
        prop_assert!(tag_problems(&tags, &rules).is_empty());

        let removed = &rules[remove % rules.len()].key;
        let without: Vec<(String, String)> = tags.iter().filter(|(k, _)| k != removed).cloned().collect();
        let problems = tag_problems(&without, &rules);
        prop_assert_eq!(problems, vec![TagProblem::Missing { key: removed.clone(), similar: None }]);
    }

    #[test]
    fn problems_only_name_rule_keys(
        rules in arbitrary_rules(),
        tags in proptest::collection::vec(("[A-Za-z ]{0,6}", "[a-zA-Z ]{0,4}"), 0..20),
    ) {
        let problems = tag_problems(&tags, &rules);
        prop_assert!(problems.len() <= rules.len());
        for problem in &problems {
            let key = match problem {
                TagProblem::Missing { key, .. } | TagProblem::Empty { key } | TagProblem::NotAllowed { key, .. } => key,
            };
            prop_assert!(rules.iter().any(|r| &r.key == key));
        }
    }

    #[test]
    fn a_compliant_or_exempt_or_scaled_instance_is_never_stopped_or_marked(
        rules in arbitrary_rules(),
        noise in proptest::collection::vec(("[a-z]{1,8}", "[a-z]{0,3}"), 0..10),
        grace in 0u32..100,
        state in prop_oneof!["pending", "running", "stopped", "stopping", "terminated"],
        extra in prop::sample::select(vec!["", "remediation:exempt", "aws:autoscaling:groupName", "aws:ec2:fleet-id", "eks:nodegroup-name", "karpenter.sh/nodepool", "aws:elasticmapreduce:job-flow-id", "kubernetes.io/cluster/prod"]),
        compliant in any::<bool>(),
    ) {
        let settings = Settings { required_tags: rules.clone(), grace_minutes: grace, ..Settings::default() };
        let mut tags = if compliant { compliant_tags(&rules, noise, 0) } else { noise };
        if !extra.is_empty() {
            tags.push((extra.to_string(), "x".to_string()));
        }
        let instance = InstanceState { instance_id: INSTANCE.into(), state: state.to_string(), tags: tags.clone(), hibernation: false };
        let plan = plan_instance(&instance, &settings, now());
        let acts = matches!(plan.action, InstanceAction::Stop { .. } | InstanceAction::Mark(_));
        let wrong = !tag_problems(&tags, &rules).is_empty();
        prop_assert_eq!(acts, wrong && extra.is_empty() && instance.is_running(), "{:?}", plan);
    }
}

// --- plans ---

#[test]
fn stopped_instances_are_left_alone_whatever_their_tags() {
    for state in ["stopped", "stopping", "shutting-down", "terminated"] {
        let instance = InstanceState {
            state: state.into(),
            ..running(&[])
        };
        assert_eq!(
            plan_instance(&instance, &settings(0), now()).action,
            InstanceAction::NotRunning
        );
    }
}

#[test]
fn without_grace_a_wrong_instance_is_stopped_at_once() {
    let plan = plan_instance(&running(&[("Name", "a")]), &settings(0), now());
    assert_eq!(
        plan.action,
        InstanceAction::Stop {
            deadline_passed: None,
            hibernate: false,
        }
    );
    assert_eq!(plan.problems.len(), 1);
    let pending = InstanceState {
        state: "pending".into(),
        ..running(&[])
    };
    assert!(matches!(
        plan_instance(&pending, &settings(0), now()).action,
        InstanceAction::Stop { .. }
    ));
}

#[test]
fn exempt_and_auto_scaling_instances_are_skipped() {
    let exempt = running(&[("remediation:exempt", "lab")]);
    assert_eq!(
        plan_instance(&exempt, &settings(0), now()).action,
        InstanceAction::Exempt("tag remediation:exempt: lab".into())
    );
    let custom = Settings {
        exempt_tag: "keep".into(),
        ..settings(0)
    };
    assert_eq!(
        plan_instance(&running(&[("keep", "")]), &custom, now()).action,
        InstanceAction::Exempt("tag keep".into())
    );
    assert!(
        matches!(
            plan_instance(&exempt, &custom, now()).action,
            InstanceAction::Stop { .. }
        ),
        "only the configured tag exempts"
    );
    let scaled = running(&[("aws:autoscaling:groupName", "web-asg")]);
    assert_eq!(
        plan_instance(&scaled, &settings(0), now()).action,
        InstanceAction::Managed(Manager {
            kind: "Auto Scaling group",
            name: "web-asg".into(),
            fix_in: "the group's launch template",
        })
    );
}

/// Each manager's own tag, and the name the notification gives: the most specific manager wins when an
/// instance carries several (an EKS node group runs on an Auto Scaling group).
#[test]
fn capacity_other_services_replace_is_skipped_naming_the_manager() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("aws:ec2:fleet-id", "fleet-1a2b")],
            "EC2 Fleet fleet-1a2b",
        ),
        (
            &[("aws:ec2spot:fleet-request-id", "sfr-9f8e")],
            "Spot Fleet sfr-9f8e",
        ),
        (
            &[
                ("aws:autoscaling:groupName", "eks-ng-1"),
                ("eks:nodegroup-name", "ng-1"),
            ],
            "EKS node group ng-1",
        ),
        (
            &[
                ("aws:ec2:fleet-id", "fleet-k"),
                ("karpenter.sh/nodepool", "default"),
            ],
            "Karpenter node pool default",
        ),
        (&[("eks:eks-cluster-name", "prod")], "EKS cluster prod"),
        (
            &[
                ("aws:elasticmapreduce:job-flow-id", "j-2AXXXXXXGAPLF"),
                ("aws:elasticmapreduce:instance-group-role", "CORE"),
            ],
            "EMR cluster j-2AXXXXXXGAPLF",
        ),
        (
            &[
                ("AmazonECSManaged", ""),
                ("aws:autoscaling:groupName", "ecs-cp-asg"),
            ],
            "ECS capacity provider ecs-cp-asg",
        ),
        (
            &[("kubernetes.io/cluster/prod", "owned")],
            "Kubernetes cluster prod",
        ),
    ];
    for (pairs, named) in cases {
        match plan_instance(&running(pairs), &settings(0), now()).action {
            InstanceAction::Managed(manager) => assert_eq!(manager.to_string(), *named),
            other => panic!("{pairs:?}: {other:?}"),
        }
    }
}

/// Negative twins: tags that look like a manager's but are not one leave the instance to be stopped.
#[test]
fn look_alike_manager_tags_do_not_protect_an_instance() {
    for pairs in [
        &[("fleet-id", "fleet-1")][..],
        &[("aws:ec2:fleet", "x")],
        &[("kubernetes.io/cluster/", "owned")],
        &[("Karpenter.sh/nodepool", "default")],
        &[("team", "eks:nodegroup-name")],
    ] {
        assert!(
            matches!(
                plan_instance(&running(pairs), &settings(0), now()).action,
                InstanceAction::Stop { .. }
            ),
            "{pairs:?}"
        );
    }
}

#[test]
fn an_instance_launched_for_hibernation_is_hibernated_and_others_stopped() {
    let hibernating = InstanceState {
        hibernation: true,
        ..running(&[])
    };
    assert_eq!(
        plan_instance(&hibernating, &settings(0), now()).action,
        InstanceAction::Stop {
            deadline_passed: None,
            hibernate: true
        }
    );
    let marked = InstanceState {
        hibernation: true,
        ..running(&[(STOP_AFTER_TAG, "2026-11-29T11:00:00Z")])
    };
    assert!(matches!(
        plan_instance(&marked, &settings(30), now()).action,
        InstanceAction::Stop {
            hibernate: true,
            ..
        }
    ));
    assert!(matches!(
        plan_instance(&running(&[]), &settings(0), now()).action,
        InstanceAction::Stop {
            hibernate: false,
            ..
        }
    ));
}

#[test]
fn grace_period_marks_then_waits_then_stops() {
    let first = plan_instance(&running(&[]), &settings(30), now());
    assert_eq!(
        first.action,
        InstanceAction::Mark("2026-11-29T12:30:00Z".into())
    );

    let marked = running(&[(STOP_AFTER_TAG, "2026-11-29T12:30:00Z")]);
    assert_eq!(
        plan_instance(&marked, &settings(30), now()).action,
        InstanceAction::Wait("2026-11-29T12:30:00Z".into())
    );
    let later = now() + time::Duration::minutes(31);
    assert_eq!(
        plan_instance(&marked, &settings(30), later).action,
        InstanceAction::Stop {
            deadline_passed: Some("2026-11-29T12:30:00Z".into()),
            hibernate: false,
        }
    );
    // Exactly at the deadline it stops.
    let at = now() + time::Duration::minutes(30);
    assert!(matches!(
        plan_instance(&marked, &settings(30), at).action,
        InstanceAction::Stop { .. }
    ));
    // Another offset is read correctly.
    let offset = running(&[(STOP_AFTER_TAG, "2026-11-29T12:59:00+01:00")]);
    assert!(matches!(
        plan_instance(&offset, &settings(30), now()).action,
        InstanceAction::Stop { .. }
    ));
}

#[test]
fn an_unreadable_mark_gets_a_fresh_deadline() {
    for mark in ["never", "", "2026-13-01", "tomorrow"] {
        let instance = running(&[(STOP_AFTER_TAG, mark)]);
        assert_eq!(
            plan_instance(&instance, &settings(10), now()).action,
            InstanceAction::Mark("2026-11-29T12:10:00Z".into()),
            "{mark:?}"
        );
    }
}

#[test]
fn fixing_the_tags_cancels_the_mark() {
    let fixed = running(&[
        ("Name", "a"),
        ("env", "dev"),
        (STOP_AFTER_TAG, "2026-11-29T12:30:00Z"),
    ]);
    assert_eq!(
        plan_instance(&fixed, &settings(30), now()).action,
        InstanceAction::RemoveMark
    );
    // Also when the grace period has since been turned off.
    assert_eq!(
        plan_instance(&fixed, &settings(0), now()).action,
        InstanceAction::RemoveMark
    );
}

#[test]
fn deadlines_are_utc_whole_seconds() {
    let odd = OffsetDateTime::parse("2026-11-29T13:00:00.123456+01:00", &Rfc3339).unwrap();
    assert_eq!(format_deadline(odd), "2026-11-29T12:00:00Z");
}

// --- triggers ---

fn sample(name: &str) -> Trigger {
    crate::test_support::sample_trigger(&format!("untagged-instance/{name}"))
}

#[test]
fn each_sample_event_points_at_the_instance() {
    for file in [
        "run-instances.json",
        "delete-tags-instance.json",
        "instance-running.json",
        "instance-pending.json",
        "config-required-tags.json",
        "config-required-tags-first-evaluation.json",
    ] {
        assert_eq!(
            targets_of(&sample(file)),
            Ok(vec![INSTANCE.to_string()]),
            "{file}"
        );
    }
    assert!(targets_of(&sample("scheduled-sweep.json")).is_err());
}

#[test]
fn events_about_other_things_are_not_targets() {
    let mut stopped = sample("instance-running.json");
    if let TriggerEvent::StateChange(change) = &mut stopped.event {
        change.state = "stopped".into();
    }
    assert!(targets_of(&stopped)
        .unwrap_err()
        .reason
        .contains("entered stopped"));

    let mut tags_on_a_volume = sample("delete-tags-instance.json");
    if let TriggerEvent::ApiCall(call) = &mut tags_on_a_volume.event {
        call.event_name = "CreateTags".into();
        call.request = serde_json::json!({"resourcesSet": {"items": [{"resourceId": "vol-0123"}]}, "tagSet": {}});
    }
    assert_eq!(
        targets_of(&tags_on_a_volume).unwrap_err().reason,
        "CreateTags names no instance"
    );

    let mut other_call = sample("run-instances.json");
    if let TriggerEvent::ApiCall(call) = &mut other_call.event {
        call.event_name = "StartInstances".into();
    }
    assert!(targets_of(&other_call).is_err());

    let payload =
        crate::test_support::sample_payload("open-security-group/config-restricted-ssh.json");
    assert!(targets_of(&parse_payload(&payload).remove(0).unwrap())
        .unwrap_err()
        .reason
        .contains("not an EC2 instance"));
}

#[test]
fn run_instances_lists_every_instance_once() {
    let mut trigger = sample("run-instances.json");
    if let TriggerEvent::ApiCall(call) = &mut trigger.event {
        call.response = serde_json::json!({"instancesSet": {"items": [
            {"instanceId": "i-1"}, {"instanceId": "i-2"}, {"instanceId": "i-1"}, {"imageId": "ami-1"}
        ]}});
    }
    assert_eq!(
        targets_of(&trigger),
        Ok(vec!["i-1".to_string(), "i-2".to_string()])
    );
}

// --- flows against mocked EC2 ---

mod flows {
    use super::*;
    use crate::invocation::handle;
    use crate::notify::Notifier;
    use crate::test_support::{http_error, mocked_client};
    use aws_sdk_ec2::operation::create_tags::CreateTagsOutput;
    use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
    use aws_sdk_ec2::operation::stop_instances::StopInstancesOutput;
    use aws_sdk_ec2::types::{
        Instance, InstanceState as Ec2State, InstanceStateName, Reservation, Tag,
    };
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::{mock, Rule};
    use aws_smithy_runtime_api::http::Response;

    fn client(rules: &[&Rule]) -> Client {
        mocked_client!(aws_sdk_ec2, rules)
    }

    fn ec2_error(status: u16, code: &str) -> Response {
        http_error(
            status,
            format!("<Response><Errors><Error><Code>{code}</Code><Message>{code} from the test</Message></Error></Errors><RequestID>r</RequestID></Response>"),
        )
    }

    fn instance(id: &str, state: InstanceStateName, tags: &[(&str, &str)]) -> Instance {
        let mut builder = Instance::builder()
            .instance_id(id)
            .state(Ec2State::builder().name(state).build());
        for (k, v) in tags {
            builder = builder.tags(Tag::builder().key(*k).value(*v).build());
        }
        builder.build()
    }

    /// DescribeInstances answering with `instances` in one reservation.
    fn describe(instances: Vec<Instance>) -> Rule {
        mock!(Client::describe_instances).then_output(move || {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .set_instances(Some(instances.clone()))
                        .build(),
                )
                .build()
        })
    }

    fn stop_ok() -> Rule {
        mock!(Client::stop_instances).then_output(|| StopInstancesOutput::builder().build())
    }

    fn function(client: Client, settings: Settings) -> UntaggedInstances {
        UntaggedInstances::new(
            InstanceActions::from_client(client),
            settings,
            OwnIdentity::fixed(
                "arn:aws:sts::123456789012:assumed-role/remediation-untagged-instance/x",
            ),
        )
        .with_clock(now)
    }

    fn notifier() -> Notifier {
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::Config::builder()
                .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
                .region(aws_sdk_sns::config::Region::new("us-east-1"))
                .build(),
        );
        Notifier::new(sns, None, "untagged-instance", "remediation:exempt")
    }

    fn payload(name: &str) -> Value {
        crate::test_support::sample_payload(&format!("untagged-instance/{name}"))
    }

    #[tokio::test]
    async fn a_sweep_stops_in_batches_of_a_hundred() {
        let mut instances: Vec<Instance> = (0..250)
            .map(|i| {
                instance(
                    &format!("i-{i:04}"),
                    InstanceStateName::Running,
                    &[("Name", "x")],
                )
            })
            .collect();
        instances.extend((0..40).map(|i| {
            instance(
                &format!("i-ok{i:03}"),
                InstanceStateName::Running,
                &[("Name", "x"), ("env", "dev")],
            )
        }));
        let describe = describe(instances);
        let stop = stop_ok();
        let remediation = function(client(&[&describe, &stop]), Settings::default());
        let report = handle(payload("scheduled-sweep.json"), &remediation, &notifier())
            .await
            .unwrap();
        assert_eq!(report.summary.get("remediated"), Some(&250));
        assert_eq!(report.summary.get("compliant"), Some(&40));
        assert_eq!(describe.num_calls(), 1);
        assert_eq!(stop.num_calls(), 3, "250 instances in batches of 100");
    }

    #[tokio::test]
    async fn one_instance_that_cannot_stop_does_not_block_the_others() {
        let instances = vec![
            instance("i-a", InstanceStateName::Running, &[]),
            instance("i-spot", InstanceStateName::Running, &[]),
            instance("i-b", InstanceStateName::Running, &[]),
        ];
        let describe = describe(instances);
        let refused = mock!(Client::stop_instances)
            .match_requests(|req| req.instance_ids().iter().any(|id| id == "i-spot"))
            .then_http_response(|| ec2_error(400, "UnsupportedOperation"));
        let stop = stop_ok();
        let remediation = function(client(&[&describe, &refused, &stop]), Settings::default());
        let report = handle(payload("scheduled-sweep.json"), &remediation, &notifier())
            .await
            .unwrap();
        assert_eq!(
            report.summary.get("remediated"),
            Some(&2),
            "{:?}",
            report.results
        );
        assert_eq!(report.summary.get("failed"), Some(&1));
        let failed = report
            .results
            .iter()
            .find(|r| r.outcome.as_str() == "failed")
            .unwrap();
        assert_eq!(failed.resource_id.as_deref(), Some("i-spot"));
        assert!(
            failed.reason.contains("UnsupportedOperation")
                && failed
                    .reason
                    .contains("what to do: EC2 cannot stop this instance"),
            "{}",
            failed.reason
        );
        assert_eq!(refused.num_calls(), 2, "the batch, then i-spot alone");
        assert_eq!(stop.num_calls(), 2, "i-a and i-b one by one");
    }

    #[test]
    fn a_refused_stop_says_what_a_person_can_do() {
        let protected = stop_refusal_advice("i-1", Some("OperationNotPermitted"), "The instance 'i-1' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.").unwrap();
        assert!(
            protected.contains("--instance-id i-1 --no-disable-api-stop"),
            "{protected}"
        );
        let spot = stop_refusal_advice("i-1", Some("UnsupportedOperation"), "You can't stop the Spot Instance 'i-1' because it is associated with a one-time Spot Instance request.").unwrap();
        assert!(spot.contains("one-time Spot Instance"), "{spot}");
        let store = stop_refusal_advice(
            "i-1",
            Some("UnsupportedOperation"),
            "The instance 'i-1' does not have an 'ebs' root device type and cannot be stopped.",
        )
        .unwrap();
        assert!(store.contains("instance-store root"), "{store}");
        assert_eq!(
            stop_refusal_advice("i-1", Some("IncorrectInstanceState"), ""),
            None
        );
        assert_eq!(stop_refusal_advice("i-1", None, "spot"), None);
    }

    #[tokio::test]
    async fn a_pending_instance_is_left_for_its_running_event() {
        let describe = describe(vec![instance(INSTANCE, InstanceStateName::Pending, &[])]);
        let stop = mock!(Client::stop_instances)
            .then_http_response(|| ec2_error(400, "IncorrectInstanceState"));
        let remediation = function(client(&[&describe, &stop]), Settings::default());
        let report = handle(payload("instance-pending.json"), &remediation, &notifier())
            .await
            .unwrap();
        assert_eq!(
            report.results[0].outcome.as_str(),
            "waiting",
            "{:?}",
            report.results
        );
        assert!(report.results[0].reason.contains("still pending"));
    }

    #[tokio::test]
    async fn throttled_stops_fail_the_invocation_so_lambda_retries() {
        let describe = describe(vec![instance(INSTANCE, InstanceStateName::Running, &[])]);
        let stop = mock!(Client::stop_instances)
            .sequence()
            .http_response(|| ec2_error(503, "RequestLimitExceeded"))
            .times(3)
            .build();
        let remediation = function(client(&[&describe, &stop]), Settings::default());
        let err = handle(payload("instance-running.json"), &remediation, &notifier())
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("StopInstances failed (RequestLimitExceeded)"),
            "{err}"
        );
        assert_eq!(stop.num_calls(), 3, "the SDK retried before giving up");
    }

    #[tokio::test]
    async fn an_unknown_instance_is_not_found_and_nothing_is_stopped() {
        let describe = describe(vec![]);
        let stop = stop_ok();
        let remediation = function(client(&[&describe, &stop]), Settings::default());
        let report = handle(payload("run-instances.json"), &remediation, &notifier())
            .await
            .unwrap();
        assert_eq!(report.results[0].outcome.as_str(), "not-found");
        assert_eq!(stop.num_calls(), 0);
    }

    #[tokio::test]
    async fn grace_marks_in_one_call_and_dry_run_changes_nothing() {
        let instances = vec![
            instance("i-a", InstanceStateName::Running, &[]),
            instance("i-b", InstanceStateName::Running, &[("Name", "b")]),
        ];
        let describe = describe(instances);
        let create_tags = mock!(Client::create_tags)
            .match_requests(|req| {
                req.tags().first().and_then(|t| t.value()) == Some("2026-11-29T12:15:00Z")
                    && req.tags().first().and_then(|t| t.key()) == Some(STOP_AFTER_TAG)
            })
            .then_output(|| CreateTagsOutput::builder().build());
        let stop = stop_ok();
        let graceful = function(client(&[&describe, &create_tags, &stop]), settings(15));
        let report = handle(payload("scheduled-sweep.json"), &graceful, &notifier())
            .await
            .unwrap();
        assert_eq!(
            report.summary.get("marked"),
            Some(&2),
            "{:?}",
            report.results
        );
        assert_eq!(create_tags.num_calls(), 1, "both marked in one call");
        assert_eq!(stop.num_calls(), 0);

        let dry = Settings {
            dry_run: true,
            ..Settings::default()
        };
        let dry_run = function(client(&[&describe, &create_tags, &stop]), dry);
        let report = handle(payload("scheduled-sweep.json"), &dry_run, &notifier())
            .await
            .unwrap();
        assert_eq!(report.summary.get("dry-run"), Some(&2));
        assert_eq!(report.results[0].changes, ["stopped"]);
        assert_eq!(stop.num_calls(), 0);
        assert_eq!(create_tags.num_calls(), 1);
    }
}
