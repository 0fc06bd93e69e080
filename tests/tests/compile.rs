//! The macros' compile-time checks, pinned: one case per mistake under `ui/fail` with the
//! expected message checked in, and every accepted form under `ui/pass`.
//!
//! Regenerate the expected output after an intended change with
//! `TRYBUILD=overwrite cargo test -p erlen-tests --test compile`, then read the diff.

#[test]
fn macros_accept_every_form_and_explain_every_mistake() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
