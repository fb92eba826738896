//! Who owns which slot: the slot map, read from `CLUSTER SHARDS` (Redis 7) or `CLUSTER SLOTS`
//! (older servers), and corrected by `MOVED` replies between two reads.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use super::HashSlot;
use crate::codec::reply::Reply;

/// A node of the cluster: where to connect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    /// Host name or IP address, as the cluster announces it.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Node {
    /// The node at `host:port` (also `[v6]:port`); `None` when there is no port.
    pub fn parse(addr: &str) -> Option<Self> {
        let (host, port) = addr.rsplit_once(':')?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Some(Self {
            host: host.into(),
            port: port.parse().ok()?,
        })
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why a topology reply cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopologyError {
    /// The reply is not the shape `CLUSTER SHARDS` or `CLUSTER SLOTS` answers with.
    Malformed,
    /// The reply is an error (cluster support disabled, or the node is loading).
    Refused,
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed cluster topology reply"),
            Self::Refused => f.write_str("the node refused to describe the cluster"),
        }
    }
}

impl core::error::Error for TopologyError {}

/// No node owns the slot.
const NONE: u16 = u16::MAX;

/// Which node serves each of the 16384 slots, and the replicas of each primary.
///
/// ```
/// use redpipe_core::cluster::{HashSlot, Node, SlotMap};
/// use redpipe_core::decode_reply;
/// // CLUSTER SLOTS of a two-shard cluster, the second shard with a replica.
/// let reply = b"*2\r\n*3\r\n:0\r\n:8191\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n\
///               *4\r\n:8192\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7001\r\n*2\r\n$9\r\n127.0.0.1\r\n:7004\r\n";
/// let (reply, _) = decode_reply(reply, &Default::default()).unwrap().unwrap();
/// let map = SlotMap::from_reply(&reply).unwrap();
/// let owner = map.owner(HashSlot::for_key(b"foo")).unwrap(); // slot 12182
/// assert_eq!(map.node(owner).port, 7001);
/// assert_eq!(map.replicas(owner).len(), 1);
/// assert!(map.is_complete());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SlotMap {
    /// Which node serves which slots, as runs of slots with one owner: the first slot of each
    /// run, and its primary's node index (or `NONE`), in slot order, from slot 0, no two runs
    /// in a row with the same owner. A cluster has a few runs per primary, so that a lookup is
    /// a search over a cache line or two rather than a load from a 32 KiB table, which the
    /// router, looking up every command's slot, found cold after each round trip.
    runs: Vec<(u16, u16)>,
    nodes: Vec<Node>,
    /// Replica node indices of each node (empty for replicas).
    replicas: Vec<Vec<u16>>,
}

impl fmt::Debug for SlotMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotMap")
            .field("nodes", &self.nodes)
            .field("covered", &self.covered())
            .finish()
    }
}

impl Default for SlotMap {
    fn default() -> Self {
        Self::new()
    }
}

impl SlotMap {
    /// A map with no node: every command goes to a seed, which redirects it.
    pub fn new() -> Self {
        Self {
            runs: vec![(0, NONE)],
            nodes: Vec::new(),
            replicas: Vec::new(),
        }
    }

    /// The map a `CLUSTER SHARDS` or `CLUSTER SLOTS` reply describes (told apart by shape),
    /// for a client connected without TLS: each node's `port`.
    pub fn from_reply(reply: &Reply<'_>) -> Result<Self, TopologyError> {
        Self::parse(reply, false)
    }

    /// [`from_reply`](Self::from_reply) for a client connected over TLS: where `CLUSTER
    /// SHARDS` gives a node's `tls-port` (a cluster with `tls-cluster yes`, which gives no
    /// `port` at all when it serves TLS only), that port. `CLUSTER SLOTS` and `MOVED` already
    /// name the port of the asking connection's kind.
    pub fn from_tls_reply(reply: &Reply<'_>) -> Result<Self, TopologyError> {
        Self::parse(reply, true)
    }

