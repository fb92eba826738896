//! One pipeline over many nodes, sans-I/O: see [`ClusterRun`].

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::topology::{Node, SlotMap};
use super::{HashSlot, KeySpec};
use crate::decode::{Limits, Scanner};
use crate::error::Failure;
use crate::lex::parse_u64;
use crate::pipeline::{Shape, VecPipeline};
use crate::reply::{Reply, ServerErrorKind};

/// Attempts per command (the first send, redirects and retries) before its handle reads the
/// last error.
pub const MAX_ATTEMPTS: u8 = 5;

/// The reply of a command whose keys span slots, as Redis words it.
const CROSSSLOT: &[u8] = b"-CROSSSLOT Keys in request don't hash to the same slot\r\n";
const EXECABORT: &[u8] = b"-EXECABORT Transaction discarded because of previous errors.\r\n";
const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";
const READONLY: &[u8] = b"*1\r\n$8\r\nREADONLY\r\n";

/// Commands that only read, which a replica may answer ([`ClusterRun::read_from_replicas`]).
const READS: &[&str] = &[
    "GET",
    "MGET",
    "STRLEN",
    "GETRANGE",
    "SUBSTR",
    "GETBIT",
    "BITCOUNT",
    "BITPOS",
    "EXISTS",
    "TYPE",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "DUMP",
    "HGET",
    "HMGET",
    "HGETALL",
    "HKEYS",
    "HVALS",
    "HLEN",
    "HEXISTS",
    "HSTRLEN",
    "HRANDFIELD",
    "HSCAN",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "SRANDMEMBER",
    "SSCAN",
    "SINTER",
    "SUNION",
    "SDIFF",
    "SINTERCARD",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "LPOS",
    "ZRANGE",
    "ZREVRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGEBYSCORE",
    "ZRANGEBYLEX",
    "ZREVRANGEBYLEX",
    "ZSCORE",
    "ZMSCORE",
    "ZCARD",
    "ZCOUNT",
    "ZLEXCOUNT",
    "ZRANK",
    "ZREVRANK",
    "ZRANDMEMBER",
    "ZSCAN",
    "ZINTERCARD",
    "PFCOUNT",
    "GEOPOS",
    "GEODIST",
    "GEOHASH",
    "GEOSEARCH",
    "GEORADIUS_RO",
    "GEORADIUSBYMEMBER_RO",
    "XRANGE",
    "XREVRANGE",
    "XLEN",
    "XREAD",
    "XINFO",
];

/// Whether the command named `name` only reads.
fn is_read(name: &[u8]) -> bool {
    READS
        .iter()
        .any(|r| r.as_bytes().eq_ignore_ascii_case(name))
}

/// What a unit of routing stands for in the pipeline.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The command at this index.
    Command(usize),
    /// The transaction from its `MULTI` to its `EXEC`, inclusive.
    Block(usize, usize),
    /// Part `part` of the split command `split`.
    Part { split: usize, part: usize },
    /// The `SCAN` at `index`, on the `shard`-th of the `of` primaries (by the first slot each
    /// owns; `of` is set when it is routed).
    Scan { index: usize, shard: u16, of: u16 },
}

/// Commands that go to one node together and come back together.
#[derive(Debug)]
struct Unit {
    origin: Origin,
    /// A part's own command (the others are read from the pipeline).
    bytes: Vec<u8>,
    slot: Option<HashSlot>,
    /// Where an `ASK` sends it next.
    ask: Option<Node>,
    attempts: u8,
    done: bool,
    /// Whether a replica may answer it.
    read: bool,
    /// The primary it goes to, by position in the order of the first slot each owns (`SCAN`
    /// pages, and the parts of a command every primary answers), instead of by its slot.
    pin: Option<u16>,
}

/// How the parts of a split command become its one result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    /// `MGET`: the values, in the original key order.
    Values,
    /// `DEL`, `UNLINK`, `EXISTS`, `TOUCH`: the counts, summed.
    Sum,
    /// `MSET`, and `FLUSHDB`/`FLUSHALL` on every primary: `OK` when every part is.
    Ok,
    /// `KEYS` on every primary: the arrays, one after another.
    Concat,
}

#[derive(Debug)]
struct Split {
    index: usize,
    merge: Merge,
    /// For `Values`: which part and which element each key's value is, in key order.
    order: Vec<(usize, usize)>,
    parts: Vec<Option<Vec<u8>>>,
    settled: bool,
}

/// (unit, index of its first command in a batch's pipeline, how many commands).
type Member = (usize, usize, usize);

/// The commands for one node in one round, as a pipeline of their own.
pub struct Batch {
    node: usize,
    pipeline: VecPipeline,
    members: Vec<Member>,
}

impl core::fmt::Debug for Batch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Batch")
            .field("node", &self.node)
            .field("commands", &self.pipeline.len())
            .finish()
    }
}

impl Batch {
    /// The node (an index into the slot map) to run it on.
    pub fn node(&self) -> usize {
        self.node
    }

    /// The pipeline to run on that node's connection, as any other pipeline.
    pub fn pipeline_mut(&mut self) -> &mut VecPipeline {
        &mut self.pipeline
    }

    /// How many commands it holds.
    pub fn len(&self) -> usize {
        self.pipeline.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.pipeline.is_empty()
    }
}

/// One pipeline over many nodes, sans-I/O: [`ClusterRun`] splits a pipeline's commands into
/// one batch per node, reads each batch's replies back into the pipeline's own slots (so
/// handles resolve in call order), and plans the next round for the commands a node redirected.
///
/// The adapter only moves bytes:
///
/// ```text
/// let mut run = ClusterRun::new();
/// while run.next_round(&mut pipeline, &slot_map) {
///     sleep(run.delay_ms());                              // back-off after TRYAGAIN & co.
///     for batch in run.batches_mut() { node(batch.node()).run(batch.pipeline_mut()) }  // in parallel
///     run.absorb(&mut pipeline, &mut slot_map);
///     if run.wants_refresh() { slot_map = read CLUSTER SHARDS again }
/// }
/// ```
///
/// What happens to each kind of command:
/// - one key, or keys of one slot (hash tags): sent to the slot's primary;
/// - `DBSIZE`, `KEYS`, `FLUSHDB`, `FLUSHALL`: sent to every primary and put back together
///   (counts summed, key lists one after another, `OK` when every primary says it);
/// - no key otherwise (`PING`, `INFO`, `RANDOMKEY`...): sent to one primary (the first the map
///   knows);
/// - `SCAN`: walks every primary, one after another, under one cursor: its top 16 bits say
///   which primary (in the order of the first slot each owns), the low 48 bits are that node's
///   cursor. Cursor 0 starts on the first primary; a node's last page continues on the next
///   one; 0 comes back after the last. Keys of slots that move while a scan runs may be
///   missed or seen twice, as a single server's `SCAN` does not promise them either;
/// - `MGET`, `MSET`, `DEL`, `UNLINK`, `EXISTS`, `TOUCH` over several slots: split per slot, sent
///   to each slot's node, and put back together (`MGET` values in key order, counts summed,
///   `MSET` `OK` when every part is) — one result for the handle, as on a single node;
/// - any other command over several slots, and a transaction whose commands span slots: the
///   handle reads `CROSSSLOT`, the error Redis gives, and nothing is sent;
/// - a transaction (`MULTI` ... `EXEC`) on one slot: sent whole to that slot's node.
///
/// Redirections: `MOVED` updates the slot map, asks for a topology refresh and sends the command
/// again to the new owner; `ASK` sends `ASKING` and the command to the named node once; a
/// transaction under `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, `LOADING` and `MASTERDOWN` wait (a
/// growing back-off, [`ClusterRun::delay_ms`]) and retry. Each command gets
/// [`MAX_ATTEMPTS`]; then its handle reads the last error, which names the node for `MOVED` and
/// `ASK`. Only commands a node refused are sent again: a write is never replayed. A node that
/// fails (connection refused, reset, timed out) fails only the commands sent to it, each with
/// the reason; commands it never received are retried on a fresh topology.
#[derive(Default)]
pub struct ClusterRun {
    units: Vec<Unit>,
    splits: Vec<Split>,
    /// Pipeline entries planned so far.
    planned: usize,
    batches: Vec<Batch>,
    /// The batch of each node this round (`u32::MAX`: none yet), indexed like the map's nodes.
    batch_of: Vec<u32>,
    /// Pipelines and member lists of earlier batches, reset, for the next ones: a reused run
    /// allocates nothing once warm.
    spare: Vec<(VecPipeline, Vec<Member>)>,
    /// `MOVED` replies of the last round: (slot, node, the node that replied).
    moves: Vec<(HashSlot, Node, usize)>,
    refresh: bool,
    delay_ms: u32,
    replicas: bool,
}

