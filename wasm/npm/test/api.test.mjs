// The JavaScript API of redpipe-wasm from Node, against a real redpipe-bridge in front of a
// real redis-server, and over Node's `net` straight to that server.
//
// `cargo xtask wasm` builds the package, starts the servers and runs this file with
// `node --experimental-websocket --test`, passing REDPIPE_PKG (the package directory; the
// smallest program, `wasm/minimal`, is built beside it),
// REDPIPE_BRIDGE_URL, REDPIPE_BRIDGE_TOKEN and REDIS_PORT.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const pkg = process.env.REDPIPE_PKG;
const url = process.env.REDPIPE_BRIDGE_URL;
const token = process.env.REDPIPE_BRIDGE_TOKEN;
const redisPort = Number(process.env.REDIS_PORT);
if (!pkg || !url || !token || !redisPort) {
  throw new Error("run these tests with `cargo xtask wasm` (REDPIPE_PKG, REDPIPE_BRIDGE_URL, REDPIPE_BRIDGE_TOKEN, REDIS_PORT)");
}
const redpipe = await import(join(pkg, "node", "redpipe_wasm.js"));
const { tcp } = await import(join(pkg, "net.js"));

let n = 0;
const key = (name) => `node-test:${process.pid}:${Date.now()}:${n++}:${name}`;

test("README: handles filled by execute", async () => {
  const client = await redpipe.connect(url, token);
  const p = client.pipeline();
  const [foo, bar] = [key("foo"), key("bar")];
  const a = p.incr(foo);
  const b = p.incr(bar);
  assert.equal(a.ready, false);
  assert.throws(() => a.result, /not been executed/);
  await p.execute();
  assert.deepEqual([a.result, b.result], [1, 1]);
  assert.equal(a.ready, true);
  client.close();
});

test("reusable functions take an optional pipeline: 200 commands, one round trip", async () => {
  const client = await redpipe.connect(url, token);
  const incrementAndExpire = (k, pipe) =>
    client.autoexec(pipe, (p) => {
      const count = p.incrby(k, 1);
      p.expire(k, 60);
      return count;
    });

  const before = client.stats().pipelines;
  const handles = await client.autoexec(null, async (p) => {
    const all = [];
    for (let i = 0; i < 100; i++) all.push(await incrementAndExpire(key(`k${i}`), p));
    assert.equal(p.length, 200);
    return all;
  });
  assert.ok(handles.every((h) => h.result === 1));
  assert.equal(client.stats().pipelines, before + 1);
  // Alone, it runs its own pipeline.
  assert.equal((await incrementAndExpire(key("alone"))).result, 1);
  client.close();
});

test("callbacks combine results after execute; a failed scope sends nothing", async () => {
  const client = await redpipe.connect(url, token);
  const p = client.pipeline();
  const keys = [0, 1, 2, 3].map((i) => key(`cb${i}`));
  const hits = keys.map((k) => p.incr(k));
  const sum = p.onExecute(() => hits.reduce((s, h) => s + h.result, 0));
  const dropped = key("dropped");
  assert.throws(
    () =>
      p.scope((q) => {
        q.incr(dropped);
        throw new Error("step failed");
      }),
    /step failed/,
  );
  // An execute inside a scope joins the enclosing pipeline.
  await p.scopeAsync(async (q) => {
    q.incr(keys[0]);
    await q.execute();
    assert.equal(q.length, 5);
  });
  await p.execute();
  assert.equal(sum.result, 4);
  const check = client.pipeline();
  const gone = check.exists(dropped);
  const twice = check.get(keys[0]);
  await check.execute();
  assert.equal(gone.result, 0);
  assert.equal(twice.result, "2");
  client.close();
});

test("errors are JS Errors carrying the Redis message, in their own handle", async () => {
  const client = await redpipe.connect(url, token);
  const s = key("string");
  const p = client.pipeline();
  p.set(s, "text");
  const wrong = p.incr(s);
  const denied = p.command("FLUSHALL");
  const fine = p.get(s);
  const map = p.hgetall(key("missing-hash"));
  await p.execute();
  assert.throws(() => wrong.result, (e) => e instanceof Error && e.name === "RedisError" && e.code === "ERR" && /not an integer/.test(e.message));
  assert.throws(() => denied.result, (e) => e.name === "RedisError" && e.code === "NOPERM");
  assert.equal(fine.result, "text");
  assert.deepEqual(map.result, {});
  // Binary values, booleans, numbers as text.
  const b = client.pipeline();
  const bin = key("bin");
  b.set(bin, new Uint8Array([0, 255, 1]));
  const raw = b.get(bin);
  const set = b.expire(bin, 100);
  const f = b.incrbyfloat(key("float"), 1.5);
  const h = key("hash");
  b.hset(h, ["a", "1", "b", "2"]);
  const all = b.hgetall(h);
  await b.execute();
  assert.deepEqual([...raw.bytes], [0, 255, 1]);
  assert.equal(set.result, true);
  assert.equal(f.result, 1.5);
  assert.deepEqual(all.result, { a: "1", b: "2" });
  client.close();
});

