//! [`Hold`]: when a connection that stopped answering should take no more commands for now.

/// Holds back writes to a connection whose replies have stopped: while replies are awaited and
/// none has completed for `after` (in the unit of the times passed), new commands wait instead
/// of going out. Commands written to a server that has stopped (paused, cut off) have an
/// unknown outcome once it is given up on; commands held back were never sent, so they can go
/// elsewhere (a cluster node's new owner after a failover) or out once replies flow again.
///
/// ```
/// use redpipe_core::session::Hold;
/// let mut hold = Hold::new(Some(250));
/// assert!(!hold.holds(true, 7, 1_000)); // a wait starts: write
/// assert!(!hold.holds(true, 7, 1_200)); // no reply for 200: still write
/// assert!(hold.holds(true, 7, 1_250)); // none for 250: hold
/// assert!(!hold.holds(true, 8, 1_900)); // a reply completed: write again
/// assert!(!hold.holds(false, 8, 9_000)); // nothing awaited: write
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hold {
    after: Option<u64>,
    /// The progress count last seen, and when it was seen (or when the wait started).
    seen: Option<(u64, u64)>,
}

impl Hold {
    /// A rule that holds writes after `after` without a completed reply; `None`: never.
    pub const fn new(after: Option<u64>) -> Self {
        Self { after, seen: None }
    }

    /// Whether the rule can hold writes at all (`after` was given): a caller can skip reading
    /// its clock otherwise.
    pub const fn is_on(&self) -> bool {
        self.after.is_some()
    }

    /// Whether to hold writes back at time `now`, given whether replies are `awaiting` and
    /// the connection's `progress` (any counter that grows with each completed reply).
    pub fn holds(&mut self, awaiting: bool, progress: u64, now: u64) -> bool {
        let Some(after) = self.after else {
            return false;
        };
        match self.seen {
            Some((seen, since)) if awaiting && seen == progress => {
                now.saturating_sub(since) >= after
            }
            _ => {
                self.seen = awaiting.then_some((progress, now));
                false
            }
        }
    }
}
