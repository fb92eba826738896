//! [`Splitter`]: where each reply of a stream ends, from bytes that are not kept (feature
//! `alloc`).
//!
//! The [`Scanner`] validates a reply in the caller's buffer and needs the whole reply there:
//! right for a client, which keeps the reply to read it, but a relay that held a 60 MB `GET`
//! until its last byte would hold 60 MB per session. A relay (`redpipe-bridge`) only needs to
//! know where each reply ends and whether it is a push, so it forwards bytes as they arrive and
//! this splitter follows them, keeping only its place: the open aggregates, and the line being
//! read (a header or a simple value, at most [`Limits::max_line_len`]). It applies the same
//! [`Limits`] and the same checks as the scanner (simple values are checked by the scanner
//! itself); a test feeds both the same streams cut at every byte.
//!
//! ```
//! use redpipe_core::{Limits, Splitter};
//!
//! let mut s = Splitter::new();
//! let limits = Limits::default();
//! // A bulk string arriving in two pieces, then a push.
//! assert_eq!(s.split(b"$5\r\nhel", &limits), Ok(None));
//! assert_eq!(s.split(b"lo\r\n>1\r\n:1\r\n", &limits), Ok(Some((4, false))));
//! assert_eq!(s.split(b">1\r\n:1\r\n", &limits), Ok(Some((8, true))));
//! assert!(s.at_boundary());
//! ```

use alloc::vec::Vec;

use super::decode::{Limits, MAX_DEPTH, Scanner, is_type};
use super::error::DecodeError;

/// One open aggregate.
#[derive(Debug, Clone, Copy)]
struct Level {
    /// Elements still missing.
    left: u64,
    /// An attribute map, which prefixes a value instead of being one.
    attribute: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A type byte is next.
    Type,
    /// Inside the line after the type byte.
    Line,
    /// The line's `\r` was read; its `\n` is next.
    LineEnd,
    /// Inside a bulk string's body; `read` of its `len` bytes and CRLF are in.
    Body { len: u64, read: u64 },
}

/// Follows a stream of replies; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Splitter {
    stack: Vec<Level>,
    state: State,
    kind: u8,
    line: Vec<u8>,
    /// Bytes of the reply in progress so far.
    reply_len: u64,
    /// The type of the reply in progress, past its attributes, once known.
    top: Option<u8>,
}

