//! `cargo xtask layers`: no import circles between the top-level modules of a crate.
//!
//! For each library crate (`core`, `std-adapter`, `bridge`, `wasm`), every `src/**/*.rs` file
//! belongs to a top-level module (`core/src/model/group.rs` to `model`). Each path that names
//! another part of the crate (`use crate::...`, `use super::...` reaching the root, `crate::x::`
//! and `$crate::x::` anywhere in code) is an edge from the file's module to the module it
//! names; a name re-exported by `lib.rs` (`crate::Deferred`) counts for the module it comes
//! from. The crate root itself is the facade, not a floor, so it is no node. Test modules
//! (`#[cfg(test)] mod ...`) are skipped: a test may reach up to build what it checks.
//!
//! `cargo xtask layers --graph` prints every import between modules, with its sites.
//!
//! A strongly connected part of that graph with more than one module is a circle: each is
//! reported with the files and lines that form it, and the check fails. Not seen: names used
//! by `macro_rules!` textual scope and glob imports of the crate root (`use super::*` from a
//! top-level module); neither occurs in a floor's production code today.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::setup::root;

/// The crates checked, as folders of the workspace.
const CRATES: &[&str] = &["core", "std-adapter", "bridge", "wasm"];

/// `cargo xtask layers`.
pub(crate) fn command(args: &[String]) -> Result<(), String> {
    match args {
        [] => check(),
        [flag] if flag == "--graph" => {
            for name in CRATES {
                let graph = crate_graph(&root().join(name))?;
                println!("{name}:");
                for ((from, to), sites) in &graph.edges {
                    println!("  {from} -> {to} ({})", sites.join(", "));
                }
            }
            Ok(())
        }
        _ => Err("usage: cargo xtask layers [--graph]".into()),
    }
}

/// Checks every crate; fails with the circles found, after printing them all.
pub(crate) fn check() -> Result<(), String> {
    let mut circles = 0;
    for name in CRATES {
        let graph = crate_graph(&root().join(name))?;
        let found = cycles(&graph.edges.keys().cloned().collect::<Vec<_>>());
        eprintln!(
            "layers: {name}: {} modules, {} imports between them, {} circle(s)",
            graph.modules.len(),
            graph.edges.len(),
            found.len()
        );
        for cycle in &found {
            eprintln!("  circle: {} -> {}", cycle.join(" -> "), cycle[0]);
            for (i, from) in cycle.iter().enumerate() {
                let to = &cycle[(i + 1) % cycle.len()];
                let sites = &graph.edges[&(from.clone(), to.clone())];
                let shown: Vec<&str> = sites.iter().take(4).map(String::as_str).collect();
                let more = sites.len().saturating_sub(shown.len());
                let more = if more > 0 {
                    format!(" (+{more} more)")
                } else {
                    String::new()
                };
                eprintln!("    {from} -> {to}: {}{more}", shown.join(", "));
            }
        }
        circles += found.len();
    }
    if circles > 0 {
        return Err(format!(
            "{circles} import circle(s) between modules (above)"
        ));
    }
    Ok(())
}

/// One crate's modules and the imports between them, each with the `file:line`s that make it.
#[derive(Debug, Default)]
struct Graph {
    modules: BTreeSet<String>,
    edges: BTreeMap<(String, String), Vec<String>>,
}