impl core::fmt::Debug for ClusterRun {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClusterRun")
            .field("units", &self.units.len())
            .field("waiting", &self.units.iter().filter(|u| !u.done).count())
            .field("batches", &self.batches)
            .finish()
    }
}

impl ClusterRun {
    /// A run that has planned nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends commands that only read (`GET`, `HGETALL`, `ZRANGE`... outside transactions) to a
    /// replica of their slot's primary, spread over the replicas, after `READONLY` on that
    /// connection. A replica may lag its primary, and a read on a replica is not ordered with
    /// the pipe's writes on the primary (a later write may already show): use it for reads that
    /// tolerate that. A read that a replica redirects or refuses goes to the primary.
    pub fn read_from_replicas(&mut self, on: bool) {
        self.replicas = on;
    }

    /// Makes the run new again for another pipeline, keeping its memory (the batches'
    /// pipelines, the unit list), so that a run reused pipeline after pipeline allocates
    /// nothing once warm.
    pub fn reset(&mut self) {
        self.recycle_batches();
        self.units.clear();
        self.splits.clear();
        self.moves.clear();
        self.planned = 0;
        self.refresh = false;
        self.delay_ms = 0;
    }

    /// Moves the batches' storage to the spares.
    fn recycle_batches(&mut self) {
        for mut b in self.batches.drain(..) {
            b.pipeline.reset();
            b.members.clear();
            self.spare.push((b.pipeline, b.members));
        }
    }

    /// Plans the next round: the batches of every command still without a result. Returns
    /// false when there is nothing left to send (every handle has its result).
    pub fn next_round(&mut self, p: &mut VecPipeline, map: &SlotMap) -> bool {
        self.recycle_batches();
        self.plan(p, map);
        self.batch_of.clear();
        self.batch_of.resize(map.nodes().len(), u32::MAX);
        // Where keyless commands go: the first primary, found only when one is planned.
        let mut default: Option<Option<usize>> = None;
        // The primaries in scan order, found only when a `SCAN` is planned.
        let mut shards: Option<Vec<usize>> = None;
        for u in 0..self.units.len() {
            if self.units[u].done {
                continue;
            }
            if let Some(pin) = self.units[u].pin {
                let shards = shards.get_or_insert_with(|| primaries_by_slot(map));
                let of = u16::try_from(shards.len()).unwrap_or(u16::MAX);
                if let Origin::Scan { index, shard, .. } = self.units[u].origin {
                    self.units[u].origin = Origin::Scan { index, shard, of };
                    if shard >= of {
                        // Past the last primary: the scan is over.
                        self.units[u].done = true;
                        deliver(p, index, SCAN_DONE);
                        continue;
                    }
                } else if pin >= of {
                    // Fewer primaries than when the command was split: this part has none.
                    self.fail_unit(u, p, Failure::Closed);
                    continue;
                }
            }
            let unit = &self.units[u];
            let block = matches!(unit.origin, Origin::Block(..));
            let ask = if block { None } else { unit.ask.as_ref() };
            let owner = unit.slot.and_then(|s| map.owner(s));
            let replica = match owner {
                Some(o) if self.replicas && unit.read && unit.attempts == 0 && ask.is_none() => {
                    map.replica(o, u)
                }
                _ => None,
            };
            let target = match (ask, unit.pin) {
                (Some(node), _) => map.find(node),
                (None, Some(pin)) => shards
                    .as_ref()
                    .and_then(|s| s.get(usize::from(pin)))
                    .copied(),
                (None, None) => replica.or(owner),
            };
            let target = target.or_else(|| {
                *default.get_or_insert_with(|| {
                    map.primaries()
                        .first()
                        .copied()
                        .or(if map.nodes().is_empty() {
                            None
                        } else {
                            Some(0)
                        })
                })
            });
            let Some(node) = target else {
                // No node known at all: nothing can be sent.
                self.fail_unit(u, p, Failure::Closed);
                continue;
            };
            let b = match self.batch_of.get(node).copied() {
                Some(b) if b != u32::MAX => b as usize,
                _ => {
                    let (mut pipeline, members) = self.spare.pop().unwrap_or_default();
                    pipeline.copy_settings(p);
                    if replica.is_some() {
                        let _ = pipeline.query_encoded(READONLY);
                    }
                    self.batches.push(Batch {
                        node,
                        pipeline,
                        members,
                    });
                    if let Some(slot) = self.batch_of.get_mut(node) {
                        *slot = (self.batches.len() - 1) as u32;
                    }
                    self.batches.len() - 1
                }
            };
            let batch = &mut self.batches[b];
            let mark = batch.pipeline.mark();
            if ask.is_some() {
                let _ = batch.pipeline.push_encoded(ASKING);
            }
            let first = batch.pipeline.len();
            let unit = &self.units[u];
            let queued = match unit.origin {
                Origin::Command(i) => push(&mut batch.pipeline, p.command(i)),
                Origin::Block(m, x) => (m..=x).all(|i| push(&mut batch.pipeline, p.command(i))),
                Origin::Part { .. } | Origin::Scan { .. } => {
                    push(&mut batch.pipeline, Some(&unit.bytes))
                }
            };
            let count = batch.pipeline.len() - first;
            if queued {
                batch.members.push((u, first, count));
            } else {
                batch.pipeline.rollback(mark);
                self.fail_unit(u, p, Failure::Closed);
            }
        }
        self.batches.retain(|b| !b.members.is_empty());
        !self.batches.is_empty()
    }

    /// This round's batches, to run on their nodes (in parallel where the platform can). A
    /// batch whose node fails must be left failed, as every transport leaves a pipeline.
    pub fn batches_mut(&mut self) -> &mut [Batch] {
        &mut self.batches
    }

    /// How long to wait before sending this round (after `TRYAGAIN`, `CLUSTERDOWN`,
    /// `LOADING`, `MASTERDOWN`, or a node that could not be reached), in milliseconds.
    pub fn delay_ms(&self) -> u32 {
        self.delay_ms
    }

    /// Whether the slot map should be read again before the next round (after `MOVED`,
    /// `CLUSTERDOWN` or a node that could not be reached).
    pub fn wants_refresh(&self) -> bool {
        self.refresh
    }

    /// Reads this round's replies into `p`: results into their handles, redirections into
    /// `map` and the next round.
    pub fn absorb(&mut self, p: &mut VecPipeline, map: &mut SlotMap) {
        self.absorb_replies(p);
        for (slot, node, replied) in self.moves.drain(..) {
            map.moved(slot, node, Some(replied));
        }
    }

    /// [`absorb`](Self::absorb) into a shared slot map, which is copied only when a `MOVED`
    /// changes it (`Arc::make_mut`): a round without redirections copies nothing. Compare the
    /// `Arc` before and after ([`Arc::ptr_eq`]) to know whether the map changed.
    pub fn absorb_shared(&mut self, p: &mut VecPipeline, map: &mut Arc<SlotMap>) {
        self.absorb_replies(p);
        for (slot, node, replied) in self.moves.drain(..) {
            // Copies the map on the first change only: it is unique afterwards.
            Arc::make_mut(map).moved(slot, node, Some(replied));
        }
    }

    fn absorb_replies(&mut self, p: &mut VecPipeline) {
        self.refresh = false;
        self.delay_ms = 0;
        self.moves.clear();
        let batches = core::mem::take(&mut self.batches);
        for batch in &batches {
            for &(u, first, count) in &batch.members {
                self.absorb_unit(p, batch, u, first, count);
            }
        }
        self.batches = batches;
    }

