//! Two `warden serve --http` replicas behind a real HAProxy (Debian's
//! package; `scripts/test` installs it), configured by the very file the
//! deployment docs ship, `deploy/haproxy/haproxy.cfg`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::remote_support::{Remote, sample, stateless_post};
use crate::support::Plugins;

/// How often HAProxy asks each replica's `/readyz` in these tests.
const CHECK_INTERVAL: &str = "100ms";
/// Columns of HAProxy's stats CSV: requests redispatched, and the status.
const WREDIS: usize = 16;
const STATUS: usize = 17;
/// The replicas' names, as the HAProxy config expects them.
const NAMES: [&str; 2] = ["warden-0", "warden-1"];

/// HAProxy on loopback, in the foreground, with the shipped config.
struct Haproxy {
    child: Child,
    /// `http://127.0.0.1:PORT/mcp`.
    mcp: String,
    /// `http://127.0.0.1:PORT/stats;csv`.
    stats: String,
}

impl Haproxy {
    fn start(replicas: &[&Remote; 2]) -> Self {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy/haproxy.cfg");
        let (proxy, stats) = (free_port(), free_port());
        let child = Command::new(haproxy())
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .env("PROXY_ADDR", format!("127.0.0.1:{proxy}"))
            .env("STATS_ADDR", format!("127.0.0.1:{stats}"))
            .env("WARDEN_0_ADDR", addr(replicas[0]))
            .env("WARDEN_1_ADDR", addr(replicas[1]))
            .env("CHECK_INTERVAL", CHECK_INTERVAL)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn haproxy");
        Self {
            child,
            mcp: format!("http://127.0.0.1:{proxy}/mcp"),
            stats: format!("http://127.0.0.1:{stats}/stats;csv"),
        }
    }

    /// Each server's row of the stats CSV, split into columns.
    async fn servers(&self) -> Vec<Vec<String>> {
        let Ok(response) = reqwest::get(&self.stats).await else {
            return Vec::new();
        };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .filter(|line| line.starts_with("warden,warden-"))
            .map(|line| line.split(',').map(str::to_owned).collect())
            .collect()
    }

    /// One column of `server`'s row.
    async fn column(&self, server: &str, column: usize) -> String {
        let servers = self.servers().await;
        servers
            .into_iter()
            .find(|row| row[1] == server)
            .map(|row| row[column].clone())
            .unwrap_or_default()
    }

