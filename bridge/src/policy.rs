//! [`Policy`]: which commands a client may send through the bridge, and [`Access`]: the
//! policy as it applies to one session (its token's own command list and key prefix).
//!
//! A page's code runs on machines the operator does not control, and every visitor can read
//! the page's token: whatever the bridge lets through, assume a stranger sends it. So the
//! policy is an **allow list**: the data commands a web page needs ([`DEFAULT_ALLOW`]: strings,
//! hashes, lists, sets, sorted sets, geo, streams, expiry, transactions, `PING`, `HELLO`), and
//! nothing else unless the operator names it (`--allow EVAL`), which the bridge logs at
//! start-up. Redis's ACLs (the user a token maps to) are the second line; the policy needs no
//! ACL set-up and also covers what ACLs cannot express: commands that would change whose
//! connection it is (`AUTH`, `HELLO ... AUTH`, `RESET`) or break the reply stream the bridge
//! keeps aligned (`SUBSCRIBE`, `MONITOR`, `CLIENT REPLY`): those are [`NEVER`] allowed in a
//! pipeline session. Subscriptions have sessions of their own ([`Access::judge_subscriber`]),
//! and `PUBLISH` passes only to the channels the session's [`ChannelRules`] name.
//!
//! Rules name a command (`GET`) or a command and its subcommand (`CLIENT SETNAME`); a few
//! rules name a form of a command that is off on its own: `COPY DB` (a copy into another
//! database), `SCAN` / `KEYS` / `RANDOMKEY` for sessions without a key prefix (a prefixed
//! session's `SCAN` and `KEYS` are confined to its prefix instead, see [`crate::confine`]).
//!
//! `SETRANGE` and `SETBIT` grow a value to the offset they name: a 30-byte command can make
//! Redis allocate 512 MiB. They pass only while the value they would make stays within
//! [`Policy::max_value`]. `APPEND` and `BITFIELD` are off by default: the bridge cannot tell how
//! large the value they extend already is, or (`BITFIELD`) checks no offsets.

use std::collections::HashSet;

pub use crate::denial::Denial;
pub(crate) use crate::denial::shown;

use crate::channels::ChannelRules;
use crate::confine::Prefix;
use crate::denial::shown_name;

/// Allowed by default: the data commands a web page needs.
#[rustfmt::skip]
pub const DEFAULT_ALLOW: &[&str] = &[
    // Strings and bits (SETRANGE and SETBIT within the value limit).
    "GET", "SET", "SETNX", "SETEX", "PSETEX", "GETSET", "GETDEL", "GETEX", "MGET", "MSET",
    "MSETNX", "INCR", "INCRBY", "INCRBYFLOAT", "DECR", "DECRBY", "STRLEN", "GETRANGE",
    "SUBSTR", "SETRANGE", "GETBIT", "SETBIT", "BITCOUNT", "BITPOS", "BITFIELD_RO", "BITOP",
    "PFADD", "PFCOUNT", "PFMERGE",
    // Keys and expiry.
    "DEL", "UNLINK", "EXISTS", "TYPE", "TOUCH", "RENAME", "RENAMENX", "COPY", "EXPIRE",
    "PEXPIRE", "EXPIREAT", "PEXPIREAT", "EXPIRETIME", "PEXPIRETIME", "TTL", "PTTL", "PERSIST",
    // Hashes.
    "HSET", "HSETNX", "HMSET", "HGET", "HMGET", "HGETALL", "HDEL", "HEXISTS", "HINCRBY",
    "HINCRBYFLOAT", "HKEYS", "HVALS", "HLEN", "HSTRLEN", "HRANDFIELD", "HSCAN",
    // Lists.
    "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP", "LLEN", "LRANGE", "LINDEX", "LSET",
    "LINSERT", "LREM", "LTRIM", "LPOS", "LMOVE", "RPOPLPUSH", "LMPOP", "BLPOP", "BRPOP",
    "BLMOVE", "BRPOPLPUSH", "BLMPOP",
    // Sets.
    "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD", "SPOP", "SRANDMEMBER",
    "SMOVE", "SINTER", "SUNION", "SDIFF", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE",
    "SINTERCARD", "SSCAN",
    // Sorted sets.
    "ZADD", "ZREM", "ZSCORE", "ZMSCORE", "ZINCRBY", "ZCARD", "ZCOUNT", "ZLEXCOUNT", "ZRANGE",
    "ZRANGESTORE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX",
    "ZREVRANGE", "ZRANK", "ZREVRANK", "ZREMRANGEBYRANK", "ZREMRANGEBYSCORE",
    "ZREMRANGEBYLEX", "ZPOPMIN", "ZPOPMAX", "BZPOPMIN", "BZPOPMAX", "ZMPOP", "BZMPOP",
    "ZRANDMEMBER", "ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE",
    "ZINTERCARD", "ZSCAN",
    // Geo (one key each, or GEOSEARCHSTORE's two).
    "GEOADD", "GEODIST", "GEOHASH", "GEOPOS", "GEOSEARCH", "GEOSEARCHSTORE",
    // Streams.
    "XADD", "XRANGE", "XREVRANGE", "XLEN", "XREAD", "XREADGROUP", "XACK", "XDEL", "XTRIM",
    "XPENDING", "XCLAIM", "XAUTOCLAIM", "XSETID", "XGROUP", "XINFO",
    // Transactions and the connection itself.
    "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "PING", "ECHO", "HELLO", "CLIENT SETNAME",
    "CLIENT GETNAME", "CLIENT ID",
    // Pub/Sub: to the channels the session's publish rules name.
    "PUBLISH", "SPUBLISH",
];

