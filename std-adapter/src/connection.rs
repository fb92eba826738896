//! A blocking connection: a stream, its read buffer, and the core's run loop between them.

use embedded_io_adapters::std::FromStd;
use redpipe_core::VecPipeline;
use redpipe_core::io::{ReadBuffer, execute, send};

use crate::config::ConnectionInfo;
use crate::error::Result;
use crate::handshake::Handshake;
use crate::state::{State, stray_reply};
use crate::stream::Stream;

/// One blocking connection to a Redis server.
///
/// ```no_run
/// use redpipe::{prelude::*, Connection, VecPipeline};
/// let mut conn = Connection::open(&"redis://127.0.0.1".parse()?)?;
/// let mut p = VecPipeline::new();
/// let n = p.incr("hits")?;
/// conn.execute(&mut p)?;
/// println!("{}", n.read(&p)?);
/// # Ok::<(), redpipe::Error>(())
/// ```
pub struct Connection {
    io: FromStd<Stream>,
    buf: ReadBuffer<Vec<u8>>,
    info: ConnectionInfo,
    state: State,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.info.addr)
            .field("broken", &self.state.broken)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects and runs the setup (`HELLO`/`AUTH`, `CLIENT SETNAME`, `SELECT`).
    pub fn open(info: &ConnectionInfo) -> Result<Self> {
        let mut conn = Self {
            io: FromStd::new(Stream::open(info)?),
            buf: ReadBuffer::growable(),
            info: info.clone(),
            state: State::default(),
        };
        let mut handshake = Handshake::new(info)?;
        conn.send(&mut handshake.pipeline)?;
        conn.finish(&mut handshake.pipeline)?;
        handshake.check()?;
        Ok(conn)
    }

    /// What this connection was opened with.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Whether a failure left the connection unusable; it must be replaced.
    pub fn is_broken(&self) -> bool {
        self.state.broken
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
    /// use redpipe::{prelude::*, Connection, VecPipeline};
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
    pub fn send(&mut self, p: &mut VecPipeline) -> Result<()> {
        let (buf, io, limits) = (&mut self.buf, &mut self.io, &self.info.limits);
        self.state.before_send(p, &self.info, || {
            stray_reply(buf, limits, |b| io.inner_mut().read_pending(b))
        })?;
        let result = send(&mut self.io, p);
        self.state.sent(result)
    }

    /// Reads every reply of a pipeline started with [`send`](Self::send) (sending the rest of
    /// its commands as the window allows).
    pub fn finish(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.state.before_finish(p)?;
        let result = execute(&mut self.io, p, &mut self.buf);
        self.state.finished(result)
    }
}
