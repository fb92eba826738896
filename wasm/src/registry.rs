//! [`Connections`]: named connections, the [`AsyncBackend`] a wasm [`Pipe`](crate::Pipe) runs
//! on.
//!
//! One shared socket per name. JavaScript runs many async functions at once on one thread, and
//! each may execute a pipeline on the same name: they all go on the name's socket, each queued
//! whole after those before it (see [`Connection`]), so a page's concurrent requests share
//! its messages instead of waiting for one another's round trips. A pipeline that needs a
//! connection of its own (`WATCH`, a blocking command, `SELECT`...: see
//! [`Sharing`](redpipe_core::mux::Sharing)) opens one for its run. Groups of different names run
//! concurrently. A socket that closed or failed is replaced on the next pipeline.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Poll, Waker};

use redpipe_core::{AsyncBackend, Error, Group, Result};

use crate::connection::{Connection, Options};
use crate::link::Link;

/// Counters of one named connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Pipelines run (each a round trip up to the window size).
    pub pipelines: u64,
    /// Sockets opened.
    pub connects: u64,
    /// Binary messages received, over every socket of the name (a large pipeline's replies
    /// arrive over many).
    pub messages: u64,
}

/// Where a name's sockets come from.
enum Endpoint {
    /// A WebSocket URL.
    Url(String),
    /// A JavaScript function returning a `Duplex` (or a promise of one).
    #[cfg(feature = "duplex")]
    Duplex(js_sys::Function),
}

/// One name: how to open its sockets, and the shared one.
struct Entry {
    endpoint: Endpoint,
    options: Options,
    /// The shared socket, once opened.
    shared: RefCell<Option<Connection>>,
    /// A shared socket is being opened: the others wait for it.
    opening: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
    stats: Cell<Stats>,
    /// Messages received by the sockets no longer in use.
    messages_before: Cell<u64>,
}

