//! The pipeline: queued commands, their deferred slots, and the sans-I/O run loop.
//!
//! ## The run loop
//! A transport drives a pipeline with four calls and nothing else:
//!
//! 1. write [`Pipeline::poll_output`] to the connection and report what was written with
//!    [`Pipeline::consume_output`];
//! 2. read from the connection and pass every unconsumed byte to [`Pipeline::handle_input`],
//!    which returns how many bytes it used (whole replies only); drop those from the front of
//!    the read buffer and keep the rest for the next call;
//! 3. repeat until [`Pipeline::is_done`] (check it after step 1: an empty pipeline is done at
//!    once, and `consume_output` — even of 0 bytes — is where its callbacks run);
//! 4. if the connection fails or times out, call [`Pipeline::fail`]: every slot still waiting
//!    resolves with that failure.
//!
//! The output is released in a window of at most [`Pipeline::set_window`] commands whose replies
//! are outstanding (10 000 by default), so that neither side buffers a whole million-command
//! pipeline at once; a transport that writes everything `poll_output` offers and reads until
//! `is_done` gets that for free.
//!
//! ## Where results live
//! Each reply is copied, as raw RESP, into the reply arena and its slot records the range. A
//! [`Deferred`] converts the bytes when it is read. One arena serves every result type, borrowed
//! results need no allocation, and a fixed arena works without an allocator.
//!
//! ## Composition
//! Functions that take `&mut Pipeline` queue into the caller's pipeline, so any number of them
//! cost one round trip. [`Pipeline::scope`] runs such a function and rolls its commands back if
//! it fails; [`Pipeline::transaction`] wraps commands in `MULTI`/`EXEC` with each handle still
//! resolving to its own command's result.

use crate::decode::{Limits, Scanner};
use crate::deferred::{Deferred, Replies, SlotError};
#[cfg(any(feature = "transactions", feature = "scripting"))]
use crate::encode::cmd;
use crate::encode::{Args, Cmd, ToArg, encode_command};
#[cfg(feature = "scripting")]
use crate::encode::{digit_count, write_digits};
use crate::error::{CapacityError, DecodeError, Failure, Store};
use crate::from_reply::FromReply;
#[cfg(feature = "transactions")]
use crate::reply::skip;
use crate::reply::{Aggregate, Reply, strip_attributes};
#[cfg(feature = "scripting")]
use crate::script::Script;
#[cfg(feature = "alloc")]
use crate::storage::ByteBuf;
#[cfg(feature = "scripting")]
use crate::storage::copy_small;
use crate::storage::{SliceStore, Storage};

/// Commands in flight at once, by default.
pub const DEFAULT_WINDOW: usize = 10_000;

/// One row of the command table: where a command's bytes end and where its reply is.
///
/// Public only so that no-allocator callers can size a table (`[Entry::EMPTY; 64]`); its fields
/// are private. 24 bytes per queued command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    out_end: u32,
    reply_start: u32,
    reply_len: u32,
    epoch: u32,
    /// Exec: index of its MULTI. Retry: index of the slot it answers. EvalSha: arena offset of
    /// the script body.
    aux: u32,
    state: State,
    role: Role,
    in_tx: bool,
}

