//! One `redis-server` process of the cluster: its ports, directory and state.

use super::*;

#[derive(Debug)]
pub(super) struct Node {
    pub(super) port: u16,
    /// Cluster bus port.
    pub(super) bus: u16,
    pub(super) dir: PathBuf,
    pub(super) child: Option<Child>,
    /// `CLUSTER MYID`.
    pub(super) id: String,
    /// Sent SIGSTOP and not yet SIGCONT.
    pub(super) stopped: bool,
    /// Under `CLIENT PAUSE` until then.
    pub(super) paused_until: Option<Instant>,
}

impl Node {
    /// Whether the harness may expect an answer from the node now.
    pub(super) fn answers(&self) -> bool {
        self.child.is_some()
            && !self.stopped
            && self.paused_until.is_none_or(|t| Instant::now() >= t)
    }
}

/// `count` distinct free loopback ports, all bound at once while they are chosen.
pub(super) fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("no free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect()
}

/// Starts one node in `dir` and waits until it answers `PING`. A port can be taken between
/// choosing and binding it: then it tries fresh ports.
pub(super) fn spawn_node(dir: &Path, mut port: u16, mut bus: u16, opts: &ClusterOptions) -> Node {
    for _ in 0..5 {
        let (p, b, timeout) = (
            port.to_string(),
            bus.to_string(),
            opts.node_timeout.as_millis().to_string(),
        );
        #[rustfmt::skip]
        let args = [
            "--port", &p, "--cluster-port", &b, "--bind", "127.0.0.1",
            "--protected-mode", "no", "--daemonize", "no",
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", &timeout, "--repl-diskless-sync-delay", "0",
            "--save", "", "--appendonly", "no",
        ];
        let child = Command::new("redis-server")
            .args(args)
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .args(&opts.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run redis-server: is it installed? (`cargo xtask test` installs it)");
        let mut node = Node {
            port,
            bus,
            dir: dir.to_path_buf(),
            child: Some(child),
            id: String::new(),
            stopped: false,
            paused_until: None,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = &mut node.child
                && let Ok(Some(_)) = child.try_wait()
            {
                node.child = None;
                break;
            }
            let pong = connect(port).and_then(|mut c| command(&mut c, &["PING"]));
            if matches!(pong, Ok(Resp::Simple(s)) if s == "PONG") {
                return node;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Fresh node files for the next try.
        let _ = std::fs::remove_file(dir.join("nodes.conf"));
        let fresh = free_ports(2);
        (port, bus) = (fresh[0], fresh[1]);
    }
    panic!(
        "redis-server did not start as a cluster node; see {}",
        dir.join("redis.log").display()
    );
}
