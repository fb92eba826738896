//! Keyspace notifications: the channels a keyspace's keys are notified on, and the key a
//! notification names.
//!
//! With `notify-keyspace-events` set on the server (`K` plus the classes of events: `KA` for
//! all, `K$` for strings, `Kz` for sorted sets...), every change to a key is published to the
//! channel `__keyspace@<db>__:<key>`, the payload naming the event (`set`, `del`, `expired`,
//! `zadd`...). A keyspace subscribes to the pattern of its own keys and reads back the key
//! inside its template. The server does not set `notify-keyspace-events` by default: nothing
//! is published until it is (`CONFIG SET notify-keyspace-events KA`, or the config file).

use core::marker::PhantomData;

use super::{Keyspace, Literal, strip_key};
use crate::codec::encode::{ArgSink, Args};

/// What every keyspace notification channel starts with, before the database number.
const HEAD: &[u8] = b"__keyspace@";
/// Between the database number and the key.
const MIDDLE: &[u8] = b"__:";

/// The channel pattern of keyspace `K`'s notifications in database `db`, to `PSUBSCRIBE`:
/// `__keyspace@<db>__:PREFIX{*}` (as `K`'s template writes keys, its literal parts glob-escaped
/// as [`View::scan`](super::View::scan) escapes them). An argument, written from parts: no
/// allocation.
///
/// ```
/// use redpipe_core::keyspace::NotificationPattern;
/// use redpipe_core::{cmd, keyspace, VecPipeline};
/// keyspace! { pub struct Followers: SortedSet { prefix: "F*" } }
/// let mut p = VecPipeline::new();
/// let _ = p.query::<()>(cmd("PSUBSCRIBE").arg(NotificationPattern::<Followers>::new(2)));
/// assert_eq!(p.encoded(), b"*2\r\n$10\r\nPSUBSCRIBE\r\n$21\r\n__keyspace@2__:F\\*{*}\r\n");
/// ```
pub struct NotificationPattern<K> {
    db: u32,
    _k: PhantomData<fn() -> K>,
}

impl<K> core::fmt::Debug for NotificationPattern<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NotificationPattern")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl<K> Clone for NotificationPattern<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for NotificationPattern<K> {}

impl<K: Keyspace> NotificationPattern<K> {
    /// The pattern of `K`'s keys in database `db`.
    pub const fn new(db: u32) -> Self {
        Self {
            db,
            _k: PhantomData,
        }
    }
}

impl<K: Keyspace> Args for NotificationPattern<K> {
    fn write_args<W: ArgSink + ?Sized>(&self, out: &mut W) {
        let literal = Literal::of::<K>();
        let mut db = itoa::Buffer::new();
        out.parts(&[
            HEAD,
            db.format(self.db).as_bytes(),
            MIDDLE,
            literal.get(0),
            literal.get(1),
            literal.get(2),
            b"*",
            literal.get(3),
        ]);
    }
}

/// The key (inside `K`'s template: the bytes its key codec decodes) that a notification on
/// `channel` names, if `channel` is the keyspace channel of one of `K`'s keys in database
/// `db`.
///
/// ```
/// use redpipe_core::keyspace::notified_key;
/// redpipe_core::keyspace! { pub struct Followers: SortedSet { prefix: "F" } }
/// assert_eq!(notified_key::<Followers>(0, b"__keyspace@0__:F{bob}"), Some(&b"bob"[..]));
/// assert_eq!(notified_key::<Followers>(1, b"__keyspace@0__:F{bob}"), None);
/// assert_eq!(notified_key::<Followers>(0, b"__keyspace@0__:G{bob}"), None);
/// ```
pub fn notified_key<K: Keyspace>(db: u32, channel: &[u8]) -> Option<&[u8]> {
    let mut digits = itoa::Buffer::new();
    let full = channel
        .strip_prefix(HEAD)?
        .strip_prefix(digits.format(db).as_bytes())?
        .strip_prefix(MIDDLE)?;
    strip_key::<K>(full)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::codec::encode::ArgSink;

    crate::keyspace! { struct Plain: String { prefix: "P" } }
    crate::keyspace! { struct Globby: Hash { prefix: "a[b]?", template: "x*%s:%s:end" } }

    fn written<A: Args>(a: &A) -> Vec<u8> {
        struct Out(Vec<u8>);
        impl ArgSink for Out {
            fn bytes(&mut self, b: &[u8]) {
                self.0.extend_from_slice(b);
            }
            fn parts(&mut self, parts: &[&[u8]]) {
                parts.iter().for_each(|p| self.0.extend_from_slice(p));
            }
        }
        let mut out = Out(Vec::new());
        a.write_args(&mut out);
        out.0
    }

    #[test]
    fn patterns_follow_the_template_and_escape_its_literals() {
        assert_eq!(
            written(&NotificationPattern::<Plain>::new(0)),
            b"__keyspace@0__:P{*}"
        );
        assert_eq!(
            written(&NotificationPattern::<Globby>::new(15)),
            b"__keyspace@15__:x\\*a\\[b\\]\\?:*:end"
        );
    }

    /// A database, a channel, and the key it names for `Plain`.
    type Case = (u32, &'static [u8], Option<&'static [u8]>);

    #[test]
    fn keys_come_back_only_from_their_keyspace_and_database() {
        let cases: &[Case] = &[
            (0, b"__keyspace@0__:P{k}", Some(b"k")),
            (0, b"__keyspace@0__:P{}", Some(b"")),
            (0, b"__keyspace@0__:P{a}b}", Some(b"a}b")),
            (10, b"__keyspace@10__:P{k}", Some(b"k")),
            (1, b"__keyspace@10__:P{k}", None),
            (0, b"__keyevent@0__:set", None),
            (0, b"__keyspace@0__:Q{k}", None),
            (0, b"__keyspace@0__:P{k", None),
            (0, b"P{k}", None),
        ];
        for (db, channel, want) in cases {
            assert_eq!(
                notified_key::<Plain>(*db, channel),
                *want,
                "{}",
                std::string::String::from_utf8_lossy(channel)
            );
        }
        assert_eq!(
            notified_key::<Globby>(3, b"__keyspace@3__:x*a[b]?:7:end"),
            Some(&b"7"[..])
        );
    }
}
