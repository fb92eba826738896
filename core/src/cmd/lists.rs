//! List commands.

use super::{Span, Timeout};
use crate::codec::encode::{Args, Scratch, ToArg, cmd};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Queue;

/// An end of a list, for `LMOVE`: `LEFT` (the head) or `RIGHT` (the tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// `LEFT`: the head, where `LPUSH` and `LPOP` work.
    Left,
    /// `RIGHT`: the tail, where `RPUSH` and `RPOP` work.
    Right,
}

impl ToArg for End {
    #[inline]
    fn to_arg<'s>(&'s self, _: &'s mut Scratch) -> &'s [u8] {
        match self {
            Self::Left => b"LEFT",
            Self::Right => b"RIGHT",
        }
    }
}

/// `LPUSH`, `LPOP`, `LRANGE`, `LMOVE` and the other commands on lists.
pub trait ListCommands: Queue {
    /// `LPUSH key value...`: the list's length after the push.
    fn lpush(&mut self, key: impl ToArg, values: impl Args) -> Self::Handle<i64> {
        self.query(cmd("LPUSH").arg(key).arg(values))
    }
    /// `RPUSH key value...`: the list's length after the push.
    fn rpush(&mut self, key: impl ToArg, values: impl Args) -> Self::Handle<i64> {
        self.query(cmd("RPUSH").arg(key).arg(values))
    }
    /// `LPUSHX key value...`: the list's length after the push (0, pushing nothing, when missing).
    fn lpushx(&mut self, key: impl ToArg, values: impl Args) -> Self::Handle<i64> {
        self.query(cmd("LPUSHX").arg(key).arg(values))
    }
    /// `RPUSHX key value...`: the list's length after the push (0, pushing nothing, when missing).
    fn rpushx(&mut self, key: impl ToArg, values: impl Args) -> Self::Handle<i64> {
        self.query(cmd("RPUSHX").arg(key).arg(values))
    }
    /// `BLPOP key... timeout`: `(key, element)` from the head of the first non-empty list,
    /// waiting up to `timeout` seconds (0: forever); `None` on timeout. A blocking command holds
    /// its connection: give it a connection of its own rather than a busy pipeline.
    ///
    /// The wait is not taken for a dead server: the pipeline's read and pipeline timeouts are
    /// lengthened by `timeout`, and lifted for a timeout of 0, while it runs (the std
    /// connections read [`Pipeline::blocking`](crate::Pipeline::blocking); see
    /// `ConnectionInfo::read_timeout` in `redpipe`). The other blocking commands do the same.
    fn blpop<T: FromReply + ?Sized>(
        &mut self,
        keys: impl Args,
        timeout: impl Span,
    ) -> Self::Handle<T> {
        self.query(cmd("BLPOP").arg(keys).arg(Timeout::of(timeout)))
    }
    /// `BRPOP key... timeout`: as [`blpop`](Self::blpop), from the tail.
    fn brpop<T: FromReply + ?Sized>(
        &mut self,
        keys: impl Args,
        timeout: impl Span,
    ) -> Self::Handle<T> {
        self.query(cmd("BRPOP").arg(keys).arg(Timeout::of(timeout)))
    }
    /// `LPOP key`: the first element, `None` (with `Option<T>`) when the list is empty.
    fn lpop<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("LPOP").arg(key))
    }
    /// `RPOP key`: the last element, `None` (with `Option<T>`) when the list is empty.
    fn rpop<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("RPOP").arg(key))
    }
    /// `LPOP key count`: up to `count` elements from the head (nil, read as empty, when missing).
    fn lpop_count<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        count: u64,
    ) -> Self::Handle<T> {
        self.query(cmd("LPOP").arg(key).arg(count))
    }
    /// `RPOP key count`: up to `count` elements from the tail (nil, read as empty, when missing).
    fn rpop_count<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        count: u64,
    ) -> Self::Handle<T> {
        self.query(cmd("RPOP").arg(key).arg(count))
    }
    /// `LRANGE key start stop`: the elements from `start` to `stop` inclusive (negative counts
    /// from the tail: `0, -1` is the whole list).
    fn lrange<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        start: i64,
        stop: i64,
    ) -> Self::Handle<T> {
        self.query(cmd("LRANGE").arg(key).arg(start).arg(stop))
    }
    /// `LLEN key`: the list's length (0 when missing).
    fn llen(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("LLEN").arg(key))
    }
    /// `LINDEX key index`: the element at `index`, `None` (with `Option<T>`) when out of range.
    fn lindex<T: FromReply + ?Sized>(&mut self, key: impl ToArg, index: i64) -> Self::Handle<T> {
        self.query(cmd("LINDEX").arg(key).arg(index))
    }
    /// `LSET key index value`: replaces the element at `index` (an error when out of range).
    fn lset(&mut self, key: impl ToArg, index: i64, value: impl ToArg) -> Self::Handle<()> {
        self.query(cmd("LSET").arg(key).arg(index).arg(value))
    }
    /// `LREM key count value`: how many elements equal to `value` were removed (`count` > 0 from
    /// the head, < 0 from the tail, 0 all).
    fn lrem(&mut self, key: impl ToArg, count: i64, value: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("LREM").arg(key).arg(count).arg(value))
    }
    /// `LTRIM key start stop`: keeps only the elements from `start` to `stop` inclusive.
    fn ltrim(&mut self, key: impl ToArg, start: i64, stop: i64) -> Self::Handle<()> {
        self.query(cmd("LTRIM").arg(key).arg(start).arg(stop))
    }
    /// `LINSERT key BEFORE pivot value`: the new length, -1 when `pivot` is not found, 0 when
    /// the key is missing.
    fn linsert_before(
        &mut self,
        key: impl ToArg,
        pivot: impl ToArg,
        value: impl ToArg,
    ) -> Self::Handle<i64> {
        self.query(cmd("LINSERT").arg(key).arg("BEFORE").arg(pivot).arg(value))
    }
    /// `LINSERT key AFTER pivot value`: the new length, -1 when `pivot` is not found, 0 when the
    /// key is missing.
    fn linsert_after(
        &mut self,
        key: impl ToArg,
        pivot: impl ToArg,
        value: impl ToArg,
    ) -> Self::Handle<i64> {
        self.query(cmd("LINSERT").arg(key).arg("AFTER").arg(pivot).arg(value))
    }
    /// `RPOPLPUSH source destination`: the element moved, `None` (with `Option<T>`) when
    /// `source` is empty.
    fn rpoplpush<T: FromReply + ?Sized>(
        &mut self,
        source: impl ToArg,
        destination: impl ToArg,
    ) -> Self::Handle<T> {
        self.query(cmd("RPOPLPUSH").arg(source).arg(destination))
    }
    /// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`: the element moved, `None` (with
    /// `Option<T>`) when `source` is empty.
    fn lmove<T: FromReply + ?Sized>(
        &mut self,
        source: impl ToArg,
        destination: impl ToArg,
        from: End,
        to: End,
    ) -> Self::Handle<T> {
        self.query(cmd("LMOVE").arg(source).arg(destination).arg(from).arg(to))
    }
}

