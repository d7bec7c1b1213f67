//! Directory and environment grants, allowed and denied side by side, through
//! the real binary: the `files` example plugin and the hostile fixture.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{Plugins, Revision, Server, error_text, list_json, ok_text, warden_in};

/// A workspace with a read-only and a read-write directory, a secret outside
/// the workspace, and a symlink that points out of a granted directory.
struct Workspace {
    root: tempfile::TempDir,
    outside: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("notes")).unwrap();
        std::fs::create_dir_all(root.path().join("scratch")).unwrap();
        std::fs::write(
            root.path().join("notes/hello.md"),
            "# Hello\nfrom the workspace\n",
        )
        .unwrap();
        std::fs::write(outside.path().join("secret.txt"), "TOP SECRET").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("notes/escape")).unwrap();
        Self { root, outside }
    }

    fn path(&self) -> &Path {
        self.root.path()
    }
}

const FILES_MANIFEST: &str = r#"manifest_version = 1
name = "files"
[[capabilities.dirs]]
host = "notes"
guest = "/workspace"
mode = "ro"
[[capabilities.dirs]]
host = "scratch"
guest = "/scratch"
mode = "rw"
"#;

#[tokio::test]
async fn read_only_and_read_write_directories_and_escapes() {
    let workspace = Workspace::new();
    let plugins = Plugins::new()
        .component("files", warden_test_artifacts::FILES_WASM)
        .manifest("files", FILES_MANIFEST);
    // `write` is destructive: this client cannot confirm, so the operator
    // approves it (tests/e2e/consent.rs asks).
    let config = workspace.path().join("warden.toml");
    std::fs::write(&config, "[plugins.files]\nauto_approve = [\"write\"]\n").unwrap();
    let server = Server::start_in(
        plugins.path(),
        Revision::Stateless,
        &["--config", config.to_str().unwrap()],
        workspace.path(),
        &[],
    )
    .await;

    let read = server
        .call("files_read", json!({ "path": "/workspace/hello.md" }))
        .await;
    assert!(ok_text(&read).contains("from the workspace"), "{read:?}");

    let write_ro = server
        .call(
            "files_write",
            json!({ "path": "/workspace/new.md", "content": "x" }),
        )
        .await;
    let message = error_text(&write_ro);
    assert!(message.contains("read-only"), "{message}");
    assert!(!workspace.path().join("notes/new.md").exists());

    let write_rw = server
        .call(
            "files_write",
            json!({ "path": "/scratch/out.md", "content": "written" }),
        )
        .await;
    ok_text(&write_rw);
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("scratch/out.md")).unwrap(),
        "written"
    );

    for escape in [
        "/workspace/../../etc/passwd",
        "/workspace/escape/secret.txt",
        "/etc/passwd",
        workspace
            .outside
            .path()
            .join("secret.txt")
            .to_str()
            .unwrap(),
    ] {
        let result = server.call("files_read", json!({ "path": escape })).await;
        let message = error_text(&result);
        assert!(
            !message.contains("TOP SECRET"),
            "{escape} leaked: {message}"
        );
        assert!(!message.contains("root:"), "{escape} leaked: {message}");
    }
    server.stop().await;
}

#[tokio::test]
async fn directories_outside_the_workspace_are_refused_at_load() {
    let workspace = Workspace::new();
    let symlink_out =
        "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"notes/escape\"\nguest = \"/d\"\n";
    let missing =
        "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"nothing-here\"\nguest = \"/d\"\n";
    let dotdot = "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"../x\"\nguest = \"/d\"\n";
    let absolute = "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"/etc\"\nguest = \"/d\"\n";
    let plugins = Plugins::new()
        .component("symlinkout", warden_test_artifacts::HOSTILE_WASM)
        .manifest("symlinkout", symlink_out)
        .component("missing", warden_test_artifacts::HOSTILE_WASM)
        .manifest("missing", missing)
        .component("dotdot", warden_test_artifacts::HOSTILE_WASM)
        .manifest("dotdot", dotdot)
        .component("absolute", warden_test_artifacts::HOSTILE_WASM)
        .manifest("absolute", absolute);
    let listing = list_json(
        &["--plugins", plugins.path().to_str().unwrap()],
        workspace.path(),
        &[],
    );
    for (plugin, words) in [
        (
            "symlinkout",
            &["capabilities.dirs[0].host", "outside the workspace"][..],
        ),
        (
            "missing",
            &["capabilities.dirs[0].host", "does not exist"][..],
        ),
        ("dotdot", &["capabilities.dirs[0].host", ".."][..]),
        ("absolute", &["capabilities.dirs[0].host"][..]),
    ] {
        let entry = listing.iter().find(|p| p["name"] == plugin).expect(plugin);
        assert_eq!(entry["status"], "failed", "{entry:#}");
        let error = entry["error"].as_str().unwrap();
        for word in words {
            assert!(
                error.contains(word),
                "{plugin}: `{word}` missing from {error}"
            );
        }
    }
}

