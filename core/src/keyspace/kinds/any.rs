//! Commands on keys of any kind that RedPipe's `Keyspace` has beside the generic ones in the
//! parent module: `DUMP`/`RESTORE` (raw bytes, never through a codec: the serialized form is
//! Redis's own), `OBJECT`, `SORT` and `EVAL` with the keyspace's keys.

use crate::cmd::Span;
use crate::codec::encode::{ArgSink, Args};
use crate::codec::error::FieldError;
use crate::engine::queue::Compose;
use crate::keyspace::{Keyspace, ValueOf, View};

/// The options of `SORT` (RedPipe's `sort(name, start, num, by, get, desc, alpha)`): patterns
/// are whole Redis key patterns (`weight_*`, `#` for the element itself), not keyspace keys.
///
/// ```
/// use redpipe_core::keyspace::Sort;
/// let by_weight = Sort::new().by("weight_*").get("#").get("name_*").limit(0, 10).desc();
/// # let _ = by_weight;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sort<'a> {
    by: Option<&'a str>,
    limit: Option<(i64, i64)>,
    get: [Option<&'a str>; 4],
    desc: bool,
    alpha: bool,
}

impl<'a> Sort<'a> {
    /// Numeric, ascending, every element.
    pub const fn new() -> Self {
        Self {
            by: None,
            limit: None,
            get: [None; 4],
            desc: false,
            alpha: false,
        }
    }

    /// `BY pattern`: sort by the values of other keys (`nosort` to keep the stored order).
    pub const fn by(mut self, pattern: &'a str) -> Self {
        self.by = Some(pattern);
        self
    }

    /// `LIMIT offset count`.
    pub const fn limit(mut self, offset: i64, count: i64) -> Self {
        self.limit = Some((offset, count));
        self
    }

    /// `GET pattern`, up to four of them, in order (`#`: the element itself); more are ignored.
    pub const fn get(mut self, pattern: &'a str) -> Self {
        let mut i = 0;
        while i < self.get.len() {
            if self.get[i].is_none() {
                self.get[i] = Some(pattern);
                break;
            }
            i += 1;
        }
        self
    }

    /// `DESC`.
    pub const fn desc(mut self) -> Self {
        self.desc = true;
        self
    }

    /// `ALPHA`: compare as strings.
    pub const fn alpha(mut self) -> Self {
        self.alpha = true;
        self
    }
}

impl Args for Sort<'_> {
    fn write_args<W: ArgSink + ?Sized>(&self, out: &mut W) {
        if let Some(by) = self.by {
            ("BY", by).write_args(out);
        }
        if let Some((offset, count)) = self.limit {
            ("LIMIT", offset, count).write_args(out);
        }
        for get in self.get.iter().flatten() {
            ("GET", *get).write_args(out);
        }
        if self.desc {
            out.arg(&"DESC");
        }
        if self.alpha {
            out.arg(&"ALPHA");
        }
    }
}

impl<K: Keyspace, Q: Compose> View<'_, K, Q> {
    /// `DUMP key`: Redis's serialized form of the value, as bytes (no codec), `None` when the
    /// key does not exist.
    pub fn dump(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<Option<&'static [u8]>>, FieldError> {
        self.keyed("DUMP", key, ()).map(Q::owned)
    }

    /// `RESTORE key ttl serialized [REPLACE]`: a value from [`dump`](Self::dump); `ttl` is its
    /// time to live (0: none), `replace` overwrites an existing key (else that is an error).
    pub fn restore(
        &mut self,
        key: &ValueOf<K::Key>,
        ttl: impl Span,
        serialized: &[u8],
        replace: bool,
    ) -> Result<Q::Handle<()>, FieldError> {
        let ttl = ttl.millis().max(0);
        self.keyed(
            "RESTORE",
            key,
            (ttl, serialized, replace.then_some("REPLACE")),
        )
    }

    /// `OBJECT ENCODING key`: how Redis stores the value (`listpack`, `int`...), `None` when
    /// the key does not exist.
    pub fn object_encoding(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<Option<&'static str>>, FieldError> {
        self.object("ENCODING", key).map(Q::owned)
    }

    /// `OBJECT IDLETIME key`: seconds since the value was last read or written (an error
    /// reply under an LFU eviction policy).
    pub fn object_idletime(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::Handle<Option<i64>>, FieldError> {
        self.object("IDLETIME", key)
    }

    /// `OBJECT REFCOUNT key`.
    pub fn object_refcount(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::Handle<Option<i64>>, FieldError> {
        self.object("REFCOUNT", key)
    }

    /// `OBJECT FREQ key`: the access frequency (only under an LFU eviction policy).
    pub fn object_freq(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::Handle<Option<i64>>, FieldError> {
        self.object("FREQ", key)
    }

    /// `OBJECT subcommand key`.
    fn object<T: crate::FromReply + ?Sized>(
        &mut self,
        subcommand: &'static str,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::Handle<T>, FieldError> {
        let mut buf = crate::keyspace::FieldBuf::new();
        let key = crate::keyspace::key_arg::<K>(key, &mut buf)?;
        Ok(self.send("OBJECT", (subcommand, key)))
    }

    /// `SORT key [BY ..] [LIMIT ..] [GET ..] [ASC|DESC] [ALPHA]`: the sorted elements, or what
    /// the `GET` patterns fetched (`None` for a missing one), as text.
    #[cfg(feature = "alloc")]
    pub fn sort(
        &mut self,
        key: &ValueOf<K::Key>,
        options: Sort<'_>,
    ) -> Result<Q::OwnedHandle<alloc::vec::Vec<Option<&'static str>>>, FieldError> {
        self.keyed("SORT", key, options).map(Q::owned)
    }

    /// `SORT key ... STORE destination`: the sorted elements stored as a list at `destination`
    /// (a key of this keyspace); how many.
    pub fn sort_store(
        &mut self,
        key: &ValueOf<K::Key>,
        options: Sort<'_>,
        destination: &ValueOf<K::Key>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let mut buf = crate::keyspace::FieldBuf::new();
        let dest = crate::keyspace::key_arg::<K>(destination, &mut buf)?;
        self.keyed("SORT", key, (options, "STORE", dest))
    }

    /// `EVAL`/`EVALSHA` of `script` with keys of this keyspace (each written as the keyspace
    /// writes keys: RedPipe's `eval` applies `redis_key` to the keys) and plain `args`, on the
    /// keyspace's connection: `Followers::with(p).eval::<i64>(&script, ["u1"], (5,))`.
    #[cfg(all(feature = "alloc", feature = "scripting"))]
    pub fn eval<'k, T: crate::FromReply + ?Sized>(
        &mut self,
        script: &crate::Script<'_>,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
        args: impl Args,
    ) -> Result<Q::Handle<T>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        let keys = super::Many::keys::<K>(keys)?;
        let Ok(handle) = self.queue().on(K::CONNECTION, |q| {
            Ok::<_, core::convert::Infallible>(q.eval_script(script, keys, args))
        });
        Ok(handle)
    }
}
