//! Notifications: one SNS message per resource acted on, skipped or failed, and one digest per outcome
//! for a sweep's findings (`docs/notifications.md` describes them, `docs/notification.schema.json` the
//! document programs read).
//!
//! - [`message`]: what a message says (pure)
//! - this file: publishing with `MessageStructure=json` (`default`/`email` carry text a person reads, `sqs`,
//!   `lambda`, `http`, `https` the JSON document), and keeping what SNS refuses in the undelivered queue.

pub mod exemption_report;
pub mod message;

pub use message::*;

use std::collections::HashMap;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use crate::error::AwsError;
use crate::outcome::{Outcome, OutcomeKind};
use crate::trigger::Trigger;

/// The IAM actions behind the SNS calls in this module (checked against the code and the template).
/// `PublishBatch` is authorized as `sns:Publish` (SNS Developer Guide, "Amazon SNS API permissions:
/// Actions and resources reference").
pub const IAM_ACTIONS: &[&str] = &["sns:Publish"];

/// Messages per `PublishBatch` call: "Publishes up to 10 messages to the specified topic in a single
/// batch" (SNS API Reference, PublishBatch), whose total size is also held to [`SNS_MESSAGE_LIMIT`].
pub const BATCH_ENTRIES: usize = 10;
/// The IAM action behind keeping a refused message in the undelivered queue. The stack's roles grant
/// it on the dead-letter queue, for Lambda's failed events anyway.
pub const UNDELIVERED_IAM_ACTIONS: &[&str] = &["sqs:SendMessage"];

/// Publishes messages to the configured topic, or only logs them when there is none.
#[derive(Clone, Debug)]
pub struct Notifier {
    client: aws_sdk_sns::Client,
    topic_arn: Option<String>,
    function: String,
    exempt_tag: String,
    /// Where a message goes that SNS would not take (`UNDELIVERED_QUEUE_URL`).
    undelivered: Option<UndeliveredQueue>,
}

/// The queue that keeps notifications SNS refused, so that a change is never made untold: after a fix,
/// Lambda's retry of a failed invocation finds the resource compliant and has nothing left to say.
/// The stack points it at its dead-letter queue (the roles may already `sqs:SendMessage` there, for
/// failed events), whose depth is what people watch.
#[derive(Clone, Debug)]
struct UndeliveredQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl Notifier {
    pub fn new(
        client: aws_sdk_sns::Client,
        topic_arn: Option<String>,
        function: impl Into<String>,
        exempt_tag: impl Into<String>,
    ) -> Self {
        Notifier {
            client,
            topic_arn,
            function: function.into(),
            exempt_tag: exempt_tag.into(),
            undelivered: None,
        }
    }

    /// Keeps messages SNS refuses in this SQS queue.
    pub fn with_undelivered_queue(mut self, sqs: aws_sdk_sqs::Client, url: String) -> Self {
        self.undelivered = Some(UndeliveredQueue { sqs, url });
        self
    }

    /// The notifier a function builds at start-up from its settings.
    pub fn from_settings(
        sdk: &aws_config::SdkConfig,
        settings: &crate::config::Settings,
        function: &str,
    ) -> Self {
        let notifier = Notifier::new(
            aws_sdk_sns::Client::new(sdk),
            settings.notification_topic_arn.clone(),
            function,
            settings.exempt_tag.clone(),
        );
        match &settings.undelivered_queue_url {
            Some(url) => {
                notifier.with_undelivered_queue(aws_sdk_sqs::Client::new(sdk), url.clone())
            }
            None => notifier,
        }
    }

    pub fn function(&self) -> &str {
        &self.function
    }

    pub fn message(&self, outcome: &Outcome, trigger: &Trigger) -> Message {
        Message::build(&self.function, &self.exempt_tag, outcome, trigger)
    }

    /// Publishes the message; when SNS refuses it and an undelivered queue is set, the message is kept
    /// there instead (the error is logged, and only returned when the queue refuses it too).
    pub async fn publish(&self, outcome: &Outcome, trigger: &Trigger) -> Result<(), AwsError> {
        self.deliver(self.message(outcome, trigger)).await
    }

    /// A sweep's dry-run and failed findings: one digest message per outcome, none when there are none.
    pub async fn publish_digest(
        &self,
        outcomes: &[Outcome],
        trigger: &Trigger,
    ) -> Result<(), AwsError> {
        for kind in OutcomeKind::ALL
            .into_iter()
            .filter(|k| k.is_digested_by_sweep())
        {
            let of_kind: Vec<&Outcome> = outcomes.iter().filter(|o| o.outcome == kind).collect();
            if !of_kind.is_empty() {
                let message =
                    Message::digest(&self.function, &self.exempt_tag, kind, &of_kind, trigger);
                self.deliver(message).await?;
            }
        }
        Ok(())
    }

    /// The weekly exemption report of `exempt` resources; nothing when there are none.
    pub async fn publish_exemption_report(
        &self,
        exempt: &[exemption_report::Exempt],
        trigger: &Trigger,
    ) -> Result<(), AwsError> {
        let today = crate::exemption::today();
        match exemption_report::message(&self.function, &self.exempt_tag, exempt, today, trigger) {
            Some(message) => self.deliver(message).await,
            None => Ok(()),
        }
    }

