//! The server-wide memory budget: a flood of calls that each fill their
//! memory limit stays within the budget (measured as the server's resident
//! memory) while another plugin keeps answering; calls that cannot get memory
//! in time fail with the numbers; a plugin that could never fit is refused at
//! load.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::remote_support::{Remote, TOKEN, call, sample};
use crate::support::{
    Plugins, Revision, Server, WARDEN, error_text, list_json, ok_text, warden_in,
};

const MIB: u64 = 1 << 20;
const TOKEN_ENV: &[(&str, &str)] = &[("WARDEN_HTTP_TOKEN", TOKEN)];

/// The `hold` fixture as plugin `name` with these `[limits]`.
fn hold(plugins: Plugins, name: &str, limits: &str) -> Plugins {
    // A host-memory limit of 1 MiB + 128 KiB keeps the reservations these
    // tests name (memory + 8 MiB base + 2 MiB stack + host memory) round.
    plugins
        .component(name, warden_test_artifacts::HOLD_WASM)
        .manifest(
            name,
            &format!("manifest_version = 1\n[limits]\nhost_memory = \"1152KiB\"\n{limits}\n"),
        )
}

/// The pid of the `warden` process serving `plugins` (its command line names
/// that folder, which is unique to the test).
fn warden_pid(plugins: &Path) -> u32 {
    let wanted = plugins.to_str().expect("utf-8 path");
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().map(String::as_str) == Some(WARDEN) && args.iter().any(|a| a == wanted) {
            return pid;
        }
    }
    panic!("no warden process serves {wanted}");
}

