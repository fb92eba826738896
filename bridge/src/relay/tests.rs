use std::sync::Arc;

use super::*;
use crate::confine::Prefix;
use crate::policy::Policy;

fn relay() -> Relay {
    Relay::new(
        Access::new(Arc::new(Policy::default())),
        Limits::default(),
        Limits::default(),
    )
}

fn command(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for w in words {
        out.extend(format!("${}\r\n{w}\r\n", w.len()).bytes());
    }
    out
}

/// The lines of what the client got.
fn lines(r: &mut Relay) -> Vec<String> {
    String::from_utf8(r.take_to_client())
        .expect("utf-8")
        .split_terminator("\r\n")
        .map(String::from)
        .collect()
}

#[test]
fn a_denied_command_answers_in_its_place() {
    let mut r = relay();
    let stream = [
        command(&["SET", "a", "1"]),
        command(&["FLUSHALL"]),
        command(&["GET", "a"]),
    ]
    .concat();
    // Split at every byte: the result is the same.
    for cut in 0..stream.len() {
        let mut r = relay();
        r.handle_client(&stream[..cut]).unwrap();
        r.handle_client(&stream[cut..]).unwrap();
        assert_eq!(
            r.take_to_redis(),
            [command(&["SET", "a", "1"]), command(&["GET", "a"])].concat()
        );
        assert!(!r.has_partial_command());
    }
    r.handle_client(&stream).unwrap();
    assert_eq!(r.pending(), 3);
    assert!(
        r.take_to_client().is_empty(),
        "the denial waits for SET's reply"
    );
    r.handle_redis(b"+OK\r\n$1").unwrap();
    let first = r.take_to_client();
    assert!(first.starts_with(b"+OK\r\n-NOPERM"), "{first:?}");
    assert!(
        first.ends_with(b"\r\n$1"),
        "the GET's reply goes on as it comes"
    );
    r.handle_redis(b"\r\n1\r\n").unwrap();
    assert_eq!(r.take_to_client(), b"\r\n1\r\n");
    assert_eq!((r.pending(), r.denied()), (0, 1));
}

#[test]
fn a_denial_with_nothing_before_it_answers_at_once() {
    let mut r = relay();
    r.handle_client(&command(&["KEYS", "*"])).unwrap();
    assert!(r.take_to_client().starts_with(b"-NOPERM"));
    assert!(r.take_to_redis().is_empty());
    assert_eq!(r.pending(), 0);
}

#[test]
fn a_denied_command_aborts_its_transaction() {
    let mut r = relay();
    let stream = [
        command(&["MULTI"]),
        command(&["INCR", "a"]),
        command(&["CONFIG", "SET", "x", "y"]),
        command(&["EXEC"]),
        command(&["PING"]),
    ]
    .concat();
    r.handle_client(&stream).unwrap();
    assert_eq!(
        r.take_to_redis(),
        [
            command(&["MULTI"]),
            command(&["INCR", "a"]),
            command(&["DISCARD"]),
            command(&["PING"])
        ]
        .concat()
    );
    r.handle_redis(b"+OK\r\n+QUEUED\r\n+OK\r\n+PONG\r\n")
        .unwrap();
    let lines = lines(&mut r);
    assert_eq!(lines[..2], ["+OK", "+QUEUED"]);
    assert!(lines[2].starts_with("-NOPERM"));
    assert!(lines[3].starts_with("-EXECABORT"));
    assert_eq!(lines[4], "+PONG");
}

#[test]
fn a_nested_multi_does_not_clear_a_denial() {
    for denied_first in [true, false] {
        let mut r = relay();
        let mut stream = vec![command(&["MULTI"])];
        if denied_first {
            stream.extend([command(&["FLUSHALL"]), command(&["MULTI"])]);
        } else {
            stream.extend([command(&["MULTI"]), command(&["FLUSHALL"])]);
        }
        stream.extend([command(&["INCR", "a"]), command(&["EXEC"])]);
        r.handle_client(&stream.concat()).unwrap();
        let sent = r.take_to_redis();
        assert!(
            sent.ends_with(&command(&["DISCARD"])),
            "EXEC went to Redis as DISCARD (denied first: {denied_first})"
        );
        r.handle_redis(b"+OK\r\n-ERR MULTI calls can not be nested\r\n+QUEUED\r\n+OK\r\n")
            .unwrap();
        let lines = lines(&mut r);
        assert_eq!(lines.len(), 5, "one reply per command: {lines:?}");
        assert!(lines[4].starts_with("-EXECABORT"), "{lines:?}");
        assert_eq!(r.pending(), 0);
    }
}

