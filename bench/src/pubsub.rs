//! Figure (h): Pub/Sub, messages per second into subscribers (issue 28).
//!
//! One publisher (redpipe, blocking, 1 000 `PUBLISH` per pipeline, 100-byte payloads) sends a
//! fixed number of messages as fast as the server takes them; the measurement is the time
//! from the first publish until the subscribers under test have received every message, so a
//! subscriber that reads slowly shows as a lower rate (the server holds what it has not read,
//! well under its output-buffer limits at these counts). Two shapes:
//! - **one channel, one subscriber**: `SUBSCRIBE h` and 250 000 messages;
//! - **fan-out**: 100 subscribers of the pattern `h*` and 10 000 messages, so 1 000 000
//!   deliveries, the rate counted in deliveries.
//!
//! Contenders: redpipe's `AsyncSubscriber` (tokio) and `Subscriber` (blocking, a reader thread
//! each), redis-rs 1.8 `aio::PubSub` and fred 10 (a client's `message_rx`); and redpipe's
//! `AsyncSubscriber::on_shared`, every subscriber of a run on one shared RESP3 connection that
//! pipelines could use too (the server sends each message once, the connection's fan-out
//! hands it to each subscriber). Each subscriber
//! counts what it receives on its own task or thread; a message lost (fred's broadcast channel
//! lags, a redpipe buffer overflows) is never counted, and a run that does not receive every
//! message within 60 s is an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redpipe::Connections;
use redpipe::prelude::*;
use redpipe::pubsub::{AsyncSubscriber, Event, Overflow, Subscriber};
use tokio::runtime::Runtime;

use crate::report::{self, Samples, Table};
use crate::service::census::Census;

const PAYLOAD: usize = 100;
const BATCH: usize = 1000;
const DEADLINE: Duration = Duration::from_secs(60);
/// A redpipe subscriber's buffer: room for every message of a run (no message is dropped).
const ROOM: usize = 1 << 20;

/// A shape of the figure: how many subscribers, and how many messages are published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    One,
    FanOut,
}

impl Shape {
    const ALL: [Shape; 2] = [Shape::One, Shape::FanOut];

    fn subscribers(self) -> usize {
        match self {
            Self::One => 1,
            Self::FanOut => 100,
        }
    }

    fn messages(self, quick: bool) -> u64 {
        let n = match self {
            // 250 000: a run of about a quarter of a second, long enough that one scheduling
            // hiccup does not decide it, short enough that a subscriber reading at half the
            // publisher's pace stays under the server's pub/sub output-buffer limit (32 MiB).
            Self::One => 250_000,
            Self::FanOut => 10_000,
        };
        if quick { n / 5 } else { n }
    }

    fn label(self) -> &'static str {
        match self {
            Self::One => "1 channel, 1 subscriber",
            Self::FanOut => "pattern h*, 100 subscribers",
        }
    }
}

/// A subscribing client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Redpipe,
    RedpipeBlocking,
    RedisRs,
    Fred,
    RedpipeShared,
}

impl Who {
    /// The first is the one the ratio columns compare with redis-rs (the third) and fred.
    const ALL: [Who; 5] = [
        Who::Redpipe,
        Who::RedpipeBlocking,
        Who::RedisRs,
        Who::Fred,
        Who::RedpipeShared,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Redpipe => "redpipe AsyncSubscriber",
            Self::RedpipeBlocking => "redpipe Subscriber (blocking)",
            Self::RedisRs => "redis-rs aio::PubSub",
            Self::Fred => "fred",
            Self::RedpipeShared => "redpipe on_shared",
        }
    }
}

/// Messages received, over every subscriber of a run.
type Count = Arc<AtomicU64>;

/// A run's subscribers: blocking ones on threads, async ones as tasks of the runtime.
#[derive(Default)]
struct Running {
    threads: Vec<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// fred's clients, which close their connections only when told to.
    fred: Vec<fred::clients::Client>,
    /// The registry whose shared connection the `on_shared` subscribers use.
    shared: Option<Connections>,
}

