//! [`Relay`]: one session's byte streams, sans-I/O — client bytes in, commands for Redis and
//! replies for the client out.
//!
//! The relay reads the client's stream with the core's [`Scanner`] (commands are RESP arrays,
//! as replies are), asks the session's [`Access`] about each command, forwards the allowed ones
//! (rewritten where confinement says so) and answers a denied one with an error **in that
//! command's place**: it keeps a queue with one entry per command in flight, so the client's
//! `n`-th reply is always the answer to its `n`-th command, denied or not. Redis's replies
//! are forwarded as they arrive, never held whole: the core's [`Splitter`] follows them to
//! know where each ends (a 60 MB `GET` passes through in pieces, each byte copied once). RESP3
//! pushes answer no command and pass straight through.
//!
//! A denied command inside `MULTI` makes the transaction fail as Redis itself fails one with a
//! command refused while queueing: its `EXEC` goes to Redis as `DISCARD`, and the client gets
//! `EXECABORT` in the `EXEC`'s place (a client that unpacks `EXEC`'s array by position would
//! otherwise read its results shifted). A nested `MULTI` (which Redis refuses without leaving
//! the transaction) does not clear that.
//!
//! A **subscriber** relay ([`Relay::subscriber`]) carries one Pub/Sub session: the client sends
//! subscription commands (judged by [`Access::judge_subscriber`]) and Redis speaks whenever a
//! message is published, so nothing pairs replies with commands. Every frame from Redis passes
//! through as it comes (still split, so the limits apply); a refused command is answered at
//! once with its error, which the client's subscription machine reads as the answer to its
//! oldest unanswered command (send one subscription command at a time to know which one).
//!
//! Memory is bounded by the caller: it stops reading the client while [`Relay::pending`]
//! reaches its limit, and counts [`Relay::buffered`] against its budget; [`Limits`] bound the
//! largest command kept whole while it arrives.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use redpipe::Reply;
use redpipe::core::{Limits, Scanner, Splitter, decode_reply};
use redpipe::error::DecodeError;

use crate::policy::{Access, Verdict};

/// What the client gets in the place of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// Redis's reply.
    Forward,
    /// This error, now (the command was not sent).
    Deny(Vec<u8>),
    /// This error instead of Redis's reply (a poisoned `EXEC`, sent as `DISCARD`).
    Replace(Vec<u8>),
}

/// Why a session's stream cannot go on; the session closes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayError {
    /// The client sent something that is not a command (an array of bulk strings), or broke
    /// the protocol.
    Client(DecodeError),
    /// Redis sent something that is not RESP, or a reply over the limits.
    Redis(DecodeError),
}

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client(e) => write!(f, "client protocol error: {e}"),
            Self::Redis(e) => write!(f, "redis protocol error: {e}"),
        }
    }
}

impl core::error::Error for RelayError {}

/// One session's relay state; see the [module docs](self).
#[derive(Debug)]
pub struct Relay {
    access: Access,
    /// Bounds on one command from the client.
    command_limits: Limits,
    /// Bounds on one reply from Redis.
    reply_limits: Limits,
    /// Client bytes of a command still arriving.
    commands: Vec<u8>,
    command_scan: Scanner,
    replies: Splitter,
    /// Whether the reply in progress is held back (it answers a poisoned `EXEC`, or turns out
    /// to be a push arriving before that answer), and its bytes so far.
    holding: bool,
    held: Vec<u8>,
    slots: VecDeque<Slot>,
    tx: Tx,
    to_redis: Vec<u8>,
    to_client: Vec<u8>,
    received: u64,
    denied: u64,
    /// A Pub/Sub session: no reply slots, subscription commands only.
    subscriber: bool,
}

/// The transaction state of the client's stream: inside `MULTI` (forwarded), and whether a
/// command of it was denied.
#[derive(Debug, Default)]
struct Tx {
    multi: bool,
    poisoned: bool,
}

impl Tx {
    /// Records the verdict on the command `name`, and what the client gets for it.
    fn judge(&mut self, name: &[u8], verdict: &Verdict) -> Slot {
        let is = |w: &[u8]| name.eq_ignore_ascii_case(w);
        if let Verdict::Deny(denial) = verdict {
            // Anywhere inside MULTI, nested MULTIs or not: the transaction must not run.
            self.poisoned |= self.multi;
            return Slot::Deny(denial.to_resp());
        }
        if is(b"MULTI") {
            // Redis refuses a nested MULTI and stays in the transaction: so does the state,
            // keeping what was denied before it.
            if !self.multi {
                self.multi = true;
                self.poisoned = false;
            }
        } else if is(b"EXEC") || is(b"DISCARD") {
            let poisoned = self.multi && self.poisoned && is(b"EXEC");
            self.multi = false;
            self.poisoned = false;
            if poisoned {
                return Slot::Replace(EXECABORT.to_vec());
            }
        }
        Slot::Forward
    }
}

const EXECABORT: &[u8] =
    b"-EXECABORT Transaction discarded because of previous errors (a command was denied by the bridge).\r\n";

/// `words` as a RESP array of bulk strings, appended to `out`.
fn encode(words: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for w in words {
        out.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
        out.extend_from_slice(w);
        out.extend_from_slice(b"\r\n");
    }
}

impl Relay {
    /// A relay applying `access`, with bounds on one command and one reply.
    pub fn new(access: Access, command_limits: Limits, reply_limits: Limits) -> Self {
        Self {
            access,
            command_limits,
            reply_limits,
            commands: Vec::new(),
            command_scan: Scanner::new(),
            replies: Splitter::new(),
            holding: false,
            held: Vec::new(),
            slots: VecDeque::new(),
            tx: Tx::default(),
            to_redis: Vec::new(),
            to_client: Vec::new(),
            received: 0,
            denied: 0,
            subscriber: false,
        }
    }

