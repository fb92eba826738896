//! The tokio side: a keeper task, the driver task hands pushes over after its lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use redpipe_core::{Args, Result};

use super::super::stream::{Writer, wait};
use super::super::{BACKOFF_MAX, BACKOFF_START, Kind, Shared};
use super::{
    attach, confirmations_may_come, fence_pending, fenced_change, record_outcomes, restart,
    take_pushes, unsubscribe_everything,
};
use crate::registry::{Connections, Pool};
use crate::shared::PushSink;
use crate::shared::tasks;

/// A subscriber's side of a shared connection: its state, the connection it is on, and the
/// keeper that follows the name's connections.
pub(in crate::pubsub) struct Hub {
    /// The subscriber's state: names, buffer, the owner's wake-ups.
    pub(in crate::pubsub) sub: Arc<Shared<Writer>>,
    pool: Arc<Pool>,
    conn: Mutex<Option<Arc<tasks::Shared>>>,
    /// One writer of subscription commands at a time: the router's output goes on the wire
    /// in its order.
    sending: tokio::sync::Mutex<()>,
    /// Wakes the keeper: the connection ended, or the subscriber did.
    keeper: tokio::sync::Notify,
    lost: AtomicBool,
}

impl PushSink for Hub {
    fn pushes(&self, frames: &[u8]) {
        if take_pushes(&self.sub, frames) {
            self.keeper.notify_one(); // ended: the keeper unsubscribes
        }
    }

    fn lost(&self) {
        self.lost.store(true, Ordering::Relaxed);
        self.keeper.notify_one();
    }
}

impl Hub {
    /// Attaches a new subscriber to the shared connection of `name` and starts its keeper.
    pub(in crate::pubsub) async fn open(registry: &Connections, name: &str) -> Result<Arc<Self>> {
        let (pool, target) = super::target(registry, name)?;
        let hub = Arc::new(Self {
            sub: Arc::new(Shared::with(target, None)),
            pool,
            conn: Mutex::new(None),
            sending: tokio::sync::Mutex::new(()),
            keeper: tokio::sync::Notify::new(),
            lost: AtomicBool::new(false),
        });
        hub.attach().await?;
        tokio::spawn(keep(Arc::clone(&hub)));
        Ok(hub)
    }

    fn conn(&self) -> Option<Arc<tasks::Shared>> {
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Writes the router's pending commands on the connection, fenced, and waits for their
    /// fences: a refusal is kept for the `subscribe` waiting. `Err`: the connection failed
    /// (the keeper subscribes again on the next one) or the commands do not fit.
    async fn send(&self) -> Result<()> {
        let _turn = self.sending.lock().await;
        let Some(mut p) = fence_pending(&self.sub)? else {
            return Ok(());
        };
        let conn = self.conn().ok_or(redpipe_core::Error::Closed)?;
        let ran = conn.run_fenced(&mut p).await;
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

    /// The owner goes: the keeper unsubscribes and lets the connection's pushes go.
    pub(in crate::pubsub) fn stop(&self) {
        let mut st = self.sub.lock();
        st.closed = true;
        self.sub.wake_locked(&mut st);
        drop(st);
        self.keeper.notify_one();
    }

    /// Unsubscribes from everything on the connection (which others keep using), within the
    /// confirmation timeout, and detaches from it.
    async fn close(&self) {
        unsubscribe_everything(&self.sub);
        let _ = tokio::time::timeout(self.sub.confirm_timeout(), self.send()).await;
        if let Some(conn) = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            conn.detach();
        }
    }

    /// Asks the connection whether it is alive after `read_timeout` without a word from the
    /// subscriber's side: a connection that died silently fails the `PING` (its stall timeout),
    /// and the keeper reattaches.
    async fn ping(&self) {
        if let (Some(conn), Some(mut p)) = (self.conn(), super::ping()) {
            let _ = conn.run(&mut p).await;
        }
    }

    /// Attaches to one of the name's shared connections, and keeps it: with `multiplexed`
    /// above 1 each is asked in turn until one has no subscriber yet.
    async fn attach(self: &Arc<Self>) -> Result<Arc<tasks::Shared>> {
        attach!(self, shared_async, .await)
    }

    /// Attaches to the name's shared connection now (a new one if the last ended), subscribes
    /// again to every name wanted, and marks the gap. `Err`: try again later.
    async fn reattach(self: &Arc<Self>) -> Result<()> {
        self.attach().await?;
        restart(&self.sub)?;
        self.send().await
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
