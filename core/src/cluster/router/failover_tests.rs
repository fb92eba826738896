//! The router when a node fails or is failed over while a round is out: redirections back and
//! forth, a broken connection (what may go again), a deposed primary's writes.

use super::fake::FakeCluster;
use super::*;
use crate::prelude::*;
use crate::{Failure, SlotError};
use alloc::format;
use alloc::string::String;
use alloc::vec;

#[test]
fn writes_answered_by_a_node_failed_over_meanwhile_read_deposed_and_are_not_sent_again() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let on = |node: usize| {
        (0..)
            .map(|i| format!("k{i}"))
            .find(|k| map.owner(HashSlot::for_key(k.as_bytes())) == map.find(&cluster.node(node)))
            .unwrap()
    };
    let (deposed_key, healthy_key) = (on(0), on(1));
    let mut p = VecPipeline::new();
    let write = p.incr(deposed_key.as_str()).unwrap();
    let read = p.get::<i64>(deposed_key.as_str()).unwrap();
    let elsewhere = p.incr(healthy_key.as_str()).unwrap();
    let mut run = ClusterRun::new();
    assert!(run.next_round(&mut p, &map));
    cluster.serve(&mut run, &map);
    // Read while the batches were out: node 0's slots are node 1's now.
    let mut latest = FakeCluster::new(3);
    for owner in &mut latest.owner {
        if *owner == 0 {
            *owner = 1;
        }
    }
    let latest = latest.map();
    run.check_deposed(&map, &latest);
    run.absorb(&mut p, &mut map);
    assert_eq!(write.read(&p), Err(SlotError::Failed(Failure::Deposed)));
    assert_eq!(read.read(&p), Ok(1), "a read is taken as it is");
    assert_eq!(elsewhere.read(&p), Ok(1), "a node that kept its slots");
    assert!(!run.next_round(&mut p, &map), "nothing is sent again");
    assert_eq!(run.failure(), Some(Failure::Deposed));

    // The same map read again, nothing changed: replies are taken as they are.
    let mut p = VecPipeline::new();
    let write = p.incr(deposed_key.as_str()).unwrap();
    let mut run = ClusterRun::new();
    assert!(run.next_round(&mut p, &map));
    cluster.serve(&mut run, &map);
    run.check_deposed(&map, &cluster.map());
    run.absorb(&mut p, &mut map);
    assert_eq!(write.read(&p), Ok(2));
}

#[test]
fn a_failover_rides_through_moved_back_and_forth() {
    fn leak(s: alloc::string::String) -> &'static [u8] {
        alloc::boxed::Box::leak(s.into_bytes().into_boxed_slice())
    }
    let mut cluster = FakeCluster::new(2);
    let mut map = cluster.map();
    let slot = HashSlot::for_key(b"counter");
    let owner = cluster.owner[usize::from(slot.get())];
    let other = 1 - owner;
    let moved_to = |node: usize| {
        leak(format!(
            "-MOVED {} 127.0.0.1:{}\r\n",
            slot.get(),
            7000 + node
        ))
    };
    for _ in 0..4 {
        cluster.scripted.push((owner, "INCR", moved_to(other)));
        cluster.scripted.push((other, "INCR", moved_to(owner)));
    }
    let mut p = VecPipeline::new();
    let n = p.incr("counter").unwrap();
    let mut run = ClusterRun::new();
    let mut delays = Vec::new();
    while run.next_round(&mut p, &map) {
        delays.push(run.delay_ms());
        cluster.serve(&mut run, &map);
        run.absorb(&mut p, &mut map);
    }
    assert_eq!(
        n.read(&p),
        Ok(1),
        "more redirections than the old 5 attempts"
    );
    assert_eq!(run.counts().moved, 8);
    assert_eq!(run.counts().retries, 8);
    assert_eq!(
        delays[..2],
        [0, 0],
        "a first MOVED goes straight to the new owner"
    );
    assert!(
        delays[2..].iter().all(|&d| d > 0),
        "a MOVED again waits for the nodes to agree: {delays:?}"
    );
    let applied: usize = cluster
        .data
        .iter()
        .filter(|d| d.contains_key(b"counter".as_slice()))
        .count();
    assert_eq!(applied, 1, "applied once, on one node");
}

