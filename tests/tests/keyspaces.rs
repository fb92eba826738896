//! Typed keyspaces against a real redis-server: every kind of key queues its commands on one
//! pipe, reads typed results, and stores what redis-cli (and so Python RedPipe) reads — keys
//! `PREFIX{key}`, values in RedPipe's formats. Also: stored bytes a codec cannot read, the same
//! typed results over RESP2 and RESP3, named connections, values refused before queueing, SCAN
//! over a keyspace, `HashedString` shards, the generic key commands, keyspaces in reusable
//! functions (one round trip), and the tokio path.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use redpipe::cmd::SetOptions;
use redpipe::error::ConvertError;
use redpipe::keyspace::{
    Ascii, Boolean, Codec, FieldError, FieldValue, Float, HashKeyspace, HashedString, Integer,
    Keyspace, Scan, Text, Unit, strip_key,
};
use redpipe::prelude::ScanKeys;
use redpipe::{Connections, Error, Handle, Pipe, keyspace};
use redpipe_tests::RedisServer;

keyspace! {
    /// Prices by item number, as floats.
    struct Prices: String { prefix: "P", key: Integer, value: Float }
}
keyspace! {
    /// Feature flags.
    struct Flags: String { prefix: "F", value: Boolean }
}
keyspace! {
    /// Counters.
    struct Counters: String { prefix: "C", value: Integer }
}
keyspace! {
    /// Names, as text.
    struct Names: String { prefix: "N" }
}
keyspace! {
    /// Codes that must be printable ASCII, keyed by ASCII.
    struct Codes: String { prefix: "K", key: Ascii, value: Ascii }
}
keyspace! {
    /// Tags, as text.
    struct Tags: Set { prefix: "T" }
}
keyspace! {
    /// Sets of numbers.
    struct Ids: Set { prefix: "I", value: Integer }
}
keyspace! {
    /// Queues of floats.
    struct Queues: List { prefix: "Q", value: Float }
}
keyspace! {
    /// Lists of codes.
    struct CodeLists: List { prefix: "CL", value: Ascii }
}
keyspace! {
    /// Hashes of integers.
    struct Stats: Hash { prefix: "H", value: Integer }
}
keyspace! {
    /// Scores.
    struct Scores: SortedSet { prefix: "Z" }
}
keyspace! {
    /// Distinct visitors.
    struct Visitors: HyperLogLog { prefix: "HL" }
}
keyspace! {
    /// Places.
    struct Places: Geo { prefix: "G" }
}
keyspace! {
    /// Event streams.
    struct Events: Stream { prefix: "S" }
}
keyspace! {
    /// Counters on the connection named "other".
    struct Remote: String { prefix: "R", connection: "other", value: Integer }
}
keyspace! {
    /// Users, keyed by number, for scans.
    struct Users: String { prefix: "U", key: Integer }
}
keyspace! {
    /// A neighbour of `Users` whose keys a scan of `Users` must not return.
    struct UsersOld: String { prefix: "Us" }
}
keyspace! {
    /// The index of `HashedString` tests, as in RedPipe's docs.
    struct Index: String { prefix: "my_index" }
}

/// Accounts whose hash members have codecs of their own (RedPipe's `Hash.fields`), written by
/// hand as `keyspace!` would write it with `fields: { .. }`: the traits stay implementable.
struct Accounts;

impl Keyspace for Accounts {
    const PREFIX: &'static str = "A";
    const CONNECTION: &'static str = "";
    type Key = Text;
    type Value = Text;
}

impl HashKeyspace for Accounts {
    type Member = Text;

    fn codec(member: &str) -> Codec {
        match member {
            "balance" => Codec::Float,
            "visits" => Codec::Integer,
            "admin" => Codec::Boolean,
            "tags" => Codec::StringList,
            "prefs" => Codec::Dict,
            "raw" => Codec::Binary,
            _ => Codec::Text,
        }
    }
}

fn registry(server: &RedisServer) -> Connections {
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    r
}

fn pipelines(r: &Connections) -> u64 {
    r.stats(redpipe::DEFAULT).map_or(0, |s| s.pipelines)
}

/// `v` sorted (for sets, whose order Redis does not fix).
fn sort<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort_unstable();
    v
}

/// redis-cli's lines, sorted (for sets, whose order Redis does not fix).
fn sorted(out: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    lines
}

#[test]
fn strings_in_one_pipe_store_redpipe_formats() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();

    let _ = Prices::with(&mut p).set(&1, &1.5).unwrap();
    let _ = Prices::with(&mut p).set(&2, &2.0).unwrap();
    let _ = Prices::with(&mut p).set(&3, &1e16).unwrap();
    let _ = Prices::with(&mut p).set(&4, &2.0).unwrap();
    let price = Prices::with(&mut p).get(&1).unwrap();
    let no_price = Prices::with(&mut p).get(&9).unwrap();
    let prices = Prices::with(&mut p).mget(&[1, 2, 9]).unwrap();
    let raised = Prices::with(&mut p).incrbyfloat(&4, 0.25).unwrap();

    let _ = Flags::with(&mut p).set("on", &true).unwrap();
    let _ = Flags::with(&mut p).set("off", &false).unwrap();
    let on = Flags::with(&mut p).get("on").unwrap();
    let off = Flags::with(&mut p).get("off").unwrap();

    let five = Counters::with(&mut p).incrby("c", 5).unwrap();
    let three = Counters::with(&mut p).decrby("c", 2).unwrap();
    let four = Counters::with(&mut p).incr("c").unwrap();
    let counter = Counters::with(&mut p).get("c").unwrap();

    let first = Names::with(&mut p).setnx("n", "Ann").unwrap();
    let second = Names::with(&mut p).setnx("n", "Bob").unwrap();
    let appended = Names::with(&mut p).append("n", "ie").unwrap();
    let head = Names::with(&mut p).substr("n", 0, 2).unwrap();
    let ranged = Names::with(&mut p).setrange("n", 0, "J").unwrap();
    let len = Names::with(&mut p).strlen("n").unwrap();
    let old = Names::with(&mut p).getset("n", "Zed").unwrap();
    let opts = SetOptions {
        nx: true,
        ex: Some(100),
        ..SetOptions::default()
    };
    let set_new = Names::with(&mut p).set_with("o", "v", opts).unwrap();
    let set_again = Names::with(&mut p).set_with("o", "w", opts).unwrap();
    let _ = Names::with(&mut p).setex("e", 50, "v").unwrap();
    let _ = Names::with(&mut p).psetex("pe", 50_000, "v").unwrap();
    let bit_was = Names::with(&mut p).setbit("bits", 7, true).unwrap();
    let bit = Names::with(&mut p).getbit("bits", 7).unwrap();
    let bits = Names::with(&mut p).bitcount("bits", None).unwrap();
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1, "one round trip");

    assert_eq!(price.result().unwrap(), Some(1.5));
    assert_eq!(no_price.result().unwrap(), None);
    assert_eq!(prices.result().unwrap(), vec![Some(1.5), Some(2.0), None]);
    assert_eq!(raised.result().unwrap(), 2.25);
    assert_eq!(
        (on.result().unwrap(), off.result().unwrap()),
        (Some(true), Some(false))
    );
    assert_eq!(
        (
            five.result().unwrap(),
            three.result().unwrap(),
            four.result().unwrap()
        ),
        (5, 3, 4)
    );
    assert_eq!(counter.result().unwrap(), Some(4));
    assert!(first.result().unwrap());
    assert!(!second.result().unwrap());
    assert_eq!(appended.result().unwrap(), 5);
    assert_eq!(head.result().unwrap(), "Ann");
    assert_eq!((ranged.result().unwrap(), len.result().unwrap()), (5, 5));
    assert_eq!(old.result().unwrap(), Some("Jnnie".into()));
    assert!(set_new.result().unwrap());
    assert!(!set_again.result().unwrap(), "NX: not set twice");
    assert_eq!(
        (
            bit_was.result().unwrap(),
            bit.result().unwrap(),
            bits.result().unwrap()
        ),
        (0, 1, 1)
    );

    // What redis-cli, and so Python RedPipe, sees.
    assert_eq!(server.cli(&["GET", "P{1}"]), "1.5");
    assert_eq!(server.cli(&["GET", "P{2}"]), "2", "no trailing .0");
    assert_eq!(server.cli(&["GET", "P{3}"]), "1e+16", "Python's repr");
    assert_eq!(server.cli(&["GET", "P{4}"]), "2.25");
    assert_eq!(server.cli(&["GET", "F{on}"]), "1");
    assert_eq!(server.cli(&["EXISTS", "F{off}"]), "1");
    assert_eq!(
        server.cli(&["STRLEN", "F{off}"]),
        "0",
        "false is the empty string"
    );
    assert_eq!(server.cli(&["GET", "C{c}"]), "4");
    assert_eq!(server.cli(&["GET", "N{n}"]), "Zed");
    assert_eq!(server.cli(&["GET", "N{o}"]), "v");
    let ttl: i64 = server.cli(&["TTL", "N{o}"]).parse().unwrap();
    assert!((1..=100).contains(&ttl), "{ttl}");
    let ttl: i64 = server.cli(&["TTL", "N{e}"]).parse().unwrap();
    assert!((1..=50).contains(&ttl), "{ttl}");
    let ttl: i64 = server.cli(&["TTL", "N{pe}"]).parse().unwrap();
    assert!((1..=50).contains(&ttl), "{ttl}");
    assert_eq!(server.cli(&["GETBIT", "N{bits}", "7"]), "1");
}

