//! The timed window of a measurement, and what the server saw meanwhile: requests completed,
//! connections open (`INFO clients`) and connections accepted (`INFO stats`), read on a
//! connection of this bench's own from a thread of its own.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redpipe::core::VecPipeline;
use redpipe::prelude::*;
use redpipe::{Connection, ConnectionInfo};

use super::TaskResult;

/// What one timed window saw.
pub(super) struct Window {
    /// Requests completed inside it.
    pub(super) done: u64,
    pub(super) secs: f64,
    /// The most connections open at once beyond [`Census::baseline`].
    pub(super) conns: usize,
    /// Connections the server accepted inside it.
    pub(super) accepted: u64,
}

/// Sets a flag when dropped: the requests stop however the watcher ends.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The server's connection counts, read on a connection of this bench's own.
pub(crate) struct Census {
    conn: Connection,
    /// Connections open when no contender is (this bench's own, this one included).
    baseline: usize,
}

impl Census {
    pub(crate) fn open(info: &ConnectionInfo) -> crate::Result<Self> {
        let mut conn = Connection::open(info)?;
        let baseline = connected_clients(&mut conn)?;
        Ok(Self { conn, baseline })
    }

    /// Waits (at most 10 s) until the server has closed every connection of the previous
    /// contender.
    pub(crate) fn settle(&mut self) -> crate::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = connected_clients(&mut self.conn)?;
            if now <= self.baseline {
                self.baseline = now;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} connections of the previous contender still open after 10 s",
                    now - self.baseline
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs on a thread of its own while the requests run, counting them in `done`: waits
    /// `warm` (the contender reaches its steady state: connections open, buffers grown), then
    /// for `timed` counts the requests completed and samples `connected_clients` every 20 ms;
    /// then sets `stop`. Also sets `stop` when it fails, and returns early once `stop` is set
    /// (the requests failed).
    pub(super) fn watch(
        &mut self,
        done: &AtomicU64,
        stop: &AtomicBool,
        warm: Duration,
        timed: Duration,
    ) -> TaskResult<Window> {
        let _stop = StopOnDrop(stop);
        let conn = &mut self.conn;
        let early = || -> TaskResult<Window> { Err("the requests stopped early".into()) };
        let until = Instant::now() + warm;
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return early();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let accepted = connections_received(conn).map_err(|e| e.to_string())?;
        let (start, done0) = (Instant::now(), done.load(Ordering::Relaxed));
        let until = start + timed;
        let mut most = 0;
        loop {
            most = most.max(connected_clients(conn).map_err(|e| e.to_string())?);
            if stop.load(Ordering::Relaxed) {
                return early();
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
        let (secs, done1) = (start.elapsed().as_secs_f64(), done.load(Ordering::Relaxed));
        let accepted = connections_received(conn)
            .map_err(|e| e.to_string())?
            .saturating_sub(accepted);
        Ok(Window {
            done: done1 - done0,
            secs,
            conns: most.saturating_sub(self.baseline),
            accepted,
        })
    }
}

/// A numeric field of `INFO section`.
fn info_field(conn: &mut Connection, section: &str, field: &str) -> crate::Result<u64> {
    let mut p = VecPipeline::new();
    let info = p.query::<&str>(cmd("INFO").arg(section))?;
    conn.execute(&mut p)?;
    let text = info.read(&p).map_err(|e| e.to_string())?;
    let v = text
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .ok_or_else(|| format!("INFO {section} without {field}"))?;
    Ok(v.trim().parse()?)
}

/// `connected_clients` of `INFO clients`: connections open now.
fn connected_clients(conn: &mut Connection) -> crate::Result<usize> {
    Ok(usize::try_from(info_field(
        conn,
        "clients",
        "connected_clients",
    )?)?)
}

/// `total_connections_received` of `INFO stats`: connections accepted since the server started.
fn connections_received(conn: &mut Connection) -> crate::Result<u64> {
    info_field(conn, "stats", "total_connections_received")
}
