//! Storage flavors: where a pipeline keeps its bytes and its command table.
//!
//! The core never allocates by itself. A [`Pipeline`](crate::Pipeline) is built on three stores
//! that implement [`Storage`]: `Vec` (feature `alloc`, grows), `heapless::Vec` (feature
//! `heapless`, const capacity) or [`SliceStore`] over a caller's `&mut [T]` (no feature at all).
//! A fixed store that is full reports [`Full`] and keeps its contents unchanged.

/// A growable-or-fixed sequence of `Copy` items: the one abstraction the pipeline writes through.
pub trait Storage<T: Copy> {
    /// The items stored so far.
    fn as_slice(&self) -> &[T];
    /// The items stored so far, mutably.
    fn as_mut_slice(&mut self) -> &mut [T];
    /// How many items fit at most (`usize::MAX` for growable storage).
    fn capacity(&self) -> usize;
    /// Appends `items` whole, or fails and appends nothing.
    fn try_extend_from_slice(&mut self, items: &[T]) -> Result<(), Full>;
    /// Shortens to `len` items; does nothing if already shorter.
    fn truncate(&mut self, len: usize);
    /// Appends `n` items of unspecified value (default, or stale from earlier use) and returns
    /// them to be overwritten, or fails and appends nothing.
    fn try_extend_for_write(&mut self, n: usize) -> Result<&mut [T], Full>
    where
        T: Default;

    /// The number of items stored.
    #[inline]
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    /// Whether nothing is stored.
    #[inline]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends one item, or fails and appends nothing.
    #[inline]
    fn try_push(&mut self, item: T) -> Result<(), Full> {
        self.try_extend_from_slice(core::slice::from_ref(&item))
    }
    /// Removes everything, keeping the capacity.
    #[inline]
    fn clear(&mut self) {
        self.truncate(0);
    }
    /// Shortens to `len` items and gives back the memory beyond them where the store can
    /// (growable storage); a fixed store only shortens.
    #[inline]
    fn shrink_to(&mut self, len: usize) {
        self.truncate(len);
    }
}

/// A store had no room; the pipeline turns it into a
/// [`CapacityError`](crate::CapacityError) with the right context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Moves `buf[from..to]` `by` bytes to the right (to the left when `right` is false), like
/// `copy_within`.
///
/// With feature `small` it is a plain byte loop: `copy_within` would link the compiler's
/// `memmove`, 1.5 KiB of flash on Cortex-M, for moves that are short (a command header grown by a
/// byte or two, a partial reply moved to the front of a read buffer).
#[inline]
pub(crate) fn shift_within(buf: &mut [u8], from: usize, to: usize, by: usize, right: bool) {
    let dest = if right { from + by } else { from - by };
    if !cfg!(feature = "small") {
        buf.copy_within(from..to, dest);
    } else if right {
        for i in (from..to).rev() {
            buf[i + by] = buf[i];
        }
    } else {
        for i in from..to {
            buf[i - by] = buf[i];
        }
    }
}

/// Copies `src` into `dst` (same length). Up to 32 bytes, the common size of keys and short
/// values, with fixed-size (possibly overlapping) moves instead of a `memcpy` call.
#[inline(always)]
pub(crate) fn copy_small(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n != dst.len() {
        return;
    }
    if cfg!(feature = "small") {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
        return;
    }
    match n {
        0 => {}
        1..=3 => {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..].copy_from_slice(&src[n - 4..]);
        }
        8..=16 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..].copy_from_slice(&src[n - 8..]);
        }
        17..=32 => {
            dst[..16].copy_from_slice(&src[..16]);
            dst[n - 16..].copy_from_slice(&src[n - 16..]);
        }
        _ => dst.copy_from_slice(src),
    }
}

/// Fixed storage over a caller's slice: the no-allocator, no-feature flavor.
///
/// ```
/// use redpipe_core::{SliceStore, Storage};
/// let mut backing = [0u8; 4];
/// let mut s = SliceStore::new(&mut backing);
/// s.try_extend_from_slice(b"abc").unwrap();
/// assert!(s.try_extend_from_slice(b"de").is_err());
/// assert_eq!(s.as_slice(), b"abc");
/// ```
#[derive(Debug)]
pub struct SliceStore<'a, T> {
    buf: &'a mut [T],
    len: usize,
}

impl<'a, T> SliceStore<'a, T> {
    /// Wraps `buf`; its current contents are ignored and overwritten.
    pub fn new(buf: &'a mut [T]) -> Self {
        Self { buf, len: 0 }
    }
}

impl<T: Copy> Storage<T> for SliceStore<'_, T> {
    #[inline]
    fn as_slice(&self) -> &[T] {
        &self.buf[..self.len]
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.buf[..self.len]
    }
    #[inline]
    fn capacity(&self) -> usize {
        self.buf.len()
    }
    #[inline]
    fn try_extend_from_slice(&mut self, items: &[T]) -> Result<(), Full> {
        let end = self.len.checked_add(items.len()).ok_or(Full)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Full)?;
        dst.copy_from_slice(items);
        self.len = end;
        Ok(())
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
    #[inline]
    fn try_extend_for_write(&mut self, n: usize) -> Result<&mut [T], Full>
    where
        T: Default,
    {
        let start = self.len;
        let end = start.checked_add(n).ok_or(Full)?;
        let dst = self.buf.get_mut(start..end).ok_or(Full)?;
        dst.fill(T::default());
        self.len = end;
        Ok(dst)
    }
}