/// Reads one crate's `src/` and builds its module graph.
fn crate_graph(dir: &Path) -> Result<Graph, String> {
    let src = dir.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files)?;
    files.sort();
    let mut texts = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let rel = file.strip_prefix(&src).unwrap_or(file);
        let display = file
            .strip_prefix(root())
            .unwrap_or(file)
            .display()
            .to_string();
        texts.push((module_path(rel), display, strip(&text)));
    }
    let mut modules = BTreeSet::new();
    for (path, _, _) in &texts {
        if let Some(first) = path.first() {
            modules.insert(first.clone());
        }
    }
    // `#[cfg(test)] mod x;` names a test file: skipped like an inline test module.
    let mut test_files = BTreeSet::new();
    for (path, _, text) in &texts {
        for (name, _, is_test, inline) in mod_items(text) {
            if is_test && !inline {
                let mut child = path.clone();
                child.push(name);
                test_files.insert(child);
            }
        }
    }
    let roots = root_names(&texts, &modules);
    let mut graph = Graph {
        modules,
        ..Graph::default()
    };
    for (path, display, text) in &texts {
        let Some(from) = path.first() else { continue };
        if test_files.iter().any(|t| path.starts_with(t)) {
            continue;
        }
        for reference in references(text, path) {
            for to in resolve(&reference.path, &graph.modules, &roots) {
                if to != *from {
                    let site = format!("{display}:{}", reference.line);
                    let sites = graph.edges.entry((from.clone(), to)).or_default();
                    if sites.last() != Some(&site) {
                        sites.push(site);
                    }
                }
            }
        }
    }
    Ok(graph)
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The module a file under `src/` is: `pipe/group.rs` is `[pipe, group]`, `pipe/mod.rs` is
/// `[pipe]`, `lib.rs` and `main.rs` are the root (`[]`).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        let root = parts.is_empty() && matches!(stem, "lib" | "main");
        if stem != "mod" && !root {
            parts.push(stem.to_string());
        }
    }
    parts
}

/// What each name the crate root exports (`Deferred`, `prelude::Deferred`) comes from: a
/// top-level module. Read from the root files' `use` items, inline modules included.
fn root_names(
    texts: &[(Vec<String>, String, String)],
    modules: &BTreeSet<String>,
) -> BTreeMap<String, String> {
    // Name in the root -> the path it re-exports, relative to the root.
    let mut raw: Vec<(String, Vec<String>)> = Vec::new();
    for (_, _, text) in texts.iter().filter(|(p, _, _)| p.is_empty()) {
        for (prefix, start) in use_items(text) {
            let mut leaves = Vec::new();
            parse_tree(text.as_bytes(), start, &mut Vec::new(), &mut leaves);
            for (mut target, alias) in leaves {
                if target.first().is_some_and(|s| s == "crate" || s == "self") {
                    target.remove(0);
                }
                let Some(name) = alias.or_else(|| target.last().cloned()) else {
                    continue;
                };
                let key = if prefix.is_empty() {
                    name
                } else {
                    format!("{}::{name}", prefix.join("::"))
                };
                raw.push((key, target));
            }
        }
    }
    let mut names = BTreeMap::new();
    // Chains (`prelude::Deferred` -> `Deferred` -> `deferred`) settle in a few rounds.
    for _ in 0..4 {
        for (key, target) in &raw {
            if names.contains_key(key) {
                continue;
            }
            if let Some(to) = resolve(target, modules, &names).into_iter().next() {
                names.insert(key.clone(), to);
            }
        }
    }
    names
}

/// The top-level modules a path from the crate root names (none for an outside crate or an
/// item of the root itself; several for a glob of an inline root module like `prelude::*`).
fn resolve(
    path: &[String],
    modules: &BTreeSet<String>,
    roots: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Some(first) = path.first() else {
        return found;
    };
    if modules.contains(first) {
        found.insert(first.clone());
        return found;
    }
    if let Some(second) = path.get(1) {
        if second == "*" {
            let prefix = format!("{first}::");
            found.extend(
                roots
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v.clone()),
            );
            return found;
        }
        if let Some(to) = roots.get(&format!("{first}::{second}")) {
            found.insert(to.clone());
            return found;
        }
    }
    if let Some(to) = roots.get(first) {
        found.insert(to.clone());
    }
    found
}

/// A path to another part of the crate, relative to the crate root, and the line it is on.
#[derive(Debug, PartialEq)]
struct Reference {
    path: Vec<String>,
    line: usize,
}

