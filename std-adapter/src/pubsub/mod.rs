//! Pub/Sub: a blocking [`Subscriber`] and a tokio `AsyncSubscriber` (a `Stream`, feature `tokio`), each on a
//! connection of its own, built from a registry name.
//!
//! A subscribed connection is not a pipeline's: the server speaks when a message is published,
//! so each subscriber has its own connection and a reader (a thread, or a tokio task) that reads
//! it all the time. What the frames mean is the core's
//! [`Subscriptions`](redpipe_core::pubsub::Subscriptions) machine; this module moves bytes,
//! keeps the messages read until they are taken, and reconnects:
//!
//! - **Bounded buffer.** Messages read and not yet taken wait in a buffer of at most
//!   [`buffer`](Subscriber::buffer) messages and bytes (10 000 and 16 MiB by default). When a
//!   message arrives with the buffer full, the [`Overflow`] policy applies:
//!   [`DropOldest`](Overflow::DropOldest) (the default) drops the oldest messages to make room
//!   and says how many with an [`Event::Dropped`] before the next message taken;
//!   [`Disconnect`](Overflow::Disconnect) closes the connection, and once the buffer is taken
//!   the subscriber ends with [`Error::Overflow`]. Either way memory
//!   stays bounded while the program does not read, and the server never holds a backlog for
//!   it (the reader keeps reading).
//! - **Reconnects.** When the connection is lost (closed, reset, a broken frame, or no answer
//!   to a `PING` sent after `read_timeout` of silence), the reader opens a new one with
//!   back-off, subscribes again to every name wanted, and puts an [`Event::Gap`] in the
//!   buffer: messages published meanwhile were missed.
//! - **Confirmed subscriptions.** `subscribe` returns once the server confirmed every name (or
//!   refused them: the server's error), so that a message published after it is received.
//!
//! RESP2 or RESP3 as the name's settings say (`protocol=3`): the core reads both.

mod blocking;
#[cfg(feature = "tokio")]
mod stream;

pub use blocking::Subscriber;
pub use redpipe_core::pubsub::Kind;
#[cfg(feature = "tokio")]
pub use stream::AsyncSubscriber;

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redpipe_core::pubsub::{Event as Frame, Message, VecSubscriptions};
use redpipe_core::{Args, Error, FromReply, IoError, IoKind, Reply, Result};

use crate::config::ConnectionInfo;
use crate::registry::Factory;

/// Messages a subscriber's buffer holds by default.
pub const DEFAULT_BUFFER_MESSAGES: usize = 10_000;
/// Bytes (channels, patterns and payloads) a subscriber's buffer holds by default.
pub const DEFAULT_BUFFER_BYTES: usize = 16 << 20;

/// The first wait before reconnecting; it doubles up to [`BACKOFF_MAX`] while attempts fail.
const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Bytes read at most per call.
const CHUNK: usize = 64 * 1024;

/// A published message, owned: taken from the subscriber's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// Which subscription it came through.
    pub kind: Kind,
    /// The channel it was published to (invalid UTF-8 replaced).
    pub channel: String,
    /// The pattern that matched the channel ([`Kind::Pattern`] only).
    pub pattern: Option<String>,
    payload: Vec<u8>,
}

impl Msg {
    fn new(m: &Message<'_>) -> Self {
        Self {
            kind: m.kind,
            channel: String::from_utf8_lossy(m.channel).into_owned(),
            pattern: m.pattern.map(|p| String::from_utf8_lossy(p).into_owned()),
            payload: m.payload.to_vec(),
        }
    }

    /// The payload as `T`, converted as a reply is (`msg.payload::<String>()`,
    /// `msg.payload::<i64>()`, `msg.payload::<&str>()`).
    pub fn payload<T: FromReply>(&self) -> Result<T::Output<'_>> {
        T::from_reply(Reply::Bulk(&self.payload)).map_err(Error::Convert)
    }

    /// The payload's bytes.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// The payload's bytes, owned.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// What it counts for in the buffer's byte bound.
    fn size(&self) -> usize {
        self.channel.len() + self.pattern.as_ref().map_or(0, String::len) + self.payload.len()
    }
}

/// What a subscriber yields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A message.
    Message(Msg),
    /// The connection was lost and a new one subscribed again: messages published in between
    /// were missed.
    Gap,
    /// The buffer was full ([`Overflow::DropOldest`]): this many messages older than the next
    /// one were dropped.
    Dropped(u64),
}

