//! [`Connection`]: one WebSocket (or JS duplex) as the core's [`AsyncTransport`].
//!
//! A WebSocket delivers whole messages, not a stream: each one goes to the core with
//! [`ReadBuffer::feed`], which keeps a reply split across messages until the rest arrives. The
//! connection rules are the core's [`Session`]: one pipeline at a time, none after a failure,
//! none when bytes nobody asked for arrived between pipelines. The transport itself only moves
//! bytes: it sends what [`Pipeline::poll_output`](redpipe_core::Pipeline::poll_output) offers
//! (in frames of at most [`Options::max_frame`] bytes) and feeds what arrives.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use redpipe_core::session::{Handshake, Session, Setup};
use redpipe_core::{
    AsyncTransport, DEFAULT_WINDOW, DEFAULT_WINDOW_BYTES, Error, Failure, ReadBuffer, Result,
    Unsolicited, VecPipeline, unsolicited,
};

use crate::error::LinkError;
#[cfg(feature = "duplex")]
use crate::link::Duplex;
use crate::link::Link;

/// How to open and run a connection. `Default` is a plain socket: no token, no setup commands,
/// 64 KiB frames, the core's default windows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The bridge's token, sent as the first (text) message; the bridge answers `ready`. `None`
    /// for a relay without tokens (websockify) or a duplex straight to Redis.
    pub token: Option<String>,
    /// ACL user for `AUTH`/`HELLO` on each new connection (relays and duplexes to Redis; the
    /// bridge authenticates by itself).
    pub username: Option<String>,
    /// Password for `AUTH`.
    pub password: Option<String>,
    /// Database to `SELECT`, unless 0.
    pub db: u32,
    /// Speak RESP3 (`HELLO 3`).
    pub resp3: bool,
    /// `CLIENT SETNAME`.
    pub client_name: Option<String>,
    /// Largest message sent, in bytes; a pipeline's output goes out in frames of at most this
    /// size (a command may span frames: relays carry a byte stream). Keep it under the
    /// bridge's frame limit.
    pub max_frame: usize,
    /// Commands in flight at once (see `Pipeline::set_window`).
    pub window: usize,
    /// Bytes of commands and expected replies in flight at once (see
    /// `Pipeline::set_window_bytes`).
    pub window_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            token: None,
            username: None,
            password: None,
            db: 0,
            resp3: false,
            client_name: None,
            max_frame: 64 * 1024,
            window: DEFAULT_WINDOW,
            window_bytes: DEFAULT_WINDOW_BYTES,
        }
    }
}

impl Options {
    /// Default options with the bridge's `token`.
    pub fn token(token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..Self::default()
        }
    }

    fn setup(&self) -> Setup<'_> {
        Setup {
            resp3: self.resp3,
            username: self.username.as_deref(),
            password: self.password.as_deref(),
            client_name: self.client_name.as_deref(),
            db: self.db,
        }
    }
}

/// One connection to Redis through a WebSocket relay, or through a JS duplex; an
/// [`AsyncTransport`] for the core's `Pipe` model.
///
/// A close or error of the socket fails every handle still waiting with the reason (the close
/// code and reason reach `execute`'s error); the connection is then unusable, and a
/// [`Connections`](crate::Connections) registry opens a new one for the next pipeline.
pub struct Connection {
    link: Link,
    session: Session,
    buf: ReadBuffer<Vec<u8>>,
    options: Options,
    /// The mean reply size of the last pipeline, for the next one's byte window.
    reply_estimate: Option<usize>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("link", &self.link)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a WebSocket to `url` (`ws://` or `wss://`), presents the token, runs the setup
    /// commands; fails with the socket's close reason (the bridge refuses a wrong token with
    /// close code 1008).
    pub async fn open(url: &str, options: &Options) -> Result<Self> {
        Self::start(Link::websocket(url)?, options).await
    }

    /// Runs over a JS duplex (Node `net`, a Workers socket, ...) that talks to Redis directly.
    #[cfg(feature = "duplex")]
    pub async fn open_duplex(duplex: Duplex, options: &Options) -> Result<Self> {
        Self::start(Link::duplex(duplex)?, options).await
    }

    async fn start(link: Link, options: &Options) -> Result<Self> {
        link.opened().await?;
        if let Some(token) = &options.token {
            link.send_text(token)?;
            let answer = link
                .wait(|i| match (i.texts.pop_front(), &i.closed) {
                    (Some(text), _) => Some(Ok(text)),
                    (None, Some(why)) => Some(Err(why.clone())),
                    (None, None) => None,
                })
                .await?;
            if answer != "ready" {
                let why =
                    LinkError::Local(["the relay answered '", &answer, "' to the token"].concat());
                link.close(why.clone());
                return Err(why.into());
            }
        }
        let mut c = Self {
            link,
            session: Session::new(),
            buf: ReadBuffer::new(Vec::new()),
            options: options.clone(),
            reply_estimate: None,
        };
        let mut p = VecPipeline::new();
        let handshake = Handshake::queue(&options.setup(), &mut p)?;
        if !handshake.is_empty() {
            c.run(&mut p).await?;
            handshake.check(&p).map_err(Error::from)?;
        }
        Ok(c)
    }

