//! Per-call cost of Warden, layer by layer, against wasmtime's own cost for
//! the same component.
//!
//! Every call runs in a fresh instance, so the figure that matters is "fresh
//! instance + one small call". For the hostile fixture's `echo` tool (a
//! ~230 KB Rust guest) and the `text` example plugin's `base64_encode` tool
//! (a ~1.3 MB Rust guest), each with a 100-byte text, this measures:
//!
//! 1. **wasmtime baseline**: an engine with the component model and the same
//!    pooling allocator as Warden's, no fuel and no epoch interruption; a
//!    linker with WASI p2, `wasi:http` and no-op `log`/`progress` imports;
//!    `instantiate_pre` once, then per iteration a new `Store` with a bare
//!    `WasiCtxBuilder::new().build()`, instantiate, `call-tool`, drop.
//!    Variants with fuel, with epoch interruption and with both show what
//!    each engine feature costs on its own; variants marked `(*)` add a
//!    pooling-allocator tuning Warden does not use (yet) to show what it
//!    would save.
//! 2. **`Sandbox::call`** with `Limits::DEFAULTS`: its `CallStats` breakdown
//!    (instantiate, call, teardown) and the fuel used.
//! 3. **`Dispatcher::call`**: registry lookup, input-schema validation, the
//!    sandbox call and the mapping to a `CallToolResult`: the server-side
//!    cost of `tools/call` minus JSON-RPC framing. Also with `warden serve`'s
//!    default log subscriber (writing to /dev/null), and from a spawned task
//!    (as rmcp runs every request), to separate those costs.
//! 4. **MCP round trip**: a `WardenServer` on Warden's stdio transport
//!    (`mcp::lines::LineTransport`) over `tokio::io::duplex`, talking to
//!    an rmcp client in the same process, plus a `ping` round trip for the
//!    protocol's own floor.
//!
//! It also reports host-side pieces on their own (building the WASI context,
//! schema validation, argument serialization) and plugin load times: a cold
//! compile without the artifact cache plus `list-tools`, and a warm load from
//! an artifact cache in a temp dir.
//!
//! All cases are interleaved in small batches so that a noisy machine slows
//! them alike; compare ratios from one run, not absolute figures across runs.
//! Each row reports the median (p50) and p90 of its samples.
//!
//! Run it with:
//!
//! ```text
//! cargo bench -p warden --bench call
//! WARDEN_BENCH_ITERS=500 cargo bench -p warden --bench call   # fewer iterations
//! ```
//!
//! Under `cargo test --benches` (no `--bench` argument) it runs a handful of
//! iterations and skips the engine-feature variants, as a smoke test (about
//! 10 s, most of it compiling the components).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

mod baseline;
mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientRequest, JsonObject, ServerResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt as _};
use serde_json::Value;
use tracing::Dispatch;
use tracing::instrument::WithSubscriber as _;
use tracing_subscriber::EnvFilter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::WasiHttpCtx;

use ::warden::limits::{LimitBounds, Limits};
use ::warden::mcp::dispatch::Dispatcher;
use ::warden::mcp::lines::LineTransport;
use ::warden::mcp::registry::{LoadedPlugin, PluginStatus, Registry};
use ::warden::mcp::server::WardenServer;
use ::warden::policy::grants::Grants;
use ::warden::sandbox::{ArtifactCache, CallContext, CapturedOutput, Content, Fetched, Sandbox};

use baseline::{Baseline, Sample, TUNED_KEEP_RESIDENT, Timed, Variant};

/// The 100-byte text every call sends.
const TEXT: &str = "Warden hosts tools as sandboxed WebAssembly components; \
                    every call gets a fresh instance of its own.";
/// Samples per case in a full run (`WARDEN_BENCH_ITERS` overrides).
const DEFAULT_ITERS: usize = 2000;
/// Samples per case in a smoke run (under `cargo test`).
const QUICK_ITERS: usize = 5;
/// Iterations of one case before the next case's turn.
const BATCH: usize = 25;

fn main() -> anyhow::Result<()> {
    let plan = Plan::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(run(plan))
}

/// How much to measure.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Smoke run: few iterations, no engine-feature variants.
    quick: bool,
    /// Samples per call case.
    iters: usize,
    /// Untimed calls per case before measuring.
    warmup: usize,
    /// Repetitions of each compile/load measurement.
    load_reps: usize,
}

