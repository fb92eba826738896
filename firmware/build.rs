//! Puts `memory.x` where the cortex-m-rt linker script finds it, and links with that script.
//!
//! The `-Tlink.x` argument lives here rather than in `.cargo/config.toml`: config rustflags are
//! inherited by every package below this directory (the QEMU images in `qemu/`, which bring
//! their own layout), while a build script speaks for its own package only.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("memory.x is beside Cargo.toml");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
}
