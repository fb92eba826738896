//! [`Prefix`]: confinement of a session to the keys that start with its token's prefix.
//!
//! Every word in a key position must start with the prefix. The positions come from the
//! core's key table ([`KeySpec`], the one the cluster router splits pipelines by), so the bridge
//! and the router agree on what a key is. A confined session may only use the commands whose
//! keys that table describes completely ([`CONFINABLE`]: the default allow list, plus `KEYS`,
//! `SCAN`, `APPEND` and `BITFIELD` when the operator allows them); everything else — scripts
//! (whose keys are whatever the script decides), `RANDOMKEY`, `SORT ... BY`, moves between
//! databases, commands the operator allowed beyond that list — is refused to it.
//!
//! `SCAN` and `KEYS` see only the prefix: their pattern is rewritten to start with it (its
//! glob characters escaped). A pattern that already starts with the prefix is kept; any other
//! gets the prefix put in front (`*:cart` becomes `app:u1:*:cart`); no pattern becomes
//! `app:u1:*`. So whatever the client asks, Redis only returns keys under the prefix.

use redpipe::cluster::KeySpec;

use crate::denial::{Denial, shown};

/// The commands a confined session may use: their keys are exactly where [`KeySpec`] says.
#[rustfmt::skip]
pub const CONFINABLE: &[&str] = &[
    "GET", "SET", "SETNX", "SETEX", "PSETEX", "GETSET", "GETDEL", "GETEX", "MGET", "MSET",
    "MSETNX", "INCR", "INCRBY", "INCRBYFLOAT", "DECR", "DECRBY", "STRLEN", "GETRANGE",
    "SUBSTR", "SETRANGE", "GETBIT", "SETBIT", "BITCOUNT", "BITPOS", "BITFIELD_RO", "BITOP",
    "PFADD", "PFCOUNT", "PFMERGE", "APPEND", "BITFIELD",
    "DEL", "UNLINK", "EXISTS", "TYPE", "TOUCH", "RENAME", "RENAMENX", "COPY", "EXPIRE",
    "PEXPIRE", "EXPIREAT", "PEXPIREAT", "EXPIRETIME", "PEXPIRETIME", "TTL", "PTTL", "PERSIST",
    "HSET", "HSETNX", "HMSET", "HGET", "HMGET", "HGETALL", "HDEL", "HEXISTS", "HINCRBY",
    "HINCRBYFLOAT", "HKEYS", "HVALS", "HLEN", "HSTRLEN", "HRANDFIELD", "HSCAN",
    "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP", "LLEN", "LRANGE", "LINDEX", "LSET",
    "LINSERT", "LREM", "LTRIM", "LPOS", "LMOVE", "RPOPLPUSH", "LMPOP", "BLPOP", "BRPOP",
    "BLMOVE", "BRPOPLPUSH", "BLMPOP",
    "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD", "SPOP", "SRANDMEMBER",
    "SMOVE", "SINTER", "SUNION", "SDIFF", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE",
    "SINTERCARD", "SSCAN",
    "ZADD", "ZREM", "ZSCORE", "ZMSCORE", "ZINCRBY", "ZCARD", "ZCOUNT", "ZLEXCOUNT", "ZRANGE",
    "ZRANGESTORE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX",
    "ZREVRANGE", "ZRANK", "ZREVRANK", "ZREMRANGEBYRANK", "ZREMRANGEBYSCORE",
    "ZREMRANGEBYLEX", "ZPOPMIN", "ZPOPMAX", "BZPOPMIN", "BZPOPMAX", "ZMPOP", "BZMPOP",
    "ZRANDMEMBER", "ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE",
    "ZINTERCARD", "ZSCAN",
    "GEOADD", "GEODIST", "GEOHASH", "GEOPOS", "GEOSEARCH", "GEOSEARCHSTORE",
    "XADD", "XRANGE", "XREVRANGE", "XLEN", "XREAD", "XREADGROUP", "XACK", "XDEL", "XTRIM",
    "XPENDING", "XCLAIM", "XAUTOCLAIM", "XSETID", "XGROUP", "XINFO",
    "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "PING", "ECHO", "HELLO", "CLIENT SETNAME",
    "CLIENT GETNAME", "CLIENT ID",
    "SCAN", "KEYS",
];

/// A key prefix a session is confined to; see the [module docs](self).
#[derive(Clone, PartialEq, Eq)]
pub struct Prefix(Vec<u8>);

impl std::fmt::Debug for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prefix({:?})", String::from_utf8_lossy(&self.0))
    }
}

