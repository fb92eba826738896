//! The npm package's last steps, after wasm-bindgen and wasm-opt: one minified module, the
//! `.wasm`'s import and export names shortened to match it, and the check of the published
//! shape (`npm pack`, installed into a scratch project, imported from Node, type-checked).
//!
//! Bundling: esbuild (pinned, npm's, under `target/tools`) joins `wasm/npm/index.js`, the glue
//! and its snippets into `redpipe_wasm.js`, minified, and renames the glue's internal property
//! names (`__wbg_new_13de428334042d26`, `__wbindgen_malloc`...: the `.wasm`'s imports and
//! exports) to one or two letters; [`rename_wasm`] applies the same renaming to the `.wasm`
//! (esbuild writes it to its mangle cache). Both files shrink: the hashed names were
//! incompressible, and each was written in both.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setup::{root, run};

/// esbuild's version: pinned, so that the size figures move only with our code.
const ESBUILD: &str = "0.28.2";

/// The TypeScript compiler that checks the package's types, and Node's types for `net.d.ts`.
const TYPESCRIPT: &str = "typescript@5.9.3";
const NODE_TYPES: &str = "@types/node@20.19.43";

/// The glue's internal names, which esbuild may rename: never a name a user calls.
const MANGLED: &str = "^(__wbg_|__wbindgen_|wasm_bindgen__|__externref_)";

fn esbuild_dir() -> PathBuf {
    root().join("target/tools/esbuild")
}

/// Installs esbuild [`ESBUILD`] under `target/tools` unless it is there.
pub(crate) fn install_esbuild() -> Result<(), String> {
    let dir = esbuild_dir();
    let manifest = dir.join("node_modules/esbuild/package.json");
    let installed = std::fs::read_to_string(&manifest).unwrap_or_default();
    if installed.contains(&format!("\"version\": \"{ESBUILD}\"")) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    run(Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
        ])
        .arg(&dir)
        .arg(format!("esbuild@{ESBUILD}")))
}

/// Bundles `entry` (which imports the glue beside it) into `out`, minified, and renames the
/// `.wasm`'s names in `wasm` (in place) to match.
pub(crate) fn bundle(entry: &Path, out: &Path, wasm: &Path, banner: &str) -> Result<(), String> {
    let cache = entry.with_file_name("mangle-cache.json");
    std::fs::write(&cache, "{}").map_err(|e| format!("{}: {e}", cache.display()))?;
    run(
        Command::new(esbuild_dir().join("node_modules/.bin/esbuild"))
            .arg(entry)
            .args([
                "--bundle",
                "--format=esm",
                "--minify",
                "--log-level=warning",
            ])
            .arg(format!("--mangle-props={MANGLED}"))
            .arg(format!("--mangle-cache={}", cache.display()))
            .arg(format!("--banner:js={banner}"))
            .arg(format!("--outfile={}", out.display())),
    )?;
    let renames = std::fs::read_to_string(&cache)
        .map_err(|e| format!("{}: {e}", cache.display()))
        .and_then(|text| mangle_cache(&text))?;
    let module = std::fs::read(wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
    let renamed = rename_wasm(&module, &|name| {
        renames
            .iter()
            .find(|(from, _)| from == name)
            .map(|(_, to)| to.clone())
    })?;
    std::fs::write(wasm, renamed).map_err(|e| format!("{}: {e}", wasm.display()))
}

/// The renamings in esbuild's mangle cache: a flat JSON object of `"old": "new"` (or
/// `"old": false` for a name kept).
fn mangle_cache(text: &str) -> Result<Vec<(String, String)>, String> {
    let bad = || format!("unexpected mangle cache: {text}");
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(bad)?;
    let mut renames = Vec::new();
    for entry in body.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (from, to) = entry.split_once(':').ok_or_else(bad)?;
        let unquote = |s: &str| {
            s.trim()
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .map(String::from)
        };
        let from = unquote(from).ok_or_else(bad)?;
        // `false`: esbuild kept the name.
        if let Some(to) = unquote(to) {
            renames.push((from, to));
        }
    }
    Ok(renames)
}

/// A LEB128 `u32` at `*pos` in `bytes`, moving `*pos` past it.
fn leb(bytes: &[u8], pos: &mut usize) -> Result<u32, String> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*pos).ok_or("truncated wasm")?;
        *pos += 1;
        value |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("bad LEB128 in wasm".into())
}

