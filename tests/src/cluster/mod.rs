//! A real local Redis Cluster on free loopback ports, stopped when dropped.
//!
//! [`RedisCluster::start`] runs 3 primaries and 3 replicas, each its own `redis-server` process
//! in its own temporary directory, with the client port and the cluster bus port picked at run
//! time (`--cluster-port`, so the bus is not `port + 10000`). It returns only once the cluster has
//! settled: every node reports `cluster_state:ok`, every node's `CLUSTER NODES` shows the same
//! roles and slots (every slot covered once), and every replica's link to its primary is up.
//! Nodes reach `cluster_state:ok` at different times, so asking one node is not enough.
//!
//! The cluster is built by hand (`CLUSTER ADDSLOTSRANGE`, `SET-CONFIG-EPOCH`, `MEET` between
//! every pair, `REPLICATE`) rather than with `redis-cli --cluster create`: the result is the
//! same, it works for 1 or 2 primaries (which `redis-cli` refuses), and it has no fixed sleeps.
//! A primary cannot report `ok` before 2 s after it started (Redis's `CLUSTER_WRITABLE_DELAY`),
//! so a start takes a little over 2 s whatever the harness does.
//!
//! Faults for tests: [`kill`](RedisCluster::kill) (SIGKILL) then
//! [`wait_failover`](RedisCluster::wait_failover); a coordinated
//! [`failover`](RedisCluster::failover) (`CLUSTER FAILOVER` on a replica, waited for until every
//! node has seen the new epoch); [`stop`](RedisCluster::stop) /
//! [`resume`](RedisCluster::resume) (SIGSTOP / SIGCONT) and [`pause`](RedisCluster::pause)
//! (`CLIENT PAUSE`) for a node that keeps its connections open but does not answer; and a slot
//! migration in three steps, so that a test sees `ASK` between the first and the last step and
//! `MOVED` after it.
//!
//! A TLS cluster ([`ClusterOptions::tls`]) serves TLS only, cluster bus and replication
//! included, with a CA made for it; ACL users ([`ClusterOptions::users`]) lock the default user
//! behind a password only the harness knows.
//!
//! The harness talks to the nodes with its own few lines of RESP (over rustls for a TLS
//! cluster; and [`RedisCluster::cli`] runs `redis-cli`), never with the code under test. It prints nothing unless it fails; on a timeout
//! it panics with the end of every node's log.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::scratch_dir;

/// The number of hash slots in a Redis Cluster.
const SLOTS: u32 = 16384;
/// How often the harness polls the nodes while it waits.
const POLL: Duration = Duration::from_millis(50);
/// How long a start, a failover or a migration may take before the harness gives up.
const PATIENCE: Duration = Duration::from_secs(30);

/// The shape of a [`RedisCluster`] for [`RedisCluster::with`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Primaries (at least 1); the slots are split evenly between them.
    pub primaries: usize,
    /// Replicas of each primary.
    pub replicas: usize,
    /// `cluster-node-timeout`: how long a node may be silent before it is failed over. A
    /// failover takes a little more than this.
    pub node_timeout: Duration,
    /// Further `--option value` pairs for every node.
    pub extra: Vec<String>,
    /// Serve TLS only: `port 0`, a TLS client port, `tls-cluster yes` (the cluster bus and the
    /// ports the cluster announces) and `tls-replication yes`, with a CA made for the cluster
    /// ([`RedisCluster::ca_file`]) and a certificate for 127.0.0.1 and `localhost`.
    pub tls: bool,
    /// ACL users `(name, password)`, allowed everything. When any is given, the default user
    /// needs a password only the harness knows, so that a connection that does not
    /// authenticate as one of them is refused.
    pub users: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    /// 3 primaries, 1 replica each, a node timeout of 5 s.
    fn default() -> Self {
        Self {
            primaries: 3,
            replicas: 1,
            node_timeout: Duration::from_secs(5),
            extra: Vec::new(),
            tls: false,
            users: Vec::new(),
        }
    }
}

/// A running Redis Cluster of `redis-server` child processes.
///
/// Nodes are named by their client port. Every method panics (with the nodes' log tails where
/// that helps) when the cluster does not do what it was asked: these are test failures.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
    /// Replicas of each primary as last seen, so that a failover can be followed after the
    /// primary is gone.
    replicas_of: HashMap<u16, Vec<u16>>,
    /// One connection per node, kept between polls: a fresh one per command would leave
    /// thousands of sockets in TIME_WAIT during a failover.
    conns: Mutex<HashMap<u16, BufReader<Stream>>>,
    /// How the harness reaches the nodes (TLS, password).
    access: Access,
}

