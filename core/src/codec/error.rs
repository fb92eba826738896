//! Errors, one small `Copy` enum per concern.
//!
//! "Need more bytes" is not here: it is the normal `Ok(None)` of the decoder. A `-ERR` reply is not
//! here either: it is data for its slot ([`ServerError`](crate::ServerError)). Only a protocol
//! violation ([`DecodeError`]) poisons a connection.

use core::fmt;

/// Where an error's message is written, piece by piece. A [`fmt::Formatter`] is one: every
/// error's `Display` writes through it. A program that shows errors without `core::fmt` (whose
/// formatting machinery costs a browser build a few KiB) implements it for its own buffer and
/// calls `Error::write_message` (feature `alloc`).
pub trait MessageSink {
    /// Appends `piece` to the message.
    fn piece(&mut self, piece: &str) -> fmt::Result;

    /// Appends the message of a transport's own error (the source of an I/O error), which only
    /// its `Display` can write; `None` when this sink cannot, and the I/O error's kind is
    /// written instead.
    #[cfg(feature = "alloc")]
    fn source(
        &mut self,
        source: &(dyn core::error::Error + Send + Sync + 'static),
    ) -> Option<fmt::Result> {
        let _ = source;
        None
    }
}

impl MessageSink for fmt::Formatter<'_> {
    fn piece(&mut self, piece: &str) -> fmt::Result {
        self.write_str(piece)
    }

    #[cfg(feature = "alloc")]
    fn source(
        &mut self,
        source: &(dyn core::error::Error + Send + Sync + 'static),
    ) -> Option<fmt::Result> {
        Some(fmt::Display::fmt(source, self))
    }
}

/// Writes `parts` one after another. The errors' messages are written in pieces with it (and
/// [`write_quoted`], `itoa` for numbers) rather than `write!`: `core::fmt::write`, the padding
/// behind `{}` and the Unicode escaping behind `{:?}` would otherwise be linked into every
/// program that shows an error (about 8 KB of a browser build).
pub(crate) fn write_all<S: MessageSink + ?Sized>(out: &mut S, parts: &[&str]) -> fmt::Result {
    parts.iter().try_for_each(|p| out.piece(p))
}

/// Writes `s` in double quotes, escaped as `{:?}` escapes ASCII (quotes, backslashes, control
/// characters); other characters as they are (`{:?}` also escapes unprintable Unicode). The
/// text between escapes goes out in one piece.
#[cfg(feature = "alloc")]
pub(crate) fn write_quoted<S: MessageSink + ?Sized>(out: &mut S, s: &str) -> fmt::Result {
    out.piece("\"")?;
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b'\0' => "\\0",
            b if b.is_ascii_control() => "",
            _ => continue,
        };
        // `i` is an ASCII byte's index: a character boundary.
        out.piece(s.get(plain..i).unwrap_or_default())?;
        plain = i + 1;
        if escaped.is_empty() {
            out.piece("\\u{")?;
            if b >= 16 {
                out.piece(hex_digit(b >> 4))?;
            }
            out.piece(hex_digit(b))?;
            out.piece("}")?;
        } else {
            out.piece(escaped)?;
        }
    }
    out.piece(s.get(plain..).unwrap_or_default())?;
    out.piece("\"")
}

/// The lowercase hex digit of the low four bits of `b`.
fn hex_digit(b: u8) -> &'static str {
    let i = usize::from(b & 15);
    &"0123456789abcdef"[i..=i]
}

/// Which caller-supplied store ran out of room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Store {
    /// The buffer of encoded commands waiting to be sent.
    Output,
    /// The arena that keeps reply bytes until their handles are read.
    Replies,
    /// The table with one entry per queued command.
    Commands,
    /// A driver's read buffer, which must hold the largest reply whole.
    ReadBuffer,
    /// The table of a subscriber's channels and patterns.
    Subscriptions,
}

/// Fixed storage is full. Nothing was half-written: the store is as it was before the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityError {
    /// The store that is full.
    pub store: Store,
    /// How many items (bytes, or entries for [`Store::Commands`]) the store would need to hold.
    pub needed: usize,
    /// How many it can hold.
    pub capacity: usize,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl CapacityError {
    pub(crate) fn write_message<S: MessageSink + ?Sized>(&self, f: &mut S) -> fmt::Result {
        let (what, unit) = match self.store {
            Store::Output => ("output buffer", "bytes"),
            Store::Replies => ("reply arena", "bytes"),
            Store::Commands => ("command table", "entries"),
            Store::ReadBuffer => ("read buffer", "bytes"),
            Store::Subscriptions => ("subscription table", "bytes"),
        };
        let (mut needed, mut capacity) = (itoa::Buffer::new(), itoa::Buffer::new());
        write_all(
            f,
            &[
                what,
                " full: ",
                needed.format(self.needed),
                " ",
                unit,
                " needed, capacity is ",
                capacity.format(self.capacity),
            ],
        )
    }
}

