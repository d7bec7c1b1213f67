//! Permission prompts for directories (`[policy] ask = true`), against the
//! real `warden serve` over stdio and the `files` example: an update of the
//! plugin requests a directory (or write access to one) that `warden.lock`
//! does not approve. The plugin sees the directory at its guest path; the
//! first time it reaches into it (or, for write access, writes through it)
//! the person is asked: allow once (this call), allow always (approved in
//! the lock, as `warden approve` would), or deny (it stays shut, or
//! read-only). A client that cannot ask, or a server without `ask`, is
//! refused as before. On 2026-07-28 the question is an `input_required`
//! round.

use std::time::{Duration, Instant};

use rmcp::ClientHandler;
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};

use crate::person::Person;
use crate::support::{Plugins, Revision, ServedStdio, error_text, ok_text};

/// A person who answers every permission question with `answer` (declines when `None`).
fn answering(answer: Option<&str>) -> Person {
    Person::new(answer.map(|answer| json!({ "answer": answer })))
}

/// A workspace with `notes` (one note) and an empty `scratch`, and the
/// `files` example whose manifest requests `notes` read-only at /workspace
/// and `scratch` at /scratch in `scratch_mode`.
struct Setup {
    root: tempfile::TempDir,
    plugins: Plugins,
}

impl Setup {
    fn new(scratch_mode: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("notes")).unwrap();
        std::fs::create_dir(root.path().join("scratch")).unwrap();
        std::fs::write(root.path().join("notes/hello.md"), "hello from the notes\n").unwrap();
        std::fs::write(root.path().join("scratch/kept.md"), "kept\n").unwrap();
        let manifest = format!(
            "manifest_version = 1\nname = \"files\"\n\
             [[capabilities.dirs]]\nhost = \"notes\"\nguest = \"/workspace\"\nmode = \"ro\"\n\
             [[capabilities.dirs]]\nhost = \"scratch\"\nguest = \"/scratch\"\nmode = \"{scratch_mode}\"\n"
        );
        let plugins = Plugins::new()
            .component("files", warden_test_artifacts::FILES_WASM)
            .manifest("files", &manifest);
        Self { root, plugins }
    }

    /// Writes a lock that approves the plugin with `notes` and, when
    /// `scratch` names a mode, `scratch` at that mode.
    fn approve(&self, scratch: Option<&str>) {
        let mut dirs = vec![r#"{ host = "notes", guest = "/workspace", mode = "ro" }"#.to_string()];
        if let Some(mode) = scratch {
            dirs.push(format!(
                r#"{{ host = "scratch", guest = "/scratch", mode = "{mode}" }}"#
            ));
        }
        let lock = format!(
            "{}dirs = [{}]\n",
            approving(&[("files", warden_test_artifacts::FILES_WASM)]),
            dirs.join(", ")
        );
        std::fs::write(self.lock(), lock).unwrap();
    }

    fn lock(&self) -> std::path::PathBuf {
        self.root.path().join("warden.lock")
    }

    fn scratch(&self) -> std::path::PathBuf {
        self.root.path().join("scratch")
    }

    /// The config: the workspace and its lock, `[policy] ask` when `ask`,
    /// an audit log, and `write` approved (it is destructive; consent is
    /// tested in `consent.rs`).
    fn config(&self, ask: bool) -> String {
        format!(
            "workspace_root = {root:?}\nlock_file = {lock:?}\n[policy]\nask = {ask}\n\
             [audit]\nfile = \"audit.jsonl\"\n[plugins.files]\nauto_approve = [\"write\"]\n",
            root = self.root.path().display().to_string(),
            lock = self.lock().display().to_string(),
        )
    }

    async fn serve(&self, person: &Person, revision: Revision, ask: bool) -> ServedStdio<Person> {
        ServedStdio::start(
            person.clone(),
            self.plugins.path(),
            revision,
            &self.config(ask),
        )
        .await
    }
}

/// The permission decisions in the audit log, each checked to name the
/// plugin, the capability and the directory.
fn decisions<H: ClientHandler>(served: &ServedStdio<H>) -> Vec<String> {
    served
        .audited("permission")
        .into_iter()
        .map(|e| {
            assert_eq!(e["plugin"], "files", "{e}");
            assert_eq!(e["capability"], "fs", "{e}");
            assert_eq!(e["target"], "/scratch", "{e}");
            e["decision"].as_str().unwrap().to_string()
        })
        .collect()
}

fn write(name: &str) -> Value {
    json!({ "path": format!("/scratch/{name}"), "content": "written" })
}

fn read(path: &str) -> Value {
    json!({ "path": path })
}

fn code(result: &rmcp::model::CallToolResult) -> Value {
    result.meta.as_ref().unwrap().0["dev.warden/error"]["code"].clone()
}

