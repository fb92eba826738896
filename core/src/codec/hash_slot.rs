//! The Redis Cluster key slot: which of the 16384 slots a key hashes to (CRC16 of the key or
//! of its `{hashtag}`). A codec-level fact, below the cluster router: a `MOVED`/`ASK` reply
//! names a slot, so the reply reader needs it too. Public as `cluster::HashSlot`.

/// CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. Slice-by-16 tables
/// (8 KiB, linked only by programs that hash keys): the cluster router hashes every key it
/// routes, and byte-at-a-time was a tenth of its time. Feature `small` (the npm package, whose
/// subscriber links this for shard channels it rarely hashes): one 512-byte table.
#[cfg(not(feature = "small"))]
const CRC16: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_XMODEM);
#[cfg(feature = "small")]
const CRC16: crc::Crc<u16, crc::Table<1>> =
    crc::Crc::<u16, crc::Table<1>>::new(&crc::CRC_16_XMODEM);

/// A Redis Cluster hash slot: always below [`HashSlot::COUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashSlot(u16);

impl HashSlot {
    /// Number of slots in a Redis Cluster.
    pub const COUNT: u16 = 16384;

    /// The slot numbered `n`, if `n` is below [`Self::COUNT`].
    pub const fn new(n: u16) -> Option<Self> {
        if n < Self::COUNT { Some(Self(n)) } else { None }
    }

    /// The slot number.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The slot of `key`: CRC16 of the key, or of its `{hashtag}` when the key has a non-empty
    /// one, modulo 16384.
    ///
    /// ```
    /// use redpipe_core::cluster::HashSlot;
    /// assert_eq!(HashSlot::for_key(b"foo").get(), 12182);
    /// assert_eq!(HashSlot::for_key(b"{user1000}.following"), HashSlot::for_key(b"user1000"));
    /// ```
    pub fn for_key(key: &[u8]) -> Self {
        Self(CRC16.checksum(hash_tag(key)) % Self::COUNT)
    }

    /// The slot of the key made of `parts` joined (a [`Joined`](crate::Joined) key), without
    /// joining them in memory.
    ///
    /// ```
    /// use redpipe_core::cluster::HashSlot;
    /// let parts: [&[u8]; 3] = [b"user{", b"1000", b"}.following"];
    /// assert_eq!(HashSlot::for_parts(&parts), HashSlot::for_key(b"user{1000}.following"));
    /// ```
    pub fn for_parts(parts: &[&[u8]]) -> Self {
        let bytes = || parts.iter().flat_map(|p| p.iter().copied());
        let total: usize = parts.iter().map(|p| p.len()).sum();
        // The same rule as `hash_tag`, on positions across the parts.
        let (from, to) = match bytes().position(|b| b == b'{') {
            Some(open) => match bytes().skip(open + 1).position(|b| b == b'}') {
                Some(len) if len > 0 => (open + 1, open + 1 + len),
                _ => (0, total),
            },
            None => (0, total),
        };
        let mut digest = CRC16.digest();
        let mut at = 0;
        for part in parts {
            let (start, end) = (at, at + part.len());
            let lo = from.clamp(start, end) - start;
            let hi = to.clamp(start, end) - start;
            digest.update(&part[lo..hi]);
            at = end;
        }
        Self(digest.finalize() % Self::COUNT)
    }
}

/// The part of `key` that is hashed: "if the key contains a `{` character, and if there is a `}`
/// character to the right of `{`, and if there are one or more characters between the first
/// occurrence of `{` and the first occurrence of `}`, then instead of hashing the key, only what
/// is between the first occurrence of `{` and the following first occurrence of `}` is hashed."
fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = find(key, b'{')
        && let Some(len) = key[open + 1..].iter().position(|&b| b == b'}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// The first `byte` in `hay`: eight bytes at a time up to the word that holds it (most keys
/// have no `{`, and the router looks at every key it routes), then byte by byte.
fn find(hay: &[u8], byte: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(byte);
    let mut at = 0;
    for chunk in hay.chunks_exact(8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        // A zero byte in `x` (a byte equal to `byte`) sets its high bit here.
        let x = u64::from_le_bytes(word) ^ pattern;
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        at += 8;
    }
    hay[at..].iter().position(|&b| b == byte).map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from CLUSTER KEYSLOT on a real server.
        for (key, slot) in [
            (&b"foo"[..], 12182),
            (b"bar", 5061),
            (b"somekey", 11058),
            (b"{user1000}.following", 3443),
            (b"foo{}{bar}", 8363),
            (b"foo{{bar}}zap", 4015),
            (b"foo{bar}{zap}", 5061),
            (b"", 0),
        ] {
            assert_eq!(HashSlot::for_key(key).get(), slot, "{key:?}");
        }
        assert_eq!(HashSlot::new(16384), None);
    }

    #[test]
    fn find_matches_position() {
        let mut hay = [0u8; 40];
        for (i, b) in hay.iter_mut().enumerate() {
            *b = b'a' + (i % 26) as u8;
        }
        for len in 0..hay.len() {
            for at in 0..=len {
                let mut h = hay;
                if at < len {
                    h[at] = b'{';
                }
                let h = &h[..len];
                assert_eq!(
                    find(h, b'{'),
                    h.iter().position(|&b| b == b'{'),
                    "{len} {at}"
                );
            }
        }
        assert_eq!(find(b"\xfb{", b'{'), Some(1));
        assert_eq!(find(&[0x7b | 0x80; 9], b'{'), None);
    }

    #[test]
    fn parts_hash_like_the_joined_key() {
        let keys: [&[u8]; 8] = [
            b"foo",
            b"{user1000}.following",
            b"foo{}{bar}",
            b"foo{{bar}}zap",
            b"foo{bar}{zap}",
            b"",
            b"a{b",
            b"}{x}",
        ];
        for key in keys {
            let whole = HashSlot::for_key(key);
            for cut in 0..=key.len() {
                for cut2 in cut..=key.len() {
                    let parts = [&key[..cut], &key[cut..cut2], &key[cut2..]];
                    assert_eq!(
                        HashSlot::for_parts(&parts),
                        whole,
                        "{key:?} at {cut}/{cut2}"
                    );
                }
            }
        }
    }
}
