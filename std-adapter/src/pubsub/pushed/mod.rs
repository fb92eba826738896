//! Subscribers on their name's shared connection (RESP3 only): no connection of their own,
//! their subscription commands written between everyone's pipelines, their messages routed to
//! them from the connection's reader.
//!
//! The core does the protocol: the connection's [`Mux`](redpipe_core::mux::Mux) hands every
//! RESP3 push to its reader, never to a pipeline, and writes subscription commands as fenced
//! submissions ([`queue_fenced`]), whose slots tell a refusal (`-NOPERM`, in band) from an
//! acceptance (confirmed by pushes). Any number of subscribers share a connection: its hub (a
//! [`Fan`], the [`PushSink`] attached to it) holds the core's
//! [`Fanout`], which subscribes the connection to the union of
//! what they want (a name's `UNSUBSCRIBE` goes when its last subscriber lets go of it) and
//! says which frames are whose; each subscriber's own
//! [`Router`](redpipe_core::pubsub::Router) reads its frames as events. This module moves
//! them: the reader hands a read's pushes to the hub, which hands each subscriber its frames,
//! put in its buffer under the same bounds and [`Overflow`](super::Overflow) policy as a
//! dedicated subscriber; a keeper per subscriber (a task, or for the blocking subscriber the
//! thread that also listens while no pipeline reads) joins the hub of the name's next shared
//! connection when the one it was on ends, subscribes again and puts an
//! [`Event::Gap`](super::Event::Gap) in the buffer.
//!
//! What differs from a subscriber on a connection of its own, and why it is opt-in:
//! - [`Overflow::Disconnect`](super::Overflow::Disconnect) cannot close the connection (others
//!   use it): it ends the subscriber alone, which leaves the hub (its names that nobody else
//!   wants are unsubscribed) and lets the pushes go.
//! - A subscription to a name the connection already has is confirmed at once; an
//!   unsubscription always is (the subscriber gets none of the name's messages from then on).
//! - A refusal (`-NOPERM`) goes to the subscriber whose command it answers; another that asked
//!   for the same name meanwhile waits for its confirmation until its timeout.
//! - The keeper pings the connection every `read_timeout` (a pipeline with one `PING`, among
//!   the others): a connection that died silently fails it by its stall timeout, as the
//!   dedicated subscriber's unanswered `PING` does.
//! - RESP3 only, a single server only.

#[cfg(feature = "tokio")]
pub(super) mod tasks;
pub(super) mod threads;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use redpipe_core::mux::{fenced_outcomes, queue_fenced};
use redpipe_core::pubsub::{Fanout, MemberId};
use redpipe_core::{CapacityError, Error, Limits, Result, Scanner, SlotError, VecPipeline};

use super::{Kind, Shared};
use crate::registry::{Connections, Pool, SubscriberTarget};
use crate::shared::PushSink;

/// Where a shared-connection subscriber of `name` goes: the pool whose shared connections it
/// may share, and its settings.
fn target(registry: &Connections, name: &str) -> Result<(Arc<Pool>, SubscriberTarget)> {
    let pool = registry.shared_subscriber_pool(name)?;
    Ok((pool, registry.subscriber_settings(name)?))
}

/// The hub of a shared connection's subscribers: the [`PushSink`] attached to it. `S` is the
/// mode's lock for writing subscription commands (one writer at a time, so that the machine's
/// output goes on the wire in its order).
pub(super) struct Fan<S> {
    state: Mutex<FanState>,
    /// Held while a subscriber's change is queued and written.
    sending: S,
    limits: Limits,
}

struct FanState {
    machine: Fanout,
    /// Each member's subscriber, to hand its frames to.
    members: Vec<(MemberId, Weak<dyn PushSink>)>,
    /// The connection ended: a member joining now learns it at once.
    lost: bool,
}

impl<S: Default> Fan<S> {
    fn new(limits: Limits) -> Self {
        let mut machine = Fanout::new();
        machine.set_limits(limits);
        Self {
            state: Mutex::new(FanState {
                machine,
                members: Vec::new(),
                lost: false,
            }),
            sending: S::default(),
            limits,
        }
    }
}

