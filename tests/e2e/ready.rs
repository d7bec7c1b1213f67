//! Ready instances through the real server: instances made ahead of calls
//! for plugins slow to instantiate. Each still serves one call, under the
//! call's limits; `ready_instances = 0` turns them off, and a plugin whose
//! instantiation is faster than `ready_threshold`, or whose calls run one at
//! a time, gets none.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Plugins, Revision, Server, error_text, ok_text};

/// The `opener` fixture, granted a `data` folder that holds `start.txt`.
const OPENER_MANIFEST: &str = r#"manifest_version = 1
name = "opener"
[[capabilities.dirs]]
host = "data"
guest = "/data"
mode = "ro"
"#;

/// Starts the hostile fixture (calls time out after 300 ms) under `config`.
async fn hostile(config: &str) -> (tempfile::TempDir, Plugins, Server) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.toml");
    std::fs::write(&path, config).unwrap();
    let plugins = Plugins::new().hostile(Some(
        "manifest_version = 1\nname = \"hostile\"\n[limits]\ntimeout = \"300ms\"\n",
    ));
    let server = Server::start_with(
        plugins.path(),
        Revision::Legacy,
        &["--config", path.to_str().unwrap()],
    )
    .await;
    (dir, plugins, server)
}

/// Whether each finished call of `tool` ran in a ready instance, in order.
fn ready_flags(server: &Server, tool: &str) -> Vec<bool> {
    server
        .log_events()
        .iter()
        .filter(|e| e["fields"]["message"] == "tool call finished" && e["fields"]["tool"] == tool)
        .map(|e| e["fields"]["ready"] == Value::Bool(true))
        .collect()
}

/// Calls the counter `times` times, a little apart so that each call's
/// successor is made; every call must see a fresh instance.
async fn count(server: &Server, times: usize) {
    for _ in 0..times {
        let value = ok_text(&server.call("hostile_counter", json!({})).await);
        assert_eq!(value, "1", "an instance served a second call");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test]
async fn calls_after_the_first_run_in_fresh_ready_instances_under_their_limits() {
    let (_dir, _plugins, server) = hostile("ready_threshold = \"1us\"\n").await;
    count(&server, 6).await;
    // Describing the plugin at load and the first two calls measure the
    // instantiation.
    let flags = ready_flags(&server, "hostile_counter");
    assert_eq!(flags, [false, false, true, true, true, true], "{flags:?}");

    // A ready instance keeps the call's deadline: a spinning guest is
    // stopped at its timeout, and the next call is served as before.
    let spin = error_text(&server.call("hostile_spin", json!({})).await);
    assert!(spin.contains("timeout"), "{spin}");
    assert_eq!(ready_flags(&server, "hostile_spin"), [true]);
    let echo = server
        .call("hostile_echo", json!({ "text": "after" }))
        .await;
    assert_eq!(ok_text(&echo), "after");
    assert_eq!(ready_flags(&server, "hostile_echo"), [true]);
    server.stop().await;
}

#[tokio::test]
async fn none_when_off_slower_than_the_threshold_or_for_a_sequential_plugin() {
    for config in [
        "ready_instances = 0\nready_threshold = \"1us\"\n",
        "ready_threshold = \"1s\"\n",
        // Its start code would run beside its one running call.
        "ready_threshold = \"1us\"\n[plugins.hostile]\nsequential = true\n",
    ] {
        let (_dir, _plugins, server) = hostile(config).await;
        count(&server, 6).await;
        let flags = ready_flags(&server, "hostile_counter");
        assert_eq!(flags, [false; 6], "{config:?}: {flags:?}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_plugin_whose_start_code_opens_files_gets_none() {
    let workspace = tempfile::tempdir().unwrap();
    std::fs::create_dir(workspace.path().join("data")).unwrap();
    std::fs::write(workspace.path().join("data/start.txt"), "held").unwrap();
    let config = workspace.path().join("warden.toml");
    std::fs::write(&config, "ready_threshold = \"1us\"\n").unwrap();
    let plugins = Plugins::new()
        .component("opener", warden_test_artifacts::OPENER_WASM)
        .manifest("opener", OPENER_MANIFEST);
    let server = Server::start_in(
        plugins.path(),
        Revision::Legacy,
        &["--config", config.to_str().unwrap()],
        workspace.path(),
        &[],
    )
    .await;
    for _ in 0..6 {
        // Each call's own instance ran the start code, which opened the file.
        let opened = server.call("opener_opened", json!({})).await;
        assert_eq!(ok_text(&opened), "1");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // An instance made ahead would hold the file while it waits: none was
    // kept, although every instantiation counts as slow here.
    let flags = ready_flags(&server, "opener_opened");
    assert_eq!(flags, [false; 6], "{flags:?}");
    let refused = server.log_events().into_iter().any(|e| {
        e["fields"]["message"] == "no ready instances for this plugin"
            && e["fields"]["reason"] == "its start code opens files"
    });
    assert!(refused, "the reason is not in the log");
    server.stop().await;
}
