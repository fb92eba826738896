//! `e2e`: redpipe end to end against `redis-benchmark` and redis-rs, on one server.
//!
//! ```text
//! e2e --url redis://127.0.0.1:PORT [--quick] [--pin] [--reps N] [--wait-quiet]
//!     [--cluster URL,URL,...] [--svg PATH] [--only a,b,c,d,e,f,g,h,i]
//! e2e --url redis://127.0.0.1:PORT --profile incr,1000,redpipe[,SECONDS]   (one case, for perf)
//! e2e --url redis://127.0.0.1:PORT --profile service,256,redpipe[,SECONDS] (one cell of (g))
//! e2e --url redis://127.0.0.1:PORT --cluster URL,URL,... --profile cluster,get,100,0[,SECONDS]
//!     (one cell of (e): OP set|get, BATCH, CLIENT index 0..4 as in the table's columns)
//! ```
//!
//! `cargo xtask bench` starts a throwaway server and runs this with `--pin`: the server's
//! threads go to CPU 0, this process and its children (`redis-benchmark`) to CPU 1. Unpinned,
//! a client that the scheduler happens to wake on the server's core sees a round trip about 3×
//! shorter than one on the other core (no cross-core wake-up), which swamps every difference
//! between clients at small batches. Figures:
//!
//! - (a) ops/s on one connection, batches of 1, 16, 256 and 1000 `SET`, `GET`, `INCR` and
//!   `SET` of 100 bytes: redpipe blocking and tokio, redis-rs sync and async, and
//!   `redis-benchmark -c 1 -P <batch>` (the ceiling); plus the CPU time per command of the
//!   client and of the server, which says which side limits each figure.
//! - (b) the cost of redpipe's model: nested scopes and `on_execute` callbacks against flat
//!   queueing, 1000 `INCR`s per pipeline.
//! - (c) heap allocator calls per command once warm.
//! - (d) peak resident memory of a million-command pipeline, measured in a child process
//!   (`--peak-1m <client>`, a hidden mode of this binary).
//! - (e) Redis Cluster (`cluster.rs`), (f) real work (`work.rs`).
//! - (g) many tasks, one service (`service.rs`): requests of four commands from 1 to 256
//!   concurrent tasks or 8 and 64 threads, beside redis-rs and fred, with the number of server
//!   connections each client used.
//! - (h) Pub/Sub (`pubsub.rs`): messages per second into one subscriber and fanned out to 100,
//!   redpipe's subscribers beside redis-rs and fred.
//! - (i) client-side caching (`caching.rs`): a pipeline of `GET`s answered from the cache
//!   against the same pipeline sent to the server.
//!
//! Every figure is measured several times (3, or `--reps N`; 1 with `--quick`) and shown as the
//! median with min–max; every client is warmed up before each measurement; ratios pair
//! measurements of the same repetition. Clients run one after the other, never at once, in a
//! rotating order. `BENCHMARKS.md` ("End to end") has the results and how to read them.

mod args;
mod caching;
mod chart;
mod clients;
mod cluster;
mod memory;
mod model;
mod procfs;
mod pubsub;
mod report;
mod service;
mod throughput;
mod tool;
mod work;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use redpipe::core::VecPipeline;
use redpipe::prelude::*;
use redpipe::{Addr, Connection, ConnectionInfo};
use tokio::runtime::Runtime;

use args::{USAGE, parse_args};
use clients::{Client, Command};
use model::Variant;
use procfs::ServerCpu;
use report::{Samples, Table};

/// Errors end the run with a message.
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

// Counts allocator calls for figure (c). The wrapper costs two uncontended atomic adds per
// allocator call, on every client alike; build without the `count-allocs` feature to check
// that it does not move the throughput figures.
#[cfg(feature = "count-allocs")]
#[global_allocator]
static GLOBAL: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

/// How much to measure.
struct Plan {
    quick: bool,
    reps: usize,
    /// Wait for a quiet machine before each cell ([`procfs::wait_quiet`]).
    wait_quiet: bool,
}