    fn absorb_unit(
        &mut self,
        p: &mut VecPipeline,
        batch: &Batch,
        u: usize,
        first: usize,
        count: usize,
    ) {
        let sub = &batch.pipeline;
        // The common case, one command and a reply that is not an error: straight into its slot.
        if count == 1 {
            if let (Origin::Command(i), Some(frame)) =
                (self.units[u].origin, sub.reply_frame(first))
            {
                // Not an error (`-`), nor attributes that may precede one (`|`).
                if !matches!(frame.first(), Some(b'-' | b'|')) {
                    self.units[u].done = true;
                    deliver_trusted(p, i, frame);
                    return;
                }
            }
        }
        let frames: Option<Vec<&[u8]>> =
            (first..first + count).map(|i| sub.reply_frame(i)).collect();
        let Some(frames) = frames else {
            let failure = sub.failure().unwrap_or(Failure::Closed);
            // Commands the node never received can go again; the others may have run.
            let unsent = !(first..first + count).any(|i| sub.was_sent(i));
            if unsent && self.units[u].attempts + 1 < MAX_ATTEMPTS {
                let unit = &mut self.units[u];
                unit.attempts += 1;
                unit.ask = None;
                self.refresh = true;
                self.delay_ms = self.delay_ms.max(backoff(unit.attempts));
            } else {
                self.fail_unit(u, p, failure);
            }
            return;
        };
        let block = matches!(self.units[u].origin, Origin::Block(..));
        // The reply that decides: for a transaction, the first redirection among its replies,
        // else its EXEC's.
        let deciding = if block {
            frames
                .iter()
                .copied()
                .find(|f| {
                    matches!(
                        error_kind(f),
                        Some(ServerErrorKind::Moved | ServerErrorKind::Ask)
                    )
                })
                .or(frames.last().copied())
        } else {
            frames.first().copied()
        };
        let retry = match deciding.and_then(error_kind) {
            Some(ServerErrorKind::Moved) => {
                if let Some((slot, node)) = deciding.and_then(redirect) {
                    self.moves.push((slot, node, batch.node));
                }
                self.refresh = true;
                self.units[u].ask = None;
                true
            }
            Some(ServerErrorKind::Ask) if !block => {
                self.units[u].ask = deciding.and_then(redirect).map(|(_, node)| node);
                true
            }
            Some(
                ServerErrorKind::Ask
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::Loading
                | ServerErrorKind::MasterDown,
            ) => {
                let unit = &self.units[u];
                if matches!(
                    deciding.and_then(error_kind),
                    Some(ServerErrorKind::ClusterDown)
                ) {
                    self.refresh = true;
                }
                self.delay_ms = self.delay_ms.max(backoff(unit.attempts + 1));
                true
            }
            _ => false,
        };
        if retry && self.units[u].attempts + 1 < MAX_ATTEMPTS {
            self.units[u].attempts += 1;
            return;
        }
        self.units[u].done = true;
        match self.units[u].origin {
            Origin::Command(i) => deliver_trusted(p, i, frames[0]),
            Origin::Block(m, _) => {
                for (k, frame) in frames.iter().enumerate() {
                    deliver_trusted(p, m + k, frame);
                }
            }
            Origin::Part { split, part } => {
                self.splits[split].parts[part] = Some(frames[0].to_vec());
                self.merge(p, split);
            }
            Origin::Scan { index, shard, of } => match scan_page(frames[0], shard, of) {
                Some(page) => deliver(p, index, &page),
                None if frames[0].first() == Some(&b'-') => deliver(p, index, frames[0]),
                None => {
                    let _ = p.fail_command(
                        index,
                        Failure::Protocol(crate::DecodeError::UnexpectedReply),
                    );
                }
            },
        }
    }

    /// Resolves a split command once every part has its reply.
    fn merge(&mut self, p: &mut VecPipeline, split: usize) {
        let s = &mut self.splits[split];
        if s.settled || s.parts.iter().any(Option::is_none) {
            return;
        }
        s.settled = true;
        let parts: Vec<&[u8]> = s.parts.iter().filter_map(|f| f.as_deref()).collect();
        if let Some(error) = parts.iter().find(|f| f.first() == Some(&b'-')) {
            deliver(p, s.index, error);
            return;
        }
        let merged = match s.merge {
            Merge::Sum => {
                let mut total = 0i64;
                for f in &parts {
                    match crate::decode::decode_reply(f, &Limits::default()) {
                        Ok(Some((Reply::Int(n), _))) => total = total.saturating_add(n),
                        _ => {
                            deliver(p, s.index, f);
                            return;
                        }
                    }
                }
                let mut out = Vec::from(&b":"[..]);
                out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
                out.extend_from_slice(b"\r\n");
                out
            }
            Merge::Ok => Vec::from(&b"+OK\r\n"[..]),
            Merge::Concat => {
                let elements: Option<Vec<Vec<&[u8]>>> = parts.iter().map(|f| elements(f)).collect();
                let Some(elements) = elements else {
                    let _ = p.fail_command(
                        s.index,
                        Failure::Protocol(crate::DecodeError::UnexpectedReply),
                    );
                    return;
                };
                let total: usize = elements.iter().map(Vec::len).sum();
                let mut out = Vec::from(&b"*"[..]);
                out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
                out.extend_from_slice(b"\r\n");
                for value in elements.iter().flatten() {
                    out.extend_from_slice(value);
                }
                out
            }
            Merge::Values => {
                let elements: Option<Vec<Vec<&[u8]>>> = parts.iter().map(|f| elements(f)).collect();
                let Some(elements) = elements else {
                    let _ = p.fail_command(
                        s.index,
                        Failure::Protocol(crate::DecodeError::UnexpectedReply),
                    );
                    return;
                };
                let mut out = Vec::from(&b"*"[..]);
                out.extend_from_slice(itoa::Buffer::new().format(s.order.len()).as_bytes());
                out.extend_from_slice(b"\r\n");
                for &(part, at) in &s.order {
                    match elements.get(part).and_then(|e| e.get(at)) {
                        Some(value) => out.extend_from_slice(value),
                        None => {
                            let _ = p.fail_command(
                                s.index,
                                Failure::Protocol(crate::DecodeError::UnexpectedReply),
                            );
                            return;
                        }
                    }
                }
                out
            }
        };
        deliver(p, s.index, &merged);
    }

    /// Fails what unit `u` stands for.
    fn fail_unit(&mut self, u: usize, p: &mut VecPipeline, failure: Failure) {
        let unit = &mut self.units[u];
        unit.done = true;
        match unit.origin {
            Origin::Command(i) => {
                let _ = p.fail_command(i, failure);
            }
            Origin::Block(m, x) => {
                for i in m..=x {
                    let _ = p.fail_command(i, failure);
                }
            }
            Origin::Part { split, .. } => {
                let s = &mut self.splits[split];
                if !s.settled {
                    s.settled = true;
                    let _ = p.fail_command(s.index, failure);
                }
            }
            Origin::Scan { index, .. } => {
                let _ = p.fail_command(index, failure);
            }
        }
    }

    /// Turns the pipeline's new entries into units.
    fn plan(&mut self, p: &mut VecPipeline, map: &SlotMap) {
        let mut i = self.planned;
        while i < p.len() {
            match p.shape(i) {
                Shape::Settled => i += 1,
                Shape::Multi(exec) => {
                    self.plan_block(p, i, exec);
                    i = exec + 1;
                }
                Shape::Command => {
                    self.plan_command(p, i, map);
                    i += 1;
                }
            }
        }
        self.planned = i;
    }

    fn plan_block(&mut self, p: &mut VecPipeline, multi: usize, exec: usize) {
        let mut slot = None;
        let mut crossed = false;
        for i in multi + 1..exec {
            match p.command(i).map(|c| slots(c)) {
                Some(Slots::One(s, _)) if slot.is_some_and(|t| t != s) => crossed = true,
                Some(Slots::One(s, _)) => slot = Some(s),
                Some(Slots::Many(_)) => crossed = true,
                _ => {}
            }
        }
        if crossed {
            deliver(p, multi, b"+OK\r\n");
            for i in multi + 1..exec {
                deliver(p, i, CROSSSLOT);
            }
            deliver(p, exec, EXECABORT);
            return;
        }
        self.units.push(Unit {
            origin: Origin::Block(multi, exec),
            bytes: Vec::new(),
            slot,
            ask: None,
            attempts: 0,
            done: false,
            read: false,
            pin: None,
        });
    }

