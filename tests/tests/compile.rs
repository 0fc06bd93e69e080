//! The macros' compile-time checks, pinned: one case per mistake under `ui/fail` with the
//! expected message checked in, and every accepted form under `ui/pass`.
//!
//! Regenerate the expected output after an intended change with
//! `TRYBUILD=overwrite cargo test -p erlen-tests --test compile`, then read the diff.

use std::io::IsTerminal;

#[test]
fn macros_accept_every_form_and_explain_every_mistake() {
    plain_report_unless_on_a_terminal();
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}

/// trybuild colours its report whenever `TERM` allows it, even when stderr is a file or a
/// pipe (a CI log, `cargo test 2>&1 | tee`), which fills the file with raw escape codes.
/// It honours `NO_COLOR`, so set that unless stderr is a terminal or cargo was asked for
/// colour (`CARGO_TERM_COLOR=always`).
fn plain_report_unless_on_a_terminal() {
    let forced = std::env::var("CARGO_TERM_COLOR").is_ok_and(|c| c == "always");
    if !forced && !std::io::stderr().is_terminal() {
        // SAFETY: this is the only test in this binary, and it sets the variable before
        // trybuild (or anything else in the process) starts a thread that could read the
        // environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("NO_COLOR", "1")
        };
    }
}