impl Plan {
    fn from_env() -> anyhow::Result<Self> {
        let quick = common::smoke_run();
        let default = if quick { QUICK_ITERS } else { DEFAULT_ITERS };
        let iters = usize::try_from(common::env_count("WARDEN_BENCH_ITERS", default as u64)?)?;
        Ok(Self {
            quick,
            iters,
            warmup: if quick {
                1
            } else {
                (iters / 10).clamp(10, 200)
            },
            load_reps: if quick { 1 } else { 3 },
        })
    }
}

async fn run(plan: Plan) -> anyhow::Result<()> {
    ensure!(TEXT.len() == 100, "the test text is {} bytes", TEXT.len());
    let config = ::warden::config::Config::default();
    let settings = ::warden::cli::engine_settings(&config);
    let targets = [
        Target::new(
            "hostile",
            warden_test_artifacts::HOSTILE_WASM,
            "echo",
            TEXT.to_string(),
        )?,
        Target::new(
            "text",
            warden_test_artifacts::TEXT_WASM,
            "base64_encode",
            base64::engine::general_purpose::STANDARD.encode(TEXT),
        )?,
    ];

    println!("Warden per-call benchmark");
    println!(
        "mode: {}, {} samples per case (warmup {}), interleaved in batches of {BATCH}; \
         {} logical CPUs",
        if plan.quick {
            "smoke (cargo test)"
        } else {
            "full"
        },
        plan.iters,
        plan.warmup,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!(
        "engine: pooling allocator for {} concurrent calls, max_wasm_stack {} KiB, \
         memory ceiling {} MiB; limits: {}",
        settings.max_concurrent_calls,
        settings.max_wasm_stack >> 10,
        settings.memory_ceiling >> 20,
        Limits::DEFAULTS,
    );
    println!();

    // Warden: sandbox, plugins folder, registry, dispatcher, MCP server.
    let setup = Instant::now();
    let sandbox = Arc::new(Sandbox::new(&settings).context("Sandbox::new")?);
    let plugins = tempfile::tempdir()?;
    for target in &targets {
        std::fs::copy(
            target.wasm,
            plugins.path().join(format!("{}.wasm", target.plugin)),
        )?;
    }
    let budget = Arc::new(::warden::budget::MemoryBudget::from_config(&config));
    let load_settings = ::warden::load::LoadSettings {
        bounds: LimitBounds::default(),
        workspace_root: plugins.path().to_path_buf(),
        policy: Default::default(),
        lock: Default::default(),
        record: false,
        audit: None,
        protected: Vec::new(),
        loading: Default::default(),
        budget: budget.clone(),
        cache: None,
        cached_descriptions: false,
        versions: None,
    };
    let entries = ::warden::load::load_dir(&sandbox, plugins.path(), &load_settings)
        .await
        .context("load_dir")?;
    for entry in &entries {
        if let PluginStatus::Failed(error) = &entry.status {
            bail!("plugin {} failed to load: {error}", entry.name);
        }
    }
    let registry = Registry::build(entries);
    let mut loaded = Vec::new();
    for target in &targets {
        let entry = registry
            .tool(&target.exposed)
            .with_context(|| format!("no tool {} in the registry", target.exposed))?;
        loaded.push(entry.plugin.clone());
    }
    let dispatcher = Arc::new(Dispatcher::new(
        sandbox.clone(),
        registry,
        usize::try_from(config.max_concurrent_calls)?,
        budget,
    ));
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = WardenServer::new(dispatcher.clone());
    let server_task = tokio::spawn(async move {
        let (read, write) = tokio::io::split(server_io);
        match server.serve(LineTransport::new(read, write)).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => eprintln!("the MCP server did not start: {e}"),
        }
    });
    let client: RunningService<RoleClient, ()> = ().serve(client_io).await?;

    // The baseline engines: bare, then each engine feature Warden turns on.
    let mut variants = vec![Variant::BARE];
    if !plan.quick {
        variants.extend([Variant::FUEL, Variant::EPOCH, Variant::FUEL_EPOCH]);
        variants.extend([Variant::TUNED, Variant::FUEL_EPOCH_TUNED]);
    }
    let mut baselines = Vec::new();
    for variant in variants {
        let wasm: Vec<&str> = targets.iter().map(|t| t.wasm).collect();
        baselines.push(Baseline::new(variant, &settings, &wasm)?.0);
    }
    println!(
        "setup: {:.1} s (Warden load_dir of both plugins, {} baseline engines)",
        setup.elapsed().as_secs_f64(),
        baselines.len()
    );
    println!();

    let bench = Bench {
        targets: &targets,
        baselines: &baselines,
        sandbox: &sandbox,
        loaded: &loaded,
        dispatcher: &dispatcher,
        log: default_log()?,
        client: &client,
    };
    let mut cases = Vec::new();
    for (t, _) in targets.iter().enumerate() {
        for (b, _) in baselines.iter().enumerate() {
            cases.push(Case::new(t, Layer::Baseline(b)));
        }
        for layer in [
            Layer::Sandbox,
            Layer::Dispatcher,
            Layer::DispatcherLogged,
            Layer::DispatcherSpawned,
            Layer::Mcp,
        ] {
            cases.push(Case::new(t, layer));
        }
        if t == 0 {
            cases.push(Case::new(t, Layer::McpPing));
        }
    }
    bench.measure(&mut cases, plan).await?;
    bench.report_calls(&cases, plan);

    let micro = micro_costs(&bench, plan)?;
    print_micro(&micro);

    drop(bench);
    drop(baselines);
    client.cancel().await?;
    let _ = server_task.await;

    // Without the function cache: the plugins were compiled at load, and a
    // sandbox that keeps their functions would compile them from the cache.
    let uncached = Sandbox::new(&::warden::sandbox::EngineSettings {
        cache_functions: false,
        ..settings
    })
    .context("Sandbox::new without the function cache")?;
    let loads = measure_loads(&uncached, &targets, plan).await?;
    print_loads(&loads, &targets);
    Ok(())
}

