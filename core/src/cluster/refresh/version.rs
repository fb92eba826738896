//! Which of two slot maps read by concurrent refreshes is the newer: see [`MapVersion`].

use super::Freshness;

/// Which refresh read a slot map that an adapter shares between pipelines, and how new the
/// cluster's view in it was. Refreshes run concurrently (every pipeline that saw a failure may
/// start one) and end in any order: one that started before a failover and ends after another
/// has published the new owner would put the old owner back, and the pipelines would go to a
/// dead or deposed node again. The adapter numbers its refreshes as they start (tickets from
/// 1; a map no refresh read is version 0) and keeps the version of the map it shares beside
/// it: [`replaced_by`](Self::replaced_by) says whether a refresh's pick replaces it,
/// [`read_since`](Self::read_since) whether a pipeline needs a refresh of its own.
///
/// ```
/// use redpipe_core::cluster::{Freshness, MapVersion};
/// let shared = MapVersion { ticket: 5, freshness: Freshness(16384 * 4) };
/// // Started before the refresh that read the shared map, and saw nothing newer: dropped.
/// assert!(!shared.replaced_by(MapVersion { ticket: 4, freshness: Freshness(16384 * 3) }));
/// // Started later: it replaces it, whatever its epochs (slots can be taken away too).
/// assert!(shared.replaced_by(MapVersion { ticket: 6, freshness: Freshness(16384 * 3) }));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapVersion {
    /// The number of the refresh that read the map (0: none did).
    pub ticket: u64,
    /// The freshness of the answer it kept ([`Refresh::freshness`](super::Refresh::freshness);
    /// 0 when the node did not tell its epochs).
    pub freshness: Freshness,
}

impl MapVersion {
    /// Whether the map a refresh picked, `next`, replaces a map of this version: the refresh
    /// started after the one that read this map, or its answer shows newer config epochs (a
    /// node it asked had seen a failover the other's had not). A refresh that started earlier
    /// and saw nothing newer brings an older view, which SHOULD be dropped.
    #[must_use]
    pub fn replaced_by(&self, next: MapVersion) -> bool {
        next.ticket > self.ticket || next.freshness > self.freshness
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

    const fn v(ticket: u64, freshness: u64) -> MapVersion {
        MapVersion {
            ticket,
            freshness: Freshness(freshness),
        }
    }

    /// (shared version, a refresh's pick, whether the pick replaces the shared map).
    const CASES: &[(MapVersion, MapVersion, bool)] = &[
        // Nothing read yet: any refresh.
        (v(0, 0), v(1, 0), true),
        (v(0, 0), v(1, 10), true),
        // A later refresh, newer or as new.
        (v(3, 10), v(4, 11), true),
        (v(3, 10), v(4, 10), true),
        // A later refresh with older epochs: slots deleted or reassigned by hand.
        (v(3, 10), v(4, 9), true),
        // An earlier refresh that saw a failover the later one had not.
        (v(4, 10), v(3, 11), true),
        // An earlier refresh, as new or older: the flip back to the old owner.
        (v(4, 11), v(3, 10), false),
        (v(4, 10), v(3, 10), false),
        // Epochs unknown (CLUSTER NODES refused): the start order decides.
        (v(4, 0), v(3, 0), false),
        (v(3, 0), v(4, 0), true),
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
        let shared = v(7, 0);
        assert!(shared.read_since(7), "read by that very refresh");
        assert!(shared.read_since(3));
        assert!(!shared.read_since(8), "read before the round went out");
        assert!(!MapVersion::default().read_since(1));
    }
}
