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

/// What the command `name` asks of its connection; `encoded` gives the whole command, looked at
/// only for the `BLOCK` option of `XREAD`/`XREADGROUP` (a stream key named `BLOCK` counts too:
/// a connection of its own is never wrong, only slower).
#[inline]
pub(crate) fn needs<'e>(name: &[u8], encoded: impl FnOnce() -> &'e [u8]) -> Needs {
    // One comparison for most commands: the names below start with these letters and have
    // these lengths.
    let Some(first) = name.first().map(u8::to_ascii_uppercase) else {
        return Needs::Nothing;
    };
    if !matches!(
        (first, name.len()),
        (b'B', 5..=10)
            | (b'W', 4..=7)
            | (b'X', 5 | 10)
            | (b'S', 6..=10)
            | (b'P', 10)
            | (b'M', 7)
            | (b'C', 6)
            | (b'A', 4)
            | (b'H', 5)
            | (b'R', 5 | 8 | 9)
            | (b'Q', 4)
    ) {
        return Needs::Nothing;
    }
    let is = |word: &[u8]| name.eq_ignore_ascii_case(word);
    const OWN: [&[u8]; 12] = [
        b"BLPOP",
        b"BRPOP",
        b"BRPOPLPUSH",
        b"BLMOVE",
        b"BLMPOP",
        b"BZPOPMIN",
        b"BZPOPMAX",
        b"BZMPOP",
        b"WAIT",
        b"WAITAOF",
        b"WATCH",
        b"MONITOR",
    ];
    const CHANGES: [&[u8]; 10] = [
        b"SUBSCRIBE",
        b"PSUBSCRIBE",
        b"SSUBSCRIBE",
        b"SELECT",
        b"AUTH",
        b"HELLO",
        b"RESET",
        b"READONLY",
        b"READWRITE",
        b"QUIT",
    ];
    // `CLIENT` subcommands that change this connection (`GETNAME`, `ID`, `LIST`... do not).
    const CLIENT_CHANGES: [&[u8]; 7] = [
        b"REPLY",
        b"SETNAME",
        b"TRACKING",
        b"CACHING",
        b"NO-EVICT",
        b"NO-TOUCH",
        b"SETINFO",
    ];
    if OWN.iter().any(|w| is(w)) {
        Needs::Own
    } else if CHANGES.iter().any(|w| is(w)) {
        Needs::Changes
    } else if is(b"CLIENT") {
        let sub = word(encoded(), 1);
        match CLIENT_CHANGES.iter().any(|w| sub.eq_ignore_ascii_case(w)) {
            true => Needs::Changes,
            false => Needs::Nothing,
        }
    } else if (is(b"XREAD") || is(b"XREADGROUP")) && has_block_option(encoded()) {
        Needs::Own
    } else {
        Needs::Nothing
    }
}

/// Word `k` of an encoded command (`*N\r\n$L\r\nWORD\r\n$L\r\nWORD\r\n...`), or nothing.
pub(crate) fn word(encoded: &[u8], k: usize) -> &[u8] {
    let mut lines = encoded.split(|b| *b == b'\n').skip(1 + 2 * k);
    let (Some(len), Some(word)) = (lines.next(), lines.next()) else {
        return &[];
    };
    // `$L\r`: digits by hand (no `str::parse` linked for this).
    let mut n = 0usize;
    for d in len.get(1..len.len().saturating_sub(1)).unwrap_or_default() {
        if !d.is_ascii_digit() {
            return &[];
        }
        n = n.saturating_mul(10).saturating_add(usize::from(d - b'0'));
    }
    word.get(..n).unwrap_or_default()
}

/// Whether an encoded command has a `BLOCK` argument.
fn has_block_option(encoded: &[u8]) -> bool {
    encoded.windows(11).any(|w| {
        w[..4] == *b"$5\r\n" && w[4..9].eq_ignore_ascii_case(b"BLOCK") && w[9..] == *b"\r\n"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    extern crate std;
    use std::string::String;
}