/// Allowed by default to sessions confined to a key prefix only, which see their prefix only.
pub const DEFAULT_ALLOW_CONFINED: &[&str] = &["SCAN"];

/// Never allowed, whatever the configuration: they would take the connection away from its
/// token's user or break the one-reply-per-command stream the relay keeps aligned.
pub const NEVER: &[&str] = &[
    "AUTH",
    "HELLO AUTH",
    "RESET",
    "QUIT",
    "MONITOR",
    "SYNC",
    "PSYNC",
    "REPLCONF",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    "CLIENT REPLY",
];

/// Off unless named, and worth a warning when named: they reach beyond the keys of one
/// database, run code on the server, or block it.
#[rustfmt::skip]
pub const RISKY: &[&str] = &[
    "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO", "SCRIPT", "FUNCTION",
    "SELECT", "MOVE", "COPY DB", "MIGRATE", "SWAPDB", "CLIENT", "SCAN", "KEYS", "RANDOMKEY",
    "DEBUG", "APPEND", "BITFIELD", "SORT", "FLUSHDB", "FLUSHALL", "CONFIG", "ACL", "MODULE",
    "SHUTDOWN", "INFO", "CLUSTER",
];

/// Commands whose second word is a subcommand that rules may name.
#[rustfmt::skip]
const CONTAINERS: &[&str] = &[
    "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG", "FUNCTION", "LATENCY", "MEMORY",
    "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
];

/// Why a rule given to [`Policy::allow`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleError {
    /// The rule is empty.
    Empty,
    /// The rule names a command that is never allowed ([`NEVER`]).
    Never,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty rule",
            Self::Never => "this command is never allowed through the bridge",
        })
    }
}

impl core::error::Error for RuleError {}

