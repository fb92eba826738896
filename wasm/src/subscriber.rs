//! [`Subscriber`]: Pub/Sub over a WebSocket, through a bridge's subscriber session.
//!
//! A subscribed connection answers no command in order (see the core's `pubsub` module), so it
//! is a socket of its own, as in the std adapter: the WebSocket asks the bridge for the
//! `redpipe.subscribe` subprotocol, which gives a session that carries subscription commands
//! only, within the channels the token names. The core's [`Subscriptions`] encodes the commands
//! and reads the frames; this file only moves bytes between it and the socket.
//!
//! Memory: messages wait in the socket's inbox until [`Subscriber::next`] reads them; past the
//! inbox's budget (64 MiB) the subscriber ends with an error rather than grow (the `Disconnect`
//! policy of the std subscribers).

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::poll_fn;
use core::task::Poll;

use redpipe_core::pubsub::{Event, Kind, VecSubscriptions};
use redpipe_core::{Error, Result};

use crate::connection::{Options, login};
use crate::error::LinkError;
use crate::link::{Inbox, Link};

/// The WebSocket subprotocol of a bridge's subscriber session.
pub const SUBSCRIBER_PROTOCOL: &str = "redpipe.subscribe";

/// A published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// Which subscription it came through.
    pub kind: Kind,
    /// The channel it was published to.
    pub channel: Vec<u8>,
    /// The pattern that matched the channel ([`Kind::Pattern`] only).
    pub pattern: Option<Vec<u8>>,
    /// The message as published.
    pub payload: Vec<u8>,
}

/// Subscriptions on one WebSocket, through a bridge's subscriber session (the
/// `redpipe.subscribe` WebSocket subprotocol); the core's
/// [`Subscriptions`](redpipe_core::pubsub::Subscriptions) reads the frames.
///
/// ```no_run
/// use redpipe_wasm::pubsub::{Kind, Subscriber};
/// use redpipe_wasm::Options;
///
/// async fn listen() -> redpipe_wasm::Result<()> {
///     let mut sub = Subscriber::open("ws://127.0.0.1:7379", &Options::token("secret")).await?;
///     sub.subscribe(Kind::Channel, &["news"]).await?;
///     while let Some(m) = sub.next().await? {
///         let _ = (m.channel, m.payload);
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Subscriber {
    link: Link,
    subs: VecSubscriptions,
    /// Bytes received and not read yet; a frame's start is always at 0.
    buf: Vec<u8>,
    /// The names of the command waiting for its answer (one at a time), forgotten if refused.
    asked: Option<(Kind, Vec<String>)>,
    /// Messages read while a command waited for its answer.
    early: VecDeque<Msg>,
    /// Messages dropped from `early` (the oldest) when it was full.
    dropped: u64,
    /// Closed by [`close`](Self::close).
    closed: bool,
}

/// Messages kept while [`Subscriber::subscribe`] waits; past it the oldest are dropped.
const EARLY_LIMIT: usize = 10_000;

/// One frame, read: what a subscriber's owner is told.
#[derive(Debug)]
pub enum Received {
    /// A message.
    Msg(Msg),
    /// The server answered every (un)subscription asked for.
    Answered,
    /// The server (or the bridge) refused the command waiting for its answer; its names are
    /// forgotten.
    Refused(Error),
}

impl Subscriber {
    /// Opens a subscriber session at the bridge `url`, presenting `options.token`.
    pub async fn open(url: &str, options: &Options) -> Result<Self> {
        let link = Link::websocket_with(url, SUBSCRIBER_PROTOCOL);
        login(&link, options.token.as_deref()).await?;
        Ok(Self {
            link,
            subs: VecSubscriptions::default(),
            buf: Vec::new(),
            asked: None,
            early: VecDeque::new(),
            dropped: 0,
            closed: false,
        })
    }

    /// Subscribes to `names` (channels, patterns or shard channels, per `kind`) and waits for
    /// the server's confirmation; a refusal (`-NOPERM` from the bridge's channel rules or
    /// Redis's ACL) is `Err(Error::Server)`, its names forgotten, the subscriber still usable.
    /// Messages that arrive meanwhile wait for [`next`](Self::next).
    pub async fn subscribe(&mut self, kind: Kind, names: &[&str]) -> Result<()> {
        self.send(kind, names, true)?;
        self.answered().await
    }

    /// Unsubscribes from `names` (every name of `kind` when empty) and waits for the answer.
    pub async fn unsubscribe(&mut self, kind: Kind, names: &[&str]) -> Result<()> {
        self.send(kind, names, false)?;
        self.answered().await
    }

