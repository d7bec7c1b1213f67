//! The sandbox: the only module that uses wasmtime.
//!
//! One [`Sandbox`] owns the shared [`Engine`] (pooling allocator, fuel, epoch
//! interruption) and the [`Linker`] with everything a plugin may import. Each
//! plugin is compiled once into a [`CompiledPlugin`] (an `InstancePre`); every
//! call then gets a fresh `Store` and instance, built from a WASI context that
//! inherits nothing from the host, and runs under the call's [`Limits`].
//!
//! Host resources a call makes the host hold are charged to that call:
//! handles (the store's `ResourceTable` is capped at `max_handles`), host
//! memory (`account`: every allocation made while the call is polled), open
//! files and written bytes (`files`: `open-at` and the write functions
//! redefined in front of wasmtime-wasi's).

mod account;
mod artifacts;
mod asked_dirs;
mod bindings;
mod calls;
mod checks;
mod client;
pub mod client_log;
mod code;
mod connect;
mod deadline;
mod denials;
mod digests;
mod error;
mod exchanges;
mod exports;
mod files;
mod functions;
mod host;
mod http;
mod io_error;
mod legacy;
mod limiter;
mod output;
mod permission;
mod progress;
mod ready;
mod report;
mod store;
mod ticker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Trap;
use wasmtime::component::{
    Component, HasSelf, InstancePre, Linker, ResourceTableError, types::ComponentItem,
};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

pub use artifacts::{ArtifactCache, Cached, CachedAs, Fetched, Listed, Usage};
pub use bindings::{
    Annotations, Blob, ClientFeature as WitClientFeature, Completion, CompletionRef, Content,
    Level, ListKind, PromptArgument, PromptDescriptor, PromptError, PromptMessage, PromptResult,
    ResourceBody, ResourceContents, ResourceDescriptor, ResourceError, ResourceLink,
    ResourceTemplate, Role, ToolDescriptor, ToolError, ToolOutput,
};
pub use checks::output_size;
pub use client::{ClientMethod, ClientPeer, ClientRequest, ClientSupport, PeerError, check_answer};
pub use client_log::{ClientLog, ClientLogStream, LogMessage};
pub use code::{MakeCode, PluginCode};
pub use connect::{Resolve, SystemResolver};
pub use digests::Digests;
pub use error::{CallError, LimitHit, LoadError};
pub use exports::{Description, ExportSet};
pub use functions::{FunctionCache, FunctionCounts};
pub use output::{Captured, CapturedOutput};
pub use progress::{ProgressReport, ProgressSink, ProgressStream};
pub use ready::ReadySettings;
pub use report::{Announcements, CallReport, CallStats};

use crate::limits::Limits;
use crate::policy::grants::Grants;
use account::{Accounted, CallMemory};
use bindings::FullPlugin;
use checks::{
    check_header, content_size, crash_detail, pagemap_scan_supported, semver_compatible, truncate,
};
use deadline::Deadline;
use error::HostLimit;
use exports::{Exports, Op, OpResult};
use files::FilePool;
use host::HostState;
use ready::{Ready, ReadyPool};
use store::{CallStore, Parts};
use ticker::EpochTicker;

/// The package of the plugin world this host implements.
pub const WORLD_PACKAGE: &str = "warden:plugin";
/// The version of the plugin world this host implements.
pub const WORLD_VERSION: &str = "0.2.0";
/// The older world whose plugins this host also serves, unchanged.
pub const LEGACY_WORLD_VERSION: &str = "0.1.1";

/// Extra time allowed for host-side work (for example a guest blocked in a
/// host call, where epochs cannot interrupt it) before the call is dropped.
const HOST_GRACE: Duration = Duration::from_millis(250);
/// Bytes of a call's fiber stack zeroed in place when it ends; the rest of
/// what the call touched is handed back to the kernel.
const STACK_KEEP_RESIDENT: usize = 64 << 10;
/// Idle instance slots kept warm for the plugin that used them last. Above
/// this, a call takes over the least recently used warm slot instead of a
/// fresh one, which bounds the memory idle slots keep resident (wasmtime's
/// default is 100).
const WARM_SLOTS: u32 = 16;
/// Longest single `log` message kept from a guest.
const MAX_LOG_MESSAGE: usize = 4096;
/// Most `resource-updated` announcements kept from one call.
const MAX_UPDATED_URIS: usize = 64;
/// Largest set of HTTP headers (one `fields` object) a call may build or
/// receive; the sum over all of them counts against `host_memory`.
const MAX_HTTP_FIELDS_BYTES: usize = 64 << 10;

