//! Entry points for the fuzz targets in `fuzz/` (each target is one line calling one of these).
//! They check invariants and panic when one breaks: that is what the fuzzer looks for.

use crate::decode::{Limits, Scanner, decode_reply};
use crate::deferred::{Deferred, SlotError};
use crate::encode::cmd;
use crate::error::Failure;
use crate::from_reply::FromReply;
use crate::pipeline::{Entry, SlicePipeline};
use crate::reply::Reply;

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
