//! Which pipelines may share a connection: the commands that need one of their own.
//!
//! A multiplexed connection carries many submitters' pipelines back to back, so a command that
//! holds the connection (a blocking pop waits with every pipeline behind it), changes what the
//! next command means (`SELECT`, `CLIENT REPLY OFF`), or turns the connection into something
//! else (`SUBSCRIBE`, `MONITOR`) must run on a connection of its own. `WATCH` too: it watches
//! for the whole connection, so another submitter's write would abort the transaction.

/// Where a pipeline runs: on a connection shared with other submitters' pipelines, or on one of
/// its own (see [`Pipeline::set_sharing`](crate::Pipeline::set_sharing)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sharing {
    /// Decided by the commands (the default): shared, unless one of them needs a connection of
    /// its own — `WATCH`; the blocking commands `BLPOP`, `BRPOP`, `BRPOPLPUSH`, `BLMOVE`,
    /// `BLMPOP`, `BZPOPMIN`, `BZPOPMAX`, `BZMPOP`, `XREAD`/`XREADGROUP` with `BLOCK`, `WAIT`,
    /// `WAITAOF`; `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`, `MONITOR`; and the commands that
    /// change the connection for what follows: `SELECT`, `AUTH`, `HELLO`, `RESET`, `CLIENT
    /// REPLY`, `CLIENT SETNAME`, `CLIENT TRACKING` (and `CACHING`, `NO-EVICT`, `NO-TOUCH`,
    /// `SETINFO`), `READONLY`, `READWRITE`, `QUIT`.
    #[default]
    Auto,
    /// On a shared connection whatever the commands: for a blocking command with a timeout short
    /// enough that the pipelines behind it may wait for it.
    Shared,
    /// On a connection of its own: for a pipeline that must not wait behind others, such as a
    /// bulk load that would delay every small request behind it.
    Dedicated,
}

/// What a command asks of the connection it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Needs {
    /// Nothing: it may share.
    Nothing,
    /// A connection of its own while it runs (it blocks, or watches).
    Own,
    /// A connection of its own, which is not the same afterwards (another database, replies
    /// off, subscribed): it is not reused for other pipelines.
    Changes,
}

/// How a command in [`NAMES`] decides what it needs.
#[derive(Clone, Copy)]
enum Rule {
    Is(Needs),
    /// `CLIENT`: [`Needs::Changes`] for the subcommands in [`CLIENT_CHANGES`].
    Client,
    /// `XREAD`, `XREADGROUP`: [`Needs::Own`] with a `BLOCK` argument.
    Block,
}

/// The commands that may need a connection of their own (see [`Sharing::Auto`]).
const NAMES: [(&[u8], Rule); 25] = {
    use Needs::{Changes, Own};
    use Rule::{Block, Client, Is};
    [
        (b"BLPOP", Is(Own)),
        (b"BRPOP", Is(Own)),
        (b"BRPOPLPUSH", Is(Own)),
        (b"BLMOVE", Is(Own)),
        (b"BLMPOP", Is(Own)),
        (b"BZPOPMIN", Is(Own)),
        (b"BZPOPMAX", Is(Own)),
        (b"BZMPOP", Is(Own)),
        (b"WAIT", Is(Own)),
        (b"WAITAOF", Is(Own)),
        (b"WATCH", Is(Own)),
        (b"MONITOR", Is(Own)),
        (b"SUBSCRIBE", Is(Changes)),
        (b"PSUBSCRIBE", Is(Changes)),
        (b"SSUBSCRIBE", Is(Changes)),
        (b"SELECT", Is(Changes)),
        (b"AUTH", Is(Changes)),
        (b"HELLO", Is(Changes)),
        (b"RESET", Is(Changes)),
        (b"READONLY", Is(Changes)),
        (b"READWRITE", Is(Changes)),
        (b"QUIT", Is(Changes)),
        (b"CLIENT", Client),
        (b"XREAD", Block),
        (b"XREADGROUP", Block),
    ]
};

/// `CLIENT` subcommands that change this connection (`GETNAME`, `ID`, `LIST`... do not).
const CLIENT_CHANGES: [&[u8]; 7] = [
    b"REPLY",
    b"SETNAME",
    b"TRACKING",
    b"CACHING",
    b"NO-EVICT",
    b"NO-TOUCH",
    b"SETINFO",
];

/// For each first letter `A`..=`Z`, the lengths of the [`NAMES`] starting with it (bit `n`:
/// length `n`): one comparison rules out most commands.
const LENGTHS: [u16; 26] = {
    let mut lengths = [0u16; 26];
    let mut i = 0;
    while i < NAMES.len() {
        let name = NAMES[i].0;
        assert!(name.len() < 16);
        lengths[(name[0] - b'A') as usize] |= 1 << name.len();
        i += 1;
    }
    lengths
};

