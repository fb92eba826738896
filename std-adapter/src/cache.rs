//! Client-side caching for a server name ([`ConnectionInfo::cache`]): the core's
//! [`Cache`] behind a mutex, shared by every pipeline of the name, and the tracking connection
//! that keeps it coherent.
//!
//! The tracking connection is one more connection to the name's server, of its own
//! (`HELLO 3`, `CLIENT SETNAME redpipe-tracking`, `CLIENT TRACKING ON BCAST [PREFIX p ...]`),
//! read by one thread per cached name (in blocking and tokio programs alike: it only listens,
//! and a thread keeps it independent of any runtime). The thread hands each invalidation push,
//! read by the core's subscription reader ([`Subscriptions`]), to the cache. When the
//! connection is lost the cache is flushed and answers nothing until a new connection has
//! tracking on again (see [`Cache::set_tracking`]); the thread reconnects with back-off. It
//! pings the server after 5 quiet seconds and gives the connection up when 10 more pass
//! without a byte. It ends within a second of its name being dropped.
//!
//! A server that refuses `CLIENT TRACKING` (before Redis 6, a proxy, an ACL without
//! `client`) leaves the cache off: every read goes to the server, and the thread tries again
//! every second.
//!
//! Data connections are not touched: broadcast tracking reports every change of a key under the
//! prefixes whichever connection read it, so a data connection that reconnects leaves the
//! cache valid (nothing is flushed then).
//!
//! [`ConnectionInfo::cache`]: crate::ConnectionInfo::cache

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use redpipe_core::cache::{
    Cache, CacheConfig, CacheStats, Invalidation, Plan, TRACKING_CLIENT_NAME,
};
use redpipe_core::pubsub::{Event, VecSubscriptions};
use redpipe_core::{Error, Reply, Result, VecPipeline};

use crate::config::ConnectionInfo;
use crate::connection::Connection;
use crate::stream::Io;

/// How often a listening tracking thread wakes up to see whether its name is still in use.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// Quiet heartbeats before a `PING`.
const PING_AFTER: u32 = 5;
/// Quiet heartbeats after the `PING` before the connection is given up.
const DEAD_AFTER: u32 = 10;
const BACKOFF_START: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The cache of one name and its tracking thread.
pub(crate) struct Tracked {
    cache: Mutex<Cache>,
    /// The tracking connection's settings: the name's, with RESP3 and the tracking client name.
    info: ConnectionInfo,
    /// `CLIENT TRACKING ON BCAST ...`, encoded.
    command: Vec<u8>,
    /// Whether the pipelines of the name are wrapped in transactions (then never cached).
    transaction: bool,
    thread: Mutex<Thread>,
    /// Signalled after each connection attempt of the tracking thread.
    attempted: Condvar,
    /// The same, for tasks.
    #[cfg(feature = "tokio")]
    attempted_async: tokio::sync::Notify,
}

