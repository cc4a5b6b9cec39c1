//! moto_server fixture: servers started from the project's venv on free ports, reset before each
//! test that checks one out, and kept in a small pool so parallel tests never share state.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::repo_root;

/// One running moto_server.
#[derive(Debug)]
pub struct MotoServer {
    pub port: u16,
    child: Child,
}

impl MotoServer {
    /// Starts a new server on a free port and waits until it answers.
    pub fn start() -> MotoServer {
        let python = python();
        let launcher = repo_root().join("tools/moto_server.py");
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("moto-{port}.log"));
            let log_file = std::fs::File::create(&log).expect("moto log file");
            let recording = std::env::temp_dir().join(format!("moto-{port}.recording"));
            let child = Command::new(&python)
                .env("MOTO_RECORDER_FILEPATH", recording)
                .arg(&launcher)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("log"))
                .stderr(log_file)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {} ({e}); run `make venv` first",
                        python.display()
                    )
                });
            let mut server = MotoServer { port, child };
            if server.wait_ready(Duration::from_secs(30)) {
                return server;
            }
            last_error = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = server.child.kill();
        }
        panic!("moto_server did not start: {last_error}");
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if matches!(http(self.port, "GET", "/moto-api/", ""), Ok((200, _))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every resource (moto's `/moto-api/reset`).
    pub fn reset(&self) {
        let (status, body) = http(self.port, "POST", "/moto-api/reset", "").expect("moto reset");
        assert_eq!(status, 200, "moto reset failed: {body}");
    }

    /// Every message published to `topic_arn`, as (subject, structured message) from moto's state:
    /// what each kind of subscriber (email, SQS, HTTP) would receive is in there.
    pub fn published(&self, topic_arn: &str) -> Vec<(String, serde_json::Value)> {
        let (_, body) = self.api("GET", "/moto-api/data.json", "");
        let data: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let topics = data["sns"]["Topic"].as_array().cloned().unwrap_or_default();
        topics
            .iter()
            .filter(|t| t["arn"] == topic_arn)
            .flat_map(|t| {
                t["sent_notifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| {
                let subject = n[2].as_str().unwrap_or("").to_string();
                let message = n[1]
                    .as_str()
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or_default();
                (subject, message)
            })
            .collect()
    }

    /// Starts counting the AWS calls this server receives (moto's request recorder).
    pub fn start_recording(&self) {
        self.api("POST", "/moto-api/recorder/reset-recording", "");
        self.api("POST", "/moto-api/recorder/start-recording", "");
    }

    /// The AWS operations received since [`MotoServer::start_recording`], in order
    /// (`DescribeInstances`, `Publish`, or `S3 PUT /bucket?acl` for S3's REST calls).
    pub fn recorded_calls(&self) -> Vec<String> {
        self.api("POST", "/moto-api/recorder/stop-recording", "");
        let (_, log) = self.api("GET", "/moto-api/recorder/download-recording", "");
        log.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|entry| operation_name(&entry))
            .collect()
    }

    /// Answers the next calls of query-protocol operations (EC2, SNS, STS) and of S3's ACL writes
    /// (`PutBucketAcl`, `PutObjectAcl`) with errors instead of
    /// passing them to moto, e.g. `[{"operation": "StopInstances", "times": 2, "status": 503,
    /// "code": "RequestLimitExceeded"}]` (`"times": -1`: every call). Replaces earlier faults;
    /// a reset clears them. Done by the rig's launcher, tools/moto_server.py.
    pub fn inject_faults(&self, faults: serde_json::Value) {
        let (status, body) = self.api("POST", "/_rig/faults", &faults.to_string());
        assert_eq!(status, 200, "inject faults: {body}");
    }

    /// How many calls each injected fault answered, by operation.
    pub fn fault_hits(&self) -> std::collections::BTreeMap<String, u64> {
        let (_, body) = self.api("GET", "/_rig/faults", "");
        let faults: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        faults
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["operation"].as_str().unwrap_or("").to_string(),
                    f["hits"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    /// Turns moto's IAM authorization on (`true`) or off: with it on, every request must be signed
    /// with an access key created in moto's IAM, and is allowed only by that user's policies.
    pub fn enforce_iam(&self, on: bool) {
        // The body is the number of requests still let through without authorization.
        let unchecked = if on { "0" } else { "inf" };
        let (status, body) = self.api("POST", "/moto-api/reset-auth", unchecked);
        assert_eq!(status, 200, "reset-auth: {body}");
    }

    /// An IAM user in moto with one inline policy and an access key: (access key id, secret).
    /// Sent as raw IAM query requests (moto does not check the signature while IAM is not enforced).
    pub fn iam_user(&self, name: &str, policy: &serde_json::Value) -> (String, String) {
        let policy = policy.to_string();
        self.iam(&[("Action", "CreateUser"), ("UserName", name)]);
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "remediation"),
            ("PolicyDocument", &policy),
        ]);
        let created = self.iam(&[("Action", "CreateAccessKey"), ("UserName", name)]);
        let field = |tag: &str| {
            created
                .split_once(&format!("<{tag}>"))
                .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
                .map(|(value, _)| value.to_string())
                .unwrap_or_else(|| panic!("no {tag} in {created}"))
        };
        (field("AccessKeyId"), field("SecretAccessKey"))
    }

    fn iam(&self, params: &[(&str, &str)]) -> String {
        let mut form: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        form.push("Version=2010-05-08".into());
        let body = form.join("&");
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("moto");
        write!(
            stream,
            "POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("iam request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("iam response");
        assert!(
            response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
            "{params:?}: {response}"
        );
        response
    }

    /// Like [`MotoServer::recorded_calls`], with each call's query-protocol parameters
    /// (`InstanceId.1`, `GroupId`, ...; empty for REST calls).
    pub fn recorded_requests(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.api("POST", "/moto-api/recorder/stop-recording", "");
        let (_, log) = self.api("GET", "/moto-api/recorder/download-recording", "");
        log.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|entry| {
                let params = request_body(&entry)
                    .split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(k, v)| (percent_decode(k), percent_decode(v)))
                    .collect();
                (operation_name(&entry), params)
            })
            .collect()
    }

    /// Sends a raw request to moto's own API (`/moto-api/...`).
    pub fn api(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        http(self.port, method, path, body).expect("moto api")
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static POOL: Mutex<Vec<MotoServer>> = Mutex::new(Vec::new());

/// A server checked out of the pool for one test; freshly reset, returned to the pool on drop.
/// The pool's servers exit when the test process does (the launcher watches its parent).
pub struct Moto {
    server: Option<MotoServer>,
}

impl Moto {
    pub fn checkout() -> Moto {
        let pooled = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let server = match pooled {
            Some(server) => {
                server.reset();
                server
            }
            None => MotoServer::start(),
        };
        Moto {
            server: Some(server),
        }
    }

    /// A server of its own, outside the pool (for `local-invoke`).
    pub fn dedicated() -> MotoServer {
        MotoServer::start()
    }

    pub fn endpoint(&self) -> String {
        self.server().endpoint()
    }

    pub fn server(&self) -> &MotoServer {
        self.server.as_ref().expect("checked out")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            if !std::thread::panicking() {
                POOL.lock().unwrap_or_else(|e| e.into_inner()).push(server);
            }
        }
    }
}

/// The venv's Python: `MOTO_PYTHON`, or `.venv/bin/python` at the repository root.
pub fn python() -> PathBuf {
    std::env::var_os("MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A minimal HTTP/1.0 request to 127.0.0.1 (readiness checks and moto's own API).
pub fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A recorded request's body, as text.
fn request_body(entry: &serde_json::Value) -> String {
    let body = entry["body"].as_str().unwrap_or("");
    if entry["body_encoded"] == true {
        aws_smithy_types::base64::decode(body)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_default()
    } else {
        body.to_string()
    }
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The operation of one recorded request: the query protocol's `Action`, the JSON protocol's
/// `X-Amz-Target`, or the method and path of a REST call.
fn operation_name(entry: &serde_json::Value) -> String {
    let body = request_body(entry);
    let url = entry["url"].as_str().unwrap_or("");
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let action = body
        .split('&')
        .chain(query.split('&'))
        .find_map(|pair| pair.strip_prefix("Action="));
    if let Some(action) = action {
        return action.to_string();
    }
    let headers = &entry["headers"];
    let target = headers
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
        })
        .and_then(|(_, v)| v.as_str());
    if let Some(target) = target {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url);
    format!("S3 {} {path}", entry["method"].as_str().unwrap_or("?"))
}
