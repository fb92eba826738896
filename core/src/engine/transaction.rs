//! `MULTI`/`EXEC` (feature `transactions`): a hidden `MULTI` and `EXEC` around the user's
//! commands, and `EXEC`'s array handed out so that each handle still reads its own command's
//! result.

use super::table::{Role, State};
use super::{Entry, Mark, Pipeline};
use crate::codec::encode::cmd;
use crate::codec::error::CapacityError;
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
