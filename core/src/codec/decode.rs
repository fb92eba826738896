//! The incremental reply reader: finds where each reply ends, validating as it goes.
//!
//! Our own reader, not `redis-protocol`'s: redis-protocol 6 always needs an allocator (and
//! `hashbrown` + `libm` on no_std), so it cannot serve the no-allocator mode; and it builds a frame
//! tree per reply where the pipeline only needs the reply's extent. redis-protocol stays as the
//! differential oracle in the tests.
//!
//! The [`Scanner`] works on the caller's read buffer without copying: it reports the length of
//! the next complete reply, or "need more" (`Ok(None)`). It keeps its place inside an unfinished
//! reply, so a huge array that arrives in many reads is validated once, not once per read. Nesting
//! is tracked on an explicit fixed stack (no recursion on untrusted depth), and every length is
//! checked against [`Limits`] before anything relies on it; nothing is ever allocated.

use crate::codec::error::DecodeError;
use crate::codec::lex::{is_double, parse_i64, parse_u64};
use crate::codec::reply::Reply;

/// The deepest nesting the scanner can track; [`Limits::max_depth`] may only lower it.
pub const MAX_DEPTH: usize = 32;

/// Bounds on what the server may send; exceeding one is a [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string, in bytes (Redis's own `proto-max-bulk-len` default: 512 MiB).
    pub max_bulk_len: u64,
    /// Most elements in one aggregate (a map of n pairs counts 2n); at most `u32::MAX`.
    pub max_elements: u64,
    /// Deepest nesting of aggregates, at most [`MAX_DEPTH`].
    pub max_depth: usize,
    /// Longest simple line (status, error, number), in bytes.
    pub max_line_len: usize,
    /// Longest reply as a whole, in bytes: bounds the read buffer a transport needs.
    pub max_reply_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: 512 * 1024 * 1024,
            max_elements: u32::MAX as u64,
            max_depth: 32,
            max_line_len: 1024 * 1024,
            max_reply_len: 1 << 30,
        }
    }
}

/// Decodes the complete reply at the start of `buf`: the reply and its length, or `Ok(None)`
/// when more bytes are needed. One-shot; a [`Scanner`] resumes where it stopped instead.
///
/// ```
/// use redpipe_core::{decode_reply, Limits, Reply};
/// let (reply, used) = decode_reply(b":42\r\n+OK", &Limits::default()).unwrap().unwrap();
/// assert_eq!((reply, used), (Reply::Int(42), 5));
/// assert_eq!(decode_reply(b"$5\r\nhel", &Limits::default()), Ok(None));
/// ```
pub fn decode_reply<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Reply<'a>, usize)>, DecodeError> {
    Ok(Scanner::new()
        .scan(buf, limits)?
        .map(|n| (Reply::parse(&buf[..n]), n)))
}

/// What bytes that arrived while no command was waiting hold, after the complete RESP3 pushes
/// at their front (client-tracking invalidations, pub/sub messages: they answer no command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsolicited {
    /// Nothing but pushes.
    Nothing,
    /// The start of a push, or of attributes, still arriving: it MUST be complete before a
    /// pipeline is sent, because what it turns out to be decides whether the next reply is the
    /// pipeline's.
    Partial,
    /// A reply, whole or not, or bytes that are no RESP: the next pipeline would read it as
    /// its first command's reply.
    Reply,
}

/// Classifies `pending`, bytes that arrived while no command was waiting for a reply: what
/// they hold after the complete pushes at their front, how many bytes those pushes take, and
/// how many there are. Transports check this before sending a pipeline (see
/// [`Session`](crate::session::Session)).
///
/// ```
/// use redpipe_core::{unsolicited, Limits, Unsolicited};
/// let limits = Limits::default();
/// let push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";
/// assert_eq!(unsolicited(push, &limits), (Unsolicited::Nothing, push.len(), 1));
/// assert_eq!(unsolicited(b">2\r\n$10\r\ninval", &limits), (Unsolicited::Partial, 0, 0));
/// assert_eq!(unsolicited(b":1\r\n", &limits), (Unsolicited::Reply, 0, 0));
/// ```
pub fn unsolicited(pending: &[u8], limits: &Limits) -> (Unsolicited, usize, u64) {
    let (mut at, mut pushes) = (0, 0);
    loop {
        let rest = &pending[at..];
        let kind = match Scanner::new().scan(rest, limits) {
            Ok(Some(n))
                if crate::codec::reply::strip_attributes(&rest[..n]).first() == Some(&b'>') =>
            {
                at += n;
                pushes += 1;
                continue;
            }
            Ok(Some(_)) | Err(_) => Unsolicited::Reply,
            Ok(None) => match rest.first() {
                None => Unsolicited::Nothing,
                // A push, or attributes (which may prefix a push or a reply): not known yet.
                Some(b'>' | b'|') => Unsolicited::Partial,
                Some(_) => Unsolicited::Reply,
            },
        };
        return (kind, at, pushes);
    }
}

