//! Named connections: where each name's pipelines run, and the idle connections kept for reuse.
//!
//! A [`Connections`] registry maps names to connection settings and pools, and is the
//! [`Backend`] (blocking: threads) and [`AsyncBackend`] (tokio: `join_all`) that a [`Pipe`]'s
//! groups run on. The process-wide one ([`Connections::global`], also its `Default`) backs
//! [`connect`](crate::connect), [`autoexec`](crate::autoexec) and `Pipe::new`; separate
//! registries keep tests and libraries independent.

pub mod cluster;
mod pool;
mod watch;

pub(crate) use pool::{Lease, Pool};

#[cfg(feature = "tokio")]
pub use watch::WatchAsync;
pub use watch::{WATCH_ATTEMPTS, Watch};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use redpipe_core::cache::CacheStats;
use redpipe_core::{Backend, DEFAULT, Error, Group, Result, Spare};

use crate::Pipe;
use crate::config::ConnectionInfo;
use crate::connection::Connection;
use crate::observe::Run;
use cluster::Cluster;

/// Counters of one named connection, for observability and the tour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Pipelines executed (each is one round trip up to the window size).
    pub pipelines: u64,
    /// Commands sent.
    pub commands: u64,
    /// Connections opened.
    pub connects: u64,
    /// Connections open now (idle or in use), at most `max_connections`.
    pub open: usize,
}

/// Opens a blocking connection, for a name registered with one ([`Connections::register`]).
pub type Factory = Arc<dyn Fn() -> Result<Connection> + Send + Sync>;

/// Where a subscriber connects: settings, a factory, and the cluster when the name is one.
pub(crate) type SubscriberTarget = (ConnectionInfo, Option<Factory>, Option<Arc<Cluster>>);

/// What a name is registered to ([`Connections::register`]): made from a URL (`&str`), seed
/// URLs of a cluster (`&[&str]`), a [`ConnectionInfo`], a [`Cluster`] or a [`Factory`].
#[non_exhaustive]
pub enum Endpoint {
    /// One server, by URL (parsed when registered).
    Url(String),
    /// One server, with its options.
    Server(Box<ConnectionInfo>),
    /// A Redis Cluster, by seed URLs (parsed when registered).
    Seeds(Vec<String>),
    /// A Redis Cluster, set up as wanted.
    Cluster(Box<Cluster>),
    /// Connections opened by a function of yours.
    Factory(Factory),
}

impl Endpoint {
    /// Connections opened by `open`: `r.register("cache", Endpoint::factory(move || ..))`.
    pub fn factory(open: impl Fn() -> Result<Connection> + Send + Sync + 'static) -> Self {
        Self::Factory(Arc::new(open))
    }
}

impl From<&str> for Endpoint {
    fn from(url: &str) -> Self {
        Self::Url(url.into())
    }
}

impl From<&String> for Endpoint {
    fn from(url: &String) -> Self {
        Self::Url(url.clone())
    }
}

impl From<&[&str]> for Endpoint {
    fn from(seeds: &[&str]) -> Self {
        Self::Seeds(seeds.iter().map(|s| (*s).into()).collect())
    }
}

impl<const N: usize> From<&[&str; N]> for Endpoint {
    fn from(seeds: &[&str; N]) -> Self {
        Self::from(&seeds[..])
    }
}

impl From<ConnectionInfo> for Endpoint {
    fn from(info: ConnectionInfo) -> Self {
        Self::Server(Box::new(info))
    }
}

impl From<Cluster> for Endpoint {
    fn from(cluster: Cluster) -> Self {
        Self::Cluster(Box::new(cluster))
    }
}

impl From<Factory> for Endpoint {
    fn from(open: Factory) -> Self {
        Self::Factory(open)
    }
}

/// A registry of named connections. Cheap to clone; clones share the registry.
///
/// `Connections::default()` is the process-wide registry ([`global`](Self::global)), so that
/// `Pipe::new()` runs on it; [`new`](Self::new) makes a separate one.
#[derive(Clone)]
pub struct Connections {
    pools: Arc<RwLock<HashMap<String, Target>>>,
    /// The storage of the pipes `autoexec` made and emptied, for the next ones.
    spares: Arc<Mutex<Vec<Spare>>>,
}