impl Entry {
    fn count(&self, f: impl FnOnce(&mut Stats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    async fn open(&self) -> Result<Connection> {
        self.count(|s| s.connects += 1);
        let link = match &self.endpoint {
            Endpoint::Url(url) => Link::websocket(url),
            #[cfg(feature = "duplex")]
            Endpoint::Duplex(open) => Link::duplex(open),
        };
        Connection::start(link, &self.options).await
    }

    /// The shared socket: the open one, or a new one in its place (one opens while the other
    /// callers wait for it).
    async fn shared(self: Rc<Self>) -> Result<Connection> {
        loop {
            let current = self.shared.borrow().clone();
            match current {
                Some(c) if c.is_usable() => return Ok(c),
                Some(c) => {
                    self.retire(&c);
                    *self.shared.borrow_mut() = None;
                }
                None => {}
            }
            if !self.opening.get() {
                let opening = Opening(&self);
                self.opening.set(true);
                let opened = self.open().await;
                drop(opening);
                let c = opened?;
                *self.shared.borrow_mut() = Some(c.clone());
                return Ok(c);
            }
            poll_fn(|cx| {
                if self.opening.get() {
                    self.waiters.borrow_mut().push(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
        }
    }

    /// The socket for a pipeline: the shared one, or a new one of its own (closed once the
    /// pipeline is done with it).
    async fn connection(self: Rc<Self>, shareable: bool) -> Result<Connection> {
        match shareable {
            true => self.shared().await,
            false => self.open().await,
        }
    }

    /// Counts the messages of a socket that is no longer used.
    fn retire(&self, c: &Connection) {
        let before = self.messages_before.get();
        self.messages_before.set(before + c.messages_received());
    }

    fn messages(&self) -> u64 {
        let live = self
            .shared
            .borrow()
            .as_ref()
            .map_or(0, Connection::messages_received);
        self.messages_before.get() + live
    }
}

/// A name's socket, held by one pipeline; given back (if still usable) when dropped, and the
/// next pipeline waiting for the name is woken.
/// A shared socket being opened; when done, or given up, the callers waiting for it look
/// again.
struct Opening<'e>(&'e Entry);

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        self.0.opening.set(false);
        for w in self.0.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }
}

/// A registry of named connections (WebSocket URLs or JS duplexes); the [`AsyncBackend`] of
/// [`Pipe`](crate::Pipe). Cheap to clone; clones share the registry. Single-threaded, as
/// JavaScript is.
#[derive(Clone, Default)]
pub struct Connections {
    names: Rc<RefCell<Names>>,
}

/// The registered names, in registration order (a handful: a list beats a map in code size).
type Names = Vec<(String, Rc<Entry>)>;

impl core::fmt::Debug for Connections {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names: Vec<String> = self.names.borrow().iter().map(|(n, _)| n.clone()).collect();
        f.debug_struct("Connections")
            .field("names", &names)
            .finish()
    }
}

impl Connections {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn entry(&self, name: &str) -> Option<Rc<Entry>> {
        self.names
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.clone())
    }

    fn add(&self, name: &str, endpoint: Endpoint, options: Options) -> Result<Rc<Entry>> {
        if self.entry(name).is_some() {
            return Err(Error::AlreadyConnected(name.to_string()));
        }
        let entry = Rc::new(Entry {
            endpoint,
            options,
            shared: RefCell::new(None),
            opening: Cell::new(false),
            waiters: RefCell::new(Vec::new()),
            stats: Cell::new(Stats::default()),
            messages_before: Cell::new(0),
        });
        self.names
            .borrow_mut()
            .push((name.to_string(), entry.clone()));
        Ok(entry)
    }

    /// Registers the connection `name` (`""` is the default) to a WebSocket `url` and opens it
    /// now, so that a wrong URL or token fails here. A name in use is
    /// [`Error::AlreadyConnected`].
    pub async fn connect(&self, name: &str, url: &str, options: Options) -> Result<()> {
        let entry = self.add(name, Endpoint::Url(url.to_string()), options)?;
        self.warm(name, entry).await
    }

    /// Registers the connection `name` over JS duplexes: `open()` returns a `Duplex` (or a
    /// promise of one) each time a socket is needed, and one is opened now.
    #[cfg(feature = "duplex")]
    pub async fn connect_duplex(
        &self,
        name: &str,
        open: js_sys::Function,
        options: Options,
    ) -> Result<()> {
        let entry = self.add(name, Endpoint::Duplex(open), options)?;
        self.warm(name, entry).await
    }

    async fn warm(&self, name: &str, entry: Rc<Entry>) -> Result<()> {
        match entry.clone().shared().await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.disconnect(name);
                Err(e)
            }
        }
    }

    /// Forgets `name`; its socket closes once the pipelines running on it are done.
    /// Returns whether the name was registered.
    pub fn disconnect(&self, name: &str) -> bool {
        let mut names = self.names.borrow_mut();
        let Some(i) = names.iter().position(|(n, _)| n == name) else {
            return false;
        };
        let (_, entry) = names.remove(i);
        drop(entry.shared.borrow_mut().take());
        true
    }

    /// Closes every connection and forgets every name.
    pub fn close(&self) {
        let names: Vec<String> = self.names.borrow().iter().map(|(n, _)| n.clone()).collect();
        for n in names {
            self.disconnect(&n);
        }
    }

    /// Counters of the connection `name`.
    pub fn stats(&self, name: &str) -> Option<Stats> {
        self.entry(name).map(|e| {
            let mut s = e.stats.get();
            s.messages = e.messages();
            s
        })
    }

    /// A new, empty pipe on this registry.
    pub fn pipe(&self) -> crate::Pipe {
        crate::Pipe::with_backend(self.clone())
    }
}

/// Runs the groups concurrently, one socket per name; each name's pipelines queue for its
/// socket.
impl AsyncBackend for Connections {
    async fn run_async(&self, groups: &mut [Group]) -> Result<()> {
        let mut first = Ok(());
        for g in groups.iter_mut().filter(|g| !g.is_empty()) {
            if self.entry(g.name()).is_none() {
                let e = g.fail_unknown();
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first?;
        let mut runs: Vec<Run<'_>> = Vec::new();
        for g in groups.iter_mut().filter(|g| !g.is_empty()) {
            let Some(entry) = self.entry(g.name()) else {
                continue;
            };
            runs.push(Run::Running(Box::pin(async move {
                entry.count(|s| s.pipelines += 1);
                let (window, bytes) = (entry.options.window, entry.options.window_bytes);
                let shareable = g.pipeline().shares_connection(window, bytes);
                let done = |c: Connection| {
                    if !shareable {
                        entry.retire(&c); // closed as it is dropped
                    }
                };
                g.run_async(|| entry.clone().connection(shareable), done)
                    .await
            })));
        }
        join_all(runs).await
    }
}

/// One group's run: boxed so that groups of different names run side by side, then its result.
enum Run<'g> {
    Running(Pin<Box<dyn Future<Output = Result<()>> + 'g>>),
    Done(Result<()>),
}

/// Polls every run until all are done; returns the first error (in group order).
async fn join_all(mut runs: Vec<Run<'_>>) -> Result<()> {
    poll_fn(|cx| {
        let mut pending = false;
        for run in &mut runs {
            if let Run::Running(f) = run {
                match f.as_mut().poll(cx) {
                    Poll::Ready(r) => *run = Run::Done(r),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    for run in runs {
        if let Run::Done(r) = run {
            r?;
        }
    }
    Ok(())
}