test("a wrong token is refused with the reason", async () => {
  await assert.rejects(redpipe.connect(url, "wrong"), (e) => e.name === "ConnectionError" && /invalid token/.test(e.message));
});

test("pipelines of concurrent async functions on one connection do not interleave", async () => {
  const client = await redpipe.connect(url, token);
  const work = async (k) => {
    const p = client.pipeline();
    const hs = Array.from({ length: 500 }, () => p.incr(k));
    await p.execute();
    return hs.map((h) => h.result);
  };
  const [a, b, c] = await Promise.all([work(key("a")), work(key("b")), work(key("c"))]);
  const expected = Array.from({ length: 500 }, (_, i) => i + 1);
  assert.deepEqual(a, expected);
  assert.deepEqual(b, expected);
  assert.deepEqual(c, expected);
  assert.equal(client.stats().connects, 1);
  client.close();
});

test("a JS duplex over Node's net talks to Redis directly; a lost socket fails every waiting handle", async () => {
  const sockets = [];
  const open = tcp(redisPort);
  const client = await redpipe.connectDuplex(() => {
    const d = open();
    sockets.push(d.socket);
    return d;
  });
  const p = client.pipeline();
  const k = key("duplex");
  const x = p.incr(k);
  const v = p.get(k);
  await p.execute();
  assert.deepEqual([x.result, v.result], [1, "1"]);

  // Many replies, arriving as Node hands over chunks.
  const big = client.pipeline();
  const many = Array.from({ length: 10000 }, () => big.incr(k));
  await big.execute();
  assert.equal(many[9999].result, 10001);

  const stuck = client.pipeline();
  const blocked = stuck.command("BLPOP", [key("never"), 0]);
  const after = stuck.incr(k);
  const run = stuck.execute();
  setTimeout(() => sockets.at(-1).destroy(), 100);
  await assert.rejects(run, (e) => e.name === "ConnectionError" && /socket closed|connection ended/.test(e.message));
  assert.throws(() => blocked.result, (e) => e.name === "ConnectionError");
  assert.throws(() => after.result, (e) => e.name === "ConnectionError");
  // The next pipeline opens a new socket.
  const again = client.pipeline();
  const pong = again.ping();
  await again.execute();
  assert.equal(pong.result, "PONG");
  assert.equal(sockets.length, 2);
  client.close();
});

test("named connections: p.on(name, f) sends f's commands there, groups run side by side", async () => {
  const client = await redpipe.connect(url, token);
  await client.connect("second", url, token);
  await assert.rejects(client.connect("second", url, token), /registered/);
  const p = client.pipeline();
  const k = key("named");
  const here = p.incr(k);
  const there = p.on("second", (q) => q.incr(k));
  await p.execute();
  assert.deepEqual([here.result, there.result].sort(), [1, 2]);
  assert.equal(client.stats("second").pipelines, 1);
  assert.equal(client.disconnect("second"), true);
  const q = client.pipeline();
  const lost = q.on("second", (r) => r.incr(k));
  await assert.rejects(q.execute(), /no connection named/);
  assert.throws(() => lost.result, (e) => e.name === "ConnectionError" || e instanceof Error);
  client.close();
});

test("the generated TypeScript declarations are precise", () => {
  const dts = readFileSync(join(pkg, "web", "redpipe_wasm.d.ts"), "utf8");
  for (const line of [
    "incr(key: Arg): Handle<number>;",
    "get(key: Arg): Handle<string | null>;",
    "hgetall(key: Arg): Handle<Record<string, string>>;",
    "del(keys: Arg | Arg[]): Handle<number>;",
    "autoexec<T>(pipe: Pipeline | null | undefined, f: (p: Pipeline) => T | Promise<T>): Promise<T>;",
    "onExecute<T>(f: () => T): Handle<T>;",
    "export function connect(url: string, token?: string | null, options?: ConnectOptions): Promise<Client>;",
    "execute(): Promise<void>;",
  ]) {
    assert.ok(dts.includes(line), `missing from the .d.ts: ${line}`);
  }
});

test("the size report's smallest program (wasm/minimal) runs its pipeline through the bridge", async () => {
  const minimal = join(pkg, "..", "minimal");
  const { initSync, run } = await import(join(minimal, "minimal.js"));
  initSync({ module: readFileSync(join(minimal, "minimal_bg.wasm")) });
  const [k, other] = [key("minimal"), key("other")];
  assert.equal(await run(url, token, k, other), 1);
  assert.equal(await run(url, token, k, other), 2);
  await assert.rejects(run(url, "wrong", k, other), (e) => typeof e === "string" && /invalid token/.test(e));
});