/// A `VmRSS`/`VmHWM` line of `/proc/PID/status`, in bytes.
fn status_bytes(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"));
    let kib: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("a number of kB");
    kib * 1024
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[tokio::test]
async fn a_flood_stays_within_the_budget_while_another_plugin_answers() {
    const BUDGET: u64 = 384 * MIB;
    const FLOOD: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let plugins = hold(
        Plugins::new(),
        "hold",
        "memory = \"64MiB\"\ntimeout = \"30s\"",
    );
    let plugins = hold(plugins, "small", "memory = \"16MiB\"\ntimeout = \"30s\"");
    let config = "memory_budget = \"384MiB\"\nmemory_budget_plugin_share = 0.75\n\
                  [http.rate_limit]\nper_second = 0\n";
    let remote = Remote::start(dir.path(), config, plugins.path(), &[], TOKEN_ENV);
    let pid = warden_pid(plugins.path());
    let client = Arc::new(remote.client(Revision::Stateless, Some(TOKEN)).await);

    // Warm up both plugins, then take the baseline.
    ok_text(&call(&client, "small_ping", json!({})).await);
    ok_text(&call(&client, "hold_hold", json!({ "ms": 0, "bytes": MIB })).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = status_bytes(pid, "VmRSS:");

    let flood: Vec<_> = (0..FLOOD)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { call(&client, "hold_hold", json!({ "ms": 400 })).await })
        })
        .collect();
    let done = || flood.iter().all(|f| f.is_finished());

    let (mut latencies, mut peak_sampled, mut max_reserved, mut max_queued) =
        (Vec::new(), 0u64, 0u64, 0u64);
    while !done() {
        let started = Instant::now();
        let pong = call(&client, "small_ping", json!({})).await;
        latencies.push(started.elapsed());
        assert_eq!(ok_text(&pong), "pong");
        peak_sampled = peak_sampled.max(status_bytes(pid, "VmRSS:"));
        let ready: Value = reqwest::get(remote.url("/readyz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let memory = &ready["memory"];
        assert_eq!(memory["budget_bytes"], BUDGET, "{ready}");
        let reserved = memory["reserved_bytes"].as_u64().expect("reserved_bytes");
        assert!(reserved <= BUDGET, "{ready}");
        max_reserved = max_reserved.max(reserved);
        max_queued = max_queued.max(memory["queued"].as_u64().expect("queued"));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut held = Vec::new();
    for task in flood {
        let result = task.await.expect("flood task");
        held.push(ok_text(&result));
    }
    let peak = status_bytes(pid, "VmHWM:").max(peak_sampled);

    // Every call got (close to) its whole 64 MiB, one after another.
    for message in &held {
        let bytes: u64 = message
            .strip_prefix("held ")
            .and_then(|m| m.strip_suffix(" bytes"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected result {message:?}"));
        assert!(bytes >= 48 * MIB, "{message}");
    }
    // Without the budget the flood would take 16 x 64 MiB = 1 GiB.
    assert!(
        peak <= baseline + BUDGET,
        "peak RSS {} MiB above the baseline {} MiB plus the {} MiB budget",
        peak / MIB,
        baseline / MIB,
        BUDGET / MIB
    );
    assert!(max_queued > 0, "the flood never had to wait");
    let ready: Value = reqwest::get(remote.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["memory"]["reserved_bytes"], 0, "{ready}");
    assert_eq!(ready["memory"]["queued"], 0, "{ready}");
    let metrics = remote.metrics().await;
    assert_eq!(
        sample(&metrics, "warden_memory_budget_bytes"),
        Some(BUDGET as f64)
    );
    assert_eq!(sample(&metrics, "warden_memory_reserved_bytes"), Some(0.0));

    latencies.sort();
    eprintln!(
        "memory budget flood: {FLOOD} calls x 64 MiB held 400 ms, budget {} MiB: baseline RSS \
         {} MiB, peak RSS {} MiB (+{} MiB), most reserved {} MiB, most queued {max_queued}; \
         small_ping during the flood: {} calls, p50 {:?}, p99 {:?}, max {:?}",
        BUDGET / MIB,
        baseline / MIB,
        peak / MIB,
        (peak - baseline) / MIB,
        max_reserved / MIB,
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    // A generous sanity bound, not a performance assertion.
    assert!(percentile(&latencies, 0.99) < Duration::from_secs(10));
}

#[tokio::test]
async fn calls_that_cannot_get_memory_fail_with_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    // `big` alone reserves 171 MiB of the 224 MiB budget; each `late` call
    // needs 75.1 MiB, so none fits while `big` holds. One concurrent call
    // allows a queue of four, two per plugin.
    let plugins = hold(
        Plugins::new(),
        "big",
        "memory = \"160MiB\"\ntimeout = \"30s\"",
    );
    let plugins = hold(plugins, "late", "memory = \"64MiB\"\ntimeout = \"1s\"");
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        "memory_budget = \"224MiB\"\nmax_concurrent_calls = 1\n",
    )
    .unwrap();
    let server = Arc::new(
        Server::start_with(
            plugins.path(),
            Revision::Legacy,
            &["--config", config.to_str().unwrap()],
        )
        .await,
    );

    let big = {
        let server = server.clone();
        tokio::spawn(async move { server.call("big_hold", json!({ "ms": 5000 })).await })
    };
    let started = Instant::now();
    while !server.stderr().contains("holding ") {
        assert!(started.elapsed() < Duration::from_secs(20), "big never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let late: Vec<_> = (0..3)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { server.call("late_ping", json!({})).await })
        })
        .collect();
    let mut deadline = 0;
    let mut full = 0;
    for task in late {
        let message = error_text(&task.await.expect("late task"));
        assert!(
            message.starts_with("server memory budget exhausted: this call reserves 75.1 MiB"),
            "{message}"
        );
        assert!(message.contains("of the 224 MiB budget"), "{message}");
        if message.contains("its timeout") {
            deadline += 1;
        } else if message.contains("already wait, the most allowed") {
            full += 1;
        } else {
            panic!("neither a deadline nor a full queue: {message}");
        }
    }
    assert_eq!((deadline, full), (2, 1));

    // The tool list answers meanwhile, and memory comes back when big ends.
    assert!(server.tool_names().await.contains(&"late_ping".to_string()));
    ok_text(&big.await.expect("big task"));
    assert_eq!(ok_text(&server.call("late_ping", json!({})).await), "pong");
    let log = server.stderr();
    assert!(
        log.contains("request refused by the memory budget"),
        "refusals are logged: {log}"
    );
}

#[test]
fn a_plugin_that_could_never_fit_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = hold(Plugins::new(), "huge", "memory = \"256MiB\"");
    let plugins = hold(plugins, "fits", "memory = \"16MiB\"");
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, "memory_budget = \"128MiB\"\n").unwrap();
    let args = [
        "--plugins",
        plugins.path().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    let listing = list_json(&args, dir.path(), &[]);
    let by_name = |name: &str| {
        listing
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {listing:?}"))
            .clone()
    };
    assert_eq!(by_name("fits")["status"], "loaded");
    let huge = by_name("huge");
    assert_eq!(huge["status"], "failed");
    let error = huge["error"].as_str().unwrap();
    assert!(
        error.contains(
            "huge.toml: limits.memory: one call reserves 267 MiB (256 MiB of linear memory"
        ) && error.contains("more than the server's whole memory budget of 128 MiB"),
        "{error}"
    );

    let mut text_args = vec!["list"];
    text_args.extend_from_slice(&args);
    let out = warden_in(&text_args, dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("memory budget: 128 MiB (memory_budget in warden.toml)"),
        "{stdout}"
    );
}

#[test]
fn the_default_budget_comes_from_the_machine() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = Plugins::new();
    let out = warden_in(
        &["list", "--plugins", plugins.path().to_str().unwrap()],
        dir.path(),
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("memory budget: "))
        .unwrap_or_else(|| panic!("no budget line: {stdout}"));
    assert!(
        line.contains("of physical memory") || line.contains("cgroup memory limit"),
        "{line}"
    );
    eprintln!("default {line}");
}
