//! `cargo xtask size`: the flash and RAM footprint of the no-allocator firmware image, beside
//! the same job done through the core's mux (two pipelines sharing one link) and with
//! redis-protocol (which needs an allocator, hashbrown and libm).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setup::{self, root, run};
use crate::stack;

const TARGET: &str = "thumbv7em-none-eabihf";
const SECTIONS: [&str; 4] = [".text", ".rodata", ".data", ".bss"];
/// The flash budget for the no-allocator image (8 KiB). Reported, not enforced: the number
/// moves with the compiler version, and a new toolchain must not turn unrelated work red.
const TEXT_GOAL: u64 = 8 * 1024;

/// Functions of the redpipe image whose worst-case stack is reported: the three steps.
const STEPS: [(&str, &str); 3] = [
    ("redpipe::queue", "queue and encode 5 commands"),
    ("redpipe::feed", "feed replies (handle_input)"),
    ("redpipe::read", "read the 5 results"),
];

/// Builds the firmware images (`opt-level = "z"`, LTO) and prints their sections and the
/// worst-case stack of each step of the redpipe image.
pub(crate) fn firmware() -> Result<(), String> {
    setup::rust()?;
    let dir = root().join("firmware");
    let cargo = || {
        let mut c = setup::cargo();
        c.current_dir(&dir);
        c
    };
    for (bin, features) in [
        ("redpipe", None),
        ("mux", None),
        ("baseline", None),
        ("redis-protocol", Some("redis-protocol")),
    ] {
        let mut build = cargo();
        build.args(["build", "--release", "--target", TARGET, "--bin", bin]);
        if let Some(f) = features {
            build.args(["--features", f]);
        }
        run(&mut build)?;
    }
    let bin = dir.join("target").join(TARGET).join("release");
    let ours = sections(&bin.join("redpipe"))?;
    let shared = sections(&bin.join("mux"))?;
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
        ("  same job through a mux", &shared),
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
    println!(
        "the mux (two submitters on one link, no allocator) adds {} bytes of .text",
        shared[0].saturating_sub(ours[0])
    );

    let graph = stack::CallGraph::of(&llvm_tool("llvm-objdump")?, &bin.join("redpipe"))?;
    println!("\nworst-case stack of each step of the redpipe image (bytes, from the call graph):");
    for (function, step) in STEPS {
        let (bytes, path) = graph.worst_case(function)?;
        println!("{step:<34} {bytes:>8}   deepest: {}", path.join(" > "));
    }
    Ok(())
}

/// A tool of the `llvm-tools` rustup component (it knows every target rustc builds for).
fn llvm_tool(name: &str) -> Result<PathBuf, String> {
    let sysroot = setup::output(Command::new("rustc").args(["--print", "sysroot"]))
        .ok_or("cannot run `rustc --print sysroot`")?;
    let version = setup::output(Command::new("rustc").arg("-vV")).unwrap_or_default();
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or("cannot read the host triple from `rustc -vV`")?;
    let tool = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host)
        .join("bin")
        .join(name);
    if tool.exists() {
        Ok(tool)
    } else {
        Err(format!(
            "{} not found: run `rustup component add llvm-tools`",
            tool.display()
        ))
    }
}

/// Sizes of [`SECTIONS`] in an ELF file, read with `llvm-size -A`.
pub(crate) fn sections(elf: &Path) -> Result<[u64; 4], String> {
    let out = Command::new(llvm_tool("llvm-size")?)
        .arg("-A")
        .arg(elf)
        .output()
        .map_err(|e| format!("cannot run llvm-size: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sizes = [0; 4];
    for line in text.lines() {
        let mut cols = line.split_whitespace();
        if let (Some(name), Some(size)) = (cols.next(), cols.next())
            && let Some(i) = SECTIONS.iter().position(|s| *s == name)
        {
            sizes[i] = size.parse().unwrap_or(0);
        }
    }
    Ok(sizes)
}
