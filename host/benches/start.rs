//! Start-up and idle cost of the real `warden serve` over stdio, spoken to
//! in raw JSON-RPC so that only the server is timed.
//!
//! 1. **Start**: process start to the first `tools/list` reply (and how many
//!    tools it holds), and to the complete list (following `list_changed`),
//!    for an empty folder and ten small plugins with a cold cache, a warm
//!    cache, a warm cache with `--wait-for-plugins`, and ten cached plugins
//!    plus one that is not: a small one, or the Python example plugin (about
//!    18 MB, seconds to compile). The one not cached is a copy, with other
//!    bytes, of a component compiled before: with the function cache on
//!    (`cache_functions`), it compiles only the functions that differ.
//!    Cases alternate within each round.
//! 2. **Idle**: with the ten plugins loaded from a warm cache, RSS (anonymous
//!    and file-backed) once start-up has settled, and CPU time and context
//!    switches of every thread over an idle window.
//!
//! ```text
//! cargo bench -p warden --bench start
//! WARDEN_START_ROUNDS=20 WARDEN_IDLE_SECONDS=60 cargo bench -p warden --bench start
//! WARDEN_BIN=/path/to/another/warden cargo bench -p warden --bench start
//! ```
//!
//! Under `cargo test --benches` it runs each case once with a short idle
//! window, and still checks that every list is complete in the end.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

mod common;
#[allow(dead_code)] // Shared with the load benches, which read CPU time too.
mod process;
mod stats;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};

use stats::percentile;

/// The longest a complete list may take (a cold compile of ten plugins).
const PATIENCE: Duration = Duration::from_secs(180);

/// Ten small plugins: the six examples and four test fixtures.
fn ten_plugins() -> Vec<(&'static str, &'static str)> {
    let mut plugins: Vec<(&str, &str)> = warden_test_artifacts::EXAMPLES.to_vec();
    plugins.extend([
        ("conformance", warden_test_artifacts::CONFORMANCE_WASM),
        ("hold", warden_test_artifacts::HOLD_WASM),
        ("hostile", warden_test_artifacts::HOSTILE_WASM),
        ("tools-only", warden_test_artifacts::TOOLS_ONLY_WASM),
    ]);
    plugins
}

/// A folder with `plugins` (and the examples' manifests).
fn folder(plugins: &[(&str, &str)]) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let manifests = warden_test_artifacts::examples_manifest_dir();
    for (name, wasm) in plugins {
        std::fs::copy(wasm, dir.path().join(format!("{name}.wasm")))
            .with_context(|| format!("copy {wasm}"))?;
        let manifest = manifests.join(format!("{name}.toml"));
        if manifest.is_file() {
            std::fs::copy(&manifest, dir.path().join(format!("{name}.toml")))?;
        }
    }
    Ok(dir)
}

