//! `Pipe`: the redpipe model for std programs.
//!
//! A `Pipe` is one logical pipeline over any number of named connections. Each command returns a
//! [`Handle`] that is readable after the pipe ran, without passing any results object around
//! (the Python library's `foo.result`). Functions take `&mut Pipe` (or an optional parent, via
//! [`autoexec`](crate::autoexec)) and queue into it, so code built from many such functions still
//! sends one pipeline per connection. When a pipe runs, its per-connection groups execute in
//! parallel and then the [`on_execute`](Pipe::on_execute) callbacks run, in order.
//!
//! For hot paths, [`VecPipeline`] with [`Deferred`] index handles and a
//! [`Connection`](crate::Connection) costs no allocation per command once warm.

use std::sync::{Arc, OnceLock};

use redpipe_core::cmd::Queue;
use redpipe_core::{
    Args, CapacityError, Deferred, Failure, FromReply, Mark, Script, ToArg, VecPipeline,
};

use crate::error::{Error, Result};
use crate::registry::{Connections, DEFAULT, Pool};

/// Where a group's results are published once it has run.
#[derive(Default)]
pub(crate) struct Shared {
    results: OnceLock<VecPipeline>,
}

/// A command's result, readable once its pipe has run: [`Handle::result`].
pub struct Handle<T: ?Sized> {
    shared: Arc<Shared>,
    slot: std::result::Result<Deferred<T>, CapacityError>,
}

impl<T: ?Sized> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            slot: self.slot,
        }
    }
}

impl<T: ?Sized> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.slot {
            Ok(d) => write!(
                f,
                "Handle({d:?}, ran: {})",
                self.shared.results.get().is_some()
            ),
            Err(e) => write!(f, "Handle({e})"),
        }
    }
}

impl<T: FromReply + ?Sized> Handle<T> {
    /// The reply converted to `T`, or why there is none ([`Error::Pending`] before the pipe
    /// ran). Borrowed types (`&str`, `&[u8]`) borrow from the handle.
    pub fn result(&self) -> Result<T::Output<'_>> {
        let d = self.slot.map_err(Error::Capacity)?;
        let results = self.shared.results.get().ok_or(Error::Pending)?;
        d.read(results).map_err(Error::from)
    }

    /// The same slot read as another type.
    pub fn cast<U: ?Sized>(self) -> Handle<U> {
        Handle {
            shared: self.shared,
            slot: self.slot.map(Deferred::cast),
        }
    }
}

/// A value computed by an [`on_execute`](Pipe::on_execute) callback.
pub struct Derived<T> {
    cell: Arc<OnceLock<T>>,
}

impl<T> Clone for Derived<T> {
    fn clone(&self) -> Self {
        Self {
            cell: self.cell.clone(),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Derived({:?})", self.cell.get())
    }
}

impl<T> Derived<T> {
    /// The callback's value; [`Error::Pending`] until the pipe ran.
    pub fn result(&self) -> Result<&T> {
        self.cell.get().ok_or(Error::Pending)
    }
}

type Callback = Box<dyn FnOnce() + Send>;

struct Group {
    name: Arc<str>,
    pipeline: VecPipeline,
    shared: Arc<Shared>,
}

impl Group {
    fn new(name: Arc<str>, pipeline: VecPipeline) -> Self {
        Self {
            name,
            pipeline,
            shared: Arc::default(),
        }
    }
}

/// Where a scope may roll back to: its group marks are `Pipe::marks[base..]`.
struct PipeMark {
    base: usize,
    callbacks: usize,
}

/// One logical pipeline over named connections; see the [module docs](self).
pub struct Pipe {
    registry: Connections,
    groups: Vec<Group>,
    /// The group commands go to.
    route: usize,
    callbacks: Vec<Callback>,
    /// The first storage failure while queueing; execute reports it.
    full: Option<CapacityError>,
    /// Marks of the open scopes, a stack (no allocation per scope once warm).
    marks: Vec<Mark>,
    /// Results published by earlier runs; their storage is reused once no handle reads them.
    published: Vec<Arc<Shared>>,
    /// Times a group is sent again after a connection failure (0: never).
    retries: u32,
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let groups: Vec<(&str, usize)> = self
            .groups
            .iter()
            .map(|g| (&*g.name, g.pipeline.len()))
            .collect();
        f.debug_struct("Pipe")
            .field("groups", &groups)
            .finish_non_exhaustive()
    }
}

