//! Host resources a call makes the host hold (handles, host memory, open
//! files, written bytes) and notifications a call makes the host send are
//! charged to that call: the `hog` fixture tries each without end against
//! the real `warden serve`, each attack ends with an `isError` result naming
//! its limit, other plugins keep working during and after, and the server's
//! resident memory comes back to where it was.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, NumberOrString,
    ProgressNotificationParam, ProgressToken, ProtocolVersion, RequestParamsMeta,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient};
use serde_json::{Value, json};

use crate::support::{WARDEN, error_text, ok_text};

/// How far above its level before the attacks the server's resident memory
/// may stay after them (allocator slack, lazily grown runtime structures).
const RSS_TOLERANCE: u64 = 8 << 20;

/// A client that counts notifications.
#[derive(Debug, Clone, Default)]
struct Counter {
    progress: Arc<Mutex<Vec<f64>>>,
    list_changed: Arc<AtomicU64>,
}

impl ClientHandler for Counter {
    fn get_info(&self) -> ClientConfig {
        crate::support::client_config(
            "warden-e2e-counter",
            ClientCapabilities::default(),
            ProtocolVersion::V_2025_11_25,
        )
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params.progress);
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.list_changed.fetch_add(1, Ordering::Relaxed);
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.list_changed.fetch_add(1, Ordering::Relaxed);
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.list_changed.fetch_add(1, Ordering::Relaxed);
    }
}

/// A `warden serve` with the `hog` plugin (with `hog_manifest`) and its
/// copy `calm` (the well-behaved neighbour, with its own grant), started in
/// a workspace with `data/hog/big.txt` and `data/calm/note.txt`.
struct Warden {
    client: RunningService<RoleClient, Counter>,
    counter: Counter,
    pid: u32,
    log: PathBuf,
    workspace: tempfile::TempDir,
    _plugins: tempfile::TempDir,
}

/// The `hog` manifest: its workspace grant and extra `[limits]` lines.
fn hog_manifest(mode: &str, limits: &str) -> String {
    format!(
        "manifest_version = 1\nname = \"hog\"\n\
         [[capabilities.dirs]]\nhost = \"data/hog\"\nguest = \"/data\"\nmode = \"{mode}\"\n\
         [limits]\ntimeout = \"20s\"\n{limits}\n"
    )
}

