//! Set keyspaces: RedPipe's `Set`.

use super::SetKeyspace;
use crate::engine::queue::Compose;
use crate::keyspace::{FieldError, ValueOf, View};

impl<K: SetKeyspace, Q: Compose> View<'_, K, Q> {
    /// `SADD key member...`: how many were added.
    #[cfg(feature = "alloc")]
    pub fn sadd<'v>(
        &mut self,
        key: &ValueOf<K::Key>,
        members: impl IntoIterator<Item = &'v ValueOf<K::Value>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Value>: 'v,
        K: 'v,
    {
        let members = super::Many::encode::<K::Value>(members)?;
        self.keyed("SADD", key, members)
    }

    /// `SADD key member` of one member, without an allocator.
    pub fn sadd_one(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed_value("SADD", key, member, ())
    }

    /// `SREM key member...`: how many were removed.
    #[cfg(feature = "alloc")]
    pub fn srem<'v>(
        &mut self,
        key: &ValueOf<K::Key>,
        members: impl IntoIterator<Item = &'v ValueOf<K::Value>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Value>: 'v,
        K: 'v,
    {
        let members = super::Many::encode::<K::Value>(members)?;
        self.keyed("SREM", key, members)
    }

    /// `SISMEMBER key member`.
    pub fn sismember(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<bool>, FieldError> {
        self.keyed_value("SISMEMBER", key, member, ())
    }

    /// `SCARD key`.
    pub fn scard(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("SCARD", key, ())
    }

    /// `SPOP key`: a random member, removed; `None` when empty.
    pub fn spop(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<super::Opt<K>>, FieldError> {
        self.keyed("SPOP", key, ()).map(Q::owned)
    }

    /// `SRANDMEMBER key`: a random member; `None` when empty.
    pub fn srandmember(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<super::Opt<K>>, FieldError> {
        self.keyed("SRANDMEMBER", key, ()).map(Q::owned)
    }
}

#[cfg(feature = "alloc")]
impl<K: SetKeyspace, Q: Compose> View<'_, K, Q> {
    /// `SMEMBERS key`.
    pub fn smembers(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<super::All<K>>, FieldError> {
        self.keyed("SMEMBERS", key, ()).map(Q::owned)
    }

    /// `SRANDMEMBER key count`: up to `count` members (repeats when negative).
    pub fn srandmember_n(
        &mut self,
        key: &ValueOf<K::Key>,
        count: i64,
    ) -> Result<Q::OwnedHandle<super::All<K>>, FieldError> {
        self.keyed("SRANDMEMBER", key, count).map(Q::owned)
    }

    fn combine<'k>(
        &mut self,
        name: &'static str,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::OwnedHandle<super::All<K>>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        let keys = super::Many::keys::<K>(keys)?;
        Ok(Q::owned(self.send(name, keys)))
    }

    fn combine_store<'k>(
        &mut self,
        name: &'static str,
        dest: &ValueOf<K::Key>,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        let keys = super::Many::keys::<K>(keys)?;
        self.keyed(name, dest, keys)
    }

    /// `SDIFF key...`.
    pub fn sdiff<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::OwnedHandle<super::All<K>>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        self.combine("SDIFF", keys)
    }

    /// `SINTER key...`.
    pub fn sinter<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::OwnedHandle<super::All<K>>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        self.combine("SINTER", keys)
    }

    /// `SUNION key...`.
    pub fn sunion<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::OwnedHandle<super::All<K>>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        self.combine("SUNION", keys)
    }

    /// `SDIFFSTORE dest key...`: the size of the result.
    pub fn sdiffstore<'k>(
        &mut self,
        dest: &ValueOf<K::Key>,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        self.combine_store("SDIFFSTORE", dest, keys)
    }

    /// `SINTERSTORE dest key...`.
    pub fn sinterstore<'k>(
        &mut self,
        dest: &ValueOf<K::Key>,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        self.combine_store("SINTERSTORE", dest, keys)
    }

    /// `SUNIONSTORE dest key...`.
    pub fn sunionstore<'k>(
        &mut self,
        dest: &ValueOf<K::Key>,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        self.combine_store("SUNIONSTORE", dest, keys)
    }

    /// `SSCAN key cursor MATCH pattern [COUNT count]`: the next cursor and a page of members.
    pub fn sscan(
        &mut self,
        key: &ValueOf<K::Key>,
        cursor: u64,
        pattern: &str,
        count: Option<u32>,
    ) -> Result<Q::OwnedHandle<(u64, super::All<K>)>, FieldError> {
        self.keyed(
            "SSCAN",
            key,
            (cursor, "MATCH", pattern, count.map(|c| ("COUNT", c))),
        )
        .map(Q::owned)
    }
}
