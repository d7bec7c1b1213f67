//! Soak: many tool calls mixing a normal plugin and a hostile one against
//! the real `warden serve`, half over stdio and half over Streamable HTTP.
//! Reports, per transport, the server's RSS after warm-up and at the end
//! (drift), the trend of the RSS sampled every 2 s during the run (the
//! median of the last third of the samples against the median of the first
//! third: the hostile `alloc` and `flood` calls make it swing by about 10 MiB
//! and back, which the two single readings can catch at either end), its
//! open descriptors before and after (`/proc/PID/fd`), and the p50/p99
//! latency of the normal calls.
//!
//! Normal calls are `text_hash` and `text_base64_encode` (the `text` example
//! plugin with its example manifest). One call in ten goes to the `hostile`
//! fixture, cycling through spin, alloc, recurse, flood, trap, big_output,
//! sleep, log and echo, under tight limits (so they end fast): each must
//! come back as a tool result, never a protocol error. Eight clients call
//! concurrently.
//!
//! ```text
//! cargo bench -p warden --bench soak                          # 100,000 calls
//! WARDEN_SOAK_CALLS=20000 cargo bench -p warden --bench soak  # fewer
//! ```
//!
//! Under `cargo test --benches` (no `--bench` argument) it makes a few
//! hundred calls and still checks that the descriptors are the same before
//! and after and that the server still answers.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

mod common;
mod load_support;
mod stats;

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use rmcp::RoleClient;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt as _, TokioChildProcess};
use serde_json::{Value, json};

use load_support::HttpServer;
use stats::percentile;

/// Calls in a full run, over both transports (`WARDEN_SOAK_CALLS` overrides).
const DEFAULT_CALLS: u64 = 100_000;
/// Calls in a smoke run.
const SMOKE_CALLS: u64 = 240;
/// Concurrent clients per transport.
const CLIENTS: usize = 8;
/// One call in this many is hostile.
const HOSTILE_EVERY: u64 = 10;
/// Tight limits for the hostile plugin, so that each hostile call ends fast.
const HOSTILE_MANIFEST: &str = "manifest_version = 1\nname = \"hostile\"\n[limits]\n\
     fuel = 20_000_000\nmemory = \"16MiB\"\ntimeout = \"300ms\"\n\
     max_output = \"64KiB\"\nmax_log = \"16KiB\"\n";
