//! Redis Cluster for std: [`Cluster`] runs a pipeline over the nodes of a cluster, one batch
//! per node, the nodes working at the same time (blocking: every node's batch is sent, then
//! each is read, on the calling thread; tokio: concurrent tasks), with the core's router
//! ([`ClusterRun`]) deciding what goes where and what goes again. A cluster is registered
//! under a name like any connection ([`Connections::register`](crate::Connections::register)),
//! so `Pipe`, `autoexec`, keyspaces and structs work on it unchanged.
//!
//! ```no_run
//! use redpipe::prelude::*;
//! redpipe::connect_cluster(&["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])?;
//! let handles = redpipe::autoexec(None, |p| {
//!     Ok((0..1000).map(|i| p.incr(format!("counter:{i}"))).collect::<Vec<_>>())
//! })?; // one round trip per node, results in call order
//! # Ok::<(), redpipe::Error>(())
//! ```
//!
//! Every node is reached with the first seed's settings (password, TLS, timeouts, RESP3);
//! `db` must be 0, the only database of a cluster; over TLS (`rediss://`), nodes are reached on
//! the TLS port the cluster names. The slot map is read at the first pipeline (`CLUSTER
//! SHARDS`, or `CLUSTER SLOTS` on servers before 7) and again after a `MOVED`, a `CLUSTERDOWN`
//! or a node that could not be reached: then the node a `MOVED` named is asked first, and of
//! the nodes' differing answers the newest is kept ([`Refresh`], by the config epochs `CLUSTER
//! NODES` shows), so that a node that has not seen a failover yet does not send the commands
//! back to the old owner. Pipelines share the map: a refresh that ends after a newer view was
//! published leaves it in place ([`MapVersion`]), a pipeline skips its own refresh when the map
//! was read since its round went out, and a pipeline waiting in back-off goes again as soon as
//! the slots' owners change.
//!
//! A cluster name may cache reads ([`ConnectionInfo::cache`], `?cache=N` on the seeds): one
//! cache for the name, kept by a tracking connection to each node (see the crate's `cache`
//! module); a pipeline is planned against it before routing, and only its misses go to the
//! nodes.

pub use redpipe_core::cluster::*;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redpipe_core::{Error, Reply, Result, VecPipeline, cmd};

use super::Pool;
use crate::cache::Tracked;
use crate::config::{Addr, ConnectionInfo};
use crate::stream::Millis;
use redpipe_core::session::Clock;

