//! `warden check`: whether a component will load, and why not, one line per
//! check, with an exit code for CI.
//!
//! The component is first compiled on its own (file, world, exports,
//! imports), then loaded exactly as `serve` would load it from a plugins
//! folder of its own, with its manifest, the operator's config and the lock:
//! so a pass here means the same file passes there.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use super::report::{Mark, Report};
use super::{Common, engine_settings};
use crate::input::bounded_file;
use crate::mcp::registry::PluginSummary;
use crate::policy::manifest::Manifest;
use crate::sandbox::{
    CompiledPlugin, LEGACY_WORLD_VERSION, LoadError, Sandbox, WORLD_PACKAGE, WORLD_VERSION,
};

/// Say whether a component will load and why not: file, world version,
/// exports, imports, manifest, requested capabilities, approval and what it
/// describes, one line each. Exits 1 when it will not load.
#[derive(Debug, clap::Args)]
pub struct Check {
    /// The component, `NAME.wasm`.
    #[arg(value_name = "FILE.wasm")]
    file: PathBuf,
    /// Its manifest (default: `NAME.toml` beside the component, if any).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

impl Check {
    /// A check of `file` with its `manifest` (default: `NAME.toml` beside it).
    pub(super) fn new(file: PathBuf, manifest: Option<PathBuf>, common: Common) -> Self {
        Self {
            file,
            manifest,
            common,
        }
    }

    /// Runs every check and prints one line each.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        Ok(if self.passes().await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    /// Runs every check, prints one line each, and says whether the plugin
    /// will load.
    pub(super) async fn passes(self) -> anyhow::Result<bool> {
        let (config, _, _) = self.common.resolve()?;
        let mut report = Report::new(std::io::stdout().lock());
        let name = plugin_name(&self.file);
        let manifest_path = self
            .manifest
            .clone()
            .unwrap_or_else(|| Manifest::sidecar_path(&self.file));

        let limit = config.loading.max_component_size.0;
        let bytes = match read(&self.file, limit) {
            Ok(bytes) => bytes,
            Err(e) => {
                report.line(Mark::Fail, "file", &e)?;
                return Ok(false);
            }
        };
        report.line(
            Mark::Pass,
            "file",
            &format!(
                "{}: {}",
                self.file.display(),
                crate::budget::Approx(bytes.len() as u64)
            ),
        )?;

        let sandbox =
            Arc::new(Sandbox::new(&engine_settings(&config)).context("cannot create the sandbox")?);
        let compiled = {
            let sandbox = sandbox.clone();
            tokio::task::spawn_blocking(move || sandbox.compile(&bytes)).await?
        };
        let linked = compiled_lines(&mut report, &compiled)?;

        let manifest_ok = if manifest_path.exists() || self.manifest.is_some() {
            match Manifest::load(&manifest_path) {
                Ok(manifest) => {
                    let version = manifest
                        .version
                        .as_ref()
                        .map_or_else(|| "(no version)".to_string(), ToString::to_string);
                    report.line(
                        Mark::Pass,
                        "manifest",
                        &format!("{}: {} {version}", manifest_path.display(), manifest.name),
                    )?;
                    report.line(Mark::Info, "requests", &manifest.capabilities.to_string())?;
                    true
                }
                Err(e) => {
                    report.line(Mark::Fail, "manifest", &e.to_string())?;
                    false
                }
            }
        } else {
            report.line(
                Mark::Info,
                "manifest",
                &format!(
                    "none at {}: the plugin is named `{name}` and gets no capabilities",
                    manifest_path.display()
                ),
            )?;
            true
        };

        if !(linked && manifest_ok) {
            report.line(Mark::Skip, "load", "fix the failures above first")?;
            return Ok(false);
        }
        let summary = self.load_alone(&name, &manifest_path).await?;
        load_lines(&mut report, &summary)?;
        Ok(!report.failed)
    }

