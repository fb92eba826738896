//! [`HashedString`]: RedPipe's `HashedString` — string keys spread over a fixed number of hash
//! shards, so that millions of small values cost a few large hashes instead of millions of keys.

use core::convert::Infallible;
use core::marker::PhantomData;

use md5::{Digest, Md5};

use super::{Decoded, Field, FieldBuf, FieldError, Keyspace, ValueOf};
use crate::codec::encode::{Joined, cmd};
use crate::engine::queue::Compose;

/// A `HashedString` keyspace: key `k` is member `k` of the hash `PREFIX{shard}`, where `shard`
/// is the MD5 of `k` (as a 128-bit number) modulo `SHARDS`, exactly as RedPipe chooses it, so
/// that both read the same data. Keys are text (RedPipe's `TextField`).
///
/// ```
/// use redpipe_core::keyspace::{HashedString, Keyspace, Text};
/// use redpipe_core::{keyspace, VecPipeline};
/// keyspace! {
///     /// The index of my things, in 1000 shards.
///     pub struct MyIndex: String { prefix: "my_index" }
/// }
/// assert_eq!(HashedString::<MyIndex, 1000>::shard("foo123"), 416); // as Python RedPipe
/// let mut p = VecPipeline::new();
/// let _ = HashedString::<MyIndex, 1000>::with(&mut p).set("foo123", "test")?;
/// assert_eq!(p.encoded(), b"*4\r\n$4\r\nHSET\r\n$13\r\nmy_index{416}\r\n$6\r\nfoo123\r\n$4\r\ntest\r\n");
/// # Ok::<(), redpipe_core::keyspace::FieldError>(())
/// ```
pub struct HashedString<K: Keyspace, const SHARDS: u32>(PhantomData<fn() -> K>);

impl<K: Keyspace, const SHARDS: u32> core::fmt::Debug for HashedString<K, SHARDS> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "HashedString({}, {SHARDS})", K::PREFIX)
    }
}

impl<K: Keyspace, const SHARDS: u32> HashedString<K, SHARDS> {
    /// The shard of `key`: `int(md5(key).hexdigest(), 16) % SHARDS`, as RedPipe computes it.
    pub fn shard(key: &str) -> u32 {
        let digest = Md5::digest(key.as_bytes());
        let mut n = 0u128;
        for b in digest.iter() {
            n = n << 8 | u128::from(*b);
        }
        (n % u128::from(SHARDS.max(1))) as u32
    }

    /// The keyspace's commands, queued on `q`.
    pub fn with<Q: Compose>(q: &mut Q) -> HashedView<'_, K, SHARDS, Q> {
        HashedView { q, _k: PhantomData }
    }
}

/// One `HSCAN` page: the next cursor and the key/value pairs.
pub type ScanPage = (
    u64,
    crate::codec::from_reply::Seq<(&'static [u8], &'static [u8])>,
);

/// A [`HashedString`] keyspace's commands on one pipeline.
pub struct HashedView<'q, K: Keyspace, const SHARDS: u32, Q: Compose> {
    q: &'q mut Q,
    _k: PhantomData<fn() -> K>,
}

impl<K: Keyspace, const SHARDS: u32, Q: Compose> core::fmt::Debug for HashedView<'_, K, SHARDS, Q> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "HashedView({}, {SHARDS})", K::PREFIX)
    }
}

