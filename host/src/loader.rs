//! Loads a plugins folder: each `NAME.wasm` with its optional `NAME.toml`
//! manifest becomes a [`PluginEntry`], loaded or failed with the cause. One bad
//! plugin never stops the others: every failure is confined to its entry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use crate::config::OperatorPolicy;
use crate::grants::{self, Grants};
use crate::limits::{LimitBounds, Limits};
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
}

/// Loads every plugin in `dir`, concurrently. Fails only if the folder itself
/// cannot be read.
pub async fn load_dir(
    sandbox: &Arc<Sandbox>,
    dir: &Path,
    settings: &LoadSettings,
) -> std::io::Result<Vec<PluginEntry>> {
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
        let disabled = narrowing
            .map(|p| p.disabled_tools.clone())
            .unwrap_or_default();
        let requested = entry
            .manifest
            .as_ref()
            .map(|m| m.capabilities.clone())
            .unwrap_or_default();
        let lookup_env = |name: &str| std::env::var(name).ok();
        let grants = match grants::resolve(
            &requested,
            &settings.policy,
            &entry.name,
            &settings.workspace_root,
            &lookup_env,
        ) {
            Ok((grants, notices)) => {
                entry.notices.extend(notices);
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
        jobs.spawn(async move {
            entry.status = match load_one(&sandbox, &mut entry, limits, grants, &disabled).await {
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

/// Compiles the component and asks it for its tools.
async fn load_one(
    sandbox: &Arc<Sandbox>,
    entry: &mut PluginEntry,
    limits: Limits,
    grants: Arc<Grants>,
    disabled: &[String],
) -> Result<LoadedPlugin, String> {
    let started = Instant::now();
    let path = entry.component_path.clone();
    let name = entry.name.clone();
    let context = |e: LoadError| format!("{}: {e}", path.display());
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| context(LoadError::Io(e)))?;
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
    let report = sandbox.describe(&compiled, &limits, &grants, ctx).await;
    crate::dispatch::log_guest_output(&name, None, &report.stdout, &report.stderr);
    let mut tools = report
        .outcome
        .map_err(|e| context(LoadError::Describe(e)))?;
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
    tools.retain(|tool| !disabled.contains(&tool.name));
    Ok(LoadedPlugin {
        name,
        compiled,
        limits,
        grants,
        tools,
        load_time: started.elapsed(),
    })
}
