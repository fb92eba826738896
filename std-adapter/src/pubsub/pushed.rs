//! A tokio subscriber on its name's shared connection (feature `tokio`, RESP3 only): no
//! connection of its own, its subscription commands written between everyone's pipelines,
//! its messages routed to it from the connection's driver.
//!
//! The core does the protocol: the connection's [`Mux`](redpipe_core::mux::Mux) hands every
//! RESP3 push to the driver, never to a pipeline, and writes subscription commands as fenced
//! submissions ([`queue_fenced`]), whose slots tell a refusal (`-NOPERM`, in band) from an
//! acceptance (confirmed by pushes); the subscriber's [`Router`](redpipe_core::pubsub::Router)
//! reads the pushes as events. This module moves them: the driver hands a read's pushes to the
//! [`Hub`] (the [`PushSink`] attached to the connection), which puts them in the subscriber's
//! buffer under the same bounds and [`Overflow`](super::Overflow) policy as a dedicated
//! subscriber; a keeper task reattaches to the name's next shared connection when the one it
//! was on ends, subscribes again and puts an [`Event::Gap`](super::Event::Gap) in the buffer.
//!
//! What differs from a subscriber on a connection of its own, and why it is opt-in:
//! - [`Overflow::Disconnect`](super::Overflow::Disconnect) cannot close the connection (others
//!   use it): it ends the subscriber alone, which unsubscribes and lets the pushes go.
//! - One subscriber per shared connection: the server keeps one set of subscriptions per
//!   connection, so a second subscriber's `UNSUBSCRIBE` would end the first's.
//! - The keeper pings the connection every `read_timeout` (a pipeline with
//!   one `PING`, among the others): a connection that died silently fails it by its stall
//!   timeout, as the dedicated subscriber's unanswered `PING` does.
//! - RESP3 only, a single server only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use redpipe_core::mux::{fenced_outcomes, queue_fenced};
use redpipe_core::{Args, Error, Result, Scanner, SlotError, VecPipeline};

use super::stream::{Writer, wait};
use super::{BACKOFF_MAX, BACKOFF_START, Kind, Shared, State, deadline, unconfirmed};
use crate::registry::{Connections, Pool};
use crate::shared::PushSink;
use crate::shared::tasks;

/// A subscriber's side of a shared connection: its state, the connection it is on, and the
/// keeper that follows the name's connections.
pub(super) struct Hub {
    /// The subscriber's state: names, buffer, the owner's wake-ups.
    pub(super) sub: Arc<Shared<Writer>>,
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
        let mut st = self.sub.lock();
        if st.closed {
            return; // ended: its unsubscribe is on its way
        }
        let mut at = 0;
        while at < frames.len() {
            match st.router.handle_input(0, &frames[at..]) {
                Ok(Some((frame, used))) => {
                    st.deliver(frame);
                    at += used;
                }
                Ok(None) => break,
                // A push the subscription machine cannot read (a `message` of the wrong
                // shape): skipped; the connection is the pipelines' too and stays.
                Err(_) => match Scanner::new().scan(&frames[at..], &self.sub.info.limits) {
                    Ok(Some(n)) => at += n,
                    _ => break,
                },
            }
        }
        let closed = st.closed;
        self.sub.wake_locked(&mut st);
        drop(st);
        if closed {
            self.keeper.notify_one(); // the overflow policy ended it
        }
    }

    fn lost(&self) {
        self.lost.store(true, Ordering::Relaxed);
        self.keeper.notify_one();
    }
}

impl Hub {
    /// Attaches a new subscriber to the shared connection of `name` and starts its keeper.
    pub(super) async fn open(registry: &Connections, name: &str) -> Result<Arc<Self>> {
        let pool = registry.shared_subscriber_pool(name)?;
        let target = registry.subscriber_settings(name)?;
        let conn = pool.shared_async().await?.0;
        let hub = Arc::new(Self {
            sub: Arc::new(Shared::with(target, None)),
            pool,
            conn: Mutex::new(Some(Arc::clone(&conn))),
            sending: tokio::sync::Mutex::new(()),
            keeper: tokio::sync::Notify::new(),
            lost: AtomicBool::new(false),
        });
        let weak: Weak<Hub> = Arc::downgrade(&hub);
        conn.attach(weak)?;
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
        let mut p = VecPipeline::new();
        {
            let mut st = self.sub.lock();
            let used = queue_fenced(&mut p, st.router.poll_output(0))?;
            if used == 0 {
                return Ok(());
            }
            // In the pipeline now: it goes, or the connection fails and everything wanted is
            // subscribed again on the next one.
            st.router.consume_output(0, used);
        }
        let conn = self.conn().ok_or(Error::Closed)?;
        let ran = conn.run_fenced(&mut p).await;
        let mut st = self.sub.lock();
        for outcome in fenced_outcomes(&p) {
            if let Err(SlotError::Server(e)) = outcome {
                st.refused = Some(Error::Server(e.into_owned()));
            }
        }
        self.sub.wake_locked(&mut st);
        ran
    }

    /// The body of `subscribe_kind` and `unsubscribe_kind` on a shared connection: queue the
    /// command, write it fenced, wait for the confirmations (names refused, or not confirmed
    /// in time, are forgotten).
    pub(super) async fn change<A: Args + ?Sized>(
        &self,
        kind: Kind,
        names: &A,
        subscribe: bool,
    ) -> Result<()> {
        if !self.sub.queue_change(kind, names, subscribe)? {
            return Ok(());
        }
        let deadline = deadline(Some(self.sub.confirm_timeout()));
        let result = match self.send().await {
            // A connection that failed is replaced by the keeper, which subscribes again.
            Ok(()) | Err(Error::Closed | Error::Io(_)) => {
                let shared = &self.sub;
                super::run::wait_for!(
                    shared,
                    deadline,
                    State::settled,
                    Err(unconfirmed()),
                    wait,
                    .await
                )
            }
            Err(e) => Err(e),
        };
        if result.is_err() && subscribe {
            self.sub.lock().router.forget(kind, names);
        }
        result
    }

    /// The owner goes: the keeper unsubscribes and lets the connection's pushes go.
    pub(super) fn stop(&self) {
        let mut st = self.sub.lock();
        st.closed = true;
        self.sub.wake_locked(&mut st);
        drop(st);
        self.keeper.notify_one();
    }

    /// Unsubscribes from everything on the connection (which others keep using), within the
    /// confirmation timeout, and detaches from it.
    async fn close(&self) {
        {
            let mut st = self.sub.lock();
            for kind in Kind::ALL {
                let names: Vec<Vec<u8>> = st.router.wanted(kind).map(<[u8]>::to_vec).collect();
                let _ = st.router.unsubscribe(kind, &names);
            }
        }
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
        let Some(conn) = self.conn() else { return };
        let mut p = VecPipeline::new();
        if p.query::<()>(redpipe_core::cmd("PING")).is_ok() {
            let _ = conn.run(&mut p).await;
        }
    }

    /// Attaches to the name's shared connection now (a new one if the last ended), subscribes
    /// again to every name wanted, and marks the gap. `Err`: try again later.
    async fn reattach(self: &Arc<Self>) -> Result<()> {
        let conn = self.pool.shared_async().await?.0;
        let weak: Weak<Hub> = Arc::downgrade(self);
        conn.attach(weak)?;
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
        {
            let mut st = self.sub.lock();
            st.gap();
            st.router.resubscribe(0)?;
            self.sub.wake_locked(&mut st);
        }
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
