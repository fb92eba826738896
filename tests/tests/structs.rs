//! Structs (`#[derive(redpipe::Struct)]`) against a real redis-server: records round-trip
//! through hashes in RedPipe's layout (checked with redis-cli), every operation queues on a
//! pipe and reads once it ran — create, create_nx, update (only the difference), load (all or
//! defined), incr/decr, remove, pop, delete, exists — writes refresh the TTL, misuse and
//! unwritable values queue nothing, and bad stored data (a missing required field, another
//! key type) is an error, never a panic.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::BTreeMap;

use redpipe::keyspace::{Ascii, FieldError, Integer, Text};
use redpipe::record::{StructError, StructOps};
use redpipe::{Connections, Error, Handle, Pipe};
use redpipe_tests::RedisServer;

/// A struct handle's `redpipe::Error` as the struct error it stands for: a record error
/// (`Error::Record`), or the error of the read itself.
fn record(e: Error) -> StructError {
    match e {
        Error::Record(e) => *e,
        other => StructError::Read(other),
    }
}

#[derive(redpipe::Struct, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "U", ttl = 60)]
struct User {
    #[redpipe(key)]
    user_id: String,
    name: String,
    age: i64,
    #[redpipe(rename = "lastSeen")]
    last_seen: Option<i64>,
    balance: Option<f64>,
    admin: Option<bool>,
    level: Option<u8>,
    #[redpipe(codec = Ascii)]
    code: Option<String>,
    tags: Option<Vec<String>>,
    #[redpipe(extra)]
    rest: BTreeMap<String, String>,
}

/// Loaded with `HMGET` of the declared fields; no TTL.
#[derive(redpipe::Struct, Debug, Clone, PartialEq)]
#[redpipe(load = "defined")]
struct Beer {
    #[redpipe(key)]
    beer_id: String,
    abv: f64,
    on_tap: Option<bool>,
    #[redpipe(extra)]
    rest: BTreeMap<String, Vec<u8>>,
}

/// On the connection named "cellar".
#[derive(redpipe::Struct, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "W", connection = "cellar")]
struct Wine {
    #[redpipe(key)]
    id: String,
    grape: String,
    year: Option<i32>,
}

