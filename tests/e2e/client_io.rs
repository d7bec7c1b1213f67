//! What a client sees of a call besides its result, against the real
//! `warden serve` over stdio with rmcp clients: plugin log messages as
//! `notifications/message` at the level the client chose (per session at
//! 2025-11-25, per request at 2026-07-28) and bounded per call; a stable
//! code in every failed call's `_meta`; a cancelled call stopped at once and
//! recorded as `cancelled`; and per-plugin concurrency: a `sequential`
//! plugin's calls one at a time in order, and a full queue refused at once.
#![allow(deprecated)] // MCP logging is deprecated by SEP-2577, and still served.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    ClientRequest, GetPromptRequestParams, LoggingLevel, LoggingMessageNotificationParam,
    ProtocolVersion, RequestMetaObject, RequestParamsMeta, SetLevelRequestParams,
};
use rmcp::service::{NotificationContext, PeerRequestOptions};
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};

use crate::support::{Plugins, Revision, ServedStdio, error_text, ok_text, speaking};

/// A client that keeps every log message it is sent.
#[derive(Debug, Clone)]
struct Listener {
    version: ProtocolVersion,
    messages: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
}

impl ClientHandler for Listener {
    fn get_info(&self) -> ClientConfig {
        crate::support::client_config(
            "warden-e2e-listener",
            ClientCapabilities::default(),
            self.version.clone(),
        )
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.messages.lock().unwrap().push(params);
    }
}

/// `warden serve` over stdio with a [`Listener`], its log in a file.
struct Served {
    served: ServedStdio<Listener>,
    messages: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
}

impl Served {
    async fn start(plugins: &Path, revision: Revision, config: &str) -> Self {
        let (version, _) = speaking(revision);
        let messages = Arc::new(Mutex::new(Vec::new()));
        let listener = Listener {
            version,
            messages: messages.clone(),
        };
        let served = ServedStdio::start(listener, plugins, revision, config).await;
        Self { served, messages }
    }

    fn params(tool: &str, arguments: Value) -> CallToolRequestParams {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object");
        };
        CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)
    }

    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        self.served.call(tool, arguments).await
    }

    async fn set_level(&self, level: LoggingLevel) {
        self.served
            .client
            .set_level(SetLevelRequestParams::new(level))
            .await
            .expect("logging/setLevel");
    }

    /// The messages received so far, once `n` have come (or 10 s passed),
    /// plus any that follow within 200 ms.
    async fn messages_after(&self, n: usize) -> Vec<LoggingMessageNotificationParam> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.messages.lock().unwrap().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.messages.lock().unwrap().clone()
    }

    fn take_messages(&self) -> Vec<LoggingMessageNotificationParam> {
        std::mem::take(&mut *self.messages.lock().unwrap())
    }

    /// The server's "tool call finished" log events.
    fn finished_calls(&self) -> Vec<Value> {
        self.served
            .log_events()
            .into_iter()
            .filter(|event| event["fields"]["message"] == "tool call finished")
            .collect()
    }

    async fn stop(self) {
        self.served.stop().await;
    }
}

fn texts(messages: &[LoggingMessageNotificationParam]) -> Vec<String> {
    let mut texts: Vec<String> = messages
        .iter()
        .map(|m| m.data.as_str().unwrap_or_default().to_string())
        .collect();
    texts.sort();
    texts
}

/// The code a failed call carries in `_meta`.
fn error_code(result: &CallToolResult) -> Value {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    result
        .meta
        .as_ref()
        .and_then(|meta| meta.get("dev.warden/error"))
        .cloned()
        .unwrap_or_else(|| panic!("no dev.warden/error in {result:?}"))
}

#[tokio::test]
async fn plugin_logs_reach_a_client_that_chose_a_level_and_only_at_or_above_it() {
    let plugins = Plugins::new().hostile(None);
    let served = Served::start(plugins.path(), Revision::Legacy, "").await;

    // No level set: the client gets nothing.
    assert_eq!(ok_text(&served.call("hostile_log", json!({})).await), "ok");
    // Warning: the warn and error messages only.
    served.set_level(LoggingLevel::Warning).await;
    assert_eq!(ok_text(&served.call("hostile_log", json!({})).await), "ok");
    let got = served.messages_after(2).await;
    assert_eq!(
        texts(&got),
        ["hostile: error message", "hostile: warn message"],
        "{got:?}"
    );
    let levels: Vec<LoggingLevel> = got.iter().map(|m| m.level).collect();
    assert!(levels.contains(&LoggingLevel::Warning) && levels.contains(&LoggingLevel::Error));
    assert!(got.iter().all(|m| m.logger.as_deref() == Some("hostile")));
    served.take_messages();

    // Debug: all five, trace and debug both as `debug`.
    served.set_level(LoggingLevel::Debug).await;
    served.call("hostile_log", json!({})).await;
    let got = served.messages_after(5).await;
    assert_eq!(got.len(), 5, "{got:?}");
    let debug = got
        .iter()
        .filter(|m| m.level == LoggingLevel::Debug)
        .count();
    assert_eq!(debug, 2, "{got:?}");
    served.stop().await;
}