/// Every path in `text` (stripped of comments and strings) that starts at the crate root:
/// `crate::`, `$crate::`, and `super::` chains that climb to the root from `module`. Inline
/// test modules are skipped.
fn references(text: &str, module: &[String]) -> Vec<Reference> {
    let bytes = text.as_bytes();
    // Inline modules open at a brace depth: (depth, name, is a test module).
    let mut inline: Vec<(usize, String, bool)> = Vec::new();
    let mods: BTreeMap<usize, (String, bool)> = mod_items(text)
        .into_iter()
        .filter(|m| m.3)
        .map(|(name, at, test, _)| (at, (name, test)))
        .collect();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'{' {
            depth += 1;
            if let Some((name, test)) = mods.range(..=i).next_back().and_then(|(&at, m)| {
                // The brace that opens a `mod name {` found just before it.
                let between = &text[at..i];
                (between.bytes().filter(|&b| b == b'{' || b == b';').count() == 0)
                    .then(|| m.clone())
            }) {
                inline.push((depth, name, test));
            }
            i += 1;
            continue;
        }
        if c == b'}' {
            if inline.last().is_some_and(|(d, _, _)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        if inline.iter().any(|(_, _, test)| *test) || !starts_word(bytes, i) {
            i += 1;
            continue;
        }
        let line = 1 + bytes[..i].iter().filter(|&&b| b == b'\n').count();
        let rest = &text[i..];
        let start = if rest.starts_with("crate") && ends_word(bytes, i + 5) {
            let j = skip_ws(bytes, i + "crate".len());
            text[j..]
                .starts_with("::")
                .then(|| (Vec::new(), skip_ws(bytes, j + 2)))
        } else if rest.starts_with("super") {
            // Climb: each `super::` drops one level of the file's module and inline modules.
            let mut here: Vec<String> = module.to_vec();
            here.extend(inline.iter().map(|(_, n, _)| n.clone()));
            let mut j = i;
            loop {
                if !text[j..].starts_with("super") || !ends_word(bytes, j + 5) {
                    break;
                }
                let k = skip_ws(bytes, j + 5);
                if !text[k..].starts_with("::") {
                    break;
                }
                here.pop();
                j = skip_ws(bytes, k + 2);
            }
            (j > i).then_some((here, j))
        } else {
            None
        };
        let Some((base, at)) = start else {
            i += 1;
            continue;
        };
        if !base.is_empty() {
            // Still inside the file's own top-level module.
            i = at;
            continue;
        }
        let mut leaves = Vec::new();
        let end = parse_tree(bytes, at, &mut Vec::new(), &mut leaves);
        for (path, _) in leaves {
            if !path.is_empty() {
                out.push(Reference { path, line });
            }
        }
        i = end.max(i + 1);
    }
    out
}

/// `mod` items: (name, byte offset of `mod`, under `#[cfg(test)]`, inline with a body).
fn mod_items(text: &str) -> Vec<(String, usize, bool, bool)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = text[i..].find("mod") {
        let at = i + found;
        i = at + 3;
        if !starts_word(bytes, at) || !ends_word(bytes, at + 3) {
            continue;
        }
        let j = skip_ws(bytes, at + 3);
        let name_end = ident_end(bytes, j);
        if name_end == j {
            continue;
        }
        let k = skip_ws(bytes, name_end);
        let inline = match bytes.get(k) {
            Some(b'{') => true,
            Some(b';') => false,
            _ => continue,
        };
        // The item's attributes: back to the end of the item or block before it.
        let item_start = text[..at].rfind([';', '}', '{']).map_or(0, |p| p + 1);
        let attrs: String = text[item_start..at]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let test = attrs.contains("cfg(test)") || attrs.contains("cfg(all(test");
        out.push((text[j..name_end].to_string(), at, test, inline));
    }
    out
}

