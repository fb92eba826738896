//! Worst-case stack use of a Thumb (Cortex-M) image, from its disassembly: each function's frame
//! is read from its prologue (`push`, `vpush`, `sub sp`), and the deepest path through the
//! direct calls (`bl`, and branches to other functions) sums the frames on it.
//!
//! Sound for code without recursion, dynamic stack allocation or indirect calls; each of these
//! is reported as an error rather than guessed. That holds for the firmware image: the core never
//! recurses and calls nothing through pointers without `alloc`.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// The functions of an image: frame sizes and direct callees.
pub(crate) struct CallGraph {
    functions: HashMap<String, Function>,
}

#[derive(Default)]
struct Function {
    frame: u64,
    callees: Vec<String>,
    /// Why the frame or the callees cannot be known statically, if they cannot.
    unknown: Option<String>,
}

/// Instructions at the start of a function that may still set up its frame.
const PROLOGUE: usize = 12;

impl CallGraph {
    /// Disassembles `elf` with `objdump` (an `llvm-objdump`).
    pub(crate) fn of(objdump: &Path, elf: &Path) -> Result<Self, String> {
        let out = Command::new(objdump)
            .args(["-d", "--no-show-raw-insn", "--demangle"])
            .arg(elf)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", objdump.display()))?;
        if !out.status.success() {
            return Err(format!("{} failed on {}", objdump.display(), elf.display()));
        }
        Ok(Self::parse(&String::from_utf8_lossy(&out.stdout)))
    }

    fn parse(disassembly: &str) -> Self {
        let mut functions: HashMap<String, Function> = HashMap::new();
        let mut current: Option<(String, usize)> = None;
        for line in disassembly.lines() {
            // "08000b84 <name>:" starts a function.
            if let Some(name) = line
                .split_once(" <")
                .filter(|(addr, _)| addr.chars().all(|c| c.is_ascii_hexdigit()))
                .and_then(|(_, rest)| rest.strip_suffix(">:"))
            {
                functions.entry(name.to_owned()).or_default();
                current = Some((name.to_owned(), 0));
                continue;
            }
            // " 8000f92:      \tcmp\tr2, #4"
            let insn = line
                .split_once(':')
                .filter(|(addr, _)| {
                    let addr = addr.trim();
                    !addr.is_empty() && addr.chars().all(|c| c.is_ascii_hexdigit())
                })
                .map(|(_, insn)| insn);
            let (Some((name, seen)), Some(insn)) = (current.as_mut(), insn) else {
                continue;
            };
            *seen += 1;
            let mut parts = insn.trim().splitn(2, char::is_whitespace);
            let (op, args) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("").trim(),
            );
            let f = functions.entry(name.clone()).or_default();
            if *seen <= PROLOGUE {
                f.frame += prologue_bytes(op, args);
            }
            if op.starts_with("sub") && args.starts_with("sp,") && !args.contains('#') {
                f.unknown = Some(format!("dynamic stack allocation: {op} {args}"));
            }
            if op.starts_with("blx") && !args.contains('<') {
                f.unknown = Some(format!("indirect call: {op} {args}"));
            }
            if let Some(target) = branch_target(op, args).filter(|t| t != name)
                && !f.callees.contains(&target)
            {
                f.callees.push(target);
            }
        }
        Self { functions }
    }

    /// The most stack that `function` (matched by name prefix) and its callees can use, and
    /// the deepest path.
    pub(crate) fn worst_case(&self, function: &str) -> Result<(u64, Vec<String>), String> {
        let name = self
            .functions
            .keys()
            .find(|k| k.starts_with(function))
            .ok_or_else(|| format!("no function {function} in the image"))?;
        self.deepest(name, &mut Vec::new())
    }

    fn deepest(&self, name: &str, path: &mut Vec<String>) -> Result<(u64, Vec<String>), String> {
        if path.iter().any(|p| p == name) {
            return Err(format!("recursion: {} > {name}", path.join(" > ")));
        }
        let Some(f) = self.functions.get(name) else {
            return Ok((0, Vec::new())); // a label inside a function, already counted
        };
        if let Some(why) = &f.unknown {
            return Err(format!("stack of {name} unknown: {why}"));
        }
        path.push(name.to_owned());
        let mut worst = (0, Vec::new());
        for callee in &f.callees {
            let below = self.deepest(callee, path)?;
            if below.0 > worst.0 {
                worst = below;
            }
        }
        path.pop();
        let mut chain = vec![short(name)];
        chain.extend(worst.1);
        Ok((f.frame + worst.0, chain))
    }
}

