// The package as a user meets it: installed from its tarball (`cargo xtask wasm` runs this in a
// scratch project, with REDIS_PORT), imported by name, no init() on Node, straight to Redis
// over Node's `net`.
import assert from "node:assert/strict";
import init, { connectDuplex } from "redpipe-wasm";
import { tcp } from "redpipe-wasm/net";
import { streams } from "redpipe-wasm/streams";

await init(); // a no-op on Node: the entry has read the .wasm already
const port = Number(process.env.REDIS_PORT);
const client = await connectDuplex(tcp(port));
const p = client.pipeline();
const pong = p.ping();
const echo = p.command("ECHO", "installed");
await p.execute();
assert.equal(pong.result, "PONG");
assert.equal(echo.result, "installed");
client.close();
assert.equal(typeof streams, "function");
console.log("the installed package works from Node");
