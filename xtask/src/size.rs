//! `cargo xtask size`: the flash and RAM footprint of the no-allocator firmware image, beside
//! the same job done with redis-protocol (which needs an allocator, hashbrown and libm).

use std::path::Path;
use std::process::Command;

use crate::setup::{self, root, run};

const TARGET: &str = "thumbv7em-none-eabihf";
const SECTIONS: [&str; 4] = [".text", ".rodata", ".data", ".bss"];
/// The flash budget for the no-allocator image (8 KiB). Reported, not enforced: the number
/// moves with the compiler version, and a new toolchain must not turn unrelated work red.
const TEXT_GOAL: u64 = 8 * 1024;

/// Builds the firmware images (`opt-level = "z"`, LTO); with `report`, prints their sections.
pub(crate) fn firmware(report: bool) -> Result<(), String> {
    setup::rust()?;
    let dir = root().join("firmware");
    let cargo = || {
        let mut c = setup::cargo();
        c.current_dir(&dir);
        c
    };
    run(cargo().args(["build", "--release", "--target", TARGET, "--bin", "redpipe"]))?;
    if !report {
        return Ok(());
    }
    run(cargo().args([
        "build",
        "--release",
        "--target",
        TARGET,
        "--bin",
        "baseline",
    ]))?;
    run(cargo()
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--bin",
            "redis-protocol",
        ])
        .args(["--features", "redis-protocol"]))?;
    let bin = dir.join("target").join(TARGET).join("release");
    let ours = sections(&bin.join("redpipe"))?;
    let theirs = sections(&bin.join("redis-protocol"))?;
    let base = sections(&bin.join("baseline"))?;
    println!("\nfirmware footprint, {TARGET}, opt-level=z, LTO (bytes):");
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8}",
        "image", ".text", ".rodata", ".data", ".bss"
    );
    for (name, s) in [
        ("runtime alone (baseline)", &base),
        ("redpipe-core (no allocator)", &ours),
        ("redis-protocol (16 KiB heap)", &theirs),
    ] {
        println!("{name:<34} {:>8} {:>8} {:>8} {:>8}", s[0], s[1], s[2], s[3]);
    }
    let verdict = if ours[0] <= TEXT_GOAL {
        "met"
    } else {
        "missed"
    };
    println!(
        "goal: .text <= {TEXT_GOAL} bytes for encode + resolve: {verdict} ({} bytes)",
        ours[0]
    );
    Ok(())
}

/// Sizes of [`SECTIONS`] in an ELF file, read with binutils' `size -A`.
fn sections(elf: &Path) -> Result<[u64; 4], String> {
    let out = Command::new("size")
        .arg("-A")
        .arg(elf)
        .output()
        .map_err(|e| format!("cannot run `size` (binutils): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sizes = [0; 4];
    for line in text.lines() {
        let mut cols = line.split_whitespace();
        if let (Some(name), Some(size)) = (cols.next(), cols.next()) {
            if let Some(i) = SECTIONS.iter().position(|s| *s == name) {
                sizes[i] = size.parse().unwrap_or(0);
            }
        }
    }
    Ok(sizes)
}
