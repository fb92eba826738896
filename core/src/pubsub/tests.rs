//! The subscription machine against in-memory byte fixtures: the commands it writes, the frames
//! it reads (RESP2 and RESP3, cut anywhere), hostile input, and the table's bookkeeping.

extern crate std;

use std::format;
use std::string::String;
use std::vec::Vec;

use super::{Event, FrameError, Kind, Message, Subscriptions};
use crate::Joined;
use crate::codec::decode::Limits;
use crate::codec::error::{DecodeError, ReplyKind, Store};
use crate::codec::storage::{SliceStore, Storage};

type Subs<'a> = Subscriptions<SliceStore<'a, u8>, SliceStore<'a, u8>>;

fn subs<'a>(out: &'a mut [u8], names: &'a mut [u8]) -> Subs<'a> {
    Subscriptions::with_storage(SliceStore::new(out), SliceStore::new(names))
}

/// Takes everything queued to send.
fn sent(s: &mut Subs<'_>) -> Vec<u8> {
    let out = s.poll_output().to_vec();
    s.consume_output(out.len());
    out
}

/// An event written as text, owned, so that events of different buffers compare.
fn show(e: &Event<'_>) -> String {
    let t = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match e {
        Event::Message(m) => format!(
            "{:?} {} {:?} {}",
            m.kind,
            t(m.channel),
            m.pattern.map(t),
            t(m.payload)
        ),
        Event::Subscribed { kind, name, count } => format!("+{kind:?} {} {count}", t(name)),
        Event::Unsubscribed { kind, name, count } => {
            format!("-{kind:?} {:?} {count}", name.map(t))
        }
        Event::Pong(p) => format!("pong {}", t(p)),
        Event::Error(e) => format!("error {e}"),
        Event::Push(a) => format!("push {}", a.len()),
    }
}

/// Feeds `wire` as a transport would, in chunks of `chunk` bytes into a growing buffer,
/// consuming each event's bytes; returns the events, or the error that stopped it.
fn feed(s: &mut Subs<'_>, wire: &[u8], chunk: usize) -> Result<Vec<String>, FrameError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some((event, used)) = s.handle_input(&buf)? {
            events.push(show(&event));
            buf.drain(..used);
        }
    }
    assert!(buf.is_empty(), "bytes left over: {buf:?}");
    Ok(events)
}

