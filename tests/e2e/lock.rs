//! No silent escalation: the lock file records what the operator approved;
//! an update that requests more is held back until `warden approve`, and
//! `require-approval` keeps new plugins out until approved.

use std::path::Path;

use serde_json::{Value, json};

use crate::http::{Reply, TestServer};
use crate::support::{Revision, Server, error_text, list_json, ok_text, warden_in};

/// A fetch manifest requesting exactly `origins`.
fn fetch_manifest(origins: &[String]) -> String {
    let list = origins
        .iter()
        .map(|o| format!("{o:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("manifest_version = 1\nname = \"fetch\"\n[capabilities]\nhttp = [{list}]\n")
}

/// The component with a custom section appended: still the same plugin, but
/// a different file (and hash), as an update would be.
pub(crate) fn updated_component(wasm: &[u8]) -> Vec<u8> {
    let name = b"warden-test-update";
    let payload_len = 1 + name.len() + 2;
    let mut bytes = wasm.to_vec();
    bytes.extend_from_slice(&[0, u8::try_from(payload_len).unwrap()]);
    bytes.push(u8::try_from(name.len()).unwrap());
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(b"v2");
    bytes
}

/// An origin server answering `/` with `text`.
async fn origin(text: &'static str) -> TestServer {
    let server = TestServer::start().await;
    server.route("/", Reply::ok("text/plain", text));
    server
}

/// `ROOT/plugins` with the fetch plugin requesting `origin`; the folder and
/// the component's bytes.
fn fetch_plugin(root: &Path, origin: &str) -> (std::path::PathBuf, Vec<u8>) {
    let plugins = root.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let wasm = std::fs::read(warden_test_artifacts::FETCH_WASM).unwrap();
    std::fs::write(plugins.join("fetch.wasm"), &wasm).unwrap();
    std::fs::write(
        plugins.join("fetch.toml"),
        fetch_manifest(&[origin.to_string()]),
    )
    .unwrap();
    (plugins, wasm)
}

pub(crate) fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "warden failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn plugin<'a>(listing: &'a [Value], name: &str) -> &'a Value {
    listing
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed: {listing:#?}"))
}

fn notices(plugin: &Value) -> Vec<String> {
    plugin["notices"]
        .as_array()
        .map(|a| a.iter().map(|n| n.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

async fn fetch(root: &Path, plugins: &Path, url: &str) -> rmcp::model::CallToolResult {
    let server = Server::start_in(plugins, Revision::Legacy, &[], root, &[]).await;
    let result = server.call("fetch_get", json!({ "url": url })).await;
    server.stop().await;
    result
}

#[tokio::test]
async fn a_capability_growth_update_is_held_until_approved_and_then_works() {
    let (old, new) = (
        origin("from the approved origin").await,
        origin("from the new origin").await,
    );
    let old_origin = format!("http://127.0.0.1:{}", old.port());
    let new_origin = format!("http://127.0.0.1:{}", new.port());

    // Started in `root` without a config: the lock is ./warden.lock.
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let (plugins, wasm) = fetch_plugin(root, &old_origin);
    let lock_path = root.join("warden.lock");
    let plugins_arg = plugins.to_str().unwrap();

    // `warden list` only reports; it records nothing.
    let listing = list_json(&["--plugins", plugins_arg], root, &[]);
    assert!(
        notices(plugin(&listing, "fetch"))
            .iter()
            .any(|n| n.starts_with("first seen: would be trusted on first use")),
        "{listing:#?}"
    );
    assert!(!lock_path.exists(), "`warden list` wrote the lock");

    // First use: trusted and recorded.
    let result = fetch(root, &plugins, &format!("{old_origin}/")).await;
    assert!(ok_text(&result).contains("from the approved origin"));
    let lock = std::fs::read_to_string(&lock_path).expect("serving records the lock");
    let sha = format!("{:x}", sha256(&wasm));
    assert!(lock.contains("[plugins.fetch]"), "{lock}");
    assert!(lock.contains(&sha), "{lock}");
    assert!(lock.contains(&old_origin), "{lock}");

    // The update asks for one more origin.
    let updated = updated_component(&wasm);
    std::fs::write(plugins.join("fetch.wasm"), &updated).unwrap();
    std::fs::write(
        plugins.join("fetch.toml"),
        fetch_manifest(&[old_origin.clone(), new_origin.clone()]),
    )
    .unwrap();
    let listing = list_json(&["--plugins", plugins_arg], root, &[]);
    let fetch_entry = plugin(&listing, "fetch");
    assert_eq!(fetch_entry["status"], "loaded", "{fetch_entry:#}");
    assert!(
        notices(fetch_entry).iter().any(|n| n
            .starts_with(&format!("held back until approved: http {new_origin} "))
            && n.contains("warden approve fetch")),
        "{fetch_entry:#}"
    );

    let result = fetch(root, &plugins, &format!("{new_origin}/")).await;
    let text = error_text(&result);
    assert!(
        text.contains("not approved yet (run `warden approve fetch`)"),
        "{text}"
    );
    assert_eq!(new.connections(), 0, "a held origin was contacted");
    let result = fetch(root, &plugins, &format!("{old_origin}/")).await;
    assert!(ok_text(&result).contains("from the approved origin"));
    assert_eq!(
        std::fs::read_to_string(&lock_path).unwrap(),
        lock,
        "a held update changed the lock"
    );

    // Review, then approve: both print exactly what changes.
    let new_sha = format!("{:x}", sha256(&updated));
    let dry = stdout(&warden_in(
        &["approve", "fetch", "--dry-run", "--plugins", plugins_arg],
        root,
        &[],
    ));
    let expected_changes =
        format!("  component sha256 {sha} -> {new_sha}\n  + http {new_origin}\n");
    assert!(dry.contains(&expected_changes), "{dry}");
    assert!(dry.contains("dry run:"), "{dry}");
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), lock);

    let approved = stdout(&warden_in(
        &["approve", "fetch", "--plugins", plugins_arg],
        root,
        &[],
    ));
    assert!(approved.contains(&expected_changes), "{approved}");
    assert!(
        !approved.contains("  - "),
        "nothing was removed: {approved}"
    );
    assert!(approved.contains("approved: recorded in"), "{approved}");
    let again = stdout(&warden_in(
        &["approve", "fetch", "--plugins", plugins_arg],
        root,
        &[],
    ));
    assert!(again.contains("nothing to approve"), "{again}");

    let result = fetch(root, &plugins, &format!("{new_origin}/")).await;
    assert!(ok_text(&result).contains("from the new origin"));
    assert!(new.connections() >= 1);
}

#[tokio::test]
async fn require_approval_keeps_new_plugins_out_until_approved() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    std::fs::create_dir(root.join("plugins")).unwrap();
    std::fs::copy(
        warden_test_artifacts::HOSTILE_WASM,
        root.join("plugins/hostile.wasm"),
    )
    .unwrap();
    std::fs::copy(
        warden_test_artifacts::TEXT_WASM,
        root.join("plugins/text.wasm"),
    )
    .unwrap();
    std::fs::write(
        root.join("warden.toml"),
        "plugins_dir = \"plugins\"\n[policy]\nnew_plugins = \"require-approval\"\n\
         [audit]\nfile = \"audit.jsonl\"\n",
    )
    .unwrap();

    let listing = list_json(&[], root, &[]);
    for name in ["hostile", "text"] {
        let entry = plugin(&listing, name);
        assert_eq!(entry["status"], "failed", "{entry:#}");
        let error = entry["error"].as_str().unwrap();
        assert!(
            error.contains("not approved yet (policy.new_plugins = \"require-approval\")")
                && error.contains(&format!("run `warden approve {name}`")),
            "{error}"
        );
    }

    let out = warden_in(&["approve", "nope"], root, &[]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("no plugin named `nope`"), "{error}");

    let approved = stdout(&warden_in(&["approve", "hostile"], root, &[]));
    assert!(approved.contains("hostile ("), "{approved}");
    assert!(approved.contains("  component sha256 "), "{approved}");
    let lock = std::fs::read_to_string(root.join("warden.lock")).expect("lock beside the config");
    assert!(
        lock.contains("[plugins.hostile]") && !lock.contains("[plugins.text]"),
        "{lock}"
    );

    let server = Server::start_in(&root.join("plugins"), Revision::Stateless, &[], root, &[]).await;
    let names = server.tool_names().await;
    assert!(names.iter().any(|n| n == "hostile_echo"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("text_")), "{names:?}");
    let result = server
        .call("hostile_echo", json!({ "text": "approved" }))
        .await;
    assert!(ok_text(&result).contains("approved"));
    server.stop().await;

    // Every approval decision is in the audit trail.
    let audit = std::fs::read_to_string(root.join("audit.jsonl")).expect("audit log");
    let decisions: Vec<(String, String)> = audit
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("audit lines are JSON"))
        .filter(|event| event["event"] == "approval")
        .map(|event| {
            (
                event["plugin"].as_str().unwrap().to_string(),
                event["decision"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("hostile", "approved_by_operator"),
        ("hostile", "approved"),
        ("text", "not_approved"),
    ] {
        assert!(
            decisions
                .iter()
                .any(|(p, d)| (p.as_str(), d.as_str()) == expected),
            "{expected:?} missing from {decisions:?}"
        );
    }

    // A lock file that cannot be read stops Warden instead of approving anew.
    std::fs::write(
        root.join("warden.lock"),
        "version = 1\n[plugins.hostile]\nsha = 1\n",
    )
    .unwrap();
    let out = warden_in(&["list"], root, &[]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("the lock file is not valid"), "{error}");
}

fn sha256(bytes: &[u8]) -> impl std::fmt::LowerHex {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
}

/// Waits until `check` holds for a call to `url`, or panics after a minute.
async fn until_fetch(
    server: &Server,
    url: &str,
    check: impl Fn(&rmcp::model::CallToolResult) -> bool,
) {
    let started = std::time::Instant::now();
    loop {
        let result = server.call("fetch_get", json!({ "url": url })).await;
        if check(&result) {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "still {result:?}\n{}",
            server.stderr()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_running_server_holds_a_grown_update_and_applies_warden_approve() {
    let (old, new) = (
        origin("from the approved origin").await,
        origin("from the new origin").await,
    );
    let old_origin = format!("http://127.0.0.1:{}", old.port());
    let new_origin = format!("http://127.0.0.1:{}", new.port());

    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let (plugins, wasm) = fetch_plugin(root, &old_origin);
    let server = Server::start_in(&plugins, Revision::Legacy, &[], root, &[]).await;
    let result = server
        .call("fetch_get", json!({ "url": format!("{old_origin}/") }))
        .await;
    assert!(ok_text(&result).contains("from the approved origin"));
    let lock = std::fs::read_to_string(root.join("warden.lock")).expect("first use recorded");

    // The update asks for one more origin while the server runs: it loads
    // with the growth held back, as it would at start-up.
    std::fs::write(
        plugins.join("fetch.toml"),
        fetch_manifest(&[old_origin.clone(), new_origin.clone()]),
    )
    .unwrap();
    std::fs::write(plugins.join("fetch.wasm"), updated_component(&wasm)).unwrap();
    until_fetch(&server, &format!("{new_origin}/"), |r| {
        r.is_error == Some(true)
            && error_text(r).contains("not approved yet (run `warden approve fetch`)")
    })
    .await;
    assert_eq!(new.connections(), 0, "a held origin was contacted");
    assert_eq!(
        std::fs::read_to_string(root.join("warden.lock")).unwrap(),
        lock,
        "a held update changed the lock"
    );

    // `warden approve` applies without a restart.
    let approved = stdout(&warden_in(
        &["approve", "fetch", "--plugins", plugins.to_str().unwrap()],
        root,
        &[],
    ));
    assert!(
        approved.contains("a running `warden serve` applies it within a second"),
        "{approved}"
    );
    assert!(!approved.contains("restart"), "{approved}");
    until_fetch(&server, &format!("{new_origin}/"), |r| {
        r.is_error != Some(true) && ok_text(r).contains("from the new origin")
    })
    .await;
    server.stop().await;
}
