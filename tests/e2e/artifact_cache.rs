//! The artifact cache: a warm start lists the plugin from its cached
//! description in the first answer, without compiling, instantiating or
//! even mapping it (the code is mapped when first needed); the plugin is
//! described again once serving and a difference reaches clients as
//! `list_changed`; a damaged entry (flipped bytes, a truncated file, a JSON
//! file that does not parse) is logged, rebuilt and never crashes or
//! misleads the host, even when the damage is found only at the first
//! call. A component's remembered digest is never taken for a file written
//! since.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{Revision, Server, ok_text};

const PATIENCE: Duration = Duration::from_secs(60);

/// A workspace root with a `plugins` folder holding the `text` example and a
/// `warden.toml` that puts the cache in `./cache`.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let text = warden_test_artifacts::EXAMPLES
        .iter()
        .find(|(name, _)| *name == "text")
        .map(|(_, wasm)| *wasm)
        .expect("the text example");
    std::fs::copy(text, plugins.join("text.wasm")).unwrap();
    std::fs::write(root.path().join("warden.toml"), "cache_dir = \"cache\"\n").unwrap();
    (root, plugins)
}

/// Asserts that the client is shown the plugin's real tools, not the stale
/// one the tests plant in the cached description.
async fn lists_only_what_the_plugin_offers(server: &Server) {
    let names = server.tool_names().await;
    assert!(
        !names.iter().any(|t| t == "text_gone") && names.iter().any(|t| t == "text_hash"),
        "{names:?}"
    );
}

/// The one entry of the cache: its compiled file and its JSON file.
fn entry(root: &Path) -> (PathBuf, PathBuf) {
    let dir = root.join("cache").join("artifacts");
    let mut json: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(json.len(), 1, "{json:?}");
    let json = json.remove(0);
    (json.with_extension("cwasm"), json)
}

