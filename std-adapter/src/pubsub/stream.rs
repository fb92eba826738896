//! The tokio subscriber (feature `tokio`): a reader task per subscriber, the owner awaits a
//! `Notify`, and the subscriber is a `Stream`. The reader's loop and every rule are the
//! module's, shared with the blocking subscriber.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use redpipe_core::{Args, Error, ReadBuffer, Result};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadHalf, WriteHalf};

use super::pushed::tasks::Hub;
use super::run::{change, flush, pump, rehome, short_forms, spread, wait_for};
use super::{Event, Kind, Overflow, Shared, State, deadline};
use crate::cluster::{Node, SlotMap};
use crate::registry::Connections;
use crate::tokio::{AsyncConnection, Stream as Socket};

pub(super) type Writer = WriteHalf<Socket>;
/// A `next_event` in progress, owned by the stream.
type NextEvent = Pin<Box<dyn Future<Output = Result<Option<Event>>> + Send>>;
/// The read side, the write side and bytes already read.
type Parts = (ReadHalf<Socket>, Writer, Vec<u8>);

/// A tokio subscriber on a connection of its own, read by a task of its own; a
/// [`Stream`] of [`Event`]s. See the [module docs](super).
///
/// ```no_run
/// # async fn run() -> redpipe::Result<()> {
/// use futures_util::StreamExt;
/// use redpipe::pubsub::{AsyncSubscriber, Event, Kind};
///
/// redpipe::connect("redis://127.0.0.1:6379")?;
/// let mut sub = AsyncSubscriber::new(redpipe::DEFAULT).await?;
/// sub.psubscribe(&["news.*"]).await?;
/// sub.subscribe_kind(Kind::Channel, &["alerts"]).await?; // the kind as a value
/// while let Some(event) = sub.next().await {
///     if let Event::Message(m) = event? {
///         println!("{}: {}", m.channel(), m.payload::<String>()?);
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct AsyncSubscriber {
    shared: Arc<Shared<Writer>>,
    /// The `next_event` that `poll_next` is polling.
    next: Option<NextEvent>,
    /// On the name's shared connection ([`on_shared`](Self::on_shared)): its side of it.
    hub: Option<Arc<Hub>>,
}

impl std::fmt::Debug for AsyncSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSubscriber")
            .field("addr", &self.shared.info.addr)
            .finish_non_exhaustive()
    }
}

/// Opens a connection for the subscriber: to the server, a cluster's `node`, or the first of
/// its nodes that answers.
async fn open(shared: &Shared<Writer>, node: Option<&Node>) -> Result<Parts> {
    if shared.factory.is_some() {
        return Err(Error::Config(
            "this name opens connections with a (blocking) factory: the tokio subscriber needs \
             its URL or ConnectionInfo"
                .into(),
        ));
    }
    let mut last = Error::Closed;
    let mut opened = None;
    for info in shared.targets(node) {
        match AsyncConnection::open(&info).await {
            Ok(c) => {
                opened = Some(c);
                break;
            }
            Err(e) => last = e,
        }
    }
    let (stream, leftover) = opened.ok_or(last)?.into_stream()?;
    let (read, write) = tokio::io::split(stream);
    Ok((read, write, leftover))
}

/// Reads once into `buf`'s free space, up to the read timeout.
async fn read(
    shared: &Shared<Writer>,
    half: &mut ReadHalf<Socket>,
    buf: &mut ReadBuffer<Vec<u8>>,
) -> std::io::Result<usize> {
    let once = std::future::poll_fn(|cx| {
        let read = buf.read_with(|spare| {
            let mut into = tokio::io::ReadBuf::new(spare);
            match Pin::new(&mut *half).poll_read(cx, &mut into) {
                Poll::Ready(Ok(())) => Ok(into.filled().len()),
                Poll::Ready(Err(e)) => Err(Some(e)),
                Poll::Pending => Err(None),
            }
        });
        match read {
            Ok(n) => Poll::Ready(Ok(n)),
            Err(Some(e)) => Poll::Ready(Err(e)),
            Err(None) => Poll::Pending,
        }
    });
    match shared.info.read_timeout {
        Some(t) => tokio::time::timeout(t, once)
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
        None => once.await,
    }
}

