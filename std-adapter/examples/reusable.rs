//! One reusable function, written once, called alone and a hundred times inside one pipeline,
//! from blocking code and from async code: RedPipe's central idea, with no type annotations
//! beyond the function's own signature.
//!
//! Run it with `REDIS_URL=redis://127.0.0.1:6379 cargo run -p redpipe --features tokio --example
//! reusable` (`cargo xtask test` runs it against a throwaway server). Its keys carry the process
//! id and are deleted at the end.

use std::time::Duration;

use redpipe::prelude::*;
use redpipe::{Connections, Handle, Pipe};

/// Counts a hit on `key` and keeps the counter for a minute. Alone (`None`) it runs its own
/// round trip; given a pipe, its two commands join that pipe's.
fn incr_and_expire(key: &str, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<i64>> {
    redpipe::autoexec(pipe, |p| {
        let n = p.incr(key);
        let _ = p.expire(key, Duration::from_secs(60));
        Ok(n)
    })
}

fn key(name: &str) -> String {
    format!("reusable:{}:{name}", std::process::id())
}

fn round_trips() -> u64 {
    Connections::global().stats("").map_or(0, |s| s.pipelines)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is not set")?;
    redpipe::connect(&url)?;

    // Alone: one round trip of its own.
    let before = round_trips();
    let alone = incr_and_expire(&key("alone"), None)?;
    assert_eq!(alone.result()?, 1);
    assert_eq!(round_trips() - before, 1);

    // A hundred calls inside one scope, nested one level deeper for good measure: one round
    // trip for all two hundred commands.
    let before = round_trips();
    let hits = redpipe::autoexec(None, |p| {
        p.scope(|p| {
            (0..100)
                .map(|i| incr_and_expire(&key(&format!("n{}", i % 10)), p.nested()))
                .collect::<redpipe::Result<Vec<_>>>()
        })
    })?;
    assert_eq!(round_trips() - before, 1, "a hundred calls, one round trip");
    let last = hits
        .iter()
        .map(Handle::result)
        .collect::<redpipe::Result<Vec<_>>>()?;
    assert_eq!(last[99], 10, "each of the ten keys counted ten times");
    println!("sync: 100 calls in 1 round trip, last count {}", last[99]);

    // The same function from async code: the async scope hands it the pipe, and the round
    // trip is awaited, holding no runtime thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let one =
            redpipe::autoexec_async(None, |p| incr_and_expire(&key("alone"), Some(p))).await?;
        assert_eq!(one.result()?, 2);
        let before = round_trips();
        let many = redpipe::autoexec_async(None, |p| {
            (0..100)
                .map(|i| incr_and_expire(&key(&format!("n{}", i % 10)), p.nested()))
                .collect::<redpipe::Result<Vec<_>>>()
        })
        .await?;
        assert_eq!(round_trips() - before, 1);
        assert_eq!(many[99].result()?, 20);
        println!("async: 100 calls in 1 round trip, last count {}", many[99]);
        Ok::<_, redpipe::Error>(())
    })?;

    // Clean up.
    let mut keys: Vec<String> = (0..10).map(|i| key(&format!("n{i}"))).collect();
    keys.push(key("alone"));
    let deleted = redpipe::autoexec(None, |p| Ok(p.del(&keys)))?;
    assert_eq!(deleted.result()?, 11);
    Ok(())
}
