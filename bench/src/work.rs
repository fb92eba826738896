//! Figure (f), real work (issue 16): distinct keys over a range, 100 B and 1 KiB values, owned
//! and borrowed reads, and a mixed read profile, for every way of using redpipe beside redis-rs
//! and `redis-benchmark`.
//!
//! - Keys: `key:%012d` and `counter:%012d` over 10 000 keys, as `redis-benchmark -r 10000`
//!   writes them. `redis-benchmark` picks them at random; the clients here take them in turn
//!   (batch after batch through the range), from strings made once before timing, as
//!   `redis-benchmark` patches its prebuilt buffer: formatting keys is not what is measured.
//! - Values: every key holds a value of the workload's size (100 B or 1 KiB) before a `GET`
//!   workload is measured.
//! - Reads: "borrowed" reads each `GET` as `Option<&[u8]>` (redpipe borrows from its reply
//!   arena; redis-rs has no borrowed read, so it reads `Option<Vec<u8>>` in every row), "owned"
//!   as `Option<Vec<u8>>`.
//! - Profile: per item `HGETALL item:%012d` (5 fields) + `ZSCORE scores member:%012d` +
//!   `GET key:%012d` (100 B) read into `HashMap<String, String>`, `Option<f64>` and
//!   `Option<String>`. Its batch counts items (3 commands each); its rate counts commands.
//!   `redis-benchmark` cannot run a mix, so it has no figure there.
//!
//! Contenders: `redis-benchmark -c 1 -P <batch> -r 10000 -d <size>` (the ceiling; `GET`,
//! `INCR`, `SET` only); redpipe's raw path, a reused `VecPipeline` on a `Connection` (blocking)
//! or `tokio::AsyncConnection`; redpipe's `Pipe` through `autoexec(None, ..)` per batch on a
//! registry, blocking and `autoexec_async`; redis-rs 1.8 with a reused `redis::pipe()` on a
//! `Connection` and on a multiplexed async connection.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use redpipe::core::VecPipeline;
use redpipe::prelude::*;
use redpipe::tokio::AsyncConnection;
use redpipe::{Connection, ConnectionInfo, Connections, FromReply, Handle, Pipe};
use tokio::runtime::Runtime;

use crate::procfs::{self, ServerCpu};
use crate::report::{self, Samples, Table};
use crate::{Result, Sample, per_command};

/// Keys in the range (`redis-benchmark -r`).
pub(crate) const KEYS: usize = 10_000;

/// Commands (items, for the profile) per pipeline.
pub(crate) const BATCHES: [usize; 4] = [1, 16, 256, 1000];

/// Fields of each profile hash.
const FIELDS: [(&str, &str); 5] = [
    ("name", "Ann Example"),
    ("email", "ann@example.com"),
    ("city", "Lisbon"),
    ("plan", "pro"),
    ("visits", "12345"),
];

/// One workload of the figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Work {
    /// `GET key:%012d` of `size`-byte values, read borrowed or owned.
    Get { size: usize, owned: bool },
    /// `INCR counter:%012d`.
    Incr,
    /// `SET key:%012d <size bytes>`.
    Set { size: usize },
    /// `HGETALL` + `ZSCORE` + `GET` per item, typed reads.
    Profile,
}

impl Work {
    pub(crate) const ALL: [Work; 8] = [
        Work::Get {
            size: 100,
            owned: false,
        },
        Work::Get {
            size: 100,
            owned: true,
        },
        Work::Get {
            size: 1024,
            owned: false,
        },
        Work::Get {
            size: 1024,
            owned: true,
        },
        Work::Incr,
        Work::Set { size: 100 },
        Work::Set { size: 1024 },
        Work::Profile,
    ];

    pub(crate) fn label(self) -> String {
        let size = |s: usize| if s >= 1024 { "1 KiB" } else { "100 B" };
        match self {
            Work::Get { size: s, owned } => {
                format!(
                    "GET {} {}",
                    size(s),
                    if owned { "owned" } else { "borrowed" }
                )
            }
            Work::Incr => "INCR".into(),
            Work::Set { size: s } => format!("SET {}", size(s)),
            Work::Profile => "profile (HGETALL+ZSCORE+GET)".into(),
        }
    }

    /// Commands per batch unit (3 for the profile's items).
    pub(crate) fn commands_per_item(self) -> usize {
        if self == Work::Profile { 3 } else { 1 }
    }

