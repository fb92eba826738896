//! Entry points for the fuzz targets in `fuzz/` (each target is one line calling one of these).
//! They check invariants and panic when one breaks: that is what the fuzzer looks for.

use crate::codec::decode::{Limits, Scanner, Unsolicited, decode_reply, unsolicited};
use crate::codec::encode::cmd;
use crate::codec::error::Failure;
use crate::codec::from_reply::FromReply;
use crate::codec::reply::Reply;
use crate::engine::deferred::{Deferred, SlotError};
use crate::engine::read_buffer::ReadBuffer;
use crate::engine::{Entry, SlicePipeline};
use crate::session::Session;

/// Small limits, so that the fuzzer reaches every limit check quickly.
const LIMITS: Limits = Limits {
    max_bulk_len: 1 << 12,
    max_elements: 64,
    max_depth: 8,
    max_line_len: 256,
    max_reply_len: 1 << 14,
};

/// Walks a reply view completely, as every conversion would.
fn walk(r: &Reply<'_>, budget: &mut usize) {
    *budget = budget.saturating_sub(1);
    if *budget == 0 {
        return;
    }
    if let Reply::Array(a) | Reply::Set(a) | Reply::Push(a) | Reply::Map(a) = r {
        for e in a.iter() {
            walk(&e, budget);
        }
    }
    if let Reply::Double(d) = r {
        let _ = d.value();
    }
}

/// Arbitrary bytes through the reader: the one-shot decoder and the resumable scanner fed in
/// two parts must agree, and every reply they accept must be readable as a view.
pub fn decode(data: &[u8]) {
    let one_shot = decode_reply(data, &LIMITS);
    if let Ok(Some((reply, n))) = &one_shot {
        assert!(*n <= data.len());
        walk(reply, &mut 10_000);
        for ty in [0u8, 1, 2, 3] {
            let _ = match ty {
                0 => i64::from_reply(reply.clone()).map(drop),
                1 => <&str>::from_reply(reply.clone()).map(drop),
                2 => <(i64, &[u8])>::from_reply(reply.clone()).map(drop),
                _ => bool::from_reply(reply.clone()).map(drop),
            };
        }
    }
    // Fed in two parts, the resumable scanner must reach the same verdict as in one go.
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let fresh = Scanner::new().scan(data, &LIMITS);
    let mut s = Scanner::new();
    let resumed = match s.scan(&data[..cut], &LIMITS) {
        Ok(None) => s.scan(data, &LIMITS),
        first => first,
    };
    assert_eq!(fresh, resumed, "cut at {cut}");
    assert_eq!(fresh.map(|n| n.is_some()), one_shot.map(|r| r.is_some()));
}

