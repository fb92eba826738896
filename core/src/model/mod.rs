//! The Pipe model (feature `alloc`), documented on [`Pipe`], its public face.

mod backend;
mod error;
mod group;
pub(crate) mod handle;
mod loopback;
mod spare;
mod typed;

pub use backend::{AsyncBackend, AsyncTransport, Backend, Connector, Transport};
pub use error::{Error, IoError, Result, StructError};
pub use group::Group;
pub use handle::{Derived, Executed, Handle};
pub use loopback::Loopback;
pub use spare::Spare;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::codec::encode::{Args, Cmd, ToArg};
use crate::codec::error::{CapacityError, Failure};
use crate::codec::from_reply::FromReply;
use crate::codec::into_owned::IntoOwned;
use crate::engine::deferred::SlotError;
use crate::engine::queue::{Compose, OnExecute, Queue};
#[cfg(feature = "scripting")]
use crate::engine::script::Script;
use crate::engine::{Mark, VecPipeline};
use crate::mux::Sharing;
use crate::session::Retry;
use handle::Shared;

/// The body of [`Pipe::autoexec`] and [`Pipe::autoexec_async`], once: join `parent`'s
/// pipeline if given, else run `f` on a new pipe and execute it when `f` succeeds. `$execute`
/// is `execute` or `execute_async`, `$($await)*` empty or `.await`.
macro_rules! autoexec {
    ($backend:ident, $parent:ident, $f:ident, $execute:ident, $($await:tt)*) => {{
        match $parent {
            Some(p) => p.scope($f),
            None => {
                let mut p = Self::with_backend($backend());
                let r = $f(&mut p)?;
                p.$execute() $($await)*?;
                Ok(r)
            }
        }
    }};
}

/// The name of the default connection.
pub const DEFAULT: &str = "";

/// A callback, or its failure when the pipe did not run to the end.
type Callback = Box<dyn FnOnce(core::result::Result<&Executed, Failure>) + Send + Sync>;

/// Where a scope may roll back to: its group marks are `Pipe::marks[base..]`.
struct PipeMark {
    base: usize,
    callbacks: usize,
}

/// A scope opened with [`Pipe::enter`] or [`Pipe::enter_on`], closed with [`Pipe::leave`]: for
/// callers that cannot hand [`Pipe::scope`] a closure holding the pipe, such as a JavaScript
/// callback that receives the pipe through a wrapper, or code that awaits inside the scope.
#[must_use = "a scope must be closed with Pipe::leave"]
#[derive(Debug)]
pub struct Scope {
    mark: PipeMark,
    /// The route to restore on leaving.
    route: usize,
}

impl core::fmt::Debug for PipeMark {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PipeMark")
            .field("depth", &self.base)
            .finish_non_exhaustive()
    }
}

/// One logical pipeline over named connections, whose handles read their own results once it
/// has run (feature `alloc`).
///
/// A `Pipe` groups commands by connection name (one core [`VecPipeline`] per name), keeps
/// scopes and callbacks across the groups, and hands the groups to a [`Backend`] to run. It owns
/// no socket and no thread: the std adapter's registry runs groups over TCP/TLS in threads or
/// tokio tasks, the wasm adapter over WebSockets, a cluster backend over per-node connections,
/// [`Connector`] + [`Loopback`] in memory. So the model, and everything written over it
/// (keyspaces, structs, users' reusable functions), is the same on every platform.
///
/// ```
/// use redpipe_core::{prelude::*, Connector, Loopback, Pipe};
///
/// // An in-memory "server" that answers INCR with 1 and EXPIRE with 1.
/// let backend = Connector(|_name: &str| Ok(Loopback::new(|_words: &[&[u8]]| b":1\r\n".to_vec())));
/// let mut p = Pipe::with_backend(backend);
/// let hits = p.incr("hits");
/// let _ = p.expire("hits", 60);
/// let doubled = p.on_execute({
///     let hits = hits.clone();
///     move |_| hits.result().map_or(0, |n| n * 2)
/// });
/// p.execute()?;
/// assert_eq!((hits.result()?, *doubled.result()?), (1, 2));
/// # Ok::<(), redpipe_core::Error>(())
/// ```
///
/// # Rules
/// - Commands queued in a [scope](Pipe::scope) that fails are removed with its callbacks;
///   nothing of it is sent.
/// - Groups run in parallel where the backend can; callbacks run after every group, in
///   registration order.
/// - A connection failure fails every waiting handle of its group with the reason; handles of
///   other groups keep their results.
///
/// # Method map
/// - **queue**: the command methods (`p.incr(k)`, `p.get(k)`: each with its documented reply
///   type; the [`cmd`](mod@crate::cmd) traits' generic forms to read another), [`Queue::query`] for
///   any [`Cmd`], [`on_execute`](Self::on_execute) for a value computed after the run
///   ([`Derived`]). Each returns a [`Handle`] at once; nothing is sent yet.
/// - **scope**: [`scope`](Self::scope) (rolled back on `Err`), [`transaction`](Self::transaction)
///   (`MULTI`/`EXEC`), [`enter`](Self::enter)/[`leave`](Self::leave) without a closure,
///   [`autoexec`](Self::autoexec)/[`autoexec_async`](Self::autoexec_async) (join a parent pipe
///   or run alone), [`nested`](Self::nested), [`in_scope`](Self::in_scope).
/// - **route**: [`on`](Self::on)/[`enter_on`](Self::enter_on) (a named connection),
///   [`set_sharing`](Self::set_sharing), [`set_retries`](Self::set_retries),
///   [`backend`](Self::backend).
/// - **run**: [`execute`](Self::execute), [`execute_async`](Self::execute_async) (the backend runs
///   each group; then the callbacks), or [`discard`](Self::discard).
/// - **read**: [`Handle::result`], [`Handle::read`], [`Handle::is_ready`], [`Handle::cast`],
///   [`Derived::result`]; [`len`](Self::len), [`is_empty`](Self::is_empty) count what is queued.
/// - **reuse**: [`with_spare`](Self::with_spare), [`into_spare`](Self::into_spare) keep the
///   buffers of a pipe for the next one.
pub struct Pipe<B> {
    backend: B,
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
    /// The vector of the groups that ran last, empty, for the next run's groups.
    ran: Vec<Group>,
    retry: Retry,
    sharing: Sharing,
}

