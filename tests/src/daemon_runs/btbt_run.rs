//! One `btbt` command run to its end (bounded): exit code, stdout, stderr.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a client command may take; they only talk to a local daemon.
pub const BTBT_TIMEOUT: Duration = Duration::from_secs(60);

/// The outcome of one `btbt` run.
#[derive(Clone, Debug)]
pub struct BtbtRun {
    /// The command line, for failure messages.
    pub args: Vec<String>,
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl BtbtRun {
    /// Asserts exit 0; returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            0,
            "btbt {} exited {}; stdout:\n{}\nstderr:\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts exit 0 and parses stdout as one JSON value.
    pub fn json(&self) -> Value {
        let out = self.ok();
        serde_json::from_str(out.trim()).unwrap_or_else(|e| {
            panic!(
                "btbt {}: stdout is not one JSON value ({e}):\n{out}",
                self.args.join(" ")
            )
        })
    }

    /// Asserts exit code `code`; returns stderr.
    pub fn expect_code(&self, code: i32) -> &str {
        assert_eq!(
            self.code,
            code,
            "btbt {} should exit {code}; exited {}; stdout:\n{}\nstderr:\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        );
        &self.stderr
    }
}

/// Runs `program args` in `cwd` with `env`, stdout and stderr into anonymous files
/// (so a daemon it leaves behind holding them cannot block the test), for at most
/// `timeout`; a run over time is killed (by pid) and fails the test.
pub fn run_to_end(program: &Path, args: &[String], env: &[(String, String)], cwd: &Path, timeout: Duration) -> BtbtRun {
    let mut out = tempfile::tempfile().expect("temp file for stdout");
    let mut err = tempfile::tempfile().expect("temp file for stderr");
    let mut child = Command::new(program)
        .args(args)
        .env_remove("CCBT_API")
        .env_remove("CCBT_API_TOKEN")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().expect("clone stdout file")))
        .stderr(Stdio::from(err.try_clone().expect("clone stderr file")))
        .spawn()
        .unwrap_or_else(|e| panic!("start {} {}: {e}", program.display(), args.join(" ")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for btbt") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {} did not end within {timeout:?}; stderr:\n{}",
                program.display(),
                args.join(" "),
                read_all(&mut err)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    BtbtRun {
        args: args.to_vec(),
        code: status.code().unwrap_or(-1),
        stdout: read_all(&mut out),
        stderr: read_all(&mut err),
    }
}

fn read_all(file: &mut std::fs::File) -> String {
    let mut s = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut s);
    s
}
