//! Client-side caching (feature `alloc`), sans-I/O: a bounded cache of read replies kept
//! coherent by the server's invalidation pushes (`CLIENT TRACKING`).
//!
//! # What it does
//! A [`Cache`] holds the raw reply bytes (RESP, as the server sent them) of the reads `GET k`,
//! `HGET k f`, `HGETALL k` and `HMGET k f...` (the last two are what struct loads send), by
//! key and command. Before a pipeline runs, [`Cache::plan`] answers the reads it holds: their
//! slots are filled at once with the cached bytes, so every [`FromReply`](crate::FromReply)
//! conversion reads a hit exactly as it would read the server's reply; the other commands go
//! into a batch pipeline, which the transport sends instead (nothing at all when every command
//! was a hit). [`Cache::finish`] moves the batch's replies into their own slots (each reply to
//! the command that asked for it, by index, as the cluster router does) and stores the replies
//! of the reads that missed.
//!
//! # Why this shape
//! - **Broadcast tracking on a connection of its own** (`CLIENT TRACKING ON BCAST [PREFIX p]`):
//!   the server sends an invalidation for every change of a key under the prefixes, whichever
//!   connection read it. So the data connections need no tracking state and stay shared and
//!   multiplexed; a reconnecting data connection changes nothing (no flush), while the
//!   tracking connection's loss flushes everything ([`Cache::set_tracking`]): the
//!   invalidations sent while it was down are lost. The cost of broadcast mode is that the
//!   tracking connection hears of every write under the prefixes, cached or not: narrow them.
//! - **A cluster: one cache, a tracking connection per node.** Each node reports only the
//!   writes to its own keys, so the transport tracks every node and tells the cache which must
//!   be up ([`Cache::set_needed_nodes`]: the primaries of its latest slot map) and which are
//!   ([`Cache::set_node_tracking`]); it answers only while all the needed ones are.
//! - **The cache sits beside the engine, not in it**: splitting a pipeline uses the engine's
//!   routing hooks (`command`, `resolve`) as the cluster router does. The engine's hot path and
//!   the no-allocator build (firmware) do not change by a byte.
//! - **Raw replies**: one store for every result type, and a hit costs a copy into the
//!   pipeline's reply arena, no conversion.
//!
//! # Rules
//! - Only pipelines of plain commands are split: one with a transaction, a `WATCH` or a script
//!   (`EVALSHA` with its `EVAL` fallback) runs as it is, never answered from the cache and never
//!   filling it.
//! - A read is answered from the cache only if no earlier command of its pipeline may have
//!   changed its key: one naming the key, or one whose keys are not known (a script, a command
//!   without key such as `FLUSHALL`) stops every later hit. Such reads go to the server and do
//!   not fill the cache.
//! - With prefixes set, only keys under one of them are cached: the server tracks no other.
//! - **The race rule**: a read's reply may fill the cache only if no invalidation of its key
//!   (nor a flush) arrived after the read was planned (before its bytes were sent): the server
//!   may have answered with the old value just before a write whose invalidation overtook the
//!   reply. Each invalidation advances an epoch and is logged with it; a fill whose plan's
//!   epoch is older than a logged invalidation of its key, or older than a flush or the
//!   oldest entry of the (bounded) log, is refused. So the check is per key while the log
//!   reaches back far enough, and refuses everything older than that.
//! - Server errors are never cached.
//! - Memory is bounded: at most `max_entries` entries and `max_bytes` bytes (keys, commands,
//!   replies and a fixed overhead per entry counted), the least recently used out first
//!   (approximately: second-chance eviction, where a hit only sets a flag); the invalidation
//!   log is bounded too ([`LOG_ENTRIES`], [`LOG_BYTES`]).
//!
//! ```
//! use redpipe_core::cache::{Cache, CacheConfig};
//! use redpipe_core::{prelude::*, VecPipeline};
//!
//! let mut cache = Cache::new(CacheConfig::new(1000));
//! cache.set_tracking(true); // the tracking connection is up
//!
//! // First run: a miss, sent as it is; its reply fills the cache.
//! let mut p = VecPipeline::new();
//! let _ = p.get::<String>("k").unwrap();
//! let plan = cache.plan(&mut p);
//! let out = p.poll_output().len();
//! p.consume_output(out);
//! p.handle_input(b"$2\r\nv1\r\n").unwrap();
//! cache.finish(plan, &mut p);
//!
//! // Second run: answered from the cache, nothing to send.
//! let mut p = VecPipeline::new();
//! let v = p.get::<String>("k").unwrap();
//! let mut plan = cache.plan(&mut p);
//! assert!(plan.batch().is_some_and(|b| b.is_empty()));
//! cache.finish(plan, &mut p);
//! assert_eq!(v.read(&p).unwrap(), "v1");
//!
//! // Another client wrote k: the push the tracking connection reads removes it.
//! cache.handle_push(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
//! assert_eq!(cache.stats().entries, 0);
//! ```

