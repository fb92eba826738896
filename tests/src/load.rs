//! Pipelined `INCR`s over many keys, run without pause from a few threads and tokio tasks while
//! a test changes the cluster under them, and accounted key by key: what each handle said
//! against what the server holds at the end.
//!
//! A handle that reads `Ok(n)` says its `INCR` ran once and made the key `n`; one that reads a
//! server error (`MOVED`, `CLUSTERDOWN`...) or a cancellation says it did not run; one that
//! reads any other failure (a connection lost after the command was sent) does not know. So
//! at the end, for every key, the server's value must lie between the acknowledged count and
//! that count plus the unknown ones, and the values the acknowledged handles read must be
//! distinct: a write acknowledged then lost would let a later `INCR` read the same value again.
//!
//! This module drives the code under test (unlike the cluster harness, which never does).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redpipe::error::Failure;
use redpipe::prelude::*;
use redpipe::{Connections, Error, Handle};

use crate::RedisCluster;

/// Commands per pipeline.
const PIPE: usize = 50;
/// A breath between pipelines, so that the nodes (on the same few cores) keep time for their
/// cluster bus and their failover.
const BREATH: Duration = Duration::from_millis(2);
/// How often a short pipeline arrives (see [`arrivals`]), and its keys.
const ARRIVAL: Duration = Duration::from_millis(20);
const ARRIVING: usize = 6;

/// What the handles of one key said.
#[derive(Debug, Default, Clone)]
struct KeyTally {
    /// The values the `Ok` handles read.
    acked: Vec<i64>,
    /// Handles whose command may or may not have run.
    unknown: u64,
    /// Handles whose command did not run.
    refused: u64,
}

/// One failed handle, for the report.
#[derive(Debug, Clone)]
pub struct Failed {
    /// The key of its command.
    pub key: String,
    /// What the handle said.
    pub error: String,
    /// Whether the command may have run (the outcome is unknown).
    pub unknown: bool,
    /// When its pipeline started.
    pub started: Instant,
}

#[derive(Debug, Default)]
struct Tally {
    keys: Vec<KeyTally>,
    failed: Vec<Failed>,
    /// (start, duration) of every pipeline.
    pipelines: Vec<(Instant, Duration)>,
    /// When each pipeline in flight started, by its number.
    running: std::collections::BTreeMap<u64, Instant>,
    /// Pipelines started so far (numbers them).
    started: u64,
}

/// Workers running pipelines of `INCR`s until [`finish`](Self::finish).
#[derive(Debug)]
pub struct Load {
    keys: Arc<Vec<String>>,
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

/// What a load saw, key by key, once finished.
#[derive(Debug)]
pub struct Outcome {
    /// Pipelines run.
    pub pipelines: usize,
    /// Handles that read `Ok`.
    pub acked: u64,
    /// Every failed handle.
    pub failed: Vec<Failed>,
    /// Keys whose value is below what was acknowledged, or whose acknowledged handles read a
    /// value twice: acknowledged writes lost.
    pub lost: Vec<String>,
    /// Keys whose value is above what was acknowledged plus what may have run: writes applied
    /// twice, or applied though a handle said they were not.
    pub extra: Vec<String>,
    /// Every pipeline's start and duration, in start order.
    pub pipelines_timed: Vec<(Instant, Duration)>,
}

impl Outcome {
    /// The longest pipeline that started at or after `from` and before `to`.
    pub fn longest_between(&self, from: Instant, to: Instant) -> Duration {
        self.pipelines_timed
            .iter()
            .filter(|(s, _)| *s >= from && *s < to)
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default()
    }

    /// How long after `t` the last pipeline started before `t` ended (zero if all ended
    /// before): for `t` the moment a failover was complete, how long the load stayed stalled
    /// past the cluster's own recovery.
    pub fn stalled_past(&self, t: Instant) -> Duration {
        self.pipelines_timed
            .iter()
            .filter(|(s, _)| *s < t)
            .map(|(s, d)| (*s + *d).saturating_duration_since(t))
            .max()
            .unwrap_or_default()
    }

    /// The longest pipeline.
    pub fn longest(&self) -> Duration {
        self.pipelines_timed
            .iter()
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default()
    }

