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
//!
//! A lost session (the network, Redis closing the bridge's connection, the bridge restarting)
//! is opened again with the same token and every name subscribed again, as the std subscribers
//! do: [`Received::Gap`] says messages published meanwhile were missed. Only the bridge's
//! refusal of the token (close code 1008: it expired, or its rules changed) or
//! [`Subscriber::close`] end a subscriber for good.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::poll_fn;
use core::task::Poll;

use redpipe_core::pubsub::{Event, Kind, VecSubscriptions};
use redpipe_core::{Error, Result};
use wasm_bindgen::{JsCast, JsValue};

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
/// use redpipe_wasm::pubsub::{Kind, Received, Subscriber};
/// use redpipe_wasm::Options;
///
/// async fn listen() -> redpipe_wasm::Result<()> {
///     let mut sub = Subscriber::open("ws://127.0.0.1:7379", &Options::token("secret")).await?;
///     sub.subscribe(Kind::Channel, &["news"]).await?;
///     while let Some(r) = sub.next().await? {
///         match r {
///             Received::Msg(m) => {
///                 let _ = (m.channel, m.payload);
///             }
///             Received::Gap => {} // opened again: messages in between were missed
///             _ => {}
///         }
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Subscriber {
    link: Link,
    /// Where the session was opened, and with which token: a lost one is opened again there.
    url: String,
    token: Option<String>,
    subs: VecSubscriptions,
    /// Bytes received and not read yet; a frame's start is always at 0.
    buf: Vec<u8>,
    /// The names of the command waiting for its answer (one at a time), forgotten if refused.
    asked: Option<(Kind, Vec<String>)>,
    /// Messages (and gaps) read while a command waited for its answer.
    early: VecDeque<Received>,
    /// Messages dropped from `early` (the oldest) when it was full.
    dropped: u64,
    /// Closed by [`close`](Self::close).
    closed: bool,
    /// Sessions lost and opened again.
    gaps: u64,
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
    /// The session was lost and is open again, every name subscribed again: messages published
    /// in between were missed.
    Gap,
}

/// The first wait before a lost session is opened again, and the longest (the wait doubles).
const REOPEN_FIRST_MS: u32 = 100;
const REOPEN_MOST_MS: u32 = 5_000;

impl Subscriber {
    /// Opens a subscriber session at the bridge `url`, presenting `options.token`.
    pub async fn open(url: &str, options: &Options) -> Result<Self> {
        let link = session(url, options.token.as_deref())
            .await
            .map_err(|(e, _)| e)?;
        Ok(Self {
            link,
            url: String::from(url),
            token: options.token.clone(),
            subs: VecSubscriptions::default(),
            buf: Vec::new(),
            asked: None,
            early: VecDeque::new(),
            dropped: 0,
            closed: false,
            gaps: 0,
        })
    }

    /// Opens the lost session again, waiting 0.1 s before the first try and twice as long
    /// before each next (5 s at most), for as long as it takes, and subscribes again to every
    /// name. `Err` when the bridge refuses the token (close code 1008), or once
    /// [`close`](Self::close) was called.
    pub async fn reopen(&mut self) -> Result<()> {
        let link = reopened(&self.url, self.token.as_deref(), &|| false).await?;
        self.attach(link)
    }

    /// Where and with which token to open the session again (for a caller that must not hold
    /// the subscriber while it waits: the JavaScript reader).
    #[cfg(feature = "js-subscribe")]
    pub(crate) fn target(&self) -> (String, Option<String>) {
        (self.url.clone(), self.token.clone())
    }

    /// Takes `link`, a session opened again, in place of the lost one and subscribes again to
    /// every name (a command waiting for its answer gets it from there).
    pub(crate) fn attach(&mut self, link: Link) -> Result<()> {
        if self.closed {
            link.close(LinkError::Local(String::from("the subscriber was closed")));
            return Err(Error::Closed);
        }
        self.link = link;
        self.buf.clear();
        self.gaps += 1;
        self.subs.resubscribe()?;
        self.flush()
    }