/// Spares kept at most: about as many as pipes run at the same time.
const MAX_SPARES: usize = 8;

/// A spare keeps runs of at most this much storage: a huge pipeline's memory goes back to the
/// allocator when its handles are gone, instead of waiting for a pipe of its size.
const MAX_SPARE_BYTES: usize = 4 << 20;

/// What a name designates: one server (a pool of connections to it) or a cluster.
#[derive(Clone)]
enum Target {
    Server(Arc<Pool>),
    Cluster(Arc<Cluster>),
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .pools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        f.debug_struct("Connections")
            .field("names", &names)
            .finish()
    }
}

/// The body of [`Connections::autoexec`] and `autoexec_async`, once for both: `$execute` runs
/// the pipe (`execute` or `execute_async`), `$($await)*` is empty or `.await` (as the core's
/// `drive_loop!`).
macro_rules! autoexec {
    ($self:ident, $parent:ident, $f:ident, $execute:ident, $($await:tt)*) => {{
        if let Some(p) = $parent {
            return p.scope($f);
        }
        let mut p = $self.spare_pipe();
        let result = match $f(&mut p) {
            Ok(r) => p.$execute() $($await)* .map(|()| r),
            Err(e) => Err(e),
        };
        $self.keep_spare(p);
        result
    }};
}

/// A run through a cached name's cache, for `run_on!`: `$plan` is the cache's plan (`None`:
/// run the pipeline as it is), made before anything is routed; only its batch, the misses,
/// runs (`$run`, nothing when every command was a hit); the batch's replies are put back after.
macro_rules! cached {
    ($g:ident, $cache:expr, $plan:expr, $run:expr) => {{
        let mut plan = $plan;
        if let Some(batch) = plan.as_mut().and_then(|p| p.batch()) {
            std::mem::swap(batch, $g.pipeline());
        }
        let result = if $g.is_empty() { Ok(()) } else { $run };
        if let (Some(cache), Some(mut plan)) = ($cache, plan) {
            if let Some(batch) = plan.batch() {
                std::mem::swap(batch, $g.pipeline());
            }
            cache.finish(plan, $g.pipeline());
        }
        result
    }};
}

/// The body of `run_on` and `run_on_async`, once for both: `[$run, $shared, $take, $plan,
/// $plan_cluster, $refresh]` name the blocking or the async methods (`Group::run`,
/// `Pool::shared`, `Pool::take`, `Tracked::plan`, `Tracked::plan_cluster`, `Cluster::refresh`,
/// or their `_async` forms; `$run` is also `Cluster::run`'s), `$($await)*` is empty or
/// `.await`. A cached name's cache answers what it holds; the misses run instead.
macro_rules! run_on {
    ($target:ident, $g:ident, [$run:ident, $shared:ident, $take:ident, $plan:ident, $plan_cluster:ident, $refresh:ident], $($await:tt)*) => {{
        let (commands, bytes) = ($g.pipeline().len(), $g.pipeline().encoded().len());
        let run = Run::start($g.name(), commands, bytes);
        let result = match $target {
            Target::Server(pool) => {
                let plan = match &pool.cache {
                    Some(c) => c.$plan($g.pipeline()) $($await)*,
                    None => None,
                };
                cached!($g, &pool.cache, plan, {
                    let commands = $g.pipeline().len();
                    if pool.shares($g.pipeline()) {
                        $g.$run(
                            || {
                                pool.count(commands);
                                pool.$shared()
                            },
                            drop,
                        )
                        $($await)*
                    } else {
                        $g.$run(
                            || {
                                pool.count(commands);
                                pool.$take()
                            },
                            drop,
                        )
                        $($await)*
                    }
                })
            }
            Target::Cluster(cluster) => {
                // Planned before routing: only the misses go to the nodes.
                let plan = match &cluster.cache {
                    Some(c) => {
                        if cluster.map().nodes().is_empty() {
                            // Failing, the run reads it again and reports the error.
                            let _ = cluster.$refresh() $($await)*;
                        }
                        c.$plan_cluster(|| cluster.map(), cluster.reads_replicas(), $g.pipeline()) $($await)*
                    }
                    None => None,
                };
                cached!($g, &cluster.cache, plan, cluster.$run($g.pipeline()) $($await)*)
            }
        };
        run.end(&result);
        result
    }};
}

