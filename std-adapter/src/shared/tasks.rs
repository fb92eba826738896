//! A shared tokio connection: a driver task owns the socket, submitters await their own
//! pipelines.
//!
//! The driver task writes whatever the mux has ready (everyone's pending pipelines in one
//! write), reads whatever arrives and hands it to the mux, which fills each pipeline's slots
//! and wakes its submitter. A submitter holds nothing but its ticket while it waits; if its
//! future is dropped it takes its pipeline back (failed as cancelled), and its replies, still
//! to come, are read and dropped by the mux.
//!
//! The task ends when the connection fails (every pipeline in flight fails with the reason, the
//! connection is replaced on the next run), when the runtime that runs it shuts down (the
//! same), or when nobody holds the connection any more.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use redpipe_core::mux::{Mux, Slot, Ticket};
use redpipe_core::{AsyncTransport, Error, Failure, ReadBuffer, Result, VecPipeline};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::time::{Instant, Sleep};

use super::{
    EAGER_BELOW, Later, MAX_PIPELINES, PushSink, connection_error, outcome, stall_timeout,
};
use crate::config::ConnectionInfo;
use crate::stream::Millis;
use crate::tokio::{AsyncConnection, Stream};
use redpipe_core::session::{Clock, Hold};

/// A submitter's pipeline, and its task's waker to wake when it is done.
type Sub = super::Sub<Option<Waker>>;

struct State {
    mux: Mux<Sub, Vec<Slot<Sub>>>,
    /// The socket's write side while nobody writes: a submitter whose pipeline finds few on the
    /// wire writes it at once, the driver everything else. No socket call is made under the
    /// lock: a writer takes it out, and puts it back.
    writer: Option<Writer>,
    /// The driver task, to wake when there is something to send.
    driver: Option<Waker>,
    /// The driver was woken and has not looked yet: no need to wake it again.
    woken: bool,
    /// The driver's stall timer is set: a submitter that wrote its pipeline itself need not
    /// wake the driver to start the clock.
    timed: bool,
    /// Submitters waiting for room in the ring.
    waiting: usize,
    /// Whether new commands wait while replies have stopped (see [`Hold`]).
    hold: Hold,
    /// The hub of the subscribers the connection's RESP3 pushes go to, while it lives.
    sink: Option<Weak<dyn PushSink>>,
}

/// The socket's write side, and the committed bytes not written yet.
struct Writer {
    half: WriteHalf<Stream>,
    /// Committed bytes, written from `written` on.
    out: Vec<u8>,
    written: usize,
}

impl Writer {
    /// Writes what the socket takes now: `Ok(true)` when everything committed is written.
    fn write(&mut self, cx: &mut Context<'_>) -> std::result::Result<bool, Failure> {
        while self.written < self.out.len() {
            match Pin::new(&mut self.half).poll_write(cx, &self.out[self.written..]) {
                Poll::Ready(Ok(0)) => return Err(Failure::Closed),
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Ready(Err(e)) => return Err(io_failure(&e)),
                Poll::Pending => return Ok(false),
            }
        }
        Ok(true)
    }
}

impl State {
    fn wake_driver(&mut self) {
        if !self.woken
            && let Some(w) = &self.driver
        {
            self.woken = true;
            w.wake_by_ref();
        }
    }
}

/// One shared tokio connection.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Cleared when the connection fails: a look without the lock.
    open: AtomicBool,
    /// A pipeline was taken back: room in the ring.
    room: tokio::sync::Notify,
    info: ConnectionInfo,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Nobody holds the connection any more: the driver task ends at its next look.
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = state.driver.take() {
            w.wake();
        }
    }
}