    /// A few lines on what went wrong, for an assertion's message.
    pub fn summary(&self) -> String {
        let unknown = self.failed.iter().filter(|f| f.unknown).count();
        let mut out = format!(
            "{} pipelines, {} acknowledged, {} failed ({} outcome unknown), lost on {:?}, extra on {:?}",
            self.pipelines,
            self.acked,
            self.failed.len(),
            unknown,
            self.lost,
            self.extra
        );
        for f in self.failed.iter().take(5) {
            out += &format!("\n  {}: {}", f.key, f.error);
        }
        out
    }
}

impl Load {
    /// Starts `threads` threads (blocking pipelines) and `tasks` tokio tasks (on one more
    /// thread, a runtime of its own, where short pipelines also arrive every 20 ms, each in a
    /// task of its own) running pipelines of `INCR`s over `keys` keys, `k:0` to
    /// `k:<keys - 1>` (spread over every slot range, so every node gets its share), on the
    /// default name of `r`.
    pub fn start(r: &Connections, keys: usize, threads: usize, tasks: usize) -> Self {
        let keys = Arc::new((0..keys).map(|i| format!("k:{i}")).collect::<Vec<_>>());
        let tally = Arc::new(Mutex::new(Tally {
            keys: vec![KeyTally::default(); keys.len()],
            ..Tally::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..threads {
            let (r, keys, tally, stop) = (r.clone(), keys.clone(), tally.clone(), stop.clone());
            workers.push(std::thread::spawn(move || {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    let picked = pick(&keys, w, round);
                    let started = begin(&tally);
                    let mut p = r.pipe();
                    let handles: Vec<Handle<i64>> =
                        picked.iter().map(|&k| p.incr(&keys[k])).collect();
                    let _ = p.execute();
                    account(&tally, &keys, &picked, &handles, started);
                    round += 1;
                    std::thread::sleep(BREATH);
                }
            }));
        }
        if tasks > 0 {
            let (r, keys, tally, stop) = (r.clone(), keys.clone(), tally.clone(), stop.clone());
            workers.push(std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                rt.block_on(async move {
                    let runs = (0..tasks).map(|t| {
                        let (r, keys, tally, stop) =
                            (r.clone(), keys.clone(), tally.clone(), stop.clone());
                        async move {
                            let mut round = 0;
                            while !stop.load(Ordering::Relaxed) {
                                let w = threads + t;
                                let picked = pick(&keys, w, round);
                                let started = begin(&tally);
                                let mut p = r.pipe();
                                let handles: Vec<Handle<i64>> =
                                    picked.iter().map(|&k| p.incr(&keys[k])).collect();
                                let _ = p.execute_async().await;
                                account(&tally, &keys, &picked, &handles, started);
                                round += 1;
                                tokio::time::sleep(BREATH).await;
                            }
                        }
                    });
                    let arrivals = {
                        let (r, keys, tally, stop) =
                            (r.clone(), keys.clone(), tally.clone(), stop.clone());
                        arrivals(r, keys, tally, stop)
                    };
                    futures_join(
                        runs.map(|run| Box::pin(run) as Run)
                            .chain([Box::pin(arrivals) as Run]),
                    )
                    .await;
                });
            }));
        }
        Self {
            keys,
            tally,
            stop,
            workers,
        }
    }

    /// Pipelines run so far.
    pub fn pipelines(&self) -> usize {
        self.lock().pipelines.len()
    }