/// Every `use` item: the inline root modules it is in (`prelude`), and where its tree starts.
fn use_items(text: &str) -> Vec<(Vec<String>, usize)> {
    let bytes = text.as_bytes();
    let mods: Vec<(String, usize, bool, bool)> =
        mod_items(text).into_iter().filter(|m| m.3).collect();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                if let Some(m) = mods.iter().rev().find(|m| m.1 < i) {
                    let between = &text[m.1..i];
                    if !between.contains(['{', ';', '}']) {
                        open.push((depth, m.0.clone()));
                    }
                }
            }
            b'}' => {
                if open.last().is_some_and(|(d, _)| *d == depth) {
                    open.pop();
                }
                depth = depth.saturating_sub(1);
            }
            // Only items of the root or of an inline module, not `use` in a function.
            b'u' if text[i..].starts_with("use")
                && starts_word(bytes, i)
                && ends_word(bytes, i + 3)
                && depth == open.last().map_or(0, |(d, _)| *d) =>
            {
                out.push((
                    open.iter().map(|(_, n)| n.clone()).collect(),
                    skip_ws(bytes, i + 3),
                ));
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Parses a path or use tree at `i` (`a::b`, `a::{b, c::d}`, `a as b`, `*`), pushing each
/// leaf as (full path, alias). Returns where it stopped.
fn parse_tree(
    bytes: &[u8],
    mut i: usize,
    prefix: &mut Vec<String>,
    leaves: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let depth = prefix.len();
    loop {
        i = skip_ws(bytes, i);
        match bytes.get(i) {
            Some(b'{') => {
                i += 1;
                loop {
                    i = parse_tree(bytes, i, prefix, leaves);
                    i = skip_ws(bytes, i);
                    match bytes.get(i) {
                        Some(b',') => i += 1,
                        Some(b'}') => {
                            i += 1;
                            break;
                        }
                        _ => break,
                    }
                }
                prefix.truncate(depth);
                return i;
            }
            Some(b'*') => {
                let mut path = prefix.clone();
                path.push("*".into());
                leaves.push((path, None));
                prefix.truncate(depth);
                return i + 1;
            }
            _ => {}
        }
        let end = ident_end(bytes, i);
        if end == i {
            prefix.truncate(depth);
            return i;
        }
        prefix.push(String::from_utf8_lossy(&bytes[i..end]).into_owned());
        let j = skip_ws(bytes, end);
        if bytes[j..].starts_with(b"::") && bytes.get(skip_ws(bytes, j + 2)) != Some(&b'<') {
            i = j + 2;
            continue;
        }
        let mut alias = None;
        let mut stop = end;
        if bytes[j..].starts_with(b"as") && ends_word(bytes, j + 2) {
            let a = skip_ws(bytes, j + 2);
            let a_end = ident_end(bytes, a);
            alias = Some(String::from_utf8_lossy(&bytes[a..a_end]).into_owned());
            stop = a_end;
        }
        let mut path = prefix.clone();
        if path.last().is_some_and(|s| s == "self") {
            path.pop();
        }
        leaves.push((path, alias));
        prefix.truncate(depth);
        return stop;
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// No identifier character before `i` (a `$` is allowed: `$crate`).
fn starts_word(bytes: &[u8], i: usize) -> bool {
    i == 0 || !is_ident(bytes[i - 1])
}

fn ends_word(bytes: &[u8], i: usize) -> bool {
    bytes.get(i).is_none_or(|&b| !is_ident(b))
}

fn ident_end(bytes: &[u8], mut i: usize) -> usize {
    if bytes.get(i).is_some_and(u8::is_ascii_digit) {
        return i;
    }
    while bytes.get(i).copied().is_some_and(is_ident) {
        i += 1;
    }
    i
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// `src` with comments, string and char literals blanked (newlines kept, so lines count the
/// same), so that a path in a doc comment or a string is not read as an import.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let prev_ident = i > 0 && is_ident(b[i - 1]);
        if b[i..].starts_with(b"//") {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let (mut j, mut nest) = (i + 2, 1);
            while j < b.len() && nest > 0 {
                if b[j..].starts_with(b"/*") {
                    nest += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    nest -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if !prev_ident && (b[i] == b'r' || b[i..].starts_with(b"br")) && {
            let r = if b[i] == b'b' { i + 2 } else { i + 1 };
            let hashes = b[r..].iter().take_while(|&&c| c == b'#').count();
            b.get(r + hashes) == Some(&b'"')
        } {
            let r = if b[i] == b'b' { i + 2 } else { i + 1 };
            let hashes = b[r..].iter().take_while(|&&c| c == b'#').count();
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = r + hashes + 1;
            let end = b[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |p| body + p + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' {
            // A char literal ('a', '\n', '\u{1F600}', 'é'), or a lifetime ('a).
            if b.get(i + 1) == Some(&b'\\') {
                let end = b[i + 2..]
                    .iter()
                    .position(|&c| c == b'\'')
                    .map_or(b.len(), |p| i + 2 + p + 1);
                blank(&mut out, i, end);
                i = end;
            } else if let Some(len) = src[i + 1..].chars().next().map(char::len_utf8)
                && b.get(i + 1 + len) == Some(&b'\'')
            {
                blank(&mut out, i, i + 2 + len);
                i += 2 + len;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every circle in a graph given as its edges: one per strongly connected part with more than
/// one node, as a shortest cycle through that part's first node; then one per further node of
/// the part that that cycle misses, so each module in a circle is shown in one.
fn cycles(edges: &[(String, String)]) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
        next.entry(b).or_default();
    }
    let mut found = Vec::new();
    for part in strongly_connected(&next) {
        if part.len() < 2 {
            continue;
        }
        let mut covered = BTreeSet::new();
        for start in &part {
            if covered.contains(start) {
                continue;
            }
            if let Some(cycle) = shortest_cycle(&next, start, &part) {
                covered.extend(cycle.iter().cloned());
                found.push(cycle);
            }
        }
    }
    found
}

/// The shortest cycle through `start` inside `part` (breadth first).
fn shortest_cycle(
    next: &BTreeMap<&str, Vec<&str>>,
    start: &str,
    part: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &to in &next[node] {
            if !part.contains(to) {
                continue;
            }
            if to == start {
                let mut cycle = vec![node.to_string()];
                let mut at = node;
                while at != start {
                    at = came_from[at];
                    cycle.push(at.to_string());
                }
                cycle.reverse();
                return Some(cycle);
            }
            if to != start && !came_from.contains_key(to) {
                came_from.insert(to, node);
                queue.push_back(to);
            }
        }
    }
    None
}

/// Tarjan's strongly connected components, each as a sorted set of nodes.
fn strongly_connected(next: &BTreeMap<&str, Vec<&str>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        parts: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(v: &'a str, next: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in &next[v] {
            if !s.index.contains_key(w) {
                visit(w, next, s);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut part = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                part.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            s.parts.push(part);
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        parts: Vec::new(),
    };
    for &v in next.keys() {
        if !s.index.contains_key(v) {
            visit(v, next, &mut s);
        }
    }
    s.parts.sort();
    s.parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_layered_graph_has_no_circle() {
        let graph = edges(&[
            ("pipe", "pipeline"),
            ("pipeline", "decode"),
            ("pipe", "decode"),
        ]);
        assert!(cycles(&graph).is_empty());
    }

    #[test]
    fn a_circle_is_found_with_its_members() {
        // error -> keyspace -> reply -> error, and a separate two-module circle.
        let graph = edges(&[
            ("error", "keyspace"),
            ("keyspace", "reply"),
            ("reply", "error"),
            ("decode", "error"),
            ("cluster", "registry"),
            ("registry", "cluster"),
        ]);
        let found = cycles(&graph);
        assert_eq!(
            found,
            vec![
                vec!["cluster".to_string(), "registry".to_string()],
                vec![
                    "error".to_string(),
                    "keyspace".to_string(),
                    "reply".to_string()
                ],
            ]
        );
    }

    #[test]
    fn every_module_of_a_knot_is_in_some_reported_circle() {
        let graph = edges(&[("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")]);
        let found = cycles(&graph);
        let members: BTreeSet<&String> = found.iter().flatten().collect();
        assert_eq!(members.len(), 3, "{found:?}");
    }

    #[test]
    fn paths_from_the_root_are_read_and_comments_and_strings_are_not() {
        let src = strip(
            "use crate::{decode::Scanner, keyspace::{FieldError, Text}};\n\
             // use crate::pipe::Pipe;\n\
             let s = \"crate::pipe::Pipe\";\n\
             let c = '{';\n\
             fn f<'a>(x: &'a str) -> crate::reply::Reply<'a> { $crate::cluster::slot(x) }\n\
             use super::super::storage::Full;\n",
        );
        let found: Vec<(String, usize)> = references(&src, &["pipe".into(), "group".into()])
            .into_iter()
            .map(|r| (r.path[0].clone(), r.line))
            .collect();
        let expect = [
            ("decode", 1),
            ("keyspace", 1),
            ("keyspace", 1),
            ("reply", 5),
            ("cluster", 5),
            ("storage", 6),
        ];
        let expect: Vec<(String, usize)> =
            expect.iter().map(|(m, l)| (m.to_string(), *l)).collect();
        assert_eq!(found, expect);
    }

    #[test]
    fn super_inside_the_module_and_test_modules_are_no_edges() {
        let src = strip(
            "use super::handle::Handle;\n\
             #[cfg(test)]\nmod tests { use crate::pipe::Pipe; }\n\
             mod inner { use super::super::decode::Scanner; }\n",
        );
        let found: Vec<String> = references(&src, &["pipe".into(), "group".into()])
            .into_iter()
            .map(|r| r.path.join("::"))
            .collect();
        assert!(found.is_empty(), "{found:?}");
        // From a top-level file, one `super::` reaches the root.
        let found = references(&strip("use super::decode::Scanner;"), &["pipe".into()]);
        assert_eq!(found[0].path, ["decode", "Scanner"]);
    }

    /// A crate on disk with the issue's first circle: the error floor naming the keyspace
    /// layer, which names the codec (through a root re-export) that names the error floor.
    #[test]
    fn a_circle_on_disk_fails_with_its_sites() {
        let dir = std::env::temp_dir().join(format!("xtask-layers-{}", std::process::id()));
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("keyspace")).unwrap();
        let files = [
            (
                "lib.rs",
                "mod error;\nmod encode;\npub mod keyspace;\npub use encode::Cmd;\n",
            ),
            (
                "error.rs",
                "pub enum E { Field(crate::keyspace::FieldError) }\n",
            ),
            ("encode.rs", "use crate::error::E;\npub struct Cmd;\n"),
            (
                "keyspace/mod.rs",
                "mod field;\npub use field::FieldError;\n",
            ),
            (
                "keyspace/field.rs",
                "use crate::Cmd;\npub struct FieldError;\n#[cfg(test)]\nmod tests { use crate::error::E; }\n",
            ),
        ];
        for (name, text) in files {
            std::fs::write(src.join(name), text).unwrap();
        }
        let graph = crate_graph(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let edges: Vec<(String, String)> = graph.edges.keys().cloned().collect();
        assert_eq!(
            cycles(&edges),
            vec![vec![
                "encode".to_string(),
                "error".to_string(),
                "keyspace".to_string()
            ]]
        );
        let site = &graph.edges[&("error".to_string(), "keyspace".to_string())];
        assert!(site[0].ends_with("error.rs:1"), "{site:?}");
        // The test module's import is no edge: keyspace names only encode (via `crate::Cmd`).
        let from_keyspace: Vec<&String> = graph
            .edges
            .keys()
            .filter(|(from, _)| from == "keyspace")
            .map(|(_, to)| to)
            .collect();
        assert_eq!(from_keyspace, ["encode"]);
    }

    #[test]
    fn module_paths() {
        let p = |s: &str| module_path(Path::new(s));
        assert_eq!(p("pipe/group.rs"), ["pipe", "group"]);
        assert_eq!(p("pipe/mod.rs"), ["pipe"]);
        assert_eq!(p("decode.rs"), ["decode"]);
        assert!(p("lib.rs").is_empty());
    }
}
