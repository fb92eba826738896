//! Shared connections: many tasks' or threads' pipelines on one socket, through the core's
//! [`Mux`](redpipe_core::mux::Mux).
//!
//! The core decides everything about the wire (order, whole commands, bounds, abandoned
//! pipelines, stalls); these only move bytes and wake submitters:
//!
//! - [`tasks`] (feature `tokio`): a driver task per connection owns the socket; submitters
//!   queue their pipeline, wake it, and await their own.
//! - [`threads`]: no extra thread. Whichever submitting thread finds the socket free drives it
//!   for everyone (writes every pending pipeline in one write, reads for everyone) until its own
//!   pipeline is done, then hands the socket to the oldest thread still waiting.
//!
//! A pipeline that needs a connection of its own (see
//! [`Sharing`](redpipe_core::mux::Sharing)) never comes here: the registry takes a pooled
//! connection for it.

#[cfg(feature = "tokio")]
pub(crate) mod tasks;
pub(crate) mod threads;

use std::cell::RefCell;

use redpipe_core::mux::Submitted;
use redpipe_core::{Error, Failure, IoError, IoKind, Result, VecPipeline};

use crate::config::ConnectionInfo;
use crate::stream::Millis;

/// How a run on a shared connection ended, from the pipeline that came back: its failure, as
/// the error of the connection that caused it.
fn outcome(p: &VecPipeline) -> Result<()> {
    match p.failure() {
        None => Ok(()),
        Some(f) => Err(connection_error(f)),
    }
}

/// The error a connection failure gives the pipelines it cut off. Connection kinds stay
/// connection errors ([`Error::is_connection`]), so that a pipeline of which nothing was sent
/// goes again on a fresh connection.
fn connection_error(f: Failure) -> Error {
    match f {
        Failure::Closed => Error::Closed,
        Failure::Io(kind) if kind != IoKind::TimedOut => Error::Io(IoError::from_kind(kind)),
        Failure::Protocol(e) => Error::Protocol(e),
        Failure::Io(IoKind::TimedOut) | Failure::Timeout => Error::Io(IoError::new(
            IoKind::TimedOut,
            "no reply completed within the timeout",
        )),
        Failure::Capacity(e) => Error::Capacity(e),
        other => Error::Failed(other),
    }
}

/// The stall timeout of a shared connection, in milliseconds on [`Millis`]: the read timeout,
/// counted from the last reply that completed (a server that trickles bytes or floods pushes
/// makes none). The mux lengthens it while the reply awaited is a blocking command's (see
/// [`Mux::set_timeout`](redpipe_core::mux::Mux::set_timeout)); each read keeps the read
/// timeout, after which the mux is asked again.
fn stall_timeout(info: &ConnectionInfo) -> Option<u64> {
    Millis::of(info.read_timeout)
}

/// The pipelines a shared connection holds at most, queued or in flight; past it submitters
/// wait for one to come back.
const MAX_PIPELINES: usize = 4096;

/// While fewer pipelines than this are on the wire, a submitter writes its own at once: the
/// server may be idle, and waiting for the next batched write would leave it idle longer (a
/// few tasks would move in lock step, each batch waiting for the whole previous one). With
/// more on the wire, the server has work queued for longer than a round trip: a new pipeline
/// waits for the next batched write, which carries everything queued by then.
const EAGER_BELOW: usize = 16;

