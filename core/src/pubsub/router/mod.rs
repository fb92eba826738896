//! Which connection each subscription goes on: [`Router`] (feature `alloc`).

mod local;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;

use super::{Event, FrameError, Kind, VecSubscriptions, table};
use crate::cluster::{Node, SlotMap};
use crate::codec::decode::Limits;
use crate::codec::encode::{ArgSink, Args};
use crate::codec::error::CapacityError;
use crate::codec::hash_slot::HashSlot;
use crate::codec::reply::ServerErrorKind;

/// What a link's frame did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Routed<'a> {
    /// A frame for the caller: messages, confirmations, refusals, as [`Subscriptions`](super::Subscriptions) reads
    /// them.
    Frame(Event<'a>),
    /// Shard channels of the link moved without the caller asking (a `-MOVED` answer, or an
    /// `sunsubscribe` push after their slot moved): they are queued on another link, or wait
    /// for a map ([`Router::wants_map`]). The caller SHOULD then connect the links that need
    /// it and write every link's output.
    Moved {
        /// Subscriptions the server had confirmed were lost: messages published before they
        /// are back are missed.
        gap: bool,
    },
}

/// One connection's subscriptions, and where it goes.
#[derive(Debug)]
struct Link {
    /// `None`: the server, or (link 0 of a cluster) any node.
    node: Option<Node>,
    subs: VecSubscriptions,
    /// Its connection was lost and not started over yet: nothing sent on it is answered, so
    /// names leaving it are forgotten rather than unsubscribed.
    down: bool,
}

/// The subscriptions of one subscriber over its connections (feature `alloc`): one
/// [`Subscriptions`](super::Subscriptions) machine per connection ("link").
///
/// On a single server there is one link, for everything. On a Redis Cluster, `PUBLISH` reaches
/// every node, so channels and patterns share link 0, on any node; a shard channel's messages
/// (`SPUBLISH`) stay on the nodes of its hash slot's shard, so shard channels go on a link per
/// primary, chosen by the [`SlotMap`], one `SSUBSCRIBE` per slot (a node refuses a command
/// whose channels hash to different slots). A shard channel moves when its slot does:
///
/// - a node that does not own the slot answers `SSUBSCRIBE` with `-MOVED slot host:port`: the
///   names go to that node's link, the map learns the new owner;
/// - a node that gives the slot away (a migration's last step, a failover) unsubscribes its
///   clients from the slot's channels with an `sunsubscribe` push nobody asked for: the names
///   wait for a new map ([`wants_map`](Router::wants_map), [`handle_map`](Router::handle_map)),
///   and [`Routed::Moved`] says messages may have been missed;
/// - a shard link whose connection is lost ([`lost`](Router::lost)) may have lost its node
///   (a failover): its names wait for a new map too.
///
/// Keyspace notifications are node-local in a cluster: each primary publishes the events of
/// its own keys only, on its own node. A node-local subscription
/// ([`subscribe_node_local`](Router::subscribe_node_local)) is a channel or pattern subscribed
/// on every primary's link, and follows the primaries as the maps handed to
/// [`handle_map`](Router::handle_map) show them: a new primary (a failover, a node added) gets
/// it, a node that serves no slot any more lets go of it, and a lost link keeps it for its
/// next connection and asks for a map (the node may be gone). When a change of primaries, or a
/// lost link, may have missed messages, [`take_gap`](Router::take_gap) or
/// [`lost`](Router::lost) says so.
///
/// The transport's part: a connection per link that has names ([`links`](Router::links),
/// [`node`](Router::node): `None` is the server, or any node of the cluster), the run loop of
/// [`Subscriptions`](super::Subscriptions) per link (`poll_output`, `consume_output`, `handle_input`), and a new map
/// read from the cluster when one is wanted.
#[derive(Debug)]
pub struct Router {
    links: Vec<Link>,
    /// Who owns each slot; `None` for a single server.
    map: Option<SlotMap>,
    /// Shard channels wanted and on no link: their slot's owner is not known.
    homeless: Vec<Vec<u8>>,
    /// Channels and patterns wanted on every primary (a cluster's node-local subscriptions).
    local: Vec<(Kind, Vec<u8>)>,
    /// The primaries may have changed (a link with node-local names was lost, or the map had
    /// no primary): a map is wanted.
    stale: bool,
    /// Node-local names changed nodes after they were confirmed: messages may have been missed.
    gap: bool,
    limits: Limits,
}

