//! The router against in-memory frames: shard channels placed by slot, one command per slot,
//! a `MOVED` answer and an `sunsubscribe` push moving them, a lost node's names waiting for a
//! map; node-local names on every primary, following failovers and lost links.

extern crate std;

use std::string::String;
use std::vec::Vec;

use super::{Routed, Router};
use crate::cluster::{HashSlot, Node, SlotMap};
use crate::pubsub::{Event, Kind};

fn node(port: u16) -> Node {
    Node {
        host: "127.0.0.1".into(),
        port,
    }
}

/// A map giving every slot to 7000, but `{b}`'s and `{c}`'s slots to 7001.
fn map() -> SlotMap {
    let mut m = SlotMap::new();
    for s in 0..HashSlot::COUNT {
        m.moved(HashSlot::new(s).unwrap(), node(7000), None);
    }
    for key in [&b"b"[..], b"c"] {
        m.moved(HashSlot::for_key(key), node(7001), None);
    }
    m
}

fn sent(r: &mut Router, link: usize) -> String {
    let out = String::from_utf8_lossy(r.poll_output(link)).into_owned();
    r.consume_output(link, out.len());
    out
}

fn frame(word: &str, name: &str, n: i64) -> Vec<u8> {
    std::format!(
        ">3\r\n${}\r\n{word}\r\n${}\r\n{name}\r\n:{n}\r\n",
        word.len(),
        name.len()
    )
    .into_bytes()
}

