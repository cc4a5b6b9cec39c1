//! A Lambda Runtime API emulator: serves `next`, `response`, `error` and `init/error` to a real
//! function binary running as a child process, exactly as Lambda's runtime interface would.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

const API_PREFIX: &str = "/2018-06-01/runtime";

/// How an invocation ended, other than with a response.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionError {
    /// The function posted to `/invocation/{id}/error` (its handler returned an error).
    Reported {
        error_type: Option<String>,
        body: Value,
    },
    /// The function posted to `/init/error`.
    Init(String),
    /// The process ended before answering.
    Exited(String),
    /// No answer before the deadline.
    Timeout,
}

#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub result: Result<Value, FunctionError>,
    pub duration: Duration,
    /// Log lines the process wrote while this invocation ran.
    pub logs: Vec<String>,
}

impl Invocation {
    /// The response, or a panic that shows the error and the logs.
    pub fn response(&self) -> &Value {
        match &self.result {
            Ok(value) => value,
            Err(err) => panic!(
                "invocation failed: {err:?}\nlogs:\n{}",
                self.logs.join("\n")
            ),
        }
    }
}

enum Completion {
    Response(Bytes),
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
}

struct Queued {
    request_id: String,
    body: Bytes,
    deadline: SystemTime,
}

struct State {
    function_name: String,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Completion>>>,
    init_error: Mutex<Option<String>>,
    first_next: Mutex<Option<Instant>>,
}

/// A function process attached to its own Runtime API endpoint.
pub struct FunctionProcess {
    pub addr: SocketAddr,
    pub spawned_at: Instant,
    child: Child,
    state: Arc<State>,
    sender: mpsc::UnboundedSender<Queued>,
    logs: Arc<Mutex<Vec<String>>>,
    log_readers: Vec<tokio::task::JoinHandle<()>>,
    counter: u64,
}

impl FunctionProcess {
    /// Starts the Runtime API on a free loopback port and the binary with a clean environment:
    /// only `PATH`, the variables Lambda sets, and `env`.
    pub async fn start(
        binary: &Path,
        function_name: &str,
        env: &[(String, String)],
    ) -> FunctionProcess {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind runtime api");
        let addr = listener.local_addr().expect("addr");
        let (sender, receiver) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            function_name: function_name.to_string(),
            queue: tokio::sync::Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            first_next: Mutex::new(None),
        });
        let server_state = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = server_state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| route(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });

        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (build it first: make build)",
                binary.display()
            )
        });
        let logs = Arc::new(Mutex::new(Vec::new()));
        let mut log_readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            log_readers.push(collect_lines(stdout, logs.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            log_readers.push(collect_lines(stderr, logs.clone()));
        }
        FunctionProcess {
            addr,
            spawned_at,
            child,
            state,
            sender,
            logs,
            log_readers,
            counter: 0,
        }
    }

    /// Sends one event and waits for the answer (at most `timeout`, the function's deadline).
    pub async fn invoke_with_timeout(&mut self, event: &Value, timeout: Duration) -> Invocation {
        self.invoke_raw(event.to_string().into_bytes(), timeout)
            .await
    }

    /// Sends any bytes as the payload (hostile-input tests), with `timeout` as the deadline.
    pub async fn invoke_raw(&mut self, body: Vec<u8>, timeout: Duration) -> Invocation {
        self.counter += 1;
        let request_id = format!("00000000-0000-4000-8000-{:012}", self.counter);
        let (done_tx, done_rx) = oneshot::channel();
        self.state
            .pending
            .lock()
            .unwrap()
            .insert(request_id.clone(), done_tx);
        let first_log = self.logs.lock().unwrap().len();
        let started = Instant::now();
        let _ = self.sender.send(Queued {
            request_id: request_id.clone(),
            body: Bytes::from(body),
            deadline: SystemTime::now() + timeout,
        });

        let result = tokio::select! {
            done = done_rx => match done {
                Ok(Completion::Response(body)) => Ok(serde_json::from_slice(&body)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))),
                Ok(Completion::Error { error_type, body }) => Err(FunctionError::Reported {
                    error_type,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                }),
                Err(_) => Err(FunctionError::Exited("emulator dropped the invocation".into())),
            },
            status = self.child.wait() => {
                self.finish_logs().await;
                Err(self.ended(status.ok()))
            }
            _ = tokio::time::sleep(timeout) => Err(FunctionError::Timeout),
        };
        let duration = started.elapsed();
        // Let the log readers catch up with what was written just before the answer.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let logs = self.logs.lock().unwrap()[first_log..].to_vec();
        Invocation {
            request_id,
            result,
            duration,
            logs,
        }
    }

    pub async fn invoke(&mut self, event: &Value) -> Invocation {
        self.invoke_with_timeout(event, Duration::from_secs(60))
            .await
    }

    fn ended(&self, status: Option<ExitStatus>) -> FunctionError {
        if let Some(init) = self.state.init_error.lock().unwrap().clone() {
            return FunctionError::Init(init);
        }
        FunctionError::Exited(format!(
            "process exited ({}) before answering",
            status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "unknown status".into())
        ))
    }

    /// Waits for the process to exit (a failed start-up); `None` if it is still running after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)?;
        self.finish_logs().await;
        Some(status)
    }

    /// After the process ended: waits until its last log lines are read.
    async fn finish_logs(&mut self) {
        for reader in self.log_readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
    }

    /// Time from spawning the process to its first `next` request (the cold start's init phase).
    pub fn init_duration(&self) -> Option<Duration> {
        self.state
            .first_next
            .lock()
            .unwrap()
            .map(|t| t.duration_since(self.spawned_at))
    }

    /// Waits until the function asks for its first event.
    pub async fn wait_ready(&self, timeout: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Some(d) = self.init_duration() {
                return Some(d);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        None
    }

    pub fn init_error(&self) -> Option<String> {
        self.state.init_error.lock().unwrap().clone()
    }

    /// Everything the process has logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Peak resident memory of the process, in KiB (Linux `VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }
}

