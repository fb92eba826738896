//! [`Stall`]: how long replies may be awaited with none completing. A server that stops
//! answering, trickles a byte at a time, or floods RESP3 pushes keeps each read short but makes
//! no progress; the same rule ends all three, counted in completed replies rather than in
//! bytes, for every transport (the mux of a shared connection, the driver of a connection of
//! its own). The core has no clock: the caller passes the time, in any monotonic unit.

/// The time for a [`Stall`] rule, from the caller: any monotonic counter (the std adapter
/// counts milliseconds).
pub trait Clock {
    /// Whether there is a clock at all: [`NoClock`] says no, so that a connection without one
    /// compiles no stall rule in (firmware that bounds its reads by other means).
    const ON: bool = true;
    /// Now.
    fn now(&self) -> u64;
}

/// No clock: the stall rule is off, and none of it is compiled in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoClock;

impl Clock for NoClock {
    const ON: bool = false;
    fn now(&self) -> u64 {
        0
    }
}

/// The stall rule of one connection: replies may be awaited for the limit with none completing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stall {
    limit: Option<u64>,
    /// When the current wait started, and the progress count then.
    since: Option<u64>,
    seen: u64,
}

/// Replies were awaited for the whole limit with none completing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stalled;

impl core::fmt::Display for Stalled {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("no reply completed within the timeout")
    }
}

impl core::error::Error for Stalled {}

impl Stall {
    /// A rule that allows `limit` (in the unit of the times passed later) between completed
    /// replies; `None`: no limit.
    pub const fn new(limit: Option<u64>) -> Self {
        Self {
            limit,
            since: None,
            seen: 0,
        }
    }

    /// The limit.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Nothing is awaited: the next wait starts afresh.
    pub fn idle(&mut self) {
        self.since = None;
    }

    /// At time `now`, with `progress` replies completed so far (any counter that grows with
    /// each): [`Stalled`] when none completed for the limit; else the deadline to look again
    /// at, at the latest (`None`: no limit). The wait counts from the first call after the
    /// last completed reply, so a caller need not call it after reads that completed replies.
    pub fn check(&mut self, progress: u64, now: u64) -> Result<Option<u64>, Stalled> {
        let Some(limit) = self.limit else {
            return Ok(None);
        };
        match self.since {
            Some(since) if self.seen == progress => {
                let deadline = since.saturating_add(limit);
                if now >= deadline {
                    self.since = None;
                    return Err(Stalled);
                }
                Ok(Some(deadline))
            }
            _ => {
                self.since = Some(now);
                self.seen = progress;
                Ok(Some(now.saturating_add(limit)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_counts_from_the_last_completed_reply() {
        let mut s = Stall::new(Some(100));
        assert_eq!(s.check(0, 10), Ok(Some(110)));
        assert_eq!(
            s.check(0, 60),
            Ok(Some(110)),
            "nothing completed: same deadline"
        );
        assert_eq!(
            s.check(1, 70),
            Ok(Some(170)),
            "a reply completed: counted again"
        );
        assert_eq!(s.check(1, 170), Err(Stalled));
        s.idle();
        assert_eq!(s.check(1, 500), Ok(Some(600)));
        assert_eq!(Stall::new(None).check(0, 1_000_000), Ok(None));
    }
}
