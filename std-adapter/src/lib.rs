//! # redpipe
//!
//! Redis pipelining with deferred results for ordinary Rust programs.
//!
//! Every command queued on a [`Pipe`] returns a [`Handle`] that holds its result once the pipe
//! has run. Functions take the pipe (or an optional parent) and queue into it, so a program
//! built from many of them still makes one round trip per connection:
//!
//! ```no_run
//! use redpipe::prelude::*;
//! use redpipe::{Handle, Pipe};
//!
//! fn increment_and_expire(key: &str, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<i64>> {
//!     redpipe::autoexec(pipe, |p| {
//!         let n = p.incrby(key, 1);
//!         p.expire(key, 60);
//!         Ok(n)
//!     })
//! }
//!
//! redpipe::connect("redis://127.0.0.1:6379")?;
//! // Two calls, one round trip:
//! let (a, b) = redpipe::autoexec(None, |p| {
//!     Ok((
//!         increment_and_expire("key1", p.nested())?,
//!         increment_and_expire("key2", p.nested())?,
//!     ))
//! })?;
//! println!("{} {}", a.result()?, b.result()?);
//! // Or on its own pipeline:
//! println!("{}", increment_and_expire("key3", None)?.result()?);
//! # Ok::<(), redpipe::Error>(())
//! ```
//!
//! Every command on a [`Pipe`] has the reply type Redis documents for it (`p.get(k)` is a
//! `Handle<Option<String>>`, `p.hgetall(k)` a `BTreeMap<String, String>`); read another type
//! with [`Handle::cast`] (`p.get(k).cast::<Option<i64>>()`), or any command with
//! `p.query::<T>(cmd("..."))`. A scope's closure returns [`Result`]: `Ok(handle)` needs no
//! annotation, and [`Error::other`] carries an error of your own through it.
//!
//! # Which API when
//!
//! | You are writing | Use |
//! |---|---|
//! | a function others call, alone or inside their pipeline | `fn f(.., pipe: Option<&mut Pipe>) -> Result<Handle<T>>` with [`autoexec`] |
//! | async code (tokio) | `autoexec_async`, or `Pipe::execute_async` on a pipe of your own |
//! | several named connections in one round trip | [`connect_named`], then `p.on("name", \|p\| ..)` in a scope |
//! | a Redis Cluster | [`connect_cluster`]: the same `Pipe`, routed by slot |
//! | typed keys with a prefix and codecs | [`keyspace!`] (see [`keyspace`](mod@keyspace)) |
//! | typed records stored as hashes | `#[derive(Struct)]` (see [`record`]) |
//! | a hot path: no per-command allocation, index handles | [`Connection`] running a `core::VecPipeline` ([`core`]) |
//! | optimistic locking | [`Connections::watch`] |
//! | Pub/Sub: messages published to channels, patterns or shard channels (cluster too) | [`Subscriber`] (blocking), `pubsub::AsyncSubscriber` (tokio); see [`pubsub`] |
//! | a keyspace's own key changes (keyspace notifications, cluster too) | `Keyspace::notifications` ([`pubsub::KeyspaceNotifications`]) |
//!
//! Four ways run a pipeline, one per row above: [`autoexec`] (blocking),
//! `autoexec_async` (tokio), `Pipe::execute`/`execute_async` on a pipe you hold, and
//! [`Connection::execute`] for the engine's pipelines. A registry ([`Connections`]) holds the
//! named connections; [`connect`], [`connect_named`] and [`connect_cluster`] are short forms on
//! the process-wide one, and [`ConnectionInfo`] builds a connection's options (TLS, timeouts,
//! pool size, sharing) when a URL is not enough.
//!
//! # Features
//!
//! | Feature | What it adds |
//! |---|---|
//! | `tokio` | async connections, `autoexec_async`, `Pipe::execute_async` on the registry |
//! | `tls` | `rediss://` URLs, with rustls and the web PKI roots (or your own CA) |
//! | `serde` | handles and `record::Lenient` serialize as their values |
//! | `tracing` | a span per pipeline, connection events at debug level |
//!
//! # Layout
//!
//! Sources, lowest floor first; each names only those before it (`cargo xtask layers`):
//! - `config.rs`: connection settings, parsed from `redis://`, `rediss://`, `unix://` URLs.
//! - `tls.rs`, `stream.rs`: TLS (feature `tls`) and the byte streams: TCP, Unix sockets, TLS.
//! - `connection.rs`, `tokio.rs`: a blocking and a tokio connection: a stream under the core's
//!   driver.
//! - `shared/`: connections shared by many threads' or tasks' pipelines (the core's `Mux`).
//! - `observe.rs`: tracing spans and events (feature `tracing`).
//! - `registry/`: named connections and their pools, the `Pipe`'s backend; `registry/cluster.rs`
//!   is [`cluster`], Redis Cluster over per-node pools.
//! - `scan.rs`: iterating a keyspace's keys on a registry.
//! - `pubsub/`: subscribers, blocking and tokio, on connections of their own (one per cluster
//!   node holding shard channels or node-local names); a keyspace's notifications.
//!
//! Public modules: [`prelude`] (the command traits), [`cmd`](mod@cmd), [`keyspace`](mod@keyspace)
//! and [`record`], [`cluster`], [`pubsub`], `tokio`, [`mux`], [`error`] (what [`Error`]'s variants hold),
//! and [`core`]: the engine, whole (`redpipe-core`).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod config;
mod connection;
mod observe;
pub mod pubsub;
mod registry;
mod scan;
mod shared;
mod stream;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;

