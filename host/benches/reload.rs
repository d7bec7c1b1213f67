//! A live plugins folder under change: the real `warden serve` over stdio
//! with an rmcp client.
//!
//! 1. **Reload latency**: a plugin replaced by renaming a new file into the
//!    folder (alternating two components with different tools), timed from
//!    the rename to the client's `notifications/tools/list_changed`. It
//!    includes the 200 ms debounce.
//! 2. **Reload storm**: 100 replacements in 10 s while clients call a
//!    trivial tool of another plugin without pause; reports every failed
//!    call (the goal is none) and the call latency against a calm period of
//!    the same length just before.
//!
//! ```text
//! cargo bench -p warden --bench reload
//! WARDEN_RELOAD_ROUNDS=50 cargo bench -p warden --bench reload   # more timed rounds
//! ```
//!
//! Under `cargo test --benches` it makes a few replacements and still checks
//! that no call fails.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

mod common;
mod stats;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::{ConfigureCommandExt as _, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt as _};
use serde_json::json;
use tokio::sync::mpsc;

use stats::percentile;

/// Replacements timed one by one.
const LATENCY_ROUNDS: usize = 20;
/// Replacements in the storm, and how long it lasts.
const STORM: (usize, Duration) = (100, Duration::from_secs(10));
/// Clients calling during the calm period and the storm.
const CALLERS: usize = 2;
/// The longest a change may take to reach the client.
const PATIENCE: Duration = Duration::from_secs(60);

/// Reports when the tool list changed.
#[derive(Clone)]
struct Listener {
    changed: mpsc::UnboundedSender<Instant>,
}

impl ClientHandler for Listener {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("warden-bench-reload", "0.0.0"),
        )
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.changed.send(Instant::now());
    }
}

type Client = Arc<RunningService<RoleClient, Listener>>;

fn main() -> anyhow::Result<()> {
    let quick = common::smoke_run();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(run(quick))
}

