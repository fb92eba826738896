//! Node-local subscriptions: a channel or pattern on every primary's link, following the
//! primaries from map to map.
//!
//! Why: Redis publishes keyspace notifications (`__keyspace@0__:key`) on the node that owns the
//! key only, never over the cluster bus, unlike a `PUBLISH`. A subscriber that wants them all
//! needs the pattern on every primary, and only on primaries: a replica publishes the events of
//! the writes it replays too, so a pattern left on a demoted primary would deliver each event
//! twice.

use alloc::vec::Vec;

use super::{Router, collect};
use crate::cluster::Node;
use crate::codec::encode::Args;
use crate::codec::error::CapacityError;
use crate::pubsub::Kind;

impl Router {
    /// Subscribes to `names` (channels or patterns) on every primary of the cluster: node-local
    /// subscriptions, kept on each primary's link as the maps change (see the
    /// [type docs](Router)). On a single server (or for shard channels, which already go by
    /// slot) this is [`subscribe`](Self::subscribe). Returns how many names are new (0: nothing
    /// changes); with no primary in the map they wait for one ([`wants_map`](Self::wants_map)).
    ///
    /// A message `PUBLISH`ed to a channel a node-local name matches reaches every node, so it
    /// arrives once per primary: node-local names are for what nodes publish themselves.
    pub fn subscribe_node_local<A: Args + ?Sized>(
        &mut self,
        kind: Kind,
        names: &A,
    ) -> Result<usize, CapacityError> {
        if kind == Kind::Shard || self.map.is_none() {
            return self.subscribe(kind, names);
        }
        let mut new = 0;
        for name in collect(names) {
            if !self.local.iter().any(|(k, n)| *k == kind && *n == name) {
                self.local.push((kind, name));
                new += 1;
            }
        }
        if new > 0 {
            self.place_local(false)?;
        }
        Ok(new)
    }

    /// Unsubscribes from node-local `names` on every link that holds them (forgotten at once
    /// on a link whose connection is down); returns how many were wanted.
    pub fn unsubscribe_node_local<A: Args + ?Sized>(
        &mut self,
        kind: Kind,
        names: &A,
    ) -> Result<usize, CapacityError> {
        if kind == Kind::Shard || self.map.is_none() {
            return self.unsubscribe(kind, names);
        }
        let names = collect(names);
        let before = self.local.len();
        self.local.retain(|(k, n)| *k != kind || !names.contains(n));
        let gone = before - self.local.len();
        for link in 1..self.links.len() {
            let here: Vec<&[u8]> = names
                .iter()
                .map(Vec::as_slice)
                .filter(|n| self.links[link].subs.wanted(kind).any(|w| w == *n))
                .collect();
            self.drop_names(link, kind, &here)?;
        }
        Ok(gone)
    }

    /// Whether node-local `name` of `kind` is confirmed on every link that wants it (at least
    /// one): on every primary, once the links are up.
    pub fn is_confirmed_node_local(&self, kind: Kind, name: &[u8]) -> bool {
        let mut holders = self.links[1..]
            .iter()
            .filter(|l| l.subs.wanted(kind).any(|w| w == name))
            .peekable();
        self.local.iter().any(|(k, n)| *k == kind && n == name)
            && holders.peek().is_some()
            && holders.all(|l| l.subs.is_confirmed(kind, name))
    }

    /// Whether node-local names are wanted: the transport SHOULD then read the slot map now and
    /// then (and hand it to [`handle_map`](Self::handle_map)), since a coordinated failover
    /// changes the primaries without closing a connection.
    pub fn has_node_local(&self) -> bool {
        !self.local.is_empty()
    }

    /// Whether node-local subscriptions changed nodes after they were confirmed (a map put them
    /// on a new primary, or took them off a node that lost its slots), since the last call:
    /// messages may have been missed in between. Asking clears it.
    pub fn take_gap(&mut self) -> bool {
        core::mem::take(&mut self.gap)
    }

    /// Node-local names on no link: the map has no primary yet.
    pub(super) fn unplaced_local(&self) -> usize {
        self.local
            .iter()
            .filter(|(k, n)| {
                !self.links[1..]
                    .iter()
                    .any(|l| l.subs.wanted(*k).any(|w| w == n))
            })
            .count()
    }

    /// Puts every node-local name on each primary's link, and takes them off the links of the
    /// nodes that are not primaries any more. `after_change`: a change of the map, where doing
    /// anything to names already confirmed is a gap (not so for new names).
    pub(super) fn place_local(&mut self, after_change: bool) -> Result<(), CapacityError> {
        let Some(map) = self.map.as_ref() else {
            return Ok(());
        };
        if self.local.is_empty() {
            return Ok(());
        }
        let primaries: Vec<Node> = map
            .primaries()
            .into_iter()
            .map(|i| map.node(i).clone())
            .collect();
        if primaries.is_empty() {
            // No map yet (or one read from a node that knows nothing): keep the links as they
            // are and ask for another.
            self.stale = true;
            return Ok(());
        }
        let confirmed = self.links[1..]
            .iter()
            .any(|l| self.local.iter().any(|(k, n)| l.subs.is_confirmed(*k, n)));
        let mut changed = false;
        for link in 1..self.links.len() {
            let primary = self.links[link]
                .node
                .as_ref()
                .is_some_and(|n| primaries.contains(n));
            if primary {
                continue;
            }
            for kind in [Kind::Channel, Kind::Pattern] {
                let here: Vec<Vec<u8>> = self.links[link]
                    .subs
                    .wanted(kind)
                    .map(<[u8]>::to_vec)
                    .collect();
                let here: Vec<&[u8]> = here.iter().map(Vec::as_slice).collect();
                changed |= !here.is_empty();
                self.drop_names(link, kind, &here)?;
            }
        }
        for node in primaries {
            let link = self.link_for(node);
            for kind in [Kind::Channel, Kind::Pattern] {
                let names: Vec<Vec<u8>> = self
                    .local
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, n)| n.clone())
                    .collect();
                if names.is_empty() {
                    continue;
                }
                let names: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
                changed |= self.links[link].subs.subscribe(kind, &names)? > 0;
            }
        }
        self.gap |= after_change && changed && confirmed;
        Ok(())
    }

    /// Takes `names` of `kind` off `link`: unsubscribed on a live connection, forgotten on one
    /// that is down (nothing would answer).
    fn drop_names(
        &mut self,
        link: usize,
        kind: Kind,
        names: &[&[u8]],
    ) -> Result<(), CapacityError> {
        if names.is_empty() {
            return Ok(());
        }
        let l = &mut self.links[link];
        if l.down {
            l.subs.forget(kind, names);
        } else {
            l.subs.unsubscribe(kind, names)?;
        }
        Ok(())
    }
}
