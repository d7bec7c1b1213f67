//! Load on `tools/call` over Streamable HTTP: the real `warden serve --http`
//! binary with the hostile fixture's `echo` tool (a fresh instance per call),
//! driven by concurrent clients in this process.
//!
//! Each client sends stateless (2026-07-28) `tools/call` POSTs one after the
//! other, with the bearer token, as a remote MCP client would; the rate limit
//! is off. For each server worker-thread count (1 and 2, through
//! `TOKIO_WORKER_THREADS`) and each client count (1, 8, 64) it reports
//! throughput and the p50 and p99 latency of whole HTTP round trips. Then
//! it compares the static bearer token with an OAuth access token (RS256,
//! against an issuer the bench runs on 127.0.0.1).
//!
//! The load generator runs on one thread of the same 2-core machine as the
//! server, so the figures are a floor, not a ceiling.
//!
//! ```text
//! cargo bench -p warden --bench http_load
//! WARDEN_BENCH_SECS=10 cargo bench -p warden --bench http_load   # longer runs
//! WARDEN_BIN=/path/to/warden cargo bench -p warden --bench http_load   # another build
//! ```
//!
//! Under `cargo test --benches` (no `--bench` argument) it sends a few
//! requests per case as a smoke test.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

mod common;
mod issuer;
mod load_drive;
mod load_support;
#[allow(dead_code)] // Shared with the stdio and start benches, which read RSS too.
mod process;
mod stats;

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use issuer::Issuer;
use load_drive::{CpuMeter, Plan, call, load};
use load_support::HttpServer;
/// Seconds per case in a full run (`WARDEN_BENCH_SECS` overrides).
const DEFAULT_SECS: u64 = 5;
/// Requests per client in a smoke run.
const SMOKE_REQUESTS_PER_CLIENT: usize = 3;
/// Client counts.
const CLIENTS: [usize; 3] = [1, 8, 64];
/// Server worker threads.
const WORKERS: [usize; 2] = [1, 2];

fn main() -> anyhow::Result<()> {
    let quick = common::smoke_run();
    let secs = common::env_count("WARDEN_BENCH_SECS", DEFAULT_SECS)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(run(quick, Duration::from_secs(secs)))
}

async fn run(quick: bool, duration: Duration) -> anyhow::Result<()> {
    let plan = Plan::new(quick, duration, SMOKE_REQUESTS_PER_CLIENT);
    let dir = load_drive::hostile_folder("")?;
    println!("Warden Streamable HTTP load benchmark: tools/call hostile_echo (100 B text)");
    println!(
        "mode: {}; {} logical CPUs; the load generator uses one thread of the same machine",
        plan.describe(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
    println!(
        "{:>7} {:>7} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>6}",
        "workers",
        "clients",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "server %",
        "client %",
        "errors"
    );
    let mut throughput = Vec::new();
    for workers in WORKERS {
        let server = HttpServer::start(dir.path(), Some(workers))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(128)
            .build()?;
        // Warm up: compile cache, connection pool, first instances.
        for _ in 0..20 {
            call(&http, server.url(), load_support::TOKEN).await?;
        }
        for clients in CLIENTS {
            let server_cpu = CpuMeter::start(server.pid());
            let client_cpu = CpuMeter::start(std::process::id());
            let result = load(&http, server.url(), load_support::TOKEN, clients, plan).await;
            println!(
                "{:>7} {:>7} {:>9} {:>9.0} {:>8.3} {:>8.3} {:>9} {:>8} {:>6}",
                workers,
                clients,
                result.latencies.len(),
                result.throughput(),
                result.percentile(0.50).as_secs_f64() * 1e3,
                result.percentile(0.99).as_secs_f64() * 1e3,
                server_cpu.percent(),
                client_cpu.percent(),
                result.errors,
            );
            result.check()?;
            throughput.push((workers, clients, result.throughput()));
        }
        drop(server);
    }
    println!();
    for clients in CLIENTS {
        let of = |w: usize| {
            throughput
                .iter()
                .find(|(workers, c, _)| *workers == w && *c == clients)
                .map_or(0.0, |t| t.2)
        };
        println!(
            "scaling 1 -> 2 workers at {clients} clients: {:.2}x",
            of(2) / of(1).max(f64::MIN_POSITIVE)
        );
    }
    auth(dir.path(), plan).await?;
    if quick {
        println!("(smoke run: too few requests for the figures to mean anything)");
    }
    Ok(())
}

/// The same calls with the static bearer token and with an OAuth access
/// token (RS256, checked against the keys of an issuer this bench runs), on
/// the default worker threads.
async fn auth(dir: &Path, plan: Plan) -> anyhow::Result<()> {
    let issuer = Issuer::start().await?;
    let oauth_dir = dir.join("oauth");
    std::fs::create_dir(&oauth_dir)?;
    std::fs::write(
        oauth_dir.join("warden.toml"),
        format!("plugins_dir = \"../plugins\"\n{}", issuer.config()),
    )?;
    println!();
    println!(
        "{:>7} {:>7} {:>9} {:>9} {:>8} {:>8} {:>9}",
        "auth", "clients", "requests", "req/s", "p50 ms", "p99 ms", "server %"
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .build()?;
    let mut throughput = Vec::new();
    for (auth, home, token) in [
        ("bearer", dir, load_support::TOKEN),
        ("oauth", oauth_dir.as_path(), issuer.token.as_str()),
    ] {
        let server = HttpServer::start(home, None)?;
        for _ in 0..20 {
            call(&http, server.url(), token).await?;
        }
        for clients in [1, 8] {
            let server_cpu = CpuMeter::start(server.pid());
            let result = load(&http, server.url(), token, clients, plan).await;
            println!(
                "{:>7} {:>7} {:>9} {:>9.0} {:>8.3} {:>8.3} {:>9}",
                auth,
                clients,
                result.latencies.len(),
                result.throughput(),
                result.percentile(0.50).as_secs_f64() * 1e3,
                result.percentile(0.99).as_secs_f64() * 1e3,
                server_cpu.percent(),
            );
            result.check()?;
            throughput.push((auth, clients, result.throughput()));
        }
    }
    for clients in [1, 8] {
        let of = |auth: &str| {
            throughput
                .iter()
                .find(|(a, c, _)| *a == auth && *c == clients)
                .map_or(0.0, |t| t.2)
        };
        println!(
            "oauth / bearer throughput at {clients} clients: {:.2}x",
            of("oauth") / of("bearer").max(f64::MIN_POSITIVE)
        );
    }
    Ok(())
}