mod nodes;
mod plan;
mod store;
#[cfg(test)]
mod tests;

pub use plan::Plan;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::codec::encode::{cmd, encode_command};
use crate::codec::reply::{Aggregate, Reply};
use nodes::Nodes;
use store::Store;

/// Invalidations remembered at most, to refuse only the fills of the keys they name; past that,
/// every fill planned before the oldest one kept is refused.
pub const LOG_ENTRIES: usize = 1024;

/// Bytes of keys the invalidation log holds at most (see [`LOG_ENTRIES`]).
pub const LOG_BYTES: usize = 64 * 1024;

/// The client name of tracking connections, so that they can be told apart in `CLIENT LIST`.
pub const TRACKING_CLIENT_NAME: &str = "redpipe-tracking";

/// How big a cache may grow, and which keys it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Entries at most (one per key and read command).
    pub max_entries: usize,
    /// Bytes at most: names, replies and a fixed overhead per entry (64 MiB by default).
    pub max_bytes: usize,
    /// Key prefixes to cache and track (`CLIENT TRACKING ... PREFIX p`); empty: every key.
    pub prefixes: Vec<String>,
}

impl CacheConfig {
    /// At most `max_entries` entries, 64 MiB, every key.
    pub fn new(max_entries: usize) -> Self {
        Self {
            max_entries,
            max_bytes: 64 << 20,
            prefixes: Vec::new(),
        }
    }

    /// Sets the byte bound.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Caches (and tracks) only keys starting with `prefix` (and the other prefixes given).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.push(prefix.into());
        self
    }

    /// Whether keys like `key` are cached.
    pub fn covers(&self, key: &[u8]) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| key.starts_with(p.as_bytes()))
    }

    /// The command that turns tracking on for a tracking connection, encoded:
    /// `CLIENT TRACKING ON BCAST [PREFIX p ...]`. It MUST be sent on a RESP3 connection (`HELLO
    /// 3`), which then receives the invalidations as push frames.
    pub fn tracking_command(&self) -> Vec<u8> {
        let prefixes: Vec<(&str, &str)> = self.prefixes.iter().map(|p| ("PREFIX", &**p)).collect();
        let mut out = Vec::new();
        let command = cmd("CLIENT").arg(("TRACKING", "ON", "BCAST")).arg(prefixes);
        let _ = encode_command(&mut out, &command);
        out
    }
}

/// What the cache did so far, and what it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Entries held now.
    pub entries: usize,
    /// Bytes held now (as counted against `max_bytes`).
    pub bytes: usize,
    /// Reads answered from the cache.
    pub hits: u64,
    /// Cacheable reads sent to the server.
    pub misses: u64,
    /// Replies stored.
    pub fills: u64,
    /// Replies not stored because an invalidation (or a flush) may have made them stale.
    pub refused: u64,
    /// Keys invalidated by the server.
    pub invalidations: u64,
    /// Times the whole cache was emptied (server flush, tracking connection lost or set up).
    pub flushes: u64,
    /// Entries dropped to stay within the bounds.
    pub evictions: u64,
    /// Whether the tracking connection is up (the cache answers and fills only then).
    pub tracking: bool,
    /// Times tracking came up ([`Cache::set_tracking`]`(true)`): a tracking connection each.
    pub tracking_connects: u64,
}

/// An invalidation push, read: `>2 $10 invalidate *N keys`, or `_` (null) for all keys (a
/// `FLUSHALL`, `FLUSHDB`, or the server dropping its tracking table).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Invalidation<'a> {
    /// These keys changed (an array of bulk strings).
    Keys(Aggregate<'a>),
    /// Every key may have changed.
    All,
}

