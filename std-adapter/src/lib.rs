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
//! The engine is [`redpipe_core`] (re-exported here): connections only move bytes.
//! [`Connection`] (blocking) and, with feature `tokio`, `tokio::AsyncConnection` run a
//! [`VecPipeline`] directly for code that wants index handles and no per-command allocation.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod cluster;
mod config;
mod connection;
mod observe;
mod registry;
mod shared;
mod stream;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use config::{Addr, ConnectionInfo};
pub use connection::Connection;
pub use redpipe_core::*;
#[cfg(feature = "tokio")]
pub use registry::WatchAsync;
pub use registry::{Connections, Factory, Stats, WATCH_ATTEMPTS, Watch};

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
    Connections::global().connect_cluster_named(DEFAULT, urls)
}

/// The redpipe scope, on the global registry: runs `f` on `parent` if given (joining its
/// pipeline: `f`'s commands run when the parent's do, and an `execute` inside joins it too),
/// else on a new pipe that is executed when `f` returns `Ok` and dropped unsent when it fails.
/// See [`Connections::autoexec`]; for error types of your own, [`Pipe::autoexec`].
///
/// Blocking: in async code use `autoexec_async` (feature `tokio`), which does not hold a
/// runtime worker while the pipe runs.
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