/// One component and the tool called on it.
#[derive(Debug)]
struct Target {
    /// The plugin name (file stem), the prefix of the exposed tool name.
    plugin: &'static str,
    wasm: &'static str,
    size: u64,
    tool: &'static str,
    exposed: String,
    arguments: JsonObject,
    arguments_json: String,
    expected: String,
}

impl Target {
    fn new(
        plugin: &'static str,
        wasm: &'static str,
        tool: &'static str,
        expected: String,
    ) -> anyhow::Result<Self> {
        let mut arguments = JsonObject::new();
        arguments.insert("text".into(), Value::String(TEXT.into()));
        Ok(Self {
            plugin,
            wasm,
            size: std::fs::metadata(wasm)
                .with_context(|| format!("cannot read {wasm}"))?
                .len(),
            tool,
            exposed: format!("{plugin}_{tool}"),
            arguments_json: Value::Object(arguments.clone()).to_string(),
            arguments,
            expected,
        })
    }

    fn title(&self) -> String {
        format!(
            "{}.wasm ({} KB), tool `{}`, 100 B text",
            self.plugin,
            self.size / 1000,
            self.tool
        )
    }
}

/// The layer a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    /// A baseline engine, by index.
    Baseline(usize),
    Sandbox,
    Dispatcher,
    /// `Dispatcher::call` with Warden's default log filter and format, to
    /// /dev/null.
    DispatcherLogged,
    /// `Dispatcher::call` in a task of its own, as rmcp runs every request.
    DispatcherSpawned,
    Mcp,
    /// An MCP `ping` round trip: the protocol's cost without a tool.
    McpPing,
}

/// One row of the call tables.
#[derive(Debug)]
struct Case {
    target: usize,
    layer: Layer,
    samples: Vec<Sample>,
}

impl Case {
    fn new(target: usize, layer: Layer) -> Self {
        Self {
            target,
            layer,
            samples: Vec::new(),
        }
    }

    fn totals(&self) -> Vec<Duration> {
        self.samples.iter().map(|s| s.total).collect()
    }
}

/// Everything the call cases need.
struct Bench<'a> {
    targets: &'a [Target],
    baselines: &'a [Baseline],
    sandbox: &'a Sandbox,
    /// The plugins as the loader left them, in target order.
    loaded: &'a [Arc<LoadedPlugin>],
    dispatcher: &'a Arc<Dispatcher>,
    /// Warden's default log subscriber, writing to /dev/null.
    log: Dispatch,
    client: &'a RunningService<RoleClient, ()>,
}