    /// `redis-benchmark`'s `-t` and `-d`, when it can run this workload.
    fn tool_args(self) -> Option<(&'static str, usize)> {
        match self {
            Work::Get { size, owned: false } => Some(("get", size)),
            Work::Incr => Some(("incr", 3)),
            Work::Set { size } => Some(("set", size)),
            Work::Get { owned: true, .. } | Work::Profile => None,
        }
    }
}

/// The strings every client uses, made once.
pub(crate) struct Keys {
    keys: Vec<String>,
    counters: Vec<String>,
    items: Vec<String>,
    members: Vec<String>,
    value_100: Vec<u8>,
    value_1k: Vec<u8>,
}

impl Keys {
    pub(crate) fn new() -> Self {
        let range = |prefix: &str| (0..KEYS).map(|i| format!("{prefix}:{i:012}")).collect();
        Self {
            keys: range("key"),
            counters: range("counter"),
            items: range("item"),
            members: range("member"),
            // `redis-benchmark -d` sends `x`s.
            value_100: vec![b'x'; 100],
            value_1k: vec![b'x'; 1024],
        }
    }

    fn value(&self, size: usize) -> &[u8] {
        if size >= 1024 {
            &self.value_1k
        } else {
            &self.value_100
        }
    }
}

/// Where a client is in the key range; every client walks it the same way.
#[derive(Default)]
struct Cursor(usize);

impl Cursor {
    /// The indices of the next `n` items.
    fn take(&mut self, n: usize) -> impl Iterator<Item = usize> + use<> {
        let start = self.0;
        self.0 = (self.0 + n) % KEYS;
        (start..start + n).map(|i| i % KEYS)
    }
}

/// A client under test for figure (f).
pub(crate) trait WorkClient {
    /// Runs `batches` pipelines of `batch` items of workload `w`, reading every result;
    /// returns a checksum.
    fn run(
        &mut self,
        rt: &Runtime,
        keys: &Keys,
        w: Work,
        batch: usize,
        batches: usize,
    ) -> Result<u64>;
}

fn slot_error(e: SlotError<'_>) -> Box<dyn std::error::Error> {
    e.to_string().into()
}

/// A profile item's three results, summed into a checksum.
fn profile_sum(hash: &HashMap<String, String>, score: Option<f64>, value: Option<&str>) -> u64 {
    hash.len() as u64 + score.map_or(0, |s| s as u64) + value.map_or(0, |v| v.len() as u64)
}

/// A profile item's three handles (`HGETALL`, `ZSCORE`, `GET`), for a queue whose handles are
/// `H<T>`.
type Item<H> = (
    <H as HandleKind>::Of<HashMap<String, String>>,
    <H as HandleKind>::Of<Option<f64>>,
    <H as HandleKind>::Of<Option<String>>,
);

/// The handle type of a queue, as a type function.
trait HandleKind {
    type Of<T: FromReply>;
}

/// The raw path's handles.
struct RawKind;
impl HandleKind for RawKind {
    type Of<T: FromReply> = Deferred<T>;
}

/// `Pipe`'s handles.
struct PipeKind;
impl HandleKind for PipeKind {
    type Of<T: FromReply> = Handle<T>;
}

/// Handle vectors of the raw path, reused across batches.
#[derive(Default)]
struct RawHandles {
    bulks: Vec<Deferred<Option<&'static [u8]>>>,
    owned: Vec<Deferred<Option<Vec<u8>>>>,
    ints: Vec<Deferred<i64>>,
    units: Vec<Deferred<()>>,
    profile: Vec<Item<RawKind>>,
}

impl RawHandles {
    /// Resets `p` and queues the next batch.
    fn queue(
        &mut self,
        p: &mut VecPipeline,
        keys: &Keys,
        cursor: &mut Cursor,
        w: Work,
        batch: usize,
    ) -> Result<()> {
        p.reset();
        self.bulks.clear();
        self.owned.clear();
        self.ints.clear();
        self.units.clear();
        self.profile.clear();
        for i in cursor.take(batch) {
            match w {
                Work::Get { owned: false, .. } => self.bulks.push(p.get(&keys.keys[i])?),
                Work::Get { owned: true, .. } => self.owned.push(p.get(&keys.keys[i])?),
                Work::Incr => self.ints.push(p.incr(&keys.counters[i])?),
                Work::Set { size } => self.units.push(p.set(&keys.keys[i], keys.value(size))?),
                Work::Profile => self.profile.push((
                    p.hgetall(&keys.items[i])?,
                    p.zscore("scores", &keys.members[i])?,
                    p.get(&keys.keys[i])?,
                )),
            }
        }
        Ok(())
    }