    /// Closes the connection; a pipeline waiting on it fails with `reason`.
    pub fn close(&self, reason: &str) {
        self.link.close(LinkError::Local(reason.to_string()));
    }

    /// Binary messages received so far (a large pipeline's replies arrive over many).
    pub fn messages_received(&self) -> u64 {
        self.link.inbox().borrow().received
    }

    /// Whether it can run another pipeline: open, and clean by the session rules.
    pub fn is_usable(&self) -> bool {
        self.session.is_clean() && !self.link.is_closed()
    }

    /// Moves the messages that arrived while no pipeline ran into the read buffer.
    fn take_idle_messages(&mut self) -> Result<()> {
        let messages = self.link.inbox().borrow_mut().take_messages();
        for m in messages {
            self.buf.extend(&m)?;
        }
        Ok(())
    }

    /// Sends everything the pipeline's window offers now.
    fn flush(&mut self, p: &mut VecPipeline) -> core::result::Result<(), LinkError> {
        loop {
            let out = p.poll_output();
            let n = out.len().min(self.options.max_frame.max(1));
            if n > 0 {
                self.link.send(&out[..n])?;
            }
            p.consume_output(n);
            if n == 0 {
                return Ok(());
            }
        }
    }

    /// Fails `p` and the connection with `why`.
    fn lost(&mut self, p: &mut VecPipeline, why: LinkError) -> Error {
        self.session.set_broken();
        p.fail(Failure::Io(why.kind()));
        self.link.close(why.clone());
        why.into()
    }

    /// Runs `p`: the session checks, then send and feed until every slot is resolved.
    async fn run(&mut self, p: &mut VecPipeline) -> Result<()> {
        p.set_window(self.options.window);
        p.set_window_bytes(self.options.window_bytes);
        if let Some(bytes) = self.reply_estimate {
            p.set_reply_estimate(bytes);
        }
        if self.session.is_idle() {
            // What arrived since the last pipeline; a push still arriving is read whole first,
            // so that the session can tell it from a stray reply.
            loop {
                if let Err(e) = self.take_idle_messages() {
                    self.session.set_broken();
                    p.fail(e.failure());
                    return Err(e);
                }
                let (left, _, _) = unsolicited(self.buf.filled(), p.limits());
                if left != Unsolicited::Partial {
                    break;
                }
                let more = self
                    .link
                    .wait(|i| match (&i.closed, i.messages.is_empty()) {
                        (_, false) => Some(Ok(())),
                        (Some(why), true) => Some(Err(why.clone())),
                        (None, true) => None,
                    })
                    .await;
                if let Err(why) = more {
                    return Err(self.lost(p, why));
                }
            }
        }
        self.session.before_send(p, &mut self.buf)?;
        let sent = self.flush(p);
        self.session.sent(sent.is_ok());
        if let Err(why) = sent {
            return Err(self.lost(p, why));
        }
        self.session.before_finish(p)?;
        let result = self.finish(p).await;
        self.session.finished(p, result.is_ok());
        self.reply_estimate = Some(p.reply_estimate());
        self.buf.shrink();
        result
    }

    /// Feeds every message to `p` as it arrives, sending more as the window opens.
    async fn finish(&mut self, p: &mut VecPipeline) -> Result<()> {
        loop {
            if let Err(why) = self.flush(p) {
                return Err(self.lost(p, why));
            }
            if p.is_done() {
                return Ok(());
            }
            let batch = self
                .link
                .wait(|i| match (&i.closed, i.messages.is_empty()) {
                    (_, false) => Some(Ok(i.take_messages())),
                    (Some(why), true) => Some(Err(why.clone())),
                    (None, true) => None,
                })
                .await;
            let messages = match batch {
                Ok(messages) => messages,
                Err(why) => return Err(self.lost(p, why)),
            };
            for m in messages {
                if let Err(failure) = self.buf.feed(p, &m) {
                    // The stream is at an unknown position: this connection is done.
                    self.link
                        .close(LinkError::Local("protocol error".to_string()));
                    return Err(match failure {
                        Failure::Protocol(e) => Error::Protocol(e),
                        Failure::Capacity(e) => Error::Capacity(e),
                        f => Error::Failed(f),
                    });
                }
            }
        }
    }
}

impl AsyncTransport for Connection {
    async fn run_async(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.run(p).await
    }

    fn is_usable(&self) -> bool {
        Connection::is_usable(self)
    }
}