impl Entry {
    /// An unused row, to initialize fixed tables.
    pub const EMPTY: Entry = Entry {
        out_end: 0,
        reply_start: 0,
        reply_len: 0,
        epoch: 0,
        aux: 0,
        state: State::Pending,
        role: Role::User,
        in_tx: false,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum State {
    /// Waiting for its reply.
    Pending,
    /// `+QUEUED` received; the result comes with `EXEC`.
    Queued,
    /// The reply is in the arena at `reply_start..reply_start + reply_len`.
    Done,
    /// In a transaction that `EXEC` aborted (nil reply).
    #[cfg(feature = "transactions")]
    Aborted,
    /// In a transaction whose `EXEC` reply did not match the queued commands.
    #[cfg(feature = "transactions")]
    ExecMismatch,
    /// The reply (`reply_len` bytes) did not fit the arena.
    ArenaFull,
    /// The pipeline failed before the reply arrived; see `Pipeline::failure`.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Role {
    /// A command a handle was issued for.
    User,
    /// `MULTI`, hidden.
    #[cfg(feature = "transactions")]
    Multi,
    /// `EXEC`, hidden; distributes its array to the transaction's slots.
    #[cfg(feature = "transactions")]
    Exec,
    /// `EVALSHA`, user-visible; retried as `EVAL` on `NOSCRIPT`.
    #[cfg(feature = "scripting")]
    EvalSha,
    /// The `EVAL` retry of an `EVALSHA`, hidden; its reply goes to the `EvalSha` slot.
    #[cfg(feature = "scripting")]
    Retry,
}

impl Role {
    /// Whether a handle was issued for the entry, so that its slot may be read.
    #[inline]
    fn has_handle(self) -> bool {
        #[cfg(feature = "scripting")]
        if self == Role::EvalSha {
            return true;
        }
        self == Role::User
    }

    /// Whether the entry is an `EVAL` fallback queued while replies were read.
    #[inline]
    fn is_retry(self) -> bool {
        #[cfg(feature = "scripting")]
        if self == Role::Retry {
            return true;
        }
        false
    }
}

/// A point to roll back to; see [`Pipeline::mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    entries: usize,
    #[cfg(feature = "alloc")]
    callbacks: usize,
}

/// An open transaction; see [`Pipeline::begin_transaction`].
#[cfg(feature = "transactions")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a transaction must be ended or aborted"]
pub struct Transaction {
    /// The `MULTI` entry, or `None` when nested in an outer transaction.
    multi: Option<u32>,
    mark: Mark,
}

/// Script bodies remembered for reuse within one pipeline.
#[cfg(feature = "scripting")]
const SCRIPT_CACHE: usize = 4;
/// An empty slot of the script cache: no 4-byte length header fits at this arena offset.
#[cfg(feature = "scripting")]
const NO_SCRIPT: u32 = u32::MAX;

/// Queued commands, their slots, and the reply reader. See the [module docs](self).
///
/// Generic over its three stores (see [`Storage`]); use [`VecPipeline`] (feature `alloc`),
/// [`HeaplessPipeline`] (feature `heapless`) or [`SlicePipeline`].
pub struct Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    out: O,
    replies: R,
    entries: E,
    /// Bytes of `out` handed to the transport.
    sent: usize,
    /// Entries whose bytes were all handed to the transport.
    sent_entries: usize,
    /// The entry the next reply belongs to.
    next_reply: usize,
    window: usize,
    epoch: u32,
    scanner: Scanner,
    limits: Limits,
    failure: Option<Failure>,
    /// Index of the open transaction's `MULTI`.
    tx_open: Option<u32>,
    /// Arena offsets of script bodies already stored (small, most recent first). Empty slots
    /// hold [`NO_SCRIPT`], where no body can be: plain numbers, so that a new pipeline fills
    /// them with a few stores.
    #[cfg(feature = "scripting")]
    scripts: [u32; SCRIPT_CACHE],
    /// Arena bytes below this hold script bodies, which a rewind keeps.
    arena_floor: usize,
    pushes: u64,
    #[cfg(feature = "alloc")]
    pub(crate) callbacks: crate::callbacks::Callbacks,
}

/// Where a new pipeline's epochs start. Distinct per pipeline where the target has atomics, so
/// that a handle read against another pipeline than its own is [`SlotError::Stale`] instead of
/// reading whatever that pipeline holds at the same index.
fn first_epoch() -> u32 {
    #[cfg(target_has_atomic = "32")]
    {
        use core::sync::atomic::{AtomicU32, Ordering};
        // Steps of 2^16: each pipeline has room for 65 536 resets and rollbacks before its
        // epochs reach the next pipeline's.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        NEXT.fetch_add(1 << 16, Ordering::Relaxed)
    }
    #[cfg(not(target_has_atomic = "32"))]
    {
        0
    }
}

