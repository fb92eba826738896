//! The byte streams a connection runs over: TCP, Unix sockets, TLS.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::config::{Addr, ConnectionInfo};
use redpipe_core::session::Clock;
use redpipe_core::{Block, Error, Result};

/// Milliseconds on one clock for the whole process, for the core's stall rule
/// ([`Stall`](redpipe_core::session::Stall)).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Millis;

impl Millis {
    /// The clock's zero.
    pub(crate) fn origin() -> Instant {
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *ORIGIN.get_or_init(Instant::now)
    }

    /// `limit` in the clock's unit.
    pub(crate) fn of(limit: Option<Duration>) -> Option<u64> {
        limit.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
    }

    /// The instant `ms` on the clock stands for.
    pub(crate) fn instant(ms: u64) -> Instant {
        Self::origin() + Duration::from_millis(ms)
    }
}

impl Clock for Millis {
    fn now(&self) -> u64 {
        u64::try_from(Self::origin().elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// `limit` for a pipeline whose blocking commands wait `block` on purpose (see
/// [`Pipeline::blocking`](redpipe_core::Pipeline::blocking)): that much longer, and no limit
/// for one that waits forever.
pub(crate) fn lengthen(limit: Option<Duration>, block: Option<Block>) -> Option<Duration> {
    match block {
        None => limit,
        Some(block) => block.added_to(limit),
    }
}

/// One connected stream. Reads and writes that hit the socket timeout report
/// `ErrorKind::TimedOut` (the OS says `WouldBlock`), so every layer above sees a timeout as one.
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, "timed out waiting for the server")
    } else {
        e
    }
}

pub(crate) fn connect_tcp(host: &str, port: u16, info: &ConnectionInfo) -> Result<TcpStream> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        let attempt = match info.connect_timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(s) => {
                s.set_nodelay(true)?;
                s.set_read_timeout(info.read_timeout)?;
                s.set_write_timeout(info.write_timeout)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || Error::Config(format!("{host}:{port} resolves to no address")),
        |e| Error::from(timed_out(e)),
    ))
}

impl Stream {
    pub(crate) fn open(info: &ConnectionInfo) -> Result<Self> {
        match &info.addr {
            Addr::Tcp { host, port } => Ok(Self::Tcp(connect_tcp(host, *port, info)?)),
            #[cfg(unix)]
            Addr::Unix(path) => {
                let s = std::os::unix::net::UnixStream::connect(path)?;
                s.set_read_timeout(info.read_timeout)?;
                s.set_write_timeout(info.write_timeout)?;
                Ok(Self::Unix(s))
            }
            #[cfg(not(unix))]
            Addr::Unix(_) => Err(Error::Config("Unix sockets need a Unix system".into())),
            #[cfg(feature = "tls")]
            Addr::Tls { host, port } => {
                let mut tcp = connect_tcp(host, *port, info)?;
                let mut conn = crate::tls::client(host, info)?;
                // Handshake now, so that an untrusted server fails the connect, not a pipeline.
                while conn.is_handshaking() {
                    conn.complete_io(&mut tcp).map_err(|e| match e.kind() {
                        io::ErrorKind::InvalidData => Error::Tls(e.to_string()),
                        _ => Error::from(timed_out(e)),
                    })?;
                }
                Ok(Self::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
            }
            #[cfg(not(feature = "tls"))]
            Addr::Tls { .. } => Err(Error::Config(
                "rediss:// needs the `tls` feature of redpipe".into(),
            )),
        }
    }
}

impl Stream {
    /// Sets the socket's read timeout (`None`: block forever).
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(t),
            #[cfg(unix)]
            Self::Unix(s) => s.set_read_timeout(t),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.sock.set_read_timeout(t),
        }
    }

    /// Sets the socket's write timeout (`None`: block forever).
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_write_timeout(t),
            #[cfg(unix)]
            Self::Unix(s) => s.set_write_timeout(t),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.sock.set_write_timeout(t),
        }
    }
}

/// The stream as the core's driver uses it: each read and write bounded by its own timeout and
/// by the deadline of the pipeline in progress, so that a server that trickles bytes (each read
/// in time) cannot hold a pipeline past its deadline.
pub(crate) struct Io {
    stream: Stream,
    /// The read timeout now: the connection's, or longer for a pipeline that blocks.
    read: Option<Duration>,
    /// The connection's read timeout.
    own_read: Option<Duration>,
    write: Option<Duration>,
    deadline: Option<Instant>,
    /// A pipeline is between [`start_pipeline`](Self::start_pipeline) and its end.
    started: bool,
    /// The timeouts the socket has now, to set them only when they change.
    applied: (Option<Duration>, Option<Duration>),
}