/// Time spent waiting for a quiet machine, for the report.
static WAITED_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Plan {
    /// Before a cell of measurements: waits (at most 5 minutes) until the machine is quiet,
    /// when asked to.
    pub(crate) fn settle(&self) {
        if self.wait_quiet {
            let waited = procfs::wait_quiet(0.15, std::time::Duration::from_secs(300));
            WAITED_MS.fetch_add(
                waited.as_millis() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    }

    /// Commands per measurement: about 0.3–0.5 s at the ceiling (a quarter with `--quick`),
    /// a whole number of batches.
    fn ops(&self, batch: usize) -> usize {
        let full = match batch {
            1 => 6_000,
            16 => 80_000,
            256 => 512_000,
            _ => 800_000,
        };
        let ops = if self.quick { full / 4 } else { full };
        (ops / batch).max(1) * batch
    }
}

/// One measurement.
#[derive(Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) rate: f64,
    pub(crate) client_ns: Option<f64>,
    pub(crate) server_ns: Option<f64>,
}

/// The figures of one cell over the repetitions.
#[derive(Default)]
pub(crate) struct Cell {
    pub(crate) rate: Samples,
    pub(crate) client_ns: Samples,
    pub(crate) server_ns: Samples,
}

impl Cell {
    pub(crate) fn add(&mut self, s: Sample) {
        self.rate.push(s.rate);
        if let Some(v) = s.client_ns {
            self.client_ns.push(v);
        }
        if let Some(v) = s.server_ns {
            self.server_ns.push(v);
        }
    }
}

struct Bench {
    rt: Runtime,
    info: ConnectionInfo,
    url: String,
    plan: Plan,
    server: ServerCpu,
    admin: Connection,
    tool: tool::Tool,
    version: String,
    /// Where the server and the clients run, for the report.
    placement: String,
}

/// Nanoseconds per command between two CPU-time readings.
pub(crate) fn per_command(before: Option<u64>, after: Option<u64>, ops: usize) -> Option<f64> {
    Some(after?.checked_sub(before?)? as f64 / ops as f64)
}

impl Bench {
    fn new(
        url: &str,
        quick: bool,
        pin: bool,
        reps: Option<usize>,
        wait_quiet: bool,
    ) -> Result<Self> {
        let info: ConnectionInfo = url.parse()?;
        let Addr::Tcp { host, port } = info.addr.clone() else {
            return Err("the benchmark needs a redis:// TCP URL (redis-benchmark uses it)".into());
        };
        let mut admin = Connection::open(&info)?;
        let mut p = VecPipeline::new();
        let server_info = p.query::<&str>(cmd("INFO").arg("server"))?;
        admin.execute(&mut p)?;
        let text = server_info.read(&p).map_err(|e| e.to_string())?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        };
        let pid = field("process_id").and_then(|v| v.parse().ok());
        let version = field("redis_version").unwrap_or_else(|| "?".into());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        redpipe::connect(url)?;
        let server = ServerCpu::new(pid);
        let placement = match (pin, server.pid()) {
            (false, _) => "server and clients unpinned (the scheduler places them)".to_string(),
            (true, None) => return Err("--pin needs a local redis-server".into()),
            (true, Some(server_pid)) => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                if cores < 2 {
                    return Err("--pin needs 2 CPUs".into());
                }
                if !(procfs::pin(server_pid, 0) && procfs::pin(&std::process::id().to_string(), 1))
                {
                    return Err("--pin: taskset failed".into());
                }
                "redis-server pinned to CPU 0; clients (this process, redis-benchmark) to CPU 1"
                    .to_string()
            }
        };
        Ok(Self {
            rt,
            url: url.to_string(),
            plan: Plan {
                quick,
                reps: reps.unwrap_or(if quick { 1 } else { 3 }).max(1),
                wait_quiet,
            },
            server,
            admin,
            tool: tool::Tool { host, port },
            version,
            placement,
            info,
        })
    }

    /// Figure (f) on this bench's server and runtime.
    fn work_figure(&mut self) -> work::Figure<'_> {
        work::Figure {
            rt: &self.rt,
            info: &self.info,
            url: &self.url,
            host: &self.tool.host,
            port: self.tool.port,
            server: &self.server,
            admin: &mut self.admin,
            quick: self.plan.quick,
            reps: self.plan.reps,
            settle: {
                let plan = &self.plan;
                Box::new(move || plan.settle())
            },
        }
    }

    /// Figure (g) on this bench's server.
    fn service_figure(&mut self) -> service::Figure<'_> {
        service::Figure {
            info: &self.info,
            url: &self.url,
            admin: &mut self.admin,
            quick: self.plan.quick,
            reps: self.plan.reps,
            settle: {
                let plan = &self.plan;
                Box::new(move || plan.settle())
            },
            timed: None,
        }
    }

    /// Pins every node of the cluster at `urls` to CPU 0, beside the single server (this
    /// process is on CPU 1 already).
    fn pin_cluster(&mut self, urls: &[String]) -> Result<()> {
        for url in urls {
            let info: ConnectionInfo = url.parse()?;
            let pid = server_pid(&info)?.ok_or("--pin: a cluster node without process_id")?;
            if !procfs::pin(&pid.to_string(), 0) {
                return Err("--pin: taskset failed on a cluster node".into());
            }
        }
        self.placement
            .push_str("; cluster nodes (figure e) pinned to CPU 0 too");
        Ok(())
    }

    /// Leaves the keys as `redis-benchmark`'s own `SET` test would: `GET` reads 3 bytes.
    fn prepare(&mut self, c: Command) -> Result<()> {
        if c == Command::Get {
            let mut p = VecPipeline::new();
            let set = p.set(Command::Get.key(), "xxx")?;
            self.admin.execute(&mut p)?;
            set.read(&p).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// A warm-up run of a tenth of the batches, then `ops` commands timed.
    fn measure(
        &mut self,
        client: &mut dyn Client,
        c: Command,
        batch: usize,
        ops: usize,
    ) -> Result<Sample> {
        self.prepare(c)?;
        let batches = ops / batch;
        black_box(client.run(&self.rt, c, batch, (batches / 10).max(1))?);
        let (client0, server0) = (procfs::cpu_ns("self"), self.server.ns());
        let t = Instant::now();
        black_box(client.run(&self.rt, c, batch, batches)?);
        let wall = t.elapsed().as_secs_f64();
        let (client1, server1) = (procfs::cpu_ns("self"), self.server.ns());
        let ops = batches * batch;
        Ok(Sample {
            rate: ops as f64 / wall,
            client_ns: per_command(client0, client1, ops),
            server_ns: per_command(server0, server1, ops),
        })
    }

    fn measure_tool(&mut self, c: Command, batch: usize, ops: usize) -> Result<Sample> {
        self.prepare(c)?;
        let server0 = self.server.ns();
        let rate = self.tool.run(c, batch, ops)?;
        Ok(Sample {
            rate,
            client_ns: None,
            // Includes the tool's connection setup: a few commands in hundreds of thousands.
            server_ns: per_command(server0, self.server.ns(), ops),
        })
    }

    fn spread(&self) -> String {
        if self.plan.reps > 1 {
            format!("(min–max) of {} runs", self.plan.reps)
        } else {
            "(one run, --quick)".into()
        }
    }

    /// One case in a loop for `seconds` (default 10), for `perf record`; prints its ops/s.
    fn profile(&mut self, case: &str) -> Result<()> {
        let parts: Vec<&str> = case.split(',').collect();
        let [command, batch, client, rest @ ..] = parts.as_slice() else {
            return Err(USAGE.into());
        };
        let c = match *command {
            "set" => Command::Set,
            "get" => Command::Get,
            "incr" => Command::Incr,
            "set100" => Command::Set100,
            other => return Err(format!("unknown command {other:?}\n{USAGE}").into()),
        };
        let batch: usize = batch.parse()?;
        let seconds: f64 = rest.first().map_or(Ok(10.0), |s| s.parse())?;
        let mut client: Box<dyn Client> = match *client {
            "redpipe" => Box::new(clients::RedpipeBlocking::open(&self.info)?),
            "redpipe-rewind" => Box::new(clients::RedpipeRewind::open(&self.info)?),
            "redpipe-overlap" => Box::new(clients::RedpipeOverlap::open(&self.info)?),
            "redpipe-tokio" => Box::new(clients::RedpipeTokio::open(&self.rt, &self.info)?),
            "pipe" => Box::new(clients::RedpipePipe::default()),
            "redis-rs" => Box::new(clients::RedisSync::open(&self.url)?),
            "redis-rs-async" => Box::new(clients::RedisAsync::open(&self.rt, &self.url)?),
            other => return Err(format!("unknown client {other:?}\n{USAGE}").into()),
        };
        let ops = self.plan.ops(batch);
        let t = Instant::now();
        let mut rates = Samples::default();
        while t.elapsed().as_secs_f64() < seconds {
            rates.push(self.measure(client.as_mut(), c, batch, ops)?.rate);
        }
        println!(
            "{} ×{batch}: {} ops/s (median of {} measurements; {})",
            c.label(),
            report::rate(rates.median()),
            rates.len(),
            self.placement
        );
        Ok(())
    }

    /// Figure (b).
    fn model(&mut self) -> Result<Table> {
        const BATCH: usize = 1000;
        let ops = self.plan.ops(BATCH);
        let mut clients = Variant::ALL
            .iter()
            .map(|&v| Ok((v, model::ModelClient::open(&self.info, v)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut cells: HashMap<Variant, Cell> = HashMap::new();
        for rep in 0..self.plan.reps {
            self.plan.settle();
            let mut line = format!("(b) rep {}/{}:", rep + 1, self.plan.reps);
            let n = clients.len();
            for k in 0..n {
                let (variant, client) = &mut clients[(k + rep) % n];
                let variant = *variant;
                let sample = self.measure(client, Command::Incr, BATCH, ops)?;
                line.push_str(&format!(
                    " [{}] {}",
                    variant.label(),
                    report::rate(sample.rate)
                ));
                cells.entry(variant).or_default().add(sample);
            }
            eprintln!("{line}");
        }
        let mut t = Table::new(
            format!(
                "(b) The cost of the model: 1000 INCR per pipeline, blocking connection, median {}",
                self.spread()
            ),
            &[
                "queueing",
                "ops/s",
                "time/cmd vs flat",
                "client CPU ns/cmd",
                "client CPU vs flat",
                "time/cmd vs Pipe flat",
            ],
            1,
        );
        let empty = Cell::default();
        let flat = cells.get(&Variant::Flat).unwrap_or(&empty);
        let pipe_flat = cells.get(&Variant::PipeFlat).unwrap_or(&empty);
        // Time per command is 1 / rate: the variant's share over flat is flat's rate over its.
        let slower = |base: &Samples, v: &Samples| Samples::ratio(base, v).map(|x| x - 1.0);
        let mut worst: Option<(f64, String)> = None;
        for v in Variant::ALL {
            let cell = cells.get(&v).unwrap_or(&empty);
            let time = slower(&flat.rate, &cell.rate);
            let cpu = Samples::ratio(&cell.client_ns, &flat.client_ns).map(|x| x - 1.0);
            if v != Variant::Flat && !v.is_pipe() {
                let m = time.median();
                if worst.as_ref().is_none_or(|(w, _)| m > *w) {
                    worst = Some((m, v.label()));
                }
            }
            t.rows.push(vec![
                v.label(),
                cell.rate.show(report::rate),
                time.show(report::percent),
                cell.client_ns.show(report::ns),
                cpu.show(report::percent),
                if v.is_pipe() {
                    slower(&pipe_flat.rate, &cell.rate).show(report::percent)
                } else {
                    String::new()
                },
            ]);
        }
        if let Some((w, at)) = worst {
            t.notes.push(format!(
                "target core composition (scopes, callbacks) < +10% per command vs flat: {} \
                 (worst {}, {at})",
                if w < 0.10 { "met" } else { "MISSED" },
                report::percent(w)
            ));
        }
        Ok(t)
    }

    /// Figure (c).
    fn allocations(&mut self) -> Result<Table> {
        let fixed: Vec<(&str, Box<dyn Client>)> = vec![
            (
                "redpipe: Connection + reused VecPipeline",
                Box::new(clients::RedpipeBlocking::open(&self.info)?),
            ),
            (
                "redpipe tokio: AsyncConnection + reused VecPipeline",
                Box::new(clients::RedpipeTokio::open(&self.rt, &self.info)?),
            ),
            (
                "redpipe std Pipe: autoexec per batch",
                Box::new(clients::RedpipePipe::default()),
            ),
            (
                "redis-rs: reused redis::pipe(), query",
                Box::new(clients::RedisSync::open(&self.url)?),
            ),
            (
                "redis-rs async: multiplexed, query_async",
                Box::new(clients::RedisAsync::open(&self.rt, &self.url)?),
            ),
        ];
        // (name, client, whether it only runs figure (b)'s case, INCR ×1000)
        let mut clients: Vec<(String, Box<dyn Client>, bool)> = fixed
            .into_iter()
            .map(|(name, c)| (name.to_string(), c, false))
            .collect();
        for v in [
            Variant::Callbacks,
            Variant::PipeNested(3),
            Variant::PipeCallbacks,
        ] {
            let client: Box<dyn Client> = Box::new(model::ModelClient::open(&self.info, v)?);
            clients.push((format!("redpipe {}", v.label()), client, true));
        }
        let cases = [
            (Command::Incr, 16, 200),
            (Command::Incr, 1000, 20),
            (Command::Get, 1000, 20),
            (Command::Set100, 1000, 20),
        ];
        let mut header = vec!["client".to_string()];
        header.extend(cases.iter().map(|(c, b, _)| format!("{} ×{b}", c.label())));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut t = Table::new(
            "(c) Heap allocator calls per command, warm (allocations + reallocations)",
            &header,
            1,
        );
        for (name, client, incr_only) in &mut clients {
            let mut row = vec![name.clone()];
            for &(c, batch, batches) in &cases {
                if *incr_only && (c != Command::Incr || batch != 1000) {
                    row.push("–".into());
                    continue;
                }
                self.prepare(c)?;
                let n = memory::allocs_per_command(client.as_mut(), &self.rt, c, batch, batches)?;
                row.push(n.map_or_else(|| "not counted".into(), |n| format!("{n:.3}")));
            }
            eprintln!("(c) {}", row.join("  "));
            t.rows.push(row);
        }
        Ok(t)
    }

    /// Figure (d).
    fn peak(&mut self) -> Result<Table> {
        let mut t = Table::new(
            "(d) Peak memory of one 1,000,000-command pipeline (child process, VmHWM)",
            &[
                "client",
                "RSS before",
                "peak RSS",
                "peak growth per command",
                "seconds",
            ],
            1,
        );
        for (name, label) in memory::PEAK_CLIENTS {
            if name.ends_with("get100") {
                // Every key read holds a 100-byte value.
                work::prepare(
                    &mut self.admin,
                    &work::Keys::new(),
                    work::Work::Get {
                        size: 100,
                        owned: false,
                    },
                )?;
            }
            let p = memory::measure_peak(&self.url, name)?;
            eprintln!("(d) {name}: {p:?}");
            t.rows.push(vec![
                label.to_string(),
                format!("{:.1} MiB", p.base_kib as f64 / 1024.0),
                format!("{:.1} MiB", p.peak_kib as f64 / 1024.0),
                format!("{:.0} B", p.bytes_per_command()),
                format!("{:.2}", p.seconds),
            ]);
        }
        Ok(t)
    }
}

/// The `process_id` in a server's `INFO server`.
fn server_pid(info: &ConnectionInfo) -> Result<Option<u32>> {
    let mut conn = Connection::open(info)?;
    let mut p = VecPipeline::new();
    let server_info = p.query::<&str>(cmd("INFO").arg("server"))?;
    conn.execute(&mut p)?;
    let text = server_info.read(&p).map_err(|e| e.to_string())?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|v| v.trim().parse().ok()))
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2e: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args = parse_args()?;
    if let Some(client) = &args.peak {
        return memory::run_peak_child(&args.url, client);
    }
    let mut bench = Bench::new(&args.url, args.quick, args.pin, args.reps, args.wait_quiet)?;
    if let Some(case) = &args.profile {
        if let Some(rest) = case.strip_prefix("work,") {
            let parts: Vec<&str> = rest.split(',').collect();
            let [work, batch, who, rest @ ..] = parts.as_slice() else {
                return Err("--profile work,WORKLOAD-INDEX,BATCH,CONTENDER-INDEX[,SECONDS]".into());
            };
            let seconds = rest.first().map_or(Ok(10.0), |s| s.parse())?;
            return bench.work_figure().profile(
                work.parse()?,
                batch.parse()?,
                who.parse()?,
                seconds,
            );
        }
        if let Some(rest) = case.strip_prefix("service,") {
            let parts: Vec<&str> = rest.split(',').collect();
            let [shape, who, rest @ ..] = parts.as_slice() else {
                return Err("--profile service,SHAPE,CONTENDER[,SECONDS]".into());
            };
            let seconds = rest.first().map_or(Ok(10.0), |s| s.parse())?;
            return bench.service_figure().profile(shape, who, seconds);
        }
        if let Some(rest) = case.strip_prefix("pubsub,") {
            let parts: Vec<&str> = rest.split(',').collect();
            let [shape, who, rest @ ..] = parts.as_slice() else {
                return Err("--profile pubsub,SHAPE,CLIENT[,RUNS]".into());
            };
            let runs = rest.first().map_or(Ok(10), |s| s.parse())?;
            return pubsub::profile(&args.url, shape, who, runs);
        }
        if let Some(rest) = case.strip_prefix("cluster,") {
            let parts: Vec<&str> = rest.split(',').collect();
            let seconds = parts.get(3).map_or(Ok(10.0), |s| s.parse())?;
            return cluster::profile(
                &bench.rt,
                &args.cluster,
                &parts[..3.min(parts.len())],
                seconds,
            );
        }
        return bench.profile(case);
    }
    let started = Instant::now();
    eprintln!(
        "redpipe e2e: redis-server {} at {}, {} ({} run{} per figure); {}",
        bench.version,
        args.url,
        if args.quick { "quick" } else { "full" },
        bench.plan.reps,
        if bench.plan.reps == 1 { "" } else { "s" },
        bench.placement
    );
    let wants = |figure: &str| args.only.is_empty() || args.only.iter().any(|f| f == figure);
    let mut tables = Vec::new();
    if wants("a") {
        tables.extend(bench.throughput()?);
    }
    if wants("b") {
        tables.push(bench.model()?);
    }
    if wants("c") {
        tables.push(bench.allocations()?);
    }
    if wants("d") {
        tables.push(bench.peak()?);
    }
    if wants("f") {
        let results = bench.work_figure().run(&work::Work::ALL)?;
        tables.extend(work::tables(&results));
        if let Some(path) = &args.svg {
            chart::write(path, &results)?;
            eprintln!("(f) chart written to {path}");
        }
    }
    if wants("g") {
        let results = bench.service_figure().run()?;
        tables.extend(service::tables(&results));
    }
    if wants("h") {
        let plan = &bench.plan;
        tables.extend(pubsub::figure(&args.url, (plan.reps, args.quick), &|| {
            plan.settle()
        })?);
    }
    if wants("i") {
        tables.extend(caching::figure(&args.url, bench.plan.reps, args.quick)?);
    }
    if wants("e") && !args.cluster.is_empty() {
        if args.pin {
            bench.pin_cluster(&args.cluster)?;
        }
        tables.extend(cluster::figure(
            &bench.rt,
            &args.cluster,
            args.quick,
            bench.plan.reps,
            &|| bench.plan.settle(),
        )?);
    }

    println!(
        "\nredpipe end to end: redis-server {} at {}; {} mode; {:.0} s ({:.0} s of it waiting \
         for a quiet machine)\n{}\n",
        bench.version,
        args.url,
        if args.quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64(),
        WAITED_MS.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0,
        bench.placement
    );
    for t in &tables {
        println!("{}", t.plain());
    }
    println!("---- markdown ----\n");
    for t in &tables {
        println!("{}", t.markdown());
    }
    Ok(())
}
