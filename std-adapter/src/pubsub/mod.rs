//! Pub/Sub: a blocking [`Subscriber`] and a tokio `AsyncSubscriber` (a `Stream`, feature `tokio`), each on a
//! connection of its own (or, with RESP3, on the name's shared connection), built from a
//! registry name.
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
//! - **Short forms.** `subscribe`, `psubscribe` and `ssubscribe` (and `unsubscribe`,
//!   `punsubscribe`, `sunsubscribe`) name channels, patterns and shard channels;
//!   `subscribe_kind` and `unsubscribe_kind` take the [`Kind`] as a value.
//!
//! RESP2 or RESP3 as the name's settings say (`protocol=3`): the core reads both.
//!
//! # On the shared connection
//!
//! With RESP3 a subscriber may instead share the connection the name's pipelines use
//! ([`Subscriber::on_shared`], `AsyncSubscriber::on_shared`): no connection of its own, its messages
//! routed to it by the connection's reader, never to a pipeline. Any number of subscribers
//! share a connection: the core's [`Fanout`](redpipe_core::pubsub::Fanout) subscribes it to the
//! union of their names, each once, and unsubscribes a name only when no subscriber there
//! wants it any more; each subscriber gets the messages of its own names and its own
//! confirmations and refusals. When the connection is replaced each subscriber yields its
//! [`Event::Gap`] and the names are subscribed again, once. Opt-in, since sharing gives up
//! what a connection of its own keeps: [`Overflow::Disconnect`] ends the subscriber alone (the
//! connection stays for the pipelines and the other subscribers), and no RESP2 (a RESP2
//! subscribed connection answers nothing but subscription commands).
//!
//! # Redis Cluster
//!
//! A subscriber built from a cluster's name ([`Connections::register`](crate::Connections::register)
//! with seeds) follows the cluster, with the core's [`Router`] deciding where each name goes:
//! - channels and patterns on one connection to any node (a `PUBLISH` reaches every node);
//! - shard channels (`SSUBSCRIBE`, Redis 7; published with `SPUBLISH`, on the nodes of the
//!   channel's hash slot only) on a connection to their slot's primary, one per node that
//!   holds any, one `SSUBSCRIBE` per slot;
//! - when a slot moves (a migration, a failover), the node that had it answers `-MOVED` or
//!   unsubscribes its channels (an `sunsubscribe` push), or its connection is lost: the
//!   subscriber reads the slot map again, subscribes on the new owner, and yields an
//!   [`Event::Gap`] when subscriptions were lost meanwhile;
//! - node-local channels and patterns (`subscribe_node_local`: what each node publishes about
//!   itself alone, such as keyspace notifications) on the connection of every primary; while
//!   there are any the subscriber reads the slot map again every few seconds (a coordinated
//!   failover closes no connection), subscribes a new primary, unsubscribes a node that lost
//!   its slots (a replica replays its primary's writes, and their notifications), and yields
//!   an [`Event::Gap`] when the primaries changed or one's connection was lost.
//!
//! Over TLS, the blocking subscriber's reader and its owner share the one TLS session: the
//! reader waits for bytes on the socket without holding it, so a subscribe is written at once.
//!
//! # Keyspace notifications
//!
//! [`KeyspaceNotifications`] (in the prelude): `Followers::notifications(&["zadd"])` subscribes
//! to the keyspace's own keys' notifications and yields each key typed by the keyspace's key
//! codec, with the event; the server needs `notify-keyspace-events` set (on a cluster, every
//! node). A cluster publishes each key's notifications on the key's node only: the pattern is
//! then subscribed on every primary, and each event arrives once.

mod blocking;
mod msg;
mod notify;
mod pushed;
mod run;
#[cfg(feature = "tokio")]
mod stream;

