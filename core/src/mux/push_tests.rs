//! The multiplexer and RESP3 pushes, against in-memory byte fixtures: pushes handed out
//! wherever they arrive, never into a slot; fenced subscription commands, accepted or refused;
//! hostile streams.
#![cfg(feature = "alloc")]

extern crate alloc;
extern crate std;

use alloc::vec;
use alloc::vec::Vec;

use super::{FENCE, Mux, Slot, fenced_outcomes, queue_fenced};
use crate::codec::error::{DecodeError, Failure};
use crate::engine::deferred::SlotError;
use crate::prelude::*;

type P = crate::VecPipeline;
type M = Mux<P, Vec<Slot<P>>>;

const SUB: &[u8] = b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n";
const PSUB: &[u8] = b"*2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\nn*\r\n";
const CONFIRM: &[u8] = b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
const MESSAGE: &[u8] = b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
const FENCED: &[u8] = b"$13\r\nredpipe:fence\r\n";
const NOPERM: &[u8] = b"-NOPERM this user has no permissions to access the 'n*' channel\r\n";

fn transmit(mux: &mut M) -> Vec<u8> {
    let mut out = Vec::new();
    mux.poll_transmit(&mut out);
    out
}

/// Feeds `stream` in `chunks` (each the length of one read), keeping what the mux did not use
/// as a transport does; returns the pushes handed out.
fn feed(mux: &mut M, stream: &[u8], chunks: &[usize]) -> Result<Vec<Vec<u8>>, DecodeError> {
    let (mut buf, mut pushes, mut at) = (Vec::new(), Vec::new(), 0);
    for &len in chunks.iter().chain(core::iter::once(&usize::MAX)) {
        let end = at + len.min(stream.len() - at);
        buf.extend_from_slice(&stream[at..end]);
        at = end;
        let used = mux.handle_input_with(&buf, |f| pushes.push(f.to_vec()))?;
        buf.drain(..used);
    }
    assert!(
        buf.is_empty(),
        "every byte is used: {chunks:?} left {buf:?}"
    );
    Ok(pushes)
}

/// Ways to cut `len` bytes into reads: at every boundary in two, and a byte at a time.
fn cuts(len: usize) -> Vec<Vec<usize>> {
    let mut all: Vec<Vec<usize>> = (0..=len).map(|c| vec![c]).collect();
    all.push(vec![1; len]);
    all
}

fn fenced(commands: &[u8]) -> P {
    let mut p = P::new();
    assert_eq!(queue_fenced(&mut p, commands), Ok(commands.len()));
    p
}

fn outcomes(p: &P) -> Vec<Result<(), SlotError<'_>>> {
    fenced_outcomes(p).collect()
}

#[test]
fn pushes_between_and_among_replies_go_out_never_into_a_slot() {
    let stream = [MESSAGE, b":1\r\n", MESSAGE, CONFIRM, b":2\r\n", MESSAGE].concat();
    for chunks in cuts(stream.len()) {
        let mut mux = M::with_capacity(4);
        let mut p = P::new();
        let (a, b) = (p.incr("a").unwrap(), p.incr("b").unwrap());
        let t = mux.try_submit(p).unwrap();
        let _ = transmit(&mut mux);
        let pushes = feed(&mut mux, &stream, &chunks).unwrap();
        assert_eq!(
            pushes,
            [MESSAGE, MESSAGE, CONFIRM, MESSAGE],
            "cut {chunks:?}"
        );
        let p = mux.take(t).unwrap();
        assert_eq!((a.read(&p), b.read(&p)), (Ok(1), Ok(2)));
        assert_eq!((p.pushes_seen(), mux.pushes_seen()), (0, 4));
    }
}