impl Bench<'_> {
    /// Runs every case `plan.warmup` times, then `plan.iters` times,
    /// round-robin in batches.
    async fn measure(&self, cases: &mut [Case], plan: Plan) -> anyhow::Result<()> {
        for case in cases.iter_mut() {
            for _ in 0..plan.warmup {
                self.once(case.target, case.layer).await?;
            }
        }
        let mut done = 0;
        while done < plan.iters {
            let n = BATCH.min(plan.iters - done);
            for case in cases.iter_mut() {
                for _ in 0..n {
                    let sample = self.once(case.target, case.layer).await?;
                    case.samples.push(sample);
                }
            }
            done += n;
        }
        Ok(())
    }

    /// One call through `layer`, checked.
    async fn once(&self, target: usize, layer: Layer) -> anyhow::Result<Sample> {
        let t = &self.targets[target];
        let timed = match layer {
            Layer::Baseline(b) => {
                self.baselines[b]
                    .call(target, t.tool, &t.arguments_json)
                    .await?
            }
            Layer::Sandbox => self.sandbox_call(target).await?,
            Layer::Dispatcher | Layer::DispatcherLogged => {
                let arguments = Some(t.arguments.clone());
                let origin = Default::default();
                let started = Instant::now();
                let call = self
                    .dispatcher
                    .call(&t.exposed, arguments, Default::default(), &origin);
                let result = if layer == Layer::DispatcherLogged {
                    call.with_subscriber(self.log.clone()).await
                } else {
                    call.await
                }
                .map_err(anyhow::Error::from)?;
                Timed::total(started.elapsed(), Some(result_text(&result)?))
            }
            Layer::DispatcherSpawned => {
                let arguments = Some(t.arguments.clone());
                let dispatcher = self.dispatcher.clone();
                let name = t.exposed.clone();
                let started = Instant::now();
                let result = tokio::spawn(async move {
                    dispatcher
                        .call(&name, arguments, Default::default(), &Default::default())
                        .await
                })
                .await?
                .map_err(anyhow::Error::from)?;
                Timed::total(started.elapsed(), Some(result_text(&result)?))
            }
            Layer::Mcp => {
                let request = CallToolRequestParams::new(t.exposed.clone())
                    .with_arguments(t.arguments.clone());
                let started = Instant::now();
                let result = self.client.call_tool(request).await?;
                Timed::total(started.elapsed(), Some(result_text(&result)?))
            }
            Layer::McpPing => {
                let started = Instant::now();
                let result = self
                    .client
                    .send_request(ClientRequest::PingRequest(Default::default()))
                    .await?;
                let total = started.elapsed();
                ensure!(
                    matches!(result, ServerResult::EmptyResult(_)),
                    "ping answered {result:?}"
                );
                Timed::total(total, None)
            }
        };
        if let Some(text) = &timed.text {
            ensure!(
                *text == t.expected,
                "{} returned {text:?}, expected {:?}",
                t.exposed,
                t.expected
            );
        }
        Ok(timed.sample)
    }

    async fn sandbox_call(&self, target: usize) -> anyhow::Result<Timed> {
        let t = &self.targets[target];
        let ctx = CallContext {
            plugin: t.plugin.into(),
            tool: Some(t.tool.into()),
            client: Default::default(),
            ahead: true,
        };
        let compiled = self.loaded[target]
            .code
            .get()
            .await
            .map_err(anyhow::Error::msg)?;
        let started = Instant::now();
        let report = self
            .sandbox
            .call(
                compiled,
                &Limits::DEFAULTS,
                &self.loaded[target].grants,
                ctx,
                t.tool,
                &t.arguments_json,
            )
            .await;
        let total = started.elapsed();
        let stats = report.stats;
        let output = report
            .outcome
            .map_err(anyhow::Error::from)?
            .map_err(|e| anyhow::anyhow!("the tool failed: {e:?}"))?;
        let text = match output.content.as_slice() {
            [Content::Text(text)] => text.clone(),
            other => bail!("unexpected content {other:?}"),
        };
        Ok(Timed {
            sample: Sample {
                total,
                phases: Some([stats.instantiate, stats.call, stats.teardown]),
                fuel: Some(stats.fuel_used),
            },
            text: Some(text),
        })
    }

    fn label(&self, layer: Layer) -> &'static str {
        match layer {
            Layer::Baseline(b) => self.baselines[b].variant.label,
            Layer::Sandbox => "Warden Sandbox::call",
            Layer::Dispatcher => "Warden Dispatcher::call",
            Layer::DispatcherLogged => "  + default logging (to null)",
            Layer::DispatcherSpawned => "  in a spawned task",
            Layer::Mcp => "MCP tools/call round trip",
            Layer::McpPing => "MCP ping round trip (no tool)",
        }
    }

    fn report_calls(&self, cases: &[Case], plan: Plan) {
        let rule = "-".repeat(104);
        for (t, target) in self.targets.iter().enumerate() {
            println!("== Fresh instance + one call: {}", target.title());
            println!(
                "{:<30} {:>9} {:>9} {:>9} | {:>11} {:>9} {:>10} | {:>8}",
                "case (us)",
                "total p50",
                "p90",
                "vs base",
                "instantiate",
                "call",
                "teardown",
                "fuel"
            );
            println!("{rule}");
            let base = cases
                .iter()
                .find(|c| c.target == t && c.layer == Layer::Baseline(0))
                .map(|c| median(&c.totals()));
            for case in cases.iter().filter(|c| c.target == t) {
                let totals = case.totals();
                let p50 = median(&totals);
                let phase = |i: usize| {
                    let values: Vec<Duration> = case
                        .samples
                        .iter()
                        .filter_map(|s| s.phases.map(|p| p[i]))
                        .collect();
                    if values.is_empty() {
                        "-".to_string()
                    } else {
                        us(median(&values))
                    }
                };
                let fuel = {
                    let mut fuel: Vec<u64> = case.samples.iter().filter_map(|s| s.fuel).collect();
                    fuel.sort_unstable();
                    fuel.get(fuel.len() / 2)
                        .map_or("-".to_string(), |f| f.to_string())
                };
                println!(
                    "{:<30} {:>9} {:>9} {:>9} | {:>11} {:>9} {:>10} | {:>8}",
                    self.label(case.layer),
                    us(p50),
                    us(percentile(&totals, 0.9)),
                    base.map_or("-".to_string(), |b| ratio(p50, b)),
                    phase(0),
                    phase(1),
                    phase(2),
                    fuel
                );
            }
            println!();
        }

        if self
            .baselines
            .iter()
            .any(|b| b.variant.keep_resident.is_some())
        {
            println!(
                "(*) the pool settings Warden uses where the kernel has PAGEMAP_SCAN \
                 (Linux >= 6.7): PoolingAllocationConfig::linear_memory_keep_resident({0}) \
                 + table_keep_resident({0}) + pagemap_scan(Enabled::Auto)",
                TUNED_KEEP_RESIDENT
            );
            println!();
        }

        println!("== Ratios of median totals (goal: Sandbox::call within 2x of the baseline)");
        let fuel_epoch = self
            .baselines
            .iter()
            .position(|b| b.variant.fuel && b.variant.epoch && b.variant.keep_resident.is_none())
            .map(Layer::Baseline);
        for (t, target) in self.targets.iter().enumerate() {
            let p50 = |layer: Layer| {
                cases
                    .iter()
                    .find(|c| c.target == t && c.layer == layer)
                    .map(|c| median(&c.totals()))
            };
            let (Some(base), Some(sandbox)) = (p50(Layer::Baseline(0)), p50(Layer::Sandbox)) else {
                continue;
            };
            let verdict = if sandbox.as_secs_f64() <= 2.0 * base.as_secs_f64() {
                "within 2x"
            } else {
                "ABOVE 2x"
            };
            let mut lines = vec![(
                "Sandbox::call    / wasmtime baseline",
                ratio(sandbox, base) + &format!("  [{verdict}]"),
            )];
            if let Some(fe) = fuel_epoch.and_then(p50) {
                lines.push((
                    "Sandbox::call    / baseline + fuel + epoch",
                    ratio(sandbox, fe),
                ));
            }
            for (name, layer) in [
                ("Dispatcher::call / wasmtime baseline", Layer::Dispatcher),
                ("MCP round trip   / wasmtime baseline", Layer::Mcp),
            ] {
                if let Some(v) = p50(layer) {
                    lines.push((name, ratio(v, base)));
                }
            }
            for (i, (name, value)) in lines.iter().enumerate() {
                let plugin = if i == 0 { target.plugin } else { "" };
                println!("{plugin:<8} {name:<42} = {value}");
            }
        }
        if plan.quick {
            println!("(smoke run: too few samples for the figures to mean anything)");
        }
        println!();
    }
}

