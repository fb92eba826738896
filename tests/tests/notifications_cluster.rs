//! Keyspace notifications on a real Redis Cluster (the local harness, every node started with
//! `notify-keyspace-events KA`, as the docs ask of the user): a cluster publishes each key's
//! events on the key's node only, so the subscriber holds the pattern on every primary. Keys
//! written across every primary's slots are each notified once, typed; a primary's connection
//! lost comes back after a gap; after a coordinated failover the promoted replica is subscribed
//! (after a gap) and the demoted primary is not; a killed primary's replica is subscribed once
//! promoted; tokio too.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use redpipe::cluster::HashSlot;
use redpipe::keyspace::{Keyspace, NotificationPattern};
use redpipe::prelude::*;
use redpipe::pubsub::{AsyncSubscriber, KeyEvent, Kind, Notification, Notifications};
use redpipe::{Connections, keyspace};
use redpipe_tests::pubsub::{WAIT, next_message_async};
use redpipe_tests::{ClusterOptions, PATIENCE, RedisCluster, eventually};

keyspace! {
    /// Followers by user: `F{user}`.
    struct Followers: SortedSet { prefix: "F" }
}

fn cluster(replicas: usize) -> RedisCluster {
    RedisCluster::with(ClusterOptions {
        primaries: 3,
        replicas,
        extra: vec!["--notify-keyspace-events".into(), "KA".into()],
        // A killed primary is failed over quickly.
        node_timeout: Duration::from_secs(1),
        ..ClusterOptions::default()
    })
}

/// A user whose key `F{user}` is in a slot of the primary at `port`, distinct for each `tag`.
fn user_on(cluster: &RedisCluster, port: u16, tag: &str) -> String {
    (0..1000)
        .map(|i| format!("{tag}{i}"))
        .find(|u| cluster.port_of_slot(HashSlot::for_key(u.as_bytes()).get()) == port)
        .unwrap()
}

/// One user on each primary, tagged `tag`.
fn users_on_every_primary(cluster: &RedisCluster, tag: &str) -> Vec<String> {
    cluster
        .primaries()
        .iter()
        .enumerate()
        .map(|(i, &p)| user_on(cluster, p, &format!("{tag}{i}-")))
        .collect()
}

/// `ZADD`s each user's key in one pipeline over the cluster.
fn zadd(r: &Connections, users: &[String]) {
    r.autoexec(None, |p| {
        for u in users {
            let _ = Followers::with(p).zadd(u, "x", 1.0)?;
        }
        Ok(())
    })
    .unwrap();
}

/// Reads notifications until every one of `users` was heard; fails on a key heard twice, a
/// gap, or one that is not asked for.
fn hear_each_once(changes: &mut Notifications<Followers>, users: &[String]) {
    let want: BTreeSet<String> = users.iter().cloned().collect();
    let mut heard = BTreeSet::new();
    let deadline = Instant::now() + PATIENCE;
    while heard != want {
        assert!(Instant::now() < deadline, "heard {heard:?} of {want:?}");
        match changes.next_event(WAIT).unwrap() {
            Some(KeyEvent::Key(n)) => {
                assert_eq!(n.event(), "zadd");
                let key: String = n.key().unwrap();
                assert!(want.contains(&key), "{key} was not written now");
                assert!(heard.insert(key.clone()), "{key} heard twice");
            }
            None => {}
            other => panic!("expected a notification, got {other:?}"),
        }
    }
}

/// Writes keys of the primary at `port` until one is heard (one written just as its
/// subscription comes back may be missed: that is the gap); returns the users written.
fn hear_from(
    r: &Connections,
    changes: &mut Notifications<Followers>,
    cluster: &RedisCluster,
    port: u16,
    tag: &str,
) -> BTreeSet<String> {
    let mut written = BTreeSet::new();
    eventually(format_args!("nothing heard from {port}"), || {
        let user = user_on(cluster, port, &format!("{tag}{}-", written.len()));
        zadd(r, std::slice::from_ref(&user));
        written.insert(user);
        match changes
            .next_event(Some(Duration::from_millis(500)))
            .unwrap()
        {
            Some(KeyEvent::Key(n)) if written.contains(&n.key().unwrap()) => true,
            // Another one: a lost connection's, then the new primary's.
            None | Some(KeyEvent::Gap) => false,
            other => panic!("unexpected {other:?}"),
        }
    });
    written
}

