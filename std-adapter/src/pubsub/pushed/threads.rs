//! The blocking side: a blocking shared connection is read only while a pipeline waits for
//! replies, so the subscriber's thread listens in between ([`listen`](tasks::Shared::listen))
//! and keeps the subscriber on the name's connections.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redpipe_core::pubsub::{Fanout, MemberId};
use redpipe_core::{Args, CapacityError, Result};

use super::super::blocking::Side;
use super::super::blocking::wait;
use super::super::{BACKOFF_MAX, BACKOFF_START, Kind, Shared};
use super::{
    apply, change_of, confirmations_may_come, fenced_change, record_outcomes, restart, take_pushes,
};
use crate::registry::{Connections, Pool};
use crate::shared::PushSink;
use crate::shared::threads as tasks;

/// How long the listening thread waits for bytes before it looks at its subscriber again: about
/// the longest an ended subscriber stays subscribed. A message is read when it comes, over TLS
/// too (where the listener waits on the socket without holding the one handle); while a
/// pipeline's thread reads instead, it hands the messages on, and wakes the listener when it
/// gives the read side back.
const LISTEN: Duration = Duration::from_millis(50);

/// Where a subscriber is: its connection, and the hub there.
type On = super::On<tasks::Shared, Mutex<()>>;

/// A blocking subscriber's side of a shared connection.
pub(in crate::pubsub) struct Hub {
    /// The subscriber's state: names, buffer, the owner's wake-ups.
    pub(in crate::pubsub) sub: Arc<Shared<Side>>,
    pool: Arc<Pool>,
    on: Mutex<Option<On>>,
    lost: AtomicBool,
}

impl PushSink for Hub {
    fn pushes(&self, frames: &[u8]) {
        // An end by the overflow policy is seen by the listening thread within `LISTEN`.
        take_pushes(&self.sub, frames);
    }

    fn lost(&self) {
        self.lost.store(true, Ordering::Relaxed);
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}

impl Hub {
    /// Joins a new subscriber to the hub of the shared connection of `name` and starts its
    /// thread.
    pub(in crate::pubsub) fn open(registry: &Connections, name: &str) -> Result<Arc<Self>> {
        let (pool, target) = super::target(registry, name)?;
        let hub = Arc::new(Self {
            sub: Arc::new(Shared::with(target, None)),
            pool,
            on: Mutex::new(None),
            lost: AtomicBool::new(false),
        });
        hub.attach()?;
        let keeper = Arc::clone(&hub);
        let started = std::thread::Builder::new()
            .name("redpipe-shared-subscriber".into())
            .spawn(move || keep(&keeper));
        if let Err(e) = started {
            if let Some(on) = hub.on.lock().unwrap_or_else(PoisonError::into_inner).take() {
                on.part();
            }
            return Err(redpipe_core::Error::Io(redpipe_core::IoError::new(
                redpipe_core::IoKind::Other,
                format!("no thread for the subscriber: {e}"),
            )));
        }
        Ok(hub)
    }

    fn on(&self) -> Option<On> {
        self.on
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies `change` in the hub's machine, writes the connection's commands it queued,
    /// fenced, and waits for their fences (see the tokio hub).
    fn send(
        &self,
        change: impl FnOnce(&mut Fanout, MemberId) -> std::result::Result<usize, CapacityError>,
    ) -> Result<()> {
        let on = self.on().ok_or(redpipe_core::Error::Closed)?;
        let _turn = on
            .fan
            .sending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(mut p) = apply(&on, &self.sub, change)? else {
            return Ok(());
        };
        let ran = on.conn.run_fenced(&mut p);
        record_outcomes(&self.sub, &p);
        ran
    }

    /// `subscribe_kind` and `unsubscribe_kind` on a shared connection (see the tokio hub).
    pub(in crate::pubsub) fn change<A: Args + ?Sized>(
        &self,
        kind: Kind,
        names: &A,
        subscribe: bool,
    ) -> Result<()> {
        fenced_change!(self, kind, names, subscribe, wait,)
    }

    /// The owner goes: the listening thread leaves the hub.
    pub(in crate::pubsub) fn stop(&self) {
        let mut st = self.sub.lock();
        st.closed = true;
        self.sub.wake_locked(&mut st);
    }

    fn close(&self) {
        let _ = self.send(|machine: &mut Fanout, id| machine.leave(id));
        if let Some(on) = self
            .on
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            on.part();
        }
    }

    /// Joins the hub of the name's shared connection, and keeps it.
    fn attach(self: &Arc<Self>) -> Result<()> {
        let conn = self.pool.shared()?.0;
        let sink: std::sync::Weak<dyn PushSink> = Arc::downgrade(self) as _;
        let on = super::join(conn, |c, make| c.attach(make), self.sub.info.limits, sink)?;
        *self.on.lock().unwrap_or_else(PoisonError::into_inner) = Some(on);
        Ok(())
    }

    fn reattach(self: &Arc<Self>) -> Result<()> {
        self.attach()?;
        for (kind, names) in restart(&self.sub)? {
            if !names.is_empty() {
                self.send(change_of(kind, &names, true))?;
            }
        }
        Ok(())
    }
}

/// The subscriber's thread: listens while no pipeline reads, pings a quiet connection, and
/// reattaches when the connection ends (with back-off), until the subscriber ends.
fn keep(hub: &Arc<Hub>) {
    let mut pinged = Instant::now();
    let mut backoff = BACKOFF_START;
    loop {
        if hub.sub.lock().closed {
            return hub.close();
        }
        if hub.lost.swap(false, Ordering::Relaxed) {
            if hub.reattach().is_err() && !hub.lost.load(Ordering::Relaxed) {
                hub.lost.store(true, Ordering::Relaxed);
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            } else {
                backoff = BACKOFF_START;
            }
            continue;
        }
        let Some(conn) = hub.on().map(|on| on.conn) else {
            return;
        };
        if conn.listen(LISTEN).is_err() {
            hub.lost.store(true, Ordering::Relaxed);
            continue;
        }
        if let Some(quiet) = hub.sub.info.read_timeout
            && pinged.elapsed() >= quiet
        {
            pinged = Instant::now();
            if let Some(mut p) = super::ping() {
                let _ = conn.run(&mut p);
            }
        }
    }
}
