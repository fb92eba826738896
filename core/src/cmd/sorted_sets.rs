//! Sorted set commands.

use super::{Span, Timeout};
use crate::codec::encode::{ArgSink, Args, ToArg, cmd, count_args};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Queue;

/// Conditions of [`SortedSetCommands::zadd_with`]: `NX` (only add), `XX` (only update), `GT` /
/// `LT` (only update to a greater / lower score), `CH` (count changed members too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZaddOptions {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is lower.
    pub lt: bool,
    /// Count changed members, not only added ones.
    pub ch: bool,
}

impl Args for ZaddOptions {
    fn write_args<W: ArgSink + ?Sized>(&self, out: &mut W) {
        for (on, word) in [
            (self.nx, "NX"),
            (self.xx, "XX"),
            (self.gt, "GT"),
            (self.lt, "LT"),
            (self.ch, "CH"),
        ] {
            if on {
                out.arg(word);
            }
        }
    }
}

/// `ZADD`, `ZRANGE`, `ZSCORE` and the other commands on sorted sets.
///
/// Score bounds (`min`, `max`) take any [`ToArg`]: a number, or text such as `"-inf"`, `"+inf"`
/// or `"(1.5"` (exclusive). Results "with scores" are member/score pairs: read them as a pair
/// type such as `Seq<(&str, f64)>`, from RESP2 flat arrays and RESP3 nested pairs alike.
pub trait SortedSetCommands: Queue {
    /// `ZADD key score member`: 1 when `member` was added, 0 when its score was updated. The
    /// score is any number (or `"+inf"`, `"-inf"`).
    fn zadd(
        &mut self,
        key: impl ToArg,
        member: impl ToArg,
        score: impl ToArg,
    ) -> Self::Handle<i64> {
        self.query(cmd("ZADD").arg(key).arg(score).arg(member))
    }
    /// `ZADD key score member ...`: how many members were added (not counting updated ones).
    fn zadd_multiple(&mut self, key: impl ToArg, items: impl Args) -> Self::Handle<i64> {
        self.query(cmd("ZADD").arg(key).arg(items))
    }
    /// `ZADD key [NX|XX] [GT|LT] [CH] score member ...` with `options`: how many members were
    /// added (or changed, with `ch`).
    fn zadd_with(
        &mut self,
        key: impl ToArg,
        options: ZaddOptions,
        items: impl Args,
    ) -> Self::Handle<i64> {
        self.query(cmd("ZADD").arg(key).arg(options).arg(items))
    }
    /// `BZPOPMIN key... timeout`: the lowest-scored member of the first non-empty set, as
    /// `(key, member, score)`, waiting up to `timeout` seconds (0: forever); `None` on timeout.
    fn bzpopmin<T: FromReply + ?Sized>(
        &mut self,
        keys: impl Args,
        timeout: impl Span,
    ) -> Self::Handle<T> {
        self.query(cmd("BZPOPMIN").arg(keys).arg(Timeout::of(timeout)))
    }
    /// `BZPOPMAX key... timeout`: as [`bzpopmin`](Self::bzpopmin), the highest-scored member.
    fn bzpopmax<T: FromReply + ?Sized>(
        &mut self,
        keys: impl Args,
        timeout: impl Span,
    ) -> Self::Handle<T> {
        self.query(cmd("BZPOPMAX").arg(keys).arg(Timeout::of(timeout)))
    }
    /// `ZINCRBY key increment member`: the member's new score.
    fn zincrby(&mut self, key: impl ToArg, by: f64, member: impl ToArg) -> Self::Handle<f64> {
        self.query(cmd("ZINCRBY").arg(key).arg(by).arg(member))
    }
    /// `ZSCORE key member`: the member's score, `None` when not in the set.
    fn zscore(&mut self, key: impl ToArg, member: impl ToArg) -> Self::Handle<Option<f64>> {
        self.query(cmd("ZSCORE").arg(key).arg(member))
    }
    /// `ZMSCORE key member...`: one score per member, nil for missing ones (read as
    /// `Seq<Option<f64>>`).
    fn zmscore<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        members: impl Args,
    ) -> Self::Handle<T> {
        self.query(cmd("ZMSCORE").arg(key).arg(members))
    }
    /// `ZRANK key member`: the member's 0-based rank by ascending score, `None` when absent.
    fn zrank(&mut self, key: impl ToArg, member: impl ToArg) -> Self::Handle<Option<i64>> {
        self.query(cmd("ZRANK").arg(key).arg(member))
    }
    /// `ZREVRANK key member`: the member's 0-based rank by descending score, `None` when absent.
    fn zrevrank(&mut self, key: impl ToArg, member: impl ToArg) -> Self::Handle<Option<i64>> {
        self.query(cmd("ZREVRANK").arg(key).arg(member))
    }
    /// `ZREM key member...`: how many members were removed.
    fn zrem(&mut self, key: impl ToArg, members: impl Args) -> Self::Handle<i64> {
        self.query(cmd("ZREM").arg(key).arg(members))
    }
    /// `ZCARD key`: the number of members (0 when missing).
    fn zcard(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("ZCARD").arg(key))
    }
    /// `ZCOUNT key min max`: how many members have a score between `min` and `max`.
    fn zcount(&mut self, key: impl ToArg, min: impl ToArg, max: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("ZCOUNT").arg(key).arg(min).arg(max))
    }
    /// `ZRANGE key start stop`: the members ranked `start` to `stop` inclusive, by ascending
    /// score (negative ranks count from the highest).
    fn zrange<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        start: i64,
        stop: i64,
    ) -> Self::Handle<T> {
        self.query(cmd("ZRANGE").arg(key).arg(start).arg(stop))
    }
    /// `ZRANGE key start stop WITHSCORES`: member/score pairs ranked `start` to `stop`.
    fn zrange_withscores<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        start: i64,
        stop: i64,
    ) -> Self::Handle<T> {
        self.query(
            cmd("ZRANGE")
                .arg(key)
                .arg(start)
                .arg(stop)
                .arg("WITHSCORES"),
        )
    }
    /// `ZREVRANGE key start stop`: the members ranked `start` to `stop` inclusive, by descending
    /// score.
    fn zrevrange<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        start: i64,
        stop: i64,
    ) -> Self::Handle<T> {
        self.query(cmd("ZREVRANGE").arg(key).arg(start).arg(stop))
    }
    /// `ZREVRANGE key start stop WITHSCORES`: member/score pairs by descending score.
    fn zrevrange_withscores<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        start: i64,
        stop: i64,
    ) -> Self::Handle<T> {
        self.query(
            cmd("ZREVRANGE")
                .arg(key)
                .arg(start)
                .arg(stop)
                .arg("WITHSCORES"),
        )
    }
    /// `ZRANGEBYSCORE key min max`: the members scored between `min` and `max`, ascending.
    fn zrangebyscore<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        min: impl ToArg,
        max: impl ToArg,
    ) -> Self::Handle<T> {
        self.query(cmd("ZRANGEBYSCORE").arg(key).arg(min).arg(max))
    }
    /// `ZREVRANGEBYSCORE key max min`: the members scored between `max` and `min`, descending.
    fn zrevrangebyscore<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        max: impl ToArg,
        min: impl ToArg,
    ) -> Self::Handle<T> {
        self.query(cmd("ZREVRANGEBYSCORE").arg(key).arg(max).arg(min))
    }
    /// `ZRANGEBYSCORE key min max WITHSCORES`: member/score pairs scored between `min` and
    /// `max`, ascending.
    fn zrangebyscore_withscores<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        min: impl ToArg,
        max: impl ToArg,
    ) -> Self::Handle<T> {
        self.query(
            cmd("ZRANGEBYSCORE")
                .arg(key)
                .arg(min)
                .arg(max)
                .arg("WITHSCORES"),
        )
    }
    /// `ZREMRANGEBYRANK key start stop`: how many members ranked `start` to `stop` were removed.
    fn zremrangebyrank(&mut self, key: impl ToArg, start: i64, stop: i64) -> Self::Handle<i64> {
        self.query(cmd("ZREMRANGEBYRANK").arg(key).arg(start).arg(stop))
    }
    /// `ZREMRANGEBYSCORE key min max`: how many members scored between `min` and `max` were
    /// removed.
    fn zremrangebyscore(
        &mut self,
        key: impl ToArg,
        min: impl ToArg,
        max: impl ToArg,
    ) -> Self::Handle<i64> {
        self.query(cmd("ZREMRANGEBYSCORE").arg(key).arg(min).arg(max))
    }
    /// `ZPOPMIN key count`: up to `count` member/score pairs with the lowest scores, removed.
    fn zpopmin<T: FromReply + ?Sized>(&mut self, key: impl ToArg, count: u64) -> Self::Handle<T> {
        self.query(cmd("ZPOPMIN").arg(key).arg(count))
    }
    /// `ZPOPMAX key count`: up to `count` member/score pairs with the highest scores, removed.
    fn zpopmax<T: FromReply + ?Sized>(&mut self, key: impl ToArg, count: u64) -> Self::Handle<T> {
        self.query(cmd("ZPOPMAX").arg(key).arg(count))
    }
    /// `ZUNIONSTORE destination numkeys key...`: stores the union (scores summed) in
    /// `destination`; its size.
    fn zunionstore(&mut self, destination: impl ToArg, keys: impl Args) -> Self::Handle<i64> {
        self.query(
            cmd("ZUNIONSTORE")
                .arg(destination)
                .arg(count_args(&keys))
                .arg(keys),
        )
    }
    /// `ZINTERSTORE destination numkeys key...`: stores the intersection (scores summed) in
    /// `destination`; its size.
    fn zinterstore(&mut self, destination: impl ToArg, keys: impl Args) -> Self::Handle<i64> {
        self.query(
            cmd("ZINTERSTORE")
                .arg(destination)
                .arg(count_args(&keys))
                .arg(keys),
        )
    }
}

