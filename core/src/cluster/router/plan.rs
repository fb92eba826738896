//! Turning a pipeline's entries into units: one per command, one per transaction, one per
//! part of a command split per slot or sent to every primary.

use super::*;

impl ClusterRun {
    /// Turns the pipeline's new entries into units.
    pub(super) fn plan(&mut self, p: &mut VecPipeline, map: &SlotMap) {
        let mut i = self.planned;
        while i < p.len() {
            match p.shape(i) {
                Shape::Settled => i += 1,
                Shape::Multi(exec) => {
                    self.plan_block(p, i, exec);
                    i = exec + 1;
                }
                Shape::Command => {
                    self.plan_command(p, i, map);
                    i += 1;
                }
            }
        }
        self.planned = i;
    }

    /// Counts what the command named `name` asks of its connection, for
    /// [`ClusterRun::shares_connection`]: the name is at hand here, so that deciding costs the
    /// pipeline no second reading of its commands.
    #[inline]
    fn note(&mut self, name: &[u8], command: &[u8]) {
        if self.needs != Needs::Changes {
            self.needs = self.needs.max(needs(name, || command));
        }
    }

    fn plan_block(&mut self, p: &mut VecPipeline, multi: usize, exec: usize) {
        let mut slot = None;
        let mut crossed = false;
        for i in multi..=exec {
            let Some(command) = p.command(i) else {
                continue;
            };
            let slots = slots(command);
            self.note(slots.name(), command);
            if i == multi || i == exec {
                continue;
            }
            match slots {
                Slots::One(s, _) if slot.is_some_and(|t| t != s) => crossed = true,
                Slots::One(s, _) => slot = Some(s),
                Slots::Many(_) => crossed = true,
                Slots::None(_) => {}
            }
        }
        if crossed {
            deliver(p, multi, b"+OK\r\n");
            for i in multi + 1..exec {
                deliver(p, i, CROSSSLOT);
            }
            deliver(p, exec, EXECABORT);
            return;
        }
        self.units.push(Unit {
            origin: Origin::Block(multi, exec),
            bytes: Vec::new(),
            slot,
            ask: None,
            attempts: 0,
            done: false,
            read: false,
            pin: None,
        });
    }

    fn plan_command(&mut self, p: &mut VecPipeline, index: usize, map: &SlotMap) {
        let Some(command) = p.command(index) else {
            return;
        };
        let slots = slots(command);
        self.note(slots.name(), command);
        let (slot, read) = match slots {
            Slots::None(_) => {
                // Read once for the keyless commands the router treats apart.
                if let Some(words) = words(command) {
                    if let Some(unit) = scan_unit(index, &words) {
                        self.units.push(unit);
                        return;
                    }
                    if self.plan_every_primary(index, command, &words, map) {
                        return;
                    }
                }
                (None, false)
            }
            // Only looked up when reads may go to replicas: a table of names per command.
            Slots::One(s, name) => (Some(s), self.replicas && is_read(name)),
            Slots::Many(words) => {
                if !self.plan_split(index, &words) {
                    deliver(p, index, CROSSSLOT);
                }
                return;
            }
        };
        // While every unit before it went straight into its batch, a command for its slot's
        // primary goes too: in order, read once, with no second pass over it.
        let u = self.units.len();
        self.units.push(Unit {
            origin: Origin::Command(index),
            bytes: Vec::new(),
            slot,
            ask: None,
            attempts: 0,
            done: false,
            read,
            pin: None,
        });
        if self.placed == Some(u)
            && !read
            && let Some(node) = slot.and_then(|s| map.owner(s))
        {
            let b = self.batch_for(node, p, false);
            let batch = &mut self.batches[b];
            let first = batch.pipeline.len();
            let queued = push(&mut batch.pipeline, Some(command));
            if queued {
                batch.members.push((u, first, 1));
            }
            self.placed = Some(u + 1);
            if !queued {
                self.fail_unit(u, p, Failure::Closed);
            }
        }
    }

    /// Sends a command about the whole keyspace (`DBSIZE`, `KEYS`, `FLUSHDB`, `FLUSHALL`) to
    /// every primary and puts the answers together; false for other commands.
    fn plan_every_primary(
        &mut self,
        index: usize,
        command: &[u8],
        words: &[&[u8]],
        map: &SlotMap,
    ) -> bool {
        let Some(name) = words.first() else {
            return false;
        };
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        let merge = if is("DBSIZE") {
            Merge::Sum
        } else if is("KEYS") {
            Merge::Concat
        } else if is("FLUSHDB") || is("FLUSHALL") {
            Merge::Ok
        } else {
            return false;
        };
        let primaries = primaries_by_slot(map).len().min(usize::from(u16::MAX));
        if primaries == 0 {
            // No node known: it goes as any keyless command and fails as one.
            return false;
        }
        let split = self.splits.len();
        self.splits.push(Split {
            index,
            merge,
            order: Vec::new(),
            parts: alloc::vec![None; primaries],
            settled: false,
        });
        for part in 0..primaries {
            self.units.push(Unit {
                origin: Origin::Part { split, part },
                bytes: command.to_vec(),
                slot: None,
                ask: None,
                attempts: 0,
                done: false,
                read: false,
                pin: u16::try_from(part).ok(),
            });
        }
        true
    }

    /// Splits a multi-key command per slot; false for commands that cannot be split.
    fn plan_split(&mut self, index: usize, words: &[&[u8]]) -> bool {
        let name = words[0];
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        let (merge, step) = if is("MGET") {
            (Merge::Values, 1)
        } else if is("DEL") || is("UNLINK") || is("EXISTS") || is("TOUCH") {
            (Merge::Sum, 1)
        } else if is("MSET") {
            (Merge::Ok, 2)
        } else {
            return false;
        };
        if words.len() < 1 + step || !(words.len() - 1).is_multiple_of(step) {
            return false;
        }
        // Keys grouped by slot, in order of first appearance.
        let mut groups: Vec<(HashSlot, Vec<&[u8]>)> = Vec::new();
        let mut order = Vec::new();
        for item in words[1..].chunks(step) {
            let slot = HashSlot::for_key(item[0]);
            let g = match groups.iter().position(|(s, _)| *s == slot) {
                Some(g) => g,
                None => {
                    groups.push((slot, Vec::new()));
                    groups.len() - 1
                }
            };
            order.push((g, groups[g].1.len() / step));
            groups[g].1.extend_from_slice(item);
        }
        let split = self.splits.len();
        self.splits.push(Split {
            index,
            merge,
            order,
            parts: alloc::vec![None; groups.len()],
            settled: false,
        });
        for (part, (slot, args)) in groups.into_iter().enumerate() {
            let mut bytes = Vec::new();
            let _ = crate::codec::encode::encode_command(&mut bytes, &(name, args.as_slice()));
            self.units.push(Unit {
                origin: Origin::Part { split, part },
                bytes,
                slot: Some(slot),
                ask: None,
                attempts: 0,
                done: false,
                read: self.replicas && is_read(name),
                pin: None,
            });
        }
        true
    }
}