/// Reads events until a gap: the subscriber says events may have been missed (other
/// notifications may come before it).
fn wait_for_gap(changes: &mut Notifications<Followers>) {
    eventually("no gap", || {
        changes.next_event(WAIT).unwrap() == Some(KeyEvent::Gap)
    });
}

/// Reads notifications until every one of `users` was heard once, after a failover: keys of
/// `late` (written before it) may still come, and gaps (the map read while the nodes agreed on
/// the new roles); fails on a key of `users` heard twice, or one asked for by neither.
fn hear_each_once_after(
    changes: &mut Notifications<Followers>,
    users: &[String],
    late: &BTreeSet<String>,
) {
    let want: BTreeSet<String> = users.iter().cloned().collect();
    let mut heard = BTreeSet::new();
    while heard.len() < want.len() {
        match changes.next_event(WAIT).unwrap() {
            Some(KeyEvent::Key(n)) => {
                let key: String = n.key().unwrap();
                if !late.contains(&key) {
                    assert!(want.contains(&key), "{key} was not written now");
                    assert!(heard.insert(key.clone()), "{key} heard twice");
                }
            }
            Some(KeyEvent::Gap) => {}
            other => panic!("expected a notification, got {other:?}"),
        }
    }
}

/// Notifications of every event on `cluster`, once each of a key written on every primary
/// was heard: the start of the failover tests.
fn following(cluster: &RedisCluster) -> (Connections, Notifications<Followers>) {
    let r = cluster.registry("?timeout=5000");
    let mut changes = Followers::notifications_on(&r, &[]).unwrap();
    let users = users_on_every_primary(cluster, "a");
    zadd(&r, &users);
    hear_each_once(&mut changes, &users);
    (r, changes)
}

/// After a failover: a key written on every primary now is heard once (keys of `late`,
/// written before, may still come).
fn every_primary_heard_once(
    r: &Connections,
    changes: &mut Notifications<Followers>,
    cluster: &RedisCluster,
    late: &BTreeSet<String>,
) {
    let after = users_on_every_primary(cluster, "c");
    zadd(r, &after);
    hear_each_once_after(changes, &after, late);
}

/// Pattern subscriptions the node at `port` counts.
fn numpat(cluster: &RedisCluster, port: u16) -> String {
    cluster.cli(port, &["PUBSUB", "NUMPAT"])
}

#[test]
fn keys_on_every_primary_are_notified_once_typed() {
    let cluster = cluster(0);
    let r = cluster.registry("?timeout=5000");
    let mut changes = Followers::notifications_on(&r, &["zadd"]).unwrap();
    // The pattern on each primary, once.
    for &port in &cluster.primaries() {
        assert_eq!(numpat(&cluster, port), "1", "{port}");
    }
    let users = users_on_every_primary(&cluster, "u");
    zadd(&r, &users);
    hear_each_once(&mut changes, &users);
    // Another round: nothing of the first one comes again.
    let more = users_on_every_primary(&cluster, "v");
    zadd(&r, &more);
    hear_each_once(&mut changes, &more);
    // A primary's connection lost: a gap, then the same node again.
    let cut = cluster.primaries()[1];
    cluster.cli(cut, &["CLIENT", "KILL", "TYPE", "pubsub"]);
    wait_for_gap(&mut changes);
    hear_from(&r, &mut changes, &cluster, cut, "k");
    assert_eq!(numpat(&cluster, cut), "1");
    // Gone with the subscriber.
    drop(changes);
    eventually("a pattern outlived its subscriber", || {
        cluster
            .primaries()
            .iter()
            .all(|&p| numpat(&cluster, p) == "0")
    });
}