#[cfg(feature = "alloc")]
impl<T: Copy> Storage<T> for alloc::vec::Vec<T> {
    #[inline]
    fn as_slice(&self) -> &[T] {
        self
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
    #[inline]
    fn capacity(&self) -> usize {
        usize::MAX
    }
    #[inline]
    fn try_extend_from_slice(&mut self, items: &[T]) -> Result<(), Full> {
        self.extend_from_slice(items);
        Ok(())
    }
    #[inline]
    fn try_push(&mut self, item: T) -> Result<(), Full> {
        self.push(item);
        Ok(())
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        alloc::vec::Vec::truncate(self, len);
    }
    #[inline]
    fn try_extend_for_write(&mut self, n: usize) -> Result<&mut [T], Full>
    where
        T: Default,
    {
        let start = self.len();
        self.resize(start + n, T::default());
        Ok(&mut self[start..])
    }
    fn shrink_to(&mut self, len: usize) {
        alloc::vec::Vec::truncate(self, len);
        alloc::vec::Vec::shrink_to(self, len);
    }
}

#[cfg(feature = "heapless")]
impl<T: Copy, const N: usize> Storage<T> for heapless::Vec<T, N> {
    #[inline]
    fn as_slice(&self) -> &[T] {
        self
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
    #[inline]
    fn capacity(&self) -> usize {
        N
    }
    #[inline]
    fn try_extend_from_slice(&mut self, items: &[T]) -> Result<(), Full> {
        heapless::Vec::extend_from_slice(self, items).map_err(|_| Full)
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        heapless::Vec::truncate(self, len);
    }
    #[inline]
    fn try_extend_for_write(&mut self, n: usize) -> Result<&mut [T], Full>
    where
        T: Default,
    {
        let start = self.len();
        self.resize_default(start.checked_add(n).ok_or(Full)?)
            .map_err(|_| Full)?;
        Ok(&mut self[start..])
    }
}

/// Growable bytes that keep their high-water mark: appending within it needs no zero-filling,
/// and clearing keeps it. The `Vec`-backed pipeline's byte stores (feature `alloc`).
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Default)]
pub struct ByteBuf {
    /// Always initialized up to `buf.len()`; the logical contents are `buf[..len]`.
    buf: alloc::vec::Vec<u8>,
    len: usize,
}

#[cfg(feature = "alloc")]
impl ByteBuf {
    /// Empty, with nothing allocated.
    pub const fn new() -> Self {
        Self {
            buf: alloc::vec::Vec::new(),
            len: 0,
        }
    }

    /// Bytes allocated (the high-water mark's room), whatever is in use.
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(feature = "alloc")]
impl Storage<u8> for ByteBuf {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }
    #[inline]
    fn capacity(&self) -> usize {
        usize::MAX
    }
    #[inline]
    fn try_extend_from_slice(&mut self, items: &[u8]) -> Result<(), Full> {
        copy_small(self.try_extend_for_write(items.len())?, items);
        Ok(())
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
    #[inline]
    fn try_extend_for_write(&mut self, n: usize) -> Result<&mut [u8], Full> {
        let start = self.len;
        let end = start.checked_add(n).ok_or(Full)?;
        if end > self.buf.len() {
            self.grow(end);
        }
        self.len = end;
        Ok(&mut self.buf[start..end])
    }
}

#[cfg(feature = "alloc")]
impl ByteBuf {
    /// Makes room for `end` bytes plus some slack. The `Vec` doubles its capacity as it
    /// likes (amortized growth) but only `end + SLACK` bytes are written, so memory that was
    /// never needed is never touched.
    #[cold]
    fn grow(&mut self, end: usize) {
        const SLACK: usize = 4096;
        self.buf.resize(end.saturating_add(SLACK), 0);
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn byte_buf_reuses_its_room_and_never_shows_stale_bytes() {
        let mut b = ByteBuf::new();
        b.try_extend_from_slice(b"hello world").unwrap();
        b.truncate(5);
        assert_eq!(b.as_slice(), b"hello");
        b.clear();
        assert!(b.is_empty());
        // The room is reused; only what is written is visible.
        b.try_extend_from_slice(b"ab").unwrap();
        assert_eq!(b.as_slice(), b"ab");
        let dst = b.try_extend_for_write(3).unwrap();
        dst.copy_from_slice(b"xyz");
        assert_eq!(b.as_slice(), b"abxyz");
        // Growth beyond the high-water mark keeps the contents.
        let big = [7u8; 10_000];
        b.try_extend_from_slice(&big).unwrap();
        assert_eq!(&b.as_slice()[..5], b"abxyz");
        assert_eq!(b.len(), 10_005);
        assert!(b.as_slice()[5..].iter().all(|&x| x == 7));
    }

    #[test]
    fn shift_within_moves_overlapping_ranges_both_ways() {
        for by in 1..6 {
            for len in 0..12 {
                let original: [u8; 24] = core::array::from_fn(|i| i as u8);
                let mut right = original;
                shift_within(&mut right, 3, 3 + len, by, true);
                assert_eq!(right[3 + by..3 + by + len], original[3..3 + len]);
                let mut left = original;
                shift_within(&mut left, 8, 8 + len, by, false);
                assert_eq!(left[8 - by..8 - by + len], original[8..8 + len]);
            }
        }
    }

    #[test]
    fn copy_small_copies_every_length() {
        let src: [u8; 70] = core::array::from_fn(|i| i as u8 + 1);
        for n in 0..=70 {
            let mut dst = [0u8; 70];
            copy_small(&mut dst[..n], &src[..n]);
            assert_eq!(&dst[..n], &src[..n], "length {n}");
            assert!(dst[n..].iter().all(|&b| b == 0));
        }
    }
}