impl Event {
    /// The message, if this is one.
    pub fn message(self) -> Option<Msg> {
        match self {
            Self::Message(m) => Some(m),
            _ => None,
        }
    }
}

/// What a subscriber does when a message arrives and its buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the oldest messages to make room, and report how many ([`Event::Dropped`]).
    #[default]
    DropOldest,
    /// Close the connection and end the subscriber, with
    /// [`Error::Overflow`] once the buffer is taken.
    Disconnect,
}

/// The buffer's bounds and policy.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    messages: usize,
    bytes: usize,
    overflow: Overflow,
}

/// What the reader and the subscriber's owner share.
struct State<W> {
    subs: VecSubscriptions,
    queue: VecDeque<Event>,
    /// Messages in `queue`, and their bytes.
    messages: usize,
    bytes: usize,
    bounds: Bounds,
    /// Messages dropped and not reported yet; all of them.
    unreported: u64,
    dropped: u64,
    /// A command's refusal, for the `subscribe` waiting for its confirmation.
    refused: Option<Error>,
    /// Why the subscriber ended, until taken; then `ended`.
    failed: Option<Error>,
    ended: bool,
    /// The write side of the connection, while nobody writes.
    writer: Option<W>,
    /// Connections opened; a writer of an earlier one is stale.
    generation: u64,
    /// The owner is gone: the reader stops.
    closed: bool,
    /// Counts the reader's wake-ups, so that an owner about to wait sees one it missed.
    version: u64,
}

impl<W> State<W> {
    fn new(info: &ConnectionInfo) -> Self {
        let mut subs = VecSubscriptions::default();
        subs.set_limits(info.limits);
        Self {
            subs,
            queue: VecDeque::new(),
            messages: 0,
            bytes: 0,
            bounds: Bounds {
                messages: DEFAULT_BUFFER_MESSAGES,
                bytes: DEFAULT_BUFFER_BYTES,
                overflow: Overflow::default(),
            },
            unreported: 0,
            dropped: 0,
            refused: None,
            failed: None,
            ended: false,
            writer: None,
            generation: 0,
            closed: false,
            version: 0,
        }
    }

    /// Takes in one frame the core read.
    fn deliver(&mut self, frame: Frame<'_>) {
        match frame {
            Frame::Message(m) => self.push(Msg::new(&m)),
            Frame::Error(e) => self.refused = Some(Error::Server(e.into_owned())),
            _ => {}
        }
    }

    /// Buffers a message, under the bounds and policy.
    fn push(&mut self, msg: Msg) {
        let size = msg.size();
        let full = |s: &Self| {
            s.messages > 0 && (s.messages >= s.bounds.messages || s.bytes + size > s.bounds.bytes)
        };
        while full(self) {
            if self.bounds.overflow == Overflow::Disconnect {
                self.failed = Some(Error::Overflow {
                    messages: self.messages,
                    bytes: self.bytes,
                });
                self.closed = true;
                return;
            }
            let Some(at) = self
                .queue
                .iter()
                .position(|e| matches!(e, Event::Message(_)))
            else {
                break;
            };
            if let Some(Event::Message(old)) = self.queue.remove(at) {
                self.messages -= 1;
                self.bytes -= old.size();
                self.unreported += 1;
                self.dropped += 1;
            }
        }
        self.messages += 1;
        self.bytes += size;
        self.queue.push_back(Event::Message(msg));
    }

    /// The next event for the owner: the count of dropped messages first, then the buffer in
    /// order, then why the subscriber ended. `None`: nothing yet.
    fn take(&mut self) -> Option<Result<Event>> {
        if self.unreported > 0 {
            return Some(Ok(Event::Dropped(std::mem::take(&mut self.unreported))));
        }
        if let Some(e) = self.queue.pop_front() {
            if let Event::Message(m) = &e {
                self.messages -= 1;
                self.bytes -= m.size();
            }
            return Some(Ok(e));
        }
        if let Some(e) = self.failed.take() {
            self.ended = true;
            return Some(Err(e));
        }
        self.ended.then_some(Err(Error::Closed))
    }

    /// Whether the last command's names are all confirmed (`Ok`), refused, or the subscriber
    /// ended; `None`: still waiting.
    fn settled(&mut self) -> Option<Result<()>> {
        if let Some(e) = self.refused.take() {
            return Some(Err(e));
        }
        if self.ended || self.failed.is_some() {
            return Some(Err(Error::Closed));
        }
        (self.subs.pending() == 0).then_some(Ok(()))
    }
}