impl Prefix {
    /// `prefix`, or `None` if it is empty (an empty prefix confines nothing).
    pub fn new(prefix: impl Into<Vec<u8>>) -> Option<Self> {
        let prefix = prefix.into();
        (!prefix.is_empty()).then_some(Self(prefix))
    }

    /// The prefix's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Checks the command `words` (name first, allowed by the policy): `Ok(None)` to forward
    /// it as it is, `Ok(Some(words))` to forward those words instead (`SCAN`, `KEYS`), or the
    /// reason to refuse it.
    pub fn confine(&self, words: &[&[u8]]) -> Result<Option<Vec<Vec<u8>>>, Denial> {
        let Some(first) = words.first() else {
            return Err(Denial::NotConfinable(String::new()));
        };
        let name = shown(first);
        let sub = words.get(1).map(|s| format!("{name} {}", shown(s)));
        let listed = CONFINABLE.contains(&name.as_str())
            || sub.as_deref().is_some_and(|s| CONFINABLE.contains(&s));
        let has = |word: &[u8]| words[1..].iter().any(|w| w.eq_ignore_ascii_case(word));
        if !listed || (name == "COPY" && has(b"DB")) {
            return Err(Denial::NotConfinable(name));
        }
        match name.as_str() {
            // Wrong arity: Redis refuses it before reading any key.
            "SCAN" | "KEYS" if words.len() < 2 => return Ok(None),
            "KEYS" if words.len() != 2 => return Ok(None),
            "KEYS" => return Ok(Some(vec![first.to_vec(), self.pattern(Some(words[1]))])),
            "SCAN" => {
                return self
                    .scan(words)
                    .map(Some)
                    .ok_or(Denial::NotConfinable(name));
            }
            _ => {}
        }
        let outside = KeySpec::of(first)
            .positions(words)
            .any(|i| !words[i].starts_with(&self.0));
        if outside {
            return Err(Denial::OutsidePrefix(name));
        }
        Ok(None)
    }

