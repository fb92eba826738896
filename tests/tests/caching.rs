//! Client-side caching against a real redis-server. What was sent is counted on the server's
//! side (`INFO commandstats`, read with redis-cli), not by redpipe: a second pipeline of the
//! same 1 000 reads sends nothing; another client's write reaches the next read; hashes,
//! struct loads and keyspace reads are cached and invalidated too; losing the tracking
//! connection flushes the cache, which fills again once tracking is back; the cache stays
//! within its entry bound; transactions never read from it; tokio pipes use it too.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::{Duration, Instant};

use redpipe::keyspace::{Float, Integer, Keyspace};
use redpipe::prelude::*;
use redpipe::record::StructOps;
use redpipe::{CacheConfig, CacheStats, ConnectionInfo, Connections, DEFAULT};
use redpipe_tests::RedisServer;

/// A registry whose default name caches up to `entries` entries.
fn cached(server: &RedisServer, entries: usize) -> Connections {
    let r = Connections::new();
    let url = format!("{}?cache={entries}&timeout=5000", server.url());
    r.register(DEFAULT, url.as_str()).unwrap();
    r
}

/// Another client: a registry without cache.
fn plain(server: &RedisServer) -> Connections {
    let r = Connections::new();
    r.register(DEFAULT, server.url().as_str()).unwrap();
    r
}

