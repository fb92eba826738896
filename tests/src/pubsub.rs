//! Pub/Sub helpers for the live suites: publishing from a pipeline, the next message of a
//! subscriber, publishing again until a subscriber that is (re)subscribing hears it, a user
//! the server allows one channel only, the server's clients, and pipelines counting up beside
//! a subscriber on their connection.

use std::time::Duration;

use redpipe::Connections;
use redpipe::prelude::*;
use redpipe::pubsub::{AsyncSubscriber, Event, Msg, Subscriber};

use crate::{RedisServer, eventually};

/// How long a subscriber is waited for a message that must come.
pub const WAIT: Option<Duration> = Some(Duration::from_secs(10));

/// A registry whose default name is `server` over RESP`protocol`, with a 5 s timeout.
pub fn registry(server: &RedisServer, protocol: u8) -> Connections {
    server.registry(&format!("protocol={protocol}&timeout=5000"))
}

/// A user `limited` on `server`, allowed every command and key but only the channel `allowed`,
/// and a registry whose default name connects as it (RESP`protocol`, a 5 s timeout): for a
/// subscribe the server refuses (`-NOPERM`).
pub fn limited_registry(server: &RedisServer, protocol: u8) -> Connections {
    server.cli(&[
        "ACL",
        "SETUSER",
        "limited",
        "on",
        ">pw",
        "~*",
        "resetchannels",
        "&allowed",
        "+@all",
    ]);
    let r = Connections::new();
    let url = format!(
        "redis://limited:pw@127.0.0.1:{}?protocol={protocol}&timeout=5000",
        server.port()
    );
    r.register(redpipe::DEFAULT, url.as_str())
        .expect("the limited user's URL is refused");
    r
}

/// `PUBLISH`es each `(channel, message)` in one pipeline on `r`; how many subscribers got each.
pub fn publish<M: AsRef<str>>(r: &Connections, messages: &[(&str, M)]) -> Vec<i64> {
    publish_kind(r, messages, false)
}

/// `SPUBLISH`es each `(shard channel, message)` in one pipeline on `r` (a cluster routes each
/// to its slot's node); how many subscribers got each.
pub fn spublish<M: AsRef<str>>(r: &Connections, messages: &[(&str, M)]) -> Vec<i64> {
    publish_kind(r, messages, true)
}

fn publish_kind<M: AsRef<str>>(r: &Connections, messages: &[(&str, M)], shard: bool) -> Vec<i64> {
    let handles = r
        .autoexec(None, |p| {
            Ok(messages
                .iter()
                .map(|(channel, m)| match shard {
                    true => p.spublish(*channel, m.as_ref()),
                    false => p.publish(*channel, m.as_ref()),
                })
                .collect::<Vec<_>>())
        })
        .expect("the publishing pipeline failed");
    handles
        .iter()
        .map(|h| h.result().expect("the publish failed"))
        .collect()
}

/// Calls `publish` (which publishes one message to `channel` and returns how many subscribers
/// got it) until at least `receivers` got it: a subscriber coming back after a reconnect, or
/// following its slot to another node, counts only once the server has it subscribed again,
/// and a message published before is lost to it.
pub fn until_received(channel: &str, receivers: i64, mut publish: impl FnMut() -> i64) {
    eventually(
        format_args!("fewer than {receivers} subscribed to {channel}"),
        || publish() >= receivers,
    );
}

/// [`until_received`] by one subscriber, with `PUBLISH` from a pipeline on `r`.
pub fn publish_until_received(r: &Connections, channel: &str, payload: &str) {
    until_received(channel, 1, || publish(r, &[(channel, payload)])[0]);
}

/// [`until_received`] by one subscriber, with `SPUBLISH` from a pipeline on `r`.
pub fn spublish_until_received(r: &Connections, channel: &str, payload: &str) {
    until_received(channel, 1, || spublish(r, &[(channel, payload)])[0]);
}

/// The subscriber's next event, which must be a message within [`WAIT`].
pub fn next_message(sub: &mut Subscriber) -> Msg {
    match sub.next_event(WAIT).expect("the subscriber ended") {
        Some(Event::Message(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// [`next_message`] of a tokio subscriber.
pub async fn next_message_async(sub: &mut AsyncSubscriber) -> Msg {
    match sub.next_event(WAIT).await.expect("the subscriber ended") {
        Some(Event::Message(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The server's clients, but for the `redis-cli` asking (one `CLIENT LIST` line each).
pub fn clients(server: &RedisServer) -> Vec<String> {
    server
        .cli(&["CLIENT", "LIST"])
        .lines()
        .filter(|l| !l.contains("cmd=client|list"))
        .map(str::to_owned)
        .collect()
}

/// `INCR key` `n` times in pipelines of one command each: each answer is the one before, plus
/// one (a reply handed to the wrong pipeline, or a push in a slot, breaks the count).
pub async fn count_up(r: Connections, key: String, n: i64) {
    for expected in 1..=n {
        let k = key.clone();
        let got = r
            .autoexec_async(None, move |p| Ok(p.incr(k.as_str())))
            .await
            .expect("a pipeline beside the subscriber");
        assert_eq!(got.result().ok(), Some(expected), "{key}");
    }
}

/// [`count_up`] from a thread.
pub fn count_up_blocking(r: &Connections, key: &str, n: i64) {
    for expected in 1..=n {
        let got = r
            .autoexec(None, |p| Ok(p.incr(key)))
            .expect("a pipeline beside the subscriber");
        assert_eq!(got.result().ok(), Some(expected), "{key}");
    }
}
