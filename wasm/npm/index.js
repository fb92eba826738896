// The JavaScript API of redpipe-wasm: the parts that are only JavaScript (connecting, scopes,
// reusable functions, the command methods) over the exports of the `.wasm`'s glue. Each of
// these would cost an export (a shim in the `.wasm` and in the glue) and, for the async ones, a
// Rust future; here they are a few lines each. `cargo xtask wasm` bundles this file, the glue
// and its snippets into the package's one module.
import init, { initSync, Client, Pipeline, Handle, commandNames } from "./redpipe_wasm.js";

const P = Pipeline.prototype;
let installed = false;

// A new client; the first one defines the command methods (`p.get(key)`...) on
// `Pipeline.prototype`, each calling `queue(index, args)`.
const client = () => {
  if (!installed) {
    installed = true;
    commandNames()
      .split(" ")
      .forEach((name, i) => {
        if (name) P[name] = function (...args) { return this.queue(i, args); };
      });
  }
  return new Client();
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

export const connect = (url, token, options) => open(String(url), token, options);
export const connectDuplex = (opener, options) => open(opener, null, options);

Object.assign(Client.prototype, {
  connect(name, url, token, options) {
    return this.add(name, String(url), token, options);
  },
  connectDuplex(name, opener, options) {
    return this.add(name, opener, null, options);
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
    return this.queue(String(name), [args]);
  },
  eval(script, keys, args) {
    const k = [keys].flat(Infinity).filter((x) => x != null);
    return this.queue("EVAL", [script, k.length, k, args]);
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
