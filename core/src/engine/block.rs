//! How long the server may hold a pipeline's replies back on purpose: the waits of its blocking
//! commands, read from their encoding when a transport asks (queueing pays nothing for it, a
//! rolled back command is simply gone, and a program that never asks links none of it).

use core::time::Duration;

use crate::codec::lex::parse_u64;

/// How long blocking commands (`BLPOP k 5`, `XREAD BLOCK 500 ...`, `WAIT 1 0`...) may keep the
/// server from answering, so that a transport does not take the wait for a dead server (see
/// [`Pipeline::blocking`](crate::Pipeline::blocking)). Ordered: any wait is shorter than
/// `Forever`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Block {
    /// Up to this many milliseconds.
    For(u64),
    /// As long as it takes: a timeout of 0 (or one that could not be read).
    Forever,
}

impl Block {
    /// `limit` lengthened by this wait: `None` (no limit) for [`Block::Forever`], and for no
    /// limit to start with.
    ///
    /// ```
    /// use core::time::Duration;
    /// use redpipe_core::Block;
    /// let read = Some(Duration::from_millis(300));
    /// assert_eq!(Block::For(1000).added_to(read), Some(Duration::from_millis(1300)));
    /// assert_eq!(Block::Forever.added_to(read), None);
    /// ```
    #[must_use]
    pub fn added_to(self, limit: Option<Duration>) -> Option<Duration> {
        match self {
            Self::For(ms) => limit.map(|t| t.saturating_add(Duration::from_millis(ms))),
            Self::Forever => None,
        }
    }

    /// Both waits, one after the other.
    #[must_use]
    pub(crate) fn then(self, next: Self) -> Self {
        match (self, next) {
            (Self::For(a), Self::For(b)) => Self::For(a.saturating_add(b)),
            _ => Self::Forever,
        }
    }
}

/// Where a blocking command's timeout is, and in which unit.
#[derive(Clone, Copy)]
enum Rule {
    /// The last word, in seconds (`BLPOP k... timeout`).
    LastSeconds,
    /// The first word after the name, in seconds (`BLMPOP timeout numkeys k...`).
    FirstSeconds,
    /// The last word, in milliseconds (`WAIT numreplicas timeout`).
    LastMillis,
    /// The word after the option `BLOCK`, in milliseconds (`XREAD [COUNT n] [BLOCK ms]
    /// STREAMS...`); none: the command does not block.
    BlockOption,
}

/// The commands that block, as Redis documents them (a timeout of 0 waits forever for each).
const COMMANDS: [(&[u8], Rule); 12] = [
    (b"BLPOP", Rule::LastSeconds),
    (b"BRPOP", Rule::LastSeconds),
    (b"BRPOPLPUSH", Rule::LastSeconds),
    (b"BLMOVE", Rule::LastSeconds),
    (b"BZPOPMIN", Rule::LastSeconds),
    (b"BZPOPMAX", Rule::LastSeconds),
    (b"BLMPOP", Rule::FirstSeconds),
    (b"BZMPOP", Rule::FirstSeconds),
    (b"WAIT", Rule::LastMillis),
    (b"WAITAOF", Rule::LastMillis),
    (b"XREAD", Rule::BlockOption),
    (b"XREADGROUP", Rule::BlockOption),
];

/// How long the encoded command `encoded` (`*N\r\n$L\r\nNAME\r\n...`) may keep the server from
/// answering; `None` for a command that does not block. A timeout that cannot be read counts as
/// forever: waiting too long for a reply is never wrong, cutting a wait short is (and the server
/// refuses most such timeouts at once).
#[inline]
pub(crate) fn of(encoded: &[u8]) -> Option<Block> {
    // A command of fewer than 10 words whose name has fewer than 10 letters (`*3\r\n$5\r\nBLPOP`)
    // has the name's first letter at 8: one comparison rules out all of them but those
    // starting with B, W or X.
    if encoded.get(4) == Some(&b'$')
        && encoded.get(6) == Some(&b'\r')
        && !matches!(encoded.get(8).map(|b| b | 0x20), Some(b'b' | b'w' | b'x'))
    {
        return None;
    }
    of_named(encoded)
}

/// [`of`], reading the name whatever its length.
#[inline(never)]
fn of_named(encoded: &[u8]) -> Option<Block> {
    let name = super::name(encoded);
    if !matches!(
        name.first().map(u8::to_ascii_uppercase),
        Some(b'B' | b'W' | b'X')
    ) {
        return None;
    }
    let (_, rule) = COMMANDS
        .iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n))?;
    let mut args = words(encoded).skip(1);
    let wait = match rule {
        Rule::LastSeconds => seconds(args.last()),
        Rule::FirstSeconds => seconds(args.next()),
        Rule::LastMillis => millis(args.last()),
        Rule::BlockOption => {
            // As Redis reads the options: past the values of GROUP and COUNT, up to STREAMS
            // (a stream, group or consumer may be named BLOCK).
            loop {
                let word = args.next()?;
                if word.eq_ignore_ascii_case(b"BLOCK") {
                    break millis(args.next());
                } else if word.eq_ignore_ascii_case(b"GROUP") {
                    args.nth(1)?;
                } else if word.eq_ignore_ascii_case(b"COUNT") {
                    args.next()?;
                } else if word.eq_ignore_ascii_case(b"STREAMS") {
                    return None;
                }
            }
        }
    };
    Some(match wait {
        Some(0) | None => Block::Forever,
        Some(ms) => Block::For(ms),
    })
}

