//! redpipe and Python RedPipe share data: the same data set is written by each (redpipe here,
//! RedPipe by `tests/python/interop.py`), then each reads what the other wrote. The stored bytes
//! must be the same, RedPipe must read redpipe's records as its own, and redpipe must read
//! RedPipe's. Needs Python RedPipe: `REDPIPE_PYTHON` names the interpreter (`cargo xtask test`
//! installs it in a virtualenv and sets it).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::BTreeMap;
use std::process::Command;

use redpipe::keyspace::{Ascii, FieldValue, Float, HashedString, Integer, Keyspace};
use redpipe::record::{Lenient, StructOps};
use redpipe::{Connections, Struct, keyspace};
use redpipe_tests::RedisServer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

#[derive(Struct, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "Beer")]
struct Beer {
    #[redpipe(key)]
    beer_id: String,
    name: String,
    abv: f64,
    ibu: Option<i64>,
    on_tap: Option<bool>,
    tags: Option<Vec<String>>,
    #[redpipe(codec = Ascii)]
    code: Option<String>,
    label: Option<Vec<u8>>,
    brewery: Option<Map<String, Value>>,
    history: Option<Vec<Value>>,
    #[redpipe(extra)]
    rest: BTreeMap<String, String>,
}

/// `interop.py`'s `Note`: values a JSON round trip tends to change.
#[derive(Struct, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "Note")]
struct Note {
    #[redpipe(key)]
    note_id: String,
    nums: Vec<Value>,
    meta: Map<String, Value>,
    /// Python writes `NaN` and `Infinity` here, which JSON does not have.
    odd: Lenient<Vec<Value>>,
    count: i64,
}

/// `interop.py`'s `Person`: a struct that also goes to and from JSON, as Python's
/// `json.dumps(dict(person))` writes it.
#[derive(Struct, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "Person")]
struct Person {
    #[redpipe(key)]
    person_id: String,
    name: String,
    age: Option<i64>,
    height: Option<f64>,
    admin: Option<bool>,
    tags: Option<Vec<String>>,
    prefs: Option<Map<String, Value>>,
}

keyspace! { struct Views: String { prefix: "V", value: Integer } }
keyspace! { struct Prices: String { prefix: "P", value: Float } }
keyspace! { struct Tags: Set { prefix: "T" } }
keyspace! { struct Events: List { prefix: "E" } }
keyspace! { struct Scores: SortedSet { prefix: "S" } }
keyspace! { struct Visitors: HyperLogLog { prefix: "HLL" } }
keyspace! {
    struct Profile: Hash {
        prefix: "PR",
        fields: { "age" => Integer, "tags" => StringList, "score" => Float, "vip" => Boolean }
    }
}
keyspace! { struct IndexKeys: String { prefix: "IDX" } }
type Index = HashedString<IndexKeys, 1000>;

/// Integers RedPipe keeps exactly (it writes them through a float: within 2^53).
const VIEWS: [(&str, i64); 4] = [
    ("", 42),
    ("big", (1 << 53) - 1),
    ("neg", -((1 << 53) - 1)),
    ("zero", 0),
];
const PRICES: [(&str, f64); 6] = [
    ("a", 0.1),
    ("b", 1e16),
    ("c", 2.0),
    ("d", -1.5),
    ("e", 1e-05),
    ("f", 123456.789),
];
const INDEX: [&str; 4] = [
    "foo123",
    "bar",
    "ünï",
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
];

/// The data set, as `interop.py` writes it.
fn beers(tag: &str) -> [Beer; 2] {
    let brewery = json!({
        "city": "Santa Rosa", "founded": 1979, "note": "café", "ratings": [4.5, 5, null, true]
    });
    [
        Beer {
            beer_id: format!("{tag}-1"),
            name: "Pliny the Elder ü ☃".into(),
            abv: 8.0,
            ibu: Some(100),
            on_tap: Some(true),
            tags: Some(vec!["hoppy".into(), "west coast".into()]),
            code: Some("PTE-1".into()),
            label: Some(b"\x00\xffPNG\r\n".to_vec()),
            brewery: brewery.as_object().cloned(),
            history: json!([1, "two", 3.5, null, false, {"x": []}])
                .as_array()
                .cloned(),
            rest: BTreeMap::from([("color".into(), "gold".into())]),
        },
        // Edge values: empty text, list, dict and bytes; a negative integer.
        Beer {
            beer_id: format!("{tag}-2"),
            name: String::new(),
            abv: 0.5,
            ibu: Some(-5),
            on_tap: Some(false),
            tags: Some(vec![]),
            code: Some(String::new()),
            label: Some(vec![]),
            brewery: Some(Map::new()),
            history: Some(vec![]),
            rest: BTreeMap::new(),
        },
    ]
}

