//! The cache in memory: plans, fills, invalidations and the race rule, from byte fixtures.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Cache, CacheConfig, Plan};
use crate::codec::error::Failure;
use crate::engine::VecPipeline;
use crate::engine::deferred::SlotError;
use crate::prelude::*;

fn tracking(config: CacheConfig) -> Cache {
    let mut c = Cache::new(config);
    c.set_tracking(true);
    c
}

/// What the transport does: sends the batch (or `p`), returns the bytes sent.
fn send(plan: &mut Plan, p: &mut VecPipeline) -> Vec<u8> {
    let target = match plan.batch() {
        Some(b) => b,
        None => p,
    };
    let out = target.poll_output().to_vec();
    target.consume_output(out.len());
    out
}

/// Feeds the server's `replies` to what was sent.
fn answer(plan: &mut Plan, p: &mut VecPipeline, replies: &[u8]) {
    let target = match plan.batch() {
        Some(b) => b,
        None => p,
    };
    assert_eq!(target.handle_input(replies), Ok(replies.len()));
    assert!(target.is_done());
}

/// One whole run: plan, send, answer, finish; returns what was sent.
fn run(cache: &mut Cache, p: &mut VecPipeline, replies: &[u8]) -> Vec<u8> {
    let mut plan = cache.plan(p);
    let sent = send(&mut plan, p);
    if !sent.is_empty() {
        answer(&mut plan, p, replies);
    }
    cache.finish(plan, p);
    assert!(p.is_done());
    sent
}

const INVALIDATE_A: &[u8] = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n";
const INVALIDATE_ALL: &[u8] = b">2\r\n$10\r\ninvalidate\r\n_\r\n";

#[test]
fn a_second_read_sends_nothing() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let a = p.get::<String>("a").unwrap();
    let sent = run(&mut cache, &mut p, b"$2\r\nv1\r\n");
    assert_eq!(sent, b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
    assert_eq!(a.read(&p).unwrap(), "v1");

    let mut p = VecPipeline::new();
    let a = p.get::<String>("a").unwrap();
    let mut plan = cache.plan(&mut p);
    assert!(plan.is_answered());
    assert_eq!(plan.hits(), 1);
    assert!(send(&mut plan, &mut p).is_empty());
    cache.finish(plan, &mut p);
    assert!(p.is_done());
    assert_eq!(a.read(&p).unwrap(), "v1");
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.fills, s.entries), (1, 1, 1, 1));
}

#[test]
fn hits_and_misses_each_reach_their_own_handle() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    let _ = p.hget::<String>("h", "f").unwrap();
    run(&mut cache, &mut p, b"$2\r\nva\r\n$2\r\nhf\r\n");

    // Misses between hits: the batch holds only the misses, in order.
    let mut p = VecPipeline::new();
    let b = p.get::<String>("b").unwrap();
    let a = p.get::<String>("a").unwrap();
    let n = p.incr("counter").unwrap();
    let h = p.hget::<String>("h", "f").unwrap();
    let g = p.hget::<Option<String>>("h", "g").unwrap();
    let sent = run(&mut cache, &mut p, b"$2\r\nvb\r\n:7\r\n$-1\r\n");
    assert_eq!(
        sent,
        b"*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n\
          *3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\ng\r\n"
    );
    assert_eq!(b.read(&p).unwrap(), "vb");
    assert_eq!(a.read(&p).unwrap(), "va");
    assert_eq!(n.read(&p), Ok(7));
    assert_eq!(h.read(&p).unwrap(), "hf");
    assert_eq!(g.read(&p).unwrap(), None);
    // The nil of a missing field is a reply like any other: cached.
    assert_eq!(cache.stats().entries, 4);
}

/// The race rule: the server answered with the old value, then another client's write was
/// invalidated; the invalidation overtook the reply. The fill is refused.
#[test]
fn an_invalidation_between_send_and_reply_refuses_the_fill() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let a = p.get::<String>("a").unwrap();
    let b = p.get::<String>("b").unwrap();
    let mut plan = cache.plan(&mut p);
    send(&mut plan, &mut p);
    assert!(cache.handle_push(INVALIDATE_A));
    answer(&mut plan, &mut p, b"$3\r\nold\r\n$2\r\nvb\r\n");
    cache.finish(plan, &mut p);
    // The handles read what the server said; only `b` was stored.
    assert_eq!(
        (a.read(&p).unwrap(), b.read(&p).unwrap()),
        ("old".into(), "vb".into())
    );
    let s = cache.stats();
    assert_eq!((s.fills, s.refused, s.entries), (1, 1, 1));

    // So the next read of `a` goes to the server.
    let mut p = VecPipeline::new();
    let a = p.get::<String>("a").unwrap();
    let sent = run(&mut cache, &mut p, b"$3\r\nnew\r\n");
    assert_eq!(sent, b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
    assert_eq!(a.read(&p).unwrap(), "new");
}

