//! Subscriptions, sans-I/O: the commands, which names the server confirmed, and the frames of a
//! subscribed connection as borrowed views.
//!
//! Why a machine of its own rather than pipelines: a subscribed connection turns the reply
//! stream around. Replies answer no command in order any more; the server speaks when a message
//! is published, and a `SUBSCRIBE a b` is answered by one confirmation per name, interleaved
//! with messages. The [`Pipeline`](crate::Pipeline) matches replies to commands by position and
//! cannot follow that; [`Subscriptions`] can:
//!
//! - it encodes `SUBSCRIBE`/`PSUBSCRIBE`/`SSUBSCRIBE` and their `UNSUBSCRIBE` forms with the
//!   codec's encoder, sending only the names whose state changes;
//! - it keeps the names in a table (one byte store: a caller slice, `heapless` or `Vec`), with
//!   what the caller wants and what the server confirmed, so that a transport that lost its
//!   connection resubscribes to exactly the wanted names ([`Subscriptions::resubscribe`]);
//! - it reads frames with the codec's [`Scanner`] from bytes fed in any chunks and returns each
//!   as an [`Event`] borrowed from the caller's buffer: a message costs no copy and no
//!   allocation, so firmware can subscribe from fixed buffers.
//!
//! Several subscribers on one connection (a RESP3 connection that pipelines share too) go
//! through a `Fanout` (feature `alloc`): the connection subscribes to the union of their
//! names, each counted, and each frame goes to the subscribers it concerns.
//!
//! RESP2 (a connection in subscribed mode answers with arrays) and RESP3 (`>` push frames, the
//! same elements) read the same. What breaks the stream (bytes that are not RESP, a frame over
//! the [`Limits`], a `message` of the wrong shape, a reply nothing asked for) is a
//! [`FrameError`]: the connection is to be dropped. A server error (`-NOPERM`) is data, an
//! [`Event::Error`].
//!
//! The run loop, as for a pipeline: send [`poll_output`](Subscriptions::poll_output) and report
//! it with [`consume_output`](Subscriptions::consume_output); feed what was read to
//! [`handle_input`](Subscriptions::handle_input), which returns one event and how many bytes it
//! took (drop them), or `Ok(None)` to read more.
//!
//! ```
//! use redpipe_core::pubsub::{Event, Kind, Subscriptions};
//! use redpipe_core::SliceStore;
//!
//! let (mut out, mut names) = ([0u8; 128], [0u8; 128]);
//! let mut subs = Subscriptions::with_storage(SliceStore::new(&mut out), SliceStore::new(&mut names));
//! subs.subscribe(Kind::Channel, &["news", "alerts"]).unwrap();
//! assert_eq!(subs.poll_output(), b"*3\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n$6\r\nalerts\r\n");
//! subs.consume_output(subs.poll_output().len());
//!
//! let mut wire: &[u8] = b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n\
//!     >3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
//! let mut seen = 0;
//! while let Some((event, used)) = subs.handle_input(wire).unwrap() {
//!     if let Event::Message(m) = event {
//!         assert_eq!((m.channel, m.payload), (&b"news"[..], &b"hello"[..]));
//!         seen += 1;
//!     }
//!     wire = &wire[used..];
//! }
//! assert_eq!(seen, 1);
//! assert!(subs.is_confirmed(Kind::Channel, b"news"));
//! assert!(!subs.is_confirmed(Kind::Channel, b"alerts")); // its confirmation is still to come
//! ```

#[cfg(feature = "alloc")]
mod fanout;
mod frame;
#[cfg(feature = "alloc")]
mod router;
mod table;
#[cfg(test)]
mod tests;

#[cfg(feature = "alloc")]
pub use fanout::{Fanout, MemberId};
pub use frame::FrameError;
#[cfg(feature = "alloc")]
pub use router::{Routed, Router};

use crate::codec::decode::{Limits, Scanner};
use crate::codec::encode::{ArgSink, Args, cmd, encode_command};
use crate::codec::error::{CapacityError, ReplyKind, Store};
use crate::codec::hash_slot::HashSlot;
use crate::codec::reply::{Aggregate, Reply, ServerError};
use crate::codec::storage::Storage;
use table::{HEADER, entries, entry_at};

