// Reply text to JavaScript values, with JavaScript's own decoder and number parser (smaller in
// the `.wasm` than Rust's lossy UTF-8 conversion and float parsing; see handle.rs).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

// Bytes as text; invalid UTF-8 becomes U+FFFD, as with Rust's `String::from_utf8_lossy`.
export const text = (bytes) => decoder.decode(bytes);

// A number sent as text (`1.5`, `inf`, `-inf`, `nan`), or null when it is not one.
export const float = (bytes) => {
  const s = decoder.decode(bytes);
  const n = parseFloat(s.replace("inf", "Infinity"));
  return n === n || s == "nan" ? n : null;
};
