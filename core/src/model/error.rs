//! [`Error`]: the one owned error of the model and of every adapter built on it, so that it can
//! travel across threads, awaits and `?` into `Box<dyn Error>`.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use crate::codec::error::{
    CapacityError, ConvertError, DecodeError, Failure, FieldError, IoKind, MessageSink, write_all,
    write_quoted,
};
use crate::codec::reply::ServerError;
use crate::engine::deferred::SlotError;
use crate::pubsub::FrameError;
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
    /// A subscribed connection sent a frame that breaks the stream (malformed, oversized, or a
    /// reply nothing asked for); the connection was dropped.
    Frame(FrameError),
    /// A subscriber's buffer filled while nobody read it, and its policy is to disconnect.
    Overflow {
        /// The messages it held.
        messages: usize,
        /// The bytes they took.
        bytes: usize,
    },
    /// A value cannot be written with its field's codec; nothing of that call was queued.
    Field(FieldError),
    /// A struct operation was refused, or a stored record cannot be read.
    Record(Box<StructError>),
    /// An error of the caller's own, returned from a scope with [`Error::other`].
    Other(Box<dyn core::error::Error + Send + Sync>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl Error {
    /// An error of the caller's own, carried through a scope (`p.scope`, `redpipe::autoexec`)
    /// whose closure returns `redpipe::Result`; [`source`](core::error::Error::source) gives it
    /// back, and `downcast_ref` on that finds its type.
    ///
    /// ```
    /// use redpipe_core::Error;
    /// #[derive(Debug)]
    /// struct NotAllowed;
    /// impl std::fmt::Display for NotAllowed {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         f.write_str("not allowed")
    ///     }
    /// }
    /// impl std::error::Error for NotAllowed {}
    ///
    /// let e = Error::other(NotAllowed);
    /// assert_eq!(e.to_string(), "not allowed");
    /// assert!(std::error::Error::source(&e).unwrap().is::<NotAllowed>());
    /// ```
    pub fn other(error: impl Into<Box<dyn core::error::Error + Send + Sync>>) -> Self {
        Self::Other(error.into())
    }

    /// Writes the message `Display` shows into `out`, piece by piece: with a sink of its own
    /// (a `String` behind [`MessageSink`]), a program shows errors without linking
    /// `core::fmt`'s formatting machinery (the browser build does). An I/O error's source is
    /// written by [`MessageSink::source`], or else its kind.
    pub fn write_message<S: MessageSink + ?Sized>(&self, out: &mut S) -> fmt::Result {
        // Pieces, not `write!`: see `crate::codec::error::write_all`.
        let prefix = match self {
            Self::Io(_) => "connection error: ",
            Self::Closed => return out.piece("connection closed by the server"),
            Self::Protocol(_) => "protocol error: ",
            Self::Server(_) => "server error: ",
            Self::Convert(_) => "conversion error: ",
            Self::Pending => {
                return out.piece("result not available: the pipeline has not run");
            }
            Self::Stale => return out.piece("handle from a rolled back scope"),
            Self::Busy => {
                return out
                    .piece("a pipeline is still in flight on this connection: finish it first");
            }
            Self::Config(e) => return write_all(out, &["invalid configuration: ", e]),
            Self::Handshake { command, .. } => {
                write_all(out, &[command, " refused: "])?;
                ""
            }
            Self::Unsolicited(_) => "the server sent an error unasked: ",
            Self::UnknownConnection(name) => {
                out.piece("no connection named ")?;
                return write_quoted(out, name);
            }
            Self::AlreadyConnected(name) => {
                out.piece("another connection is registered as ")?;
                return write_quoted(out, name);
            }
            Self::Tls(e) => return write_all(out, &["TLS error: ", e]),
            Self::Frame(_) => "protocol error: ",
            Self::Overflow { messages, bytes } => {
                let (mut m, mut b) = (itoa::Buffer::new(), itoa::Buffer::new());
                return write_all(
                    out,
                    &[
                        "subscriber disconnected: its buffer filled (",
                        m.format(*messages),
                        " messages, ",
                        b.format(*bytes),
                        " bytes) while nobody read it",
                    ],
                );
            }
            Self::Field(_) => "field error: ",
            Self::Record(_) => "struct error: ",
            Self::Other(e) => {
                return match out.source(e.as_ref()) {
                    Some(r) => r,
                    None => out.piece("an error of the application's own"),
                };
            }
            Self::Capacity(_) | Self::Failed(_) => "",
        };
        out.piece(prefix)?;
        match self {
            Self::Io(e) => e.write_message(out),
            Self::Protocol(e) => e.write_message(out),
            Self::Capacity(e) => e.write_message(out),
            Self::Server(e) | Self::Unsolicited(e) | Self::Handshake { error: e, .. } => {
                e.write_message(out)
            }
            Self::Convert(e) => e.write_message(out),
            Self::Failed(e) => e.write_message(out),
            Self::Field(e) => e.write_message(out),
            Self::Frame(e) => e.write_message(out),
            Self::Record(e) => e.write_message(out),
            _ => Ok(()),
        }
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
            Self::Other(e) => Some(e.as_ref()),
            Self::Field(e) => Some(e),
            Self::Record(e) => Some(e),
            Self::Frame(e) => Some(e),
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
            Self::Io(_) | Self::Closed | Self::Protocol(_) | Self::Unsolicited(_) | Self::Frame(_)
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
        self.write_message(f)
    }
}

impl IoError {
    /// Writes the source's message (see [`MessageSink::source`]), or else the kind's.
    fn write_message<S: MessageSink + ?Sized>(&self, out: &mut S) -> fmt::Result {
        match self.source.as_deref().and_then(|e| out.source(e)) {
            Some(written) => written,
            None => out.piece(self.kind.text()),
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

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Decode(e) => Self::Protocol(e),
            e => Self::Frame(e),
        }
    }
}

impl From<CapacityError> for Error {
    fn from(e: CapacityError) -> Self {
        Self::Capacity(e)
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
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

// Here, not in `io`: the driver (a floor below) does not know the model's `Error`.
#[cfg(feature = "embedded-io")]
impl<T, B, C> crate::io::Driver<T, B, C>
where
    T: embedded_io::ErrorType,
    T::Error: core::error::Error + Send + Sync + 'static,
    B: crate::codec::storage::Storage<u8>,
{
    /// The owned error for `e`; when an error reply nobody asked for refused the pipeline (a
    /// server at `maxclients` greets a connection without setup that way), the server's own
    /// message.
    pub fn error(&self, e: crate::io::DriveError<T::Error>) -> crate::Error {
        if let crate::io::DriveError::Session(SessionError::Stray) = e {
            let limits = crate::Limits::default();
            if let Ok(Some((crate::Reply::Error(err), _))) =
                crate::decode_reply(self.unread(), &limits)
            {
                return crate::Error::Unsolicited(err.into_owned());
            }
        }
        e.into()
    }
}

/// Why a struct operation failed.
///
/// Defined with the model's [`Error`] (which holds one as [`Error::Record`]); the struct layer
/// re-exports it as `record::StructError`.
#[derive(Debug)]
#[non_exhaustive]
pub enum StructError {
    /// A field's value cannot be written, or its stored bytes read.
    Field {
        /// The record's key.
        key: String,
        /// The member.
        field: String,
        /// What is wrong with it.
        error: FieldError,
    },
    /// A required field is missing: in the stored hash, or in a partial load.
    Missing {
        /// The record's key.
        key: String,
        /// The member.
        field: &'static str,
    },
    /// The key field cannot be changed or removed (delete the record instead).
    KeyField {
        /// The key field's name.
        field: &'static str,
    },
    /// A required field cannot be removed.
    Required {
        /// The member.
        field: String,
    },
    /// An extra member has the name of a declared field or of the key field.
    ExtraField {
        /// The member.
        field: String,
    },
    /// An update changes the key: it would write another record.
    OtherRecord {
        /// The record being updated.
        key: String,
    },
    /// The command's reply could not be read (the pipe failed, or a server error).
    Read(Error),
}

impl StructError {
    /// The error for member `field` of record `key`.
    pub fn field(key: &str, field: &str, error: FieldError) -> Self {
        Self::Field {
            key: key.into(),
            field: field.into(),
            error,
        }
    }
}

impl fmt::Display for StructError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl StructError {
    /// Writes the message `Display` shows; in pieces, not `write!`: see
    /// `crate::codec::error::write_all`.
    pub(crate) fn write_message<S: MessageSink + ?Sized>(&self, f: &mut S) -> fmt::Result {
        let (before, quoted, after) = match self {
            Self::Field { key, field, error } => {
                write_quoted(f, key)?;
                f.piece(", field ")?;
                write_quoted(f, field)?;
                f.piece(": ")?;
                return error.write_message(f);
            }
            Self::Missing { key, field } => {
                write_quoted(f, key)?;
                (": required field ", *field, " is missing")
            }
            Self::KeyField { field } => ("the key field ", *field, " cannot be changed or removed"),
            Self::Required { field } => ("required field ", field.as_str(), " cannot be removed"),
            Self::ExtraField { field } => (
                "extra member ",
                field.as_str(),
                " is a declared field or the key",
            ),
            Self::OtherRecord { key } => ("an update of ", key.as_str(), " changes its key"),
            Self::Read(e) => {
                f.piece("cannot read the record: ")?;
                return e.write_message(f);
            }
        };
        f.piece(before)?;
        write_quoted(f, quoted)?;
        f.piece(after)
    }
}

impl core::error::Error for StructError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Field { error, .. } => Some(error),
            Self::Read(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for StructError {
    fn from(e: Error) -> Self {
        Self::Read(e)
    }
}

impl From<StructError> for Error {
    fn from(e: StructError) -> Self {
        match e {
            StructError::Read(e) => e,
            other => Error::Record(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::{String, ToString};
    use std::vec::Vec;

    use super::*;
    use crate::codec::error::{ReplyKind, Store};
    use crate::keyspace::FieldError;
    use crate::record::StructError;

    /// A sink of its own, as a program without `core::fmt` writes one.
    struct Text(String);

    impl MessageSink for Text {
        fn piece(&mut self, piece: &str) -> fmt::Result {
            self.0.push_str(piece);
            Ok(())
        }
    }

    fn every_kind_of_error() -> Vec<Error> {
        let server = || ServerError::new(b"ERR bad \xff thing").into_owned();
        vec![
            Error::Io(IoError::from_kind(IoKind::TimedOut)),
            Error::Closed,
            Error::Protocol(DecodeError::UnknownType(b'?')),
            Error::Capacity(CapacityError {
                store: Store::Replies,
                needed: 10,
                capacity: 8,
            }),
            Error::Server(server()),
            Error::Convert(ConvertError::Type {
                expected: "an integer",
                got: ReplyKind::BigNumber,
            }),
            Error::Convert(ConvertError::Field(FieldError::Invalid { codec: "float" })),
            Error::Failed(Failure::Protocol(DecodeError::BulkTooLong { len: 5 })),
            Error::Failed(Failure::Io(IoKind::BrokenPipe)),
            Error::Pending,
            Error::Stale,
            Error::Busy,
            Error::Config("bad url".into()),
            Error::Handshake {
                command: "AUTH",
                error: server(),
            },
            Error::Unsolicited(server()),
            Error::UnknownConnection("a \"b\"\n".into()),
            Error::AlreadyConnected("c".into()),
            Error::Tls("no roots".into()),
            Error::Field(FieldError::NotAscii),
            Error::Record(Box::new(StructError::field(
                "k\t",
                "f",
                FieldError::TooLong,
            ))),
            Error::Record(Box::new(StructError::Read(Error::Stale))),
        ]
    }

    #[test]
    fn a_sink_of_its_own_gets_what_display_shows() {
        for e in every_kind_of_error() {
            let mut text = Text(String::new());
            e.write_message(&mut text).unwrap();
            assert_eq!(text.0, e.to_string());
        }
    }

    #[test]
    fn an_io_source_a_sink_cannot_write_gives_the_kind() {
        let e = Error::Io(IoError::new(IoKind::ConnectionReset, "peer went away"));
        assert_eq!(e.to_string(), "connection error: peer went away");
        let mut text = Text(String::new());
        e.write_message(&mut text).unwrap();
        assert_eq!(text.0, "connection error: connection reset");
    }

    #[test]
    fn reply_kind_names_are_their_debug() {
        use ReplyKind::*;
        for k in [
            Simple, Error, Int, Bulk, Nil, Array, Map, Set, Push, Double, Bool, BigNumber, Verbatim,
        ] {
            assert_eq!(k.name(), std::format!("{k:?}"));
        }
    }

    use std::vec;
}
