//! `warden serve --http`: bearer auth, Origin and Host checks, body and rate
//! limits, health, metrics, spans, audit and graceful shutdown, through real
//! HTTP clients (rmcp's Streamable HTTP client on both revisions, reqwest for
//! raw requests).

use serde_json::{Value, json};

use crate::remote_support::{Remote, TOKEN, call, json_lines, sample, stateless_post};
use crate::support::{Plugins, Revision, Server, error_text, ok_text};

/// Config for a server with the default protections and the test token in
/// `WARDEN_HTTP_TOKEN`.
const TOKEN_ENV: &[(&str, &str)] = &[("WARDEN_HTTP_TOKEN", TOKEN)];

/// A stateless (2026-07-28) `tools/list` as a raw JSON-RPC POST body.
fn stateless_tools_list() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/list",
        "params": { "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        }}
    })
}

/// POSTs `body` to `/mcp` with the MCP headers of a stateless request.
fn post_mcp(remote: &Remote, body: String) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(remote.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .body(body)
}

fn hostile() -> Plugins {
    Plugins::new().hostile(Some(
        "manifest_version = 1\n[limits]\nfuel = 50_000_000\ntimeout = \"30s\"\n",
    ))
}

#[tokio::test]
async fn bearer_token_missing_wrong_and_right() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = hostile();
    let remote = Remote::start(dir.path(), "", plugins.path(), &[], TOKEN_ENV);
    let http = reqwest::Client::new();

    let missing = post_mcp(&remote, stateless_tools_list().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"warden\""
    );
    let wrong = post_mcp(&remote, stateless_tools_list().to_string())
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.headers()["www-authenticate"],
        "Bearer realm=\"warden\", error=\"invalid_token\""
    );
    let metrics = http.get(remote.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 401, "/metrics needs the token too");
    assert!(
        remote
            .try_client(Revision::Legacy, Some("not-the-token"))
            .await
            .is_err()
    );

    // The right token works on both protocol revisions.
    for revision in [Revision::Legacy, Revision::Stateless] {
        let client = remote.client(revision, Some(TOKEN)).await;
        let result = call(&client, "hostile_echo", json!({ "text": "over http" })).await;
        assert_eq!(ok_text(&result), "over http", "{revision:?}");
        client.cancel().await.unwrap();
    }

    // Probes need no token.
    let health = http.get(remote.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({ "status": "ok" })
    );
    assert!(
        !remote.stderr().contains(TOKEN),
        "the token must never be logged"
    );
    let refused = remote
        .stderr()
        .lines()
        .filter(|l| l.contains("HTTP request refused: bad credentials"))
        .count();
    assert!(refused >= 3, "{}", remote.stderr());
}

