//! Installing what a fresh Debian machine lacks: rustup targets and components, apt packages.
//!
//! Each step checks first and installs only what is missing, so a warm machine pays nothing.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// Targets the core must build for.
pub(crate) const TARGETS: &[&str] = &[
    "wasm32-unknown-unknown",
    "thumbv7em-none-eabihf",
    "riscv32imc-unknown-none-elf",
];

/// Debian packages the integration tests and the tour use.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("redis-server", "redis-server"),
    ("redis-cli", "redis-tools"),
    ("redis-benchmark", "redis-tools"),
    ("openssl", "openssl"),
];

pub(crate) fn all() -> Result<(), String> {
    rust()?;
    redis()
}

/// The workspace root (the parent of this crate).
pub(crate) fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// `cargo`, as the one running us, in the workspace root.
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Every command [`run`] ran in this process and how long it took, for [`print_slowest`].
static TIMINGS: Mutex<Vec<(String, Duration)>> = Mutex::new(Vec::new());

/// Runs `cmd`, echoing it, and fails if it fails.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("\n$ {shown}");
    let started = std::time::Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    let took = started.elapsed();
    eprintln!("  ({:.1} s)", took.as_secs_f64());
    if let Ok(mut timings) = TIMINGS.lock() {
        timings.push((shown.clone(), took));
    }
    if status.success() {
        Ok(())
    } else {
        Err(format!("failed ({status}): {shown}"))
    }
}

/// `cargo metadata --format-version 1` with `args`, parsed.
pub(crate) fn metadata(args: &[&str]) -> Result<crate::json::Json, String> {
    let mut cmd = cargo();
    cmd.args(["metadata", "--format-version", "1"]).args(args);
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("\n$ {shown}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "failed ({}): {shown}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    crate::json::Json::parse(&String::from_utf8_lossy(&out.stdout))
}

/// The names of the workspace's members, in `Cargo.toml` order.
pub(crate) fn members() -> Result<Vec<String>, String> {
    let metadata = metadata(&["--no-deps"])?;
    let packages = metadata
        .get("packages")
        .ok_or("cargo metadata: no packages")?;
    Ok(packages
        .items()
        .iter()
        .filter_map(|p| p.get("name")?.as_str().map(str::to_owned))
        .collect())
}

/// Prints the `n` slowest commands [`run`] ran so far, with their share of `total`: where the
/// time of a test run went.
pub(crate) fn print_slowest(n: usize, total: Duration) {
    let Ok(mut timings) = TIMINGS.lock().map(|t| t.clone()) else {
        return;
    };
    timings.sort_by_key(|t| std::cmp::Reverse(t.1));
    let cargo = std::env::var("CARGO").unwrap_or_default();
    let root = root().display().to_string();
    eprintln!("\nslowest steps (of {:.0} s):", total.as_secs_f64());
    for (shown, took) in timings.iter().take(n) {
        let mut short = shown.replace(&format!("cd {root} && "), "");
        if !cargo.is_empty() {
            short = short.replace(&cargo, "cargo");
        }
        short = short.replace(&root, ".");
        eprintln!(
            "  {:>6.1} s {:>3.0}%  {short}",
            took.as_secs_f64(),
            100.0 * took.as_secs_f64() / total.as_secs_f64().max(0.001)
        );
    }
}

/// Output of `cmd` when it succeeds.
pub(crate) fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Rust targets and components.
pub(crate) fn rust() -> Result<(), String> {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    let missing: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        run(Command::new("rustup")
            .args(["target", "add"])
            .args(&missing))?;
    }
    let components = output(Command::new("rustup").args(["component", "list", "--installed"]))
        .unwrap_or_default();
    for c in ["rustfmt", "clippy", "llvm-tools"] {
        if !components.lines().any(|l| l.starts_with(c)) {
            run(Command::new("rustup").args(["component", "add", c]))?;
        }
    }
    Ok(())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

/// Installs Debian packages for the programs that are missing.
pub(crate) fn apt(wanted: &[(&str, &str)]) -> Result<(), String> {
    let mut packages: Vec<&str> = wanted
        .iter()
        .filter(|(program, _)| !have(program))
        .map(|(_, package)| *package)
        .collect();
    packages.dedup();
    if packages.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "missing programs; install them with: sudo apt-get install -y {}",
            packages.join(" ")
        ));
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&packages))
}

/// `redis-server`, `redis-cli` and `redis-benchmark`.
pub(crate) fn redis() -> Result<(), String> {
    apt(APT_PACKAGES)
}

/// Python RedPipe, the library whose data redpipe reads and writes, in a virtualenv under
/// `target/`: the interpreter to run it with. Versions pinned, as the interop test was checked
/// against them.
pub(crate) fn python_redpipe() -> Result<PathBuf, String> {
    let venv = root().join("target").join("python-redpipe");
    let python = venv.join("bin").join("python");
    let ready = |python: &PathBuf| {
        Command::new(python)
            .args(["-c", "import redpipe, redis"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    let has_venv = Command::new("python3")
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_venv {
        // Debian splits `venv` (and the pip it bootstraps) out of python3.
        if !is_root() {
            return Err(
                "missing python3-venv; install it with: sudo apt-get install -y python3-venv"
                    .into(),
            );
        }
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args([
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "python3-venv",
            ]))?;
    }
    run(Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg("--clear")
        .arg(&venv))?;
    run(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "redpipe==4.0.1",
        "redis==8.1.0",
    ]))?;
    if ready(&python) {
        Ok(python)
    } else {
        Err(format!("{} cannot import redpipe", python.display()))
    }
}
