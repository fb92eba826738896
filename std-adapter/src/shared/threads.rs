//! A shared blocking connection: the threads that submit take turns driving the socket.
//!
//! No thread of its own: a submitting thread that finds the socket free takes it and drives the
//! connection for everyone — it writes every pipeline queued so far in one write, reads, and
//! hands each reply to the mux, which fills that pipeline's slots and unparks its thread —
//! until its own pipeline is done. Then it writes what was queued meanwhile and hands the
//! socket to the oldest thread still waiting, which goes on from there. A thread that finds
//! the socket taken parks until its pipeline is done or the socket is handed to it.
//!
//! Compared with a driver thread, each pipeline costs one wake-up (its thread's) instead of
//! two (the driver's, then its thread's), and an idle connection costs no thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;

use redpipe_core::mux::{Mux, Slot, Submitted, Ticket};
use redpipe_core::{Failure, ReadBuffer, Result, Transport, VecPipeline};

use super::{MAX_PIPELINES, connection_error, outcome, stall_timeout};
use crate::config::ConnectionInfo;
use crate::connection::Connection;
use crate::stream::{Io, Millis};
use redpipe_core::session::Clock;

/// A submitter's pipeline, and its thread to unpark when it is done.
struct Sub {
    pipeline: VecPipeline,
    thread: Thread,
}

impl Submitted for Sub {
    type Out = redpipe_core::ByteBuf;
    type Replies = redpipe_core::ByteBuf;
    type Entries = Vec<redpipe_core::Entry>;

    fn pipeline(&mut self) -> &mut VecPipeline {
        &mut self.pipeline
    }

    fn on_done(&mut self) {
        self.thread.unpark();
    }
}

/// The socket and its buffers: whichever thread drives the connection holds it.
struct Wire {
    io: Io,
    out: Vec<u8>,
    buf: ReadBuffer<Vec<u8>>,
}

struct State {
    mux: Mux<Sub, Vec<Slot<Sub>>>,
    /// The socket while no thread drives it; `None` while one does, or once it failed.
    wire: Option<Box<Wire>>,
    /// Threads waiting for room in the ring.
    waiting: usize,
}

/// One shared blocking connection.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Cleared when the connection fails: a look without the lock.
    open: AtomicBool,
    room: Condvar,
    info: ConnectionInfo,
}

