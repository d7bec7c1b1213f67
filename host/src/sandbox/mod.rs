//! The sandbox: the only module that uses wasmtime.
//!
//! One [`Sandbox`] owns the shared [`Engine`] (pooling allocator, fuel, epoch
//! interruption) and the [`Linker`] with everything a plugin may import. Each
//! plugin is compiled once into a [`CompiledPlugin`] (an `InstancePre`); every
//! call then gets a fresh `Store` and instance, built from a WASI context that
//! inherits nothing from the host, and runs under the call's [`Limits`].

mod bindings;
mod error;
mod exports;
mod http;
mod limiter;
mod output;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wasmtime::component::{
    Component, HasSelf, InstancePre, Linker, ResourceTable, types::ComponentItem,
};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime::{Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub use bindings::{
    Annotations, Blob, Completion, CompletionRef, Content, Level, ListKind, PromptArgument,
    PromptDescriptor, PromptError, PromptMessage, PromptResult, ResourceBody, ResourceContents,
    ResourceDescriptor, ResourceError, ResourceTemplate, Role, ToolDescriptor, ToolError,
    ToolOutput,
};
pub use error::{CallError, LimitHit, LoadError};
pub use exports::{Description, ExportSet};
pub use output::{Captured, CapturedOutput};

use crate::grants::{Denial, Grants};
use crate::limits::Limits;
use crate::manifest::DirMode;
use bindings::FullPlugin;
use exports::{Exports, Op, OpResult};
use limiter::CallLimiter;

/// The package of the plugin world this host implements.
pub const WORLD_PACKAGE: &str = "warden:plugin";
/// The version of the plugin world this host implements.
pub const WORLD_VERSION: &str = "0.1.1";

/// How often the epoch ticker advances; the granularity of wall-clock limits.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Extra time allowed for host-side work (for example a guest blocked in a
/// host call, where epochs cannot interrupt it) before the call is dropped.
const HOST_GRACE: Duration = Duration::from_millis(250);
/// Longest single `log` message kept from a guest.
const MAX_LOG_MESSAGE: usize = 4096;
/// Most `resource-updated` announcements kept from one call.
const MAX_UPDATED_URIS: usize = 64;

/// Engine-wide settings, fixed when the sandbox is created.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Maximum native stack a call's wasm may use, in bytes.
    pub max_wasm_stack: usize,
    /// How many calls may run at the same time (sizes the instance pool).
    pub max_concurrent_calls: u32,
    /// The largest linear memory any plugin may be granted, in bytes.
    pub memory_ceiling: u64,
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<std::path::PathBuf>,
}

/// The shared engine and linker.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    max_wasm_stack: usize,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("max_wasm_stack", &self.max_wasm_stack)
            .finish_non_exhaustive()
    }
}

/// A plugin compiled and linked once, ready for fresh instances.
#[derive(Clone)]
pub struct CompiledPlugin {
    pre: InstancePre<HostState>,
    exports: Exports,
    /// The version of the plugin world the component was built against.
    pub world_version: String,
}

impl CompiledPlugin {
    /// Which optional interfaces the component exports.
    pub fn exports(&self) -> ExportSet {
        self.exports.set()
    }
}

impl std::fmt::Debug for CompiledPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPlugin")
            .field("world_version", &self.world_version)
            .field("exports", &self.exports.set())
            .finish_non_exhaustive()
    }
}

/// Who a call is for, and where its progress reports go.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The plugin's name, for logs.
    pub plugin: Arc<str>,
    /// What is being run, for logs: a tool's name, `prompt NAME`,
    /// `resource URI` or `complete`; `None` while describing the plugin.
    pub tool: Option<Arc<str>>,
    /// Receives the guest's progress reports, if the client asked for them.
    pub progress: Option<mpsc::Sender<ProgressReport>>,
}

