//! What the HTTP load benches (`http_load`, `replicas`) share: clients that
//! send stateless `tools/call hostile_echo` back to back, their latencies,
//! and the CPU time a process used meanwhile.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::ensure;
use serde_json::json;

use crate::{load_support, process, stats};

/// A folder with the hostile fixture in `plugins/` and a `warden.toml`
/// that serves it with `http` (an `[http]` table's keys) and no per-IP rate
/// limit.
pub fn hostile_folder(http: &str) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins)?;
    std::fs::copy(
        warden_test_artifacts::HOSTILE_WASM,
        plugins.join("hostile.wasm"),
    )?;
    std::fs::write(
        dir.path().join("warden.toml"),
        format!("plugins_dir = \"plugins\"\n[http]\n{http}[http.rate_limit]\nper_second = 0\n"),
    )?;
    Ok(dir)
}

/// How long each client keeps sending.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// Each client sends this many requests.
    Requests(usize),
    /// Each client sends until this much time has passed.
    For(Duration),
}

impl Plan {
    /// `smoke_requests` per client in a smoke run (`quick`), else `duration`.
    pub fn new(quick: bool, duration: Duration, smoke_requests: usize) -> Self {
        if quick {
            Self::Requests(smoke_requests)
        } else {
            Self::For(duration)
        }
    }

    /// The run's mode, for the report's header.
    pub fn describe(&self) -> String {
        match self {
            Self::Requests(n) => format!("smoke (cargo test), {n} requests per client"),
            Self::For(duration) => format!("full, {} s per case", duration.as_secs()),
        }
    }
}

/// What one case measured.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Each successful request's round trip.
    pub latencies: Vec<Duration>,
    /// From the first request sent to the last response.
    pub elapsed: Duration,
    /// Requests that failed.
    pub errors: usize,
    /// The first failure.
    pub first_error: Option<String>,
}

impl LoadResult {
    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The latency at `p` (0 to 1).
    pub fn percentile(&self, p: f64) -> Duration {
        stats::percentile(&self.latencies, p)
    }

    /// Fails when any request failed, naming the first failure.
    pub fn check(&self) -> anyhow::Result<()> {
        ensure!(
            self.errors == 0,
            "{} requests failed; first: {}",
            self.errors,
            self.first_error.as_deref().unwrap_or_default()
        );
        Ok(())
    }
}

/// Runs `clients` concurrent clients, each sending requests back to back.
pub async fn load(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    clients: usize,
    plan: Plan,
) -> LoadResult {
    let result = Arc::new(Mutex::new(LoadResult::default()));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (http, url, token, result) = (
            http.clone(),
            url.to_owned(),
            token.to_owned(),
            result.clone(),
        );
        tasks.spawn(async move {
            let mut sent = 0;
            loop {
                let more = match plan {
                    Plan::Requests(n) => sent < n,
                    Plan::For(d) => started.elapsed() < d,
                };
                if !more {
                    break;
                }
                sent += 1;
                let t = Instant::now();
                let outcome = call(&http, &url, &token).await;
                let elapsed = t.elapsed();
                let mut result = result.lock().unwrap();
                match outcome {
                    Ok(()) => result.latencies.push(elapsed),
                    Err(e) => {
                        result.errors += 1;
                        result.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let mut result = std::mem::take(&mut *result.lock().unwrap());
    result.elapsed = started.elapsed();
    result
}

/// One stateless `tools/call hostile_echo`; fails unless the result is a
/// success carrying the text.
pub async fn call(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<()> {
    const TEXT: &str = "The quick brown fox jumps over the lazy dog. \
                        Pack my box with five dozen liquor jugs, twice!";
    let arguments = json!({ "text": TEXT });
    let text = load_support::post_tool_call(http, url, token, "hostile_echo", &arguments).await?;
    ensure!(
        text.contains("\"isError\":false") && text.contains("lazy dog"),
        "unexpected response: {text}"
    );
    Ok(())
}

/// CPU time a process used over an interval, from `/proc/PID/stat` (Linux).
pub struct CpuMeter {
    pid: u32,
    ticks: Option<u64>,
    started: Instant,
}

impl CpuMeter {
    /// Starts measuring `pid`.
    pub fn start(pid: u32) -> Self {
        Self {
            pid,
            ticks: process::cpu_ticks(pid),
            started: Instant::now(),
        }
    }

    /// CPU use since `start`, in percent of one core ("-" where unknown).
    pub fn percent(&self) -> String {
        match (self.ticks, process::cpu_ticks(self.pid)) {
            (Some(before), Some(after)) => {
                let busy = (after - before) as f64 / process::TICKS_PER_SECOND;
                format!("{:.0}", busy / self.started.elapsed().as_secs_f64() * 100.0)
            }
            _ => "-".into(),
        }
    }
}
