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
pub mod background;
mod compile;
mod kept;
mod overlap;
mod pinning;
pub mod reload;
mod scan;
pub mod versions;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::budget::MemoryBudget;
use crate::limits::{LimitBounds, Limits};
use crate::loading::LoadingSettings;
use crate::mcp::registry::{LoadedPlugin, PluginEntry, PluginStatus, Registry};
use crate::observe::audit::AuditLog;
use crate::policy::consent::ConsentRules;
use crate::policy::grants::{self, Grants};
use crate::policy::lock::{self, Approval, LockFile};
use crate::policy::manifest::Capabilities;
use crate::policy::operator::{Concurrency, OperatorPolicy};
use crate::sandbox::{ArtifactCache, Sandbox};
use approval::{explain, record_approvals};
use background::{Background, Running};
use compile::{Caching, Plugin, load_one};
use kept::{keep_serving, still_allowed};
use overlap::refuse_overlapping_dirs;
use pinning::{AfterLoad, Pinning, serve_approved, still_held, store_versions};
use scan::{CONCURRENT_READS, ComponentFile, prepare, read_files, scan};

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
    /// Where compiled components and descriptions are cached, if anywhere.
    pub cache: Option<Arc<ArtifactCache>>,
    /// Whether a cached description stands in for describing a plugin at
    /// load (`serve`, which describes it again once serving); otherwise a
    /// cached component is still used but the plugin is described.
    pub cached_descriptions: bool,
    /// The store of approved versions, if there is a cache directory: the
    /// approved version serves from there while a new one is held.
    pub versions: Option<Arc<versions::VersionStore>>,
}

/// Loads every plugin in `dir`, concurrently. Fails only if the folder itself
/// cannot be read.
pub async fn load_dir(
    sandbox: &Arc<Sandbox>,
    dir: &Path,
    settings: &LoadSettings,
) -> std::io::Result<Vec<PluginEntry>> {
    load(sandbox, dir, settings, None, None).await
}

/// Like [`load_dir`], but waits for the plugins only up to
/// [`background::PATIENCE`]: the ones not ready by then go on loading in
/// `background` and are left out of the result.
pub async fn load_dir_patiently(
    sandbox: &Arc<Sandbox>,
    dir: &Path,
    settings: &LoadSettings,
    background: &Arc<Background>,
) -> std::io::Result<Vec<PluginEntry>> {
    load(sandbox, dir, settings, None, Some(background)).await
}

/// Loads `dir` again after something changed. A plugin whose component,
/// limits and grants are the same as in `previous` keeps its loaded version
/// (not compiled or described again, not audited again); the rest load as
/// at start-up. With `background`, it waits for what it loads only as
/// [`load_dir_patiently`] does, and adopts plugins that finished there.
pub(crate) async fn reload_dir(
    sandbox: &Arc<Sandbox>,
    dir: &Path,
    settings: &LoadSettings,
    previous: &Registry,
    background: Option<&Arc<Background>>,
) -> std::io::Result<Vec<PluginEntry>> {
    load(sandbox, dir, settings, Some(previous), background).await
}