#[test]
fn a_flush_in_flight_refuses_every_fill_and_empties_the_cache() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("x").unwrap();
    run(&mut cache, &mut p, b"$1\r\n1\r\n");
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("y").unwrap();
    let mut plan = cache.plan(&mut p);
    send(&mut plan, &mut p);
    assert!(cache.handle_push(INVALIDATE_ALL));
    answer(&mut plan, &mut p, b"$1\r\n2\r\n");
    cache.finish(plan, &mut p);
    let s = cache.stats();
    assert_eq!((s.entries, s.refused), (0, 1));
}

#[test]
fn tracking_lost_flushes_and_nothing_is_answered_or_filled_until_it_is_back() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    run(&mut cache, &mut p, b"$1\r\n1\r\n");
    // A read planned before the loss, answered after it, is refused too.
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("b").unwrap();
    let mut plan = cache.plan(&mut p);
    send(&mut plan, &mut p);
    cache.set_tracking(false);
    answer(&mut plan, &mut p, b"$1\r\n2\r\n");
    cache.finish(plan, &mut p);
    assert_eq!(cache.stats().entries, 0);
    // While down: everything goes to the server, nothing is kept.
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    assert!(!run(&mut cache, &mut p, b"$1\r\n1\r\n").is_empty());
    assert_eq!(cache.stats().entries, 0);
    // A read planned while down and answered after tracking is back is refused as well.
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    let mut plan = cache.plan(&mut p);
    send(&mut plan, &mut p);
    cache.set_tracking(true);
    answer(&mut plan, &mut p, b"$1\r\n1\r\n");
    cache.finish(plan, &mut p);
    assert_eq!(cache.stats().entries, 0);
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    run(&mut cache, &mut p, b"$1\r\n1\r\n");
    assert_eq!(cache.stats().entries, 1);
}

#[test]
fn bounded_by_entries_least_recently_used_out() {
    let mut cache = tracking(CacheConfig::new(3));
    for k in ["a", "b", "c"] {
        let mut p = VecPipeline::new();
        let _ = p.get::<String>(k).unwrap();
        run(&mut cache, &mut p, b"$1\r\nv\r\n");
    }
    // Use `a`, so `b` is the oldest.
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    assert!(run(&mut cache, &mut p, b"").is_empty());
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("d").unwrap();
    run(&mut cache, &mut p, b"$1\r\nv\r\n");
    let s = cache.stats();
    assert_eq!((s.entries, s.evictions), (3, 1));
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("b").unwrap();
    let plan = cache.plan(&mut p);
    assert_eq!(plan.hits(), 0, "b was evicted");
    cache.finish(plan, &mut p);
}

#[test]
fn bounded_by_bytes() {
    let mut cache =
        tracking(CacheConfig::new(1000).max_bytes(2 * super::store::ENTRY_OVERHEAD + 100));
    for k in ["a", "b", "c", "d"] {
        let mut p = VecPipeline::new();
        let _ = p.get::<String>(k).unwrap();
        run(&mut cache, &mut p, b"$10\r\n0123456789\r\n");
    }
    let s = cache.stats();
    assert!(s.entries <= 2 && s.bytes <= 2 * super::store::ENTRY_OVERHEAD + 100);
    // A reply larger than the bound alone is never stored.
    let mut big = tracking(CacheConfig::new(10).max_bytes(50));
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    run(&mut big, &mut p, b"$10\r\n0123456789\r\n");
    assert_eq!(big.stats().entries, 0);
}

