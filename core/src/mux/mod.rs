//! Many submitters' pipelines on one connection, sans-I/O: the multiplexer.
//!
//! A [`Pipeline`] keeps one submitter's commands in order; a [`Mux`] keeps many submitters'
//! pipelines in order on one wire. Each submitter hands over its pipeline
//! ([`Mux::try_submit`]) and gets a [`Ticket`]; the transport takes everything that is ready
//! to go in one piece ([`Mux::poll_transmit`]), writes it, and feeds what it reads back
//! ([`Mux::handle_input`]); each reply fills its own pipeline's slot, and a pipeline whose
//! last reply arrived is done: its submitter takes it back ([`Mux::take`]).
//!
//! # Rules
//! - **Contiguous**: a pipeline's commands go out back to back, never interleaved with another
//!   pipeline's (a `MULTI`/`EXEC` block is never split), and in submission order, so replies
//!   match by order with nothing on the wire to say whose they are. Commands are committed
//!   whole: a command cut in two by a failure would swallow the next pipeline's bytes.
//! - **No waiting to fill a batch**: whatever is queued when the transport asks goes out, so a
//!   lone submitter sees no added latency, and many submitters share each write.
//! - **Bounded**: at most the ring's capacity of pipelines is queued or in flight (past it
//!   [`Mux::try_submit`] refuses, and the submitter waits: back-pressure); the bytes committed
//!   whose replies have not arrived, with the replies expected for them, stay under the byte
//!   window ([`Mux::set_window_bytes`]) — one command always goes, so nothing stalls.
//! - **Cancellable**: a submitter that goes away ([`Mux::abandon`]) gets its pipeline back at
//!   once; what of it was sent is answered later, and those replies are read and dropped, so
//!   they never shift onto the next pipeline. Nothing of it that was not sent is sent.
//! - **Failures touch only what they must**: [`Mux::fail`] (the connection broke or timed out)
//!   fails every pipeline, each with the reason; one of which nothing was sent says so
//!   ([`Pipeline::sent_nothing`]) and may go again on a fresh connection
//!   ([`Retry`](crate::session::Retry) does exactly that). Nothing sent is ever sent again.
//! - **Pushes go out, never into a slot**: a RESP3 push, wherever it arrives (between
//!   pipelines, among a pipeline's replies), is handed to the transport
//!   ([`Mux::handle_input_with`]), which routes it (to a subscriber); a pipeline never reads
//!   one.
//! - **Subscriptions between pipelines**: on a RESP3 connection, subscription commands go in a
//!   fenced submission ([`Mux::try_submit_fenced`]), whose fences tell a refusal (in band) from
//!   an acceptance (confirmed by pushes).
//! - **Stalls count**: a server that trickles bytes without completing a reply, or floods
//!   RESP3 pushes, makes no progress; [`Mux::handle_timeout`] fails the connection when no
//!   reply completed for the timeout while replies were awaited.
//!
//! # The run loop
//! A transport calls, in any order as events come: [`Mux::try_submit`] when a submitter
//! arrives; [`Mux::poll_transmit`] into its write buffer, then writes it; [`Mux::handle_input`]
//! with the bytes read (dropping the bytes it used from the front of its buffer, as with
//! [`Pipeline::handle_input`]); [`Mux::handle_timeout`] with the time after each of these and
//! when the deadline it returned passes; [`Mux::fail`] when the connection fails. A submitter
//! learns that its pipeline is done through [`Submitted::on_done`] (wake a task, unpark a
//! thread) and takes it back with [`Mux::take`].
//!
//! Storage is the caller's: a ring of [`Slot`]s (an array, a slice, or with `alloc` a `Vec`:
//! `Mux::with_capacity`) and any [`Storage`] for the write buffer, so two firmware tasks can
//! share one link without an allocator.
//!
//! ```
//! use redpipe_core::mux::{Mux, Slot};
//! use redpipe_core::{prelude::*, VecPipeline};
//!
//! let mut mux = Mux::new([Slot::<VecPipeline>::VACANT; 4]);
//! // Two submitters, one pipeline each.
//! let mut a = VecPipeline::new();
//! let hits = a.incr("hits").unwrap();
//! let mut b = VecPipeline::new();
//! let name = b.get::<String>("name").unwrap();
//! let (ta, tb) = (mux.try_submit(a).unwrap(), mux.try_submit(b).unwrap());
//!
//! // One write carries both.
//! let mut wire = Vec::new();
//! mux.poll_transmit(&mut wire);
//! assert_eq!(wire, b"*2\r\n$4\r\nINCR\r\n$4\r\nhits\r\n*2\r\n$3\r\nGET\r\n$4\r\nname\r\n");
//!
//! // The replies come back in one read, each to its own pipeline.
//! assert_eq!(mux.handle_input(b":7\r\n$3\r\nAnn\r\n"), Ok(13));
//! let (a, b) = (mux.take(ta).unwrap(), mux.take(tb).unwrap());
//! assert_eq!((hits.read(&a), name.read(&b).unwrap()), (Ok(7), "Ann".into()));
//! ```

