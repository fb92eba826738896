//! Connection rules, sans-I/O: the same for every transport (std, tokio, TLS, WebSocket,
//! firmware), so that each of them only moves bytes.
//!
//! - [`Session`]: what must hold around each pipeline on one connection. A connection whose
//!   stream position is unknown (after a protocol error, a timeout, a run that did not complete)
//!   is broken for good; bytes that arrived between pipelines and would be read as the next
//!   pipeline's first reply refuse that pipeline; one pipeline at a time.
//! - [`Handshake`]: the connection setup (`HELLO 3`, `AUTH`, `CLIENT SETNAME`, `SELECT`) as queued
//!   commands whose replies are checked.
//! - [`Retry`]: when a failed pipeline may be sent again on a new connection.
//! - [`Stall`]: how long replies may be awaited with none completing (a trickle, a flood of
//!   pushes, a server that stopped answering).
//!
//! A transport calls [`Session::before_send`] with the bytes that arrived since the last pipeline
//! (read without waiting), sends, reports with [`Session::sent`], then
//! [`Session::before_finish`], reads the replies, and reports with [`Session::finished`].

mod handshake;
mod hold;
mod retry;
mod stall;

pub use handshake::{Handshake, HandshakeError, Setup};
pub use hold::Hold;
pub use retry::Retry;
pub use stall::{Clock, NoClock, Stall, Stalled};

use crate::codec::decode::Unsolicited;
use crate::codec::error::{DecodeError, Failure};
use crate::codec::storage::Storage;
use crate::engine::read_buffer::ReadBuffer;
use crate::engine::{Entry, Pipeline};

/// Why a connection refused to run a pipeline. The pipeline's slots have failed with
/// [`SessionError::failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// Another pipeline is between send and finish on this connection.
    Busy,
    /// An earlier failure left the stream at an unknown position: open a new connection.
    Broken,
    /// Bytes arrived while no command was waiting, and they are not RESP3 pushes: the next
    /// pipeline would read them as its first reply.
    Stray,
    /// A push or attributes were still arriving: the transport must read them whole before
    /// sending.
    Unfinished,
}

impl SessionError {
    /// The failure the refused pipeline's slots got.
    pub fn failure(self) -> Failure {
        match self {
            Self::Busy => Failure::Cancelled,
            Self::Broken => Failure::Closed,
            Self::Stray | Self::Unfinished => Failure::Protocol(DecodeError::UnexpectedReply),
        }
    }
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Busy => "a pipeline is still in flight on this connection: finish it first",
            Self::Broken => "the connection failed earlier and must be replaced",
            Self::Stray => "a reply arrived between pipelines while no command was waiting",
            Self::Unfinished => "a push between pipelines was still arriving",
        })
    }
}

impl core::error::Error for SessionError {}

/// The state of one connection between pipelines; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct Session {
    broken: bool,
    in_flight: bool,
    watching: bool,
    changed: bool,
}

impl Session {
    /// A fresh connection's state.
    pub const fn new() -> Self {
        Self {
            broken: false,
            in_flight: false,
            watching: false,
            changed: false,
        }
    }

    /// Whether a failure left the connection unusable; it must be replaced.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether the connection can serve any other pipeline as if new: not broken, no pipeline in
    /// flight, no keys watched (see [`Pipeline::watch_change`]), not changed by a command
    /// (another database, replies off: [`Pipeline::changes_connection`]). A pool keeps only
    /// clean ones.
    pub fn is_clean(&self) -> bool {
        !self.broken && !self.in_flight && !self.watching && !self.changed
    }

    /// Whether no pipeline is in flight and the connection is usable: the time to look for
    /// bytes that arrived between pipelines.
    pub fn is_idle(&self) -> bool {
        !self.broken && !self.in_flight
    }

    /// Takes the connection as it is now for what it is meant to be: commands that changed it
    /// so far (a factory's own setup) no longer keep it from serving other pipelines.
    pub fn accept_changes(&mut self) {
        self.changed = false;
    }

    /// Marks the connection unusable (the transport lost it, or gave up on a run).
    pub fn set_broken(&mut self) {
        self.broken = true;
    }

    /// Before sending `p`. `pending` holds the bytes that arrived since the last pipeline was
    /// finished (everything the stream had ready, and any push or attributes still arriving
    /// read whole: see [`Unsolicited::Partial`]). Its complete pushes are set aside (counted in
    /// [`Pipeline::pushes_seen`]). Refuses, failing `p`'s slots, while another pipeline is in
    /// flight, on a broken connection, or when `pending` holds anything else. Until
    /// [`sent`](Self::sent) says otherwise the connection counts as broken, so that a run
    /// abandoned half-way (a dropped future) leaves it broken.
    pub fn before_send<O, R, E, B>(
        &mut self,
        p: &mut Pipeline<O, R, E>,
        pending: &mut ReadBuffer<B>,
    ) -> Result<(), SessionError>
    where
        O: Storage<u8>,
        R: Storage<u8>,
        E: Storage<Entry>,
        B: Storage<u8>,
    {
        let refused = if self.in_flight {
            Some(SessionError::Busy)
        } else if self.broken {
            Some(SessionError::Broken)
        } else {
            let (left, pushes) = pending.set_aside_pushes(p.limits());
            p.add_pushes(pushes);
            match left {
                Unsolicited::Nothing => None,
                Unsolicited::Partial => Some(SessionError::Unfinished),
                _ => Some(SessionError::Stray),
            }
        };
        if matches!(
            refused,
            Some(SessionError::Stray | SessionError::Unfinished)
        ) {
            self.broken = true;
        }
        if let Some(e) = refused {
            p.fail(e.failure());
            return Err(e);
        }
        self.broken = true;
        self.in_flight = true;
        Ok(())
    }