async fn load(
    sandbox: &Arc<Sandbox>,
    dir: &Path,
    settings: &LoadSettings,
    previous: Option<&Registry>,
    background: Option<&Arc<Background>>,
) -> std::io::Result<Vec<PluginEntry>> {
    let started = tokio::time::Instant::now();
    let (components, mut manifests) = scan(dir)?;
    // What the loading tasks share.
    let shared = Arc::new(settings.clone());

    let mut entries = Vec::new();
    for (stem, manifest_path) in &manifests {
        if !components.contains_key(stem) {
            let mut entry = PluginEntry::new(
                stem.clone(),
                dir.join(format!("{stem}.wasm")),
                Some(manifest_path.clone()),
            );
            entry.status = PluginStatus::Failed(format!(
                "{}: manifest without a component: expected {stem}.wasm beside it",
                manifest_path.display()
            ));
            entries.push(entry);
        }
    }

    let mut reads = JoinSet::new();
    let permits = Arc::new(Semaphore::new(CONCURRENT_READS));
    for (stem, component_path) in components {
        let manifest_path = manifests.remove(&stem);
        let (permits, loading) = (permits.clone(), settings.loading);
        let caching = settings
            .cache
            .clone()
            .map(|cache| (cache, settings.cached_descriptions));
        reads.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let files =
                read_files(&component_path, manifest_path.as_deref(), loading, caching).await;
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
    let mut in_progress = BTreeMap::new();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut to_record = BTreeMap::new();
    let mut reused = Vec::new();
    let mut current = BTreeMap::new();
    let mut loading_elsewhere = Vec::new();
    for (stem, (component_path, manifest_path, files)) in read {
        let mut entry = PluginEntry::new(stem.clone(), component_path, manifest_path);
        let settled = settle(
            &mut entry,
            &stem,
            &mut names,
            files,
            settings,
            previous,
            background.map(|b| &**b),
        );
        if let Some(sha256) = &entry.sha256 {
            current.insert(entry.component_path.clone(), sha256.clone());
        }
        let to_load = match settled {
            Err(error) => {
                entry.status = PluginStatus::Failed(error);
                entries.push(entry);
                continue;
            }
            Ok(Settled::Reused) => {
                reused.push(entry.name.clone());
                entries.push(entry);
                continue;
            }
            Ok(Settled::Adopted(approval)) => {
                if let Some(approval) = approval {
                    to_record.insert(entry.name.clone(), approval);
                }
                entries.push(entry);
                continue;
            }
            Ok(Settled::StillLoading) => {
                loading_elsewhere.push(entry.component_path.clone());
                continue;
            }
            Ok(Settled::Load(to_load)) => to_load,
        };
        let ToLoad {
            plugin,
            file,
            approval,
            pinning,
        } = *to_load;
        let running = Running {
            name: entry.name.clone(),
            sha256: entry.sha256.clone().unwrap_or_default(),
            grants: plugin.grants.clone(),
        };
        let path = entry.component_path.clone();
        let sandbox = sandbox.clone();
        let shared = shared.clone();
        let job = jobs.spawn(async move {
            let caching = Caching {
                cache: shared.cache.as_ref(),
                descriptions: shared.cached_descriptions,
            };
            let loaded =
                load_one(&sandbox, &shared.budget, &mut entry, file, plugin, caching).await;
            let approval = match loaded {
                Ok(mut plugin) => match pinning.after_load(&plugin, approval) {
                    AfterLoad::Serve(approval) => {
                        plugin.pins = pinning.pins_once_recorded(approval.as_ref());
                        entry.status = PluginStatus::Loaded(Arc::new(plugin));
                        approval
                    }
                    AfterLoad::Hold(held) => {
                        let entry = serve_approved(&sandbox, &shared, &entry, held, &pinning).await;
                        return (entry, None);
                    }
                },
                Err(error) => {
                    entry.files_at_fault = true;
                    entry.status = PluginStatus::Failed(error);
                    None
                }
            };
            (entry, approval)
        });
        in_progress.insert(job.id(), (path, running));
    }
    if let Some(background) = background {
        background.forget_stale(&current);
    }
    let mut deadline = started + background::PATIENCE;
    let latest = started + background::MOST_PATIENCE;
    loop {
        let next = match background {
            Some(_) => match tokio::time::timeout_at(deadline, jobs.join_next_with_id()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            None => jobs.join_next_with_id().await,
        };
        let Some(joined) = next else { break };
        match joined {
            Ok((id, (entry, approval))) => {
                in_progress.remove(&id);
                deadline = deadline
                    .max(tokio::time::Instant::now() + background::ARRIVAL_GAP)
                    .min(latest);
                if let Some(approval) = approval {
                    to_record.insert(entry.name.clone(), approval);
                }
                entries.push(entry);
            }
            Err(e) => tracing::error!("a plugin load task failed: {e}"),
        }
    }
    if let Some(background) = background
        && !jobs.is_empty()
    {
        for (path, running) in in_progress.into_values() {
            tracing::info!(
                plugin = %running.name,
                "still compiling; serving the others, it follows when ready"
            );
            loading_elsewhere.push(path.clone());
            background.started(path, running);
        }
        let background = background.clone();
        tokio::spawn(async move {
            while let Some(joined) = jobs.join_next().await {
                match joined {
                    Ok((entry, _)) => background.finish(entry),
                    Err(e) => tracing::error!("a plugin load task failed: {e}"),
                }
            }
        });
    }
    if let Some(previous) = previous {
        // A replacement still loading leaves the version before it serving.
        for path in &loading_elsewhere {
            if let Some(old) = still_allowed(path, previous, settings, &entries) {
                entries.push(old);
            }
        }
        keep_serving(&mut entries, previous, settings);
    }
    let loading = background.map(|b| b.all_running()).unwrap_or_default();
    refuse_overlapping_dirs(&mut entries, &loading, settings);
    let recorded = record_approvals(&mut entries, to_record, settings);
    if settings.record {
        store_versions(&entries, &recorded, settings);
    }
    for entry in entries.iter().filter(|e| !reused.contains(&e.name)) {
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

/// What became of one plugin's files before compiling.
enum Settled {
    /// Compile and describe it.
    Load(Box<ToLoad>),
    /// The entry holds the unchanged loaded version from before.
    Reused,
    /// The entry holds what finished loading in the background (loaded or
    /// failed), with what to record in the lock if it loaded.
    Adopted(Option<Approval>),
    /// The same component is still loading in the background.
    StillLoading,
}

/// A plugin to compile and describe.
struct ToLoad {
    plugin: Plugin,
    file: ComponentFile,
    /// What to record in the lock if it loads.
    approval: Option<Approval>,
    /// What the lock pins, to check its definitions against.
    pinning: Pinning,
}

/// Settles one plugin's name from its `files`, then its limits, approval and
/// grants. A plugin unchanged since `previous` (same component, limits and
/// grants) gets its loaded version from there; one that finished loading in
/// `background` under these same settings is adopted from there.
fn settle(
    entry: &mut PluginEntry,
    stem: &str,
    names: &mut BTreeMap<String, PathBuf>,
    files: Result<scan::PluginFiles, String>,
    settings: &LoadSettings,
    previous: Option<&Registry>,
    background: Option<&Background>,
) -> Result<Settled, String> {
    let (manifest, file) = match files {
        Ok(files) => files,
        Err(error) => (Err(error.clone()), Err(error)),
    };
    if let Err(error) = prepare(entry, stem, names, manifest) {
        entry.files_at_fault = true;
        return Err(error);
    }
    let file = file.inspect_err(|_| entry.files_at_fault = true)?;
    let sha256 = file.sha256.clone();
    entry.sha256 = Some(sha256.clone());
    if let Some(held) = still_held(previous, entry, &sha256, settings) {
        *entry = held;
        return Ok(Settled::Reused);
    }
    let mut decided = decide(entry, &sha256, settings)?;
    if let Some(same) = previous.and_then(|p| p.entry_for(&entry.component_path))
        && same.sha256.as_deref() == Some(sha256.as_str())
        && same.name == entry.name
        && let PluginStatus::Loaded(loaded) = &same.status
        && decided.matches(loaded)
    {
        entry.notices = same.notices.clone();
        entry.status = same.status.clone();
        return Ok(Settled::Reused);
    }
    // What finished loading in the background under these same settings.
    let finished = background
        .and_then(|b| b.take_finished(&entry.component_path, &sha256))
        .filter(|f| {
            f.name == entry.name
                && match &f.status {
                    PluginStatus::Loaded(loaded) => decided.matches_but_pins(loaded),
                    PluginStatus::Failed(_) => true,
                }
        });
    entry.notices.append(&mut decided.limit_notices);
    explain(entry, &decided.review, settings)?;
    entry.notices.append(&mut decided.grant_notices);
    let approval = decided
        .review
        .verdict
        .records()
        .then(|| Approval::new(sha256.clone(), &decided.requested));
    // (`record_approvals` keeps the origins a person allowed.)
    if let Some(finished) = finished {
        // What finished is checked against the pins as a load here would be.
        // Its pins were settled when it finished, as the lock was then (a
        // plugin seen first is pinned to what it describes once recorded):
        // adopted only if the lock as it is now settles the same.
        let adopted = match (&finished.status, &finished.held_update) {
            (PluginStatus::Loaded(plugin), None) => {
                match decided.pinning.after_load(plugin, approval.clone()) {
                    AfterLoad::Serve(record)
                        if plugin.pins == decided.pinning.pins_once_recorded(record.as_ref()) =>
                    {
                        Some(record)
                    }
                    AfterLoad::Serve(_) | AfterLoad::Hold(_) => None,
                }
            }
            _ => Some(None),
        };
        if let Some(record) = adopted {
            *entry = finished;
            return Ok(Settled::Adopted(record));
        }
    }
    if background.is_some_and(|b| {
        b.running(&entry.component_path, &sha256)
            .is_some_and(|r| r.name == entry.name)
    }) {
        return Ok(Settled::StillLoading);
    }
    let pinning = decided.pinning.clone();
    let plugin = decided.into_plugin(settings);
    Ok(Settled::Load(Box::new(ToLoad {
        plugin,
        file,
        approval,
        pinning,
    })))
}

/// What the operator's settings decide for one plugin.
struct Decided {
    limits: Limits,
    grants: Grants,
    disabled: Vec<String>,
    namespaced: bool,
    concurrency: Concurrency,
    consent: ConsentRules,
    review: lock::Review,
    requested: Capabilities,
    /// Limits clamped to the operator's ceilings, and such.
    limit_notices: Vec<String>,
    /// What resolving the grants noted.
    grant_notices: Vec<String>,
    /// The definitions the lock pins.
    pinning: Pinning,
}

impl Decided {
    /// Whether `loaded` runs under exactly these limits, grants and pins.
    fn matches(&self, loaded: &LoadedPlugin) -> bool {
        self.matches_but_pins(loaded) && loaded.pins == self.pinning.pins
    }

    /// Whether `loaded` runs under exactly these limits and grants.
    fn matches_but_pins(&self, loaded: &LoadedPlugin) -> bool {
        loaded.limits == self.limits
            && loaded.grants.same_as(&self.grants)
            && loaded.disabled_tools == self.disabled
            && loaded.namespaced == self.namespaced
            && loaded.concurrency == self.concurrency
            && loaded.consent == self.consent
    }

    /// What compiling the plugin needs (its notices taken already).
    fn into_plugin(self, settings: &LoadSettings) -> Plugin {
        Plugin {
            limits: self.limits,
            grants: Arc::new(self.grants),
            disabled: self.disabled,
            namespaced: self.namespaced,
            concurrency: self.concurrency,
            consent: self.consent,
            loading: settings.loading,
            pins: self.pinning.pins,
        }
    }
}

/// The limits, lock review and grants the settings give the plugin of
/// `entry` (named, with its manifest parsed) whose component hashes to
/// `sha256`.
fn decide(entry: &PluginEntry, sha256: &str, settings: &LoadSettings) -> Result<Decided, String> {
    let in_file = |error: &dyn std::fmt::Display| {
        let file = entry
            .manifest_path
            .as_ref()
            .unwrap_or(&entry.component_path);
        format!("{}: {error}", file.display())
    };
    let (limits, limit_notices) = settings.bounds.resolve(
        &entry
            .manifest
            .as_ref()
            .map(|m| m.limits)
            .unwrap_or_default(),
    );
    let narrowing = settings.policy.plugins.get(&entry.name);
    let limits = match narrowing {
        Some(policy) if !policy.limits.is_empty() => limits
            .with_overrides(&policy.limits)
            .clamped_to(&settings.bounds.ceilings),
        _ => limits,
    };
    settings
        .budget
        .check_fits(&limits)
        .map_err(|e| in_file(&e))?;
    let requested = entry
        .manifest
        .as_ref()
        .map(|m| m.capabilities.clone())
        .unwrap_or_default();
    let review = lock::review(
        settings.lock.get(&entry.name),
        sha256,
        &requested,
        settings.policy.new_plugins,
    );
    let lookup_env = |name: &str| std::env::var(name).ok();
    let (approved, allowed_notice) =
        approval::with_allowed(&review, settings.lock.get(&entry.name), &settings.lock);
    let (mut grants, mut grant_notices) = grants::resolve(
        &approved,
        &settings.policy,
        &entry.name,
        &settings.workspace_root,
        &lookup_env,
    )
    .map_err(|e| in_file(&e))?;
    grant_notices.extend(allowed_notice);
    grants.http.pending = review
        .held
        .http
        .iter()
        .filter(|o| grants::http_refusal(&settings.policy, &entry.name, o).is_none())
        .cloned()
        .collect();
    let (asked, asked_notices) = grants::asked_dirs(
        &review.held.dirs,
        &grants,
        &settings.policy,
        &entry.name,
        &settings.workspace_root,
    )
    .map_err(|e| in_file(&e))?;
    grants.asked_dirs = asked;
    grant_notices.extend(asked_notices);
    grants.client.pending = review
        .held
        .client
        .iter()
        .copied()
        .filter(|&c| grants::client_refusal(&settings.policy, &entry.name, c).is_none())
        .collect();
    let pinning = Pinning::new(settings, &entry.name, sha256, &review);
    Ok(Decided {
        pinning,
        limits,
        grants,
        disabled: narrowing
            .map(|p| p.disabled_tools.clone())
            .unwrap_or_default(),
        namespaced: !narrowing.is_some_and(|p| p.unprefixed),
        concurrency: narrowing.map(|p| p.concurrency).unwrap_or_default(),
        consent: narrowing.map(|p| p.consent.clone()).unwrap_or_default(),
        review,
        requested,
        limit_notices: limit_notices.iter().map(ToString::to_string).collect(),
        grant_notices,
    })
}
