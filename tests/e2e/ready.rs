//! Ready instances through the real server: instances made ahead of calls
//! for plugins slow to instantiate. Each still serves one call, under the
//! call's limits; `ready_instances = 0` turns them off, and a plugin whose
//! instantiation is faster than `ready_threshold`, or whose calls run one at
//! a time, gets none.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Plugins, Revision, Server, error_text, ok_text};

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