#[test]
fn a_failed_node_fails_only_its_written_writes_and_the_rest_go_again() {
    let mut cluster = FakeCluster::new(2);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    let on: Vec<_> = (0..40)
        .map(|i| (format!("f{i}"), p.incr(format!("f{i}")).unwrap()))
        .collect();
    let mut run = ClusterRun::new();
    assert!(run.next_round(&mut p, &map));
    // Node 0's connection breaks after everything was written; node 1 answers.
    let failing = run
        .batches_mut()
        .iter()
        .position(|b| b.node() == map.find(&cluster.node(0)).unwrap())
        .unwrap();
    let batch = &mut run.batches_mut()[failing];
    let n = batch.pipeline_mut().poll_output().len();
    batch.pipeline_mut().consume_output(n);
    batch
        .pipeline_mut()
        .fail(Failure::Io(crate::IoKind::ConnectionReset));
    let rest: Vec<usize> = (0..run.batches_mut().len())
        .filter(|&b| b != failing)
        .collect();
    for b in rest {
        let mut one = ClusterRun {
            batches: vec![core::mem::replace(
                &mut run.batches_mut()[b],
                Batch {
                    node: 0,
                    pipeline: VecPipeline::new(),
                    members: Vec::new(),
                    replica: false,
                    deposed: false,
                },
            )],
            ..ClusterRun::new()
        };
        cluster.serve(&mut one, &map);
        run.batches[b] = one.batches.pop().unwrap();
    }
    run.absorb(&mut p, &mut map);
    assert!(
        !run.next_round(&mut p, &map),
        "written commands are not replayed"
    );
    for (key, h) in &on {
        let node = cluster.owner[usize::from(HashSlot::for_key(key.as_bytes()).get())];
        match node {
            0 => assert_eq!(
                h.read(&p),
                Err(SlotError::Failed(Failure::Io(
                    crate::IoKind::ConnectionReset
                )))
            ),
            _ => assert_eq!(h.read(&p), Ok(1)),
        }
    }

    // Reads written to a node whose connection broke go again: they change nothing.
    let mut p = VecPipeline::new();
    let keys: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
    let reads: Vec<_> = keys
        .iter()
        .map(|k| p.get::<Option<i64>>(k.as_str()).unwrap())
        .collect();
    let write = p.incr(keys[0].as_str()).unwrap();
    let mut run = ClusterRun::new();
    assert!(run.next_round(&mut p, &map));
    for b in run.batches_mut() {
        let n = b.pipeline_mut().poll_output().len();
        b.pipeline_mut().consume_output(n);
        b.pipeline_mut()
            .fail(Failure::Io(crate::IoKind::ConnectionReset));
    }
    run.absorb(&mut p, &mut map);
    assert!(run.next_round(&mut p, &map), "the reads go again");
    let again: usize = run
        .batches_mut()
        .iter_mut()
        .map(|b| b.pipeline_mut().len())
        .sum();
    assert_eq!(again, keys.len(), "only the reads, not the written INCR");
    cluster.serve(&mut run, &map);
    run.absorb(&mut p, &mut map);
    for h in &reads {
        assert_eq!(h.read(&p), Ok(None), "the INCR that failed ran nowhere");
    }
    assert_eq!(
        write.read(&p),
        Err(SlotError::Failed(Failure::Io(
            crate::IoKind::ConnectionReset
        )))
    );

    // A node that could not be reached (nothing written) gets the commands again.
    let mut p = VecPipeline::new();
    let h = p.incr("again").unwrap();
    let mut run = ClusterRun::new();
    assert!(run.next_round(&mut p, &map));
    for b in run.batches_mut() {
        b.pipeline_mut()
            .fail(Failure::Io(crate::IoKind::ConnectionRefused));
    }
    run.absorb(&mut p, &mut map);
    assert!(run.wants_refresh() && run.delay_ms() > 0);
    assert!(run.next_round(&mut p, &map));
    cluster.serve(&mut run, &map);
    run.absorb(&mut p, &mut map);
    assert_eq!(h.read(&p), Ok(1));
}

#[test]
fn a_map_read_since_the_round_settles_its_moved_only_if_it_agrees() {
    let mut cluster = FakeCluster::new(3);
    let stale = cluster.map();
    let slot = HashSlot::for_key(b"counter");
    let from = cluster.owner[usize::from(slot.get())];
    // The slot's whole range went to another node (a failover); the round still has the
    // old map.
    let to = (from + 1) % 3;
    for owner in &mut cluster.owner {
        if *owner == from {
            *owner = to;
        }
    }
    let mut map = stale.clone();
    let mut p = VecPipeline::new();
    let n = p.incr("counter").unwrap();
    let mut run = ClusterRun::new();
    assert!(run.next_round(&mut p, &map));
    cluster.serve(&mut run, &map);
    run.absorb(&mut p, &mut map);
    assert!(run.wants_refresh(), "a MOVED asks for a refresh");
    assert!(
        !run.settled_by(&map, &stale),
        "a map that still names the old owner settles nothing"
    );
    let fresh = cluster.map();
    assert!(
        run.settled_by(&map, &fresh),
        "one that names the new owner does"
    );
    // Routed on that map instead of a refresh of its own, the command reaches the new owner.
    assert!(run.next_round(&mut p, &fresh));
    cluster.serve(&mut run, &fresh);
    run.absorb(&mut p, &mut map);
    assert_eq!(n.read(&p), Ok(1));
    assert!(!run.wants_refresh());
    assert!(run.settled_by(&map, &stale), "no MOVED: nothing to settle");
}

#[test]
fn a_back_off_cut_short_counts_only_what_was_waited() {
    let mut cluster = FakeCluster::new(1);
    let mut map = cluster.map();
    for _ in 0..12 {
        cluster
            .scripted
            .push((0, "INCR", b"-CLUSTERDOWN The cluster is down\r\n"));
    }
    let mut p = VecPipeline::new();
    let n = p.incr("k").unwrap();
    let mut run = ClusterRun::new();
    // Twelve full back-offs add up to more than this budget.
    run.set_retry_budget(500);
    let mut rounds = 0;
    while run.next_round(&mut p, &map) {
        rounds += 1;
        cluster.serve(&mut run, &map);
        run.absorb(&mut p, &mut map);
        if run.delay_ms() > 0 {
            // Woken by a new map after 5 ms.
            run.shorten_delay(5);
            assert_eq!(run.delay_ms(), 5);
        }
    }
    assert_eq!(rounds, 13);
    assert_eq!(
        n.read(&p),
        Ok(1),
        "the budget counts 60 ms waited, not 12 back-offs"
    );
    assert_eq!(run.counts().waited_ms, 60);
    // Never longer than asked.
    let mut run = ClusterRun::new();
    run.shorten_delay(100);
    assert_eq!(run.delay_ms(), 0);
}
