//! A plain wasmtime embedding of the plugin world, the yardstick the call
//! and language benches measure Warden and each engine feature against.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store,
    UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use wit::warden::plugin::client;

use ::warden::limits::Limits;
use ::warden::sandbox::EngineSettings;

/// Bindings for the plugin world, for the baseline. In a module of its own:
/// the generated code declares a `warden` module, like this crate's name.
pub mod wit {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
        exports: { default: async },
    });
}

/// How often the baseline's epoch ticker advances (as Warden's).
pub const EPOCH_TICK: Duration = Duration::from_millis(5);
/// `keep_resident` of the tuned baseline variants (see [`Variant`]).
pub const TUNED_KEEP_RESIDENT: usize = 1 << 20;

/// Which engine features a baseline engine turns on.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub label: &'static str,
    pub fuel: bool,
    pub epoch: bool,
    /// Pooling-allocator tuning, not in Warden today: keep this many bytes of
    /// each linear memory and table resident between instances, and reset
    /// them with `PAGEMAP_SCAN` + `memset` of the dirty pages only instead of
    /// `madvise` (which makes the next instance fault every page in again).
    pub keep_resident: Option<usize>,
    /// How Cranelift compiles.
    pub codegen: Codegen,
}

/// Cranelift's settings that trade compile time against code speed. The
/// single-pass register allocator is not among them: wasmtime does not
/// consider it production-ready for untrusted code.
#[derive(Debug, Clone, Copy)]
pub struct Codegen {
    pub opt: OptLevel,
    /// Functions compiled on every core at once.
    pub parallel: bool,
}

impl Codegen {
    /// Wasmtime's defaults, which Warden uses.
    pub const DEFAULT: Codegen = Codegen {
        opt: OptLevel::Speed,
        parallel: true,
    };
}

impl Variant {
    pub const BARE: Variant = Variant {
        label: "wasmtime baseline",
        fuel: false,
        epoch: false,
        keep_resident: None,
        codegen: Codegen::DEFAULT,
    };
    pub const FUEL: Variant = Variant {
        label: "  baseline + fuel",
        fuel: true,
        epoch: false,
        keep_resident: None,
        codegen: Codegen::DEFAULT,
    };
    pub const EPOCH: Variant = Variant {
        label: "  baseline + epoch",
        fuel: false,
        epoch: true,
        keep_resident: None,
        codegen: Codegen::DEFAULT,
    };
    pub const FUEL_EPOCH: Variant = Variant {
        label: "  baseline + fuel + epoch",
        fuel: true,
        epoch: true,
        keep_resident: None,
        codegen: Codegen::DEFAULT,
    };
    pub const TUNED: Variant = Variant {
        label: "  baseline + pool tuning (*)",
        fuel: false,
        epoch: false,
        keep_resident: Some(TUNED_KEEP_RESIDENT),
        codegen: Codegen::DEFAULT,
    };
    pub const FUEL_EPOCH_TUNED: Variant = Variant {
        label: "  + fuel + epoch + tuning (*)",
        fuel: true,
        epoch: true,
        keep_resident: Some(TUNED_KEEP_RESIDENT),
        codegen: Codegen::DEFAULT,
    };
}

/// The store data of a baseline call: WASI, wasi:http and nothing else.
pub struct BaseState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
}

impl WasiView for BaseState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for BaseState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

impl wit::warden::plugin::types::Host for BaseState {}

impl wit::warden::plugin::log::Host for BaseState {
    fn log(&mut self, _level: wit::warden::plugin::log::Level, _message: String) {}
}

impl wit::warden::plugin::progress::Host for BaseState {
    fn report(&mut self, _progress: f64, _total: Option<f64>, _message: Option<String>) {}
}

impl wit::warden::plugin::notify::Host for BaseState {
    fn list_changed(&mut self, _kind: wit::warden::plugin::notify::ListKind) {}

    fn resource_updated(&mut self, _uri: String) {}
}

/// The baseline has no MCP client: every request is unsupported.
impl wit::warden::plugin::client::Host for BaseState {
    fn sample(
        &mut self,
        _request: client::SamplingRequest,
    ) -> Result<client::SamplingResponse, client::ClientError> {
        Err(no_client())
    }

    fn elicit(
        &mut self,
        _request: client::ElicitationRequest,
    ) -> Result<client::ElicitationResponse, client::ClientError> {
        Err(no_client())
    }

    fn list_roots(&mut self) -> Result<Vec<client::Root>, client::ClientError> {
        Err(no_client())
    }

    fn ask(
        &mut self,
        requests: Vec<(String, client::Request)>,
    ) -> Vec<Result<client::Answer, client::ClientError>> {
        requests.iter().map(|_| Err(no_client())).collect()
    }
}

fn no_client() -> client::ClientError {
    client::ClientError::Unsupported("the baseline has no MCP client".into())
}

/// A plain wasmtime embedding of the plugin world, one engine per variant.
pub struct Baseline {
    pub variant: Variant,
    engine: Engine,
    /// One per target, in target order.
    pres: Vec<wit::PluginPre<BaseState>>,
    _ticker: Option<Ticker>,
}

