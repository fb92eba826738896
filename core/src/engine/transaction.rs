//! `MULTI`/`EXEC` (feature `transactions`): a hidden `MULTI` and `EXEC` around the user's
//! commands, and `EXEC`'s array handed out so that each handle still reads its own command's
//! result.

use super::table::{Role, State};
use super::{Entry, Mark, Pipeline};
use crate::codec::encode::cmd;
use crate::codec::error::{CapacityError, Store};
use crate::codec::reply::{Aggregate, Reply, skip};
use crate::codec::storage::Storage;

/// An open transaction; see [`Pipeline::begin_transaction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a transaction must be ended or aborted"]
pub struct Transaction {
    /// The `MULTI` entry, or `None` when nested in an outer transaction.
    multi: Option<u32>,
    mark: Mark,
}

impl<O, R, E> Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    /// Runs `f` inside `MULTI` ... `EXEC`. Each handle still resolves to its own command's
    /// result; if `EXEC` is aborted (a `WATCH`ed key changed) every one of them fails with
    /// [`Failure::Aborted`](crate::Failure::Aborted); if the server discards the transaction
    /// (`EXECABORT`) they get that error, except commands with an error of their own. An error
    /// from `f` rolls everything back. Nested transactions join the outer one.
    pub fn transaction<T, Err: From<CapacityError>>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Err>,
    ) -> Result<T, Err> {
        let tx = self.begin_transaction()?;
        match f(self) {
            Ok(v) => match self.end_transaction(tx) {
                Ok(()) => Ok(v),
                Err(e) => {
                    self.abort_transaction(tx);
                    Err(e.into())
                }
            },
            Err(e) => {
                self.abort_transaction(tx);
                Err(e)
            }
        }
    }

    /// Queues `MULTI`: the commands queued until [`end_transaction`](Self::end_transaction)
    /// form one transaction. For layers that cannot pass a closure over `&mut Pipeline`;
    /// prefer [`transaction`](Self::transaction).
    pub fn begin_transaction(&mut self) -> Result<Transaction, CapacityError> {
        let mark = self.mark();
        if self.tx_open.is_some() {
            return Ok(Transaction { multi: None, mark });
        }
        let multi = self.push(&cmd("MULTI"), Role::Multi, 0)?;
        self.tx_open = Some(multi);
        Ok(Transaction {
            multi: Some(multi),
            mark,
        })
    }

    /// Queues `EXEC` for a transaction begun with [`begin_transaction`](Self::begin_transaction).
    pub fn end_transaction(&mut self, tx: Transaction) -> Result<(), CapacityError> {
        let Some(multi) = tx.multi else {
            return Ok(()); // nested: the outer transaction ends it
        };
        self.tx_open = None;
        if let Err(e) = self.push(&cmd("EXEC"), Role::Exec, multi) {
            self.tx_open = Some(multi);
            return Err(e);
        }
        self.watch = Some(false); // EXEC ends every WATCH of the connection
        Ok(())
    }

    /// Removes a transaction begun with [`begin_transaction`](Self::begin_transaction) and
    /// every command queued in it.
    pub fn abort_transaction(&mut self, tx: Transaction) {
        if tx.multi.is_some() {
            self.tx_open = None;
            self.rollback(tx.mark);
        }
    }

    /// Wraps every command queued so far in one `MULTI`/`EXEC`, so that they run atomically,
    /// each handle issued so far still reading its own command's result: RedPipe's
    /// `pipeline(transaction=True)`, which a connection name can ask for for every pipeline
    /// (`redpipe`'s `ConnectionInfo::transaction`). Returns whether it wrapped; a pipeline is
    /// left as it is when nothing is queued, something was sent, or it holds a transaction,
    /// a `WATCH` or a script of its own (transactions do not nest, `WATCH` must come before
    /// `MULTI`, and a script's `EVAL` fallback cannot join a transaction already queued), or
    /// the connection's setup commands.
    ///
    /// ```
    /// use redpipe_core::{prelude::*, VecPipeline};
    /// let mut p = VecPipeline::new();
    /// let n = p.incr("n")?;
    /// assert!(p.wrap_in_transaction()?);
    /// assert_eq!(
    ///     p.encoded(),
    ///     &b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*1\r\n$4\r\nEXEC\r\n"[..]
    /// );
    /// let sent = p.poll_output().len();
    /// p.consume_output(sent);
    /// p.handle_input(b"+OK\r\n+QUEUED\r\n*1\r\n:7\r\n")?;
    /// assert_eq!(n.read(&p), Ok(7));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wrap_in_transaction(&mut self) -> Result<bool, CapacityError> {
        const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
        let rows = self.entries.as_slice();
        if rows.is_empty()
            || self.sent > 0
            || self.first != 0
            || self.setup_end != 0
            || self.tx_open.is_some()
            || self.failure.is_some()
            || self.watch == Some(true)
            || rows.iter().any(|e| e.role != Role::User)
            || (0..rows.len()).any(|i| self.opens_transaction(i))
        {
            return Ok(false);
        }
        let (bytes, count) = (self.out.len(), rows.len());
        // EXEC at the end (its row names MULTI's, row 0 once MULTI is in front)...
        self.push(&cmd("EXEC"), Role::Exec, 0)?;
        // ... then MULTI's bytes and row in front of everything.
        let grown = self.out.try_extend_from_slice(MULTI).is_ok()
            && self.entries.try_push(Entry::EMPTY).is_ok();
        if !grown {
            self.out.truncate(bytes);
            self.entries.truncate(count);
            return Err(CapacityError {
                store: Store::Output,
                needed: bytes + MULTI.len() + 16,
                capacity: self.out.capacity(),
            });
        }
        let out = self.out.as_mut_slice();
        out.copy_within(0..out.len() - MULTI.len(), MULTI.len());
        out[..MULTI.len()].copy_from_slice(MULTI);
        let shift = MULTI.len() as u32;
        let rows = self.entries.as_mut_slice();
        rows.copy_within(0..rows.len() - 1, 1);
        rows[0] = Entry {
            out_end: 0,
            epoch: self.epoch,
            role: Role::Multi,
            ..Entry::EMPTY
        };
        for e in rows.iter_mut() {
            e.out_end += shift;
            e.in_tx = e.role == Role::User;
        }
        self.first = 1;
        self.watch = Some(false);
        Ok(true)
    }

    /// Whether the command at row `i` is a `MULTI` or `WATCH` queued as an encoded command (a
    /// cluster router forwards a transaction's rows so), which a wrap must not enclose.
    fn opens_transaction(&self, i: usize) -> bool {
        let name = self
            .command(i)
            .map(super::sharing::name)
            .unwrap_or_default();
        name.eq_ignore_ascii_case(b"MULTI") || name.eq_ignore_ascii_case(b"WATCH")
    }

    /// Gives each command of the transaction opened at `multi` its element of `EXEC`'s reply.
    pub(super) fn unpack_exec(&mut self, multi: usize, exec: usize, value: &[u8]) {
        let queued = |p: &Self| {
            p.entries.as_slice()[multi + 1..exec]
                .iter()
                .filter(|e| e.in_tx && e.state == State::Queued)
                .count()
        };
        let set_queued = |p: &mut Self, state: State| {
            for e in &mut p.entries.as_mut_slice()[multi + 1..exec] {
                if e.in_tx && e.state == State::Queued {
                    e.state = state;
                }
            }
        };
        match Reply::parse(value) {
            Reply::Array(agg) if agg.len() == queued(self) => {
                let Some(mut pos) = element_start(value, &agg) else {
                    return set_queued(self, State::ExecMismatch);
                };
                for i in multi + 1..exec {
                    let e = self.entries.as_slice()[i];
                    if !(e.in_tx && e.state == State::Queued) {
                        continue;
                    }
                    let Some(len) = skip(&value[pos..], 1) else {
                        self.entries.as_mut_slice()[i].state = State::ExecMismatch;
                        continue;
                    };
                    self.store(i, &value[pos..pos + len]);
                    pos += len;
                }
            }
            Reply::Nil => set_queued(self, State::Aborted),
            Reply::Error(_) => {
                // EXECABORT: one copy of the error serves every queued command.
                self.store(exec, value);
                let done = self.entries.as_slice()[exec];
                for e in &mut self.entries.as_mut_slice()[multi + 1..exec] {
                    if e.in_tx && e.state == State::Queued {
                        (e.reply_start, e.reply_len, e.state) =
                            (done.reply_start, done.reply_len, done.state);
                    }
                }
            }
            _ => set_queued(self, State::ExecMismatch),
        }
    }
}

