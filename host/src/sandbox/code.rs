//! A plugin's compiled code: at hand, or made when first needed.
//!
//! A plugin listed from the artifact cache on a warm start serves its lists
//! before its compiled code is even mapped: mapping (and checking) the code
//! is left to the first call, or to describing the plugin again once it
//! serves, whichever comes first. Should the cached code turn out damaged
//! or gone by then, the component is read again (by the loader, which
//! checks that it still hashes to what was listed) and compiled: the call
//! waits for it rather than fail.
//! What making the code came to, code or error, is kept for every later
//! call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::{CachedAs, CompiledPlugin, ExportSet, Fetched, Sandbox};

/// Reads the component again, for compiling it when its cached code is
/// gone; fails if it is no longer the one listed.
pub type Reread =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send>> + Send + Sync>;

/// A plugin's compiled code, and what is known of it without the code.
#[derive(Clone)]
pub struct PluginCode {
    exports: ExportSet,
    world_version: String,
    made: Arc<OnceCell<Result<CompiledPlugin, String>>>,
    source: Option<Arc<Source>>,
}

/// Where deferred code comes from.
struct Source {
    sandbox: Arc<Sandbox>,
    cached_as: CachedAs,
    /// The plugin's name, for the log.
    plugin: String,
    reread: Reread,
}

impl PluginCode {
    /// Code at hand.
    pub fn ready(compiled: CompiledPlugin) -> Self {
        Self {
            exports: compiled.exports(),
            world_version: compiled.world_version.clone(),
            made: Arc::new(OnceCell::new_with(Some(Ok(compiled)))),
            source: None,
        }
    }

    /// Code of `plugin` to map from `cached_as` when first needed (or,
    /// should that fail, to compile from what `reread` reads), of a
    /// component known to export `exports` and to be built against
    /// `world_version`.
    pub fn deferred(
        listed: (ExportSet, String),
        sandbox: Arc<Sandbox>,
        cached_as: CachedAs,
        plugin: String,
        reread: Reread,
    ) -> Self {
        let (exports, world_version) = listed;
        Self {
            exports,
            world_version,
            made: Arc::new(OnceCell::new()),
            source: Some(Arc::new(Source {
                sandbox,
                cached_as,
                plugin,
                reread,
            })),
        }
    }

    /// Which optional interfaces the component exports.
    pub fn exports(&self) -> ExportSet {
        self.exports
    }

    /// The version of the plugin world the component was built against.
    pub fn world_version(&self) -> &str {
        &self.world_version
    }

    /// The compiled code, made now if it was deferred; an error says why it
    /// cannot be had.
    pub async fn get(&self) -> Result<&CompiledPlugin, String> {
        let made = self
            .made
            .get_or_init(|| async {
                match &self.source {
                    Some(source) => source.make().await,
                    None => Err("the plugin has no compiled code".into()),
                }
            })
            .await;
        made.as_ref().map_err(Clone::clone)
    }
}

impl Source {
    async fn make(&self) -> Result<CompiledPlugin, String> {
        let (sandbox, cached_as) = (self.sandbox.clone(), self.cached_as.clone());
        let fetched =
            tokio::task::spawn_blocking(move || cached_as.cache.fetch(&sandbox, &cached_as.sha256))
                .await
                .map_err(|e| format!("mapping the compiled plugin panicked: {e}"))?;
        if let Fetched::Hit(cached) = fetched {
            tracing::debug!(plugin = %self.plugin, "compiled plugin mapped");
            return Ok(cached.compiled);
        }
        tracing::info!(
            plugin = %self.plugin,
            "the compiled plugin is no longer in the cache; compiling it again"
        );
        let bytes = (self.reread)().await?;
        let (sandbox, cached_as) = (self.sandbox.clone(), self.cached_as.clone());
        tokio::task::spawn_blocking(move || {
            let compiled = sandbox.compile(&bytes).map_err(|e| e.to_string())?;
            if let Err(error) = cached_as.cache.store(&cached_as.sha256, &compiled, None) {
                tracing::warn!("cannot cache a compiled plugin: {error}");
            }
            Ok(compiled)
        })
        .await
        .map_err(|e| format!("compiling panicked: {e}"))?
    }
}

impl std::fmt::Debug for PluginCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginCode")
            .field("exports", &self.exports)
            .field("world_version", &self.world_version)
            .field("made", &self.made.initialized())
            .finish_non_exhaustive()
    }
}
