//! The redpipe tour: the Python RedPipe README, walked through in Rust.
//!
//! Run it with `cargo xtask tour` (which starts a throwaway redis-server), or against your own
//! server with `REDIS_URL=redis://host:port cargo run -p redpipe --example tour`. It only touches
//! keys under a `tour:<pid>:` prefix and deletes them at the end.

#![allow(clippy::disallowed_names)] // `foo` and `bar` are the names the Python README uses

use std::time::Instant;

use redpipe::core::VecPipeline;
use redpipe::keyspace::{Integer, Keyspace};
use redpipe::prelude::*;
use redpipe::record::StructOps;
use redpipe::{Connection, Derived, Error, Handle, Pipe, Struct, keyspace};

keyspace! {
    /// Page views per page: keys `V{page}`, integer values.
    struct PageViews: String { prefix: "V", value: Integer }
}

/// A user record, stored as the hash `U{user_id}` (RedPipe's `Struct`).
#[derive(Struct, Debug)]
#[redpipe(keyspace = "U", ttl = 60)]
struct TourUser {
    #[redpipe(key)]
    user_id: String,
    name: String,
    last_seen: Option<i64>,
}

type Result<T, E = Error> = std::result::Result<T, E>;

fn key(name: &str) -> String {
    format!("tour:{}:{name}", std::process::id())
}

/// A reusable building block: increments a key and sets its expiry, always in one pipeline.
/// Given a parent pipe it joins it; given none it runs on its own.
fn increment_and_expire(name: &str, pipe: Option<&mut Pipe>) -> Result<Handle<i64>> {
    redpipe::autoexec(pipe, |p| {
        let n = p.incrby(key(name), 1);
        let _ = p.expire(key(name), 60);
        Ok(n)
    })
}

/// Combines many results into one with a callback that runs after the pipeline.
fn increment_keys(names: &[String], pipe: Option<&mut Pipe>) -> Result<Derived<i64>> {
    redpipe::autoexec(pipe, |p| {
        let hits: Vec<Handle<i64>> = names.iter().map(|n| p.incr(key(n))).collect();
        Ok(p.on_execute(move |_| hits.iter().filter_map(|h| h.result().ok()).sum()))
    })
}

