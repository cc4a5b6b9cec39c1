use super::*;
use crate::error::ErrorKind;
use crate::trigger::TriggerEvent;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime};

/// Answers each target name with a fixed result.
struct Fake(Vec<(&'static str, Result<OutcomeKind, ErrorKind>)>);

impl Remediation for Fake {
    type Target = &'static str;

    async fn targets(&self, trigger: &Trigger) -> Result<Targets<&'static str>, AwsError> {
        Ok(match trigger.event {
            TriggerEvent::Schedule { .. } | TriggerEvent::SecurityHub(_) => {
                Targets::Found(self.0.iter().map(|(name, _)| *name).collect())
            }
            _ => Targets::Unrelated(Unrelated::new("not for the fake")),
        })
    }

    async fn remediate(&self, target: &&'static str, _: &Trigger) -> Result<Outcome, AwsError> {
        let (_, result) = self.0.iter().find(|(name, _)| name == target).unwrap();
        match result {
            Ok(kind) => Ok(
                Outcome::new(*kind, ResourceType::S3Bucket, *target, "because")
                    .with_changes(vec!["changed".into()]),
            ),
            Err(kind) => Err(AwsError::new(
                "GetBucketAcl",
                *kind,
                Some("Code"),
                "message",
            )),
        }
    }

    fn resource_of(&self, target: &&'static str) -> (ResourceType, String) {
        (ResourceType::S3Bucket, target.to_string())
    }

    /// Every target is exempt; a target whose result is a transient error fails the listing.
    async fn exempt_resources(&self, _: &Trigger) -> Result<Vec<Exempt>, AwsError> {
        if self.0.iter().any(|(_, r)| *r == Err(ErrorKind::Transient)) {
            return Err(AwsError::new(
                "ListBuckets",
                ErrorKind::Transient,
                None,
                "slow down",
            ));
        }
        Ok(self
            .0
            .iter()
            .map(|(name, _)| Exempt {
                resource_type: ResourceType::S3Bucket,
                resource_id: name.to_string(),
                value: "until=2030-01-01".into(),
            })
            .collect())
    }
}

fn sweep() -> Value {
    json!({"version": "0", "id": "sweep-1", "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": "2026-03-14T12:00:00Z", "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"], "detail": {}})
}

/// A notifier whose topic cannot be reached (nothing listens on port 9).
fn notifier(topic: Option<&str>) -> Notifier {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(aws_sdk_sns::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "a", "b", None, None, "t",
        ))
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
        .build();
    Notifier::new(
        aws_sdk_sns::Client::from_conf(config),
        topic.map(String::from),
        "fake",
        "exempt",
    )
}

#[tokio::test]
async fn outcomes_errors_and_summary() {
    let fake = Fake(vec![
        ("fixed", Ok(OutcomeKind::Remediated)),
        ("fine", Ok(OutcomeKind::Compliant)),
        ("gone", Err(ErrorKind::NotFound)),
        ("denied", Err(ErrorKind::Permanent)),
    ]);
    let report = handle(sweep(), &fake, &notifier(None)).await.unwrap();
    assert_eq!(report.status, Status::Done);
    let summary: Vec<(&str, usize)> = report
        .summary
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        summary,
        [
            ("compliant", 1),
            ("failed", 1),
            ("not-found", 1),
            ("remediated", 1)
        ]
    );
    let denied = report
        .results
        .iter()
        .find(|r| r.resource_id.as_deref() == Some("denied"))
        .unwrap();
    assert_eq!(denied.reason, "GetBucketAcl failed (Code): message");
}

#[tokio::test]
async fn a_transient_error_fails_the_invocation_after_doing_the_rest() {
    let fake = Fake(vec![
        ("slow", Err(ErrorKind::Transient)),
        ("fixed", Ok(OutcomeKind::Remediated)),
    ]);
    let err = handle(sweep(), &fake, &notifier(None)).await.unwrap_err();
    assert_eq!(err.reasons.len(), 1);
    assert!(err.reasons[0].starts_with("slow: "), "{:?}", err.reasons);
    assert_eq!(
        err.report.summary.get("remediated"),
        Some(&1),
        "the other resource was still fixed"
    );
}

#[tokio::test]
async fn a_failed_notification_keeps_the_fix_and_asks_for_a_retry() {
    let fake = Fake(vec![
        ("fixed", Ok(OutcomeKind::Remediated)),
        ("fine", Ok(OutcomeKind::Compliant)),
    ]);
    let topic = "arn:aws:sns:us-east-1:123456789012:unreachable";
    let err = handle(sweep(), &fake, &notifier(Some(topic)))
        .await
        .unwrap_err();
    assert_eq!(
        err.reasons.len(),
        1,
        "only the remediated resource is notified: {:?}",
        err.reasons
    );
    assert!(
        err.reasons[0].starts_with("notification for fixed"),
        "{:?}",
        err.reasons
    );
    assert_eq!(err.report.summary.get("remediated"), Some(&1));
}