#[tokio::test]
async fn a_held_directory_asks_when_reached_once_for_one_call_deny_keeps_it_shut() {
    let setup = Setup::new("rw");
    setup.approve(None);

    let person = answering(Some("once"));
    let served = setup.serve(&person, Revision::Legacy, true).await;
    // Granted directories, and the list of roots, never ask.
    let text = ok_text(&served.call("files_read", read("/workspace/hello.md")).await);
    assert!(text.contains("hello from the notes"), "{text}");
    let roots = ok_text(&served.call("files_roots", json!({})).await);
    assert!(roots.contains("/scratch (read-write)"), "{roots}");
    assert!(person.asked().is_empty(), "{:?}", person.asked());

    for round in 1..=2 {
        let name = format!("once-{round}.md");
        ok_text(&served.call("files_write", write(&name)).await);
        assert_eq!(
            std::fs::read_to_string(setup.scratch().join(&name)).unwrap(),
            "written"
        );
        assert_eq!(person.asked().len(), round, "once is for one call only");
    }
    let text = ok_text(&served.call("files_read", read("/scratch/kept.md")).await);
    assert!(text.contains("kept"), "{text}");
    assert_eq!(person.asked().len(), 3);
    let question = &person.asked()[0];
    let message = question["message"].as_str().unwrap();
    assert!(message.contains("`files` (running `write`)"), "{message}");
    assert!(
        message.contains("read and write the directory `scratch` (seen by the plugin as /scratch)"),
        "{message}"
    );
    assert_eq!(decisions(&served), ["once", "once", "once"]);
    let lock = std::fs::read_to_string(setup.lock()).unwrap();
    assert!(!lock.contains("/scratch"), "once is not recorded: {lock}");
    served.stop().await;

    // Denied, or declined: the directory stays shut, and the failure says
    // why and how to approve it.
    for person in [answering(Some("deny")), answering(None)] {
        let served = setup.serve(&person, Revision::Legacy, true).await;
        let refused = served.call("files_write", write("denied.md")).await;
        let text = error_text(&refused);
        assert!(text.contains("fs access to /scratch denied: "), "{text}");
        assert!(
            text.contains("the person was asked and did not allow it"),
            "{text}"
        );
        assert!(text.contains("`warden approve files`"), "{text}");
        assert_eq!(code(&refused), "capability_denied");
        // Reading is refused too (asked again: this is another call).
        let refused = served.call("files_read", read("/scratch/kept.md")).await;
        assert!(error_text(&refused).contains("fs access to /scratch denied"));
        assert_eq!(person.asked().len(), 2, "one question per call");
        assert_eq!(decisions(&served), ["denied", "denied"]);
        served.stop().await;
    }
    assert!(!setup.scratch().join("denied.md").exists());
}