/// A pipeline of commands whose replies come from arbitrary bytes split at arbitrary points:
/// no panic, and every slot ends with its reply or a clean error.
pub fn pipeline(data: &[u8]) {
    let (Some(&n), Some(&step)) = (data.first(), data.get(1)) else {
        return;
    };
    let commands = usize::from(n % 8) + 1;
    let step = usize::from(step % 16) + 1;
    let input = &data[2..];
    let (mut out, mut replies, mut table) = ([0u8; 512], [0u8; 256], [Entry::EMPTY; 16]);
    let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    p.set_limits(LIMITS);
    let mut handles: [Option<Deferred<Reply<'static>>>; 8] = [None; 8];
    for (i, h) in handles.iter_mut().take(commands).enumerate() {
        #[cfg(feature = "transactions")]
        if i % 3 == 2 {
            *h = p.transaction(|p| p.query(cmd("T").arg(i as u32))).ok();
            continue;
        }
        *h = p.query(cmd("C").arg(i as u32)).ok();
    }
    let sent = p.poll_output().len();
    p.consume_output(sent);
    let mut buf = [0u8; 1024];
    let mut filled = 0;
    let mut failed = None;
    for chunk in input.chunks(step) {
        let room = buf.len() - filled;
        let take = chunk.len().min(room);
        buf[filled..filled + take].copy_from_slice(&chunk[..take]);
        filled += take;
        match p.handle_input(&buf[..filled]) {
            Ok(used) => {
                assert!(used <= filled);
                buf.copy_within(used..filled, 0);
                filled -= used;
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
        if take < chunk.len() {
            break; // a reply longer than our buffer: the transport would fail here
        }
    }
    if !p.is_done() {
        p.fail(Failure::Closed);
    }
    assert!(p.is_done());
    for h in handles.iter().flatten() {
        match h.read(&p) {
            Ok(r) => walk(&r, &mut 1000),
            Err(SlotError::Failed(Failure::Protocol(e))) => assert_eq!(Some(e), failed),
            Err(SlotError::Pending) | Err(SlotError::Stale) => panic!("slot left unresolved"),
            Err(_) => {}
        }
    }
}

/// Bytes that arrive between two pipelines, read in two parts as a transport reads them (the
/// first byte says where to cut): the check before the next pipeline classifies them as in one
/// go, counts every push once, never panics, and lets the pipeline go exactly when nothing but
/// pushes arrived.
pub fn between(data: &[u8]) {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(rest.len());
    let (whole, used, pushes) = unsolicited(rest, &LIMITS);
    assert!(used <= rest.len());

    let mut space = [0u8; 512];
    let mut buf = ReadBuffer::fixed(&mut space);
    if buf.extend(&rest[..cut]).is_err() {
        return;
    }
    let (first, first_pushes) = buf.set_aside_pushes(&LIMITS);
    if first == Unsolicited::Reply {
        // What a part already shows to be a reply stays one.
        assert_eq!(whole, Unsolicited::Reply);
        return;
    }
    if buf.extend(&rest[cut..]).is_err() {
        return;
    }
    let (second, second_pushes) = buf.set_aside_pushes(&LIMITS);
    assert_eq!(second, whole, "cut at {cut}");
    assert_eq!(first_pushes + second_pushes, pushes, "cut at {cut}");

    let mut space = [0u8; 512];
    let mut pending = ReadBuffer::fixed(&mut space);
    if pending.extend(rest).is_err() {
        return;
    }
    let (mut out, mut replies, mut table) = ([0u8; 64], [0u8; 64], [Entry::EMPTY; 2]);
    let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    p.set_limits(LIMITS);
    let Ok(ping) = p.query::<Reply<'static>>(cmd("PING")) else {
        return;
    };
    let accepted = Session::new().before_send(&mut p, &mut pending);
    assert_eq!(
        accepted.is_ok(),
        whole == Unsolicited::Nothing,
        "{accepted:?}"
    );
    assert_eq!(p.pushes_seen(), pushes);
    if accepted.is_err() {
        assert!(matches!(ping.read(&p), Err(SlotError::Failed(_))));
    }
}

/// The longest answer [`shared`] reads: its read buffer's size.
const SHARED_INPUT: usize = 4096;

/// What one run of [`shared`] saw, to compare a run fed in two parts with one fed whole.
#[derive(Debug, PartialEq, Eq)]
struct SharedRun {
    failed: bool,
    pushes: usize,
    push_bytes: usize,
    /// Per slot: 0 a reply, 1 a server error, 2 failed, 3 nothing yet.
    slots: [u8; 8],
}

/// Arbitrary bytes as the answer of a shared connection that carries a fenced submission (the
/// second byte says how many subscription commands, and whether its submitter goes away) and
/// a pipeline after it, read in two parts (the first byte says where to cut): never a panic,
/// every push handed out whole and never in a slot, and the same outcome however it is cut.
pub fn shared(data: &[u8]) {
    let [cut, plan, rest @ ..] = data else {
        return;
    };
    if rest.len() > SHARED_INPUT {
        return; // a fixed read buffer holds the input whole, however it is cut
    }
    let cut = usize::from(*cut).min(rest.len());
    let whole = shared_run(*plan, rest, rest.len());
    let parts = shared_run(*plan, rest, cut);
    assert_eq!(whole, parts, "cut at {cut}");
}

fn shared_run(plan: u8, input: &[u8], cut: usize) -> SharedRun {
    use crate::codec::reply::strip_attributes;
    use crate::codec::storage::SliceStore;
    use crate::mux::{Mux, Slot, fenced_outcomes, queue_fenced};

    let commands = usize::from(plan & 3) + 1;
    let abandon = plan & 4 != 0;
    let sub = b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n";
    let mut subs = [0u8; 128];
    for i in 0..commands {
        subs[i * sub.len()..(i + 1) * sub.len()].copy_from_slice(sub);
    }
    let (mut o1, mut r1, mut t1) = ([0u8; 256], [0u8; 256], [Entry::EMPTY; 8]);
    let mut fenced = SlicePipeline::from_slices(&mut o1, &mut r1, &mut t1);
    fenced.set_limits(LIMITS);
    let Ok(n) = queue_fenced(&mut fenced, &subs[..commands * sub.len()]) else {
        return SharedRun::default();
    };
    assert_eq!(n, commands * sub.len());
    let (mut o2, mut r2, mut t2) = ([0u8; 64], [0u8; 256], [Entry::EMPTY; 2]);
    let mut after = SlicePipeline::from_slices(&mut o2, &mut r2, &mut t2);
    after.set_limits(LIMITS);
    let Ok(ping) = after.query::<Reply<'static>>(cmd("PING")) else {
        return SharedRun::default();
    };
    let mut mux = Mux::new([Slot::VACANT, Slot::VACANT]);
    mux.set_limits(LIMITS);
    let (Ok(tf), Ok(ta)) = (mux.try_submit_fenced(fenced), mux.try_submit(after)) else {
        panic!("a ring of two takes two pipelines");
    };
    let mut space = [0u8; 1024];
    let mut wire = SliceStore::new(&mut space);
    mux.poll_transmit(&mut wire);
    let mut back = None;
    if abandon {
        back = mux.abandon(tf);
        assert!(back.is_some());
    }

    let mut run = SharedRun::default();
    let mut space = [0u8; SHARED_INPUT];
    let mut buf = ReadBuffer::fixed(&mut space);
    for part in [&input[..cut], &input[cut..]] {
        assert!(buf.extend(part).is_ok(), "the input fits the read buffer");
        let read = mux.handle_input_with(buf.filled(), |frame| {
            assert_eq!(Scanner::new().scan(frame, &LIMITS), Ok(Some(frame.len())));
            assert_eq!(strip_attributes(frame).first(), Some(&b'>'));
            run.pushes += 1;
            run.push_bytes += frame.len();
        });
        match read {
            Ok(used) => buf.consume(used),
            Err(_) => {
                run.failed = true;
                assert!(mux.failure().is_some());
                assert!(mux.is_done(ta));
                break;
            }
        }
    }
    let fenced = back.or_else(|| mux.take(tf));
    if let Some(p) = fenced.as_ref().filter(|_| !abandon) {
        for (i, o) in fenced_outcomes(p).enumerate() {
            run.slots[i] = match o {
                Ok(()) => 0,
                Err(SlotError::Server(_)) => 1,
                Err(SlotError::Failed(_)) => 2,
                Err(_) => 3,
            };
        }
    }
    if let Some(p) = mux.take(ta) {
        run.slots[7] = match ping.read(&p) {
            Ok(_) => 0,
            Err(SlotError::Server(_)) => 1,
            Err(SlotError::Failed(_)) => 2,
            Err(_) => 3,
        };
    }
    run
}

impl Default for SharedRun {
    fn default() -> Self {
        Self {
            failed: false,
            pushes: 0,
            push_bytes: 0,
            slots: [3; 8],
        }
    }
}

/// Bytes a subscribed connection may hold past the machine's own.
const SUBSCRIBED_INPUT: usize = 4096;

/// What a subscribed connection made of its input: the events in order (folded into a hash),
/// how many, and whether the stream broke.
#[derive(Debug, PartialEq, Eq)]
struct Heard {
    events: usize,
    hash: u64,
    broken: bool,
}

/// Arbitrary bytes as the server's side of a subscribed connection (RESP2 or RESP3: messages,
/// confirmations, pongs, errors, other pushes), after the second byte's choice of
/// subscriptions and pings, read in two parts (the first byte says where to cut): never a
/// panic, every event within the bytes read, and the same events however the input is cut (a
/// whole `message` frame takes the one-pass reader, a cut one the general reader, which must
/// agree).
pub fn subscribed(data: &[u8]) {
    let [cut, plan, rest @ ..] = data else {
        return;
    };
    if rest.len() > SUBSCRIBED_INPUT {
        return;
    }
    let cut = usize::from(*cut).min(rest.len());
    let whole = subscribed_run(*plan, rest, rest.len());
    let parts = subscribed_run(*plan, rest, cut);
    assert_eq!(whole, parts, "cut at {cut}");
}

fn subscribed_run(plan: u8, input: &[u8], cut: usize) -> Heard {
    use crate::codec::storage::SliceStore;
    use crate::pubsub::{Event, Kind, Subscriptions};

    let (mut out, mut names) = ([0u8; 256], [0u8; 256]);
    let mut subs =
        Subscriptions::with_storage(SliceStore::new(&mut out), SliceStore::new(&mut names));
    subs.set_limits(LIMITS);
    subs.set_cluster(plan & 64 != 0);
    let wanted: [(Kind, &[&str]); 3] = [
        (Kind::Channel, &["c", "news"]),
        (Kind::Pattern, &["h*"]),
        (Kind::Shard, &["s{1}", "s{2}"]),
    ];
    for (i, (kind, names)) in wanted.iter().enumerate() {
        if plan & (1 << i) != 0 {
            assert!(subs.subscribe(*kind, *names).is_ok(), "fixed names fit");
        }
    }
    for _ in 0..(plan >> 3) & 3 {
        assert!(subs.ping().is_ok(), "a ping fits");
    }
    let sent = subs.poll_output().len();
    subs.consume_output(sent);

    let mut heard = Heard {
        events: 0,
        hash: 0xcbf2_9ce4_8422_2325,
        broken: false,
    };
    let mut fold = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            heard.hash = (heard.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    let (mut at, mut end) = (0, cut);
    loop {
        match subs.handle_input(&input[at..end]) {
            Ok(Some((event, n))) => {
                assert!(n > 0 && n <= end - at, "an event takes bytes it was given");
                at += n;
                heard.events += 1;
                match event {
                    Event::Message(m) => {
                        fold(&[m.kind as u8]);
                        fold(m.channel);
                        fold(m.pattern.unwrap_or(b"-"));
                        fold(m.payload);
                        assert_eq!(m.pattern.is_some(), m.kind == Kind::Pattern);
                    }
                    Event::Subscribed { kind, name, count } => {
                        fold(&[b's', kind as u8]);
                        fold(name);
                        fold(&count.to_le_bytes());
                    }
                    Event::Unsubscribed { kind, name, count } => {
                        fold(&[b'u', kind as u8]);
                        fold(name.unwrap_or(b"-"));
                        fold(&count.to_le_bytes());
                    }
                    Event::Pong(b) => {
                        fold(b"pong");
                        fold(b);
                    }
                    Event::Error(e) => {
                        fold(b"err");
                        fold(e.text());
                    }
                    Event::Push(items) => {
                        fold(b"push");
                        let mut budget = 1000;
                        walk(&Reply::Push(items), &mut budget);
                        fold(&(items.len() as u64).to_le_bytes());
                    }
                }
            }
            Ok(None) if end < input.len() => end = input.len(),
            Ok(None) => break,
            Err(_) => {
                heard.broken = true;
                break;
            }
        }
    }
    // A second look at the same machine: what it now wants is what a resubscription sends.
    let _ = subs.resubscribe();
    heard
}
