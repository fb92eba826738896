//! Reads from replicas on a real Redis Cluster: a name registered with
//! `read_from_replicas(true)` sends a pipeline's reads to the replicas (after `READONLY`) and
//! its writes to the primaries, in the same pipeline. The replicas are cut off their primaries
//! first and the primaries given new values, so that each read's value says which node
//! answered it: a read a primary answered cannot pass for a replica's.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::HashMap;
use std::time::{Duration, Instant};

use redpipe::cluster::Cluster;
use redpipe::prelude::*;
use redpipe::{Connections, Handle};
use redpipe_tests::RedisCluster;

/// `calls` and `rejected_calls` (a `MOVED` is one) of `command` on node `port`, from `INFO
/// commandstats`.
fn calls(cluster: &RedisCluster, port: u16, command: &str) -> (u64, u64) {
    let info = cluster.cli(port, &["INFO", "commandstats"]);
    let prefix = format!("cmdstat_{command}:");
    let Some(line) = info.lines().find_map(|l| l.strip_prefix(&prefix)) else {
        return (0, 0);
    };
    let field = |name: &str| -> u64 {
        line.split(',')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
    };
    (field("calls"), field("rejected_calls"))
}

/// Whether node `port` has a client connection in `READONLY` mode (flag `r` in `CLIENT LIST`).
fn has_readonly_client(cluster: &RedisCluster, port: u16) -> bool {
    cluster.cli(port, &["CLIENT", "LIST"]).lines().any(|l| {
        l.split(' ')
            .find_map(|f| f.strip_prefix("flags="))
            .is_some_and(|flags| flags.contains('r'))
    })
}

#[test]
fn one_pipeline_reads_on_the_replicas_and_writes_on_the_primaries() {
    let cluster = RedisCluster::start();
    let seeds = cluster.seeds();
    let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let r = Connections::new();
    let replica_reads = Cluster::from_urls(&seeds).unwrap().read_from_replicas(true);
    r.register(redpipe::DEFAULT, replica_reads).unwrap();
    let (primaries, replicas) = (cluster.primaries(), cluster.replicas());
    assert_eq!((primaries.len(), replicas.len()), (3, 3));
    let n = 300;

    // The values the replicas keep: written, replicated, then the replicas cut off.
    let mut p = r.pipe();
    for i in 0..n {
        let _ = p.set(format!("r{i}"), format!("old {i}"));
    }
    p.execute().unwrap();
    let started = Instant::now();
    let replicated = || -> usize {
        replicas
            .iter()
            .map(|&port| cluster.cli(port, &["DBSIZE"]).parse::<usize>().unwrap())
            .sum()
    };
    while replicated() < n {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "replicas never caught up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for &port in &replicas {
        cluster.detach_replica(port);
    }
    // New values, on the primaries only.
    let mut p = r.pipe();
    for i in 0..n {
        let _ = p.set(format!("r{i}"), format!("new {i}"));
    }
    p.execute().unwrap();
    for port in cluster.ports() {
        assert_eq!(cluster.cli(port, &["CONFIG", "RESETSTAT"]), "OK");
    }

    // One pipeline: every key read, other keys written, interleaved.
    let mut p = r.pipe();
    let mut reads: Vec<Handle<Option<String>>> = Vec::new();
    let mut writes: Vec<Handle<i64>> = Vec::new();
    for i in 0..n {
        reads.push(p.get(format!("r{i}")));
        writes.push(p.incr(format!("w{i}")));
    }
    p.execute().unwrap();

    // Every read was answered by a replica: a primary holds the new value.
    for (i, h) in reads.iter().enumerate() {
        assert_eq!(
            h.result().unwrap().as_deref(),
            Some(format!("old {i}").as_str()),
            "r{i}"
        );
    }
    let counts = r.cluster(redpipe::DEFAULT).unwrap().counts();
    assert_eq!((counts.moved, counts.retries), (0, 0), "{counts:?}");
    // A replica got reads only, on a READONLY connection; no write reached it, not even one it
    // refused (a write sent to a replica is refused with MOVED and counted as rejected).
    for &port in &replicas {
        assert!(calls(&cluster, port, "get").0 > 0, "replica {port} read");
        assert_eq!(calls(&cluster, port, "incr"), (0, 0), "replica {port}");
        let errors = cluster.cli(port, &["INFO", "errorstats"]);
        assert!(!errors.contains("errorstat_MOVED"), "{port}: {errors}");
        assert!(has_readonly_client(&cluster, port), "replica {port}");
    }
    let replica_gets: u64 = replicas.iter().map(|&p| calls(&cluster, p, "get").0).sum();
    assert_eq!(replica_gets, n as u64, "each read once");

    // Every write went to its slot's primary, once: counted per primary, then key by key.
    let mut owners: HashMap<u16, u64> = HashMap::new();
    let keys: Vec<(String, u16)> = (0..n)
        .map(|i| {
            let key = format!("w{i}");
            let owner = cluster.port_of_slot(cluster.slot_of(&key));
            *owners.entry(owner).or_default() += 1;
            (key, owner)
        })
        .collect();
    for &port in &primaries {
        assert_eq!(calls(&cluster, port, "get"), (0, 0), "no read on {port}");
        let incrs = owners.get(&port).copied().unwrap_or(0);
        assert!(incrs > 0, "{port} owns some of the keys");
        assert_eq!(calls(&cluster, port, "incr"), (incrs, 0), "primary {port}");
    }
    for ((key, owner), h) in keys.iter().zip(&writes) {
        assert_eq!(h.result().unwrap(), 1, "{key}");
        assert_eq!(cluster.get(*owner, key).as_deref(), Some("1"), "{key}");
    }
}
