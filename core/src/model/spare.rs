//! Storage carried from one pipe to the next ([`Spare`]) and reused once no handle reads it:
//! what lets `autoexec(None, ..)` in a loop stop allocating, and keeps an old handle from ever
//! reading a newer run's replies.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::handle::Shared;
use super::{Callback, Group, Pipe};
use crate::engine::{Mark, VecPipeline};
use crate::session::Retry;

/// An emptied pipe without its backend, for a new pipe to reuse: see [`Pipe::into_spare`] and
/// [`Pipe::with_spare`]. It holds the pipe's empty groups and the result pipelines of its
/// earlier runs; each of those is reused only once no handle reads it any more.
#[derive(Default)]
pub struct Spare {
    /// Empty groups, with result cells no handle has seen (none: one default group).
    groups: Vec<Group>,
    callbacks: Vec<Callback>,
    marks: Vec<Mark>,
    published: Vec<Arc<Shared>>,
    ran: Vec<Group>,
}

impl core::fmt::Debug for Spare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Spare")
            .field("groups", &self.groups.len())
            .field("runs", &self.published.len())
            .finish()
    }
}

impl<B> Pipe<B> {
    /// An empty pipe on `backend` that reuses the storage in `spare` (from
    /// [`into_spare`](Pipe::into_spare)) for its commands and replies.
    pub fn with_spare(backend: B, spare: Spare) -> Self {
        let Spare {
            groups,
            callbacks,
            marks,
            published,
            ran,
        } = spare;
        if groups.is_empty() {
            let mut p = Self::with_backend(backend);
            p.published = published;
            p.ran = ran;
            if let Some((pipeline, _)) = p.reclaim() {
                p.groups[0].pipeline = pipeline;
            }
            return p;
        }
        Self {
            backend,
            groups,
            route: 0,
            callbacks,
            full: None,
            marks,
            published,
            ran,
            retry: Retry::NEVER,
            sharing: crate::mux::Sharing::Auto,
        }
    }

    /// Drops every queued command and callback unsent, as dropping the pipe does (their
    /// handles and `Derived` values read [`Failure::Cancelled`](crate::Failure::Cancelled)),
    /// keeping the storage for the next commands. Not inside a scope: that is [`scope`](Self::scope)'s rollback.
    pub fn discard(&mut self) {
        if self.in_scope() {
            return;
        }
        self.full = None;
        // Nothing queued (as after `execute`): no handle has seen the groups' result cells.
        if self.callbacks.is_empty() && self.groups.iter().all(|g| g.pipeline.is_empty()) {
            return;
        }
        // Published failed as cancelled, as a cut-short run is: the dropped commands' handles
        // say so, and their storage is reused like a finished run's once they are gone.
        let groups = self.take_groups();
        self.finish(groups, Err(crate::Failure::Cancelled));
    }

    /// Empties the pipe into a [`Spare`]: the storage of its earlier runs, for a later pipe
    /// ([`with_spare`](Pipe::with_spare)) to reuse once their handles are gone. What is queued
    /// and not executed is dropped unsent (see [`discard`](Self::discard)). Runs whose storage
    /// is over `max_bytes` are let go instead of kept.
    ///
    /// A backend that makes a pipe per call (`autoexec(None, ..)`) keeps spares between calls,
    /// so that a program's pipes stop allocating once warm, as a reused pipe does.
    pub fn into_spare(mut self, max_bytes: usize) -> Spare {
        self.discard();
        let mut published = core::mem::take(&mut self.published);
        published.retain(|s| {
            s.results
                .get()
                .is_some_and(|p| p.storage_bytes() <= max_bytes)
        });
        let mut groups = core::mem::take(&mut self.groups);
        for g in &mut groups {
            g.retry = Retry::NEVER;
            if g.pipeline.storage_bytes() > max_bytes {
                g.pipeline = VecPipeline::new();
            }
        }
        Spare {
            groups,
            callbacks: core::mem::take(&mut self.callbacks),
            marks: core::mem::take(&mut self.marks),
            published,
            ran: core::mem::take(&mut self.ran),
        }
    }

    /// Takes the queued groups out, leaving the pipe empty and reusable.
    pub(super) fn take_groups(&mut self) -> Vec<Group> {
        let mut fresh = core::mem::take(&mut self.ran);
        fresh.clear();
        for i in 0..self.groups.len() {
            let (pipeline, cell) = self.recycled();
            fresh.push(Group::with_cell(
                self.groups[i].name.clone(),
                pipeline,
                self.retry,
                cell,
            ));
        }
        core::mem::replace(&mut self.groups, fresh)
    }

    /// An empty pipeline and a result cell, reusing those of an earlier run whose handles are
    /// all gone.
    pub(super) fn recycled(&mut self) -> (VecPipeline, Arc<Shared>) {
        self.reclaim().unwrap_or_default()
    }

    /// The storage of the most recent earlier run whose handles are all gone, emptied, and its
    /// result cell made new: no handle holds it any more (the cell is only reused when this
    /// pipe holds its one reference), so none can read the next run's results through it.
    /// Runs whose handles are still alive stay for a later call.
    fn reclaim(&mut self) -> Option<(VecPipeline, Arc<Shared>)> {
        // The largest free one: it fits the next run most likely without growing.
        let at = self
            .published
            .iter_mut()
            .enumerate()
            .filter_map(|(i, shared)| {
                let p = Arc::get_mut(shared)?.results.get_mut()?;
                Some((p.storage_bytes(), i))
            })
            .max()?
            .1;
        let mut shared = self.published.remove(at);
        let cell = Arc::get_mut(&mut shared)?;
        let mut p = core::mem::take(cell.results.get_mut()?);
        *cell = Shared::default();
        p.reset();
        Some((p, shared))
    }
}