/// The state, and how the owner waits for the reader.
struct Shared<W> {
    state: Mutex<State<W>>,
    /// A blocking owner waits here.
    changed: Condvar,
    /// A tokio owner waits here.
    #[cfg(feature = "tokio")]
    notify: tokio::sync::Notify,
    info: ConnectionInfo,
    factory: Option<Factory>,
}

impl<W> Shared<W> {
    fn new(info: ConnectionInfo, factory: Option<Factory>) -> Self {
        Self {
            state: Mutex::new(State::new(&info)),
            changed: Condvar::new(),
            #[cfg(feature = "tokio")]
            notify: tokio::sync::Notify::new(),
            info,
            factory,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<W>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the owner: something changed.
    fn wake(&self) {
        let mut st = self.lock();
        self.wake_locked(&mut st);
    }

    /// [`wake`](Self::wake), with the state already locked.
    fn wake_locked(&self, st: &mut State<W>) {
        st.version += 1;
        self.changed.notify_all();
        #[cfg(feature = "tokio")]
        self.notify.notify_one();
    }

    /// Queues the command of a `subscribe` or `unsubscribe` call: whether there is one (names
    /// already as asked send nothing).
    fn queue_change<A: Args + ?Sized>(
        &self,
        kind: Kind,
        names: &A,
        subscribe: bool,
    ) -> Result<bool> {
        let mut st = self.lock();
        st.refused = None;
        let sent = if subscribe {
            st.subs.subscribe(kind, names)?
        } else {
            st.subs.unsubscribe(kind, names)?
        };
        Ok(sent > 0)
    }

    /// Sets the buffer's bounds and policy.
    fn set_bounds(&self, messages: usize, bytes: usize, overflow: Overflow) {
        self.lock().bounds = Bounds {
            messages: messages.max(1),
            bytes,
            overflow,
        };
    }

    /// Messages dropped so far.
    fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// The names of `kind` wanted.
    fn subscriptions(&self, kind: Kind) -> Vec<String> {
        let st = self.lock();
        st.subs
            .wanted(kind)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    /// How long `subscribe` waits for the server's confirmations.
    fn confirm_timeout(&self) -> Duration {
        self.info.read_timeout.unwrap_or(Duration::from_secs(30))
            + self.info.connect_timeout.unwrap_or(Duration::from_secs(5))
    }
}

/// The error of a confirmation that did not come in time.
fn unconfirmed() -> Error {
    Error::Io(IoError::new(
        IoKind::TimedOut,
        "the server did not confirm the subscription in time (the names stay wanted: they are \
         subscribed when the connection is back)",
    ))
}

/// Writes the pending commands, once for both modes (`$write` is the mode's write function,
/// `$($await)*` empty or `.await`): whoever finds the writer in the state takes it out, writes
/// outside the lock, and puts it back once nothing is left to send. Without a writer, its
/// holder (the owner, or the reader setting up a new connection) sends what is pending.
macro_rules! flush {
    ($shared:expr, $write:path, $($await:tt)*) => {{
        loop {
            let (mut writer, out, generation) = {
                let mut st = $shared.lock();
                if st.subs.poll_output().is_empty() {
                    break Ok(());
                }
                let Some(w) = st.writer.take() else {
                    break Ok(());
                };
                (w, st.subs.poll_output().to_vec(), st.generation)
            };
            let result = $write(&mut writer, &out) $($await)*;
            let mut st = $shared.lock();
            if st.generation != generation {
                break Ok(()); // a new connection replaced this one, with its own commands
            }
            match result {
                Ok(()) => {
                    st.subs.consume_output(out.len());
                    st.writer = Some(writer);
                }
                Err(e) => break Err(Error::from(e)),
            }
        }
    }};
}

/// The reader, once for both modes: `[$open, $read, $write, $sleep]` name the mode's
/// functions (`$open` gives the read side, the write side and bytes already read),
/// `$($await)*` is empty or `.await`. Starts on the connection `$first` the owner opened.
macro_rules! pump {
    ($shared:ident, $first:expr, [$open:path, $read:path, $write:path, $sleep:path], $($await:tt)*) => {{
        let shared = $shared;
        let mut next = Some($first);
        let mut backoff = crate::pubsub::BACKOFF_START;
        let mut chunk = vec![0u8; crate::pubsub::CHUNK];
        loop {
            let (mut reader, writer, leftover) = match next.take() {
                Some(parts) => parts,
                None => {
                    if shared.lock().closed {
                        return;
                    }
                    match $open(&shared) $($await)* {
                        Ok(parts) => {
                            let mut st = shared.lock();
                            st.queue.push_back(crate::pubsub::Event::Gap);
                            drop(st);
                            parts
                        }
                        Err(_) => {
                            $sleep(backoff) $($await)*;
                            backoff = (backoff * 2).min(crate::pubsub::BACKOFF_MAX);
                            continue;
                        }
                    }
                }
            };
            // Subscribe again to every name wanted, then let the owner write too.
            {
                let mut st = shared.lock();
                st.generation += 1;
                let _ = st.subs.resubscribe();
                st.writer = Some(writer);
            }
            if flush!(shared, $write, $($await)*).is_err() {
                $sleep(backoff) $($await)*;
                backoff = (backoff * 2).min(crate::pubsub::BACKOFF_MAX);
                continue;
            }
            shared.wake();
            let mut pending = leftover;
            let mut pinged = false;
            // A connection that read a frame before it was lost is replaced at once; one that
            // read none (refused, or breaking the protocol at once) after a growing wait.
            let mut healthy = false;
            loop {
                // Everything complete is taken in at once, under one lock.
                let broken = {
                    let mut st = shared.lock();
                    let mut at = 0;
                    let broken = loop {
                        if st.closed {
                            break false;
                        }
                        match st.subs.handle_input(&pending[at..]) {
                            Ok(Some((frame, used))) => {
                                st.deliver(frame);
                                at += used;
                            }
                            Ok(None) => break false,
                            Err(_) => break true,
                        }
                    };
                    pending.drain(..at);
                    if at > 0 {
                        healthy = true;
                        shared.wake_locked(&mut st);
                    }
                    if st.closed {
                        st.writer = None; // closes the connection
                        return;
                    }
                    broken
                };
                if broken {
                    break;
                }
                match $read(&shared, &mut reader, &mut chunk) $($await)* {
                    Ok(0) => break,
                    Ok(n) => {
                        pinged = false;
                        pending.extend_from_slice(&chunk[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut && !pinged => {
                        // Silence for a read timeout: ask; another one without an answer
                        // means the connection is gone.
                        pinged = true;
                        let _ = shared.lock().subs.ping();
                        if flush!(shared, $write, $($await)*).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            // Lost: the writer goes with the connection; the next one resubscribes.
            shared.lock().writer = None;
            if healthy {
                backoff = crate::pubsub::BACKOFF_START;
            } else {
                $sleep(backoff) $($await)*;
                backoff = (backoff * 2).min(crate::pubsub::BACKOFF_MAX);
            }
        }
    }};
}

/// Waits until `$check` (on the locked state) gives a value, or `$deadline` passes (then
/// `$timeout`); once for both modes: `$wait` takes the shared state, the wake-up count seen
/// and the time left, `$($await)*` is empty or `.await`. No lock is held while waiting.
macro_rules! wait_for {
    ($shared:expr, $deadline:expr, $check:expr, $timeout:expr, $wait:path, $($await:tt)*) => {{
        let deadline: Option<std::time::Instant> = $deadline;
        loop {
            let (seen, left) = {
                let mut st = $shared.lock();
                if let Some(found) = $check(&mut *st) {
                    break found;
                }
                let left = match deadline {
                    None => None,
                    Some(d) => {
                        let left = d.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break $timeout;
                        }
                        Some(left)
                    }
                };
                (st.version, left)
            };
            $wait(&$shared, seen, left) $($await)*;
        }
    }};
}

/// The body of `subscribe` and `unsubscribe`, once for both modes (`[$write, $wait]` name the
/// mode's functions, `$($await)*` is empty or `.await`): queue the command, write it, wait for
/// the confirmations; names refused (or not confirmed in time) are forgotten.
macro_rules! change {
    ($shared:expr, $kind:ident, $names:ident, $subscribe:expr, [$write:path, $wait:path], $($await:tt)*) => {{
        if !$shared.queue_change($kind, $names, $subscribe)? {
            return Ok(());
        }
        // A failed write is the reader's to find: it reconnects and resubscribes.
        let _ = flush!($shared, $write, $($await)*);
        let result = wait_for!(
            $shared,
            crate::pubsub::deadline(Some($shared.confirm_timeout())),
            crate::pubsub::State::settled,
            Err(crate::pubsub::unconfirmed()),
            $wait,
            $($await)*
        );
        if result.is_err() && $subscribe {
            $shared.lock().subs.forget($kind, $names);
        }
        result
    }};
}

use {change, flush, pump, wait_for};

/// When a wait of `timeout` from now ends (`None`: never).
fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}