    /// Reads every handle of the batch.
    fn read(&self, p: &VecPipeline) -> Result<u64> {
        let mut sum = 0u64;
        for h in &self.bulks {
            sum += h.read(p).map_err(slot_error)?.ok_or("missing")?.len() as u64;
        }
        for h in &self.owned {
            sum += h.read(p).map_err(slot_error)?.ok_or("missing")?.len() as u64;
        }
        for h in &self.ints {
            sum = sum.wrapping_add(h.read(p).map_err(slot_error)? as u64);
        }
        for h in &self.units {
            h.read(p).map_err(slot_error)?;
            sum += 1;
        }
        for (hash, score, value) in &self.profile {
            let hash = hash.read(p).map_err(slot_error)?;
            let score = score.read(p).map_err(slot_error)?;
            let value = value.read(p).map_err(slot_error)?;
            sum += profile_sum(&hash, score, value.as_deref());
        }
        Ok(sum)
    }
}

/// redpipe's raw path, blocking: `Connection` + a reused `VecPipeline`.
pub(crate) struct RawBlocking {
    conn: Connection,
    p: VecPipeline,
    handles: RawHandles,
    cursor: Cursor,
}

impl RawBlocking {
    pub(crate) fn open(info: &ConnectionInfo) -> Result<Self> {
        Ok(Self {
            conn: Connection::open(info)?,
            p: VecPipeline::new(),
            handles: RawHandles::default(),
            cursor: Cursor::default(),
        })
    }
}

impl WorkClient for RawBlocking {
    fn run(&mut self, _: &Runtime, keys: &Keys, w: Work, batch: usize, n: usize) -> Result<u64> {
        let mut sum = 0u64;
        for _ in 0..n {
            self.handles
                .queue(&mut self.p, keys, &mut self.cursor, w, batch)?;
            self.conn.execute(&mut self.p)?;
            sum = sum.wrapping_add(self.handles.read(&self.p)?);
        }
        Ok(sum)
    }
}

/// redpipe's raw path on tokio: `AsyncConnection` + a reused `VecPipeline`.
pub(crate) struct RawTokio {
    conn: AsyncConnection,
    p: VecPipeline,
    handles: RawHandles,
    cursor: Cursor,
}

impl RawTokio {
    pub(crate) fn open(rt: &Runtime, info: &ConnectionInfo) -> Result<Self> {
        Ok(Self {
            conn: rt.block_on(AsyncConnection::open(info))?,
            p: VecPipeline::new(),
            handles: RawHandles::default(),
            cursor: Cursor::default(),
        })
    }
}

impl WorkClient for RawTokio {
    fn run(&mut self, rt: &Runtime, keys: &Keys, w: Work, batch: usize, n: usize) -> Result<u64> {
        rt.block_on(async {
            let mut sum = 0u64;
            for _ in 0..n {
                self.handles
                    .queue(&mut self.p, keys, &mut self.cursor, w, batch)?;
                self.conn.execute(&mut self.p).await?;
                sum = sum.wrapping_add(self.handles.read(&self.p)?);
            }
            Ok(sum)
        })
    }
}

/// Handles of the `Pipe` path, reused vectors (the handles themselves are new each batch).
#[derive(Default)]
struct PipeHandles {
    bulks: Vec<Handle<Option<&'static [u8]>>>,
    owned: Vec<Handle<Option<Vec<u8>>>>,
    ints: Vec<Handle<i64>>,
    units: Vec<Handle<()>>,
    profile: Vec<Item<PipeKind>>,
}

