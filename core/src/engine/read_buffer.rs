//! The bytes a transport has read but the pipeline has not used yet: a partial reply waits here
//! for the rest of its bytes.
//!
//! Stream transports read into its free space ([`ReadBuffer::read_with`], or the
//! [`io`](crate::io) drivers); message transports (a WebSocket, a UART that hands over bursts)
//! give it whole messages ([`ReadBuffer::feed`]). Either way the buffer keeps the bookkeeping, so
//! no transport re-implements it. A caller slice makes it fixed (a reply larger than the slice
//! fails cleanly); with `alloc`, a `Vec` grows to the largest reply, which the
//! [`Limits`](crate::Limits) bound.

use crate::codec::decode::{Limits, Unsolicited, unsolicited};
use crate::codec::error::{CapacityError, Failure, Store};
use crate::codec::storage::{SliceStore, Storage, copy_small, shift_within};
use crate::engine::{Entry, Pipeline};

/// Bytes read but not yet used by the pipeline; kept by a connection across pipelines.
#[derive(Debug)]
pub struct ReadBuffer<S: Storage<u8>> {
    /// `store.len()` is the usable size; `start..end` holds unconsumed bytes.
    store: S,
    start: usize,
    end: usize,
}

/// Bytes a growable read buffer starts with.
pub const INITIAL_READ_BUFFER: usize = 64 * 1024;

#[cfg(feature = "alloc")]
impl ReadBuffer<alloc::vec::Vec<u8>> {
    /// A buffer that starts at 64 KiB and grows to fit the largest reply.
    pub fn growable() -> Self {
        Self::new(alloc::vec![0; INITIAL_READ_BUFFER])
    }
}

impl<'a> ReadBuffer<SliceStore<'a, u8>> {
    /// A fixed buffer over `buf`; a reply longer than `buf` fails the pipeline cleanly.
    pub fn fixed(buf: &'a mut [u8]) -> Self {
        let len = buf.len();
        let mut store = SliceStore::new(buf);
        // Claim the whole slice once; its contents are overwritten by reads. Cannot fail: the
        // slice is the capacity.
        let _ = store.try_extend_for_write(len);
        Self::new(store)
    }
}

impl<S: Storage<u8>> ReadBuffer<S> {
    /// A buffer over `store`, whose current length is the usable size.
    pub fn new(store: S) -> Self {
        Self {
            store,
            start: 0,
            end: 0,
        }
    }

    /// The bytes of room it has now (a growable buffer grows to the largest reply).
    pub fn size(&self) -> usize {
        self.store.len()
    }

    /// Gives back the memory of a growable buffer that grew past four times its initial size
    /// for a large reply, once that reply is used: a pooled connection does not keep a reply's
    /// worth of memory for its lifetime. Does nothing while bytes wait in it, or to a fixed
    /// buffer.
    pub fn shrink(&mut self) {
        if self.start == self.end
            && self.store.capacity() == usize::MAX
            && self.store.len() > 4 * INITIAL_READ_BUFFER
        {
            self.store.shrink_to(INITIAL_READ_BUFFER);
        }
    }

    /// Unconsumed bytes.
    pub fn filled(&self) -> &[u8] {
        &self.store.as_slice()[self.start..self.end]
    }

    /// Forgets unconsumed bytes (after a connection is replaced).
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Reads once into the free space with `read`, which returns how many bytes it wrote; 0
    /// when the buffer has no room. For stream transports that read outside a pipeline run,
    /// such as data that arrived between pipelines (see [`unsolicited`]).
    pub fn read_with<E>(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let Ok(spare) = self.spare() else {
            return Ok(0);
        };
        let n = read(spare)?;
        self.advance(n);
        Ok(n)
    }

