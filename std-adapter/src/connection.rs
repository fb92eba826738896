//! A blocking connection: a socket under the core's [`Driver`] (run loop and connection rules).

use redpipe_core::io::{Driver, SetupError};
use redpipe_core::{Error, ReadBuffer, Result, Transport, VecPipeline};

use crate::config::ConnectionInfo;
use crate::stream::{Io, Millis, Stream, lengthen};

/// The three steps that [`Connection`] and the tokio `AsyncConnection` share, each written once
/// for both (as the core's `drive_loop!`): `$step` names the core [`Driver`]'s blocking method
/// or its `_async` form, and `$($await)*` is empty or `.await`. The streams differ (a socket
/// with per-call timeouts; a tokio stream under `Timed`), but both have the same
/// `start_pipeline`/`end_pipeline`.
///
/// `set_up!`: a driver over the connected stream `$io`, set up (`HELLO`/`AUTH`,
/// `CLIENT SETNAME`, `SELECT`) and returned as the connection.
macro_rules! set_up {
    ($io:ident, $info:ident, $step:ident, $($await:tt)*) => {{
        // A server that keeps each read in time but completes no reply (a trickle, a flood of
        // pushes) is cut at the read timeout too, counted from the last complete reply.
        let mut driver = Driver::new($io, ReadBuffer::growable())
            .with_stall_timeout(Millis, Millis::of($info.read_timeout));
        let mut setup = VecPipeline::new();
        setup.set_limits($info.limits);
        driver
            .stream_mut()
            .start_pipeline($info.pipeline_timeout, None);
        driver
            .$step(&$info.setup(), &mut setup)
            $($await)*
            .map_err(setup_failed)?;
        driver.stream_mut().end_pipeline();
        Ok(Self {
            driver,
            info: $info.clone(),
        })
    }};
}

/// `send!`: starts the pipeline's limits (lengthened by its blocking commands) and sends.
macro_rules! send {
    ($self:ident, $p:ident, $step:ident, $($await:tt)*) => {{
        $self.info.configure($p);
        let block = $p.blocking();
        let io = $self.driver.stream_mut();
        if io.start_pipeline($self.info.pipeline_timeout, block) {
            // No reply completes while the server holds one back on purpose.
            let stall = lengthen($self.info.read_timeout, block);
            $self.driver.set_stall_timeout(Millis::of(stall));
        }
        let result = $self.driver.$step($p) $($await)*;
        result.map_err(|e| $self.driver.error(e))
    }};
}

/// `finish!`: reads every reply, then ends the pipeline's limits.
macro_rules! finish {
    ($self:ident, $p:ident, $step:ident, $($await:tt)*) => {{
        let result = $self.driver.$step($p) $($await)*;
        $self.driver.stream_mut().end_pipeline();
        $self
            .driver
            .set_stall_timeout(Millis::of($self.info.read_timeout));
        result.map_err(|e| $self.driver.error(e))
    }};
}

#[cfg(feature = "tokio")]
pub(crate) use {finish, send, set_up};

/// One blocking connection to a Redis server.
///
/// ```no_run
/// use redpipe::{prelude::*, Connection};
/// use redpipe::core::VecPipeline;
/// let mut conn = Connection::open(&"redis://127.0.0.1".parse()?)?;
/// let mut p = VecPipeline::new();
/// let n = p.incr("hits")?;
/// conn.execute(&mut p)?;
/// println!("{}", n.read(&p)?);
/// # Ok::<(), redpipe::Error>(())
/// ```
pub struct Connection {
    driver: Driver<Io, Vec<u8>, Millis>,
    info: ConnectionInfo,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.info.addr)
            .field("broken", &self.driver.is_broken())
            .finish_non_exhaustive()
    }
}

/// The owned error for a failed setup.
pub(crate) fn setup_failed<E>(e: SetupError<'_, E>) -> Error
where
    E: embedded_io::Error + std::error::Error + Send + Sync + 'static,
{
    match e {
        SetupError::Drive(e) => e.into(),
        SetupError::Handshake(e) => e.into(),
        SetupError::Capacity(e) => e.into(),
        _ => Error::Closed,
    }
}

impl Connection {
    /// Connects and runs the setup (`HELLO`/`AUTH`, `CLIENT SETNAME`, `SELECT`).
    pub fn open(info: &ConnectionInfo) -> Result<Self> {
        let io = Io::new(Stream::open(info)?, info);
        set_up!(io, info, setup,)
    }

    /// What this connection was opened with.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Whether a failure left the connection unusable; it must be replaced.
    pub fn is_broken(&self) -> bool {
        self.driver.is_broken()
    }

    /// Whether it can serve another pipeline as if new: not broken, no pipeline in flight, no
    /// keys left watched by a `WATCH` without `EXEC`/`UNWATCH`.
    pub fn is_clean(&self) -> bool {
        self.driver.is_clean()
    }

    /// Takes the connection as it is now for what it is meant to be: what a factory ran on it
    /// (`CLIENT SETNAME`, `SELECT`) is its setup, which does not keep it out of the pool.
    pub(crate) fn accept_changes(&mut self) {
        self.driver.accept_changes();
    }

    /// Gives up the pipeline machinery and returns the set-up stream and what was read from it
    /// that no pipeline used: for a shared connection, which drives the stream itself.
    /// [`Error::Closed`] if the connection is not clean (its stream position is unknown).
    pub(crate) fn into_io(self) -> Result<(Io, ReadBuffer<Vec<u8>>)> {
        if !self.driver.is_clean() {
            return Err(Error::Closed);
        }
        Ok(self.driver.into_parts())
    }

    /// Runs `p` to completion: sends its commands, reads every reply into its slot.
    ///
    /// Server errors stay in their slots; an `Err` here means the connection failed (I/O,
    /// timeout, closed, protocol), and every slot still waiting holds that failure too.
    pub fn execute(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.send(p)?;
        self.finish(p)
    }

    /// Sends `p`'s commands (as many as its window allows) without waiting for replies, so
    /// that the caller can prepare the next pipeline while the server works on this one; then
    /// [`finish`](Self::finish) it. Until then no other pipeline may be sent on this
    /// connection.
    ///
    /// ```no_run
    /// use redpipe::{prelude::*, Connection};
    /// use redpipe::core::VecPipeline;
    /// let mut conn = Connection::open(&"redis://127.0.0.1".parse()?)?;
    /// let (mut current, mut next) = (VecPipeline::new(), VecPipeline::new());
    /// for i in 0..1000 {
    ///     let _ = current.set(format!("k{i}"), i)?;
    /// }
    /// conn.send(&mut current)?;
    /// for i in 1000..2000 {
    ///     let _ = next.set(format!("k{i}"), i)?; // queued while the server works
    /// }
    /// conn.finish(&mut current)?;
    /// conn.execute(&mut next)?;
    /// # Ok::<(), redpipe::Error>(())
    /// ```
    ///
    /// A pipeline with blocking commands (`BLPOP k 5`) waits their waits longer than the read
    /// and pipeline timeouts, and with no timeout for one that waits forever (`BLPOP k 0`); see
    /// [`ConnectionInfo::read_timeout`].
    pub fn send(&mut self, p: &mut VecPipeline) -> Result<()> {
        send!(self, p, send,)
    }

    /// Reads every reply of a pipeline started with [`send`](Self::send) (sending the rest of
    /// its commands as the window allows).
    pub fn finish(&mut self, p: &mut VecPipeline) -> Result<()> {
        finish!(self, p, finish,)
    }
}

impl Transport for Connection {
    fn run(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.execute(p)
    }

    fn is_usable(&self) -> bool {
        self.is_clean()
    }
}
