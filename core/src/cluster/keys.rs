//! Which words of a command are keys, so that a pipeline splits by slot without a deny-list of
//! commands: from the command's name, the shapes Redis's own key specs describe (`COMMAND INFO`).

/// Where a command's keys are among its words (word 0 is the name).
///
/// ```
/// use redpipe_core::cluster::KeySpec;
/// let words: [&[u8]; 5] = [b"MSET", b"a", b"1", b"b", b"2"];
/// let keys: Vec<usize> = KeySpec::of(words[0]).positions(&words).collect();
/// assert_eq!(keys, [1, 3]);
/// let eval: [&[u8]; 5] = [b"EVAL", b"return 1", b"2", b"k1", b"k2"];
/// assert_eq!(KeySpec::of(b"eval").positions(&eval).collect::<Vec<_>>(), [3, 4]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySpec {
    /// No key: any node can answer (`PING`, `INFO`, `MULTI`...). `KEYS` and `SCAN` are here
    /// too: they see one node's keys.
    None,
    /// The words from `first` on, every `step`-th, leaving out the last `skip_last` words, and
    /// at most `max` of them (0: no limit). `GET k` is `{1, 1, 0, 1}`, `MSET k v k v` is
    /// `{1, 2, 0, 0}`, `BLPOP k k timeout` is `{1, 1, 1, 0}`.
    Span {
        /// Index of the first key.
        first: u8,
        /// Distance between keys.
        step: u8,
        /// Trailing words that are not keys.
        skip_last: u8,
        /// Most keys (0: no limit).
        max: u8,
    },
    /// Word `at` counts the keys that follow it (`EVAL script numkeys k...`); with `dest`, word
    /// 1 is a key too (`ZUNIONSTORE dest numkeys k...`).
    Counted {
        /// Index of the count.
        at: u8,
        /// Whether word 1 is a (destination) key.
        dest: bool,
    },
    /// The first half of the words after `STREAMS` (`XREAD ... STREAMS k1 k2 id1 id2`), the
    /// keyword found as Redis finds it: past the values of `GROUP`, `COUNT` and `BLOCK` (a
    /// group or consumer may be named `STREAMS`).
    Streams,
}

const fn span(first: u8, step: u8, skip_last: u8, max: u8) -> KeySpec {
    KeySpec::Span {
        first,
        step,
        skip_last,
        max,
    }
}

