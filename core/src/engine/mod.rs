//! The engine floor (`no_std`, no allocator needed): the slot pipeline. Queued commands, their
//! result slots ([`deferred`]), the queueing traits ([`queue`]), the sans-I/O run loop
//! (documented on [`Pipeline`], its public face), the reply buffer a transport reads into
//! ([`read_buffer`]) and scripts by SHA1 (`script`). Built on the codec floor; knows no
//! connection, node or socket.

mod block;
#[cfg(feature = "alloc")]
mod callbacks;
mod connection;
pub(crate) mod deferred;
#[cfg(feature = "scripting")]
mod eval;
mod flavors;
pub(crate) mod queue;
pub(crate) mod read_buffer;
mod run;
#[cfg(feature = "scripting")]
pub(crate) mod script;
mod sharing;
mod table;
#[cfg(feature = "transactions")]
mod transaction;

pub use block::Block;
#[cfg(feature = "alloc")]
pub use callbacks::{Computed, View};
#[cfg(feature = "heapless")]
pub use flavors::HeaplessPipeline;
pub use flavors::SlicePipeline;
#[cfg(feature = "alloc")]
pub use flavors::VecPipeline;
pub use run::ResolveError;
#[cfg(feature = "alloc")]
pub(crate) use run::Shape;
pub use table::{Entry, Mark};
#[cfg(feature = "transactions")]
pub use transaction::Transaction;

use crate::codec::decode::{Limits, Scanner};
use crate::codec::encode::{Args, Cmd, ToArg, encode_command};
use crate::codec::error::{CapacityError, Failure, Store};
use crate::codec::from_reply::FromReply;
use crate::codec::reply::{Aggregate, Reply};
use crate::codec::storage::Storage;
use crate::engine::deferred::{Deferred, Replies, SlotError};
pub use sharing::Sharing;
pub(crate) use sharing::{Needs, name, needs};
use table::{Role, State};

/// Commands in flight at once, by default.
pub const DEFAULT_WINDOW: usize = 10_000;

/// Bytes of commands in flight and of the replies expected for them, for connections to servers
/// (see [`Pipeline::set_window_bytes`]; a pipeline alone has no byte bound).
pub const DEFAULT_WINDOW_BYTES: usize = 1 << 20;

/// Bytes a reply is expected to take before any has arrived, by default: an eighth of the
/// default byte window, so that the first window of an unknown workload is 8 commands.
pub const DEFAULT_REPLY_ESTIMATE: usize = DEFAULT_WINDOW_BYTES / 8;

/// Queued commands, their slots, and the reply reader.
///
/// Generic over its three stores (see [`Storage`]); use `VecPipeline` (feature `alloc`),
/// `HeaplessPipeline` (feature `heapless`) or [`SlicePipeline`].
///
/// # The run loop
/// A transport drives a pipeline with four calls and nothing else:
///
/// 1. write [`Pipeline::poll_output`] to the connection and report what was written with
///    [`Pipeline::consume_output`];
/// 2. read from the connection and pass every unconsumed byte to [`Pipeline::handle_input`],
///    which returns how many bytes it used (whole replies only); drop those from the front of
///    the read buffer and keep the rest for the next call;
/// 3. repeat until [`Pipeline::is_done`] (check it after step 1: an empty pipeline is done at
///    once, and `consume_output` — even of 0 bytes — is where its callbacks run);
/// 4. if the connection fails or times out, call [`Pipeline::fail`]: every slot still waiting
///    resolves with that failure.
///
/// The output is released in a window: at most [`Pipeline::set_window`] commands whose replies
/// are outstanding (10 000 by default), and, when [`Pipeline::set_window_bytes`] sets a bound
/// (the std and wasm connections set [`DEFAULT_WINDOW_BYTES`]), at most that many bytes of those
/// commands plus the replies expected for them (the mean of those received so far, or
/// [`Pipeline::set_reply_estimate`] before the first). So neither side buffers a whole
/// million-command pipeline, a server's output buffer stays small (Redis drops clients over
/// `client-output-buffer-limit`), and a client never waits to write while the server waits for
/// it to read. A transport that writes everything `poll_output` offers and reads until
/// `is_done` gets that for free.
///
/// # Where results live
/// Each reply is copied, as raw RESP, into the reply arena and its slot records the range. A
/// [`Deferred`] converts the bytes when it is read. One arena serves every result type, borrowed
/// results need no allocation, and a fixed arena works without an allocator.
///
/// # Composition
/// Functions that take `&mut Pipeline` queue into the caller's pipeline, so any number of them
/// cost one round trip. [`Pipeline::scope`] runs such a function and rolls its commands back if
/// it fails; [`Pipeline::transaction`] wraps commands in `MULTI`/`EXEC` with each handle still
/// resolving to its own command's result.
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
    /// Bytes of commands and expected replies in flight at most (0: no bound).
    window_bytes: usize,
    /// Expected bytes per reply until one arrives.
    reply_estimate: usize,
    /// Bytes of the replies read from the stream (for the `next_reply` commands answered).
    reply_bytes: usize,
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
    scripts: [u32; eval::SCRIPT_CACHE],
    /// Arena bytes below this hold script bodies, which a rewind keeps.
    arena_floor: usize,
    pushes: u64,
    /// An `EVALSHA` with its fallback was queued (see [`may_grow`](Self::may_grow)).
    #[cfg(feature = "scripting")]
    evalsha: bool,
    /// A write failed: a reply may answer the command that was partly written.
    write_failed: bool,
    /// Commands before this one set the connection up (see [`Handshake`]): what they change
    /// is what the connection is meant to be.
    ///
    /// [`Handshake`]: crate::session::Handshake
    setup_end: usize,
    /// The row of handle index 0: 1 once [`wrap_in_transaction`](Self::wrap_in_transaction)
    /// put a `MULTI` in front of every command, else 0.
    #[cfg(feature = "transactions")]
    first: u32,
    sharing: Sharing,
    /// How the queued commands change the connection's `WATCH`: `Some(true)` the last of them
    /// is a `WATCH`, `Some(false)` an `EXEC`, `DISCARD`, `UNWATCH` or `RESET`.
    watch: Option<bool>,
    #[cfg(feature = "alloc")]
    callbacks: callbacks::Callbacks,
    /// Commands failed one by one ([`fail_command`](Self::fail_command)), with why.
    #[cfg(feature = "alloc")]
    failed: alloc::vec::Vec<(u32, Failure)>,
}

