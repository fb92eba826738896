//! The model's handles: [`Handle`] for a command's reply and [`Derived`] for a callback's value.
//! Each shares the results it reads (an `Arc`), so that it reads on its own once its pipe has
//! run, without the pipe (the Python library's `future.result`).

use alloc::sync::Arc;

use crate::deferred::{Deferred, SlotError};
use crate::error::{CapacityError, Failure};
use crate::from_reply::FromReply;
use crate::pipeline::VecPipeline;

use super::error::Error;

/// Where a group's results are published once it has run.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) results: spin::Once<VecPipeline>,
}

/// A command's result, readable once its pipe has run: [`Handle::result`].
pub struct Handle<T: ?Sized> {
    pub(super) shared: Arc<Shared>,
    pub(super) slot: Result<Deferred<T>, CapacityError>,
}

impl<T: ?Sized> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            slot: self.slot,
        }
    }
}

impl<T: ?Sized> core::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.slot {
            Ok(d) => write!(
                f,
                "Handle({d:?}, ran: {})",
                self.shared.results.is_completed()
            ),
            Err(e) => write!(f, "Handle({e})"),
        }
    }
}

impl<T: FromReply + ?Sized> Handle<T> {
    /// The reply converted to `T`, or why there is none ([`Error::Pending`] before the pipe
    /// ran). Borrowed types (`&str`, `&[u8]`) borrow from the handle.
    pub fn result(&self) -> Result<T::Output<'_>, Error> {
        self.read().map_err(Error::from)
    }

    /// The reply converted to `T`, with the error borrowing from the handle; for generic code
    /// ([`Queue::read`](crate::Queue::read)).
    pub fn read(&self) -> Result<T::Output<'_>, SlotError<'_>> {
        let d = self
            .slot
            .map_err(|e| SlotError::Failed(Failure::Capacity(e)))?;
        let results = self.shared.results.get().ok_or(SlotError::Pending)?;
        d.read(results)
    }

    /// Whether the pipe this handle belongs to has run.
    pub fn is_ready(&self) -> bool {
        self.shared.results.is_completed()
    }

    /// The same slot read as another type.
    pub fn cast<U: ?Sized>(self) -> Handle<U> {
        Handle {
            shared: self.shared,
            slot: self.slot.map(Deferred::cast),
        }
    }
}

/// A value computed by an [`on_execute`](super::Pipe::on_execute) callback.
pub struct Derived<T> {
    /// The callback's value, or the failure that kept it from running.
    pub(super) cell: Arc<spin::Once<Result<T, Failure>>>,
}

impl<T> Clone for Derived<T> {
    fn clone(&self) -> Self {
        Self {
            cell: self.cell.clone(),
        }
    }
}

impl<T: core::fmt::Debug> core::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Derived({:?})", self.cell.get())
    }
}

impl<T> Derived<T> {
    /// The callback's value; [`Error::Pending`] until the pipe ran, and the failure
    /// ([`Error::Failed`]) when the pipe failed and the callback did not run.
    pub fn result(&self) -> Result<&T, Error> {
        self.read().map_err(Error::from)
    }

    /// The callback's value, with the error of a handle; for generic code.
    pub fn read(&self) -> Result<&T, SlotError<'_>> {
        match self.cell.get() {
            None => Err(SlotError::Pending),
            Some(Ok(v)) => Ok(v),
            Some(Err(f)) => Err(SlotError::Failed(*f)),
        }
    }
}

/// What [`Pipe`](super::Pipe) callbacks receive: the proof that the pipe has run. Its handles
/// carry their own results, so there is nothing else to read from; generic code reads through
/// [`Queue::read`](crate::Queue::read) with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Executed {
    _private: (),
}

impl Executed {
    pub(crate) const RAN: Executed = Executed { _private: () };
}
