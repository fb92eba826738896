//! Typed keyspaces: a key prefix, an optional named connection, and codecs for keys and
//! values, with every command of the key's Redis type queued on any pipeline and returning a
//! typed handle — RedPipe's `Keyspace` classes, written once over the [`Compose`] trait so that
//! the same code runs on the core [`Pipeline`](crate::Pipeline) (no allocator needed for the
//! commands that return no collection) and on every `Pipe`.
//!
//! Keys are `PREFIX{key}`, RedPipe's format: the braces are also a Redis Cluster hash tag, so
//! all the keys of one record land on one node. They are written from parts ([`Joined`]), never
//! formatted into a new string.
//!
//! ```
//! use redpipe_core::keyspace::{Integer, Keyspace, Text};
//! use redpipe_core::{keyspace, prelude::*, VecPipeline};
//!
//! keyspace! {
//!     /// Page views per page.
//!     pub struct Views: String { prefix: "V", value: Integer }
//! }
//!
//! let mut p = VecPipeline::new();
//! let n = Views::with(&mut p).incrby("home", 5)?;
//! assert_eq!(p.encoded(), b"*3\r\n$6\r\nINCRBY\r\n$7\r\nV{home}\r\n$1\r\n5\r\n");
//! # Ok::<(), redpipe_core::keyspace::FieldError>(())
//! ```
//!
//! Each kind of key has its own view methods: `String`, `Set`, `List`, `Hash`, `SortedSet`,
//! `HyperLogLog`, `Geo`, `Stream`; every kind has the generic key commands (`delete`, `exists`,
//! `expire`, `ttl`, `persist`, `rename`, `key_type`, `scan`). Values go through the keyspace's
//! value codec (see [`Field`] for the codecs and what they store); a value the codec cannot
//! write is an error before anything is queued.
//!
//! # Why a keyspace call returns a `Result` and a plain command does not
//!
//! A plain command cannot fail to queue (a full store on the engine's fixed storage aside); a
//! keyspace command can: its key or value goes through a codec that refuses what it cannot
//! store faithfully (an integer beyond ±2^53, a string-list item with a comma). Queueing the
//! other commands and dropping that one would break what surrounds it — inside `MULTI`/`EXEC`
//! the rest would run without it — so the call says so at once: `?` in a scope (`autoexec`,
//! `Pipe::scope`) rolls back what the scope queued and nothing is sent, as RedPipe raising while
//! a pipeline is built aborts its block. [`FieldError`] converts into `redpipe::Error`
//! (`Error::Field`, naming the codec), so `?` works in every scope, and the handle a call
//! returns is the same `Handle` as a plain command's, read with the same `result()?`.
//!
//! # Handle types: what you get, not how it is stored
//!
//! On a `Pipe` a keyspace command's handle is typed by the value it reads, owned, as a plain
//! command's is: a `String` keyspace with an [`Integer`] value gives `Handle<Option<i64>>` from
//! `get`, a [`Text`] one `Handle<Option<String>>`, `zrange` a `Handle<Vec<String>>`. The codec is
//! chosen when the command is queued and travels with the handle ([`IntoOwned`](crate::IntoOwned) and
//! [`Field::Owned`] say what each reads as), so a reusable function names no codec:
//!
//! ```
//! use redpipe_core::keyspace::{FieldError, Integer, Keyspace};
//! use redpipe_core::{keyspace, Connector, Handle, Loopback, Pipe};
//!
//! keyspace! {
//!     /// Page views per page.
//!     pub struct Views: String { prefix: "V", value: Integer }
//! }
//!
//! fn views<B>(p: &mut Pipe<B>, page: &str) -> Result<Handle<Option<i64>>, FieldError> {
//!     Views::with(p).get(page)
//! }
//!
//! // A stand-in server that stored `42` as RedPipe stores integers.
//! let backend = Connector(|_: &str| Ok(Loopback::new(|_: &[&[u8]]| b"$2\r\n42\r\n".to_vec())));
//! let mut p = Pipe::with_backend(backend);
//! let n = views(&mut p, "home")?;
//! p.execute()?;
//! assert_eq!(n.result()?, Some(42));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! On the core [`Pipeline`](crate::Pipeline), which has no allocator to make values owned, the
//! handle keeps the shape it is read through (`Deferred<Option<Decoded<Integer>>>`) and reads as
//! the codec's output, borrowed from the pipeline where it can be.