/// Commands whose keys are not the single word 1 (the shape of every other command).
const TABLE: &[(&str, KeySpec)] = &[
    // No key.
    ("PING", KeySpec::None),
    ("ECHO", KeySpec::None),
    ("INFO", KeySpec::None),
    ("DBSIZE", KeySpec::None),
    ("FLUSHDB", KeySpec::None),
    ("FLUSHALL", KeySpec::None),
    ("TIME", KeySpec::None),
    ("CLIENT", KeySpec::None),
    ("CONFIG", KeySpec::None),
    ("SCRIPT", KeySpec::None),
    ("FUNCTION", KeySpec::None),
    ("MULTI", KeySpec::None),
    ("EXEC", KeySpec::None),
    ("DISCARD", KeySpec::None),
    ("UNWATCH", KeySpec::None),
    ("SELECT", KeySpec::None),
    ("AUTH", KeySpec::None),
    ("HELLO", KeySpec::None),
    ("RANDOMKEY", KeySpec::None),
    ("KEYS", KeySpec::None),
    ("SCAN", KeySpec::None),
    ("WAIT", KeySpec::None),
    ("PUBLISH", KeySpec::None),
    ("SUBSCRIBE", KeySpec::None),
    ("PSUBSCRIBE", KeySpec::None),
    ("CLUSTER", KeySpec::None),
    ("COMMAND", KeySpec::None),
    ("LASTSAVE", KeySpec::None),
    ("SAVE", KeySpec::None),
    ("BGSAVE", KeySpec::None),
    ("BGREWRITEAOF", KeySpec::None),
    ("SWAPDB", KeySpec::None),
    ("SLOWLOG", KeySpec::None),
    ("LATENCY", KeySpec::None),
    ("ACL", KeySpec::None),
    ("DEBUG", KeySpec::None),
    ("ROLE", KeySpec::None),
    ("READONLY", KeySpec::None),
    ("READWRITE", KeySpec::None),
    ("ASKING", KeySpec::None),
    ("QUIT", KeySpec::None),
    ("RESET", KeySpec::None),
    ("MODULE", KeySpec::None),
    ("SHUTDOWN", KeySpec::None),
    // Every word after the name.
    ("DEL", span(1, 1, 0, 0)),
    ("UNLINK", span(1, 1, 0, 0)),
    ("EXISTS", span(1, 1, 0, 0)),
    ("TOUCH", span(1, 1, 0, 0)),
    ("MGET", span(1, 1, 0, 0)),
    ("WATCH", span(1, 1, 0, 0)),
    ("SINTER", span(1, 1, 0, 0)),
    ("SUNION", span(1, 1, 0, 0)),
    ("SDIFF", span(1, 1, 0, 0)),
    ("SINTERSTORE", span(1, 1, 0, 0)),
    ("SUNIONSTORE", span(1, 1, 0, 0)),
    ("SDIFFSTORE", span(1, 1, 0, 0)),
    ("PFCOUNT", span(1, 1, 0, 0)),
    ("PFMERGE", span(1, 1, 0, 0)),
    // Two keys, then options.
    ("RENAME", span(1, 1, 0, 2)),
    ("RENAMENX", span(1, 1, 0, 2)),
    ("RPOPLPUSH", span(1, 1, 0, 2)),
    ("SMOVE", span(1, 1, 0, 2)),
    ("LMOVE", span(1, 1, 0, 2)),
    ("BLMOVE", span(1, 1, 0, 2)),
    ("COPY", span(1, 1, 0, 2)),
    ("LCS", span(1, 1, 0, 2)),
    ("ZRANGESTORE", span(1, 1, 0, 2)),
    ("GEOSEARCHSTORE", span(1, 1, 0, 2)),
    ("BITOP", span(2, 1, 0, 0)),
    // Keys, then a timeout.
    ("BLPOP", span(1, 1, 1, 0)),
    ("BRPOP", span(1, 1, 1, 0)),
    ("BZPOPMIN", span(1, 1, 1, 0)),
    ("BZPOPMAX", span(1, 1, 1, 0)),
    ("BRPOPLPUSH", span(1, 1, 1, 0)),
    // Key, value pairs.
    ("MSET", span(1, 2, 0, 0)),
    ("MSETNX", span(1, 2, 0, 0)),
    // A subcommand, then the key.
    ("OBJECT", span(2, 1, 0, 1)),
    ("MEMORY", span(2, 1, 0, 1)),
    ("XINFO", span(2, 1, 0, 1)),
    ("XGROUP", span(2, 1, 0, 1)),
    // A count of keys.
    ("EVAL", KeySpec::Counted { at: 2, dest: false }),
    ("EVALSHA", KeySpec::Counted { at: 2, dest: false }),
    ("EVAL_RO", KeySpec::Counted { at: 2, dest: false }),
    ("EVALSHA_RO", KeySpec::Counted { at: 2, dest: false }),
    ("FCALL", KeySpec::Counted { at: 2, dest: false }),
    ("FCALL_RO", KeySpec::Counted { at: 2, dest: false }),
    ("BLMPOP", KeySpec::Counted { at: 2, dest: false }),
    ("BZMPOP", KeySpec::Counted { at: 2, dest: false }),
    ("ZUNION", KeySpec::Counted { at: 1, dest: false }),
    ("ZINTER", KeySpec::Counted { at: 1, dest: false }),
    ("ZDIFF", KeySpec::Counted { at: 1, dest: false }),
    ("ZINTERCARD", KeySpec::Counted { at: 1, dest: false }),
    ("SINTERCARD", KeySpec::Counted { at: 1, dest: false }),
    ("LMPOP", KeySpec::Counted { at: 1, dest: false }),
    ("ZMPOP", KeySpec::Counted { at: 1, dest: false }),
    ("ZUNIONSTORE", KeySpec::Counted { at: 2, dest: true }),
    ("ZINTERSTORE", KeySpec::Counted { at: 2, dest: true }),
    ("ZDIFFSTORE", KeySpec::Counted { at: 2, dest: true }),
    // Keys after STREAMS.
    ("XREAD", KeySpec::Streams),
    ("XREADGROUP", KeySpec::Streams),
];

