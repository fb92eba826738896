//! Which slot map to keep when nodes describe the cluster differently. After a failover or a
//! resharding the nodes learn the new owner at different times (by gossip, within about a
//! second), and a map read from a node that has not learned it yet sends the commands back to
//! the old owner, which redirects them again. [`Refresh`] asks the nodes most likely to know
//! first and keeps the newest answer: the one whose slot owners carry the highest config epochs
//! ([`Freshness`], from `CLUSTER NODES`), then the one that agrees with the `MOVED` replies just
//! seen.

use alloc::vec::Vec;
use core::cmp::Ordering;

use super::HashSlot;
use super::topology::{Node, SlotMap, TopologyError};
use crate::codec::reply::Reply;

/// Answers a refresh reads when something went wrong (a `MOVED` no answer agrees with, a node
/// that could not be reached) before it keeps the newest: enough to find a node that has seen
/// the change, without asking a large cluster node by node.
pub const SPREAD: usize = 3;

/// How new a node's view of the cluster is: the config epoch of each slot's owner, summed over
/// the slots it assigns, as `CLUSTER NODES` shows them.
///
/// Redis settles competing claims on a slot by config epoch: a replica that takes over gets a
/// new epoch higher than any, and a node that imports a slot bumps its own unless it has the
/// highest already. So every failover and every finished migration gives a slot an owner of a
/// higher epoch, and a node that has seen more of those changes has a higher sum.
///
/// ```
/// use redpipe_core::cluster::Freshness;
/// use redpipe_core::decode_reply;
/// let nodes = "a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-99\n\
///              b2 127.0.0.1:7001@17001 master - 0 0 5 connected 100-199 [200->-a1]\n\
///              c3 127.0.0.1:7002@17002 slave b2 0 0 5 connected\n";
/// let reply = format!("${}\r\n{nodes}\r\n", nodes.len());
/// let (reply, _) = decode_reply(reply.as_bytes(), &Default::default()).unwrap().unwrap();
/// assert_eq!(Freshness::from_reply(&reply), Ok(Freshness(100 * 1 + 100 * 5)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Freshness(pub u64);

impl Freshness {
    /// The freshness a `CLUSTER NODES` reply shows: lines of `<id> <ip:port@bus> <flags>
    /// <primary> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...`, where a slot is
    /// `n` or `from-to` (and `[n->-id]`/`[n-<-id]` mark a migration, not an owner).
    pub fn from_reply(reply: &Reply<'_>) -> Result<Self, TopologyError> {
        let text = match reply {
            Reply::Bulk(t) | Reply::Verbatim { text: t, .. } => *t,
            Reply::Error(_) => return Err(TopologyError::Refused),
            _ => return Err(TopologyError::Malformed),
        };
        let text = core::str::from_utf8(text).map_err(|_| TopologyError::Malformed)?;
        let mut sum = 0u64;
        for line in text.lines() {
            let mut words = line.split_ascii_whitespace();
            let flags = words.nth(2);
            let Some(flags) = flags else {
                continue; // a blank line
            };
            // primary, ping-sent, pong-recv, then the config epoch.
            let epoch = words
                .nth(3)
                .and_then(|e| e.parse::<u64>().ok())
                .ok_or(TopologyError::Malformed)?;
            if !flags.split(',').any(|f| f == "master") {
                continue;
            }
            for range in words.skip(1).filter(|w| !w.starts_with('[')) {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                let slot = |s: &str| {
                    s.parse::<u16>()
                        .ok()
                        .filter(|&n| n < HashSlot::COUNT)
                        .ok_or(TopologyError::Malformed)
                };
                let (from, to) = (slot(from)?, slot(to)?);
                let count = u64::from(to.saturating_sub(from)) + 1;
                sum = sum.saturating_add(epoch.saturating_mul(count));
            }
        }
        Ok(Self(sum))
    }
}

/// How one answer compares with another: the newest view first, then the one that agrees with
/// more of the `MOVED` replies seen, then a complete one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    freshness: Freshness,
    agrees: usize,
    complete: bool,
}

/// A topology refresh, sans-I/O: which nodes to ask, in which order, when to stop, and which
/// of their answers becomes the slot map.
///
/// ```text
/// let mut refresh = run.refresh(&map);                 // or Refresh::new()
/// refresh.start(&map, &seeds);
/// while let Some(node) = refresh.poll_node() {
///     match ask node: CLUSTER SHARDS, CLUSTER NODES (one round trip) {
///         Ok((shards, nodes)) => refresh.handle_answer(
///             SlotMap::from_reply(&shards)?,
///             Freshness::from_reply(&nodes).ok(),
///         ),
///         Err(e) => last_error = e,                    // the next node is asked
///     }
/// }
/// map = refresh.finish();                              // None: no node answered
/// ```
///
/// A plain refresh ([`Refresh::new`]) keeps the first complete answer. One that follows
/// trouble (a `MOVED` seen, [`expect`](Self::expect); a node that could not be reached,
/// [`avoid`](Self::avoid)) asks the nodes that have most likely seen the change first (the
/// nodes the `MOVED` replies named, then the replicas of an unreachable node, which may have
/// taken over), stops at a complete answer that agrees with every `MOVED`, and otherwise reads
/// [`SPREAD`] answers and keeps the newest by [`Freshness`]. The unreachable nodes come last,
/// and are asked only when no other node answered: each may cost a connection timeout.
#[derive(Debug, Clone, Default)]
pub struct Refresh {
    /// `MOVED` replies seen: each slot and the node that owns it now.
    expected: Vec<(HashSlot, Node)>,
    /// Nodes that could not be reached.
    avoided: Vec<Node>,
    /// The nodes still to ask, the next one last.
    queue: Vec<Node>,
    best: Option<(Rank, SlotMap)>,
    answers: usize,
}