fn user(id: &str) -> User {
    User {
        user_id: id.into(),
        name: "Jack".into(),
        age: 30,
        last_seen: Some(5),
        balance: Some(2.0),
        admin: Some(false),
        level: Some(3),
        code: None,
        tags: Some(vec!["a".into(), "b".into()]),
        rest: BTreeMap::from([("color".into(), "red".into())]),
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

/// The hash at `key` as redis-cli reads it, member to value.
fn stored(server: &RedisServer, key: &str) -> BTreeMap<String, String> {
    let out = server.cli(&["HGETALL", key]);
    let mut lines: Vec<String> = out.lines().map(String::from).collect();
    // The harness trims the output: an empty last value loses its line.
    if lines.len() % 2 == 1 {
        lines.push(String::new());
    }
    lines
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

fn ttl(server: &RedisServer, key: &str) -> i64 {
    server.cli(&["TTL", key]).parse().unwrap()
}

#[test]
fn create_then_load_round_trips_in_one_pipe_and_across_pipes() {
    let server = RedisServer::start();
    let r = registry(&server);
    let u = user("1");
    let mut p = r.pipe();
    let written = u.create(&mut p).unwrap();
    let loaded = User::load(&mut p, "1");
    let missing = User::load(&mut p, "2");
    assert!(matches!(
        loaded.result().map_err(record),
        Err(StructError::Read(Error::Pending))
    ));
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1);
    written.result().unwrap();
    assert_eq!(loaded.result().unwrap(), Some(u.clone()));
    assert_eq!(loaded.key(), "1");
    assert_eq!(missing.result().unwrap(), None);

    // RedPipe's layout: no key member, renamed members, RedPipe's formats, extras as members.
    let want: BTreeMap<String, String> = [
        ("name", "Jack"),
        ("age", "30"),
        ("lastSeen", "5"),
        ("balance", "2"),
        ("admin", ""),
        ("level", "3"),
        ("tags", "a,b"),
        ("color", "red"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect();
    assert_eq!(stored(&server, "U{1}"), want);

    // Across pipes, and a record with every optional field absent.
    let bare = User {
        user_id: "3".into(),
        name: "Zoë".into(),
        age: -1,
        last_seen: None,
        balance: None,
        admin: Some(true),
        level: None,
        code: Some("X-1".into()),
        tags: None,
        rest: BTreeMap::new(),
    };
    let mut p = r.pipe();
    let w = bare.create(&mut p).unwrap();
    assert!(matches!(
        w.result().map_err(record),
        Err(StructError::Read(Error::Pending))
    ));
    p.execute().unwrap();
    w.result().unwrap();
    let mut p = r.pipe();
    let again = User::load(&mut p, "1");
    let bare_again = User::load(&mut p, "3");
    p.execute().unwrap();
    assert_eq!(again.result().unwrap(), Some(u));
    assert_eq!(bare_again.result().unwrap(), Some(bare));
    assert_eq!(server.cli(&["HGET", "U{3}", "admin"]), "1");
    assert_eq!(server.cli(&["HGET", "U{3}", "code"]), "X-1");
}

#[test]
fn create_overwrites_and_removes_absent_fields_create_nx_does_not() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = user("1").create(&mut p).unwrap();
    p.execute().unwrap();

    // create: the stored hash becomes this record (None fields removed).
    let mut other = user("1");
    other.name = "Jill".into();
    other.last_seen = None;
    let mut p = r.pipe();
    let w = other.create(&mut p).unwrap();
    assert_eq!(w.commands(), 3, "HSET, HDEL, EXPIRE");
    p.execute().unwrap();
    w.result().unwrap();
    assert_eq!(server.cli(&["HGET", "U{1}", "name"]), "Jill");
    assert_eq!(server.cli(&["HEXISTS", "U{1}", "lastSeen"]), "0");

    // create_nx: only members the hash lacks; None fields left alone.
    let mut nx = user("1");
    nx.name = "Joe".into();
    nx.age = 99;
    nx.last_seen = Some(77);
    nx.balance = None;
    let mut p = r.pipe();
    let w = nx.create_nx(&mut p).unwrap();
    let loaded = User::load(&mut p, "1");
    p.execute().unwrap();
    w.result().unwrap();
    let got = loaded.result().unwrap().unwrap();
    assert_eq!(got.name, "Jill", "not overwritten");
    assert_eq!(got.age, 30, "not overwritten");
    assert_eq!(got.last_seen, Some(77), "was missing: written");
    assert_eq!(got.balance, Some(2.0), "None leaves the stored value");
    assert!(ttl(&server, "U{1}") > 0);

    // On a new record, create_nx writes it all.
    let mut p = r.pipe();
    let _ = user("2").create_nx(&mut p).unwrap();
    let fresh = User::load(&mut p, "2");
    p.execute().unwrap();
    assert_eq!(fresh.result().unwrap(), Some(user("2")));

    // create_nx_load: the same write, and the record as Redis has it afterwards (RedPipe's
    // `Struct(data, nx=True)` instance).
    let mut again = user("1");
    again.name = "Kim".into();
    again.age = 5;
    let mut p = r.pipe();
    let (w, stored) = again.create_nx_load(&mut p).unwrap();
    p.execute().unwrap();
    w.result().unwrap();
    let stored = stored.result().unwrap().unwrap();
    assert_eq!(stored.name, "Jill", "the stored value wins");
    assert_eq!(stored.age, 30);
    assert_eq!(stored.last_seen, Some(77));
}

#[test]
fn update_writes_only_the_difference() {
    let server = RedisServer::start();
    let r = registry(&server);
    let old = user("1");
    let mut p = r.pipe();
    let _ = old.create(&mut p).unwrap();
    p.execute().unwrap();
    // Another client changes a member the update leaves alone: it must not be rewritten.
    server.cli(&["HSET", "U{1}", "age", "99"]);
    server.cli(&["PERSIST", "U{1}"]);

    let mut new = old.clone();
    new.name = "Jill".into();
    new.last_seen = None;
    new.code = Some("X1".into());
    new.rest.remove("color");
    new.rest.insert("size".into(), "XL".into());
    let mut p = r.pipe();
    let w = old.update(&new, &mut p).unwrap();
    assert_eq!(w.commands(), 3, "HSET, HDEL, EXPIRE");
    p.execute().unwrap();
    w.result().unwrap();
    let h = stored(&server, "U{1}");
    assert_eq!(h["name"], "Jill");
    assert_eq!(h["code"], "X1");
    assert_eq!(h["size"], "XL");
    assert_eq!(h["age"], "99", "unchanged fields are not written");
    assert!(!h.contains_key("lastSeen"), "None: HDEL");
    assert!(!h.contains_key("color"), "an extra that went away: HDEL");
    assert!(ttl(&server, "U{1}") > 0, "the update refreshed the TTL");

    // Nothing changed: nothing queued, nothing sent.
    let before = pipelines(&r);
    let mut p = r.pipe();
    let w = new.update(&new.clone(), &mut p).unwrap();
    assert_eq!((w.commands(), p.len()), (0, 0));
    p.execute().unwrap();
    w.result().unwrap();
    assert_eq!(pipelines(&r), before, "an empty pipe makes no round trip");

    // Another key is another record.
    let mut moved = new.clone();
    moved.user_id = "2".into();
    let err = new.update(&moved, &mut p).unwrap_err();
    assert!(matches!(err, StructError::OtherRecord { .. }), "{err}");
    assert!(p.is_empty());
}

#[test]
fn incr_and_decr_change_one_member() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = user("1").create(&mut p).unwrap();
    let up = User::incr(&mut p, "1", "age", 5).unwrap();
    let down = User::decr(&mut p, "1", "age", 2).unwrap();
    let visits = User::incr(&mut p, "1", "visits", 1).unwrap();
    let loaded = User::load(&mut p, "1");
    p.execute().unwrap();
    assert_eq!(
        (
            up.result().unwrap(),
            down.result().unwrap(),
            visits.result().unwrap()
        ),
        (35, 33, 1)
    );
    let u = loaded.result().unwrap().unwrap();
    assert_eq!(u.age, 33);
    assert_eq!(
        u.rest["visits"], "1",
        "an undeclared member lands in the extras"
    );
    assert_eq!(server.cli(&["HGET", "U{1}", "age"]), "33");

    let err = User::incr(&mut p, "1", "user_id", 1).unwrap_err();
    assert!(
        matches!(err, StructError::KeyField { field: "user_id" }),
        "{err}"
    );
    assert!(p.is_empty());
}

#[test]
fn remove_deletes_optional_members_and_refuses_required_ones() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = user("1").create(&mut p).unwrap();
    let w = User::remove(&mut p, "1", &["lastSeen", "color"]).unwrap();
    let loaded = User::load(&mut p, "1");
    p.execute().unwrap();
    w.result().unwrap();
    let u = loaded.result().unwrap().unwrap();
    assert_eq!(u.last_seen, None);
    assert!(u.rest.is_empty());
    assert_eq!(server.cli(&["HEXISTS", "U{1}", "lastSeen"]), "0");
    assert_eq!(server.cli(&["HEXISTS", "U{1}", "color"]), "0");

    let mut p = r.pipe();
    let err = User::remove(&mut p, "1", &["balance", "name"]).unwrap_err();
    assert!(
        matches!(&err, StructError::Required { field } if field == "name"),
        "{err}"
    );
    let err = User::remove(&mut p, "1", &["user_id"]).unwrap_err();
    assert!(matches!(err, StructError::KeyField { .. }), "{err}");
    assert!(
        p.is_empty(),
        "a refused remove queues nothing, not even its valid fields"
    );
    let none = User::remove(&mut p, "1", &[]).unwrap();
    assert_eq!(none.commands(), 0);
    p.execute().unwrap();
    assert_eq!(server.cli(&["HGET", "U{1}", "balance"]), "2");
}

#[test]
fn pop_reads_a_member_and_removes_it() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = user("1").create(&mut p).unwrap();
    let seen = User::pop::<Integer, _>(&mut p, "1", "lastSeen").unwrap();
    let again = User::pop::<Integer, _>(&mut p, "1", "lastSeen").unwrap();
    let color = User::pop::<Text, _>(&mut p, "1", "color").unwrap();
    p.execute().unwrap();
    assert_eq!(seen.result().unwrap(), Some(5));
    assert_eq!(again.result().unwrap(), None);
    assert_eq!(color.result().unwrap(), Some("red".to_string()));
    assert_eq!(server.cli(&["HEXISTS", "U{1}", "lastSeen"]), "0");
    assert_eq!(server.cli(&["HEXISTS", "U{1}", "color"]), "0");

    let err = User::pop::<Text, _>(&mut p, "1", "name").unwrap_err();
    assert!(matches!(err, StructError::Required { .. }), "{err}");
    assert!(p.is_empty());
}