/// Stack bytes a prologue instruction reserves.
fn prologue_bytes(op: &str, args: &str) -> u64 {
    let registers = || {
        let list = args
            .split_once('{')
            .and_then(|(_, r)| r.split_once('}'))
            .map_or("", |(r, _)| r);
        list.split(',')
            .filter(|r| !r.trim().is_empty())
            .map(|r| match r.trim().split_once('-') {
                Some((a, b)) => {
                    let n = |s: &str| s.trim_start_matches(['r', 'd', 's']).parse::<u64>();
                    n(b).unwrap_or(0).saturating_sub(n(a).unwrap_or(0)) + 1
                }
                None => 1,
            })
            .sum::<u64>()
    };
    match op {
        "push" | "push.w" => 4 * registers(),
        "stmdb" | "stmdb.w" if args.starts_with("sp!") => 4 * registers(),
        "vpush" => 8 * registers(),
        _ if op.starts_with("sub") && args.starts_with("sp,") => args
            .rsplit_once('#')
            .and_then(|(_, n)| immediate(n.trim()))
            .unwrap_or(0),
        _ => 0,
    }
}

/// An immediate, decimal (`172`) or hexadecimal (`0xac`) as objdump versions differ.
fn immediate(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The function a call or a branch to another function's start goes to.
fn branch_target(op: &str, args: &str) -> Option<String> {
    let is_branch = op == "bl" || op == "blx" || op == "b" || op == "b.w";
    let target = args.split_once('<')?.1.split_once('>')?.0;
    // "<f+0x1c>" is a jump inside a function; only "<f>" enters one.
    (is_branch && !target.contains('+')).then(|| target.to_owned())
}

/// A function name for the report: legacy-mangling escapes undone, generic arguments and hash
/// left out (`Pipeline::push`).
fn short(name: &str) -> String {
    let mut text = name.to_owned();
    for (escape, c) in [
        ("$LT$", "<"),
        ("$GT$", ">"),
        ("$C$", ","),
        ("$u20$", " "),
        ("$u7b$", "{"),
        ("$u7d$", "}"),
        ("$u5b$", "["),
        ("$u5d$", "]"),
        ("..", "::"),
    ] {
        text = text.replace(escape, c);
    }
    let mut out = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    let out = out.trim_start_matches('_').to_owned();
    match out.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 => head.to_owned(),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISASSEMBLY: &str = "\
08000100 <outer::h0123456789abcdef>:
 8000100:      \tpush\t{r4, r5, r7, lr}
 8000102:      \tsub\tsp, #16
 8000104:      \tbl\t0x8000200 <inner::h0123456789abcdef> @ imm = #248
 8000108:      \tbl\t0x8000300 <leaf> @ imm = #500
 800010c:      \tb\t0x8000100 <outer::h0123456789abcdef+0x4>
08000200 <inner::h0123456789abcdef>:
 8000200:      \tpush.w\t{r4, r5, r6, r7, r8, r9, r10, r11, lr}
 8000204:      \tvpush\t{d8, d9}
 8000208:      \tsub.w\tsp, sp, #0xc8
 800020c:      \tb.w\t0x8000300 <leaf> @ imm = #240
08000300 <leaf>:
 8000300:      \tpush\t{r7, lr}
 8000302:      \tpop\t{r7, pc}
";

    #[test]
    fn frames_add_up_along_the_deepest_path() {
        let g = CallGraph::parse(DISASSEMBLY);
        // outer 16 + 16, inner 36 + 16 + 200, leaf 8.
        let (bytes, path) = g.worst_case("outer").unwrap();
        assert_eq!(bytes, 32 + 252 + 8);
        assert_eq!(path, ["outer", "inner", "leaf"]);
        assert_eq!(g.worst_case("leaf").unwrap().0, 8);
        assert_eq!(
            short("redpipe_core::Pipeline$LT$O$C$R$GT$::push::ha4049b0176b480fb"),
            "redpipe_core::Pipeline::push"
        );
    }

    #[test]
    fn recursion_and_indirect_calls_are_errors_not_guesses() {
        let recursive = "\
08000100 <a>:
 8000100:      \tpush\t{r7, lr}
 8000102:      \tbl\t0x8000200 <b>
08000200 <b>:
 8000200:      \tbl\t0x8000100 <a>
";
        let err = CallGraph::parse(recursive).worst_case("a").unwrap_err();
        assert!(err.contains("recursion"), "{err}");
        let indirect = "\
08000100 <a>:
 8000100:      \tpush\t{r7, lr}
 8000102:      \tblx\tr3
";
        let err = CallGraph::parse(indirect).worst_case("a").unwrap_err();
        assert!(err.contains("indirect call"), "{err}");
    }
}