#[test]
fn stored_bytes_the_codec_cannot_read_fail_their_handle_only() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&["SET", "C{bad}", "abc"]);
    server.cli(&["SET", "C{float}", "1.9"]);
    server.cli(&["SET", "F{maybe}", "yes"]);
    let mut p = r.pipe();
    let bad = Counters::with(&mut p).get("bad").unwrap();
    let float = Counters::with(&mut p).get("float").unwrap();
    let maybe = Flags::with(&mut p).get("maybe").unwrap();
    let fine = Counters::with(&mut p).incr("fine").unwrap();
    p.execute().unwrap();
    assert!(
        matches!(
            bad.result(),
            Err(Error::Convert(ConvertError::Field(FieldError::Invalid {
                codec: "integer"
            })))
        ),
        "{:?}",
        bad.result()
    );
    assert_eq!(
        float.result().unwrap(),
        Some(1),
        "truncated as RedPipe reads it"
    );
    assert_eq!(
        maybe.result().unwrap(),
        Some(true),
        "any stored value but the empty string is true, as RedPipe reads it (bool(value))"
    );
    assert_eq!(fine.result().unwrap(), 1);
}

#[test]
fn sets_in_one_pipe() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let added = Tags::with(&mut p).sadd("a", ["x", "y", "z"]).unwrap();
    let one = Tags::with(&mut p).sadd_one("a", "x").unwrap();
    let _ = Tags::with(&mut p).sadd("b", ["y", "w"]).unwrap();
    let is = Tags::with(&mut p).sismember("a", "y").unwrap();
    let is_not = Tags::with(&mut p).sismember("a", "w").unwrap();
    let card = Tags::with(&mut p).scard("a").unwrap();
    let members = Tags::with(&mut p).smembers("a").unwrap();
    let diff = Tags::with(&mut p).sdiff(["a", "b"]).unwrap();
    let inter = Tags::with(&mut p).sinter(["a", "b"]).unwrap();
    let union = Tags::with(&mut p).sunion(["a", "b"]).unwrap();
    let stored = Tags::with(&mut p).sunionstore("u", ["a", "b"]).unwrap();
    let inter_stored = Tags::with(&mut p).sinterstore("i", ["a", "b"]).unwrap();
    let diff_stored = Tags::with(&mut p).sdiffstore("d", ["a", "b"]).unwrap();
    let removed = Tags::with(&mut p).srem("a", ["z", "nope"]).unwrap();
    let page = Tags::with(&mut p).sscan("u", 0, "*", Some(100)).unwrap();
    let random = Tags::with(&mut p).srandmember("b").unwrap();
    let randoms = Tags::with(&mut p).srandmember_n("b", 5).unwrap();
    let popped = Tags::with(&mut p).spop("i").unwrap();
    let none = Tags::with(&mut p).spop("i").unwrap();
    let ids = Ids::with(&mut p).sadd("n", &[3, 1, 2]).unwrap();
    let id_members = Ids::with(&mut p).smembers("n").unwrap();
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1);

    assert_eq!((added.result().unwrap(), one.result().unwrap()), (3, 0));
    assert!(is.result().unwrap());
    assert!(!is_not.result().unwrap());
    assert_eq!(card.result().unwrap(), 3);
    assert_eq!(sort(members.result().unwrap()), ["x", "y", "z"]);
    assert_eq!(sort(diff.result().unwrap()), ["x", "z"]);
    assert_eq!(inter.result().unwrap(), ["y"]);
    assert_eq!(sort(union.result().unwrap()), ["w", "x", "y", "z"]);
    assert_eq!(
        (
            stored.result().unwrap(),
            inter_stored.result().unwrap(),
            diff_stored.result().unwrap()
        ),
        (4, 1, 2)
    );
    assert_eq!(removed.result().unwrap(), 1);
    let (cursor, scanned) = page.result().unwrap();
    assert_eq!(cursor, 0);
    assert_eq!(sort(scanned), ["w", "x", "y", "z"]);
    assert!(["y", "w"].contains(&random.result().unwrap().unwrap().as_str()));
    assert_eq!(sort(randoms.result().unwrap()), ["w", "y"]);
    assert_eq!(popped.result().unwrap(), Some("y".into()));
    assert_eq!(none.result().unwrap(), None);
    assert_eq!(ids.result().unwrap(), 3);
    let mut ids = id_members.result().unwrap();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);

    assert_eq!(sorted(&server.cli(&["SMEMBERS", "T{a}"])), ["x", "y"]);
    assert_eq!(
        sorted(&server.cli(&["SMEMBERS", "T{u}"])),
        ["w", "x", "y", "z"]
    );
    assert_eq!(sorted(&server.cli(&["SMEMBERS", "I{n}"])), ["1", "2", "3"]);
    assert_eq!(server.cli(&["EXISTS", "T{i}"]), "0", "popped empty");
}

#[test]
fn lists_in_one_pipe() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let len = Queues::with(&mut p).rpush("q", &[1.0, 2.5]).unwrap();
    let len2 = Queues::with(&mut p).lpush("q", &[0.5]).unwrap();
    let len3 = Queues::with(&mut p).rpush_one("q", &3.0).unwrap();
    let all = Queues::with(&mut p).lrange("q", 0, -1).unwrap();
    let n = Queues::with(&mut p).llen("q").unwrap();
    let second = Queues::with(&mut p).lindex("q", 1).unwrap();
    let beyond = Queues::with(&mut p).lindex("q", 99).unwrap();
    let _ = Queues::with(&mut p).lset("q", 0, &-1.0).unwrap();
    let _ = Queues::with(&mut p).rpush("q", &[2.5, 1e-5]).unwrap();
    let removed = Queues::with(&mut p).lrem("q", 0, &2.5).unwrap();
    // [-1, 1, 3, 1e-05]
    let stored = Queues::with(&mut p).lrange("q", 0, -1).unwrap();
    let _ = Queues::with(&mut p).ltrim("q", 0, 2).unwrap();
    let head = Queues::with(&mut p).lpop("q").unwrap();
    let tail = Queues::with(&mut p).rpop("q").unwrap();
    let moved = Queues::with(&mut p).rpoplpush("q", "q2").unwrap();
    let _ = Queues::with(&mut p).rpush("q2", &[7.0]).unwrap();
    let blocked = Queues::with(&mut p).blpop("q2", 0.1).unwrap();
    let timed_out = Queues::with(&mut p).brpop("empty", 0.05).unwrap();
    let left = Queues::with(&mut p).brpoplpush("q2", "q3", 0.1).unwrap();
    let nothing = Queues::with(&mut p).lpop("empty").unwrap();
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1);

    assert_eq!(
        (
            len.result().unwrap(),
            len2.result().unwrap(),
            len3.result().unwrap()
        ),
        (2, 3, 4)
    );
    assert_eq!(all.result().unwrap(), [0.5, 1.0, 2.5, 3.0]);
    assert_eq!(n.result().unwrap(), 4);
    assert_eq!(second.result().unwrap(), Some(1.0));
    assert_eq!(beyond.result().unwrap(), None);
    assert_eq!(removed.result().unwrap(), 2);
    assert_eq!(stored.result().unwrap(), [-1.0, 1.0, 3.0, 1e-5]);
    assert_eq!(head.result().unwrap(), Some(-1.0));
    assert_eq!(tail.result().unwrap(), Some(3.0));
    assert_eq!(moved.result().unwrap(), Some(1.0));
    let (key, value) = blocked.result().unwrap().unwrap();
    assert_eq!((key, value), (b"Q{q2}".to_vec(), 1.0));
    assert_eq!(timed_out.result().unwrap(), None);
    assert_eq!(left.result().unwrap(), Some(7.0));
    assert_eq!(nothing.result().unwrap(), None);

    assert_eq!(server.cli(&["EXISTS", "Q{q}", "Q{q2}"]), "0");
    assert_eq!(server.cli(&["LRANGE", "Q{q3}", "0", "-1"]), "7");

    // The stored format, from a pipe of its own.
    let mut p = r.pipe();
    let _ = Queues::with(&mut p)
        .rpush("f", &[2.0, 1.5, 1e16, 1e-5, -0.0])
        .unwrap();
    p.execute().unwrap();
    assert_eq!(
        server.cli(&["LRANGE", "Q{f}", "0", "-1"]),
        "2\n1.5\n1e+16\n1e-05\n-0"
    );
}

