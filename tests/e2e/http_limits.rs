//! `warden serve --http` before authentication: half-open and idle
//! connections are cut within `http.header_timeout` and `http.idle_timeout`,
//! connections over `http.max_connections(_per_client)` are refused at once,
//! oversized heads get 431 and bodies that are not JSON-RPC get 400 with a
//! JSON-RPC error; meanwhile a real rmcp client's calls keep succeeding.
//! Flood connections come from other loopback addresses (127.0.0.2, ...) so
//! that the per-client cap tells them from the real client on 127.0.0.1.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use crate::remote_support::{HttpClient, Remote, TOKEN, call, sample};
use crate::support::{Plugins, Revision, ok_text};

const TOKEN_ENV: &[(&str, &str)] = &[("WARDEN_HTTP_TOKEN", TOKEN)];

/// How long past its timeout a connection may stay open before the test
/// calls it held (scheduling on a loaded machine).
const SLACK: Duration = Duration::from_secs(5);

fn plugins() -> Plugins {
    Plugins::new().hostile(Some("manifest_version = 1\n"))
}

fn addr(remote: &Remote) -> SocketAddr {
    remote
        .base
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap()
}

/// A connection to `server` from the loopback address `from`.
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// Reads until the server closes the connection; what it sent. Panics if it
/// stays open for `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server held the connection for {within:?}"
    );
    received
}

/// Calls `hostile_echo` and checks the answer.
async fn echo(client: &HttpClient, text: &str) {
    let result = call(client, "hostile_echo", json!({ "text": text })).await;
    assert_eq!(ok_text(&result), text);
}

