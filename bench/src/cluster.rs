//! Figure (e): one logical pipeline over a Redis Cluster (issue 15), redpipe's `Pipe` beside
//! redis-rs 1.8 on the same cluster in the same run.
//!
//! Pipelines of 100, 1 000 and 10 000 `SET key:%012d <100 B>` over distinct keys (spread over
//! every slot), then the same keys with `GET`, each value read as owned bytes
//! (`Option<Vec<u8>>`) by every client:
//!
//! - redpipe sync: a `Pipe` on a registry whose default name is the cluster
//!   (`Connections::register` with seed URLs), `execute()`: one batch per node, run in parallel
//!   (the calling thread and scoped threads).
//! - redpipe async: the same with `execute_async()` on the current-thread runtime.
//! - redis-rs sync: `redis::cluster::cluster_pipe()` (reused, cleared) and `query` on a
//!   `ClusterConnection`: it writes every node's share, then reads the nodes one after another.
//! - redis-rs async has no cross-slot pipeline (its `ClusterConnection` refuses one whose keys
//!   span slots), so two ways users work around it:
//!   - hand-routed per node: the slot of each key (CRC16, computed with redpipe's `HashSlot`,
//!     the same function), one `redis::Pipeline` per node, sent with `route_pipeline(..,
//!     ByAddress)` on the async `ClusterConnection` for every node at once (`join_all`), results
//!     put back in call order. This is the reference of the async goal.
//!   - per command: every command its own request on the (multiplexed) async
//!     `ClusterConnection`, all in flight at once (`join_all`).

use std::hint::black_box;
use std::time::Instant;

use futures_util::future::join_all;
use redis::cluster_routing::SingleNodeRoutingInfo;
use redpipe::cluster::HashSlot;
use redpipe::prelude::*;
use redpipe::{Connections, Handle, Pipe};
use tokio::runtime::Runtime;

use crate::Result;
use crate::report::{self, Samples, Table};

/// Commands per pipeline.
pub(crate) const BATCHES: [usize; 3] = [100, 1_000, 10_000];

/// Distinct keys: as many as the largest pipeline.
const KEYS: usize = 10_000;

/// The value of every `SET`.
const VALUE: [u8; 100] = [b'v'; 100];

/// `SET` or `GET`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Set,
    Get,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Self::Set => "SET 100 B",
            Self::Get => "GET 100 B",
        }
    }
}

/// A client under test on the cluster: runs one pipeline of `keys` and returns a checksum.
trait ClusterClient {
    fn pipeline(&mut self, rt: &Runtime, op: Op, keys: &[String]) -> Result<u64>;
}

pub(crate) const CONTENDERS: [&str; 5] = [
    "redpipe Pipe",
    "redpipe Pipe async",
    "redis-rs cluster_pipe",
    "redis-rs async, hand-routed per node",
    "redis-rs async, per command",
];

/// redpipe's `Pipe` on a cluster registry; one reused pipe per client.
struct RedpipeCluster {
    pipe: Pipe,
    asynchronous: bool,
    units: Vec<Handle<()>>,
    values: Vec<Handle<Option<Vec<u8>>>>,
}