/// A subscriber like the one `warden serve` installs by default (text lines,
/// `warn,warden=info`), writing to /dev/null: one `write` per event, as to
/// stderr.
fn default_log() -> anyhow::Result<Dispatch> {
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(::warden::observe::telemetry::DEFAULT_FILTER))
        .with_writer(Mutex::new(null))
        .with_ansi(false)
        .finish();
    Ok(Dispatch::new(subscriber))
}

/// The text of a single-text-block `CallToolResult`, or why not.
fn result_text(result: &CallToolResult) -> anyhow::Result<String> {
    ensure!(
        result.is_error != Some(true),
        "the call failed: {:?}",
        result.content
    );
    match result.content.as_slice() {
        [block] => Ok(block
            .as_text()
            .context("the result is not text")?
            .text
            .clone()),
        other => bail!("unexpected content {other:?}"),
    }
}

/// A host-side piece of the call path, timed on its own.
struct Micro {
    label: String,
    per_op: Duration,
}

/// Times `f` in batches of `reps` and returns the median per-call time.
fn per_op(samples: usize, reps: u32, mut f: impl FnMut()) -> Duration {
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        for _ in 0..reps {
            f();
        }
        times.push(started.elapsed() / reps);
    }
    median(&times)
}

fn micro_costs(bench: &Bench<'_>, plan: Plan) -> anyhow::Result<Vec<Micro>> {
    let (samples, reps) = if plan.quick { (3, 10) } else { (41, 500) };
    let mut out = vec![
        Micro {
            label: "WasiCtxBuilder::new().build() (bare)".into(),
            per_op: per_op(samples, reps, || {
                std::hint::black_box(WasiCtxBuilder::new().build());
            }),
        },
        Micro {
            label: "  same with captured stdout/stderr (Warden)".into(),
            per_op: per_op(samples, reps, || {
                let cap = usize::try_from(Limits::DEFAULTS.max_log_bytes).unwrap_or(usize::MAX);
                let mut wasi = WasiCtxBuilder::new();
                wasi.stdout(CapturedOutput::new(cap))
                    .stderr(CapturedOutput::new(cap));
                std::hint::black_box(wasi.build());
            }),
        },
        Micro {
            label: "WasiHttpCtx::new() + ResourceTable::new()".into(),
            per_op: per_op(samples, reps, || {
                std::hint::black_box((WasiHttpCtx::new(), ResourceTable::new()));
            }),
        },
    ];
    let registry = bench.dispatcher.registry();
    for target in bench.targets {
        let entry = registry
            .tool(&target.exposed)
            .with_context(|| format!("no tool {}", target.exposed))?;
        let arguments = Value::Object(target.arguments.clone());
        out.push(Micro {
            label: format!("input-schema validation, {}", target.exposed),
            // As `Dispatcher::call` does it: collect the violations.
            per_op: per_op(samples, reps, || {
                let violations: Vec<String> = entry
                    .input_validator
                    .get()
                    .expect("a usable schema")
                    .iter_errors(&arguments)
                    .take(9)
                    .map(|e| e.to_string())
                    .collect();
                std::hint::black_box(violations);
            }),
        });
        out.push(Micro {
            label: format!("arguments to JSON text + clone, {}", target.exposed),
            per_op: per_op(samples, reps, || {
                let arguments = Value::Object(target.arguments.clone());
                std::hint::black_box(arguments.to_string());
            }),
        });
        let line = serde_json::json!({
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": { "name": target.exposed, "arguments": target.arguments },
        })
        .to_string();
        out.push(Micro {
            label: format!("tools/call decoded by rmcp, {}", target.exposed),
            per_op: per_op(samples, reps, || {
                let message: rmcp::model::ClientJsonRpcMessage =
                    serde_json::from_slice(line.as_bytes()).expect("a message");
                std::hint::black_box(message);
            }),
        });
        out.push(Micro {
            label: "  same by mcp::wire::decode (Warden's stdio)".into(),
            per_op: per_op(samples, reps, || {
                let message = ::warden::mcp::wire::decode(line.as_bytes()).expect("a message");
                std::hint::black_box(message);
            }),
        });
    }
    Ok(out)
}

