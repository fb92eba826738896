import type { Duplex } from "./redpipe_wasm.js";
import type { Socket } from "node:net";

/** An opener for `connectDuplex`: each call opens a TCP connection to Redis at `host:port`. */
export function tcp(port: number, host?: string): () => Duplex & { socket: Socket };
