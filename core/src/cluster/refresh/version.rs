//! Which of two slot maps read by concurrent refreshes is the newer: see [`MapVersion`].

use super::Freshness;

/// Which refresh read a slot map that an adapter shares between pipelines, when, and how new
/// the cluster's view in it was. Refreshes run concurrently (every pipeline that saw a failure
/// may start one) and end in any order, and the nodes learn of a failover at different times:
/// a refresh that ends after another has published the new owner, having asked nodes that had
/// not heard of it yet, would put the old owner back, and the pipelines would go to a dead or
/// deposed node again. The adapter numbers its refreshes as they start (tickets from 1; a map
/// no refresh read is version 0) and keeps the version of the map it shares beside it:
/// [`replaced_by`](Self::replaced_by) says whether a refresh's pick replaces it,
/// [`read_since`](Self::read_since) whether a pipeline needs a refresh of its own.
///
/// ```
/// use redpipe_core::cluster::{Freshness, MapVersion};
/// let shared = MapVersion { ticket: 5, freshness: Freshness(16384 * 4), read_ms: 1_000 };
/// // Older epochs, soon after: a node that has not heard of the failover yet. Dropped.
/// let lagging = MapVersion { ticket: 6, freshness: Freshness(16384 * 3), read_ms: 1_100 };
/// assert!(!shared.replaced_by(lagging));
/// // Older epochs long after: the cluster was built again (its epochs start over).
/// let rebuilt = MapVersion { ticket: 9, freshness: Freshness(16384 * 1), read_ms: 4_000 };
/// assert!(shared.replaced_by(rebuilt));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapVersion {
    /// The number of the refresh that read the map (0: none did).
    pub ticket: u64,
    /// The freshness of the answer it kept ([`Refresh::freshness`](super::Refresh::freshness);
    /// 0 when the node did not tell its epochs).
    pub freshness: Freshness,
    /// When it was read, in milliseconds on the adapter's clock.
    pub read_ms: u64,
}

/// How long (ms) after a map was read a view with older config epochs may still be a node
/// lagging behind it (the nodes learn of a failover by gossip, within about a second), rather
/// than the cluster going back (slots deleted, the cluster built again): only a view read
/// later than that replaces the map.
pub const SETTLE_MS: u64 = 2_000;

impl MapVersion {
    /// Whether the map a refresh picked, `next`, replaces a map of this version: its answer
    /// shows newer config epochs (whenever that refresh started), or as new ones and it started
    /// later (a replica added, epochs not told), or older ones read at least [`SETTLE_MS`]
    /// later by a refresh that started later. Otherwise it is an older view, which SHOULD be
    /// dropped.
    #[must_use]
    pub fn replaced_by(&self, next: MapVersion) -> bool {
        next.freshness > self.freshness
            || (next.ticket > self.ticket
                && (next.freshness == self.freshness
                    || next.read_ms >= self.read_ms.saturating_add(SETTLE_MS)))
    }

    /// Whether the map was read by refresh `ticket` or a later one. A pipeline notes the next
    /// ticket when its round goes out; if the map was read since, a refresh of its own after
    /// that round would learn nothing the map does not say already (about nodes that failed;
    /// a `MOVED` it saw is checked with [`ClusterRun::settled_by`](crate::cluster::ClusterRun::settled_by)).
    #[must_use]
    pub fn read_since(&self, ticket: u64) -> bool {
        self.ticket >= ticket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn v(ticket: u64, freshness: u64, read_ms: u64) -> MapVersion {
        MapVersion {
            ticket,
            freshness: Freshness(freshness),
            read_ms,
        }
    }

    /// (shared version, a refresh's pick, whether the pick replaces the shared map).
    const CASES: &[(MapVersion, MapVersion, bool)] = &[
        // Nothing read yet: any refresh.
        (v(0, 0, 0), v(1, 0, 5), true),
        (v(0, 0, 0), v(1, 10, 5), true),
        // A later refresh, newer or as new.
        (v(3, 10, 100), v(4, 11, 120), true),
        (v(3, 10, 100), v(4, 10, 120), true),
        // An earlier refresh that saw a failover the later one had not.
        (v(4, 10, 100), v(3, 11, 120), true),
        // An earlier refresh, as new or older: the flip back to the old owner.
        (v(4, 11, 100), v(3, 10, 120), false),
        (v(4, 10, 100), v(3, 10, 120), false),
        // A later refresh that asked a node lagging behind: the flip back too.
        (v(3, 11, 100), v(4, 10, 120), false),
        (v(3, 11, 100), v(4, 10, 100 + SETTLE_MS - 1), false),
        // ... unless read long after: slots deleted, the cluster built again.
        (v(3, 11, 100), v(4, 10, 100 + SETTLE_MS), true),
        (v(4, 11, 100), v(3, 10, 100 + SETTLE_MS), false),
        // Epochs unknown (CLUSTER NODES refused): the start order decides.
        (v(4, 0, 100), v(3, 0, 120), false),
        (v(3, 0, 100), v(4, 0, 120), true),
    ];

    #[test]
    fn a_refresh_replaces_the_shared_map_only_with_a_view_not_older() {
        for (i, &(shared, next, replaces)) in CASES.iter().enumerate() {
            assert_eq!(
                shared.replaced_by(next),
                replaces,
                "case {i}: {shared:?} <- {next:?}"
            );
        }
    }

    #[test]
    fn read_since_counts_the_refresh_that_read_the_map() {
        let shared = v(7, 0, 0);
        assert!(shared.read_since(7), "read by that very refresh");
        assert!(shared.read_since(3));
        assert!(!shared.read_since(8), "read before the round went out");
        assert!(!MapVersion::default().read_since(1));
    }
}
