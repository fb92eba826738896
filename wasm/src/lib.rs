//! # redpipe-wasm
//!
//! redpipe for browsers and edge runtimes. Browsers cannot open TCP sockets, so the same RESP
//! bytes travel over a WebSocket to a relay that forwards them to Redis: `redpipe-bridge`
//! (tokens, origins, a command policy), or any relay that carries RESP in binary messages
//! (websockify). Runtimes with sockets of their own (Node `net`, Deno, Workers' `connect()`)
//! talk to Redis directly through any JS duplex.
//!
//! This crate is one more transport under the core's `Pipe` model, not a second client: the
//! pipelines, handles, scopes, callbacks, transactions and connection rules are
//! `redpipe-core`'s, and this crate only moves bytes between them and JavaScript.
//!
//! - [`Connection`]: one WebSocket or duplex as an [`AsyncTransport`]; each message goes to the
//!   core with [`ReadBuffer::feed`]; a close or error fails every waiting handle with the
//!   reason.
//! - [`Connections`]: named connections, the [`AsyncBackend`] of [`Pipe`]; one socket per name,
//!   leased to one pipeline at a time, so pipelines from concurrent async functions never
//!   interleave on a socket.
//! - [`pubsub::Subscriber`]: subscriptions over a bridge's subscriber session (the
//!   `redpipe.subscribe` WebSocket subprotocol), the core's `Subscriptions` machine reading the
//!   frames.
//! - feature `duplex` (default): [`Connections::connect_duplex`], connections over any JS
//!   duplex (Node `net`, Workers sockets) beside WebSockets. A WebSocket-only program leaves it
//!   out (its code and JS imports: 1.6 KB gzip of `.wasm` and glue).
//! - feature `js-subscribe`: the JavaScript `subscribe` (exports), built into the npm
//!   package's second module (`redpipe-wasm/subscribe`, the cdylib `wasm/subscribe`), so that a
//!   page that only pipelines does not load it.
//! - feature `js` (default, implies `duplex`): the exports of the JavaScript/TypeScript API
//!   (`Client`, `Pipeline`, `Handle`; `connect`, `autoexec` and the scopes are JavaScript in
//!   `wasm/npm/index.js`), built into an npm package by `cargo xtask wasm` (the cdylib
//!   `wasm/package`, wasm-bindgen `--target web`, one bundled module for every runtime).
//!
//! The crate is `no_std` (with `alloc`), and asks nothing of `std` from wasm-bindgen, js-sys
//! and web-sys either. A cdylib that links no `std` at all (`#![no_std]`, a `#[panic_handler]`
//! that traps, feature `small-alloc` for the allocator) is about 10 KB smaller (3.5–4 KB gzip)
//! than one that does: the npm package and `wasm/minimal`, the size report's smallest program,
//! are built that way.
//!
//! # Layout
//!
//! Sources, lowest floor first; each names only those before it (`cargo xtask layers`):
//! - `error.rs`: why a socket stopped carrying bytes, inside the core's `Error`.
//! - `link.rs`, `link.js`: the JavaScript side of a socket (WebSocket or duplex) and its events.
//! - `connection.rs`: one socket as the core's `AsyncTransport`.
//! - `registry.rs`: named connections, the `Pipe`'s `AsyncBackend`.
//! - `subscriber.rs`: Pub/Sub on a socket of its own (a bridge's subscriber session).
//! - `js/`: the JavaScript/TypeScript API's exports (feature `js`).
//!
//! From Rust on wasm:
//!
//! ```no_run
//! use redpipe_wasm::prelude::*;
//! use redpipe_wasm::{Connections, Options, Pipe};
//!
//! async fn demo() -> redpipe_wasm::Result<()> {
//!     let redis = Connections::new();
//!     redis.connect("", "ws://127.0.0.1:7379", Options::token("secret")).await?;
//!     let mut p = redis.pipe();
//!     let hits = p.incr("hits");
//!     let _ = p.expire("hits", 60);
//!     p.execute_async().await?;
//!     assert!(hits.result()? >= 1);
//!     // A reusable function joins a parent pipe or runs on its own.
//!     let n = Pipe::autoexec_async(|| redis.clone(), None, |p| Ok(p.incr("hits"))).await?;
//!     assert!(n.result()? >= 2);
//!     Ok(())
//! }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]

extern crate alloc;

mod connection;
mod error;
#[cfg(any(feature = "js", feature = "js-subscribe"))]
mod js;
mod link;
mod registry;
mod subscriber;

pub use connection::{Connection, Options};
pub use error::LinkError;
#[cfg(feature = "js")]
pub use js::{Client, Handle as JsHandle, Pipeline};
#[cfg(feature = "duplex")]
pub use link::Duplex;
pub use redpipe_core::*;
pub use registry::{Connections, Stats};

/// Pub/Sub: the core's subscription machine, and [`Subscriber`](pubsub::Subscriber), its
/// transport over a bridge's subscriber session.
pub mod pubsub {
    pub use crate::subscriber::{Msg, Received, SUBSCRIBER_PROTOCOL, Subscriber};
    pub use redpipe_core::pubsub::*;
}

/// The global allocator of the npm package (feature `small-alloc`): talc, several KiB smaller
/// than the default dlmalloc. Single-threaded wasm only (no `atomics`), as JavaScript is.
#[cfg(all(
    feature = "small-alloc",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// One logical pipeline over the named connections of a [`Connections`] registry; see
/// [`redpipe_core::Pipe`].
pub type Pipe = redpipe_core::Pipe<Connections>;
