//! Client-side caching on a real Redis Cluster (the local harness): one cache for the cluster
//! name, kept by a tracking connection per node. What was sent is counted on the nodes' side
//! (`INFO commandstats`, read with redis-cli) and by the cluster client: a second pipeline of
//! the same 1 000 reads over every primary sends nothing; another client's write reaches the
//! next read of its key (heard by its primary's and its replica's tracking connections), the
//! other reads stay hits; dropping the name closes the tracking connections; a primary's
//! tracking connection lost flushes the cache, a replica's does not; after a primary
//! is killed and failed over nothing stale is served, and the cache answers again once the
//! promoted replica is tracked; after a coordinated failover, the writes the promoted replica
//! takes are heard before this client reads the new map; tokio pipes use it too.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::time::Duration;

use redpipe::cluster::{Cluster, HashSlot};
use redpipe::prelude::*;
use redpipe::{CacheStats, Connections, DEFAULT};
use redpipe_tests::{ClusterOptions, RedisCluster, eventually};

/// A registry whose default name is `cluster`, caching up to `entries` entries.
fn cached(cluster: &RedisCluster, entries: usize) -> Connections {
    cluster.registry(&format!("?cache={entries}&timeout=5000"))
}

/// How many times the nodes now running ran `command` (lowercase), summed, from `INFO
/// commandstats`.
fn calls(cluster: &RedisCluster, command: &str) -> u64 {
    let prefix = format!("cmdstat_{command}:calls=");
    cluster
        .ports()
        .into_iter()
        .map(|port| {
            let info = cluster.cli(port, &["INFO", "commandstats"]);
            info.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
        })
        .sum()
}

fn stats(r: &Connections) -> CacheStats {
    r.cache_stats(DEFAULT).unwrap()
}

/// Commands the cluster client sent, over every node.
fn sent(r: &Connections) -> u64 {
    r.stats(DEFAULT).unwrap().commands
}

fn read_all(r: &Connections, keys: &[String]) -> Vec<Option<String>> {
    let mut p = r.pipe();
    let handles: Vec<_> = keys.iter().map(|k| p.get(k.as_str())).collect();
    p.execute().unwrap();
    handles.iter().map(|h| h.result().unwrap()).collect()
}

fn write_all(r: &Connections, keys: &[String], value: impl Fn(&str) -> String) {
    r.autoexec(None, |p| {
        for k in keys {
            let _ = p.set(k.as_str(), value(k));
        }
        Ok(())
    })
    .unwrap();
}

/// 1 000 keys, with slots on every primary of `cluster`.
fn keys_on_every_primary(cluster: &RedisCluster) -> Vec<String> {
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
    let owners: BTreeSet<u16> = keys
        .iter()
        .map(|k| cluster.port_of_slot(HashSlot::for_key(k.as_bytes()).get()))
        .collect();
    assert_eq!(owners, cluster.primaries().into_iter().collect());
    keys
}

fn values(keys: &[String]) -> Vec<Option<String>> {
    keys.iter().map(|k| Some(format!("v-{k}"))).collect()
}

/// Keys over every primary ([`keys_on_every_primary`]) written as `v-<key>` by a registry
/// without a cache: the keys, their values as a read returns them, and that registry.
fn written(cluster: &RedisCluster) -> (Vec<String>, Vec<Option<String>>, Connections) {
    let keys = keys_on_every_primary(cluster);
    let writer = cluster.registry("");
    write_all(&writer, &keys, |k| format!("v-{k}"));
    let want = values(&keys);
    (keys, want, writer)
}

#[test]
fn a_second_pipeline_over_every_slot_sends_nothing_and_a_write_reaches_the_next_read() {
    let cluster = RedisCluster::start();
    let (keys, want, _) = written(&cluster);
    let r = cached(&cluster, 2000);

    // The first pipeline waits for the tracking connections' first attempts, and fills.
    let before = calls(&cluster, "get");
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(calls(&cluster, "get"), before + 1000);
    let s = stats(&r);
    assert_eq!((s.entries, s.misses, s.hits), (1000, 1000, 0), "{s:?}");
    assert!(s.tracking, "{s:?}");
    // Every node tracked (a node's connection up turns the cache on once it is the last
    // primary's): the replicas too.
    eventually("every node's tracking connection up", || {
        tracking_connections(&cluster) == cluster.ports().len()
    });

    // The same 1 000 reads again: answered from the cache, nothing sent.
    let commands = sent(&r);
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(calls(&cluster, "get"), before + 1000);
    assert_eq!(sent(&r), commands);
    assert_eq!(stats(&r).hits, 1000);

    // Another client writes one key on its node: the primary's tracking connection reports it,
    // and its replica's too (a replica reports the writes replicated from its primary).
    let invalidations = stats(&r).invalidations;
    let port = cluster.port_of_slot(cluster.slot_of("k500"));
    assert_eq!(cluster.cli(port, &["-c", "SET", "k500", "new"]), "OK");
    eventually(
        "the invalidation of k500 from its primary and replica",
        || stats(&r).invalidations >= invalidations + 2,
    );
    let got = read_all(&r, &keys);
    assert_eq!(got[500].as_deref(), Some("new"));
    assert_eq!(got[499], want[499]);
    assert_eq!(calls(&cluster, "get"), before + 1001);
    assert_eq!(sent(&r), commands + 1);
    assert_eq!(stats(&r).hits, 1999);
    // And it is cached again, with the new value.
    assert_eq!(read_all(&r, &keys)[500].as_deref(), Some("new"));
    assert_eq!(calls(&cluster, "get"), before + 1001);
    assert_eq!(stats(&r).hits, 2999);

    // The name dropped: its tracking connections end.
    r.disconnect(DEFAULT);
    drop(r);
    eventually("the tracking connections closed", || {
        tracking_connections(&cluster) == 0
    });
}

