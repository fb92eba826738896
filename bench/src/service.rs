//! Figure (g), many tasks, one service (issue 22): many concurrent requests, each a small
//! pipeline awaited by its own task (or thread), against one server.
//!
//! - A request: `HGETALL user:N` (4 fields of 100 B), `ZSCORE board uN` (`board` holds the
//!   10 000 members `u0..u9999`, member `uN` at score N), `GET session:N` (100 B) and
//!   `INCR counter:N` in one pipeline, with N uniform over 10 000 (each task its own
//!   xorshift); the results read into `HashMap<String, String>`, `Option<f64>`,
//!   `Option<String>` and `i64` and checked: a wrong result ends the run with an error.
//! - Shapes: 1, 8, 64 and 256 tasks on a tokio current-thread runtime, 64 tasks on a 2-worker
//!   multi-thread runtime; 8 and 64 blocking threads. Each task or thread loops (request,
//!   await, next) until the measurement's time is up.
//! - Contenders ([`contenders`]): redpipe `Connections::autoexec_async` on a registry with one
//!   name (default settings, and `?max_connections=1`), redis-rs 1.8 `MultiplexedConnection`
//!   (one, cloned per task) and `ConnectionManager`, fred 10 (one client); blocking: redpipe
//!   `autoexec` per request on one shared registry, redis-rs with one connection per thread from
//!   an r2d2 pool.
//! - Each measurement opens its contender afresh (in a runtime of its own), warms it up, runs it
//!   for a fixed time and counts completed requests; meanwhile a thread samples the server's
//!   `connected_clients` (`INFO clients`): the most seen, less the connections open before the
//!   contender was (this bench's own), is the number of connections it used. The contender is
//!   then dropped, and the next one starts once the server has seen its connections close.

mod contenders;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use redpipe::prelude::*;
use redpipe::{Connection, ConnectionInfo, VecPipeline};
use tokio::runtime::Runtime;

use crate::report::{self, Samples, Table};
use contenders::{AsyncContender, BlockingContender};

/// Errors that tasks and threads report (sent across threads).
pub(crate) type TaskResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Key numbers N.
const KEYS: usize = 10_000;

/// The sorted set every request reads a score from.
pub(crate) const BOARD: &str = "board";

/// The fields of each `user:N` hash.
const FIELDS: [&str; 4] = ["name", "email", "plan", "bio"];

/// Bytes of every hash value and session.
const VALUE_LEN: usize = 100;

/// `prefix` padded with dots to [`VALUE_LEN`] bytes: a value that names its key.
fn value(prefix: String) -> String {
    format!("{prefix:.<VALUE_LEN$}")
}

/// The strings of key number N, made once: forming keys is not what is measured.
pub(crate) struct Entry {
    pub(crate) user: String,
    pub(crate) member: String,
    pub(crate) session: String,
    pub(crate) counter: String,
    /// The values of [`FIELDS`], in order.
    fields: [String; 4],
    session_value: String,
}

/// What every contender reads, and what it must find.
pub(crate) struct Data {
    pub(crate) entries: Vec<Entry>,
}

impl Data {
    fn new() -> Self {
        let entries = (0..KEYS)
            .map(|n| Entry {
                user: format!("user:{n}"),
                member: format!("u{n}"),
                session: format!("session:{n}"),
                counter: format!("counter:{n}"),
                fields: FIELDS.map(|f| value(format!("{f} of user {n} "))),
                session_value: value(format!("session {n} ")),
            })
            .collect();
        Self { entries }
    }

    /// Checks request `n`'s four results; a wrong one is an error.
    pub(crate) fn check(
        &self,
        n: usize,
        user: &HashMap<String, String>,
        score: Option<f64>,
        session: Option<&str>,
        visits: i64,
    ) -> TaskResult<()> {
        let e = &self.entries[n];
        let user_ok = user.len() == FIELDS.len()
            && FIELDS
                .iter()
                .zip(&e.fields)
                .all(|(f, v)| user.get(*f) == Some(v));
        if !user_ok {
            return Err(format!("HGETALL {}: unexpected {user:?}", e.user).into());
        }
        if score != Some(n as f64) {
            return Err(format!("ZSCORE {BOARD} {}: {score:?}, not {n}", e.member).into());
        }
        if session != Some(e.session_value.as_str()) {
            return Err(format!("GET {}: unexpected {session:?}", e.session).into());
        }
        if visits < 1 {
            return Err(format!("INCR {}: {visits}", e.counter).into());
        }
        Ok(())
    }

