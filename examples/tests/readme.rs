//! The documentation's code is the examples' code: in README.md and in every chapter of
//! the guide (`docs/*.md`), every ```rust block that follows a `<!-- snippet: PATH -->`
//! line must appear, line for line, in that file (relative to the repository root), so the
//! walkthrough cannot drift from code that compiles and is tested.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How many snippets the documents mark in all. A marker that stops being recognised (a
/// typo in it, a chapter left out of the search) lowers the count, and the test says so.
const MIN_SNIPPETS: usize = 38;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the examples crate sits in the workspace")
}

/// README.md and every `docs/*.md`, relative to the repository root, in a stable order.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .map(|dir| {
            dir.map(|entry| entry.expect("docs/ lists").path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
                .map(|path| path.strip_prefix(root()).expect("under the root").to_path_buf())
                .collect()
        })
        .unwrap_or_default();
    docs.sort();
    docs.insert(0, PathBuf::from("README.md"));
    docs
}

/// The snippets one document marks, and what is wrong with any of them.
#[derive(Default)]
struct Checked {
    /// `line N: PATH` for each snippet found in its file.
    passed: Vec<String>,
    problems: Vec<String>,
}

fn check_document(text: &str) -> Checked {
    let mut checked = Checked::default();
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim();
        if !(trimmed.starts_with("<!--") && trimmed.contains("snippet")) {
            continue;
        }
        let Some(path) = trimmed.strip_prefix("<!-- snippet: ").and_then(|l| l.strip_suffix(" -->")) else {
            checked.problems.push(format!("line {number}: not a `<!-- snippet: PATH -->` marker: {trimmed}"));
            continue;
        };
        if lines.next().map(|(_, l)| l.trim()) != Some("```rust") {
            checked
                .problems
                .push(format!("line {number}: a ```rust block must follow the snippet line for {path}"));
            continue;
        }
        let snippet: Vec<&str> = lines.by_ref().map(|(_, l)| l).take_while(|l| l.trim() != "```").collect();
        let source = match std::fs::read_to_string(root().join(path)) {
            Ok(source) => source,
            Err(e) => {
                checked.problems.push(format!("line {number}: {path}: {e}"));
                continue;
            }
        };
        let source: Vec<&str> = source.lines().collect();
        if !snippet.is_empty() && source.windows(snippet.len()).any(|w| w == snippet.as_slice()) {
            checked.passed.push(format!("line {number}: {path}"));
        } else {
            checked.problems.push(format!(
                "line {number}: the snippet of {path} is not in that file:\n{}",
                snippet.join("\n")
            ));
        }
    }
    checked
}

#[test]
fn readme_snippets_are_real_code() {
    let mut report = String::new();
    let mut total = 0;
    let mut failed = false;
    for doc in documents() {
        let text =
            std::fs::read_to_string(root().join(&doc)).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        let checked = check_document(&text);
        total += checked.passed.len();
        failed |= !checked.problems.is_empty();
        let _ = writeln!(report, "{}: {} snippets checked", doc.display(), checked.passed.len());
        for passed in &checked.passed {
            let _ = writeln!(report, "    ok  {passed}");
        }
        for problem in &checked.problems {
            let _ = writeln!(report, "    BAD {problem}");
        }
    }
    assert!(!failed, "some snippets do not match their files:\n{report}");
    assert!(
        total >= MIN_SNIPPETS,
        "only {total} snippets are marked, where the documents had {MIN_SNIPPETS}:\n{report}"
    );
    println!("{report}");
}

/// Relative links that may lead nowhere for now: a chapter written on another branch.
/// Once the file is there, its links are checked like any other.
const PENDING: &[&str] = &[];

/// The relative link targets of a markdown text, with their line numbers: every `](path)`
/// or `](path#anchor)` outside code, without the anchor. Web addresses and links within
/// the page (`](#anchor)`) are left out.
fn relative_links(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Outside inline code: the even pieces between backticks.
        for prose in line.split('`').step_by(2) {
            let mut rest = prose;
            while let Some(start) = rest.find("](") {
                rest = &rest[start + 2..];
                let end = rest.find(')').unwrap_or(rest.len());
                let target = rest[..end].split_whitespace().next().unwrap_or("");
                rest = &rest[end..];
                if target.is_empty()
                    || target.starts_with('#')
                    || target.contains("://")
                    || target.starts_with("mailto:")
                {
                    continue;
                }
                let path = target.split('#').next().unwrap_or(target);
                links.push((i + 1, path.to_string()));
            }
        }
    }
    links
}

/// Normalises `a/b/../c` to `a/c`, so a link can be compared with a path from the root.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn relative_links_lead_to_files() {
    let mut report = String::new();
    let mut broken = Vec::new();
    let mut total = 0;
    for doc in documents() {
        let text =
            std::fs::read_to_string(root().join(&doc)).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        let links = relative_links(&text);
        let _ = writeln!(report, "{}: {} relative links", doc.display(), links.len());
        for (line, target) in links {
            total += 1;
            let resolved = normalise(&doc.parent().unwrap_or(Path::new("")).join(&target));
            let pending = PENDING.iter().any(|p| Path::new(p) == resolved);
            if !root().join(&resolved).exists() && !pending {
                broken.push(format!(
                    "{}:{line}: ]({target}) -> {} does not exist",
                    doc.display(),
                    resolved.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "links that lead nowhere:\n{}\n\n{report}", broken.join("\n"));
    // The maps link every chapter, so there are at least two links a chapter: a parser
    // that stops finding them fails here rather than passing on nothing.
    assert!(total >= 2 * documents().len(), "only {total} relative links found:\n{report}");
    println!("{report}");
}

#[test]
fn both_maps_list_every_chapter() {
    let front = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let contents = std::fs::read_to_string(root().join("docs/README.md")).expect("docs/README.md");
    let front: Vec<String> = relative_links(&front).into_iter().map(|(_, l)| l).collect();
    let contents: Vec<String> = relative_links(&contents).into_iter().map(|(_, l)| l).collect();
    let mut missing = Vec::new();
    for doc in documents().iter().skip(1) {
        let name = doc.file_name().and_then(|n| n.to_str()).expect("a file name");
        if name == "README.md" {
            continue;
        }
        if !front.iter().any(|l| *l == format!("docs/{name}")) {
            missing.push(format!("README.md does not link {}", doc.display()));
        }
        if !contents.iter().any(|l| l == name) {
            missing.push(format!("docs/README.md does not link {}", doc.display()));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
