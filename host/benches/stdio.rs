//! Tool-call latency over stdio against the real `warden serve`, the way an
//! MCP client on the same machine sees it: one client, one request at a
//! time, raw JSON-RPC lines on the child's pipes (read on the calling
//! thread, so the client adds as little as it can).
//!
//! Every case runs over pipes (as the Python and Rust SDKs start servers)
//! and over Unix socket pairs (as Node.js does, so most desktop clients).
//! Cases, each with a 100-byte text: `tools/call text_base64_encode` (the
//! `text` example plugin, a ~1.3 MB Rust guest), `tools/call hostile_echo`
//! (a ~230 KB Rust guest) and `ping` (the protocol's floor, no tool); in
//! full runs also `tools/call data_files` (the `data` example, CPython in
//! an 18.7 MB component) and `tools/call markdown_outline` (the `markdown`
//! example, SpiderMonkey in 13.7 MB), whose instances are interpreters that
//! start on every call. The report gives p50/p90/p99 per case, the server's CPU time per request
//! (less sensitive to a noisy machine than wall-clock figures) and its RSS
//! idle after warm-up and after the calls, and idle after a start that
//! compiled the plugins (a cold cache).
//!
//! With `WARDEN_BIN_BASE=/path/to/other/warden` the same cases also run
//! against that binary, batches alternating between the two, and the report
//! adds the ratio of the medians: the way to compare a change with what it
//! replaces in one sitting. `WARDEN_BENCH_BASE_CONFIG` compares settings
//! instead: its lines are added to the base server's `warden.toml` (the
//! base binary is this one unless `WARDEN_BIN_BASE` names another).
//!
//! ```text
//! cargo bench -p warden --bench stdio
//! WARDEN_BENCH_CALLS=5000 cargo bench -p warden --bench stdio
//! WARDEN_BIN_BASE=/tmp/warden-before cargo bench -p warden --bench stdio
//! WARDEN_BENCH_BASE_CONFIG='ready_instances = 0' cargo bench -p warden --bench stdio
//! ```
//!
//! Under `cargo test --benches` it makes a few calls per case and still
//! checks every reply.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

mod common;
mod process;
mod stats;

use std::ffi::OsString;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};

use stats::percentile;

/// The text every call carries: 100 bytes.
const TEXT: &str = "The quick brown fox jumps over the lazy dog. \
                    Pack my box with five dozen liquor jugs, twice!!!!!";

/// Requests per batch; batches of every case and server alternate.
const BATCH: usize = 50;

/// A running `warden serve` and its pipes.
struct Server {
    label: String,
    child: Child,
    /// `None` once closed.
    stdin: Option<Box<dyn std::io::Write>>,
    stdout: BufReader<Box<dyn std::io::Read>>,
    line: String,
    next_id: u64,
}

impl Server {
    fn spawn(
        label: &str,
        binary: &OsString,
        transport: Transport,
        plugins: &Path,
        cwd: &Path,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--no-watch", "--wait-for-plugins", "--plugins"])
            .arg(plugins)
            .current_dir(cwd)
            .env_remove("WARDEN_LOG")
            .env_remove("WARDEN_CONFIG")
            .stderr(Stdio::null());
        let spawn = |command: &mut Command| {
            command
                .spawn()
                .with_context(|| format!("spawn {}", binary.to_string_lossy()))
        };
        let (child, stdin, stdout): (Child, Box<dyn std::io::Write>, Box<dyn std::io::Read>) =
            match transport {
                Transport::Pipe => {
                    let mut child = spawn(command.stdin(Stdio::piped()).stdout(Stdio::piped()))?;
                    let stdin = child.stdin.take().context("stdin")?;
                    let stdout = child.stdout.take().context("stdout")?;
                    (child, Box::new(stdin), Box::new(stdout))
                }
                Transport::Socket => {
                    let (stdin, theirs_in) = UnixStream::pair()?;
                    let (stdout, theirs_out) = UnixStream::pair()?;
                    let child = spawn(
                        command
                            .stdin(Stdio::from(OwnedFd::from(theirs_in)))
                            .stdout(Stdio::from(OwnedFd::from(theirs_out))),
                    )?;
                    (child, Box::new(stdin), Box::new(stdout))
                }
            };
        let mut server = Self {
            label: format!("{label}/{}", transport.name()),
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            line: String::new(),
            next_id: 1,
        };
        let params = json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "warden-bench-stdio", "version": "0"}
        });
        server.request("initialize", &params)?;
        server.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
        Ok(server)
    }

    fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("stdin is closed")?;
        writeln!(stdin, "{message}")?;
        Ok(stdin.flush()?)
    }

    /// Sends a request and returns its result (notifications on the way are
    /// skipped).
    fn request(&mut self, method: &str, params: &Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            self.line.clear();
            if self.stdout.read_line(&mut self.line)? == 0 {
                bail!("{} closed stdout", self.label);
            }
            let reply: Value = serde_json::from_str(&self.line)?;
            if reply["id"] == id {
                if let Some(error) = reply.get("error") {
                    bail!("{method} failed: {error}");
                }
                return Ok(reply["result"].clone());
            }
        }
    }

    /// Closes stdin and waits for the server to exit (it finishes writing
    /// the compiled cache first).
    fn stop(mut self) -> anyhow::Result<()> {
        drop(self.stdin.take());
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "{} did not exit after stdin closed",
                self.label
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the client connects to the server's stdin and stdout.
#[derive(Clone, Copy, PartialEq)]
enum Transport {
    /// Pipes, as Python's and Rust's MCP SDKs start servers.
    Pipe,
    /// Unix socket pairs, as Node.js (so most desktop clients) does.
    Socket,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Self::Pipe => "pipe",
            Self::Socket => "socket",
        }
    }
}

