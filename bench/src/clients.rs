//! The contenders of figure (a): each runs batches of one command and reads every result.
//!
//! Every client keeps its warm, reusable state (connection, pipeline, handle vectors) between
//! runs, sends the same bytes as `redis-benchmark` (same key names, same values) and consumes
//! every reply: the checksum it returns goes through `black_box`.

use std::hint::black_box;

use redpipe::core::VecPipeline;
use redpipe::prelude::*;
use redpipe::tokio::AsyncConnection;
use redpipe::{Connection, ConnectionInfo, Handle, Pipe};
use tokio::runtime::Runtime;

use crate::Result;

/// The value `redis-benchmark -d 100` sends.
pub(crate) const VALUE_100: [u8; 100] = [b'x'; 100];

/// One command of the table, with `redis-benchmark`'s key and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Command {
    /// `SET key:__rand_int__ xxx` (`-d 3`, its default).
    Set,
    /// `GET key:__rand_int__`, the key holding `xxx`.
    Get,
    /// `INCR counter:__rand_int__`.
    Incr,
    /// `SET key:__rand_int__ <100 × x>` (`-d 100`).
    Set100,
}

impl Command {
    pub(crate) const ALL: [Command; 4] = [Self::Set, Self::Get, Self::Incr, Self::Set100];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Set => "SET",
            Self::Get => "GET",
            Self::Incr => "INCR",
            Self::Set100 => "SET 100 B",
        }
    }

    /// The command name on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Set | Self::Set100 => "SET",
            Self::Get => "GET",
            Self::Incr => "INCR",
        }
    }

    /// `redis-benchmark` does not randomize without `-r`: the placeholder is the key.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Incr => "counter:__rand_int__",
            _ => "key:__rand_int__",
        }
    }

    pub(crate) fn value(self) -> Option<&'static [u8]> {
        match self {
            Self::Set => Some(b"xxx"),
            Self::Set100 => Some(&VALUE_100),
            Self::Get | Self::Incr => None,
        }
    }

    /// `redis-benchmark`'s `-t` and `-d`.
    pub(crate) fn tool_args(self) -> (&'static str, usize) {
        match self {
            Self::Set => ("set", 3),
            Self::Get => ("get", 3),
            Self::Incr => ("incr", 3),
            Self::Set100 => ("set", 100),
        }
    }
}

/// A client under test.
pub(crate) trait Client {
    /// Runs `batches` pipelines of `batch` commands `c`, reading every result; returns a
    /// checksum of what was read.
    fn run(&mut self, rt: &Runtime, c: Command, batch: usize, batches: usize) -> Result<u64>;
}

fn slot_error(e: SlotError<'_>) -> Box<dyn std::error::Error> {
    e.to_string().into()
}

/// Handle vectors of a redpipe client, reused across batches.
#[derive(Default)]
struct Handles {
    ints: Vec<Deferred<i64>>,
    units: Vec<Deferred<()>>,
    bulks: Vec<Deferred<Option<&'static [u8]>>>,
}

impl Handles {
    /// Resets `p` and queues `batch` commands `c`.
    fn queue(&mut self, p: &mut VecPipeline, c: Command, batch: usize) -> Result<()> {
        p.reset();
        let key = black_box(c.key());
        match c {
            Command::Incr => {
                self.ints.clear();
                for _ in 0..batch {
                    self.ints.push(p.incr(key)?);
                }
            }
            Command::Get => {
                self.bulks.clear();
                for _ in 0..batch {
                    self.bulks.push(p.get::<Option<&[u8]>>(key)?);
                }
            }
            Command::Set | Command::Set100 => {
                self.units.clear();
                let value = black_box(c.value().unwrap_or_default());
                for _ in 0..batch {
                    self.units.push(p.set(key, value)?);
                }
            }
        }
        Ok(())
    }

    /// Reads every handle of the batch.
    fn read(&self, p: &VecPipeline, c: Command) -> Result<u64> {
        let mut sum = 0u64;
        match c {
            Command::Incr => {
                for h in &self.ints {
                    sum = sum.wrapping_add(h.read(p).map_err(slot_error)? as u64);
                }
            }
            Command::Get => {
                for h in &self.bulks {
                    let v = h.read(p).map_err(slot_error)?;
                    sum += v.ok_or("GET found no value")?.len() as u64;
                }
            }
            Command::Set | Command::Set100 => {
                for h in &self.units {
                    h.read(p).map_err(slot_error)?;
                    sum += 1;
                }
            }
        }
        Ok(sum)
    }
}

