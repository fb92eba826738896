// The JavaScript API of redpipe-wasm from Node, against a real redpipe-bridge in front of a
// real redis-server, and over Node's `net` straight to that server.
//
// `cargo xtask wasm` builds the package, installs its tarball into a scratch project, starts
// the servers and runs this file with `node --experimental-websocket --test`, passing
// REDPIPE_PKG (the installed package's directory), REDPIPE_MINIMAL (the smallest program,
// `wasm/minimal`), REDPIPE_BRIDGE_URL, REDPIPE_BRIDGE_TOKEN and REDIS_PORT.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import net from "node:net";
import { Duplex } from "node:stream";
import { join } from "node:path";

const pkg = process.env.REDPIPE_PKG;
const minimal = process.env.REDPIPE_MINIMAL;
const url = process.env.REDPIPE_BRIDGE_URL;
const token = process.env.REDPIPE_BRIDGE_TOKEN;
const redisPort = Number(process.env.REDIS_PORT);
if (!pkg || !minimal || !url || !token || !redisPort) {
  throw new Error("run these tests with `cargo xtask wasm` (REDPIPE_PKG, REDPIPE_MINIMAL, REDPIPE_BRIDGE_URL, REDPIPE_BRIDGE_TOKEN, REDIS_PORT)");
}
const redpipe = await import(join(pkg, "node.js"));
const { tcp } = await import(join(pkg, "net.js"));
const { streams } = await import(join(pkg, "streams.js"));
const { subscribe } = await import(join(pkg, "subscribe-node.js"));

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
  const big = key("bigint");
  b.set(big, 12345678901234567890n);
  const bigText = b.get(big);
  const z = key("zset");
  b.zadd(z, Infinity, "top");
  b.zadd(z, -2.5, "low");
  const [top, low, none] = [b.zscore(z, "top"), b.zscore(z, "low"), b.zscore(z, "missing")];
  const flags = b.command("ECHO", true);
  const nested = b.command("EXISTS", [big, [z, null], undefined]);
  assert.throws(() => b.set(key("bad"), { no: "objects" }), (e) => e instanceof TypeError && /a command argument must be/.test(e.message));
  await b.execute();
  assert.equal(bigText.result, "12345678901234567890");
  assert.deepEqual([top.result, low.result, none.result], [Infinity, -2.5, null]);
  assert.equal(flags.result, "1");
  assert.equal(nested.result, 2);
  assert.deepEqual([...raw.bytes], [0, 255, 1]);
  assert.equal(set.result, true);
  assert.equal(f.result, 1.5);
  assert.deepEqual(all.result, { a: "1", b: "2" });
  client.close();
});

test("a wrong token is refused with the close code and reason", async () => {
  await assert.rejects(
    redpipe.connect(url, "wrong"),
    (e) => e.name === "ConnectionError" && e.code === 1008 && /invalid token/.test(e.reason) && /invalid token/.test(e.message),
  );
});

// A port nothing listens on (bound, then released).
const deadPort = async () => {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
};

test("connect() to a dead port rejects with a ConnectionError (Node 20's WebSocket sends no close event)", async () => {
  const port = await deadPort();
  await assert.rejects(
    redpipe.connect(`ws://127.0.0.1:${port}`, token),
    (e) => e.name === "ConnectionError" && e.code === 1006 && e.reason === "" && /websocket refused \(code 1006\)/.test(e.message),
  );
  // A URL the runtime's WebSocket refuses.
  await assert.rejects(
    redpipe.connect("not a url", token),
    (e) => e.name === "ConnectionError" && e.code === undefined && /^connection error: connection refused: ./.test(e.message),
  );
  // A duplex counts as open at once: the refusal comes with the first pipeline.
  const client = await redpipe.connectDuplex(tcp(port));
  const p = client.pipeline();
  const pong = p.ping();
  await assert.rejects(p.execute(), (e) => e.name === "ConnectionError" && /ECONNREFUSED/.test(e.message));
  assert.throws(() => pong.result, (e) => e.name === "ConnectionError" && /ECONNREFUSED/.test(e.message));
  client.close();
});