impl<S> Fan<S> {
    fn lock(&self) -> MutexGuard<'_, FanState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a subscriber; `None` when the connection already ended.
    fn join(&self, sink: Weak<dyn PushSink>) -> Option<MemberId> {
        let mut st = self.lock();
        if st.lost {
            return None;
        }
        let id = st.machine.join();
        st.members.push((id, sink));
        Some(id)
    }
}

impl<S: Send + Sync + 'static> PushSink for Fan<S> {
    fn pushes(&self, frames: &[u8]) {
        let mut out = Vec::new();
        {
            let st = &mut *self.lock();
            let mut at = 0;
            while at < frames.len() {
                match st.machine.handle_input(&frames[at..]) {
                    Ok(Some(used)) => at += used,
                    Ok(None) => break,
                    // A push the subscription machine cannot read (a `message` of the wrong
                    // shape): skipped; the connection is the pipelines' too and stays.
                    Err(_) => match Scanner::new().scan(&frames[at..], &self.limits) {
                        Ok(Some(n)) => at += n,
                        _ => break,
                    },
                }
            }
            // A subscriber gone without leaving (its keeper stopped): its names go.
            let machine = &mut st.machine;
            st.members.retain(|(id, sink)| {
                let live = sink.strong_count() > 0;
                if !live {
                    let _ = machine.leave(*id);
                }
                live
            });
            for (id, sink) in &st.members {
                let frames = machine.take_member(*id);
                if !frames.is_empty() {
                    out.push((sink.clone(), frames));
                }
            }
        }
        // Handed over after the hub's lock: each subscriber takes its own.
        for (sink, frames) in out {
            if let Some(sink) = sink.upgrade() {
                sink.pushes(&frames);
            }
        }
    }

    fn lost(&self) {
        let members = {
            let mut st = self.lock();
            st.lost = true;
            st.members.clone()
        };
        for (_, sink) in members {
            if let Some(sink) = sink.upgrade() {
                sink.lost();
            }
        }
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}

/// Where a subscriber is: the connection, its hub, and its number there.
struct On<C, S> {
    conn: Arc<C>,
    fan: Arc<Fan<S>>,
    id: MemberId,
}

impl<C, S> Clone for On<C, S> {
    fn clone(&self) -> Self {
        Self {
            conn: Arc::clone(&self.conn),
            fan: Arc::clone(&self.fan),
            id: self.id,
        }
    }
}

impl<C, S> On<C, S> {
    /// Leaves the hub for good (if the leave was not written, its unsubscriptions go with the
    /// next change of another member).
    fn part(&self) {
        let mut st = self.fan.lock();
        let _ = st.machine.leave(self.id);
        st.members.retain(|(id, _)| *id != self.id);
    }
}

/// Joins `sink` to the hub of `conn` (made if it has none, by `attach`): `Err` when the
/// connection failed.
fn join<C, S: Default + Send + Sync + 'static>(
    conn: Arc<C>,
    attach: impl FnOnce(&C, Box<dyn FnOnce() -> Arc<dyn PushSink>>) -> Result<Arc<dyn PushSink>>,
    limits: Limits,
    sink: Weak<dyn PushSink>,
) -> Result<On<C, S>> {
    let hub = attach(&conn, Box::new(move || Arc::new(Fan::<S>::new(limits))))?;
    let fan = hub
        .as_any()
        .downcast::<Fan<S>>()
        .map_err(|_| Error::Config("this shared connection's hub is of another mode".into()))?;
    let id = fan.join(sink).ok_or(Error::Closed)?;
    Ok(On { conn, fan, id })
}

