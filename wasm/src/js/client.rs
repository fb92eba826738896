//! The pipeline API's exports: `Client` (a registry of named connections), the command names
//! `index.js` turns into methods, and the TypeScript declarations of the whole pipeline API.

use alloc::string::String;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;

use super::error::{plain_error, to_js_error};
use super::{Pipeline, commands, promise};
use crate::connection::Options;
use crate::registry::Connections;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** A command argument: text, a number, a boolean, a bigint or bytes. */
export type Arg = string | number | boolean | bigint | Uint8Array;

/** Options of `connect`, `connectDuplex` and `Client.connect`. */
export interface ConnectOptions {
  /** ACL user for AUTH on each new connection (relays and duplexes straight to Redis). */
  username?: string;
  /** Password for AUTH. */
  password?: string;
  /** Database to SELECT. */
  db?: number;
  /** Speak RESP3 (HELLO 3). */
  resp3?: boolean;
  /** CLIENT SETNAME. */
  clientName?: string;
  /** Largest WebSocket message sent, in bytes (64 KiB by default). */
  maxFrame?: number;
}

/**
 * Any byte channel to Redis (a Node `net.Socket`, a Workers socket...): redpipe sends bytes
 * with `send`, and is told of incoming bytes and of the end through the functions it gives
 * `listen`.
 */
export interface Duplex {
  send(data: Uint8Array): void;
  close(): void;
  listen(onData: (data: Uint8Array) => void, onClose: (reason?: unknown) => void): void;
}

/** Counters of one named connection. */
export interface Stats {
  pipelines: number;
  connects: number;
  /** Binary messages received (a large pipeline's replies arrive over many). */
  messages: number;
}

/** An error reply from Redis; `code` is its first word (`ERR`, `WRONGTYPE`, `NOPERM`...). */
export interface RedisError extends Error {
  name: "RedisError";
  code: string;
}

/**
 * The connection failed or closed, so commands got no reply: `connect` and `execute` reject
 * with it, and the handles it cut off throw it. `message` says what happened.
 */
export interface ConnectionError extends Error {
  name: "ConnectionError";
  /**
   * The WebSocket close code, when a WebSocket closed: 1008 when the bridge refused the token
   * or the page's origin (`reason` says which), 1006 when there was no close frame (the bridge
   * is unreachable or the network dropped), 1000/1001 for a normal close.
   */
  code?: number;
  /** The close reason the bridge gave ("" when none), when a WebSocket closed. */
  reason?: string;
}

/** The result of one queued command (or callback), readable once the pipeline executed. */
export class Handle<T = unknown> {
  private constructor();
  free(): void;
  /** The result; throws the command's `RedisError`, a `ConnectionError`, or before execute. */
  readonly result: T;
  /** The result with bulk strings as `Uint8Array`s. */
  readonly bytes: unknown;
  /** Whether the pipeline has run. */
  readonly ready: boolean;
}

/**
 * Connects to a redpipe bridge (or any relay carrying RESP over binary WebSocket messages,
 * such as websockify: leave `token` out there) as the default connection. Rejects with a
 * `ConnectionError` carrying the close reason when the bridge refuses the token or origin.
 */
export function connect(url: string, token?: string | null, options?: ConnectOptions): Promise<Client>;

/**
 * Connects over JS duplexes straight to Redis (runtimes with sockets of their own): `open`
 * returns a new `Duplex` (or a promise of one) each time a connection is needed.
 */
export function connectDuplex(open: () => Duplex | Promise<Duplex>, options?: ConnectOptions): Promise<Client>;

export interface Client {
  /** Adds the connection `name` (a WebSocket URL), opened now; commands go to it in `p.on(name, ...)`. */
  connect(name: string, url: string, token?: string | null, options?: ConnectOptions): Promise<void>;
  /** Adds the connection `name` over JS duplexes. */
  connectDuplex(name: string, open: () => Duplex | Promise<Duplex>, options?: ConnectOptions): Promise<void>;
  /**
   * Runs `f` on `pipe` if given (its commands join that pipeline, and are removed if `f`
   * throws), else on a new pipeline that is executed when `f` returns. Resolves to what `f`
   * returns: a reusable function takes an optional pipeline and returns handles.
   */
  autoexec<T>(pipe: Pipeline | null | undefined, f: (p: Pipeline) => T | Promise<T>): Promise<T>;
}

