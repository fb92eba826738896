//! A tokio connection (feature `tokio`): the same run loop as the blocking one, awaited.

use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use redpipe_core::io::Driver;
use redpipe_core::{AsyncTransport, Block, Error, ReadBuffer, Result, VecPipeline};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{Addr, ConnectionInfo};
use crate::connection::{finish, send, set_up, setup_failed};
use crate::stream::{Millis, lengthen};

/// The async byte streams: TCP, a Unix socket, or TLS over TCP.
trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {
    /// Whether bytes are waiting on the socket. Asked of the socket itself (a non-blocking
    /// peek), not of the reactor: a reactor that has not polled the socket yet would say no.
    fn ready(&mut self) -> bool;
}

impl AsyncStream for TcpStream {
    fn ready(&mut self) -> bool {
        peek(self)
    }
}

#[cfg(unix)]
impl AsyncStream for tokio::net::UnixStream {
    fn ready(&mut self) -> bool {
        peek(self)
    }
}

#[cfg(feature = "tls")]
impl AsyncStream for tokio_rustls::client::TlsStream<TcpStream> {
    fn ready(&mut self) -> bool {
        // The socket is non-blocking underneath tokio: its records can be taken in without
        // waiting (see `tls_ready`).
        let (tcp, conn) = self.get_mut();
        if !peek(tcp) {
            return crate::stream::tls_ready(conn, None::<&mut &socket2::Socket>);
        }
        let socket = socket2::SockRef::from(&*tcp);
        let mut reader: &socket2::Socket = &socket;
        crate::stream::tls_ready(conn, Some(&mut reader))
    }
}

#[cfg(unix)]
fn peek(socket: &impl std::os::fd::AsFd) -> bool {
    crate::stream::peek_nonblocking(socket)
}

#[cfg(not(unix))]
fn peek(socket: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(socket.try_peek(&mut byte), Ok(n) if n > 0)
}

/// One async connection to a Redis server.
///
/// Timeouts apply to each read and write, as on the blocking connection (`read_timeout` and
/// `write_timeout` of the [`ConnectionInfo`]): when one expires, every slot still waiting fails
/// with `Failure::Io(IoKind::TimedOut)` and the connection is dropped. If the caller drops the
/// `execute` future instead, the connection is dropped with it.
pub struct AsyncConnection {
    driver: Driver<Timed, Vec<u8>, Millis>,
    info: ConnectionInfo,
}

impl std::fmt::Debug for AsyncConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncConnection")
            .field("addr", &self.info.addr)
            .field("broken", &self.driver.is_broken())
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
                let tls = limited(info.connect_timeout, connector.connect(name, tcp))
                    .await
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::InvalidData => Error::Tls(e.to_string()),
                        _ => e.into(),
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
        let io = Timed {
            inner: FromTokio::new(stream),
            read: info.read_timeout,
            own_read: info.read_timeout,
            write: info.write_timeout,
            deadline: None,
            started: false,
        };
        set_up!(io, info, setup_async, .await)
    }

    /// Whether a failure left the connection unusable; it must be replaced.
    pub fn is_broken(&self) -> bool {
        self.driver.is_broken()
    }

    /// Whether it can serve another pipeline as if new; see
    /// [`Connection::is_clean`](crate::Connection::is_clean).
    pub fn is_clean(&self) -> bool {
        self.driver.is_clean()
    }

    /// Gives up the pipeline machinery and returns the set-up stream (TCP, Unix or TLS), with
    /// any bytes already read from it that no pipeline used: for a relay such as
    /// `redpipe-bridge`, which opens and authenticates the connection here (URL, TLS,
    /// `AUTH`, `SELECT`, timeouts) and then forwards bytes itself. The per-read timeouts no
    /// longer apply.
    ///
    /// [`Error::Closed`] if the connection is not clean (broken, or a pipeline or `WATCH` left
    /// open): its stream position is unknown.
    pub fn into_stream(self) -> Result<(Stream, Vec<u8>)> {
        if !self.driver.is_clean() {
            return Err(Error::Closed);
        }
        let (timed, buf) = self.driver.into_parts();
        Ok((Stream(timed.inner.into_inner()), buf.filled().to_vec()))
    }

    /// Runs `p` to completion; see [`Connection::execute`](crate::Connection::execute).
    pub async fn execute(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.send(p).await?;
        self.finish(p).await
    }

    /// Sends `p`'s commands without waiting for replies; see
    /// [`Connection::send`](crate::Connection::send) (blocking commands wait longer than the
    /// timeouts as there).
    pub async fn send(&mut self, p: &mut VecPipeline) -> Result<()> {
        send!(self, p, send_async, .await)
    }

    /// Reads every reply of a pipeline started with [`send`](Self::send).
    pub async fn finish(&mut self, p: &mut VecPipeline) -> Result<()> {
        finish!(self, p, finish_async, .await)
    }
}

impl AsyncTransport for AsyncConnection {
    async fn run_async(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.execute(p).await
    }

    fn is_usable(&self) -> bool {
        self.is_clean()
    }
}

/// A connection's byte stream (TCP, Unix socket or TLS), from
/// [`AsyncConnection::into_stream`].
pub struct Stream(Box<dyn AsyncStream>);

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").finish_non_exhaustive()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// The stream with a timeout on each read and write, and the deadline of the pipeline in
/// progress; an expired one is `ErrorKind::TimedOut`.
struct Timed {
    inner: FromTokio<Box<dyn AsyncStream>>,
    /// The read timeout now: the connection's, or longer for a pipeline that blocks.
    read: Option<Duration>,
    /// The connection's read timeout.
    own_read: Option<Duration>,
    write: Option<Duration>,
    deadline: Option<tokio::time::Instant>,
    /// A pipeline is between `start_pipeline` and its end.
    started: bool,
}

impl Timed {
    /// Bounds everything until [`end_pipeline`](Self::end_pipeline) by `limit` from now, both
    /// it and each read lengthened by `block`, the waits of the pipeline's blocking commands
    /// (a pipeline already in flight keeps its limits). Returns whether `block` lengthened
    /// them.
    fn start_pipeline(&mut self, limit: Option<Duration>, block: Option<Block>) -> bool {
        if self.started {
            return false;
        }
        self.started = true;
        self.deadline = lengthen(limit, block).map(|t| tokio::time::Instant::now() + t);
        self.read = lengthen(self.own_read, block);
        block.is_some()
    }

    /// Ends the pipeline's limits: the connection's read timeout applies again.
    fn end_pipeline(&mut self) {
        self.started = false;
        self.deadline = None;
        self.read = self.own_read;
    }

    /// The limit for the next read or write: its own, or the time left before the deadline.
    fn limit(&self, own: Option<Duration>) -> Option<Duration> {
        match self.deadline {
            None => own,
            Some(d) => {
                let left = d.saturating_duration_since(tokio::time::Instant::now());
                Some(own.map_or(left, |t| t.min(left)))
            }
        }
    }
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

impl embedded_io::ReadReady for Timed {
    fn read_ready(&mut self) -> std::io::Result<bool> {
        Ok(self.inner.inner_mut().ready())
    }
}

impl embedded_io_async::Read for Timed {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let limit = self.limit(self.read);
        limited(limit, self.inner.read(buf)).await
    }
}

impl embedded_io_async::Write for Timed {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let limit = self.limit(self.write);
        limited(limit, self.inner.write(buf)).await
    }
    async fn flush(&mut self) -> std::io::Result<()> {
        let limit = self.limit(self.write);
        limited(limit, self.inner.flush()).await
    }
}
