//! Pub/Sub through the bridge against a real redis-server: subscriber sessions (the
//! `redpipe.subscribe` WebSocket subprotocol) receive what is published, within the channels
//! their token names, and nothing outside them reaches Redis; `PUBLISH` passes only to the
//! channels a token may publish to. The Redis user may use every channel here, so that the
//! bridge's rules are all that stands in the way.

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use redpipe_bridge::{Grant, SUBSCRIBER_PROTOCOL};
use redpipe_tests::RedisServer;
use redpipe_tests::bridge::Bridge;
use tokio_tungstenite::tungstenite::Message;

/// A redis-server whose `web` user has the recommended ACL plus every channel, and a bridge in
/// front of it with `extra` options.
fn setup_pubsub(extra: &[&str]) -> (RedisServer, Bridge, Files) {
    let mut acl: Vec<&str> = WEB_ACL.to_vec();
    acl.extend(["allchannels", "+@pubsub"]);
    let redis = RedisServer::with(redpipe_tests::Options {
        extra: acl_user("web", "web-pw", "~*", &acl),
        ..redpipe_tests::Options::default()
    });
    let (bridge, files) = bridge(&url_as(&redis, "web", "web-pw"), "web web-pw\n", extra);
    (redis, bridge, files)
}

/// A subscriber session logged in with `token`.
async fn subscriber(url: &str, token: &str) -> Ws {
    let mut ws = open(url, &[("sec-websocket-protocol", SUBSCRIBER_PROTOCOL)])
        .await
        .expect("the bridge answers with the subprotocol");
    ws.send(Message::text(token)).await.expect("token sent");
    match tokio::time::timeout(
        Duration::from_secs(10),
        futures_util::StreamExt::next(&mut ws),
    )
    .await
    {
        Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "ready" => ws,
        other => panic!("subscriber session refused: {other:?}"),
    }
}

/// Sends one command, without waiting for anything.
async fn send(ws: &mut Ws, words: &[&str]) {
    ws.send(Message::binary(command(words)))
        .await
        .expect("sent");
}

