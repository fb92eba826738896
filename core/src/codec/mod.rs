//! The codec floor (`no_std`, no allocator needed): commands to RESP bytes ([`encode`]), reply
//! bytes to borrowed replies ([`decode`], [`reply`]), typed reads of them ([`from_reply`],
//! and with `alloc` the owned [`value`]), the caller-supplied [`storage`] both write into, the
//! key's cluster [`hash_slot`], the streaming [`split`]ter a relay follows replies with, and the small `Copy` [`error`]s of all of these. Nothing here
//! knows a pipeline: the engine above it does.

pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod error;
pub(crate) mod from_reply;
pub(crate) mod hash_slot;
pub(crate) mod into_owned;
pub(crate) mod lex;
pub(crate) mod reply;
#[cfg(feature = "alloc")]
pub(crate) mod split;
pub(crate) mod storage;
#[cfg(feature = "alloc")]
pub(crate) mod value;
