//! Redis Cluster, sans-I/O: which of the 16384 slots a key hashes to, which words of a command
//! are keys, and (feature `alloc`) who owns each slot (`SlotMap`), which node's answer to keep
//! when the nodes disagree (`Refresh`), and how one pipeline runs over many nodes
//! (`ClusterRun`).
//!
//! Two things are called "slot" here: a pipeline's result slot is a [`Deferred`](crate::Deferred);
//! a cluster key slot is a [`HashSlot`].

mod keys;
#[cfg(feature = "alloc")]
mod refresh;
#[cfg(feature = "alloc")]
mod router;
#[cfg(feature = "alloc")]
mod topology;

pub use crate::codec::hash_slot::HashSlot;
pub use keys::KeySpec;
#[cfg(feature = "alloc")]
pub use refresh::{Freshness, MapVersion, Refresh, SETTLE_MS, SPREAD};
#[cfg(feature = "alloc")]
pub(crate) use router::read_words;
#[cfg(feature = "alloc")]
pub use router::{
    Batch, ClusterRun, DEFAULT_RETRY_BUDGET_MS, MAX_ATTEMPTS, MAX_BACKOFF_MS, RouteCounts,
};
#[cfg(feature = "alloc")]
pub use topology::{Node, SlotMap, TopologyError};
