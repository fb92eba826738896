//! Codec benchmarks: redpipe beside redis-rs and redis-protocol on the same inputs.
//!
//! - `encode_*`: queueing 1000 commands into a warm, reused buffer (ns per command).
//! - `decode_*`: reading a stream of 1000 replies and resolving each one (ns per reply).
//! - `pubsub/*`: a subscribed connection's stream of 1000 `message` frames read into events (ns
//!   per message), beside redis-protocol's decoding of the same frames.
//! - `cache/*`: the client-side cache's hit path against reading the same replies (ns per read).
//! - Before criterion runs, allocations per command of a warm pipeline are counted and printed.
//!
//! Every implementation gets the same bytes, its own warm reusable state where its API has one,
//! and `black_box`ed inputs and outputs. Run with
//! `cargo bench -p redpipe-core --features alloc --bench codec`; results are in `BENCHMARKS.md`.

use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Bencher, BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use redis_protocol::resp2::{encode::encode_borrowed, types::BorrowedFrame};
use redpipe_core::prelude::*;
use redpipe_core::{Limits, Scanner, Seq, VecPipeline};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

// Counts allocator calls for the allocation report. The workspace forbids `unsafe_code`, which
// a hand-written `GlobalAlloc` needs, so the counting wrapper comes from `stats_alloc`. Its cost
// (two uncontended atomic adds per call) measured under 1 ns per alloc/free pair on this machine,
// so it does not noticeably slow the peers that allocate during the timed runs.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Commands per pipeline, replies per stream.
const N: usize = 1000;

