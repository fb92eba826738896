//! `Deferred<T>`: the handle every queued command returns, and what reading it can fail with.
//!
//! A handle is a slot index plus the pipeline epoch it was issued in: `Copy`, two words, no
//! allocation. The reply stays as raw bytes in the pipeline until the handle is read, and is
//! converted to `T` then; so one handle type serves owned and borrowed results alike.

use core::fmt;
use core::marker::PhantomData;

use crate::codec::error::{ConvertError, Failure};
use crate::codec::from_reply::FromReply;
use crate::codec::reply::{Reply, ServerError};

/// A command's result, filled when the pipeline has run.
///
/// Read it with [`Deferred::read`] from the pipeline (or from the results view a callback gets).
/// `T` is what the reply converts to; the lifetime of a borrowed `T` such as `&'static str` is a
/// placeholder: the value read borrows from the pipeline.
///
/// Layer: the engine (a `Copy` slot index, no allocator; read from its
/// [`Pipeline`](crate::Pipeline)). Its twin in the `Pipe` model (feature `alloc`) is `Handle`,
/// which shares its result and reads itself after the pipe has run.
#[must_use = "a deferred result is the only way to read the command's reply"]
pub struct Deferred<T: ?Sized> {
    index: u32,
    epoch: u32,
    _t: PhantomData<fn() -> T>,
}

impl<T: ?Sized> Clone for Deferred<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for Deferred<T> {}
impl<T: ?Sized> PartialEq for Deferred<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.index, self.epoch) == (other.index, other.epoch)
    }
}
impl<T: ?Sized> Eq for Deferred<T> {}
impl<T: ?Sized> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deferred(#{}@{})", self.index, self.epoch)
    }
}

impl<T: ?Sized> Deferred<T> {
    pub(crate) const fn new(index: u32, epoch: u32) -> Self {
        Self {
            index,
            epoch,
            _t: PhantomData,
        }
    }

    /// The position of the command in its pipeline (0 for the first command queued).
    pub const fn index(self) -> usize {
        self.index as usize
    }

    pub(crate) const fn epoch(self) -> u32 {
        self.epoch
    }

    /// The same slot, read as another type: conversion happens at read time, so this is free.
    pub const fn cast<U: ?Sized>(self) -> Deferred<U> {
        Deferred::new(self.index, self.epoch)
    }
}

impl<T: FromReply + ?Sized> Deferred<T> {
    /// The result: the reply converted to `T`, or why there is none.
    ///
    /// ```
    /// use redpipe_core::{prelude::*, Entry, SlicePipeline};
    /// let (mut out, mut replies, mut table) = ([0u8; 64], [0u8; 64], [Entry::EMPTY; 2]);
    /// let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    /// let n = p.incr("counter").unwrap();
    /// assert_eq!(n.read(&p), Err(SlotError::Pending));
    /// let sent = p.poll_output().len();
    /// p.consume_output(sent);
    /// p.handle_input(b":5\r\n").unwrap();
    /// assert_eq!(n.read(&p), Ok(5));
    /// ```
    #[inline]
    pub fn read<'a, R: Replies + ?Sized>(
        self,
        from: &'a R,
    ) -> Result<T::Output<'a>, SlotError<'a>> {
        self.read_with(from, T::from_reply)
    }

    /// The result, converted by `convert` instead of `T::from_reply` (a field codec's read).
    #[inline]
    pub(crate) fn read_with<'a, R: Replies + ?Sized>(
        self,
        from: &'a R,
        convert: impl FnOnce(Reply<'a>) -> Result<T::Output<'a>, ConvertError>,
    ) -> Result<T::Output<'a>, SlotError<'a>> {
        match Reply::parse(from.frame(self.index, self.epoch)?) {
            Reply::Error(e) => Err(SlotError::Server(e)),
            reply => convert(reply).map_err(SlotError::Convert),
        }
    }
}

#[cfg(feature = "alloc")]
impl<T: FromReply + ?Sized> Deferred<T> {
    /// The result, with an owned error: for `?` in functions that return
    /// `Box<dyn Error>` or `anyhow::Result` (the error of [`read`](Self::read) borrows the
    /// pipeline, which `?` cannot take out of the function).
    ///
    /// ```
    /// use redpipe_core::{prelude::*, VecPipeline};
    /// fn run() -> Result<i64, Box<dyn std::error::Error>> {
    ///     let mut p = VecPipeline::new();
    ///     let n = p.incr("hits")?;
    ///     let sent = p.poll_output().len();
    ///     p.consume_output(sent);
    ///     p.handle_input(b":3\r\n")?;
    ///     Ok(n.result(&p)?)
    /// }
    /// assert_eq!(run().unwrap(), 3);
    /// ```
    #[inline]
    pub fn result<'a, R: Replies + ?Sized>(
        self,
        from: &'a R,
    ) -> Result<T::Output<'a>, SlotError<'static>> {
        self.read(from).map_err(SlotError::into_owned)
    }
}

/// Anything deferred results can be read from: a pipeline, or the view callbacks receive.
pub trait Replies {
    /// The raw reply (validated RESP) of slot `index` issued in `epoch`, or why there is none.
    fn frame(&self, index: u32, epoch: u32) -> Result<&[u8], SlotError<'_>>;

    /// The value an [`on_execute`](crate::Pipeline::on_execute) callback computed.
    #[cfg(feature = "alloc")]
    fn computed(&self, index: u32, epoch: u32) -> Result<&dyn core::any::Any, SlotError<'_>>;
}

/// Why a [`Deferred`] has no value of its type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SlotError<'a> {
    /// The reply has not arrived yet: the pipeline has not run (to this command) yet.
    Pending,
    /// The handle belongs to commands that were rolled back, or to a pipeline since reset.
    Stale,
    /// The server answered with an error reply.
    Server(ServerError<'a>),
    /// The reply arrived but does not convert to the handle's type.
    Convert(ConvertError),
    /// No reply will come (connection lost, transaction aborted, ...).
    Failed(Failure),
}

impl fmt::Display for SlotError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pending => f.write_str("result not available yet: the pipeline has not run"),
            Self::Stale => f.write_str("handle from a rolled back scope or a reset pipeline"),
            Self::Server(e) => {
                f.write_str("server error: ")?;
                e.fmt(f)
            }
            Self::Convert(e) => {
                f.write_str("conversion error: ")?;
                e.fmt(f)
            }
            Self::Failed(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for SlotError<'_> {}

impl SlotError<'_> {
    /// The same error, owning the server's text, to keep beyond the pipeline.
    #[cfg(feature = "alloc")]
    pub fn into_owned(self) -> SlotError<'static> {
        match self {
            Self::Pending => SlotError::Pending,
            Self::Stale => SlotError::Stale,
            Self::Server(e) => SlotError::Server(e.into_owned()),
            Self::Convert(e) => SlotError::Convert(e),
            Self::Failed(f) => SlotError::Failed(f),
        }
    }
}

impl From<ConvertError> for SlotError<'_> {
    fn from(e: ConvertError) -> Self {
        Self::Convert(e)
    }
}
