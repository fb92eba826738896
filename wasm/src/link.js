// The event handlers of a link (see link.rs): every event of a WebSocket or of a duplex goes to
// one Rust function as `on(kind, value, code)`: 0 open, 1 text, 2 bytes, 3 error (its message),
// 4 close (the reason, and the close code: 0 for a duplex). Every argument is passed (debug
// builds of the glue check that a number is a number).

export function openWebSocket(url, on) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => on(0, null, 0);
  ws.onmessage = (e) => on(typeof e.data == "string" ? 1 : 2, typeof e.data == "string" ? e.data : new Uint8Array(e.data), 0);
  ws.onerror = (e) => on(3, e.message, 0);
  ws.onclose = (e) => on(4, e.reason, e.code);
  return ws;
}

export function listenDuplex(duplex, on) {
  duplex.listen(
    (bytes) => on(2, bytes, 0),
    (why) => on(4, why == null ? "" : typeof why == "string" ? why : why.message || String(why), 0),
  );
}

export function unlisten(ws) {
  ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
}
