//! `cargo xtask qemu [--timeout SECONDS]`: the firmware images (`firmware/qemu`) on emulated
//! Cortex-M4 and RISC-V 32 boards, each against its own throwaway redis-server; then fmt and
//! clippy on their package. Three images per board: `redpipe-qemu` (one pipeline at a time, the
//! blocking and the async driver), `redpipe-qemu-mux` (two tasks sharing the connection
//! through the core's mux) and `redpipe-qemu-sub` (a subscriber: the harness publishes once it
//! subscribed, and checks what it printed).
//!
//! QEMU connects the board's UART to the server (`-serial tcp:127.0.0.1:PORT`), so the bytes the
//! firmware writes are RESP on the server's socket. The image checks every result itself and
//! exits through semihosting with its verdict; the test then checks that verdict, the printed
//! report and the keys left in the server. A run that outlives the time limit is killed (a
//! hung image fails the test), and both processes are stopped by PID.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::redis;
use crate::setup::{self, root, run};
use crate::size;

/// A board QEMU emulates, and the target its image is built for.
struct Board {
    name: &'static str,
    target: &'static str,
    /// The QEMU program and the options that pick the machine.
    qemu: &'static str,
    machine: &'static [&'static str],
    /// What the image stores in `fw:greeting` (its `BOARD` constant).
    greeting: &'static str,
}

const BOARDS: &[Board] = &[
    Board {
        name: "cortex-m4 (mps2-an386)",
        target: "thumbv7em-none-eabihf",
        qemu: "qemu-system-arm",
        machine: &["-machine", "mps2-an386"],
        greeting: "cortex-m4 mps2-an386",
    },
    Board {
        name: "riscv32 (virt)",
        target: "riscv32imc-unknown-none-elf",
        qemu: "qemu-system-riscv32",
        // No firmware (OpenSBI): the reset vector jumps straight to the image at 0x80000000.
        machine: &["-machine", "virt", "-bios", "none"],
        greeting: "riscv32 virt",
    },
];

/// Debian packages of the emulators: (program, package).
const QEMU_PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-arm", "qemu-system-arm"),
    ("qemu-system-riscv32", "qemu-system-misc"),
];

/// How long one image may run. A pass takes about a second; a hung image (a reply that never
/// comes: a UART cannot see the server go away) must fail the test, not stall it.
pub(crate) const DEFAULT_LIMIT: Duration = Duration::from_secs(60);

/// An image of the package, and what it leaves in db 1.
struct Image {
    bin: &'static str,
    /// `redis-cli -n 1` commands and their output; `None` stands for the board's greeting.
    keys: &'static [(&'static [&'static str], Option<&'static str>)],
    /// Messages (channel, payload) published once the image subscribed to `subscribed` (a
    /// channel) and a pattern; the lines it must print for them.
    publish: &'static [(&'static str, &'static str)],
    subscribed: &'static str,
    prints: &'static [&'static str],
}

const IMAGES: &[Image] = &[
    // See `firmware/qemu/src/scenario.rs`.
    Image {
        bin: "redpipe-qemu",
        keys: &[
            (&["GET", "fw:counter"], Some("44")),
            (&["GET", "fw:greeting"], None),
            (&["HGET", "fw:sensor", "temp"], Some("2125")),
            (&["HGET", "fw:sensor", "unit"], Some("cC")),
            (&["HLEN", "fw:sensor"], Some("2")),
        ],
        publish: &[],
        subscribed: "",
        prints: &[],
    },
    // See `firmware/qemu/src/mux/tasks.rs`: task a's numbers, task b's string and list.
    Image {
        bin: "redpipe-qemu-mux",
        keys: &[
            (&["GET", "fw:mux:a:hits"], Some("3")),
            (&["GET", "fw:mux:a:total"], Some("123")),
            (&["GET", "fw:mux:b:board"], None),
            (&["LRANGE", "fw:mux:b:log", "0", "-1"], Some("b1\nb2\nb3")),
            (&["DBSIZE"], Some("4")),
        ],
        publish: &[],
        subscribed: "",
        prints: &[],
    },
    // See `firmware/qemu/src/sub/main.rs`: it subscribes, the harness publishes, it prints.
    Image {
        bin: "redpipe-qemu-sub",
        keys: &[(&["DBSIZE"], Some("0"))],
        publish: &[
            ("fw:news", "hello from the harness"),
            ("fw:alerts:temp", "21.25"),
            ("fw:news", "bye"),
        ],
        subscribed: "fw:news",
        prints: &[
            "message fw:news: hello from the harness",
            "message fw:alerts:temp [fw:alerts:*]: 21.25",
            "message fw:news: bye",
        ],
    },
];

