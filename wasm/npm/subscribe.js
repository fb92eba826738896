// The JavaScript of redpipe-wasm's `redpipe-wasm/subscribe` module: `subscribe` and the
// subscriber it resolves to, over the exports of its own `.wasm` (built from `wasm/subscribe`:
// the socket, the core's subscription machine and its reader; a page that only pipelines does
// not load them). `cargo xtask wasm` bundles this file with that module's glue.
import init, { initSync, openSubscriber } from "./redpipe_subscribe.js";

// A subscriber: the socket's reader (Rust) reports every frame to `on`, and a lost session
// opened again (a gap); commands go one at a time (each waits for its answer: a refusal answers
// the oldest command); messages nobody awaits wait in `queue`, 10 000 at most (then the oldest
// are dropped and counted).
const decoder = new TextDecoder();
const text = (b) => decoder.decode(b);
const QUEUE_LIMIT = 10000;

class Subscriber {
  constructor() {
    this.queue = [];
    this.readers = [];
    this.answers = [];
    this.chain = Promise.resolve();
    this.ended = undefined;
    this.dropped = 0;
    this.gaps = 0;
    this.ongap = undefined;
  }
  on(type, kind, channel, payload, pattern) {
    if (type == 0) {
      const m = { channel: text(channel), message: text(payload), bytes: payload };
      if (pattern) m.pattern = text(pattern);
      const r = this.readers.shift();
      if (r) r.resolve({ value: m, done: false });
      else if (this.queue.push(m) > QUEUE_LIMIT) this.queue.shift(), this.dropped++;
    } else if (type == 1 || type == 2) {
      const a = this.answers.shift();
      if (a) type == 1 ? a.resolve() : a.reject(kind);
    } else if (type == 4) {
      this.gaps++;
      this.ongap?.();
    } else {
      this.ended = kind || true;
      for (const r of this.readers.splice(0)) kind ? r.reject(kind) : r.resolve({ value: undefined, done: true });
      for (const a of this.answers.splice(0)) a.reject(kind || new Error("the subscriber was closed"));
    }
  }
  // Sends one command once the one before it was answered; resolves with its answer.
  send(kind, names, on) {
    const go = () =>
      new Promise((resolve, reject) => {
        if (this.ended) return reject(this.ended === true ? new Error("the subscriber was closed") : this.ended);
        this.answers.push({ resolve, reject });
        try {
          this.inner.send(kind, names.map(String), on);
        } catch (e) {
          this.answers.pop();
          reject(e);
        }
      });
    const p = this.chain.then(go);
    this.chain = p.catch(() => {});
    return p;
  }
  subscribe(...c) { return this.send(0, c, true); }
  psubscribe(...p) { return this.send(1, p, true); }
  ssubscribe(...c) { return this.send(2, c, true); }
  unsubscribe(...c) { return this.send(0, c, false); }
  punsubscribe(...p) { return this.send(1, p, false); }
  sunsubscribe(...c) { return this.send(2, c, false); }
  next() {
    if (this.queue.length) return Promise.resolve({ value: this.queue.shift(), done: false });
    if (this.ended) return this.ended === true ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.ended);
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }
  return() {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }
  close() {
    if (!this.ended) this.inner.close();
  }
  [Symbol.asyncIterator]() {
    return this;
  }
}

export const subscribe = async (url, token, names = {}) => {
  const s = new Subscriber();
  s.inner = await openSubscriber(String(url), token, (...a) => s.on(...a));
  try {
    const { channels, patterns, shardChannels } = names;
    if (channels?.length) await s.subscribe(...channels);
    if (patterns?.length) await s.psubscribe(...patterns);
    if (shardChannels?.length) await s.ssubscribe(...shardChannels);
  } catch (e) {
    s.close();
    throw e;
  }
  return s;
};

export { init as default, initSync };