impl RedisCluster {
    /// 3 primaries and 3 replicas (one each), settled.
    pub fn start() -> Self {
        Self::with(ClusterOptions::default())
    }

    /// `n` primaries and no replica, settled: faster to reason about, for tests that need no
    /// failover.
    pub fn start_primaries(n: usize) -> Self {
        Self::with(ClusterOptions {
            primaries: n,
            replicas: 0,
            ..ClusterOptions::default()
        })
    }

    /// A cluster shaped by `opts`, settled.
    pub fn with(opts: ClusterOptions) -> Self {
        assert!(opts.primaries >= 1, "a cluster needs at least one primary");
        let count = opts.primaries * (1 + opts.replicas);
        let dir = scratch_dir();
        let mut access = Access::default();
        if opts.tls {
            // EC keys: made in milliseconds, where RSA ones take a good part of a second.
            crate::make_certificates(&dir, &["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]);
            access = Access::tls(&dir.join("ca.crt"));
        }
        if !opts.users.is_empty() {
            access.password = Some(format!("harness-{}", std::process::id()));
        }
        let mut cluster = Self {
            nodes: Vec::with_capacity(count),
            dir,
            replicas_of: HashMap::new(),
            conns: Mutex::default(),
            access,
        };
        // Every port at once, so that no two nodes are given the same one.
        let mut ports = free_ports(2 * count).into_iter();
        for i in 0..count {
            let node_dir = cluster.dir.join(format!("node-{i}"));
            std::fs::create_dir_all(&node_dir).expect("cannot create a node directory");
            let (port, bus) = (ports.next(), ports.next());
            let node = spawn_node(
                &node_dir,
                port.expect("enough ports"),
                bus.expect("enough ports"),
                &opts,
                &settings(&cluster.dir, &opts, &cluster.access),
                &cluster.access,
            );
            cluster.nodes.push(node);
        }
        let deadline = Instant::now() + PATIENCE;
        for i in 0..count {
            let port = cluster.nodes[i].port;
            cluster.nodes[i].id = match cluster.call(port, &["CLUSTER", "MYID"]) {
                Ok(Resp::Bulk(id)) => String::from_utf8_lossy(&id).into_owned(),
                other => panic!("CLUSTER MYID on {port}: {other:?}"),
            };
        }
        cluster.form(&opts, deadline);
        cluster.wait_until("the cluster to settle", deadline, |c| {
            let view = c.settled()?;
            let replicas = view.iter().filter(|n| !n.primary).count();
            if replicas == opts.primaries * opts.replicas {
                Ok(())
            } else {
                Err(format!("{replicas} replicas in the view"))
            }
        });
        cluster.remember_replicas();
        cluster
    }

    /// Assigns the slots and epochs, introduces every node to every other, then attaches the
    /// replicas.
    fn form(&mut self, opts: &ClusterOptions, deadline: Instant) {
        let n = opts.primaries as u32;
        for (i, node) in self.nodes.iter().enumerate() {
            let i = i as u32;
            if i < n {
                let (lo, hi) = (i * SLOTS / n, (i + 1) * SLOTS / n - 1);
                self.ok(
                    node.port,
                    &["CLUSTER", "ADDSLOTSRANGE", &lo.to_string(), &hi.to_string()],
                );
            }
            // Distinct epochs from the start spare the nodes a round of collision handling.
            self.ok(
                node.port,
                &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()],
            );
        }
        // MEET between every pair: through gossip alone, nodes learn of each other only after
        // a few seconds.
        for (i, a) in self.nodes.iter().enumerate() {
            for b in &self.nodes[i + 1..] {
                let (port, bus) = (b.port.to_string(), b.bus.to_string());
                self.ok(a.port, &["CLUSTER", "MEET", "127.0.0.1", &port, &bus]);
            }
        }
        let total = self.nodes.len();
        self.wait_until("every node to know every other", deadline, |c| {
            for node in &c.nodes {
                let view = c.view_of(node.port)?;
                if view.len() != total || view.iter().any(|n| n.handshake) {
                    return Err(format!("{} knows {} nodes", node.port, view.len()));
                }
            }
            Ok(())
        });
        for (i, node) in self.nodes.iter().enumerate().skip(opts.primaries) {
            let primary = &self.nodes[i % opts.primaries];
            self.ok(node.port, &["CLUSTER", "REPLICATE", &primary.id]);
        }
    }

    /// `redis://127.0.0.1:<port>` of every node not killed; for a TLS cluster,
    /// `rediss://127.0.0.1:<port>?tls_ca=<the cluster's CA>`.
    pub fn seeds(&self) -> Vec<String> {
        self.running().map(|n| self.url(n.port, None)).collect()
    }

    /// The URL of node `port`, as [`seeds`](Self::seeds) gives it, with `user`'s name and
    /// password in it when given.
    pub fn url(&self, port: u16, user: Option<(&str, &str)>) -> String {
        let user = user.map_or(String::new(), |(name, pw)| format!("{name}:{pw}@"));
        match self.ca_file() {
            Some(ca) => format!("rediss://{user}127.0.0.1:{port}?tls_ca={}", ca.display()),
            None => format!("redis://{user}127.0.0.1:{port}"),
        }
    }

    /// A registry whose default name is this cluster, seeded with every node's URL followed by
    /// `query` (`""`, or `"?timeout=5000"`): the code under test's way in, for the tests.
    pub fn registry(&self, query: &str) -> redpipe::Connections {
        let seeds: Vec<String> = self.seeds().iter().map(|s| format!("{s}{query}")).collect();
        let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
        let r = redpipe::Connections::new();
        r.register(redpipe::DEFAULT, &seeds[..])
            .expect("the cluster's seeds are refused");
        r
    }

    /// The PEM file of the CA that signed a TLS cluster's certificate; `None` without TLS.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.access.tls.as_ref().map(|_| self.dir.join("ca.crt"))
    }