impl Io {
    pub(crate) fn new(stream: Stream, info: &ConnectionInfo) -> Self {
        Self {
            stream,
            read: info.read_timeout,
            own_read: info.read_timeout,
            write: info.write_timeout,
            deadline: None,
            started: false,
            applied: (info.read_timeout, info.write_timeout),
        }
    }

    /// A second handle on the same socket, for writing while another thread reads through this
    /// one; `None` for TLS, whose one session state cannot be shared.
    pub(crate) fn try_clone(&self) -> Option<Self> {
        let stream = match &self.stream {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone().ok()?),
            #[cfg(unix)]
            Stream::Unix(s) => Stream::Unix(s.try_clone().ok()?),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => return None,
        };
        Some(Self {
            stream,
            read: self.own_read,
            own_read: self.own_read,
            write: self.write,
            deadline: None,
            started: false,
            applied: self.applied,
        })
    }

    /// A second handle on the TCP socket under the stream (TLS included), to shut it down
    /// from another thread and so wake a thread blocked reading it; `None` for a unix socket.
    pub(crate) fn shutdown_handle(&self) -> Option<TcpStream> {
        match &self.stream {
            Stream::Tcp(s) => s.try_clone().ok(),
            #[cfg(unix)]
            Stream::Unix(_) => None,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.sock.try_clone().ok(),
        }
    }

    /// Bounds everything until [`end_pipeline`](Self::end_pipeline) by `limit` from now, both
    /// it and each read lengthened by `block`, the waits of the pipeline's blocking commands
    /// (see [`lengthen`]; a pipeline already in flight keeps its limits). Returns whether
    /// `block` lengthened them.
    pub(crate) fn start_pipeline(&mut self, limit: Option<Duration>, block: Option<Block>) -> bool {
        if self.started {
            return false;
        }
        self.started = true;
        self.deadline = lengthen(limit, block).map(|t| Instant::now() + t);
        self.read = lengthen(self.own_read, block);
        block.is_some()
    }

    /// Ends the pipeline's limits: the connection's read timeout applies again.
    pub(crate) fn end_pipeline(&mut self) {
        self.started = false;
        self.deadline = None;
        self.read = self.own_read;
    }

    /// Sets the connection's read timeout (`None`: block forever): a connection that only
    /// listens (client-side caching's tracking connection) wakes up this often.
    pub(crate) fn set_read_timeout(&mut self, t: Option<Duration>) {
        self.own_read = t;
        self.read = t;
    }

    /// Shuts the socket down both ways: a read blocked on it, through another handle, returns.
    pub(crate) fn shutdown(&self) {
        let _ = match &self.stream {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            #[cfg(unix)]
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.sock.shutdown(std::net::Shutdown::Both),
        };
    }

    /// Sets the socket's read timeout to `t` now, for a wait on the socket through another
    /// handle ([`when_ready`]); the next read through this handle sets its own again.
    pub(crate) fn arm_wait(&mut self, t: Duration) -> io::Result<()> {
        if self.applied.0 != Some(t) {
            self.stream.set_read_timeout(Some(t))?;
            self.applied.0 = Some(t);
        }
        Ok(())
    }

    /// Bounds every read and write by `at` (`None`: only their own timeouts).
    pub(crate) fn set_deadline(&mut self, at: Option<Instant>) {
        self.deadline = at;
    }

    /// The timeout for the next read or write: its own, or the time left before the deadline
    /// when that is shorter.
    fn arm(&mut self, write: bool) -> io::Result<()> {
        let own = if write { self.write } else { self.read };
        let want = match self.deadline {
            None => own,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the pipeline's deadline passed",
                    ));
                }
                Some(own.map_or(left, |t| t.min(left)))
            }
        };
        let applied = if write {
            &mut self.applied.1
        } else {
            &mut self.applied.0
        };
        if *applied != want {
            if write {
                self.stream.set_write_timeout(want)?;
            } else {
                self.stream.set_read_timeout(want)?;
            }
            *applied = want;
        }
        Ok(())
    }
}

