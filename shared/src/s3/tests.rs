use super::*;
use crate::trigger::{parse_payload, TriggerEvent};
use proptest::prelude::*;
use serde_json::{json, Value};

const OWNER_ID: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";

fn event(name: &str) -> Trigger {
    let path = format!(
        "{}/../events/s3-public-access/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    parse_payload(&payload).remove(0).unwrap()
}

fn bucket(name: &str) -> S3Target {
    S3Target::Bucket(name.to_string())
}

fn group_grant(uri: &str, permission: &str) -> Grant {
    Grant::to_group(uri, permission)
}

fn user_grant(id: &str, permission: &str) -> Grant {
    Grant::to_canonical_user(id, permission)
}

#[test]
fn each_sample_event_points_at_the_right_resource() {
    let b = "example-public-bucket";
    for (file, expected) in [
        ("put-bucket-acl-allusers-read.json", bucket(b)),
        ("put-bucket-acl-canned-public-read.json", bucket(b)),
        ("create-bucket-public-read.json", bucket(b)),
        ("delete-bucket-public-access-block.json", bucket(b)),
        ("put-bucket-public-access-block-disabled.json", bucket(b)),
        ("config-s3-bucket-public-read-prohibited.json", bucket(b)),
        (
            "guardduty-s3-bucket-anonymous-access-granted.json",
            bucket(b),
        ),
        (
            "guardduty-s3-bucket-block-public-access-disabled.json",
            bucket(b),
        ),
        ("cloudtrail-put-bucket-acl-via-sns.json", bucket(b)),
        ("put-bucket-policy-public.json", bucket(b)),
        (
            "put-account-public-access-block-disabled.json",
            S3Target::Account("123456789012".into()),
        ),
        (
            "delete-account-public-access-block.json",
            S3Target::Account("123456789012".into()),
        ),
        (
            "guardduty-s3-account-block-public-access-disabled.json",
            S3Target::Account("123456789012".into()),
        ),
        (
            "config-s3-account-level-public-access-blocks.json",
            S3Target::Account("123456789012".into()),
        ),
        (
            "create-multipart-upload-public-read.json",
            S3Target::Upload {
                bucket: b.into(),
                key: "reports/q1.csv".into(),
            },
        ),
        (
            "put-object-acl-public-read.json",
            S3Target::Object {
                bucket: b.into(),
                key: "reports/q1.csv".into(),
            },
        ),
        (
            "put-object-public-read-write.json",
            S3Target::Object {
                bucket: b.into(),
                key: "reports/q1.csv".into(),
            },
        ),
    ] {
        assert_eq!(targets_of(&event(file)), Ok(vec![expected]), "{file}");
    }
}

#[test]
fn account_settings_turned_fully_on_and_private_uploads_are_not_targets() {
    let mut trigger = event("put-account-public-access-block-disabled.json");
    let TriggerEvent::ApiCall(call) = &mut trigger.event else {
        panic!()
    };
    for flag in [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ] {
        call.request["PublicAccessBlockConfiguration"][flag] = json!(true);
    }
    assert!(targets_of(&trigger).is_err());

    let mut trigger = event("create-multipart-upload-public-read.json");
    let TriggerEvent::ApiCall(call) = &mut trigger.event else {
        panic!()
    };
    call.request.as_object_mut().unwrap().remove("x-amz-acl");
    assert!(
        targets_of(&trigger).is_err(),
        "a private upload is ordinary traffic"
    );
}

mod bucket_rule {
    use super::*;
    use crate::config::{BlockPublicAccessMode, PublicPolicyFix};

    const PUBLIC_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PartnerRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;

    fn state(
        policy_public: bool,
        block: Option<BlockPublicAccess>,
        account: Option<BlockPublicAccess>,
    ) -> BucketState {
        BucketState {
            acl: Acl::default(),
            policy: Some(BucketPolicy {
                text: PUBLIC_POLICY.into(),
                is_public: policy_public,
            }),
            block_public_access: block,
            account_block_public_access: account,
        }
    }

    fn settings(mode: BlockPublicAccessMode, fix: PublicPolicyFix) -> Settings {
        Settings {
            block_public_access: mode,
            public_policy: fix,
            ..Settings::default()
        }
    }

    #[test]
    fn a_public_policy_is_blocked_by_default_and_named_by_its_statement() {
        let plan = plan_bucket(&state(true, None, None), &Settings::default());
        assert!(!plan.is_compliant());
        assert_eq!(plan.reason(), "the bucket policy is public through statement \"PublicRead\" (Principal *, s3:GetObject)");
        assert_eq!(plan.changes(), [BLOCK_PUBLIC_ACCESS_CHANGE]);
        assert_eq!(
            plan.policy_rewrite, None,
            "block leaves the policy text alone"
        );
        assert_eq!(plan.unfixable(&Settings::default()), None);
    }

    #[test]
    fn remove_rewrites_the_policy_without_the_public_statement() {
        let s = settings(BlockPublicAccessMode::WhenExposed, PublicPolicyFix::Remove);
        let plan = plan_bucket(&state(true, None, None), &s);
        let Some(PolicyRewrite::Put(text)) = &plan.policy_rewrite else {
            panic!("{plan:?}")
        };
        assert!(
            text.contains("PartnerRead") && !text.contains("PublicRead"),
            "{text}"
        );
        assert_eq!(
            plan.changes(),
            [
                "removed policy statement \"PublicRead\" (Principal *, s3:GetObject)".to_string(),
                BLOCK_PUBLIC_ACCESS_CHANGE.to_string(),
            ]
        );
    }

    #[test]
    fn a_policy_cut_off_by_restrict_public_buckets_or_judged_private_is_compliant() {
        let restrict = BlockPublicAccess {
            restrict_public_buckets: true,
            ..BlockPublicAccess::default()
        };
        for state in [
            state(false, None, None),
            state(true, Some(restrict), None),
            state(true, None, Some(restrict)),
        ] {
            assert!(
                plan_bucket(&state, &Settings::default()).is_compliant(),
                "{state:?}"
            );
        }
    }

    #[test]
    fn when_the_settings_forbid_every_fix_the_bucket_is_unfixable_not_fine() {
        let s = settings(BlockPublicAccessMode::Never, PublicPolicyFix::Block);
        let plan = plan_bucket(&state(true, None, None), &s);
        assert!(!plan.is_compliant());
        assert!(plan.changes().is_empty());
        assert!(plan
            .unfixable(&s)
            .unwrap()
            .contains("BLOCK_PUBLIC_ACCESS=false"));
        // With remove, the statement can still go.
        let s = settings(BlockPublicAccessMode::Never, PublicPolicyFix::Remove);
        let plan = plan_bucket(&state(true, None, None), &s);
        assert_eq!(plan.unfixable(&s), None);
        assert!(matches!(plan.policy_rewrite, Some(PolicyRewrite::Put(_))));
    }

    #[test]
    fn always_makes_missing_block_public_access_wrong_by_itself_and_true_does_not() {
        let private = BucketState::default();
        assert!(
            plan_bucket(&private, &Settings::default()).is_compliant(),
            "a private bucket without Block Public Access stays untouched"
        );
        let s = settings(BlockPublicAccessMode::Always, PublicPolicyFix::Block);
        let plan = plan_bucket(&private, &s);
        assert!(
            plan.reason().contains(
                "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets"
            ),
            "{}",
            plan.reason()
        );
        assert_eq!(plan.changes(), [BLOCK_PUBLIC_ACCESS_CHANGE]);
        let on = BucketState {
            block_public_access: Some(BlockPublicAccess::ALL_ON),
            ..BucketState::default()
        };
        assert!(plan_bucket(&on, &s).is_compliant());

        assert!(plan_account(None, &s).unwrap().contains("account-level"));
        assert_eq!(plan_account(Some(&BlockPublicAccess::ALL_ON), &s), None);
        assert_eq!(plan_account(None, &Settings::default()), None);
    }

    proptest! {
        /// Whatever the state and settings: a bucket whose policy S3 judges public and nothing cuts
        /// off is never compliant, and a plan that claims no unfixable rest ends the exposure.
        #[test]
        fn an_exposed_bucket_is_never_compliant_and_its_plan_closes_it_or_says_why_not(
            policy_public in any::<bool>(),
            public_grant in any::<bool>(),
            block in arbitrary_block(),
            account in arbitrary_block(),
            mode in prop_oneof![Just(BlockPublicAccessMode::WhenExposed), Just(BlockPublicAccessMode::Always), Just(BlockPublicAccessMode::Never)],
            fix in prop_oneof![Just(PublicPolicyFix::Block), Just(PublicPolicyFix::Remove)],
        ) {
            let mut state = state(policy_public, block, account);
            if public_grant {
                state.acl.grants.push(group_grant(ALL_USERS_URI, "READ"));
            }
            let s = settings(mode, fix);
            let plan = plan_bucket(&state, &s);
            let restricted = BlockPublicAccess::combined(block.as_ref(), account.as_ref()).restrict_public_buckets;
            let exposed = (policy_public && !restricted) || public_grant;
            prop_assert_eq!(plan.is_compliant(), !exposed && plan.posture.is_empty());
            if policy_public && !restricted && plan.unfixable(&s).is_none() {
                prop_assert!(plan.enable_block_public_access || plan.policy_rewrite.is_some());
            }
            if mode == BlockPublicAccessMode::Never {
                prop_assert!(!plan.enable_block_public_access);
            } else {
                prop_assert!(plan.unfixable(&s).is_none(), "only false leaves a bucket unfixable");
            }
            if !exposed && mode != BlockPublicAccessMode::Always {
                prop_assert!(plan.changes().is_empty(), "nothing to change on a private bucket");
            }
        }
    }
}

#[test]
fn object_key_falls_back_to_the_resource_arn() {
    let mut trigger = event("put-object-public-read-write.json");
    let TriggerEvent::ApiCall(call) = &mut trigger.event else {
        panic!()
    };
    call.request.as_object_mut().unwrap().remove("key");
    assert_eq!(
        targets_of(&trigger),
        Ok(vec![S3Target::Object {
            bucket: "example-public-bucket".into(),
            key: "reports/q1.csv".into()
        }])
    );
}

#[test]
fn private_uploads_and_unrelated_events_are_not_targets() {
    let mut trigger = event("put-object-public-read-write.json");
    let TriggerEvent::ApiCall(call) = &mut trigger.event else {
        panic!()
    };
    call.request["x-amz-acl"] = json!("private");
    assert!(targets_of(&trigger)
        .unwrap_err()
        .reason
        .contains("no public ACL"));

    let mut trigger = event("put-bucket-public-access-block-disabled.json");
    let TriggerEvent::ApiCall(call) = &mut trigger.event else {
        panic!()
    };
    for flag in [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ] {
        call.request["PublicAccessBlockConfiguration"][flag] = json!("true");
    }
    assert!(targets_of(&trigger).is_err());

    let mut trigger = event("put-bucket-acl-allusers-read.json");
    let TriggerEvent::ApiCall(call) = &mut trigger.event else {
        panic!()
    };
    call.event_source = "ec2.amazonaws.com".into();
    assert!(targets_of(&trigger).is_err());

    let mut trigger = event("guardduty-s3-bucket-anonymous-access-granted.json");
    let TriggerEvent::Finding(finding) = &mut trigger.event else {
        panic!()
    };
    finding.finding_type = "Recon:EC2/PortProbeUnprotectedPort".into();
    assert!(targets_of(&trigger).is_err());

    let mut trigger = event("config-s3-bucket-public-read-prohibited.json");
    let TriggerEvent::Compliance(change) = &mut trigger.event else {
        panic!()
    };
    change.resource_type = "AWS::EC2::SecurityGroup".into();
    assert!(targets_of(&trigger).is_err());
}

#[test]
fn public_requests_in_every_form() {
    assert!(request_grants_public_access(
        &json!({"x-amz-acl": ["public-read"]})
    ));
    assert!(request_grants_public_access(
        &json!({"x-amz-acl": "authenticated-read"})
    ));
    assert!(request_grants_public_access(
        &json!({"x-amz-grant-read": "uri=http://acs.amazonaws.com/groups/global/AllUsers"})
    ));
    assert!(request_grants_public_access(
        &json!({"AccessControlPolicy": {"AccessControlList": {"Grant": {
        "Grantee": {"xsi:type": "Group", "URI": AUTHENTICATED_USERS_URI}, "Permission": "WRITE"}}}})
    ));
    assert!(!request_grants_public_access(
        &json!({"x-amz-acl": "bucket-owner-full-control"})
    ));
    assert!(!request_grants_public_access(
        &json!({"x-amz-grant-write": "uri=http://acs.amazonaws.com/groups/s3/LogDelivery"})
    ));
    assert!(!request_grants_public_access(&json!(null)));
}

#[test]
fn plan_removes_public_grants_and_keeps_the_rest_in_order() {
    let owner = user_grant(OWNER_ID, "FULL_CONTROL");
    let partner = user_grant("partner", "READ");
    let log_delivery = group_grant("http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE");
    let all_users = group_grant(ALL_USERS_URI, "READ");
    let authenticated = group_grant(AUTHENTICATED_USERS_URI, "WRITE_ACP");
    let plan = plan_acl(&[
        owner.clone(),
        all_users.clone(),
        partner.clone(),
        authenticated.clone(),
        log_delivery.clone(),
    ]);
    assert_eq!(plan.kept, [owner, partner, log_delivery]);
    assert_eq!(plan.removed, [all_users, authenticated]);
    assert_eq!(
        plan.changes(),
        [
            "removed AllUsers READ",
            "removed AuthenticatedUsers WRITE_ACP"
        ]
    );
    assert_eq!(
        plan.reason("bucket"),
        "the bucket ACL granted READ to AllUsers (anyone on the internet) and WRITE_ACP to AuthenticatedUsers (any AWS account)"
    );
    assert!(plan_acl(&plan.kept).is_compliant());
}

#[test]
fn block_public_access_is_needed_unless_all_four_are_on() {
    let all = |on: [bool; 4]| BlockPublicAccess {
        block_public_acls: on[0],
        ignore_public_acls: on[1],
        block_public_policy: on[2],
        restrict_public_buckets: on[3],
    };
    assert!(block_public_access_needed(None));
    assert!(!block_public_access_needed(Some(&all([true; 4]))));
    assert!(block_public_access_needed(Some(&all([
        true, true, false, true
    ]))));
    assert!(block_public_access_needed(Some(
        &BlockPublicAccess::default()
    )));
}

fn arbitrary_block() -> impl Strategy<Value = Option<BlockPublicAccess>> {
    proptest::option::of(
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c, d)| {
            BlockPublicAccess {
                block_public_acls: a,
                ignore_public_acls: b,
                block_public_policy: c,
                restrict_public_buckets: d,
            }
        }),
    )
}

