//! The Warden example plugins and test fixtures, built from source.
//!
//! The build script compiles the guest workspaces `plugins/` and
//! `tests/fixtures/` for `wasm32-wasip2` (release profile) and exposes the
//! absolute path of every component as a constant:
//!
//! - [`TEXT_WASM`], [`TIME_WASM`], [`FETCH_WASM`]: the example plugins (also in
//!   [`EXAMPLES`]);
//! - [`FILES_WASM`], [`FEATURE_FLAGS_WASM`], [`DOCS_WASM`]: example plugins
//!   whose manifests grant directories of the example workspace (tests bring
//!   their own);
//! - [`HOSTILE_WASM`]: tools that loop, allocate, recurse, flood, trap, ...;
//! - [`TOOLS_ONLY_WASM`]: built against the frozen `warden:plugin@0.1.0`;
//! - [`WRONG_VERSION_WASM`]: built against `warden:plugin@0.3.0`;
//! - [`BAD_IMPORT_WASM`]: imports `fixture:missing/thing`;
//! - [`NOT_A_PLUGIN_WASM`]: a plain WASI command (`wasi:cli/run`);
//! - [`CONFORMANCE_WASM`]: the fixtures the MCP conformance suite calls.
//! - [`HOLD_WASM`]: fills its memory limit and holds it (memory budget tests).
//! - [`ASKER_WASM`]: asks the MCP client (sampling, elicitation, roots).
//!
//! Editing a guest source file or `wit/` rebuilds them. Building this crate
//! needs the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`).

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/gen.rs"));

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("tests/artifacts lives two levels below the repository root")
        .to_path_buf()
}

/// `<repo>/examples/plugins`: the example plugins' manifests (`NAME.toml`).
pub fn examples_manifest_dir() -> PathBuf {
    repo_root().join("examples").join("plugins")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_artifact_is_a_component() {
        for path in [
            TEXT_WASM,
            TIME_WASM,
            FETCH_WASM,
            HOSTILE_WASM,
            WRONG_VERSION_WASM,
            BAD_IMPORT_WASM,
            NOT_A_PLUGIN_WASM,
            DOCS_WASM,
            TOOLS_ONLY_WASM,
            CONFORMANCE_WASM,
            HOLD_WASM,
            ASKER_WASM,
        ] {
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(&bytes[..8], b"\0asm\x0d\0\x01\0", "{path}");
        }
    }

    #[test]
    fn examples_have_manifests() {
        let names: Vec<&str> = EXAMPLES.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["text", "time", "fetch"]);
        for (name, _) in EXAMPLES {
            let manifest = examples_manifest_dir().join(format!("{name}.toml"));
            assert!(manifest.is_file(), "{} missing", manifest.display());
        }
    }
}
