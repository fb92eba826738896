//! [`Link`]: the JavaScript side of one connection — a `WebSocket` or any JS duplex — and the
//! state its event handlers share with the transport.
//!
//! JavaScript delivers everything through callbacks (`onmessage`, `onclose`, a duplex's data
//! listener); the transport is a Rust future that must not be re-entered from them. So the
//! handlers only append to an inbox and wake the waiting future; the future takes the
//! messages out and feeds them to the core. Nothing here reads RESP.
//!
//! The handlers are a few lines of JavaScript (`link.js`) that report every event, of a
//! WebSocket or of a duplex, to one Rust closure as `(kind, value, code)`: one closure type
//! and a handful of imports instead of web-sys's per-event closures and setters, which is
//! smaller in both the `.wasm` and its glue.

use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::poll_fn;
use core::task::{Poll, Waker};

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use crate::error::LinkError;

#[wasm_bindgen(module = "/src/link.js")]
extern "C" {
    /// A WebSocket or a JS duplex: both have `send(bytes)` and `close()`.
    type Socket;

    /// Opens a WebSocket to `target` (a URL), or with `duplex` a duplex (`target`: a duplex, or
    /// a function returning one or a promise of one, awaited by JavaScript) and registers its
    /// listeners; reports every event to `on`, a refusal too (event 5).
    #[wasm_bindgen(js_name = openLink)]
    fn open_link(target: &JsValue, on: &JsValue, duplex: bool, protocol: Option<&str>) -> Socket;

    /// Unregisters a WebSocket's handlers.
    #[wasm_bindgen(js_name = unlisten)]
    fn unlisten(ws: &Socket);

    /// Sends bytes (the socket owns the `Uint8Array` it is given).
    #[wasm_bindgen(method, catch)]
    fn send(this: &Socket, data: &Uint8Array) -> Result<(), JsValue>;

    /// Sends a text message (WebSocket only).
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_text(this: &Socket, text: &str) -> Result<(), JsValue>;

    /// Closes the socket; a duplex's `onClose` may or may not be called afterwards.
    #[wasm_bindgen(method, catch)]
    fn close(this: &Socket) -> Result<(), JsValue>;
}

#[cfg(feature = "duplex")]
#[wasm_bindgen]
extern "C" {
    /// A JavaScript duplex: any object with `send(bytes)`, `close()` and
    /// `listen(onData, onClose)` (see the `Duplex` TypeScript interface).
    #[wasm_bindgen(typescript_type = "Duplex")]
    pub type Duplex;
}

/// The kinds of event `link.js` reports (its `on(kind, value, code)` calls).
const OPEN: u32 = 0;
const TEXT: u32 = 1;
const DATA: u32 = 2;
const ERROR: u32 = 3;
const CLOSE: u32 = 4;
const REFUSED: u32 = 5;

/// What the event handlers share with the transport.
#[derive(Default)]
pub(crate) struct Inbox {
    /// Binary messages (or duplex chunks) not taken yet.
    pub(crate) messages: Vec<Vec<u8>>,
    /// The first text message not taken yet: the bridge's `ready`, or its refusal (only the
    /// answer to the token is ever read).
    pub(crate) text: Option<String>,
    /// The socket opened (WebSocket `open`; a duplex is open from the start).
    pub(crate) open: bool,
    /// Why the link ended; once set it stays.
    pub(crate) closed: Option<LinkError>,
    /// An `error` event's message, kept for the `close` event that follows it.
    pub(crate) error: Option<String>,
    /// Binary messages received, for statistics.
    pub(crate) received: u64,
    /// Bytes of `messages`.
    queued: usize,
    waker: Option<Waker>,
}

/// Bytes a link keeps that nothing has taken (a server pushing while no pipeline runs); past
/// this the link ends instead of growing. While a pipeline runs, every message is taken as it
/// arrives.
pub(crate) const INBOX_BUDGET: usize = 64 << 20;

impl Inbox {
    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn push(&mut self, bytes: Vec<u8>) {
        if self.closed.is_some() {
            return;
        }
        self.received += 1;
        self.queued = self.queued.saturating_add(bytes.len());
        if self.queued > INBOX_BUDGET {
            self.messages.clear();
            self.queued = 0;
            self.end(LinkError::Local(
                "more than 64 MiB arrived while no pipeline read it".into(),
            ));
            return;
        }
        self.messages.push(bytes);
        self.wake();
    }

    /// Sets who is woken when something arrives.
    pub(crate) fn set_waker(&mut self, waker: Option<Waker>) {
        self.waker = waker;
    }

    /// Takes the messages received so far.
    pub(crate) fn take_messages(&mut self) -> Vec<Vec<u8>> {
        self.queued = 0;
        core::mem::take(&mut self.messages)
    }

    fn end(&mut self, why: LinkError) {
        if self.closed.is_none() {
            self.closed = Some(why);
        }
        self.wake();
    }
}

/// The event handler: `(kind, value, code)` from `link.js`.
type OnEvent = Closure<dyn FnMut(u32, JsValue, u32)>;

/// One connection's JavaScript side: sends bytes, and collects what arrives in its [`Inbox`].
/// Dropping it closes the socket (and unregisters a WebSocket's handlers).
pub(crate) struct Link {
    socket: Socket,
    /// The handler of a WebSocket, dropped with the link. `None` for a duplex, whose listeners
    /// belong to JavaScript (`Closure::into_js_value`): a duplex may call them after the link
    /// is gone (Node emits `close` later), which must not throw.
    handler: Option<OnEvent>,
    inbox: Rc<RefCell<Inbox>>,
}

impl core::fmt::Debug for Link {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Link")
            .field("closed", &self.inbox.borrow().closed)
            .finish_non_exhaustive()
    }
}

