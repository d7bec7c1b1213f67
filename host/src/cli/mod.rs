//! The `warden` command line: one module per subcommand, each a clap struct
//! with a `run`. Logic lives in the library modules.

mod approve;
mod build;
mod cache;
mod call;
mod check;
mod client_config;
mod doctor;
mod list;
mod new;
mod report;
mod rollback;
mod serve;
mod stdio;
mod toolchain;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::budget::{Approx, MemoryBudget};
use crate::config::Config;
use crate::load::LoadSettings;
use crate::load::background::Background;
use crate::load::reload::{Reloader, SettingsSource};
use crate::load::versions::VersionStore;
use crate::load::watch::Watched;
use crate::mcp::dispatch::Dispatcher;
use crate::mcp::registry::Registry;
use crate::observe::audit::AuditLog;
use crate::observe::telemetry::LogFormat;
use crate::policy::lock::LockFile;
use crate::sandbox::{ArtifactCache, EngineSettings, ReadySettings, Sandbox};

/// Warden: an MCP server that runs tools as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, long_about = None)]
pub struct Cli {
    /// Log line format (logs go to stderr; filter with WARDEN_LOG or RUST_LOG).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the plugins' tools over MCP on stdin/stdout.
    Serve(serve::Serve),
    /// List every plugin with its tools, capabilities and limits.
    List(list::List),
    /// Call one tool from the shell and print the result as JSON.
    Call(call::Call),
    /// Approve what plugins request now, recording it in the lock file;
    /// prints exactly what changes.
    Approve(approve::Approve),
    /// Return a plugin to the version approved before the current one, from
    /// the store of approved versions.
    Rollback(rollback::Rollback),
    /// Show, clear or fill the compiled-component cache.
    Cache(cache::Cache),
    /// Say whether a component will load and why not, one line per check
    /// (exit code 1 when it will not).
    Check(check::Check),
    /// Create a plugin project in Rust, Python, JavaScript or C that builds
    /// and loads unchanged.
    New(new::New),
    /// Build a plugin project, check the component and put it with its
    /// manifest into the plugins folder.
    Build(build::Build),
    /// Install (once) and locate the pinned toolchain for plugins in a
    /// language (used by the build scripts `warden new` writes).
    Toolchain(toolchain::Toolchain),
    /// Check the set-up, one pass/fail line each with the fix.
    Doctor(doctor::Doctor),
    /// Print (or `--write`) the configuration an MCP client needs to use
    /// this Warden.
    Config(client_config::ClientConfig),
}

/// Options shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
struct Common {
    /// The plugins folder (default: `plugins_dir` from the config, else ./plugins).
    #[arg(long, value_name = "DIR", env = "WARDEN_PLUGINS")]
    plugins: Option<PathBuf>,
    /// The host config file (default: ./warden.toml when it exists).
    #[arg(long, value_name = "FILE", env = "WARDEN_CONFIG")]
    config: Option<PathBuf>,
    /// The lock file of approvals (default: `lock_file` from the config, else
    /// warden.lock beside the config file, else ./warden.lock).
    #[arg(long, value_name = "FILE", env = "WARDEN_LOCK")]
    lock: Option<PathBuf>,
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Serve(cmd) => cmd.run().await,
            Command::List(cmd) => cmd.run().await,
            Command::Call(cmd) => cmd.run().await,
            Command::Approve(cmd) => cmd.run().await,
            Command::Rollback(cmd) => cmd.run(),
            Command::Cache(cmd) => cmd.run().await,
            Command::Check(cmd) => cmd.run().await,
            Command::New(cmd) => cmd.run(),
            Command::Build(cmd) => cmd.run().await,
            Command::Toolchain(cmd) => cmd.run(),
            Command::Doctor(cmd) => cmd.run().await,
            Command::Config(cmd) => cmd.run().await,
        }
    }
}

impl Common {
    /// The config, the plugins folder and the lock file these options name.
    fn resolve(&self) -> anyhow::Result<(Config, PathBuf, LockFile)> {
        let config = Config::discover(self.config.as_deref())?;
        let dir = self
            .plugins
            .clone()
            .unwrap_or_else(|| config.plugins_dir.clone());
        let lock_path = self.lock.clone().unwrap_or_else(|| config.lock_path());
        let lock = LockFile::load(&lock_path)?;
        Ok((config, dir, lock))
    }