    /// Waits until both replicas are up.
    async fn wait_up(&self) {
        let started = Instant::now();
        loop {
            let servers = self.servers().await;
            if servers.len() == 2 && servers.iter().all(|row| row[STATUS] == "UP") {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "HAProxy did not see both replicas up: {servers:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HAProxy binary: `WARDEN_TEST_HAPROXY`, else `haproxy` on the PATH or
/// in `/usr/sbin`. Missing is a failure, not a skip.
fn haproxy() -> PathBuf {
    if let Some(path) = std::env::var_os("WARDEN_TEST_HAPROXY") {
        return path.into();
    }
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|path| path.is_file());
    found.expect("HAProxy is needed: `apt-get install haproxy` (scripts/test installs it)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn addr(remote: &Remote) -> &str {
    remote.base.trim_start_matches("http://")
}

/// Two replicas serving the hostile plugin, named `warden-0` and `warden-1`.
fn replicas(dir: &Path, plugins: &Path, config: &str) -> [Remote; 2] {
    NAMES.map(|name| {
        let home = dir.join(name);
        std::fs::create_dir_all(&home).unwrap();
        Remote::start(&home, config, plugins, &["--replica-id", name], &[])
    })
}

fn plugins() -> Plugins {
    Plugins::new().hostile(Some("manifest_version = 1\n"))
}

/// Configuration both replicas run with: no token (loopback), and no
/// per-IP limit (all requests come from the proxy's one address).
const CONFIG: &str = "[http]\nauth = \"off\"\nrate_limit = { per_second = 0 }\n";

/// The JSON-RPC response in a body that is JSON or an SSE stream.
fn rpc(body: &str) -> Value {
    let json = body
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .rfind(|data| !data.is_empty())
        .unwrap_or(body);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A stateless `hostile_echo` through `url`: the HTTP status and the text.
async fn echo(url: &str, id: u32, text: &str) -> (u16, String) {
    let params = json!({ "name": "hostile_echo", "arguments": { "text": text } });
    let response = match stateless_post(url, id, "tools/call", Some("hostile_echo"), params)
        .send()
        .await
    {
        Ok(response) => response,
        Err(e) => return (0, e.to_string()),
    };
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if status != 200 {
        return (status, body);
    }
    let reply = rpc(&body);
    let text = reply["result"]["content"][0]["text"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| reply.to_string());
    (status, text)
}

/// `hostile_echo` calls that ended well on `remote`, from its metrics.
async fn served(remote: &Remote) -> f64 {
    sample(
        &remote.metrics().await,
        r#"warden_tool_calls_total{plugin="hostile",tool="hostile_echo",outcome="ok"}"#,
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn stateless_requests_spread_and_sessions_keep_their_replica() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins();
    let [r0, r1] = replicas(dir.path(), plugins.path(), CONFIG);
    let proxy = Haproxy::start(&[&r0, &r1]);
    proxy.wait_up().await;

    for i in 0..20 {
        let text = format!("stateless {i}");
        assert_eq!(echo(&proxy.mcp, i, &text).await, (200, text));
    }
    let (a, b) = (served(&r0).await, served(&r1).await);
    assert_eq!(a + b, 20.0);
    assert!(
        a >= 5.0 && b >= 5.0,
        "round robin spreads them: {a} and {b}"
    );

    // A 2025-11-25 session through the proxy: its id names its replica, and
    // every request of it goes there (the other replica would answer 404).
    let http = reqwest::Client::new();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "replicas-test", "version": "1" },
        },
    });
    let opened = http
        .post(&proxy.mcp)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (name, random) = session.split_once('.').expect("REPLICA.RANDOM");
    assert!(NAMES.contains(&name), "{session}");
    assert_eq!(random.len(), 32, "{session}");
    let (home, other) = if name == NAMES[0] {
        (&r0, &r1)
    } else {
        (&r1, &r0)
    };
    let session_post = |body: Value| {
        http.post(&proxy.mcp)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .header("mcp-session-id", &session)
            .body(body.to_string())
    };
    let initialized =
        session_post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .unwrap();
    assert_eq!(initialized.status(), 202);
    let (before_home, before_other) = (served(home).await, served(other).await);
    for i in 0..10 {
        let call = json!({
            "jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
            "params": { "name": "hostile_echo", "arguments": { "text": format!("session {i}") } },
        });
        let response = session_post(call).send().await.unwrap();
        assert_eq!(response.status(), 200, "call {i} of session {session}");
        let reply = rpc(&response.text().await.unwrap());
        assert_eq!(
            reply["result"]["content"][0]["text"],
            format!("session {i}")
        );
    }
    assert_eq!(served(home).await - before_home, 10.0);
    assert_eq!(served(other).await, before_other);

    // The other replica does not know the session: the proxy is what keeps
    // it on its replica.
    let direct = http
        .post(other.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", &session)
        .body(json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 404);
}

/// Stateless calls through the proxy from 4 clients until `stop`: every
/// response's status and whether its text was right.
async fn load(url: String, stop: Arc<AtomicBool>) -> Vec<(u16, bool)> {
    let mut clients = Vec::new();
    for client in 0..4u32 {
        let (url, stop) = (url.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut results = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let text = format!("client {client} call {i}");
                let (status, got) = echo(&url, i, &text).await;
                results.push((status, got == text));
                i += 1;
            }
            results
        }));
    }
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.unwrap());
    }
    all
}