#[test]
fn hashes_in_one_pipe() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let new = Stats::with(&mut p).hset("u", "age", &30).unwrap();
    let not_new = Stats::with(&mut p).hsetnx("u", "age", &31).unwrap();
    let many = Stats::with(&mut p)
        .hmset("u", [("a", &1), ("b", &2)])
        .unwrap();
    let age = Stats::with(&mut p).hget("u", "age").unwrap();
    let missing = Stats::with(&mut p).hget("u", "nope").unwrap();
    let has = Stats::with(&mut p).hexists("u", "a").unwrap();
    let hasnt = Stats::with(&mut p).hexists("u", "nope").unwrap();
    let n = Stats::with(&mut p).hlen("u").unwrap();
    let width = Stats::with(&mut p).hstrlen("u", "age").unwrap();
    let a = Stats::with(&mut p).hincrby("u", "a", 5).unwrap();
    let b = Stats::with(&mut p).hincrbyfloat("u", "b", 0.5).unwrap();
    let gone = Stats::with(&mut p).hdel("u", &["a", "nope"]).unwrap();
    let some = Stats::with(&mut p).hmget("u", &["age", "a", "b"]).unwrap();
    let all = Stats::with(&mut p).hgetall("u").unwrap();
    let keys = Stats::with(&mut p).hkeys("u").unwrap();
    let values = Stats::with(&mut p).hvals("u").unwrap();
    let page = Stats::with(&mut p).hscan("u", 0, "a*", None).unwrap();
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1);

    assert_eq!(new.result().unwrap(), 1);
    assert!(!not_new.result().unwrap());
    assert_eq!(many.result().unwrap(), 2);
    assert_eq!(age.result().unwrap(), Some(30));
    assert_eq!(missing.result().unwrap(), None);
    assert!(has.result().unwrap());
    assert!(!hasnt.result().unwrap());
    assert_eq!((n.result().unwrap(), width.result().unwrap()), (3, 2));
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (6, 2.5));
    assert_eq!(gone.result().unwrap(), 1);
    // `b` holds 2.5 now: the integer codec truncates it, as RedPipe's IntegerField does.
    assert_eq!(some.result().unwrap(), [Some(30), None, Some(2)]);
    let mut all = all.result().unwrap();
    all.sort_unstable();
    assert_eq!(all, [("age".into(), 30), ("b".into(), 2)]);
    let mut keys = keys.result().unwrap();
    keys.sort_unstable();
    assert_eq!(keys, ["age", "b"]);
    let mut values = values.result().unwrap();
    values.sort_unstable();
    assert_eq!(values, [2, 30]);
    assert_eq!(page.result().unwrap(), (0, vec![("age".into(), 30)]));

    assert_eq!(server.cli(&["HGET", "H{u}", "age"]), "30");
    assert_eq!(server.cli(&["HGET", "H{u}", "b"]), "2.5");
    assert_eq!(server.cli(&["HEXISTS", "H{u}", "a"]), "0");
}

#[test]
fn hash_members_with_codecs_of_their_own() {
    let server = RedisServer::start();
    let r = registry(&server);
    // JSON written by another client, in Python's `json.dumps` layout.
    server.cli(&[
        "HSET",
        "A{src}",
        "prefs",
        r#"{"theme": "dark", "size": [1, 2]}"#,
    ]);
    let mut p = r.pipe();
    let src = Accounts::with(&mut p).hgetall_fields("src").unwrap();
    p.execute().unwrap();
    let prefs = src.result().unwrap()["prefs"].clone();
    let FieldValue::Json(json) = &prefs else {
        panic!("prefs read as JSON: {prefs:?}");
    };
    assert_eq!(json["theme"], "dark");
    assert_eq!(json["size"][1], 2);

    let mut p = r.pipe();
    let mut a = Accounts::with(&mut p);
    let _ = a
        .hset_field("u", "balance", &FieldValue::Float(2.0))
        .unwrap();
    let _ = a.hset_field("u", "visits", &FieldValue::Int(7)).unwrap();
    let _ = a
        .hset_field("u", "admin", &FieldValue::Bool(false))
        .unwrap();
    let _ = a
        .hset_field(
            "u",
            "tags",
            &FieldValue::StringList(vec!["a".into(), "b".into()]),
        )
        .unwrap();
    let _ = a.hset_field("u", "prefs", &prefs).unwrap();
    let _ = a
        .hset_field("u", "raw", &FieldValue::Bytes(vec![0, 255]))
        .unwrap();
    let _ = a
        .hset_field("u", "name", &FieldValue::Text("Zoë".into()))
        .unwrap();
    // An integer where a float is expected is a float; other kinds are refused.
    let _ = a.hset_field("v", "balance", &FieldValue::Int(3)).unwrap();
    let refused = a.hset_field("v", "visits", &FieldValue::Text("many".into()));
    assert_eq!(
        refused.unwrap_err(),
        FieldError::Invalid { codec: "integer" }
    );
    let bad_list = a.hset_field("v", "tags", &FieldValue::StringList(vec!["a,b".into()]));
    assert_eq!(bad_list.unwrap_err(), FieldError::StringListItem);
    let fields = a.hgetall_fields("u").unwrap();
    let plain = a.hget("u", "balance").unwrap();
    let whole = a.hgetall("u").unwrap();
    p.execute().unwrap();

    let fields = fields.result().unwrap();
    assert_eq!(fields["balance"], FieldValue::Float(2.0));
    assert_eq!(fields["visits"], FieldValue::Int(7));
    assert_eq!(fields["admin"], FieldValue::Bool(false));
    assert_eq!(
        fields["tags"],
        FieldValue::StringList(vec!["a".into(), "b".into()])
    );
    assert_eq!(fields["prefs"], prefs);
    assert_eq!(fields["raw"], FieldValue::Bytes(vec![0, 255]));
    assert_eq!(fields["name"], FieldValue::Text("Zoë".into()));
    assert_eq!(fields.len(), 7);
    // The keyspace's own value codec (text) reads the stored text; the binary member is not
    // text, so a whole-hash read through it fails rather than guessing.
    assert_eq!(plain.result().unwrap(), Some("2".into()));
    assert!(
        matches!(
            whole.result(),
            Err(Error::Convert(ConvertError::Field(FieldError::Invalid {
                codec: "text"
            })))
        ),
        "{:?}",
        whole.result()
    );

    assert_eq!(server.cli(&["HGET", "A{u}", "balance"]), "2");
    assert_eq!(server.cli(&["HGET", "A{u}", "visits"]), "7");
    assert_eq!(server.cli(&["HSTRLEN", "A{u}", "admin"]), "0");
    assert_eq!(server.cli(&["HGET", "A{u}", "tags"]), "a,b");
    assert_eq!(
        server.cli(&["HGET", "A{u}", "prefs"]),
        r#"{"theme": "dark", "size": [1, 2]}"#,
        "json.dumps layout, keys in the order they were stored: written back byte for byte"
    );
    assert_eq!(server.cli(&["HGET", "A{v}", "balance"]), "3");
    assert_eq!(
        server.cli(&["HKEYS", "A{v}"]),
        "balance",
        "refused values queued nothing"
    );
}

