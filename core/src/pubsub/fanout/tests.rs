//! The fan-out against in-memory frames: reference counts on the wire, each member's own
//! confirmations and messages, members leaving, a new connection, hostile pushes.

extern crate std;

use std::string::String;
use std::vec::Vec;

use super::{Fanout, MemberId};
use crate::pubsub::{Event, Kind, Router};

/// What the connection writes, as text, marked sent.
fn sent(f: &mut Fanout) -> String {
    let out = String::from_utf8_lossy(f.poll_output()).into_owned();
    f.consume_output(out.len());
    out
}

fn push(word: &str, name: &str, n: i64) -> Vec<u8> {
    std::format!(
        ">3\r\n${}\r\n{word}\r\n${}\r\n{name}\r\n:{n}\r\n",
        word.len(),
        name.len()
    )
    .into_bytes()
}

fn message(channel: &str, payload: &str) -> Vec<u8> {
    std::format!(
        ">3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        channel.len(),
        payload.len()
    )
    .into_bytes()
}

fn pmessage(pattern: &str, channel: &str, payload: &str) -> Vec<u8> {
    std::format!(
        ">4\r\n$8\r\npmessage\r\n${}\r\n{pattern}\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        pattern.len(),
        channel.len(),
        payload.len()
    )
    .into_bytes()
}

fn smessage(channel: &str, payload: &str) -> Vec<u8> {
    std::format!(
        ">3\r\n$8\r\nsmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        channel.len(),
        payload.len()
    )
    .into_bytes()
}

/// Feeds `wire` whole, as a connection's reader would.
fn feed(f: &mut Fanout, wire: &[u8]) {
    let mut rest = wire;
    while !rest.is_empty() {
        let used = f.handle_input(rest).unwrap().expect("whole frames");
        rest = &rest[used..];
    }
}

/// A member: its own router (what a subscriber keeps), fed from the fan-out.
struct Sub {
    id: MemberId,
    router: Router,
}

impl Sub {
    fn join(f: &mut Fanout) -> Self {
        Self {
            id: f.join(),
            router: Router::single(),
        }
    }

    fn subscribe(&mut self, f: &mut Fanout, kind: Kind, names: &[&str]) {
        let own = self.router.subscribe(kind, names).unwrap();
        self.drop_output();
        assert_eq!(f.subscribe(self.id, kind, names).unwrap(), own, "in step");
    }

    fn unsubscribe(&mut self, f: &mut Fanout, kind: Kind, names: &[&str]) {
        let own = self.router.unsubscribe(kind, names).unwrap();
        self.drop_output();
        assert_eq!(f.unsubscribe(self.id, kind, names).unwrap(), own, "in step");
    }

    /// Its own machine's commands never go on the wire: the fan-out's do.
    fn drop_output(&mut self) {
        let n = self.router.poll_output(0).len();
        self.router.consume_output(0, n);
    }

    /// Takes its frames: the messages' payloads and the confirmations, as text.
    fn take(&mut self, f: &mut Fanout) -> Vec<String> {
        let inbox = f.take_member(self.id);
        let mut rest = inbox.as_slice();
        let mut out = Vec::new();
        while let Some((routed, used)) = self.router.handle_input(0, rest).unwrap() {
            out.push(match routed {
                crate::pubsub::Routed::Frame(Event::Message(m)) => {
                    String::from_utf8_lossy(m.payload).into_owned()
                }
                crate::pubsub::Routed::Frame(Event::Subscribed { name, .. }) => {
                    std::format!("+{}", String::from_utf8_lossy(name))
                }
                crate::pubsub::Routed::Frame(Event::Unsubscribed { name, .. }) => {
                    std::format!("-{}", String::from_utf8_lossy(name.unwrap_or_default()))
                }
                other => std::format!("{other:?}"),
            });
            rest = &rest[used..];
        }
        assert!(rest.is_empty(), "whole frames only");
        out
    }

    fn settled(&self) -> bool {
        self.router.pending() == 0
    }
}

