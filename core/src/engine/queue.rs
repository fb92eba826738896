//! The traits generic code is written against: queue a command, read its handle, open a scope,
//! route to a named connection, wrap a transaction, register a callback.
//!
//! Every pipeline of the project implements them: the core [`Pipeline`] (any storage, no
//! allocator needed) and the `Pipe` model (feature `alloc`) that the std, wasm and cluster
//! adapters run. A function written over these traits — a command group, a keyspace,
//! a struct loader, a user's reusable function — runs on all of them unchanged:
//!
//! ```
//! use std::convert::Infallible;
//! use redpipe_core::{prelude::*, VecPipeline};
//!
//! /// Counts a visit on whatever it is given; the result is read when the pipeline has run.
//! fn visit<Q: Compose>(q: &mut Q, page: &str) -> Result<Q::Handle<i64>, Infallible> {
//!     q.on("stats", |q| Ok(q.incr(page)))
//! }
//!
//! let mut p = VecPipeline::new();
//! let Ok(n) = visit(&mut p, "/home");
//! let sent = p.poll_output().len();
//! p.consume_output(sent);
//! p.handle_input(b":7\r\n").unwrap();
//! assert_eq!(VecPipeline::read(&n, p.results()), Ok(7));
//! ```

#[cfg(feature = "scripting")]
use crate::codec::encode::cmd;
#[cfg(feature = "scripting")]
use crate::codec::encode::count_args;
use crate::codec::encode::{Args, Cmd, ToArg};
use crate::codec::error::{CapacityError, Failure};
use crate::codec::from_reply::FromReply;
use crate::codec::into_owned::IntoOwned;
use crate::codec::storage::Storage;
use crate::engine::deferred::{Deferred, Replies, SlotError};
#[cfg(feature = "scripting")]
use crate::engine::script::Script;
use crate::engine::{Entry, Pipeline};

/// Something commands can be queued on; every command builder goes through it.
///
/// `query` is the one method an implementation must write besides reading: every command
/// builder, script and transaction is built on it.
pub trait Queue {
    /// What queueing returns for a reply read as `T`.
    type Handle<T: FromReply + ?Sized>;

    /// What a keyspace's or a struct's command returns for a stored value read through shape
    /// `D` (`Option<Decoded<Integer>>`): on the `Pipe` model a handle of what the user gets
    /// (`Handle<Option<i64>>`, the same type as a plain command's); on the core [`Pipeline`],
    /// which has no allocator to make values owned, the handle of `D` itself.
    type OwnedHandle<D: IntoOwned>;

    /// Turns a handle of shape `D` into what [`OwnedHandle`](Self::OwnedHandle) says.
    fn owned<D: IntoOwned>(handle: Self::Handle<D>) -> Self::OwnedHandle<D>;

    /// What handles are read from once the pipeline has run, and what callbacks receive: the
    /// pipeline itself for the core [`Pipeline`], nothing of substance for the `Pipe` model,
    /// whose handles carry their results.
    type Results<'r>: ?Sized;

    /// Queues any command: `p.query::<i64>(cmd("INCRBY").arg("k").arg(5))`.
    fn query<T: FromReply + ?Sized>(
        &mut self,
        command: Cmd<impl ToArg, impl Args>,
    ) -> Self::Handle<T>;

    /// Queues a Lua script. By default `EVAL` with the body; pipelines that keep scripts
    /// (the core [`Pipeline`], feature `scripting`) send `EVALSHA` with an `EVAL` fallback.
    #[cfg(feature = "scripting")]
    fn eval_script<T: FromReply + ?Sized>(
        &mut self,
        script: &Script<'_>,
        keys: impl Args,
        args: impl Args,
    ) -> Self::Handle<T> {
        self.query(
            cmd("EVAL")
                .arg(script.body())
                .arg(count_args(&keys))
                .arg(keys)
                .arg(args),
        )
    }

    /// What handles are read from, for generic code that reads after the pipeline ran.
    fn results(&self) -> &Self::Results<'_>;

    /// Reads a handle of this kind of pipeline: the reply converted to `T`, or why there is
    /// none. Generic code (a wrapper handle reading its inner handle) reads through this; code
    /// that knows its pipeline reads the handle directly (`d.read(&p)`, `h.result()`).
    fn read<'r, T: FromReply + ?Sized>(
        handle: &'r Self::Handle<T>,
        from: &'r Self::Results<'_>,
    ) -> Result<T::Output<'r>, SlotError<'r>>;
}