#[test]
fn delete_and_exists() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = user("1").create(&mut p).unwrap();
    let _ = user("2").create(&mut p).unwrap();
    let there = User::exists(&mut p, "1");
    let not_there = User::exists(&mut p, "3");
    let deleted = User::delete(&mut p, &["1", "2", "3"]);
    let gone = User::exists(&mut p, "1");
    let loaded = User::load(&mut p, "2");
    p.execute().unwrap();
    assert!(there.result().unwrap());
    assert!(!not_there.result().unwrap());
    assert_eq!(deleted.result().unwrap(), 2);
    assert!(!gone.result().unwrap());
    assert_eq!(loaded.result().unwrap(), None);
    assert_eq!(server.cli(&["DBSIZE"]), "0");
}

#[test]
fn every_write_refreshes_the_ttl() {
    let server = RedisServer::start();
    let r = registry(&server);
    let u = user("1");
    let mut changed = u.clone();
    changed.age = 31;
    type Op = fn(&User, &User, &mut Pipe);
    let writes: [(&str, Op); 6] = [
        ("create", |u, _, p| drop(u.create(p).unwrap())),
        ("create_nx", |u, _, p| drop(u.create_nx(p).unwrap())),
        ("update", |u, c, p| drop(u.update(c, p).unwrap())),
        ("incr", |_, _, p| {
            drop(User::incr(p, "1", "age", 1).unwrap())
        }),
        ("remove", |_, _, p| {
            drop(User::remove(p, "1", &["tags"]).unwrap());
        }),
        ("pop", |_, _, p| {
            drop(User::pop::<Text, _>(p, "1", "color").unwrap());
        }),
    ];
    for (name, write) in writes {
        server.cli(&["PERSIST", "U{1}"]);
        let mut p = r.pipe();
        write(&u, &changed, &mut p);
        p.execute().unwrap();
        let t = ttl(&server, "U{1}");
        assert!((1..=60).contains(&t), "{name}: TTL {t}");
    }

    // A struct without a TTL sets none.
    let mut p = r.pipe();
    let _ = Beer {
        beer_id: "ipa".into(),
        abv: 6.5,
        on_tap: None,
        rest: BTreeMap::new(),
    }
    .create(&mut p)
    .unwrap();
    p.execute().unwrap();
    assert_eq!(ttl(&server, "Beer{ipa}"), -1);
}

