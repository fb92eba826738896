//! HyperLogLog commands.

use crate::codec::encode::{Args, ToArg, cmd};
use crate::engine::queue::Queue;

/// `PFADD`, `PFCOUNT` and `PFMERGE`: approximate distinct counting.
pub trait HyperLogLogCommands: Queue {
    /// `PFADD key element...`: true when the estimate changed.
    fn pfadd(&mut self, key: impl ToArg, elements: impl Args) -> Self::Handle<bool> {
        self.query(cmd("PFADD").arg(key).arg(elements))
    }
    /// `PFCOUNT key...`: the approximate number of distinct elements in the union of the keys.
    fn pfcount(&mut self, keys: impl Args) -> Self::Handle<i64> {
        self.query(cmd("PFCOUNT").arg(keys))
    }
    /// `PFMERGE destination source...`: merges the sources into `destination`.
    fn pfmerge(&mut self, destination: impl ToArg, sources: impl Args) -> Self::Handle<()> {
        self.query(cmd("PFMERGE").arg(destination).arg(sources))
    }
}

impl<Q: Queue + ?Sized> HyperLogLogCommands for Q {}

#[cfg(test)]
mod tests {
    use super::HyperLogLogCommands;

    #[test]
    fn encodes_and_reads_replies() {
        slice_pipeline!(p);
        let added = p.pfadd("h", ["a", "b", "c"]).expect("fits");
        let unchanged = p.pfadd("h", ["a"]).expect("fits");
        let merged = p.pfmerge("d", ["h", "g"]).expect("fits");
        let count = p.pfcount(["d"]).expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*5\r\n$5\r\nPFADD\r\n$1\r\nh\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n\
               *3\r\n$5\r\nPFADD\r\n$1\r\nh\r\n$1\r\na\r\n\
               *4\r\n$7\r\nPFMERGE\r\n$1\r\nd\r\n$1\r\nh\r\n$1\r\ng\r\n\
               *2\r\n$7\r\nPFCOUNT\r\n$1\r\nd\r\n"[..]
        );
        let input = b":1\r\n:0\r\n+OK\r\n:3\r\n";
        crate::cmd::answer(&mut p, input);
        assert_eq!(added.read(&p), Ok(true));
        assert_eq!(unchanged.read(&p), Ok(false));
        assert_eq!(merged.read(&p), Ok(()));
        assert_eq!(count.read(&p), Ok(3));
    }
}
