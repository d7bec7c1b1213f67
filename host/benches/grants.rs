//! What capability grants cost, measured through `Sandbox::call`:
//!
//! 1. **Unused grants.** The hostile fixture's `echo` (which touches no
//!    capability) with no grants, then with a plugin's worth of grants it does
//!    not use: 16 HTTP origins, 4 preopened directories (2 read-write) and 8
//!    environment variables. The per-call WASI context carries the preopens
//!    and variables, so this is what granting costs a call that uses none.
//! 2. **Denied requests.** The `fetch` example plugin asks for a URL on an
//!    origin it was not granted, against an allowed request to a local server
//!    that answers after [`SERVER_DELAY`] (a stand-in for a network round
//!    trip). The denial is decided in the wasi-http hook before any
//!    connection: the server counts the connections it accepted.
//!
//! 3. **Asked.** Under `[policy] ask`, the same request to an origin that is
//!    not granted asks the person through the call's client (here a client
//!    that answers at once): allowed once, it goes out like the allowed
//!    request; denied, it fails like a denial. The difference is what a
//!    permission question costs besides the person's time.
//!
//! 4. **Held directories.** The `files` example reads a small file from a
//!    directory that is granted, against the same directory held (requested,
//!    not approved) under `[policy] ask`: asked and allowed once (the
//!    placeholder's handle is swapped for the directory), or denied.
//!
//! Cases are interleaved in small batches so that a noisy machine slows them
//! alike; compare the ratios of one run.
//!
//! ```text
//! cargo bench -p warden --bench grants
//! WARDEN_BENCH_ITERS=500 cargo bench -p warden --bench grants
//! # The connector's own cost: a local server that answers after 1 ms.
//! WARDEN_BENCH_SERVER_DELAY_MS=1 cargo bench -p warden --bench grants
//! ```
//!
//! Under `cargo test --benches` it runs a few iterations as a smoke test.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use ::warden::limits::Limits;
use ::warden::policy::grants::{
    AskedDir, DirPreopen, EnvGrant, Grants, HttpAsk, HttpGrant, Secret,
};
use ::warden::policy::manifest::{DirGrant, DirMode};
use ::warden::sandbox::{
    CallContext, ClientLinks, ClientPeer, ClientRequest, ClientSupport, CompiledPlugin, PeerError,
    Sandbox,
};

/// Samples per case in a full run (`WARDEN_BENCH_ITERS` overrides).
const DEFAULT_ITERS: usize = 2000;
/// Samples per case in a smoke run.
const QUICK_ITERS: usize = 5;
/// Calls of one case before the next case's turn.
const BATCH: usize = 25;
/// Case labels the report compares.
const UNUSED: &str = "echo, unused grants (16 origins, 4 dirs, 8 vars)";
const ONLY_HTTP: &str = "echo, unused: 16 origins only";
const ONLY_ENV: &str = "echo, unused: 8 variables only";
const ONLY_DIRS: &str = "echo, unused: 4 directories only";
const DENIED: &str = "fetch, denied origin (no grant)";
const DENIED_PORT: &str = "fetch, denied origin (another port)";
const ALLOWED: &str = "fetch, allowed (local server, delayed)";
const ASKED_ONCE: &str = "fetch, not granted, asked: allowed once";
const ASKED_DENIED: &str = "fetch, not granted, asked: denied";
const DIR_GRANTED: &str = "files read, granted directory";
const DIR_ONCE: &str = "files read, held directory, asked: allowed once";
const DIR_DENIED: &str = "files read, held directory, asked: denied";
/// How long the local server waits before answering, unless
/// `WARDEN_BENCH_SERVER_DELAY_MS` says otherwise.
const SERVER_DELAY: Duration = Duration::from_millis(20);

fn main() -> anyhow::Result<()> {
    let quick = common::smoke_run();
    let default = if quick { QUICK_ITERS } else { DEFAULT_ITERS };
    let iters = usize::try_from(common::env_count("WARDEN_BENCH_ITERS", default as u64)?)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?
        .block_on(run(quick, iters))
}

/// One measured call: a plugin, its grants, a tool and its arguments.
struct Case {
    label: &'static str,
    plugin: Arc<CompiledPlugin>,
    grants: Arc<Grants>,
    tool: &'static str,
    arguments: String,
    expect_error: bool,
    /// The client that answers permission questions, if any.
    person: Option<Arc<dyn ClientPeer>>,
    samples: Vec<Duration>,
}

/// A client whose person answers every permission question with `answer`
/// at once.
#[derive(Debug)]
struct Person {
    answer: &'static str,
}

#[async_trait::async_trait]
impl ClientPeer for Person {
    fn support(&self) -> ClientSupport {
        ClientSupport {
            elicitation_form: true,
            ..ClientSupport::default()
        }
    }

    async fn ask(
        &self,
        batch: Vec<(String, ClientRequest)>,
    ) -> Vec<Result<serde_json::Value, PeerError>> {
        let answer = serde_json::json!({"action": "accept", "content": {"answer": self.answer}});
        batch.iter().map(|_| Ok(answer.clone())).collect()
    }
}

