//! Borrowed views of replies that the [`Scanner`](crate::Scanner) has already validated.
//!
//! The pipeline keeps each reply as its raw RESP bytes and builds a [`Reply`] only when a handle
//! is read: one storage for every result type, borrowed `&str`/`&[u8]` results, and a fixed arena
//! is enough without an allocator. Aggregates are views too: iterating one parses its elements
//! lazily and skips nested ones with a counter, never with recursion.

use core::fmt;

use crate::codec::error::ReplyKind;
use crate::codec::hash_slot::HashSlot;
use crate::codec::lex::{parse_double, parse_i64, parse_u64};

/// One reply, borrowed from validated RESP bytes. RESP3 attributes are skipped; read them with
/// [`Pipeline::attributes`](crate::Pipeline::attributes).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply<'a> {
    /// `+OK`: a status line.
    Simple(&'a [u8]),
    /// `-ERR ...` or a RESP3 blob error.
    Error(ServerError<'a>),
    /// `:42`.
    Int(i64),
    /// `$3\r\nfoo`: a binary-safe string.
    Bulk(&'a [u8]),
    /// RESP2 `$-1`/`*-1` or RESP3 `_`.
    Nil,
    /// `*n`: elements in order.
    Array(Aggregate<'a>),
    /// `%n`: keys and values alternate; see [`Aggregate::pairs`].
    Map(Aggregate<'a>),
    /// `~n`: distinct elements.
    Set(Aggregate<'a>),
    /// `>n`: out-of-band data (pub/sub, invalidation).
    Push(Aggregate<'a>),
    /// `,3.14`: parsed only when asked ([`Double::value`]), so that images which never read a
    /// double do not link float parsing.
    Double(Double<'a>),
    /// `#t` / `#f`.
    Bool(bool),
    /// `(123...`: digits with an optional `-`.
    BigNumber(&'a [u8]),
    /// `=15\r\ntxt:...`: text with a three-byte format such as `txt` or `mkd`.
    Verbatim {
        /// The format, e.g. `*b"txt"` (held by value: it keeps `Reply` at 16 bytes on 32-bit
        /// targets, where moves of larger values call `memcpy`).
        format: [u8; 3],
        /// The text after `xxx:`.
        text: &'a [u8],
    },
}

impl<'a> Reply<'a> {
    /// The kind of this reply, for messages.
    pub fn kind(&self) -> ReplyKind {
        match self {
            Self::Simple(_) => ReplyKind::Simple,
            Self::Error(_) => ReplyKind::Error,
            Self::Int(_) => ReplyKind::Int,
            Self::Bulk(_) => ReplyKind::Bulk,
            Self::Nil => ReplyKind::Nil,
            Self::Array(_) => ReplyKind::Array,
            Self::Map(_) => ReplyKind::Map,
            Self::Set(_) => ReplyKind::Set,
            Self::Push(_) => ReplyKind::Push,
            Self::Double(_) => ReplyKind::Double,
            Self::Bool(_) => ReplyKind::Bool,
            Self::BigNumber(_) => ReplyKind::BigNumber,
            Self::Verbatim { .. } => ReplyKind::Verbatim,
        }
    }

    /// Parses the reply at the start of `frame`, which the scanner has validated.
    #[inline]
    pub(crate) fn parse(frame: &'a [u8]) -> Reply<'a> {
        // `frame` is exactly one validated reply, so for the common scalar kinds the line is
        // everything between the type byte and the final CRLF: no search needed.
        #[cfg(not(feature = "small"))]
        if let Some(r) = Self::parse_scalar(frame) {
            return r;
        }
        // The frame's end is known: no need to walk an aggregate to find it.
        parse_at(frame, 0, false).map_or(Reply::Nil, |(r, _)| r)
    }

    /// The fast path of [`parse`](Self::parse) for `+`, `-`, `:` and `$` frames.
    #[cfg(not(feature = "small"))]
    #[inline]
    fn parse_scalar(frame: &'a [u8]) -> Option<Reply<'a>> {
        let body = frame
            .get(1..frame.len().saturating_sub(2))
            .unwrap_or_default();
        match frame.first() {
            Some(b'+') => return Some(Reply::Simple(body)),
            Some(b'-') => return Some(Reply::Error(ServerError::new(body))),
            Some(b':') => {
                if let Some(i) = parse_i64(body) {
                    return Some(Reply::Int(i));
                }
            }
            Some(b'$') if frame.get(1) != Some(&b'-') => {
                if let Some(nl) = body.iter().position(|&b| b == b'\n') {
                    return Some(Reply::Bulk(&body[nl + 1..]));
                }
            }
            _ => {}
        }
        None
    }

    /// The RESP3 attribute map that prefixes the reply in `frame`, if any.
    pub(crate) fn attributes_of(frame: &'a [u8]) -> Option<Aggregate<'a>> {
        if frame.first() != Some(&b'|') {
            return None;
        }
        let (line, after) = line(frame, 0)?;
        let n = usize::try_from(parse_u64(line)?).ok()?;
        Some(Aggregate {
            bytes: frame.get(after..)?,
            len: n.checked_mul(2)?,
        })
    }
}

/// The text of a RESP3 double, already checked to be one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Double<'a>(&'a [u8]);

impl<'a> Double<'a> {
    /// The text as sent, e.g. `3.14`, `-inf`, `nan`.
    pub fn text(&self) -> &'a [u8] {
        self.0
    }

    /// The number.
    pub fn value(&self) -> f64 {
        // The scanner accepted the syntax, which Rust's parser accepts too.
        parse_double(self.0).unwrap_or(f64::NAN)
    }
}

/// The elements of an aggregate reply, parsed as they are iterated.
#[derive(Clone, Copy, PartialEq)]
pub struct Aggregate<'a> {
    bytes: &'a [u8],
    len: usize,
}

impl<'a> Aggregate<'a> {
    /// Number of elements (a map of n pairs has 2n).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements in order.
    pub fn iter(&self) -> AggregateIter<'a> {
        AggregateIter {
            bytes: self.bytes,
            pos: 0,
            left: self.len,
        }
    }

    /// The elements taken two at a time, as map entries (also works on a flat RESP2 array such as
    /// `HGETALL`'s).
    pub fn pairs(&self) -> Pairs<'a> {
        Pairs(self.iter())
    }
}

impl fmt::Debug for Aggregate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Aggregate<'a> {
    type Item = Reply<'a>;
    type IntoIter = AggregateIter<'a>;
    fn into_iter(self) -> AggregateIter<'a> {
        self.iter()
    }
}

/// Iterator over an [`Aggregate`].
#[derive(Debug, Clone)]
pub struct AggregateIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    left: usize,
}

impl AggregateIter<'_> {
    pub(crate) const fn empty() -> Self {
        Self {
            bytes: &[],
            pos: 0,
            left: 0,
        }
    }
}

impl<'a> Iterator for AggregateIter<'a> {
    type Item = Reply<'a>;
    fn next(&mut self) -> Option<Reply<'a>> {
        if self.left == 0 {
            return None;
        }
        let (reply, next) = parse_at(self.bytes, self.pos, true)?;
        self.pos = next;
        self.left -= 1;
        Some(reply)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// Iterator over pairs of an [`Aggregate`].
#[derive(Debug, Clone)]
pub struct Pairs<'a>(AggregateIter<'a>);

impl<'a> Iterator for Pairs<'a> {
    type Item = (Reply<'a>, Reply<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        Some((self.0.next()?, self.0.next()?))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.0.left / 2))
    }
}

/// The line after the type byte at `pos`, and the offset after its CRLF.
#[inline]
fn line(bytes: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = bytes.get(pos + 1..)?;
    let cr = rest.iter().position(|&b| b == b'\r')?;
    Some((&rest[..cr], pos + 1 + cr + 2))
}

/// Parses the element at `pos` (skipping attributes) and returns it with the offset after it.
/// With `want_end` false, the offset returned for an aggregate is not computed (0).
#[inline]
fn parse_at(bytes: &[u8], mut pos: usize, want_end: bool) -> Option<(Reply<'_>, usize)> {
    loop {
        let kind = *bytes.get(pos)?;
        let (l, after) = line(bytes, pos)?;
        let bulk = || {
            let len = usize::try_from(parse_u64(l)?).ok()?;
            Some((bytes.get(after..after.checked_add(len)?)?, after + len + 2))
        };
        let aggregate = |per: usize| -> Option<(Aggregate<'_>, usize)> {
            let n = usize::try_from(parse_u64(l)?).ok()?.checked_mul(per)?;
            let agg = Aggregate {
                bytes: bytes.get(after..)?,
                len: n,
            };
            let end = if want_end {
                after + skip(agg.bytes, n)?
            } else {
                0
            };
            Some((agg, end))
        };
        return Some(match kind {
            b'+' => (Reply::Simple(l), after),
            b'-' => (Reply::Error(ServerError::new(l)), after),
            b':' => (Reply::Int(parse_i64(l)?), after),
            b',' => (Reply::Double(Double(l)), after),
            b'#' => (Reply::Bool(l == b"t"), after),
            b'_' => (Reply::Nil, after),
            b'(' => (Reply::BigNumber(l), after),
            b'$' | b'*' if l == b"-1" => (Reply::Nil, after),
            b'$' => {
                let (data, next) = bulk()?;
                (Reply::Bulk(data), next)
            }
            b'!' => {
                let (data, next) = bulk()?;
                (Reply::Error(ServerError::new(data)), next)
            }
            b'=' => {
                let (data, next) = bulk()?;
                let (format, text) = (data.get(..3)?.try_into().ok()?, data.get(4..)?);
                (Reply::Verbatim { format, text }, next)
            }
            b'*' => {
                let (a, next) = aggregate(1)?;
                (Reply::Array(a), next)
            }
            b'~' => {
                let (a, next) = aggregate(1)?;
                (Reply::Set(a), next)
            }
            b'>' => {
                let (a, next) = aggregate(1)?;
                (Reply::Push(a), next)
            }
            b'%' => {
                let (a, next) = aggregate(2)?;
                (Reply::Map(a), next)
            }
            b'|' => {
                // An attribute prefixes the value: skip its pairs to reach it.
                let pairs = usize::try_from(parse_u64(l)?).ok()?.checked_mul(2)?;
                pos = after + skip(bytes.get(after..)?, pairs)?;
                continue;
            }
            _ => return None,
        });
    }
}

/// The reply in `frame` without the RESP3 attributes that may prefix it.
pub(crate) fn strip_attributes(mut frame: &[u8]) -> &[u8] {
    while frame.first() == Some(&b'|') {
        let Some(attrs) = Reply::attributes_of(frame) else {
            return frame;
        };
        let header = frame.len() - attrs.bytes.len();
        match skip(attrs.bytes, attrs.len) {
            Some(n) => frame = &frame[header + n..],
            None => return frame,
        }
    }
    frame
}

/// The byte length of `n` consecutive elements at the start of `bytes`, counted without
/// recursion: each aggregate header adds its element count to the work left.
pub(crate) fn skip(bytes: &[u8], n: usize) -> Option<usize> {
    let mut pending = n;
    let mut pos = 0;
    while pending > 0 {
        let kind = *bytes.get(pos)?;
        let (l, after) = line(bytes, pos)?;
        pending -= 1;
        pos = after;
        match kind {
            b'$' | b'!' | b'=' if l != b"-1" => {
                pos = pos.checked_add(usize::try_from(parse_u64(l)?).ok()?)? + 2;
            }
            b'*' | b'~' | b'>' if l != b"-1" => {
                pending = pending.checked_add(usize::try_from(parse_u64(l)?).ok()?)?;
            }
            // An attribute prefixes a value: its pairs plus the value itself.
            b'%' | b'|' => {
                let pairs = usize::try_from(parse_u64(l)?).ok()?.checked_mul(2)?;
                pending = pending.checked_add(pairs)? + usize::from(kind == b'|');
            }
            _ => {}
        }
    }
    (pos <= bytes.len()).then_some(pos)
}

/// An error reply from the server: `-WRONGTYPE Operation against a key ...`.
///
/// It belongs to its command's slot only; the other commands of the pipeline resolve normally.
/// Borrowed from the reply; with feature `alloc`, `ServerError::into_owned` keeps it longer.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerError<'a> {
    text: Text<'a>,
}

#[derive(Clone, PartialEq, Eq)]
enum Text<'a> {
    Borrowed(&'a [u8]),
    #[cfg(feature = "alloc")]
    Owned(alloc::boxed::Box<[u8]>),
}

/// The error code of a [`ServerError`], for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// `ERR`: generic error.
    Err,
    /// `WRONGTYPE`: the key holds another type.
    WrongType,
    /// `MOVED`: the key's slot lives on another cluster node.
    Moved,
    /// `ASK`: the key's slot is migrating; ask the other node once.
    Ask,
    /// `TRYAGAIN`: multi-key command during resharding.
    TryAgain,
    /// `CLUSTERDOWN`: the cluster cannot serve.
    ClusterDown,
    /// `CROSSSLOT`: keys of one command in different slots.
    CrossSlot,
    /// `NOSCRIPT`: `EVALSHA` of a script the server does not have.
    NoScript,
    /// `EXECABORT`: the transaction was discarded because of an earlier error.
    ExecAbort,
    /// `LOADING`: the server is loading its dataset.
    Loading,
    /// `BUSY`: a script is running.
    Busy,
    /// `NOAUTH`: authentication required.
    NoAuth,
    /// `WRONGPASS`: bad username or password.
    WrongPass,
    /// `NOPERM`: the ACL user may not run this command or touch this key.
    NoPerm,
    /// `READONLY`: a write sent to a replica.
    ReadOnly,
    /// `OOM`: over `maxmemory`.
    Oom,
    /// `MASTERDOWN`: the replica lost its master.
    MasterDown,
    /// Any other code.
    Other,
}

/// Where `MOVED` or `ASK` sends a key: `MOVED 3999 127.0.0.1:6381`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirect<'a> {
    /// The key's hash slot.
    pub slot: HashSlot,
    /// `host:port` of the node to ask.
    pub addr: &'a str,
}

