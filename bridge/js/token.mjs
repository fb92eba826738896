// Mints a redpipe-bridge token in an application's backend: Node >= 16, Deno, Bun, or any
// runtime with `node:crypto`. Any JWT library that signs HS256 makes tokens the bridge accepts
// too; this is the whole of it, without a dependency.
//
// The backend calls it after its own login check, once per page load or reconnect, and hands
// the token to the page (for example from a `GET /redpipe-token` route answered only to the
// logged-in user, same origin, `Cache-Control: no-store`). The secret is the content of the
// bridge's `--token-secret-file` (without surrounding whitespace) and never leaves the servers.
import { createHmac } from "node:crypto";

const b64 = (text) => Buffer.from(text).toString("base64url");

/**
 * A token that opens one bridge session until it expires.
 *
 * @param {string} secret - the shared signing secret (32 bytes or more).
 * @param {object} [grant]
 * @param {string} [grant.user] - the Redis ACL user the session runs as (the bridge knows its password).
 * @param {string} [grant.prefix] - confine the session to keys that start with this.
 * @param {string[]} [grant.commands] - only these commands (`"GET"`, `"CLIENT SETNAME"`), among those the bridge allows.
 * @param {string[]} [grant.subscribe] - the channels it may subscribe to: a name (`"room:1"`) or a prefix and `*` (`"room:1:*"`); without it, the bridge's `--subscribe` rules.
 * @param {string[]} [grant.publish] - the channels it may publish to, the same way; without it, the bridge's `--publish` rules.
 * @param {number} [grant.ttl=60] - seconds until the token stops opening sessions.
 * @param {number} [grant.expires] - or the Unix time at which it stops.
 * @returns {string}
 */
export function mintBridgeToken(secret, { user, prefix, commands, subscribe, publish, ttl = 60, expires } = {}) {
  // Claims in the order the bridge's own `token::mint` writes them, so both make the same bytes.
  const claims = {};
  if (commands) claims.commands = commands;
  claims.exp = expires ?? Math.floor(Date.now() / 1000) + ttl;
  if (prefix) claims.prefix = prefix;
  if (publish) claims.publish = publish;
  if (user) claims.sub = user;
  if (subscribe) claims.subscribe = subscribe;
  const signed = `${b64(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64(JSON.stringify(claims))}`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
}
