//! What a plugin gets without any grant: nothing from the host's environment,
//! a log channel into the host's log, and nothing on the protocol stream.

use serde_json::json;

use crate::support::{Plugins, Revision, Server, ok_text};

#[tokio::test]
async fn host_environment_is_not_inherited() {
    let plugins = Plugins::new().hostile(None);
    let server = Server::start(plugins.path(), Revision::Stateless).await;
    // The server process has HOME, PATH and WARDEN_LOG set; the plugin sees none.
    for name in ["HOME", "PATH", "WARDEN_LOG"] {
        let value = server.call("hostile_env", json!({ "name": name })).await;
        assert_eq!(ok_text(&value), "unset", "{name} leaked into the sandbox");
    }
    server.stop().await;
}

#[tokio::test]
async fn plugin_logs_reach_the_host_log_with_plugin_and_tool() {
    let plugins = Plugins::new().hostile(None);
    let server = Server::start(plugins.path(), Revision::Legacy).await;
    ok_text(&server.call("hostile_log", json!({})).await);
    let events = server.log_events();
    let from_plugin: Vec<_> = events
        .iter()
        .filter(|e| e["target"] == "warden::plugin" && e["fields"]["tool"] == "log")
        .collect();
    assert!(
        from_plugin.iter().any(|e| e["level"] == "ERROR"),
        "no error-level plugin log: {events:#?}"
    );
    assert!(
        from_plugin
            .iter()
            .all(|e| e["fields"]["plugin"] == "hostile"),
        "{from_plugin:#?}"
    );
    server.stop().await;
}