    /// Loads the component as `serve` would, from a plugins folder holding
    /// only it and its manifest.
    async fn load_alone(&self, name: &str, manifest: &Path) -> anyhow::Result<PluginSummary> {
        let folder = tempfile::tempdir().context("cannot create a temporary plugins folder")?;
        std::fs::copy(&self.file, folder.path().join(format!("{name}.wasm")))
            .with_context(|| format!("cannot copy {}", self.file.display()))?;
        if manifest.exists() {
            std::fs::copy(manifest, folder.path().join(format!("{name}.toml")))
                .with_context(|| format!("cannot copy {}", manifest.display()))?;
        }
        let common = Common {
            plugins: Some(folder.path().to_path_buf()),
            ..self.common.clone()
        };
        let dispatcher = common.start(false, None).await?;
        dispatcher
            .registry()
            .summaries()
            .into_iter()
            .next()
            .context("the plugin was not found in its own folder")
    }
}

/// The plugin name a component file gives (its file stem).
fn plugin_name(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into())
}

/// Reads the component as the loader does: a regular file, at most `limit`
/// bytes.
fn read(file: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let absolute = std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?;
    bounded_file::read_entry(&absolute, limit).map_err(|e| format!("{}: {e}", file.display()))
}

/// The lines of compiling and linking: world, exports, imports. Returns
/// whether it linked.
fn compiled_lines<W: std::io::Write>(
    report: &mut Report<W>,
    compiled: &Result<CompiledPlugin, LoadError>,
) -> std::io::Result<bool> {
    let serves = format!(
        "this Warden serves {WORLD_PACKAGE}@{WORLD_VERSION} and compatible, and \
         {LEGACY_WORLD_VERSION} and compatible"
    );
    match compiled {
        Ok(plugin) => {
            report.line(
                Mark::Pass,
                "world",
                &format!("{WORLD_PACKAGE}@{} ({serves})", plugin.world_version),
            )?;
            let set = plugin.exports();
            let exports: Vec<&str> = [
                ("tools", true),
                ("resources", set.resources),
                ("prompts", set.prompts),
                ("completions", set.completions),
            ]
            .into_iter()
            .filter_map(|(name, has)| has.then_some(name))
            .collect();
            report.line(Mark::Pass, "exports", &exports.join(", "))?;
            report.line(
                Mark::Pass,
                "imports",
                "all provided (the plugin world's imports and WASI 0.2)",
            )?;
            Ok(true)
        }
        Err(e) => {
            let check = match e {
                LoadError::IncompatibleWorld { .. } => "world",
                LoadError::NotAPlugin { .. } => "exports",
                LoadError::Link(_) => "imports",
                _ => "component",
            };
            report.line(Mark::Fail, check, &e.to_string())?;
            Ok(false)
        }
    }
}

/// The lines of loading it as `serve` would: grants, approval, description.
fn load_lines<W: std::io::Write>(
    report: &mut Report<W>,
    summary: &PluginSummary,
) -> std::io::Result<()> {
    for notice in &summary.notices {
        report.line(Mark::Info, "notice", notice)?;
    }
    if let Some(error) = &summary.error {
        return report.line(Mark::Fail, "load", error);
    }
    if let Some(granted) = &summary.granted {
        report.line(Mark::Pass, "grants", &granted.to_string())?;
    }
    if let Some(limits) = &summary.limits {
        report.line(Mark::Info, "limits", &limits.to_string())?;
    }
    let tools: Vec<&str> = summary.tools.iter().map(|t| t.name.as_str()).collect();
    report.line(
        Mark::Pass,
        "describes",
        &format!(
            "{} tool(s){}{}, {} resource(s), {} template(s), {} prompt(s)",
            tools.len(),
            if tools.is_empty() { "" } else { ": " },
            tools.join(", "),
            summary.resources.len(),
            summary.templates.len(),
            summary.prompts.len()
        ),
    )
}