    /// Loads the config, creates the sandbox and loads every plugin. With
    /// `record`, first-use trust and quiet updates are written to the lock.
    async fn start(
        &self,
        record: bool,
        audit: Option<Arc<AuditLog>>,
    ) -> anyhow::Result<Arc<Dispatcher>> {
        let started = self.start_serving(record, audit, true, false).await?;
        // The command exits soon: what it compiled must reach the cache.
        if let Some(cache) = &started.cache {
            cache.flush().await;
        }
        Ok(started.dispatcher)
    }

    /// [`Common::start`], with what it takes to load the folder again.
    /// Unless `wait_for_all`, it returns once the plugins whose compiled code
    /// is cached are loaded, listed from their cached descriptions (and
    /// described again once serving); the others follow in the background.
    ///
    /// With `trust_new`, a plugin the lock has no approval for loads as if
    /// trusted on first use (for `warden approve`, which shows what it
    /// describes before recording it).
    async fn start_serving(
        &self,
        record: bool,
        audit: Option<Arc<AuditLog>>,
        wait_for_all: bool,
        trust_new: bool,
    ) -> anyhow::Result<Started> {
        let (config, dir, lock) = self.resolve()?;
        let settings = engine_settings(&config);
        let sandbox = Arc::new(Sandbox::new(&settings).context("cannot create the sandbox")?);
        let budget = Arc::new(MemoryBudget::from_config(&config));
        tracing::info!(
            budget = %Approx(budget.total()),
            budget_bytes = budget.total(),
            source = %budget.source(),
            plugin_share = %budget.share(),
            "memory budget"
        );
        let cache = open_cache(&config, &sandbox);
        let versions = open_versions(&config, lock.path());
        let fixed = Fixed {
            versions: versions.clone(),
            trust_new,
            dir: dir.clone(),
            record,
            audit,
            cache_dir: cache_dir(&config),
            cache: cache.clone(),
            cached_descriptions: !wait_for_all,
            budget: budget.clone(),
        };
        let watched = Watched {
            plugins_dir: dir.clone(),
            config: config
                .path
                .clone()
                .unwrap_or_else(|| PathBuf::from(crate::config::FILE_NAME)),
            lock: lock.path().to_path_buf(),
        };
        let load_settings = fixed.load_settings(&config, lock)?;
        let background = Arc::new(Background::default());
        let entries = if wait_for_all {
            crate::load::load_dir(&sandbox, &dir, &load_settings).await
        } else {
            crate::load::load_dir_patiently(&sandbox, &dir, &load_settings, &background).await
        }
        .with_context(|| format!("cannot read the plugins folder {}", dir.display()))?;
        let registry = Registry::build(entries);
        let (loaded, failed) = registry.counts();
        tracing::info!(
            plugins_dir = %dir.display(),
            loaded,
            failed,
            loading = background.loading().len(),
            tools = registry.tools().count(),
            "plugins loaded"
        );
        let dispatcher = Dispatcher::shared(
            sandbox,
            registry,
            usize::try_from(config.max_concurrent_calls).unwrap_or(usize::MAX),
            budget,
        );
        let common = self.clone();
        let source: SettingsSource = Box::new(move || {
            let (config, _, lock) = common.resolve().map_err(|e| format!("{e:#}"))?;
            fixed
                .load_settings(&config, lock)
                .map_err(|e| format!("{e:#}"))
        });
        dispatcher.set_background(background.clone());
        let reloader = Arc::new(Reloader::new(
            dispatcher.clone(),
            dir,
            source,
            background.clone(),
        ));
        let weak = Arc::downgrade(&reloader);
        background.on_finished(move || {
            if let Some(reloader) = weak.upgrade() {
                tokio::spawn(async move {
                    let _ = reloader.reload("a plugin finished compiling").await;
                });
            }
        });
        Ok(Started {
            reloader,
            dispatcher,
            watched,
            cache,
            versions,
        })
    }
}

