//! The derive and the operations over byte fixtures: what is sent, and what is read back.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::keyspace::{Ascii, Integer};
use crate::record::{Lenient, Load, StructError, StructOps};
use crate::{Queue, Struct, VecPipeline};

#[derive(Struct, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "U", ttl = 60)]
struct User {
    #[redpipe(key)]
    id: String,
    name: String,
    #[redpipe(rename = "lastSeen")]
    last_seen: Option<i64>,
    #[redpipe(codec = Ascii)]
    code: Option<String>,
    #[redpipe(extra)]
    rest: BTreeMap<String, String>,
}

#[derive(Struct, Debug, PartialEq)]
#[redpipe(load = "defined", connection = "beer")]
struct Beer {
    #[redpipe(key)]
    beer_id: String,
    abv: f64,
    on_tap: Option<bool>,
}

fn user() -> User {
    User {
        id: "1".into(),
        name: "Jack".into(),
        last_seen: Some(5),
        code: None,
        rest: BTreeMap::new(),
    }
}

/// The commands queued so far, as text, one per line.
fn sent(p: &mut VecPipeline) -> String {
    let out = String::from_utf8(p.poll_output().to_vec()).unwrap();
    let n = out.len();
    p.consume_output(n);
    let mut lines = Vec::new();
    for command in out.split("*").skip(1) {
        let parts: Vec<&str> = command.split("\r\n").collect();
        let args: Vec<&str> = parts[1..].iter().skip(1).step_by(2).copied().collect();
        lines.push(args.join(" "));
    }
    lines.join("\n")
}

#[test]
fn the_derive_describes_the_record() {
    assert_eq!(User::KEYSPACE, "U");
    assert_eq!(User::KEY_NAME, "id");
    assert_eq!(User::FIELDS, &["name", "lastSeen", "code"]);
    assert_eq!(User::REQUIRED, &["name"]);
    assert_eq!(User::TTL, Some(60));
    assert_eq!(User::LOAD, Load::All);
    assert_eq!(
        Beer::KEYSPACE,
        "Beer",
        "the keyspace defaults to the struct's name"
    );
    assert_eq!(Beer::CONNECTION, "beer");
    assert_eq!(Beer::TTL, None);
}

#[test]
fn create_writes_present_fields_removes_absent_ones_and_expires() {
    let mut p = VecPipeline::new();
    let mut u = user();
    u.rest.insert("color".into(), "red".into());
    let w = u.create(&mut p).unwrap();
    assert_eq!(w.commands(), 3);
    assert_eq!(
        sent(&mut p),
        "HSET U{1} name Jack lastSeen 5 color red\nHDEL U{1} code\nEXPIRE U{1} 60"
    );
    p.handle_input(b":3\r\n:0\r\n:1\r\n").unwrap();
    assert!(w.read(p.results()).is_ok());
}

#[test]
fn create_nx_sets_each_field_only_if_new() {
    let mut p = VecPipeline::new();
    let w = user().create_nx(&mut p).unwrap();
    assert_eq!(
        sent(&mut p),
        "HSETNX U{1} name Jack\nHSETNX U{1} lastSeen 5\nEXPIRE U{1} 60"
    );
    p.handle_input(b":1\r\n-WRONGTYPE Operation against a key\r\n:1\r\n")
        .unwrap();
    assert!(matches!(w.read(p.results()), Err(StructError::Read(_))));
}

#[test]
fn update_sends_only_what_changed() {
    let mut p = VecPipeline::new();
    let old = user();
    let mut new = old.clone();
    new.last_seen = None;
    new.code = Some("X1".into());
    let w = old.update(&new, &mut p).unwrap();
    assert_eq!(
        sent(&mut p),
        "HSET U{1} code X1\nHDEL U{1} lastSeen\nEXPIRE U{1} 60"
    );
    assert_eq!(w.commands(), 3);

    let same = old.update(&old.clone(), &mut p).unwrap();
    assert_eq!(same.commands(), 0, "nothing changed, nothing sent");
    assert_eq!(sent(&mut p), "");

    let mut other = old.clone();
    other.id = "2".into();
    assert!(matches!(
        old.update(&other, &mut p),
        Err(StructError::OtherRecord { .. })
    ));
}

#[test]
fn an_unwritable_field_queues_nothing() {
    let mut p = VecPipeline::new();
    let mut u = user();
    u.code = Some("é".into());
    let err = u.create(&mut p).unwrap_err();
    assert!(
        matches!(&err, StructError::Field { key, field, .. } if key == "1" && field == "code"),
        "{err}"
    );
    assert_eq!(sent(&mut p), "");
}

#[test]
fn load_reads_every_member_and_keeps_the_extras() {
    let mut p = VecPipeline::new();
    let loaded = User::load(&mut p, "1");
    let missing = User::load(&mut p, "2");
    assert_eq!(sent(&mut p), "HGETALL U{1}\nHGETALL U{2}");
    p.handle_input(
        b"*6\r\n$4\r\nname\r\n$4\r\nJack\r\n$8\r\nlastSeen\r\n$3\r\n1.9\r\n$5\r\ncolor\r\n$3\r\nred\r\n*0\r\n",
    )
    .unwrap();
    let u = loaded.read(p.results()).unwrap().unwrap();
    assert_eq!(u.id, "1");
    assert_eq!(u.name, "Jack");
    assert_eq!(
        u.last_seen,
        Some(1),
        "float text truncates, as RedPipe reads it"
    );
    assert_eq!(u.code, None);
    assert_eq!(u.rest["color"], "red");
    assert_eq!(missing.read(p.results()).unwrap(), None);
}

