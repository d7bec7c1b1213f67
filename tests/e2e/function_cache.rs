//! The cache of compiled functions: a component that shares its code with
//! one compiled before (here the `text` example again, in a file of its own
//! that differs by a custom section, as a second plugin built with the same
//! toolchain differs) compiles only the few functions wasmtime makes anew
//! each time, and its tools answer right; packs damaged on disk cost a
//! compile, never a wrong answer or the host. Also: a plugin seen for the
//! first time, compiled in the background, is compiled once, not again by
//! the reload that publishes it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Revision, Server, ok_text};

const PATIENCE: Duration = Duration::from_secs(60);

/// The `text` example with a custom section named `name` appended: other
/// bytes (another digest, so no compiled-component entry matches), the
/// same functions.
fn text_variant(name: &str) -> Vec<u8> {
    let text = warden_test_artifacts::EXAMPLES
        .iter()
        .find(|(example, _)| *example == "text")
        .map(|(_, wasm)| *wasm)
        .expect("the text example");
    let mut bytes = std::fs::read(text).unwrap();
    let mut payload = vec![u8::try_from(name.len()).unwrap()];
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(b"a build of its own");
    bytes.push(0); // a custom section
    bytes.push(u8::try_from(payload.len()).unwrap()); // its size, under 128
    bytes.extend_from_slice(&payload);
    bytes
}

/// A workspace with the cache in `./cache`, and its plugins folder.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::write(plugins.join("first.wasm"), text_variant("first")).unwrap();
    std::fs::write(root.path().join("warden.toml"), "cache_dir = \"cache\"\n").unwrap();
    (root, plugins)
}

fn packs(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(root.join("cache").join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .collect()
}

fn events(server: &Server, message: &str) -> Vec<Value> {
    server
        .log_events()
        .into_iter()
        .filter(|e| e["fields"]["message"] == message)
        .collect()
}

async fn logged(server: &Server, message: &str) -> Value {
    let started = Instant::now();
    loop {
        if let Some(event) = events(server, message).pop() {
            return event;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "never logged {message:?}:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The functions taken from the cache and compiled by the one compile of
/// this start.
async fn compiled(server: &Server) -> (u64, u64) {
    let event = logged(server, "functions compiled").await;
    let count = |field: &str| event["fields"][field].as_u64().unwrap();
    (count("from_cache"), count("compiled"))
}

async fn start(root: &Path, plugins: &Path, tool: &str) -> Server {
    let (server, _) = Server::start_progressive(plugins, Revision::Legacy, root).await;
    let started = Instant::now();
    while !server.tool_names().await.iter().any(|t| t == tool) {
        assert!(started.elapsed() < PATIENCE, "{tool} never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
}

/// Flips a byte in every third compiled function of the pack at `path`
/// (records of key length, key, length, CRC-32 and function after an
/// 8-byte magic); returns how many.
fn damage_every_third(path: &Path) -> u64 {
    let mut bytes = std::fs::read(path).unwrap();
    let (mut at, mut n, mut damaged) = (8, 0, 0);
    while at < bytes.len() {
        let key = usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
        let len_at = at + 2 + key;
        let len = u32::from_le_bytes(bytes[len_at..len_at + 4].try_into().unwrap()) as usize;
        let value = len_at + 8;
        if n % 3 == 0 && len > 0 {
            bytes[value + len / 2] ^= 0x5a;
            damaged += 1;
        }
        n += 1;
        at = value + len;
    }
    std::fs::write(path, bytes).unwrap();
    damaged
}

async fn hashes(server: &Server, tool: &str) {
    let result = server
        .call(tool, json!({"text": "abc", "algorithm": "sha256"}))
        .await;
    assert!(
        ok_text(&result).contains("ba7816bf8f01cfea414140de5dae2223"),
        "{tool}: {}",
        ok_text(&result)
    );
}

#[tokio::test]
async fn a_component_sharing_code_compiles_from_the_cache_and_damage_costs_a_compile() {
    let (root, plugins) = workspace();
    let root = root.path();

    // Cold: every distinct function compiled, and kept in one pack; a
    // function the component holds twice is compiled once (and counted as
    // found the second time).
    let server = start(root, &plugins, "first_hash").await;
    let (repeats, made) = compiled(&server).await;
    assert!(made > 100, "{made} functions");
    let total = repeats + made;
    logged(&server, "compiled functions cached").await;
    hashes(&server, "first_hash").await;
    let log = server.stderr();
    server.stop().await;
    assert_eq!(packs(root).len(), 1, "{:?}\n{log}", packs(root));

    // Another component with the same code: `first` comes from the
    // compiled-component cache, `second` compiles every function from the
    // function cache, and runs right.
    // A few functions differ from one compile of the same code to the next
    // (wasmtime numbers some types in an order of its own each time): those
    // few are compiled, and kept in a second pack.
    std::fs::write(plugins.join("second.wasm"), text_variant("second")).unwrap();
    let server = start(root, &plugins, "second_hash").await;
    let (hits, fresh) = compiled(&server).await;
    assert_eq!(hits + fresh, total);
    assert!(fresh * 10 < total, "{fresh} of {total} compiled again");
    hashes(&server, "second_hash").await;
    hashes(&server, "first_hash").await;
    logged(&server, "compiled functions cached").await;
    server.stop().await;
    assert_eq!(packs(root).len(), 2);

    // Damaged functions: a byte flipped in every third compiled function.
    // Those are compiled again (with a warning), the tools still answer
    // right, and the fresh ones are kept.
    for pack in packs(root) {
        assert!(damage_every_third(&pack) > 0);
    }
    std::fs::write(plugins.join("third.wasm"), text_variant("third")).unwrap();
    let server = start(root, &plugins, "third_hash").await;
    let (hits, again) = compiled(&server).await;
    assert_eq!(hits + again, total);
    assert!(again * 10 > total, "only {again} of {total} compiled again");
    hashes(&server, "third_hash").await;
    logged(&server, "compiled functions cached").await;
    let warned = server.log_events().into_iter().any(|e| {
        e["level"] == "WARN"
            && e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("compiled function is damaged"))
    });
    assert!(warned, "no warning:\n{}", server.stderr());
    server.stop().await;

    // A pack that is not one at all is removed at start, and what it held
    // is compiled again.
    for pack in packs(root) {
        std::fs::write(&pack, b"not a pack").unwrap();
    }
    std::fs::write(plugins.join("fourth.wasm"), text_variant("fourth")).unwrap();
    let server = start(root, &plugins, "fourth_hash").await;
    let (repeats_now, made_now) = compiled(&server).await;
    assert_eq!(repeats_now + made_now, total);
    assert!(made_now > fresh.max(100), "{made_now} compiled");
    hashes(&server, "fourth_hash").await;
    logged(&server, "compiled functions cached").await;
    server.stop().await;

    // Turned off: compiles neither use nor add to the packs.
    std::fs::write(
        root.join("warden.toml"),
        "cache_dir = \"cache\"\ncache_functions = false\n",
    )
    .unwrap();
    let before = packs(root);
    std::fs::write(plugins.join("fifth.wasm"), text_variant("fifth")).unwrap();
    let server = start(root, &plugins, "fifth_hash").await;
    hashes(&server, "fifth_hash").await;
    assert!(events(&server, "functions compiled").is_empty());
    logged(&server, "compiled plugin cached").await;
    server.stop().await;
    assert_eq!(packs(root), before);
}