/// Where a shared connection's RESP3 pushes go: its subscribers' hub (see `pubsub::pushed`),
/// which hands each subscriber what is its own.
pub(crate) trait PushSink: Send + Sync {
    /// Takes in the pushes of one read: whole frames, back to back, in the order read, before
    /// the submitters whose replies came in that read are woken (a submitter that sees its
    /// reply finds the pushes read before it delivered). The tokio driver calls it after it
    /// let go of the connection's lock; a blocking reader under it (it MUST NOT call back into
    /// the connection).
    fn pushes(&self, frames: &[u8]);
    /// The connection ended: the subscriptions on it are gone. Called under the connection's
    /// lock: it MUST NOT call back into the connection.
    fn lost(&self);
    /// Itself, for the attaching side to see its own type again.
    fn as_any(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn std::any::Any + Send + Sync>;
}

/// The sink in a connection's `slot` (see the connections' `attach`): the one attached, while
/// it lives, else the one `make` gives, attached from now on. Refused once the connection
/// failed (`failure`). The connection holds it weakly: it goes when its last holder does.
fn attach_sink(
    slot: &mut Option<std::sync::Weak<dyn PushSink>>,
    failure: Option<Failure>,
    make: impl FnOnce() -> std::sync::Arc<dyn PushSink>,
) -> Result<std::sync::Arc<dyn PushSink>> {
    if let Some(f) = failure {
        return Err(connection_error(f));
    }
    if let Some(sink) = slot.as_ref().and_then(std::sync::Weak::upgrade) {
        return Ok(sink);
    }
    let sink = make();
    *slot = Some(std::sync::Arc::downgrade(&sink));
    Ok(sink)
}

/// Bytes of push room a reader keeps between reads.
const PUSHES_KEPT: usize = 64 << 10;

/// A submitter's pipeline, and who to wake when it is done: its thread (`W` = `Thread`, which
/// [`threads`] also unparks to hand it the read side) or its task (`Option<Waker>`, kept up to
/// date by `tasks` as the task is polled).
struct Sub<W> {
    pipeline: VecPipeline,
    wake: W,
}

impl<W: Waiter> Submitted for Sub<W> {
    type Out = redpipe_core::ByteBuf;
    type Replies = redpipe_core::ByteBuf;
    type Entries = Vec<redpipe_core::Entry>;

    fn pipeline(&mut self) -> &mut VecPipeline {
        &mut self.pipeline
    }

    fn on_done(&mut self) {
        self.wake.done();
    }
}

/// What a submitter waits with: its thread or its task's waker.
trait Waiter {
    /// Wakes it, through [`Later`]: its pipeline is done.
    fn done(&mut self);
}

impl Waiter for std::thread::Thread {
    fn done(&mut self) {
        Later::wake(Wakeup::Thread(self.clone()));
    }
}

#[cfg(feature = "tokio")]
impl Waiter for Option<std::task::Waker> {
    fn done(&mut self) {
        if let Some(w) = self.take() {
            Later::wake(Wakeup::Task(w));
        }
    }
}

/// A submitter to wake when its pipeline is done: its parked thread, or its task.
enum Wakeup {
    /// A blocking submitter, parked ([`threads`]).
    Thread(std::thread::Thread),
    /// A tokio submitter's task ([`tasks`]).
    #[cfg(feature = "tokio")]
    Task(std::task::Waker),
}

impl Wakeup {
    fn now(self) {
        match self {
            Self::Thread(t) => t.unpark(),
            #[cfg(feature = "tokio")]
            Self::Task(w) => w.wake(),
        }
    }
}

thread_local! {
    /// The wake-ups asked for while this thread reads under a connection's lock (`None` while
    /// it does not collect them), and the room of the last list, kept for the next.
    static LATER: RefCell<(Option<Vec<Wakeup>>, Vec<Wakeup>)> =
        const { RefCell::new((None, Vec::new())) };
}

/// Wake-ups collected while the lock is held and made when this is dropped, after the lock:
/// one for both kinds of shared connection. A wake-up is a system call (an unpark, or a wake
/// that starts another worker thread), and what it wakes would wait for the lock.
struct Later;

impl Later {
    /// Collects the wake-ups this thread asks for until the returned value is dropped.
    fn collect() -> Self {
        LATER.with_borrow_mut(|(later, spare)| {
            later.get_or_insert_with(|| std::mem::take(spare));
        });
        Later
    }

    /// Wakes `w` now, or when the collection in progress ends.
    fn wake(w: Wakeup) {
        let w = LATER.with_borrow_mut(|(later, _)| match later {
            Some(list) => {
                list.push(w);
                None
            }
            None => Some(w),
        });
        if let Some(w) = w {
            w.now();
        }
    }
}

impl Drop for Later {
    fn drop(&mut self) {
        let Some(mut list) = LATER.with_borrow_mut(|(later, _)| later.take()) else {
            return;
        };
        for w in list.drain(..) {
            w.now();
        }
        // The room goes back for the next collection: a read allocates nothing once warm.
        LATER.with_borrow_mut(|(_, spare)| {
            if spare.capacity() < list.capacity() {
                *spare = list;
            }
        });
    }
}