impl PipeHandles {
    fn queue(&mut self, p: &mut Pipe, keys: &Keys, cursor: &mut Cursor, w: Work, batch: usize) {
        for i in cursor.take(batch) {
            match w {
                Work::Get { owned: false, .. } => self.bulks.push(p.get(&keys.keys[i]).cast()),
                Work::Get { owned: true, .. } => self.owned.push(p.get(&keys.keys[i]).cast()),
                Work::Incr => self.ints.push(p.incr(&keys.counters[i])),
                Work::Set { size } => self.units.push(p.set(&keys.keys[i], keys.value(size))),
                Work::Profile => self.profile.push((
                    p.hgetall(&keys.items[i]).cast(),
                    p.zscore("scores", &keys.members[i]),
                    p.get(&keys.keys[i]),
                )),
            }
        }
    }

    /// Reads every handle, then drops them all (as a program's handles go out of scope).
    fn read(&mut self) -> Result<u64> {
        let mut sum = 0u64;
        for h in self.bulks.drain(..) {
            sum += h.result()?.ok_or("missing")?.len() as u64;
        }
        for h in self.owned.drain(..) {
            sum += h.result()?.ok_or("missing")?.len() as u64;
        }
        for h in self.ints.drain(..) {
            sum = sum.wrapping_add(h.result()? as u64);
        }
        for h in self.units.drain(..) {
            h.result()?;
            sum += 1;
        }
        for (hash, score, value) in self.profile.drain(..) {
            let value = value.result()?;
            sum += profile_sum(&hash.result()?, score.result()?, value.as_deref());
        }
        Ok(sum)
    }
}

/// redpipe's `Pipe`: `autoexec(None, ..)` per batch on a registry (blocking or async).
pub(crate) struct PipeClient {
    registry: Connections,
    asynchronous: bool,
    handles: PipeHandles,
    cursor: Cursor,
}

impl PipeClient {
    pub(crate) fn open(url: &str, asynchronous: bool) -> Result<Self> {
        let registry = Connections::new();
        registry.connect(url)?;
        Ok(Self {
            registry,
            asynchronous,
            handles: PipeHandles::default(),
            cursor: Cursor::default(),
        })
    }
}

impl WorkClient for PipeClient {
    fn run(&mut self, rt: &Runtime, keys: &Keys, w: Work, batch: usize, n: usize) -> Result<u64> {
        let mut sum = 0u64;
        for _ in 0..n {
            let (handles, cursor) = (&mut self.handles, &mut self.cursor);
            let queue = |p: &mut Pipe| {
                handles.queue(p, keys, cursor, w, batch);
                Ok(())
            };
            if self.asynchronous {
                rt.block_on(self.registry.autoexec_async(None, queue))?;
            } else {
                self.registry.autoexec(None, queue)?;
            }
            sum = sum.wrapping_add(self.handles.read()?);
        }
        Ok(sum)
    }
}

/// Fills a reused redis-rs pipeline with the next batch.
fn redis_rs_queue(
    pipe: &mut redis::Pipeline,
    keys: &Keys,
    cursor: &mut Cursor,
    w: Work,
    batch: usize,
) {
    pipe.clear();
    for i in cursor.take(batch) {
        match w {
            Work::Get { .. } => {
                pipe.cmd("GET").arg(&keys.keys[i]);
            }
            Work::Incr => {
                pipe.cmd("INCR").arg(&keys.counters[i]);
            }
            Work::Set { size } => {
                pipe.cmd("SET").arg(&keys.keys[i]).arg(keys.value(size));
            }
            Work::Profile => {
                pipe.cmd("HGETALL").arg(&keys.items[i]);
                pipe.cmd("ZSCORE").arg("scores").arg(&keys.members[i]);
                pipe.cmd("GET").arg(&keys.keys[i]);
            }
        }
    }
}

/// Reads a redis-rs pipeline's values as the workload's types.
fn redis_rs_read(values: Vec<redis::Value>, w: Work) -> Result<u64> {
    let mut sum = 0u64;
    match w {
        Work::Get { .. } => {
            for v in values {
                let v: Option<Vec<u8>> = redis::from_redis_value(v)?;
                sum += v.ok_or("missing")?.len() as u64;
            }
        }
        Work::Incr => {
            for v in values {
                sum = sum.wrapping_add(redis::from_redis_value::<i64>(v)? as u64);
            }
        }
        Work::Set { .. } => {
            for v in values {
                redis::from_redis_value::<()>(v)?;
                sum += 1;
            }
        }
        Work::Profile => {
            let mut it = values.into_iter();
            while let (Some(h), Some(s), Some(g)) = (it.next(), it.next(), it.next()) {
                let hash: HashMap<String, String> = redis::from_redis_value(h)?;
                let score: Option<f64> = redis::from_redis_value(s)?;
                let value: Option<String> = redis::from_redis_value(g)?;
                sum += profile_sum(&hash, score, value.as_deref());
            }
        }
    }
    Ok(sum)
}