fn arbitrary_grant() -> impl Strategy<Value = Grant> {
    let permission = prop::sample::select(vec![
        "READ",
        "WRITE",
        "READ_ACP",
        "WRITE_ACP",
        "FULL_CONTROL",
    ]);
    let uri = prop::sample::select(vec![
        ALL_USERS_URI.to_string(),
        AUTHENTICATED_USERS_URI.to_string(),
        "http://acs.amazonaws.com/groups/s3/LogDelivery".to_string(),
        "http://acs.amazonaws.com/groups/global/AllUsersButNotReally".to_string(),
    ]);
    prop_oneof![
        (uri, permission.clone()).prop_map(|(uri, p)| group_grant(&uri, p)),
        ("[a-f0-9]{8}", permission.clone()).prop_map(|(id, p)| user_grant(&id, p)),
        ("[a-z]{3,8}@example\\.com", permission).prop_map(|(email, p)| Grant::to_email(&email, p)),
    ]
}

proptest! {
    #[test]
    fn plan_never_removes_a_non_public_grant(grants in prop::collection::vec(arbitrary_grant(), 0..12)) {
        let plan = plan_acl(&grants);
        let non_public: Vec<&Grant> = grants.iter().filter(|g| public_group(g).is_none()).collect();
        // Every non-public grant is kept, in its original order, and nothing else is kept.
        prop_assert_eq!(plan.kept.iter().collect::<Vec<_>>(), non_public);
        prop_assert!(plan.removed.iter().all(|g| public_group(g).is_some()));
        prop_assert_eq!(plan.kept.len() + plan.removed.len(), grants.len());
        prop_assert_eq!(plan.changes().len(), plan.removed.len());
        prop_assert!(plan_acl(&plan.kept).is_compliant());
    }
}

