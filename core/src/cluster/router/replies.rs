//! The replies side of a round: each node's replies read back into the pipeline's slots, a
//! redirection or a refusal planned again within the retry budget, split commands put back
//! together, and the commands of a failed node failed.

use super::*;

impl ClusterRun {
    pub(super) fn absorb_replies(&mut self, p: &mut VecPipeline) {
        // The adapter waited this round's back-off before sending it.
        self.waited_ms = self.waited_ms.saturating_add(self.delay_ms);
        self.counts.waited_ms += u64::from(self.delay_ms);
        self.refresh = false;
        self.delay_ms = 0;
        self.moves.clear();
        self.asked.clear();
        self.moved.clear();
        self.unreached.clear();
        let batches = core::mem::take(&mut self.batches);
        for batch in &batches {
            if self.adopt(p, batch) {
                continue;
            }
            for &(u, first, count) in &batch.members {
                self.absorb_unit(p, batch, u, first, count);
            }
        }
        self.batches = batches;
        if self.refresh {
            self.counts.refreshes += 1;
        }
    }

    /// The common round, all at once: a batch of single commands whose replies are none of
    /// them errors goes into the pipeline's slots with one copy of its reply arena (see
    /// [`Pipeline::adopt_replies`](crate::Pipeline)), instead of reply by reply. False, with
    /// nothing done, for any other batch: [`absorb_unit`](Self::absorb_unit) reads it.
    fn adopt(&mut self, p: &mut VecPipeline, batch: &Batch) -> bool {
        if batch.deposed || batch.members.len() != batch.pipeline.len() {
            return false;
        }
        let mut targets = core::mem::take(&mut self.targets);
        targets.clear();
        for &(u, first, count) in &batch.members {
            match self.units[u].origin {
                Origin::Command(i) if count == 1 && first == targets.len() => targets.push(i),
                _ => break,
            }
        }
        let adopted =
            targets.len() == batch.members.len() && p.adopt_replies(&batch.pipeline, &targets);
        if adopted {
            for &(u, ..) in &batch.members {
                self.units[u].done = true;
            }
        }
        self.targets = targets;
        adopted
    }

    pub(super) fn absorb_unit(
        &mut self,
        p: &mut VecPipeline,
        batch: &Batch,
        u: usize,
        first: usize,
        count: usize,
    ) {
        let sub = &batch.pipeline;
        // The common case, one command and a reply that is not an error: straight into its slot.
        if count == 1
            && !batch.deposed
            && let (Origin::Command(i), Some(frame)) =
                (self.units[u].origin, sub.reply_frame(first))
        {
            // Not an error (`-`), nor attributes that may precede one (`|`).
            if !matches!(frame.first(), Some(b'-' | b'|')) {
                self.units[u].done = true;
                deliver_trusted(p, i, frame);
                return;
            }
        }
        let frames: Option<Vec<&[u8]>> =
            (first..first + count).map(|i| sub.reply_frame(i)).collect();
        let Some(frames) = frames else {
            if !self.unreached.contains(&batch.node) {
                self.unreached.push(batch.node);
            }
            let failure = sub.failure().unwrap_or(Failure::Closed);
            // Commands the node never received can go again, and so can reads, which change
            // nothing wherever they ran; a write that was sent may have run, so it fails.
            let again = !(first..first + count).any(|i| sub.was_sent(i)) || self.reads_only(u, p);
            if again && self.may_retry(self.units[u].attempts) {
                self.counts.retries += 1;
                let unit = &mut self.units[u];
                unit.attempts += 1;
                unit.ask = None;
                self.refresh = true;
                self.delay_ms = self.delay_ms.max(backoff(unit.attempts));
            } else {
                self.fail_unit(u, p, failure);
            }
            return;
        };
        let block = matches!(self.units[u].origin, Origin::Block(..));
        // The reply that decides: for a transaction, the first redirection among its replies,
        // else its EXEC's.
        let deciding = if block {
            frames
                .iter()
                .copied()
                .find(|f| {
                    matches!(
                        error_kind(f),
                        Some(ServerErrorKind::Moved | ServerErrorKind::Ask)
                    )
                })
                .or(frames.last().copied())
        } else {
            frames.first().copied()
        };
        let retry = match deciding.and_then(error_kind) {
            Some(ServerErrorKind::Moved) => {
                self.counts.moved += 1;
                if let Some((slot, node)) = deciding.and_then(redirect) {
                    self.moves.push((slot, node, batch.node));
                }
                self.refresh = true;
                let unit = &mut self.units[u];
                unit.ask = None;
                // A first MOVED is a resharding the map missed: straight to the new owner. A
                // MOVED again means the nodes do not agree yet (a failover being voted, a map
                // read from a node that has not seen the new epoch): wait for them, within the
                // budget, instead of bouncing between them.
                if unit.attempts > 0 {
                    self.delay_ms = self.delay_ms.max(backoff(unit.attempts));
                }
                true
            }
            Some(ServerErrorKind::Ask) if !block => {
                self.counts.asked += 1;
                let node = deciding.and_then(redirect).map(|(_, node)| node);
                if let Some(node) = &node {
                    // Unknown to the map when the node joined after it was read: the map
                    // learns it, so the next round sends there (not to a fallback node).
                    if !self.asked.contains(node) {
                        self.asked.push(node.clone());
                    }
                }
                self.units[u].ask = node;
                true
            }
            Some(
                ServerErrorKind::Ask
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::Loading
                | ServerErrorKind::MasterDown,
            ) => {
                let unit = &self.units[u];
                if matches!(
                    deciding.and_then(error_kind),
                    Some(ServerErrorKind::ClusterDown)
                ) {
                    self.refresh = true;
                }
                self.delay_ms = self.delay_ms.max(backoff(unit.attempts + 1));
                true
            }
            _ => false,
        };
        if retry && self.may_retry(self.units[u].attempts) {
            self.counts.retries += 1;
            self.units[u].attempts += 1;
            return;
        }
        // A write run by a node a failover had deposed: its effect is dropped when the node
        // resyncs as a replica, whatever it replied.
        if batch.deposed && !retry && !self.reads_only(u, p) {
            self.fail_unit(u, p, Failure::Deposed);
            return;
        }
        self.units[u].done = true;
        match self.units[u].origin {
            Origin::Command(i) => deliver_trusted(p, i, frames[0]),
            Origin::Block(m, _) => {
                for (k, frame) in frames.iter().enumerate() {
                    deliver_trusted(p, m + k, frame);
                }
            }
            Origin::Part { split, part } => {
                self.splits[split].parts[part] = Some(frames[0].to_vec());
                self.merge(p, split);
            }
            Origin::Scan { index, shard, of } => match scan_page(frames[0], shard, of) {
                Some(page) => deliver(p, index, &page),
                None if frames[0].first() == Some(&b'-') => deliver(p, index, frames[0]),
                None => {
                    let _ = p.fail_command(
                        index,
                        Failure::Protocol(crate::DecodeError::UnexpectedReply),
                    );
                }
            },
        }
    }