#[test]
fn sorted_sets_in_one_pipe() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let new = Scores::with(&mut p).zadd("z", "a", 1.5).unwrap();
    let many = Scores::with(&mut p)
        .zadd_many("z", [(2.0, "b"), (3.0, "c"), (0.5, "d")])
        .unwrap();
    let a = Scores::with(&mut p).zincrby("z", "a", 1.0).unwrap();
    let b = Scores::with(&mut p).zscore("z", "b").unwrap();
    let none = Scores::with(&mut p).zscore("z", "nope").unwrap();
    let rank = Scores::with(&mut p).zrank("z", "d").unwrap();
    let rev = Scores::with(&mut p).zrevrank("z", "c").unwrap();
    let no_rank = Scores::with(&mut p).zrank("z", "nope").unwrap();
    let card = Scores::with(&mut p).zcard("z").unwrap();
    let above_one = Scores::with(&mut p).zcount("z", "(1", "+inf").unwrap();
    let up = Scores::with(&mut p).zrange("z", 0, -1).unwrap();
    let scored = Scores::with(&mut p).zrange_withscores("z", 0, -1).unwrap();
    let down = Scores::with(&mut p).zrevrange("z", 0, 1).unwrap();
    let down_scored = Scores::with(&mut p)
        .zrevrange_withscores("z", 0, 0)
        .unwrap();
    let by_score = Scores::with(&mut p)
        .zrangebyscore("z", 1.0, 2.5, Some((0, 1)))
        .unwrap();
    let by_score_scored = Scores::with(&mut p)
        .zrangebyscore_withscores("z", "(2", "+inf", None)
        .unwrap();
    let by_score_rev = Scores::with(&mut p)
        .zrevrangebyscore("z", "+inf", 2.5, None)
        .unwrap();
    let _ = Scores::with(&mut p)
        .zadd_many("lex", [(0.0, "a"), (0.0, "b"), (0.0, "c")])
        .unwrap();
    let lex = Scores::with(&mut p)
        .zrangebylex("lex", "[b", "+", None)
        .unwrap();
    let lex_rev = Scores::with(&mut p)
        .zrevrangebylex("lex", "+", "-", Some((0, 1)))
        .unwrap();
    let lex_count = Scores::with(&mut p).zlexcount("lex", "-", "+").unwrap();
    let lex_gone = Scores::with(&mut p)
        .zremrangebylex("lex", "[a", "[a")
        .unwrap();
    let union = Scores::with(&mut p).zunionstore("u", ["z", "lex"]).unwrap();
    let removed = Scores::with(&mut p).zrem("z", "d").unwrap();
    let rank_gone = Scores::with(&mut p).zremrangebyrank("u", 0, 1).unwrap();
    let score_gone = Scores::with(&mut p)
        .zremrangebyscore("u", "-inf", 2)
        .unwrap();
    let page = Scores::with(&mut p).zscan("z", 0, "*", None).unwrap();
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1);

    assert_eq!((new.result().unwrap(), many.result().unwrap()), (1, 3));
    assert_eq!(a.result().unwrap(), 2.5);
    assert_eq!(b.result().unwrap(), Some(2.0));
    assert_eq!(none.result().unwrap(), None);
    assert_eq!(
        (rank.result().unwrap(), rev.result().unwrap()),
        (Some(0), Some(0))
    );
    assert_eq!(no_rank.result().unwrap(), None);
    assert_eq!(
        (card.result().unwrap(), above_one.result().unwrap()),
        (4, 3)
    );
    assert_eq!(up.result().unwrap(), ["d", "b", "a", "c"]);
    assert_eq!(
        scored.result().unwrap(),
        [
            ("d".into(), 0.5),
            ("b".into(), 2.0),
            ("a".into(), 2.5),
            ("c".into(), 3.0)
        ]
    );
    assert_eq!(down.result().unwrap(), ["c", "a"]);
    assert_eq!(down_scored.result().unwrap(), [("c".into(), 3.0)]);
    assert_eq!(by_score.result().unwrap(), ["b"]);
    assert_eq!(
        by_score_scored.result().unwrap(),
        [("a".into(), 2.5), ("c".into(), 3.0)]
    );
    assert_eq!(by_score_rev.result().unwrap(), ["c", "a"]);
    assert_eq!(lex.result().unwrap(), ["b", "c"]);
    assert_eq!(lex_rev.result().unwrap(), ["c"]);
    assert_eq!(
        (lex_count.result().unwrap(), lex_gone.result().unwrap()),
        (3, 1)
    );
    // z: d 0.5, b 2, a 2.5, c 3; lex: b 0, c 0 -> u: b 2, c 3, d 0.5, a 2.5
    assert_eq!(union.result().unwrap(), 4);
    assert_eq!(removed.result().unwrap(), 1);
    // u by score: d 0.5, b 2, a 2.5, c 3 -> ranks 0-1 (d, b) go, then nothing <= 2 is left.
    assert_eq!(
        (rank_gone.result().unwrap(), score_gone.result().unwrap()),
        (2, 0)
    );
    let (cursor, mut scanned) = page.result().unwrap();
    scanned.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        (cursor, scanned),
        (
            0,
            vec![("a".into(), 2.5), ("b".into(), 2.0), ("c".into(), 3.0)]
        )
    );

    assert_eq!(
        server.cli(&["ZRANGE", "Z{z}", "0", "-1", "WITHSCORES"]),
        "b\n2\na\n2.5\nc\n3"
    );
    assert_eq!(
        server.cli(&["ZRANGE", "Z{u}", "0", "-1", "WITHSCORES"]),
        "a\n2.5\nc\n3"
    );
}

#[test]
fn hyperloglogs_geo_sets_and_streams_in_one_pipe() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let changed = Visitors::with(&mut p).pfadd("h", ["a", "b", "c"]).unwrap();
    let unchanged = Visitors::with(&mut p).pfadd("h", ["a"]).unwrap();
    let _ = Visitors::with(&mut p).pfadd("h2", ["c", "d"]).unwrap();
    let count = Visitors::with(&mut p).pfcount("h").unwrap();
    let merged = Visitors::with(&mut p).pfmerge("m", ["h", "h2"]).unwrap();
    let merged_count = Visitors::with(&mut p).pfcount("m").unwrap();

    let palermo = Places::with(&mut p)
        .geoadd("g", 13.361389, 38.115556, "Palermo")
        .unwrap();
    let _ = Places::with(&mut p)
        .geoadd("g", 15.087269, 37.502669, "Catania")
        .unwrap();
    let dist = Places::with(&mut p)
        .geodist("g", "Palermo", "Catania", Unit::Km)
        .unwrap();
    let no_dist = Places::with(&mut p)
        .geodist("g", "Palermo", "Nowhere", Unit::M)
        .unwrap();
    let pos = Places::with(&mut p).geopos("g", "Palermo").unwrap();
    let no_pos = Places::with(&mut p).geopos("g", "Nowhere").unwrap();
    let near = Places::with(&mut p)
        .geosearch_radius("g", 15.0, 37.0, 200.0, Unit::Km)
        .unwrap();
    let nearer = Places::with(&mut p)
        .geosearch_radius("g", 15.0, 37.0, 100.0, Unit::Km)
        .unwrap();

    let id1 = Events::with(&mut p)
        .xadd("s", "1-1", &[("a", "1")])
        .unwrap();
    let _ = Events::with(&mut p)
        .xadd("s", "1-2", &[("b", "2"), ("c", "3")])
        .unwrap();
    let _ = Events::with(&mut p)
        .xadd("s", "2-0", &[("d", "4")])
        .unwrap();
    let auto = Events::with(&mut p).xadd("s", "*", &[("e", "5")]).unwrap();
    let stream_len = Events::with(&mut p).xlen("s").unwrap();
    let entries = Events::with(&mut p).xrange("s", "-", "2-0", None).unwrap();
    let last = Events::with(&mut p)
        .xrevrange("s", "+", "-", Some(1))
        .unwrap();
    let deleted = Events::with(&mut p).xdel("s", "1-2").unwrap();
    let trimmed = Events::with(&mut p).xtrim("s", 2).unwrap();
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1);

    assert!(changed.result().unwrap());
    assert!(!unchanged.result().unwrap());
    assert_eq!(count.result().unwrap(), 3);
    merged.result().unwrap();
    assert_eq!(merged_count.result().unwrap(), 4);
    assert_eq!(server.cli(&["PFCOUNT", "HL{m}"]), "4");

    assert_eq!(palermo.result().unwrap(), 1);
    let km = dist.result().unwrap().unwrap();
    assert!((km - 166.274).abs() < 0.01, "{km}");
    assert_eq!(no_dist.result().unwrap(), None);
    let (Some((lon, lat)),) = pos.result().unwrap() else {
        panic!("Palermo has a position");
    };
    assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
    assert_eq!(no_pos.result().unwrap(), (None,));
    assert_eq!(near.result().unwrap(), ["Catania", "Palermo"]);
    assert_eq!(nearer.result().unwrap(), ["Catania"]);
    assert_eq!(
        server.cli(&["GEODIST", "G{g}", "Palermo", "Catania", "km"]),
        "166.2742"
    );

    assert_eq!(id1.result().unwrap(), "1-1");
    let auto = auto.result().unwrap();
    assert_eq!(stream_len.result().unwrap(), 4);
    assert_eq!(
        entries.result().unwrap(),
        [
            ("1-1", vec![("a", "1")]),
            ("1-2", vec![("b", "2"), ("c", "3")]),
            ("2-0", vec![("d", "4")]),
        ]
    );
    assert_eq!(last.result().unwrap(), [(auto.as_str(), vec![("e", "5")])]);
    assert_eq!(deleted.result().unwrap(), 1);
    assert_eq!(trimmed.result().unwrap(), 1, "exact MAXLEN trimming");
    assert_eq!(server.cli(&["XLEN", "S{s}"]), "2");
    assert_eq!(server.cli(&["TYPE", "S{s}"]), "stream");
}