async fn run(quick: bool) -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins)?;
    std::fs::copy(warden_test_artifacts::TEXT_WASM, plugins.join("text.wasm"))?;
    std::fs::copy(
        warden_test_artifacts::examples_manifest_dir().join("text.toml"),
        plugins.join("text.toml"),
    )?;
    std::fs::copy(
        warden_test_artifacts::HOSTILE_WASM,
        plugins.join("swapped.wasm"),
    )?;
    std::fs::write(
        plugins.join("swapped.toml"),
        "manifest_version = 1\nname = \"swapped\"\n",
    )?;
    // Its versions offer different tools: trusted, or each would be held
    // (pinned definitions) instead of replacing the other.
    std::fs::write(
        root.path().join("warden.toml"),
        "[plugins.swapped]\ndefinitions = \"trust\"\n",
    )?;
    let versions = [
        std::fs::read(warden_test_artifacts::TOOLS_ONLY_WASM)?,
        std::fs::read(warden_test_artifacts::HOSTILE_WASM)?,
    ];

    let (sender, mut changed) = mpsc::unbounded_channel();
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_warden")).configure(|cmd| {
        cmd.args(["serve", "--wait-for-plugins", "--plugins"])
            .arg(&plugins)
            .env("WARDEN_LOG", "warn")
            .env_remove("WARDEN_CONFIG")
            .current_dir(root.path());
    });
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let client: Client = Arc::new(Listener { changed: sender }.serve(transport).await?);

    println!(
        "Warden live folder: stdio, rmcp client; mode: {}",
        if quick { "smoke (cargo test)" } else { "full" }
    );

    // 1. Reload latency. The first two rounds compile each version once
    //    (cache misses) and are not counted.
    let rounds = if quick {
        3
    } else {
        usize::try_from(common::env_count(
            "WARDEN_RELOAD_ROUNDS",
            LATENCY_ROUNDS as u64,
        )?)?
    };
    let mut latencies = Vec::new();
    for round in 0..rounds + 2 {
        let started = replace(&plugins, &versions[round % 2])?;
        let heard = tokio::time::timeout(PATIENCE, changed.recv())
            .await
            .context("no list_changed after a replacement")?
            .context("the client is gone")?;
        if round >= 2 {
            latencies.push(heard - started);
        }
        // Let the next replacement be a change of its own.
        tokio::time::sleep(Duration::from_millis(300)).await;
        while changed.try_recv().is_ok() {}
    }
    latencies.sort();
    println!(
        "reload latency, rename -> tools/list_changed ({} replacements, 200 ms debounce \
         included): p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
    );

    // 2. The storm, after a calm period of the same length.
    let (count, length) = if quick {
        (10, Duration::from_secs(1))
    } else {
        STORM
    };
    let calm = call_for(&client, length).await?;
    let storm = {
        let callers = tokio::spawn(call_for_owned(client.clone(), length));
        let every = length / u32::try_from(count)?;
        for i in 0..count {
            replace(&plugins, &versions[i % 2])?;
            tokio::time::sleep(every).await;
        }
        callers.await??
    };
    // The last change settles after the storm.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let reloads = std::iter::from_fn(|| changed.try_recv().ok()).count();
    println!(
        "{:<7} {:>7} {:>7} {:>8} {:>8}",
        "period", "calls", "failed", "p50 ms", "p99 ms"
    );
    for (name, report) in [("calm", &calm), ("storm", &storm)] {
        let mut sorted = report.latencies.clone();
        sorted.sort();
        println!(
            "{name:<7} {:>7} {:>7} {:>8.3} {:>8.3}",
            report.latencies.len() + report.failures.len(),
            report.failures.len(),
            ms(percentile(&sorted, 0.50)),
            ms(percentile(&sorted, 0.99)),
        );
    }
    println!(
        "storm: {count} replacements in {} s, {reloads} list_changed heard",
        length.as_secs_f64()
    );
    if let Some(failure) = storm.failures.first().or(calm.failures.first()) {
        bail!(
            "{} call(s) failed, the first: {failure}",
            storm.failures.len() + calm.failures.len()
        );
    }
    ensure!(
        !storm.latencies.is_empty(),
        "no call completed during the storm"
    );
    if let Ok(client) = Arc::try_unwrap(client) {
        let _ = client.cancel().await;
    }
    Ok(())
}

/// Renames a fresh copy of `bytes` into place as `swapped.wasm`; returns
/// when the rename happened.
fn replace(plugins: &Path, bytes: &[u8]) -> anyhow::Result<Instant> {
    let staged = plugins.join("swapped.wasm.part");
    std::fs::write(&staged, bytes)?;
    let started = Instant::now();
    std::fs::rename(&staged, plugins.join("swapped.wasm"))?;
    Ok(started)
}

#[derive(Default)]
struct Calls {
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

async fn call_for_owned(client: Client, length: Duration) -> anyhow::Result<Calls> {
    call_for(&client, length).await
}

/// [`CALLERS`] clients calling `text_hash` without pause for `length`.
async fn call_for(client: &Client, length: Duration) -> anyhow::Result<Calls> {
    let calls = Arc::new(Mutex::new(Calls::default()));
    let until = Instant::now() + length;
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..CALLERS {
        let (client, calls) = (client.clone(), calls.clone());
        tasks.spawn(async move {
            let mut i = 0u64;
            while Instant::now() < until {
                i += 1;
                let arguments = json!({ "text": format!("caller {caller} call {i}") });
                let request = CallToolRequestParams::new("text_hash")
                    .with_arguments(arguments.as_object().cloned().unwrap_or_default());
                let started = Instant::now();
                let result = client.call_tool(request).await;
                let elapsed = started.elapsed();
                let mut calls = calls.lock().unwrap();
                match result {
                    Ok(result) if result.is_error != Some(true) => calls.latencies.push(elapsed),
                    Ok(result) => calls
                        .failures
                        .push(format!("tool error: {:?}", result.content)),
                    Err(error) => calls.failures.push(format!("protocol error: {error}")),
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined?;
    }
    let calls = std::mem::take(&mut *calls.lock().unwrap());
    Ok(calls)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