    /// Client ports of every node not killed, in start order.
    pub fn ports(&self) -> Vec<u16> {
        self.running().map(|n| n.port).collect()
    }

    /// Ports of the primaries, as the cluster sees them now (not counting killed nodes), in
    /// start order.
    pub fn primaries(&self) -> Vec<u16> {
        self.with_role(true)
    }

    /// Ports of the replicas, as the cluster sees them now (not counting killed nodes), in start
    /// order.
    pub fn replicas(&self) -> Vec<u16> {
        self.with_role(false)
    }

    fn with_role(&self, primary: bool) -> Vec<u16> {
        let view = self.any_view();
        self.running()
            .filter(|n| {
                view.iter()
                    .any(|v| v.port == n.port && v.primary == primary)
            })
            .map(|n| n.port)
            .collect()
    }

    /// The hash slot of `key`, as Redis computes it (`CLUSTER KEYSLOT`).
    pub fn slot_of(&self, key: &str) -> u16 {
        let port = self.answering().next().expect("no node answers");
        match self.call(port, &["CLUSTER", "KEYSLOT", key]) {
            Ok(Resp::Int(slot)) => slot as u16,
            other => panic!("CLUSTER KEYSLOT {key}: {other:?}"),
        }
    }

    /// The port of the primary that owns `slot` now, from `CLUSTER NODES` on a node that
    /// answers (all nodes agree once a failover or migration has been waited for).
    pub fn port_of_slot(&self, slot: u16) -> u16 {
        self.any_view()
            .iter()
            .find(|n| n.primary && !n.failed && n.owns(slot))
            .map(|n| n.port)
            .unwrap_or_else(|| {
                panic!("no live primary owns slot {slot} (after a kill, wait_failover first)")
            })
    }