impl<O, R, E> core::fmt::Debug for Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pipeline")
            .field("commands", &self.entries.len())
            .field("sent", &self.sent_entries)
            .field("answered", &self.next_reply)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
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
            window_bytes: 0,
            reply_estimate: DEFAULT_REPLY_ESTIMATE,
            reply_bytes: 0,
            epoch: first_epoch(),
            scanner: Scanner::new(),
            limits: Limits::default(),
            failure: None,
            tx_open: None,
            #[cfg(feature = "scripting")]
            scripts: [eval::NO_SCRIPT; eval::SCRIPT_CACHE],
            arena_floor: 0,
            pushes: 0,
            #[cfg(feature = "scripting")]
            evalsha: false,
            write_failed: false,
            setup_end: 0,
            #[cfg(feature = "transactions")]
            first: 0,
            sharing: Sharing::Auto,
            watch: None,
            #[cfg(feature = "alloc")]
            callbacks: Default::default(),
            #[cfg(feature = "alloc")]
            failed: alloc::vec::Vec::new(),
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

    /// Sets how many bytes of commands and of their expected replies may be in flight at once
    /// (0, the default: no bound but the command window). One command is always let through.
    pub fn set_window_bytes(&mut self, bytes: usize) {
        self.window_bytes = bytes;
    }

    /// Sets the bytes a reply is expected to take until replies arrive: a transport that knows
    /// its workload from earlier pipelines passes on [`reply_estimate`](Self::reply_estimate).
    pub fn set_reply_estimate(&mut self, bytes: usize) {
        self.reply_estimate = bytes.max(1);
    }

    /// The mean size of the replies read so far, or the estimate given before any arrived.
    pub fn reply_estimate(&self) -> usize {
        match self.next_reply {
            0 => self.reply_estimate,
            n => (self.reply_bytes / n).max(1),
        }
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
            self.scripts = [eval::NO_SCRIPT; eval::SCRIPT_CACHE];
        }
        self.arena_floor = 0;
        self.pushes = 0;
        #[cfg(feature = "scripting")]
        {
            self.evalsha = false;
        }
        self.write_failed = false;
        self.watch = None;
        self.setup_end = 0;
        #[cfg(feature = "transactions")]
        {
            self.first = 0;
        }
        self.reply_bytes = 0;
        #[cfg(feature = "alloc")]
        self.callbacks.clear();
        #[cfg(feature = "alloc")]
        self.failed.clear();
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
            .rposition(|e| !e.role.is_eval_fallback())
            .map_or(0, |i| i + 1);
        if entries[..keep].iter().any(|e| e.role.is_eval_fallback()) {
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
        self.write_failed = false;
        self.reply_bytes = 0;
        self.scanner.reset();
        #[cfg(feature = "alloc")]
        self.failed.clear();
        true
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

    /// The epoch of its handles now.
    pub(crate) fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Out-of-band RESP3 push replies seen (and skipped) while reading, including those that
    /// arrived before it was sent. On a shared connection none: the
    /// [`Mux`](crate::mux::Mux) takes them and hands them to the transport.
    pub fn pushes_seen(&self) -> u64 {
        self.pushes
    }

    /// Counts pushes set aside before the pipeline was sent.
    pub(crate) fn add_pushes(&mut self, n: u64) {
        self.pushes = self.pushes.saturating_add(n);
    }

    /// Whether no byte of it was handed to a transport: a pipeline that failed then can be
    /// sent again on another connection without running anything twice.
    pub fn sent_nothing(&self) -> bool {
        self.sent == 0
    }

    /// Every encoded byte queued so far, sent or not.
    pub fn encoded(&self) -> &[u8] {
        self.out.as_slice()
    }

    // ---- queueing ----

    /// Queues a command; its reply will read as `T`.
    ///
    /// On a full store nothing is queued and the error says how much room was needed.
    pub fn query<T: FromReply + ?Sized>(
        &mut self,
        command: Cmd<impl ToArg, impl Args>,
    ) -> Result<Deferred<T>, CapacityError> {
        let index = self.push(&command, Role::User, 0)?;
        #[cfg(feature = "transactions")]
        self.track_watch(command.name());
        Ok(Deferred::new(index, self.epoch))
    }

    /// Queues a command that is already encoded — one RESP array of bulk strings, as
    /// [`command`](Self::command) gives it — for transports that move commands between
    /// pipelines, such as a cluster router sending each node its share. Its reply reads as a
    /// [`Reply`](crate::Reply).
    ///
    /// ```
    /// use redpipe_core::{prelude::*, Reply, VecPipeline};
    /// let mut all = VecPipeline::new();
    /// let _ = all.incr("a").unwrap();
    /// let mut node = VecPipeline::new();
    /// let n = node.query_encoded(all.command(0).unwrap()).unwrap();
    /// assert_eq!(node.encoded(), all.encoded());
    /// let sent = node.poll_output().len();
    /// node.consume_output(sent);
    /// node.handle_input(b":1\r\n").unwrap();
    /// assert_eq!(n.read(&node), Ok(Reply::Int(1)));
    /// ```
    ///
    /// Bytes that are not one complete RESP array are refused ([`CapacityError`] with nothing
    /// needed: a transport's bug, not a full store).
    pub fn query_encoded(
        &mut self,
        command: &[u8],
    ) -> Result<Deferred<crate::Reply<'static>>, CapacityError> {
        let whole = command.first() == Some(&b'*')
            && matches!(
                Scanner::new().scan(command, &Limits::default()),
                Ok(Some(n)) if n == command.len()
            );
        if !whole {
            return Err(CapacityError {
                store: Store::Output,
                needed: 0,
                capacity: 0,
            });
        }
        let index = self.push_with(Role::User, 0, |out| {
            out.try_extend_from_slice(command)
                .map_err(|_| CapacityError {
                    store: Store::Output,
                    needed: out.len() + command.len(),
                    capacity: out.capacity(),
                })
        })?;
        Ok(Deferred::new(index, self.epoch))
    }

    /// [`query_encoded`](Self::query_encoded) without checking the bytes: for a command the
    /// crate took from [`command`](Self::command) of another pipeline, which is one whole
    /// encoded command by construction (the cluster router's hot path).
    #[cfg(feature = "alloc")]
    pub(crate) fn push_encoded(&mut self, command: &[u8]) -> Result<(), CapacityError> {
        self.push_with(Role::User, 0, |out| {
            out.try_extend_from_slice(command)
                .map_err(|_| CapacityError {
                    store: Store::Output,
                    needed: out.len() + command.len(),
                    capacity: out.capacity(),
                })
        })
        .map(drop)
    }

    /// Encodes a command and adds its entry; both or neither.
    fn push<A: Args + ?Sized>(
        &mut self,
        args: &A,
        role: Role,
        role_arg: u32,
    ) -> Result<u32, CapacityError> {
        self.push_with(role, role_arg, |out| encode_command(out, args).map(drop))
    }

    /// Writes a command with `write` and adds its entry; both or neither.
    fn push_with(
        &mut self,
        role: Role,
        role_arg: u32,
        write: impl FnOnce(&mut O) -> Result<(), CapacityError>,
    ) -> Result<u32, CapacityError> {
        let start = self.out.len();
        let index = self.entries.len();
        let index32 = u32::try_from(index).map_err(|_| self.commands_full(index + 1))?;
        write(&mut self.out)?;
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
            role_arg,
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
            State::Failed => failed(self.failure_of(self.row(index) as u32)),
        }
    }

    /// The row of the command a handle of `index` was issued for.
    #[inline]
    fn row(&self, index: u32) -> usize {
        #[cfg(feature = "transactions")]
        let index = index.saturating_add(self.first);
        index as usize
    }

    #[inline]
    fn visible(&self, index: u32, epoch: u32) -> Result<Entry, SlotError<'_>> {
        match self.entries.as_slice().get(self.row(index)) {
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
        match self.entries.as_slice().get(self.row(index)) {
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
        match (self.callbacks.get(index, epoch), self.failure) {
            (Err(SlotError::Pending), Some(f)) if self.is_done() => Err(SlotError::Failed(f)),
            (got, _) => got,
        }
    }
}
