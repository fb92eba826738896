// Web streams as a redpipe Duplex: a Cloudflare Workers socket (`connect()` from
// "cloudflare:sockets"), a Deno connection (`Deno.connect`), or anything else with a readable
// and a writable byte stream, straight to Redis.

/**
 * An opener for `connectDuplex`: each call opens a socket with `open()` (or awaits the one it
 * promises) and carries redpipe's bytes over its `readable` and `writable` streams.
 */
export function streams(open) {
  return async () => {
    const socket = await open();
    const writer = socket.writable.getWriter();
    let ended = false;
    let onEnd = () => {};
    const end = (why) => {
      if (!ended) {
        ended = true;
        onEnd(why);
      }
    };
    return {
      send(bytes) {
        writer.write(bytes).catch(end);
      },
      close() {
        ended = true;
        Promise.resolve()
          .then(() => socket.close())
          .catch(() => {});
      },
      listen(onData, onClose) {
        onEnd = onClose;
        const reader = socket.readable.getReader();
        (async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return end("socket closed");
            onData(value);
          }
        })().catch(end);
      },
      socket,
    };
  };
}