    /// Runs `redis-cli -p <port> <args>` and returns its trimmed output (for checks independent
    /// of the code under test). Options go first: `cli(p, &["-c", "GET", "k"])` follows
    /// redirections.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let mut cli = Command::new("redis-cli");
        cli.args(["-p", &port.to_string()]);
        if let Some(ca) = self.ca_file() {
            cli.arg("--tls").arg("--cacert").arg(ca);
        }
        if let Some(pw) = &self.access.password {
            cli.args(["--no-auth-warning", "-a", pw]);
        }
        let out = cli.args(args).output().expect("cannot run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Kills node `port` at once (SIGKILL), as a crash would.
    pub fn kill(&mut self, port: u16) {
        self.remember_replicas();
        let node = self.node_mut(port);
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.forget(port);
    }

    /// Stops node `port` (SIGSTOP): it keeps its connections but answers nothing, on the
    /// cluster bus neither, so past the node timeout the cluster fails it over.
    pub fn stop(&mut self, port: u16) {
        self.remember_replicas();
        self.signal(port, "STOP");
        self.node_mut(port).stopped = true;
    }

    /// Lets a node stopped by [`stop`](Self::stop) run again (SIGCONT).
    pub fn resume(&mut self, port: u16) {
        self.signal(port, "CONT");
        self.node_mut(port).stopped = false;
    }

    /// Makes node `port` hold every client command for `ms` milliseconds (`CLIENT PAUSE`); the
    /// cluster bus keeps running, so this causes no failover.
    pub fn pause(&mut self, port: u16, ms: u64) {
        self.ok(port, &["CLIENT", "PAUSE", &ms.to_string()]);
        self.node_mut(port).paused_until = Some(Instant::now() + Duration::from_millis(ms));
    }

    /// Cuts replica `port` off its primary for good (a wrong `masterauth`, then its link
    /// killed): it keeps the data it has and answers reads of it, but sees no later write. For
    /// tests that must tell a replica's answer from its primary's. Waits until the link is
    /// down.
    pub fn detach_replica(&self, port: u16) {
        self.ok(port, &["CONFIG", "SET", "masterauth", "not-the-password"]);
        match self.call(port, &["CLIENT", "KILL", "TYPE", "master"]) {
            Ok(Resp::Int(_)) => {}
            other => panic!("CLIENT KILL TYPE master on {port}: {other:?}"),
        }
        self.wait_until(
            &format!("replica {port} to lose its primary"),
            Instant::now() + PATIENCE,
            |c| match c.call(port, &["INFO", "replication"]) {
                Ok(Resp::Bulk(info)) if contains(&info, "master_link_status:down") => Ok(()),
                other => Err(format!("INFO replication: {other:?}")),
            },
        );
    }

    /// `GET key` on node `port`, on the harness's connection to it (no `redis-cli` process per
    /// key, for checks of many keys). Panics on an error reply (`MOVED` too).
    pub fn get(&self, port: u16, key: &str) -> Option<String> {
        match self.call(port, &["GET", key]) {
            Ok(Resp::Bulk(v)) => Some(String::from_utf8_lossy(&v).into_owned()),
            Ok(Resp::Nil) => None,
            other => panic!("GET {key} on {port}: {other:?}"),
        }
    }

    /// Waits until a replica of `old_primary` (killed or stopped) has been promoted and the
    /// cluster has settled again: every node that answers reports `cluster_state:ok` and all
    /// agree on the slots. Returns the new primary's port.
    pub fn wait_failover(&mut self, old_primary: u16) -> u16 {
        let candidates = self
            .replicas_of
            .get(&old_primary)
            .cloned()
            .unwrap_or_default();
        assert!(
            !candidates.is_empty(),
            "{old_primary} had no replica to promote"
        );
        let promoted = self.wait_until(
            &format!("a replica of {old_primary} to take over"),
            Instant::now() + PATIENCE,
            |c| {
                let view = c.settled()?;
                if view
                    .iter()
                    .any(|n| n.port == old_primary && n.primary && !n.slots.is_empty())
                {
                    return Err(format!("{old_primary} still owns slots"));
                }
                view.iter()
                    .find(|n| n.primary && candidates.contains(&n.port) && !n.slots.is_empty())
                    .map(|n| n.port)
                    .ok_or_else(|| "no replica promoted yet".to_string())
            },
        );
        self.remember_replicas();
        promoted
    }

    /// Waits until the cluster has settled: every node that answers reports `cluster_state:ok`,
    /// all agree on roles and slots, the live primaries cover every slot, and every replica's
    /// link is up. For after [`resume`](Self::resume), when a failed-over node rejoins as a
    /// replica.
    pub fn wait_settled(&mut self) {
        self.wait_until(
            "the cluster to settle",
            Instant::now() + PATIENCE,
            Self::settled,
        );
        self.remember_replicas();
    }

    // ----- internals -----

    fn node(&self, port: u16) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
    }

