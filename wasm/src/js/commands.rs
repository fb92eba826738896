//! The command methods of `Pipeline`, from one table: the JavaScript name, the TypeScript
//! parameters and result type, the conversion and the Redis command.
//!
//! The table becomes two things: the TypeScript declarations (a custom section that
//! wasm-bindgen copies into the `.d.ts`: `incr(key: Arg): Handle<number>`), and one small
//! JavaScript method per entry, installed on `Pipeline.prototype` by `index.js` when the first
//! client connects, each calling the one export `queue(index, args)`. One export instead of
//! sixty keeps the `.wasm` and its glue small (each export costs a shim in both).
//! `command(name, args)` covers the rest of Redis.
//!
//! A parameter typed `Arg | Arg[]` takes one word or many (`del("a")`, `del(["a", "b"])`); an
//! optional one (`?`) may be left out.

use wasm_bindgen::prelude::*;

use super::handle::Conv;

macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $js:literal($params:literal) -> $ret:literal = $conv:ident $cmd:literal;
    )*) => {
        /// The conversion of each command, in `queue` index order.
        const CONVS: &[Conv] = &[$(Conv::$conv),*];

        /// The JavaScript names, in the same order, separated by spaces. Each command's Redis
        /// name is its JavaScript name in capitals (checked below): no second table of names.
        pub(crate) const NAMES: &str = concat!($($js, " "),*);

        const _: () = {
            $(assert!(capitals($js, $cmd), "a Redis name is its JavaScript name in capitals");)*
        };

        #[wasm_bindgen(typescript_custom_section)]
        const COMMAND_TYPES: &'static str = concat!(
            "export interface Pipeline {\n",
            $("  /**", $($doc,)* " */\n  ", $js, "(", $params, "): ", $ret, ";\n",)*
            "}\n"
        );
    };
}

