//! Key and expiry commands.

use super::{Span, Ttl};
use crate::codec::encode::{Args, ToArg, cmd};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Queue;

/// When `EXPIRE` and its kin set a timeout (Redis 7): `NX`, `XX`, `GT` or `LT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireWhen {
    /// Only when the key has no timeout.
    Nx,
    /// Only when the key has a timeout.
    Xx,
    /// Only when the new timeout is later than the current one.
    Gt,
    /// Only when the new timeout is earlier than the current one.
    Lt,
}

impl ToArg for ExpireWhen {
    fn to_arg<'s>(&'s self, _: &'s mut crate::codec::encode::Scratch) -> &'s [u8] {
        match self {
            Self::Nx => b"NX",
            Self::Xx => b"XX",
            Self::Gt => b"GT",
            Self::Lt => b"LT",
        }
    }
}

/// `DEL`, `EXISTS`, `EXPIRE`, `TTL` and the other commands on keys of any type.
///
/// Commands on several keys take one key or many: `p.del("k")`, `p.del(&["a", "b"])`,
/// `p.del(keys_vec)`.
pub trait KeyCommands: Queue {
    /// `DEL key...`: how many keys were removed.
    fn del(&mut self, keys: impl Args) -> Self::Handle<i64> {
        self.query(cmd("DEL").arg(keys))
    }
    /// `UNLINK key...`: like `DEL`, reclaiming memory in the background.
    fn unlink(&mut self, keys: impl Args) -> Self::Handle<i64> {
        self.query(cmd("UNLINK").arg(keys))
    }
    /// `EXISTS key...`: how many of the keys exist.
    fn exists(&mut self, keys: impl Args) -> Self::Handle<i64> {
        self.query(cmd("EXISTS").arg(keys))
    }
    /// `EXPIRE key seconds` (`PEXPIRE key milliseconds` for a [`Span`] with a fraction of a
    /// second: `expire(k, 60)`, `expire(k, Duration::from_millis(1500))`): whether a timeout
    /// was set.
    fn expire(&mut self, key: impl ToArg, ttl: impl Span) -> Self::Handle<bool> {
        let ttl = Ttl::of(ttl);
        self.query(cmd(ttl.pick("EXPIRE", "PEXPIRE")).arg(key).arg(ttl.value()))
    }
    /// `EXPIRE key seconds NX|XX|GT|LT` (or `PEXPIRE`, as [`expire`](Self::expire)): whether a
    /// timeout was set under `when`.
    fn expire_when(
        &mut self,
        key: impl ToArg,
        ttl: impl Span,
        when: ExpireWhen,
    ) -> Self::Handle<bool> {
        let ttl = Ttl::of(ttl);
        self.query(
            cmd(ttl.pick("EXPIRE", "PEXPIRE"))
                .arg(key)
                .arg(ttl.value())
                .arg(when),
        )
    }
    /// `PEXPIRE key milliseconds`: whether a timeout was set.
    fn pexpire(&mut self, key: impl ToArg, millis: i64) -> Self::Handle<bool> {
        self.query(cmd("PEXPIRE").arg(key).arg(millis))
    }
    /// `EXPIREAT key unix-seconds`: whether a timeout was set.
    fn expireat(&mut self, key: impl ToArg, unix_seconds: i64) -> Self::Handle<bool> {
        self.query(cmd("EXPIREAT").arg(key).arg(unix_seconds))
    }
    /// `PERSIST key`: whether a timeout was removed.
    fn persist(&mut self, key: impl ToArg) -> Self::Handle<bool> {
        self.query(cmd("PERSIST").arg(key))
    }
    /// `TTL key`: seconds to live; -1 without expiry, -2 when missing.
    fn ttl(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("TTL").arg(key))
    }
    /// `PTTL key`: milliseconds to live; -1 without expiry, -2 when missing.
    fn pttl(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("PTTL").arg(key))
    }
    /// `TYPE key`: `string`, `list`, `set`, `zset`, `hash`, `stream` or `none`.
    fn key_type(&mut self, key: impl ToArg) -> Self::Handle<&'static str> {
        self.query(cmd("TYPE").arg(key))
    }
    /// `RENAME key newkey`.
    fn rename(&mut self, key: impl ToArg, new_key: impl ToArg) -> Self::Handle<()> {
        self.query(cmd("RENAME").arg(key).arg(new_key))
    }
    /// `RENAMENX key newkey`: whether renamed (false when `newkey` exists).
    fn renamenx(&mut self, key: impl ToArg, new_key: impl ToArg) -> Self::Handle<bool> {
        self.query(cmd("RENAMENX").arg(key).arg(new_key))
    }
    /// `TOUCH key...`: how many keys exist.
    fn touch(&mut self, keys: impl Args) -> Self::Handle<i64> {
        self.query(cmd("TOUCH").arg(keys))
    }
    /// `KEYS pattern`: every matching key (blocks the server; prefer `SCAN`).
    fn keys<T: FromReply + ?Sized>(&mut self, pattern: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("KEYS").arg(pattern))
    }
    /// `WATCH key...`: make the next transaction conditional on these keys.
    fn watch(&mut self, keys: impl Args) -> Self::Handle<()> {
        self.query(cmd("WATCH").arg(keys))
    }
    /// `UNWATCH`.
    fn unwatch(&mut self) -> Self::Handle<()> {
        self.query(cmd("UNWATCH"))
    }
}

impl<Q: Queue + ?Sized> KeyCommands for Q {}
