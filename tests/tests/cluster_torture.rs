//! The operator's torture runs of issue 27, shortened: pipelined `INCR`s over many keys (spread
//! over every node) from a few threads and tokio tasks, without pause, while the cluster
//! changes under them — a slot migrated by hand, a coordinated failover, a primary killed, a
//! primary paused shorter and longer than the node timeout — then accounted key by key (see
//! `redpipe_tests::load`): no acknowledged write lost, nothing applied twice or applied though
//! its handle said it did not run, and no handle failed where the cluster itself did not fail
//! it. And, as an order of events rather than a time: pipelines to healthy nodes keep
//! completing while another primary is stopped.
//!
//! The clusters here use a node timeout of 2 s (a failover in 2–4 s) to keep the file short.
//! The stall figures the tests print (`--nocapture`) are the longest pipelines seen around each
//! event; BENCHMARKS.md reports them. Nothing here asserts on them.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redpipe::cluster::Cluster;
use redpipe::prelude::*;
use redpipe::{Connections, Handle};
use redpipe_tests::load::{Load, Outcome};
use redpipe_tests::{ClusterOptions, RedisCluster};

/// The nodes' `cluster-node-timeout`: 2 s, or `REDPIPE_TORTURE_NODE_TIMEOUT_MS` (to measure
/// the stalls under Redis's usual settings; see BENCHMARKS.md).
fn node_timeout() -> Duration {
    millis_from_env("REDPIPE_TORTURE_NODE_TIMEOUT_MS").unwrap_or(Duration::from_millis(2000))
}

fn millis_from_env(name: &str) -> Option<Duration> {
    let ms = std::env::var(name).ok()?;
    Some(Duration::from_millis(ms.parse().expect("milliseconds")))
}

/// 3 primaries with a replica each, failing over in about 2–4 s.
fn cluster() -> RedisCluster {
    RedisCluster::with(ClusterOptions {
        node_timeout: node_timeout(),
        ..ClusterOptions::default()
    })
}

/// A registry whose default name is `cluster`, reached with `query` on every seed URL.
fn registry(cluster: &RedisCluster, query: &str) -> Connections {
    let seeds: Vec<String> = cluster
        .seeds()
        .into_iter()
        .map(|s| format!("{s}{query}"))
        .collect();
    let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let r = Connections::new();
    r.register(
        redpipe::DEFAULT,
        Cluster::from_urls(&seeds)
            .unwrap()
            .retry_budget(Duration::from_secs(20)),
    )
    .unwrap();
    r
}

/// Keys of the load, over every node.
const KEYS: usize = 600;

fn assert_nothing_lost_or_extra(what: &str, outcome: &Outcome) {
    assert!(
        outcome.lost.is_empty() && outcome.extra.is_empty(),
        "{what}: {}",
        outcome.summary()
    );
    assert!(outcome.acked > 0, "{what}: the load ran");
}

/// A slot moved by hand (ASK, then MOVED) and a coordinated failover (`CLUSTER FAILOVER` on a
/// replica), both under load: a migration and a failover are normal events, and no handle may
/// fail because of them.
#[test]
fn a_migration_and_a_coordinated_failover_under_load_fail_no_handle() {
    let mut cluster = cluster();
    let r = registry(&cluster, "");
    let load = Load::start(&r, KEYS, 3, 4);
    load.wait_pipelines(30);

    let slot = cluster.slot_of("k:0");
    let from = cluster.port_of_slot(slot);
    let to = cluster
        .primaries()
        .into_iter()
        .find(|&p| p != from)
        .unwrap();
    let started = Instant::now();
    cluster.migrate_slot_start(slot, from, to);
    load.wait_pipelines(10);
    cluster.migrate_keys(slot, from, to);
    load.wait_pipelines(10);
    cluster.migrate_slot_finish(slot, from, to);
    let migrated = Instant::now();
    load.wait_pipelines(30);

    let victim = cluster.port_of_slot(cluster.slot_of("k:1"));
    let failing_over = Instant::now();
    let promoted = cluster.failover(victim);
    let failed_over = Instant::now();
    load.wait_pipelines(50);
    let outcome = load.finish(&cluster);
    println!(
        "migration: longest pipeline {:?}; coordinated failover ({:?}, {victim} -> {promoted}): \
         longest pipeline {:?}; {} pipelines in all",
        outcome.longest_between(started, migrated),
        failed_over - failing_over,
        outcome.longest_between(failing_over, failed_over),
        outcome.pipelines
    );
    assert_nothing_lost_or_extra("migration and failover", &outcome);
    assert!(
        outcome.failed.is_empty(),
        "a migration or a coordinated failover failed handles: {}",
        outcome.summary()
    );
}