#[test]
fn stored_data_that_is_not_the_record_is_an_error_naming_the_field() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&["HSET", "U{m}", "lastSeen", "5", "age", "1"]);
    server.cli(&["HSET", "U{b}", "name", "A", "age", "old"]);
    server.cli(&["HSET", "U{big}", "name", "A", "age", "1", "level", "300"]);
    server.cli(&["HSET", "U{f}", "name", "A", "age", "1.9", "lastSeen", "1e3"]);
    let mut p = r.pipe();
    let missing = User::load(&mut p, "m");
    let bad = User::load(&mut p, "b");
    let big = User::load(&mut p, "big");
    let floats = User::load(&mut p, "f");
    p.execute().unwrap();
    let err = record(missing.result().unwrap_err());
    assert!(
        matches!(&err, StructError::Missing { key, field: "name" } if key == "m"),
        "{err}"
    );
    let err = record(bad.result().unwrap_err());
    assert!(
        matches!(&err, StructError::Field { key, field, error: FieldError::Invalid { codec: "integer" } } if key == "b" && field == "age"),
        "{err}"
    );
    let err = record(big.result().unwrap_err());
    assert!(
        matches!(&err, StructError::Field { field, error: FieldError::OutOfRange, .. } if field == "level"),
        "{err}"
    );
    // Float text in an integer field is truncated, as RedPipe reads it.
    let f = floats.result().unwrap().unwrap();
    assert_eq!((f.age, f.last_seen), (1, Some(1000)));
}

#[test]
fn members_another_client_wrote_land_in_the_extra_map() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&[
        "HSET", "U{x}", "name", "Bob", "age", "3", "admin", "1", "color", "blue", "size", "XL",
    ]);
    let before = stored(&server, "U{x}");
    let mut p = r.pipe();
    let loaded = User::load(&mut p, "x");
    p.execute().unwrap();
    let u = loaded.result().unwrap().unwrap();
    assert_eq!((u.name.as_str(), u.age, u.admin), ("Bob", 3, Some(true)));
    assert_eq!(
        u.rest,
        BTreeMap::from([
            ("color".to_string(), "blue".to_string()),
            ("size".to_string(), "XL".to_string())
        ])
    );

    // Written back unchanged, the record leaves the hash as it was.
    let mut p = r.pipe();
    let w = u.create(&mut p).unwrap();
    p.execute().unwrap();
    w.result().unwrap();
    assert_eq!(stored(&server, "U{x}"), before);
}