impl<'a> ServerError<'a> {
    /// Wraps an error's text (without the leading `-`).
    pub const fn new(text: &'a [u8]) -> Self {
        Self {
            text: Text::Borrowed(text),
        }
    }

    /// The same error, owning its text.
    #[cfg(feature = "alloc")]
    pub fn into_owned(self) -> ServerError<'static> {
        ServerError {
            text: match self.text {
                Text::Borrowed(b) => Text::Owned(b.into()),
                Text::Owned(b) => Text::Owned(b),
            },
        }
    }

    /// The whole text, e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`.
    pub fn text(&self) -> &[u8] {
        match &self.text {
            Text::Borrowed(b) => b,
            #[cfg(feature = "alloc")]
            Text::Owned(b) => b,
        }
    }

    /// The first word, when it is an uppercase code (`ERR`, `MOVED`, ...).
    pub fn code(&self) -> &str {
        let word = self.text().split(|&b| b == b' ').next().unwrap_or_default();
        if !word.is_empty() && word.iter().all(|b| b.is_ascii_uppercase() || *b == b'_') {
            core::str::from_utf8(word).unwrap_or_default()
        } else {
            ""
        }
    }

    /// The text after the code (all of it when there is no code).
    pub fn message(&self) -> &[u8] {
        let code = self.code().len();
        let rest = &self.text()[code..];
        rest.strip_prefix(b" ").unwrap_or(rest)
    }

    /// The code, classified.
    pub fn kind(&self) -> ServerErrorKind {
        use ServerErrorKind::*;
        match self.code() {
            "ERR" => Err,
            "WRONGTYPE" => WrongType,
            "MOVED" => Moved,
            "ASK" => Ask,
            "TRYAGAIN" => TryAgain,
            "CLUSTERDOWN" => ClusterDown,
            "CROSSSLOT" => CrossSlot,
            "NOSCRIPT" => NoScript,
            "EXECABORT" => ExecAbort,
            "LOADING" => Loading,
            "BUSY" => Busy,
            "NOAUTH" => NoAuth,
            "WRONGPASS" => WrongPass,
            "NOPERM" => NoPerm,
            "READONLY" => ReadOnly,
            "OOM" => Oom,
            "MASTERDOWN" => MasterDown,
            _ => Other,
        }
    }

    /// The target of a `MOVED` or `ASK` error.
    pub fn redirect(&self) -> Option<Redirect<'_>> {
        if !matches!(self.kind(), ServerErrorKind::Moved | ServerErrorKind::Ask) {
            return None;
        }
        let mut words = self.message().split(|&b| b == b' ');
        let slot = HashSlot::new(u16::try_from(parse_u64(words.next()?)?).ok()?)?;
        let addr = core::str::from_utf8(words.next()?).ok()?;
        Some(Redirect { slot, addr })
    }
}

