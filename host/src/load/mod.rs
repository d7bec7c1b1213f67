//! Loads a plugins folder: each `NAME.wasm` with its optional `NAME.toml`
//! manifest becomes a [`PluginEntry`], loaded or failed with the cause. One bad
//! plugin never stops the others: every failure is confined to its entry.
//!
//! Nothing in the folder can hold start-up: files are read through
//! [`crate::input::bounded_file`] (regular files only, size-capped), each entry on a
//! thread of its own under `loading.read_timeout`, and each plugin is
//! described under `loading.describe_timeout`, all concurrently; an entry that
//! misses its deadline fails with that as its load error.

mod approval;
mod compile;
mod overlap;
mod scan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::budget::MemoryBudget;
use crate::limits::LimitBounds;
use crate::loading::LoadingSettings;
use crate::mcp::registry::{PluginEntry, PluginStatus};
use crate::observe::audit::AuditLog;
use crate::policy::grants;
use crate::policy::lock::{self, Approval, LockFile};
use crate::policy::operator::OperatorPolicy;
use crate::sandbox::Sandbox;
use approval::{explain, record_approvals};
use compile::{Plugin, load_one};
use overlap::refuse_overlapping_dirs;
use scan::{CONCURRENT_READS, prepare, read_files, scan};

pub use scan::{FoundPlugin, find_plugins};

/// What the operator decides for every plugin.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// Default and ceiling limits.
    pub bounds: LimitBounds,
    /// The directory granted directories are relative to and confined to.
    pub workspace_root: PathBuf,
    /// What the operator allows each plugin.
    pub policy: OperatorPolicy,
    /// What the operator approved for each plugin.
    pub lock: LockFile,
    /// Whether first-use trust and quiet updates are written to the lock
    /// (`serve` and `call` record; `list` only reports).
    pub record: bool,
    /// Where approval decisions are audited, if anywhere.
    pub audit: Option<Arc<AuditLog>>,
    /// Warden's own files and folders (plugins folder, config, lock, cache,
    /// audit, spans): a plugin whose read-write directory contains one of
    /// them does not load.
    pub protected: Vec<PathBuf>,
    /// Size and time limits on reading and describing plugins.
    pub loading: LoadingSettings,
    /// The server-wide memory budget: a plugin whose calls would not fit in
    /// it is refused, and describing a plugin reserves from it.
    pub budget: Arc<MemoryBudget>,
}