pub use blocking::Subscriber;
pub use msg::Msg;
#[cfg(feature = "tokio")]
pub use notify::AsyncNotifications;
pub use notify::{KeyEvent, KeyOf, KeyspaceNotifications, Notification, Notifications};
pub use redpipe_core::pubsub::Kind;
#[cfg(feature = "tokio")]
pub use stream::AsyncSubscriber;

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redpipe_core::pubsub::{Event as Frame, Routed, Router};
use redpipe_core::{Args, Error, IoError, IoKind, Result};

use crate::cluster::{Cluster, Node, SlotMap};
use crate::config::ConnectionInfo;
use crate::registry::Factory;

/// Messages a subscriber's buffer holds by default.
pub const DEFAULT_BUFFER_MESSAGES: usize = 10_000;
/// Bytes (channels, patterns and payloads) a subscriber's buffer holds by default.
pub const DEFAULT_BUFFER_BYTES: usize = 16 << 20;

/// The first wait before reconnecting; it doubles up to [`BACKOFF_MAX`] while attempts fail.
const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// How long a reader that still has a connection spends placing shard channels that moved
/// before it reads again (the names left waiting are tried again at its next read timeout).
const REHOME_WHILE_READING: Duration = Duration::from_secs(2);

/// How often a cluster subscriber with node-local names reads the slot map again on its own,
/// looked at whenever one of its connections reads or its read timeout passes (sooner when the
/// cluster's shared map was read again): a coordinated failover changes the primaries without
/// closing a connection, so nothing else would tell.
const WATCH_EVERY: Duration = Duration::from_secs(5);
/// The least time between two such reads, however often the cluster's map changes.
const WATCH_MIN: Duration = Duration::from_millis(500);

/// What a subscriber yields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A message.
    Message(Msg),
    /// Subscriptions were lost and are back (a connection replaced, a cluster slot moved to
    /// another node): messages published in between were missed.
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

/// A connection of the subscriber, as the readers and the owner share it.
struct Link<W> {
    /// The write side, while nobody writes.
    writer: Option<W>,
    /// Connections opened; a writer of an earlier one is stale.
    generation: u64,
    /// A reader runs for it.
    reader: bool,
}

impl<W> Default for Link<W> {
    fn default() -> Self {
        Self {
            writer: None,
            generation: 0,
            reader: false,
        }
    }
}

/// What the readers and the subscriber's owner share.
struct State<W> {
    /// Which names go on which connection (one for a single server).
    router: Router,
    /// The connections, by the router's link numbers.
    links: Vec<Link<W>>,
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
    /// The owner is gone: the readers stop.
    closed: bool,
    /// Counts the reader's wake-ups, so that an owner about to wait sees one it missed.
    version: u64,
    /// When the slot map was last read for node-local names, and the cluster's count of map
    /// reads then.
    watched: Instant,
    watched_refreshes: u64,
}

impl<W> State<W> {
    fn new(info: &ConnectionInfo, mut router: Router) -> Self {
        router.set_limits(info.limits);
        Self {
            router,
            links: Vec::new(),
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
            closed: false,
            version: 0,
            watched: Instant::now(),
            watched_refreshes: 0,
        }
    }

    /// The connection of `link`.
    fn link(&mut self, link: usize) -> &mut Link<W> {
        if self.links.len() <= link {
            self.links.resize_with(link + 1, Link::default);
        }
        &mut self.links[link]
    }

    /// Takes in one frame the core read; whether it moved names (the links then need a look).
    fn deliver(&mut self, frame: Routed<'_>) -> bool {
        match frame {
            Routed::Frame(Frame::Message(m)) => self.push(Msg::new(&m)),
            Routed::Frame(Frame::Error(e)) => self.refused = Some(Error::Server(e.into_owned())),
            Routed::Moved { gap } => {
                if gap {
                    self.gap();
                }
                return true;
            }
            _ => {}
        }
        false
    }

