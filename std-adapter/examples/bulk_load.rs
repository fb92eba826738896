//! The hot path: loading 100 000 keys on one connection with the engine's pipelines, no
//! per-command allocation and no handle objects (index handles into the pipeline), the next
//! batch encoded while the server works on the one sent. This is what `cargo xtask bench`
//! measures against redis-rs.
//!
//! Run it with `REDIS_URL=redis://127.0.0.1:6379 cargo run --release -p redpipe --example
//! bulk_load` (`cargo xtask test` runs it against a throwaway server). Its keys carry the
//! process id and are deleted at the end.

use std::io::Write;
use std::time::Instant;

use redpipe::core::{Scratch, VecPipeline};
use redpipe::prelude::*;
use redpipe::{Connection, ConnectionInfo, ToArg};

const KEYS: u32 = 100_000;
const BATCH: u32 = 10_000;

/// A key `bulk:<pid>:<i>`, formatted into the encoder's stack space: no allocation per key.
#[derive(Clone, Copy)]
struct Key<'a>(&'a str, u32);

impl ToArg for Key<'_> {
    fn to_arg<'s>(&'s self, scratch: &'s mut Scratch) -> &'s [u8] {
        let space = scratch.space();
        let room = space.len();
        let mut at = &mut space[..];
        // 40 bytes hold the prefix (under 20) and any u32.
        let _ = write!(at, "{}{}", self.0, self.1);
        let used = room - at.len();
        &space[..used]
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is not set")?;
    let info: ConnectionInfo = url.parse()?;
    let mut conn = Connection::open(&info)?;
    let prefix = format!("bulk:{}:", std::process::id());
    let key = |i: u32| Key(&prefix, i);

    // Two pipelines reused batch after batch: one on the wire, one being filled. Each handle is
    // an index; `set` replies are read only to count failures.
    let started = Instant::now();
    let (mut sent, mut next) = (VecPipeline::new(), VecPipeline::new());
    let (mut sent_handles, mut next_handles): (Vec<Deferred<()>>, Vec<Deferred<()>>) =
        (Vec::new(), Vec::new());
    let mut failures = 0;
    let mut in_flight = false;
    for start in (0..KEYS).step_by(BATCH as usize) {
        next.reset();
        next_handles.clear();
        for i in start..start + BATCH {
            next_handles.push(next.set(key(i), i)?);
        }
        if in_flight {
            conn.finish(&mut sent)?;
            failures += sent_handles
                .iter()
                .filter(|h| h.read(&sent).is_err())
                .count();
        }
        std::mem::swap(&mut sent, &mut next);
        std::mem::swap(&mut sent_handles, &mut next_handles);
        conn.send(&mut sent)?;
        in_flight = true;
    }
    conn.finish(&mut sent)?;
    failures += sent_handles
        .iter()
        .filter(|h| h.read(&sent).is_err())
        .count();
    let took = started.elapsed();
    assert_eq!(failures, 0);
    println!(
        "{KEYS} SETs in {:.0} ms ({:.0} k/s)",
        took.as_secs_f64() * 1e3,
        f64::from(KEYS) / took.as_secs_f64() / 1e3
    );

    // Read a sample back, then delete everything in batches.
    let mut p = VecPipeline::new();
    let sample: Vec<_> = [0, KEYS / 2, KEYS - 1]
        .into_iter()
        .map(|i| p.get::<i64>(key(i)))
        .collect::<Result<_, _>>()?;
    conn.execute(&mut p)?;
    for (h, i) in sample.iter().zip([0, KEYS / 2, KEYS - 1]) {
        assert_eq!(h.read(&p).map_err(redpipe::Error::from)?, i64::from(i));
    }
    let mut deleted = 0;
    for start in (0..KEYS).step_by(BATCH as usize) {
        let mut p = VecPipeline::new();
        let keys: Vec<_> = (start..start + BATCH).map(key).collect();
        let n = p.del(&keys)?;
        conn.execute(&mut p)?;
        deleted += n.read(&p).map_err(redpipe::Error::from)?;
    }
    assert_eq!(deleted, i64::from(KEYS));
    Ok(())
}
