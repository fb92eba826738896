//! A subscriber on its name's shared RESP3 connection, against a real redis-server, tokio and
//! blocking: messages arrive while pipelines run on the same connection, the server counts no
//! extra connection, a refusal is the server's error and the connection goes on, a killed
//! connection comes back with a gap, and an overflow that must not drop ends the subscriber
//! alone; the blocking one over TLS too, with pipelines running and with the connection idle.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use futures_util::StreamExt;
use redpipe::Error;
use redpipe::prelude::*;
use redpipe::pubsub::{AsyncSubscriber, Event, Kind, Overflow, Subscriber};
use redpipe_tests::pubsub::{
    WAIT, clients, count_up, count_up_blocking, limited_registry, next_message, next_message_async,
    registry, until_received,
};
use redpipe_tests::{RedisServer, eventually, eventually_async};

/// Publishes from another client (`redis-cli`) until someone receives it.
fn cli_publish_until_received(server: &RedisServer, channel: &str, payload: &str) {
    until_received(channel, 1, || {
        server.cli(&["PUBLISH", channel, payload]).parse().unwrap()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_while_pipelines_run_on_the_same_connection() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    count_up(r.clone(), "warm".into(), 1).await; // the shared connection opens
    assert_eq!(clients(&server).len(), 1);

    let mut sub = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    assert!(sub.is_shared());
    sub.subscribe(&["news"]).await.unwrap();
    sub.psubscribe(&["n.*"]).await.unwrap();
    // No connection of its own: the pipelines' one holds the subscriptions.
    let listed = clients(&server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].contains(" sub=1 ") && listed[0].contains(" psub=1 "));

    // Pipelines on the connection while another client publishes.
    let workers: Vec<_> = (0..4)
        .map(|i| tokio::spawn(count_up(r.clone(), format!("k{i}"), 200)))
        .collect();
    for i in 0..50 {
        assert_eq!(server.cli(&["PUBLISH", "news", &i.to_string()]), "1");
    }
    assert_eq!(server.cli(&["PUBLISH", "n.x", "pattern"]), "1");
    for i in 0..50 {
        let m = next_message_async(&mut sub).await;
        assert_eq!((m.channel(), m.payload::<i64>().unwrap()), ("news", i));
    }
    let m = next_message_async(&mut sub).await;
    assert_eq!((m.pattern(), m.channel()), (Some("n.*"), "n.x"));
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(clients(&server).len(), 1);

    // Unsubscribed: the server forgets it, the connection stays.
    sub.unsubscribe(&["news"]).await.unwrap();
    assert_eq!(server.cli(&["PUBSUB", "NUMSUB", "news"]), "news\n0");
    count_up(r.clone(), "after".into(), 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_subscribe_is_the_servers_error_and_the_connection_goes_on() {
    let server = RedisServer::start();
    let r = limited_registry(&server, 3);
    let mut sub = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    match sub.subscribe(&["forbidden"]).await {
        Err(Error::Server(e)) => assert_eq!(e.code(), "NOPERM"),
        other => panic!("expected NOPERM, got {other:?}"),
    }
    assert!(sub.subscriptions(redpipe::pubsub::Kind::Channel).is_empty());
    // The same connection answers pipelines, and takes the next subscription.
    count_up(r.clone(), "k".into(), 3).await;
    sub.subscribe(&["allowed"]).await.unwrap();
    assert_eq!(server.cli(&["PUBLISH", "allowed", "ok"]), "1");
    assert_eq!(
        next_message_async(&mut sub)
            .await
            .payload::<String>()
            .unwrap(),
        "ok"
    );
    assert_eq!(clients(&server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_comes_back_with_a_gap_and_the_subscriptions() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut sub = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    sub.subscribe(&["t"]).await.unwrap();
    assert_eq!(server.cli(&["PUBLISH", "t", "one"]), "1");
    assert_eq!(
        next_message_async(&mut sub)
            .await
            .payload::<String>()
            .unwrap(),
        "one"
    );
    // On a single server's shared connection a node-local pattern is a plain one.
    sub.subscribe_node_local(Kind::Pattern, &["nl.*"])
        .await
        .unwrap();
    assert_eq!(server.cli(&["PUBLISH", "nl.x", "local"]), "1");
    assert_eq!(next_message_async(&mut sub).await.pattern(), Some("nl.*"));
    sub.unsubscribe_node_local(Kind::Pattern, &["nl.*"])
        .await
        .unwrap();
    assert_eq!(server.cli(&["PUBSUB", "NUMPAT"]), "0");

    // The shared connection, the only client but the cli, killed by its id.
    let listed = clients(&server);
    let id = listed[0]
        .split(' ')
        .find_map(|f| f.strip_prefix("id="))
        .unwrap()
        .to_owned();
    assert_eq!(server.cli(&["CLIENT", "KILL", "ID", &id]), "1");
    let gap = sub.next_event(WAIT).await.unwrap();
    assert_eq!(gap, Some(Event::Gap));
    let s = &server;
    tokio::task::block_in_place(|| cli_publish_until_received(s, "t", "back"));
    assert_eq!(
        next_message_async(&mut sub)
            .await
            .payload::<String>()
            .unwrap(),
        "back"
    );
    // Pipelines go on the new connection, which the subscriber shares.
    count_up(r.clone(), "k".into(), 3).await;
    let listed = clients(&server);
    assert_eq!(listed.len(), 1, "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflow_that_must_not_drop_ends_the_subscriber_alone() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut sub = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    sub.buffer(10, 1 << 20, Overflow::Disconnect);
    sub.subscribe(&["flood"]).await.unwrap();
    let sent = r
        .autoexec_async(None, |p| {
            Ok((0..100).map(|i| p.publish("flood", i)).collect::<Vec<_>>())
        })
        .await
        .unwrap();
    assert_eq!(sent[0].result().unwrap(), 1);
    // The subscriber unsubscribes; the connection stays for the pipelines.
    eventually_async("the subscriber did not end", || {
        server.cli(&["PUBSUB", "NUMSUB", "flood"]) == "flood\n0"
    })
    .await;
    let events: Vec<redpipe::Result<Event>> = sub.collect().await;
    assert_eq!(events.len(), 11);
    assert!(matches!(
        events[10],
        Err(Error::Overflow { messages: 10, .. })
    ));
    count_up(r.clone(), "k".into(), 3).await;
    assert_eq!(clients(&server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_nobody_reads_drops_the_oldest_and_a_dropped_subscriber_unsubscribes() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut sub = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    sub.buffer(5, 1 << 20, Overflow::DropOldest);
    sub.subscribe(&["flood"]).await.unwrap();
    for i in 0..20 {
        assert_eq!(server.cli(&["PUBLISH", "flood", &i.to_string()]), "1");
    }
    // The last publish is answered after its message was pushed on the shared connection;
    // a pipeline behind it is answered after the driver handed that message over.
    count_up(r.clone(), "k".into(), 1).await;
    assert_eq!(
        sub.next_event(WAIT).await.unwrap(),
        Some(Event::Dropped(15))
    );
    for i in 15..20 {
        assert_eq!(
            next_message_async(&mut sub).await.payload::<i64>().unwrap(),
            i
        );
    }
    assert_eq!(sub.dropped(), 15);

    drop(sub);
    eventually_async("the dropped subscriber stayed", || {
        server.cli(&["PUBSUB", "NUMSUB", "flood"]) == "flood\n0"
    })
    .await;
    assert_eq!(clients(&server).len(), 1);
    assert_eq!(clients(&server).len(), 1);
    // The connection takes a new subscriber.
    let mut again = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    again.subscribe(&["flood"]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp2_names_are_refused_with_a_clear_error() {
    let server = RedisServer::start();
    let r = registry(&server, 2);
    match AsyncSubscriber::on_shared(&r, redpipe::DEFAULT).await {
        Err(Error::Config(msg)) => assert!(msg.contains("RESP3"), "{msg}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn a_blocking_subscriber_shares_the_connection_with_threads_pipelines() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut sub = Subscriber::on_shared(&r, redpipe::DEFAULT).unwrap();
    assert!(sub.is_shared());
    sub.subscribe(&["news"]).unwrap();
    let listed = clients(&server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].contains(" sub=1 "));

    // Messages while no pipeline runs: the subscriber's thread reads them.
    assert_eq!(server.cli(&["PUBLISH", "news", "idle"]), "1");
    assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "idle");
    // And while threads' pipelines run on the same connection.
    std::thread::scope(|s| {
        for i in 0..4 {
            let r = &r;
            s.spawn(move || count_up_blocking(r, &format!("k{i}"), 200));
        }
        for i in 0..30 {
            assert_eq!(server.cli(&["PUBLISH", "news", &i.to_string()]), "1");
        }
    });
    for i in 0..30 {
        let m = next_message(&mut sub);
        assert_eq!((m.channel(), m.payload::<i64>().unwrap()), ("news", i));
    }
    assert_eq!(clients(&server).len(), 1);
}

#[test]
fn a_blocking_subscriber_refused_or_killed_goes_on() {
    let server = RedisServer::start();
    let r = limited_registry(&server, 3);
    let mut sub = Subscriber::on_shared(&r, redpipe::DEFAULT).unwrap();
    match sub.subscribe(&["forbidden"]) {
        Err(Error::Server(e)) => assert_eq!(e.code(), "NOPERM"),
        other => panic!("expected NOPERM, got {other:?}"),
    }
    count_up_blocking(&r, "k", 3);
    sub.subscribe(&["allowed"]).unwrap();

    let id = clients(&server)[0]
        .split(' ')
        .find_map(|f| f.strip_prefix("id="))
        .unwrap()
        .to_owned();
    assert_eq!(server.cli(&["CLIENT", "KILL", "ID", &id]), "1");
    assert_eq!(sub.next_event(WAIT).unwrap(), Some(Event::Gap));
    cli_publish_until_received(&server, "allowed", "back");
    assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), "back");
    count_up_blocking(&r, "k2", 3);
    assert_eq!(clients(&server).len(), 1);
}

/// Over TLS the blocking connection has one handle, which the subscriber's thread may not hold
/// while it waits: messages still come, and pipelines still go, on the one connection.
#[test]
fn a_blocking_subscriber_shares_a_tls_connection() {
    let server = RedisServer::start_tls();
    let r = registry(&server, 3);
    let mut sub = Subscriber::on_shared(&r, redpipe::DEFAULT).unwrap();
    sub.subscribe(&["s"]).unwrap();
    std::thread::scope(|s| {
        for i in 0..2 {
            let r = &r;
            s.spawn(move || count_up_blocking(r, &format!("k{i}"), 100));
        }
        for i in 0..20 {
            assert_eq!(server.cli(&["PUBLISH", "s", &i.to_string()]), "1");
        }
    });
    for i in 0..20 {
        assert_eq!(next_message(&mut sub).payload::<i64>().unwrap(), i);
    }
    assert_eq!(clients(&server).len(), 1);
}

/// Over TLS, with no pipeline on the connection, the subscriber's thread is the only reader:
/// it waits on the socket without holding the one handle, and reads each message when it
/// comes. Messages one at a time (each published only after the one before arrived), small and
/// larger than a TLS record, arrive whole and in order; pipelines in between still go; and a
/// dropped subscriber, whose thread is waiting, unsubscribes.
#[test]
fn a_blocking_subscriber_hears_an_idle_tls_connection() {
    let server = RedisServer::start_tls();
    let r = registry(&server, 3);
    let mut sub = Subscriber::on_shared(&r, redpipe::DEFAULT).unwrap();
    sub.subscribe(&["idle"]).unwrap();
    let sizes = [1usize, 100, 20_000, 100_000];
    for i in 0..40 {
        let payload = format!("{i}:{}", "x".repeat(sizes[i % sizes.len()]));
        assert_eq!(server.cli(&["PUBLISH", "idle", &payload]), "1");
        assert_eq!(next_message(&mut sub).payload::<String>().unwrap(), payload);
        if i % 10 == 9 {
            count_up_blocking(&r, &format!("k{i}"), 3);
        }
    }
    // A burst while nobody else reads: all of it, in order.
    for i in 0..20 {
        assert_eq!(server.cli(&["PUBLISH", "idle", &i.to_string()]), "1");
    }
    for i in 0..20 {
        assert_eq!(next_message(&mut sub).payload::<i64>().unwrap(), i);
    }
    assert_eq!(clients(&server).len(), 1);
    drop(sub);
    eventually("the dropped subscriber stayed", || {
        server.cli(&["PUBSUB", "NUMSUB", "idle"]) == "idle\n0"
    });
    count_up_blocking(&r, "k2", 3);
}