fn print_micro(micro: &[Micro]) {
    println!("== Host-side pieces of a call, timed alone (median per operation)");
    for m in micro {
        println!(
            "{:<58} {:>9} us",
            m.label,
            format!("{:.2}", m.per_op.as_secs_f64() * 1e6)
        );
    }
    println!();
}

/// Load times of one plugin.
#[derive(Debug, Default)]
struct Load {
    cold_compile: Vec<Duration>,
    describe: Vec<Duration>,
    tools: usize,
    warm_first: Vec<Duration>,
    warm_hit: Vec<Duration>,
}

/// `Sandbox::compile` without and with the compile cache, and `list-tools`.
async fn measure_loads(
    cold: &Sandbox,
    targets: &[Target],
    plan: Plan,
) -> anyhow::Result<Vec<Load>> {
    let mut loads = Vec::new();
    for target in targets {
        let bytes = std::fs::read(target.wasm)?;
        let mut load = Load::default();
        let mut compiled = None;
        for _ in 0..plan.load_reps {
            let started = Instant::now();
            let plugin = cold.compile(&bytes).map_err(anyhow::Error::from)?;
            load.cold_compile.push(started.elapsed());
            compiled = Some(plugin);
        }
        let compiled = compiled.context("no compile ran")?;
        let describes = if plan.quick { 2 } else { 50 };
        let no_grants = Arc::new(Grants::default());
        for _ in 0..describes {
            let ctx = CallContext {
                plugin: target.plugin.into(),
                tool: None,
                client: Default::default(),
                ahead: true,
            };
            let started = Instant::now();
            let report = cold
                .describe(&compiled, &Limits::DEFAULTS, &no_grants, ctx)
                .await;
            load.describe.push(started.elapsed());
            load.tools = report.outcome.map_err(anyhow::Error::from)?.len();
        }

        // A fresh cache dir per repetition, so that each "first load" really
        // misses and each "second load" is the first hit.
        let sha256 = ::warden::policy::lock::sha256_hex(&bytes);
        for _ in 0..plan.load_reps {
            let dir = tempfile::tempdir()?;
            let cache =
                ArtifactCache::open(dir.path(), 512 << 20, cold).map_err(anyhow::Error::msg)?;
            let started = Instant::now();
            let compiled = cold.compile(&bytes).map_err(anyhow::Error::from)?;
            cache
                .store(&sha256, &compiled, None)
                .map_err(anyhow::Error::msg)?;
            load.warm_first.push(started.elapsed());
            ensure!(
                dir_size(dir.path()) > 0,
                "the artifact cache in {} stayed empty",
                dir.path().display()
            );
            let started = Instant::now();
            let Fetched::Hit(_) = cache.fetch(cold, &sha256) else {
                bail!("the artifact cache missed what was just stored");
            };
            load.warm_hit.push(started.elapsed());
        }
        loads.push(load);
    }
    Ok(loads)
}