#[test]
#[cfg(feature = "transactions")]
fn transactions_and_scripts_bypass_the_cache() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    run(&mut cache, &mut p, b"$1\r\nv\r\n");
    let mut p = VecPipeline::new();
    let a = p.transaction(|p| p.get::<String>("a")).unwrap();
    let mut plan = cache.plan(&mut p);
    assert!(plan.batch().is_none() && plan.hits() == 0);
    send(&mut plan, &mut p);
    answer(&mut plan, &mut p, b"+OK\r\n+QUEUED\r\n*1\r\n$2\r\ntx\r\n");
    cache.finish(plan, &mut p);
    assert_eq!(a.read(&p).unwrap(), "tx");
    // Nor did it fill: the entry is still the old one.
    let s = cache.stats();
    assert_eq!((s.hits, s.fills), (0, 1));
}

#[test]
fn a_read_after_a_write_of_its_key_goes_to_the_server() {
    let mut cache = tracking(CacheConfig::new(10));
    for k in ["a", "b"] {
        let mut p = VecPipeline::new();
        let _ = p.get::<String>(k).unwrap();
        run(&mut cache, &mut p, b"$3\r\nold\r\n");
    }
    let mut p = VecPipeline::new();
    let _ = p.set("a", "new").unwrap();
    let a = p.get::<String>("a").unwrap();
    let b = p.get::<String>("b").unwrap();
    let sent = run(&mut cache, &mut p, b"+OK\r\n$3\r\nnew\r\n");
    assert!(sent.ends_with(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n"));
    assert_eq!(
        (a.read(&p).unwrap(), b.read(&p).unwrap()),
        ("new".into(), "old".into())
    );
    // A command that may change any key stops every later hit.
    let mut p = VecPipeline::new();
    let _ = p.query::<()>(crate::cmd("FLUSHALL")).unwrap();
    let _ = p.get::<String>("b").unwrap();
    let mut plan = cache.plan(&mut p);
    assert_eq!(plan.hits(), 0);
    send(&mut plan, &mut p);
    answer(&mut plan, &mut p, b"+OK\r\n$-1\r\n");
    cache.finish(plan, &mut p);
}

#[test]
fn errors_are_not_cached_and_prefixes_bound_what_is() {
    let mut cache = tracking(CacheConfig::new(10).prefix("user:"));
    let mut p = VecPipeline::new();
    let e = p.get::<String>("user:1").unwrap();
    let _ = p.get::<String>("other").unwrap();
    run(&mut cache, &mut p, b"-WRONGTYPE no\r\n$1\r\nv\r\n");
    assert!(matches!(e.read(&p), Err(SlotError::Server(_))));
    assert_eq!(cache.stats().entries, 0);
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("user:1").unwrap();
    run(&mut cache, &mut p, b"$1\r\nv\r\n");
    assert_eq!(cache.stats().entries, 1);
    assert_eq!(
        cache.config().tracking_command(),
        b"*6\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n$5\r\nBCAST\r\n$6\r\nPREFIX\r\n$5\r\nuser:\r\n"
    );
}

#[test]
fn a_failed_batch_fails_its_commands_only() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    run(&mut cache, &mut p, b"$1\r\nv\r\n");
    let mut p = VecPipeline::new();
    let a = p.get::<String>("a").unwrap();
    let b = p.get::<String>("b").unwrap();
    let mut plan = cache.plan(&mut p);
    send(&mut plan, &mut p);
    if let Some(batch) = plan.batch() {
        batch.fail(Failure::Closed);
    }
    cache.finish(plan, &mut p);
    assert!(p.is_done());
    assert_eq!(a.read(&p).unwrap(), "v");
    assert_eq!(b.read(&p), Err(SlotError::Failed(Failure::Closed)));
}

#[test]
fn an_invalidation_removes_every_read_of_its_key() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let _ = p.hget::<String>("a", "f").unwrap();
    let _ = p.hgetall::<Vec<(String, String)>>("a").unwrap();
    let _ = p.get::<String>("ab").unwrap();
    run(
        &mut cache,
        &mut p,
        b"$1\r\nx\r\n*2\r\n$1\r\nf\r\n$1\r\nx\r\n$1\r\ny\r\n",
    );
    assert_eq!(cache.stats().entries, 3);
    cache.handle_push(INVALIDATE_A);
    // `ab` shares a's first byte, not its key.
    assert_eq!(cache.stats().entries, 1);
    // Pushes of other kinds are not invalidations.
    assert!(!cache.handle_push(b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n"));
}

#[test]
fn an_overflowing_log_refuses_fills_older_than_what_it_kept() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    let mut plan = cache.plan(&mut p);
    send(&mut plan, &mut p);
    // Invalidations of other keys only, but more than the log keeps.
    for i in 0..=super::LOG_ENTRIES {
        cache.invalidate(alloc::format!("other{i}").as_bytes());
    }
    answer(&mut plan, &mut p, b"$1\r\nv\r\n");
    cache.finish(plan, &mut p);
    assert_eq!(cache.stats().refused, 1);
    // Within the log's reach, other keys' invalidations do not refuse a fill.
    let mut p = VecPipeline::new();
    let _ = p.get::<String>("a").unwrap();
    let mut plan = cache.plan(&mut p);
    send(&mut plan, &mut p);
    cache.invalidate(b"other");
    answer(&mut plan, &mut p, b"$1\r\nv\r\n");
    cache.finish(plan, &mut p);
    assert_eq!(cache.stats().entries, 1);
}

#[test]
fn hmget_is_cached_by_its_fields() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let _ = p.hmget::<Vec<Option<String>>>("h", ("a", "b")).unwrap();
    run(&mut cache, &mut p, b"*2\r\n$1\r\n1\r\n$-1\r\n");
    // The same fields: a hit; other fields: another entry.
    let mut p = VecPipeline::new();
    let same = p.hmget::<Vec<Option<String>>>("h", ("a", "b")).unwrap();
    let other = p.hmget::<Vec<Option<String>>>("h", "a").unwrap();
    let sent = run(&mut cache, &mut p, b"*1\r\n$1\r\n1\r\n");
    assert_eq!(sent, b"*3\r\n$5\r\nHMGET\r\n$1\r\nh\r\n$1\r\na\r\n");
    assert_eq!(same.read(&p).unwrap(), [Some("1".into()), None]);
    assert_eq!(other.read(&p).unwrap(), [Some(String::from("1"))]);
    cache.invalidate(b"h");
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn a_pipeline_without_cacheable_reads_runs_as_it_is() {
    let mut cache = tracking(CacheConfig::new(10));
    let mut p = VecPipeline::new();
    let _ = p.set("a", "1").unwrap();
    let _ = p.incr("n").unwrap();
    let mut plan = cache.plan(&mut p);
    assert!(plan.batch().is_none());
    send(&mut plan, &mut p);
    answer(&mut plan, &mut p, b"+OK\r\n:1\r\n");
    cache.finish(plan, &mut p);
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.fills, s.entries), (0, 0, 0, 0));
}