/// Writes one key of every kind, reads it back through its keyspace, and renders every typed
/// result as text.
fn every_kind_read_back(r: &Connections) -> Vec<String> {
    let mut p = r.pipe();
    let _ = Prices::with(&mut p).set(&1, &1.5).unwrap();
    let _ = Tags::with(&mut p).sadd("t", ["x"]).unwrap();
    let _ = Queues::with(&mut p).rpush("q", &[1.0, 2.5]).unwrap();
    let _ = Stats::with(&mut p)
        .hmset("h", [("a", &1), ("b", &2)])
        .unwrap();
    let _ = Accounts::with(&mut p)
        .hset_field("a", "balance", &FieldValue::Float(0.5))
        .unwrap();
    let _ = Scores::with(&mut p)
        .zadd_many("z", [(1.0, "a"), (2.5, "b")])
        .unwrap();
    let _ = Places::with(&mut p)
        .geoadd("g", 13.361389, 38.115556, "P")
        .unwrap();
    let _ = Events::with(&mut p)
        .xadd("s", "1-1", &[("f", "v")])
        .unwrap();
    let _ = Queues::with(&mut p).rpush("bq", &[4.0]).unwrap();
    let price = Prices::with(&mut p).get(&1).unwrap();
    let prices = Prices::with(&mut p).mget(&[1, 2]).unwrap();
    let members = Tags::with(&mut p).smembers("t").unwrap();
    let member = Tags::with(&mut p).sismember("t", "x").unwrap();
    let list = Queues::with(&mut p).lrange("q", 0, -1).unwrap();
    let popped = Queues::with(&mut p).blpop("bq", 0.1).unwrap();
    let hash = Stats::with(&mut p).hgetall("h").unwrap();
    let some = Stats::with(&mut p).hmget("h", &["a", "x"]).unwrap();
    let page = Stats::with(&mut p).hscan("h", 0, "*", None).unwrap();
    let fields = Accounts::with(&mut p).hgetall_fields("a").unwrap();
    let scored = Scores::with(&mut p).zrange_withscores("z", 0, -1).unwrap();
    let score = Scores::with(&mut p).zscore("z", "b").unwrap();
    let zpage = Scores::with(&mut p).zscan("z", 0, "*", None).unwrap();
    let incr = Scores::with(&mut p).zincrby("z", "a", 0.5).unwrap();
    let pos = Places::with(&mut p).geopos("g", "P").unwrap();
    let dist = Places::with(&mut p)
        .geodist("g", "P", "P", Unit::M)
        .unwrap();
    let entries = Events::with(&mut p).xrange("s", "-", "+", None).unwrap();
    let kind = Tags::with(&mut p).key_type("t").unwrap();
    let ttl = Tags::with(&mut p).ttl("t").unwrap();
    p.execute().unwrap();
    let (lon, lat) = pos.result().unwrap().0.unwrap();
    vec![
        format!("{:?}", price.result()),
        format!("{:?}", prices.result()),
        format!("{:?}", members.result()),
        format!("{:?}", member.result()),
        format!("{:?}", list.result()),
        format!("{:?}", popped.result()),
        format!("{:?}", hash.result().map(sort)),
        format!("{:?}", some.result()),
        format!("{:?}", page.result().map(|(c, v)| (c, sort(v)))),
        format!("{:?}", fields.result()),
        format!("{:?}", scored.result()),
        format!("{:?}", score.result()),
        format!("{:?}", zpage.result()),
        format!("{:?}", incr.result()),
        format!("{:.5} {:.5}", lon, lat),
        format!("{:?}", dist.result()),
        format!("{:?}", entries.result()),
        format!("{:?}", kind.result()),
        format!("{:?}", ttl.result()),
    ]
}

#[test]
fn typed_results_are_the_same_over_resp2_and_resp3() {
    let (two, three) = (RedisServer::start(), RedisServer::start());
    let r2 = registry(&two);
    let r3 = Connections::new();
    r3.register(redpipe::DEFAULT, three.info().resp3(true))
        .unwrap();
    let resp2 = every_kind_read_back(&r2);
    let resp3 = every_kind_read_back(&r3);
    // The pooled connection really speaks RESP3 (redis-cli's own is `resp=2`).
    assert!(three.cli(&["CLIENT", "LIST"]).contains("resp=3"));
    assert!(!two.cli(&["CLIENT", "LIST"]).contains("resp=3"));
    assert_eq!(resp2, resp3);
    assert!(resp2.iter().all(|s| !s.starts_with("Err")), "{resp2:#?}");
    assert_eq!(resp2[0], "Ok(Some(1.5))");
    assert_eq!(resp2[10], r#"Ok([("a", 1.0), ("b", 2.5)])"#);
}

#[test]
fn the_generic_key_commands() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = Names::with(&mut p).set("a", "1").unwrap();
    let _ = Tags::with(&mut p).sadd("t", ["x"]).unwrap();
    let _ = Queues::with(&mut p).rpush("q", &[1.0]).unwrap();
    let _ = Stats::with(&mut p).hset("h", "m", &1).unwrap();
    let _ = Scores::with(&mut p).zadd("z", "m", 1.0).unwrap();
    let _ = Visitors::with(&mut p).pfadd("hl", ["x"]).unwrap();
    let _ = Events::with(&mut p).xadd("s", "*", &[("f", "v")]).unwrap();
    let types = [
        Names::with(&mut p).key_type("a").unwrap(),
        Tags::with(&mut p).key_type("t").unwrap(),
        Queues::with(&mut p).key_type("q").unwrap(),
        Stats::with(&mut p).key_type("h").unwrap(),
        Scores::with(&mut p).key_type("z").unwrap(),
        Visitors::with(&mut p).key_type("hl").unwrap(),
        Events::with(&mut p).key_type("s").unwrap(),
        Names::with(&mut p).key_type("missing").unwrap(),
    ];
    let exists = Names::with(&mut p).exists("a").unwrap();
    let not_exists = Names::with(&mut p).exists("missing").unwrap();
    let no_ttl = Names::with(&mut p).ttl("a").unwrap();
    let no_key_ttl = Names::with(&mut p).ttl("missing").unwrap();
    let expired = Names::with(&mut p).expire("a", 100).unwrap();
    let expire_missing = Names::with(&mut p).expire("missing", 100).unwrap();
    let ttl = Names::with(&mut p).ttl("a").unwrap();
    let persisted = Names::with(&mut p).persist("a").unwrap();
    let ttl_after = Names::with(&mut p).ttl("a").unwrap();
    let pexpired = Tags::with(&mut p).pexpire("t", 100_000).unwrap();
    let pttl = Tags::with(&mut p).pttl("t").unwrap();
    let at = Queues::with(&mut p)
        .pexpireat("q", 4_102_444_800_000) // 2100-01-01
        .unwrap();
    let _ = Names::with(&mut p).rename("a", "b").unwrap();
    let _ = Names::with(&mut p).set("c", "3").unwrap();
    let renamed_nx = Names::with(&mut p).renamenx("b", "c").unwrap();
    let renamed_nx2 = Names::with(&mut p).renamenx("b", "d").unwrap();
    let deleted = Scores::with(&mut p).delete("z").unwrap();
    let deleted_again = Scores::with(&mut p).delete("z").unwrap();
    let bad_rename = Names::with(&mut p).rename("missing", "x").unwrap();
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1);

    let types: Vec<&str> = types.iter().map(|t| t.result().unwrap()).collect();
    assert_eq!(
        types,
        [
            "string", "set", "list", "hash", "zset", "string", "stream", "none"
        ]
    );
    assert!(exists.result().unwrap());
    assert!(!not_exists.result().unwrap());
    assert_eq!(
        (no_ttl.result().unwrap(), no_key_ttl.result().unwrap()),
        (-1, -2)
    );
    assert!(expired.result().unwrap());
    assert!(!expire_missing.result().unwrap());
    assert!((1..=100).contains(&ttl.result().unwrap()));
    assert!(persisted.result().unwrap());
    assert_eq!(ttl_after.result().unwrap(), -1);
    assert!(pexpired.result().unwrap());
    assert!((1..=100_000).contains(&pttl.result().unwrap()));
    assert!(at.result().unwrap());
    assert!(!renamed_nx.result().unwrap());
    assert!(renamed_nx2.result().unwrap());
    assert_eq!(
        (deleted.result().unwrap(), deleted_again.result().unwrap()),
        (1, 0)
    );
    assert!(
        matches!(bad_rename.result(), Err(Error::Server(_))),
        "{:?}",
        bad_rename.result()
    );

    assert_eq!(server.cli(&["EXISTS", "N{a}", "N{b}", "Z{z}"]), "0");
    assert_eq!(server.cli(&["GET", "N{d}"]), "1");
    assert_eq!(server.cli(&["GET", "N{c}"]), "3");
    let at: i64 = server.cli(&["PEXPIRETIME", "Q{q}"]).parse().unwrap();
    assert_eq!(at, 4_102_444_800_000);
}

#[test]
fn a_keyspace_with_a_connection_name_goes_to_that_server() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let r = registry(&a);
    r.register("other", b.info()).unwrap();
    let mut p = r.pipe();
    let remote = Remote::with(&mut p).incrby("k", 5).unwrap();
    let local = Counters::with(&mut p).incrby("k", 2).unwrap();
    // A keyspace without a name goes to the default connection even from a scope on another
    // one, as RedPipe's nested pipelines with `name=None` do; a named one always to its own.
    let (inner_local, inner_remote) = p
        .on("other", |p| {
            Ok((Counters::with(p).incr("k")?, Remote::with(p).incr("k")?))
        })
        .unwrap();
    p.execute().unwrap();
    assert_eq!(
        (remote.result().unwrap(), inner_remote.result().unwrap()),
        (5, 6)
    );
    assert_eq!(
        (local.result().unwrap(), inner_local.result().unwrap()),
        (2, 3)
    );
    assert_eq!(b.cli(&["GET", "R{k}"]), "6");
    assert_eq!(b.cli(&["EXISTS", "C{k}"]), "0");
    assert_eq!(a.cli(&["GET", "C{k}"]), "3");
    assert_eq!(a.cli(&["EXISTS", "R{k}"]), "0");
    assert_eq!(r.stats("other").unwrap().pipelines, 1);
    assert_eq!(pipelines(&r), 1);

    // A pipe whose registry lacks the name fails, and sends nothing anywhere.
    let lone = registry(&a);
    let mut p = lone.pipe();
    let remote = Remote::with(&mut p).incr("k").unwrap();
    let local = Counters::with(&mut p).incr("k").unwrap();
    let err = p.execute().unwrap_err();
    assert!(
        matches!(&err, Error::UnknownConnection(n) if n == "other"),
        "{err:?}"
    );
    assert!(remote.result().is_err());
    assert!(local.result().is_err());
    assert_eq!(a.cli(&["GET", "C{k}"]), "3");
}

