//! The blocking subscriber: a reader thread per subscriber, the owner waits on a condition
//! variable. The reader's loop and every rule are the module's, shared with tokio.

use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redpipe_core::{Args, Error, ReadBuffer, Result};

use super::pushed::threads::Hub;
use super::run::{change, flush, pump, rehome, short_forms, spread, wait_for};
use super::{Event, Kind, Overflow, Shared, State, deadline};
use crate::cluster::{Node, SlotMap};
use crate::connection::Connection;
use crate::registry::Connections;
use crate::stream::Io;

/// The read side, the write side and bytes already read.
type Parts = (Side, Side, Vec<u8>);

/// One side of a subscriber's connection. Over TCP or a Unix socket, a handle of its own on the
/// socket: the reader blocks in a read on one while the owner writes on the other. TLS keeps
/// one session state for both directions, so there both sides hold the one [`TlsSession`].
pub(super) enum Side {
    Own(Io),
    Tls(Arc<TlsSession>),
}

/// A TLS connection that the reader thread and the writing owner share. The reader holds the
/// session only to read what is ready (decrypted, or whole records in the socket, taken in
/// without blocking); it waits for the socket's next bytes with a peek at the TCP socket under
/// the session, holding nothing, so that a subscribe command is written at once, never after
/// the reader's wait.
pub(super) struct TlsSession {
    io: Mutex<Io>,
    /// The TCP socket under the session: peeked at, and shut down to end the reader.
    sock: TcpStream,
}

impl TlsSession {
    fn lock(&self) -> MutexGuard<'_, Io> {
        self.io.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads what the server sent, waiting for it up to the socket's read timeout (then
    /// `TimedOut`, as a read of a plain socket says: the subscriber's ping depends on it).
    fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = crate::stream::when_ready(&self.sock, || {
            let mut io = self.lock();
            match embedded_io::ReadReady::read_ready(&mut *io)? {
                true => embedded_io::Read::read(&mut *io, buf).map(Some),
                false => Ok(None),
            }
        })?;
        read.ok_or_else(|| std::io::ErrorKind::TimedOut.into())
    }
}

impl Side {
    /// Both sides of a connection taken apart.
    fn split(io: Io) -> Option<(Self, Self)> {
        if let Some(writer) = io.try_clone() {
            return Some((Self::Own(io), Self::Own(writer)));
        }
        let sock = io.shutdown_handle()?;
        let session = Arc::new(TlsSession {
            io: Mutex::new(io),
            sock,
        });
        Some((Self::Tls(Arc::clone(&session)), Self::Tls(session)))
    }

