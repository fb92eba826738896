//! Pub/Sub against a real redis-server: typed messages published from pipelines, patterns,
//! unsubscribing, refusals, reconnecting with a gap marker after the server drops the
//! subscriber and after the server is killed and started again, the bounded buffer under a flood
//! nobody reads, and the tokio stream.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use futures_util::StreamExt;
use redpipe::Error;
use redpipe::prelude::*;
use redpipe::pubsub::{AsyncSubscriber, Event, Kind, Overflow, Subscriber};
use redpipe_tests::pubsub::{
    WAIT, limited_registry, next_message, next_message_async, publish, publish_until_received,
    registry, until_received,
};
use redpipe_tests::{RedisServer, eventually, eventually_async};

#[test]
fn messages_published_from_a_pipeline_arrive_typed() {
    let server = RedisServer::start();
    for protocol in [2, 3] {
        let r = registry(&server, protocol);
        let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
        sub.subscribe(&["news", "scores"]).unwrap();
        assert_eq!(sub.subscriptions(Kind::Channel), ["news", "scores"]);
        let counts = publish(
            &r,
            &[("news", "hello"), ("scores", "42"), ("elsewhere", "x")],
        );
        assert_eq!(counts, [1, 1, 0], "RESP{protocol}");
        let m = next_message(&mut sub);
        assert_eq!(
            (m.kind(), m.channel(), m.pattern()),
            (Kind::Channel, "news", None)
        );
        assert_eq!(m.payload::<String>().unwrap(), "hello");
        assert_eq!(m.payload::<&str>().unwrap(), "hello");
        let m = next_message(&mut sub);
        assert_eq!((m.channel(), m.payload::<i64>().unwrap()), ("scores", 42));
        assert!(matches!(m.payload::<Vec<i64>>(), Err(Error::Convert(_))));
        // Nothing else came.
        let quiet = Some(Duration::from_millis(100));
        assert_eq!(sub.next_event(quiet).unwrap(), None);
    }
}

#[test]
fn patterns_receive_what_they_match() {
    let server = RedisServer::start();
    let r = registry(&server, 2);
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.psubscribe(&["news.*"]).unwrap();
    let counts = publish(&r, &[("news.a", "1"), ("other.b", "2"), ("news.b", "3")]);
    assert_eq!(counts, [1, 0, 1]);
    for (channel, payload) in [("news.a", 1), ("news.b", 3)] {
        let m = next_message(&mut sub);
        assert_eq!(m.kind(), Kind::Pattern);
        assert_eq!(m.pattern(), Some("news.*"));
        assert_eq!(
            (m.channel(), m.payload::<i64>().unwrap()),
            (channel, payload)
        );
    }
    assert_eq!(server.cli(&["PUBSUB", "NUMPAT"]), "1");
}

#[test]
fn unsubscribed_channels_stop_delivering() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.subscribe(&["a", "b"]).unwrap();
    sub.unsubscribe(&["a", "never-subscribed"]).unwrap();
    assert_eq!(sub.subscriptions(Kind::Channel), ["b"]);
    assert_eq!(server.cli(&["PUBSUB", "NUMSUB", "a", "b"]), "a\n0\nb\n1");
    assert_eq!(publish(&r, &[("a", "x"), ("b", "y")]), [0, 1]);
    let m = next_message(&mut sub);
    assert_eq!((m.channel(), m.payload_bytes()), ("b", &b"y"[..]));
}