#[test]
fn a_value_the_codec_refuses_queues_nothing() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let before = Codes::with(&mut p).set("ok", "A-1").unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(
        Codes::with(&mut p).set("bad", "é").unwrap_err(),
        FieldError::NotAscii
    );
    assert_eq!(
        Codes::with(&mut p).set("ké", "ok").unwrap_err(),
        FieldError::NotAscii,
        "keys go through the key codec"
    );
    // Several values: one bad one refuses them all.
    assert_eq!(
        CodeLists::with(&mut p)
            .rpush("l", ["a", "b\n", "c"])
            .unwrap_err(),
        FieldError::NotAscii
    );
    assert_eq!(
        Codes::with(&mut p).mget(["ok", "ké"]).unwrap_err(),
        FieldError::NotAscii
    );
    assert_eq!(p.len(), 1, "nothing queued by the refused calls");
    let after = Codes::with(&mut p).get("ok").unwrap();
    p.execute().unwrap();
    before.result().unwrap();
    assert_eq!(after.result().unwrap(), Some("A-1".into()));
    assert_eq!(server.cli(&["DBSIZE"]), "1");

    // In a scope, the refusal rolls back what the scope queued before it.
    let mut p = r.pipe();
    let kept = Counters::with(&mut p).incr("kept").unwrap();
    let failed = p.scope(|p| {
        let _ = Counters::with(p).incr("a")?;
        let _ = Codes::with(p).set("b", "ünicode")?;
        Ok(())
    });
    assert!(
        matches!(failed, Err(Error::Field(FieldError::NotAscii))),
        "{failed:?}"
    );
    p.execute().unwrap();
    assert_eq!(kept.result().unwrap(), 1);
    assert_eq!(server.cli(&["EXISTS", "C{a}", "K{b}"]), "0");
}

#[test]
fn scan_iterates_every_key_of_the_keyspace_only() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    for i in 0..500 {
        let _ = Users::with(&mut p).set(&i, "u").unwrap();
    }
    // A neighbour whose keys `U*` would match, but `U{*}` does not.
    for i in 0..50 {
        let _ = UsersOld::with(&mut p).set(&i.to_string(), "old").unwrap();
    }
    p.execute().unwrap();
    assert_eq!(server.cli(&["DBSIZE"]), "550");
    let before = pipelines(&r);

    let mut keys: Vec<i64> = Scan::<Users, Connections>::new(r.clone(), "*", Some(50))
        .map(|k| std::str::from_utf8(&k.unwrap()).unwrap().parse().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..500).collect::<Vec<_>>());
    let pages = pipelines(&r) - before;
    assert!(pages > 1, "SCAN paged ({pages} round trips)");

    // A pattern inside the braces.
    let mut tens: Vec<Vec<u8>> = Scan::<Users, Connections>::new(r.clone(), "4?", None)
        .collect::<Result<_, _>>()
        .unwrap();
    tens.sort_unstable();
    let want: Vec<Vec<u8>> = (40..50).map(|i: i32| i.to_string().into_bytes()).collect();
    assert_eq!(tens, want);

    // One page by hand, in a pipe.
    let mut p = r.pipe();
    let page = Users::with(&mut p).scan(0, "1*", Some(1000));
    p.execute().unwrap();
    let (_, names) = page.result().unwrap();
    let names: Vec<&[u8]> = names.map(Result::unwrap).collect();
    assert!(!names.is_empty());
    for full in names {
        let key = strip_key::<Users>(full).unwrap();
        assert!(key.starts_with(b"1"), "{key:?}");
    }
    assert_eq!(strip_key::<Users>(b"Us{1}"), None);
}

keyspace! {
    /// A prefix with glob characters: SCAN must take it literally.
    struct Globby: String { prefix: "a[1]*" }
}

#[test]
fn scan_takes_a_prefix_with_glob_characters_literally() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = Globby::with(&mut p).set("x", "1").unwrap();
    p.execute().unwrap();
    // Keys the unescaped pattern `a[1]*{*}` would match instead.
    server.cli(&["SET", "a1{y}", "2"]);
    server.cli(&["SET", "a1zz{z}", "3"]);
    let keys: Vec<Vec<u8>> = Globby::scan_on(&r, "*").collect::<Result<_, _>>().unwrap();
    assert_eq!(keys, [b"x".to_vec()]);
}

#[test]
fn hashed_strings_live_in_redpipes_shards() {
    let server = RedisServer::start();
    let r = registry(&server);
    // The shards Python RedPipe picks: int(md5(key).hexdigest(), 16) % 64.
    assert_eq!(HashedString::<Index, 64>::shard("foo123"), 16);
    assert_eq!(HashedString::<Index, 64>::shard("a"), 33);
    assert_eq!(HashedString::<Index, 1000>::shard("foo123"), 416);

    let mut p = r.pipe();
    let mut idx = HashedString::<Index, 64>::with(&mut p);
    let new = idx.set("foo123", "test").unwrap();
    let not_new = idx.setnx("foo123", "other").unwrap();
    let set_nx = idx.setnx("a", "first").unwrap();
    let got = idx.get("foo123");
    let missing = idx.get("nope");
    let len = idx.strlen("foo123");
    let n = idx.incrby("user:1", 5);
    let n2 = idx.incr("user:1");
    let f = idx.incrbyfloat("ratio", 0.5);
    let gone = idx.delete("a");
    let gone_again = idx.delete("a");
    p.execute().unwrap();

    assert_eq!(new.result().unwrap(), 1);
    assert!(!not_new.result().unwrap());
    assert!(set_nx.result().unwrap());
    assert_eq!(got.result().unwrap(), Some("test".into()));
    assert_eq!(missing.result().unwrap(), None);
    assert_eq!(len.result().unwrap(), 4);
    assert_eq!((n.result().unwrap(), n2.result().unwrap()), (5, 6));
    assert_eq!(f.result().unwrap(), 0.5);
    assert_eq!(
        (gone.result().unwrap(), gone_again.result().unwrap()),
        (1, 0)
    );

    assert_eq!(server.cli(&["HGET", "my_index{16}", "foo123"]), "test");
    assert_eq!(server.cli(&["HGET", "my_index{18}", "user:1"]), "6");
    let ratio_shard = HashedString::<Index, 64>::shard("ratio").to_string();
    assert_eq!(
        server.cli(&["HGET", &format!("my_index{{{ratio_shard}}}"), "ratio"]),
        "0.5"
    );
    let ratio_key = format!("my_index{{{ratio_shard}}}");
    let mut want = vec!["my_index{16}", "my_index{18}", &ratio_key];
    want.sort_unstable();
    want.dedup();
    assert_eq!(
        sorted(&server.cli(&["KEYS", "*"])),
        want,
        "shard 33 emptied by the delete"
    );
}

/// A RedPipe-style reusable function over keyspaces: it executes its own pipe when called
/// alone, and joins the caller's when handed one.
fn visit(r: &Connections, page: &str, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<i64>> {
    r.autoexec(pipe, |p| {
        let n = Counters::with(p).incr(page)?;
        let _ = Counters::with(p).expire(page, 3600)?;
        let _ = Tags::with(p).sadd("pages", [page])?;
        p.execute()?;
        Ok(n)
    })
}

#[test]
fn keyspaces_in_reusable_functions_cost_one_round_trip() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let mut hits = Vec::new();
    for i in 0..20 {
        let page = if i % 2 == 0 { "home" } else { "about" };
        hits.push(visit(&r, page, p.nested()).unwrap());
    }
    let pages = p.scope(|p| Tags::with(p).scard("pages").map_err(Error::from));
    let pages = pages.unwrap();
    assert!(matches!(hits[0].result(), Err(Error::Pending)));
    assert_eq!(pipelines(&r), 0, "nothing sent before the caller executes");
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1, "twenty calls, one round trip");
    let counts: Vec<i64> = hits.iter().map(|h| h.result().unwrap()).collect();
    let want: Vec<i64> = (0..20).map(|i| i / 2 + 1).collect();
    assert_eq!(counts, want);
    assert_eq!(pages.result().unwrap(), 2);
    assert_eq!(server.cli(&["GET", "C{home}"]), "10");
    let ttl: i64 = server.cli(&["TTL", "C{about}"]).parse().unwrap();
    assert!(ttl > 0, "{ttl}");

    // Alone, the function makes its own round trip.
    assert_eq!(visit(&r, "home", None).unwrap().result().unwrap(), 11);
    assert_eq!(pipelines(&r), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspaces_on_the_tokio_path() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let r = registry(&a);
    r.register("other", b.info()).unwrap();
    let mut p = r.pipe();
    let _ = Prices::with(&mut p).set(&7, &0.1).unwrap();
    let price = Prices::with(&mut p).get(&7).unwrap();
    let tags = Tags::with(&mut p).sadd("t", ["a", "b"]).unwrap();
    let remote = Remote::with(&mut p).incrby("k", 3).unwrap();
    let scored = Scores::with(&mut p).zadd("z", "m", 2.0).unwrap();
    p.execute_async().await.unwrap();
    assert_eq!(price.result().unwrap(), Some(0.1));
    assert_eq!(tags.result().unwrap(), 2);
    assert_eq!(remote.result().unwrap(), 3);
    assert_eq!(scored.result().unwrap(), 1);
    assert_eq!(a.cli(&["GET", "P{7}"]), "0.1");
    assert_eq!(b.cli(&["GET", "R{k}"]), "3");

    // A reusable function, async, joining a caller's pipe.
    let mut p = r.pipe();
    let n = r
        .autoexec_async(p.nested(), |p| Ok(Counters::with(p).incr("async")?))
        .await
        .unwrap();
    p.execute_async().await.unwrap();
    assert_eq!(n.result().unwrap(), 1);
    assert_eq!(pipelines(&r), 2);
}

