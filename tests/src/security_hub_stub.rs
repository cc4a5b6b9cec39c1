//! A recording stand-in for Security Hub's `BatchUpdateFindings` (moto has none): keeps every update
//! a function sends, answers that each finding was processed, and can be told to answer the next
//! calls otherwise (findings left unprocessed with an error code, or an error status), as Security Hub
//! does (Security Hub API Reference, BatchUpdateFindings: `UnprocessedFindings`, errors). Point a
//! function at it with `AWS_ENDPOINT_URL_SECURITYHUB`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::stub::{Answer, Call, Stub};

/// How the stub answers one coming call.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Every finding of the call left unprocessed with this `ErrorCode`.
    Unprocessed(&'static str),
    /// An error answer: HTTP status and `x-amzn-ErrorType`.
    Error(u16, &'static str),
}

pub struct SecurityHubStub {
    pub endpoint: String,
    stub: Stub,
    faults: Arc<Mutex<VecDeque<Fault>>>,
}

impl SecurityHubStub {
    pub async fn start() -> SecurityHubStub {
        let faults: Arc<Mutex<VecDeque<Fault>>> = Arc::default();
        let coming = faults.clone();
        let stub = Stub::start("application/json", move |call| {
            let fault = coming.lock().unwrap().pop_front();
            answer(call, fault)
        })
        .await;
        SecurityHubStub {
            endpoint: stub.endpoint.clone(),
            stub,
            faults,
        }
    }

    /// The next calls are answered with these faults, one each, in order.
    pub fn fail_next(&self, faults: &[Fault]) {
        self.faults.lock().unwrap().extend(faults.iter().cloned());
    }

    /// Every `BatchUpdateFindings` request body, in order (those answered with a fault too).
    pub fn updates(&self) -> Vec<Value> {
        self.batch_updates().into_iter().map(|c| c.body).collect()
    }

    /// The access key that signed each `BatchUpdateFindings` request, in order.
    pub fn signers(&self) -> Vec<String> {
        self.batch_updates()
            .into_iter()
            .map(|c| c.access_key)
            .collect()
    }

    fn batch_updates(&self) -> Vec<Call> {
        self.stub
            .calls()
            .into_iter()
            .filter(|c| c.operation == "PATCH /findings/batchupdate")
            .collect()
    }

    /// The ids of the findings each update named.
    pub fn updated_ids(update: &Value) -> Vec<String> {
        update["FindingIdentifiers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["Id"].as_str().map(String::from))
            .collect()
    }
}

fn answer(call: &Call, fault: Option<Fault>) -> Answer {
    let identifiers = call.body["FindingIdentifiers"].clone();
    match fault {
        None => Answer::ok(
            json!({"ProcessedFindings": identifiers, "UnprocessedFindings": []}).to_string(),
        ),
        Some(Fault::Unprocessed(code)) => {
            let unprocessed: Vec<Value> = identifiers
                .as_array()
                .into_iter()
                .flatten()
                .map(|id| json!({"FindingIdentifier": id, "ErrorCode": code, "ErrorMessage": code}))
                .collect();
            Answer::ok(
                json!({"ProcessedFindings": [], "UnprocessedFindings": unprocessed}).to_string(),
            )
        }
        Some(Fault::Error(status, kind)) => Answer {
            status,
            headers: vec![("x-amzn-errortype", kind.to_string())],
            body: json!({"message": format!("injected {kind}")}).to_string(),
        },
    }
}