async fn run(quick: bool, iters: usize) -> anyhow::Result<()> {
    let config = ::warden::config::Config::default();
    let sandbox = Sandbox::new(&::warden::cli::engine_settings(&config))?;
    let compile = |path: &str| -> anyhow::Result<Arc<CompiledPlugin>> {
        let bytes = std::fs::read(path).with_context(|| format!("read {path}"))?;
        Ok(Arc::new(sandbox.compile(&bytes)?))
    };
    let hostile = compile(warden_test_artifacts::HOSTILE_WASM)?;
    let fetch = compile(warden_test_artifacts::FETCH_WASM)?;
    let files = compile(warden_test_artifacts::FILES_WASM)?;

    let workspace = tempfile::tempdir()?;
    let dirs = (0..4)
        .map(|i| {
            let host = workspace.path().join(format!("dir{i}"));
            std::fs::create_dir(&host)?;
            DirPreopen::open_absolute(
                &host,
                &format!("/data{i}"),
                if i < 2 {
                    DirMode::ReadWrite
                } else {
                    DirMode::ReadOnly
                },
            )
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let unused = Grants {
        http: HttpGrant {
            origins: (0..16)
                .map(|i| format!("https://api{i}.example.com").parse())
                .collect::<Result<_, _>>()?,
            ..HttpGrant::default()
        },
        dirs,
        env: (0..8)
            .map(|i| EnvGrant {
                name: format!("SETTING_{i}"),
                value: Secret::new(format!("value {i}")),
            })
            .collect(),
        ..Grants::default()
    };

    let (unused_http, unused_env, unused_dirs) =
        (unused.http.clone(), unused.env.clone(), unused.dirs.clone());
    let (addr, connections) = delayed_server().await?;
    let allowed = Grants {
        http: HttpGrant {
            origins: vec![format!("http://{addr}").parse()?],
            ..HttpGrant::default()
        },
        ..Grants::default()
    };
    let echo = serde_json::json!({ "text": "Warden grants nothing unless asked" }).to_string();
    let fetch_args = |url: String| serde_json::json!({ "url": url }).to_string();
    let mut cases = vec![
        Case::new(
            "echo, no grants",
            &hostile,
            Grants::default(),
            "echo",
            &echo,
            false,
        ),
        Case::new(UNUSED, &hostile, unused, "echo", &echo, false),
        Case::new(
            DENIED,
            &fetch,
            Grants::default(),
            "get",
            &fetch_args("http://127.0.0.1:9/".into()),
            true,
        ),
        Case::new(
            DENIED_PORT,
            &fetch,
            allowed.clone(),
            "get",
            &fetch_args(format!("http://127.0.0.1:{}/", addr.port() + 1)),
            true,
        ),
        Case::new(
            ALLOWED,
            &fetch,
            allowed,
            "get",
            &fetch_args(format!("http://{addr}/")),
            false,
        ),
    ];
    let asking = Grants {
        http: HttpGrant {
            ask: HttpAsk::Any,
            ..HttpGrant::default()
        },
        ..Grants::default()
    };
    for (label, answer, expect_error) in [(ASKED_ONCE, "once", false), (ASKED_DENIED, "deny", true)]
    {
        let mut case = Case::new(
            label,
            &fetch,
            asking.clone(),
            "get",
            &fetch_args(format!("http://{addr}/")),
            expect_error,
        );
        case.person = Some(Arc::new(Person { answer }));
        cases.push(case);
    }

    let notes = workspace.path().join("notes");
    std::fs::create_dir(&notes)?;
    std::fs::write(notes.join("note.md"), "a short note\n")?;
    let granted = DirPreopen::open_absolute(&notes, "/notes", DirMode::ReadOnly)?;
    let held = Grants {
        asked_dirs: vec![AskedDir {
            dir: granted.clone(),
            request: DirGrant {
                host: "notes".into(),
                guest: "/notes".parse()?,
                mode: DirMode::ReadOnly,
            },
            granted_read_only: false,
        }],
        ..Grants::default()
    };
    let read = r#"{"path": "/notes/note.md"}"#;
    cases.push(Case::new(
        DIR_GRANTED,
        &files,
        Grants {
            dirs: vec![granted],
            ..Grants::default()
        },
        "read",
        read,
        false,
    ));
    for (label, answer, expect_error) in [(DIR_ONCE, "once", false), (DIR_DENIED, "deny", true)] {
        let mut case = Case::new(label, &files, held.clone(), "read", read, expect_error);
        case.person = Some(Arc::new(Person { answer }));
        cases.push(case);
    }

    for (label, grants) in [
        (
            ONLY_HTTP,
            Grants {
                http: unused_http,
                ..Grants::default()
            },
        ),
        (
            ONLY_ENV,
            Grants {
                env: unused_env,
                ..Grants::default()
            },
        ),
        (
            ONLY_DIRS,
            Grants {
                dirs: unused_dirs,
                ..Grants::default()
            },
        ),
    ] {
        cases.push(Case::new(label, &hostile, grants, "echo", &echo, false));
    }
    for case in &mut cases {
        case.once(&sandbox).await?;
    }
    let before = connections.load(Ordering::Relaxed);
    let mut done = 0;
    while done < iters {
        let n = BATCH.min(iters - done);
        for case in &mut cases {
            // The allowed fetch waits out the server's delay: fewer samples.
            let n = if case.expect_error || case.tool != "get" {
                n
            } else {
                n.div_ceil(10)
            };
            for _ in 0..n {
                let sample = case.once(&sandbox).await?;
                case.samples.push(sample);
            }
        }
        done += n;
    }
    let p50 = |label: &str| {
        let case = cases.iter().find(|c| c.label == label).expect(label);
        percentiles(&case.samples).0.as_secs_f64()
    };
    let count = |label: &str| {
        cases
            .iter()
            .find(|c| c.label == label)
            .expect(label)
            .samples
            .len()
    };
    let allowed_calls = (count(ALLOWED) + count(ASKED_ONCE)) as u32;
    let accepted = connections.load(Ordering::Relaxed) - before;

    println!("Warden capability-grant benchmark");
    println!(
        "mode: {}, up to {iters} samples per case, interleaved in batches of {BATCH}",
        if quick { "smoke (cargo test)" } else { "full" }
    );
    println!();
    println!(
        "{:<52} {:>8} {:>10} {:>10}",
        "case", "samples", "p50", "p90"
    );
    for case in &cases {
        let (p50, p90) = percentiles(&case.samples);
        println!(
            "{:<52} {:>8} {:>10} {:>10}",
            case.label,
            case.samples.len(),
            micros(p50),
            micros(p90)
        );
    }
    println!();
    let none = "echo, no grants";
    for (label, case) in [
        ("unused grants / no grants (echo)", UNUSED),
        ("  16 origins only / no grants", ONLY_HTTP),
        ("  8 variables only / no grants", ONLY_ENV),
        ("  4 directories only / no grants", ONLY_DIRS),
        ("denied (no grant) / echo, no grants", DENIED),
    ] {
        println!("{label:<40} {:.2}x", p50(case) / p50(none));
    }
    for (label, case, base) in [
        ("denied (other port) / allowed fetch", DENIED_PORT, ALLOWED),
        ("asked, allowed once / allowed fetch", ASKED_ONCE, ALLOWED),
        ("asked, denied / denied (no grant)", ASKED_DENIED, DENIED),
        (
            "held dir, allowed once / granted dir",
            DIR_ONCE,
            DIR_GRANTED,
        ),
        ("held dir, denied / granted dir", DIR_DENIED, DIR_GRANTED),
    ] {
        println!("{label:<40} {:.3}x", p50(case) / p50(base));
    }
    println!(
        "connections the local server accepted: {accepted} (allowed calls: {allowed_calls}; \
         denied calls: {})",
        count(DENIED) + count(DENIED_PORT) + count(ASKED_DENIED)
    );
    ensure!(
        accepted == allowed_calls,
        "a denied request reached the server: {accepted} connections for {allowed_calls} allowed calls"
    );
    if quick {
        println!("(smoke run: too few samples for the figures to mean anything)");
    }
    Ok(())
}

impl Case {
    fn new(
        label: &'static str,
        plugin: &Arc<CompiledPlugin>,
        grants: Grants,
        tool: &'static str,
        arguments: &str,
        expect_error: bool,
    ) -> Self {
        Self {
            label,
            plugin: plugin.clone(),
            grants: Arc::new(grants),
            tool,
            arguments: arguments.to_string(),
            expect_error,
            person: None,
            samples: Vec::new(),
        }
    }

    /// One call, checked: the error cases must fail, the others succeed.
    async fn once(&self, sandbox: &Sandbox) -> anyhow::Result<Duration> {
        let ctx = CallContext {
            plugin: "bench".into(),
            tool: Some(self.tool.into()),
            client: ClientLinks {
                peer: self.person.clone(),
                ..ClientLinks::default()
            },
            ahead: true,
        };
        let started = Instant::now();
        let report = sandbox
            .call(
                &self.plugin,
                &Limits::DEFAULTS,
                &self.grants,
                ctx,
                self.tool,
                &self.arguments,
            )
            .await;
        let elapsed = started.elapsed();
        let outcome = report.outcome.map_err(anyhow::Error::from)?;
        match (outcome, self.expect_error) {
            (Ok(_), false) => {}
            (Err(_), true) if !report.denials.is_empty() => {}
            (outcome, _) => bail!(
                "{}: unexpected outcome {outcome:?} (denials: {:?})",
                self.label,
                report.denials
            ),
        }
        Ok(elapsed)
    }
}

/// An HTTP/1.1 server on 127.0.0.1 that answers every request with a short
/// body after [`SERVER_DELAY`], counting the connections it accepts.
async fn delayed_server() -> anyhow::Result<(SocketAddr, Arc<AtomicU32>)> {
    let delay = Duration::from_millis(common::env_count(
        "WARDEN_BENCH_SERVER_DELAY_MS",
        SERVER_DELAY.as_millis() as u64,
    )?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let connections = Arc::new(AtomicU32::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                tokio::time::sleep(delay).await;
                let body = "hello from the local server";
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok((addr, connections))
}

fn percentiles(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

fn micros(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}
