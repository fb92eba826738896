//! Connection and server commands.

use crate::codec::encode::{ToArg, cmd};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Queue;

/// `PING`, `SELECT`, `INFO`, `PUBLISH` and other commands on the connection or the server.
pub trait ServerCommands: Queue {
    /// `PING`: `PONG`.
    fn ping(&mut self) -> Self::Handle<&'static str> {
        self.query(cmd("PING"))
    }
    /// `ECHO message`: the message.
    fn echo<T: FromReply + ?Sized>(&mut self, message: impl ToArg) -> Self::Handle<T> {
        self.query(cmd("ECHO").arg(message))
    }
    /// `DBSIZE`: the number of keys in the selected database.
    fn dbsize(&mut self) -> Self::Handle<i64> {
        self.query(cmd("DBSIZE"))
    }
    /// `FLUSHDB`: deletes every key of the selected database.
    fn flushdb(&mut self) -> Self::Handle<()> {
        self.query(cmd("FLUSHDB"))
    }
    /// `FLUSHALL`: deletes every key of every database.
    fn flushall(&mut self) -> Self::Handle<()> {
        self.query(cmd("FLUSHALL"))
    }
    /// `SELECT db`: switches this connection to database `db` for the commands after it.
    fn select(&mut self, db: u32) -> Self::Handle<()> {
        self.query(cmd("SELECT").arg(db))
    }
    /// `TIME`: the server clock as `(unix seconds, microseconds)`, e.g. read as `(u64, u64)`.
    fn time<T: FromReply + ?Sized>(&mut self) -> Self::Handle<T> {
        self.query(cmd("TIME"))
    }
    /// `INFO [section]`: the server's report as text (every default section when `None`).
    fn info<T: FromReply + ?Sized>(&mut self, section: Option<&str>) -> Self::Handle<T> {
        self.query(cmd("INFO").arg(section))
    }
    /// `CLIENT SETNAME name`: names this connection (shown by `CLIENT LIST`).
    fn client_setname(&mut self, name: impl ToArg) -> Self::Handle<()> {
        self.query(cmd("CLIENT").arg("SETNAME").arg(name))
    }
    /// `PUBLISH channel message`: how many subscribers received the message.
    fn publish(&mut self, channel: impl ToArg, message: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("PUBLISH").arg(channel).arg(message))
    }
    /// `SPUBLISH shardchannel message` (Redis 7): publishes to a shard channel, whose
    /// subscribers are on the nodes of its hash slot (a cluster routes it there); how many
    /// subscribers received it.
    fn spublish(&mut self, channel: impl ToArg, message: impl ToArg) -> Self::Handle<i64> {
        self.query(cmd("SPUBLISH").arg(channel).arg(message))
    }
}

impl<Q: Queue + ?Sized> ServerCommands for Q {}

#[cfg(test)]
mod tests {
    use super::ServerCommands;

    #[test]
    fn encodes() {
        slice_pipeline!(p);
        let _ = p.select(3).expect("fits");
        let _ = p.info::<&str>(None).expect("fits");
        let _ = p.info::<&str>(Some("memory")).expect("fits");
        let _ = p.client_setname("worker-1").expect("fits");
        let _ = p.flushdb().expect("fits");
        let _ = p.publish("news", "hi").expect("fits");
        let _ = p.spublish("s", 1).expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n\
               *1\r\n$4\r\nINFO\r\n\
               *2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n\
               *3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$8\r\nworker-1\r\n\
               *1\r\n$7\r\nFLUSHDB\r\n\
               *3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$2\r\nhi\r\n\
               *3\r\n$8\r\nSPUBLISH\r\n$1\r\ns\r\n$1\r\n1\r\n"[..]
        );
    }

    #[test]
    fn reads_replies() {
        slice_pipeline!(p);
        let pong = p.ping().expect("fits");
        let echo = p.echo::<&[u8]>(&b"\x00hi"[..]).expect("fits");
        let time = p.time::<(u64, u64)>().expect("fits");
        let size = p.dbsize().expect("fits");
        assert_eq!(
            p.encoded(),
            &b"*1\r\n$4\r\nPING\r\n\
               *2\r\n$4\r\nECHO\r\n$3\r\n\x00hi\r\n\
               *1\r\n$4\r\nTIME\r\n\
               *1\r\n$6\r\nDBSIZE\r\n"[..]
        );
        let input = b"+PONG\r\n$3\r\n\x00hi\r\n*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n:42\r\n";
        crate::cmd::answer(&mut p, input);
        assert_eq!(pong.read(&p), Ok("PONG"));
        assert_eq!(echo.read(&p), Ok(&b"\x00hi"[..]));
        assert_eq!(time.read(&p), Ok((1_700_000_000, 123_456)));
        assert_eq!(size.read(&p), Ok(42));
    }
}
