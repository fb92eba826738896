//! Command builders, by group, for anything that can [`Queue`](crate::Queue) commands.
//!
//! Each group is a trait with provided methods and a blanket implementation for every
//! [`Queue`](crate::Queue), so the same builders serve the core [`Pipeline`](crate::Pipeline) (which returns
//! `Result<Deferred<T>, CapacityError>`) and the adapters' pipelines (which return their own
//! handles). Bring them all into scope with `use redpipe_core::prelude::*`.
//!
//! Commands whose reply has one natural type return it (`INCR` → `i64`); commands that return
//! stored values are generic, and the caller names the type: `p.get::<String>("k")`,
//! `p.get::<Option<&str>>("k")` (borrowed from the pipeline when read), `p.lrange::<Vec<i64>>(..)`.
//! [`Queue::query`](crate::Queue::query) with [`cmd`](crate::cmd()) covers every other command.

/// For the groups' tests: `slice_pipeline!(p)` binds `p` to a pipeline over 512-byte stores and
/// an 8-entry table on the stack.
#[cfg(test)]
macro_rules! slice_pipeline {
    ($p:ident) => {
        let (mut out, mut replies, mut table) = ([0u8; 512], [0u8; 512], [crate::Entry::EMPTY; 8]);
        let mut $p = crate::SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    };
}

/// For the groups' tests: sends every queued command and feeds `input`, which must answer them
/// all.
#[cfg(test)]
fn answer(p: &mut crate::SlicePipeline<'_>, input: &[u8]) {
    p.consume_output(p.poll_output().len());
    assert_eq!(p.handle_input(input), Ok(input.len()));
}

mod hashes;
mod hyperloglog;
mod keys;
mod lists;
mod scan;
#[cfg(feature = "scripting")]
mod scripting;
mod server;
mod sets;
mod sorted_sets;
mod span;
mod strings;

pub use hashes::HashCommands;
pub use hyperloglog::HyperLogLogCommands;
pub use keys::{ExpireWhen, KeyCommands};
pub use lists::{End, ListCommands};
pub use scan::{ScanCommands, ScanOptions};
#[cfg(feature = "scripting")]
pub use scripting::ScriptCommands;
pub use server::ServerCommands;
pub use sets::SetCommands;
pub use sorted_sets::{SortedSetCommands, ZaddOptions};
pub use span::Span;
pub(crate) use span::{Timeout, Ttl};
pub use strings::{SetOptions, StringCommands};