#[tokio::test]
async fn auth_off_is_for_loopback_only_and_otherwise_a_token_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = hostile();
    let run = |config: &str, addr: &str| {
        std::fs::write(dir.path().join("warden.toml"), config).unwrap();
        std::process::Command::new(crate::support::WARDEN)
            .args(["serve", "--http", addr, "--plugins"])
            .env("WARDEN_WAIT_FOR_PLUGINS", "1")
            .arg(plugins.path())
            .arg("--config")
            .arg(dir.path().join("warden.toml"))
            .env_remove("WARDEN_HTTP_TOKEN")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run("[http]\nauth = \"off\"\n", "0.0.0.0:0");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "http.auth = \"off\" is only allowed on a loopback address (127.0.0.1 or ::1), and 0.0.0.0:0 is not"
        ),
        "{stderr}"
    );
    let out = run("", "127.0.0.1:0");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no bearer token for HTTP: set the environment variable WARDEN_HTTP_TOKEN"),
        "{stderr}"
    );

    // Explicitly off on loopback: no token needed.
    let remote = Remote::start(
        dir.path(),
        "[http]\nauth = \"off\"\n",
        plugins.path(),
        &[],
        &[],
    );
    let client = remote.client(Revision::Stateless, None).await;
    let result = call(&client, "hostile_echo", json!({ "text": "open" })).await;
    assert_eq!(ok_text(&result), "open");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn foreign_origins_are_refused_and_allowed_ones_served() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = hostile();
    let remote = Remote::start(
        dir.path(),
        "[http]\nallowed_origins = [\"https://app.example.com\"]\n",
        plugins.path(),
        &[],
        TOKEN_ENV,
    );
    let foreign = post_mcp(&remote, stateless_tools_list().to_string())
        .bearer_auth(TOKEN)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let allowed = post_mcp(&remote, stateless_tools_list().to_string())
        .bearer_auth(TOKEN)
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert!(allowed.text().await.unwrap().contains("hostile_echo"));
    // The server's own origin is same-origin, under any loopback name.
    let port = remote.base.rsplit(':').next().unwrap().to_string();
    for own in [remote.base.clone(), format!("http://localhost:{port}")] {
        let response = post_mcp(&remote, stateless_tools_list().to_string())
            .bearer_auth(TOKEN)
            .header("origin", &own)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "Origin {own}");
    }
    // A Host other than loopback names is refused on a loopback bind
    // (DNS rebinding).
    let rebound = post_mcp(&remote, stateless_tools_list().to_string())
        .bearer_auth(TOKEN)
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = hostile();
    let remote = Remote::start(
        dir.path(),
        "[http]\nmax_body = \"1KiB\"\n",
        plugins.path(),
        &[],
        TOKEN_ENV,
    );
    let mut body = stateless_tools_list();
    body["params"]["padding"] = json!("x".repeat(4096));
    let response = post_mcp(&remote, body.to_string())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let small = post_mcp(&remote, stateless_tools_list().to_string())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = hostile();
    let remote = Remote::start(
        dir.path(),
        "[http.rate_limit]\nper_second = 1\nburst = 2\n",
        plugins.path(),
        &[],
        TOKEN_ENV,
    );
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..10 {
        let response = http
            .get(remote.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            retry_after = response.headers().get("retry-after").cloned();
        }
    }
    assert_eq!(&statuses[..2], &[200, 200], "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let retry_after: u64 = retry_after
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    // Probes are not rate limited.
    for _ in 0..5 {
        let response = http.get(remote.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
}

/// A fetch plugin granted one origin where nothing listens.
fn fetch_granted_nothing() -> Plugins {
    Plugins::new()
        .component("fetch", warden_test_artifacts::FETCH_WASM)
        .manifest(
            "fetch",
            "manifest_version = 1\n[capabilities]\nhttp = [\"http://127.0.0.1:9\"]\n",
        )
}

#[tokio::test]
async fn readiness_and_metrics_reflect_plugins_and_known_calls() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = fetch_granted_nothing()
        .hostile(Some(
            "manifest_version = 1\n[limits]\nfuel = 50_000_000\ntimeout = \"30s\"\n",
        ))
        .raw("broken", b"not wasm");
    let remote = Remote::start(dir.path(), "", plugins.path(), &[], TOKEN_ENV);

    let ready: Value = reqwest::get(remote.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["plugins"]["loaded"], 2);
    assert_eq!(ready["plugins"]["failed"], 1);
    assert_eq!(ready["plugins"]["failed_names"], json!(["broken"]));

    let client = remote.client(Revision::Stateless, Some(TOKEN)).await;
    for text in ["a", "b", "c"] {
        ok_text(&call(&client, "hostile_echo", json!({ "text": text })).await);
    }
    error_text(&call(&client, "hostile_echo", json!({ "wrong": 1 })).await);
    let spin = error_text(&call(&client, "hostile_spin", json!({})).await);
    assert!(spin.contains("fuel"), "{spin}");
    let denied = error_text(
        &call(
            &client,
            "fetch_get",
            json!({ "url": "http://127.0.0.1:10/x" }),
        )
        .await,
    );
    assert!(denied.contains("http access to"), "{denied}");
    client.cancel().await.unwrap();

    let metrics = remote.metrics().await;
    let value = |series: &str| {
        sample(&metrics, series).unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
    };
    assert_eq!(
        value(r#"warden_tool_calls_total{plugin="hostile",tool="hostile_echo",outcome="ok"}"#),
        3.0
    );
    assert_eq!(
        value(
            r#"warden_tool_calls_total{plugin="hostile",tool="hostile_echo",outcome="invalid_arguments"}"#
        ),
        1.0
    );
    assert_eq!(
        value(r#"warden_tool_calls_total{plugin="hostile",tool="hostile_spin",outcome="limit"}"#),
        1.0
    );
    assert_eq!(
        value(r#"warden_limit_hits_total{plugin="hostile",kind="fuel"}"#),
        1.0
    );
    assert_eq!(
        value(r#"warden_capability_denials_total{plugin="fetch",kind="http"}"#),
        1.0
    );
    assert_eq!(
        value(r#"warden_tool_call_duration_seconds_count{plugin="hostile",tool="hostile_echo"}"#),
        4.0
    );
    assert!(
        metrics.contains(r#"warden_tool_call_duration_seconds_bucket{plugin="hostile",tool="hostile_echo",le="0.001"}"#),
        "{metrics}"
    );
    assert_eq!(value("warden_plugins_loaded"), 2.0);
    assert_eq!(value("warden_plugins_failed"), 1.0);
    assert_eq!(value("warden_tool_calls_in_flight"), 0.0);
}

/// Reads a JSON Lines file.
/// Checks the spans of: echo ok, echo with bad arguments, spin out of fuel.
fn assert_spans(spans: &[Value]) {
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let keys = [
        "timestamp_ms",
        "tool_name",
        "plugin",
        "method",
        "duration_ms",
        "success",
        "error_code",
        "fuel_used",
        "peak_memory_bytes",
        "output_bytes",
        "extra",
    ];
    for span in spans {
        for key in keys {
            assert!(span.get(key).is_some(), "{key} missing: {span}");
        }
        assert_eq!(span["plugin"], "hostile");
        assert_eq!(span["method"], "tools/call");
        assert!(span["timestamp_ms"].as_u64().unwrap() > 1_700_000_000_000);
        assert!(span["duration_ms"].as_f64().unwrap() >= 0.0);
    }
    let (ok, bad, spin) = (&spans[0], &spans[1], &spans[2]);
    assert_eq!(ok["tool_name"], "hostile_echo");
    assert_eq!(ok["success"], true);
    assert_eq!(ok["error_code"], Value::Null);
    assert_eq!(ok["output_bytes"], 5);
    assert!(ok["fuel_used"].as_u64().unwrap() > 0);
    assert!(ok["peak_memory_bytes"].as_u64().unwrap() > 0);
    assert_eq!(bad["success"], false);
    assert_eq!(bad["error_code"], "invalid_arguments");
    assert_eq!(bad["fuel_used"], Value::Null, "the plugin did not run");
    assert_eq!(spin["tool_name"], "hostile_spin");
    assert_eq!(spin["success"], false);
    assert_eq!(spin["error_code"], "limit.fuel");
    assert_eq!(spin["extra"]["outcome"], "limit");
}

#[tokio::test]
async fn spans_match_the_calls_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let spans_dir = dir.path().join("spans");
    let plugins = hostile();
    let remote = Remote::start(
        dir.path(),
        "[telemetry]\nspans_dir = \"spans\"\n",
        plugins.path(),
        &[],
        TOKEN_ENV,
    );
    let client = remote.client(Revision::Legacy, Some(TOKEN)).await;
    ok_text(&call(&client, "hostile_echo", json!({ "text": "hello" })).await);
    error_text(&call(&client, "hostile_echo", json!({})).await);
    error_text(&call(&client, "hostile_spin", json!({})).await);
    client.cancel().await.unwrap();
    assert_spans(&json_lines(&spans_dir.join("mcp_tool_spans.jsonl")));
}

#[tokio::test]
async fn spans_work_in_stdio_mode_and_lines_stay_whole_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let spans_dir = dir.path().join("spans");
    let plugins = hostile();
    let spans_arg = spans_dir.to_str().unwrap();
    let server = Server::start_with(
        plugins.path(),
        Revision::Stateless,
        &["--spans-dir", spans_arg],
    )
    .await;
    ok_text(
        &server
            .call("hostile_echo", json!({ "text": "hello" }))
            .await,
    );
    error_text(&server.call("hostile_echo", json!({})).await);
    error_text(&server.call("hostile_spin", json!({})).await);
    let file = spans_dir.join("mcp_tool_spans.jsonl");
    assert_spans(&json_lines(&file));

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..32 {
        let peer = server.client.peer().clone();
        calls.spawn(async move {
            let arguments = json!({ "text": format!("{i:0>64}") });
            let Value::Object(arguments) = arguments else {
                unreachable!()
            };
            peer.call_tool(
                rmcp::model::CallToolRequestParams::new("hostile_echo").with_arguments(arguments),
            )
            .await
        });
    }
    while let Some(result) = calls.join_next().await {
        ok_text(&result.unwrap().unwrap());
    }
    let spans = json_lines(&file);
    assert_eq!(spans.len(), 35);
    assert!(
        spans[3..]
            .iter()
            .all(|s| s["success"] == true && s["output_bytes"] == 64)
    );
    server.stop().await;
}

#[tokio::test]
async fn audit_log_redacts_arguments_and_records_denials_and_refused_logins() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = fetch_granted_nothing().hostile(None);
    let remote = Remote::start(
        dir.path(),
        "[audit]\nfile = \"audit/warden-audit.jsonl\"\nlog_arguments = [\"fetch_get\"]\n",
        plugins.path(),
        &[],
        TOKEN_ENV,
    );
    let refused = post_mcp(&remote, stateless_tools_list().to_string())
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let client = remote.client(Revision::Stateless, Some(TOKEN)).await;
    ok_text(&call(&client, "hostile_echo", json!({ "text": "private words" })).await);
    error_text(
        &call(
            &client,
            "fetch_get",
            json!({ "url": "http://127.0.0.1:10/x", "headers": { "Authorization": "Bearer sk-live" } }),
        )
        .await,
    );
    client.cancel().await.unwrap();

    let path = dir.path().join("audit/warden-audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in ["private words", "sk-live", "guess", TOKEN] {
        assert!(
            !text.contains(secret),
            "{secret:?} in the audit log:\n{text}"
        );
    }
    let all = json_lines(&path);
    // Loading first records each plugin's approval decision (first use).
    let (approvals, events): (Vec<_>, Vec<_>) = all.iter().partition(|e| e["event"] == "approval");
    let decided: Vec<(&str, &str)> = approvals
        .iter()
        .map(|e| {
            (
                e["plugin"].as_str().unwrap(),
                e["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decided,
        [
            ("fetch", "trusted_on_first_use"),
            ("hostile", "trusted_on_first_use")
        ]
    );
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "auth_refused",
            "tool_call",
            "tool_call",
            "capability_denied"
        ],
        "{events:#?}"
    );
    assert_eq!(events[0]["reason"], "invalid_token");
    assert_eq!(events[0]["client"], "127.0.0.1");
    assert_eq!(events[1]["tool"], "hostile_echo");
    assert_eq!(events[1]["arguments"], "[redacted]");
    assert_eq!(events[2]["tool"], "fetch_get");
    assert_eq!(events[2]["arguments"]["url"], "http://127.0.0.1:10/x");
    assert_eq!(
        events[2]["arguments"]["headers"]["Authorization"],
        "[redacted]"
    );
    assert_eq!(events[3]["kind"], "http");
    assert_eq!(events[3]["plugin"], "fetch");
    assert_eq!(events[3]["target"], "http://127.0.0.1:10");
}

#[tokio::test]
async fn sigterm_drains_finishing_the_call_in_flight_and_refusing_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = hostile();
    let mut remote = Remote::start(
        dir.path(),
        "[http]\nshutdown_timeout = \"60s\"\n",
        plugins.path(),
        &[],
        TOKEN_ENV,
    );
    let client = remote.client(Revision::Legacy, Some(TOKEN)).await;
    let slow = tokio::spawn(async move {
        let result = call(&client, "hostile_sleep", json!({ "ms": 3000 })).await;
        (client, result)
    });
    // Wait until the call is running in the sandbox.
    loop {
        if sample(&remote.metrics().await, "warden_tool_calls_in_flight") == Some(1.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    remote.terminate();
    // New requests are refused while the call finishes.
    let http = reqwest::Client::new();
    let refused = loop {
        let response = post_mcp(&remote, stateless_tools_list().to_string())
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        if response.status() == 503 {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(refused.status(), 503);
    let ready = http.get(remote.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "draining");

    let (client, result) = slow.await.unwrap();
    assert_eq!(ok_text(&result), "slept");
    drop(client);
    let status = tokio::task::spawn_blocking(move || {
        let status = remote.wait();
        (status, remote.stderr())
    })
    .await
    .unwrap();
    assert!(status.0.success(), "{:?}\n{}", status.0, status.1);
    assert!(status.1.contains("shutting down: refusing new requests"));
}

#[test]
fn stdio_mode_ends_cleanly_on_sigterm() {
    use std::io::{BufRead as _, BufReader, Write as _};
    let plugins = hostile();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(crate::support::WARDEN)
        .args(["--log-format", "json", "serve", "--plugins"])
        .env("WARDEN_WAIT_FOR_PLUGINS", "1")
        .arg(plugins.path())
        .env_remove("WARDEN_CONFIG")
        .env_remove("WARDEN_PLUGINS")
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "e2e", "version": "0" }
        }
    });
    writeln!(stdin, "{initialize}").unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let response: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(response["id"], 1, "{line}");
    writeln!(
        stdin,
        "{}",
        json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })
    )
    .unwrap();
    // The session is up once `ping` answers; then stop it with SIGTERM while
    // stdin stays open.
    writeln!(
        stdin,
        "{}",
        json!({ "jsonrpc": "2.0", "id": 2, "method": "ping" })
    )
    .unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&line).unwrap()["id"],
        2,
        "{line}"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}\n{stderr}", output.status);
    assert!(stderr.contains("shutting down"), "{stderr}");
    drop(stdin);
}

