//! A throwaway Redis Cluster for `cargo xtask bench`: `n` primaries, no replica, on free
//! loopback ports, each `redis-server --cluster-enabled yes` in its own temporary directory;
//! stopped (by the PIDs this module started) on drop.
//!
//! The minimal part of `tests/src/cluster.rs` (the test harness, which `bench/` and `xtask/`
//! must not depend on): slots split evenly with `CLUSTER ADDSLOTSRANGE`, distinct epochs,
//! `CLUSTER MEET` between every pair, then a wait until every node reports `cluster_state:ok`,
//! knows every node and sees every slot assigned. The commands go through `redis-cli` (installed
//! with `redis-benchmark`), so xtask stays free of dependencies.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SLOTS: u32 = 16384;

pub(crate) struct Cluster {
    nodes: Vec<(u16, Child)>,
    dir: PathBuf,
}

impl Cluster {
    /// `primaries` nodes sharing the slots, settled (every node `cluster_state:ok`).
    pub(crate) fn start(primaries: usize) -> Result<Self, String> {
        // Every port at once (client and bus port per node), so no two nodes get the same one.
        let listeners = (0..2 * primaries)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("no free port: {e}"))?;
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        drop(listeners);
        let dir =
            std::env::temp_dir().join(format!("redpipe-xtask-cluster-{}", std::process::id()));
        let mut cluster = Self {
            nodes: Vec::new(),
            dir,
        };
        for i in 0..primaries {
            let (port, bus) = (ports[2 * i], ports[2 * i + 1]);
            let node_dir = cluster.dir.join(format!("node-{i}"));
            std::fs::create_dir_all(&node_dir).map_err(|e| e.to_string())?;
            #[rustfmt::skip]
            let child = Command::new("redis-server")
                .args([
                    "--port", &port.to_string(), "--cluster-port", &bus.to_string(),
                    "--bind", "127.0.0.1", "--protected-mode", "no", "--daemonize", "no",
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--save", "", "--appendonly", "no",
                ])
                .arg("--dir")
                .arg(&node_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start redis-server: {e}"))?;
            cluster.nodes.push((port, child));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for &(port, _) in &cluster.nodes {
            wait(deadline, || {
                cli(port, &["PING"]).is_some_and(|r| r == "PONG")
            })
            .map_err(|()| format!("cluster node {port} did not answer PING"))?;
        }
        let n = primaries as u32;
        for (i, &(port, _)) in cluster.nodes.iter().enumerate() {
            let i = i as u32;
            let (lo, hi) = (i * SLOTS / n, (i + 1) * SLOTS / n - 1);
            ok(
                port,
                &["CLUSTER", "ADDSLOTSRANGE", &lo.to_string(), &hi.to_string()],
            )?;
            ok(port, &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()])?;
        }
        for (i, &(a, _)) in cluster.nodes.iter().enumerate() {
            for j in i + 1..primaries {
                let (port, bus) = (ports[2 * j].to_string(), ports[2 * j + 1].to_string());
                ok(a, &["CLUSTER", "MEET", "127.0.0.1", &port, &bus])?;
            }
        }
        let known = format!("cluster_known_nodes:{primaries}");
        for &(port, _) in &cluster.nodes {
            wait(deadline, || {
                cli(port, &["CLUSTER", "INFO"]).is_some_and(|info| {
                    info.contains("cluster_state:ok")
                        && info.contains(&known)
                        && info.contains("cluster_slots_ok:16384")
                })
            })
            .map_err(|()| format!("cluster node {port} did not reach cluster_state:ok"))?;
        }
        Ok(cluster)
    }

    /// `redis://127.0.0.1:PORT` of every node, comma-separated.
    pub(crate) fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|(port, _)| format!("redis://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `redis-cli -p PORT ARGS...`, trimmed output; `None` when it fails.
fn cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn ok(port: u16, args: &[&str]) -> Result<(), String> {
    match cli(port, args) {
        Some(r) if r == "OK" => Ok(()),
        other => Err(format!("{} on {port}: {other:?}", args.join(" "))),
    }
}

/// Polls `ready` every 50 ms until it holds, or `Err` past `deadline`.
fn wait(deadline: Instant, mut ready: impl FnMut() -> bool) -> Result<(), ()> {
    while !ready() {
        if Instant::now() >= deadline {
            return Err(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