impl Default for Pipe {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipe {
    /// An empty pipe on the [global registry](Connections::global)'s default connection.
    pub fn new() -> Self {
        Self::new_in(Connections::global().clone())
    }

    pub(crate) fn new_in(registry: Connections) -> Self {
        Self {
            registry,
            groups: vec![Group::new(DEFAULT.into(), VecPipeline::new())],
            route: 0,
            callbacks: Vec::new(),
            full: None,
            marks: Vec::new(),
            published: Vec::new(),
            retries: 0,
        }
    }

    /// Opts in to sending a connection's commands again, up to `times` more times, on a new
    /// connection when the connection fails (I/O error, timeout, closed, protocol error).
    ///
    /// Off by default, because a retried pipeline can run a command twice: one the server
    /// executed before the failure, then again. Turn it on for idempotent work.
    pub fn set_retries(&mut self, times: u32) -> &mut Self {
        self.retries = times;
        self
    }

    /// Passes this pipe on as a parent: `increment("k", p.nested())`.
    pub fn nested(&mut self) -> Option<&mut Pipe> {
        Some(self)
    }

    /// Number of commands queued, on every connection.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.pipeline.len()).sum()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn mark(&mut self) -> PipeMark {
        let base = self.marks.len();
        self.marks
            .extend(self.groups.iter().map(|g| g.pipeline.mark()));
        PipeMark {
            base,
            callbacks: self.callbacks.len(),
        }
    }

    /// Closes the scope opened by `mark`, rolling its commands back if `undo`.
    fn close(&mut self, mark: PipeMark, undo: bool) {
        if undo {
            for (i, g) in self.groups.iter_mut().enumerate() {
                match self.marks.get(mark.base + i) {
                    Some(m) => g.pipeline.rollback(*m),
                    // A group the scope itself opened.
                    None => g.pipeline.reset(),
                }
            }
            self.callbacks.truncate(mark.callbacks);
        }
        self.marks.truncate(mark.base);
    }

    /// Runs `f` on this pipe; if it fails, its commands and callbacks are removed, so a failed
    /// step sends nothing (the commands queued before it are kept).
    pub fn scope<R, E>(
        &mut self,
        f: impl FnOnce(&mut Pipe) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let mark = self.mark();
        let result = f(self);
        self.close(mark, result.is_err());
        result
    }

