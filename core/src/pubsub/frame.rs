//! One validated frame of a subscribed connection, as a borrowed [`Event`].
//!
//! The shapes, from the Redis pub/sub documentation (RESP2 arrays; RESP3 pushes carry the same
//! elements): "The first element is the kind of message", then
//! - `subscribe`/`psubscribe`/`ssubscribe`, the name, the number of subscriptions now;
//! - `unsubscribe`/`punsubscribe`/`sunsubscribe`, the name (null when there was none), the
//!   number left;
//! - `message`/`smessage`, the channel, the payload; `pmessage`, the pattern, the channel, the
//!   payload;
//! - `pong` and the `PING` argument (RESP2 only; RESP3 answers `PING` with `+PONG` or a bulk
//!   string).

#[cfg(not(feature = "small"))]
use crate::codec::decode::Limits;
use crate::codec::error::{DecodeError, MessageSink, ReplyKind, write_all};
#[cfg(not(feature = "small"))]
use crate::codec::lex::length_line;
use crate::codec::reply::{Aggregate, Reply};
use crate::pubsub::{Event, Kind, Message};

/// A frame the subscription machine cannot use; the connection's stream is not to be trusted
/// after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The bytes are not RESP, or exceed the [`Limits`](crate::Limits).
    Decode(DecodeError),
    /// A frame of a known kind (`message`, `subscribe`, ...) with the wrong number or types of
    /// elements.
    Malformed {
        /// The frame's kind, as the server named it.
        frame: &'static str,
    },
    /// A reply that answers nothing this machine sent: not a push, a pong or an error.
    Unexpected(ReplyKind),
}

impl From<DecodeError> for FrameError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.write_message(f)
    }
}

impl FrameError {
    /// Writes the message in pieces, not with `write!`: see `crate::codec::error::write_all`.
    pub(crate) fn write_message<S: MessageSink + ?Sized>(&self, f: &mut S) -> core::fmt::Result {
        match self {
            Self::Decode(e) => e.write_message(f),
            Self::Malformed { frame } => {
                write_all(f, &["malformed ", frame, " frame on a subscription"])
            }
            Self::Unexpected(kind) => write_all(
                f,
                &[
                    "unexpected ",
                    kind.name(),
                    " reply on a subscription: no command awaits one",
                ],
            ),
        }
    }
}

impl core::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            _ => None,
        }
    }
}

/// The frame kinds, with the static name a [`FrameError::Malformed`] carries.
const KINDS: &[&str] = &[
    "message",
    "pmessage",
    "smessage",
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "pong",
];

/// Text of an element that must be a string (bulk, or simple as some proxies send).
fn text<'a>(r: Option<Reply<'a>>) -> Option<&'a [u8]> {
    match r? {
        Reply::Bulk(b) | Reply::Simple(b) => Some(b),
        _ => None,
    }
}

/// Decodes a push or array. `Ok(None)`: a push of another kind (client-tracking
/// invalidations): not ours, and not an error.
pub(crate) fn decode_aggregate(
    items: Aggregate<'_>,
    push: bool,
) -> Result<Option<Event<'_>>, FrameError> {
    let mut it = items.iter();
    let n = items.len();
    let Some(word) = text(it.next()) else {
        return if push {
            Ok(None)
        } else {
            Err(FrameError::Unexpected(ReplyKind::Array))
        };
    };
    let Some(&frame) = KINDS.iter().find(|k| k.as_bytes() == word) else {
        return if push {
            Ok(None)
        } else {
            Err(FrameError::Unexpected(ReplyKind::Array))
        };
    };
    let malformed = FrameError::Malformed { frame };
    let kind = match frame {
        "pmessage" | "psubscribe" | "punsubscribe" => Kind::Pattern,
        "smessage" | "ssubscribe" | "sunsubscribe" => Kind::Shard,
        _ => Kind::Channel,
    };
    let event = match frame {
        "message" | "smessage" if n == 3 => Event::Message(Message {
            kind,
            channel: text(it.next()).ok_or(malformed)?,
            pattern: None,
            payload: text(it.next()).ok_or(malformed)?,
        }),
        "pmessage" if n == 4 => {
            let pattern = text(it.next()).ok_or(malformed)?;
            Event::Message(Message {
                kind,
                channel: text(it.next()).ok_or(malformed)?,
                pattern: Some(pattern),
                payload: text(it.next()).ok_or(malformed)?,
            })
        }
        "subscribe" | "psubscribe" | "ssubscribe" if n == 3 => Event::Subscribed {
            kind,
            name: text(it.next()).ok_or(malformed)?,
            count: count(it.next()).ok_or(malformed)?,
        },
        "unsubscribe" | "punsubscribe" | "sunsubscribe" if n == 3 => {
            let name = match it.next() {
                Some(Reply::Nil) => None,
                other => Some(text(other).ok_or(malformed)?),
            };
            Event::Unsubscribed {
                kind,
                name,
                count: count(it.next()).ok_or(malformed)?,
            }
        }
        "pong" if n == 2 => Event::Pong(text(it.next()).ok_or(malformed)?),
        _ => return Err(malformed),
    };
    Ok(Some(event))
}