/// Waits until the server logged `message` at least `times` times.
async fn logged(server: &Server, message: &str, times: usize) {
    let started = Instant::now();
    while messages(server, message).len() < times {
        assert!(
            started.elapsed() < PATIENCE,
            "never logged {message:?} {times} times:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn messages(server: &Server, message: &str) -> Vec<Value> {
    server
        .log_events()
        .into_iter()
        .filter(|e| e["fields"]["message"] == message)
        .collect()
}

/// Where the `text` plugin's compiled code and lists came from.
async fn prepared(server: &Server) -> (String, String) {
    logged(server, "plugin prepared", 1).await;
    let event = &messages(server, "plugin prepared")[0];
    let field = |name: &str| event["fields"][name].as_str().unwrap().to_string();
    (field("compiled"), field("described"))
}

async fn start(root: &Path, plugins: &Path) -> (Server, mpsc::UnboundedReceiver<&'static str>) {
    Server::start_progressive(plugins, Revision::Legacy, root).await
}

async fn wait_for_tool(server: &Server, tool: &str) {
    let started = Instant::now();
    while !server.tool_names().await.iter().any(|t| t == tool) {
        assert!(started.elapsed() < PATIENCE, "{tool} never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn hashes(server: &Server) {
    let hashed = server
        .call("text_hash", json!({"text": "abc", "algorithm": "sha256"}))
        .await;
    assert!(
        ok_text(&hashed).contains("ba7816bf"),
        "{}",
        ok_text(&hashed)
    );
}

#[tokio::test]
async fn a_warm_start_lists_from_the_cache_and_a_damaged_entry_is_rebuilt() {
    let (root, plugins) = workspace();
    let root = root.path();

    // Cold: compiled and described now; the entry is written with its lists.
    let (server, _) = start(root, &plugins).await;
    wait_for_tool(&server, "text_hash").await;
    assert_eq!(prepared(&server).await, ("now".into(), "now".into()));
    logged(&server, "compiled plugin cached", 1).await;
    server.stop().await;
    let (cwasm, json) = entry(root);
    let meta: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(
        meta["description"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "hash"),
        "{meta}"
    );

    // Warm: listed from the cache, complete in the first answer; the first
    // call maps the cached code and runs on it.
    let (server, _) = start(root, &plugins).await;
    let first = server.tool_names().await;
    assert!(first.iter().any(|t| t == "text_hash"), "{first:?}");
    assert_eq!(prepared(&server).await, ("later".into(), "cache".into()));
    hashes(&server).await;
    logged(&server, "compiled plugin mapped", 1).await;
    logged(&server, "plugin lists refreshed", 1).await;
    server.stop().await;

    // A stale description (the cached lists name a tool the plugin does not
    // offer): listed at first, then described again, announced, gone, and
    // the fresh description is cached.
    let mut stale = meta.clone();
    let tools = stale["description"]["tools"].as_array_mut().unwrap();
    let mut gone = tools[0].clone();
    gone["name"] = json!("gone");
    tools.push(gone);
    std::fs::write(&json, serde_json::to_vec(&stale).unwrap()).unwrap();
    // Under `[policy] definitions = "pin"` (the default) the lock does not
    // approve the stale tool, so it is never listed.
    let (server, _) = start(root, &plugins).await;
    lists_only_what_the_plugin_offers(&server).await;
    logged(&server, "plugin description cached", 1).await;
    server.stop().await;
    // Trusted definitions show the stale lists until they are described again.
    std::fs::write(
        root.join("warden.toml"),
        "cache_dir = \"cache\"\n[policy]\ndefinitions = \"trust\"\n",
    )
    .unwrap();
    std::fs::write(&json, serde_json::to_vec(&stale).unwrap()).unwrap();
    let (server, mut changes) = start(root, &plugins).await;
    let first = server.tool_names().await;
    if first.iter().any(|t| t == "text_gone") {
        // The usual case: the client listed before the plugin was described
        // again (a quarter second after start), so it hears of the change.
        let change = tokio::time::timeout(PATIENCE, changes.recv()).await;
        assert_eq!(change.unwrap(), Some("tools"));
    }
    logged(&server, "plugin lists refreshed", 1).await;
    let refreshed = &messages(&server, "plugin lists refreshed")[0];
    assert_eq!(refreshed["fields"]["tools"], true, "{refreshed}");
    lists_only_what_the_plugin_offers(&server).await;
    logged(&server, "plugin description cached", 1).await;
    server.stop().await;
    assert!(!std::fs::read_to_string(&json).unwrap().contains("\"gone\""));

    // Damage, each kind on its own: the entry is refused with a warning,
    // the plugin compiles again and serves, and the entry is rebuilt (the
    // next start lists from it again). Damaged compiled code is found when
    // the code is first needed (the listing comes from the intact JSON
    // file): that call waits for the compile and succeeds.
    type Damage = fn(&Path, &Path);
    let damages: [(&str, &str, Damage); 3] = [
        ("flipped bytes", "later", |cwasm, _| {
            let mut bytes = std::fs::read(cwasm).unwrap();
            let middle = bytes.len() / 2;
            for byte in &mut bytes[middle..middle + 64] {
                *byte ^= 0x5a;
            }
            std::fs::write(cwasm, bytes).unwrap();
        }),
        ("truncated compiled file", "later", |cwasm, _| {
            let len = std::fs::metadata(cwasm).unwrap().len();
            let file = std::fs::File::options().write(true).open(cwasm).unwrap();
            file.set_len(len / 3).unwrap();
        }),
        ("JSON that does not parse", "now", |_, json| {
            std::fs::write(json, b"{\"format\": 1, \"cwasm_len\": ").unwrap();
        }),
    ];
    for (what, compiled, damage) in damages {
        damage(&cwasm, &json);
        let (server, _) = start(root, &plugins).await;
        wait_for_tool(&server, "text_hash").await;
        let described = if compiled == "later" { "cache" } else { "now" };
        assert_eq!(
            prepared(&server).await,
            (compiled.into(), described.into()),
            "{what}"
        );
        hashes(&server).await;
        let warned = server.log_events().into_iter().any(|e| {
            e["level"] == "WARN"
                && e["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("cache entry damaged or stale"))
        });
        assert!(warned, "{what}: no warning:\n{}", server.stderr());
        logged(&server, "compiled plugin cached", 1).await;
        if compiled == "later" {
            // Compiled again without its lists; describing it again once
            // serving stores them.
            logged(&server, "plugin description cached", 1).await;
        }
        server.stop().await;

        let (server, _) = start(root, &plugins).await;
        assert_eq!(
            prepared(&server).await,
            ("later".into(), "cache".into()),
            "{what}: not rebuilt"
        );
        hashes(&server).await;
        logged(&server, "compiled plugin mapped", 1).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_remembered_digest_is_never_taken_for_a_file_written_since() {
    let (root, plugins) = workspace();
    let root = root.path();
    let component = plugins.join("text.wasm");
    // A file written in the last two seconds is hashed at every start; one
    // left alone longer has its digest remembered.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (server, _) = start(root, &plugins).await;
    wait_for_tool(&server, "text_hash").await;
    server.stop().await;
    let digests: Vec<PathBuf> = std::fs::read_dir(root.join("cache").join("digests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(digests.len(), 1, "{digests:?}");

    // Served from the remembered digest and the cache.
    let (server, _) = start(root, &plugins).await;
    assert_eq!(prepared(&server).await, ("later".into(), "cache".into()));
    hashes(&server).await;
    server.stop().await;

    // Rewritten in place: same length, modification time set back, other
    // bytes (zeros: not a component). Taken for the remembered file, it
    // would load from the cache; it is read, hashed and refused instead.
    let len = std::fs::metadata(&component).unwrap().len();
    let modified = std::fs::metadata(&component).unwrap().modified().unwrap();
    std::fs::write(&component, vec![0u8; usize::try_from(len).unwrap()]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&component)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let (server, _) = start(root, &plugins).await;
    logged(&server, "plugin failed to load", 1).await;
    let names = server.tool_names().await;
    assert!(!names.iter().any(|t| t == "text_hash"), "{names:?}");
    server.stop().await;
}
