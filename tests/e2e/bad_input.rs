//! Bad input of every kind gets a clear error naming the plugin and the cause,
//! nothing panics, the other plugins load and serve regardless, and stdout
//! carries nothing but protocol messages.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{Plugins, Revision, Server, WARDEN, error_text, ok_text, warden};

/// The examples plus one plugin broken in each possible way.
fn broken_folder() -> Plugins {
    Plugins::new()
        .examples()
        .raw("corrupt", b"this is not wasm at all")
        .raw("truncated", b"\0asm\x0d\0\x01\0\x07\x99")
        .raw("core", b"\0asm\x01\0\0\0")
        .component("notaplugin", warden_test_artifacts::NOT_A_PLUGIN_WASM)
        .component("wrongversion", warden_test_artifacts::WRONG_VERSION_WASM)
        .component("badimport", warden_test_artifacts::BAD_IMPORT_WASM)
        .component("badmanifest", warden_test_artifacts::TEXT_WASM)
        .manifest("badmanifest", "manifest_version = 1\nname = \"Bad_Name\"\n")
        .component("badsyntax", warden_test_artifacts::TEXT_WASM)
        .manifest("badsyntax", "manifest_version = 1\n[limits\n")
        .manifest("orphan", "manifest_version = 1\n")
}

/// (plugin, words its error must contain)
const EXPECTED_FAILURES: &[(&str, &[&str])] = &[
    ("corrupt", &["corrupt.wasm", "not a WebAssembly file"]),
    (
        "truncated",
        &["truncated.wasm", "invalid or unsupported component"],
    ),
    (
        "core",
        &["core.wasm", "core WebAssembly module", "wasm32-wasip2"],
    ),
    (
        "notaplugin",
        &[
            "notaplugin.wasm",
            "does not implement the Warden plugin world",
        ],
    ),
    (
        "wrongversion",
        &[
            "wrongversion.wasm",
            "warden:plugin@0.3.0",
            "warden:plugin@0.2.0",
        ],
    ),
    (
        "badimport",
        &["badimport.wasm", "cannot be linked", "fixture:missing"],
    ),
    ("badmanifest", &["badmanifest.toml", "name", "Bad_Name"]),
    ("badsyntax", &["badsyntax.toml"]),
    ("orphan", &["orphan.toml", "orphan.wasm"]),
];