/// Scopes and routing: what reusable functions need to compose.
pub trait Compose: Queue + Sized {
    /// Runs `f` on this pipeline; if it returns an error, the commands (and callbacks) it queued
    /// are removed, so a failed step sends nothing.
    fn scope<R, E>(&mut self, f: impl FnOnce(&mut Self) -> Result<R, E>) -> Result<R, E>;

    /// Runs `f` as a [scope](Self::scope) whose commands go to the connection named `name`.
    /// On a pipeline that is one connection (the core [`Pipeline`]) it is only a scope.
    fn on<R, E>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> Result<R, E>) -> Result<R, E>;
}

/// `MULTI`/`EXEC` around a scope (feature `transactions`).
#[cfg(feature = "transactions")]
pub trait Transact: Compose {
    /// Runs `f` inside `MULTI` ... `EXEC`; each handle still reads its own command's result.
    /// See [`Pipeline::transaction`].
    fn transaction<R, E: From<CapacityError>>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<R, E>,
    ) -> Result<R, E>;
}

/// Callbacks that run once the pipeline has run (feature `alloc`).
#[cfg(feature = "alloc")]
pub trait OnExecute: Queue {
    /// The handle of a callback's value.
    type Computed<T: Send + Sync + 'static>;

    /// Registers `f` to run once every command of the pipeline has its result; it reads
    /// handles from the results it is given. Returns a handle to what it returns.
    fn on_execute<T: Send + Sync + 'static>(
        &mut self,
        f: impl FnOnce(&Self::Results<'_>) -> T + Send + Sync + 'static,
    ) -> Self::Computed<T>;

    /// Reads a callback's value.
    fn read_computed<'r, T: Send + Sync + 'static>(
        computed: &'r Self::Computed<T>,
        from: &'r Self::Results<'_>,
    ) -> Result<&'r T, SlotError<'r>>;
}

impl<O, R, E> Queue for Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    type Handle<T: FromReply + ?Sized> = Result<Deferred<T>, CapacityError>;
    type OwnedHandle<D: IntoOwned> = Self::Handle<D>;
    type Results<'r> = dyn Replies + 'r;

    #[inline]
    fn owned<D: IntoOwned>(handle: Self::Handle<D>) -> Self::Handle<D> {
        handle
    }

    #[inline]
    fn query<T: FromReply + ?Sized>(
        &mut self,
        command: Cmd<impl ToArg, impl Args>,
    ) -> Self::Handle<T> {
        Pipeline::query(self, command)
    }

    #[cfg(feature = "scripting")]
    fn eval_script<T: FromReply + ?Sized>(
        &mut self,
        script: &Script<'_>,
        keys: impl Args,
        args: impl Args,
    ) -> Self::Handle<T> {
        Pipeline::eval(self, script, keys, args)
    }

    fn results(&self) -> &Self::Results<'_> {
        self
    }

    #[inline]
    fn read<'r, T: FromReply + ?Sized>(
        handle: &'r Self::Handle<T>,
        from: &'r Self::Results<'_>,
    ) -> Result<T::Output<'r>, SlotError<'r>> {
        match handle {
            Ok(d) => d.read(from),
            Err(e) => Err(SlotError::Failed(Failure::Capacity(*e))),
        }
    }
}

impl<O, R, E> Compose for Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    fn scope<T, Err>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Err>) -> Result<T, Err> {
        Pipeline::scope(self, f)
    }

    fn on<T, Err>(
        &mut self,
        _: &str,
        f: impl FnOnce(&mut Self) -> Result<T, Err>,
    ) -> Result<T, Err> {
        Pipeline::scope(self, f)
    }
}

#[cfg(feature = "transactions")]
impl<O, R, E> Transact for Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    fn transaction<T, Err: From<CapacityError>>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Err>,
    ) -> Result<T, Err> {
        Pipeline::transaction(self, f)
    }
}

#[cfg(feature = "alloc")]
impl<O, R, E> OnExecute for Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    type Computed<T: Send + Sync + 'static> = crate::engine::Computed<T>;

    fn on_execute<T: Send + Sync + 'static>(
        &mut self,
        f: impl FnOnce(&Self::Results<'_>) -> T + Send + Sync + 'static,
    ) -> Self::Computed<T> {
        Pipeline::on_execute(self, move |view| f(view))
    }

    fn read_computed<'r, T: Send + Sync + 'static>(
        computed: &'r Self::Computed<T>,
        from: &'r Self::Results<'_>,
    ) -> Result<&'r T, SlotError<'r>> {
        computed.read(from)
    }
}