/// Engine-wide settings, fixed when the sandbox is created.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Maximum native stack a call's wasm may use, in bytes.
    pub max_wasm_stack: usize,
    /// How many calls may run at the same time (sizes the instance pool).
    pub max_concurrent_calls: u32,
    /// The largest linear memory any plugin may be granted, in bytes.
    pub memory_ceiling: u64,
    /// Whether compiles use (and the artifact cache keeps) compiled functions
    /// ([`FunctionCache`]).
    pub cache_functions: bool,
    /// Instances made ahead of calls, for plugins slow to instantiate.
    pub ready: ReadySettings,
}

/// The shared engine and linker.
pub struct Sandbox {
    linker: Linker<HostState>,
    max_wasm_stack: usize,
    /// The engine, the open files and the resolver every store is made of.
    parts: Parts,
    ticker: Arc<EpochTicker>,
    /// Instances made ahead of calls.
    ready: Ready,
    /// Compiled functions kept for the next component that has them too.
    functions: Option<Arc<FunctionCache>>,
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
    /// Its instances made ahead of calls.
    ready: Arc<ReadyPool>,
    /// The version of the plugin world the component was built against.
    pub world_version: String,
}

impl CompiledPlugin {
    /// Which optional interfaces the component exports.
    pub fn exports(&self) -> ExportSet {
        self.exports.set()
    }

    /// The compiled code, as the artifact cache stores it.
    fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        self.pre.component().serialize()
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

/// Who a call is for, and what its client attached to it.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The plugin's name, for logs.
    pub plugin: Arc<str>,
    /// What is being run, for logs: a tool's name, `prompt NAME`,
    /// `resource URI` or `complete`; `None` while describing the plugin.
    pub tool: Option<Arc<str>>,
    /// Where progress and log messages go, and what cancels the call.
    pub client: ClientLinks,
    /// Whether the call may run in an instance made ahead of it, and have
    /// the next one made while it runs: not for a plugin whose calls run one
    /// at a time (`sequential`), whose start code would run beside a call.
    pub ahead: bool,
}

/// What a client attaches to a call; each is `None` when it did not ask.
#[derive(Debug, Clone, Default)]
pub struct ClientLinks {
    /// Receives the guest's progress reports (the client sent a progress
    /// token).
    pub progress: Option<ProgressSink>,
    /// Receives the guest's log messages at the client's level or above.
    pub log: Option<ClientLog>,
    /// Cancelled when the client cancels the request: the instance is
    /// dropped at its next epoch tick (or at once when it waits on the host)
    /// and the call ends as [`CallError::Cancelled`].
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// The client the plugin may send requests to (the world's `client`
    /// import); `None` outside tool calls from an MCP client.
    pub peer: Option<Arc<dyn ClientPeer>>,
}