#[test]
fn every_short_form_subscribes_and_unsubscribes_its_kind() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.subscribe(&["c"]).unwrap();
    sub.psubscribe(&["p.*"]).unwrap();
    sub.ssubscribe(&["{s}1", "other"]).unwrap();
    assert_eq!(sub.subscriptions(Kind::Shard), ["{s}1", "other"]);
    assert_eq!(server.cli(&["PUBSUB", "NUMSUB", "c"]), "c\n1");
    assert_eq!(server.cli(&["PUBSUB", "NUMPAT"]), "1");
    assert_eq!(
        server.cli(&["PUBSUB", "SHARDNUMSUB", "{s}1", "other"]),
        "{s}1\n1\nother\n1"
    );
    let sent = r
        .autoexec(None, |p| {
            Ok((p.spublish("{s}1", "shard"), p.publish("p.x", "pat")))
        })
        .unwrap();
    assert_eq!((sent.0.result().unwrap(), sent.1.result().unwrap()), (1, 1));
    let m = next_message(&mut sub);
    assert_eq!(
        (m.kind(), m.channel(), m.payload::<String>().unwrap()),
        (Kind::Shard, "{s}1", "shard".into())
    );
    assert_eq!(next_message(&mut sub).kind(), Kind::Pattern);

    sub.unsubscribe(&["c"]).unwrap();
    sub.punsubscribe(&["p.*"]).unwrap();
    sub.sunsubscribe(&["{s}1"]).unwrap();
    assert_eq!(server.cli(&["PUBSUB", "NUMSUB", "c"]), "c\n0");
    assert_eq!(server.cli(&["PUBSUB", "NUMPAT"]), "0");
    assert_eq!(
        server.cli(&["PUBSUB", "SHARDNUMSUB", "{s}1", "other"]),
        "{s}1\n0\nother\n1"
    );
    assert!(sub.subscriptions(Kind::Channel).is_empty());
    assert_eq!(sub.subscriptions(Kind::Shard), ["other"]);
}

#[test]
fn a_refused_channel_is_the_servers_error() {
    let server = RedisServer::start();
    let r = limited_registry(&server, 2);
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    match sub.subscribe(&["forbidden"]) {
        Err(Error::Server(e)) => assert_eq!(e.code(), "NOPERM"),
        other => panic!("expected NOPERM, got {other:?}"),
    }
    assert!(sub.subscriptions(Kind::Channel).is_empty());
    sub.subscribe(&["allowed"]).unwrap();
    publish_until_received(&r, "allowed", "ok");
    assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "ok");
}

#[test]
fn the_subscriber_comes_back_after_the_server_drops_it_and_says_so() {
    let server = RedisServer::start();
    for protocol in [2, 3] {
        let r = registry(&server, protocol);
        let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
        // The kind as a value: the same as the short forms.
        sub.subscribe_kind(Kind::Channel, &["c"]).unwrap();
        sub.subscribe_kind(Kind::Pattern, &["p.*"]).unwrap();
        assert_eq!(server.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]), "1");
        assert_eq!(
            sub.next_event(WAIT).unwrap(),
            Some(Event::Gap),
            "RESP{protocol}"
        );
        // Both subscriptions are back, without a call.
        publish_until_received(&r, "c", "after");
        assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "after");
        publish_until_received(&r, "p.1", "pattern");
        let m = next_message(&mut sub);
        assert_eq!((m.pattern(), m.channel()), (Some("p.*"), "p.1"));
    }
}

