//! Resources, resource templates, prompts and completions through the real
//! binary and rmcp's client, on both protocol revisions: the `docs` example
//! plugin against a temp workspace, and a plugin built against the frozen
//! 0.1.0 world that offers tools only.

use std::path::Path;
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientConfig, ErrorCode, GetPromptRequestParams, ProtocolVersion,
    ReadResourceRequestParams, ResourceContents, ResourceUpdatedNotificationParam, Role,
    ServerNotification, SubscriptionFilter,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceError};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{Plugins, Revision, Server, connect_with, ok_text, warden_in};

/// Guards a wait for a notification that must come; it only fails a test
/// that would otherwise hang.
const PATIENCE: Duration = Duration::from_secs(60);

const DOCS_MANIFEST: &str = r#"manifest_version = 1
name = "docs"
[[capabilities.dirs]]
host = "docs"
guest = "/docs"
mode = "ro"
"#;

/// A workspace with a `docs` folder of two Markdown files.
fn workspace() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let docs = root.path().join("docs");
    std::fs::create_dir_all(docs.join("guides")).unwrap();
    std::fs::write(
        docs.join("alpha.md"),
        "# Alpha guide\n\nAlpha explains the first step.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("guides/beta.md"),
        "# Beta\n\nBeta covers the rest.\n",
    )
    .unwrap();
    root
}

/// The `docs` plugin and the tools-only 0.1.0 plugin (as `legacy`).
fn plugins() -> Plugins {
    Plugins::new()
        .component("docs", warden_test_artifacts::DOCS_WASM)
        .manifest("docs", DOCS_MANIFEST)
        .component("legacy", warden_test_artifacts::TOOLS_ONLY_WASM)
}

fn protocol_version(revision: Revision) -> ProtocolVersion {
    match revision {
        Revision::Legacy => ProtocolVersion::V_2025_11_25,
        Revision::Stateless => ProtocolVersion::V_2026_07_28,
    }
}

