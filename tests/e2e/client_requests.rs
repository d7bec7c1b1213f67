//! Plugins that ask the MCP client (the world's `client` import), against
//! the real `warden serve` over stdio with an rmcp client that answers
//! sampling, elicitation and roots requests: each request reaches the client
//! in MCP's form and the answer reaches the plugin; a plugin without the
//! grant is denied (and the denial logged) without the client being asked;
//! a client without the capability gives `unsupported`, and a tool that
//! requires it is refused with -32021 before it runs; the per-call caps on
//! requests and tokens; time waiting for the client does not count against
//! `timeout` and is bounded by `client_wait`; a 2026-07-28 client answers in
//! `input_required` rounds.
#![allow(deprecated)] // Sampling and roots are deprecated by SEP-2577, and still served.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, ElicitationAction, ErrorData, ListRootsResult,
    ProtocolVersion, Root, SamplingMessage,
};
use rmcp::service::RequestContext;
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};

use crate::support::{Plugins, Revision, ServedStdio, ok_text};

/// A client that answers every request after `delay`, and keeps what it was
/// asked.
#[derive(Debug, Clone)]
struct Answering {
    capabilities: Value,
    version: ProtocolVersion,
    delay: Duration,
    asked: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Answering {
    fn new(capabilities: Value) -> Self {
        Self {
            capabilities,
            version: ProtocolVersion::V_2025_11_25,
            delay: Duration::ZERO,
            asked: Arc::default(),
        }
    }

    fn all() -> Self {
        Self::new(json!({"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {}}))
    }

    fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn record(&self, method: &str, params: &impl serde::Serialize) {
        let params = serde_json::to_value(params).unwrap();
        self.asked.lock().unwrap().push((method.into(), params));
    }

    fn asked(&self) -> Vec<(String, Value)> {
        self.asked.lock().unwrap().clone()
    }
}

impl ClientHandler for Answering {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities =
            serde_json::from_value(self.capabilities.clone()).unwrap();
        crate::support::client_config("warden-e2e-answering", capabilities, self.version.clone())
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.record("sampling/createMessage", &params);
        tokio::time::sleep(self.delay).await;
        let asked = params
            .messages
            .last()
            .and_then(|m| m.content.first())
            .and_then(|c| c.as_text())
            .map(|t| t.text.clone())
            .unwrap_or_default();
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text(format!("echo {asked}")),
            "test-model".into(),
        )
        .with_stop_reason(CreateMessageResult::STOP_REASON_END_TURN))
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.record("elicitation/create", &params);
        tokio::time::sleep(self.delay).await;
        let url = matches!(params, ElicitRequestParams::UrlElicitationParams { .. });
        let mut result = ElicitResult::new(ElicitationAction::Accept);
        if !url {
            result.content = Some(json!({"name": "Ada"}));
        }
        Ok(result)
    }

    async fn list_roots(
        &self,
        _: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        self.record("roots/list", &json!({}));
        let mut root = Root::new("file:///work");
        root.name = Some("work".into());
        Ok(ListRootsResult::new(vec![root]))
    }
}

/// The asker plugin with `manifest` (none when empty).
fn asker(manifest: &str) -> Plugins {
    let plugins = Plugins::new().component("asker", warden_test_artifacts::ASKER_WASM);
    if manifest.is_empty() {
        plugins
    } else {
        plugins.manifest("asker", manifest)
    }
}

const GRANTED: &str =
    "manifest_version = 1\n[capabilities]\nclient = [\"sampling\", \"elicitation\", \"roots\"]\n";

async fn serve(client: Answering, plugins: &Plugins, config: &str) -> ServedStdio<Answering> {
    ServedStdio::start(client, plugins.path(), Revision::Legacy, config).await
}

#[tokio::test]
async fn sampling_elicitation_and_roots_reach_the_client_and_come_back() {
    let plugins = asker(GRANTED);
    let client = Answering::all();
    let served = serve(client.clone(), &plugins, "").await;

    let sampled = served
        .call(
            "asker_ask_model",
            json!({"prompt": "2+2?", "max_tokens": 20}),
        )
        .await;
    assert_eq!(ok_text(&sampled), "model test-model: echo 2+2?");
    let form = served
        .call("asker_ask_person", json!({"message": "Who are you?"}))
        .await;
    assert_eq!(ok_text(&form), r#"accept: {"name":"Ada"}"#);
    let visit = served
        .call("asker_visit", json!({"url": "https://example.com/login"}))
        .await;
    assert_eq!(ok_text(&visit), "accept: ");
    let roots = served.call("asker_roots", json!({})).await;
    assert_eq!(ok_text(&roots), "file:///work (work)");

    let asked = client.asked();
    let methods: Vec<&str> = asked.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        methods,
        [
            "sampling/createMessage",
            "elicitation/create",
            "elicitation/create",
            "roots/list"
        ]
    );
    let sampling = &asked[0].1;
    assert_eq!(sampling["maxTokens"], 20);
    assert_eq!(sampling["messages"][0]["role"], "user");
    assert_eq!(sampling["messages"][0]["content"]["text"], "2+2?");
    let form = &asked[1].1;
    assert_eq!(form["message"], "Who are you?");
    assert_eq!(
        form["requestedSchema"]["properties"]["name"]["type"],
        "string"
    );
    let page = &asked[2].1;
    assert_eq!(page["url"], "https://example.com/login");
    assert!(
        page["elicitationId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    // A bad request never reaches the client.
    let bad = served
        .call("asker_visit", json!({"url": "javascript:alert(1)"}))
        .await;
    assert!(ok_text(&bad).starts_with("failed: "), "{}", ok_text(&bad));
    let bad_form = served
        .call("asker_ask_person", json!({"message": "x", "schema": "[1]"}))
        .await;
    assert!(ok_text(&bad_form).starts_with("failed: "));
    assert_eq!(client.asked().len(), 4);
    served.stop().await;
}

#[tokio::test]
async fn without_a_grant_the_plugin_is_denied_and_the_client_never_asked() {
    // No manifest: nothing requested. Then requested, but the operator
    // allows only roots.
    for (manifest, config, denied, allowed) in [
        ("", "", "asker_ask_model", None),
        (
            GRANTED,
            "[plugins.asker]\nclient = [\"roots\"]\n",
            "asker_ask_person",
            Some("asker_roots"),
        ),
    ] {
        let plugins = asker(manifest);
        let client = Answering::all();
        let served = serve(client.clone(), &plugins, config).await;
        let arguments = json!({"prompt": "hi", "message": "hi"});
        let result = served.call(denied, arguments).await;
        let text = ok_text(&result);
        assert!(text.starts_with("denied: "), "{text}");
        assert!(text.contains("client = ["), "{text}");
        if let Some(tool) = allowed {
            assert_eq!(
                ok_text(&served.call(tool, json!({})).await),
                "file:///work (work)"
            );
        }
        let asked: Vec<String> = client.asked().into_iter().map(|(m, _)| m).collect();
        assert!(!asked.iter().any(|m| m != "roots/list"), "{asked:?}");
        let denials: Vec<Value> = served
            .log_events()
            .into_iter()
            .filter(|e| e["target"] == "warden::denied" && e["fields"]["capability"] == "client")
            .collect();
        assert_eq!(denials.len(), 1, "{denials:?}");
        served.stop().await;
    }
}

#[tokio::test]
async fn a_client_without_the_capability_is_told_so() {
    let plugins = asker(GRANTED);
    let client = Answering::new(json!({"elicitation": {}}));
    let served = serve(client.clone(), &plugins, "").await;
    let result = served
        .call("asker_ask_model", json!({"prompt": "hi"}))
        .await;
    let text = ok_text(&result);
    assert!(
        text.starts_with("unsupported: ") && text.contains("sampling"),
        "{text}"
    );
    // Form mode only: URL elicitation is unsupported too.
    let visit = served
        .call("asker_visit", json!({"url": "https://example.com/"}))
        .await;
    assert!(ok_text(&visit).starts_with("unsupported: "));
    // A tool that requires sampling does not run at all.
    let error = served
        .try_call("asker_needs_sampling", json!({}))
        .await
        .expect_err("a tool that requires sampling is refused");
    let rmcp::ServiceError::McpError(error) = error else {
        panic!("expected a JSON-RPC error, got {error:?}");
    };
    assert_eq!(error.code.0, -32021, "{error:?}");
    assert_eq!(
        error.data.unwrap()["requiredCapabilities"],
        json!({"sampling": {}})
    );
    assert!(client.asked().is_empty());
    served.stop().await;
}

#[tokio::test]
async fn requests_and_tokens_are_capped_per_call() {
    let manifest =
        format!("{GRANTED}[limits]\nmax_client_requests = 3\nmax_sampling_tokens = 100\n");
    let plugins = asker(&manifest);
    let client = Answering::all();
    let served = serve(client.clone(), &plugins, "").await;
    let many = served
        .call("asker_ask_many", json!({"count": 5, "max_tokens": 10}))
        .await;
    let text = ok_text(&many);
    assert!(
        text.starts_with("answered 3; first error: limit: ")
            && text.contains("max_client_requests"),
        "{text}"
    );
    let tokens = served
        .call("asker_ask_many", json!({"count": 3, "max_tokens": 40}))
        .await;
    let text = ok_text(&tokens);
    assert!(
        text.starts_with("answered 2; first error: limit: ")
            && text.contains("max_sampling_tokens"),
        "{text}"
    );
    // Each call starts afresh.
    assert_eq!(client.asked().len(), 5);
    served.stop().await;
}

#[tokio::test]
async fn waiting_for_the_client_does_not_count_against_the_timeout() {
    // The call may run 1 s; the client takes 1.5 s to answer.
    let manifest = format!("{GRANTED}[limits]\ntimeout = \"1s\"\n");
    let plugins = asker(&manifest);
    let served = serve(
        Answering::all().delayed(Duration::from_millis(1500)),
        &plugins,
        "",
    )
    .await;
    let result = served
        .call("asker_ask_model", json!({"prompt": "slow"}))
        .await;
    assert_eq!(ok_text(&result), "model test-model: echo slow");
    served.stop().await;

    // But the wait is bounded by client_wait.
    let manifest = format!("{GRANTED}[limits]\nclient_wait = \"300ms\"\n");
    let plugins = asker(&manifest);
    let served = serve(
        Answering::all().delayed(Duration::from_secs(30)),
        &plugins,
        "",
    )
    .await;
    let started = Instant::now();
    let result = served
        .call("asker_ask_model", json!({"prompt": "never"}))
        .await;
    let text = ok_text(&result);
    assert!(
        text.starts_with("limit: ") && text.contains("client_wait"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    served.stop().await;
}

/// On 2026-07-28 the requests travel in `input_required` rounds: rmcp's
/// client answers each round through its handler and retries, and the call
/// runs again with the answers.
#[tokio::test]
async fn a_2026_client_answers_in_input_required_rounds() {
    let plugins = asker(GRANTED);
    let mut client = Answering::all();
    client.version = ProtocolVersion::V_2026_07_28;
    let served = ServedStdio::start(client.clone(), plugins.path(), Revision::Stateless, "").await;
    let sampled = served
        .call("asker_ask_model", json!({"prompt": "hi", "max_tokens": 20}))
        .await;
    assert_eq!(ok_text(&sampled), "model test-model: echo hi");
    let form = served
        .call("asker_ask_person", json!({"message": "Who are you?"}))
        .await;
    assert_eq!(ok_text(&form), r#"accept: {"name":"Ada"}"#);
    let visit = served
        .call("asker_visit", json!({"url": "https://example.com/login"}))
        .await;
    assert_eq!(ok_text(&visit), "accept: ");
    let roots = served.call("asker_roots", json!({})).await;
    assert_eq!(ok_text(&roots), "file:///work (work)");
    // Three requests, one per round: the fourth run has every answer.
    let many = served.call("asker_ask_many", json!({"count": 3})).await;
    assert_eq!(ok_text(&many), "answered 3; first error: none");
    let methods: Vec<String> = client.asked().into_iter().map(|(m, _)| m).collect();
    assert_eq!(
        methods,
        [
            "sampling/createMessage",
            "elicitation/create",
            "elicitation/create",
            "roots/list",
            "sampling/createMessage",
            "sampling/createMessage",
            "sampling/createMessage",
        ]
    );
    // The caps count every request of the replay.
    let capped = served.call("asker_ask_many", json!({"count": 9})).await;
    assert!(
        ok_text(&capped).contains("max_client_requests = 8"),
        "{}",
        ok_text(&capped)
    );
    served.stop().await;
}

/// The `fetch` example's `summarize`: the page comes from a server of the
/// test, through the plugin's HTTP grant, and goes to the client's model;
/// on 2026-07-28 the page is fetched again in the replay.
#[tokio::test]
async fn the_fetch_example_summarizes_a_page_through_sampling() {
    use crate::http::{Reply, TestServer};
    let site = TestServer::start().await;
    site.route(
        "/page",
        Reply::ok(
            "text/html",
            "<html><body><h1>Otters</h1><p>Otters hold hands.</p></body></html>",
        ),
    );
    let origin = format!("http://127.0.0.1:{}", site.port());
    for (version, revision) in [
        (ProtocolVersion::V_2025_11_25, Revision::Legacy),
        (ProtocolVersion::V_2026_07_28, Revision::Stateless),
    ] {
        let plugins = Plugins::new()
            .component("fetch", warden_test_artifacts::FETCH_WASM)
            .manifest(
                "fetch",
                &format!(
                    "manifest_version = 1\n[capabilities]\nhttp = [{origin:?}]\nclient = [\"sampling\"]\n"
                ),
            );
        let mut client = Answering::all();
        client.version = version;
        let served = ServedStdio::start(client.clone(), plugins.path(), revision, "").await;
        let url = format!("{origin}/page");
        let summary = served
            .call("fetch_summarize", json!({"url": url, "words": 30}))
            .await;
        let text = ok_text(&summary);
        // The answering client echoes the last message: the page's text.
        assert!(text.contains("Otters hold hands."), "{text}");
        assert!(
            text.contains(&format!("Summary of {url} by test-model")),
            "{text}"
        );
        let asked = client.asked();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert_eq!(asked[0].1["maxTokens"], 110);
        assert!(
            asked[0].1["systemPrompt"]
                .as_str()
                .unwrap()
                .contains("at most 30 words")
        );
        served.stop().await;
    }
    // Once at 2025-11-25; twice at 2026-07-28 (the round, then the replay).
    assert_eq!(site.requests().len(), 3);
}
