//! [`Link`]: the JavaScript side of one connection — a `WebSocket` or any JS duplex — and the
//! state its event handlers share with the transport.
//!
//! JavaScript delivers everything through callbacks (`onmessage`, `onclose`, a duplex's data
//! listener); the transport is a Rust future that must not be re-entered from them. So the
//! handlers only append to an inbox and wake the waiting future; the future takes the
//! messages out and feeds them to the core. Nothing here reads RESP.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::poll_fn;
use core::task::{Poll, Waker};

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::error::LinkError;

#[cfg(feature = "duplex")]
#[wasm_bindgen]
extern "C" {
    /// A JavaScript duplex: any object with `send(bytes)`, `close()` and
    /// `listen(onData, onClose)` (see the `Duplex` TypeScript interface).
    #[wasm_bindgen(typescript_type = "Duplex")]
    pub type Duplex;

    /// Sends bytes (the duplex owns the `Uint8Array` it is given).
    #[wasm_bindgen(method, catch)]
    fn send(this: &Duplex, data: &Uint8Array) -> Result<(), JsValue>;

    /// Closes the duplex; its `onClose` may or may not be called afterwards.
    #[wasm_bindgen(method, catch)]
    fn close(this: &Duplex) -> Result<(), JsValue>;

    /// Registers the functions the duplex calls when bytes arrive and when it closes.
    #[wasm_bindgen(method, catch)]
    fn listen(
        this: &Duplex,
        on_data: &js_sys::Function,
        on_close: &js_sys::Function,
    ) -> Result<(), JsValue>;
}

/// What the event handlers share with the transport.
#[derive(Default)]
pub(crate) struct Inbox {
    /// Binary messages (or duplex chunks) not taken yet.
    pub(crate) messages: VecDeque<Vec<u8>>,
    /// Text messages not taken yet: the bridge's `ready`, or its refusal.
    pub(crate) texts: VecDeque<String>,
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
        self.messages.push_back(bytes);
        self.wake();
    }

    /// Takes the messages received so far.
    /// Sets who is woken when something arrives.
    pub(crate) fn set_waker(&mut self, waker: Option<Waker>) {
        self.waker = waker;
    }

    pub(crate) fn take_messages(&mut self) -> VecDeque<Vec<u8>> {
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

/// The JavaScript object and the handlers registered on it (kept alive as long as the link).
enum Io {
    Socket {
        ws: WebSocket,
        _handlers: SocketHandlers,
    },
    /// The duplex's listeners belong to JavaScript (`Closure::into_js_value`): a duplex may
    /// call them after the link is gone (Node emits `close` later), which must not throw.
    #[cfg(feature = "duplex")]
    Duplex { duplex: Duplex },
}

struct SocketHandlers {
    _open: Closure<dyn FnMut()>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
    _error: Closure<dyn FnMut(JsValue)>,
}

/// One connection's JavaScript side: sends bytes, and collects what arrives in its [`Inbox`].
/// Dropping it closes the socket and unregisters the handlers.
pub(crate) struct Link {
    io: Io,
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

impl Link {
    /// Opens a WebSocket to `url` (binary frames as `ArrayBuffer`s). Returns at once; wait for
    /// [`opened`](Self::opened).
    pub(crate) fn websocket(url: &str) -> Result<Self, LinkError> {
        let ws = WebSocket::new(url).map_err(|e| LinkError::Refused(message_text(&e)))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let i = inbox.clone();
        let open = Closure::<dyn FnMut()>::new(move || {
            let mut i = i.borrow_mut();
            i.open = true;
            i.wake();
        });
        let i = inbox.clone();
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            let mut i = i.borrow_mut();
            if let Some(text) = data.as_string() {
                i.texts.push_back(text);
                i.wake();
            } else if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
                i.push(Uint8Array::new(buf).to_vec());
            }
        });
        let i = inbox.clone();
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            let mut i = i.borrow_mut();
            let why = LinkError::Closed {
                code: e.code(),
                reason: e.reason(),
                opened: i.open,
                error: i.error.take(),
            };
            i.end(why);
        });
        let i = inbox.clone();
        let error = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            // A `close` event follows with the code and reason; keep the message for it.
            let text = js_sys::Reflect::get(&e, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string());
            i.borrow_mut().error = Some(text.unwrap_or_else(|| "WebSocket error".to_string()));
        });
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(error.as_ref().unchecked_ref()));
        Ok(Self {
            io: Io::Socket {
                ws,
                _handlers: SocketHandlers {
                    _open: open,
                    _message: message,
                    _close: close,
                    _error: error,
                },
            },
            inbox,
        })
    }

    /// Wraps a JS duplex and registers its listeners; it counts as open at once.
    #[cfg(feature = "duplex")]
    pub(crate) fn duplex(duplex: Duplex) -> Result<Self, LinkError> {
        let inbox = Rc::new(RefCell::new(Inbox {
            open: true,
            ..Inbox::default()
        }));
        let i = inbox.clone();
        let on_data = Closure::<dyn FnMut(Uint8Array)>::new(move |data: Uint8Array| {
            i.borrow_mut().push(data.to_vec());
        });
        let i = inbox.clone();
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |reason: JsValue| {
            let reason = if reason.is_undefined() || reason.is_null() {
                String::new()
            } else {
                message_text(&reason)
            };
            i.borrow_mut().end(LinkError::Ended(reason));
        });
        let (on_data, on_close) = (on_data.into_js_value(), on_close.into_js_value());
        duplex
            .listen(on_data.unchecked_ref(), on_close.unchecked_ref())
            .map_err(|e| LinkError::Refused(message_text(&e)))?;
        Ok(Self {
            io: Io::Duplex { duplex },
            inbox,
        })
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
        let sent = match &self.io {
            Io::Socket { ws, .. } => ws.send_with_u8_array(bytes),
            // A copy: the duplex may keep the bytes after `send` returns (Node buffers writes).
            #[cfg(feature = "duplex")]
            Io::Duplex { duplex, .. } => duplex.send(&Uint8Array::from(bytes)),
        };
        sent.map_err(|e| LinkError::Send(message_text(&e)))
    }

    /// Sends one text message (the bridge's token); WebSocket only.
    pub(crate) fn send_text(&self, text: &str) -> Result<(), LinkError> {
        match &self.io {
            Io::Socket { ws, .. } => ws
                .send_with_str(text)
                .map_err(|e| LinkError::Send(message_text(&e))),
            #[cfg(feature = "duplex")]
            Io::Duplex { .. } => Err(LinkError::Send(
                "a duplex carries no text messages".to_string(),
            )),
        }
    }

    /// Closes the link from this side; whatever waits on it fails with `why`.
    pub(crate) fn close(&self, why: LinkError) {
        self.inbox.borrow_mut().end(why);
        let _ = match &self.io {
            Io::Socket { ws, .. } => ws.close(),
            #[cfg(feature = "duplex")]
            Io::Duplex { duplex, .. } => duplex.close(),
        };
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
        match &self.io {
            Io::Socket { ws, .. } => {
                ws.set_onopen(None);
                ws.set_onmessage(None);
                ws.set_onclose(None);
                ws.set_onerror(None);
                let _ = ws.close();
            }
            #[cfg(feature = "duplex")]
            Io::Duplex { duplex, .. } => {
                if !self.is_closed() {
                    let _ = duplex.close();
                }
            }
        }
    }
}
