//! One name's connections: its settings, a bounded number of open connections, the idle ones
//! kept for reuse, and the wait queue when all are in use.
//!
//! A bounded pool rather than one multiplexed connection: a pipeline owns its connection while it
//! runs, so replies are matched by order with nothing shared, groups of one pipe run on
//! connections of their own in parallel, and a slow pipeline delays no other. The bound keeps a
//! thousand concurrent tasks at `max_connections` connections: the rest wait (up to the connect
//! timeout) for one to come back. A connection comes back only clean: broken ones, ones in the
//! middle of a pipeline (a dropped future) and ones left watching keys are closed instead. An
//! idle connection the server closed is found before anything is sent on it, and the pipeline
//! goes on a fresh one.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redpipe_core::{Error, IoError, IoKind, Result};

use super::{Factory, Stats};
use crate::cache::Tracked;
use crate::config::ConnectionInfo;
use crate::connection::Connection;
use crate::observe::event;
#[cfg(feature = "tokio")]
use crate::shared::tasks;
use crate::shared::threads;
use crate::stream::Millis;
use redpipe_core::session::Clock;

/// Idle connections kept per name at most.
const MAX_IDLE: usize = 16;

#[derive(Default)]
struct Counters {
    pipelines: AtomicU64,
    commands: AtomicU64,
    connects: AtomicU64,
}

#[derive(Default)]
pub(crate) struct Slots {
    /// Connections open (idle or in use), at most `max_connections`.
    open: usize,
    /// Threads waiting in `take` for a connection to come back: only then does giving one
    /// back wake anybody (a condition variable's notify is a system call even with no waiter,
    /// once per pipeline otherwise).
    waiting: usize,
    idle: Vec<Connection>,
    #[cfg(feature = "tokio")]
    idle_async: Vec<crate::tokio::AsyncConnection>,
}

/// One name's settings and connections.
pub(crate) struct Pool {
    pub(crate) info: ConnectionInfo,
    pub(crate) factory: Option<Factory>,
    slots: Mutex<Slots>,
    freed: Condvar,
    #[cfg(feature = "tokio")]
    freed_async: tokio::sync::Notify,
    counters: Counters,
    /// The shared connections of blocking threads, opened on first use.
    shared: Mutex<Vec<Arc<threads::Shared>>>,
    /// Held while a shared connection opens, so that one opens where many wait for it.
    opening: Mutex<()>,
    /// The shared connections of tokio tasks, opened on first use.
    #[cfg(feature = "tokio")]
    shared_async: Arc<Mutex<Vec<Arc<tasks::Shared>>>>,
    #[cfg(feature = "tokio")]
    opening_async: Arc<tokio::sync::Mutex<()>>,
    /// Which shared connection the next pipeline goes on (round robin).
    turn: AtomicUsize,
    /// See [`Pool::holding_writes`].
    hold_after: Option<u64>,
    /// Cluster batches in flight on this node (see [`Pool::batch`]).
    in_flight: AtomicUsize,
    /// When (on the [`Millis`] clock) the node last finished a batch, or started one while
    /// none was in flight.
    answered_ms: AtomicU64,
    /// The name's client-side cache, when it has one ([`ConnectionInfo::cache`]).
    pub(crate) cache: Option<Arc<Tracked>>,
}

/// A cluster batch in flight on a node, counted until dropped (see [`Pool::stalled_ms`]).
pub(crate) struct InFlight<'p>(&'p Pool);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.answered_ms.store(Millis.now(), Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection taken from a pool; it goes back (or is closed, freeing its place) when dropped,
/// whatever happened to the pipeline that used it.
pub(crate) struct Lease<'p, C: Pooled> {
    pool: &'p Pool,
    conn: Option<C>,
}

/// What a pool keeps: blocking and async connections.
pub(crate) trait Pooled: Sized {
    /// Whether it may serve another pipeline (not broken, not watching keys).
    fn reusable(&self) -> bool;
    /// Its idle list.
    fn idle(slots: &mut Slots) -> &mut Vec<Self>;
}

impl Pooled for Connection {
    fn reusable(&self) -> bool {
        self.is_clean()
    }
    fn idle(slots: &mut Slots) -> &mut Vec<Self> {
        &mut slots.idle
    }
}

#[cfg(feature = "tokio")]
impl Pooled for crate::tokio::AsyncConnection {
    fn reusable(&self) -> bool {
        self.is_clean()
    }
    fn idle(slots: &mut Slots) -> &mut Vec<Self> {
        &mut slots.idle_async
    }
}

