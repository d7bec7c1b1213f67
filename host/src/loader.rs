//! Loads a plugins folder: each `NAME.wasm` with its optional `NAME.toml`
//! manifest becomes a [`PluginEntry`], loaded or failed with the cause. One bad
//! plugin never stops the others: every failure is confined to its entry.
//!
//! Nothing in the folder can hold start-up: files are read through
//! [`crate::bounded_file`] (regular files only, size-capped), each entry on a
//! thread of its own under `loading.read_timeout`, and each plugin is
//! described under `loading.describe_timeout`, all concurrently; an entry that
//! misses its deadline fails with that as its load error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::audit::AuditLog;
use crate::bounded_file::{ReadError, read_entry};
use crate::budget::{MemoryBudget, Wait};
use crate::config::OperatorPolicy;
use crate::grants::{self, Grants};
use crate::limits::{HumanDuration, LimitBounds, Limits};
use crate::loading::LoadingSettings;
use crate::lock::{self, Approval, LockFile, Verdict};
use crate::manifest::{DirMode, Manifest, PluginName};
use crate::registry::{LoadedPlugin, PluginEntry, PluginStatus};
use crate::sandbox::{CallContext, CallError, LimitHit, LoadError, Sandbox};

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

/// Folder entries read at the same time.
const CONCURRENT_READS: usize = 16;

/// Files by stem: `NAME.wasm` components and `NAME.toml` manifests.
type Files = BTreeMap<String, PathBuf>;

/// Finds the components and manifests in `dir`.
fn scan(dir: &Path) -> std::io::Result<(Files, Files)> {
    let mut components = BTreeMap::new();
    let mut manifests = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("wasm") => {
                components.insert(stem, path);
            }
            Some("toml") => {
                manifests.insert(stem, path);
            }
            _ => {}
        }
    }
    Ok((components, manifests))
}

/// A component in the plugins folder, with its manifest read but nothing
/// compiled: what `warden approve` needs.
#[derive(Debug)]
pub struct FoundPlugin {
    /// The plugin's name (from the manifest, else the file name).
    pub name: String,
    /// The `.wasm` file.
    pub component_path: PathBuf,
    /// The manifest, when there is one.
    pub manifest: Option<Manifest>,
}