/// The heads of the frames [`fast_message`] reads: RESP2 array or RESP3 push, the element count
/// and the kind's name; then the kind and how many bulk strings follow.
#[cfg(not(feature = "small"))]
const FAST_HEADS: [(&[u8], Kind, usize); 6] = [
    (b"*3\r\n$7\r\nmessage\r\n", Kind::Channel, 2),
    (b">3\r\n$7\r\nmessage\r\n", Kind::Channel, 2),
    (b"*4\r\n$8\r\npmessage\r\n", Kind::Pattern, 3),
    (b">4\r\n$8\r\npmessage\r\n", Kind::Pattern, 3),
    (b"*3\r\n$8\r\nsmessage\r\n", Kind::Shard, 2),
    (b">3\r\n$8\r\nsmessage\r\n", Kind::Shard, 2),
];

/// The fast path for the frame a subscriber reads most: a complete `message`, `pmessage` or
/// `smessage` at the start of `buf` whose elements are bulk strings, read in one pass at fixed
/// places, where the general path scans the frame, then parses it, then walks its elements
/// and compares the kind's name with every kind's. It accepts a subset of what the general
/// path accepts, with the same limits and the same meaning (tested against it); `None` sends
/// everything else (incomplete, malformed, other kinds) there.
#[cfg(not(feature = "small"))]
#[inline]
pub(crate) fn fast_message<'a>(buf: &'a [u8], limits: &Limits) -> Option<(Message<'a>, usize)> {
    let first = *buf.first()?;
    // The limits the general path applies to the head: one aggregate level, lines of one
    // digit, the kind's name as a bulk of up to 8 bytes.
    if !matches!(first, b'*' | b'>')
        || limits.max_depth == 0
        || limits.max_line_len == 0
        || limits.max_bulk_len < 8
    {
        return None;
    }
    let &(head, kind, bulks) = FAST_HEADS.iter().find(|(h, ..)| buf.starts_with(h))?;
    if bulks as u64 + 1 > limits.max_elements {
        return None;
    }
    let mut at = head.len();
    let mut parts: [&[u8]; 3] = [&[]; 3];
    for part in parts.iter_mut().take(bulks) {
        let (bytes, end) = bulk_at(buf, at, limits)?;
        *part = bytes;
        at = end;
    }
    let message = match kind {
        Kind::Pattern => Message {
            kind,
            channel: parts[1],
            pattern: Some(parts[0]),
            payload: parts[2],
        },
        _ => Message {
            kind,
            channel: parts[0],
            pattern: None,
            payload: parts[1],
        },
    };
    Some((message, at))
}

/// A complete bulk string (`$<len>\r\n<bytes>\r\n`, not null) at `at`, within the limits: its
/// bytes and the offset after it. The length is read as its digits are found
/// ([`length_line`]).
#[cfg(not(feature = "small"))]
#[inline]
fn bulk_at<'a>(buf: &'a [u8], at: usize, limits: &Limits) -> Option<(&'a [u8], usize)> {
    let (len, start) = length_line(buf, at, b'$')?;
    // The digits, without the `$` and the CRLF.
    if start - at - 3 > limits.max_line_len || len > limits.max_bulk_len {
        return None;
    }
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    let after = end.checked_add(2)?;
    if after > limits.max_reply_len || buf.get(end..after)? != b"\r\n" {
        return None;
    }
    Some((&buf[start..end], after))
}

fn count(r: Option<Reply<'_>>) -> Option<i64> {
    match r? {
        Reply::Int(n) => Some(n),
        _ => None,
    }
}
