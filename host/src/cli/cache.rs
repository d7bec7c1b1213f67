//! `warden cache`: the compiled-component cache that makes a warm start
//! fast. `stats` shows it, `clear` empties it, `warm` fills it for a folder
//! ahead of time (for example while building a container image).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;

use super::{Common, default_cache_dir, engine_settings};
use crate::budget::Approx;
use crate::config::Config;
use crate::input::bounded_file::read_entry;
use crate::sandbox::Sandbox;

/// Show, clear or fill the compiled-component cache.
#[derive(Debug, clap::Args)]
pub struct Cache {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Where the cache is, what it holds and its size bound.
    Stats(#[command(flatten)] Common),
    /// Remove every compiled component from the cache.
    Clear(#[command(flatten)] Common),
    /// Compile every component of a folder into the cache.
    Warm {
        /// The folder (default: the plugins folder).
        dir: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
}

/// The folder wasmtime keeps its compiled artifacts in, inside the cache
/// directory; the only thing `clear` removes.
const MODULES: &str = "modules";

impl Cache {
    /// Runs the chosen action.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let mut out = std::io::stdout().lock();
        match self.action {
            Action::Stats(common) => {
                let (config, dir) = cache_dir(&common)?;
                let (files, bytes) = usage(&dir.join(MODULES))?;
                writeln!(out, "cache: {}", dir.display())?;
                writeln!(
                    out,
                    "compiled components: {files} ({}); trimmed above {} (cache_max_size)",
                    Approx(bytes),
                    Approx(config.cache_max_size.0)
                )?;
                Ok(ExitCode::SUCCESS)
            }
            Action::Clear(common) => {
                let (_, dir) = cache_dir(&common)?;
                let modules = dir.join(MODULES);
                let (files, bytes) = usage(&modules)?;
                match std::fs::remove_dir_all(&modules) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("cannot clear {}", modules.display()));
                    }
                }
                writeln!(
                    out,
                    "cleared {files} compiled components ({}) from {}",
                    Approx(bytes),
                    dir.display()
                )?;
                Ok(ExitCode::SUCCESS)
            }
            Action::Warm { dir, common } => {
                let (config, cache) = cache_dir(&common)?;
                let folder = dir
                    .or_else(|| common.plugins.clone())
                    .unwrap_or_else(|| config.plugins_dir.clone());
                let failed = warm(&config, &folder, &mut out)?;
                writeln!(out, "cache: {}", cache.display())?;
                Ok(if failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    }
}

/// The config and the cache directory it names; an error when the cache is
/// off (no directory can be found).
fn cache_dir(common: &Common) -> anyhow::Result<(Config, PathBuf)> {
    let config = Config::discover(common.config.as_deref())?;
    let dir = config
        .cache_dir
        .clone()
        .or_else(default_cache_dir)
        .context("no cache directory: set cache_dir in warden.toml (or HOME)")?;
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    Ok((config, dir))
}

/// Compiles each `.wasm` in `folder` with the engine `serve` would use;
/// prints one line per component and returns how many failed.
fn warm(config: &Config, folder: &Path, out: &mut impl std::io::Write) -> anyhow::Result<usize> {
    let sandbox = Sandbox::new(&engine_settings(config)).context("cannot create the sandbox")?;
    let mut components: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read {}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    components.sort();
    let mut failed = 0;
    for path in &components {
        let started = Instant::now();
        let compiled = read_entry(path, config.loading.max_component_size.0)
            .map_err(|e| e.to_string())
            .and_then(|bytes| sandbox.compile(&bytes).map_err(|e| e.to_string()));
        match compiled {
            Ok(_) => writeln!(
                out,
                "compiled {} in {} ms",
                path.display(),
                started.elapsed().as_millis()
            )?,
            Err(error) => {
                failed += 1;
                writeln!(
                    out,
                    "failed   {}: {}",
                    path.display(),
                    crate::observe::render::line(&error)
                )?;
            }
        }
    }
    if components.is_empty() {
        writeln!(out, "no components in {}", folder.display())?;
    }
    Ok(failed)
}

/// How many files `dir` holds (recursively, wasmtime's `.stats` files aside)
/// and their total size; zero when it does not exist.
fn usage(dir: &Path) -> anyhow::Result<(u64, u64)> {
    let mut totals = (0u64, 0u64);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(totals),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let (files, bytes) = usage(&entry.path())?;
            totals = (totals.0 + files, totals.1 + bytes);
        } else if kind.is_file() && entry.path().extension().is_none_or(|e| e != "stats") {
            totals = (totals.0 + 1, totals.1 + entry.metadata()?.len());
        }
    }
    Ok(totals)
}
