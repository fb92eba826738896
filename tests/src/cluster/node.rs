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

/// What every node of a cluster shaped by `opts` is started with beyond its ports and
/// directory: the TLS files (in `cluster_dir`), the users, and the default user's password
/// (`access`'s, which replicas use to reach their primary too).
pub(super) fn settings(cluster_dir: &Path, opts: &ClusterOptions, access: &Access) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if opts.tls {
        for (opt, file) in [
            ("--tls-cert-file", "server.crt"),
            ("--tls-key-file", "server.key"),
            ("--tls-ca-cert-file", "ca.crt"),
        ] {
            args.extend([opt.into(), cluster_dir.join(file).display().to_string()]);
        }
        // Clients (the client under test, redis-cli) show no certificate of their own.
        #[rustfmt::skip]
        args.extend([
            "--tls-auth-clients", "no", "--tls-cluster", "yes", "--tls-replication", "yes",
        ].map(String::from));
    }
    if let Some(pw) = &access.password {
        args.extend(["--requirepass", pw, "--masterauth", pw].map(String::from));
    }
    for (user, pw) in &opts.users {
        let pw = format!(">{pw}");
        args.extend(["--user", user, "on", &pw, "~*", "&*", "+@all"].map(String::from));
    }
    args
}

/// Starts one node in `dir` and waits until it answers `PING` (reached as `access` says). A
/// port can be taken between choosing and binding it: then it tries fresh ports. A TLS node
/// (`opts.tls`) listens on `port` for TLS only.
pub(super) fn spawn_node(
    dir: &Path,
    mut port: u16,
    mut bus: u16,
    opts: &ClusterOptions,
    settings: &[String],
    access: &Access,
) -> Node {
    for _ in 0..5 {
        let (p, b, timeout) = (
            port.to_string(),
            bus.to_string(),
            opts.node_timeout.as_millis().to_string(),
        );
        let ports = match opts.tls {
            true => ["--port", "0", "--tls-port", &p],
            false => ["--port", &p, "--tls-port", "0"],
        };
        #[rustfmt::skip]
        let args = [
            "--cluster-port", &b, "--bind", "127.0.0.1",
            "--protected-mode", "no", "--daemonize", "no",
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", &timeout, "--repl-diskless-sync-delay", "0",
            "--save", "", "--appendonly", "no",
        ];
        let child = Command::new("redis-server")
            .args(ports)
            .args(args)
            .args(settings)
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
            let pong = connect(port, access).and_then(|mut c| command(&mut c, &["PING"]));
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