impl Connections {
    /// An empty registry, separate from every other.
    pub fn new() -> Self {
        Self {
            pools: Arc::default(),
            spares: Arc::default(),
        }
    }

    /// The process-wide registry used by [`connect`](crate::connect) and
    /// [`autoexec`](crate::autoexec).
    pub fn global() -> &'static Connections {
        static GLOBAL: OnceLock<Connections> = OnceLock::new();
        GLOBAL.get_or_init(Connections::new)
    }

    /// Registers what the connection named `name` reaches: one server (a URL or a
    /// [`ConnectionInfo`] with its options: TLS, timeouts, pool size, multiplexing), a Redis
    /// Cluster (seed URLs as a slice, or a [`Cluster`] set up as wanted: replica reads), or a
    /// [`Factory`] that opens connections set up in ways a URL cannot say. Nothing connects
    /// until a pipeline runs. This is the one way to register; [`connect`](Self::connect) and
    /// [`connect_named`](Self::connect_named) (and the crate's free functions) are short forms.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use redpipe::cluster::Cluster;
    /// use redpipe::{Connection, ConnectionInfo, Connections, Endpoint};
    ///
    /// let r = Connections::new();
    /// r.register("", "redis://127.0.0.1:6379")?;
    /// let cache: ConnectionInfo = "rediss://cache.internal:6380".parse()?;
    /// r.register("cache", cache.timeout(Duration::from_secs(2)).multiplexed(2))?;
    /// r.register("events", &["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"][..])?;
    /// r.register("catalog", Cluster::from_urls(&["redis://10.0.1.1:7000"])?.read_from_replicas(true))?;
    /// let info: ConnectionInfo = "redis://10.0.0.7:6380".parse()?;
    /// r.register("custom", Endpoint::factory(move || Connection::open(&info)))?;
    /// # Ok::<(), redpipe::Error>(())
    /// ```
    ///
    /// The same settings twice are fine (the second does nothing); other settings under a name
    /// in use are [`Error::AlreadyConnected`], as RedPipe refuses them: silently rerouting a
    /// name would send one part of a program's data to another server. Use
    /// [`disconnect`](Self::disconnect) first to move a name.
    pub fn register(&self, name: &str, endpoint: impl Into<Endpoint>) -> Result<()> {
        let endpoint = endpoint.into();
        let mut pools = self.pools.write().unwrap_or_else(PoisonError::into_inner);
        let same = match (pools.get(name), &endpoint) {
            (None, _) => None,
            (Some(Target::Server(pool)), Endpoint::Url(url)) => {
                Some(pool.factory.is_none() && pool.info == url.parse()?)
            }
            (Some(Target::Server(pool)), Endpoint::Server(info)) => {
                Some(pool.factory.is_none() && pool.info == **info)
            }
            (Some(Target::Server(pool)), Endpoint::Factory(open)) => {
                Some(pool.factory.as_ref().is_some_and(|f| Arc::ptr_eq(f, open)))
            }
            (Some(Target::Cluster(c)), Endpoint::Seeds(urls)) => Some(c.same_as(
                &Cluster::from_urls(&urls.iter().map(String::as_str).collect::<Vec<_>>())?,
            )),
            (Some(Target::Cluster(c)), Endpoint::Cluster(cluster)) => Some(c.same_as(cluster)),
            (Some(_), _) => Some(false),
        };
        match same {
            Some(true) => return Ok(()),
            Some(false) => return Err(Error::AlreadyConnected(name.into())),
            None => {}
        }
        let target = match endpoint {
            Endpoint::Url(url) => Target::Server(Arc::new(Pool::new(url.parse()?, None))),
            Endpoint::Server(info) => Target::Server(Arc::new(Pool::new(*info, None))),
            Endpoint::Factory(open) => {
                let info = ConnectionInfo::tcp("", 0);
                Target::Server(Arc::new(Pool::new(info, Some(open))))
            }
            Endpoint::Seeds(urls) => Target::Cluster(Arc::new(Cluster::from_urls(
                &urls.iter().map(String::as_str).collect::<Vec<_>>(),
            )?)),
            Endpoint::Cluster(cluster) => Target::Cluster(Arc::new(*cluster)),
        };
        pools.insert(name.into(), target);
        Ok(())
    }

    /// Registers a Redis Cluster reached through `seeds`.
    #[deprecated(
        note = "use `register(name, cluster)`, the one registration: `Cluster::new(seeds)?` or seed URLs"
    )]
    pub fn register_cluster(&self, name: &str, seeds: Vec<ConnectionInfo>) -> Result<()> {
        self.register(name, Cluster::new(seeds)?)
    }

    /// Registers `cluster` as the connection named `name`.
    #[deprecated(note = "use `register(name, cluster)`, the one registration")]
    pub fn register_cluster_with(&self, name: &str, cluster: Cluster) -> Result<()> {
        self.register(name, cluster)
    }

    /// Registers a cluster from seed URLs as the connection named `name`.
    #[deprecated(note = "use `register(name, &[urls..][..])`, the one registration")]
    pub fn connect_cluster_named(&self, name: &str, urls: &[&str]) -> Result<()> {
        self.register(name, urls)
    }

    /// The cluster registered as `name`, to read its slot map or refresh it.
    pub fn cluster(&self, name: &str) -> Option<Arc<Cluster>> {
        match self.target(name)? {
            Target::Cluster(c) => Some(c),
            Target::Server(_) => None,
        }
    }

    /// Registers a function that opens the (blocking) connections named `name`.
    #[deprecated(note = "use `register(name, factory)`, the one registration")]
    pub fn register_factory(&self, name: &str, open: Factory) -> Result<()> {
        self.register(name, open)
    }

    /// Forgets the connection named `name`; its idle connections close, the ones in use close
    /// when their pipelines end. Returns whether the name was registered.
    pub fn disconnect(&self, name: &str) -> bool {
        self.pools
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
            .is_some()
    }

    /// Forgets every name (RedPipe's `reset`): for tests and reconfiguration.
    pub fn reset(&self) {
        self.pools
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Registers the default connection from a URL.
    pub fn connect(&self, url: &str) -> Result<()> {
        self.connect_named(DEFAULT, url)
    }

    /// Registers a named connection from a URL: `register(name, url)`.
    pub fn connect_named(&self, name: &str, url: &str) -> Result<()> {
        self.register(name, url)
    }

    /// Counters of the connection named `name`.
    /// For a cluster, the counters of its nodes summed (each node's batch is a pipeline).
    pub fn stats(&self, name: &str) -> Option<Stats> {
        Some(match self.target(name)? {
            Target::Server(p) => p.stats(),
            Target::Cluster(c) => c.stats(),
        })
    }

    /// What the client-side cache of the server or cluster named `name` holds and did, when it
    /// has one ([`ConnectionInfo::cache`]); for a cluster, the one cache its nodes keep.
    pub fn cache_stats(&self, name: &str) -> Option<CacheStats> {
        let cache = match self.target(name)? {
            Target::Server(p) => p.cache.clone(),
            Target::Cluster(c) => c.cache.clone(),
        };
        cache.map(|c| c.stats())
    }

    /// A new, empty pipeline on this registry.
    pub fn pipe(&self) -> Pipe {
        Pipe::with_backend(self.clone())
    }

    fn target(&self, name: &str) -> Option<Target> {
        self.pools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The pool of the single server named `name`: WATCH needs one connection, which a
    /// cluster name does not have (watch a cluster's keys through a hash tag's node instead).
    fn server_pool(&self, name: &str) -> Result<Arc<Pool>> {
        match self.target(name) {
            Some(Target::Server(p)) => Ok(p),
            Some(Target::Cluster(_)) => Err(Error::Config(format!(
                "{name:?} is a cluster: WATCH needs a single server's connection"
            ))),
            None => Err(Error::UnknownConnection(if name.is_empty() {
                "default".into()
            } else {
                name.into()
            })),
        }
    }

    /// Where a subscriber of `name` connects: the server's settings and its factory if it has
    /// one, or (a cluster) the first seed's settings and the cluster. For connections of
    /// their own outside the pools.
    pub(crate) fn subscriber_settings(&self, name: &str) -> Result<SubscriberTarget> {
        match self.target(name) {
            Some(Target::Server(p)) => Ok((p.info.clone(), p.factory.clone(), None)),
            Some(Target::Cluster(c)) => Ok((c.template().clone(), None, Some(c))),
            None => Err(Error::UnknownConnection(if name.is_empty() {
                "default".into()
            } else {
                name.into()
            })),
        }
    }

    /// The pool whose shared connections a subscriber of `name` may share
    /// (`on_shared`): a single server's, multiplexed, speaking RESP3, where confirmations and
    /// messages are pushes the connection's reader can tell from replies.
    pub(crate) fn shared_subscriber_pool(&self, name: &str) -> Result<Arc<Pool>> {
        let pool = match self.target(name) {
            Some(Target::Server(p)) => p,
            Some(Target::Cluster(_)) => {
                return Err(Error::Config(format!(
                    "{name:?} is a cluster: a subscriber on a shared connection needs a single \
                     server (a cluster's subscriber has connections of its own)"
                )));
            }
            None => {
                return Err(Error::UnknownConnection(if name.is_empty() {
                    "default".into()
                } else {
                    name.into()
                }));
            }
        };
        if !pool.info.resp3 {
            return Err(Error::Config(format!(
                "{name:?} speaks RESP2: a subscriber on a shared connection needs RESP3 \
                 (`protocol=3`), where subscriptions answer with pushes; RESP2 subscribers use \
                 a connection of their own"
            )));
        }
        if !pool.multiplexes() {
            return Err(Error::Config(format!(
                "{name:?} has no shared connection (`multiplexed` is 0, or it opens connections \
                 with a factory)"
            )));
        }
        Ok(pool)
    }

    /// The one group with commands and its target, when only one has commands (the common
    /// case, found without building the vectors of [`pools`](Self::pools)); `None` otherwise.
    /// An unknown name fails the group and is the error.
    fn single<'g>(&self, groups: &'g mut [Group]) -> Option<Result<(&'g mut Group, Target)>> {
        let (first, second) = {
            let mut busy = groups
                .iter()
                .enumerate()
                .filter(|(_, g)| !g.is_empty())
                .map(|(i, _)| i);
            (busy.next(), busy.next())
        };
        let (Some(i), None) = (first, second) else {
            return None;
        };
        let g = &mut groups[i];
        Some(match self.target(g.name()) {
            Some(target) => Ok((g, target)),
            None => Err(g.fail_unknown()),
        })
    }

    /// The pools of the groups with commands. An unknown name fails every group (nothing is
    /// sent) and is the error.
    fn pools<'g>(&self, groups: &'g mut [Group]) -> Result<Vec<(&'g mut Group, Target)>> {
        // One look at the registry for every group.
        let found: Vec<Option<Target>> = {
            let pools = self.pools.read().unwrap_or_else(PoisonError::into_inner);
            groups
                .iter()
                .map(|g| {
                    if g.is_empty() {
                        None
                    } else {
                        pools.get(g.name()).cloned()
                    }
                })
                .collect()
        };
        let mut unknown = None;
        for (g, target) in groups.iter_mut().zip(&found) {
            if !g.is_empty() && target.is_none() {
                let e = g.fail_unknown();
                unknown.get_or_insert(e);
            }
        }
        if let Some(e) = unknown {
            return Err(e);
        }
        Ok(groups
            .iter_mut()
            .zip(found)
            .filter_map(|(g, target)| Some((g, target?)))
            .collect())
    }

    /// Runs `f` on `parent` if given (its commands join the parent's pipeline and run when the
    /// parent does; an `execute` in `f` joins it too; an error rolls back only `f`'s commands);
    /// else on a new pipeline of this registry, executed when `f` returns `Ok` and dropped
    /// unsent when it returns `Err`.
    ///
    /// A new pipe reuses the storage of earlier ones (once their handles are gone), so that a
    /// program calling `autoexec` in a loop stops allocating pipelines once warm.
    pub fn autoexec<R>(
        &self,
        parent: Option<&mut Pipe>,
        f: impl FnOnce(&mut Pipe) -> Result<R>,
    ) -> Result<R> {
        autoexec!(self, parent, f, execute,)
    }

    /// [`autoexec`](Self::autoexec) for async code (feature `tokio`).
    #[cfg(feature = "tokio")]
    pub async fn autoexec_async<R>(
        &self,
        parent: Option<&mut Pipe>,
        f: impl FnOnce(&mut Pipe) -> Result<R>,
    ) -> Result<R> {
        autoexec!(self, parent, f, execute_async, .await)
    }

    /// A new pipe on this registry, with the storage of an earlier one if there is one.
    fn spare_pipe(&self) -> Pipe {
        let spare = self
            .spares
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        Pipe::with_spare(self.clone(), spare.unwrap_or_default())
    }

    /// Keeps the storage of `p` (emptied; anything unsent is dropped) for a later pipe.
    fn keep_spare(&self, p: Pipe) {
        let spare = p.into_spare(MAX_SPARE_BYTES);
        let mut spares = self.spares.lock().unwrap_or_else(PoisonError::into_inner);
        if spares.len() < MAX_SPARES {
            spares.push(spare);
        }
    }
}

