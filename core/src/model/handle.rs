//! The model's handles: [`Handle`] for a command's reply and [`Derived`] for a callback's value.
//! Each shares the results it reads (an `Arc`), so that it reads on its own once its pipe has
//! run, without the pipe (the Python library's `future.result`).

use alloc::sync::Arc;

use crate::codec::error::{CapacityError, ConvertError, Failure};
use crate::codec::from_reply::FromReply;
use crate::codec::into_owned::IntoOwned;
use crate::codec::reply::Reply;
use crate::engine::VecPipeline;
use crate::engine::deferred::{Deferred, SlotError};

use super::error::Error;

/// Where a group's results are published once it has run.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) results: spin::Once<VecPipeline>,
}

/// A command's result, readable once its pipe has run: [`Handle::result`].
///
/// Layer: the `Pipe` model (feature `alloc`; shared, readable without the pipe). Its twin in the
/// engine is [`Deferred`](crate::Deferred), a `Copy` slot index read from its
/// [`Pipeline`](crate::Pipeline).
#[must_use = "a handle is the only way to read the command's reply"]
pub struct Handle<T: FromReply + ?Sized> {
    pub(super) shared: Arc<Shared>,
    pub(super) slot: Result<Deferred<T>, CapacityError>,
    /// How the reply becomes `T`: `T::from_reply`, or for a handle a keyspace or a struct made,
    /// the field codec's read (see [`Queue::OwnedHandle`](crate::Queue::OwnedHandle)).
    pub(super) convert: Convert<T>,
}

/// How a handle's reply becomes its value.
pub(crate) type Convert<T> =
    for<'a> fn(Reply<'a>) -> Result<<T as FromReply>::Output<'a>, ConvertError>;

impl<T: FromReply + ?Sized> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            slot: self.slot,
            convert: self.convert,
        }
    }
}

impl<T: FromReply + ?Sized> Handle<T> {
    /// A handle of `slot` in the results `shared` will hold, read through `T::from_reply`.
    pub(super) fn new(shared: Arc<Shared>, slot: Result<Deferred<T>, CapacityError>) -> Self {
        Self {
            shared,
            slot,
            convert: T::from_reply,
        }
    }

    /// The same slot, read through `D` and then made owned: what a keyspace's or a struct's
    /// commands return on a `Pipe` (`Handle<Option<i64>>` for a value stored with the
    /// `Integer` codec).
    pub(super) fn owned<D>(handle: Handle<D>) -> Self
    where
        D: IntoOwned<Owned = T>,
    {
        Self {
            shared: handle.shared,
            slot: handle.slot.map(Deferred::cast),
            convert: read_owned::<D>,
        }
    }
}

impl<T: FromReply + ?Sized> Handle<T> {
    /// The same slot, read through `convert`: for a conversion chosen when the command is
    /// queued from what is known then (a hash member's codec, by its name).
    pub(crate) fn converted<U: FromReply + ?Sized>(self, convert: Convert<U>) -> Handle<U> {
        Handle {
            shared: self.shared,
            slot: self.slot.map(Deferred::cast),
            convert,
        }
    }
}

/// Reads a reply as `D`, then makes it owned.
fn read_owned<D: IntoOwned>(
    reply: Reply<'_>,
) -> Result<<D::Owned as FromReply>::Output<'_>, ConvertError> {
    D::from_reply(reply).map(D::into_owned)
}

impl<T: FromReply + ?Sized> core::fmt::Debug for Handle<T> {
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
        d.read_with(results, self.convert)
    }

    /// Whether the pipe this handle belongs to has run.
    pub fn is_ready(&self) -> bool {
        self.shared.results.is_completed()
    }

    /// The same slot read as another type.
    pub fn cast<U: FromReply + ?Sized>(self) -> Handle<U> {
        Handle::new(self.shared, self.slot.map(Deferred::cast))
    }
}

