//! Client-side caching for a name ([`ConnectionInfo::cache`]): the core's [`Cache`] behind a
//! mutex, shared by every pipeline of the name, and the tracking connections that keep it
//! coherent: one to a single server, or one to each node of a cluster.
//!
//! A tracking connection is one more connection to a server, of its own (`HELLO 3`, `CLIENT
//! SETNAME redpipe-tracking`, `CLIENT TRACKING ON BCAST [PREFIX p ...]`), read by a thread of
//! its own (in blocking and tokio programs alike: it only listens, and a thread keeps it
//! independent of any runtime). The thread hands each invalidation push, read by the core's
//! subscription reader ([`Subscriptions`]), to the cache. When the connection is lost the
//! cache is flushed and answers nothing until a new connection has tracking on again (see
//! [`Cache::set_tracking`]); the thread reconnects with back-off. It pings the server after 5
//! quiet seconds and gives the connection up when 10 more pass without a byte. It ends within
//! a second of its name being dropped (or, for a cluster node, of the node leaving the slot
//! map).
//!
//! # Clusters
//! Each node of a cluster reports only the writes to its own keys, so every node of the slot
//! map gets a tracking connection, with the same prefixes: the primaries, which take the
//! writes, and the replicas too, which report the writes replicated from their primary (Redis
//! 7 does), so that a promoted replica is already tracked. The cache answers only while every
//! primary of the cluster's latest map has its tracking connection up
//! ([`Cache::set_needed_nodes`]): a primary's connection lost, or a map naming a primary not
//! tracked yet (each pipeline looks, before the cache answers it), flushes the cache, which
//! answers nothing until they are all up again. A killed primary's connection is lost at once,
//! so a failover always flushes; a coordinated one finds the promoted replica tracked already.
//! With `read_from_replicas`, a value read from a replica that had not applied a write yet is
//! removed only when the replica applies it and reports it, so every node's tracking
//! connection is needed then, the replicas' too.
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

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use redpipe_core::cache::{
    Cache, CacheConfig, CacheStats, Invalidation, Plan, TRACKING_CLIENT_NAME,
};
use redpipe_core::cluster::{Node, SlotMap};
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
/// How long a tracking connection's setup may take when the name sets no timeout.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_START: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What a tracking thread tracks: the name's single server (`None`), or a cluster node.
type Target = Option<Node>;

/// The cache of one name and its tracking threads.
pub(crate) struct Tracked {
    cache: Mutex<Cache>,
    /// The tracking connections' settings: the name's, with RESP3 and the tracking client name
    /// (for a cluster, each node's address put in).
    info: ConnectionInfo,
    /// `CLIENT TRACKING ON BCAST ...`, encoded.
    command: Vec<u8>,
    /// Whether the pipelines of the name are wrapped in transactions (then never cached).
    transaction: bool,
    threads: Mutex<Threads>,
    /// Signalled after each connection attempt of a tracking thread.
    attempted: Condvar,
    /// The same, for tasks.
    #[cfg(feature = "tokio")]
    attempted_async: tokio::sync::Notify,
}

#[derive(Default)]
struct Threads {
    /// The tracking threads running, by what each tracks.
    running: HashMap<Target, Progress>,
    /// A cluster's slot map followed last: its nodes are the ones tracked.
    map: Option<Arc<SlotMap>>,
    /// The nodes of `map` whose tracking connections the cache needs (see `Tracked::follow`).
    needed: Arc<[Target]>,
}

/// How far a tracking thread got.
struct Progress {
    /// Connection attempts made (successful or not).
    attempts: u64,
    /// Until when pipelines wait for its first attempt: a node that accepts connections but
    /// does not answer (stopped) holds up only the pipelines of its first seconds.
    wait_until: Instant,
}

impl Threads {
    /// Whether a thread tracking `target` should keep going.
    fn wants(&self, target: &Target) -> bool {
        match target {
            None => true,
            Some(node) => self.map.as_ref().is_some_and(|m| m.find(node).is_some()),
        }
    }