fn put_leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let b = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A name (length, UTF-8) at `*pos`.
fn name<'a>(bytes: &'a [u8], pos: &mut usize) -> Result<&'a str, String> {
    let len = leb(bytes, pos)? as usize;
    let text = bytes.get(*pos..*pos + len).ok_or("truncated wasm")?;
    *pos += len;
    std::str::from_utf8(text).map_err(|_| "a wasm name is not UTF-8".to_string())
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    put_leb(out, name.len() as u32);
    out.extend_from_slice(name.as_bytes());
}

/// Skips a table type or memory type's limits.
fn skip_limits(bytes: &[u8], pos: &mut usize) -> Result<(), String> {
    let flags = *bytes.get(*pos).ok_or("truncated wasm")?;
    *pos += 1;
    leb(bytes, pos)?;
    if flags & 1 != 0 {
        leb(bytes, pos)?;
    }
    Ok(())
}

/// `module` with the field names of its imports and the names of its exports renamed by
/// `rename` (names it returns `None` for stay); every other byte is kept.
pub(crate) fn rename_wasm(
    module: &[u8],
    rename: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<u8>, String> {
    if module.get(..4) != Some(b"\0asm") {
        return Err("not a wasm module".into());
    }
    let mut out = module[..8].to_vec();
    let mut pos = 8;
    while pos < module.len() {
        let id = module[pos];
        pos += 1;
        let len = leb(module, &mut pos)? as usize;
        let section = module.get(pos..pos + len).ok_or("truncated wasm")?;
        pos += len;
        if id != 2 && id != 7 {
            out.push(id);
            put_leb(&mut out, len as u32);
            out.extend_from_slice(section);
            continue;
        }
        let mut body = Vec::with_capacity(len);
        let mut p = 0;
        let count = leb(section, &mut p)?;
        put_leb(&mut body, count);
        for _ in 0..count {
            if id == 2 {
                let module_name = name(section, &mut p)?;
                put_name(&mut body, module_name);
            }
            let field = name(section, &mut p)?;
            put_name(
                &mut body,
                &rename(field).unwrap_or_else(|| field.to_string()),
            );
            let start = p;
            let kind = *section.get(p).ok_or("truncated wasm")?;
            p += 1;
            match (id, kind) {
                // Exports, and imported functions: an index.
                (7, _) | (2, 0) => {
                    leb(section, &mut p)?;
                }
                // A table: its element type, then limits.
                (2, 1) => {
                    p += 1;
                    skip_limits(section, &mut p)?;
                }
                (2, 2) => skip_limits(section, &mut p)?,
                // A global: value type and mutability.
                (2, 3) => p += 2,
                // A tag: attribute and type index.
                (2, 4) => {
                    p += 1;
                    leb(section, &mut p)?;
                }
                _ => return Err(format!("unknown import kind {kind}")),
            }
            body.extend_from_slice(section.get(start..p).ok_or("truncated wasm")?);
        }
        out.push(id);
        put_leb(&mut out, body.len() as u32);
        out.extend_from_slice(&body);
    }
    Ok(out)
}

/// Checks the published shape of the package in `package`: `npm pack`, the tarball installed
/// into a scratch project with TypeScript, then `wasm/npm/test/consumer.mjs` run by Node
/// (importing the package by name, as a user would) and `wasm/npm/test/types.ts`
/// type-checked by `tsc`. Returns the installed package's directory.
pub(crate) fn check_package(package: &Path, redis_port: u16) -> Result<PathBuf, String> {
    let scratch = root().join("target/wasm-pkg/consumer");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let packed = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(&scratch)
        .current_dir(package)
        .output()
        .map_err(|e| format!("cannot run npm pack: {e}"))?;
    if !packed.status.success() {
        return Err(format!(
            "npm pack failed: {}",
            String::from_utf8_lossy(&packed.stderr)
        ));
    }
    let tarball = String::from_utf8_lossy(&packed.stdout)
        .lines()
        .last()
        .map(|l| scratch.join(l.trim()))
        .filter(|p| p.exists())
        .ok_or("npm pack named no tarball")?;
    let tests = root().join("wasm/npm/test");
    let write = |file: &str, text: &str| {
        std::fs::write(scratch.join(file), text).map_err(|e| format!("{file}: {e}"))
    };
    write(
        "package.json",
        "{ \"name\": \"redpipe-wasm-consumer\", \"private\": true, \"type\": \"module\" }\n",
    )?;
    write("tsconfig.json", TSCONFIG)?;
    for file in ["consumer.mjs", "types.ts"] {
        std::fs::copy(tests.join(file), scratch.join(file)).map_err(|e| format!("{file}: {e}"))?;
    }
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--no-package-lock"])
        .arg(&tarball)
        .args([TYPESCRIPT, NODE_TYPES])
        .current_dir(&scratch))?;
    run(Command::new("node")
        .arg("consumer.mjs")
        .env("REDIS_PORT", redis_port.to_string())
        .current_dir(&scratch))?;
    run(Command::new("node")
        .arg(scratch.join("node_modules/typescript/bin/tsc"))
        .args(["-p", "."])
        .current_dir(&scratch))?;
    Ok(scratch.join("node_modules/redpipe-wasm"))
}

