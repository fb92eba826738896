//! The sans-I/O run loop: bytes out ([`Pipeline::poll_output`]), replies in
//! ([`Pipeline::handle_input`]), failure ([`Pipeline::fail`]), and replies that arrive by another
//! way than this pipeline's own stream ([`Pipeline::resolve`]).

use super::table::{Role, State};
use super::{Entry, Pipeline};
use crate::codec::decode::Scanner;
use crate::codec::error::{DecodeError, Failure};
use crate::codec::reply::strip_attributes;
use crate::codec::storage::Storage;

/// Why [`Pipeline::resolve`] refused a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    /// No command has this index.
    NoSuchCommand,
    /// The command already has its result (or failed).
    NotWaiting,
    /// The bytes are not exactly one complete reply within the pipeline's limits.
    Invalid(DecodeError),
    /// The bytes are an incomplete reply.
    Incomplete,
}

impl core::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoSuchCommand => f.write_str("no command at this index"),
            Self::NotWaiting => f.write_str("the command already has its result"),
            Self::Invalid(e) => {
                f.write_str("not one valid reply: ")?;
                e.fmt(f)
            }
            Self::Incomplete => f.write_str("incomplete reply"),
        }
    }
}

impl core::error::Error for ResolveError {}

impl<O, R, E> Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    pub(super) fn out_start(&self, index: usize) -> usize {
        match index.checked_sub(1) {
            Some(prev) => self.entries.as_slice()[prev].out_end as usize,
            None => 0,
        }
    }

    /// The encoded bytes of the command at `index` (a RESP array of bulk strings), for
    /// transports that send commands elsewhere than in this pipeline's order, such as a cluster
    /// router splitting it by node.
    pub fn command(&self, index: usize) -> Option<&[u8]> {
        let end = self.entries.as_slice().get(index)?.out_end as usize;
        self.out.as_slice().get(self.out_start(index)..end)
    }

    /// Bytes to send now; report what was sent with [`consume_output`](Self::consume_output).
    ///
    /// Empty when everything in the window is sent, or after a failure.
    #[must_use]
    pub fn poll_output(&self) -> &[u8] {
        let entries = self.entries.as_slice();
        let mut limit = self
            .next_reply
            .saturating_add(self.window)
            .min(entries.len());
        if self.failure.is_some() || limit == 0 {
            return &[];
        }
        if self.window_bytes > 0 && limit > self.next_reply + 1 {
            limit = self.next_reply + self.fit_bytes(limit - self.next_reply);
        }
        let end = entries[limit - 1].out_end as usize;
        self.out.as_slice().get(self.sent..end).unwrap_or_default()
    }

    /// How many of the `n` commands from the oldest unanswered one fit the byte window with the
    /// replies expected for them (at least 1): the window over the mean size of a command plus
    /// the expected reply. A mean, not a sum per command, keeps this O(1) and small; the bound
    /// is soft by nature (replies are estimated).
    fn fit_bytes(&self, n: usize) -> usize {
        let command = self.out.len() / self.entries.len().max(1);
        let per = command.saturating_add(self.reply_estimate()).max(1);
        (self.window_bytes / per).clamp(1, n)
    }

    /// Records that the first `n` bytes of [`poll_output`](Self::poll_output) were sent.
    pub fn consume_output(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.out.len());
        let entries = self.entries.as_slice();
        while self.sent_entries < entries.len()
            && entries[self.sent_entries].out_end as usize <= self.sent
        {
            self.sent_entries += 1;
        }
        #[cfg(feature = "alloc")]
        self.run_callbacks_if_done();
    }

    /// The start of [`poll_output`](Self::poll_output) that holds whole commands only, as many
    /// as fit `room` bytes counting `per_reply` more for each (the reply it will bring): what a
    /// shared connection commits for this pipeline, so that no other pipeline's bytes can follow
    /// a command cut in two. Empty when the next command alone does not fit.
    pub(crate) fn output_within(&self, room: usize, per_reply: usize) -> &[u8] {
        let out = self.poll_output();
        let waiting = &self.entries.as_slice()[self.sent_entries..];
        let cost = |k: usize| {
            (waiting[k].out_end as usize - self.sent)
                .saturating_add((k + 1).saturating_mul(per_reply))
        };
        // The commands `poll_output` offers, and of those the longest run whose cost fits:
        // usually all of them.
        let offered = waiting.partition_point(|e| e.out_end as usize <= self.sent + out.len());
        if offered > 0 && cost(offered - 1) <= room {
            return out;
        }
        let (mut fit, mut over) = (0, offered);
        while fit < over {
            let mid = fit + (over - fit) / 2;
            if cost(mid) <= room {
                fit = mid + 1;
            } else {
                over = mid;
            }
        }
        match fit.checked_sub(1) {
            Some(last) => &out[..waiting[last].out_end as usize - self.sent],
            None => &[],
        }
    }

    /// The length of the next command to send (0 when none is queued).
    pub(crate) fn next_command_len(&self) -> usize {
        self.command(self.sent_entries).map_or(0, <[u8]>::len)
    }

    /// Commands handed to the transport whose replies have not arrived.
    pub(crate) fn unanswered(&self) -> usize {
        self.sent_entries.saturating_sub(self.next_reply)
    }

    /// Forgets a frame it began to scan: the mux took it (a push, handed out).
    pub(crate) fn restart_scan(&mut self) {
        self.scanner.reset();
    }

    /// Replies (or failures) the pipeline has taken so far, in command order.
    pub(crate) fn answered(&self) -> usize {
        self.next_reply
    }

    /// Whether every queued command was handed to the transport.
    pub(crate) fn is_sent(&self) -> bool {
        self.sent_entries == self.entries.len()
    }

    /// Whether commands may still be queued while its replies are read: an `EVALSHA` answered
    /// `NOSCRIPT` queues its `EVAL` then. A shared connection sends nothing after such a
    /// pipeline until it is done, so that the `EVAL` stays with its pipeline on the wire.
    pub(crate) fn may_grow(&self) -> bool {
        // An `EVALSHA` whose own reply has not been read yet may still answer `NOSCRIPT`.
        #[cfg(feature = "scripting")]
        if self.evalsha {
            let unread = self.entries.as_slice().get(self.next_reply..);
            return unread.is_some_and(|rest| rest.iter().any(|e| e.role == Role::EvalSha));
        }
        false
    }

    /// Feeds bytes read from the server; returns how many were used (whole replies only).
    ///
    /// The caller MUST drop that many bytes from the front of its buffer and pass the rest again,
    /// followed by newly read bytes, on the next call. An error means the stream broke the
    /// protocol: every waiting slot then fails with [`Failure::Protocol`] and the connection
    /// MUST be closed.
    pub fn handle_input(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        self.feed(input, false)
    }

    /// [`handle_input`](Self::handle_input) that stops after the pipeline's last reply: the bytes
    /// after it answer whoever comes next on a shared connection (see [`Mux`](crate::mux::Mux)).
    pub(crate) fn handle_own_input(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        self.feed(input, true)
    }

    #[inline(always)]
    fn feed(&mut self, input: &[u8], own: bool) -> Result<usize, DecodeError> {
        match self.failure {
            None => {}
            Some(Failure::Protocol(e)) => return Err(e),
            Some(_) => return Err(DecodeError::UnexpectedReply),
        }
        let mut used = 0;
        while used < input.len() && !(own && self.is_done()) {
            let step = self
                .scanner
                .scan(&input[used..], &self.limits)
                .and_then(|n| match n {
                    Some(n) => self
                        .deliver(&input[used..used + n], own)
                        .map(|taken| (n, taken)),
                    None => Ok((0, false)),
                });
            match step {
                Ok((n, true)) => used += n,
                // Need more bytes; or a push on a shared connection, which the mux hands out.
                Ok((_, false)) => break,
                Err(e) => {
                    self.fail(Failure::Protocol(e));
                    return Err(e);
                }
            }
        }
        #[cfg(feature = "alloc")]
        self.run_callbacks_if_done();
        Ok(used)
    }

    /// Lets the replies read after a failed write answer the command that was being written
    /// (see `salvage!` in the drivers).
    #[cfg(feature = "embedded-io")]
    pub(crate) fn note_write_failure(&mut self) {
        self.write_failed = true;
    }

    /// Ends the pipeline: every slot still waiting fails with `failure`. Call it when the
    /// connection closes, errors or times out. Later commands fail at once.
    pub fn fail(&mut self, failure: Failure) {
        if self.failure.is_none() {
            self.failure = Some(failure);
        }
        for e in self.entries.as_mut_slice() {
            if e.state.is_waiting() {
                e.state = State::Failed;
            }
        }
        self.next_reply = self.entries.len();
        self.scanner.reset();
        #[cfg(feature = "alloc")]
        self.run_callbacks_if_done();
    }

    /// Puts `frame`, one complete reply, into the slot of the command at `index`, as if it had
    /// arrived for it on this pipeline's stream: for transports that send a command by another
    /// way (a cluster node, a redirection) and bring its reply back.
    ///
    /// The reply is validated against the pipeline's limits, as any reply from the network. Hidden
    /// roles work as on the stream: the reply at a transaction's `EXEC` index fills the slots of
    /// its commands. The pipeline is done once every command is resolved (or failed).
    ///
    /// ```
    /// use redpipe_core::{prelude::*, VecPipeline};
    /// let mut p = VecPipeline::new();
    /// let a = p.get::<String>("on-node-a").unwrap();
    /// let b = p.get::<String>("on-node-b").unwrap();
    /// // The commands went to two nodes; their replies come back in any order.
    /// p.resolve(b.index(), b"$2\r\nbb\r\n").unwrap();
    /// assert!(!p.is_done());
    /// p.resolve(a.index(), b"$2\r\naa\r\n").unwrap();
    /// assert!(p.is_done());
    /// assert_eq!((a.read(&p).unwrap(), b.read(&p).unwrap()), ("aa".into(), "bb".into()));
    /// ```
    pub fn resolve(&mut self, index: usize, frame: &[u8]) -> Result<(), ResolveError> {
        let entry = self.waiting_entry(index)?;
        match Scanner::new().scan(frame, &self.limits) {
            Ok(Some(n)) if n == frame.len() => {}
            Ok(Some(_)) => return Err(ResolveError::Invalid(DecodeError::UnexpectedReply)),
            Ok(None) => return Err(ResolveError::Incomplete),
            Err(e) => return Err(ResolveError::Invalid(e)),
        }
        self.resolve_scanned(index, entry, frame);
        Ok(())
    }

    /// [`resolve`](Self::resolve) of a frame already known to be one whole reply within this
    /// pipeline's limits: one a pipeline with the same limits read and validated (the cluster
    /// router moving a node's reply into the caller's pipeline), so it is not scanned again.
    #[cfg(feature = "alloc")]
    pub(crate) fn resolve_trusted(
        &mut self,
        index: usize,
        frame: &[u8],
    ) -> Result<(), ResolveError> {
        let entry = self.waiting_entry(index)?;
        self.resolve_scanned(index, entry, frame);
        Ok(())
    }

    /// The entry of command `index`, if it still waits for its reply.
    fn waiting_entry(&self, index: usize) -> Result<Entry, ResolveError> {
        let entry = *self
            .entries
            .as_slice()
            .get(index)
            .ok_or(ResolveError::NoSuchCommand)?;
        if entry.state.is_waiting() {
            Ok(entry)
        } else {
            Err(ResolveError::NotWaiting)
        }
    }

    fn resolve_scanned(&mut self, index: usize, entry: Entry, frame: &[u8]) {
        self.route(index, entry, frame);
        let entries = self.entries.as_slice();
        while self.next_reply < entries.len() && !entries[self.next_reply].state.is_waiting() {
            self.next_reply += 1;
        }
        #[cfg(feature = "alloc")]
        self.run_callbacks_if_done();
    }

    /// Fails the command at `index` alone, with `failure`, as if its connection had failed
    /// while the others go on: for transports that send commands by other ways (a cluster
    /// node that stopped answering fails only the commands sent to it). A transaction's
    /// commands are failed one by one, `MULTI` and `EXEC` included.
    ///
    /// ```
    /// use redpipe_core::{prelude::*, Failure, SlotError, VecPipeline};
    /// let mut p = VecPipeline::new();
    /// let a = p.incr("on-node-a").unwrap();
    /// let b = p.incr("on-node-b").unwrap();
    /// p.fail_command(a.index(), Failure::Closed).unwrap();
    /// p.resolve(b.index(), b":1\r\n").unwrap();
    /// assert_eq!(a.read(&p), Err(SlotError::Failed(Failure::Closed)));
    /// assert_eq!(b.read(&p), Ok(1));
    /// ```
    #[cfg(feature = "alloc")]
    pub fn fail_command(&mut self, index: usize, failure: Failure) -> Result<(), ResolveError> {
        let entry = self
            .entries
            .as_mut_slice()
            .get_mut(index)
            .ok_or(ResolveError::NoSuchCommand)?;
        if !entry.state.is_waiting() {
            return Err(ResolveError::NotWaiting);
        }
        entry.state = State::Failed;
        self.failed.push((index as u32, failure));
        let entries = self.entries.as_slice();
        while self.next_reply < entries.len() && !entries[self.next_reply].state.is_waiting() {
            self.next_reply += 1;
        }
        self.run_callbacks_if_done();
        Ok(())
    }

    /// Why the failed command at `index` has no reply.
    pub(super) fn failure_of(&self, index: u32) -> Failure {
        #[cfg(feature = "alloc")]
        if let Some((_, f)) = self.failed.iter().find(|(i, _)| *i == index) {
            return *f;
        }
        let _ = index;
        self.failure.unwrap_or(Failure::Closed)
    }

    /// Routes one complete reply from the stream to the entry waiting for it; whether it took
    /// it (a push on a shared connection, `own`, is left for the mux to hand out).
    #[inline]
    fn deliver(&mut self, frame: &[u8], own: bool) -> Result<bool, DecodeError> {
        if strip_attributes(frame).first() == Some(&b'>') {
            // Out-of-band data (RESP3 push): not a reply to any command.
            if own {
                return Ok(false);
            }
            self.pushes += 1;
            return Ok(true);
        }
        self.reply_bytes = self.reply_bytes.saturating_add(frame.len());
        let index = self.next_reply;
        // A reply for a command not sent whole answers nothing; but once a write failed, a
        // server may have answered a command it got only part of (Redis's `-ERR Protocol
        // error` before it closes).
        if index >= self.sent_entries
            && !(index == self.sent_entries
                && self.write_failed
                && self.sent > self.out_start(index))
        {
            return Err(DecodeError::UnexpectedReply);
        }
        self.next_reply += 1;
        let entry = self.entries.as_slice()[index];
        self.route(index, entry, frame);
        Ok(true)
    }

    /// Gives the reply of the command at `index` to whatever its role says.
    #[inline]
    fn route(&mut self, index: usize, entry: Entry, frame: &[u8]) {
        match entry.role {
            Role::User if entry.in_tx => {
                if strip_attributes(frame) == b"+QUEUED\r\n" {
                    self.entries.as_mut_slice()[index].state = State::Queued;
                } else {
                    self.store(index, frame);
                }
            }
            Role::User => self.store(index, frame),
            #[cfg(feature = "transactions")]
            Role::Multi => self.entries.as_mut_slice()[index].state = State::Done,
            #[cfg(feature = "transactions")]
            Role::Exec => {
                self.unpack_exec(entry.multi_row(), index, strip_attributes(frame));
                let exec = &mut self.entries.as_mut_slice()[index];
                if exec.state.is_waiting() {
                    exec.state = State::Done;
                }
            }
            #[cfg(feature = "scripting")]
            Role::EvalSha => self.deliver_evalsha(index, entry.script_body_at(), frame),
            #[cfg(feature = "scripting")]
            Role::EvalFallback => {
                self.store(entry.answers_row(), frame);
                self.entries.as_mut_slice()[index].state = State::Done;
            }
        }
    }

    /// Copies a reply into the arena for slot `index`; a full arena fails the slot only.
    #[inline]
    pub(super) fn store(&mut self, index: usize, frame: &[u8]) {
        let start = self.replies.len();
        let fits = u32::try_from(start + frame.len()).is_ok()
            && self.replies.try_extend_from_slice(frame).is_ok();
        let e = &mut self.entries.as_mut_slice()[index];
        e.reply_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        if fits {
            e.reply_start = start as u32;
            e.state = State::Done;
        } else {
            e.state = State::ArenaFull;
        }
    }
}

