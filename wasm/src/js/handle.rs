//! [`Handle`]: a command's (or callback's) result as JavaScript sees it, and the conversion of
//! replies to JavaScript values.
//!
//! Replies stay raw in the core until read (one storage for every type); a handle converts its
//! reply when `result` is read, so a pipeline of ten thousand commands costs ten thousand small
//! objects only if JavaScript reads them all.

use alloc::rc::Rc;
use core::cell::RefCell;

use js_sys::{Array, Object, Reflect, Uint8Array};
use redpipe_core::{Aggregate, Error, Failure, Reply, SlotError};
use wasm_bindgen::prelude::*;

use super::error::{connection_error, message, plain_error, redis_error};

/// How a command's reply reads in JavaScript, beyond the generic conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conv {
    /// The generic conversion (see [`to_js`]).
    Auto,
    /// An integer reply read as a boolean (`EXPIRE`, `SISMEMBER`, `HSETNX`...).
    Bool,
    /// A number sent as text (`INCRBYFLOAT`, `ZSCORE`): a JavaScript number, or null.
    Float,
    /// Field/value pairs (`HGETALL`: a RESP2 array or a RESP3 map) as a plain object.
    Object,
}

/// The outcome of one `execute`, shared by the handles queued for it: the `ConnectionError`
/// that `execute` rejected with, which a handle whose command got no reply throws too (with the
/// socket's close code and reason, say).
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub(crate) error: RefCell<Option<JsValue>>,
}

impl Run {
    /// The error of a command (or callback) that got no reply: `execute`'s, or else one for
    /// `failure` (`None`: the callback's pipeline failed). No `&dyn Display` here: a string's
    /// `Display` links the formatter's padding into the `.wasm`.
    fn failure(&self, failure: Option<Failure>) -> JsValue {
        match &*self.error.borrow() {
            Some(e) => e.clone(),
            None => connection_error(&match failure {
                Some(f) => message(&Error::Failed(f)),
                None => "the pipeline failed".into(),
            }),
        }
    }
}

/// What a callback's handle holds.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The pipeline has not run.
    Pending,
    /// The callback's return value.
    Value(JsValue),
    /// What the callback threw.
    Threw(JsValue),
    /// The pipeline failed, so the callback did not run.
    Failed(Rc<Run>),
}

enum Inner {
    Reply {
        handle: redpipe_core::Handle<Reply<'static>>,
        conv: Conv,
        run: Rc<Run>,
    },
    Callback(Rc<RefCell<Outcome>>),
}

/// The result of one queued command, or of an `onExecute` callback: read `result` once the
/// pipeline has executed. Reading it throws the command's Redis error (a `RedisError` with
/// its `code`), a `ConnectionError` when the command got no reply, or an `Error` before the
/// pipeline ran.
#[wasm_bindgen(skip_typescript)]
pub struct Handle {
    inner: Inner,
}

impl Handle {
    pub(crate) fn reply(
        handle: redpipe_core::Handle<Reply<'static>>,
        conv: Conv,
        run: Rc<Run>,
    ) -> Self {
        Self {
            inner: Inner::Reply { handle, conv, run },
        }
    }

    pub(crate) fn callback(cell: Rc<RefCell<Outcome>>) -> Self {
        Self {
            inner: Inner::Callback(cell),
        }
    }
}

fn slot_error(e: &SlotError<'_>) -> JsValue {
    plain_error(&match e {
        SlotError::Pending => "result not available: the pipeline has not been executed".into(),
        SlotError::Stale => "the command was rolled back with its scope".into(),
        // A conversion error: what the same core `Error` says.
        other => message(&Error::from(other.clone())),
    })
}