/// A timeout in seconds (`5`, `0.5`: decimal, as the builders send it) in milliseconds, rounded
/// up; `None` if it is not of that form.
fn seconds(word: Option<&[u8]>) -> Option<u64> {
    let word = word?;
    let (whole, fraction) = match word.iter().position(|b| *b == b'.') {
        Some(dot) => (&word[..dot], &word[dot + 1..]),
        None => (word, &b""[..]),
    };
    let whole = match whole {
        [] if !fraction.is_empty() => 0,
        digits => parse_u64(digits)?,
    };
    if !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Milliseconds from the first three digits, one more if any digit after them is not 0.
    let mut ms = 0;
    for i in 0..3 {
        ms = ms * 10 + fraction.get(i).map_or(0, |d| u64::from(d - b'0'));
    }
    let more = fraction.iter().skip(3).any(|d| *d != b'0');
    Some(
        whole
            .saturating_mul(1000)
            .saturating_add(ms + u64::from(more)),
    )
}

/// A timeout in milliseconds.
fn millis(word: Option<&[u8]>) -> Option<u64> {
    parse_u64(word?)
}

/// The words of an encoded command (`*N\r\n` then `$L\r\nWORD\r\n` N times), name first; stops
/// at the first that is not whole.
fn words(encoded: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = encoded
        .iter()
        .position(|b| *b == b'\n')
        .map_or(&b""[..], |i| &encoded[i + 1..]);
    core::iter::from_fn(move || {
        let body = rest.strip_prefix(b"$")?;
        let line = body.iter().position(|b| *b == b'\r')?;
        let len = usize::try_from(parse_u64(&body[..line])?).ok()?;
        let start = line + 2;
        let word = body.get(start..start.checked_add(len)?)?;
        rest = body.get(start + len + 2..)?;
        Some(word)
    })
}

#[cfg(test)]
#[cfg(feature = "alloc")]
mod tests {
    use super::*;
    use crate::codec::encode::{Args, cmd, encode_command};
    use alloc::vec::Vec;

