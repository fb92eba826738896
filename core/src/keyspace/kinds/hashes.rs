//! Hash keyspaces: RedPipe's `Hash`, with a member codec (`memberparse`) and per-member value
//! codecs (`fields`).

use super::HashKeyspace;
use crate::engine::queue::Compose;
use crate::keyspace::{Field, FieldBuf, FieldError, ValueOf, View};

impl<K: HashKeyspace, Q: Compose> View<'_, K, Q> {
    /// `HSET key member value`: 1 when the member is new.
    pub fn hset(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Member>,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let (mut mb, mut vb) = (FieldBuf::new(), FieldBuf::new());
        let member = K::Member::encode(member, &mut mb)?;
        let value = K::Value::encode(value, &mut vb)?;
        self.keyed("HSET", key, (member, value))
    }

    /// `HSETNX key member value`: whether it was set (the member was new).
    pub fn hsetnx(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Member>,
        value: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<bool>, FieldError> {
        let (mut mb, mut vb) = (FieldBuf::new(), FieldBuf::new());
        let member = K::Member::encode(member, &mut mb)?;
        let value = K::Value::encode(value, &mut vb)?;
        self.keyed("HSETNX", key, (member, value))
    }

    /// `HGET key member`; `None` when missing.
    pub fn hget(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Member>,
    ) -> Result<Q::OwnedHandle<super::Opt<K>>, FieldError> {
        let mut mb = FieldBuf::new();
        let member = K::Member::encode(member, &mut mb)?;
        self.keyed("HGET", key, member).map(Q::owned)
    }

    /// `HEXISTS key member`.
    pub fn hexists(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Member>,
    ) -> Result<Q::Handle<bool>, FieldError> {
        let mut mb = FieldBuf::new();
        let member = K::Member::encode(member, &mut mb)?;
        self.keyed("HEXISTS", key, member)
    }

    /// `HLEN key`.
    pub fn hlen(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("HLEN", key, ())
    }

    /// `HSTRLEN key member`.
    pub fn hstrlen(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Member>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let mut mb = FieldBuf::new();
        let member = K::Member::encode(member, &mut mb)?;
        self.keyed("HSTRLEN", key, member)
    }

    /// `HINCRBY key member amount`.
    pub fn hincrby(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Member>,
        amount: i64,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let mut mb = FieldBuf::new();
        let member = K::Member::encode(member, &mut mb)?;
        self.keyed("HINCRBY", key, (member, amount))
    }

    /// `HINCRBYFLOAT key member amount`.
    pub fn hincrbyfloat(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Member>,
        amount: f64,
    ) -> Result<Q::Handle<f64>, FieldError> {
        let mut mb = FieldBuf::new();
        let member = K::Member::encode(member, &mut mb)?;
        self.keyed("HINCRBYFLOAT", key, (member, amount))
    }
}