impl<B> core::fmt::Debug for Pipe<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pipe")
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl<B: Default> Default for Pipe<B> {
    fn default() -> Self {
        Self::with_backend(B::default())
    }
}

impl<B: Default> Pipe<B> {
    /// An empty pipe on the backend's default (for the std adapter: the process-wide registry
    /// of connections).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<B> Pipe<B> {
    /// An empty pipe whose groups run on `backend`.
    pub fn with_backend(backend: B) -> Self {
        Self {
            backend,
            groups: alloc::vec![Group::new(DEFAULT.into(), VecPipeline::new(), Retry::NEVER)],
            route: 0,
            callbacks: Vec::new(),
            full: None,
            marks: Vec::new(),
            published: Vec::new(),
            ran: Vec::new(),
            retry: Retry::NEVER,
            sharing: Sharing::Auto,
        }
    }

    /// The backend the groups run on.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Opts in to sending a connection's commands again, up to `times` more times, on a new
    /// connection when the connection fails (I/O error, timeout, closed, protocol error).
    ///
    /// Off by default, because a retried pipeline can run a command twice: one the server
    /// executed before the failure, then again. Turn it on for idempotent work.
    pub fn set_retries(&mut self, times: u32) -> &mut Self {
        self.retry = Retry::times(times);
        for g in &mut self.groups {
            g.retry = self.retry;
        }
        self
    }

    /// Sets where every connection's share of this pipe runs, where the backend can share
    /// connections among pipes (the std registry's tokio tasks and threads, the browser's
    /// sockets): [`Sharing::Auto`] by default, a shared connection unless a command needs one of
    /// its own. Applies to the runs that follow.
    ///
    /// ```
    /// use redpipe_core::{mux::Sharing, prelude::*, Connector, Loopback, Pipe};
    /// let backend = Connector(|_: &str| Ok(Loopback::new(|_: &[&[u8]]| b"+OK\r\n".to_vec())));
    /// let mut bulk = Pipe::with_backend(backend);
    /// // A bulk load: on a connection of its own, not in front of everyone's small requests.
    /// bulk.set_sharing(Sharing::Dedicated);
    /// for i in 0..1000 {
    ///     let _ = bulk.set(i, "value");
    /// }
    /// bulk.execute()?;
    /// # Ok::<(), redpipe_core::Error>(())
    /// ```
    pub fn set_sharing(&mut self, sharing: Sharing) -> &mut Self {
        self.sharing = sharing;
        self
    }

    /// Passes this pipe on as a parent: `increment("k", p.nested())`.
    pub fn nested(&mut self) -> Option<&mut Self> {
        Some(self)
    }