#[test]
fn load_names_the_missing_or_unreadable_field() {
    let mut p = VecPipeline::new();
    let no_name = User::load(&mut p, "1");
    let bad = User::load(&mut p, "2");
    sent(&mut p);
    p.handle_input(b"*2\r\n$8\r\nlastSeen\r\n$1\r\n5\r\n*4\r\n$4\r\nname\r\n$1\r\nA\r\n$8\r\nlastSeen\r\n$3\r\nabc\r\n")
        .unwrap();
    let err = no_name.read(p.results()).unwrap_err();
    assert!(
        matches!(err, StructError::Missing { field: "name", .. }),
        "{err}"
    );
    let err = bad.read(p.results()).unwrap_err();
    assert_eq!(
        alloc::format!("{err}"),
        "\"2\", field \"lastSeen\": stored value is not a valid integer"
    );
}

#[derive(Struct, Debug, Clone, PartialEq)]
struct Odd {
    #[redpipe(key)]
    id: String,
    name: String,
    seen: Lenient<i64>,
    more: Option<Lenient<i64>>,
}

#[test]
fn a_lenient_field_loads_what_it_cannot_read_and_writes_it_back_unchanged() {
    let mut p = VecPipeline::new();
    let loaded = Odd::load(&mut p, "1");
    sent(&mut p);
    p.handle_input(
        b"*6\r\n$4\r\nname\r\n$1\r\nA\r\n$4\r\nseen\r\n$3\r\nNaN\r\n$4\r\nmore\r\n$1\r\n7\r\n",
    )
    .unwrap();
    let odd = loaded.read(p.results()).unwrap().unwrap();
    assert_eq!(odd.name, "A");
    assert_eq!(odd.more.as_ref().and_then(Lenient::value), Some(&7));
    assert_eq!(odd.seen.value(), None);
    assert_eq!(
        odd.seen.error(),
        Some(&crate::keyspace::FieldError::Invalid { codec: "integer" })
    );
    // Nothing changed: nothing to write; a create stores the bytes it read.
    let mut q = VecPipeline::new();
    assert_eq!(odd.update(&odd.clone(), &mut q).unwrap().commands(), 0);
    let _ = odd.create(&mut q).unwrap();
    assert_eq!(sent(&mut q), "HSET Odd{1} name A seen NaN more 7");
}

#[test]
fn load_defined_reads_the_declared_fields() {
    let mut p = VecPipeline::new();
    let beer = Beer::load(&mut p, "ipa");
    assert_eq!(sent(&mut p), "HMGET Beer{ipa} abv on_tap");
    p.handle_input(b"*2\r\n$3\r\n6.5\r\n$-1\r\n").unwrap();
    assert_eq!(
        beer.read(p.results()).unwrap(),
        Some(Beer {
            beer_id: "ipa".into(),
            abv: 6.5,
            on_tap: None
        })
    );
}

#[test]
fn incr_remove_pop_and_delete() {
    let mut p = VecPipeline::new();
    let n = User::incr(&mut p, "1", "visits", 2).unwrap();
    let _ = User::decr(&mut p, "1", "visits", 1).unwrap();
    let gone = User::remove(&mut p, "1", &["lastSeen", "color"]).unwrap();
    let popped = User::pop::<Integer, _>(&mut p, "1", "lastSeen").unwrap();
    let deleted = User::delete(&mut p, &["1", "2"]);
    assert_eq!(
        sent(&mut p),
        "HINCRBY U{1} visits 2\nEXPIRE U{1} 60\nHINCRBY U{1} visits -1\nEXPIRE U{1} 60\n\
         HDEL U{1} lastSeen color\nEXPIRE U{1} 60\n\
         HGET U{1} lastSeen\nHDEL U{1} lastSeen\nEXPIRE U{1} 60\nDEL U{1} U{2}"
    );
    p.handle_input(b":2\r\n:1\r\n:1\r\n:1\r\n:2\r\n:1\r\n$2\r\n42\r\n:1\r\n:1\r\n:2\r\n")
        .unwrap();
    assert_eq!(VecPipeline::read(&n, p.results()), Ok(2));
    assert!(gone.read(p.results()).is_ok());
    assert_eq!(VecPipeline::read(&popped, p.results()), Ok(Some(42)));
    assert_eq!(VecPipeline::read(&deleted, p.results()), Ok(2));
}

#[test]
fn misuse_is_refused_before_anything_is_queued() {
    let mut p = VecPipeline::new();
    assert!(matches!(
        User::remove(&mut p, "1", &["lastSeen", "name"]),
        Err(StructError::Required { .. })
    ));
    assert!(matches!(
        User::incr(&mut p, "1", "id", 1),
        Err(StructError::KeyField { field: "id" })
    ));
    assert!(matches!(
        User::pop::<Integer, _>(&mut p, "1", "id"),
        Err(StructError::KeyField { .. })
    ));
    let mut u = user();
    u.rest.insert("name".into(), "shadow".into());
    assert!(matches!(
        u.create(&mut p),
        Err(StructError::ExtraField { .. })
    ));
    assert_eq!(sent(&mut p), "");
}

#[test]
fn a_failed_pipe_fails_the_load() {
    let mut p = VecPipeline::new();
    let loaded = User::load(&mut p, "1");
    sent(&mut p);
    p.fail(crate::Failure::Closed);
    assert!(matches!(
        loaded.read(p.results()),
        Err(StructError::Read(_))
    ));
}