#[test]
fn a_confined_session_sees_its_prefix_only() {
    let access = Access::new(Arc::new(Policy::default())).confined(Prefix::new("u1:").unwrap());
    let mut r = Relay::new(access, Limits::default(), Limits::default());
    r.handle_client(
        &[
            command(&["SCAN", "0", "COUNT", "5"]),
            command(&["GET", "u2:x"]),
            command(&["GET", "u1:x"]),
        ]
        .concat(),
    )
    .unwrap();
    assert_eq!(
        r.take_to_redis(),
        [
            command(&["SCAN", "0", "COUNT", "5", "MATCH", "u1:*"]),
            command(&["GET", "u1:x"])
        ]
        .concat()
    );
    r.handle_redis(b"*2\r\n$1\r\n0\r\n*0\r\n$-1\r\n").unwrap();
    let lines = lines(&mut r);
    assert_eq!(lines[..4], ["*2", "$1", "0", "*0"]);
    assert!(lines[4].starts_with("-NOPERM"), "{lines:?}");
    assert_eq!(lines[5], "$-1");
}

#[test]
fn pushes_pass_through_and_garbage_is_refused() {
    let mut r = relay();
    r.handle_client(&command(&["GET", "a"])).unwrap();
    r.handle_redis(b">2\r\n+message\r\n+hi\r\n$-1\r\n").unwrap();
    assert_eq!(r.take_to_client(), b">2\r\n+message\r\n+hi\r\n$-1\r\n");
    assert_eq!(r.pending(), 0);
    assert!(matches!(
        relay().handle_client(b"PING\r\n"),
        Err(RelayError::Client(_))
    ));
    assert!(matches!(
        relay().handle_client(b"*1\r\n:1\r\n"),
        Err(RelayError::Client(_))
    ));
    assert!(matches!(
        relay().handle_redis(b"?\r\n"),
        Err(RelayError::Redis(_))
    ));
}

#[test]
fn a_push_before_a_discarded_exec_s_reply_is_not_taken_for_it() {
    let mut r = relay();
    r.handle_client(
        &[
            command(&["MULTI"]),
            command(&["FLUSHALL"]),
            command(&["EXEC"]),
        ]
        .concat(),
    )
    .unwrap();
    r.handle_redis(b"+OK\r\n>2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n+OK\r\n")
        .unwrap();
    let lines = lines(&mut r);
    assert_eq!(lines[0], "+OK");
    assert!(lines[1].starts_with("-NOPERM"));
    assert_eq!(lines[2..7], [">2", "+invalidate", "*1", "$1", "k"]);
    assert!(lines[7].starts_with("-EXECABORT"));
    assert_eq!(lines.len(), 8);
}

/// The 60 MB `GET` of the issue, in 64 KiB reads: each read goes on to the client at once,
/// and nothing is kept (before, the partial reply was copied again on every read: ~30 GB of
/// copies for 60 MB).
#[test]
fn a_large_reply_is_forwarded_as_it_arrives_each_byte_copied_once() {
    const LEN: usize = 60_000_000;
    let mut r = relay();
    r.handle_client(&command(&["GET", "big"])).unwrap();
    assert_eq!(r.take_to_redis(), command(&["GET", "big"]));
    let mut reply = format!("${LEN}\r\n").into_bytes();
    reply.resize(reply.len() + LEN, b'v');
    reply.extend_from_slice(b"\r\n");
    let mut forwarded = 0;
    for chunk in reply.chunks(64 * 1024) {
        r.handle_redis(chunk).unwrap();
        assert_eq!(r.buffered(), chunk.len(), "only this read's bytes are held");
        let out = r.take_to_client();
        assert_eq!(out, chunk);
        forwarded += out.len();
    }
    assert_eq!((forwarded, r.pending()), (reply.len(), 0));
    assert_eq!(r.buffered(), 0);
}