#[test]
fn a_push_behind_attributes_goes_out_too() {
    let attributed = [&b"|1\r\n+ttl\r\n:3\r\n"[..], MESSAGE].concat();
    let stream = [&attributed[..], b":5\r\n"].concat();
    for chunks in cuts(stream.len()) {
        let mut mux = M::with_capacity(4);
        let mut p = P::new();
        let a = p.incr("a").unwrap();
        let t = mux.try_submit(p).unwrap();
        let _ = transmit(&mut mux);
        let pushes = feed(&mut mux, &stream, &chunks).unwrap();
        assert_eq!((pushes.len(), &pushes[0]), (1, &attributed));
        assert_eq!(a.read(&mux.take(t).unwrap()), Ok(5));
    }
}

#[test]
fn an_accepted_subscription_reads_ok_and_its_confirmation_is_a_push() {
    // A pipeline before and after: the fenced one goes between them, in order.
    let stream = [b":1\r\n", CONFIRM, FENCED, MESSAGE, b":2\r\n"].concat();
    for chunks in cuts(stream.len()) {
        let mut mux = M::with_capacity(4);
        let mut before = P::new();
        let x = before.incr("x").unwrap();
        let mut after = P::new();
        let y = after.incr("y").unwrap();
        let t1 = mux.try_submit(before).unwrap();
        let t2 = mux.try_submit_fenced(fenced(SUB)).unwrap();
        let t3 = mux.try_submit(after).unwrap();
        let wire = transmit(&mut mux);
        let expected = [&b"*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n"[..], SUB, FENCE].concat();
        assert!(wire.starts_with(&expected));
        let pushes = feed(&mut mux, &stream, &chunks).unwrap();
        assert_eq!(pushes, [CONFIRM, MESSAGE]);
        assert_eq!(x.read(&mux.take(t1).unwrap()), Ok(1));
        let sub = mux.take(t2).unwrap();
        assert_eq!(outcomes(&sub), [Ok(())]);
        assert_eq!(y.read(&mux.take(t3).unwrap()), Ok(2));
    }
}

#[test]
fn a_refusal_answers_its_subscription_command_and_the_connection_goes_on() {
    // SUBSCRIBE accepted, PSUBSCRIBE refused by an ACL: the refusal is the second's.
    let stream = [CONFIRM, FENCED, NOPERM, FENCED, b":7\r\n"].concat();
    for chunks in cuts(stream.len()) {
        let mut mux = M::with_capacity(4);
        let t = mux
            .try_submit_fenced(fenced(&[SUB, PSUB].concat()))
            .unwrap();
        let mut next = P::new();
        let n = next.incr("n").unwrap();
        let tn = mux.try_submit(next).unwrap();
        let _ = transmit(&mut mux);
        let pushes = feed(&mut mux, &stream, &chunks).unwrap();
        assert_eq!(pushes, [CONFIRM]);
        let sub = mux.take(t).unwrap();
        let got = outcomes(&sub);
        assert_eq!(got[0], Ok(()));
        assert!(matches!(&got[1], Err(SlotError::Server(e)) if e.code() == "NOPERM"));
        assert_eq!(n.read(&mux.take(tn).unwrap()), Ok(7));
        assert!(mux.failure().is_none());
    }
}

#[test]
fn a_fenced_submission_goes_whole_whatever_the_byte_window() {
    let mut mux = M::with_capacity(4);
    mux.set_window_bytes(1);
    let t = mux
        .try_submit_fenced(fenced(&[SUB, PSUB].concat()))
        .unwrap();
    assert_eq!(transmit(&mut mux), [SUB, FENCE, PSUB, FENCE].concat());
    let stream = [CONFIRM, FENCED, FENCED].concat();
    assert_eq!(feed(&mut mux, &stream, &[]).unwrap(), [CONFIRM]);
    assert_eq!(outcomes(&mux.take(t).unwrap()), [Ok(()), Ok(())]);
}