/// Collects command arguments as owned names.
struct Collect(Vec<Vec<u8>>);

impl ArgSink for Collect {
    fn bytes(&mut self, name: &[u8]) {
        self.0.push(name.to_vec());
    }
    fn parts(&mut self, parts: &[&[u8]]) {
        self.0.push(parts.concat());
    }
}

pub(crate) fn collect<A: Args + ?Sized>(names: &A) -> Vec<Vec<u8>> {
    let mut c = Collect(Vec::new());
    names.write_args(&mut c);
    c.0
}

impl Router {
    /// One link, to a single server, for every kind.
    pub fn single() -> Self {
        Self {
            links: alloc::vec![Link {
                node: None,
                subs: VecSubscriptions::default(),
                down: false,
            }],
            map: None,
            homeless: Vec::new(),
            local: Vec::new(),
            stale: false,
            gap: false,
            limits: Limits::default(),
        }
    }

    /// Link 0 for channels and patterns (any node), and a link per primary for shard
    /// channels, as `map` says (an empty map: shard channels wait for one).
    pub fn cluster(map: SlotMap) -> Self {
        Self {
            map: Some(map),
            ..Self::single()
        }
    }

    /// Sets the bounds frames are read with, on every link.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        for l in &mut self.links {
            l.subs.set_limits(limits);
        }
    }

    /// Whether shard channels are routed by slot (a cluster).
    pub fn is_cluster(&self) -> bool {
        self.map.is_some()
    }

    /// How many links there are (they are never removed: an index stays valid).
    pub fn links(&self) -> usize {
        self.links.len()
    }

    /// Where link `link` connects: a node, or `None` for the server (any node of a cluster).
    pub fn node(&self, link: usize) -> Option<&Node> {
        self.links.get(link)?.node.as_ref()
    }

    /// Whether `link` needs no connection: a cluster's shard link holding no name. Link 0 is
    /// never idle.
    pub fn is_idle(&self, link: usize) -> bool {
        link > 0 && self.links.get(link).is_none_or(|l| l.subs.is_empty())
    }

    /// Whether `link`'s connection may close: an idle node link with nothing to send and no
    /// confirmation to wait for (its names left for other nodes, or a node that lost its
    /// slots let go of its node-local names). A later name for its node opens a new one.
    pub fn is_done(&self, link: usize) -> bool {
        self.is_idle(link)
            && self
                .links
                .get(link)
                .is_none_or(|l| l.subs.pending() == 0 && l.subs.poll_output().is_empty())
    }

    /// The machine of `link`.
    fn subs(&mut self, link: usize) -> Option<&mut VecSubscriptions> {
        self.links.get_mut(link).map(|l| &mut l.subs)
    }

    /// Subscribes to `names`: channels and patterns (and any name on a single server) on link
    /// 0; shard channels on their slot's owner's link (made if new), or waiting for a map when
    /// it has none. Returns how many names are sent or wait (0: nothing changes). `Err` only
    /// when a store is full (never, with the growable storage of a router, below 4 GiB names).
    pub fn subscribe<A: Args + ?Sized>(
        &mut self,
        kind: Kind,
        names: &A,
    ) -> Result<usize, CapacityError> {
        if kind != Kind::Shard || self.map.is_none() {
            return self.links[0].subs.subscribe(kind, names);
        }
        let names = collect(names);
        self.place(names.iter().map(Vec::as_slice))
    }

    /// Puts each shard channel on its slot owner's link, grouped into one call per link;
    /// those of unknown owner wait. How many were placed or wait.
    fn place<'n>(&mut self, names: impl Iterator<Item = &'n [u8]>) -> Result<usize, CapacityError> {
        let mut groups: Vec<(usize, Vec<&[u8]>)> = Vec::new();
        let mut sent = 0;
        for name in names {
            let owner = self.map.as_ref().and_then(|m| {
                let i = m.owner(HashSlot::for_key(name))?;
                Some(m.node(i).clone())
            });
            let Some(node) = owner else {
                if !self.homeless.iter().any(|h| h == name) {
                    self.homeless.push(name.to_vec());
                    sent += 1;
                }
                continue;
            };
            let link = self.link_for(node);
            match groups.iter_mut().find(|(l, _)| *l == link) {
                Some((_, g)) => g.push(name),
                None => groups.push((link, alloc::vec![name])),
            }
        }
        for (link, group) in groups {
            sent += self.links[link].subs.subscribe(Kind::Shard, &group)?;
        }
        Ok(sent)
    }

    /// The shard link to `node`, made if new.
    fn link_for(&mut self, node: Node) -> usize {
        if let Some(i) = self
            .links
            .iter()
            .skip(1)
            .position(|l| l.node.as_ref() == Some(&node))
        {
            return i + 1;
        }
        let mut subs = VecSubscriptions::default();
        subs.set_cluster(true);
        subs.set_limits(self.limits);
        self.links.push(Link {
            node: Some(node),
            subs,
            down: false,
        });
        self.links.len() - 1
    }

    /// Unsubscribes from those of `names` that are wanted, on the links that hold them;
    /// returns how many. Shard channels waiting for a map are dropped at once.
    pub fn unsubscribe<A: Args + ?Sized>(
        &mut self,
        kind: Kind,
        names: &A,
    ) -> Result<usize, CapacityError> {
        if kind != Kind::Shard || self.map.is_none() {
            return self.links[0].subs.unsubscribe(kind, names);
        }
        let names = collect(names);
        let before = self.homeless.len();
        self.homeless.retain(|h| !names.contains(h));
        let mut sent = before - self.homeless.len();
        for link in &mut self.links[1..] {
            let here: Vec<&[u8]> = names
                .iter()
                .map(Vec::as_slice)
                .filter(|n| table::find(link.subs.names.as_slice(), kind, n).is_some())
                .collect();
            if !here.is_empty() {
                sent += link.subs.unsubscribe(kind, &here)?;
            }
        }
        Ok(sent)
    }

    /// Forgets `names` of `kind` on every link, node-local ones too (see
    /// [`Subscriptions::forget`](super::Subscriptions::forget)).
    pub fn forget<A: Args + ?Sized>(&mut self, kind: Kind, names: &A) {
        for link in &mut self.links {
            link.subs.forget(kind, names);
        }
        if !self.local.is_empty() {
            let names = collect(names);
            self.local.retain(|(k, n)| *k != kind || !names.contains(n));
        }
        if kind == Kind::Shard && !self.homeless.is_empty() {
            let names = collect(names);
            self.homeless.retain(|h| !names.contains(h));
        }
    }

    /// The names of `kind` wanted, on every link or waiting for one; a node-local name once,
    /// however many primaries hold it (and once more if it is also subscribed on link 0).
    pub fn wanted(&self, kind: Kind) -> impl Iterator<Item = &[u8]> {
        let waiting = self
            .homeless
            .iter()
            .filter(move |_| kind == Kind::Shard)
            .map(Vec::as_slice);
        let local = self
            .local
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, n)| n.as_slice());
        // Shard links hold node-local channels and patterns too: those count once, above.
        let shard = self.links[1..]
            .iter()
            .filter(move |_| kind == Kind::Shard)
            .flat_map(move |l| l.subs.wanted(kind));
        self.links[0]
            .subs
            .wanted(kind)
            .chain(shard)
            .chain(waiting)
            .chain(local)
    }

    /// Whether `name` of `kind` is subscribed as asked and confirmed, on whichever link.
    pub fn is_confirmed(&self, kind: Kind, name: &[u8]) -> bool {
        self.links.iter().any(|l| l.subs.is_confirmed(kind, name))
    }

    /// Names waiting for a confirmation, on every link, and for a map (node-local names on no
    /// link yet count once).
    pub fn pending(&self) -> usize {
        self.links.iter().map(|l| l.subs.pending()).sum::<usize>()
            + self.homeless.len()
            + self.unplaced_local()
    }

    /// Whether a slot map is wanted: shard channels wait for one, or the primaries that hold
    /// node-local names may have changed. The caller SHOULD read the cluster's slot map and
    /// give it to [`handle_map`](Self::handle_map) (after a back-off when the last one left
    /// names waiting).
    pub fn wants_map(&self) -> bool {
        !self.homeless.is_empty() || self.stale
    }

    /// Takes a new slot map: the shard channels waiting go to their owners' links, and
    /// node-local names to every primary's link (leaving the links of nodes that serve no slot
    /// any more). Returns how many shard channels still wait (their slots have no owner in
    /// `map`). The caller SHOULD then ask [`take_gap`](Self::take_gap), connect the links that
    /// need it and write every link's output.
    pub fn handle_map(&mut self, map: SlotMap) -> Result<usize, CapacityError> {
        self.map = Some(map);
        self.stale = false;
        let waiting = core::mem::take(&mut self.homeless);
        self.place(waiting.iter().map(Vec::as_slice))?;
        self.place_local(true)?;
        Ok(self.homeless.len())
    }

    /// Bytes to send on `link`.
    #[must_use]
    pub fn poll_output(&self, link: usize) -> &[u8] {
        self.links.get(link).map_or(&[], |l| l.subs.poll_output())
    }

    /// Marks the first `n` bytes of `link`'s output as sent.
    pub fn consume_output(&mut self, link: usize, n: usize) {
        if let Some(s) = self.subs(link) {
            s.consume_output(n);
        }
    }

    /// Queues a `PING` on `link` (see [`Subscriptions::ping`](super::Subscriptions::ping)).
    pub fn ping(&mut self, link: usize) -> Result<(), CapacityError> {
        self.subs(link).map_or(Ok(()), |s| s.ping())
    }

    /// Starts `link` over on a new connection (see [`Subscriptions::resubscribe`](super::Subscriptions::resubscribe)).
    pub fn resubscribe(&mut self, link: usize) -> Result<usize, CapacityError> {
        let Some(l) = self.links.get_mut(link) else {
            return Ok(0);
        };
        l.down = false;
        l.subs.resubscribe()
    }

    /// The connection of `link` is gone. On a cluster's node link its node may be gone too (a
    /// failover): its shard channels wait for a map, its node-local names stay for its next
    /// connection but a map is wanted (a map without the node as a primary takes them off),
    /// and `Some(n)` says how many names lost their subscription (when `n > 0` messages may
    /// have been missed). The caller connects the link again while it is not
    /// [idle](Self::is_idle). `None`: the caller connects again to the same place and
    /// [`resubscribe`](Self::resubscribe)s.
    pub fn lost(&mut self, link: usize) -> Option<usize> {
        if link == 0 || self.map.is_none() {
            return None;
        }
        let l = self.links.get_mut(link)?;
        let names: Vec<Vec<u8>> = l.subs.wanted(Kind::Shard).map(<[u8]>::to_vec).collect();
        let mut fresh = VecSubscriptions::default();
        fresh.set_cluster(true);
        fresh.set_limits(self.limits);
        let mut kept = 0;
        for kind in [Kind::Channel, Kind::Pattern] {
            for name in l.subs.wanted(kind) {
                // Wanted, not pending: sent again by the next connection's resubscribe.
                let _ = table::push(&mut fresh.names, kind, true, 0, &[name]);
                kept += 1;
            }
        }
        l.subs = fresh;
        l.down = true;
        self.stale |= kept > 0;
        for n in &names {
            if !self.homeless.contains(n) {
                self.homeless.push(n.clone());
            }
        }
        Some(names.len() + kept)
    }

    /// Reads the frame at the start of `bytes`, read on `link` (see
    /// [`Subscriptions::handle_input`](super::Subscriptions::handle_input): the caller MUST drop the bytes it took). On a
    /// cluster's shard link, a `-MOVED` answer and an `sunsubscribe` nobody asked for move the
    /// names they concern, and read as [`Routed::Moved`].
    pub fn handle_input<'b>(
        &mut self,
        link: usize,
        bytes: &'b [u8],
    ) -> Result<Option<(Routed<'b>, usize)>, FrameError> {
        let Some(subs) = self.subs(link) else {
            return Ok(None);
        };
        let Some((event, used)) = subs.handle_input(bytes)? else {
            return Ok(None);
        };
        if link == 0 || self.map.is_none() {
            return Ok(Some((Routed::Frame(event), used)));
        }
        let routed = match event {
            Event::Error(e) if e.kind() == ServerErrorKind::Moved => {
                let target = e
                    .redirect()
                    .and_then(|r| Some((r.slot, Node::parse(r.addr)?)));
                match target.is_some_and(|(slot, to)| self.moved(link, slot, to)) {
                    true => Routed::Moved { gap: false },
                    false => Routed::Frame(Event::Error(e)),
                }
            }
            Event::Unsubscribed {
                kind: Kind::Shard,
                name: Some(name),
                count,
            } => {
                let subs = &mut self.links[link].subs;
                let dropped = table::find(subs.names.as_slice(), Kind::Shard, name)
                    .is_some_and(|e| e.wanted && !e.active && e.owed == 0);
                if dropped {
                    subs.forget(Kind::Shard, &name);
                    if !self.homeless.iter().any(|h| h == name) {
                        self.homeless.push(name.to_vec());
                    }
                    Routed::Moved { gap: true }
                } else {
                    Routed::Frame(Event::Unsubscribed {
                        kind: Kind::Shard,
                        name: Some(name),
                        count,
                    })
                }
            }
            other => Routed::Frame(other),
        };
        Ok(Some((routed, used)))
    }

    /// A `-MOVED slot to` on `link`: the shard channels of `slot` it owes a confirmation for
    /// (the refused command's) leave it; those still wanted go to `to`'s link. `false` when
    /// the redirection cannot be followed (it names the link's own node, or no name).
    fn moved(&mut self, link: usize, slot: HashSlot, to: Node) -> bool {
        let Some(map) = self.map.as_mut() else {
            return false;
        };
        let here = self.links[link].node.as_ref();
        let replied = here.and_then(|n| map.find(n));
        let index = map.moved(slot, to, replied);
        let to = map.node(index).clone();
        if here == Some(&to) {
            return false;
        }
        let subs = &mut self.links[link].subs;
        let refused: Vec<(Vec<u8>, bool)> = table::entries(subs.names.as_slice(), 0)
            .filter(|e| e.kind == Kind::Shard && e.owed > 0 && HashSlot::for_key(e.name) == slot)
            .map(|e| (e.name.to_vec(), e.wanted))
            .collect();
        if refused.is_empty() {
            return false;
        }
        for (name, _) in &refused {
            subs.forget(Kind::Shard, &name.as_slice());
        }
        let to = self.link_for(to);
        let wanted: Vec<&[u8]> = refused
            .iter()
            .filter(|(_, w)| *w)
            .map(|(n, _)| n.as_slice())
            .collect();
        if !wanted.is_empty() {
            // Growable storage: only names over 4 GiB fail, and those never got here.
            let _ = self.links[to].subs.subscribe(Kind::Shard, &wanted);
        }
        true
    }
}
