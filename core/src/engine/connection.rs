//! What running a pipeline asks of its connection: whether it may share one with other
//! pipelines, whether it changes the connection (`SELECT`, `WATCH`), and how long its blocking
//! commands may keep the server from answering.

use super::*;

impl<O, R, E> Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    /// Sets where the pipeline runs when its transport can share connections (see
    /// [`Sharing`]); kept across [`reset`](Self::reset).
    pub fn set_sharing(&mut self, sharing: Sharing) {
        self.sharing = sharing;
    }

    /// Where the pipeline was told to run ([`Sharing::Auto`] unless set).
    pub fn sharing(&self) -> Sharing {
        self.sharing
    }

    /// Whether the pipeline runs on a connection shared with other submitters' pipelines, one
    /// whose windows (see [`set_window`](Self::set_window)) are `window` commands and
    /// `window_bytes` bytes (0: no byte bound): as [`set_sharing`](Self::set_sharing) says, or
    /// by default unless a command needs a connection of its own (see [`Sharing::Auto`]) or the
    /// pipeline is larger than a window: it would hold the wire for several round trips, and
    /// every request queued behind it would wait for them (a bulk load goes on a connection of
    /// its own).
    pub fn shares_connection(&self, window: usize, window_bytes: usize) -> bool {
        match self.sharing {
            Sharing::Shared => true,
            Sharing::Dedicated => false,
            _ => {
                self.entries.len() <= window
                    && (window_bytes == 0 || self.out.len() <= window_bytes)
                    && self.needs() == Needs::Nothing
            }
        }
    }

    /// Whether a command changes the connection for what follows (another database, replies
    /// off, subscribed): the connection MUST NOT serve unrelated pipelines afterwards.
    pub fn changes_connection(&self) -> bool {
        self.needs() == Needs::Changes
    }

    /// What the queued commands ask of their connection, read from their encoding when asked
    /// (queueing pays nothing for it, and a program that never asks links none of it).
    pub(super) fn needs(&self) -> Needs {
        let mut most = Needs::Nothing;
        for index in self.setup_end..self.entries.len() {
            let command = self.command(index).unwrap_or_default();
            match needs(name(command), || command) {
                Needs::Changes => return Needs::Changes,
                needs => most = most.max(needs),
            }
        }
        most
    }

    /// How long the server may hold back the replies still awaited on purpose: the waits of the
    /// blocking commands among the commands not answered yet (`BLPOP k 5`, `BRPOPLPUSH`,
    /// `BLMOVE`, `BLMPOP`, `BZPOPMIN`, `BZPOPMAX`, `BZMPOP`, `XREAD`/`XREADGROUP` with `BLOCK`,
    /// `WAIT`, `WAITAOF`), one after the other; `None` when none of them blocks. Commands inside
    /// a transaction built with `transaction` do not block (Redis runs them at once) and do not
    /// count.
    ///
    /// A transport SHOULD wait that much longer for replies than its read timeout (and wait
    /// with no timeout for [`Block::Forever`]) while the pipeline runs, and no longer: a
    /// blocking command is not a dead server. Read from the commands' encoding when asked,
    /// so queueing pays nothing for it; it reads each command's name, so ask once per run.
    ///
    /// ```
    /// use redpipe_core::{prelude::*, Block, Reply, VecPipeline};
    /// let mut p = VecPipeline::new();
    /// let _ = p.incr("hits").unwrap();
    /// assert_eq!(p.blocking(), None);
    /// let _ = p.blpop::<Option<(String, String)>>("jobs", 5).unwrap();
    /// assert_eq!(p.blocking(), Some(Block::For(5000)));
    /// let _ = p.query::<Reply<'_>>(cmd("BLPOP").arg("jobs").arg(0)).unwrap();
    /// assert_eq!(p.blocking(), Some(Block::Forever));
    /// ```
    pub fn blocking(&self) -> Option<Block> {
        let entries = self.entries.as_slice();
        let out = self.out.as_slice();
        let mut start = self.out_start(self.next_reply);
        let mut total: Option<Block> = None;
        for e in entries.iter().skip(self.next_reply) {
            let end = e.out_end as usize;
            let command = out.get(start..end).unwrap_or_default();
            start = end;
            if e.in_tx {
                continue; // Redis runs it without blocking
            }
            if let Some(wait) = block::of(command) {
                let sum = total.map_or(wait, |t| t.then(wait));
                if sum == Block::Forever {
                    return Some(sum);
                }
                total = Some(sum);
            }
        }
        total
    }

    /// Takes the commands queued so far as the connection's setup: what they change is what it
    /// is meant to be.
    pub(crate) fn forget_needs(&mut self) {
        self.setup_end = self.entries.len();
    }

    /// Follows `WATCH` and what ends it, so that a connection is not reused while watching
    /// (feature `transactions`: `WATCH` serves transactions; without it nothing is tracked).
    #[cfg(feature = "transactions")]
    #[inline]
    pub(super) fn track_watch<N: ToArg>(&mut self, name: &N) {
        let mut scratch = crate::codec::encode::Scratch::new();
        let name = name.to_arg(&mut scratch);
        // Only names of these lengths can matter: one comparison for every other command.
        if matches!(name.len(), 4 | 5 | 7) {
            if name.eq_ignore_ascii_case(b"WATCH") {
                self.watch = Some(true);
            } else if [&b"EXEC"[..], b"DISCARD", b"UNWATCH", b"RESET"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
            {
                self.watch = Some(false);
            }
        }
    }

    /// How running it changes the connection's watched keys: `Some(true)` when a `WATCH` is
    /// queued with no `EXEC`, `DISCARD`, `UNWATCH` or `RESET` after it (the connection stays
    /// watching and MUST NOT serve unrelated transactions: a pool closes it), `Some(false)` when
    /// it ends with one of those (no key is watched after it), `None` when it leaves the watch
    /// as it was.
    pub fn watch_change(&self) -> Option<bool> {
        self.watch
    }
}