impl Shared {
    /// Connects, sets the connection up (`HELLO`/`AUTH`, `CLIENT SETNAME`, `SELECT`) and starts
    /// its driver task on the current tokio runtime.
    /// `hold_after`: see [`Pool::holding_writes`](crate::registry::Pool::holding_writes).
    pub(crate) async fn open(info: &ConnectionInfo, hold_after: Option<u64>) -> Result<Arc<Self>> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(Error::Config(
                "a shared tokio connection needs a tokio runtime".into(),
            ));
        };
        let (stream, leftover) = AsyncConnection::open(info).await?.into_stream()?;
        let (read, write) = tokio::io::split(stream);
        let mut mux = Mux::with_capacity(MAX_PIPELINES);
        mux.set_window_bytes(info.window_bytes);
        mux.set_limits(info.limits);
        mux.set_timeout(stall_timeout(info));
        let shared = Arc::new(Self {
            state: Mutex::new(State {
                mux,
                writer: Some(Writer {
                    half: write,
                    out: Vec::new(),
                    written: 0,
                }),
                driver: None,
                woken: false,
                timed: false,
                waiting: 0,
                hold: Hold::new(hold_after),
                sink: None,
            }),
            open: AtomicBool::new(true),
            room: tokio::sync::Notify::new(),
            info: info.clone(),
        });
        let mut buf = ReadBuffer::growable();
        buf.extend(&leftover)?;
        let now = Instant::now();
        runtime.spawn(Driver {
            shared: Arc::downgrade(&shared),
            read,
            buf,
            timer: Box::pin(tokio::time::sleep_until(now)),
            armed: None,
            pushes: Vec::new(),
        });
        Ok(shared)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether it still takes pipelines (it has not failed).
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    /// Commits what the mux has ready and writes it, if the write side is free (else the task
    /// writing now writes it: it looks again before putting the side back); the lock is let go
    /// while the socket is written. With a waker that is not the driver's (a submitter's no-op
    /// one), a socket that is full leaves the rest for the driver, which is woken.
    fn flush<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        cx: &mut Context<'_>,
    ) -> std::result::Result<MutexGuard<'a, State>, Failure> {
        let Some(mut writer) = state.writer.take() else {
            return Ok(state);
        };
        loop {
            if writer.written == writer.out.len() {
                writer.out.clear();
                writer.written = 0;
                // Nothing goes while the server has stopped answering (see `Hold`): the
                // driver writes it after the next reply.
                let (awaiting, progress) = (state.mux.is_awaiting(), state.mux.progress());
                if awaiting && state.hold.is_on() && state.hold.holds(true, progress, Millis.now())
                {
                    state.writer = Some(writer);
                    return Ok(state);
                }
                state.mux.poll_transmit(&mut writer.out);
                if !awaiting && state.hold.is_on() {
                    let (awaiting, progress) = (state.mux.is_awaiting(), state.mux.progress());
                    state.hold.holds(awaiting, progress, Millis.now());
                }
                if writer.out.is_empty() {
                    state.writer = Some(writer);
                    return Ok(state);
                }
            }
            drop(state);
            let written = writer.write(cx);
            state = self.lock();
            match written {
                Ok(true) => {}
                Ok(false) => {
                    // The socket is full: the driver goes on when it takes more.
                    state.writer = Some(writer);
                    state.wake_driver();
                    return Ok(state);
                }
                Err(f) => return Err(f),
            }
        }
    }

    /// Ends the connection from outside: every pipeline on it fails with `failure` now (the
    /// ones never written can go again elsewhere; the others may have run), and the driver
    /// task, woken, lets the socket go.
    pub(crate) fn abort(&self, failure: Failure) {
        let mut state = self.lock();
        self.end(&mut state, failure);
        if let Some(w) = state.driver.take() {
            w.wake();
        }
    }

    /// Ends the connection: every pipeline fails with `failure`, and the subscriber on it
    /// learns that its subscriptions are gone.
    fn end(&self, state: &mut State, failure: Failure) {
        if state.mux.failure().is_none() {
            state.mux.fail(failure);
        }
        self.open.store(false, Ordering::Relaxed);
        if let Some(sink) = state.sink.take().and_then(|w| w.upgrade()) {
            sink.lost();
        }
    }

    /// The hub the connection's RESP3 pushes go to: the one attached, else the one `make`
    /// gives, attached from now on (see [`PushSink`]). Refused once the connection failed.
    pub(crate) fn attach(
        &self,
        make: impl FnOnce() -> Arc<dyn PushSink>,
    ) -> Result<Arc<dyn PushSink>> {
        let state = &mut *self.lock();
        super::attach_sink(&mut state.sink, state.mux.failure(), make)
    }

    /// Runs `p` on the connection, among everyone else's pipelines: queued after those
    /// submitted before it, done when its last reply arrived. If the future is dropped, `p`
    /// comes back with its waiting slots failed as cancelled.
    pub(crate) async fn run(&self, p: &mut VecPipeline) -> Result<()> {
        self.run_with(p, false).await
    }

    /// Runs a fenced pipeline (see [`queue_fenced`](redpipe_core::mux::queue_fenced)): a
    /// subscriber's commands, between everyone's pipelines. The connection MUST speak RESP3.
    pub(crate) async fn run_fenced(&self, p: &mut VecPipeline) -> Result<()> {
        self.run_with(p, true).await
    }

    async fn run_with(&self, p: &mut VecPipeline, fenced: bool) -> Result<()> {
        self.info.configure(p);
        if fenced {
            // Its commands go whole (the mux writes them so); its own window must not cut them.
            p.set_window(usize::MAX);
            p.set_window_bytes(0);
        }
        // This task's waker, taken now, so that the pipeline is queued with it: no second look
        // under the lock before the driver wakes the task.
        let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        let mut sub = Sub {
            pipeline: std::mem::replace(p, VecPipeline::new()),
            wake: Some(waker),
        };
        let ticket = loop {
            {
                let mut state = self.lock();
                if let Some(f) = state.mux.failure() {
                    *p = sub.pipeline;
                    p.fail(f);
                    return Err(connection_error(f));
                }
                let eager = state.mux.in_flight() < EAGER_BELOW;
                let submitted = match fenced {
                    true => state.mux.try_submit_fenced(sub),
                    false => state.mux.try_submit(sub),
                };
                match submitted {
                    Ok(ticket) => {
                        // Few on the wire: this pipeline goes out now rather than after every
                        // other task that runs before the driver (see `EAGER_BELOW`). Else the
                        // driver writes it with everything else queued by then, in one write.
                        if !eager {
                            state.wake_driver();
                            break ticket;
                        }
                        let mut noop = Context::from_waker(Waker::noop());
                        match self.flush(state, &mut noop) {
                            // Written (or left to whoever writes now, or to the driver, woken
                            // then): the driver is needed only to start the stall clock.
                            Ok(mut back) if !back.timed => back.wake_driver(),
                            Ok(_) => {}
                            Err(f) => self.end(&mut self.lock(), f),
                        }
                        break ticket;
                    }
                    // The ring is full: wait for a pipeline to come back.
                    Err(back) => sub = back,
                }
                state.waiting += 1;
            }
            let counted = Counted(self);
            self.room.notified().await;
            drop(counted);
        };
        let mut waiting = Waiting {
            shared: self,
            ticket,
            p,
            done: false,
            queued: true,
        };
        std::future::poll_fn(|cx| waiting.poll(cx)).await
    }
}

