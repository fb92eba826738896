//! `cargo xtask msrv`: the Rust version the workspace claims (`rust-version` in the root
//! `Cargo.toml`) against the `rust-version` of every package it builds with.
//!
//! Only one toolchain is installed where this runs, so the claim cannot be proven by building
//! with the old compiler. What can be checked: no package in the dependency graph of a workspace
//! member (normal, build and dev dependencies, every platform, as `Cargo.lock` resolves them)
//! states that it needs a newer Rust. Our own code is held to the claim by clippy's
//! `incompatible_msrv` lint, which reads the same `rust-version`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::process::Command;

use crate::json::Json;
use crate::setup::{metadata, root};

/// A Rust version as `rust-version` writes it: `1.88` or `1.88.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RustVersion(u32, u32, u32);

impl RustVersion {
    pub(crate) fn parse(text: &str) -> Result<RustVersion, String> {
        let bad = || format!("not a Rust version: {text:?}");
        let mut parts = text.trim().split('.');
        let mut next = |required: bool| match parts.next() {
            Some(p) => p.parse::<u32>().map_err(|_| bad()),
            None if required => Err(bad()),
            None => Ok(0),
        };
        let version = RustVersion(next(true)?, next(true)?, next(false)?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(version)
    }
}

impl fmt::Display for RustVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.2 {
            0 => write!(f, "{}.{}", self.0, self.1),
            patch => write!(f, "{}.{}.{patch}", self.0, self.1),
        }
    }
}

/// One package of the graph and the Rust it says it needs (`None`: it does not say).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) rust_version: Option<RustVersion>,
    /// A workspace member (its `rust-version` should be the claim itself).
    pub(crate) member: bool,
}

/// The packages that need a newer Rust than `claim`, newest requirement first: the check fails
/// unless this is empty.
pub(crate) fn too_new(claim: RustVersion, packages: &[Package]) -> Vec<&Package> {
    let mut found: Vec<&Package> = packages
        .iter()
        .filter(|p| p.rust_version.is_some_and(|v| v > claim))
        .collect();
    found.sort_by(|a, b| b.rust_version.cmp(&a.rust_version).then(a.cmp(b)));
    found
}

/// Workspace members that do not state the claim as their own `rust-version`: clippy's
/// `incompatible_msrv` lint reads each package's own, so it would check them against another
/// version, or not at all (`rust-version.workspace = true` fixes it).
pub(crate) fn members_off_claim(claim: RustVersion, packages: &[Package]) -> Vec<&Package> {
    packages
        .iter()
        .filter(|p| p.member && p.rust_version != Some(claim))
        .collect()
}

/// `rust-version` from the `[workspace.package]` table of a root `Cargo.toml`.
pub(crate) fn workspace_claim(manifest: &str) -> Result<RustVersion, String> {
    let mut in_table = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_table = line == "[workspace.package]";
            continue;
        }
        if !in_table {
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.trim() == "rust-version"
        {
            let value = value.split('#').next().unwrap_or_default().trim();
            return RustVersion::parse(value.trim_matches('"'));
        }
    }
    Err("no rust-version in [workspace.package] of Cargo.toml".into())
}

/// Every package reachable from the workspace members in `cargo metadata`'s resolve graph,
/// over every kind of dependency edge (normal, build, dev) and every platform.
pub(crate) fn graph(metadata: &Json) -> Result<Vec<Package>, String> {
    let packages: HashMap<&str, &Json> = metadata
        .get("packages")
        .ok_or("cargo metadata: no packages")?
        .items()
        .iter()
        .filter_map(|p| Some((p.get("id")?.as_str()?, p)))
        .collect();
    let nodes: HashMap<&str, &Json> = metadata
        .get("resolve")
        .and_then(|r| r.get("nodes"))
        .ok_or("cargo metadata: no resolve graph (was --no-deps passed?)")?
        .items()
        .iter()
        .filter_map(|n| Some((n.get("id")?.as_str()?, n)))
        .collect();
    let members: BTreeSet<&str> = metadata
        .get("workspace_members")
        .ok_or("cargo metadata: no workspace_members")?
        .items()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    let mut stack: Vec<&str> = members.iter().copied().collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let node = nodes
            .get(id)
            .ok_or_else(|| format!("cargo metadata: {id} is not in the resolve graph"))?;
        let deps = node.get("deps").map(Json::items).unwrap_or_default();
        stack.extend(
            deps.iter()
                .filter_map(|d| d.get("pkg").and_then(Json::as_str)),
        );
    }
    seen.into_iter()
        .map(|id| {
            let p = packages
                .get(id)
                .ok_or_else(|| format!("cargo metadata: no package {id}"))?;
            let text = |key| p.get(key).and_then(Json::as_str);
            Ok(Package {
                name: text("name").unwrap_or(id).to_owned(),
                version: text("version").unwrap_or_default().to_owned(),
                rust_version: text("rust_version").map(RustVersion::parse).transpose()?,
                member: members.contains(id),
            })
        })
        .collect()
}

