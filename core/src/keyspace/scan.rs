//! Walking one key's members outside any pipeline, a page per round trip: RedPipe's
//! `sscan_iter`, `hscan_iter` and `zscan_iter`. (The keys of a keyspace: [`Scan`](super::Scan).)

use alloc::string::String;
use alloc::vec::Vec;
use core::marker::PhantomData;

use super::{FieldError, Keyspace, ValueOf};
use crate::codec::encode::cmd;
use crate::codec::from_reply::{FromReply, Seq};
use crate::engine::queue::Queue;
use crate::{Backend, ConvertError, Error, Pipe};

/// What one kind of `*SCAN` reads: its command and how a page's items become owned.
pub trait ScanKind {
    /// `SSCAN`, `HSCAN` or `ZSCAN`.
    const COMMAND: &'static str;
    /// An item of a page, as the reply has it.
    type Raw: FromReply + ?Sized;
    /// An item, owned.
    type Item;
    /// The owned item of a raw one.
    fn own(raw: <Self::Raw as FromReply>::Output<'_>) -> Self::Item;
}

/// Set members (`SSCAN`): the stored bytes of each.
#[derive(Debug, Clone, Copy)]
pub struct Members;

impl ScanKind for Members {
    const COMMAND: &'static str = "SSCAN";
    type Raw = &'static [u8];
    type Item = Vec<u8>;
    fn own(raw: &[u8]) -> Vec<u8> {
        raw.to_vec()
    }
}

/// Hash fields (`HSCAN`): each member's name and stored bytes.
#[derive(Debug, Clone, Copy)]
pub struct HashFields;

impl ScanKind for HashFields {
    const COMMAND: &'static str = "HSCAN";
    type Raw = (&'static [u8], &'static [u8]);
    type Item = (Vec<u8>, Vec<u8>);
    fn own((member, value): (&[u8], &[u8])) -> (Vec<u8>, Vec<u8>) {
        (member.to_vec(), value.to_vec())
    }
}

/// Sorted-set members (`ZSCAN`): each member's stored bytes and its score.
#[derive(Debug, Clone, Copy)]
pub struct Scored;

impl ScanKind for Scored {
    const COMMAND: &'static str = "ZSCAN";
    type Raw = (&'static [u8], f64);
    type Item = (Vec<u8>, f64);
    fn own((member, score): (&[u8], f64)) -> (Vec<u8>, f64) {
        (member.to_vec(), score)
    }
}

/// The members of one key of keyspace `K`, walked with `SSCAN`, `HSCAN` or `ZSCAN` (`S`),
/// one page per round trip on `backend`. Members are the stored bytes: read them with the
/// keyspace's value codec.
///
/// ```
/// use redpipe_core::keyspace::{KeyScan, Members};
/// use redpipe_core::{keyspace, Connector, Loopback};
/// keyspace! { struct Tags: Set { prefix: "T" } }
/// // A server whose SSCAN answers one last page (cursor 0) holding "red".
/// let backend = Connector(|_: &str| {
///     Ok(Loopback::new(|_: &[&[u8]]| b"*2\r\n$1\r\n0\r\n*1\r\n$3\r\nred\r\n".to_vec()))
/// });
/// let members: Vec<Vec<u8>> = KeyScan::<Tags, Members, _>::new(backend, "item:1", "*", None)?
///     .collect::<Result<_, _>>()?;
/// assert_eq!(members, [b"red".to_vec()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyScan<K: Keyspace, S: ScanKind, B: Backend + Clone> {
    backend: B,
    key: Vec<u8>,
    pattern: String,
    count: Option<u32>,
    cursor: Option<u64>,
    page: alloc::vec::IntoIter<S::Item>,
    _k: PhantomData<fn() -> K>,
}

impl<K: Keyspace, S: ScanKind, B: Backend + Clone> core::fmt::Debug for KeyScan<K, S, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyScan")
            .field("command", &S::COMMAND)
            .field("key", &String::from_utf8_lossy(&self.key))
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl<K: Keyspace, S: ScanKind, B: Backend + Clone> KeyScan<K, S, B> {
    /// A walk of `key`'s members matching `pattern` (a Redis glob), about `count` per page.
    /// Fails only when the key cannot be written with the keyspace's key codec.
    pub fn new(
        backend: B,
        key: &ValueOf<K::Key>,
        pattern: &str,
        count: Option<u32>,
    ) -> Result<Self, FieldError> {
        let key = K::redis_key(key)?;
        Ok(Self {
            backend,
            key,
            pattern: pattern.into(),
            count,
            cursor: Some(0),
            page: Vec::new().into_iter(),
            _k: PhantomData,
        })
    }
}

impl<K: Keyspace, S: ScanKind, B: Backend + Clone> Iterator for KeyScan<K, S, B> {
    type Item = Result<S::Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.page.next() {
                return Some(Ok(item));
            }
            let cursor = self.cursor?;
            let mut p = Pipe::with_backend(self.backend.clone());
            let count = self.count.map(|c| ("COUNT", c));
            let args = (
                self.key.as_slice(),
                cursor,
                "MATCH",
                self.pattern.as_str(),
                count,
            );
            let page = p.on(K::CONNECTION, |p| {
                Ok::<_, Error>(p.query::<(u64, Seq<S::Raw>)>(cmd(S::COMMAND).arg(args)))
            });
            let read = page.and_then(|page| {
                p.execute()?;
                let (next, items) = page.result()?;
                let items = items
                    .map(|item| item.map(S::own))
                    .collect::<Result<Vec<_>, ConvertError>>()
                    .map_err(Error::Convert)?;
                Ok((next, items))
            });
            match read {
                Ok((next, items)) => {
                    self.cursor = (next != 0).then_some(next);
                    self.page = items.into_iter();
                }
                Err(e) => {
                    self.cursor = None;
                    return Some(Err(e));
                }
            }
        }
    }
}
