//! The subscriber's loops, written once for the blocking and the tokio subscriber as macros:
//! each takes the mode's functions by name and `$($await)*`, empty or `.await` (as the core's
//! `drive_loop!`). The mode's functions:
//! - `open(&Shared, Option<&Node>)`: a connection to the server, a node, or any node (`None`
//!   on a cluster), set up and taken apart: read side, write side, bytes already read;
//! - `read(&Shared, &mut reader, &mut ReadBuffer)` (reads once into the buffer's free space:
//!   bytes read, 0 at the end of the stream), `write(&mut writer, &[u8])`, `sleep(Duration)`;
//! - `wait(&Shared, seen, Option<Duration>)`: the owner waits for a reader's wake-up;
//! - `spawn(&Arc<Shared>, link)`: starts a reader for a link (a thread, or a task);
//! - `refresh(&Shared)`: reads a cluster's slot map again;
//! - `stop(&Shared)`: closes every connection and ends the readers (the owner went, or the
//!   buffer's policy ended the subscriber).

/// Writes `$link`'s pending commands: whoever finds the link's writer in the state takes it
/// out, writes outside the lock, and puts it back once nothing is left to send. Without a
/// writer, its holder (the owner, or the reader setting up a new connection) sends what is
/// pending.
macro_rules! flush {
    ($shared:expr, $link:expr, $write:path, $($await:tt)*) => {{
        let link: usize = $link;
        loop {
            let (mut writer, out, generation) = {
                let mut st = $shared.lock();
                if st.router.poll_output(link).is_empty() {
                    break Ok(());
                }
                let io = st.link(link);
                let Some(w) = io.writer.take() else {
                    break Ok(());
                };
                let generation = io.generation;
                (w, st.router.poll_output(link).to_vec(), generation)
            };
            let result = $write(&mut writer, &out) $($await)*;
            let mut st = $shared.lock();
            if st.link(link).generation != generation {
                break Ok(()); // a new connection replaced this one, with its own commands
            }
            match result {
                Ok(()) => {
                    st.router.consume_output(link, out.len());
                    st.link(link).writer = Some(writer);
                }
                Err(e) => break Err(redpipe_core::Error::from(e)),
            }
        }
    }};
}

/// After names were placed or moved: starts a reader for each link that has names and none,
/// and writes what the others have pending (an idle link's last unsubscribe too, when its
/// node lost its slots and its connection is still up). `$shared` is the `Arc`.
macro_rules! spread {
    ($shared:expr, [$write:path, $spawn:path], $($await:tt)*) => {{
        let (start, busy) = {
            let mut st = $shared.lock();
            let (mut start, mut busy) = (Vec::new(), Vec::new());
            for link in 0..st.router.links() {
                let idle = st.router.is_idle(link);
                let output = !st.router.poll_output(link).is_empty();
                if idle && !output {
                    continue;
                }
                let io = st.link(link);
                if !io.reader {
                    if !idle {
                        io.reader = true;
                        start.push(link);
                    }
                } else if output {
                    busy.push(link);
                }
            }
            (start, busy)
        };
        for link in start {
            $spawn(&$shared, link);
        }
        for link in busy {
            // A failed write is that link's reader's to find: it reconnects.
            let _ = flush!($shared, link, $write, $($await)*);
        }
    }};
}

/// While shard channels wait for a map: reads the cluster's slot map and hands it to the
/// router, with back-off between attempts that leave names waiting, until none waits, the
/// subscriber is closed, or `$deadline` (an `Option<Instant>`) passes.
macro_rules! rehome {
    ($shared:expr, $deadline:expr, [$refresh:path, $sleep:path], $($await:tt)*) => {{
        let deadline: Option<std::time::Instant> = $deadline;
        let mut backoff = crate::pubsub::BACKOFF_START;
        loop {
            {
                let st = $shared.lock();
                if st.closed || !st.router.wants_map() {
                    break;
                }
            }
            if let Ok(map) = $refresh(&$shared) $($await)* {
                $shared.take_map(map);
                if !$shared.lock().router.wants_map() {
                    break;
                }
            }
            if deadline.is_some_and(|d| std::time::Instant::now() + backoff > d) {
                break;
            }
            $sleep(backoff) $($await)*;
            backoff = (backoff * 2).min(crate::pubsub::BACKOFF_MAX);
        }
    }};
}

