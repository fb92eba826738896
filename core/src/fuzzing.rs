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
