//! `cargo xtask <command>`: the one script that humans and CI both run.
//!
//! - `test`: installs what a fresh Debian machine lacks, then runs every check and test;
//!   `test --quick`: fmt, MSRV, clippy, the core's and std adapter's tests and one real-server
//!   suite, for the edit-test loop.
//! - `tour`: runs the main demo against `REDIS_URL` or a throwaway local `redis-server`;
//!   `tour --browser`: a headless Chromium page runs a pipeline through the bridge.
//! - `wasm`: the browser and edge side (Chromium and Node tests against a real bridge), the npm
//!   package and its size; part of `test`.
//! - `bench`: the end-to-end benchmark against a throwaway server, then the codec benchmarks;
//!   `bench --only g` runs only the end-to-end figures named.
//! - `doc`: `cargo doc -D warnings` for each crate alone (default features), then for the
//!   workspace with every feature; part of `test`.
//! - `fmt`: `cargo fmt --check` for the workspace and each crate that is a workspace of its own
//!   (`firmware/`, `fuzz/`); part of `test`.
//! - `layers`: no import circles between the top-level modules of each library crate; the
//!   first step of `test` and `test --quick`.
//! - `msrv`: the workspace's `rust-version` against every dependency's; part of `test`.
//! - `qemu`: the firmware images on emulated Cortex-M4 and RISC-V 32 boards against a
//!   throwaway server.
//!
//! Everything is plain `std::process::Command`: no dependencies, so the script itself builds in
//! seconds on a fresh machine.

mod bench;
mod cluster;
mod doc;
mod fmt;
mod fuzz;
mod json;
mod layers;
mod msrv;
mod npm;
mod qemu;
mod redis;
mod setup;
mod size;
mod stack;
mod test;
mod wasm;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test" | "ci") => test::command(&args[1..]),
        Some("tour") if args.get(1).map(String::as_str) == Some("--browser") => wasm::tour(),
        Some("tour") => tour(&args[1..]),
        Some("wasm") => wasm::command(&args[1..]),
        Some("bench") => bench::command(&args[1..]),
        Some("setup") => setup::all(),
        Some("size") => size::firmware(),
        Some("fuzz") => fuzz::command(&args[1..]),
        Some("qemu") => qemu::command(&args[1..]),
        Some("msrv") => msrv::command(&args[1..]),
        Some("fmt") => fmt::command(&args[1..]),
        Some("doc") => doc::command(&args[1..]),
        Some("layers") => layers::command(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 test    install what is missing, then run every check and test;\n          \
                 --quick: fmt, MSRV, clippy, core and std-adapter tests and one\n          \
                 redis-server suite, for the edit-test loop (under 4 minutes warm)\n  \
                 tour    run the redpipe tour (uses REDIS_URL or starts a local redis-server);\n          \
                 --browser: a headless Chromium page runs it through redpipe-bridge\n  \
                 wasm    browser and Node tests against a real bridge, the npm package and its size\n  \
                 bench   end-to-end and codec benchmarks (--quick: a shorter run of the same \
                 tables; --only LIST: only those end-to-end figures, e.g. g; --reps N)\n  \
                 size    build the no-allocator firmware image and print its footprint\n  \
                 fuzz    run every fuzz target (--seconds N, default 60)\n  \
                 qemu    run the firmware images on emulated Cortex-M4 and RISC-V 32 boards \
                 against redis-server (--timeout SECONDS, default 60)\n  \
                 doc     cargo doc with -D warnings: each crate alone (default features), \
                 then all features\n  \
                 fmt     cargo fmt --check for the workspace and every crate outside it \
                 (firmware, fuzz)\n  \
                 layers  fail on an import circle between the top-level modules of a crate\n  \
                 msrv    check that no dependency needs a newer Rust than the workspace's \
                 rust-version\n  \
                 setup   only install what is missing"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the tour example against `REDIS_URL`, or against a throwaway local server.
fn tour(args: &[String]) -> Result<(), String> {
    let mut cmd = setup::cargo();
    cmd.args([
        "run",
        "--release",
        "-p",
        "redpipe",
        "--example",
        "tour",
        "--",
    ]);
    cmd.args(args);
    if std::env::var_os("REDIS_URL").is_some() {
        return setup::run(&mut cmd);
    }
    setup::redis()?;
    let server = redis::Server::start()?;
    eprintln!("started a throwaway redis-server on {}", server.url());
    cmd.env("REDIS_URL", server.url());
    let result = setup::run(&mut cmd);
    drop(server);
    eprintln!("stopped the throwaway redis-server");
    result
}