impl<C: Pooled> std::ops::Deref for Lease<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn
            .as_ref()
            .expect("a lease holds its connection until dropped")
    }
}

impl<C: Pooled> std::ops::DerefMut for Lease<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }
}

impl<C: Pooled> Drop for Lease<'_, C> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.put(c);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Puts `s` at `turn` in `list`, in place of a failed connection or after the others.
fn put_at<T>(list: &mut Vec<Arc<T>>, turn: usize, s: Arc<T>) {
    match list.get_mut(turn) {
        Some(place) => *place = s,
        None => list.push(s),
    }
}

/// What a caller waiting for a free connection gets after the connect timeout.
fn exhausted() -> Error {
    Error::Io(IoError::new(
        IoKind::TimedOut,
        "every connection of the pool stayed in use past the connect timeout",
    ))
}

impl Pool {
    pub(crate) fn new(info: ConnectionInfo, factory: Option<Factory>) -> Self {
        let cache = match (&info.cache, &factory) {
            (Some(config), None) => Some(Arc::new(Tracked::new(&info, config.clone()))),
            _ => None,
        };
        Self {
            cache,
            info,
            factory,
            slots: Mutex::default(),
            freed: Condvar::new(),
            #[cfg(feature = "tokio")]
            freed_async: tokio::sync::Notify::new(),
            counters: Counters::default(),
            shared: Mutex::default(),
            opening: Mutex::default(),
            #[cfg(feature = "tokio")]
            shared_async: Arc::default(),
            #[cfg(feature = "tokio")]
            opening_async: Arc::default(),
            turn: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            answered_ms: AtomicU64::new(0),
            hold_after: None,
        }
    }

    /// Makes the shared connections hold new commands back while replies are awaited and
    /// none has completed for `ms` (see [`Hold`](redpipe_core::session::Hold)): for a cluster
    /// node, whose slots a failover may give to another node, commands held back (never sent)
    /// can go there, where commands written to a stopped node end with an unknown outcome.
    pub(crate) fn holding_writes(mut self, ms: u64) -> Self {
        self.hold_after = Some(ms);
        self
    }

