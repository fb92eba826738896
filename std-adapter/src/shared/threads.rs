//! A shared blocking connection: the threads that submit take turns at its two sides.
//!
//! No thread of its own. The socket has a write side and a read side (two handles on one TCP or
//! Unix socket; one for TLS, whose session state cannot be shared, so there one thread does
//! both):
//!
//! - **Writing**: a thread whose pipeline finds few others on the wire (the server may be idle)
//!   takes the write side if it is free and writes everything queued, its own pipeline with it;
//!   with many on the wire it leaves its pipeline for the next write, made by the reader after
//!   its read, which carries everything queued by then.
//! - **Reading**: a thread whose pipeline is not done takes the read side if it is free, reads,
//!   and hands each reply to the mux, which fills that pipeline's slots and unparks its thread;
//!   it reads for everyone until its own pipeline is done, then hands the read side to the
//!   oldest thread still waiting. A thread that finds both sides taken parks until its pipeline
//!   is done or the read side is handed to it.
//!
//! Compared with a driver thread, each pipeline costs one wake-up (its thread's) instead of
//! two, and an idle connection costs no thread; a reader blocked on the socket never holds
//! back another thread's write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::Thread;

use redpipe_core::mux::{Mux, Slot, Ticket};
use redpipe_core::session::{Clock, Hold};
use redpipe_core::{Failure, IoKind, ReadBuffer, Result, Transport, VecPipeline};

use super::{
    EAGER_BELOW, Later, MAX_PIPELINES, PushSink, connection_error, outcome, stall_timeout,
};
use crate::config::ConnectionInfo;
use crate::connection::Connection;
use crate::stream::{Io, Millis};

/// The longest a thread waiting for its pipeline sleeps before it looks at the state again.
const PARK_LIMIT: std::time::Duration = std::time::Duration::from_millis(20);

/// The read side: the socket (for TLS, its only handle, which writes too) and what was read
/// from it but not used yet.
struct Reader {
    io: Io,
    buf: ReadBuffer<Vec<u8>>,
    /// For TLS: the committed bytes, written through `io`.
    out: Vec<u8>,
}

/// The write side: a second handle on the socket, and the committed bytes.
struct Writer {
    io: Io,
    out: Vec<u8>,
}

/// What [`Shared::listen`] found.
enum Look {
    /// Nothing came within the wait.
    Quiet,
    /// A pipeline's thread reads (or will): pushes reach the subscriber through it.
    Busy,
    /// The connection failed.
    Failed(Failure),
    /// The read side, and what reading it gave.
    Read(Box<Reader>, std::result::Result<usize, Failure>),
}

/// A submitter's pipeline, and its thread to wake when it is done.
type Sub = super::Sub<Thread>;

struct State {
    mux: Mux<Sub, Vec<Slot<Sub>>>,
    /// The read side while no thread reads; `None` while one does, or once the connection failed.
    reader: Option<Box<Reader>>,
    /// The write side while no thread writes (`None` while one does, after a failure, and
    /// always for TLS, where the reader writes).
    writer: Option<Box<Writer>>,
    /// Whether the socket has two sides.
    split: bool,
    /// Threads waiting for room in the ring.
    waiting: usize,
    /// Whether new commands wait while replies have stopped (see [`Hold`]).
    hold: Hold,
    /// The hub of the subscribers the connection's RESP3 pushes go to, while it lives.
    sink: Option<Weak<dyn PushSink>>,
    /// The pushes of the last read, while they are handed over.
    pushes: Vec<u8>,
    /// The thread listening for pushes, parked while a pipeline's thread reads: woken when
    /// that thread gives the read side back with nothing left to read for, so that a push
    /// arriving after the last pipeline is read at once, not after the listener's wait.
    listener: Option<Thread>,
}

/// One shared blocking connection.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Cleared when the connection fails: a look without the lock.
    open: AtomicBool,
    room: Condvar,
    info: ConnectionInfo,
    /// A second handle on the socket, for [`abort`](Self::abort).
    kill: Option<std::net::TcpStream>,
}

