//! A recording stand-in for the AWS Config API (moto's PutEvaluations only works in test mode):
//! answers every PutEvaluations with no failed evaluations and keeps what it was sent, so tests can
//! read the exact evaluations a function reported. Point a function at it with
//! `AWS_ENDPOINT_URL_CONFIG_SERVICE`.

use serde_json::Value;

use crate::stub::{Answer, Call, Stub};

/// One request the stub received: the `X-Amz-Target` operation and the JSON body.
pub type ConfigCall = Call;

pub struct ConfigStub {
    pub endpoint: String,
    stub: Stub,
}

impl ConfigStub {
    pub async fn start() -> ConfigStub {
        let stub = Stub::start("application/x-amz-json-1.1", |_| {
            Answer::ok("{\"FailedEvaluations\":[]}")
        })
        .await;
        ConfigStub {
            endpoint: stub.endpoint.clone(),
            stub,
        }
    }

    pub fn calls(&self) -> Vec<ConfigCall> {
        self.stub.calls()
    }

    /// Every evaluation sent with PutEvaluations, in order.
    pub fn evaluations(&self) -> Vec<Value> {
        self.calls()
            .iter()
            .filter(|c| c.operation == "PutEvaluations")
            .flat_map(|c| {
                c.body["Evaluations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }
}