    fn plan_command(&mut self, p: &mut VecPipeline, index: usize, map: &SlotMap) {
        let Some(command) = p.command(index) else {
            return;
        };
        let (slot, read) = match slots(command) {
            Slots::None => {
                if let Some(unit) = scan_unit(index, command) {
                    self.units.push(unit);
                    return;
                }
                if self.plan_every_primary(index, command, map) {
                    return;
                }
                (None, false)
            }
            Slots::One(s, name) => (Some(s), is_read(name)),
            Slots::Many(words) => {
                if !self.plan_split(index, &words) {
                    deliver(p, index, CROSSSLOT);
                }
                return;
            }
        };
        self.units.push(Unit {
            origin: Origin::Command(index),
            bytes: Vec::new(),
            slot,
            ask: None,
            attempts: 0,
            done: false,
            read,
            pin: None,
        });
    }

    /// Sends a command about the whole keyspace (`DBSIZE`, `KEYS`, `FLUSHDB`, `FLUSHALL`) to
    /// every primary and puts the answers together; false for other commands.
    fn plan_every_primary(&mut self, index: usize, command: &[u8], map: &SlotMap) -> bool {
        let Some(words) = words(command) else {
            return false;
        };
        let is = |n: &str| words[0].eq_ignore_ascii_case(n.as_bytes());
        let merge = if is("DBSIZE") {
            Merge::Sum
        } else if is("KEYS") {
            Merge::Concat
        } else if is("FLUSHDB") || is("FLUSHALL") {
            Merge::Ok
        } else {
            return false;
        };
        let primaries = primaries_by_slot(map).len().min(usize::from(u16::MAX));
        if primaries == 0 {
            // No node known: it goes as any keyless command and fails as one.
            return false;
        }
        let split = self.splits.len();
        self.splits.push(Split {
            index,
            merge,
            order: Vec::new(),
            parts: alloc::vec![None; primaries],
            settled: false,
        });
        for part in 0..primaries {
            self.units.push(Unit {
                origin: Origin::Part { split, part },
                bytes: command.to_vec(),
                slot: None,
                ask: None,
                attempts: 0,
                done: false,
                read: false,
                pin: u16::try_from(part).ok(),
            });
        }
        true
    }

    /// Splits a multi-key command per slot; false for commands that cannot be split.
    fn plan_split(&mut self, index: usize, words: &[&[u8]]) -> bool {
        let name = words[0];
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        let (merge, step) = if is("MGET") {
            (Merge::Values, 1)
        } else if is("DEL") || is("UNLINK") || is("EXISTS") || is("TOUCH") {
            (Merge::Sum, 1)
        } else if is("MSET") {
            (Merge::Ok, 2)
        } else {
            return false;
        };
        if words.len() < 1 + step || !(words.len() - 1).is_multiple_of(step) {
            return false;
        }
        // Keys grouped by slot, in order of first appearance.
        let mut groups: Vec<(HashSlot, Vec<&[u8]>)> = Vec::new();
        let mut order = Vec::new();
        for item in words[1..].chunks(step) {
            let slot = HashSlot::for_key(item[0]);
            let g = match groups.iter().position(|(s, _)| *s == slot) {
                Some(g) => g,
                None => {
                    groups.push((slot, Vec::new()));
                    groups.len() - 1
                }
            };
            order.push((g, groups[g].1.len() / step));
            groups[g].1.extend_from_slice(item);
        }
        let split = self.splits.len();
        self.splits.push(Split {
            index,
            merge,
            order,
            parts: alloc::vec![None; groups.len()],
            settled: false,
        });
        for (part, (slot, args)) in groups.into_iter().enumerate() {
            let mut bytes = Vec::new();
            let _ = crate::encode::encode_command(&mut bytes, &(name, args.as_slice()));
            self.units.push(Unit {
                origin: Origin::Part { split, part },
                bytes,
                slot: Some(slot),
                ask: None,
                attempts: 0,
                done: false,
                read: is_read(name),
                pin: None,
            });
        }
        true
    }
}

/// Bits of a cluster `SCAN` cursor that are a node's own cursor; the bits above say which
/// primary.
const SCAN_NODE_BITS: u32 = 48;

/// A finished scan's last page: cursor 0, no keys.
const SCAN_DONE: &[u8] = b"*2\r\n$1\r\n0\r\n*0\r\n";

/// The unit of a `SCAN cursor ...` command: the node's part of the cursor in its own copy of
/// the command. `None` for other commands (and a `SCAN` without a number for a cursor, which
/// goes as it is and gets the server's error).
fn scan_unit(index: usize, command: &[u8]) -> Option<Unit> {
    let words = words(command)?;
    if !words.first()?.eq_ignore_ascii_case(b"SCAN") {
        return None;
    }
    let cursor = parse_u64(words.get(1)?)?;
    let shard = u16::try_from(cursor >> SCAN_NODE_BITS).ok()?;
    let node_cursor = cursor & ((1u64 << SCAN_NODE_BITS) - 1);
    let mut digits = itoa::Buffer::new();
    let mut args: Vec<&[u8]> = Vec::with_capacity(words.len() - 1);
    args.push(digits.format(node_cursor).as_bytes());
    args.extend_from_slice(&words[2..]);
    let mut bytes = Vec::new();
    crate::encode::encode_command(&mut bytes, &(words[0], args.as_slice())).ok()?;
    Some(Unit {
        origin: Origin::Scan {
            index,
            shard,
            of: 0,
        },
        bytes,
        slot: None,
        ask: None,
        attempts: 0,
        done: false,
        read: false,
        pin: Some(shard),
    })
}

