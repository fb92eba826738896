//! Set commands.

use super::Queue;

/// Set commands.
pub trait SetCommands: Queue {}

impl<Q: Queue + ?Sized> SetCommands for Q {}
