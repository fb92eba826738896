//! redpipe on a real Redis Cluster (started on loopback by the harness): one logical pipeline
//! over every node with results in call order, the same user API as one server (keyspaces,
//! structs, named connections), multi-key commands split and put back together, cross-slot
//! errors, slots moving under a running program (ASK, then MOVED), a primary failing over,
//! and a node that stops answering. Reads from replicas: `cluster_replicas.rs`; a TLS cluster
//! with an ACL user: `cluster_tls.rs`.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::{Duration, Instant};

use redpipe::cmd::ScanOptions;
use redpipe::keyspace::{Integer, Keyspace, Scan};
use redpipe::prelude::*;
use redpipe::record::StructOps;
use redpipe::{Connections, Error, Handle, Struct, keyspace};
use redpipe_tests::RedisCluster;

fn pipelines(r: &Connections) -> u64 {
    r.stats(redpipe::DEFAULT).unwrap().pipelines
}

#[test]
fn ten_thousand_keys_across_every_slot_in_one_pipeline() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("");
    let mut p = r.pipe();
    let n = 10_000;
    let sets: Vec<Handle<()>> = (0..n).map(|i| p.set(format!("key:{i}"), i)).collect();
    let gets: Vec<Handle<i64>> = (0..n).map(|i| p.get(format!("key:{i}")).cast()).collect();
    p.execute().unwrap();
    for (i, (s, g)) in sets.iter().zip(&gets).enumerate() {
        s.result().unwrap();
        assert_eq!(g.result().unwrap(), i as i64);
    }
    assert_eq!(pipelines(&r), 3, "one pipeline per node");
    // Every primary holds its share.
    for port in cluster.primaries() {
        let keys: usize = cluster.cli(port, &["DBSIZE"]).parse().unwrap();
        assert!(keys > n / 5, "{port} holds {keys}");
    }
    assert_eq!(r.cluster(redpipe::DEFAULT).unwrap().refreshes(), 1);
}

keyspace! {
    /// Visits per user: `V{user}`, on the same slot as the user's record.
    struct Visits: String { prefix: "V", value: Integer }
}

#[derive(Struct, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "U")]
struct User {
    #[redpipe(key)]
    id: String,
    name: String,
    age: Option<i64>,
}

#[test]
fn keyspaces_structs_and_reusable_functions_work_unchanged() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("");
    // A reusable function: a user's record and counter, keyed by the same hash tag.
    fn sign_up(
        r: &Connections,
        id: &str,
        pipe: Option<&mut redpipe::Pipe>,
    ) -> redpipe::Result<Handle<i64>> {
        r.autoexec(pipe, |p| {
            let _ = User {
                id: id.into(),
                name: format!("user {id}"),
                age: Some(30),
            }
            .create(p)?;
            Ok(Visits::with(p).incr(id)?)
        })
    }
    let visits = r
        .autoexec(None, |p| {
            (0..200)
                .map(|i| sign_up(&r, &i.to_string(), p.nested()))
                .collect::<redpipe::Result<Vec<_>>>()
        })
        .unwrap();
    assert!(visits.iter().all(|v| v.result().unwrap() == 1));
    assert_eq!(pipelines(&r), 3, "200 calls, one round trip per node");
    for id in ["0", "57", "199"] {
        assert_eq!(
            cluster.slot_of(&format!("U{{{id}}}")),
            cluster.slot_of(&format!("V{{{id}}}")),
            "a record's keys share a slot"
        );
    }
    let loaded = r
        .autoexec(None, |p| {
            Ok((0..200)
                .map(|i| User::load(p, &i.to_string()))
                .collect::<Vec<_>>())
        })
        .unwrap();
    for (i, l) in loaded.iter().enumerate() {
        assert_eq!(l.result().unwrap().unwrap().name, format!("user {i}"));
    }
}