impl core::error::Error for CapacityError {}

/// The server sent bytes that are not valid RESP, or exceed the configured limits.
///
/// This poisons the connection: the stream can no longer be split into replies reliably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The first byte of a reply is not a RESP type marker.
    UnknownType(u8),
    /// A length or integer has no digits, a bad digit, or overflows.
    InvalidNumber,
    /// A line does not end in CRLF where the protocol says it must.
    MissingCrlf,
    /// A negative length other than the RESP2 null `-1`.
    NegativeLength,
    /// A bulk string is longer than [`Limits::max_bulk_len`](crate::Limits::max_bulk_len).
    BulkTooLong {
        /// The length the server announced.
        len: u64,
    },
    /// An aggregate has more elements than [`Limits::max_elements`](crate::Limits::max_elements).
    TooManyElements {
        /// The count the server announced.
        count: u64,
    },
    /// Aggregates nest deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    TooDeep,
    /// A simple line is longer than [`Limits::max_line_len`](crate::Limits::max_line_len).
    LineTooLong,
    /// A reply is longer than [`Limits::max_reply_len`](crate::Limits::max_reply_len).
    ReplyTooLong,
    /// A boolean other than `#t` or `#f`.
    InvalidBoolean,
    /// A verbatim string without its `xxx:` format prefix.
    InvalidVerbatim,
    /// A RESP3 streamed string or aggregate (`$?`, `*?`), which Redis never sends.
    StreamedUnsupported,
    /// A reply arrived while no command was waiting for one.
    UnexpectedReply,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl DecodeError {
    pub(crate) fn write_message<S: MessageSink + ?Sized>(&self, f: &mut S) -> fmt::Result {
        let mut n = itoa::Buffer::new();
        match *self {
            Self::UnknownType(b) => write_all(
                f,
                &[
                    "unknown reply type byte 0x",
                    hex_digit(b >> 4),
                    hex_digit(b),
                ],
            ),
            Self::InvalidNumber => f.piece("invalid number in reply"),
            Self::MissingCrlf => f.piece("reply line does not end in CRLF"),
            Self::NegativeLength => f.piece("negative length in reply"),
            Self::BulkTooLong { len } => write_all(
                f,
                &["bulk string of ", n.format(len), " bytes exceeds the limit"],
            ),
            Self::TooManyElements { count } => write_all(
                f,
                &[
                    "aggregate of ",
                    n.format(count),
                    " elements exceeds the limit",
                ],
            ),
            Self::TooDeep => f.piece("reply nests deeper than the limit"),
            Self::LineTooLong => f.piece("reply line exceeds the limit"),
            Self::ReplyTooLong => f.piece("reply exceeds the length limit"),
            Self::InvalidBoolean => f.piece("invalid boolean in reply"),
            Self::InvalidVerbatim => f.piece("verbatim string without format prefix"),
            Self::StreamedUnsupported => f.piece("streamed RESP3 replies are not supported"),
            Self::UnexpectedReply => f.piece("reply received while no command was pending"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// The kind of a reply, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyKind {
    /// `+` simple string.
    Simple,
    /// `-` or `!` error.
    Error,
    /// `:` integer.
    Int,
    /// `$` bulk string.
    Bulk,
    /// `$-1`, `*-1` or `_` null.
    Nil,
    /// `*` array.
    Array,
    /// `%` map.
    Map,
    /// `~` set.
    Set,
    /// `>` push.
    Push,
    /// `,` double.
    Double,
    /// `#` boolean.
    Bool,
    /// `(` big number.
    BigNumber,
    /// `=` verbatim string.
    Verbatim,
}

impl ReplyKind {
    /// The variant's name, as `Debug` writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Simple => "Simple",
            Self::Error => "Error",
            Self::Int => "Int",
            Self::Bulk => "Bulk",
            Self::Nil => "Nil",
            Self::Array => "Array",
            Self::Map => "Map",
            Self::Set => "Set",
            Self::Push => "Push",
            Self::Double => "Double",
            Self::Bool => "Bool",
            Self::BigNumber => "BigNumber",
            Self::Verbatim => "Verbatim",
        }
    }
}

/// A reply that arrived fine but does not convert to the type the handle asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConvertError {
    /// The reply has another shape than the target type accepts.
    Type {
        /// What the target type needed.
        expected: &'static str,
        /// What the reply is.
        got: ReplyKind,
    },
    /// A number does not fit the target integer type, or text is not a number.
    InvalidNumber,
    /// Text that should be UTF-8 is not.
    InvalidUtf8,
    /// An aggregate has another length than a tuple or array target needs.
    Length {
        /// The length the target needs.
        expected: usize,
        /// The length of the reply.
        got: usize,
    },
    /// A fixed-capacity target (heapless) cannot hold every element.
    Capacity,
    /// Nesting deeper than the conversion supports.
    TooDeep,
    /// The stored bytes are not a value of a keyspace field's codec.
    Field(FieldError),
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl ConvertError {
    pub(crate) fn write_message<S: MessageSink + ?Sized>(&self, f: &mut S) -> fmt::Result {
        match *self {
            Self::Type { expected, got } => {
                write_all(f, &["expected ", expected, ", got ", got.name(), " reply"])
            }
            Self::InvalidNumber => f.piece("reply is not a number of the target type"),
            Self::InvalidUtf8 => f.piece("reply is not valid UTF-8"),
            Self::Length { expected, got } => {
                let (mut e, mut g) = (itoa::Buffer::new(), itoa::Buffer::new());
                write_all(
                    f,
                    &[
                        "expected ",
                        e.format(expected),
                        " elements, got ",
                        g.format(got),
                    ],
                )
            }
            Self::Capacity => f.piece("reply has more elements than the target can hold"),
            Self::TooDeep => f.piece("reply nests too deep to convert"),
            Self::Field(e) => e.write_message(f),
        }
    }
}

impl core::error::Error for ConvertError {}

/// Why a command got no reply of its own. Set by the core or by the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The connection closed before the reply arrived.
    Closed,
    /// An I/O error ended the connection before the reply arrived.
    Io(IoKind),
    /// No reply arrived in time.
    Timeout,
    /// The reply stream broke the protocol; the connection is no longer usable.
    Protocol(DecodeError),
    /// The reply did not fit the reply arena.
    Capacity(CapacityError),
    /// The transaction was not executed: a `WATCH`ed key changed (`EXEC` replied nil).
    Aborted,
    /// `EXEC` returned a different number of results than commands were queued.
    ExecMismatch,
    /// The pipeline was dropped or cancelled before the command was sent.
    Cancelled,
    /// A cluster node answered the command after a failover had given its slots to another
    /// node (it had been stopped or cut off, and ran the command when it came back): a write
    /// it acknowledged then is dropped when it rejoins as a replica, so whether the command's
    /// effect remains is unknown.
    Deposed,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl Failure {
    pub(crate) fn write_message<S: MessageSink + ?Sized>(&self, f: &mut S) -> fmt::Result {
        match self {
            Self::Closed => f.piece("connection closed before the reply arrived"),
            Self::Io(kind) => {
                f.piece("I/O error before the reply arrived: ")?;
                f.piece(kind.text())
            }
            Self::Timeout => f.piece("timed out waiting for the reply"),
            Self::Protocol(e) => {
                f.piece("protocol error: ")?;
                e.write_message(f)
            }
            Self::Capacity(e) => {
                f.piece("reply dropped: ")?;
                e.write_message(f)
            }
            Self::Aborted => f.piece("transaction aborted: a watched key changed"),
            Self::ExecMismatch => f.piece("EXEC returned a different number of results"),
            Self::Cancelled => f.piece("pipeline cancelled before the command was sent"),
            Self::Deposed => f.piece(
                "answered by a cluster node that had lost its slots in a failover: the write may be lost",
            ),
        }
    }
}

impl core::error::Error for Failure {}

/// What kind of I/O error ended a connection: enough to say what happened, small enough to copy
/// into every slot it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoKind {
    /// The server refused the connection.
    ConnectionRefused,
    /// The server reset the connection.
    ConnectionReset,
    /// The connection was aborted.
    ConnectionAborted,
    /// The socket is not connected.
    NotConnected,
    /// Writing to a closed connection.
    BrokenPipe,
    /// A read or write timed out.
    TimedOut,
    /// The peer closed the connection in the middle of a reply.
    UnexpectedEof,
    /// Anything else.
    Other,
}