impl Default for Connections {
    /// The process-wide registry.
    fn default() -> Self {
        Self::global().clone()
    }
}

/// Runs one group on its pool: a pooled or new connection, which goes back to the pool (or is
/// closed) when the run lets go of it. A cluster's group goes to its nodes (never retried
/// whole: the router sends again only what a node refused).
fn run_on(target: &Target, g: &mut Group) -> Result<()> {
    run_on!(target, g, [run, shared, take, plan, plan_cluster, refresh],)
}

/// Groups run in parallel: one on the calling thread, the others on scoped threads (none is
/// spawned when only one connection has commands).
impl Backend for Connections {
    fn run(&self, groups: &mut [Group]) -> Result<()> {
        off_the_runtime(|| self.run_blocking(groups))
    }
}

/// Runs blocking I/O called from async code without stalling the runtime: on a multi-thread
/// tokio runtime's worker, `block_in_place` hands the worker's other tasks to another thread
/// first (async code should still use the `_async` forms, which hold no thread). A
/// current-thread runtime cannot do that, and tokio does not say whether this thread is its
/// driver or one of its blocking threads, so there the call runs as is.
fn off_the_runtime<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "tokio")]
    if let Ok(rt) = ::tokio::runtime::Handle::try_current()
        && rt.runtime_flavor() == ::tokio::runtime::RuntimeFlavor::MultiThread
    {
        return ::tokio::task::block_in_place(f);
    }
    f()
}

