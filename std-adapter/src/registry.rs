//! Named connections: where each name's pipelines run, and the idle connections kept for reuse.
//!
//! A [`Connections`] registry maps names to connection settings and pools. The process-wide one
//! ([`Connections::global`]) backs [`connect`](crate::connect) and [`autoexec`](crate::autoexec);
//! separate registries keep tests and libraries independent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use crate::config::ConnectionInfo;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::pipe::Pipe;

/// The name of the default connection.
pub const DEFAULT: &str = "";

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
}

#[derive(Default)]
struct Counters {
    pipelines: AtomicU64,
    commands: AtomicU64,
    connects: AtomicU64,
}

/// Opens a blocking connection; see [`Connections::register_factory`].
pub type Factory = Arc<dyn Fn() -> Result<Connection> + Send + Sync>;

/// One name's settings and idle connections.
pub(crate) struct Pool {
    pub(crate) info: ConnectionInfo,
    factory: Option<Factory>,
    idle: Mutex<Vec<Connection>>,
    #[cfg(feature = "tokio")]
    idle_async: Mutex<Vec<crate::tokio::AsyncConnection>>,
    counters: Counters,
}

/// Idle connections kept per name; more are opened when pipelines run in parallel.
const MAX_IDLE: usize = 16;

impl Pool {
    fn new(info: ConnectionInfo, factory: Option<Factory>) -> Self {
        Self {
            info,
            factory,
            idle: Mutex::new(Vec::new()),
            #[cfg(feature = "tokio")]
            idle_async: Mutex::new(Vec::new()),
            counters: Counters::default(),
        }
    }

    pub(crate) fn take(&self) -> Result<Connection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(c) => Ok(c),
            None => {
                self.counters.connects.fetch_add(1, Ordering::Relaxed);
                match &self.factory {
                    Some(open) => open(),
                    None => Connection::open(&self.info),
                }
            }
        }
    }

    pub(crate) fn put(&self, c: Connection) {
        if c.is_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(c);
        }
    }

    #[cfg(feature = "tokio")]
    pub(crate) async fn take_async(&self) -> Result<crate::tokio::AsyncConnection> {
        let idle = self
            .idle_async
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(c) => Ok(c),
            None if self.factory.is_some() => Err(Error::Config(
                "this name was registered with a blocking connection factory".into(),
            )),
            None => {
                self.counters.connects.fetch_add(1, Ordering::Relaxed);
                crate::tokio::AsyncConnection::open(&self.info).await
            }
        }
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn put_async(&self, c: crate::tokio::AsyncConnection) {
        if c.is_broken() {
            return;
        }
        let mut idle = self
            .idle_async
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(c);
        }
    }

    pub(crate) fn count(&self, commands: usize) {
        self.counters.pipelines.fetch_add(1, Ordering::Relaxed);
        self.counters
            .commands
            .fetch_add(commands as u64, Ordering::Relaxed);
    }

    fn stats(&self) -> Stats {
        Stats {
            pipelines: self.counters.pipelines.load(Ordering::Relaxed),
            commands: self.counters.commands.load(Ordering::Relaxed),
            connects: self.counters.connects.load(Ordering::Relaxed),
        }
    }
}

/// A registry of named connections. Cheap to clone; clones share the registry.
#[derive(Clone, Default)]
pub struct Connections {
    pools: Arc<RwLock<HashMap<String, Arc<Pool>>>>,
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

impl Connections {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry used by [`connect`](crate::connect) and
    /// [`autoexec`](crate::autoexec).
    pub fn global() -> &'static Connections {
        static GLOBAL: OnceLock<Connections> = OnceLock::new();
        GLOBAL.get_or_init(Connections::new)
    }

    /// Registers `info` as the connection named `name` (replacing any earlier one). Nothing
    /// connects until a pipeline runs.
    pub fn register(&self, name: &str, info: ConnectionInfo) {
        self.insert(name, Pool::new(info, None));
    }

    /// Registers a function that opens the (blocking) connections named `name`: for
    /// connections set up in ways a URL cannot say (a custom stream, extra setup commands).
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use redpipe::{Connection, Connections};
    /// let r = Connections::new();
    /// let info = "redis://10.0.0.7:6380".parse()?;
    /// r.register_factory("cache", Arc::new(move || Connection::open(&info)));
    /// # Ok::<(), redpipe::Error>(())
    /// ```
    pub fn register_factory(&self, name: &str, open: Factory) {
        let info = ConnectionInfo::tcp("", 0);
        self.insert(name, Pool::new(info, Some(open)));
    }

    fn insert(&self, name: &str, pool: Pool) {
        self.pools
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string(), Arc::new(pool));
    }

    /// Registers the default connection from a URL.
    pub fn connect(&self, url: &str) -> Result<()> {
        self.connect_named(DEFAULT, url)
    }

    /// Registers a named connection from a URL.
    pub fn connect_named(&self, name: &str, url: &str) -> Result<()> {
        self.register(name, url.parse()?);
        Ok(())
    }

    /// Counters of the connection named `name`.
    pub fn stats(&self, name: &str) -> Option<Stats> {
        self.pools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map(|p| p.stats())
    }

    /// A new, empty pipeline on this registry's default connection.
    pub fn pipe(&self) -> Pipe {
        Pipe::new_in(self.clone())
    }

    pub(crate) fn pool(&self, name: &str) -> Result<Arc<Pool>> {
        self.pools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| {
                Error::UnknownConnection(if name.is_empty() {
                    "default".into()
                } else {
                    name.into()
                })
            })
    }

    /// Runs `f` on `parent` if given (its commands join the parent's pipeline and run when the
    /// parent does; an error rolls back only `f`'s commands); else on a new pipeline of this
    /// registry, executed when `f` returns `Ok` and dropped unsent when it returns `Err`.
    pub fn autoexec<R, E: From<Error>>(
        &self,
        parent: Option<&mut Pipe>,
        f: impl FnOnce(&mut Pipe) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        match parent {
            Some(p) => p.scope(f),
            None => {
                let mut p = self.pipe();
                let r = f(&mut p)?;
                p.execute()?;
                Ok(r)
            }
        }
    }
}
