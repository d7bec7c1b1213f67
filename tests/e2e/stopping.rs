//! What clients see while `warden serve --http` stops: every request that
//! reached the server gets a whole answer, and the rest find it closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::remote_support::{Remote, stateless_post};
use crate::support::Plugins;

/// What one request got.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A whole response with this status.
    Answered(u16),
    /// The connection was refused: the server had stopped listening.
    Refused,
    /// Sent, then cut without a whole response: the request may have run,
    /// so a proxy cannot retry it.
    Cut(String),
}

/// One `hostile_echo`, on a connection of its own.
async fn send(url: &str, id: u32) -> Outcome {
    let params = json!({ "name": "hostile_echo", "arguments": { "text": "x" } });
    let request = stateless_post(url, id, "tools/call", Some("hostile_echo"), params);
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(_) => Outcome::Answered(status),
                Err(e) => Outcome::Cut(format!("{status}, then the body: {e:?}")),
            }
        }
        Err(e) if e.is_connect() => Outcome::Refused,
        Err(e) => Outcome::Cut(format!("{e:?}")),
    }
}

/// A client that sends calls back to back until it gets a 503, as a proxy
/// does until it turns the replica out; then tries again every 300 ms until
/// the connection is refused.
async fn client(url: String, started: Arc<AtomicBool>, first_id: u32) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut id = first_id;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let outcome = send(&url, id).await;
        id += 1;
        let done = match &outcome {
            Outcome::Answered(503) => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                false
            }
            Outcome::Answered(_) => {
                started.store(true, Ordering::SeqCst);
                false
            }
            Outcome::Refused | Outcome::Cut(_) => started.load(Ordering::SeqCst),
        };
        outcomes.push(outcome);
        if done {
            break;
        }
    }
    outcomes
}

/// Without a drain delay, SIGTERM while 4 clients send calls, each on a new
/// connection: a request that reached the server is answered (200 if it
/// came first, else 503) and never cut, and the server stops listening only
/// once connections stop coming.
#[tokio::test]
async fn a_stopping_server_answers_every_request_that_reached_it() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = Plugins::new().hostile(Some("manifest_version = 1\n"));
    let config = "[http]\nauth = \"off\"\nrate_limit = { per_second = 0 }\n";
    let mut remote = Remote::start(dir.path(), config, plugins.path(), &[], &[]);
    let url = remote.url("/mcp");
    let started = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|i| tokio::spawn(client(url.clone(), started.clone(), i * 100_000)))
        .collect();
    while !started.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    remote.terminate();
    let mut all = Vec::new();
    for client in clients {
        let outcomes = client.await.unwrap();
        assert!(
            outcomes.contains(&Outcome::Answered(200)),
            "served before the signal: {outcomes:?}"
        );
        assert!(
            outcomes.contains(&Outcome::Answered(503)),
            "refused while stopping: {outcomes:?}"
        );
        assert_eq!(
            outcomes.last(),
            Some(&Outcome::Refused),
            "found it closed at last"
        );
        all.extend(outcomes);
    }
    let cut: Vec<_> = all
        .iter()
        .filter(|outcome| matches!(outcome, Outcome::Cut(_)))
        .collect();
    assert!(
        cut.is_empty(),
        "{} of {} cut: {cut:?}",
        cut.len(),
        all.len()
    );
    let status = tokio::task::spawn_blocking(move || (remote.wait(), remote.stderr()))
        .await
        .unwrap();
    assert!(status.0.success(), "{:?}\n{}", status.0, status.1);
}