impl Shared {
    /// Connects and sets the connection up (`HELLO`/`AUTH`, `CLIENT SETNAME`, `SELECT`).
    pub(crate) fn open(info: &ConnectionInfo) -> Result<Arc<Self>> {
        let (io, buf) = Connection::open(info)?.into_io()?;
        let mut mux = Mux::with_capacity(MAX_PIPELINES);
        mux.set_window_bytes(info.window_bytes);
        mux.set_limits(info.limits);
        mux.set_timeout(stall_timeout(info));
        Ok(Arc::new(Self {
            state: Mutex::new(State {
                mux,
                wire: Some(Box::new(Wire {
                    io,
                    out: Vec::new(),
                    buf,
                })),
                waiting: 0,
            }),
            open: AtomicBool::new(true),
            room: Condvar::new(),
            info: info.clone(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether it still takes pipelines (it has not failed).
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    fn now(&self) -> u64 {
        Millis.now()
    }

    /// Runs `p` on the connection, among the other threads' pipelines.
    pub(crate) fn run(&self, p: &mut VecPipeline) -> Result<()> {
        let ticket = self.start(p)?;
        self.finish(ticket, p)
    }

    /// Queues `p` after every pipeline queued before, and writes it out now if the socket is
    /// free, without waiting for its replies (so that a caller can start pipelines on several
    /// connections, then finish each: a cluster's nodes work at the same time); then
    /// [`finish`](Self::finish) it.
    pub(crate) fn start(&self, p: &mut VecPipeline) -> Result<Ticket> {
        self.info.configure(p);
        let mut sub = Sub {
            pipeline: std::mem::replace(p, VecPipeline::new()),
            thread: std::thread::current(),
        };
        let mut state = self.lock();
        let ticket = loop {
            if let Some(f) = state.mux.failure() {
                *p = sub.pipeline;
                p.fail(f);
                return Err(connection_error(f));
            }
            match state.mux.try_submit(sub) {
                Ok(ticket) => break ticket,
                Err(back) => sub = back,
            }
            // The ring is full: wait for a pipeline to come back.
            state.waiting += 1;
            state = self
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.waiting -= 1;
        };
        if let Some(mut wire) = state.wire.take() {
            drop(state);
            let sent = self.send(&mut wire, ticket).map(drop);
            self.give_back(&mut self.lock(), wire, sent);
        }
        Ok(ticket)
    }

    /// Waits for the pipeline queued by [`start`](Self::start) (driving the connection for
    /// everyone when the socket is free) and puts it back into `p`.
    pub(crate) fn finish(&self, ticket: Ticket, p: &mut VecPipeline) -> Result<()> {
        let mut state = self.lock();
        loop {
            if state.mux.is_done(ticket) {
                let sub = state.mux.take(ticket);
                if state.waiting > 0 {
                    self.room.notify_one();
                }
                drop(state);
                return match sub {
                    Some(sub) => {
                        *p = sub.pipeline;
                        outcome(p)
                    }
                    None => Err(redpipe_core::Error::Closed),
                };
            }
            if let Some(mut wire) = state.wire.take() {
                drop(state);
                let driven = self.drive(&mut wire, ticket);
                state = self.lock();
                self.give_back(&mut state, wire, driven);
                continue;
            }
            drop(state);
            std::thread::park();
            state = self.lock();
        }
    }

    /// Puts the socket back after a turn: the oldest thread still waiting goes on with it. After
    /// a failure the socket closes instead, and every pipeline fails with the reason.
    fn give_back(
        &self,
        state: &mut State,
        wire: Box<Wire>,
        turn: std::result::Result<(), Failure>,
    ) {
        match turn {
            Ok(()) => {
                state.wire = Some(wire);
                if let Some(next) = state.mux.first_waiting_mut() {
                    next.thread.unpark();
                }
            }
            Err(f) => {
                if state.mux.failure().is_none() {
                    state.mux.fail(f);
                }
                self.open.store(false, Ordering::Relaxed);
            }
        }
    }

    /// Drives the connection for everyone until `mine` is done; `Err` ends the connection.
    ///
    /// The clock is read only when replies start to be awaited, after a read that completed no
    /// reply, and when a read times out (see [`Mux::handle_timeout`]): a read that goes on past
    /// the stall deadline is cut at it then; otherwise the socket's own read timeout applies,
    /// which is the same limit, so that the steady state costs no system call to move it.
    fn drive(&self, wire: &mut Wire, mine: Ticket) -> std::result::Result<(), Failure> {
        loop {
            if self.send(wire, mine)? {
                return Ok(());
            }
            let progress = self.lock().mux.progress();
            let read = self.read(wire);
            let mut state = self.lock();
            let stalled = match &read {
                Ok(()) => state.mux.progress() == progress,
                Err(f) => *f == Failure::Io(redpipe_core::IoKind::TimedOut),
            };
            if !stalled {
                drop(state);
                read?;
                wire.io.set_deadline(None);
                continue;
            }
            let deadline = state.mux.handle_timeout(self.now());
            if let Some(f) = state.mux.failure() {
                return Err(f);
            }
            drop(state);
            wire.io.set_deadline(deadline.map(Millis::instant));
        }
    }

    /// Writes everything the mux has ready. Returns whether `mine` is done.
    fn send(&self, wire: &mut Wire, mine: Ticket) -> std::result::Result<bool, Failure> {
        let mut state = self.lock();
        if !state.mux.is_awaiting() {
            // Nothing is awaited: bytes waiting now can only be pushes or the peer's close.
            // Find out before anything is committed, so that a connection closed while idle
            // fails only pipelines of which nothing was sent (they go again on a fresh one).
            drop(state);
            if matches!(embedded_io::ReadReady::read_ready(&mut wire.io), Ok(true)) {
                self.read(wire)?;
            }
            state = self.lock();
        }
        let awaiting = state.mux.is_awaiting();
        wire.out.clear();
        state.mux.poll_transmit(&mut wire.out);
        if !awaiting {
            // Replies are awaited from now: the stall clock starts.
            state.mux.handle_timeout(self.now());
        }
        if let Some(f) = state.mux.failure() {
            return Err(f);
        }
        let done = state.mux.is_done(mine);
        drop(state);
        if !wire.out.is_empty() {
            write_all(&mut wire.io, &wire.out)?;
        }
        Ok(done)
    }

    /// Reads once and hands what came to the mux.
    fn read(&self, wire: &mut Wire) -> std::result::Result<(), Failure> {
        let io = &mut wire.io;
        match wire
            .buf
            .read_with(|spare| embedded_io::Read::read(io, spare))
        {
            Ok(0) => Err(Failure::Closed),
            Ok(_) => {
                let mut state = self.lock();
                let used = state
                    .mux
                    .handle_input(wire.buf.filled())
                    .map_err(Failure::Protocol)?;
                drop(state);
                wire.buf.consume(used);
                wire.buf.shrink();
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(redpipe_core::io::io_failure(&e)),
        }
    }
}

fn write_all(io: &mut Io, mut bytes: &[u8]) -> std::result::Result<(), Failure> {
    while !bytes.is_empty() {
        match embedded_io::Write::write(io, bytes) {
            Ok(0) => return Err(Failure::Closed),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(redpipe_core::io::io_failure(&e)),
        }
    }
    embedded_io::Write::flush(io).map_err(|e| redpipe_core::io::io_failure(&e))
}

/// A shared connection as the transport of a [`Group`](redpipe_core::Group)'s run.
pub(crate) struct Link(pub(crate) Arc<Shared>);

impl Transport for Link {
    fn run(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.0.run(p)
    }

    fn is_usable(&self) -> bool {
        self.0.is_open()
    }
}
