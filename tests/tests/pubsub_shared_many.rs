//! Several subscribers on one shared RESP3 connection, against a real redis-server, tokio and
//! blocking: each gets the messages of its own channels, patterns and shard channels (a
//! channel two want, each once); one unsubscribing, dropped or ended by its overflow policy
//! leaves the others' subscriptions alone; a killed connection brings every subscriber back
//! with its gap; and pipelines on the same name go on throughout, on the same connection.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use redpipe::prelude::*;
use redpipe::pubsub::{AsyncSubscriber, Event, Msg, Overflow, Subscriber};
use redpipe::{Connections, Error};
use redpipe_tests::pubsub::{
    WAIT, clients, count_up, count_up_blocking, next_message, next_message_async, registry,
    until_received,
};
use redpipe_tests::{RedisServer, eventually, eventually_async};

/// The id of the only client but the cli: the shared connection.
fn shared_id(server: &RedisServer) -> String {
    let listed = clients(server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    listed[0]
        .split(' ')
        .find_map(|f| f.strip_prefix("id="))
        .unwrap()
        .to_owned()
}

/// `PUBSUB NUMSUB channel`: connections subscribed to it.
fn numsub(server: &RedisServer, channel: &str) -> String {
    let out = server.cli(&["PUBSUB", "NUMSUB", channel]);
    out.lines().nth(1).unwrap_or_default().to_owned()
}

fn publish(server: &RedisServer, channel: &str, payload: &str) -> i64 {
    server.cli(&["PUBLISH", channel, payload]).parse().unwrap()
}

/// A message as `channel payload` (`pattern:channel payload` through a pattern).
fn text(m: &Msg) -> String {
    let payload = m.payload::<String>().unwrap();
    match m.pattern() {
        Some(p) => format!("{p}:{} {payload}", m.channel()),
        None => format!("{} {payload}", m.channel()),
    }
}

async fn next_text(sub: &mut AsyncSubscriber) -> String {
    text(&next_message_async(sub).await)
}

/// Messages until `last` (included): what a subscriber got after publishes repeated until
/// received.
async fn until_text(sub: &mut AsyncSubscriber, last: &str) -> Vec<String> {
    let mut got = Vec::new();
    while got.last().map(String::as_str) != Some(last) {
        got.push(next_text(sub).await);
    }
    got
}

/// `got` but for copies of `repeated` (what publishes repeated until received left).
fn but(got: Vec<String>, repeated: &str) -> Vec<String> {
    got.into_iter().filter(|m| m != repeated).collect()
}

fn until_text_blocking(sub: &mut Subscriber, last: &str) -> Vec<String> {
    let mut got = Vec::new();
    while got.last().map(String::as_str) != Some(last) {
        got.push(text(&next_message(sub)));
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_share_one_connection_each_with_its_own_names() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    count_up(r.clone(), "warm".into(), 1).await; // the shared connection opens
    let mut a = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    let mut b = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    let mut c = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    a.subscribe(&["news", "a-only"]).await.unwrap();
    // `news` is the connection's already: confirmed at once, and its messages come.
    b.subscribe(&["news", "b-only"]).await.unwrap();
    b.psubscribe(&["ne*"]).await.unwrap();
    c.ssubscribe(&["orders"]).await.unwrap();
    let listed = clients(&server);
    assert_eq!(listed.len(), 1, "one connection for all: {listed:?}");
    assert!(
        listed[0].contains(" sub=3 ") && listed[0].contains(" psub=1 "),
        "each name once: {listed:?}"
    );

    // Pipelines on the connection while another client publishes.
    let workers: Vec<_> = (0..3)
        .map(|i| tokio::spawn(count_up(r.clone(), format!("k{i}"), 150)))
        .collect();
    for i in 0..20 {
        // The channel's subscription and the pattern's: one connection, counted twice.
        assert_eq!(publish(&server, "news", &i.to_string()), 2);
    }
    assert_eq!(publish(&server, "a-only", "to a"), 1);
    assert_eq!(publish(&server, "b-only", "to b"), 1);
    assert_eq!(server.cli(&["SPUBLISH", "orders", "to c"]), "1");
    for i in 0..20 {
        assert_eq!(next_text(&mut a).await, format!("news {i}"));
        assert_eq!(next_text(&mut b).await, format!("news {i}"));
        assert_eq!(next_text(&mut b).await, format!("ne*:news {i}"));
    }
    assert_eq!(next_text(&mut a).await, "a-only to a");
    assert_eq!(next_text(&mut b).await, "b-only to b");
    assert_eq!(next_text(&mut c).await, "orders to c");
    for w in workers {
        w.await.unwrap();
    }

    // `a` lets go of `news`: `b` still has it on the server, `a` gets no more of it.
    a.unsubscribe(&["news"]).await.unwrap();
    assert_eq!(numsub(&server, "news"), "1");
    assert_eq!(publish(&server, "news", "for b"), 2);
    assert_eq!(publish(&server, "a-only", "marker"), 1);
    assert_eq!(next_text(&mut a).await, "a-only marker");
    assert_eq!(next_text(&mut b).await, "news for b");
    assert_eq!(next_text(&mut b).await, "ne*:news for b");

    // `b` is dropped: its names go from the server, the others' stay and still come.
    drop(b);
    eventually_async("the dropped subscriber's names stayed", || {
        numsub(&server, "b-only") == "0"
            && numsub(&server, "news") == "0"
            && server.cli(&["PUBSUB", "NUMPAT"]) == "0"
    })
    .await;
    assert_eq!(numsub(&server, "a-only"), "1");
    assert_eq!(publish(&server, "a-only", "still"), 1);
    assert_eq!(next_text(&mut a).await, "a-only still");
    assert_eq!(server.cli(&["SPUBLISH", "orders", "still"]), "1");
    assert_eq!(next_text(&mut c).await, "orders still");
    count_up(r.clone(), "after".into(), 3).await;
    assert_eq!(clients(&server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_brings_every_subscriber_back_with_its_gap() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut a = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    let mut b = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    a.subscribe(&["both", "a-only"]).await.unwrap();
    b.subscribe(&["both", "b-only"]).await.unwrap();
    b.psubscribe(&["p.*"]).await.unwrap();
    assert_eq!(publish(&server, "both", "before"), 1);
    assert_eq!(next_text(&mut a).await, "both before");
    assert_eq!(next_text(&mut b).await, "both before");

    assert_eq!(
        server.cli(&["CLIENT", "KILL", "ID", &shared_id(&server)]),
        "1"
    );
    assert_eq!(a.next_event(WAIT).await.unwrap(), Some(Event::Gap));
    assert_eq!(b.next_event(WAIT).await.unwrap(), Some(Event::Gap));
    // Pipelines go on meanwhile, on the next connection.
    count_up(r.clone(), "k".into(), 3).await;
    // Each is back once its own channel is: then so are all of its names.
    let s = &server;
    tokio::task::block_in_place(|| {
        until_received("a-only", 1, || publish(s, "a-only", "back"));
        until_received("b-only", 1, || publish(s, "b-only", "back"));
    });
    assert!(
        until_text(&mut a, "a-only back")
            .await
            .iter()
            .all(|m| m == "a-only back")
    );
    assert!(
        until_text(&mut b, "b-only back")
            .await
            .iter()
            .all(|m| m == "b-only back")
    );
    // The union once: `both` is one subscription on the server, and reaches both.
    let listed = clients(&server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].contains(" sub=3 ") && listed[0].contains(" psub=1 "));
    assert_eq!(publish(&server, "both", "after"), 1);
    assert_eq!(publish(&server, "p.x", "pattern"), 1);
    let got = until_text(&mut a, "both after").await;
    assert_eq!(but(got, "a-only back"), ["both after"]);
    let got = until_text(&mut b, "p.*:p.x pattern").await;
    assert_eq!(but(got, "b-only back"), ["both after", "p.*:p.x pattern"]);
    count_up(r.clone(), "k2".into(), 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflow_ends_one_subscriber_and_the_other_keeps_the_channel() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut ends = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    let mut keeps = AsyncSubscriber::on_shared(&r, redpipe::DEFAULT)
        .await
        .unwrap();
    ends.buffer(10, 1 << 20, Overflow::Disconnect);
    ends.subscribe(&["flood"]).await.unwrap();
    keeps.subscribe(&["flood"]).await.unwrap();
    let sent = r
        .autoexec_async(None, |p| {
            Ok((0..100).map(|i| p.publish("flood", i)).collect::<Vec<_>>())
        })
        .await
        .unwrap();
    assert_eq!(sent[0].result().unwrap(), 1);
    let mut events = Vec::new();
    while let Some(e) = futures_util::StreamExt::next(&mut ends).await {
        events.push(e);
    }
    assert_eq!(events.len(), 11);
    assert!(matches!(
        events[10],
        Err(Error::Overflow { messages: 10, .. })
    ));
    for i in 0..100 {
        assert_eq!(
            next_message_async(&mut keeps)
                .await
                .payload::<i64>()
                .unwrap(),
            i
        );
    }
    // The ended one left; the channel stays the other's.
    assert_eq!(numsub(&server, "flood"), "1");
    assert_eq!(publish(&server, "flood", "100"), 1);
    assert_eq!(next_text(&mut keeps).await, "flood 100");
    count_up(r.clone(), "k".into(), 3).await;
    assert_eq!(clients(&server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_with_two_shared_connections_takes_any_number_of_subscribers() {
    let server = RedisServer::start();
    let r = Connections::new();
    let url = format!("{}?protocol=3&multiplexed=2&timeout=5000", server.url());
    r.register("two", url.as_str()).unwrap();
    let mut subs = Vec::new();
    for _ in 0..4 {
        let mut s = AsyncSubscriber::on_shared(&r, "two").await.unwrap();
        s.subscribe(&["all"]).await.unwrap();
        subs.push(s);
    }
    // However they were spread over the two connections, each gets the message once.
    assert!((1..=2).contains(&publish(&server, "all", "hi")));
    for s in &mut subs {
        assert_eq!(next_text(s).await, "all hi");
    }
    assert!(clients(&server).len() <= 2);
}

#[test]
fn blocking_subscribers_share_one_connection_and_one_leaving_spares_the_other() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut a = Subscriber::on_shared(&r, redpipe::DEFAULT).unwrap();
    let mut b = Subscriber::on_shared(&r, redpipe::DEFAULT).unwrap();
    a.subscribe(&["news", "a-only"]).unwrap();
    b.subscribe(&["news"]).unwrap();
    b.psubscribe(&["ne*"]).unwrap();
    let listed = clients(&server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].contains(" sub=2 ") && listed[0].contains(" psub=1 "));

    // While threads' pipelines run on the same connection.
    std::thread::scope(|s| {
        for i in 0..3 {
            let r = &r;
            s.spawn(move || count_up_blocking(r, &format!("k{i}"), 150));
        }
        for i in 0..20 {
            assert_eq!(publish(&server, "news", &i.to_string()), 2);
        }
    });
    for i in 0..20 {
        assert_eq!(text(&next_message(&mut a)), format!("news {i}"));
        assert_eq!(text(&next_message(&mut b)), format!("news {i}"));
        assert_eq!(text(&next_message(&mut b)), format!("ne*:news {i}"));
    }

    b.unsubscribe(&["news"]).unwrap();
    assert_eq!(numsub(&server, "news"), "1", "a still has it");
    assert_eq!(publish(&server, "news", "for a"), 2);
    assert_eq!(text(&next_message(&mut a)), "news for a");
    assert_eq!(text(&next_message(&mut b)), "ne*:news for a");

    drop(a);
    eventually("the dropped subscriber's names stayed", || {
        numsub(&server, "news") == "0" && numsub(&server, "a-only") == "0"
    });
    assert_eq!(publish(&server, "news", "pattern only"), 1);
    assert_eq!(text(&next_message(&mut b)), "ne*:news pattern only");
    count_up_blocking(&r, "after", 3);
    assert_eq!(clients(&server).len(), 1);
}

#[test]
fn blocking_subscribers_come_back_together_after_a_killed_connection() {
    let server = RedisServer::start();
    let r = registry(&server, 3);
    let mut a = Subscriber::on_shared(&r, redpipe::DEFAULT).unwrap();
    let mut b = Subscriber::on_shared(&r, redpipe::DEFAULT).unwrap();
    a.subscribe(&["both", "a-only"]).unwrap();
    b.subscribe(&["both", "b-only"]).unwrap();
    assert_eq!(
        server.cli(&["CLIENT", "KILL", "ID", &shared_id(&server)]),
        "1"
    );
    assert_eq!(a.next_event(WAIT).unwrap(), Some(Event::Gap));
    assert_eq!(b.next_event(WAIT).unwrap(), Some(Event::Gap));
    count_up_blocking(&r, "k", 3);
    until_received("a-only", 1, || publish(&server, "a-only", "back"));
    until_received("b-only", 1, || publish(&server, "b-only", "back"));
    assert!(
        until_text_blocking(&mut a, "a-only back")
            .iter()
            .all(|m| m == "a-only back")
    );
    assert!(
        until_text_blocking(&mut b, "b-only back")
            .iter()
            .all(|m| m == "b-only back")
    );
    assert_eq!(publish(&server, "both", "after"), 1);
    let got = until_text_blocking(&mut a, "both after");
    assert_eq!(but(got, "a-only back"), ["both after"]);
    let got = until_text_blocking(&mut b, "both after");
    assert_eq!(but(got, "b-only back"), ["both after"]);
    let listed = clients(&server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].contains(" sub=3 "));
    count_up_blocking(&r, "k2", 3);
}
