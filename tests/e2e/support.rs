//! Shared helpers: plugin folders in temp dirs, the real `warden` binary, and
//! rmcp clients speaking either protocol revision to it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    JsonObject, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// The `warden` binary under test.
pub const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// The protocol revisions Warden must serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// 2025-11-25: `initialize` handshake, sessions.
    Legacy,
    /// 2026-07-28: stateless, `server/discover`.
    Stateless,
}

/// A plugins folder in a temp dir.
pub struct Plugins {
    dir: tempfile::TempDir,
}

impl Plugins {
    /// An empty folder.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies a built component in as `NAME.wasm`.
    pub fn component(self, name: &str, wasm: &str) -> Self {
        std::fs::copy(wasm, self.path().join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("copy {wasm}: {e}"));
        self
    }

    /// Writes `NAME.toml`.
    pub fn manifest(self, name: &str, text: &str) -> Self {
        std::fs::write(self.path().join(format!("{name}.toml")), text).expect("write manifest");
        self
    }

    /// Writes raw bytes as `NAME.wasm`.
    pub fn raw(self, name: &str, bytes: &[u8]) -> Self {
        std::fs::write(self.path().join(format!("{name}.wasm")), bytes).expect("write wasm");
        self
    }

    /// The example plugins with their manifests from `examples/plugins`.
    pub fn examples(mut self) -> Self {
        let manifests = warden_test_artifacts::examples_manifest_dir();
        for (name, wasm) in warden_test_artifacts::EXAMPLES {
            self = self.component(name, wasm);
            let manifest = manifests.join(format!("{name}.toml"));
            let text = std::fs::read_to_string(&manifest)
                .unwrap_or_else(|e| panic!("read {}: {e}", manifest.display()));
            self = self.manifest(name, &text);
        }
        self
    }

    /// The hostile fixture plugin, with an optional manifest.
    pub fn hostile(self, manifest: Option<&str>) -> Self {
        let this = self.component("hostile", warden_test_artifacts::HOSTILE_WASM);
        match manifest {
            Some(text) => this.manifest("hostile", text),
            None => this,
        }
    }
}

/// A client handler that announces a chosen protocol revision and, when
/// asked to, reports the list changes it is told of (`tools`, `prompts`,
/// `resources`).
#[derive(Debug, Clone)]
pub struct TestClient {
    version: ProtocolVersion,
    events: Option<mpsc::UnboundedSender<&'static str>>,
}

impl TestClient {
    fn report(&self, list: &'static str) {
        if let Some(events) = &self.events {
            let _ = events.send(list);
        }
    }
}

/// What a test client named `name` tells the server: `capabilities`, and
/// `version` as its protocol version.
pub fn client_config(
    name: &str,
    capabilities: ClientCapabilities,
    version: ProtocolVersion,
) -> ClientConfig {
    let mut config = ClientConfig::new(capabilities, Implementation::new(name, "0.0.0"));
    config.protocol_version = version;
    config
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        client_config(
            "warden-e2e",
            ClientCapabilities::default(),
            self.version.clone(),
        )
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.report("tools");
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.report("prompts");
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.report("resources");
    }
}

/// A running `warden serve` with an rmcp client attached.
pub struct Server {
    /// The connected client.
    pub client: RunningService<RoleClient, TestClient>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The server's process id.
    pub pid: u32,
}

impl Server {
    /// Starts `warden serve --plugins DIR` and connects with `revision`.
    pub async fn start(plugins: &Path, revision: Revision) -> Self {
        Self::start_with(plugins, revision, &[]).await
    }

    /// Like [`Server::start`], with extra `serve` arguments.
    pub async fn start_with(plugins: &Path, revision: Revision, extra: &[&str]) -> Self {
        Self::start_in(plugins, revision, extra, &std::env::temp_dir(), &[]).await
    }

    /// Like [`Server::start`], started in `cwd` (the default workspace root)
    /// with extra environment variables.
    pub async fn start_in(
        plugins: &Path,
        revision: Revision,
        extra: &[&str],
        cwd: &Path,
        env: &[(&str, &str)],
    ) -> Self {
        Self::spawn(plugins, revision, extra, cwd, env, None).await
    }

    /// Like [`Server::start_in`], with a client that reports every
    /// `list_changed` it receives on the returned channel.
    pub async fn start_recording(
        plugins: &Path,
        revision: Revision,
        extra: &[&str],
        cwd: &Path,
    ) -> (Self, mpsc::UnboundedReceiver<&'static str>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let server = Self::spawn(plugins, revision, extra, cwd, &[], Some(sender)).await;
        (server, receiver)
    }

