//! A recording stand-in for the AWS Config API (moto's PutEvaluations only works in test mode):
//! answers every PutEvaluations with no failed evaluations and keeps what it was sent, so tests can
//! read the exact evaluations a function reported. Point a function at it with
//! `AWS_ENDPOINT_URL_CONFIG_SERVICE`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// One request the stub received: the `X-Amz-Target` operation and the JSON body.
#[derive(Clone, Debug)]
pub struct ConfigCall {
    pub operation: String,
    pub body: Value,
}

pub struct ConfigStub {
    pub endpoint: String,
    calls: Arc<Mutex<Vec<ConfigCall>>>,
}

impl ConfigStub {
    pub async fn start() -> ConfigStub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind config stub");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let calls: Arc<Mutex<Vec<ConfigCall>>> = Arc::default();
        let recorded = calls.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| record(recorded.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        ConfigStub { endpoint, calls }
    }

    pub fn calls(&self) -> Vec<ConfigCall> {
        self.calls.lock().unwrap().clone()
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

async fn record(
    calls: Arc<Mutex<Vec<ConfigCall>>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let operation = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
        .to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    calls.lock().unwrap().push(ConfigCall { operation, body });
    let response = Response::builder()
        .status(200)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from_static(b"{\"FailedEvaluations\":[]}")))
        .expect("response");
    Ok(response)
}