/// Prompts (and reads and completions) log to the client like tool calls,
/// under the plugin's name, at the level it chose.
#[tokio::test]
async fn a_prompt_logs_to_a_client_that_chose_a_level() {
    let plugins = Plugins::new().component("conformance", warden_test_artifacts::CONFORMANCE_WASM);
    let served = Served::start(plugins.path(), Revision::Legacy, "").await;
    let get = |served: &Served| {
        let client = served.served.client.clone();
        async move {
            client
                .get_prompt(GetPromptRequestParams::new(
                    "conformance_test_simple_prompt",
                ))
                .await
                .expect("prompts/get")
        }
    };
    get(&served).await;
    assert!(
        served.messages_after(0).await.is_empty(),
        "no level set yet"
    );
    served.set_level(LoggingLevel::Info).await;
    get(&served).await;
    let got = served.messages_after(1).await;
    assert_eq!(texts(&got), ["simple prompt filled in"], "{got:?}");
    assert_eq!(got[0].logger.as_deref(), Some("conformance"));
    served.stop().await;
}

#[tokio::test]
async fn a_log_flood_reaches_the_client_cut_short_with_a_note_saying_so() {
    let plugins = Plugins::new().component("hog", warden_test_artifacts::HOG_WASM);
    let served = Served::start(plugins.path(), Revision::Legacy, "").await;
    served.set_level(LoggingLevel::Info).await;
    let result = served.call("hog_logs", json!({"count": 100_000})).await;
    assert_eq!(ok_text(&result), "done");
    let got = served.messages_after(21).await;
    // The burst (20), what the rate refilled meanwhile, and the note.
    assert!(
        (21..=60).contains(&got.len()),
        "{} messages for 100000 lines",
        got.len()
    );
    let note = got.last().unwrap();
    assert_eq!(note.level, LoggingLevel::Warning);
    let note = note.data.as_str().unwrap();
    assert!(note.contains("were not forwarded"), "{note}");
    assert_eq!(got[0].data, "line 1");
    // The server still answers.
    assert_eq!(
        ok_text(&served.call("hog_echo", json!({"text": "hi"})).await),
        "hi"
    );
    served.stop().await;
}

#[tokio::test]
async fn the_stateless_revision_takes_the_level_from_each_request() {
    let plugins = Plugins::new().hostile(None);
    let served = Served::start(plugins.path(), Revision::Stateless, "").await;
    // Without `_meta` logLevel: nothing.
    served.call("hostile_log", json!({})).await;
    // With `error`: the one error message.
    let mut params = Served::params("hostile_log", json!({}));
    let mut meta = RequestMetaObject::default();
    meta.set_log_level(LoggingLevel::Error);
    *params.meta_mut() = Some(meta);
    let result = served
        .served
        .client
        .call_tool(params)
        .await
        .expect("tools/call");
    assert_eq!(ok_text(&result), "ok");
    let got = served.messages_after(1).await;
    assert_eq!(texts(&got), ["hostile: error message"], "{got:?}");
    served.stop().await;
}

#[tokio::test]
async fn every_failed_call_carries_a_code_a_client_can_act_on() {
    let plugins = Plugins::new()
        .hostile(Some(
            "manifest_version = 1\nname = \"hostile\"\n[limits]\nfuel = 1000000\n",
        ))
        .component("hog", warden_test_artifacts::HOG_WASM);
    let served = Served::start(plugins.path(), Revision::Legacy, "").await;

    let spin = served.call("hostile_spin", json!({})).await;
    assert_eq!(
        error_code(&spin),
        json!({"code": "limit_exceeded", "limit": "fuel"})
    );
    let bad = served.call("hostile_echo", json!({"text": 5})).await;
    assert_eq!(error_code(&bad), json!({"code": "invalid_arguments"}));
    let trap = served
        .call("hostile_trap", json!({"message": "boom"}))
        .await;
    assert_eq!(error_code(&trap), json!({"code": "plugin_failed"}));
    assert!(error_text(&trap).contains("boom"));

    // An origin the plugin was never granted.
    let denied = served
        .call("hog_body_error", json!({"url": "http://127.0.0.1:9/x"}))
        .await;
    let code = error_code(&denied);
    assert_eq!(code["code"], "capability_denied", "{code}");
    let refused = code["denied"][0].as_str().unwrap();
    assert!(refused.contains("http://127.0.0.1:9"), "{refused}");
    served.stop().await;
}

