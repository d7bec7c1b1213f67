//! What the `catalog` and `mcp` targets share, set up once per process: a
//! tokio runtime and the `tools-only` fixture (a real compiled component)
//! loaded as four plugins, two namespaced (`alpha`, `beta-2`) and two not
//! (`raw`, `raw-too`: `namespace = false`).

use std::sync::{Arc, OnceLock};

use warden::config::Config;
use warden::load::LoadSettings;
use warden::mcp::dispatch::Dispatcher;
use warden::mcp::registry::{PluginEntry, PluginStatus, Registry};
use warden::policy::lock::LockFile;
use warden::sandbox::Sandbox;

/// The plugin names, in load (name) order.
pub const PLUGINS: [&str; 4] = ["alpha", "beta-2", "raw", "raw-too"];

const CONFIG: &str = "[plugins.raw]\nnamespace = false\n[plugins.raw-too]\nnamespace = false\n";

/// The shared set-up.
#[derive(Debug)]
pub struct Harness {
    /// Runs every async step (one thread: inputs replay the same way).
    pub runtime: tokio::runtime::Runtime,
    /// The four loaded plugins.
    pub plugins: Vec<PluginEntry>,
    /// Serves the registry of the four plugins.
    pub dispatcher: Arc<Dispatcher>,
    _dir: tempfile::TempDir,
}

/// The set-up, created on first use.
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| setup().unwrap_or_else(|e| panic!("fuzz harness set-up failed: {e}")))
}

fn setup() -> Result<Harness, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let plugins_dir = dir.path().join("plugins");
    std::fs::create_dir(&plugins_dir).map_err(|e| e.to_string())?;
    for name in PLUGINS {
        std::fs::copy(
            warden_test_artifacts::TOOLS_ONLY_WASM,
            plugins_dir.join(format!("{name}.wasm")),
        )
        .map_err(|e| e.to_string())?;
    }
    let config =
        Config::parse(CONFIG, &dir.path().join("warden.toml")).map_err(|e| e.to_string())?;
    let sandbox =
        Sandbox::new(&warden::cli::engine_settings(&config)).map_err(|e| e.to_string())?;
    let sandbox = Arc::new(sandbox);
    let budget = Arc::new(warden::budget::MemoryBudget::from_config(&config));
    let settings = LoadSettings {
        bounds: config.limits,
        workspace_root: dir.path().to_path_buf(),
        policy: config.policy.clone(),
        lock: LockFile::parse("version = 1\n", &dir.path().join("warden.lock"))
            .map_err(|e| e.to_string())?,
        record: false,
        audit: None,
        protected: Vec::new(),
        loading: config.loading,
        budget: budget.clone(),
        cache: None,
        cached_descriptions: false,
        versions: None,
    };
    let mut plugins = runtime
        .block_on(warden::load::load_dir(&sandbox, &plugins_dir, &settings))
        .map_err(|e| e.to_string())?;
    plugins.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
    if names != PLUGINS {
        return Err(format!("loaded {names:?}, expected {PLUGINS:?}"));
    }
    if let Some(failed) = plugins
        .iter()
        .find(|p| !matches!(p.status, PluginStatus::Loaded(_)))
    {
        return Err(format!("{} did not load: {:?}", failed.name, failed.status));
    }
    let registry = Registry::build(plugins.clone());
    let dispatcher = Arc::new(Dispatcher::new(
        sandbox,
        registry,
        usize::try_from(config.max_concurrent_calls).unwrap_or(usize::MAX),
        budget,
    ));
    Ok(Harness {
        runtime,
        plugins,
        dispatcher,
        _dir: dir,
    })
}
