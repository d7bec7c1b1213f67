//! Raw bytes into a Warden MCP session: the real handler ([`WardenServer`])
//! behind Warden's line-delimited JSON-RPC transport ([`LineTransport`],
//! what `warden serve` runs on stdio), over an in-process pipe, with the
//! harness's four plugins.

use std::time::Duration;

use rmcp::ServiceExt as _;
use rmcp::model::ServerJsonRpcMessage;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use warden::mcp::lines::LineTransport;
use warden::mcp::server::WardenServer;

use crate::harness::harness;

/// The id of the ping sent after the input, to see that the session lives.
const SENTINEL_ID: &str = "warden-fuzz-sentinel-4f1c";
/// The ping itself, on a line of its own.
const SENTINEL: &[u8] =
    b"\n{\"jsonrpc\":\"2.0\",\"id\":\"warden-fuzz-sentinel-4f1c\",\"method\":\"ping\"}\n";
/// Longer than any input should take; hitting it is a hang.
const DEADLINE: Duration = Duration::from_secs(20);
/// Pipe buffer, as small as a real pipe's.
const PIPE_BYTES: usize = 64 * 1024;

/// How a session ended.
#[derive(Debug)]
enum Ended {
    /// The session started and ran until its input closed.
    Served,
    /// The handshake was refused (for example a notification came first).
    Refused,
}

/// Input: what a client writes to the server's stdin, any bytes.
///
/// Checks: every line the server writes is a JSON-RPC message a client can
/// read; once a session has started, a ping sent after the input is still
/// answered (no input kills or wedges the session); the session ends when
/// its input closes; and nothing panics.
pub fn mcp(data: &[u8]) {
    let harness = harness();
    harness.runtime.block_on(async {
        tokio::time::timeout(DEADLINE, session(data))
            .await
            .unwrap_or_else(|_| panic!("the session did not end within {DEADLINE:?}"));
    });
}

async fn session(data: &[u8]) {
    let (client, server) = tokio::io::duplex(PIPE_BYTES);
    let handler = WardenServer::new(harness().dispatcher.clone());
    let serving = tokio::spawn(async move {
        let (read, write) = tokio::io::split(server);
        match handler.serve(LineTransport::new(read, write)).await {
            Ok(running) => {
                // Ends when the input closes; its result is how it closed.
                let _ = running.waiting().await;
                Ended::Served
            }
            Err(_) => Ended::Refused,
        }
    });
    let (client_read, mut client_write) = tokio::io::split(client);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let writer = async move {
        // A write fails once the server has stopped reading: that is an
        // outcome, not an error.
        if client_write.write_all(data).await.is_ok() {
            let _ = client_write.write_all(SENTINEL).await;
        }
        let _ = done_rx.await;
        let _ = client_write.shutdown().await;
        drop(client_write);
    };
    let reader = async move {
        let mut lines = BufReader::new(client_read).lines();
        let mut answered = false;
        while let Some(line) = lines
            .next_line()
            .await
            .expect("the server writes UTF-8 lines")
        {
            let message: ServerJsonRpcMessage = serde_json::from_str(&line).unwrap_or_else(|e| {
                panic!("the server wrote a line that is not JSON-RPC ({e}): {line}")
            });
            if is_sentinel_answer(&message) {
                answered = true;
                break;
            }
        }
        let _ = done_tx.send(());
        // Drain until the server closes its side.
        while let Ok(Some(line)) = lines.next_line().await {
            serde_json::from_str::<ServerJsonRpcMessage>(&line).unwrap_or_else(|e| {
                panic!("the server wrote a line that is not JSON-RPC ({e}): {line}")
            });
        }
        answered
    };
    let ((), answered) = tokio::join!(writer, reader);
    let ended = serving.await.expect("the session task panicked");
    if matches!(ended, Ended::Served) {
        assert!(
            answered,
            "the session started but did not answer a ping sent after the input"
        );
    }
}

fn is_sentinel_answer(message: &ServerJsonRpcMessage) -> bool {
    let id = match message {
        ServerJsonRpcMessage::Response(response) => &response.id,
        ServerJsonRpcMessage::Error(error) => match &error.id {
            Some(id) => id,
            None => return false,
        },
        _ => return false,
    };
    serde_json::to_value(id).is_ok_and(|v| v == SENTINEL_ID)
}
