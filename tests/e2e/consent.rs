//! Consent for risky tools, against the real `warden serve` over stdio with
//! rmcp clients that answer the question: the `files` example's `write`
//! (annotated destructive) asks the person before it runs, naming the tool
//! and its arguments; allowed, it runs; declined, it does not, with
//! `consent_declined`; a client that cannot ask gets `consent_required` and
//! how to allow it; `auto_approve` skips the question; `confirm` makes any
//! tool ask; on 2026-07-28 the question travels in an `input_required`
//! round. Every decision is in the audit log.

use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    ErrorData, Implementation, ProtocolVersion,
};
use rmcp::service::RequestContext;
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};

use crate::support::{Plugins, Revision, ServedStdio, error_text, ok_text};

/// A client that answers the consent question with `allow` (or declines
/// when `None`), and keeps the questions.
#[derive(Debug, Clone)]
struct Person {
    elicitation: bool,
    allow: Option<bool>,
    version: ProtocolVersion,
    asked: Arc<Mutex<Vec<Value>>>,
}

impl Person {
    fn new(allow: Option<bool>) -> Self {
        Self {
            elicitation: true,
            allow,
            version: ProtocolVersion::V_2025_11_25,
            asked: Arc::default(),
        }
    }

    fn asked(&self) -> Vec<Value> {
        self.asked.lock().unwrap().clone()
    }
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities = if self.elicitation {
            serde_json::from_value(json!({"elicitation": {"form": {}}})).unwrap()
        } else {
            ClientCapabilities::default()
        };
        let mut config = ClientConfig::new(
            capabilities,
            Implementation::new("warden-e2e-person", "0.0.0"),
        );
        config.protocol_version = self.version.clone();
        config
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.asked
            .lock()
            .unwrap()
            .push(serde_json::to_value(&params).unwrap());
        Ok(match self.allow {
            Some(allow) => {
                let mut result = ElicitResult::new(ElicitationAction::Accept);
                result.content = Some(json!({ "allow": allow }));
                result
            }
            None => ElicitResult::new(ElicitationAction::Decline),
        })
    }
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
    std::fs::read_to_string(served.file("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|e| e["event"] == "consent")
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

    let person = Person::new(Some(true));
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
    for person in [Person::new(None), Person::new(Some(false))] {
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
    let mut mute = Person::new(Some(true));
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
    let person = Person::new(None);
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
    let mut person = Person::new(Some(true));
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

    let mut person = Person::new(None);
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