#[wasm_bindgen]
impl Handle {
    /// The command's reply as a JavaScript value, with bulk strings as text, or as
    /// `Uint8Array`s with `bytes`: what the `result` and `bytes` getters (in `index.js`) return.
    #[wasm_bindgen(skip_typescript)]
    pub fn read(&self, bytes: bool) -> Result<JsValue, JsValue> {
        match &self.inner {
            Inner::Reply { handle, conv, run } => match handle.read() {
                Ok(reply) => convert(reply, *conv, bytes),
                Err(SlotError::Server(e)) => Err(redis_error(&e)),
                Err(SlotError::Failed(f)) => Err(run.failure(Some(f))),
                Err(e) => Err(slot_error(&e)),
            },
            Inner::Callback(cell) => match &*cell.borrow() {
                Outcome::Value(v) => Ok(v.clone()),
                Outcome::Threw(e) => Err(e.clone()),
                Outcome::Failed(run) => Err(run.failure(None)),
                Outcome::Pending => Err(slot_error(&SlotError::Pending)),
            },
        }
    }

    /// Whether the pipeline has run (the result, or its error, is there to read).
    #[wasm_bindgen(getter)]
    pub fn ready(&self) -> bool {
        match &self.inner {
            Inner::Reply { handle, .. } => handle.is_ready(),
            Inner::Callback(cell) => !matches!(&*cell.borrow(), Outcome::Pending),
        }
    }
}

#[wasm_bindgen(module = "/src/js/values.js")]
extern "C" {
    /// Bytes as text, invalid UTF-8 replaced as `String::from_utf8_lossy` does (JavaScript's
    /// decoder, which keeps the lossy conversion out of the `.wasm`).
    fn text(bytes: &[u8]) -> JsValue;

    /// A number sent as text (`INCRBYFLOAT`, `ZSCORE`, RESP3 doubles: `inf`, `-inf` and `nan`
    /// too), parsed by JavaScript (which keeps float parsing out of the `.wasm`); null when it
    /// is not a number.
    fn float(bytes: &[u8]) -> JsValue;

    /// RESP3 big number digits as a `BigInt`.
    fn bigint(digits: &[u8]) -> JsValue;
}

/// A reply with the command's conversion.
fn convert(reply: Reply<'_>, conv: Conv, bytes: bool) -> Result<JsValue, JsValue> {
    match (conv, &reply) {
        (Conv::Bool, Reply::Int(n)) => Ok(JsValue::from_bool(*n != 0)),
        (Conv::Float, Reply::Bulk(b) | Reply::Simple(b)) => Ok(float(b)),
        (Conv::Object, Reply::Array(a) | Reply::Map(a)) => object(a, bytes),
        (_, Reply::Error(e)) => Err(redis_error(e)),
        _ => Ok(to_js(&reply, bytes)),
    }
}

/// Field/value pairs as a plain object (field names as text).
fn object(a: &Aggregate<'_>, bytes: bool) -> Result<JsValue, JsValue> {
    let o = Object::new();
    let mut items = a.iter();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        let key = match k {
            Reply::Bulk(b) | Reply::Simple(b) => text(b),
            other => to_js(&other, false),
        };
        Reflect::set(&o, &key, &to_js(&v, bytes))?;
    }
    Ok(o.into())
}

/// The generic conversion: status and bulk strings → string (or `Uint8Array` with `bytes`),
/// integers and doubles → number, nil → null, arrays and sets → Array, maps → Map, booleans →
/// boolean, big numbers → BigInt, errors nested in an array → `RedisError` values.
pub(crate) fn to_js(reply: &Reply<'_>, bytes: bool) -> JsValue {
    match reply {
        Reply::Simple(s) => text(s),
        Reply::Bulk(b) if bytes => Uint8Array::from(*b).into(),
        Reply::Bulk(b) => text(b),
        Reply::Verbatim { text: t, .. } => text(t),
        Reply::Error(e) => redis_error(e),
        Reply::Int(n) => JsValue::from_f64(*n as f64),
        Reply::Double(d) => float(d.text()),
        Reply::Bool(b) => JsValue::from_bool(*b),
        Reply::BigNumber(digits) => bigint(digits),
        Reply::Nil => JsValue::NULL,
        Reply::Array(a) | Reply::Set(a) | Reply::Push(a) => {
            a.iter().map(|r| to_js(&r, bytes)).collect::<Array>().into()
        }
        Reply::Map(a) => {
            let m = js_sys::Map::new();
            let mut items = a.iter();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                m.set(&to_js(&k, false), &to_js(&v, bytes));
            }
            m.into()
        }
        _ => JsValue::UNDEFINED,
    }
}