fn write(r: &Connections, tag: &str) {
    let mut p = r.pipe();
    let mut written = Vec::new();
    for beer in beers(tag) {
        written.push(beer.create(&mut p).unwrap());
    }
    for (k, v) in VIEWS {
        let _ = Views::with(&mut p).set(&format!("{tag}{k}"), &v).unwrap();
    }
    for (k, v) in PRICES {
        let _ = Prices::with(&mut p).set(&format!("{tag}{k}"), &v).unwrap();
    }
    let _ = Tags::with(&mut p)
        .sadd(tag, ["a", "b", "ü"].iter().copied())
        .unwrap();
    let _ = Events::with(&mut p)
        .rpush(tag, ["x", "y", "z"].iter().copied())
        .unwrap();
    let _ = Scores::with(&mut p).zadd(tag, "alice", 1.5).unwrap();
    let _ = Scores::with(&mut p).zadd(tag, "bob", 2.0).unwrap();
    let _ = Visitors::with(&mut p)
        .pfadd(tag, ["u1", "u2", "u3"].iter().copied())
        .unwrap();
    let profile = [
        ("age", FieldValue::Int(30)),
        ("tags", FieldValue::StringList(vec!["a".into(), "b".into()])),
        ("score", FieldValue::Float(9.5)),
        ("vip", FieldValue::Bool(false)),
        ("nick", FieldValue::Text("jj".into())),
    ];
    for (member, value) in &profile {
        let _ = Profile::with(&mut p)
            .hset_field(tag, member, value)
            .unwrap();
    }
    for k in INDEX {
        let _ = Index::with(&mut p)
            .set(&format!("{tag}{k}"), &format!("v-{k}"))
            .unwrap();
    }
    p.execute().unwrap();
    for w in written {
        w.result().unwrap();
    }
}

