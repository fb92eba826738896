//! # redpipe
//!
//! Redis pipelining with deferred results for ordinary Rust programs. This crate re-exports
//! [`redpipe_core`]; connections for std land here next.

pub use redpipe_core::*;