    /// Sends a subscribe (or unsubscribe) command without waiting: its answer comes as a
    /// [`Received`] from [`poll`](Self::poll). One command at a time: wait for the answer of
    /// one before sending the next.
    pub fn send(&mut self, kind: Kind, names: &[&str], subscribe: bool) -> Result<()> {
        let asked = match (subscribe, names.is_empty()) {
            (true, _) => self.subs.subscribe(kind, names)?,
            (false, true) => self.subs.unsubscribe_all(kind)?,
            (false, false) => self.subs.unsubscribe(kind, names)?,
        };
        if asked > 0 {
            self.asked = Some((kind, names.iter().map(|&n| String::from(n)).collect()));
        }
        let out = self.subs.poll_output();
        if !out.is_empty() {
            self.link.send(out)?;
            let n = out.len();
            self.subs.consume_output(n);
        }
        Ok(())
    }

    /// Whether `name` is subscribed and confirmed.
    pub fn is_confirmed(&self, kind: Kind, name: &str) -> bool {
        self.subs.is_confirmed(kind, name.as_bytes())
    }

    /// Messages dropped while a command waited for its answer with 10 000 unread.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    async fn answered(&mut self) -> Result<()> {
        if self.subs.pending() == 0 {
            return Ok(());
        }
        loop {
            match self.poll()? {
                Some(Received::Msg(m)) => {
                    if self.early.len() == EARLY_LIMIT {
                        self.early.pop_front();
                        self.dropped += 1;
                    }
                    self.early.push_back(m);
                }
                Some(Received::Answered) => return Ok(()),
                Some(Received::Refused(e)) => return Err(e),
                None => arrival(&self.inbox(), None).await,
            }
        }
    }

    /// The next message; `Ok(None)` once [`close`](Self::close) was called. A lost connection
    /// is `Err` and ends the subscriber.
    pub async fn next(&mut self) -> Result<Option<Msg>> {
        if let Some(m) = self.early.pop_front() {
            return Ok(Some(m));
        }
        loop {
            match self.poll()? {
                Some(Received::Msg(m)) => return Ok(Some(m)),
                Some(_) => {}
                None if self.closed => return Ok(None),
                None => arrival(&self.inbox(), None).await,
            }
        }
    }

    /// The socket's state, for waiting on it without holding the subscriber.
    pub(crate) fn inbox(&self) -> Rc<RefCell<Inbox>> {
        self.link.inbox().clone()
    }

    /// Reads the next frame without waiting: from the bytes kept, else from what the socket
    /// received (taken only when no whole frame is kept, so that at most one inbox's worth is
    /// held). `Ok(None)`: nothing yet (or closed by [`close`](Self::close)); `Err`: the
    /// connection ended.
    pub fn poll(&mut self) -> Result<Option<Received>> {
        if self.closed {
            return Ok(None);
        }
        loop {
            let (event, used) = match self.subs.handle_input(&self.buf) {
                Ok(Some(read)) => read,
                Ok(None) => {
                    let mut inbox = self.link.inbox().borrow_mut();
                    let messages = inbox.take_messages();
                    if messages.is_empty() {
                        return match inbox.closed.clone() {
                            Some(why) => Err(why.into()),
                            None => Ok(None),
                        };
                    }
                    messages.iter().for_each(|m| self.buf.extend_from_slice(m));
                    continue;
                }
                Err(e) => {
                    self.link.close(LinkError::Local(String::from(
                        "the subscriber session sent a broken frame",
                    )));
                    return Err(e.into());
                }
            };
            let read = match event {
                Event::Message(m) => Some(Received::Msg(Msg {
                    kind: m.kind,
                    channel: m.channel.to_vec(),
                    pattern: m.pattern.map(<[u8]>::to_vec),
                    payload: m.payload.to_vec(),
                })),
                Event::Error(e) => Some(Received::Refused(Error::Server(e.into_owned()))),
                Event::Subscribed { .. } | Event::Unsubscribed { .. }
                    if self.asked.is_some() && self.subs.pending() == 0 =>
                {
                    self.asked = None;
                    Some(Received::Answered)
                }
                _ => None,
            };
            self.buf.drain(..used);
            if let Some(Received::Refused(_)) = read
                && let Some((kind, names)) = self.asked.take()
            {
                // The refusal answers the command waiting: its names are not waited for.
                self.subs.forget(kind, names.as_slice());
            }
            if read.is_some() {
                return Ok(read);
            }
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Closes the session; [`next`](Self::next) ends with `None`.
    pub fn close(&mut self) {
        self.closed = true;
        self.link
            .close(LinkError::Local(String::from("the subscriber was closed")));
    }
}

/// Waits until `inbox` holds a message or the socket has ended, or `also` says to stop
/// waiting (asked again after every wake-up).
pub(crate) async fn arrival(
    inbox: &Rc<RefCell<Inbox>>,
    mut also: Option<&mut dyn FnMut() -> bool>,
) {
    poll_fn(|cx| {
        let mut i = inbox.borrow_mut();
        let other = also.as_mut().is_some_and(|f| f());
        if other || !i.messages.is_empty() || i.closed.is_some() {
            Poll::Ready(())
        } else {
            i.set_waker(Some(cx.waker().clone()));
            Poll::Pending
        }
    })
    .await
}