/// Applies `change` to the subscriber's names in its hub's machine: the connection's commands
/// it queued, fenced (`None`: nothing to send), after the frames it confirmed at once were
/// handed to the subscriber. The caller MUST hold the hub's `sending` lock until they are
/// written.
fn apply<C, S, W>(
    on: &On<C, S>,
    sub: &Shared<W>,
    change: impl FnOnce(&mut Fanout, MemberId) -> std::result::Result<usize, CapacityError>,
) -> Result<Option<VecPipeline>> {
    let (p, frames) = {
        let mut st = on.fan.lock();
        change(&mut st.machine, on.id)?;
        let mut p = VecPipeline::new();
        let used = queue_fenced(&mut p, st.machine.poll_output())?;
        st.machine.consume_output(used);
        let frames = st.machine.take_member(on.id);
        ((used > 0).then_some(p), frames)
    };
    if !frames.is_empty() {
        take_pushes(sub, &frames);
    }
    Ok(p)
}

/// The subscriber's side of a change or a new connection in its hub: `kind`'s `names`
/// (un)subscribed, or (`names` `None`) everything its router wants again.
fn change_of<A: redpipe_core::Args + ?Sized>(
    kind: Kind,
    names: &A,
    subscribe: bool,
) -> impl FnOnce(&mut Fanout, MemberId) -> std::result::Result<usize, CapacityError> + '_ {
    move |machine, id| match subscribe {
        true => machine.subscribe(id, kind, names),
        false => machine.unsubscribe(id, kind, names),
    }
}

