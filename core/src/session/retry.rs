//! When a failed pipeline may be sent again: only after the connection failed (never after a
//! server error, which is a result), only as often as the caller allowed, and only when the
//! pipeline can be replayed as a whole.

use crate::codec::error::Failure;
use crate::codec::storage::Storage;
use crate::engine::{Entry, Pipeline};

/// How often a pipeline is sent again on a new connection after its connection failed.
///
/// Off by default ([`Retry::NEVER`]): a retried pipeline can run a command twice (one the server
/// executed before the failure, then again). Turn it on for idempotent work. Whatever the
/// setting, a pipeline that failed before any byte of it was sent (the connection was found
/// closed, or could not be opened) goes once more on a new connection: nothing can run twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retry {
    /// Times a pipeline may be sent again.
    pub times: u32,
}

impl Retry {
    /// Never send a pipeline again.
    pub const NEVER: Retry = Retry { times: 0 };

    /// Up to `times` more sends.
    pub const fn times(times: u32) -> Self {
        Self { times }
    }

    /// Whether `p`, which failed after `attempt` retries, goes again; if so it is rewound
    /// ([`Pipeline::rewind`]) and ready to send on a new connection.
    ///
    /// Retried: a closed or failed connection, a timeout, a protocol error. Not retried: a reply
    /// too large for the storage (it would fail again), a cancelled pipeline, transaction
    /// outcomes.
    pub fn again<O, R, E>(&self, attempt: u32, p: &mut Pipeline<O, R, E>) -> bool
    where
        O: Storage<u8>,
        R: Storage<u8>,
        E: Storage<Entry>,
    {
        let unsent = attempt == 0 && p.sent_nothing();
        (attempt < self.times || unsent)
            && matches!(
                p.failure(),
                Some(Failure::Closed | Failure::Io(_) | Failure::Timeout | Failure::Protocol(_))
            )
            && p.rewind()
    }
}