/// The body of [`Cluster::run`] and `run_async`, once for both: `[$refresh, $wait,
/// $batches]` name the blocking or the async steps, `$($await)*` is empty or `.await` (as the
/// core's `drive_loop!`). Each round runs the router's batches on their nodes, then reads the
/// map again if the round asked for it (unless a map read since it went out says all a
/// refresh would), else publishes what an `ASK` taught it, then waits its back-off, cut short
/// when the slots' owners change meanwhile, and routes the next round on the newest map.
macro_rules! run {
    ($self:ident, $p:ident, [$refresh:ident, $wait:ident, $batches:ident], $($await:tt)*) => {{
        if $self.map().nodes().is_empty()
            && let Err(e) = $self.$refresh(Refresh::new()) $($await)*
        {
            $p.fail(e.failure());
            return Err(e);
        }
        watch!($self, $refresh, $($await)*);
        // A transactional name: the whole pipeline is one MULTI/EXEC block, which the router
        // sends to its slot's node, or refuses with CROSSSLOT when its keys span slots.
        if $self.template.transaction
            && let Err(e) = $p.wrap_in_transaction()
        {
            $p.fail(redpipe_core::Failure::Capacity(e));
        }
        // The published map, shared: copied only if a MOVED changes it.
        let mut map = $self.map();
        let mut run = $self.take_run();
        run.read_from_replicas($self.replica_reads);
        run.set_retry_budget($self.retry_budget_ms);
        let mut first_error = None;
        // Decided on the whole pipeline once the first round has read every command.
        let mut shares = None;
        while run.next_round($p, &map) {
            let shareable = *shares.get_or_insert_with(|| $self.shares(&run, $p));
            // What a refresh that starts from now on, or a change of owners, is newer than.
            let ticket = $self.published.next_ticket();
            let changes = $self.published.changes();
            let pools: Vec<Arc<Pool>> = run
                .batches_mut()
                .iter()
                .map(|b| $self.pool(map.node(b.node())))
                .collect();
            let (errors, took) = $batches(&pools, run.batches_mut(), shareable) $($await)*;
            if first_error.is_none() {
                first_error = errors.into_iter().next();
            }
            // A batch out long enough for a failover to have happened meanwhile: its node, if
            // it was stopped, may have answered only now, running writes it has lost (see
            // `ClusterRun::check_deposed`). The map is read again from the other nodes first,
            // unless the map in use already shows every such node deposed (as after the stall
            // watch ended their connections): a newer one could tell no more.
            let slow = took.iter().zip(run.batches_mut().iter()).any(|(t, b)| {
                *t >= SLOW_ROUND && owns_slots(&$self.map(), map.node(b.node()))
            });
            if slow {
                let mut check = Refresh::new();
                for b in run.batches_mut().iter() {
                    check.avoid(map.node(b.node()).clone());
                }
                let _ = $self.$refresh(check) $($await)*;
            }
            // The map as published now: another pipeline (or the check above) may have read
            // a newer one while this round was out.
            let latest = $self.map();
            if !Arc::ptr_eq(&latest, &map) {
                run.check_deposed(&map, &latest);
            }
            let published = map.clone();
            run.absorb_shared($p, &mut map);
            if run.wants_refresh() {
                let latest = $self.map();
                if $self.published.version().read_since(ticket) && run.settled_by(&map, &latest) {
                    // Read since the round went out (by another pipeline, or the check above),
                    // and agreeing with its MOVED replies: a refresh would say no more.
                    map = latest;
                } else if $self.$refresh(run.refresh(&map)) $($await)*.is_ok() {
                    // Told what the round saw: the nodes a MOVED named are asked first, the
                    // newest answer is kept (a node that has not seen a failover yet would
                    // send the commands back to the old owner).
                    map = $self.map();
                }
            } else if !Arc::ptr_eq(&map, &published) {
                $self.published.patch(&published, map.clone());
            } else {
                map = latest;
            }
            // The back-off, before the next round is routed, so that it goes by the newest
            // map; over as soon as the owners have changed since this round went out (a
            // failover's new owner named): the commands go there at once.
            if run.delay_ms() > 0 {
                let waiting = Instant::now();
                let delay = Duration::from_millis(u64::from(run.delay_ms()));
                $self.published.$wait(delay, changes) $($await)*;
                run.shorten_delay(u32::try_from(waiting.elapsed().as_millis()).unwrap_or(u32::MAX));
                map = $self.map();
            }
        }
        $self.record(&run);
        // A node error whose commands all went again (never received) is not the pipeline's.
        let failed = run.failure().is_some();
        $self.put_run(run);
        match first_error {
            Some(e) if failed => Err(e),
            _ => Ok(()),
        }
    }};
}

/// Looks for nodes that have stalled (batches in flight, none finished for [`STALLED`]), at
/// most every [`WATCH_EVERY`] for the whole cluster ([`WATCH_TROUBLED`] while a node is
/// stalled): if there are, the map is read again from the other nodes, and a stalled node that owns no slot any more (a failover took them) has
/// its shared connections ended, so that the pipelines waiting on it fail now, as
/// [`Failure::Deposed`](redpipe_core::Failure::Deposed) (what they sent may have run on it, and
/// is dropped when it rejoins as a replica; what they had not sent goes again, to the new
/// owner), instead of waiting for the node to come back or for the read timeout. Pipelines
/// that start meanwhile are routed on the new map. `$refresh` is `refresh_with` or its
/// `_async` form, `$($await)*` empty or `.await`.
macro_rules! watch {
    ($self:ident, $refresh:ident, $($await:tt)*) => {{
        let stalled = $self.stalled_nodes();
        if !stalled.is_empty() {
            let mut check = Refresh::new();
            for node in &stalled {
                check.avoid(node.clone());
            }
            if $self.$refresh(check) $($await)*.is_ok() {
                $self.abort_deposed(&stalled);
            }
        }
    }};
}

