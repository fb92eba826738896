// The entry for Node (>= 20) and Deno: the browser's module, with the `.wasm` read from the
// package's files when it is imported, so that no `init()` is needed (it resolves at once).
import { readFileSync } from "node:fs";
import { initSync } from "./redpipe_wasm.js";

initSync({ module: readFileSync(new URL("./redpipe_wasm_bg.wasm", import.meta.url)) });

export * from "./redpipe_wasm.js";
export { default } from "./redpipe_wasm.js";