/// A node's `SCAN` reply as a page of the cluster scan: its cursor turned into the cluster's
/// (the next primary's start after the node's last page). `None` if it is not a scan reply.
fn scan_page(frame: &[u8], shard: u16, of: u16) -> Option<Vec<u8>> {
    let parts = elements(frame)?;
    let [cursor, keys] = parts.as_slice() else {
        return None;
    };
    let digits = match crate::decode::decode_reply(cursor, &Limits::default()) {
        Ok(Some((Reply::Bulk(d), _))) => d,
        _ => return None,
    };
    let node_cursor = parse_u64(digits)?;
    if node_cursor >> SCAN_NODE_BITS != 0 {
        return None;
    }
    let next = match node_cursor {
        0 if shard + 1 < of => u64::from(shard + 1) << SCAN_NODE_BITS,
        0 => 0,
        c => u64::from(shard) << SCAN_NODE_BITS | c,
    };
    let mut digits = itoa::Buffer::new();
    let next = digits.format(next).as_bytes();
    let mut out = Vec::with_capacity(frame.len() + 8);
    out.extend_from_slice(b"*2\r\n$");
    out.extend_from_slice(itoa::Buffer::new().format(next.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(next);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(keys);
    Some(out)
}

/// The primaries in the order of the first slot each owns: the order a cluster `SCAN` walks,
/// which a failover keeps (the promoted replica takes its primary's slots).
fn primaries_by_slot(map: &SlotMap) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for s in 0..HashSlot::COUNT {
        if let Some(node) = HashSlot::new(s).and_then(|slot| map.owner(slot)) {
            if !out.contains(&node) {
                out.push(node);
            }
        }
    }
    out
}

/// Queues a command encoded by a pipeline (whole by construction); false if it cannot be.
fn push(batch: &mut VecPipeline, command: Option<&[u8]>) -> bool {
    command.is_some_and(|c| batch.push_encoded(c).is_ok())
}

/// Puts `frame` into the slot at `index`; a reply the pipeline refuses fails the slot.
fn deliver(p: &mut VecPipeline, index: usize, frame: &[u8]) {
    if let Err(crate::ResolveError::Invalid(e)) = p.resolve(index, frame) {
        let _ = p.fail_command(index, Failure::Protocol(e));
    }
}

/// Back-off before attempt `n`: 10 ms doubling, at most 640 ms.
fn backoff(attempt: u8) -> u32 {
    10u32 << attempt.min(6)
}

/// Puts a node's reply (validated by the node's pipeline, whose limits are `p`'s) into the
/// slot at `index`, without scanning it again.
fn deliver_trusted(p: &mut VecPipeline, index: usize, frame: &[u8]) {
    let _ = p.resolve_trusted(index, frame);
}

/// The error code of a reply, if it is an error.
fn error_kind(frame: &[u8]) -> Option<ServerErrorKind> {
    if !matches!(frame.first(), Some(b'-' | b'|')) {
        return None;
    }
    match crate::decode::decode_reply(frame, &Limits::default()) {
        Ok(Some((Reply::Error(e), _))) => Some(e.kind()),
        _ => None,
    }
}

/// The slot and node a `MOVED` or `ASK` reply names.
fn redirect(frame: &[u8]) -> Option<(HashSlot, Node)> {
    match crate::decode::decode_reply(frame, &Limits::default()) {
        Ok(Some((Reply::Error(e), _))) => {
            let r = e.redirect()?;
            Some((r.slot, Node::parse(r.addr)?))
        }
        _ => None,
    }
}

/// Where a command's keys hash.
enum Slots<'c> {
    /// No key.
    None,
    /// Every key in one slot; the command's name.
    One(HashSlot, &'c [u8]),
    /// Keys in several slots: the command's words.
    Many(Vec<&'c [u8]>),
}

fn slots(command: &[u8]) -> Slots<'_> {
    // Most commands have a few words: those are read into the stack, not a new `Vec`.
    let mut small = heapless::Vec::<&[u8], 8>::new();
    let mut overflow = false;
    if read_words(command, |w| overflow |= small.push(w).is_err()).is_none() {
        return Slots::None;
    }
    if overflow {
        return match words(command) {
            Some(all) => match slots_of(&all) {
                Slots::Many(_) => Slots::Many(all),
                other => other,
            },
            None => Slots::None,
        };
    }
    slots_of(&small)
}

/// [`slots`] of a command's words.
fn slots_of<'c>(words: &[&'c [u8]]) -> Slots<'c> {
    let Some(name) = words.first() else {
        return Slots::None;
    };
    let mut slot = None;
    let mut many = false;
    for k in KeySpec::of(name).positions(words) {
        let s = HashSlot::for_key(words[k]);
        match slot {
            None => slot = Some(s),
            Some(t) if t != s => many = true,
            Some(_) => {}
        }
    }
    if many {
        return Slots::Many(words.to_vec());
    }
    let name = words[0];
    slot.map_or(Slots::None, |s| Slots::One(s, name))
}

/// The words of an encoded command (`*N` then `N` bulk strings).
fn words(command: &[u8]) -> Option<Vec<&[u8]>> {
    let mut words = Vec::new();
    read_words(command, |w| words.push(w))?;
    Some(words)
}

/// Calls `each` with every word of an encoded command (`*N` then `N` bulk strings), in order;
/// `None` if the bytes are not such a command.
fn read_words<'c>(command: &'c [u8], mut each: impl FnMut(&'c [u8])) -> Option<()> {
    // One `<type><digits>\r\n` line at `at`: its digits, and where the next part starts.
    let line = |at: usize, kind: u8| -> Option<(u64, usize)> {
        let rest = command.get(at..)?;
        if rest.first() != Some(&kind) {
            return None;
        }
        let cr = rest.iter().position(|&b| b == b'\r')?;
        if rest.get(cr + 1) != Some(&b'\n') {
            return None;
        }
        Some((parse_u64(&rest[1..cr])?, at + cr + 2))
    };
    let (n, mut at) = line(0, b'*')?;
    for _ in 0..n {
        let (len, start) = line(at, b'$')?;
        let len = usize::try_from(len).ok()?;
        each(command.get(start..start.checked_add(len)?)?);
        at = start + len + 2;
    }
    Some(())
}

