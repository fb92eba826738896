import type { Duplex } from "./redpipe_wasm.js";

/** A socket carrying bytes over web streams (a Workers socket, a `Deno.Conn`...). */
export interface StreamSocket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  close(): unknown;
}

/**
 * An opener for `connectDuplex`: each call opens a socket with `open()` (or awaits the one it
 * promises) and carries redpipe's bytes over its streams.
 */
export function streams<S extends StreamSocket>(
  open: () => S | Promise<S>,
): () => Promise<Duplex & { socket: S }>;