#[test]
fn load_defined_reads_the_declared_fields_with_hmget() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&[
        "HSET",
        "Beer{ipa}",
        "abv",
        "6.5",
        "on_tap",
        "",
        "brewery",
        "Acme",
    ]);
    server.cli(&["CONFIG", "RESETSTAT"]);
    let mut p = r.pipe();
    let ipa = Beer::load(&mut p, "ipa");
    let none = Beer::load(&mut p, "stout");
    p.execute().unwrap();
    assert_eq!(
        ipa.result().unwrap(),
        Some(Beer {
            beer_id: "ipa".into(),
            abv: 6.5,
            on_tap: Some(false),
            rest: BTreeMap::new(),
        }),
        "undeclared members are not read"
    );
    assert_eq!(none.result().unwrap(), None);
    let stats = server.cli(&["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_hmget:calls=2,"), "{stats}");
    assert!(!stats.contains("cmdstat_hgetall"), "{stats}");

    // Some fields of a record that loads everything by default.
    let mut p = r.pipe();
    let _ = user("1").create(&mut p).unwrap();
    let some = User::load_fields(&mut p, "1", &["name", "age", "color"]);
    let without_name = User::load_fields(&mut p, "1", &["age"]);
    let absent = User::load_fields(&mut p, "9", &["name", "age"]);
    p.execute().unwrap();
    let u = some.result().unwrap().unwrap();
    assert_eq!((u.name.as_str(), u.age, u.last_seen), ("Jack", 30, None));
    assert_eq!(u.rest["color"], "red");
    assert!(matches!(
        without_name.result().map_err(record),
        Err(StructError::Missing { field: "name", .. })
    ));
    assert_eq!(absent.result().unwrap(), None);
}

#[test]
fn a_struct_on_a_named_connection_goes_to_that_server() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let r = registry(&a);
    r.register("cellar", b.info()).unwrap();
    let wine = Wine {
        id: "w1".into(),
        grape: "Syrah".into(),
        year: Some(2019),
    };
    let mut p = r.pipe();
    let w = wine.create(&mut p).unwrap();
    let loaded = Wine::load(&mut p, "w1");
    let n = Wine::incr(&mut p, "w1", "year", 1).unwrap();
    let there = Wine::exists(&mut p, "w1");
    let _ = user("1").create(&mut p).unwrap();
    p.execute().unwrap();
    w.result().unwrap();
    assert_eq!(loaded.result().unwrap(), Some(wine));
    assert_eq!(n.result().unwrap(), 2020);
    assert!(there.result().unwrap());
    assert_eq!(b.cli(&["HGET", "W{w1}", "grape"]), "Syrah");
    assert_eq!(b.cli(&["HGET", "W{w1}", "year"]), "2020");
    assert_eq!(a.cli(&["EXISTS", "W{w1}"]), "0");
    assert_eq!(a.cli(&["EXISTS", "U{1}"]), "1");
    assert_eq!(b.cli(&["EXISTS", "U{1}"]), "0");
    assert_eq!(r.stats("cellar").unwrap().pipelines, 1);

    let mut p = r.pipe();
    let deleted = Wine::delete(&mut p, &["w1"]);
    p.execute().unwrap();
    assert_eq!(deleted.result().unwrap(), 1);
    assert_eq!(b.cli(&["DBSIZE"]), "0");
}

