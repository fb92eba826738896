//! # redpipe-bridge
//!
//! A WebSocket bridge to one Redis server, for browsers and edge runtimes that cannot open TCP
//! sockets (`redpipe-wasm` talks to it). Each WebSocket session gets its own Redis connection;
//! binary messages carry raw RESP both ways, so any client that speaks RESP over a binary
//! WebSocket works, and `redpipe-wasm` works against any such relay.
//!
//! It is built to face the internet: assume every visitor of the page reads the page's token
//! and sends whatever the bridge lets through. `SECURITY.md` at the repository's root states
//! the threat model and each limit with its default. In short:
//! - one configured Redis address ([`Config::redis`]); it listens on loopback unless told
//!   otherwise;
//! - **signed short-lived tokens** ([`token`]): the application's backend mints one per page
//!   load (HMAC-SHA256 over the ACL user, a key prefix, the allowed commands and an expiry;
//!   [`token::mint`] in Rust, `bridge/js/token.mjs` or any HS256 JWT library in JavaScript);
//!   static tokens are for development (32 characters at least, and a warning at start-up);
//!   failed logins are throttled per address ([`auth`], [`limits`]);
//! - an `Origin` allow-list, and no handshake without an `Origin` unless allowed; a refused
//!   page gets a WebSocket close code and a reason it can show;
//! - an **allow-list** command [`Policy`]: the data commands a web page needs; scripts, other
//!   databases, other clients, whole-keyspace walks and administration are off unless named
//!   (and logged at start-up); a denied command gets an error **in its place**, keeping
//!   replies aligned, and aborts the transaction it is in ([`Relay`]);
//! - optional **confinement** of a token to a key prefix, on every key position the core's key
//!   table knows ([`confine`]), `SCAN` rewritten to see the prefix only;
//! - a start-up **check of the Redis ACL users** tokens map to: refuse to start if one can run
//!   scripts, admin or dangerous commands ([`acl`]);
//! - **limits one client cannot exhaust**: a session slot taken only after login, connections
//!   per address, a memory budget across sessions, message and command sizes, commands in
//!   flight (the bridge stops reading a client that far ahead), idle time and a maximum session
//!   age; replies are streamed, never held whole;
//! - Ctrl-C / SIGTERM stop accepting, let sessions receive the replies in flight, then close.
//!
//! It serves `ws://`: put it behind a TLS-terminating proxy (or on loopback beside one) for
//! `wss://`; the Redis side may use TLS (`rediss://`).
//!
//! Where it lives and why: a crate of its own beside the std adapter (not a binary inside it),
//! so that the library's users never compile a WebSocket server, a signal handler or a log
//! subscriber, while the bridge still reuses the std adapter's connection code (URL, TLS,
//! `AUTH`, `SELECT`, timeouts) and the core's decoder and key table. Arrows point down: bridge →
//! redpipe → redpipe-core.
//!
//! # Layout
//! - `cli.rs`, `config.rs`: the command line and what it configures
//! - `auth.rs`, `token.rs`: origins, static and signed tokens, logins
//! - `policy.rs`, `confine.rs`, `channels.rs`, `denial.rs`: what a session may send, and why
//!   not
//! - `acl.rs`: the start-up check of the Redis users
//! - `limits.rs`: per-address limits and the memory budget
//! - `relay/`: one session's streams, sans-I/O (tested in memory)
//! - `session.rs`, `session/pump.rs`: the tokio server and relay loop

pub mod acl;
pub mod auth;
pub mod channels;
pub mod cli;
pub mod config;
pub mod confine;
mod denial;
pub mod limits;
pub mod policy;
pub mod relay;
mod session;
pub mod token;

pub use auth::Token;
pub use channels::ChannelRules;
pub use config::{AclCheck, Config, ConfigError};
pub use policy::{Access, Policy};
pub use relay::{Relay, RelayError};
pub use session::{SUBSCRIBER_PROTOCOL, serve};
pub use token::{Grant, Secret, mint};
