//! [`Driver`]: a connection over an embedded-io stream, with the session rules.

use super::{DriveError, execute, send};
use crate::error::CapacityError;
use crate::pipeline::{Entry, Pipeline};
use crate::read_buffer::ReadBuffer;
use crate::session::{Handshake, HandshakeError, Session, Setup};
use crate::storage::Storage;

/// A connection: a stream, the bytes read from it but not used yet, and the
/// [`Session`] rules (one pipeline at a time, none after a failure, none when a reply arrived
/// between pipelines). The std and tokio connections are this type over their sockets; firmware
/// uses it over its UART or TCP stack.
///
/// Between pipelines it reads what the stream has ready without waiting
/// ([`embedded_io::ReadReady`]), so that a reply nobody asked for is caught before it would be
/// taken as the next command's. A stream that cannot tell reports `Ok(false)` and is not checked.
#[derive(Debug)]
pub struct Driver<T, B: Storage<u8>> {
    io: T,
    buf: ReadBuffer<B>,
    session: Session,
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
        }
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
}

/// Sends, finishes, executes and sets up: once for blocking and async streams, as the run loop
/// itself (`$($await)*` is empty or `.await`).
macro_rules! driver_methods {
    ($send:ident, $finish:ident, $execute:ident, $setup:ident, $raw_send:path, $raw_execute:path,
     [$($async:tt)*], $($await:tt)*) => {
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
            // Whatever arrived since the last pipeline. A failed read shows again, with its
            // reason, on the pipeline's own write or read.
            if self.session.is_idle() && matches!(self.io.read_ready(), Ok(true)) {
                if let Ok(spare) = self.buf.spare() {
                    if let Ok(n) = self.io.read(spare) $($await)* {
                        self.buf.advance(n);
                    }
                }
            }
            self.session
                .before_send(p, self.buf.filled())
                .map_err(DriveError::Session)?;
            let result = $raw_send(&mut self.io, p) $($await)*;
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
            let result = $raw_execute(&mut self.io, p, &mut self.buf) $($await)*;
            self.session.finished(result.is_ok());
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

impl<T, B> Driver<T, B>
where
    T: embedded_io::Read + embedded_io::Write + embedded_io::ReadReady,
    B: Storage<u8>,
{
    driver_methods!(send, finish, execute, setup, send, execute, [],);
}

#[cfg(feature = "embedded-io-async")]
impl<T, B> Driver<T, B>
where
    T: embedded_io_async::Read + embedded_io_async::Write + embedded_io::ReadReady,
    B: Storage<u8>,
{
    driver_methods!(
        send_async,
        finish_async,
        execute_async,
        setup_async,
        super::send_async,
        super::execute_async,
        [async],
        .await
    );
}