/// Resumable reply scanner. Feed it the unconsumed bytes each time, starting where the last
/// complete reply ended.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// Elements still missing at each open aggregate level, innermost last. A `heapless::Vec`
    /// rather than an array: creating a scanner then writes a length, not 128 zero bytes
    /// (which would link `memset` into firmware).
    remaining: heapless::Vec<u32, MAX_DEPTH>,
    /// Bit `i` set: level `i` is an attribute, which prefixes a value instead of being one.
    /// 32 bits for [`MAX_DEPTH`] levels: 64-bit shifts are library calls on 32-bit targets.
    attribute: u32,
    /// Offset of the next unvalidated element inside the current reply.
    pos: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

enum Len {
    Null,
    Some(u64),
}

impl Scanner {
    /// A scanner at a reply boundary.
    pub const fn new() -> Self {
        Self {
            remaining: heapless::Vec::new(),
            attribute: 0,
            pos: 0,
        }
    }

    /// Forgets any partial reply.
    pub fn reset(&mut self) {
        self.remaining.clear();
        self.pos = 0;
        self.attribute = 0;
    }

    /// Whether the scanner is in the middle of a reply.
    pub fn is_partial(&self) -> bool {
        self.pos != 0
    }

    /// Returns the length of the complete reply at the start of `buf`, or `Ok(None)` when more
    /// bytes are needed.
    ///
    /// After `Ok(None)` the caller MUST call again with the same bytes at the start of `buf`
    /// (followed by more). After `Ok(Some(n))` the next call MUST start at `buf[n..]`.
    #[inline]
    pub fn scan(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, DecodeError> {
        #[cfg(not(feature = "small"))]
        if self.pos == 0
            && let Some(end) = scan_simple(buf, limits)
        {
            return Ok(Some(end));
        }
        let result = self.scan_inner(buf, limits);
        if !matches!(result, Ok(None)) {
            self.reset();
        }
        result
    }

    fn scan_inner(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, DecodeError> {
        let max_depth = limits.max_depth.min(MAX_DEPTH);
        loop {
            let start = self.pos;
            let Some(&kind) = buf.get(start) else {
                return Ok(None);
            };
            if !is_type(kind) {
                return Err(DecodeError::UnknownType(kind));
            }
            let Some((line, after)) = line_at(buf, start, limits.max_line_len)? else {
                return Ok(None);
            };
            let mut next = after;
            let mut count = 0u64;
            let mut is_attribute = false;
            match kind {
                b'+' | b'-' => {}
                b':' => {
                    parse_i64(line).ok_or(DecodeError::InvalidNumber)?;
                }
                b',' => {
                    if !is_double(line) {
                        return Err(DecodeError::InvalidNumber);
                    }
                }
                b'(' => {
                    let digits = line.strip_prefix(b"-").unwrap_or(line);
                    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                        return Err(DecodeError::InvalidNumber);
                    }
                }
                b'#' => {
                    if line != b"t" && line != b"f" {
                        return Err(DecodeError::InvalidBoolean);
                    }
                }
                b'_' => {
                    if !line.is_empty() {
                        return Err(DecodeError::MissingCrlf);
                    }
                }
                b'$' | b'!' | b'=' => {
                    if let Len::Some(len) = parse_len(line, kind == b'$')? {
                        if len > limits.max_bulk_len {
                            return Err(DecodeError::BulkTooLong { len });
                        }
                        let len =
                            usize::try_from(len).map_err(|_| DecodeError::BulkTooLong { len })?;
                        let end = after
                            .checked_add(len)
                            .and_then(|e| e.checked_add(2))
                            .ok_or(DecodeError::BulkTooLong { len: len as u64 })?;
                        if end > limits.max_reply_len {
                            return Err(DecodeError::ReplyTooLong);
                        }
                        if buf.len() < end {
                            return Ok(None);
                        }
                        if &buf[end - 2..end] != b"\r\n" {
                            return Err(DecodeError::MissingCrlf);
                        }
                        // "=<len>\r\n<3 bytes format>:<text>\r\n"
                        if kind == b'=' && (len < 4 || buf[after + 3] != b':') {
                            return Err(DecodeError::InvalidVerbatim);
                        }
                        next = end;
                    }
                }
                b'*' | b'~' | b'>' | b'%' | b'|' => {
                    if let Len::Some(n) = parse_len(line, kind == b'*')? {
                        count = if matches!(kind, b'%' | b'|') {
                            n.checked_mul(2)
                                .ok_or(DecodeError::TooManyElements { count: n })?
                        } else {
                            n
                        };
                        if count > limits.max_elements.min(u64::from(u32::MAX)) {
                            return Err(DecodeError::TooManyElements { count: n });
                        }
                        is_attribute = kind == b'|';
                    }
                }
                other => return Err(DecodeError::UnknownType(other)),
            }
            if next > limits.max_reply_len {
                return Err(DecodeError::ReplyTooLong);
            }
            self.pos = next;
            if count > 0 {
                let depth = self.remaining.len();
                // Fits: `count` is at most `u32::MAX` (checked above).
                if depth >= max_depth || self.remaining.push(count as u32).is_err() {
                    return Err(DecodeError::TooDeep);
                }
                if is_attribute {
                    self.attribute |= 1 << depth;
                } else {
                    self.attribute &= !(1 << depth);
                }
                continue;
            }
            if is_attribute {
                // An empty attribute map still prefixes a value.
                continue;
            }
            // One element complete: close every aggregate it completes.
            loop {
                let Some(left) = self.remaining.last_mut() else {
                    return Ok(Some(self.pos));
                };
                *left -= 1;
                if *left > 0 {
                    break;
                }
                self.remaining.pop();
                if self.attribute & (1 << self.remaining.len()) != 0 {
                    // A finished attribute is not an element; the value it prefixes follows.
                    break;
                }
            }
        }
    }
}

/// Whether `b` is a RESP2 or RESP3 type marker.
#[inline]
pub(crate) const fn is_type(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'-'
            | b':'
            | b'$'
            | b'*'
            | b'_'
            | b','
            | b'#'
            | b'('
            | b'!'
            | b'='
            | b'%'
            | b'~'
            | b'>'
            | b'|'
    )
}