/// Tracking connections open on the nodes, from `CLIENT LIST`.
fn tracking_connections(cluster: &RedisCluster) -> usize {
    cluster
        .ports()
        .into_iter()
        .map(|port| {
            cluster
                .cli(port, &["CLIENT", "LIST"])
                .lines()
                .filter(|l| l.contains("name=redpipe-tracking"))
                .count()
        })
        .sum()
}

/// The id of the tracking connection on node `port`, from `CLIENT LIST`, if there is one.
fn tracking_id(cluster: &RedisCluster, port: u16) -> Option<String> {
    let list = cluster.cli(port, &["CLIENT", "LIST"]);
    let line = list.lines().find(|l| l.contains("name=redpipe-tracking"))?;
    Some(line.split(' ').next()?.strip_prefix("id=")?.to_string())
}

/// Kills the tracking connection on node `port` and waits until a new one is open there.
fn kill_tracking(cluster: &RedisCluster, port: u16) {
    eventually("a tracking connection to kill", || {
        tracking_id(cluster, port).is_some()
    });
    let id = tracking_id(cluster, port).unwrap();
    assert_eq!(cluster.cli(port, &["CLIENT", "KILL", "ID", &id]), "1");
    eventually("a new tracking connection", || {
        tracking_id(cluster, port).is_some_and(|new| new != id)
    });
}

#[test]
fn a_lost_primary_tracking_connection_flushes_the_cache_and_a_replica_s_does_not() {
    let cluster = RedisCluster::start();
    let (keys, want, _) = written(&cluster);
    let r = cached(&cluster, 2000);
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(stats(&r).entries, 1000);

    // A replica's: not needed for the cache to answer, so nothing is flushed.
    let before = stats(&r);
    kill_tracking(&cluster, cluster.replicas()[0]);
    let s = stats(&r);
    assert_eq!((s.entries, s.flushes), (1000, before.flushes), "{s:?}");
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(stats(&r).hits, 1000);

    // A primary's: the writes to its keys may have gone unheard meanwhile, so everything is
    // flushed; the cache answers again once it is back.
    kill_tracking(&cluster, cluster.primaries()[2]);
    eventually("tracking back on every primary", || {
        let s = stats(&r);
        s.tracking && s.tracking_connects == before.tracking_connects + 1
    });
    let s = stats(&r);
    assert_eq!(s.entries, 0, "{s:?}");
    assert!(s.flushes >= before.flushes + 2, "{s:?}");
    let commands = sent(&r);
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(sent(&r), commands + 1000);
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(sent(&r), commands + 1000);
    assert_eq!(stats(&r).hits, 2000);
}

/// With replica reads, a reply from a replica that had not applied a write yet is removed only
/// when that replica reports the write: its tracking connection is needed like a primary's.
#[test]
fn with_replica_reads_a_lost_replica_tracking_connection_flushes_the_cache() {
    let cluster = RedisCluster::start();
    let (keys, want, _) = written(&cluster);
    let seeds: Vec<String> = cluster
        .seeds()
        .iter()
        .map(|s| format!("{s}?cache=2000&timeout=5000"))
        .collect();
    let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let r = Connections::new();
    r.register(
        DEFAULT,
        Cluster::from_urls(&seeds).unwrap().read_from_replicas(true),
    )
    .unwrap();
    // A replica may not have every write yet: what it reports applying reaches the cache.
    eventually("the replicas' values read through the cache", || {
        read_all(&r, &keys) == want
    });
    eventually("all 1 000 entries cached", || {
        read_all(&r, &keys);
        stats(&r).entries == 1000
    });
    let (commands, hits) = (sent(&r), stats(&r).hits);
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(sent(&r), commands, "all hits");
    assert_eq!(stats(&r).hits, hits + 1000);

    let before = stats(&r);
    kill_tracking(&cluster, cluster.replicas()[0]);
    eventually("tracking back on every node", || {
        let s = stats(&r);
        s.tracking && s.tracking_connects > before.tracking_connects
    });
    let s = stats(&r);
    assert!(s.flushes > before.flushes, "{s:?}");
    assert_eq!(s.entries, 0, "{s:?}");
    assert_eq!(read_all(&r, &keys), want);
    let after = stats(&r);
    assert_eq!(after.hits, s.hits, "nothing answered from a flushed cache");
    assert_eq!(
        after.misses,
        s.misses + 1000,
        "every read went to the nodes again"
    );
    assert_eq!(after.entries, 1000);
}

