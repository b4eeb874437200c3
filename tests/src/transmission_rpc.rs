//! Talking Transmission's RPC to whoever serves it (a ccbt daemon or a real
//! transmission-daemon): a small client that does the 409 session-id handshake,
//! and the real `transmission-remote` run to its end with a time limit.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::clients::http;

/// How long one RPC call or one transmission-remote run may take.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// A classic-envelope RPC client for `http://ADDR/transmission/rpc`.
pub struct RpcClient {
    addr: SocketAddr,
    session_id: Mutex<String>,
    /// `Authorization` header value, when credentials are needed.
    auth: Option<String>,
}

impl RpcClient {
    pub fn new(addr: SocketAddr) -> RpcClient {
        RpcClient {
            addr,
            session_id: Mutex::new(String::new()),
            auth: None,
        }
    }

    /// Sends `body` as is (after the handshake); returns the whole JSON answer.
    pub fn raw(&self, body: &Value) -> Result<Value, String> {
        let text = body.to_string();
        for _ in 0..3 {
            let sid = self.session_id.lock().map(|s| s.clone()).unwrap_or_default();
            let mut headers = vec![
                ("X-Transmission-Session-Id", sid.as_str()),
                ("Content-Type", "application/json"),
            ];
            if let Some(auth) = &self.auth {
                headers.push(("Authorization", auth.as_str()));
            }
            let resp = http::request(
                self.addr,
                "POST",
                "/transmission/rpc",
                &headers,
                text.as_bytes(),
                RPC_TIMEOUT,
            )?;
            if resp.status == 409 {
                let new = resp
                    .header("X-Transmission-Session-Id")
                    .ok_or("409 without a session id")?;
                if let Ok(mut s) = self.session_id.lock() {
                    *s = new;
                }
                continue;
            }
            if resp.status != 200 {
                return Err(format!("HTTP {}: {}", resp.status, resp.text()));
            }
            return resp.json();
        }
        Err("the session id kept changing".into())
    }

    /// Calls `method`; returns `arguments`, or the `result` text when it is not
    /// "success".
    pub fn try_call(&self, method: &str, arguments: Value) -> Result<Value, String> {
        let v = self.raw(&json!({"method": method, "arguments": arguments}))?;
        if v["result"] != "success" {
            return Err(format!("{method}: {v}"));
        }
        Ok(v["arguments"].clone())
    }

    pub fn call(&self, method: &str, arguments: Value) -> Value {
        self.try_call(method, arguments)
            .unwrap_or_else(|e| panic!("RPC {method} on {}: {e}", self.addr))
    }
}

/// What one `transmission-remote` run printed.
#[derive(Debug)]
pub struct RemoteRun {
    pub args: Vec<String>,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl RemoteRun {
    /// Asserts exit 0 and returns stdout.
    pub fn ok(&self) -> &str {
        assert!(
            self.success,
            "transmission-remote {:?} failed:\n{}\n{}",
            self.args, self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts the run reported `responded: "success"`.
    pub fn responded_success(&self) {
        assert!(
            self.ok().contains("responded: \"success\""),
            "transmission-remote {:?}: {}",
            self.args,
            self.stdout
        );
    }
}

/// Runs `transmission-remote 127.0.0.1:PORT <args>` to its end (killed by pid after
/// [`RPC_TIMEOUT`]), with `home` as its HOME so no user config is read.
pub fn transmission_remote(port: u16, home: &Path, args: &[&str]) -> RemoteRun {
    let mut all = vec![format!("127.0.0.1:{port}")];
    all.extend(args.iter().map(|s| s.to_string()));
    let mut child = Command::new("transmission-remote")
        .args(&all)
        .env("HOME", home)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run transmission-remote (Debian transmission-cli)");
    let deadline = Instant::now() + RPC_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    let out = child.wait_with_output().expect("transmission-remote output");
    RemoteRun {
        args: all,
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