/// One progress report from a guest.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressReport {
    /// Progress so far.
    pub progress: f64,
    /// The expected final value, when known.
    pub total: Option<f64>,
    /// A human-readable note.
    pub message: Option<String>,
}

/// Where the time and resources of one call went.
#[derive(Debug, Clone, Default)]
pub struct CallStats {
    /// Creating the store and instantiating the component.
    pub instantiate: Duration,
    /// Running the exported function.
    pub call: Duration,
    /// Dropping the instance and its store.
    pub teardown: Duration,
    /// Fuel (instructions) consumed.
    pub fuel_used: u64,
    /// The largest linear memory size reached, in bytes.
    pub peak_memory: u64,
    /// Size of the result, in bytes.
    pub output_bytes: u64,
}

/// The result of one call together with what the call left behind.
#[derive(Debug)]
pub struct CallReport<T> {
    /// What the call returned, or why it failed.
    pub outcome: Result<T, CallError>,
    /// Timings and resource use.
    pub stats: CallStats,
    /// What the guest wrote to stdout.
    pub stdout: Captured,
    /// What the guest wrote to stderr.
    pub stderr: Captured,
    /// Capabilities the guest tried to use without a grant.
    pub denials: Vec<Denial>,
    /// What the guest asked the host to announce through `notify`.
    pub announcements: Announcements,
}

/// What a guest asked the host to announce during one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcements {
    /// The tool list changed.
    pub tools: bool,
    /// The prompt list changed.
    pub prompts: bool,
    /// The resource list (or the templates) changed.
    pub resources: bool,
    /// Plugin-local URIs of resources whose contents changed.
    pub updated: Vec<String>,
}

impl Announcements {
    /// Whether any list changed.
    pub fn lists_changed(&self) -> bool {
        self.tools || self.prompts || self.resources
    }

    /// Whether there is nothing to announce.
    pub fn is_empty(&self) -> bool {
        !self.lists_changed() && self.updated.is_empty()
    }
}

impl Sandbox {
    /// Creates the engine, the instance pool and the linker.
    pub fn new(settings: &EngineSettings) -> Result<Self, LoadError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(true);
        config.epoch_interruption(true);
        config.max_wasm_stack(settings.max_wasm_stack);
        // Async calls run wasm on a fiber stack that must hold the wasm stack
        // plus room for host functions.
        config.async_stack_size(settings.max_wasm_stack + (1 << 20));

