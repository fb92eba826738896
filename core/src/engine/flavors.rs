//! The pipeline over each storage flavor: growable `Vec`s, fixed `heapless` vectors, or caller
//! slices. One `Pipeline` type; these are its names and constructors.

use super::{Entry, Pipeline};
#[cfg(feature = "alloc")]
use crate::codec::storage::ByteBuf;
use crate::codec::storage::SliceStore;

/// A pipeline on growable `Vec`s: the usual choice with an allocator.
#[cfg(feature = "alloc")]
pub type VecPipeline = Pipeline<ByteBuf, ByteBuf, alloc::vec::Vec<Entry>>;

/// A pipeline in fixed `heapless` storage: `OUT` bytes of commands, `REPLIES` bytes of replies,
/// `CMDS` commands.
#[cfg(feature = "heapless")]
pub type HeaplessPipeline<const OUT: usize, const REPLIES: usize, const CMDS: usize> =
    Pipeline<heapless::Vec<u8, OUT>, heapless::Vec<u8, REPLIES>, heapless::Vec<Entry, CMDS>>;

/// A pipeline over caller-provided slices; needs no feature and no allocator.
pub type SlicePipeline<'a> =
    Pipeline<SliceStore<'a, u8>, SliceStore<'a, u8>, SliceStore<'a, Entry>>;

#[cfg(feature = "alloc")]
impl VecPipeline {
    /// Bytes of memory the pipeline holds (its stores' allocations), for callers that keep
    /// emptied pipelines for reuse and bound what they keep.
    pub(crate) fn storage_bytes(&self) -> usize {
        self.out.allocated()
            + self.replies.allocated()
            + self.entries.capacity() * core::mem::size_of::<Entry>()
    }

    /// An empty pipeline that grows as needed.
    pub fn new() -> Self {
        Self::with_storage(Default::default(), Default::default(), Default::default())
    }
}

#[cfg(feature = "alloc")]
impl Default for VecPipeline {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "heapless")]
impl<const OUT: usize, const REPLIES: usize, const CMDS: usize>
    HeaplessPipeline<OUT, REPLIES, CMDS>
{
    /// An empty pipeline with fixed capacities.
    pub fn new() -> Self {
        Self::with_storage(
            heapless::Vec::new(),
            heapless::Vec::new(),
            heapless::Vec::new(),
        )
    }
}

#[cfg(feature = "heapless")]
impl<const OUT: usize, const REPLIES: usize, const CMDS: usize> Default
    for HeaplessPipeline<OUT, REPLIES, CMDS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> SlicePipeline<'a> {
    /// A pipeline over caller buffers: encoded commands, reply bytes, one entry per command.
    ///
    /// ```
    /// use redpipe_core::{prelude::*, Entry, SlicePipeline};
    /// let (mut out, mut replies, mut table) = ([0u8; 128], [0u8; 128], [Entry::EMPTY; 4]);
    /// let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    /// let n = p.incr("hits").unwrap();
    /// let len = p.poll_output().len();
    /// p.consume_output(len);
    /// assert_eq!(p.handle_input(b":1\r\n"), Ok(4));
    /// assert_eq!(n.read(&p), Ok(1));
    /// ```
    pub fn from_slices(out: &'a mut [u8], replies: &'a mut [u8], entries: &'a mut [Entry]) -> Self {
        Self::with_storage(
            SliceStore::new(out),
            SliceStore::new(replies),
            SliceStore::new(entries),
        )
    }
}
