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
            let child = Command::new(&python)
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