mod field;
#[cfg(feature = "alloc")]
mod hashed;
mod kinds;
mod notify;
#[cfg(feature = "alloc")]
mod owned;
#[cfg(feature = "alloc")]
mod scan;

pub use field::{
    Ascii, Binary, Boolean, Decoded, Field, FieldBuf, FieldError, Float, Integer, Text,
};
#[cfg(feature = "alloc")]
pub use hashed::HashedScan;
#[cfg(feature = "alloc")]
pub use hashed::{HashedString, HashedView, ScanPage};
#[cfg(feature = "alloc")]
pub use kinds::Fields;
pub use kinds::{
    GeoKeyspace, HashKeyspace, HyperLogLogKeyspace, ListKeyspace, SetKeyspace, Sort,
    SortedSetKeyspace, StreamKeyspace, StringKeyspace, Unit,
};
pub use notify::{NotificationPattern, notified_key};
#[cfg(feature = "alloc")]
pub use owned::{Codec, FieldValue, StringList};
#[cfg(feature = "json")]
pub use owned::{Dict, List};
#[cfg(feature = "alloc")]
pub use scan::{HashFields, KeyScan, Members, ScanKind, Scored};

use core::convert::Infallible;
use core::marker::PhantomData;

use crate::cmd::{Span, Ttl};
use crate::codec::encode::{Args, Joined, cmd};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Compose;

/// A keyspace: a key prefix, the connection its keys live on, and the codecs of its keys and
/// values. Declare one with [`keyspace!`](crate::keyspace!).
pub trait Keyspace: Sized {
    /// The key prefix: keys are `PREFIX{key}`.
    const PREFIX: &'static str;
    /// How the prefix and a key make the Redis key: `PREFIX{key}` unless said otherwise
    /// (RedPipe's `keyspace_template`, `"%s{%s}"`); `template: "%s:%s"` in
    /// [`keyspace!`](crate::keyspace!) gives `PREFIX:key`.
    const TEMPLATE: KeyTemplate = KeyTemplate::BRACES;
    /// The named connection its commands go to (`""`: the default one).
    const CONNECTION: &'static str;
    /// How keys are written inside the braces.
    type Key: Field + ?Sized;
    /// How values (string values, list, set and sorted-set members, hash values) are written
    /// and read.
    type Value: Field + ?Sized;

    /// This keyspace's commands, queued on `q`.
    fn with<Q: Compose>(q: &mut Q) -> View<'_, Self, Q> {
        View { q, _k: PhantomData }
    }

    /// The Redis key of `key` in this keyspace, `PREFIX{key}` (RedPipe's `redis_key`): for a
    /// command the keyspace does not have, or another program that names the same keys.
    ///
    /// ```
    /// use redpipe_core::keyspace::{Integer, Keyspace};
    /// redpipe_core::keyspace! { pub struct Prices: String { prefix: "P", key: Integer } }
    /// assert_eq!(Prices::redis_key(&42)?, b"P{42}");
    /// # Ok::<(), redpipe_core::keyspace::FieldError>(())
    /// ```
    #[cfg(feature = "alloc")]
    fn redis_key(key: &ValueOf<Self::Key>) -> Result<alloc::vec::Vec<u8>, FieldError> {
        let mut buf = FieldBuf::new();
        let Joined((head, prefix, middle, inner, tail)) = key_arg::<Self>(key, &mut buf)?;
        Ok([
            head.as_bytes(),
            prefix.as_bytes(),
            middle.as_bytes(),
            inner,
            tail.as_bytes(),
        ]
        .concat())
    }
}

/// The value type of a codec.
pub type ValueOf<F> = <F as Field>::Value;

/// A keyspace's commands on one pipeline: `Users::with(&mut pipe)`. Each method queues one
/// command (on the keyspace's connection) and returns its handle, or a [`FieldError`] when a
/// key or value cannot be written (then nothing is queued).
pub struct View<'q, K: Keyspace, Q: Compose> {
    q: &'q mut Q,
    _k: PhantomData<fn() -> K>,
}

impl<K: Keyspace, Q: Compose> core::fmt::Debug for View<'_, K, Q> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("View")
            .field("prefix", &K::PREFIX)
            .finish_non_exhaustive()
    }
}

