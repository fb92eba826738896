//! The names a connection subscribes to, in one byte store: no allocator, no fixed count.
//!
//! Each entry is a 10-byte header and the name: `[kind][flags][owed: u32 LE][len: u32 LE]name`.
//! Lookups are linear: a subscriber holds a few names (or a few hundred), and a lookup happens
//! per confirmation, never per message.

use crate::codec::storage::{Full, Storage, shift_within};
use crate::pubsub::Kind;

/// Bytes before each name.
pub(crate) const HEADER: usize = 10;

/// The caller wants the name subscribed (its last command for it was a subscribe).
const WANTED: u8 = 1;
/// The server confirmed the name subscribed, and no later confirmation undid it.
const ACTIVE: u8 = 2;

/// One entry, as read from the store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub(crate) kind: Kind,
    pub(crate) wanted: bool,
    pub(crate) active: bool,
    /// Confirmations still to come for commands that named it.
    pub(crate) owed: u32,
    pub(crate) name: &'a [u8],
    /// Offset of the entry's header in the store.
    pub(crate) at: usize,
}

impl Entry<'_> {
    /// Where the next entry starts.
    pub(crate) fn end(&self) -> usize {
        self.at + HEADER + self.name.len()
    }

    /// Subscribed as the caller asked, and nothing owed.
    pub(crate) fn confirmed(&self) -> bool {
        self.wanted && self.active && self.owed == 0
    }
}

fn kind_of(byte: u8) -> Kind {
    match byte {
        1 => Kind::Pattern,
        2 => Kind::Shard,
        _ => Kind::Channel,
    }
}

fn kind_byte(kind: Kind) -> u8 {
    match kind {
        Kind::Channel => 0,
        Kind::Pattern => 1,
        Kind::Shard => 2,
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The entry at `at` of `bytes` (a store this module wrote), if one starts there.
pub(crate) fn entry_at(bytes: &[u8], at: usize) -> Option<Entry<'_>> {
    let kind = *bytes.get(at)?;
    let flags = *bytes.get(at + 1)?;
    let owed = u32_at(bytes, at + 2)?;
    let len = usize::try_from(u32_at(bytes, at + 6)?).ok()?;
    let name = bytes.get(at + HEADER..(at + HEADER).checked_add(len)?)?;
    Some(Entry {
        kind: kind_of(kind),
        wanted: flags & WANTED != 0,
        active: flags & ACTIVE != 0,
        owed,
        name,
        at,
    })
}

/// The entries of `bytes` from offset `from` on.
pub(crate) fn entries(bytes: &[u8], from: usize) -> impl Iterator<Item = Entry<'_>> {
    let mut at = from;
    core::iter::from_fn(move || {
        let e = entry_at(bytes, at)?;
        at = e.end();
        Some(e)
    })
}

/// The entry of `kind` named `name`.
pub(crate) fn find<'a>(bytes: &'a [u8], kind: Kind, name: &[u8]) -> Option<Entry<'a>> {
    entries(bytes, 0).find(|e| e.kind == kind && e.name == name)
}

/// Appends a new entry whose name is `parts` joined; `Err` leaves the store as it was.
pub(crate) fn push<S: Storage<u8> + ?Sized>(
    store: &mut S,
    kind: Kind,
    wanted: bool,
    owed: u32,
    parts: &[&[u8]],
) -> Result<(), Full> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let len = u32::try_from(total).map_err(|_| Full)?;
    let dst = store.try_extend_for_write(HEADER + total)?;
    dst[0] = kind_byte(kind);
    dst[1] = if wanted { WANTED } else { 0 };
    dst[2..6].copy_from_slice(&owed.to_le_bytes());
    dst[6..10].copy_from_slice(&len.to_le_bytes());
    let mut at = HEADER;
    for p in parts {
        dst[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    Ok(())
}

/// Rewrites the flags and count of the entry at `at`.
pub(crate) fn set<S: Storage<u8> + ?Sized>(
    store: &mut S,
    at: usize,
    wanted: bool,
    active: bool,
    owed: u32,
) {
    let Some(header) = store.as_mut_slice().get_mut(at..at + HEADER) else {
        return;
    };
    header[1] = (u8::from(wanted) * WANTED) | (u8::from(active) * ACTIVE);
    header[2..6].copy_from_slice(&owed.to_le_bytes());
}

/// Removes the entry from `at` to `end`, moving the later ones down.
pub(crate) fn remove<S: Storage<u8> + ?Sized>(store: &mut S, at: usize, end: usize) {
    let len = store.len();
    let buf = store.as_mut_slice();
    if end < len {
        shift_within(buf, end, len, end - at, false);
    }
    store.truncate(len - (end - at));
}

/// Applies a confirmation to the entry of `kind` named `name`: one owed confirmation less, and
/// the server's state as it says; an entry neither wanted, active nor owed anything goes.
/// Unknown names are ignored (a server cannot make the table grow).
pub(crate) fn confirm<S: Storage<u8> + ?Sized>(
    store: &mut S,
    kind: Kind,
    name: &[u8],
    subscribed: bool,
) {
    let Some(e) = find(store.as_slice(), kind, name) else {
        return;
    };
    let (at, end, wanted) = (e.at, e.end(), e.wanted);
    let owed = e.owed.saturating_sub(1);
    if !wanted && !subscribed && owed == 0 {
        remove(store, at, end);
    } else {
        set(store, at, wanted, subscribed, owed);
    }
}
