//! Reading and writing the RESP of commands and replies the router handles: a command's
//! words and keys, a reply's elements, error kind and redirection, and delivering a frame
//! into a pipeline's slot.

use super::*;
use crate::codec::lex::length_line;

/// Queues a command encoded by a pipeline (whole by construction); false if it cannot be.
pub(super) fn push(batch: &mut VecPipeline, command: Option<&[u8]>) -> bool {
    command.is_some_and(|c| batch.push_encoded(c).is_ok())
}

/// Puts `frame` into the slot at `index`; a reply the pipeline refuses fails the slot.
pub(super) fn deliver(p: &mut VecPipeline, index: usize, frame: &[u8]) {
    if let Err(crate::ResolveError::Invalid(e)) = p.resolve(index, frame) {
        let _ = p.fail_command(index, Failure::Protocol(e));
    }
}

/// Puts a node's reply (validated by the node's pipeline, whose limits are `p`'s) into the
/// slot at `index`, without scanning it again.
pub(super) fn deliver_trusted(p: &mut VecPipeline, index: usize, frame: &[u8]) {
    let _ = p.resolve_trusted(index, frame);
}

/// The error code of a reply, if it is an error.
pub(super) fn error_kind(frame: &[u8]) -> Option<ServerErrorKind> {
    if !matches!(frame.first(), Some(b'-' | b'|')) {
        return None;
    }
    match crate::codec::decode::decode_reply(frame, &Limits::default()) {
        Ok(Some((Reply::Error(e), _))) => Some(e.kind()),
        _ => None,
    }
}

/// The slot and node a `MOVED` or `ASK` reply names.
pub(super) fn redirect(frame: &[u8]) -> Option<(HashSlot, Node)> {
    match crate::codec::decode::decode_reply(frame, &Limits::default()) {
        Ok(Some((Reply::Error(e), _))) => {
            let r = e.redirect()?;
            Some((r.slot, Node::parse(r.addr)?))
        }
        _ => None,
    }
}

/// Where a command's keys hash.
pub(super) enum Slots<'c> {
    /// No key; the command's name (empty if the bytes are not a command).
    None(&'c [u8]),
    /// Every key in one slot; the command's name.
    One(HashSlot, &'c [u8]),
    /// Keys in several slots: the command's words.
    Many(Vec<&'c [u8]>),
}

impl<'c> Slots<'c> {
    /// The command's name.
    pub(super) fn name(&self) -> &'c [u8] {
        match self {
            Self::None(name) | Self::One(_, name) => name,
            Self::Many(words) => words.first().copied().unwrap_or_default(),
        }
    }
}

pub(super) fn slots(command: &[u8]) -> Slots<'_> {
    // Most commands have one key, word 1 (`GET k`, `SET k v`, `HSET h f v`): the name and that
    // word decide, the rest of the command is not read.
    if let Some((count, name, at)) = head(command)
        && KeySpec::of(name) == KeySpec::ONE
    {
        return match bulk(command, at) {
            Some((key, _)) if count > 1 => Slots::One(HashSlot::for_key(key), name),
            _ => Slots::None(name),
        };
    }
    // Most other commands have a few words: those are read into the stack, not a new `Vec`.
    let mut small = heapless::Vec::<&[u8], 8>::new();
    let mut overflow = false;
    if read_words(command, |w| overflow |= small.push(w).is_err()).is_none() {
        return Slots::None(&[]);
    }
    if overflow {
        return match words(command) {
            Some(all) => match slots_of(&all) {
                Slots::Many(_) => Slots::Many(all),
                other => other,
            },
            None => Slots::None(&[]),
        };
    }
    slots_of(&small)
}

/// [`slots`] of a command's words.
pub(super) fn slots_of<'c>(words: &[&'c [u8]]) -> Slots<'c> {
    let Some(&name) = words.first() else {
        return Slots::None(&[]);
    };
    let mut slot = None;
    let mut many = false;
    for k in KeySpec::of(name).positions(words) {
        let s = HashSlot::for_key(words[k]);
        match slot {
            None => slot = Some(s),
            Some(t) if t != s => many = true,
            Some(_) => {}
        }
    }
    if many {
        return Slots::Many(words.to_vec());
    }
    slot.map_or(Slots::None(name), |s| Slots::One(s, name))
}

/// The words of an encoded command (`*N` then `N` bulk strings).
pub(super) fn words(command: &[u8]) -> Option<Vec<&[u8]>> {
    let mut words = Vec::new();
    read_words(command, |w| words.push(w))?;
    Some(words)
}

/// Calls `each` with every word of an encoded command (`*N` then `N` bulk strings), in order;
/// `None` if the bytes are not such a command.
pub(crate) fn read_words<'c>(command: &'c [u8], mut each: impl FnMut(&'c [u8])) -> Option<()> {
    let (n, mut at) = line(command, 0, b'*')?;
    for _ in 0..n {
        let (word, next) = bulk(command, at)?;
        each(word);
        at = next;
    }
    Some(())
}

/// One `<kind><digits>\r\n` line at `at` of `command`: the number, and where the next part
/// starts (see [`length_line`]).
#[inline]
fn line(command: &[u8], at: usize, kind: u8) -> Option<(usize, usize)> {
    let (n, next) = length_line(command, at, kind)?;
    Some((usize::try_from(n).ok()?, next))
}