/// Reads every frame of `wire` on `link`, as text.
fn feed(r: &mut Router, link: usize, wire: &[u8]) -> Vec<String> {
    let mut rest = wire;
    let mut out = Vec::new();
    while let Some((routed, used)) = r.handle_input(link, rest).unwrap() {
        out.push(match routed {
            Routed::Frame(Event::Message(m)) => {
                std::format!("message {}", String::from_utf8_lossy(m.payload))
            }
            Routed::Frame(Event::Subscribed { name, .. }) => {
                std::format!("+{}", String::from_utf8_lossy(name))
            }
            Routed::Frame(Event::Unsubscribed { name, .. }) => {
                std::format!("-{}", String::from_utf8_lossy(name.unwrap_or_default()))
            }
            Routed::Frame(Event::Error(e)) => std::format!("error {e}"),
            Routed::Moved { gap } => std::format!("moved gap={gap}"),
            other => std::format!("{other:?}"),
        });
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
    out
}

#[test]
fn a_single_server_takes_everything_on_one_link() {
    let mut r = Router::single();
    assert!(!r.is_cluster());
    r.subscribe(Kind::Channel, &["c"]).unwrap();
    r.subscribe(Kind::Shard, &["{a}1", "{b}1"]).unwrap();
    assert_eq!(r.links(), 1);
    assert_eq!(r.node(0), None);
    // One SSUBSCRIBE for both slots: a single server does not mind.
    assert_eq!(
        sent(&mut r, 0),
        "*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n*3\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{a}1\r\n$4\r\n{b}1\r\n"
    );
    // A server's sunsubscribe is its confirmation, or news for the caller: never a move.
    assert_eq!(r.lost(0), None);
    assert_eq!(
        feed(&mut r, 0, &frame("sunsubscribe", "{a}1", 1)),
        ["-{a}1"]
    );
    assert!(!r.wants_map());
}

#[test]
fn shard_channels_go_to_their_slots_owner_one_command_per_slot() {
    let mut r = Router::cluster(map());
    r.subscribe(Kind::Channel, &["news"]).unwrap();
    r.subscribe(Kind::Pattern, &["n.*"]).unwrap();
    let n = r
        .subscribe(Kind::Shard, &["{a}1", "{b}1", "{a}2", "{c}1"])
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(r.links(), 3);
    assert_eq!(
        (r.node(1), r.node(2)),
        (Some(&node(7000)), Some(&node(7001)))
    );
    assert_eq!(
        sent(&mut r, 0),
        "*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n*2\r\n$10\r\nPSUBSCRIBE\r\n$3\r\nn.*\r\n"
    );
    assert_eq!(
        sent(&mut r, 1),
        "*3\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{a}1\r\n$4\r\n{a}2\r\n"
    );
    // Two slots on one node: two commands (a node refuses CROSSSLOT).
    assert_eq!(
        sent(&mut r, 2),
        "*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{b}1\r\n*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{c}1\r\n"
    );
    assert_eq!(r.pending(), 6);
    feed(&mut r, 2, &frame("ssubscribe", "{b}1", 1));
    assert!(r.is_confirmed(Kind::Shard, b"{b}1"));
    // A resubscribe splits by slot too.
    assert_eq!(r.resubscribe(2), Ok(2));
    assert_eq!(
        sent(&mut r, 2),
        "*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{b}1\r\n*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{c}1\r\n"
    );
    // Unsubscribing goes where each name is.
    r.unsubscribe(Kind::Shard, &["{c}1", "{a}2", "never"])
        .unwrap();
    assert_eq!(
        sent(&mut r, 1),
        "*2\r\n$12\r\nSUNSUBSCRIBE\r\n$4\r\n{a}2\r\n"
    );
    assert_eq!(
        sent(&mut r, 2),
        "*2\r\n$12\r\nSUNSUBSCRIBE\r\n$4\r\n{c}1\r\n"
    );
    let mut wanted: Vec<&[u8]> = r.wanted(Kind::Shard).collect();
    wanted.sort();
    assert_eq!(wanted, [&b"{a}1"[..], b"{b}1"]);
}

#[test]
fn a_moved_answer_sends_the_slots_names_to_the_new_owner() {
    let mut r = Router::cluster(map());
    r.subscribe(Kind::Shard, &["{a}1", "{a}2", "{c}1"]).unwrap();
    let _ = (sent(&mut r, 1), sent(&mut r, 2));
    let slot = HashSlot::for_key(b"a").get();
    let moved = std::format!("-MOVED {slot} 127.0.0.1:7002\r\n");
    assert_eq!(feed(&mut r, 1, moved.as_bytes()), ["moved gap=false"]);
    assert_eq!(r.links(), 4);
    assert_eq!(r.node(3), Some(&node(7002)));
    assert_eq!(
        sent(&mut r, 3),
        "*3\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{a}1\r\n$4\r\n{a}2\r\n"
    );
    assert!(r.is_idle(1) && r.is_done(1)); // its connection may close
    assert_eq!(r.pending(), 3); // still to be confirmed, by 7002 now
    feed(&mut r, 3, &frame("ssubscribe", "{a}1", 1));
    feed(&mut r, 3, &frame("ssubscribe", "{a}2", 2));
    assert!(r.is_confirmed(Kind::Shard, b"{a}2"));
    // The map learnt it: a new name of that slot goes to 7002 at once.
    r.subscribe(Kind::Shard, &["{a}3"]).unwrap();
    assert_eq!(sent(&mut r, 3), "*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{a}3\r\n");
    // A MOVED that concerns no name owed, or sends a link to itself, is the caller's error.
    let stray = std::format!("-MOVED {slot} 127.0.0.1:7001\r\n");
    assert_eq!(
        feed(&mut r, 2, stray.as_bytes()),
        [std::format!("error MOVED {slot} 127.0.0.1:7001")]
    );
}

#[test]
fn a_slot_given_away_unsubscribes_and_the_names_wait_for_a_map() {
    let mut r = Router::cluster(map());
    r.subscribe(Kind::Shard, &["{b}1", "{c}1"]).unwrap();
    let _ = sent(&mut r, 1);
    feed(&mut r, 1, &frame("ssubscribe", "{b}1", 1));
    feed(&mut r, 1, &frame("ssubscribe", "{c}1", 2));
    assert_eq!(r.pending(), 0);
    // 7001 gives {b}'s slot away: it unsubscribes us, unasked.
    assert_eq!(
        feed(&mut r, 1, &frame("sunsubscribe", "{b}1", 1)),
        ["moved gap=true"]
    );
    assert!(r.wants_map());
    assert_eq!(r.pending(), 1);
    assert_eq!(r.wanted(Kind::Shard).count(), 2);
    // An unsubscribe the caller asked for is a confirmation, not a move.
    r.unsubscribe(Kind::Shard, &["{c}1"]).unwrap();
    let _ = sent(&mut r, 1);
    assert_eq!(
        feed(&mut r, 1, &frame("sunsubscribe", "{c}1", 0)),
        ["-{c}1"]
    );
    // The new map gives the slot to 7000.
    let mut m = map();
    m.moved(HashSlot::for_key(b"b"), node(7000), None);
    assert_eq!(r.handle_map(m), Ok(0));
    assert!(!r.wants_map());
    assert_eq!(r.node(2), Some(&node(7000)));
    assert_eq!(sent(&mut r, 2), "*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{b}1\r\n");
}

#[test]
fn a_lost_shard_link_waits_for_a_map_and_unknown_slots_keep_waiting() {
    let mut empty = Router::cluster(SlotMap::new());
    // No map yet: the names wait, counted as pending.
    assert_eq!(empty.subscribe(Kind::Shard, &["{a}1"]), Ok(1));
    assert_eq!((empty.links(), empty.pending()), (1, 1));
    assert_eq!(empty.handle_map(SlotMap::new()), Ok(1));
    assert_eq!(empty.handle_map(map()), Ok(0));
    assert_eq!(empty.node(1), Some(&node(7000)));
    // Unsubscribing a waiting name drops it.
    let mut r = Router::cluster(SlotMap::new());
    r.subscribe(Kind::Shard, &["x"]).unwrap();
    assert_eq!(r.unsubscribe(Kind::Shard, &["x"]), Ok(1));
    assert!(!r.wants_map());

    let mut r = Router::cluster(map());
    r.subscribe(Kind::Shard, &["{b}1"]).unwrap();
    r.subscribe(Kind::Channel, &["c"]).unwrap();
    let _ = sent(&mut r, 1);
    feed(&mut r, 1, &frame("ssubscribe", "{b}1", 1));
    // Link 0 reconnects where it was; a shard link's node may be gone.
    assert_eq!(r.lost(0), None);
    assert_eq!(r.lost(1), Some(1));
    assert!(r.is_idle(1) && r.wants_map());
    assert_eq!(r.poll_output(1), b"");
    // The same owner in the new map: back on the same link.
    assert_eq!(r.handle_map(map()), Ok(0));
    assert_eq!(r.links(), 2);
    assert_eq!(sent(&mut r, 1), "*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{b}1\r\n");
    // Forgetting reaches every link.
    r.forget(Kind::Shard, &["{b}1"]);
    assert!(r.is_idle(1));
    assert_eq!(r.pending(), 1); // "c", on link 0
}

/// `map()` after a failover: 7001's slots served by its replica, 7002.
fn failed_over() -> SlotMap {
    let mut m = map();
    for key in [&b"b"[..], b"c"] {
        m.moved(HashSlot::for_key(key), node(7002), None);
    }
    m
}

const KEYS: &str = "__keyspace@0__:F{*}";

fn psubscribe(name: &str) -> String {
    std::format!("*2\r\n$10\r\nPSUBSCRIBE\r\n${}\r\n{name}\r\n", name.len())
}

#[test]
fn a_node_local_pattern_goes_on_every_primary_and_only_there() {
    let mut single = Router::single();
    assert_eq!(single.subscribe_node_local(Kind::Pattern, &[KEYS]), Ok(1));
    assert_eq!(sent(&mut single, 0), psubscribe(KEYS));

    let mut r = Router::cluster(map());
    r.subscribe(Kind::Pattern, &["n.*"]).unwrap();
    assert_eq!(r.subscribe_node_local(Kind::Pattern, &[KEYS]), Ok(1));
    assert_eq!(r.subscribe_node_local(Kind::Pattern, &[KEYS]), Ok(0));
    assert!(r.has_node_local() && !r.wants_map());
    assert_eq!(r.links(), 3);
    assert_eq!(sent(&mut r, 0), psubscribe("n.*"));
    assert_eq!(sent(&mut r, 1), psubscribe(KEYS));
    assert_eq!(sent(&mut r, 2), psubscribe(KEYS));
    // Counted once among the patterns, pending on each primary.
    assert_eq!(r.wanted(Kind::Pattern).count(), 2);
    assert_eq!(r.pending(), 3);
    feed(&mut r, 1, &frame("psubscribe", KEYS, 1));
    assert!(!r.is_confirmed_node_local(Kind::Pattern, KEYS.as_bytes()));
    // A shard channel shares its primary's link with the pattern.
    r.subscribe(Kind::Shard, &["{b}1"]).unwrap();
    assert_eq!(sent(&mut r, 2), "*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{b}1\r\n");
    assert_eq!(
        feed(&mut r, 2, &frame("psubscribe", KEYS, 1)),
        [std::format!("+{KEYS}")]
    );
    assert!(r.is_confirmed_node_local(Kind::Pattern, KEYS.as_bytes()));
    assert!(!r.is_confirmed_node_local(Kind::Pattern, b"n.*"));
    // Nothing moved: no gap.
    assert_eq!(r.handle_map(map()), Ok(0));
    assert!(!r.take_gap());
    assert_eq!((r.poll_output(1), r.poll_output(2)), (&b""[..], &b""[..]));
    // Unsubscribing reaches every primary, and not link 0's pattern.
    assert_eq!(r.unsubscribe_node_local(Kind::Pattern, &[KEYS]), Ok(1));
    assert_eq!(sent(&mut r, 0), "");
    let punsubscribe = std::format!("*2\r\n$12\r\nPUNSUBSCRIBE\r\n${}\r\n{KEYS}\r\n", KEYS.len());
    assert_eq!(sent(&mut r, 1), punsubscribe);
    assert_eq!(sent(&mut r, 2), punsubscribe);
    assert!(!r.has_node_local() && r.is_idle(1));
    assert_eq!(r.wanted(Kind::Pattern).collect::<Vec<_>>(), [&b"n.*"[..]]);
}

#[test]
fn a_failover_moves_node_local_names_to_the_new_primary_with_a_gap() {
    let mut r = Router::cluster(map());
    r.subscribe_node_local(Kind::Pattern, &[KEYS]).unwrap();
    r.subscribe_node_local(Kind::Channel, &["__keyevent@0__:del"])
        .unwrap();
    for link in [1, 2] {
        let _ = sent(&mut r, link);
        feed(&mut r, link, &frame("psubscribe", KEYS, 1));
        feed(&mut r, link, &frame("subscribe", "__keyevent@0__:del", 2));
    }
    assert_eq!(r.pending(), 0);
    // 7001 hands its slots to 7002 and stays, a replica: it must not deliver them twice.
    assert_eq!(r.handle_map(failed_over()), Ok(0));
    assert!(r.take_gap());
    assert!(!r.take_gap());
    assert_eq!(r.links(), 4);
    assert_eq!(r.node(3), Some(&node(7002)));
    assert_eq!(
        sent(&mut r, 2),
        "*2\r\n$11\r\nUNSUBSCRIBE\r\n$18\r\n__keyevent@0__:del\r\n\
         *2\r\n$12\r\nPUNSUBSCRIBE\r\n$19\r\n__keyspace@0__:F{*}\r\n"
    );
    assert_eq!(
        sent(&mut r, 3),
        String::from("*2\r\n$9\r\nSUBSCRIBE\r\n$18\r\n__keyevent@0__:del\r\n") + &psubscribe(KEYS)
    );
    assert!(r.is_idle(2) && !r.is_idle(3));
    assert_eq!(r.pending(), 4);
    feed(&mut r, 2, &frame("unsubscribe", "__keyevent@0__:del", 1));
    assert!(!r.is_done(2)); // a confirmation still to come
    feed(&mut r, 2, &frame("punsubscribe", KEYS, 0));
    assert!(r.is_done(2) && !r.is_done(3) && !r.is_done(0));
    feed(&mut r, 3, &frame("subscribe", "__keyevent@0__:del", 1));
    feed(&mut r, 3, &frame("psubscribe", KEYS, 2));
    assert_eq!(r.pending(), 0);
    assert!(r.is_confirmed_node_local(Kind::Pattern, KEYS.as_bytes()));
    // A node added with a slot of its own gets them too.
    let mut grown = failed_over();
    grown.moved(HashSlot::for_key(b"d"), node(7003), None);
    assert_eq!(r.handle_map(grown), Ok(0));
    assert!(r.take_gap());
    assert_eq!(r.node(4), Some(&node(7003)));
    assert!(sent(&mut r, 4).ends_with(&psubscribe(KEYS)));
}

#[test]
fn a_lost_node_link_keeps_its_node_local_names_until_a_map_drops_the_node() {
    let mut r = Router::cluster(map());
    r.subscribe_node_local(Kind::Pattern, &[KEYS]).unwrap();
    r.subscribe(Kind::Shard, &["{b}1"]).unwrap();
    for link in [1, 2] {
        let _ = sent(&mut r, link);
        feed(&mut r, link, &frame("psubscribe", KEYS, 1));
    }
    feed(&mut r, 2, &frame("ssubscribe", "{b}1", 2));
    // The pattern and the shard channel lost their subscription; a map is wanted.
    assert_eq!(r.lost(2), Some(2));
    assert!(r.wants_map() && !r.is_idle(2));
    assert_eq!(r.poll_output(2), b"");
    // Not pending while nothing can answer: a subscribe elsewhere is not held up.
    assert_eq!(r.pending(), 1); // "{b}1", waiting for its map
    // The same primaries: the pattern stays for the next connection; the gap was `lost`'s.
    assert_eq!(r.handle_map(map()), Ok(0));
    assert!(!r.wants_map() && !r.take_gap());
    assert_eq!(r.resubscribe(2), Ok(2));
    let again = sent(&mut r, 2);
    assert!(again.starts_with(&psubscribe(KEYS)), "{again}");
    feed(&mut r, 2, &frame("psubscribe", KEYS, 1));
    feed(&mut r, 2, &frame("ssubscribe", "{b}1", 2));
    // Lost again, and its node is gone (a failover): the names leave it without a word to
    // it, and go to the new primary.
    assert_eq!(r.lost(2), Some(2));
    assert_eq!(r.handle_map(failed_over()), Ok(0));
    assert!(r.take_gap());
    assert!(r.is_idle(2));
    assert_eq!(r.poll_output(2), b"");
    assert_eq!(r.node(3), Some(&node(7002)));
    let moved = sent(&mut r, 3);
    assert!(
        moved.contains("PSUBSCRIBE") && moved.contains("SSUBSCRIBE"),
        "{moved}"
    );
    assert_eq!(r.wanted(Kind::Pattern).count(), 1);
}

#[test]
fn node_local_names_wait_for_a_map_with_primaries() {
    let mut r = Router::cluster(SlotMap::new());
    assert_eq!(r.subscribe_node_local(Kind::Pattern, &[KEYS]), Ok(1));
    assert!(r.wants_map());
    assert_eq!((r.links(), r.pending()), (1, 1));
    assert_eq!(r.handle_map(SlotMap::new()), Ok(0));
    assert!(r.wants_map());
    // The first map places them: not a gap, nothing was confirmed.
    assert_eq!(r.handle_map(map()), Ok(0));
    assert!(!r.wants_map() && !r.take_gap());
    assert_eq!(r.links(), 3);
    assert_eq!(r.pending(), 2);
    // A refusal forgets them everywhere.
    r.forget(Kind::Pattern, &[KEYS]);
    assert!(!r.has_node_local() && r.is_idle(1) && r.is_idle(2));
    assert_eq!(r.pending(), 0);
}
