//! A cache kept by several tracking connections, one per node of a Redis Cluster: each node
//! reports only the writes to its own keys, so the cache may answer only while every node that
//! can take writes (every primary of the latest slot map) has its tracking connection up.

use alloc::vec::Vec;

use super::Cache;
use crate::cluster::Node;

/// Which nodes' tracking connections the cache needs, and which are up.
#[derive(Debug, Default)]
pub(super) struct Nodes {
    /// The nodes whose tracking connections must be up: a cluster's primaries.
    needed: Vec<Node>,
    /// The nodes whose tracking connections are up (needed or not: a replica's connection up
    /// before its promotion lets the cache answer again as soon as the map names it).
    up: Vec<Node>,
}

impl Nodes {
    /// Whether there are needed nodes and all of their connections are up.
    fn all_up(&self) -> bool {
        !self.needed.is_empty() && self.needed.iter().all(|n| self.up.contains(n))
    }
}

impl Cache {
    /// For a cache kept by a tracking connection per cluster node: `nodes` are the nodes whose
    /// connections must be up for it to answer (the primaries of the latest slot map, as the
    /// keys' writes go there). A needed node whose connection is not up turns the cache off;
    /// once every needed node's is, it answers again. Each change of state flushes it (see
    /// [`set_tracking`](Self::set_tracking)); no node needed: off.
    ///
    /// The transport MUST call this again whenever the slot map changes, before the cache
    /// answers a pipeline planned on the new map: a new primary not tracked yet would take
    /// writes nobody hears of.
    pub fn set_needed_nodes(&mut self, nodes: impl IntoIterator<Item = Node>) {
        self.nodes.needed = nodes.into_iter().collect();
        self.follow_nodes();
    }

    /// Says that `node`'s tracking connection is up (its `CLIENT TRACKING` answered `OK`) or
    /// was lost: a needed node's loss turns the cache off, the last needed node's connection up
    /// turns it on (see [`set_needed_nodes`](Self::set_needed_nodes)).
    pub fn set_node_tracking(&mut self, node: &Node, up: bool) {
        self.nodes.up.retain(|n| n != node);
        if up {
            self.nodes.up.push(node.clone());
        }
        self.follow_nodes();
    }

    /// Turns tracking on or off as the nodes' connections say.
    fn follow_nodes(&mut self) {
        let all = self.nodes.all_up();
        if all != self.tracking {
            self.set_tracking(all);
        }
    }
}