/// The word count and the name of an encoded command, and where its second word starts: the
/// common shape (`*N\r\n$L\r\n`, a digit each) read at fixed places, any other through
/// [`line`].
#[inline]
fn head(command: &[u8]) -> Option<(usize, &[u8], usize)> {
    if let Some(h) = command.get(..8) {
        let (n, len) = (h[1].wrapping_sub(b'0'), h[5].wrapping_sub(b'0'));
        if h[0] == b'*'
            && (1..=9).contains(&n)
            && h[2..5] == *b"\r\n$"
            && len <= 9
            && h[6..] == *b"\r\n"
        {
            let end = 8 + usize::from(len);
            return Some((usize::from(n), command.get(8..end)?, end + 2));
        }
    }
    let (count, at) = line(command, 0, b'*')?;
    if count == 0 {
        return None;
    }
    let (name, at) = bulk(command, at)?;
    Some((count, name, at))
}

/// The bulk string (`$<len>\r\n<bytes>\r\n`) at `at` of `command`, and where the next part
/// starts.
#[inline]
fn bulk(command: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let (len, start) = line(command, at, b'$')?;
    let end = start.checked_add(len)?;
    Some((command.get(start..end)?, end + 2))
}

/// The elements of an array reply, each as its own frame.
pub(super) fn elements(frame: &[u8]) -> Option<Vec<&[u8]>> {
    let header = frame.windows(2).position(|w| w == b"\r\n")?;
    let n = usize::try_from(parse_u64(frame.get(1..header)?)?).ok()?;
    if frame.first() != Some(&b'*') {
        return None;
    }
    let mut at = header + 2;
    let mut out = Vec::with_capacity(n);
    let limits = Limits::default();
    for _ in 0..n {
        let len = Scanner::new().scan(&frame[at..], &limits).ok()??;
        out.push(&frame[at..at + len]);
        at += len;
    }
    Some(out)
}

/// Commands that only read, which a replica may answer ([`ClusterRun::read_from_replicas`]).
pub(super) const READS: &[&str] = &[
    "GET",
    "MGET",
    "STRLEN",
    "GETRANGE",
    "SUBSTR",
    "GETBIT",
    "BITCOUNT",
    "BITPOS",
    "EXISTS",
    "TYPE",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "DUMP",
    "HGET",
    "HMGET",
    "HGETALL",
    "HKEYS",
    "HVALS",
    "HLEN",
    "HEXISTS",
    "HSTRLEN",
    "HRANDFIELD",
    "HSCAN",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "SRANDMEMBER",
    "SSCAN",
    "SINTER",
    "SUNION",
    "SDIFF",
    "SINTERCARD",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "LPOS",
    "ZRANGE",
    "ZREVRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGEBYSCORE",
    "ZRANGEBYLEX",
    "ZREVRANGEBYLEX",
    "ZSCORE",
    "ZMSCORE",
    "ZCARD",
    "ZCOUNT",
    "ZLEXCOUNT",
    "ZRANK",
    "ZREVRANK",
    "ZRANDMEMBER",
    "ZSCAN",
    "ZINTERCARD",
    "PFCOUNT",
    "GEOPOS",
    "GEODIST",
    "GEOHASH",
    "GEOSEARCH",
    "GEORADIUS_RO",
    "GEORADIUSBYMEMBER_RO",
    "XRANGE",
    "XREVRANGE",
    "XLEN",
    "XREAD",
    "XINFO",
];

/// Whether the command named `name` only reads.
pub(super) fn is_read(name: &[u8]) -> bool {
    READS
        .iter()
        .any(|r| r.as_bytes().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode::encode_command;

    fn encoded(words: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(&mut out, &(words[0], &words[1..])).unwrap();
        out
    }

    #[test]
    fn slots_read_the_head_of_any_shape() {
        let args: Vec<Vec<u8>> = (0..12)
            .map(|i| alloc::format!("v{i}").into_bytes())
            .collect();
        let many: Vec<&[u8]> = [&b"HSET"[..], b"h{t}"]
            .into_iter()
            .chain(args.iter().map(Vec::as_slice))
            .collect();
        for (words, key) in [
            (&[&b"GET"[..], b"k"][..], &b"k"[..]),
            (&[b"set", b"key:000000000012", b"v"], b"key:000000000012"),
            (&many, b"h{t}"),
            (&[b"ZRANGEBYSCORE", b"z", b"0", b"1"], b"z"),
            (&[b"GET", &[b'x'; 120]], &[b'x'; 120]),
        ] {
            let command = encoded(words);
            match slots(&command) {
                Slots::One(slot, name) => {
                    assert_eq!((slot, name), (HashSlot::for_key(key), words[0]));
                }
                _ => panic!("{words:?}"),
            }
        }
        assert!(matches!(slots(b"*1\r\n$3\r\nGET\r\n"), Slots::None(b"GET")));
        assert!(matches!(
            slots(b"*1\r\n$4\r\nPING\r\n"),
            Slots::None(b"PING")
        ));
        assert!(matches!(slots(b"*2\r\n$3\r\nGET"), Slots::None(_)));
        assert!(matches!(slots(b"*0\r\n"), Slots::None(&[])));
        assert!(matches!(slots(b"+OK\r\n"), Slots::None(&[])));
    }
}
