//! Moving a slot by hand, in the three steps Redis documents, so that a test sees `ASK`
//! between the first and the last step and `MOVED` after it.

use super::*;

impl RedisCluster {
    /// First step of moving `slot`: `CLUSTER SETSLOT slot IMPORTING` on `to`, then `MIGRATING`
    /// on `from`. From now on `from` answers `ASK` for keys of the slot it does not have.
    pub fn migrate_slot_start(&self, slot: u16, from: u16, to: u16) {
        let slot = slot.to_string();
        let (from_id, to_id) = (self.node(from).id.as_str(), self.node(to).id.as_str());
        self.ok(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", from_id]);
        self.ok(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", to_id]);
    }

    /// Second step: moves every key of `slot` from `from` to `to` (`CLUSTER GETKEYSINSLOT`,
    /// `MIGRATE`). Returns how many keys moved.
    pub fn migrate_keys(&self, slot: u16, from: u16, to: u16) -> usize {
        let (slot, to_port) = (slot.to_string(), to.to_string());
        let mut moved = 0;
        loop {
            let keys = match self.call(from, &["CLUSTER", "GETKEYSINSLOT", &slot, "1000"]) {
                Ok(Resp::Array(keys)) => keys,
                other => panic!("CLUSTER GETKEYSINSLOT {slot} on {from}: {other:?}"),
            };
            if keys.is_empty() {
                return moved;
            }
            let mut args: Vec<Vec<u8>> = ["MIGRATE", "127.0.0.1", &to_port, "", "0", "10000"]
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect();
            if let Some(pw) = &self.access.password {
                args.extend([b"AUTH".to_vec(), pw.as_bytes().to_vec()]);
            }
            args.push(b"KEYS".to_vec());
            for key in &keys {
                match key {
                    Resp::Bulk(k) => args.push(k.clone()),
                    other => panic!("CLUSTER GETKEYSINSLOT gave {other:?}"),
                }
            }
            match self.call(from, &args) {
                Ok(Resp::Simple(s)) if s == "OK" => moved += keys.len(),
                other => panic!("MIGRATE of slot {slot} from {from} to {to}: {other:?}"),
            }
        }
    }

    /// Last step: `CLUSTER SETSLOT slot NODE <to>` on `to`, on `from`, then on every other
    /// primary, and waits until every node that answers sees `to` as the owner. From now on
    /// nodes answer `MOVED` for the slot. The caller MUST have moved the slot's keys first
    /// ([`migrate_keys`](Self::migrate_keys)): `from` refuses to give away a slot it holds keys
    /// of.
    pub fn migrate_slot_finish(&self, slot: u16, from: u16, to: u16) {
        let slot_arg = slot.to_string();
        let to_id = self.node(to).id.clone();
        let mut order = vec![to, from];
        order.extend(
            self.primaries()
                .into_iter()
                .filter(|&p| p != to && p != from && self.node(p).answers()),
        );
        for port in order {
            self.ok(port, &["CLUSTER", "SETSLOT", &slot_arg, "NODE", &to_id]);
        }
        self.wait_until(
            &format!("every node to see slot {slot} on {to}"),
            Instant::now() + PATIENCE,
            |c| {
                let view = c.settled()?;
                match view.iter().find(|n| n.primary && n.owns(slot)) {
                    Some(n) if n.port == to => Ok(()),
                    other => Err(format!("slot {slot} on {:?}", other.map(|n| n.port))),
                }
            },
        );
    }

    /// Moves `slot` from `from` to `to` with its keys: the three steps in a row.
    pub fn move_slot(&self, slot: u16, from: u16, to: u16) {
        self.migrate_slot_start(slot, from, to);
        self.migrate_keys(slot, from, to);
        self.migrate_slot_finish(slot, from, to);
    }
}
