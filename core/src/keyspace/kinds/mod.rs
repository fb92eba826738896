//! The commands of each kind of key, as view methods: a keyspace declared as a `Set` has the set
//! commands, and so on. One file per kind.

mod any;
mod hashes;
mod lists;
mod others;
mod sets;
mod sorted_sets;
mod strings;

pub use any::Sort;
#[cfg(feature = "alloc")]
pub use hashes::Fields;
pub use others::Unit;

use super::{Decoded, Keyspace};

/// A value of keyspace `K` that may be missing.
pub(crate) type Opt<K> = Option<Decoded<<K as Keyspace>::Value>>;
/// Values of keyspace `K`.
#[cfg(feature = "alloc")]
pub(crate) type All<K> = alloc::vec::Vec<Decoded<<K as Keyspace>::Value>>;
/// Member names of a hash of keyspace `K`.
#[cfg(feature = "alloc")]
pub(crate) type Names<K> = alloc::vec::Vec<Decoded<<K as HashKeyspace>::Member>>;
/// Member/value pairs of a hash of keyspace `K`, each member through its member codec.
#[cfg(feature = "alloc")]
pub(crate) type Pairs<K> = alloc::vec::Vec<(
    Decoded<<K as HashKeyspace>::Member>,
    Decoded<<K as Keyspace>::Value>,
)>;

/// A keyspace of strings (`GET`, `SET`, `INCR`...).
pub trait StringKeyspace: Keyspace {}
/// A keyspace of sets (`SADD`, `SMEMBERS`...).
pub trait SetKeyspace: Keyspace {}
/// A keyspace of lists (`LPUSH`, `LRANGE`...).
pub trait ListKeyspace: Keyspace {}
/// A keyspace of sorted sets (`ZADD`, `ZRANGE`...).
pub trait SortedSetKeyspace: Keyspace {}
/// A keyspace of HyperLogLogs (`PFADD`, `PFCOUNT`, `PFMERGE`).
pub trait HyperLogLogKeyspace: Keyspace {}
/// A keyspace of geo sets (`GEOADD`, `GEOPOS`, `GEODIST`, `GEOSEARCH`...).
pub trait GeoKeyspace: Keyspace {}
/// A keyspace of streams (`XADD`, `XRANGE`...).
pub trait StreamKeyspace: Keyspace {}

/// A keyspace of hashes (`HSET`, `HGETALL`...). Member names go through the `Member` codec
/// (RedPipe's `memberparse`; [`Text`](super::Text) unless said otherwise, `member: Integer` in
/// [`keyspace!`](crate::keyspace!)). Values go through the keyspace's value codec, or, for the
/// members `codec` names (feature `alloc`), through a codec of their own (RedPipe's
/// `Hash.fields`), read and written as `FieldValue`s.
pub trait HashKeyspace: Keyspace {
    /// How member names are written and read (RedPipe's `memberparse`).
    type Member: super::Field + ?Sized;

    /// The codec of hash member `member` (as stored: the `Member` codec's bytes) for
    /// [`hset_field`](super::View::hset_field) and [`hgetall_fields`](super::View::hgetall_fields):
    /// text unless said otherwise, as RedPipe's default `valueparse`.
    #[cfg(feature = "alloc")]
    fn codec(member: &str) -> super::Codec {
        let _ = member;
        super::Codec::Text
    }
}

/// Several values through one codec, as arguments: `SADD key a b c`.
#[cfg(feature = "alloc")]
pub(crate) struct Many {
    bytes: alloc::vec::Vec<u8>,
    ends: alloc::vec::Vec<usize>,
}

#[cfg(feature = "alloc")]
impl Many {
    /// Encodes every value with codec `F`; the first that cannot be written is the error.
    pub(crate) fn encode<'v, F: super::Field + ?Sized + 'v>(
        values: impl IntoIterator<Item = &'v F::Value>,
    ) -> Result<Self, super::FieldError> {
        let mut many = Self {
            bytes: alloc::vec::Vec::new(),
            ends: alloc::vec::Vec::new(),
        };
        for v in values {
            let mut buf = super::FieldBuf::new();
            many.bytes.extend_from_slice(F::encode(v, &mut buf)?);
            many.ends.push(many.bytes.len());
        }
        Ok(many)
    }

    /// Encodes every key of keyspace `K` as `PREFIX{key}`.
    pub(crate) fn keys<'v, K: Keyspace + 'v>(
        keys: impl IntoIterator<Item = &'v super::ValueOf<K::Key>>,
    ) -> Result<Self, super::FieldError>
    where
        super::ValueOf<K::Key>: 'v,
    {
        let mut many = Self {
            bytes: alloc::vec::Vec::new(),
            ends: alloc::vec::Vec::new(),
        };
        for k in keys {
            let mut buf = super::FieldBuf::new();
            let t = K::TEMPLATE;
            many.bytes.extend_from_slice(t.head.as_bytes());
            many.bytes.extend_from_slice(K::PREFIX.as_bytes());
            many.bytes.extend_from_slice(t.middle.as_bytes());
            many.bytes
                .extend_from_slice(<K::Key as super::Field>::encode(k, &mut buf)?);
            many.bytes.extend_from_slice(t.tail.as_bytes());
            many.ends.push(many.bytes.len());
        }
        Ok(many)
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn items(&self) -> impl Iterator<Item = &[u8]> {
        let starts = core::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(a, b)| &self.bytes[a..b])
    }
}

#[cfg(feature = "alloc")]
impl crate::codec::encode::Args for Many {
    fn write_args<W: crate::codec::encode::ArgSink + ?Sized>(&self, out: &mut W) {
        for item in self.items() {
            out.bytes(item);
        }
    }
}
