//! JavaScript errors: every failure reaches JavaScript as an `Error` whose `name` says what
//! kind it is, so that `catch` blocks can tell them apart without parsing messages.
//!
//! - `RedisError`: the server answered with an error (`code` holds `ERR`, `WRONGTYPE`,
//!   `NOPERM`...; `message` the whole text).
//! - `ConnectionError`: the connection failed or closed (the message carries the close code
//!   and reason), so a command got no reply.
//! - `Error`: misuse (a result read before `execute`, a pipeline used while it executes).

use alloc::string::ToString;

use js_sys::Reflect;
use redpipe_core::{Error, ServerError};
use wasm_bindgen::JsValue;

fn named(name: &str, message: &str) -> js_sys::Error {
    let e = js_sys::Error::new(message);
    e.set_name(name);
    e
}

/// A `RedisError` for the server's error reply.
pub(crate) fn redis_error(e: &ServerError<'_>) -> JsValue {
    let err = named("RedisError", &e.to_string());
    let _ = Reflect::set(&err, &"code".into(), &e.code().into());
    err.into()
}

/// A `ConnectionError` with `message`.
pub(crate) fn connection_error(message: &str) -> JsValue {
    named("ConnectionError", message).into()
}

/// A plain `Error`.
pub(crate) fn plain_error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// The JavaScript error for one of the core's errors.
pub(crate) fn to_js_error(e: &Error) -> JsValue {
    match e {
        Error::Server(s) | Error::Unsolicited(s) => redis_error(s),
        Error::Handshake { error, .. } => redis_error(error),
        Error::Io(_) | Error::Closed | Error::Protocol(_) | Error::Failed(_) => {
            connection_error(&e.to_string())
        }
        other => plain_error(&other.to_string()),
    }
}