        let calls = settings.max_concurrent_calls.max(1) + 8;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(calls)
            .total_core_instances(calls * 16)
            .total_memories(calls * 4)
            .total_tables(calls * 16)
            .total_stacks(calls)
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(32)
            .max_memory_size(usize::try_from(settings.memory_ceiling).unwrap_or(usize::MAX));
        if pagemap_scan_supported() {
            // Reset a reused slot by scanning for the pages the last call
            // wrote instead of handing all of them back to the kernel: the
            // next instance starts from the same image without re-faulting
            // its memory (about half the cost of a fresh-instance call).
            // Without PAGEMAP_SCAN, keeping memory resident costs more than it
            // saves, so the default `madvise` reset stays.
            pool.linear_memory_keep_resident(1 << 20)
                .table_keep_resident(1 << 20)
                .pagemap_scan(wasmtime::Enabled::Auto);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));

        if let Some(dir) = &settings.cache_dir {
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir.clone());
            match wasmtime::Cache::new(cache) {
                Ok(cache) => {
                    config.cache(Some(cache));
                }
                Err(e) => tracing::warn!(
                    dir = %dir.display(),
                    "compiled-component cache disabled: {e:#}"
                ),
            }
        }

        let engine = Engine::new(&config).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        let link = |r: wasmtime::Result<()>| r.map_err(|e| LoadError::Link(format!("{e:#}")));
        link(wasmtime_wasi::p2::add_to_linker_async(&mut linker))?;
        link(wasmtime_wasi_http::p2::add_only_http_to_linker_async(
            &mut linker,
        ))?;
        link(FullPlugin::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s| s,
        ))?;

        let ticker = EpochTicker::start(engine.clone());
        Ok(Self {
            engine,
            linker,
            max_wasm_stack: settings.max_wasm_stack,
            _ticker: ticker,
        })
    }

    /// Compiles and links a component. CPU-heavy: call it off the async
    /// runtime's worker threads.
    pub fn compile(&self, bytes: &[u8]) -> Result<CompiledPlugin, LoadError> {
        check_header(bytes)?;
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let world_version = self.check_world(&component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let exported: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let exports = Exports::find(&pre, &exported)?;
        Ok(CompiledPlugin {
            pre,
            exports,
            world_version,
        })
    }

    /// Finds the plugin world's `tools` export and checks its version.
    fn check_world(&self, component: &Component) -> Result<String, LoadError> {
        let ty = component.component_type();
        let prefix = format!("{WORLD_PACKAGE}/tools");
        let mut exports = Vec::new();
        for (name, item) in ty.exports(&self.engine) {
            if let Some(rest) = name.strip_prefix(&prefix)
                && matches!(item.ty, ComponentItem::ComponentInstance(_))
            {
                let found = rest.strip_prefix('@').unwrap_or("");
                if !semver_compatible(found, WORLD_VERSION) {
                    return Err(LoadError::IncompatibleWorld {
                        found: if found.is_empty() {
                            "(unversioned)"
                        } else {
                            found
                        }
                        .into(),
                        expected: WORLD_VERSION.into(),
                    });
                }
                return Ok(found.to_string());
            }
            exports.push(name.to_string());
        }
        Err(LoadError::NotAPlugin {
            exports: if exports.is_empty() {
                "none".into()
            } else {
                exports.join(", ")
            },
        })
    }

    /// Calls `list-tools` in a fresh instance.
    pub async fn describe(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
    ) -> CallReport<Vec<ToolDescriptor>> {
        let report = self.run(plugin, limits, grants, ctx, Op::ListTools).await;
        report.map(|result| match result {
            OpResult::Tools(tools) => Ok(tools),
            _ => Err(unexpected()),
        })
    }

    /// Calls every `list-*` function the plugin exports, in one fresh
    /// instance.
    pub async fn describe_all(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
    ) -> CallReport<Description> {
        let report = self.run(plugin, limits, grants, ctx, Op::Describe).await;
        report.map(|result| match result {
            OpResult::Description(description) => Ok(description),
            _ => Err(unexpected()),
        })
    }

    /// Calls `read-resource` in a fresh instance. The inner `Result` is the
    /// plugin's own verdict.
    pub async fn read_resource(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        uri: &str,
    ) -> CallReport<Result<Vec<ResourceContents>, ResourceError>> {
        let op = Op::ReadResource { uri };
        let report = self.run(plugin, limits, grants, ctx, op).await;
        report.map(|result| match result {
            OpResult::Read(result) => Ok(result),
            _ => Err(unexpected()),
        })
    }

    /// Calls `get-prompt` in a fresh instance.
    pub async fn get_prompt(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        name: &str,
        arguments: &[(String, String)],
    ) -> CallReport<Result<PromptResult, PromptError>> {
        let op = Op::GetPrompt { name, arguments };
        let report = self.run(plugin, limits, grants, ctx, op).await;
        report.map(|result| match result {
            OpResult::Prompt(result) => Ok(result),
            _ => Err(unexpected()),
        })
    }

    /// Calls `complete` in a fresh instance.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        reference: &CompletionRef,
        argument: &str,
        value: &str,
        context: &[(String, String)],
    ) -> CallReport<Result<Completion, String>> {
        let op = Op::Complete {
            reference,
            argument,
            value,
            context,
        };
        let report = self.run(plugin, limits, grants, ctx, op).await;
        report.map(|result| match result {
            OpResult::Completion(result) => Ok(result),
            _ => Err(unexpected()),
        })
    }

    /// Calls `call-tool` in a fresh instance. The inner `Result` is the
    /// plugin's own verdict; the outer one says whether the call ran at all.
    pub async fn call(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        tool: &str,
        arguments: &str,
    ) -> CallReport<Result<ToolOutput, ToolError>> {
        let report = self
            .run(
                plugin,
                limits,
                grants,
                ctx,
                Op::CallTool { tool, arguments },
            )
            .await;
        report.map(|result| match result {
            OpResult::Call(result) => Ok(result),
            _ => Err(unexpected()),
        })
    }

    async fn run(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        op: Op<'_>,
    ) -> CallReport<OpResult> {
        if !plugin.exports.supports(&op) {
            return CallReport {
                outcome: Err(CallError::Internal(
                    "the plugin does not export the interface this call needs".into(),
                )),
                stats: CallStats::default(),
                stdout: Captured::default(),
                stderr: Captured::default(),
                denials: Vec::new(),
                announcements: Announcements::default(),
            };
        }
        let log_cap = usize::try_from(limits.max_log_bytes).unwrap_or(usize::MAX);
        let stdout = CapturedOutput::new(log_cap);
        let stderr = CapturedOutput::new(log_cap);
        let plugin_name = ctx.plugin.clone();

        let started = Instant::now();
        let wasi = match wasi_context(grants, &stdout, &stderr) {
            Ok(wasi) => wasi,
            Err(error) => {
                return CallReport {
                    outcome: Err(error),
                    stats: CallStats::default(),
                    stdout: stdout.snapshot(),
                    stderr: stderr.snapshot(),
                    denials: Vec::new(),
                    announcements: Announcements::default(),
                };
            }
        };
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            http_hooks: http::OutboundHttp::new(plugin_name, grants.clone()),
            limiter: CallLimiter::new(limits.memory_bytes),
            log_budget: limits.max_log_bytes,
            announcements: Announcements::default(),
            ctx,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let mut stats = CallStats::default();
        if let Err(e) = store.set_fuel(limits.fuel) {
            return CallReport {
                outcome: Err(CallError::Internal(format!("{e:#}"))),
                stats,
                stdout: stdout.snapshot(),
                stderr: stderr.snapshot(),
                denials: Vec::new(),
                announcements: Announcements::default(),
            };
        }
        let deadline = started + limits.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });

        let mut instantiated = None;
        let run = async {
            let instance = plugin.pre.instantiate_async(&mut store).await?;
            instantiated = Some(Instant::now());
            plugin.exports.run(&mut store, &instance, op).await
        };
        let result = tokio::time::timeout(limits.timeout + HOST_GRACE, run).await;
        let finished = Instant::now();
        let instantiated = instantiated.unwrap_or(finished);
        stats.instantiate = instantiated - started;
        stats.call = finished - instantiated;
        stats.fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        stats.peak_memory = store.data().limiter.peak_memory() as u64;

        let outcome = match result {
            Err(_elapsed) => Err(CallError::Limit(LimitHit::Timeout(limits.timeout))),
            Ok(Err(e)) => Err(self.classify(e, &store, limits, &stderr)),
            Ok(Ok(result)) => {
                stats.output_bytes = result.size() as u64;
                if stats.output_bytes > limits.max_output_bytes {
                    Err(CallError::Limit(LimitHit::Output {
                        limit: limits.max_output_bytes,
                        size: stats.output_bytes,
                    }))
                } else {
                    Ok(result)
                }
            }
        };
        let denials = store.data().http_hooks.denials();
        let announcements = std::mem::take(&mut store.data_mut().announcements);
        drop(store);
        stats.teardown = finished.elapsed();
        CallReport {
            outcome,
            stats,
            stdout: stdout.snapshot(),
            stderr: stderr.snapshot(),
            denials,
            announcements,
        }
    }

    /// Turns a wasmtime error into the limit or trap that caused it.
    fn classify(
        &self,
        error: wasmtime::Error,
        store: &Store<HostState>,
        limits: &Limits,
        stderr: &CapturedOutput,
    ) -> CallError {
        let refused = store.data().limiter.refused_growth();
        let memory_hit = |requested: usize| {
            CallError::Limit(LimitHit::Memory {
                limit: limits.memory_bytes,
                requested: requested as u64,
            })
        };
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => CallError::Limit(LimitHit::Fuel(limits.fuel)),
            Some(Trap::Interrupt) => CallError::Limit(LimitHit::Timeout(limits.timeout)),
            Some(Trap::StackOverflow) => CallError::Limit(LimitHit::Stack(self.max_wasm_stack)),
            Some(trap) => match refused {
                Some(requested) => memory_hit(requested),
                None => CallError::Trap {
                    trap: trap.to_string(),
                    detail: crash_detail(&stderr.snapshot().bytes),
                },
            },
            None => match refused {
                Some(requested) => memory_hit(requested),
                None => CallError::Trap {
                    trap: format!("{error:#}"),
                    detail: crash_detail(&stderr.snapshot().bytes),
                },
            },
        }
    }
}

