//! Structs: typed records stored as hashes (RedPipe's `Struct`), with every operation queued on
//! any pipeline — create, load, update, incr, remove, pop, delete — and the loaded record a
//! handle readable once its pipe has run.
//!
//! A record is a Rust struct with `#[derive(Struct)]` (feature `derive`): the key field is kept
//! in the key (`KEYSPACE{key}`), not in the hash; each other field is a hash member written
//! with its codec (see [`StructField`]); `Option` fields may be absent, the others are required;
//! a `#[redpipe(extra)]` map keeps the members the struct does not declare.
//!
//! ```
//! # #[cfg(feature = "derive")] {
//! use redpipe_core::{prelude::*, record::StructOps, Struct, VecPipeline};
//!
//! #[derive(Struct, Debug, Clone, PartialEq)]
//! #[redpipe(keyspace = "U", ttl = 3600)]
//! struct User {
//!     #[redpipe(key)]
//!     user_id: String,
//!     name: String,
//!     last_seen: Option<i64>,
//!     admin: Option<bool>,
//! }
//!
//! let mut p = VecPipeline::new();
//! let u = User { user_id: "1".into(), name: "Jack".into(), last_seen: Some(5), admin: None };
//! let saved = u.create(&mut p).unwrap();
//! assert!(p.encoded().starts_with(b"*6\r\n$4\r\nHSET\r\n$4\r\nU{1}\r\n$4\r\nname\r\n$4\r\nJack\r\n$9\r\nlast_seen\r\n$1\r\n5\r\n"));
//! # }
//! ```
//!
//! Where this differs from RedPipe, on purpose: misuse (updating or removing the key field,
//! removing a required field, creating without a required field) is an error before anything
//! is queued, so nothing of that call is sent; reading bad data is an error naming the key and
//! the field instead of a silent coercion.

mod fields;
mod ops;

pub use fields::{ExtraFields, Lenient, Stored, StructField, decode_with, encode_with};
pub use ops::{Loaded, StructOps, Written};

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

pub use crate::model::StructError;

/// What the code `#[derive(Struct)]` writes refers to, whatever the user's crate has in scope.
#[doc(hidden)]
pub mod __private {
    pub use alloc::collections::BTreeMap;
    pub use alloc::string::String;
    pub use alloc::vec::Vec;
    pub use core::option::Option::{self, None, Some};
    pub use core::result::Result::{self, Err, Ok};
}

/// The members of a record to store: each name with its bytes, `None` for an absent field.
pub type Members = Vec<(String, Option<Vec<u8>>)>;

/// Which members [`StructOps::load`] reads by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Every member (`HGETALL`): RedPipe's default `'all'`.
    All,
    /// The declared fields only (`HMGET`): RedPipe's `'defined'`.
    Defined,
}

/// A record stored as a hash; implement it with `#[derive(Struct)]`.
pub trait Struct: Sized {
    /// The key prefix: records are `KEYSPACE{key}`.
    const KEYSPACE: &'static str;
    /// The named connection (`""`: default).
    const CONNECTION: &'static str;
    /// The name of the key field (kept in the key, not stored in the hash).
    const KEY_NAME: &'static str;
    /// The declared fields' member names.
    const FIELDS: &'static [&'static str];
    /// The fields that must always be there (the non-`Option` ones).
    const REQUIRED: &'static [&'static str];
    /// Seconds to live, refreshed by every write; `None` for no expiry.
    const TTL: Option<i64>;
    /// What [`StructOps::load`] reads.
    const LOAD: Load;

    /// The record's key.
    fn key(&self) -> &str;

    /// Every member to store, with its bytes; a declared field that is absent (`None`) comes
    /// as `None`. Extra members follow the declared ones.
    fn encode_fields(&self) -> Result<Members, StructError>;

    /// The record of `key` from its hash members.
    fn decode_fields(key: &str, members: BTreeMap<String, Vec<u8>>) -> Result<Self, StructError>;
}

#[cfg(test)]
#[cfg(feature = "derive")]
mod tests;
