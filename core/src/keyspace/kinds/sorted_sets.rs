//! Sorted-set keyspaces: RedPipe's `SortedSet`.

use super::SortedSetKeyspace;
use crate::cmd::ZaddOptions;
use crate::codec::encode::ToArg;
use crate::engine::queue::Compose;
use crate::keyspace::{Field, FieldBuf, FieldError, ValueOf, View};

#[cfg(feature = "alloc")]
type Members<K> =
    alloc::vec::Vec<crate::keyspace::Decoded<<K as crate::keyspace::Keyspace>::Value>>;
#[cfg(feature = "alloc")]
type Scored<K> = alloc::vec::Vec<(
    crate::keyspace::Decoded<<K as crate::keyspace::Keyspace>::Value>,
    f64,
)>;

impl<K: SortedSetKeyspace, Q: Compose> View<'_, K, Q> {
    /// `ZADD key score member`: 1 when the member is new.
    pub fn zadd(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Value>,
        score: f64,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let mut vb = FieldBuf::new();
        let member = K::Value::encode(member, &mut vb)?;
        self.keyed("ZADD", key, (score, member))
    }

    /// `ZADD key [NX|XX] [GT|LT] [CH] score member` (RedPipe's `zadd(.., nx=, xx=, ch=,
    /// incr=)` without `incr`: use [`zincrby`](Self::zincrby)): 1 when the member is new (or,
    /// with `ch`, when its score changed).
    ///
    /// ```
    /// use redpipe_core::cmd::ZaddOptions;
    /// use redpipe_core::keyspace::Keyspace;
    /// use redpipe_core::{keyspace, prelude::*, VecPipeline};
    /// keyspace! { pub struct Board: SortedSet { prefix: "B" } }
    ///
    /// let mut p = VecPipeline::new();
    /// let gt = ZaddOptions { gt: true, ch: true, ..ZaddOptions::default() };
    /// let _ = Board::with(&mut p).zadd_with("daily", gt, "ann", 7.5)?;
    /// assert_eq!(p.encoded(), b"*6\r\n$4\r\nZADD\r\n$8\r\nB{daily}\r\n$2\r\nGT\r\n$2\r\nCH\r\n$3\r\n7.5\r\n$3\r\nann\r\n".as_slice());
    /// # Ok::<(), redpipe_core::keyspace::FieldError>(())
    /// ```
    pub fn zadd_with(
        &mut self,
        key: &ValueOf<K::Key>,
        options: ZaddOptions,
        member: &ValueOf<K::Value>,
        score: f64,
    ) -> Result<Q::Handle<i64>, FieldError> {
        let mut vb = FieldBuf::new();
        let member = K::Value::encode(member, &mut vb)?;
        self.keyed("ZADD", key, (options, score, member))
    }

    /// `ZADD key score member ...` of several members: how many are new.
    #[cfg(feature = "alloc")]
    pub fn zadd_many<'v>(
        &mut self,
        key: &ValueOf<K::Key>,
        items: impl IntoIterator<Item = (f64, &'v ValueOf<K::Value>)>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Value>: 'v,
        K: 'v,
    {
        let mut args: alloc::vec::Vec<(f64, alloc::vec::Vec<u8>)> = alloc::vec::Vec::new();
        for (score, member) in items {
            let mut vb = FieldBuf::new();
            args.push((score, K::Value::encode(member, &mut vb)?.to_vec()));
        }
        self.keyed("ZADD", key, args)
    }

    /// `ZREM key member`: 1 when it was removed.
    pub fn zrem(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed_value("ZREM", key, member, ())
    }

    /// `ZINCRBY key amount member`: the new score.
    pub fn zincrby(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Value>,
        amount: f64,
    ) -> Result<Q::Handle<f64>, FieldError> {
        let mut vb = FieldBuf::new();
        let member = K::Value::encode(member, &mut vb)?;
        self.keyed("ZINCRBY", key, (amount, member))
    }

    /// `ZSCORE key member`; `None` when not in the set.
    pub fn zscore(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<Option<f64>>, FieldError> {
        self.keyed_value("ZSCORE", key, member, ())
    }

    /// `ZRANK key member`; `None` when not in the set.
    pub fn zrank(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<Option<i64>>, FieldError> {
        self.keyed_value("ZRANK", key, member, ())
    }

    /// `ZREVRANK key member`; `None` when not in the set.
    pub fn zrevrank(
        &mut self,
        key: &ValueOf<K::Key>,
        member: &ValueOf<K::Value>,
    ) -> Result<Q::Handle<Option<i64>>, FieldError> {
        self.keyed_value("ZREVRANK", key, member, ())
    }

    /// `ZCARD key`.
    pub fn zcard(&mut self, key: &ValueOf<K::Key>) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("ZCARD", key, ())
    }

    /// `ZCOUNT key min max` (bounds as Redis takes them: `1.5`, `(1.5`, `-inf`).
    pub fn zcount(
        &mut self,
        key: &ValueOf<K::Key>,
        min: impl ToArg,
        max: impl ToArg,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("ZCOUNT", key, (min, max))
    }

    /// `ZLEXCOUNT key min max`.
    pub fn zlexcount(
        &mut self,
        key: &ValueOf<K::Key>,
        min: &str,
        max: &str,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("ZLEXCOUNT", key, (min, max))
    }

    /// `ZREMRANGEBYRANK key start stop`: how many were removed.
    pub fn zremrangebyrank(
        &mut self,
        key: &ValueOf<K::Key>,
        start: i64,
        stop: i64,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("ZREMRANGEBYRANK", key, (start, stop))
    }

    /// `ZREMRANGEBYSCORE key min max`.
    pub fn zremrangebyscore(
        &mut self,
        key: &ValueOf<K::Key>,
        min: impl ToArg,
        max: impl ToArg,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("ZREMRANGEBYSCORE", key, (min, max))
    }

    /// `ZREMRANGEBYLEX key min max`.
    pub fn zremrangebylex(
        &mut self,
        key: &ValueOf<K::Key>,
        min: &str,
        max: &str,
    ) -> Result<Q::Handle<i64>, FieldError> {
        self.keyed("ZREMRANGEBYLEX", key, (min, max))
    }
}

#[cfg(feature = "alloc")]
impl<K: SortedSetKeyspace, Q: Compose> View<'_, K, Q> {
    /// `ZRANGE key start stop`: members by ascending score.
    pub fn zrange(
        &mut self,
        key: &ValueOf<K::Key>,
        start: i64,
        stop: i64,
    ) -> Result<Q::OwnedHandle<Members<K>>, FieldError> {
        self.keyed("ZRANGE", key, (start, stop)).map(Q::owned)
    }

    /// `ZRANGE key start stop WITHSCORES`.
    pub fn zrange_withscores(
        &mut self,
        key: &ValueOf<K::Key>,
        start: i64,
        stop: i64,
    ) -> Result<Q::OwnedHandle<Scored<K>>, FieldError> {
        self.keyed("ZRANGE", key, (start, stop, "WITHSCORES"))
            .map(Q::owned)
    }

    /// `ZREVRANGE key start stop`: members by descending score.
    pub fn zrevrange(
        &mut self,
        key: &ValueOf<K::Key>,
        start: i64,
        stop: i64,
    ) -> Result<Q::OwnedHandle<Members<K>>, FieldError> {
        self.keyed("ZREVRANGE", key, (start, stop)).map(Q::owned)
    }

    /// `ZREVRANGE key start stop WITHSCORES`.
    pub fn zrevrange_withscores(
        &mut self,
        key: &ValueOf<K::Key>,
        start: i64,
        stop: i64,
    ) -> Result<Q::OwnedHandle<Scored<K>>, FieldError> {
        self.keyed("ZREVRANGE", key, (start, stop, "WITHSCORES"))
            .map(Q::owned)
    }

    /// `ZRANGEBYSCORE key min max [LIMIT offset count]`.
    pub fn zrangebyscore(
        &mut self,
        key: &ValueOf<K::Key>,
        min: impl ToArg,
        max: impl ToArg,
        limit: Option<(i64, i64)>,
    ) -> Result<Q::OwnedHandle<Members<K>>, FieldError> {
        self.keyed(
            "ZRANGEBYSCORE",
            key,
            (min, max, limit.map(|(o, c)| ("LIMIT", o, c))),
        )
        .map(Q::owned)
    }

    /// `ZRANGEBYSCORE key min max WITHSCORES [LIMIT offset count]`.
    pub fn zrangebyscore_withscores(
        &mut self,
        key: &ValueOf<K::Key>,
        min: impl ToArg,
        max: impl ToArg,
        limit: Option<(i64, i64)>,
    ) -> Result<Q::OwnedHandle<Scored<K>>, FieldError> {
        self.keyed(
            "ZRANGEBYSCORE",
            key,
            (min, max, "WITHSCORES", limit.map(|(o, c)| ("LIMIT", o, c))),
        )
        .map(Q::owned)
    }

    /// `ZREVRANGEBYSCORE key max min [LIMIT offset count]`.
    pub fn zrevrangebyscore(
        &mut self,
        key: &ValueOf<K::Key>,
        max: impl ToArg,
        min: impl ToArg,
        limit: Option<(i64, i64)>,
    ) -> Result<Q::OwnedHandle<Members<K>>, FieldError> {
        self.keyed(
            "ZREVRANGEBYSCORE",
            key,
            (max, min, limit.map(|(o, c)| ("LIMIT", o, c))),
        )
        .map(Q::owned)
    }

    /// `ZRANGEBYLEX key min max [LIMIT offset count]`.
    pub fn zrangebylex(
        &mut self,
        key: &ValueOf<K::Key>,
        min: &str,
        max: &str,
        limit: Option<(i64, i64)>,
    ) -> Result<Q::OwnedHandle<Members<K>>, FieldError> {
        self.keyed(
            "ZRANGEBYLEX",
            key,
            (min, max, limit.map(|(o, c)| ("LIMIT", o, c))),
        )
        .map(Q::owned)
    }

    /// `ZREVRANGEBYLEX key max min [LIMIT offset count]`.
    pub fn zrevrangebylex(
        &mut self,
        key: &ValueOf<K::Key>,
        max: &str,
        min: &str,
        limit: Option<(i64, i64)>,
    ) -> Result<Q::OwnedHandle<Members<K>>, FieldError> {
        self.keyed(
            "ZREVRANGEBYLEX",
            key,
            (max, min, limit.map(|(o, c)| ("LIMIT", o, c))),
        )
        .map(Q::owned)
    }

    /// `ZUNIONSTORE dest numkeys key...` within the keyspace: the size of the result.
    pub fn zunionstore<'k>(
        &mut self,
        dest: &ValueOf<K::Key>,
        keys: impl IntoIterator<Item = &'k ValueOf<K::Key>>,
    ) -> Result<Q::Handle<i64>, FieldError>
    where
        ValueOf<K::Key>: 'k,
        K: 'k,
    {
        let keys = super::Many::keys::<K>(keys)?;
        let n = keys.len();
        self.keyed("ZUNIONSTORE", dest, (n, keys))
    }

    /// `ZSCAN key cursor MATCH pattern [COUNT count]`: the next cursor and a page of
    /// member/score pairs.
    pub fn zscan(
        &mut self,
        key: &ValueOf<K::Key>,
        cursor: u64,
        pattern: &str,
        count: Option<u32>,
    ) -> Result<Q::OwnedHandle<(u64, Scored<K>)>, FieldError> {
        self.keyed(
            "ZSCAN",
            key,
            (cursor, "MATCH", pattern, count.map(|c| ("COUNT", c))),
        )
        .map(Q::owned)
    }
}
