//! The stdio transport against the real `warden serve`, the three ways a
//! client hands it stdin and stdout: pipes (Python's and Rust's SDKs), Unix
//! socket pairs (Node.js, so Claude Desktop, VS Code, Cursor and the
//! Inspector), and a plain file (a script). Pipes and sockets are driven
//! non-blocking by the runtime (a mix of the two, and a file, through the
//! blocking handles); a reply larger than the kernel's buffer must
//! still arrive whole, concurrent replies must not interleave, and the
//! server must exit when the client closes its end.

use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt as _};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::support::{Plugins, WARDEN, ok_text};

/// Larger than a pipe's (64 KiB) and a Unix socket's (about 200 KiB) buffer.
const BIG: usize = 600_000;

fn serve(plugins: &Plugins) -> Command {
    let mut command = Command::new(WARDEN);
    command
        .args(["serve", "--no-watch", "--wait-for-plugins", "--plugins"])
        .arg(plugins.path())
        .current_dir(plugins.path())
        .env_remove("WARDEN_CONFIG")
        .env_remove("WARDEN_PLUGINS")
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_owned())
        .with_arguments(arguments.as_object().expect("an object").clone())
}

/// Calls over `client`: a reply bigger than the kernel's buffer, and many
/// concurrent calls each getting its own text back.
async fn exercise(client: &RunningService<RoleClient, ClientConfig>) {
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "hostile_echo"), "{tools:?}");

    let big = client
        .call_tool(call("hostile_big_output", json!({ "bytes": BIG })))
        .await
        .expect("big_output");
    assert_eq!(ok_text(&big).len(), BIG);

    let mut calls = tokio::task::JoinSet::new();
    for n in 0..16 {
        let text = format!("call {n} {}", "x".repeat(n * 1000));
        let peer = client.peer().clone();
        calls.spawn(async move {
            let result = peer
                .call_tool(call("hostile_echo", json!({ "text": text })))
                .await
                .expect("echo");
            assert_eq!(ok_text(&result), text);
        });
    }
    while let Some(done) = calls.join_next().await {
        done.expect("a call");
    }
}

async fn exits_soon(child: &mut Child) {
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("warden exits once the client closes its end")
        .expect("wait");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn pipes_carry_big_and_concurrent_replies_and_closing_stdin_ends_the_server() {
    let plugins = Plugins::new().hostile(None);
    let (transport, _) = TokioChildProcess::builder(serve(&plugins))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn warden");
    let client = ClientConfig::default()
        .serve(transport)
        .await
        .expect("connect");
    exercise(&client).await;
    // rmcp's child transport waits for the child when the client closes.
    tokio::time::timeout(Duration::from_secs(10), client.cancel())
        .await
        .expect("warden exits once stdin closes")
        .expect("close");
}

/// One end of a socket pair, for the client's side of the transport.
fn client_end(socket: std::os::unix::net::UnixStream) -> tokio::net::UnixStream {
    socket.set_nonblocking(true).unwrap();
    tokio::net::UnixStream::from_std(socket).unwrap()
}

/// Connects to `child` through `stdout` and `stdin`, runs [`exercise`],
/// closes, and checks that the server exits.
async fn session(
    mut child: Child,
    stdout: impl tokio::io::AsyncRead + Send + Unpin + 'static,
    stdin: tokio::net::UnixStream,
) {
    let client = ClientConfig::default()
        .serve((stdout, stdin))
        .await
        .expect("connect");
    exercise(&client).await;
    client.cancel().await.expect("close");
    exits_soon(&mut child).await;
}

#[tokio::test]
async fn unix_socket_pairs_as_node_makes_them_serve_the_same() {
    let plugins = Plugins::new().hostile(None);
    let (stdin, theirs_in) = std::os::unix::net::UnixStream::pair().unwrap();
    let (stdout, theirs_out) = std::os::unix::net::UnixStream::pair().unwrap();
    let child = serve(&plugins)
        .stdin(Stdio::from(OwnedFd::from(theirs_in)))
        .stdout(Stdio::from(OwnedFd::from(theirs_out)))
        .spawn()
        .expect("spawn warden");
    session(child, client_end(stdout), client_end(stdin)).await;
}

#[tokio::test]
async fn a_socket_stdin_with_a_pipe_stdout_is_served_too() {
    let plugins = Plugins::new().hostile(None);
    let (stdin, theirs_in) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut child = serve(&plugins)
        .stdin(Stdio::from(OwnedFd::from(theirs_in)))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn warden");
    let stdout = child.stdout.take().expect("stdout");
    session(child, stdout, client_end(stdin)).await;
}

#[tokio::test]
async fn a_file_as_stdin_is_read_and_answered() {
    let plugins = Plugins::new().hostile(None);
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "script", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
    ];
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("requests.jsonl");
    let lines: Vec<String> = requests.iter().map(Value::to_string).collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let mut child = serve(&plugins)
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn warden");
    let output = tokio::time::timeout(Duration::from_secs(20), async {
        use tokio::io::AsyncReadExt as _;
        let mut text = String::new();
        let mut stdout = child.stdout.take().expect("stdout");
        stdout.read_to_string(&mut text).await.map(|_| text)
    })
    .await
    .expect("warden exits at the end of the file")
    .expect("read stdout");
    exits_soon(&mut child).await;
    let replies: Vec<Value> = output
        .lines()
        .map(|l| serde_json::from_str(l).expect("only JSON-RPC on stdout"))
        .collect();
    let reply = |id: u64| {
        replies
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no reply to {id} in {output}"))
    };
    assert_eq!(reply(1)["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(reply(2)["result"], json!({}));
    let tools = reply(3)["result"]["tools"].as_array().expect("tools");
    assert!(
        tools.iter().any(|t| t["name"] == "hostile_echo"),
        "{tools:?}"
    );
}