    /// Runs `f` with its commands going to the connection named `name`, as a [scope](Self::scope).
    pub fn on<R, E>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Pipe) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let saved = self.route;
        self.route = match self.groups.iter().position(|g| &*g.name == name) {
            Some(i) => i,
            None => {
                let pipeline = self.recycled();
                self.groups.push(Group::new(name.into(), pipeline));
                self.groups.len() - 1
            }
        };
        let result = self.scope(f);
        self.route = saved;
        result
    }

    /// Runs `f` inside `MULTI`/`EXEC` on the current connection; see
    /// [`Pipeline::transaction`](redpipe_core::Pipeline::transaction). Commands `f` sends to
    /// other connections (with [`on`](Self::on)) are not part of the transaction.
    pub fn transaction<R, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut Pipe) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let route = self.route;
        let tx = self.groups[route]
            .pipeline
            .begin_transaction()
            .map_err(|e| E::from(Error::Capacity(e)))?;
        let mark = self.mark();
        let result = f(self).and_then(|v| {
            self.groups[route]
                .pipeline
                .end_transaction(tx)
                .map(|()| v)
                .map_err(|e| E::from(Error::Capacity(e)))
        });
        self.close(mark, result.is_err());
        if result.is_err() {
            self.groups[route].pipeline.abort_transaction(tx);
        }
        result
    }

    /// Registers `f` to run after every connection of the pipe has run; returns its value's
    /// handle. Callbacks run in registration order and read other handles freely.
    pub fn on_execute<T: Send + Sync + 'static>(
        &mut self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Derived<T> {
        let cell = Arc::new(OnceLock::new());
        let target = cell.clone();
        self.callbacks.push(Box::new(move || {
            let _ = target.set(f());
        }));
        Derived { cell }
    }

    /// Takes the queued groups out, leaving the pipe empty and reusable.
    fn take_groups(&mut self) -> Vec<Group> {
        let mut fresh = Vec::with_capacity(self.groups.len());
        for i in 0..self.groups.len() {
            let pipeline = self.recycled();
            fresh.push(Group::new(self.groups[i].name.clone(), pipeline));
        }
        std::mem::replace(&mut self.groups, fresh)
    }

    /// An empty pipeline, reusing the storage of an earlier run whose handles are all gone.
    fn recycled(&mut self) -> VecPipeline {
        while let Some(mut shared) = self.published.pop() {
            if let Some(mut p) = Arc::get_mut(&mut shared).and_then(|s| s.results.take()) {
                p.reset();
                return p;
            }
        }
        VecPipeline::new()
    }

    /// Publishes every group's results, then runs the callbacks. A group that did not run
    /// (another group's name was unknown, its thread panicked) fails here, so that no handle is
    /// left pending.
    fn finish(&mut self, groups: Vec<Group>) {
        for mut g in groups {
            if !g.pipeline.is_done() {
                g.pipeline.fail(Failure::Cancelled);
            }
            let _ = g.shared.results.set(g.pipeline);
            self.published.push(g.shared);
        }
        // Keep only what may still be reclaimed: at most a few runs' worth.
        if self.published.len() > 2 * self.groups.len() + 2 {
            let excess = self.published.len() - (2 * self.groups.len() + 2);
            self.published.drain(..excess);
        }
        for cb in std::mem::take(&mut self.callbacks) {
            cb();
        }
    }

    /// The pools of the groups with commands, or the error for an unknown name (after failing
    /// that group's slots).
    fn pools(&self, groups: &mut [Group]) -> Result<Vec<Option<Arc<Pool>>>> {
        let mut first_error = None;
        let pools = groups
            .iter_mut()
            .map(|g| {
                if g.pipeline.is_empty() {
                    return None;
                }
                match self.registry.pool(&g.name) {
                    Ok(pool) => Some(pool),
                    Err(e) => {
                        g.pipeline.fail(Failure::Closed);
                        first_error.get_or_insert(e);
                        None
                    }
                }
            })
            .collect();
        match first_error {
            Some(e) => Err(e),
            None => Ok(pools),
        }
    }

    fn check_full(&mut self, groups: &mut [Group]) -> Result<()> {
        if let Some(e) = self.full.take() {
            for g in groups {
                g.pipeline.fail(Failure::Cancelled);
            }
            return Err(Error::Capacity(e));
        }
        Ok(())
    }

    /// Runs every queued command, one pipeline per connection, in parallel threads when there
    /// are several; then the callbacks. The pipe is empty again afterwards.
    ///
    /// `Err` reports the first connection failure; each handle also carries its own result
    /// (server errors stay in their slot, connection failures in every slot they cut off).
    pub fn execute(&mut self) -> Result<()> {
        let mut groups = self.take_groups();
        let result = self.check_full(&mut groups).and_then(|()| {
            let pools = self.pools(&mut groups)?;
            let busy = pools.iter().filter(|p| p.is_some()).count();
            if busy <= 1 {
                let retries = self.retries;
                groups
                    .iter_mut()
                    .zip(&pools)
                    .filter_map(|(g, p)| Some(run_group(p.as_ref()?, g, retries)))
                    .collect::<Result<Vec<()>>>()
                    .map(drop)
            } else {
                let retries = self.retries;
                std::thread::scope(|s| {
                    let running: Vec<_> = groups
                        .iter_mut()
                        .zip(&pools)
                        .filter_map(|(g, p)| {
                            let pool = p.as_ref()?;
                            Some(s.spawn(move || run_group(pool, g, retries)))
                        })
                        .collect();
                    running
                        .into_iter()
                        .map(|t| t.join().unwrap_or(Err(Error::Closed)))
                        .collect::<Result<Vec<()>>>()
                        .map(drop)
                })
            }
        });
        self.finish(groups);
        result
    }

    /// [`execute`](Self::execute) on tokio connections: the groups run concurrently.
    #[cfg(feature = "tokio")]
    pub async fn execute_async(&mut self) -> Result<()> {
        let mut groups = self.take_groups();
        let result = match self.check_full(&mut groups) {
            Err(e) => Err(e),
            Ok(()) => match self.pools(&mut groups) {
                Err(e) => Err(e),
                Ok(pools) => {
                    let runs = groups
                        .iter_mut()
                        .zip(&pools)
                        .filter_map(|(g, p)| Some(run_group_async(p.clone()?, g, self.retries)));
                    futures_util::future::join_all(runs)
                        .await
                        .into_iter()
                        .collect::<Result<Vec<()>>>()
                        .map(drop)
                }
            },
        };
        self.finish(groups);
        result
    }
}