fn message_text(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    js_sys::Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "error".to_string())
}

/// The handler of every event of one link.
fn handler(inbox: &Rc<RefCell<Inbox>>) -> OnEvent {
    let i = inbox.clone();
    Closure::new(move |kind: u32, value: JsValue, code: u32| {
        let mut i = i.borrow_mut();
        match kind {
            OPEN => {
                i.open = true;
                i.wake();
            }
            TEXT => {
                // The bridge's `ready`, or its refusal.
                if i.text.is_none() {
                    i.text = Some(value.as_string().unwrap_or_default());
                }
                i.wake();
            }
            DATA => i.push(value.unchecked_into::<Uint8Array>().to_vec()),
            ERROR => {
                let text = value
                    .as_string()
                    .unwrap_or_else(|| "WebSocket error".to_string());
                if i.open {
                    // A `close` event follows with the code and reason; keep the message.
                    i.error = Some(text);
                } else {
                    // Before `open`, browsers follow with a `close` (code 1006, no reason),
                    // but Node 20's WebSocket fires nothing more and stays CONNECTING: end
                    // here, with the code a browser would report.
                    i.end(LinkError::Closed {
                        code: 1006,
                        reason: String::new(),
                        opened: false,
                        error: Some(text),
                    });
                }
            }
            // The socket could not be made (a bad URL, a page policy), or the duplex opened (its
            // opener threw or rejected, or `listen` threw).
            REFUSED => i.end(LinkError::Refused(value.as_string().unwrap_or_default())),
            // A duplex ended (it has no close code).
            CLOSE if code == 0 => i.end(LinkError::Ended(value.as_string().unwrap_or_default())),
            // A WebSocket closed.
            _ => {
                let why = LinkError::Closed {
                    code: code as u16,
                    reason: value.as_string().unwrap_or_default(),
                    opened: i.open,
                    error: i.error.take(),
                };
                i.end(why);
            }
        }
    })
}

impl Link {
    /// Opens a WebSocket to `url` (binary frames as `ArrayBuffer`s). Returns at once; wait for
    /// [`opened`](Self::opened) (a URL the runtime refuses fails there).
    pub(crate) fn websocket(url: &str) -> Self {
        Self::open(&JsValue::from_str(url), false, None)
    }

    /// Opens a WebSocket to `url` asking for the subprotocol `protocol`.
    pub(crate) fn websocket_with(url: &str, protocol: &str) -> Self {
        Self::open(&JsValue::from_str(url), false, Some(protocol))
    }

    /// Opens a JS duplex: `open` is a duplex, or a function returning one or a promise of one
    /// (awaited by JavaScript). Returns at once; wait for [`opened`](Self::opened), which comes
    /// once the duplex is there and listened to (at once for a duplex or a function returning
    /// one), or fails with its refusal.
    #[cfg(feature = "duplex")]
    pub(crate) fn duplex(open: &JsValue) -> Self {
        Self::open(open, true, None)
    }

    fn open(target: &JsValue, duplex: bool, protocol: Option<&str>) -> Self {
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let on = handler(&inbox);
        let socket = open_link(target, on.as_ref(), duplex, protocol);
        // A duplex's listeners belong to JavaScript: a duplex may call them after the link is
        // gone (Node emits `close` later), which must not throw.
        let handler = match duplex {
            true => {
                let _ = on.into_js_value();
                None
            }
            false => Some(on),
        };
        Self {
            socket,
            handler,
            inbox,
        }
    }

    /// The state shared with the handlers.
    pub(crate) fn inbox(&self) -> &Rc<RefCell<Inbox>> {
        &self.inbox
    }

    /// Sends one binary message (a WebSocket frame, or a duplex write).
    pub(crate) fn send(&self, bytes: &[u8]) -> Result<(), LinkError> {
        if let Some(why) = &self.inbox.borrow().closed {
            return Err(why.clone());
        }
        // A copy: a duplex may keep the bytes after `send` returns (Node buffers writes).
        self.socket
            .send(&Uint8Array::from(bytes))
            .map_err(|e| LinkError::Send(message_text(&e)))
    }

    /// Sends one text message (the bridge's token); WebSocket only.
    pub(crate) fn send_text(&self, text: &str) -> Result<(), LinkError> {
        if self.handler.is_none() {
            return Err(LinkError::Send(
                "a duplex carries no text messages".to_string(),
            ));
        }
        self.socket
            .send_text(text)
            .map_err(|e| LinkError::Send(message_text(&e)))
    }

    /// Closes the link from this side; whatever waits on it fails with `why`.
    pub(crate) fn close(&self, why: LinkError) {
        self.inbox.borrow_mut().end(why);
        let _ = self.socket.close();
    }

    /// Whether the link has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.inbox.borrow().closed.is_some()
    }

    /// Waits until `ready` says the inbox holds what the caller wants (it is asked again after
    /// every event), and returns its answer.
    pub(crate) async fn wait<R>(&self, mut ready: impl FnMut(&mut Inbox) -> Option<R>) -> R {
        poll_fn(|cx| {
            let mut inbox = self.inbox.borrow_mut();
            match ready(&mut inbox) {
                Some(r) => Poll::Ready(r),
                None => {
                    inbox.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Waits for the `open` event (or the close that replaces it).
    pub(crate) async fn opened(&self) -> Result<(), LinkError> {
        self.wait(|i| match (&i.closed, i.open) {
            (Some(why), _) => Some(Err(why.clone())),
            (None, true) => Some(Ok(())),
            (None, false) => None,
        })
        .await
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if self.handler.is_some() {
            // Before the handler is dropped: a later event must not call it.
            unlisten(&self.socket);
            let _ = self.socket.close();
        } else if !self.is_closed() {
            let _ = self.socket.close();
        }
    }
}
