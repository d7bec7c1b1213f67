//! A live plugins folder: plugins added, replaced, broken and removed while a
//! client is connected reach it as `list_changed` and a new list; calls in
//! flight finish on their version; a broken replacement leaves the previous
//! version serving; `--no-watch` waits for SIGHUP; an edited `warden.toml`
//! applies at once; and an idle server's epoch ticker sleeps.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rmcp::model::{ServerNotification, SubscriptionFilter};
use serde_json::json;
use tokio::sync::mpsc;

use crate::support::{Revision, Server, error_text, ok_text};

/// How long a change may take to reach the client (compiles included).
const PATIENCE: Duration = Duration::from_secs(60);

/// A workspace root with an empty `plugins` folder in it; the server runs
/// there, so its config and lock are `./warden.toml` and `./warden.lock`.
fn root() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    (root, plugins)
}

fn example(name: &str) -> &'static str {
    warden_test_artifacts::EXAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, wasm)| *wasm)
        .unwrap_or_else(|| panic!("no example plugin {name}"))
}

fn add_hostile(plugins: &Path) {
    std::fs::copy(
        warden_test_artifacts::HOSTILE_WASM,
        plugins.join("hostile.wasm"),
    )
    .unwrap();
    std::fs::write(
        plugins.join("hostile.toml"),
        "manifest_version = 1\nname = \"hostile\"\n",
    )
    .unwrap();
}

/// The next list change the client hears of.
pub(crate) async fn next_change(
    events: &mut mpsc::UnboundedReceiver<&'static str>,
) -> &'static str {
    tokio::time::timeout(PATIENCE, events.recv())
        .await
        .expect("a list_changed notification")
        .expect("the client is connected")
}