/// Runs `interop.py` in `mode` for `tag`; its standard output.
fn python(server: &RedisServer, mode: &str, tag: &str) -> Option<String> {
    let Ok(python) = std::env::var("REDPIPE_PYTHON") else {
        eprintln!(
            "REDPIPE_PYTHON is not set: skipping the interop test (cargo xtask test runs it)"
        );
        return None;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/interop.py");
    let out = Command::new(python)
        .args([script, &server.port().to_string(), mode, tag])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "interop.py {mode} {tag} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Runs `interop.py` in `mode` for `tag` with `input` on its standard input; its output.
fn python_with_input(server: &RedisServer, mode: &str, tag: &str, input: &str) -> String {
    use std::io::Write;
    let python = std::env::var("REDPIPE_PYTHON").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/interop.py");
    let mut child = Command::new(python)
        .args([script, &server.port().to_string(), mode, tag])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "interop.py {mode} {tag} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `redis-cli --no-raw` output (binary-safe, quoted), one value per item, numbering dropped.
fn values(server: &RedisServer, args: &[&str]) -> Vec<String> {
    let mut all = vec!["--no-raw"];
    all.extend_from_slice(args);
    server
        .cli(&all)
        .lines()
        .map(|l| {
            let l = l.trim_start();
            match l.split_once(") ") {
                Some((n, v)) if n.chars().all(|c| c.is_ascii_digit()) => v.to_string(),
                _ => l.to_string(),
            }
        })
        .collect()
}

/// Every key of a tag, its type and its contents, sorted, with the tag taken out of the
/// names: what must be byte for byte the same whoever wrote it. (The HashedString shards
/// depend on the key, so they are compared by reading, below.)
fn stored(server: &RedisServer, tag: &str) -> Vec<String> {
    let mut keys: Vec<String> = ["Beer", "V", "P", "T", "E", "S", "HLL", "PR"]
        .iter()
        .flat_map(|prefix| {
            server
                .cli(&["--scan", "--pattern", &format!("{prefix}{{{tag}*")])
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let kind = server.cli(&["TYPE", &key]);
        let mut contents = match kind.as_str() {
            "string" if key.starts_with("HLL") => vec![server.cli(&["PFCOUNT", &key])],
            "string" => values(server, &["GET", &key]),
            "hash" => values(server, &["HGETALL", &key])
                .chunks(2)
                .map(|pair| pair.join(" = "))
                .collect(),
            "set" => values(server, &["SMEMBERS", &key]),
            "list" => vec![values(server, &["LRANGE", &key, "0", "-1"]).join(", ")],
            "zset" => vec![values(server, &["ZRANGE", &key, "0", "-1", "WITHSCORES"]).join(", ")],
            other => panic!("unexpected type {other} of {key}"),
        };
        contents.sort();
        let name = key.replacen(&format!("{{{tag}"), "{TAG", 1);
        out.push(format!("{name} ({kind}): {}", contents.join(" ; ")));
    }
    out
}

/// What redpipe reads for a tag: each record and value, in a form to compare.
fn read(r: &Connections, tag: &str) -> (Vec<Option<Beer>>, Value) {
    let mut p = r.pipe();
    let loaded: Vec<_> = beers(tag)
        .iter()
        .map(|b| Beer::load(&mut p, &b.beer_id))
        .collect();
    let views: Vec<_> = VIEWS
        .iter()
        .map(|(k, _)| Views::with(&mut p).get(&format!("{tag}{k}")).unwrap())
        .collect();
    let prices: Vec<_> = PRICES
        .iter()
        .map(|(k, _)| Prices::with(&mut p).get(&format!("{tag}{k}")).unwrap())
        .collect();
    let tags = Tags::with(&mut p).smembers(tag).unwrap();
    let events = Events::with(&mut p).lrange(tag, 0, -1).unwrap();
    let scores = Scores::with(&mut p).zrange_withscores(tag, 0, -1).unwrap();
    let visitors = Visitors::with(&mut p).pfcount(tag).unwrap();
    let profile = Profile::with(&mut p).hgetall_fields(tag).unwrap();
    let index: Vec<_> = INDEX
        .iter()
        .map(|k| Index::with(&mut p).get(&format!("{tag}{k}")))
        .collect();
    p.execute().unwrap();

    let beers = loaded.iter().map(|l| l.result().unwrap()).collect();
    let mut tags: Vec<String> = tags.result().unwrap();
    tags.sort();
    let profile: Map<String, Value> = profile
        .result()
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                FieldValue::Int(i) => json!(i),
                FieldValue::Float(f) => json!(f),
                FieldValue::Text(t) => json!(t),
                FieldValue::Bool(b) => json!(b),
                FieldValue::StringList(l) => json!(l),
                other => panic!("unexpected {other:?}"),
            };
            (k, v)
        })
        .collect();
    let values = json!({
        "views": views.iter().map(|h| h.result().unwrap()).collect::<Vec<_>>(),
        "prices": prices.iter().map(|h| h.result().unwrap()).collect::<Vec<_>>(),
        "tags": tags,
        "events": events.result().unwrap(),
        "scores": scores.result().unwrap(),
        "visitors": visitors.result().unwrap(),
        "profile": profile,
        "index": index.iter().map(|h| h.result().unwrap()).collect::<Vec<_>>(),
    });
    (beers, values)
}

/// What redpipe expects to read for a tag, whoever wrote it.
fn expected(tag: &str) -> (Vec<Option<Beer>>, Value) {
    let beers: Vec<Option<Beer>> = beers(tag).into_iter().map(Some).collect();
    let values = json!({
        "views": VIEWS.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        "prices": PRICES.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        "tags": ["a", "b", "ü"],
        "events": ["x", "y", "z"],
        "scores": [["alice", 1.5], ["bob", 2.0]],
        "visitors": 3,
        "profile": {"age": 30, "tags": ["a", "b"], "score": 9.5, "vip": false, "nick": "jj"},
        "index": INDEX.iter().map(|k| format!("v-{k}")).collect::<Vec<_>>(),
    });
    (beers, values)
}

#[test]
fn redpipe_and_python_redpipe_read_each_others_data() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();

    write(&r, "rs");
    let Some(_) = python(&server, "write", "py") else {
        return;
    };

    // The same bytes, whoever wrote them.
    let ours = stored(&server, "rs");
    let theirs = stored(&server, "py");
    assert_eq!(ours.len(), 2 + VIEWS.len() + PRICES.len() + 5, "{ours:#?}");
    assert_eq!(ours, theirs);

    // The HashedString shards agree: each side finds the other's entries.
    for k in INDEX {
        let shard = Index::shard(&format!("py{k}"));
        assert_eq!(
            server.cli(&["HGET", &format!("IDX{{{shard}}}"), &format!("py{k}")]),
            format!("v-{k}"),
            "python wrote py{k} to the shard redpipe computes"
        );
    }

    // redpipe reads RedPipe's data as its own.
    assert_eq!(read(&r, "py"), expected("py"));
    assert_eq!(read(&r, "rs"), expected("rs"));

    // RedPipe reads redpipe's data as its own.
    let seen_py: Value = serde_json::from_str(&python(&server, "read", "py").unwrap()).unwrap();
    let seen_rs: Value = serde_json::from_str(&python(&server, "read", "rs").unwrap()).unwrap();
    let renamed = serde_json::to_string(&seen_rs)
        .unwrap()
        .replace("\"rs-", "\"py-");
    assert_eq!(serde_json::from_str::<Value>(&renamed).unwrap(), seen_py);
    assert_eq!(seen_rs["beers"][0]["abv"], json!(8.0));
    assert_eq!(
        seen_rs["beers"][0]["label"]["base64"],
        json!("AP9QTkcNCg==")
    );
    assert_eq!(seen_rs["beers"][1]["on_tap"], json!(false));
    assert_eq!(seen_rs["beers"][1]["name"], json!(""));
    assert_eq!(seen_rs["beers"][1]["ibu"], json!(-5));
    assert_eq!(seen_rs["beers"][1]["brewery"], json!({}));
    assert_eq!(seen_rs["views"]["big"], json!((1i64 << 53) - 1));
    assert_eq!(seen_rs["prices"]["b"], json!(1e16));
    assert_eq!(seen_rs["profile"]["vip"], json!(false));
}

