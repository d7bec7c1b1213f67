//! The stages of `host/src` import each other one way only.
//!
//! Every top-level module of the crate is a stage (a folder such as `mcp/`, or
//! a file such as `limits.rs`). This test reads each source file, finds the
//! `crate::STAGE` paths in its code (comments are skipped; `use crate::{a, b}`
//! groups are read too) and checks each import of another stage against
//! [`ALLOWED`]: an import that is not listed fails with the file and line. It
//! also checks that the imports found form no cycle, so the table cannot
//! drift into one. Run with `--nocapture` to see the dependency listing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Which stages each stage may import, from the bottom of the data flow up.
const ALLOWED: &[(&str, &[&str])] = &[
    ("limits", &[]),
    ("input", &["limits"]),
    ("observe", &["input", "limits"]),
    ("policy", &["input", "limits"]),
    ("sandbox", &["input", "limits", "observe", "policy"]),
    ("budget", &["limits", "observe"]),
    ("mcp", &["budget", "limits", "observe", "policy", "sandbox"]),
    ("loading", &["input", "limits"]),
    (
        "load",
        &[
            "budget", "input", "limits", "loading", "mcp", "observe", "policy", "sandbox",
        ],
    ),
    (
        "http",
        &["budget", "input", "limits", "mcp", "observe", "policy"],
    ),
    (
        "config",
        &[
            "budget", "http", "input", "limits", "loading", "observe", "policy",
        ],
    ),
    (
        "cli",
        &[
            "budget", "config", "http", "input", "limits", "load", "mcp", "observe", "policy",
            "sandbox",
        ],
    ),
];

/// One import of another stage.
struct Import {
    file: PathBuf,
    line: usize,
    from: String,
    to: String,
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The `.rs` files under `dir`, sorted.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The stage a file belongs to: its top-level folder, or its own name for a
/// top-level file. `None` for the crate roots, which see everything.
fn stage_of(relative: &Path) -> Option<String> {
    let mut parts = relative.components();
    let first = parts.next()?.as_os_str().to_str()?.to_owned();
    if parts.next().is_some() {
        return Some(first);
    }
    let stem = first.strip_suffix(".rs")?;
    (stem != "lib" && stem != "main").then(|| stem.to_owned())
}

/// The part of a line that is code: without a `//` comment (a `//` inside a
/// string literal is rare enough in this crate to be ignored).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    }
}

/// The stages a line names through `crate::`, including each name of a
/// `crate::{a, b::c}` group.
fn named_stages(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != "self" {
                    found.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

/// Every import of one stage by another, in file and line order.
fn imports() -> (Vec<Import>, BTreeSet<String>) {
    let root = source_root();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let stages: BTreeSet<String> = files
        .iter()
        .filter_map(|f| stage_of(f.strip_prefix(&root).expect("under src")))
        .collect();
    let mut found = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under src");
        let Some(from) = stage_of(relative) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}"));
        for (number, line) in text.lines().enumerate() {
            for to in named_stages(code(line)) {
                if to != from && stages.contains(&to) {
                    found.push(Import {
                        file: Path::new("host/src").join(relative),
                        line: number + 1,
                        from: from.clone(),
                        to,
                    });
                }
            }
        }
    }
    (found, stages)
}

/// A cycle in `graph`, if there is one, as the stages along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn stages_import_only_the_stages_below_them() {
    let (found, stages) = imports();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();

    let unlisted: Vec<&String> = stages
        .iter()
        .filter(|s| !allowed.contains_key(s.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "host/src has stages the layout table does not know: {unlisted:?}; add each to \
         ALLOWED in host/tests/layout.rs (and to ARCHITECTURE.md) with the stages it may import"
    );

    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut refused = String::new();
    for import in &found {
        graph
            .entry(import.from.clone())
            .or_default()
            .insert(import.to.clone());
        if !allowed[import.from.as_str()].contains(&import.to.as_str()) {
            writeln!(
                refused,
                "{}:{}: stage `{}` imports `crate::{}`, which it may not (allowed: {:?})",
                import.file.display(),
                import.line,
                import.from,
                import.to,
                allowed[import.from.as_str()]
            )
            .expect("write to a String");
        }
    }

    let mut listing = String::from("stage dependencies (host/src):\n");
    for stage in &stages {
        let uses: Vec<&str> = graph
            .get(stage)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        writeln!(listing, "  {stage:<8} -> {}", uses.join(", ")).expect("write to a String");
    }
    eprintln!("{listing}");

    assert!(
        refused.is_empty(),
        "imports against the data flow (move the type to the lower stage, or pass plain \
         data down instead of reaching up):\n{refused}"
    );
    if let Some(cycle) = cycle(&graph) {
        panic!("import cycle between stages: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_allowed_table_has_no_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = ALLOWED
        .iter()
        .map(|(from, to)| {
            (
                (*from).to_owned(),
                to.iter().map(|s| (*s).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(
        cycle(&graph),
        None,
        "ALLOWED in host/tests/layout.rs has a cycle"
    );
}

#[test]
fn the_scanner_reads_paths_and_groups() {
    assert_eq!(
        named_stages("use crate::mcp::registry::{LoadedPlugin, Registry};"),
        ["mcp"]
    );
    assert_eq!(
        named_stages("    use crate::{budget, policy::grants::Grants, self};"),
        ["budget", "policy"]
    );
    assert_eq!(
        named_stages("let x = crate::observe::metrics::call_finished(r); notcrate::x"),
        ["observe"]
    );
    assert_eq!(code("use crate::a; // see crate::b"), "use crate::a; ");
    assert_eq!(
        stage_of(Path::new("mcp/registry.rs")).as_deref(),
        Some("mcp")
    );
    assert_eq!(stage_of(Path::new("limits.rs")).as_deref(), Some("limits"));
    assert_eq!(stage_of(Path::new("lib.rs")), None);
}
