//! Sorted set commands.

use super::Queue;

/// Sorted set commands.
pub trait SortedSetCommands: Queue {}

impl<Q: Queue + ?Sized> SortedSetCommands for Q {}
