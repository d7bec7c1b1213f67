//! One plugin compiled and described: its tools, resources and prompts,
//! under the describe timeout, the memory budget and the descriptor caps.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::scan::{ComponentFile, read_component};
use crate::budget::{MemoryBudget, Wait};
use crate::limits::Limits;
use crate::loading::LoadingSettings;
use crate::mcp::registry::{LoadedPlugin, PluginEntry};
use crate::policy::consent::ConsentRules;
use crate::policy::grants::Grants;
use crate::policy::lock::Definitions;
use crate::policy::operator::Concurrency;
use crate::sandbox::{
    ArtifactCache, CachedAs, CallContext, CallError, CompiledPlugin, Description, Fetched,
    LimitHit, LoadError, MakeCode, PluginCode, Sandbox,
};

/// What the operator settled for one plugin before it is compiled.
pub(super) struct Plugin {
    pub(super) limits: Limits,
    pub(super) grants: Arc<Grants>,
    pub(super) disabled: Vec<String>,
    pub(super) namespaced: bool,
    pub(super) concurrency: Concurrency,
    pub(super) consent: ConsentRules,
    pub(super) loading: LoadingSettings,
    /// The approved definitions it may serve (`[policy] definitions = "pin"`).
    pub(super) pins: Option<Arc<Definitions>>,
}

/// Where compiled components and descriptions are cached, and whether a
/// cached description may stand in for describing the plugin.
#[derive(Clone, Copy)]
pub(super) struct Caching<'a> {
    pub(super) cache: Option<&'a Arc<ArtifactCache>>,
    pub(super) descriptions: bool,
}

/// Compiles the component (hashed, and perhaps read, by the caller) and
/// asks it for its tools, under the describe timeout and the descriptor
/// caps. With a cache, a cached compiled component is mapped instead of
/// compiled, and (when `caching.descriptions`) a cached description stands
/// in for describing it, and the code is mapped only when first needed;
/// what was made is stored for next time.
pub(super) async fn load_one(
    sandbox: &Arc<Sandbox>,
    budget: &MemoryBudget,
    entry: &mut PluginEntry,
    mut file: ComponentFile,
    plugin: Plugin,
    caching: Caching<'_>,
) -> Result<LoadedPlugin, String> {
    let Plugin {
        limits,
        grants,
        disabled,
        namespaced,
        concurrency,
        consent,
        loading,
        pins,
    } = plugin;
    let describe_timeout = loading.describe_timeout;
    let started = Instant::now();
    let path = entry.component_path.clone();
    let name = entry.name.clone();
    let cached_as = caching
        .cache
        .zip(entry.sha256.clone())
        .map(|(cache, sha256)| CachedAs {
            cache: cache.clone(),
            sha256,
        });
    let describe_limits = Limits {
        timeout: limits.timeout.min(describe_timeout),
        ..limits
    };
    let listed = file.listed.take().filter(|_| caching.descriptions);
    let (code, description, compiled, described_from_cache) = if let Some((listed, cached_as)) =
        listed.zip(cached_as.clone())
    {
        let make = make_later(sandbox, cached_as, &path, &name, loading);
        let code = PluginCode::deferred(listed.exports, listed.world_version, make);
        (code, listed.description, "later", true)
    } else {
        let (compiled, compiled_now) = compile_or_fetch(sandbox, file, &cached_as, &path, loading)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let described = describe(
            sandbox,
            budget,
            &compiled,
            &describe_limits,
            &grants,
            &name,
            describe_timeout,
        )
        .await;
        if let Some(cached_as) = &cached_as {
            // Not waited for: loading goes on while it is written.
            drop(store(
                cached_as,
                &compiled,
                compiled_now,
                described.as_ref().ok(),
            ));
        }
        let description = described.map_err(|e| format!("{}: {e}", path.display()))?;
        let compiled_from = if compiled_now { "now" } else { "cache" };
        (
            PluginCode::ready(compiled),
            description,
            compiled_from,
            false,
        )
    };
    tracing::debug!(
        plugin = %name,
        compiled,
        described = if described_from_cache { "cache" } else { "now" },
        "plugin prepared"
    );
    let (description, notices) = crate::mcp::descriptor_caps::check(description)
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
        code,
        limits,
        describe_limits,
        grants,
        tools: Vec::new(),
        resources: Vec::new(),
        templates: Vec::new(),
        prompts: Vec::new(),
        disabled_tools: disabled,
        namespaced,
        concurrency,
        consent,
        load_time: started.elapsed(),
        notices: Vec::new(),
        cached_as,
        described_from_cache,
        pins,
        described: Arc::default(),
    };
    let mut plugin = plugin.redescribed(description);
    plugin.notices.splice(0..0, notices);
    plugin.load_time = started.elapsed();
    plugin.described_from_cache = described_from_cache;
    Ok(plugin)
}