impl<Q: Queue + ?Sized> SortedSetCommands for Q {}

#[cfg(test)]
mod tests {
    use super::SortedSetCommands;
    use crate::Seq;

    #[test]
    fn encodes() {
        slice_pipeline!(p);
        let _ = p.zadd("z", "m", 1.5).expect("fits");
        let _ = p
            .zadd_multiple("z", [(1.0, "a"), (2.0, "b")])
            .expect("fits");
        let _ = p.zcount("z", "-inf", "(2").expect("fits");
        let _ = p
            .zrevrangebyscore::<Seq<&str>>("z", 10, "-inf")
            .expect("fits");
        let _ = p
            .zrange_withscores::<Seq<(&str, f64)>>("z", 0, -1)
            .expect("fits");
        let _ = p.zinterstore("d", ["z", "y"]).expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\nm\r\n\
               *6\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.0\r\n$1\r\na\r\n$3\r\n2.0\r\n$1\r\nb\r\n\
               *4\r\n$6\r\nZCOUNT\r\n$1\r\nz\r\n$4\r\n-inf\r\n$2\r\n(2\r\n\
               *4\r\n$16\r\nZREVRANGEBYSCORE\r\n$1\r\nz\r\n$2\r\n10\r\n$4\r\n-inf\r\n\
               *5\r\n$6\r\nZRANGE\r\n$1\r\nz\r\n$1\r\n0\r\n$2\r\n-1\r\n$10\r\nWITHSCORES\r\n\
               *5\r\n$11\r\nZINTERSTORE\r\n$1\r\nd\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\ny\r\n"[..]
        );
    }