mod ending;
mod fence;
#[cfg(test)]
mod push_tests;
mod reading;
mod ring;
#[cfg(test)]
mod tests;

pub use crate::engine::Sharing;
pub use fence::{FENCE, fenced_outcomes, queue_fenced};
pub use ring::Ring;

use crate::codec::decode::{Limits, Scanner};
use crate::codec::error::{CapacityError, DecodeError, Failure, IoKind, Store};
use crate::codec::reply::strip_attributes;
use crate::codec::storage::Storage;
use crate::engine::{Block, Entry, Pipeline};
use crate::session::Stall;

/// What a submitter hands a [`Mux`]: its pipeline, and whatever it keeps beside it (a waker, a
/// thread to unpark).
pub trait Submitted {
    /// The pipeline's output store.
    type Out: Storage<u8>;
    /// The pipeline's reply arena.
    type Replies: Storage<u8>;
    /// The pipeline's command table.
    type Entries: Storage<Entry>;

    /// The pipeline.
    fn pipeline(&mut self) -> &mut Pipeline<Self::Out, Self::Replies, Self::Entries>;

    /// Called once, when the pipeline is done (resolved or failed): the time to wake the
    /// submitter. It MUST NOT call back into the mux (it runs inside its methods).
    fn on_done(&mut self) {}
}

impl<O: Storage<u8>, R: Storage<u8>, E: Storage<Entry>> Submitted for Pipeline<O, R, E> {
    type Out = O;
    type Replies = R;
    type Entries = E;

    fn pipeline(&mut self) -> &mut Pipeline<O, R, E> {
        self
    }
}

impl<S: Submitted + ?Sized> Submitted for &mut S {
    type Out = S::Out;
    type Replies = S::Replies;
    type Entries = S::Entries;

    fn pipeline(&mut self) -> &mut Pipeline<S::Out, S::Replies, S::Entries> {
        (**self).pipeline()
    }

    fn on_done(&mut self) {
        (**self).on_done();
    }
}

/// A submitted pipeline's place in the queue: its submitter takes it back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

/// Where a slot's pipeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No pipeline (taken back, or never used).
    Vacant,
    /// Nothing of it is committed yet.
    Queued,
    /// Some of it is committed; replies outstanding or more to send.
    Live,
    /// Done: its submitter has not taken it back yet.
    Done,
    /// Its submitter went away after some of it was committed: this many replies are still to
    /// be read and dropped.
    Discard(u32),
}

/// One place in a [`Mux`]'s ring. The caller provides the ring (`[Slot::VACANT; N]`); only the
/// mux reads it.
#[derive(Debug)]
pub struct Slot<S> {
    sub: Option<S>,
    ticket: u64,
    stage: Stage,
    /// Bytes this slot adds to the bytes in flight.
    charged: usize,
    /// Commands committed whose replies have not arrived.
    waiting: usize,
    /// Its commands alternate subscription commands and fences (see [`Mux::try_submit_fenced`]).
    fenced: bool,
}

impl<S> Slot<S> {
    /// An unused place, to fill a ring: `[Slot::VACANT; 16]`.
    pub const VACANT: Self = Self {
        sub: None,
        ticket: 0,
        stage: Stage::Vacant,
        charged: 0,
        waiting: 0,
        fenced: false,
    };
}