#[tokio::test]
async fn granted_variables_are_visible_others_are_not_and_values_stay_secret() {
    let plugins = Plugins::new().hostile(Some(
        "manifest_version = 1\n[capabilities]\nenv = [\"WARDEN_E2E_TOKEN\", \"WARDEN_E2E_UNSET\"]\n",
    ));
    let secret = "s3cr3t-value-42";
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(
        plugins.path(),
        Revision::Legacy,
        &[],
        dir.path(),
        &[("WARDEN_E2E_TOKEN", secret), ("WARDEN_E2E_OTHER", "nope")],
    )
    .await;
    let granted = server
        .call("hostile_env", json!({ "name": "WARDEN_E2E_TOKEN" }))
        .await;
    assert_eq!(ok_text(&granted), secret);
    for hidden in ["WARDEN_E2E_OTHER", "WARDEN_E2E_UNSET", "HOME"] {
        let value = server.call("hostile_env", json!({ "name": hidden })).await;
        assert_eq!(ok_text(&value), "unset", "{hidden}");
    }
    let log = server.stderr();
    assert!(!log.contains(secret), "the secret reached the log");
    assert!(
        log.contains("WARDEN_E2E_UNSET"),
        "the unset variable was not reported: {log}"
    );
    server.stop().await;

    for format in [&["list", "--json"][..], &["list"][..]] {
        let mut args = format.to_vec();
        let dir = plugins.path().to_str().unwrap();
        args.extend(["--plugins", dir]);
        let out = warden_in(&args, dir.as_ref(), &[("WARDEN_E2E_TOKEN", secret)]);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{all}");
        assert!(
            all.contains("WARDEN_E2E_TOKEN"),
            "the grant is not listed: {all}"
        );
        assert!(
            !all.contains(secret),
            "`warden {format:?}` printed the secret"
        );
    }
}

#[tokio::test]
async fn operator_policy_narrows_what_manifests_request() {
    let workspace = Workspace::new();
    let plugins = Plugins::new()
        .component("files", warden_test_artifacts::FILES_WASM)
        .manifest("files", FILES_MANIFEST)
        .hostile(Some(
            "manifest_version = 1\n[capabilities]\n\
             env = [\"WARDEN_E2E_A\", \"WARDEN_E2E_B\"]\n\
             http = [\"http://127.0.0.1:1\", \"http://127.0.0.1:2\"]\n",
        ));
    let config = workspace.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            r#"plugins_dir = {plugins:?}
[policy]
allow_write = false
[plugins.files]
disabled_tools = ["search"]
auto_approve = ["write"]
[plugins.hostile]
env = ["WARDEN_E2E_A"]
env_values = {{ WARDEN_E2E_A = "prefix-${{WARDEN_E2E_SOURCE}}" }}
http = ["http://127.0.0.1:1"]
[plugins.hostile.limits]
timeout = "3s"
"#,
            plugins = plugins.path().display().to_string()
        ),
    )
    .unwrap();
    let env = [
        ("WARDEN_E2E_SOURCE", "from-source"),
        ("WARDEN_E2E_A", "host-value"),
        ("WARDEN_E2E_B", "other"),
    ];

    let listing = list_json(
        &["--config", config.to_str().unwrap()],
        workspace.path(),
        &env,
    );
    let hostile = listing.iter().find(|p| p["name"] == "hostile").unwrap();
    assert_eq!(
        hostile["requested"]["http"].as_array().unwrap().len(),
        2,
        "{hostile:#}"
    );
    assert_eq!(
        hostile["granted"]["http"]["origins"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{hostile:#}"
    );
    assert_eq!(hostile["limits"]["timeout_ms"], 3000, "{hostile:#}");
    let notices = hostile["notices"].to_string();
    assert!(
        notices.contains("http://127.0.0.1:2 not granted"),
        "{notices}"
    );
    assert!(notices.contains("WARDEN_E2E_B not granted"), "{notices}");
    let files = listing.iter().find(|p| p["name"] == "files").unwrap();
    let modes: Vec<&Value> = files["granted"]["dirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["mode"])
        .collect();
    assert!(modes.iter().all(|m| *m == "ro"), "{files:#}");
    assert!(
        !files["tools"].to_string().contains("files_search"),
        "{files:#}"
    );

    let dir = config.parent().unwrap();
    let server = Server::start_in(
        plugins.path(),
        Revision::Stateless,
        &["--config", config.to_str().unwrap()],
        dir,
        &env,
    )
    .await;
    let a = server
        .call("hostile_env", json!({ "name": "WARDEN_E2E_A" }))
        .await;
    assert_eq!(ok_text(&a), "prefix-from-source");
    let b = server
        .call("hostile_env", json!({ "name": "WARDEN_E2E_B" }))
        .await;
    assert_eq!(ok_text(&b), "unset");
    let write = server
        .call(
            "files_write",
            json!({ "path": "/scratch/x.md", "content": "x" }),
        )
        .await;
    assert!(error_text(&write).contains("read-only"));
    assert!(
        !server
            .tool_names()
            .await
            .iter()
            .any(|n| n == "files_search")
    );
    assert!(
        !server.stderr().contains("from-source"),
        "a secret reached the log"
    );
    server.stop().await;
}
