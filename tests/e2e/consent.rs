//! Consent for risky tools, against the real `warden serve` over stdio with
//! rmcp clients that answer the question: the `files` example's `write`
//! (annotated destructive) asks the person before it runs, naming the tool
//! and its arguments; allowed, it runs; declined, it does not, with
//! `consent_declined`; a client that cannot ask gets `consent_required` and
//! how to allow it; `auto_approve` skips the question; `confirm` makes any
//! tool ask; on 2026-07-28 the question travels in an `input_required`
//! round. Every decision is in the audit log.

use rmcp::ClientHandler;
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};

use crate::person::Person;
use crate::support::{Plugins, Revision, ServedStdio, error_text, ok_text};

/// A person who answers the consent question with `allow` (declines when `None`).
fn allowing(allow: Option<bool>) -> Person {
    Person::new(allow.map(|allow| json!({ "allow": allow })))
}

/// The `files` example with a read-write directory `scratch` in the
/// workspace `root`.
fn files() -> (tempfile::TempDir, Plugins) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("scratch")).unwrap();
    let plugins = Plugins::new()
        .component("files", warden_test_artifacts::FILES_WASM)
        .manifest(
            "files",
            "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"scratch\"\nguest = \"/scratch\"\nmode = \"rw\"\n",
        );
    (root, plugins)
}

/// The server's config: the workspace, an audit log, and `more`.
fn config(root: &tempfile::TempDir, more: &str) -> String {
    format!(
        "workspace_root = {:?}\n[audit]\nfile = \"audit.jsonl\"\n{more}",
        root.path().display().to_string()
    )
}

fn write_args(name: &str) -> Value {
    json!({ "path": format!("/scratch/{name}"), "content": "hello\nworld" })
}

/// The consent decisions in the audit log (`[audit] file = "audit.jsonl"`),
/// each checked to carry the tool and an arguments digest.
fn consent_events<H: ClientHandler>(served: &ServedStdio<H>) -> Vec<String> {
    served
        .audited("consent")
        .into_iter()
        .map(|e| {
            assert!(e["tool"].as_str().unwrap().starts_with("files_"), "{e}");
            assert_eq!(e["arguments_sha256"].as_str().unwrap().len(), 64, "{e}");
            e["decision"].as_str().unwrap().to_string()
        })
        .collect()
}

fn code(result: &rmcp::model::CallToolResult) -> Value {
    result.meta.as_ref().unwrap().0["dev.warden/error"]["code"].clone()
}

#[tokio::test]
async fn a_destructive_tool_asks_and_runs_only_when_allowed() {
    let (root, plugins) = files();
    let scratch = root.path().join("scratch");

    let person = allowing(Some(true));
    let served = ServedStdio::start(
        person.clone(),
        plugins.path(),
        Revision::Legacy,
        &config(&root, ""),
    )
    .await;
    let written = served.call("files_write", write_args("a.txt")).await;
    ok_text(&written);
    assert!(scratch.join("a.txt").exists());
    let asked = person.asked();
    assert_eq!(asked.len(), 1);
    let message = asked[0]["message"].as_str().unwrap();
    assert!(message.contains("`files_write`"), "{message}");
    assert!(message.contains(r#""path": "/scratch/a.txt""#), "{message}");
    assert!(
        message.contains(r#""content": "hello\nworld""#),
        "{message}"
    );
    assert_eq!(asked[0]["requestedSchema"]["required"][0], "allow");
    // A read-only tool never asks.
    ok_text(&served.call("files_list", json!({"path": "/scratch"})).await);
    assert_eq!(person.asked().len(), 1);
    assert_eq!(consent_events(&served), ["approved"]);
    served.stop().await;

    // Declined (or accepted without allowing): nothing is written.
    for person in [allowing(None), allowing(Some(false))] {
        let served = ServedStdio::start(
            person.clone(),
            plugins.path(),
            Revision::Legacy,
            &config(&root, ""),
        )
        .await;
        let refused = served.call("files_write", write_args("b.txt")).await;
        let text = error_text(&refused);
        assert!(text.contains("did not allow"), "{text}");
        assert_eq!(code(&refused), "consent_declined");
        assert!(!scratch.join("b.txt").exists());
        assert_eq!(person.asked().len(), 1);
        assert_eq!(consent_events(&served), ["declined"]);
        served.stop().await;
    }
}

#[tokio::test]
async fn a_client_that_cannot_ask_is_told_how_to_allow_and_auto_approve_skips() {
    let (root, plugins) = files();
    let scratch = root.path().join("scratch");
    let mut mute = allowing(Some(true));
    mute.elicitation = false;
    let served = ServedStdio::start(
        mute.clone(),
        plugins.path(),
        Revision::Legacy,
        &config(&root, ""),
    )
    .await;
    let refused = served.call("files_write", write_args("c.txt")).await;
    let text = error_text(&refused);
    assert_eq!(code(&refused), "consent_required");
    assert!(
        text.contains(r#"[plugins.files] auto_approve = ["write"]"#),
        "{text}"
    );
    assert!(!scratch.join("c.txt").exists());
    assert_eq!(consent_events(&served), ["required"]);
    served.stop().await;

    let approve = &config(&root, "[plugins.files]\nauto_approve = [\"wr*\"]\n");
    let served = ServedStdio::start(mute.clone(), plugins.path(), Revision::Legacy, approve).await;
    ok_text(&served.call("files_write", write_args("c.txt")).await);
    assert!(scratch.join("c.txt").exists());
    assert!(mute.asked().is_empty());
    assert_eq!(consent_events(&served), ["auto_approved"]);
    served.stop().await;

    // The operator's `confirm` makes a read-only tool ask.
    let confirm = &config(&root, "[plugins.files]\nconfirm = [\"list\"]\n");
    let person = allowing(None);
    let served =
        ServedStdio::start(person.clone(), plugins.path(), Revision::Legacy, confirm).await;
    let listed = served.call("files_list", json!({"path": "/scratch"})).await;
    assert_eq!(code(&listed), "consent_declined");
    assert_eq!(person.asked().len(), 1);
    served.stop().await;
}

#[tokio::test]
async fn on_2026_07_28_the_question_is_an_input_required_round() {
    let (root, plugins) = files();
    let scratch = root.path().join("scratch");
    let mut person = allowing(Some(true));
    person.version = ProtocolVersion::V_2026_07_28;
    let served = ServedStdio::start(
        person.clone(),
        plugins.path(),
        Revision::Stateless,
        &config(&root, ""),
    )
    .await;
    ok_text(&served.call("files_write", write_args("d.txt")).await);
    assert_eq!(
        std::fs::read_to_string(scratch.join("d.txt")).unwrap(),
        "hello\nworld"
    );
    assert_eq!(person.asked().len(), 1);
    // Asked in the first round, approved in the retry.
    assert_eq!(consent_events(&served), ["asked", "approved"]);
    served.stop().await;

    let mut person = allowing(None);
    person.version = ProtocolVersion::V_2026_07_28;
    let served = ServedStdio::start(
        person.clone(),
        plugins.path(),
        Revision::Stateless,
        &config(&root, ""),
    )
    .await;
    let refused = served.call("files_write", write_args("e.txt")).await;
    assert_eq!(code(&refused), "consent_declined");
    assert!(!scratch.join("e.txt").exists());
    served.stop().await;
}