/// A strict project, as an application using the package would have; the DOM library for the
/// browser's types (`fetch`, `Response`) and Node's for `redpipe-wasm/net`.
const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "target": "es2022",
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "lib": ["es2022", "dom"],
    "types": ["node"],
    "strict": true,
    "noEmit": true,
    "skipLibCheck": false
  },
  "files": ["types.ts"]
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing `env.__wbg_f_0123` (a function) and `env.mem` (a memory), exporting
    /// `long_export_name` (a function) and `memory`.
    fn module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        // Type section: one `() -> ()`.
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        let mut imports = vec![2];
        let mut body = vec![2];
        put_name(&mut body, "env");
        put_name(&mut body, "__wbg_f_0123");
        body.extend_from_slice(&[0, 0]);
        put_name(&mut body, "env");
        put_name(&mut body, "mem");
        body.extend_from_slice(&[2, 1, 1, 2]);
        put_leb(&mut imports, body.len() as u32);
        imports.extend_from_slice(&body);
        m.extend_from_slice(&imports);
        let mut exports = vec![7];
        let mut body = vec![2];
        put_name(&mut body, "long_export_name");
        body.extend_from_slice(&[0, 0]);
        put_name(&mut body, "memory");
        body.extend_from_slice(&[2, 0]);
        put_leb(&mut exports, body.len() as u32);
        exports.extend_from_slice(&body);
        m.extend_from_slice(&exports);
        m
    }

    #[test]
    fn renames_imports_and_exports_and_keeps_the_rest() {
        let renamed = rename_wasm(&module(), &|n| match n {
            "__wbg_f_0123" => Some("a".into()),
            "long_export_name" => Some("b".into()),
            _ => None,
        })
        .expect("a valid module");
        let mut expected = b"\0asm\x01\0\0\0".to_vec();
        expected.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        expected.extend_from_slice(&[2, 21, 2, 3]);
        expected.extend_from_slice(b"env\x01a\0\0\x03env\x03mem\x02\x01\x01\x02");
        expected.extend_from_slice(&[7, 14, 2, 1, b'b', 0, 0, 6]);
        expected.extend_from_slice(b"memory\x02\0");
        assert_eq!(renamed, expected);
        // Renaming nothing gives the module back byte for byte.
        assert_eq!(rename_wasm(&module(), &|_| None).expect("valid"), module());
    }

    #[test]
    fn a_truncated_module_is_an_error() {
        let m = module();
        assert!(rename_wasm(&m[..m.len() - 3], &|_| None).is_err());
        assert!(rename_wasm(b"not wasm", &|_| None).is_err());
    }

    #[test]
    fn reads_esbuilds_mangle_cache() {
        let cache =
            "{\n  \"__wbg_a_1\": \"b\",\n  \"__wbindgen_free\": false,\n  \"x\": \"$\"\n}\n";
        assert_eq!(
            mangle_cache(cache).expect("valid"),
            vec![
                ("__wbg_a_1".to_string(), "b".to_string()),
                ("x".to_string(), "$".to_string())
            ]
        );
        assert!(mangle_cache("[]").is_err());
    }
}