/// Takes 20 ms per target.
/// Takes 50 ms per target, and counts how many it had in hand at once.
#[derive(Default)]
struct Slow {
    targets: Vec<&'static str>,
    in_hand: std::sync::atomic::AtomicUsize,
    most_in_hand: std::sync::atomic::AtomicUsize,
}

impl Slow {
    fn new(count: usize) -> Self {
        Slow {
            targets: (0..count)
                .map(|i| &*Box::leak(format!("r{i:02}").into_boxed_str()))
                .collect(),
            ..Slow::default()
        }
    }
}

const PAUSE: Duration = Duration::from_millis(50);

impl Remediation for Slow {
    type Target = &'static str;

    async fn targets(&self, _: &Trigger) -> Result<Targets<&'static str>, AwsError> {
        Ok(Targets::Found(self.targets.clone()))
    }

    async fn remediate(&self, target: &&'static str, _: &Trigger) -> Result<Outcome, AwsError> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_hand.fetch_add(1, SeqCst) + 1;
        self.most_in_hand.fetch_max(now, SeqCst);
        tokio::time::sleep(PAUSE).await;
        self.in_hand.fetch_sub(1, SeqCst);
        Ok(Outcome::new(
            OutcomeKind::Remediated,
            ResourceType::S3Bucket,
            *target,
            "because",
        )
        .with_changes(vec!["changed".into()]))
    }

    fn resource_of(&self, target: &&'static str) -> (ResourceType, String) {
        (ResourceType::S3Bucket, target.to_string())
    }

    async fn exempt_resources(&self, _: &Trigger) -> Result<Vec<Exempt>, AwsError> {
        Ok(Vec::new())
    }
}

/// The weekly report's schedule: a rule whose name says `exemption-report`.
fn report_schedule() -> Value {
    let mut event = sweep();
    event["resources"] =
        json!(["arn:aws:events:us-east-1:123456789012:rule/remediation-s3-exemption-report"]);
    event
}

#[tokio::test]
async fn the_report_schedule_lists_exemptions_and_fixes_nothing() {
    let fake = Fake(vec![
        ("a", Ok(OutcomeKind::Remediated)),
        ("b", Ok(OutcomeKind::Remediated)),
    ]);
    let report = handle(report_schedule(), &fake, &notifier(None))
        .await
        .unwrap();
    assert_eq!(report.results.len(), 1, "{report:?}");
    assert_eq!(report.results[0].outcome.as_str(), "reported");
    assert!(
        report.results[0].reason.contains("2 exempt"),
        "{:?}",
        report.results[0]
    );
    assert_eq!(report.status, report::Status::Done);
    // The same schedule event from another rule is a sweep, which fixes.
    let swept = handle(sweep(), &fake, &notifier(None)).await.unwrap();
    assert_eq!(swept.summary.get("remediated"), Some(&2));
    // A listing that fails transiently asks for a retry.
    let flaky = Fake(vec![("a", Err(ErrorKind::Transient))]);
    assert!(handle(report_schedule(), &flaky, &notifier(None))
        .await
        .is_err());
}

#[tokio::test]
async fn a_sweep_works_on_ten_resources_at_a_time_and_reports_them_in_order() {
    let slow = Slow::new(50);
    let started = Instant::now();
    let report = handle(sweep(), &slow, &notifier(None)).await.unwrap();
    let took = started.elapsed();
    assert_eq!(
        slow.most_in_hand.load(std::sync::atomic::Ordering::SeqCst),
        CONCURRENT_RESOURCES
    );
    // Five rounds of ten, not fifty one after another (2.5 s).
    assert!(took >= PAUSE * 5 && took < PAUSE * 25, "{took:?}");
    let ids: Vec<&str> = report
        .results
        .iter()
        .filter_map(|r| r.resource_id.as_deref())
        .collect();
    assert_eq!(ids, slow.targets);
}

#[tokio::test]
async fn a_sweep_stops_before_the_deadline_and_reports_what_is_left() {
    let slow = Slow::new(50);
    // 200 ms left, less a fifth kept in reserve: about four rounds of ten start.
    let deadline = Deadline::before(SystemTime::now() + Duration::from_millis(200));
    let started = Instant::now();
    let report = handle_until(sweep(), &slow, &notifier(None), Reach::default(), deadline)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(280),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.status, Status::Unfinished);
    let done = report.summary["remediated"];
    assert!((10..50).contains(&done), "{done} done");
    let left = report.results.last().unwrap();
    assert_eq!(left.outcome, ReportOutcome::Unfinished);
    assert_eq!(left.left.len(), 50 - done);
    assert_eq!(left.left, slow.targets[done..]);
    assert!(left
        .reason
        .contains(&format!("{} of 50 resources not checked", 50 - done)));
}

#[tokio::test]
async fn an_event_cut_short_by_the_deadline_is_retried() {
    let slow = Slow::new(50);
    let mut event = sweep();
    event["detail-type"] = json!("EC2 Instance State-change Notification");
    event["detail"] = json!({"instance-id": "i-1", "state": "running"});
    let deadline = Deadline::before(SystemTime::now() + Duration::from_millis(200));
    let err = handle_until(event, &slow, &notifier(None), Reach::default(), deadline)
        .await
        .unwrap_err();
    assert!(
        err.reasons[0].contains("resources not checked before the deadline"),
        "{:?}",
        err.reasons
    );
    assert_eq!(err.report.status, Status::Unfinished);
}

