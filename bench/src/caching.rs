//! Figure (i): client-side caching (issue 28), the hit path against a round trip.
//!
//! The same pipeline of `GET`s (distinct keys, 100-byte values), run by redpipe's blocking
//! `Pipe` on two names of one server: one without a cache (every pipeline is a round trip) and
//! one with `?cache=N` after a warm-up run, so that every read is a hit and nothing is sent.
//! Both read every handle. Reported: reads per second and time per pipeline, and the ratio.
//! The hit path still builds the pipeline (encoding each command, as it does for the server),
//! looks each command up under the cache's lock and copies the reply into the pipeline's
//! arena; what it saves is the system calls and the server's work.

use std::time::Instant;

use redpipe::prelude::*;
use redpipe::{Connections, DEFAULT};

use crate::report::{self, Samples, Table};

const BATCHES: [usize; 4] = [1, 16, 100, 1000];
const VALUE: usize = 100;

/// Reads per measurement (a whole number of pipelines).
fn reads(batch: usize, quick: bool) -> usize {
    let n = if quick { 50_000 } else { 200_000 };
    (n / batch).max(1) * batch
}

fn keys(batch: usize) -> Vec<String> {
    (0..batch).map(|i| format!("cache:{batch}:{i}")).collect()
}

/// Runs `pipelines` pipelines of `GET`s of `keys` on `r`; returns reads per second.
fn measure(r: &Connections, keys: &[String], pipelines: usize) -> crate::Result<f64> {
    let t = Instant::now();
    for _ in 0..pipelines {
        let mut p = r.pipe();
        let handles: Vec<_> = keys.iter().map(|k| p.get(k.as_str())).collect();
        p.execute()?;
        for h in &handles {
            std::hint::black_box(h.result()?);
        }
    }
    Ok((pipelines * keys.len()) as f64 / t.elapsed().as_secs_f64())
}

pub(crate) fn figure(url: &str, reps: usize, quick: bool) -> crate::Result<Vec<Table>> {
    let server = Connections::new();
    server.register(DEFAULT, url)?;
    let cached = Connections::new();
    let max = BATCHES.iter().sum::<usize>();
    cached.register(DEFAULT, format!("{url}?cache={max}").as_str())?;
    let value = "v".repeat(VALUE);
    let mut rows = Vec::new();
    for batch in BATCHES {
        let keys = keys(batch);
        server.autoexec(None, |p| {
            for k in &keys {
                let _ = p.set(k.as_str(), value.as_str());
            }
            Ok(())
        })?;
        // Warm-up: fills the cache (and opens its tracking connection).
        let pipelines = reads(batch, quick) / batch;
        measure(&cached, &keys, 1)?;
        measure(&cached, &keys, (pipelines / 10).max(1))?;
        measure(&server, &keys, (pipelines / 10).max(1))?;
        let (mut miss, mut hit) = (Samples::default(), Samples::default());
        for rep in 0..reps {
            // Alternate which goes first.
            let order: [bool; 2] = if rep % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for from_cache in order {
                if from_cache {
                    hit.push(measure(&cached, &keys, pipelines)?);
                } else {
                    miss.push(measure(&server, &keys, pipelines)?);
                }
            }
        }
        let stats = cached.cache_stats(DEFAULT).unwrap_or_default();
        if stats.entries < batch {
            return Err(format!("(i): the cache holds {} of {batch} keys", stats.entries).into());
        }
        eprintln!(
            "(i) {batch} GETs: server {} reads/s, cache {} reads/s",
            report::rate(miss.median()),
            report::rate(hit.median())
        );
        rows.push((batch, miss, hit));
    }
    let spread = if reps > 1 {
        format!("(min–max) of {reps} runs")
    } else {
        "(one run, --quick)".into()
    };
    let mut t = Table::new(
        format!(
            "(i) Client-side caching: a pipeline of GETs (100-byte values) from the server \
             vs from the cache (every read a hit), blocking Pipe, median {spread}"
        ),
        &[
            "GETs per pipeline",
            "server: reads/s",
            "cache: reads/s",
            "server: µs/pipeline",
            "cache: µs/pipeline",
            "cache / server",
        ],
        1,
    );
    for (batch, miss, hit) in &rows {
        let per = |s: &Samples| s.map(|r| *batch as f64 / r * 1e6);
        t.rows.push(vec![
            batch.to_string(),
            miss.show(report::rate),
            hit.show(report::rate),
            per(miss).show(|v| format!("{v:.1}")),
            per(hit).show(|v| format!("{v:.1}")),
            Samples::ratio(hit, miss).show(report::ratio),
        ]);
    }
    t.notes.push(
        "the hit path sends nothing: the cache answers every GET from its copy of the reply; \
         the server column is one round trip per pipeline"
            .into(),
    );
    Ok(vec![t])
}
