//! [`Error`]: the one owned error of the model and of every adapter built on it, so that it can
//! travel across threads, awaits and `?` into `Box<dyn Error>`.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use crate::deferred::SlotError;
use crate::error::{CapacityError, ConvertError, DecodeError, Failure, IoKind, write_quoted};
use crate::reply::ServerError;
use crate::session::{HandshakeError, SessionError};

/// `Result<T, redpipe::Error>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Anything that can go wrong: connecting, running a pipeline, or reading a handle.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed (connect, read or write), or timed out ([`IoKind::TimedOut`]).
    Io(IoError),
    /// The server closed the connection.
    Closed,
    /// The server broke the protocol; the connection was dropped.
    Protocol(DecodeError),
    /// A reply or the pipeline outgrew its storage.
    Capacity(CapacityError),
    /// The command's reply is an error.
    Server(ServerError<'static>),
    /// The command's reply does not convert to the handle's type.
    Convert(ConvertError),
    /// The command got no reply: the pipeline failed before it (see the `execute` error).
    Failed(Failure),
    /// The pipeline has not run yet.
    Pending,
    /// The handle belongs to commands that were rolled back.
    Stale,
    /// Another pipeline is in flight on this connection: finish it first.
    Busy,
    /// A connection URL or option is invalid.
    Config(String),
    /// Connection setup (`HELLO`, `AUTH`, `SELECT`, `CLIENT SETNAME`) was refused.
    Handshake {
        /// The command that failed.
        command: &'static str,
        /// The server's answer.
        error: ServerError<'static>,
    },
    /// The server sent an error while no command was waiting (`-ERR max number of clients
    /// reached` on a connection without setup); the connection was dropped.
    Unsolicited(ServerError<'static>),
    /// No connection is registered under this name.
    UnknownConnection(String),
    /// Another connection is already registered under this name.
    AlreadyConnected(String),
    /// TLS setup failed.
    Tls(String),
    /// A value cannot be written with its field's codec; nothing of that call was queued.
    Field(crate::keyspace::FieldError),
    /// A struct operation was refused, or a stored record cannot be read.
    Record(Box<crate::record::StructError>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Pieces, not `write!`: see `crate::error::write_all`.
        let (prefix, cause): (&str, &dyn fmt::Display) = match self {
            Self::Io(e) => ("connection error: ", e),
            Self::Closed => return f.write_str("connection closed by the server"),
            Self::Protocol(e) => ("protocol error: ", e),
            Self::Capacity(e) => ("", e),
            Self::Server(e) => ("server error: ", e),
            Self::Convert(e) => ("conversion error: ", e),
            Self::Failed(e) => ("", e),
            Self::Pending => {
                return f.write_str("result not available: the pipeline has not run");
            }
            Self::Stale => return f.write_str("handle from a rolled back scope"),
            Self::Busy => {
                return f.write_str(
                    "a pipeline is still in flight on this connection: finish it first",
                );
            }
            Self::Config(e) => return crate::error::write_all(f, &["invalid configuration: ", e]),
            Self::Handshake { command, error } => {
                crate::error::write_all(f, &[command, " refused: "])?;
                return error.fmt(f);
            }
            Self::Unsolicited(e) => ("the server sent an error unasked: ", e),
            Self::UnknownConnection(name) => {
                f.write_str("no connection named ")?;
                return write_quoted(f, name);
            }
            Self::AlreadyConnected(name) => {
                f.write_str("another connection is registered as ")?;
                return write_quoted(f, name);
            }
            Self::Tls(e) => return crate::error::write_all(f, &["TLS error: ", e]),
            Self::Field(e) => ("field error: ", e),
            Self::Record(e) => ("struct error: ", e),
        };
        f.write_str(prefix)?;
        cause.fmt(f)
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => e
                .source
                .as_deref()
                .map(|e| e as &(dyn core::error::Error + 'static)),
            Self::Protocol(e) => Some(e),
            Self::Server(e) | Self::Unsolicited(e) => Some(e),
            Self::Convert(e) => Some(e),
            Self::Failed(e) => Some(e),
            Self::Capacity(e) => Some(e),
            Self::Field(e) => Some(e),
            Self::Record(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// Whether the error is a timeout.
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Io(e) => e.kind() == IoKind::TimedOut,
            Self::Failed(Failure::Timeout | Failure::Io(IoKind::TimedOut)) => true,
            _ => false,
        }
    }

    /// Whether the connection failed (I/O, closed, protocol): the errors a retry may cure.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            Self::Io(_) | Self::Closed | Self::Protocol(_) | Self::Unsolicited(_)
        )
    }

    /// What the slots of a pipeline that this error stopped fail with.
    pub fn failure(&self) -> Failure {
        match self {
            Self::Io(e) => Failure::Io(e.kind()),
            Self::Protocol(e) => Failure::Protocol(*e),
            Self::Capacity(e) => Failure::Capacity(*e),
            Self::Failed(f) => *f,
            Self::Busy => Failure::Cancelled,
            _ => Failure::Closed,
        }
    }
}

/// An I/O error: its kind, and the transport's own error when there is one.
#[derive(Debug)]
pub struct IoError {
    kind: IoKind,
    source: Option<Box<dyn core::error::Error + Send + Sync>>,
}

impl IoError {
    /// An error of `kind`, caused by `source`.
    pub fn new(kind: IoKind, source: impl Into<Box<dyn core::error::Error + Send + Sync>>) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// An error of `kind` with nothing more to say.
    pub fn from_kind(kind: IoKind) -> Self {
        Self { kind, source: None }
    }

    /// What kind of error it is.
    pub fn kind(&self) -> IoKind {
        self.kind
    }

    /// The transport's own error, if it gave one.
    pub fn get_ref(&self) -> Option<&(dyn core::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// The `std::io::Error` behind it, for std transports.
    #[cfg(feature = "std")]
    pub fn as_io(&self) -> Option<&std::io::Error> {
        self.get_ref()?.downcast_ref()
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(e) => e.fmt(f),
            None => self.kind.fmt(f),
        }
    }
}

#[cfg(feature = "std")]
impl From<std::io::Error> for IoError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::ConnectionRefused => IoKind::ConnectionRefused,
            K::ConnectionReset => IoKind::ConnectionReset,
            K::ConnectionAborted => IoKind::ConnectionAborted,
            K::NotConnected => IoKind::NotConnected,
            K::BrokenPipe => IoKind::BrokenPipe,
            K::TimedOut => IoKind::TimedOut,
            K::UnexpectedEof => IoKind::UnexpectedEof,
            _ => IoKind::Other,
        };
        Self::new(kind, e)
    }
}

