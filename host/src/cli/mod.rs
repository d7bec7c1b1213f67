//! The `warden` command line: one module per subcommand, each a clap struct
//! with a `run`. Logic lives in the library modules.

mod approve;
mod call;
mod list;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::budget::{Approx, MemoryBudget};
use crate::config::Config;
use crate::load::LoadSettings;
use crate::mcp::dispatch::Dispatcher;
use crate::mcp::registry::Registry;
use crate::observe::audit::AuditLog;
use crate::observe::telemetry::LogFormat;
use crate::policy::lock::LockFile;
use crate::sandbox::{EngineSettings, Sandbox};

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
}

/// Options shared by every subcommand.
#[derive(Debug, clap::Args)]
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
            Command::Approve(cmd) => cmd.run(),
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
        let (config, dir, lock) = self.resolve()?;
        let settings = EngineSettings {
            max_wasm_stack: usize::try_from(config.max_wasm_stack.0).unwrap_or(usize::MAX),
            max_concurrent_calls: config.max_concurrent_calls,
            memory_ceiling: config.limits.ceilings.memory_bytes,
            cache_dir: config.cache_dir.clone().or_else(default_cache_dir),
        };
        let sandbox = Arc::new(Sandbox::new(&settings).context("cannot create the sandbox")?);
        let workspace_root = match &config.workspace_root {
            Some(root) => root.clone(),
            None => std::env::current_dir().context("cannot read the current directory")?,
        };
        let mut protected: Vec<PathBuf> = [
            Some(dir.clone()),
            Some(lock.path().to_path_buf()),
            config.path.clone(),
            settings.cache_dir.clone(),
            config.audit.file.clone(),
            config.telemetry.spans_dir.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        protected.extend(audit.as_ref().map(|log| log.path().to_path_buf()));
        let budget = Arc::new(MemoryBudget::from_config(&config));
        tracing::info!(
            budget = %Approx(budget.total()),
            budget_bytes = budget.total(),
            source = %budget.source(),
            plugin_share = %budget.share(),
            "memory budget"
        );
        let settings = LoadSettings {
            bounds: config.limits,
            workspace_root,
            policy: config.policy.clone(),
            lock,
            record,
            audit,
            protected,
            loading: config.loading,
            budget: budget.clone(),
        };
        let entries = crate::load::load_dir(&sandbox, &dir, &settings)
            .await
            .with_context(|| format!("cannot read the plugins folder {}", dir.display()))?;
        let registry = Registry::build(entries);
        let (loaded, failed) = registry.counts();
        tracing::info!(
            plugins_dir = %dir.display(),
            loaded,
            failed,
            tools = registry.tools().count(),
            "plugins loaded"
        );
        Ok(Dispatcher::shared(
            sandbox,
            registry,
            usize::try_from(config.max_concurrent_calls).unwrap_or(usize::MAX),
            budget,
        ))
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