#[test]
fn hashed_strings_mget_in_one_round_trip_and_scan_every_shard() {
    use redpipe::keyspace::HashedScan;
    let server = RedisServer::start();
    let r = registry(&server);
    let keys: Vec<String> = (0..500).map(|i| format!("item:{i}")).collect();
    let mut p = r.pipe();
    for k in &keys {
        let _ = HashedString::<Index, 64>::with(&mut p)
            .set(k, &format!("v-{k}"))
            .unwrap();
    }
    p.execute().unwrap();
    // The last shard holds keys too: RedPipe's scan_iter would miss them.
    assert!(
        keys.iter()
            .any(|k| HashedString::<Index, 64>::shard(k) == 63)
    );

    let before = pipelines(&r);
    let mut p = r.pipe();
    let asked = ["item:3", "nope", "item:499"];
    let values = HashedString::<Index, 64>::with(&mut p).mget(asked.iter().copied());
    p.execute().unwrap();
    assert_eq!(pipelines(&r) - before, 1);
    let got: Vec<Option<String>> = values.iter().map(|h| h.result().unwrap()).collect();
    assert_eq!(
        got,
        [Some("v-item:3".into()), None, Some("v-item:499".into())]
    );

    let mut all: Vec<(Vec<u8>, Vec<u8>)> =
        HashedScan::<Index, 64, Connections>::new(r.clone(), "item:*", Some(20))
            .collect::<Result<_, _>>()
            .unwrap();
    all.sort();
    let mut want: Vec<(Vec<u8>, Vec<u8>)> = keys
        .iter()
        .map(|k| (k.clone().into_bytes(), format!("v-{k}").into_bytes()))
        .collect();
    want.sort();
    assert_eq!(all, want);
    let tens = HashedScan::<Index, 64, Connections>::new(r.clone(), "item:1?", None).count();
    assert_eq!(tens, 10);
}

#[test]
fn members_of_one_key_walk_page_by_page() {
    use redpipe::keyspace::{HashFields, KeyScan, Members, Scored};
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let names: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let _ = Tags::with(&mut p)
        .sadd("big", names.iter().map(String::as_str))
        .unwrap();
    for (i, n) in names.iter().enumerate() {
        let _ = Stats::with(&mut p).hset("big", n, &(i as i64)).unwrap();
        let _ = Scores::with(&mut p).zadd("big", n, i as f64 / 2.0).unwrap();
    }
    p.execute().unwrap();

    let before = pipelines(&r);
    let mut members: Vec<Vec<u8>> =
        KeyScan::<Tags, Members, Connections>::new(r.clone(), "big", "*", Some(50))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    assert!(pipelines(&r) - before > 1, "several pages");
    members.sort();
    let mut want: Vec<Vec<u8>> = names.iter().map(|n| n.clone().into_bytes()).collect();
    want.sort();
    assert_eq!(members, want);

    let fields: Vec<(Vec<u8>, Vec<u8>)> =
        KeyScan::<Stats, HashFields, Connections>::new(r.clone(), "big", "m1?", None)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(fields.len(), 10);
    assert!(fields.iter().all(|(m, v)| m[1..] == v[..]), "m12 holds 12");

    let scored: Vec<(Vec<u8>, f64)> =
        KeyScan::<Scores, Scored, Connections>::new(r.clone(), "big", "m29?", None)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(scored.len(), 10);
    for (m, score) in scored {
        let i: f64 = std::str::from_utf8(&m[1..]).unwrap().parse().unwrap();
        assert_eq!(score, i / 2.0);
    }
    // A missing key: no page holds anything.
    let mut wrong =
        KeyScan::<Scores, Scored, Connections>::new(r.clone(), "nope", "*", None).unwrap();
    assert_eq!(
        wrong.next().map(|r| r.unwrap()),
        None,
        "a missing key has no members"
    );
}

/// RedPipe's `delete(*names)`, `pfcount(*names)` and `redis_key`: several keys in one command,
/// and the key name a keyspace writes.
#[test]
fn several_keys_in_one_command_and_the_key_names_a_keyspace_writes() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = Visitors::with(&mut p).pfadd("a", ["x", "y"]).unwrap();
    let _ = Visitors::with(&mut p).pfadd("b", ["y", "z"]).unwrap();
    let _ = Users::with(&mut p).set(&1, "one").unwrap();
    let _ = Users::with(&mut p).set(&2, "two").unwrap();
    let union = Visitors::with(&mut p).pfcount_many(["a", "b"]).unwrap();
    p.execute().unwrap();
    assert_eq!(union.result().unwrap(), 3);
    assert_eq!(Users::redis_key(&2).unwrap(), b"U{2}");
    assert_eq!(server.cli(&["GET", "U{2}"]), "two");
    let mut p = r.pipe();
    let deleted = Users::with(&mut p).delete_many(&[1, 2, 3]).unwrap();
    p.execute().unwrap();
    assert_eq!(deleted.result().unwrap(), 2, "two of the three existed");
    assert_eq!(server.cli(&["EXISTS", "U{1}", "U{2}"]), "0");
}

keyspace! {
    /// Sessions under RedPipe's `keyspace_template = "%s:%s"`: keys `S:{id}` without braces.
    struct ColonSessions: String { prefix: "S", template: "%s:%s", value: Integer }
}

/// RedPipe's `keyspace_template`: every command, `redis_key`, several keys at once and SCAN
/// use the template's key names, and the keys of another template are not this keyspace's.
#[test]
fn a_keyspace_template_names_every_key_it_writes_and_scans() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    for id in ["a", "b", "c"] {
        let _ = ColonSessions::with(&mut p).set(id, &1).unwrap();
    }
    let n = ColonSessions::with(&mut p).incrby("b", 4).unwrap();
    p.execute().unwrap();
    assert_eq!(n.result().unwrap(), 5);
    assert_eq!(server.cli(&["GET", "S:b"]), "5");
    assert_eq!(server.cli(&["EXISTS", "S{b}"]), "0");
    assert_eq!(ColonSessions::redis_key("b").unwrap(), b"S:b");
    // A key of another template under the same prefix is not one of this keyspace's.
    server.cli(&["SET", "S{x}", "9"]);
    let mut found: Vec<Vec<u8>> = Scan::<ColonSessions, Connections>::new(r.clone(), "*", None)
        .collect::<Result<_, Error>>()
        .unwrap();
    found.sort();
    assert_eq!(found, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    assert_eq!(strip_key::<ColonSessions>(b"S:a"), Some(&b"a"[..]));
    assert_eq!(strip_key::<ColonSessions>(b"S{a}"), None);

    let mut p = r.pipe();
    let got = ColonSessions::with(&mut p).get("b").unwrap();
    let deleted = ColonSessions::with(&mut p)
        .delete_many(["a", "c", "zz"])
        .unwrap();
    p.execute().unwrap();
    assert_eq!(got.result().unwrap(), Some(5));
    assert_eq!(deleted.result().unwrap(), 2);
    assert_eq!(server.cli(&["EXISTS", "S:a", "S:c", "S{x}"]), "1");
}