/// A length: digits, or `-1` (null, `None`) where `null_ok`.
fn length(line: &[u8], null_ok: bool) -> Result<Option<u64>, DecodeError> {
    match line {
        b"-1" if null_ok => Ok(None),
        [b'-', ..] => Err(DecodeError::NegativeLength),
        [b'?'] => Err(DecodeError::StreamedUnsupported),
        [] => Err(DecodeError::InvalidNumber),
        _ if !line.iter().all(u8::is_ascii_digit) => Err(DecodeError::InvalidNumber),
        _ => core::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or(DecodeError::InvalidNumber),
    }
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    /// A splitter at a reply boundary.
    pub fn new() -> Self {
        Self {
            stack: Vec::new(),
            state: State::Type,
            kind: 0,
            line: Vec::new(),
            reply_len: 0,
            top: None,
        }
    }

    /// Whether no reply is in progress.
    pub fn at_boundary(&self) -> bool {
        self.state == State::Type && self.stack.is_empty() && self.reply_len == 0
    }

    /// Follows `bytes`, the next bytes of the stream: `Ok(Some((n, push)))` when the reply in
    /// progress ends after `n` of them (`push`: it is a RESP3 push, which answers no command),
    /// `Ok(None)` when all of them belong to it. The caller MUST call again with the bytes
    /// after `n`.
    pub fn split(
        &mut self,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Option<(usize, bool)>, DecodeError> {
        let mut i = 0;
        while i < bytes.len() {
            let done = match self.state {
                State::Type => {
                    let kind = bytes[i];
                    if !is_type(kind) {
                        return Err(DecodeError::UnknownType(kind));
                    }
                    if self.stack.is_empty() && kind != b'|' {
                        self.top = Some(kind);
                    }
                    self.kind = kind;
                    self.line.clear();
                    self.state = State::Line;
                    self.advance(&mut i, 1, limits)?;
                    false
                }
                State::Line => {
                    let rest = &bytes[i..];
                    let cr = rest.iter().position(|&b| b == b'\r');
                    let part = &rest[..cr.unwrap_or(rest.len())];
                    if self.line.len() + part.len() > limits.max_line_len {
                        return Err(DecodeError::LineTooLong);
                    }
                    self.line.extend_from_slice(part);
                    if cr.is_some() {
                        self.state = State::LineEnd;
                    }
                    self.advance(&mut i, part.len() + usize::from(cr.is_some()), limits)?;
                    false
                }
                State::LineEnd => {
                    if bytes[i] != b'\n' {
                        return Err(DecodeError::MissingCrlf);
                    }
                    self.advance(&mut i, 1, limits)?;
                    self.header(limits)?
                }
                State::Body { len, read } => {
                    let take = (len + 2 - read).min((bytes.len() - i) as u64);
                    let part = &bytes[i..i + take as usize];
                    // The verbatim format's ':' and the closing CRLF, where they fall in `part`.
                    let at = |offset: u64| {
                        (read..read + take)
                            .contains(&offset)
                            .then(|| part[(offset - read) as usize])
                    };
                    if at(len).is_some_and(|b| b != b'\r')
                        || at(len + 1).is_some_and(|b| b != b'\n')
                    {
                        return Err(DecodeError::MissingCrlf);
                    }
                    if self.kind == b'=' && at(3).is_some_and(|b| b != b':') {
                        return Err(DecodeError::InvalidVerbatim);
                    }
                    let read = read + take;
                    self.state = State::Body { len, read };
                    self.advance(&mut i, take as usize, limits)?;
                    read == len + 2 && self.close_element()
                }
            };
            if done {
                return Ok(Some((i, self.finish())));
            }
        }
        Ok(None)
    }

    /// Moves past `n` bytes of the reply in progress.
    fn advance(&mut self, i: &mut usize, n: usize, limits: &Limits) -> Result<(), DecodeError> {
        *i += n;
        self.reply_len += n as u64;
        if self.reply_len > limits.max_reply_len as u64 {
            return Err(DecodeError::ReplyTooLong);
        }
        Ok(())
    }

    /// A header or simple line is complete: what it opens or completes. True when the reply
    /// is complete.
    fn header(&mut self, limits: &Limits) -> Result<bool, DecodeError> {
        self.state = State::Type;
        let kind = self.kind;
        match kind {
            b'+' | b'-' => Ok(self.close_element()),
            b':' | b',' | b'(' | b'#' | b'_' => {
                // The core checks the value, so that both accept the same numbers.
                let mut value = Vec::with_capacity(self.line.len() + 3);
                value.push(kind);
                value.extend_from_slice(&self.line);
                value.extend_from_slice(b"\r\n");
                Scanner::new().scan(&value, limits)?;
                Ok(self.close_element())
            }
            b'$' | b'!' | b'=' => match length(&self.line, kind == b'$')? {
                None => Ok(self.close_element()),
                Some(len) => {
                    if len > limits.max_bulk_len {
                        return Err(DecodeError::BulkTooLong { len });
                    }
                    if self.reply_len.saturating_add(len).saturating_add(2)
                        > limits.max_reply_len as u64
                    {
                        return Err(DecodeError::ReplyTooLong);
                    }
                    if kind == b'=' && len < 4 {
                        return Err(DecodeError::InvalidVerbatim);
                    }
                    self.state = State::Body { len, read: 0 };
                    Ok(false)
                }
            },
            _ => match length(&self.line, kind == b'*')? {
                None => Ok(self.close_element()),
                Some(n) => {
                    let count = if matches!(kind, b'%' | b'|') {
                        n.checked_mul(2)
                            .ok_or(DecodeError::TooManyElements { count: n })?
                    } else {
                        n
                    };
                    if count > limits.max_elements.min(u64::from(u32::MAX)) {
                        return Err(DecodeError::TooManyElements { count: n });
                    }
                    let attribute = kind == b'|';
                    if count == 0 {
                        // An empty attribute map still prefixes a value.
                        return Ok(!attribute && self.close_element());
                    }
                    if self.stack.len() >= limits.max_depth.min(MAX_DEPTH) {
                        return Err(DecodeError::TooDeep);
                    }
                    self.stack.push(Level {
                        left: count,
                        attribute,
                    });
                    Ok(false)
                }
            },
        }
    }

    /// One element is complete: closes every aggregate it completes. True when that ends
    /// the reply.
    fn close_element(&mut self) -> bool {
        self.state = State::Type;
        loop {
            let Some(level) = self.stack.last_mut() else {
                return true;
            };
            level.left -= 1;
            if level.left > 0 {
                return false;
            }
            let closed = self.stack.pop();
            if closed.is_some_and(|l| l.attribute) {
                // A finished attribute is not an element; the value it prefixes follows.
                return false;
            }
        }
    }

    /// The reply ended: whether it was a push; ready for the next one.
    fn finish(&mut self) -> bool {
        let push = self.top == Some(b'>');
        self.reply_len = 0;
        self.top = None;
        self.state = State::Type;
        push
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec::Vec;

    use super::*;
    use crate::codec::decode::decode_reply;
    use crate::codec::reply::Reply;

    /// Reply streams: every shape the core's scanner accepts, and a pipeline of them.
    const REPLIES: &[&[u8]] = &[
        b"+OK\r\n",
        b"+\r\n",
        b"-ERR unknown command 'FOO'\r\n",
        b":1000\r\n",
        b":-9223372036854775808\r\n",
        b":+5\r\n",
        b"$5\r\nhello\r\n",
        b"$0\r\n\r\n",
        b"$4\r\na\r\nb\r\n",
        b"$-1\r\n",
        b"*2\r\n$3\r\nfoo\r\n:1\r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"*2\r\n*1\r\n*1\r\n:1\r\n+x\r\n",
        b"_\r\n",
        b",3.14\r\n",
        b",-inf\r\n",
        b",1.5e10\r\n",
        b"#t\r\n",
        b"(3492890328409238509324850943850943825024385\r\n",
        b"!21\r\nSYNTAX invalid syntax\r\n",
        b"=15\r\ntxt:Some string\r\n",
        b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
        b"%0\r\n",
        b"~3\r\n+a\r\n+b\r\n:1\r\n",
        b">3\r\n+message\r\n+chan\r\n$2\r\nhi\r\n",
        b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n",
        b"*2\r\n|1\r\n+ttl\r\n:3\r\n:1\r\n:2\r\n",
        b"|0\r\n:7\r\n",
        b"|1\r\n+a\r\n+b\r\n>1\r\n+p\r\n",
    ];

    /// Malformed streams: the core's scanner refuses each, and so must the splitter.
    const BAD: &[&[u8]] = &[
        b"?\r\n",
        b":abc\r\n",
        b":1\r\r",
        b"$3\r\nabcd\r\n",
        b"$-2\r\n",
        b"$?\r\n",
        b"$\r\n",
        b"*x\r\n",
        b"#x\r\n",
        b"_x\r\n",
        b",x\r\n",
        b"=3\r\ntxt\r\n",
        b"=5\r\ntxt-a\r\n",
        b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
        b"+0123456789abcdef0123456789\r\n",
        b"$40\r\n0123456789012345678901234567890123456789\r\n",
        b"*40\r\n",
    ];

    /// Tight limits, so that the last cases of [`BAD`] exceed them.
    fn tight() -> Limits {
        Limits {
            max_depth: 3,
            max_line_len: 20,
            max_bulk_len: 32,
            max_elements: 30,
            ..Limits::default()
        }
    }

    /// Where the splitter says each reply of `stream` ends, fed in `pieces`.
    fn ends(pieces: &[&[u8]], limits: &Limits) -> Result<Vec<(usize, bool)>, DecodeError> {
        let mut s = Splitter::new();
        let (mut ends, mut offset) = (Vec::new(), 0);
        for piece in pieces {
            let mut at = 0;
            while let Some((n, push)) = s.split(&piece[at..], limits)? {
                at += n;
                ends.push((offset + at, push));
            }
            offset += piece.len();
        }
        Ok(ends)
    }

    /// Where the core's scanner says each reply ends, on the whole stream.
    fn scanner_ends(stream: &[u8], limits: &Limits) -> Result<Vec<(usize, bool)>, DecodeError> {
        let (mut ends, mut at) = (Vec::new(), 0);
        while at < stream.len() {
            let Some(n) = Scanner::new().scan(&stream[at..], limits)? else {
                break;
            };
            let push = matches!(
                decode_reply(&stream[at..at + n], limits),
                Ok(Some((Reply::Push(_), _)))
            );
            at += n;
            ends.push((at, push));
        }
        Ok(ends)
    }

    #[test]
    fn the_splitter_agrees_with_the_core_scanner_cut_anywhere() {
        let stream = REPLIES.concat();
        let limits = Limits::default();
        let want = scanner_ends(&stream, &limits).expect("the core accepts every reply");
        assert_eq!(want.len(), REPLIES.len());
        assert_eq!(want.iter().filter(|(_, push)| *push).count(), 2);
        assert_eq!(ends(&[&stream], &limits).unwrap(), want);
        for cut in 0..stream.len() {
            assert_eq!(
                ends(&[&stream[..cut], &stream[cut..]], &limits).unwrap(),
                want,
                "cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(ends(&bytes, &limits).unwrap(), want, "byte by byte");
    }

    #[test]
    fn the_splitter_refuses_what_the_core_scanner_refuses() {
        let limits = tight();
        for bad in BAD {
            let shown = String::from_utf8_lossy(bad);
            assert!(scanner_ends(bad, &limits).is_err(), "core: {shown:?}");
            for cut in 0..bad.len() {
                assert!(
                    ends(&[&bad[..cut], &bad[cut..]], &limits).is_err(),
                    "{shown:?} cut at {cut}"
                );
            }
        }
    }
}