/// What the command `name` asks of its connection; `encoded` gives the whole command, looked at
/// only for the subcommand of `CLIENT` and the `BLOCK` option of `XREAD`/`XREADGROUP` (a
/// stream key named `BLOCK` counts too: a connection of its own is never wrong, only slower).
#[inline]
pub(crate) fn needs<'e>(name: &[u8], encoded: impl FnOnce() -> &'e [u8]) -> Needs {
    let letter = name
        .first()
        .map_or(0, u8::to_ascii_uppercase)
        .wrapping_sub(b'A');
    let lengths = LENGTHS.get(usize::from(letter)).copied().unwrap_or(0);
    if name.len() >= 16 || lengths & (1 << name.len()) == 0 {
        return Needs::Nothing;
    }
    match NAMES.iter().find(|(n, _)| name.eq_ignore_ascii_case(n)) {
        Some((_, Rule::Is(needs))) => *needs,
        Some((_, Rule::Client)) => {
            // `*N\r\n$L\r\nCLIENT\r\n`, then the subcommand: after the third line.
            let mut rest = encoded();
            for _ in 0..3 {
                let line = rest
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(rest.len(), |i| i + 1);
                rest = &rest[line..];
            }
            match CLIENT_CHANGES.iter().any(|w| starts_with_word(rest, w)) {
                true => Needs::Changes,
                false => Needs::Nothing,
            }
        }
        Some((_, Rule::Block)) => {
            let encoded = encoded();
            match (0..encoded.len()).any(|i| starts_with_word(&encoded[i..], b"BLOCK")) {
                true => Needs::Own,
                false => Needs::Nothing,
            }
        }
        None => Needs::Nothing,
    }
}

/// The name of an encoded command (`*N\r\n$L\r\nNAME\r\n...`), or nothing: a few loads, as it
/// is read for every command of a pipeline that runs where connections may be shared. A name
/// longer than any in [`NAMES`] reads as nothing.
pub(crate) fn name(encoded: &[u8]) -> &[u8] {
    let Some(first_line) = encoded.iter().take(12).position(|b| *b == b'\n') else {
        return &[];
    };
    let mut at = first_line + 1;
    if encoded.get(at) != Some(&b'$') {
        return &[];
    }
    at += 1;
    let mut len = 0usize;
    while let Some(d) = encoded.get(at).filter(|d| d.is_ascii_digit()) {
        len = len * 10 + usize::from(d - b'0');
        at += 1;
        if len > 16 {
            return &[];
        }
    }
    encoded.get(at + 2..at + 2 + len).unwrap_or_default()
}

/// Whether `bytes` starts with the bulk string `word` (`$L\r\nWORD\r\n`, any case; `word` is
/// shorter than 10 bytes).
fn starts_with_word(bytes: &[u8], word: &[u8]) -> bool {
    let n = word.len();
    bytes.len() >= n + 6
        && bytes[..2] == [b'$', b'0' + n as u8]
        && bytes[2..4] == *b"\r\n"
        && bytes[4..4 + n].eq_ignore_ascii_case(word)
        && bytes[4 + n..6 + n] == *b"\r\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_of_an_encoded_command() {
        for (encoded, want) in [
            (&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"[..], &b"GET"[..]),
            (b"*12\r\n$10\r\nBRPOPLPUSH\r\n", b"BRPOPLPUSH"),
            (b"*1\r\n$4\r\nPING\r\n", b"PING"),
            (b"*1\r\n$4\r\nPI", b""),
            (
                b"*1\r\n$40\r\n0123456789012345678901234567890123456789\r\n",
                b"",
            ),
            (b"garbage", b""),
            (b"", b""),
        ] {
            assert_eq!(name(encoded), want, "{}", String::from_utf8_lossy(encoded));
        }
    }

    #[test]
    fn commands_that_need_a_connection_of_their_own() {
        for (name, encoded, want) in [
            (&b"GET"[..], &b""[..], Needs::Nothing),
            (b"HGETALL", b"", Needs::Nothing),
            (b"blpop", b"", Needs::Own),
            (b"BZPOPMIN", b"", Needs::Own),
            (b"WATCH", b"", Needs::Own),
            (b"SET", b"", Needs::Nothing),
            (b"SELECT", b"", Needs::Changes),
            (
                b"Client",
                b"*3\r\n$6\r\nCLIENT\r\n$7\r\nsetname\r\n$1\r\nx\r\n",
                Needs::Changes,
            ),
            (
                b"CLIENT",
                b"*2\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n",
                Needs::Changes,
            ),
            (
                b"CLIENT",
                b"*2\r\n$6\r\nCLIENT\r\n$7\r\nGETNAME\r\n",
                Needs::Nothing,
            ),
            (b"CLIENT", b"*1\r\n$6\r\nCLIENT\r\n", Needs::Nothing),
            (b"SUBSCRIBE", b"", Needs::Changes),
            (b"SSUBSCRIBE", b"", Needs::Changes),
            (b"SCRIPT", b"", Needs::Nothing),
            (b"PUBLISH", b"", Needs::Nothing),
            (
                b"XREAD",
                b"*6\r\n$5\r\nXREAD\r\n$5\r\nblock\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n$1\r\ns\r\n$1\r\n$\r\n",
                Needs::Own,
            ),
            (
                b"XREAD",
                b"*4\r\n$5\r\nXREAD\r\n$7\r\nSTREAMS\r\n$1\r\ns\r\n$1\r\n0\r\n",
                Needs::Nothing,
            ),
            (b"READONLY", b"", Needs::Changes),
            (b"RENAME", b"", Needs::Nothing),
        ] {
            assert_eq!(
                needs(name, || encoded),
                want,
                "{}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn every_name_in_the_table_is_found_in_any_case() {
        for (name, rule) in NAMES {
            let encoded: &[u8] = match rule {
                Rule::Client => b"*2\r\n$6\r\nclient\r\n$8\r\nno-touch\r\n",
                _ => b"*3\r\n$5\r\nXREAD\r\n$5\r\nBlock\r\n$1\r\n0\r\n",
            };
            let lower = name.to_ascii_lowercase();
            assert_ne!(
                needs(&lower, || encoded),
                Needs::Nothing,
                "{}",
                String::from_utf8_lossy(name)
            );
            // One letter more is another command.
            assert_eq!(
                needs(&[name, &b"X"[..]].concat(), || encoded),
                Needs::Nothing
            );
        }
    }

    extern crate std;
    use std::string::String;
}
