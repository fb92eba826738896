//! JavaScript errors: every failure reaches JavaScript as an `Error` whose `name` says what
//! kind it is, so that `catch` blocks can tell them apart without parsing messages.
//!
//! - `RedisError`: the server answered with an error (`code` holds `ERR`, `WRONGTYPE`,
//!   `NOPERM`...; `message` the whole text, invalid UTF-8 replaced).
//! - `ConnectionError`: the connection failed or closed, so a command got no reply; after a
//!   WebSocket close, `code` and `reason` hold the close code and reason (also in the message).
//! - `Error`: misuse (a result read before `execute`, a pipeline used while it executes).

use alloc::string::String;
use core::fmt;

use js_sys::Reflect;
use redpipe_core::{Error, MessageSink, ServerError};
use wasm_bindgen::prelude::*;

use crate::error::LinkError;

fn named(name: &str, message: &str) -> js_sys::Error {
    let e = js_sys::Error::new(message);
    e.set_name(name);
    e
}

#[wasm_bindgen(module = "/src/js/values.js")]
extern "C" {
    /// A `RedisError` for an error reply's text, with its `code` (built in JavaScript: its
    /// decoder and a regular expression instead of Rust's lossy UTF-8 and `ServerError::code`).
    #[wasm_bindgen(js_name = redisError)]
    fn redis_error_from(text: &[u8]) -> JsValue;
}

/// A `RedisError` for the server's error reply.
pub(crate) fn redis_error(e: &ServerError<'_>) -> JsValue {
    redis_error_from(e.text())
}

/// A `ConnectionError` with `message`.
pub(crate) fn connection_error(message: &str) -> JsValue {
    named("ConnectionError", message).into()
}

/// A plain `Error`.
pub(crate) fn plain_error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// An error's message, written without `core::fmt` (no `ToString`: a `Formatter` over a
/// `String` links `core::fmt::write`). The source of an I/O error is a [`LinkError`] here.
struct Message(String);

impl MessageSink for Message {
    // One copy: every piece of every message goes through it.
    #[inline(never)]
    fn piece(&mut self, piece: &str) -> fmt::Result {
        self.0.push_str(piece);
        Ok(())
    }

    fn source(
        &mut self,
        source: &(dyn core::error::Error + Send + Sync + 'static),
    ) -> Option<fmt::Result> {
        Some(source.downcast_ref::<LinkError>()?.write_message(self))
    }
}

/// What `Display` shows for `e`.
pub(crate) fn message(e: &Error) -> String {
    let mut m = Message(String::new());
    let _ = e.write_message(&mut m);
    m.0
}

/// The JavaScript error for one of the core's errors. A WebSocket's close gives its
/// `ConnectionError` the fields `code` and `reason` (the bridge says why it refused a token or
/// an origin there), so that a page can tell a refusal from a bridge that is down (1006).
pub(crate) fn to_js_error(e: &Error) -> JsValue {
    match e {
        Error::Server(s) | Error::Unsolicited(s) => redis_error(s),
        Error::Handshake { error, .. } => redis_error(error),
        Error::Io(io) => {
            let err = connection_error(&message(e));
            if let Some(LinkError::Closed { code, reason, .. }) =
                io.get_ref().and_then(|s| s.downcast_ref::<LinkError>())
            {
                let _ = Reflect::set(&err, &"code".into(), &(*code).into());
                let _ = Reflect::set(&err, &"reason".into(), &reason.into());
            }
            err
        }
        Error::Closed | Error::Protocol(_) | Error::Failed(_) => connection_error(&message(e)),
        other => plain_error(&message(other)),
    }
}