/// RedPipe's keyspace `dump`/`restore`, `object`, `sort` and `eval`: each through a pipeline,
/// on the keyspace's key names.
#[test]
fn dump_restore_object_sort_and_eval_on_a_keyspace() {
    use redpipe::Script;
    use redpipe::keyspace::Sort;

    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = Ids::with(&mut p).sadd("src", &[3, 1, 2]).unwrap();
    let dumped = Ids::with(&mut p).dump("src").unwrap();
    let missing = Ids::with(&mut p).dump("nope").unwrap();
    let encoding = Ids::with(&mut p).object_encoding("src").unwrap();
    let no_encoding = Ids::with(&mut p).object_encoding("nope").unwrap();
    let refcount = Ids::with(&mut p).object_refcount("src").unwrap();
    let idle = Ids::with(&mut p).object_idletime("src").unwrap();
    let sorted = Ids::with(&mut p).sort("src", Sort::new()).unwrap();
    let top = Ids::with(&mut p)
        .sort("src", Sort::new().desc().limit(0, 2))
        .unwrap();
    let stored = Ids::with(&mut p)
        .sort_store("src", Sort::new(), "sorted")
        .unwrap();
    p.execute().unwrap();
    let dumped = dumped.result().unwrap().expect("the key exists");
    assert!(dumped.len() > 4, "Redis's serialized form, as bytes");
    assert_eq!(missing.result().unwrap(), None);
    assert_eq!(encoding.result().unwrap().as_deref(), Some("intset"));
    assert_eq!(no_encoding.result().unwrap(), None);
    assert!(refcount.result().unwrap().is_some_and(|n| n >= 1));
    assert!(idle.result().unwrap().is_some_and(|n| n >= 0));
    let sorted: Vec<Option<String>> = sorted.result().unwrap();
    assert_eq!(
        sorted,
        [Some("1".into()), Some("2".into()), Some("3".into())]
    );
    assert_eq!(top.result().unwrap(), [Some("3".into()), Some("2".into())]);
    assert_eq!(stored.result().unwrap(), 3);
    assert_eq!(server.cli(&["LRANGE", "I{sorted}", "0", "-1"]), "1\n2\n3");

    // SORT BY other keys and GET them: patterns are whole key names.
    server.cli(&["MSET", "w_1", "30", "w_2", "10", "w_3", "20", "n_2", "two"]);
    let mut p = r.pipe();
    let by_weight = Ids::with(&mut p)
        .sort("src", Sort::new().by("w_*").get("#").get("n_*"))
        .unwrap();
    // The dump restored under another key, with a TTL; and over an existing key only with
    // REPLACE.
    let restored = Ids::with(&mut p)
        .restore("copy", std::time::Duration::from_secs(60), &dumped, false)
        .unwrap();
    let again = Ids::with(&mut p)
        .restore("copy", 0, &dumped, false)
        .unwrap();
    let replaced = Ids::with(&mut p).restore("copy", 0, &dumped, true).unwrap();
    let members = Ids::with(&mut p).smembers("copy").unwrap();
    // EVAL with the keyspace's keys: the script sees `I{src}` and `I{copy}`.
    let script = Script::new("return {KEYS[1], KEYS[2], ARGV[1]}");
    let seen = Ids::with(&mut p)
        .eval::<Vec<String>>(&script, ["src", "copy"], ("x",))
        .unwrap();
    p.execute().unwrap();
    assert_eq!(
        by_weight.result().unwrap(),
        [
            Some("2".into()),
            Some("two".into()),
            Some("3".into()),
            None,
            Some("1".into()),
            None
        ]
    );
    restored.result().unwrap();
    assert!(
        matches!(again.result(), Err(Error::Server(e)) if e.code() == "BUSYKEY"),
        "RESTORE over an existing key without REPLACE: {:?}",
        again.result()
    );
    replaced.result().unwrap();
    assert_eq!(sort(members.result().unwrap()), [1, 2, 3]);
    assert_eq!(seen.result().unwrap(), ["I{src}", "I{copy}", "x"]);
    assert_eq!(
        server.cli(&["TTL", "I{copy}"]),
        "-1",
        "REPLACE with ttl 0: none"
    );
}

/// RedPipe's `hmset` on a `Hash` with `fields`: several members in one `HSET`, each through its
/// own codec; a value its codec refuses queues nothing.
#[test]
fn hmset_fields_writes_each_member_through_its_codec() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let pairs = [
        ("balance", FieldValue::Float(2.5)),
        ("visits", FieldValue::Int(7)),
        ("admin", FieldValue::Bool(false)),
        ("tags", FieldValue::StringList(vec!["a".into(), "b".into()])),
        ("name", FieldValue::Text("Zoë".into())),
    ];
    let n = Accounts::with(&mut p)
        .hmset_fields("m", pairs.iter().map(|(m, v)| (*m, v)))
        .unwrap();
    let all = Accounts::with(&mut p).hgetall_fields("m").unwrap();
    let refused = Accounts::with(&mut p).hmset_fields(
        "m",
        [
            ("name", &FieldValue::Text("x".into())),
            ("visits", &FieldValue::Text("many".into())),
        ],
    );
    assert_eq!(
        refused.unwrap_err(),
        FieldError::Invalid { codec: "integer" }
    );
    p.execute().unwrap();
    assert_eq!(n.result().unwrap(), 5);
    let all = all.result().unwrap();
    for (member, value) in &pairs {
        assert_eq!(&all[*member], value, "{member}");
    }
    assert_eq!(server.cli(&["HGET", "A{m}", "admin"]), "");
    assert_eq!(server.cli(&["HGET", "A{m}", "tags"]), "a,b");
    assert_eq!(
        server.cli(&["HGET", "A{m}", "name"]),
        "Zoë",
        "not overwritten by the refused call"
    );
}

/// RedPipe's `hget` on a `Hash` with `fields`: each member read through its own codec, in one
/// pipe; a missing member is `None`, a stored value its codec cannot read fails its own handle.
#[test]
fn hget_field_reads_each_member_through_its_codec() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&[
        "HSET", "A{h}", "balance", "2.5", "visits", "7", "admin", "", "tags", "a,b", "name", "Zoë",
        "raw", "\x01",
    ]);
    server.cli(&["HSET", "A{bad}", "visits", "many"]);
    let mut p = r.pipe();
    let mut a = Accounts::with(&mut p);
    let got: Vec<_> = ["balance", "visits", "admin", "tags", "name", "missing"]
        .iter()
        .map(|m| a.hget_field("h", m).unwrap())
        .collect();
    let bad = a.hget_field("bad", "visits").unwrap();
    p.execute().unwrap();
    let got: Vec<Option<FieldValue>> = got.iter().map(|h| h.result().unwrap()).collect();
    assert_eq!(
        got,
        [
            Some(FieldValue::Float(2.5)),
            Some(FieldValue::Int(7)),
            Some(FieldValue::Bool(false)),
            Some(FieldValue::StringList(vec!["a".into(), "b".into()])),
            Some(FieldValue::Text("Zoë".into())),
            None,
        ]
    );
    assert!(matches!(
        bad.result(),
        Err(Error::Convert(ConvertError::Field(FieldError::Invalid {
            codec: "integer"
        })))
    ));
}

/// RedPipe's `hmget` on a `Hash` with `fields`: one handle per member, each through its own
/// codec, all in the caller's round trip; a member its codec cannot read fails only its handle.
#[test]
fn hmget_fields_reads_several_members_each_through_its_codec() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&[
        "HSET", "A{m}", "balance", "2.5", "visits", "many", "tags", "x",
    ]);
    let mut p = r.pipe();
    let got = Accounts::with(&mut p)
        .hmget_fields("m", &["tags", "balance", "missing", "visits"])
        .unwrap();
    let before = pipelines(&r);
    p.execute().unwrap();
    assert_eq!(pipelines(&r) - before, 1, "one round trip");
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[0].result().unwrap(),
        Some(FieldValue::StringList(vec!["x".into()]))
    );
    assert_eq!(got[1].result().unwrap(), Some(FieldValue::Float(2.5)));
    assert_eq!(got[2].result().unwrap(), None);
    assert!(matches!(
        got[3].result(),
        Err(Error::Convert(ConvertError::Field(FieldError::Invalid {
            codec: "integer"
        })))
    ));
}

keyspace! {
    /// Scores by level: integer member names (RedPipe's `memberparse = IntegerField`).
    struct Levels: Hash { prefix: "LV", value: Integer, member: Integer, fields: { "0" => Boolean } }
}

/// Member names through the member codec in every hash command: written as the codec writes
/// them, read back as its type; `fields` name members by their stored text.
#[test]
fn hash_members_go_through_the_member_codec() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let mut l = Levels::with(&mut p);
    let _ = l.hset("u", &3, &30).unwrap();
    let _ = l.hmset("u", [(&1, &10), (&2, &20)]).unwrap();
    let up = l.hincrby("u", &3, 5).unwrap();
    let new = l.hsetnx("u", &1, &99).unwrap();
    let there = l.hexists("u", &2).unwrap();
    let _ = l.hset_field("u", &0, &FieldValue::Bool(true)).unwrap();
    let gone = l.hdel("u", &[&2, &7]).unwrap();
    let names = l.hkeys("u").unwrap();
    let all = l.hgetall("u").unwrap();
    let some = l.hmget("u", &[&1, &3, &4]).unwrap();
    let flag = l.hget_field("u", &0).unwrap();
    p.execute().unwrap();
    assert_eq!(up.result().unwrap(), 35);
    assert!(!new.result().unwrap());
    assert!(there.result().unwrap());
    assert_eq!(gone.result().unwrap(), 1);
    let mut names = names.result().unwrap();
    names.sort();
    assert_eq!(names, [0, 1, 3]);
    assert_eq!(some.result().unwrap(), [Some(10), Some(35), None]);
    assert_eq!(flag.result().unwrap(), Some(FieldValue::Bool(true)));
    let mut all = all.result().unwrap();
    all.sort();
    assert_eq!(
        all,
        [(0, 1), (1, 10), (3, 35)],
        "a true boolean is stored as 1"
    );
    assert_eq!(
        server.cli(&["HGET", "LV{u}", "3"]),
        "35",
        "stored as the codec writes it"
    );
}
