//! Keyspace notifications against a real redis-server (with `notify-keyspace-events` set by
//! the test, as the docs ask of the user): a keyspace hears its own keys and no others, in its
//! own database, keys typed by its key codec, events filtered, glob characters of a prefix
//! taken literally; and the tokio path through `NotificationPattern` (a cluster's:
//! notifications_cluster.rs).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use redpipe::keyspace::{Integer, Keyspace, NotificationPattern};
use redpipe::prelude::*;
use redpipe::pubsub::{AsyncSubscriber, KeyEvent, Notification, Notifications};
use redpipe::{Connections, Error, keyspace};
use redpipe_tests::RedisServer;
use redpipe_tests::pubsub::next_message_async;

const WAIT: Option<Duration> = Some(Duration::from_secs(5));
const QUIET: Option<Duration> = Some(Duration::from_millis(150));

keyspace! {
    /// Followers by user.
    struct Followers: SortedSet { prefix: "F" }
}

keyspace! {
    /// Counters by number, under a prefix with a glob character.
    struct Counters: String { prefix: "C*", key: Integer, value: Integer }
}

keyspace! {
    /// Tags, `tag:<key>`, on the connection "tags".
    struct Tags: Set { prefix: "tag", template: "%s:%s", connection: "tags" }
}

/// A server publishing every keyspace event, and a registry whose default name and "tags" use
/// database `db`.
fn setup(db: u32) -> (RedisServer, Connections) {
    let server = RedisServer::start();
    assert_eq!(
        server.cli(&["CONFIG", "SET", "notify-keyspace-events", "KA"]),
        "OK"
    );
    let r = Connections::new();
    let url = format!("{}/{db}?timeout=5000", server.url());
    r.register(redpipe::DEFAULT, url.as_str()).unwrap();
    r.register("tags", url.as_str()).unwrap();
    (server, r)
}

/// The next notification, as (event, key bytes).
fn next<K: Keyspace>(n: &mut Notifications<K>) -> Notification<K> {
    match n.next_event(WAIT).unwrap() {
        Some(KeyEvent::Key(k)) => k,
        other => panic!("expected a notification, got {other:?}"),
    }
}

#[test]
fn a_keyspace_hears_its_own_keys_in_its_own_database() {
    let (server, r) = setup(2);
    let mut changes = Followers::notifications_on(&r, &[]).unwrap();
    r.autoexec(None, |p| {
        let _ = Followers::with(p).zadd("bob", "alice", 1.0)?;
        // Not this keyspace's keys: another prefix, the same prefix without braces.
        let _ = p.set("Fx{bob}", 1);
        let _ = p.set("F:bob", 1);
        let _ = Followers::with(p).delete("bob")?;
        Ok(())
    })
    .unwrap();
    // The same key in another database is not ours either.
    server.cli(&["ZADD", "F{bob}", "1", "x"]);
    let first = next(&mut changes);
    assert_eq!(
        (first.event(), first.key().unwrap()),
        ("zadd", "bob".into())
    );
    let second = next(&mut changes);
    assert_eq!((second.event(), second.key_bytes()), ("del", &b"bob"[..]));
    assert_eq!(changes.next_event(QUIET).unwrap(), None);
}

#[test]
fn events_are_filtered_keys_decoded_and_glob_characters_taken_literally() {
    let (_server, r) = setup(0);
    let mut changes = Counters::notifications_on(&r, &["incrby"]).unwrap();
    r.autoexec(None, |p| {
        let _ = Counters::with(p).set(&8, &1)?; // "set": filtered out
        let _ = Counters::with(p).incrby(&7, 5)?;
        // "C*{*}" as a glob would match this key; the escaped pattern does not.
        let _ = p.incrby("Cx{9}", 1);
        Ok(())
    })
    .unwrap();
    let n = next(&mut changes);
    assert_eq!((n.event(), n.key().unwrap()), ("incrby", 7i64));
    assert_eq!(changes.next_event(QUIET).unwrap(), None);
    // The server's side of it: the subscriber's pattern reaches `C*{..}` channels only.
    let receivers = r
        .autoexec(None, |p| {
            Ok([
                p.publish("__keyspace@0__:Cx{9}", "incrby"),
                p.publish("__keyspace@0__:C*{5}", "incrby"),
            ])
        })
        .unwrap();
    let receivers: Vec<i64> = receivers.iter().map(|h| h.result().unwrap()).collect();
    assert_eq!(receivers, [0, 1]);
    assert_eq!(next(&mut changes).key().unwrap(), 5);
    // A key its codec cannot read is the codec's error, naming it.
    let _ = r.autoexec(None, |p| Ok(p.incrby("C*{seven}", 1))).unwrap();
    let bad = next(&mut changes);
    assert_eq!(bad.key_bytes(), b"seven");
    assert!(matches!(bad.key(), Err(Error::Field(_))), "{:?}", bad.key());
}

#[test]
fn a_template_and_a_named_connection_are_respected() {
    let (_server, r) = setup(1);
    let mut changes = Tags::notifications_on(&r, &["sadd"]).unwrap();
    r.autoexec(None, |p| {
        let _ = Tags::with(p).sadd("red", ["x"])?;
        let _ = p.sadd("tag{blue}", "x"); // braces: not this template
        Ok(())
    })
    .unwrap();
    let n = next(&mut changes);
    assert_eq!((n.event(), n.key().unwrap()), ("sadd", "red".into()));
    assert_eq!(changes.next_event(QUIET).unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokio_subscriber_reads_notifications_through_the_pattern() {
    let (_server, r) = setup(4);
    let mut sub = AsyncSubscriber::on(&r, redpipe::DEFAULT).await.unwrap();
    sub.psubscribe(&NotificationPattern::<Followers>::new(4))
        .await
        .unwrap();
    let added = r
        .autoexec_async(None, |p| Ok(Followers::with(p).zadd("ann", "b", 2.0)?))
        .await
        .unwrap();
    assert_eq!(added.result().unwrap(), 1);
    let msg = next_message_async(&mut sub).await;
    assert_eq!(msg.channel(), "__keyspace@4__:F{ann}");
    let n = Notification::<Followers>::from_msg(4, &msg).unwrap();
    assert_eq!((n.event(), n.key().unwrap()), ("zadd", "ann".into()));
    assert!(Notification::<Followers>::from_msg(3, &msg).is_none());
}
