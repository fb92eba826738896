//! [`LinkError`]: why a WebSocket or duplex stopped carrying bytes. It travels inside the core's
//! one owned [`Error`] (as the source of [`Error::Io`]), so that `execute` reports the close
//! code and reason and the model's rules (which failures are retried) stay the core's.

use alloc::string::String;
use core::fmt;

use redpipe_core::{Error, IoError, IoKind, MessageSink};

/// Why a connection's JavaScript side stopped carrying bytes.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// The socket could not be created (a bad URL, a page policy) or the duplex refused its
    /// listeners.
    Refused(String),
    /// The WebSocket closed.
    Closed {
        /// The close code (1006: closed without a close frame, as on a lost connection).
        code: u16,
        /// The close reason the peer gave (the bridge says why it closed a session).
        reason: String,
        /// Whether the socket had opened (if not, the connection was refused).
        opened: bool,
        /// The message of the `error` event that came before the close, if any.
        error: Option<String>,
    },
    /// The duplex called its `onClose`, with this reason.
    Ended(String),
    /// Sending failed.
    Send(String),
    /// This side closed the connection (`close()`), or the peer answered the token with
    /// something other than `ready`.
    Local(String),
}

impl LinkError {
    /// The I/O kind the core's rules see.
    pub fn kind(&self) -> IoKind {
        match self {
            Self::Refused(_) | Self::Closed { opened: false, .. } => IoKind::ConnectionRefused,
            Self::Closed { .. } | Self::Ended(_) => IoKind::ConnectionReset,
            Self::Send(_) => IoKind::BrokenPipe,
            Self::Local(_) => IoKind::ConnectionAborted,
        }
    }
}

/// Written in pieces, not with `write!`: `core::fmt::write` and its padding stay out of the
/// `.wasm` (as in the core's errors).
impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl LinkError {
    /// Writes the message `Display` shows, to any sink (JavaScript's errors get it without
    /// `core::fmt`).
    pub(crate) fn write_message<S: MessageSink + ?Sized>(&self, f: &mut S) -> fmt::Result {
        let (what, why) = match self {
            Self::Refused(why) => ("connection refused: ", why),
            Self::Closed {
                code,
                reason,
                opened,
                error,
            } => {
                f.piece(if *opened {
                    "websocket closed (code "
                } else {
                    "websocket refused (code "
                })?;
                f.piece(itoa::Buffer::new().format(*code))?;
                if !reason.is_empty() {
                    f.piece(": ")?;
                    f.piece(reason)?;
                }
                f.piece(")")?;
                if let Some(e) = error {
                    f.piece(": ")?;
                    f.piece(e)?;
                }
                return Ok(());
            }
            Self::Ended(why) if why.is_empty() => return f.piece("connection ended"),
            Self::Ended(why) => ("connection ended: ", why),
            Self::Send(why) => ("send failed: ", why),
            Self::Local(why) => ("connection closed: ", why),
        };
        f.piece(what)?;
        f.piece(why)
    }
}

/// The message, as `Display` writes it: a derived `Debug` would link the escaping of every
/// string field into the `.wasm` (an error boxed as `dyn Error` keeps its `Debug`).
impl fmt::Debug for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkError(")?;
        fmt::Display::fmt(self, f)?;
        f.write_str(")")
    }
}

impl core::error::Error for LinkError {}

impl From<LinkError> for Error {
    fn from(e: LinkError) -> Self {
        Error::Io(IoError::new(e.kind(), e))
    }
}
