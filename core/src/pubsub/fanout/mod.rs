//! Many subscribers on one connection: [`Fanout`] (feature `alloc`).

#[cfg(test)]
mod tests;

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::{Event, FrameError, Kind, VecSubscriptions};
use crate::codec::decode::Limits;
use crate::codec::encode::Args;
use crate::codec::error::CapacityError;
use crate::pubsub::router::collect;

/// One subscriber of the connection, as [`Fanout`] numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberId(u64);

/// Names by kind: channels, patterns, shard channels.
#[derive(Debug, Default)]
struct Names([BTreeSet<Vec<u8>>; 3]);

impl Names {
    fn of(&self, kind: Kind) -> &BTreeSet<Vec<u8>> {
        &self.0[slot(kind)]
    }

    fn contains(&self, kind: Kind, name: &[u8]) -> bool {
        self.of(kind).contains(name)
    }

    fn insert(&mut self, kind: Kind, name: &[u8]) -> bool {
        self.0[slot(kind)].insert(name.to_vec())
    }

    fn remove(&mut self, kind: Kind, name: &[u8]) -> bool {
        self.0[slot(kind)].remove(name)
    }

    fn len(&self) -> usize {
        self.0.iter().map(BTreeSet::len).sum()
    }
}

fn slot(kind: Kind) -> usize {
    match kind {
        Kind::Channel => 0,
        Kind::Pattern => 1,
        Kind::Shard => 2,
    }
}

/// One subscriber: what it wants, what waits for the server's confirmation, and the frames
/// read for it and not taken yet.
#[derive(Debug)]
struct Member {
    id: MemberId,
    wants: Names,
    awaiting: Names,
    inbox: Vec<u8>,
}

/// The subscriptions of several subscribers ("members") that share one connection (feature
/// `alloc`): the server keeps one set of subscriptions per connection, so the connection
/// subscribes to the union of what its members want, and each frame goes to the members it
/// concerns.
///
/// - **Reference counts.** A name goes on the wire (`SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`)
///   when its first member wants it, and its `UNSUBSCRIBE` form when its last member no longer
///   does (unsubscribes, or [`leave`](Self::leave)s). The connection's names are one
///   [`Subscriptions`](super::Subscriptions) machine, which encodes the commands and counts the
///   server's confirmations.
/// - **Confirmations, per member.** A member's subscription is confirmed by the server's
///   confirmation when it had to be sent or is still owed, and at once when the server already
///   confirmed the name for another member. An unsubscription is confirmed at once: from then
///   on the member gets none of the name's messages, whatever the server still sends. The
///   confirmations a member gets are frames as a server writes them (RESP3 pushes), so that its
///   own [`Router`](super::Router) or [`Subscriptions`](super::Subscriptions), which asked,
///   settles as on a connection of its own.
/// - **Messages.** A `message` goes to the members that want its channel, a `pmessage` to those
///   of its pattern, an `smessage` to those of its shard channel: each once, as read.
///
/// The run loop: write [`poll_output`](Self::poll_output) on the connection (report it with
/// [`consume_output`](Self::consume_output)); feed every push read to
/// [`handle_input`](Self::handle_input); hand each member the frames of
/// [`take_member`](Self::take_member) ([`poll_member`](Self::poll_member) looks without
/// taking). A new connection starts with a new `Fanout`, each member joining again with the names it wants.
#[derive(Debug, Default)]
pub struct Fanout {
    conn: VecSubscriptions,
    members: Vec<Member>,
    next: u64,
}

impl Fanout {
    /// A connection with no member and no subscription.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the bounds frames are read with (the [`Limits`] of the connection).
    pub fn set_limits(&mut self, limits: Limits) {
        self.conn.set_limits(limits);
    }

    /// A new member, wanting nothing yet.
    pub fn join(&mut self) -> MemberId {
        let id = MemberId(self.next);
        self.next += 1;
        self.members.push(Member {
            id,
            wants: Names::default(),
            awaiting: Names::default(),
            inbox: Vec::new(),
        });
        id
    }

