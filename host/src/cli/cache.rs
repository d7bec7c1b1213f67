//! `warden cache`: the compiled-component cache that makes a warm start
//! fast. `stats` shows it, `clear` empties it, `warm` fills it for a folder
//! ahead of time (for example while building a container image).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;

use super::{Common, cache_dir, engine_settings};
use crate::budget::Approx;
use crate::config::Config;
use crate::input::bounded_file::read_entry;
use crate::policy::lock::sha256_hex;
use crate::sandbox::{ArtifactCache, Fetched, Sandbox};

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

impl Cache {
    /// Runs the chosen action.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let mut out = std::io::stdout().lock();
        match self.action {
            Action::Stats(common) => {
                let (_, sandbox, cache) = open(&common)?;
                let usage = cache.usage()?;
                writeln!(out, "cache: {}", cache.dir().display())?;
                writeln!(
                    out,
                    "compiled components: {} ({}); trimmed above {} (cache_max_size)",
                    usage.entries,
                    Approx(usage.bytes),
                    Approx(cache.max_size())
                )?;
                match sandbox.functions() {
                    Some(functions) => writeln!(
                        out,
                        "compiled functions: {} (cache_functions)",
                        functions.len()
                    )?,
                    None => writeln!(out, "compiled functions: off (cache_functions = false)")?,
                }
                Ok(ExitCode::SUCCESS)
            }
            Action::Clear(common) => {
                let (_, _, cache) = open(&common)?;
                let cleared = cache
                    .clear()
                    .with_context(|| format!("cannot clear {}", cache.dir().display()))?;
                writeln!(
                    out,
                    "cleared {} compiled components ({}) from {}; the store of approved \
                     versions ({}) is kept",
                    cleared.entries,
                    Approx(cleared.bytes),
                    cache.dir().display(),
                    cache.dir().join(crate::load::versions::STORE).display()
                )?;
                Ok(ExitCode::SUCCESS)
            }
            Action::Warm { dir, common } => {
                let (config, sandbox, cache) = open(&common)?;
                let folder = dir
                    .or_else(|| common.plugins.clone())
                    .unwrap_or_else(|| config.plugins_dir.clone());
                let failed = warm(&config, &sandbox, &cache, &folder, &mut out)?;
                writeln!(out, "cache: {}", cache.dir().display())?;
                Ok(if failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    }
}

/// The config, a sandbox with the engine `serve` would use, and the cache
/// for that engine; an error when there is no cache directory or it cannot
/// be used.
fn open(common: &Common) -> anyhow::Result<(Config, Sandbox, ArtifactCache)> {
    let config = Config::discover(common.config.as_deref())?;
    let dir =
        cache_dir(&config).context("no cache directory: set cache_dir in warden.toml (or HOME)")?;
    let sandbox = Sandbox::new(&engine_settings(&config)).context("cannot create the sandbox")?;
    let cache = ArtifactCache::open(&dir, config.cache_max_size.0, &sandbox)
        .map_err(|e| anyhow::anyhow!("the cache cannot be used: {e}"))?;
    Ok((config, sandbox, cache))
}

/// Compiles each `.wasm` in `folder` into the cache (those already there
/// are checked and kept); prints one line per component and returns how
/// many failed. Descriptions are added when `serve` first describes each
/// plugin with its grants.
fn warm(
    config: &Config,
    sandbox: &Sandbox,
    cache: &ArtifactCache,
    folder: &Path,
    out: &mut impl std::io::Write,
) -> anyhow::Result<usize> {
    let mut components: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read {}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    components.sort();
    let mut failed = 0;
    for path in &components {
        let started = Instant::now();
        let warmed = read_entry(path, config.loading.max_component_size.0)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let sha256 = sha256_hex(&bytes);
                if let Fetched::Hit(_) = cache.fetch(sandbox, &sha256) {
                    return Ok("cached  ");
                }
                let compiled = sandbox.compile(&bytes).map_err(|e| e.to_string())?;
                cache.store(&sha256, &compiled, None)?;
                Ok("compiled")
            });
        match warmed {
            Ok(what) => writeln!(
                out,
                "{what} {} in {} ms",
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
