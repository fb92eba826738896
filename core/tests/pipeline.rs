//! Whole-pipeline behaviour in memory: queue, encode, feed reply bytes, read handles.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
#![cfg(all(feature = "alloc", feature = "heapless"))]

#[cfg(feature = "scripting")]
use redpipe_core::Script;
use redpipe_core::prelude::*;
use redpipe_core::{
    CapacityError, ConvertError, DecodeError, Entry, Failure, HeaplessPipeline, Reply,
    ServerErrorKind, SlicePipeline, Store, Value, VecPipeline,
};

/// Sends everything the pipeline offers, as a transport would.
fn send_all<O, R, E>(p: &mut redpipe_core::Pipeline<O, R, E>) -> Vec<u8>
where
    O: redpipe_core::Storage<u8>,
    R: redpipe_core::Storage<u8>,
    E: redpipe_core::Storage<Entry>,
{
    let out = p.poll_output().to_vec();
    p.consume_output(out.len());
    out
}

/// Feeds `input` in chunks of `chunk` bytes, keeping unconsumed bytes like a read buffer.
fn feed_chunked(p: &mut VecPipeline, input: &[u8], chunk: usize) -> Result<(), DecodeError> {
    let mut buf = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        let used = p.handle_input(&buf)?;
        buf.drain(..used);
    }
    assert!(buf.is_empty(), "bytes left over: {buf:?}");
    Ok(())
}

/// A recorded session: replies to the commands queued by `queue_mixed`.
const MIXED_REPLIES: &[u8] = b"+OK\r\n:1\r\n$5\r\nhello\r\n$-1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n%2\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n,2.5\r\n#t\r\n_\r\n:42\r\n";

struct Mixed {
    set: Deferred<()>,
    incr: Deferred<i64>,
    get: Deferred<Option<String>>,
    missing: Deferred<Option<String>>,
    wrong: Deferred<i64>,
    list: Deferred<Vec<String>>,
    hash: Deferred<std::collections::BTreeMap<String, i64>>,
    score: Deferred<f64>,
    flag: Deferred<bool>,
    null: Deferred<Option<i64>>,
    last: Deferred<i64>,
}

fn queue_mixed(p: &mut VecPipeline) -> Mixed {
    Mixed {
        set: p.set("k", "hello").unwrap(),
        incr: p.incr("n").unwrap(),
        get: p.get("k").unwrap(),
        missing: p.get("nope").unwrap(),
        wrong: p.incr("a-list").unwrap(),
        list: p.query(cmd("LRANGE").arg("l").arg(0).arg(-1)).unwrap(),
        hash: p.query(cmd("HGETALL").arg("h")).unwrap(),
        score: p.query(cmd("ZSCORE").arg("z").arg("m")).unwrap(),
        flag: p.query(cmd("X")).unwrap(),
        null: p.query(cmd("Y")).unwrap(),
        last: p.incrby("n", 41).unwrap(),
    }
}

fn check_mixed(p: &VecPipeline, m: &Mixed) {
    assert!(p.is_done());
    assert_eq!(m.set.read(p), Ok(()));
    assert_eq!(m.incr.read(p), Ok(1));
    assert_eq!(m.get.read(p), Ok(Some("hello".into())));
    assert_eq!(m.missing.read(p), Ok(None));
    match m.wrong.read(p) {
        Err(SlotError::Server(e)) => {
            assert_eq!(e.kind(), ServerErrorKind::WrongType);
            assert!(e.to_string().starts_with("WRONGTYPE Operation"));
        }
        other => panic!("expected WRONGTYPE, got {other:?}"),
    }
    assert_eq!(m.list.read(p), Ok(vec!["a".into(), "b".into(), "c".into()]));
    let hash = m.hash.read(p).unwrap();
    assert_eq!((hash["f"], hash["g"]), (1, 2));
    assert_eq!(m.score.read(p), Ok(2.5));
    assert_eq!(m.flag.read(p), Ok(true));
    assert_eq!(m.null.read(p), Ok(None));
    assert_eq!(m.last.read(p), Ok(42));
}

