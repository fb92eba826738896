//! [`Connection`]: one WebSocket (or JS duplex) as the core's [`AsyncTransport`], shared by
//! every async function that runs a pipeline on it.
//!
//! The pipelines go through the core's [`Mux`]: each is queued whole after those before it,
//! everything ready goes out in one message (frames of at most [`Options::max_frame`] bytes),
//! and each reply fills its own pipeline's slot, so a page's many promises make one stream of
//! messages. JavaScript runs on one thread, so nobody drives the socket: whichever waiting
//! function runs first hands what arrived to the mux (a reply split across messages waits in
//! the read buffer for the rest), and the mux wakes the functions whose pipelines are done. The
//! link wakes the oldest waiting function when a message comes. A function whose promise is
//! dropped takes its pipeline back, cancelled; its replies are read and dropped.

use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use redpipe_core::mux::{Mux, Slot, Submitted, Ticket};
use redpipe_core::session::{Handshake, Setup};
use redpipe_core::{
    AsyncTransport, DEFAULT_WINDOW, DEFAULT_WINDOW_BYTES, Error, Failure, ReadBuffer, Result,
    VecPipeline,
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

/// Waits for `link` to open and presents `token` (if any) to the bridge, which answers `ready`.
pub(crate) async fn login(link: &Link, token: Option<&str>) -> Result<()> {
    link.opened().await?;
    if let Some(token) = token {
        link.send_text(token)?;
        let answer = link
            .wait(|i| match (i.text.take(), &i.closed) {
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
    Ok(())
}

/// Pipelines a connection holds at most, queued or in flight; past it, callers wait.
const MAX_PIPELINES: usize = 1024;

/// One connection to Redis through a WebSocket relay, or through a JS duplex; an
/// [`AsyncTransport`] for the core's `Pipe` model. Clones share the socket: pipelines run on
/// it from many async functions at once go out back to back, each getting its own replies.
///
/// A close or error of the socket fails every handle still waiting with the reason (the close
/// code and reason reach `execute`'s error); the connection is then unusable, and a
/// [`Connections`](crate::Connections) registry opens a new one for the next pipeline.
#[derive(Clone)]
pub struct Connection {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    link: Link,
    mux: Mux<Sub, Vec<Slot<Sub>>>,
    buf: ReadBuffer<Vec<u8>>,
    out: Vec<u8>,
    /// `Options::max_frame` (at least 1), `window` and `window_bytes`: all a run needs of the
    /// options (a copy of them would clone their strings).
    max_frame: usize,
    window: usize,
    window_bytes: usize,
    /// Callers waiting for room in the mux.
    room: Vec<Waker>,
    /// A send is scheduled for the end of this turn of the event loop.
    flushing: bool,
}

/// A caller's pipeline, and its task to wake when it is done.
struct Sub {
    pipeline: VecPipeline,
    waker: Option<Waker>,
}

impl Submitted for Sub {
    type Out = redpipe_core::ByteBuf;
    type Replies = redpipe_core::ByteBuf;
    type Entries = Vec<redpipe_core::Entry>;

    fn pipeline(&mut self) -> &mut VecPipeline {
        &mut self.pipeline
    }

    fn on_done(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("Connection")
            .field("link", &inner.link)
            .field("mux", &inner.mux)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a WebSocket to `url` (`ws://` or `wss://`), presents the token, runs the setup
    /// commands; fails with the socket's close reason (the bridge refuses a wrong token with
    /// close code 1008).
    pub async fn open(url: &str, options: &Options) -> Result<Self> {
        Self::start(Link::websocket(url), options).await
    }

    /// Runs over a JS duplex (Node `net`, a Workers socket, ...) that talks to Redis directly.
    #[cfg(feature = "duplex")]
    pub async fn open_duplex(duplex: Duplex, options: &Options) -> Result<Self> {
        Self::start(Link::duplex(&duplex), options).await
    }

    /// Presents the token on an opened `link` and runs the setup commands.
    pub(crate) async fn start(link: Link, options: &Options) -> Result<Self> {
        login(&link, options.token.as_deref()).await?;
        let mut mux = Mux::with_capacity(MAX_PIPELINES);
        mux.set_window_bytes(options.window_bytes);
        let c = Self {
            inner: Rc::new(RefCell::new(Inner {
                link,
                mux,
                buf: ReadBuffer::new(Vec::new()),
                out: Vec::new(),
                max_frame: options.max_frame.max(1),
                window: options.window,
                window_bytes: options.window_bytes,
                room: Vec::new(),
                flushing: false,
            })),
        };
        let mut p = VecPipeline::new();
        let handshake = Handshake::queue(&options.setup(), &mut p)?;
        if !handshake.is_empty() {
            c.run(&mut p).await?;
            handshake.check(&p).map_err(Error::from)?;
        }
        Ok(c)
    }

    /// Closes the connection; pipelines waiting on it fail with `reason`.
    pub fn close(&self, reason: &str) {
        let mut inner = self.inner.borrow_mut();
        inner.link.close(LinkError::Local(reason.to_string()));
        inner.receive();
    }

    /// Binary messages received so far (a large pipeline's replies arrive over many).
    pub fn messages_received(&self) -> u64 {
        self.inner.borrow().link.inbox().borrow().received
    }

    /// Whether it can run more pipelines: the socket is open and the stream in step.
    pub fn is_usable(&self) -> bool {
        let inner = self.inner.borrow();
        !inner.link.is_closed() && inner.mux.failure().is_none()
    }

    /// Runs `p` on the socket, after every pipeline queued on it before.
    fn run<'a>(&'a self, p: &'a mut VecPipeline) -> Run<'a> {
        let pipeline = {
            let inner = self.inner.borrow();
            p.set_window(inner.window);
            p.set_window_bytes(inner.window_bytes);
            core::mem::replace(p, VecPipeline::new())
        };
        Run {
            conn: self,
            p,
            stage: Stage::Offered(Sub {
                pipeline,
                waker: None,
            }),
        }
    }

    /// Sends what is ready at the end of this turn of the event loop: the pipelines that every
    /// function queues in the same turn go out in one message.
    fn flush_soon(&self, inner: &mut Inner) {
        if inner.flushing {
            return;
        }
        inner.flushing = true;
        let conn = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mut inner = conn.inner.borrow_mut();
            inner.flushing = false;
            inner.send();
        });
    }
}

impl Inner {
    /// Hands what arrived to the mux (and sends what its replies let go: the rest of a
    /// pipeline larger than its window); a closed link fails every pipeline with its reason.
    fn receive(&mut self) {
        let (messages, closed) = {
            let mut inbox = self.link.inbox().borrow_mut();
            (
                inbox.take_messages(),
                inbox.closed.as_ref().map(LinkError::kind),
            )
        };
        let arrived = !messages.is_empty();
        for m in messages {
            if self.mux.failure().is_some() {
                break;
            }
            // Nothing kept from earlier messages: read the message in place, keep its tail.
            let rest = if self.buf.filled().is_empty() {
                match self.mux.handle_input(&m) {
                    Ok(used) => &m[used..],
                    Err(_) => break,
                }
            } else {
                &m[..]
            };
            if rest.is_empty() {
                continue;
            }
            if let Err(e) = self.buf.extend(rest) {
                self.mux.fail(Failure::Capacity(e));
                break;
            }
            match self.mux.handle_input(self.buf.filled()) {
                Ok(used) => self.buf.consume(used),
                Err(_) => break,
            }
        }
        if let Some(kind) = closed {
            self.mux.fail(Failure::Io(kind));
        }
        if let Some(failure) = self.mux.failure() {
            // The stream is at an unknown position, or gone: this connection is done.
            if !self.link.is_closed() {
                self.link.close(LinkError::Local(match failure {
                    Failure::Protocol(_) => "protocol error".to_string(),
                    _ => "connection failed".to_string(),
                }));
            }
            self.buf.clear();
            return;
        }
        self.buf.shrink();
        if arrived {
            self.send();
        }
    }

    /// Sends everything the mux has ready, in frames of at most `max_frame` bytes.
    fn send(&mut self) {
        if self.mux.failure().is_some() {
            return;
        }
        self.out.clear();
        self.mux.poll_transmit(&mut self.out);
        for chunk in self.out.chunks(self.max_frame) {
            if let Err(why) = self.link.send(chunk) {
                self.link.close(why.clone());
                self.mux.fail(Failure::Io(why.kind()));
                return;
            }
        }
    }

    /// The error a failed pipeline reports: the socket's own when it closed (with its code and
    /// reason), else the failure.
    fn error(&self, failure: Failure) -> Error {
        if let Some(why) = self.link.inbox().borrow().closed.clone()
            && !matches!(failure, Failure::Protocol(_) | Failure::Capacity(_))
        {
            return why.into();
        }
        match failure {
            Failure::Protocol(e) => Error::Protocol(e),
            Failure::Capacity(e) => Error::Capacity(e),
            f => Error::Failed(f),
        }
    }

    /// Points the link's wake-up at the oldest caller still waiting: the one to read for
    /// everyone when a message comes.
    fn watch(&mut self) {
        let waker = self.mux.first_waiting_mut().and_then(|s| s.waker.clone());
        self.link.inbox().borrow_mut().set_waker(waker);
    }

    /// A pipeline was taken back: room for the callers waiting for it.
    fn freed(&mut self) {
        for w in self.room.drain(..) {
            w.wake();
        }
    }
}

/// A pipeline's run on a connection: one future (one copy of its code, however many callers
/// await it) that queues the pipeline, waiting while the mux is full, then waits for it;
/// dropped early, it takes the pipeline back, cancelled.
struct Run<'a> {
    conn: &'a Connection,
    p: &'a mut VecPipeline,
    stage: Stage,
}

// The pipeline is held by value until it is queued: boxing it would cost an allocation per run.
#[allow(clippy::large_enum_variant)]
enum Stage {
    /// Not queued yet: the mux was full.
    Offered(Sub),
    Queued(Ticket),
    Done,
}

impl Future for Run<'_> {
    type Output = Result<()>;

    #[inline(never)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        let mut inner = this.conn.inner.borrow_mut();
        inner.receive();
        if let Stage::Offered(_) = this.stage {
            let Stage::Offered(sub) = core::mem::replace(&mut this.stage, Stage::Done) else {
                return Poll::Ready(Err(Error::Closed));
            };
            if let Some(failure) = inner.mux.failure() {
                *this.p = sub.pipeline;
                this.p.fail(failure);
                return Poll::Ready(Err(inner.error(failure)));
            }
            match inner.mux.try_submit(sub) {
                Ok(ticket) => {
                    this.stage = Stage::Queued(ticket);
                    this.conn.flush_soon(&mut inner);
                }
                Err(full) => {
                    this.stage = Stage::Offered(full);
                    inner.room.push(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        }
        let Stage::Queued(ticket) = this.stage else {
            return Poll::Ready(Err(Error::Closed));
        };
        if inner.mux.is_done(ticket) {
            this.stage = Stage::Done;
            let sub = inner.mux.take(ticket);
            inner.freed();
            inner.watch();
            let Some(sub) = sub else {
                return Poll::Ready(Err(Error::Closed));
            };
            *this.p = sub.pipeline;
            return Poll::Ready(match this.p.failure() {
                None => Ok(()),
                Some(f) => Err(inner.error(f)),
            });
        }
        if let Some(sub) = inner.mux.submission_mut(ticket) {
            match &sub.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => sub.waker = Some(cx.waker().clone()),
            }
        }
        inner.watch();
        Poll::Pending
    }
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        let back = match core::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Done => return,
            Stage::Offered(sub) => Some(sub),
            Stage::Queued(ticket) => {
                let mut inner = self.conn.inner.borrow_mut();
                let back = inner.mux.abandon(ticket);
                inner.freed();
                inner.watch();
                back
            }
        };
        if let Some(sub) = back {
            *self.p = sub.pipeline;
        }
        if !self.p.is_done() {
            self.p.fail(Failure::Cancelled);
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