#[test]
fn a_flood_nobody_reads_stays_within_the_buffer() {
    let server = RedisServer::start();
    let r = registry(&server, 2);
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.buffer(100, 1 << 20, Overflow::DropOldest);
    sub.subscribe(&["flood"]).unwrap();
    let messages: Vec<(&str, String)> = (0..5000).map(|i| ("flood", i.to_string())).collect();
    assert!(publish(&r, &messages).iter().all(|&n| n == 1));
    // The reader keeps reading while nobody takes: the oldest go.
    eventually("fewer than 4900 dropped", || sub.dropped() >= 4900);
    assert_eq!(sub.dropped(), 4900);
    assert_eq!(sub.next_event(WAIT).unwrap(), Some(Event::Dropped(4900)));
    for i in 4900..5000 {
        assert_eq!(next_message(&mut sub).payload::<i64>().unwrap(), i);
    }
    assert_eq!(
        sub.next_event(Some(Duration::from_millis(50))).unwrap(),
        None
    );
    // The server holds no backlog for it: its output buffer is empty.
    let clients = server.cli(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert!(clients.contains(" omem=0 "), "{clients}");
}

#[test]
fn a_subscriber_that_must_not_drop_disconnects() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.buffer(10, 1 << 20, Overflow::Disconnect);
    sub.subscribe(&["flood"]).unwrap();
    let messages: Vec<(&str, String)> = (0..100).map(|i| ("flood", i.to_string())).collect();
    publish(&r, &messages);
    // Nobody reads: the eleventh message finds the buffer full, and the connection is closed
    // (the server counts no subscriber).
    eventually("the subscriber did not disconnect", || {
        server.cli(&["PUBSUB", "NUMSUB", "flood"]) == "flood\n0"
    });
    // What was buffered is delivered, then the reason, then nothing more.
    let mut events: Vec<redpipe::Result<Event>> = sub.iter().collect();
    let last = events.pop().unwrap();
    assert!(
        matches!(last, Err(Error::Overflow { messages: 10, .. })),
        "{last:?}"
    );
    let payloads: Vec<i64> = events
        .into_iter()
        .map(|e| e.unwrap().message().unwrap().payload::<i64>().unwrap())
        .collect();
    assert_eq!(payloads, (0..10).collect::<Vec<_>>());
    assert!(matches!(sub.next_event(WAIT), Err(Error::Closed)));
    assert!(sub.subscribe(&["other"]).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokio_subscriber_that_must_not_drop_disconnects() {
    let server = RedisServer::start();
    let r = registry(&server, 2);
    let mut sub = AsyncSubscriber::on(&r, redpipe::DEFAULT).await.unwrap();
    sub.buffer(10, 1 << 20, Overflow::Disconnect);
    sub.subscribe(&["flood"]).await.unwrap();
    let r2 = r.clone();
    tokio::task::spawn_blocking(move || {
        let messages: Vec<(&str, String)> = (0..100).map(|i| ("flood", i.to_string())).collect();
        publish(&r2, &messages);
    })
    .await
    .unwrap();
    // The subscriber is still held, unread: its connection is closed all the same.
    eventually_async("the subscriber did not disconnect", || {
        server.cli(&["PUBSUB", "NUMSUB", "flood"]) == "flood\n0"
    })
    .await;
    let events: Vec<redpipe::Result<Event>> = sub.collect().await;
    assert_eq!(events.len(), 11);
    assert!(matches!(
        events[10],
        Err(Error::Overflow { messages: 10, .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokio_subscriber_is_a_stream() {
    let server = RedisServer::start();
    for protocol in [2, 3] {
        let r = registry(&server, protocol);
        let mut sub = AsyncSubscriber::on(&r, redpipe::DEFAULT).await.unwrap();
        sub.subscribe(&["t"]).await.unwrap();
        sub.psubscribe(&["t.*"]).await.unwrap();
        let sent = r
            .autoexec_async(None, |p| Ok((p.publish("t", "one"), p.publish("t.x", 2))))
            .await
            .unwrap();
        assert_eq!((sent.0.result().unwrap(), sent.1.result().unwrap()), (1, 1));
        let first = sub.next().await.unwrap().unwrap().message().unwrap();
        assert_eq!(
            (first.channel(), first.payload::<String>().unwrap()),
            ("t", "one".into())
        );
        let second = sub.next().await.unwrap().unwrap().message().unwrap();
        assert_eq!(second.pattern(), Some("t.*"));
        assert_eq!(second.payload::<i64>().unwrap(), 2);

        // Dropped by the server: a gap, then messages again.
        assert_eq!(server.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]), "1");
        let gap = tokio::time::timeout(Duration::from_secs(5), sub.next()).await;
        assert_eq!(gap.unwrap().unwrap().unwrap(), Event::Gap, "RESP{protocol}");
        let r2 = r.clone();
        tokio::task::spawn_blocking(move || publish_until_received(&r2, "t", "back"))
            .await
            .unwrap();
        let m = next_message_async(&mut sub).await;
        assert_eq!(m.payload::<String>().unwrap(), "back");
        sub.unsubscribe(&["t"]).await.unwrap();
        assert_eq!(server.cli(&["PUBSUB", "NUMSUB", "t"]), "t\n0");
        // Dropped, it closes its connection (the server drops its pattern): the next round
        // starts with no subscriber of its own.
        drop(sub);
        eventually_async("the dropped subscriber's pattern stays", || {
            server.cli(&["PUBSUB", "NUMPAT"]) == "0"
        })
        .await;
    }
}

/// The case: the server itself killed (SIGKILL) and started again on its port while a
/// subscriber waits, blocking and tokio: each says a gap happened and hears the channel again,
/// with no call of its own.
#[test]
fn a_server_killed_and_restarted_under_its_subscribers_gets_them_back() {
    let mut server = RedisServer::start();
    let r = registry(&server, 3);
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.subscribe(&["c"]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut tokio_sub = rt
        .block_on(AsyncSubscriber::on(&r, redpipe::DEFAULT))
        .unwrap();
    rt.block_on(tokio_sub.psubscribe(&["c*"])).unwrap();
    publish_until_received(&r, "c", "before");
    assert_eq!(
        next_message(&mut sub).payload::<String>().unwrap(),
        "before"
    );

    server.kill();
    std::thread::sleep(Duration::from_millis(500));
    server.restart();
    let long = Some(Duration::from_secs(15));
    assert_eq!(sub.next_event(long).unwrap(), Some(Event::Gap));
    // The next message after the gap: the tokio subscriber's "before", then its gap.
    let before = rt.block_on(tokio_sub.next_event(long)).unwrap().unwrap();
    assert_eq!(
        before.message().unwrap().payload::<String>().unwrap(),
        "before"
    );
    let gap = rt.block_on(tokio_sub.next_event(long)).unwrap();
    assert_eq!(gap, Some(Event::Gap));
    // Both are subscribed again: a message reaches the two of them.
    until_received("c", 2, || publish(&r, &[("c", "after")])[0]);
    assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "after");
    let after = loop {
        // Messages published while only one of them was back reach the other too.
        let m = rt.block_on(tokio_sub.next_event(long)).unwrap().unwrap();
        let m = m.message().unwrap().payload::<String>().unwrap();
        if m == "after" {
            break m;
        }
    };
    assert_eq!(after, "after");
}

/// The blocking subscriber over TLS, where the reader and the owner share one session: messages
/// large and small arrive whole and in order, a subscribe is written while the reader waits,
/// the ping after a read timeout of silence is answered (no gap), and a dropped connection
/// comes back with a gap.
#[test]
fn the_blocking_subscriber_speaks_tls() {
    let server = RedisServer::start_tls();
    // A short read timeout: the reader pings after 300 ms of silence.
    let r = server.registry("timeout=300");
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.subscribe(&["s"]).unwrap();
    let sizes = [1usize, 100, 16_000, 100_000, 3];
    let messages: Vec<(&str, String)> = (0..500)
        .map(|i| ("s", format!("{i}:{}", "x".repeat(sizes[i % sizes.len()]))))
        .collect();
    assert!(publish(&r, &messages).iter().all(|&n| n == 1));
    for (_, sent) in &messages {
        assert_eq!(&next_message(&mut sub).payload::<String>().unwrap(), sent);
    }
    // Quiet for longer than the read timeout: pinged, answered, nothing lost.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        sub.next_event(Some(Duration::from_millis(100))).unwrap(),
        None
    );
    // A second subscription, written while the reader waits on the socket.
    sub.psubscribe(&["t.*"]).unwrap();
    assert_eq!(publish(&r, &[("t.1", "p")]), [1]);
    assert_eq!(next_message(&mut sub).pattern(), Some("t.*"));
    // Dropped by the server: a gap, then both subscriptions again.
    assert_eq!(server.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]), "1");
    assert_eq!(sub.next_event(WAIT).unwrap(), Some(Event::Gap));
    publish_until_received(&r, "s", "back");
    assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "back");
    assert_eq!(publish(&r, &[("t.2", "again")]), [1]);
    assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "again");
}