/// A client that goes away (its HTTP connection closes while a call runs)
/// cancels the call: the spinning instance is dropped, recorded as
/// `cancelled`, and the plugin's one turn is free for the next call.
#[tokio::test]
async fn closing_the_http_stream_cancels_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = Plugins::new().hostile(Some(
        "manifest_version = 1\n[limits]\ntimeout = \"60s\"\nfuel = 1_000_000_000_000\n",
    ));
    let remote = Remote::start(
        dir.path(),
        "[plugins.hostile]\nsequential = true\n",
        plugins.path(),
        &[],
        TOKEN_ENV,
    );
    // A 2026-07-28 `tools/call` of `tool`, as a raw HTTP request.
    let call = |tool: &str, id: u32| {
        stateless_post(
            &remote.url("/mcp"),
            id,
            "tools/call",
            Some(tool),
            json!({ "name": tool, "arguments": {"text": "next"} }),
        )
        .bearer_auth(TOKEN)
    };
    let gone = call("hostile_spin", 1)
        .timeout(std::time::Duration::from_millis(800))
        .send()
        .await;
    assert!(gone.is_err(), "the spin answered: {gone:?}");
    let closed_at = std::time::Instant::now();

    let next = call("hostile_echo", 2).send().await.unwrap();
    assert_eq!(next.status(), 200);
    let body = next.text().await.unwrap();
    assert!(body.contains("next"), "{body}");
    let waited = closed_at.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(30),
        "the next call waited {waited:?} behind the abandoned one"
    );
    eprintln!("connection closed to the next call's result: {waited:?}");
    // The log line is written when the cancelled run has been torn down,
    // which may come after the next call's answer on a busy machine.
    let finished = |log: &str| {
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|e| {
                e["fields"]["tool"] == "hostile_spin"
                    && e["fields"]["message"] == "tool call finished"
            })
    };
    let started = std::time::Instant::now();
    let spin = loop {
        let log = remote.stderr();
        if let Some(spin) = finished(&log) {
            break spin;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no finished hostile_spin in:\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(spin["fields"]["outcome"], "cancelled", "{spin}");
}

/// SEP-2243: the `Mcp-Method` and `Mcp-Name` headers of a 2026-07-28
/// request must agree with its body (a proxy routes and rate-limits by them),
/// or the request is refused before anything runs.
#[tokio::test]
async fn routing_headers_must_agree_with_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = hostile();
    let remote = Remote::start(dir.path(), "", plugins.path(), &[], TOKEN_ENV);
    let body = json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": { "name": "hostile_echo", "arguments": {"text": "hi"}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        }}
    })
    .to_string();
    let send = |method: &str, name: &str| {
        reqwest::Client::new()
            .post(remote.url("/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method)
            .header("mcp-name", name)
            .bearer_auth(TOKEN)
            .body(body.clone())
            .send()
    };
    let agreeing = send("tools/call", "hostile_echo").await.unwrap();
    assert_eq!(agreeing.status(), 200);
    assert!(agreeing.text().await.unwrap().contains("hi"));
    for (method, name) in [
        ("tools/call", "hostile_spin"),
        ("tools/list", "hostile_echo"),
    ] {
        let refused = send(method, name).await.unwrap();
        assert_eq!(refused.status(), 400, "{method} {name}");
    }
}