/// The fast path for the replies most commands get: a complete `+status`, `:integer` or
/// `$bulk` at the start of `buf`. `None` sends everything else (errors included) to the general
/// scanner, which validates the same way.
#[cfg(not(feature = "small"))]
#[inline]
fn scan_simple(buf: &[u8], limits: &Limits) -> Option<usize> {
    let kind = *buf.first()?;
    if !matches!(kind, b'+' | b':' | b'$') {
        return None;
    }
    let rest = buf.get(1..)?;
    let cr = rest
        .iter()
        .take(limits.max_line_len.saturating_add(1))
        .position(|&b| b == b'\r')?;
    let line = &rest[..cr];
    if rest.get(cr + 1) != Some(&b'\n') {
        return None;
    }
    let after = cr + 3;
    let end = match kind {
        b'+' => after,
        b':' => {
            parse_i64(line)?;
            after
        }
        _ => {
            let len = usize::try_from(parse_u64(line)?).ok()?;
            if len as u64 > limits.max_bulk_len {
                return None;
            }
            let end = after.checked_add(len)?.checked_add(2)?;
            if buf.get(end - 2..end)? != b"\r\n" {
                return None;
            }
            end
        }
    };
    (end <= limits.max_reply_len).then_some(end)
}

/// The line starting at `start` (without its type byte and CRLF) and the offset after its CRLF.
#[inline]
fn line_at(
    buf: &[u8],
    start: usize,
    max_line_len: usize,
) -> Result<Option<(&[u8], usize)>, DecodeError> {
    let Some(rest) = buf.get(start + 1..) else {
        return Ok(None);
    };
    match rest.iter().position(|&b| b == b'\r') {
        Some(cr) => {
            if cr > max_line_len {
                return Err(DecodeError::LineTooLong);
            }
            match rest.get(cr + 1) {
                None => Ok(None),
                Some(b'\n') => Ok(Some((&rest[..cr], start + 1 + cr + 2))),
                Some(_) => Err(DecodeError::MissingCrlf),
            }
        }
        None if rest.len() > max_line_len => Err(DecodeError::LineTooLong),
        None => Ok(None),
    }
}

