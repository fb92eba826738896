//! Drivers: the one run loop, over `embedded-io` (blocking) and `embedded-io-async` streams.
//!
//! The core itself does no I/O; these functions only move bytes between a stream and a
//! [`Pipeline`] following its run-loop contract. Every transport of the project uses them: the
//! std adapter through a `std::io` shim, tokio through `embedded-io-adapters`, firmware directly
//! on its own UART or TCP stack. Both loops are generated from one macro body, so blocking and
//! async behave the same by construction.
//!
//! Replies are read into a [`ReadBuffer`] owned by the connection. [`Driver`] adds the
//! connection rules of [`session`](crate::session) on top: it is the connection type of every
//! embedded-io transport.

use crate::codec::error::{CapacityError, DecodeError, Failure, IoKind};
use crate::codec::storage::Storage;
use crate::engine::read_buffer::ReadBuffer;
use crate::engine::{Entry, Pipeline};
use crate::session::SessionError;

/// Why a drive stopped early. The pipeline's waiting slots have already failed with the matching
/// [`Failure`].
#[derive(Debug)]
#[non_exhaustive]
pub enum DriveError<E> {
    /// The stream failed.
    Io(E),
    /// The peer closed the stream (read returned 0 bytes, or write accepted none).
    Closed,
    /// The reply stream broke the protocol.
    Protocol(DecodeError),
    /// A reply is larger than the read buffer can hold.
    ReplyTooLarge(CapacityError),
    /// The connection refused to run the pipeline (see [`Driver`]).
    Session(SessionError),
    /// Bytes kept coming but no reply completed within the stall limit (a trickle, a flood of
    /// pushes): see [`Driver::with_stall_timeout`].
    Stalled,
}