#[test]
fn scan_dbsize_keys_and_flushdb_reach_every_primary() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("");
    r.autoexec(None, |p| {
        for i in 0..300 {
            let _ = Visits::with(p).set(&i.to_string(), &1)?;
            let _ = p.set(format!("other:{i}"), i);
        }
        Ok(())
    })
    .unwrap();
    // Every primary holds some of the keys, so a one-node scan could not see them all.
    for port in cluster.primaries() {
        let keys: usize = cluster.cli(port, &["DBSIZE"]).parse().unwrap();
        assert!(keys > 100, "{port} holds {keys}");
    }

    // The raw command: one cursor over the whole cluster, other commands beside it.
    let mut cursor = 0;
    let mut seen: Vec<String> = Vec::new();
    let mut pages = 0;
    loop {
        let mut p = r.pipe();
        let opts = ScanOptions {
            pattern: Some("other:*"),
            count: Some(50),
            ..ScanOptions::default()
        };
        let page = p.scan::<Vec<String>>(cursor, opts);
        let n = p.dbsize();
        p.execute().unwrap();
        let (next, keys) = page.result().unwrap();
        assert_eq!(n.result().unwrap(), 600, "DBSIZE sums every primary");
        seen.extend(keys);
        pages += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
        assert!(pages < 1000, "the scan ends");
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 300, "every key of every node");

    // A keyspace's scan iterator: every key of the keyspace, from every node.
    let mut ids: Vec<i64> = Scan::<Visits, Connections>::new(r.clone(), "*", Some(40))
        .map(|k| String::from_utf8(k.unwrap()).unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, (0..300).collect::<Vec<i64>>());

    // KEYS and FLUSHDB reach every primary too.
    let mut p = r.pipe();
    let keys = p.keys("other:*");
    p.execute().unwrap();
    assert_eq!(keys.result().unwrap().len(), 300);
    let mut p = r.pipe();
    let flushed = p.flushdb();
    let size = p.dbsize();
    p.execute().unwrap();
    flushed.result().unwrap();
    assert_eq!(size.result().unwrap(), 0);
    for port in cluster.primaries() {
        assert_eq!(cluster.cli(port, &["DBSIZE"]), "0", "{port} flushed");
    }
}

#[test]
fn multi_key_commands_are_split_per_slot_and_cross_slot_ones_refused() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("");
    let keys: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let mut p = r.pipe();
    let pairs: Vec<(&str, usize)> = keys.iter().map(String::as_str).zip(0..).collect();
    let mset = p.query::<()>(cmd("MSET").arg(pairs.as_slice()));
    let mget = p.query::<Vec<Option<i64>>>(cmd("MGET").arg(keys.as_slice()));
    let exists = p.exists(keys.as_slice());
    let rename = p.query::<()>(cmd("RENAME").arg("m1").arg("m2"));
    let tagged = p.query::<()>(cmd("RENAME").arg("{t}a").arg("{t}b"));
    let _ = p.set("{t}a", 1);
    let (tx_ok, tx_cross) = (
        p.transaction(|p| Ok((p.incr("{t}n"), p.incr("{t}n"))))
            .unwrap(),
        p.transaction(|p| Ok(p.incr("x1"))).unwrap(),
    );
    let tx_split = p.transaction(|p| Ok((p.incr("x1"), p.incr("x2")))).unwrap();
    p.execute().unwrap();
    mset.result().unwrap();
    assert_eq!(
        mget.result().unwrap(),
        (0..50).map(Some).collect::<Vec<_>>()
    );
    assert_eq!(exists.result().unwrap(), 50);
    assert!(
        matches!(rename.result(), Err(Error::Server(e)) if e.code() == "CROSSSLOT"),
        "{:?}",
        rename.result()
    );
    // Queued before `{t}a` was set: the server says so, from the right node.
    assert!(matches!(tagged.result(), Err(Error::Server(e)) if e.code() == "ERR"));
    assert_eq!(
        (tx_ok.0.result().unwrap(), tx_ok.1.result().unwrap()),
        (1, 2)
    );
    assert_eq!(tx_cross.result().unwrap(), 1);
    for h in [&tx_split.0, &tx_split.1] {
        assert!(matches!(h.result(), Err(Error::Server(e)) if e.code() == "CROSSSLOT"));
    }
    assert_eq!(
        cluster.cli(
            cluster.port_of_slot(cluster.slot_of("x2")),
            &["EXISTS", "x2"]
        ),
        "0"
    );
}