/// How the test stops `warden-0`.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// SIGTERM, with this `http.drain_delay`.
    Term(&'static str),
    /// SIGKILL.
    Kill,
}

/// Stops one replica under load from 4 clients through the proxy, and
/// returns what every request got.
async fn stop_under_load(stop_how: Stop) -> Vec<(u16, bool)> {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins();
    let delay = match stop_how {
        Stop::Term(delay) => delay,
        Stop::Kill => "0s",
    };
    let config = format!("{CONFIG}drain_delay = \"{delay}\"\nshutdown_timeout = \"10s\"\n");
    let [mut r0, r1] = replicas(dir.path(), plugins.path(), &config);
    let proxy = Haproxy::start(&[&r0, &r1]);
    proxy.wait_up().await;

    let stop = Arc::new(AtomicBool::new(false));
    let clients = tokio::spawn(load(proxy.mcp.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        served(&r0).await > 0.0,
        "warden-0 took calls before the signal"
    );
    let r1_before = served(&r1).await;
    r0.signal(if stop_how == Stop::Kill {
        "KILL"
    } else {
        "TERM"
    });

    let started = Instant::now();
    let mut turned_out_while_serving = false;
    while r0.exited().is_none() {
        if proxy.column(NAMES[0], STATUS).await.starts_with("DOWN")
            && reqwest::get(r0.url("/healthz")).await.is_ok()
        {
            turned_out_while_serving = true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "warden-0 did not stop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Stop::Term(delay) = stop_how {
        assert!(r0.exited().unwrap().success(), "{}", r0.stderr());
        if delay != "0s" {
            assert!(
                turned_out_while_serving,
                "HAProxy saw warden-0 DOWN (its /readyz said draining) before it stopped"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let results = clients.await.unwrap();
    // Requests HAProxy sent again to another replica after warden-0 refused
    // them or could not be reached.
    let redispatched: u64 = proxy.column(NAMES[0], WREDIS).await.parse().unwrap();
    match stop_how {
        Stop::Term("0s") => assert!(redispatched > 0, "the refusals were retried"),
        Stop::Term(_) => assert_eq!(redispatched, 0, "turned out before any refusal"),
        Stop::Kill => {}
    }
    assert!(
        served(&r1).await > r1_before,
        "warden-1 took the calls after the signal"
    );
    results
}

/// The requests that did not get their right answer.
fn failures(results: &[(u16, bool)]) -> Vec<&(u16, bool)> {
    results.iter().filter(|(s, ok)| *s != 200 || !ok).collect()
}

fn none_failed(results: &[(u16, bool)]) {
    let failed = failures(results);
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        results.len()
    );
}

/// With a drain delay, `/readyz` turns the replica out of HAProxy while it
/// still serves, and nothing the clients sent is lost.
#[tokio::test]
async fn a_draining_replica_is_turned_out_first_and_loses_nothing() {
    let results = stop_under_load(Stop::Term("1s")).await;
    none_failed(&results);
}

/// Without a drain delay, the requests a stopping replica refuses (503,
/// never processed) and those a stopped one cannot take are retried by
/// HAProxy on the other replica: nothing is lost either.
#[tokio::test]
async fn requests_a_stopping_replica_refuses_are_retried_elsewhere() {
    let results = stop_under_load(Stop::Term("0s")).await;
    none_failed(&results);
}

/// A replica killed outright loses at most the calls it was running (the
/// proxy answers them 502: a call may have run, so it is not retried);
/// every request sent after is served by the other replica.
#[tokio::test]
async fn a_killed_replica_loses_only_the_calls_it_was_running() {
    let results = stop_under_load(Stop::Kill).await;
    let failed = failures(&results);
    assert!(
        failed.len() <= 4 && failed.iter().all(|(status, _)| *status == 502),
        "at most one call per client was in flight: {failed:?}"
    );
    assert!(
        results.len() > failed.len() * 10,
        "{} requests",
        results.len()
    );
}