fn round_trips() -> u64 {
    redpipe::Connections::global()
        .stats(redpipe::DEFAULT)
        .map_or(0, |s| s.pipelines)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").map_err(
        |_| "REDIS_URL is not set: run `cargo xtask tour`, which starts a throwaway redis-server",
    )?;
    redpipe::connect(&url)?;
    let with_db = |db: u32| -> Result<String> {
        let mut info: redpipe::ConnectionInfo = url.parse()?;
        info.db = db;
        Ok(match &info.addr {
            redpipe::Addr::Tcp { host, port } => format!("redis://{host}:{port}/{db}"),
            _ => url.clone(),
        })
    };
    println!("redpipe tour against {url}\n");

    println!("1. Pipelined commands return handles, filled when the pipeline runs");
    let (foo, bar) = redpipe::autoexec(None, |p| Ok((p.incr(key("foo")), p.incr(key("bar")))))?;
    println!("   foo = {}, bar = {}\n", foo.result()?, bar.result()?);

    println!("2. A reusable function, with or without a pipeline");
    let (k1, k2) = redpipe::autoexec(None, |p| {
        Ok((
            increment_and_expire("key1", p.nested())?,
            increment_and_expire("key2", p.nested())?,
        ))
    })?;
    println!(
        "   together: key1 = {}, key2 = {}",
        k1.result()?,
        k2.result()?
    );
    println!(
        "   alone:    key3 = {}\n",
        increment_and_expire("key3", None)?.result()?
    );

    println!("3. Nested scopes merge into their parent");
    let before = round_trips();
    let handles = redpipe::autoexec(None, |p| {
        (0..100)
            .map(|i| increment_and_expire(&format!("n{i}"), p.nested()))
            .collect::<Result<Vec<_>>>()
    })?;
    let sum: i64 = handles.iter().map(|h| h.result()).sum::<Result<i64>>()?;
    println!(
        "   100 calls, 200 commands, {} round trip(s); sum of results = {sum}\n",
        round_trips() - before
    );

    println!("4. Callbacks combine results after execution");
    let names: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
    let (first, second) = redpipe::autoexec(None, |p| {
        Ok((
            increment_keys(&names[..50], p.nested())?,
            increment_keys(&names[50..], p.nested())?,
        ))
    })?;
    println!(
        "   first = {}, second = {}\n",
        first.result()?,
        second.result()?
    );

    println!("5. Named connections: one logical pipeline, groups run in parallel");
    redpipe::connect_named("users", &with_db(1)?)?;
    redpipe::connect_named("messages", &with_db(2)?)?;
    let (user, message) = redpipe::autoexec(None, |p| {
        let u = p.on("users", |p| Ok(p.hset(key("u{1}"), "name", "joe")))?;
        let m = p.on("messages", |p| Ok(p.hset(key("m{1}"), "body", "hi there")))?;
        Ok((u, m))
    })?;
    println!(
        "   users: {} field(s) set; messages: {} field(s) set\n",
        user.result()?,
        message.result()?
    );

    println!("6. The same work unpipelined and pipelined");
    let n = 10_000;
    let mut conn = Connection::open(&url.parse()?)?;
    let start = Instant::now();
    for _ in 0..n {
        let mut p = VecPipeline::new();
        let _ = p.incr(key("timing"))?;
        conn.execute(&mut p)?;
    }
    let one_by_one = start.elapsed();
    let start = Instant::now();
    let mut p = VecPipeline::new();
    let last = (0..n).map(|_| p.incr(key("timing"))).last().transpose()?;
    conn.execute(&mut p)?;
    let pipelined = start.elapsed();
    if let Some(last) = last {
        println!("   final value {}", last.read(&p).map_err(Error::from)?);
    }
    println!(
        "   {n} INCRs: one round trip each {:>8.1} ms ({:>9.0} ops/s)",
        one_by_one.as_secs_f64() * 1e3,
        n as f64 / one_by_one.as_secs_f64()
    );
    println!(
        "   {n} INCRs: one pipeline         {:>8.1} ms ({:>9.0} ops/s), {:.0}x faster",
        pipelined.as_secs_f64() * 1e3,
        n as f64 / pipelined.as_secs_f64(),
        one_by_one.as_secs_f64() / pipelined.as_secs_f64()
    );

    println!("\n7. Keyspaces and structs: typed keys and records, still one round trip");
    let (views, user) = redpipe::autoexec(None, |p| {
        let views = PageViews::with(p).incrby(&key("home"), 3)?;
        let user = TourUser {
            user_id: key("1"),
            name: "Jack".into(),
            last_seen: Some(1_700_000_000),
        };
        let _ = user.create(p)?;
        Ok((views, TourUser::load(p, &user.user_id)))
    })?;
    println!(
        "   page views: {}; loaded back: {:?}",
        views.result()?,
        user.result()?
    );

    // Clean up everything the tour wrote.
    let _ = redpipe::autoexec(None, |p| {
        let _ = PageViews::with(p).delete(&key("home"))?;
        Ok(TourUser::delete(p, &[&key("1")]))
    })?;
    let prefix = key("*");
    for name in [redpipe::DEFAULT, "users", "messages"] {
        let keys = redpipe::autoexec_on(name, None, |p| {
            Ok(p.keys(prefix.as_str()).cast::<Vec<String>>())
        })?;
        let keys = keys.result()?;
        if !keys.is_empty() {
            redpipe::autoexec_on(name, None, |p| Ok(p.del(&keys)))?.result()?;
        }
    }
    println!("\ndone; the tour's keys are deleted");
    Ok(())
}