    /// After sending: in flight if it worked, broken if not.
    pub fn sent(&mut self, ok: bool) {
        self.broken = !ok;
        self.in_flight = ok;
    }

    /// Before reading the replies of `p`: refuses (failing its slots) on a broken connection.
    pub fn before_finish<O, R, E>(&mut self, p: &mut Pipeline<O, R, E>) -> Result<(), SessionError>
    where
        O: Storage<u8>,
        R: Storage<u8>,
        E: Storage<Entry>,
    {
        self.in_flight = false;
        if self.broken {
            p.fail(SessionError::Broken.failure());
            return Err(SessionError::Broken);
        }
        self.broken = true;
        Ok(())
    }

    /// After reading `p`'s replies: broken if it failed; changed for good if a command of `p`
    /// changed the connection; watching keys if `p` left a `WATCH` open, or an earlier pipeline
    /// did and `p` did not end it.
    pub fn finished<O, R, E>(&mut self, p: &Pipeline<O, R, E>, ok: bool)
    where
        O: Storage<u8>,
        R: Storage<u8>,
        E: Storage<Entry>,
    {
        self.broken = !ok;
        // Only pools (which need an allocator) ask: a lone connection serves whatever comes.
        #[cfg(feature = "alloc")]
        {
            self.changed |= p.changes_connection();
        }
        if let Some(watching) = p.watch_change() {
            self.watching = watching;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SlicePipeline, prelude::*};

    #[test]
    fn rules_around_each_pipeline() {
        let (mut out, mut replies, mut table) = ([0u8; 128], [0u8; 128], [Entry::EMPTY; 4]);
        let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
        let mut s = Session::new();
        let _ = p.ping().unwrap();
        let mut space = [0u8; 32];
        let mut pending = ReadBuffer::fixed(&mut space);
        pending.extend(b">1\r\n+push\r\n").unwrap();
        assert_eq!(s.before_send(&mut p, &mut pending), Ok(()));
        assert_eq!((p.pushes_seen(), pending.filled()), (1, &b""[..]));
        s.sent(true);
        // A second pipeline before the first is finished.
        let (mut out2, mut replies2, mut table2) = ([0u8; 64], [0u8; 64], [Entry::EMPTY; 2]);
        let mut q = SlicePipeline::from_slices(&mut out2, &mut replies2, &mut table2);
        let late = q.ping().unwrap();
        assert_eq!(s.before_send(&mut q, &mut pending), Err(SessionError::Busy));
        assert_eq!(late.read(&q), Err(SlotError::Failed(Failure::Cancelled)));
        assert_eq!(s.before_finish(&mut p), Ok(()));
        s.finished(&p, true);
        assert!(!s.is_broken());

        // A reply between pipelines breaks the connection for good.
        p.reset();
        let first = p.ping().unwrap();
        pending.extend(b">1\r\n+push\r\n:1\r\n").unwrap();
        assert_eq!(
            s.before_send(&mut p, &mut pending),
            Err(SessionError::Stray)
        );
        assert_eq!(pending.filled(), b":1\r\n");
        assert_eq!(
            first.read(&p),
            Err(SlotError::Failed(Failure::Protocol(
                DecodeError::UnexpectedReply
            )))
        );
        p.reset();
        let _ = p.ping().unwrap();
        assert_eq!(
            s.before_send(&mut p, &mut pending),
            Err(SessionError::Broken)
        );

        // A push header still arriving must be read whole first.
        let mut s = Session::new();
        let mut space = [0u8; 32];
        let mut pending = ReadBuffer::fixed(&mut space);
        pending.extend(b">2\r\n").unwrap();
        p.reset();
        let _ = p.ping().unwrap();
        assert_eq!(
            s.before_send(&mut p, &mut pending),
            Err(SessionError::Unfinished)
        );

        // A run abandoned between send and finish leaves the connection broken.
        let mut s = Session::new();
        let mut space = [0u8; 32];
        let mut pending = ReadBuffer::fixed(&mut space);
        p.reset();
        let _ = p.ping().unwrap();
        assert_eq!(s.before_send(&mut p, &mut pending), Ok(()));
        assert!(s.is_broken());
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn a_command_that_changes_the_connection_leaves_it_unfit_for_others() {
        let (mut out, mut replies, mut table) = ([0u8; 128], [0u8; 128], [Entry::EMPTY; 4]);
        let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
        let mut s = Session::new();
        let mut space = [0u8; 32];
        let mut pending = ReadBuffer::fixed(&mut space);
        // The setup's own SELECT is what the connection is meant to be.
        let setup = Setup {
            db: 2,
            ..Setup::default()
        };
        let _ = Handshake::queue(&setup, &mut p).unwrap();
        let mut run = |p: &mut SlicePipeline<'_>, s: &mut Session| {
            s.before_send(p, &mut pending).unwrap();
            let n = p.poll_output().len();
            p.consume_output(n);
            s.sent(true);
            s.before_finish(p).unwrap();
            p.handle_input(b"+OK\r\n").unwrap();
            s.finished(p, true);
        };
        run(&mut p, &mut s);
        assert!(s.is_clean());
        // A user's SELECT is not.
        p.reset();
        assert!(p.shares_connection(usize::MAX, 0));
        let _ = p.select(3).unwrap();
        assert!(!p.shares_connection(usize::MAX, 0) && p.changes_connection());
        run(&mut p, &mut s);
        assert!(!s.is_broken() && !s.is_clean());
    }
}
