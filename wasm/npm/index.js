// The JavaScript API of redpipe-wasm: the parts that are only JavaScript (connecting, scopes,
// reusable functions, the command methods) over the exports of the `.wasm`'s glue. Each of
// these would cost an export (a shim in the `.wasm` and in the glue) and, for the async ones, a
// Rust future; here they are a few lines each. `cargo xtask wasm` bundles this file, the glue
// and its snippets into the package's one module.
import init, { initSync, Client, Pipeline, Handle, commandNames, newClient } from "./redpipe_wasm.js";

const P = Pipeline.prototype;
let installed = false;

const encoder = new TextEncoder();

// The words of a command's arguments: text, numbers, booleans and bigints as their text, bytes
// as they are; an array adds each element; `undefined` and `null` add nothing (optional
// arguments).
const words = (args, out) => {
  for (const a of args) {
    if (a == null) continue;
    if (Array.isArray(a)) words(a, out);
    else if (a instanceof Uint8Array) out.push(a);
    else if (typeof a == "boolean") out.push(encoder.encode(a ? "1" : "0"));
    else if (typeof a == "string" || typeof a == "number" || typeof a == "bigint") out.push(encoder.encode(String(a)));
    else throw new TypeError("a command argument must be a string, number, boolean, bigint, Uint8Array or an array of them");
  }
  return out;
};

// The arguments as `queue` takes them: each word as a 4-byte little-endian length, then its
// bytes, in one buffer (one copy into the `.wasm` per command).
const pack = (args) => {
  const all = words(args, []);
  const packed = new Uint8Array(all.reduce((n, w) => n + 4 + w.length, 0));
  const view = new DataView(packed.buffer);
  let at = 0;
  for (const w of all) {
    view.setUint32(at, w.length, true);
    packed.set(w, at + 4);
    at += 4 + w.length;
  }
  return packed;
};

// A new client; the first one defines the command methods (`p.get(key)`...) on
// `Pipeline.prototype`, each calling `queue(index, pack(args))`.
const client = () => {
  if (!installed) {
    installed = true;
    commandNames()
      .split(" ")
      .forEach((name, i) => {
        if (name) P[name] = function (...args) { return this.queue(i, pack(args)); };
      });
  }
  return newClient();
};

const open = async (endpoint, token, options) => {
  const c = client();
  try {
    await c.add("", endpoint, token, options);
  } catch (e) {
    c.free();
    throw e;
  }
  return c;
};

// A duplex opener must be a function (anything else would be taken for a URL).
const opener = (f) => {
  if (typeof f != "function") throw new TypeError("connectDuplex: `open` must be a function returning a Duplex (or a promise of one)");
  return f;
};

export const connect = (url, token, options) => open(String(url), token, options);
export const connectDuplex = async (f, options) => open(opener(f), null, options);

Object.assign(Client.prototype, {
  connect(name, url, token, options) {
    return this.add(name, String(url), token, options);
  },
  async connectDuplex(name, f, options) {
    return this.add(name, opener(f), null, options);
  },
  async autoexec(pipe, f) {
    if (pipe != null) return pipe.scopeAsync(f);
    const p = this.pipeline();
    const value = await p.scopeAsync(f);
    if (p.inScope) throw new Error("autoexec: a scope was left open");
    await p.execute();
    return value;
  },
});

// Runs `f(p)` in a scope (on the connection `name` if given): if it throws, its commands and
// callbacks are removed and the error is thrown again.
const scoped = (p, name, f) => {
  p.enter(name);
  let ok = false;
  try {
    const value = f(p);
    ok = true;
    return value;
  } finally {
    p.leave(ok);
  }
};

Object.assign(P, {
  command(name, args) {
    return this.queue(String(name), pack([args]));
  },
  eval(script, keys, args) {
    const k = [keys].flat(Infinity).filter((x) => x != null);
    return this.queue("EVAL", pack([script, k.length, k, args]));
  },
  scope(f) {
    return scoped(this, undefined, f);
  },
  on(name, f) {
    return scoped(this, String(name), f);
  },
  // Awaits what `f` returns before the scope closes. Other code MUST NOT open scopes on this
  // pipeline meanwhile: scopes close innermost first.
  async scopeAsync(f) {
    this.enter();
    let ok = false;
    try {
      const value = await f(this);
      ok = true;
      return value;
    } finally {
      this.leave(ok);
    }
  },
});

Object.defineProperties(Handle.prototype, {
  result: { get() { return this.read(false); } },
  bytes: { get() { return this.read(true); } },
});

export { init as default, initSync, Client, Pipeline, Handle };