#[test]
fn a_key_of_another_type_is_an_error_not_a_panic() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&["SET", "U{s}", "just text"]);
    let mut p = r.pipe();
    let loaded = User::load(&mut p, "s");
    let written = user("s").create(&mut p).unwrap();
    let n = User::incr(&mut p, "s", "age", 1).unwrap();
    let popped = User::pop::<Integer, _>(&mut p, "s", "lastSeen").unwrap();
    let removed = User::remove(&mut p, "s", &["lastSeen"]).unwrap();
    let there = User::exists(&mut p, "s");
    p.execute().unwrap();
    let wrongtype = |e: &StructError| matches!(e, StructError::Read(Error::Server(s)) if s.code() == "WRONGTYPE");
    let err = record(loaded.result().unwrap_err());
    assert!(wrongtype(&err), "{err}");
    let err = record(written.result().unwrap_err());
    assert!(wrongtype(&err), "{err}");
    let err = record(removed.result().unwrap_err());
    assert!(wrongtype(&err), "{err}");
    assert!(
        matches!(n.result(), Err(Error::Server(_))),
        "{:?}",
        n.result()
    );
    assert!(matches!(popped.result(), Err(Error::Server(_))));
    assert!(there.result().unwrap());
    assert_eq!(server.cli(&["GET", "U{s}"]), "just text");
}

#[test]
fn values_the_codecs_refuse_queue_nothing() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let mut u = user("1");
    u.code = Some("é".into());
    let err = u.create(&mut p).unwrap_err();
    assert!(
        matches!(&err, StructError::Field { key, field, error: FieldError::NotAscii } if key == "1" && field == "code"),
        "{err}"
    );
    let mut u = user("1");
    u.tags = Some(vec!["a,b".into()]);
    let err = u.create_nx(&mut p).unwrap_err();
    assert!(
        matches!(&err, StructError::Field { field, error: FieldError::StringListItem, .. } if field == "tags"),
        "{err}"
    );
    let mut u = user("1");
    u.rest.insert("name".into(), "shadow".into());
    let err = u.create(&mut p).unwrap_err();
    assert!(
        matches!(&err, StructError::ExtraField { field } if field == "name"),
        "{err}"
    );
    let mut changed = user("1");
    changed.code = Some("ü".into());
    assert!(user("1").update(&changed, &mut p).is_err());
    assert!(p.is_empty());
    p.execute().unwrap();
    assert_eq!(server.cli(&["DBSIZE"]), "0");

    // In a reusable function, the error rolls back only that function's commands, and
    // converts into `redpipe::Error`.
    let mut p = r.pipe();
    let kept = User::exists(&mut p, "1");
    let failed = r.autoexec(p.nested(), |p| {
        let _ = user("2").create(p)?;
        let mut bad = user("3");
        bad.code = Some("ñ".into());
        let _ = bad.create(p)?;
        Ok(())
    });
    let err = failed.unwrap_err();
    assert!(
        matches!(&err, Error::Record(e) if matches!(**e, StructError::Field { .. })),
        "{err}"
    );
    p.execute().unwrap();
    assert!(!kept.result().unwrap());
    assert_eq!(server.cli(&["DBSIZE"]), "0");
}

/// A RedPipe-style reusable function: saves a user and counts the login, on the caller's pipe
/// when given one.
fn login(r: &Connections, u: &User, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<i64>> {
    r.autoexec(pipe, |p| {
        let _ = u.create(p)?;
        let n = User::incr(p, &u.user_id, "logins", 1)?;
        p.execute()?;
        Ok(n)
    })
}

#[test]
fn struct_operations_in_reusable_functions_cost_one_round_trip() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let users: Vec<User> = (0..10).map(|i| user(&i.to_string())).collect();
    let logins: Vec<Handle<i64>> = users
        .iter()
        .map(|u| login(&r, u, p.nested()).unwrap())
        .collect();
    let loaded: Vec<_> = (0..10)
        .map(|i| User::load(&mut p, &i.to_string()))
        .collect();
    assert_eq!(pipelines(&r), 0);
    p.execute().unwrap();
    assert_eq!(pipelines(&r), 1, "ten calls, one round trip");
    for (i, (n, l)) in logins.iter().zip(&loaded).enumerate() {
        assert_eq!(n.result().unwrap(), 1);
        let got = l.result().unwrap().unwrap();
        assert_eq!(got.user_id, i.to_string());
        assert_eq!(got.rest["logins"], "1");
    }
    assert_eq!(server.cli(&["DBSIZE"]), "10");
    // Alone, it runs its own pipe.
    assert_eq!(login(&r, &users[0], None).unwrap().result().unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structs_on_the_tokio_path() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let w = user("1").create(&mut p).unwrap();
    let loaded = User::load(&mut p, "1");
    p.execute_async().await.unwrap();
    w.result().unwrap();
    assert_eq!(loaded.result().unwrap(), Some(user("1")));
    assert_eq!(server.cli(&["HGET", "U{1}", "name"]), "Jack");
}