/// The longest name in [`TABLE`]: a longer name is not in it.
const LONGEST: usize = 16;

/// [`TABLE`] keyed by [`packed`] names and sorted at compile time, for a binary search over
/// integers: the router looks up every command it routes, and a linear scan of a hundred names
/// was a tenth of its time.
const SORTED: [(u128, KeySpec); TABLE.len()] = sorted();

/// A name of at most 16 bytes as one integer that sorts as the name does: its bytes, upper
/// case, big-endian, padded with zeros (which no name contains).
const fn packed(name: &[u8]) -> u128 {
    let mut key = 0u128;
    let mut i = 0;
    while i < LONGEST {
        let b = if i < name.len() {
            name[i].to_ascii_uppercase()
        } else {
            0
        };
        key = (key << 8) | b as u128;
        i += 1;
    }
    key
}

const fn sorted() -> [(u128, KeySpec); TABLE.len()] {
    let mut out = [(0, KeySpec::None); TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        let name = TABLE[i].0.as_bytes();
        assert!(name.len() <= LONGEST, "a name longer than LONGEST");
        let key = packed(name);
        // Insertion sort: a hundred entries, once, at compile time.
        let mut j = i;
        while j > 0 && key < out[j - 1].0 {
            out[j] = out[j - 1];
            j -= 1;
        }
        out[j] = (key, TABLE[i].1);
        i += 1;
    }
    out
}

/// For each name length, a bit per first letter (`A`..`Z`, then `_` and others as bit 31) that
/// some name in [`TABLE`] has: most commands (`GET`, `SET`, `HGETALL`...) are ruled out by
/// one load and a test.
const FIRST: [u32; LONGEST + 1] = {
    let mut out = [0u32; LONGEST + 1];
    let mut i = 0;
    while i < TABLE.len() {
        let name = TABLE[i].0.as_bytes();
        out[name.len()] |= letter_bit(name[0]);
        i += 1;
    }
    out
};

const fn letter_bit(b: u8) -> u32 {
    let b = b.to_ascii_uppercase();
    if b.is_ascii_uppercase() {
        1 << (b - b'A')
    } else {
        1 << 31
    }
}

impl KeySpec {
    /// The shape of most Redis commands: one key, word 1 (`GET k`, `SET k v`, `HSET h f v`).
    pub(crate) const ONE: KeySpec = span(1, 1, 0, 1);

    /// The key positions of the command named `name` (any case). Commands not in the table have
    /// one key, word 1, as most Redis commands do.
    pub fn of(name: &[u8]) -> KeySpec {
        match (FIRST.get(name.len()), name.first()) {
            (Some(letters), Some(&first)) if letters & letter_bit(first) != 0 => {}
            _ => return Self::ONE,
        }
        let key = packed(name);
        SORTED
            .binary_search_by(|(k, _)| k.cmp(&key))
            .map_or(Self::ONE, |i| SORTED[i].1)
    }

    /// The indices of the key words of `words` (a whole command, name first). Malformed
    /// commands (a count that is not a number, missing words) yield what is there.
    pub fn positions<'w, W: AsRef<[u8]>>(self, words: &'w [W]) -> impl Iterator<Item = usize> + 'w {
        let len = words.len();
        let number = |i: usize| -> usize {
            words
                .get(i)
                .and_then(|w| core::str::from_utf8(w.as_ref()).ok()?.parse().ok())
                .unwrap_or(0)
        };
        let (start, end, step, extra) = match self {
            KeySpec::None => (0, 0, 1, None),
            KeySpec::Span {
                first,
                step,
                skip_last,
                max,
            } => {
                let (first, step) = (usize::from(first), usize::from(step.max(1)));
                let mut end = len.saturating_sub(usize::from(skip_last));
                if max > 0 {
                    end = end.min(first + step * usize::from(max));
                }
                (first, end.max(first), step, None)
            }
            KeySpec::Counted { at, dest } => {
                let at = usize::from(at);
                let n = number(at);
                let start = at + 1;
                (
                    start,
                    start.saturating_add(n).min(len).max(start),
                    1,
                    dest.then_some(1),
                )
            }
            KeySpec::Streams => {
                let streams = streams_keyword(words).map_or(len, |i| i + 1);
                let n = (len - streams.min(len)) / 2;
                (streams, streams + n, 1, None)
            }
        };
        extra
            .filter(|&i| i < len)
            .into_iter()
            .chain((start..end.min(len)).step_by(step))
    }
}

