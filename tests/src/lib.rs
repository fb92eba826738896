//! Test harness for redpipe: real servers on free loopback ports, stopped when dropped.
//!
//! Each [`RedisServer`] is its own `redis-server` process with no persistence, in a temporary
//! directory, on a port picked at run time; it is killed (by PID, never by name) on drop. Starting
//! one takes a few milliseconds, so every test gets its own and the suite runs in parallel.
//! [`bridge::Bridge`] does the same for a `redpipe-bridge` process.

pub mod bridge;
pub mod cluster;
pub mod load;
pub mod peer;
pub mod pubsub;

pub use cluster::{ClusterOptions, RedisCluster};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a test waits for what must happen eventually (a subscriber back, a connection
/// closed): generous, so that a loaded machine does not fail it, and never asserted as a speed.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Calls `done` every 20 ms until it returns true; panics with `what` if [`PATIENCE`] passes
/// first. For a state the server or the code under test reaches in its own time.
pub fn eventually(what: impl std::fmt::Display, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`eventually`] in a tokio test: sleeps on the runtime's timer between calls (`done` itself
/// may block briefly, as [`RedisServer::cli`] does).
pub async fn eventually_async(what: impl std::fmt::Display, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `redis-server` child process.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    tls: bool,
}

/// Extra configuration for [`RedisServer::with`].
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `requirepass`.
    pub password: Option<String>,
    /// ACL users: `(name, password)`, allowed everything.
    pub users: Vec<(String, String)>,
    /// Serve TLS only (on [`RedisServer::port`]), with a fresh CA and server certificate.
    pub tls: bool,
    /// Further `--option value` pairs.
    pub extra: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

fn scratch_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "redpipe-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("cannot create a temporary directory");
    dir
}

impl RedisServer {
    /// A server with default settings.
    pub fn start() -> Self {
        Self::with(Options::default())
    }

    /// A server serving TLS only, with default settings otherwise (see [`Options::tls`]).
    pub fn start_tls() -> Self {
        Self::with(Options {
            tls: true,
            ..Options::default()
        })
    }

    /// A server with `opts`.
    pub fn with(opts: Options) -> Self {
        let dir = scratch_dir();
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(["--dir".into(), dir.display().to_string()]);
        args.extend([
            "--logfile".into(),
            dir.join("redis.log").display().to_string(),
        ]);
        args.extend([
            "--unixsocket".into(),
            dir.join("redis.sock").display().to_string(),
        ]);
        if let Some(pw) = &opts.password {
            args.extend(["--requirepass".into(), pw.clone()]);
        }
        for (user, pw) in &opts.users {
            args.extend([
                "--user".into(),
                user.clone(),
                "on".into(),
                format!(">{pw}"),
                "~*".into(),
                "&*".into(),
                "+@all".into(),
            ]);
        }
        if opts.tls {
            make_certificates(&dir, &["rsa:2048"]);
            for (opt, file) in [
                ("--tls-cert-file", "server.crt"),
                ("--tls-key-file", "server.key"),
                ("--tls-ca-cert-file", "ca.crt"),
            ] {
                args.extend([opt.into(), dir.join(file).display().to_string()]);
            }
            args.extend(["--tls-auth-clients".into(), "no".into()]);
        }
        args.extend(opts.extra.iter().cloned());
        // A port can be taken between choosing and binding it: try a few.
        for _ in 0..5 {
            let mut server = Self {
                child: None,
                port: free_port(),
                dir: dir.clone(),
                args: args.clone(),
                tls: opts.tls,
            };
            if server.spawn() {
                return server;
            }
        }
        panic!(
            "redis-server did not start; see {}",
            dir.join("redis.log").display()
        );
    }

    fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let ports: [&str; 4] = if self.tls {
            ["--port", "0", "--tls-port", &port]
        } else {
            ["--port", &port, "--tls-port", "0"]
        };
        let child = Command::new("redis-server")
            .args(ports)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run redis-server: is it installed? (`cargo xtask test` installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child
                && let Ok(Some(_)) = child.try_wait()
            {
                self.child = None;
                return false;
            }
            if self.ping() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
        false
    }

    /// Whether the server answers a raw `PING` (or asks for authentication); for TLS, whether
    /// `redis-cli` gets `PONG`.
    fn ping(&self) -> bool {
        if self.tls {
            let ca = self.dir.join("ca.crt").display().to_string();
            return Command::new("redis-cli")
                .args([
                    "-p",
                    &self.port.to_string(),
                    "--tls",
                    "--cacert",
                    &ca,
                    "PING",
                ])
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"PONG"));
        }
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        matches!(s.read(&mut buf), Ok(n) if n > 0 && (buf.starts_with(b"+PONG") || buf.starts_with(b"-NOAUTH")))
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `rediss://localhost:<port>?tls_ca=<the test CA>` for a TLS server.
    pub fn tls_url(&self) -> String {
        format!(
            "rediss://localhost:{}?tls_ca={}",
            self.port,
            self.dir.join("ca.crt").display()
        )
    }

    /// `unix://<dir>/redis.sock`.
    pub fn unix_url(&self) -> String {
        format!("unix://{}", self.dir.join("redis.sock").display())
    }

    /// A registry whose default name is this server ([`url`](Self::url), or
    /// [`tls_url`](Self::tls_url) for a TLS server) with `options` added to the URL's query
    /// (`"protocol=3&timeout=5000"`, or `""`).
    pub fn registry(&self, options: &str) -> redpipe::Connections {
        let mut url = if self.tls { self.tls_url() } else { self.url() };
        if !options.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(options);
        }
        let r = redpipe::Connections::new();
        r.register(redpipe::DEFAULT, url.as_str())
            .expect("the server's URL is refused");
        r
    }

    /// Connection settings for this server with short timeouts, for tests.
    pub fn info(&self) -> redpipe::ConnectionInfo {
        redpipe::ConnectionInfo::tcp("127.0.0.1", self.port).timeout(Duration::from_secs(5))
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal to the server (`STOP`, `CONT`, ...).
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string())
                .status();
        }
    }

    /// Starts the server again on the same port after [`kill`](Self::kill).
    pub fn restart(&mut self) {
        self.kill();
        for _ in 0..50 {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }

    /// Runs a command with `redis-cli` and returns its output (for checks independent of the
    /// code under test).
    pub fn cli(&self, args: &[&str]) -> String {
        let ca = self.dir.join("ca.crt").display().to_string();
        let tls: &[&str] = if self.tls {
            &["--tls", "--cacert", &ca]
        } else {
            &[]
        };
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(tls)
            .args(args)
            .output()
            .expect("cannot run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.signal("CONT");
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA and a server certificate for `localhost`/127.0.0.1 in `dir` (`ca.crt`, `server.crt`,
/// `server.key`), made with `openssl`; `key` is what follows `-newkey` (`rsa:2048`, or `ec` and
/// its curve).
fn make_certificates(dir: &std::path::Path, key: &[&str]) {
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "openssl {args:?} failed (is openssl installed?)");
    };
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("cannot write ext.cnf");
    let with_key = |before: &[&'static str], after: &[&'static str]| {
        let mut args: Vec<&str> = before.to_vec();
        args.push("-newkey");
        args.extend_from_slice(key);
        args.extend_from_slice(after);
        run(&args);
    };
    with_key(
        &["req", "-x509"],
        &[
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=redpipe-test-ca",
        ],
    );
    with_key(
        &["req"],
        &[
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}