/// `wasm` with a custom section appended: the same plugin, another sha256,
/// so nothing of it is cached.
fn uncached_copy(wasm: &str, salt: u64) -> anyhow::Result<Vec<u8>> {
    let mut bytes = std::fs::read(wasm)?;
    let name = b"warden-bench";
    let payload = salt.to_le_bytes();
    bytes.push(0);
    bytes.push(u8::try_from(1 + name.len() + payload.len())?);
    bytes.push(u8::try_from(name.len())?);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// One server start: when the first list arrived and what it held, and when
/// the list was complete.
struct Started {
    first: Duration,
    first_tools: usize,
    complete: Duration,
}

/// A running `warden serve` and its stdio.
struct Server {
    child: Child,
    stdin: ChildStdin,
    /// Lines of its stdout, read on a thread of their own so that a wait
    /// can time out.
    lines: std::sync::mpsc::Receiver<String>,
    next_id: u64,
}

impl Server {
    fn spawn(plugins: &Path, cwd: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let binary =
            std::env::var_os("WARDEN_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_warden").into());
        let mut child = Command::new(binary)
            .args(["serve", "--no-watch", "--plugins"])
            .arg(plugins)
            .args(extra)
            .current_dir(cwd)
            .env("WARDEN_LOG", "error")
            .env_remove("WARDEN_CONFIG")
            .env_remove("WARDEN_WAIT_FOR_PLUGINS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn warden")?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("stdout")?);
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Self {
            child,
            stdin,
            lines,
            next_id: 1,
        })
    }

    fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        writeln!(self.stdin, "{message}")?;
        Ok(self.stdin.flush()?)
    }

    fn request(&mut self, method: &str, params: Value) -> anyhow::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        Ok(id)
    }

    fn read(&mut self) -> anyhow::Result<Value> {
        let line = match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                bail!("no message from the server in {} s", PATIENCE.as_secs())
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the server closed stdout"),
        };
        Ok(serde_json::from_str(&line)?)
    }

    /// The reply to `id`; notifications on the way are counted as list changes.
    fn reply(&mut self, id: u64, changes: &mut usize) -> anyhow::Result<Value> {
        loop {
            let message = self.read()?;
            if message["id"] == id {
                return Ok(message);
            }
            if message["method"] == "notifications/tools/list_changed" {
                *changes += 1;
            }
        }
    }

    fn initialize(&mut self) -> anyhow::Result<()> {
        let params = json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "warden-bench-start", "version": "0"}
        });
        let id = self.request("initialize", params)?;
        self.reply(id, &mut 0)?;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    }

    fn tools(&mut self, changes: &mut usize) -> anyhow::Result<usize> {
        let id = self.request("tools/list", json!({}))?;
        let reply = self.reply(id, changes)?;
        Ok(reply["result"]["tools"]
            .as_array()
            .context("tools/list without tools")?
            .len())
    }

    /// Waits for the next `list_changed`.
    fn changed(&mut self) -> anyhow::Result<()> {
        loop {
            if self.read()?["method"] == "notifications/tools/list_changed" {
                return Ok(());
            }
        }
    }

    fn stop(mut self) -> anyhow::Result<()> {
        drop(self.stdin);
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            if started.elapsed() > Duration::from_secs(10) {
                self.child.kill()?;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// A workspace with a `warden.toml` whose cache is `cache`. The conformance
/// fixture's `test_generation` describes itself anew at every start, so its
/// definitions are trusted (pinned, that tool would be held).
fn workspace(cache: &Path) -> anyhow::Result<tempfile::TempDir> {
    let cwd = tempfile::tempdir()?;
    std::fs::write(
        cwd.path().join("warden.toml"),
        format!(
            "cache_dir = {:?}\n[plugins.conformance]\ndefinitions = \"trust\"\n",
            cache.display().to_string()
        ),
    )?;
    Ok(cwd)
}

/// Starts a server in `cwd`, times its first list and its complete list
/// (`expected` tools), and stops it.
fn start_once(
    plugins: &Path,
    cwd: &Path,
    extra: &[&str],
    expected: usize,
) -> anyhow::Result<Started> {
    let started = Instant::now();
    let mut server = Server::spawn(plugins, cwd, extra)?;
    server.initialize()?;
    let mut changes = 0;
    let first_tools = server.tools(&mut changes)?;
    let first = started.elapsed();
    let mut tools = first_tools;
    while tools < expected {
        ensure!(
            started.elapsed() < PATIENCE,
            "{tools} of {expected} tools listed"
        );
        if changes == 0 {
            server.changed()?;
        }
        changes = 0;
        tools = server.tools(&mut changes)?;
    }
    let complete = started.elapsed();
    server.stop()?;
    Ok(Started {
        first,
        first_tools,
        complete,
    })
}

/// CPU ticks of the whole process, and context switches per thread.
fn cpu_and_switches(pid: u32) -> anyhow::Result<(u64, BTreeMap<String, u64>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    let mut switches = BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let task = task?;
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let mut sum = 0;
        for line in status.lines().filter(|l| l.contains("ctxt_switches")) {
            sum += line
                .split_whitespace()
                .nth(1)
                .unwrap_or("0")
                .parse::<u64>()?;
        }
        switches.insert(task.file_name().to_string_lossy().into_owned(), sum);
    }
    Ok((ticks, switches))
}

/// Context switches between two samples, over the threads in both.
fn switches_between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    after
        .iter()
        .filter_map(|(tid, n)| before.get(tid).map(|b| n.saturating_sub(*b)))
        .sum()
}

