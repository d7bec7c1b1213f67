//! `warden approve`: record what plugins request now in the lock file, after
//! printing exactly what that changes.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::Common;
use crate::load::{FoundPlugin, find_plugins};
use crate::observe::audit::AuditLog;
use crate::observe::render;
use crate::policy::lock::{self, Approval};

/// Approve the current component and requested capabilities of plugins,
/// recording them in the lock file. Prints every change: the component's
/// hash, and each capability added or removed.
#[derive(Debug, clap::Args)]
pub struct Approve {
    /// The plugins to approve, by name.
    #[arg(value_name = "NAME", required_unless_present = "all")]
    names: Vec<String>,
    /// Approve every plugin in the folder.
    #[arg(long, conflicts_with = "names")]
    all: bool,
    /// Print what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    common: Common,
}

impl Approve {
    /// Prints the changes and, unless `--dry-run`, writes the lock.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let (config, dir, mut lock) = self.common.resolve()?;
        let found = find_plugins(&dir)
            .with_context(|| format!("cannot read the plugins folder {}", dir.display()))?;
        let mut plugins: Vec<FoundPlugin> = Vec::new();
        for plugin in found {
            match plugin {
                Ok(plugin) => plugins.push(plugin),
                Err(error) if self.all => bail!("{error}"),
                Err(error) => tracing::debug!("skipping a broken plugin: {error}"),
            }
        }
        if !self.all {
            for name in &self.names {
                if !plugins.iter().any(|p| &p.name == name) {
                    bail!(
                        "no plugin named `{name}` in {} (`warden list` shows the plugins and \
                         any that fail to load)",
                        dir.display()
                    );
                }
            }
            plugins.retain(|p| self.names.contains(&p.name));
        }

        let mut out = std::io::stdout().lock();
        let mut changed = Vec::new();
        for plugin in &plugins {
            let bytes = crate::input::bounded_file::read_entry(
                &plugin.component_path,
                config.loading.max_component_size.0,
            )
            .with_context(|| format!("cannot read {}", plugin.component_path.display()))?;
            let requested = plugin
                .manifest
                .as_ref()
                .map(|m| m.capabilities.clone())
                .unwrap_or_default();
            let approval = Approval::new(lock::sha256_hex(&bytes), &requested)
                .keeping_allowed(lock.get(&plugin.name));
            let changes = lock::changes(lock.get(&plugin.name), &approval);
            writeln!(
                out,
                "{} ({})",
                render::line(&plugin.name),
                render::line(&plugin.component_path.to_string_lossy())
            )?;
            if changes.is_empty() {
                writeln!(out, "  nothing to approve: the lock already records it")?;
                continue;
            }
            for change in &changes {
                writeln!(out, "  {}", render::line(&change.to_string()))?;
            }
            let detail: Vec<String> = changes.iter().map(ToString::to_string).collect();
            changed.push((plugin.name.clone(), detail.join("; ")));
            lock.set(&plugin.name, approval);
        }
        let lock_path = lock.path().to_string_lossy();
        let lock_path = render::line(&lock_path);
        if changed.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        if self.dry_run {
            writeln!(out, "dry run: {lock_path} is unchanged")?;
            return Ok(ExitCode::SUCCESS);
        }
        lock.save()?;
        let audit = match &config.audit.file {
            Some(file) => Some(
                AuditLog::open(
                    file,
                    config.audit.max_size.0,
                    config.audit.log_arguments.clone(),
                )
                .with_context(|| format!("cannot open the audit log {}", file.display()))?,
            ),
            None => None,
        };
        for (name, detail) in &changed {
            tracing::info!(
                target: "warden::approval",
                plugin = %name,
                changes = %detail,
                lock = %lock_path,
                "approved by the operator"
            );
            if let Some(audit) = &audit {
                audit.approval(name, "approved_by_operator", detail);
            }
        }
        writeln!(
            out,
            "approved: recorded in {lock_path}; a running `warden serve` applies it within a second"
        )?;
        Ok(ExitCode::SUCCESS)
    }
}
