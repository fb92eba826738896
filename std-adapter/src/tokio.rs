//! A tokio connection (feature `tokio`): the same run loop as the blocking one, awaited.

use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use redpipe_core::VecPipeline;
use redpipe_core::io::{ReadBuffer, execute_async, send_async};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{Addr, ConnectionInfo};
use crate::error::{Error, Result};
use crate::handshake::Handshake;
use crate::state::{State, stray_reply};

/// The async byte streams: TCP, a Unix socket, or TLS over TCP.
trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {
    /// Reads the bytes waiting on the socket, if any, without waiting when there are none.
    fn read_pending(&self, buf: &mut [u8]) -> std::io::Result<usize>;
}

/// A `try_read` that calls "nothing yet" 0 bytes.
fn nothing_is_zero(read: std::io::Result<usize>) -> std::io::Result<usize> {
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
        other => other,
    }
}

impl AsyncStream for TcpStream {
    fn read_pending(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        nothing_is_zero(self.try_read(buf))
    }
}

#[cfg(unix)]
impl AsyncStream for tokio::net::UnixStream {
    fn read_pending(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        nothing_is_zero(self.try_read(buf))
    }
}

#[cfg(feature = "tls")]
impl AsyncStream for tokio_rustls::client::TlsStream<TcpStream> {
    fn read_pending(&self, _: &mut [u8]) -> std::io::Result<usize> {
        // TLS records between pipelines can be session tickets, not replies: not checked.
        Ok(0)
    }
}

/// One async connection to a Redis server.
///
/// Timeouts apply to each read and write, as on the blocking connection (`read_timeout` and
/// `write_timeout` of the [`ConnectionInfo`]): when one expires, every slot still waiting fails
/// with `Failure::Io(IoKind::TimedOut)` and the connection is dropped. If the caller drops the
/// `execute` future instead, the connection is dropped with it.
pub struct AsyncConnection {
    io: Timed,
    buf: ReadBuffer<Vec<u8>>,
    info: ConnectionInfo,
    state: State,
}

impl std::fmt::Debug for AsyncConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncConnection")
            .field("addr", &self.info.addr)
            .field("broken", &self.state.broken)
            .finish_non_exhaustive()
    }
}

async fn with_timeout<T>(
    limit: Option<Duration>,
    f: impl Future<Output = std::io::Result<T>>,
) -> Result<T> {
    Ok(limited(limit, f).await?)
}

impl AsyncConnection {
    /// Connects and runs the setup (`HELLO`/`AUTH`, `CLIENT SETNAME`, `SELECT`).
    pub async fn open(info: &ConnectionInfo) -> Result<Self> {
        let stream: Box<dyn AsyncStream> = match &info.addr {
            Addr::Tcp { host, port } => {
                let s = with_timeout(
                    info.connect_timeout,
                    TcpStream::connect((host.as_str(), *port)),
                )
                .await?;
                s.set_nodelay(true)?;
                Box::new(s)
            }
            #[cfg(unix)]
            Addr::Unix(path) => Box::new(
                with_timeout(info.connect_timeout, tokio::net::UnixStream::connect(path)).await?,
            ),
            #[cfg(feature = "tls")]
            Addr::Tls { host, port } => {
                let tcp = with_timeout(
                    info.connect_timeout,
                    TcpStream::connect((host.as_str(), *port)),
                )
                .await?;
                tcp.set_nodelay(true)?;
                let connector = tokio_rustls::TlsConnector::from(crate::tls::config(info)?);
                let name = crate::tls::server_name(host)?;
                let tls = with_timeout(info.connect_timeout, connector.connect(name, tcp))
                    .await
                    .map_err(|e| match e {
                        Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                            Error::Tls(e.to_string())
                        }
                        other => other,
                    })?;
                Box::new(tls)
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::Config(
                    "this address needs a feature of redpipe that is off (`tls`)".into(),
                ));
            }
        };
        let mut conn = Self {
            io: Timed {
                inner: FromTokio::new(stream),
                read: info.read_timeout,
                write: info.write_timeout,
            },
            buf: ReadBuffer::growable(),
            info: info.clone(),
            state: State::default(),
        };
        let mut handshake = Handshake::new(info)?;
        conn.execute(&mut handshake.pipeline).await?;
        handshake.check()?;
        Ok(conn)
    }

    /// Whether a failure left the connection unusable; it must be replaced.
    pub fn is_broken(&self) -> bool {
        self.state.broken
    }

    /// Runs `p` to completion; see [`Connection::execute`](crate::Connection::execute).
    pub async fn execute(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.send(p).await?;
        self.finish(p).await
    }

    /// Sends `p`'s commands without waiting for replies; see
    /// [`Connection::send`](crate::Connection::send).
    pub async fn send(&mut self, p: &mut VecPipeline) -> Result<()> {
        // Bytes left in the read buffer or waiting on the socket would be read as this
        // pipeline's first reply.
        let (buf, io, limits) = (&mut self.buf, &self.io, &self.info.limits);
        let stray = || stray_reply(buf, limits, |b| io.inner.inner().read_pending(b));
        self.state.before_send(p, &self.info, stray)?;
        let result = send_async(&mut self.io, p).await;
        self.state.sent(result)
    }

    /// Reads every reply of a pipeline started with [`send`](Self::send).
    pub async fn finish(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.state.before_finish(p)?;
        let result = execute_async(&mut self.io, p, &mut self.buf).await;
        self.state.finished(result)
    }
}

/// The stream with a timeout on each read and write; an expired one is `ErrorKind::TimedOut`.
struct Timed {
    inner: FromTokio<Box<dyn AsyncStream>>,
    read: Option<Duration>,
    write: Option<Duration>,
}

async fn limited<T>(
    limit: Option<Duration>,
    f: impl Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    match limit {
        Some(t) => tokio::time::timeout(t, f)
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
        None => f.await,
    }
}

impl embedded_io_async::ErrorType for Timed {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for Timed {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        limited(self.read, self.inner.read(buf)).await
    }
}

impl embedded_io_async::Write for Timed {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        limited(self.write, self.inner.write(buf)).await
    }
    async fn flush(&mut self) -> std::io::Result<()> {
        limited(self.write, self.inner.flush()).await
    }
}