/// redis-rs 1.8, sync: a reused `redis::pipe()` on a `Connection`.
pub(crate) struct RedisSync {
    con: redis::Connection,
    pipe: redis::Pipeline,
    cursor: Cursor,
}

impl RedisSync {
    pub(crate) fn open(url: &str) -> Result<Self> {
        Ok(Self {
            con: redis::Client::open(url)?.get_connection()?,
            pipe: redis::pipe(),
            cursor: Cursor::default(),
        })
    }
}

impl WorkClient for RedisSync {
    fn run(&mut self, _: &Runtime, keys: &Keys, w: Work, batch: usize, n: usize) -> Result<u64> {
        let mut sum = 0u64;
        for _ in 0..n {
            redis_rs_queue(&mut self.pipe, keys, &mut self.cursor, w, batch);
            let values: Vec<redis::Value> = self.pipe.query(&mut self.con)?;
            sum = sum.wrapping_add(redis_rs_read(values, w)?);
        }
        Ok(sum)
    }
}

/// redis-rs 1.8, async: a reused `redis::pipe()` on a multiplexed connection.
pub(crate) struct RedisAsync {
    con: redis::aio::MultiplexedConnection,
    pipe: redis::Pipeline,
    cursor: Cursor,
}

impl RedisAsync {
    pub(crate) fn open(rt: &Runtime, url: &str) -> Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            con: rt.block_on(client.get_multiplexed_async_connection())?,
            pipe: redis::pipe(),
            cursor: Cursor::default(),
        })
    }
}

impl WorkClient for RedisAsync {
    fn run(&mut self, rt: &Runtime, keys: &Keys, w: Work, batch: usize, n: usize) -> Result<u64> {
        rt.block_on(async {
            let mut sum = 0u64;
            for _ in 0..n {
                redis_rs_queue(&mut self.pipe, keys, &mut self.cursor, w, batch);
                let values: Vec<redis::Value> = self.pipe.query_async(&mut self.con).await?;
                sum = sum.wrapping_add(redis_rs_read(values, w)?);
            }
            Ok(sum)
        })
    }
}

/// The contenders, in table order; index 0 is `redis-benchmark`.
pub(crate) const CONTENDERS: [&str; 7] = [
    "redis-benchmark",
    "raw",
    "raw tokio",
    "Pipe",
    "Pipe async",
    "redis-rs",
    "redis-rs async",
];

/// Every client contender (1..), connected.
pub(crate) fn open_all(
    rt: &Runtime,
    info: &ConnectionInfo,
    url: &str,
) -> Result<Vec<Box<dyn WorkClient>>> {
    Ok(vec![
        Box::new(RawBlocking::open(info)?),
        Box::new(RawTokio::open(rt, info)?),
        Box::new(PipeClient::open(url, false)?),
        Box::new(PipeClient::open(url, true)?),
        Box::new(RedisSync::open(url)?),
        Box::new(RedisAsync::open(rt, url)?),
    ])
}

/// Puts the data a workload reads in place: every key holds a value of the workload's size;
/// the profile's hashes and sorted set exist.
pub(crate) fn prepare(admin: &mut Connection, keys: &Keys, w: Work) -> Result<()> {
    let size = match w {
        Work::Get { size, .. } => size,
        Work::Profile => 100,
        Work::Incr | Work::Set { .. } => return Ok(()),
    };
    let mut p = VecPipeline::new();
    for k in &keys.keys {
        let _ = p.set(k, keys.value(size))?;
    }
    if w == Work::Profile {
        for (i, (item, member)) in keys.items.iter().zip(&keys.members).enumerate() {
            let _ = p.hset_multiple(item, FIELDS)?;
            let _ = p.zadd("scores", member, i)?;
        }
    }
    admin.execute(&mut p)?;
    if let Some(failure) = p.failure() {
        return Err(format!("preparing {}: {failure}", w.label()).into());
    }
    Ok(())
}

