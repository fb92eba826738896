//! `on_execute` callbacks and the values they compute (feature `alloc`).
//!
//! A callback does not capture the pipeline (which Rust's borrow rules would forbid while the
//! pipeline is still being filled); it captures `Copy` handles and gets a read-only [`View`] of
//! the results when every slot has resolved. What it returns becomes a [`Computed`] value: a
//! deferred result derived from other results, readable like any other. Callbacks run once, in
//! registration order, so a later callback can read an earlier one's value.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;
use core::marker::PhantomData;

use super::{Entry, Pipeline};
use crate::codec::storage::Storage;
use crate::engine::deferred::{Replies, SlotError};

type Callback = Box<dyn FnOnce(&View<'_>) -> Box<dyn Any + Send + Sync> + Send + Sync>;

/// The results as a callback sees them: read [`Deferred`](crate::Deferred) and [`Computed`]
/// handles from it.
pub struct View<'p> {
    replies: &'p dyn Replies,
    values: &'p [Option<Box<dyn Any + Send + Sync>>],
    epochs: &'p [u32],
}

impl Replies for View<'_> {
    fn frame(&self, index: u32, epoch: u32) -> Result<&[u8], SlotError<'_>> {
        self.replies.frame(index, epoch)
    }
    fn computed(&self, index: u32, epoch: u32) -> Result<&dyn Any, SlotError<'_>> {
        computed_in(self.values, self.epochs, index, epoch)
    }
}

fn computed_in<'a>(
    values: &'a [Option<Box<dyn Any + Send + Sync>>],
    epochs: &[u32],
    index: u32,
    epoch: u32,
) -> Result<&'a dyn Any, SlotError<'a>> {
    let i = index as usize;
    if epochs.get(i) != Some(&epoch) {
        return Err(SlotError::Stale);
    }
    match values.get(i) {
        Some(Some(v)) => Ok(&**v),
        _ => Err(SlotError::Pending),
    }
}

/// A value computed by an [`on_execute`](crate::Pipeline::on_execute) callback.
///
/// Layer: the engine (an index into one [`Pipeline`](crate::Pipeline)'s callback table, read
/// from that pipeline). Its twin in the `Pipe` model (feature `alloc`) is
/// [`Derived`](crate::Derived), which reads itself after the pipe has run.
#[must_use = "a computed value is the only way to read what the callback returned"]
pub struct Computed<T> {
    index: u32,
    epoch: u32,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Computed<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Computed<T> {}
impl<T> fmt::Debug for Computed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Computed(#{}@{})", self.index, self.epoch)
    }
}

impl<T: 'static> Computed<T> {
    /// The callback's return value, once the pipeline has run.
    pub fn read<'a, R: Replies + ?Sized>(self, from: &'a R) -> Result<&'a T, SlotError<'a>> {
        from.computed(self.index, self.epoch)?
            .downcast_ref::<T>()
            .ok_or(SlotError::Stale)
    }
}

#[derive(Default)]
pub(crate) struct Callbacks {
    pending: Vec<Option<Callback>>,
    values: Vec<Option<Box<dyn Any + Send + Sync>>>,
    epochs: Vec<u32>,
    /// Callbacks before this index have run.
    ran: usize,
}

impl Callbacks {
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.pending.truncate(len);
        self.values.truncate(len);
        self.epochs.truncate(len);
        self.ran = self.ran.min(len);
    }

    pub(crate) fn clear(&mut self) {
        self.truncate(0);
    }

    pub(crate) fn get(&self, index: u32, epoch: u32) -> Result<&dyn Any, SlotError<'_>> {
        computed_in(&self.values, &self.epochs, index, epoch)
    }

    /// Drops the callbacks that have not run.
    fn skip(&mut self) {
        for f in &mut self.pending[self.ran..] {
            *f = None;
        }
        self.ran = self.pending.len();
    }

    fn run(&mut self, replies: &dyn Replies) {
        while self.ran < self.pending.len() {
            let i = self.ran;
            self.ran += 1;
            if let Some(f) = self.pending[i].take() {
                let view = View {
                    replies,
                    values: &self.values,
                    epochs: &self.epochs,
                };
                let value = f(&view);
                self.values[i] = Some(value);
            }
        }
    }
}

impl<O, R, E> Pipeline<O, R, E>
where
    O: Storage<u8>,
    R: Storage<u8>,
    E: Storage<Entry>,
{
    /// Registers `f` to run once every queued command has its result; returns a handle to what
    /// it returns.
    ///
    /// If the pipeline fails (connection lost, protocol error) the callback does not run, and
    /// reading its value gives the failure, as RedPipe does: a callback sees only a pipeline
    /// that ran. Server errors in single slots are results, not failures: callbacks run.
    ///
    /// This is how a reusable function combines several results into one:
    ///
    /// ```
    /// use redpipe_core::{prelude::*, Computed, VecPipeline};
    ///
    /// fn increment_keys(p: &mut VecPipeline, keys: &[&str]) -> Computed<i64> {
    ///     let hits: Vec<_> = keys.iter().map(|k| p.incr(*k).expect("Vec storage grows")).collect();
    ///     p.on_execute(move |r| hits.iter().filter_map(|h| h.read(r).ok()).sum())
    /// }
    ///
    /// let mut p = VecPipeline::new();
    /// let total = increment_keys(&mut p, &["a", "b"]);
    /// let n = p.poll_output().len();
    /// p.consume_output(n);
    /// p.handle_input(b":1\r\n:41\r\n").unwrap();
    /// assert_eq!(total.read(&p), Ok(&42));
    /// ```
    pub fn on_execute<T: Any + Send + Sync>(
        &mut self,
        f: impl FnOnce(&View<'_>) -> T + Send + Sync + 'static,
    ) -> Computed<T> {
        let index = self.callbacks.pending.len() as u32;
        self.callbacks.pending.push(Some(Box::new(move |v| {
            Box::new(f(v)) as Box<dyn Any + Send + Sync>
        })));
        self.callbacks.values.push(None);
        self.callbacks.epochs.push(self.epoch);
        Computed {
            index,
            epoch: self.epoch,
            _t: PhantomData,
        }
    }

    /// Runs the callbacks once every slot has resolved, unless the pipeline failed: then none
    /// runs (a callback that reads its handles would see failures it was not written for), and
    /// reading a [`Computed`] gives the failure.
    pub(crate) fn run_callbacks_if_done(&mut self) {
        if !self.is_done() || self.callbacks.ran >= self.callbacks.pending.len() {
            return;
        }
        if self.failure.is_some() {
            self.callbacks.skip();
            return;
        }
        let mut callbacks = core::mem::take(&mut self.callbacks);
        callbacks.run(self);
        self.callbacks = callbacks;
    }
}