/// A rule as written (`"client  setname"`) in its canonical form (`"CLIENT SETNAME"`).
pub fn canonical(rule: &str) -> String {
    rule.split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A set of rules in canonical form: the policy's, or a token's own command list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules(HashSet<String>);

impl Rules {
    /// The rules `rules`, written in any case and spacing.
    pub fn new<S: AsRef<str>>(rules: impl IntoIterator<Item = S>) -> Self {
        Self(
            rules
                .into_iter()
                .map(|r| canonical(r.as_ref()))
                .filter(|r| !r.is_empty())
                .collect(),
        )
    }

    /// Whether the rules name the command `name` (upper case), or `name sub` when it is a
    /// command with subcommands.
    fn names(&self, name: &str, sub: Option<&str>) -> bool {
        self.0.contains(name) || sub.is_some_and(|s| self.0.contains(&format!("{name} {s}")))
    }

    /// Whether `rule` (canonical) is one of them.
    pub fn contains(&self, rule: &str) -> bool {
        self.0.contains(rule)
    }

    /// The rules, sorted.
    pub fn sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.0.iter().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

/// The command policy; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    allow: Rules,
    allow_confined: Rules,
    /// Largest value `SETRANGE` and `SETBIT` may make, in bytes (1 MiB by default).
    pub max_value: usize,
}

impl Default for Policy {
    /// [`DEFAULT_ALLOW`], [`DEFAULT_ALLOW_CONFINED`], values up to 1 MiB.
    fn default() -> Self {
        Self {
            allow: Rules::new(DEFAULT_ALLOW),
            allow_confined: Rules::new(DEFAULT_ALLOW_CONFINED),
            max_value: 1 << 20,
        }
    }
}

/// Words 1 and up of a command as numbers, where that is what they are.
fn number(word: Option<&&[u8]>) -> Option<u64> {
    std::str::from_utf8(word?).ok()?.parse().ok()
}

impl Policy {
    /// Allows `rule` (`"EVAL"`, `"CLIENT KILL"`, `"COPY DB"`) for every session.
    pub fn allow(&mut self, rule: &str) -> Result<&mut Self, RuleError> {
        let rule = canonical(rule);
        if rule.is_empty() {
            return Err(RuleError::Empty);
        }
        if NEVER.contains(&rule.as_str()) {
            return Err(RuleError::Never);
        }
        self.allow.0.insert(rule);
        Ok(self)
    }

    /// Denies `rule`, for every session (`SCAN` also for confined ones).
    pub fn deny(&mut self, rule: &str) -> &mut Self {
        let rule = canonical(rule);
        self.allow.0.remove(&rule);
        self.allow_confined.0.remove(&rule);
        self
    }

    /// The rules allowed beyond [`DEFAULT_ALLOW`], sorted: the start-up log names them.
    pub fn extra(&self) -> Vec<&str> {
        let defaults = Rules::new(DEFAULT_ALLOW);
        self.allow
            .sorted()
            .into_iter()
            .filter(|r| !defaults.contains(r))
            .collect()
    }

    /// Whether `rule` is one of the [`RISKY`] ones.
    pub fn is_risky(rule: &str) -> bool {
        RISKY.contains(&rule) || RISKY.contains(&rule.split(' ').next().unwrap_or_default())
    }

    /// Whether the command `words` (name first) may pass for a session that is `confined` to
    /// a key prefix or not, leaving aside the prefix itself and the token's own list.
    pub fn check(&self, words: &[&[u8]], confined: bool) -> Result<(), Denial> {
        let Some(first) = words.first() else {
            return Err(Denial::Command(String::new()));
        };
        let name = shown(first);
        let sub = words.get(1).map(|s| shown(s));
        let deny = || Err(Denial::Command(name.clone()));
        let container = CONTAINERS.contains(&name.as_str());
        let sub = sub.as_deref().filter(|_| container);
        if NEVER.contains(&name.as_str())
            || sub.is_some_and(|s| NEVER.contains(&format!("{name} {s}").as_str()))
        {
            return deny();
        }
        let has = |word: &[u8]| words[1..].iter().any(|w| w.eq_ignore_ascii_case(word));
        match name.as_str() {
            "HELLO" if has(b"AUTH") => return deny(),
            "COPY" if has(b"DB") && !self.allow.contains("COPY DB") => return deny(),
            _ => {}
        }
        let allowed =
            self.allow.names(&name, sub) || (confined && self.allow_confined.names(&name, sub));
        if !allowed {
            return deny();
        }
        // A value grown to an offset: SETRANGE key offset value, SETBIT key offset bit.
        let grown = match name.as_str() {
            "SETRANGE" => number(words.get(2))
                .zip(words.get(3))
                .map(|(offset, v)| offset.saturating_add(v.len() as u64)),
            "SETBIT" => number(words.get(2)).map(|bit| bit / 8 + 1),
            _ => Some(0),
        };
        match grown {
            // Not a number: Redis refuses it.
            None => Ok(()),
            Some(n) if n > self.max_value as u64 => Err(Denial::ValueLimit(name, self.max_value)),
            Some(_) => Ok(()),
        }
    }
}

/// What one session may send: the bridge's [`Policy`], narrowed by its token's command list
/// and key prefix.
#[derive(Debug, Clone)]
pub struct Access {
    policy: std::sync::Arc<Policy>,
    granted: Option<Rules>,
    prefix: Option<Prefix>,
    subscribe: ChannelRules,
    publish: ChannelRules,
}

/// What becomes of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Forward it as it is.
    Forward,
    /// Forward these words instead (a confined `SCAN` or `KEYS` pattern).
    Rewrite(Vec<Vec<u8>>),
    /// Answer this in its place.
    Deny(Denial),
}