/// `redis-benchmark -c 1 -P <batch> -n <ops> -r 10000 -t <test> -d <size> --csv`: its ops/s.
fn tool_rate(host: &str, port: u16, w: Work, batch: usize, ops: usize) -> Result<Option<f64>> {
    let Some((test, size)) = w.tool_args() else {
        return Ok(None);
    };
    let out = std::process::Command::new("redis-benchmark")
        .args(["-h", host, "-p", &port.to_string(), "-c", "1"])
        .args(["-P", &batch.to_string(), "-n", &ops.to_string()])
        .args(["-r", &KEYS.to_string(), "-t", test, "-d", &size.to_string()])
        .arg("--csv")
        .output()
        .map_err(|e| format!("cannot run redis-benchmark: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "redis-benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let csv = String::from_utf8_lossy(&out.stdout);
    let name = test.to_ascii_uppercase();
    let rate = csv.lines().find_map(|line| {
        let mut fields = line.split(',').map(|f| f.trim().trim_matches('"'));
        (fields.next()? == name).then_some(())?;
        fields.next()?.parse::<f64>().ok()
    });
    rate.map(Some)
        .ok_or_else(|| format!("no {name} line in redis-benchmark's output").into())
}

/// What figure (f) measured: per (workload, batch, contender) the samples of each repetition.
#[derive(Default)]
pub(crate) struct Results {
    pub(crate) cells: HashMap<(Work, usize, usize), crate::Cell>,
    pub(crate) reps: usize,
}

impl Results {
    pub(crate) fn rate(&self, w: Work, batch: usize, who: usize) -> Option<&Samples> {
        self.cells
            .get(&(w, batch, who))
            .map(|c| &c.rate)
            .filter(|s| !s.is_empty())
    }
}

/// Commands per measurement: about 0.3 s at the ceiling (a quarter with `--quick`).
fn ops(w: Work, batch: usize, quick: bool) -> usize {
    let full: usize = match batch {
        1 => 5_000,
        16 => 60_000,
        256 => 400_000,
        _ => 600_000,
    };
    let full = match w {
        Work::Get { size: 1024, .. } | Work::Set { size: 1024 } => full / 2,
        _ => full,
    };
    let ops = if quick { full / 4 } else { full };
    let unit = batch * w.commands_per_item();
    (ops / unit).max(2) * unit
}

/// Runs figure (f).
pub(crate) struct Figure<'a> {
    pub(crate) rt: &'a Runtime,
    pub(crate) info: &'a ConnectionInfo,
    pub(crate) url: &'a str,
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) server: &'a ServerCpu,
    pub(crate) admin: &'a mut Connection,
    pub(crate) quick: bool,
    pub(crate) reps: usize,
    /// Called before each cell (waits for a quiet machine when asked to).
    pub(crate) settle: Box<dyn Fn() + 'a>,
}