/// How many times the server ran `command` (lowercase), from `INFO commandstats`.
fn calls(server: &RedisServer, command: &str) -> u64 {
    let info = server.cli(&["INFO", "commandstats"]);
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

fn stats(r: &Connections) -> CacheStats {
    r.cache_stats(DEFAULT).unwrap()
}

/// Waits until `done` holds of the cache's stats (invalidations arrive on their own
/// connection, a moment after the write).
fn wait_for(r: &Connections, what: &str, done: impl Fn(&CacheStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&stats(r)) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            stats(r)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn read_all(r: &Connections, keys: &[String]) -> Vec<Option<String>> {
    let mut p = r.pipe();
    let handles: Vec<_> = keys.iter().map(|k| p.get(k.as_str())).collect();
    p.execute().unwrap();
    handles.iter().map(|h| h.result().unwrap()).collect()
}

#[test]
fn a_second_pipeline_of_the_same_reads_sends_nothing_and_a_write_reaches_the_next_read() {
    let server = RedisServer::start();
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
    let writer = plain(&server);
    writer
        .autoexec(None, |p| {
            for k in &keys {
                let _ = p.set(k.as_str(), format!("v-{k}"));
            }
            Ok(())
        })
        .unwrap();
    let r = cached(&server, 2000);
    let want: Vec<Option<String>> = keys.iter().map(|k| Some(format!("v-{k}"))).collect();

    let before = calls(&server, "get");
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(calls(&server, "get"), before + 1000);
    assert_eq!(stats(&r).entries, 1000);

    // The same 1 000 reads again: answered from the cache, nothing sent.
    assert_eq!(read_all(&r, &keys), want);
    assert_eq!(calls(&server, "get"), before + 1000);
    assert_eq!(stats(&r).hits, 1000);

    // Another client writes one key: the next read of it goes to Redis, the others are hits.
    writer
        .autoexec(None, |p| Ok(p.set("k500", "new")))
        .unwrap()
        .result()
        .unwrap();
    wait_for(&r, "the invalidation of k500", |s| s.invalidations >= 1);
    let got = read_all(&r, &keys);
    assert_eq!(got[500].as_deref(), Some("new"));
    assert_eq!(got[499], want[499]);
    assert_eq!(calls(&server, "get"), before + 1001);
    assert_eq!(stats(&r).hits, 1999);
    // And it is cached again, with the new value.
    assert_eq!(read_all(&r, &keys)[500].as_deref(), Some("new"));
    assert_eq!(calls(&server, "get"), before + 1001);
}

redpipe::keyspace! {
    /// Prices by item number, as floats.
    struct Prices: String { prefix: "P", key: Integer, value: Float }
}

#[derive(redpipe::Struct, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "Card")]
struct Card {
    #[redpipe(key)]
    id: String,
    name: String,
    n: i64,
}

#[test]
fn hashes_struct_loads_and_keyspaces_are_cached_and_invalidated() {
    let server = RedisServer::start();
    let writer = plain(&server);
    server.cli(&["HSET", "h", "f", "one", "g", "two"]);
    server.cli(&["SET", "P{7}", "1.5"]);
    let card = Card {
        id: "1".into(),
        name: "Ann".into(),
        n: 3,
    };
    writer
        .autoexec(None, |p| Ok(card.create(p).map(drop)?))
        .unwrap();
    let r = cached(&server, 100);
    let read = |r: &Connections| {
        let mut p = r.pipe();
        let f = p.hget("h", "f");
        let all = p.hgetall("h");
        let c = Card::load(&mut p, "1");
        let price = Prices::with(&mut p).get(&7).unwrap();
        p.execute().unwrap();
        let price = price.result().unwrap();
        (
            f.result().unwrap(),
            all.result().unwrap(),
            c.result().unwrap(),
            price,
        )
    };
    let sent = |s: &RedisServer| (calls(s, "hget"), calls(s, "hgetall"), calls(s, "get"));
    let (f, all, c, price) = read(&r);
    assert_eq!((f.as_deref(), all["g"].as_str()), (Some("one"), "two"));
    assert_eq!((c.as_ref(), price), (Some(&card), Some(1.5)));
    let first = sent(&server);
    let (f2, all2, c2, price2) = read(&r);
    assert_eq!((f2, all2, c2, price2), (f, all, c, price));
    assert_eq!(
        sent(&server),
        first,
        "the second read was answered from the cache"
    );
    assert_eq!(stats(&r).hits, 4);

    // Writes by another client: the hash, then the struct.
    server.cli(&["HSET", "h", "f", "uno"]);
    let changed = Card {
        n: 4,
        ..card.clone()
    };
    writer
        .autoexec(None, |p| Ok(changed.create(p).map(drop)?))
        .unwrap();
    server.cli(&["SET", "P{7}", "2.5"]);
    // Every key read was written: all four entries go (a struct write may invalidate its key
    // several times, so the count of invalidations says less).
    wait_for(&r, "every entry invalidated", |s| s.entries == 0);
    let (f, all, c, price) = read(&r);
    assert_eq!((f.as_deref(), all["f"].as_str()), (Some("uno"), "uno"));
    assert_eq!((c, price), (Some(changed), Some(2.5)));
    assert_eq!(sent(&server), (first.0 + 1, first.1 + 2, first.2 + 1));
}

/// The id of the tracking connection, from `CLIENT LIST`.
fn tracking_id(server: &RedisServer) -> String {
    let list = server.cli(&["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains("name=redpipe-tracking"))
        .unwrap_or_else(|| panic!("no tracking connection in {list}"));
    line.split(' ')
        .find_map(|w| w.strip_prefix("id="))
        .unwrap()
        .to_string()
}

#[test]
fn losing_the_tracking_connection_flushes_the_cache_until_tracking_is_back() {
    let server = RedisServer::start();
    server.cli(&["SET", "a", "1"]);
    let r = cached(&server, 100);
    let keys = ["a".to_string()];
    read_all(&r, &keys);
    read_all(&r, &keys);
    let before = calls(&server, "get");
    assert_eq!((before, stats(&r).entries), (1, 1));

    let killed = server.cli(&["CLIENT", "KILL", "ID", &tracking_id(&server)]);
    assert_eq!(killed, "1");
    wait_for(&r, "a new tracking connection", |s| {
        s.tracking && s.flushes >= 3
    });
    assert_eq!(stats(&r).tracking_connects, 2);
    assert_eq!(stats(&r).entries, 0, "flushed");
    // Meanwhile another client wrote `a`: the cache does not serve the old value.
    server.cli(&["SET", "a", "2"]);
    wait_for(&r, "the invalidation", |s| s.invalidations >= 1);
    assert_eq!(read_all(&r, &keys), [Some("2".to_string())]);
    assert_eq!(calls(&server, "get"), before + 1);
    // And it caches again.
    assert_eq!(read_all(&r, &keys), [Some("2".to_string())]);
    assert_eq!(calls(&server, "get"), before + 1);
    // The new tracking connection reports writes as the first did.
    server.cli(&["SET", "a", "3"]);
    wait_for(&r, "the invalidation", |s| s.invalidations >= 2);
    assert_eq!(read_all(&r, &keys), [Some("3".to_string())]);
}

#[test]
fn the_cache_never_holds_more_than_its_bound() {
    let server = RedisServer::start();
    let r = cached(&server, 100);
    let keys: Vec<String> = (0..500).map(|i| format!("b{i}")).collect();
    for chunk in keys.chunks(50) {
        read_all(&r, chunk);
        assert!(stats(&r).entries <= 100, "{:?}", stats(&r));
    }
    let s = stats(&r);
    assert_eq!((s.entries, s.evictions), (100, 400));
    // The most recent are the ones kept.
    let before = calls(&server, "get");
    read_all(&r, &keys[400..]);
    assert_eq!(calls(&server, "get"), before);
    read_all(&r, &keys[..1]);
    assert_eq!(calls(&server, "get"), before + 1);
}

#[test]
fn transactions_never_read_from_the_cache() {
    let server = RedisServer::start();
    server.cli(&["SET", "t", "1"]);
    let r = cached(&server, 100);
    read_all(&r, &["t".to_string()]);
    let before = (calls(&server, "get"), calls(&server, "exec"));
    let mut p = r.pipe();
    let t = p.transaction(|p| Ok(p.get("t"))).unwrap();
    p.execute().unwrap();
    assert_eq!(t.result().unwrap().as_deref(), Some("1"));
    assert_eq!(
        (calls(&server, "get"), calls(&server, "exec")),
        (before.0 + 1, before.1 + 1)
    );
    // A name whose every pipeline is a transaction never uses its cache.
    let tx = Connections::new();
    let info: ConnectionInfo = format!("{}?transaction=true", server.url())
        .parse()
        .unwrap();
    tx.register(DEFAULT, info.cache(CacheConfig::new(10)))
        .unwrap();
    for _ in 0..2 {
        read_all(&tx, &["t".to_string()]);
    }
    assert_eq!(calls(&server, "get"), before.0 + 3);
    assert_eq!(tx.cache_stats(DEFAULT).unwrap().hits, 0);
}

#[tokio::test]
async fn tokio_pipes_use_the_cache_too() {
    let server = RedisServer::start();
    server.cli(&["SET", "x", "1"]);
    let r = cached(&server, 100);
    let before = calls(&server, "get");
    // The first pipeline waits (without blocking the runtime) for the tracking connection,
    // so it fills the cache already.
    for _ in 0..3 {
        let mut p = r.pipe();
        let x = p.get("x");
        p.execute_async().await.unwrap();
        assert_eq!(x.result().unwrap().as_deref(), Some("1"));
    }
    assert_eq!(calls(&server, "get"), before + 1);
    assert_eq!(stats(&r).hits, 2);
}

#[test]
fn a_cluster_name_may_cache() {
    // Registered without connecting: its cache, empty, is the cluster's (see cache_cluster.rs).
    let r = Connections::new();
    let seeds = ["redis://127.0.0.1:1?cache=10"];
    r.register("c", &seeds).unwrap();
    assert_eq!(r.cache_stats("c"), Some(CacheStats::default()));
}