#[test]
fn an_abandoned_fenced_submission_drops_its_refusals_and_fences() {
    let stream = [NOPERM, FENCED, MESSAGE, FENCED, b":3\r\n"].concat();
    for chunks in cuts(stream.len()) {
        let mut mux = M::with_capacity(4);
        let t = mux
            .try_submit_fenced(fenced(&[SUB, PSUB].concat()))
            .unwrap();
        let mut next = P::new();
        let n = next.incr("n").unwrap();
        let tn = mux.try_submit(next).unwrap();
        let _ = transmit(&mut mux);
        assert!(mux.abandon(t).is_some());
        let pushes = feed(&mut mux, &stream, &chunks).unwrap();
        assert_eq!(pushes, [MESSAGE]);
        assert_eq!(n.read(&mux.take(tn).unwrap()), Ok(3), "cut {chunks:?}");
    }
}

#[test]
fn hostile_streams_fail_the_connection_and_never_a_slot_by_mistake() {
    let resp2_confirmation = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
    let cases: &[(&str, &[u8])] = &[
        // A RESP2 confirmation in band: no owner; it must not be taken as the fence's answer.
        ("in-band confirmation", resp2_confirmation),
        ("another fence answer", b"$4\r\nPONG\r\n"),
        ("not RESP in a push", b">2\r\n?x\r\n"),
        ("a push of negative length", b">-5\r\n"),
        ("a push line past the limits", &[b'>'; 4096][..]),
        // In a subscription command's place, only a refusal or the fence's answer may come.
        ("a reply nobody asked for", b":1\r\n"),
    ];
    for (name, stream) in cases {
        let mut mux = M::with_capacity(4);
        let t = mux.try_submit_fenced(fenced(SUB)).unwrap();
        let mut other = P::new();
        let o = other.incr("o").unwrap();
        let to = mux.try_submit(other).unwrap();
        let _ = transmit(&mut mux);
        let fed = [*stream, FENCED].concat();
        assert!(feed(&mut mux, &fed, &[]).is_err(), "{name}");
        assert!(
            matches!(mux.failure(), Some(Failure::Protocol(_))),
            "{name}"
        );
        let sub = mux.take(t).unwrap();
        assert!(
            matches!(outcomes(&sub)[0], Err(SlotError::Failed(_))),
            "{name}"
        );
        assert!(o.read(&mux.take(to).unwrap()).is_err(), "{name}");
    }
}

#[test]
fn a_push_still_arriving_waits_and_is_never_half_handed_out() {
    let mut mux = M::with_capacity(4);
    let mut pushes = Vec::new();
    let half = &MESSAGE[..MESSAGE.len() - 3];
    assert_eq!(
        mux.handle_input_with(half, |f| pushes.push(f.to_vec())),
        Ok(0)
    );
    assert!(pushes.is_empty());
    assert_eq!(
        mux.handle_input_with(MESSAGE, |f| pushes.push(f.to_vec())),
        Ok(MESSAGE.len())
    );
    assert_eq!(pushes, [MESSAGE]);
    // Between pipelines, anything but a push is nobody's.
    assert_eq!(
        mux.handle_input(b"+OK\r\n"),
        Err(DecodeError::UnexpectedReply)
    );
}