/// Bytes a reply is expected to take before any has arrived.
const FIRST_REPLY_ESTIMATE: usize = 64;

/// Many submitters' pipelines on one connection; see the [module docs](self).
pub struct Mux<S, Q> {
    ring: Q,
    /// Pipelines queued or in flight at most.
    limit: usize,
    /// Ring index of the oldest slot in use.
    head: usize,
    /// Slots in use from `head` (some may be vacant: withdrawn, not yet at the front).
    len: usize,
    /// Ticket of the slot at `head`.
    first: u64,
    /// Ticket of the next slot to commit bytes from: every slot before it is committed whole.
    send: u64,
    /// Ticket of the oldest slot that may still expect replies.
    read: u64,
    /// Bytes committed whose replies have not all arrived, with the replies expected.
    charged: usize,
    /// Pipelines with bytes committed and replies outstanding (abandoned ones included).
    live: usize,
    window_bytes: usize,
    /// Replies read and their bytes, for the expected size of the next ones (`usize`: no
    /// 64-bit division on 32-bit targets).
    replies: usize,
    reply_bytes: usize,
    /// Replies read for pipelines; advances only when a reply completes.
    progress: u64,
    stall: Stall,
    /// Ticks of the timeout's clock per millisecond, for blocking commands' waits (0: they do
    /// not lengthen it).
    ticks_per_milli: u64,
    /// Reads the replies of abandoned pipelines, which have no pipeline to read them.
    scanner: Scanner,
    limits: Limits,
    failure: Option<Failure>,
    pushes: u64,
    _sub: core::marker::PhantomData<S>,
}

impl<S, Q> core::fmt::Debug for Mux<S, Q> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mux")
            .field("pipelines", &self.len)
            .field("bytes_in_flight", &self.charged)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "alloc")]
impl<S: Submitted> Mux<S, alloc::vec::Vec<Slot<S>>> {
    /// A mux of at most `pipelines` queued or in flight (at least 1), whose ring starts small
    /// and grows as more are in flight at once.
    pub fn with_capacity(pipelines: usize) -> Self {
        let mut ring = alloc::vec::Vec::new();
        ring.resize_with(pipelines.clamp(1, 16), || Slot::VACANT);
        let mut mux = Self::new(ring);
        mux.limit = pipelines.max(1);
        mux
    }
}