impl Figure<'_> {
    /// One timed run of `client` after a warm-up of a tenth of the batches.
    fn measure(
        &mut self,
        client: &mut dyn WorkClient,
        keys: &Keys,
        w: Work,
        batch: usize,
    ) -> Result<Sample> {
        let commands = ops(w, batch, self.quick);
        let batches = commands / (batch * w.commands_per_item());
        black_box(client.run(self.rt, keys, w, batch, (batches / 10).max(1))?);
        let (client0, server0) = (procfs::cpu_ns("self"), self.server.ns());
        let t = Instant::now();
        black_box(client.run(self.rt, keys, w, batch, batches)?);
        let wall = t.elapsed().as_secs_f64();
        let (client1, server1) = (procfs::cpu_ns("self"), self.server.ns());
        Ok(Sample {
            rate: commands as f64 / wall,
            client_ns: per_command(client0, client1, commands),
            server_ns: per_command(server0, server1, commands),
        })
    }

    fn measure_tool(&mut self, w: Work, batch: usize) -> Result<Option<Sample>> {
        let commands = ops(w, batch, self.quick);
        let server0 = self.server.ns();
        let Some(rate) = tool_rate(self.host, self.port, w, batch, commands)? else {
            return Ok(None);
        };
        Ok(Some(Sample {
            rate,
            client_ns: None,
            server_ns: per_command(server0, self.server.ns(), commands),
        }))
    }

    pub(crate) fn run(&mut self, works: &[Work]) -> Result<Results> {
        let keys = Keys::new();
        let mut clients = open_all(self.rt, self.info, self.url)?;
        let mut results = Results {
            reps: self.reps,
            ..Results::default()
        };
        let n = CONTENDERS.len();
        for rep in 0..self.reps {
            for &w in works {
                prepare(self.admin, &keys, w)?;
                for &batch in &BATCHES {
                    (self.settle)();
                    let mut line =
                        format!("(f) rep {}/{} {} ×{batch}:", rep + 1, self.reps, w.label());
                    for k in 0..n {
                        let who = (k + rep + batch) % n;
                        let sample = match who {
                            0 => self.measure_tool(w, batch)?,
                            i => Some(self.measure(clients[i - 1].as_mut(), &keys, w, batch)?),
                        };
                        if let Some(sample) = sample {
                            line.push_str(&format!(
                                " [{}] {}",
                                CONTENDERS[who],
                                report::rate(sample.rate)
                            ));
                            results
                                .cells
                                .entry((w, batch, who))
                                .or_default()
                                .add(sample);
                        }
                    }
                    eprintln!("{line}");
                }
            }
        }
        Ok(results)
    }

    /// One case in a loop, for `perf`: workload by index into [`Work::ALL`], contender by
    /// index into [`CONTENDERS`] (1..).
    pub(crate) fn profile(
        &mut self,
        work: usize,
        batch: usize,
        who: usize,
        seconds: f64,
    ) -> Result<()> {
        let keys = Keys::new();
        let w = *Work::ALL.get(work).ok_or("no such workload")?;
        prepare(self.admin, &keys, w)?;
        let mut clients = open_all(self.rt, self.info, self.url)?;
        let client = clients
            .get_mut(who.checked_sub(1).ok_or("contender 0 is redis-benchmark")?)
            .ok_or("no such contender")?;
        let mut rates = Samples::default();
        let mut client_ns = Samples::default();
        let t = Instant::now();
        while t.elapsed().as_secs_f64() < seconds {
            let s = self.measure(client.as_mut(), &keys, w, batch)?;
            rates.push(s.rate);
            if let Some(c) = s.client_ns {
                client_ns.push(c);
            }
        }
        println!(
            "{} ×{batch} {}: {} commands/s, client CPU {} ns/command (median of {})",
            w.label(),
            CONTENDERS[who],
            report::rate(rates.median()),
            report::ns(client_ns.median()),
            rates.len()
        );
        Ok(())
    }
}

/// The tables of figure (f): rates and ratios, then CPU per command.
pub(crate) fn tables(results: &Results) -> Vec<Table> {
    let spread = if results.reps > 1 {
        format!("(min–max) of {} runs", results.reps)
    } else {
        "(one run, --quick)".into()
    };
    let mut header = vec!["workload", "batch"];
    header.extend(CONTENDERS);
    let mut rates = Table::new(
        format!("(f) Real work, one connection: commands/s, median {spread}"),
        &header,
        2,
    );
    let ratio_header = [
        "workload",
        "batch",
        "raw / redis-benchmark",
        "Pipe / raw",
        "Pipe async / raw tokio",
        "raw / redis-rs",
        "raw tokio / redis-rs async",
        "Pipe / redis-rs",
        "Pipe async / redis-rs async",
        "redis-benchmark / redis-rs",
    ];
    let mut ratios = Table::new(
        format!("(f) Ratios (same repetition paired), median {spread}"),
        &ratio_header,
        2,
    );
    let mut cpu = Table::new(
        "(f') CPU per command, ns, median: client / server (server busy, % of one core)",
        &header,
        2,
    );
    let mut targets = Targets::default();
    let empty = Samples::default();
    for w in Work::ALL {
        for &batch in &BATCHES {
            let get = |who| results.rate(w, batch, who).unwrap_or(&empty);
            let mut row = vec![w.label(), batch.to_string()];
            let mut cpu_row = row.clone();
            for who in 0..CONTENDERS.len() {
                row.push(get(who).show(report::rate));
                let cell = results.cells.get(&(w, batch, who));
                cpu_row.push(cell.map_or("–".into(), |c| {
                    let client = if c.client_ns.is_empty() {
                        "–".to_string()
                    } else {
                        report::ns(c.client_ns.median())
                    };
                    if c.server_ns.is_empty() {
                        client
                    } else {
                        let busy = c.server_ns.median() * c.rate.median() / 1e9;
                        format!(
                            "{client} / {} ({:.0}%)",
                            report::ns(c.server_ns.median()),
                            busy * 100.0
                        )
                    }
                }));
            }
            let r = |a, b| Samples::ratio(get(a), get(b));
            let pairs = [
                (1, 0),
                (3, 1),
                (4, 2),
                (1, 5),
                (2, 6),
                (3, 5),
                (4, 6),
                (0, 5),
            ];
            let mut ratio_row = vec![w.label(), batch.to_string()];
            for (a, b) in pairs {
                ratio_row.push(r(a, b).show(report::ratio));
            }
            targets.check(w, batch, &r);
            rates.rows.push(row);
            ratios.rows.push(ratio_row);
            cpu.rows.push(cpu_row);
        }
    }
    ratios.notes.extend(targets.notes());
    cpu.notes.push(
        "client: this process, every thread; redis-benchmark's own CPU time is not measured".into(),
    );
    vec![rates, ratios, cpu]
}