#[cfg(feature = "alloc")]
impl<K: HashKeyspace, Q: Compose> View<'_, K, Q> {
    /// `HDEL key member...`: how many were removed.
    pub fn hdel(
        &mut self,
        key: &ValueOf<K::Key>,
        members: &[&ValueOf<K::Member>],
    ) -> Result<Q::Handle<i64>, FieldError> {
        let members = super::Many::encode::<K::Member>(members.iter().copied())?;
        self.keyed("HDEL", key, members)
    }

    /// `HMGET key member...`: one value per member, `None` for missing ones.
    pub fn hmget(
        &mut self,
        key: &ValueOf<K::Key>,
        members: &[&ValueOf<K::Member>],
    ) -> Result<Q::OwnedHandle<alloc::vec::Vec<super::Opt<K>>>, FieldError> {
        let members = super::Many::encode::<K::Member>(members.iter().copied())?;
        self.keyed("HMGET", key, members).map(Q::owned)
    }

    /// `HSET key member value ...` of several members (RedPipe's `hmset`).
    pub fn hmset<'v>(
        &mut self,
        key: &ValueOf<K::Key>,
        pairs: impl IntoIterator<Item = (&'v ValueOf<K::Member>, &'v ValueOf<K::Value>)>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Member>: 'v,
        ValueOf<K::Value>: 'v,
        K: 'v,
    {
        let mut args = alloc::vec::Vec::new();
        for (member, value) in pairs {
            let (mut mb, mut vb) = (FieldBuf::new(), FieldBuf::new());
            args.push(K::Member::encode(member, &mut mb)?.to_vec());
            args.push(K::Value::encode(value, &mut vb)?.to_vec());
        }
        self.keyed("HSET", key, args)
    }

    /// `HGETALL key`: member/value pairs, every value through the keyspace's value codec.
    pub fn hgetall(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<super::Pairs<K>>, FieldError> {
        self.keyed("HGETALL", key, ()).map(Q::owned)
    }

    /// `HKEYS key`.
    pub fn hkeys(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<super::Names<K>>, FieldError> {
        self.keyed("HKEYS", key, ()).map(Q::owned)
    }

    /// `HVALS key`.
    pub fn hvals(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::OwnedHandle<super::All<K>>, FieldError> {
        self.keyed("HVALS", key, ()).map(Q::owned)
    }

    /// `HSCAN key cursor MATCH pattern [COUNT count]`: the next cursor and a page of pairs.
    pub fn hscan(
        &mut self,
        key: &ValueOf<K::Key>,
        cursor: u64,
        pattern: &str,
        count: Option<u32>,
    ) -> Result<Q::OwnedHandle<(u64, super::Pairs<K>)>, FieldError> {
        self.keyed(
            "HSCAN",
            key,
            (cursor, "MATCH", pattern, count.map(|c| ("COUNT", c))),
        )
        .map(Q::owned)
    }

    /// `HSET key member value` with the member's own codec ([`HashKeyspace::codec`]).
    pub fn hset_field(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Member>,
        value: &crate::keyspace::FieldValue,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let (mut mb, mut vb) = (FieldBuf::new(), FieldBuf::new());
        let member = K::Member::encode(member, &mut mb)?;
        let value = codec_of::<K>(member).encode(value, &mut vb)?;
        self.keyed("HSET", key, (member, value))
    }

    /// `HSET key member value ...` of several members, each value through its member's own
    /// codec ([`HashKeyspace::codec`]; RedPipe's `hmset` on a `Hash` with `fields`): a value
    /// its codec cannot write is an error before anything is queued.
    pub fn hmset_fields<'v>(
        &mut self,
        key: &ValueOf<K::Key>,
        pairs: impl IntoIterator<Item = (&'v ValueOf<K::Member>, &'v crate::keyspace::FieldValue)>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Member>: 'v,
    {
        let mut args = alloc::vec::Vec::new();
        for (member, value) in pairs {
            let (mut mb, mut vb) = (FieldBuf::new(), FieldBuf::new());
            let member = K::Member::encode(member, &mut mb)?;
            args.push(member.to_vec());
            args.push(codec_of::<K>(member).encode(value, &mut vb)?.to_vec());
        }
        self.keyed("HSET", key, args)
    }

    /// `HGETALL key`, each value through its member's own codec ([`HashKeyspace::codec`]).
    pub fn hgetall_fields(
        &mut self,
        key: &ValueOf<K::Key>,
    ) -> Result<Q::Handle<Fields<K>>, FieldError> {
        self.keyed("HGETALL", key, ())
    }
}

/// `HGET` with the member's own codec: only on a `Pipe`, whose handles carry the conversion
/// chosen when the command is queued (the engine's handles are typed by their conversion, and
/// a member's codec is known only from its name, at run time).
#[cfg(feature = "alloc")]
impl<K: HashKeyspace, B> View<'_, K, crate::model::Pipe<B>> {
    /// `HGET key member`, the value through the member's own codec
    /// ([`HashKeyspace::codec`]; RedPipe's `hget` on a `Hash` with `fields`): `None` when
    /// missing.
    pub fn hget_field(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Member>,
    ) -> Result<crate::Handle<Option<crate::keyspace::FieldValue>>, FieldError> {
        let mut mb = FieldBuf::new();
        let member = K::Member::encode(member, &mut mb)?;
        let raw: crate::Handle<Option<&'static [u8]>> = self.keyed("HGET", key, member)?;
        Ok(raw
            .converted::<Option<crate::keyspace::FieldValue>>(member_reader(codec_of::<K>(member))))
    }

    /// RedPipe's `hmget` on a `Hash` with `fields`: each member's value through its own codec
    /// ([`HashKeyspace::codec`]), one handle per member, `None` where missing. Queued as one
    /// `HGET` per member (a handle's conversion is chosen per command, and the codecs of an
    /// `HMGET`'s members are known only at run time); the pipeline still costs one round trip.
    /// Nothing is queued when a member cannot be written.
    pub fn hmget_fields(
        &mut self,
        key: &ValueOf<K::Key>,
        members: &[&ValueOf<K::Member>],
    ) -> Result<alloc::vec::Vec<crate::Handle<Option<crate::keyspace::FieldValue>>>, FieldError>
    {
        let encoded = super::Many::encode::<K::Member>(members.iter().copied())?;
        let mut kb = FieldBuf::new();
        let key = crate::keyspace::key_arg::<K>(key, &mut kb)?;
        Ok(encoded
            .items()
            .map(|member| {
                let raw: crate::Handle<Option<&'static [u8]>> = self.send("HGET", (key, member));
                raw.converted::<Option<crate::keyspace::FieldValue>>(member_reader(codec_of::<K>(
                    member,
                )))
            })
            .collect())
    }
}

/// The value codec of a member, by its stored name: a name that is not UTF-8 has none of its
/// own.
#[cfg(feature = "alloc")]
fn codec_of<K: HashKeyspace>(member: &[u8]) -> crate::keyspace::Codec {
    core::str::from_utf8(member).map_or(crate::keyspace::Codec::Text, K::codec)
}

/// The conversion of a stored value through `codec`, as a plain function (one per codec).
#[cfg(feature = "alloc")]
fn member_reader(
    codec: crate::keyspace::Codec,
) -> crate::model::handle::Convert<Option<crate::keyspace::FieldValue>> {
    use crate::keyspace::Codec;
    macro_rules! readers {
        ($($codec:ident $(#[$cfg:meta])?),*) => {
            match codec {
                $($(#[$cfg])? Codec::$codec => |reply| {
                    let bytes = <Option<&[u8]> as crate::FromReply>::from_reply(reply)?;
                    bytes
                        .map(|b| Codec::$codec.decode(b))
                        .transpose()
                        .map_err(crate::ConvertError::Field)
                },)*
            }
        };
    }
    readers!(
        Integer,
        Float,
        Text,
        Ascii,
        Binary,
        Boolean,
        StringList,
        List #[cfg(feature = "json")],
        Dict #[cfg(feature = "json")]
    )
}

/// A whole hash read with per-member codecs: member to [`FieldValue`](crate::keyspace::FieldValue).
#[cfg(feature = "alloc")]
pub struct Fields<K>(core::marker::PhantomData<fn() -> K>);

#[cfg(feature = "alloc")]
impl<K: HashKeyspace> crate::codec::from_reply::FromReply for Fields<K> {
    type Output<'a> =
        alloc::collections::BTreeMap<alloc::string::String, crate::keyspace::FieldValue>;

    fn from_reply(
        reply: crate::codec::reply::Reply<'_>,
    ) -> Result<Self::Output<'_>, crate::ConvertError> {
        let pairs =
            <alloc::vec::Vec<(&str, &[u8])> as crate::codec::from_reply::FromReply>::from_reply(
                reply,
            )?;
        pairs
            .into_iter()
            .map(|(member, bytes)| {
                K::codec(member)
                    .decode(bytes)
                    .map(|v| (member.into(), v))
                    .map_err(crate::ConvertError::Field)
            })
            .collect()
    }
}