impl Access {
    /// Everything `policy` allows, to any key.
    pub fn new(policy: std::sync::Arc<Policy>) -> Self {
        Self {
            policy,
            granted: None,
            prefix: None,
            subscribe: ChannelRules::default(),
            publish: ChannelRules::default(),
        }
    }

    /// The channels the session may subscribe to and publish to (none by default).
    pub fn channels(mut self, subscribe: ChannelRules, publish: ChannelRules) -> Self {
        self.subscribe = subscribe;
        self.publish = publish;
        self
    }

    /// Only the commands among `rules` (which the policy must allow too).
    pub fn granting(mut self, rules: Rules) -> Self {
        self.granted = Some(rules);
        self
    }

    /// Only keys that start with `prefix`.
    pub fn confined(mut self, prefix: Prefix) -> Self {
        self.prefix = Some(prefix);
        self
    }

    /// The key prefix, if the session has one.
    pub fn prefix(&self) -> Option<&Prefix> {
        self.prefix.as_ref()
    }

    /// What becomes of the command `words` (name first).
    pub fn judge(&self, words: &[&[u8]]) -> Verdict {
        if let Err(d) = self.policy.check(words, self.prefix.is_some()) {
            return Verdict::Deny(d);
        }
        if let Some(granted) = &self.granted {
            let name = shown(words.first().copied().unwrap_or_default());
            let sub = words.get(1).map(|s| shown(s));
            if !granted.names(&name, sub.as_deref()) {
                return Verdict::Deny(Denial::NotGranted(name));
            }
        }
        let name = words.first().copied().unwrap_or_default();
        let publish =
            name.eq_ignore_ascii_case(b"PUBLISH") || name.eq_ignore_ascii_case(b"SPUBLISH");
        if publish {
            // Channels are not keys: the prefix does not apply to them, the publish rules do.
            return match words.get(1) {
                Some(channel) if !self.publish.allows_channel(channel) => {
                    Verdict::Deny(Denial::Channel(shown(name), shown_name(channel)))
                }
                _ => Verdict::Forward,
            };
        }
        match &self.prefix {
            None => Verdict::Forward,
            Some(prefix) => match prefix.confine(words) {
                Ok(None) => Verdict::Forward,
                Ok(Some(words)) => Verdict::Rewrite(words),
                Err(d) => Verdict::Deny(d),
            },
        }
    }
}

