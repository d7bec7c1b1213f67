//! What the load benches (`http_load`, `soak`) share: a `warden serve --http`
//! child process, one stateless `tools/call` POST, and latency percentiles.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};

/// The bearer token the benches configure.
pub const TOKEN: &str = "bench-token";

/// `warden serve --http 127.0.0.1:0`, killed when dropped.
pub struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    /// Starts the server with the config `dir/warden.toml` (in `dir`), the
    /// bearer token [`TOKEN`] and, if given, that many tokio worker threads;
    /// returns once it listens. `WARDEN_BIN=PATH` runs another build
    /// (for a before/after comparison) instead of this one.
    pub fn start(dir: &Path, workers: Option<usize>) -> anyhow::Result<Self> {
        let bin =
            std::env::var_os("WARDEN_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_warden").into());
        let mut command = Command::new(bin);
        command
            .args(["--log-format", "json", "serve", "--http", "127.0.0.1:0"])
            .arg("--wait-for-plugins")
            .arg("--config")
            .arg(dir.join("warden.toml"))
            .env("WARDEN_HTTP_TOKEN", TOKEN)
            .env_remove("WARDEN_LOG")
            .env_remove("RUST_LOG")
            .env_remove("WARDEN_CONFIG")
            .env_remove("WARDEN_PLUGINS")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(workers) = workers {
            command.env("TOKIO_WORKER_THREADS", workers.to_string());
        }
        let mut child = command.spawn().context("spawn warden")?;
        let stderr = child.stderr.take().context("stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Keep draining stderr (one log line per call) so the server never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|e| e["fields"]["addr"].as_str().map(str::to_owned))
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(Ok(addr));
                } else if let Some(tx) = &tx
                    && line.contains("\"ERROR\"")
                {
                    let _ = tx.send(Err(line));
                }
            }
        });
        // From here on, dropping `server` kills the child.
        let mut server = Self {
            child,
            url: String::new(),
        };
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(addr)) => server.url = format!("http://{addr}/mcp"),
            Ok(Err(line)) => bail!("warden failed to start: {line}"),
            Err(_) => bail!("warden did not start listening"),
        }
        Ok(server)
    }

    /// The MCP endpoint, `http://ADDR/mcp`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One stateless (2026-07-28) `tools/call` POST of `tool` with `arguments`,
/// with `token` as the bearer token, as a remote MCP client sends it; the
/// body of the response, which must be `200 OK` (a JSON object or an event
/// stream).
pub async fn post_tool_call(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    tool: &str,
    arguments: &Value,
) -> anyhow::Result<String> {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": tool,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    });
    let response = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(body.to_string())
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    ensure!(status == 200, "HTTP {status}: {text}");
    Ok(text)
}