#[test]
fn server_error_stays_in_its_slot() {
    let mut p = VecPipeline::new();
    let m = queue_mixed(&mut p);
    send_all(&mut p);
    feed_chunked(&mut p, MIXED_REPLIES, MIXED_REPLIES.len()).unwrap();
    check_mixed(&p, &m);
}

#[test]
fn replies_split_at_every_byte_boundary_resolve_identically() {
    for cut in 0..=MIXED_REPLIES.len() {
        let mut p = VecPipeline::new();
        let m = queue_mixed(&mut p);
        send_all(&mut p);
        let mut buf = MIXED_REPLIES[..cut].to_vec();
        let used = p.handle_input(&buf).unwrap();
        buf.drain(..used);
        buf.extend_from_slice(&MIXED_REPLIES[cut..]);
        let used = p.handle_input(&buf).unwrap();
        assert_eq!(used, buf.len(), "cut at {cut}");
        check_mixed(&p, &m);
    }
    for chunk in [1, 2, 3, 7, 64] {
        let mut p = VecPipeline::new();
        let m = queue_mixed(&mut p);
        send_all(&mut p);
        feed_chunked(&mut p, MIXED_REPLIES, chunk).unwrap();
        check_mixed(&p, &m);
    }
}

#[test]
fn handles_read_pending_before_replies_and_convert_errors_stay_local() {
    let mut p = VecPipeline::new();
    let a = p.get::<i64>("text").unwrap();
    let b = p.incr("n").unwrap();
    assert_eq!(a.read(&p), Err(SlotError::Pending));
    send_all(&mut p);
    p.handle_input(b"$3\r\nabc\r\n").unwrap();
    assert_eq!(
        a.read(&p),
        Err(SlotError::Convert(ConvertError::InvalidNumber))
    );
    assert_eq!(b.read(&p), Err(SlotError::Pending));
    assert!(!p.is_done());
    p.handle_input(b":3\r\n").unwrap();
    assert_eq!(b.read(&p), Ok(3));
    // The same slot read as another type.
    assert_eq!(a.cast::<&str>().read(&p), Ok("abc"));
}

#[test]
fn a_reply_nobody_asked_for_poisons_the_connection() {
    let mut p = VecPipeline::new();
    let a = p.incr("n").unwrap();
    // Nothing sent yet: a reply now cannot belong to any command.
    assert_eq!(p.handle_input(b":1\r\n"), Err(DecodeError::UnexpectedReply));
    assert_eq!(
        a.read(&p),
        Err(SlotError::Failed(Failure::Protocol(
            DecodeError::UnexpectedReply
        )))
    );
    assert!(p.is_done());
    assert!(p.poll_output().is_empty());

    let mut p = VecPipeline::new();
    let _ = p.incr("n").unwrap();
    send_all(&mut p);
    assert_eq!(
        p.handle_input(b":1\r\n:2\r\n"),
        Err(DecodeError::UnexpectedReply)
    );
}

#[test]
fn protocol_error_fails_every_waiting_slot() {
    let mut p = VecPipeline::new();
    let a = p.incr("a").unwrap();
    let b = p.incr("b").unwrap();
    let c = p.incr("c").unwrap();
    send_all(&mut p);
    assert_eq!(
        p.handle_input(b":1\r\n:x\r\n"),
        Err(DecodeError::InvalidNumber)
    );
    assert_eq!(a.read(&p), Ok(1));
    let want = Err(SlotError::Failed(Failure::Protocol(
        DecodeError::InvalidNumber,
    )));
    assert_eq!(b.read(&p), want);
    assert_eq!(c.read(&p), want);
    // Later input is refused with the same error; later commands fail at once.
    assert_eq!(p.handle_input(b":3\r\n"), Err(DecodeError::InvalidNumber));
    let d = p.incr("d").unwrap();
    assert!(p.is_done());
    assert_eq!(d.read(&p), want);
}