    /// Says that messages were missed, once for losses in a row.
    fn gap(&mut self) {
        if self.queue.back() != Some(&Event::Gap) {
            self.queue.push_back(Event::Gap);
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
        (self.router.pending() == 0).then_some(Ok(()))
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
    /// The reader tasks, aborted when the owner goes.
    #[cfg(feature = "tokio")]
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    /// The server's settings; a cluster's first seed's.
    info: ConnectionInfo,
    factory: Option<Factory>,
    cluster: Option<Arc<Cluster>>,
}

impl<W> Shared<W> {
    /// The state of a subscriber of a single server, or of a cluster whose slot map is `map`.
    fn with(
        (info, factory, cluster): crate::registry::SubscriberTarget,
        map: Option<SlotMap>,
    ) -> Self {
        let router = match map {
            Some(map) => Router::cluster(map),
            None => Router::single(),
        };
        Self {
            state: Mutex::new(State::new(&info, router)),
            changed: Condvar::new(),
            #[cfg(feature = "tokio")]
            notify: tokio::sync::Notify::new(),
            #[cfg(feature = "tokio")]
            tasks: Mutex::default(),
            info,
            factory,
            cluster,
        }
    }

    /// Where link 0 of a new subscriber, or a link to `node`, may connect, best first: the
    /// server; a cluster's node; or any node of the cluster.
    fn targets(&self, node: Option<&Node>) -> Vec<ConnectionInfo> {
        match (&self.cluster, node) {
            (None, _) => vec![self.info.clone()],
            (Some(c), Some(n)) => vec![c.node_info(n)],
            (Some(c), None) => c.any_nodes().iter().map(|n| c.node_info(n)).collect(),
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

    /// Queues the command of a `subscribe` or `unsubscribe` call (on every primary of a
    /// cluster when `node_local`): whether there is one (names already as asked send nothing).
    fn queue_change<A: Args + ?Sized>(
        &self,
        kind: Kind,
        names: &A,
        subscribe: bool,
        node_local: bool,
    ) -> Result<bool> {
        let mut st = self.lock();
        if st.ended || st.failed.is_some() {
            return Err(Error::Closed);
        }
        st.refused = None;
        let sent = match (subscribe, node_local) {
            (true, false) => st.router.subscribe(kind, names)?,
            (false, false) => st.router.unsubscribe(kind, names)?,
            (true, true) => st.router.subscribe_node_local(kind, names)?,
            (false, true) => st.router.unsubscribe_node_local(kind, names)?,
        };
        Ok(sent > 0)
    }

    /// Whether it is time to read a cluster's slot map again for the node-local names (see
    /// [`WATCH_EVERY`]); if so, the look is counted as taken now.
    fn watch_due(&self) -> bool {
        let Some(cluster) = &self.cluster else {
            return false;
        };
        let mut st = self.lock();
        if !st.router.has_node_local() || st.closed {
            return false;
        }
        let since = st.watched.elapsed();
        let due = since >= WATCH_EVERY
            || (since >= WATCH_MIN && cluster.refreshes() != st.watched_refreshes);
        if due {
            st.watched = Instant::now();
        }
        due
    }

    /// Hands a slot map read now to the router: names go where it says, an [`Event::Gap`] is
    /// buffered if node-local subscriptions changed nodes.
    fn take_map(&self, map: SlotMap) {
        let mut st = self.lock();
        let _ = st.router.handle_map(map);
        if let Some(c) = &self.cluster {
            st.watched = Instant::now();
            st.watched_refreshes = c.refreshes();
        }
        if st.router.take_gap() {
            st.gap();
            self.wake_locked(&mut st);
        }
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
        st.router
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

/// When a wait of `timeout` from now ends (`None`: never).
/// The events `next` gives, each waited for as long as it takes; ends after the first error
/// (the subscriber's end): the `iter` of both blocking subscribers.
fn until_error<T>(mut next: impl FnMut() -> Result<Option<T>>) -> impl Iterator<Item = Result<T>> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let next = next().transpose()?;
        done = next.is_err();
        Some(next)
    })
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}
