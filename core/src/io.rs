//! Drivers: the one run loop, over `embedded-io` (blocking) and `embedded-io-async` streams.
//!
//! The core itself does no I/O; these functions only move bytes between a stream and a
//! [`Pipeline`] following its run-loop contract. Every transport of the project uses them: the
//! std adapter through a `std::io` shim, tokio through `embedded-io-adapters`, firmware directly
//! on its own UART or TCP stack. Both loops are generated from one macro body, so blocking and
//! async behave the same by construction.
//!
//! Replies are read into a [`ReadBuffer`] owned by the connection: a caller slice (fixed; a reply
//! larger than it fails cleanly) or, with `alloc`, a `Vec` that grows to the largest reply, which
//! the [`Limits`](crate::Limits) bound.

use crate::error::{CapacityError, DecodeError, Failure, IoKind, Store};
use crate::pipeline::{Entry, Pipeline};
use crate::storage::{Storage, shift_within};

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
}

impl<E: core::fmt::Debug> core::fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e:?}"),
            Self::Closed => f.write_str("connection closed by the server"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::ReplyTooLarge(e) => write!(f, "reply too large: {e}"),
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

/// Bytes read but not yet used by the pipeline; kept by a connection across pipelines.
#[derive(Debug)]
pub struct ReadBuffer<S: Storage<u8>> {
    /// `store.len()` is the usable size; `start..end` holds unconsumed bytes.
    store: S,
    start: usize,
    end: usize,
}

/// Bytes a growable read buffer starts with.
pub const INITIAL_READ_BUFFER: usize = 64 * 1024;

#[cfg(feature = "alloc")]
impl ReadBuffer<alloc::vec::Vec<u8>> {
    /// A buffer that starts at 64 KiB and grows to fit the largest reply.
    pub fn growable() -> Self {
        Self::new(alloc::vec![0; INITIAL_READ_BUFFER])
    }
}

impl<'a> ReadBuffer<crate::storage::SliceStore<'a, u8>> {
    /// A fixed buffer over `buf`; a reply longer than `buf` fails the pipeline cleanly.
    pub fn fixed(buf: &'a mut [u8]) -> Self {
        let len = buf.len();
        let mut store = crate::storage::SliceStore::new(buf);
        // Claim the whole slice once; its contents are overwritten by reads. Cannot fail: the
        // slice is the capacity.
        let _ = store.try_extend_for_write(len);
        Self::new(store)
    }
}

impl<S: Storage<u8>> ReadBuffer<S> {
    /// A buffer over `store`, whose current length is the usable size.
    pub fn new(store: S) -> Self {
        Self {
            store,
            start: 0,
            end: 0,
        }
    }

    /// Unconsumed bytes.
    pub fn filled(&self) -> &[u8] {
        &self.store.as_slice()[self.start..self.end]
    }

    /// Forgets unconsumed bytes (after a connection is replaced).
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Reads once into the free space with `read`, which returns how many bytes it wrote; 0
    /// when the buffer has no room. For transports that take in bytes outside a pipeline run,
    /// such as data that arrived between pipelines (see
    /// [`holds_reply`](crate::decode::holds_reply)); a pipeline's replies are read by
    /// [`execute`].
    pub fn read_with<E>(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let Ok(spare) = self.spare() else {
            return Ok(0);
        };
        let n = read(spare)?;
        self.advance(n);
        Ok(n)
    }

    /// Room to read into: makes space by moving unconsumed bytes to the front, then by growing.
    fn spare(&mut self) -> Result<&mut [u8], CapacityError> {
        if self.end == self.store.len() {
            if self.start > 0 {
                shift_within(
                    self.store.as_mut_slice(),
                    self.start,
                    self.end,
                    self.start,
                    false,
                );
                self.end -= self.start;
                self.start = 0;
            } else {
                // Double, or take what room a fixed store has left.
                let len = self.store.len();
                let grow = len.max(64).min(self.store.capacity().saturating_sub(len));
                if grow == 0 || self.store.try_extend_for_write(grow).is_err() {
                    return Err(CapacityError {
                        store: Store::ReadBuffer,
                        needed: len + 1,
                        capacity: self.store.capacity(),
                    });
                }
            }
        }
        let end = self.end;
        Ok(&mut self.store.as_mut_slice()[end..])
    }

    fn advance(&mut self, n: usize) {
        self.end = (self.end + n).min(self.store.len());
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
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

/// The run loop, once, for both drivers: `$($await)*` is empty or `.await`.
macro_rules! drive_loop {
    ($io:ident, $p:ident, $buf:ident, $($await:tt)*) => {{
        use embedded_io::Error as _;
        let result = loop {
            // Write everything the window allows.
            if let Err(e) = write_window!($io, $p, $($await)*) {
                break Err(e);
            }
            // Also runs the callbacks of a pipeline with nothing to send.
            $p.consume_output(0);
            if $p.is_done() {
                break Ok(());
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
            match $p.handle_input($buf.filled()) {
                Ok(used) => $buf.consume(used),
                Err(e) => break Err(DriveError::Protocol(e)),
            }
        };
        if let Err(e) = &result {
            $p.fail(e.failure());
            $buf.clear();
        }
        result
    }};
}

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
    drive_loop!(io, p, buf,)
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
    drive_loop!(io, p, buf, .await)
}
