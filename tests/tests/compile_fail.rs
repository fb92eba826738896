//! The mistakes that must not compile, each with the message the user sees (`tests/ui/*.stderr`;
//! regenerate with `TRYBUILD=overwrite` after a deliberate change, and read the diff).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

#[test]
fn mistakes_do_not_compile_and_say_why() {
    trybuild::TestCases::new().compile_fail("ui/*.rs");
}
