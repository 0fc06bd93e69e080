//! The README's code is the examples' code: every ```rust block that follows a
//! `<!-- snippet: PATH -->` line must appear, line for line, in that file (relative to the
//! repository root), so the walkthrough cannot drift from code that compiles and is tested.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the examples crate sits in the workspace")
}

#[test]
fn readme_snippets_are_real_code() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut lines = readme.lines();
    let mut checked = 0;
    while let Some(line) = lines.next() {
        let Some(path) = line.trim().strip_prefix("<!-- snippet: ").and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        assert_eq!(
            lines.next().map(str::trim),
            Some("```rust"),
            "a ```rust block must follow the snippet line for {path}"
        );
        let snippet: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let source = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let source: Vec<&str> = source.lines().collect();
        let found = source.windows(snippet.len()).any(|w| w == snippet.as_slice());
        assert!(found, "the README's snippet of {path} is not in that file:\n{}", snippet.join("\n"));
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} snippets are marked in the README");
}