/// While a cluster subscriber has node-local names: reads the slot map again when it is time
/// (see `Shared::watch_due`) and places the names as it says, then starts or writes the links
/// that need it. A coordinated failover moves a primary's slots without closing a connection:
/// only a fresh map tells. `$shared` is the `Arc`.
macro_rules! watch {
    ($shared:expr, [$refresh:path, $write:path, $spawn:path], $($await:tt)*) => {{
        if $shared.watch_due() {
            if let Ok(map) = $refresh(&$shared) $($await)* {
                $shared.take_map(map);
                spread!($shared, [$write, $spawn], $($await)*);
            }
        }
    }};
}

/// The reader of link `$link`: connects (starting on `$first`, an `Option` of a connection
/// the owner opened), subscribes to the link's names, and reads until the owner goes. When the
/// connection is lost, link 0 and a single server's link connect again to the same place and
/// put an [`Event::Gap`](crate::pubsub::Event::Gap) in the buffer; a cluster's shard link hands
/// its names back to the router, which places them on their slot's owner by a new map (a
/// failover moves them), and the reader ends once its link has no name left. A node link
/// whose names all left (elsewhere, or unsubscribed from a node that lost its slots) closes
/// once nothing is owed on it.
macro_rules! pump {
    ($shared:ident, $link:expr, $first:expr,
     [$open:path, $read:path, $write:path, $sleep:path, $spawn:path, $refresh:path, $stop:path],
     $($await:tt)*) => {{
        let shared = $shared;
        let link: usize = $link;
        let mut next = $first;
        let mut backoff = crate::pubsub::BACKOFF_START;
        // What was read and not yet taken in: a frame cut by a read waits here for its rest.
        let mut buf = redpipe_core::ReadBuffer::growable();
        // A connection opened after one was lost is a gap (for links that reconnect in place).
        let mut gap = false;
        loop {
            let (mut reader, writer, leftover) = match next.take() {
                Some(parts) => parts,
                None => {
                    let node = {
                        let mut st = shared.lock();
                        if st.closed || st.router.is_idle(link) {
                            st.link(link).reader = false;
                            return;
                        }
                        st.router.node(link).cloned()
                    };
                    match $open(&shared, node.as_ref()) $($await)* {
                        Ok(parts) => parts,
                        Err(_) => {
                            // A shard link's node may be gone for good (a failover).
                            let moved = shared.lock().router.lost(link).is_some();
                            if moved {
                                rehome!(shared, None, [$refresh, $sleep], $($await)*);
                                spread!(shared, [$write, $spawn], $($await)*);
                            }
                            $sleep(backoff) $($await)*;
                            backoff = (backoff * 2).min(crate::pubsub::BACKOFF_MAX);
                            continue;
                        }
                    }
                }
            };
            // Subscribe again to every name of the link, then let the owner write too.
            {
                let mut st = shared.lock();
                if std::mem::take(&mut gap) {
                    st.gap();
                }
                let io = st.link(link);
                io.generation += 1;
                io.writer = Some(writer);
                let _ = st.router.resubscribe(link);
            }
            buf.clear();
            let _ = buf.extend(&leftover); // a growable buffer takes any length
            let mut pinged = false;
            // A connection that read a frame before it was lost is replaced at once; one that
            // read none (refused, or breaking the protocol at once) after a growing wait.
            let mut healthy = false;
            let mut alive = flush!(shared, link, $write, $($await)*).is_ok();
            if alive {
                shared.wake();
            }
            while alive {
                // Everything complete is taken in at once, under one lock.
                let (broken, moved, closed, done) = {
                    let mut st = shared.lock();
                    let mut at = 0;
                    let mut moved = false;
                    let broken = loop {
                        if st.closed {
                            break false;
                        }
                        match st.router.handle_input(link, &buf.filled()[at..]) {
                            Ok(Some((frame, used))) => {
                                moved |= st.deliver(frame);
                                at += used;
                            }
                            Ok(None) => break false,
                            Err(_) => break true,
                        }
                    };
                    buf.consume(at);
                    buf.shrink(); // a large message's room goes back once it is taken
                    if at > 0 {
                        healthy = true;
                        shared.wake_locked(&mut st);
                    }
                    // A node link left with no name and nothing owed ends here, under the
                    // lock that a name placed on it later takes to start a reader again.
                    let done = !moved && st.router.is_done(link);
                    if done {
                        let io = st.link(link);
                        io.reader = false;
                        io.writer = None;
                        io.generation += 1;
                    }
                    (broken, moved, st.closed, done)
                };
                if closed {
                    // The owner went, or the buffer's policy ended the subscriber: every
                    // connection closes, this one with its reader.
                    $stop(&shared);
                    return;
                }
                if moved {
                    // Placed for a while at most: the link's other names are read meanwhile.
                    // Names still waiting are tried again at the next read timeout.
                    let until = crate::pubsub::deadline(Some(crate::pubsub::REHOME_WHILE_READING));
                    rehome!(shared, until, [$refresh, $sleep], $($await)*);
                    spread!(shared, [$write, $spawn], $($await)*);
                    shared.wake();
                }
                if broken {
                    break;
                }
                if done {
                    return; // the connection closes with its halves
                }
                match $read(&shared, &mut reader, &mut buf) $($await)* {
                    Ok(0) => alive = false,
                    Ok(_) => pinged = false,
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut && !pinged => {
                        // Silence for a read timeout: ask; another one without an answer
                        // means the connection is gone.
                        pinged = true;
                        let _ = shared.lock().router.ping(link);
                        alive = flush!(shared, link, $write, $($await)*).is_ok();
                        if shared.lock().router.wants_map() {
                            let until =
                                crate::pubsub::deadline(Some(crate::pubsub::REHOME_WHILE_READING));
                            rehome!(shared, until, [$refresh, $sleep], $($await)*);
                            spread!(shared, [$write, $spawn], $($await)*);
                        }
                    }
                    Err(_) => alive = false,
                }
                if alive {
                    crate::pubsub::run::watch!(shared, [$refresh, $write, $spawn], $($await)*);
                }
            }
            // Lost: the writer goes with the connection. A link that reconnects in place says
            // so once back; a shard link's names are placed again by a new map now.
            let moved = {
                let mut st = shared.lock();
                st.link(link).writer = None;
                let moved = st.router.lost(link);
                if moved.is_some_and(|n| n > 0) {
                    st.gap();
                    shared.wake_locked(&mut st);
                }
                moved
            };
            gap = moved.is_none();
            if moved.is_some() {
                rehome!(shared, None, [$refresh, $sleep], $($await)*);
                spread!(shared, [$write, $spawn], $($await)*);
                shared.wake();
            }
            if healthy {
                backoff = crate::pubsub::BACKOFF_START;
            } else {
                $sleep(backoff) $($await)*;
                backoff = (backoff * 2).min(crate::pubsub::BACKOFF_MAX);
            }
        }
    }};
}

