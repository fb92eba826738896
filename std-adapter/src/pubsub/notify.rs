//! A keyspace's own notifications: `Followers::notifications(&["zadd"])` subscribes to the
//! `__keyspace@<db>__:F{*}` channels of the keyspace's connection and yields its keys, typed
//! by the keyspace's key codec, with the event.
//!
//! The server publishes keyspace notifications only when `notify-keyspace-events` says so (off
//! by default): `K` (keyspace channels) and the classes of events, e.g. `CONFIG SET
//! notify-keyspace-events KA` for every event, `Kz` for sorted sets, `Kgx` for generic and
//! expiry events. Without it the subscriber waits in vain.
//!
//! On a Redis Cluster each node publishes the notifications of its own keys only (they do not
//! cross the cluster bus as a `PUBLISH` does), so the pattern is subscribed on every primary
//! ([`Subscriber::subscribe_node_local`]) and follows the primaries through failovers; each
//! event comes once, from the node that owns the key.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use redpipe_core::keyspace::{Field, Keyspace, NotificationPattern, notified_key};
use redpipe_core::{Error, FromReply, Result};

use super::{Event, Kind, Msg, Overflow, Subscriber};
use crate::registry::Connections;

/// The key of keyspace `K` as its key codec reads it (`String` for `Text` keys, `i64` for
/// `Integer` ones).
pub type KeyOf<'a, K> = <<<K as Keyspace>::Key as Field>::Owned as FromReply>::Output<'a>;

/// A notification: `event` happened to a key of keyspace `K`.
pub struct Notification<K> {
    event: String,
    key: Vec<u8>,
    _k: PhantomData<fn() -> K>,
}

impl<K> std::fmt::Debug for Notification<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notification")
            .field("event", &self.event)
            .field("key", &String::from_utf8_lossy(&self.key))
            .finish()
    }
}

impl<K> Clone for Notification<K> {
    fn clone(&self) -> Self {
        Self {
            event: self.event.clone(),
            key: self.key.clone(),
            _k: PhantomData,
        }
    }
}

impl<K> PartialEq for Notification<K> {
    fn eq(&self, other: &Self) -> bool {
        (&self.event, &self.key) == (&other.event, &other.key)
    }
}

impl<K> Eq for Notification<K> {}

impl<K: Keyspace> Notification<K> {
    /// The notification a message carries, if its channel names one of `K`'s keys in database
    /// `db`: for messages read another way, e.g. by a tokio subscriber of
    /// [`NotificationPattern`]:
    ///
    /// ```no_run
    /// # async fn run() -> redpipe::Result<()> {
    /// use redpipe::keyspace::NotificationPattern;
    /// use redpipe::pubsub::{AsyncSubscriber, Kind, Notification};
    /// redpipe::keyspace! { pub struct Followers: SortedSet { prefix: "F" } }
    ///
    /// let mut sub = AsyncSubscriber::new(redpipe::DEFAULT).await?;
    /// // On every primary of a cluster (a single server's connection else).
    /// let pattern = NotificationPattern::<Followers>::new(0);
    /// sub.subscribe_node_local(Kind::Pattern, &pattern).await?;
    /// while let Some(msg) = sub.next_event(None).await?.and_then(|e| e.message()) {
    ///     if let Some(n) = Notification::<Followers>::from_msg(0, &msg) {
    ///         println!("{} {}", n.event(), n.key()?);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_msg(db: u32, msg: &Msg) -> Option<Self> {
        let key = notified_key::<K>(db, msg.channel_bytes())?;
        Some(Self {
            event: String::from_utf8_lossy(msg.payload_bytes()).into_owned(),
            key: key.to_vec(),
            _k: PhantomData,
        })
    }

    /// What happened: the command's or the server's event name (`set`, `del`, `expire`,
    /// `expired`, `zadd`, `hset`...).
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The key, read with the keyspace's key codec.
    pub fn key(&self) -> Result<KeyOf<'_, K>> {
        let key = K::Key::decode(&self.key).map_err(Error::Field)?;
        Ok(K::Key::into_owned(key))
    }

    /// The key's bytes as stored inside the keyspace's template.
    pub fn key_bytes(&self) -> &[u8] {
        &self.key
    }
}