    /// Feeds one message's bytes to `p`: the replies it completes fill their slots at once, and
    /// an unfinished reply at its end is kept here until later messages complete it.
    ///
    /// A message larger than a fixed buffer is fine as long as each reply fits. `Err` is the
    /// failure every waiting slot of `p` now has (a protocol error, or a reply larger than the
    /// buffer can hold); the connection MUST then be closed.
    ///
    /// ```
    /// use redpipe_core::{prelude::*, ReadBuffer, VecPipeline};
    /// let mut p = VecPipeline::new();
    /// let greeting = p.get::<String>("greeting").unwrap();
    /// let sent = p.poll_output().len();
    /// p.consume_output(sent);
    ///
    /// let mut space = [0u8; 16];
    /// let mut buf = ReadBuffer::fixed(&mut space);
    /// buf.feed(&mut p, b"$5\r\nhel").unwrap(); // a reply split over two messages
    /// assert!(!p.is_done());
    /// buf.feed(&mut p, b"lo\r\n").unwrap();
    /// assert_eq!(greeting.read(&p).unwrap(), "hello");
    /// ```
    pub fn feed<O, R, E>(
        &mut self,
        p: &mut Pipeline<O, R, E>,
        message: &[u8],
    ) -> Result<(), Failure>
    where
        O: Storage<u8>,
        R: Storage<u8>,
        E: Storage<Entry>,
    {
        let mut rest = message;
        // Nothing kept from earlier messages: use the message in place, keep only its tail.
        if self.start == self.end {
            let used = p.handle_input(rest).map_err(Failure::Protocol)?;
            rest = &rest[used..];
        }
        while !rest.is_empty() {
            let spare = match self.spare() {
                Ok(spare) => spare,
                Err(e) => {
                    p.fail(Failure::Capacity(e));
                    self.clear();
                    return Err(Failure::Capacity(e));
                }
            };
            let n = spare.len().min(rest.len());
            copy_small(&mut spare[..n], &rest[..n]);
            self.advance(n);
            rest = &rest[n..];
            match p.handle_input(self.filled()) {
                Ok(used) => self.consume(used),
                Err(e) => {
                    self.clear();
                    return Err(Failure::Protocol(e));
                }
            }
        }
        Ok(())
    }

    /// Between pipelines: sets aside the complete RESP3 pushes at the front (they answer no
    /// command) and says what is left: nothing, a frame still arriving, or a reply nobody asked
    /// for (see [`unsolicited`]). Returns that and how many pushes were set aside.
    pub fn set_aside_pushes(&mut self, limits: &Limits) -> (Unsolicited, u64) {
        let (left, used, pushes) = unsolicited(self.filled(), limits);
        self.consume(used);
        (left, pushes)
    }

    /// Appends `bytes` that arrived outside a pipeline run (a WebSocket message between
    /// pipelines), growing a growable buffer; a fixed one that is full keeps what it had.
    pub fn extend(&mut self, mut bytes: &[u8]) -> Result<(), CapacityError> {
        while !bytes.is_empty() {
            let spare = self.spare()?;
            let n = spare.len().min(bytes.len());
            copy_small(&mut spare[..n], &bytes[..n]);
            self.advance(n);
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Room to read into: makes space by moving unconsumed bytes to the front, then by growing.
    pub(crate) fn spare(&mut self) -> Result<&mut [u8], CapacityError> {
        if self.end == self.store.len() {
            if self.start > 0 {
                shift_within(
                    self.store.as_mut_slice(),
                    self.start,
                    self.end,
                    self.start,
                    false,
                );
                self.end -= self.start;
                self.start = 0;
            } else {
                // Double, or take what room a fixed store has left.
                let len = self.store.len();
                let grow = len.max(64).min(self.store.capacity().saturating_sub(len));
                if grow == 0 || self.store.try_extend_for_write(grow).is_err() {
                    return Err(CapacityError {
                        store: Store::ReadBuffer,
                        needed: len + 1,
                        capacity: self.store.capacity(),
                    });
                }
            }
        }
        let end = self.end;
        Ok(&mut self.store.as_mut_slice()[end..])
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.end = (self.end + n).min(self.store.len());
    }

    /// Drops the first `n` unconsumed bytes: those a [`Pipeline::handle_input`] or a
    /// [`Mux::handle_input`](crate::mux::Mux::handle_input) used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}
