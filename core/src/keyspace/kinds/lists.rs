//! List keyspaces: RedPipe's `List`.

use super::ListKeyspace;
use crate::cmd::{Span, Timeout};
use crate::engine::queue::Compose;
use crate::keyspace::{Decoded, Field, FieldBuf, FieldError, ValueOf, View, key_arg};

/// A popped element and the full name of the key it came from.
type Popped<K> = Option<(
    &'static [u8],
    Decoded<<K as crate::keyspace::Keyspace>::Value>,
)>;

impl<K: ListKeyspace, Q: Compose> View<'_, K, Q> {
    /// `LPUSH key value...`: the new length.
    #[cfg(feature = "alloc")]
    pub fn lpush<'v>(
        &mut self,
        key: &ValueOf<K::Key>,
        values: impl IntoIterator<Item = &'v ValueOf<K::Value>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Value>: 'v,
        K: 'v,
    {
        let values = super::Many::encode::<K::Value>(values)?;
        self.keyed("LPUSH", key, values)
    }

    /// `RPUSH key value...`: the new length.
    #[cfg(feature = "alloc")]
    pub fn rpush<'v>(
        &mut self,
        key: &ValueOf<K::Key>,
        values: impl IntoIterator<Item = &'v ValueOf<K::Value>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Value>: 'v,
        K: 'v,
    {
        let values = super::Many::encode::<K::Value>(values)?;
        self.keyed("RPUSH", key, values)
    }

    /// `RPUSH key value` of one value, without an allocator.
    pub fn rpush_one(
        &mut self,
        key: &ValueOf<K::Key>,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed_value("RPUSH", key, value, ())
    }

    /// `LPOP key`: the first element; `None` when empty.
    pub fn lpop(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<super::Opt<K>>, FieldError> {
        self.keyed("LPOP", key, ()).map(Q::owned)
    }

    /// `RPOP key`: the last element; `None` when empty.
    pub fn rpop(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<super::Opt<K>>, FieldError> {
        self.keyed("RPOP", key, ()).map(Q::owned)
    }

    /// `BLPOP key timeout`: the first element of the list, waiting up to `timeout` seconds (0:
    /// forever), with the full key name; `None` on timeout. A blocking command holds its
    /// connection for as long as it waits.
    pub fn blpop(
        &mut self,
        key: &ValueOf<K::Key>,
        timeout: impl Span,
    ) -> Result<Q::OwnedHandle<Popped<K>>, FieldError> {
        self.keyed("BLPOP", key, Timeout::of(timeout)).map(Q::owned)
    }

    /// `BRPOP key timeout`: as [`blpop`](Self::blpop), from the tail.
    pub fn brpop(
        &mut self,
        key: &ValueOf<K::Key>,
        timeout: impl Span,
    ) -> Result<Q::OwnedHandle<Popped<K>>, FieldError> {
        self.keyed("BRPOP", key, Timeout::of(timeout)).map(Q::owned)
    }

    /// `RPOPLPUSH src dest` within the keyspace: the element moved.
    pub fn rpoplpush(
        &mut self,
        src: &ValueOf<K::Key>,
        dest: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<super::Opt<K>>, FieldError> {
        let mut buf = FieldBuf::new();
        let dest = key_arg::<K>(dest, &mut buf)?;
        self.keyed("RPOPLPUSH", src, dest).map(Q::owned)
    }

    /// `BRPOPLPUSH src dest timeout`: as [`rpoplpush`](Self::rpoplpush), waiting.
    pub fn brpoplpush(
        &mut self,
        src: &ValueOf<K::Key>,
        dest: &ValueOf<K::Key>,
        timeout: impl Span,
    ) -> Result<Q::OwnedHandle<super::Opt<K>>, FieldError> {
        let mut buf = FieldBuf::new();
        let dest = key_arg::<K>(dest, &mut buf)?;
        self.keyed("BRPOPLPUSH", src, (dest, Timeout::of(timeout)))
            .map(Q::owned)
    }

    /// `LLEN key`.
    pub fn llen(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("LLEN", key, ())
    }

    /// `LINDEX key index`; `None` out of range.
    pub fn lindex(
        &mut self,
        key: &ValueOf<K::Key>,
        index: i64,
    ) -> Result<Q::OwnedHandle<super::Opt<K>>, FieldError> {
        self.keyed("LINDEX", key, index).map(Q::owned)
    }

    /// `LSET key index value`.
    pub fn lset(
        &mut self,
        key: &ValueOf<K::Key>,
        index: i64,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<()>, FieldError> {
        let mut vb = FieldBuf::new();
        let value = K::Value::encode(value, &mut vb)?;
        self.keyed("LSET", key, (index, value))
    }

    /// `LREM key count value`: how many were removed.
    pub fn lrem(
        &mut self,
        key: &ValueOf<K::Key>,
        count: i64,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let mut vb = FieldBuf::new();
        let value = K::Value::encode(value, &mut vb)?;
        self.keyed("LREM", key, (count, value))
    }

    /// `LTRIM key start stop`.
    pub fn ltrim(
        &mut self,
        key: &ValueOf<K::Key>,
        start: i64,
        stop: i64,
    ) -> Result<Q::Handle<()>, FieldError> {
        self.keyed("LTRIM", key, (start, stop))
    }

    /// `LRANGE key start stop`.
    #[cfg(feature = "alloc")]
    pub fn lrange(
        &mut self,
        key: &ValueOf<K::Key>,
        start: i64,
        stop: i64,
    ) -> Result<Q::OwnedHandle<super::All<K>>, FieldError> {
        self.keyed("LRANGE", key, (start, stop)).map(Q::owned)
    }
}
