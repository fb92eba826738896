//! RedPipe's "Structs" guide in Rust: typed records stored as hashes, every operation queued on
//! a pipe, so that creating, loading and changing many records costs one round trip.
//!
//! Run it with `REDIS_URL=redis://127.0.0.1:6379 cargo run -p redpipe --example structs`
//! (`cargo xtask test` runs it against a throwaway server). It touches keys `U{ex-<pid>-...}`
//! and deletes them at the end.

use std::collections::BTreeMap;

use redpipe::Struct;
use redpipe::record::{StructError, StructOps};

/// A user, as RedPipe's `User(redpipe.Struct)` with `key_name = 'user_id'`: the key is kept in
/// the key name `U{...}`, each other field is a hash member with its field's codec.
#[derive(Struct, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "U", ttl = 3600)]
struct User {
    #[redpipe(key)]
    user_id: String,
    name: String,            // TextField, required: a record without it is an error
    last_seen: Option<i64>,  // IntegerField
    admin: Option<bool>,     // BooleanField
    page_views: Option<i64>, // IntegerField
    #[redpipe(extra)]
    rest: BTreeMap<String, String>, // members not declared above, as text
}

fn id(n: u32) -> String {
    format!("ex-{}-{n}", std::process::id())
}

fn user(n: u32, name: &str, last_seen: i64) -> User {
    User {
        user_id: id(n),
        name: name.into(),
        last_seen: Some(last_seen),
        admin: None,
        page_views: None,
        rest: BTreeMap::new(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is not set")?;
    redpipe::connect(&url)?;
    let ts = 1_700_000_000;

    // Creating: both users are written, then read back, in one round trip.
    let (u1, u2) = redpipe::autoexec(None, |p| {
        let _ = user(1, "Jack", ts).create(p)?;
        let _ = user(2, "Jill", ts).create(p)?;
        Ok((User::load(p, &id(1)), User::load(p, &id(2))))
    })?;
    let (u1, u2) = (
        u1.result()?.ok_or("no user 1")?,
        u2.result()?.ok_or("no user 2")?,
    );
    println!("created: {u1:?}\n         {u2:?}");
    assert_eq!(u1.name, "Jack");
    assert_eq!(u2.last_seen, Some(ts));

    // Modifying: an update sends only what changed; remove drops optional fields.
    let mut bobby = u1.clone();
    bobby.name = "Bobby".into();
    bobby.last_seen = Some(ts + 60);
    let reloaded = redpipe::autoexec(None, |p| {
        let _ = u1.update(&bobby, p)?;
        let _ = User::remove(p, &id(2), &["last_seen"])?;
        Ok(User::load(p, &id(2)))
    })?;
    println!("updated: {bobby:?}");
    assert_eq!(reloaded.result()?.ok_or("no user 2")?.last_seen, None);

    // Removing a required field is refused before anything is sent.
    let refused = redpipe::autoexec(None, |p| Ok(User::remove(p, &id(1), &["name"])))?;
    assert!(matches!(refused, Err(StructError::Required { .. })));

    // Incrementing a field, and popping one (read and removed in the same pipe).
    let (views, seen) = redpipe::autoexec(None, |p| {
        let views = User::incr(p, &id(1), "page_views", 1)?;
        let seen = User::pop::<redpipe::keyspace::Integer, _>(p, &id(1), "last_seen")?;
        Ok((views, seen))
    })?;
    println!(
        "page views: {}, popped last_seen: {:?}",
        views.result()?,
        seen.result()?
    );
    assert_eq!(seen.result()?, Some(ts + 60));

    // Extra fields: anything not declared is kept as text.
    let mut extra = user(3, "Joe", ts);
    extra.rest.insert("arbitrary_field".into(), "foo".into());
    let loaded = redpipe::autoexec(None, |p| {
        let _ = extra.create(p)?;
        Ok(User::load(p, &id(3)))
    })?;
    assert_eq!(
        loaded.result()?.ok_or("no user 3")?.rest["arbitrary_field"],
        "foo"
    );

    // Deleting records without loading them.
    let deleted = redpipe::autoexec(None, |p| Ok(User::delete(p, &[&id(1), &id(2), &id(3)])))?;
    println!("deleted {} record(s)", deleted.result()?);
    Ok(())
}