impl Connections {
    fn run_blocking(&self, groups: &mut [Group]) -> Result<()> {
        if let Some(one) = self.single(groups) {
            let (g, target) = one?;
            return run_on(&target, g);
        }
        let mut jobs = self.pools(groups)?;
        let Some((last, last_target)) = jobs.pop() else {
            return Ok(());
        };
        if jobs.is_empty() {
            return run_on(&last_target, last);
        }
        std::thread::scope(|s| {
            let running: Vec<_> = jobs
                .into_iter()
                .map(|(g, target)| s.spawn(move || run_on(&target, g)))
                .collect();
            let here = run_on(&last_target, last);
            running
                .into_iter()
                .map(|t| t.join().unwrap_or(Err(Error::Closed)))
                .fold(here, |first, r| first.and(r))
        })
    }
}

/// Groups run concurrently on tokio connections.
///
/// Not one body with `run_blocking`: only the finding of the groups is the same (`single`,
/// `pools`, shared); blocking spreads the groups over scoped threads and runs the last on the
/// caller's, async joins their futures on one task.
#[cfg(feature = "tokio")]
impl redpipe_core::AsyncBackend for Connections {
    async fn run_async(&self, groups: &mut [Group]) -> Result<()> {
        if let Some(one) = self.single(groups) {
            let (g, target) = one?;
            return run_on_async(&target, g).await;
        }
        let jobs = self.pools(groups)?;
        let runs = jobs
            .into_iter()
            .map(|(g, target)| async move { run_on_async(&target, g).await });
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .collect::<Result<Vec<()>>>()
            .map(drop)
    }
}

/// Runs one group on its target, on tokio.
#[cfg(feature = "tokio")]
async fn run_on_async(target: &Target, g: &mut Group) -> Result<()> {
    run_on!(
        target,
        g,
        [run_async, shared_async, take_async, plan_async, plan_cluster_async, refresh_async],
        .await
    )
}