#[test]
fn after_a_coordinated_failover_the_new_primary_notifies_after_a_gap() {
    let mut cluster = cluster(1);
    let (r, mut changes) = following(&cluster);

    let old = cluster.primaries()[0];
    // The subscriber's connection to it: the client holding a pattern.
    let subscriber = cluster
        .cli(old, &["CLIENT", "LIST"])
        .lines()
        .find(|c| c.contains(" psub=1 "))
        .and_then(|c| c.split(' ').next().map(str::to_string))
        .unwrap();
    let new = cluster.failover(old);
    // The subscriber reads the map again within seconds: a gap, the new primary subscribed.
    wait_for_gap(&mut changes);
    // Keys of the promoted replica's slots are heard.
    let written = hear_from(&r, &mut changes, &cluster, new, "b");
    assert_eq!(numpat(&cluster, new), "1");
    // The demoted primary, a replica now, replays the writes: it must not be subscribed.
    eventually(format_args!("{old} still holds the pattern"), || {
        numpat(&cluster, old) == "0"
    });
    // And the connection to it, left with nothing, closes.
    eventually(
        format_args!("{old} keeps the subscriber's connection"),
        || {
            !cluster
                .cli(old, &["CLIENT", "LIST"])
                .lines()
                .any(|c| c.starts_with(&format!("{subscriber} ")))
        },
    );
    // Every primary now, each key once.
    every_primary_heard_once(&r, &mut changes, &cluster, &written);
}

#[test]
fn a_killed_primary_is_replaced_by_its_promoted_replica_after_a_gap() {
    let mut cluster = cluster(1);
    let (r, mut changes) = following(&cluster);

    let old = cluster.primaries()[2];
    cluster.kill(old);
    let new = cluster.wait_failover(old);
    // The connection to the dead node is gone: a gap at once, the promoted replica later.
    wait_for_gap(&mut changes);
    let written = hear_from(&r, &mut changes, &cluster, new, "b");
    assert_eq!(numpat(&cluster, new), "1");
    every_primary_heard_once(&r, &mut changes, &cluster, &written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_hears_every_primary_through_the_node_local_pattern_and_the_keyspace() {
    let cluster = tokio::task::spawn_blocking(|| cluster(0)).await.unwrap();
    let r = cluster.registry("?timeout=5000");
    let mut sub = AsyncSubscriber::on(&r, redpipe::DEFAULT).await.unwrap();
    let pattern = NotificationPattern::<Followers>::new(0);
    sub.subscribe_node_local(Kind::Pattern, &pattern)
        .await
        .unwrap();
    let users = users_on_every_primary(&cluster, "t");
    let r2 = r.clone();
    let written = users.clone();
    tokio::task::spawn_blocking(move || zadd(&r2, &written))
        .await
        .unwrap();
    let mut heard = Vec::new();
    while heard.len() < users.len() {
        let msg = next_message_async(&mut sub).await;
        let n = Notification::<Followers>::from_msg(0, &msg).unwrap();
        heard.push(n.key().unwrap());
    }
    heard.sort();
    let mut want = users;
    want.sort();
    assert_eq!(heard, want);
    // Unsubscribed from every primary.
    sub.unsubscribe_node_local(Kind::Pattern, &pattern)
        .await
        .unwrap();
    for &port in &cluster.primaries() {
        assert_eq!(numpat(&cluster, port), "0", "{port}");
    }
    // The keyspace's own form.
    let mut changes = Followers::notifications_async_on(&r, &["zadd"])
        .await
        .unwrap();
    let users = users_on_every_primary(&cluster, "w");
    let r2 = r.clone();
    let written = users.clone();
    tokio::task::spawn_blocking(move || zadd(&r2, &written))
        .await
        .unwrap();
    let mut heard = Vec::new();
    while heard.len() < users.len() {
        match changes.next_event(WAIT).await.unwrap() {
            Some(KeyEvent::Key(n)) => heard.push(n.key().unwrap()),
            other => panic!("expected a notification, got {other:?}"),
        }
    }
    heard.sort();
    let mut want = users;
    want.sort();
    assert_eq!(heard, want);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