impl fmt::Display for ServerError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl ServerError<'_> {
    /// Writes the text as `Display` shows it: invalid UTF-8 replaced with U+FFFD.
    pub(crate) fn write_message<S: crate::codec::error::MessageSink + ?Sized>(
        &self,
        f: &mut S,
    ) -> fmt::Result {
        for chunk in self.text().utf8_chunks() {
            f.piece(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.piece("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ServerError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerError({self})")
    }
}

impl core::error::Error for ServerError<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views() {
        assert_eq!(Reply::parse(b"+OK\r\n"), Reply::Simple(b"OK"));
        assert_eq!(Reply::parse(b":-3\r\n"), Reply::Int(-3));
        assert_eq!(Reply::parse(b"$-1\r\n"), Reply::Nil);
        assert_eq!(Reply::parse(b"*-1\r\n"), Reply::Nil);
        assert_eq!(Reply::parse(b"_\r\n"), Reply::Nil);
        assert_eq!(Reply::parse(b"#t\r\n"), Reply::Bool(true));
        assert!(matches!(Reply::parse(b",2.5\r\n"), Reply::Double(d) if d.value() == 2.5));
        assert_eq!(Reply::parse(b"$2\r\n\r\n\r\n"), Reply::Bulk(b"\r\n"));
        assert_eq!(
            Reply::parse(b"=8\r\nmkd:# hi\r\n"),
            Reply::Verbatim {
                format: *b"mkd",
                text: b"# hi"
            }
        );
        let Reply::Array(a) =
            Reply::parse(b"*3\r\n*2\r\n:1\r\n:2\r\n$1\r\nx\r\n%1\r\n+a\r\n:1\r\n")
        else {
            panic!("not an array")
        };
        let items: heapless::Vec<Reply<'_>, 4> = a.iter().collect();
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[0], Reply::Array(inner) if inner.len() == 2));
        assert_eq!(items[1], Reply::Bulk(b"x"));
        let Reply::Map(m) = &items[2] else { panic!() };
        assert_eq!(m.pairs().next(), Some((Reply::Simple(b"a"), Reply::Int(1))));
    }

    #[test]
    fn attributes_are_skipped_and_readable() {
        let frame = b"|1\r\n+ttl\r\n:3\r\n*2\r\n|1\r\n+x\r\n:0\r\n:1\r\n:2\r\n";
        let Reply::Array(a) = Reply::parse(frame) else {
            panic!()
        };
        let v: heapless::Vec<Reply<'_>, 2> = a.iter().collect();
        assert_eq!(&v[..], &[Reply::Int(1), Reply::Int(2)]);
        let attrs = Reply::attributes_of(frame).unwrap();
        assert_eq!(
            attrs.pairs().next(),
            Some((Reply::Simple(b"ttl"), Reply::Int(3)))
        );
        assert_eq!(skip(frame, 1), Some(frame.len()));
    }

    #[test]
    fn server_errors() {
        let e = ServerError::new(b"MOVED 3999 127.0.0.1:6381");
        assert_eq!(e.kind(), ServerErrorKind::Moved);
        let r = e.redirect().unwrap();
        assert_eq!((r.slot.get(), r.addr), (3999, "127.0.0.1:6381"));
        let e = ServerError::new(b"WRONGTYPE Operation against a key");
        assert_eq!(e.code(), "WRONGTYPE");
        assert_eq!(e.message(), b"Operation against a key");
        let e = ServerError::new(b"no code here");
        assert_eq!((e.code(), e.kind()), ("", ServerErrorKind::Other));
        assert_eq!(e.message(), b"no code here");
        assert_eq!(ServerError::new(b"MOVED 99999 x").redirect(), None);
    }
}
