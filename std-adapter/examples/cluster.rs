//! A Redis Cluster under one name: the same `Pipe`, keyspaces and reusable functions as on one
//! server, each command routed to the node that owns its key's slot, one batch per node per
//! round trip, multi-key commands split per slot and put back together, and what the cluster
//! did meanwhile counted.
//!
//! Run it with `REDIS_CLUSTER_URLS=redis://127.0.0.1:7000,redis://127.0.0.1:7001 cargo run -p
//! redpipe --example cluster` (seed URLs, comma-separated; `cargo xtask test` starts a
//! throwaway cluster of three primaries for it). Its keys carry the process id and are deleted
//! at the end.

use std::time::Duration;

use redpipe::cluster::Cluster;
use redpipe::prelude::*;
use redpipe::{Connections, Handle, Pipe};

/// A reusable function, unchanged from the single-server examples.
fn incr_and_expire(key: &str, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<i64>> {
    redpipe::autoexec(pipe, |p| {
        let n = p.incr(key);
        let _ = p.expire(key, Duration::from_secs(60));
        Ok(n)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let urls = std::env::var("REDIS_CLUSTER_URLS").map_err(|_| "REDIS_CLUSTER_URLS is not set")?;
    let seeds: Vec<&str> = urls.split(',').collect();
    // A registration of its own (the process-wide one works the same: redpipe::connect_cluster).
    let cluster = Cluster::from_urls(&seeds)?.retry_budget(Duration::from_secs(10));
    let r = Connections::new();
    r.register(redpipe::DEFAULT, cluster)?;
    let pid = std::process::id();
    let key = |i: u32| format!("cl:{pid}:{i}");

    // 1 000 counters spread over every node: one pipe, one batch per node.
    let before = r.stats(redpipe::DEFAULT).map_or(0, |s| s.pipelines);
    let counts = r.autoexec(None, |p| {
        (0..1_000)
            .map(|i| incr_and_expire(&key(i), p.nested()))
            .collect::<redpipe::Result<Vec<_>>>()
    })?;
    let batches = r.stats(redpipe::DEFAULT).map_or(0, |s| s.pipelines) - before;
    for h in &counts {
        assert_eq!(h.result()?, 1);
    }
    let map = r.cluster(redpipe::DEFAULT).ok_or("a cluster")?.map();
    println!(
        "1000 INCR+EXPIRE over {} nodes in {batches} node batches",
        map.nodes().len()
    );
    assert!(batches <= map.nodes().len() as u64, "one batch per node");

    // MGET over keys of every slot: split per slot, answered in the caller's order.
    let keys: Vec<String> = (0..50).map(key).collect();
    let values = r.autoexec(None, |p| Ok(p.mget(&keys)))?;
    assert!(values.result()?.iter().all(|v| v.as_deref() == Some("1")));

    // Keys that must live together share a hash tag.
    let tagged = r.autoexec(None, |p| {
        let _ = p.set(format!("{{user:{pid}}}:name"), "Ann");
        let _ = p.set(format!("{{user:{pid}}}:mail"), "ann@example.com");
        Ok(p.mget([
            format!("{{user:{pid}}}:name"),
            format!("{{user:{pid}}}:mail"),
        ]))
    })?;
    assert_eq!(tagged.result()?.len(), 2);

    let seen = r.cluster(redpipe::DEFAULT).ok_or("a cluster")?.counts();
    println!(
        "redirections seen: {} MOVED, {} ASK",
        seen.moved, seen.asked
    );

    // Clean up: DEL is split per slot too.
    let mut all = keys.clone();
    all.extend((50..1_000).map(key));
    all.push(format!("{{user:{pid}}}:name"));
    all.push(format!("{{user:{pid}}}:mail"));
    let deleted = r.autoexec(None, |p| Ok(p.del(&all)))?;
    assert_eq!(deleted.result()?, 1_002);
    Ok(())
}