/// The elements of an array reply, each as its own frame.
fn elements(frame: &[u8]) -> Option<Vec<&[u8]>> {
    let header = frame.windows(2).position(|w| w == b"\r\n")?;
    let n = usize::try_from(parse_u64(frame.get(1..header)?)?).ok()?;
    if frame.first() != Some(&b'*') {
        return None;
    }
    let mut at = header + 2;
    let mut out = Vec::with_capacity(n);
    let limits = Limits::default();
    for _ in 0..n {
        let len = Scanner::new().scan(&frame[at..], &limits).ok()??;
        out.push(&frame[at..at + len]);
        at += len;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ScanOptions;
    use crate::prelude::*;
    use crate::{Failure, SlotError};
    use alloc::collections::BTreeMap;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;

    /// An in-memory cluster of `n` nodes: each owns the slots the test says, keeps its keys,
    /// and answers as Redis does (`MOVED` for slots it does not own, `ASK` while migrating).
    struct FakeCluster {
        owner: Vec<usize>,
        /// Slots a node is migrating away: (slot, to node). Keys not there any more get `ASK`.
        migrating: Vec<(u16, usize)>,
        data: Vec<BTreeMap<Vec<u8>, Vec<u8>>>,
        /// Commands each node received, as text.
        log: Vec<Vec<String>>,
        /// Replies to give instead, once each, by command name.
        scripted: Vec<(usize, &'static str, &'static [u8])>,
    }

    impl FakeCluster {
        fn new(nodes: usize) -> Self {
            Self {
                owner: (0..HashSlot::COUNT as usize)
                    .map(|s| s * nodes / HashSlot::COUNT as usize)
                    .collect(),
                migrating: Vec::new(),
                data: vec![BTreeMap::new(); nodes],
                log: vec![Vec::new(); nodes],
                scripted: Vec::new(),
            }
        }

        fn map(&self) -> SlotMap {
            let mut map = SlotMap::new();
            for (slot, &node) in self.owner.iter().enumerate() {
                map.moved(HashSlot::new(slot as u16).unwrap(), self.node(node), None);
            }
            map
        }

        fn node(&self, i: usize) -> Node {
            Node {
                host: "127.0.0.1".into(),
                port: 7000 + i as u16,
            }
        }

        fn reply(
            &mut self,
            node: usize,
            words: &[&[u8]],
            asking: bool,
            tx: &mut Option<Vec<Vec<Vec<u8>>>>,
        ) -> Vec<u8> {
            let name = String::from_utf8_lossy(words[0]).to_uppercase();
            self.log[node].push(
                words
                    .iter()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            if let Some(at) = self
                .scripted
                .iter()
                .position(|(n, c, _)| *n == node && *c == name)
            {
                return self.scripted.remove(at).2.to_vec();
            }
            match name.as_str() {
                "ASKING" => return b"+OK\r\n".to_vec(),
                "MULTI" => {
                    *tx = Some(Vec::new());
                    return b"+OK\r\n".to_vec();
                }
                "EXEC" => {
                    let queued = tx.take().unwrap_or_default();
                    let mut out = format!("*{}\r\n", queued.len()).into_bytes();
                    for q in queued {
                        let words: Vec<&[u8]> = q.iter().map(Vec::as_slice).collect();
                        out.extend(self.run(node, &words));
                    }
                    return out;
                }
                _ => {}
            }
            let keys: Vec<usize> = KeySpec::of(words[0]).positions(words).collect();
            if let Some(&k) = keys.first() {
                let slot = HashSlot::for_key(words[k]).get();
                let owner = self.owner[usize::from(slot)];
                let importing = asking
                    && self
                        .migrating
                        .iter()
                        .any(|&(s, to)| s == slot && to == node);
                if owner != node && !importing {
                    return format!("-MOVED {slot} {}\r\n", self.node(owner)).into_bytes();
                }
                if let Some(&(_, to)) = self.migrating.iter().find(|(s, _)| *s == slot) {
                    if owner == node && !self.data[node].contains_key(words[k]) {
                        return format!("-ASK {slot} {}\r\n", self.node(to)).into_bytes();
                    }
                }
            }
            if let Some(queued) = tx {
                queued.push(words.iter().map(|w| w.to_vec()).collect());
                return b"+QUEUED\r\n".to_vec();
            }
            self.run(node, words)
        }

        fn run(&mut self, node: usize, words: &[&[u8]]) -> Vec<u8> {
            let bulk = |v: Option<&Vec<u8>>| match v {
                Some(v) => {
                    let mut out = format!("${}\r\n", v.len()).into_bytes();
                    out.extend_from_slice(v);
                    out.extend_from_slice(b"\r\n");
                    out
                }
                None => b"$-1\r\n".to_vec(),
            };
            let data = &mut self.data[node];
            match String::from_utf8_lossy(words[0]).to_uppercase().as_str() {
                "SET" => {
                    data.insert(words[1].to_vec(), words[2].to_vec());
                    b"+OK\r\n".to_vec()
                }
                "MSET" => {
                    for kv in words[1..].chunks(2) {
                        data.insert(kv[0].to_vec(), kv[1].to_vec());
                    }
                    b"+OK\r\n".to_vec()
                }
                "GET" => bulk(data.get(words[1])),
                "MGET" => {
                    let mut out = format!("*{}\r\n", words.len() - 1).into_bytes();
                    for k in &words[1..] {
                        out.extend(bulk(data.get(*k)));
                    }
                    out
                }
                "DEL" => {
                    let n = words[1..]
                        .iter()
                        .filter(|k| data.remove(**k).is_some())
                        .count();
                    format!(":{n}\r\n").into_bytes()
                }
                "INCR" => {
                    let v = data
                        .get(words[1])
                        .and_then(|v| core::str::from_utf8(v).ok()?.parse::<i64>().ok())
                        .unwrap_or(0)
                        + 1;
                    data.insert(words[1].to_vec(), format!("{v}").into_bytes());
                    format!(":{v}\r\n").into_bytes()
                }
                "PING" => b"+PONG\r\n".to_vec(),
                "DBSIZE" => format!(":{}\r\n", data.len()).into_bytes(),
                "KEYS" => {
                    let mut out = format!("*{}\r\n", data.len()).into_bytes();
                    for k in data.keys() {
                        out.extend(bulk(Some(k)));
                    }
                    out
                }
                "FLUSHDB" => {
                    data.clear();
                    b"+OK\r\n".to_vec()
                }
                "SCAN" => {
                    // The cursor counts the keys already returned, in key order.
                    let from: usize = String::from_utf8_lossy(words[1]).parse().unwrap();
                    let count = words
                        .iter()
                        .position(|w| w.eq_ignore_ascii_case(b"COUNT"))
                        .map_or(10, |i| {
                            String::from_utf8_lossy(words[i + 1]).parse().unwrap()
                        });
                    let page: Vec<&Vec<u8>> = data.keys().skip(from).take(count).collect();
                    let next = if from + page.len() >= data.len() {
                        0
                    } else {
                        from + page.len()
                    };
                    let next = format!("{next}");
                    let mut out = format!("*2\r\n${}\r\n{next}\r\n*{}\r\n", next.len(), page.len())
                        .into_bytes();
                    for k in page {
                        out.extend(bulk(Some(k)));
                    }
                    out
                }
                _ => b"-ERR unknown command\r\n".to_vec(),
            }
        }

        /// Runs one round: every batch on its node, as a transport would.
        fn serve(&mut self, run: &mut ClusterRun, map: &SlotMap) {
            for batch in run.batches_mut() {
                let node = usize::from(map.node(batch.node()).port - 7000);
                let p = batch.pipeline_mut();
                let out = p.poll_output().to_vec();
                p.consume_output(out.len());
                let mut replies = Vec::new();
                let mut at = 0;
                let mut asking = false;
                let mut tx = None;
                while at < out.len() {
                    let n = Scanner::new()
                        .scan(&out[at..], &Limits::default())
                        .unwrap()
                        .unwrap();
                    let w = words(&out[at..at + n]).unwrap();
                    let reply = self.reply(node, &w, asking, &mut tx);
                    asking = w[0].eq_ignore_ascii_case(b"ASKING");
                    replies.extend(reply);
                    at += n;
                }
                p.handle_input(&replies).unwrap();
            }
        }

        /// Runs `p` to completion; the number of rounds.
        fn execute(&mut self, p: &mut VecPipeline, map: &mut SlotMap) -> usize {
            let mut run = ClusterRun::new();
            let mut rounds = 0;
            while run.next_round(p, map) {
                rounds += 1;
                self.serve(&mut run, map);
                run.absorb(p, map);
                assert!(rounds < 50, "no progress");
            }
            assert!(p.is_done());
            rounds
        }
    }

    #[test]
    fn keys_across_every_node_resolve_in_call_order() {
        let mut cluster = FakeCluster::new(3);
        let mut map = cluster.map();
        let mut p = VecPipeline::new();
        let sets: Vec<_> = (0..300)
            .map(|i| p.set(format!("k{i}"), i).unwrap())
            .collect();
        let gets: Vec<_> = (0..300)
            .map(|i| p.get::<i64>(format!("k{i}")).unwrap())
            .collect();
        let pong = p.ping().unwrap();
        assert_eq!(
            cluster.execute(&mut p, &mut map),
            1,
            "one round trip per node"
        );
        for (i, (s, g)) in sets.iter().zip(&gets).enumerate() {
            assert_eq!(s.read(&p), Ok(()));
            assert_eq!(g.read(&p), Ok(i as i64));
        }
        assert_eq!(pong.read(&p), Ok("PONG"));
        assert!(
            cluster.log.iter().all(|l| l.len() > 150),
            "every node got its share"
        );
    }

    #[test]
    fn scan_walks_every_primary_under_one_cursor() {
        let mut cluster = FakeCluster::new(3);
        let mut map = cluster.map();
        let mut p = VecPipeline::new();
        for i in 0..50 {
            let _ = p.set(format!("k{i}"), i).unwrap();
        }
        cluster.execute(&mut p, &mut map);
        let mut seen = Vec::new();
        let mut cursor = 0;
        let mut pages = 0;
        loop {
            p.reset();
            let opts = ScanOptions {
                count: Some(7),
                ..ScanOptions::default()
            };
            let page = p.scan::<Vec<String>>(cursor, opts).unwrap();
            let pong = p.ping().unwrap();
            cluster.execute(&mut p, &mut map);
            let (next, keys) = page.read(&p).unwrap();
            assert_eq!(
                pong.read(&p),
                Ok("PONG"),
                "a scan page beside other commands"
            );
            seen.extend(keys);
            pages += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
            assert!(pages < 50, "no progress");
        }
        seen.sort();
        let mut want: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        want.sort();
        assert_eq!(seen, want, "every key once");
        for (node, log) in cluster.log.iter().enumerate() {
            let scans: Vec<&String> = log.iter().filter(|c| c.starts_with("SCAN")).collect();
            assert!(scans.len() >= 2, "node {node} scanned in pages: {scans:?}");
            assert!(
                scans[0].starts_with("SCAN 0 "),
                "node {node} starts at 0: {scans:?}"
            );
        }
    }

    #[test]
    fn whole_keyspace_commands_go_to_every_primary_and_come_back_as_one() {
        let mut cluster = FakeCluster::new(3);
        let mut map = cluster.map();
        let mut p = VecPipeline::new();
        for i in 0..40 {
            let _ = p.set(format!("k{i}"), i).unwrap();
        }
        let size = p.dbsize().unwrap();
        let keys = p.keys::<Vec<String>>("*").unwrap();
        let pong = p.ping().unwrap();
        assert_eq!(cluster.execute(&mut p, &mut map), 1, "one round trip");
        assert_eq!(size.read(&p), Ok(40));
        let mut keys = keys.read(&p).unwrap();
        keys.sort();
        let mut want: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(pong.read(&p), Ok("PONG"));
        let pings: usize = cluster
            .log
            .iter()
            .map(|l| l.iter().filter(|c| *c == "PING").count())
            .sum();
        assert_eq!(pings, 1, "other keyless commands go to one node");

        p.reset();
        let flushed = p.flushdb().unwrap();
        let size = p.dbsize().unwrap();
        cluster.execute(&mut p, &mut map);
        assert_eq!(flushed.read(&p), Ok(()));
        assert_eq!(size.read(&p), Ok(0));
        assert!(cluster.data.iter().all(BTreeMap::is_empty));
    }

    #[test]
    fn a_primary_refusing_its_part_fails_the_whole_keyspace_command() {
        let mut cluster = FakeCluster::new(3);
        let mut map = cluster.map();
        cluster.scripted.push((1, "DBSIZE", b"-ERR not now\r\n"));
        cluster.scripted.push((2, "KEYS", b"+not an array\r\n"));
        let mut p = VecPipeline::new();
        let size = p.dbsize().unwrap();
        let keys = p.keys::<Vec<String>>("*").unwrap();
        cluster.execute(&mut p, &mut map);
        assert!(size.read(&p).is_err(), "a part's error is the result");
        assert!(keys.read(&p).is_err(), "a part that is not a key list");
    }

    #[test]
    fn a_scan_cursor_past_the_last_primary_ends_the_scan_without_sending() {
        let mut cluster = FakeCluster::new(3);
        let mut map = cluster.map();
        let mut p = VecPipeline::new();
        let page = p
            .scan::<Vec<String>>(7 << 48, ScanOptions::default())
            .unwrap();
        cluster.execute(&mut p, &mut map);
        assert_eq!(page.read(&p), Ok((0, Vec::new())));
        assert!(cluster.log.iter().all(Vec::is_empty));
    }

    #[test]
    fn a_scan_reply_that_is_not_a_page_fails_its_handle() {
        let mut cluster = FakeCluster::new(2);
        let mut map = cluster.map();
        cluster.scripted.push((0, "SCAN", b"+OK\r\n"));
        cluster
            .scripted
            .push((1, "SCAN", b"*2\r\n$16\r\n9999999999999999\r\n*0\r\n"));
        let mut p = VecPipeline::new();
        let first = p.scan::<Vec<String>>(0, ScanOptions::default()).unwrap();
        let second = p
            .scan::<Vec<String>>(1 << 48, ScanOptions::default())
            .unwrap();
        cluster.execute(&mut p, &mut map);
        assert!(first.read(&p).is_err());
        assert!(second.read(&p).is_err(), "a node cursor over 48 bits");
    }

    #[test]
    fn a_reused_run_with_a_shared_map_copies_the_map_only_after_moved() {
        let mut cluster = FakeCluster::new(3);
        let mut shared = Arc::new(cluster.map());
        let mut run = ClusterRun::new();
        for round in 1..=3 {
            let mut p = VecPipeline::new();
            let counters: Vec<_> = (0..50).map(|i| p.incr(format!("r{i}")).unwrap()).collect();
            let before = shared.clone();
            while run.next_round(&mut p, &shared) {
                cluster.serve(&mut run, &shared);
                run.absorb_shared(&mut p, &mut shared);
            }
            assert!(Arc::ptr_eq(&before, &shared), "no MOVED: no copy");
            for c in &counters {
                assert_eq!(c.read(&p), Ok(round));
            }
            run.reset();
        }
        let slot = HashSlot::for_key(b"r7");
        let old = cluster.owner[usize::from(slot.get())];
        cluster.owner[usize::from(slot.get())] = (old + 1) % 3;
        let mut p = VecPipeline::new();
        let n = p.incr("r7").unwrap();
        let before = shared.clone();
        while run.next_round(&mut p, &shared) {
            cluster.serve(&mut run, &shared);
            run.absorb_shared(&mut p, &mut shared);
        }
        assert_eq!(n.read(&p), Ok(1), "the fake new owner starts empty");
        assert!(
            !Arc::ptr_eq(&before, &shared),
            "MOVED: a copy with the new owner"
        );
        assert_eq!(
            before.owner(slot),
            Some(old),
            "the shared map is left alone"
        );
        assert_ne!(shared.owner(slot), Some(old));
    }

    #[test]
    fn multi_key_commands_are_split_and_put_back_together() {
        let mut cluster = FakeCluster::new(3);
        let mut map = cluster.map();
        let mut p = VecPipeline::new();
        let keys: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
        let pairs: Vec<(&str, usize)> = keys.iter().map(String::as_str).zip(0..).collect();
        let mset = p
            .query::<(), _, _>(
                cmd("MSET").arg(
                    pairs
                        .iter()
                        .map(|&(k, v)| (k, v))
                        .collect::<Vec<_>>()
                        .as_slice(),
                ),
            )
            .unwrap();
        let mut asked: Vec<&str> = keys.iter().map(String::as_str).rev().collect();
        asked.push("missing");
        let mget = p
            .query::<Vec<Option<i64>>, _, _>(cmd("MGET").arg(asked.as_slice()))
            .unwrap();
        let del = p.del(&keys[..10]).unwrap();
        cluster.execute(&mut p, &mut map);
        assert_eq!(mset.read(&p), Ok(()));
        let mut want: Vec<Option<i64>> = (0..20).rev().map(Some).collect();
        want.push(None);
        assert_eq!(mget.read(&p), Ok(want), "values in the order asked");
        assert_eq!(del.read(&p), Ok(10), "counts summed");
        let sent: usize = cluster
            .log
            .iter()
            .map(|l| l.iter().filter(|c| c.starts_with("MGET")).count())
            .sum();
        let mut slots: Vec<u16> = asked
            .iter()
            .map(|k| HashSlot::for_key(k.as_bytes()).get())
            .collect();
        slots.sort_unstable();
        slots.dedup();
        // Redis wants one slot per command, even on one node.
        assert_eq!(sent, slots.len(), "one MGET per slot");
    }

    #[test]
    fn other_commands_across_slots_get_crossslot_and_are_not_sent() {
        let mut cluster = FakeCluster::new(3);
        let mut map = cluster.map();
        let mut p = VecPipeline::new();
        let (a, b) = ("a", "b"); // slots 15495 and 3300: different nodes
        assert_ne!(
            map.owner(HashSlot::for_key(a.as_bytes())),
            map.owner(HashSlot::for_key(b.as_bytes()))
        );
        let rename = p.query::<(), _, _>(cmd("RENAME").arg(a).arg(b)).unwrap();
        let tagged = p
            .query::<(), _, _>(cmd("RENAME").arg("{u}a").arg("{u}b"))
            .unwrap();
        cluster.execute(&mut p, &mut map);
        match rename.read(&p) {
            Err(SlotError::Server(e)) => assert_eq!(e.kind(), ServerErrorKind::CrossSlot),
            other => panic!("{other:?}"),
        }
        // Same hash tag: sent (the fake server does not know RENAME).
        assert!(matches!(tagged.read(&p), Err(SlotError::Server(e)) if e.code() == "ERR"));
        let renames: usize = cluster
            .log
            .iter()
            .map(|l| l.iter().filter(|c| c.starts_with("RENAME")).count())
            .sum();
        assert_eq!(renames, 1);
    }

    #[test]
    fn moved_updates_the_map_and_resends_only_the_moved_command() {
        let mut cluster = FakeCluster::new(3);
        let mut map = cluster.map();
        let slot = HashSlot::for_key(b"counter");
        let old = cluster.owner[usize::from(slot.get())];
        let new = (old + 1) % 3;
        cluster.owner[usize::from(slot.get())] = new; // resharded; the client's map is stale
        let mut p = VecPipeline::new();
        let n = p.incr("counter").unwrap();
        let other = p.incr("other").unwrap();
        let mut run = ClusterRun::new();
        assert!(run.next_round(&mut p, &map));
        cluster.serve(&mut run, &map);
        run.absorb(&mut p, &mut map);
        assert!(run.wants_refresh());
        assert_eq!(map.owner(slot), Some(map.find(&cluster.node(new)).unwrap()));
        assert!(run.next_round(&mut p, &map));
        assert_eq!(
            run.batches_mut().iter().map(Batch::len).sum::<usize>(),
            1,
            "only the moved command"
        );
        cluster.serve(&mut run, &map);
        run.absorb(&mut p, &mut map);
        assert!(!run.next_round(&mut p, &map));
        assert_eq!((n.read(&p), other.read(&p)), (Ok(1), Ok(1)));
        let incrs: usize = cluster
            .log
            .iter()
            .map(|l| l.iter().filter(|c| *c == "INCR counter").count())
            .sum();
        assert_eq!(
            incrs, 2,
            "sent to the old owner (refused) and the new one: run once"
        );
    }

    #[test]
    fn ask_sends_asking_and_the_command_to_the_importing_node_once() {
        let mut cluster = FakeCluster::new(2);
        let mut map = cluster.map();
        let slot = HashSlot::for_key(b"moving");
        let from = cluster.owner[usize::from(slot.get())];
        let to = 1 - from;
        cluster.migrating.push((slot.get(), to));
        let mut p = VecPipeline::new();
        let set = p.set("moving", 1).unwrap();
        let rounds = cluster.execute(&mut p, &mut map);
        assert_eq!(rounds, 2);
        assert_eq!(set.read(&p), Ok(()));
        assert_eq!(cluster.log[to], ["ASKING", "SET moving 1"]);
        assert_eq!(
            map.owner(slot),
            Some(map.find(&cluster.node(from)).unwrap()),
            "ASK leaves the map alone"
        );
    }

    #[test]
    fn retries_are_bounded_and_the_last_error_is_the_result() {
        let mut cluster = FakeCluster::new(1);
        let mut map = cluster.map();
        for _ in 0..MAX_ATTEMPTS {
            cluster.scripted.push((
                0,
                "GET",
                b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
            ));
        }
        let mut p = VecPipeline::new();
        let g = p.get::<String>("k").unwrap();
        let mut run = ClusterRun::new();
        let mut delays = Vec::new();
        while run.next_round(&mut p, &map) {
            delays.push(run.delay_ms());
            cluster.serve(&mut run, &map);
            run.absorb(&mut p, &mut map);
        }
        assert_eq!(delays.len(), usize::from(MAX_ATTEMPTS));
        assert!(
            delays.windows(2).all(|w| w[1] >= w[0]) && delays[1] > 0,
            "{delays:?}"
        );
        assert!(
            matches!(g.read(&p), Err(SlotError::Server(e)) if e.kind() == ServerErrorKind::TryAgain)
        );
    }

    #[test]
    fn a_failed_node_fails_only_its_commands_and_unsent_ones_go_again() {
        let mut cluster = FakeCluster::new(2);
        let mut map = cluster.map();
        let mut p = VecPipeline::new();
        let on: Vec<_> = (0..40)
            .map(|i| (format!("f{i}"), p.incr(format!("f{i}")).unwrap()))
            .collect();
        let mut run = ClusterRun::new();
        assert!(run.next_round(&mut p, &map));
        // Node 0's connection breaks after everything was written; node 1 answers.
        let failing = run
            .batches_mut()
            .iter()
            .position(|b| b.node() == map.find(&cluster.node(0)).unwrap())
            .unwrap();
        let batch = &mut run.batches_mut()[failing];
        let n = batch.pipeline_mut().poll_output().len();
        batch.pipeline_mut().consume_output(n);
        batch
            .pipeline_mut()
            .fail(Failure::Io(crate::IoKind::ConnectionReset));
        let rest: Vec<usize> = (0..run.batches_mut().len())
            .filter(|&b| b != failing)
            .collect();
        for b in rest {
            let mut one = ClusterRun {
                batches: vec![core::mem::replace(
                    &mut run.batches_mut()[b],
                    Batch {
                        node: 0,
                        pipeline: VecPipeline::new(),
                        members: Vec::new(),
                    },
                )],
                ..ClusterRun::new()
            };
            cluster.serve(&mut one, &map);
            run.batches[b] = one.batches.pop().unwrap();
        }
        run.absorb(&mut p, &mut map);
        assert!(
            !run.next_round(&mut p, &map),
            "written commands are not replayed"
        );
        for (key, h) in &on {
            let node = cluster.owner[usize::from(HashSlot::for_key(key.as_bytes()).get())];
            match node {
                0 => assert_eq!(
                    h.read(&p),
                    Err(SlotError::Failed(Failure::Io(
                        crate::IoKind::ConnectionReset
                    )))
                ),
                _ => assert_eq!(h.read(&p), Ok(1)),
            }
        }

        // A node that could not be reached (nothing written) gets the commands again.
        let mut p = VecPipeline::new();
        let h = p.incr("again").unwrap();
        let mut run = ClusterRun::new();
        assert!(run.next_round(&mut p, &map));
        for b in run.batches_mut() {
            b.pipeline_mut()
                .fail(Failure::Io(crate::IoKind::ConnectionRefused));
        }
        run.absorb(&mut p, &mut map);
        assert!(run.wants_refresh() && run.delay_ms() > 0);
        assert!(run.next_round(&mut p, &map));
        cluster.serve(&mut run, &map);
        run.absorb(&mut p, &mut map);
        assert_eq!(h.read(&p), Ok(1));
    }

    #[cfg(feature = "transactions")]
    #[test]
    fn a_transaction_goes_whole_to_its_slot_or_not_at_all() {
        let mut cluster = FakeCluster::new(3);
        let mut map = cluster.map();
        let mut p = VecPipeline::new();
        let (a, b) = p
            .transaction(|p| Ok::<_, crate::CapacityError>((p.incr("{t}a")?, p.incr("{t}b")?)))
            .unwrap();
        let (x, y) = p
            .transaction(|p| Ok::<_, crate::CapacityError>((p.incr("a")?, p.incr("b")?)))
            .unwrap();
        cluster.execute(&mut p, &mut map);
        assert_eq!((a.read(&p), b.read(&p)), (Ok(1), Ok(1)));
        for h in [x, y] {
            assert!(
                matches!(h.read(&p), Err(SlotError::Server(e)) if e.kind() == ServerErrorKind::CrossSlot)
            );
        }
        let node = cluster.owner[usize::from(HashSlot::for_key(b"t").get())];
        assert_eq!(
            cluster.log[node],
            ["MULTI", "INCR {t}a", "INCR {t}b", "EXEC"]
        );
    }

    #[test]
    fn reads_go_to_replicas_after_readonly_when_asked() {
        // One shard: 7000 owns every slot, 7001 and 7002 are its replicas.
        let node = |port: u16| alloc::format!("*2\r\n$9\r\n127.0.0.1\r\n:{port}\r\n");
        let reply = alloc::format!(
            "*1\r\n*5\r\n:0\r\n:16383\r\n{}{}{}",
            node(7000),
            node(7001),
            node(7002)
        );
        let (reply, _) = crate::decode::decode_reply(reply.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        let map = SlotMap::from_reply(&reply).unwrap();
        let mut p = VecPipeline::new();
        let _ = p.set("k", 1).unwrap();
        for _ in 0..4 {
            let _ = p.get::<i64>("k").unwrap();
        }
        let mut run = ClusterRun::new();
        run.read_from_replicas(true);
        assert!(run.next_round(&mut p, &map));
        let mut sent: Vec<(u16, String)> = run
            .batches_mut()
            .iter_mut()
            .map(|b| {
                let port = map.node(b.node()).port;
                let text = String::from_utf8_lossy(b.pipeline_mut().encoded()).into_owned();
                (port, text)
            })
            .collect();
        sent.sort();
        assert_eq!(sent.len(), 3);
        assert!(
            sent[0].1.contains("SET") && !sent[0].1.contains("GET"),
            "{sent:?}"
        );
        for (port, text) in &sent[1..] {
            assert!(text.starts_with("*1\r\n$8\r\nREADONLY"), "{port}: {text:?}");
            assert_eq!(
                text.matches("GET").count(),
                2,
                "reads spread over the replicas"
            );
        }
    }

    #[test]
    fn encoded_words_round_trip() {
        let mut p = VecPipeline::new();
        let _ = p
            .query::<(), _, _>(cmd("SET").arg("k").arg("").arg(b"a\r\nb".as_slice()))
            .unwrap();
        let w = words(p.command(0).unwrap()).unwrap();
        assert_eq!(w, [&b"SET"[..], b"k", b"", b"a\r\nb"]);
        assert_eq!(words(b"*2\r\n$3\r\nGET\r\n"), None);
        let e = elements(b"*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:1\r\n").unwrap();
        assert_eq!(e, [&b"$1\r\na\r\n"[..], b"$-1\r\n", b"*1\r\n:1\r\n"]);
    }
}