/// Every component in `dir` with its manifest; a plugin whose manifest or
/// name is broken is an `Err` with the reason.
pub fn find_plugins(dir: &Path) -> std::io::Result<Vec<Result<FoundPlugin, String>>> {
    let (components, mut manifests) = scan(dir)?;
    let mut names = BTreeMap::new();
    let mut found = Vec::new();
    for (stem, component_path) in components {
        let mut entry = PluginEntry {
            name: stem.clone(),
            component_path,
            manifest_path: manifests.remove(&stem),
            manifest: None,
            notices: Vec::new(),
            status: PluginStatus::Failed(String::new()),
        };
        let manifest = read_manifest(entry.manifest_path.as_deref());
        found.push(
            prepare(&mut entry, &stem, &mut names, manifest).map(|()| FoundPlugin {
                name: entry.name,
                component_path: entry.component_path,
                manifest: entry.manifest,
            }),
        );
    }
    Ok(found)
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
            let file = entry
                .manifest_path
                .as_ref()
                .unwrap_or(&entry.component_path);
            entry.status = PluginStatus::Failed(format!("{}: {error}", file.display()));
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
                let file = entry
                    .manifest_path
                    .as_ref()
                    .unwrap_or(&entry.component_path);
                entry.status = PluginStatus::Failed(format!("{}: {error}", file.display()));
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

/// Applies `policy.overlapping_dirs` to the loaded plugins: a plugin whose
/// read-write directory overlaps another granted directory (its own or
/// another plugin's) is refused, or loads with a warning.
/// A read-write directory that contains Warden's own files is always refused.
fn refuse_overlapping_dirs(entries: &mut [PluginEntry], settings: &LoadSettings) {
    for entry in entries.iter_mut() {
        let PluginStatus::Loaded(plugin) = &entry.status else {
            continue;
        };
        let writable = plugin
            .grants
            .dirs
            .iter()
            .filter(|d| d.mode == DirMode::ReadWrite);
        let inside = writable
            .filter_map(|dir| Some((dir, grants::protected_inside(dir, &settings.protected)?)))
            .next();
        if let Some((dir, own)) = inside {
            entry.status = PluginStatus::Failed(format!(
                "{}: refused: its read-write directory {} contains {}, which belongs to Warden \
                 (a plugin that can write there could replace plugins, approve itself or \
                 rewrite the audit trail); grant it a directory that does not contain Warden's files",
                entry.component_path.display(),
                dir.host.display(),
                own.display()
            ));
        }
    }
    let mode = settings.policy.overlapping_dirs;
    let found = {
        let loaded: Vec<(&str, &Arc<crate::registry::LoadedPlugin>)> = entries
            .iter()
            .filter_map(|e| match &e.status {
                PluginStatus::Loaded(p) => Some((e.name.as_str(), p)),
                PluginStatus::Failed(_) => None,
            })
            .collect();
        let claims: Vec<grants::DirClaim<'_>> = loaded
            .iter()
            .flat_map(|(name, plugin)| {
                plugin
                    .grants
                    .dirs
                    .iter()
                    .map(|dir| grants::DirClaim { plugin: name, dir })
            })
            .collect();
        grants::conflicts(&claims)
    };
    let mut by_writer: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for conflict in found {
        by_writer
            .entry(conflict.writer.clone())
            .or_default()
            .push(conflict.to_string());
    }
    for (writer, conflicts) in by_writer {
        let Some(entry) = entries.iter_mut().find(|e| e.name == writer) else {
            continue;
        };
        let conflicts = conflicts.join("; ");
        match mode {
            grants::OverlappingDirs::Refuse => {
                entry.status = PluginStatus::Failed(format!(
                    "{}: refused: {conflicts} (policy.overlapping_dirs = \"refuse\"; give the \
                     plugins directories that do not overlap, or set it to \"warn\")",
                    entry.component_path.display()
                ));
            }
            grants::OverlappingDirs::Warn => entry.notices.push(format!(
                "{conflicts} (allowed by policy.overlapping_dirs = \"warn\")"
            )),
        }
    }
}

/// Notes the lock's verdict on the entry; fails when the plugin may not load.
fn explain(
    entry: &mut PluginEntry,
    review: &lock::Review,
    settings: &LoadSettings,
) -> Result<(), String> {
    let name = &entry.name;
    let lock_path = settings.lock.path().display();
    if let Some(audit) = &settings.audit {
        let detail = match review.verdict {
            Verdict::Held | Verdict::NotApproved => format!("not approved: {}", review.held),
            _ => format!("approved: {}", review.approved),
        };
        audit.approval(name, review.verdict.as_str(), &detail);
    }
    match review.verdict {
        Verdict::Approved => {}
        Verdict::Updated => entry.notices.push(
            "the component or manifest changed and requests nothing beyond its approval".into(),
        ),
        Verdict::TrustedOnFirstUse => entry.notices.push(if settings.record {
            "first seen: trusted on first use".into()
        } else {
            format!("first seen: would be trusted on first use (not recorded in {lock_path} by this command)")
        }),
        Verdict::Held => {
            tracing::warn!(
                target: "warden::approval",
                plugin = %name,
                held = %review.held,
                lock = %lock_path,
                "plugin requests more than was approved; the growth is held back"
            );
            entry.notices.push(format!(
                "held back until approved: {} (the plugin requests more than {lock_path} \
                 records; review it and run `warden approve {name}`)",
                review.held
            ));
        }
        Verdict::NotApproved => {
            return Err(format!(
                "{}: not approved yet (policy.new_plugins = \"require-approval\"): it requests \
                 {}; review it and run `warden approve {name}`",
                entry.component_path.display(),
                review.held
            ));
        }
    }
    Ok(())
}

/// Writes first-use trust and quiet updates of the plugins that loaded to
/// the lock file (when the settings record).
fn record_approvals(
    entries: &mut [PluginEntry],
    mut to_record: BTreeMap<String, Approval>,
    settings: &LoadSettings,
) {
    to_record.retain(|name, _| {
        entries
            .iter()
            .any(|e| &e.name == name && matches!(e.status, PluginStatus::Loaded(_)))
    });
    if !settings.record || to_record.is_empty() {
        return;
    }
    let mut lock = settings.lock.clone();
    for (name, approval) in &to_record {
        tracing::info!(
            target: "warden::approval",
            plugin = %name,
            sha256 = %approval.sha256,
            capabilities = %approval.capabilities(),
            lock = %lock.path().display(),
            "recorded in the lock file"
        );
        lock.set(name, approval.clone());
    }
    let notice = match lock.save() {
        Ok(()) => format!("recorded in {}", lock.path().display()),
        Err(error) => {
            tracing::warn!(target: "warden::approval", "{error}; approvals are not recorded");
            format!("not recorded: {error}")
        }
    };
    for entry in entries
        .iter_mut()
        .filter(|e| to_record.contains_key(&e.name))
    {
        entry.notices.push(notice.clone());
    }
}

/// A plugin's manifest, parsed (`None` without one), and its component's
/// bytes, or why each could not be read.
type PluginFiles = (Result<Option<Manifest>, String>, Result<Vec<u8>, String>);

/// Reads a plugin's manifest and component on a thread of its own and waits
/// at most `loading.read_timeout` for it. A read still stuck then (a
/// filesystem that does not answer) is left to its thread, which does not
/// keep Warden from exiting, and the entry fails.
async fn read_files(
    component: &Path,
    manifest: Option<&Path>,
    loading: LoadingSettings,
) -> Result<PluginFiles, String> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let (component_path, manifest_path) = (component.to_owned(), manifest.map(Path::to_owned));
    let limit = loading.max_component_size.0;
    std::thread::Builder::new()
        .name("warden-read".into())
        .spawn(move || {
            let manifest = read_manifest(manifest_path.as_deref());
            let bytes = read_entry(&component_path, limit).map_err(|error| {
                let hint = match error {
                    ReadError::TooLarge { .. } => {
                        " (raise loading.max_component_size in warden.toml to load it)"
                    }
                    _ => "",
                };
                format!(
                    "{}: cannot read the component: {error}{hint}",
                    component_path.display()
                )
            });
            // The receiver is gone when the read took too long.
            let _ = sender.send((manifest, bytes));
        })
        .map_err(|e| format!("{}: cannot start reading: {e}", component.display()))?;
    match tokio::time::timeout(loading.read_timeout, receiver).await {
        Ok(Ok(files)) => Ok(files),
        Ok(Err(_)) => Err(format!("{}: reading failed", component.display())),
        Err(_) => Err(format!(
            "{}: not read within {} (loading.read_timeout): the file or its manifest is on \
             a filesystem that does not answer",
            component.display(),
            HumanDuration(loading.read_timeout)
        )),
    }
}