/// The index of the `STREAMS` keyword of an `XREAD`/`XREADGROUP`, skipping the values of the
/// options before it as Redis's parser does.
fn streams_keyword<W: AsRef<[u8]>>(words: &[W]) -> Option<usize> {
    let mut i = 1;
    while let Some(word) = words.get(i) {
        let word = word.as_ref();
        let values = if word.eq_ignore_ascii_case(b"STREAMS") {
            return Some(i);
        } else if word.eq_ignore_ascii_case(b"GROUP") {
            2
        } else if word.eq_ignore_ascii_case(b"COUNT") || word.eq_ignore_ascii_case(b"BLOCK") {
            1
        } else {
            0
        };
        i += 1 + values;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(command: &str) -> heapless::Vec<usize, 8> {
        let words: heapless::Vec<&[u8], 16> = command.split(' ').map(str::as_bytes).collect();
        KeySpec::of(words[0]).positions(&words).collect()
    }

    #[test]
    fn every_table_entry_is_found() {
        for (name, spec) in TABLE {
            assert_eq!(KeySpec::of(name.as_bytes()), *spec, "{name}");
            let lower: heapless::Vec<u8, LONGEST> =
                name.bytes().map(|b| b.to_ascii_lowercase()).collect();
            assert_eq!(KeySpec::of(&lower), *spec, "{name} in lower case");
        }
        assert!(
            SORTED.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no duplicates"
        );
        assert_eq!(KeySpec::of(b"GEOSEARCHSTOREX"), span(1, 1, 0, 1));
        assert_eq!(
            KeySpec::of(b"a-name-longer-than-16-bytes"),
            span(1, 1, 0, 1)
        );
    }

    #[test]
    fn shapes_of_the_commands_redis_has() {
        for (command, want) in [
            ("GET k", &[1][..]),
            ("SET k v EX 10", &[1]),
            ("get k", &[1]),
            ("HSET h f v f2 v2", &[1]),
            ("PING", &[]),
            ("INFO server", &[]),
            ("DEL a b c", &[1, 2, 3]),
            ("MGET a", &[1]),
            ("MSET a 1 b 2 c 3", &[1, 3, 5]),
            ("BLPOP a b 0", &[1, 2]),
            ("RENAME a b", &[1, 2]),
            ("COPY a b DB 2 REPLACE", &[1, 2]),
            ("BITOP AND dest a b", &[2, 3, 4]),
            ("OBJECT ENCODING k", &[2]),
            ("OBJECT HELP", &[]),
            ("EVAL body 2 k1 k2 arg", &[3, 4]),
            ("EVALSHA sha 0 arg", &[]),
            ("EVAL body 9 k1", &[3]),
            ("EVAL body x k1", &[]),
            ("ZUNIONSTORE d 2 a b WEIGHTS 1 2", &[1, 3, 4]),
            ("ZUNION 2 a b", &[2, 3]),
            ("BLMPOP 0 2 a b LEFT", &[3, 4]),
            ("XREAD COUNT 2 STREAMS s1 s2 0 0", &[4, 5]),
            ("XREADGROUP GROUP g c STREAMS s >", &[5]),
            ("XREAD COUNT 2", &[]),
            ("XREADGROUP GROUP STREAMS c STREAMS k >", &[5]),
            ("XREAD COUNT 2 BLOCK 0 STREAMS a b 0 0", &[6, 7]),
            ("LCS a b IDX", &[1, 2]),
            ("ZRANGESTORE dst src 0 -1", &[1, 2]),
            ("GET", &[]),
        ] {
            assert_eq!(&keys(command)[..], want, "{command}");
        }
    }
}
