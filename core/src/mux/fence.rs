//! Fenced submissions: subscription commands on a shared RESP3 connection, between pipelines.
//!
//! In RESP3 the server confirms `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE` and their
//! `UNSUBSCRIBE` forms with pushes, out of band ("the reply of these commands is a push", in
//! the RESP3 specification), so such a command has no reply in the stream that matches replies
//! to commands by order, unless the server refuses it: a refusal (`-NOPERM` from an ACL,
//! `-ERR` for a bad argument) is an ordinary error reply, in band. Whether a reply will come is
//! therefore not known when the command is written. A fence makes it known: each subscription
//! command is followed by a `PING` of a fixed argument (the fence), answered in band by that
//! argument. What arrives in band before the fence's answer is the subscription command's
//! refusal; the fence's answer alone means it was accepted. The pipeline of a fenced submission
//! thus alternates subscription commands and fences ([`queue_fenced`]), and its slots read as
//! usual: `+OK` (synthesized) for an accepted command, the server's error for a refused one,
//! the fence's argument for each fence.
//!
//! Anything else in band before a fence's answer (a RESP2 confirmation array, a reply the
//! fence did not ask for) breaks the protocol: the connection fails, rather than a reply being
//! handed to the wrong command.

use super::*;
use crate::engine::deferred::{Deferred, SlotError};

/// The fence: `PING redpipe:fence`.
pub const FENCE: &[u8] = b"*2\r\n$4\r\nPING\r\n$13\r\nredpipe:fence\r\n";
/// Its answer in RESP3: the argument as a bulk string.
const FENCE_REPLY: &[u8] = b"$13\r\nredpipe:fence\r\n";
/// What an accepted subscription command's slot reads.
const ACCEPTED: &[u8] = b"+OK\r\n";

/// Queues into `p` each whole RESP command at the front of `commands` (as
/// [`Subscriptions::poll_output`](crate::pubsub::Subscriptions::poll_output) gives them), each
/// followed by the [`FENCE`], for [`Mux::try_submit_fenced`]. Returns how many bytes of
/// `commands` it queued (whole commands only: the caller reports that many sent, e.g. with
/// [`Subscriptions::consume_output`](crate::pubsub::Subscriptions::consume_output)).
///
/// `p` MUST be empty: its commands' slots then alternate, subscription command (even index)
/// and fence (odd index), as [`fenced_outcomes`] reads them. On `Err` (the pipeline's storage
/// is full) the pipeline is as it was.
pub fn queue_fenced<O: Storage<u8>, R: Storage<u8>, E: Storage<Entry>>(
    p: &mut Pipeline<O, R, E>,
    commands: &[u8],
) -> Result<usize, CapacityError> {
    let mark = p.mark();
    let mut used = 0;
    while used < commands.len() {
        let rest = &commands[used..];
        let Ok(Some(n)) = Scanner::new().scan(rest, &Limits::default()) else {
            break; // not a whole command: never sent, as it would break the stream
        };
        let queued = p
            .query_encoded(&rest[..n])
            .and_then(|_| p.query_encoded(FENCE));
        match queued {
            Ok(_) => used += n,
            // Not a command (`query_encoded` refuses what is not one array): left unsent.
            Err(e) if e.needed == 0 => break,
            Err(e) => {
                p.rollback(mark);
                return Err(e);
            }
        }
    }
    Ok(used)
}

/// The outcome of each subscription command of a fenced pipeline ([`queue_fenced`]), in the
/// order queued: `Ok(())` when the server accepted it (its confirmations come as pushes),
/// [`SlotError::Server`] when it refused it, [`SlotError::Failed`] when the connection failed
/// first.
pub fn fenced_outcomes<O: Storage<u8>, R: Storage<u8>, E: Storage<Entry>>(
    p: &Pipeline<O, R, E>,
) -> impl Iterator<Item = Result<(), SlotError<'_>>> {
    (0..p.len()).step_by(2).map(move |i| {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        Deferred::<crate::Reply<'static>>::new(index, p.epoch())
            .read(p)
            .map(drop)
    })
}

/// Fences not yet answered among `waiting` commands committed from index `answered` on: the
/// odd indexes of that range.
pub(super) fn fences_in(answered: usize, waiting: usize) -> usize {
    (answered.saturating_add(waiting) / 2).saturating_sub(answered / 2)
}

/// What one complete in-band frame `frame` is to a fenced pipeline whose next slot is
/// `answered`: the bytes to feed it (one or two replies), or a protocol error.
pub(super) fn fenced_feed(answered: usize, frame: &[u8]) -> Result<FencedFeed, DecodeError> {
    let body = strip_attributes(frame);
    if answered % 2 == 1 {
        return match body == FENCE_REPLY {
            true => Ok(FencedFeed::Frame),
            false => Err(DecodeError::UnexpectedReply),
        };
    }
    match body.first() {
        Some(b'-' | b'!') => Ok(FencedFeed::Frame),
        _ if body == FENCE_REPLY => Ok(FencedFeed::AcceptedThenFrame),
        _ => Err(DecodeError::UnexpectedReply),
    }
}

/// How a fenced pipeline takes a frame.
pub(super) enum FencedFeed {
    /// The frame answers its next slot.
    Frame,
    /// Its next slot (a subscription command) was accepted; the frame answers the fence after.
    AcceptedThenFrame,
}

impl FencedFeed {
    /// Feeds `frame` to `p` as this says.
    pub(super) fn apply<O: Storage<u8>, R: Storage<u8>, E: Storage<Entry>>(
        self,
        p: &mut Pipeline<O, R, E>,
        frame: &[u8],
    ) -> Result<(), DecodeError> {
        if let Self::AcceptedThenFrame = self {
            p.handle_own_input(ACCEPTED)?;
        }
        p.handle_own_input(frame).map(drop)
    }
}

/// Whether a frame an abandoned fenced pipeline reads is one of its fences' answers (counted),
/// an error of one of its subscription commands (dropped), or nothing it could be sent.
pub(super) fn discarded_is_fence(frame: &[u8]) -> Result<bool, DecodeError> {
    let body = strip_attributes(frame);
    match body.first() {
        _ if body == FENCE_REPLY => Ok(true),
        Some(b'-' | b'!') => Ok(false),
        _ => Err(DecodeError::UnexpectedReply),
    }
}
