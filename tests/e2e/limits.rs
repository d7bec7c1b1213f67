//! Every limit is enforced on hostile plugins built from source, each failure
//! is an `isError` result naming the limit and its value, and the server keeps
//! serving: while hostile calls run, `tools/list` and other calls answer.

use serde_json::json;

use crate::support::{Plugins, Revision, Server, error_text, ok_text, text};

/// A manifest for the hostile plugin with the given `[limits]` lines.
fn manifest(limits: &str) -> String {
    format!("manifest_version = 1\nname = \"hostile\"\n[limits]\n{limits}\n")
}

async fn hostile(limits: &str) -> (Plugins, Server) {
    let plugins = Plugins::new().hostile(Some(&manifest(limits)));
    let server = Server::start(plugins.path(), Revision::Stateless).await;
    (plugins, server)
}

/// After a failure the same plugin still serves a normal call.
async fn still_serves(server: &Server) {
    let echo = server
        .call("hostile_echo", json!({ "text": "still here" }))
        .await;
    assert_eq!(ok_text(&echo), "still here");
}

#[tokio::test]
async fn infinite_loop_hits_the_timeout() {
    let (_plugins, server) = hostile("timeout = \"1s\"\nfuel = 1_000_000_000_000").await;
    let message = error_text(&server.call("hostile_spin", json!({})).await);
    assert!(message.contains("timeout"), "{message}");
    assert!(
        message.contains("1s") || message.contains("1 s"),
        "{message}"
    );
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn busy_loop_exhausts_fuel() {
    let (_plugins, server) = hostile("fuel = 5_000_000\ntimeout = \"60s\"").await;
    let message = error_text(&server.call("hostile_spin", json!({})).await);
    assert!(message.contains("fuel"), "{message}");
    assert!(message.contains("5000000"), "{message}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let (_plugins, server) = hostile("memory = \"32MiB\"").await;
    let message = error_text(&server.call("hostile_alloc", json!({})).await);
    assert!(message.contains("memory limit"), "{message}");
    assert!(message.contains("32"), "{message}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn deep_recursion_overflows_the_stack() {
    let (_plugins, server) = hostile("timeout = \"20s\"").await;
    let message = error_text(&server.call("hostile_recurse", json!({})).await);
    assert!(message.contains("stack overflow"), "{message}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_result_hits_the_output_limit() {
    let (_plugins, server) = hostile("max_output = \"64KiB\"").await;
    let ok = server
        .call("hostile_big_output", json!({ "bytes": 1000 }))
        .await;
    assert_eq!(ok_text(&ok).len(), 1000);
    let message = error_text(
        &server
            .call("hostile_big_output", json!({ "bytes": 200_000 }))
            .await,
    );
    assert!(message.contains("output limit"), "{message}");
    assert!(message.contains("64"), "{message}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn a_trap_reports_the_panic_message() {
    let (_plugins, server) = hostile("").await;
    let message = error_text(&server.call("hostile_trap", json!({})).await);
    assert!(message.contains("crashed"), "{message}");
    assert!(message.contains("panicked"), "{message}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn stdout_flood_is_captured_not_forwarded() {
    let (_plugins, server) = hostile("max_log = \"4KiB\"").await;
    // 4 MiB to stdout and stderr: if any of it reached the protocol stream the
    // client would fail to parse it and the next call would not answer.
    let flood = server
        .call("hostile_flood", json!({ "bytes": 4 * 1024 * 1024 }))
        .await;
    ok_text(&flood);
    still_serves(&server).await;
    let log = server.stderr();
    assert!(
        log.contains("dropped_bytes"),
        "guest output not logged: {log}"
    );
    server.stop().await;
}

#[tokio::test]
async fn endless_flood_is_stopped_by_the_timeout() {
    let (_plugins, server) = hostile("timeout = \"1s\"\nmax_log = \"4KiB\"").await;
    let message = error_text(&server.call("hostile_flood", json!({})).await);
    assert!(message.contains("timeout"), "{message}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn hostile_calls_do_not_block_listing_or_other_calls() {
    let plugins = Plugins::new().examples().hostile(Some(&manifest(
        "timeout = \"8s\"\nfuel = 1_000_000_000_000",
    )));
    let server = std::sync::Arc::new(Server::start(plugins.path(), Revision::Legacy).await);

    // Two spinning calls: as many as this machine has cores.
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { server.call("hostile_spin", json!({})).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let names = server.tool_names().await;
    assert!(names.iter().any(|n| n == "text_hash"), "{names:?}");
    let hash = server
        .call("text_hash", json!({ "text": "abc", "algorithm": "sha256" }))
        .await;
    assert!(ok_text(&hash).contains("ba7816bf"), "{}", text(&hash));
    let slept = server.call("hostile_sleep", json!({ "ms": 10 })).await;
    ok_text(&slept);

    // The spinners were still running while all of the above answered.
    assert!(
        spinners.iter().all(|s| !s.is_finished()),
        "the hostile calls ended before the other requests were answered"
    );
    for spinner in spinners {
        let result = spinner.await.expect("spinner task");
        assert!(error_text(&result).contains("timeout"));
    }
}

#[tokio::test]
async fn every_call_gets_a_fresh_instance() {
    let (_plugins, server) = hostile("").await;
    let first = ok_text(&server.call("hostile_counter", json!({})).await);
    let second = ok_text(&server.call("hostile_counter", json!({})).await);
    assert_eq!(first, "1");
    assert_eq!(second, "1", "state leaked between calls");
    server.stop().await;
}