// -------------------------------------------------------------------------------------------
// Action flows against aws-smithy-mocks (no network): retries, denials, dry run.
// -------------------------------------------------------------------------------------------

mod flows {
    use super::*;
    use crate::test_support::{http_error, mocked_client};
    use aws_sdk_s3::operation::get_bucket_acl::GetBucketAclOutput;
    use aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput;
    use aws_sdk_s3::operation::get_public_access_block::GetPublicAccessBlockOutput;
    use aws_sdk_s3::operation::put_bucket_acl::PutBucketAclOutput;
    use aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput;
    use aws_sdk_s3::types::{PublicAccessBlockConfiguration, Tag};
    use aws_sdk_s3::Client;
    use aws_smithy_mocks::{mock, Rule};
    use aws_smithy_runtime_api::http::Response;

    /// A client answering `rules` first; a bucket without a policy or Block Public Access otherwise.
    fn client(rules: &[&Rule]) -> Client {
        let block = no_block();
        let no_policy = mock!(Client::get_bucket_policy)
            .then_http_response(|| s3_error(404, "NoSuchBucketPolicy"));
        let no_policy_status = mock!(Client::get_bucket_policy_status)
            .then_http_response(|| s3_error(404, "NoSuchBucketPolicy"));
        let mut all: Vec<&Rule> = rules.to_vec();
        all.extend([&no_policy, &no_policy_status, &block]);
        mocked_client!(aws_sdk_s3, all)
    }

