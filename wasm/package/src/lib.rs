//! The `.wasm` of the npm package that `cargo xtask wasm` builds: `redpipe-wasm`'s JavaScript
//! API (feature `js`) with talc as the allocator, and without `std`, so that a panic traps
//! without formatting its message (nothing would show it: the page sees a `RuntimeError`
//! either way).
#![cfg_attr(target_family = "wasm", no_std)]

pub use redpipe_wasm::*;

/// A panic traps (`unreachable`): the JavaScript caller gets a `RuntimeError`.
#[cfg(all(target_family = "wasm", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
