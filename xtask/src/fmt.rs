//! `cargo xtask fmt`: `cargo fmt --check` for every Cargo workspace in the tree: the main one,
//! and the crates that are workspaces of their own (`firmware/`, `firmware/qemu/`, `fuzz/`),
//! which `cargo fmt --all` at the root does not see.

use std::path::{Path, PathBuf};

use crate::setup::{cargo, root, run};

/// Folders never searched: build output, dependencies, VCS data.
const SKIP: &[&str] = &["target", "node_modules", ".git"];

/// Every folder under `dir` (itself included) whose `Cargo.toml` has a `[workspace]` table,
/// sorted: each is formatted on its own.
pub(crate) fn workspaces(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let manifest = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest)
            && text.lines().any(|l| l.trim() == "[workspace]")
        {
            found.push(dir.clone());
        }
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let skipped = SKIP.iter().any(|s| entry.file_name() == *s);
            if !skipped && entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `cargo fmt --all --check` in each workspace; fails at the first that is not formatted.
pub(crate) fn check() -> Result<(), String> {
    for dir in workspaces(&root())? {
        run(cargo().current_dir(dir).args(["fmt", "--all", "--check"]))?;
    }
    Ok(())
}

/// `cargo xtask fmt`.
pub(crate) fn command(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("unexpected argument: {extra}"));
    }
    check()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workspace_of_the_tree_is_found() {
        let root = root();
        let found: Vec<String> = workspaces(&root)
            .unwrap()
            .iter()
            .map(|d| d.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(found, ["", "firmware", "firmware/qemu", "fuzz"]);
    }
}