/// A submitter counted as waiting for room; uncounted when it stops waiting, however it stops.
struct Counted<'a>(&'a Shared);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.lock().waiting -= 1;
    }
}

/// A submitted pipeline being waited for; dropped early, it takes the pipeline back.
struct Waiting<'a> {
    shared: &'a Shared,
    ticket: Ticket,
    p: &'a mut VecPipeline,
    done: bool,
    /// Just queued, with this poll's waker: the first poll need not look.
    queued: bool,
}

impl Waiting<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if std::mem::take(&mut self.queued) {
            return Poll::Pending;
        }
        let mut state = self.shared.lock();
        if state.mux.is_done(self.ticket) {
            let sub = state.mux.take(self.ticket);
            let room = state.waiting > 0;
            drop(state);
            if room {
                self.shared.room.notify_one();
            }
            self.done = true;
            return Poll::Ready(match sub {
                Some(sub) => {
                    *self.p = sub.pipeline;
                    outcome(self.p)
                }
                None => Err(Error::Closed),
            });
        }
        if let Some(sub) = state.mux.submission_mut(self.ticket) {
            match &sub.wake {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => sub.wake = Some(cx.waker().clone()),
            }
        }
        Poll::Pending
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.shared.lock();
        let back = state.mux.abandon(self.ticket);
        let room = state.waiting > 0;
        drop(state);
        if room {
            self.shared.room.notify_one();
        }
        if let Some(sub) = back {
            *self.p = sub.pipeline;
        }
        if !self.p.is_done() {
            self.p.fail(Failure::Cancelled);
        }
    }
}

/// A shared connection as the transport of a [`Group`](redpipe_core::Group)'s run.
pub(crate) struct Link(pub(crate) Arc<Shared>);

impl AsyncTransport for Link {
    async fn run_async(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.0.run(p).await
    }

    fn is_usable(&self) -> bool {
        self.0.is_open()
    }
}

/// The driver task: moves bytes between the socket and the mux.
struct Driver {
    shared: Weak<Shared>,
    /// The socket's read side: only the driver reads.
    read: ReadHalf<Stream>,
    buf: ReadBuffer<Vec<u8>>,
    timer: Pin<Box<Sleep>>,
    /// The deadline the timer is set to.
    armed: Option<u64>,
    /// RESP3 pushes of the last read, for the subscriber once the lock is let go: at most a
    /// read buffer's worth.
    pushes: Vec<u8>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The runtime shut down, or the task ended: nothing in flight may wait for it.
        if let Some(shared) = self.shared.upgrade() {
            let mut state = shared.lock();
            shared.end(&mut state, Failure::Closed);
        }
    }
}

