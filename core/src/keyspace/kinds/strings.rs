//! String keyspaces: RedPipe's `String`.

use super::StringKeyspace;
use crate::cmd::{Span, Ttl};
use crate::engine::queue::Compose;
use crate::keyspace::{Decoded, Field, FieldBuf, FieldError, ValueOf, View};

/// The value of a string key, read through the keyspace's value codec; `None` when missing.
type Value<K> = Option<Decoded<<K as crate::keyspace::Keyspace>::Value>>;

impl<K: StringKeyspace, Q: Compose> View<'_, K, Q> {
    /// `GET key`.
    pub fn get(&mut self, key: &ValueOf<K::Key>) -> Result<Q::OwnedHandle<Value<K>>, FieldError> {
        self.keyed("GET", key, ()).map(Q::owned)
    }

    /// `MGET key...`: one value per key, `None` for missing ones.
    #[cfg(feature = "alloc")]
    pub fn mget<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::OwnedHandle<alloc::vec::Vec<Value<K>>>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        let keys = super::Many::keys::<K>(keys)?;
        Ok(Q::owned(self.send("MGET", keys)))
    }

    /// `SET key value`.
    pub fn set(
        &mut self,
        key: &ValueOf<K::Key>,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<()>, FieldError> {
        self.keyed_value("SET", key, value, ())
    }

    /// `SET key value` with options (`EX`, `PX`, `NX`, `XX`, `KEEPTTL`): whether it was set.
    pub fn set_with(
        &mut self,
        key: &ValueOf<K::Key>,
        value: &ValueOf<K::Value>,
        options: crate::cmd::SetOptions,
    ) -> Result<Q::Handle<bool>, FieldError> {
        self.keyed_value("SET", key, value, options)
    }

    /// `SETNX key value`: whether it was set (the key did not exist).
    pub fn setnx(
        &mut self,
        key: &ValueOf<K::Key>,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<bool>, FieldError> {
        self.keyed_value("SETNX", key, value, ())
    }

    /// `SETEX key seconds value` (`PSETEX key milliseconds value` for a [`Span`] with a
    /// fraction of a second).
    pub fn setex(
        &mut self,
        key: &ValueOf<K::Key>,
        ttl: impl Span,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<()>, FieldError> {
        let mut vb = FieldBuf::new();
        let value = K::Value::encode(value, &mut vb)?;
        let ttl = Ttl::of(ttl);
        self.keyed(ttl.pick("SETEX", "PSETEX"), key, (ttl.value(), value))
    }

    /// `PSETEX key milliseconds value`.
    pub fn psetex(
        &mut self,
        key: &ValueOf<K::Key>,
        millis: i64,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<()>, FieldError> {
        let mut vb = FieldBuf::new();
        let value = K::Value::encode(value, &mut vb)?;
        self.keyed("PSETEX", key, (millis, value))
    }

    /// `APPEND key value`: the new length.
    pub fn append(
        &mut self,
        key: &ValueOf<K::Key>,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed_value("APPEND", key, value, ())
    }

    /// `STRLEN key`.
    pub fn strlen(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("STRLEN", key, ())
    }

    /// `GETRANGE key start end` (RedPipe's `substr`), read through the value codec.
    pub fn substr(
        &mut self,
        key: &ValueOf<K::Key>,
        start: i64,
        end: i64,
    ) -> Result<Q::OwnedHandle<Decoded<K::Value>>, FieldError> {
        self.keyed("GETRANGE", key, (start, end)).map(Q::owned)
    }

    /// `SETRANGE key offset value`: the new length.
    pub fn setrange(
        &mut self,
        key: &ValueOf<K::Key>,
        offset: i64,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let mut vb = FieldBuf::new();
        let value = K::Value::encode(value, &mut vb)?;
        self.keyed("SETRANGE", key, (offset, value))
    }

    /// `SETBIT key offset bit`: the bit's previous value.
    pub fn setbit(
        &mut self,
        key: &ValueOf<K::Key>,
        offset: u64,
        bit: bool,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("SETBIT", key, (offset, u32::from(bit)))
    }

    /// `GETBIT key offset`.
    pub fn getbit(
        &mut self,
        key: &ValueOf<K::Key>,
        offset: u64,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("GETBIT", key, offset)
    }

    /// `BITCOUNT key [start end]`.
    pub fn bitcount(
        &mut self,
        key: &ValueOf<K::Key>,
        range: Option<(i64, i64)>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("BITCOUNT", key, range)
    }

    /// `INCR key`.
    pub fn incr(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("INCR", key, ())
    }

    /// `INCRBY key amount`.
    pub fn incrby(
        &mut self,
        key: &ValueOf<K::Key>,
        amount: i64,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("INCRBY", key, amount)
    }

    /// `DECRBY key amount`.
    pub fn decrby(
        &mut self,
        key: &ValueOf<K::Key>,
        amount: i64,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("DECRBY", key, amount)
    }

    /// `INCRBYFLOAT key amount`.
    pub fn incrbyfloat(
        &mut self,
        key: &ValueOf<K::Key>,
        amount: f64,
    ) -> Result<Q::Handle<f64>, FieldError> {
        self.keyed("INCRBYFLOAT", key, amount)
    }

    /// `GETSET`-style read of the old value while setting a new one (`SET key value GET`).
    pub fn getset(
        &mut self,
        key: &ValueOf<K::Key>,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::OwnedHandle<Value<K>>, FieldError> {
        self.keyed_value("SET", key, value, "GET").map(Q::owned)
    }
}