    fn parse(reply: &Reply<'_>, tls: bool) -> Result<Self, TopologyError> {
        let shards = match reply {
            Reply::Array(a) | Reply::Set(a) => *a,
            Reply::Error(_) => return Err(TopologyError::Refused),
            _ => return Err(TopologyError::Malformed),
        };
        let mut map = Self::new();
        for shard in shards.iter() {
            let (Reply::Array(items) | Reply::Map(items)) = shard else {
                return Err(TopologyError::Malformed);
            };
            match items.iter().next() {
                Some(Reply::Int(_)) => map.add_slots_entry(items.iter())?,
                Some(_) => map.add_shard(&shard, tls)?,
                None => return Err(TopologyError::Malformed),
            }
        }
        Ok(map)
    }

    /// One `CLUSTER SLOTS` entry: `start end primary replica...`, each node `ip port ...`.
    fn add_slots_entry<'a>(
        &mut self,
        mut items: impl Iterator<Item = Reply<'a>>,
    ) -> Result<(), TopologyError> {
        let range = |r: Option<Reply<'_>>| match r {
            Some(Reply::Int(n)) => u16::try_from(n)
                .ok()
                .filter(|&n| n < HashSlot::COUNT)
                .ok_or(TopologyError::Malformed),
            _ => Err(TopologyError::Malformed),
        };
        let (start, end) = (range(items.next())?, range(items.next())?);
        let node = |r: Reply<'_>| -> Result<Option<Node>, TopologyError> {
            let Reply::Array(parts) = r else {
                return Err(TopologyError::Malformed);
            };
            let mut parts = parts.iter();
            let host = match parts.next() {
                Some(Reply::Bulk(h)) => {
                    core::str::from_utf8(h).map_err(|_| TopologyError::Malformed)?
                }
                _ => return Err(TopologyError::Malformed),
            };
            let port = match parts.next() {
                Some(Reply::Int(p)) => u16::try_from(p).map_err(|_| TopologyError::Malformed)?,
                _ => return Err(TopologyError::Malformed),
            };
            // "?" or "": the node does not know its address; a MOVED will name it.
            Ok((!host.is_empty() && host != "?").then(|| Node {
                host: host.into(),
                port,
            }))
        };
        let primary = node(items.next().ok_or(TopologyError::Malformed)?)?;
        let Some(primary) = primary else {
            return Ok(());
        };
        let p = self.add_node(primary);
        for r in items {
            if let Some(replica) = node(r)? {
                let id = self.add_node(replica);
                self.add_replica(p, id);
            }
        }
        self.assign(start, end, p);
        Ok(())
    }

    /// One `CLUSTER SHARDS` entry: a map with `slots` (start/end pairs) and `nodes` (maps with
    /// `ip`, `endpoint`, `port` and/or `tls-port`, `role`, `health`). `tls`: the client's
    /// connections use TLS, so `tls-port` is the one to connect to.
    fn add_shard(&mut self, shard: &Reply<'_>, tls: bool) -> Result<(), TopologyError> {
        let (Reply::Array(items) | Reply::Map(items)) = shard else {
            return Err(TopologyError::Malformed);
        };
        let mut ranges = Vec::new();
        let mut primary = None;
        let mut replicas = Vec::new();
        for (key, value) in items.pairs() {
            match (key, value) {
                (Reply::Bulk(b"slots") | Reply::Simple(b"slots"), Reply::Array(slots)) => {
                    let mut it = slots.iter();
                    while let (Some(a), Some(b)) = (it.next(), it.next()) {
                        let (Reply::Int(a), Reply::Int(b)) = (a, b) else {
                            return Err(TopologyError::Malformed);
                        };
                        let ok = |n: i64| u16::try_from(n).ok().filter(|&n| n < HashSlot::COUNT);
                        match (ok(a), ok(b)) {
                            (Some(a), Some(b)) => ranges.push((a, b)),
                            _ => return Err(TopologyError::Malformed),
                        }
                    }
                }
                (Reply::Bulk(b"nodes") | Reply::Simple(b"nodes"), Reply::Array(nodes)) => {
                    for node in nodes.iter() {
                        let (Reply::Array(fields) | Reply::Map(fields)) = node else {
                            return Err(TopologyError::Malformed);
                        };
                        let (mut host, mut ip, mut primary_role, mut online) =
                            (None, None, false, true);
                        let (mut port, mut tls_port) = (None, None);
                        for (k, v) in fields.pairs() {
                            let (Reply::Bulk(k) | Reply::Simple(k)) = k else {
                                continue;
                            };
                            let text = match &v {
                                Reply::Bulk(t) | Reply::Simple(t) => core::str::from_utf8(t).ok(),
                                _ => None,
                            };
                            match k {
                                b"endpoint" => host = text.filter(|t| !t.is_empty() && *t != "?"),
                                b"ip" => ip = text.filter(|t| !t.is_empty() && *t != "?"),
                                b"port" | b"tls-port" => {
                                    let p = match v {
                                        Reply::Int(p) => u16::try_from(p).ok(),
                                        _ => None,
                                    };
                                    match k {
                                        b"port" => port = p,
                                        _ => tls_port = p,
                                    }
                                }
                                b"role" => primary_role = text == Some("master"),
                                // A replica still loading answers `LOADING`, which sends the
                                // read to the primary: only failed ones are left out.
                                b"health" => online = text != Some("failed"),
                                _ => {}
                            }
                        }
                        // Over TLS, the TLS port if the node has one; else the plain port
                        // (`tls-cluster no` names only that one, whatever the client's kind).
                        let port = if tls { tls_port.or(port) } else { port };
                        let (Some(host), Some(port)) = (host.or(ip), port) else {
                            continue;
                        };
                        let node = Node {
                            host: host.into(),
                            port,
                        };
                        if primary_role {
                            primary = Some(node);
                        } else if online {
                            replicas.push(node);
                        }
                    }
                }
                _ => {}
            }
        }
        let Some(primary) = primary else {
            return Ok(()); // a shard without a primary (all failed): its slots stay unowned
        };
        let p = self.add_node(primary);
        for r in replicas {
            let id = self.add_node(r);
            self.add_replica(p, id);
        }
        for (a, b) in ranges {
            self.assign(a, b, p);
        }
        Ok(())
    }

    /// Slots `start..=end` (below [`HashSlot::COUNT`]) are served by `node`.
    fn assign(&mut self, start: u16, end: u16, node: u16) {
        if start > end || end >= HashSlot::COUNT {
            return;
        }
        let after = end + 1;
        // Who serves the slot after the range, which starts a run of its own afterwards.
        let next = (after < HashSlot::COUNT).then(|| self.owner_index(after));
        let lo = self.runs.partition_point(|&(s, _)| s < start);
        let hi = self.runs.partition_point(|&(s, _)| s <= after);
        let tail = next.map(|n| (after, n));
        self.runs
            .splice(lo..hi, core::iter::once((start, node)).chain(tail));
        // Runs in a row with one owner become one (the first keeps its start).
        self.runs.dedup_by_key(|&mut (_, n)| n);
    }

    /// The node index serving slot `slot` (below [`HashSlot::COUNT`]), or `NONE`.
    fn owner_index(&self, slot: u16) -> u16 {
        // The last run starting at or before `slot`; the first run starts at slot 0.
        let i = self.runs.partition_point(|&(s, _)| s <= slot);
        self.runs.get(i.wrapping_sub(1)).map_or(NONE, |&(_, n)| n)
    }

    /// How many slots have an owner.
    fn covered(&self) -> usize {
        let ends = self
            .runs
            .iter()
            .skip(1)
            .map(|&(s, _)| s)
            .chain([HashSlot::COUNT]);
        self.runs
            .iter()
            .zip(ends)
            .filter(|((_, n), _)| *n != NONE)
            .map(|(&(s, _), end)| usize::from(end - s))
            .sum()
    }

    fn add_replica(&mut self, primary: u16, replica: u16) {
        let list = &mut self.replicas[usize::from(primary)];
        if !list.contains(&replica) {
            list.push(replica);
        }
    }

    /// The index of `node`, added if new.
    fn add_node(&mut self, node: Node) -> u16 {
        if let Some(i) = self.nodes.iter().position(|n| *n == node) {
            return i as u16;
        }
        self.nodes.push(node);
        self.replicas.push(Vec::new());
        (self.nodes.len() - 1) as u16
    }

    /// The node serving `slot` (its primary), if known.
    pub fn owner(&self, slot: HashSlot) -> Option<usize> {
        match self.owner_index(slot.get()) {
            NONE => None,
            n => Some(usize::from(n)),
        }
    }

    /// The node at `index`.
    pub fn node(&self, index: usize) -> &Node {
        &self.nodes[index]
    }

    /// Every node: primaries and replicas.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The index of the node at `node`, if the map knows it.
    pub fn find(&self, node: &Node) -> Option<usize> {
        self.nodes.iter().position(|n| n == node)
    }

    /// The index of `node`, added (owning no slot) if new: where an `ASK` sends a command.
    pub fn node_index(&mut self, node: Node) -> usize {
        usize::from(self.add_node(node))
    }

    /// The replicas of the primary at `index`.
    pub fn replicas(&self, index: usize) -> Vec<usize> {
        self.replicas
            .get(index)
            .map(|r| r.iter().map(|&i| usize::from(i)).collect())
            .unwrap_or_default()
    }

    /// One replica of the primary at `index`: the `n`-th modulo their number (so that callers
    /// spread reads by passing a counter); `None` when it has none.
    pub fn replica(&self, index: usize, n: usize) -> Option<usize> {
        let list = self.replicas.get(index)?;
        (!list.is_empty()).then(|| usize::from(list[n % list.len()]))
    }

    /// The primaries: nodes that own at least one slot.
    pub fn primaries(&self) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        for &(_, n) in &self.runs {
            if n != NONE {
                seen[usize::from(n)] = true;
            }
        }
        (0..self.nodes.len()).filter(|&i| seen[i]).collect()
    }

    /// Whether the node at `index` owns at least one slot.
    pub fn owns_slots(&self, index: usize) -> bool {
        self.runs
            .iter()
            .any(|&(_, n)| usize::from(n) == index && n != NONE)
    }

    /// Whether every slot has an owner.
    pub fn is_complete(&self) -> bool {
        self.runs.iter().all(|&(_, n)| n != NONE)
    }

    /// Whether `other` gives every slot the same owner (the same node, wherever each map lists
    /// it): the maps route every command alike, whatever their replicas.
    pub fn same_owners(&self, other: &SlotMap) -> bool {
        fn node(map: &SlotMap, n: u16) -> Option<&Node> {
            map.nodes.get(usize::from(n))
        }
        self.runs.len() == other.runs.len()
            && self
                .runs
                .iter()
                .zip(&other.runs)
                .all(|(&(a, m), &(b, n))| a == b && node(self, m) == node(other, n))
    }

    /// Records a `MOVED slot host:port` reply: `slot` is now served by that node (added if
    /// new). Returns its index. An empty host means the host of the node that replied
    /// (`replied`), as Redis announces when it does not know its own.
    pub fn moved(&mut self, slot: HashSlot, mut to: Node, replied: Option<usize>) -> usize {
        if to.host.is_empty()
            && let Some(r) = replied.and_then(|r| self.nodes.get(r))
        {
            to.host = r.host.clone();
        }
        let index = self.add_node(to);
        self.assign(slot.get(), slot.get(), index);
        usize::from(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode::decode_reply;
    use alloc::string::ToString;

    fn parse(bytes: &[u8]) -> Result<SlotMap, TopologyError> {
        let (reply, _) = decode_reply(bytes, &Default::default()).unwrap().unwrap();
        SlotMap::from_reply(&reply)
    }

    fn bulk(s: &str) -> alloc::string::String {
        alloc::format!("${}\r\n{s}\r\n", s.len())
    }

    fn shard_node(port: u16, role: &str, health: &str) -> alloc::string::String {
        alloc::format!(
            "*12\r\n{}{}{}:{port}\r\n{}{}{}{}{}{}{}{}",
            bulk("id"),
            bulk("abc"),
            bulk("port"),
            bulk("ip"),
            bulk("127.0.0.1"),
            bulk("endpoint"),
            bulk("127.0.0.1"),
            bulk("role"),
            bulk(role),
            bulk("health"),
            bulk(health),
        )
    }

    #[test]
    fn cluster_shards_gives_primaries_and_online_replicas() {
        let shard = |a: u16, b: u16, nodes: &[alloc::string::String]| {
            alloc::format!(
                "*4\r\n{}*2\r\n:{a}\r\n:{b}\r\n{}*{}\r\n{}",
                bulk("slots"),
                bulk("nodes"),
                nodes.len(),
                nodes.concat()
            )
        };
        let reply = alloc::format!(
            "*2\r\n{}{}",
            shard(
                0,
                8191,
                &[
                    shard_node(7000, "master", "online"),
                    shard_node(7003, "replica", "online"),
                    shard_node(7004, "replica", "failed"),
                ]
            ),
            shard(8192, 16383, &[shard_node(7001, "master", "online")]),
        );
        let map = parse(reply.as_bytes()).unwrap();
        assert!(map.is_complete());
        let a = map.owner(HashSlot::new(0).unwrap()).unwrap();
        assert_eq!(map.node(a).port, 7000);
        let replicas = map.replicas(a);
        assert_eq!(replicas.len(), 1, "the failed replica is left out");
        assert_eq!(map.node(replicas[0]).port, 7003);
        assert_eq!(
            map.node(map.owner(HashSlot::new(16383).unwrap()).unwrap())
                .port,
            7001
        );
        assert_eq!(map.primaries().len(), 2);
    }

    #[test]
    fn cluster_shards_over_tls_gives_the_tls_port() {
        // One shard of one node; `ports` are its port fields.
        let reply = |ports: &str, fields: usize| {
            alloc::format!(
                "*1\r\n*4\r\n{}*2\r\n:0\r\n:16383\r\n{}*1\r\n*{fields}\r\n{}{}{ports}{}{}{}{}",
                bulk("slots"),
                bulk("nodes"),
                bulk("id"),
                bulk("abc"),
                bulk("endpoint"),
                bulk("127.0.0.1"),
                bulk("role"),
                bulk("master"),
            )
        };
        let decode = |text: &str, tls: bool| {
            let (reply, _) = decode_reply(text.as_bytes(), &Default::default())
                .unwrap()
                .unwrap();
            match tls {
                true => SlotMap::from_tls_reply(&reply),
                false => SlotMap::from_reply(&reply),
            }
            .unwrap()
        };
        let port = |map: &SlotMap| map.node(map.owner(HashSlot::new(0).unwrap()).unwrap()).port;
        // A cluster serving TLS only (`port 0`, `tls-cluster yes`) names no plain port.
        let tls_only = reply(&alloc::format!("{}:7100\r\n", bulk("tls-port")), 8);
        assert_eq!(port(&decode(&tls_only, true)), 7100);
        assert!(decode(&tls_only, false).nodes().is_empty());
        let both = reply(
            &alloc::format!("{}:7000\r\n{}:7100\r\n", bulk("port"), bulk("tls-port")),
            10,
        );
        assert_eq!(port(&decode(&both, true)), 7100);
        assert_eq!(port(&decode(&both, false)), 7000);
        let plain = reply(&alloc::format!("{}:7000\r\n", bulk("port")), 8);
        assert_eq!(port(&decode(&plain, true)), 7000);
    }

    #[test]
    fn moved_updates_one_slot() {
        let mut map =
            parse(b"*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n").unwrap();
        let slot = HashSlot::new(3999).unwrap();
        let to = map.moved(slot, Node::parse(":7002").unwrap(), Some(0));
        assert_eq!(map.node(to).to_string(), "127.0.0.1:7002");
        assert_eq!(map.owner(slot), Some(to));
        assert_eq!(map.owner(HashSlot::new(4000).unwrap()), Some(0));
    }

    #[test]
    fn same_owners_compares_owners_by_node_not_by_index() {
        let one = parse(b"*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n").unwrap();
        let mut other = SlotMap::new();
        // 7000 at another index, and a replica-like extra node: the same owners.
        other.node_index(Node::parse("127.0.0.1:7009").unwrap());
        other.moved(
            HashSlot::new(0).unwrap(),
            Node::parse("127.0.0.1:7000").unwrap(),
            None,
        );
        assert!(
            !one.same_owners(&other),
            "slots 1.. have no owner in the other"
        );
        for slot in 1..HashSlot::COUNT {
            other.moved(
                HashSlot::new(slot).unwrap(),
                Node::parse("127.0.0.1:7000").unwrap(),
                None,
            );
        }
        assert!(one.same_owners(&other) && other.same_owners(&one));
        let mut moved = one.clone();
        moved.moved(
            HashSlot::new(3999).unwrap(),
            Node::parse("127.0.0.1:7001").unwrap(),
            None,
        );
        assert!(!one.same_owners(&moved));
        assert!(SlotMap::new().same_owners(&SlotMap::new()));
    }

    #[test]
    fn bad_replies_are_errors() {
        assert_eq!(
            parse(b"-ERR This instance has cluster support disabled\r\n"),
            Err(TopologyError::Refused)
        );
        assert_eq!(parse(b":1\r\n"), Err(TopologyError::Malformed));
        assert_eq!(
            parse(b"*1\r\n*3\r\n:0\r\n:99999\r\n*2\r\n$1\r\na\r\n:1\r\n"),
            Err(TopologyError::Malformed)
        );
        assert_eq!(
            parse(b"*1\r\n*2\r\n:0\r\n:5\r\n"),
            Err(TopologyError::Malformed)
        );
        assert!(!SlotMap::new().is_complete());
    }

    #[test]
    fn addresses_parse() {
        assert_eq!(Node::parse("[::1]:7000").unwrap().host, "::1");
        assert_eq!(Node::parse("[::1]:7000").unwrap().to_string(), "[::1]:7000");
        assert_eq!(Node::parse("10.0.0.1:6379").unwrap().port, 6379);
        assert!(Node::parse("nope").is_none());
    }

    #[test]
    fn runs_follow_every_assignment() {
        // A reference table beside the map, through ranges that split, join and cover runs.
        let mut map = SlotMap::new();
        let mut table = vec![NONE; usize::from(HashSlot::COUNT)];
        let mut seed = 12345u32;
        let mut next = |bound: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 8) % bound
        };
        for round in 0..400 {
            let node = (next(4)) as u16;
            let (a, b) = match round % 4 {
                0 => (0, 16383),
                1 => {
                    let s = next(16384) as u16;
                    (s, s)
                }
                _ => {
                    let a = next(16384) as u16;
                    (a, (a + next(3000) as u16).min(16383))
                }
            };
            map.assign(a, b, node);
            for t in &mut table[usize::from(a)..=usize::from(b)] {
                *t = node;
            }
            assert_eq!(map.runs[0].0, 0, "from slot 0");
            assert!(
                map.runs
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1)
            );
            for slot in [0, 1, a, b, b.saturating_add(1).min(16383), 16383] {
                assert_eq!(
                    map.owner_index(slot),
                    table[usize::from(slot)],
                    "slot {slot}"
                );
            }
        }
        for slot in 0..HashSlot::COUNT {
            assert_eq!(
                map.owner_index(slot),
                table[usize::from(slot)],
                "slot {slot}"
            );
        }
        let covered = table.iter().filter(|&&n| n != NONE).count();
        assert_eq!(map.covered(), covered);
    }
}