/// How a keyspace's prefix and a key make the Redis key: RedPipe's `keyspace_template`, a
/// format with two `%s`, the prefix then the key (`"%s{%s}"`, the default, gives `PREFIX{key}`,
/// whose braces are also a Redis Cluster hash tag).
///
/// ```
/// use redpipe_core::keyspace::{KeyTemplate, Keyspace};
/// redpipe_core::keyspace! {
///     pub struct Colons: String { prefix: "user", template: "%s:%s" }
/// }
/// assert_eq!(Colons::redis_key("7")?, b"user:7");
/// assert_eq!(KeyTemplate::parse("%s{%s}"), KeyTemplate::BRACES);
/// # Ok::<(), redpipe_core::keyspace::FieldError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTemplate {
    /// Before the prefix.
    pub head: &'static str,
    /// Between the prefix and the key.
    pub middle: &'static str,
    /// After the key.
    pub tail: &'static str,
}

impl KeyTemplate {
    /// `PREFIX{key}`: RedPipe's default.
    pub const BRACES: Self = Self {
        head: "",
        middle: "{",
        tail: "}",
    };

    /// Reads a RedPipe template: exactly two `%s`, the prefix's then the key's. Anything else
    /// panics, which in a `const` (as [`keyspace!`](crate::keyspace!) uses it) is a compile
    /// error.
    pub const fn parse(template: &'static str) -> Self {
        let Some((head, rest)) = split_once_s(template) else {
            panic!("a key template has two %s: the prefix, then the key");
        };
        let Some((middle, tail)) = split_once_s(rest) else {
            panic!("a key template has two %s: the prefix, then the key");
        };
        if split_once_s(tail).is_some() {
            panic!("a key template has two %s: the prefix, then the key");
        }
        Self { head, middle, tail }
    }
}

/// `s` split around its first `%s`.
const fn split_once_s(s: &'static str) -> Option<(&'static str, &'static str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'%' && bytes[i + 1] == b's' {
            let (before, after) = s.split_at(i);
            let (_, after) = after.split_at(2);
            return Some((before, after));
        }
        i += 1;
    }
    None
}

/// The key argument `PREFIX{key}` (as the keyspace's template says), from parts.
pub(crate) type KeyArg<'b> = Joined<(
    &'static str,
    &'static str,
    &'static str,
    &'b [u8],
    &'static str,
)>;

/// Encodes `key` of keyspace `K` as the argument `PREFIX{key}` (as its template says).
pub(crate) fn key_arg<'b, K: Keyspace>(
    key: &'b ValueOf<K::Key>,
    buf: &'b mut FieldBuf,
) -> Result<KeyArg<'b>, FieldError> {
    let t = K::TEMPLATE;
    Ok(Joined((
        t.head,
        K::PREFIX,
        t.middle,
        K::Key::encode(key, buf)?,
        t.tail,
    )))
}

impl<'q, K: Keyspace, Q: Compose> View<'q, K, Q> {
    /// Queues `name args...` on the keyspace's connection.
    pub(crate) fn send<T: FromReply + ?Sized, A: Args>(
        &mut self,
        name: &'static str,
        args: A,
    ) -> Q::Handle<T> {
        let Ok(handle) = self.q.on(K::CONNECTION, |q| {
            Ok::<_, Infallible>(q.query(cmd(name).arg(args)))
        });
        handle
    }

    /// Queues `name key args...`.
    pub(crate) fn keyed<T: FromReply + ?Sized, A: Args>(
        &mut self,
        name: &'static str,
        key: &ValueOf<K::Key>,
        args: A,
    ) -> Result<Q::Handle<T>, FieldError> {
        let mut buf = FieldBuf::new();
        let key = key_arg::<K>(key, &mut buf)?;
        Ok(self.send(name, (key, args)))
    }

    /// Queues `name key value args...`, the value through the keyspace's value codec.
    pub(crate) fn keyed_value<T: FromReply + ?Sized, A: Args>(
        &mut self,
        name: &'static str,
        key: &ValueOf<K::Key>,
        value: &ValueOf<K::Value>,
        args: A,
    ) -> Result<Q::Handle<T>, FieldError> {
        let mut vb = FieldBuf::new();
        let value = K::Value::encode(value, &mut vb)?;
        self.keyed(name, key, (value, args))
    }

    /// The pipeline under the view, for commands it does not cover.
    pub fn queue(&mut self) -> &mut Q {
        self.q
    }