    /// Writes the hashes, sessions and the sorted set; resets the counters.
    fn prepare(&self, admin: &mut Connection) -> crate::Result<()> {
        let mut p = VecPipeline::new();
        let _ = p.del(BOARD)?;
        for (n, e) in self.entries.iter().enumerate() {
            let fields: Vec<(&str, &str)> = FIELDS
                .iter()
                .zip(&e.fields)
                .map(|(f, v)| (*f, v.as_str()))
                .collect();
            let _ = p.hset_multiple(&e.user, &fields)?;
            let _ = p.set(&e.session, &e.session_value)?;
            let _ = p.del(&e.counter)?;
            let _ = p.zadd(BOARD, &e.member, n)?;
        }
        admin.execute(&mut p)?;
        if let Some(failure) = p.failure() {
            return Err(format!("preparing figure (g): {failure}").into());
        }
        Ok(())
    }
}

/// A small, fast generator of key numbers (xorshift64*), one per task.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform over `0..n`.
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
        ((x * n as u64) >> 32) as usize
    }
}

/// How requests are issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Shape {
    /// `tasks` tokio tasks; `workers` 0 is a current-thread runtime.
    Tasks { tasks: usize, workers: usize },
    /// Blocking threads.
    Threads(usize),
}

impl Shape {
    const ALL: [Shape; 7] = [
        Shape::Tasks {
            tasks: 1,
            workers: 0,
        },
        Shape::Tasks {
            tasks: 8,
            workers: 0,
        },
        Shape::Tasks {
            tasks: 64,
            workers: 0,
        },
        Shape::Tasks {
            tasks: 256,
            workers: 0,
        },
        Shape::Tasks {
            tasks: 64,
            workers: 2,
        },
        Shape::Threads(8),
        Shape::Threads(64),
    ];

    fn label(self) -> String {
        match self {
            Shape::Tasks {
                tasks: 1,
                workers: 0,
            } => "1 task".into(),
            Shape::Tasks { tasks, workers: 0 } => format!("{tasks} tasks"),
            Shape::Tasks { tasks, workers } => format!("{tasks} tasks, {workers} workers"),
            Shape::Threads(n) => format!("{n} threads"),
        }
    }

    fn contenders(self) -> &'static [Who] {
        match self {
            Shape::Tasks { .. } => &Who::TASKS,
            Shape::Threads(_) => &Who::THREADS,
        }
    }

    /// Concurrent requests.
    fn width(self) -> usize {
        match self {
            Shape::Tasks { tasks, .. } => tasks,
            Shape::Threads(n) => n,
        }
    }
}

/// A contender of figure (g).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Who {
    Redpipe,
    RedpipeOne,
    RedisMultiplexed,
    RedisManager,
    Fred,
    RedpipeBlocking,
    RedisR2d2,
}

impl Who {
    const TASKS: [Who; 5] = [
        Who::Redpipe,
        Who::RedpipeOne,
        Who::RedisMultiplexed,
        Who::RedisManager,
        Who::Fred,
    ];
    const THREADS: [Who; 2] = [Who::RedpipeBlocking, Who::RedisR2d2];

    fn label(self) -> &'static str {
        match self {
            Who::Redpipe => "redpipe autoexec_async",
            Who::RedpipeOne => "redpipe max_connections=1",
            Who::RedisMultiplexed => "redis-rs multiplexed",
            Who::RedisManager => "redis-rs ConnectionManager",
            Who::Fred => "fred",
            Who::RedpipeBlocking => "redpipe autoexec (Pipe per request)",
            Who::RedisR2d2 => "redis-rs r2d2 (connection per thread)",
        }
    }
}

