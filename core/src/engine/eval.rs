//! Lua scripts by SHA1 (feature `scripting`): `EVALSHA`, and on `NOSCRIPT` an `EVAL` of the body
//! queued while replies are read, whose reply fills the `EVALSHA`'s slot.
//!
//! The body is kept in the reply arena (below `arena_floor`, which a rewind keeps) so that the
//! fallback needs no storage of its own; a small cache of offsets stores each body once per
//! pipeline.

use super::table::Role;
use super::{Entry, Pipeline};
use crate::codec::encode::{Args, cmd, count_args, digit_count, write_digits};
use crate::codec::error::{CapacityError, Store};
use crate::codec::from_reply::FromReply;
use crate::codec::storage::{Storage, copy_small};
use crate::engine::deferred::Deferred;
use crate::engine::script::Script;

/// Script bodies remembered for reuse within one pipeline.
pub(super) const SCRIPT_CACHE: usize = 4;
/// An empty slot of the script cache: no 4-byte length header fits at this arena offset.
pub(super) const NO_SCRIPT: u32 = u32::MAX;

impl<O, R, E> Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    /// Queues `EVALSHA` of `script` with an automatic `EVAL` fallback on `NOSCRIPT`.
    ///
    /// Inside a [`transaction`](Self::transaction) it queues `EVAL` with the body instead: a
    /// retry after `EXEC` would no longer be atomic. Outside one, a fallback `EVAL` is sent after
    /// the commands already queued, so it runs after them.
    pub fn eval<T: FromReply + ?Sized>(
        &mut self,
        script: &Script<'_>,
        keys: impl Args,
        args: impl Args,
    ) -> Result<Deferred<T>, CapacityError> {
        if self.tx_open.is_some() {
            return self.query(
                cmd("EVAL")
                    .arg(script.body())
                    .arg(count_args(&keys))
                    .arg(keys)
                    .arg(args),
            );
        }
        let body = self.store_script(script)?;
        let command = cmd("EVALSHA")
            .arg(&script.sha1_bytes()[..])
            .arg(count_args(&keys))
            .arg(keys)
            .arg(args);
        let index = self.push(&command, Role::EvalSha, body)?;
        self.evalsha = true;
        Ok(Deferred::new(index, self.epoch))
    }

    /// Keeps `script`'s body in the arena (once per pipeline) for a possible fallback; returns
    /// its offset. Layout: 4-byte little-endian length, then the body.
    fn store_script(&mut self, script: &Script<'_>) -> Result<u32, CapacityError> {
        let body = script.body().as_bytes();
        if let Some(at) = self
            .scripts
            .iter()
            .find(|at| script_body(self.replies.as_slice(), **at) == Some(body))
        {
            return Ok(*at);
        }
        let start = self.replies.len();
        let full = |r: &R| CapacityError {
            store: Store::Replies,
            needed: start + 4 + body.len(),
            capacity: r.capacity(),
        };
        let at = u32::try_from(start).map_err(|_| full(&self.replies))?;
        let len = u32::try_from(body.len()).map_err(|_| full(&self.replies))?;
        if self
            .replies
            .try_extend_from_slice(&len.to_le_bytes())
            .is_err()
            || self.replies.try_extend_from_slice(body).is_err()
        {
            self.replies.truncate(start);
            return Err(full(&self.replies));
        }
        // Most recent first; an element loop, as `rotate_right` would link `memmove`.
        for i in (1..SCRIPT_CACHE).rev() {
            self.scripts[i] = self.scripts[i - 1];
        }
        self.scripts[0] = at;
        self.arena_floor = self.replies.len();
        Ok(at)
    }

    /// Routes the reply of the `EVALSHA` at `index`: a `NOSCRIPT` error queues the fallback
    /// (when it can), anything else is the slot's result.
    pub(super) fn deliver_evalsha(&mut self, index: usize, body_at: u32, frame: &[u8]) {
        // The code alone, not `kind()`: comparing one word links no table of codes.
        let value = crate::codec::reply::strip_attributes(frame);
        let noscript = matches!(
            crate::codec::reply::Reply::parse(value),
            crate::codec::reply::Reply::Error(e) if e.code() == "NOSCRIPT"
        );
        if !(noscript && self.queue_eval_fallback(index, body_at)) {
            self.store(index, frame);
        }
    }

    /// Appends `EVAL <body> <the EVALSHA's other arguments>` answering slot `index`.
    /// Returns false (and changes nothing) when it cannot.
    fn queue_eval_fallback(&mut self, index: usize, body_at: u32) -> bool {
        let (start, end) = (
            self.out_start(index),
            self.entries.as_slice()[index].out_end as usize,
        );
        let out = self.out.as_slice();
        // The EVALSHA we encoded: "*N\r\n$7\r\nEVALSHA\r\n$40\r\n<sha>\r\n<rest>".
        let Some(header_len) = out[start..end].windows(2).position(|w| w == b"\r\n") else {
            return false;
        };
        let header_end = start + header_len + 2;
        let rest = header_end + b"$7\r\nEVALSHA\r\n$40\r\n".len() + 40 + 2;
        if out.get(header_end..header_end + 13) != Some(b"$7\r\nEVALSHA\r\n") || rest > end {
            return false;
        }
        let Some(body) = script_body(self.replies.as_slice(), body_at) else {
            return false;
        };
        let before = self.out.len();
        let ok = extend_from_within(&mut self.out, start..header_end)
            && self.out.try_extend_from_slice(b"$4\r\nEVAL\r\n$").is_ok()
            && self
                .out
                .try_extend_for_write(digit_count(body.len()))
                .map(|d| write_digits(d, body.len()))
                .is_ok()
            && self.out.try_extend_from_slice(b"\r\n").is_ok()
            && self.out.try_extend_from_slice(body).is_ok()
            && self.out.try_extend_from_slice(b"\r\n").is_ok()
            && extend_from_within(&mut self.out, rest..end);
        let out_end = u32::try_from(self.out.len());
        let pushed = ok
            && out_end.is_ok()
            && self
                .entries
                .try_push(Entry {
                    out_end: out_end.unwrap_or_default(),
                    epoch: self.epoch,
                    role_arg: index as u32,
                    role: Role::EvalFallback,
                    ..Entry::EMPTY
                })
                .is_ok();
        if !pushed {
            self.out.truncate(before);
        }
        pushed
    }
}

/// The script body stored at arena offset `at` by `Pipeline::store_script`.
fn script_body(arena: &[u8], at: u32) -> Option<&[u8]> {
    let at = at as usize;
    let len = u32::from_le_bytes(arena.get(at..at + 4)?.try_into().ok()?) as usize;
    arena.get(at + 4..at + 4 + len)
}

/// Appends a copy of `out[range]` to `out`, or nothing.
fn extend_from_within<S: Storage<u8> + ?Sized>(
    out: &mut S,
    range: core::ops::Range<usize>,
) -> bool {
    let before = out.len();
    if out.try_extend_for_write(range.len()).is_err() {
        return false;
    }
    // The copy lands after the source: two disjoint halves, no overlapping move.
    let (head, tail) = out.as_mut_slice().split_at_mut(before);
    copy_small(tail, &head[range]);
    true
}