/// The issue's targets, checked on the medians of the paired ratios.
#[derive(Default)]
struct Targets {
    /// raw / redis-benchmark at batch >= 256, GET 100 B borrowed and INCR: lowest.
    ceiling: Option<(f64, String)>,
    /// Pipe / raw and Pipe async / raw tokio at every batch: lowest.
    pipe: Option<(f64, String)>,
    /// At batch >= 16, each redpipe path over the lower of 1.3 x redis-rs and 0.95 x
    /// redis-benchmark: lowest, per path.
    goal: [Option<(f64, String)>; 4],
}

impl Targets {
    fn worst(slot: &mut Option<(f64, String)>, v: f64, at: String) {
        if v.is_finite() && slot.as_ref().is_none_or(|(w, _)| v < *w) {
            *slot = Some((v, at));
        }
    }

    fn check(&mut self, w: Work, batch: usize, r: &dyn Fn(usize, usize) -> Samples) {
        let at = format!("{} ×{batch}", w.label());
        let ceiling_work = matches!(
            w,
            Work::Get {
                size: 100,
                owned: false
            } | Work::Incr
        );
        if ceiling_work && batch >= 256 {
            Self::worst(&mut self.ceiling, r(1, 0).median(), at.clone());
        }
        Self::worst(&mut self.pipe, r(3, 1).median(), at.clone());
        Self::worst(&mut self.pipe, r(4, 2).median(), format!("{at}, async"));
        if batch >= 16 {
            // (redpipe path, its redis-rs peer)
            for (k, (me, peer)) in [(1, 5), (2, 6), (3, 5), (4, 6)].into_iter().enumerate() {
                let vs_peer = r(me, peer).median() / 1.3;
                let vs_tool = r(me, 0).median() / 0.95;
                // On target when at or above either bound (the goal is the lower one); where
                // redis-benchmark cannot run the workload, the redis-rs bound alone.
                let v = if vs_tool.is_finite() {
                    vs_peer.max(vs_tool)
                } else {
                    vs_peer
                };
                Self::worst(&mut self.goal[k], v, at.clone());
            }
        }
    }

    fn notes(&self) -> Vec<String> {
        let verdict = |slot: &Option<(f64, String)>, target: f64| match slot {
            Some((v, at)) if *v >= target => format!("met (lowest {v:.2}, {at})"),
            Some((v, at)) => format!("MISSED: lowest {v:.2} at {at}"),
            None => "not measured".into(),
        };
        let mut out = vec![
            format!(
                "target raw >= 0.9 x redis-benchmark at batch >= 256 (GET 100 B borrowed, INCR): {}",
                verdict(&self.ceiling, 0.9)
            ),
            format!(
                "target Pipe >= 0.95 x raw (within 5%), sync and async, every batch: {}",
                verdict(&self.pipe, 0.95)
            ),
        ];
        for (k, name) in ["raw", "raw tokio", "Pipe", "Pipe async"]
            .iter()
            .enumerate()
        {
            out.push(format!(
                "target {name} >= the lower of 1.3 x redis-rs{} and 0.95 x redis-benchmark at \
                 batch >= 16 (1.00 = on target): {}",
                if k % 2 == 1 { " async" } else { "" },
                verdict(&self.goal[k], 1.0)
            ));
        }
        out
    }
}