#[test]
fn a_name_goes_on_the_wire_for_its_first_member_and_off_after_its_last() {
    let mut f = Fanout::new();
    let (mut a, mut b) = (Sub::join(&mut f), Sub::join(&mut f));
    a.subscribe(&mut f, Kind::Channel, &["news", "a-only"]);
    assert_eq!(
        sent(&mut f),
        "*3\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n$6\r\na-only\r\n"
    );
    feed(
        &mut f,
        &[push("subscribe", "news", 1), push("subscribe", "a-only", 2)].concat(),
    );
    assert_eq!(a.take(&mut f), ["+news", "+a-only"]);
    assert!(a.settled());

    // Already confirmed for `a`: confirmed to `b` at once, nothing sent but its own name.
    b.subscribe(&mut f, Kind::Channel, &["news", "b-only"]);
    assert_eq!(sent(&mut f), "*2\r\n$9\r\nSUBSCRIBE\r\n$6\r\nb-only\r\n");
    assert_eq!(b.take(&mut f), ["+news"]);
    assert!(!b.settled(), "b-only is the server's to confirm");
    feed(&mut f, &push("subscribe", "b-only", 3));
    assert_eq!(b.take(&mut f), ["+b-only"]);
    assert!(b.settled());
    assert!(a.take(&mut f).is_empty(), "b's confirmation is b's");

    // `a` lets go of `news`: confirmed to it at once; `b` still wants it, nothing is sent.
    a.unsubscribe(&mut f, Kind::Channel, &["news"]);
    assert_eq!(sent(&mut f), "");
    assert_eq!(a.take(&mut f), ["-news"]);
    assert!(a.settled());
    feed(&mut f, &message("news", "1"));
    assert!(a.take(&mut f).is_empty());
    assert_eq!(b.take(&mut f), ["1"]);

    // The last member of `news` goes: now it is unsubscribed.
    b.unsubscribe(&mut f, Kind::Channel, &["news"]);
    assert_eq!(sent(&mut f), "*2\r\n$11\r\nUNSUBSCRIBE\r\n$4\r\nnews\r\n");
    assert_eq!(b.take(&mut f), ["-news"]);
    feed(&mut f, &push("unsubscribe", "news", 2));
    assert!(a.take(&mut f).is_empty() && b.take(&mut f).is_empty());
    assert!(!f.is_subscribed(Kind::Channel, b"news"));
}

#[test]
fn each_message_goes_once_to_each_member_of_its_channel_pattern_or_shard_channel() {
    let mut f = Fanout::new();
    let (mut a, mut b, mut c) = (Sub::join(&mut f), Sub::join(&mut f), Sub::join(&mut f));
    a.subscribe(&mut f, Kind::Channel, &["news"]);
    b.subscribe(&mut f, Kind::Channel, &["news", "sport"]);
    b.subscribe(&mut f, Kind::Pattern, &["n*"]);
    c.subscribe(&mut f, Kind::Shard, &["orders"]);
    assert_eq!(
        sent(&mut f),
        "*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n\
         *2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nsport\r\n\
         *2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\nn*\r\n\
         *2\r\n$10\r\nSSUBSCRIBE\r\n$6\r\norders\r\n",
        "news once, for its first member"
    );
    feed(
        &mut f,
        &[
            push("subscribe", "news", 1),
            push("subscribe", "sport", 2),
            push("psubscribe", "n*", 3),
            push("ssubscribe", "orders", 1),
        ]
        .concat(),
    );
    assert_eq!(a.take(&mut f), ["+news"], "a waited for the server too");
    assert_eq!(b.take(&mut f), ["+news", "+sport", "+n*"]);
    assert_eq!(c.take(&mut f), ["+orders"]);
    feed(
        &mut f,
        &[
            message("news", "m1"),
            pmessage("n*", "news", "p1"),
            message("sport", "m2"),
            smessage("orders", "s1"),
            message("elsewhere", "nobody's"),
            pmessage("x*", "x", "nobody's"),
        ]
        .concat(),
    );
    assert_eq!(a.take(&mut f), ["m1"]);
    assert_eq!(b.take(&mut f), ["m1", "p1", "m2"]);
    assert_eq!(c.take(&mut f), ["s1"]);
}

#[test]
fn a_member_that_leaves_unsubscribes_what_nobody_else_wants() {
    let mut f = Fanout::new();
    let (mut a, mut b) = (Sub::join(&mut f), Sub::join(&mut f));
    a.subscribe(&mut f, Kind::Channel, &["shared", "mine"]);
    a.subscribe(&mut f, Kind::Pattern, &["p*"]);
    b.subscribe(&mut f, Kind::Channel, &["shared"]);
    let _ = sent(&mut f);
    assert_eq!(f.leave(a.id).unwrap(), 2);
    assert_eq!(
        sent(&mut f),
        "*2\r\n$11\r\nUNSUBSCRIBE\r\n$4\r\nmine\r\n*2\r\n$12\r\nPUNSUBSCRIBE\r\n$2\r\np*\r\n"
    );
    assert_eq!(f.members(), 1);
    feed(
        &mut f,
        &[push("subscribe", "shared", 1), message("shared", "x")].concat(),
    );
    assert_eq!(b.take(&mut f), ["+shared", "x"]);
    assert!(f.poll_member(a.id).is_empty(), "gone");
}