/// Loads every plugin in `dir`, concurrently. Fails only if the folder itself
/// cannot be read.
pub async fn load_dir(
    sandbox: &Arc<Sandbox>,
    dir: &Path,
    settings: &LoadSettings,
) -> std::io::Result<Vec<PluginEntry>> {
    let (components, mut manifests) = scan(dir)?;

    let mut entries = Vec::new();
    for (stem, manifest_path) in &manifests {
        if !components.contains_key(stem) {
            entries.push(PluginEntry {
                name: stem.clone(),
                component_path: dir.join(format!("{stem}.wasm")),
                manifest_path: Some(manifest_path.clone()),
                manifest: None,
                notices: Vec::new(),
                status: PluginStatus::Failed(format!(
                    "{}: manifest without a component: expected {stem}.wasm beside it",
                    manifest_path.display()
                )),
            });
        }
    }

    let mut reads = JoinSet::new();
    let permits = Arc::new(Semaphore::new(CONCURRENT_READS));
    for (stem, component_path) in components {
        let manifest_path = manifests.remove(&stem);
        let (permits, loading) = (permits.clone(), settings.loading);
        reads.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let files = read_files(&component_path, manifest_path.as_deref(), loading).await;
            (stem, component_path, manifest_path, files)
        });
    }
    let mut read = BTreeMap::new();
    while let Some(joined) = reads.join_next().await {
        match joined {
            Ok((stem, component_path, manifest_path, files)) => {
                read.insert(stem, (component_path, manifest_path, files));
            }
            Err(e) => tracing::error!("a plugin read task failed: {e}"),
        }
    }

    let mut jobs = JoinSet::new();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut to_record = BTreeMap::new();
    for (stem, (component_path, manifest_path, files)) in read {
        let mut entry = PluginEntry {
            name: stem.clone(),
            component_path: component_path.clone(),
            manifest_path: manifest_path.clone(),
            manifest: None,
            notices: Vec::new(),
            status: PluginStatus::Failed(String::new()),
        };
        let (manifest, bytes) = match files {
            Ok(files) => files,
            Err(error) => (Err(error.clone()), Err(error)),
        };
        if let Err(error) = prepare(&mut entry, &stem, &mut names, manifest) {
            entry.status = PluginStatus::Failed(error);
            entries.push(entry);
            continue;
        }
        let (limits, notices) = settings.bounds.resolve(
            &entry
                .manifest
                .as_ref()
                .map(|m| m.limits)
                .unwrap_or_default(),
        );
        entry
            .notices
            .extend(notices.iter().map(ToString::to_string));
        let narrowing = settings.policy.plugins.get(&entry.name);
        let limits = match narrowing {
            Some(policy) if !policy.limits.is_empty() => limits
                .with_overrides(&policy.limits)
                .clamped_to(&settings.bounds.ceilings),
            _ => limits,
        };
        if let Err(error) = settings.budget.check_fits(&limits) {
            entry.fail(error);
            entries.push(entry);
            continue;
        }
        let disabled = narrowing
            .map(|p| p.disabled_tools.clone())
            .unwrap_or_default();
        let namespaced = !narrowing.is_some_and(|p| p.unprefixed);
        let requested = entry
            .manifest
            .as_ref()
            .map(|m| m.capabilities.clone())
            .unwrap_or_default();
        let (review, bytes) = match bytes {
            Ok(bytes) => {
                let sha256 = lock::sha256_hex(&bytes);
                let review = lock::review(
                    settings.lock.get(&entry.name),
                    &sha256,
                    &requested,
                    settings.policy.new_plugins,
                );
                if review.verdict.records() {
                    to_record.insert(entry.name.clone(), Approval::new(sha256, &requested));
                }
                (review, bytes)
            }
            Err(error) => {
                entry.status = PluginStatus::Failed(error);
                entries.push(entry);
                continue;
            }
        };
        if let Err(error) = explain(&mut entry, &review, settings) {
            entry.status = PluginStatus::Failed(error);
            entries.push(entry);
            continue;
        }
        let lookup_env = |name: &str| std::env::var(name).ok();
        let grants = match grants::resolve(
            &review.approved,
            &settings.policy,
            &entry.name,
            &settings.workspace_root,
            &lookup_env,
        ) {
            Ok((mut grants, notices)) => {
                entry.notices.extend(notices);
                grants.http.pending = review
                    .held
                    .http
                    .iter()
                    .filter(|o| grants::http_refusal(&settings.policy, &entry.name, o).is_none())
                    .cloned()
                    .collect();
                Arc::new(grants)
            }
            Err(error) => {
                entry.fail(error);
                entries.push(entry);
                continue;
            }
        };
        let sandbox = sandbox.clone();
        let describe_timeout = settings.loading.describe_timeout;
        let budget = settings.budget.clone();
        jobs.spawn(async move {
            let plugin = Plugin {
                limits,
                grants,
                disabled,
                namespaced,
                describe_timeout,
            };
            entry.status = match load_one(&sandbox, &budget, &mut entry, bytes, plugin).await {
                Ok(plugin) => PluginStatus::Loaded(Arc::new(plugin)),
                Err(error) => PluginStatus::Failed(error.to_string()),
            };
            entry
        });
    }
    while let Some(joined) = jobs.join_next().await {
        match joined {
            Ok(entry) => entries.push(entry),
            Err(e) => tracing::error!("a plugin load task failed: {e}"),
        }
    }
    refuse_overlapping_dirs(&mut entries, settings);
    record_approvals(&mut entries, to_record, settings);
    for entry in &entries {
        match &entry.status {
            PluginStatus::Loaded(p) => tracing::info!(
                plugin = %entry.name,
                tools = p.tools.len(),
                load_ms = p.load_time.as_secs_f64() * 1000.0,
                "plugin loaded"
            ),
            PluginStatus::Failed(error) => tracing::error!(
                plugin = %entry.name,
                path = %entry.component_path.display(),
                error = %error,
                "plugin failed to load"
            ),
        }
    }
    Ok(entries)
}
