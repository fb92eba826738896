//! The tokio side: a keeper task per subscriber; the driver task hands pushes to the hub after
//! its lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use redpipe_core::pubsub::{Fanout, MemberId};
use redpipe_core::{Args, CapacityError, Result};

use super::super::stream::{Writer, wait};
use super::super::{BACKOFF_MAX, BACKOFF_START, Kind, Shared};
use super::{
    apply, change_of, confirmations_may_come, fenced_change, record_outcomes, restart, take_pushes,
};
use crate::registry::{Connections, Pool};
use crate::shared::PushSink;
use crate::shared::tasks;

/// Where a subscriber is: its connection, and the hub there.
type On = super::On<tasks::Shared, tokio::sync::Mutex<()>>;

/// A subscriber's side of a shared connection: its state, where it is, and the keeper that
/// follows the name's connections.
pub(in crate::pubsub) struct Hub {
    /// The subscriber's state: names, buffer, the owner's wake-ups.
    pub(in crate::pubsub) sub: Arc<Shared<Writer>>,
    pool: Arc<Pool>,
    on: Mutex<Option<On>>,
    /// Wakes the keeper: the connection ended, or the subscriber did.
    keeper: tokio::sync::Notify,
    lost: AtomicBool,
}

impl PushSink for Hub {
    fn pushes(&self, frames: &[u8]) {
        if take_pushes(&self.sub, frames) {
            self.keeper.notify_one(); // ended: the keeper leaves the hub
        }
    }

    fn lost(&self) {
        self.lost.store(true, Ordering::Relaxed);
        self.keeper.notify_one();
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}

impl Hub {
    /// Joins a new subscriber to the hub of the shared connection of `name` and starts its
    /// keeper.
    pub(in crate::pubsub) async fn open(registry: &Connections, name: &str) -> Result<Arc<Self>> {
        let (pool, target) = super::target(registry, name)?;
        let hub = Arc::new(Self {
            sub: Arc::new(Shared::with(target, None)),
            pool,
            on: Mutex::new(None),
            keeper: tokio::sync::Notify::new(),
            lost: AtomicBool::new(false),
        });
        hub.attach().await?;
        tokio::spawn(keep(Arc::clone(&hub)));
        Ok(hub)
    }

    fn on(&self) -> Option<On> {
        self.on
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies `change` in the hub's machine and writes the connection's commands it queued,
    /// fenced, waiting for their fences: a refusal is kept for the `subscribe` waiting. `Err`:
    /// the connection failed or is not there (the keeper subscribes again on the next one), or
    /// the commands do not fit.
    async fn send(
        &self,
        change: impl FnOnce(&mut Fanout, MemberId) -> std::result::Result<usize, CapacityError>,
    ) -> Result<()> {
        let on = self.on().ok_or(redpipe_core::Error::Closed)?;
        let _turn = on.fan.sending.lock().await;
        let Some(mut p) = apply(&on, &self.sub, change)? else {
            return Ok(());
        };
        let ran = on.conn.run_fenced(&mut p).await;
        record_outcomes(&self.sub, &p);
        ran
    }

    /// The body of `subscribe_kind` and `unsubscribe_kind` on a shared connection: queue the
    /// command, write it fenced, wait for the confirmations (names refused, or not confirmed
    /// in time, are forgotten).
    pub(in crate::pubsub) async fn change<A: Args + ?Sized>(
        &self,
        kind: Kind,
        names: &A,
        subscribe: bool,
    ) -> Result<()> {
        fenced_change!(self, kind, names, subscribe, wait, .await)
    }

    /// The owner goes: the keeper leaves the hub.
    pub(in crate::pubsub) fn stop(&self) {
        let mut st = self.sub.lock();
        st.closed = true;
        self.sub.wake_locked(&mut st);
        drop(st);
        self.keeper.notify_one();
    }

    /// Leaves the hub, within the confirmation timeout: the names nobody else there wants are
    /// unsubscribed on the connection (which others keep using).
    async fn close(&self) {
        let leave = |machine: &mut Fanout, id| machine.leave(id);
        let _ = tokio::time::timeout(self.sub.confirm_timeout(), self.send(leave)).await;
        if let Some(on) = self
            .on
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            on.part();
        }
    }

    /// Asks the connection whether it is alive after `read_timeout` without a word from the
    /// subscriber's side: a connection that died silently fails the `PING` (its stall timeout),
    /// and the keeper reattaches.
    async fn ping(&self) {
        if let (Some(on), Some(mut p)) = (self.on(), super::ping()) {
            let _ = on.conn.run(&mut p).await;
        }
    }

    /// Joins the hub of the name's shared connection, and keeps it.
    async fn attach(self: &Arc<Self>) -> Result<()> {
        let conn = self.pool.shared_async().await?.0;
        let sink: std::sync::Weak<dyn PushSink> = Arc::downgrade(self) as _;
        let on = super::join(conn, |c, make| c.attach(make), self.sub.info.limits, sink)?;
        *self.on.lock().unwrap_or_else(PoisonError::into_inner) = Some(on);
        Ok(())
    }

    /// Joins the hub of the name's shared connection now (a new one if the last ended),
    /// subscribes again to every name wanted, and marks the gap. `Err`: try again later.
    async fn reattach(self: &Arc<Self>) -> Result<()> {
        self.attach().await?;
        for (kind, names) in restart(&self.sub)? {
            if !names.is_empty() {
                self.send(change_of(kind, &names, true)).await?;
            }
        }
        Ok(())
    }
}
/// The keeper: waits for the connection to end (then reattaches, with back-off between
/// attempts that fail) or the subscriber to end (then closes).
async fn keep(hub: Arc<Hub>) {
    loop {
        match hub.sub.info.read_timeout {
            Some(quiet) => {
                if tokio::time::timeout(quiet, hub.keeper.notified())
                    .await
                    .is_err()
                {
                    hub.ping().await;
                    continue;
                }
            }
            None => hub.keeper.notified().await,
        }
        if hub.sub.lock().closed {
            return hub.close().await;
        }
        if !hub.lost.swap(false, Ordering::Relaxed) {
            continue;
        }
        let mut backoff = BACKOFF_START;
        loop {
            if hub.sub.lock().closed {
                return hub.close().await;
            }
            match hub.reattach().await {
                Ok(()) => break,
                // Lost again while subscribing: the flag says so, and the outer loop goes on.
                Err(_) if hub.lost.load(Ordering::Relaxed) => break,
                Err(_) => {}
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}