#[test]
fn a_name_wanted_again_while_its_unsubscribe_is_owed_is_subscribed_after_it() {
    let mut f = Fanout::new();
    let (mut a, mut b) = (Sub::join(&mut f), Sub::join(&mut f));
    a.subscribe(&mut f, Kind::Channel, &["news"]);
    feed(&mut f, &push("subscribe", "news", 1));
    a.unsubscribe(&mut f, Kind::Channel, &["news"]);
    b.subscribe(&mut f, Kind::Channel, &["news"]);
    assert_eq!(
        sent(&mut f),
        "*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n\
         *2\r\n$11\r\nUNSUBSCRIBE\r\n$4\r\nnews\r\n\
         *2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n"
    );
    feed(&mut f, &push("unsubscribe", "news", 0));
    assert!(
        b.take(&mut f).is_empty(),
        "not yet: the server is unsubscribed"
    );
    feed(&mut f, &push("subscribe", "news", 1));
    assert_eq!(b.take(&mut f), ["+news"]);
    assert_eq!(a.take(&mut f), ["+news", "-news"]);
}

#[test]
fn members_joining_a_new_connection_send_the_union_once_and_each_settles() {
    // A new connection: each member joins a new fan-out with what its router wants again.
    let mut f = Fanout::new();
    let mut subs: Vec<Sub> = (0..2).map(|_| Sub::join(&mut f)).collect();
    subs[0].subscribe(&mut f, Kind::Channel, &["a", "both"]);
    subs[1].subscribe(&mut f, Kind::Channel, &["b", "both"]);
    let mut next = Fanout::new();
    for s in &mut subs {
        s.id = next.join();
        s.router.resubscribe(0).unwrap();
        s.drop_output();
        let names: Vec<Vec<u8>> = s.router.wanted(Kind::Channel).map(<[u8]>::to_vec).collect();
        next.subscribe(s.id, Kind::Channel, &names).unwrap();
    }
    assert_eq!(
        sent(&mut next),
        "*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$4\r\nboth\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nb\r\n"
    );
    feed(
        &mut next,
        &[
            push("subscribe", "a", 1),
            push("subscribe", "both", 2),
            push("subscribe", "b", 3),
        ]
        .concat(),
    );
    assert_eq!(subs[0].take(&mut next), ["+a", "+both"]);
    assert_eq!(subs[1].take(&mut next), ["+both", "+b"]);
    assert!(subs.iter().all(Sub::settled));
}

#[test]
fn a_refused_name_is_forgotten_and_not_sent_again() {
    let mut f = Fanout::new();
    let mut a = Sub::join(&mut f);
    a.subscribe(&mut f, Kind::Channel, &["secret"]);
    let _ = sent(&mut f);
    // The refusal comes in band, to the pipeline that wrote the command: the member forgets.
    f.forget(a.id, Kind::Channel, &["secret"]);
    a.router.forget(Kind::Channel, &["secret"]);
    assert!(a.settled());
    assert_eq!(f.wanted_by(a.id, Kind::Channel).count(), 0);
    let mut b = Sub::join(&mut f);
    b.subscribe(&mut f, Kind::Channel, &["secret"]);
    assert_eq!(
        sent(&mut f),
        "*2\r\n$9\r\nSUBSCRIBE\r\n$6\r\nsecret\r\n",
        "asked again for the next member"
    );
}

#[test]
fn hostile_and_foreign_pushes_are_nobodys_and_split_frames_wait() {
    let mut f = Fanout::new();
    let mut a = Sub::join(&mut f);
    a.subscribe(&mut f, Kind::Channel, &["news"]);
    // A message of the wrong shape is an error the caller skips.
    assert!(
        f.handle_input(b">2\r\n$7\r\nmessage\r\n$4\r\nnews\r\n")
            .is_err()
    );
    // A push of another kind, a confirmation nobody owes, an unsubscribe of nothing.
    feed(
        &mut f,
        &[
            &b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"[..],
            &push("subscribe", "stranger", 9),
            b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n",
        ]
        .concat(),
    );
    assert!(a.take(&mut f).is_empty());
    // Every strict prefix of a message waits for more.
    let m = message("news", "whole");
    for cut in 1..m.len() {
        let mut g = Fanout::new();
        let id = g.join();
        g.subscribe(id, Kind::Channel, &["news"]).unwrap();
        assert_eq!(g.handle_input(&m[..cut]).unwrap(), None, "cut at {cut}");
        assert_eq!(g.handle_input(&m).unwrap(), Some(m.len()));
        assert_eq!(g.poll_member(id).len(), m.len());
    }
}
