//! What the model asks of the world: a [`Transport`] runs one pipeline over one connection; a
//! [`Backend`] finds the transport for each connection name and schedules the groups (threads,
//! `join_all`, JS promises: its choice). Blocking and async are separate traits, so that a
//! platform implements what it has.

use alloc::string::String;
use core::future::Future;

use super::Group;
use super::error::Result;
use crate::engine::VecPipeline;

/// One connection that runs pipelines, blocking: a TCP or TLS connection, a cluster node, an
/// in-memory [`Loopback`](super::Loopback).
pub trait Transport {
    /// Runs `p` to completion: sends its commands and fills every slot. On `Err` every slot
    /// still waiting has failed with the reason.
    fn run(&mut self, p: &mut VecPipeline) -> Result<()>;

    /// Whether the transport can run another pipeline; false after a failure that left its
    /// stream at an unknown position. A pool keeps only usable transports.
    fn is_usable(&self) -> bool {
        true
    }
}

/// One connection that runs pipelines, async: a tokio connection, a WebSocket.
pub trait AsyncTransport {
    /// Runs `p` to completion; see [`Transport::run`]. If the future is dropped before it
    /// completes, the transport MUST fail `p`'s waiting slots or be unusable afterwards.
    fn run_async(&mut self, p: &mut VecPipeline) -> impl Future<Output = Result<()>>;

    /// Whether the transport can run another pipeline; see [`Transport::is_usable`].
    fn is_usable(&self) -> bool {
        true
    }
}

/// Where a [`Pipe`](super::Pipe)'s groups run, blocking.
pub trait Backend {
    /// Runs every group that has commands over the connection its name designates, in parallel
    /// where the platform can. Each group MUST be done afterwards: resolved, or failed with the
    /// reason (an unknown name fails its group with [`Failure::Closed`](crate::Failure::Closed)
    /// and returns [`Error::UnknownConnection`](crate::Error::UnknownConnection)). Returns the
    /// first error.
    fn run(&self, groups: &mut [Group]) -> Result<()>;
}

/// Where a [`Pipe`](super::Pipe)'s groups run, async; see [`Backend::run`].
pub trait AsyncBackend {
    /// Runs every group that has commands, concurrently where it can; see [`Backend::run`].
    fn run_async(&self, groups: &mut [Group]) -> impl Future<Output = Result<()>>;
}

/// A backend that opens a transport for each group with `open(name)` and drops it afterwards:
/// for in-memory transports, tests, and transports that are cheap to open. Groups run one
/// after another.
///
/// ```
/// use redpipe_core::{prelude::*, Connector, Loopback, Pipe};
/// let backend = Connector(|_name: &str| Ok(Loopback::new(|_command: &[&[u8]]| b":1\r\n".to_vec())));
/// let mut p = Pipe::with_backend(backend);
/// let n = p.incr("hits");
/// p.execute().unwrap();
/// assert_eq!(n.result().unwrap(), 1);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Connector<F>(pub F);

impl<F, T> Backend for Connector<F>
where
    F: Fn(&str) -> Result<T>,
    T: Transport,
{
    fn run(&self, groups: &mut [Group]) -> Result<()> {
        let mut first = Ok(());
        for g in groups.iter_mut().filter(|g| !g.is_empty()) {
            let name = String::from(g.name());
            let result = g.run(|| (self.0)(&name), drop);
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}

impl<F, T> AsyncBackend for Connector<F>
where
    F: Fn(&str) -> Result<T>,
    T: AsyncTransport,
{
    async fn run_async(&self, groups: &mut [Group]) -> Result<()> {
        let mut first = Ok(());
        for g in groups.iter_mut().filter(|g| !g.is_empty()) {
            let name = String::from(g.name());
            let result = g
                .run_async(|| core::future::ready((self.0)(&name)), drop)
                .await;
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}
