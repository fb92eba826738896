//! A blocking connection: a stream, its read buffer, and the core's run loop between them.

use embedded_io_adapters::std::FromStd;
use redpipe_core::VecPipeline;
use redpipe_core::io::{ReadBuffer, execute, send};

use crate::config::ConnectionInfo;
use crate::error::{Error, Result};
use crate::handshake::Handshake;
use crate::stream::Stream;
use redpipe_core::{DecodeError, Failure};

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
    broken: bool,
    /// A pipeline was sent and not finished yet.
    in_flight: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.info.addr)
            .field("broken", &self.broken)
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
            broken: false,
            in_flight: false,
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
        self.broken
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
        if self.in_flight {
            p.fail(Failure::Cancelled);
            return Err(Error::Config(
                "a pipeline is still in flight on this connection: finish it first".into(),
            ));
        }
        if !self.broken && self.has_stray_bytes() {
            // Bytes nobody asked for: they would be read as the first reply of this pipeline.
            self.broken = true;
            p.fail(Failure::Protocol(DecodeError::UnexpectedReply));
            return Err(Error::Protocol(DecodeError::UnexpectedReply));
        }
        if self.broken {
            p.fail(Failure::Closed);
            return Err(Error::Closed);
        }
        p.set_window(self.info.window);
        p.set_limits(self.info.limits);
        self.in_flight = true;
        send(&mut self.io, p).map_err(|e| {
            self.broken = true;
            self.in_flight = false;
            e.into()
        })
    }

    /// Reads every reply of a pipeline started with [`send`](Self::send) (sending the rest of
    /// its commands as the window allows).
    pub fn finish(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.in_flight = false;
        if self.broken {
            p.fail(Failure::Closed);
            return Err(Error::Closed);
        }
        execute(&mut self.io, p, &mut self.buf).map_err(|e| {
            self.broken = true;
            e.into()
        })
    }

    /// Whether the server sent bytes between pipelines (a reply to no command): left in the
    /// read buffer, or waiting in the socket (one non-blocking peek).
    fn has_stray_bytes(&mut self) -> bool {
        !self.buf.filled().is_empty() || self.io.inner_mut().has_pending_input()
    }
}