/// What a subscription names: a channel, a pattern, or a shard channel (Redis Cluster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `SUBSCRIBE`; its messages are `message` frames.
    Channel,
    /// `PSUBSCRIBE` (glob-style patterns); its messages are `pmessage` frames.
    Pattern,
    /// `SSUBSCRIBE` (a shard channel, Redis 7); its messages are `smessage` frames.
    Shard,
}

impl Kind {
    /// Every kind, in the order [`Subscriptions::resubscribe`] sends them.
    pub const ALL: [Kind; 3] = [Kind::Channel, Kind::Pattern, Kind::Shard];

    /// The command that subscribes.
    pub fn subscribe_command(self) -> &'static str {
        match self {
            Self::Channel => "SUBSCRIBE",
            Self::Pattern => "PSUBSCRIBE",
            Self::Shard => "SSUBSCRIBE",
        }
    }

    /// The command that unsubscribes.
    pub fn unsubscribe_command(self) -> &'static str {
        match self {
            Self::Channel => "UNSUBSCRIBE",
            Self::Pattern => "PUNSUBSCRIBE",
            Self::Shard => "SUNSUBSCRIBE",
        }
    }
}

/// A published message, borrowed from the bytes it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Which subscription it came through.
    pub kind: Kind,
    /// The channel it was published to.
    pub channel: &'a [u8],
    /// The pattern that matched the channel ([`Kind::Pattern`] only).
    pub pattern: Option<&'a [u8]>,
    /// The message as published.
    pub payload: &'a [u8],
}