#[tokio::test]
async fn ignored_payloads_say_why() {
    let fake = Fake(vec![]);
    for payload in [
        json!([]),
        json!({"detail-type": "Other", "source": "x", "detail": {}}),
    ] {
        let report = handle(payload, &fake, &notifier(None)).await.unwrap();
        assert_eq!(report.status, Status::Ignored);
        assert_eq!(report.results.len(), 1);
        assert!(!report.results[0].reason.is_empty());
    }
    let mut cloudtrail = sweep();
    cloudtrail["detail-type"] = json!("EC2 Instance State-change Notification");
    cloudtrail["detail"] = json!({"instance-id": "i-1", "state": "running"});
    let report = handle(cloudtrail, &fake, &notifier(None)).await.unwrap();
    assert_eq!(report.results[0].reason, "not for the fake");
    let response = into_response(Ok(report)).unwrap();
    assert_eq!(response["status"], "ignored");
}

/// A sweep's own changes get a message each; what it would change or could not change comes in one
/// digest per outcome (those findings repeat every sweep).
#[tokio::test]
async fn a_sweep_tells_its_fixes_one_by_one_and_its_findings_in_a_digest() {
    use aws_sdk_sns::operation::publish::PublishOutput;
    use aws_smithy_mocks::mock;
    use std::sync::{Arc, Mutex};

    let subjects = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = subjects.clone();
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(move |req| {
            log.lock()
                .unwrap()
                .push(req.subject().unwrap_or_default().to_string());
            true
        })
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    let client = crate::test_support::mocked_client!(aws_sdk_sns, [&publish]);
    let notifier = Notifier::new(
        client,
        Some("arn:aws:sns:us-east-1:123456789012:t".into()),
        "fake",
        "exempt",
    );
    let fake = Fake(vec![
        ("fixed", Ok(OutcomeKind::Remediated)),
        ("would-1", Ok(OutcomeKind::DryRun)),
        ("would-2", Ok(OutcomeKind::DryRun)),
        ("broken", Ok(OutcomeKind::Failed)),
        ("left-alone", Ok(OutcomeKind::Skipped)),
    ]);
    let report = handle(sweep(), &fake, &notifier).await.unwrap();
    assert_eq!(report.summary["dry-run"], 2);
    let subjects = subjects.lock().unwrap().clone();
    assert_eq!(
        subjects,
        [
            "[remediated] fixed: changed",
            "[dry-run] sweep of us-east-1: 2 would change",
            "[failed] sweep of us-east-1: 1 could not be fixed",
        ]
    );
}

/// A Security Hub finding whose resources the fake answers with `results`, and the
/// `BatchUpdateFindings` requests it led to.
async fn finding_updates(
    results: Vec<(&'static str, Result<OutcomeKind, ErrorKind>)>,
) -> (Result<Report, InvocationError>, Vec<(String, String)>) {
    use aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsOutput;
    use aws_smithy_mocks::mock;
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let update = mock!(aws_sdk_securityhub::Client::batch_update_findings)
        .match_requests(move |req| {
            log.lock().unwrap().push((
                req.workflow()
                    .and_then(|w| w.status())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                req.note()
                    .and_then(|n| n.text())
                    .unwrap_or_default()
                    .to_string(),
            ));
            true
        })
        .then_output(|| BatchUpdateFindingsOutput::builder().build());
    let hub = SecurityHub::fixed(
        crate::test_support::mocked_client!(aws_sdk_securityhub, [&update]),
        "fake",
    );
    let event = crate::test_support::sample_event("s3-public-access/securityhub-s3-2-failed.json");
    let fake = Fake(results);
    let reach = Reach {
        organization: None,
        security_hub: Some(&hub),
    };
    let result = handle_until(event, &fake, &notifier(None), reach, Deadline::none()).await;
    let seen = seen.lock().unwrap().clone();
    (result, seen)
}

#[tokio::test]
async fn a_finding_is_updated_only_once_every_resource_of_it_was_decided() {
    let (result, updates) = finding_updates(vec![("bucket", Ok(OutcomeKind::Remediated))]).await;
    assert!(result.is_ok());
    // The fake does not vouch for any control: fixed, yet only NOTIFIED.
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].0, "NOTIFIED");
    assert!(
        updates[0].1.starts_with("fake: fixed S3 bucket bucket"),
        "{updates:?}"
    );

    // One resource fixed, one left to Lambda's retry: nothing is claimed yet.
    let (result, updates) = finding_updates(vec![
        ("fixed", Ok(OutcomeKind::Remediated)),
        ("throttled", Err(ErrorKind::Transient)),
    ])
    .await;
    assert!(result.is_err(), "the invocation is retried");
    assert!(updates.is_empty(), "{updates:?}");

    // Compliant and a control the fake does not vouch for: left alone.
    let (_, updates) = finding_updates(vec![("fine", Ok(OutcomeKind::Compliant))]).await;
    assert!(updates.is_empty(), "{updates:?}");
}