    /// A glob pattern that matches only keys under the prefix: `pattern` if it already
    /// starts with the (escaped) prefix, else the escaped prefix followed by `pattern` (or by
    /// `*` when there is none).
    fn pattern(&self, pattern: Option<&[u8]>) -> Vec<u8> {
        let mut escaped = Vec::with_capacity(self.0.len() + 1);
        for &b in &self.0 {
            if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
                escaped.push(b'\\');
            }
            escaped.push(b);
        }
        match pattern {
            Some(p) if p.starts_with(&escaped) => p.to_vec(),
            Some(p) => [&escaped[..], p].concat(),
            None => {
                escaped.push(b'*');
                escaped
            }
        }
    }

    /// `SCAN cursor [MATCH p] [COUNT n] [TYPE t] [NOVALUES]` with its pattern confined, read
    /// as Redis reads it (options left to right, the last `MATCH` wins), or `None` when it is
    /// not what Redis would accept.
    fn scan(&self, words: &[&[u8]]) -> Option<Vec<Vec<u8>>> {
        let mut out: Vec<Vec<u8>> = vec![words[0].to_vec(), words[1].to_vec()];
        let mut pattern = None;
        let mut i = 2;
        while let Some(option) = words.get(i) {
            let is = |w: &[u8]| option.eq_ignore_ascii_case(w);
            if is(b"NOVALUES") {
                out.push(option.to_vec());
                i += 1;
                continue;
            }
            let value = words.get(i + 1)?;
            if is(b"MATCH") {
                pattern = Some(*value);
            } else if is(b"COUNT") || is(b"TYPE") {
                out.extend([option.to_vec(), value.to_vec()]);
            } else {
                return None;
            }
            i += 2;
        }
        out.extend([b"MATCH".to_vec(), self.pattern(pattern)]);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &str) -> Vec<&[u8]> {
        command.split(' ').map(str::as_bytes).collect()
    }

    fn confine(prefix: &str, command: &str) -> Result<Option<String>, Denial> {
        let p = Prefix::new(prefix).expect("a prefix");
        p.confine(&words(command))
            .map(|w| w.map(|w| String::from_utf8(w.join(&b' ')).expect("utf-8")))
    }

    #[test]
    fn every_key_position_is_checked() {
        for inside in [
            "GET u1:a",
            "MSET u1:a 1 u1:b 2",
            "DEL u1:a u1:b",
            "BLPOP u1:a u1:b 0",
            "RENAME u1:a u1:b",
            "ZUNIONSTORE u1:d 2 u1:a u1:b WEIGHTS 1 2",
            "ZRANGESTORE u1:d u1:s 0 -1",
            "XREAD COUNT 2 STREAMS u1:s u1:t 0 0",
            "XREADGROUP GROUP g c STREAMS u1:s >",
            "XGROUP CREATE u1:s g $",
            "XINFO STREAM u1:s",
            "BITOP AND u1:d u1:a u1:b",
            "GEOSEARCHSTORE u1:d u1:s FROMMEMBER m BYRADIUS 1 km",
            "WATCH u1:a",
            "PING",
            "MULTI",
            "CLIENT SETNAME x",
            "COPY u1:a u1:b REPLACE",
        ] {
            assert_eq!(confine("u1:", inside), Ok(None), "{inside}");
        }
        for outside in [
            "GET u2:a",
            "MSET u1:a 1 u2:b 2",
            "DEL u1:a u2:b",
            "BLPOP u1:a u2:b 0",
            "RENAME u1:a u2:b",
            "SMOVE u1:a u2:b m",
            "ZUNIONSTORE u1:d 2 u1:a u2:b",
            "ZUNIONSTORE u2:d 1 u1:a",
            "ZRANGESTORE u1:d u2:s 0 -1",
            "XREAD COUNT 2 STREAMS u1:s u2:t 0 0",
            "XREADGROUP GROUP STREAMS u1:c STREAMS u2:s >",
            "LMPOP 2 u1:a u2:b LEFT",
            "BITOP AND u1:d u1:a u2:b",
            "WATCH u1:a u2:b",
            "GET U1:a",
        ] {
            assert_eq!(
                confine("u1:", outside),
                Err(Denial::OutsidePrefix(shown(
                    outside.split(' ').next().unwrap().as_bytes()
                ))),
                "{outside}"
            );
        }
        for refused in [
            "EVAL return 0",
            "EVALSHA abc 1 u1:a",
            "FCALL f 0",
            "SCRIPT LOAD x",
            "RANDOMKEY",
            "SORT u1:a BY u2:*",
            "MIGRATE h 1 u1:a 0 1",
            "MOVE u1:a 1",
            "SELECT 1",
            "COPY u1:a u1:b DB 2",
            "CLIENT KILL ID 1",
            "FLUSHDB",
            "OBJECT ENCODING u1:a",
        ] {
            assert!(
                matches!(confine("u1:", refused), Err(Denial::NotConfinable(_))),
                "{refused}"
            );
        }
    }

    #[test]
    fn scan_and_keys_see_only_the_prefix() {
        let ok = |p: &str, c: &str| confine(p, c).unwrap().unwrap();
        assert_eq!(ok("u1:", "SCAN 0"), "SCAN 0 MATCH u1:*");
        assert_eq!(ok("u1:", "scan 0 COUNT 10"), "scan 0 COUNT 10 MATCH u1:*");
        assert_eq!(
            ok("u1:", "SCAN 0 MATCH u1:cart:*"),
            "SCAN 0 MATCH u1:cart:*"
        );
        assert_eq!(ok("u1:", "SCAN 0 MATCH *"), "SCAN 0 MATCH u1:*");
        assert_eq!(
            ok("u1:", "SCAN 0 MATCH *:x TYPE hash"),
            "SCAN 0 TYPE hash MATCH u1:*:x"
        );
        assert_eq!(
            ok("u1:", "SCAN 0 MATCH u1:* MATCH *"),
            "SCAN 0 MATCH u1:*",
            "the last MATCH is the one Redis uses"
        );
        assert_eq!(ok("a*[b]\\:", "SCAN 0"), "SCAN 0 MATCH a\\*\\[b\\]\\\\:*");
        assert_eq!(ok("a*:", "SCAN 0 MATCH a*:x"), "SCAN 0 MATCH a\\*:a*:x");
        assert_eq!(ok("u1:", "KEYS *"), "KEYS u1:*");
        assert_eq!(ok("u1:", "KEYS u1:a?"), "KEYS u1:a?");
        for malformed in ["SCAN 0 MATCH", "SCAN 0 BOGUS 1", "SCAN 0 COUNT"] {
            assert!(confine("u1:", malformed).is_err(), "{malformed}");
        }
        assert_eq!(confine("u1:", "KEYS"), Ok(None), "Redis refuses the arity");
        assert_eq!(ok("u1:", "SCAN 0 NOVALUES"), "SCAN 0 NOVALUES MATCH u1:*");
        assert!(Prefix::new("").is_none());
    }
}