impl fmt::Display for IoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl IoKind {
    /// What `Display` shows.
    pub(crate) fn text(self) -> &'static str {
        match self {
            Self::ConnectionRefused => "connection refused",
            Self::ConnectionReset => "connection reset",
            Self::ConnectionAborted => "connection aborted",
            Self::NotConnected => "not connected",
            Self::BrokenPipe => "broken pipe",
            Self::TimedOut => "timed out",
            Self::UnexpectedEof => "unexpected end of stream",
            Self::Other => "other error",
        }
    }
}

/// Why a value cannot be written in a field, or stored bytes cannot be read as one.
///
/// Defined with the codec errors (a [`ConvertError::Field`] holds one); the keyspace layer
/// re-exports it as `keyspace::FieldError`, beside the codecs that return it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldError {
    /// Text for an [`Ascii`](crate::keyspace::Ascii) field holds characters outside printable ASCII.
    NotAscii,
    /// A string-list item is empty or holds a comma: RedPipe's comma-joined format would lose
    /// or split it.
    StringListItem,
    /// The stored bytes are not a value of the codec named.
    Invalid {
        /// The codec: `integer`, `float`, `text`, `boolean`, ...
        codec: &'static str,
    },
    /// The encoded value does not fit the buffer (without an allocator, 64 bytes).
    TooLong,
    /// The number does not fit the Rust type it is read into or written from (a stored
    /// `300` read as `u8`, a `u64` above `i64::MAX` for an integer field).
    OutOfRange,
    /// An integer beyond ±2^53 for an [`Integer`](crate::keyspace::Integer) field: RedPipe reads integers through a
    /// float, so it would read another number back.
    InexactInteger,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl FieldError {
    /// Writes the message `Display` shows.
    pub(crate) fn write_message<S: MessageSink + ?Sized>(&self, f: &mut S) -> fmt::Result {
        match self {
            Self::NotAscii => f.piece("text holds characters outside printable ASCII"),
            Self::StringListItem => {
                f.piece("a string-list item is empty or holds a comma, which RedPipe loses")
            }
            Self::Invalid { codec } => write_all(f, &["stored value is not a valid ", codec]),
            Self::TooLong => f.piece("encoded value too long for the buffer"),
            Self::OutOfRange => f.piece("number out of range for its type"),
            Self::InexactInteger => f.piece(
                "integer beyond 2^53, which RedPipe reads back as another number (through a float)",
            ),
        }
    }
}