fn subscriber(subscribe: &[&str]) -> Relay {
    let rules = crate::channels::ChannelRules::new(subscribe).unwrap();
    Relay::subscriber(
        Access::new(Arc::new(Policy::default())).channels(rules, Default::default()),
        Limits::default(),
        Limits::default(),
    )
}

#[test]
fn a_subscriber_subscribes_within_its_rules_and_every_frame_passes() {
    let mut r = subscriber(&["news", "room:1:*"]);
    let stream = [
        command(&["SUBSCRIBE", "news", "room:1:a"]),
        command(&["PSUBSCRIBE", "room:1:*"]),
        command(&["PING"]),
        command(&["UNSUBSCRIBE"]),
    ]
    .concat();
    r.handle_client(&stream).unwrap();
    assert_eq!(r.take_to_redis(), stream, "all of it, as it came");
    assert_eq!(
        (r.pending(), r.denied()),
        (0, 0),
        "nothing waits for a slot"
    );
    // Confirmations, messages, pongs: whatever Redis says, in any number, goes on as it comes.
    let frames: &[u8] = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n\
        *3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n\
        *3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nho\r\n";
    r.handle_redis(frames).unwrap();
    assert_eq!(r.take_to_client(), frames);
    assert!(
        r.handle_redis(b"%1\r\n:1\r\n:2\r\n$x\r\n").is_err(),
        "not RESP: the session ends"
    );
}

#[test]
fn a_subscriber_is_refused_channels_patterns_and_commands_outside_its_rules() {
    for (words, why) in [
        (&["SUBSCRIBE", "news", "secret"][..], "channel 'secret'"),
        (&["SSUBSCRIBE", "room:2:a"][..], "channel 'room:2:a'"),
        (&["PSUBSCRIBE", "room:*"][..], "channel 'room:*'"),
        (&["PSUBSCRIBE", "n?ws"][..], "channel 'n?ws'"),
        (
            &["PSUBSCRIBE", "__keyspace@0__:*"][..],
            "channel '__keyspace@0__:*'",
        ),
        (&["GET", "k"][..], "subscriber session"),
        (&["PUBLISH", "news", "x"][..], "subscriber session"),
    ] {
        let mut r = subscriber(&["news", "room:1:*"]);
        r.handle_client(&command(words)).unwrap();
        assert!(r.take_to_redis().is_empty(), "{words:?} is not sent");
        let answer = String::from_utf8(r.take_to_client()).unwrap();
        assert!(
            answer.starts_with("-NOPERM") && answer.contains(why),
            "{words:?}: {answer}"
        );
        assert_eq!(r.denied(), 1);
    }
}

#[test]
fn publish_passes_only_to_the_channels_the_session_may_publish_to() {
    let publish = crate::channels::ChannelRules::new(["room:1:*"]).unwrap();
    let mut r = Relay::new(
        Access::new(Arc::new(Policy::default())).channels(Default::default(), publish),
        Limits::default(),
        Limits::default(),
    );
    let ok = command(&["PUBLISH", "room:1:chat", "hi"]);
    r.handle_client(&[ok.clone(), command(&["SPUBLISH", "room:2:chat", "hi"])].concat())
        .unwrap();
    assert_eq!(r.take_to_redis(), ok);
    r.handle_redis(b":0\r\n").unwrap();
    let answers = lines(&mut r);
    assert_eq!(answers[0], ":0");
    assert!(
        answers[1].contains("'SPUBLISH' to channel 'room:2:chat'"),
        "{answers:?}"
    );
    // A session without publish rules publishes nowhere.
    let mut r = relay();
    r.handle_client(&command(&["PUBLISH", "news", "x"]))
        .unwrap();
    assert!(r.take_to_client().starts_with(b"-NOPERM"));
}
