//! HyperLogLog, geo and stream keyspaces (the last two beyond RedPipe's seed).

use super::{GeoKeyspace, HyperLogLogKeyspace, StreamKeyspace};
use crate::engine::queue::Compose;
use crate::keyspace::{Field, FieldError, ValueOf, View};

impl<K: HyperLogLogKeyspace, Q: Compose> View<'_, K, Q> {
    /// `PFADD key element...`: whether the estimate changed.
    #[cfg(feature = "alloc")]
    pub fn pfadd<'v>(
        &mut self,
        key: &ValueOf<K::Key>,
        elements: impl IntoIterator<Item = &'v ValueOf<K::Value>>,
    ) -> Result<Q::Handle<bool>, FieldError>
    where
        ValueOf<K::Value>: 'v,
        K: 'v,
    {
        let elements = super::Many::encode::<K::Value>(elements)?;
        self.keyed("PFADD", key, elements)
    }

    /// `PFCOUNT key`: the estimated number of distinct elements.
    pub fn pfcount(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("PFCOUNT", key, ())
    }

    /// `PFCOUNT key...`: the estimated size of the union of several keys' sets (RedPipe's
    /// `pfcount(*names)`).
    #[cfg(feature = "alloc")]
    pub fn pfcount_many<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        self.on_keys("PFCOUNT", keys)
    }

    /// `PFMERGE dest source...` within the keyspace.
    #[cfg(feature = "alloc")]
    pub fn pfmerge<'k>(
        &mut self,
        dest: &ValueOf<K::Key>,
        sources: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::Handle<()>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        let sources = super::Many::keys::<K>(sources)?;
        self.keyed("PFMERGE", dest, sources)
    }
}

/// A distance unit of the geo commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Meters.
    M,
    /// Kilometers.
    Km,
    /// Miles.
    Mi,
    /// Feet.
    Ft,
}

impl crate::codec::encode::ToArg for Unit {
    fn to_arg<'s>(&'s self, _: &'s mut crate::codec::encode::Scratch) -> &'s [u8] {
        match self {
            Self::M => b"m",
            Self::Km => b"km",
            Self::Mi => b"mi",
            Self::Ft => b"ft",
        }
    }
}

/// The reply of `GEOPOS` of one member: its longitude and latitude, if any.
type Position = (Option<(f64, f64)>,);

impl<K: GeoKeyspace, Q: Compose> View<'_, K, Q> {
    /// `GEOADD key longitude latitude member`: 1 when the member is new.
    pub fn geoadd(
        &mut self,
        key: &ValueOf<K::Key>,
        longitude: f64,
        latitude: f64,
        member: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let mut vb = crate::keyspace::FieldBuf::new();
        let member = K::Value::encode(member, &mut vb)?;
        self.keyed("GEOADD", key, (longitude, latitude, member))
    }

    /// `GEOPOS key member`: its longitude and latitude; `None` when not in the set.
    pub fn geopos(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<Position>, FieldError> {
        self.keyed_value("GEOPOS", key, member, ())
    }

    /// `GEODIST key a b unit`; `None` when either is missing.
    pub fn geodist(
        &mut self,
        key: &ValueOf<K::Key>,
        a: &ValueOf<K::Value>,
        b: &ValueOf<K::Value>,
        unit: Unit,
    ) -> Result<Q::Handle<Option<f64>>, FieldError> {
        let mut bb = crate::keyspace::FieldBuf::new();
        let b = K::Value::encode(b, &mut bb)?;
        self.keyed_value("GEODIST", key, a, (b, unit))
    }

    /// `GEOSEARCH key FROMLONLAT lon lat BYRADIUS radius unit ASC`: members within `radius`,
    /// nearest first.
    #[cfg(feature = "alloc")]
    pub fn geosearch_radius(
        &mut self,
        key: &ValueOf<K::Key>,
        longitude: f64,
        latitude: f64,
        radius: f64,
        unit: Unit,
    ) -> Result<Q::OwnedHandle<super::All<K>>, FieldError> {
        self.keyed(
            "GEOSEARCH",
            key,
            (
                "FROMLONLAT",
                longitude,
                latitude,
                "BYRADIUS",
                radius,
                unit,
                "ASC",
            ),
        )
        .map(Q::owned)
    }
}

/// Stream entries: id and field/value pairs.
#[cfg(feature = "alloc")]
type Entries = alloc::vec::Vec<(&'static str, alloc::vec::Vec<(&'static str, &'static str)>)>;

impl<K: StreamKeyspace, Q: Compose> View<'_, K, Q> {
    /// `XLEN key`.
    pub fn xlen(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("XLEN", key, ())
    }

    /// `XTRIM key MAXLEN count`: trims to exactly `max_len` entries; how many were removed.
    pub fn xtrim(
        &mut self,
        key: &ValueOf<K::Key>,
        max_len: u64,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("XTRIM", key, ("MAXLEN", max_len))
    }

    /// `XDEL key id`: how many were removed.
    pub fn xdel(&mut self, key: &ValueOf<K::Key>, id: &str) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("XDEL", key, id)
    }
}

#[cfg(feature = "alloc")]
impl<K: StreamKeyspace, Q: Compose> View<'_, K, Q> {
    /// `XADD key id field value ...` (`id` `*` for a new one): the entry's id.
    pub fn xadd(
        &mut self,
        key: &ValueOf<K::Key>,
        id: &str,
        fields: &[(&str, &str)],
    ) -> Result<Q::Handle<alloc::string::String>, FieldError> {
        self.keyed("XADD", key, (id, fields))
    }

    /// `XRANGE key start end [COUNT count]` (`-` and `+` for the ends).
    pub fn xrange(
        &mut self,
        key: &ValueOf<K::Key>,
        start: &str,
        end: &str,
        count: Option<u64>,
    ) -> Result<Q::Handle<Entries>, FieldError> {
        self.keyed("XRANGE", key, (start, end, count.map(|c| ("COUNT", c))))
    }

    /// `XREVRANGE key end start [COUNT count]`.
    pub fn xrevrange(
        &mut self,
        key: &ValueOf<K::Key>,
        end: &str,
        start: &str,
        count: Option<u64>,
    ) -> Result<Q::Handle<Entries>, FieldError> {
        self.keyed("XREVRANGE", key, (end, start, count.map(|c| ("COUNT", c))))
    }
}