impl<S, Q> Mux<S, Q>
where
    S: Submitted,
    Q: Ring<S>,
{
    /// A mux over `ring`, whose length bounds the pipelines queued or in flight at once. A ring
    /// of no slots takes nothing.
    pub fn new(ring: Q) -> Self {
        Self {
            limit: ring.slots().len(),
            ring,
            head: 0,
            len: 0,
            first: 0,
            send: 0,
            read: 0,
            charged: 0,
            live: 0,
            window_bytes: crate::engine::DEFAULT_WINDOW_BYTES,
            replies: 0,
            reply_bytes: 0,
            progress: 0,
            stall: Stall::new(None),
            ticks_per_milli: 1,
            scanner: Scanner::new(),
            limits: Limits::default(),
            failure: None,
            pushes: 0,
            _sub: core::marker::PhantomData,
        }
    }

    /// Bounds the bytes in flight: commands committed whose replies have not arrived, and the
    /// replies expected for them (1 MiB by default; 0: no bound). One command always goes.
    pub fn set_window_bytes(&mut self, bytes: usize) {
        self.window_bytes = bytes;
    }

    /// Sets the limits for the replies of abandoned pipelines (each pipeline reads its own with
    /// its own limits).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Sets how long replies may be awaited with none completing before the connection fails
    /// (see [`handle_timeout`](Self::handle_timeout)), in the unit of its `now`; `None`: never.
    ///
    /// While the reply awaited belongs to a pipeline with blocking commands (`BLPOP k 5`, see
    /// [`Pipeline::blocking`]; only a pipeline set to [`Sharing::Shared`] has them here, as
    /// [`Sharing::Auto`] gives them a connection of their own), the wait may last their waits
    /// longer, and has no limit for one that waits forever: the pipelines queued behind it wait
    /// for it without failing. The timeout is in milliseconds for that unless
    /// [`set_ticks_per_milli`](Self::set_ticks_per_milli) says otherwise.
    pub fn set_timeout(&mut self, timeout: Option<u64>) {
        self.stall = Stall::new(timeout);
    }

    /// Sets how many units of the timeout's clock make a millisecond (1 by default), to lengthen
    /// the timeout by blocking commands' waits (see [`set_timeout`](Self::set_timeout)); 0:
    /// blocking commands do not lengthen it.
    pub fn set_ticks_per_milli(&mut self, ticks: u64) {
        self.ticks_per_milli = ticks;
    }

    /// Pipelines it holds at most, queued or in flight.
    pub fn capacity(&self) -> usize {
        self.limit
    }

    /// Whether nothing is queued, in flight, or waiting to be taken back.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether another pipeline would be taken now.
    pub fn has_room(&self) -> bool {
        self.len < self.limit
    }

    /// Why the connection failed, once it did: it takes nothing more.
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// Whether replies are awaited: the connection is expected to answer.
    pub fn is_awaiting(&self) -> bool {
        self.reader().is_some()
    }

    /// Whether pipelines are queued or in flight (not counting done ones not yet taken back).
    pub fn is_busy(&self) -> bool {
        self.slots()
            .any(|s| matches!(s.stage, Stage::Queued | Stage::Live | Stage::Discard(_)))
    }

    /// Replies read so far for pipelines (pushes and dropped replies not counted).
    pub fn progress(&self) -> u64 {
        self.progress
    }

    /// RESP3 pushes read, wherever they came: between pipelines or among a pipeline's replies
    /// (which never sees them: they are the mux's to hand out, see
    /// [`handle_input_with`](Self::handle_input_with)).
    pub fn pushes_seen(&self) -> u64 {
        self.pushes
    }

    /// Pipelines on the wire now: some of their bytes committed, some replies outstanding. A
    /// transport may write a new pipeline at once while few are (the server may be idle), and
    /// leave it for its next batched write while many are (the server has work queued).
    pub fn in_flight(&self) -> usize {
        self.live
    }

    /// Bytes in flight now (see [`set_window_bytes`](Self::set_window_bytes)).
    pub fn bytes_in_flight(&self) -> usize {
        self.charged
    }

    fn cap(&self) -> usize {
        self.ring.slots().len()
    }

    /// Ring index of `ticket`, if it is in the ring.
    fn index(&self, ticket: u64) -> Option<usize> {
        let offset = ticket.checked_sub(self.first)?;
        if offset >= self.len as u64 {
            return None;
        }
        Some((self.head + offset as usize) % self.cap())
    }

    fn slot(&self, ticket: u64) -> Option<&Slot<S>> {
        let i = self.index(ticket)?;
        self.ring.slots().get(i)
    }

    fn slot_mut(&mut self, ticket: u64) -> Option<&mut Slot<S>> {
        let i = self.index(ticket)?;
        self.ring.slots_mut().get_mut(i)
    }

    /// The slots in use, oldest first.
    fn slots(&self) -> impl Iterator<Item = &Slot<S>> {
        (self.first..self.first + self.len as u64).filter_map(|t| self.slot(t))
    }

    /// Queues `sub`'s pipeline after every pipeline queued before; refuses it (giving it back)
    /// when the ring is full — the submitter waits for a pipeline to be taken back — or the
    /// connection failed.
    ///
    /// A pipeline with nothing to send (empty, or failed while queueing) is done at once.
    pub fn try_submit(&mut self, sub: S) -> Result<Ticket, S> {
        self.submit(sub, false)
    }

    /// Queues a fenced pipeline, as [`try_submit`](Self::try_submit): subscription commands on
    /// a RESP3 connection, each followed by a fence ([`queue_fenced`] queues them so). Each
    /// subscription command's slot reads `+OK` when the server accepted it (its confirmations
    /// come as pushes, handed out by [`handle_input_with`](Self::handle_input_with)) or the
    /// server's error when it refused it; see the `fence` module of the source for why.
    ///
    /// Its commands go out whole, in one write, whatever the byte window: a subscription
    /// command whose fence stayed behind would leave its refusal without an owner. The
    /// connection MUST speak RESP3: in RESP2 confirmations come in band and break the protocol.
    pub fn try_submit_fenced(&mut self, sub: S) -> Result<Ticket, S> {
        self.submit(sub, true)
    }

    fn submit(&mut self, mut sub: S, fenced: bool) -> Result<Ticket, S> {
        if self.failure.is_some() || !self.has_room() {
            return Err(sub);
        }
        if self.len == self.cap() {
            if !self.ring.grow(self.head, self.limit) {
                return Err(sub);
            }
            self.head = 0;
        }
        let ticket = self.first + self.len as u64;
        let i = (self.head + self.len) % self.cap();
        self.len += 1;
        let p = sub.pipeline();
        // Its byte window starts from the replies this connection has seen, not from a guess
        // (which would let a fresh pipeline of a few dozen small commands go in two rounds).
        if self.replies > 0 {
            p.set_reply_estimate(self.reply_estimate());
        }
        let stage = if p.is_done() {
            p.consume_output(0); // its callbacks run now
            sub.on_done();
            Stage::Done
        } else {
            Stage::Queued
        };
        self.ring.slots_mut()[i] = Slot {
            sub: Some(sub),
            ticket,
            stage,
            charged: 0,
            waiting: 0,
            fenced,
        };
        Ok(Ticket(ticket))
    }

    /// The submission of `ticket` while the mux holds it, to update what the submitter keeps
    /// with it (a new waker).
    pub fn submission_mut(&mut self, ticket: Ticket) -> Option<&mut S> {
        let slot = self.slot_mut(ticket.0)?;
        if slot.ticket != ticket.0 {
            return None;
        }
        slot.sub.as_mut()
    }

    /// Whether `ticket`'s pipeline is done (or no longer here).
    pub fn is_done(&self, ticket: Ticket) -> bool {
        match self.slot(ticket.0) {
            Some(s) if s.ticket == ticket.0 => !matches!(s.stage, Stage::Queued | Stage::Live),
            _ => true,
        }
    }

    /// The oldest submission whose pipeline is queued or in flight: for transports where the
    /// submitters take turns driving the connection (blocking threads), the one to hand the
    /// turn to.
    pub fn first_waiting_mut(&mut self) -> Option<&mut S> {
        let (first, len) = (self.first, self.len as u64);
        let ticket = (first..first + len).find(|t| {
            self.slot(*t)
                .is_some_and(|s| matches!(s.stage, Stage::Queued | Stage::Live))
        })?;
        self.slot_mut(ticket)?.sub.as_mut()
    }

    /// Takes back `ticket`'s pipeline once it is done, or while nothing of it was sent (then
    /// nothing of it ever is: it was withdrawn, its slots untouched). `None` while it is in
    /// flight (see [`abandon`](Self::abandon)) or once taken.
    pub fn take(&mut self, ticket: Ticket) -> Option<S> {
        let slot = self.slot_mut(ticket.0)?;
        if slot.ticket != ticket.0 || !matches!(slot.stage, Stage::Done | Stage::Queued) {
            return None;
        }
        let sub = slot.sub.take();
        slot.stage = Stage::Vacant;
        self.pop_vacant();
        sub
    }

    /// Gives `ticket`'s pipeline back to a submitter that goes away (a dropped future, a timed
    /// out request), wherever it is: what of it was sent is answered later, and those replies
    /// are read and dropped; nothing more of it is sent. The pipeline as it is now comes back
    /// (its waiting slots are the caller's to fail, e.g. with [`Failure::Cancelled`]).
    pub fn abandon(&mut self, ticket: Ticket) -> Option<S> {
        let i = self.index(ticket.0)?;
        let slot = &mut self.ring.slots_mut()[i];
        if slot.ticket != ticket.0 {
            return None;
        }
        if slot.stage != Stage::Live {
            return self.take(ticket);
        }
        let mut sub = slot.sub.take()?;
        if slot.fenced {
            // Only its fences are sure to be answered: the replies it drops are counted in them.
            slot.waiting = fence::fences_in(sub.pipeline().answered(), slot.waiting);
        }
        slot.stage = match u32::try_from(slot.waiting) {
            Ok(0) => Stage::Vacant,
            Ok(n) => Stage::Discard(n),
            // More replies than a table can index: never, but do not lose track of them.
            Err(_) => Stage::Discard(u32::MAX),
        };
        if slot.stage == Stage::Vacant {
            self.live -= 1;
        }
        self.charged = self.charged.saturating_sub(slot.charged);
        slot.charged = 0;
        self.pop_vacant();
        Some(sub)
    }

    /// Appends to `out` the commands ready to go, whole and in order: the rest of the pipeline
    /// being sent, then the next ones, as far as the byte window, each pipeline's own window and
    /// `out`'s capacity allow. Returns how many bytes it appended; those are committed: the
    /// transport MUST write them all, or fail the mux.
    ///
    /// A command larger than an empty fixed `out` can never go: its pipeline fails with
    /// [`Failure::Capacity`] (a clear error, not a stall).
    pub fn poll_transmit<W: Storage<u8>>(&mut self, out: &mut W) -> usize {
        let before = out.len();
        if self.failure.is_some() {
            return 0;
        }
        while let Some(i) = self.index(self.send) {
            let estimate = self.reply_estimate();
            let nothing_in_flight = self.charged == 0;
            let window_room = match self.window_bytes {
                0 => usize::MAX,
                w => w.saturating_sub(self.charged),
            };
            let slot = &mut self.ring.slots_mut()[i];
            let fenced = slot.fenced;
            if !matches!(slot.stage, Stage::Queued | Stage::Live) {
                self.send += 1;
                continue;
            }
            let Some(sub) = slot.sub.as_mut() else {
                self.send += 1;
                continue;
            };
            let p = sub.pipeline();
            let out_room = out.capacity().saturating_sub(out.len());
            let mut bytes = match window_room {
                usize::MAX => p.output_within(out_room, 0),
                room => p.output_within(room, estimate),
            };
            if out_room < bytes.len() {
                bytes = p.output_within(out_room, 0);
            }
            if fenced {
                // Whole or not at all (see `try_submit_fenced`).
                bytes = p.poll_output();
                if bytes.len() > out_room {
                    bytes = &[];
                }
            }
            if bytes.is_empty() && nothing_in_flight && !fenced {
                // One command always goes, whatever the byte window, so that nothing stalls.
                bytes = p.output_within(p.next_command_len().min(out_room), 0);
            }
            if bytes.is_empty() {
                if p.is_sent() && !p.may_grow() && !p.is_done() {
                    // Committed whole; its replies are on their way.
                    self.send += 1;
                    continue;
                }
                let next = p.poll_output();
                if !next.is_empty() && out.is_empty() && next.len() > out_room {
                    // Not even one command fits an empty write buffer: it never will.
                    let needed = p.next_command_len();
                    p.fail(Failure::Capacity(CapacityError {
                        store: Store::Output,
                        needed,
                        capacity: out.capacity(),
                    }));
                    self.finish_slot(i);
                    self.send += 1;
                    continue;
                }
                break; // its window, or the byte window, is full: the rest waits for replies
            }
            let n = bytes.len();
            if out.try_extend_from_slice(bytes).is_err() {
                break; // cannot happen: `room` fits
            }
            let before_commands = p.unanswered();
            p.consume_output(n);
            let commands = p.unanswered().saturating_sub(before_commands);
            let sent_whole = p.is_sent() && !p.may_grow();
            let charge = n.saturating_add(commands.saturating_mul(estimate));
            slot.charged = slot.charged.saturating_add(charge);
            slot.waiting += commands;
            if slot.stage == Stage::Queued {
                self.live += 1;
            }
            slot.stage = Stage::Live;
            self.charged = self.charged.saturating_add(charge);
            if !sent_whole {
                break; // the rest of it goes first, once its window opens
            }
            self.send += 1;
        }
        out.len() - before
    }

    /// The mean size of the replies read so far.
    fn reply_estimate(&self) -> usize {
        match self.replies {
            0 => FIRST_REPLY_ESTIMATE,
            n => self.reply_bytes / n,
        }
    }
}
