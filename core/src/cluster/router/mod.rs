//! One pipeline over many nodes, sans-I/O: see [`ClusterRun`].

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::refresh::Refresh;
use super::topology::{Node, SlotMap};
use super::{HashSlot, KeySpec};
use crate::codec::decode::{Limits, Scanner};
use crate::codec::error::Failure;
use crate::codec::lex::parse_u64;
use crate::codec::reply::{Reply, ServerErrorKind};
use crate::engine::{Needs, Shape, Sharing, VecPipeline, needs};

/// Attempts per command (the first send, redirects and retries) at the most, whatever the
/// retry budget: a bound on rounds when redirections need no back-off. At the longest back-off
/// ([`MAX_BACKOFF_MS`]) it spans about 40 s, more than the default budget.
pub const MAX_ATTEMPTS: u8 = 255;

/// The longest back-off between two rounds of a run waiting for the cluster to settle: how
/// late at most, after a failover, a waiting command looks again (and reads the slot map
/// again). Shorter, a failover ends sooner for the pipelines waiting on it; longer, a cluster
/// that stays down is asked less often (each waiting pipeline reads the map once per round).
/// Measured with `tests/tests/cluster_torture.rs`: 640 ms left pipelines waiting ~1.2 s past a
/// `kill -9` failover, 160 ms ~0.4 s.
pub const MAX_BACKOFF_MS: u32 = 160;

/// How long, in back-off, a run waits by default for the cluster to settle (a failover, a
/// resharding, a node loading) before a command's handle reads the last error: Redis's default
/// `cluster-node-timeout` (15 s), after which replicas start their election, and some more for
/// the vote and the new owner to take its slots. [`ClusterRun::set_retry_budget`] sets another.
pub const DEFAULT_RETRY_BUDGET_MS: u32 = 20_000;

/// What a run saw of the cluster changing under it, counted since it was made or
/// [`reset`](ClusterRun::reset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteCounts {
    /// `MOVED` replies: a slot had another owner than the map said.
    pub moved: u64,
    /// `ASK` replies: a key was being migrated.
    pub asked: u64,
    /// Commands sent again: after a redirection, a `TRYAGAIN`/`CLUSTERDOWN`/`LOADING`/
    /// `MASTERDOWN`, or a node that failed before it received them.
    pub retries: u64,
    /// Rounds after which the run asked for a topology refresh.
    pub refreshes: u64,
    /// Milliseconds of back-off the run asked its adapter to wait.
    pub waited_ms: u64,
}

impl core::ops::AddAssign for RouteCounts {
    fn add_assign(&mut self, other: Self) {
        self.moved += other.moved;
        self.asked += other.asked;
        self.retries += other.retries;
        self.refreshes += other.refreshes;
        self.waited_ms += other.waited_ms;
    }
}

/// The reply of a command whose keys span slots, as Redis words it.
const CROSSSLOT: &[u8] = b"-CROSSSLOT Keys in request don't hash to the same slot\r\n";
const EXECABORT: &[u8] = b"-EXECABORT Transaction discarded because of previous errors.\r\n";
const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";
const READONLY: &[u8] = b"*1\r\n$8\r\nREADONLY\r\n";

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
    /// Sent to a replica (reads only).
    replica: bool,
    /// Its node lost every slot while the batch was out (see [`ClusterRun::check_deposed`]).
    deposed: bool,
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
///     for batch in run.batches_mut() { node(batch.node()).run(batch.pipeline_mut()) }  // in parallel
///     run.absorb(&mut pipeline, &mut slot_map);
///     if run.wants_refresh() { slot_map = read CLUSTER SHARDS again }
///     sleep(run.delay_ms());      // back-off after TRYAGAIN & co.; the next round is routed after it
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
/// growing back-off, [`ClusterRun::delay_ms`]) and retry; a `MOVED` again for a command
/// already redirected waits too (the nodes do not agree yet: a failover is being voted). A
/// command is sent again while the back-off waited is under the run's retry budget
/// ([`ClusterRun::set_retry_budget`], 20 s by default: a failover rides through); then its
/// handle reads the last error, which names the node for `MOVED` and `ASK`. Only commands a
/// node refused are sent again: a write is never replayed. A node that fails (connection
/// refused, reset, timed out) fails only the commands sent to it, each with the reason;
/// commands it never received are retried on a fresh topology. [`ClusterRun::counts`] tells
/// what the run saw (redirections, retries, refreshes, back-off).
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
    /// `ASK` targets of the last round the slot map may not know yet (a node added since it
    /// was read): added to it, so that the command goes there and not elsewhere.
    asked: Vec<Node>,
    /// The last round's `MOVED` replies once in the map: (slot, the new owner's index), for
    /// the refresh that follows ([`ClusterRun::refresh`]).
    moved: Vec<(HashSlot, usize)>,
    /// Nodes (map indices) whose batch failed in the last round.
    unreached: Vec<usize>,
    /// The pipeline indices of a batch's commands, while its replies are adopted (kept for
    /// its room).
    targets: Vec<usize>,
    refresh: bool,
    delay_ms: u32,
    replicas: bool,
    /// What the commands planned so far ask of their connection (see
    /// [`ClusterRun::shares_connection`]).
    needs: Needs,
    /// While a round plans: how many units went straight into their batches, all of them
    /// (`None`: placing is over for this round).
    placed: Option<usize>,
    /// Back-off waited so far by this run's pipeline, against `budget_ms`.
    waited_ms: u32,
    budget_ms: u32,
    counts: RouteCounts,
    /// The first failure a command of the pipeline was given (a node failed it).
    failed: Option<Failure>,
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

