//! A plugin's compiled code: at hand, or made when first needed.
//!
//! A plugin listed from the artifact cache on a warm start serves its lists
//! before its compiled code is even mapped: making the code (the loader maps
//! it from the cache, or compiles the component again should the cached
//! code turn out damaged or gone) is left to the first call, or to
//! describing the plugin again once it serves, whichever comes first; that
//! call waits for it rather than fail. What making the code came to, code
//! or error, is kept for every later call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::{CompiledPlugin, ExportSet};

/// Makes a plugin's compiled code when it is first needed.
pub type MakeCode = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<CompiledPlugin, String>> + Send>> + Send + Sync,
>;

/// A plugin's compiled code, and what is known of it without the code.
#[derive(Clone)]
pub struct PluginCode {
    exports: ExportSet,
    world_version: String,
    made: Arc<OnceCell<Result<CompiledPlugin, String>>>,
    make: Option<MakeCode>,
}

impl PluginCode {
    /// Code at hand.
    pub fn ready(compiled: CompiledPlugin) -> Self {
        Self {
            exports: compiled.exports(),
            world_version: compiled.world_version.clone(),
            made: Arc::new(OnceCell::new_with(Some(Ok(compiled)))),
            make: None,
        }
    }

    /// Code that `make` makes when first needed, of a component known to
    /// export `exports` and to be built against `world_version`.
    pub fn deferred(exports: ExportSet, world_version: String, make: MakeCode) -> Self {
        Self {
            exports,
            world_version,
            made: Arc::new(OnceCell::new()),
            make: Some(make),
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
                match &self.make {
                    Some(make) => make().await,
                    None => Err("the plugin has no compiled code".into()),
                }
            })
            .await;
        made.as_ref().map_err(Clone::clone)
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
