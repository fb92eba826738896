//! The reply type of every command on a [`Pipe`], so that `p.get("k")` compiles alone.
//!
//! The command traits ([`crate::cmd`]) are generic in the reply type of commands whose reply
//! can be read many ways (`GET` as text, bytes, a number, a JSON codec): the engine's
//! [`Pipeline`](crate::Pipeline) runs without an allocator, where no owned default exists, and
//! generic code over [`Queue`](crate::Queue) names the type it reads. On a `Pipe` these
//! methods, which shadow the traits' generic ones, give each command the type Redis documents
//! for it, owned: text as `String` (a reply that is not UTF-8 reads as a conversion error: cast
//! to `Vec<u8>` for bytes), nil as `None`, arrays as `Vec`, sets as `BTreeSet`, field/value
//! replies as `BTreeMap`. Another type is one [`cast`](Handle::cast) away:
//!
//! ```
//! use redpipe_core::{prelude::*, Connector, Loopback, Pipe};
//!
//! let server = |_: &str| Ok(Loopback::new(|words: &[&[u8]]| match words[0] {
//!     b"GET" => b"$2\r\n42\r\n".to_vec(),
//!     _ => b"*2\r\n$4\r\nname\r\n$3\r\nAnn\r\n".to_vec(),
//! }));
//! let mut p = Pipe::with_backend(Connector(server));
//! let text = p.get("n");                                    // Handle<Option<String>>
//! let number = p.get("n").cast::<Option<i64>>();            // the same reply, read as a number
//! let fields = p.hgetall("user:1");                         // Handle<BTreeMap<String, String>>
//! let pairs = p.hgetall("user:1").cast::<Vec<(String, String)>>();
//! p.execute()?;
//! assert_eq!(text.result()?.as_deref(), Some("42"));
//! assert_eq!(number.result()?, Some(42));
//! assert_eq!(fields.result()?["name"], "Ann");
//! assert_eq!(pairs.result()?, [("name".to_string(), "Ann".to_string())]);
//! # Ok::<(), redpipe_core::Error>(())
//! ```

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use super::{Handle, Pipe};
#[cfg(feature = "scripting")]
use crate::Script;
use crate::cmd::{End, Span};
use crate::codec::encode::{Args, ToArg};

/// Writes each method as the trait's, read as the documented type.
macro_rules! typed {
    ($(
        $(#[$attr:meta])*
        $trait:ident :: $name:ident ( $($arg:ident : $ty:ty),* ) -> $out:ty;
    )*) => {
        impl<B> Pipe<B> {
            $(
                $(#[$attr])*
                #[doc = concat!(
                    "\n\nReads as `", stringify!($out), "`; for another type, ",
                    "[`cast`](Handle::cast) the handle ([`",
                    stringify!($trait), "::", stringify!($name),
                    "`](crate::cmd::", stringify!($trait), "::", stringify!($name),
                    ") is the generic form).")]
                #[inline]
                pub fn $name(&mut self, $($arg: $ty),*) -> Handle<$out> {
                    <Self as crate::cmd::$trait>::$name::<$out>(self, $($arg),*)
                }
            )*
        }
    };
}