    /// Counts a cluster batch in flight on this node until the guard is dropped.
    pub(crate) fn batch(&self) -> InFlight<'_> {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            self.answered_ms.store(Millis.now(), Ordering::Relaxed);
        }
        InFlight(self)
    }

    /// How long (ms) the node has had batches in flight without finishing any, if it has
    /// some: a stopped or cut-off node's grows; a working node's stays near its latency.
    pub(crate) fn stalled_ms(&self, now: u64) -> Option<u64> {
        (self.in_flight.load(Ordering::Relaxed) > 0)
            .then(|| now.saturating_sub(self.answered_ms.load(Ordering::Relaxed)))
    }

    /// Ends the node's shared connections from outside (see [`threads::Shared::abort`]):
    /// every pipeline on them fails with `failure` now.
    pub(crate) fn abort_shared(&self, failure: redpipe_core::Failure) {
        for s in lock(&self.shared).iter() {
            s.abort(failure);
        }
        #[cfg(feature = "tokio")]
        for s in lock(&self.shared_async).iter() {
            s.abort(failure);
        }
    }

    /// Whether pipelines that may share a connection go on a shared one.
    pub(crate) fn multiplexes(&self) -> bool {
        self.info.multiplexed > 0 && self.factory.is_none()
    }

    /// Whether `p` goes on a shared connection of this name (see
    /// [`Pipeline::shares_connection`](redpipe_core::Pipeline::shares_connection)).
    pub(crate) fn shares(&self, p: &redpipe_core::VecPipeline) -> bool {
        self.multiplexes() && p.shares_connection(self.info.window, self.info.window_bytes)
    }

    /// The place of the shared connection the next pipeline goes on.
    fn next_turn(&self) -> usize {
        match self.info.multiplexed {
            0 | 1 => 0,
            n => self.turn.fetch_add(1, Ordering::Relaxed) % n,
        }
    }

    /// A shared blocking connection: one that is open, or a new one in its place.
    pub(crate) fn shared(&self) -> Result<threads::Link> {
        let turn = self.next_turn();
        let open =
            |list: &Vec<Arc<threads::Shared>>| list.get(turn).filter(|s| s.is_open()).cloned();
        if let Some(s) = open(&lock(&self.shared)) {
            return Ok(threads::Link(s));
        }
        let _opening = lock(&self.opening);
        if let Some(s) = open(&lock(&self.shared)) {
            return Ok(threads::Link(s));
        }
        self.counters.connects.fetch_add(1, Ordering::Relaxed);
        event!("connect", self.info.addr_text(), shared = true);
        let s = threads::Shared::open(&self.info, self.hold_after).inspect_err(|e| {
            event!(
                "connect failed",
                self.info.addr_text(),
                error = e.to_string()
            );
        })?;
        put_at(&mut lock(&self.shared), turn, s.clone());
        Ok(threads::Link(s))
    }

    /// A shared tokio connection, as [`shared`](Self::shared).
    ///
    /// Not one body with `shared`: the open differs for real. A thread opens inline under a
    /// std mutex; a task may be dropped mid-open, so the open runs in a task of its own that
    /// holds the (owned, async) lock until the connection is in the list.
    #[cfg(feature = "tokio")]
    pub(crate) async fn shared_async(&self) -> Result<tasks::Link> {
        let turn = self.next_turn();
        let open = |list: &Vec<Arc<tasks::Shared>>| list.get(turn).filter(|s| s.is_open()).cloned();
        if let Some(s) = open(&lock(&self.shared_async)) {
            return Ok(tasks::Link(s));
        }
        let opening = self.opening_async.clone().lock_owned().await;
        if let Some(s) = open(&lock(&self.shared_async)) {
            return Ok(tasks::Link(s));
        }
        self.counters.connects.fetch_add(1, Ordering::Relaxed);
        event!("connect", self.info.addr_text(), shared = true);
        // In a task of its own, which holds `opening` until it is done: a requester that goes
        // away does not abandon the connection that the others wait for.
        let (list, info, hold) = (
            self.shared_async.clone(),
            self.info.clone(),
            self.hold_after,
        );
        let opened = tokio::spawn(async move {
            let _opening = opening;
            let s = tasks::Shared::open(&info, hold).await.inspect_err(|e| {
                event!("connect failed", info.addr_text(), error = e.to_string());
            })?;
            put_at(&mut lock(&list), turn, s.clone());
            Ok::<_, Error>(s)
        });
        match opened.await {
            Ok(s) => Ok(tasks::Link(s?)),
            Err(_) => Err(Error::Closed), // the runtime is shutting down
        }
    }

    /// Shared connections open now.
    fn shared_open(&self) -> usize {
        let blocking = lock(&self.shared).iter().filter(|s| s.is_open()).count();
        #[cfg(feature = "tokio")]
        let blocking = blocking
            + lock(&self.shared_async)
                .iter()
                .filter(|s| s.is_open())
                .count();
        blocking
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection, or the right to open one; `None` when all are in use.
    fn claim<C: Pooled>(&self) -> Option<Option<C>> {
        let mut slots = self.slots();
        if let Some(c) = C::idle(&mut slots).pop() {
            return Some(Some(c));
        }
        if slots.open < self.info.max_connections.max(1) {
            slots.open += 1;
            return Some(None);
        }
        None
    }

    /// Gives back the place of a connection that was not opened, or was closed.
    fn release(&self) {
        let mut slots = self.slots();
        slots.open = slots.open.saturating_sub(1);
        let waiting = slots.waiting > 0;
        drop(slots);
        self.notify(waiting);
    }

    /// Wakes one waiter: a blocked thread if one is `waiting`, and a tokio task (tokio's
    /// `Notify` keeps the wake-up for a task that registered before it looked).
    fn notify(&self, waiting: bool) {
        if waiting {
            self.freed.notify_one();
        }
        #[cfg(feature = "tokio")]
        self.freed_async.notify_one();
    }

    fn put<C: Pooled>(&self, c: C) {
        let mut slots = self.slots();
        if c.reusable() && C::idle(&mut slots).len() < MAX_IDLE {
            C::idle(&mut slots).push(c);
        } else {
            slots.open = slots.open.saturating_sub(1);
            event!(
                "connection closed",
                self.info.addr_text(),
                reusable = c.reusable()
            );
        }
        let waiting = slots.waiting > 0;
        drop(slots);
        self.notify(waiting);
    }

    /// Counts a connection about to open (its place was claimed).
    fn connecting(&self) {
        self.counters.connects.fetch_add(1, Ordering::Relaxed);
        event!("connect", self.info.addr_text());
    }

    /// The lease of a connection just opened, or the failure to open it (its place is given
    /// back).
    fn opened<C: Pooled>(&self, opened: Result<C>) -> Result<Lease<'_, C>> {
        let c = opened.inspect_err(|e| {
            event!(
                "connect failed",
                self.info.addr_text(),
                error = e.to_string()
            );
            self.release();
        })?;
        Ok(self.lease(c))
    }

    /// A blocking connection: idle, new, or the next one given back (waiting at most the
    /// connect timeout).
    ///
    /// Not one body with [`take_async`](Self::take_async), beyond `claim`, `connecting` and
    /// `opened`: the waits differ for real. A thread checks again under the lock and sleeps on
    /// the condition variable (counted in `waiting`, so that a give-back wakes it); a task
    /// registers with the `Notify` before it claims (which keeps a wake-up given in between)
    /// and awaits it under a timeout. A factory is blocking, so only `take` can use one.
    pub(crate) fn take(&self) -> Result<Lease<'_, Connection>> {
        let deadline = self.info.connect_timeout.map(|t| Instant::now() + t);
        loop {
            match self.claim::<Connection>() {
                Some(Some(c)) => return Ok(self.lease(c)),
                Some(None) => {
                    self.connecting();
                    let opened = match &self.factory {
                        Some(open) => open().map(|mut c| {
                            c.accept_changes();
                            c
                        }),
                        None => Connection::open(&self.info),
                    };
                    return self.opened(opened);
                }
                None => {
                    let mut slots = self.slots();
                    let wait = match deadline {
                        Some(d) => d.saturating_duration_since(Instant::now()),
                        None => Duration::from_secs(3600),
                    };
                    if wait.is_zero() {
                        return Err(exhausted());
                    }
                    // One given back since `claim` looked: claim it.
                    if !slots.idle.is_empty() || slots.open < self.info.max_connections.max(1) {
                        continue;
                    }
                    // Woken when a connection is given back, or to look again at the deadline.
                    // Counted under the lock, so a connection given back after it is seen.
                    slots.waiting += 1;
                    let (mut slots, _) = self
                        .freed
                        .wait_timeout(slots, wait)
                        .unwrap_or_else(PoisonError::into_inner);
                    slots.waiting -= 1;
                }
            }
        }
    }

    /// A tokio connection, as [`take`](Self::take).
    #[cfg(feature = "tokio")]
    pub(crate) async fn take_async(&self) -> Result<Lease<'_, crate::tokio::AsyncConnection>> {
        if self.factory.is_some() {
            return Err(Error::Config(
                "this name was registered with a blocking connection factory".into(),
            ));
        }
        let deadline = self
            .info
            .connect_timeout
            .map(|t| tokio::time::Instant::now() + t);
        loop {
            // Registered before looking, so that a connection given back in between wakes us.
            let freed = self.freed_async.notified();
            match self.claim::<crate::tokio::AsyncConnection>() {
                Some(Some(c)) => return Ok(self.lease(c)),
                Some(None) => {
                    self.connecting();
                    let opened = crate::tokio::AsyncConnection::open(&self.info).await;
                    return self.opened(opened);
                }
                None => match deadline {
                    Some(d) => {
                        if tokio::time::timeout_at(d, freed).await.is_err() {
                            return Err(exhausted());
                        }
                    }
                    None => freed.await,
                },
            }
        }
    }

    fn lease<C: Pooled>(&self, c: C) -> Lease<'_, C> {
        Lease {
            pool: self,
            conn: Some(c),
        }
    }

    pub(crate) fn count(&self, commands: usize) {
        self.counters.pipelines.fetch_add(1, Ordering::Relaxed);
        self.counters
            .commands
            .fetch_add(commands as u64, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            pipelines: self.counters.pipelines.load(Ordering::Relaxed),
            commands: self.counters.commands.load(Ordering::Relaxed),
            connects: self.counters.connects.load(Ordering::Relaxed),
            open: self.slots().open + self.shared_open(),
        }
    }
}

impl redpipe_core::Transport for Lease<'_, Connection> {
    fn run(&mut self, p: &mut redpipe_core::VecPipeline) -> Result<()> {
        (**self).execute(p)
    }

    fn is_usable(&self) -> bool {
        self.is_clean()
    }
}

#[cfg(feature = "tokio")]
impl redpipe_core::AsyncTransport for Lease<'_, crate::tokio::AsyncConnection> {
    async fn run_async(&mut self, p: &mut redpipe_core::VecPipeline) -> Result<()> {
        (**self).execute(p).await
    }

    fn is_usable(&self) -> bool {
        self.is_clean()
    }
}