/// A pipeline on growable `Vec`s: the usual choice with an allocator.
#[cfg(feature = "alloc")]
pub type VecPipeline = Pipeline<ByteBuf, ByteBuf, alloc::vec::Vec<Entry>>;

/// A pipeline in fixed `heapless` storage: `OUT` bytes of commands, `REPLIES` bytes of replies,
/// `CMDS` commands.
#[cfg(feature = "heapless")]
pub type HeaplessPipeline<const OUT: usize, const REPLIES: usize, const CMDS: usize> =
    Pipeline<heapless::Vec<u8, OUT>, heapless::Vec<u8, REPLIES>, heapless::Vec<Entry, CMDS>>;

/// A pipeline over caller-provided slices; needs no feature and no allocator.
pub type SlicePipeline<'a> =
    Pipeline<SliceStore<'a, u8>, SliceStore<'a, u8>, SliceStore<'a, Entry>>;

#[cfg(feature = "alloc")]
impl VecPipeline {
    /// An empty pipeline that grows as needed.
    pub fn new() -> Self {
        Self::with_storage(Default::default(), Default::default(), Default::default())
    }
}

#[cfg(feature = "alloc")]
impl Default for VecPipeline {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "heapless")]
impl<const OUT: usize, const REPLIES: usize, const CMDS: usize>
    HeaplessPipeline<OUT, REPLIES, CMDS>
{
    /// An empty pipeline with fixed capacities.
    pub fn new() -> Self {
        Self::with_storage(
            heapless::Vec::new(),
            heapless::Vec::new(),
            heapless::Vec::new(),
        )
    }
}

#[cfg(feature = "heapless")]
impl<const OUT: usize, const REPLIES: usize, const CMDS: usize> Default
    for HeaplessPipeline<OUT, REPLIES, CMDS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> SlicePipeline<'a> {
    /// A pipeline over caller buffers: encoded commands, reply bytes, one entry per command.
    ///
    /// ```
    /// use redpipe_core::{prelude::*, Entry, SlicePipeline};
    /// let (mut out, mut replies, mut table) = ([0u8; 128], [0u8; 128], [Entry::EMPTY; 4]);
    /// let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    /// let n = p.incr("hits").unwrap();
    /// let len = p.poll_output().len();
    /// p.consume_output(len);
    /// assert_eq!(p.handle_input(b":1\r\n"), Ok(4));
    /// assert_eq!(n.read(&p), Ok(1));
    /// ```
    pub fn from_slices(out: &'a mut [u8], replies: &'a mut [u8], entries: &'a mut [Entry]) -> Self {
        Self::with_storage(
            SliceStore::new(out),
            SliceStore::new(replies),
            SliceStore::new(entries),
        )
    }
}