    /// Until when to wait for the first attempts of `targets`: the latest `wait_until` of
    /// those that made none yet; `None` when there is nothing to wait for.
    fn waiting(&self, targets: &[Target]) -> Option<Instant> {
        let now = Instant::now();
        targets
            .iter()
            .filter_map(|t| self.running.get(t))
            .filter(|p| p.attempts == 0 && now < p.wait_until)
            .map(|p| p.wait_until)
            .max()
    }
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
        tracking.transaction = false;
        // A server that accepts the connection but does not answer (a stopped node) must not
        // hold a tracking thread forever: it tries again, and ends when its name is dropped.
        for t in [
            &mut tracking.connect_timeout,
            &mut tracking.read_timeout,
            &mut tracking.write_timeout,
        ] {
            t.get_or_insert(SETUP_TIMEOUT);
        }
        Self {
            command: config.tracking_command(),
            cache: Mutex::new(Cache::new(config)),
            info: tracking,
            transaction: info.transaction,
            threads: Mutex::default(),
            attempted: Condvar::new(),
            #[cfg(feature = "tokio")]
            attempted_async: tokio::sync::Notify::new(),
        }
    }

    /// Answers from the cache what it can of `p` before it runs on the name's server (see
    /// [`Cache::plan`]); `None` when the name's pipelines are transactions. Starts the tracking
    /// thread on first use and waits (up to the connect timeout) for its first attempt, so that
    /// the first pipeline already fills the cache.
    pub(crate) fn plan(self: &Arc<Self>, p: &mut VecPipeline) -> Option<Plan> {
        if self.transaction {
            return None;
        }
        let wait = self.start_server();
        self.wait(&wait);
        Some(lock(&self.cache).plan(p))
    }

    /// [`plan`](Self::plan) for tasks: waits for the first attempt without holding a thread.
    #[cfg(feature = "tokio")]
    pub(crate) async fn plan_async(self: &Arc<Self>, p: &mut VecPipeline) -> Option<Plan> {
        if self.transaction {
            return None;
        }
        let wait = self.start_server();
        self.wait_async(&wait).await;
        Some(lock(&self.cache).plan(p))
    }

    /// [`plan`](Self::plan) for a pipeline about to run on a cluster whose latest slot map
    /// `latest` returns: tracks the nodes of that map (see [`follow`]) before the cache
    /// answers. With `replica_reads` (the cluster reads from replicas), the replicas'
    /// tracking connections are needed too.
    ///
    /// [`follow`]: Self::follow
    pub(crate) fn plan_cluster(
        self: &Arc<Self>,
        latest: impl Fn() -> Arc<SlotMap>,
        replica_reads: bool,
        p: &mut VecPipeline,
    ) -> Option<Plan> {
        if self.transaction {
            return None;
        }
        let wait = self.follow(latest, replica_reads);
        self.wait(&wait);
        Some(lock(&self.cache).plan(p))
    }

    /// [`plan_cluster`](Self::plan_cluster) for tasks.
    #[cfg(feature = "tokio")]
    pub(crate) async fn plan_cluster_async(
        self: &Arc<Self>,
        latest: impl Fn() -> Arc<SlotMap>,
        replica_reads: bool,
        p: &mut VecPipeline,
    ) -> Option<Plan> {
        if self.transaction {
            return None;
        }
        let wait = self.follow(latest, replica_reads);
        self.wait_async(&wait).await;
        Some(lock(&self.cache).plan(p))
    }

    /// Ends a run made by [`plan`](Self::plan) (see [`Cache::finish`]).
    pub(crate) fn finish(&self, plan: Plan, p: &mut VecPipeline) {
        lock(&self.cache).finish(plan, p);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        lock(&self.cache).stats()
    }

    /// Starts the single server's tracking thread if it is not running; returns what to wait
    /// for.
    fn start_server(self: &Arc<Self>) -> [Target; 1] {
        self.spawn(&mut lock(&self.threads), None);
        [None]
    }

    /// Follows the cluster's latest slot map (`latest`, read under the lock, so that concurrent
    /// pipelines cannot leave an older one followed): every node of it gets a tracking thread,
    /// and the cache needs the primaries' connections up, which take the writes, or with
    /// `replica_reads` every node's: a reply read from a replica that had not applied a write
    /// yet is removed only when that replica reports it. Returns the needed nodes, whose first
    /// attempts are waited for.
    fn follow(
        self: &Arc<Self>,
        latest: impl Fn() -> Arc<SlotMap>,
        replica_reads: bool,
    ) -> Arc<[Target]> {
        let mut threads = lock(&self.threads);
        let map = latest();
        if !threads.map.as_ref().is_some_and(|m| Arc::ptr_eq(m, &map)) {
            // Worked out once per map, not per pipeline.
            let needed: Vec<Node> = if replica_reads {
                map.nodes().to_vec()
            } else {
                map.primaries()
                    .into_iter()
                    .map(|i| map.node(i).clone())
                    .collect()
            };
            lock(&self.cache).set_needed_nodes(needed.iter().cloned());
            threads.needed = needed.into_iter().map(Some).collect();
            for node in map.nodes() {
                self.spawn(&mut threads, Some(node.clone()));
            }
            threads.map = Some(map);
        }
        Arc::clone(&threads.needed)
    }

    /// Starts a thread tracking `target` if none is running.
    fn spawn(self: &Arc<Self>, threads: &mut Threads, target: Target) {
        if threads.running.contains_key(&target) {
            return;
        }
        let weak = Arc::downgrade(self);
        let mine = target.clone();
        let spawned = std::thread::Builder::new()
            .name("redpipe-tracking".into())
            .spawn(move || track(&weak, &mine));
        // No thread: the cache stays off (not tracking), runs go to the server.
        if spawned.is_ok() {
            let wait_until = Instant::now() + self.patience();
            threads.running.insert(
                target,
                Progress {
                    attempts: 0,
                    wait_until,
                },
            );
        }
    }

    /// Waits until each of `targets` has made its first attempt (at most the connect timeout
    /// after its thread started).
    fn wait(&self, targets: &[Target]) {
        let mut threads = lock(&self.threads);
        while let Some(until) = threads.waiting(targets) {
            let left = until.saturating_duration_since(Instant::now());
            threads = self
                .attempted
                .wait_timeout(threads, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// [`wait`](Self::wait) without holding a thread.
    #[cfg(feature = "tokio")]
    async fn wait_async(&self, targets: &[Target]) {
        loop {
            let attempted = self.attempted_async.notified();
            let mut attempted = std::pin::pin!(attempted);
            // Registered before looking: a wake-up between the look and the wait is kept.
            attempted.as_mut().enable();
            let Some(until) = lock(&self.threads).waiting(targets) else {
                return;
            };
            let left = until.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left, attempted).await;
        }
    }

    fn patience(&self) -> Duration {
        self.info.connect_timeout.unwrap_or(SETUP_TIMEOUT)
    }

    fn attempted(&self, target: &Target) {
        if let Some(p) = lock(&self.threads).running.get_mut(target) {
            p.attempts += 1;
        }
        self.attempted.notify_all();
        #[cfg(feature = "tokio")]
        self.attempted_async.notify_waiters();
    }

    /// Whether the thread tracking `target` should keep going; if not, it is forgotten (in the
    /// same look, so that a node back in the map meanwhile gets a thread again).
    fn keep(&self, target: &Target) -> bool {
        let mut threads = lock(&self.threads);
        let wanted = threads.wants(target);
        if !wanted {
            threads.running.remove(target);
        }
        wanted
    }

    /// Whether the thread tracking `target` should keep listening.
    fn wants(&self, target: &Target) -> bool {
        lock(&self.threads).wants(target)
    }

    /// Tells the cache that `target`'s tracking connection is up or lost.
    fn set_tracking(&self, target: &Target, up: bool) {
        let mut cache = lock(&self.cache);
        match target {
            None => cache.set_tracking(up),
            Some(node) => cache.set_node_tracking(node, up),
        }
    }

    /// The settings of `target`'s tracking connection.
    fn info_for(&self, target: &Target) -> ConnectionInfo {
        match target {
            None => self.info.clone(),
            Some(node) => self.info.at_node(node),
        }
    }
}

/// A tracking thread: connect, turn tracking on, listen; on loss flush and go again, until
/// the name is dropped (or the node leaves the cluster's map).
fn track(weak: &Weak<Tracked>, target: &Target) {
    let mut backoff = BACKOFF_START;
    loop {
        let Some(me) = weak.upgrade() else {
            return;
        };
        if !me.keep(target) {
            return;
        }
        let info = me.info_for(target);
        // No lock held while connecting: pipelines keep planning (uncached) meanwhile.
        match open(&info, &me.command) {
            Ok((io, leftover)) => {
                me.set_tracking(target, true);
                me.attempted(target);
                backoff = BACKOFF_START;
                drop(me);
                listen(weak, target, io, leftover, info.limits);
                let Some(me) = weak.upgrade() else {
                    return;
                };
                me.set_tracking(target, false);
            }
            Err(_) => {
                me.attempted(target);
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

/// Reads `target`'s tracking connection until it fails, the name is dropped or the node left
/// the map, applying each invalidation to the cache.
fn listen(
    weak: &Weak<Tracked>,
    target: &Target,
    mut io: Io,
    mut buf: Vec<u8>,
    limits: redpipe_core::Limits,
) {
    io.set_read_timeout(Some(HEARTBEAT));
    let mut subs = VecSubscriptions::default();
    subs.set_limits(limits);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut quiet = 0u32;
    let mut looked = Instant::now();
    loop {
        // Looked at each heartbeat, busy or quiet: a node that left the map may still be
        // written to (its slots moving away).
        if looked.elapsed() >= HEARTBEAT {
            if weak.upgrade().is_none_or(|me| !me.wants(target)) {
                return;
            }
            looked = Instant::now();
        }
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