// The root is a chosen list: what a program that connects, pipelines, reads handles and
// declares keyspaces and structs names. The engine (index pipelines, the scanner, storage,
// backends for other transports) is under `redpipe::core`.
pub use config::{Addr, ConnectionInfo};
pub use connection::Connection;
pub use pubsub::{Msg, Subscriber};
pub use redpipe_core::cache::{CacheConfig, CacheStats};
#[cfg(feature = "tokio")]
pub use registry::WatchAsync;
pub use registry::cluster;
pub use registry::{Connections, Endpoint, Factory, Stats, WATCH_ATTEMPTS, Watch};

/// The engine, whole: everything of `redpipe-core` — the allocator-free [`Pipeline`]
/// (`core::Pipeline`, `core::VecPipeline`) with index handles, the reply scanner and its
/// limits, storage, and the backend traits other transports implement.
///
/// [`Pipeline`]: redpipe_core::Pipeline
pub use redpipe_core as core;

pub use redpipe_core::{
    Args, Cmd, DEFAULT, Derived, Error, Executed, FromReply, Handle, Joined, Reply, Result, Scope,
    Script, Struct, ToArg, Value, cmd, keyspace, mux, record,
};

/// Everything needed to queue commands and read their results: `use redpipe::prelude::*`.
pub mod prelude {
    pub use crate::pubsub::KeyspaceNotifications;
    pub use crate::scan::ScanKeys;
    pub use redpipe_core::prelude::*;
}

/// The parts of [`Error`]: what its variants hold, and the error a handle read without
/// allocating gives ([`SlotError`](error::SlotError)).
pub mod error {
    pub use redpipe_core::keyspace::FieldError;
    pub use redpipe_core::record::StructError;
    pub use redpipe_core::{
        CapacityError, ConvertError, DecodeError, Failure, IoError, IoKind, ReplyKind, ServerError,
        ServerErrorKind, SlotError,
    };
}

/// One logical pipeline over the named connections of a [`Connections`] registry (the
/// process-wide one for `Pipe::new()`); see [`redpipe_core::Pipe`].
pub type Pipe = redpipe_core::Pipe<Connections>;

/// Registers the default connection of the global registry from a URL.
pub fn connect(url: &str) -> Result<()> {
    Connections::global().connect(url)
}

/// Registers a named connection of the global registry from a URL.
pub fn connect_named(name: &str, url: &str) -> Result<()> {
    Connections::global().connect_named(name, url)
}

/// Registers a Redis Cluster, from seed URLs, as the default connection of the global
/// registry; see [`cluster`].
pub fn connect_cluster(urls: &[&str]) -> Result<()> {
    Connections::global().register(DEFAULT, urls)
}

/// The redpipe scope, on the global registry: runs `f` on `parent` if given (joining its
/// pipeline: `f`'s commands run when the parent's do, and an `execute` inside joins it too),
/// else on a new pipe that is executed when `f` returns `Ok` and dropped unsent when it fails.
/// See [`Connections::autoexec`]; for error types of your own, [`Pipe::autoexec`].
///
/// Blocking: in async code use `autoexec_async` (feature `tokio`), which does not hold a
/// runtime worker while the pipe runs. Called from a task on a multi-thread tokio runtime by
/// mistake, a blocking run moves the worker's other tasks to another thread first
/// (`block_in_place`), so the runtime keeps running; on a current-thread runtime it cannot, and
/// the runtime waits for the round trip.
///
/// A function written with `autoexec` serves async callers too, unchanged: only its
/// standalone run blocks, and an async caller gives it a parent pipe instead (see
/// `autoexec_async`).
pub fn autoexec<R>(parent: Option<&mut Pipe>, f: impl FnOnce(&mut Pipe) -> Result<R>) -> Result<R> {
    Connections::global().autoexec(parent, f)
}

/// [`autoexec`] with the commands going to the connection named `name`.
pub fn autoexec_on<R>(
    name: &str,
    parent: Option<&mut Pipe>,
    f: impl FnOnce(&mut Pipe) -> Result<R>,
) -> Result<R> {
    autoexec(parent, |p| p.on(name, f))
}

/// [`autoexec`] for async code (feature `tokio`): the same scope, nesting, rollback and
/// callback rules; a pipe of its own runs with [`Pipe::execute_async`].
///
/// ```no_run
/// # async fn run() -> redpipe::Result<()> {
/// use redpipe::prelude::*;
/// use redpipe::{Handle, Pipe};
///
/// async fn visit(page: &str, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<i64>> {
///     redpipe::autoexec_async(pipe, |p| Ok(p.incr(page))).await
/// }
/// redpipe::connect("redis://127.0.0.1")?;
/// let hits = visit("/home", None).await?;
/// println!("{}", hits.result()?);
/// # Ok(())
/// # }
/// ```
///
/// One reusable function for sync and async callers: write it with [`autoexec`] (it blocks
/// only when it runs alone), and call it from async code inside `autoexec_async`, which gives
/// it the parent pipe and runs the round trip without blocking:
///
/// ```no_run
/// # async fn run() -> redpipe::Result<()> {
/// use redpipe::prelude::*;
/// use redpipe::{Handle, Pipe};
///
/// fn incr_and_expire(key: &str, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<i64>> {
///     redpipe::autoexec(pipe, |p| {
///         let n = p.incr(key);
///         let _ = p.expire(key, 60);
///         Ok(n)
///     })
/// }
///
/// // Sync caller: incr_and_expire("a", None)?. Async caller:
/// let n = redpipe::autoexec_async(None, |p| incr_and_expire("a", Some(p))).await?;
/// println!("{}", n.result()?);
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "tokio")]
pub async fn autoexec_async<R>(
    parent: Option<&mut Pipe>,
    f: impl FnOnce(&mut Pipe) -> Result<R>,
) -> Result<R> {
    Connections::global().autoexec_async(parent, f).await
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