impl<O, R, E> Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    /// A pipeline over the given (cleared) stores.
    pub fn with_storage(mut out: O, mut replies: R, mut entries: E) -> Self {
        out.clear();
        replies.clear();
        entries.clear();
        Self {
            out,
            replies,
            entries,
            sent: 0,
            sent_entries: 0,
            next_reply: 0,
            window: DEFAULT_WINDOW,
            epoch: first_epoch(),
            scanner: Scanner::new(),
            limits: Limits::default(),
            failure: None,
            tx_open: None,
            #[cfg(feature = "scripting")]
            scripts: [NO_SCRIPT; SCRIPT_CACHE],
            arena_floor: 0,
            pushes: 0,
            #[cfg(feature = "alloc")]
            callbacks: Default::default(),
        }
    }

    /// Sets the reply limits (bulk length, elements, depth, line length).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The reply limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sets how many commands may await their replies at once (at least 1).
    pub fn set_window(&mut self, commands: usize) {
        self.window = commands.max(1);
    }

    /// Empties the pipeline for reuse, keeping its storage. Handles issued before become stale.
    pub fn reset(&mut self) {
        self.out.clear();
        self.replies.clear();
        self.entries.clear();
        self.sent = 0;
        self.sent_entries = 0;
        self.next_reply = 0;
        self.epoch = self.epoch.wrapping_add(1);
        self.scanner.reset();
        self.failure = None;
        self.tx_open = None;
        #[cfg(feature = "scripting")]
        {
            self.scripts = [NO_SCRIPT; SCRIPT_CACHE];
        }
        self.arena_floor = 0;
        self.pushes = 0;
        #[cfg(feature = "alloc")]
        self.callbacks.clear();
    }

    /// Makes every command ready to be sent again from the start, for an explicit retry on a
    /// new connection after a failure. Handles stay valid and read the new replies.
    ///
    /// A retried pipeline may run commands twice (those the server executed before the
    /// failure): only rewind pipelines whose commands are safe to repeat. Callbacks that already
    /// ran do not run again. Returns false, changing nothing, while replies are still expected
    /// or when an `EVAL` fallback sits before other commands (resending both could run the
    /// script twice).
    pub fn rewind(&mut self) -> bool {
        if !self.is_done() {
            return false;
        }
        let entries = self.entries.as_slice();
        let keep = entries
            .iter()
            .rposition(|e| !e.role.is_retry())
            .map_or(0, |i| i + 1);
        if entries[..keep].iter().any(|e| e.role.is_retry()) {
            return false;
        }
        self.entries.truncate(keep);
        self.out.truncate(self.out_start(keep));
        for e in self.entries.as_mut_slice() {
            (e.state, e.reply_start, e.reply_len) = (State::Pending, 0, 0);
        }
        self.replies.truncate(self.arena_floor);
        self.sent = 0;
        self.sent_entries = 0;
        self.next_reply = 0;
        self.failure = None;
        self.tx_open = None;
        self.scanner.reset();
        true
    }

    #[cfg(feature = "alloc")]
    pub(crate) fn epoch_now(&self) -> u32 {
        self.epoch
    }

    /// Number of commands queued, including the hidden `MULTI`/`EXEC` and retries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether every queued command has its result (or failed).
    pub fn is_done(&self) -> bool {
        self.next_reply >= self.entries.len()
    }

    /// Why the pipeline stopped early, if it did.
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// Out-of-band RESP3 push replies seen (and skipped) while reading.
    pub fn pushes_seen(&self) -> u64 {
        self.pushes
    }

    /// Every encoded byte queued so far, sent or not.
    pub fn encoded(&self) -> &[u8] {
        self.out.as_slice()
    }

    // ---- queueing ----

    /// Queues a command; its reply will read as `T`.
    ///
    /// On a full store nothing is queued and the error says how much room was needed.
    pub fn query<T: FromReply + ?Sized, N: ToArg, A: Args>(
        &mut self,
        command: Cmd<N, A>,
    ) -> Result<Deferred<T>, CapacityError> {
        self.push(&command, Role::User, 0)
            .map(|i| Deferred::new(i, self.epoch))
    }

    /// Encodes a command and adds its entry; both or neither.
    fn push<A: Args + ?Sized>(
        &mut self,
        args: &A,
        role: Role,
        aux: u32,
    ) -> Result<u32, CapacityError> {
        let start = self.out.len();
        let index = self.entries.len();
        let index32 = u32::try_from(index).map_err(|_| self.commands_full(index + 1))?;
        encode_command(&mut self.out, args)?;
        let end = self.out.len();
        let Ok(out_end) = u32::try_from(end) else {
            self.out.truncate(start);
            return Err(CapacityError {
                store: Store::Output,
                needed: end,
                capacity: u32::MAX as usize,
            });
        };
        let entry = Entry {
            out_end,
            epoch: self.epoch,
            aux,
            role,
            in_tx: self.tx_open.is_some() && matches!(role, Role::User),
            state: if self.failure.is_some() {
                State::Failed
            } else {
                State::Pending
            },
            ..Entry::EMPTY
        };
        if self.entries.try_push(entry).is_err() {
            self.out.truncate(start);
            return Err(self.commands_full(index + 1));
        }
        if self.failure.is_some() {
            // A failed pipeline sends nothing more: the command fails at once.
            self.next_reply = self.entries.len();
        }
        Ok(index32)
    }

    fn commands_full(&self, needed: usize) -> CapacityError {
        CapacityError {
            store: Store::Commands,
            needed,
            capacity: self.entries.capacity(),
        }
    }

    /// Queues `EVALSHA` of `script` with an automatic `EVAL` fallback on `NOSCRIPT`.
    ///
    /// Inside a [`transaction`](Self::transaction) it queues `EVAL` with the body instead: a
    /// retry after `EXEC` would no longer be atomic. Outside one, a fallback `EVAL` is sent after
    /// the commands already queued, so it runs after them.
    #[cfg(feature = "scripting")]
    pub fn eval<T: FromReply + ?Sized, K: ToArg, A: Args>(
        &mut self,
        script: &Script<'_>,
        keys: &[K],
        args: A,
    ) -> Result<Deferred<T>, CapacityError> {
        if self.tx_open.is_some() {
            return self.query(
                cmd("EVAL")
                    .arg(script.body())
                    .arg(keys.len())
                    .arg(keys)
                    .arg(args),
            );
        }
        let body = self.store_script(script)?;
        let command = cmd("EVALSHA")
            .arg(&script.sha1_bytes()[..])
            .arg(keys.len())
            .arg(keys)
            .arg(args);
        self.push(&command, Role::EvalSha, body)
            .map(|i| Deferred::new(i, self.epoch))
    }

    /// Keeps `script`'s body in the arena (once per pipeline) for a possible fallback; returns
    /// its offset. Layout: 4-byte little-endian length, then the body.
    #[cfg(feature = "scripting")]
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

    // ---- composition ----

    /// The current end of the queue, to [`rollback`](Self::rollback) to.
    pub fn mark(&self) -> Mark {
        Mark {
            entries: self.entries.len(),
            #[cfg(feature = "alloc")]
            callbacks: self.callbacks.len(),
        }
    }

    /// Removes the commands (and callbacks) queued after `mark`. Their handles become stale.
    ///
    /// Commands already handed out by [`poll_output`](Self::poll_output) cannot be taken back
    /// and stay queued.
    pub fn rollback(&mut self, mark: Mark) {
        let mut keep = mark.entries.max(self.sent_entries);
        if keep < self.entries.len() && self.sent > self.out_start(keep) {
            keep += 1; // partly sent: it must be read back whole
        }
        if keep >= self.entries.len() {
            return;
        }
        self.entries.truncate(keep);
        self.out.truncate(self.out_start(keep));
        self.epoch = self.epoch.wrapping_add(1);
        if self.tx_open.is_some_and(|m| m as usize >= keep) {
            self.tx_open = None;
        }
        #[cfg(feature = "alloc")]
        self.callbacks.truncate(mark.callbacks);
    }

    /// Runs `f` on this pipeline; if it returns an error, its commands are rolled back, so a
    /// failed step sends nothing.
    ///
    /// ```
    /// use redpipe_core::{prelude::*, VecPipeline};
    /// let mut p = VecPipeline::new();
    /// p.incr("a").unwrap();
    /// let r: Result<(), &str> = p.scope(|p| {
    ///     p.incr("b").map_err(|_| "full")?;
    ///     Err("changed my mind")
    /// });
    /// assert!(r.is_err());
    /// assert_eq!(p.len(), 1);
    /// ```
    pub fn scope<T, Err>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Err>) -> Result<T, Err> {
        let mark = self.mark();
        let result = f(self);
        if result.is_err() {
            self.rollback(mark);
        }
        result
    }

    /// Runs `f` inside `MULTI` ... `EXEC`. Each handle still resolves to its own command's
    /// result; if `EXEC` is aborted (a `WATCH`ed key changed) every one of them fails with
    /// [`Failure::Aborted`]; if the server discards the transaction (`EXECABORT`) they get that
    /// error, except commands with an error of their own. An error from `f` rolls everything
    /// back. Nested transactions join the outer one.
    #[cfg(feature = "transactions")]
    pub fn transaction<T, Err: From<CapacityError>>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Err>,
    ) -> Result<T, Err> {
        let tx = self.begin_transaction()?;
        match f(self) {
            Ok(v) => match self.end_transaction(tx) {
                Ok(()) => Ok(v),
                Err(e) => {
                    self.abort_transaction(tx);
                    Err(e.into())
                }
            },
            Err(e) => {
                self.abort_transaction(tx);
                Err(e)
            }
        }
    }

    /// Queues `MULTI`: the commands queued until [`end_transaction`](Self::end_transaction)
    /// form one transaction. For layers that cannot pass a closure over `&mut Pipeline`;
    /// prefer [`transaction`](Self::transaction).
    #[cfg(feature = "transactions")]
    pub fn begin_transaction(&mut self) -> Result<Transaction, CapacityError> {
        let mark = self.mark();
        if self.tx_open.is_some() {
            return Ok(Transaction { multi: None, mark });
        }
        let multi = self.push(&cmd("MULTI"), Role::Multi, 0)?;
        self.tx_open = Some(multi);
        Ok(Transaction {
            multi: Some(multi),
            mark,
        })
    }

    /// Queues `EXEC` for a transaction begun with [`begin_transaction`](Self::begin_transaction).
    #[cfg(feature = "transactions")]
    pub fn end_transaction(&mut self, tx: Transaction) -> Result<(), CapacityError> {
        let Some(multi) = tx.multi else {
            return Ok(()); // nested: the outer transaction ends it
        };
        self.tx_open = None;
        if let Err(e) = self.push(&cmd("EXEC"), Role::Exec, multi) {
            self.tx_open = Some(multi);
            return Err(e);
        }
        Ok(())
    }

    /// Removes a transaction begun with [`begin_transaction`](Self::begin_transaction) and
    /// every command queued in it.
    #[cfg(feature = "transactions")]
    pub fn abort_transaction(&mut self, tx: Transaction) {
        if tx.multi.is_some() {
            self.tx_open = None;
            self.rollback(tx.mark);
        }
    }

    // ---- the sans-I/O run loop ----

    fn out_start(&self, index: usize) -> usize {
        match index.checked_sub(1) {
            Some(prev) => self.entries.as_slice()[prev].out_end as usize,
            None => 0,
        }
    }

    /// Bytes to send now; report what was sent with [`consume_output`](Self::consume_output).
    ///
    /// Empty when everything in the window is sent, or after a failure.
    #[must_use]
    pub fn poll_output(&self) -> &[u8] {
        let entries = self.entries.as_slice();
        let limit = self
            .next_reply
            .saturating_add(self.window)
            .min(entries.len());
        if self.failure.is_some() || limit == 0 {
            return &[];
        }
        let end = entries[limit - 1].out_end as usize;
        self.out.as_slice().get(self.sent..end).unwrap_or_default()
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

    /// Feeds bytes read from the server; returns how many were used (whole replies only).
    ///
    /// The caller MUST drop that many bytes from the front of its buffer and pass the rest again,
    /// followed by newly read bytes, on the next call. An error means the stream broke the
    /// protocol: every waiting slot then fails with [`Failure::Protocol`] and the connection
    /// MUST be closed.
    pub fn handle_input(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        match self.failure {
            None => {}
            Some(Failure::Protocol(e)) => return Err(e),
            Some(_) => return Err(DecodeError::UnexpectedReply),
        }
        let mut used = 0;
        while used < input.len() {
            let step = self
                .scanner
                .scan(&input[used..], &self.limits)
                .and_then(|n| match n {
                    Some(n) => self.deliver(&input[used..used + n]).map(|()| Some(n)),
                    None => Ok(None),
                });
            match step {
                Ok(Some(n)) => used += n,
                Ok(None) => break,
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

    /// Ends the pipeline: every slot still waiting fails with `failure`. Call it when the
    /// connection closes, errors or times out. Later commands fail at once.
    pub fn fail(&mut self, failure: Failure) {
        if self.failure.is_none() {
            self.failure = Some(failure);
        }
        for e in self.entries.as_mut_slice() {
            if matches!(e.state, State::Pending | State::Queued) {
                e.state = State::Failed;
            }
        }
        self.next_reply = self.entries.len();
        self.scanner.reset();
        #[cfg(feature = "alloc")]
        self.run_callbacks_if_done();
    }

    /// Routes one complete reply to the entry waiting for it.
    #[inline]
    fn deliver(&mut self, frame: &[u8]) -> Result<(), DecodeError> {
        let value = strip_attributes(frame);
        if value.first() == Some(&b'>') {
            // Out-of-band data (RESP3 push): not a reply to any command.
            self.pushes += 1;
            return Ok(());
        }
        let index = self.next_reply;
        if index >= self.sent_entries {
            return Err(DecodeError::UnexpectedReply);
        }
        self.next_reply += 1;
        let entry = self.entries.as_slice()[index];
        match entry.role {
            #[cfg(feature = "transactions")]
            Role::Multi => {}
            #[cfg(feature = "transactions")]
            Role::Exec => self.unpack_exec(entry.aux as usize, index, value),
            #[cfg(feature = "scripting")]
            Role::Retry => self.store(entry.aux as usize, frame),
            Role::User if entry.in_tx => {
                if value == b"+QUEUED\r\n" {
                    self.entries.as_mut_slice()[index].state = State::Queued;
                } else {
                    self.store(index, frame);
                }
            }
            Role::User => self.store(index, frame),
            #[cfg(feature = "scripting")]
            Role::EvalSha => {
                // The code alone, not `kind()`: comparing one word links no table of codes.
                let noscript =
                    matches!(Reply::parse(value), Reply::Error(e) if e.code() == "NOSCRIPT");
                if !(noscript && self.queue_eval_fallback(index, entry.aux)) {
                    self.store(index, frame);
                }
            }
        }
        Ok(())
    }

    /// Copies a reply into the arena for slot `index`; a full arena fails the slot only.
    #[inline]
    fn store(&mut self, index: usize, frame: &[u8]) {
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

    /// Gives each command of the transaction opened at `multi` its element of `EXEC`'s reply.
    #[cfg(feature = "transactions")]
    fn unpack_exec(&mut self, multi: usize, exec: usize, value: &[u8]) {
        let queued = |p: &Self| {
            p.entries.as_slice()[multi + 1..exec]
                .iter()
                .filter(|e| e.in_tx && e.state == State::Queued)
                .count()
        };
        let set_queued = |p: &mut Self, state: State| {
            for e in &mut p.entries.as_mut_slice()[multi + 1..exec] {
                if e.in_tx && e.state == State::Queued {
                    e.state = state;
                }
            }
        };
        match Reply::parse(value) {
            Reply::Array(agg) if agg.len() == queued(self) => {
                let Some(mut pos) = element_start(value, &agg) else {
                    return set_queued(self, State::ExecMismatch);
                };
                for i in multi + 1..exec {
                    let e = self.entries.as_slice()[i];
                    if !(e.in_tx && e.state == State::Queued) {
                        continue;
                    }
                    let Some(len) = skip(&value[pos..], 1) else {
                        self.entries.as_mut_slice()[i].state = State::ExecMismatch;
                        continue;
                    };
                    self.store(i, &value[pos..pos + len]);
                    pos += len;
                }
            }
            Reply::Nil => set_queued(self, State::Aborted),
            Reply::Error(_) => {
                // EXECABORT: one copy of the error serves every queued command.
                self.store(exec, value);
                let done = self.entries.as_slice()[exec];
                for e in &mut self.entries.as_mut_slice()[multi + 1..exec] {
                    if e.in_tx && e.state == State::Queued {
                        (e.reply_start, e.reply_len, e.state) =
                            (done.reply_start, done.reply_len, done.state);
                    }
                }
            }
            _ => set_queued(self, State::ExecMismatch),
        }
    }

    /// Appends `EVAL <body> <the EVALSHA's other arguments>` answering slot `index`.
    /// Returns false (and changes nothing) when it cannot.
    #[cfg(feature = "scripting")]
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
                    aux: index as u32,
                    role: Role::Retry,
                    ..Entry::EMPTY
                })
                .is_ok();
        if !pushed {
            self.out.truncate(before);
        }
        pushed
    }

    // ---- reading ----

    /// The RESP3 attributes that came with a command's reply, if any.
    pub fn attributes<T: ?Sized>(&self, handle: Deferred<T>) -> Option<Aggregate<'_>> {
        let frame = Replies::frame(self, handle.index() as u32, handle.epoch()).ok()?;
        Reply::attributes_of(frame)
    }

    /// Why slot `index` has no reply to read.
    #[cold]
    fn no_reply(&self, index: u32, epoch: u32) -> SlotError<'_> {
        let e = match self.visible(index, epoch) {
            Ok(e) => e,
            Err(stale) => return stale,
        };
        let failed = SlotError::Failed;
        match e.state {
            State::Done | State::Pending | State::Queued => SlotError::Pending,
            #[cfg(feature = "transactions")]
            State::Aborted => failed(Failure::Aborted),
            #[cfg(feature = "transactions")]
            State::ExecMismatch => failed(Failure::ExecMismatch),
            State::ArenaFull => failed(Failure::Capacity(CapacityError {
                store: Store::Replies,
                needed: self.replies.len() + e.reply_len as usize,
                capacity: self.replies.capacity(),
            })),
            State::Failed => failed(self.failure.unwrap_or(Failure::Closed)),
        }
    }

    #[inline]
    fn visible(&self, index: u32, epoch: u32) -> Result<Entry, SlotError<'_>> {
        match self.entries.as_slice().get(index as usize) {
            Some(e) if e.epoch == epoch && e.role.has_handle() => Ok(*e),
            _ => Err(SlotError::Stale),
        }
    }
}

