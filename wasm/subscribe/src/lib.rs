//! The `.wasm` of the npm package's second module, `redpipe-wasm/subscribe`: `redpipe-wasm`'s
//! JavaScript `subscribe` (feature `js-subscribe`) with talc as the allocator, and without
//! `std`, as the package's main module is built (`wasm/package`). A module of its own so that a
//! page that only pipelines does not load the subscriber, nor one that only subscribes the
//! pipelines.
#![cfg_attr(target_family = "wasm", no_std)]

pub use redpipe_wasm::*;

/// A panic traps (`unreachable`): the JavaScript caller gets a `RuntimeError`.
#[cfg(all(target_family = "wasm", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
