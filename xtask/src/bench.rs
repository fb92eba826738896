//! `cargo xtask bench [--quick] [--only LIST] [--reps N]`: the end-to-end benchmark (`bench/`,
//! binary `e2e`) against a throwaway `redis-server`, then the codec micro-benchmarks
//! (`core/benches/codec.rs`).
//!
//! The numbers go to `BENCHMARKS.md` by hand (the chart of figure (f) is written to
//! `bench/e2e.svg`, which it embeds); nothing here asserts on time. `--quick` runs the
//! same tables with one repetition and shorter measurements, and a subset of the codec groups.
//! `--only LIST` (e.g. `g`, or `a,f`) and `--reps N` go to `e2e`; with `--only` the codec
//! benchmarks do not run, and the throwaway cluster starts only for figure (e).

use crate::cluster::Cluster;
use crate::redis;
use crate::setup::{self, cargo, run};

/// Where `e2e` writes the chart of figure (f), which `BENCHMARKS.md` shows.
const CHART: &str = "bench/e2e.svg";

/// The codec groups `--quick` keeps (a criterion filter).
const QUICK_CODEC_FILTER: &str = "^(encode_get|decode_int)/";

/// What `cargo xtask bench` was asked for.
#[derive(Default)]
struct Options {
    quick: bool,
    /// `e2e --only`: the figures to run (all when `None`).
    only: Option<String>,
    /// `e2e --reps`.
    reps: Option<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--only" => {
                let list = it.next().ok_or("--only needs figures, e.g. g or a,f")?;
                o.only = Some(list.clone());
            }
            "--reps" => {
                let n = it.next().ok_or("--reps needs a number")?;
                n.parse::<usize>()
                    .map_err(|_| format!("--reps needs a number, not {n:?}"))?;
                o.reps = Some(n.clone());
            }
            other => return Err(format!("unexpected argument: {other}")),
        }
    }
    Ok(o)
}

pub(crate) fn command(args: &[String]) -> Result<(), String> {
    let Options { quick, only, reps } = parse(args)?;
    // Figure (e) runs on a cluster of its own; no other figure needs one.
    let wants_cluster = only
        .as_deref()
        .is_none_or(|list| list.split(',').any(|f| f == "e"));
    setup::redis()?;

    // Build before the server starts, so that nothing compiles while it is measured.
    run(cargo().args(["build", "--release", "-p", "redpipe-bench", "--bin", "e2e"]))?;
    let server = redis::Server::start()?;
    eprintln!("started a throwaway redis-server on {}", server.url());
    let cluster = if wants_cluster {
        match Cluster::start(3) {
            Ok(c) => {
                eprintln!("started a throwaway cluster of 3 primaries: {}", c.urls());
                Some(c)
            }
            Err(e) => {
                drop(server);
                return Err(e);
            }
        }
    } else {
        None
    };
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
    .args(["--url", &server.url(), "--pin"])
    .arg("--svg")
    .arg(setup::root().join(CHART));
    if let Some(c) = &cluster {
        e2e.args(["--cluster", &c.urls()]);
    }
    if let Some(list) = &only {
        e2e.args(["--only", list]);
    }
    if let Some(n) = &reps {
        e2e.args(["--reps", n]);
    }
    if quick {
        e2e.arg("--quick");
    } else {
        // On a shared machine, measure between other jobs rather than during them.
        e2e.arg("--wait-quiet");
    }
    let result = run(&mut e2e);
    drop(server);
    let stopped = if cluster.is_some() {
        "redis-server and cluster"
    } else {
        "redis-server"
    };
    drop(cluster);
    eprintln!("stopped the throwaway {stopped}");
    result?;
    if only.is_some() {
        // A chosen list of figures is an end-to-end run only.
        return Ok(());
    }

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