export interface Pipeline {
  /**
   * Any command, with its arguments (none, one, or an array): `p.command("PING")`,
   * `p.command("HSET", ["k", "f", "v"])`. The reply converts as described in the README;
   * `T` only names the type you expect.
   */
  command<T = unknown>(name: string, args?: Arg | Arg[]): Handle<T>;
  /**
   * A Lua script: `EVAL script numkeys keys... args...` (`numkeys` is counted for you):
   * `p.eval<number>("return redis.call('INCR', KEYS[1])", ["k"])`.
   */
  eval<T = unknown>(script: string, keys?: Arg | Arg[], args?: Arg | Arg[]): Handle<T>;
  /** Registers `f` to run after the pipeline executed; the handle holds its value. */
  onExecute<T>(f: () => T): Handle<T>;
  /** Runs `f(this)` as a scope: if it throws, its commands are removed. */
  scope<T>(f: (p: Pipeline) => T): T;
  /** Runs `f(this)` with its commands going to the connection `name`. */
  on<T>(name: string, f: (p: Pipeline) => T): T;
  /** Runs `f(this)` as a scope, awaiting the promise it returns before closing the scope. */
  scopeAsync<T>(f: (p: Pipeline) => T | Promise<T>): Promise<T>;
}
"#;

/// The JavaScript names of the command methods, separated by spaces, in `queue` index order:
/// `index.js` defines one method per name on `Pipeline.prototype`, calling `queue(index, args)`.
#[wasm_bindgen(js_name = commandNames, skip_typescript)]
#[allow(unreachable_pub)] // wasm-bindgen exports only `pub` functions; Rust callers have no use for it
pub fn command_names() -> JsValue {
    JsValue::from_str(commands::NAMES)
}

fn text_field(o: &JsValue, name: &str) -> Option<String> {
    Reflect::get(o, &JsValue::from_str(name)).ok()?.as_string()
}

fn number_field(o: &JsValue, name: &str) -> Option<f64> {
    Reflect::get(o, &JsValue::from_str(name)).ok()?.as_f64()
}

/// Options from a JavaScript `ConnectOptions` object (missing fields keep their defaults).
fn options(token: Option<String>, o: Option<&js_sys::Object>) -> Options {
    let mut opts = Options {
        token,
        ..Options::default()
    };
    if let Some(o) = o {
        opts.username = text_field(o, "username");
        opts.password = text_field(o, "password");
        opts.client_name = text_field(o, "clientName");
        opts.db = number_field(o, "db").map_or(0, |d| d as u32);
        opts.resp3 = Reflect::get(o, &JsValue::from_str("resp3"))
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if let Some(max) = number_field(o, "maxFrame") {
            opts.max_frame = (max as usize).max(1);
        }
    }
    opts
}

/// A connected registry of named connections: makes pipelines and runs reusable functions.
/// `connect`, `connectDuplex`, `autoexec` and the scopes are a few lines of JavaScript over
/// these exports (`wasm/npm/index.js`): each export costs a shim in the `.wasm` and in the
/// glue, and an async one a future too.
#[wasm_bindgen]
#[derive(Clone, Default)]
pub struct Client {
    connections: Connections,
}

/// An empty registry: what `connect` and `connectDuplex` (in `index.js`) start from. A function,
/// not a constructor, so that the declared `Client` class has none (a page gets its clients
/// from `connect`).
#[wasm_bindgen(js_name = newClient, skip_typescript)]
#[allow(unreachable_pub)] // wasm-bindgen exports only `pub` functions; Rust callers have no use for it
pub fn new_client() -> Client {
    Client::default()
}

#[wasm_bindgen]
impl Client {
    /// A new, empty pipeline on this client's connections.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.connections.pipe())
    }

    /// Adds the connection `name` and opens it: `endpoint` is a WebSocket URL (with the
    /// bridge's `token`), or a function returning a `Duplex` (or a promise of one).
    #[wasm_bindgen(skip_typescript)]
    pub fn add(
        &self,
        name: String,
        endpoint: JsValue,
        token: Option<String>,
        options: Option<js_sys::Object>,
    ) -> Promise {
        let connections = self.connections.clone();
        let opts = self::options(token, options.as_ref());
        promise(async move {
            let added = match endpoint.dyn_into::<Function>() {
                Ok(open) => connections.connect_duplex(&name, open, opts).await,
                Err(url) => {
                    let url = url.as_string().unwrap_or_default();
                    connections.connect(&name, &url, opts).await
                }
            };
            added.map_err(|e| to_js_error(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Forgets the connection `name` and closes it; returns whether it was registered.
    pub fn disconnect(&self, name: &str) -> bool {
        self.connections.disconnect(name)
    }

    /// Closes every connection.
    pub fn close(&self) {
        self.connections.close();
    }

    /// Counters of the connection `name` (the default one if left out).
    #[wasm_bindgen(unchecked_return_type = "Stats")]
    pub fn stats(&self, name: Option<String>) -> Result<JsValue, JsValue> {
        let name = name.unwrap_or_default();
        let s = self
            .connections
            .stats(&name)
            .ok_or_else(|| plain_error("no connection of this name"))?;
        let o = js_sys::Object::new();
        Reflect::set(&o, &"pipelines".into(), &(s.pipelines as f64).into())?;
        Reflect::set(&o, &"connects".into(), &(s.connects as f64).into())?;
        Reflect::set(&o, &"messages".into(), &(s.messages as f64).into())?;
        Ok(o.into())
    }
}