#[tokio::test]
async fn broken_plugins_are_reported_and_the_rest_serve() {
    let plugins = broken_folder();
    for revision in [Revision::Legacy, Revision::Stateless] {
        let server = Server::start(plugins.path(), revision).await;
        let names = server.tool_names().await;
        assert!(names.iter().any(|n| n == "text_hash"), "{names:?}");
        assert!(names.iter().any(|n| n == "time_now"), "{names:?}");
        let hash = server
            .call("text_hash", json!({ "text": "abc", "algorithm": "sha256" }))
            .await;
        ok_text(&hash);
        let events = server.log_events();
        for (plugin, words) in EXPECTED_FAILURES {
            let event = events
                .iter()
                .find(|e| {
                    e["fields"]["message"] == "plugin failed to load"
                        && e["fields"]["plugin"] == *plugin
                })
                .unwrap_or_else(|| panic!("no load error logged for {plugin}: {events:#?}"));
            let error = event["fields"]["error"].as_str().expect("error field");
            for word in *words {
                assert!(
                    error.contains(word),
                    "{plugin}: `{word}` missing from: {error}"
                );
            }
        }
        assert!(
            !server.stderr().contains("panicked"),
            "the server panicked:\n{}",
            server.stderr()
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn warden_list_shows_each_failure_with_its_cause() {
    let plugins = broken_folder();
    let out = warden(&[
        "list",
        "--json",
        "--plugins",
        plugins.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing: Vec<Value> = serde_json::from_slice(&out.stdout).expect("list --json is JSON");
    for (plugin, words) in EXPECTED_FAILURES {
        let entry = listing
            .iter()
            .find(|p| p["name"] == *plugin)
            .unwrap_or_else(|| panic!("{plugin} missing from {listing:#?}"));
        assert_eq!(entry["status"], "failed", "{entry:#}");
        let error = entry["error"].as_str().expect("error message");
        for word in *words {
            assert!(
                error.contains(word),
                "{plugin}: `{word}` missing from: {error}"
            );
        }
    }
    for plugin in ["text", "time"] {
        let entry = listing.iter().find(|p| p["name"] == plugin).expect(plugin);
        assert_eq!(entry["status"], "loaded", "{entry:#}");
        assert!(!entry["tools"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn unknown_tool_is_a_protocol_error() {
    let plugins = Plugins::new().examples();
    let server = Server::start(plugins.path(), Revision::Stateless).await;
    let error = server
        .try_call("nope_nothing", json!({}))
        .await
        .expect_err("an unknown tool must be a JSON-RPC error");
    let message = error.to_string();
    assert!(message.contains("unknown tool"), "{message}");
    assert!(
        message.contains("-32602")
            || message.contains("InvalidParams")
            || message.contains("nope_nothing"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn arguments_that_fail_the_schema_are_refused_before_the_plugin_runs() {
    let plugins = Plugins::new().examples();
    let server = Server::start(plugins.path(), Revision::Legacy).await;
    let wrong_type = server.call("text_hash", json!({ "text": 42 })).await;
    let message = error_text(&wrong_type);
    assert!(message.contains("invalid arguments"), "{message}");
    assert!(message.contains("/text"), "{message}");
    let missing = server.call("text_hash", json!({})).await;
    let message = error_text(&missing);
    assert!(message.contains("text"), "{message}");
    server.stop().await;
}

/// Sends raw lines to `warden serve` and reads raw responses: every stdout
/// line must be a JSON-RPC message, and malformed input gets an error reply.
#[tokio::test]
async fn malformed_json_rpc_gets_an_error_and_the_server_keeps_going() {
    let plugins = Plugins::new().examples();
    let mut child = tokio::process::Command::new(WARDEN)
        .args(["serve", "--plugins", plugins.path().to_str().unwrap()])
        .env("WARDEN_WAIT_FOR_PLUGINS", "1")
        .current_dir(plugins.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn warden");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "raw", "version": "0" }
        }
    });
    let send = |v: &Value| format!("{v}\n");
    stdin.write_all(send(&initialize).as_bytes()).await.unwrap();
    let reply = next_message(&mut lines).await;
    assert_eq!(reply["id"], 1, "{reply}");
    stdin
        .write_all(
            send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).as_bytes(),
        )
        .await
        .unwrap();

    // Unparsable bytes have no id to answer; like the other official MCP
    // SDKs, rmcp drops them (replying can start an error storm with a peer
    // that echoes). Well-formed JSON that is not a valid request gets -32600.
    stdin.write_all(b"{ this is not json\n").await.unwrap();
    stdin
        .write_all(send(&json!({"jsonrpc": "2.0", "id": 9, "params": {}})).as_bytes())
        .await
        .unwrap();
    stdin
        .write_all(send(&json!({"jsonrpc": "2.0", "id": 2, "method": "no/such/method"})).as_bytes())
        .await
        .unwrap();
    stdin
        .write_all(send(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})).as_bytes())
        .await
        .unwrap();

    let mut saw_invalid_request = false;
    let mut saw_method_not_found = false;
    let mut saw_list = false;
    while !(saw_invalid_request && saw_method_not_found && saw_list) {
        let message = next_message(&mut lines).await;
        match message["id"].as_u64() {
            Some(2) => {
                assert_eq!(message["error"]["code"], -32601, "{message}");
                saw_method_not_found = true;
            }
            Some(3) => {
                assert!(message["result"]["tools"].as_array().is_some(), "{message}");
                saw_list = true;
            }
            _ if message.get("error").is_some() => {
                assert_eq!(message["error"]["code"], -32600, "{message}");
                saw_invalid_request = true;
            }
            _ => panic!("unexpected message: {message}"),
        }
    }
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}

async fn next_message(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("timed out waiting for the server")
        .expect("read stdout")
        .expect("server closed stdout");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
}