    /// Whether a scope is open: the pipe belongs to an enclosing caller, whose `execute` runs
    /// it (an `execute` in here joins that one).
    pub fn in_scope(&self) -> bool {
        !self.marks.is_empty()
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
    /// step sends nothing (the commands queued before it are kept). An `execute` in `f` sends
    /// nothing: the commands join this pipe (see [`execute`](Self::execute)).
    ///
    /// `f` returns [`Result`](crate::Result), so `Ok(handle)` needs no annotation; carry an
    /// error of your own with [`Error::other`], or call the trait's form, generic in the error,
    /// as [`Compose::scope`]`(pipe, f)`.
    pub fn scope<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.scoped(f)
    }

    /// Runs `f` with its commands going to the connection named `name`, as a
    /// [scope](Self::scope) ([`Compose::on`] for an error type of your own).
    pub fn on<R>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.routed(name, f)
    }

    fn scoped<R, E>(
        &mut self,
        f: impl FnOnce(&mut Self) -> core::result::Result<R, E>,
    ) -> core::result::Result<R, E> {
        let scope = self.enter();
        let result = f(self);
        self.leave(scope, result.is_ok());
        result
    }

    fn routed<R, E>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Self) -> core::result::Result<R, E>,
    ) -> core::result::Result<R, E> {
        let scope = self.enter_on(name);
        let result = f(self);
        self.leave(scope, result.is_ok());
        result
    }

    /// Opens a [scope](Self::scope) without a closure; the caller MUST close it with
    /// [`leave`](Self::leave), innermost first. Until then [`execute`](Self::execute) joins
    /// the enclosing pipeline (sends nothing).
    ///
    /// ```
    /// use redpipe_core::{prelude::*, Connector, Loopback, Pipe};
    /// let server = |_: &str| Ok(Loopback::new(|_: &[&[u8]]| b":1\r\n".to_vec()));
    /// let mut p = Pipe::with_backend(Connector(server));
    /// let kept = p.incr("a");
    /// let scope = p.enter();
    /// let dropped = p.incr("b");
    /// p.leave(scope, false); // a failed step: its commands are removed
    /// assert_eq!(p.len(), 1);
    /// let scope = p.enter_on("other");
    /// let elsewhere = p.incr("c");
    /// p.execute()?; // inside a scope: joins the enclosing pipeline, sends nothing
    /// assert!(!kept.is_ready());
    /// p.leave(scope, true);
    /// p.execute()?;
    /// assert_eq!((kept.result()?, elsewhere.result()?), (1, 1));
    /// assert!(dropped.result().is_err());
    /// # Ok::<(), redpipe_core::Error>(())
    /// ```
    pub fn enter(&mut self) -> Scope {
        Scope {
            mark: self.mark(),
            route: self.route,
        }
    }

    /// Opens a scope whose commands go to the connection named `name`, as [`on`](Self::on)
    /// does; close it with [`leave`](Self::leave).
    pub fn enter_on(&mut self, name: &str) -> Scope {
        let route = self.route;
        self.route = match self.groups.iter().position(|g| &*g.name == name) {
            Some(i) => i,
            None => {
                let (pipeline, cell) = self.recycled();
                self.groups
                    .push(Group::with_cell(name.into(), pipeline, self.retry, cell));
                self.groups.len() - 1
            }
        };
        Scope {
            mark: self.mark(),
            route,
        }
    }

    /// Closes `scope`: keeps its commands and callbacks if `keep`, else removes them (nothing
    /// of a failed scope is sent); routes commands where they went before it opened.
    pub fn leave(&mut self, scope: Scope, keep: bool) {
        self.close(scope.mark, !keep);
        self.route = scope.route;
    }

    /// Runs `f` inside `MULTI`/`EXEC` on the current connection; see
    /// [`Pipeline::transaction`](crate::Pipeline::transaction). Commands `f` sends to other
    /// connections (with [`on`](Self::on)) are not part of the transaction.
    ///
    /// `f` returns [`Result`](crate::Result); [`Transact::transaction`](crate::Transact) is the
    /// form generic in the error.
    #[cfg(feature = "transactions")]
    pub fn transaction<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.transacted(f)
    }

    #[cfg(feature = "transactions")]
    fn transacted<R, E: From<CapacityError>>(
        &mut self,
        f: impl FnOnce(&mut Self) -> core::result::Result<R, E>,
    ) -> core::result::Result<R, E> {
        let route = self.route;
        let tx = self.groups[route].pipeline.begin_transaction()?;
        let mark = self.mark();
        let result = f(self).and_then(|v| {
            self.groups[route]
                .pipeline
                .end_transaction(tx)
                .map(|()| v)
                .map_err(E::from)
        });
        self.close(mark, result.is_err());
        if result.is_err() {
            self.groups[route].pipeline.abort_transaction(tx);
        }
        result
    }

    /// Registers `f` to run after every connection of the pipe has run; returns its value's
    /// handle. Callbacks run in registration order and read other handles freely.
    ///
    /// When `execute` fails (a connection failed, a command did not fit, the run was cancelled)
    /// no callback runs, as in RedPipe: a callback that unwraps its handles must not see
    /// failures it was not written for. Its [`Derived`] then reads as that failure. Server
    /// errors in single handles are results, not failures: callbacks run and see them.
    pub fn on_execute<T: Send + Sync + 'static>(
        &mut self,
        f: impl FnOnce(&Executed) -> T + Send + Sync + 'static,
    ) -> Derived<T> {
        let cell = Arc::new(spin::Once::new());
        let target = cell.clone();
        self.callbacks.push(Box::new(move |outcome| {
            target.call_once(|| outcome.map(f));
        }));
        Derived { cell }
    }

    /// Publishes every group's results, then runs the callbacks if the run succeeded (else each
    /// callback's value is the failure). A group that did not run (another group's name was
    /// unknown, its thread panicked, the run was cancelled) fails here, so that no handle is
    /// left pending.
    fn finish(&mut self, mut groups: Vec<Group>, outcome: core::result::Result<(), Failure>) {
        for mut g in groups.drain(..) {
            if !g.pipeline.is_done() {
                g.pipeline.fail(Failure::Cancelled);
            }
            let pipeline = g.pipeline;
            g.shared.results.call_once(|| pipeline);
            self.published.push(g.shared);
        }
        self.ran = groups;
        // Keep only what may still be reclaimed: at most a few runs' worth.
        let keep = 2 * self.groups.len() + 2;
        if self.published.len() > keep {
            let excess = self.published.len() - keep;
            self.published.drain(..excess);
        }
        let ran = outcome.map(|()| &Executed::RAN);
        for cb in core::mem::take(&mut self.callbacks) {
            cb(ran);
        }
    }

    /// The groups to run, after the queueing checks: a command that did not fit fails the run
    /// before anything is sent.
    fn start(&mut self) -> (Vec<Group>, Result<()>) {
        let mut groups = self.take_groups();
        for g in &mut groups {
            g.pipeline.set_sharing(self.sharing);
        }
        if let Some(e) = self.full.take() {
            for g in &mut groups {
                g.pipeline.fail(Failure::Cancelled);
            }
            return (groups, Err(Error::Capacity(e)));
        }
        (groups, Ok(()))
    }
}

