//! Reading: replies handed to the pipelines they answer, in order, and pipelines that are
//! done taken out of the ring.

use super::*;

impl<S, Q> Mux<S, Q>
where
    S: Submitted,
    Q: Ring<S>,
{
    /// The oldest slot that expects a reply now, as a ring index.
    pub(super) fn reader(&self) -> Option<usize> {
        let mut t = self.read;
        while let Some(i) = self.index(t) {
            let slot = &self.ring.slots()[i];
            match slot.stage {
                Stage::Discard(_) => return Some(i),
                // The first pipeline in flight answers next; if it awaits nothing (more of it
                // to send first), nothing after it was sent.
                Stage::Live => return (slot.waiting > 0).then_some(i),
                Stage::Queued => return None,
                Stage::Vacant | Stage::Done => t += 1,
            }
        }
        None
    }

    /// Feeds bytes read from the connection: each complete reply goes to the pipeline it
    /// answers; a pipeline whose last reply arrived is done (its submitter is told). Returns how
    /// many bytes were used (whole replies only): the caller MUST drop that many from the front
    /// of its buffer and pass the rest again, followed by newly read bytes, on the next call.
    ///
    /// RESP3 pushes are counted and dropped (see [`handle_input_with`](Self::handle_input_with)
    /// to have them). An error means the stream broke the protocol (including a reply nobody
    /// asked for): every pipeline has failed with the reason, and the connection MUST be
    /// closed.
    pub fn handle_input(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        self.handle_input_with(input, |_| {})
    }

    /// [`handle_input`](Self::handle_input), handing each RESP3 push to `on_push` as it is read:
    /// the whole frame (attributes included), borrowed from `input`, in the order of the
    /// stream. Wherever a push arrives, between pipelines or among a pipeline's replies, it
    /// goes there and never into a slot. `on_push` MUST NOT call back into the mux; it may copy
    /// the frame or hand it to a [`Subscriptions`](crate::pubsub::Subscriptions) machine,
    /// whose `handle_input` reads it as an event. Nothing is stored here: a transport bounds
    /// what it keeps of them.
    ///
    /// A push that is not whole yet stops the call (its bytes are not used), as a reply does.
    pub fn handle_input_with<F: FnMut(&[u8])>(
        &mut self,
        input: &[u8],
        mut on_push: F,
    ) -> Result<usize, DecodeError> {
        match self.failure {
            None => {}
            Some(Failure::Protocol(e)) => return Err(e),
            Some(_) => return Err(DecodeError::UnexpectedReply),
        }
        let mut used = 0;
        let result = loop {
            let Some(&first) = input.get(used) else {
                break Ok(());
            };
            let rest = &input[used..];
            // Pushes (and attributes, which may prefix one) are looked at here, before any
            // pipeline reads: one byte per reply for everything else.
            if matches!(first, b'>' | b'|') {
                match self.scanner.scan(rest, &self.limits) {
                    Ok(Some(n)) if strip_attributes(&rest[..n]).first() == Some(&b'>') => {
                        used += n;
                        self.pushes += 1;
                        on_push(&rest[..n]);
                        // The pipeline that reads next may have begun this frame when it was
                        // partial, before it knew that it was a push: it starts afresh.
                        if let Some(i) = self.reader()
                            && let Some(sub) = self.ring.slots_mut()[i].sub.as_mut()
                        {
                            sub.pipeline().restart_scan();
                        }
                        continue;
                    }
                    Ok(Some(_)) => {} // attributes before a reply: its reader reads it whole
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
            let Some(i) = self.reader() else {
                // Nothing is awaited: only pushes may arrive.
                break Err(DecodeError::UnexpectedReply);
            };
            let limits = self.limits;
            let slot = &mut self.ring.slots_mut()[i];
            if let Stage::Discard(left) = slot.stage {
                let n = match self.scanner.scan(rest, &limits) {
                    Ok(Some(n)) => n,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                };
                used += n;
                if slot.fenced {
                    match fence::discarded_is_fence(&rest[..n]) {
                        Ok(true) => {}
                        Ok(false) => continue, // a refusal: its fence is still to come
                        Err(e) => break Err(e),
                    }
                }
                slot.stage = match left - 1 {
                    0 => Stage::Vacant,
                    left => Stage::Discard(left),
                };
                if slot.stage == Stage::Vacant {
                    self.live -= 1;
                }
                self.pop_vacant();
                continue;
            }
            let fenced = slot.fenced;
            let Some(sub) = slot.sub.as_mut() else {
                break Err(DecodeError::UnexpectedReply);
            };
            let p = sub.pipeline();
            let answered = p.answered();
            let n = if fenced {
                // One frame at a time: whose it is depends on what it is.
                let n = match self.scanner.scan(rest, &limits) {
                    Ok(Some(n)) => n,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                };
                let frame = &rest[..n];
                match fence::fenced_feed(answered, frame).and_then(|f| f.apply(p, frame)) {
                    Ok(()) => n,
                    Err(e) => break Err(e),
                }
            } else {
                match p.handle_own_input(rest) {
                    Ok(n) => n,
                    Err(e) => break Err(e),
                }
            };
            used += n;
            let replies = p.answered().saturating_sub(answered);
            let done = p.is_done();
            // The answered commands' share of the slot's bytes leaves the window, so that the
            // rest of a pipeline larger than the window can go.
            let released = match slot.waiting {
                0 => 0,
                w if replies >= w => slot.charged,
                w => slot.charged / w * replies,
            };
            slot.charged -= released;
            self.charged = self.charged.saturating_sub(released);
            slot.waiting = slot.waiting.saturating_sub(replies);
            self.progress += replies as u64;
            self.replies = self.replies.saturating_add(replies);
            self.reply_bytes = self.reply_bytes.saturating_add(n);
            if done {
                self.finish_slot(i);
            } else if n == 0 {
                break Ok(()); // a reply still arriving
            }
        };
        match result {
            Ok(()) => Ok(used),
            Err(e) => {
                self.fail(Failure::Protocol(e));
                Err(e)
            }
        }
    }

    /// Marks the slot at ring index `i` done, releases its bytes and tells its submitter.
    pub(super) fn finish_slot(&mut self, i: usize) {
        let slot = &mut self.ring.slots_mut()[i];
        if slot.stage == Stage::Live {
            self.live -= 1;
        }
        slot.stage = Stage::Done;
        self.charged = self.charged.saturating_sub(slot.charged);
        slot.charged = 0;
        slot.waiting = 0;
        if let Some(sub) = slot.sub.as_mut() {
            sub.on_done();
        }
        while self
            .slot(self.read)
            .is_some_and(|s| matches!(s.stage, Stage::Done | Stage::Vacant))
        {
            self.read += 1;
        }
    }

    /// Frees the vacant slots at the front of the ring.
    pub(super) fn pop_vacant(&mut self) {
        while self.len > 0 && self.ring.slots()[self.head].stage == Stage::Vacant {
            self.head = (self.head + 1) % self.cap();
            self.first += 1;
            self.len -= 1;
        }
        self.send = self.send.max(self.first);
        self.read = self.read.max(self.first);
    }
}