/// Takes in the frames its hub read for a subscriber (whole frames, back to back); returns
/// whether the subscriber has ended (its overflow policy, or its owner went).
fn take_pushes<W>(sub: &Shared<W>, frames: &[u8]) -> bool {
    let mut st = sub.lock();
    if st.closed {
        return true; // ended: it leaves its hub
    }
    let mut at = 0;
    while at < frames.len() {
        match st.router.handle_input(0, &frames[at..]) {
            Ok(Some((frame, used))) => {
                st.deliver(frame);
                at += used;
            }
            Ok(None) => break,
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

/// Drops the subscriber's own machine's commands: the hub's machine writes the connection's.
fn discard_output<W>(sub: &Shared<W>) {
    let mut st = sub.lock();
    let n = st.router.poll_output(0).len();
    st.router.consume_output(0, n);
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

/// On a new connection: marks the gap, and returns every name wanted again, by kind.
fn restart<W>(sub: &Shared<W>) -> Result<Vec<(Kind, Vec<Vec<u8>>)>> {
    let mut st = sub.lock();
    st.gap();
    st.router.resubscribe(0)?;
    let n = st.router.poll_output(0).len();
    st.router.consume_output(0, n);
    let wanted = Kind::ALL
        .into_iter()
        .map(|kind| {
            let names = st.router.wanted(kind).map(<[u8]>::to_vec).collect();
            (kind, names)
        })
        .collect();
    sub.wake_locked(&mut st);
    Ok(wanted)
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
        super::discard_output(&hub.sub);
        let deadline = crate::pubsub::deadline(Some(hub.sub.confirm_timeout()));
        let sent = hub.send(super::change_of($kind, $names, $subscribe)) $($await)*;
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
            if let Some(on) = hub.on() {
                on.fan.lock().machine.forget(on.id, $kind, $names);
            }
        }
        result
    }};
}
use fenced_change;

/// A pipeline of one `PING`: the keeper's question to a quiet connection.
fn ping() -> Option<VecPipeline> {
    let mut p = VecPipeline::new();
    let _pong = p.query::<()>(redpipe_core::cmd("PING")).ok()?;
    Some(p)
}

#[cfg(test)]
mod tests {
    //! What a hub does with the pushes a shared connection hands it, for several subscribers,
    //! hostile pushes included.
    #![allow(clippy::unwrap_used)] // tests: a panic is the failure report

    use std::sync::{Arc, Mutex, Weak};

    use super::super::{Event, Overflow, Shared};
    use super::{Fan, Kind, On, PushSink, apply, change_of, discard_output, take_pushes};
    use crate::config::ConnectionInfo;

    /// A subscriber as its hub sees it.
    struct Member(Shared<()>);

    impl PushSink for Member {
        fn pushes(&self, frames: &[u8]) {
            take_pushes(&self.0, frames);
        }
        fn lost(&self) {}
        fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
            self
        }
    }

    type TestOn = On<(), Mutex<()>>;
    type TestFan = Arc<Fan<Mutex<()>>>;

    /// A hub with `n` subscribers, each subscribed to `news` and confirmed; its first command
    /// written (fenced) as a shared connection would.
    fn hub(n: usize) -> (TestFan, Vec<(Arc<Member>, TestOn)>) {
        let info: ConnectionInfo = "redis://127.0.0.1:1?protocol=3".parse().unwrap();
        let fan = Arc::new(Fan::<Mutex<()>>::new(info.limits));
        let mut members = Vec::new();
        for i in 0..n {
            let m = Arc::new(Member(Shared::with((info.clone(), None, None), None)));
            let weak: Weak<dyn PushSink> = Arc::downgrade(&m) as _;
            let id = fan.join(weak).unwrap();
            let on = On {
                conn: Arc::new(()),
                fan: Arc::clone(&fan),
                id,
            };
            assert!(
                m.0.queue_change(Kind::Channel, &["news"], true, false)
                    .unwrap()
            );
            discard_output(&m.0);
            let p = apply(&on, &m.0, change_of(Kind::Channel, &["news"], true)).unwrap();
            assert_eq!(
                p.map(|p| p.len()),
                (i == 0).then_some(2),
                "the command and its fence"
            );
            members.push((m, on));
        }
        fan.pushes(b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
        for (m, _) in &members {
            assert_eq!(m.0.lock().router.pending(), 0, "settled");
        }
        (fan, members)
    }

    fn message(payload: &str) -> Vec<u8> {
        format!(
            ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{payload}\r\n",
            payload.len()
        )
        .into_bytes()
    }

    fn payloads(sub: &Shared<()>) -> Vec<String> {
        let mut st = sub.lock();
        std::iter::from_fn(|| st.take().and_then(Result::ok))
            .filter_map(Event::message)
            .map(|m| m.payload::<String>().unwrap())
            .collect()
    }

    #[test]
    fn every_subscriber_of_a_channel_gets_each_message_once_in_order() {
        let (fan, members) = hub(2);
        fan.pushes(&[message("a"), message("b")].concat());
        for (m, _) in &members {
            assert_eq!(payloads(&m.0), ["a", "b"]);
        }
    }

    #[test]
    fn hostile_pushes_are_skipped_and_the_next_ones_read() {
        let (fan, members) = hub(1);
        fan.pushes(
            &[
                // A `message` of the wrong shape, a push of another kind, a push that is no
                // subscription's at all, then a good message.
                &b">2\r\n$7\r\nmessage\r\n$4\r\nnews\r\n"[..],
                b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
                b">1\r\n:7\r\n",
                &message("ok"),
            ]
            .concat(),
        );
        assert_eq!(payloads(&members[0].0.0), ["ok"]);
    }

    #[test]
    fn an_overflow_that_must_not_drop_ends_one_subscriber_and_not_the_other() {
        let (fan, members) = hub(2);
        let (ended, kept) = (&members[0].0.0, &members[1].0.0);
        ended.set_bounds(2, 1 << 20, Overflow::Disconnect);
        fan.pushes(&[message("1"), message("2"), message("3")].concat());
        assert!(
            take_pushes(ended, &message("4")),
            "ended, nothing more taken"
        );
        {
            let mut st = ended.lock();
            assert!(matches!(st.take(), Some(Ok(Event::Message(_)))));
            assert!(matches!(st.take(), Some(Ok(Event::Message(_)))));
            assert!(matches!(
                st.take(),
                Some(Err(redpipe_core::Error::Overflow { messages: 2, .. }))
            ));
        }
        // It leaves: `news` stays subscribed for the other, nothing is written.
        let on = &members[0].1;
        let p = apply(on, ended, |m, id| m.leave(id)).unwrap();
        assert!(p.is_none(), "the other still wants it");
        on.part();
        fan.pushes(&message("4"));
        assert_eq!(payloads(kept), ["1", "2", "3", "4"]);
    }
}
