//! The JavaScript face of [`Subscriber`](crate::pubsub::Subscriber): `subscribe(url, token,
//! names)` resolves to an async iterable of messages.
//!
//! One reader per socket: a task (spawned when the session opens) reads every frame and tells
//! JavaScript through one function, `on(type, kind, channel, payload, pattern)`: type 0 a
//! message (bytes; `index.js` decodes the text), 1 the command waiting was answered, 2 it was
//! refused (a `RedisError`), 3 the subscriber ended (`kind` holds the `ConnectionError`, or
//! `null` after `close()`), 4 the session was lost and is open again, every name subscribed
//! again (a gap: messages published meanwhile were missed). The exports JavaScript calls (`send`, `close`) only borrow the
//! subscriber for the call, so they may run while the task waits. The iterator, the queue of
//! unread messages and the one-command-at-a-time rule are JavaScript (`wasm/npm/index.js`).

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;

use super::error::to_js_error;
use super::promise;
use crate::connection::Options;
use crate::pubsub::{Kind, Received, Subscriber};
use crate::subscriber::{arrival, reopened};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** A published message. */
export interface Message {
  /** The channel it was published to. */
  channel: string;
  /** The message as text (invalid UTF-8 replaced). */
  message: string;
  /** The message's bytes. */
  bytes: Uint8Array;
  /** The pattern that matched the channel (pattern subscriptions only). */
  pattern?: string;
}

/** What `subscribe` subscribes to at once. */
export interface SubscribeNames {
  channels?: string[];
  patterns?: string[];
  /** Shard channels (SSUBSCRIBE). */
  shardChannels?: string[];
}

/**
 * Subscriptions on a socket of their own, through a redpipe bridge's subscriber session: the
 * bridge lets through only the channels and patterns the token's `subscribe` rules name. A lost
 * session is opened again with the same token (waiting 0.1 s, doubling up to 5 s), until the
 * bridge refuses the token (then the iteration rejects with that `ConnectionError`).
 * `for await (const m of sub)` reads the messages; unread ones wait (10 000 at most, then the
 * oldest are dropped and counted in `dropped`).
 */
export interface Subscriber extends AsyncIterableIterator<Message> {
  /** Subscribes to channels; resolves once Redis confirmed them, rejects with the refusal (`RedisError`, `NOPERM`). */
  subscribe(...channels: string[]): Promise<void>;
  psubscribe(...patterns: string[]): Promise<void>;
  ssubscribe(...channels: string[]): Promise<void>;
  /** Unsubscribes (from every channel when none is named). */
  unsubscribe(...channels: string[]): Promise<void>;
  punsubscribe(...patterns: string[]): Promise<void>;
  sunsubscribe(...channels: string[]): Promise<void>;
  /** Closes the socket; the iteration ends. */
  close(): void;
  /** Messages dropped because nothing read them. */
  readonly dropped: number;
  /**
   * Sessions lost and opened again (the network, Redis or the bridge dropped it): each time,
   * every name is subscribed again by itself, and messages published in between are missed.
   */
  readonly gaps: number;
  /** Called after each such gap, once the names are subscribed again. */
  ongap?: () => void;
}

/**
 * Opens a subscriber session at a redpipe bridge (`url`, `token` as for `connect`) and
 * subscribes to `names`. Rejects with a `ConnectionError` when the bridge refuses the token, or
 * with the `RedisError` of a name outside the token's rules.
 */
export function subscribe(url: string, token?: string | null, names?: SubscribeNames): Promise<Subscriber>;
"#;

/// A subscriber, as JavaScript holds it (see the [module docs](self)).
#[wasm_bindgen(skip_typescript)]
pub struct Subscription {
    sub: Rc<RefCell<Subscriber>>,
}

/// Opens a subscriber session and starts its reader, which reports to `on`.
#[wasm_bindgen(js_name = openSubscriber, skip_typescript)]
#[allow(unreachable_pub)] // wasm-bindgen exports only `pub` functions; Rust callers have no use for it
pub fn open_subscriber(url: String, token: Option<String>, on: Function) -> Promise {
    promise(async move {
        let options = Options {
            token,
            ..Options::default()
        };
        let sub = Subscriber::open(&url, &options)
            .await
            .map_err(|e| to_js_error(&e))?;
        let sub = Rc::new(RefCell::new(sub));
        wasm_bindgen_futures::spawn_local(read(sub.clone(), on));
        Ok(Subscription { sub }.into())
    })
}

/// The reader: every frame to `on`, until the socket ends.
async fn read(sub: Rc<RefCell<Subscriber>>, on: Function) {
    let tell = |kind: JsValue, a: JsValue, b: JsValue, c: JsValue, t: u32| {
        let args = js_sys::Array::of4(&kind, &a, &b, &c);
        args.unshift(&JsValue::from(t));
        let _ = on.apply(&JsValue::NULL, &args);
    };
    let none = || JsValue::UNDEFINED;
    loop {
        // The borrow ends with the statement: `on` may call back into the subscriber.
        let polled = sub.borrow_mut().poll();
        match polled {
            Ok(Some(Received::Msg(m))) => tell(
                JsValue::from(m.kind as u32),
                Uint8Array::from(m.channel.as_slice()).into(),
                Uint8Array::from(m.payload.as_slice()).into(),
                m.pattern
                    .map_or_else(none, |p| Uint8Array::from(p.as_slice()).into()),
                0,
            ),
            Ok(Some(Received::Answered)) => tell(none(), none(), none(), none(), 1),
            Ok(Some(Received::Refused(e))) => tell(to_js_error(&e), none(), none(), none(), 2),
            Ok(Some(Received::Gap)) => tell(none(), none(), none(), none(), 4),
            Ok(None) if sub.borrow().is_closed() => {
                return tell(JsValue::NULL, none(), none(), none(), 3);
            }
            Ok(None) => {
                let inbox = sub.borrow().inbox();
                arrival(&inbox, None).await;
            }
            Err(e) if sub.borrow().has_ended() => {
                return tell(to_js_error(&e), none(), none(), none(), 3);
            }
            Err(_) => {
                // Lost: opened again without holding the subscriber, which JavaScript may
                // use (or close) meanwhile.
                let (url, token) = sub.borrow().target();
                let closed = || sub.borrow().is_closed();
                let attached = match reopened(&url, token.as_deref(), &closed).await {
                    Ok(link) => sub.borrow_mut().attach(link),
                    Err(e) => Err(e),
                };
                match attached {
                    Ok(()) => tell(none(), none(), none(), none(), 4),
                    Err(_) if sub.borrow().is_closed() => {
                        return tell(JsValue::NULL, none(), none(), none(), 3);
                    }
                    Err(e) => return tell(to_js_error(&e), none(), none(), none(), 3),
                }
            }
        }
    }
}

#[wasm_bindgen]
impl Subscription {
    /// Sends one (un)subscribe command for `names` of `kind` (0 channels, 1 patterns, 2 shard
    /// channels); its answer comes to the reader.
    pub fn send(&self, kind: u32, names: Vec<String>, subscribe: bool) -> Result<(), JsValue> {
        let kind = match kind {
            1 => Kind::Pattern,
            2 => Kind::Shard,
            _ => Kind::Channel,
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.sub
            .borrow_mut()
            .send(kind, &names, subscribe)
            .map_err(|e| to_js_error(&e))
    }

    /// Closes the socket; the reader ends.
    pub fn close(&self) {
        self.sub.borrow_mut().close();
    }
}