pub(crate) fn command(args: &[String]) -> Result<(), String> {
    let mut limit = DEFAULT_LIMIT;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--timeout" => {
                let seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--timeout takes a number of seconds")?;
                limit = Duration::from_secs(seconds);
            }
            other => return Err(format!("unexpected argument: {other}")),
        }
    }
    run_all(limit)?;
    lint()
}

/// Installs what is missing, builds the images for both boards, and runs each against its own
/// server.
pub(crate) fn run_all(limit: Duration) -> Result<(), String> {
    setup::rust()?;
    setup::redis()?;
    setup::apt(QEMU_PACKAGES)?;

    let started = Instant::now();
    let dir = root().join("firmware").join("qemu");
    let mut build = setup::cargo();
    build.current_dir(&dir).args(["build", "--release"]);
    for board in BOARDS {
        build.args(["--target", board.target]);
    }
    run(&mut build)?;
    let built = started.elapsed();

    let mut rows = Vec::new();
    for board in BOARDS {
        for image in IMAGES {
            let path = path(&dir, board.target, image.bin);
            let took = run_board(board, image, &path, limit)?;
            rows.push((board, image, size::sections(&path)?, took));
        }
    }

    println!("\nfirmware under QEMU against redis-server (opt-level=s, LTO):");
    println!(
        "{:<24} {:<18} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "board", "image", ".text", ".rodata", ".data", ".bss", "run"
    );
    for (board, image, s, took) in rows {
        println!(
            "{:<24} {:<18} {:>8} {:>8} {:>8} {:>8} {:>7.2}s",
            board.name,
            image.bin,
            s[0],
            s[1],
            s[2],
            s[3],
            took.as_secs_f64()
        );
    }
    println!(
        "build {:.1}s, all {:.1}s",
        built.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo fmt --check` and `cargo clippy -D warnings` on the images' package, for both targets:
/// it is outside the workspace, so the workspace-wide checks do not see it.
pub(crate) fn lint() -> Result<(), String> {
    let dir = root().join("firmware").join("qemu");
    let cargo = || {
        let mut c = setup::cargo();
        c.current_dir(&dir);
        c
    };
    run(cargo().args(["fmt", "--check"]))?;
    let mut clippy = cargo();
    clippy.args(["clippy", "--release"]);
    for board in BOARDS {
        clippy.args(["--target", board.target]);
    }
    run(clippy.args(["--", "-D", "warnings"]))
}

/// Runs `image` (built at `path`) on `board` against a fresh server and checks the outcome; how
/// long it ran.
fn run_board(
    board: &Board,
    image: &Image,
    path: &Path,
    limit: Duration,
) -> Result<Duration, String> {
    let server = redis::Server::start()?;
    let mut cmd = Command::new(board.qemu);
    cmd.args(board.machine)
        .args(["-nographic", "-monitor", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(["-serial", &format!("tcp:127.0.0.1:{}", server.port)])
        .arg("-kernel")
        .arg(path);
    eprintln!("\n$ {}", format!("{cmd:?}").replace('"', ""));

    let started = Instant::now();
    let mut qemu = Qemu::start(&mut cmd)?;
    if !image.publish.is_empty() {
        publish_when_subscribed(server.port, image, limit)?;
    }
    let status = qemu.wait(limit)?;
    let took = started.elapsed();
    let (stdout, stderr) = qemu.output();
    eprint!("{stdout}{stderr}");

    let fail = |why: String| Err(format!("{} {}: {why}", board.name, image.bin));
    let Some(status) = status else {
        return fail(format!("still running after {} s: killed", limit.as_secs()));
    };
    if !status.success() {
        return fail(format!("the image reported failure ({status})"));
    }
    let lines = || stdout.lines();
    if !lines().any(|l| l.starts_with("PASS:")) || lines().any(|l| l.starts_with("FAIL")) {
        return fail("exit status 0 but the report does not say PASS".into());
    }
    if let Some(line) = image.prints.iter().find(|l| !lines().any(|got| got == **l)) {
        return fail(format!("it did not print {line:?}"));
    }
    for (args, want) in image.keys {
        let got = redis_cli(server.port, &[&["-n", "1"], *args].concat())?;
        let want = want.unwrap_or(board.greeting);
        if got != want {
            return fail(format!("db 1 {}: {got:?}, want {want:?}", args.join(" ")));
        }
    }
    // The image SELECTs db 1: a key in db 0 means the handshake did not run.
    let db0 = redis_cli(server.port, &["-n", "0", "DBSIZE"])?;
    if db0 != "0" {
        return fail(format!("db 0 holds {db0} keys: SELECT 1 did not run"));
    }
    eprintln!(
        "{} {}: passed in {:.2}s; keys in the server as expected",
        board.name,
        image.bin,
        took.as_secs_f64()
    );
    Ok(took)
}

/// Waits (up to `limit`) until the image subscribed to its channel and a pattern, as the server
/// counts them, then publishes its messages in order.
fn publish_when_subscribed(port: u16, image: &Image, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let channel = redis_cli(port, &["PUBSUB", "NUMSUB", image.subscribed])?;
        let patterns = redis_cli(port, &["PUBSUB", "NUMPAT"])?;
        if channel.ends_with("\n1") && patterns == "1" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{}: not subscribed after {} s",
                image.bin,
                limit.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (channel, payload) in image.publish {
        let heard = redis_cli(port, &["PUBLISH", channel, payload])?;
        if heard != "1" {
            return Err(format!("PUBLISH {channel}: {heard} subscriber(s), want 1"));
        }
    }
    Ok(())
}

/// `redis-cli -p PORT ARGS...`, its output trimmed.
fn redis_cli(port: u16, args: &[&str]) -> Result<String, String> {
    setup::output(
        Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args),
    )
    .map(|s| s.trim().to_owned())
    .ok_or_else(|| format!("redis-cli {} failed", args.join(" ")))
}

/// A QEMU process whose output is collected as it comes (a full pipe would stall it); killed by
/// PID if it is still running when dropped.
struct Qemu {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Qemu {
    fn start(cmd: &mut Command) -> Result<Self, String> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
        let stdout = child.stdout.take().map(collect);
        let stderr = child.stderr.take().map(collect);
        Ok(Self {
            child,
            stdout,
            stderr,
        })
    }

    /// Its exit status, or `None` when it ran past `limit` and was killed.
    fn wait(&mut self, limit: Duration) -> Result<Option<std::process::ExitStatus>, String> {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(Some(status)),
                Ok(None) if Instant::now() >= deadline => {
                    self.stop();
                    return Ok(None);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("cannot wait for QEMU: {e}")),
            }
        }
    }

    /// What it printed on stdout and stderr, once it has exited.
    fn output(&mut self) -> (String, String) {
        let join =
            |h: Option<JoinHandle<String>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
        (join(self.stdout.take()), join(self.stderr.take()))
    }

    /// Kills it by PID (a no-op once it has exited and been waited for) and reaps it.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads a pipe to its end on a thread of its own.
fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The image `bin` built for `target` in the package at `dir`.
fn path(dir: &Path, target: &str, bin: &str) -> PathBuf {
    dir.join("target").join(target).join("release").join(bin)
}
