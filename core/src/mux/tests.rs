//! The multiplexer against in-memory byte fixtures: what goes on the wire, whose reply is
//! whose, cancellation, bounds, failures, timeouts.
#![cfg(feature = "alloc")]

extern crate alloc;
extern crate std;

use alloc::string::String;
use alloc::vec::Vec;

use super::{Mux, Slot, Ticket};
use crate::codec::error::{DecodeError, Failure, Store};
use crate::codec::storage::{SliceStore, Storage};
use crate::engine::{Entry, Pipeline};
use crate::prelude::*;

type P = crate::VecPipeline;

fn incrs(keys: &[&str]) -> (P, Vec<Deferred<i64>>) {
    let mut p = P::new();
    let handles = keys.iter().map(|k| p.incr(*k).unwrap()).collect();
    (p, handles)
}

fn transmit(mux: &mut Mux<P, Vec<Slot<P>>>) -> Vec<u8> {
    let mut out = Vec::new();
    mux.poll_transmit(&mut out);
    out
}

#[test]
fn pipelines_share_one_write_and_each_gets_its_own_replies() {
    let mut mux = Mux::with_capacity(8);
    let (a, ha) = incrs(&["a1", "a2"]);
    let (b, hb) = incrs(&["b1"]);
    let (c, hc) = incrs(&["c1", "c2", "c3"]);
    let tickets: Vec<Ticket> = [a, b, c]
        .into_iter()
        .map(|p| mux.try_submit(p).unwrap())
        .collect();
    assert_eq!(mux.in_flight(), 0);
    let wire = transmit(&mut mux);
    assert_eq!(wire.iter().filter(|b| **b == b'*').count(), 6);
    assert_eq!(mux.in_flight(), 3);
    assert!(transmit(&mut mux).is_empty(), "nothing is sent twice");
    assert!(mux.is_awaiting());

    // Every cut of the reply stream gives the same results.
    let replies = b":1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n";
    for cut in 0..=replies.len() {
        let mut m = Mux::with_capacity(8);
        let (a, ha) = incrs(&["a1", "a2"]);
        let (b, hb) = incrs(&["b1"]);
        let (c, hc) = incrs(&["c1", "c2", "c3"]);
        let t: Vec<Ticket> = [a, b, c]
            .into_iter()
            .map(|p| m.try_submit(p).unwrap())
            .collect();
        let _ = transmit(&mut m);
        let used = m.handle_input(&replies[..cut]).unwrap();
        let mut rest = replies[used..].to_vec();
        let used = m.handle_input(&rest).unwrap();
        rest.drain(..used);
        assert!(rest.is_empty());
        let (a, b, c) = (
            m.take(t[0]).unwrap(),
            m.take(t[1]).unwrap(),
            m.take(t[2]).unwrap(),
        );
        let read = |h: &[Deferred<i64>], p: &P| -> Vec<i64> {
            h.iter().map(|h| h.read(p).unwrap()).collect()
        };
        assert_eq!(read(&ha, &a), [1, 2]);
        assert_eq!(read(&hb, &b), [3]);
        assert_eq!(read(&hc, &c), [4, 5, 6]);
        assert!(m.is_empty());
    }

    mux.handle_input(&replies[..8]).unwrap();
    assert_eq!(mux.in_flight(), 2);
    mux.handle_input(&replies[8..]).unwrap();
    assert_eq!(mux.in_flight(), 0);
    for (t, h) in tickets.iter().zip([&ha, &hb, &hc]) {
        assert!(mux.is_done(*t));
        let p = mux.take(*t).unwrap();
        assert!(h.iter().all(|h| h.read(&p).is_ok()));
    }
}