fn unexpected() -> CallError {
    CallError::Internal("the plugin returned an unexpected result".into())
}

impl<T> CallReport<T> {
    fn map<U>(self, f: impl FnOnce(T) -> Result<U, CallError>) -> CallReport<U> {
        CallReport {
            outcome: self.outcome.and_then(f),
            stats: self.stats,
            stdout: self.stdout,
            stderr: self.stderr,
            denials: self.denials,
            announcements: self.announcements,
        }
    }
}

/// Whether the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7 and later).
fn pagemap_scan_supported() -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 7)
}

/// A WASI context with exactly the granted capabilities: captured stdio, the
/// granted preopens and variables, and nothing inherited from the host.
fn wasi_context(
    grants: &Grants,
    stdout: &CapturedOutput,
    stderr: &CapturedOutput,
) -> Result<WasiCtx, CallError> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone()).stderr(stderr.clone());
    for dir in &grants.dirs {
        let perms = match dir.mode {
            DirMode::ReadOnly => FsPerms::ReadOnly,
            DirMode::ReadWrite => FsPerms::ReadWrite,
        };
        wasi.preopened_dir(dir.open_path(), &dir.guest, perms)
            .map_err(|e| {
                CallError::Internal(format!(
                    "cannot open the granted directory for {}: {e:#}",
                    dir.guest
                ))
            })?;
    }
    for var in &grants.env {
        wasi.env(&var.name, var.value.expose());
    }
    Ok(wasi.build())
}