impl<E: core::fmt::Debug> core::fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e:?}"),
            Self::Closed => f.write_str("connection closed by the server"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::ReplyTooLarge(e) => write!(f, "reply too large: {e}"),
            Self::Session(e) => e.fmt(f),
            Self::Stalled => crate::session::Stalled.fmt(f),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for DriveError<E> {}

impl<E: embedded_io::Error> DriveError<E> {
    /// The failure the pipeline's waiting slots got.
    pub fn failure(&self) -> Failure {
        match self {
            Self::Io(e) => io_failure(e),
            Self::Closed => Failure::Closed,
            Self::Protocol(e) => Failure::Protocol(*e),
            Self::ReplyTooLarge(e) => Failure::Capacity(*e),
            Self::Session(e) => e.failure(),
            Self::Stalled => Failure::Io(IoKind::TimedOut),
        }
    }
}

/// The failure a stream error gives the slots it cuts off (keeping the error's kind).
pub fn io_failure<E: embedded_io::Error>(e: &E) -> Failure {
    use embedded_io::ErrorKind as K;
    Failure::Io(match e.kind() {
        K::ConnectionRefused => IoKind::ConnectionRefused,
        K::ConnectionReset => IoKind::ConnectionReset,
        K::ConnectionAborted => IoKind::ConnectionAborted,
        K::NotConnected => IoKind::NotConnected,
        K::BrokenPipe => IoKind::BrokenPipe,
        K::TimedOut => IoKind::TimedOut,
        _ => IoKind::Other,
    })
}

/// Writes everything the pipeline's window allows; evaluates to the error that stopped it.
macro_rules! write_window {
    ($io:ident, $p:ident, $($await:tt)*) => {{
        use embedded_io::Error as _;
        let mut failed = None;
        loop {
            let out = $p.poll_output();
            if out.is_empty() {
                break;
            }
            match $io.write(out) $($await)* {
                Ok(0) => {
                    failed = Some(DriveError::Closed);
                    break;
                }
                Ok(n) => $p.consume_output(n),
                Err(e) if e.kind() == embedded_io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(DriveError::Io(e));
                    break;
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => $io.flush() $($await)*.map_err(DriveError::Io),
        }
    }};
}

/// After a write failed: reads and resolves the replies the stream already holds (a server that
/// refuses a command answers, then closes), where the stream can tell without waiting
/// (`true`: it implements `ReadReady`).
macro_rules! salvage {
    (false, $io:ident, $p:ident, $buf:ident, $($await:tt)*) => {};
    (true, $io:ident, $p:ident, $buf:ident, $($await:tt)*) => {
        $p.note_write_failure();
        while matches!($io.read_ready(), Ok(true)) {
            let Ok(spare) = $buf.spare() else { break };
            match $io.read(spare) $($await)* {
                Ok(n) if n > 0 => {
                    $buf.advance(n);
                    match $p.handle_input($buf.filled()) {
                        Ok(used) => $buf.consume(used),
                        Err(_) => break,
                    }
                }
                _ => break,
            }
        }
    };
}

/// The run loop, once, for both drivers: `$($await)*` is empty or `.await`; `$salvage` says
/// whether replies are read after a failed write (see `salvage!`); `$stalled` is asked, with
/// the count of replies taken so far, after a read that completed none: `true` ends the run
/// (see [`Stall`](crate::session::Stall)).
macro_rules! drive_loop {
    ($io:ident, $p:ident, $buf:ident, $salvage:tt, $stalled:expr, $($await:tt)*) => {{
        use embedded_io::Error as _;
        // Bytes read before this run (pushes between pipelines, replies read ahead while the
        // pipeline was in flight) are offered once before anything is read.
        let mut offered = $buf.filled().is_empty();
        let result = loop {
            // Write everything the window allows.
            if let Err(e) = write_window!($io, $p, $($await)*) {
                salvage!($salvage, $io, $p, $buf, $($await)*);
                break Err(e);
            }
            // Also runs the callbacks of a pipeline with nothing to send.
            $p.consume_output(0);
            if $p.is_done() {
                break Ok(());
            }
            if !offered {
                offered = true;
                match $p.handle_input($buf.filled()) {
                    Ok(used) => $buf.consume(used),
                    Err(e) => break Err(DriveError::Protocol(e)),
                }
                continue;
            }
            // Read what arrived and hand it to the pipeline.
            let spare = match $buf.spare() {
                Ok(spare) => spare,
                Err(e) => break Err(DriveError::ReplyTooLarge(e)),
            };
            let n = match $io.read(spare) $($await)* {
                Ok(0) => break Err(DriveError::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == embedded_io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(DriveError::Io(e)),
            };
            $buf.advance(n);
            let answered = $p.answered();
            match $p.handle_input($buf.filled()) {
                Ok(used) => $buf.consume(used),
                Err(e) => break Err(DriveError::Protocol(e)),
            }
            if $p.answered() == answered && !$p.is_done() && $stalled(answered as u64) {
                break Err(DriveError::Stalled);
            }
        };
        if let Err(e) = &result {
            $p.fail(e.failure());
            $buf.clear();
        }
        result
    }};
}

// After the macros, which it uses.
mod driver;

pub use driver::{Driver, PENDING_BUDGET, SetupError};

/// Sends what `p`'s window allows, without waiting for any reply; [`execute`] then finishes it.
///
/// This lets a caller prepare its next pipeline while the server works on this one. The
/// caller MUST NOT send another pipeline on the same stream before this one is finished:
/// replies are matched to commands by order only. On error the pipeline's waiting slots fail.
pub fn send<T, O, R, E>(io: &mut T, p: &mut Pipeline<O, R, E>) -> Result<(), DriveError<T::Error>>
where
    T: embedded_io::Write + ?Sized,
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    let result = write_window!(io, p,);
    if let Err(e) = &result {
        p.fail(e.failure());
    }
    result
}

/// [`send`] over an async stream.
#[cfg(feature = "embedded-io-async")]
pub async fn send_async<T, O, R, E>(
    io: &mut T,
    p: &mut Pipeline<O, R, E>,
) -> Result<(), DriveError<T::Error>>
where
    T: embedded_io_async::Write + ?Sized,
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    let result = write_window!(io, p, .await);
    if let Err(e) = &result {
        p.fail(e.failure());
    }
    result
}

/// Runs `p` to completion over a blocking stream: writes its output, reads into `buf`, feeds
/// the replies, until every slot has its result.
///
/// On error the pipeline's waiting slots fail with the matching [`Failure`] and the stream
/// SHOULD be closed: its position in the reply stream is unknown.
pub fn execute<T, O, R, E, B>(
    io: &mut T,
    p: &mut Pipeline<O, R, E>,
    buf: &mut ReadBuffer<B>,
) -> Result<(), DriveError<T::Error>>
where
    T: embedded_io::Read + embedded_io::Write + ?Sized,
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
    B: Storage<u8>,
{
    drive_loop!(io, p, buf, false, |_| false,)
}

/// [`execute`] over an async stream (`embedded-io-async`).
///
/// If the future is dropped before it completes, call [`Pipeline::fail`] (e.g. with
/// [`Failure::Timeout`]) and close the stream.
#[cfg(feature = "embedded-io-async")]
pub async fn execute_async<T, O, R, E, B>(
    io: &mut T,
    p: &mut Pipeline<O, R, E>,
    buf: &mut ReadBuffer<B>,
) -> Result<(), DriveError<T::Error>>
where
    T: embedded_io_async::Read + embedded_io_async::Write + ?Sized,
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
    B: Storage<u8>,
{
    drive_loop!(io, p, buf, false, |_| false, .await)
}