fn print_loads(loads: &[Load], targets: &[Target]) {
    println!("== Plugin load (Sandbox::compile = compile + world check + instantiate_pre)");
    let mut header = format!("{:<46}", "(ms, median)");
    for target in targets {
        header.push_str(&format!(" {:>14}", format!("{}.wasm", target.plugin)));
    }
    println!("{header}");
    println!("{}", "-".repeat(46 + 15 * targets.len()));
    type Row = (&'static str, fn(&Load) -> &[Duration]);
    let rows: [Row; 4] = [
        ("cold: compile, no cache", |l| &l.cold_compile),
        ("  + describe (list-tools, fresh instance)", |l| &l.describe),
        ("warm: first load (cache miss, writes cache)", |l| {
            &l.warm_first
        }),
        ("warm: second load (cache hit)", |l| &l.warm_hit),
    ];
    for (label, get) in rows {
        let mut line = format!("{label:<46}");
        for load in loads {
            line.push_str(&format!(" {:>14}", ms(median(get(load)))));
        }
        println!("{line}");
    }
    let mut line = format!("{:<46}", "tools listed");
    for load in loads {
        line.push_str(&format!(" {:>14}", load.tools));
    }
    println!("{line}");
    let n = loads.first().map_or(0, |l| l.cold_compile.len());
    println!("({n} repetition(s) per compile row; describe over its own samples)");
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn median(values: &[Duration]) -> Duration {
    percentile(values, 0.5)
}

/// The `p` quantile (nearest rank) of `values`; zero when empty.
fn percentile(values: &[Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn ratio(value: Duration, base: Duration) -> String {
    if base.is_zero() {
        return "-".into();
    }
    format!("{:.2}x", value.as_secs_f64() / base.as_secs_f64())
}