    /// Whether unit `u` only reads (a transaction never counts as one).
    fn reads_only(&self, u: usize, p: &VecPipeline) -> bool {
        let unit = &self.units[u];
        match unit.origin {
            Origin::Command(i) => p.command(i).is_some_and(|c| is_read(slots(c).name())),
            Origin::Part { .. } => is_read(slots(&unit.bytes).name()),
            Origin::Scan { .. } => true,
            Origin::Block(..) => false,
        }
    }

    /// Resolves a split command once every part has its reply.
    pub(super) fn merge(&mut self, p: &mut VecPipeline, split: usize) {
        let s = &mut self.splits[split];
        if s.settled || s.parts.iter().any(Option::is_none) {
            return;
        }
        s.settled = true;
        let parts: Vec<&[u8]> = s.parts.iter().filter_map(|f| f.as_deref()).collect();
        if let Some(error) = parts.iter().find(|f| f.first() == Some(&b'-')) {
            deliver(p, s.index, error);
            return;
        }
        let merged = match s.merge {
            Merge::Sum => {
                let mut total = 0i64;
                for f in &parts {
                    match crate::codec::decode::decode_reply(f, &Limits::default()) {
                        Ok(Some((Reply::Int(n), _))) => total = total.saturating_add(n),
                        _ => {
                            deliver(p, s.index, f);
                            return;
                        }
                    }
                }
                let mut out = Vec::from(&b":"[..]);
                out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
                out.extend_from_slice(b"\r\n");
                out
            }
            Merge::Ok => Vec::from(&b"+OK\r\n"[..]),
            Merge::Concat | Merge::Values => {
                let unexpected = |p: &mut VecPipeline| {
                    let _ = p.fail_command(
                        s.index,
                        Failure::Protocol(crate::DecodeError::UnexpectedReply),
                    );
                };
                let elements: Option<Vec<Vec<&[u8]>>> = parts.iter().map(|f| elements(f)).collect();
                let Some(elements) = elements else {
                    return unexpected(p);
                };
                // Concat: every part's elements in turn; Values: each key's value, in the
                // order of the command's keys.
                let picked: Option<Vec<&[u8]>> = match s.merge {
                    Merge::Concat => Some(elements.iter().flatten().copied().collect()),
                    _ => s
                        .order
                        .iter()
                        .map(|&(part, at)| elements.get(part)?.get(at).copied())
                        .collect(),
                };
                let Some(picked) = picked else {
                    return unexpected(p);
                };
                let mut out = Vec::from(&b"*"[..]);
                out.extend_from_slice(itoa::Buffer::new().format(picked.len()).as_bytes());
                out.extend_from_slice(b"\r\n");
                for value in picked {
                    out.extend_from_slice(value);
                }
                out
            }
        };
        deliver(p, s.index, &merged);
    }

    /// Fails what unit `u` stands for.
    pub(super) fn fail_unit(&mut self, u: usize, p: &mut VecPipeline, failure: Failure) {
        self.failed.get_or_insert(failure);
        let unit = &mut self.units[u];
        unit.done = true;
        match unit.origin {
            Origin::Command(i) => {
                let _ = p.fail_command(i, failure);
            }
            Origin::Block(m, x) => {
                for i in m..=x {
                    let _ = p.fail_command(i, failure);
                }
            }
            Origin::Part { split, .. } => {
                let s = &mut self.splits[split];
                if !s.settled {
                    s.settled = true;
                    let _ = p.fail_command(s.index, failure);
                }
            }
            Origin::Scan { index, .. } => {
                let _ = p.fail_command(index, failure);
            }
        }
    }
}