/// One request kind.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Base64,
    Echo,
    Ping,
    Python,
    JavaScript,
}

/// The Markdown the JavaScript case outlines.
const MARKDOWN: &str = "# Warden\n\nIntro.\n\n## Plugins\n\nText.\n\n### Limits\n\n## Clients\n";

impl Kind {
    /// The kinds of a run: the interpreters only in full runs (their first
    /// compile takes tens of seconds).
    fn all(smoke: bool) -> &'static [Self] {
        if smoke {
            &[Self::Base64, Self::Echo, Self::Ping]
        } else {
            &[
                Self::Base64,
                Self::Echo,
                Self::Ping,
                Self::Python,
                Self::JavaScript,
            ]
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Base64 => "tools/call text_base64_encode",
            Self::Echo => "tools/call hostile_echo",
            Self::Ping => "ping",
            Self::Python => "tools/call data_files",
            Self::JavaScript => "tools/call markdown_outline",
        }
    }

    /// The example plugin the kind calls, with its `.wasm`: its manifest is
    /// `examples/plugins/NAME.toml`.
    fn example(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Base64 => Some(("text", warden_test_artifacts::TEXT_WASM)),
            Self::Python => Some(("data", warden_test_artifacts::DATA_WASM)),
            Self::JavaScript => Some(("markdown", warden_test_artifacts::MARKDOWN_WASM)),
            Self::Echo | Self::Ping => None,
        }
    }

    /// Sends one request and checks its reply.
    fn send(self, server: &mut Server) -> anyhow::Result<()> {
        let (tool, arguments, expect) = match self {
            Self::Ping => {
                server.request("ping", &json!({}))?;
                return Ok(());
            }
            Self::Base64 => ("text_base64_encode", json!({"text": TEXT}), ""),
            Self::Echo => ("hostile_echo", json!({"text": TEXT}), TEXT),
            Self::Python => ("data_files", json!({}), "sales.csv"),
            Self::JavaScript => ("markdown_outline", json!({"markdown": MARKDOWN}), "Limits"),
        };
        let result =
            server.request("tools/call", &json!({"name": tool, "arguments": arguments}))?;
        ensure!(
            result["isError"] == false && result.to_string().contains(expect),
            "{tool} failed on {}: {result}",
            server.label
        );
        Ok(())
    }
}

/// What one server measured for one kind.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    cpu_ticks: u64,
}

