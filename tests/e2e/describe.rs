//! Start-up held hostage: plugins whose description (`list-tools`) hangs,
//! sleeps, lists a thousand colliding names or thousands of tools, or
//! carries huge schemas, regex-heavy schemas or huge descriptions, beside a
//! good plugin (`describe-hostile` fixture, its mode granted through
//! `[plugins.NAME] env_values`). The server answers `initialize` with the
//! good plugin's tools, each hostile plugin is reported with a clear load
//! error or skip notice, and the host's peak memory stays sane.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Plugins, Revision, Server, WARDEN, list_json, ok_text};

/// Longest start-up may take before the test calls it a hang (the hostile
/// plugins' call timeout is 300 s; their describe timeout is 2 s).
const HANG: Duration = Duration::from_secs(90);

/// Each hostile plugin and its `DESCRIBE_MODE`.
const HOSTILE: &[(&str, &str)] = &[
    ("spin", "spin"),
    ("sleeper", "sleep:600000"),
    ("flood", "same-names:999"),
    ("many", "many-tools:1500"),
    ("bigschema", "big-schema:500000"),
    ("huge", "big-schema:10000000"),
    ("regex", "regex:16:60:2000"),
    ("wordy", "long-description:500000"),
];

/// A folder with `text` and every hostile plugin, and a `warden.toml` that
/// grants each its mode, gives them the 300 s call timeout, the most fuel
/// (so that a spinning describe always meets the deadline, not the fuel
/// limit, however fast the machine) and a 2 s describe timeout.
fn setup() -> (Plugins, tempfile::TempDir) {
    let mut plugins = Plugins::new().component("text", warden_test_artifacts::TEXT_WASM);
    let mut config = String::from("[loading]\ndescribe_timeout = \"2s\"\n");
    for (name, mode) in HOSTILE {
        plugins = plugins
            .component(name, warden_test_artifacts::DESCRIBE_HOSTILE_WASM)
            .manifest(
                name,
                "manifest_version = 1\n[capabilities]\nenv = [\"DESCRIBE_MODE\"]\n\
                 [limits]\ntimeout = \"300s\"\nfuel = 1_000_000_000_000\n",
            );
        config.push_str(&format!(
            "[plugins.{name}]\nenv_values = {{ DESCRIBE_MODE = \"{mode}\" }}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("warden.toml"),
        format!(
            "plugins_dir = {:?}\n{config}",
            plugins.path().display().to_string()
        ),
    )
    .unwrap();
    (plugins, dir)
}

fn entry<'a>(listing: &'a [Value], name: &str) -> &'a Value {
    listing
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing: {listing:#?}"))
}

fn error_of<'a>(listing: &'a [Value], name: &str) -> &'a str {
    let entry = entry(listing, name);
    assert_eq!(entry["status"], "failed", "{entry:#}");
    entry["error"].as_str().unwrap()
}

fn notices_of(listing: &[Value], name: &str) -> String {
    let entry = entry(listing, name);
    assert_eq!(entry["status"], "loaded", "{entry:#}");
    entry["notices"].to_string()
}

#[tokio::test]
async fn hostile_descriptions_do_not_hold_start_up() {
    let (plugins, config_dir) = setup();
    let config = config_dir.path().join("warden.toml");
    let config = config.to_str().unwrap();
    let cwd = config_dir.path();

    let listing = list_json(&["--config", config], cwd, &[]);
    for name in ["spin", "sleeper"] {
        let error = error_of(&listing, name);
        assert!(
            error.contains("describing the plugin")
                && error.contains("did not finish within 2 s")
                && error.contains("(loading.describe_timeout)"),
            "{name}: {error}"
        );
    }
    assert!(
        error_of(&listing, "many")
            .contains("the plugin describes 1501 tools; at most 1000 per plugin are accepted"),
        "{listing:#?}"
    );
    assert!(
        // The sandbox's output limit (max_output, 1 MiB by default) stops it
        // first; with max_output raised, the 8 MiB total would.
        error_of(&listing, "huge").contains("output limit exceeded"),
        "{listing:#?}"
    );
    let notices = notices_of(&listing, "bigschema");
    assert!(
        notices.contains(
            "tool `big` skipped: its input schema is 500 kB, more than the 256 KiB accepted"
        ),
        "{notices}"
    );
    let notices = notices_of(&listing, "wordy");
    assert!(
        notices.contains(
            "tool `wordy` skipped: its description is 500 kB, more than the 16 KiB accepted"
        ),
        "{notices}"
    );
    let notices = notices_of(&listing, "regex");
    assert!(notices.contains("tool `regex"), "{notices}");
    assert!(
        notices.contains("not a usable JSON Schema") || notices.contains("regular expressions"),
        "{notices}"
    );
    let flood = entry(&listing, "flood");
    assert_eq!(
        flood["tools"].as_array().unwrap().len(),
        1000,
        "ok + 999 colliding"
    );
    let notices = flood["notices"].as_array().unwrap();
    assert!(notices.len() <= 55, "notices are capped: {}", notices.len());
    assert!(
        notices.iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("and 949 more notices like these")),
        "{notices:?}"
    );

    let started = Instant::now();
    let server = tokio::time::timeout(
        HANG,
        Server::start_in(
            plugins.path(),
            Revision::Legacy,
            &["--config", config],
            cwd,
            &[],
        ),
    )
    .await
    .expect("the server answers initialize");
    eprintln!("initialize answered after {:?}", started.elapsed());
    let tools = server.tool_names().await;
    assert!(tools.contains(&"text_hash".to_string()), "{tools:?}");
    for name in ["bigschema", "wordy", "regex", "flood"] {
        assert!(tools.contains(&format!("{name}_ok")), "{name}: {tools:?}");
    }
    let long = format!("flood_{}00", "x".repeat(56));
    assert!(tools.contains(&long), "{tools:?}");
    assert!(tools.contains(&format!("{}_999", &long[..60])), "{tools:?}");
    assert!(
        !tools
            .iter()
            .any(|t| t.starts_with("spin_") || t.starts_with("many_"))
    );
    let hash = server
        .call("text_hash", json!({ "text": "abc", "algorithm": "sha256" }))
        .await;
    ok_text(&hash);
    assert_eq!(ok_text(&server.call("wordy_ok", json!({})).await), "ok");
    server.stop().await;
}

/// Peak resident memory (`VmHWM`) of a `warden serve` once it has loaded
/// the folder, in KiB.
fn peak_rss_after_load(config: &str, cwd: &Path) -> u64 {
    let log = cwd.join("serve.log");
    let mut child = Command::new(WARDEN)
        .args(["serve", "--config", config])
        .env("WARDEN_WAIT_FOR_PLUGINS", "1")
        .current_dir(cwd)
        .env("WARDEN_LOG", "warden=info")
        .env_remove("WARDEN_CONFIG")
        .env_remove("WARDEN_PLUGINS")
        .env_remove("WARDEN_LOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("run warden");
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("plugins loaded")
    {
        assert!(started.elapsed() < HANG, "start-up hung");
        assert!(child.try_wait().unwrap().is_none(), "warden exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn hostile_descriptions_keep_host_memory_sane() {
    let (_plugins, config_dir) = setup();
    let config = config_dir.path().join("warden.toml");
    let peak = peak_rss_after_load(config.to_str().unwrap(), config_dir.path());
    eprintln!(
        "peak RSS after loading the hostile folder: {} MiB",
        peak / 1024
    );
    assert!(peak < 512 * 1024, "peak RSS {} MiB", peak / 1024);
}
