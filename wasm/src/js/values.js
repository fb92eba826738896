// Reply text to JavaScript values, with JavaScript's own decoder and number parsers (smaller in
// the `.wasm` than Rust's lossy UTF-8 conversion and float parsing; see handle.rs and error.rs).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

// Bytes as text; invalid UTF-8 becomes U+FFFD, as with Rust's `String::from_utf8_lossy`.
export const text = (bytes) => decoder.decode(bytes);

// A number sent as text (`1.5`, `inf`, `-inf`, `nan`), or null when it is not one.
export const float = (bytes) => {
  const s = decoder.decode(bytes);
  const n = parseFloat(s.replace("inf", "Infinity"));
  return n === n || s == "nan" ? n : null;
};

// RESP3 big number digits as a BigInt (as text if BigInt cannot read them).
export const bigint = (bytes) => {
  const s = decoder.decode(bytes);
  try {
    return BigInt(s);
  } catch {
    return s;
  }
};

// A `RedisError` for the text of an error reply: `code` is its first word when that is an
// uppercase code (`ERR`, `WRONGTYPE`, `NOPERM`...; as `ServerError::code`), else "".
export const redisError = (bytes) => {
  const message = decoder.decode(bytes);
  const e = new Error(message);
  e.name = "RedisError";
  const word = message.split(" ", 1)[0];
  e.code = /^[A-Z_]+$/.test(word) ? word : "";
  return e;
};
