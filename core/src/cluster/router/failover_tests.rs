//! The router when a node is failed over while a round is out.

use super::fake::FakeCluster;
use super::*;
use crate::prelude::*;
use crate::{Failure, SlotError};
use alloc::format;

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
