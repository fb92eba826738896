//! Pub/Sub on a real Redis Cluster (the local harness): shard channels subscribed on their
//! slot's primary and reached by `SPUBLISH` from a pipeline, channels and patterns on any node,
//! and shard subscribers following their slot when it moves: a migration by hand (the old
//! owner's `sunsubscribe`), a subscriber whose map is stale (`-MOVED`), and a failover (the
//! connection lost with its node).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use futures_util::StreamExt;
use redpipe::Error;
use redpipe::cluster::HashSlot;
use redpipe::prelude::*;
use redpipe::pubsub::{AsyncSubscriber, Event, Kind, Overflow, Subscriber};
use redpipe_tests::pubsub::{
    WAIT, next_message, next_message_async, spublish, spublish_until_received,
};
use redpipe_tests::{ClusterOptions, RedisCluster, eventually, eventually_async};

/// A shard channel whose slot is on the primary at `port`, distinct for each `tag`.
fn channel_on(cluster: &RedisCluster, port: u16, tag: &str) -> String {
    (0..1000)
        .map(|i| format!("{{{tag}{i}}}.events"))
        .find(|c| cluster.port_of_slot(slot(c)) == port)
        .unwrap()
}

fn slot(channel: &str) -> u16 {
    HashSlot::for_key(channel.as_bytes()).get()
}

/// How many subscribers the node at `port` counts for shard channel `channel`.
fn shard_subscribers(cluster: &RedisCluster, port: u16, channel: &str) -> String {
    let out = cluster.cli(port, &["PUBSUB", "SHARDNUMSUB", channel]);
    out.lines().nth(1).unwrap_or_default().to_string()
}

#[test]
fn shard_channels_live_on_their_slots_primary_and_spublish_reaches_them() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("?timeout=5000");
    let primaries = cluster.primaries();
    let channels: Vec<String> = primaries
        .iter()
        .enumerate()
        .map(|(i, &p)| channel_on(&cluster, p, &format!("n{i}")))
        .collect();
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.ssubscribe(&channels).unwrap();
    sub.subscribe(&["broadcast"]).unwrap();
    sub.psubscribe(&["b*"]).unwrap();
    // Each shard channel on the node of its slot, and on no other.
    for (channel, &owner) in channels.iter().zip(&primaries) {
        for &port in &primaries {
            let want = if port == owner { "1" } else { "0" };
            assert_eq!(
                shard_subscribers(&cluster, port, channel),
                want,
                "{channel} on {port}"
            );
        }
    }
    // One pipeline, each SPUBLISH routed to its slot's node.
    let messages: Vec<(&str, &str)> = channels
        .iter()
        .zip(["a", "b", "c"])
        .map(|(c, m)| (c.as_str(), m))
        .collect();
    assert_eq!(spublish(&r, &messages), [1, 1, 1]);
    let mut got: Vec<(String, String)> = (0..3)
        .map(|_| {
            let m = next_message(&mut sub);
            assert_eq!(m.kind(), Kind::Shard);
            let payload = m.payload::<String>().unwrap();
            (m.channel().to_string(), payload)
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = messages
        .iter()
        .map(|(c, m)| (c.to_string(), m.to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want);
    // A PUBLISH reaches the channel and the pattern, whichever node it went to.
    let sent = r
        .autoexec(None, |p| Ok(p.publish("broadcast", "all")))
        .unwrap();
    assert_eq!(sent.result().unwrap(), 2);
    let kinds = [next_message(&mut sub).kind(), next_message(&mut sub).kind()];
    assert!(kinds.contains(&Kind::Channel) && kinds.contains(&Kind::Pattern));
    // Unsubscribing reaches the node that holds the name.
    sub.sunsubscribe(&[&channels[1]]).unwrap();
    assert_eq!(shard_subscribers(&cluster, primaries[1], &channels[1]), "0");
    assert_eq!(
        spublish(&r, &[(&channels[1], "x"), (&channels[2], "y")]),
        [0, 1]
    );
    assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "y");
    assert_eq!(
        sub.next_event(Some(Duration::from_millis(100))).unwrap(),
        None
    );
}

#[test]
fn a_subscriber_that_must_not_drop_closes_every_node_connection() {
    let cluster = RedisCluster::start_primaries(2);
    let r = cluster.registry("?timeout=5000");
    let (a, b) = (cluster.primaries()[0], cluster.primaries()[1]);
    let (on_a, on_b) = (channel_on(&cluster, a, "a"), channel_on(&cluster, b, "b"));
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.buffer(5, 1 << 20, Overflow::Disconnect);
    sub.ssubscribe(&[&on_a, &on_b]).unwrap();
    // Only `on_a` floods; `on_b`'s connection closes too, with the subscriber still held.
    let flood: Vec<(&str, &str)> = (0..20).map(|_| (on_a.as_str(), "x")).collect();
    spublish(&r, &flood);
    eventually("a connection outlived the overflow", || {
        shard_subscribers(&cluster, a, &on_a) == "0" && shard_subscribers(&cluster, b, &on_b) == "0"
    });
    let last = sub.iter().last().unwrap();
    assert!(
        matches!(last, Err(Error::Overflow { messages: 5, .. })),
        "{last:?}"
    );
}

#[test]
fn a_migrated_slot_brings_its_shard_subscriber_along_after_a_gap() {
    let cluster = RedisCluster::start_primaries(3);
    let r = cluster.registry("?timeout=5000");
    let from = cluster.primaries()[0];
    let to = cluster.primaries()[1];
    let moving = channel_on(&cluster, from, "m");
    let staying = channel_on(&cluster, cluster.primaries()[2], "s");
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.ssubscribe(&[&moving, &staying]).unwrap();
    assert_eq!(spublish(&r, &[(&moving, "before")]), [1]);
    assert_eq!(
        next_message(&mut sub).payload::<String>().unwrap(),
        "before"
    );

    // The slot's last migration step: the old owner unsubscribes us, unasked.
    cluster.move_slot(slot(&moving), from, to);
    assert_eq!(sub.next_event(WAIT).unwrap(), Some(Event::Gap));
    spublish_until_received(&r, &moving, "after");
    let m = next_message(&mut sub);
    assert_eq!(
        (m.channel(), m.payload_bytes()),
        (moving.as_str(), &b"after"[..])
    );
    assert_eq!(shard_subscribers(&cluster, to, &moving), "1");
    assert_eq!(shard_subscribers(&cluster, from, &moving), "0");
    // The other slot's subscription never moved.
    assert_eq!(spublish(&r, &[(&staying, "still")]), [1]);
    assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "still");
    assert_eq!(sub.subscriptions(Kind::Shard).len(), 2);
}