/// The size of a tool result in bytes: text, binary data and structured JSON.
pub fn output_size(output: &ToolOutput) -> usize {
    let content: usize = output.content.iter().map(content_size).sum();
    content + output.structured.as_ref().map_or(0, String::len)
}

/// The size of one content block in bytes.
fn content_size(content: &Content) -> usize {
    match content {
        Content::Text(text) => text.len(),
        Content::Blob(blob) => blob.data.len() + blob.mime_type.len(),
    }
}

/// Rejects files that are not components before wasmtime sees them, with a
/// message that says what the file is instead.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm);
    }
    // Core modules are version 1, layer 0; components set layer 1.
    match bytes[4..8] {
        [1, 0, 0, 0] => Err(LoadError::CoreModule),
        _ => Ok(()),
    }
}

/// Versions `found` and `expected` are semver-compatible: same major, and for
/// 0.x the same minor.
fn semver_compatible(found: &str, expected: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let core = v.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        parts.next()?.parse::<u64>().ok()?;
        Some((major, minor))
    };
    match (parse(found), parse(expected)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

/// What a crashed guest last said on stderr: its panic message when there is
/// one (`panicked at FILE:LINE:COL:` and the lines after it), else the last
/// non-empty line; trimmed to a sane length.
fn crash_detail(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    let detail = match lines.iter().rposition(|l| l.contains("panicked at")) {
        Some(start) => lines[start..].join(" "),
        None => lines.last()?.to_string(),
    };
    Some(truncate(&detail, 500))
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The per-call host state stored in each `Store`.
struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    http_hooks: http::OutboundHttp,
    limiter: CallLimiter,
    log_budget: u64,
    announcements: Announcements,
    ctx: CallContext,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl bindings::warden::plugin::types::Host for HostState {}

impl bindings::warden::plugin::log::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let cost = message.len() as u64;
        if self.log_budget == 0 {
            return;
        }
        self.log_budget = self.log_budget.saturating_sub(cost);
        let message = truncate(&message, MAX_LOG_MESSAGE);
        // One line in every log format, for every consumer of the log.
        let message = crate::render::escape(&message);
        let plugin = &*self.ctx.plugin;
        let tool = self.ctx.tool.as_deref().unwrap_or("");
        match level {
            Level::Trace => tracing::trace!(target: "warden::plugin", plugin, tool, "{message}"),
            Level::Debug => tracing::debug!(target: "warden::plugin", plugin, tool, "{message}"),
            Level::Info => tracing::info!(target: "warden::plugin", plugin, tool, "{message}"),
            Level::Warn => tracing::warn!(target: "warden::plugin", plugin, tool, "{message}"),
            Level::Error => tracing::error!(target: "warden::plugin", plugin, tool, "{message}"),
        }
    }
}

