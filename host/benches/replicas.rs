//! Stateless `tools/call` load through HAProxy, configured by the shipped
//! `deploy/haproxy/haproxy.cfg`, to one and to two `warden serve --http`
//! replicas, and straight to one replica without the proxy: throughput,
//! p50 and p99, and the CPU each process used.
//!
//! Everything (clients, proxy, replicas) shares this machine's cores, so
//! the figures show what bounds a second replica here, not what it gives
//! on a machine of its own.
//!
//! ```text
//! cargo bench -p warden --bench replicas
//! WARDEN_BENCH_SECS=10 cargo bench -p warden --bench replicas
//! ```
//!
//! Needs HAProxy (`apt-get install haproxy`; `WARDEN_BENCH_HAPROXY` names
//! another binary). Under `cargo test --benches` it sends a few requests
//! per case as a smoke test.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

mod common;
mod load_drive;
mod load_support;
#[allow(dead_code)] // Shared with the stdio and start benches, which read RSS too.
mod process;
mod stats;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use load_drive::{CpuMeter, Plan, call, load};
use load_support::HttpServer;

/// Seconds per case in a full run (`WARDEN_BENCH_SECS` overrides).
const DEFAULT_SECS: u64 = 5;
/// Requests per client in a smoke run.
const SMOKE_REQUESTS_PER_CLIENT: usize = 3;
/// Client counts.
const CLIENTS: [usize; 2] = [8, 64];

fn main() -> anyhow::Result<()> {
    let quick = common::smoke_run();
    let secs = common::env_count("WARDEN_BENCH_SECS", DEFAULT_SECS)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(run(quick, Duration::from_secs(secs)))
}

/// HAProxy in the foreground with the shipped config, killed when dropped.
struct Haproxy {
    child: Child,
    url: String,
}

impl Haproxy {
    /// Starts HAProxy in front of `replicas` (the first one twice when
    /// there is only one) and waits until it sees them up.
    async fn start(replicas: &[&HttpServer]) -> anyhow::Result<Self> {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy/haproxy.cfg");
        let (proxy, stats) = (free_port()?, free_port()?);
        let addr = |server: &HttpServer| {
            server
                .url()
                .trim_start_matches("http://")
                .trim_end_matches("/mcp")
                .to_owned()
        };
        let first = addr(replicas[0]);
        let second = replicas.get(1).map_or(first.clone(), |r| addr(r));
        let child = Command::new(haproxy())
            .args(["-db", "-f"])
            .arg(&config)
            .env("PROXY_ADDR", format!("127.0.0.1:{proxy}"))
            .env("STATS_ADDR", format!("127.0.0.1:{stats}"))
            .env("WARDEN_0_ADDR", &first)
            .env("WARDEN_1_ADDR", &second)
            .env("CHECK_INTERVAL", "200ms")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn haproxy (apt-get install haproxy)")?;
        let proxy = Self {
            child,
            url: format!("http://127.0.0.1:{proxy}/mcp"),
        };
        let stats = format!("http://127.0.0.1:{stats}/stats;csv");
        let started = Instant::now();
        loop {
            let text = match reqwest::get(&stats).await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            let up = text
                .lines()
                .filter(|l| l.starts_with("warden,warden-"))
                .filter(|l| l.split(',').nth(17) == Some("UP"))
                .count();
            if up == 2 {
                return Ok(proxy);
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("HAProxy did not see the replicas up:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn haproxy() -> PathBuf {
    if let Some(path) = std::env::var_os("WARDEN_BENCH_HAPROXY") {
        return path.into();
    }
    let sbin = PathBuf::from("/usr/sbin/haproxy");
    if sbin.is_file() {
        sbin
    } else {
        PathBuf::from("haproxy")
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The CPU use of several processes, summed.
fn cpu_sum(meters: &[CpuMeter]) -> String {
    let mut total = 0;
    for meter in meters {
        match meter.percent().parse::<u64>() {
            Ok(percent) => total += percent,
            Err(_) => return "-".into(),
        }
    }
    total.to_string()
}

async fn run(quick: bool, duration: Duration) -> anyhow::Result<()> {
    let plan = Plan::new(quick, duration, SMOKE_REQUESTS_PER_CLIENT);
    // As deploy/kubernetes/configmap.yaml: clients arrive from the proxy's
    // one address.
    let dir = load_drive::hostile_folder("max_connections_per_client = 1024\n")?;
    println!("Warden replicas behind HAProxy: stateless tools/call hostile_echo (100 B text)");
    println!(
        "mode: {}; {} logical CPUs shared by the clients, HAProxy and the replicas",
        plan.describe(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
    println!(
        "{:<20} {:>7} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>6}",
        "case",
        "clients",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "warden %",
        "proxy %",
        "client %",
        "errors"
    );
    let r0 = HttpServer::start(dir.path(), None)?;
    let r1 = HttpServer::start(dir.path(), None)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .build()?;
    let mut figures = Vec::new();
    for case in [
        "direct, 1 replica",
        "haproxy, 1 replica",
        "haproxy, 2 replicas",
    ] {
        let replicas: Vec<&HttpServer> = if case.ends_with("2 replicas") {
            vec![&r0, &r1]
        } else {
            vec![&r0]
        };
        let proxy = match case.starts_with("haproxy") {
            true => Some(Haproxy::start(&replicas).await?),
            false => None,
        };
        let url = proxy.as_ref().map_or(r0.url(), |p| p.url.as_str());
        for _ in 0..20 {
            call(&http, url, load_support::TOKEN).await?;
        }
        for clients in CLIENTS {
            let warden_cpu: Vec<CpuMeter> =
                replicas.iter().map(|r| CpuMeter::start(r.pid())).collect();
            let proxy_cpu = proxy.as_ref().map(|p| CpuMeter::start(p.pid()));
            let client_cpu = CpuMeter::start(std::process::id());
            let result = load(&http, url, load_support::TOKEN, clients, plan).await;
            println!(
                "{:<20} {:>7} {:>9} {:>9.0} {:>8.3} {:>8.3} {:>9} {:>8} {:>8} {:>6}",
                case,
                clients,
                result.latencies.len(),
                result.throughput(),
                result.percentile(0.50).as_secs_f64() * 1e3,
                result.percentile(0.99).as_secs_f64() * 1e3,
                cpu_sum(&warden_cpu),
                proxy_cpu.map_or("-".into(), |m| m.percent()),
                client_cpu.percent(),
                result.errors,
            );
            result.check()?;
            figures.push((case, clients, result.throughput()));
        }
    }
    println!();
    let of = |case: &str, clients: usize| {
        figures
            .iter()
            .find(|(c, n, _)| *c == case && *n == clients)
            .map_or(0.0, |f| f.2)
            .max(f64::MIN_POSITIVE)
    };
    for clients in CLIENTS {
        println!(
            "{clients} clients: the proxy keeps {:.2}x of direct throughput; 2 replicas give {:.2}x of 1",
            of("haproxy, 1 replica", clients) / of("direct, 1 replica", clients),
            of("haproxy, 2 replicas", clients) / of("haproxy, 1 replica", clients),
        );
    }
    if quick {
        println!("(smoke run: too few requests for the figures to mean anything)");
    }
    Ok(())
}