    #[test]
    fn reads_replies() {
        slice_pipeline!(p);
        let score = p.zscore("z", "m").expect("fits");
        let none = p.zscore("z", "nope").expect("fits");
        let rank = p.zrank("z", "m").expect("fits");
        let by = p.zincrby("z", 0.5, "m").expect("fits");
        let flat = p
            .zrangebyscore_withscores::<Seq<(&str, f64)>>("z", 1, 2)
            .expect("fits");
        let nested = p.zpopmin::<Seq<(&str, f64)>>("z", 2).expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*3\r\n$6\r\nZSCORE\r\n$1\r\nz\r\n$1\r\nm\r\n\
               *3\r\n$6\r\nZSCORE\r\n$1\r\nz\r\n$4\r\nnope\r\n\
               *3\r\n$5\r\nZRANK\r\n$1\r\nz\r\n$1\r\nm\r\n\
               *4\r\n$7\r\nZINCRBY\r\n$1\r\nz\r\n$3\r\n0.5\r\n$1\r\nm\r\n\
               *5\r\n$13\r\nZRANGEBYSCORE\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\n2\r\n$10\r\nWITHSCORES\r\n\
               *3\r\n$7\r\nZPOPMIN\r\n$1\r\nz\r\n$1\r\n2\r\n"[..]
        );
        // RESP2 bulk scores and a flat array, then RESP3 doubles and nested pairs.
        let input = b"$3\r\n1.5\r\n$-1\r\n:0\r\n,2\r\n\
                      *4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nm\r\n$1\r\n2\r\n\
                      *2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nm\r\n,inf\r\n";
        crate::cmd::answer(&mut p, input);
        assert_eq!(score.read(&p), Ok(Some(1.5)));
        assert_eq!(none.read(&p), Ok(None));
        assert_eq!(rank.read(&p), Ok(Some(0)));
        assert_eq!(by.read(&p), Ok(2.0));
        let mut flat = flat.read(&p).expect("an array");
        assert_eq!(flat.next(), Some(Ok(("a", 1.0))));
        assert_eq!(flat.next(), Some(Ok(("m", 2.0))));
        assert_eq!(flat.next(), None);
        let mut nested = nested.read(&p).expect("an array");
        assert_eq!(nested.next(), Some(Ok(("a", 1.0))));
        assert_eq!(nested.next(), Some(Ok(("m", f64::INFINITY))));
        assert_eq!(nested.next(), None);
    }
}
