//! [`Driver`]: a connection over an embedded-io stream, with the session rules.

use super::DriveError;
use crate::codec::decode::Unsolicited;
use crate::codec::error::CapacityError;
use crate::codec::storage::Storage;
use crate::engine::read_buffer::ReadBuffer;
use crate::engine::{Entry, Pipeline};
use crate::session::{
    Clock, Handshake, HandshakeError, NoClock, Session, SessionError, Setup, Stall,
};

/// Bytes read between two pipelines at most (RESP3 pushes, set aside as they come): a peer that
/// pushes faster than they are read cannot hold a pipeline back forever; what it sent beyond
/// this is refused as a stray reply.
pub const PENDING_BUDGET: usize = 16 << 20;

/// A connection: a stream, the bytes read from it but not used yet, and the
/// [`Session`] rules (one pipeline at a time, none after a failure, none when a reply arrived
/// between pipelines). The std and tokio connections are this type over their sockets; firmware
/// uses it over its UART or TCP stack.
///
/// Between pipelines it reads what the stream has ready without waiting
/// ([`embedded_io::ReadReady`]), so that a reply nobody asked for is caught before it would be
/// taken as the next command's. A stream that cannot tell reports `Ok(false)` and is not checked.
///
/// With a clock ([`with_stall_timeout`](Driver::with_stall_timeout)), a run also ends when bytes
/// keep coming but no reply completes within the limit (see [`Stall`]).
#[derive(Debug)]
pub struct Driver<T, B: Storage<u8>, C = NoClock> {
    io: T,
    buf: ReadBuffer<B>,
    session: Session,
    /// The mean reply size of the last pipeline, for the next one's byte window.
    reply_estimate: Option<usize>,
    clock: C,
    stall: Stall,
}

/// Why a connection's setup failed: the stream, or the server's answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError<'p, E> {
    /// The setup pipeline did not run.
    Drive(DriveError<E>),
    /// A setup command was refused or answered unexpectedly.
    Handshake(HandshakeError<'p>),
    /// The pipeline lent for the setup has no room for its commands.
    Capacity(CapacityError),
}

impl<E: core::fmt::Debug> core::fmt::Display for SetupError<'_, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Drive(e) => e.fmt(f),
            Self::Handshake(e) => e.fmt(f),
            Self::Capacity(e) => e.fmt(f),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for SetupError<'_, E> {}

impl<T, B: Storage<u8>> Driver<T, B> {
    /// A connection over `io`, reading into `buf`.
    pub fn new(io: T, buf: ReadBuffer<B>) -> Self {
        Self {
            io,
            buf,
            session: Session::new(),
            reply_estimate: None,
            clock: NoClock,
            stall: Stall::new(None),
        }
    }
}

impl<T, B: Storage<u8>, C> Driver<T, B, C> {
    /// Ends a run when bytes keep coming but no reply completes for `limit` on `clock`'s
    /// counter (a server that trickles a byte at a time or floods pushes keeps each read short;
    /// a server that sends nothing is the stream's own read timeout).
    pub fn with_stall_timeout<C2: Clock>(self, clock: C2, limit: Option<u64>) -> Driver<T, B, C2> {
        Driver {
            io: self.io,
            buf: self.buf,
            session: self.session,
            reply_estimate: self.reply_estimate,
            clock,
            stall: Stall::new(limit),
        }
    }

    /// Sets the stall limit of [`with_stall_timeout`](Self::with_stall_timeout) (on the same
    /// clock): a transport lengthens it for a pipeline whose commands block on purpose (see
    /// [`Pipeline::blocking`](crate::Pipeline::blocking)) and sets it back after.
    pub fn set_stall_timeout(&mut self, limit: Option<u64>) {
        self.stall = Stall::new(limit);
    }

    /// The stream.
    pub fn stream(&self) -> &T {
        &self.io
    }

    /// The stream, mutably (to set options; reading or writing on it desynchronizes replies).
    pub fn stream_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Whether a failure left the connection unusable; it must be replaced.
    pub fn is_broken(&self) -> bool {
        self.session.is_broken()
    }

    /// Whether it can serve another pipeline as if new (see [`Session::is_clean`]).
    pub fn is_clean(&self) -> bool {
        self.session.is_clean()
    }

    /// Takes the connection as it is now for what it is meant to be (see
    /// [`Session::accept_changes`]).
    pub fn accept_changes(&mut self) {
        self.session.accept_changes();
    }

    /// The read buffer (its size shows what a connection holds between pipelines).
    pub fn read_buffer(&self) -> &ReadBuffer<B> {
        &self.buf
    }

    /// Takes the connection apart: the stream and the bytes read from it that no pipeline has
    /// used, for a caller that goes on with the stream by itself (a relay that set the
    /// connection up with [`setup`](Self::setup) and then forwards bytes). Whether the
    /// connection was usable is the caller's to check first ([`is_clean`](Self::is_clean)).
    pub fn into_parts(self) -> (T, ReadBuffer<B>) {
        (self.io, self.buf)
    }
}