/// `kill -9` of a primary under load: its replica takes over after the node timeout. Commands
/// written to the dead node may or may not have run, and their handles say so; every other
/// command (the dead node's slots included, once nothing was written to it) waits for the new
/// owner within the retry budget and succeeds, and nothing is lost or applied twice.
#[test]
fn a_primary_killed_under_load_fails_only_commands_written_to_it() {
    let mut cluster = cluster();
    let r = registry(&cluster, "?connect_timeout=500");
    let load = Load::start(&r, KEYS, 3, 4);
    load.wait_pipelines(30);
    let victim = cluster.port_of_slot(cluster.slot_of("k:2"));
    let victim_slots: Vec<u16> = (0..KEYS)
        .map(|i| cluster.slot_of(&format!("k:{i}")))
        .filter(|&slot| cluster.port_of_slot(slot) == victim)
        .collect();
    let killing = Instant::now();
    cluster.kill(victim);
    // Pipelines started from now on find the node dead before they send anything to it.
    let killed = Instant::now();
    let promoted = cluster.wait_failover(victim);
    let failed_over = Instant::now();
    load.wait_pipelines(50);
    let outcome = load.finish(&cluster);
    println!(
        "kill -9 of {victim}: failover to {promoted} in {:?}, longest pipeline {:?}, stalled {:?} \
         past the failover; {} handles failed, {} pipelines in all",
        failed_over - killing,
        outcome.longest_between(killing, failed_over),
        outcome.stalled_past(failed_over),
        outcome.failed.len(),
        outcome.pipelines
    );
    assert_nothing_lost_or_extra("kill -9", &outcome);
    // Only commands sent to the dead node fail, and as outcome unknown: a command of a pipeline
    // that started once the node was dead fails only if it was written on a connection the
    // client had not yet read the close of (its reader had not run yet).
    let wrong: Vec<_> = outcome
        .failed
        .iter()
        .filter(|f| !f.unknown || !victim_slots.contains(&cluster.slot_of(&f.key)))
        .collect();
    assert!(
        wrong.is_empty(),
        "handles that failed though their command never went to the dead node: {wrong:?}\n{}",
        outcome.summary()
    );
    let late = outcome
        .failed
        .iter()
        .filter(|f| f.started >= killed)
        .count();
    println!("kill -9: {late} handles of pipelines started after the kill failed");
}

/// A primary stopped (SIGSTOP) for less than the node timeout, then for more (its replica
/// takes over), under load: the first is a stall and nothing fails. In the second, what the
/// pipelines wrote to the node before it had been silent for a while (250 ms) reads `Deposed`
/// or an unknown outcome (it may run there when the node comes back, and is dropped when it
/// rejoins as a replica); later commands for it are held back, and once the failover is done
/// the pipelines waiting on it are let go before it comes back, the held commands going to the
/// new owner. No handle is refused, nothing acknowledged is lost, nothing is applied twice.
#[test]
fn a_primary_paused_shorter_then_longer_than_the_node_timeout() {
    let mut cluster = cluster();
    let r = registry(&cluster, "");
    let load = Load::start(&r, KEYS, 3, 4);
    load.wait_pipelines(30);
    let victim = cluster.port_of_slot(cluster.slot_of("k:3"));

    // Half the node timeout, or `REDPIPE_TORTURE_SHORT_PAUSE_MS`.
    let short = millis_from_env("REDPIPE_TORTURE_SHORT_PAUSE_MS").unwrap_or(node_timeout() / 2);
    let stopped = Instant::now();
    cluster.stop(victim);
    std::thread::sleep(short);
    cluster.resume(victim);
    load.wait_pipelines(30);
    let after_short = Instant::now();
    load.wait_started_before(after_short);

    let stopped_long = Instant::now();
    cluster.stop(victim);
    let promoted = cluster.wait_failover(victim);
    let failed_over_at = Instant::now();
    let failed_over = stopped_long.elapsed();
    // Stopped on past the failover, as a node cut off for long would be (long enough that the
    // order of events below does not hang on a busy machine's pace).
    std::thread::sleep(node_timeout() * 2);
    cluster.resume(victim);
    let resumed = Instant::now();
    cluster.wait_settled();
    load.wait_pipelines(50);
    let outcome = load.finish(&cluster);
    println!(
        "pause of {short:?} (no failover): longest pipeline {:?}; pause of {:?} (failover to \
         {promoted} after {failed_over:?}): longest pipeline {:?}, stalled {:?} past the \
         failover; {} handles failed, {} pipelines in all",
        outcome.longest_between(stopped, after_short),
        resumed - stopped_long,
        outcome.longest_between(stopped_long, resumed),
        outcome.stalled_past(failed_over_at),
        outcome.failed.len(),
        outcome.pipelines
    );
    assert_nothing_lost_or_extra("pauses", &outcome);
    let refused: Vec<_> = outcome.failed.iter().filter(|f| !f.unknown).collect();
    assert!(
        refused.is_empty(),
        "handles refused within the retry budget: {refused:?}\n{}",
        outcome.summary()
    );
    // The pipelines waiting on the stopped node when it was failed over were let go (their
    // commands failed as `Deposed`, or went to the new owner if never sent) before it came
    // back: while pipelines keep starting, a stalled node is looked at and found deposed.
    let held: Vec<_> = outcome
        .pipelines_timed
        .iter()
        .filter(|(s, d)| *s < failed_over_at && *s + *d >= resumed)
        .collect();
    assert!(
        held.is_empty(),
        "{} pipelines waited for the deposed node to come back",
        held.len()
    );
    // Writes to a node that has not answered for a while are held back, so that what the
    // pipelines started after the failover sent there went to the new owner instead.
    let late: Vec<_> = outcome
        .failed
        .iter()
        .filter(|f| f.started >= failed_over_at)
        .collect();
    assert!(
        late.is_empty(),
        "handles of pipelines started after the failover failed: {late:?}"
    );
    let short_failed: Vec<_> = outcome
        .failed
        .iter()
        .filter(|f| f.started < after_short)
        .collect();
    assert!(
        short_failed.is_empty(),
        "a pause shorter than the node timeout failed handles: {short_failed:?}"
    );
}

