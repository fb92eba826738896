//! Set commands.

use crate::codec::encode::{Args, ToArg, cmd};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Queue;

/// `SADD`, `SMEMBERS`, `SINTER` and the other commands on sets.
pub trait SetCommands: Queue {
    /// `SADD key member...`: how many members were added (not counting those already present).
    fn sadd(&mut self, key: impl ToArg, members: impl Args) -> Self::Handle<i64> {
        self.query(cmd("SADD").arg(key).arg(members))
    }
    /// `SREM key member...`: how many members were removed.
    fn srem(&mut self, key: impl ToArg, members: impl Args) -> Self::Handle<i64> {
        self.query(cmd("SREM").arg(key).arg(members))
    }
    /// `SMEMBERS key`: every member (empty when missing).
    fn smembers<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("SMEMBERS").arg(key))
    }
    /// `SISMEMBER key member`: whether `member` is in the set.
    fn sismember(&mut self, key: impl ToArg, member: impl ToArg) -> Self::Handle<bool> {
        self.query(cmd("SISMEMBER").arg(key).arg(member))
    }
    /// `SMISMEMBER key member...`: one flag per member, in order (read as `Seq<bool>`).
    fn smismember<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        members: impl Args,
    ) -> Self::Handle<T> {
        self.query(cmd("SMISMEMBER").arg(key).arg(members))
    }
    /// `SCARD key`: the number of members (0 when missing).
    fn scard(&mut self, key: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("SCARD").arg(key))
    }
    /// `SPOP key`: a random member, removed; `None` (with `Option<T>`) when the set is empty.
    fn spop<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("SPOP").arg(key))
    }
    /// `SPOP key count`: up to `count` random members, removed.
    fn spop_count<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        count: u64,
    ) -> Self::Handle<T> {
        self.query(cmd("SPOP").arg(key).arg(count))
    }
    /// `SRANDMEMBER key`: a random member, `None` (with `Option<T>`) when the set is empty.
    fn srandmember<T: FromReply + ?Sized>(&mut self, key: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("SRANDMEMBER").arg(key))
    }
    /// `SRANDMEMBER key count`: up to `count` distinct random members, or exactly `-count`
    /// members that may repeat when `count` is negative.
    fn srandmember_count<T: FromReply + ?Sized>(
        &mut self,
        key: impl ToArg,
        count: i64,
    ) -> Self::Handle<T> {
        self.query(cmd("SRANDMEMBER").arg(key).arg(count))
    }
    /// `SDIFF key...`: the members of the first set that are in none of the others.
    fn sdiff<T: FromReply + ?Sized>(&mut self, keys: impl Args) -> Self::Handle<T> {
        self.query(cmd("SDIFF").arg(keys))
    }
    /// `SINTER key...`: the members present in every set.
    fn sinter<T: FromReply + ?Sized>(&mut self, keys: impl Args) -> Self::Handle<T> {
        self.query(cmd("SINTER").arg(keys))
    }
    /// `SUNION key...`: the members present in any set.
    fn sunion<T: FromReply + ?Sized>(&mut self, keys: impl Args) -> Self::Handle<T> {
        self.query(cmd("SUNION").arg(keys))
    }
    /// `SDIFFSTORE destination key...`: stores `SDIFF` in `destination`; its size.
    fn sdiffstore(&mut self, destination: impl ToArg, keys: impl Args) -> Self::Handle<i64> {
        self.query(cmd("SDIFFSTORE").arg(destination).arg(keys))
    }
    /// `SINTERSTORE destination key...`: stores `SINTER` in `destination`; its size.
    fn sinterstore(&mut self, destination: impl ToArg, keys: impl Args) -> Self::Handle<i64> {
        self.query(cmd("SINTERSTORE").arg(destination).arg(keys))
    }
    /// `SUNIONSTORE destination key...`: stores `SUNION` in `destination`; its size.
    fn sunionstore(&mut self, destination: impl ToArg, keys: impl Args) -> Self::Handle<i64> {
        self.query(cmd("SUNIONSTORE").arg(destination).arg(keys))
    }
    /// `SMOVE source destination member`: true when moved (false when not in `source`).
    fn smove(
        &mut self,
        source: impl ToArg,
        destination: impl ToArg,
        member: impl ToArg,
    ) -> Self::Handle<bool> {
        self.query(cmd("SMOVE").arg(source).arg(destination).arg(member))
    }
}

impl<Q: Queue + ?Sized> SetCommands for Q {}

#[cfg(test)]
mod tests {
    use super::SetCommands;
    use crate::Seq;

    #[test]
    fn encodes() {
        slice_pipeline!(p);
        let _ = p.sadd("s", ["a", "b"]).expect("fits");
        let _ = p.srandmember_count::<Seq<&str>>("s", -3).expect("fits");
        let _ = p.sinter::<Seq<&str>>(&["s", "t"]).expect("fits");
        let _ = p.sunionstore("d", ["s", "t"]).expect("fits");
        let _ = p.smove("s", "t", "a").expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*4\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\na\r\n$1\r\nb\r\n\
               *3\r\n$11\r\nSRANDMEMBER\r\n$1\r\ns\r\n$2\r\n-3\r\n\
               *3\r\n$6\r\nSINTER\r\n$1\r\ns\r\n$1\r\nt\r\n\
               *4\r\n$11\r\nSUNIONSTORE\r\n$1\r\nd\r\n$1\r\ns\r\n$1\r\nt\r\n\
               *4\r\n$5\r\nSMOVE\r\n$1\r\ns\r\n$1\r\nt\r\n$1\r\na\r\n"[..]
        );
    }

    #[test]
    fn reads_replies() {
        slice_pipeline!(p);
        let is = p.sismember("s", "a").expect("fits");
        let flags = p.smismember::<Seq<bool>>("s", &["a", "z"]).expect("fits");
        let members = p.smembers::<Seq<&str>>("s").expect("fits");
        let popped = p.spop::<Option<&str>>("empty").expect("fits");
        let card = p.scard("s").expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*3\r\n$9\r\nSISMEMBER\r\n$1\r\ns\r\n$1\r\na\r\n\
               *4\r\n$10\r\nSMISMEMBER\r\n$1\r\ns\r\n$1\r\na\r\n$1\r\nz\r\n\
               *2\r\n$8\r\nSMEMBERS\r\n$1\r\ns\r\n\
               *2\r\n$4\r\nSPOP\r\n$5\r\nempty\r\n\
               *2\r\n$5\r\nSCARD\r\n$1\r\ns\r\n"[..]
        );
        // Integer flags for SMISMEMBER; a RESP3 set for SMEMBERS and a RESP3 null for SPOP.
        let input = b":1\r\n*2\r\n:1\r\n:0\r\n~2\r\n$1\r\na\r\n$1\r\nb\r\n_\r\n:2\r\n";
        crate::cmd::answer(&mut p, input);
        assert_eq!(is.read(&p), Ok(true));
        let mut flags = flags.read(&p).expect("an array");
        assert_eq!(
            (flags.next(), flags.next()),
            (Some(Ok(true)), Some(Ok(false)))
        );
        assert_eq!(flags.next(), None);
        let mut members = members.read(&p).expect("a set");
        assert_eq!(members.next(), Some(Ok("a")));
        assert_eq!(members.next(), Some(Ok("b")));
        assert_eq!(members.next(), None);
        assert_eq!(popped.read(&p), Ok(None));
        assert_eq!(card.read(&p), Ok(2));
    }
}