impl Default for ClusterRun {
    fn default() -> Self {
        Self {
            units: Vec::new(),
            splits: Vec::new(),
            planned: 0,
            batches: Vec::new(),
            batch_of: Vec::new(),
            spare: Vec::new(),
            moves: Vec::new(),
            asked: Vec::new(),
            moved: Vec::new(),
            unreached: Vec::new(),
            targets: Vec::new(),
            refresh: false,
            delay_ms: 0,
            replicas: false,
            needs: Needs::Nothing,
            placed: None,
            waited_ms: 0,
            budget_ms: DEFAULT_RETRY_BUDGET_MS,
            counts: RouteCounts::default(),
            failed: None,
        }
    }
}

impl ClusterRun {
    /// A run that has planned nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long, in back-off, a pipeline may wait for the cluster to settle before a command
    /// the cluster keeps refusing reads its last error ([`DEFAULT_RETRY_BUDGET_MS`] unless
    /// set). The back-off grows from 10 ms to [`MAX_BACKOFF_MS`] between rounds; a command is sent again
    /// only while the back-off waited so far is under the budget (and at most
    /// [`MAX_ATTEMPTS`] times), so that a failover rides through and a cluster that stays
    /// down fails in about the budget.
    pub fn set_retry_budget(&mut self, ms: u32) {
        self.budget_ms = ms;
    }

    /// The first failure a node gave one of the pipeline's commands, if any did: a node that
    /// failed but whose commands went again (never received) leaves none, so that a pipeline
    /// that rode through a failover reports no error.
    pub fn failure(&self) -> Option<Failure> {
        self.failed
    }

    /// What the run saw of the cluster changing, since it was made or reset.
    pub fn counts(&self) -> RouteCounts {
        self.counts
    }