/// The channels Redis has subscribers for, sorted.
fn channels(redis: &RedisServer) -> Vec<String> {
    let mut v: Vec<String> = redis
        .cli(&["PUBSUB", "CHANNELS"])
        .lines()
        .map(String::from)
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_token_subscribes_and_publishes_within_its_channels_only() {
    let (redis, bridge, _files) = setup_pubsub(&[]);
    let grant = Grant::new(Duration::from_secs(60))
        .subscribe(["news", "room:1:*"])
        .publish(["room:1:*"]);
    let token = mint(&grant);
    let mut sub = subscriber(&bridge.url(), &token).await;

    send(&mut sub, &["SUBSCRIBE", "news"]).await;
    assert_eq!(
        frames(&mut sub, 1).await.unwrap()[0],
        "[\"subscribe\", \"news\", Int(1)]"
    );
    send(&mut sub, &["PSUBSCRIBE", "room:1:*"]).await;
    assert!(frames(&mut sub, 1).await.unwrap()[0].starts_with("[\"psubscribe\""));

    // Outside the token's channels: refused in place, and Redis never hears of them.
    for (words, name) in [
        (&["SUBSCRIBE", "secret"][..], "secret"),
        (&["SUBSCRIBE", "news", "room:2:a"][..], "room:2:a"),
        (&["PSUBSCRIBE", "*"][..], "*"),
        (&["PSUBSCRIBE", "__keyspace@0__:*"][..], "__keyspace@0__:*"),
    ] {
        send(&mut sub, words).await;
        let answer = frames(&mut sub, 1).await.unwrap().remove(0);
        assert!(
            noperm(&answer) && answer.contains(&format!("channel '{name}'")),
            "{words:?}: {answer}"
        );
    }
    send(&mut sub, &["GET", "k"]).await;
    let answer = frames(&mut sub, 1).await.unwrap().remove(0);
    assert!(
        noperm(&answer) && answer.contains("subscriber session"),
        "{answer}"
    );
    assert_eq!(channels(&redis), ["news"]);

    // A pipeline session of the same token publishes to its channels only.
    let mut page = login(&bridge.url(), &token).await;
    let r = replies(
        &mut page,
        &[
            &["PUBLISH", "room:1:chat", "hello"],
            &["PUBLISH", "news", "forged"],
            &["SPUBLISH", "room:9", "x"],
        ],
    )
    .await
    .unwrap();
    assert_eq!(r[0], ":1", "one subscriber, through its pattern");
    assert!(
        noperm(&r[1]) && r[1].contains("'PUBLISH' to channel 'news'"),
        "{r:?}"
    );
    assert!(noperm(&r[2]), "{r:?}");
    redis.cli(&["PUBLISH", "news", "from the backend"]);
    let got = frames(&mut sub, 2).await.unwrap();
    assert_eq!(
        got,
        [
            "[\"pmessage\", \"room:1:*\", \"room:1:chat\", \"hello\"]",
            "[\"message\", \"news\", \"from the backend\"]"
        ]
    );
    // Unsubscribing and PING need no rule.
    send(&mut sub, &["UNSUBSCRIBE", "news"]).await;
    send(&mut sub, &["PING"]).await;
    let got = frames(&mut sub, 2).await.unwrap();
    assert!(got[0].starts_with("[\"unsubscribe\", \"news\""), "{got:?}");
    assert!(got[1].starts_with("[\"pong\""), "{got:?}");
    assert!(channels(&redis).is_empty());
}

#[tokio::test]
async fn without_channels_in_its_token_a_session_gets_the_bridge_s_defaults_none_unless_set() {
    let (_redis, bridge, _files) = setup_pubsub(&["--subscribe", "alerts"]);
    let mut sub = subscriber(&bridge.url(), &fresh_token()).await;
    send(&mut sub, &["SUBSCRIBE", "alerts"]).await;
    assert!(frames(&mut sub, 1).await.unwrap()[0].starts_with("[\"subscribe\""));
    send(&mut sub, &["SUBSCRIBE", "news"]).await;
    assert!(noperm(&frames(&mut sub, 1).await.unwrap()[0]));
    let mut page = session(&bridge).await;
    let r = replies(&mut page, &[&["PUBLISH", "alerts", "x"]])
        .await
        .unwrap();
    assert!(noperm(&r[0]), "no --publish: nowhere");

    let (_redis, bridge, _files) = setup_pubsub(&[]);
    let mut sub = subscriber(&bridge.url(), &fresh_token()).await;
    send(&mut sub, &["SUBSCRIBE", "alerts"]).await;
    assert!(
        noperm(&frames(&mut sub, 1).await.unwrap()[0]),
        "no rules: nothing"
    );
}

#[tokio::test]
async fn a_quiet_subscriber_is_not_idle_and_a_pipeline_session_cannot_subscribe() {
    let (redis, bridge, _files) = setup_pubsub(&["--idle-timeout", "1"]);
    let token = mint(&Grant::new(Duration::from_secs(60)).subscribe(["news"]));
    let mut sub = subscriber(&bridge.url(), &token).await;
    send(&mut sub, &["SUBSCRIBE", "news"]).await;
    frames(&mut sub, 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    redis.cli(&["PUBLISH", "news", "still here"]);
    assert_eq!(
        frames(&mut sub, 1).await.unwrap()[0],
        "[\"message\", \"news\", \"still here\"]"
    );
    // The same token in a pipeline session: SUBSCRIBE would break the reply stream.
    let mut page = login(&bridge.url(), &token).await;
    let r = replies(&mut page, &[&["SUBSCRIBE", "news"], &["PING"]])
        .await
        .unwrap();
    assert!(noperm(&r[0]), "{r:?}");
    assert_eq!(r[1], "+PONG");
}
