//! HyperLogLog commands.

use super::Queue;

/// HyperLogLog commands.
pub trait HyperLogLogCommands: Queue {}

impl<Q: Queue + ?Sized> HyperLogLogCommands for Q {}