    /// Whether a command on its `attempts`-th try may go again.
    fn may_retry(&self, attempts: u8) -> bool {
        attempts + 1 < MAX_ATTEMPTS && self.waited_ms < self.budget_ms
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
        self.asked.clear();
        self.moved.clear();
        self.unreached.clear();
        self.planned = 0;
        self.needs = Needs::Nothing;
        self.refresh = false;
        self.delay_ms = 0;
        self.waited_ms = 0;
        self.counts = RouteCounts::default();
        self.failed = None;
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
        self.batch_of.clear();
        self.batch_of.resize(map.nodes().len(), u32::MAX);
        // The first round puts the commands for their slots' primaries into their batches as
        // it plans them, up to the first that needs more (see `plan_command`); the loop below
        // routes the rest, in order.
        self.placed = self.units.is_empty().then_some(0);
        self.plan(p, map);
        let placed = self.placed.take().unwrap_or(0);
        // Where keyless commands go: the first primary, found only when one is planned.
        let mut default: Option<Option<usize>> = None;
        // The primaries in scan order, found only when a `SCAN` is planned.
        let mut shards: Option<Vec<usize>> = None;
        for u in placed..self.units.len() {
            let unit = &self.units[u];
            if unit.done {
                continue;
            }
            // The common case first: one command, to its slot's primary (no `ASK`, no pin, not
            // to a replica).
            if let (Origin::Command(i), Some(slot), None, None) =
                (unit.origin, unit.slot, unit.pin, &unit.ask)
                && !(self.replicas && unit.read && unit.attempts == 0)
                && let Some(node) = map.owner(slot)
            {
                let b = self.batch_for(node, p, false);
                let batch = &mut self.batches[b];
                let first = batch.pipeline.len();
                if push(&mut batch.pipeline, p.command(i)) {
                    batch.members.push((u, first, 1));
                } else {
                    self.fail_unit(u, p, Failure::Closed);
                }
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
            let asking = ask.is_some();
            let b = self.batch_for(node, p, replica.is_some());
            let batch = &mut self.batches[b];
            let mark = batch.pipeline.mark();
            if asking {
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

    /// Whether `p`'s batches may go on the nodes' connections shared with other pipelines, as
    /// [`Pipeline::shares_connection`](crate::Pipeline::shares_connection) says of `p` with
    /// windows of `window` commands and `window_bytes` bytes (0: no byte bound), from the
    /// commands as the run read them while planning: ask after the first
    /// [`next_round`](Self::next_round), which plans every command `p` has.
    pub fn shares_connection(&self, p: &VecPipeline, window: usize, window_bytes: usize) -> bool {
        match p.sharing() {
            Sharing::Shared => true,
            Sharing::Dedicated => false,
            _ => {
                p.len() <= window
                    && (window_bytes == 0 || p.encoded().len() <= window_bytes)
                    && self.needs == Needs::Nothing
            }
        }
    }

    /// The index of this round's batch for `node`, made (from a spare) if it has none yet; a
    /// batch for a replica starts with `READONLY`.
    #[inline]
    fn batch_for(&mut self, node: usize, p: &VecPipeline, replica: bool) -> usize {
        match self.batch_of.get(node) {
            Some(&b) if b != u32::MAX => b as usize,
            _ => self.new_batch(node, p, replica),
        }
    }

    /// [`batch_for`](Self::batch_for) when `node` has no batch yet this round.
    #[cold]
    fn new_batch(&mut self, node: usize, p: &VecPipeline, replica: bool) -> usize {
        let (mut pipeline, members) = self.spare.pop().unwrap_or_default();
        pipeline.copy_settings(p);
        if replica {
            let _ = pipeline.query_encoded(READONLY);
        }
        self.batches.push(Batch {
            node,
            pipeline,
            members,
            replica,
            deposed: false,
        });
        let b = self.batches.len() - 1;
        if let Some(slot) = self.batch_of.get_mut(node) {
            *slot = b as u32;
        }
        b
    }

    /// This round's batches, to run on their nodes (in parallel where the platform can). A
    /// batch whose node fails must be left failed, as every transport leaves a pipeline.
    pub fn batches_mut(&mut self) -> &mut [Batch] {
        &mut self.batches
    }

    /// Checks this round's batches, once they have run, against `latest`, a slot map read
    /// since they were routed with `routed`: a batch whose primary owns no slot any more in a
    /// complete `latest` went to a node that was failed over while the batch was out. Such a
    /// node, stopped or cut off past the node timeout, runs what it held when it comes back,
    /// before it learns that it is a replica now, and drops those writes when it resyncs: so
    /// the writes it acknowledged read [`Failure::Deposed`] instead of their replies (reads
    /// and refusals such as `MOVED` are taken as they are). The adapter SHOULD call it before
    /// [`absorb`](Self::absorb) whenever it holds a map newer than the round's, and read one
    /// (a refresh) after a round slow enough for a failover to have happened during it.
    pub fn check_deposed(&mut self, routed: &SlotMap, latest: &SlotMap) {
        if !latest.is_complete() {
            return;
        }
        for b in &mut self.batches {
            let Some(node) = routed.nodes().get(b.node) else {
                continue;
            };
            b.deposed = !b.replica && latest.find(node).is_none_or(|i| !latest.owns_slots(i));
        }
    }

    /// How long to wait before sending this round (after `TRYAGAIN`, `CLUSTERDOWN`,
    /// `LOADING`, `MASTERDOWN`, or a node that could not be reached), in milliseconds. Known
    /// once the last round is absorbed: an adapter SHOULD wait it before
    /// [`next_round`](Self::next_round), so that the round is routed on the newest map (one
    /// read while it waited), rather than between routing and sending.
    pub fn delay_ms(&self) -> u32 {
        self.delay_ms
    }

    /// Tells that the adapter waited only `ms` of [`delay_ms`](Self::delay_ms): woken when the
    /// slot map changed (a failover's new owner named), it sends at once. The retry budget
    /// counts what was waited.
    pub fn shorten_delay(&mut self, ms: u32) {
        self.delay_ms = self.delay_ms.min(ms);
    }

    /// Whether the slot map should be read again before the next round (after `MOVED`,
    /// `CLUSTERDOWN` or a node that could not be reached).
    pub fn wants_refresh(&self) -> bool {
        self.refresh
    }

    /// The refresh to run when [`wants_refresh`](Self::wants_refresh) says so, told what the
    /// last round saw: the nodes its `MOVED` replies named (asked first, and an answer that
    /// agrees is enough) and the nodes that failed (asked last, their replicas first). `map` is
    /// the map the round was absorbed into.
    pub fn refresh(&self, map: &SlotMap) -> Refresh {
        let mut refresh = Refresh::new();
        for &(slot, node) in &self.moved {
            if let Some(n) = map.nodes().get(node) {
                refresh.expect(slot, n.clone());
            }
        }
        for &node in &self.unreached {
            if let Some(n) = map.nodes().get(node) {
                refresh.avoid(n.clone());
            }
        }
        refresh
    }

    /// Whether `latest`, a map read since the last round went out (by another pipeline's
    /// refresh, say), already says what the round's `MOVED` replies said: every slot they
    /// named is owned there by the node they named (`absorbed` is the map the round was
    /// absorbed into, as for [`refresh`](Self::refresh)). Then the refresh
    /// [`wants_refresh`](Self::wants_refresh) asks for would learn nothing new, and the adapter
    /// MAY route the next round on `latest` instead. A node that failed tells nothing about
    /// `latest`: whether it was read since the round went out is the adapter's to know (see
    /// [`MapVersion::read_since`](crate::cluster::MapVersion::read_since)).
    pub fn settled_by(&self, absorbed: &SlotMap, latest: &SlotMap) -> bool {
        self.moved.iter().all(|&(slot, to)| {
            let owner = latest.owner(slot).map(|o| latest.node(o));
            owner.is_some() && owner == absorbed.nodes().get(to)
        })
    }

    /// Reads this round's replies into `p`: results into their handles, redirections into
    /// `map` and the next round.
    pub fn absorb(&mut self, p: &mut VecPipeline, map: &mut SlotMap) {
        self.absorb_replies(p);
        for (slot, node, replied) in self.moves.drain(..) {
            let to = map.moved(slot, node, Some(replied));
            self.moved.push((slot, to));
        }
        for node in self.asked.drain(..) {
            if map.find(&node).is_none() {
                map.node_index(node);
            }
        }
    }

    /// [`absorb`](Self::absorb) into a shared slot map, which is copied only when a `MOVED`
    /// changes it (`Arc::make_mut`): a round without redirections copies nothing. Compare the
    /// `Arc` before and after ([`Arc::ptr_eq`]) to know whether the map changed.
    pub fn absorb_shared(&mut self, p: &mut VecPipeline, map: &mut Arc<SlotMap>) {
        self.absorb_replies(p);
        for (slot, node, replied) in self.moves.drain(..) {
            // Copies the map on the first change only: it is unique afterwards.
            let to = Arc::make_mut(map).moved(slot, node, Some(replied));
            self.moved.push((slot, to));
        }
        for node in self.asked.drain(..) {
            if map.find(&node).is_none() {
                Arc::make_mut(map).node_index(node);
            }
        }
    }
}

/// Back-off before attempt `n`: 10 ms doubling, at most [`MAX_BACKOFF_MS`].
fn backoff(attempt: u8) -> u32 {
    (10u32 << attempt.min(8)).min(MAX_BACKOFF_MS)
}

#[cfg(test)]
mod adopt_tests;
#[cfg(test)]
mod failover_tests;
#[cfg(test)]
mod fake;
mod plan;
mod replies;
mod scan;
#[cfg(test)]
mod tests;
mod wire;

pub(crate) use wire::read_words;

use scan::*;
use wire::*;
