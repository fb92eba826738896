// The entry of `redpipe-wasm/subscribe` for Node (>= 20) and Deno: the browser's module, with
// its `.wasm` read from the package's files when it is imported, so that no `init()` is needed.
import { readFileSync } from "node:fs";
import { initSync } from "./redpipe_subscribe.js";

initSync({ module: readFileSync(new URL("./redpipe_subscribe_bg.wasm", import.meta.url)) });

export * from "./redpipe_subscribe.js";
export { default } from "./redpipe_subscribe.js";
