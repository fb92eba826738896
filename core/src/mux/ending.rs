//! Ending: a connection that fails or stalls fails every pipeline it holds, and how long a
//! wait for a reply may last (longer for a blocking command's).

use super::*;

impl<S, Q> Mux<S, Q>
where
    S: Submitted,
    Q: Ring<S>,
{
    /// Ends the connection: every pipeline it holds fails with `failure` and is done (one of
    /// which nothing was sent says so: [`Pipeline::sent_nothing`]), abandoned ones are
    /// forgotten, and the mux takes nothing more. Call it when the connection closes, errors or
    /// times out.
    pub fn fail(&mut self, failure: Failure) {
        if self.failure.is_none() {
            self.failure = Some(failure);
        }
        for t in self.first..self.first + self.len as u64 {
            let Some(i) = self.index(t) else { continue };
            let slot = &mut self.ring.slots_mut()[i];
            match slot.stage {
                Stage::Queued | Stage::Live => {
                    if let Some(sub) = slot.sub.as_mut() {
                        sub.pipeline().fail(failure);
                    }
                    self.finish_slot(i);
                }
                Stage::Discard(_) => {
                    slot.stage = Stage::Vacant;
                    self.live -= 1;
                }
                Stage::Vacant | Stage::Done => {}
            }
        }
        self.charged = 0;
        self.scanner.reset();
        self.pop_vacant();
    }

    /// At time `now` (any monotonic unit, the one of [`set_timeout`](Self::set_timeout)):
    /// fails the connection with `Failure::Io(IoKind::TimedOut)` (as a socket's timeout does)
    /// when replies have been awaited for the timeout with none completing. Returns when to call
    /// again at the latest (`None`: no reply is awaited, or no timeout is set).
    ///
    /// The wait counts from the first call after the last reply that completed, so a transport
    /// calls it when replies start to be awaited (after a transmit, when none were), after a read
    /// that completed no reply (a trickle, a push), and when the deadline passes; after reads
    /// that completed replies it need not look at the clock at all: a deadline that passes
    /// meanwhile is pushed back by the call it brings.
    pub fn handle_timeout(&mut self, now: u64) -> Option<u64> {
        self.stall.limit()?;
        if self.failure.is_some() || !self.is_awaiting() {
            self.stall.idle();
            return None;
        }
        // A copy, so that the limit of a wait that starts can look at the pipeline awaited.
        let mut stall = self.stall;
        let checked = stall.check_with(self.progress, now, |limit| self.wait_limit(limit));
        self.stall = stall;
        match checked {
            Ok(deadline) => deadline,
            Err(_) => {
                self.fail(Failure::Io(IoKind::TimedOut));
                None
            }
        }
    }

    /// The limit of a wait for the reply awaited now: `limit`, lengthened by the waits of the
    /// blocking commands its pipeline has left to answer (`None`: no limit). An abandoned
    /// pipeline's replies are awaited with `limit` (its commands went back with it).
    pub(super) fn wait_limit(&mut self, limit: u64) -> Option<u64> {
        let ticks = self.ticks_per_milli;
        let Some(i) = self.reader().filter(|_| ticks > 0) else {
            return Some(limit);
        };
        let sub = self.ring.slots_mut()[i].sub.as_mut();
        match sub.and_then(|s| s.pipeline().blocking()) {
            None => Some(limit),
            Some(Block::For(ms)) => Some(limit.saturating_add(ms.saturating_mul(ticks))),
            Some(Block::Forever) => None,
        }
    }
}