/// Idle cost of a server on `plugins` started in `cwd` (a warm cache).
fn idle(plugins: &Path, cwd: &Path, window: Duration) -> anyhow::Result<String> {
    let mut server = Server::spawn(plugins, cwd, &[])?;
    server.initialize()?;
    let tools = server.tools(&mut 0)?;
    // Start-up settles: cached plugins are described again after 250 ms.
    std::thread::sleep(Duration::from_secs(2));
    let pid = server.child.id();
    let [total, anon, file] = process::rss(pid)?;
    let (ticks_before, switches_before) = cpu_and_switches(pid)?;
    std::thread::sleep(window);
    let (ticks_after, switches_after) = cpu_and_switches(pid)?;
    server.stop()?;
    // USER_HZ, the unit of /proc's CPU times, is 100 on Linux.
    let hz = 100.0;
    Ok(format!(
        "{tools:>5} tools  RSS {:>5.1} MiB (anon {:>5.1}, file {:>5.1})  CPU {:>5.0} ms and {:>4} \
         context switches in {} s",
        total as f64 / 1024.0,
        anon as f64 / 1024.0,
        file as f64 / 1024.0,
        (ticks_after - ticks_before) as f64 * 1000.0 / hz,
        switches_between(&switches_before, &switches_after),
        window.as_secs()
    ))
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

fn main() -> anyhow::Result<()> {
    let quick = common::smoke_run();
    let rounds = if quick {
        1
    } else {
        common::env_count("WARDEN_START_ROUNDS", 5)? as usize
    };
    let window = Duration::from_secs(if quick {
        1
    } else {
        common::env_count("WARDEN_IDLE_SECONDS", 10)?
    });

    let empty = tempfile::tempdir()?;
    let ten = folder(&ten_plugins())?;
    let eleven = folder(&ten_plugins())?;
    let with_python = folder(&ten_plugins())?;
    // A restart finds component files that have sat in the folder a while:
    // a file written in the last two seconds is hashed at every start (its
    // digest is not remembered yet; see `warden::sandbox::Digests`).
    std::thread::sleep(Duration::from_millis(2500));
    let warm = tempfile::tempdir()?;
    // A restart happens where the server ran before: each warm case has a
    // workspace of its own (its lock written), sharing one warm cache.
    let ws: Vec<tempfile::TempDir> = (0..5)
        .map(|_| workspace(warm.path()))
        .collect::<anyhow::Result<_>>()?;
    // Fill the warm cache, and learn how many tools a complete list has.
    let full = start_once(ten.path(), ws[1].path(), &["--wait-for-plugins"], 0)?;
    let expected = full.first_tools;
    ensure!(expected > 0, "the ten plugins listed no tools");
    let text = warden_test_artifacts::TEXT_WASM;
    let alone = folder(&[("extra", text)])?;
    let text_tools =
        start_once(alone.path(), ws[3].path(), &["--wait-for-plugins"], 0)?.first_tools;
    // The Python example plugin (componentize-py, about 18 MB), built from
    // source like the others: a plugin that takes seconds to compile.
    let python = warden_test_artifacts::DATA_WASM;
    // Named so that no example manifest is copied beside it: it needs no
    // grant to load.
    let python_alone = folder(&[("python", python)])?;
    let python_tools = start_once(
        python_alone.path(),
        ws[4].path(),
        &["--wait-for-plugins"],
        0,
    )?
    .first_tools;
    ensure!(python_tools > 0, "the Python plugin listed no tools");
    for (plugins, ws) in [
        (empty.path(), &ws[0]),
        (ten.path(), &ws[1]),
        (ten.path(), &ws[2]),
    ] {
        start_once(plugins, ws.path(), &[], 0)?;
    }
    let settled = start_once(ten.path(), ws[1].path(), &[], expected)?;
    ensure!(
        settled.first_tools == expected,
        "the warm cache is not warm"
    );

    // (name, plugins, workspace (`None`: a new one with a cold cache), extra
    // arguments, tools in the complete list)
    type Case<'a> = (&'a str, &'a Path, Option<&'a Path>, &'a [&'a str], usize);
    let cases: [Case; 6] = [
        ("empty folder", empty.path(), Some(ws[0].path()), &[], 0),
        ("10 plugins, cold cache", ten.path(), None, &[], expected),
        (
            "10 plugins, warm cache",
            ten.path(),
            Some(ws[1].path()),
            &[],
            expected,
        ),
        (
            "10 plugins, warm cache, --wait-for-plugins",
            ten.path(),
            Some(ws[2].path()),
            &["--wait-for-plugins"],
            expected,
        ),
        (
            "10 cached plugins + 1 not cached",
            eleven.path(),
            Some(ws[3].path()),
            &[],
            expected + text_tools,
        ),
        (
            "10 cached + 18 MB Python plugin not cached",
            with_python.path(),
            Some(ws[4].path()),
            &[],
            expected + python_tools,
        ),
    ];
    let mut samples: Vec<Vec<Started>> = cases.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (i, (_, plugins, cwd, extra, expected)) in cases.iter().enumerate() {
            let cold_cache = tempfile::tempdir()?;
            let cold_ws = workspace(cold_cache.path())?;
            if i == 4 {
                std::fs::write(
                    plugins.join("extra.wasm"),
                    uncached_copy(text, round as u64 + 1)?,
                )?;
            }
            if i == 5 {
                std::fs::write(
                    plugins.join("python.wasm"),
                    uncached_copy(python, round as u64 + 1)?,
                )?;
            }
            let cwd = cwd.unwrap_or(cold_ws.path());
            samples[i].push(start_once(plugins, cwd, extra, *expected)?);
        }
    }

    println!(
        "Warden start: process start to tools/list over stdio, {rounds} round(s), cases alternating"
    );
    println!(
        "{:<44} {:>16} {:>12} {:>18}",
        "case", "first list ms", "tools first", "complete list ms"
    );
    for ((name, ..), runs) in cases.iter().zip(&samples) {
        let mut first: Vec<Duration> = runs.iter().map(|s| s.first).collect();
        let mut complete: Vec<Duration> = runs.iter().map(|s| s.complete).collect();
        first.sort();
        complete.sort();
        let mut tools: Vec<String> = runs.iter().map(|s| s.first_tools.to_string()).collect();
        tools.dedup();
        println!(
            "{name:<44} {:>16} {:>12} {:>18}",
            format!(
                "{} ({}-{})",
                ms(percentile(&first, 0.5)),
                ms(first[0]),
                ms(first[first.len() - 1])
            ),
            tools.join("/"),
            ms(percentile(&complete, 0.5)),
        );
    }
    let empty_first = percentile(&sorted(samples[0].iter().map(|s| s.first).collect()), 50.0);
    let warm_first = percentile(&sorted(samples[2].iter().map(|s| s.first).collect()), 50.0);
    println!(
        "warm start / empty folder: {:.2}x",
        warm_first.as_secs_f64() / empty_first.as_secs_f64()
    );

    println!("\nWarden idle ({} s window, warm cache)", window.as_secs());
    println!(
        "empty folder: {}",
        idle(empty.path(), ws[0].path(), window)?
    );
    println!("10 plugins:   {}", idle(ten.path(), ws[1].path(), window)?);
    if quick {
        println!("(smoke run: too few rounds for the figures to mean anything)");
    }
    Ok(())
}

fn sorted(mut durations: Vec<Duration>) -> Vec<Duration> {
    durations.sort();
    durations
}
