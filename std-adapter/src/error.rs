//! The one error type of the std adapter, owned so it can travel across threads and awaits.

use std::fmt;
use std::io;

use redpipe_core::io::DriveError;
use redpipe_core::{CapacityError, ConvertError, DecodeError, Failure, ServerError, SlotError};

/// Anything that can go wrong: connecting, running a pipeline, or reading a handle.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed (connect, read or write), or timed out (`ErrorKind::TimedOut`).
    Io(io::Error),
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
    /// A connection URL or option is invalid.
    Config(String),
    /// Connection setup (`HELLO`, `AUTH`, `SELECT`, `CLIENT SETNAME`) was refused.
    Handshake {
        /// The command that failed.
        command: &'static str,
        /// The server's answer.
        error: ServerError<'static>,
    },
    /// No connection is registered under this name.
    UnknownConnection(String),
    /// TLS setup failed.
    Tls(String),
}

/// `Result<T, redpipe::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "connection error: {e}"),
            Self::Closed => f.write_str("connection closed by the server"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Capacity(e) => e.fmt(f),
            Self::Server(e) => write!(f, "server error: {e}"),
            Self::Convert(e) => write!(f, "conversion error: {e}"),
            Self::Failed(e) => e.fmt(f),
            Self::Pending => f.write_str("result not available: the pipeline has not run"),
            Self::Stale => f.write_str("handle from a rolled back scope"),
            Self::Config(e) => write!(f, "invalid configuration: {e}"),
            Self::Handshake { command, error } => write!(f, "{command} refused: {error}"),
            Self::UnknownConnection(name) => write!(f, "no connection named {name:?}"),
            Self::Tls(e) => write!(f, "TLS error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Server(e) => Some(e),
            Self::Convert(e) => Some(e),
            Self::Failed(e) => Some(e),
            Self::Capacity(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// Whether the error is a timeout.
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Io(e) => e.kind() == io::ErrorKind::TimedOut,
            Self::Failed(Failure::Timeout) => true,
            Self::Failed(Failure::Io(k)) => *k == redpipe_core::IoKind::TimedOut,
            _ => false,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<CapacityError> for Error {
    fn from(e: CapacityError) -> Self {
        Self::Capacity(e)
    }
}

impl From<SlotError<'_>> for Error {
    fn from(e: SlotError<'_>) -> Self {
        match e.into_owned() {
            SlotError::Pending => Self::Pending,
            SlotError::Stale => Self::Stale,
            SlotError::Server(e) => Self::Server(e),
            SlotError::Convert(e) => Self::Convert(e),
            SlotError::Failed(f) => Self::Failed(f),
            _ => Self::Stale,
        }
    }
}

impl From<DriveError<io::Error>> for Error {
    fn from(e: DriveError<io::Error>) -> Self {
        match e {
            DriveError::Io(e) => Self::Io(e),
            DriveError::Closed => Self::Closed,
            DriveError::Protocol(e) => Self::Protocol(e),
            DriveError::ReplyTooLarge(e) => Self::Capacity(e),
            _ => Self::Closed,
        }
    }
}