/// The body of `refresh_with` and `refresh_with_async`: `$refresh` is the core's
/// [`Refresh`], `$ask` is `ask_topology` or its `_async` form, `$($await)*` empty or `.await`.
/// The nodes are asked as the refresh polls them, until it has what it needs; its pick is
/// published, or the last node error is returned when no node answered with a map.
macro_rules! refresh {
    ($self:ident, $refresh:ident, $ask:ident, $($await:tt)*) => {{
        let mut $refresh = $refresh;
        let mut last = None;
        let ticket = $self.published.take_ticket();
        // A node that is not answering (stopped, cut off) is asked last, if at all: each ask
        // may wait the whole topology timeout, and every pipeline may be waiting for the map.
        for node in $self.stalled_for(HOLD_WRITES) {
            $refresh.avoid(node);
        }
        $refresh.start(&$self.map(), &$self.seeds);
        while let Some(node) = $refresh.poll_node() {
            match $self.$ask(&node) $($await)* {
                Ok((map, freshness)) => $refresh.handle_answer(map, freshness),
                Err(e) => last = Some(e),
            }
        }
        let freshness = $refresh.freshness();
        match $refresh.finish() {
            Some(map) => {
                let read_ms = Millis.now();
                $self.published.publish(map, MapVersion { ticket, freshness, read_ms });
                Ok(())
            }
            None => Err(last.unwrap_or(Error::Closed)),
        }
    }};
}

