//! A keyspace and a struct in one pipeline: a leaderboard (`Followers`, a sorted set) and user
//! records (`User`, a hash), written, read and updated together, every handle read with `?`
//! into the one `redpipe::Error`.
//!
//! Run it with `REDIS_URL=redis://127.0.0.1:6379 cargo run -p redpipe --example profiles`
//! (`cargo xtask test` runs it against a throwaway server). Its keys carry the process id and
//! are deleted at the end.

use redpipe::cmd::ZaddOptions;
use redpipe::keyspace::Keyspace;
use redpipe::record::StructOps;
use redpipe::{Struct, keyspace};

keyspace! {
    /// Who follows whom, scored by when they started: keys `F{user}`, members user ids.
    struct Followers: SortedSet { prefix: "F" }
}

/// A user record, stored as the hash `U{<id>}` (RedPipe's `Struct`).
#[derive(Struct, Debug, Clone, PartialEq)]
#[redpipe(keyspace = "U")]
struct User {
    #[redpipe(key)]
    id: String,
    name: String,
    followers: Option<i64>,
}

fn id(name: &str) -> String {
    format!("{}-{name}", std::process::id())
}

fn main() -> Result<(), redpipe::Error> {
    let url =
        std::env::var("REDIS_URL").map_err(|_| redpipe::Error::other("REDIS_URL is not set"))?;
    redpipe::connect(&url)?;
    let (ann, bob) = (id("ann"), id("bob"));

    // One round trip: a user created, a follower added, then raised (GT: only a higher
    // score), its score read back, the user loaded.
    let ann_user = User {
        id: ann.clone(),
        name: "Ann".into(),
        followers: Some(0),
    };
    let (created, added, raised, score, loaded) = redpipe::autoexec(None, |p| {
        let created = ann_user.create(p)?;
        let added = Followers::with(p).zadd(&ann, &bob, 1_700_000_000.0)?;
        let gt = ZaddOptions {
            gt: true,
            ch: true,
            ..ZaddOptions::default()
        };
        let raised = Followers::with(p).zadd_with(&ann, gt, &bob, 1_700_000_100.0)?;
        let score = Followers::with(p).zscore(&ann, &bob)?;
        Ok((created, added, raised, score, User::load(p, &ann)))
    })?;
    created.result()?;
    assert_eq!(added.result()?, 1);
    assert_eq!(
        raised.result()?,
        1,
        "GT raised the score: one member changed"
    );
    assert_eq!(score.result()?, Some(1_700_000_100.0));
    let mut user = loaded
        .result()?
        .ok_or_else(|| redpipe::Error::other("Ann was just created"))?;
    println!("loaded {user:?}, followed since {:?}", score.result()?);

    // A second round trip: the record updated from the follower count, another user created,
    // both read back.
    let before = user.clone();
    let (count, updated, created) = redpipe::autoexec(None, |p| {
        let count = Followers::with(p).zcard(&ann)?;
        user.followers = Some(1);
        let updated = before.update(&user, p)?;
        let created = User {
            id: bob.clone(),
            name: "Bob".into(),
            followers: None,
        }
        .create(p)?;
        Ok((count, updated, created))
    })?;
    assert_eq!(count.result()?, 1);
    updated.result()?;
    created.result()?;
    let (a, b) = redpipe::autoexec(None, |p| Ok((User::load(p, &ann), User::load(p, &bob))))?;
    assert_eq!(a.result()?.map(|u| u.followers), Some(Some(1)));
    assert_eq!(b.result()?.map(|u| u.name), Some("Bob".to_owned()));

    // Clean up.
    let deleted = redpipe::autoexec(None, |p| {
        let _ = Followers::with(p).delete(&ann)?;
        Ok(User::delete(p, &[&ann, &bob]))
    })?;
    assert_eq!(deleted.result()?, 2);
    Ok(())
}