/// Whether a failed run may be retried on a new connection (when the caller opted in).
fn retryable(e: &Error) -> bool {
    matches!(e, Error::Io(_) | Error::Closed | Error::Protocol(_))
}

fn run_group(pool: &Pool, g: &mut Group, retries: u32) -> Result<()> {
    let mut attempt = 0;
    loop {
        let result = run_group_once(pool, g);
        match result {
            Err(e) if attempt < retries && retryable(&e) && g.pipeline.rewind() => attempt += 1,
            result => return result,
        }
    }
}

fn run_group_once(pool: &Pool, g: &mut Group) -> Result<()> {
    let mut conn = match pool.take() {
        Ok(c) => c,
        Err(e) => {
            g.pipeline.fail(failure_of(&e));
            return Err(e);
        }
    };
    pool.count(g.pipeline.len());
    let result = conn.execute(&mut g.pipeline);
    pool.put(conn);
    result
}

#[cfg(feature = "tokio")]
async fn run_group_async(pool: Arc<Pool>, g: &mut Group, retries: u32) -> Result<()> {
    let mut attempt = 0;
    loop {
        let result = run_group_async_once(&pool, g).await;
        match result {
            Err(e) if attempt < retries && retryable(&e) && g.pipeline.rewind() => attempt += 1,
            result => return result,
        }
    }
}

#[cfg(feature = "tokio")]
async fn run_group_async_once(pool: &Pool, g: &mut Group) -> Result<()> {
    let mut conn = match pool.take_async().await {
        Ok(c) => c,
        Err(e) => {
            g.pipeline.fail(failure_of(&e));
            return Err(e);
        }
    };
    pool.count(g.pipeline.len());
    let result = conn.execute(&mut g.pipeline).await;
    pool.put_async(conn);
    result
}

/// What the slots of a pipeline that could not even connect fail with.
fn failure_of(e: &Error) -> Failure {
    match e {
        Error::Io(io) => redpipe_core::io::io_failure(io),
        Error::Protocol(d) => Failure::Protocol(*d),
        _ => Failure::Closed,
    }
}

impl Queue for Pipe {
    type Handle<T: FromReply + ?Sized> = Handle<T>;

    fn query<T: FromReply + ?Sized, N: ToArg, A: Args>(
        &mut self,
        command: redpipe_core::Cmd<N, A>,
    ) -> Handle<T> {
        let g = &mut self.groups[self.route];
        let slot = g.pipeline.query(command);
        if let Err(e) = slot {
            self.full.get_or_insert(e);
        }
        Handle {
            shared: g.shared.clone(),
            slot,
        }
    }

    fn eval_script<T: FromReply + ?Sized, K: ToArg, A: Args>(
        &mut self,
        script: &Script<'_>,
        keys: &[K],
        args: A,
    ) -> Handle<T> {
        let g = &mut self.groups[self.route];
        let slot = g.pipeline.eval(script, keys, args);
        if let Err(e) = slot {
            self.full.get_or_insert(e);
        }
        Handle {
            shared: g.shared.clone(),
            slot,
        }
    }
}