    fn node_mut(&mut self, port: u16) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
    }

    fn running(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.child.is_some())
    }

    fn answering(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes.iter().filter(|n| n.answers()).map(|n| n.port)
    }

    fn signal(&self, port: u16, signal: &str) {
        let pid = self
            .node(port)
            .child
            .as_ref()
            .unwrap_or_else(|| panic!("node {port} was killed"))
            .id();
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {pid} (node {port}) failed");
    }

    /// Sends one command to node `port` on the harness's connection to it and reads the reply.
    /// An error reply is `Ok(Resp::Error)`; `Err` is an I/O or protocol failure, after which
    /// the connection is dropped.
    fn call(&self, port: u16, args: &[impl AsRef<[u8]>]) -> Result<Resp, String> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let conn = match conns.entry(port) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(connect(port, &self.access)?),
        };
        let reply = command(conn, args).map_err(|e| format!("{port}: {e}"));
        if reply.is_err() {
            conns.remove(&port);
        }
        reply
    }

    /// Drops the connection to `port`.
    fn forget(&self, port: u16) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.remove(&port);
    }

    /// Runs a command that must answer `+OK`.
    fn ok(&self, port: u16, args: &[&str]) {
        match self.call(port, args) {
            Ok(Resp::Simple(s)) if s == "OK" => {}
            other => panic!("{args:?} on {port}: {other:?}"),
        }
    }

    /// `CLUSTER NODES` of `port`, parsed.
    fn view_of(&self, port: u16) -> Result<Vec<NodeView>, String> {
        match self.call(port, &["CLUSTER", "NODES"]) {
            Ok(Resp::Bulk(text)) => Ok(parse_nodes(&String::from_utf8_lossy(&text))),
            other => Err(format!("CLUSTER NODES on {port}: {other:?}")),
        }
    }

    /// The view of the first node that answers.
    fn any_view(&self) -> Vec<NodeView> {
        for port in self.answering() {
            if let Ok(view) = self.view_of(port) {
                return view;
            }
        }
        panic!("no node answers CLUSTER NODES")
    }

    /// Whether the cluster has settled: every node that answers reports `cluster_state:ok`, all
    /// have the same view (roles, failed nodes, slots, no handshake under way), the live
    /// primaries cover every slot once, and every replica's link to its primary is up. Returns
    /// that view, or what is not settled yet.
    fn settled(&self) -> Result<Vec<NodeView>, String> {
        let mut agreed: Option<Vec<NodeView>> = None;
        for port in self.answering() {
            match self.call(port, &["CLUSTER", "INFO"]) {
                Ok(Resp::Bulk(info)) if contains(&info, "cluster_state:ok") => {}
                Ok(Resp::Bulk(_)) => return Err(format!("{port}: cluster_state is not ok")),
                other => return Err(format!("CLUSTER INFO on {port}: {other:?}")),
            }
            match self.call(port, &["ROLE"]) {
                Ok(Resp::Array(role)) => match role.first() {
                    Some(Resp::Bulk(r)) if r == b"master" => {}
                    Some(Resp::Bulk(r)) if r == b"slave" => {
                        if role.get(3) != Some(&Resp::Bulk(b"connected".to_vec())) {
                            return Err(format!("replica {port}: {role:?}"));
                        }
                    }
                    _ => return Err(format!("ROLE on {port}: {role:?}")),
                },
                other => return Err(format!("ROLE on {port}: {other:?}")),
            }
            let mut view = self.view_of(port)?;
            if let Some(n) = view.iter().find(|n| n.handshake) {
                return Err(format!("{port} is in a handshake with {}", n.port));
            }
            for n in &mut view {
                n.handshake = false;
            }
            match &agreed {
                None => {
                    check_coverage(&view).map_err(|e| format!("{port}: {e}"))?;
                    agreed = Some(view);
                }
                Some(first) if *first != view => {
                    let mine: Vec<_> = view.iter().filter(|n| !first.contains(n)).collect();
                    let theirs: Vec<_> = first.iter().filter(|n| !view.contains(n)).collect();
                    return Err(format!(
                        "{port} sees {mine:?} where another sees {theirs:?}"
                    ));
                }
                Some(_) => {}
            }
        }
        agreed.ok_or_else(|| "no node answers".to_string())
    }

    /// Notes the replicas of every primary, for [`wait_failover`](Self::wait_failover).
    fn remember_replicas(&mut self) {
        let view = self.any_view();
        for p in view.iter().filter(|n| n.primary && !n.failed) {
            let replicas = view
                .iter()
                .filter(|r| r.primary_port == Some(p.port) && !r.failed)
                .map(|r| r.port)
                .collect();
            self.replicas_of.insert(p.port, replicas);
        }
    }

    /// Calls `check` every [`POLL`] until it gives `Ok`; past `deadline`, panics with its last
    /// error and the end of every node's log.
    fn wait_until<T>(
        &self,
        what: &str,
        deadline: Instant,
        mut check: impl FnMut(&Self) -> Result<T, String>,
    ) -> T {
        loop {
            let last = match check(self) {
                Ok(t) => return t,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!(
                    "timed out waiting for {what}: {last}\n{}",
                    self.log_tails(20)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// The last `lines` lines of every node's log.
    fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let log = std::fs::read_to_string(node.dir.join("redis.log")).unwrap_or_default();
            let all: Vec<&str> = log.lines().collect();
            out += &format!("--- node {} ({}) ---\n", node.port, node.dir.display());
            for line in &all[all.len().saturating_sub(lines)..] {
                out += line;
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                // SIGKILL ends a stopped process too.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

mod failover;
mod migrate;
mod node;
mod view;
mod wire;

use node::{Node, free_ports, settings, spawn_node};
use view::{NodeView, check_coverage, parse_nodes};
use wire::{Access, Resp, Stream, command, connect, contains};