/// What [`Notifications`] yields.
#[non_exhaustive]
pub enum KeyEvent<K> {
    /// A key of the keyspace changed.
    Key(Notification<K>),
    /// The subscription was lost and is back: notifications in between were missed.
    Gap,
    /// The buffer was full: this many notifications were dropped (see
    /// [`Subscriber::buffer`]).
    Dropped(u64),
}

// By hand: derived, they would ask the keyspace type for the same traits.
impl<K> std::fmt::Debug for KeyEvent<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Key(n) => f.debug_tuple("Key").field(n).finish(),
            Self::Gap => f.write_str("Gap"),
            Self::Dropped(n) => f.debug_tuple("Dropped").field(n).finish(),
        }
    }
}

impl<K> Clone for KeyEvent<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Key(n) => Self::Key(n.clone()),
            Self::Gap => Self::Gap,
            Self::Dropped(n) => Self::Dropped(*n),
        }
    }
}

impl<K> PartialEq for KeyEvent<K> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Key(a), Self::Key(b)) => a == b,
            (Self::Gap, Self::Gap) => true,
            (Self::Dropped(a), Self::Dropped(b)) => a == b,
            _ => false,
        }
    }
}

impl<K> Eq for KeyEvent<K> {}

/// The notifications of keyspace `K`'s keys: a [`Subscriber`] of their channels, on a
/// connection of its own. Made by [`KeyspaceNotifications`].
pub struct Notifications<K> {
    sub: Subscriber,
    db: u32,
    /// Event names kept; empty: all.
    events: Vec<String>,
    _k: PhantomData<fn() -> K>,
}

impl<K> std::fmt::Debug for Notifications<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications")
            .field("db", &self.db)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl<K: Keyspace> Notifications<K> {
    /// The next notification of one of the events asked for (or a marker), waiting up to
    /// `timeout` (`None`: as long as it takes); `Ok(None)` when none came in time.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<KeyEvent<K>>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let Some(event) = self.sub.next_event(left)? else {
                return Ok(None);
            };
            if let Some(e) = key_event(self.db, &self.events, event) {
                return Ok(Some(e));
            }
        }
    }

    /// The events, each waited for as long as it takes; ends after the subscriber's error.
    pub fn iter(&mut self) -> impl Iterator<Item = Result<KeyEvent<K>>> + '_ {
        super::until_error(move || self.next_event(None))
    }

    /// Sets the buffer's bounds and overflow policy; see [`Subscriber::buffer`].
    pub fn buffer(&self, messages: usize, bytes: usize, overflow: Overflow) -> &Self {
        self.sub.buffer(messages, bytes, overflow);
        self
    }

    /// Notifications dropped so far under [`Overflow::DropOldest`].
    pub fn dropped(&self) -> u64 {
        self.sub.dropped()
    }
}

/// What a subscriber's event is to a keyspace's notifications in database `db`, keeping the
/// `events` named (empty: all): `None` for a message of another key or event.
fn key_event<K: Keyspace>(db: u32, events: &[String], event: Event) -> Option<KeyEvent<K>> {
    match event {
        Event::Message(m) => {
            let n = Notification::from_msg(db, &m)?;
            let wanted = events.is_empty() || events.iter().any(|e| e == n.event());
            wanted.then_some(KeyEvent::Key(n))
        }
        Event::Gap => Some(KeyEvent::Gap),
        Event::Dropped(n) => Some(KeyEvent::Dropped(n)),
    }
}

/// [`Notifications`] for tokio: an `AsyncSubscriber` of keyspace `K`'s notifications, made by
/// [`KeyspaceNotifications::notifications_async`] (feature `tokio`).
#[cfg(feature = "tokio")]
pub struct AsyncNotifications<K> {
    sub: super::AsyncSubscriber,
    db: u32,
    /// Event names kept; empty: all.
    events: Vec<String>,
    _k: PhantomData<fn() -> K>,
}

#[cfg(feature = "tokio")]
impl<K> std::fmt::Debug for AsyncNotifications<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncNotifications")
            .field("db", &self.db)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "tokio")]