    /// How many members there are.
    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// Removes `m`, with its frames not taken: the names nobody else wants are unsubscribed.
    /// Returns how many.
    pub fn leave(&mut self, m: MemberId) -> Result<usize, CapacityError> {
        let Some(i) = self.index(m) else {
            return Ok(0);
        };
        let gone = self.members.swap_remove(i);
        let mut sent = 0;
        for kind in Kind::ALL {
            let released: Vec<&[u8]> = gone
                .wants
                .of(kind)
                .iter()
                .map(Vec::as_slice)
                .filter(|name| !self.wanted(kind, name))
                .collect();
            sent += self.conn.unsubscribe(kind, &released)?;
        }
        Ok(sent)
    }

    /// `m` subscribes to `names` of `kind`: those it did not want yet are confirmed to it at
    /// once if the server already confirmed them, else when the server's confirmation comes;
    /// those no member wanted are queued for the server. Returns how many names changed for
    /// `m` (as many as its own machine sends). On `Err` (the output store is full: never, below
    /// 4 GiB) the names queued before stay.
    pub fn subscribe<A: Args + ?Sized>(
        &mut self,
        m: MemberId,
        kind: Kind,
        names: &A,
    ) -> Result<usize, CapacityError> {
        let Some(i) = self.index(m) else {
            return Ok(0);
        };
        let (mut changed, mut ask) = (0, Vec::new());
        for name in collect(names) {
            let member = &mut self.members[i];
            if !member.wants.insert(kind, &name) {
                continue;
            }
            changed += 1;
            if self.conn.is_confirmed(kind, &name) {
                let count = member.wants.len();
                confirmation(&mut member.inbox, kind, true, &name, count);
            } else {
                member.awaiting.insert(kind, &name);
                ask.push(name);
            }
        }
        // One command; the connection's machine names only what no member wanted yet (or
        // what waits for its unsubscribe): a name owed a confirmation gets one either way.
        self.conn.subscribe(kind, &ask)?;
        Ok(changed)
    }

    /// `m` unsubscribes from those of `names` it wants, confirmed to it at once; the names no
    /// other member wants are queued for the server. Returns how many names changed for `m`.
    pub fn unsubscribe<A: Args + ?Sized>(
        &mut self,
        m: MemberId,
        kind: Kind,
        names: &A,
    ) -> Result<usize, CapacityError> {
        let Some(i) = self.index(m) else {
            return Ok(0);
        };
        let (mut changed, mut released) = (0, Vec::new());
        for name in collect(names) {
            let member = &mut self.members[i];
            if !member.wants.remove(kind, &name) {
                continue;
            }
            member.awaiting.remove(kind, &name);
            changed += 1;
            let count = member.wants.len();
            confirmation(&mut member.inbox, kind, false, &name, count);
            if !self.wanted(kind, &name) {
                released.push(name);
            }
        }
        self.conn.unsubscribe(kind, &released)?;
        Ok(changed)
    }

    /// Forgets `names` of `kind` for `m`, without a confirmation (the server refused them, or
    /// did not confirm them in time: see [`Subscriptions::forget`](super::Subscriptions::forget)).
    /// A name no other member wants is forgotten by the connection too: it is not sent again.
    pub fn forget<A: Args + ?Sized>(&mut self, m: MemberId, kind: Kind, names: &A) {
        let Some(i) = self.index(m) else {
            return;
        };
        for name in collect(names) {
            let member = &mut self.members[i];
            member.awaiting.remove(kind, &name);
            if member.wants.remove(kind, &name) && !self.wanted(kind, &name) {
                self.conn.forget(kind, &name.as_slice());
            }
        }
    }

    /// The names of `kind` that `m` wants.
    pub fn wanted_by(&self, m: MemberId, kind: Kind) -> impl Iterator<Item = &[u8]> {
        self.index(m)
            .map(|i| self.members[i].wants.of(kind))
            .into_iter()
            .flatten()
            .map(Vec::as_slice)
    }

