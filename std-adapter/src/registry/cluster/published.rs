//! The slot map a cluster's pipelines share, with its [`MapVersion`]: a refresh's pick replaces
//! it only if it is not an older view (refreshes run concurrently and end in any order), and a
//! change of the slots' owners wakes the pipelines waiting in back-off, so that commands held
//! for a failed node go to its successor as soon as the map names it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::Duration;

use redpipe_core::cluster::{MapVersion, SlotMap};

/// The shared slot map, its version, and the means to wait for it to change.
#[derive(Default)]
pub(super) struct Published {
    state: RwLock<(Arc<SlotMap>, MapVersion)>,
    /// Refreshes started so far: the ticket of the latest (see [`MapVersion`]).
    tickets: AtomicU64,
    /// Maps read or patched, published or not.
    reads: AtomicU64,
    /// How many times the slots' owners changed; the blocking waits sleep on it.
    changes: Mutex<u64>,
    changed: Condvar,
    #[cfg(feature = "tokio")]
    changed_async: tokio::sync::Notify,
}

impl Published {
    /// The map in use.
    pub(super) fn map(&self) -> Arc<SlotMap> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .clone()
    }

    /// The version of the map in use.
    pub(super) fn version(&self) -> MapVersion {
        self.state.read().unwrap_or_else(PoisonError::into_inner).1
    }

    /// How many maps were read (or patched) so far.
    pub(super) fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// A ticket for a refresh that starts now.
    pub(super) fn take_ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The ticket the next refresh will take: a map whose version was
    /// [`read_since`](MapVersion::read_since) it was read after this call.
    pub(super) fn next_ticket(&self) -> u64 {
        self.tickets.load(Ordering::Relaxed) + 1
    }

    /// Publishes what a refresh read, unless the map in use is a newer view (see
    /// [`MapVersion::replaced_by`]).
    pub(super) fn publish(&self, map: SlotMap, version: MapVersion) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if !state.1.replaced_by(version) {
            return;
        }
        let changed = !state.0.same_owners(&map);
        *state = (Arc::new(map), version);
        drop(state);
        if changed {
            self.wake();
        }
    }

    /// Publishes `map`, the map `base` with what a round learned (an `ASK` to a node it did
    /// not know), if `base` is still the one in use: a map published meanwhile is newer.
    pub(super) fn patch(&self, base: &Arc<SlotMap>, map: Arc<SlotMap>) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if Arc::ptr_eq(&state.0, base) {
            state.0 = map;
        }
    }

    /// How many times the slots' owners changed so far: what [`wait`](Self::wait) compares.
    pub(super) fn changes(&self) -> u64 {
        *self.changes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        *self.changes.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed.notify_all();
        #[cfg(feature = "tokio")]
        self.changed_async.notify_waiters();
    }

    /// Sleeps `delay`, or less if the owners change (again) after `seen` ([`changes`]).
    ///
    /// [`changes`]: Self::changes
    pub(super) fn wait(&self, delay: Duration, seen: u64) {
        let changes = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self
            .changed
            .wait_timeout_while(changes, delay, |n| *n == seen)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// [`wait`](Self::wait) on tokio.
    #[cfg(feature = "tokio")]
    pub(super) async fn wait_async(&self, delay: Duration, seen: u64) {
        let notified = self.changed_async.notified();
        let mut notified = std::pin::pin!(notified);
        // Registered before the count is read: a change in between still wakes it.
        notified.as_mut().enable();
        if self.changes() != seen {
            return;
        }
        let _ = tokio::time::timeout(delay, notified).await;
    }
}