#[test]
fn connection_loss_fails_pending_slots_with_the_reason() {
    let mut p = VecPipeline::new();
    let a = p.incr("a").unwrap();
    let b = p.incr("b").unwrap();
    send_all(&mut p);
    p.handle_input(b":1\r\n:2").unwrap(); // second reply truncated
    p.fail(Failure::Closed);
    assert_eq!(a.read(&p), Ok(1));
    assert_eq!(b.read(&p), Err(SlotError::Failed(Failure::Closed)));
    assert!(p.is_done());
    // Reset makes it usable again, and old handles stale.
    p.reset();
    assert_eq!(a.read(&p), Err(SlotError::Stale));
    let c = p.incr("c").unwrap();
    send_all(&mut p);
    p.handle_input(b":9\r\n").unwrap();
    assert_eq!(c.read(&p), Ok(9));
    assert_eq!(a.read(&p), Err(SlotError::Stale));
}

#[test]
fn window_limits_commands_in_flight() {
    let mut p = VecPipeline::new();
    p.set_window(2);
    let hs: Vec<_> = (0..5).map(|i| p.incr(format!("k{i}")).unwrap()).collect();
    let first = send_all(&mut p);
    assert_eq!(first.iter().filter(|&&b| b == b'*').count(), 2);
    assert!(p.poll_output().is_empty());
    p.handle_input(b":1\r\n").unwrap();
    let second = send_all(&mut p);
    assert_eq!(second.iter().filter(|&&b| b == b'*').count(), 1);
    p.handle_input(b":2\r\n:3\r\n").unwrap();
    send_all(&mut p);
    p.handle_input(b":4\r\n:5\r\n").unwrap();
    assert!(p.is_done());
    let got: Vec<i64> = hs.iter().map(|h| h.read(&p).unwrap()).collect();
    assert_eq!(got, [1, 2, 3, 4, 5]);
}

#[test]
fn partial_writes_are_tracked() {
    let mut p = VecPipeline::new();
    let a = p.incr("a").unwrap();
    let all = p.poll_output().to_vec();
    p.consume_output(3);
    assert_eq!(p.poll_output(), &all[3..]);
    // A reply before the command is fully sent cannot be ours.
    assert_eq!(p.handle_input(b":1\r\n"), Err(DecodeError::UnexpectedReply));
    let _ = a;
}

#[test]
fn push_replies_are_skipped() {
    let mut p = VecPipeline::new();
    let a = p.incr("a").unwrap();
    send_all(&mut p);
    p.handle_input(b">2\r\n+invalidate\r\n*1\r\n$1\r\nx\r\n|1\r\n+ttl\r\n:5\r\n:7\r\n")
        .unwrap();
    assert_eq!(a.read(&p), Ok(7));
    assert_eq!(p.pushes_seen(), 1);
    let attrs: Vec<Value> = p
        .attributes(a)
        .unwrap()
        .iter()
        .map(|r| Value::from_reply(r).unwrap())
        .collect();
    assert_eq!(attrs, [Value::Simple("ttl".into()), Value::Int(5)]);
}

#[test]
#[cfg(feature = "transactions")]
fn transaction_results_land_in_their_own_slots() {
    let mut p = VecPipeline::new();
    let before = p.incr("x").unwrap();
    let (a, b, c) = p
        .transaction(|p| -> Result<_, CapacityError> {
            Ok((p.incr("a")?, p.get::<String>("s")?, p.incr("c")?))
        })
        .unwrap();
    let after = p.incr("y").unwrap();
    let out = send_all(&mut p);
    assert!(out.windows(15).any(|w| w == b"*1\r\n$5\r\nMULTI\r\n"));
    p.handle_input(
        b":1\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:10\r\n$2\r\nhi\r\n:30\r\n:2\r\n",
    )
    .unwrap();
    assert!(p.is_done());
    assert_eq!(before.read(&p), Ok(1));
    assert_eq!(a.read(&p), Ok(10));
    assert_eq!(b.read(&p), Ok("hi".into()));
    assert_eq!(c.read(&p), Ok(30));
    assert_eq!(after.read(&p), Ok(2));
}