impl Shared {
    /// Connects and sets the connection up (`HELLO`/`AUTH`, `CLIENT SETNAME`, `SELECT`).
    /// `hold_after`: see [`Pool::holding_writes`](crate::registry::Pool::holding_writes).
    pub(crate) fn open(info: &ConnectionInfo, hold_after: Option<u64>) -> Result<Arc<Self>> {
        let (io, buf) = Connection::open(info)?.into_io()?;
        let kill = io.shutdown_handle();
        let writer = io.try_clone().map(|io| {
            Box::new(Writer {
                io,
                out: Vec::new(),
            })
        });
        let mut mux = Mux::with_capacity(MAX_PIPELINES);
        mux.set_window_bytes(info.window_bytes);
        mux.set_limits(info.limits);
        mux.set_timeout(stall_timeout(info));
        Ok(Arc::new(Self {
            state: Mutex::new(State {
                mux,
                split: writer.is_some(),
                writer,
                reader: Some(Box::new(Reader {
                    io,
                    buf,
                    out: Vec::new(),
                })),
                waiting: 0,
                hold: Hold::new(hold_after),
                sink: None,
                pushes: Vec::new(),
                listener: None,
            }),
            open: AtomicBool::new(true),
            room: Condvar::new(),
            info: info.clone(),
            kill,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether it still takes pipelines (it has not failed).
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    /// Ends the connection: every pipeline fails with `failure`, and the socket is shut down
    /// (which wakes a thread blocked reading or waiting on it); the sides close as they are
    /// dropped.
    fn end(&self, state: &mut State, failure: Failure) {
        if state.mux.failure().is_none() {
            state.mux.fail(failure);
        }
        state.reader = None;
        state.writer = None;
        // The socket stays open through `kill`: shut it, so that a listener waiting on it
        // (over TLS, without the read side) is woken.
        if let Some(socket) = &self.kill {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
        self.open.store(false, Ordering::Relaxed);
        if let Some(sink) = state.sink.take().and_then(|w| w.upgrade()) {
            sink.lost();
        }
    }

    /// The hub the connection's RESP3 pushes go to: the one attached, else the one `make`
    /// gives, attached from now on (see [`PushSink`]). Refused once the connection failed.
    /// A blocking connection is read only while a pipeline waits for replies: the subscribers
    /// [`listen`](Self::listen) in between.
    pub(crate) fn attach(
        &self,
        make: impl FnOnce() -> Arc<dyn PushSink>,
    ) -> Result<Arc<dyn PushSink>> {
        let state = &mut *self.lock();
        super::attach_sink(&mut state.sink, state.mux.failure(), make)
    }

    /// Reads for the attached subscriber while no pipeline does: when the read side is free
    /// and nothing is awaited, waits up to `wait` for bytes and hands them to the mux (pushes
    /// go to the subscriber); otherwise the thread reading for its pipeline hands them on, and
    /// this one sleeps for `wait`. `Err`: the connection failed.
    ///
    /// With two handles on the socket it waits in a read, and a pipeline written meanwhile is
    /// answered through it (its thread is woken, as by any reader). Over TLS the one handle
    /// also writes, so it waits for bytes on the socket without it (see
    /// [`when_ready`](crate::stream::when_ready)) and takes it only to read what the session
    /// has ready: a pipeline never waits for the listener, and a message is read when it comes.
    pub(crate) fn listen(&self, wait: std::time::Duration) -> Result<()> {
        let (mut reader, read) = match self.look_for_pushes(wait) {
            Look::Quiet => return self.listen_after(),
            Look::Busy => {
                // Unparked when the read side comes back (`listener`), or after `wait`.
                std::thread::park_timeout(wait);
                return self.listen_after();
            }
            Look::Failed(f) => return Err(connection_error(f)),
            Look::Read(reader, read) => (reader, read),
        };
        let later = Later::collect();
        let mut state = self.lock();
        if let Some(f) = state.mux.failure() {
            return Err(connection_error(f));
        }
        let taken = match read {
            Ok(n) => take_input(&mut state, &mut reader, n),
            Err(Failure::Io(IoKind::TimedOut)) => Ok(()),
            Err(f) => Err(f),
        };
        if let Err(f) = taken {
            self.end(&mut state, f);
            return Err(connection_error(f));
        }
        // The read side goes back, with what was queued meanwhile written; a thread waiting
        // for its replies reads next.
        state.reader = Some(reader);
        let mut state = self.write(state);
        if let Some(next) = state.mux.first_waiting_mut() {
            next.wake.unpark();
        }
        drop(state);
        drop(later);
        Ok(())
    }

    /// The read side, if it is free and nothing is awaited (else a pipeline's thread reads).
    fn take_idle_reader(&self) -> std::result::Result<(Box<Reader>, bool), Look> {
        let mut state = self.lock();
        if let Some(f) = state.mux.failure() {
            return Err(Look::Failed(f));
        }
        let free = match state.mux.is_awaiting() {
            true => None,
            false => state.reader.take(),
        };
        match free {
            Some(reader) => Ok((reader, state.split)),
            None => {
                state.listener = Some(std::thread::current());
                Err(Look::Busy)
            }
        }
    }

    /// [`listen`](Self::listen)'s wait for bytes, holding the read side only while it reads.
    fn look_for_pushes(&self, wait: std::time::Duration) -> Look {
        let (mut reader, split) = match self.take_idle_reader() {
            Ok(taken) => taken,
            Err(look) => return look,
        };
        if split {
            reader
                .io
                .set_deadline(Some(std::time::Instant::now() + wait));
            let read = read_once(&mut reader);
            reader.io.set_deadline(None);
            return Look::Read(reader, read);
        }
        let mut first = Some(reader);
        let mut attempt = || {
            let mut reader = match first.take() {
                Some(reader) => reader,
                None => match self.take_idle_reader() {
                    Ok((reader, _)) => reader,
                    Err(look) => return Ok(Some(look)),
                },
            };
            let ready = embedded_io::ReadReady::read_ready(&mut reader.io);
            // Nothing to read yet: the side goes back while the socket is waited on, which
            // the wait's bound is set on first.
            let armed = match ready {
                Ok(false) => reader.io.arm_wait(wait).map(|()| false),
                other => other,
            };
            match armed {
                Ok(true) => {
                    let read = read_once(&mut reader);
                    Ok(Some(Look::Read(reader, read)))
                }
                Ok(false) => {
                    self.lock().reader = Some(reader);
                    Ok(None)
                }
                Err(e) => Ok(Some(Look::Read(
                    reader,
                    Err(redpipe_core::io::io_failure(&e)),
                ))),
            }
        };
        let looked = match &self.kill {
            Some(socket) => crate::stream::when_ready(socket, attempt),
            // No handle to wait on: what is ready now, else a look again after `wait`.
            None => attempt().map(|look| Some(look.unwrap_or(Look::Busy))),
        };
        match looked {
            Ok(Some(look)) => look,
            // Quiet for `wait`, or an error of the socket, which the next read reports.
            Ok(None) | Err(_) => Look::Quiet,
        }
    }

    /// After a wait without the read side: whether the connection failed meanwhile.
    fn listen_after(&self) -> Result<()> {
        match self.lock().mux.failure() {
            Some(f) => Err(connection_error(f)),
            None => Ok(()),
        }
    }

    /// Ends the connection from outside: every pipeline on it fails with `failure` now (the
    /// ones never written can go again elsewhere; the others may have run), and the socket is
    /// shut down, which wakes a thread blocked reading it.
    pub(crate) fn abort(&self, failure: Failure) {
        self.end(&mut self.lock(), failure);
    }

    /// Runs `p` on the connection, among the other threads' pipelines.
    pub(crate) fn run(&self, p: &mut VecPipeline) -> Result<()> {
        let ticket = self.start(p)?;
        self.finish(ticket, p)
    }

    /// Runs a fenced pipeline (see [`queue_fenced`](redpipe_core::mux::queue_fenced)): a
    /// subscriber's commands, between everyone's pipelines. The connection MUST speak RESP3.
    pub(crate) fn run_fenced(&self, p: &mut VecPipeline) -> Result<()> {
        let ticket = self.start_with(p, true)?;
        self.finish(ticket, p)
    }

    /// Queues `p` after every pipeline queued before, and writes it out now if few are on the
    /// wire and a side to write with is free, without waiting for its replies (so that a caller
    /// can start pipelines on several connections, then finish each: a cluster's nodes work at
    /// the same time); then [`finish`](Self::finish) it.
    pub(crate) fn start(&self, p: &mut VecPipeline) -> Result<Ticket> {
        self.start_with(p, false)
    }

    fn start_with(&self, p: &mut VecPipeline, fenced: bool) -> Result<Ticket> {
        self.info.configure(p);
        if fenced {
            // Its commands go whole (the mux writes them so); its own window must not cut them.
            p.set_window(usize::MAX);
            p.set_window_bytes(0);
        }
        let mut sub = Sub {
            pipeline: std::mem::replace(p, VecPipeline::new()),
            wake: std::thread::current(),
        };
        let mut state = self.lock();
        let ticket = loop {
            if let Some(f) = state.mux.failure() {
                *p = sub.pipeline;
                p.fail(f);
                return Err(connection_error(f));
            }
            let submitted = match fenced {
                true => state.mux.try_submit_fenced(sub),
                false => state.mux.try_submit(sub),
            };
            match submitted {
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
        // Few on the wire (the server may be idle) or nothing awaited: out now. Else the reader
        // writes it after its next read, with everything queued by then.
        if state.mux.in_flight() < EAGER_BELOW || !state.mux.is_awaiting() {
            drop(self.write(state));
        }
        Ok(ticket)
    }

    /// Waits for the pipeline queued by [`start`](Self::start), reading for everyone while the
    /// read side is free, and puts it back into `p`.
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
            if !state.mux.is_awaiting() {
                // Nothing on the wire: what is queued (this pipeline) goes out, by this thread
                // if the write side is free, else by the thread writing now, which reads next.
                state = self.write(state);
                if state.mux.is_done(ticket) || state.mux.is_awaiting() {
                    continue;
                }
            } else if let Some(reader) = state.reader.take() {
                state = self.read_until(state, reader, ticket);
                continue;
            }
            drop(state);
            // Woken when this pipeline is done or it is this thread's turn to read; bounded,
            // so that a hand-over of the read side that no thread was woken for (a race seen
            // about once in twenty runs of 16 threads x 200 pipelines) costs a short wait and
            // a look at the state again, never a hang.
            std::thread::park_timeout(PARK_LIMIT);
            state = self.lock();
        }
    }

    /// Writes what the mux has ready, if a side to write with is free (else the thread that
    /// holds it writes it: it looks again before giving the side back). A connection that
    /// nothing is awaited on is checked first for bytes the server sent meanwhile (its close:
    /// then what would have been written fails as never sent, and goes again on a fresh
    /// connection), when there is something to write: the reader that just finished the last
    /// pipeline on the wire does not look (the next pipeline's writer does, before writing).
    fn write<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if !state.split {
            // One handle: the reader writes; a reader blocked on the socket writes after.
            let Some(mut reader) = state.reader.take() else {
                return state;
            };
            loop {
                if !state.mux.is_awaiting() && state.mux.is_busy() {
                    let (back, alive) = self.look(state, &mut reader);
                    state = back;
                    if !alive {
                        return state;
                    }
                }
                reader.out.clear();
                self.transmit(&mut state, &mut reader.out);
                if reader.out.is_empty() {
                    state.reader = Some(reader);
                    return state;
                }
                drop(state);
                let written = write_all(&mut reader.io, &reader.out);
                state = self.lock();
                if let Err(f) = written {
                    self.end(&mut state, f);
                    return state;
                }
            }
        }
        let Some(mut writer) = state.writer.take() else {
            return state;
        };
        loop {
            if !state.mux.is_awaiting()
                && state.mux.is_busy()
                && let Some(mut reader) = state.reader.take()
            {
                let (back, alive) = self.look(state, &mut reader);
                state = back;
                if !alive {
                    return state;
                }
                state.reader = Some(reader);
            }
            writer.out.clear();
            self.transmit(&mut state, &mut writer.out);
            if writer.out.is_empty() {
                state.writer = Some(writer);
                return state;
            }
            drop(state);
            let written = write_all(&mut writer.io, &writer.out);
            state = self.lock();
            if let Err(f) = written {
                self.end(&mut state, f);
                return state;
            }
        }
    }

    /// Commits what the mux has ready into `out`; starts the stall clock when replies start to
    /// be awaited.
    /// Nothing goes while [`Hold`] says the server has stopped answering: the reader writes it
    /// after the next reply.
    fn transmit(&self, state: &mut State, out: &mut Vec<u8>) {
        let awaiting = state.mux.is_awaiting();
        if awaiting
            && state.hold.is_on()
            && state.hold.holds(true, state.mux.progress(), Millis.now())
        {
            return;
        }
        state.mux.poll_transmit(out);
        if !awaiting {
            let now = Millis.now();
            state.mux.handle_timeout(now);
            if state.hold.is_on() {
                let (awaiting, progress) = (state.mux.is_awaiting(), state.mux.progress());
                state.hold.holds(awaiting, progress, now);
            }
        }
    }

    /// Nothing is awaited: reads what the server sent meanwhile, if anything (pushes, or its
    /// close). Returns whether the connection is still up.
    fn look<'a>(
        &'a self,
        state: MutexGuard<'a, State>,
        reader: &mut Reader,
    ) -> (MutexGuard<'a, State>, bool) {
        drop(state);
        let ready = matches!(embedded_io::ReadReady::read_ready(&mut reader.io), Ok(true));
        let read = if ready { read_once(reader) } else { Ok(0) };
        let mut state = self.lock();
        let taken = read.and_then(|n| take_input(&mut state, reader, n));
        match taken {
            Ok(()) => (state, true),
            Err(f) => {
                self.end(&mut state, f);
                (state, false)
            }
        }
    }

    /// Reads for everyone until `mine` is done, then gives the read side back (the oldest
    /// thread still waiting goes on with it). Writes what was queued meanwhile after each read.
    ///
    /// The clock is read only after a read that completed no reply and when a read times out
    /// (see [`Mux::handle_timeout`]): a read that goes on past the stall deadline is cut at it
    /// then; otherwise the socket's own read timeout applies, which is the same limit, so that
    /// the steady state costs no system call to move it.
    fn read_until<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        mut reader: Box<Reader>,
        mine: Ticket,
    ) -> MutexGuard<'a, State> {
        loop {
            // What was queued meanwhile goes out first (with one handle, only the reader can).
            state.reader = Some(reader);
            state = self.write(state);
            match state.reader.take() {
                Some(back) => reader = back,
                None => return state, // the connection failed
            }
            if state.mux.is_done(mine) {
                break;
            }
            if !state.mux.is_awaiting() {
                // Nothing to read for yet: the thread committing this pipeline now reads.
                state.reader = Some(reader);
                return state;
            }
            let progress = state.mux.progress();
            drop(state);
            let read = read_once(&mut reader);
            let later = Later::collect();
            state = self.lock();
            if state.mux.failure().is_some() {
                return state;
            }
            let stalled = match read {
                Ok(n) => match take_input(&mut state, &mut reader, n) {
                    Ok(()) => state.mux.progress() == progress,
                    Err(f) => {
                        self.end(&mut state, f);
                        return state;
                    }
                },
                Err(Failure::Io(IoKind::TimedOut)) => true,
                Err(f) => {
                    self.end(&mut state, f);
                    return state;
                }
            };
            if stalled {
                let deadline = state.mux.handle_timeout(Millis.now());
                if let Some(f) = state.mux.failure() {
                    self.end(&mut state, f);
                    return state;
                }
                reader.io.set_deadline(deadline.map(Millis::instant));
            } else {
                reader.io.set_deadline(None);
            }
            // The threads whose pipelines are done, after the lock.
            drop(state);
            drop(later);
            state = self.lock();
        }
        state.reader = Some(reader);
        // Someone else's turn: the oldest thread still waiting reads next; with none, a
        // listener waiting for the read side.
        if let Some(next) = state.mux.first_waiting_mut() {
            next.wake.unpark();
        } else if let Some(listener) = state.listener.take() {
            listener.unpark();
        }
        state
    }
}

/// Reads once from the read side; `Ok(0)` for nothing (interrupted).
fn read_once(reader: &mut Reader) -> std::result::Result<usize, Failure> {
    let io = &mut reader.io;
    match reader
        .buf
        .read_with(|spare| embedded_io::Read::read(io, spare))
    {
        Ok(0) => Err(Failure::Closed),
        Ok(n) => Ok(n),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(redpipe_core::io::io_failure(&e)),
    }
}

/// Hands the `n` bytes just read, with what was kept before, to the mux.
fn take_input(
    state: &mut State,
    reader: &mut Reader,
    n: usize,
) -> std::result::Result<(), Failure> {
    if n == 0 && reader.buf.filled().is_empty() {
        return Ok(());
    }
    let State {
        mux, sink, pushes, ..
    } = state;
    let sink = sink.as_ref().and_then(Weak::upgrade);
    let used = mux
        .handle_input_with(reader.buf.filled(), |frame| {
            if sink.is_some() {
                pushes.extend_from_slice(frame);
            }
        })
        .map_err(Failure::Protocol)?;
    reader.buf.consume(used);
    reader.buf.shrink();
    if let Some(sink) = sink
        && !pushes.is_empty()
    {
        // Under the connection's lock: the subscriber's own lock is taken after it, never
        // before.
        sink.pushes(pushes);
        pushes.clear();
        pushes.shrink_to(super::PUSHES_KEPT);
    }
    Ok(())
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