    // ---- commands on keys of any kind ----

    /// `DEL key`: 1 when the key existed.
    pub fn delete(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("DEL", key, ())
    }

    /// `DEL key...` of several keys of the keyspace (RedPipe's `delete(*names)`): how many
    /// existed.
    #[cfg(feature = "alloc")]
    pub fn delete_many<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        self.on_keys("DEL", keys)
    }

    /// Queues `name key...` over several keys of the keyspace.
    #[cfg(feature = "alloc")]
    pub(crate) fn on_keys<'k>(
        &mut self,
        name: &'static str,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        let keys = kinds::Many::keys::<K>(keys)?;
        Ok(self.send(name, keys))
    }

    /// `EXISTS key`: 1 when the key exists.
    pub fn exists(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<bool>, FieldError> {
        self.keyed("EXISTS", key, ())
    }

    /// `EXPIRE key seconds` (`PEXPIRE key milliseconds` for a [`Span`] with a fraction of a
    /// second): whether a timeout was set.
    pub fn expire(
        &mut self,
        key: &ValueOf<K::Key>,
        ttl: impl Span,
    ) -> Result<Q::Handle<bool>, FieldError> {
        let ttl = Ttl::of(ttl);
        self.keyed(ttl.pick("EXPIRE", "PEXPIRE"), key, ttl.value())
    }

    /// `PEXPIRE key milliseconds`.
    pub fn pexpire(
        &mut self,
        key: &ValueOf<K::Key>,
        millis: i64,
    ) -> Result<Q::Handle<bool>, FieldError> {
        self.keyed("PEXPIRE", key, millis)
    }

    /// `PEXPIREAT key unix-milliseconds`.
    pub fn pexpireat(
        &mut self,
        key: &ValueOf<K::Key>,
        at_millis: i64,
    ) -> Result<Q::Handle<bool>, FieldError> {
        self.keyed("PEXPIREAT", key, at_millis)
    }

    /// `TTL key`: seconds to live; -1 without expiry, -2 when missing.
    pub fn ttl(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("TTL", key, ())
    }

    /// `PTTL key`: milliseconds to live.
    pub fn pttl(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("PTTL", key, ())
    }

    /// `PERSIST key`: whether a timeout was removed.
    pub fn persist(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<bool>, FieldError> {
        self.keyed("PERSIST", key, ())
    }

    /// `TYPE key`.
    pub fn key_type(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::Handle<&'static str>, FieldError> {
        self.keyed("TYPE", key, ())
    }

    /// `RENAME key new` within the keyspace.
    pub fn rename(
        &mut self,
        key: &ValueOf<K::Key>,
        new: &ValueOf<K::Key>,
    ) -> Result<Q::Handle<()>, FieldError> {
        let mut buf = FieldBuf::new();
        let new = key_arg::<K>(new, &mut buf)?;
        self.keyed("RENAME", key, new)
    }

    /// `RENAMENX key new` within the keyspace: whether it was renamed.
    pub fn renamenx(
        &mut self,
        key: &ValueOf<K::Key>,
        new: &ValueOf<K::Key>,
    ) -> Result<Q::Handle<bool>, FieldError> {
        let mut buf = FieldBuf::new();
        let new = key_arg::<K>(new, &mut buf)?;
        self.keyed("RENAMENX", key, new)
    }

    /// `SCAN cursor MATCH PREFIX{pattern} [COUNT count]`: one page of the keyspace's keys, as
    /// the next cursor and the keys (full names; `Scan` strips the prefix). `pattern` is a
    /// Redis glob inside the braces (`*` for every key).
    pub fn scan(
        &mut self,
        cursor: u64,
        pattern: &str,
        count: Option<u32>,
    ) -> Q::Handle<(u64, crate::codec::from_reply::Seq<&'static [u8]>)> {
        let count = count.map(|c| ("COUNT", c));
        let literal = Literal::of::<K>();
        let matching = Joined((
            literal.get(0),
            literal.get(1),
            literal.get(2),
            pattern.as_bytes(),
            literal.get(3),
        ));
        self.send("SCAN", (cursor, "MATCH", matching, count))
    }
}

/// The literal parts of keyspace `K`'s keys around the key (its template's head, the prefix,
/// the template's middle and tail), glob-escaped where needed: for patterns that match the
/// keyspace's keys (`SCAN MATCH`, notification channels).
pub(crate) struct Literal {
    raw: [&'static str; 4],
    escaped: [Option<heapless::Vec<u8, 128>>; 4],
}

impl Literal {
    pub(crate) fn of<K: Keyspace>() -> Self {
        let t = K::TEMPLATE;
        let raw = [t.head, K::PREFIX, t.middle, t.tail];
        Self {
            raw,
            escaped: raw.map(glob_escaped),
        }
    }

    /// Part `i` (0 to 3), as the pattern takes it.
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        match &self.escaped[i] {
            Some(e) => e.as_slice(),
            None => self.raw[i].as_bytes(),
        }
    }
}

/// `prefix` with the glob characters `* ? [ ] \` escaped, so that `SCAN MATCH` takes it
/// literally; `None` when it needs no escaping, or is too long to escape here (over 64 bytes
/// of glob characters: then it is sent as it is).
fn glob_escaped(prefix: &str) -> Option<heapless::Vec<u8, 128>> {
    let special = |b: &u8| matches!(b, b'*' | b'?' | b'[' | b']' | b'\\');
    if !prefix.as_bytes().iter().any(special) {
        return None;
    }
    let mut out = heapless::Vec::new();
    for b in prefix.as_bytes() {
        if special(b) {
            out.push(b'\\').ok()?;
        }
        out.push(*b).ok()?;
    }
    Some(out)
}

/// The key inside `PREFIX{...}` (as the keyspace's template says) of a full key name from a
/// [`View::scan`] page, if it belongs to keyspace `K`.
pub fn strip_key<K: Keyspace>(full: &[u8]) -> Option<&[u8]> {
    let t = K::TEMPLATE;
    full.strip_prefix(t.head.as_bytes())?
        .strip_prefix(K::PREFIX.as_bytes())?
        .strip_prefix(t.middle.as_bytes())?
        .strip_suffix(t.tail.as_bytes())
}

/// Iterates every key of keyspace `K` (outside any pipeline: each page is one round trip), as
/// the stored bytes inside the braces (decode them with the keyspace's key codec). Made by
/// [`Scan::new`]; RedPipe's `scan_iter`.
///
/// On a connection name that is a Redis Cluster it walks every primary, one after another
/// (the cluster client's `SCAN` cursor says which node: [`ClusterRun`](crate::cluster::ClusterRun)).
#[cfg(feature = "alloc")]
pub struct Scan<K: Keyspace, B: crate::Backend + Clone> {
    backend: B,
    pattern: alloc::string::String,
    count: Option<u32>,
    cursor: Option<u64>,
    page: alloc::vec::IntoIter<alloc::vec::Vec<u8>>,
    _k: PhantomData<fn() -> K>,
}

#[cfg(feature = "alloc")]
impl<K: Keyspace, B: crate::Backend + Clone> Scan<K, B> {
    /// Every key of `K` matching `pattern` (`*`: all), on pipes of `backend`.
    pub fn new(backend: B, pattern: &str, count: Option<u32>) -> Self {
        Self {
            backend,
            pattern: pattern.into(),
            count,
            cursor: Some(0),
            page: alloc::vec::Vec::new().into_iter(),
            _k: PhantomData,
        }
    }
}

#[cfg(feature = "alloc")]
impl<K: Keyspace, B: crate::Backend + Clone> Iterator for Scan<K, B> {
    type Item = Result<alloc::vec::Vec<u8>, crate::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(full) = self.page.next() {
                let Some(key) = strip_key::<K>(&full) else {
                    continue;
                };
                return Some(Ok(key.to_vec()));
            }
            let cursor = self.cursor?;
            let mut p = crate::Pipe::with_backend(self.backend.clone());
            let page = K::with(&mut p).scan(cursor, &self.pattern, self.count);
            if let Err(e) = p.execute() {
                self.cursor = None;
                return Some(Err(e));
            }
            let (next, keys) = match page.result() {
                Ok((next, keys)) => (
                    next,
                    keys.filter_map(Result::ok)
                        .map(<[u8]>::to_vec)
                        .collect::<alloc::vec::Vec<_>>(),
                ),
                Err(e) => {
                    self.cursor = None;
                    return Some(Err(e));
                }
            };
            self.cursor = (next != 0).then_some(next);
            self.page = keys.into_iter();
        }
    }
}