    /// Waits until `more` pipelines more than now have run (at most 30 s: then panics, as the
    /// load has hung).
    pub fn wait_pipelines(&self, more: usize) {
        let target = self.pipelines() + more;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.pipelines() < target {
            assert!(
                Instant::now() < deadline,
                "the load made no progress for 30 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until every pipeline started before `t` has finished (at most 30 s: then
    /// panics), so that an event after this does not fall on them.
    pub fn wait_started_before(&self, t: Instant) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.lock().running.values().any(|&s| s < t) {
            assert!(
                Instant::now() < deadline,
                "a pipeline ran for more than 30 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the workers, waits for their last pipelines, and accounts every key against the
    /// value `cluster` holds for it now (read from the slot's primary, not through the code
    /// under test).
    pub fn finish(mut self, cluster: &RedisCluster) -> Outcome {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers.drain(..) {
            w.join().expect("a load worker panicked");
        }
        let tally = std::mem::take(&mut *self.lock());
        let mut outcome = Outcome {
            pipelines: tally.pipelines.len(),
            acked: 0,
            failed: tally.failed,
            lost: Vec::new(),
            extra: Vec::new(),
            pipelines_timed: tally.pipelines,
        };
        outcome.pipelines_timed.sort_by_key(|(s, _)| *s);
        for (key, t) in self.keys.iter().zip(tally.keys) {
            let port = cluster.port_of_slot(cluster.slot_of(key));
            let value: i64 = cluster
                .get(port, key)
                .map_or(0, |v| v.parse().expect("a counter"));
            let acked = t.acked.len() as i64;
            outcome.acked += acked as u64;
            let mut seen = t.acked.clone();
            seen.sort_unstable();
            seen.dedup();
            let read_twice = seen.len() != t.acked.len();
            let above = seen.last().is_some_and(|&max| max > value);
            if value < acked || read_twice || above {
                outcome.lost.push(format!(
                    "{key}: {value} on the server, {acked} acknowledged, values read {:?}",
                    t.acked
                ));
            }
            if value > acked + t.unknown as i64 {
                outcome.extra.push(format!(
                    "{key}: {value} on the server, {acked} acknowledged, {} unknown, {} refused",
                    t.unknown, t.refused
                ));
            }
        }
        outcome
    }
}

/// The keys of worker `w`'s `round`-th pipeline: `PIPE` keys in a row from a place that
/// moves on every round, so every key is hit by every worker in turn.
fn pick(keys: &[String], w: usize, round: usize) -> Vec<usize> {
    let start = (round * PIPE + w * 7919) % keys.len();
    (0..PIPE.min(keys.len()))
        .map(|i| (start + i) % keys.len())
        .collect()
}

/// Notes that a pipeline starts now: its number and now.
fn begin(tally: &Mutex<Tally>) -> (u64, Instant) {
    let now = Instant::now();
    let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
    let n = tally.started;
    tally.started += 1;
    tally.running.insert(n, now);
    (n, now)
}

/// Files what each handle of a pipeline said.
fn account(
    tally: &Mutex<Tally>,
    keys: &[String],
    picked: &[usize],
    handles: &[Handle<i64>],
    (n, started): (u64, Instant),
) {
    let took = started.elapsed();
    let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
    tally.pipelines.push((started, took));
    tally.running.remove(&n);
    for (&k, h) in picked.iter().zip(handles) {
        let t = &mut tally.keys[k];
        let unknown = match h.result() {
            Ok(v) => {
                t.acked.push(v);
                continue;
            }
            // A reply that is an error (MOVED, CLUSTERDOWN, TRYAGAIN...): it did not run.
            Err(Error::Server(_) | Error::Failed(Failure::Cancelled)) => false,
            Err(_) => true,
        };
        match unknown {
            true => t.unknown += 1,
            false => t.refused += 1,
        }
        let error = h.result().err().map(|e| e.to_string()).unwrap_or_default();
        tally.failed.push(Failed {
            key: keys[k].clone(),
            error,
            unknown,
            started,
        });
    }
}

type Run = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A short pipeline (`ARRIVING` keys) arriving every `ARRIVAL` whatever the others do, each
/// a task of its own, as requests to a server: they do not wait for each other, so that while a
/// node holds every pipeline in flight, new ones still start.
async fn arrivals(
    r: Connections,
    keys: Arc<Vec<String>>,
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
) {
    let mut set = tokio::task::JoinSet::new();
    let mut round = 0;
    while !stop.load(Ordering::Relaxed) {
        let picked: Vec<usize> = (0..ARRIVING)
            .map(|i| (round * ARRIVING + i * 97) % keys.len())
            .collect();
        let (r, keys, tally) = (r.clone(), keys.clone(), tally.clone());
        set.spawn(async move {
            let started = begin(&tally);
            let mut p = r.pipe();
            let handles: Vec<Handle<i64>> = picked.iter().map(|&k| p.incr(&keys[k])).collect();
            let _ = p.execute_async().await;
            account(&tally, &keys, &picked, &handles, started);
        });
        while set.try_join_next().is_some() {}
        round += 1;
        tokio::time::sleep(ARRIVAL).await;
    }
    while set.join_next().await.is_some() {}
}

/// Runs every future to its end, concurrently (on the current runtime).
async fn futures_join(runs: impl Iterator<Item = Run>) {
    let mut set = tokio::task::JoinSet::new();
    for run in runs {
        set.spawn(run);
    }
    while let Some(done) = set.join_next().await {
        done.expect("a load task panicked");
    }
}
