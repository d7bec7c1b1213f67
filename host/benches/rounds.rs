//! What asking the client adds to a tool call, over stdio with rmcp's client
//! against the real `warden serve` (the `asker` fixture; the client answers
//! at once, so the figures are Warden's and the transport's own cost):
//!
//! - **plain**: `needs_sampling`, which asks nothing;
//! - **sampling**: `ask_model`, one request to the client: a server-to-client
//!   request on 2025-11-25, an `input_required` round and a replay of the
//!   call on 2026-07-28;
//! - **consent**: `needs_sampling` listed in `[plugins.asker] confirm`, so
//!   the person is asked (an elicitation) before it runs.
//!
//! Each revision has its own servers; cases are interleaved in batches so a
//! noisy machine slows them alike: compare ratios of one run.
//!
//! ```text
//! cargo bench -p warden --bench rounds
//! WARDEN_BENCH_ITERS=2000 cargo bench -p warden --bench rounds
//! ```
//!
//! Under `cargo test --benches` it runs a few iterations as a smoke test.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout, deprecated)]

mod common;
mod stats;

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, CreateMessageRequestParams,
    CreateMessageResult, ElicitRequestParams, ElicitResult, ElicitationAction, ErrorData,
    Implementation, ProtocolVersion, SamplingMessage,
};
use rmcp::service::{ClientLifecycleMode, RequestContext, RunningService};
use rmcp::transport::{ConfigureCommandExt as _, TokioChildProcess};
use rmcp::{ClientHandler, ClientServiceExt as _, RoleClient};
use serde_json::json;

/// Samples per case in a full run (`WARDEN_BENCH_ITERS` overrides).
const DEFAULT_ITERS: u64 = 1000;
/// Samples per case in a smoke run.
const QUICK_ITERS: u64 = 3;
/// Calls of one case before the next case's turn.
const BATCH: u64 = 20;

/// A client that answers sampling and elicitation at once (and allows).
#[derive(Debug, Clone)]
struct Answering {
    version: ProtocolVersion,
}

impl ClientHandler for Answering {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities =
            serde_json::from_value(json!({"sampling": {}, "elicitation": {"form": {}}}))
                .expect("capabilities");
        let mut config =
            ClientConfig::new(capabilities, Implementation::new("warden-bench", "0.0.0"));
        config.protocol_version = self.version.clone();
        config
    }

    async fn create_message(
        &self,
        _: CreateMessageRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text("ok"),
            "bench-model".into(),
        ))
    }

    async fn create_elicitation(
        &self,
        _: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let mut result = ElicitResult::new(ElicitationAction::Accept);
        result.content = Some(json!({"allow": true}));
        Ok(result)
    }
}

type Client = RunningService<RoleClient, Answering>;

/// `warden serve` with the asker granted sampling, and `config`.
async fn serve(
    root: &std::path::Path,
    version: ProtocolVersion,
    config: &str,
) -> anyhow::Result<Client> {
    let plugins = root.join("plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(
        warden_test_artifacts::ASKER_WASM,
        plugins.join("asker.wasm"),
    )?;
    std::fs::write(
        plugins.join("asker.toml"),
        "manifest_version = 1\n[capabilities]\nclient = [\"sampling\"]\n",
    )?;
    let config_path = root.join("warden.toml");
    std::fs::write(&config_path, config)?;
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_warden")).configure(|cmd| {
        cmd.args(["serve", "--wait-for-plugins", "--plugins"])
            .arg(&plugins)
            .arg("--config")
            .arg(&config_path)
            .env("WARDEN_LOG", "warn")
            .env_remove("WARDEN_CONFIG")
            .current_dir(root);
    });
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let lifecycle = if version == ProtocolVersion::V_2026_07_28 {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    Ok(Answering { version }
        .serve_with_lifecycle(transport, lifecycle)
        .await?)
}

async fn call(client: &Client, tool: &str) -> anyhow::Result<Duration> {
    let arguments = json!({"prompt": "hi", "max_tokens": 10});
    let serde_json::Value::Object(arguments) = arguments else {
        unreachable!()
    };
    let started = Instant::now();
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .with_context(|| format!("calling {tool}"))?;
    let elapsed = started.elapsed();
    ensure!(
        result.is_error != Some(true),
        "{tool} failed: {:?}",
        result.content
    );
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = common::smoke_run();
    let iters = if quick {
        QUICK_ITERS
    } else {
        common::env_count("WARDEN_BENCH_ITERS", DEFAULT_ITERS)?
    };
    println!(
        "Asking the client: stdio, rmcp client answering at once; {iters} calls per case; mode: {}",
        if quick { "smoke (cargo test)" } else { "full" }
    );
    for (label, version) in [
        ("2025-11-25", ProtocolVersion::V_2025_11_25),
        ("2026-07-28", ProtocolVersion::V_2026_07_28),
    ] {
        let plain_dir = tempfile::tempdir()?;
        let consent_dir = tempfile::tempdir()?;
        let plain = serve(plain_dir.path(), version.clone(), "").await?;
        let consenting = serve(
            consent_dir.path(),
            version.clone(),
            "[plugins.asker]\nconfirm = [\"needs_sampling\"]\n",
        )
        .await?;
        let cases: [(&str, &Client, &str); 3] = [
            ("plain call", &plain, "asker_needs_sampling"),
            ("one sampling request", &plain, "asker_ask_model"),
            (
                "consent, then the call",
                &consenting,
                "asker_needs_sampling",
            ),
        ];
        // Warm up each case.
        for (_, client, tool) in &cases {
            call(client, tool).await?;
        }
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
        let mut done = 0;
        while done < iters {
            let batch = BATCH.min(iters - done);
            for (index, (_, client, tool)) in cases.iter().enumerate() {
                for _ in 0..batch {
                    samples[index].push(call(client, tool).await?);
                }
            }
            done += batch;
        }
        let base = stats::percentile(&samples[0], 0.5);
        println!("\n{label}");
        println!(
            "  {:<26} {:>10} {:>10} {:>8}",
            "case", "p50", "p99", "p50 x"
        );
        for ((name, _, _), latencies) in cases.iter().zip(&samples) {
            let p50 = stats::percentile(latencies, 0.5);
            let p99 = stats::percentile(latencies, 0.99);
            println!(
                "  {name:<26} {:>8.3}ms {:>8.3}ms {:>7.2}x",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                p50.as_secs_f64() / base.as_secs_f64().max(1e-9)
            );
        }
        let _ = plain.cancel().await;
        let _ = consenting.cancel().await;
    }
    Ok(())
}