impl<K: Keyspace> AsyncNotifications<K> {
    /// The next notification of one of the events asked for (or a marker), waiting up to
    /// `timeout` (`None`: as long as it takes); `Ok(None)` when none came in time.
    pub async fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<KeyEvent<K>>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let Some(event) = self.sub.next_event(left).await? else {
                return Ok(None);
            };
            if let Some(e) = key_event(self.db, &self.events, event) {
                return Ok(Some(e));
            }
        }
    }

    /// Sets the buffer's bounds and overflow policy; see [`Subscriber::buffer`].
    pub fn buffer(&self, messages: usize, bytes: usize, overflow: Overflow) -> &Self {
        self.sub.buffer(messages, bytes, overflow);
        self
    }

    /// Notifications dropped so far under [`Overflow::DropOldest`].
    pub fn dropped(&self) -> u64 {
        self.sub.dropped()
    }
}

/// Keyspace notifications for every keyspace (in the [prelude](crate::prelude)), on the
/// process-wide registry or one of your own. The server MUST have `notify-keyspace-events`
/// set: `K` (keyspace channels) and the classes of events, e.g. `CONFIG SET
/// notify-keyspace-events KA` for every event, `Kz` for sorted sets, `Kgx` for generic and
/// expiry events; it is off by default, and then nothing arrives.
///
/// On a cluster name, every node MUST have it set (replicas too: a replica promoted by a
/// failover publishes with its own setting). A cluster publishes each key's notifications on
/// the node that owns the key, so the subscriber subscribes on every primary and follows them
/// ([`Subscriber::subscribe_node_local`]): each event arrives once, and a
/// [`KeyEvent::Gap`] says when a primary's connection was lost or the primaries changed (a
/// failover, a node added), as events of that moment may have been missed. With tokio, the
/// same through `notifications_async` (feature `tokio`).
///
/// ```no_run
/// use std::time::Duration;
/// use redpipe::prelude::*;
/// use redpipe::pubsub::KeyEvent;
/// use redpipe::keyspace;
///
/// keyspace! { pub struct Followers: SortedSet { prefix: "F" } }
/// redpipe::connect("redis://127.0.0.1")?;
/// let mut changes = Followers::notifications(&["zadd", "del"])?;
/// while let Some(KeyEvent::Key(n)) = changes.next_event(Some(Duration::from_secs(1)))? {
///     println!("{} on {}", n.event(), n.key()?); // the key inside F{...}, as a String
/// }
/// # Ok::<(), redpipe::Error>(())
/// ```
pub trait KeyspaceNotifications: Keyspace {
    /// Subscribes to this keyspace's notifications on the process-wide registry, keeping the
    /// `events` named (`&[]`: all); returns once the server (every primary of a cluster)
    /// confirmed.
    fn notifications(events: &[&str]) -> Result<Notifications<Self>> {
        Self::notifications_on(Connections::global(), events)
    }

    /// [`notifications`](Self::notifications) on `registry`.
    fn notifications_on(registry: &Connections, events: &[&str]) -> Result<Notifications<Self>> {
        let (info, _, _) = registry.subscriber_settings(Self::CONNECTION)?;
        let mut sub = Subscriber::on(registry, Self::CONNECTION)?;
        // Node-local: on every primary of a cluster; a single server's one connection else.
        sub.subscribe_node_local(Kind::Pattern, &NotificationPattern::<Self>::new(info.db))?;
        Ok(Notifications {
            sub,
            db: info.db,
            events: events.iter().map(|e| e.to_string()).collect(),
            _k: PhantomData,
        })
    }

    /// [`notifications`](Self::notifications) for tokio (feature `tokio`): the same
    /// subscription on an `AsyncSubscriber`.
    #[cfg(feature = "tokio")]
    fn notifications_async(
        events: &[&str],
    ) -> impl Future<Output = Result<AsyncNotifications<Self>>> + Send {
        Self::notifications_async_on(Connections::global(), events)
    }

    /// [`notifications_async`](Self::notifications_async) on `registry`.
    #[cfg(feature = "tokio")]
    fn notifications_async_on(
        registry: &Connections,
        events: &[&str],
    ) -> impl Future<Output = Result<AsyncNotifications<Self>>> + Send {
        let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        async move {
            let (info, _, _) = registry.subscriber_settings(Self::CONNECTION)?;
            let mut sub = super::AsyncSubscriber::on(registry, Self::CONNECTION).await?;
            let pattern = NotificationPattern::<Self>::new(info.db);
            sub.subscribe_node_local(Kind::Pattern, &pattern).await?;
            Ok(AsyncNotifications {
                sub,
                db: info.db,
                events,
                _k: PhantomData,
            })
        }
    }
}

impl<K: Keyspace> KeyspaceNotifications for K {}
