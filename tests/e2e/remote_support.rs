//! Helpers for `warden serve --http`: the real binary on 127.0.0.1 with an
//! ephemeral port, rmcp's Streamable HTTP client, and reqwest for raw checks.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientServiceExt, RoleClient};
use serde_json::Value;

use crate::support::{Revision, TestClient, WARDEN, client_for};

/// The token the tests configure.
pub const TOKEN: &str = "e2e-token-5b0c7d";
/// How long the server may take to load plugins and start listening.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running `warden serve --http 127.0.0.1:0`.
pub struct Remote {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// A client connected over Streamable HTTP.
pub type HttpClient = RunningService<RoleClient, TestClient>;

impl Remote {
    /// Starts the server in `dir` (where `warden.toml` holds `config`) with
    /// the plugins in `plugins`, `extra` arguments and environment `env`
    /// (`WARDEN_HTTP_TOKEN` is removed first).
    pub fn start(
        dir: &Path,
        config: &str,
        plugins: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let config_path = dir.join("warden.toml");
        std::fs::write(&config_path, config).expect("write warden.toml");
        let mut command = Command::new(WARDEN);
        command
            .args(["--log-format", "json", "serve", "--http", "127.0.0.1:0"])
            .env("WARDEN_WAIT_FOR_PLUGINS", "1")
            .arg("--plugins")
            .arg(plugins)
            .arg("--config")
            .arg(&config_path)
            .args(extra)
            .env("WARDEN_LOG", "warden=debug")
            .env_remove("WARDEN_HTTP_TOKEN")
            .env_remove("WARDEN_CONFIG")
            .env_remove("WARDEN_PLUGINS")
            .envs(env.iter().copied())
            .current_dir(dir);
        Self::spawn(command)
    }

    /// Runs `command`, a `warden --log-format json serve --http ...` (or a
    /// wrapper that execs one), and waits until it listens.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warden");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("stderr");
        let lines = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        let started = Instant::now();
        let addr = loop {
            let found = stderr.lock().unwrap().iter().find_map(|line| {
                let event: Value = serde_json::from_str(line).ok()?;
                event["fields"]["addr"].as_str().map(str::to_owned)
            });
            if let Some(addr) = found {
                break addr;
            }
            if let Some(status) = child.try_wait().expect("wait") {
                panic!(
                    "warden exited with {status} before listening:\n{}",
                    stderr.lock().unwrap().join("\n")
                );
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "warden did not start listening:\n{}",
                stderr.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            child,
            base: format!("http://{addr}"),
            stderr,
        }
    }

    /// `BASE/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything the server logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Connects an rmcp client speaking `revision`, with `token` if given.
    pub async fn client(&self, revision: Revision, token: Option<&str>) -> HttpClient {
        self.try_client(revision, token)
            .await
            .unwrap_or_else(|e| panic!("connect over HTTP: {e}"))
    }

    /// Like [`Remote::client`], returning the error.
    pub async fn try_client(
        &self,
        revision: Revision,
        token: Option<&str>,
    ) -> Result<HttpClient, rmcp::service::ClientInitializeError> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url("/mcp"));
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        let transport = StreamableHttpClientTransport::from_config(config);
        let (handler, lifecycle) = client_for(revision);
        handler.serve_with_lifecycle(transport, lifecycle).await
    }

    /// `GET /metrics` with the token: the text.
    pub async fn metrics(&self) -> String {
        let response = reqwest::Client::new()
            .get(self.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200);
        response.text().await.expect("metrics text")
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends the signal named (`TERM`, `KILL`, ...).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// The exit status, once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait")
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "warden did not exit:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls `tool` through `client`, panicking on protocol errors.
pub async fn call(client: &HttpClient, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    let arguments: JsonObject = arguments;
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("tools/call {tool}: {e}"))
}

/// The value of the sample `series` (`name{labels}` exactly as exported)
/// in a Prometheus text exposition.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// A 2026-07-28 request as a raw POST to `url` (an `/mcp` endpoint): `method` with `params`
/// (their `_meta` gains the protocol version and empty client capabilities),
/// the MCP headers, and `Mcp-Name: name` when given. The caller adds the
/// credentials.
pub fn stateless_post(
    url: &str,
    id: u32,
    method: &str,
    name: Option<&str>,
    mut params: Value,
) -> reqwest::RequestBuilder {
    let meta = params
        .as_object_mut()
        .expect("params are an object")
        .entry("_meta")
        .or_insert_with(|| serde_json::json!({}));
    meta["io.modelcontextprotocol/protocolVersion"] = "2026-07-28".into();
    meta["io.modelcontextprotocol/clientCapabilities"] = serde_json::json!({});
    let body = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    request.body(body.to_string())
}

/// The JSON values of a JSON Lines file.
pub fn json_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}