/// redpipe, blocking: `Connection` + a reused `VecPipeline`, reset each batch.
pub(crate) struct RedpipeBlocking {
    conn: Connection,
    p: VecPipeline,
    handles: Handles,
}

impl RedpipeBlocking {
    pub(crate) fn open(info: &ConnectionInfo) -> Result<Self> {
        Ok(Self {
            conn: Connection::open(info)?,
            p: VecPipeline::new(),
            handles: Handles::default(),
        })
    }
}

impl Client for RedpipeBlocking {
    fn run(&mut self, _: &Runtime, c: Command, batch: usize, batches: usize) -> Result<u64> {
        let mut sum = 0u64;
        for _ in 0..batches {
            self.handles.queue(&mut self.p, c, batch)?;
            self.conn.execute(&mut self.p)?;
            sum = sum.wrapping_add(self.handles.read(&self.p, c)?);
        }
        Ok(sum)
    }
}

/// redpipe, blocking, with the encoding taken out: the pipeline is queued once and then sent
/// again with `rewind()`, as `redis-benchmark` re-sends one prebuilt buffer. Diagnostic only
/// (`--profile`): it shows how much of the gap to the ceiling is encoding.
pub(crate) struct RedpipeRewind {
    inner: RedpipeBlocking,
    queued: Option<(Command, usize)>,
}

impl RedpipeRewind {
    pub(crate) fn open(info: &ConnectionInfo) -> Result<Self> {
        Ok(Self {
            inner: RedpipeBlocking::open(info)?,
            queued: None,
        })
    }
}

impl Client for RedpipeRewind {
    fn run(&mut self, _: &Runtime, c: Command, batch: usize, batches: usize) -> Result<u64> {
        let me = &mut self.inner;
        let mut sum = 0u64;
        for _ in 0..batches {
            if self.queued != Some((c, batch)) || !me.p.rewind() {
                me.handles.queue(&mut me.p, c, batch)?;
                self.queued = Some((c, batch));
            }
            me.conn.execute(&mut me.p)?;
            sum = sum.wrapping_add(me.handles.read(&me.p, c)?);
        }
        Ok(sum)
    }
}

/// redpipe, blocking, overlapped: `Connection::send` the current batch, queue the next one
/// while the server works, then `finish` the current one (two reused pipelines, alternating).
pub(crate) struct RedpipeOverlap {
    conn: Connection,
    pipes: [(VecPipeline, Handles); 2],
}

impl RedpipeOverlap {
    pub(crate) fn open(info: &ConnectionInfo) -> Result<Self> {
        Ok(Self {
            conn: Connection::open(info)?,
            pipes: Default::default(),
        })
    }
}

impl Client for RedpipeOverlap {
    fn run(&mut self, _: &Runtime, c: Command, batch: usize, batches: usize) -> Result<u64> {
        let mut sum = 0u64;
        let [a, b] = &mut self.pipes;
        let (mut cur, mut next) = (a, b);
        cur.1.queue(&mut cur.0, c, batch)?;
        self.conn.send(&mut cur.0)?;
        for i in 0..batches {
            let more = i + 1 < batches;
            if more {
                next.1.queue(&mut next.0, c, batch)?;
            }
            self.conn.finish(&mut cur.0)?;
            if more {
                self.conn.send(&mut next.0)?;
            }
            sum = sum.wrapping_add(cur.1.read(&cur.0, c)?);
            std::mem::swap(&mut cur, &mut next);
        }
        Ok(sum)
    }
}

/// redpipe, tokio: `AsyncConnection` + a reused `VecPipeline`, on a current-thread runtime.
pub(crate) struct RedpipeTokio {
    conn: AsyncConnection,
    p: VecPipeline,
    handles: Handles,
}

impl RedpipeTokio {
    pub(crate) fn open(rt: &Runtime, info: &ConnectionInfo) -> Result<Self> {
        Ok(Self {
            conn: rt.block_on(AsyncConnection::open(info))?,
            p: VecPipeline::new(),
            handles: Handles::default(),
        })
    }
}

impl Client for RedpipeTokio {
    fn run(&mut self, rt: &Runtime, c: Command, batch: usize, batches: usize) -> Result<u64> {
        rt.block_on(async {
            let mut sum = 0u64;
            for _ in 0..batches {
                self.handles.queue(&mut self.p, c, batch)?;
                self.conn.execute(&mut self.p).await?;
                sum = sum.wrapping_add(self.handles.read(&self.p, c)?);
            }
            Ok(sum)
        })
    }
}