/// Fails naming every package whose `rust-version` is newer than the workspace's claim.
pub(crate) fn check() -> Result<(), String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    let claim = workspace_claim(&manifest)?;
    let metadata = metadata(&["--locked"])?;
    let packages = graph(&metadata)?;
    let newest = packages.iter().filter_map(|p| p.rust_version).max();
    let off: Vec<&str> = members_off_claim(claim, &packages)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    if !off.is_empty() {
        return Err(format!(
            "workspace members without rust-version = \"{claim}\" (add \
             `rust-version.workspace = true`): {}",
            off.join(", ")
        ));
    }
    let bad = too_new(claim, &packages);
    if bad.is_empty() {
        eprintln!(
            "  MSRV {claim} holds for all {} packages of the graph (newest stated: {})",
            packages.len(),
            newest.map_or("none".into(), |v| v.to_string())
        );
        return Ok(());
    }
    let list: Vec<String> = bad
        .iter()
        .map(|p| {
            let needs = p.rust_version.map(|v| v.to_string()).unwrap_or_default();
            format!("  {} {} needs Rust {needs}", p.name, p.version)
        })
        .collect();
    Err(format!(
        "the workspace claims rust-version = \"{claim}\" (Cargo.toml), but {} package(s) of its \
         dependency graph need a newer Rust:\n{}\nraise the claim or pin older versions \
         (`cargo update -p NAME --precise VERSION`; `cargo tree -i NAME -e all` shows who \
         pulls it in)",
        bad.len(),
        list.join("\n")
    ))
}

/// `cargo xtask msrv`.
pub(crate) fn command(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("unexpected argument: {extra}"));
    }
    // `cargo metadata` is all it needs; say which toolchain ran it, for the record.
    if let Ok(out) = Command::new("rustc").arg("--version").output() {
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
    }
    check()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> RustVersion {
        RustVersion::parse(text).unwrap()
    }

    fn package(name: &str, rust_version: Option<&str>) -> Package {
        Package {
            name: name.into(),
            version: "1.0.0".into(),
            rust_version: rust_version.map(v),
            member: false,
        }
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(v("1.88"), v("1.88.0"));
        assert!(v("1.88") > v("1.87.1"));
        assert!(v("1.100") > v("1.99"));
        assert!(v("1.87.1") > v("1.87"));
        assert_eq!(v("1.88").to_string(), "1.88");
        assert_eq!(v("1.87.1").to_string(), "1.87.1");
        for bad in ["", "1", "1.x", "1.88.0.1", "1.88-nightly", "v1.88"] {
            assert!(RustVersion::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn a_package_needing_newer_rust_fails_the_check() {
        let packages = [
            package("old", Some("1.60")),
            package("unstated", None),
            package("same", Some("1.87")),
            package("patch", Some("1.87.1")),
            package("newer", Some("1.88")),
        ];
        let names = |claim| -> Vec<&str> {
            too_new(v(claim), &packages)
                .iter()
                .map(|p| p.name.as_str())
                .collect()
        };
        // Newest requirement first.
        assert_eq!(names("1.87"), ["newer", "patch"]);
        assert_eq!(names("1.87.1"), ["newer"]);
        assert!(names("1.88").is_empty());
        assert!(names("1.95").is_empty());
    }

    #[test]
    fn the_claim_is_read_from_workspace_package() {
        let manifest = "[package]\nrust-version = \"1.50\"\n\n[workspace.package]\n\
                        edition = \"2024\"\nrust-version = \"1.88\" # the MSRV\n\n\
                        [workspace.dependencies]\nrust-version = \"1.10\"\n";
        assert_eq!(workspace_claim(manifest), Ok(v("1.88")));
        assert!(workspace_claim("[workspace.package]\nedition = \"2024\"\n").is_err());
    }

    #[test]
    fn the_graph_follows_every_dependency_kind_from_the_members_only() {
        let metadata = Json::parse(
            r#"{
              "packages": [
                {"id": "a", "name": "member", "version": "0.1.0", "rust_version": "1.87"},
                {"id": "b", "name": "normal", "version": "1.0.0", "rust_version": null},
                {"id": "c", "name": "dev-only", "version": "2.0.0", "rust_version": "1.88"},
                {"id": "d", "name": "deep", "version": "3.0.0", "rust_version": "1.95"},
                {"id": "e", "name": "unreached", "version": "4.0.0", "rust_version": "1.99"}
              ],
              "workspace_members": ["a"],
              "resolve": {"nodes": [
                {"id": "a", "deps": [
                  {"pkg": "b", "dep_kinds": [{"kind": null}]},
                  {"pkg": "c", "dep_kinds": [{"kind": "dev"}]}]},
                {"id": "b", "deps": []},
                {"id": "c", "deps": [{"pkg": "d", "dep_kinds": [{"kind": "build"}]}]},
                {"id": "d", "deps": []},
                {"id": "e", "deps": []}
              ]}
            }"#,
        )
        .unwrap();
        let packages = graph(&metadata).unwrap();
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["member", "normal", "dev-only", "deep"]);
        let bad: Vec<&str> = too_new(v("1.87"), &packages)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(bad, ["deep", "dev-only"]);
        assert!(packages[0].member && !packages[1].member);
        assert!(members_off_claim(v("1.87"), &packages).is_empty());
        // A member that states another version (or none) would escape clippy's MSRV lint.
        assert_eq!(members_off_claim(v("1.88"), &packages), [&packages[0]]);
    }
}
