//! `warden new` for every language, then `warden build` (the project's own
//! build with its pinned toolchain, the check, the copy into a plugins
//! folder) and a call of the scaffolded tool: a fresh project builds and
//! loads unchanged.

use std::path::Path;

use serde_json::Value;

use crate::support::warden_in;

/// Scaffolds, builds and calls a `LANG` project; returns the call's text.
fn scaffold_build_call(lang: &str) -> String {
    let root = tempfile::tempdir().unwrap();
    let name = format!("hello-{lang}");
    let project = root.path().join("project");
    let plugins = root.path().join("plugins");
    let run = |args: &[&str], cwd: &Path| {
        let out = warden_in(args, cwd, &[]);
        assert!(
            out.status.success(),
            "warden {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let created = run(
        &[
            "new",
            &name,
            "--lang",
            lang,
            "--dir",
            project.to_str().unwrap(),
        ],
        root.path(),
    );
    assert!(created.contains(&format!("{name}_greet")), "{created}");
    for file in [
        format!("{name}.toml"),
        "wit/plugin.wit".into(),
        "README.md".into(),
    ] {
        assert!(project.join(&file).is_file(), "{lang}: {file} missing");
    }

    let checked = run(
        &["build", ".", "--plugins", plugins.to_str().unwrap()],
        &project,
    );
    assert!(checked.contains("describes"), "{checked}");
    assert!(plugins.join(format!("{name}.wasm")).is_file());
    assert!(plugins.join(format!("{name}.toml")).is_file());

    let tool = format!("{name}_greet");
    let result = run(
        &[
            "call",
            &tool,
            r#"{"name": "Ada"}"#,
            "--plugins",
            plugins.to_str().unwrap(),
        ],
        root.path(),
    );
    let result: Value = serde_json::from_str(&result).expect("JSON result");
    result["content"][0]["text"].as_str().unwrap().to_owned()
}

#[test]
fn a_new_rust_project_builds_and_answers() {
    assert_eq!(scaffold_build_call("rust"), "Hello, Ada!");
}

#[test]
fn a_new_python_project_builds_and_answers() {
    assert_eq!(scaffold_build_call("python"), "Hello, Ada!");
}

#[test]
fn a_new_javascript_project_builds_and_answers() {
    assert_eq!(scaffold_build_call("js"), "Hello, Ada!");
}

#[test]
fn a_new_c_project_builds_and_answers() {
    assert_eq!(scaffold_build_call("c"), "Hello, Ada!");
}

#[test]
fn new_refuses_a_bad_name_and_a_folder_in_use() {
    let root = tempfile::tempdir().unwrap();
    let bad = warden_in(&["new", "no spaces", "--lang", "c"], root.path(), &[]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("cannot be a plugin name"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    std::fs::create_dir(root.path().join("taken")).unwrap();
    std::fs::write(root.path().join("taken/file"), "x").unwrap();
    let taken = warden_in(&["new", "taken", "--lang", "rust"], root.path(), &[]);
    assert!(!taken.status.success());
    assert!(
        String::from_utf8_lossy(&taken.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
}