impl<B: Backend> Pipe<B> {
    /// Runs every queued command, one pipeline per connection (in parallel where the backend
    /// can), then the callbacks. The pipe is empty again afterwards.
    ///
    /// `Err` reports the first connection failure; each handle also carries its own result
    /// (server errors stay in their slot, connection failures in every slot they cut off).
    ///
    /// Inside a scope — in a function that was handed this pipe through
    /// [`autoexec`](Self::autoexec)`(Some(pipe), ..)`, [`scope`](Self::scope), [`on`](Self::on)
    /// or [`transaction`](Self::transaction) — `execute` sends nothing and returns `Ok`: the
    /// commands join the enclosing pipeline and run when its owner executes it, as RedPipe's
    /// nested pipelines do. Their handles are ready after that.
    pub fn execute(&mut self) -> Result<()> {
        if self.in_scope() {
            return Ok(());
        }
        let (mut groups, mut result) = self.start();
        if result.is_ok() {
            result = self.backend.run(&mut groups);
        }
        self.finish(groups, outcome(&result));
        result
    }

    /// The redpipe scope: runs `f` on `parent` if given (its commands join the parent's
    /// pipeline and run when the parent does; an error rolls back only `f`'s commands); else on
    /// a new pipe over `backend`, executed when `f` returns `Ok` and dropped unsent when it
    /// returns `Err`.
    pub fn autoexec<R>(
        backend: impl FnOnce() -> B,
        parent: Option<&mut Self>,
        f: impl FnOnce(&mut Self) -> Result<R>,
    ) -> Result<R> {
        autoexec!(backend, parent, f, execute,)
    }
}

impl<B: AsyncBackend> Pipe<B> {
    /// [`autoexec`](Pipe::autoexec) over an async backend: joins `parent` if given, else runs
    /// `f`'s commands on a new pipe with [`execute_async`](Pipe::execute_async).
    pub async fn autoexec_async<R>(
        backend: impl FnOnce() -> B,
        parent: Option<&mut Self>,
        f: impl FnOnce(&mut Self) -> Result<R>,
    ) -> Result<R> {
        autoexec!(backend, parent, f, execute_async, .await)
    }