/// What the cluster router sees of a queued command.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A command waiting for its reply, outside any transaction.
    Command,
    /// The `MULTI` of a transaction whose `EXEC` is at the index given.
    #[cfg_attr(not(feature = "transactions"), allow(dead_code))]
    Multi(usize),
    /// Part of a transaction (planned with its `MULTI`), or already answered.
    Settled,
}

#[cfg(feature = "alloc")]
impl<O, R, E> Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    /// What the command at `index` is, for routing.
    pub(crate) fn shape(&self, index: usize) -> Shape {
        let entries = self.entries.as_slice();
        let Some(e) = entries.get(index) else {
            return Shape::Settled;
        };
        if !e.state.is_waiting() {
            return Shape::Settled;
        }
        #[cfg(feature = "transactions")]
        if e.role == Role::Multi {
            let exec = entries[index + 1..]
                .iter()
                .position(|x| x.role == Role::Exec && x.multi_row() == index)
                .map(|at| index + 1 + at);
            return match exec {
                Some(exec) => Shape::Multi(exec),
                None => Shape::Settled, // still open: nothing to send yet
            };
        }
        #[cfg(feature = "transactions")]
        if e.in_tx || e.role == Role::Exec {
            return Shape::Settled;
        }
        Shape::Command
    }

    /// The raw reply of the command at `index`, once it arrived (hidden commands included).
    pub(crate) fn reply_frame(&self, index: usize) -> Option<&[u8]> {
        let e = self.entries.as_slice().get(index)?;
        if e.state != State::Done {
            return None;
        }
        let start = e.reply_start as usize;
        self.replies
            .as_slice()
            .get(start..start + e.reply_len as usize)
    }

    /// Puts every reply of `from` into this pipeline's slots, the reply of `from`'s command `k`
    /// into the slot of command `targets[k]`, with one copy of `from`'s whole reply arena and
    /// no scan: for the cluster router, whose node batch `from` read and validated its replies
    /// under this pipeline's limits.
    ///
    /// All or nothing: returns false and changes nothing unless `targets` names one slot for
    /// each command of `from`, every command of `from` is a plain one with its reply, no reply
    /// is an error (`-`) or starts with attributes (`|`, which may precede one: the router
    /// reads those itself), every target is a plain command outside a transaction still
    /// waiting, `targets` increase, and `from`'s arena holds those replies and nothing else
    /// (so that nothing but replies is copied).
    pub(crate) fn adopt_replies<O2, R2, E2>(
        &mut self,
        from: &Pipeline<O2, R2, E2>,
        targets: &[usize],
    ) -> bool
    where
        O2: Storage<u8>,
        R2: Storage<u8>,
        E2: Storage<Entry>,
    {
        let sources = from.entries.as_slice();
        let arena = from.replies.as_slice();
        let base = self.replies.len();
        if sources.len() != targets.len()
            || u32::try_from(base.saturating_add(arena.len())).is_err()
        {
            return false;
        }
        let entries = self.entries.as_slice();
        let mut bytes = 0usize;
        // Targets increase (the next must be at least `next`), so that no slot is named twice.
        let mut next = 0;
        for (s, &t) in sources.iter().zip(targets) {
            let Some(e) = entries.get(t) else {
                return false;
            };
            let first = arena.get(s.reply_start as usize).copied().unwrap_or(b'-');
            let fits = (t >= next)
                & (s.state == State::Done)
                & (s.role == Role::User)
                & !s.in_tx
                & (s.reply_len != 0)
                & (e.state == State::Pending)
                & (e.role == Role::User)
                & !e.in_tx
                & (first != b'-')
                & (first != b'|');
            if !fits {
                return false;
            }
            next = t + 1;
            bytes += s.reply_len as usize;
        }
        // Replies only, each once: their lengths add up to the arena's.
        if bytes != arena.len() {
            return false;
        }
        if self.replies.try_extend_from_slice(arena).is_err() {
            return false;
        }
        let entries = self.entries.as_mut_slice();
        for (s, &t) in sources.iter().zip(targets) {
            if let Some(e) = entries.get_mut(t) {
                e.reply_start = base as u32 + s.reply_start;
                e.reply_len = s.reply_len;
                e.state = State::Done;
            }
        }
        let entries = self.entries.as_slice();
        while self.next_reply < entries.len() && !entries[self.next_reply].state.is_waiting() {
            self.next_reply += 1;
        }
        self.run_callbacks_if_done();
        true
    }

    /// Whether the pipeline is commands alone, nothing sent yet: no transaction, no `WATCH`
    /// change, no script with its `EVAL` fallback, no failure. Such a pipeline may be split
    /// (some commands answered elsewhere, the rest sent as a batch) without changing what
    /// any command means (the client-side cache does).
    pub(crate) fn is_plain(&self) -> bool {
        self.sent == 0
            && self.failure.is_none()
            && self.tx_open.is_none()
            && self.watch.is_none()
            && self
                .entries
                .as_slice()
                .iter()
                .all(|e| e.role == Role::User && !e.in_tx && e.state == State::Pending)
    }

    /// Whether any byte of the command at `index` was handed to the transport.
    pub(crate) fn was_sent(&self, index: usize) -> bool {
        index < self.sent_entries || (self.sent > self.out_start(index) && self.sent > 0)
    }

    /// Takes `from`'s window, byte window, reply estimate and limits.
    pub(crate) fn copy_settings<O2, R2, E2>(&mut self, from: &Pipeline<O2, R2, E2>)
    where
        O2: Storage<u8>,
        R2: Storage<u8>,
        E2: Storage<Entry>,
    {
        self.window = from.window;
        self.window_bytes = from.window_bytes;
        self.reply_estimate = from.reply_estimate;
        self.limits = from.limits;
    }
}