/// The hostile calls, in turn.
const HOSTILE: [(&str, &str); 9] = [
    ("hostile_spin", "{}"),
    ("hostile_alloc", "{}"),
    ("hostile_recurse", "{}"),
    ("hostile_flood", r#"{"bytes": 200000}"#),
    ("hostile_trap", "{}"),
    ("hostile_big_output", r#"{"bytes": 100000}"#),
    ("hostile_sleep", r#"{"ms": 5000}"#),
    ("hostile_log", "{}"),
    ("hostile_echo", r#"{"text": "hostile but polite"}"#),
];

fn main() -> anyhow::Result<()> {
    let quick = common::smoke_run();
    let calls = if quick {
        SMOKE_CALLS
    } else {
        common::env_count("WARDEN_SOAK_CALLS", DEFAULT_CALLS)?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(run(quick, calls))
}

async fn run(quick: bool, calls: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins)?;
    std::fs::copy(warden_test_artifacts::TEXT_WASM, plugins.join("text.wasm"))?;
    std::fs::copy(
        warden_test_artifacts::examples_manifest_dir().join("text.toml"),
        plugins.join("text.toml"),
    )?;
    std::fs::copy(
        warden_test_artifacts::HOSTILE_WASM,
        plugins.join("hostile.wasm"),
    )?;
    std::fs::write(plugins.join("hostile.toml"), HOSTILE_MANIFEST)?;
    std::fs::write(
        dir.path().join("warden.toml"),
        "plugins_dir = \"plugins\"\n[http.rate_limit]\nper_second = 0\n",
    )?;

    println!(
        "Warden soak: {calls} tool calls ({} per transport), 1 in {HOSTILE_EVERY} hostile, \
         {CLIENTS} concurrent clients; mode: {}",
        calls / 2,
        if quick { "smoke (cargo test)" } else { "full" }
    );
    println!(
        "{:>9} {:>8} {:>9} {:>9} {:>9} {:>7} {:>7} {:>9} {:>8} {:>8} {:>9}",
        "transport",
        "calls",
        "calls/s",
        "RSS warm",
        "RSS end",
        "drift",
        "trend",
        "fds b/a",
        "p50 ms",
        "p99 ms",
        "hostile"
    );
    let mut failures = Vec::new();
    for transport in [Transport::Stdio, Transport::Http] {
        let report = soak(dir.path(), transport, calls / 2)
            .await
            .with_context(|| format!("soak over {transport:?}"))?;
        println!(
            "{:>9} {:>8} {:>9.0} {:>8.1}M {:>8.1}M {:>6.1}% {:>6.1}% {:>4}/{:<4} {:>8.3} {:>8.3} {:>9}",
            format!("{transport:?}").to_lowercase(),
            report.calls,
            report.calls as f64 / report.elapsed.as_secs_f64(),
            mib(report.rss_warm),
            mib(report.rss_end),
            (report.rss_end as f64 - report.rss_warm as f64) / report.rss_warm as f64 * 100.0,
            trend(&report.rss_samples) * 100.0,
            report.fds_before,
            report.fds_after,
            percentile(&report.latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&report.latencies, 0.99).as_secs_f64() * 1e3,
            format!("{}/{}", report.hostile_errors, report.hostile),
        );
        println!(
            "          RSS samples (MiB): {}",
            report
                .rss_samples
                .iter()
                .map(|r| format!("{:.0}", mib(*r)))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if report.fds_before != report.fds_after {
            failures.push(format!(
                "{transport:?}: {} descriptors open before, {} after",
                report.fds_before, report.fds_after
            ));
        }
    }
    if quick {
        println!("(smoke run: too few calls for the figures to mean anything)");
    }
    ensure!(failures.is_empty(), "{}", failures.join("; "));
    Ok(())
}

/// The median of the last third of `samples` relative to the median of the
/// first third (0 with fewer than three samples).
fn trend(samples: &[u64]) -> f64 {
    let third = samples.len() / 3;
    if third == 0 {
        return 0.0;
    }
    let median = |part: &[u64]| {
        let mut part = part.to_vec();
        part.sort_unstable();
        part[part.len() / 2] as f64
    };
    let first = median(&samples[..third]);
    (median(&samples[samples.len() - third..]) - first) / first
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Stdio,
    Http,
}

/// What one transport's soak measured.
#[derive(Debug, Default)]
struct Report {
    calls: u64,
    elapsed: Duration,
    rss_warm: u64,
    rss_end: u64,
    rss_samples: Vec<u64>,
    fds_before: usize,
    fds_after: usize,
    latencies: Vec<Duration>,
    hostile: u64,
    hostile_errors: u64,
}

/// The tool and arguments of call number `i`, and whether it is hostile.
fn plan(i: u64) -> (&'static str, Value, bool) {
    if i % HOSTILE_EVERY == HOSTILE_EVERY - 1 {
        let (tool, args) = HOSTILE[(i / HOSTILE_EVERY) as usize % HOSTILE.len()];
        return (
            tool,
            serde_json::from_str(args).expect("valid arguments"),
            true,
        );
    }
    let text = format!("soak call {i}: the quick brown fox jumps over the lazy dog");
    let tool = if i.is_multiple_of(2) {
        "text_hash"
    } else {
        "text_base64_encode"
    };
    (tool, json!({ "text": text }), false)
}

async fn soak(dir: &Path, transport: Transport, calls: u64) -> anyhow::Result<Report> {
    let server = Server::start(dir, transport).await?;
    let warmup = (calls / 10).max(HOSTILE_EVERY * HOSTILE.len() as u64);
    // Warm up (a tenth of the calls) at full concurrency: compile cache, instance pool, every
    // hostile tool, and as many instances and buffers at once as the run
    // will use, so that drift measures growth, not the step to 8 clients.
    let client = server.client().await?;
    drive(&client, 0, warmup, CLIENTS).await?;
    drop(client);
    let pid = server.pid;
    let fds_before = quiet_fds(pid).await?;
    let rss_warm = rss(pid)?;

    let client = Arc::new(server.client().await?);
    let sampler = {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicU64::new(0));
        let (s, st) = (samples.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while st.load(Ordering::Relaxed) == 0 {
                if let Ok(r) = rss(pid) {
                    s.lock().unwrap().push(r);
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
        (samples, stop, task)
    };
    let started = Instant::now();
    let mut report = drive(&client, warmup, calls, CLIENTS).await?;
    report.elapsed = started.elapsed();
    sampler.1.store(1, Ordering::Relaxed);
    sampler.2.await?;
    // Still alive and answering.
    let (tool, args, _) = plan(0);
    let outcome = client.call(tool, args).await?;
    ensure!(
        !outcome.is_error,
        "a normal call failed after the soak: {}",
        outcome.text
    );
    drop(client);
    report.fds_before = fds_before;
    report.fds_after = quiet_fds(pid).await?;
    report.rss_warm = rss_warm;
    report.rss_end = rss(pid)?;
    report.rss_samples = std::mem::take(&mut *sampler.0.lock().unwrap());
    server.stop().await;
    Ok(report)
}

/// Runs calls `from..to` of the plan on `clients` concurrent tasks.
async fn drive(client: &Client, from: u64, to: u64, clients: usize) -> anyhow::Result<Report> {
    let next = Arc::new(AtomicU64::new(from));
    let report = Arc::new(Mutex::new(Report::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, next, report) = (client.clone(), next.clone(), report.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    return Ok::<(), anyhow::Error>(());
                }
                let (tool, args, hostile) = plan(i);
                let t = Instant::now();
                let outcome = client
                    .call(tool, args)
                    .await
                    .with_context(|| format!("call {i}: {tool}"))?;
                let elapsed = t.elapsed();
                let mut report = report.lock().unwrap();
                report.calls += 1;
                if hostile {
                    report.hostile += 1;
                    report.hostile_errors += u64::from(outcome.is_error);
                } else {
                    ensure!(
                        !outcome.is_error,
                        "call {i}: {tool} failed: {}",
                        outcome.text
                    );
                    report.latencies.push(elapsed);
                }
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    let report = std::mem::take(&mut *report.lock().unwrap());
    Ok(report)
}

/// The server's resident set size, from `/proc/PID/status`.
fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok(kib * 1024)
}

fn fds(pid: u32) -> anyhow::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// The descriptor count once it has not changed for half a second (closed
/// connections take a moment to be closed on the server's side too).
async fn quiet_fds(pid: u32) -> anyhow::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = fds(pid)?;
    let mut since = Instant::now();
    while since.elapsed() < Duration::from_millis(500) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = fds(pid)?;
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    Ok(last)
}

/// A tool result as the soak sees it.
struct Outcome {
    is_error: bool,
    text: String,
}

/// A client on one transport; cheap to clone (shares the connection).
#[derive(Clone)]
enum Client {
    Stdio(Arc<RunningService<RoleClient, ()>>),
    Http { http: reqwest::Client, url: String },
}

impl Client {
    async fn call(&self, tool: &str, arguments: Value) -> anyhow::Result<Outcome> {
        match self {
            Client::Stdio(service) => {
                let Value::Object(arguments) = arguments else {
                    bail!("arguments must be an object");
                };
                let result = service
                    .call_tool(
                        CallToolRequestParams::new(tool.to_string()).with_arguments(arguments),
                    )
                    .await?;
                let text = result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(Outcome {
                    is_error: result.is_error == Some(true),
                    text,
                })
            }
            Client::Http { http, url } => http_call(http, url, tool, &arguments).await,
        }
    }
}

/// One stateless `tools/call` POST; the result from a JSON or an
/// event-stream body.
async fn http_call(
    http: &reqwest::Client,
    url: &str,
    tool: &str,
    arguments: &Value,
) -> anyhow::Result<Outcome> {
    let text =
        load_support::post_tool_call(http, url, load_support::TOKEN, tool, arguments).await?;
    let messages: Vec<Value> = if text.trim_start().starts_with('{') {
        vec![serde_json::from_str(&text)?]
    } else {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    };
    let result = messages
        .iter()
        .find_map(|m| m.get("result"))
        .with_context(|| format!("no tools/call result in: {text}"))?;
    Ok(Outcome {
        is_error: result["isError"] == true,
        text: result["content"].to_string(),
    })
}

/// `warden serve` on stdio (the client owns the process) or `--http`.
struct Server {
    transport: Transport,
    dir: std::path::PathBuf,
    pid: u32,
    /// The stdio session, handed to the first client and kept for later ones.
    stdio: Option<Arc<RunningService<RoleClient, ()>>>,
    http: Option<HttpServer>,
}

impl Server {
    async fn start(dir: &Path, transport: Transport) -> anyhow::Result<Self> {
        let mut server = Self {
            transport,
            dir: dir.to_path_buf(),
            pid: 0,
            stdio: None,
            http: None,
        };
        match transport {
            Transport::Stdio => {
                let command =
                    tokio::process::Command::new(env!("CARGO_BIN_EXE_warden")).configure(|cmd| {
                        cmd.arg("serve")
                            .arg("--wait-for-plugins")
                            .arg("--config")
                            .arg(dir.join("warden.toml"))
                            .env_remove("WARDEN_CONFIG")
                            .env_remove("WARDEN_PLUGINS")
                            .current_dir(dir);
                    });
                let (transport, _) = TokioChildProcess::builder(command)
                    .stderr(Stdio::null())
                    .spawn()
                    .context("spawn warden")?;
                server.pid = transport.id().context("no pid")?;
                let service = ().serve(transport).await.context("connect over stdio")?;
                server.stdio = Some(Arc::new(service));
            }
            Transport::Http => {
                let http = HttpServer::start(dir, None)?;
                server.pid = http.pid();
                server.http = Some(http);
            }
        }
        Ok(server)
    }

    /// A client: the stdio session, or a fresh HTTP connection pool.
    async fn client(&self) -> anyhow::Result<Client> {
        match (&self.http, &self.stdio) {
            (Some(server), _) => Ok(Client::Http {
                http: reqwest::Client::builder()
                    .pool_max_idle_per_host(CLIENTS)
                    .build()?,
                url: server.url().to_owned(),
            }),
            (None, Some(service)) => Ok(Client::Stdio(service.clone())),
            (None, None) => bail!(
                "no server for {:?} in {}",
                self.transport,
                self.dir.display()
            ),
        }
    }

    async fn stop(mut self) {
        if let Some(service) = self.stdio.take()
            && let Ok(service) = Arc::try_unwrap(service)
        {
            let _ = tokio::time::timeout(Duration::from_secs(5), service.cancel()).await;
        }
        // Dropping the HTTP server kills it.
        drop(self.http.take());
    }
}