/// Reads and parses the manifest at `path`, if there is one.
fn read_manifest(path: Option<&Path>) -> Result<Option<Manifest>, String> {
    path.map(|path| Manifest::load(path).map_err(|e| e.to_string()))
        .transpose()
}

/// Settles the plugin's name from its `manifest`; fails when the manifest
/// could not be read or the name is taken.
fn prepare(
    entry: &mut PluginEntry,
    stem: &str,
    names: &mut BTreeMap<String, PathBuf>,
    manifest: Result<Option<Manifest>, String>,
) -> Result<(), String> {
    entry.manifest = manifest?;
    let name = match entry.manifest.as_ref().map(|m| m.name.clone()) {
        Some(name) => name,
        None => stem.parse::<PluginName>().map_err(|e| {
            format!(
                "{}: the file name is not a valid plugin name ({e}); rename the file \
                 or set `name` in a manifest beside it",
                entry.component_path.display()
            )
        })?,
    };
    entry.name = name.to_string();
    if let Some(other) = names.get(&entry.name) {
        return Err(format!(
            "{}: the plugin name `{}` is already used by {}",
            entry.component_path.display(),
            entry.name,
            other.display()
        ));
    }
    names.insert(entry.name.clone(), entry.component_path.clone());
    Ok(())
}

/// What the operator settled for one plugin before it is compiled.
struct Plugin {
    limits: Limits,
    grants: Arc<Grants>,
    disabled: Vec<String>,
    namespaced: bool,
    describe_timeout: Duration,
}

/// Compiles the component (`bytes`, read and hashed by the caller) and asks
/// it for its tools, under the describe timeout and the descriptor caps.
async fn load_one(
    sandbox: &Arc<Sandbox>,
    budget: &MemoryBudget,
    entry: &mut PluginEntry,
    bytes: Vec<u8>,
    plugin: Plugin,
) -> Result<LoadedPlugin, String> {
    let Plugin {
        limits,
        grants,
        disabled,
        namespaced,
        describe_timeout,
    } = plugin;
    let started = Instant::now();
    let path = entry.component_path.clone();
    let name = entry.name.clone();
    let context = |e: LoadError| format!("{}: {e}", path.display());
    let compiler = sandbox.clone();
    let compiled = tokio::task::spawn_blocking(move || compiler.compile(&bytes))
        .await
        .map_err(|e| format!("{}: compiling panicked: {e}", path.display()))?
        .map_err(context)?;
    let ctx = CallContext {
        plugin: name.as_str().into(),
        tool: None,
        progress: None,
    };
    let describe_limits = Limits {
        timeout: limits.timeout.min(describe_timeout),
        ..limits
    };
    let reserved = budget
        .admit(&name, &describe_limits, Wait::Load)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let report = sandbox
        .describe_all(&compiled, &describe_limits, &grants, ctx)
        .await;
    drop(reserved);
    crate::dispatch::log_guest_output(&name, None, &report.stdout, &report.stderr);
    let description = report.outcome.map_err(|e| {
        let hint = match e {
            CallError::Limit(LimitHit::Timeout(t)) if t == describe_timeout => {
                " (loading.describe_timeout)"
            }
            _ => "",
        };
        format!("{}{hint}", context(LoadError::Describe(e)))
    })?;
    let (description, notices) = crate::descriptor_caps::check(description)
        .map_err(|reason| format!("{}: {reason}", path.display()))?;
    let tools = &description.tools;
    for tool in &disabled {
        entry
            .notices
            .push(if tools.iter().any(|t| &t.name == tool) {
                format!("tool `{tool}` is disabled by the operator (plugins.{name}.disabled_tools)")
            } else {
                format!(
                    "plugins.{name}.disabled_tools names `{tool}`, which the plugin does not offer"
                )
            });
    }
    let plugin = LoadedPlugin {
        name,
        compiled,
        limits,
        describe_limits,
        grants,
        tools: Vec::new(),
        resources: Vec::new(),
        templates: Vec::new(),
        prompts: Vec::new(),
        disabled_tools: disabled,
        namespaced,
        load_time: started.elapsed(),
        notices: Vec::new(),
    };
    let mut plugin = plugin.redescribed(description);
    plugin.notices.splice(0..0, notices);
    plugin.load_time = started.elapsed();
    Ok(plugin)
}
