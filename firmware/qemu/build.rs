//! Gives the image the memory map of the board its target runs on under QEMU, and links with
//! the runtime's script (`link.x` of cortex-m-rt or riscv-rt, which includes `memory.x`).
use std::{env, fs, path::PathBuf};

fn main() {
    let layout = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("arm") => "memory/mps2-an386.x",
        Ok("riscv32") => "memory/riscv-virt.x",
        other => panic!(
            "no QEMU board for target arch {other:?}: build with --target \
             thumbv7em-none-eabihf or --target riscv32imc-unknown-none-elf"
        ),
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(layout, out.join("memory.x")).expect("the layouts are in memory/");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed={layout}");
}