/// The body of `ask_topology` and its `_async` form: `$take` is `Pool::take` or `take_async`,
/// `$($await)*` empty or `.await`. `CLUSTER SHARDS` (the map) and `CLUSTER NODES` (the config
/// epochs: how new the node's view is) in one round trip; `CLUSTER SLOTS` after it on servers
/// before Redis 7. A node that does not tell its epochs (`CLUSTER NODES` refused) still gives
/// its map.
macro_rules! ask_topology {
    ($self:ident, $node:ident, $take:ident, $($await:tt)*) => {{
        let pool = $self.topology_pool($node);
        let mut conn = pool.$take() $($await)*?;
        let tls = matches!($self.template.addr, Addr::Tls { .. });
        let parse = |r: &Reply<'_>| {
            match tls {
                true => SlotMap::from_tls_reply(r),
                false => SlotMap::from_reply(r),
            }
            .map_err(topology_error)
        };
        let mut p = VecPipeline::new();
        let shards = p.query::<Reply<'static>>(cmd("CLUSTER").arg("SHARDS"))?;
        let nodes = p.query::<Reply<'static>>(cmd("CLUSTER").arg("NODES"))?;
        conn.execute(&mut p) $($await)*?;
        let freshness = nodes
            .read(&p)
            .ok()
            .and_then(|r| Freshness::from_reply(&r).ok());
        match shards.read(&p) {
            Ok(r) => return Ok((parse(&r)?, freshness)),
            // `CLUSTER SHARDS` is new in Redis 7: older servers say unknown subcommand.
            Err(redpipe_core::SlotError::Server(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let mut p = VecPipeline::new();
        let slots = p.query::<Reply<'static>>(cmd("CLUSTER").arg("SLOTS"))?;
        conn.execute(&mut p) $($await)*?;
        let r = slots.read(&p)?;
        Ok((parse(&r)?, freshness))
    }};
}

/// How long a node may take to answer the topology queries of a refresh (and to accept their
/// connection) before the next node is asked, whatever the name's own timeouts: a node that is
/// stopped or cut off must not hold up a refresh, which every pipeline may be waiting for.
const TOPOLOGY_TIMEOUT: Duration = Duration::from_secs(1);

/// A round that took this long may have seen a failover while it was out: the slot map is read
/// again before its replies are taken (see `ClusterRun::check_deposed`). A failover takes at
/// least the node timeout, which is rarely under a second.
const SLOW_ROUND: Duration = Duration::from_millis(500);

/// How long (ms) a node may have batches in flight without finishing one before a pipeline
/// that starts looks whether it was failed over (see `watch!`).
const STALLED: u64 = 500;

/// How often (ms) at most the nodes are looked at for stalls, for the whole cluster.
const WATCH_EVERY: u64 = 250;

/// How often (ms) at most while the last look found a node stalled: the map is then read
/// from the other nodes this often, so that a failover is seen soon after it is done.
const WATCH_TROUBLED: u64 = 100;

/// How long (ms) a node's shared connection may await replies with none completing before
/// new commands wait instead of going out (see `Pool::holding_writes`): held back, they go to
/// the new owner if a failover takes the node's slots, where written they would fail with an
/// unknown outcome.
const HOLD_WRITES: u64 = 250;

/// A Redis Cluster: its seeds, the slot map, and a pool of connections per node.
pub struct Cluster {
    template: ConnectionInfo,
    seeds: Vec<Node>,
    /// The slot map the pipelines share.
    published: Published,
    pools: RwLock<HashMap<Node, Arc<Pool>>>,
    /// Connections for topology queries, per node, with timeouts of at most
    /// [`TOPOLOGY_TIMEOUT`].
    topology_pools: RwLock<HashMap<Node, Arc<Pool>>>,
    /// When (on the `Millis` clock) the nodes were last looked at for stalls.
    watched_ms: AtomicU64,
    /// Whether that look found a node stalled.
    troubled: AtomicBool,
    replica_reads: bool,
    retry_budget_ms: u32,
    /// What the runs saw of the cluster changing, summed.
    counts: Mutex<RouteCounts>,
    /// Routers of earlier pipelines, reset, so that a run allocates nothing once warm.
    runs: Mutex<Vec<ClusterRun>>,
    /// The name's client-side cache, when it has one ([`ConnectionInfo::cache`]): one for the
    /// whole cluster, kept by a tracking connection per node.
    pub(crate) cache: Option<Arc<Tracked>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("seeds", &self.seeds)
            .field("map", &self.map())
            .finish_non_exhaustive()
    }
}

/// The node a connection's address names.
fn node_of(info: &ConnectionInfo) -> Result<Node> {
    match &info.addr {
        Addr::Tcp { host, port } | Addr::Tls { host, port } => Ok(Node {
            host: host.clone(),
            port: *port,
        }),
        #[allow(unreachable_patterns)]
        _ => Err(Error::Config("a cluster node is reached over TCP".into())),
    }
}

impl Cluster {
    /// A cluster reached through `seeds` (at least one); nothing connects until a pipeline runs
    /// (or [`refresh`](Self::refresh)).
    pub fn new(seeds: Vec<ConnectionInfo>) -> Result<Self> {
        let template = seeds
            .first()
            .cloned()
            .ok_or_else(|| Error::Config("a cluster needs at least one seed".into()))?;
        if template.db != 0 {
            return Err(Error::Config("a cluster has only database 0".into()));
        }
        let seeds = seeds.iter().map(node_of).collect::<Result<Vec<_>>>()?;
        Ok(Self {
            seeds,
            published: Published::default(),
            pools: RwLock::default(),
            topology_pools: RwLock::default(),
            watched_ms: AtomicU64::new(0),
            troubled: AtomicBool::new(false),
            replica_reads: false,
            retry_budget_ms: DEFAULT_RETRY_BUDGET_MS,
            counts: Mutex::default(),
            runs: Mutex::default(),
            cache: template
                .cache
                .clone()
                .map(|config| Arc::new(Tracked::new(&template, config))),
            template,
        })
    }

    /// Sends commands that only read to replicas (after `READONLY`), spread over them; see
    /// [`ClusterRun::read_from_replicas`]. Replicas lag their primary a little: for reads that
    /// tolerate it.
    pub fn read_from_replicas(mut self, on: bool) -> Self {
        self.replica_reads = on;
        self
    }

    /// Whether reads go to replicas ([`read_from_replicas`](Self::read_from_replicas)).
    pub(crate) fn reads_replicas(&self) -> bool {
        self.replica_reads
    }

    /// How long a pipeline may wait, in back-off, for the cluster to settle (a failover, a
    /// resharding) before a command the nodes keep refusing reads its last error: 20 s by
    /// default ([`DEFAULT_RETRY_BUDGET_MS`]), which rides through a failover under Redis's
    /// default `cluster-node-timeout`; see [`ClusterRun::set_retry_budget`].
    pub fn retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget_ms = u32::try_from(budget.as_millis()).unwrap_or(u32::MAX);
        self
    }

    /// What the pipelines run so far saw of the cluster changing under them: `MOVED` and `ASK`
    /// redirections, commands sent again, topology refreshes asked for, back-off waited.
    pub fn counts(&self) -> RouteCounts {
        *self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds what `run` saw to the totals, and tells it (feature `tracing`, at debug level).
    fn record(&self, run: &ClusterRun) {
        let seen = run.counts();
        if seen == RouteCounts::default() {
            return;
        }
        crate::observe::event!(
            "cluster topology changed under a pipeline",
            "cluster",
            moved = seen.moved,
            asked = seen.asked,
            retries = seen.retries,
            refreshes = seen.refreshes,
            waited_ms = seen.waited_ms
        );
        *self.counts.lock().unwrap_or_else(PoisonError::into_inner) += seen;
    }

    /// A cluster from seed URLs (`redis://host:port`, `rediss://...`).
    pub fn from_urls(urls: &[&str]) -> Result<Self> {
        Self::new(urls.iter().map(|u| u.parse()).collect::<Result<Vec<_>>>()?)
    }

    /// The slot map in use.
    pub fn map(&self) -> Arc<SlotMap> {
        self.published.map()
    }

    /// How many times the slot map was read.
    pub fn refreshes(&self) -> u64 {
        self.published.reads()
    }

    /// Whether `other` describes the same cluster with the same settings.
    pub(crate) fn same_as(&self, other: &Cluster) -> bool {
        self.template == other.template
            && self.seeds == other.seeds
            && self.replica_reads == other.replica_reads
    }

    /// The pool of connections to `node`.
    pub(crate) fn pool(&self, node: &Node) -> Arc<Pool> {
        pool_in(&self.pools, node, || {
            Pool::new(self.node_info(node), None).holding_writes(HOLD_WRITES)
        })
    }

    /// The pool of connections to `node` for topology queries: the node's settings with
    /// timeouts of at most [`TOPOLOGY_TIMEOUT`].
    fn topology_pool(&self, node: &Node) -> Arc<Pool> {
        pool_in(&self.topology_pools, node, || {
            let mut info = self.node_info(node);
            let cap =
                |t: Option<Duration>| Some(t.map_or(TOPOLOGY_TIMEOUT, |t| t.min(TOPOLOGY_TIMEOUT)));
            info.connect_timeout = cap(info.connect_timeout);
            info.read_timeout = cap(info.read_timeout);
            info.write_timeout = cap(info.write_timeout);
            info.pipeline_timeout = cap(info.pipeline_timeout);
            Pool::new(info, None)
        })
    }

    /// The settings of a connection to `node`: the first seed's, at the node's address.
    pub(crate) fn node_info(&self, node: &Node) -> ConnectionInfo {
        let mut info = self.template.at_node(node);
        // A transactional name wraps the whole pipeline before the router splits it (see
        // `run!`); a node's share is never wrapped again.
        info.transaction = false;
        // The name's cache is the cluster's (`cache`), not a node pool's.
        info.cache = None;
        info
    }

    /// The first seed's settings, which every node is reached with.
    pub(crate) fn template(&self) -> &ConnectionInfo {
        &self.template
    }

    /// Every node worth trying for a connection to any node, best first: the primaries, the
    /// other nodes, then the seeds (the core's [`Refresh::order`]).
    pub(crate) fn any_nodes(&self) -> Vec<Node> {
        Refresh::new().order(&self.map(), &self.seeds)
    }

    /// Counters of every node, summed.
    pub(crate) fn stats(&self) -> crate::Stats {
        let pools = self.pools.read().unwrap_or_else(PoisonError::into_inner);
        let mut total = crate::Stats::default();
        for p in pools.values() {
            let s = p.stats();
            total.pipelines += s.pipelines;
            total.commands += s.commands;
            total.connects += s.connects;
            total.open += s.open;
        }
        total
    }

    /// Reads the slot map again: from the first node that answers with a complete one (the
    /// known primaries first, then the other nodes, then the seeds), or, if none does, the
    /// most complete answer. After a redirection or a failure, a pipeline asks with
    /// [`ClusterRun::refresh`]'s plan instead, which keeps the newest answer.
    pub fn refresh(&self) -> Result<()> {
        self.refresh_with(Refresh::new())
    }

    /// Reads the slot map as `refresh` plans.
    fn refresh_with(&self, refresh: Refresh) -> Result<()> {
        refresh!(self, refresh, ask_topology,)
    }

    /// `CLUSTER SHARDS` (or `CLUSTER SLOTS`) and `CLUSTER NODES` on `node`.
    fn ask_topology(&self, node: &Node) -> Result<(SlotMap, Option<Freshness>)> {
        ask_topology!(self, node, take,)
    }

    /// The nodes that have stalled, when it is time to look (see `watch!`); none otherwise.
    fn stalled_nodes(&self) -> Vec<Node> {
        let now = Millis.now();
        let last = self.watched_ms.load(Ordering::Relaxed);
        let every = match self.troubled.load(Ordering::Relaxed) {
            true => WATCH_TROUBLED,
            false => WATCH_EVERY,
        };
        if now.saturating_sub(last) < every
            || self
                .watched_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Vec::new();
        }
        let stalled = self.stalled_for(STALLED);
        self.troubled.store(!stalled.is_empty(), Ordering::Relaxed);
        stalled
    }

    /// The nodes that have had batches in flight without finishing one for `ms` or longer.
    fn stalled_for(&self, ms: u64) -> Vec<Node> {
        let now = Millis.now();
        self.pools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, pool)| pool.stalled_ms(now).is_some_and(|t| t >= ms))
            .map(|(node, _)| node.clone())
            .collect()
    }

    /// Ends the shared connections of the `stalled` nodes that own no slot in the map now (a
    /// complete one): a failover deposed them.
    fn abort_deposed(&self, stalled: &[Node]) {
        let map = self.map();
        if !map.is_complete() {
            return;
        }
        for node in stalled {
            if !owns_slots(&map, node) {
                crate::observe::event!(
                    "a stalled cluster node was failed over: its pipelines fail",
                    "cluster",
                    port = node.port
                );
                self.pool(node).abort_shared(redpipe_core::Failure::Deposed);
            }
        }
    }

    /// A router for one pipeline: a reused one when there is one.
    fn take_run(&self) -> ClusterRun {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    }

    /// Keeps a router for the next pipeline (a few, for concurrent pipelines).
    fn put_run(&self, mut run: ClusterRun) {
        run.reset();
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        if runs.len() < 8 {
            runs.push(run);
        }
    }

    /// Whether `p`'s batches go on the nodes' shared connections (see
    /// [`Pipeline::shares_connection`](redpipe_core::Pipeline::shares_connection)), judged on the
    /// whole pipeline with the nodes' windows, from what `run` read of its commands.
    fn shares(&self, run: &ClusterRun, p: &VecPipeline) -> bool {
        let t = &self.template;
        t.multiplexed > 0 && run.shares_connection(p, t.window, t.window_bytes)
    }

    /// Runs `p` over the cluster, blocking: each round sends every node its batch, then reads
    /// the nodes' replies, so that the nodes work at the same time on one thread (no thread
    /// is started). Every slot of `p` has its result (or its failure) afterwards; the error is
    /// the first node failure, if any.
    pub fn run(&self, p: &mut VecPipeline) -> Result<()> {
        run!(self, p, [refresh_with, wait, run_batches],)
    }

    /// [`run`](Self::run) on tokio: each round's batches run concurrently.
    #[cfg(feature = "tokio")]
    pub async fn run_async(&self, p: &mut VecPipeline) -> Result<()> {
        run!(
            self,
            p,
            [refresh_with_async, wait_async, run_batches_async],
            .await
        )
    }

    /// [`refresh`](Self::refresh) over tokio connections.
    #[cfg(feature = "tokio")]
    pub async fn refresh_async(&self) -> Result<()> {
        self.refresh_with_async(Refresh::new()).await
    }

    #[cfg(feature = "tokio")]
    async fn refresh_with_async(&self, refresh: Refresh) -> Result<()> {
        refresh!(self, refresh, ask_topology_async, .await)
    }

    #[cfg(feature = "tokio")]
    async fn ask_topology_async(&self, node: &Node) -> Result<(SlotMap, Option<Freshness>)> {
        ask_topology!(self, node, take_async, .await)
    }
}

/// The pool of `node` in `pools`, made by `make` if it has none yet.
fn pool_in(
    pools: &RwLock<HashMap<Node, Arc<Pool>>>,
    node: &Node,
    make: impl FnOnce() -> Pool,
) -> Arc<Pool> {
    if let Some(p) = pools
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(node)
    {
        return p.clone();
    }
    let pool = make();
    pools
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(node.clone())
        .or_insert_with(|| Arc::new(pool))
        .clone()
}

/// Whether `node` owns slots in `map`: not deposed.
fn owns_slots(map: &SlotMap, node: &Node) -> bool {
    map.find(node).is_some_and(|i| map.owns_slots(i))
}

fn topology_error(e: TopologyError) -> Error {
    Error::Config(format!("cluster topology: {e}"))
}

mod batches;
mod published;

use batches::run_batches;
#[cfg(feature = "tokio")]
use batches::run_batches_async;
use published::Published;