/// The compiled component, from the cache when it holds it, else compiled
/// now (the `bool`) from the file's bytes (read now if the caller had not).
async fn compile_or_fetch(
    sandbox: &Arc<Sandbox>,
    file: ComponentFile,
    cached_as: &Option<CachedAs>,
    path: &Path,
    loading: LoadingSettings,
) -> Result<(CompiledPlugin, bool), String> {
    if let Some(cached_as) = cached_as.clone() {
        let mapper = sandbox.clone();
        let fetched =
            tokio::task::spawn_blocking(move || cached_as.cache.fetch(&mapper, &cached_as.sha256))
                .await
                .map_err(|e| format!("mapping panicked: {e}"))?;
        if let Fetched::Hit(cached) = fetched {
            return Ok((cached.compiled, false));
        }
    }
    let bytes = match file.bytes {
        Some(bytes) => bytes,
        None => read_component(path, &file.sha256, loading).await?,
    };
    let compiler = sandbox.clone();
    tokio::task::spawn_blocking(move || compiler.compile(&bytes).map_err(|e| e.to_string()))
        .await
        .map_err(|e| format!("compiling panicked: {e}"))?
        .map(|compiled| (compiled, true))
}

/// Makes the code of a plugin listed from the cache when it is first
/// needed: mapped from the cache, or (the cached code damaged or gone)
/// compiled from the component read again, which must still hash to what
/// was listed, and stored.
fn make_later(
    sandbox: &Arc<Sandbox>,
    cached_as: CachedAs,
    path: &Path,
    name: &str,
    loading: LoadingSettings,
) -> MakeCode {
    let (sandbox, path, name) = (sandbox.clone(), path.to_owned(), name.to_owned());
    Arc::new(move || {
        let (sandbox, cached_as, path, name) = (
            sandbox.clone(),
            cached_as.clone(),
            path.clone(),
            name.clone(),
        );
        Box::pin(async move {
            let file = ComponentFile {
                sha256: cached_as.sha256.clone(),
                bytes: None,
                listed: None,
            };
            let cache = Some(cached_as.clone());
            let (compiled, compiled_now) =
                compile_or_fetch(&sandbox, file, &cache, &path, loading).await?;
            if compiled_now {
                tracing::info!(
                    plugin = %name,
                    "the cached code was gone or damaged; compiled the plugin again"
                );
                // Stored before the code is handed out, so that describing
                // the plugin again finds the entry to add its lists to.
                let _ = store(&cached_as, &compiled, true, None).await;
            } else {
                tracing::debug!(plugin = %name, "compiled plugin mapped");
            }
            Ok(compiled)
        })
    })
}

/// Describes the plugin in an instance of its own, under the describe
/// limits and the memory budget.
async fn describe(
    sandbox: &Sandbox,
    budget: &MemoryBudget,
    compiled: &CompiledPlugin,
    describe_limits: &Limits,
    grants: &Arc<Grants>,
    name: &str,
    describe_timeout: Duration,
) -> Result<Description, String> {
    let ctx = CallContext {
        plugin: name.into(),
        tool: None,
        client: Default::default(),
        ahead: false,
    };
    let reserved = budget
        .admit(name, describe_limits, Wait::Load)
        .await
        .map_err(|e| e.to_string())?;
    let report = sandbox
        .describe_all(compiled, describe_limits, grants, ctx)
        .await;
    drop(reserved);
    crate::mcp::dispatch::log_guest_output(name, None, &report.stdout, &report.stderr);
    report.outcome.map_err(|e| {
        let hint = match e {
            CallError::Limit(LimitHit::Timeout(t)) if t == describe_timeout => {
                " (loading.describe_timeout)"
            }
            _ => "",
        };
        format!("{}{hint}", LoadError::Describe(e))
    })
}

/// Stores in the cache, off the loading path, the component compiled now
/// with its description, or a new description of a cached one; the handle
/// says when it is stored.
fn store(
    cached_as: &CachedAs,
    compiled: &CompiledPlugin,
    compiled_now: bool,
    description: Option<&Description>,
) -> tokio::task::JoinHandle<()> {
    let (cached_as, compiled, description) =
        (cached_as.clone(), compiled.clone(), description.cloned());
    let cache = cached_as.cache.clone();
    cache.spawn_write(move || {
        if compiled_now {
            let stored = cached_as
                .cache
                .store(&cached_as.sha256, &compiled, description.as_ref());
            if let Err(error) = stored {
                tracing::warn!("cannot cache a compiled plugin: {error}");
            }
        } else if let Some(description) = &description {
            cached_as.store_description(description);
        }
    })
}