#[tokio::test]
async fn a_cancelled_call_stops_at_once_frees_its_turn_and_is_recorded() {
    let plugins = Plugins::new().hostile(Some(
        "manifest_version = 1\nname = \"hostile\"\n[limits]\ntimeout = \"60s\"\nfuel = 1_000_000_000_000\n",
    ));
    // One call at a time: the next call runs only once the spinning one
    // has let go.
    let config = "[plugins.hostile]\nsequential = true\n";
    let served = Served::start(plugins.path(), Revision::Legacy, config).await;
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(Served::params(
        "hostile_spin",
        json!({}),
    )));
    let handle = served
        .served
        .client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("send tools/call");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cancelled_at = Instant::now();
    handle
        .cancel(Some("the user pressed stop".into()))
        .await
        .expect("cancel");
    let echo = served.call("hostile_echo", json!({"text": "next"})).await;
    let next_after = cancelled_at.elapsed();
    assert_eq!(ok_text(&echo), "next");
    assert!(
        next_after < Duration::from_secs(30),
        "the next call waited {next_after:?}: the cancelled one ran on toward its 60 s timeout"
    );
    eprintln!("cancel to the next call's result: {next_after:?}");

    let finished = served.finished_calls();
    let spin = finished
        .iter()
        .find(|e| e["fields"]["tool"] == "hostile_spin")
        .unwrap_or_else(|| panic!("no finished hostile_spin in {finished:#?}"));
    assert_eq!(spin["fields"]["outcome"], "cancelled", "{spin}");
    served.stop().await;
}

#[tokio::test]
async fn a_sequential_plugin_runs_calls_one_at_a_time_in_order_and_refuses_past_its_queue() {
    let plugins = Plugins::new().component("hold", warden_test_artifacts::HOLD_WASM);
    let config = "[plugins.hold]\nsequential = true\nmax_queued_calls = 7\n";
    let served = Arc::new(Served::start(plugins.path(), Revision::Legacy, config).await);
    let started = Instant::now();
    let finished = Arc::new(Mutex::new(Vec::new()));
    let mut calls = Vec::new();
    // Eight calls (one running, seven waiting), sent 20 ms apart so that
    // each arrives after the previous one, all within the first call's
    // 400 ms; each holds `i + 1` MiB.
    for i in 0..8u64 {
        let (served, finished) = (served.clone(), finished.clone());
        calls.push(tokio::spawn(async move {
            let args = json!({"ms": 400, "bytes": (i + 1) << 20});
            let result = served.call("hold_hold", args).await;
            finished.lock().unwrap().push((i, started.elapsed()));
            ok_text(&result)
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A ninth finds the queue full and is refused at once, while the first
    // still runs.
    let refused = served
        .call("hold_hold", json!({"ms": 400, "bytes": 1 << 20}))
        .await;
    let done_before_refusal = finished.lock().unwrap().len();
    assert_eq!(
        error_code(&refused),
        json!({"code": "limit_exceeded", "limit": "queue"})
    );
    assert!(
        error_text(&refused).contains("busy"),
        "{}",
        error_text(&refused)
    );
    assert_eq!(
        done_before_refusal, 0,
        "the refusal waited for a call to finish"
    );
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(
            call.await.unwrap(),
            format!("held {} bytes", (i as u64 + 1) << 20)
        );
    }
    let finished = finished.lock().unwrap().clone();
    let order: Vec<u64> = finished.iter().map(|(i, _)| *i).collect();
    assert_eq!(order, (0..8).collect::<Vec<_>>(), "{finished:?}");
    // One at a time: the k-th result cannot come before k + 1 holds of
    // 400 ms each.
    for (k, (_, at)) in finished.iter().enumerate() {
        assert!(
            *at >= Duration::from_millis(400 * (k as u64 + 1)),
            "call {k} finished at {at:?}: calls overlapped"
        );
    }
    let served = Arc::try_unwrap(served).ok().expect("all calls done");
    served.stop().await;
}

#[tokio::test]
async fn concurrency_settings_are_checked_with_the_config() {
    let plugins = Plugins::new().component("hold", warden_test_artifacts::HOLD_WASM);
    let dir = tempfile::tempdir().unwrap();
    for (config, says) in [
        (
            "[plugins.hold]\nsequential = true\nmax_concurrent_calls = 4\n",
            "plugins.hold.max_concurrent_calls",
        ),
        (
            "[plugins.hold]\nmax_concurrent_calls = 0\n",
            "must be at least 1",
        ),
        (
            "[plugins.hold]\nmax_queued_calls = 1000000\n",
            "plugins.hold.max_queued_calls",
        ),
    ] {
        let path = dir.path().join("warden.toml");
        std::fs::write(&path, config).unwrap();
        let out = crate::support::warden(&[
            "list",
            "--config",
            path.to_str().unwrap(),
            "--plugins",
            plugins.path().to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{config} was accepted");
        assert!(stderr.contains(says), "{config}: {stderr}");
    }
}