    fn encoded(command: &impl Args) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(&mut out, command).unwrap();
        out
    }

    macro_rules! case {
        ($name:ident, [$($word:expr),+], $want:expr) => {
            #[test]
            fn $name() {
                let words: &[&str] = &[$($word),+];
                let command = cmd(words[0]).arg(&words[1..]);
                assert_eq!(of(&encoded(&command)), $want, "{words:?}");
            }
        };
    }

    case!(get_does_not_block, ["GET", "k"], None);
    case!(bitcount_starts_with_b, ["BITCOUNT", "k"], None);
    case!(xadd_starts_with_x, ["XADD", "s", "*", "f", "v"], None);
    case!(
        blpop_seconds,
        ["BLPOP", "a", "b", "5"],
        Some(Block::For(5000))
    );
    case!(
        blpop_lower_case,
        ["blpop", "a", "1"],
        Some(Block::For(1000))
    );
    case!(
        blpop_zero_is_forever,
        ["BLPOP", "a", "0"],
        Some(Block::Forever)
    );
    case!(
        brpop_fraction,
        ["BRPOP", "a", "1.5"],
        Some(Block::For(1500))
    );
    case!(
        fraction_rounds_up,
        ["BRPOP", "a", "0.0001"],
        Some(Block::For(1))
    );
    case!(zero_point_zero, ["BRPOP", "a", "0.0"], Some(Block::Forever));
    case!(no_whole_part, ["BRPOP", "a", ".25"], Some(Block::For(250)));
    case!(unreadable, ["BRPOP", "a", "1e3"], Some(Block::Forever));
    case!(bzpopmin, ["BZPOPMIN", "z", "2"], Some(Block::For(2000)));
    case!(bzpopmax, ["BZPOPMAX", "z", "0.5"], Some(Block::For(500)));
    case!(
        brpoplpush,
        ["BRPOPLPUSH", "a", "b", "3"],
        Some(Block::For(3000))
    );
    case!(
        blmove,
        ["BLMOVE", "a", "b", "LEFT", "RIGHT", "4"],
        Some(Block::For(4000))
    );
    case!(
        blmpop_first,
        ["BLMPOP", "2", "1", "k", "LEFT", "COUNT", "9"],
        Some(Block::For(2000))
    );
    case!(
        bzmpop_first,
        ["BZMPOP", "0", "1", "k", "MIN"],
        Some(Block::Forever)
    );
    case!(wait_millis, ["WAIT", "1", "250"], Some(Block::For(250)));
    case!(wait_zero, ["WAIT", "1", "0"], Some(Block::Forever));
    case!(waitaof, ["WAITAOF", "1", "0", "100"], Some(Block::For(100)));
    case!(
        xread_block,
        ["XREAD", "COUNT", "10", "BLOCK", "700", "STREAMS", "s", "$"],
        Some(Block::For(700))
    );
    case!(
        xread_block_zero,
        ["xread", "block", "0", "STREAMS", "s", "$"],
        Some(Block::Forever)
    );
    case!(xread_no_block, ["XREAD", "STREAMS", "s", "0"], None);
    case!(stream_named_block, ["XREAD", "STREAMS", "BLOCK", "0"], None);
    case!(
        xreadgroup_block,
        [
            "XREADGROUP",
            "GROUP",
            "BLOCK",
            "BLOCK",
            "BLOCK",
            "50",
            "STREAMS",
            "s",
            ">"
        ],
        Some(Block::For(50))
    );
    case!(
        xreadgroup_no_block,
        [
            "XREADGROUP",
            "GROUP",
            "g",
            "BLOCK",
            "NOACK",
            "STREAMS",
            "s",
            ">"
        ],
        None
    );

    #[test]
    fn the_builders_are_recognised() {
        use crate::VecPipeline;
        use crate::prelude::*;
        let mut p = VecPipeline::new();
        let _ = p.blpop::<Option<(String, String)>>("k", 1).unwrap();
        let _ = p
            .brpop::<Option<(String, String)>>("k", Duration::from_millis(1500))
            .unwrap();
        let _ = p
            .bzpopmin::<Option<(String, String, f64)>>("z", 0.25)
            .unwrap();
        let _ = p.bzpopmax::<Option<(String, String, f64)>>("z", 0).unwrap();
        let waits: Vec<_> = (0..p.len()).map(|i| of(p.command(i).unwrap())).collect();
        assert_eq!(
            waits,
            [
                Some(Block::For(1000)),
                Some(Block::For(1500)),
                Some(Block::For(250)),
                Some(Block::Forever)
            ]
        );
    }

    #[test]
    fn words_of_a_cut_command_stop_where_it_is_cut() {
        let whole = encoded(&cmd("BLPOP").arg("key").arg(5));
        assert_eq!(words(&whole).count(), 3);
        for cut in 0..whole.len() {
            assert!(words(&whole[..cut]).count() < 3, "{cut}");
        }
    }

    mod pipelines {
        use super::*;
        use crate::prelude::*;
        use crate::{Reply, VecPipeline};

        fn blpop(p: &mut VecPipeline, timeout: u64) {
            let _ = p.blpop::<Option<(String, String)>>("k", timeout).unwrap();
        }

        #[test]
        fn waits_add_up_one_after_the_other() {
            let mut p = VecPipeline::new();
            let _ = p.incr("hits").unwrap();
            assert_eq!(p.blocking(), None);
            blpop(&mut p, 1);
            let _ = p
                .query::<Reply<'_>>(cmd("XREAD").arg(("BLOCK", 500, "STREAMS", "s", "$")))
                .unwrap();
            let _ = p.get::<Option<String>>("k").unwrap();
            assert_eq!(p.blocking(), Some(Block::For(1500)));
            blpop(&mut p, 0);
            blpop(&mut p, 2);
            assert_eq!(p.blocking(), Some(Block::Forever));
        }

        #[test]
        fn reset_and_rollback_take_the_wait_away() {
            let mut p = VecPipeline::new();
            blpop(&mut p, 0);
            p.reset();
            assert_eq!(p.blocking(), None);
            blpop(&mut p, 1);
            let failed: Result<(), ()> = p.scope(|p| {
                blpop(p, 0);
                Err(())
            });
            assert!(failed.is_err());
            assert_eq!(p.blocking(), Some(Block::For(1000)));
        }

        #[test]
        fn answered_commands_no_longer_count() {
            let mut p = VecPipeline::new();
            blpop(&mut p, 0);
            blpop(&mut p, 3);
            let n = p.poll_output().len();
            p.consume_output(n);
            assert_eq!(p.blocking(), Some(Block::Forever));
            p.handle_input(b"*-1\r\n").unwrap();
            assert_eq!(p.blocking(), Some(Block::For(3000)));
            p.handle_input(b"*-1\r\n").unwrap();
            assert_eq!(p.blocking(), None);
        }

        #[cfg(feature = "transactions")]
        #[test]
        fn a_transaction_does_not_block() {
            let mut p = VecPipeline::new();
            p.transaction(|p| {
                blpop(p, 0);
                Ok::<_, crate::CapacityError>(())
            })
            .unwrap();
            assert_eq!(p.blocking(), None);
        }
    }

    use alloc::string::String;
}