impl<O, R, E> Replies for Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    #[inline]
    fn frame(&self, index: u32, epoch: u32) -> Result<&[u8], SlotError<'_>> {
        match self.entries.as_slice().get(index as usize) {
            Some(e) if e.epoch == epoch && e.state == State::Done && e.role.has_handle() => {
                let start = e.reply_start as usize;
                Ok(self
                    .replies
                    .as_slice()
                    .get(start..start + e.reply_len as usize)
                    .unwrap_or_default())
            }
            _ => Err(self.no_reply(index, epoch)),
        }
    }

    #[cfg(feature = "alloc")]
    fn computed(&self, index: u32, epoch: u32) -> Result<&dyn core::any::Any, SlotError<'_>> {
        self.callbacks.get(index, epoch)
    }
}

/// The offset of the first element of the aggregate `agg` parsed from `value`.
#[cfg(feature = "transactions")]
fn element_start(value: &[u8], agg: &Aggregate<'_>) -> Option<usize> {
    let header = value.iter().position(|&b| b == b'\n')? + 1;
    (agg.is_empty() || header < value.len()).then_some(header)
}

/// The script body stored at arena offset `at` by `Pipeline::store_script`.
#[cfg(feature = "scripting")]
fn script_body(arena: &[u8], at: u32) -> Option<&[u8]> {
    let at = at as usize;
    let len = u32::from_le_bytes(arena.get(at..at + 4)?.try_into().ok()?) as usize;
    arena.get(at + 4..at + 4 + len)
}

/// Appends a copy of `out[range]` to `out`, or nothing.
#[cfg(feature = "scripting")]
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
