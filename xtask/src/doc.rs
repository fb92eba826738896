//! `cargo xtask doc`: the docs build without a warning (broken links, missing docs), as docs.rs
//! and a user build them.
//!
//! Each crate is documented alone, with its default features: in one `--workspace` run the
//! members' features unify, so a link to an item behind a feature that some other member turns
//! on resolves there and breaks for a user who has not turned it on. Then the whole workspace
//! with every feature, which is what docs.rs shows.

use crate::setup::{cargo, members, run};

/// Every member alone, then the workspace with all features; `RUSTDOCFLAGS="-D warnings"`.
pub(crate) fn check() -> Result<(), String> {
    for name in members()? {
        run(cargo()
            .args(["doc", "--no-deps", "-p", &name])
            .env("RUSTDOCFLAGS", "-D warnings"))?;
    }
    run(cargo()
        .args(["doc", "--no-deps", "--workspace", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings"))
}

/// `cargo xtask doc`.
pub(crate) fn command(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("unexpected argument: {extra}"));
    }
    check()
}
