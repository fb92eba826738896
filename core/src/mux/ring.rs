//! Where a [`Mux`](super::Mux) keeps its pipelines: a ring of [`Slot`]s in the caller's storage,
//! fixed (an array, a slice) or growing on demand up to the mux's limit (a `Vec`), so that a
//! connection holds memory for the pipelines it has in flight, not for the most it may ever
//! have.

use super::Slot;

/// Storage for a mux's ring of slots.
pub trait Ring<S> {
    /// The slots.
    fn slots(&self) -> &[Slot<S>];
    /// The slots, mutably.
    fn slots_mut(&mut self) -> &mut [Slot<S>];
    /// Makes room for more slots, at most `limit` in all, with the slots in use (from `head`,
    /// in order) moved to the front. Returns whether it grew; fixed storage does not.
    fn grow(&mut self, head: usize, limit: usize) -> bool {
        let _ = (head, limit);
        false
    }
}

impl<S, const N: usize> Ring<S> for [Slot<S>; N] {
    fn slots(&self) -> &[Slot<S>] {
        self
    }
    fn slots_mut(&mut self) -> &mut [Slot<S>] {
        self
    }
}

impl<S> Ring<S> for &mut [Slot<S>] {
    fn slots(&self) -> &[Slot<S>] {
        self
    }
    fn slots_mut(&mut self) -> &mut [Slot<S>] {
        self
    }
}

impl<S, const N: usize> Ring<S> for &mut [Slot<S>; N] {
    fn slots(&self) -> &[Slot<S>] {
        &self[..]
    }
    fn slots_mut(&mut self) -> &mut [Slot<S>] {
        &mut self[..]
    }
}

#[cfg(feature = "alloc")]
impl<S> Ring<S> for alloc::vec::Vec<Slot<S>> {
    fn slots(&self) -> &[Slot<S>] {
        self
    }
    fn slots_mut(&mut self) -> &mut [Slot<S>] {
        self
    }
    fn grow(&mut self, head: usize, limit: usize) -> bool {
        let len = self.len();
        if len >= limit {
            return false;
        }
        self.rotate_left(head);
        self.resize_with(len.saturating_mul(2).clamp(1, limit), || Slot::VACANT);
        true
    }
}