async fn write(half: &mut Writer, bytes: &[u8]) -> std::io::Result<()> {
    half.write_all(bytes).await?;
    half.flush().await
}

async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}

/// Waits for the reader's next wake-up, or `left`. One made since the state was looked at is
/// kept as a permit by `notify_one`, so `seen` is not needed.
pub(super) async fn wait(shared: &Shared<Writer>, _seen: u64, left: Option<Duration>) {
    match left {
        Some(t) => {
            let _ = tokio::time::timeout(t, shared.notify.notified()).await;
        }
        None => shared.notify.notified().await,
    }
}

/// Starts a reader task for `link`, aborted when the owner goes.
fn spawn(shared: &Arc<Shared<Writer>>, link: usize) {
    let task = tokio::spawn(run(Arc::clone(shared), link, None));
    shared
        .tasks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(task.abort_handle());
}

/// Reads the cluster's slot map again.
async fn refresh(shared: &Shared<Writer>) -> Result<SlotMap> {
    let cluster = shared.cluster.as_ref().ok_or(Error::Closed)?;
    cluster.refresh_async().await?;
    Ok(SlotMap::clone(&cluster.map()))
}

async fn run(shared: Arc<Shared<Writer>>, link: usize, first: Option<Parts>) {
    pump!(
        shared,
        link,
        first,
        [open, read, write, sleep, spawn, refresh, stop],
        .await
    )
}