/// The 100-byte value of `SET` and of the long bulk reply.
const VALUE: [u8; 100] = {
    let mut v = [0u8; 100];
    let mut i = 0;
    while i < v.len() {
        v[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    v
};

// ---- encode ----

/// One command as each implementation takes it.
#[derive(Clone, Copy)]
enum Command {
    Get,
    Set,
}

impl Command {
    fn redpipe(self, p: &mut VecPipeline) {
        match self {
            Self::Get => {
                let _ = black_box(p.get::<()>(black_box("key")).expect("Vec storage grows"));
            }
            Self::Set => {
                let _ = black_box(
                    p.set(black_box("key"), black_box(&VALUE[..]))
                        .expect("Vec storage grows"),
                );
            }
        }
    }

    fn redis_rs(self, pipe: &mut redis::Pipeline) {
        match self {
            Self::Get => {
                pipe.cmd("GET").arg(black_box("key"));
            }
            Self::Set => {
                pipe.cmd("SET")
                    .arg(black_box("key"))
                    .arg(black_box(&VALUE[..]));
            }
        }
    }

    fn redis_protocol(self, buf: &mut [u8]) -> usize {
        let key = BorrowedFrame::BulkString(black_box(b"key"));
        let written = match self {
            Self::Get => {
                let args = [BorrowedFrame::BulkString(b"GET"), key];
                encode_borrowed(buf, &BorrowedFrame::Array(&args), false)
            }
            Self::Set => {
                let args = [
                    BorrowedFrame::BulkString(b"SET"),
                    key,
                    BorrowedFrame::BulkString(black_box(&VALUE[..])),
                ];
                encode_borrowed(buf, &BorrowedFrame::Array(&args), false)
            }
        };
        written.expect("the buffer is sized for the whole pipeline")
    }
}

fn redpipe_encode(p: &mut VecPipeline, c: Command) {
    p.reset();
    for _ in 0..N {
        c.redpipe(p);
    }
}

fn redis_rs_encode(pipe: &mut redis::Pipeline, c: Command) -> Vec<u8> {
    pipe.clear();
    for _ in 0..N {
        c.redis_rs(pipe);
    }
    pipe.get_packed_pipeline()
}

fn redis_protocol_encode(buf: &mut [u8], c: Command) -> usize {
    let mut at = 0;
    for _ in 0..N {
        at += c.redis_protocol(&mut buf[at..]);
    }
    at
}

fn encode(c: &mut Criterion) {
    for (name, command) in [
        ("encode_get", Command::Get),
        ("encode_set_100b", Command::Set),
    ] {
        // The same bytes from all three, or the comparison means nothing.
        let mut p = VecPipeline::new();
        redpipe_encode(&mut p, command);
        let mut pipe = redis::pipe();
        let packed = redis_rs_encode(&mut pipe, command);
        let mut buf = vec![0u8; p.encoded().len()];
        let len = redis_protocol_encode(&mut buf, command);
        assert_eq!(p.encoded(), &packed[..], "{name}: redis-rs differs");
        assert_eq!(p.encoded(), &buf[..len], "{name}: redis-protocol differs");

        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function("redpipe", |b| {
            b.iter(|| {
                redpipe_encode(&mut p, command);
                black_box(p.poll_output());
            });
        });
        g.bench_function("redis-rs", |b| {
            b.iter(|| black_box(redis_rs_encode(&mut pipe, command)));
        });
        g.bench_function("redis-protocol", |b| {
            b.iter(|| {
                let n = redis_protocol_encode(&mut buf, command);
                black_box(&buf[..n]);
            });
        });
        g.finish();
    }
}

// ---- decode + resolve ----

/// `N` copies of `reply`.
fn stream(reply: &[u8]) -> Vec<u8> {
    reply.repeat(N)
}

/// Times `handle_input` of `stream` and reading every handle; queueing the commands and
/// consuming their output is the untimed setup of each iteration. `check` validates every
/// result once, before timing, so that the timed `read` does nothing but read.
fn redpipe_decode<T: FromReply + ?Sized>(
    b: &mut Bencher<'_>,
    stream: &[u8],
    queue: impl Fn(&mut VecPipeline) -> Deferred<T>,
    read: impl Fn(Deferred<T>, &VecPipeline),
    check: impl Fn(Deferred<T>, &VecPipeline) -> bool,
) {
    let mut p = VecPipeline::new();
    let mut handles = Vec::with_capacity(N);
    let setup = |p: &mut VecPipeline, handles: &mut Vec<Deferred<T>>| {
        p.reset();
        handles.clear();
        handles.extend((0..N).map(|_| queue(p)));
        let sent = p.poll_output().len();
        p.consume_output(sent);
    };
    setup(&mut p, &mut handles);
    assert_eq!(p.handle_input(stream), Ok(stream.len()));
    assert!(handles.iter().all(|&h| check(h, &p)));
    b.iter_custom(|iters| {
        let mut elapsed = Duration::ZERO;
        for _ in 0..iters {
            setup(&mut p, &mut handles);
            let start = Instant::now();
            let used = p.handle_input(black_box(stream)).expect("valid replies");
            for &h in &handles {
                read(h, &p);
            }
            elapsed += start.elapsed();
            assert_eq!(used, stream.len());
        }
        elapsed
    });
}

/// The reader alone: finds and validates each reply, delivers nothing (not a full decode).
fn redpipe_scan(scanner: &mut Scanner, limits: &Limits, stream: &[u8]) -> usize {
    let (mut at, mut frames) = (0, 0);
    while at < stream.len() {
        at += scanner
            .scan(&stream[at..], limits)
            .expect("valid replies")
            .expect("complete replies");
        frames += 1;
    }
    frames
}

fn redis_protocol_resp2_decode(stream: &[u8]) -> usize {
    let (mut at, mut frames) = (0, 0);
    while at < stream.len() {
        let (frame, len) = redis_protocol::resp2::decode::decode_range(&stream[at..])
            .expect("valid replies")
            .expect("complete replies");
        black_box(frame);
        at += len;
        frames += 1;
    }
    frames
}

fn redis_protocol_resp3_decode(stream: &[u8]) -> usize {
    let (mut at, mut frames) = (0, 0);
    while at < stream.len() {
        let (frame, len) = redis_protocol::resp3::decode::complete::decode_range(&stream[at..])
            .expect("valid replies")
            .expect("complete replies");
        black_box(frame);
        at += len;
        frames += 1;
    }
    frames
}

fn redis_rs_decode(parser: &mut redis::Parser, stream: &[u8]) -> usize {
    let mut reader = stream;
    for _ in 0..N {
        black_box(parser.parse_value(&mut reader).expect("valid replies"));
    }
    reader.len()
}

/// The peers on one stream, and two parts of redpipe's work alone (to show where its time goes);
/// redpipe's full decode + resolve is added by the caller.
fn decode_others<T: FromReply + ?Sized>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    stream: &[u8],
    queue: impl Fn(&mut VecPipeline) -> Deferred<T>,
) {
    let (mut scanner, limits) = (Scanner::new(), Limits::default());
    assert_eq!(redpipe_scan(&mut scanner, &limits, stream), N);
    g.bench_function("redpipe-scan-only", |b| {
        b.iter(|| black_box(redpipe_scan(&mut scanner, &limits, black_box(stream))));
    });
    g.bench_function("redpipe-handle_input-only", |b| {
        redpipe_decode(b, stream, &queue, |_, _| {}, |_, _| true);
    });
    assert_eq!(redis_protocol_resp2_decode(stream), N);
    assert_eq!(redis_protocol_resp3_decode(stream), N);
    let mut parser = redis::Parser::new();
    assert_eq!(redis_rs_decode(&mut parser, stream), 0);
    g.bench_function("redis-protocol-resp2", |b| {
        b.iter(|| black_box(redis_protocol_resp2_decode(black_box(stream))));
    });
    g.bench_function("redis-protocol-resp3", |b| {
        b.iter(|| black_box(redis_protocol_resp3_decode(black_box(stream))));
    });
    g.bench_function("redis-rs", |b| {
        b.iter(|| black_box(redis_rs_decode(&mut parser, black_box(stream))));
    });
}

fn decode(c: &mut Criterion) {
    let ok = stream(b"+OK\r\n");
    let mut g = c.benchmark_group("decode_ok");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("redpipe", |b| {
        redpipe_decode(
            b,
            &ok,
            |p| p.set("key", "value").expect("Vec storage grows"),
            |h, p| {
                let _ = black_box(h.read(p));
            },
            |h, p| h.cast::<&[u8]>().read(p) == Ok(b"OK"),
        );
    });
    decode_others(&mut g, &ok, |p| {
        p.set("key", "value").expect("Vec storage grows")
    });
    g.finish();

    let int = stream(b":12345\r\n");
    let mut g = c.benchmark_group("decode_int");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("redpipe", |b| {
        redpipe_decode(
            b,
            &int,
            |p| p.incr("key").expect("Vec storage grows"),
            |h, p| {
                let _ = black_box(h.read(p));
            },
            |h, p| h.read(p) == Ok(12345),
        );
    });
    decode_others(&mut g, &int, |p| p.incr("key").expect("Vec storage grows"));
    g.finish();

    let mut bulk100 = b"$100\r\n".to_vec();
    bulk100.extend_from_slice(&VALUE);
    bulk100.extend_from_slice(b"\r\n");
    for (name, reply, want) in [
        ("decode_bulk_3b", &b"$3\r\nfoo\r\n"[..], &b"foo"[..]),
        ("decode_bulk_100b", &bulk100[..], &VALUE[..]),
    ] {
        let bulk = stream(reply);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function("redpipe", |b| {
            redpipe_decode(
                b,
                &bulk,
                |p| p.get::<&[u8]>("key").expect("Vec storage grows"),
                |h, p| {
                    let _ = black_box(h.read(p));
                },
                |h, p| h.read(p) == Ok(want),
            );
        });
        decode_others(&mut g, &bulk, |p| {
            p.get::<&[u8]>("key").expect("Vec storage grows")
        });
        g.finish();
    }

    let mut array10 = b"*10\r\n".to_vec();
    for _ in 0..10 {
        array10.extend_from_slice(b"$5\r\nhello\r\n");
    }
    let array = stream(&array10);
    let mut g = c.benchmark_group("decode_array_10");
    g.throughput(Throughput::Elements(N as u64));
    // Lazily, borrowing every element: the allocation-free way to read an array.
    g.bench_function("redpipe", |b| {
        redpipe_decode(
            b,
            &array,
            |p| {
                p.lrange::<Seq<&[u8]>>("key", 0, 9)
                    .expect("Vec storage grows")
            },
            |h, p| {
                for item in h.read(p).expect("an array") {
                    let _ = black_box(item);
                }
            },
            |h, p| {
                h.read(p)
                    .is_ok_and(|items| items.eq([Ok(&b"hello"[..]); 10]))
            },
        );
    });
    // Collected into a `Vec`, as a caller who keeps the elements would.
    g.bench_function("redpipe-vec", |b| {
        redpipe_decode(
            b,
            &array,
            |p| {
                p.lrange::<Vec<&[u8]>>("key", 0, 9)
                    .expect("Vec storage grows")
            },
            |h, p| {
                let _ = black_box(h.read(p));
            },
            |h, p| h.read(p) == Ok(vec![&b"hello"[..]; 10]),
        );
    });
    decode_others(&mut g, &array, |p| {
        p.lrange::<Seq<&[u8]>>("key", 0, 9)
            .expect("Vec storage grows")
    });
    g.finish();
}

// ---- allocations ----

/// Allocator calls (allocations and reallocations) per command over a few warm rounds.
fn allocs_per_command(mut round: impl FnMut()) -> f64 {
    const WARM_UP: usize = 3;
    const ROUNDS: usize = 10;
    for _ in 0..WARM_UP {
        round();
    }
    let region = Region::new(GLOBAL);
    for _ in 0..ROUNDS {
        round();
    }
    let stats = region.change();
    (stats.allocations + stats.reallocations) as f64 / (ROUNDS * N) as f64
}

fn report_allocations() {
    let replies: Vec<u8> = (1..=N)
        .flat_map(|i| format!(":{i}\r\n").into_bytes())
        .collect();

    // redpipe: queue, send, read replies, read every result; the handle list is reused too.
    let mut p = VecPipeline::new();
    let mut handles = Vec::with_capacity(N);
    let redpipe = allocs_per_command(|| {
        p.reset();
        handles.clear();
        handles.extend((0..N).map(|_| p.incr(black_box("key")).expect("Vec storage grows")));
        let sent = black_box(p.poll_output()).len();
        p.consume_output(sent);
        let used = p.handle_input(black_box(&replies)).expect("valid replies");
        assert_eq!(used, replies.len());
        for (i, &h) in handles.iter().enumerate() {
            assert_eq!(black_box(h.read(&p)), Ok(i as i64 + 1));
        }
    });

    // redis-rs: a reused (cleared) pipeline, packed.
    let mut pipe = redis::pipe();
    let queue = |pipe: &mut redis::Pipeline| {
        pipe.clear();
        for _ in 0..N {
            pipe.cmd("INCR").arg(black_box("key"));
        }
        pipe.get_packed_pipeline()
    };
    let redis_rs = allocs_per_command(|| {
        black_box(queue(&mut pipe));
    });
    // redis-rs: the same, plus parsing the replies with a reused parser.
    let mut parser = redis::Parser::new();
    let redis_rs_parse = allocs_per_command(|| {
        black_box(queue(&mut pipe));
        let mut reader = &replies[..];
        for _ in 0..N {
            black_box(parser.parse_value(&mut reader).expect("valid replies"));
        }
    });
    // redis-protocol: encode into a reused buffer, decode_range every reply.
    let mut buf = vec![0u8; p.encoded().len()];
    let redis_protocol = allocs_per_command(|| {
        let mut at = 0;
        for _ in 0..N {
            let args = [
                BorrowedFrame::BulkString(b"INCR"),
                BorrowedFrame::BulkString(black_box(b"key")),
            ];
            at += encode_borrowed(&mut buf[at..], &BorrowedFrame::Array(&args), false)
                .expect("the buffer is sized for the whole pipeline");
        }
        black_box(&buf[..at]);
        assert_eq!(redis_protocol_resp2_decode(&replies), N);
    });

    println!("allocs/command warm: redpipe {redpipe:.3}, redis-rs {redis_rs:.3}");
    println!(
        "allocs/command warm, {N} INCRs: redpipe queue+consume+handle_input+read {redpipe:.3}; \
         redis-rs pipe+get_packed_pipeline {redis_rs:.3}, with Parser::parse_value \
         {redis_rs_parse:.3}; redis-protocol encode_borrowed+resp2 decode_range {redis_protocol:.3}"
    );
}

// ---- client-side cache ----

/// The hit path of the client-side cache: 1000 `GET`s queued into a reused pipeline, every one
/// answered by `Cache::plan` (the command read, the lookup, the LRU update, the reply copied into
/// the pipeline's arena), `Cache::finish`, then every handle read. Beside it, the same pipeline
/// fed the same replies from a stream (the reading a round trip ends with, without the round
/// trip), with a cache that misses every read and stores every reply, and without a cache.
fn cache(c: &mut Criterion) {
    use redpipe_core::cache::{Cache, CacheConfig};
    let keys: Vec<String> = (0..N).map(|i| format!("key:{i}")).collect();
    let mut reply = format!("${}\r\n", VALUE.len()).into_bytes();
    reply.extend_from_slice(&VALUE);
    reply.extend_from_slice(b"\r\n");
    let stream = stream(&reply);
    let mut cache = Cache::new(CacheConfig::new(2 * N));
    cache.set_tracking(true);
    let mut p = VecPipeline::new();
    let queue = |p: &mut VecPipeline| -> Vec<Deferred<&[u8]>> {
        p.reset();
        keys.iter()
            .map(|k| p.get::<&[u8]>(k.as_str()).expect("Vec grows"))
            .collect()
    };
    // Fill it once.
    let _ = queue(&mut p);
    let plan = cache.plan(&mut p);
    let out = p.poll_output().len();
    p.consume_output(out);
    p.handle_input(&stream).expect("valid replies");
    cache.finish(plan, &mut p);
    let mut g = c.benchmark_group("cache");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("hits_1000_get", |b| {
        b.iter(|| {
            let handles = queue(&mut p);
            let plan = cache.plan(&mut p);
            assert!(plan.is_answered());
            cache.finish(plan, &mut p);
            for h in &handles {
                black_box(h.read(&p).map(<[u8]>::len).unwrap_or(0));
            }
        });
    });
    // Every read a miss (the cache emptied before each run, untimed): the plan finds nothing,
    // the pipeline is read from the stream, and every reply is stored.
    let shared = std::cell::RefCell::new(&mut cache);
    g.bench_function("misses_1000_get", |b| {
        b.iter_batched(
            || shared.borrow_mut().flush(),
            |()| {
                let mut cache = shared.borrow_mut();
                let handles = queue(&mut p);
                let plan = cache.plan(&mut p);
                let out = p.poll_output().len();
                p.consume_output(out);
                p.handle_input(black_box(&stream)).expect("valid replies");
                cache.finish(plan, &mut p);
                for h in &handles {
                    black_box(h.read(&p).map(<[u8]>::len).unwrap_or(0));
                }
            },
            criterion::BatchSize::PerIteration,
        );
    });
    g.bench_function("stream_1000_get", |b| {
        b.iter(|| {
            let handles = queue(&mut p);
            let out = p.poll_output().len();
            p.consume_output(out);
            p.handle_input(black_box(&stream)).expect("valid replies");
            for h in &handles {
                black_box(h.read(&p).map(<[u8]>::len).unwrap_or(0));
            }
        });
    });
    g.finish();
}

fn pubsub(c: &mut Criterion) {
    use redpipe_core::pubsub::{Event, Kind, VecSubscriptions};
    let mut g = c.benchmark_group("pubsub");
    g.throughput(Throughput::Elements(N as u64));
    for (name, head) in [("resp2", b'*'), ("resp3", b'>')] {
        let mut frame = vec![head];
        frame.extend_from_slice(b"3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$100\r\n");
        frame.extend_from_slice(&VALUE);
        frame.extend_from_slice(b"\r\n");
        let stream = stream(&frame);
        let mut subs = VecSubscriptions::default();
        subs.subscribe(Kind::Channel, &["news"]).expect("Vec grows");
        let read = |subs: &mut VecSubscriptions, mut rest: &[u8]| {
            let mut payload = 0;
            while let Some((event, used)) = subs.handle_input(rest).expect("valid frames") {
                if let Event::Message(m) = event {
                    payload += m.payload.len() + m.channel.len();
                }
                rest = &rest[used..];
            }
            payload
        };
        assert_eq!(read(&mut subs, &stream), N * 104);
        g.bench_function(format!("redpipe_{name}_1000_message"), |b| {
            b.iter(|| read(&mut subs, black_box(&stream)));
        });
        if head == b'*' {
            g.bench_function("redis-protocol_resp2_1000_message", |b| {
                b.iter(|| redis_protocol_resp2_decode(black_box(&stream)));
            });
        } else {
            g.bench_function("redis-protocol_resp3_1000_message", |b| {
                b.iter(|| redis_protocol_resp3_decode(black_box(&stream)));
            });
        }
    }
    g.finish();
}

fn main() {
    report_allocations();
    let mut c = Criterion::default().configure_from_args();
    encode(&mut c);
    decode(&mut c);
    cache(&mut c);
    pubsub(&mut c);
    c.final_summary();
}