/// One frame of a subscribed connection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A message.
    Message(Message<'a>),
    /// The server confirmed a subscription.
    Subscribed {
        /// What was subscribed.
        kind: Kind,
        /// The channel or pattern.
        name: &'a [u8],
        /// The connection's subscriptions now, as the server counts them.
        count: i64,
    },
    /// The server confirmed an unsubscription.
    Unsubscribed {
        /// What was unsubscribed.
        kind: Kind,
        /// The channel or pattern; `None` when there was nothing to unsubscribe from.
        name: Option<&'a [u8]>,
        /// The connection's subscriptions left.
        count: i64,
    },
    /// The answer to a [`ping`](Subscriptions::ping), with its argument (empty for none).
    Pong(&'a [u8]),
    /// The server refused a command (`-NOPERM`, `-ERR` ...). It answers the oldest command not
    /// answered yet; names it refused stay pending until [`forget`](Subscriptions::forget).
    Error(ServerError<'a>),
    /// A RESP3 push of another kind (a client-tracking `invalidate`): not a subscription's.
    Push(Aggregate<'a>),
}

/// The subscription machine; see the [module docs](self).
///
/// `O` holds the commands to send, `N` the names (10 bytes of bookkeeping plus the name each);
/// any [`Storage`]: a caller slice ([`SliceStore`](crate::SliceStore)), `heapless::Vec`, or
/// `Vec` (feature `alloc`, `VecSubscriptions`).
#[derive(Debug)]
pub struct Subscriptions<O: Storage<u8>, N: Storage<u8>> {
    out: O,
    /// Bytes of `out` already sent.
    sent: usize,
    names: N,
    scanner: Scanner,
    limits: Limits,
    /// `PING`s not answered yet: only then is a plain `+PONG` or bulk string expected.
    pings: u32,
    /// Shard commands name one hash slot's channels each (a cluster node's connection).
    cluster: bool,
}

/// [`Subscriptions`] over growable storage (feature `alloc`).
#[cfg(feature = "alloc")]
pub type VecSubscriptions = Subscriptions<alloc::vec::Vec<u8>, alloc::vec::Vec<u8>>;

#[cfg(feature = "alloc")]
impl Default for VecSubscriptions {
    fn default() -> Self {
        Self::with_storage(alloc::vec::Vec::new(), alloc::vec::Vec::new())
    }
}

impl<O: Storage<u8>, N: Storage<u8>> Subscriptions<O, N> {
    /// A machine with no subscription, writing commands into `out` and names into `names`
    /// (their contents are dropped).
    pub fn with_storage(mut out: O, mut names: N) -> Self {
        out.clear();
        names.clear();
        Self {
            out,
            sent: 0,
            names,
            scanner: Scanner::new(),
            limits: Limits::default(),
            pings: 0,
            cluster: false,
        }
    }

    /// Names one hash slot's shard channels per `SSUBSCRIBE` or `SUNSUBSCRIBE` (several
    /// commands when the names hash to several slots), as a Redis Cluster node requires: it
    /// refuses a command whose channels are in different slots (`-CROSSSLOT`). Off by default:
    /// a single server takes any shard channels in one command.
    pub fn set_cluster(&mut self, on: bool) {
        self.cluster = on;
    }

    /// Sets the bounds frames are read with (the [`Limits`] of the connection).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Bytes to send; report progress with [`Self::consume_output`].
    #[must_use]
    pub fn poll_output(&self) -> &[u8] {
        self.out.as_slice().get(self.sent..).unwrap_or_default()
    }

    /// Marks the first `n` bytes of [`poll_output`](Self::poll_output) as sent.
    pub fn consume_output(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.out.len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
    }

    /// Subscribes to `names` (channels, patterns or shard channels, per `kind`): queues one
    /// command with the names not wanted yet, and returns how many it names (0: nothing to
    /// send). Each is pending until the server confirms it.
    ///
    /// On `Err` nothing changed: the name table ([`Store::Subscriptions`]) or the output
    /// ([`Store::Output`]) has no room; the error says how much it needs.
    pub fn subscribe<A: Args + ?Sized>(
        &mut self,
        kind: Kind,
        names: &A,
    ) -> Result<usize, CapacityError> {
        self.change(kind, names, true)
    }

    /// Unsubscribes from those of `names` that are wanted now: one command naming them;
    /// returns how many (0: nothing to send). On `Err` nothing changed.
    pub fn unsubscribe<A: Args + ?Sized>(
        &mut self,
        kind: Kind,
        names: &A,
    ) -> Result<usize, CapacityError> {
        self.change(kind, names, false)
    }

    /// Unsubscribes from every wanted name of `kind`, naming each (so that every confirmation
    /// is accounted for); returns how many. On `Err` nothing changed.
    pub fn unsubscribe_all(&mut self, kind: Kind) -> Result<usize, CapacityError> {
        let len = self.names.len();
        let (mut at, mut limit, mut tail) = (0, len, 0);
        while at < limit {
            let Some(e) = entry_at(self.names.as_slice(), at) else {
                break;
            };
            let size = e.end() - at;
            if e.kind == kind && e.wanted {
                let (active, owed) = (e.active, e.owed.saturating_add(1));
                self.move_to_end(at, size, false, active, owed);
                tail += size;
                limit -= size;
            } else {
                at += size;
            }
        }
        self.send_tail(kind, false, tail)
    }

    /// Queues a `PING`, answered by an [`Event::Pong`]: a transport's check that an idle
    /// subscribed connection is alive.
    pub fn ping(&mut self) -> Result<(), CapacityError> {
        encode_command(&mut self.out, &cmd("PING")).map_err(|e| self.output_error(e))?;
        self.pings = self.pings.saturating_add(1);
        Ok(())
    }

    /// Starts over on a new connection: forgets unsent output, unanswered pings and any partial
    /// frame, drops the names no longer wanted, and queues one subscribe command per kind for
    /// every wanted name (each pending again). Returns how many names it sends.
    ///
    /// On `Err` (output full) the table is reset but nothing is queued: call again with room.
    pub fn resubscribe(&mut self) -> Result<usize, CapacityError> {
        self.out.clear();
        self.sent = 0;
        self.pings = 0;
        self.scanner.reset();
        let mut at = 0;
        while let Some(e) = entry_at(self.names.as_slice(), at) {
            let end = e.end();
            if e.wanted {
                table::set(&mut self.names, at, true, false, 1);
                at = end;
            } else {
                table::remove(&mut self.names, at, end);
            }
        }
        let mut sent = 0;
        for kind in Kind::ALL {
            match self.encode_names(kind.subscribe_command(), kind, 0) {
                Ok(n) => sent += n,
                Err(e) => {
                    self.out.clear();
                    return Err(e);
                }
            }
        }
        Ok(sent)
    }

    /// Forgets `names` of `kind` whatever their state: for names the server refused (an
    /// [`Event::Error`] answering their subscribe), so that they are not resubscribed and not
    /// waited for. Messages still published to them are still delivered.
    pub fn forget<A: Args + ?Sized>(&mut self, kind: Kind, names: &A) {
        struct Forget<'s, N: Storage<u8>>(&'s mut N, Kind);
        impl<N: Storage<u8>> ArgSink for Forget<'_, N> {
            fn bytes(&mut self, name: &[u8]) {
                if let Some(e) = table::find(self.0.as_slice(), self.1, name) {
                    let (at, end) = (e.at, e.end());
                    table::remove(self.0, at, end);
                }
            }
            fn parts(&mut self, parts: &[&[u8]]) {
                // Compared piece by piece: no room is needed to join them.
                let found = entries(self.0.as_slice(), 0)
                    .find(|e| e.kind == self.1 && parts_equal(parts, e.name));
                if let Some(e) = found {
                    let (at, end) = (e.at, e.end());
                    table::remove(self.0, at, end);
                }
            }
        }
        names.write_args(&mut Forget(&mut self.names, kind));
    }

    /// Whether `name` is subscribed as asked and confirmed by the server.
    pub fn is_confirmed(&self, kind: Kind, name: &[u8]) -> bool {
        table::find(self.names.as_slice(), kind, name).is_some_and(|e| e.confirmed())
    }

    /// How many names wait for a confirmation (subscribe or unsubscribe).
    pub fn pending(&self) -> usize {
        entries(self.names.as_slice(), 0)
            .filter(|e| e.owed > 0)
            .count()
    }

    /// The names of `kind` the caller wants subscribed, confirmed or not.
    pub fn wanted(&self, kind: Kind) -> impl Iterator<Item = &[u8]> {
        entries(self.names.as_slice(), 0)
            .filter(move |e| e.kind == kind && e.wanted)
            .map(|e| e.name)
    }

    /// Whether no name is wanted.
    pub fn is_empty(&self) -> bool {
        entries(self.names.as_slice(), 0).all(|e| !e.wanted)
    }

    /// Reads the frame at the start of `bytes`: the event and the bytes it took, which the
    /// caller MUST drop before the next call; or `Ok(None)` when the frame is incomplete, and
    /// the caller MUST call again with the same bytes followed by more (the scan resumes where
    /// it stopped). Confirmations and pongs update the machine before they are returned.
    ///
    /// `Err` is a broken stream (see [`FrameError`]): the connection MUST be dropped, and
    /// [`resubscribe`](Self::resubscribe) run on the next one.
    pub fn handle_input<'b>(
        &mut self,
        bytes: &'b [u8],
    ) -> Result<Option<(Event<'b>, usize)>, FrameError> {
        #[cfg(not(feature = "small"))]
        if !self.scanner.is_partial()
            && let Some((message, n)) = frame::fast_message(bytes, &self.limits)
        {
            return Ok(Some((Event::Message(message), n)));
        }
        let Some(n) = self.scanner.scan(bytes, &self.limits)? else {
            return Ok(None);
        };
        let frame = bytes.get(..n).unwrap_or_default();
        let event = match Reply::parse(frame) {
            Reply::Push(items) => {
                frame::decode_aggregate(items, true)?.unwrap_or(Event::Push(items))
            }
            Reply::Array(items) => frame::decode_aggregate(items, false)?
                .ok_or(FrameError::Unexpected(ReplyKind::Array))?,
            Reply::Error(e) => Event::Error(e),
            Reply::Simple(b"PONG") if self.pings > 0 => Event::Pong(&[]),
            Reply::Bulk(b) if self.pings > 0 => Event::Pong(b),
            other => return Err(FrameError::Unexpected(other.kind())),
        };
        match &event {
            Event::Subscribed { kind, name, .. } => {
                table::confirm(&mut self.names, *kind, name, true);
            }
            Event::Unsubscribed {
                kind,
                name: Some(name),
                ..
            } => table::confirm(&mut self.names, *kind, name, false),
            Event::Pong(_) => self.pings = self.pings.saturating_sub(1),
            _ => {}
        }
        Ok(Some((event, n)))
    }

    /// Applies `names` to the table (`subscribe`: wanted, else not), then queues the command
    /// naming those whose wish changed; on any failure the table is restored.
    fn change<A: Args + ?Sized>(
        &mut self,
        kind: Kind,
        names: &A,
        subscribe: bool,
    ) -> Result<usize, CapacityError> {
        let mut change = Change {
            subs: self,
            kind,
            subscribe,
            tail: 0,
            needed: None,
        };
        names.write_args(&mut change);
        let (tail, needed) = (change.tail, change.needed);
        if let Some(needed) = needed {
            self.roll_back(subscribe, tail);
            return Err(CapacityError {
                store: Store::Subscriptions,
                needed,
                capacity: self.names.capacity(),
            });
        }
        self.send_tail(kind, subscribe, tail)
    }

    /// Queues the command naming the last `tail` bytes of entries; restores them on failure.
    fn send_tail(
        &mut self,
        kind: Kind,
        subscribe: bool,
        tail: usize,
    ) -> Result<usize, CapacityError> {
        if tail == 0 {
            return Ok(0);
        }
        let word = if subscribe {
            kind.subscribe_command()
        } else {
            kind.unsubscribe_command()
        };
        let from = self.names.len() - tail;
        self.encode_names(word, kind, from).inspect_err(|_| {
            self.roll_back(subscribe, tail);
        })
    }

    /// Queues `word` naming the entries of `kind` from offset `from` on: one command, or one
    /// per hash slot for shard channels on a cluster. Returns how many names it sends; on
    /// `Err` nothing is queued.
    fn encode_names(
        &mut self,
        word: &'static str,
        kind: Kind,
        from: usize,
    ) -> Result<usize, CapacityError> {
        let bytes = self.names.as_slice();
        let all = Names {
            bytes,
            from,
            kind,
            slot: None,
        };
        let n = count_names(&all);
        if n == 0 {
            return Ok(0);
        }
        let before = self.out.len();
        let mut result = Ok(());
        if kind == Kind::Shard && self.cluster {
            let of_kind = || entries(bytes, from).filter(|e| e.kind == kind);
            for e in of_kind() {
                let slot = HashSlot::for_key(e.name);
                // A slot's command goes out with its first name.
                let first = of_kind().find(|x| HashSlot::for_key(x.name) == slot);
                if first.is_some_and(|x| x.at == e.at) {
                    let names = Names {
                        slot: Some(slot),
                        ..all
                    };
                    result = encode_command(&mut self.out, &cmd(word).arg(names)).map(drop);
                    if result.is_err() {
                        break;
                    }
                }
            }
        } else {
            result = encode_command(&mut self.out, &cmd(word).arg(all)).map(drop);
        }
        match result {
            Ok(()) => Ok(n),
            Err(e) => {
                self.out.truncate(before);
                Err(self.output_error(e))
            }
        }
    }

    /// Undoes a change whose entries are the last `tail` bytes: new entries go, moved ones get
    /// their wish and count back (their place in the table does not matter).
    fn roll_back(&mut self, subscribe: bool, tail: usize) {
        let mut at = self.names.len() - tail;
        while let Some(e) = entry_at(self.names.as_slice(), at) {
            let (end, active, owed) = (e.end(), e.active, e.owed);
            // A new entry is the only one neither active nor owing another confirmation.
            if subscribe && !active && owed == 1 {
                table::remove(&mut self.names, at, end);
            } else {
                table::set(
                    &mut self.names,
                    at,
                    !subscribe,
                    active,
                    owed.saturating_sub(1),
                );
                at = end;
            }
        }
    }

    /// Moves the entry at `at` (of `size` bytes) to the end with new state.
    fn move_to_end(&mut self, at: usize, size: usize, wanted: bool, active: bool, owed: u32) {
        let len = self.names.len();
        if let Some(rest) = self.names.as_mut_slice().get_mut(at..) {
            rest.rotate_left(size);
        }
        table::set(&mut self.names, len - size, wanted, active, owed);
    }

    /// A full output store, with the room needed counted from what is already there.
    fn output_error(&self, e: CapacityError) -> CapacityError {
        CapacityError {
            store: Store::Output,
            ..e
        }
    }
}