impl<Q: Queue + ?Sized> ListCommands for Q {}

#[cfg(test)]
mod tests {
    use super::{End, ListCommands};
    use crate::Seq;

    #[test]
    fn encodes() {
        slice_pipeline!(p);
        let _ = p.rpush("l", ["a", "b"]).expect("fits");
        let _ = p.lpop_count::<Seq<&str>>("l", 2).expect("fits");
        let _ = p.lrem("l", -2, "a").expect("fits");
        let _ = p.linsert_before("l", "b", "c").expect("fits");
        let _ = p.linsert_after("l", "b", 5).expect("fits");
        let _ = p
            .lmove::<Option<&str>>("l", "m", End::Right, End::Left)
            .expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*4\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n\
               *3\r\n$4\r\nLPOP\r\n$1\r\nl\r\n$1\r\n2\r\n\
               *4\r\n$4\r\nLREM\r\n$1\r\nl\r\n$2\r\n-2\r\n$1\r\na\r\n\
               *5\r\n$7\r\nLINSERT\r\n$1\r\nl\r\n$6\r\nBEFORE\r\n$1\r\nb\r\n$1\r\nc\r\n\
               *5\r\n$7\r\nLINSERT\r\n$1\r\nl\r\n$5\r\nAFTER\r\n$1\r\nb\r\n$1\r\n5\r\n\
               *5\r\n$5\r\nLMOVE\r\n$1\r\nl\r\n$1\r\nm\r\n$5\r\nRIGHT\r\n$4\r\nLEFT\r\n"[..]
        );
    }

    #[test]
    fn reads_replies() {
        slice_pipeline!(p);
        let len = p.lpush("l", [1, 2, 3]).expect("fits");
        let range = p.lrange::<Seq<i64>>("l", 0, -1).expect("fits");
        let popped = p.rpop::<Option<&str>>("empty").expect("fits");
        let set = p.lset("l", 0, "x").expect("fits");
        let (first, last) = (
            p.lindex::<i64>("l", 0).expect("fits"),
            p.lindex::<Option<i64>>("l", 9).expect("fits"),
        );
        assert_eq!(
            p.encoded(),
            &b"*5\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n\
               *4\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n$2\r\n-1\r\n\
               *2\r\n$4\r\nRPOP\r\n$5\r\nempty\r\n\
               *4\r\n$4\r\nLSET\r\n$1\r\nl\r\n$1\r\n0\r\n$1\r\nx\r\n\
               *3\r\n$6\r\nLINDEX\r\n$1\r\nl\r\n$1\r\n0\r\n\
               *3\r\n$6\r\nLINDEX\r\n$1\r\nl\r\n$1\r\n9\r\n"[..]
        );
        let input =
            b":3\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n$-1\r\n+OK\r\n$1\r\n3\r\n$-1\r\n";
        crate::cmd::answer(&mut p, input);
        assert_eq!(len.read(&p), Ok(3));
        let mut items = range.read(&p).expect("an array");
        assert_eq!(items.next(), Some(Ok(3)));
        assert_eq!(items.next(), Some(Ok(2)));
        assert_eq!(items.next(), Some(Ok(1)));
        assert_eq!(items.next(), None);
        assert_eq!(popped.read(&p), Ok(None));
        assert_eq!(set.read(&p), Ok(()));
        assert_eq!(first.read(&p), Ok(3));
        assert_eq!(last.read(&p), Ok(None));
    }
}
