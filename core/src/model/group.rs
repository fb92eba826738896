//! [`Group`]: one connection's share of a pipe, as a backend sees it.

use alloc::sync::Arc;
use core::future::Future;

use super::backend::{AsyncTransport, Transport};
use super::error::{Error, Result};
use super::handle::Shared;
use crate::codec::error::Failure;
use crate::engine::VecPipeline;
use crate::session::Retry;

/// The body of [`Group::run`] and [`Group::run_async`], once: open a transport, run the
/// pipeline on it, hand it back, and go again while the session's retry rule allows.
/// `$run` is the transport's `run` or `run_async`, `$($await)*` empty or `.await`.
macro_rules! run_with_retries {
    ($self:ident, $open:ident, $done:ident, $run:ident, $($await:tt)*) => {{
        let mut attempt = 0;
        loop {
            let result = match $open() $($await)* {
                Ok(mut t) => {
                    let r = t.$run(&mut $self.pipeline) $($await)*;
                    $done(t);
                    r
                }
                Err(e) => {
                    $self.pipeline.fail(e.failure());
                    Err(e)
                }
            };
            if !$self.again(&result, &mut attempt) {
                return result;
            }
        }
    }};
}

/// The commands of one pipe for one connection name: a pipeline, its name, and the retry
/// policy. A [`Backend`](super::Backend) runs it with [`Group::run`] (or
/// [`Group::run_async`]) over a transport it opens or takes from a pool.
pub struct Group {
    pub(super) name: Arc<str>,
    pub(super) pipeline: VecPipeline,
    pub(super) shared: Arc<Shared>,
    pub(super) retry: Retry,
}

impl core::fmt::Debug for Group {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Group")
            .field("name", &self.name)
            .field("commands", &self.pipeline.len())
            .finish_non_exhaustive()
    }
}

impl Group {
    pub(super) fn new(name: Arc<str>, pipeline: VecPipeline, retry: Retry) -> Self {
        Self::with_cell(name, pipeline, retry, Arc::default())
    }

    /// A group publishing into `shared`, a result cell no handle has seen.
    pub(super) fn with_cell(
        name: Arc<str>,
        pipeline: VecPipeline,
        retry: Retry,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            name,
            pipeline,
            shared,
            retry,
        }
    }

    /// The connection name (`""` for the default connection).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the group has no commands (a backend skips it).
    pub fn is_empty(&self) -> bool {
        self.pipeline.is_empty()
    }

    /// The group's pipeline, for backends that run it by other means than a [`Transport`]
    /// (a cluster router splitting it by node).
    pub fn pipeline(&mut self) -> &mut VecPipeline {
        &mut self.pipeline
    }

    /// Fails the group's slots because no connection has its name; returns the error.
    pub fn fail_unknown(&mut self) -> Error {
        self.pipeline.fail(Failure::Closed);
        Error::UnknownConnection(if self.name.is_empty() {
            "default".into()
        } else {
            (*self.name).into()
        })
    }

    /// Whether a run that ended with `result` goes again (see [`Retry`]); counts the attempt.
    fn again(&mut self, result: &Result<()>, attempt: &mut u32) -> bool {
        let again = matches!(result, Err(e) if e.is_connection())
            && self.retry.again(*attempt, &mut self.pipeline);
        *attempt += u32::from(again);
        again
    }

    /// Runs the group over a transport from `open`, and again over a new one as its retry
    /// policy allows ([`Retry`]); every transport used goes to `done` (a pool keeps it when it
    /// is still usable). On `Err` the group's waiting slots have failed with the reason.
    pub fn run<T: Transport>(
        &mut self,
        mut open: impl FnMut() -> Result<T>,
        mut done: impl FnMut(T),
    ) -> Result<()> {
        run_with_retries!(self, open, done, run,)
    }

    /// [`run`](Self::run) over async transports.
    pub async fn run_async<T, F>(
        &mut self,
        mut open: impl FnMut() -> F,
        mut done: impl FnMut(T),
    ) -> Result<()>
    where
        T: AsyncTransport,
        F: Future<Output = Result<T>>,
    {
        run_with_retries!(self, open, done, run_async, .await)
    }
}