/// The JSON-RPC error code of a failed request.
fn code(error: ServiceError) -> ErrorCode {
    match error {
        ServiceError::McpError(error) => error.code,
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

/// The code each revision uses for a missing resource.
fn not_found_code(revision: Revision) -> ErrorCode {
    match revision {
        Revision::Legacy => ErrorCode::RESOURCE_NOT_FOUND,
        Revision::Stateless => ErrorCode::INVALID_PARAMS,
    }
}

fn text_of(contents: &ResourceContents) -> (&str, &str, Option<&str>) {
    match contents {
        ResourceContents::TextResourceContents {
            uri,
            text,
            mime_type,
            ..
        } => (uri.as_str(), text.as_str(), mime_type.as_deref()),
        other => panic!("expected text contents, got {other:?}"),
    }
}

#[tokio::test]
async fn resources_templates_prompts_and_completions_on_both_revisions() {
    let workspace = workspace();
    let plugins = plugins();
    for revision in [Revision::Legacy, Revision::Stateless] {
        let server = Server::start_in(plugins.path(), revision, &[], workspace.path(), &[]).await;
        let client = &server.client;

        let info = client.peer_info().expect("server info");
        assert!(info.capabilities.resources.is_some(), "{revision:?}");
        assert!(info.capabilities.prompts.is_some(), "{revision:?}");
        assert!(info.capabilities.completions.is_some(), "{revision:?}");

        // Resources, namespaced by plugin.
        let resources = client.list_all_resources().await.expect("resources/list");
        let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(uris, ["docs+docs://alpha.md", "docs+docs://guides/beta.md"]);
        assert_eq!(resources[0].title.as_deref(), Some("Alpha guide"));
        assert_eq!(resources[0].mime_type.as_deref(), Some("text/markdown"));
        let templates = client
            .list_all_resource_templates()
            .await
            .expect("resources/templates/list");
        let templates: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
        assert_eq!(templates, ["docs+docs://{path}"]);

        // Reading a listed resource and one through the template.
        let read = client
            .read_resource(ReadResourceRequestParams::new("docs+docs://alpha.md"))
            .await
            .expect("resources/read");
        let (uri, text, mime) = text_of(&read.contents[0]);
        assert_eq!(uri, "docs+docs://alpha.md");
        assert!(text.contains("Alpha explains the first step."), "{text}");
        assert_eq!(mime, Some("text/markdown"));
        let read = client
            .read_resource(ReadResourceRequestParams::new(
                "docs+docs://guides%2Fbeta.md",
            ))
            .await
            .expect("template read");
        assert!(
            text_of(&read.contents[0])
                .1
                .contains("Beta covers the rest.")
        );

        // Missing resources: the code of the client's revision.
        for missing in [
            "docs+docs://nope.md",
            "docs+docs://../secret.md",
            "nobody+docs://alpha.md",
            "docs://alpha.md",
        ] {
            let error = client
                .read_resource(ReadResourceRequestParams::new(missing))
                .await
                .expect_err(missing);
            assert_eq!(code(error), not_found_code(revision), "{missing}");
        }

        // Prompts with typed arguments.
        let prompts = client.list_all_prompts().await.expect("prompts/list");
        let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["docs_summarize", "docs_review_diff"]);
        let arguments: Vec<(&str, Option<bool>)> = prompts[0]
            .arguments
            .iter()
            .flatten()
            .map(|a| (a.name.as_str(), a.required))
            .collect();
        assert_eq!(arguments, [("path", Some(true)), ("audience", Some(false))]);

        let mut args = serde_json::Map::new();
        args.insert("path".into(), json!("alpha.md"));
        args.insert("audience".into(), json!("operators"));
        let summary = client
            .get_prompt(GetPromptRequestParams::new("docs_summarize").with_arguments(args))
            .await
            .expect("prompts/get");
        let message = serde_json::to_value(&summary.messages[0]).unwrap();
        let prompt_text = message["content"]["text"].as_str().unwrap();
        assert!(prompt_text.contains("for operators"), "{prompt_text}");
        assert!(
            prompt_text.contains("Alpha explains the first step."),
            "{prompt_text}"
        );

        let mut args = serde_json::Map::new();
        args.insert("diff".into(), json!("+fn main() {}"));
        args.insert("focus".into(), json!("security"));
        let review = client
            .get_prompt(GetPromptRequestParams::new("docs_review_diff").with_arguments(args))
            .await
            .expect("prompts/get review_diff");
        let roles: Vec<Role> = review.messages.iter().map(|m| m.role.clone()).collect();
        assert_eq!(roles, [Role::User, Role::Assistant]);

        // A missing required argument and an unknown prompt are invalid params.
        let error = client
            .get_prompt(GetPromptRequestParams::new("docs_summarize"))
            .await
            .expect_err("missing argument");
        assert_eq!(code(error), ErrorCode::INVALID_PARAMS);
        let error = client
            .get_prompt(GetPromptRequestParams::new("docs_nope"))
            .await
            .expect_err("unknown prompt");
        assert_eq!(code(error), ErrorCode::INVALID_PARAMS);
        // The plugin's own refusal (a document that does not exist) too.
        let mut args = serde_json::Map::new();
        args.insert("path".into(), json!("missing.md"));
        let error = client
            .get_prompt(GetPromptRequestParams::new("docs_summarize").with_arguments(args))
            .await
            .expect_err("unknown document");
        assert_eq!(code(error), ErrorCode::INVALID_PARAMS);

        // Completion of a template variable and of prompt arguments.
        let paths = client
            .complete_resource_simple("docs+docs://{path}", "path", "gu")
            .await
            .expect("complete template");
        assert_eq!(paths, ["guides/beta.md"]);
        let paths = client
            .complete_prompt_simple("docs_summarize", "path", "")
            .await
            .expect("complete prompt path");
        assert_eq!(paths, ["alpha.md", "guides/beta.md"]);
        let focus = client
            .complete_prompt_simple("docs_review_diff", "focus", "se")
            .await
            .expect("complete focus");
        assert_eq!(focus, ["security"]);
        let error = client
            .complete_prompt_simple("docs_nope", "x", "")
            .await
            .expect_err("unknown prompt");
        assert_eq!(code(error), ErrorCode::INVALID_PARAMS);

        // The plugin's tools still serve, and so does the 0.1.0 plugin.
        let hits = server.call("docs_search", json!({ "query": "BETA" })).await;
        assert!(
            ok_text(&hits).contains("guides/beta.md:1: # Beta"),
            "{hits:?}"
        );
        let reversed = server
            .call("legacy_reverse", json!({ "text": "abc" }))
            .await;
        assert_eq!(ok_text(&reversed), "cba");

        server.stop().await;
    }
}

#[tokio::test]
async fn reads_run_in_the_sandbox_with_the_plugins_grants() {
    // Without the directory grant the same plugin still lists its template,
    // but reading fails inside the sandbox instead of reaching the host's
    // files.
    let workspace = workspace();
    let plugins = Plugins::new().component("docs", warden_test_artifacts::DOCS_WASM);
    let server = Server::start_in(
        plugins.path(),
        Revision::Stateless,
        &[],
        workspace.path(),
        &[],
    )
    .await;
    let resources = server.client.list_all_resources().await.expect("list");
    assert!(resources.is_empty(), "{resources:?}");
    let error = server
        .client
        .read_resource(ReadResourceRequestParams::new("docs+docs://alpha.md"))
        .await
        .expect_err("no grant, no document");
    assert_eq!(code(error), ErrorCode::INVALID_PARAMS);
    let events = server.log_events();
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["request"] == "resource docs://alpha.md"
                && e["fields"]["plugin"] == "docs"),
        "no log event for the read: {events:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_tools_only_server_offers_every_list_so_plugins_added_later_reach_its_clients() {
    for revision in [Revision::Legacy, Revision::Stateless] {
        let workspace = workspace();
        let plugins = Plugins::new().component("legacy", warden_test_artifacts::TOOLS_ONLY_WASM);
        let (server, mut changes) =
            Server::start_recording(plugins.path(), revision, &[], workspace.path()).await;
        let client = &server.client;
        // The folder may gain any kind of plugin while the client is
        // connected, and it learns capabilities only now.
        let info = client.peer_info().expect("server info");
        assert!(info.capabilities.tools.is_some());
        assert!(info.capabilities.resources.is_some(), "{revision:?}");
        assert!(info.capabilities.prompts.is_some(), "{revision:?}");
        assert!(info.capabilities.completions.is_some(), "{revision:?}");

        // Empty lists, and clear errors for what no plugin offers yet.
        assert!(client.list_all_resources().await.unwrap().is_empty());
        assert!(
            client
                .list_all_resource_templates()
                .await
                .unwrap()
                .is_empty()
        );
        assert!(client.list_all_prompts().await.unwrap().is_empty());
        let error = client
            .read_resource(ReadResourceRequestParams::new("legacy+x://y"))
            .await
            .expect_err("resources/read");
        assert_eq!(code(error), not_found_code(revision));
        let error = client
            .get_prompt(GetPromptRequestParams::new("legacy_x"))
            .await
            .expect_err("prompts/get");
        assert_eq!(code(error), ErrorCode::INVALID_PARAMS);
        let error = client
            .complete_prompt_simple("legacy_x", "a", "")
            .await
            .expect_err("completion/complete");
        assert_eq!(code(error), ErrorCode::INVALID_PARAMS);
        assert_eq!(server.tool_names().await, ["legacy_reverse"]);

        // A plugin with resources and prompts arrives: the client hears of
        // it and reads from it without reconnecting.
        std::fs::write(plugins.path().join("docs.toml"), DOCS_MANIFEST).unwrap();
        std::fs::copy(
            warden_test_artifacts::DOCS_WASM,
            plugins.path().join("docs.wasm"),
        )
        .unwrap();
        let started = std::time::Instant::now();
        while client.list_all_prompts().await.unwrap().is_empty() {
            assert!(started.elapsed() < PATIENCE, "the docs prompts never came");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if revision == Revision::Legacy {
            let mut heard = Vec::new();
            while !(heard.contains(&"resources") && heard.contains(&"prompts")) {
                let change = tokio::time::timeout(PATIENCE, changes.recv()).await;
                heard.push(change.expect("a list change").expect("connected"));
            }
        }
        let read = client
            .read_resource(ReadResourceRequestParams::new("docs+docs://alpha.md"))
            .await
            .expect("resources/read");
        assert!(
            text_of(&read.contents[0]).1.contains("Alpha explains"),
            "{read:?}"
        );
        let reversed = server
            .call("legacy_reverse", json!({ "text": "warden" }))
            .await;
        assert_eq!(ok_text(&reversed), "nedraw");
        server.stop().await;
    }
}

#[tokio::test]
async fn resource_lists_are_paginated() {
    let workspace = workspace();
    for i in 0..230 {
        std::fs::write(
            workspace.path().join(format!("docs/page-{i:03}.md")),
            format!("# Page {i}\n"),
        )
        .unwrap();
    }
    let plugins = plugins();
    let server =
        Server::start_in(plugins.path(), Revision::Legacy, &[], workspace.path(), &[]).await;
    let first = server.client.list_resources(None).await.expect("page 1");
    assert_eq!(first.resources.len(), 200);
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = server
        .client
        .list_resources(Some(
            rmcp::model::PaginatedRequestParams::default().with_cursor(Some(cursor)),
        ))
        .await
        .expect("page 2");
    assert_eq!(second.resources.len(), 32);
    assert!(second.next_cursor.is_none());
    let all = server.client.list_all_resources().await.expect("all");
    assert_eq!(all.len(), 232);
    server.stop().await;
}

/// Records list_changed and resources/updated notifications.
#[derive(Debug, Clone)]
struct Watcher {
    version: ProtocolVersion,
    events: mpsc::UnboundedSender<String>,
}

impl ClientHandler for Watcher {
    fn get_info(&self) -> ClientConfig {
        crate::support::client_config(
            "warden-e2e-watcher",
            ClientCapabilities::default(),
            self.version.clone(),
        )
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.events.send("resources".into());
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.events.send("tools".into());
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.events.send("prompts".into());
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        let _ = self.events.send(format!("updated {}", params.uri));
    }
}

async fn watch(
    plugins: &Path,
    revision: Revision,
    cwd: &Path,
) -> (
    RunningService<RoleClient, Watcher>,
    mpsc::UnboundedReceiver<String>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let watcher = Watcher {
        version: protocol_version(revision),
        events: tx,
    };
    (connect_with(watcher, plugins, revision, cwd).await, rx)
}

/// `docs_refresh`, naming documents whose contents changed.
fn refresh(changed: &[&str]) -> rmcp::model::CallToolRequestParams {
    let mut arguments = serde_json::Map::new();
    arguments.insert("changed".into(), json!(changed));
    rmcp::model::CallToolRequestParams::new("docs_refresh").with_arguments(arguments)
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(PATIENCE, events.recv())
        .await
        .expect("a notification")
        .expect("channel open")
}

#[tokio::test]
async fn list_changed_reaches_a_2025_11_25_session_after_the_plugin_asks() {
    let workspace = workspace();
    let plugins = plugins();
    let (client, mut events) = watch(plugins.path(), Revision::Legacy, workspace.path()).await;
    assert_eq!(client.list_all_resources().await.unwrap().len(), 2);

    // Subscriptions: a served URI is accepted, an unknown plugin is not.
    #[allow(deprecated)]
    client
        .subscribe(rmcp::model::SubscribeRequestParams::new(
            "docs+docs://alpha.md",
        ))
        .await
        .expect("resources/subscribe");
    #[allow(deprecated)]
    let error = client
        .subscribe(rmcp::model::SubscribeRequestParams::new("nobody+x://y"))
        .await
        .expect_err("unknown plugin");
    assert_eq!(code(error), ErrorCode::RESOURCE_NOT_FOUND);

    std::fs::write(workspace.path().join("docs/gamma.md"), "# Gamma\n").unwrap();
    let result = client
        .call_tool(refresh(&["alpha.md", "guides/beta.md"]))
        .await
        .expect("refresh");
    assert!(ok_text(&result).contains("3 document(s)"), "{result:?}");
    // The list changed; of the two updated documents only the subscribed one
    // is announced.
    let mut seen = vec![next_event(&mut events).await, next_event(&mut events).await];
    seen.sort();
    assert_eq!(seen, ["resources", "updated docs+docs://alpha.md"]);
    let uris: Vec<String> = client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert!(
        uris.contains(&"docs+docs://gamma.md".to_string()),
        "{uris:?}"
    );
    let _ = client.cancel().await;
}

#[tokio::test]
async fn list_changed_reaches_a_2026_07_28_listen_stream_after_the_plugin_asks() {
    let workspace = workspace();
    let plugins = plugins();
    let (client, _events) = watch(plugins.path(), Revision::Stateless, workspace.path()).await;
    assert_eq!(client.list_all_resources().await.unwrap().len(), 2);

    let filter = SubscriptionFilter::builder()
        .resources_list_changed()
        .prompts_list_changed()
        .resource_subscription("docs+docs://guides/beta.md")
        .build();
    let mut subscription = client.listen(filter).await.expect("subscriptions/listen");
    assert_eq!(
        subscription.acknowledged().resources_list_changed,
        Some(true)
    );

    std::fs::remove_file(workspace.path().join("docs/alpha.md")).unwrap();
    let result = client
        .call_tool(refresh(&["guides/beta.md"]))
        .await
        .expect("refresh");
    assert!(ok_text(&result).contains("1 document(s)"), "{result:?}");
    let mut next = async || {
        tokio::time::timeout(PATIENCE, subscription.next())
            .await
            .expect("a notification on the stream")
            .expect("the stream is open")
            .expect("a notification")
    };
    let notification = next().await;
    assert!(
        matches!(
            notification,
            ServerNotification::ResourceListChangedNotification(_)
        ),
        "{notification:?}"
    );
    match next().await {
        ServerNotification::ResourceUpdatedNotification(updated) => {
            assert_eq!(updated.params.uri, "docs+docs://guides/beta.md");
        }
        other => panic!("expected resources/updated, got {other:?}"),
    }
    let uris: Vec<String> = client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert_eq!(uris, ["docs+docs://guides/beta.md"]);
    let _ = subscription.cancel().await;
    let _ = client.cancel().await;
}

#[test]
fn warden_list_shows_resources_and_prompts() {
    let workspace = workspace();
    let plugins = plugins();
    let out = warden_in(
        &[
            "list",
            "--json",
            "--plugins",
            &plugins.path().to_string_lossy(),
        ],
        workspace.path(),
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let docs = listing.iter().find(|p| p["name"] == "docs").expect("docs");
    assert_eq!(
        docs["resources"],
        json!(["docs+docs://alpha.md", "docs+docs://guides/beta.md"])
    );
    assert_eq!(docs["templates"], json!(["docs+docs://{path}"]));
    assert_eq!(
        docs["prompts"],
        json!(["docs_summarize", "docs_review_diff"])
    );
    assert_eq!(docs["world_version"], "0.2.0");
}

/// Runs tests/python/check_resources.py (the official Python MCP SDK) against
/// the `docs` plugin in `mode` and returns its report.
fn python_report(mode: &str) -> Value {
    let python = std::env::var_os("WARDEN_TEST_PYTHON").unwrap_or_else(|| "python3".into());
    let workspace = workspace();
    let plugins = plugins();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/check_resources.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(crate::support::WARDEN)
        .arg(plugins.path())
        .arg(mode)
        .current_dir(workspace.path())
        .output()
        .expect("run the Python client (set WARDEN_TEST_PYTHON, see scripts/test)");
    assert!(
        out.status.success(),
        "python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad report ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn the_python_sdk_reads_resources_and_gets_prompts_on_both_revisions() {
    for (mode, protocol, not_found) in [
        ("legacy", "2025-11-25", -32002),
        ("auto", "2026-07-28", -32602),
    ] {
        let report = python_report(mode);
        assert_eq!(report["protocol_version"], protocol, "{report:#}");
        assert_eq!(
            report["resources"],
            json!(["docs+docs://alpha.md", "docs+docs://guides/beta.md"]),
            "{report:#}"
        );
        assert_eq!(report["templates"], json!(["docs+docs://{path}"]));
        assert!(
            report["read"][0]
                .as_str()
                .unwrap()
                .contains("Alpha explains")
        );
        assert!(
            report["templated"][0]
                .as_str()
                .unwrap()
                .contains("Beta covers")
        );
        assert_eq!(report["missing_code"], not_found, "{report:#}");
        assert_eq!(
            report["prompts"],
            json!(["docs_summarize", "docs_review_diff"])
        );
        assert!(
            report["summary"][0]
                .as_str()
                .unwrap()
                .contains("for operators")
        );
        assert_eq!(report["missing_argument_code"], -32602);
        assert_eq!(report["paths"], json!(["guides/beta.md"]));
        assert_eq!(report["focus"], json!(["performance"]));
    }
}