/// Declares a keyspace: a unit struct implementing [`Keyspace`] and the marker trait of its
/// kind (`String`, `Set`, `List`, `Hash`, `SortedSet`, `HyperLogLog`, `Geo`, `Stream`).
/// `template` (RedPipe's `keyspace_template`, default `"%s{%s}"`: see [`KeyTemplate`]),
/// `connection` (default `""`), `key` (default [`Text`]) and `value` (default [`Text`]) are
/// optional, in that order; a `Hash` may then name the codec of its member names (`member`,
/// RedPipe's `memberparse`, default [`Text`]) and give some members value codecs of their own
/// (`fields`, RedPipe's `Hash.fields`, by the member's stored text; feature `alloc`), read and
/// written as `FieldValue`s.
///
/// ```
/// use redpipe_core::keyspace;
/// use redpipe_core::keyspace::{Float, Integer};
/// keyspace! {
///     /// Followers of a user, by the time they followed.
///     pub struct Followers: SortedSet { prefix: "F", connection: "social" }
/// }
/// keyspace! {
///     /// Prices by item number.
///     pub struct Prices: String { prefix: "P", key: Integer, value: Float }
/// }
/// # #[cfg(feature = "alloc")]
/// keyspace! {
///     /// Profiles: text members, but for these two.
///     pub struct Profiles: Hash { prefix: "P", fields: { "age" => Integer, "tags" => StringList } }
/// }
/// keyspace! {
///     /// Visits per hour of the day: integer member names.
///     pub struct Hours: Hash { prefix: "H", value: Integer, member: Integer }
/// }
/// ```
#[macro_export]
macro_rules! keyspace {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident : $kind:ident {
            prefix: $prefix:expr
            $(, template: $template:expr)?
            $(, connection: $conn:expr)?
            $(, key: $key:ty)?
            $(, value: $value:ty)?
            $(, member: $member_ty:ty)?
            $(, fields: { $($member:literal => $codec:ident),* $(,)? })?
            $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;

        impl $crate::keyspace::Keyspace for $name {
            const PREFIX: &'static str = $prefix;
            $(const TEMPLATE: $crate::keyspace::KeyTemplate =
                $crate::keyspace::KeyTemplate::parse($template);)?
            const CONNECTION: &'static str = $crate::keyspace!(@or $($conn)?, "");
            type Key = $crate::keyspace!(@ty $($key)?, $crate::keyspace::Text);
            type Value = $crate::keyspace!(@ty $($value)?, $crate::keyspace::Text);
        }

        $crate::keyspace!(@kind $kind, $name, [$($member_ty)?] $(, { $($member => $codec),* })?);
    };
    (@or , $default:expr) => { $default };
    (@or $given:expr, $default:expr) => { $given };
    (@ty , $default:ty) => { $default };
    (@ty $given:ty, $default:ty) => { $given };
    (@kind String, $name:ident, []) => { impl $crate::keyspace::StringKeyspace for $name {} };
    (@kind Set, $name:ident, []) => { impl $crate::keyspace::SetKeyspace for $name {} };
    (@kind List, $name:ident, []) => { impl $crate::keyspace::ListKeyspace for $name {} };
    (@kind Hash, $name:ident, [$($member_ty:ty)?]) => {
        impl $crate::keyspace::HashKeyspace for $name {
            type Member = $crate::keyspace!(@ty $($member_ty)?, $crate::keyspace::Text);
        }
    };
    (@kind Hash, $name:ident, [$($member_ty:ty)?], { $($member:literal => $codec:ident),* }) => {
        impl $crate::keyspace::HashKeyspace for $name {
            type Member = $crate::keyspace!(@ty $($member_ty)?, $crate::keyspace::Text);
            fn codec(member: &str) -> $crate::keyspace::Codec {
                match member {
                    $($member => $crate::keyspace::Codec::$codec,)*
                    _ => $crate::keyspace::Codec::Text,
                }
            }
        }
    };
    (@kind SortedSet, $name:ident, []) => { impl $crate::keyspace::SortedSetKeyspace for $name {} };
    (@kind HyperLogLog, $name:ident, []) => { impl $crate::keyspace::HyperLogLogKeyspace for $name {} };
    (@kind Geo, $name:ident, []) => { impl $crate::keyspace::GeoKeyspace for $name {} };
    (@kind Stream, $name:ident, []) => { impl $crate::keyspace::StreamKeyspace for $name {} };
}