#[test]
fn a_slot_moving_under_a_running_program_gives_ask_then_moved_and_nothing_fails() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("");
    let keys: Vec<String> = (0..100).map(|i| format!("{{mv}}{i}")).collect();
    let mut p = r.pipe();
    for (i, k) in keys.iter().enumerate() {
        let _ = p.set(k, i);
    }
    p.execute().unwrap();
    let slot = cluster.slot_of("{mv}");
    let from = cluster.port_of_slot(slot);
    let to = cluster
        .primaries()
        .into_iter()
        .find(|&p| p != from)
        .unwrap();

    // Migrating: the keys move, the client's map still says `from`: ASK for each.
    cluster.migrate_slot_start(slot, from, to);
    let moved = cluster.migrate_keys(slot, from, to);
    assert_eq!(moved, 100);
    let mut p = r.pipe();
    let reads: Vec<Handle<i64>> = keys.iter().map(|k| p.get(k).cast()).collect();
    let new = p.set("{mv}new", "x");
    p.execute().unwrap();
    for (i, h) in reads.iter().enumerate() {
        assert_eq!(h.result().unwrap(), i as i64, "read through ASK");
    }
    new.result().unwrap();

    // Finished: the slot is `to`'s; the stale map gets MOVED once, then is refreshed.
    cluster.migrate_slot_finish(slot, from, to);
    assert_eq!(
        cluster.cli(to, &["GET", "{mv}new"]),
        "x",
        "the new key went to the importing node"
    );
    let refreshes = r.cluster(redpipe::DEFAULT).unwrap().refreshes();
    let mut p = r.pipe();
    let incrs: Vec<Handle<i64>> = keys.iter().map(|k| p.incr(k)).collect();
    p.execute().unwrap();
    for (i, h) in incrs.iter().enumerate() {
        assert_eq!(h.result().unwrap(), i as i64 + 1, "each INCR ran once");
    }
    let cluster_client = r.cluster(redpipe::DEFAULT).unwrap();
    assert!(
        cluster_client.refreshes() > refreshes,
        "MOVED refreshed the map"
    );
    let counts = cluster_client.counts();
    assert!(
        counts.asked >= 100 && counts.moved >= 100 && counts.retries >= 200,
        "the redirections are counted: {counts:?}"
    );
    let map = cluster_client.map();
    let owner = map
        .owner(redpipe::cluster::HashSlot::new(slot).unwrap())
        .unwrap();
    assert_eq!(map.node(owner).port, to);
}

#[test]
fn after_a_primary_fails_over_pipelines_succeed_again_and_acknowledged_writes_stay() {
    let mut cluster = RedisCluster::start();
    let r = cluster.registry("?connect_timeout=500&timeout=2000");
    let victim = cluster.port_of_slot(cluster.slot_of("{f}"));
    let mut acknowledged = Vec::new();
    let mut failed = 0;
    let mut round = 0u64;
    let mut run = |r: &Connections, acknowledged: &mut Vec<String>, failed: &mut usize| {
        round += 1;
        let mut p = r.pipe();
        let writes: Vec<(String, Handle<()>)> = (0..50)
            .map(|i| {
                let k = format!("{{f}}{round}:{i}");
                let h = p.set(&k, round);
                (k, h)
            })
            .collect();
        let _ = p.execute();
        let mut ok = true;
        for (k, h) in writes {
            match h.result() {
                Ok(()) => acknowledged.push(k),
                Err(_) => {
                    *failed += 1;
                    ok = false;
                }
            }
        }
        ok
    };
    assert!(run(&r, &mut acknowledged, &mut failed));
    cluster.kill(victim);
    let started = Instant::now();
    // Pipelines fail while the slot has no primary, then succeed once a replica took over.
    let mut recovered = false;
    while started.elapsed() < Duration::from_secs(40) {
        if run(&r, &mut acknowledged, &mut failed) {
            recovered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        recovered,
        "pipelines work again after the failover ({failed} writes failed)"
    );
    assert!(run(&r, &mut acknowledged, &mut failed));
    // The client saw the new owner; the harness waits until every node agrees before asking.
    let promoted = cluster.wait_failover(victim);
    assert_eq!(cluster.port_of_slot(cluster.slot_of("{f}")), promoted);
    // Every write the client saw acknowledged is there.
    let mut p = r.pipe();
    let reads: Vec<Handle<Option<String>>> = acknowledged.iter().map(|k| p.get(k)).collect();
    p.execute().unwrap();
    let lost: Vec<&String> = acknowledged
        .iter()
        .zip(&reads)
        .filter(|(_, h)| h.result().unwrap().is_none())
        .map(|(k, _)| k)
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}

/// A pipeline sent just after its slot's primary is killed waits for the failover (within the
/// retry budget) and succeeds: the commands were never received by the dead node, so they go
/// to the new primary once a replica has taken over, each exactly once.
#[test]
fn a_pipeline_sent_as_a_primary_dies_rides_through_the_failover() {
    let mut cluster = RedisCluster::start();
    let r = cluster.registry("?connect_timeout=500&timeout=2000");
    let victim = cluster.port_of_slot(cluster.slot_of("{k}"));
    let mut p = r.pipe();
    let warm = p.incr("{k}n");
    p.execute().unwrap();
    assert_eq!(warm.result().unwrap(), 1);
    cluster.kill(victim);
    let mut p = r.pipe();
    let incrs: Vec<Handle<i64>> = (0..50).map(|_| p.incr("{k}n")).collect();
    let other = p.incr("{elsewhere}n");
    let ran = p.execute();
    for (i, h) in incrs.iter().enumerate() {
        assert_eq!(
            h.result().unwrap(),
            i as i64 + 2,
            "each INCR ran once, in order"
        );
    }
    assert_eq!(other.result().unwrap(), 1);
    ran.unwrap();
    let promoted = cluster.wait_failover(victim);
    assert_eq!(cluster.port_of_slot(cluster.slot_of("{k}")), promoted);
    let counts = r.cluster(redpipe::DEFAULT).unwrap().counts();
    assert!(counts.retries > 0 && counts.waited_ms > 0, "{counts:?}");
}

#[test]
fn a_node_that_stops_answering_fails_only_the_commands_sent_to_it() {
    let mut cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("?timeout=1000");
    let silent = cluster.primaries()[1];
    // Warm up: the map is read and connections are open.
    let mut p = r.pipe();
    let _ = p.ping();
    p.execute().unwrap();

    cluster.stop(silent);
    let mut p = r.pipe();
    let keys: Vec<String> = (0..60).map(|i| format!("s{i}")).collect();
    let handles: Vec<Handle<i64>> = keys.iter().map(|k| p.incr(k)).collect();
    let started = Instant::now();
    let result = p.execute();
    let took = started.elapsed();
    cluster.resume(silent);
    assert!(
        result.is_err(),
        "the silent node's failure is the pipe's error"
    );
    assert!(
        took < Duration::from_secs(10),
        "bounded by the read timeout: {took:?}"
    );
    let (mut ok, mut timed_out) = (0, 0);
    for (k, h) in keys.iter().zip(&handles) {
        let on_silent = cluster.port_of_slot(cluster.slot_of(k)) == silent;
        match h.result() {
            Ok(1) => {
                assert!(!on_silent, "{k}");
                ok += 1;
            }
            Err(Error::Failed(_)) => {
                assert!(on_silent, "{k}");
                timed_out += 1;
            }
            other => panic!("{k}: {other:?}"),
        }
    }
    assert!(ok > 0 && timed_out > 0, "{ok} ok, {timed_out} failed");
}

#[test]
fn tokio_pipelines_run_every_node_concurrently() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut p = r.pipe();
        let handles: Vec<Handle<i64>> = (0..3000).map(|i| p.incrby(format!("a{i}"), i)).collect();
        p.execute_async().await.unwrap();
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(h.result().unwrap(), i as i64);
        }
        let sum = r
            .autoexec_async(None, |p| {
                let all: Vec<Handle<i64>> =
                    (0..3000).map(|i| p.get(format!("a{i}")).cast()).collect();
                Ok(p.on_execute(move |_| all.iter().map(|h| h.result().unwrap()).sum::<i64>()))
            })
            .await
            .unwrap();
        assert_eq!(*sum.result().unwrap(), (0..3000).sum::<i64>());
    });
}