#[derive(Default)]
struct Thread {
    started: bool,
    /// Connection attempts made (successful or not).
    attempts: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Tracked {
    pub(crate) fn new(info: &ConnectionInfo, config: CacheConfig) -> Self {
        let mut tracking = info.clone();
        tracking.resp3 = true;
        tracking.client_name = Some(TRACKING_CLIENT_NAME.into());
        tracking.cache = None;
        Self {
            command: config.tracking_command(),
            cache: Mutex::new(Cache::new(config)),
            info: tracking,
            transaction: info.transaction,
            thread: Mutex::default(),
            attempted: Condvar::new(),
            #[cfg(feature = "tokio")]
            attempted_async: tokio::sync::Notify::new(),
        }
    }

    /// Answers from the cache what it can of `p` before it runs (see [`Cache::plan`]);
    /// `None` when the name's pipelines are transactions. Starts the tracking thread on first
    /// use and waits (up to the connect timeout) for its first attempt, so that the first
    /// pipeline already fills the cache.
    pub(crate) fn plan(self: &Arc<Self>, p: &mut VecPipeline) -> Option<Plan> {
        if self.transaction {
            return None;
        }
        self.start(true);
        Some(lock(&self.cache).plan(p))
    }

    /// [`plan`](Self::plan) for tasks: waits for the first attempt without holding a thread.
    #[cfg(feature = "tokio")]
    pub(crate) async fn plan_async(self: &Arc<Self>, p: &mut VecPipeline) -> Option<Plan> {
        if self.transaction {
            return None;
        }
        let attempted = self.attempted_async.notified();
        let mut attempted = std::pin::pin!(attempted);
        // Registered before looking: a wake-up between the look and the wait is kept.
        attempted.as_mut().enable();
        self.start(false);
        if lock(&self.thread).attempts == 0 {
            let limit = self.info.connect_timeout.unwrap_or(Duration::from_secs(10));
            let _ = tokio::time::timeout(limit, attempted).await;
        }
        Some(lock(&self.cache).plan(p))
    }

    /// Ends a run made by [`plan`](Self::plan) (see [`Cache::finish`]).
    pub(crate) fn finish(&self, plan: Plan, p: &mut VecPipeline) {
        lock(&self.cache).finish(plan, p);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        lock(&self.cache).stats()
    }

    fn start(self: &Arc<Self>, wait: bool) {
        let mut thread = lock(&self.thread);
        if !thread.started {
            let weak = Arc::downgrade(self);
            let spawned = std::thread::Builder::new()
                .name("redpipe-tracking".into())
                .spawn(move || track(&weak));
            if spawned.is_err() {
                return; // no thread: the cache stays off (not tracking), runs go to the server
            }
            thread.started = true;
        }
        if !wait || thread.attempts > 0 {
            return;
        }
        let limit = self.info.connect_timeout.unwrap_or(Duration::from_secs(10));
        let until = Instant::now() + limit;
        while thread.attempts == 0 {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            thread = self
                .attempted
                .wait_timeout(thread, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn attempted(&self) {
        lock(&self.thread).attempts += 1;
        self.attempted.notify_all();
        #[cfg(feature = "tokio")]
        self.attempted_async.notify_waiters();
    }
}

/// The tracking thread: connect, turn tracking on, listen; on loss flush and go again, until
/// the name is dropped.
fn track(weak: &Weak<Tracked>) {
    let mut backoff = BACKOFF_START;
    loop {
        let Some(me) = weak.upgrade() else {
            return;
        };
        // No lock held while connecting: pipelines keep planning (uncached) meanwhile.
        let opened = open(&me.info, &me.command);
        match opened {
            Ok((io, leftover)) => {
                lock(&me.cache).set_tracking(true);
                me.attempted();
                backoff = BACKOFF_START;
                let limits = me.info.limits;
                drop(me);
                listen(weak, io, leftover, limits);
                let Some(me) = weak.upgrade() else {
                    return;
                };
                lock(&me.cache).set_tracking(false);
            }
            Err(_) => {
                me.attempted();
                drop(me);
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Opens a tracking connection: set up as any connection of the name, in RESP3, then
/// `CLIENT TRACKING ON BCAST ...`, checked; returns the stream and what was read past the reply.
fn open(info: &ConnectionInfo, command: &[u8]) -> Result<(Io, Vec<u8>)> {
    let mut conn = Connection::open(info)?;
    let mut p = VecPipeline::new();
    let on = p.query_encoded(command)?;
    conn.execute(&mut p)?;
    match on.read(&p) {
        Ok(Reply::Simple(b"OK")) => {}
        Ok(other) => {
            return Err(Error::Config(format!(
                "CLIENT TRACKING was refused: {other:?}"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    // `CLIENT TRACKING` changes the connection: what it is meant to be here.
    conn.accept_changes();
    let (io, buf) = conn.into_io()?;
    Ok((io, buf.filled().to_vec()))
}

/// Reads the tracking connection until it fails or the name is dropped, applying each
/// invalidation to the cache.
fn listen(weak: &Weak<Tracked>, mut io: Io, mut buf: Vec<u8>, limits: redpipe_core::Limits) {
    io.set_read_timeout(Some(HEARTBEAT));
    let mut subs = VecSubscriptions::default();
    subs.set_limits(limits);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut quiet = 0u32;
    loop {
        let mut used = 0;
        loop {
            match subs.handle_input(&buf[used..]) {
                Ok(Some((event, n))) => {
                    used += n;
                    match event {
                        Event::Push(items) => {
                            if let Some(i) = Invalidation::of_push(items) {
                                let Some(me) = weak.upgrade() else {
                                    return;
                                };
                                lock(&me.cache).handle_invalidation(i);
                            }
                        }
                        Event::Pong(_) => {}
                        // A refusal or anything a tracking connection is not sent: give the
                        // connection up (the cache is flushed) and set up a new one.
                        _ => return,
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        buf.drain(..used);
        match embedded_io::Read::read(&mut io, &mut chunk) {
            Ok(0) => return,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                quiet = 0;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                if weak.strong_count() == 0 {
                    return;
                }
                quiet += 1;
                if quiet == PING_AFTER {
                    if subs.ping().is_err() {
                        return;
                    }
                    let out = subs.poll_output().to_vec();
                    if embedded_io::Write::write_all(&mut io, &out).is_err() {
                        return;
                    }
                    subs.consume_output(out.len());
                } else if quiet > PING_AFTER + DEAD_AFTER {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}
