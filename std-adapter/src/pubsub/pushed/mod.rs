//! A subscriber on its name's shared connection (RESP3 only): no connection of its own, its
//! subscription commands written between everyone's pipelines, its messages routed to it from
//! the connection's reader.
//!
//! The core does the protocol: the connection's [`Mux`](redpipe_core::mux::Mux) hands every
//! RESP3 push to its reader, never to a pipeline, and writes subscription commands as fenced
//! submissions ([`queue_fenced`]), whose slots tell a refusal (`-NOPERM`, in band) from an
//! acceptance (confirmed by pushes); the subscriber's [`Router`](redpipe_core::pubsub::Router)
//! reads the pushes as events. This module moves them: the reader hands a read's pushes to the
//! hub (the [`PushSink`](crate::shared::PushSink) attached to the connection), which puts them
//! in the subscriber's buffer under the same bounds and [`Overflow`](super::Overflow) policy as
//! a dedicated subscriber; a keeper (a task, or for the blocking subscriber the thread that
//! also listens while no pipeline reads) reattaches to the name's next shared connection when
//! the one it was on ends, subscribes again and puts an [`Event::Gap`](super::Event::Gap) in
//! the buffer.
//!
//! What differs from a subscriber on a connection of its own, and why it is opt-in:
//! - [`Overflow::Disconnect`](super::Overflow::Disconnect) cannot close the connection (others
//!   use it): it ends the subscriber alone, which unsubscribes and lets the pushes go.
//! - One subscriber per shared connection: the server keeps one set of subscriptions per
//!   connection, so a second subscriber's `UNSUBSCRIBE` would end the first's. A name with
//!   `multiplexed` above 1 takes one on each of its connections (each is asked in turn).
//! - The keeper pings the connection every `read_timeout` (a pipeline with one `PING`, among
//!   the others): a connection that died silently fails it by its stall timeout, as the
//!   dedicated subscriber's unanswered `PING` does.
//! - RESP3 only, a single server only.

#[cfg(feature = "tokio")]
pub(super) mod tasks;
pub(super) mod threads;

use std::sync::Arc;

use redpipe_core::mux::{fenced_outcomes, queue_fenced};
use redpipe_core::{Error, Result, Scanner, SlotError, VecPipeline};

use super::{Kind, Shared};
use crate::registry::{Connections, Pool, SubscriberTarget};

/// Where a shared-connection subscriber of `name` goes: the pool whose shared connections it
/// may share, and its settings.
fn target(registry: &Connections, name: &str) -> Result<(Arc<Pool>, SubscriberTarget)> {
    let pool = registry.shared_subscriber_pool(name)?;
    Ok((pool, registry.subscriber_settings(name)?))
}

/// Takes in a read's pushes (whole frames, back to back); returns whether the subscriber has
/// ended (its overflow policy, or its owner went).
fn take_pushes<W>(sub: &Shared<W>, frames: &[u8]) -> bool {
    let mut st = sub.lock();
    if st.closed {
        return true; // ended: its unsubscribe is on its way
    }
    let mut at = 0;
    while at < frames.len() {
        match st.router.handle_input(0, &frames[at..]) {
            Ok(Some((frame, used))) => {
                st.deliver(frame);
                at += used;
            }
            Ok(None) => break,
            // A push the subscription machine cannot read (a `message` of the wrong shape):
            // skipped; the connection is the pipelines' too and stays.
            Err(_) => match Scanner::new().scan(&frames[at..], &sub.info.limits) {
                Ok(Some(n)) => at += n,
                _ => break,
            },
        }
    }
    let closed = st.closed;
    sub.wake_locked(&mut st);
    closed
}

/// The router's pending commands in a fenced pipeline, marked sent (they go, or the connection
/// fails and everything wanted is subscribed again on the next one); `None`: nothing pending.
fn fence_pending<W>(sub: &Shared<W>) -> Result<Option<VecPipeline>> {
    let mut p = VecPipeline::new();
    let mut st = sub.lock();
    let used = queue_fenced(&mut p, st.router.poll_output(0))?;
    if used == 0 {
        return Ok(None);
    }
    st.router.consume_output(0, used);
    Ok(Some(p))
}

/// Keeps a refusal among a fenced pipeline's outcomes for the `subscribe` waiting.
fn record_outcomes<W>(sub: &Shared<W>, p: &VecPipeline) {
    let mut st = sub.lock();
    for outcome in fenced_outcomes(p) {
        if let Err(SlotError::Server(e)) = outcome {
            st.refused = Some(Error::Server(e.into_owned()));
        }
    }
    sub.wake_locked(&mut st);
}

/// Queues the unsubscription of every name wanted: the subscriber ends, the connection stays.
fn unsubscribe_everything<W>(sub: &Shared<W>) {
    let mut st = sub.lock();
    for kind in Kind::ALL {
        let names: Vec<Vec<u8>> = st.router.wanted(kind).map(<[u8]>::to_vec).collect();
        let _ = st.router.unsubscribe(kind, &names);
    }
}

/// On a new connection: marks the gap and queues every name wanted again.
fn restart<W>(sub: &Shared<W>) -> Result<()> {
    let mut st = sub.lock();
    st.gap();
    st.router.resubscribe(0)?;
    sub.wake_locked(&mut st);
    Ok(())
}

/// Whether `subscribe` waits for confirmations after a write that ended so: a connection that
/// failed is replaced by the keeper, which subscribes again.
fn confirmations_may_come(sent: &Result<()>) -> bool {
    matches!(sent, Ok(()) | Err(Error::Closed | Error::Io(_)))
}