#[test]
fn a_pipeline_stays_contiguous_when_its_window_holds_it_back() {
    let mut mux = Mux::with_capacity(4);
    let (mut a, ha) = incrs(&["a1", "a2", "a3"]);
    a.set_window(2);
    let (b, hb) = incrs(&["b1"]);
    let (ta, tb) = (mux.try_submit(a).unwrap(), mux.try_submit(b).unwrap());
    // A's first two commands only: B may not go before A's third.
    let wire = transmit(&mut mux);
    assert_eq!(
        wire,
        b"*2\r\n$4\r\nINCR\r\n$2\r\na1\r\n*2\r\n$4\r\nINCR\r\n$2\r\na2\r\n"
    );
    assert_eq!(mux.handle_input(b":1\r\n"), Ok(4));
    let wire = transmit(&mut mux);
    assert_eq!(
        wire,
        b"*2\r\n$4\r\nINCR\r\n$2\r\na3\r\n*2\r\n$4\r\nINCR\r\n$2\r\nb1\r\n"
    );
    mux.handle_input(b":2\r\n:3\r\n:9\r\n").unwrap();
    let (a, b) = (mux.take(ta).unwrap(), mux.take(tb).unwrap());
    assert_eq!(
        ha.iter().map(|h| h.read(&a).unwrap()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(hb[0].read(&b), Ok(9));
}

#[cfg(feature = "transactions")]
#[test]
fn a_transaction_goes_out_whole_between_other_pipelines() {
    let mut mux = Mux::with_capacity(4);
    let (a, _) = incrs(&["a"]);
    let mut tx = P::new();
    let (x, y) = tx
        .transaction(|p| Ok::<_, crate::CapacityError>((p.incr("x")?, p.incr("y")?)))
        .unwrap();
    let (c, hc) = incrs(&["c"]);
    let ta = mux.try_submit(a).unwrap();
    let tt = mux.try_submit(tx).unwrap();
    let tc = mux.try_submit(c).unwrap();
    let wire = transmit(&mut mux);
    let text = std::str::from_utf8(&wire).unwrap();
    let order: Vec<usize> = [
        "\r\na\r\n",
        "MULTI",
        "\r\nx\r\n",
        "\r\ny\r\n",
        "EXEC",
        "\r\nc\r\n",
    ]
    .iter()
    .map(|w| text.find(w).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    mux.handle_input(b":1\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:5\r\n:6\r\n:7\r\n")
        .unwrap();
    let _ = mux.take(ta).unwrap();
    let tx = mux.take(tt).unwrap();
    let c = mux.take(tc).unwrap();
    assert_eq!(
        (x.read(&tx), y.read(&tx), hc[0].read(&c)),
        (Ok(5), Ok(6), Ok(7))
    );
}

#[test]
fn an_abandoned_pipeline_never_shifts_replies_onto_the_next() {
    let mut mux = Mux::with_capacity(4);
    let (a, _) = incrs(&["a1", "a2", "a3"]);
    let (b, hb) = incrs(&["b1"]);
    let (c, _) = incrs(&["c1"]);
    let ta = mux.try_submit(a).unwrap();
    let tb = mux.try_submit(b).unwrap();
    let _ = transmit(&mut mux);
    // C is queued after the write: nothing of it is on the wire.
    let tc = mux.try_submit(c).unwrap();
    // A's first reply arrives, half of its second; then its submitter goes away.
    assert_eq!(mux.handle_input(b":1\r\n:2"), Ok(4));
    let mut a = mux.abandon(ta).expect("the pipeline comes back");
    a.fail(Failure::Cancelled);
    // C goes away before anything of it was sent: it is never sent.
    let c = mux.abandon(tc).unwrap();
    assert!(c.sent_nothing());
    assert!(transmit(&mut mux).is_empty());
    // A's two other replies are dropped; B gets its own.
    mux.handle_input(b":2\r\n:3\r\n:42\r\n").unwrap();
    let b = mux.take(tb).unwrap();
    assert_eq!(hb[0].read(&b), Ok(42));
    assert!(mux.is_empty());
    assert!(!mux.is_awaiting());
}

#[test]
fn a_done_pipeline_taken_late_does_not_hold_others_back() {
    let mut mux = Mux::with_capacity(2);
    let (a, _) = incrs(&["a"]);
    let (b, hb) = incrs(&["b"]);
    let ta = mux.try_submit(a).unwrap();
    let tb = mux.try_submit(b).unwrap();
    let _ = transmit(&mut mux);
    mux.handle_input(b":1\r\n:2\r\n").unwrap();
    // B's submitter comes first; A's later.
    let b = mux.take(tb).unwrap();
    assert_eq!(hb[0].read(&b), Ok(2));
    assert!(!mux.has_room(), "A's place is freed when A is taken");
    assert!(mux.take(ta).is_some());
    assert!(mux.is_empty() && mux.has_room());
}

#[test]
fn a_full_ring_refuses_and_frees_in_order() {
    let mut ring = [Slot::<P>::VACANT, Slot::VACANT, Slot::VACANT];
    let mut mux = Mux::new(&mut ring[..]);
    let mut served = 0;
    // Pipelines cycle through a ring of three many times over.
    for round in 0..10 {
        let (a, ha) = incrs(&["k"]);
        let (b, hb) = incrs(&["k"]);
        let ta = mux.try_submit(a).unwrap();
        let tb = mux.try_submit(b).unwrap();
        let (c, _) = incrs(&["k"]);
        let tc = mux.try_submit(c).unwrap();
        let (d, _) = incrs(&["k"]);
        assert!(mux.try_submit(d).is_err(), "a fourth waits (round {round})");
        let mut out = Vec::new();
        mux.poll_transmit(&mut out);
        mux.handle_input(b":1\r\n:2\r\n:3\r\n").unwrap();
        let (a, b) = (mux.take(ta).unwrap(), mux.take(tb).unwrap());
        assert_eq!((ha[0].read(&a), hb[0].read(&b)), (Ok(1), Ok(2)));
        assert!(mux.take(tc).is_some());
        served += 3;
    }
    assert_eq!(served, 30);
}

#[test]
fn the_ring_grows_with_the_pipelines_in_flight_up_to_its_limit() {
    let mut mux = Mux::with_capacity(40);
    let submit = |mux: &mut Mux<P, Vec<Slot<P>>>| {
        let (p, h) = incrs(&["k"]);
        mux.try_submit(p).map(|t| (t, h[0])).map_err(drop)
    };
    // Ten answered and taken first, so that the ring wraps before it grows.
    let early: Vec<_> = (0..10).map(|_| submit(&mut mux).unwrap()).collect();
    let _ = transmit(&mut mux);
    mux.handle_input(&b":0\r\n".repeat(10)).unwrap();
    for (t, _) in early {
        assert!(mux.take(t).is_some());
    }
    let in_flight: Vec<_> = (0..40).map(|_| submit(&mut mux).unwrap()).collect();
    assert!(submit(&mut mux).is_err(), "the limit holds");
    let _ = transmit(&mut mux);
    let replies: Vec<u8> = (1..=40)
        .flat_map(|n| alloc::format!(":{n}\r\n").into_bytes())
        .collect();
    mux.handle_input(&replies).unwrap();
    for (n, (t, h)) in in_flight.into_iter().enumerate() {
        assert_eq!(h.read(&mux.take(t).unwrap()), Ok(n as i64 + 1));
    }
    assert!(mux.is_empty());
}

#[test]
fn the_byte_window_holds_pipelines_until_replies_free_it() {
    let mut mux = Mux::with_capacity(4);
    // Room for about one command and its expected reply.
    mux.set_window_bytes(100);
    let (a, _) = incrs(&["a"]);
    let (b, _) = incrs(&["b"]);
    let ta = mux.try_submit(a).unwrap();
    let tb = mux.try_submit(b).unwrap();
    let first = transmit(&mut mux);
    assert!(first.ends_with(b"\r\na\r\n") && !first.ends_with(b"\r\nb\r\n"));
    assert!(transmit(&mut mux).is_empty(), "B waits for A's reply");
    assert!(mux.bytes_in_flight() > 0);
    mux.handle_input(b":1\r\n").unwrap();
    assert_eq!(mux.bytes_in_flight(), 0);
    assert!(transmit(&mut mux).ends_with(b"\r\nb\r\n"));
    mux.handle_input(b":1\r\n").unwrap();
    assert!(mux.take(ta).is_some() && mux.take(tb).is_some());
}

#[test]
fn a_pipeline_larger_than_the_byte_window_goes_out_as_its_replies_come() {
    let mut mux = Mux::with_capacity(4);
    mux.set_window_bytes(1000);
    let keys: Vec<alloc::string::String> = (0..500).map(|i| alloc::format!("k{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    let (big, handles) = incrs(&keys);
    let (after, h) = incrs(&["after"]);
    let tb = mux.try_submit(big).unwrap();
    let ta = mux.try_submit(after).unwrap();
    let mut sent = 0;
    let mut rounds = 0;
    while !mux.is_done(ta) {
        let wire = transmit(&mut mux);
        let commands = wire.windows(4).filter(|w| w == b"INCR").count();
        assert!(commands > 0, "stalled after {sent} commands");
        assert!(
            mux.bytes_in_flight() <= 1000 + 64,
            "{}",
            mux.bytes_in_flight()
        );
        let replies: Vec<u8> = (0..commands)
            .flat_map(|i| alloc::format!(":{}\r\n", sent + i + 1).into_bytes())
            .collect();
        sent += commands;
        mux.handle_input(&replies).unwrap();
        rounds += 1;
    }
    assert_eq!(sent, 501);
    assert!(rounds > 5, "{rounds} rounds: the window held it back");
    let big = mux.take(tb).unwrap();
    assert!(
        handles
            .iter()
            .enumerate()
            .all(|(i, h)| h.read(&big) == Ok(i as i64 + 1))
    );
    assert_eq!(h[0].read(&mux.take(ta).unwrap()), Ok(501));
}

#[test]
fn a_new_pipeline_starts_from_the_reply_sizes_the_connection_has_seen() {
    let mut mux = Mux::with_capacity(4);
    let (first, _) = incrs(&["a"]);
    let t = mux.try_submit(first).unwrap();
    let _ = transmit(&mut mux);
    mux.handle_input(b":1\r\n").unwrap();
    let _ = mux.take(t);
    // Twenty small commands with a 1 MiB byte window: with the default guess of a reply (an
    // eighth of the window) only eight would go in the first round; with what was seen, all.
    let keys: Vec<alloc::string::String> = (0..20).map(|i| alloc::format!("k{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    let (mut p, _) = incrs(&keys);
    p.set_window_bytes(crate::DEFAULT_WINDOW_BYTES);
    let _ = mux.try_submit(p).unwrap();
    let wire = transmit(&mut mux);
    assert_eq!(wire.windows(4).filter(|w| w == b"INCR").count(), 20);
}

#[test]
fn a_command_larger_than_the_write_buffer_fails_its_pipeline_only() {
    let mut mux = Mux::with_capacity(4);
    let mut big = P::new();
    let h = big.set("k", [b'x'; 64].as_slice()).unwrap();
    let (small, hs) = incrs(&["s"]);
    let tb = mux.try_submit(big).unwrap();
    let ts = mux.try_submit(small).unwrap();
    let mut space = [0u8; 32];
    let mut out = SliceStore::new(&mut space);
    let n = mux.poll_transmit(&mut out);
    assert_eq!(&out.as_slice()[..n], b"*2\r\n$4\r\nINCR\r\n$1\r\ns\r\n");
    let big = mux.take(tb).unwrap();
    assert!(matches!(
        h.read(&big),
        Err(SlotError::Failed(Failure::Capacity(e))) if e.store == Store::Output && e.capacity == 32
    ));
    mux.handle_input(b":5\r\n").unwrap();
    assert_eq!(hs[0].read(&mux.take(ts).unwrap()), Ok(5));
}

#[test]
fn pushes_are_set_aside_and_a_stray_reply_fails_everything() {
    let mut mux = Mux::with_capacity(4);
    // Between pipelines: pushes are fine, a partial one waits for the rest.
    assert_eq!(mux.handle_input(b">2\r\n+a\r\n+b\r\n>1\r\n"), Ok(12));
    assert_eq!(mux.pushes_seen(), 1);
    let (a, ha) = incrs(&["a"]);
    let (b, hb) = incrs(&["b"]);
    let ta = mux.try_submit(a).unwrap();
    let tb = mux.try_submit(b).unwrap();
    let _ = transmit(&mut mux);
    // A push among the replies goes to nobody's slot: the mux takes it.
    mux.handle_input(b">1\r\n+x\r\n:1\r\n").unwrap();
    let a = mux.take(ta).unwrap();
    assert_eq!((ha[0].read(&a), a.pushes_seen()), (Ok(1), 0));
    assert_eq!(mux.pushes_seen(), 2);
    // A reply after B's, which nobody asked for, is a protocol error: the connection is
    // finished, though B, already answered, keeps its result.
    assert_eq!(
        mux.handle_input(b":2\r\n:3\r\n"),
        Err(DecodeError::UnexpectedReply)
    );
    assert_eq!(hb[0].read(&mux.take(tb).unwrap()), Ok(2));
    assert!(mux.failure().is_some());
    let (c, _) = incrs(&["c"]);
    assert!(
        mux.try_submit(c).is_err(),
        "a failed mux takes nothing more"
    );
}

#[test]
fn a_failure_fails_every_pipeline_and_says_which_were_never_sent() {
    let mut mux = Mux::with_capacity(4);
    let (a, ha) = incrs(&["a"]);
    let ta = mux.try_submit(a).unwrap();
    let _ = transmit(&mut mux);
    let (b, hb) = incrs(&["b"]);
    let tb = mux.try_submit(b).unwrap();
    mux.fail(Failure::Closed);
    let (a, b) = (mux.take(ta).unwrap(), mux.take(tb).unwrap());
    assert_eq!(ha[0].read(&a), Err(SlotError::Failed(Failure::Closed)));
    assert_eq!(hb[0].read(&b), Err(SlotError::Failed(Failure::Closed)));
    assert!(!a.sent_nothing() && b.sent_nothing());
    // The retry rule sends the unsent one again, never the sent one.
    let retry = crate::session::Retry::NEVER;
    let (mut a, mut b) = (a, b);
    assert!(!retry.again(0, &mut a));
    assert!(retry.again(0, &mut b));
}

#[test]
fn no_complete_reply_for_the_timeout_fails_the_connection() {
    let mut mux = Mux::with_capacity(4);
    mux.set_timeout(Some(100));
    assert_eq!(mux.handle_timeout(0), None, "nothing awaited");
    let (a, ha) = incrs(&["a", "b"]);
    let ta = mux.try_submit(a).unwrap();
    let _ = transmit(&mut mux);
    assert_eq!(mux.handle_timeout(10), Some(110));
    // A reply completes: the wait counts again from here.
    mux.handle_input(b":1\r\n").unwrap();
    assert_eq!(mux.handle_timeout(50), Some(150));
    // The server trickles a byte at a time without completing a reply, and floods pushes.
    assert_eq!(mux.handle_input(b":"), Ok(0));
    mux.handle_input(b">1\r\n+p\r\n").unwrap_or_default();
    assert_eq!(mux.handle_timeout(149), Some(150));
    assert_eq!(mux.handle_timeout(150), None);
    let a = mux.take(ta).unwrap();
    assert_eq!(ha[0].read(&a), Ok(1));
    assert_eq!(
        ha[1].read(&a),
        Err(SlotError::Failed(Failure::Io(crate::IoKind::TimedOut)))
    );
}

#[test]
fn a_blocking_command_awaited_lengthens_the_timeout_by_its_wait() {
    let mut mux = Mux::with_capacity(4);
    mux.set_timeout(Some(100));
    let mut a = P::new();
    let popped = a.blpop::<Option<(String, String)>>("jobs", 1).unwrap();
    let forever = a.blpop::<Option<(String, String)>>("jobs", 0).unwrap();
    let (b, hb) = incrs(&["b"]);
    let (ta, tb) = (mux.try_submit(a).unwrap(), mux.try_submit(b).unwrap());
    let _ = transmit(&mut mux);
    // Both waits, one after the other, on top of the timeout: the second has no limit.
    assert_eq!(mux.handle_timeout(10), None);
    assert_eq!(mux.handle_timeout(100_000), None);
    mux.handle_input(b"*2\r\n$4\r\njobs\r\n$1\r\nx\r\n")
        .unwrap();
    // The first is answered; the second has no limit still.
    assert_eq!(mux.handle_timeout(100_010), None);
    mux.handle_input(b"*-1\r\n").unwrap();
    // The pipeline behind it waits for nothing on purpose: the plain timeout again.
    assert_eq!(mux.handle_timeout(100_020), Some(100_120));
    mux.handle_input(b":1\r\n").unwrap();
    let (a, b) = (mux.take(ta).unwrap(), mux.take(tb).unwrap());
    assert!(popped.read(&a).unwrap().is_some());
    assert_eq!(forever.read(&a), Ok(None));
    assert_eq!(hb[0].read(&b), Ok(1));

    // A wait of its own, in the clock's unit.
    mux.set_ticks_per_milli(10);
    let mut c = P::new();
    let _ = c.brpop::<Option<(String, String)>>("jobs", 2).unwrap();
    let tc = mux.try_submit(c).unwrap();
    let _ = transmit(&mut mux);
    assert_eq!(mux.handle_timeout(1000), Some(1000 + 100 + 20_000));
    assert_eq!(mux.handle_timeout(21_099), Some(21_100));
    assert_eq!(mux.handle_timeout(21_100), None);
    let c = mux.take(tc).unwrap();
    assert_eq!(c.failure(), Some(Failure::Io(crate::IoKind::TimedOut)));
}

#[cfg(feature = "scripting")]
#[test]
fn an_eval_fallback_stays_with_its_pipeline() {
    let mut mux = Mux::with_capacity(4);
    let script = crate::Script::new("return 1");
    let mut a = P::new();
    let h = a.eval::<i64>(&script, (), ()).unwrap();
    let (b, hb) = incrs(&["b"]);
    let ta = mux.try_submit(a).unwrap();
    let tb = mux.try_submit(b).unwrap();
    let wire = transmit(&mut mux);
    assert!(wire.starts_with(b"*3\r\n$7\r\nEVALSHA"));
    assert!(!wire.ends_with(b"\r\nb\r\n"), "B waits until A cannot grow");
    mux.handle_input(b"-NOSCRIPT No matching script.\r\n")
        .unwrap();
    let wire = transmit(&mut mux);
    assert!(wire.starts_with(b"*3\r\n$4\r\nEVAL\r\n"));
    assert!(wire.ends_with(b"\r\nb\r\n"), "then B, in one write");
    mux.handle_input(b":1\r\n:2\r\n").unwrap();
    let (a, b) = (mux.take(ta).unwrap(), mux.take(tb).unwrap());
    assert_eq!((h.read(&a), hb[0].read(&b)), (Ok(1), Ok(2)));
}

#[test]
fn fixed_storage_needs_no_allocator() {
    type Fixed<'a> = Pipeline<SliceStore<'a, u8>, SliceStore<'a, u8>, SliceStore<'a, Entry>>;
    let (mut o1, mut r1, mut e1) = ([0u8; 64], [0u8; 64], [Entry::EMPTY; 2]);
    let (mut o2, mut r2, mut e2) = ([0u8; 64], [0u8; 64], [Entry::EMPTY; 2]);
    let mut a: Fixed<'_> = Pipeline::from_slices(&mut o1, &mut r1, &mut e1);
    let mut b: Fixed<'_> = Pipeline::from_slices(&mut o2, &mut r2, &mut e2);
    let ha = a.incr("a").unwrap();
    let hb = b.get::<&str>("b").unwrap();
    {
        // Two tasks' pipelines, borrowed, on one link.
        let mut ring = [Slot::<&mut Fixed<'_>>::VACANT, Slot::VACANT];
        let mut mux = Mux::new(&mut ring);
        let ta = mux.try_submit(&mut a).unwrap();
        let tb = mux.try_submit(&mut b).unwrap();
        let mut space = [0u8; 64];
        let mut out = SliceStore::new(&mut space);
        assert_eq!(mux.poll_transmit(&mut out), 41);
        mux.handle_input(b":3\r\n$2\r\nhi\r\n").unwrap();
        assert!(mux.take(ta).is_some() && mux.take(tb).is_some());
    }
    assert_eq!((ha.read(&a), hb.read(&b)), (Ok(3), Ok("hi")));
}

/// Random pipelines, random abandons at random points, replies cut at random places: every
/// pipeline that stays gets exactly its own replies, and the mux ends empty and in step.
#[test]
fn random_abandons_keep_every_survivor_in_step() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    #[derive(Debug, Clone)]
    struct Plan {
        sizes: Vec<usize>,
        abandon: Vec<Option<u8>>,
        cuts: Vec<usize>,
    }
    let plans = (1usize..12)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec(1usize..5, n),
                proptest::collection::vec(proptest::option::of(0u8..3), n),
                proptest::collection::vec(1usize..9, 1..20),
            )
        })
        .prop_map(|(sizes, abandon, cuts)| Plan {
            sizes,
            abandon,
            cuts,
        });
    let mut runner = TestRunner::new(Config::with_cases(256));
    runner
        .run(&plans, |plan| {
            let mut mux = Mux::with_capacity(16);
            // The server: answers the n-th INCR it sees with n, counting every pipeline's
            // commands, so a reply in the wrong slot shows.
            let mut tickets = Vec::new();
            let mut expected = Vec::new();
            for (i, size) in plan.sizes.iter().enumerate() {
                let keys: Vec<alloc::string::String> =
                    (0..*size).map(|j| alloc::format!("k{i}.{j}")).collect();
                let mut p = P::new();
                let hs: Vec<Deferred<i64>> = keys.iter().map(|k| p.incr(k).unwrap()).collect();
                tickets.push(mux.try_submit(p).unwrap());
                expected.push(hs);
            }
            let mut wire = Vec::new();
            let mut served: i64 = 0;
            let mut position = std::collections::HashMap::new();
            let mut buf = Vec::new();
            let mut replies = Vec::new();
            let mut cuts = plan.cuts.iter().cycle();
            let mut gone = alloc::vec![false; tickets.len()];
            let mut results: Vec<Option<P>> = tickets.iter().map(|_| None).collect();
            for step in 0..400u32 {
                // Abandon at its chosen stage: 0 before send, 1 after send, 2 mid-read.
                for (i, when) in plan.abandon.iter().enumerate() {
                    let stage = (step % 3) as u8;
                    if !gone[i] && *when == Some(stage) && step >= u32::from(stage) * 2 {
                        if let Some(mut p) = mux.abandon(tickets[i]) {
                            p.fail(Failure::Cancelled);
                        }
                        gone[i] = true;
                    }
                }
                wire.clear();
                mux.poll_transmit(&mut wire);
                // Each command on the wire: `*2\r\n$4\r\nINCR\r\n$L\r\nKEY\r\n`.
                let mut at = 0;
                while at < wire.len() {
                    let n = crate::Scanner::new()
                        .scan(&wire[at..], &crate::Limits::default())
                        .unwrap()
                        .unwrap();
                    let key = wire[at..at + n].split(|b| *b == b'\n').nth(4).unwrap();
                    served += 1;
                    position.insert(key.to_vec(), served);
                    replies.extend_from_slice(alloc::format!(":{served}\r\n").as_bytes());
                    at += n;
                }
                // The client reads a few bytes of what the server sent.
                let cut = (*cuts.next().unwrap()).min(replies.len());
                buf.extend(replies.drain(..cut));
                let used = mux.handle_input(&buf).unwrap();
                buf.drain(..used);
                for (i, t) in tickets.iter().enumerate() {
                    if !gone[i] && results[i].is_none() && mux.is_done(*t) {
                        results[i] = mux.take(*t);
                    }
                }
                if mux.is_empty() && replies.is_empty() {
                    break;
                }
                prop_assert!(mux.in_flight() <= tickets.len());
            }
            prop_assert!(mux.is_empty(), "{mux:?}");
            prop_assert_eq!(mux.in_flight(), 0);
            prop_assert!(replies.is_empty() && buf.is_empty());
            // Each survivor's handles read the replies to its own commands: the numbers of
            // their places on the wire.
            for (i, r) in results.iter().enumerate() {
                if gone[i] {
                    continue;
                }
                let p = r.as_ref().expect("a survivor finishes");
                for (j, h) in expected[i].iter().enumerate() {
                    let key = alloc::format!("k{i}.{j}\r");
                    prop_assert_eq!(h.read(p), Ok(position[key.as_bytes()]));
                }
            }
            Ok(())
        })
        .unwrap();
}
