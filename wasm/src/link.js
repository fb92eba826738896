// The event handlers of a link (see link.rs): every event of a WebSocket or of a duplex goes to
// one Rust function as `on(kind, value, code)`: 0 open, 1 text, 2 bytes, 3 error (its message),
// 4 close (the reason, and the close code: 0 for a duplex), 5 refused (the socket could not be
// made, or the duplex opened: the message). Every argument is passed (debug builds of the glue
// check that a number is a number).

// An exception's message: the exception if it is a string, else its `message`, else `or`.
const text = (e, or) => {
  try {
    return typeof e == "string" ? e : typeof e.message == "string" ? e.message : or;
  } catch {
    return or;
  }
};

// Opens a link and returns its socket (`send`, `close`) at once. `target` is a WebSocket URL
// (binary messages as `ArrayBuffer`s), or with `duplex` a duplex, or a function returning one or
// a promise of one (awaited here: no Rust future for it); the socket's `send` and `close` then go
// to the duplex, and a duplex that comes after the socket was closed is closed. A WebSocket asks
// for the subprotocol `protocol` when one is given (a bridge's subscriber session).
export function openLink(target, on, duplex, protocol) {
  const refuse = (e, or) => on(5, text(e, or), 0);
  if (!duplex) {
    try {
      const ws = protocol ? new WebSocket(target, protocol) : new WebSocket(target);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => on(0, null, 0);
      ws.onmessage = (e) => on(typeof e.data == "string" ? 1 : 2, typeof e.data == "string" ? e.data : new Uint8Array(e.data), 0);
      ws.onerror = (e) => on(3, e.message, 0);
      ws.onclose = (e) => on(4, e.reason, e.code);
      return ws;
    } catch (e) {
      refuse(e, "error");
      return { close() {} };
    }
  }
  const s = {
    send: (bytes) => s.d.send(bytes),
    close: () => {
      s.closed = true;
      if (s.d) s.d.close();
    },
  };
  const use = (d) => {
    if (s.closed) {
      try {
        d.close();
      } catch {}
      return;
    }
    try {
      d.listen(
        (bytes) => on(2, bytes, 0),
        (why) => on(4, why == null ? "" : typeof why == "string" ? why : why.message || String(why), 0),
      );
    } catch (e) {
      return refuse(e, "error");
    }
    s.d = d;
    on(0, null, 0);
  };
  try {
    const d = typeof target == "function" ? target() : target;
    if (d instanceof Promise) d.then(use, (e) => refuse(e, "JavaScript error"));
    else use(d);
  } catch (e) {
    refuse(e, "JavaScript error");
  }
  return s;
}

export function unlisten(ws) {
  ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
}