impl RedpipeCluster {
    fn open(registry: &Connections, asynchronous: bool) -> Self {
        Self {
            pipe: registry.pipe(),
            asynchronous,
            units: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl ClusterClient for RedpipeCluster {
    fn pipeline(&mut self, rt: &Runtime, op: Op, keys: &[String]) -> Result<u64> {
        let p = &mut self.pipe;
        match op {
            Op::Set => self.units.extend(keys.iter().map(|k| p.set(k, &VALUE[..]))),
            Op::Get => self.values.extend(keys.iter().map(|k| p.get(k).cast())),
        }
        if self.asynchronous {
            rt.block_on(p.execute_async())?;
        } else {
            p.execute()?;
        }
        let mut sum = 0u64;
        for h in self.units.drain(..) {
            h.result()?;
            sum += 1;
        }
        for h in self.values.drain(..) {
            sum += h.result()?.ok_or("GET found no value")?.len() as u64;
        }
        Ok(sum)
    }
}

/// redis-rs sync `cluster_pipe()`.
struct RedisSyncCluster {
    con: redis::cluster::ClusterConnection,
    pipe: redis::cluster::ClusterPipeline,
}

impl ClusterClient for RedisSyncCluster {
    fn pipeline(&mut self, _: &Runtime, op: Op, keys: &[String]) -> Result<u64> {
        self.pipe.clear();
        for k in keys {
            match op {
                Op::Set => self.pipe.cmd("SET").arg(k).arg(&VALUE[..]),
                Op::Get => self.pipe.cmd("GET").arg(k),
            };
        }
        Ok(match op {
            Op::Set => {
                self.pipe.query::<()>(&mut self.con)?;
                keys.len() as u64
            }
            Op::Get => self
                .pipe
                .query::<Vec<Option<Vec<u8>>>>(&mut self.con)?
                .iter()
                .map(|v| v.as_ref().map_or(0, Vec::len) as u64)
                .sum(),
        })
    }
}

/// redis-rs async, one sub-pipeline per node, routed by hand.
struct RedisAsyncHandRouted {
    con: redis::cluster_async::ClusterConnection,
    /// Node index of each slot, from `CLUSTER SLOTS`.
    owner: Vec<u8>,
    nodes: Vec<(String, u16)>,
}

impl RedisAsyncHandRouted {
    async fn open(con: redis::cluster_async::ClusterConnection) -> Result<Self> {
        let mut con = con;
        let slots: redis::Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut con)
            .await?;
        let mut owner = vec![u8::MAX; usize::from(HashSlot::COUNT)];
        let mut nodes: Vec<(String, u16)> = Vec::new();
        let redis::Value::Array(ranges) = slots else {
            return Err("CLUSTER SLOTS: not an array".into());
        };
        for range in ranges {
            let redis::Value::Array(items) = range else {
                return Err("CLUSTER SLOTS: not an array of ranges".into());
            };
            let (
                Some(redis::Value::Int(lo)),
                Some(redis::Value::Int(hi)),
                Some(redis::Value::Array(primary)),
            ) = (items.first(), items.get(1), items.get(2))
            else {
                return Err("CLUSTER SLOTS: unexpected range".into());
            };
            let (Some(redis::Value::BulkString(host)), Some(redis::Value::Int(port))) =
                (primary.first(), primary.get(1))
            else {
                return Err("CLUSTER SLOTS: unexpected node".into());
            };
            let node = (String::from_utf8(host.clone())?, u16::try_from(*port)?);
            let i = match nodes.iter().position(|n| *n == node) {
                Some(i) => i,
                None => {
                    nodes.push(node);
                    nodes.len() - 1
                }
            };
            for s in *lo..=*hi {
                owner[usize::try_from(s)?] = u8::try_from(i)?;
            }
        }
        if owner.contains(&u8::MAX) {
            return Err("CLUSTER SLOTS: a slot has no owner".into());
        }
        Ok(Self { con, owner, nodes })
    }
}

impl ClusterClient for RedisAsyncHandRouted {
    fn pipeline(&mut self, rt: &Runtime, op: Op, keys: &[String]) -> Result<u64> {
        // `route_pipeline` takes each pipeline by value: new ones for every logical pipeline,
        // handed over, not cloned.
        let mut per_node: Vec<(redis::Pipeline, Vec<usize>)> = self
            .nodes
            .iter()
            .map(|_| (redis::pipe(), Vec::new()))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            let node = self.owner[usize::from(HashSlot::for_key(k.as_bytes()).get())];
            let (pipe, order) = &mut per_node[usize::from(node)];
            match op {
                Op::Set => pipe.cmd("SET").arg(k).arg(&VALUE[..]),
                Op::Get => pipe.cmd("GET").arg(k),
            };
            order.push(i);
        }
        let runs = per_node
            .into_iter()
            .zip(&self.nodes)
            .filter(|((_, order), _)| !order.is_empty())
            .map(|((pipe, order), (host, port))| {
                let mut con = self.con.clone();
                let route = SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                };
                async move {
                    let count = order.len();
                    let values = con.route_pipeline(pipe, 0, count, route).await?;
                    Ok::<_, redis::RedisError>((order, values))
                }
            });
        let replies = rt.block_on(join_all(runs));
        // Results in call order, as a caller would want them.
        let mut results: Vec<Option<redis::Value>> = vec![None; keys.len()];
        for r in replies {
            let (order, values) = r?;
            for (i, v) in order.into_iter().zip(values) {
                results[i] = Some(v);
            }
        }
        let mut sum = 0u64;
        for v in results {
            let v = v.ok_or("a command got no reply")?;
            match op {
                Op::Set => {
                    redis::from_redis_value::<()>(v)?;
                    sum += 1;
                }
                Op::Get => {
                    let v: Option<Vec<u8>> = redis::from_redis_value(v)?;
                    sum += v.map_or(0, |v| v.len()) as u64;
                }
            }
        }
        Ok(sum)
    }
}