/// Waits until `$check` (on the locked state) gives a value, or `$deadline` passes (then
/// `$timeout`): `$wait` takes the shared state, the wake-up count seen and the time left. No
/// lock is held while waiting.
macro_rules! wait_for {
    ($shared:expr, $deadline:expr, $check:expr, $timeout:expr, $wait:path, $($await:tt)*) => {{
        let deadline: Option<std::time::Instant> = $deadline;
        loop {
            let (seen, left) = {
                let mut st = $shared.lock();
                if let Some(found) = $check(&mut *st) {
                    break found;
                }
                let left = match deadline {
                    None => None,
                    Some(d) => {
                        let left = d.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break $timeout;
                        }
                        Some(left)
                    }
                };
                (st.version, left)
            };
            $wait(&$shared, seen, left) $($await)*;
        }
    }};
}

/// The body of `subscribe_kind` and `unsubscribe_kind`: queue the commands (on the links the
/// router picks), read a cluster's map if names wait for one, start or write the links, and
/// wait for the confirmations; names refused (or not confirmed in time) are forgotten.
macro_rules! change {
    ($shared:expr, $kind:ident, $names:ident, $subscribe:expr,
     [$write:path, $wait:path, $spawn:path, $refresh:path, $sleep:path], $($await:tt)*) => {
        change!($shared, $kind, $names, $subscribe, false,
            [$write, $wait, $spawn, $refresh, $sleep], $($await)*)
    };
    ($shared:expr, $kind:ident, $names:ident, $subscribe:expr, $node_local:expr,
     [$write:path, $wait:path, $spawn:path, $refresh:path, $sleep:path], $($await:tt)*) => {{
        let node_local: bool = $node_local;
        if node_local && $subscribe && $shared.cluster.is_some() {
            // Placed by a map read now: the one at hand may be a pipeline's, patched by
            // `MOVED` answers one slot at a time, naming a primary that is one no more.
            if let Ok(map) = $refresh(&$shared) $($await)* {
                $shared.take_map(map);
            }
        }
        if !$shared.queue_change($kind, $names, $subscribe, node_local)? {
            return Ok(());
        }
        let deadline = crate::pubsub::deadline(Some($shared.confirm_timeout()));
        rehome!($shared, deadline, [$refresh, $sleep], $($await)*);
        spread!($shared, [$write, $spawn], $($await)*);
        let result = wait_for!(
            $shared,
            deadline,
            crate::pubsub::State::settled,
            Err(crate::pubsub::unconfirmed()),
            $wait,
            $($await)*
        );
        if result.is_err() && $subscribe {
            $shared.lock().router.forget($kind, $names);
        }
        result
    }};
}

