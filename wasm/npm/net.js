// Node's `net` as a redpipe Duplex: redpipe-wasm straight to Redis over TCP, no bridge.
import net from "node:net";

/**
 * An opener for `connectDuplex`: each call opens a TCP connection to Redis at `host:port`.
 * @param {number} port
 * @param {string} [host]
 */
export function tcp(port, host = "127.0.0.1") {
  return () => {
    const socket = net.connect(port, host);
    socket.setNoDelay(true);
    return {
      send(bytes) {
        socket.write(bytes);
      },
      close() {
        socket.destroy();
      },
      listen(onData, onClose) {
        socket.on("data", onData);
        socket.on("error", (e) => onClose(e.message));
        socket.on("close", () => onClose("socket closed"));
      },
      socket,
    };
  };
}