    /// Publishes one message per outcome in as few `PublishBatch` calls as SNS allows (ten messages and
    /// 256 KB a call); each is the message [`Notifier::publish`] would send. What a batch did not take
    /// goes on its own, like any single message. Returns the resources whose message could not be
    /// delivered at all, with why.
    pub async fn publish_all(
        &self,
        outcomes: &[&Outcome],
        trigger: &Trigger,
    ) -> Vec<(String, AwsError)> {
        let messages: Vec<(&str, Message)> = outcomes
            .iter()
            .map(|o| (o.resource_id.as_str(), self.message(o, trigger)))
            .collect();
        let mut undelivered = Vec::new();
        for batch in batches(&messages) {
            let left: Vec<usize> = match &self.topic_arn {
                Some(topic_arn) if batch.len() > 1 => {
                    match self.publish_batch(topic_arn, batch).await {
                        Ok(left) => left,
                        Err(err) => {
                            tracing::warn!(error = %err, messages = batch.len(), "PublishBatch failed; publishing one by one");
                            (0..batch.len()).collect()
                        }
                    }
                }
                _ => (0..batch.len()).collect(),
            };
            for i in left {
                let (resource_id, message) = &batch[i];
                if let Err(err) = self.deliver(message.clone()).await {
                    undelivered.push((resource_id.to_string(), err));
                }
            }
        }
        undelivered
    }

    /// One `PublishBatch` call; the positions of the messages SNS did not take.
    async fn publish_batch(
        &self,
        topic_arn: &str,
        batch: &[(&str, Message)],
    ) -> Result<Vec<usize>, AwsError> {
        let mut entries = Vec::with_capacity(batch.len());
        for (i, (_, message)) in batch.iter().enumerate() {
            let entry = PublishBatchRequestEntry::builder()
                .id(i.to_string())
                .message_structure("json")
                .subject(&message.subject)
                .message(message.structured_body())
                .set_message_attributes(Some(attributes(message)?))
                .build()
                .map_err(|e| unbuildable("PublishBatch", e.to_string()))?;
            entries.push(entry);
        }
        let out = self
            .client
            .publish_batch()
            .topic_arn(topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("PublishBatch", err))?;
        for failed in out.failed() {
            tracing::warn!(
                id = failed.id(),
                code = failed.code(),
                message = failed.message().unwrap_or(""),
                sender_fault = failed.sender_fault(),
                "SNS did not take a message of the batch; it goes on its own"
            );
        }
        tracing::info!(
            published = out.successful().len(),
            failed = out.failed().len(),
            "notifications published in a batch"
        );
        Ok(out
            .failed()
            .iter()
            .filter_map(|f| f.id().parse().ok())
            .filter(|i: &usize| *i < batch.len())
            .collect())
    }

    /// Publishes a message, or keeps it in the undelivered queue when SNS refuses it.
    async fn deliver(&self, message: Message) -> Result<(), AwsError> {
        let Err(err) = self.publish_message(&message).await else {
            return Ok(());
        };
        let Some(queue) = &self.undelivered else {
            return Err(err);
        };
        let kept = serde_json::json!({
            "undelivered_notification": {
                "topic_arn": self.topic_arn,
                "error": err.to_string(),
                "subject": message.subject,
                "text": message.text,
            },
            "document": message.document,
        });
        let sent = queue
            .sqs
            .send_message()
            .queue_url(&queue.url)
            .message_body(kept.to_string())
            .send()
            .await;
        match sent {
            Ok(_) => {
                tracing::warn!(error = %err, queue = %queue.url, subject = %message.subject, "SNS refused the notification; it is kept in the undelivered queue");
                Ok(())
            }
            Err(queue_err) => {
                let queue_err = AwsError::from_sdk("SendMessage", queue_err);
                tracing::error!(error = %queue_err, "the undelivered queue refused the notification too");
                Err(err)
            }
        }
    }

    async fn publish_message(&self, message: &Message) -> Result<(), AwsError> {
        let Some(topic_arn) = &self.topic_arn else {
            tracing::info!(
                subject = %message.subject,
                document = %serde_json::to_string(&message.document).unwrap_or_default(),
                "no NOTIFICATION_TOPIC_ARN set: notification only logged"
            );
            return Ok(());
        };
        let published = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .message_structure("json")
            .subject(&message.subject)
            .message(message.structured_body())
            .set_message_attributes(Some(attributes(message)?))
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("Publish", err))?;
        tracing::info!(
            message_id = published.message_id().unwrap_or(""),
            subject = %message.subject,
            "notification published"
        );
        Ok(())
    }
}

/// The message's filterable attributes (`outcome`, `resource_type`, `severity`) as SNS takes them.
fn attributes(message: &Message) -> Result<HashMap<String, MessageAttributeValue>, AwsError> {
    message
        .attributes
        .iter()
        .map(|(name, value)| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map(|attribute| (name.to_string(), attribute))
                .map_err(|e| unbuildable("Publish", e.to_string()))
        })
        .collect()
}

