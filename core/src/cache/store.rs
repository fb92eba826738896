//! The bounded store of the cache: replies by (key, command); the least recently used go first.
//!
//! Entries are found by a pair of 64-bit hashes, the key's and the whole encoded command's
//! (`*3\r\n$4\r\nHGET\r\n...`), in an ordered map: a lookup compares integers, not byte strings
//! (which measured 4× slower for 1 000 keys sharing a prefix), and every entry of a key sits in
//! one range of the map (an invalidation of the key is a range, not a scan). The bytes are still
//! compared once on a match, so two names with the same hashes are two entries of one list,
//! never confused. An entry's key, command and reply are one allocation.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// What an entry costs beyond its key, command and reply bytes: the map nodes, the slot, the
/// `Arc` header and the age index's node, rounded up. Counted so that a cache of many tiny
/// replies is bounded by `max_bytes` too, not only by its entry count.
pub(super) const ENTRY_OVERHEAD: usize = 128;

/// The hashes of a key and of a command that read it.
type Id = (u64, u64);

/// One cached reply, with its name: one allocation for the three.
#[derive(Debug)]
struct Slot {
    /// The key, the command, then the reply.
    bytes: Box<[u8]>,
    key_len: u32,
    command_len: u32,
    /// When it was inserted, or given its second chance: its key in `Store::ages`.
    tick: u64,
    /// Hit since `tick`: spared once by the eviction (see [`Store::insert`]).
    used: bool,
}

impl Slot {
    fn key(&self) -> &[u8] {
        &self.bytes[..self.key_len as usize]
    }

    fn command(&self) -> &[u8] {
        let at = self.key_len as usize;
        &self.bytes[at..at + self.command_len as usize]
    }

    fn is(&self, key: &[u8], command: &[u8]) -> bool {
        self.key() == key && self.command() == command
    }

    fn cost(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }

    fn reply(&self) -> &[u8] {
        let at = (self.key_len + self.command_len) as usize;
        self.bytes.get(at..).unwrap_or_default()
    }
}

fn cost(key: &[u8], command: &[u8], reply: &[u8]) -> usize {
    key.len() + command.len() + reply.len() + ENTRY_OVERHEAD
}

/// A fast 64-bit hash of `bytes` (eight bytes at a time, FxHash's step), good enough for an
/// ordered map whose equal hashes are told apart by the bytes.
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let mut h = step(0, bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = step(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = step(h, u64::from_le_bytes(w));
    }
    h
}

/// Replies by key and command, bounded in entries and bytes.
#[derive(Debug, Default)]
pub(super) struct Store {
    /// Usually one slot per id; more only when different names share both hashes.
    entries: BTreeMap<Id, Vec<Slot>>,
    /// Ids by last use, oldest first: what is evicted first.
    ages: BTreeMap<u64, Id>,
    len: usize,
    bytes: usize,
    tick: u64,
    max_entries: usize,
    max_bytes: usize,
    pub(super) evictions: u64,
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
        self.len
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The reply cached for `command` on `key`, marked as just used.
    pub(super) fn get(&mut self, key: &[u8], command: &[u8]) -> Option<&[u8]> {
        let id = (hash(key), hash(command));
        let slot = self
            .entries
            .get_mut(&id)?
            .iter_mut()
            .find(|s| s.is(key, command))?;
        slot.used = true;
        Some(slot.reply())
    }