impl<'a> Invalidation<'a> {
    /// Reads the elements of a RESP3 push (as [`Event::Push`](crate::pubsub::Event::Push) gives
    /// them); `None` when it is another kind of push.
    pub fn of_push(items: Aggregate<'a>) -> Option<Self> {
        let mut it = items.iter();
        match (it.next(), it.next(), items.len()) {
            (Some(Reply::Bulk(b"invalidate") | Reply::Simple(b"invalidate")), Some(keys), 2) => {
                match keys {
                    Reply::Array(keys) | Reply::Set(keys) => Some(Self::Keys(keys)),
                    Reply::Nil => Some(Self::All),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A bounded cache of read replies; see the [module docs](self).
#[derive(Debug)]
pub struct Cache {
    config: CacheConfig,
    store: Store,
    /// Advanced by every invalidation, flush and change of the tracking state.
    epoch: u64,
    /// Fills planned before this epoch are refused.
    horizon: u64,
    /// Recent invalidations, oldest first: the epoch each advanced to, and the key.
    log: VecDeque<(u64, alloc::boxed::Box<[u8]>)>,
    log_bytes: usize,
    tracking: bool,
    /// The nodes' tracking connections, for a cache kept by one per cluster node.
    nodes: Nodes,
    stats: CacheStats,
}

impl Cache {
    /// An empty cache, not tracking yet: it answers nothing and fills nothing until
    /// [`set_tracking`](Self::set_tracking)`(true)`.
    pub fn new(config: CacheConfig) -> Self {
        Self {
            store: Store::new(config.max_entries, config.max_bytes),
            config,
            epoch: 0,
            horizon: 0,
            log: VecDeque::new(),
            log_bytes: 0,
            tracking: false,
            nodes: Nodes::default(),
            stats: CacheStats::default(),
        }
    }

    /// Its bounds and prefixes.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// What it holds and did.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.store.len(),
            bytes: self.store.bytes(),
            evictions: self.store.evictions,
            tracking: self.tracking,
            ..self.stats
        }
    }

    /// Whether the tracking connection is up.
    pub fn is_tracking(&self) -> bool {
        self.tracking
    }

    /// Says whether the tracking connection is up (its `CLIENT TRACKING` answered `OK`) or was
    /// lost. Either way the cache is flushed and every read planned before is refused its fill:
    /// invalidations sent while no connection listened are lost, and a read planned while
    /// tracking was down may have been answered before a write nobody heard of. While down,
    /// the cache answers nothing and fills nothing.
    pub fn set_tracking(&mut self, up: bool) {
        self.tracking = up;
        self.stats.tracking_connects += u64::from(up);
        self.flush();
    }

    /// Empties the cache; every read planned before refuses its fill.
    pub fn flush(&mut self) {
        self.store.clear();
        self.epoch += 1;
        self.horizon = self.epoch;
        self.log.clear();
        self.log_bytes = 0;
        self.stats.flushes += 1;
    }

    /// Removes every entry of `key`; the reads of it in flight refuse their fills.
    pub fn invalidate(&mut self, key: &[u8]) {
        self.epoch += 1;
        self.forget(key);
    }

    /// Removes the entries of `key` and logs it at the current epoch.
    fn forget(&mut self, key: &[u8]) {
        self.store.remove_key(key);
        self.stats.invalidations += 1;
        self.log.push_back((self.epoch, key.into()));
        self.log_bytes += key.len();
        while self.log.len() > LOG_ENTRIES || self.log_bytes > LOG_BYTES {
            let Some((epoch, key)) = self.log.pop_front() else {
                break;
            };
            self.log_bytes -= key.len();
            // Fills planned before this invalidation can no longer be checked key by key.
            self.horizon = self.horizon.max(epoch);
        }
    }

    /// Applies an invalidation read from the tracking connection.
    pub fn handle_invalidation(&mut self, invalidation: Invalidation<'_>) {
        match invalidation {
            Invalidation::All => self.flush(),
            Invalidation::Keys(keys) => {
                // One message, one epoch: its keys changed together.
                self.epoch += 1;
                for key in keys.iter() {
                    match key {
                        Reply::Bulk(k) | Reply::Simple(k) => self.forget(k),
                        // Not a key we can read: assume the worst.
                        _ => return self.flush(),
                    }
                }
            }
        }
    }

    /// Applies `frame`, one whole RESP3 push frame, if it is an invalidation; returns whether
    /// it was. (A transport that reads pushes with [`Subscriptions`](crate::pubsub::Subscriptions)
    /// passes [`Event::Push`](crate::pubsub::Event::Push)'s elements to
    /// [`Invalidation::of_push`] instead.)
    pub fn handle_push(&mut self, frame: &[u8]) -> bool {
        let Reply::Push(items) = Reply::parse(frame) else {
            return false;
        };
        match Invalidation::of_push(items) {
            Some(i) => {
                self.handle_invalidation(i);
                true
            }
            None => false,
        }
    }

    /// Whether a reply of `key`, read by a plan made at `planned`, may be stored.
    fn may_fill(&self, planned: u64, key: &[u8]) -> bool {
        self.tracking
            && planned >= self.horizon
            && (planned == self.epoch
                || !self
                    .log
                    .iter()
                    .rev()
                    .take_while(|(e, _)| *e > planned)
                    .any(|(_, k)| &**k == key))
    }

    /// Stores `reply` (one whole frame) for `command` on `key` if the race rule allows it.
    fn fill(&mut self, planned: u64, key: &[u8], command: &[u8], reply: &[u8]) {
        // A server error is the answer of a moment (`-LOADING`, `-WRONGTYPE` before a SET).
        if matches!(reply.first(), Some(b'-' | b'!')) {
            return;
        }
        if !self.may_fill(planned, key) {
            self.stats.refused += 1;
            return;
        }
        if self.store.insert(key, command, reply) {
            self.stats.fills += 1;
        }
    }
}
