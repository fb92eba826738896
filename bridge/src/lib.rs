//! # redpipe-bridge
//!
//! A WebSocket bridge to one Redis server, for browsers and edge runtimes that cannot open TCP
//! sockets (`redpipe-wasm` talks to it). Each WebSocket session gets its own Redis connection;
//! binary messages carry raw RESP both ways, so any client that speaks RESP over a binary
//! WebSocket works, and `redpipe-wasm` works against any such relay.
//!
//! It is not an open proxy:
//! - one configured Redis address ([`Config::redis`]: a `redis://`, `rediss://` or `unix://`
//!   URL, opened by the std adapter); it listens on loopback unless told otherwise;
//! - a token is required, in an `Authorization: Bearer` header or as the first (text) message
//!   (answered `ready`), compared in constant time; each token maps to a Redis ACL user, so
//!   that Redis enforces per-user keys and commands ([`auth`]);
//! - an `Origin` allow-list for browsers;
//! - a command policy ([`Policy`]): the client's stream is read with the core's decoder and a
//!   denied command is answered with an error **in its place**, keeping replies aligned
//!   ([`Relay`]);
//! - limits: message size, commands in flight per session (the bridge stops reading a client
//!   that is that far ahead, so memory stays bounded), sessions, idle time;
//! - Ctrl-C / SIGTERM stop accepting, let sessions receive the replies in flight, then close.
//!
//! It serves `ws://`: put it behind a TLS-terminating proxy (or on loopback beside one) for
//! `wss://`; the Redis side may use TLS (`rediss://`).
//!
//! Where it lives and why: a crate of its own beside the std adapter (not a binary inside it),
//! so that the library's users never compile a WebSocket server, a signal handler or a log
//! subscriber, while the bridge still reuses the std adapter's connection code (URL, TLS,
//! `AUTH`, `SELECT`, timeouts) and the core's decoder. Arrows point down: bridge → redpipe →
//! redpipe-core.

pub mod auth;
pub mod config;
pub mod policy;
pub mod relay;
mod session;

pub use auth::Token;
pub use config::{Cli, Config, ConfigError};
pub use policy::Policy;
pub use relay::{Relay, RelayError};
pub use session::serve;
