//! The blocking side: a blocking shared connection is read only while a pipeline waits for
//! replies, so the subscriber's thread listens in between ([`listen`](tasks::Shared::listen))
//! and keeps the subscriber on the name's connections.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redpipe_core::{Args, Result};

use super::super::blocking::Side;
use super::super::blocking::wait;
use super::super::{BACKOFF_MAX, BACKOFF_START, Kind, Shared};
use super::{
    attach, confirmations_may_come, fence_pending, fenced_change, record_outcomes, restart,
    take_pushes, unsubscribe_everything,
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

/// A blocking subscriber's side of a shared connection.
pub(in crate::pubsub) struct Hub {
    /// The subscriber's state: names, buffer, the owner's wake-ups.
    pub(in crate::pubsub) sub: Arc<Shared<Side>>,
    pool: Arc<Pool>,
    conn: Mutex<Option<Arc<tasks::Shared>>>,
    /// One writer of subscription commands at a time (see the tokio hub).
    sending: Mutex<()>,
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
}

impl Hub {
    /// Attaches a new subscriber to the shared connection of `name` and starts its thread.
    pub(in crate::pubsub) fn open(registry: &Connections, name: &str) -> Result<Arc<Self>> {
        let (pool, target) = super::target(registry, name)?;
        let hub = Arc::new(Self {
            sub: Arc::new(Shared::with(target, None)),
            pool,
            conn: Mutex::new(None),
            sending: Mutex::new(()),
            lost: AtomicBool::new(false),
        });
        let conn = hub.attach()?;
        let keeper = Arc::clone(&hub);
        let started = std::thread::Builder::new()
            .name("redpipe-shared-subscriber".into())
            .spawn(move || keep(&keeper));
        if let Err(e) = started {
            conn.detach();
            return Err(redpipe_core::Error::Io(redpipe_core::IoError::new(
                redpipe_core::IoKind::Other,
                format!("no thread for the subscriber: {e}"),
            )));
        }
        Ok(hub)
    }

    fn conn(&self) -> Option<Arc<tasks::Shared>> {
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Writes the router's pending commands, fenced, and waits for their fences.
    fn send(&self) -> Result<()> {
        let _turn = self.sending.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(mut p) = fence_pending(&self.sub)? else {
            return Ok(());
        };
        let conn = self.conn().ok_or(redpipe_core::Error::Closed)?;
        let ran = conn.run_fenced(&mut p);
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

    /// The owner goes: the listening thread unsubscribes and detaches.
    pub(in crate::pubsub) fn stop(&self) {
        let mut st = self.sub.lock();
        st.closed = true;
        self.sub.wake_locked(&mut st);
    }

    fn close(&self) {
        unsubscribe_everything(&self.sub);
        let _ = self.send();
        if let Some(conn) = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            conn.detach();
        }
    }

    /// Attaches to one of the name's shared connections, and keeps it: with `multiplexed`
    /// above 1 each is asked in turn until one has no subscriber yet.
    fn attach(self: &Arc<Self>) -> Result<Arc<tasks::Shared>> {
        attach!(self, shared,)
    }

    fn reattach(self: &Arc<Self>) -> Result<()> {
        self.attach()?;
        restart(&self.sub)?;
        self.send()
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
        let Some(conn) = hub.conn() else { return };
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
