//! String commands.

use super::{Span, Ttl};
use crate::codec::encode::{ArgSink, Args, ToArg, cmd};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Queue;

/// Options of `SET`: expiry and condition.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SetOptions {
    /// `EX seconds`.
    pub ex: Option<u64>,
    /// `PX milliseconds`.
    pub px: Option<u64>,
    /// `NX`: only if the key does not exist.
    pub nx: bool,
    /// `XX`: only if the key exists.
    pub xx: bool,
    /// `KEEPTTL`: keep the key's time to live.
    pub keep_ttl: bool,
}

impl Args for SetOptions {
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        if let Some(s) = self.ex {
            enc.arg("EX");
            enc.arg(&s);
        }
        if let Some(ms) = self.px {
            enc.arg("PX");
            enc.arg(&ms);
        }
        if self.nx {
            enc.arg("NX");
        }
        if self.xx {
            enc.arg("XX");
        }
        if self.keep_ttl {
            enc.arg("KEEPTTL");
        }
    }
}

/// `GET`, `SET`, `INCR` and the other string commands.
pub trait StringCommands: Queue {
    /// `GET key`: the value, `None` (with `Option<T>`) when missing.
    fn get<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("GET").arg(key))
    }
    /// `SET key value`.
    fn set(&mut self, key: impl ToArg, value: impl ToArg) -> Self::Handle<()> {
        self.query(cmd("SET").arg(key).arg(value))
    }
    /// `SET key value [EX|PX] [NX|XX] [KEEPTTL]`: true when set (false when NX/XX refused).
    fn set_with(
        &mut self,
        key: impl ToArg,
        value: impl ToArg,
        opts: SetOptions,
    ) -> Self::Handle<bool> {
        self.query(cmd("SET").arg(key).arg(value).arg(opts))
    }
    /// `SET key value EX seconds` (`PX milliseconds` for a [`Span`] with a fraction of a
    /// second).
    fn set_ex(&mut self, key: impl ToArg, value: impl ToArg, ttl: impl Span) -> Self::Handle<()> {
        let ttl = Ttl::of(ttl);
        self.query(
            cmd("SET")
                .arg(key)
                .arg(value)
                .arg(ttl.pick("EX", "PX"))
                .arg(ttl.value()),
        )
    }
    /// `SETNX key value`: true when the key was set.
    fn set_nx(&mut self, key: impl ToArg, value: impl ToArg) -> Self::Handle<bool> {
        self.query(cmd("SETNX").arg(key).arg(value))
    }
    /// `GETSET key value`: the old value.
    fn getset<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        value: impl ToArg,
    ) -> Self::Handle<T> {
        self.query(cmd("GETSET").arg(key).arg(value))
    }
    /// `GETDEL key`: the value, deleting the key.
    fn getdel<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("GETDEL").arg(key))
    }
    /// `MGET key...`: the values in order (nil for missing keys).
    fn mget<T: FromReply + ?Sized>(&mut self, keys: impl Args) -> Self::Handle<T> {
        self.query(cmd("MGET").arg(keys))
    }
    /// `MSET key value ...`.
    fn mset(&mut self, pairs: impl Args) -> Self::Handle<()> {
        self.query(cmd("MSET").arg(pairs))
    }
    /// `INCR key`: the new value.
    fn incr(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("INCR").arg(key))
    }
    /// `INCRBY key n`: the new value.
    fn incrby(&mut self, key: impl ToArg, n: i64) -> Self::Handle<i64> {
        self.query(cmd("INCRBY").arg(key).arg(n))
    }
    /// `INCRBYFLOAT key x`: the new value.
    fn incrbyfloat(&mut self, key: impl ToArg, x: f64) -> Self::Handle<f64> {
        self.query(cmd("INCRBYFLOAT").arg(key).arg(x))
    }
    /// `DECR key`: the new value.
    fn decr(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("DECR").arg(key))
    }
    /// `DECRBY key n`: the new value.
    fn decrby(&mut self, key: impl ToArg, n: i64) -> Self::Handle<i64> {
        self.query(cmd("DECRBY").arg(key).arg(n))
    }
    /// `APPEND key value`: the new length.
    fn append(&mut self, key: impl ToArg, value: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("APPEND").arg(key).arg(value))
    }
    /// `STRLEN key`.
    fn strlen(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("STRLEN").arg(key))
    }
    /// `GETRANGE key start end`.
    fn getrange<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        start: i64,
        end: i64,
    ) -> Self::Handle<T> {
        self.query(cmd("GETRANGE").arg(key).arg(start).arg(end))
    }
    /// `SETRANGE key offset value`: the new length.
    fn setrange(&mut self, key: impl ToArg, offset: u64, value: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("SETRANGE").arg(key).arg(offset).arg(value))
    }
    /// `SETBIT key offset 0|1`: the old bit.
    fn setbit(&mut self, key: impl ToArg, offset: u64, bit: bool) -> Self::Handle<i64> {
        self.query(cmd("SETBIT").arg(key).arg(offset).arg(u32::from(bit)))
    }
    /// `GETBIT key offset`.
    fn getbit(&mut self, key: impl ToArg, offset: u64) -> Self::Handle<i64> {
        self.query(cmd("GETBIT").arg(key).arg(offset))
    }
    /// `BITCOUNT key`.
    fn bitcount(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("BITCOUNT").arg(key))
    }
}

impl<Q: Queue + ?Sized> StringCommands for Q {}