fn unbuildable(operation: &'static str, message: String) -> AwsError {
    AwsError::new(operation, crate::error::ErrorKind::Permanent, None, message)
}

/// Consecutive groups of at most [`BATCH_ENTRIES`] messages whose bodies, subjects and attributes
/// together stay within [`SNS_MESSAGE_LIMIT`]: what one `PublishBatch` call may carry.
fn batches<'m, 'a>(messages: &'m [(&'a str, Message)]) -> Vec<&'m [(&'a str, Message)]> {
    let size = |m: &Message| {
        m.structured_body().len()
            + m.subject.len()
            + m.attributes
                .iter()
                .map(|(name, value)| name.len() + value.len() + "String".len())
                .sum::<usize>()
    };
    let mut groups = Vec::new();
    let (mut start, mut total) = (0, 0);
    for (i, (_, message)) in messages.iter().enumerate() {
        let this = size(message);
        if i > start && (i - start == BATCH_ENTRIES || total + this > SNS_MESSAGE_LIMIT) {
            groups.push(&messages[start..i]);
            (start, total) = (i, 0);
        }
        total += this;
    }
    if start < messages.len() {
        groups.push(&messages[start..]);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ResourceType;
    use crate::trigger::{Source, TriggerEvent};

    fn sweep() -> Trigger {
        Trigger {
            source: Source::Schedule,
            event_id: "e".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            event: TriggerEvent::Schedule { rule_arns: vec![] },
            account_name: None,
            message_id: None,
        }
    }

    fn message(reason_len: usize) -> (&'static str, Message) {
        let trigger = sweep();
        let outcome = Outcome::new(
            OutcomeKind::Remediated,
            ResourceType::SecurityGroup,
            "sg-1",
            "x".repeat(reason_len),
        )
        .with_changes(vec!["revoked tcp 22 from 0.0.0.0/0".into()]);
        (
            "sg-1",
            Message::build("open-security-group", "t", &outcome, &trigger),
        )
    }

    /// SNS may take some entries of a batch and not others (`Failed`, with HTTP 200): those, and only
    /// those, go again on their own.
    #[tokio::test]
    async fn entries_a_batch_did_not_take_go_on_their_own() {
        use aws_sdk_sns::operation::publish::PublishOutput;
        use aws_sdk_sns::operation::publish_batch::PublishBatchOutput;
        use aws_sdk_sns::types::{BatchResultErrorEntry, PublishBatchResultEntry};
        use aws_smithy_mocks::mock;
        use std::sync::{Arc, Mutex};

        let singles = Arc::new(Mutex::new(Vec::<String>::new()));
        let log = singles.clone();
        let batch = mock!(aws_sdk_sns::Client::publish_batch).then_output(|| {
            let ok = |id: &str| {
                PublishBatchResultEntry::builder()
                    .id(id)
                    .message_id("m")
                    .build()
            };
            PublishBatchOutput::builder()
                .set_successful(Some(vec![ok("0"), ok("2")]))
                .failed(
                    BatchResultErrorEntry::builder()
                        .id("1")
                        .code("InternalError")
                        .sender_fault(false)
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let single = mock!(aws_sdk_sns::Client::publish)
            .match_requests(move |req| {
                log.lock()
                    .unwrap()
                    .push(req.message().unwrap_or_default().to_string());
                true
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let client = crate::test_support::mocked_client!(aws_sdk_sns, [&batch, &single]);
        let notifier = Notifier::new(client, Some("arn:aws:sns:us-east-1:1:t".into()), "f", "t");
        let outcomes: Vec<Outcome> = ["sg-a", "sg-b", "sg-c"]
            .iter()
            .map(|id| {
                Outcome::new(
                    OutcomeKind::Remediated,
                    ResourceType::SecurityGroup,
                    *id,
                    "open",
                )
                .with_changes(vec!["revoked".into()])
            })
            .collect();
        let refs: Vec<&Outcome> = outcomes.iter().collect();
        assert!(notifier.publish_all(&refs, &sweep()).await.is_empty());
        assert_eq!(batch.num_calls(), 1);
        let singles = singles.lock().unwrap().clone();
        assert_eq!(singles.len(), 1, "only the entry SNS did not take");
        assert!(singles[0].contains("sg-b"), "{}", singles[0]);
    }

    #[test]
    fn batches_hold_ten_messages_and_256_kb_at_most_in_order() {
        let small: Vec<_> = (0..23).map(|_| message(10)).collect();
        let sizes: Vec<usize> = batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 3]);
        // Each about 40 KB (the reason is in the text twice and the document four times).
        let large: Vec<_> = (0..12).map(|_| message(7_000)).collect();
        let groups = batches(&large);
        assert!(groups.len() > 2, "{}", groups.len());
        for group in &groups {
            let total: usize = group.iter().map(|(_, m)| m.structured_body().len()).sum();
            assert!(total <= SNS_MESSAGE_LIMIT, "{total}");
        }
        assert_eq!(
            groups.iter().map(|g| g.len()).sum::<usize>(),
            12,
            "none lost"
        );
        assert!(batches(&[]).is_empty());
    }
}