    /// [`execute`](Pipe::execute) over an async backend: the groups run concurrently.
    ///
    /// If the future is dropped before it completes, every handle of the pipe fails with
    /// [`Failure::Cancelled`] (none stays pending) and no callback runs; the connections that
    /// were in the middle of a pipeline are dropped, never pooled.
    ///
    /// Inside a scope it sends nothing: see [`execute`](Pipe::execute).
    pub async fn execute_async(&mut self) -> Result<()> {
        if self.in_scope() {
            return Ok(());
        }
        let (groups, result) = self.start();
        let mut run = Running {
            pipe: self,
            groups: Some(groups),
        };
        let result = match (result, &mut run.groups) {
            (Ok(()), Some(groups)) => run.pipe.backend.run_async(groups).await,
            (result, _) => result,
        };
        if let Some(groups) = run.groups.take() {
            run.pipe.finish(groups, outcome(&result));
        }
        result
    }
}

/// A pipe dropped with commands queued (a scope that failed, a run that was never started):
/// they are never sent, and their handles read [`Failure::Cancelled`] instead of waiting.
impl<B> Drop for Pipe<B> {
    fn drop(&mut self) {
        self.discard();
    }
}

/// The groups of a run in progress; dropped before the run ends (a cancelled future), it fails
/// and publishes them so that no handle is left pending.
struct Running<'p, B> {
    pipe: &'p mut Pipe<B>,
    groups: Option<Vec<Group>>,
}

impl<B> Drop for Running<'_, B> {
    fn drop(&mut self) {
        if let Some(groups) = self.groups.take() {
            self.pipe.finish(groups, Err(Failure::Cancelled));
        }
    }
}

/// What a run's callbacks learn of it.
fn outcome(result: &Result<()>) -> core::result::Result<(), Failure> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => Err(e.failure()),
    }
}

impl<B> Queue for Pipe<B> {
    type Handle<T: FromReply + ?Sized> = Handle<T>;
    type OwnedHandle<D: IntoOwned> = Handle<D::Owned>;
    type Results<'r> = Executed;

    fn owned<D: IntoOwned>(handle: Handle<D>) -> Handle<D::Owned> {
        Handle::owned(handle)
    }

    fn query<T: FromReply + ?Sized>(&mut self, command: Cmd<impl ToArg, impl Args>) -> Handle<T> {
        let g = &mut self.groups[self.route];
        let slot = g.pipeline.query(command);
        if let Err(e) = slot {
            self.full.get_or_insert(e);
        }
        Handle::new(g.shared.clone(), slot)
    }

    #[cfg(feature = "scripting")]
    fn eval_script<T: FromReply + ?Sized>(
        &mut self,
        script: &Script<'_>,
        keys: impl Args,
        args: impl Args,
    ) -> Handle<T> {
        let g = &mut self.groups[self.route];
        let slot = g.pipeline.eval(script, keys, args);
        if let Err(e) = slot {
            self.full.get_or_insert(e);
        }
        Handle::new(g.shared.clone(), slot)
    }

    fn results(&self) -> &Executed {
        &Executed::RAN
    }

    fn read<'r, T: FromReply + ?Sized>(
        handle: &'r Handle<T>,
        _: &'r Executed,
    ) -> core::result::Result<T::Output<'r>, SlotError<'r>> {
        handle.read()
    }
}

impl<B> Compose for Pipe<B> {
    fn scope<R, E>(
        &mut self,
        f: impl FnOnce(&mut Self) -> core::result::Result<R, E>,
    ) -> core::result::Result<R, E> {
        self.scoped(f)
    }

    fn on<R, E>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Self) -> core::result::Result<R, E>,
    ) -> core::result::Result<R, E> {
        self.routed(name, f)
    }
}

#[cfg(feature = "transactions")]
impl<B> crate::engine::queue::Transact for Pipe<B> {
    fn transaction<R, E: From<CapacityError>>(
        &mut self,
        f: impl FnOnce(&mut Self) -> core::result::Result<R, E>,
    ) -> core::result::Result<R, E> {
        self.transacted(f)
    }
}

impl<B> OnExecute for Pipe<B> {
    type Computed<T: Send + Sync + 'static> = Derived<T>;

    fn on_execute<T: Send + Sync + 'static>(
        &mut self,
        f: impl FnOnce(&Executed) -> T + Send + Sync + 'static,
    ) -> Derived<T> {
        Pipe::on_execute(self, f)
    }

    fn read_computed<'r, T: Send + Sync + 'static>(
        computed: &'r Derived<T>,
        _: &'r Executed,
    ) -> core::result::Result<&'r T, SlotError<'r>> {
        computed.read()
    }
}