#[test]
#[cfg(feature = "transactions")]
fn transaction_errors() {
    // EXEC inside: a runtime error is just that command's result.
    let mut p = VecPipeline::new();
    let (a, b) = p
        .transaction(|p| -> Result<_, CapacityError> { Ok((p.incr("a")?, p.incr("l")?)) })
        .unwrap();
    send_all(&mut p);
    p.handle_input(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n-WRONGTYPE wrong\r\n")
        .unwrap();
    assert_eq!(a.read(&p), Ok(1));
    assert!(
        matches!(b.read(&p), Err(SlotError::Server(e)) if e.kind() == ServerErrorKind::WrongType)
    );

    // Queue-time error: that command keeps its own error, the others get EXECABORT.
    let mut p = VecPipeline::new();
    let (a, b) = p
        .transaction(|p| -> Result<_, CapacityError> {
            Ok((p.incr("a")?, p.query::<i64>(cmd("NOPE"))?))
        })
        .unwrap();
    send_all(&mut p);
    p.handle_input(b"+OK\r\n+QUEUED\r\n-ERR unknown command 'NOPE'\r\n-EXECABORT Transaction discarded because of previous errors.\r\n")
        .unwrap();
    assert!(p.is_done());
    assert!(
        matches!(a.read(&p), Err(SlotError::Server(e)) if e.kind() == ServerErrorKind::ExecAbort)
    );
    assert!(matches!(b.read(&p), Err(SlotError::Server(e)) if e.kind() == ServerErrorKind::Err));

    // WATCH abort: EXEC answers nil and every command fails as aborted.
    let mut p = VecPipeline::new();
    let w = p.watch("k").unwrap();
    let a = p
        .transaction(|p| -> Result<_, CapacityError> { p.incr("k") })
        .unwrap();
    send_all(&mut p);
    p.handle_input(b"+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n").unwrap();
    assert_eq!(w.read(&p), Ok(()));
    assert_eq!(a.read(&p), Err(SlotError::Failed(Failure::Aborted)));

    // An EXEC array that does not match what was queued fails the slots, not the connection.
    let mut p = VecPipeline::new();
    let a = p
        .transaction(|p| -> Result<_, CapacityError> { p.incr("k") })
        .unwrap();
    send_all(&mut p);
    p.handle_input(b"+OK\r\n+QUEUED\r\n*2\r\n:1\r\n:2\r\n")
        .unwrap();
    assert_eq!(a.read(&p), Err(SlotError::Failed(Failure::ExecMismatch)));
}

#[test]
#[cfg(feature = "transactions")]
fn failed_transaction_closure_sends_nothing() {
    let mut p = VecPipeline::new();
    let keep = p.incr("keep").unwrap();
    #[derive(Debug, PartialEq)]
    enum MyError {
        Full,
        No,
    }
    impl From<CapacityError> for MyError {
        fn from(_: CapacityError) -> Self {
            MyError::Full
        }
    }
    let r: Result<(), MyError> = p.transaction(|p| {
        let _ = p.incr("a")?;
        Err(MyError::No)
    });
    assert_eq!(r, Err(MyError::No));
    assert_eq!(p.len(), 1);
    let out = send_all(&mut p);
    assert_eq!(out, b"*2\r\n$4\r\nINCR\r\n$4\r\nkeep\r\n");
    p.handle_input(b":1\r\n").unwrap();
    assert_eq!(keep.read(&p), Ok(1));
}

#[test]
fn nested_scopes_roll_back_only_their_own_commands() {
    let mut p = VecPipeline::new();
    let outer = p
        .scope(|p| -> Result<_, CapacityError> {
            let a = p.incr("a")?;
            let failed: Result<(), ()> = p.scope(|p| {
                let _ = p.incr("rolled-back").map_err(|_| ())?;
                let inner: Result<(), ()> = p.scope(|p| {
                    let _ = p.incr("deeper").map_err(|_| ())?;
                    Ok(())
                });
                inner?;
                Err(())
            });
            assert!(failed.is_err());
            let b = p.scope(|p| p.incr("b"))?;
            Ok((a, b))
        })
        .unwrap();
    let out = send_all(&mut p);
    assert_eq!(
        out,
        b"*2\r\n$4\r\nINCR\r\n$1\r\na\r\n*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n"
    );
    p.handle_input(b":1\r\n:2\r\n").unwrap();
    assert_eq!((outer.0.read(&p), outer.1.read(&p)), (Ok(1), Ok(2)));
}

#[test]
fn rolled_back_handles_are_stale_not_misassigned() {
    let mut p = VecPipeline::new();
    let mut leaked = None;
    let _: Result<(), ()> = p.scope(|p| {
        leaked = Some(p.incr("gone").map_err(|_| ())?);
        Err(())
    });
    let fresh = p.incr("fresh").unwrap();
    assert_eq!(fresh.index(), leaked.unwrap().index());
    send_all(&mut p);
    p.handle_input(b":5\r\n").unwrap();
    assert_eq!(fresh.read(&p), Ok(5));
    assert_eq!(leaked.unwrap().read(&p), Err(SlotError::Stale));
}

#[test]
fn callbacks_run_in_order_after_every_slot_resolved() {
    use std::sync::{Arc, Mutex};
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut p = VecPipeline::new();
    let keys: Vec<_> = (0..3).map(|i| p.incr(format!("k{i}")).unwrap()).collect();
    let o = order.clone();
    let sum = p.on_execute(move |r| {
        o.lock().unwrap().push("sum");
        keys.iter().map(|k| k.read(r).unwrap()).sum::<i64>()
    });
    let last = p.incr("late").unwrap();
    let o = order.clone();
    let doubled = p.on_execute(move |r| {
        o.lock().unwrap().push("doubled");
        // An earlier callback's value, and a slot queued after it.
        sum.read(r).unwrap() * 2 + last.read(r).unwrap()
    });
    assert_eq!(sum.read(&p), Err(SlotError::Pending));
    send_all(&mut p);
    p.handle_input(b":1\r\n:2\r\n:3\r\n").unwrap();
    assert!(
        order.lock().unwrap().is_empty(),
        "ran before every slot resolved"
    );
    p.handle_input(b":100\r\n").unwrap();
    assert_eq!(*order.lock().unwrap(), ["sum", "doubled"]);
    assert_eq!(sum.read(&p), Ok(&6));
    assert_eq!(doubled.read(&p), Ok(&112));
}

#[test]
fn callbacks_do_not_run_when_the_pipeline_fails() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let ran = Arc::new(AtomicBool::new(false));
    let mut p = VecPipeline::new();
    let a = p.incr("a").unwrap();
    let flag = ran.clone();
    let seen = p.on_execute(move |r| {
        flag.store(true, Ordering::Relaxed);
        a.read(r).unwrap() // as README-style callbacks do: must not panic on a lost connection
    });
    send_all(&mut p);
    p.fail(Failure::Timeout);
    assert!(!ran.load(Ordering::Relaxed));
    assert_eq!(seen.read(&p), Err(SlotError::Failed(Failure::Timeout)));

    // A server error in a slot is a result: callbacks run and see it.
    let mut p = VecPipeline::new();
    let a = p.incr("a").unwrap();
    let seen = p.on_execute(move |r| a.read(r).is_err());
    send_all(&mut p);
    p.handle_input(b"-WRONGTYPE nope\r\n").unwrap();
    assert_eq!(seen.read(&p), Ok(&true));
}

