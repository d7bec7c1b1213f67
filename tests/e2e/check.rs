//! `warden check FILE.wasm`: one line per check and an exit code, for good
//! plugins and for every way a component or its manifest can be wrong.

use crate::support::{Plugins, warden_in};

/// Runs `warden check` on `NAME.wasm` of `plugins`, in a workspace of its
/// own: (exit success, stdout).
fn check(plugins: &Plugins, name: &str) -> (bool, String) {
    let workspace = tempfile::tempdir().unwrap();
    let file = plugins.path().join(format!("{name}.wasm"));
    let out = warden_in(&["check", file.to_str().unwrap()], workspace.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !stdout.is_empty(),
        "no report; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), stdout)
}

/// The line of `check` in `report`.
fn line<'a>(report: &'a str, check: &str) -> &'a str {
    line_or_none(report, check).unwrap_or_else(|| panic!("no `{check}` line in:\n{report}"))
}

/// The line of `check` in `report`, if there is one.
fn line_or_none<'a>(report: &'a str, check: &str) -> Option<&'a str> {
    report
        .lines()
        .find(|l| l.get(5..).is_some_and(|rest| rest.starts_with(check)))
}

#[test]
fn a_good_plugin_passes_every_check() {
    let plugins = Plugins::new()
        .component("text", warden_test_artifacts::TEXT_WASM)
        .manifest(
            "text",
            "manifest_version = 1\nname = \"text\"\nversion = \"1.2.3\"\n[limits]\ntimeout = \"3s\"\n",
        );
    let (ok, report) = check(&plugins, "text");
    assert!(ok, "{report}");
    assert!(line(&report, "file").starts_with("ok "), "{report}");
    assert!(
        line(&report, "world").contains("warden:plugin@0.2"),
        "{report}"
    );
    assert!(line(&report, "exports").contains("tools"), "{report}");
    assert!(line(&report, "imports").starts_with("ok "), "{report}");
    assert!(line(&report, "manifest").contains("text 1.2.3"), "{report}");
    assert!(line(&report, "requests").contains("none"), "{report}");
    assert!(line(&report, "limits").contains("3 s"), "{report}");
    let describes = line(&report, "describes");
    assert!(
        describes.starts_with("ok ") && describes.contains("text_hash"),
        "{report}"
    );
    assert!(!report.contains("FAIL"), "{report}");
}

#[test]
fn a_plugin_without_a_manifest_is_named_after_its_file() {
    let plugins = Plugins::new().component("docs", warden_test_artifacts::DOCS_WASM);
    let (ok, report) = check(&plugins, "docs");
    assert!(ok, "{report}");
    assert!(line(&report, "manifest").starts_with("info"), "{report}");
    assert!(
        line(&report, "exports").contains("resources, prompts, completions"),
        "{report}"
    );
}

#[test]
fn each_broken_component_fails_its_own_check() {
    let plugins = Plugins::new()
        .component("old", warden_test_artifacts::WRONG_VERSION_WASM)
        .component("extra", warden_test_artifacts::BAD_IMPORT_WASM)
        .component("command", warden_test_artifacts::NOT_A_PLUGIN_WASM)
        .raw("garbage", b"this is not wasm")
        .raw("core", b"\0asm\x01\0\0\0");
    for (name, failing, says) in [
        ("old", "world", "0.3.0"),
        ("extra", "imports", "fixture:missing/thing"),
        ("command", "exports", "wasi:cli/run"),
        ("garbage", "component", "not a WebAssembly file"),
        ("core", "component", "core WebAssembly module"),
    ] {
        let (ok, report) = check(&plugins, name);
        assert!(!ok, "{name}: {report}");
        let line = line(&report, failing);
        assert!(
            line.starts_with("FAIL") && line.contains(says),
            "{name}: {report}"
        );
        assert!(
            line_or_none(&report, "load").is_none_or(|l| l.starts_with("skip")),
            "{name}: {report}"
        );
    }
}

#[test]
fn a_broken_manifest_and_an_unusable_grant_fail_with_the_reason() {
    let plugins = Plugins::new()
        .component("broken", warden_test_artifacts::TEXT_WASM)
        .manifest(
            "broken",
            "manifest_version = 1\nname = \"broken\"\n[limits]\nfuel = \"lots\"\n",
        )
        .component("nodir", warden_test_artifacts::FILES_WASM)
        .manifest(
            "nodir",
            "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"not-here\"\nguest = \"/d\"\n",
        );
    let (ok, report) = check(&plugins, "broken");
    assert!(!ok, "{report}");
    assert!(line(&report, "manifest").starts_with("FAIL"), "{report}");
    assert!(line(&report, "manifest").contains("fuel"), "{report}");

    let (ok, report) = check(&plugins, "nodir");
    assert!(!ok, "{report}");
    assert!(line(&report, "requests").contains("/d"), "{report}");
    let load = line(&report, "load");
    assert!(
        load.starts_with("FAIL") && load.contains("not-here"),
        "{report}"
    );
}