/// A length: digits, or `-1` (null) where `null_ok`; `?` (streamed) is refused.
#[inline]
fn parse_len(line: &[u8], null_ok: bool) -> Result<Len, DecodeError> {
    match line {
        b"-1" if null_ok => Ok(Len::Null),
        [b'-', ..] => Err(DecodeError::NegativeLength),
        [b'?'] => Err(DecodeError::StreamedUnsupported),
        _ => parse_u64(line)
            .map(Len::Some)
            .ok_or(DecodeError::InvalidNumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        Scanner::new().scan(buf, &Limits::default())
    }

    macro_rules! ok_cases {
        ($($name:ident: $bytes:expr;)*) => {
            const OK: &[(&str, &[u8])] = &[$((stringify!($name), $bytes)),*];
        };
    }
    ok_cases! {
        simple: b"+OK\r\n";
        simple_empty: b"+\r\n";
        error: b"-ERR unknown command 'FOO'\r\n";
        int: b":1000\r\n";
        int_negative: b":-9223372036854775808\r\n";
        int_plus: b":+5\r\n";
        bulk: b"$5\r\nhello\r\n";
        bulk_empty: b"$0\r\n\r\n";
        bulk_with_crlf_inside: b"$4\r\na\r\nb\r\n";
        bulk_nil: b"$-1\r\n";
        array: b"*2\r\n$3\r\nfoo\r\n:1\r\n";
        array_empty: b"*0\r\n";
        array_nil: b"*-1\r\n";
        array_nested: b"*2\r\n*1\r\n*1\r\n:1\r\n+x\r\n";
        null: b"_\r\n";
        double: b",3.14\r\n";
        double_inf: b",-inf\r\n";
        double_exp: b",1.5e10\r\n";
        double_nan: b",nan\r\n";
        bool_true: b"#t\r\n";
        bool_false: b"#f\r\n";
        big_number: b"(3492890328409238509324850943850943825024385\r\n";
        blob_error: b"!21\r\nSYNTAX invalid syntax\r\n";
        verbatim: b"=15\r\ntxt:Some string\r\n";
        map: b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n";
        map_empty: b"%0\r\n";
        set: b"~3\r\n+a\r\n+b\r\n:1\r\n";
        push: b">3\r\n+message\r\n+chan\r\n$2\r\nhi\r\n";
        attribute: b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n";
        attribute_inner: b"*2\r\n|1\r\n+ttl\r\n:3\r\n:1\r\n:2\r\n";
        attribute_empty: b"|0\r\n:7\r\n";
    }

    #[test]
    fn unsolicited_bytes_are_pushes_partial_frames_or_replies() {
        use Unsolicited::{Nothing, Partial, Reply};
        let limits = Limits::default();
        let push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";
        let two_pushes = [&push[..], &push[..]].concat();
        let attributed = b"|1\r\n+a\r\n:1\r\n>1\r\n:2\r\n"; // attributes, then a push
        for (pending, want) in [
            (&b""[..], (Nothing, 0, 0)),
            (push, (Nothing, push.len(), 1)),
            (&two_pushes, (Nothing, two_pushes.len(), 2)),
            (&push[..7], (Partial, 0, 0)),
            (b">", (Partial, 0, 0)),
            (b">2\r\n", (Partial, 0, 0)),
            (attributed, (Nothing, attributed.len(), 1)),
            (b"|1\r\n+a\r\n", (Partial, 0, 0)), // attributes of something still arriving
            (b"|1\r\n", (Partial, 0, 0)),
            (&[&push[..], b">1\r\n"].concat(), (Partial, push.len(), 1)),
            (b":1\r\n", (Reply, 0, 0)),
            (b":1", (Reply, 0, 0)),
            (b"$3\r\nab", (Reply, 0, 0)),
            (b"+OK\r\n>1\r\n:2\r\n", (Reply, 0, 0)),
            (&[&push[..], b"-ERR x\r\n"].concat(), (Reply, push.len(), 1)),
            (&[&push[..], b"$1"].concat(), (Reply, push.len(), 1)),
            (b"?garbage", (Reply, 0, 0)),
            (b">2\r\n:x\r\n", (Reply, 0, 0)), // a malformed push breaks the stream
        ] {
            assert_eq!(unsolicited(pending, &limits), want, "{pending:?}");
        }
    }

    #[test]
    fn every_case_scans_to_its_end() {
        for (name, bytes) in OK {
            assert_eq!(scan_all(bytes), Ok(Some(bytes.len())), "{name}");
            // Trailing bytes of the next reply are not consumed.
            let mut two = bytes.to_vec();
            two.extend_from_slice(b"+NEXT\r\n");
            assert_eq!(scan_all(&two), Ok(Some(bytes.len())), "{name} + next");
        }
    }

    #[test]
    fn every_strict_prefix_needs_more() {
        for (name, bytes) in OK {
            for cut in 0..bytes.len() {
                assert_eq!(scan_all(&bytes[..cut]), Ok(None), "{name} cut at {cut}");
            }
        }
    }

    #[test]
    fn resuming_after_need_more_finds_the_same_end() {
        for (name, bytes) in OK {
            for cut in 0..bytes.len() {
                let mut s = Scanner::new();
                let limits = Limits::default();
                assert_eq!(s.scan(&bytes[..cut], &limits), Ok(None), "{name}");
                assert_eq!(
                    s.scan(bytes, &limits),
                    Ok(Some(bytes.len())),
                    "{name} at {cut}"
                );
            }
        }
    }

    #[test]
    fn hostile_input_is_an_error() {
        use DecodeError::*;
        let cases: &[(&[u8], DecodeError)] = &[
            (b"?\r\n", UnknownType(b'?')),
            (b"\0", UnknownType(0)),
            (b":12a\r\n", InvalidNumber),
            (b":\r\n", InvalidNumber),
            (b":99999999999999999999\r\n", InvalidNumber),
            (b":9223372036854775808\r\n", InvalidNumber),
            (b"$-2\r\n", NegativeLength),
            (b"!-1\r\n", NegativeLength),
            (b"*-5\r\n", NegativeLength),
            (b"~-1\r\n", NegativeLength),
            (b"$abc\r\n", InvalidNumber),
            (b"$\r\n", InvalidNumber),
            (b"$3\r\nfoobar\r\n", MissingCrlf),
            (b"+OK\rX", MissingCrlf),
            (b"$?\r\n", StreamedUnsupported),
            (b"*?\r\n", StreamedUnsupported),
            (b"#x\r\n", InvalidBoolean),
            (b"_x\r\n", MissingCrlf),
            (b",abc\r\n", InvalidNumber),
            (b"(12x\r\n", InvalidNumber),
            (b"=3\r\ntxt\r\n", InvalidVerbatim),
            (b"=5\r\ntxtab\r\n", InvalidVerbatim),
            (b"$4611686018427387904\r\n", BulkTooLong { len: 1 << 62 }),
            (
                b"*4611686018427387904\r\n",
                TooManyElements { count: 1 << 62 },
            ),
            (
                b"%9223372036854775808\r\n",
                TooManyElements { count: 1 << 63 },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(scan_all(bytes), Err(*want), "{:?}", bytes);
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_without_recursion() {
        let mut deep = [0u8; 4 * 100_000];
        for chunk in deep.chunks_mut(4) {
            chunk.copy_from_slice(b"*1\r\n");
        }
        assert_eq!(scan_all(&deep), Err(DecodeError::TooDeep));
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let ok = b"*1\r\n*1\r\n*1\r\n:1\r\n";
        assert_eq!(Scanner::new().scan(ok, &limits), Ok(Some(ok.len())));
        let too_deep = b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n";
        assert_eq!(
            Scanner::new().scan(too_deep, &limits),
            Err(DecodeError::TooDeep)
        );
    }

    #[test]
    fn limits_apply() {
        let limits = Limits {
            max_bulk_len: 4,
            max_elements: 2,
            max_depth: 8,
            max_line_len: 8,
            max_reply_len: 30,
        };
        let s = |b: &[u8]| Scanner::new().scan(b, &limits);
        assert_eq!(s(b"$4\r\nabcd\r\n"), Ok(Some(10)));
        assert_eq!(s(b"$5\r\n"), Err(DecodeError::BulkTooLong { len: 5 }));
        assert_eq!(s(b"*3\r\n"), Err(DecodeError::TooManyElements { count: 3 }));
        assert_eq!(s(b"%2\r\n"), Err(DecodeError::TooManyElements { count: 2 }));
        assert_eq!(s(b"+12345678\r\n"), Ok(Some(11)));
        assert_eq!(s(b"+123456789\r\n"), Err(DecodeError::LineTooLong));
        // An unterminated line is refused as soon as it is too long, not buffered forever.
        assert_eq!(s(b"+123456789"), Err(DecodeError::LineTooLong));
        assert_eq!(s(b"+1234567"), Ok(None));
        // Many small elements add up to a reply longer than allowed, refused before it is all in.
        assert_eq!(
            s(b"*2\r\n*2\r\n$4\r\nabcd\r\n$4\r\nabcd\r\n*2\r\n"),
            Err(DecodeError::ReplyTooLong)
        );
    }
}
