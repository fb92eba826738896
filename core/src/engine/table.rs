//! The command table: one fixed-size row per queued command, saying where its bytes end, where
//! its reply is, and what part it plays (a user's command or a hidden one).

/// One row of the command table: where a command's bytes end and where its reply is.
///
/// Public only so that no-allocator callers can size a table (`[Entry::EMPTY; 64]`); its fields
/// are private. 24 bytes per queued command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub(super) out_end: u32,
    pub(super) reply_start: u32,
    pub(super) reply_len: u32,
    pub(super) epoch: u32,
    /// The argument of the row's role, read only through the accessor named for that role:
    /// [`Self::multi_row`], [`Self::answers_row`], [`Self::script_body_at`]. One field, not
    /// three, keeps a row at 24 bytes.
    pub(super) role_arg: u32,
    pub(super) state: State,
    pub(super) role: Role,
    pub(super) in_tx: bool,
}

impl Entry {
    /// An unused row, to initialize fixed tables.
    pub const EMPTY: Entry = Entry {
        out_end: 0,
        reply_start: 0,
        reply_len: 0,
        epoch: 0,
        role_arg: 0,
        state: State::Pending,
        role: Role::User,
        in_tx: false,
    };

    /// `EXEC`: the row of its `MULTI`.
    #[cfg(feature = "transactions")]
    #[inline]
    pub(super) fn multi_row(&self) -> usize {
        debug_assert!(self.role == Role::Exec);
        self.role_arg as usize
    }

    /// An `EVAL` fallback: the row of the `EVALSHA` whose slot its reply fills.
    #[cfg(feature = "scripting")]
    #[inline]
    pub(super) fn answers_row(&self) -> usize {
        debug_assert!(self.role == Role::EvalFallback);
        self.role_arg as usize
    }

    /// `EVALSHA`: the arena offset of the script body, for its `EVAL` fallback.
    #[cfg(feature = "scripting")]
    #[inline]
    pub(super) fn script_body_at(&self) -> u32 {
        debug_assert!(self.role == Role::EvalSha);
        self.role_arg
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum State {
    /// Waiting for its reply.
    Pending,
    /// `+QUEUED` received; the result comes with `EXEC`.
    Queued,
    /// The reply is in the arena at `reply_start..reply_start + reply_len` (for hidden entries:
    /// the reply arrived and was used).
    Done,
    /// In a transaction that `EXEC` aborted (nil reply).
    #[cfg(feature = "transactions")]
    Aborted,
    /// In a transaction whose `EXEC` reply did not match the queued commands.
    #[cfg(feature = "transactions")]
    ExecMismatch,
    /// The reply (`reply_len` bytes) did not fit the arena.
    ArenaFull,
    /// The pipeline failed before the reply arrived; see `Pipeline::failure`.
    Failed,
}

impl State {
    /// Whether the entry still waits for (part of) its reply.
    #[inline]
    pub(super) fn is_waiting(self) -> bool {
        matches!(self, State::Pending | State::Queued)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Role {
    /// A command a handle was issued for.
    User,
    /// `MULTI`, hidden.
    #[cfg(feature = "transactions")]
    Multi,
    /// `EXEC`, hidden; distributes its array to the transaction's slots.
    #[cfg(feature = "transactions")]
    Exec,
    /// `EVALSHA`, user-visible; retried as `EVAL` on `NOSCRIPT`.
    #[cfg(feature = "scripting")]
    EvalSha,
    /// The `EVAL` fallback of an `EVALSHA` answered `NOSCRIPT`, hidden; its reply goes to the
    /// `EvalSha` slot. (Not a retry in the `session::Retry` sense: nothing is sent twice.)
    #[cfg(feature = "scripting")]
    EvalFallback,
}

impl Role {
    /// Whether a handle was issued for the entry, so that its slot may be read.
    #[inline]
    pub(super) fn has_handle(self) -> bool {
        #[cfg(feature = "scripting")]
        if self == Role::EvalSha {
            return true;
        }
        self == Role::User
    }

    /// Whether the entry is an `EVAL` fallback queued while replies were read.
    #[inline]
    pub(super) fn is_eval_fallback(self) -> bool {
        #[cfg(feature = "scripting")]
        if self == Role::EvalFallback {
            return true;
        }
        false
    }
}

/// A point to roll back to; see [`Pipeline::mark`](crate::Pipeline::mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub(super) entries: usize,
    #[cfg(feature = "alloc")]
    pub(super) callbacks: usize,
}
