//! Hash commands.

use super::Queue;

/// Hash commands.
pub trait HashCommands: Queue {}

impl<Q: Queue + ?Sized> HashCommands for Q {}