/// redis-rs async, every command on its own, all in flight together.
struct RedisAsyncPerCommand {
    con: redis::cluster_async::ClusterConnection,
}

impl ClusterClient for RedisAsyncPerCommand {
    fn pipeline(&mut self, rt: &Runtime, op: Op, keys: &[String]) -> Result<u64> {
        let runs = keys.iter().map(|k| {
            let mut con = self.con.clone();
            async move {
                match op {
                    Op::Set => {
                        redis::cmd("SET")
                            .arg(k)
                            .arg(&VALUE[..])
                            .query_async::<()>(&mut con)
                            .await?;
                        Ok::<u64, redis::RedisError>(1)
                    }
                    Op::Get => {
                        let v: Option<Vec<u8>> =
                            redis::cmd("GET").arg(k).query_async(&mut con).await?;
                        Ok(v.map_or(0, |v| v.len()) as u64)
                    }
                }
            }
        });
        let mut sum = 0u64;
        for r in rt.block_on(join_all(runs)) {
            sum += r?;
        }
        Ok(sum)
    }
}

/// The keys, `key:%012d` as `redis-benchmark -r` writes them.
fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("key:{i:012}")).collect()
}

/// Commands per measurement: about 0.3 s for redpipe (a quarter with `--quick`), whole
/// pipelines, at least 2.
fn ops(batch: usize, quick: bool) -> usize {
    let full = 200_000;
    let ops = if quick { full / 4 } else { full };
    (ops / batch).max(2) * batch
}

/// Every contender, connected, in [`CONTENDERS`] order.
fn open_all(rt: &Runtime, urls: &[String]) -> Result<Vec<Box<dyn ClusterClient>>> {
    let seeds: Vec<&str> = urls.iter().map(String::as_str).collect();
    let registry = Connections::new();
    registry.register(redpipe::DEFAULT, &seeds[..])?;
    let client = redis::cluster::ClusterClient::new(seeds.clone())?;
    let con_async = rt.block_on(client.get_async_connection())?;
    Ok(vec![
        Box::new(RedpipeCluster::open(&registry, false)),
        Box::new(RedpipeCluster::open(&registry, true)),
        Box::new(RedisSyncCluster {
            con: client.get_connection()?,
            pipe: redis::cluster::cluster_pipe(),
        }),
        Box::new(rt.block_on(RedisAsyncHandRouted::open(con_async.clone()))?),
        Box::new(RedisAsyncPerCommand { con: con_async }),
    ])
}

/// One case in a loop for `seconds`, for `perf record`: `OP,BATCH,CLIENT` with OP `set` or
/// `get` and CLIENT an index into [`CONTENDERS`]; prints its commands/s.
pub(crate) fn profile(rt: &Runtime, urls: &[String], case: &[&str], seconds: f64) -> Result<()> {
    let [op, batch, who] = case else {
        return Err("cluster profile: OP,BATCH,CLIENT-INDEX".into());
    };
    let op = if *op == "set" { Op::Set } else { Op::Get };
    let batch: usize = batch.parse()?;
    let who: usize = who.parse()?;
    let mut clients = open_all(rt, urls)?;
    let keys = keys();
    black_box(clients[0].pipeline(rt, Op::Set, &keys)?);
    let client = clients.get_mut(who).ok_or("no such client")?;
    let (mut done, mut at) = (0usize, 0usize);
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < seconds {
        black_box(client.pipeline(rt, op, &keys[at..at + batch])?);
        done += batch;
        at = (at + batch) % KEYS;
    }
    println!(
        "{} ×{batch} {}: {} commands/s",
        op.label(),
        CONTENDERS[who],
        report::rate(done as f64 / t.elapsed().as_secs_f64())
    );
    Ok(())
}

