//! What a node says of the cluster (`CLUSTER NODES`), and whether the views agree.

use super::*;

/// One line of `CLUSTER NODES`, reduced to what every node must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NodeView {
    pub(super) port: u16,
    pub(super) primary: bool,
    /// Marked `fail` (not merely `fail?`, which each node decides alone).
    pub(super) failed: bool,
    /// In a `MEET` handshake (then the id is a placeholder).
    pub(super) handshake: bool,
    /// The primary's port, for a replica.
    pub(super) primary_port: Option<u16>,
    /// Slot ranges, without the `[slot->-id]` migration markers.
    pub(super) slots: Vec<(u16, u16)>,
}

impl NodeView {
    pub(super) fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(lo, hi)| lo <= slot && slot <= hi)
    }
}

/// Parses `CLUSTER NODES`: `<id> <ip:port@cport> <flags> <primary-id|-> <ping> <pong> <epoch>
/// <link> <slot>...`, sorted by port.
pub(super) fn parse_nodes(text: &str) -> Vec<NodeView> {
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() >= 8)
        .collect();
    let port_of = |addr: &str| -> u16 {
        let hostport = addr.split(['@', ',']).next().unwrap_or_default();
        hostport
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    };
    let ports: HashMap<&str, u16> = lines.iter().map(|w| (w[0], port_of(w[1]))).collect();
    let mut views: Vec<NodeView> = lines
        .iter()
        .map(|w| {
            let flags: Vec<&str> = w[2].split(',').collect();
            let slots = w[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| {
                    let (lo, hi) = s.split_once('-').unwrap_or((s, s));
                    Some((lo.parse().ok()?, hi.parse().ok()?))
                })
                .collect();
            NodeView {
                port: port_of(w[1]),
                primary: flags.contains(&"master"),
                failed: flags.contains(&"fail"),
                handshake: flags.contains(&"handshake") || flags.contains(&"noaddr"),
                primary_port: ports.get(w[3]).copied(),
                slots,
            }
        })
        .collect();
    views.sort_by_key(|v| (v.port, v.handshake));
    views
}

/// Whether the live primaries of `view` cover every slot exactly once.
pub(super) fn check_coverage(view: &[NodeView]) -> Result<(), String> {
    let mut ranges: Vec<(u16, u16)> = view
        .iter()
        .filter(|n| n.primary && !n.failed)
        .flat_map(|n| n.slots.iter().copied())
        .collect();
    ranges.sort_unstable();
    let mut next = 0u32;
    for (lo, hi) in ranges {
        if u32::from(lo) != next {
            return Err(format!("slots from {next} are not covered once"));
        }
        next = u32::from(hi) + 1;
    }
    if next == SLOTS {
        Ok(())
    } else {
        Err(format!("slots from {next} are not covered"))
    }
}