/// The body of a hub's `change`, written once for both modes (`$($await)*` is `.await` or
/// nothing, `$wait` the mode's wait): queue the command, write it fenced, wait for the
/// confirmations; names refused, or not confirmed in time, are forgotten.
macro_rules! fenced_change {
    ($hub:expr, $kind:expr, $names:expr, $subscribe:expr, $wait:path, $($await:tt)*) => {{
        let hub = $hub;
        if !hub.sub.queue_change($kind, $names, $subscribe, false)? {
            return Ok(());
        }
        let deadline = crate::pubsub::deadline(Some(hub.sub.confirm_timeout()));
        let sent = hub.send() $($await)*;
        let result = match sent {
            _ if confirmations_may_come(&sent) => {
                let shared = &hub.sub;
                crate::pubsub::run::wait_for!(
                    shared,
                    deadline,
                    crate::pubsub::State::settled,
                    Err(crate::pubsub::unconfirmed()),
                    $wait,
                    $($await)*
                )
            }
            sent => sent,
        };
        if result.is_err() && $subscribe {
            hub.sub.lock().router.forget($kind, $names);
        }
        result
    }};
}
use fenced_change;

/// The body of a hub's `attach`, written once for both modes (`$shared` is the pool's call for
/// a shared connection, `$($await)*` is `.await` or nothing): attaches to one of the name's
/// shared connections, and keeps it; with `multiplexed` above 1 each is asked in turn until one
/// has no subscriber yet.
macro_rules! attach {
    ($hub:expr, $shared:ident, $($await:tt)*) => {{
        let hub = $hub;
        let weak: std::sync::Weak<Hub> = std::sync::Arc::downgrade(hub);
        let mut refused = None;
        let mut attached = None;
        for _ in 0..hub.pool.info.multiplexed.max(1) {
            let conn = hub.pool.$shared() $($await)* ?.0;
            match conn.attach(weak.clone()) {
                Ok(()) => {
                    *hub.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(std::sync::Arc::clone(&conn));
                    attached = Some(conn);
                    break;
                }
                Err(e) => refused = Some(e),
            }
        }
        attached.ok_or_else(|| refused.unwrap_or(redpipe_core::Error::Closed))
    }};
}
use attach;

/// A pipeline of one `PING`: the keeper's question to a quiet connection.
fn ping() -> Option<VecPipeline> {
    let mut p = VecPipeline::new();
    let _pong = p.query::<()>(redpipe_core::cmd("PING")).ok()?;
    Some(p)
}

#[cfg(test)]
mod tests {
    //! What a hub does with the pushes a shared connection hands it, hostile ones included.
    #![allow(clippy::unwrap_used)] // tests: a panic is the failure report

    use super::super::{Event, Overflow, Shared};
    use super::{Kind, fence_pending, take_pushes};
    use crate::config::ConnectionInfo;

    fn hub() -> Shared<()> {
        let info: ConnectionInfo = "redis://127.0.0.1:1?protocol=3".parse().unwrap();
        let sub = Shared::with((info, None, None), None);
        sub.queue_change(Kind::Channel, &["news"], true, false)
            .unwrap();
        // Written (fenced) as a shared connection would; the confirmation comes as a push.
        let p = fence_pending(&sub).unwrap().unwrap();
        assert_eq!(p.len(), 2, "the command and its fence");
        sub
    }

    fn message(payload: &str) -> Vec<u8> {
        format!(
            ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{payload}\r\n",
            payload.len()
        )
        .into_bytes()
    }

    fn taken(sub: &Shared<()>) -> Vec<Event> {
        let mut st = sub.lock();
        std::iter::from_fn(|| st.take().and_then(Result::ok)).collect()
    }

    #[test]
    fn confirmations_settle_and_messages_are_buffered_in_order() {
        let sub = hub();
        assert_eq!(sub.lock().router.pending(), 1);
        let frames = [
            &b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"[..],
            &message("a"),
            &message("b"),
        ]
        .concat();
        assert!(!take_pushes(&sub, &frames));
        assert_eq!(sub.lock().router.pending(), 0);
        let got: Vec<String> = taken(&sub)
            .into_iter()
            .filter_map(Event::message)
            .map(|m| m.payload::<String>().unwrap())
            .collect();
        assert_eq!(got, ["a", "b"]);
    }

    #[test]
    fn hostile_pushes_are_skipped_and_the_next_ones_read() {
        let sub = hub();
        let frames = [
            // A `message` of the wrong shape, a push of another kind, a push that is no
            // subscription's at all, then a good message.
            &b">2\r\n$7\r\nmessage\r\n$4\r\nnews\r\n"[..],
            b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
            b">1\r\n:7\r\n",
            &message("ok"),
        ]
        .concat();
        assert!(!take_pushes(&sub, &frames));
        let got = taken(&sub);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0]
                .clone()
                .message()
                .unwrap()
                .payload::<String>()
                .unwrap(),
            "ok"
        );
    }

    #[test]
    fn an_overflow_that_must_not_drop_ends_the_subscriber_and_takes_nothing_more() {
        let sub = hub();
        sub.set_bounds(2, 1 << 20, Overflow::Disconnect);
        let three = [message("1"), message("2"), message("3")].concat();
        assert!(take_pushes(&sub, &three), "ended");
        assert!(take_pushes(&sub, &message("4")), "nothing more taken");
        let mut st = sub.lock();
        assert!(matches!(st.take(), Some(Ok(Event::Message(_)))));
        assert!(matches!(st.take(), Some(Ok(Event::Message(_)))));
        assert!(matches!(
            st.take(),
            Some(Err(redpipe_core::Error::Overflow { messages: 2, .. }))
        ));
    }
}