    /// S3 Control for an account without account-level Block Public Access.
    fn control() -> aws_sdk_s3control::Client {
        // S3 Control wraps its errors in <ErrorResponse> (restXml with the wrapped-error trait).
        let none = mock!(aws_sdk_s3control::Client::get_public_access_block).then_http_response(|| {
            http_error(404, "<ErrorResponse><Error><Code>NoSuchPublicAccessBlockConfiguration</Code><Message>none</Message></Error></ErrorResponse>".to_string())
        });
        mocked_client!(aws_sdk_s3control, [&none])
    }

    fn s3_error(status: u16, code: &str) -> Response {
        http_error(
            status,
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code} from the test</Message></Error>"),
        )
    }

    fn public_acl() -> Rule {
        mock!(Client::get_bucket_acl).then_output(|| {
            GetBucketAclOutput::builder()
                .owner(aws_sdk_s3::types::Owner::builder().id(OWNER_ID).build())
                .grants(aws::grant_to_sdk(&user_grant(OWNER_ID, "FULL_CONTROL")).unwrap())
                .grants(aws::grant_to_sdk(&group_grant(ALL_USERS_URI, "READ")).unwrap())
                .build()
        })
    }

    fn no_tags() -> Rule {
        mock!(Client::get_bucket_tagging).then_http_response(|| s3_error(404, "NoSuchTagSet"))
    }

    fn no_block() -> Rule {
        mock!(Client::get_public_access_block)
            .then_http_response(|| s3_error(404, "NoSuchPublicAccessBlockConfiguration"))
    }

    fn remediation(client: Client, settings: Settings) -> S3PublicAccess {
        S3PublicAccess::new(
            S3Actions::from_clients(client, control()),
            settings,
            Some("us-east-1".into()),
        )
    }

    fn trigger() -> Trigger {
        event("put-bucket-acl-allusers-read.json")
    }

    #[tokio::test]
    async fn fixes_acl_then_blocks_public_access() {
        let (acl, tags, block) = (public_acl(), no_tags(), no_block());
        let put_acl = mock!(Client::put_bucket_acl)
            .match_requests(|req| {
                let policy = req.access_control_policy().unwrap();
                policy.grants().len() == 1
                    && policy.owner().and_then(|o| o.id()) == Some(OWNER_ID)
                    && public_group(&aws::grant_from_sdk(&policy.grants()[0])).is_none()
            })
            .then_output(|| PutBucketAclOutput::builder().build());
        let put_block = mock!(Client::put_public_access_block)
            .then_output(|| PutPublicAccessBlockOutput::builder().build());
        let s3 = remediation(
            client(&[&acl, &tags, &block, &put_acl, &put_block]),
            Settings::default(),
        );
        let outcome = s3.remediate(&bucket("b"), &trigger()).await.unwrap();
        assert_eq!(outcome.outcome, OutcomeKind::Remediated);
        assert_eq!(
            outcome.changes,
            ["removed AllUsers READ", BLOCK_PUBLIC_ACCESS_CHANGE]
        );
        assert_eq!((put_acl.num_calls(), put_block.num_calls()), (1, 1));
    }

    /// moto does not enforce Object Ownership, so S3's answer on a bucket whose ACLs are disabled
    /// (`AccessControlListNotSupported`, S3 User Guide "Disabling ACLs") is injected here.
    #[tokio::test]
    async fn an_acl_write_refused_because_acls_are_disabled_is_said_not_failed() {
        let (acl, tags, block) = (public_acl(), no_tags(), no_block());
        let put_acl =
            mock!(Client::put_bucket_acl).then_http_response(|| s3_error(400, ACLS_DISABLED));
        let put_block = mock!(Client::put_public_access_block)
            .then_output(|| PutPublicAccessBlockOutput::builder().build());
        let s3 = remediation(
            client(&[&acl, &tags, &block, &put_acl, &put_block]),
            Settings::default(),
        );
        let outcome = s3.remediate(&bucket("b"), &trigger()).await.unwrap();
        assert_eq!(outcome.outcome, OutcomeKind::Remediated);
        assert!(
            outcome.changes[0].contains("ACLs are disabled"),
            "{:?}",
            outcome.changes
        );
        assert_eq!(outcome.changes[1], BLOCK_PUBLIC_ACCESS_CHANGE);
    }

    #[tokio::test]
    async fn throttling_that_outlasts_the_sdk_retries_is_returned_as_transient() {
        let (acl, tags, block) = (public_acl(), no_tags(), no_block());
        let put_acl = mock!(Client::put_bucket_acl)
            .sequence()
            .http_response(|| s3_error(503, "SlowDown"))
            .times(3)
            .build();
        let put_block = mock!(Client::put_public_access_block)
            .sequence()
            .http_response(|| s3_error(503, "SlowDown"))
            .times(3)
            .build();
        let s3 = remediation(
            client(&[&acl, &tags, &block, &put_acl, &put_block]),
            Settings::default(),
        );
        let err = s3.remediate(&bucket("b"), &trigger()).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert_eq!(err.operation, "PutBucketAcl");
        assert_eq!(put_acl.num_calls(), 3, "the SDK retries before giving up");
    }

    #[tokio::test]
    async fn a_passing_refusal_after_another_write_changed_the_bucket_is_told_not_retried() {
        let (acl, tags, block) = (public_acl(), no_tags(), no_block());
        let put_acl = mock!(Client::put_bucket_acl)
            .sequence()
            .http_response(|| s3_error(503, "SlowDown"))
            .times(3)
            .build();
        // Written at the same time as the ACL, and accepted.
        let put_block = mock!(Client::put_public_access_block)
            .then_output(|| PutPublicAccessBlockOutput::builder().build());
        let s3 = remediation(
            client(&[&acl, &tags, &block, &put_acl, &put_block]),
            Settings::default(),
        );
        let outcome = s3.remediate(&bucket("b"), &trigger()).await.unwrap();
        assert_eq!(outcome.outcome, OutcomeKind::Failed);
        assert_eq!(outcome.changes, [BLOCK_PUBLIC_ACCESS_CHANGE]);
        assert!(outcome.reason.contains("SlowDown"), "{}", outcome.reason);
        let restore = serde_json::to_string(&outcome.restore).unwrap();
        assert!(restore.contains("DeletePublicAccessBlock"), "{restore}");
    }

    #[tokio::test]
    async fn throttling_once_is_absorbed_by_the_sdk_retry() {
        let (acl, tags, block) = (public_acl(), no_tags(), no_block());
        let put_acl = mock!(Client::put_bucket_acl)
            .sequence()
            .http_response(|| s3_error(400, "Throttling"))
            .output(|| PutBucketAclOutput::builder().build())
            .build();
        let put_block = mock!(Client::put_public_access_block)
            .then_output(|| PutPublicAccessBlockOutput::builder().build());
        let s3 = remediation(
            client(&[&acl, &tags, &block, &put_acl, &put_block]),
            Settings::default(),
        );
        let outcome = s3.remediate(&bucket("b"), &trigger()).await.unwrap();
        assert_eq!(outcome.outcome, OutcomeKind::Remediated);
        assert_eq!(put_acl.num_calls(), 2);
    }

    /// A bucket deleted between the read and the first write: nothing changed, nothing left to do
    /// (the invocation loop reports it gone), not a failure.
    #[tokio::test]
    async fn a_bucket_gone_before_the_first_write_is_not_a_failure() {
        let (acl, tags, block) = (public_acl(), no_tags(), no_block());
        let put_acl =
            mock!(Client::put_bucket_acl).then_http_response(|| s3_error(404, "NoSuchBucket"));
        // Block Public Access is written at the same time, and finds no bucket either.
        let put_block = mock!(Client::put_public_access_block)
            .then_http_response(|| s3_error(404, "NoSuchBucket"));
        let s3 = remediation(
            client(&[&acl, &tags, &block, &put_acl, &put_block]),
            Settings::default(),
        );
        let err = s3.remediate(&bucket("b"), &trigger()).await.unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }

    #[tokio::test]
    async fn access_denied_is_permanent() {
        let acl =
            mock!(Client::get_bucket_acl).then_http_response(|| s3_error(403, "AccessDenied"));
        let s3 = remediation(client(&[&acl]), Settings::default());
        let err = s3.remediate(&bucket("b"), &trigger()).await.unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Permanent);
        assert!(err.has_code("AccessDenied"));
        assert_eq!(acl.num_calls(), 1, "a denial is not retried");
    }

    #[tokio::test]
    async fn denied_block_public_access_after_the_acl_fix_is_a_failure_that_lists_the_fix() {
        let (acl, tags, block) = (public_acl(), no_tags(), no_block());
        let put_acl =
            mock!(Client::put_bucket_acl).then_output(|| PutBucketAclOutput::builder().build());
        let put_block = mock!(Client::put_public_access_block)
            .then_http_response(|| s3_error(403, "AccessDenied"));
        let s3 = remediation(
            client(&[&acl, &tags, &block, &put_acl, &put_block]),
            Settings::default(),
        );
        let outcome = s3.remediate(&bucket("b"), &trigger()).await.unwrap();
        assert_eq!(outcome.outcome, OutcomeKind::Failed);
        assert_eq!(outcome.changes, ["removed AllUsers READ"]);
        assert!(
            outcome
                .reason
                .contains("PutPublicAccessBlock failed (AccessDenied)"),
            "{}",
            outcome.reason
        );
    }

    #[tokio::test]
    async fn dry_run_and_exemption_change_nothing() {
        let (acl, tags, block) = (public_acl(), no_tags(), no_block());
        let put_acl =
            mock!(Client::put_bucket_acl).then_output(|| PutBucketAclOutput::builder().build());
        let put_block = mock!(Client::put_public_access_block)
            .then_output(|| PutPublicAccessBlockOutput::builder().build());
        let dry = Settings {
            dry_run: true,
            ..Settings::default()
        };
        let s3 = remediation(client(&[&acl, &tags, &block, &put_acl, &put_block]), dry);
        let outcome = s3.remediate(&bucket("b"), &trigger()).await.unwrap();
        assert_eq!(outcome.outcome, OutcomeKind::DryRun);
        assert_eq!(
            outcome.changes,
            ["removed AllUsers READ", BLOCK_PUBLIC_ACCESS_CHANGE]
        );

        let exempt_tags = mock!(Client::get_bucket_tagging).then_output(|| {
            GetBucketTaggingOutput::builder()
                .tag_set(
                    Tag::builder()
                        .key("remediation:exempt")
                        .value("public website")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
        let s3 = remediation(
            client(&[&acl, &exempt_tags, &put_acl, &put_block]),
            Settings::default(),
        );
        let outcome = s3.remediate(&bucket("b"), &trigger()).await.unwrap();
        assert_eq!(outcome.outcome, OutcomeKind::Skipped);
        assert!(outcome.reason.contains("exempt"), "{}", outcome.reason);
        assert_eq!((put_acl.num_calls(), put_block.num_calls()), (0, 0));
    }

    #[tokio::test]
    async fn block_public_access_already_on_or_disabled_is_not_touched() {
        let (acl, tags) = (public_acl(), no_tags());
        let block_on = mock!(Client::get_public_access_block).then_output(|| {
            GetPublicAccessBlockOutput::builder()
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .build()
        });
        let put_acl =
            mock!(Client::put_bucket_acl).then_output(|| PutBucketAclOutput::builder().build());
        let put_block = mock!(Client::put_public_access_block)
            .then_output(|| PutPublicAccessBlockOutput::builder().build());
        let s3 = remediation(
            client(&[&acl, &tags, &block_on, &put_acl, &put_block]),
            Settings::default(),
        );
        let outcome = s3.remediate(&bucket("b"), &trigger()).await.unwrap();
        assert_eq!(outcome.changes, ["removed AllUsers READ"]);

        let off = Settings {
            block_public_access: crate::config::BlockPublicAccessMode::Never,
            ..Settings::default()
        };
        let s3 = remediation(client(&[&acl, &tags, &put_acl, &put_block]), off);
        let outcome = s3.remediate(&bucket("b"), &trigger()).await.unwrap();
        assert_eq!(outcome.changes, ["removed AllUsers READ"]);
        assert_eq!(put_block.num_calls(), 0);
    }
}

// -------------------------------------------------------------------------------------------
// Undo: the calls a fix records put the bucket back exactly, and in an order S3 accepts.
// -------------------------------------------------------------------------------------------

mod undo_after_fix {
    use super::*;
    use crate::config::{BlockPublicAccessMode, PublicPolicyFix};
    use crate::s3::statements::PolicyDocument;
    use crate::undo::{judge_part, Call, PartState, Restore};

    /// A bucket as far as a fix and its undo touch it.
    #[derive(Clone, Debug, PartialEq)]
    struct Bucket {
        acl: Acl,
        policy: Option<String>,
        block: Option<BlockPublicAccess>,
    }

    fn is_public_policy(text: &str) -> bool {
        PolicyDocument::parse(text).is_ok_and(|d| !d.public_statements().is_empty())
    }

    /// S3's answer to one undo call. Block Public Access refuses what it blocks, which is what makes
    /// the order matter: "BlockPublicAcls: PUT Bucket acl and PUT Object acl calls fail if the
    /// specified access control list (ACL) is public"; "BlockPublicPolicy: Reject calls to PUT Bucket
    /// policy if the specified bucket policy allows public access" (S3 API Reference,
    /// PublicAccessBlockConfiguration).
    fn apply(bucket: &mut Bucket, call: &Call) -> Result<(), String> {
        let p = &call.parameters;
        let blocked = bucket.block.unwrap_or_default();
        match call.operation.as_str() {
            "PutBucketAcl" => {
                let acl = undo::acl_from_json(&p["AccessControlPolicy"]).ok_or("unreadable ACL")?;
                if blocked.block_public_acls && !plan_acl(&acl.grants).is_compliant() {
                    return Err("AccessDenied: BlockPublicAcls".into());
                }
                bucket.acl = acl;
            }
            "PutBucketPolicy" => {
                let text = p["Policy"].as_str().ok_or("no Policy")?;
                if blocked.block_public_policy && is_public_policy(text) {
                    return Err("AccessDenied: BlockPublicPolicy".into());
                }
                bucket.policy = Some(text.to_string());
            }
            "PutPublicAccessBlock" => {
                bucket.block =
                    undo::block_public_access_from_json(&p["PublicAccessBlockConfiguration"])
            }
            "DeletePublicAccessBlock" => bucket.block = None,
            other => return Err(format!("unexpected {other}")),
        }
        Ok(())
    }

    fn part_now(bucket: &Bucket, part: &str) -> Value {
        match part {
            "acl" => undo::acl_json(&bucket.acl),
            "policy" => json!(bucket.policy),
            "block_public_access" => undo::block_public_access_json(bucket.block.as_ref()),
            other => panic!("no part {other}"),
        }
    }

    fn judged(bucket: &Bucket, restore: &Restore) -> Vec<PartState> {
        restore
            .prior
            .keys()
            .map(|part| {
                judge_part(
                    part,
                    &restore.prior[part],
                    &restore.after[part],
                    &part_now(bucket, part),
                )
            })
            .collect()
    }

    /// Arbitrary bucket policies: one to four generated statements (public or not, by how they were
    /// generated), or none.
    fn arbitrary_policy() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(
            prop::collection::vec(crate::s3::statements::tests::statement(), 1..5).prop_map(
                |statements| {
                    let statements: Vec<Value> = statements.into_iter().map(|(s, _)| s).collect();
                    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
                },
            ),
        )
    }

    proptest! {
        /// For any ACL, policy and Block Public Access: after the fix every recorded part reads as
        /// fixed; the undo calls, run in their order against S3's rules, all succeed and give back
        /// exactly the bucket that was there; then every part reads as before (a second undo does
        /// nothing).
        #[test]
        fn undo_after_the_fix_gives_back_the_bucket_as_it_was(
            grants in prop::collection::vec(arbitrary_grant(), 0..8),
            owner in proptest::option::of("[a-f0-9]{8}"),
            policy in arbitrary_policy(),
            block in arbitrary_block(),
            mode in prop_oneof![Just(BlockPublicAccessMode::WhenExposed), Just(BlockPublicAccessMode::Always), Just(BlockPublicAccessMode::Never)],
            fix in prop_oneof![Just(PublicPolicyFix::Block), Just(PublicPolicyFix::Remove)],
        ) {
            let acl = Acl { owner: owner.map(|id| Owner { id: Some(id), display_name: None }), grants };
            let before = Bucket { acl: acl.clone(), policy: policy.clone(), block };
            let state = BucketState {
                acl,
                policy: policy.as_ref().map(|text| BucketPolicy { text: text.clone(), is_public: is_public_policy(text) }),
                block_public_access: block,
                account_block_public_access: None,
            };
            let settings = Settings { block_public_access: mode, public_policy: fix, ..Settings::default() };
            let plan = plan_bucket(&state, &settings);

            // The fix, step by step as the remediation makes it.
            let mut bucket = before.clone();
            let mut fix = undo::BucketFix::default();
            if !plan.acl.is_compliant() {
                let fixed = Acl { owner: before.acl.owner.clone(), grants: plan.acl.kept.clone() };
                bucket.acl = fixed.clone();
                fix.acl = Some(fixed);
            }
            match &plan.policy_rewrite {
                Some(PolicyRewrite::Put(text)) => {
                    bucket.policy = Some(text.clone());
                    fix.policy = Some(Some(text.clone()));
                }
                Some(PolicyRewrite::Delete) => {
                    bucket.policy = None;
                    fix.policy = Some(None);
                }
                None => {}
            }
            if plan.enable_block_public_access {
                bucket.block = Some(BlockPublicAccess::ALL_ON);
                fix.block_public_access = true;
            }
            let restore = undo::bucket("b", &state, &fix);
            prop_assert!(judged(&bucket, &restore).iter().all(|s| *s == PartState::AsFixed));

            for call in &restore.undo {
                apply(&mut bucket, call).map_err(|e| TestCaseError::fail(format!("{} refused: {e}", call.operation)))?;
            }
            prop_assert_eq!(&bucket, &before);
            prop_assert!(judged(&bucket, &restore).iter().all(|s| *s == PartState::AsBefore));
        }

        /// An object's ACL, with the bucket's Block Public Access turned on or not by the fix.
        #[test]
        fn undo_after_an_object_fix_gives_back_its_acl_and_the_bucket_settings(
            grants in prop::collection::vec(arbitrary_grant(), 1..8),
            block in arbitrary_block(),
            turned_on in any::<bool>(),
        ) {
            let plan = plan_acl(&grants);
            prop_assume!(!plan.is_compliant());
            let acl = Acl { owner: None, grants };
            let fixed = Acl { owner: None, grants: plan.kept.clone() };
            let before = Bucket { acl: acl.clone(), policy: None, block };
            let mut object = Bucket {
                acl: fixed.clone(),
                policy: None,
                block: if turned_on { Some(BlockPublicAccess::ALL_ON) } else { block },
            };
            let restore = undo::object("b", "k", &acl, Some(&fixed), block.as_ref(), turned_on);
            prop_assert!(judged(&object, &restore).iter().all(|s| *s == PartState::AsFixed));
            for call in &restore.undo {
                // The object's ACL obeys the bucket's settings as the bucket's does.
                let call = Call { operation: call.operation.replace("PutObjectAcl", "PutBucketAcl"), ..call.clone() };
                apply(&mut object, &call).map_err(|e| TestCaseError::fail(format!("{} refused: {e}", call.operation)))?;
            }
            prop_assert_eq!(&object, &before);
        }

        /// The account's settings, through S3 Control, from any earlier value.
        #[test]
        fn undo_gives_back_the_account_settings(block in arbitrary_block()) {
            let restore = undo::account_block_public_access("123456789012", block.as_ref());
            let call = &restore.undo[0];
            prop_assert_eq!(call.service.as_str(), "s3control");
            let mut bucket = Bucket { acl: Acl::default(), policy: None, block: Some(BlockPublicAccess::ALL_ON) };
            prop_assert_eq!(judge_part("block_public_access", &restore.prior["block_public_access"], &restore.after["block_public_access"], &part_now(&bucket, "block_public_access")), PartState::AsFixed);
            apply(&mut bucket, call).unwrap();
            prop_assert_eq!(bucket.block, block);
        }
    }
}

/// A finding is resolved only for controls this rule answers under the settings.
#[test]
fn security_hub_controls_vouched_for_follow_block_public_access_mode() {
    use crate::config::BlockPublicAccessMode;
    let mut settings = Settings::default();
    for control in ["S3.2", "S3.3"] {
        assert!(closes_control(control, &settings), "{control}");
    }
    for control in ["S3.1", "S3.8", "S3.5", "EC2.19", ""] {
        assert!(!closes_control(control, &settings), "{control}");
    }
    settings.block_public_access = BlockPublicAccessMode::Always;
    assert!(closes_control("S3.1", &settings) && closes_control("S3.8", &settings));
    assert!(!closes_control("S3.5", &settings));
}