impl core::error::Error for FieldError {}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;
    #[cfg(feature = "alloc")]
    use std::string::String;

    use super::*;

    /// Shows `s` the way `Display` impls here quote names and keys.
    #[cfg(feature = "alloc")]
    struct Quoted<'a>(&'a str);

    #[cfg(feature = "alloc")]
    impl fmt::Display for Quoted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_quoted(f, self.0)
        }
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn quoting_escapes_ascii_as_debug_does() {
        let every_ascii: String = (0u8..128).map(char::from).collect();
        for s in [
            every_ascii.as_str(),
            "",
            "plain",
            "say \"hi\"\\n",
            "ünïcödé ✓",
        ] {
            assert_eq!(format!("{}", Quoted(s)), format!("{s:?}"));
        }
    }

    #[test]
    fn messages_written_in_pieces() {
        let cases: [(&dyn fmt::Display, &str); 7] = [
            (
                &DecodeError::UnknownType(0x0a),
                "unknown reply type byte 0x0a",
            ),
            (
                &DecodeError::UnknownType(0xff),
                "unknown reply type byte 0xff",
            ),
            (
                &DecodeError::BulkTooLong { len: 1 << 40 },
                "bulk string of 1099511627776 bytes exceeds the limit",
            ),
            (
                &CapacityError {
                    store: Store::Commands,
                    needed: 17,
                    capacity: 16,
                },
                "command table full: 17 entries needed, capacity is 16",
            ),
            (
                &ConvertError::Type {
                    expected: "an integer",
                    got: ReplyKind::Bulk,
                },
                "expected an integer, got Bulk reply",
            ),
            (
                &ConvertError::Length {
                    expected: 2,
                    got: 3,
                },
                "expected 2 elements, got 3",
            ),
            (
                &Failure::Io(IoKind::BrokenPipe),
                "I/O error before the reply arrived: broken pipe",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(format!("{error}"), text);
        }
    }
}