/// A started server: its dispatcher and what reloads its plugins.
struct Started {
    dispatcher: Arc<Dispatcher>,
    reloader: Arc<Reloader>,
    watched: Watched,
    cache: Option<Arc<ArtifactCache>>,
    versions: Option<Arc<VersionStore>>,
}

/// What stays as it was at start for the life of a server: a reload reads
/// the plugin settings of `warden.toml` again, but not the plugins folder,
/// the cache or the memory budget.
struct Fixed {
    dir: PathBuf,
    record: bool,
    audit: Option<Arc<AuditLog>>,
    cache_dir: Option<PathBuf>,
    cache: Option<Arc<ArtifactCache>>,
    cached_descriptions: bool,
    budget: Arc<MemoryBudget>,
    versions: Option<Arc<VersionStore>>,
    trust_new: bool,
}

impl Fixed {
    /// The load settings `config` and `lock` give.
    fn load_settings(&self, config: &Config, lock: LockFile) -> anyhow::Result<LoadSettings> {
        let workspace_root = match &config.workspace_root {
            Some(root) => root.clone(),
            None => std::env::current_dir().context("cannot read the current directory")?,
        };
        let mut protected: Vec<PathBuf> = [
            Some(self.dir.clone()),
            Some(lock.path().to_path_buf()),
            config.path.clone(),
            self.cache_dir.clone(),
            config.audit.file.clone(),
            config.telemetry.spans_dir.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        protected.extend(self.audit.as_ref().map(|log| log.path().to_path_buf()));
        let mut policy = config.policy.clone();
        if self.trust_new {
            policy.new_plugins = crate::policy::lock::NewPlugins::TrustOnFirstUse;
        }
        Ok(LoadSettings {
            bounds: config.limits,
            workspace_root,
            policy,
            lock,
            record: self.record,
            audit: self.audit.clone(),
            protected,
            loading: config.loading,
            budget: self.budget.clone(),
            cache: self.cache.clone(),
            cached_descriptions: self.cached_descriptions,
            versions: self.versions.clone(),
        })
    }
}

/// The engine `config` asks for: the same for `serve` and `cache warm`, so
/// that what one compiles the other finds in the cache.
pub fn engine_settings(config: &Config) -> EngineSettings {
    EngineSettings {
        max_wasm_stack: usize::try_from(config.max_wasm_stack.0).unwrap_or(usize::MAX),
        max_concurrent_calls: config.max_concurrent_calls,
        memory_ceiling: config.limits.ceilings.memory_bytes,
        cache_functions: config.cache_functions,
        ready: ReadySettings {
            per_plugin: config.ready_instances,
            memory: config.ready_memory.0,
            threshold: config.ready_threshold,
        },
    }
}

/// The configured cache directory, or the default one.
fn cache_dir(config: &Config) -> Option<PathBuf> {
    config.cache_dir.clone().or_else(default_cache_dir)
}

/// The artifact cache `config` names for the engine of `sandbox`; `None`
/// (with a warning) when it cannot be used.
fn open_cache(config: &Config, sandbox: &Sandbox) -> Option<Arc<ArtifactCache>> {
    let dir = cache_dir(config)?;
    match ArtifactCache::open(&dir, config.cache_max_size.0, sandbox) {
        Ok(cache) => Some(Arc::new(cache)),
        Err(error) => {
            tracing::warn!("compiled-component cache disabled: {error}");
            None
        }
    }
}

/// The store of approved versions in the cache directory `config` names,
/// with the histories of the approvals in the lock file `lock`; `None`
/// (with a warning) when it cannot be used.
fn open_versions(config: &Config, lock: &std::path::Path) -> Option<Arc<VersionStore>> {
    let dir = cache_dir(config)?;
    match VersionStore::open(&dir, config.loading.max_component_size.0, lock) {
        Ok(store) => Some(Arc::new(store)),
        Err(error) => {
            tracing::warn!(
                "store of approved versions disabled ({}): {error}; a plugin whose definitions \
                 change is not served until approved",
                dir.display()
            );
            None
        }
    }
}

/// `$XDG_CACHE_HOME/warden/components`, else `~/.cache/warden/components`.
fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("warden").join("components"))
}