/// The offset of the first element of the aggregate `agg` parsed from `value`.
fn element_start(value: &[u8], agg: &Aggregate<'_>) -> Option<usize> {
    let header = value.iter().position(|&b| b == b'\n')? + 1;
    (agg.is_empty() || header < value.len()).then_some(header)
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use crate::engine::VecPipeline;
    use crate::prelude::*;
    use crate::{Failure, SlotError};

    fn send(p: &mut VecPipeline) -> alloc::vec::Vec<u8> {
        let out = p.poll_output().to_vec();
        p.consume_output(out.len());
        out
    }

    #[test]
    fn a_wrapped_pipeline_reads_each_result_from_exec_and_fails_together() {
        // EXEC's array: each handle its own element, an error element only its own.
        let mut p = VecPipeline::new();
        let (a, b) = (p.incr("a").unwrap(), p.get::<i64>("s").unwrap());
        assert!(p.wrap_in_transaction().unwrap());
        assert!(!p.wrap_in_transaction().unwrap(), "once");
        send(&mut p);
        p.handle_input(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n-ERR not a number\r\n")
            .unwrap();
        assert_eq!(a.read(&p), Ok(1));
        assert!(matches!(b.read(&p), Err(SlotError::Server(_))));

        // EXECABORT: every command gets the error; a nil EXEC (WATCH): every one aborted.
        let mut p = VecPipeline::new();
        let a = p.incr("a").unwrap();
        p.wrap_in_transaction().unwrap();
        send(&mut p);
        p.handle_input(b"+OK\r\n-ERR wrong\r\n-EXECABORT discarded\r\n")
            .unwrap();
        assert!(matches!(a.read(&p), Err(SlotError::Server(_))));
        let mut p = VecPipeline::new();
        let a = p.incr("a").unwrap();
        p.wrap_in_transaction().unwrap();
        send(&mut p);
        p.handle_input(b"+OK\r\n+QUEUED\r\n*-1\r\n").unwrap();
        assert_eq!(a.read(&p), Err(SlotError::Failed(Failure::Aborted)));
    }

    #[test]
    fn what_cannot_be_wrapped_is_left_as_it_is() {
        let unchanged = |p: &mut VecPipeline| {
            let before = p.encoded().to_vec();
            assert!(!p.wrap_in_transaction().unwrap());
            assert_eq!(p.encoded(), &before[..]);
        };
        unchanged(&mut VecPipeline::new()); // nothing queued
        let mut p = VecPipeline::new();
        let _ = p.transaction(|p| p.incr("a")).unwrap();
        unchanged(&mut p); // a transaction of its own
        let mut p = VecPipeline::new();
        let _ = p.query::<()>(crate::cmd("WATCH").arg("a")).unwrap();
        unchanged(&mut p); // WATCH must come before MULTI
        let mut p = VecPipeline::new();
        let _ = p.query::<()>(crate::cmd("multi")).unwrap();
        let _ = p.incr("a").unwrap();
        let _ = p.query::<()>(crate::cmd("EXEC")).unwrap();
        unchanged(&mut p); // a transaction queued by hand, or forwarded by a cluster router
        let mut p = VecPipeline::new();
        let _ = p.incr("a").unwrap();
        send(&mut p);
        unchanged(&mut p); // already sent
    }
}