/// The hash of a record as stored, member by member (binary-safe).
fn hash(server: &RedisServer, key: &str) -> Vec<String> {
    values(server, &["HGETALL", key])
}

#[test]
fn what_python_redpipe_wrote_survives_a_round_trip_through_redpipe() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    if python(&server, "write-odd", "py").is_none() {
        return;
    }
    let as_written = hash(&server, "Note{py}");
    assert_eq!(as_written.len(), 8, "{as_written:?}");

    // Every field loads; the one JSON cannot hold reports its error and keeps its bytes.
    let mut p = r.pipe();
    let loaded = Note::load(&mut p, "py");
    p.execute().unwrap();
    let note = loaded.result().unwrap().unwrap();
    assert_eq!(note.nums[0], json!(0.9999999999999999));
    assert_eq!(note.nums[2], json!(1e-07));
    assert_eq!(note.nums[5], json!(1u64 << 53));
    assert_eq!(note.meta.keys().collect::<Vec<_>>(), ["b", "a", "z"]);
    assert_eq!(note.count, 1 << 53);
    assert!(note.odd.value().is_none());
    assert!(note.odd.error().is_some());

    // Unchanged, nothing is written; written again in full, not a byte changes.
    let mut p = r.pipe();
    assert_eq!(note.update(&note.clone(), &mut p).unwrap().commands(), 0);
    let written = note.create(&mut p).unwrap();
    p.execute().unwrap();
    written.result().unwrap();
    assert_eq!(hash(&server, "Note{py}"), as_written);
    // And Python RedPipe reads every value as it wrote it.
    python(&server, "check-odd", "py").unwrap();

    // An integer RedPipe would read back as another number is refused before anything is
    // queued: a record, a keyspace value.
    let mut p = r.pipe();
    let big = Note {
        count: (1 << 53) + 1,
        ..note.clone()
    };
    assert!(big.create(&mut p).is_err());
    assert!(Views::with(&mut p).set("big", &-((1 << 53) + 1)).is_err());
    assert!(Views::with(&mut p).set("max", &i64::MAX).is_err());
    assert_eq!(p.len(), 0, "nothing queued");
}

#[test]
fn structs_and_handles_go_to_json_as_python_redpipe_writes_it() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    let person = Person {
        person_id: "rs".into(),
        name: "Zoë".into(),
        age: Some(41),
        height: Some(0.1 + 0.2), // 0.30000000000000004: all 17 digits
        admin: Some(false),
        tags: Some(vec!["a".into(), "b".into()]),
        prefs: json!({"theme": "dark", "lang": ["en", "fr"], "size": 0.1})
            .as_object()
            .cloned(),
    };
    let mut p = r.pipe();
    let written = person.create(&mut p).unwrap();
    let age = p.hget("Person{rs}", "age").cast::<i64>();
    p.execute().unwrap();
    written.result().unwrap();
    // A handle serializes as its value, as RedPipe's `json.dumps(future)`.
    assert_eq!(serde_json::to_string(&age).unwrap(), "41");
    assert!(age == 41);

    // Python's `json.dumps(dict(person))` is this struct's JSON.
    let Some(dumped) = python(&server, "dump-json", "rs") else {
        return;
    };
    let from_python: Person = serde_json::from_str(&dumped).unwrap();
    assert_eq!(from_python, person);

    // And this struct's JSON is what Python builds a `Person` from: the same record.
    let ours = serde_json::to_string(&Person {
        person_id: "js".into(),
        ..person
    })
    .unwrap();
    python_with_input(&server, "load-json", "js", &ours);
    assert_eq!(hash(&server, "Person{js}"), hash(&server, "Person{rs}"));

    // A boolean stored by another program as `0` reads as RedPipe reads it: true.
    server.cli(&["HSET", "Person{rs}", "admin", "0"]);
    let mut p = r.pipe();
    let loaded = Person::load(&mut p, "rs");
    p.execute().unwrap();
    assert_eq!(loaded.result().unwrap().unwrap().admin, Some(true));
    let dumped: Value = serde_json::from_str(&python(&server, "dump-json", "rs").unwrap()).unwrap();
    assert_eq!(dumped["admin"], json!(true));
}

