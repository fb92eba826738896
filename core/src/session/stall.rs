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
    /// The limit of the current wait (`None`: none), decided when it started.
    wait: Option<u64>,
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
            wait: limit,
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
        self.check_with(progress, now, Some)
    }

    /// [`check`](Self::check), for waits that may be longer than the limit: when a wait starts
    /// (the first call after a reply completed), `wait(limit)` gives its own limit (`None`:
    /// none), such as the limit lengthened by the blocking command whose reply is awaited (see
    /// [`Pipeline::blocking`](crate::Pipeline::blocking)). Only called when a wait starts.
    pub fn check_with(
        &mut self,
        progress: u64,
        now: u64,
        wait: impl FnOnce(u64) -> Option<u64>,
    ) -> Result<Option<u64>, Stalled> {
        let Some(limit) = self.limit else {
            return Ok(None);
        };
        match self.since {
            Some(since) if self.seen == progress => {
                let Some(wait) = self.wait else {
                    return Ok(None);
                };
                let deadline = since.saturating_add(wait);
                if now >= deadline {
                    self.since = None;
                    return Err(Stalled);
                }
                Ok(Some(deadline))
            }
            _ => {
                self.since = Some(now);
                self.seen = progress;
                self.wait = wait(limit);
                Ok(self.wait.map(|wait| now.saturating_add(wait)))
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

    #[test]
    fn a_wait_may_have_a_longer_limit_of_its_own() {
        let mut s = Stall::new(Some(100));
        assert_eq!(s.check_with(0, 10, |l| Some(l + 1000)), Ok(Some(1110)));
        assert_eq!(
            s.check_with(0, 500, |_| unreachable!("asked when a wait starts only")),
            Ok(Some(1110))
        );
        assert_eq!(s.check(0, 1110), Err(Stalled));
        // A reply completed: the next wait has the plain limit again.
        assert_eq!(s.check(1, 1200), Ok(Some(1300)));
        assert_eq!(s.check(1, 1300), Err(Stalled));
        // No limit for this wait (a command that blocks forever), until a reply completes.
        assert_eq!(s.check_with(1, 2000, |_| None), Ok(None));
        assert_eq!(s.check(1, 1_000_000), Ok(None));
        assert_eq!(s.check(2, 1_000_000), Ok(Some(1_000_100)));
    }
}
