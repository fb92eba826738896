//! Hash commands.

use crate::codec::encode::{Args, ToArg, cmd};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Queue;

/// `HGET`, `HSET`, `HGETALL`, `HINCRBY` and the other commands on hashes.
pub trait HashCommands: Queue {
    /// `HGET key field`: the value, `None` (with `Option<T>`) when the field or key is missing.
    fn hget<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        field: impl ToArg,
    ) -> Self::Handle<T> {
        self.query(cmd("HGET").arg(key).arg(field))
    }
    /// `HSET key field value`: how many fields were added (0 when one was updated).
    fn hset(&mut self, key: impl ToArg, field: impl ToArg, value: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("HSET").arg(key).arg(field).arg(value))
    }
    /// `HSET key field value ...`: how many fields were added (not counting updated ones).
    fn hset_multiple(&mut self, key: impl ToArg, pairs: impl Args) -> Self::Handle<i64> {
        self.query(cmd("HSET").arg(key).arg(pairs))
    }
    /// `HSETNX key field value`: true when set (false when the field already exists).
    fn hsetnx(
        &mut self,
        key: impl ToArg,
        field: impl ToArg,
        value: impl ToArg,
    ) -> Self::Handle<bool> {
        self.query(cmd("HSETNX").arg(key).arg(field).arg(value))
    }
    /// `HMGET key field...`: the values in order (nil for missing fields).
    fn hmget<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        fields: impl Args,
    ) -> Self::Handle<T> {
        self.query(cmd("HMGET").arg(key).arg(fields))
    }
    /// `HGETALL key`: every field/value pair (a pair type such as `(K, V)` per item; empty when
    /// missing).
    fn hgetall<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("HGETALL").arg(key))
    }
    /// `HDEL key field...`: how many fields were removed.
    fn hdel(&mut self, key: impl ToArg, fields: impl Args) -> Self::Handle<i64> {
        self.query(cmd("HDEL").arg(key).arg(fields))
    }
    /// `HEXISTS key field`: whether the field exists.
    fn hexists(&mut self, key: impl ToArg, field: impl ToArg) -> Self::Handle<bool> {
        self.query(cmd("HEXISTS").arg(key).arg(field))
    }
    /// `HINCRBY key field n`: the field's new value.
    fn hincrby(&mut self, key: impl ToArg, field: impl ToArg, n: i64) -> Self::Handle<i64> {
        self.query(cmd("HINCRBY").arg(key).arg(field).arg(n))
    }
    /// `HINCRBYFLOAT key field x`: the field's new value.
    fn hincrbyfloat(&mut self, key: impl ToArg, field: impl ToArg, x: f64) -> Self::Handle<f64> {
        self.query(cmd("HINCRBYFLOAT").arg(key).arg(field).arg(x))
    }
    /// `HKEYS key`: every field name (empty when missing).
    fn hkeys<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("HKEYS").arg(key))
    }
    /// `HVALS key`: every value (empty when missing).
    fn hvals<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("HVALS").arg(key))
    }
    /// `HLEN key`: the number of fields (0 when missing).
    fn hlen(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("HLEN").arg(key))
    }
    /// `HSTRLEN key field`: the length of the field's value (0 when missing).
    fn hstrlen(&mut self, key: impl ToArg, field: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("HSTRLEN").arg(key).arg(field))
    }
}

impl<Q: Queue + ?Sized> HashCommands for Q {}

#[cfg(test)]
mod tests {
    use super::HashCommands;
    use crate::Seq;

    #[test]
    fn encodes() {
        slice_pipeline!(p);
        let _ = p.hset("h", "f", 7).expect("fits");
        let _ = p.hset_multiple("h", [("a", 1), ("b", 2)]).expect("fits");
        let _ = p.hmget::<Seq<&str>>("h", &["a", "b"]).expect("fits");
        let _ = p.hincrbyfloat("h", "f", -1.5).expect("fits");
        let _ = p.hdel("h", ["a"]).expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\n7\r\n\
               *6\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n\
               *4\r\n$5\r\nHMGET\r\n$1\r\nh\r\n$1\r\na\r\n$1\r\nb\r\n\
               *4\r\n$12\r\nHINCRBYFLOAT\r\n$1\r\nh\r\n$1\r\nf\r\n$4\r\n-1.5\r\n\
               *3\r\n$4\r\nHDEL\r\n$1\r\nh\r\n$1\r\na\r\n"[..]
        );
    }

    #[test]
    fn reads_replies() {
        slice_pipeline!(p);
        let got = p.hget::<Option<&str>>("h", "f").expect("fits");
        let missing = p.hget::<Option<&str>>("h", "g").expect("fits");
        let all = p.hgetall::<Seq<(&str, i64)>>("h").expect("fits");
        let exists = p.hexists("h", "f").expect("fits");
        let n = p.hincrby("h", "f", 2).expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\n\
               *3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\ng\r\n\
               *2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n\
               *3\r\n$7\r\nHEXISTS\r\n$1\r\nh\r\n$1\r\nf\r\n\
               *4\r\n$7\r\nHINCRBY\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\n2\r\n"[..]
        );
        let input =
            b"$1\r\n5\r\n$-1\r\n*4\r\n$1\r\nf\r\n$1\r\n5\r\n$1\r\nx\r\n$2\r\n10\r\n:1\r\n:7\r\n";
        crate::cmd::answer(&mut p, input);
        assert_eq!(got.read(&p), Ok(Some("5")));
        assert_eq!(missing.read(&p), Ok(None));
        let mut pairs = all.read(&p).expect("an array");
        assert_eq!(pairs.next(), Some(Ok(("f", 5))));
        assert_eq!(pairs.next(), Some(Ok(("x", 10))));
        assert_eq!(pairs.next(), None);
        assert_eq!(exists.read(&p), Ok(true));
        assert_eq!(n.read(&p), Ok(7));
    }
}
