//! # redpipe-wasm
//!
//! redpipe in the browser. The WebSocket transport lands here; for now this crate re-exports the
//! core so that it builds for `wasm32-unknown-unknown` with the rest of the workspace.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use redpipe_core::*;