    /// Shuts the connection down both ways: the reader, waiting on it, finds it closed.
    fn shutdown(&self) {
        match self {
            Self::Own(io) => io.shutdown(),
            Self::Tls(session) => {
                let _ = session.sock.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// A blocking subscriber on a connection of its own; see the [module docs](super).
///
/// ```no_run
/// use std::time::Duration;
/// use redpipe::pubsub::{Event, Kind, Subscriber};
///
/// redpipe::connect("redis://127.0.0.1:6379")?;
/// let mut sub = Subscriber::new(redpipe::DEFAULT)?;
/// sub.subscribe(&["news"])?; // returns once the server confirmed
/// sub.subscribe_kind(Kind::Pattern, &["alerts.*"])?; // the kind as a value
/// while let Some(event) = sub.next_event(Some(Duration::from_secs(1)))? {
///     match event {
///         Event::Message(m) => println!("{}: {}", m.channel(), m.payload::<String>()?),
///         Event::Gap => println!("reconnected: messages may have been missed"),
///         other => println!("{other:?}"),
///     }
/// }
/// # Ok::<(), redpipe::Error>(())
/// ```
pub struct Subscriber {
    shared: Arc<Shared<Side>>,
    /// On the name's shared connection ([`on_shared`](Self::on_shared)): its side of it.
    hub: Option<Arc<Hub>>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("addr", &self.shared.info.addr)
            .finish_non_exhaustive()
    }
}

/// Opens a connection for the subscriber: the name's factory or settings (a cluster's `node`,
/// or the first of its nodes that answers), set up as any connection (`HELLO`, `AUTH`,
/// `SELECT`), then taken apart.
fn open(shared: &Shared<Side>, node: Option<&Node>) -> Result<Parts> {
    let conn = match &shared.factory {
        Some(open) => open()?,
        None => {
            let mut last = Error::Closed;
            let mut opened = None;
            for info in shared.targets(node) {
                match Connection::open(&info) {
                    Ok(c) => {
                        opened = Some(c);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            opened.ok_or(last)?
        }
    };
    let (io, buf) = conn.into_io()?;
    let (reader, writer) = Side::split(io)
        .ok_or_else(|| Error::Config("a subscriber's connection has no socket to split".into()))?;
    Ok((reader, writer, buf.filled().to_vec()))
}

fn read(
    _: &Shared<Side>,
    side: &mut Side,
    buf: &mut ReadBuffer<Vec<u8>>,
) -> std::io::Result<usize> {
    buf.read_with(|spare| match side {
        Side::Own(io) => embedded_io::Read::read(io, spare),
        Side::Tls(session) => session.read(spare),
    })
}

fn write(side: &mut Side, bytes: &[u8]) -> std::io::Result<()> {
    let result = match side {
        Side::Own(io) => embedded_io::Write::write_all(io, bytes),
        Side::Tls(session) => {
            let mut io = session.lock();
            embedded_io::Write::write_all(&mut *io, bytes)
                .and_then(|()| embedded_io::Write::flush(&mut *io))
        }
    };
    if result.is_err() {
        side.shutdown(); // so that the reader, blocked in a read, finds the connection gone
    }
    result
}

fn sleep(d: Duration) {
    std::thread::sleep(d);
}

/// Waits for a wake-up after the `seen`th, or `left`.
pub(super) fn wait(shared: &Shared<Side>, seen: u64, left: Option<Duration>) {
    let st = shared.lock();
    if st.version != seen {
        return;
    }
    let _st = match left {
        Some(t) => {
            shared
                .changed
                .wait_timeout(st, t)
                .unwrap_or_else(PoisonError::into_inner)
                .0
        }
        None => shared
            .changed
            .wait(st)
            .unwrap_or_else(PoisonError::into_inner),
    };
}

/// Starts a reader thread for `link`; if none can start, the next look at the links tries
/// again.
fn spawn(shared: &Arc<Shared<Side>>, link: usize) {
    let reader = Arc::clone(shared);
    let started = std::thread::Builder::new()
        .name("redpipe-subscriber".into())
        .spawn(move || run(reader, link, None));
    if started.is_err() {
        shared.lock().link(link).reader = false;
    }
}

/// Reads the cluster's slot map again.
fn refresh(shared: &Shared<Side>) -> Result<SlotMap> {
    let cluster = shared.cluster.as_ref().ok_or(Error::Closed)?;
    cluster.refresh()?;
    Ok(SlotMap::clone(&cluster.map()))
}

fn run(shared: Arc<Shared<Side>>, link: usize, first: Option<Parts>) {
    pump!(
        shared,
        link,
        first,
        [open, read, write, sleep, spawn, refresh, stop],
    )
}

/// Marks the subscriber closed and shuts every connection down: each reader, blocked in a read
/// on the same socket, finds it closed and ends.
fn stop(shared: &Shared<Side>) {
    let mut st = shared.lock();
    st.closed = true;
    for link in &mut st.links {
        if let Some(w) = link.writer.take() {
            w.shutdown();
        }
    }
}

impl Subscriber {
    /// A subscriber to the server named `name` in the process-wide registry; see
    /// [`on`](Self::on).
    pub fn new(name: &str) -> Result<Self> {
        Self::on(Connections::global(), name)
    }

    /// A subscriber to the server or cluster named `name` in `registry`, on connections of
    /// its own (a cluster: see the [module docs](super#redis-cluster)), the first opened now
    /// (an unreachable server or a refused `AUTH` is the error) with the name's settings, over
    /// TCP, a Unix socket or TLS.
    pub fn on(registry: &Connections, name: &str) -> Result<Self> {
        let target = registry.subscriber_settings(name)?;
        let map = match &target.2 {
            Some(cluster) => {
                if cluster.map().nodes().is_empty() {
                    cluster.refresh()?;
                }
                Some(SlotMap::clone(&cluster.map()))
            }
            None => None,
        };
        let shared = Arc::new(Shared::with(target, map));
        let first = open(&shared, None)?;
        shared.lock().link(0).reader = true;
        let reader = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("redpipe-subscriber".into())
            .spawn(move || run(reader, 0, Some(first)))
            .map_err(|e| Error::Io(e.into()))?;
        Ok(Self { shared, hub: None })
    }

    /// A subscriber on the shared connection of `name` in the process-wide registry; see
    /// [`on_shared`](Self::on_shared).
    pub fn new_shared(name: &str) -> Result<Self> {
        Self::on_shared(Connections::global(), name)
    }

    /// A subscriber on the shared (multiplexed) connection that `name`'s pipelines use, opened
    /// if none is open: no connection of its own (RESP3 only; see the
    /// [module docs](super#on-the-shared-connection) for why it is opt-in). Its messages come
    /// to it among the pipelines' replies, never to a pipeline. A thread of its own listens
    /// while no pipeline waits for replies (a blocking shared connection is otherwise read
    /// only by the threads whose pipelines wait), pings it every `read_timeout`, and when the
    /// connection ends subscribes again on the name's next one, with an [`Event::Gap`].
    ///
    /// Any number of subscribers share a connection, each with its own names.
    ///
    /// `Err(Error::Config)` for a name that does not speak RESP3 (`protocol=3`), is a cluster,
    /// or has no shared connection.
    pub fn on_shared(registry: &Connections, name: &str) -> Result<Self> {
        let hub = Hub::open(registry, name)?;
        Ok(Self {
            shared: Arc::clone(&hub.sub),
            hub: Some(hub),
        })
    }

    /// Whether it is on its name's shared connection ([`on_shared`](Self::on_shared)).
    pub fn is_shared(&self) -> bool {
        self.hub.is_some()
    }

    /// Sets the buffer's bounds (messages and bytes) and what happens when a message arrives
    /// with it full; see the [module docs](super).
    pub fn buffer(&self, messages: usize, bytes: usize, overflow: Overflow) -> &Self {
        self.shared.set_bounds(messages, bytes, overflow);
        self
    }

    /// Subscribes to `names` (channels, patterns or shard channels, per `kind`) and waits
    /// until the server confirmed every one. A refusal (`-NOPERM`) is the server's error, and
    /// the names refused are forgotten. Names already subscribed are not sent again.
    pub fn subscribe_kind<A: Args + ?Sized>(&mut self, kind: Kind, names: &A) -> Result<()> {
        if let Some(hub) = &self.hub {
            return hub.change(kind, names, true);
        }
        change!(
            self.shared,
            kind,
            names,
            true,
            [write, wait, spawn, refresh, sleep],
        )
    }

    /// Unsubscribes from those of `names` that are subscribed, and waits for the server's
    /// confirmations; messages already buffered stay.
    pub fn unsubscribe_kind<A: Args + ?Sized>(&mut self, kind: Kind, names: &A) -> Result<()> {
        if let Some(hub) = &self.hub {
            return hub.change(kind, names, false);
        }
        change!(
            self.shared,
            kind,
            names,
            false,
            [write, wait, spawn, refresh, sleep],
        )
    }

    short_forms!(,);

    /// The next message or marker, waiting up to `timeout` (`None`: as long as it takes);
    /// `Ok(None)` when none came in time. `Err` ends the subscriber (its overflow policy
    /// disconnected it); later calls give [`Error::Closed`].
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<Event>> {
        wait_for!(
            self.shared,
            deadline(timeout),
            |st: &mut State<Side>| st.take().map(|r| r.map(Some)),
            Ok(None),
            wait,
        )
    }

    /// The events, each waited for as long as it takes; the iterator ends when the subscriber
    /// does (after its error).
    pub fn iter(&mut self) -> impl Iterator<Item = Result<Event>> + '_ {
        super::until_error(move || self.next_event(None))
    }

    /// Messages dropped so far under [`Overflow::DropOldest`].
    pub fn dropped(&self) -> u64 {
        self.shared.dropped()
    }

    /// The names of `kind` subscribed (or being subscribed).
    pub fn subscriptions(&self, kind: Kind) -> Vec<String> {
        self.shared.subscriptions(kind)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        match &self.hub {
            Some(hub) => hub.stop(),
            None => stop(&self.shared),
        }
    }
}