#[test]
fn callbacks_on_an_empty_pipeline_run_on_the_first_loop_step() {
    let mut p = VecPipeline::new();
    let c = p.on_execute(|_| 7);
    assert!(p.is_done());
    assert!(p.poll_output().is_empty());
    p.consume_output(0);
    assert_eq!(c.read(&p), Ok(&7));
}

#[test]
#[cfg(feature = "scripting")]
fn evalsha_falls_back_to_eval_on_noscript() {
    let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let mut p = VecPipeline::new();
    let a = p.eval::<i64>(&script, &["k"], 5).unwrap();
    let b = p.incr("other").unwrap();
    let c = p.eval::<i64>(&script, &["k2"], 1).unwrap();
    let first = send_all(&mut p);
    let sha = script.sha1();
    assert!(
        first.starts_with(
            format!("*5\r\n$7\r\nEVALSHA\r\n$40\r\n{sha}\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\n5\r\n")
                .as_bytes()
        )
    );
    p.handle_input(b"-NOSCRIPT No matching script.\r\n:1\r\n")
        .unwrap();
    assert_eq!(b.read(&p), Ok(1));
    assert_eq!(a.read(&p), Err(SlotError::Pending));
    // The second EVALSHA is already in flight and gets the same answer.
    p.handle_input(b"-NOSCRIPT No matching script.\r\n")
        .unwrap();
    let retry = send_all(&mut p);
    let body = script.body();
    let want = format!(
        "*5\r\n$4\r\nEVAL\r\n${}\r\n{body}\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\n5\r\n*5\r\n$4\r\nEVAL\r\n${}\r\n{body}\r\n$1\r\n1\r\n$2\r\nk2\r\n$1\r\n1\r\n",
        body.len(),
        body.len()
    );
    assert_eq!(String::from_utf8(retry).unwrap(), want);
    assert!(!p.is_done());
    p.handle_input(b":5\r\n:1\r\n").unwrap();
    assert!(p.is_done());
    assert_eq!((a.read(&p), c.read(&p)), (Ok(5), Ok(1)));
}