fn collect_lines<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    reader: R,
    logs: Arc<Mutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            logs.lock().unwrap().push(line);
        }
    })
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn route(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    let method = req.method().clone();
    let error_type = req
        .headers()
        .get("Lambda-Runtime-Function-Error-Type")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();

    let response = match (method, segments.as_slice()) {
        (Method::GET, ["invocation", "next"]) => {
            state
                .first_next
                .lock()
                .unwrap()
                .get_or_insert_with(Instant::now);
            let next = state.queue.lock().await.recv().await;
            match next {
                Some(queued) => {
                    let deadline_ms = queued
                        .deadline
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis();
                    let mut response = reply(StatusCode::OK, queued.body);
                    let headers = response.headers_mut();
                    let arn = format!(
                        "arn:aws:lambda:us-east-1:123456789012:function:{}",
                        state.function_name
                    );
                    let trace = format!(
                        "Root=1-00000000-{};Parent=0000000000000001;Sampled=0",
                        &queued.request_id[24..]
                    );
                    for (name, value) in [
                        ("Lambda-Runtime-Aws-Request-Id", queued.request_id.clone()),
                        ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
                        ("Lambda-Runtime-Invoked-Function-Arn", arn),
                        ("Lambda-Runtime-Trace-Id", trace),
                        ("Content-Type", "application/json".to_string()),
                    ] {
                        headers.insert(name, value.parse().expect("header value"));
                    }
                    response
                }
                None => reply(StatusCode::GONE, "emulator stopped"),
            }
        }
        (Method::POST, ["invocation", id, "response"]) => {
            complete(&state, id, Completion::Response(body))
        }
        (Method::POST, ["invocation", id, "error"]) => {
            complete(&state, id, Completion::Error { error_type, body })
        }
        (Method::POST, ["init", "error"]) => {
            *state.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown runtime api call"),
    };
    Ok(response)
}

fn complete(state: &State, request_id: &str, completion: Completion) -> Response<Full<Bytes>> {
    match state.pending.lock().unwrap().remove(request_id) {
        Some(sender) => {
            let _ = sender.send(completion);
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        None => reply(
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"unknown or already answered request id","errorType":"InvalidRequestID"}"#,
        ),
    }
}