/// Why a read did not bring bytes.
enum NoBytes {
    Pending,
    Closed,
    Io(std::io::Error),
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(shared) = this.shared.upgrade() else {
            return Poll::Ready(());
        };
        match this.turn(&shared, cx) {
            Ok(()) => Poll::Pending,
            Err(failure) => {
                let mut state = shared.lock();
                shared.end(&mut state, failure);
                Poll::Ready(())
            }
        }
    }
}

impl Driver {
    fn now(&self) -> u64 {
        Millis.now()
    }

    /// Does everything that can be done without waiting; `Err` ends the connection.
    fn turn(&mut self, shared: &Shared, cx: &mut Context<'_>) -> std::result::Result<(), Failure> {
        loop {
            let mut state = shared.lock();
            match &state.driver {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => state.driver = Some(cx.waker().clone()),
            }
            state.woken = false;
            if let Some(f) = state.mux.failure() {
                return Err(f);
            }
            // Everything ready to go, in one write.
            let mut state = shared.flush(state, cx)?;
            if self.armed.is_none() && state.mux.is_awaiting() {
                // Replies are awaited and no deadline is set: the stall clock starts.
                let deadline = state.mux.handle_timeout(self.now());
                self.arm(&mut state, deadline);
            }
            drop(state);
            let read_half = &mut self.read;
            let read = self.buf.read_with(|spare| {
                let mut rb = ReadBuf::new(spare);
                match Pin::new(&mut *read_half).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) if rb.filled().is_empty() => Err(NoBytes::Closed),
                    Poll::Ready(Ok(())) => Ok(rb.filled().len()),
                    Poll::Ready(Err(e)) => Err(NoBytes::Io(e)),
                    Poll::Pending => Err(NoBytes::Pending),
                }
            });
            match read {
                Ok(_) => {
                    let later = Later::collect();
                    let mut state = shared.lock();
                    let progress = state.mux.progress();
                    let sink = state.sink.as_ref().and_then(Weak::upgrade);
                    let pushes = &mut self.pushes;
                    let used = state
                        .mux
                        .handle_input_with(self.buf.filled(), |frame| {
                            if sink.is_some() {
                                pushes.extend_from_slice(frame);
                            }
                        })
                        .map_err(Failure::Protocol)?;
                    if state.mux.progress() == progress {
                        // Bytes but no complete reply (a trickle, pushes): the clock decides.
                        let deadline = state.mux.handle_timeout(self.now());
                        if let Some(f) = state.mux.failure() {
                            return Err(f);
                        }
                        self.arm(&mut state, deadline);
                    }
                    drop(state);
                    // The pushes first, then the tasks whose pipelines are done, both after the
                    // lock: a task that sees its reply finds the pushes read before it delivered.
                    if let Some(sink) = sink
                        && !self.pushes.is_empty()
                    {
                        sink.pushes(&self.pushes);
                        self.pushes.clear();
                        self.pushes.shrink_to(super::PUSHES_KEPT);
                    }
                    drop(later);
                    self.buf.consume(used);
                    self.buf.shrink();
                    continue;
                }
                Err(NoBytes::Pending) => {}
                Err(NoBytes::Closed) => return Err(Failure::Closed),
                Err(NoBytes::Io(e)) => return Err(io_failure(&e)),
            }
            if self.armed.is_some() && self.timer.as_mut().poll(cx).is_ready() {
                self.armed = None;
                let mut state = shared.lock();
                let deadline = state.mux.handle_timeout(self.now());
                if let Some(f) = state.mux.failure() {
                    return Err(f);
                }
                self.arm(&mut state, deadline);
                continue;
            }
            return Ok(());
        }
    }

    /// Sets the timer to the mux's deadline (milliseconds on its clock). While replies keep
    /// completing it is left alone: when it fires, the mux pushes the deadline back.
    fn arm(&mut self, state: &mut State, deadline: Option<u64>) {
        state.timed = deadline.is_some();
        if deadline == self.armed {
            return;
        }
        self.armed = deadline;
        if let Some(ms) = deadline {
            let at = Instant::from_std(Millis::instant(ms));
            self.timer.as_mut().reset(at);
        }
    }
}

fn io_failure(e: &std::io::Error) -> Failure {
    redpipe_core::io::io_failure(e)
}
