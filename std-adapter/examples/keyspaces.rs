//! RedPipe's "Working with Keyspaces" guide in Rust: a key prefix, a connection and codecs
//! declared once, then every command of the key's type with typed results.
//!
//! Run it with `REDIS_URL=redis://127.0.0.1:6379 cargo run -p redpipe --example keyspaces`
//! (`cargo xtask test` runs it against a throwaway server). Its keys carry the process id and
//! are deleted at the end.

use redpipe::keyspace::{FieldValue, HashedString, Keyspace};
use redpipe::prelude::ScanKeys;
use redpipe::{Error, Handle, Pipe, keyspace};

keyspace! {
    /// Followers of each user, scored by when they followed: keys `F{user}`.
    struct Followers: SortedSet { prefix: "F" }
}

keyspace! {
    /// Users as hashes whose members have types of their own (RedPipe's `Hash.fields`).
    struct Users: Hash {
        prefix: "UH",
        fields: { "admin" => Boolean, "last_seen" => Float, "encrypted_secret" => Binary }
    }
}

keyspace! {
    /// The shards of `MyIndex` below: hashes `my_index{0}` ... `my_index{999}`.
    struct MyIndexShards: String { prefix: "my_index" }
}

/// Many small string values in 1000 hashes instead of one key each.
type MyIndex = HashedString<MyIndexShards, 1000>;

/// A reusable function over a keyspace: its handle is typed by what it reads (`Vec<String>`),
/// as a plain command's is; no codec appears in its signature.
fn followers_of(user: &str, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<Vec<String>>> {
    redpipe::autoexec(pipe, |p| Ok(Followers::with(p).zrange(user, 0, -1)?))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is not set")?;
    redpipe::connect(&url)?;
    let pid = std::process::id();
    let (key1, key2) = (format!("{pid}-1"), format!("{pid}-2"));

    // A sorted-set keyspace: the key names are F{...}, the commands are the sorted-set ones.
    let (f1, f2) = redpipe::autoexec(None, |p| {
        let mut f = Followers::with(p);
        let _ = f.zadd(&key1, "a", 1.0)?;
        let _ = f.zadd(&key2, "a", 2.0)?;
        Ok((f.zrange(&key1, 0, -1)?, f.zrange(&key2, 0, -1)?))
    })?;
    println!(
        "followers of {key1}: {:?}, of {key2}: {:?}",
        f1.result()?,
        f2.result()?
    );
    assert_eq!(f1.result()?, ["a"]);
    // The same read through the reusable function, standalone: its own round trip.
    assert_eq!(followers_of(&key2, None)?.result()?, ["a"]);

    // Fields in hashes: each member read back as the type it was written with.
    let secret = vec![0u8, 159, 146, 150];
    let user = redpipe::autoexec(None, |p| {
        let mut u = Users::with(p);
        let _ = u.hset_field(&key1, "first_name", &FieldValue::Text("Fred".into()))?;
        let _ = u.hset_field(&key1, "admin", &FieldValue::Bool(true))?;
        let _ = u.hset_field(&key1, "last_seen", &FieldValue::Float(1_700_000_000.5))?;
        let _ = u.hset_field(
            &key1,
            "encrypted_secret",
            &FieldValue::Bytes(secret.clone()),
        )?;
        Ok(u.hgetall_fields(&key1)?)
    })?;
    let user = user.result()?;
    println!("user {key1}: {user:?}");
    assert_eq!(user["admin"], FieldValue::Bool(true));
    assert_eq!(user["encrypted_secret"], FieldValue::Bytes(secret));

    // Hashed strings: `foo123` lives in shard 416 of 1000, as RedPipe puts it.
    let name = format!("foo123-{pid}");
    let value = redpipe::autoexec(None, |p| {
        let _ = MyIndex::with(p).set(&name, "test")?;
        Ok(MyIndex::with(p).get(&name))
    })?;
    assert_eq!(MyIndex::shard("foo123"), 416);
    println!(
        "{name} (shard {}) = {:?}",
        MyIndex::shard(&name),
        value.result()?
    );

    // Scanning a keyspace: the pattern is matched inside the braces.
    let found: Vec<Vec<u8>> = Followers::scan(&format!("{pid}-*")).collect::<Result<_, Error>>()?;
    println!("followers keys of this run: {}", found.len());
    assert_eq!(found.len(), 2);

    redpipe::autoexec(None, |p| {
        let _ = Followers::with(p).delete(&key1)?;
        let _ = Followers::with(p).delete(&key2)?;
        let _ = Users::with(p).delete(&key1)?;
        let _ = MyIndex::with(p).delete(&name);
        Ok(())
    })?;
    Ok(())
}