    /// Stores `reply` for `command` on `key`, evicting while over a bound: the oldest entry not
    /// hit since it was inserted or last spared ("second chance", the CLOCK approximation of
    /// least recently used: a hit only sets a flag, where moving the entry to the young end of
    /// the age index cost two map operations per hit). A reply that alone exceeds the byte
    /// bound is not stored; nor is anything when a bound is 0.
    pub(super) fn insert(&mut self, key: &[u8], command: &[u8], reply: &[u8]) -> bool {
        let size = cost(key, command, reply);
        let (Ok(key_len), Ok(command_len)) =
            (u32::try_from(key.len()), u32::try_from(command.len()))
        else {
            return false;
        };
        if self.max_entries == 0 || size > self.max_bytes {
            return false;
        }
        let id = (hash(key), hash(command));
        self.remove_where(id, |s| s.is(key, command));
        self.tick += 1;
        self.ages.insert(self.tick, id);
        let mut bytes = Vec::with_capacity(key.len() + command.len() + reply.len());
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(command);
        bytes.extend_from_slice(reply);
        self.entries.entry(id).or_default().push(Slot {
            // Exactly its capacity: no new allocation.
            bytes: bytes.into_boxed_slice(),
            key_len,
            command_len,
            tick: self.tick,
            used: false,
        });
        self.len += 1;
        self.bytes += size;
        // Each entry is spared at most once per pass, so this ends within `len + 1` steps.
        while self.len > self.max_entries || self.bytes > self.max_bytes {
            let Some((tick, oldest)) = self.ages.pop_first() else {
                break;
            };
            let spared = self.entries.get_mut(&oldest).and_then(|slots| {
                let slot = slots.iter_mut().find(|s| s.tick == tick && s.used)?;
                slot.used = false;
                self.tick += 1;
                slot.tick = self.tick;
                Some(self.tick)
            });
            match spared {
                Some(young) => {
                    self.ages.insert(young, oldest);
                }
                None => self.evictions += self.remove_where(oldest, |s| s.tick == tick) as u64,
            }
        }
        true
    }

    /// Removes the slots of `id` that `which` picks; returns how many.
    fn remove_where(&mut self, id: Id, which: impl Fn(&Slot) -> bool) -> usize {
        let Some(slots) = self.entries.get_mut(&id) else {
            return 0;
        };
        let mut removed = 0;
        let mut i = 0;
        while i < slots.len() {
            if which(&slots[i]) {
                let slot = slots.swap_remove(i);
                self.ages.remove(&slot.tick);
                self.bytes -= slot.cost();
                removed += 1;
            } else {
                i += 1;
            }
        }
        if slots.is_empty() {
            self.entries.remove(&id);
        }
        self.len -= removed;
        removed
    }

    /// Removes every entry of `key` (every command that read it); returns how many.
    pub(super) fn remove_key(&mut self, key: &[u8]) -> usize {
        let h = hash(key);
        let ids: Vec<Id> = self
            .entries
            .range((h, 0)..=(h, u64::MAX))
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .map(|id| self.remove_where(id, |s| s.key() == key))
            .sum()
    }

    /// Empties the store.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.ages.clear();
        self.len = 0;
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_equal_hashes_stay_apart() {
        let mut s = Store::new(10, 10_000);
        // Forced into one id, as a hash collision would put them.
        let id = (1, 1);
        for (k, c) in [(&b"a"[..], &b"GET a"[..]), (b"b", b"GET b")] {
            s.ages.insert(s.tick + 1, id);
            s.tick += 1;
            let slot = Slot {
                bytes: [k, c, &b"$1\r\nx\r\n"[..]].concat().into_boxed_slice(),
                key_len: k.len() as u32,
                command_len: c.len() as u32,
                tick: s.tick,
                used: false,
            };
            s.bytes += slot.cost();
            s.entries.entry(id).or_default().push(slot);
            s.len += 1;
        }
        assert_eq!(s.remove_where(id, |x| x.key() == b"a"), 1);
        assert_eq!((s.len(), s.entries[&id].len(), s.ages.len()), (1, 1, 1));
        assert_eq!(s.entries[&id][0].key(), b"b");
    }

    #[test]
    fn the_hash_reads_every_byte() {
        assert_ne!(hash(b"key:12345678a"), hash(b"key:12345678b"));
        assert_ne!(hash(b""), hash(b"\0"));
    }
}
