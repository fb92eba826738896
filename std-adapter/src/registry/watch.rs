//! Optimistic locking: `WATCH` keys, read them, queue the writes in `MULTI`/`EXEC` — all on one
//! connection — and run the whole again when a watched key changed before `EXEC`.

use std::sync::{Mutex, PoisonError};

use redpipe_core::{Backend, DEFAULT, Error, Failure, Group, Pipe, Result, ToArg, VecPipeline};

use super::Connections;
use crate::connection::Connection;

/// How many times [`Connections::watch`] runs its function before giving up on a key that keeps
/// changing (the last [`Failure::Aborted`] is then the error). Between attempts it waits a
/// little longer each time (50 µs more, up to 5 ms), so that contenders spread out.
pub const WATCH_ATTEMPTS: usize = 100;

/// One watching connection, lent to the function of [`Connections::watch`]: every pipe it makes
/// runs on that connection, at once.
pub struct Watch<'c> {
    conn: Mutex<&'c mut Connection>,
}

impl std::fmt::Debug for Watch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

impl<'c> Watch<'c> {
    /// A pipe on the watching connection: for the reads under the watch, and for the
    /// [`transaction`](Pipe::transaction) of the writes. Named connections are not available
    /// here: everything runs on the one connection.
    pub fn pipe(&self) -> Pipe<&Self> {
        Pipe::with_backend(self)
    }
}

impl Backend for &Watch<'_> {
    fn run(&self, groups: &mut [Group]) -> Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let mut first = Ok(());
        for g in groups.iter_mut().filter(|g| !g.is_empty()) {
            let result = if g.name() == DEFAULT {
                conn.execute(g.pipeline())
            } else {
                Err(g.fail_unknown())
            };
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}

/// Whether `result` says the transaction was aborted because a watched key changed.
fn aborted<R>(result: &Result<R>) -> bool {
    matches!(result, Err(Error::Failed(Failure::Aborted)))
}

/// Queues `WATCH keys` and what the watch needs around it.
fn watch_pipeline<K: ToArg>(keys: &[K]) -> Result<VecPipeline> {
    use redpipe_core::prelude::*;
    let mut p = VecPipeline::new();
    let _ = p.watch(keys)?;
    Ok(p)
}

impl Connections {
    /// Optimistic locking on one connection of the default name: `WATCH keys`, then `f`, which
    /// reads with [`Watch::pipe`] pipes (they run at once, on the watching connection) and
    /// queues its writes in a [`transaction`](Pipe::transaction) whose handles it reads. When a
    /// watched key changed before `EXEC`, those handles fail with [`Failure::Aborted`]; `f`
    /// passing that on (`?`) runs the whole again, up to [`WATCH_ATTEMPTS`] times.
    ///
    /// ```no_run
    /// use redpipe::prelude::*;
    /// use redpipe::Connections;
    /// let r = Connections::new();
    /// r.connect("redis://127.0.0.1")?;
    /// // Take 10 from a balance, never below zero, whatever other clients do meanwhile.
    /// let left = r.watch(&["balance"], |w| {
    ///     let mut read = w.pipe();
    ///     let balance = read.get("balance").cast::<Option<i64>>();
    ///     read.execute()?;
    ///     let left = balance.result()?.unwrap_or(0) - 10;
    ///     let mut write = w.pipe();
    ///     let set = write.transaction(|p| Ok(p.set("balance", left.max(0))))?;
    ///     write.execute()?;
    ///     set.result()?; // a change under the watch: Aborted, and the whole runs again
    ///     Ok(left)
    /// })?;
    /// # Ok::<(), redpipe::Error>(())
    /// ```
    pub fn watch<K: ToArg, R>(
        &self,
        keys: &[K],
        f: impl FnMut(&Watch<'_>) -> Result<R>,
    ) -> Result<R> {
        self.watch_on(DEFAULT, keys, f)
    }

    /// [`watch`](Self::watch) on a connection of the name `name`.
    pub fn watch_on<K: ToArg, R>(
        &self,
        name: &str,
        keys: &[K],
        mut f: impl FnMut(&Watch<'_>) -> Result<R>,
    ) -> Result<R> {
        let pool = self.server_pool(name)?;
        let mut conn = pool.take()?;
        let mut attempt = 1;
        loop {
            conn.execute(&mut watch_pipeline(keys)?)?;
            let w = Watch {
                conn: Mutex::new(&mut conn),
            };
            let result = f(&w);
            if !(aborted(&result) && attempt < WATCH_ATTEMPTS) {
                // A connection left watching (f failed before EXEC) is closed, not pooled.
                return result;
            }
            let pause = std::time::Duration::from_micros(50 * attempt as u64);
            std::thread::sleep(pause.min(std::time::Duration::from_millis(5)));
            attempt += 1;
        }
    }
}

/// One watching tokio connection, lent to the function of [`Connections::watch_async`].
#[cfg(feature = "tokio")]
pub struct WatchAsync<'c> {
    conn: tokio::sync::Mutex<&'c mut crate::tokio::AsyncConnection>,
}

#[cfg(feature = "tokio")]
impl std::fmt::Debug for WatchAsync<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchAsync").finish_non_exhaustive()
    }
}

#[cfg(feature = "tokio")]
impl WatchAsync<'_> {
    /// A pipe on the watching connection; see [`Watch::pipe`]. Run it with
    /// [`execute_async`](Pipe::execute_async).
    pub fn pipe(&self) -> Pipe<&Self> {
        Pipe::with_backend(self)
    }
}

#[cfg(feature = "tokio")]
impl redpipe_core::AsyncBackend for &WatchAsync<'_> {
    async fn run_async(&self, groups: &mut [Group]) -> Result<()> {
        let mut conn = self.conn.lock().await;
        let mut first = Ok(());
        for g in groups.iter_mut().filter(|g| !g.is_empty()) {
            let result = if g.name() == DEFAULT {
                conn.execute(g.pipeline()).await
            } else {
                Err(g.fail_unknown())
            };
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}

#[cfg(feature = "tokio")]
impl Connections {
    /// [`watch`](Self::watch) for async code: `f` is an async closure whose pipes run with
    /// `execute_async`.
    pub async fn watch_async<K: ToArg, R>(
        &self,
        keys: &[K],
        mut f: impl AsyncFnMut(&WatchAsync<'_>) -> Result<R>,
    ) -> Result<R> {
        let pool = self.server_pool(DEFAULT)?;
        let mut conn = pool.take_async().await?;
        let mut attempt = 1;
        loop {
            conn.execute(&mut watch_pipeline(keys)?).await?;
            let w = WatchAsync {
                conn: tokio::sync::Mutex::new(&mut conn),
            };
            let result = f(&w).await;
            if !(aborted(&result) && attempt < WATCH_ATTEMPTS) {
                return result;
            }
            let pause = std::time::Duration::from_micros(50 * attempt as u64);
            tokio::time::sleep(pause.min(std::time::Duration::from_millis(5))).await;
            attempt += 1;
        }
    }
}
