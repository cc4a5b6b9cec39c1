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

use aws_sdk_sns::types::MessageAttributeValue;

use crate::error::AwsError;
use crate::outcome::{Outcome, OutcomeKind};
use crate::trigger::Trigger;

/// The IAM actions behind the SNS call in this module (checked against the code and the template).
pub const IAM_ACTIONS: &[&str] = &["sns:Publish"];
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
        let mut request = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .message_structure("json")
            .subject(&message.subject)
            .message(message.structured_body());
        for (name, value) in &message.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| {
                    AwsError::new(
                        "Publish",
                        crate::error::ErrorKind::Permanent,
                        None,
                        e.to_string(),
                    )
                })?;
            request = request.message_attributes(*name, attribute);
        }
        let published = request
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