// A stand-in for the bridge: completes the WebSocket handshake, then behaves as `act` says
// with the client's frames (masked; only their arrival matters here) and `frame(opcode,
// payload)` to answer.
const fakeBridge = async (act) => {
  const server = createServer();
  server.on("upgrade", (req, socket) => {
    const accept = createHash("sha1")
      .update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
      .digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const frame = (opcode, payload) => socket.write(Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]));
    const close = (code, reason) => {
      const text = Buffer.from(reason);
      const payload = Buffer.alloc(2 + text.length);
      payload.writeUInt16BE(code);
      text.copy(payload, 2);
      frame(8, payload);
      socket.end();
    };
    act({ socket, frame, close });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `ws://127.0.0.1:${server.address().port}`, stop: () => server.close() };
};

test("a refusal's close code and reason reach the ConnectionError (a refused origin is not a bridge that is down)", async () => {
  const bridge = await fakeBridge(({ close }) => close(1008, "origin not allowed: http://evil.example"));
  await assert.rejects(
    redpipe.connect(bridge.url, token),
    (e) =>
      e.name === "ConnectionError" &&
      e.code === 1008 &&
      e.reason === "origin not allowed: http://evil.example" &&
      e.message.endsWith("websocket closed (code 1008: origin not allowed: http://evil.example)"),
  );
  bridge.stop();
});

test("a close during a pipeline: execute rejects and the handles throw the same ConnectionError, code and reason", async () => {
  const bridge = await fakeBridge(({ socket, frame, close }) => {
    let frames = 0;
    socket.on("data", () => {
      // The token, then the pipeline (then the client's answer to the close: ignored).
      frames += 1;
      if (frames === 1) frame(1, Buffer.from("ready"));
      if (frames === 2) close(1011, "redis unavailable");
    });
  });
  const client = await redpipe.connect(bridge.url, token);
  const p = client.pipeline();
  const h = p.incr(key("cut"));
  const after = p.onExecute(() => "never");
  await assert.rejects(p.execute(), (e) => e.name === "ConnectionError" && e.code === 1011 && e.reason === "redis unavailable");
  assert.throws(() => h.result, (e) => e.name === "ConnectionError" && e.code === 1011 && e.reason === "redis unavailable");
  assert.throws(() => after.result, (e) => e.name === "ConnectionError" && e.code === 1011);
  client.close();
  bridge.stop();
});

test("command(name) without arguments, and eval with keys and arguments", async () => {
  // Straight to Redis: the bridge's policy may refuse scripts.
  const client = await redpipe.connectDuplex(tcp(redisPort));
  const p = client.pipeline();
  const pong = p.command("PING");
  const echo = p.command("ECHO", "hi");
  const k = key("eval");
  const sum = p.eval("return redis.call('INCRBY', KEYS[1], ARGV[1]) + #KEYS * 100", [k], [5]);
  const none = p.eval("return #KEYS + #ARGV");
  const many = p.eval("return {KEYS[1], KEYS[2], ARGV[1]}", [k, [new Uint8Array([104, 105])]], "x");
  await p.execute();
  assert.equal(pong.result, "PONG");
  assert.equal(echo.result, "hi");
  assert.equal(sum.result, 105);
  assert.equal(none.result, 0);
  assert.deepEqual(many.result, [k, "hi", "x"]);
  client.close();
});