#[tokio::test]
async fn slow_header_and_idle_floods_are_cut_while_a_client_keeps_calling() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins();
    let remote = Remote::start(
        dir.path(),
        "[http]\nheader_timeout = \"1s\"\nidle_timeout = \"2s\"\nmax_connections_per_client = 1000\n\
         rate_limit = { per_second = 0 }\n",
        plugins.path(),
        &[],
        TOKEN_ENV,
    );
    let server = addr(&remote);
    let client = remote.client(Revision::Stateless, Some(TOKEN)).await;
    echo(&client, "before").await;

    const EACH: usize = 100;
    let mut flood = Vec::new();
    // Silent: opened, nothing sent (the header timeout counts from the opening).
    for _ in 0..EACH {
        let stream = connect_from("127.0.0.2", server).await;
        flood.push(("silent", stream, Duration::from_secs(1)));
    }
    // Slow header: a request head that never ends.
    for _ in 0..EACH {
        let mut stream = connect_from("127.0.0.2", server).await;
        stream
            .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        flood.push(("slow header", stream, Duration::from_secs(1)));
    }
    // Idle: one whole request, then nothing (the idle timeout).
    for _ in 0..EACH {
        let mut stream = connect_from("127.0.0.2", server).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        flood.push(("idle", stream, Duration::from_secs(2)));
    }
    // Drip: one byte of a head every 300 ms, cut all the same.
    let started = Instant::now();
    let drip = tokio::spawn(async move {
        let mut stream = connect_from("127.0.0.2", server).await;
        for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" {
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let received = closed_within(&mut stream, SLACK).await;
        assert!(received.is_empty(), "a dripped head got an answer");
        started.elapsed()
    });

    // The real client keeps calling while the flood is held and cut.
    let calls = async {
        for i in 0..30 {
            echo(&client, &format!("during {i}")).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let cuts = async {
        for (kind, mut stream, timeout) in flood {
            let received = closed_within(&mut stream, timeout + SLACK).await;
            if kind == "idle" {
                let text = String::from_utf8_lossy(&received);
                assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            } else {
                assert!(received.is_empty(), "{kind}: {received:?}");
            }
        }
    };
    tokio::join!(calls, cuts);
    let dripped_for = drip.await.unwrap();
    assert!(
        dripped_for < Duration::from_secs(1) + SLACK,
        "the dripping connection stayed {dripped_for:?}"
    );
    echo(&client, "after").await;

    let metrics = remote.metrics().await;
    let header = sample(
        &metrics,
        "warden_http_connections_cut_total{reason=\"header_timeout\"}",
    )
    .unwrap_or(0.0);
    let idle = sample(
        &metrics,
        "warden_http_connections_cut_total{reason=\"idle_timeout\"}",
    )
    .unwrap_or(0.0);
    assert!(header >= (2 * EACH + 1) as f64, "{metrics}");
    assert!(idle >= EACH as f64, "{metrics}");
}

#[tokio::test]
async fn connections_over_the_caps_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins();
    let remote = Remote::start(
        dir.path(),
        "[http]\nheader_timeout = \"60s\"\nmax_connections = 8\nmax_connections_per_client = 5\n",
        plugins.path(),
        &[],
        TOKEN_ENV,
    );
    let server = addr(&remote);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from("127.0.0.3", server).await);
    }
    // The sixth from the same client: 503 and closed, not queued.
    let mut sixth = connect_from("127.0.0.3", server).await;
    let refused = closed_within(&mut sixth, SLACK).await;
    let text = String::from_utf8_lossy(&refused);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    // Another client gets in until the server-wide cap (8) is reached.
    for _ in 0..3 {
        held.push(connect_from("127.0.0.4", server).await);
    }
    let mut ninth = connect_from("127.0.0.5", server).await;
    let refused = closed_within(&mut ninth, SLACK).await;
    assert!(String::from_utf8_lossy(&refused).starts_with("HTTP/1.1 503"));

    // Closing them frees the slots: the real client gets in and calls. The
    // server may not have seen every close yet, so a first attempt can still
    // meet the server-wide cap; each such refusal is counted like the ninth.
    drop(held);
    let started = Instant::now();
    let mut early_attempts = 0.0;
    let client = loop {
        match remote.try_client(Revision::Stateless, Some(TOKEN)).await {
            Ok(client) => break client,
            Err(e) => {
                assert!(started.elapsed() < SLACK, "slots not freed: {e}");
                early_attempts += 1.0;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    echo(&client, "in").await;
    let metrics = remote.metrics().await;
    let refused = |reason: &str| {
        let series = format!("warden_http_connections_refused_total{{reason=\"{reason}\"}}");
        sample(&metrics, &series).unwrap_or(0.0)
    };
    assert_eq!(refused("max_connections_per_client"), 1.0, "{metrics}");
    let server_wide = refused("max_connections");
    assert!(
        (1.0..=1.0 + 2.0 * early_attempts).contains(&server_wide),
        "{early_attempts} early attempts\n{metrics}"
    );
}

/// POSTs `body` to `/mcp` as a stateless JSON-RPC request would be sent.
async fn post(remote: &Remote, body: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(remote.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn bodies_that_are_not_jsonrpc_get_400_and_heads_too_large_get_431() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins();
    let remote = Remote::start(dir.path(), "", plugins.path(), &[], TOKEN_ENV);

    let (status, body) = post(&remote, "{not json", Some(TOKEN)).await;
    assert_eq!(status, 400, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["jsonrpc"], "2.0");
    assert_eq!(error["id"], Value::Null);
    assert_eq!(error["error"]["code"], -32700, "{error}");

    let (status, body) = post(&remote, r#"{"hello": "world"}"#, Some(TOKEN)).await;
    assert_eq!(status, 400, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], -32600, "{error}");
    assert_eq!(error["id"], Value::Null);

    // Credentials are checked before the body is read.
    let (status, _) = post(&remote, "{not json", None).await;
    assert_eq!(status, 401);

    // A head that reaches the default 32 KiB unfinished: 431, then closed.
    // (Exactly 32 KiB, so that the server reads all of it and closes cleanly.)
    let mut stream = TcpStream::connect(addr(&remote)).await.unwrap();
    let mut head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".to_vec();
    head.resize(32 << 10, b'a');
    stream.write_all(&head).await.unwrap();
    let received = closed_within(&mut stream, SLACK).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");

    // A real client is unaffected.
    let client = remote.client(Revision::Legacy, Some(TOKEN)).await;
    echo(&client, "fine").await;
}