impl Baseline {
    /// An engine for `variant` with each component in `wasm` compiled and
    /// pre-instantiated, in order; also returns each compile's duration.
    pub fn new(
        variant: Variant,
        settings: &EngineSettings,
        wasm: &[&str],
    ) -> anyhow::Result<(Self, Vec<Duration>)> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(variant.fuel);
        config.epoch_interruption(variant.epoch);
        config
            .cranelift_opt_level(variant.codegen.opt)
            .parallel_compilation(variant.codegen.parallel);
        // The same stack and pool sizes as `Sandbox::new`, so that only the
        // features under test differ.
        config.max_wasm_stack(settings.max_wasm_stack);
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
            .max_memory_size(usize::try_from(settings.memory_ceiling)?);
        if let Some(bytes) = variant.keep_resident {
            pool.linear_memory_keep_resident(bytes)
                .table_keep_resident(bytes)
                .pagemap_scan(Enabled::Auto);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;

        let mut linker = Linker::<BaseState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)?;
        wit::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;
        let mut pres = Vec::new();
        let mut compiles = Vec::new();
        for path in wasm {
            let started = Instant::now();
            let component = Component::from_file(&engine, path)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("compiling {path}"))?;
            compiles.push(started.elapsed());
            let pre = linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)?;
            pres.push(wit::PluginPre::new(pre).map_err(anyhow::Error::from)?);
        }
        let ticker = variant.epoch.then(|| Ticker::start(engine.clone()));
        Ok((
            Self {
                variant,
                engine,
                pres,
                _ticker: ticker,
            },
            compiles,
        ))
    }

    /// Bytes of compiled code and metadata of the `target`th component.
    #[allow(dead_code)] // The compile bench's alone.
    pub fn code_size(&self, target: usize) -> anyhow::Result<usize> {
        let component = self.pres[target].instance_pre().component();
        Ok(component.serialize().map_err(anyhow::Error::from)?.len())
    }

    /// One fresh-instance call, timed in its three phases; its text is the
    /// result's text blocks joined, or its structured JSON when it has none.
    pub async fn call(&self, target: usize, tool: &str, arguments: &str) -> anyhow::Result<Timed> {
        let started = Instant::now();
        let state = BaseState {
            wasi: WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
        };
        let mut store = Store::new(&self.engine, state);
        if self.variant.fuel {
            store
                .set_fuel(Limits::DEFAULTS.fuel)
                .map_err(anyhow::Error::from)?;
        }
        if self.variant.epoch {
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
        }
        let plugin = self.pres[target]
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)?;
        let instantiated = Instant::now();
        let result = plugin
            .warden_plugin_tools()
            .call_call_tool(&mut store, tool, arguments)
            .await
            .map_err(anyhow::Error::from)?;
        let called = Instant::now();
        let fuel = if self.variant.fuel {
            Some(Limits::DEFAULTS.fuel - store.get_fuel().map_err(anyhow::Error::from)?)
        } else {
            None
        };
        // `plugin` is only indices into the store; dropping the store frees
        // the instance.
        let _ = plugin;
        drop(store);
        let finished = Instant::now();
        // A tool error is an answer too (the caller checks the text).
        let output = match result {
            Ok(output) => output,
            Err(error) => {
                return Ok(Timed {
                    sample: Sample {
                        total: finished - started,
                        phases: Some([
                            instantiated - started,
                            called - instantiated,
                            finished - called,
                        ]),
                        fuel,
                    },
                    text: Some(format!("tool error: {error:?}")),
                });
            }
        };
        let texts: Vec<&str> = output
            .content
            .iter()
            .filter_map(|c| match c {
                wit::warden::plugin::types::Content::Text(text) => Some(text.as_str()),
                wit::warden::plugin::types::Content::Blob(_)
                | wit::warden::plugin::types::Content::ResourceLink(_) => None,
            })
            .collect();
        let text = if texts.is_empty() {
            output.structured.unwrap_or_default()
        } else {
            texts.join("\n")
        };
        Ok(Timed {
            sample: Sample {
                total: finished - started,
                phases: Some([
                    instantiated - started,
                    called - instantiated,
                    finished - called,
                ]),
                fuel,
            },
            text: Some(text),
        })
    }
}

/// Advances an engine's epoch every [`EPOCH_TICK`], like Warden's ticker.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One measurement: total time, and the phases (instantiate, call, teardown)
/// when the layer reports them.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub total: Duration,
    pub phases: Option<[Duration; 3]>,
    pub fuel: Option<u64>,
}

/// A sample with the tool's text output, to check it.
pub struct Timed {
    pub sample: Sample,
    /// `None` when there is no tool output (`ping`).
    pub text: Option<String>,
}

impl Timed {
    pub fn total(total: Duration, text: Option<String>) -> Self {
        Self {
            sample: Sample {
                total,
                phases: None,
                fuel: None,
            },
            text,
        }
    }
}
