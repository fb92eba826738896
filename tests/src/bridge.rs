//! A `redpipe-bridge` child process on a free loopback port, stopped (by PID) when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running bridge.
#[derive(Debug)]
pub struct Bridge {
    child: Option<Child>,
    port: u16,
}

impl Bridge {
    /// Starts the bridge binary `bin` in front of `redis_url` with the token `token` on a free
    /// loopback port, with `extra` options (`--max-frame`, `--origin`, ...).
    pub fn start(bin: &Path, redis_url: &str, token: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(bin)
            .args(["--redis", redis_url, "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("REDPIPE_BRIDGE_TOKEN", token)
            .env("REDPIPE_BRIDGE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot run redpipe-bridge");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.rsplit(':').next())
            .and_then(|p| p.parse().ok());
        match (read, port) {
            (Ok(_), Some(port)) => Self {
                child: Some(child),
                port,
            },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redpipe-bridge did not start (printed {line:?})");
            }
        }
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A line of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
    pub fn memory_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Sends SIGTERM and waits (up to `limit`) for the process to exit; its exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