macro_rules! frames {
    ($($name:ident: $bytes:expr => $want:expr;)*) => {
        const FRAMES: &[(&str, &[u8], &str)] = &[$((stringify!($name), $bytes, $want)),*];
    };
}
frames! {
    message2: b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n" => "Channel news None hello";
    message3: b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n" => "Channel news None hello";
    empty_payload: b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$0\r\n\r\n" => "Channel c None ";
    binary_payload: b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$4\r\n\r\n\0\xff\r\n" => "Channel c None \r\n\0\u{fffd}";
    pmessage2: b"*4\r\n$8\r\npmessage\r\n$3\r\nn.*\r\n$3\r\nn.a\r\n$1\r\nx\r\n" => "Pattern n.a Some(\"n.*\") x";
    pmessage3: b">4\r\n$8\r\npmessage\r\n$3\r\nn.*\r\n$3\r\nn.a\r\n$1\r\nx\r\n" => "Pattern n.a Some(\"n.*\") x";
    smessage: b">3\r\n$8\r\nsmessage\r\n$2\r\nsc\r\n$1\r\ny\r\n" => "Shard sc None y";
    subscribe2: b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n" => "+Channel news 1";
    psubscribe3: b">3\r\n$10\r\npsubscribe\r\n$3\r\nn.*\r\n:2\r\n" => "+Pattern n.* 2";
    ssubscribe: b">3\r\n$10\r\nssubscribe\r\n$2\r\nsc\r\n:1\r\n" => "+Shard sc 1";
    unsubscribe: b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n" => "-Channel Some(\"news\") 0";
    unsubscribe_none: b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n" => "-Channel None 0";
    unsubscribe_null3: b">3\r\n$12\r\npunsubscribe\r\n_\r\n:0\r\n" => "-Pattern None 0";
    sunsubscribe: b">3\r\n$12\r\nsunsubscribe\r\n$2\r\nsc\r\n:0\r\n" => "-Shard Some(\"sc\") 0";
    pong2: b"*2\r\n$4\r\npong\r\n$0\r\n\r\n" => "pong ";
    error: b"-NOPERM this user has no permissions to access the 'x' channel\r\n" => "error NOPERM this user has no permissions to access the 'x' channel";
    invalidate: b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n" => "push 2";
    attributed: b"|1\r\n+a\r\n:1\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nv\r\n" => "Channel c None v";
    simple_strings: b">3\r\n+message\r\n+c\r\n+v\r\n" => "Channel c None v";
}

#[test]
fn every_frame_reads_as_its_event() {
    for (name, bytes, want) in FRAMES {
        let (mut o, mut n) = ([0u8; 64], [0u8; 64]);
        let mut s = subs(&mut o, &mut n);
        let (event, used) = s.handle_input(bytes).unwrap().unwrap();
        assert_eq!(
            (show(&event).as_str(), used),
            (*want, bytes.len()),
            "{name}"
        );
    }
}

#[test]
fn every_strict_prefix_needs_more() {
    for (name, bytes, _) in FRAMES {
        for cut in 0..bytes.len() {
            let (mut o, mut n) = ([0u8; 64], [0u8; 64]);
            let mut s = subs(&mut o, &mut n);
            assert_eq!(
                s.handle_input(&bytes[..cut]),
                Ok(None),
                "{name} cut at {cut}"
            );
        }
    }
}

/// A recorded stream: confirmations, messages of every kind, a pong, a push of another kind.
fn recorded() -> Vec<u8> {
    FRAMES
        .iter()
        .flat_map(|(_, b, _)| b.iter().copied())
        .collect()
}

#[test]
fn a_stream_cut_at_every_byte_reads_the_same() {
    let wire = recorded();
    let (mut o, mut n) = ([0u8; 256], [0u8; 256]);
    let mut s = subs(&mut o, &mut n);
    s.ping().unwrap(); // the pong frame answers it
    let whole = feed(&mut s, &wire, wire.len()).unwrap();
    assert_eq!(whole.len(), FRAMES.len());
    for chunk in 1..wire.len() {
        let (mut o, mut n) = ([0u8; 256], [0u8; 256]);
        let mut s = subs(&mut o, &mut n);
        s.ping().unwrap();
        assert_eq!(
            feed(&mut s, &wire, chunk).unwrap(),
            whole,
            "chunks of {chunk}"
        );
    }
    // Cut once at every boundary, the scan resuming where it stopped.
    for cut in 0..wire.len() {
        let (mut o, mut n) = ([0u8; 256], [0u8; 256]);
        let mut s = subs(&mut o, &mut n);
        s.ping().unwrap();
        let mut events = Vec::new();
        let mut buf = wire[..cut].to_vec();
        let mut rest = &wire[cut..];
        loop {
            match s.handle_input(&buf).unwrap() {
                Some((e, used)) => {
                    events.push(show(&e));
                    buf.drain(..used);
                }
                None if rest.is_empty() => break,
                None => {
                    buf.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        assert_eq!(events, whole, "cut at {cut}");
    }
}

#[test]
fn pongs_answer_pings_only() {
    let (mut o, mut n) = ([0u8; 64], [0u8; 64]);
    let mut s = subs(&mut o, &mut n);
    // RESP3 and RESP2 outside subscribed mode answer PING with a plain reply: only a PING
    // sent makes it one.
    assert_eq!(
        s.handle_input(b"+PONG\r\n"),
        Err(FrameError::Unexpected(ReplyKind::Simple))
    );
    s.ping().unwrap();
    assert_eq!(sent(&mut s), b"*1\r\n$4\r\nPING\r\n");
    s.ping().unwrap();
    assert_eq!(
        feed(&mut s, b"+PONG\r\n$2\r\nhi\r\n", 1).unwrap(),
        ["pong ", "pong hi"]
    );
    assert_eq!(
        s.handle_input(b"$2\r\nhi\r\n"),
        Err(FrameError::Unexpected(ReplyKind::Bulk))
    );
}

#[test]
fn hostile_frames_are_errors_never_panics() {
    use FrameError::{Decode, Malformed, Unexpected};
    let cases: &[(&[u8], FrameError)] = &[
        (b"?x\r\n", Decode(DecodeError::UnknownType(b'?'))),
        (
            b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n:1\r\n",
            Malformed { frame: "message" },
        ),
        (
            b"*2\r\n$7\r\nmessage\r\n$1\r\nc\r\n",
            Malformed { frame: "message" },
        ),
        (
            b"*4\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nv\r\n$1\r\nv\r\n",
            Malformed { frame: "message" },
        ),
        (
            b">3\r\n$8\r\npmessage\r\n$1\r\np\r\n$1\r\nc\r\n",
            Malformed { frame: "pmessage" },
        ),
        (
            b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n$1\r\n1\r\n",
            Malformed { frame: "subscribe" },
        ),
        (
            b">3\r\n$9\r\nsubscribe\r\n_\r\n:1\r\n",
            Malformed { frame: "subscribe" },
        ),
        (
            b">3\r\n$11\r\nunsubscribe\r\n*0\r\n:1\r\n",
            Malformed {
                frame: "unsubscribe",
            },
        ),
        (b"*1\r\n$4\r\npong\r\n", Malformed { frame: "pong" }),
        (
            b"*3\r\n$5\r\nhello\r\n$1\r\nc\r\n$1\r\nv\r\n",
            Unexpected(ReplyKind::Array),
        ),
        (b"*1\r\n:1\r\n", Unexpected(ReplyKind::Array)),
        (b"*0\r\n", Unexpected(ReplyKind::Array)),
        (b":1\r\n", Unexpected(ReplyKind::Int)),
        (b"+OK\r\n", Unexpected(ReplyKind::Simple)),
        (b"%1\r\n+a\r\n+b\r\n", Unexpected(ReplyKind::Map)),
        (b"_\r\n", Unexpected(ReplyKind::Nil)),
    ];
    for (bytes, want) in cases {
        let (mut o, mut n) = ([0u8; 64], [0u8; 64]);
        let mut s = subs(&mut o, &mut n);
        assert_eq!(
            s.handle_input(bytes),
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn oversized_frames_are_refused_before_they_are_read() {
    let (mut o, mut n) = ([0u8; 64], [0u8; 64]);
    let mut s = subs(&mut o, &mut n);
    s.set_limits(Limits {
        max_bulk_len: 16,
        max_elements: 4,
        max_reply_len: 60,
        ..Limits::default()
    });
    // Only the header has arrived: the announced sizes are enough to refuse.
    let too_long = b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$17\r\n";
    assert_eq!(
        s.handle_input(too_long),
        Err(FrameError::Decode(DecodeError::BulkTooLong { len: 17 }))
    );
    assert_eq!(
        s.handle_input(b">5\r\n"),
        Err(FrameError::Decode(DecodeError::TooManyElements {
            count: 5
        }))
    );
    let long = b"*4\r\n$8\r\npmessage\r\n$16\r\n0123456789abcdef\r\n$16\r\n0123456789abcdef\r\n";
    assert_eq!(
        s.handle_input(long),
        Err(FrameError::Decode(DecodeError::ReplyTooLong))
    );
    // Within the limits, the same shape reads.
    assert!(
        s.handle_input(b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$16\r\n0123456789abcdef\r\n")
            .unwrap()
            .is_some()
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: 2000,
        ..Config::default()
    });
    // Frames cut and spliced at random, and random bytes after a valid prefix.
    let wire = recorded();
    let strategy = (
        proptest::collection::vec(any::<u8>(), 0..64),
        0..wire.len(),
        0..wire.len(),
    );
    runner
        .run(&strategy, |(noise, a, b)| {
            let (mut o, mut n) = ([0u8; 64], [0u8; 64]);
            let mut s = subs(&mut o, &mut n);
            let (a, b) = (a.min(b), a.max(b));
            let mut input = wire[..a].to_vec();
            input.extend_from_slice(&noise);
            input.extend_from_slice(&wire[b..]);
            let mut rest = &input[..];
            while let Ok(Some((_, used))) = s.handle_input(rest) {
                prop_assert!(used > 0 && used <= rest.len());
                rest = &rest[used..];
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn commands_name_only_what_changes() {
    let (mut o, mut n) = ([0u8; 256], [0u8; 256]);
    let mut s = subs(&mut o, &mut n);
    assert_eq!(s.subscribe(Kind::Channel, &["a", "b", "a"]), Ok(2));
    assert_eq!(
        sent(&mut s),
        b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(s.subscribe(Kind::Channel, &["b"]), Ok(0));
    assert!(s.poll_output().is_empty());
    assert_eq!(s.subscribe(Kind::Pattern, &[Joined(("news.", "*"))]), Ok(1));
    assert_eq!(sent(&mut s), b"*2\r\n$10\r\nPSUBSCRIBE\r\n$6\r\nnews.*\r\n");
    assert_eq!(s.subscribe(Kind::Shard, &"s{1}"), Ok(1));
    assert_eq!(sent(&mut s), b"*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\ns{1}\r\n");
    // A name of another kind is another subscription.
    assert_eq!(s.unsubscribe(Kind::Pattern, &["a", "news.*", "zz"]), Ok(1));
    assert_eq!(
        sent(&mut s),
        b"*2\r\n$12\r\nPUNSUBSCRIBE\r\n$6\r\nnews.*\r\n"
    );
    assert_eq!(s.unsubscribe_all(Kind::Channel), Ok(2));
    assert_eq!(
        sent(&mut s),
        b"*3\r\n$11\r\nUNSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(s.unsubscribe_all(Kind::Channel), Ok(0));
    assert_eq!(s.unsubscribe(Kind::Shard, &[Joined(("s{", 1, "}"))]), Ok(1));
    assert_eq!(sent(&mut s), b"*2\r\n$12\r\nSUNSUBSCRIBE\r\n$4\r\ns{1}\r\n");
}

#[test]
fn confirmations_settle_the_table() {
    let (mut o, mut n) = ([0u8; 256], [0u8; 256]);
    let mut s = subs(&mut o, &mut n);
    s.subscribe(Kind::Channel, &["a", "b"]).unwrap();
    assert_eq!(s.pending(), 2);
    feed(&mut s, b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", 4).unwrap();
    assert!(s.is_confirmed(Kind::Channel, b"a"));
    assert!(!s.is_confirmed(Kind::Channel, b"b"));
    assert!(!s.is_confirmed(Kind::Pattern, b"a"));
    feed(&mut s, b">3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n", 4).unwrap();
    assert_eq!(s.pending(), 0);
    s.unsubscribe(Kind::Channel, &["a"]).unwrap();
    assert!(!s.is_confirmed(Kind::Channel, b"a"));
    assert_eq!(s.wanted(Kind::Channel).collect::<Vec<_>>(), [b"b"]);
    feed(&mut s, b">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n", 4).unwrap();
    assert_eq!(s.pending(), 0);
    // Confirmations of names never asked for change nothing (a server cannot grow the table).
    feed(&mut s, b">3\r\n$9\r\nsubscribe\r\n$1\r\nz\r\n:2\r\n", 64).unwrap();
    assert!(!s.is_confirmed(Kind::Channel, b"z"));
    assert_eq!(s.wanted(Kind::Channel).count(), 1);
}

#[test]
fn a_wish_changed_before_its_confirmation_ends_as_last_asked() {
    let (mut o, mut n) = ([0u8; 512], [0u8; 256]);
    let mut s = subs(&mut o, &mut n);
    // Subscribe, unsubscribe, subscribe again, before the server answered any.
    s.subscribe(Kind::Channel, &["c"]).unwrap();
    s.unsubscribe(Kind::Channel, &["c"]).unwrap();
    s.subscribe(Kind::Channel, &["c"]).unwrap();
    let sub = b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n";
    let unsub = b">3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n";
    feed(&mut s, sub, 64).unwrap();
    feed(&mut s, unsub, 64).unwrap();
    assert!(!s.is_confirmed(Kind::Channel, b"c"));
    feed(&mut s, sub, 64).unwrap();
    assert!(s.is_confirmed(Kind::Channel, b"c"));
    assert_eq!(s.pending(), 0);
    // And the other way round: the entry goes once the last confirmation is in.
    s.unsubscribe(Kind::Channel, &["c"]).unwrap();
    s.subscribe(Kind::Channel, &["c"]).unwrap();
    s.unsubscribe(Kind::Channel, &["c"]).unwrap();
    for frame in [&unsub[..], sub, unsub] {
        feed(&mut s, frame, 64).unwrap();
    }
    assert_eq!(s.pending(), 0);
    assert!(s.is_empty());
    assert_eq!(s.names.as_slice(), b"");
}

#[test]
fn resubscribe_sends_exactly_the_wanted_names() {
    let (mut o, mut n) = ([0u8; 512], [0u8; 256]);
    let mut s = subs(&mut o, &mut n);
    s.subscribe(Kind::Channel, &["a", "b"]).unwrap();
    s.subscribe(Kind::Pattern, &["p*"]).unwrap();
    s.subscribe(Kind::Shard, &["s"]).unwrap();
    let _ = sent(&mut s);
    feed(&mut s, b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", 64).unwrap();
    s.unsubscribe(Kind::Channel, &["b"]).unwrap();
    s.ping().unwrap();
    // The connection is lost, with output unsent and a frame half read.
    assert_eq!(s.handle_input(b">3\r\n$7\r\nmess"), Ok(None));
    assert_eq!(s.resubscribe(), Ok(3));
    assert_eq!(
        sent(&mut s),
        &b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n\
           *2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\np*\r\n\
           *2\r\n$10\r\nSSUBSCRIBE\r\n$1\r\ns\r\n"[..]
    );
    assert_eq!(s.pending(), 3);
    assert!(!s.is_confirmed(Kind::Channel, b"a"));
    // The old connection's pings are forgotten; a new frame reads from its start.
    assert_eq!(
        s.handle_input(b"+PONG\r\n"),
        Err(FrameError::Unexpected(ReplyKind::Simple))
    );
    let (e, _) = s
        .handle_input(b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(show(&e), "+Channel a 1");
    assert!(s.is_confirmed(Kind::Channel, b"a"));
}

#[test]
fn a_refused_subscribe_is_forgotten_on_request() {
    let (mut o, mut n) = ([0u8; 256], [0u8; 256]);
    let mut s = subs(&mut o, &mut n);
    s.subscribe(Kind::Channel, &["secret"]).unwrap();
    let events = feed(&mut s, b"-NOPERM no\r\n", 64).unwrap();
    assert_eq!(events, ["error NOPERM no"]);
    assert_eq!(s.pending(), 1);
    s.forget(Kind::Channel, &[Joined(("sec", "ret"))]);
    assert_eq!(s.pending(), 0);
    assert!(s.is_empty());
    assert_eq!(s.resubscribe(), Ok(0));
}

#[test]
fn full_stores_change_nothing_and_say_what_they_need() {
    // Room for one 1-byte name (10 + 1 bytes) in the table.
    let (mut o, mut n) = ([0u8; 64], [0u8; 11]);
    let mut s = subs(&mut o, &mut n);
    let e = s.subscribe(Kind::Channel, &["a", "bb"]).unwrap_err();
    assert_eq!(
        (e.store, e.needed, e.capacity),
        (Store::Subscriptions, 23, 11)
    );
    assert_eq!((s.pending(), s.poll_output()), (0, &b""[..]));
    assert_eq!(s.subscribe(Kind::Channel, &["a"]), Ok(1));
    let _ = sent(&mut s);
    // Unsubscribing needs no room in the table.
    assert_eq!(s.unsubscribe(Kind::Channel, &["a"]), Ok(1));
    let _ = sent(&mut s);

    // An output too small for the command: the table is restored, new and moved names alike.
    let (mut o, mut n) = ([0u8; 40], [0u8; 64]);
    let mut s = subs(&mut o, &mut n);
    s.subscribe(Kind::Channel, &["a"]).unwrap();
    let _ = sent(&mut s);
    s.unsubscribe(Kind::Channel, &["a"]).unwrap();
    let _ = sent(&mut s);
    let e = s
        .subscribe(Kind::Channel, &["a", "0123456789abcdef"])
        .unwrap_err();
    assert_eq!(e.store, Store::Output);
    assert!(e.needed > 40);
    assert_eq!(s.wanted(Kind::Channel).count(), 0);
    assert_eq!(s.pending(), 1); // "a", owed its subscribe and unsubscribe confirmations
    feed(&mut s, b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", 64).unwrap();
    assert_eq!(s.pending(), 1);
    feed(&mut s, b">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n", 64).unwrap();
    assert!(s.is_empty() && s.pending() == 0);
}

#[test]
fn a_cluster_connection_sends_one_shard_command_per_slot() {
    let (mut o, mut n) = ([0u8; 160], [0u8; 256]);
    let mut s = subs(&mut o, &mut n);
    s.set_cluster(true);
    // {a}1 and {a}2 share a slot; b is elsewhere. Channels are not split.
    assert_eq!(s.subscribe(Kind::Shard, &["{a}1", "b", "{a}2"]), Ok(3));
    assert_eq!(
        sent(&mut s),
        &b"*3\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{a}1\r\n$4\r\n{a}2\r\n\
           *2\r\n$10\r\nSSUBSCRIBE\r\n$1\r\nb\r\n"[..]
    );
    assert_eq!(s.subscribe(Kind::Channel, &["{a}1", "b"]), Ok(2));
    assert_eq!(
        sent(&mut s),
        b"*3\r\n$9\r\nSUBSCRIBE\r\n$4\r\n{a}1\r\n$1\r\nb\r\n"
    );
    assert_eq!(s.unsubscribe_all(Kind::Shard), Ok(3));
    assert_eq!(
        sent(&mut s),
        &b"*3\r\n$12\r\nSUNSUBSCRIBE\r\n$4\r\n{a}1\r\n$4\r\n{a}2\r\n\
           *2\r\n$12\r\nSUNSUBSCRIBE\r\n$1\r\nb\r\n"[..]
    );
    // The second slot's command does not fit: neither is queued, the table is as before.
    let _ = sent(&mut s);
    let (mut o, mut n) = ([0u8; 48], [0u8; 256]);
    let mut s = subs(&mut o, &mut n);
    s.set_cluster(true);
    let e = s.subscribe(Kind::Shard, &["{a}1", "b"]).unwrap_err();
    assert_eq!(e.store, Store::Output);
    assert_eq!((s.poll_output(), s.pending()), (&b""[..], 0));
    assert_eq!(s.subscribe(Kind::Shard, &["b"]), Ok(1));
}

#[test]
fn messages_borrow_the_input() {
    let (mut o, mut n) = ([0u8; 64], [0u8; 64]);
    let mut s = subs(&mut o, &mut n);
    let wire = b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$2\r\nn1\r\n$3\r\nabc\r\n";
    let (event, _) = s.handle_input(wire).unwrap().unwrap();
    let Event::Message(Message {
        kind: Kind::Pattern,
        channel,
        pattern: Some(pattern),
        payload,
    }) = event
    else {
        panic!("{event:?}");
    };
    let inside = wire.as_ptr_range();
    for part in [channel, pattern, payload] {
        assert!(inside.contains(&part.as_ptr()));
    }
}

#[cfg(feature = "alloc")]
#[test]
fn growable_storage_needs_no_sizing() {
    let mut s = super::VecSubscriptions::default();
    let names: Vec<String> = (0..1000).map(|i| format!("channel:{i}")).collect();
    assert_eq!(s.subscribe(Kind::Channel, &names), Ok(1000));
    assert!(s.poll_output().starts_with(b"*1001\r\n$9\r\nSUBSCRIBE\r\n"));
    assert_eq!(s.pending(), 1000);
}

/// What the general path (scan, parse, decode) reads at the start of `bytes`.
#[cfg(not(feature = "small"))]
fn general<'a>(bytes: &'a [u8], limits: &Limits) -> Option<(Message<'a>, usize)> {
    use crate::codec::decode::Scanner;
    use crate::codec::reply::Reply;
    let n = Scanner::new().scan(bytes, limits).ok()??;
    let items = match Reply::parse(&bytes[..n]) {
        Reply::Array(items) | Reply::Push(items) => items,
        _ => return None,
    };
    match super::frame::decode_aggregate(items, true).ok()?? {
        Event::Message(m) => Some((m, n)),
        _ => None,
    }
}

#[cfg(not(feature = "small"))]
#[test]
fn the_fast_path_reads_what_the_general_path_reads() {
    use super::frame::fast_message;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    // Every message of the fixtures, whole, is taken by the fast path (except those whose
    // elements are not all bulk strings, or that come behind an attribute).
    for (name, bytes, _) in FRAMES {
        let fast = fast_message(bytes, &Limits::default());
        if let Some(fast) = fast {
            assert_eq!(Some(fast), general(bytes, &Limits::default()), "{name}");
        } else {
            assert!(
                !name.contains("message") || *name == "simple_strings",
                "{name}: the fast path should read it"
            );
        }
    }
    // Lengths of many digits (an overflow if read unchecked), and no digits: not taken.
    for len in [
        "18446744073709551616",
        "9999999999999999999",
        "",
        "-1",
        "+1",
    ] {
        let frame = format!("*3\r\n$7\r\nmessage\r\n${len}\r\nc\r\n$1\r\nv\r\n");
        let limits = Limits {
            max_bulk_len: u64::MAX,
            ..Limits::default()
        };
        assert_eq!(fast_message(frame.as_bytes(), &limits), None, "{len}");
    }
    let mut runner = TestRunner::new(Config {
        cases: 20_000,
        ..Config::default()
    });
    // Message frames of random sizes, with a byte changed or cut anywhere, read under random
    // (often tight) limits: whatever the fast path accepts, the general path reads the same.
    let strategy = (
        0usize..6,
        proptest::collection::vec(any::<u8>(), 0..12),
        proptest::collection::vec(any::<u8>(), 0..40),
        any::<(u16, u8)>(),
        0usize..80,
        (0u64..48, 0u64..6, 0usize..4, 0usize..3, 0usize..120),
    );
    runner
        .run(
            &strategy,
            |(head, channel, payload, (at, byte), cut, limits)| {
                let (bulk, elements, depth, line, reply) = limits;
                let limits = Limits {
                    max_bulk_len: bulk,
                    max_elements: elements,
                    max_depth: depth,
                    max_line_len: line,
                    max_reply_len: reply,
                };
                let kinds: [&[u8]; 6] = [
                    b"*3\r\n$7\r\nmessage\r\n",
                    b">3\r\n$7\r\nmessage\r\n",
                    b"*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n",
                    b">4\r\n$8\r\npmessage\r\n$2\r\np*\r\n",
                    b"*3\r\n$8\r\nsmessage\r\n",
                    b">3\r\n$8\r\nsmessage\r\n",
                ];
                let mut wire = kinds[head].to_vec();
                for part in [&channel, &payload] {
                    wire.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
                    wire.extend_from_slice(part);
                    wire.extend_from_slice(b"\r\n");
                }
                let whole = wire.clone();
                let at = usize::from(at) % (wire.len() + 8);
                if at < wire.len() {
                    wire[at] = byte;
                }
                wire.truncate(wire.len().saturating_sub(cut % 4));
                for (bytes, limits) in [(&whole, Limits::default()), (&wire, limits)] {
                    if let Some(fast) = fast_message(bytes, &limits) {
                        prop_assert_eq!(Some(fast), general(bytes, &limits));
                    }
                }
                prop_assert!(fast_message(&whole, &Limits::default()).is_some());
                Ok(())
            },
        )
        .unwrap();
}