fn main() -> anyhow::Result<()> {
    let smoke = common::smoke_run();
    let calls = if smoke {
        BATCH as u64
    } else {
        common::env_count("WARDEN_BENCH_CALLS", 2000)?
    };
    let batches = calls.div_ceil(BATCH as u64);

    let plugins = tempfile::tempdir()?;
    let manifests = warden_test_artifacts::examples_manifest_dir();
    std::fs::copy(
        warden_test_artifacts::HOSTILE_WASM,
        plugins.path().join("hostile.wasm"),
    )?;
    let kinds = Kind::all(smoke);
    for (name, wasm) in kinds.iter().filter_map(|kind| kind.example()) {
        std::fs::copy(wasm, plugins.path().join(format!("{name}.wasm")))?;
        std::fs::copy(
            manifests.join(format!("{name}.toml")),
            plugins.path().join(format!("{name}.toml")),
        )?;
    }
    let workspace = |extra: &str| -> anyhow::Result<tempfile::TempDir> {
        let cwd = tempfile::tempdir()?;
        if kinds.contains(&Kind::Python) {
            // `data` reads the workspace's data files, relative to the cwd.
            let data = cwd.path().join("examples/workspace/data");
            std::fs::create_dir_all(&data)?;
            let examples = manifests.join("../workspace/data");
            for file in ["sales.csv", "stores.json"] {
                std::fs::copy(examples.join(file), data.join(file))?;
            }
        }
        std::fs::write(
            cwd.path().join("warden.toml"),
            format!(
                "cache_dir = {:?}\n{extra}\n",
                cwd.path().join("cache").display().to_string()
            ),
        )?;
        Ok(cwd)
    };

    let this: OsString =
        std::env::var_os("WARDEN_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_warden").into());
    let mut binaries = vec![("warden".to_owned(), this.clone(), workspace("")?)];
    let base_config = std::env::var("WARDEN_BENCH_BASE_CONFIG").ok();
    let base = std::env::var_os("WARDEN_BIN_BASE");
    if base.is_some() || base_config.is_some() {
        let config = base_config.unwrap_or_default();
        if !config.is_empty() {
            println!("base warden.toml adds: {config}");
        }
        binaries.push(("base".to_owned(), base.unwrap_or(this), workspace(&config)?));
    }
    // A first server compiles the plugins into the cache; the measured ones
    // load from it (a compile leaves the heap larger, which would skew RSS).
    let mut compiled = Vec::new();
    for (label, binary, cwd) in &binaries {
        std::fs::remove_dir_all(cwd.path().join("cache")).ok();
        let mut server = Server::spawn(label, binary, Transport::Pipe, plugins.path(), cwd.path())?;
        for kind in kinds {
            kind.send(&mut server)?;
        }
        std::thread::sleep(Duration::from_millis(500));
        compiled.push(process::rss(server.pid())?);
        server.stop()?;
    }
    let mut servers = Vec::new();
    for transport in [Transport::Pipe, Transport::Socket] {
        for (label, binary, cwd) in &binaries {
            let server = Server::spawn(label, binary, transport, plugins.path(), cwd.path())?;
            servers.push(server);
        }
    }

    println!("Warden stdio call latency");
    println!(
        "mode: {}, {} requests per case per server, batches of {BATCH} alternating",
        if smoke { "smoke (cargo test)" } else { "full" },
        batches * BATCH as u64
    );
    for (label, binary, _) in &binaries {
        println!("{label}: {}", binary.to_string_lossy());
    }

    // Warm-up: the first calls fault in code and the instance pool.
    for server in &mut servers {
        for kind in kinds {
            for _ in 0..BATCH {
                kind.send(server)?;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let idle: Vec<[u64; 3]> = servers
        .iter()
        .map(|s| process::rss(s.pid()))
        .collect::<anyhow::Result<_>>()?;

    let mut samples: Vec<Vec<Samples>> = servers
        .iter()
        .map(|_| kinds.iter().map(|_| Samples::default()).collect())
        .collect();
    let mut peak = vec![0u64; servers.len()];
    for _ in 0..batches {
        for (k, kind) in kinds.iter().enumerate() {
            for (s, server) in servers.iter_mut().enumerate() {
                let ticks = process::cpu_ticks(server.pid());
                let sample = &mut samples[s][k];
                for _ in 0..BATCH {
                    let started = Instant::now();
                    kind.send(server)?;
                    sample.latencies.push(started.elapsed());
                }
                if let (Some(before), Some(after)) = (ticks, process::cpu_ticks(server.pid())) {
                    sample.cpu_ticks += after - before;
                }
                peak[s] = peak[s].max(process::rss(server.pid())?[0]);
            }
        }
    }

    println!();
    println!(
        "{:<30} {:<13} {:>8} {:>8} {:>8} {:>11} {:>9}",
        "case", "server", "p50 us", "p90 us", "p99 us", "CPU us/req", "p50 ratio"
    );
    println!("{}", "-".repeat(92));
    let us = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e6);
    for (k, kind) in kinds.iter().enumerate() {
        for (s, server) in servers.iter().enumerate() {
            let sample = &samples[s][k];
            let p50 = percentile(&sample.latencies, 0.5);
            let cpu = sample.cpu_ticks as f64 / process::TICKS_PER_SECOND * 1e6
                / sample.latencies.len() as f64;
            // Servers come in groups per transport, this build's first.
            let first = s - s % binaries.len();
            let ratio = if s == first {
                "-".to_owned()
            } else {
                let ours = percentile(&samples[first][k].latencies, 0.5);
                format!("{:.2}x", ours.as_secs_f64() / p50.as_secs_f64())
            };
            println!(
                "{:<30} {:<13} {:>8} {:>8} {:>8} {:>11.1} {:>9}",
                kind.title(),
                server.label,
                us(p50),
                us(percentile(&sample.latencies, 0.9)),
                us(percentile(&sample.latencies, 0.99)),
                cpu,
                ratio
            );
        }
    }
    println!("(p50 ratio: this build's median / base's on the same transport; below 1 is faster)");
    println!();
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!("RSS (MiB)       idle after warm-up   peak during the calls   anonymous");
    for (s, server) in servers.iter().enumerate() {
        println!(
            "{:<15} {:>18.1} {:>23.1} {:>11.1}",
            server.label,
            mib(idle[s][0]),
            mib(peak[s]),
            mib(idle[s][1])
        );
    }
    for ((label, _, _), [total, anonymous, _]) in binaries.iter().zip(&compiled) {
        println!(
            "{:<15} {:>18.1} {:>23} {:>11.1}   (idle after compiling the plugins, cold cache)",
            label,
            mib(*total),
            "-",
            mib(*anonymous)
        );
    }
    if smoke {
        println!("(smoke run: too few calls for the figures to mean anything)");
    }
    servers.into_iter().try_for_each(Server::stop)
}
