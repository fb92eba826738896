//! `cargo xtask bench [--quick]`: the end-to-end benchmark (`bench/`, binary `e2e`) against a
//! throwaway `redis-server`, then the codec micro-benchmarks (`core/benches/codec.rs`).
//!
//! The numbers go to `BENCHMARKS.md` by hand (the chart of figure (f) is written to
//! `bench/e2e.svg`, which it embeds); nothing here asserts on time. `--quick` runs the
//! same tables with one repetition and shorter measurements, and a subset of the codec groups.

use crate::cluster::Cluster;
use crate::redis;
use crate::setup::{self, cargo, run};

/// Where `e2e` writes the chart of figure (f), which `BENCHMARKS.md` shows.
const CHART: &str = "bench/e2e.svg";

/// The codec groups `--quick` keeps (a criterion filter).
const QUICK_CODEC_FILTER: &str = "^(encode_get|decode_int)/";

pub(crate) fn command(args: &[String]) -> Result<(), String> {
    let quick = match args {
        [] => false,
        [flag] if flag == "--quick" => true,
        [other, ..] => return Err(format!("unexpected argument: {other}")),
    };
    setup::redis()?;

    // Build before the server starts, so that nothing compiles while it is measured.
    run(cargo().args(["build", "--release", "-p", "redpipe-bench", "--bin", "e2e"]))?;
    let server = redis::Server::start()?;
    eprintln!("started a throwaway redis-server on {}", server.url());
    let cluster = match Cluster::start(3) {
        Ok(c) => c,
        Err(e) => {
            drop(server);
            return Err(e);
        }
    };
    eprintln!(
        "started a throwaway cluster of 3 primaries: {}",
        cluster.urls()
    );
    let mut e2e = cargo();
    e2e.args([
        "run",
        "--release",
        "-p",
        "redpipe-bench",
        "--bin",
        "e2e",
        "--",
    ])
    .args([
        "--url",
        &server.url(),
        "--pin",
        "--cluster",
        &cluster.urls(),
    ])
    .arg("--svg")
    .arg(setup::root().join(CHART));
    if quick {
        e2e.arg("--quick");
    } else {
        // On a shared machine, measure between other jobs rather than during them.
        e2e.arg("--wait-quiet");
    }
    let result = run(&mut e2e);
    drop(server);
    drop(cluster);
    eprintln!("stopped the throwaway redis-server and cluster");
    result?;

    let mut codec = cargo();
    codec.args([
        "bench",
        "-p",
        "redpipe-core",
        "--features",
        "alloc",
        "--bench",
        "codec",
    ]);
    codec.arg("--");
    if quick {
        codec.args([
            "--warm-up-time",
            "0.5",
            "--measurement-time",
            "1",
            QUICK_CODEC_FILTER,
        ]);
    } else {
        codec.args(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    run(&mut codec)
}