#[test]
#[cfg(all(feature = "transactions", feature = "scripting"))]
fn eval_inside_a_transaction_sends_the_body() {
    let script = Script::new("return 1");
    let mut p = VecPipeline::new();
    let a = p.transaction(|p| p.eval::<i64>(&script, (), ())).unwrap();
    let out = String::from_utf8(send_all(&mut p)).unwrap();
    assert!(
        out.contains("$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n0\r\n"),
        "{out}"
    );
    p.handle_input(b"+OK\r\n+QUEUED\r\n*1\r\n:1\r\n").unwrap();
    assert_eq!(a.read(&p), Ok(1));
}

#[test]
fn fixed_storage_reports_capacity_and_stays_consistent() {
    // Output full: nothing half-written, earlier commands intact.
    let mut p: HeaplessPipeline<48, 64, 8> = HeaplessPipeline::new();
    let a = p.incr("a").unwrap();
    let before = p.encoded().to_vec();
    let err = p.set("key", "a value that does not fit").unwrap_err();
    assert_eq!(err.store, Store::Output);
    assert_eq!(err.capacity, 48);
    assert_eq!(err.needed, before.len() + 54);
    assert_eq!(p.encoded(), &before[..]);
    assert_eq!(p.len(), 1);

    // Command table full.
    let mut p: HeaplessPipeline<256, 64, 2> = HeaplessPipeline::new();
    let _ = p.incr("a").unwrap();
    let _ = p.incr("b").unwrap();
    let err = p.incr("c").unwrap_err();
    assert_eq!(
        (err.store, err.needed, err.capacity),
        (Store::Commands, 3, 2)
    );
    assert_eq!(p.encoded().len(), 2 * 21);

    // Reply arena full: that slot fails, the others resolve.
    let mut p: HeaplessPipeline<256, 16, 4> = HeaplessPipeline::new();
    let small = p.incr("a").unwrap();
    let big = p.get::<&str>("b").unwrap();
    let after = p.incr("c").unwrap();
    send_all(&mut p);
    p.handle_input(b":1\r\n$20\r\n01234567890123456789\r\n:3\r\n")
        .unwrap();
    assert!(p.is_done());
    assert_eq!(small.read(&p), Ok(1));
    assert!(matches!(
        big.read(&p),
        Err(SlotError::Failed(Failure::Capacity(CapacityError {
            store: Store::Replies,
            ..
        })))
    ));
    assert_eq!(after.read(&p), Ok(3));
    let _ = a;
}