keyspace! {
    /// RedPipe's `keyspace_template = '%s:%s'`: keys `CT:tag`.
    struct Counts: String { prefix: "CT", template: "%s:%s", value: Integer }
}

/// A keyspace with a template of its own names the same keys on both sides, and each reads
/// what the other wrote.
#[test]
fn a_keyspace_template_names_the_same_keys_as_python_redpipe() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    let Some(_) = python(&server, "write-template", "py") else {
        return;
    };
    assert_eq!(server.cli(&["GET", "CT:py"]), "8", "RedPipe's key name");
    let mut p = r.pipe();
    let theirs = Counts::with(&mut p).get("py").unwrap();
    let _ = Counts::with(&mut p).set("rs", &41).unwrap();
    let ours = Counts::with(&mut p).incr("rs").unwrap();
    p.execute().unwrap();
    assert_eq!(theirs.result().unwrap(), Some(8));
    assert_eq!(ours.result().unwrap(), 42);
    let seen: Value =
        serde_json::from_str(&python(&server, "read-template", "rs").unwrap()).unwrap();
    assert_eq!(seen, json!({"value": 42, "key": "CT:rs"}));
    assert_eq!(Counts::redis_key("rs").unwrap(), b"CT:rs");
}

keyspace! {
    /// RedPipe's `memberparse = IntegerField`: hours of the day as member names.
    struct Hours: Hash { prefix: "HR", value: Float, member: Integer }
}

/// Hash member names through a codec of their own (RedPipe's `memberparse`): each side writes
/// integer members, and reads what the other wrote as integers.
#[test]
fn hash_member_names_go_through_the_same_codec_as_python_redpipe_memberparse() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    let Some(_) = python(&server, "write-members", "py") else {
        return;
    };
    let mut p = r.pipe();
    let mut all = Hours::with(&mut p).hgetall("py").unwrap();
    let names = Hours::with(&mut p).hkeys("py").unwrap();
    let some = Hours::with(&mut p).hmget("py", &[&7, &8, &9]).unwrap();
    let seven = Hours::with(&mut p).hget("py", &7).unwrap();
    let _ = Hours::with(&mut p).hset("rs", &7, &1.5).unwrap();
    let _ = Hours::with(&mut p)
        .hmset("rs", [(&8, &2.25), (&10, &-1.0)])
        .unwrap();
    let _ = Hours::with(&mut p).hincrbyfloat("rs", &7, 0.5).unwrap();
    p.execute().unwrap();
    let mut pairs = all.result().unwrap();
    pairs.sort_by_key(|(m, _)| *m);
    assert_eq!(pairs, [(7, 2.0), (8, 2.25), (10, -1.0)]);
    let mut names = names.result().unwrap();
    names.sort();
    assert_eq!(names, [7, 8, 10]);
    assert_eq!(some.result().unwrap(), [Some(2.0), Some(2.25), None]);
    assert_eq!(seven.result().unwrap(), Some(2.0));
    all = Hours::with(&mut p).hgetall("rs").unwrap();
    p.execute().unwrap();
    assert_eq!(all.result().unwrap().len(), 3);

    assert_eq!(
        hash(&server, "HR{rs}"),
        hash(&server, "HR{py}"),
        "the same bytes"
    );
    let seen: Value =
        serde_json::from_str(&python(&server, "read-members", "rs").unwrap()).unwrap();
    assert_eq!(
        seen,
        json!({
            "all": [[7, 2.0], [8, 2.25], [10, -1.0]],
            "names": [7, 8, 10],
            "some": [2.0, 2.25, null],
            "seven": 2.0,
        })
    );
}
