//! # redpipe-core
//!
//! The sans-I/O engine of redpipe: it turns Redis commands into bytes, turns reply bytes back
//! into results, and hands every command a [`Deferred`] handle that is filled when the pipeline
//! has run. It does no I/O: a transport moves the bytes (see [`Pipeline`] for the four-call run
//! loop). `#![no_std]`, and it works without an allocator. With `alloc`, it also holds the
//! `Pipe` model that every adapter runs: see `ARCHITECTURE.md` for which crate does what.
//!
//! ```
//! use redpipe_core::{prelude::*, VecPipeline};
//!
//! // A reusable function: queues into whatever pipeline it is given and returns a handle.
//! fn increment_and_expire(p: &mut VecPipeline, key: &str) -> Deferred<i64> {
//!     let n = p.incr(key).expect("Vec storage grows");
//!     let _ = p.expire(key, 60).expect("Vec storage grows");
//!     n
//! }
//!
//! let mut p = VecPipeline::new();
//! let a = increment_and_expire(&mut p, "key1");
//! let b = increment_and_expire(&mut p, "key2");
//!
//! // Any transport: send these bytes, feed back what the server answers.
//! let out = p.poll_output().to_vec();
//! assert!(out.starts_with(b"*2\r\n$4\r\nINCR\r\n$4\r\nkey1\r\n"));
//! p.consume_output(out.len());
//! p.handle_input(b":1\r\n:1\r\n:7\r\n:1\r\n").unwrap();
//!
//! assert!(p.is_done());
//! assert_eq!((a.read(&p), b.read(&p)), (Ok(1), Ok(7)));
//! ```
//!
//! ## Layout
//!
//! One folder per floor, lowest first; each names only floors listed before it (`cargo xtask
//! layers` fails on an import circle). The root re-exports the public names, so no public path
//! names a floor.
//! - `codec/`: commands to RESP bytes and reply bytes to values; storage flavors; key slots.
//! - `engine/`: the slot pipeline ([`Pipeline`]): queued commands, [`Deferred`] slots, run loop.
//! - `cmd/`: the command builders by Redis type, as traits over any queue.
//! - `session/`: connection rules: handshake, broken state, stalls, retries.
//! - `cluster/`: Redis Cluster: keys of a command, the slot map, routing and redirects.
//! - `mux/`: many submitters' pipelines on one connection, in order.
//! - `cache/`: client-side caching (`alloc`): read replies kept until the server invalidates
//!   them; a pipeline's hits answered before it is sent.
//! - `pubsub/`: subscriptions: their commands, which names are confirmed, messages as borrowed
//!   views of the bytes read; which connection each name goes on (a cluster's slots); many
//!   subscribers on one connection (`Fanout`: reference-counted names, each frame to its own).
//! - `io/`: the run loop over an `embedded-io` stream (`Driver`).
//! - `model/`: the `Pipe` model (`alloc`): handles, scopes, named groups, backends.
//! - `keyspace/`, `record/`: typed keyspaces and structs over the model.
//!
//! ## Feature flags
//! - none: no allocator at all; storage from caller slices ([`SlicePipeline`]).
//! - `heapless`: fixed-capacity storage in `heapless::Vec` (`HeaplessPipeline`).
//! - `alloc`: growable storage (`VecPipeline`), owned results (`String`, `Vec`, `Value`),
//!   `on_execute` callbacks, and the `Pipe` model (handles that read their own results, named
//!   groups run by a `Backend` over `Transport`s, one owned `Error`).
//! - `std`: `HashMap`/`HashSet` results, `std::io::Error` conversions.
//! - `redis-protocol`: results as `redis_protocol` RESP2/RESP3 frames.
//! - `embedded-io`, `embedded-io-async`: the run loop and `io::Driver` over any stream.
//! - `transactions` (default): `MULTI`/`EXEC` with results unpacked into each command's slot
//!   ([`Pipeline::transaction`]).
//! - `scripting` (default): Lua scripts by SHA1 with an automatic `EVAL` fallback
//!   ([`Pipeline::eval`], [`Script`]).
//! - `small`: smaller code over speed (no fast paths, small float tables), for flash-tight
//!   targets.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
// The path `#[derive(Struct)]` writes, inside this crate as outside it.
#[cfg(feature = "derive")]
#[allow(unused_extern_crates)]
extern crate self as redpipe_core;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "alloc")]
pub mod cache;
pub mod cluster;
pub mod cmd;
mod codec;
mod engine;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "embedded-io")]
pub mod io;
pub mod keyspace;
#[cfg(feature = "alloc")]
mod model;
pub mod mux;
pub mod pubsub;
#[cfg(feature = "alloc")]
pub mod record;
pub mod session;

pub use codec::decode::{Limits, MAX_DEPTH, Scanner, Unsolicited, decode_reply, unsolicited};
pub use codec::encode::{
    ArgSink, Args, Cmd, Encoder, Iter, Joined, Scratch, ToArg, cmd, count_args, encode_command,
};
pub use codec::error::{
    CapacityError, ConvertError, DecodeError, Failure, IoKind, MessageSink, ReplyKind, Store,
};
pub use codec::from_reply::{FromReply, Items, Seq};
pub use codec::into_owned::IntoOwned;
pub use codec::reply::{
    Aggregate, AggregateIter, Double, Pairs, Redirect, Reply, ServerError, ServerErrorKind,
};
#[cfg(feature = "alloc")]
pub use codec::split::Splitter;
#[cfg(feature = "alloc")]
pub use codec::storage::ByteBuf;
pub use codec::storage::{Full, SliceStore, Storage};
#[cfg(feature = "alloc")]
pub use codec::value::Value;
#[cfg(feature = "heapless")]
pub use engine::HeaplessPipeline;
#[cfg(feature = "transactions")]
pub use engine::Transaction;
pub use engine::deferred::{Deferred, Replies, SlotError};
#[cfg(feature = "alloc")]
pub use engine::queue::OnExecute;
#[cfg(feature = "transactions")]
pub use engine::queue::Transact;
pub use engine::queue::{Compose, Queue};
pub use engine::read_buffer::{INITIAL_READ_BUFFER, ReadBuffer};
#[cfg(feature = "scripting")]
pub use engine::script::Script;
pub use engine::{
    Block, DEFAULT_REPLY_ESTIMATE, DEFAULT_WINDOW, DEFAULT_WINDOW_BYTES, Entry, Mark, Pipeline,
    ResolveError, SlicePipeline,
};
#[cfg(feature = "alloc")]
pub use engine::{Computed, VecPipeline, View};
#[cfg(feature = "alloc")]
pub use model::{
    AsyncBackend, AsyncTransport, Backend, Connector, DEFAULT, Derived, Error, Executed, Group,
    Handle, IoError, Loopback, Pipe, Result, Scope, Spare, Transport,
};
#[cfg(feature = "alloc")]
pub use record::Struct;
#[cfg(feature = "derive")]
pub use redpipe_derive::Struct;

/// Everything needed to queue commands and read their results.
pub mod prelude {
    #[cfg(feature = "alloc")]
    pub use crate::OnExecute;
    #[cfg(feature = "transactions")]
    pub use crate::Transact;
    pub use crate::cmd::End;
    #[cfg(feature = "scripting")]
    pub use crate::cmd::ScriptCommands;
    pub use crate::cmd::{
        HashCommands, HyperLogLogCommands, KeyCommands, ListCommands, ScanCommands, ServerCommands,
        SetCommands, SortedSetCommands, StringCommands,
    };
    pub use crate::{Compose, Deferred, FromReply, Queue, SlotError, cmd};
}