typed! {
    /// `GET key`: the value, `None` when the key is missing.
    StringCommands::get(key: impl ToArg) -> Option<String>;
    /// `GETSET key value`: the old value, `None` when the key was missing.
    StringCommands::getset(key: impl ToArg, value: impl ToArg) -> Option<String>;
    /// `GETDEL key`: the value, deleting the key; `None` when it was missing.
    StringCommands::getdel(key: impl ToArg) -> Option<String>;
    /// `MGET key...`: the values in order, `None` for each missing key.
    StringCommands::mget(keys: impl Args) -> Vec<Option<String>>;
    /// `GETRANGE key start end`: the substring (empty when the key is missing).
    StringCommands::getrange(key: impl ToArg, start: i64, end: i64) -> String;

    /// `HGET key field`: the value, `None` when the field or the key is missing.
    HashCommands::hget(key: impl ToArg, field: impl ToArg) -> Option<String>;
    /// `HMGET key field...`: the values in order, `None` for each missing field.
    HashCommands::hmget(key: impl ToArg, fields: impl Args) -> Vec<Option<String>>;
    /// `HGETALL key`: every field and its value (empty when the key is missing).
    HashCommands::hgetall(key: impl ToArg) -> BTreeMap<String, String>;
    /// `HKEYS key`: every field name (empty when the key is missing).
    HashCommands::hkeys(key: impl ToArg) -> Vec<String>;
    /// `HVALS key`: every value (empty when the key is missing).
    HashCommands::hvals(key: impl ToArg) -> Vec<String>;

    /// `KEYS pattern`: every matching key (blocks the server; prefer `SCAN`).
    KeyCommands::keys(pattern: impl ToArg) -> Vec<String>;

    /// `BLPOP key... timeout`: `(key, element)` from the head of the first non-empty list,
    /// waiting up to `timeout` seconds (0: forever); `None` on timeout.
    ListCommands::blpop(keys: impl Args, timeout: impl Span) -> Option<(String, String)>;
    /// `BRPOP key... timeout`: as [`blpop`](Self::blpop), from the tail.
    ListCommands::brpop(keys: impl Args, timeout: impl Span) -> Option<(String, String)>;
    /// `LPOP key`: the first element, `None` when the list is empty.
    ListCommands::lpop(key: impl ToArg) -> Option<String>;
    /// `RPOP key`: the last element, `None` when the list is empty.
    ListCommands::rpop(key: impl ToArg) -> Option<String>;
    /// `LPOP key count`: up to `count` elements from the head.
    ListCommands::lpop_count(key: impl ToArg, count: u64) -> Vec<String>;
    /// `RPOP key count`: up to `count` elements from the tail.
    ListCommands::rpop_count(key: impl ToArg, count: u64) -> Vec<String>;
    /// `LRANGE key start stop`: the elements from `start` to `stop` inclusive (`0, -1`: all).
    ListCommands::lrange(key: impl ToArg, start: i64, stop: i64) -> Vec<String>;
    /// `LINDEX key index`: the element at `index`, `None` when out of range.
    ListCommands::lindex(key: impl ToArg, index: i64) -> Option<String>;
    /// `RPOPLPUSH source destination`: the element moved, `None` when `source` is empty.
    ListCommands::rpoplpush(source: impl ToArg, destination: impl ToArg) -> Option<String>;
    /// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`: the element moved, `None` when
    /// `source` is empty.
    ListCommands::lmove(source: impl ToArg, destination: impl ToArg, from: End, to: End) -> Option<String>;

    /// `ECHO message`: the message.
    ServerCommands::echo(message: impl ToArg) -> String;
    /// `TIME`: the server clock as `(unix seconds, microseconds)`.
    ServerCommands::time() -> (u64, u64);
    /// `INFO [section]`: the server's report as text.
    ServerCommands::info(section: Option<&str>) -> String;

    /// `SMEMBERS key`: every member (empty when the key is missing).
    SetCommands::smembers(key: impl ToArg) -> BTreeSet<String>;
    /// `SMISMEMBER key member...`: whether each member is in the set, in order.
    SetCommands::smismember(key: impl ToArg, members: impl Args) -> Vec<bool>;
    /// `SPOP key`: a random member, removed; `None` when the set is empty.
    SetCommands::spop(key: impl ToArg) -> Option<String>;
    /// `SPOP key count`: up to `count` random members, removed.
    SetCommands::spop_count(key: impl ToArg, count: u64) -> Vec<String>;
    /// `SRANDMEMBER key`: a random member, `None` when the set is empty.
    SetCommands::srandmember(key: impl ToArg) -> Option<String>;
    /// `SRANDMEMBER key count`: up to `count` distinct random members, or exactly `-count`
    /// members that may repeat when `count` is negative.
    SetCommands::srandmember_count(key: impl ToArg, count: i64) -> Vec<String>;
    /// `SDIFF key...`: the members of the first set that are in none of the others.
    SetCommands::sdiff(keys: impl Args) -> BTreeSet<String>;
    /// `SINTER key...`: the members in every set.
    SetCommands::sinter(keys: impl Args) -> BTreeSet<String>;
    /// `SUNION key...`: the members in any set.
    SetCommands::sunion(keys: impl Args) -> BTreeSet<String>;

    /// `BZPOPMIN key... timeout`: `(key, member, score)` of the lowest-scored member of the
    /// first non-empty set, waiting up to `timeout` seconds (0: forever); `None` on timeout.
    SortedSetCommands::bzpopmin(keys: impl Args, timeout: impl Span) -> Option<(String, String, f64)>;
    /// `BZPOPMAX key... timeout`: as [`bzpopmin`](Self::bzpopmin), the highest-scored member.
    SortedSetCommands::bzpopmax(keys: impl Args, timeout: impl Span) -> Option<(String, String, f64)>;
    /// `ZMSCORE key member...`: each member's score in order, `None` for a missing member.
    SortedSetCommands::zmscore(key: impl ToArg, members: impl Args) -> Vec<Option<f64>>;
    /// `ZRANGE key start stop`: the members ranked `start` to `stop`, by ascending score.
    SortedSetCommands::zrange(key: impl ToArg, start: i64, stop: i64) -> Vec<String>;
    /// `ZRANGE key start stop WITHSCORES`: `(member, score)` ranked `start` to `stop`.
    SortedSetCommands::zrange_withscores(key: impl ToArg, start: i64, stop: i64) -> Vec<(String, f64)>;
    /// `ZREVRANGE key start stop`: the members ranked `start` to `stop`, by descending score.
    SortedSetCommands::zrevrange(key: impl ToArg, start: i64, stop: i64) -> Vec<String>;
    /// `ZREVRANGE key start stop WITHSCORES`: `(member, score)` by descending score.
    SortedSetCommands::zrevrange_withscores(key: impl ToArg, start: i64, stop: i64) -> Vec<(String, f64)>;
    /// `ZRANGEBYSCORE key min max`: the members scored between `min` and `max`, ascending.
    SortedSetCommands::zrangebyscore(key: impl ToArg, min: impl ToArg, max: impl ToArg) -> Vec<String>;
    /// `ZREVRANGEBYSCORE key max min`: the members scored between `max` and `min`, descending.
    SortedSetCommands::zrevrangebyscore(key: impl ToArg, max: impl ToArg, min: impl ToArg) -> Vec<String>;
    /// `ZRANGEBYSCORE key min max WITHSCORES`: `(member, score)` scored between `min` and `max`.
    SortedSetCommands::zrangebyscore_withscores(key: impl ToArg, min: impl ToArg, max: impl ToArg) -> Vec<(String, f64)>;
    /// `ZPOPMIN key count`: up to `count` `(member, score)` with the lowest scores, removed.
    SortedSetCommands::zpopmin(key: impl ToArg, count: u64) -> Vec<(String, f64)>;
    /// `ZPOPMAX key count`: up to `count` `(member, score)` with the highest scores, removed.
    SortedSetCommands::zpopmax(key: impl ToArg, count: u64) -> Vec<(String, f64)>;
}

#[cfg(feature = "scripting")]
typed! {
    /// Runs `script` on `keys` and `args` (`EVALSHA`, or `EVAL` when the server does not have
    /// it yet): whatever the script returns, as a [`Value`](crate::Value).
    ScriptCommands::eval(script: &Script<'_>, keys: impl Args, args: impl Args) -> crate::Value;
    /// `SCRIPT EXISTS sha...`: whether the server has each script, in order.
    ScriptCommands::script_exists(scripts: &[&Script<'_>]) -> Vec<bool>;
}
