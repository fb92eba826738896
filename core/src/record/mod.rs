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
use core::fmt;

use crate::error::{MessageSink, write_quoted};
use crate::keyspace::FieldError;

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

/// Why a struct operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StructError {
    /// A field's value cannot be written, or its stored bytes read.
    Field {
        /// The record's key.
        key: String,
        /// The member.
        field: String,
        /// What is wrong with it.
        error: FieldError,
    },
    /// A required field is missing: in the stored hash, or in a partial load.
    Missing {
        /// The record's key.
        key: String,
        /// The member.
        field: &'static str,
    },
    /// The key field cannot be changed or removed (delete the record instead).
    KeyField {
        /// The key field's name.
        field: &'static str,
    },
    /// A required field cannot be removed.
    Required {
        /// The member.
        field: String,
    },
    /// An extra member has the name of a declared field or of the key field.
    ExtraField {
        /// The member.
        field: String,
    },
    /// An update changes the key: it would write another record.
    OtherRecord {
        /// The record being updated.
        key: String,
    },
    /// The command's reply could not be read (the pipe failed, or a server error).
    Read(crate::Error),
}

impl StructError {
    /// The error for member `field` of record `key`.
    pub fn field(key: &str, field: &str, error: FieldError) -> Self {
        Self::Field {
            key: key.into(),
            field: field.into(),
            error,
        }
    }
}

impl fmt::Display for StructError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl StructError {
    /// Writes the message `Display` shows; in pieces, not `write!`: see
    /// `crate::error::write_all`.
    pub(crate) fn write_message<S: MessageSink + ?Sized>(&self, f: &mut S) -> fmt::Result {
        let (before, quoted, after) = match self {
            Self::Field { key, field, error } => {
                write_quoted(f, key)?;
                f.piece(", field ")?;
                write_quoted(f, field)?;
                f.piece(": ")?;
                return error.write_message(f);
            }
            Self::Missing { key, field } => {
                write_quoted(f, key)?;
                (": required field ", *field, " is missing")
            }
            Self::KeyField { field } => ("the key field ", *field, " cannot be changed or removed"),
            Self::Required { field } => ("required field ", field.as_str(), " cannot be removed"),
            Self::ExtraField { field } => (
                "extra member ",
                field.as_str(),
                " is a declared field or the key",
            ),
            Self::OtherRecord { key } => ("an update of ", key.as_str(), " changes its key"),
            Self::Read(e) => {
                f.piece("cannot read the record: ")?;
                return e.write_message(f);
            }
        };
        f.piece(before)?;
        write_quoted(f, quoted)?;
        f.piece(after)
    }
}

impl core::error::Error for StructError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Field { error, .. } => Some(error),
            Self::Read(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::Error> for StructError {
    fn from(e: crate::Error) -> Self {
        Self::Read(e)
    }
}

impl From<StructError> for crate::Error {
    fn from(e: StructError) -> Self {
        match e {
            StructError::Read(e) => e,
            other => crate::Error::Record(alloc::boxed::Box::new(other)),
        }
    }
}

#[cfg(test)]
#[cfg(feature = "derive")]
mod tests;
