//! The scan family: `SCAN`, `SSCAN`, `HSCAN`, `ZSCAN`.

use crate::codec::encode::{ArgSink, Args, ToArg, cmd};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Queue;

/// `MATCH`, `COUNT` and `TYPE` of a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOptions<'a> {
    /// `MATCH pattern`.
    pub pattern: Option<&'a str>,
    /// `COUNT n`: a hint of how much work per call.
    pub count: Option<u64>,
    /// `TYPE name` (`SCAN` only).
    pub type_name: Option<&'a str>,
}

impl Args for ScanOptions<'_> {
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        if let Some(p) = self.pattern {
            enc.arg("MATCH");
            enc.arg(p);
        }
        if let Some(c) = self.count {
            enc.arg("COUNT");
            enc.arg(&c);
        }
        if let Some(t) = self.type_name {
            enc.arg("TYPE");
            enc.arg(t);
        }
    }
}

/// Cursor-based iteration. Each call returns `(next_cursor, items)`; the scan is complete when
/// the cursor comes back as 0.
pub trait ScanCommands: Queue {
    /// `SCAN cursor [MATCH] [COUNT] [TYPE]`: `(cursor, keys)`.
    fn scan<T: FromReply>(&mut self, cursor: u64, opts: ScanOptions<'_>) -> Self::Handle<(u64, T)> {
        self.query(cmd("SCAN").arg(cursor).arg(opts))
    }
    /// `SSCAN key cursor ...`: `(cursor, members)`.
    fn sscan<T: FromReply>(
        &mut self,
        key: impl ToArg,
        cursor: u64,
        opts: ScanOptions<'_>,
    ) -> Self::Handle<(u64, T)> {
        self.query(cmd("SSCAN").arg(key).arg(cursor).arg(opts))
    }
    /// `HSCAN key cursor ...`: `(cursor, field/value pairs)`.
    fn hscan<T: FromReply>(
        &mut self,
        key: impl ToArg,
        cursor: u64,
        opts: ScanOptions<'_>,
    ) -> Self::Handle<(u64, T)> {
        self.query(cmd("HSCAN").arg(key).arg(cursor).arg(opts))
    }
    /// `ZSCAN key cursor ...`: `(cursor, member/score pairs)`.
    fn zscan<T: FromReply>(
        &mut self,
        key: impl ToArg,
        cursor: u64,
        opts: ScanOptions<'_>,
    ) -> Self::Handle<(u64, T)> {
        self.query(cmd("ZSCAN").arg(key).arg(cursor).arg(opts))
    }
}

impl<Q: Queue + ?Sized> ScanCommands for Q {}
