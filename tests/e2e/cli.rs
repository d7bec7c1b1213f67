//! `warden list`, `warden call` and `warden cache` from the shell.

use serde_json::Value;

use crate::support::{Plugins, warden, warden_in};

#[test]
fn list_shows_plugins_tools_and_limits() {
    let plugins = Plugins::new().examples();
    let dir = plugins.path().to_str().unwrap();

    let text = warden(&["list", "--plugins", dir]);
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("text 0.1.0 [loaded]"), "{stdout}");
    assert!(stdout.contains("- text_hash"), "{stdout}");
    assert!(stdout.contains("limits:"), "{stdout}");

    let json = warden(&["list", "--json", "--plugins", dir]);
    let listing: Vec<Value> = serde_json::from_slice(&json.stdout).expect("JSON listing");
    let time = listing
        .iter()
        .find(|p| p["name"] == "time")
        .expect("time plugin");
    assert_eq!(time["limits"]["timeout_ms"], 5000, "{time:#}");
    assert_eq!(time["limits"]["memory_bytes"], 64 * 1024 * 1024, "{time:#}");
    assert!(
        time["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "time_now"),
        "{time:#}"
    );
}

#[test]
fn call_prints_the_result_and_sets_the_exit_code() {
    let plugins = Plugins::new().examples();
    let dir = plugins.path().to_str().unwrap();

    let ok = warden(&[
        "call",
        "text_hash",
        r#"{"text": "abc", "algorithm": "sha256"}"#,
        "--plugins",
        dir,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let result: Value = serde_json::from_slice(&ok.stdout).expect("JSON result");
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        "{result:#}"
    );

    let bad_args = warden(&["call", "text_hash", r#"{"text": 1}"#, "--plugins", dir]);
    assert_eq!(bad_args.status.code(), Some(1));
    let result: Value = serde_json::from_slice(&bad_args.stdout).expect("JSON result");
    assert_eq!(result["isError"], true, "{result:#}");

    let unknown = warden(&["call", "no_such_tool", "--plugins", dir]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(unknown.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("unknown tool `no_such_tool`"), "{stderr}");

    let not_json = warden(&["call", "text_hash", "{oops", "--plugins", dir]);
    assert_eq!(not_json.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&not_json.stderr).contains("ARGS_JSON is not valid JSON"));
}

#[test]
fn a_missing_plugins_folder_is_a_clear_error() {
    let out = warden(&["list", "--plugins", "/definitely/not/here"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read the plugins folder /definitely/not/here"),
        "{stderr}"
    );
}

#[test]
fn config_sets_the_folder_defaults_and_ceilings_and_requests_are_clamped() {
    let plugins = Plugins::new().hostile(Some(
        "manifest_version = 1\n[limits]\nmemory = \"2GiB\"\ntimeout = \"2s\"\n",
    ));
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "plugins_dir = {:?}\n[limits.default]\nfuel = 123_456_789\n\
             [limits.ceiling]\nmemory = \"512MiB\"\n",
            plugins.path().display().to_string()
        ),
    )
    .unwrap();

    let out = warden(&["list", "--json", "--config", config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON listing");
    let hostile = listing
        .iter()
        .find(|p| p["name"] == "hostile")
        .expect("hostile");
    assert_eq!(hostile["limits"]["fuel"], 123_456_789u64, "{hostile:#}");
    assert_eq!(hostile["limits"]["timeout_ms"], 2000, "{hostile:#}");
    assert_eq!(
        hostile["limits"]["memory_bytes"],
        512u64 << 20,
        "{hostile:#}"
    );
    let notices = hostile["notices"].to_string();
    assert!(
        notices.contains("memory") && notices.contains("ceiling"),
        "{notices}"
    );

    let bad = warden(&["list", "--config", "/no/such/warden.toml"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/no/such/warden.toml"));
}

#[test]
fn cache_warm_fills_stats_counts_and_clear_empties_the_cache() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("warden.toml"),
        "cache_dir = \"compiled\"\ncache_max_size = \"64MiB\"\n",
    )
    .unwrap();
    let plugins = Plugins::new()
        .hostile(None)
        .raw("broken", b"\0asm\x0d\0\x01\0 not really");
    let dir = plugins.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let out = warden_in(args, root.path(), &[]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };

    let (ok, stats) = run(&["cache", "stats"]);
    assert!(ok, "{stats}");
    let cache = root.path().join("compiled");
    assert!(
        stats.contains(&format!("cache: {}", cache.display())),
        "{stats}"
    );
    assert!(stats.contains("compiled components: 0 "), "{stats}");
    assert!(stats.contains("compiled functions: 0 "), "{stats}");
    assert!(
        stats.contains("trimmed above 64 MiB (cache_max_size)"),
        "{stats}"
    );

    // One component compiles, the broken one is named; the exit code says
    // something failed.
    let (ok, warmed) = run(&["cache", "warm", dir]);
    assert!(!ok, "a broken component must fail `cache warm`: {warmed}");
    assert!(
        warmed.contains("compiled ") && warmed.contains("hostile.wasm in "),
        "{warmed}"
    );
    assert!(
        warmed.contains("failed   ") && warmed.contains("broken.wasm: "),
        "{warmed}"
    );
    let (_, stats) = run(&["cache", "stats"]);
    assert!(!stats.contains("compiled components: 0 "), "{stats}");
    assert!(!stats.contains("compiled functions: 0 "), "{stats}");

    let (ok, cleared) = run(&["cache", "clear"]);
    assert!(ok, "{cleared}");
    assert!(cleared.starts_with("cleared "), "{cleared}");
    assert!(!cleared.starts_with("cleared 0 "), "{cleared}");
    let (_, stats) = run(&["cache", "stats"]);
    assert!(stats.contains("compiled components: 0 "), "{stats}");
    assert!(stats.contains("compiled functions: 0 "), "{stats}");
    assert!(cache.is_dir(), "clear removes only what wasmtime wrote");
}
