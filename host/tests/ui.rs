//! Golden tests for manifest and config errors.
//!
//! - every `tests/ui/{manifest,config}/valid/*.toml` must load;
//! - every `tests/ui/{manifest,config}/invalid/*.toml` must fail, and the
//!   error's `Display` must equal the `.err` file beside it.
//!
//! Files are named in errors by their path from the repository root, so the
//! golden text does not depend on where the repository is checked out.
//! `BLESS=1 cargo test --release --test ui` rewrites the `.err` files (and
//! deletes `.err` files whose `.toml` is gone); review the diff before committing.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use warden::config::Config;
use warden::policy::manifest::Manifest;

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the host crate is inside the repository")
}

fn ui_dir(kind: &str, outcome: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ui")
        .join(kind)
        .join(outcome)
}

fn bless() -> bool {
    std::env::var_os("BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The files in `dir` with extension `ext`, sorted.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Reads `file` and returns its text and its path from the repository root.
fn read(file: &Path) -> (String, PathBuf) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let relative = file
        .strip_prefix(repo_root())
        .expect("test files are inside the repository")
        .to_owned();
    (text, relative)
}

fn check_valid<T, E: Display>(kind: &str, parse: impl Fn(&str, &Path) -> Result<T, E>) {
    let tomls = files(&ui_dir(kind, "valid"), "toml");
    assert!(!tomls.is_empty(), "no valid {kind} files");
    let failures: Vec<String> = tomls
        .iter()
        .filter_map(|file| {
            let (text, relative) = read(file);
            parse(&text, &relative)
                .err()
                .map(|e| format!("{} should be valid, but: {e}", relative.display()))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n\n"));
}

fn check_invalid<T: std::fmt::Debug, E: Display>(
    kind: &str,
    parse: impl Fn(&str, &Path) -> Result<T, E>,
) {
    let dir = ui_dir(kind, "invalid");
    let tomls = files(&dir, "toml");
    assert!(!tomls.is_empty(), "no invalid {kind} files");
    let mut failures = Vec::new();
    for file in &tomls {
        let (text, relative) = read(file);
        let actual = match parse(&text, &relative) {
            Ok(parsed) => {
                failures.push(format!(
                    "{} should be invalid, but parsed as {parsed:#?}",
                    relative.display()
                ));
                continue;
            }
            Err(e) => format!("{e}\n"),
        };
        let golden = file.with_extension("err");
        if bless() {
            std::fs::write(&golden, &actual)
                .unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{} has a different error.\n--- expected ({})\n{expected}--- actual\n{actual}",
                relative.display(),
                golden.display()
            )),
            Err(e) => failures.push(format!(
                "{}: cannot read {} ({e}); run with BLESS=1 to create it. The error is:\n{actual}",
                relative.display(),
                golden.display()
            )),
        }
    }
    for golden in files(&dir, "err") {
        if !golden.with_extension("toml").exists() {
            if bless() {
                std::fs::remove_file(&golden)
                    .unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
            } else {
                failures.push(format!(
                    "{} has no .toml beside it; run with BLESS=1 to delete it",
                    golden.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "\n{}\n(BLESS=1 cargo test --release --test ui rewrites the .err files)\n",
        failures.join("\n\n")
    );
}

#[test]
fn valid_manifests_load() {
    check_valid("manifest", Manifest::parse);
}

#[test]
fn invalid_manifests_fail_with_the_golden_error() {
    check_invalid("manifest", Manifest::parse);
}

#[test]
fn valid_configs_load() {
    check_valid("config", Config::parse);
}

#[test]
fn invalid_configs_fail_with_the_golden_error() {
    check_invalid("config", Config::parse);
}