/// A handle compares as its value: `handle == 5` once the pipe ran and the reply is `5`; a
/// handle without a value (the pipe has not run, or the reply is an error) equals nothing.
/// RedPipe's `Future` compares the same way (`future == 5`).
///
/// ```
/// use redpipe_core::{prelude::*, Connector, Loopback, Pipe};
///
/// let backend = Connector(|_: &str| Ok(Loopback::new(|_: &[&[u8]]| b":5\r\n".to_vec())));
/// let mut p = Pipe::with_backend(backend);
/// let n = p.incr("n");
/// assert!(n != 5, "not run yet: no value to compare");
/// assert_eq!(n.to_string(), "<result not available yet: the pipeline has not run>");
/// p.execute()?;
/// assert!(n == 5);
/// assert_eq!(format!("{n} hits"), "5 hits");
/// # Ok::<(), redpipe_core::Error>(())
/// ```
impl<T, U> PartialEq<U> for Handle<T>
where
    T: FromReply + ?Sized,
    for<'a> T::Output<'a>: PartialEq<U>,
{
    fn eq(&self, other: &U) -> bool {
        self.read().is_ok_and(|v| v == *other)
    }
}

/// A handle shows its value (RedPipe's `str(future)`); without one, the reason in angle
/// brackets: `<result not available yet: the pipeline has not run>`.
impl<T> core::fmt::Display for Handle<T>
where
    T: FromReply + ?Sized,
    for<'a> T::Output<'a>: core::fmt::Display,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.read() {
            Ok(v) => v.fmt(f),
            Err(e) => write!(f, "<{e}>"),
        }
    }
}

/// A handle serializes as its value (feature `serde`), so a struct of handles becomes the JSON
/// of their values once the pipe ran (RedPipe's `json.dumps` of a `Future`); a handle without
/// a value is a serialization error naming why.
#[cfg(feature = "serde")]
impl<T> serde::Serialize for Handle<T>
where
    T: FromReply + ?Sized,
    for<'a> T::Output<'a>: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.read() {
            Ok(v) => v.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

/// A value computed by an [`on_execute`](super::Pipe::on_execute) callback.
///
/// Layer: the `Pipe` model (shared, readable without the pipe). Its twin in the engine is
/// [`Computed`](crate::Computed), read from its [`Pipeline`](crate::Pipeline).
#[must_use = "a derived handle is the only way to read the callback's value"]
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

/// Compares as its value, like [`Handle`]: equal to nothing until the callback ran.
impl<T: PartialEq<U>, U> PartialEq<U> for Derived<T> {
    fn eq(&self, other: &U) -> bool {
        self.read().is_ok_and(|v| v == other)
    }
}

/// Shows its value, like [`Handle`]; without one, the reason in angle brackets.
impl<T: core::fmt::Display> core::fmt::Display for Derived<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.read() {
            Ok(v) => v.fmt(f),
            Err(e) => write!(f, "<{e}>"),
        }
    }
}

/// Serializes as its value (feature `serde`), like [`Handle`].
#[cfg(feature = "serde")]
impl<T: serde::Serialize> serde::Serialize for Derived<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.read() {
            Ok(v) => v.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
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

#[cfg(all(test, feature = "serde", feature = "json"))]
mod tests {
    use crate::{Connector, Loopback, Pipe, prelude::*};
    use alloc::string::String;

    #[test]
    fn handles_serialize_as_their_values() {
        let backend = Connector(|_: &str| {
            Ok(Loopback::new(|words: &[&[u8]]| match words[0] {
                b"INCR" => b":3\r\n".to_vec(),
                _ => b"$2\r\nhi\r\n".to_vec(),
            }))
        });
        let mut p = Pipe::with_backend(backend);
        let n = p.incr("n");
        let s = p.get("s").cast::<String>();
        let both = p.on_execute({
            let n = n.clone();
            move |_| n.result().map_or(0, |n| n * 2)
        });
        assert!(serde_json::to_string(&n).is_err(), "no value yet");
        assert!(both != 0, "equal to nothing before the pipe ran");
        p.execute().unwrap();
        assert_eq!(
            serde_json::to_string(&(&n, &s, &both)).unwrap(),
            r#"[3,"hi",6]"#
        );
        assert!(both == 6 && s == "hi");
    }
}