    /// Like [`Server::start_recording`], but the server answers at once
    /// while plugins compile in the background (its default), instead of
    /// loading every plugin first as the other tests have it do.
    pub async fn start_progressive(
        plugins: &Path,
        revision: Revision,
        cwd: &Path,
    ) -> (Self, mpsc::UnboundedReceiver<&'static str>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let env = [("WARDEN_WAIT_FOR_PLUGINS", "0")];
        let server = Self::spawn(plugins, revision, &[], cwd, &env, Some(sender)).await;
        (server, receiver)
    }

    async fn spawn(
        plugins: &Path,
        revision: Revision,
        extra: &[&str],
        cwd: &Path,
        env: &[(&str, &str)],
        events: Option<mpsc::UnboundedSender<&'static str>>,
    ) -> Self {
        let plugins: PathBuf = plugins.to_path_buf();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let cwd = cwd.to_path_buf();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lock = shared_dir_lock(&cwd, &plugins);
        let command = tokio::process::Command::new(WARDEN).configure(|cmd| {
            cmd.envs(lock.iter().map(|path| ("WARDEN_LOCK", path)))
                .arg("--log-format")
                .arg("json")
                .arg("serve")
                .env("WARDEN_WAIT_FOR_PLUGINS", "1")
                .arg("--plugins")
                .arg(&plugins)
                .args(&extra)
                .env("WARDEN_LOG", "warden=debug")
                .env_remove("WARDEN_CONFIG")
                .env_remove("WARDEN_PLUGINS")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(&cwd);
        });
        let (transport, stderr) = TokioChildProcess::builder(command)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warden");
        let pid = transport.id().expect("the server's pid");
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut stderr) = stderr {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n) = stderr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    log.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        let (version, lifecycle) = speaking(revision);
        let client = TestClient { version, events }
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .expect("connect to warden");
        Self {
            client,
            stderr: log,
            pid,
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// The server's log events (it logs JSON lines to stderr).
    pub fn log_events(&self) -> Vec<Value> {
        self.stderr()
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("stderr line is not a JSON log event ({e}): {line}"))
            })
            .collect()
    }

    /// Calls a tool, panicking on protocol errors.
    pub async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        self.try_call(tool, arguments)
            .await
            .unwrap_or_else(|e| panic!("tools/call {tool} failed at the protocol level: {e}"))
    }

    /// Calls a tool.
    pub async fn try_call(
        &self,
        tool: &str,
        arguments: Value,
    ) -> Result<CallToolResult, rmcp::ServiceError> {
        let arguments: JsonObject = match arguments {
            Value::Object(object) => object,
            other => panic!("arguments must be an object, got {other}"),
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
            .await
    }

    /// Names of all tools.
    pub async fn tool_names(&self) -> Vec<String> {
        self.client
            .list_all_tools()
            .await
            .expect("tools/list")
            .into_iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    /// Stops the client (and with it the server).
    pub async fn stop(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.cancel()).await;
    }
}

/// The concatenated text content of a result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts the result is a success and returns its text.
pub fn ok_text(result: &CallToolResult) -> String {
    assert_ne!(
        result.is_error,
        Some(true),
        "expected success, got error: {}",
        text(result)
    );
    text(result)
}

/// Asserts the result is an error and returns its text.
pub fn error_text(result: &CallToolResult) -> String {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected isError, got success: {}",
        text(result)
    );
    text(result)
}

/// Runs `warden ARGS` to completion.
pub fn warden(args: &[&str]) -> std::process::Output {
    warden_in(args, &std::env::temp_dir(), &[])
}

/// The lock file for a `warden` started in `cwd`: tests that run in the shared
/// temp dir get one of their own (in `private`) instead of `/tmp/warden.lock`,
/// so that no test sees another's approvals; others use the default.
fn shared_dir_lock(cwd: &Path, private: &Path) -> Option<PathBuf> {
    (cwd == std::env::temp_dir()).then(|| private.join("warden.lock"))
}

/// Runs `warden ARGS` to completion in `cwd` with extra environment variables.
pub fn warden_in(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let private = tempfile::tempdir().expect("temp dir");
    let lock = shared_dir_lock(cwd, private.path());
    std::process::Command::new(WARDEN)
        .envs(lock.iter().map(|path| ("WARDEN_LOCK", path)))
        .args(args)
        .env("WARDEN_LOG", "warden=info")
        .env_remove("WARDEN_CONFIG")
        .env_remove("WARDEN_PLUGINS")
        .envs(env.iter().copied())
        .current_dir(cwd)
        .output()
        .expect("run warden")
}