    /// Whether the connection is subscribed to `name` of `kind`, as confirmed by the server.
    pub fn is_subscribed(&self, kind: Kind, name: &[u8]) -> bool {
        self.conn.is_confirmed(kind, name)
    }

    /// Bytes to send on the connection; report progress with [`Self::consume_output`].
    #[must_use]
    pub fn poll_output(&self) -> &[u8] {
        self.conn.poll_output()
    }

    /// Marks the first `n` bytes of [`poll_output`](Self::poll_output) as sent.
    pub fn consume_output(&mut self, n: usize) {
        self.conn.consume_output(n);
    }

    /// Reads the push at the start of `bytes` and hands it to the members it concerns (see
    /// [`poll_member`](Self::poll_member)); returns the bytes it took, which the caller MUST
    /// drop, or `Ok(None)` when the frame is incomplete (call again with more).
    ///
    /// A frame that is nobody's (a push of another kind, a confirmation of an unsubscription)
    /// is taken and dropped. `Err` is a frame the subscription machine cannot read (see
    /// [`FrameError`]): on a connection others share too, the caller SHOULD skip it (scan its
    /// length) rather than drop the connection.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some((event, used)) = self.conn.handle_input(bytes)? else {
            return Ok(None);
        };
        let frame = bytes.get(..used).unwrap_or_default();
        match event {
            Event::Message(msg) => {
                let name = match msg.kind {
                    Kind::Pattern => msg.pattern.unwrap_or(msg.channel),
                    _ => msg.channel,
                };
                for member in &mut self.members {
                    if member.wants.contains(msg.kind, name) {
                        member.inbox.extend_from_slice(frame);
                    }
                }
            }
            Event::Subscribed { kind, name, .. } if self.conn.is_confirmed(kind, name) => {
                for member in &mut self.members {
                    if member.awaiting.remove(kind, name) {
                        let count = member.wants.len();
                        confirmation(&mut member.inbox, kind, true, name, count);
                    }
                }
            }
            _ => {}
        }
        Ok(Some(used))
    }

    /// The frames read for `m` and not taken yet, whole, back to back, in the order read.
    #[must_use]
    pub fn poll_member(&self, m: MemberId) -> &[u8] {
        self.index(m).map_or(&[], |i| &self.members[i].inbox)
    }

    /// Takes the frames read for `m` (those of [`poll_member`](Self::poll_member)), leaving
    /// none: handed over without a copy.
    pub fn take_member(&mut self, m: MemberId) -> Vec<u8> {
        self.index(m)
            .map(|i| core::mem::take(&mut self.members[i].inbox))
            .unwrap_or_default()
    }

    fn index(&self, m: MemberId) -> Option<usize> {
        self.members.iter().position(|x| x.id == m)
    }

    /// Whether any member wants `name`.
    fn wanted(&self, kind: Kind, name: &[u8]) -> bool {
        self.members.iter().any(|m| m.wants.contains(kind, name))
    }
}

/// Appends a confirmation as the server writes it: `>3`, the command's name in lowercase, the
/// name, and the member's count of names.
fn confirmation(out: &mut Vec<u8>, kind: Kind, subscribed: bool, name: &[u8], count: usize) {
    let word = match (kind, subscribed) {
        (Kind::Channel, true) => "subscribe",
        (Kind::Pattern, true) => "psubscribe",
        (Kind::Shard, true) => "ssubscribe",
        (Kind::Channel, false) => "unsubscribe",
        (Kind::Pattern, false) => "punsubscribe",
        (Kind::Shard, false) => "sunsubscribe",
    };
    out.extend_from_slice(b">3\r\n");
    bulk(out, word.as_bytes());
    bulk(out, name);
    out.push(b':');
    decimal(out, count);
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    decimal(out, bytes.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}