/// A key of `keys` whose slot the primary at `port` owns.
fn key_on(cluster: &RedisCluster, keys: &[String], port: u16) -> usize {
    keys.iter()
        .position(|k| cluster.port_of_slot(HashSlot::for_key(k.as_bytes()).get()) == port)
        .unwrap()
}

#[test]
fn after_a_failover_nothing_stale_is_served_and_the_promoted_replica_is_tracked() {
    let mut cluster = RedisCluster::with(ClusterOptions {
        // A killed primary is failed over quickly.
        node_timeout: Duration::from_secs(1),
        ..ClusterOptions::default()
    });
    let (keys, want, writer) = written(&cluster);
    let r = cached(&cluster, 2000);
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(stats(&r).hits, 1000);

    let victim = cluster.primaries()[0];
    let i = key_on(&cluster, &keys, victim);
    cluster.kill(victim);
    // Its tracking connection lost: the cache is flushed and off, before any map is read.
    eventually(
        "the cache off once the killed primary's tracking is lost",
        || !stats(&r).tracking,
    );
    assert_eq!(stats(&r).entries, 0);
    let promoted = cluster.wait_failover(victim);
    assert_eq!(
        cluster.port_of_slot(cluster.slot_of(&keys[i])),
        promoted,
        "{} moved with the failover",
        keys[i]
    );
    // Written after the failover by another client: the next read sees it.
    write_all(&writer, &keys[i..=i], |_| "after".into());
    let got = read_all(&r, &keys);
    assert_eq!(got[i].as_deref(), Some("after"));

    // Once every primary of the new map is tracked, the cache answers again...
    eventually(
        "a pipeline answered from the cache after the failover",
        || {
            let hits = stats(&r).hits;
            let got = read_all(&r, &keys);
            assert_eq!(got[i].as_deref(), Some("after"));
            stats(&r).hits == hits + 1000
        },
    );
    // ...and hears the promoted replica's writes.
    write_all(&writer, &keys[i..=i], |_| "again".into());
    eventually("the read of a key written on the promoted replica", || {
        read_all(&r, &keys)[i].as_deref() == Some("again")
    });
    let hits = stats(&r).hits;
    let got = read_all(&r, &keys);
    assert_eq!(got[i].as_deref(), Some("again"));
    assert_eq!(got[i + 1], want[i + 1]);
    assert_eq!(stats(&r).hits, hits + 1000);
}

/// A coordinated failover leaves this client's map naming the old primary, and its
/// pipelines, all hits, send nothing that would teach it the new one: the writes the promoted
/// replica takes are still heard (it was tracked as a replica, and the demoted primary, still
/// tracked, now replicates them).
#[test]
fn after_a_coordinated_failover_the_promoted_replica_reports_its_writes() {
    let mut cluster = RedisCluster::start();
    let (keys, want, writer) = written(&cluster);
    let r = cached(&cluster, 2000);
    assert_eq!(read_all(&r, &keys), want);
    eventually("every node's tracking connection up", || {
        tracking_connections(&cluster) == cluster.ports().len()
    });

    let old = cluster.primaries()[1];
    let i = key_on(&cluster, &keys, old);
    let promoted = cluster.failover(old);
    assert_eq!(cluster.port_of_slot(cluster.slot_of(&keys[i])), promoted);
    write_all(&writer, &keys[i..=i], |_| "after".into());
    eventually("the read of a key written on the promoted replica", || {
        read_all(&r, &keys)[i].as_deref() == Some("after")
    });
    assert_eq!(read_all(&r, &keys)[i + 1], want[i + 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_pipes_use_a_cluster_cache_too() {
    let cluster = RedisCluster::start_primaries(3);
    let (keys, want, _) = written(&cluster);
    let r = cached(&cluster, 2000);
    for _ in 0..2 {
        let mut p = r.pipe();
        let handles: Vec<_> = keys.iter().map(|k| p.get(k.as_str())).collect();
        p.execute_async().await.unwrap();
        let got: Vec<Option<String>> = handles.iter().map(|h| h.result().unwrap()).collect();
        assert_eq!(got, want);
    }
    let s = stats(&r);
    assert_eq!((s.misses, s.hits, s.entries), (1000, 1000, 1000), "{s:?}");
}