    /// Sessions lost and opened again so far.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Whether the subscriber has ended for good: [`close`](Self::close)d, or its session
    /// refused by the bridge (see [`reopen`](Self::reopen)).
    pub fn has_ended(&self) -> bool {
        self.closed || refused(&self.link)
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
        self.flush()
    }

    /// Writes the commands queued; with the session lost they wait, and the session opened
    /// again subscribes to every wanted name anyway.
    fn flush(&mut self) -> Result<()> {
        let out = self.subs.poll_output();
        if out.is_empty() || self.link.is_closed() {
            return Ok(());
        }
        self.link.send(out)?;
        let n = out.len();
        self.subs.consume_output(n);
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
            match self.poll_or_reopen().await? {
                Some(r @ (Received::Msg(_) | Received::Gap)) => {
                    if self.early.len() == EARLY_LIMIT {
                        self.early.pop_front();
                        self.dropped += 1;
                    }
                    self.early.push_back(r);
                }
                Some(Received::Answered) => return Ok(()),
                Some(Received::Refused(e)) => return Err(e),
                None if self.closed => return Err(Error::Closed),
                None => arrival(&self.inbox(), None).await,
            }
        }
    }

    /// The next message, or [`Received::Gap`] after the session was lost and opened again;
    /// `Ok(None)` once [`close`](Self::close) was called. `Err` when the session was lost and
    /// the bridge refused to open it again (see [`reopen`](Self::reopen)).
    pub async fn next(&mut self) -> Result<Option<Received>> {
        if let Some(r) = self.early.pop_front() {
            return Ok(Some(r));
        }
        loop {
            match self.poll_or_reopen().await? {
                Some(r @ (Received::Msg(_) | Received::Gap)) => return Ok(Some(r)),
                Some(_) => {}
                None if self.closed => return Ok(None),
                None => arrival(&self.inbox(), None).await,
            }
        }
    }

    /// [`poll`](Self::poll), opening a lost session again ([`Received::Gap`]).
    async fn poll_or_reopen(&mut self) -> Result<Option<Received>> {
        match self.poll() {
            Err(_) if !self.has_ended() => {
                self.reopen().await?;
                Ok(Some(Received::Gap))
            }
            polled => polled,
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

/// Opens a subscriber session at `url` and presents `token`. `Err` holds whether the bridge
/// refused the token (see [`refused`]).
pub(crate) async fn session(
    url: &str,
    token: Option<&str>,
) -> core::result::Result<Link, (Error, bool)> {
    let link = Link::websocket_with(url, SUBSCRIBER_PROTOCOL);
    match login(&link, token).await {
        Ok(()) => Ok(link),
        Err(e) => Err((e, refused(&link))),
    }
}

/// A subscriber session opened again at `url` with `token`, after 0.1 s, then waiting twice as
/// long before each next try (5 s at most), for as long as it takes. `Err` when the bridge
/// refuses the token, or when `closed` says the subscriber was closed meanwhile.
pub(crate) async fn reopened(
    url: &str,
    token: Option<&str>,
    closed: &dyn Fn() -> bool,
) -> Result<Link> {
    let mut wait = REOPEN_FIRST_MS;
    loop {
        sleep(wait).await;
        if closed() {
            return Err(Error::Closed);
        }
        match session(url, token).await {
            Ok(link) => return Ok(link),
            Err((e, true)) => return Err(e),
            Err(_) => wait = (wait * 2).min(REOPEN_MOST_MS),
        }
    }
}

/// Whether the bridge closed `link` refusing its token (close code 1008, policy: expired, or
/// outside its rules): opening the session again would be refused again.
pub(crate) fn refused(link: &Link) -> bool {
    matches!(
        link.inbox().borrow().closed,
        Some(LinkError::Closed { code: 1008, .. })
    )
}

/// Waits `ms` milliseconds (the runtime's `setTimeout`: browsers, workers, Node).
pub(crate) async fn sleep(ms: u32) {
    let timer = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        if let Ok(set) = js_sys::Reflect::get(&global, &JsValue::from_str("setTimeout"))
            && let Ok(set) = set.dyn_into::<js_sys::Function>()
        {
            let _ = set.call2(&global, &resolve, &JsValue::from(ms));
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(timer).await;
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