/// The short forms of both subscribers, each the `Kind` form with its kind (`$($async)?` is
/// `async` or nothing, `$($await)*` `.await` or nothing).
macro_rules! short_forms {
    ($($async:ident)?, $($await:tt)*) => {
        /// Subscribes to channels (`SUBSCRIBE`): [`subscribe_kind`](Self::subscribe_kind)
        /// with [`Kind::Channel`].
        pub $($async)? fn subscribe<A: redpipe_core::Args + ?Sized>(
            &mut self,
            channels: &A,
        ) -> redpipe_core::Result<()> {
            self.subscribe_kind(Kind::Channel, channels) $($await)*
        }

        /// Subscribes to glob-style patterns (`PSUBSCRIBE`): messages come with the pattern
        /// that matched.
        pub $($async)? fn psubscribe<A: redpipe_core::Args + ?Sized>(
            &mut self,
            patterns: &A,
        ) -> redpipe_core::Result<()> {
            self.subscribe_kind(Kind::Pattern, patterns) $($await)*
        }

        /// Subscribes to shard channels (`SSUBSCRIBE`, Redis 7; published with `SPUBLISH`):
        /// on a cluster, on the node of each channel's hash slot.
        pub $($async)? fn ssubscribe<A: redpipe_core::Args + ?Sized>(
            &mut self,
            channels: &A,
        ) -> redpipe_core::Result<()> {
            self.subscribe_kind(Kind::Shard, channels) $($await)*
        }

        /// Subscribes to `names` (channels or patterns) on every primary of a cluster, and
        /// waits for every primary's confirmation: for what each node publishes about itself
        /// alone, above all keyspace notifications (`__keyspace@0__:*`), which a cluster
        /// publishes on the node of each key only. The subscriber follows the primaries: a new
        /// one (a failover, a node added) is subscribed once the slot map shows it (read again
        /// every few seconds while such names are wanted, and when a connection is lost), a
        /// node that lost its slots is unsubscribed, and an [`Event::Gap`] says when
        /// messages may have been missed meanwhile. A message `PUBLISH`ed to a matching
        /// channel reaches every node, so it arrives once per primary. On a single server (or
        /// for [`Kind::Shard`]) this is [`subscribe_kind`](Self::subscribe_kind).
        pub $($async)? fn subscribe_node_local<A: redpipe_core::Args + ?Sized>(
            &mut self,
            kind: Kind,
            names: &A,
        ) -> redpipe_core::Result<()> {
            if self.is_shared() {
                // A shared connection is a single server's: node-local is plain.
                return self.subscribe_kind(kind, names) $($await)*;
            }
            change!(self.shared, kind, names, true, true,
                [write, wait, spawn, refresh, sleep], $($await)*)
        }

        /// Unsubscribes from node-local `names` (see
        /// [`subscribe_node_local`](Self::subscribe_node_local)) on every node that holds
        /// them, and waits for the confirmations.
        pub $($async)? fn unsubscribe_node_local<A: redpipe_core::Args + ?Sized>(
            &mut self,
            kind: Kind,
            names: &A,
        ) -> redpipe_core::Result<()> {
            if self.is_shared() {
                return self.unsubscribe_kind(kind, names) $($await)*;
            }
            change!(self.shared, kind, names, false, true,
                [write, wait, spawn, refresh, sleep], $($await)*)
        }

        /// Unsubscribes from channels (`UNSUBSCRIBE`).
        pub $($async)? fn unsubscribe<A: redpipe_core::Args + ?Sized>(
            &mut self,
            channels: &A,
        ) -> redpipe_core::Result<()> {
            self.unsubscribe_kind(Kind::Channel, channels) $($await)*
        }

        /// Unsubscribes from patterns (`PUNSUBSCRIBE`).
        pub $($async)? fn punsubscribe<A: redpipe_core::Args + ?Sized>(
            &mut self,
            patterns: &A,
        ) -> redpipe_core::Result<()> {
            self.unsubscribe_kind(Kind::Pattern, patterns) $($await)*
        }

        /// Unsubscribes from shard channels (`SUNSUBSCRIBE`).
        pub $($async)? fn sunsubscribe<A: redpipe_core::Args + ?Sized>(
            &mut self,
            channels: &A,
        ) -> redpipe_core::Result<()> {
            self.unsubscribe_kind(Kind::Shard, channels) $($await)*
        }
    };
}

pub(super) use {change, flush, pump, rehome, short_forms, spread, wait_for, watch};
