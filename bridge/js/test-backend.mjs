// The application backend of `cargo xtask wasm`: `GET /token` answers a fresh token minted by
// `token.mjs`, as a real backend would after checking who asks. For the tests, the page may ask
// for `?prefix=` (a confined session), `?ttl=` (seconds; negative: an expired token),
// `?subscribe=` and `?publish=` (channel rules, comma-separated), and
// any origin may ask (the test page is served from another port). Prints `listening on ADDR`.
//
// Environment: REDPIPE_BRIDGE_SECRET_FILE, the bridge's --token-secret-file.
import http from "node:http";
import { readFileSync } from "node:fs";
import { mintBridgeToken } from "./token.mjs";

const secret = readFileSync(process.env.REDPIPE_BRIDGE_SECRET_FILE, "utf8").trim();
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname !== "/token") {
    res.writeHead(404).end();
    return;
  }
  const token = mintBridgeToken(secret, {
    prefix: url.searchParams.get("prefix") ?? undefined,
    ttl: Number(url.searchParams.get("ttl") ?? 60),
    subscribe: url.searchParams.get("subscribe")?.split(","),
    publish: url.searchParams.get("publish")?.split(","),
  });
  res
    .writeHead(200, {
      "content-type": "text/plain",
      "cache-control": "no-store",
      "access-control-allow-origin": "*",
    })
    .end(token);
});
server.listen(0, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${server.address().port}`));