/// Sends, finishes, executes and sets up: once for blocking and async streams, as the run loop
/// itself (`$($await)*` is empty or `.await`).
macro_rules! driver_methods {
    ($send:ident, $finish:ident, $execute:ident, $setup:ident, [$($async:tt)*], $($await:tt)*) => {
        /// Sends `p`'s commands (as many as its window allows) without waiting for replies, so
        /// that the caller can prepare the next pipeline meanwhile; then finish it. Until then
        /// no other pipeline may be sent on this connection.
        pub $($async)* fn $send<O, R, E>(
            &mut self,
            p: &mut Pipeline<O, R, E>,
        ) -> Result<(), DriveError<T::Error>>
        where
            O: Storage<u8>,
            R: Storage<u8>,
            E: Storage<Entry>,
        {
            // Whatever arrived since the last pipeline: everything the stream has ready, and a
            // push or attributes still arriving read whole (bounded by the stream's timeouts),
            // with the complete pushes set aside as they come.
            if self.session.is_idle() {
                let limits = *p.limits();
                let mut budget = PENDING_BUDGET;
                loop {
                    let (left, pushes) = self.buf.set_aside_pushes(&limits);
                    p.add_pushes(pushes);
                    let wanted = match left {
                        Unsolicited::Partial => true,
                        Unsolicited::Nothing => matches!(self.io.read_ready(), Ok(true)),
                        _ => false,
                    };
                    if !wanted {
                        break;
                    }
                    let Ok(spare) = self.buf.spare() else {
                        break; // a partial frame larger than the buffer: refused below
                    };
                    let failed = if budget == 0 {
                        DriveError::Session(SessionError::Stray)
                    } else {
                        match self.io.read(spare) $($await)* {
                            Ok(0) => DriveError::Closed,
                            Ok(n) => {
                                self.buf.advance(n);
                                budget = budget.saturating_sub(n);
                                continue;
                            }
                            Err(e) => DriveError::Io(e),
                        }
                    };
                    // The peer closed, failed or flooded between pipelines: nothing of `p` was
                    // sent.
                    self.session.set_broken();
                    p.fail(failed.failure());
                    return Err(failed);
                }
            }
            self.session
                .before_send(p, &mut self.buf)
                .map_err(DriveError::Session)?;
            // The byte window starts from what this connection's last pipeline taught.
            if let Some(bytes) = self.reply_estimate {
                p.set_reply_estimate(bytes);
            }
            let (io, buf) = (&mut self.io, &mut self.buf);
            let result = write_window!(io, p, $($await)*);
            if let Err(e) = &result {
                salvage!(true, io, p, buf, $($await)*);
                p.fail(e.failure());
            }
            self.session.sent(result.is_ok());
            result
        }

        /// Reads every reply of a pipeline started with the send method (sending the rest of
        /// its commands as the window allows).
        pub $($async)* fn $finish<O, R, E>(
            &mut self,
            p: &mut Pipeline<O, R, E>,
        ) -> Result<(), DriveError<T::Error>>
        where
            O: Storage<u8>,
            R: Storage<u8>,
            E: Storage<Entry>,
        {
            self.session.before_finish(p).map_err(DriveError::Session)?;
            let (io, buf, clock, stall) =
                (&mut self.io, &mut self.buf, &self.clock, &mut self.stall);
            stall.idle();
            let mut stalled =
                |answered: u64| C::ON && stall.check(answered, clock.now()).is_err();
            let result = drive_loop!(io, p, buf, true, stalled, $($await)*);
            self.session.finished(p, result.is_ok());
            self.reply_estimate = Some(p.reply_estimate());
            self.buf.shrink();
            result
        }

        /// Runs `p` to completion: sends its commands and reads every reply into its slot.
        ///
        /// Server errors stay in their slots; `Err` means the connection failed or refused the
        /// pipeline, and every slot still waiting holds that failure too.
        pub $($async)* fn $execute<O, R, E>(
            &mut self,
            p: &mut Pipeline<O, R, E>,
        ) -> Result<(), DriveError<T::Error>>
        where
            O: Storage<u8>,
            R: Storage<u8>,
            E: Storage<Entry>,
        {
            self.$send(p) $($await)*?;
            self.$finish(p) $($await)*
        }

        /// Sets the connection up (see [`Handshake`]) in `p`, an empty pipeline lent for it.
        pub $($async)* fn $setup<'p, O, R, E>(
            &mut self,
            setup: &Setup<'_>,
            p: &'p mut Pipeline<O, R, E>,
        ) -> Result<(), SetupError<'p, T::Error>>
        where
            O: Storage<u8>,
            R: Storage<u8>,
            E: Storage<Entry>,
        {
            let handshake = Handshake::queue(setup, p)
                .map_err(SetupError::Capacity)?;
            if handshake.is_empty() {
                return Ok(());
            }
            p.set_window(usize::MAX);
            self.$execute(p) $($await)*.map_err(SetupError::Drive)?;
            let p: &'p Pipeline<O, R, E> = p;
            handshake.check(p).map_err(SetupError::Handshake)
        }
    };
}

impl<T, B, C> Driver<T, B, C>
where
    T: embedded_io::Read + embedded_io::Write + embedded_io::ReadReady,
    B: Storage<u8>,
    C: Clock,
{
    driver_methods!(send, finish, execute, setup, [],);
}

#[cfg(feature = "embedded-io-async")]
impl<T, B, C> Driver<T, B, C>
where
    T: embedded_io_async::Read + embedded_io_async::Write + embedded_io::ReadReady,
    B: Storage<u8>,
    C: Clock,
{
    driver_methods!(
        send_async,
        finish_async,
        execute_async,
        setup_async,
        [async],
        .await
    );
}

impl<T, B: Storage<u8>, C> Driver<T, B, C> {
    /// The bytes read and not yet consumed (an unsolicited reply that refused the pipeline,
    /// for the model's error: see `Driver::error`, defined with the model's `Error`).
    #[cfg(feature = "alloc")]
    pub(crate) fn unread(&self) -> &[u8] {
        self.buf.filled()
    }
}
