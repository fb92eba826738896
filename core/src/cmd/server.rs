//! Connection and server commands.

use super::Queue;

/// Connection and server commands.
pub trait ServerCommands: Queue {}

impl<Q: Queue + ?Sized> ServerCommands for Q {}
