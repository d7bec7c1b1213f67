//! Directory grants mean the directory that was checked at load, for the life
//! of the server: a plugin that can write to a directory containing another
//! grant cannot redirect that grant by renaming it and planting a symlink.

use std::path::Path;

use serde_json::json;

use crate::support::{Plugins, Revision, Server, list_json, ok_text};

/// The `swapper` fixture with a read-write grant on `shared` and a read-only
/// grant on `shared/data` (its own second grant, inside the first).
const NESTED: &str = r#"manifest_version = 1
name = "swapper"
[[capabilities.dirs]]
host = "shared"
guest = "/shared"
mode = "rw"
[[capabilities.dirs]]
host = "shared/data"
guest = "/data"
mode = "ro"
"#;

/// A workspace with `shared/data/inside.txt`, and a secret outside it.
fn workspace() -> (tempfile::TempDir, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("shared/data")).unwrap();
    std::fs::write(root.path().join("shared/data/inside.txt"), "in").unwrap();
    std::fs::write(outside.path().join("secret.txt"), "TOP SECRET").unwrap();
    (root, outside)
}

fn config(root: &Path, plugins: &Path, overlapping: &str) -> std::path::PathBuf {
    let path = root.join("warden.toml");
    std::fs::write(
        &path,
        format!(
            "plugins_dir = {:?}\n[policy]\noverlapping_dirs = {overlapping:?}\n",
            plugins.display().to_string()
        ),
    )
    .unwrap();
    path
}

/// A link from `shared/data` that climbs out of the workspace to `outside`.
fn escape_target(root: &Path, outside: &Path) -> String {
    let depth = root.join("shared").components().count();
    format!("{}{}", "../".repeat(depth), outside.display())
}

#[tokio::test]
async fn a_writable_grant_that_contains_another_grant_is_refused_by_default() {
    let (root, _outside) = workspace();
    let plugins = Plugins::new()
        .component("swapper", warden_test_artifacts::SWAPPER_WASM)
        .manifest("swapper", NESTED)
        .component("files", warden_test_artifacts::FILES_WASM)
        .manifest(
            "files",
            "manifest_version = 1\nname = \"files\"\n[[capabilities.dirs]]\n\
             host = \"shared/data\"\nguest = \"/workspace\"\nmode = \"ro\"\n",
        )
        .component("echo", warden_test_artifacts::HOSTILE_WASM);
    let config = config(root.path(), plugins.path(), "refuse");
    let listing = list_json(&["--config", config.to_str().unwrap()], root.path(), &[]);
    let swapper = listing.iter().find(|p| p["name"] == "swapper").unwrap();
    assert_eq!(swapper["status"], "failed", "{swapper:#}");
    let error = swapper["error"].as_str().unwrap();
    for words in [
        "read-write directory",
        "its own ro directory",
        "plugin `files`'s ro directory",
        "policy.overlapping_dirs",
    ] {
        assert!(error.contains(words), "`{words}` missing from {error}");
    }
    // The plugin that only reads the directory, and an unrelated one, load.
    for name in ["files", "echo"] {
        let entry = listing.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(entry["status"], "loaded", "{entry:#}");
    }
}

#[tokio::test]
async fn a_swapped_grant_keeps_pointing_at_the_checked_directory() {
    let (root, outside) = workspace();
    let plugins = Plugins::new()
        .component("swapper", warden_test_artifacts::SWAPPER_WASM)
        .manifest("swapper", NESTED);
    let config = config(root.path(), plugins.path(), "warn");
    let server = Server::start_in(
        plugins.path(),
        Revision::Stateless,
        &["--config", config.to_str().unwrap()],
        root.path(),
        &[],
    )
    .await;
    assert!(
        server
            .stderr()
            .contains("allowed by policy.overlapping_dirs"),
        "the overlap is not warned about: {}",
        server.stderr()
    );
    let before = server.call("swapper_list", json!({ "dir": "/data" })).await;
    assert_eq!(ok_text(&before), "inside.txt");

    let target = escape_target(root.path(), outside.path());
    let swap = server
        .call(
            "swapper_swap",
            json!({ "dir": "/shared/data", "target": target }),
        )
        .await;
    ok_text(&swap);
    let planted = root.path().join("shared/data");
    assert!(planted.symlink_metadata().unwrap().is_symlink());
    assert!(
        planted.join("secret.txt").exists(),
        "the planted link does not lead out of the workspace, so the test proves nothing"
    );

    // Later calls, in fresh instances, still see the directory that was
    // checked at load (now at shared/data.moved), never the link's target.
    for _ in 0..3 {
        let after = server.call("swapper_list", json!({ "dir": "/data" })).await;
        let text = ok_text(&after);
        assert_eq!(text, "inside.txt", "the grant was redirected: {text}");
    }
    server.stop().await;

    // After a restart the planted link is refused as a way out of the
    // workspace: the plugin reports it and does not load.
    let listing = list_json(&["--config", config.to_str().unwrap()], root.path(), &[]);
    let swapper = listing.iter().find(|p| p["name"] == "swapper").unwrap();
    assert_eq!(swapper["status"], "failed", "{swapper:#}");
    let error = swapper["error"].as_str().unwrap();
    assert!(error.contains("outside the workspace"), "{error}");
}