/// The names of `kind` from entry offset `from` on (of one hash slot, if given), as command
/// arguments.
#[derive(Clone, Copy)]
struct Names<'a> {
    bytes: &'a [u8],
    from: usize,
    kind: Kind,
    slot: Option<HashSlot>,
}

impl Names<'_> {
    fn iter(&self) -> impl Iterator<Item = table::Entry<'_>> {
        entries(self.bytes, self.from).filter(|e| {
            e.kind == self.kind && self.slot.is_none_or(|s| HashSlot::for_key(e.name) == s)
        })
    }
}

impl Args for Names<'_> {
    fn write_args<W: ArgSink + ?Sized>(&self, out: &mut W) {
        for e in self.iter() {
            out.bytes(e.name);
        }
    }
}

fn count_names(names: &Names<'_>) -> usize {
    names.iter().count()
}

fn parts_equal(parts: &[&[u8]], name: &[u8]) -> bool {
    let mut rest = name;
    for p in parts {
        match rest.strip_prefix(*p) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Applies one call's names to the table; the entries it changed end up as its last `tail`
/// bytes, in the order named.
struct Change<'s, O: Storage<u8>, N: Storage<u8>> {
    subs: &'s mut Subscriptions<O, N>,
    kind: Kind,
    subscribe: bool,
    tail: usize,
    /// Set once the table is full: the bytes it would need.
    needed: Option<usize>,
}

/// An entry found in the table: where, its size, its wish, the server's state, what it owes.
type Found = (usize, usize, bool, bool, u32);

fn found(e: table::Entry<'_>) -> Found {
    (e.at, e.end() - e.at, e.wanted, e.active, e.owed)
}

impl<O: Storage<u8>, N: Storage<u8>> Change<'_, O, N> {
    /// Applies one name of `len` bytes, `found` in the table or not (then `push` adds it):
    /// a new name is added when subscribing; a known one whose wish changes moves to the end
    /// with one more confirmation owed; anything else is as asked already.
    fn name(&mut self, found: Option<Found>, len: usize, push: impl FnOnce(&mut N) -> bool) {
        if self.needed.is_some() {
            return self.full(len);
        }
        match found {
            None if self.subscribe => {
                let before = self.subs.names.len();
                if !push(&mut self.subs.names) {
                    return self.full(len);
                }
                self.tail += self.subs.names.len() - before;
            }
            None => {}
            Some((_, _, wanted, ..)) if wanted == self.subscribe => {}
            Some((at, size, _, active, owed)) => {
                let owed = owed.saturating_add(1);
                self.subs
                    .move_to_end(at, size, self.subscribe, active, owed);
                self.tail += size;
            }
        }
    }

    fn full(&mut self, len: usize) {
        let needed = self.needed.unwrap_or(self.subs.names.len());
        self.needed = Some(needed.saturating_add(HEADER + len));
    }
}

impl<O: Storage<u8>, N: Storage<u8>> ArgSink for Change<'_, O, N> {
    fn bytes(&mut self, name: &[u8]) {
        let f = table::find(self.subs.names.as_slice(), self.kind, name).map(found);
        let kind = self.kind;
        self.name(f, name.len(), |names| {
            table::push(names, kind, true, 1, &[name]).is_ok()
        });
    }

    fn parts(&mut self, parts: &[&[u8]]) {
        let kind = self.kind;
        let f = entries(self.subs.names.as_slice(), 0)
            .find(|e| e.kind == kind && parts_equal(parts, e.name))
            .map(found);
        let len = parts.iter().map(|p| p.len()).sum();
        self.name(f, len, |names| {
            table::push(names, kind, true, 1, parts).is_ok()
        });
    }
}
