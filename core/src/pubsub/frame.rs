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

use crate::codec::error::{DecodeError, MessageSink, ReplyKind, write_all};
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

fn count(r: Option<Reply<'_>>) -> Option<i64> {
    match r? {
        Reply::Int(n) => Some(n),
        _ => None,
    }
}