impl Warden {
    async fn start(hog: &str) -> Self {
        let workspace = tempfile::tempdir().expect("workspace");
        for (dir, file, text) in [("hog", "big.txt", "hog"), ("calm", "note.txt", "calm note")] {
            let dir = workspace.path().join("data").join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(file), text).unwrap();
        }
        let plugins = tempfile::tempdir().expect("plugins");
        for name in ["hog", "calm"] {
            std::fs::copy(
                warden_test_artifacts::HOG_WASM,
                plugins.path().join(format!("{name}.wasm")),
            )
            .unwrap();
        }
        std::fs::write(plugins.path().join("hog.toml"), hog).unwrap();
        std::fs::write(
            plugins.path().join("calm.toml"),
            "manifest_version = 1\nname = \"calm\"\n\
             [[capabilities.dirs]]\nhost = \"data/calm\"\nguest = \"/data\"\nmode = \"ro\"\n",
        )
        .unwrap();
        let log = workspace.path().join("warden.log");
        let stderr = std::fs::File::create(&log).unwrap();
        let plugins_dir = plugins.path().to_path_buf();
        let cwd = workspace.path().to_path_buf();
        let command = tokio::process::Command::new(WARDEN).configure(|cmd| {
            cmd.arg("--log-format")
                .arg("json")
                .arg("serve")
                .env("WARDEN_WAIT_FOR_PLUGINS", "1")
                .arg("--plugins")
                .arg(&plugins_dir)
                .env("WARDEN_LOG", "warden=info")
                // As many operators run it: host errors capture backtraces.
                .env("RUST_BACKTRACE", "1")
                .env_remove("WARDEN_CONFIG")
                .env_remove("WARDEN_PLUGINS")
                .current_dir(&cwd);
        });
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn warden");
        let pid = transport.id().expect("the server's pid");
        let counter = Counter::default();
        let client = counter
            .clone()
            .serve_with_lifecycle(transport, ClientLifecycleMode::Initialize)
            .await
            .expect("connect to warden");
        Self {
            client,
            counter,
            pid,
            log,
            workspace,
            _plugins: plugins,
        }
    }

    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object");
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
            .await
            .unwrap_or_else(|e| panic!("tools/call {tool}: {e}"))
    }

    /// The neighbour still reads its file.
    async fn calm_reads(&self) {
        let result = self
            .call("calm_read_file", json!({"path": "/data/note.txt"}))
            .await;
        assert_eq!(ok_text(&result), "calm note");
    }

    /// The server's resident set size, in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib << 10
    }

    /// Waits until the resident size is at most `limit` (freed memory is
    /// handed back right after a call, on another thread); returns it.
    async fn rss_settles_below(&self, limit: u64) -> u64 {
        let mut rss = self.rss();
        for _ in 0..40 {
            if rss <= limit {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            rss = self.rss();
        }
        rss
    }

    /// The server's log lines.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn stop(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.cancel()).await;
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// Runs `attack` `rounds` times, checking each ends with a message
/// containing `expected`; returns the messages.
async fn attack(server: &Warden, tool: &str, arguments: Value, expected: &str) -> String {
    let message = error_text(&server.call(tool, arguments).await);
    assert!(message.contains(expected), "{tool}: {message}");
    message
}

#[tokio::test]
async fn every_host_resource_attack_hits_its_limit_and_memory_comes_back() {
    let server = Warden::start(&hog_manifest("ro", "")).await;
    let attacks: [(&str, Value, &str); 4] = [
        ("hog_handles", json!({}), "handle limit exceeded"),
        ("hog_pollables", json!({}), "handle limit exceeded"),
        ("hog_headers", json!({}), "host memory limit exceeded"),
        ("hog_bodies", json!({}), "host memory limit exceeded"),
    ];
    // Warm up: every code path once, so that lazily built structures (the
    // instance pool's slots, the runtime's workers) exist before the baseline.
    for (tool, arguments, expected) in &attacks {
        attack(&server, tool, arguments.clone(), expected).await;
    }
    server.calm_reads().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = server.rss();

    let mut peak = 0;
    for round in 0..3 {
        for (tool, arguments, expected) in &attacks {
            let message = attack(&server, tool, arguments.clone(), expected).await;
            if round == 0 {
                eprintln!("{tool}: {message}");
            }
            peak = peak.max(server.rss());
        }
        server.calm_reads().await;
    }
    let after = server.rss_settles_below(baseline + RSS_TOLERANCE / 2).await;
    eprintln!(
        "RSS: baseline {:.1} MiB, highest seen between calls {:.1} MiB, after {:.1} MiB",
        mib(baseline),
        mib(peak),
        mib(after)
    );
    assert!(
        after <= baseline + RSS_TOLERANCE,
        "the server kept {:.1} MiB more than before the attacks",
        mib(after.saturating_sub(baseline))
    );
    let echo = server.call("hog_echo", json!({"text": "healthy"})).await;
    assert_eq!(ok_text(&echo), "healthy");
    server.stop().await;
}

#[tokio::test]
async fn host_errors_give_plugins_no_backtrace_and_cost_no_symbolization() {
    let big = crate::http::TestServer::start().await;
    big.route(
        "/big",
        crate::http::Reply::ok("text/plain", vec![b'a'; (8 << 20) + 1]),
    );
    let origin = format!("http://127.0.0.1:{}", big.port());
    let manifest = format!(
        "manifest_version = 1\nname = \"hog\"\n[capabilities]\nhttp = [{origin:?}]\n\
         [limits]\ntimeout = \"20s\"\n"
    );
    let server = Warden::start(&manifest).await;
    let before = server.rss();
    // Under the default host_memory limit: formatting the error with its
    // backtrace used to symbolize Warden's binary, about 130 MB, on the
    // call's behalf.
    let result = server
        .call(
            "hog_body_error",
            json!({ "url": format!("{origin}/big"), "times": 3 }),
        )
        .await;
    let message = ok_text(&result);
    assert!(
        message.contains("8388608"),
        "the plugin is told which limit it hit: {message}"
    );
    for leak in ["backtrace", ".rs:", "/rustc/", "0x"] {
        assert!(
            !message.contains(leak),
            "the host's stack leaked to the plugin ({leak}): {message}"
        );
    }
    assert!(message.len() <= 4096, "{} bytes", message.len());
    let after = server.rss_settles_below(before + RSS_TOLERANCE).await;
    assert!(
        after <= before + RSS_TOLERANCE,
        "the server kept {:.1} MiB more than before",
        mib(after.saturating_sub(before))
    );
    server.stop().await;
}

#[tokio::test]
async fn the_host_memory_limit_is_tunable_and_named_with_its_value() {
    let server = Warden::start(&hog_manifest("ro", "host_memory = \"8MiB\"")).await;
    let message = attack(
        &server,
        "hog_headers",
        json!({}),
        "host memory limit exceeded",
    )
    .await;
    assert!(message.contains("over the limit of 8 MiB"), "{message}");
    let spans = server.log();
    assert!(spans.contains("host_memory"), "the log names the limit");
    server.stop().await;
}

#[tokio::test]
async fn descriptor_hogs_at_once_do_not_starve_another_plugins_files() {
    let server = Warden::start(&hog_manifest("ro", "")).await;
    // Many calls each trying to hold every descriptor of the process.
    let hogs: Vec<_> = (0..12)
        .map(|_| server.call("hog_open_files", json!({"path": "/data/big.txt"})))
        .collect();
    let neighbour = async {
        for _ in 0..20 {
            server.calm_reads().await;
        }
    };
    let (results, ()) = tokio::join!(futures_join_all(hogs), neighbour);
    for result in results {
        let message = error_text(&result);
        assert!(
            message.contains("open file limit exceeded") && message.contains("max_open_files"),
            "{message}"
        );
    }
    server.calm_reads().await;
    server.stop().await;
}

#[tokio::test]
async fn the_open_file_limit_counts_files_held_at_once() {
    let server = Warden::start(&hog_manifest("ro", "max_open_files = 16")).await;
    let opened = server
        .call(
            "hog_open_files",
            json!({"path": "/data/big.txt", "count": 16}),
        )
        .await;
    assert_eq!(ok_text(&opened), "opened 16");
    let message = attack(
        &server,
        "hog_open_files",
        json!({"path": "/data/big.txt", "count": 17}),
        "open file limit exceeded",
    )
    .await;
    assert!(message.contains("more than 16 files"), "{message}");
    server.stop().await;
}

#[tokio::test]
async fn a_huge_write_hits_the_write_limit() {
    let server = Warden::start(&hog_manifest("rw", "max_write = \"8MiB\"")).await;
    let small = server
        .call(
            "hog_write_file",
            json!({"path": "/data/small.bin", "bytes": 4 << 20}),
        )
        .await;
    assert_eq!(ok_text(&small), format!("wrote {}", 4 << 20));
    let message = attack(
        &server,
        "hog_write_file",
        json!({"path": "/data/huge.bin"}),
        "write limit exceeded",
    )
    .await;
    assert!(message.contains("more than 8 MiB"), "{message}");
    let size = std::fs::metadata(server.workspace.path().join("data/hog/huge.bin"))
        .unwrap()
        .len();
    assert!(size <= 8 << 20, "{size} bytes reached the disk");
    server.calm_reads().await;
    server.stop().await;
}

#[tokio::test]
async fn a_progress_flood_is_coalesced_and_the_last_value_arrives() {
    let server = Warden::start(&hog_manifest("ro", "")).await;
    let count = 300_000;
    let mut params = CallToolRequestParams::new("hog_progress")
        .with_arguments(json!({"count": count}).as_object().unwrap().clone());
    params.set_progress_token(ProgressToken(NumberOrString::Number(7)));
    let result = server.client.call_tool(params).await.expect("tools/call");
    assert_eq!(ok_text(&result), "done");
    // The final report is sent before the result; give the client's handler
    // a moment to have seen it.
    for _ in 0..50 {
        if server.counter.progress.lock().unwrap().last() == Some(&f64::from(count)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = server.counter.progress.lock().unwrap().clone();
    eprintln!(
        "{} progress notifications for {count} reports",
        received.len()
    );
    assert!(!received.is_empty());
    assert!(
        received.len() < 100,
        "{} notifications reached the client",
        received.len()
    );
    assert_eq!(received.last(), Some(&f64::from(count)), "the final value");
    server.stop().await;
}

#[tokio::test]
async fn an_announcement_flood_refreshes_rarely_and_notifies_only_real_changes() {
    let server = Warden::start(&hog_manifest("ro", "")).await;
    let calls: Vec<_> = (0..60)
        .map(|_| server.call("hog_announce", json!({"times": 100})))
        .collect();
    for result in futures_join_all(calls).await {
        assert_eq!(ok_text(&result), "announced");
    }
    // Let the last (trailing) refresh run.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let refreshes = server.log().matches("plugin lists refreshed").count();
    eprintln!("60 announcing calls: {refreshes} refreshes");
    assert!(refreshes >= 1, "the last announcement is acted on");
    assert!(refreshes < 60, "{refreshes} refreshes for 60 calls");
    assert_eq!(
        server.counter.list_changed.load(Ordering::Relaxed),
        0,
        "the lists did not change, so no client is told they did"
    );
    server.calm_reads().await;
    server.stop().await;
}

/// Awaits every future, in order.
async fn futures_join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *result = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().map(|r| r.expect("finished")));
    out
}