#[test]
fn slice_pipeline_works_without_any_allocator_type() {
    let (mut out, mut replies, mut table) = ([0u8; 256], [0u8; 256], [Entry::EMPTY; 8]);
    let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    let a = p.set("k", 1).unwrap();
    let b = p.get::<Option<&str>>("k").unwrap();
    let c = p
        .query::<Reply<'static>>(cmd("LRANGE").arg("l").arg(0).arg(-1))
        .unwrap();
    send_all(&mut p);
    p.handle_input(b"+OK\r\n$1\r\n1\r\n*2\r\n:1\r\n:2\r\n")
        .unwrap();
    assert_eq!(a.read(&p), Ok(()));
    assert_eq!(b.read(&p), Ok(Some("1")));
    let Reply::Array(items) = c.read(&p).unwrap() else {
        panic!("not an array")
    };
    assert_eq!(
        items.iter().collect::<Vec<_>>(),
        [Reply::Int(1), Reply::Int(2)]
    );
}

#[test]
fn reset_reuses_storage_without_growing() {
    let mut p = VecPipeline::new();
    for round in 0..3 {
        let hs: Vec<_> = (0..100).map(|_| p.incr("n").unwrap()).collect();
        send_all(&mut p);
        let replies: Vec<u8> = (1..=100)
            .flat_map(|i| format!(":{i}\r\n").into_bytes())
            .collect();
        feed_chunked(&mut p, &replies, 17).unwrap();
        assert_eq!(hs[99].read(&p), Ok(100), "round {round}");
        p.reset();
    }
}

#[test]
#[cfg(feature = "scripting")]
fn rewind_resends_everything_for_an_explicit_retry() {
    let script = Script::new("return 1");
    let mut p = VecPipeline::new();
    let a = p.incr("a").unwrap();
    let s = p.eval::<i64>(&script, (), ()).unwrap();
    let b = p.get::<String>("b").unwrap();
    assert!(!p.rewind(), "nothing ran yet, but nothing is done either");
    let first = send_all(&mut p);
    p.handle_input(b":1\r\n-NOSCRIPT No matching script.\r\n")
        .unwrap();
    // The EVAL fallback was appended; the connection dies before the rest arrives.
    let fallback = send_all(&mut p);
    assert!(fallback.starts_with(b"*3\r\n$4\r\nEVAL\r\n"));
    p.fail(Failure::Closed);
    assert_eq!(a.read(&p), Ok(1));
    assert!(p.rewind());
    assert_eq!(a.read(&p), Err(SlotError::Pending));
    // Exactly the original commands again, without the fallback.
    assert_eq!(send_all(&mut p), first);
    p.handle_input(b":2\r\n:1\r\n$1\r\nx\r\n").unwrap();
    assert!(p.is_done());
    assert_eq!(
        (a.read(&p), s.read(&p), b.read(&p)),
        (Ok(2), Ok(1), Ok("x".into()))
    );
}

#[test]
fn a_handle_read_against_another_pipeline_is_stale() {
    let mut a = VecPipeline::new();
    let mut b = VecPipeline::new();
    let ha = a.incr("a").unwrap();
    let hb = b.incr("b").unwrap();
    for p in [&mut a, &mut b] {
        send_all(p);
        p.handle_input(b":1\r\n").unwrap();
    }
    assert_eq!(ha.read(&a), Ok(1));
    assert_eq!(ha.read(&b), Err(SlotError::Stale));
    assert_eq!(hb.read(&a), Err(SlotError::Stale));
}