#[test]
fn random_mixes_of_pipelines_fences_pushes_and_cuts_keep_everyone_in_step() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    /// One submission: `Err(k)` a pipeline of `k` INCRs, `Ok(refusals)` a fenced one whose
    /// commands are refused where `true`; and whether it is abandoned once sent.
    type Item = (Result<Vec<bool>, usize>, bool);
    let item = (
        prop_oneof![
            proptest::collection::vec(any::<bool>(), 1..4).prop_map(Ok),
            (1usize..4).prop_map(Err),
        ],
        proptest::bool::weighted(0.2),
    );
    let plans = (
        proptest::collection::vec(item, 1..8),
        proptest::collection::vec(0u8..4, 0..40),
        proptest::collection::vec(1usize..12, 1..30),
    );
    let mut runner = TestRunner::new(Config::with_cases(256));
    runner
        .run(
            &plans,
            |(items, push_at, cuts): (Vec<Item>, Vec<u8>, Vec<usize>)| {
                let mut mux = M::with_capacity(16);
                let (mut tickets, mut handles) = (Vec::new(), Vec::new());
                for (kind, _) in &items {
                    match kind {
                        Ok(refusals) => {
                            let commands = SUB.repeat(refusals.len());
                            tickets.push(mux.try_submit_fenced(fenced(&commands)).unwrap());
                            handles.push(Vec::new());
                        }
                        Err(k) => {
                            let mut p = P::new();
                            handles.push(
                                (0..*k)
                                    .map(|i| p.incr(["a", "b", "c"][i]).unwrap())
                                    .collect(),
                            );
                            tickets.push(mux.try_submit(p).unwrap());
                        }
                    }
                }
                let _ = transmit(&mut mux);
                // The server's answer, with a push (a message numbered in order) after any frame
                // the plan says; every `n`-th INCR answered `n`.
                let (mut stream, mut pushed, mut n, mut frames) = (Vec::new(), Vec::new(), 0i64, 0);
                let mut frame = |stream: &mut Vec<u8>, bytes: &[u8], pushed: &mut Vec<Vec<u8>>| {
                    stream.extend_from_slice(bytes);
                    frames += 1;
                    if push_at.get(frames).is_some_and(|p| *p == 0) {
                        let m = alloc::format!(
                            ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n:{}\r\n",
                            pushed.len()
                        );
                        stream.extend_from_slice(m.as_bytes());
                        pushed.push(m.into_bytes());
                    }
                };
                for (kind, _) in &items {
                    match kind {
                        Ok(refusals) => {
                            for refused in refusals {
                                let first: &[u8] = if *refused { NOPERM } else { CONFIRM };
                                frame(&mut stream, first, &mut pushed);
                                frame(&mut stream, FENCED, &mut pushed);
                            }
                        }
                        Err(k) => {
                            for _ in 0..*k {
                                n += 1;
                                frame(
                                    &mut stream,
                                    alloc::format!(":{n}\r\n").as_bytes(),
                                    &mut pushed,
                                );
                            }
                        }
                    }
                }
                let confirms = items.iter().filter_map(|(k, _)| k.as_ref().ok()).flatten();
                let confirms = confirms.filter(|r| !**r).count();
                for (t, (_, abandon)) in tickets.iter().zip(&items) {
                    if *abandon {
                        prop_assert!(mux.abandon(*t).is_some());
                    }
                }
                let out = feed(&mut mux, &stream, &cuts).unwrap();
                let messages: Vec<_> = out.iter().filter(|f| f.starts_with(b">3\r\n$7")).collect();
                prop_assert_eq!(messages.len(), pushed.len());
                prop_assert!(messages.iter().zip(&pushed).all(|(a, b)| *a == b));
                prop_assert_eq!(out.len() - pushed.len(), confirms);
                let mut seen = 0i64;
                for ((t, (kind, abandon)), hs) in tickets.iter().zip(&items).zip(&handles) {
                    if let Err(k) = kind {
                        seen += *k as i64;
                    }
                    if *abandon {
                        continue;
                    }
                    let p = mux.take(*t).unwrap();
                    match kind {
                        Ok(refusals) => {
                            let got = outcomes(&p);
                            for (o, refused) in got.iter().zip(refusals) {
                                prop_assert_eq!(o.is_err(), *refused);
                            }
                        }
                        Err(k) => {
                            for (i, h) in hs.iter().enumerate() {
                                prop_assert_eq!(h.read(&p), Ok(seen - *k as i64 + i as i64 + 1));
                            }
                        }
                    }
                }
                prop_assert!(mux.is_empty() || mux.failure().is_none());
                Ok(())
            },
        )
        .unwrap();
}