#[cfg(feature = "std")]
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e.into())
    }
}

impl From<CapacityError> for Error {
    fn from(e: CapacityError) -> Self {
        Self::Capacity(e)
    }
}

impl From<crate::keyspace::FieldError> for Error {
    fn from(e: crate::keyspace::FieldError) -> Self {
        Self::Field(e)
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        Self::Failed(f)
    }
}

impl From<SessionError> for Error {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Busy => Self::Busy,
            SessionError::Broken => Self::Closed,
            SessionError::Stray | SessionError::Unfinished => {
                Self::Protocol(DecodeError::UnexpectedReply)
            }
        }
    }
}

impl From<SlotError<'_>> for Error {
    fn from(e: SlotError<'_>) -> Self {
        match e {
            SlotError::Pending => Self::Pending,
            SlotError::Stale => Self::Stale,
            SlotError::Server(e) => Self::Server(e.into_owned()),
            SlotError::Convert(e) => Self::Convert(e),
            SlotError::Failed(f) => Self::Failed(f),
        }
    }
}

impl From<HandshakeError<'_>> for Error {
    fn from(e: HandshakeError<'_>) -> Self {
        match e {
            HandshakeError::Refused { command, error } => Self::Handshake {
                command,
                error: error.into_owned(),
            },
            HandshakeError::Unexpected { .. } => Self::Protocol(DecodeError::UnexpectedReply),
            HandshakeError::NoReply { error, .. } => error.into(),
        }
    }
}

#[cfg(feature = "embedded-io")]
impl<E> From<crate::io::DriveError<E>> for Error
where
    E: embedded_io::Error + core::error::Error + Send + Sync + 'static,
{
    fn from(e: crate::io::DriveError<E>) -> Self {
        use crate::io::DriveError;
        match e {
            DriveError::Io(e) => {
                let Failure::Io(kind) = crate::io::io_failure(&e) else {
                    return Self::Closed;
                };
                Self::Io(IoError::new(kind, e))
            }
            DriveError::Closed => Self::Closed,
            DriveError::Protocol(e) => Self::Protocol(e),
            DriveError::ReplyTooLarge(e) => Self::Capacity(e),
            DriveError::Session(e) => e.into(),
            DriveError::Stalled => {
                Self::Io(IoError::new(IoKind::TimedOut, crate::session::Stalled))
            }
        }
    }
}