impl bindings::warden::plugin::progress::Host for HostState {
    fn report(&mut self, progress: f64, total: Option<f64>, message: Option<String>) {
        if let Some(tx) = &self.ctx.progress {
            // Reports beyond what the client can absorb are dropped, never
            // buffered without bound.
            let _ = tx.try_send(ProgressReport {
                progress,
                total,
                message: message.map(|m| truncate(&m, MAX_LOG_MESSAGE)),
            });
        }
    }
}

impl bindings::warden::plugin::notify::Host for HostState {
    fn list_changed(&mut self, kind: ListKind) {
        let flag = match kind {
            ListKind::Tools => &mut self.announcements.tools,
            ListKind::Prompts => &mut self.announcements.prompts,
            ListKind::Resources => &mut self.announcements.resources,
        };
        *flag = true;
    }

    fn resource_updated(&mut self, uri: String) {
        let updated = &mut self.announcements.updated;
        if updated.len() < MAX_UPDATED_URIS && !updated.contains(&uri) {
            updated.push(truncate(&uri, MAX_LOG_MESSAGE));
        }
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`]; stopped and joined on drop.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("warden-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_rules() {
        assert!(semver_compatible("0.1.0", "0.1.0"));
        assert!(semver_compatible("0.1.7", "0.1.0"));
        assert!(!semver_compatible("0.2.0", "0.1.0"));
        assert!(!semver_compatible("1.0.0", "0.1.0"));
        assert!(semver_compatible("1.4.0", "1.0.0"));
        assert!(!semver_compatible("", "0.1.0"));
        assert!(!semver_compatible("banana", "0.1.0"));
    }

    #[test]
    fn headers() {
        assert!(matches!(check_header(b"hello"), Err(LoadError::NotWasm)));
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn crash_detail_prefers_the_panic_message() {
        let stderr = b"starting\nthread '<unnamed>' panicked at src/lib.rs:3:5:\nboom\n\
            note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            crash_detail(stderr).as_deref(),
            Some("thread '<unnamed>' panicked at src/lib.rs:3:5: boom")
        );
        assert_eq!(
            crash_detail(b"a\nlast words\n\n").as_deref(),
            Some("last words")
        );
        assert_eq!(crash_detail(b""), None);
    }
}
