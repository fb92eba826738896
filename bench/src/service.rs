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

pub(crate) mod census;
mod contenders;
mod tables;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redpipe::core::VecPipeline;
use redpipe::prelude::*;
use redpipe::{Connection, ConnectionInfo};
use tokio::runtime::Runtime;

use crate::report::{self, Samples};
use census::Census;
use contenders::{AsyncContender, BlockingContender};
pub(crate) use tables::tables;

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

    /// `1`, `8`, `64`, `256` (tasks on a current-thread runtime), `64w2` (tasks on 2 workers),
    /// `t8`, `t64` (threads): the names `--profile service,...` takes.
    fn parse(s: &str) -> Option<Shape> {
        if let Some(n) = s.strip_prefix('t') {
            return Some(Shape::Threads(n.parse().ok()?));
        }
        let (tasks, workers) = s.split_once('w').unwrap_or((s, "0"));
        Some(Shape::Tasks {
            tasks: tasks.parse().ok()?,
            workers: workers.parse().ok()?,
        })
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

    /// The name `--profile service,...` takes.
    fn name(self) -> &'static str {
        match self {
            Who::Redpipe => "redpipe",
            Who::RedpipeOne => "redpipe-1",
            Who::RedisMultiplexed => "redis-rs",
            Who::RedisManager => "redis-rs-manager",
            Who::Fred => "fred",
            Who::RedpipeBlocking => "redpipe-blocking",
            Who::RedisR2d2 => "r2d2",
        }
    }

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

/// One measurement: requests per second, the server connections the contender used, and the
/// connections it opened per second while timed.
struct Measured {
    rate: f64,
    conns: usize,
    opened: f64,
}

/// The samples of one (shape, contender) over the repetitions.
#[derive(Default)]
struct Cell {
    rate: Samples,
    conns: Samples,
    opened: Samples,
}

/// What figure (g) measured.
pub(crate) struct Results {
    cells: HashMap<(Shape, Who), Cell>,
    reps: usize,
}

/// Runs `tasks` tasks on `rt`, each looping (request, await, next) and counting into `done`
/// until `stop` is set.
fn run_tasks<C: AsyncContender>(
    rt: &Runtime,
    client: &C,
    data: &Arc<Data>,
    tasks: usize,
    seed: u64,
    (done, stop): (&Arc<AtomicU64>, &Arc<AtomicBool>),
) -> crate::Result<()> {
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                let (mut client, data) = (client.clone(), data.clone());
                let (done, stop) = (done.clone(), stop.clone());
                let mut rng = Rng::new(seed ^ ((i as u64) << 32));
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        if let Err(e) = client.request(&data, rng.below(KEYS)).await {
                            // Stop the others.
                            stop.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    TaskResult::Ok(())
                })
            })
            .collect();
        let mut failed = None;
        for h in handles {
            if let Err(e) = h
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
            {
                // Stop the others, then report the first failure.
                stop.store(true, Ordering::Relaxed);
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(()), |e| Err(e.into()))
    })
}