impl Refresh {
    /// A plain refresh: the first complete answer is kept.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a `MOVED`: `slot` is `node`'s now. Its node is asked first, and an answer that
    /// agrees is preferred over one as new that does not.
    pub fn expect(&mut self, slot: HashSlot, node: Node) {
        if !self.expected.iter().any(|(s, n)| *s == slot && *n == node) {
            self.expected.push((slot, node));
        }
    }

    /// Notes a node that could not be reached: it is asked last, its replicas first.
    pub fn avoid(&mut self, node: Node) {
        if !self.avoided.contains(&node) {
            self.avoided.push(node);
        }
    }

    /// Whether anything went wrong before this refresh (it then reads more than one answer).
    pub fn after_trouble(&self) -> bool {
        !self.expected.is_empty() || !self.avoided.is_empty()
    }

    /// The nodes to ask, in order: those the `MOVED` replies named, the replicas of the nodes
    /// that could not be reached, the primaries of `map`, its other nodes, the `seeds`, and
    /// last the nodes that could not be reached. Each once.
    pub fn order(&self, map: &SlotMap, seeds: &[Node]) -> Vec<Node> {
        let mut out: Vec<Node> = Vec::new();
        let add = |n: &Node, out: &mut Vec<Node>| {
            if !out.contains(n) && !self.avoided.contains(n) {
                out.push(n.clone());
            }
        };
        for (_, n) in &self.expected {
            add(n, &mut out);
        }
        for n in &self.avoided {
            if let Some(i) = map.find(n) {
                for r in map.replicas(i) {
                    add(map.node(r), &mut out);
                }
            }
        }
        for i in map.primaries() {
            add(map.node(i), &mut out);
        }
        for n in map.nodes().iter().chain(seeds) {
            add(n, &mut out);
        }
        out.extend(self.avoided.iter().cloned());
        out
    }

    /// Plans the nodes to ask ([`order`](Self::order) of `map`, the map in use, and the
    /// `seeds`). The caller MUST call it once before [`poll_node`](Self::poll_node).
    pub fn start(&mut self, map: &SlotMap, seeds: &[Node]) {
        self.queue = self.order(map, seeds);
        self.queue.reverse();
    }

    /// The next node to ask; `None` once the answers settle it or no node is left. The caller
    /// SHOULD report the node's answer with [`handle_answer`](Self::handle_answer) (a node
    /// that fails needs no report) before polling again.
    #[must_use]
    pub fn poll_node(&mut self) -> Option<Node> {
        if self.is_enough() {
            return None;
        }
        let next = self.queue.last()?;
        if self.best.is_some() && self.avoided.contains(next) {
            return None;
        }
        self.queue.pop()
    }

    /// Takes one node's answer: its map, and its [`Freshness`] when the node told it. An
    /// answer that names no node counts for nothing.
    pub fn handle_answer(&mut self, map: SlotMap, freshness: Option<Freshness>) {
        if map.nodes().is_empty() {
            return;
        }
        self.answers += 1;
        let agrees = self
            .expected
            .iter()
            .filter(|(slot, node)| map.owner(*slot).is_some_and(|o| map.node(o) == node))
            .count();
        let rank = Rank {
            freshness: freshness.unwrap_or_default(),
            agrees,
            complete: map.is_complete(),
        };
        // Ties go to the earlier answer: the nodes are asked most likely first.
        let better = match &self.best {
            None => true,
            Some((best, _)) => rank.cmp(best) == Ordering::Greater,
        };
        if better {
            self.best = Some((rank, map));
        }
    }

    /// Whether the answers so far settle it.
    fn is_enough(&self) -> bool {
        let Some((best, _)) = &self.best else {
            return false;
        };
        if !self.after_trouble() {
            return best.complete;
        }
        let agrees_with_all = !self.expected.is_empty() && best.agrees == self.expected.len();
        (best.complete && agrees_with_all) || self.answers >= SPREAD
    }

    /// The freshness of the best answer so far (0 when none told it): with the refresh's
    /// ticket, the [`MapVersion`] of the map [`finish`](Self::finish) returns.
    pub fn freshness(&self) -> Freshness {
        self.best
            .as_ref()
            .map(|(rank, _)| rank.freshness)
            .unwrap_or_default()
    }

    /// The map to use: the best answer handled; `None` when no node answered with one.
    pub fn finish(self) -> Option<SlotMap> {
        self.best.map(|(_, map)| map)
    }
}

#[cfg(test)]
mod tests;
mod version;

pub use version::{MapVersion, SETTLE_MS};