impl<K: Keyspace, const SHARDS: u32, Q: Compose> HashedView<'_, K, SHARDS, Q> {
    fn send<T: crate::codec::from_reply::FromReply + ?Sized, A: crate::codec::encode::Args>(
        &mut self,
        name: &'static str,
        key: &str,
        args: A,
    ) -> Q::Handle<T> {
        let shard = HashedString::<K, SHARDS>::shard(key);
        let t = K::TEMPLATE;
        let hash = Joined((t.head, K::PREFIX, t.middle, shard, t.tail));
        let Ok(handle) = self.q.on(K::CONNECTION, |q| {
            Ok::<_, Infallible>(q.query(cmd(name).arg((hash, key, args))))
        });
        handle
    }

    /// `HGET`: the value of `key`; `None` when missing.
    pub fn get(&mut self, key: &str) -> Q::OwnedHandle<Option<Decoded<K::Value>>> {
        Q::owned(self.send("HGET", key, ()))
    }

    /// `HSET`: sets `key` (1 when it is new).
    pub fn set(
        &mut self,
        key: &str,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let mut vb = FieldBuf::new();
        let value = K::Value::encode(value, &mut vb)?;
        Ok(self.send("HSET", key, value))
    }

    /// `HSETNX`: sets `key` unless it exists; whether it was set.
    pub fn setnx(
        &mut self,
        key: &str,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<bool>, FieldError> {
        let mut vb = FieldBuf::new();
        let value = K::Value::encode(value, &mut vb)?;
        Ok(self.send("HSETNX", key, value))
    }

    /// `HDEL`: removes `key` (1 when it existed).
    pub fn delete(&mut self, key: &str) -> Q::Handle<i64> {
        self.send("HDEL", key, ())
    }

    /// `HSTRLEN`: the length of `key`'s value.
    pub fn strlen(&mut self, key: &str) -> Q::Handle<i64> {
        self.send("HSTRLEN", key, ())
    }

    /// `HINCRBY`: adds `amount` to `key`.
    pub fn incrby(&mut self, key: &str, amount: i64) -> Q::Handle<i64> {
        self.send("HINCRBY", key, amount)
    }

    /// `HINCRBY key 1`.
    pub fn incr(&mut self, key: &str) -> Q::Handle<i64> {
        self.incrby(key, 1)
    }

    /// `HINCRBYFLOAT`: adds `amount` to `key`.
    pub fn incrbyfloat(&mut self, key: &str, amount: f64) -> Q::Handle<f64> {
        self.send("HINCRBYFLOAT", key, amount)
    }

    /// The values of `keys`, one handle each in the same order (RedPipe's `mget`; the keys
    /// live in different shards, so it is one `HGET` per key, in the same round trip).
    #[cfg(feature = "alloc")]
    pub fn mget<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> alloc::vec::Vec<Q::OwnedHandle<Option<Decoded<K::Value>>>> {
        keys.into_iter().map(|k| self.get(k)).collect()
    }

    /// `HSCAN` of shard `shard`: the next cursor and a page of key/value pairs, for walking
    /// every shard by hand ([`HashedScan`] walks them all).
    pub fn hscan(
        &mut self,
        shard: u32,
        cursor: u64,
        pattern: &str,
        count: Option<u32>,
    ) -> Q::Handle<ScanPage> {
        let t = K::TEMPLATE;
        let hash = Joined((t.head, K::PREFIX, t.middle, shard, t.tail));
        let args = (hash, cursor, "MATCH", pattern, count.map(|c| ("COUNT", c)));
        let Ok(handle) = self.q.on(K::CONNECTION, |q| {
            Ok::<_, Infallible>(q.query(cmd("HSCAN").arg(args)))
        });
        handle
    }
}

/// Every key/value pair of a [`HashedString`] keyspace whose key matches a pattern: `HSCAN`
/// over each of the `SHARDS` hashes in turn, one page per round trip (RedPipe's `scan_iter`,
/// which misses the last shard; this one does not). Values are the stored bytes: read them
/// with the keyspace's value codec.
#[cfg(feature = "alloc")]
pub struct HashedScan<K: Keyspace, const SHARDS: u32, B: crate::Backend + Clone> {
    backend: B,
    pattern: alloc::string::String,
    count: Option<u32>,
    shard: u32,
    cursor: u64,
    page: alloc::vec::IntoIter<(alloc::vec::Vec<u8>, alloc::vec::Vec<u8>)>,
    failed: bool,
    _k: PhantomData<fn() -> K>,
}

#[cfg(feature = "alloc")]
impl<K: Keyspace, const SHARDS: u32, B: crate::Backend + Clone> HashedScan<K, SHARDS, B> {
    /// A scan of the pairs whose key matches `pattern` (a Redis glob), asking for about
    /// `count` per page.
    pub fn new(backend: B, pattern: &str, count: Option<u32>) -> Self {
        Self {
            backend,
            pattern: pattern.into(),
            count,
            shard: 0,
            cursor: 0,
            page: alloc::vec::Vec::new().into_iter(),
            failed: false,
            _k: PhantomData,
        }
    }
}

#[cfg(feature = "alloc")]
impl<K: Keyspace, const SHARDS: u32, B: crate::Backend + Clone> Iterator
    for HashedScan<K, SHARDS, B>
{
    type Item = Result<(alloc::vec::Vec<u8>, alloc::vec::Vec<u8>), crate::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(pair) = self.page.next() {
                return Some(Ok(pair));
            }
            if self.failed || self.shard >= SHARDS {
                return None;
            }
            let mut p = crate::Pipe::with_backend(self.backend.clone());
            let page = HashedString::<K, SHARDS>::with(&mut p).hscan(
                self.shard,
                self.cursor,
                &self.pattern,
                self.count,
            );
            let read = p.execute().and_then(|()| {
                let (next, pairs) = page.result()?;
                let pairs = pairs
                    .map(|pair| pair.map(|(k, v)| (k.to_vec(), v.to_vec())))
                    .collect::<Result<alloc::vec::Vec<_>, _>>()
                    .map_err(crate::Error::Convert)?;
                Ok((next, pairs))
            });
            match read {
                Ok((next, pairs)) => {
                    if next == 0 {
                        self.shard += 1;
                    }
                    self.cursor = next;
                    self.page = pairs.into_iter();
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::keyspace! {
        /// Shards as in the docs.
        struct Index: String { prefix: "my_index" }
    }

    #[test]
    fn shards_match_python_redpipe() {
        // `int(hashlib.md5(k.encode()).hexdigest(), 16) % n` in Python.
        for (key, of_1000, of_64) in [
            ("foo123", 416, 16),
            ("a", 497, 33),
            ("user:1", 498, 18),
            ("", 366, 62),
        ] {
            assert_eq!(HashedString::<Index, 1000>::shard(key), of_1000, "{key}");
            assert_eq!(HashedString::<Index, 64>::shard(key), of_64, "{key}");
        }
    }
}
