//! The command line of `e2e`.

use crate::Result;

/// The figures `--only` can name.
const FIGURES: [&str; 9] = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];

/// What the command line asks for.
pub(crate) struct Args {
    pub(crate) url: String,
    pub(crate) quick: bool,
    pub(crate) pin: bool,
    pub(crate) reps: Option<usize>,
    pub(crate) peak: Option<String>,
    pub(crate) profile: Option<String>,
    /// Seed URLs of a Redis Cluster for figure (e).
    pub(crate) cluster: Vec<String>,
    /// Figures to run (`a,b,c,d,e,f,g`); all when empty.
    pub(crate) only: Vec<String>,
    /// Where to write the chart of figure (f), as SVG.
    pub(crate) svg: Option<String>,
    /// Before each cell, wait for the machine to be quiet (other jobs on a shared machine).
    pub(crate) wait_quiet: bool,
}

pub(crate) const USAGE: &str = "usage: e2e --url redis://127.0.0.1:PORT [--quick] [--pin] [--reps N] \
                     [--cluster URL,URL,...] [--only a,b,...,i] [--svg PATH] [--wait-quiet]\n       \
                     e2e --url redis://127.0.0.1:PORT --profile COMMAND,BATCH,CLIENT[,SECONDS]\n\
                     COMMAND: set get incr set100; CLIENT: redpipe redpipe-tokio pipe redis-rs \
                     redis-rs-async, redpipe-overlap (send/finish, the next batch queued while the server \
                     works), or redpipe-rewind (queued once, re-sent with rewind())\n       \
                     e2e --url redis://127.0.0.1:PORT --profile service,SHAPE,CONTENDER[,SECONDS]\n\
                     SHAPE: 1 8 64 256 64w2 t8 t64; CONTENDER: redpipe redpipe-1 redis-rs \
                     redis-rs-manager fred (tasks), redpipe-blocking r2d2 (threads)\n       \
                     e2e --url redis://127.0.0.1:PORT --profile pubsub,SHAPE,CLIENT[,RUNS]\n\
                     SHAPE: one fanout; CLIENT: redpipe redpipe-blocking redis-rs fred";

pub(crate) fn parse_args() -> Result<Args> {
    let mut args = Args {
        url: String::new(),
        quick: false,
        pin: false,
        reps: None,
        peak: None,
        profile: None,
        cluster: Vec::new(),
        only: Vec::new(),
        svg: None,
        wait_quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--url" => args.url = it.next().ok_or("--url needs a value")?,
            "--quick" => args.quick = true,
            "--pin" => args.pin = true,
            "--reps" => args.reps = Some(it.next().ok_or("--reps needs a number")?.parse()?),
            "--peak-1m" => args.peak = Some(it.next().ok_or("--peak-1m needs a client")?),
            "--profile" => args.profile = Some(it.next().ok_or("--profile needs a case")?),
            "--cluster" => {
                let urls = it.next().ok_or("--cluster needs URL,URL,...")?;
                args.cluster = urls.split(',').map(str::to_string).collect();
            }
            "--svg" => args.svg = Some(it.next().ok_or("--svg needs a path")?),
            "--wait-quiet" => args.wait_quiet = true,
            "--only" => {
                let figures = it.next().ok_or("--only needs figures, e.g. a,e")?;
                args.only = figures.split(',').map(str::to_string).collect();
                if let Some(f) = args.only.iter().find(|f| !FIGURES.contains(&f.as_str())) {
                    return Err(format!("--only: no figure {f:?} (figures: a to i)").into());
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unexpected argument {other:?}").into()),
        }
    }
    if args.url.is_empty() {
        return Err(USAGE.into());
    }
    Ok(args)
}