    /// A relay for a Pub/Sub session: see the [module docs](self).
    pub fn subscriber(access: Access, command_limits: Limits, reply_limits: Limits) -> Self {
        Self {
            subscriber: true,
            ..Self::new(access, command_limits, reply_limits)
        }
    }

    /// Commands whose replies the client still waits for.
    pub fn pending(&self) -> usize {
        self.slots.len()
    }

    /// Commands received so far.
    pub fn commands(&self) -> u64 {
        self.received
    }

    /// Commands denied so far.
    pub fn denied(&self) -> u64 {
        self.denied
    }

    /// Whether bytes of an unfinished command are kept.
    pub fn has_partial_command(&self) -> bool {
        !self.commands.is_empty()
    }

    /// Bytes the relay holds: what it allocated for an unfinished command and a held reply,
    /// and output not yet taken.
    pub fn buffered(&self) -> usize {
        self.commands.capacity() + self.held.capacity() + self.to_redis.len() + self.to_client.len()
    }

    /// Takes the bytes to write to Redis.
    pub fn take_to_redis(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_redis)
    }

    /// Takes the bytes to send to the client (one binary message).
    pub fn take_to_client(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_client)
    }

    /// Takes in bytes from the client: every complete command is judged and queued.
    pub fn handle_client(&mut self, bytes: &[u8]) -> Result<(), RelayError> {
        // Most messages hold whole commands: read them in place, keep only a tail.
        let mut kept = std::mem::take(&mut self.commands);
        let input: &[u8] = if kept.is_empty() {
            bytes
        } else {
            kept.extend_from_slice(bytes);
            &kept
        };
        let mut used = 0;
        loop {
            let rest = &input[used..];
            let n = match self.command_scan.scan(rest, &self.command_limits) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => return Err(RelayError::Client(e)),
            };
            let command = &rest[..n];
            let words = words(command).ok_or(RelayError::Client(DecodeError::UnexpectedReply))?;
            let verdict = if self.subscriber {
                self.access.judge_subscriber(&words)
            } else {
                self.access.judge(&words)
            };
            let slot = self.tx.judge(words[0], &verdict);
            self.received += 1;
            match (&slot, verdict) {
                (Slot::Deny(_), _) => self.denied += 1,
                (Slot::Replace(_), _) => {
                    self.to_redis.extend_from_slice(b"*1\r\n$7\r\nDISCARD\r\n")
                }
                (Slot::Forward, Verdict::Rewrite(words)) => encode(&words, &mut self.to_redis),
                (Slot::Forward, _) => self.to_redis.extend_from_slice(command),
            }
            // A subscriber's commands are answered by frames that name no command.
            if !(self.subscriber && slot == Slot::Forward) {
                self.slots.push_back(slot);
            }
            used += n;
        }
        let tail = &input[used..];
        if !tail.is_empty() {
            if kept.is_empty() {
                self.commands = tail.to_vec();
            } else {
                kept.drain(..used);
                // What a large command left behind is not kept for the next small one.
                if kept.capacity() > 64 * 1024 && kept.capacity() > 4 * kept.len() {
                    kept.shrink_to_fit();
                }
                self.commands = kept;
            }
        }
        self.answer_denied();
        Ok(())
    }

    /// Answers the denied commands at the front of the queue: nothing before them waits.
    fn answer_denied(&mut self) {
        while let Some(Slot::Deny(_)) = self.slots.front() {
            if let Some(Slot::Deny(error)) = self.slots.pop_front() {
                self.to_client.extend_from_slice(&error);
            }
        }
    }

    /// Takes in bytes from Redis: they go on to the client as they come, each complete reply
    /// in its command's place.
    pub fn handle_redis(&mut self, bytes: &[u8]) -> Result<(), RelayError> {
        let mut at = 0;
        while at < bytes.len() {
            if self.replies.at_boundary() {
                self.holding = matches!(self.slots.front(), Some(Slot::Replace(_)));
            }
            let rest = &bytes[at..];
            let split = self
                .replies
                .split(rest, &self.reply_limits)
                .map_err(RelayError::Redis)?;
            let (n, end) = match split {
                Some((n, push)) => (n, Some(push)),
                None => (rest.len(), None),
            };
            if self.holding {
                self.held.extend_from_slice(&rest[..n]);
            } else {
                self.to_client.extend_from_slice(&rest[..n]);
            }
            at += n;
            let Some(push) = end else { break };
            let held = std::mem::take(&mut self.held);
            if push {
                self.to_client.extend_from_slice(&held);
                continue;
            }
            match self.slots.pop_front() {
                Some(Slot::Replace(error)) => self.to_client.extend_from_slice(&error),
                // A reply with no command waiting (cannot happen with Redis) went on as it
                // came: the client's own rules refuse it.
                Some(Slot::Forward) | None => {}
                // Unreachable: denials at the front are answered at once. Keep the order
                // anyway.
                Some(Slot::Deny(error)) => self.to_client.extend_from_slice(&error),
            }
            self.answer_denied();
        }
        Ok(())
    }
}

/// The words of a command: an array of bulk strings, at least one.
fn words(command: &[u8]) -> Option<Vec<&[u8]>> {
    let limits = Limits {
        max_reply_len: usize::MAX,
        ..Limits::default()
    };
    let Ok(Some((Reply::Array(items), _))) = decode_reply(command, &limits) else {
        return None;
    };
    let words: Vec<&[u8]> = items
        .iter()
        .map(|w| match w {
            Reply::Bulk(b) => Some(b),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (!words.is_empty()).then_some(words)
}
