//! `warden approve`: record what plugins request and describe now in the
//! lock file, after printing exactly what that changes, and keep the
//! approved version in the store of approved versions.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};

use super::Common;
use crate::load::versions::{FolderFiles, VersionStore};
use crate::mcp::definitions::{self, DefinitionChange, DefinitionSet};
use crate::mcp::registry::{PluginEntry, PluginStatus};
use crate::observe::audit::AuditLog;
use crate::observe::render;
use crate::policy::lock::{self, Approval};

/// Approve the current component, requested capabilities and definitions
/// of plugins, recording them in the lock file. Prints every change: the
/// component's hash, each capability added or removed, and each tool,
/// prompt or resource template definition added, removed or changed (in
/// full).
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

/// One plugin to approve.
struct Pending {
    name: String,
    approval: Approval,
    bytes: Vec<u8>,
    manifest: Option<Vec<u8>>,
    definitions: Option<Arc<DefinitionSet>>,
    detail: String,
}

impl Approve {
    /// Loads the plugins (describing each in the sandbox, a plugin seen for
    /// the first time as if trusted), prints the changes and, unless
    /// `--dry-run`, writes the lock and the store.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let (config, dir, mut lock) = self.common.resolve()?;
        let started = self.common.start_serving(false, None, true, true).await?;
        let registry = started.dispatcher.registry();
        let mut entries: Vec<&PluginEntry> = registry.plugins().iter().collect();
        if !self.all {
            for name in &self.names {
                if !entries.iter().any(|e| &e.name == name) {
                    bail!(
                        "no plugin named `{name}` in {} (`warden list` shows the plugins and \
                         any that fail to load)",
                        dir.display()
                    );
                }
            }
            entries.retain(|e| self.names.contains(&e.name));
        }

        let mut out = std::io::stdout().lock();
        let mut pending = Vec::new();
        for entry in entries {
            let FolderFiles {
                component: bytes,
                manifest,
            } = FolderFiles::read(
                &entry.component_path,
                entry.manifest_path.as_deref(),
                config.loading.max_component_size.0,
            )?;
            let sha256 = lock::sha256_hex(&bytes);
            let described = described(entry, &sha256)?;
            let requested = current_request(entry, manifest.as_deref())?;
            let old = lock.get(&entry.name);
            let approval = Approval::new(sha256, &requested)
                .keeping_allowed(old)
                .with_definitions(described.as_ref().map(|d| d.digests()));
            writeln!(
                out,
                "{} ({})",
                render::line(&entry.name),
                render::line(&entry.component_path.to_string_lossy())
            )?;
            let changes = lock::changes(old, &approval);
            let old_texts = old.and_then(|o| {
                started
                    .versions
                    .as_ref()
                    .and_then(|store| store.definitions(&entry.name, &o.sha256))
            });
            let definition_changes = match &described {
                Some(set) => definitions::changes(
                    old.and_then(|o| o.definitions.as_ref()),
                    old_texts.as_ref(),
                    set,
                ),
                None => Vec::new(),
            };
            if changes.is_empty() && definition_changes.is_empty() && old == Some(&approval) {
                writeln!(out, "  nothing to approve: the lock already records it")?;
                continue;
            }
            for change in &changes {
                writeln!(out, "  {}", render::line(&change.to_string()))?;
            }
            if described.is_none() {
                writeln!(
                    out,
                    "  definitions: not known, it does not load ({}); the first version that \
                     loads is recorded",
                    render::line(entry.status.error().unwrap_or_default())
                )?;
            }
            write_definition_changes(&mut out, &definition_changes)?;
            let mut detail: Vec<String> = changes.iter().map(ToString::to_string).collect();
            detail.extend(
                definition_changes
                    .iter()
                    .map(|c| format!("{} {}", c.sign(), c.key())),
            );
            pending.push(Pending {
                name: entry.name.clone(),
                approval,
                bytes,
                manifest,
                definitions: described,
                detail: detail.join("; "),
            });
        }
        let lock_path = lock.path().to_string_lossy().into_owned();
        let lock_path = render::line(&lock_path);
        if pending.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        if self.dry_run {
            writeln!(out, "dry run: {lock_path} is unchanged")?;
            return Ok(ExitCode::SUCCESS);
        }
        for plugin in &pending {
            lock.set(&plugin.name, plugin.approval.clone());
        }
        lock.save()?;
        if let Some(store) = &started.versions {
            keep_versions(store, &pending);
        }
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
        for plugin in &pending {
            tracing::info!(
                target: "warden::approval",
                plugin = %plugin.name,
                changes = %render::escape(&plugin.detail),
                lock = %lock_path,
                "approved by the operator"
            );
            if let Some(audit) = &audit {
                audit.approval(&plugin.name, "approved_by_operator", &plugin.detail);
            }
        }
        writeln!(
            out,
            "approved: recorded in {lock_path}; a running `warden serve` applies it within a second"
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Prints each definition change, indented under its plugin's line.
pub(super) fn write_definition_changes(
    out: &mut impl Write,
    changes: &[DefinitionChange],
) -> std::io::Result<()> {
    for change in changes {
        for line in change.to_string().lines() {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

/// The definitions of the component whose file hashes to `sha256`: held
/// (a new version waiting for approval) or served; `None` when it did not
/// load.
fn described(entry: &PluginEntry, sha256: &str) -> anyhow::Result<Option<Arc<DefinitionSet>>> {
    if let Some(held) = entry.held_update.as_ref().filter(|h| h.sha256 == sha256) {
        return Ok(Some(held.definitions.clone()));
    }
    match &entry.status {
        PluginStatus::Loaded(plugin) if entry.sha256.as_deref() == Some(sha256) => {
            Ok(Some(plugin.described.clone()))
        }
        PluginStatus::Loaded(_) => bail!(
            "{} changed while it was being approved; run `warden approve` again",
            entry.component_path.display()
        ),
        PluginStatus::Failed(_) => Ok(None),
    }
}

/// What the plugin's manifest in the folder requests now (`manifest`, the
/// bytes just read; the entry's own manifest may be a stored one, served
/// while the folder's version is held).
fn current_request(
    entry: &PluginEntry,
    manifest: Option<&[u8]>,
) -> anyhow::Result<crate::policy::manifest::Capabilities> {
    let (Some(bytes), Some(path)) = (manifest, &entry.manifest_path) else {
        return Ok(Default::default());
    };
    Ok(crate::policy::manifest::Manifest::from_bytes(bytes, path)?.capabilities)
}

/// Keeps each approved version in the store, with its history.
fn keep_versions(store: &VersionStore, pending: &[Pending]) {
    for plugin in pending {
        let Some(definitions) = &plugin.definitions else {
            continue;
        };
        let kept = store.record(
            &plugin.name,
            &plugin.approval,
            &plugin.bytes,
            plugin.manifest.as_deref(),
            definitions,
        );
        if let Err(error) = kept {
            tracing::warn!(
                plugin = %plugin.name,
                "cannot keep the approved version in the store {}: {error}",
                store.dir().display()
            );
        }
    }
}
