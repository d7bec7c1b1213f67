//! `warden rollback`: return a plugin to the version approved before the
//! current one: its component and manifest are put back into the plugins
//! folder from the store of approved versions, and the lock records that
//! approval again.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::approve::write_definition_changes;
use super::{Common, open_versions};
use crate::load::find_plugins;
use crate::load::versions::write_atomic;
use crate::mcp::definitions;
use crate::observe::audit::AuditLog;
use crate::observe::render;
use crate::policy::lock;

/// Return a plugin to the version approved before the current one.
#[derive(Debug, clap::Args)]
pub struct Rollback {
    /// The plugin, by name.
    #[arg(value_name = "NAME")]
    name: String,
    /// Print what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    common: Common,
}

impl Rollback {
    /// Prints the change and, unless `--dry-run`, restores the files and
    /// writes the lock.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let (config, dir, mut lock) = self.common.resolve()?;
        let name = &self.name;
        let Some(store) = open_versions(&config, lock.path()) else {
            bail!("there is no store of approved versions: no usable cache directory");
        };
        let Some(current) = lock.get(name).cloned() else {
            bail!(
                "`{name}` has no approval in {}: nothing to roll back",
                lock.path().display()
            );
        };
        let history = store.history(name);
        let Some(index) = history.iter().rposition(|a| a.sha256 != current.sha256) else {
            bail!(
                "no version of `{name}` approved before the current one (sha256 {}) is in the \
                 store of approved versions ({})",
                current.sha256,
                store.dir().display()
            );
        };
        let previous = history[index].clone().keeping_allowed(Some(&current));
        let version = store
            .get(name, &previous.sha256)
            .with_context(|| format!("cannot read the store {}", store.dir().display()))?
            .with_context(|| {
                format!(
                    "the store no longer holds the version of `{name}` with sha256 {}",
                    previous.sha256
                )
            })?;
        let (component_path, manifest_path) = files_of(&dir, name)?;

        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{} ({})",
            render::line(name),
            render::line(&component_path.to_string_lossy())
        )?;
        for change in lock::changes(Some(&current), &previous) {
            writeln!(out, "  {}", render::line(&change.to_string()))?;
        }
        if let Some(set) = &version.definitions {
            let now = store.definitions(name, &current.sha256);
            let changes = definitions::changes(current.definitions.as_ref(), now.as_ref(), set);
            write_definition_changes(&mut out, &changes)?;
        }
        let lock_path = lock.path().to_string_lossy().into_owned();
        if self.dry_run {
            writeln!(
                out,
                "dry run: {} and the plugins folder are unchanged",
                render::line(&lock_path)
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        let replace = |path: &Path, bytes: &[u8]| {
            write_atomic(path, bytes).with_context(|| format!("cannot replace {}", path.display()))
        };
        replace(&component_path, &version.component)?;
        match (&version.manifest, &manifest_path) {
            (Some(manifest), path) => {
                let path = path.clone().unwrap_or_else(|| {
                    crate::policy::manifest::Manifest::sidecar_path(&component_path)
                });
                replace(&path, manifest)?;
            }
            (None, Some(path)) => std::fs::remove_file(path)
                .with_context(|| format!("cannot remove {}", path.display()))?,
            (None, None) => {}
        }
        let detail = format!("rolled back from {} to {}", current.sha256, previous.sha256);
        lock.set(name, previous);
        lock.save()?;
        store
            .truncate_history(name, index + 1)
            .with_context(|| format!("cannot write the store {}", store.dir().display()))?;
        if let Some(file) = &config.audit.file {
            let audit = AuditLog::open(
                file,
                config.audit.max_size.0,
                config.audit.log_arguments.clone(),
            )
            .with_context(|| format!("cannot open the audit log {}", file.display()))?;
            audit.approval(name, "rolled_back_by_operator", &detail);
        }
        tracing::info!(target: "warden::approval", plugin = %name, "{detail}");
        writeln!(
            out,
            "rolled back: {} restored and recorded in {}; a running `warden serve` applies it \
             within a second",
            render::line(&component_path.to_string_lossy()),
            render::line(&lock_path)
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

/// The component and manifest files of the plugin `name` in `dir`: where
/// they are now, else `NAME.wasm` (and no manifest).
fn files_of(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let found = find_plugins(dir)
        .with_context(|| format!("cannot read the plugins folder {}", dir.display()))?;
    for plugin in found.into_iter().flatten() {
        if plugin.name == name {
            let manifest = crate::policy::manifest::Manifest::sidecar_path(&plugin.component_path);
            let manifest = manifest.is_file().then_some(manifest);
            return Ok((plugin.component_path, manifest));
        }
    }
    Ok((dir.join(format!("{name}.wasm")), None))
}