/// Runs figure (e) on the cluster at `urls`; `reps` repetitions.
pub(crate) fn figure(
    rt: &Runtime,
    urls: &[String],
    quick: bool,
    reps: usize,
    settle: &dyn Fn(),
) -> Result<Vec<Table>> {
    let mut clients = open_all(rt, urls)?;
    let keys = keys();
    // Every key holds a value before any GET is measured.
    black_box(clients[0].pipeline(rt, Op::Set, &keys)?);
    let n = CONTENDERS.len();
    let mut cells: Vec<Vec<Samples>> = vec![vec![Samples::default(); n]; 2 * BATCHES.len()];
    for rep in 0..reps {
        for (b, &batch) in BATCHES.iter().enumerate() {
            for (o, op) in [Op::Set, Op::Get].into_iter().enumerate() {
                settle();
                let total = ops(batch, quick);
                let mut line = format!("(e) rep {}/{reps} {} ×{batch}:", rep + 1, op.label());
                for k in 0..n {
                    let who = (k + rep + b) % n;
                    let client = clients[who].as_mut();
                    // Warm-up: one pipeline (connections, slot map, buffers).
                    black_box(client.pipeline(rt, op, &keys[..batch])?);
                    let mut done = 0;
                    let mut at = 0;
                    let t = Instant::now();
                    while done < total {
                        black_box(client.pipeline(rt, op, &keys[at..at + batch])?);
                        done += batch;
                        at = (at + batch) % KEYS;
                    }
                    let rate = done as f64 / t.elapsed().as_secs_f64();
                    line.push_str(&format!(" [{}] {}", CONTENDERS[who], report::rate(rate)));
                    cells[2 * b + o][who].push(rate);
                }
                eprintln!("{line}");
            }
        }
    }
    let spread = if reps > 1 {
        format!("(min–max) of {reps} runs")
    } else {
        "(one run, --quick)".into()
    };
    let mut header = vec!["command", "batch"];
    header.extend(CONTENDERS);
    header.extend([
        "Pipe / cluster_pipe",
        "Pipe async / hand-routed",
        "Pipe async / per command",
    ]);
    let mut t = Table::new(
        format!(
            "(e) Redis Cluster, 3 primaries: commands/s over one logical pipeline, median {spread}"
        ),
        &header,
        2,
    );
    let mut sync_goal: Option<(f64, String)> = None;
    let mut async_goal: Option<(f64, String)> = None;
    let worst = |slot: &mut Option<(f64, String)>, v: f64, at: String| {
        if slot.as_ref().is_none_or(|(w, _)| v < *w) {
            *slot = Some((v, at));
        }
    };
    for (o, op) in [Op::Set, Op::Get].into_iter().enumerate() {
        for (b, &batch) in BATCHES.iter().enumerate() {
            let cell = &cells[2 * b + o];
            let mut row = vec![op.label().to_string(), batch.to_string()];
            row.extend(cell.iter().map(|s| s.show(report::rate)));
            let vs_sync = Samples::ratio(&cell[0], &cell[2]);
            let vs_hand = Samples::ratio(&cell[1], &cell[3]);
            let vs_each = Samples::ratio(&cell[1], &cell[4]);
            let at = format!("{} ×{batch}", op.label());
            worst(&mut sync_goal, vs_sync.median(), at.clone());
            worst(&mut async_goal, vs_hand.median(), at);
            row.push(vs_sync.show(report::ratio));
            row.push(vs_hand.show(report::ratio));
            row.push(vs_each.show(report::ratio));
            t.rows.push(row);
        }
    }
    let verdict = |slot: &Option<(f64, String)>, target: f64| match slot {
        Some((v, at)) if *v >= target => format!("met (lowest {v:.2}, {at})"),
        Some((v, at)) => format!("MISSED: lowest {v:.2} at {at}"),
        None => "not measured".into(),
    };
    t.notes.push(format!(
        "goal Pipe >= 1.3 x redis-rs cluster_pipe at 100, 1000 and 10000 commands (issue 27): {}",
        verdict(&sync_goal, 1.3)
    ));
    t.notes.push(format!(
        "goal Pipe async >= redis-rs async hand-routed per node: {}",
        verdict(&async_goal, 1.0)
    ));
    Ok(vec![t])
}