/// Runs `threads` threads, each with its own [`BlockingContender::conn`], looping (request,
/// next) and counting into `done` until `stop` is set.
fn run_threads<C: BlockingContender>(
    client: &C,
    data: &Data,
    threads: usize,
    seed: u64,
    (done, stop): (&AtomicU64, &AtomicBool),
) -> crate::Result<()> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                s.spawn(move || -> TaskResult<()> {
                    let run = || -> TaskResult<()> {
                        let mut conn = client.conn()?;
                        let mut rng = Rng::new(seed ^ ((i as u64) << 32));
                        while !stop.load(Ordering::Relaxed) {
                            client.request(&mut conn, data, rng.below(KEYS))?;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(())
                    };
                    let result = run();
                    if result.is_err() {
                        // Stop the others.
                        stop.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        let mut failed = None;
        for h in handles {
            let result = h
                .join()
                .map_err(|_| "a request thread panicked".to_string());
            if let Err(e) = result.and_then(|r| r.map_err(|e| e.to_string())) {
                stop.store(true, Ordering::Relaxed);
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(()), |e| Err(e.into()))
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
    /// The timed window, when not the figure's own (`--profile`).
    pub(crate) timed: Option<Duration>,
}

impl Figure<'_> {
    /// Warm-up and timed durations of one measurement.
    fn durations(&self) -> (Duration, Duration) {
        if let Some(timed) = self.timed {
            (Duration::from_millis(300), timed)
        } else if self.quick {
            (Duration::from_millis(150), Duration::from_millis(300))
        } else {
            (Duration::from_millis(300), Duration::from_secs(1))
        }
    }

    /// The URL with `max_connections=1`.
    fn url_one(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}max_connections=1", self.url)
    }

    /// Runs `work` (the requests, counting into `done` until `stop` is set) while the census
    /// watches: warm-up, then the timed window, on one continuous run, so that a contender is
    /// timed in its steady state.
    fn window(
        &self,
        census: &mut Census,
        work: impl FnOnce(&Arc<AtomicU64>, &Arc<AtomicBool>) -> crate::Result<()>,
    ) -> crate::Result<Measured> {
        let (warm, timed) = self.durations();
        let (done, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (worked, watched) = std::thread::scope(|s| {
            let watcher = s.spawn(|| census.watch(&done, &stop, warm, timed));
            let worked = work(&done, &stop);
            stop.store(true, Ordering::Relaxed);
            let watched = watcher
                .join()
                .map_err(|_| "the census thread panicked".to_string())
                .and_then(|w| w.map_err(|e| e.to_string()));
            (worked, watched)
        });
        worked?;
        let w = watched?;
        Ok(Measured {
            rate: w.done as f64 / w.secs,
            conns: w.conns,
            opened: w.accepted as f64 / w.secs,
        })
    }

    fn time_tasks<C: AsyncContender>(
        &self,
        census: &mut Census,
        rt: &Runtime,
        client: &C,
        data: &Arc<Data>,
        tasks: usize,
        seed: u64,
    ) -> crate::Result<Measured> {
        self.window(census, |done, stop| {
            run_tasks(rt, client, data, tasks, seed, (done, stop))
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
        self.window(census, |done, stop| {
            run_threads(client, data, threads, seed, (done, stop))
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
                        " [{}] {} ({} conn, {:.0} opened/s)",
                        w.label(),
                        report::rate(m.rate),
                        m.conns,
                        m.opened
                    ));
                    let cell: &mut Cell = results.cells.entry((shape, w)).or_default();
                    cell.rate.push(m.rate);
                    cell.conns.push(m.conns as f64);
                    cell.opened.push(m.opened);
                }
                eprintln!("{line}");
            }
        }
        census.settle()?;
        Ok(results)
    }

    /// One measurement of `shape` (see [`Shape::parse`]) and `who` (see [`Who::name`]) over
    /// `seconds`, for `perf record`: prints its requests/s and connections.
    pub(crate) fn profile(&mut self, shape: &str, who: &str, seconds: f64) -> crate::Result<()> {
        let usage = "--profile service,SHAPE,CONTENDER[,SECONDS]: SHAPE 1 8 64 256 64w2 t8 t64; \
                     CONTENDER redpipe redpipe-1 redis-rs redis-rs-manager fred (tasks), \
                     redpipe-blocking r2d2 (threads)";
        let shape = Shape::parse(shape).ok_or(usage)?;
        let who = *shape
            .contenders()
            .iter()
            .find(|w| w.name() == who)
            .ok_or(usage)?;
        self.timed = Some(Duration::from_secs_f64(seconds));
        let data = Arc::new(Data::new());
        data.prepare(self.admin)?;
        let mut census = Census::open(self.info)?;
        let m = self.measure(&mut census, &data, shape, who, 1)?;
        println!(
            "(g) {} {}: {} requests/s, {} connections, {:.0} opened/s",
            shape.label(),
            who.label(),
            report::rate(m.rate),
            m.conns,
            m.opened
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Data, FIELDS, KEYS, Rng, Shape, VALUE_LEN, Who};
    use std::collections::HashMap;

    /// The results a correct client reads for key number `n`.
    fn right(data: &Data, n: usize) -> (HashMap<String, String>, Option<f64>, Option<String>) {
        let e = &data.entries[n];
        let user = FIELDS
            .iter()
            .zip(&e.fields)
            .map(|(f, v)| (f.to_string(), v.clone()))
            .collect();
        (user, Some(n as f64), Some(e.session_value.clone()))
    }

    #[test]
    fn values_are_100_bytes_and_name_their_key() {
        let data = Data::new();
        let e = &data.entries[42];
        assert_eq!(e.user, "user:42");
        assert_eq!(e.member, "u42");
        assert!(e.fields.iter().all(|v| v.len() == VALUE_LEN));
        assert_eq!(e.session_value.len(), VALUE_LEN);
        assert!(e.session_value.starts_with("session 42 "));
    }

    #[test]
    fn check_accepts_the_right_results_and_nothing_else() {
        let data = Data::new();
        let (user, score, session) = right(&data, 7);
        assert!(data.check(7, &user, score, session.as_deref(), 1).is_ok());
        // Another key's results, a missing or changed field, a missing score or session, a
        // counter that was not incremented: each is an error.
        let (other, ..) = right(&data, 8);
        assert!(data.check(7, &other, score, session.as_deref(), 1).is_err());
        let mut fewer = user.clone();
        fewer.remove("bio");
        assert!(data.check(7, &fewer, score, session.as_deref(), 1).is_err());
        let mut changed = user.clone();
        changed.insert("plan".into(), "x".repeat(VALUE_LEN));
        assert!(
            data.check(7, &changed, score, session.as_deref(), 1)
                .is_err()
        );
        assert!(data.check(7, &user, None, session.as_deref(), 1).is_err());
        assert!(
            data.check(7, &user, Some(8.0), session.as_deref(), 1)
                .is_err()
        );
        assert!(data.check(7, &user, score, None, 1).is_err());
        assert!(data.check(7, &user, score, session.as_deref(), 0).is_err());
    }

    #[test]
    fn key_numbers_cover_the_range() {
        let mut rng = Rng::new(3);
        let mut seen = vec![false; KEYS];
        for _ in 0..20 * KEYS {
            seen[rng.below(KEYS)] = true;
        }
        // 20 draws per key on average: missing one would take a broken generator.
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn profile_names_parse() {
        for shape in Shape::ALL {
            let name = match shape {
                Shape::Tasks { tasks, workers: 0 } => tasks.to_string(),
                Shape::Tasks { tasks, workers } => format!("{tasks}w{workers}"),
                Shape::Threads(n) => format!("t{n}"),
            };
            assert_eq!(Shape::parse(&name), Some(shape), "{name}");
        }
        assert_eq!(Shape::parse("x"), None);
        let names: Vec<&str> = Who::TASKS
            .iter()
            .chain(&Who::THREADS)
            .map(|w| w.name())
            .collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }
}
