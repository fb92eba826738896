//! The bounded store of the cache: replies by (key, command), least recently used first out.
//!
//! An entry's name is the key's length (4 bytes, big-endian), the key, then the whole encoded
//! command (`*3\r\n$4\r\nHGET\r\n...`): one byte string, so that lookups borrow a scratch
//! buffer (no allocation on a hit) and every entry of a key sits in one contiguous range of
//! the ordered map (an invalidation of the key is a range, not a scan). Names and replies are
//! `Arc<[u8]>`: the age index shares the name, and a hit hands out the reply without copying
//! it under the cache's lock.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// What an entry costs beyond its name and reply bytes: the map nodes, the two `Arc` headers
/// and the age index's node, rounded up. Counted so that a cache of many tiny replies is bounded
/// by `max_bytes` too, not only by its entry count.
pub(super) const ENTRY_OVERHEAD: usize = 96;

/// One cached reply.
#[derive(Debug)]
struct Slot {
    reply: Arc<[u8]>,
    /// When it was last used (inserted or hit): its key in `Store::ages`.
    tick: u64,
}

/// Replies by name, bounded in entries and bytes.
#[derive(Debug, Default)]
pub(super) struct Store {
    entries: BTreeMap<Arc<[u8]>, Slot>,
    /// Names by last use, oldest first: what is evicted first.
    ages: BTreeMap<u64, Arc<[u8]>>,
    bytes: usize,
    tick: u64,
    max_entries: usize,
    max_bytes: usize,
    /// Names built for lookups, reused.
    scratch: Vec<u8>,
    pub(super) evictions: u64,
}

/// Writes the name of `command`'s entry for `key` into `out`.
fn name_into(out: &mut Vec<u8>, key: &[u8], command: &[u8]) {
    out.clear();
    let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(command);
}

impl Store {
    pub(super) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            max_entries,
            max_bytes,
            ..Self::default()
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    fn cost(name: &[u8], reply: &[u8]) -> usize {
        name.len() + reply.len() + ENTRY_OVERHEAD
    }

    /// The reply cached for `command` on `key`, marked as just used.
    pub(super) fn get(&mut self, key: &[u8], command: &[u8]) -> Option<Arc<[u8]>> {
        name_into(&mut self.scratch, key, command);
        let slot = self.entries.get_mut(&self.scratch[..])?;
        self.tick += 1;
        if let Some(name) = self.ages.remove(&slot.tick) {
            self.ages.insert(self.tick, name);
        }
        slot.tick = self.tick;
        Some(slot.reply.clone())
    }

    /// Stores `reply` for `command` on `key`, evicting the least recently used entries while
    /// over a bound. A reply that alone exceeds the byte bound is not stored; nor is anything
    /// when a bound is 0.
    pub(super) fn insert(&mut self, key: &[u8], command: &[u8], reply: &[u8]) -> bool {
        name_into(&mut self.scratch, key, command);
        let cost = Self::cost(&self.scratch, reply);
        if self.max_entries == 0 || cost > self.max_bytes {
            return false;
        }
        self.remove_name_scratch();
        let name: Arc<[u8]> = Arc::from(&self.scratch[..]);
        self.tick += 1;
        self.ages.insert(self.tick, name.clone());
        self.entries.insert(
            name,
            Slot {
                reply: Arc::from(reply),
                tick: self.tick,
            },
        );
        self.bytes += cost;
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some((_, oldest)) = self.ages.pop_first() else {
                break;
            };
            if let Some(slot) = self.entries.remove(&oldest) {
                self.bytes -= Self::cost(&oldest, &slot.reply);
                self.evictions += 1;
            }
        }
        true
    }

    /// Removes the entry named by the scratch buffer, if there is one.
    fn remove_name_scratch(&mut self) {
        if let Some((name, slot)) = self.entries.remove_entry(&self.scratch[..]) {
            self.ages.remove(&slot.tick);
            self.bytes -= Self::cost(&name, &slot.reply);
        }
    }

    /// Removes every entry of `key` (every command that read it); returns how many.
    pub(super) fn remove_key(&mut self, key: &[u8]) -> usize {
        name_into(&mut self.scratch, key, &[]);
        let prefix = &self.scratch[..];
        let names: Vec<Arc<[u8]>> = self
            .entries
            .range::<[u8], _>((
                core::ops::Bound::Included(prefix),
                core::ops::Bound::Unbounded,
            ))
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &names {
            if let Some(slot) = self.entries.remove(name) {
                self.ages.remove(&slot.tick);
                self.bytes -= Self::cost(name, &slot.reply);
            }
        }
        names.len()
    }

    /// Empties the store.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.ages.clear();
        self.bytes = 0;
    }
}