impl Running {
    /// Ends every subscriber of the run and waits until each is gone: a task is aborted (a
    /// subscriber that has every message of its own still waits for one more), a thread sees
    /// the count past its end. A subscriber left behind would go on receiving, and slowing,
    /// every later run.
    fn end(self, rt: &Runtime) {
        for task in &self.tasks {
            task.abort();
        }
        rt.block_on(async {
            for task in self.tasks {
                let _ = task.await;
            }
            for client in self.fred {
                use fred::interfaces::ClientLike;
                let _ = client.quit().await;
            }
        });
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Subscribes `n` subscribers of `who` (each counting into `count`), returns once every one is
/// subscribed; they stop when `count` reaches `until`.
fn subscribe(
    rt: &Runtime,
    url: &str,
    (who, shape, quick): (Who, Shape, bool),
    count: &Count,
    until: u64,
) -> crate::Result<Running> {
    let pattern = shape == Shape::FanOut;
    let mut run = Running::default();
    if who == Who::RedpipeShared {
        let r = Connections::new();
        let sep = if url.contains('?') { '&' } else { '?' };
        r.register(redpipe::DEFAULT, &format!("{url}{sep}protocol=3"))?;
        // The shared connection opens with a first pipeline.
        let _ = rt.block_on(r.autoexec_async(None, |p| Ok(p.ping())))?;
        run.shared = Some(r);
    }
    for _ in 0..shape.subscribers() {
        let count = count.clone();
        match who {
            Who::Redpipe | Who::RedpipeShared => {
                let mut sub = match &run.shared {
                    Some(r) => rt.block_on(AsyncSubscriber::on_shared(r, redpipe::DEFAULT))?,
                    None => rt.block_on(AsyncSubscriber::on(&registry(url)?, redpipe::DEFAULT))?,
                };
                sub.buffer(ROOM, 1 << 28, Overflow::DropOldest);
                if pattern {
                    rt.block_on(sub.psubscribe(&["h*"]))?;
                } else {
                    rt.block_on(sub.subscribe(&["h"]))?;
                }
                run.tasks.push(rt.spawn(async move {
                    while let Some(Ok(event)) = sub.next().await {
                        if let Event::Message(_) = event
                            && count.fetch_add(1, Ordering::Relaxed) + 1 >= until
                        {
                            break;
                        }
                    }
                }));
            }
            Who::RedpipeBlocking => {
                let r = registry(url)?;
                let mut sub = Subscriber::on(&r, redpipe::DEFAULT)?;
                sub.buffer(ROOM, 1 << 28, Overflow::DropOldest);
                if pattern {
                    sub.psubscribe(&["h*"])?;
                } else {
                    sub.subscribe(&["h"])?;
                }
                run.threads.push(std::thread::spawn(move || {
                    let start = Instant::now();
                    while count.load(Ordering::Relaxed) < until && start.elapsed() < DEADLINE {
                        if let Ok(Some(Event::Message(_))) =
                            sub.next_event(Some(Duration::from_millis(100)))
                        {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
            }
            Who::RedisRs => {
                let client = redis::Client::open(url)?;
                let mut sub = rt.block_on(client.get_async_pubsub())?;
                if pattern {
                    rt.block_on(sub.psubscribe("h*"))?;
                } else {
                    rt.block_on(sub.subscribe("h"))?;
                }
                run.tasks.push(rt.spawn(async move {
                    let mut messages = sub.into_on_message();
                    while messages.next().await.is_some() {
                        if count.fetch_add(1, Ordering::Relaxed) + 1 >= until {
                            break;
                        }
                    }
                }));
            }
            Who::Fred => {
                use fred::prelude::*;
                let config = Config::from_url(url)?;
                let mut builder = Builder::from_config(config);
                // Room for every message of the run, as redpipe's buffers have: fred's
                // broadcast channel (32 by default) would drop what the counter has not read.
                let room = usize::try_from(shape.messages(quick)).unwrap_or(usize::MAX);
                builder.with_performance_config(|c| c.broadcast_channel_capacity = room);
                let client = builder.build()?;
                rt.block_on(client.init())?;
                let mut rx = client.message_rx();
                if pattern {
                    rt.block_on(client.psubscribe("h*"))?;
                } else {
                    rt.block_on(client.subscribe("h"))?;
                }
                run.fred.push(client);
                run.tasks.push(rt.spawn(async move {
                    loop {
                        match rx.recv().await {
                            Ok(_) => {
                                if count.fetch_add(1, Ordering::Relaxed) + 1 >= until {
                                    break;
                                }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                            Err(_) => break,
                        }
                    }
                }));
            }
        }
    }
    Ok(run)
}

fn registry(url: &str) -> crate::Result<Connections> {
    let r = Connections::new();
    r.register(redpipe::DEFAULT, url)?;
    Ok(r)
}

/// Publishes `n` messages on channel `h`, `BATCH` per pipeline.
fn publish(publisher: &Connections, n: u64) -> crate::Result<()> {
    let payload = vec![b'x'; PAYLOAD];
    let mut left = n;
    while left > 0 {
        let batch = left.min(BATCH as u64);
        publisher.autoexec(None, |p| {
            for _ in 0..batch {
                let _ = p.publish("h", payload.as_slice());
            }
            Ok(())
        })?;
        left -= batch;
    }
    Ok(())
}

/// One measurement: deliveries per second, and the deliveries lost (a client that stops
/// receiving for 3 s before it has every message lost the rest: its rate counts what arrived,
/// until the last arrival).
fn measure(
    (rt, url, census): (&Runtime, &str, &mut Census),
    who: Who,
    shape: Shape,
    quick: bool,
) -> crate::Result<(f64, u64)> {
    let messages = shape.messages(quick);
    let until = messages * shape.subscribers() as u64;
    let count: Count = Arc::default();
    let running = subscribe(rt, url, (who, shape, quick), &count, until)?;
    let publisher = registry(url)?;
    let start = Instant::now();
    publish(&publisher, messages)?;
    let (mut seen, mut last) = (0, start.elapsed());
    loop {
        let now = count.load(Ordering::Relaxed);
        if now >= until {
            last = start.elapsed();
            seen = now;
            break;
        }
        if now > seen {
            (seen, last) = (now, start.elapsed());
        } else if start.elapsed() - last > Duration::from_secs(3) {
            break;
        }
        if start.elapsed() > DEADLINE {
            return Err(format!(
                "(h) {}: {seen} of {until} messages in {DEADLINE:?}",
                who.label()
            )
            .into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let lost = until - seen;
    // The count past its end stops the blocking readers; every subscriber is gone, and the
    // server has closed its connections, before the next run starts.
    count.fetch_add(until, Ordering::Relaxed);
    running.end(rt);
    drop(publisher);
    census.settle()?;
    Ok((seen as f64 / last.as_secs_f64(), lost))
}

/// One cell of figure (h) `runs` times, each run's rate printed (for `perf`, `--profile
/// pubsub,SHAPE,CLIENT[,RUNS]`; SHAPE `one` or `fanout`, CLIENT `redpipe`, `redpipe-blocking`,
/// `redis-rs`, `fred` or `redpipe-shared`).
pub(crate) fn profile(url: &str, shape: &str, who: &str, runs: usize) -> crate::Result<()> {
    let usage = "--profile pubsub,SHAPE,CLIENT[,RUNS]: SHAPE one fanout; \
                 CLIENT redpipe redpipe-blocking redis-rs fred redpipe-shared";
    let shape = match shape {
        "one" => Shape::One,
        "fanout" => Shape::FanOut,
        _ => return Err(usage.into()),
    };
    let who = match who {
        "redpipe" => Who::Redpipe,
        "redpipe-blocking" => Who::RedpipeBlocking,
        "redis-rs" => Who::RedisRs,
        "fred" => Who::Fred,
        "redpipe-shared" => Who::RedpipeShared,
        _ => return Err(usage.into()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut census = Census::open(&url.parse()?)?;
    for run in 0..runs {
        let (rate, lost) = measure((&rt, url, &mut census), who, shape, false)?;
        eprintln!(
            "(h) {} {} run {}/{runs}: {} (lost {lost})",
            shape.label(),
            who.label(),
            run + 1,
            report::rate(rate)
        );
    }
    Ok(())
}

/// Runs figure (h): every shape and client, `reps` times in a rotating order.
pub(crate) fn figure(
    url: &str,
    (reps, quick): (usize, bool),
    settle: &dyn Fn(),
) -> crate::Result<Vec<Table>> {
    // One worker drives every async subscriber in the background while this thread publishes.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut census = Census::open(&url.parse()?)?;
    let mut samples = vec![vec![Samples::default(); Who::ALL.len()]; Shape::ALL.len()];
    let mut lost = Vec::new();
    // One run of every cell first, not counted: the first runs of a process (and of a server)
    // are slower for all (memory not yet mapped on either side), whichever client runs first.
    settle();
    for &shape in &Shape::ALL {
        for &who in &Who::ALL {
            measure((&rt, url, &mut census), who, shape, true)?;
        }
    }
    for rep in 0..reps {
        for (s, &shape) in Shape::ALL.iter().enumerate() {
            settle();
            let mut line = format!("(h) rep {}/{reps} {}:", rep + 1, shape.label());
            for i in 0..Who::ALL.len() {
                let w = (i + rep) % Who::ALL.len();
                let (rate, gone) = measure((&rt, url, &mut census), Who::ALL[w], shape, quick)?;
                line.push_str(&format!(" {} {}", Who::ALL[w].label(), report::rate(rate)));
                samples[s][w].push(rate);
                if gone > 0 {
                    lost.push(format!(
                        "{} lost {gone} deliveries ({}, run {})",
                        Who::ALL[w].label(),
                        shape.label(),
                        rep + 1
                    ));
                }
            }
            eprintln!("{line}");
        }
    }
    let spread = if reps > 1 {
        format!("(min–max) of {reps} runs")
    } else {
        "(one run, --quick)".into()
    };
    let mut header = vec!["shape"];
    header.extend(Who::ALL.iter().map(|w| w.label()));
    header.extend(["redpipe / redis-rs", "redpipe / fred"]);
    let mut t = Table::new(
        format!("(h) Pub/Sub: messages delivered per second, median {spread}"),
        &header,
        1,
    );
    for (s, shape) in Shape::ALL.iter().enumerate() {
        let row = &samples[s];
        let mut cells = vec![shape.label().to_string()];
        cells.extend(row.iter().map(|x| x.show(report::rate)));
        cells.push(Samples::ratio(&row[0], &row[2]).show(|r| format!("{r:.2}")));
        cells.push(Samples::ratio(&row[0], &row[3]).show(|r| format!("{r:.2}")));
        t.rows.push(cells);
    }
    t.notes.push(format!(
        "one redpipe publisher, {BATCH} PUBLISH per pipeline, {PAYLOAD}-byte payloads; \
         the rate is deliveries from the first publish until every subscriber received every \
         message (for a client that lost some, until the last that arrived)"
    ));
    if lost.is_empty() {
        t.notes.push("no client lost a delivery".into());
    } else {
        t.notes.push(format!("lost: {}", lost.join("; ")));
    }
    Ok(vec![t])
}
