//! Loads a plugins folder: each `NAME.wasm` with its optional `NAME.toml`
//! manifest becomes a [`PluginEntry`], loaded or failed with the cause. One bad
//! plugin never stops the others: every failure is confined to its entry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use crate::audit::AuditLog;
use crate::budget::{MemoryBudget, Wait};
use crate::config::OperatorPolicy;
use crate::grants::{self, Grants};
use crate::limits::{LimitBounds, Limits};
use crate::lock::{self, Approval, LockFile, Verdict};
use crate::manifest::{Manifest, PluginName};
use crate::registry::{LoadedPlugin, PluginEntry, PluginStatus};
use crate::sandbox::{CallContext, LoadError, Sandbox};

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
    /// The server-wide memory budget: a plugin whose calls would not fit in
    /// it is refused, and describing a plugin reserves from it.
    pub budget: Arc<MemoryBudget>,
}

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
        found.push(
            prepare(&mut entry, &stem, &mut names).map(|()| FoundPlugin {
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

    let mut jobs = JoinSet::new();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut to_record = BTreeMap::new();
    for (stem, component_path) in components {
        let manifest_path = manifests.remove(&stem);
        let mut entry = PluginEntry {
            name: stem.clone(),
            component_path: component_path.clone(),
            manifest_path: manifest_path.clone(),
            manifest: None,
            notices: Vec::new(),
            status: PluginStatus::Failed(String::new()),
        };
        if let Err(error) = prepare(&mut entry, &stem, &mut names) {
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
        let (review, bytes) = match tokio::fs::read(&entry.component_path).await {
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
                let error = LoadError::Io(error);
                entry.status =
                    PluginStatus::Failed(format!("{}: {error}", entry.component_path.display()));
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
        let budget = settings.budget.clone();
        jobs.spawn(async move {
            entry.status = match load_one(
                &sandbox, &budget, &mut entry, bytes, limits, grants, &disabled, namespaced,
            )
            .await
            {
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

/// Reads the manifest and settles the plugin's name.
fn prepare(
    entry: &mut PluginEntry,
    stem: &str,
    names: &mut BTreeMap<String, PathBuf>,
) -> Result<(), String> {
    if let Some(path) = &entry.manifest_path {
        entry.manifest = Some(Manifest::load(path).map_err(|e| e.to_string())?);
    }
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

/// Compiles the component (`bytes`, read and hashed by the caller) and asks
/// it for its tools.
#[allow(clippy::too_many_arguments)]
async fn load_one(
    sandbox: &Arc<Sandbox>,
    budget: &MemoryBudget,
    entry: &mut PluginEntry,
    bytes: Vec<u8>,
    limits: Limits,
    grants: Arc<Grants>,
    disabled: &[String],
    namespaced: bool,
) -> Result<LoadedPlugin, String> {
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
    let reserved = budget
        .admit(&name, &limits, Wait::Load)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let report = sandbox.describe_all(&compiled, &limits, &grants, ctx).await;
    drop(reserved);
    crate::dispatch::log_guest_output(&name, None, &report.stdout, &report.stderr);
    let description = report
        .outcome
        .map_err(|e| context(LoadError::Describe(e)))?;
    let tools = &description.tools;
    for tool in disabled {
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
    let mut plugin = LoadedPlugin {
        name,
        compiled,
        limits,
        grants,
        tools: Vec::new(),
        resources: Vec::new(),
        templates: Vec::new(),
        prompts: Vec::new(),
        disabled_tools: disabled.to_vec(),
        namespaced,
        load_time: started.elapsed(),
    }
    .redescribed(description);
    plugin.load_time = started.elapsed();
    Ok(plugin)
}