test("web streams as a duplex (Workers and Deno sockets): a Node socket's streams straight to Redis", async () => {
  const client = await redpipe.connectDuplex(
    streams(() => {
      const socket = net.connect(redisPort, "127.0.0.1");
      const { readable, writable } = Duplex.toWeb(socket);
      return { readable, writable, close: () => socket.destroy() };
    }),
  );
  const p = client.pipeline();
  const k = key("streams");
  const many = Array.from({ length: 5000 }, () => p.incr(k));
  await p.execute();
  assert.equal(many[4999].result, 5000);
  client.close();
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
  await assert.rejects(redpipe.connectDuplex("tcp://127.0.0.1:6379"), (e) => e instanceof TypeError && /must be a function/.test(e.message));
  await assert.rejects(client.connectDuplex("second", {}), (e) => e instanceof TypeError);
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

test("a duplex opener that throws or rejects is refused with its message; a promise of a duplex is awaited", async () => {
  const refused = (text) => (e) => e.name === "ConnectionError" && e.message === `connection error: connection refused: ${text}`;
  await assert.rejects(redpipe.connectDuplex(() => { throw new Error("no sockets here"); }), refused("no sockets here"));
  await assert.rejects(redpipe.connectDuplex(async () => { throw "denied"; }), refused("denied"));
  await assert.rejects(redpipe.connectDuplex(() => Promise.reject(42)), refused("JavaScript error"));
  // A duplex whose `listen` throws.
  const deaf = { send() {}, close() {}, listen() { throw new Error("cannot listen"); } };
  await assert.rejects(redpipe.connectDuplex(() => deaf), refused("cannot listen"));
  await assert.rejects(redpipe.connectDuplex(() => ({ ...deaf, listen() { throw 7; } })), refused("error"));
  const open = tcp(redisPort);
  let opened = 0;
  const client = await redpipe.connectDuplex(async () => {
    await new Promise((r) => setTimeout(r, 10));
    opened++;
    return open();
  });
  const p = client.pipeline();
  const pong = p.ping();
  await p.execute();
  assert.equal(pong.result, "PONG");
  assert.equal(opened, 1);
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

test("redpipe-wasm/subscribe: messages published through the bridge arrive in a for-await loop; a channel outside the rules is refused", async () => {
  // The bridge lets tokens that name no channels use `test:*`.
  const chat = `test:${key("chat")}`;
  const sub = await subscribe(url, token, { channels: [chat], patterns: [`${chat}:*`] });
  const client = await redpipe.connect(url, token);
  const p = client.pipeline();
  const heard = p.command("PUBLISH", [chat, "héllo"]);
  const viaPattern = p.command("PUBLISH", [`${chat}:x`, new Uint8Array([1, 2])]);
  await p.execute();
  assert.deepEqual([heard.result, viaPattern.result], [1, 1]);
  const got = [];
  for await (const m of sub) {
    got.push(m);
    if (got.length == 2) break; // break closes the subscriber
  }
  assert.equal(got[0].channel, chat);
  assert.equal(got[0].message, "héllo");
  assert.equal(got[0].pattern, undefined);
  assert.deepEqual([got[1].channel, got[1].pattern, [...got[1].bytes]], [`${chat}:x`, `${chat}:*`, [1, 2]]);

  const other = await subscribe(url, token);
  await assert.rejects(other.subscribe("not-test"), (e) => e.name == "RedisError" && e.code == "NOPERM" && /channel 'not-test'/.test(e.message));
  await assert.rejects(subscribe(url, token, { patterns: ["*"] }), (e) => e.code == "NOPERM");
  await other.subscribe(chat); // still usable after a refusal
  const p2 = client.pipeline();
  const n = p2.command("PUBLISH", [chat, "again"]);
  await p2.execute();
  assert.equal(n.result, 1);
  assert.equal((await other.next()).value.message, "again");
  other.close();
  assert.deepEqual(await other.next(), { value: undefined, done: true });
  client.close();
});

test("redpipe-wasm/subscribe: a session Redis drops is opened again, every name subscribed again, with a gap", async () => {
  const chat = `test:${key("gap")}`;
  const sub = await subscribe(url, token, { channels: [chat], patterns: [`${chat}:*`] });
  let told = 0;
  sub.ongap = () => told++;
  // Straight to Redis: the bridge refuses CLIENT. Redis drops the bridge's subscribed
  // connection, and the bridge ends the session.
  const admin = await redpipe.connectDuplex(tcp(redisPort));
  const kill = admin.pipeline();
  const killed = kill.command("CLIENT", ["KILL", "TYPE", "pubsub"]);
  await kill.execute();
  assert.ok(killed.result >= 1);
  const deadline = Date.now() + 15000;
  while (sub.gaps == 0) {
    assert.ok(Date.now() < deadline, "the session was not opened again");
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(told, 1);
  // Both names are back, without a call: each message reaches the page once.
  const client = await redpipe.connect(url, token);
  const publish = async (channel, m) => {
    const p = client.pipeline();
    const n = p.command("PUBLISH", [channel, m]);
    await p.execute();
    return n.result;
  };
  while ((await publish(chat, "back")) == 0) {
    assert.ok(Date.now() < deadline, "the channel was not subscribed again");
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(await publish(`${chat}:x`, "pattern"), 1);
  const got = [];
  while (got.at(-1)?.[1] != "pattern") {
    const m = (await sub.next()).value;
    got.push([m.channel, m.message]);
  }
  assert.deepEqual(got.at(-1), [`${chat}:x`, "pattern"]);
  assert.ok(got.slice(0, -1).every(([c, m]) => c == chat && m == "back"), JSON.stringify(got));
  // Still usable after the gap: a new name.
  await sub.subscribe(`${chat}-2`);
  assert.equal(await publish(`${chat}-2`, "two"), 1);
  assert.deepEqual([(await sub.next()).value.message, sub.gaps], ["two", 1]);
  sub.close();
  admin.close();
  client.close();
});

test("the generated TypeScript declarations are precise", () => {
  const dts = readFileSync(join(pkg, "redpipe_wasm.d.ts"), "utf8");
  for (const line of [
    "incr(key: Arg): Handle<number>;",
    "get(key: Arg): Handle<string | null>;",
    "hgetall(key: Arg): Handle<Record<string, string>>;",
    "del(keys: Arg | Arg[]): Handle<number>;",
    "autoexec<T>(pipe: Pipeline | null | undefined, f: (p: Pipeline) => T | Promise<T>): Promise<T>;",
    "onExecute<T>(f: () => T): Handle<T>;",
    "export function connect(url: string, token?: string | null, options?: ConnectOptions): Promise<Client>;",
    "execute(): Promise<void>;",
    "command<T = unknown>(name: string, args?: Arg | Arg[]): Handle<T>;",
    "eval<T = unknown>(script: string, keys?: Arg | Arg[], args?: Arg | Arg[]): Handle<T>;",
    "export interface ConnectionError extends Error {",
  ]) {
    assert.ok(dts.includes(line), `missing from the .d.ts: ${line}`);
  }
  const subDts = readFileSync(join(pkg, "redpipe_subscribe.d.ts"), "utf8");
  for (const line of [
    "export function subscribe(url: string, token?: string | null, names?: SubscribeNames): Promise<Subscriber>;",
    "subscribe(...channels: string[]): Promise<void>;",
    "readonly gaps: number;",
  ]) {
    assert.ok(subDts.includes(line), `missing from redpipe_subscribe.d.ts: ${line}`);
  }
  assert.ok(!/: any\b/.test(subDts), "no parameter or result is typed `any`");
  assert.ok(!/: any\b/.test(dts), "no parameter or result is typed `any`");
});

test("the size report's smallest program (wasm/minimal) runs its pipeline through the bridge", async () => {
  const { initSync, run } = await import(join(minimal, "minimal.js"));
  initSync({ module: readFileSync(join(minimal, "minimal_bg.wasm")) });
  const [k, other] = [key("minimal"), key("other")];
  assert.equal(await run(url, token, k, other), 1);
  assert.equal(await run(url, token, k, other), 2);
  await assert.rejects(run(url, "wrong", k, other), (e) => typeof e === "string" && /invalid token/.test(e));
});
