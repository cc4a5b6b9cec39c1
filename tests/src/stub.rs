//! A small HTTP server standing in for an AWS API that moto lacks or models only in part: it keeps
//! every request it gets and answers each with what the stub's `answer` says. The stubs built on it
//! (`config_stub`, `security_hub_stub`) say which API and which answers.

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

/// One request: its operation (the `X-Amz-Target` operation of a JSON-protocol API, else the
/// method and path of a REST one), the access key that signed it, and its JSON body.
#[derive(Clone, Debug)]
pub struct Call {
    pub operation: String,
    /// From `Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/...`: whose credentials.
    pub access_key: String,
    pub body: Value,
}

/// An answer: HTTP status, extra headers, JSON body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Answer {
    pub fn ok(body: impl Into<String>) -> Answer {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

type Answering = dyn Fn(&Call) -> Answer + Send + Sync;

pub struct Stub {
    pub endpoint: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Stub {
    /// Listens on a free local port; `content_type` is the API protocol's.
    pub async fn start(
        content_type: &'static str,
        answer: impl Fn(&Call) -> Answer + Send + Sync + 'static,
    ) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind stub");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let answer: Arc<Answering> = Arc::new(answer);
        let recorded = calls.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (recorded, answer) = (recorded.clone(), answer.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        respond(recorded.clone(), answer.clone(), content_type, req)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Stub { endpoint, calls }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

async fn respond(
    calls: Arc<Mutex<Vec<Call>>>,
    answer: Arc<Answering>,
    content_type: &'static str,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let operation = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .map(String::from)
        .unwrap_or_else(|| format!("{} {}", req.method(), req.uri().path()));
    let access_key = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').next())
        .unwrap_or_default()
        .to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let call = Call {
        operation,
        access_key,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let answer = answer(&call);
    calls.lock().unwrap().push(call);
    let mut response = Response::builder()
        .status(answer.status)
        .header("content-type", content_type);
    for (name, value) in answer.headers {
        response = response.header(name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from(answer.body)))
        .expect("response"))
}
