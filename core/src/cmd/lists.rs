//! List commands.

use super::Queue;

/// List commands.
pub trait ListCommands: Queue {}

impl<Q: Queue + ?Sized> ListCommands for Q {}
