//! `cargo xtask test`: every check and test the project has, in order, stopping at the first
//! failure. `cargo xtask test --quick`: the edit-test loop's subset (import circles, formatting,
//! MSRV, clippy, the core's and std adapter's own tests, one suite against a real server).

use crate::setup::{self, cargo, run};
use crate::{fmt, redis};

/// Feature sets of the core checked on their own: each must build, lint and test alone.
const CORE_FEATURE_SETS: &[&[&str]] = &[
    &[],
    &["heapless", "transactions"],
    &["alloc", "scripting", "derive"],
    &["std", "heapless", "transactions", "scripting"],
    &[
        "small",
        "heapless",
        "redis-protocol", // the differential tests, on the small build's reader
        "embedded-io-async",
        "transactions",
        "scripting",
    ],
];

pub(crate) fn run_all() -> Result<(), String> {
    // No import circles between modules: first, as it needs no build and nothing installed.
    crate::layers::check()?;
    setup::all()?;
    // Chromium, ChromeDriver, websockify, Node, wasm-bindgen-cli: before anything is built.
    crate::wasm::install()?;
    // Nightly and cargo-fuzz: the fuzz step fails, never skips, where they cannot be had.
    crate::fuzz::tools()?;

    // Formatting, of the workspace and of the crates outside it (firmware, fuzz).
    fmt::check()?;
    // The MSRV the workspace claims: no dependency states a newer one; clippy's
    // `incompatible_msrv` (below) holds our own code to it.
    crate::msrv::check()?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    for features in CORE_FEATURE_SETS {
        let list = features.join(",");
        run(cargo()
            .args([
                "clippy",
                "-p",
                "redpipe-core",
                "--all-targets",
                "--no-default-features",
            ])
            .args(["--features", &list, "--", "-D", "warnings"]))?;
        run(cargo()
            .args([
                "test",
                "-p",
                "redpipe-core",
                "--no-default-features",
                "--lib",
                "--tests",
            ])
            .args(["--features", &list]))?;
    }

    // Every test and doc test of the workspace, all features on. The README's std example
    // runs as a doc test against a throwaway server (`REDIS_URL`); the integration tests start
    // their own. The interop test runs Python RedPipe (`REDPIPE_PYTHON`) against the same
    // server as redpipe.
    {
        let python = setup::python_redpipe()?;
        let server = redis::Server::start()?;
        run(cargo()
            .args(["test", "--workspace", "--all-features"])
            .env("REDIS_URL", server.url())
            .env("REDPIPE_PYTHON", python))?;
        // The examples run too: each asserts what it shows.
        for example in [
            "tour",
            "keyspaces",
            "structs",
            "reusable",
            "profiles",
            "async_service",
            "bulk_load",
            "pubsub",
        ] {
            run(cargo()
                .args([
                    "run",
                    "-q",
                    "-p",
                    "redpipe",
                    "--all-features",
                    "--example",
                    example,
                ])
                .env("REDIS_URL", server.url()))?;
        }
        // The cluster example, against a throwaway cluster of three primaries.
        let cluster = crate::cluster::Cluster::start(3)?;
        run(cargo()
            .args([
                "run",
                "-q",
                "-p",
                "redpipe",
                "--all-features",
                "--example",
                "cluster",
            ])
            .env("REDIS_CLUSTER_URLS", cluster.urls()))?;
    }

    // The docs build without a warning (broken links, missing docs): each crate alone with its
    // default features (as a user builds them: no features unified from other members), and
    // the workspace with all of them (what docs.rs shows).
    crate::doc::check()?;

    // The core builds without std and without an allocator, for bare metal and the browser.
    for target in setup::TARGETS {
        run(cargo()
            .args(["build", "-p", "redpipe-core", "--no-default-features"])
            .args(["--target", target]))?;
    }
    run(cargo().args([
        "build",
        "-p",
        "redpipe-core",
        "--no-default-features",
        "--features",
        "alloc,heapless,transactions,scripting,json,derive",
        "--target",
        "thumbv7em-none-eabihf",
    ]))?;
    // The Pipe model (core, feature `alloc`) builds for the browser: it knows no socket or
    // thread. So does the wasm crate on top of it.
    run(cargo().args([
        "build",
        "-p",
        "redpipe-core",
        "--no-default-features",
        "--features",
        "alloc,transactions,scripting,json,derive",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    run(cargo().args([
        "build",
        "-p",
        "redpipe-wasm",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    // The wasm crate lints clean where it runs, with and without the JS API.
    for features in [&["--all-features"][..], &["--no-default-features"][..]] {
        run(cargo()
            .args([
                "clippy",
                "-p",
                "redpipe-wasm",
                "--target",
                "wasm32-unknown-unknown",
            ])
            .args(["--all-targets"])
            .args(features)
            .args(["--", "-D", "warnings"]))?;
    }
    // The browser and edge side: wasm-bindgen tests in headless Chromium and the JavaScript
    // API from Node, against a real bridge, websockify and redis-server; the npm package and
    // its size.
    crate::wasm::command(&[])?;

    // The no-allocator firmware image links (the proof that nothing needs an allocator); its
    // footprint is printed beside the redis-protocol image, with its worst-case stack.
    crate::size::firmware()?;

    // The firmware images run on emulated Cortex-M4 and RISC-V 32 boards (QEMU), their UART
    // connected to a real redis-server; each checks its results and reports through
    // semihosting.
    crate::qemu::run_all(crate::qemu::DEFAULT_LIMIT)?;
    crate::qemu::lint()?;

    // Every fuzz target for a few seconds, seeded with real replies.
    crate::fuzz::smoke(20)?;

    // Benchmarks compile and link (they are run by `cargo xtask bench`, never asserted on in
    // tests). In the test profile, with the features of the test step above: its dependencies
    // are built already, so only the bench targets are (about 20 s). `cargo bench --no-run`
    // built everything again in release, the slowest step of the run (15 minutes on the shared
    // 2-core box) for no check that this one lacks.
    run(cargo().args([
        "test",
        "--workspace",
        "--all-features",
        "--benches",
        "--no-run",
    ]))?;

    eprintln!("\nall checks passed");
    Ok(())
}

/// The integration suite the quick tier runs: the `Pipe` model against a real redis-server
/// (the README's examples, nesting, callbacks, named connections, errors, auth, RESP3).
const QUICK_SUITE: &str = "std_pipe";

/// `cargo xtask test --quick`: what an edit most often breaks, in a few minutes warm. The full
/// run adds the feature matrix, every suite (cluster, tokio, wasm, bridge, Python interop),
/// doc tests, examples, docs, bare-metal and wasm builds, QEMU, fuzzing and benchmark builds.
pub(crate) fn run_quick() -> Result<(), String> {
    crate::layers::check()?;
    // Checks only, when warm: rustup targets and components, redis-server.
    setup::all()?;
    fmt::check()?;
    crate::msrv::check()?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The core's and the std adapter's own tests: unit tests and the in-memory suites of
    // `core/tests` (no server). Same features as the full run's, so both reuse one build.
    run(cargo().args([
        "test",
        "-p",
        "redpipe-core",
        "-p",
        "redpipe",
        "--all-features",
        "--lib",
        "--tests",
    ]))?;
    // One suite against a real redis-server (the harness starts and stops its own).
    run(cargo().args([
        "test",
        "-p",
        "redpipe-tests",
        "--all-features",
        "--test",
        QUICK_SUITE,
    ]))?;
    eprintln!("\nquick checks passed (the full run: cargo xtask test)");
    Ok(())
}

/// `cargo xtask test [--quick]`.
pub(crate) fn command(args: &[String]) -> Result<(), String> {
    let started = std::time::Instant::now();
    let result = match args {
        [] => run_all(),
        [flag] if flag == "--quick" => run_quick(),
        _ => return Err("usage: cargo xtask test [--quick]".into()),
    };
    // Where the time went, also when a step failed.
    setup::print_slowest(12, started.elapsed());
    result
}