#[tokio::test]
async fn always_approves_the_directory_in_the_lock_and_outlives_the_server() {
    let setup = Setup::new("rw");
    setup.approve(None);

    let person = answering(Some("always"));
    let served = setup.serve(&person, Revision::Legacy, true).await;
    ok_text(&served.call("files_write", write("always.md")).await);
    assert_eq!(person.asked().len(), 1);
    let lock: toml::Value =
        toml::from_str(&std::fs::read_to_string(setup.lock()).unwrap()).unwrap();
    let dirs = lock["plugins"]["files"]["dirs"].as_array().unwrap();
    let scratch =
        toml::Value::try_from(json!({ "host": "scratch", "guest": "/scratch", "mode": "rw" }))
            .unwrap();
    assert!(dirs.contains(&scratch), "{lock}");
    // The server reloads the lock: soon a call goes through without asking.
    let started = Instant::now();
    loop {
        let before = person.asked().len();
        ok_text(&served.call("files_read", read("/scratch/always.md")).await);
        if person.asked().len() == before {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still asking after the lock approved the directory"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(decisions(&served)[0], "always");
    served.stop().await;

    // A new server, with a client that cannot ask, grants it from the lock.
    let mut mute = answering(None);
    mute.elicitation = false;
    let served = setup.serve(&mute, Revision::Legacy, true).await;
    ok_text(&served.call("files_write", write("later.md")).await);
    assert!(setup.scratch().join("later.md").exists());
    served.stop().await;
    assert!(mute.asked().is_empty());
}

#[tokio::test]
async fn write_access_to_a_read_only_directory_is_asked_only_when_writing() {
    let setup = Setup::new("rw");
    setup.approve(Some("ro"));

    let person = answering(Some("deny"));
    let served = setup.serve(&person, Revision::Legacy, true).await;
    let text = ok_text(&served.call("files_read", read("/scratch/kept.md")).await);
    assert!(text.contains("kept"), "{text}");
    assert!(person.asked().is_empty(), "reading asks nothing");
    let refused = served.call("files_write", write("denied.md")).await;
    let text = error_text(&refused);
    assert!(
        text.contains("fs access to /scratch denied: write access"),
        "{text}"
    );
    let message = person.asked()[0]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("wants to write to the directory `scratch`"),
        "{message}"
    );
    assert!(message.contains("Deny: it stays read-only."), "{message}");
    // Still readable after the denial.
    ok_text(&served.call("files_read", read("/scratch/kept.md")).await);
    assert_eq!(decisions(&served), ["denied"]);
    served.stop().await;
    assert!(!setup.scratch().join("denied.md").exists());

    let person = answering(Some("once"));
    let served = setup.serve(&person, Revision::Legacy, true).await;
    ok_text(&served.call("files_write", write("upgraded.md")).await);
    assert_eq!(person.asked().len(), 1);
    assert!(setup.scratch().join("upgraded.md").exists());
    served.stop().await;
}

#[tokio::test]
async fn nothing_asks_without_a_client_that_can_or_without_ask() {
    let setup = Setup::new("rw");
    setup.approve(None);

    let mut mute = answering(Some("always"));
    mute.elicitation = false;
    let served = setup.serve(&mute, Revision::Legacy, true).await;
    let text = error_text(&served.call("files_write", write("mute.md")).await);
    assert!(text.contains("fs access to /scratch denied"), "{text}");
    assert!(text.contains("the client cannot ask the person"), "{text}");
    assert!(decisions(&served).is_empty());
    served.stop().await;

    // Without `ask`, the held directory is not there at all, as before.
    let person = answering(Some("always"));
    let served = setup.serve(&person, Revision::Legacy, false).await;
    let roots = ok_text(&served.call("files_roots", json!({})).await);
    assert!(!roots.contains("/scratch"), "{roots}");
    error_text(&served.call("files_write", write("unasked.md")).await);
    served.stop().await;
    assert!(person.asked().is_empty());
    assert!(mute.asked().is_empty());
    let scratch: Vec<_> = std::fs::read_dir(setup.scratch()).unwrap().collect();
    assert_eq!(scratch.len(), 1, "only kept.md: {scratch:?}");
}

#[tokio::test]
async fn on_2026_07_28_the_question_is_an_input_required_round() {
    let setup = Setup::new("rw");
    setup.approve(None);
    let mut person = answering(Some("once"));
    person.version = ProtocolVersion::V_2026_07_28;
    let served = setup.serve(&person, Revision::Stateless, true).await;
    ok_text(&served.call("files_write", write("round.md")).await);
    assert_eq!(person.asked().len(), 1);
    assert_eq!(
        std::fs::read_to_string(setup.scratch().join("round.md")).unwrap(),
        "written"
    );
    // Asked in the first run (which stopped before writing), allowed in the
    // retry.
    assert_eq!(decisions(&served), ["asked", "once"]);
    served.stop().await;
}

/// A lock that approves each `(name, built component)` with no
/// capabilities: whatever their manifests request is held.
pub(crate) fn approving(plugins: &[(&str, &str)]) -> String {
    let approvals: String = plugins
        .iter()
        .map(|(name, wasm)| {
            let sha256 = warden::policy::lock::sha256_hex(&std::fs::read(wasm).unwrap());
            format!("\n[plugins.{name}]\nsha256 = \"{sha256}\"\n")
        })
        .collect();
    format!("version = 1\n{approvals}")
}

#[tokio::test]
async fn plugins_in_python_javascript_and_c_are_asked_only_when_they_reach() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("data")).unwrap();
    std::fs::write(root.path().join("data/cities.csv"), "city,temp\nOslo,3\n").unwrap();
    let dir = "[[capabilities.dirs]]\nhost = \"data\"\nguest = \"/data\"\nmode = \"ro\"\n";
    let manifest = |name: &str| format!("manifest_version = 1\nname = \"{name}\"\n{dir}");
    let plugins = Plugins::new()
        .component("data", warden_test_artifacts::DATA_WASM)
        .manifest("data", &manifest("data"))
        .component("markdown", warden_test_artifacts::MARKDOWN_WASM)
        .manifest("markdown", &manifest("markdown"))
        .component("checksum", warden_test_artifacts::CHECKSUM_WASM)
        .manifest("checksum", &manifest("checksum"));
    // Approved without the directory: it is an update's growth.
    let lock_path = root.path().join("warden.lock");
    let lock = approving(&[
        ("data", warden_test_artifacts::DATA_WASM),
        ("markdown", warden_test_artifacts::MARKDOWN_WASM),
        ("checksum", warden_test_artifacts::CHECKSUM_WASM),
    ]);
    std::fs::write(&lock_path, lock).unwrap();
    let config = format!(
        "workspace_root = {:?}\nlock_file = {:?}\n[policy]\nask = true\n",
        root.path().display().to_string(),
        lock_path.display().to_string()
    );

    let person = answering(Some("once"));
    let served =
        ServedStdio::start(person.clone(), plugins.path(), Revision::Legacy, &config).await;
    // Starting an interpreter, describing, and a call that does not reach
    // into the directory ask nothing.
    let outline = ok_text(
        &served
            .call("markdown_outline", json!({ "markdown": "# Title\n" }))
            .await,
    );
    assert!(outline.contains("Title"), "{outline}");
    assert!(person.asked().is_empty(), "{:?}", person.asked());

    let files = ok_text(&served.call("data_files", json!({})).await);
    assert!(files.contains("cities.csv"), "{files}");
    let listed = ok_text(&served.call("checksum_list", json!({})).await);
    assert!(listed.contains("cities.csv"), "{listed}");
    let asked: Vec<String> = person
        .asked()
        .iter()
        .map(|q| q["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[0].starts_with("The plugin `data`"), "{asked:?}");
    assert!(asked[1].starts_with("The plugin `checksum`"), "{asked:?}");
    served.stop().await;
}

#[tokio::test]
async fn start_code_that_reaches_a_held_directory_gets_no_ready_instances() {
    // The `opener` fixture's start code opens /data/start.txt. Made ahead of
    // a call, it could not ask; each call's own instance asks instead.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("data")).unwrap();
    std::fs::write(root.path().join("data/start.txt"), "held").unwrap();
    let plugins = Plugins::new()
        .component("opener", warden_test_artifacts::OPENER_WASM)
        .manifest(
            "opener",
            "manifest_version = 1\nname = \"opener\"\n\
             [[capabilities.dirs]]\nhost = \"data\"\nguest = \"/data\"\nmode = \"ro\"\n",
        );
    let lock_path = root.path().join("warden.lock");
    let lock = approving(&[("opener", warden_test_artifacts::OPENER_WASM)]);
    std::fs::write(&lock_path, lock).unwrap();
    let config = format!(
        "workspace_root = {:?}\nlock_file = {:?}\nready_threshold = \"1us\"\n[policy]\nask = true\n",
        root.path().display().to_string(),
        lock_path.display().to_string()
    );
    let person = answering(Some("once"));
    let served =
        ServedStdio::start(person.clone(), plugins.path(), Revision::Legacy, &config).await;
    for call in 1..=5 {
        let opened = ok_text(&served.call("opener_opened", json!({})).await);
        assert_eq!(opened, "1", "call {call} ran in an instance made ahead");
        assert_eq!(person.asked().len(), call);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let ready: Vec<bool> = served
        .log_events()
        .iter()
        .filter(|e| e["fields"]["message"] == "tool call finished")
        .map(|e| e["fields"]["ready"] == Value::Bool(true))
        .collect();
    assert_eq!(ready, [false; 5], "{ready:?}");
    served.stop().await;
}

#[tokio::test]
async fn a_held_directory_that_overlaps_a_granted_one_never_refuses_a_plugin() {
    // `files` is granted `scratch` read-write; an update of `other` requests
    // `scratch/inner`, which the lock does not approve. Under `ask` that
    // request is not asked about, and `files` still loads.
    let setup = Setup::new("rw");
    setup.approve(Some("rw"));
    std::fs::create_dir(setup.scratch().join("inner")).unwrap();
    let folder = setup.plugins.path();
    std::fs::copy(warden_test_artifacts::FILES_WASM, folder.join("other.wasm")).unwrap();
    std::fs::write(
        folder.join("other.toml"),
        "manifest_version = 1\nname = \"other\"\n\
         [[capabilities.dirs]]\nhost = \"scratch/inner\"\nguest = \"/inner\"\nmode = \"ro\"\n",
    )
    .unwrap();
    let lock = std::fs::read_to_string(setup.lock()).unwrap();
    let other = approving(&[("other", warden_test_artifacts::FILES_WASM)]);
    let other = other.strip_prefix("version = 1\n").unwrap();
    std::fs::write(setup.lock(), format!("{lock}{other}")).unwrap();
    let person = answering(Some("always"));
    let served = ServedStdio::start(
        person.clone(),
        folder,
        Revision::Legacy,
        &setup.config(true),
    )
    .await;
    ok_text(&served.call("files_write", write("still.md")).await);
    let roots = ok_text(&served.call("other_roots", json!({})).await);
    assert!(!roots.contains("/inner"), "{roots}");
    let loaded = served.log_events().into_iter().any(|e| {
        e.to_string().contains(
            "directory /inner is not asked about: it overlaps plugin `files`'s rw directory",
        )
    });
    assert!(loaded, "the notice is not in the log");
    assert!(person.asked().is_empty());
    served.stop().await;
}