/// One measurement: requests per second, and the server connections the contender used.
struct Measured {
    rate: f64,
    conns: usize,
}

/// The samples of one (shape, contender) over the repetitions.
#[derive(Default)]
struct Cell {
    rate: Samples,
    conns: Samples,
}

/// What figure (g) measured.
pub(crate) struct Results {
    cells: HashMap<(Shape, Who), Cell>,
    reps: usize,
}

/// The server's `connected_clients`, read on a connection of this bench's own.
struct Census {
    conn: Connection,
    /// Connections open when no contender is (this bench's own, this one included).
    baseline: usize,
}

impl Census {
    fn open(info: &ConnectionInfo) -> crate::Result<Self> {
        let mut conn = Connection::open(info)?;
        let baseline = connected_clients(&mut conn)?;
        Ok(Self { conn, baseline })
    }

    /// Waits (at most 10 s) until the server has closed every connection of the previous
    /// contender.
    fn settle(&mut self) -> crate::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = connected_clients(&mut self.conn)?;
            if now <= self.baseline {
                self.baseline = now;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "figure (g): {} connections of the previous contender still open after 10 s",
                    now - self.baseline
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs `f` while a thread samples `connected_clients` every 20 ms; returns `f`'s value and
    /// the most connections seen beyond the baseline.
    fn during<T>(&mut self, f: impl FnOnce() -> crate::Result<T>) -> crate::Result<(T, usize)> {
        let stop = AtomicBool::new(false);
        let baseline = self.baseline;
        let conn = &mut self.conn;
        std::thread::scope(|s| {
            let sampler = s.spawn(|| -> TaskResult<usize> {
                let mut most = 0;
                loop {
                    most = most.max(connected_clients(conn).map_err(|e| e.to_string())?);
                    if stop.load(Ordering::Relaxed) {
                        return Ok(most);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let out = f();
            stop.store(true, Ordering::Relaxed);
            let most = sampler
                .join()
                .map_err(|_| "the connection sampler panicked")?
                .map_err(|e| e.to_string())?;
            Ok((out?, most.saturating_sub(baseline)))
        })
    }
}

/// `connected_clients` of `INFO clients`.
fn connected_clients(conn: &mut Connection) -> crate::Result<usize> {
    let mut p = VecPipeline::new();
    let info = p.query::<&str, _, _>(cmd("INFO").arg("clients"))?;
    conn.execute(&mut p)?;
    let text = info.read(&p).map_err(|e| e.to_string())?;
    let n = text
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .ok_or("INFO clients without connected_clients")?;
    Ok(n.trim().parse()?)
}

/// Requests completed and seconds taken by `tasks` tasks on `rt`, each looping until
/// `duration` is up.
fn run_tasks<C: AsyncContender>(
    rt: &Runtime,
    client: &C,
    data: &Arc<Data>,
    tasks: usize,
    duration: Duration,
    seed: u64,
) -> crate::Result<(u64, f64)> {
    rt.block_on(async {
        let start = Instant::now();
        let deadline = start + duration;
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                let (mut client, data) = (client.clone(), data.clone());
                let mut rng = Rng::new(seed ^ ((i as u64) << 32));
                tokio::spawn(async move {
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        client.request(&data, rng.below(KEYS)).await?;
                        done += 1;
                    }
                    TaskResult::Ok(done)
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.await?.map_err(|e| e.to_string())?;
        }
        Ok((total, start.elapsed().as_secs_f64()))
    })
}

/// Requests completed and seconds taken by `threads` threads, each with its own
/// [`BlockingContender::conn`], looping until `duration` is up (the clock starts once every
/// thread holds its connection).
fn run_threads<C: BlockingContender>(
    client: &C,
    data: &Data,
    threads: usize,
    duration: Duration,
    seed: u64,
) -> crate::Result<(u64, f64)> {
    let ready = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let ready = &ready;
                s.spawn(move || -> TaskResult<u64> {
                    let conn = client.conn();
                    ready.wait();
                    let mut conn = conn?;
                    let deadline = Instant::now() + duration;
                    let mut rng = Rng::new(seed ^ ((i as u64) << 32));
                    let mut done = 0;
                    while Instant::now() < deadline {
                        client.request(&mut conn, data, rng.below(KEYS))?;
                        done += 1;
                    }
                    Ok(done)
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        let mut total = 0;
        for h in handles {
            total += h
                .join()
                .map_err(|_| "a request thread panicked")?
                .map_err(|e| e.to_string())?;
        }
        Ok((total, start.elapsed().as_secs_f64()))
    })
}

/// A tokio runtime for `workers` (0: current-thread).
fn runtime(workers: usize) -> crate::Result<Runtime> {
    let mut b = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    Ok(b.enable_all().build()?)
}

/// Runs figure (g).
pub(crate) struct Figure<'a> {
    pub(crate) info: &'a ConnectionInfo,
    pub(crate) url: &'a str,
    pub(crate) admin: &'a mut Connection,
    pub(crate) quick: bool,
    pub(crate) reps: usize,
    /// Called before each cell (waits for a quiet machine when asked to).
    pub(crate) settle: Box<dyn Fn() + 'a>,
}

impl Figure<'_> {
    /// Warm-up and timed durations of one measurement.
    fn durations(&self) -> (Duration, Duration) {
        if self.quick {
            (Duration::from_millis(100), Duration::from_millis(300))
        } else {
            (Duration::from_millis(200), Duration::from_secs(1))
        }
    }

    /// The URL with `max_connections=1`.
    fn url_one(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}max_connections=1", self.url)
    }

    /// Warms `client` up, then times it with the census running.
    fn time_tasks<C: AsyncContender>(
        &self,
        census: &mut Census,
        rt: &Runtime,
        client: &C,
        data: &Arc<Data>,
        tasks: usize,
        seed: u64,
    ) -> crate::Result<Measured> {
        let (warm, timed) = self.durations();
        run_tasks(rt, client, data, tasks, warm, seed)?;
        let ((done, secs), conns) =
            census.during(|| run_tasks(rt, client, data, tasks, timed, seed + 1))?;
        Ok(Measured {
            rate: done as f64 / secs,
            conns,
        })
    }

    fn time_threads<C: BlockingContender>(
        &self,
        census: &mut Census,
        client: &C,
        data: &Data,
        threads: usize,
        seed: u64,
    ) -> crate::Result<Measured> {
        let (warm, timed) = self.durations();
        run_threads(client, data, threads, warm, seed)?;
        let ((done, secs), conns) =
            census.during(|| run_threads(client, data, threads, timed, seed + 1))?;
        Ok(Measured {
            rate: done as f64 / secs,
            conns,
        })
    }

    /// One measurement of `who` in `shape`, on a contender opened for it and dropped after.
    fn measure(
        &self,
        census: &mut Census,
        data: &Arc<Data>,
        shape: Shape,
        who: Who,
        seed: u64,
    ) -> crate::Result<Measured> {
        census.settle()?;
        match shape {
            Shape::Tasks { tasks, workers } => {
                let rt = runtime(workers)?;
                let m = match who {
                    Who::Redpipe => {
                        let c = contenders::RedpipeTasks::open(self.url)?;
                        self.time_tasks(census, &rt, &c, data, tasks, seed)
                    }
                    Who::RedpipeOne => {
                        let c = contenders::RedpipeTasks::open(&self.url_one())?;
                        self.time_tasks(census, &rt, &c, data, tasks, seed)
                    }
                    Who::RedisMultiplexed => {
                        let c = rt.block_on(contenders::RedisMultiplexed::open(self.url))?;
                        self.time_tasks(census, &rt, &c, data, tasks, seed)
                    }
                    Who::RedisManager => {
                        let c = rt.block_on(contenders::RedisManager::open(self.url))?;
                        self.time_tasks(census, &rt, &c, data, tasks, seed)
                    }
                    Who::Fred => {
                        let c = rt.block_on(contenders::Fred::open(self.url))?;
                        self.time_tasks(census, &rt, &c, data, tasks, seed)
                    }
                    Who::RedpipeBlocking | Who::RedisR2d2 => {
                        Err(format!("{} runs threads, not tasks", who.label()).into())
                    }
                };
                // The runtime goes with its tasks and the connections they drove.
                drop(rt);
                m
            }
            Shape::Threads(threads) => match who {
                Who::RedpipeBlocking => {
                    let c = contenders::RedpipeThreads::open(self.url)?;
                    self.time_threads(census, &c, data, threads, seed)
                }
                Who::RedisR2d2 => {
                    let c = contenders::RedisPooled::open(self.url, threads)?;
                    self.time_threads(census, &c, data, threads, seed)
                }
                _ => Err(format!("{} runs tasks, not threads", who.label()).into()),
            },
        }
    }

    pub(crate) fn run(&mut self) -> crate::Result<Results> {
        let data = Arc::new(Data::new());
        data.prepare(self.admin)?;
        let mut census = Census::open(self.info)?;
        let mut results = Results {
            cells: HashMap::new(),
            reps: self.reps,
        };
        for rep in 0..self.reps {
            for shape in Shape::ALL {
                (self.settle)();
                let who = shape.contenders();
                let mut line = format!("(g) rep {}/{} {}:", rep + 1, self.reps, shape.label());
                for k in 0..who.len() {
                    // Rotate the order between repetitions and shapes.
                    let w = who[(k + rep + shape.width()) % who.len()];
                    let seed = (rep * 1000 + k) as u64;
                    let m = self.measure(&mut census, &data, shape, w, seed)?;
                    line.push_str(&format!(
                        " [{}] {} ({} conn)",
                        w.label(),
                        report::rate(m.rate),
                        m.conns
                    ));
                    let cell: &mut Cell = results.cells.entry((shape, w)).or_default();
                    cell.rate.push(m.rate);
                    cell.conns.push(m.conns as f64);
                }
                eprintln!("{line}");
            }
        }
        census.settle()?;
        Ok(results)
    }
}

/// Connections used, as `n` or `min–max` over the repetitions.
fn conns(s: &Samples) -> String {
    if s.is_empty() {
        "–".into()
    } else if s.min() == s.max() {
        format!("{:.0}", s.min())
    } else {
        format!("{:.0}–{:.0}", s.min(), s.max())
    }
}

/// A target on a ratio: at least `goal` on every shape it applies to.
struct Target {
    name: &'static str,
    goal: f64,
    /// (numerator, denominator)
    pair: (Who, Who),
    applies: fn(Shape) -> bool,
    /// The shapes it applies to, in words.
    at: &'static str,
    /// Lowest median ratio seen, and where.
    lowest: Option<(f64, String)>,
}

impl Target {
    fn verdict(v: f64, goal: f64) -> &'static str {
        if v >= goal { "met" } else { "not met" }
    }
}

/// The tables of figure (g): rates and connections (tasks, threads), then ratios and targets.
pub(crate) fn tables(results: &Results) -> Vec<Table> {
    let spread = if results.reps > 1 {
        format!("(min–max) of {} runs", results.reps)
    } else {
        "(one run, --quick)".into()
    };
    let empty = Cell::default();
    let cell = |shape, who| results.cells.get(&(shape, who)).unwrap_or(&empty);
    let rate_table = |title: String, who: &[Who], shapes: &[Shape]| {
        let mut header = vec!["shape"];
        for w in who {
            header.extend([w.label(), "conns"]);
        }
        let mut t = Table::new(title, &header, 1);
        for &shape in shapes {
            let mut row = vec![shape.label()];
            for &w in who {
                let c = cell(shape, w);
                row.push(c.rate.show(report::rate));
                row.push(conns(&c.conns));
            }
            t.rows.push(row);
        }
        t
    };
    let (tasks, threads): (Vec<Shape>, Vec<Shape>) = Shape::ALL
        .iter()
        .partition(|s| matches!(s, Shape::Tasks { .. }));
    let mut async_table = rate_table(
        format!(
            "(g) Many tasks, one service: requests/s, median {spread}; server connections used"
        ),
        &Who::TASKS,
        &tasks,
    );
    async_table.notes.push(
        "a request = HGETALL user:N + ZSCORE board uN + GET session:N + INCR counter:N, one \
         pipeline awaited by its task; conns: the server's connected_clients during the run, \
         less this bench's own"
            .into(),
    );
    let blocking_table = rate_table(
        format!(
            "(g) Many threads, one service (blocking): requests/s, median {spread}; server connections used"
        ),
        &Who::THREADS,
        &threads,
    );

    let mut targets = [
        Target {
            name: "redpipe / redis-rs multiplexed",
            goal: 1.3,
            pair: (Who::Redpipe, Who::RedisMultiplexed),
            applies: |s| matches!(s, Shape::Tasks { tasks, .. } if tasks >= 8),
            at: "8, 64 and 256 tasks (64 on both runtimes)",
            lowest: None,
        },
        Target {
            name: "redpipe / redis-rs multiplexed",
            goal: 1.0,
            pair: (Who::Redpipe, Who::RedisMultiplexed),
            applies: |s| matches!(s, Shape::Tasks { tasks: 1, .. }),
            at: "1 task",
            lowest: None,
        },
        Target {
            name: "redpipe / fred",
            goal: 1.5,
            pair: (Who::Redpipe, Who::Fred),
            applies: |s| matches!(s, Shape::Tasks { tasks, .. } if tasks >= 8),
            at: "8, 64 and 256 tasks (64 on both runtimes)",
            lowest: None,
        },
        Target {
            name: "blocking redpipe / redis-rs r2d2",
            goal: 1.3,
            pair: (Who::RedpipeBlocking, Who::RedisR2d2),
            applies: |s| matches!(s, Shape::Threads(_)),
            at: "8 and 64 threads",
            lowest: None,
        },
    ];
    // Columns: each ratio, and after those the issue sets a target for, the target and
    // whether this row meets it.
    let columns: [(&str, (Who, Who), bool); 4] = [
        (
            "redpipe / redis-rs multiplexed",
            (Who::Redpipe, Who::RedisMultiplexed),
            true,
        ),
        ("redpipe / fred", (Who::Redpipe, Who::Fred), true),
        (
            "redpipe max_connections=1 / redis-rs multiplexed",
            (Who::RedpipeOne, Who::RedisMultiplexed),
            false,
        ),
        (
            "blocking redpipe / redis-rs r2d2",
            (Who::RedpipeBlocking, Who::RedisR2d2),
            true,
        ),
    ];
    let mut header = vec!["shape"];
    for (name, _, with_target) in &columns {
        header.push(name);
        if *with_target {
            header.push("target");
        }
    }
    let mut ratios = Table::new(
        format!("(g) Ratios (same repetition paired), median {spread}, and the issue's targets"),
        &header,
        1,
    );
    for shape in Shape::ALL {
        let mut row = vec![shape.label()];
        for (_, (a, b), with_target) in &columns {
            let r = Samples::ratio(&cell(shape, *a).rate, &cell(shape, *b).rate);
            row.push(r.show(report::ratio));
            if !*with_target {
                continue;
            }
            let target = targets
                .iter_mut()
                .find(|t| t.pair == (*a, *b) && (t.applies)(shape));
            row.push(match target {
                Some(t) if !r.is_empty() => {
                    let m = r.median();
                    if t.lowest.as_ref().is_none_or(|(v, _)| m < *v) {
                        t.lowest = Some((m, shape.label()));
                    }
                    format!("≥ {:.1}: {}", t.goal, Target::verdict(m, t.goal))
                }
                Some(t) => format!("≥ {:.1}: not measured", t.goal),
                None => String::new(),
            });
        }
        ratios.rows.push(row);
    }
    for t in &targets {
        ratios.notes.push(match &t.lowest {
            Some((v, shape)) => format!(
                "target {} >= {:.1} at {}: {} (lowest {v:.2}, {shape})",
                t.name,
                t.goal,
                t.at,
                if *v >= t.goal { "met" } else { "MISSED" }
            ),
            None => format!(
                "target {} >= {:.1} at {}: not measured",
                t.name, t.goal, t.at
            ),
        });
    }
    vec![async_table, blocking_table, ratios]
}