/// Whether `cmd` is `js` in capitals, and short enough for [`command`]'s buffer.
const fn capitals(js: &str, cmd: &str) -> bool {
    let (js, cmd) = (js.as_bytes(), cmd.as_bytes());
    if js.len() != cmd.len() || js.len() > 16 {
        return false;
    }
    let mut i = 0;
    while i < js.len() {
        if js[i].to_ascii_uppercase() != cmd[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The Redis name (in `buf`) and the conversion of the command at `index`.
pub(crate) fn command(index: usize, buf: &mut [u8; 16]) -> Option<(&[u8], Conv)> {
    let conv = *CONVS.get(index)?;
    // The name after the `index`th space, in capitals.
    let mut spaces = 0;
    let mut len = 0;
    for &b in NAMES.as_bytes() {
        match (b, spaces == index) {
            (b' ', true) => return Some((buf.get(..len)?, conv)),
            (b' ', false) => spaces += 1,
            (b, true) => {
                *buf.get_mut(len)? = b.to_ascii_uppercase();
                len += 1;
            }
            _ => {}
        }
    }
    None
}

commands! {
    // Strings.
    /// `GET key`: the value, or null.
    "get"("key: Arg") -> "Handle<string | null>" = Auto "GET";
    /// `SET key value [options...]` (`["EX", 60]`, `["NX"]`): `"OK"`, or null when NX/XX kept it
    /// from setting.
    "set"("key: Arg, value: Arg, options?: Arg[]") -> "Handle<string | null>" = Auto "SET";
    /// `SETEX key seconds value`.
    "setex"("key: Arg, seconds: number, value: Arg") -> "Handle<string>" = Auto "SETEX";
    /// `SETNX key value`: whether it was set.
    "setnx"("key: Arg, value: Arg") -> "Handle<boolean>" = Bool "SETNX";
    /// `MGET key...`.
    "mget"("keys: Arg | Arg[]") -> "Handle<(string | null)[]>" = Auto "MGET";
    /// `MSET key value [key value...]`.
    "mset"("pairs: Arg[]") -> "Handle<string>" = Auto "MSET";
    /// `INCR key`: the new value.
    "incr"("key: Arg") -> "Handle<number>" = Auto "INCR";
    /// `INCRBY key n`.
    "incrby"("key: Arg, n: number") -> "Handle<number>" = Auto "INCRBY";
    /// `INCRBYFLOAT key n`.
    "incrbyfloat"("key: Arg, n: number") -> "Handle<number>" = Float "INCRBYFLOAT";
    /// `DECR key`.
    "decr"("key: Arg") -> "Handle<number>" = Auto "DECR";
    /// `DECRBY key n`.
    "decrby"("key: Arg, n: number") -> "Handle<number>" = Auto "DECRBY";
    /// `APPEND key value`: the new length.
    "append"("key: Arg, value: Arg") -> "Handle<number>" = Auto "APPEND";
    /// `STRLEN key`.
    "strlen"("key: Arg") -> "Handle<number>" = Auto "STRLEN";
    /// `GETRANGE key start end`.
    "getrange"("key: Arg, start: number, end: number") -> "Handle<string>" = Auto "GETRANGE";

    // Keys.
    /// `DEL key...`: how many existed.
    "del"("keys: Arg | Arg[]") -> "Handle<number>" = Auto "DEL";
    /// `UNLINK key...`.
    "unlink"("keys: Arg | Arg[]") -> "Handle<number>" = Auto "UNLINK";
    /// `EXISTS key...`: how many exist.
    "exists"("keys: Arg | Arg[]") -> "Handle<number>" = Auto "EXISTS";
    /// `EXPIRE key seconds`: whether the timeout was set.
    "expire"("key: Arg, seconds: number") -> "Handle<boolean>" = Bool "EXPIRE";
    /// `PEXPIRE key milliseconds`.
    "pexpire"("key: Arg, milliseconds: number") -> "Handle<boolean>" = Bool "PEXPIRE";
    /// `PERSIST key`.
    "persist"("key: Arg") -> "Handle<boolean>" = Bool "PERSIST";
    /// `TTL key`: seconds, -1 without a timeout, -2 when missing.
    "ttl"("key: Arg") -> "Handle<number>" = Auto "TTL";
    /// `PTTL key`.
    "pttl"("key: Arg") -> "Handle<number>" = Auto "PTTL";
    /// `TYPE key`.
    "type"("key: Arg") -> "Handle<string>" = Auto "TYPE";
    /// `RENAME key newkey`.
    "rename"("key: Arg, newkey: Arg") -> "Handle<string>" = Auto "RENAME";

    // Hashes.
    /// `HGET key field`.
    "hget"("key: Arg, field: Arg") -> "Handle<string | null>" = Auto "HGET";
    /// `HSET key field value [field value...]`: fields added.
    "hset"("key: Arg, field: Arg | Arg[], value?: Arg") -> "Handle<number>" = Auto "HSET";
    /// `HSETNX key field value`.
    "hsetnx"("key: Arg, field: Arg, value: Arg") -> "Handle<boolean>" = Bool "HSETNX";
    /// `HMGET key field...`.
    "hmget"("key: Arg, fields: Arg | Arg[]") -> "Handle<(string | null)[]>" = Auto "HMGET";
    /// `HGETALL key`: the fields as an object.
    "hgetall"("key: Arg") -> "Handle<Record<string, string>>" = Object "HGETALL";
    /// `HDEL key field...`.
    "hdel"("key: Arg, fields: Arg | Arg[]") -> "Handle<number>" = Auto "HDEL";
    /// `HINCRBY key field n`.
    "hincrby"("key: Arg, field: Arg, n: number") -> "Handle<number>" = Auto "HINCRBY";
    /// `HEXISTS key field`.
    "hexists"("key: Arg, field: Arg") -> "Handle<boolean>" = Bool "HEXISTS";
    /// `HLEN key`.
    "hlen"("key: Arg") -> "Handle<number>" = Auto "HLEN";
    /// `HKEYS key`.
    "hkeys"("key: Arg") -> "Handle<string[]>" = Auto "HKEYS";
    /// `HVALS key`.
    "hvals"("key: Arg") -> "Handle<string[]>" = Auto "HVALS";

    // Lists.
    /// `LPUSH key value...`: the new length.
    "lpush"("key: Arg, values: Arg | Arg[]") -> "Handle<number>" = Auto "LPUSH";
    /// `RPUSH key value...`.
    "rpush"("key: Arg, values: Arg | Arg[]") -> "Handle<number>" = Auto "RPUSH";
    /// `LPOP key`.
    "lpop"("key: Arg") -> "Handle<string | null>" = Auto "LPOP";
    /// `RPOP key`.
    "rpop"("key: Arg") -> "Handle<string | null>" = Auto "RPOP";
    /// `LRANGE key start stop`.
    "lrange"("key: Arg, start: number, stop: number") -> "Handle<string[]>" = Auto "LRANGE";
    /// `LLEN key`.
    "llen"("key: Arg") -> "Handle<number>" = Auto "LLEN";
    /// `LINDEX key index`.
    "lindex"("key: Arg, index: number") -> "Handle<string | null>" = Auto "LINDEX";
    /// `LREM key count value`.
    "lrem"("key: Arg, count: number, value: Arg") -> "Handle<number>" = Auto "LREM";
    /// `LTRIM key start stop`.
    "ltrim"("key: Arg, start: number, stop: number") -> "Handle<string>" = Auto "LTRIM";

    // Sets.
    /// `SADD key member...`: members added.
    "sadd"("key: Arg, members: Arg | Arg[]") -> "Handle<number>" = Auto "SADD";
    /// `SREM key member...`.
    "srem"("key: Arg, members: Arg | Arg[]") -> "Handle<number>" = Auto "SREM";
    /// `SMEMBERS key`.
    "smembers"("key: Arg") -> "Handle<string[]>" = Auto "SMEMBERS";
    /// `SISMEMBER key member`.
    "sismember"("key: Arg, member: Arg") -> "Handle<boolean>" = Bool "SISMEMBER";
    /// `SCARD key`.
    "scard"("key: Arg") -> "Handle<number>" = Auto "SCARD";

    // Sorted sets.
    /// `ZADD key score member`: members added.
    "zadd"("key: Arg, score: number, member: Arg") -> "Handle<number>" = Auto "ZADD";
    /// `ZINCRBY key n member`: the new score.
    "zincrby"("key: Arg, n: number, member: Arg") -> "Handle<number>" = Float "ZINCRBY";
    /// `ZSCORE key member`: the score, or null.
    "zscore"("key: Arg, member: Arg") -> "Handle<number | null>" = Float "ZSCORE";
    /// `ZRANGE key start stop`.
    "zrange"("key: Arg, start: number, stop: number") -> "Handle<string[]>" = Auto "ZRANGE";
    /// `ZREVRANGE key start stop`.
    "zrevrange"("key: Arg, start: number, stop: number") -> "Handle<string[]>" = Auto "ZREVRANGE";
    /// `ZREM key member...`.
    "zrem"("key: Arg, members: Arg | Arg[]") -> "Handle<number>" = Auto "ZREM";
    /// `ZCARD key`.
    "zcard"("key: Arg") -> "Handle<number>" = Auto "ZCARD";
    /// `ZRANK key member`: the rank, or null.
    "zrank"("key: Arg, member: Arg") -> "Handle<number | null>" = Auto "ZRANK";
    /// `ZCOUNT key min max`.
    "zcount"("key: Arg, min: number | string, max: number | string") -> "Handle<number>" = Auto "ZCOUNT";

    // Server.
    /// `PING`.
    "ping"("") -> "Handle<string>" = Auto "PING";
    /// `ECHO message`.
    "echo"("message: Arg") -> "Handle<string>" = Auto "ECHO";
    /// `DBSIZE`.
    "dbsize"("") -> "Handle<number>" = Auto "DBSIZE";
}
