//! Several accounts and regions on one moto, and the sweep queue as Lambda's SQS event source would
//! deliver it.
//!
//! moto keeps one state per account and acts in the account of the credentials: credentials from
//! `AssumeRole` act in the account of the role's ARN, whether or not the role exists. So a member
//! account here is a pair of assumed-role credentials, which is also how the functions reach it.

use serde_json::{json, Value};

use crate::{Aws, ACCOUNT, REGION};

/// The member role the functions assume in tests.
pub const MEMBER_ROLE: &str = "remediation-member";

/// Clients acting in `account` and `region`.
pub async fn member(endpoint: &str, account: &str, region: &str) -> Aws {
    let central = Aws::new(endpoint).await;
    let answer = central
        .sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/rig-seeder"))
        .role_session_name("rig")
        .send()
        .await
        .expect("assume role in moto");
    let given = answer.credentials().expect("credentials");
    let credentials = aws_sdk_s3::config::Credentials::new(
        given.access_key_id(),
        given.secret_access_key(),
        Some(given.session_token().to_string()),
        None,
        "rig-member",
    );
    Aws::with_credentials(endpoint, region, credentials).await
}

/// A sweep queue in the central account, read the way Lambda's SQS event source mapping reads it.
pub struct JobQueue {
    pub url: String,
    pub arn: String,
    sqs: aws_sdk_sqs::Client,
}

/// One batch as the function got it, and the receipt handles to settle it with.
pub struct Delivery {
    pub event: Value,
    handles: Vec<(String, String)>,
}

impl JobQueue {
    pub async fn create(aws: &Aws, name: &str) -> JobQueue {
        let url = aws
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        JobQueue {
            url,
            arn: format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
            sqs: aws.sqs.clone(),
        }
    }

    /// Up to ten messages as one Lambda SQS event (the shape of the Lambda Developer Guide's
    /// "Example standard queue message event"); `None` when the queue is empty. They stay visible, so a
    /// message the function fails is there to take again at once.
    pub async fn receive(&self) -> Option<Delivery> {
        self.receive_batch(10, std::time::Duration::ZERO).await
    }

    /// One message, hidden from other consumers for `visibility` (the template's batch size of one,
    /// with several consumers at once).
    pub async fn receive_one(&self, visibility: std::time::Duration) -> Option<Delivery> {
        self.receive_batch(1, visibility).await
    }

    async fn receive_batch(&self, max: i32, visibility: std::time::Duration) -> Option<Delivery> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .visibility_timeout(visibility.as_secs() as i32)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return None;
        }
        let mut handles = Vec::new();
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let id = m.message_id().unwrap_or_default().to_string();
                handles.push((
                    id.clone(),
                    m.receipt_handle().unwrap_or_default().to_string(),
                ));
                json!({
                    "messageId": id,
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1764640800000",
                        "SenderId": "AROAEXAMPLE:s3-public-access",
                        "ApproximateFirstReceiveTimestamp": "1764640800001"
                    },
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": REGION
                })
            })
            .collect();
        Some(Delivery {
            event: json!({ "Records": records }),
            handles,
        })
    }

    /// What the event source mapping does with the function's answer: deletes every message not in
    /// `batchItemFailures` (the failed ones come back later).
    pub async fn settle(&self, delivery: &Delivery, response: &Value) -> Vec<String> {
        let failed: Vec<String> = response["batchItemFailures"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["itemIdentifier"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        for (id, handle) in &delivery.handles {
            if !failed.contains(id) {
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete message");
            }
        }
        failed
    }

    /// The jobs waiting in the queue, without taking them.
    pub async fn peek(&self) -> Vec<Value> {
        let mut jobs = Vec::new();
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive");
        for m in out.messages.unwrap_or_default() {
            jobs.push(serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null));
        }
        jobs
    }
}