impl Sandbox {
    /// Creates the engine, the instance pool and the linker.
    pub fn new(settings: &EngineSettings) -> Result<Self, LoadError> {
        account::fix_allocator_thresholds();
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(true);
        config.epoch_interruption(true);
        let functions = settings
            .cache_functions
            .then(|| Arc::new(FunctionCache::default()));
        if let Some(functions) = &functions {
            config
                .enable_incremental_compilation(functions.clone())
                .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        }
        config.max_wasm_stack(settings.max_wasm_stack);
        // Async calls run wasm on a fiber stack that must hold the wasm stack
        // plus room for host functions.
        config.async_stack_size(settings.max_wasm_stack + (1 << 20));
        // A call's fiber stack is reset when the call ends: what a deep call
        // touched is handed back, so the pool's stacks do not stay resident
        // one by one as calls land on them, and nothing of a call is left on
        // the stack the next one gets.
        config.async_stack_zeroing(true);

        let calls = settings.max_concurrent_calls.max(1) + 8;
        let instances = calls + settings.ready.pool_slots();
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances * 16)
            .total_memories(instances * 4)
            .total_tables(instances * 16)
            .total_stacks(instances)
            .async_stack_keep_resident(STACK_KEEP_RESIDENT)
            .max_unused_warm_slots(WARM_SLOTS)
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
        link(bindings::legacy::FullPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))?;
        link(files::add_to_linker(&mut linker))?;
        link(asked_dirs::add_to_linker(&mut linker))?;
        link(io_error::add_to_linker(&mut linker))?;

        if !CallMemory::active() {
            tracing::warn!(
                "host memory accounting is not active: host_memory limits are not enforced"
            );
        }
        // Ready instances hold no files (`ready.rs`): the shares are the calls'.
        let files = FilePool::for_process(calls);
        tracing::debug!(
            pool = files.size(),
            per_call = files.per_call(),
            "open files for calls"
        );
        if files.per_call() < Limits::DEFAULTS.max_open_files {
            tracing::warn!(
                per_call = files.per_call(),
                "the process's descriptor limit leaves each of the {calls} calls that may run \
                 at once only {} open files; raise `ulimit -n` or lower max_concurrent_calls",
                files.per_call()
            );
        }
        let ticker = Arc::new(EpochTicker::start(engine.clone()));
        let parts = Parts {
            engine,
            files: Arc::new(files),
            resolver: Arc::new(SystemResolver),
        };
        Ok(Self {
            linker,
            max_wasm_stack: settings.max_wasm_stack,
            ready: Ready::new(settings.ready, parts.clone(), ticker.clone()),
            parts,
            ticker,
            functions,
        })
    }

    /// Resolves plugins' outgoing HTTP host names with `resolver` instead
    /// of the system's (for tests and embedders with their own DNS).
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.parts.resolver = resolver;
        self.ready = Ready::new(
            self.ready.settings(),
            self.parts.clone(),
            self.ticker.clone(),
        );
        self
    }

    /// The compiled functions kept across compiles (unless turned off):
    /// attached to a directory by the artifact cache, and unused without one.
    pub fn functions(&self) -> Option<&Arc<FunctionCache>> {
        self.functions.as_ref()
    }

    /// How many files one call may hold open at most, whatever its
    /// `max_open_files`: the process's descriptor limit, less a reserve for
    /// the server, shared by every call that may run at once.
    pub fn open_files_per_call(&self) -> u64 {
        self.parts.files.per_call()
    }

    /// Compiles and links a component. CPU-heavy: call it off the async
    /// runtime's worker threads.
    pub fn compile(&self, bytes: &[u8]) -> Result<CompiledPlugin, LoadError> {
        check_header(bytes)?;
        let before = self.functions.as_ref().map(|f| f.counts());
        let component = Component::new(&self.parts.engine, bytes)
            .map_err(|e| LoadError::Compile(format!("{e:#}")));
        if let Some((functions, before)) = self.functions.as_ref().zip(before) {
            // Other compiles at the same time count here too.
            let counts = functions.counts() - before;
            tracing::debug!(
                from_cache = counts.hits,
                compiled = counts.compiled,
                "functions compiled"
            );
        }
        // Compiling takes tens of MB of heap on every compiling thread, all
        // free again now; glibc would keep it (measured: 65 MB of anonymous
        // RSS kept after compiling one 1.3 MB component).
        account::release_free_memory();
        self.link(component?)
    }

    /// Checks the world of `component`, links it and finds its exports.
    fn link(&self, component: Component) -> Result<CompiledPlugin, LoadError> {
        let world_version = self.check_world(&component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let exported: Vec<String> = component
            .component_type()
            .exports(&self.parts.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let exports = Exports::find(&pre, &exported, &world_version)?;
        Ok(CompiledPlugin {
            pre,
            exports,
            ready: Arc::default(),
            world_version,
        })
    }

    /// Finds the plugin world's `tools` export and checks its version.
    fn check_world(&self, component: &Component) -> Result<String, LoadError> {
        let ty = component.component_type();
        let prefix = format!("{WORLD_PACKAGE}/tools");
        let mut exports = Vec::new();
        for (name, item) in ty.exports(&self.parts.engine) {
            if let Some(rest) = name.strip_prefix(&prefix)
                && matches!(item.ty, ComponentItem::ComponentInstance(_))
            {
                let found = rest.strip_prefix('@').unwrap_or("");
                if !semver_compatible(found, WORLD_VERSION)
                    && !semver_compatible(found, LEGACY_WORLD_VERSION)
                {
                    return Err(LoadError::IncompatibleWorld {
                        found: if found.is_empty() {
                            "(unversioned)"
                        } else {
                            found
                        }
                        .into(),
                        expected: format!("{WORLD_VERSION} (or {LEGACY_WORLD_VERSION})"),
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

    async fn run(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        op: Op<'_>,
    ) -> CallReport<OpResult> {
        if !plugin.exports.supports(&op) {
            return CallReport::not_run(
                CallError::Internal(
                    "the plugin does not export the interface this call needs".into(),
                ),
                Captured::default(),
                Captured::default(),
            );
        }
        let started = Instant::now();
        let began = std::time::SystemTime::now();
        let describing = matches!(op, Op::ListTools | Op::Describe);
        let name = ctx.plugin.clone();
        let cancel = ctx.client.cancel.clone();

        // A ready instance, or a store for one made now. Either way, the
        // time and fuel its making took count against the call.
        let ahead = ctx.ahead;
        let taken = ahead
            .then(|| self.ready.take(&plugin.ready, &name, limits, grants))
            .flatten();
        let made = taken.as_ref().map_or(Duration::ZERO, |ready| ready.took);
        let deadline = Arc::new(Deadline::new(
            started.checked_sub(made).unwrap_or(started),
            limits.timeout,
        ));
        let (mut call, ready) = match taken {
            Some(ready) => (ready.call, Some(ready.instance)),
            None => match CallStore::new(&self.parts, name.clone(), limits, grants, &deadline) {
                Ok(call) => (call, None),
                Err(error) => {
                    return CallReport::not_run(error, Captured::default(), Captured::default());
                }
            },
        };
        let attached = call.attach(limits, grants, ctx, &deadline);
        let CallStore {
            mut store,
            stdout,
            stderr,
            memory,
        } = call;
        let mut stats = CallStats {
            began: Some(began),
            ready: ready.is_some(),
            ..CallStats::default()
        };

        let _ticking = self.ticker.running();
        let mut instantiated = None;
        let run = async {
            let instance = match ready {
                Some(instance) => instance,
                None => {
                    let instance = plugin.pre.instantiate_async(&mut store).await?;
                    self.ready.observe(&plugin.ready, started.elapsed());
                    instance
                }
            };
            instantiated = Some(Instant::now());
            if ahead && !describing {
                let (pre, ready) = (&plugin.pre, &plugin.ready);
                self.ready.refill(ready, pre, &name, limits, grants);
            }
            plugin.exports.run(&mut store, &instance, op).await
        };
        let run = Accounted::new(memory.clone(), run);
        // `Err` when the deadline passed (for a guest blocked in the host,
        // where epochs cannot interrupt it).
        let run = async {
            tokio::select! {
                result = run => Ok(result),
                () = deadline.expired(HOST_GRACE) => Err(()),
            }
        };
        // `Err` when the client cancelled or a permission question stopped
        // the run for an `input_required` round: the instance goes with `run`.
        let result = tokio::select! {
            biased;
            result = run => Ok(result),
            () = fired(cancel.as_ref()) => Err(CallError::Cancelled),
            () = fired(attached.stop.as_ref()) => Err(CallError::Deferred),
        };
        let finished = Instant::now();
        let instantiated = instantiated.unwrap_or(finished);
        stats.instantiate = instantiated - started;
        stats.call = finished - instantiated;
        stats.fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        stats.peak_memory = store.data().limiter.peak_memory() as u64;
        stats.peak_host_memory = memory.peak();
        stats.peak_open_files = store.data().files.peak_open();
        stats.written_bytes = store.data().files.written();

        let host_memory_hit = || {
            CallError::Limit(LimitHit::HostMemory {
                limit: memory.limit(),
                used: memory.peak(),
            })
        };
        let outcome = match result {
            Err(stopped) => Err(stopped),
            Ok(result) => match result {
                Err(()) => Err(CallError::Limit(LimitHit::Timeout(limits.timeout))),
                Ok(Err(account::OverBudget)) => Err(host_memory_hit()),
                Ok(Ok(Err(_))) if memory.exceeded() => Err(host_memory_hit()),
                Ok(Ok(Err(e))) => Err(self.classify(e, &store, limits, &stderr)),
                Ok(Ok(Ok(result))) => {
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
            },
        };
        let denials = store.data().http_hooks.denials();
        stats.http = store.data().http_hooks.exchanges();
        let permissions = attached.asker.map(|a| a.decisions()).unwrap_or_default();
        let announcements = std::mem::take(&mut store.data_mut().announcements);
        drop(store);
        account::trim_after(&memory);
        stats.teardown = finished.elapsed();
        CallReport {
            outcome,
            stats,
            stdout: stdout.snapshot(),
            stderr: stderr.snapshot(),
            denials,
            announcements,
            permissions,
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
        if let Some(HostLimit(limit)) = error.downcast_ref::<HostLimit>() {
            return CallError::Limit(limit.clone());
        }
        if error.downcast_ref::<client::Deferred>().is_some() {
            return CallError::Deferred;
        }
        if table_full(&error) {
            return CallError::Limit(LimitHit::Handles(limits.max_handles));
        }
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

/// Resolves when `token` is cancelled; never without one.
async fn fired(token: Option<&tokio_util::sync::CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Whether the call trapped because its resource table was full.
fn table_full(error: &wasmtime::Error) -> bool {
    matches!(
        error.downcast_ref::<ResourceTableError>(),
        Some(ResourceTableError::Full)
    ) || error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<ResourceTableError>(),
            Some(ResourceTableError::Full)
        )
    })
}