/// redpipe's std `Pipe`: `autoexec(None, ..)` per batch on the global registry, shared
/// `Handle`s read after the run (figure (c) only).
#[derive(Default)]
pub(crate) struct RedpipePipe {
    ints: Vec<Handle<i64>>,
    bulks: Vec<Handle<Option<&'static [u8]>>>,
    units: Vec<Handle<()>>,
}

impl Client for RedpipePipe {
    fn run(&mut self, _: &Runtime, c: Command, batch: usize, batches: usize) -> Result<u64> {
        let mut sum = 0u64;
        let key = black_box(c.key());
        for _ in 0..batches {
            redpipe::autoexec(None, |p: &mut Pipe| {
                match c {
                    Command::Incr => self.ints.extend((0..batch).map(|_| p.incr(key))),
                    Command::Get => self.bulks.extend((0..batch).map(|_| p.get(key).cast())),
                    Command::Set | Command::Set100 => {
                        let value = black_box(c.value().unwrap_or_default());
                        self.units.extend((0..batch).map(|_| p.set(key, value)));
                    }
                }
                Ok(())
            })?;
            for h in self.ints.drain(..) {
                sum = sum.wrapping_add(h.result()? as u64);
            }
            for h in self.bulks.drain(..) {
                sum += h.result()?.ok_or("GET found no value")?.len() as u64;
            }
            for h in self.units.drain(..) {
                h.result()?;
                sum += 1;
            }
        }
        Ok(sum)
    }
}

/// Fills a reused redis-rs pipeline with `batch` commands `c`.
fn redis_rs_queue(pipe: &mut redis::Pipeline, c: Command, batch: usize) {
    pipe.clear();
    let key = black_box(c.key());
    for _ in 0..batch {
        let cmd = pipe.cmd(c.name()).arg(key);
        if let Some(v) = c.value() {
            cmd.arg(black_box(v));
        }
    }
}

/// redis-rs 1.8, sync: `redis::pipe()` (reused, cleared) and `query` on a `Connection`.
pub(crate) struct RedisSync {
    con: redis::Connection,
    pipe: redis::Pipeline,
}

impl RedisSync {
    pub(crate) fn open(url: &str) -> Result<Self> {
        Ok(Self {
            con: redis::Client::open(url)?.get_connection()?,
            pipe: redis::pipe(),
        })
    }
}

impl Client for RedisSync {
    fn run(&mut self, _: &Runtime, c: Command, batch: usize, batches: usize) -> Result<u64> {
        let mut sum = 0u64;
        for _ in 0..batches {
            redis_rs_queue(&mut self.pipe, c, batch);
            sum = sum.wrapping_add(match c {
                Command::Incr => self
                    .pipe
                    .query::<Vec<i64>>(&mut self.con)?
                    .iter()
                    .fold(0u64, |s, &n| s.wrapping_add(n as u64)),
                Command::Get => self
                    .pipe
                    .query::<Vec<Option<Vec<u8>>>>(&mut self.con)?
                    .iter()
                    .map(|v| v.as_ref().map_or(0, Vec::len) as u64)
                    .sum(),
                Command::Set | Command::Set100 => {
                    self.pipe.query::<()>(&mut self.con)?;
                    batch as u64
                }
            });
        }
        Ok(sum)
    }
}

/// redis-rs 1.8, async: `query_async` on a multiplexed connection, same runtime as redpipe's.
pub(crate) struct RedisAsync {
    con: redis::aio::MultiplexedConnection,
    pipe: redis::Pipeline,
}

impl RedisAsync {
    pub(crate) fn open(rt: &Runtime, url: &str) -> Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            con: rt.block_on(client.get_multiplexed_async_connection())?,
            pipe: redis::pipe(),
        })
    }
}

impl Client for RedisAsync {
    fn run(&mut self, rt: &Runtime, c: Command, batch: usize, batches: usize) -> Result<u64> {
        rt.block_on(async {
            let mut sum = 0u64;
            for _ in 0..batches {
                redis_rs_queue(&mut self.pipe, c, batch);
                sum = sum.wrapping_add(match c {
                    Command::Incr => self
                        .pipe
                        .query_async::<Vec<i64>>(&mut self.con)
                        .await?
                        .iter()
                        .fold(0u64, |s, &n| s.wrapping_add(n as u64)),
                    Command::Get => self
                        .pipe
                        .query_async::<Vec<Option<Vec<u8>>>>(&mut self.con)
                        .await?
                        .iter()
                        .map(|v| v.as_ref().map_or(0, Vec::len) as u64)
                        .sum(),
                    Command::Set | Command::Set100 => {
                        self.pipe.query_async::<()>(&mut self.con).await?;
                        batch as u64
                    }
                });
            }
            Ok(sum)
        })
    }
}
