//! The smallest useful redpipe-wasm program, for the size report: a Rust function exported to
//! JavaScript that runs a four-command pipeline through the bridge (the core, the `Pipe` model,
//! the WebSocket transport and the glue, without the JavaScript API of feature `js` or the JS
//! duplexes of feature `duplex`).
//!
//! `cargo xtask wasm` builds it with the `wasm-release` profile and prints its size beside the
//! npm package's. Like the package it links no `std`: `redpipe-wasm` without default features
//! (`small-alloc` for the allocator) and a panic handler that traps.
#![cfg_attr(target_family = "wasm", no_std)]

extern crate alloc;

use alloc::string::{String, ToString};

use redpipe_wasm::prelude::*;
use redpipe_wasm::{Connections, Options};
use wasm_bindgen::prelude::*;

/// Increments `key`, sets its expiry, reads it back and deletes `other`: the count.
#[wasm_bindgen]
pub async fn run(url: String, token: String, key: String, other: String) -> Result<f64, JsValue> {
    let fail = |e: redpipe_wasm::Error| JsValue::from_str(&e.to_string());
    let redis = Connections::new();
    redis
        .connect("", &url, Options::token(token))
        .await
        .map_err(fail)?;
    let mut p = redis.pipe();
    let _ = p.incr(key.as_str());
    let _ = p.expire(key.as_str(), 60);
    let n = p.get(key.as_str()).cast::<i64>();
    let _ = p.del(other.as_str());
    p.execute_async().await.map_err(fail)?;
    n.result().map(|n| n as f64).map_err(fail)
}

/// A panic traps (`unreachable`) without formatting its message: nothing would show it.
#[cfg(all(target_family = "wasm", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