/// Marks the subscriber closed, drops the write halves and aborts every reader task (with
/// its read half: the connections close; a task stopping itself ends at its next `await`).
fn stop(shared: &Shared<Writer>) {
    {
        let mut st = shared.lock();
        st.closed = true;
        for link in &mut st.links {
            link.writer = None;
        }
    }
    let tasks = std::mem::take(
        &mut *shared
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for task in tasks {
        task.abort();
    }
}

/// The next event of the subscriber sharing `shared`, waiting up to `timeout`.
async fn next_event(
    shared: Arc<Shared<Writer>>,
    timeout: Option<Duration>,
) -> Result<Option<Event>> {
    wait_for!(
        shared,
        deadline(timeout),
        |st: &mut State<Writer>| st.take().map(|r| r.map(Some)),
        Ok(None),
        wait,
        .await
    )
}

impl AsyncSubscriber {
    /// A subscriber to the server named `name` in the process-wide registry; see
    /// [`on`](Self::on).
    pub async fn new(name: &str) -> Result<Self> {
        Self::on(Connections::global(), name).await
    }

    /// A subscriber to the server or cluster named `name` in `registry`, on connections of
    /// its own (the first opened now), read by tasks spawned on the current tokio runtime;
    /// see [`Subscriber::on`](super::Subscriber::on). Not for a name registered with a
    /// factory.
    pub async fn on(registry: &Connections, name: &str) -> Result<Self> {
        let target = registry.subscriber_settings(name)?;
        let map = match &target.2 {
            Some(cluster) => {
                if cluster.map().nodes().is_empty() {
                    cluster.refresh_async().await?;
                }
                Some(SlotMap::clone(&cluster.map()))
            }
            None => None,
        };
        let shared = Arc::new(Shared::with(target, map));
        let first = open(&shared, None).await?;
        shared.lock().link(0).reader = true;
        let task = tokio::spawn(run(Arc::clone(&shared), 0, Some(first)));
        shared
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task.abort_handle());
        Ok(Self {
            shared,
            next: None,
            hub: None,
        })
    }

    /// A subscriber on the shared connection of `name` in the process-wide registry; see
    /// [`on_shared`](Self::on_shared).
    pub async fn new_shared(name: &str) -> Result<Self> {
        Self::on_shared(Connections::global(), name).await
    }

    /// A subscriber on the shared (multiplexed) connection that `name`'s pipelines use, opened
    /// if none is open: no connection of its own. Its subscription commands go between the
    /// pipelines; its messages, RESP3 pushes, come to it from the connection's driver and never
    /// to a pipeline. It buffers, reconnects (with the connection: it subscribes again on the
    /// name's next shared connection, with an [`Event::Gap`]) and confirms as
    /// [`on`](Self::on)'s does.
    ///
    /// Opt-in, because a connection of its own keeps what sharing gives up:
    /// [`Overflow::Disconnect`] here ends the subscriber alone (it unsubscribes; the connection
    /// is the pipelines' too, and stays), and RESP3 only: in RESP2 a subscribed connection
    /// answers nothing but subscription commands, so it cannot be shared. Any number of
    /// subscribers share a connection (see the [module docs](super#on-the-shared-connection)):
    /// each gets its own names' messages, and one unsubscribing or ending leaves the others'
    /// subscriptions alone.
    ///
    /// `Err(Error::Config)` for a name that does not speak RESP3 (`protocol=3`), is a cluster,
    /// or has no shared connection (`multiplexed=0`, a factory).
    ///
    /// ```no_run
    /// # async fn run() -> redpipe::Result<()> {
    /// use futures_util::StreamExt;
    /// use redpipe::pubsub::AsyncSubscriber;
    ///
    /// redpipe::connect("redis://127.0.0.1:6379?protocol=3")?;
    /// let mut sub = AsyncSubscriber::new_shared(redpipe::DEFAULT).await?;
    /// sub.subscribe(&["news"]).await?;
    /// while let Some(msg) = sub.next().await.transpose()?.and_then(|e| e.message()) {
    ///     println!("{}", msg.payload::<String>()?);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn on_shared(registry: &Connections, name: &str) -> Result<Self> {
        let hub = Hub::open(registry, name).await?;
        Ok(Self {
            shared: Arc::clone(&hub.sub),
            next: None,
            hub: Some(hub),
        })
    }

    /// Whether it is on its name's shared connection ([`on_shared`](Self::on_shared)).
    pub fn is_shared(&self) -> bool {
        self.hub.is_some()
    }

    /// Sets the buffer's bounds and overflow policy; see
    /// [`Subscriber::buffer`](super::Subscriber::buffer).
    pub fn buffer(&self, messages: usize, bytes: usize, overflow: Overflow) -> &Self {
        self.shared.set_bounds(messages, bytes, overflow);
        self
    }

    /// Subscribes and waits for the server's confirmations; see
    /// [`Subscriber::subscribe_kind`](super::Subscriber::subscribe_kind).
    pub async fn subscribe_kind<A: Args + ?Sized>(&mut self, kind: Kind, names: &A) -> Result<()> {
        if let Some(hub) = &self.hub {
            return hub.change(kind, names, true).await;
        }
        change!(
            self.shared,
            kind,
            names,
            true,
            [write, wait, spawn, refresh, sleep],
            .await
        )
    }

    /// Unsubscribes and waits for the server's confirmations.
    pub async fn unsubscribe_kind<A: Args + ?Sized>(
        &mut self,
        kind: Kind,
        names: &A,
    ) -> Result<()> {
        if let Some(hub) = &self.hub {
            return hub.change(kind, names, false).await;
        }
        change!(
            self.shared,
            kind,
            names,
            false,
            [write, wait, spawn, refresh, sleep],
            .await
        )
    }

    short_forms!(async, .await);

    /// The next message or marker, waiting up to `timeout`; see
    /// [`Subscriber::next_event`](super::Subscriber::next_event).
    pub async fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<Event>> {
        next_event(Arc::clone(&self.shared), timeout).await
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

/// Each event, as it comes; ends after the error that ends the subscriber.
impl Stream for AsyncSubscriber {
    type Item = Result<Event>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.next.is_none() {
            // An event that waits is taken at once: a future (and its allocation) only to wait.
            let mut st = self.shared.lock();
            if st.ended {
                return Poll::Ready(None);
            }
            if let Some(event) = st.take() {
                return Poll::Ready(Some(event));
            }
            drop(st);
            self.next = Some(Box::pin(next_event(Arc::clone(&self.shared), None)));
        }
        let Some(next) = self.next.as_mut() else {
            return Poll::Ready(None);
        };
        let result = std::task::ready!(next.as_mut().poll(cx));
        self.next = None;
        Poll::Ready(result.transpose())
    }
}

impl Drop for AsyncSubscriber {
    fn drop(&mut self) {
        match &self.hub {
            Some(hub) => hub.stop(),
            None => stop(&self.shared),
        }
    }
}
