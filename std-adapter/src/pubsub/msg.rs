//! [`Msg`], a message as a subscriber hands it over: owned, in one allocation.
//!
//! Why one allocation: a subscriber's reader turns every frame it reads into a `Msg` and
//! buffers it, so the allocator's work is per message, the cost that counts at hundreds of
//! thousands of messages a second. The channel, the pattern and the payload share one byte
//! block; their texts are read from it when asked for (the channel and pattern are checked
//! UTF-8, and only when they are not does the block also hold them with the invalid sequences
//! replaced).

use redpipe_core::pubsub::Message;
use redpipe_core::{Error, FromReply, Reply, Result};

use super::Kind;

/// A published message, owned: taken from the subscriber's buffer.
///
/// ```
/// # fn show(msg: redpipe::pubsub::Msg) -> redpipe::Result<()> {
/// println!("{} ({:?}): {}", msg.channel(), msg.pattern(), msg.payload::<&str>()?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Msg {
    kind: Kind,
    /// The channel's bytes, the pattern's, the payload's; then the channel's and the pattern's
    /// text when they are not UTF-8.
    bytes: Box<[u8]>,
    /// Where the channel, the pattern, the payload and the two replaced texts end in `bytes`.
    ends: [usize; 5],
}

/// The end of each part, in [`Msg::ends`].
const CHANNEL: usize = 0;
const PATTERN: usize = 1;
const PAYLOAD: usize = 2;
const CHANNEL_TEXT: usize = 3;
const PATTERN_TEXT: usize = 4;

impl Msg {
    pub(super) fn new(m: &Message<'_>) -> Self {
        let pattern = m.pattern.unwrap_or_default();
        // The check alone first: `from_utf8_lossy`'s walk costs more, even for one byte.
        let lossy = |b: &[u8]| match b.is_empty() || std::str::from_utf8(b).is_ok() {
            true => None,
            false => Some(String::from_utf8_lossy(b).into_owned()),
        };
        let (channel_text, pattern_text) = (lossy(m.channel), lossy(pattern));
        let texts = channel_text.as_ref().map_or(0, String::len)
            + pattern_text.as_ref().map_or(0, String::len);
        let mut bytes =
            Vec::with_capacity(m.channel.len() + pattern.len() + m.payload.len() + texts);
        let mut ends = [0; 5];
        for (i, part) in [
            m.channel,
            pattern,
            m.payload,
            channel_text.as_deref().unwrap_or_default().as_bytes(),
            pattern_text.as_deref().unwrap_or_default().as_bytes(),
        ]
        .into_iter()
        .enumerate()
        {
            if !part.is_empty() {
                bytes.extend_from_slice(part);
            }
            ends[i] = bytes.len();
        }
        Self {
            kind: m.kind,
            bytes: bytes.into_boxed_slice(),
            ends,
        }
    }

    /// Part `i` of the block.
    fn part(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p]);
        self.bytes.get(start..self.ends[i]).unwrap_or_default()
    }

    /// The text of part `raw`, or of `replaced` when that is not empty (the raw bytes were not
    /// UTF-8).
    fn text(&self, raw: usize, replaced: usize) -> &str {
        let replaced = self.part(replaced);
        let bytes = if replaced.is_empty() {
            self.part(raw)
        } else {
            replaced
        };
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// A `pmessage`, the one kind of message that names the pattern it matched.
    fn has_pattern(&self) -> bool {
        self.kind == Kind::Pattern
    }

    /// Which subscription it came through.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The channel it was published to (invalid UTF-8 replaced).
    pub fn channel(&self) -> &str {
        self.text(CHANNEL, CHANNEL_TEXT)
    }

    /// The channel's bytes as published.
    pub fn channel_bytes(&self) -> &[u8] {
        self.part(CHANNEL)
    }

    /// The pattern that matched the channel ([`Kind::Pattern`] only; invalid UTF-8 replaced).
    pub fn pattern(&self) -> Option<&str> {
        self.has_pattern().then(|| self.text(PATTERN, PATTERN_TEXT))
    }

    /// The pattern's bytes as subscribed ([`Kind::Pattern`] only).
    pub fn pattern_bytes(&self) -> Option<&[u8]> {
        self.has_pattern().then(|| self.part(PATTERN))
    }

    /// The payload as `T`, converted as a reply is (`msg.payload::<String>()`,
    /// `msg.payload::<i64>()`, `msg.payload::<&str>()`).
    pub fn payload<T: FromReply>(&self) -> Result<T::Output<'_>> {
        T::from_reply(Reply::Bulk(self.part(PAYLOAD))).map_err(Error::Convert)
    }

    /// The payload's bytes.
    pub fn payload_bytes(&self) -> &[u8] {
        self.part(PAYLOAD)
    }

    /// The payload's bytes, owned (the block, its other parts cut off: no copy into a new
    /// allocation).
    pub fn into_payload(self) -> Vec<u8> {
        let (start, end) = (self.ends[PATTERN], self.ends[PAYLOAD]);
        let mut bytes = self.bytes.into_vec();
        bytes.truncate(end);
        bytes.drain(..start);
        bytes
    }

    /// What it counts for in the buffer's byte bound.
    pub(super) fn size(&self) -> usize {
        self.bytes.len()
    }
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Msg")
            .field("kind", &self.kind)
            .field("channel", &self.channel())
            .field("pattern", &self.pattern())
            .field("payload", &String::from_utf8_lossy(self.payload_bytes()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(channel: &[u8], pattern: Option<&[u8]>, payload: &[u8]) -> Msg {
        Msg::new(&Message {
            kind: if pattern.is_some() {
                Kind::Pattern
            } else {
                Kind::Channel
            },
            channel,
            pattern,
            payload,
        })
    }

    #[test]
    fn each_part_reads_back_as_published() {
        let m = msg(b"news.a", Some(b"news.*"), b"42");
        assert_eq!(
            (
                m.kind(),
                m.channel(),
                m.pattern(),
                m.payload::<i64>().unwrap()
            ),
            (Kind::Pattern, "news.a", Some("news.*"), 42)
        );
        assert_eq!(m.pattern_bytes(), Some(&b"news.*"[..]));
        assert_eq!(m.size(), 6 + 6 + 2);
        let plain = msg(b"c", None, b"");
        assert_eq!(
            (plain.channel(), plain.pattern(), plain.payload_bytes()),
            ("c", None, &b""[..])
        );
        assert_eq!(plain.pattern_bytes(), None);
    }

    #[test]
    fn names_that_are_not_utf8_read_replaced_and_raw() {
        let m = msg(b"c\xff", Some(b"p\xfe*"), b"\xff\x00");
        assert_eq!(m.channel(), "c\u{fffd}");
        assert_eq!(m.channel_bytes(), b"c\xff");
        assert_eq!(m.pattern(), Some("p\u{fffd}*"));
        assert_eq!(m.pattern_bytes(), Some(&b"p\xfe*"[..]));
        assert_eq!(m.payload_bytes(), b"\xff\x00");
        assert!(m.payload::<String>().is_err());
    }

    #[test]
    fn the_payload_is_taken_out_whole() {
        assert_eq!(msg(b"chan", Some(b"ch*"), b"body").into_payload(), b"body");
        assert_eq!(msg(b"\xff", None, b"x").into_payload(), b"x");
        assert_eq!(msg(b"c", None, b"").into_payload(), b"");
    }
}