/// `warden list --json ARGS` in `cwd`: the parsed listing.
pub fn list_json(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Vec<Value> {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    let out = warden_in(&all, cwd, env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("`warden list --json` prints JSON")
}

/// The protocol version a client announces and the lifecycle it follows to
/// speak `revision`.
pub fn speaking(revision: Revision) -> (ProtocolVersion, ClientLifecycleMode) {
    match revision {
        Revision::Legacy => (
            ProtocolVersion::V_2025_11_25,
            ClientLifecycleMode::Initialize,
        ),
        Revision::Stateless => (
            ProtocolVersion::V_2026_07_28,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        ),
    }
}

/// The client handler and lifecycle that speak `revision`, for any transport.
pub fn client_for(revision: Revision) -> (TestClient, ClientLifecycleMode) {
    let (version, lifecycle) = speaking(revision);
    (
        TestClient {
            version,
            events: None,
        },
        lifecycle,
    )
}

/// Starts `warden serve --plugins DIR` in `cwd` (the workspace root) and
/// connects `handler` on `revision`'s lifecycle; the server's log is
/// discarded. For tests that need their own client handler (for example one
/// that records notifications).
pub async fn connect_with<H: ClientHandler>(
    handler: H,
    plugins: &Path,
    revision: Revision,
    cwd: &Path,
) -> RunningService<RoleClient, H> {
    let plugins = plugins.to_path_buf();
    let command = tokio::process::Command::new(WARDEN).configure(|cmd| {
        cmd.arg("serve")
            .env("WARDEN_WAIT_FOR_PLUGINS", "1")
            .arg("--plugins")
            .arg(&plugins)
            .env("WARDEN_LOG", "warden=info")
            .env_remove("WARDEN_CONFIG")
            .env_remove("WARDEN_PLUGINS")
            .current_dir(cwd);
    });
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn warden");
    let (_, lifecycle) = client_for(revision);
    handler
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .expect("connect to warden")
}

/// `warden serve` over stdio, started with `config` as its `warden.toml`
/// and `plugins`, its JSON log (level `warden=info`) in a file, with
/// `handler` connected on `revision`'s lifecycle.
pub struct ServedStdio<H: ClientHandler> {
    /// The connected client.
    pub client: RunningService<RoleClient, H>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl<H: ClientHandler> ServedStdio<H> {
    /// Starts the server and connects `handler`.
    pub async fn start(handler: H, plugins: &Path, revision: Revision, config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("warden.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("warden.log");
        let stderr = std::fs::File::create(&log).unwrap();
        let plugins = plugins.to_path_buf();
        let cwd = dir.path().to_path_buf();
        let command = tokio::process::Command::new(WARDEN).configure(|cmd| {
            cmd.arg("--log-format")
                .arg("json")
                .arg("serve")
                .arg("--config")
                .arg(&config_path)
                .arg("--plugins")
                .arg(&plugins)
                .env("WARDEN_WAIT_FOR_PLUGINS", "1")
                .env("WARDEN_LOG", "warden=info")
                .env_remove("WARDEN_CONFIG")
                .env_remove("WARDEN_PLUGINS")
                .current_dir(&cwd);
        });
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn warden");
        let (_, lifecycle) = speaking(revision);
        let client = handler
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .expect("connect to warden");
        Self {
            client,
            log,
            _dir: dir,
        }
    }

    /// A file beside the server's `warden.toml`.
    pub fn file(&self, name: &str) -> PathBuf {
        self._dir.path().join(name)
    }

    /// The server's log events so far.
    pub fn log_events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .collect()
    }

    /// The events named `event` in the audit log beside the config
    /// (`[audit] file = "audit.jsonl"`), none while it does not exist.
    pub fn audited(&self, event: &str) -> Vec<Value> {
        std::fs::read_to_string(self.file("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|e| e["event"] == event)
            .collect()
    }

    /// Calls a tool, panicking on protocol errors.
    pub async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        self.try_call(tool, arguments)
            .await
            .unwrap_or_else(|e| panic!("tools/call {tool}: {e}"))
    }

    /// Calls a tool.
    pub async fn try_call(
        &self,
        tool: &str,
        arguments: Value,
    ) -> Result<CallToolResult, rmcp::ServiceError> {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object");
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
            .await
    }

    /// Closes the connection, which ends the server.
    pub async fn stop(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.cancel()).await;
    }
}