/// While a primary is stopped, with a pipeline of its keys waiting on it, pipelines whose keys
/// are on the other nodes keep completing, from threads and from tokio tasks, including ones
/// that refresh the slot map: nothing shared (a lock, a refresh, a connection) makes them wait
/// for the stopped node. Then it resumes, and the waiting pipeline completes.
#[test]
fn pipelines_to_healthy_nodes_complete_while_another_primary_is_stopped() {
    let mut cluster = RedisCluster::start_primaries(3);
    let r = registry(&cluster, "");
    let victim = cluster.primaries()[0];
    // Keys by node: the victim's, and the others'.
    let (mut theirs, mut healthy) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let key = format!("h:{i}");
        match cluster.port_of_slot(cluster.slot_of(&key)) == victim {
            true => theirs.push(key),
            false => healthy.push(key),
        }
    }
    let mut p = r.pipe();
    let _ = p.ping();
    p.execute().unwrap();

    cluster.stop(victim);
    let stuck_done = Arc::new(AtomicBool::new(false));
    let stuck = {
        let (r, done) = (r.clone(), stuck_done.clone());
        let keys = theirs.clone();
        std::thread::spawn(move || {
            let mut p = r.pipe();
            let handles: Vec<Handle<i64>> = keys.iter().map(|k| p.incr(k)).collect();
            let ran = p.execute();
            done.store(true, Ordering::SeqCst);
            ran.map(|()| {
                handles
                    .iter()
                    .map(|h| h.result().unwrap())
                    .collect::<Vec<_>>()
            })
        })
    };
    // Healthy pipelines from 2 threads and 2 tokio tasks; one in ten on a fresh cluster client
    // of the same seeds, which must read the map first (a refresh with the victim among the
    // nodes it may ask).
    let completed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let seeds = cluster.seeds();
    let mut workers = Vec::new();
    for w in 0..3 {
        let (r, done, stop, keys) = (r.clone(), completed.clone(), stop.clone(), healthy.clone());
        let seeds = seeds.clone();
        workers.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let mut round = 0;
            while !stop.load(Ordering::SeqCst) {
                round += 1;
                let r = match round % 10 {
                    0 => registry_of(&seeds),
                    _ => r.clone(),
                };
                let mut p = r.pipe();
                let handles: Vec<Handle<i64>> = keys.iter().map(|k| p.incr(k)).collect();
                match w {
                    0 => rt.block_on(p.execute_async()).unwrap(),
                    _ => p.execute().unwrap(),
                }
                for h in handles {
                    h.result().unwrap();
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while completed.load(Ordering::SeqCst) < 60 {
        assert!(
            Instant::now() < deadline,
            "healthy pipelines stopped completing: {} done",
            completed.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !stuck_done.load(Ordering::SeqCst),
        "the stopped node's pipeline cannot have completed"
    );
    cluster.resume(victim);
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let values = stuck.join().unwrap().unwrap();
    assert!(values.iter().all(|&v| v == 1), "{values:?}");
}

/// A registry of its own on `seeds` (its cluster client has read no map yet).
fn registry_of(seeds: &[String]) -> Connections {
    let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, &seeds[..]).unwrap();
    r
}