impl Access {
    /// What becomes of the command `words` in a subscriber session: the subscription commands
    /// to the channels and patterns the subscribe rules name (every name of the command, or
    /// none is sent), their `UNSUBSCRIBE` forms, and `PING`; nothing else.
    pub fn judge_subscriber(&self, words: &[&[u8]]) -> Verdict {
        let name = shown(words.first().copied().unwrap_or_default());
        let names = &words[1.min(words.len())..];
        let refused = match name.as_str() {
            "SUBSCRIBE" | "SSUBSCRIBE" => names.iter().find(|c| !self.subscribe.allows_channel(c)),
            "PSUBSCRIBE" => names.iter().find(|p| !self.subscribe.allows_pattern(p)),
            "UNSUBSCRIBE" | "PUNSUBSCRIBE" | "SUNSUBSCRIBE" | "PING" => None,
            _ => return Verdict::Deny(Denial::NotInSubscriber(name)),
        };
        match refused {
            Some(channel) => Verdict::Deny(Denial::Channel(name, shown_name(channel))),
            None => Verdict::Forward,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &str) -> Vec<&[u8]> {
        command.split(' ').map(str::as_bytes).collect()
    }

    fn ok(p: &Policy, command: &str) -> bool {
        p.check(&words(command), false).is_ok()
    }

    #[test]
    fn defaults_allow_data_commands_only() {
        let p = Policy::default();
        for allowed in [
            "GET k",
            "set k v",
            "HELLO 3",
            "hello 3 SETNAME x",
            "CLIENT SETNAME a",
            "client id",
            "COPY a b REPLACE",
            "XGROUP CREATE s g $",
            "SETRANGE k 1048570 abc",
            "SETBIT k 8388607 1",
            "MULTI",
            "WATCH a b",
            "XREAD STREAMS s 0",
        ] {
            assert!(ok(&p, allowed), "{allowed}");
        }
        for denied in [
            "EVAL s 0",
            "EVALSHA abc 0",
            "EVAL_RO s 0",
            "FCALL f 0",
            "SCRIPT LOAD x",
            "SCRIPT DEBUG SYNC",
            "FUNCTION LOAD x",
            "SELECT 5",
            "MOVE k 6",
            "COPY k k DB 7",
            "copy k k db 7",
            "MIGRATE h 1 k 0 1000",
            "SWAPDB 0 1",
            "CLIENT LIST",
            "CLIENT UNBLOCK 3",
            "CLIENT KILL ID 3",
            "SCAN 0",
            "KEYS *",
            "RANDOMKEY",
            "DEBUG SLEEP 1",
            "SETRANGE k 536870911 x",
            "SETRANGE k 1048575 xy",
            "SETBIT k 8388608 1",
            "APPEND k v",
            "BITFIELD k SET u8 0 1",
            "FLUSHALL",
            "INFO",
            "SLOWLOG GET",
            "AUTH user pass",
            "HELLO 3 AUTH user pass",
            "hello 3 auth u p",
            "MONITOR",
            "SUBSCRIBE c",
            "CLIENT REPLY OFF",
            "RESET",
            "SORT k BY x",
        ] {
            assert!(!ok(&p, denied), "{denied}");
        }
        assert!(p.check(&[], false).is_err());
        assert!(p.extra().is_empty());
    }

    #[test]
    fn scan_only_for_confined_sessions_unless_allowed() {
        let mut p = Policy::default();
        assert!(p.check(&words("SCAN 0"), true).is_ok());
        assert!(p.check(&words("SCAN 0"), false).is_err());
        p.allow("scan").unwrap();
        assert!(p.check(&words("SCAN 0"), false).is_ok());
        p.deny("SCAN");
        assert!(p.check(&words("SCAN 0"), true).is_err());
    }

    #[test]
    fn configured_rules() {
        let mut p = Policy::default();
        p.allow("eval").unwrap().allow("client  kill").unwrap();
        p.allow("COPY DB").unwrap();
        p.deny("GET");
        assert!(ok(&p, "EVAL s 0"));
        assert!(ok(&p, "CLIENT KILL ID 7"));
        assert!(ok(&p, "COPY a b DB 2"));
        assert!(!ok(&p, "CLIENT PAUSE 10"));
        assert!(!ok(&p, "GET k"));
        assert_eq!(p.extra(), ["CLIENT KILL", "COPY DB", "EVAL"]);
        assert!(Policy::is_risky("CLIENT KILL") && Policy::is_risky("EVAL"));
        assert!(!Policy::is_risky("GET"));
        for never in ["AUTH", "hello auth", "CLIENT REPLY", "subscribe"] {
            assert_eq!(p.allow(never).err(), Some(RuleError::Never), "{never}");
        }
        assert_eq!(p.allow("  ").err(), Some(RuleError::Empty));
        p.allow("CLIENT").unwrap();
        assert!(
            !ok(&p, "CLIENT REPLY OFF"),
            "NEVER beats a whole-command rule"
        );
    }

    #[test]
    fn a_token_narrows_the_policy() {
        let policy = std::sync::Arc::new(Policy::default());
        let access = Access::new(policy).granting(Rules::new(["get", "client setname", "EVAL"]));
        assert_eq!(access.judge(&words("GET k")), Verdict::Forward);
        assert_eq!(access.judge(&words("CLIENT SETNAME x")), Verdict::Forward);
        assert_eq!(
            access.judge(&words("SET k v")),
            Verdict::Deny(Denial::NotGranted("SET".into()))
        );
        assert!(
            matches!(
                access.judge(&words("EVAL s 0")),
                Verdict::Deny(Denial::Command(_))
            ),
            "a token cannot grant what the policy denies"
        );
        assert!(
            Denial::NotGranted("SET".into())
                .to_resp()
                .starts_with(b"-NOPERM ")
        );
    }
}