#[test]
fn a_subscriber_with_a_stale_map_follows_moved() {
    let cluster = RedisCluster::start_primaries(2);
    let r = cluster.registry("?timeout=5000");
    let (from, to) = (cluster.primaries()[0], cluster.primaries()[1]);
    let channel = channel_on(&cluster, from, "x");
    // The subscriber reads the map now; the slot moves after.
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    cluster.move_slot(slot(&channel), from, to);
    // Sent to the old owner, answered -MOVED, subscribed on the new one: no gap (nothing
    // was subscribed yet).
    sub.ssubscribe(&[&channel]).unwrap();
    assert_eq!(shard_subscribers(&cluster, to, &channel), "1");
    assert_eq!(spublish(&r, &[(&channel, "here")]), [1]);
    assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "here");
}

#[test]
fn a_failover_moves_shard_subscriptions_to_the_promoted_replica() {
    let mut cluster = RedisCluster::with(ClusterOptions {
        primaries: 3,
        replicas: 1,
        node_timeout: Duration::from_secs(1),
        ..ClusterOptions::default()
    });
    let r = cluster.registry("?timeout=5000");
    let old = cluster.primaries()[0];
    let channel = channel_on(&cluster, old, "f");
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.ssubscribe(&[&channel]).unwrap();
    sub.subscribe(&["plain"]).unwrap();
    cluster.kill(old);
    let new = cluster.wait_failover(old);
    // The connection to the dead primary is gone: a gap, then the promoted replica serves.
    eventually("no gap", || {
        sub.next_event(WAIT).unwrap() == Some(Event::Gap)
    });
    spublish_until_received(&r, &channel, "promoted");
    let m = loop {
        match sub.next_event(WAIT).unwrap() {
            Some(Event::Message(m)) => break m,
            Some(Event::Gap) => continue, // the channels' connection, if it was on `old`
            other => panic!("expected a message, got {other:?}"),
        }
    };
    assert_eq!(m.payload::<String>().unwrap(), "promoted");
    assert_eq!(shard_subscribers(&cluster, new, &channel), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokio_subscriber_follows_a_migrated_slot() {
    let cluster = RedisCluster::start_primaries(2);
    let r = cluster.registry("?timeout=5000");
    let (from, to) = (cluster.primaries()[0], cluster.primaries()[1]);
    let channel = channel_on(&cluster, from, "t");
    let mut sub = AsyncSubscriber::on(&r, redpipe::DEFAULT).await.unwrap();
    sub.ssubscribe(&[&channel]).await.unwrap();
    sub.subscribe_kind(Kind::Channel, &["plain"]).await.unwrap();
    let sent = r
        .autoexec_async(None, |p| Ok(p.spublish(channel.as_str(), 1)))
        .await
        .unwrap();
    assert_eq!(sent.result().unwrap(), 1);
    let m = sub.next().await.unwrap().unwrap().message().unwrap();
    assert_eq!((m.kind(), m.payload::<i64>().unwrap()), (Kind::Shard, 1));

    let moved = tokio::task::spawn_blocking(move || {
        cluster.move_slot(slot(&channel), from, to);
        (cluster, channel)
    });
    let (cluster, channel) = moved.await.unwrap();
    let gap = tokio::time::timeout(Duration::from_secs(10), sub.next()).await;
    assert_eq!(gap.unwrap().unwrap().unwrap(), Event::Gap);
    let (r2, c2) = (r.clone(), channel.clone());
    tokio::task::spawn_blocking(move || spublish_until_received(&r2, &c2, "2"))
        .await
        .unwrap();
    let m = next_message_async(&mut sub).await;
    assert_eq!(m.payload::<i64>().unwrap(), 2);
    assert_eq!(shard_subscribers(&cluster, to, &channel), "1");
    // The subscriber is gone: so are its connections.
    drop(sub);
    eventually_async("the shard connection outlived its subscriber", || {
        shard_subscribers(&cluster, to, &channel) == "0"
    })
    .await;
}
