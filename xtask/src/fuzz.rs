//! `cargo xtask fuzz --seconds N`: every cargo-fuzz target for N seconds, seeded with real
//! replies captured from redis-server (`fuzz/seeds`).

use std::path::Path;
use std::process::Command;

use crate::setup::{have, root, run};

const TARGETS: &[&str] = &["decode", "pipeline", "between", "shared", "subscribed"];

fn nightly() -> bool {
    Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.starts_with("nightly"))
        })
}

/// Nightly and cargo-fuzz, installed when missing; `Err` says why fuzzing cannot run here.
/// `cargo xtask test` calls it before anything is built, so a machine that cannot fuzz fails
/// at once rather than after every other step.
pub(crate) fn tools() -> Result<(), String> {
    if !nightly() {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))
        .map_err(|e| {
            format!("fuzzing needs a nightly toolchain, and installing one failed: {e}")
        })?;
    }
    if !have("cargo-fuzz") {
        run(Command::new("cargo").args(["install", "cargo-fuzz", "--version", "0.13.2"]))
            .map_err(|e| format!("fuzzing needs cargo-fuzz, and installing it failed: {e}"))?;
    }
    // Both present is not enough: cargo-fuzz must run under the nightly toolchain.
    let works = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        return Err("fuzzing needs `cargo +nightly fuzz`, which does not run here".into());
    }
    Ok(())
}

/// Copies the seeds into each target's corpus (the pipeline target reads two control bytes
/// first: command count and read chunk size).
fn seed(corpus: &Path, target: &str) -> Result<(), String> {
    let seeds = root().join("fuzz").join("seeds");
    std::fs::create_dir_all(corpus).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(&seeds).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
        let bytes = match target {
            "pipeline" => [&[5u8, 3][..], &bytes].concat(),
            "between" => [&[7u8][..], &bytes].concat(),
            "shared" => [&[7u8, 1][..], &bytes].concat(),
            "subscribed" => [&[7u8, 7][..], &bytes].concat(),
            _ => bytes,
        };
        let name = path.file_name().unwrap_or_default();
        std::fs::write(corpus.join(name), bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs every target for `seconds`.
pub(crate) fn run_all(seconds: u64) -> Result<(), String> {
    tools()?;
    let fuzz = root().join("fuzz");
    for target in TARGETS {
        let corpus = fuzz.join("corpus").join(target);
        seed(&corpus, target)?;
        run(Command::new("cargo")
            .current_dir(&fuzz)
            .args(["+nightly", "fuzz", "run", target])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=2048")
            .arg("-print_final_stats=1"))?;
    }
    Ok(())
}

/// `cargo xtask fuzz [--seconds N]`.
pub(crate) fn command(args: &[String]) -> Result<(), String> {
    let seconds = match args {
        [] => 60,
        [flag, n] if flag == "--seconds" => n.parse().map_err(|_| format!("bad seconds: {n}"))?,
        _ => return Err("usage: cargo xtask fuzz [--seconds N]".into()),
    };
    run_all(seconds)
}

/// The short run inside `cargo xtask test`. A machine where the fuzz tools cannot be installed
/// fails the step: skipping it would let a test command pass that never fuzzed. (The same
/// invariants also run on stable in `core/tests/fuzz_smoke.rs`, which is no substitute.)
pub(crate) fn smoke(seconds: u64) -> Result<(), String> {
    run_all(seconds)
}