/// Between pipelines the core asks whether bytes are waiting (a reply would be stray; only RESP3
/// pushes may arrive): a one-byte `recv(MSG_PEEK | MSG_DONTWAIT)`, which never blocks.
impl embedded_io::ReadReady for Io {
    fn read_ready(&mut self) -> io::Result<bool> {
        Ok(match &mut self.stream {
            Stream::Tcp(s) => peek_nonblocking(s),
            #[cfg(unix)]
            Stream::Unix(s) => peek_nonblocking(s),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                if !peek_nonblocking(&s.sock) {
                    return Ok(tls_ready(&mut s.conn, None::<&mut TcpStream>));
                }
                s.sock.set_nonblocking(true)?;
                let ready = tls_ready(&mut s.conn, Some(&mut s.sock));
                s.sock.set_nonblocking(false)?;
                ready
            }
        })
    }
}

/// Runs `attempt` until it is done, waiting between attempts for the socket's next bytes while
/// holding nothing: how a reader shares a TLS session (one state for both directions) with the
/// threads that write through it. `attempt` takes the session only to take in what is ready
/// ([`ReadReady`](embedded_io::ReadReady)) and says `None` when nothing was (no bytes, a record
/// not whole yet, or one with no data: a session ticket); then this peeks at `socket`, a handle
/// on the TCP socket under the session, which blocks until bytes come (or the peer's close,
/// which the next attempt reads) without taking them. The peek is bounded by the socket's read
/// timeout (see [`Io::arm_wait`]): `Ok(None)` when it passed.
pub(crate) fn when_ready<T>(
    socket: &TcpStream,
    mut attempt: impl FnMut() -> io::Result<Option<T>>,
) -> io::Result<Option<T>> {
    loop {
        if let Some(done) = attempt()? {
            return Ok(Some(done));
        }
        let Err(e) = socket.peek(&mut [0u8; 1]) else {
            continue;
        };
        match e.kind() {
            // The read timeout (or the socket left non-blocking for a moment by a readiness
            // check through another handle: a wait cut short, looked at again by the caller).
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return Ok(None),
            io::ErrorKind::Interrupted => {}
            _ => return Err(e),
        }
    }
}

/// Whether a TLS read would not block. Takes in the records `socket` has without waiting (it
/// MUST not block; `None` when it has none) and lets rustls process them: session tickets and
/// key updates, which servers send between replies, leave nothing to read; application data
/// (a stray reply) or the peer's close do.
#[cfg(feature = "tls")]
pub(crate) fn tls_ready(
    conn: &mut rustls::ClientConnection,
    socket: Option<&mut impl Read>,
) -> bool {
    if let Some(socket) = socket {
        loop {
            match conn.read_tls(socket) {
                Ok(0) => return true, // the peer closed
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return true, // the read will report it
            }
            if conn.process_new_packets().is_err() {
                return true;
            }
        }
    }
    match conn.process_new_packets() {
        Ok(state) => state.plaintext_bytes_to_read() > 0 || state.peer_has_closed(),
        Err(_) => true,
    }
}

impl embedded_io::ErrorType for Io {
    type Error = io::Error;
}

impl embedded_io::Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm(false)?;
        Read::read(&mut self.stream, buf)
    }
}

impl embedded_io::Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm(true)?;
        Write::write(&mut self.stream, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.arm(true)?;
        Write::flush(&mut self.stream)
    }
}

/// Whether a read on `socket` would not block: a byte is waiting, the peer closed, or the
/// socket has an error to report (the read will tell which).
#[cfg(unix)]
pub(crate) fn peek_nonblocking(socket: &impl std::os::fd::AsFd) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
    match socket2::SockRef::from(socket).recv_with_flags(&mut byte, flags) {
        Ok(_) => true,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    }
}

#[cfg(not(unix))]
fn peek_nonblocking(socket: &TcpStream) -> bool {
    if socket.set_nonblocking(true).is_err() {
        return false;
    }
    let pending = match socket.peek(&mut [0u8; 1]) {
        Ok(_) => true,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    // A socket left non-blocking would break every later read: vouch for nothing then.
    socket.set_nonblocking(false).is_err() || pending
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Self::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.read(buf),
        }
        .map_err(timed_out)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Self::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.write(buf),
        }
        .map_err(timed_out)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Self::Unix(s) => s.flush(),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.flush(),
        }
        .map_err(timed_out)
    }
}