/// Waits until the server has logged `message` `times` times.
pub(crate) async fn logged(server: &Server, message: &str, times: usize) {
    let started = Instant::now();
    loop {
        let seen = server
            .log_events()
            .iter()
            .filter(|e| e["fields"]["message"] == message)
            .count();
        if seen >= times {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the server did not log {message:?} {times} time(s):\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn plugins_added_replaced_broken_and_removed_while_serving_reach_the_client() {
    let (root, plugins) = root();
    // The replacement below offers other tools: trusted here, held under the
    // default `definitions = "pin"` (`tests/e2e/definitions.rs`).
    std::fs::write(
        root.path().join("warden.toml"),
        "[policy]\ndefinitions = \"trust\"\n",
    )
    .unwrap();
    add_hostile(&plugins);
    let (server, mut events) =
        Server::start_recording(&plugins, Revision::Legacy, &[], root.path()).await;
    let names = server.tool_names().await;
    assert!(names.contains(&"hostile_echo".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("text_")), "{names:?}");

    // Added: a plain copy into the folder.
    std::fs::copy(example("text"), plugins.join("text.wasm")).unwrap();
    assert_eq!(next_change(&mut events).await, "tools");
    let names = server.tool_names().await;
    assert!(
        names.contains(&"text_base64_encode".to_string()),
        "{names:?}"
    );
    let result = server
        .call("text_base64_encode", json!({ "text": "hi" }))
        .await;
    assert_eq!(ok_text(&result), "aGk=");

    // Replaced while a call runs: the call finishes on the old version, new
    // calls go to the new one.
    let client = server.client.clone();
    let in_flight = tokio::spawn(async move {
        let arguments = json!({ "ms": 1500 }).as_object().cloned().unwrap();
        client
            .call_tool(
                rmcp::model::CallToolRequestParams::new("hostile_sleep").with_arguments(arguments),
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let staged = plugins.join("hostile.wasm.part");
    std::fs::copy(warden_test_artifacts::TOOLS_ONLY_WASM, &staged).unwrap();
    std::fs::rename(&staged, plugins.join("hostile.wasm")).unwrap();
    assert_eq!(next_change(&mut events).await, "tools");
    let names = server.tool_names().await;
    assert!(names.contains(&"hostile_reverse".to_string()), "{names:?}");
    assert!(!names.contains(&"hostile_echo".to_string()), "{names:?}");
    let slept = in_flight.await.unwrap().expect("the in-flight call");
    assert_eq!(ok_text(&slept), "slept");
    let result = server
        .call("hostile_reverse", json!({ "text": "abc" }))
        .await;
    assert_eq!(ok_text(&result), "cba");
    let result = server
        .try_call("hostile_echo", json!({ "text": "x" }))
        .await;
    assert!(result.is_err(), "the old tool is gone: {result:?}");

    // Broken: the previous version keeps serving and nothing changes for
    // the client; the log says why.
    let kept = "the plugin's new files did not load; the previous version keeps serving";
    std::fs::write(plugins.join("hostile.wasm"), b"\0asm garbage").unwrap();
    logged(&server, kept, 1).await;
    let result = server
        .call("hostile_reverse", json!({ "text": "xyz" }))
        .await;
    assert_eq!(ok_text(&result), "zyx");
    assert!(events.try_recv().is_err(), "a broken file changed the list");

    // Removed: its tools go, the others stay.
    std::fs::remove_file(plugins.join("text.wasm")).unwrap();
    assert_eq!(next_change(&mut events).await, "tools");
    let names = server.tool_names().await;
    assert!(!names.iter().any(|n| n.starts_with("text_")), "{names:?}");
    assert!(names.contains(&"hostile_reverse".to_string()), "{names:?}");
    let result = server
        .call("hostile_reverse", json!({ "text": "ok" }))
        .await;
    assert_eq!(ok_text(&result), "ko");
    server.stop().await;
}

#[tokio::test]
async fn a_2026_07_28_listen_stream_hears_of_a_new_plugin() {
    let (root, plugins) = root();
    add_hostile(&plugins);
    let (server, _events) =
        Server::start_recording(&plugins, Revision::Stateless, &[], root.path()).await;
    let filter = SubscriptionFilter::builder().tools_list_changed().build();
    let mut subscription = server
        .client
        .listen(filter)
        .await
        .expect("subscriptions/listen");
    assert_eq!(subscription.acknowledged().tools_list_changed, Some(true));

    std::fs::copy(example("text"), plugins.join("text.wasm")).unwrap();
    let notification = tokio::time::timeout(PATIENCE, subscription.next())
        .await
        .expect("a notification on the stream")
        .expect("the stream is open")
        .expect("a notification");
    assert!(
        matches!(
            notification,
            ServerNotification::ToolListChangedNotification(_)
        ),
        "{notification:?}"
    );
    let names = server.tool_names().await;
    assert!(
        names.contains(&"text_base64_encode".to_string()),
        "{names:?}"
    );
    let _ = subscription.cancel().await;
    server.stop().await;
}

#[tokio::test]
async fn with_no_watch_changes_wait_for_sighup() {
    let (root, plugins) = root();
    add_hostile(&plugins);
    let (server, mut events) =
        Server::start_recording(&plugins, Revision::Legacy, &["--no-watch"], root.path()).await;
    std::fs::copy(example("text"), plugins.join("text.wasm")).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(events.try_recv().is_err(), "--no-watch reloaded");
    let names = server.tool_names().await;
    assert!(!names.iter().any(|n| n.starts_with("text_")), "{names:?}");

    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    assert_eq!(next_change(&mut events).await, "tools");
    let names = server.tool_names().await;
    assert!(
        names.contains(&"text_base64_encode".to_string()),
        "{names:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_edited_config_applies_to_the_running_server() {
    let (root, plugins) = root();
    add_hostile(&plugins);
    let (server, mut events) =
        Server::start_recording(&plugins, Revision::Legacy, &[], root.path()).await;
    assert!(
        server
            .tool_names()
            .await
            .contains(&"hostile_echo".to_string())
    );

    std::fs::write(
        root.path().join("warden.toml"),
        "[plugins.hostile]\ndisabled_tools = [\"echo\"]\n",
    )
    .unwrap();
    assert_eq!(next_change(&mut events).await, "tools");
    let names = server.tool_names().await;
    assert!(!names.contains(&"hostile_echo".to_string()), "{names:?}");
    assert!(names.contains(&"hostile_sleep".to_string()), "{names:?}");

    // A config that does not parse changes nothing.
    std::fs::write(root.path().join("warden.toml"), "[plugins.hostile\n").unwrap();
    logged(
        &server,
        "cannot reload: the settings do not load; the plugins stay as they were",
        1,
    )
    .await;
    assert!(
        events.try_recv().is_err(),
        "a broken config changed the list"
    );
    let result = server.call("hostile_sleep", json!({ "ms": 1 })).await;
    assert_eq!(ok_text(&result), "slept");
    let result = server
        .try_call("hostile_echo", json!({ "text": "x" }))
        .await;
    assert!(
        result.is_err(),
        "a broken config re-enabled a tool: {result:?}"
    );
    server.stop().await;
}

/// Voluntary context switches of the server's epoch ticker thread.
fn ticker_switches(pid: u32) -> u64 {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc") {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim() != "warden-epoch" {
            continue;
        }
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        return status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .expect("voluntary_ctxt_switches")
            .trim()
            .parse()
            .unwrap();
    }
    panic!("no warden-epoch thread in {pid}");
}

#[tokio::test]
async fn the_epoch_ticker_sleeps_while_no_call_runs() {
    let (root, plugins) = root();
    add_hostile(&plugins);
    std::fs::write(
        plugins.join("hostile.toml"),
        "manifest_version = 1\nname = \"hostile\"\n[limits]\ntimeout = \"500ms\"\n\
         fuel = 1_000_000_000_000\n",
    )
    .unwrap();
    let server = Server::start_in(&plugins, Revision::Legacy, &[], root.path(), &[]).await;
    // The tick in flight when the last start-up instance (describing the
    // plugin) ended is finished, and the ticker parked, within one tick.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let idle = ticker_switches(server.pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        ticker_switches(server.pid),
        idle,
        "the ticker woke up while idle"
    );

    // A call that runs for 300 ms keeps it ticking (every 5 ms)...
    let result = server.call("hostile_sleep", json!({ "ms": 300 })).await;
    assert_eq!(ok_text(&result), "slept");
    let after_call = ticker_switches(server.pid);
    assert!(after_call >= idle + 10, "{idle} -> {after_call}");
    // ...and it sleeps again once the call is over; the wall-clock limit
    // still stops an endless loop.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let settled = ticker_switches(server.pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        ticker_switches(server.pid),
        settled,
        "the ticker kept waking"
    );
    let spin = server.call("hostile_spin", json!({})).await;
    assert!(error_text(&spin).contains("timeout"), "{spin:?}");
    server.stop().await;
}

#[tokio::test]
async fn plugins_still_compiling_do_not_hold_the_first_answer_and_calls_wait_for_them() {
    for revision in [Revision::Legacy, Revision::Stateless] {
        let (root, plugins) = root();
        // A cache of its own: nothing is compiled yet, so every plugin takes
        // far longer to compile than the server waits before answering.
        std::fs::write(root.path().join("warden.toml"), "cache_dir = \"cache\"\n").unwrap();
        for name in ["text", "time"] {
            std::fs::copy(example(name), plugins.join(format!("{name}.wasm"))).unwrap();
        }
        let (server, mut events) = Server::start_progressive(&plugins, revision, root.path()).await;

        let first = server.tool_names().await;
        assert!(
            !(first.iter().any(|t| t.starts_with("text_"))
                && first.iter().any(|t| t.starts_with("time_"))),
            "the first tools/list waited for every plugin to compile: {first:?}"
        );
        // A tool not listed yet: the call waits for its plugin.
        let hashed = server
            .call("text_hash", json!({"text": "abc", "algorithm": "sha256"}))
            .await;
        assert!(
            ok_text(&hashed).contains("ba7816bf"),
            "{}",
            ok_text(&hashed)
        );

        let started = Instant::now();
        loop {
            let names = server.tool_names().await;
            if names.iter().any(|t| t.starts_with("time_"))
                && names.iter().any(|t| t.starts_with("text_"))
            {
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "tools never all listed: {names:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if revision == Revision::Legacy {
            assert_eq!(next_change(&mut events).await, "tools");
        }
        logged(
            &server,
            "still compiling; serving the others, it follows when ready",
            1,
        )
        .await;
        // An unknown tool is still unknown once everything loaded.
        let unknown = server
            .try_call("no_such_tool", json!({}))
            .await
            .expect_err("an unknown tool");
        assert!(unknown.to_string().contains("unknown tool"), "{unknown}");
        server.stop().await;
    }
}
