//! `SCAN` over a whole cluster: one cursor whose top bits say which primary.

use super::*;

/// Bits of a cluster `SCAN` cursor that are a node's own cursor; the bits above say which
/// primary.
pub(super) const SCAN_NODE_BITS: u32 = 48;

/// A finished scan's last page: cursor 0, no keys.
pub(super) const SCAN_DONE: &[u8] = b"*2\r\n$1\r\n0\r\n*0\r\n";

/// The unit of a `SCAN cursor ...` command (its `words`): the node's part of the cursor in its own copy of
/// the command. `None` for other commands (and a `SCAN` without a number for a cursor, which
/// goes as it is and gets the server's error).
pub(super) fn scan_unit(index: usize, words: &[&[u8]]) -> Option<Unit> {
    if !words.first()?.eq_ignore_ascii_case(b"SCAN") {
        return None;
    }
    let cursor = parse_u64(words.get(1)?)?;
    let shard = u16::try_from(cursor >> SCAN_NODE_BITS).ok()?;
    let node_cursor = cursor & ((1u64 << SCAN_NODE_BITS) - 1);
    let mut digits = itoa::Buffer::new();
    let mut args: Vec<&[u8]> = Vec::with_capacity(words.len() - 1);
    args.push(digits.format(node_cursor).as_bytes());
    args.extend_from_slice(&words[2..]);
    let mut bytes = Vec::new();
    crate::codec::encode::encode_command(&mut bytes, &(words[0], args.as_slice())).ok()?;
    Some(Unit {
        origin: Origin::Scan {
            index,
            shard,
            of: 0,
        },
        bytes,
        slot: None,
        ask: None,
        attempts: 0,
        done: false,
        read: false,
        pin: Some(shard),
    })
}

/// A node's `SCAN` reply as a page of the cluster scan: its cursor turned into the cluster's
/// (the next primary's start after the node's last page). `None` if it is not a scan reply.
pub(super) fn scan_page(frame: &[u8], shard: u16, of: u16) -> Option<Vec<u8>> {
    let parts = elements(frame)?;
    let [cursor, keys] = parts.as_slice() else {
        return None;
    };
    let digits = match crate::codec::decode::decode_reply(cursor, &Limits::default()) {
        Ok(Some((Reply::Bulk(d), _))) => d,
        _ => return None,
    };
    let node_cursor = parse_u64(digits)?;
    if node_cursor >> SCAN_NODE_BITS != 0 {
        return None;
    }
    let next = match node_cursor {
        0 if shard + 1 < of => u64::from(shard + 1) << SCAN_NODE_BITS,
        0 => 0,
        c => u64::from(shard) << SCAN_NODE_BITS | c,
    };
    let mut digits = itoa::Buffer::new();
    let next = digits.format(next).as_bytes();
    let mut out = Vec::with_capacity(frame.len() + 8);
    out.extend_from_slice(b"*2\r\n$");
    out.extend_from_slice(itoa::Buffer::new().format(next.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(next);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(keys);
    Some(out)
}

/// The primaries in the order of the first slot each owns: the order a cluster `SCAN` walks,
/// which a failover keeps (the promoted replica takes its primary's slots).
pub(super) fn primaries_by_slot(map: &SlotMap) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for s in 0..HashSlot::COUNT {
        if let Some(node) = HashSlot::new(s).and_then(|slot| map.owner(slot))
            && !out.contains(&node)
        {
            out.push(node);
        }
    }
    out
}