#[test]
fn scripts_run_on_their_keys_slot_and_refuse_keys_across_slots() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("");
    let script = redpipe::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let mut p = r.pipe();
    // The first run meets NOSCRIPT on a fresh node and falls back to EVAL, on the same node.
    let first = p.eval_script::<i64>(&script, &["{s}counter"], 5);
    let other_node = p.eval_script::<i64>(&script, &["elsewhere"], 1);
    let crossed = p.eval_script::<i64>(&script, &["a", "b"], 1);
    p.execute().unwrap();
    assert_eq!(first.result().unwrap(), 5);
    assert_eq!(other_node.result().unwrap(), 1);
    assert!(matches!(crossed.result(), Err(Error::Server(e)) if e.code() == "CROSSSLOT"));
    let mut p = r.pipe();
    let again = p.eval_script::<i64>(&script, &["{s}counter"], 5);
    p.execute().unwrap();
    assert_eq!(again.result().unwrap(), 10, "the script ran once per call");
}

/// A transactional name on a cluster (`?transaction=true`): a pipeline whose keys share a slot
/// runs as one MULTI/EXEC on that slot's node, each handle reading its own result; one whose
/// keys span slots fails with CROSSSLOT in every handle and nothing of it runs.
#[test]
fn a_transactional_cluster_name_runs_one_slot_pipelines_atomically() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("?transaction=true");
    let mut p = r.pipe();
    let (a, b, c) = (p.incr("{t}a"), p.incr("{t}a"), p.get("{t}a"));
    p.execute().unwrap();
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (1, 2));
    assert_eq!(c.result().unwrap().as_deref(), Some("2"));
    let node = cluster.port_of_slot(cluster.slot_of("{t}a"));
    let stats = cluster.cli(node, &["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_exec:calls=1,"), "{stats}");

    let mut p = r.pipe();
    let (x, y) = (p.incr("x1"), p.incr("x2"));
    let _ = p.execute();
    for h in [&x, &y] {
        assert!(
            matches!(h.result(), Err(Error::Server(e)) if e.code() == "CROSSSLOT"),
            "{:?}",
            h.result()
        );
    }
    for key in ["x1", "x2"] {
        let port = cluster.port_of_slot(cluster.slot_of(key));
        assert_eq!(cluster.cli(port, &["EXISTS", key]), "0", "{key}: not run");
    }
}