#[test]
fn a_cluster_cache_answers_only_while_every_primary_is_tracked() {
    use crate::cluster::Node;
    let node = |port| Node {
        host: "h".into(),
        port,
    };
    let filled = |cache: &mut Cache| {
        let mut p = VecPipeline::new();
        let _ = p.get::<String>("a").unwrap();
        run(cache, &mut p, b"$1\r\n1\r\n");
        cache.stats().entries
    };
    let mut cache = Cache::new(CacheConfig::new(10));
    // No node needed yet (no slot map): off.
    cache.set_node_tracking(&node(1), true);
    assert!(!cache.is_tracking());
    cache.set_needed_nodes([node(1), node(2)]);
    assert!(!cache.is_tracking());
    // A replica's connection (not needed) comes up early; the last primary's turns it on.
    cache.set_node_tracking(&node(3), true);
    cache.set_node_tracking(&node(2), true);
    assert!(cache.is_tracking());
    assert_eq!(filled(&mut cache), 1);
    // A replica's connection lost changes nothing.
    cache.set_node_tracking(&node(3), false);
    assert_eq!(cache.stats().entries, 1);
    cache.set_node_tracking(&node(3), true);
    // A primary's lost: flushed and off until it is back.
    cache.set_node_tracking(&node(1), false);
    assert!(!cache.is_tracking());
    assert_eq!(filled(&mut cache), 0);
    cache.set_node_tracking(&node(1), true);
    assert_eq!(filled(&mut cache), 1);
    // The replica promoted in place of 1 (tracked already): still on, nothing lost.
    cache.set_needed_nodes([node(3), node(2)]);
    assert!(cache.is_tracking());
    assert_eq!(cache.stats().entries, 1);
    // A new primary not tracked yet: flushed and off until it is.
    cache.set_needed_nodes([node(3), node(2), node(4)]);
    assert!(!cache.is_tracking());
    assert_eq!(filled(&mut cache), 0);
    cache.set_node_tracking(&node(4), true);
    assert_eq!(filled(&mut cache), 1);
}
