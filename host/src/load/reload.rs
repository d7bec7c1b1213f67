//! Loading the plugins folder again while serving: after a change to the
//! folder, `warden.toml` or `warden.lock` (see [`super::watch`]), on SIGHUP,
//! or when asked.
//!
//! A reload reads the settings and the folder again and swaps in a new
//! registry. Plugins whose component, limits and grants did not change keep
//! their loaded version; a broken replacement leaves the previous version
//! serving (see [`PluginEntry::replacement_error`]); calls in flight finish
//! on the version they started on. Clients hear `list_changed` only for the
//! lists they see differently.

use std::path::PathBuf;
use std::sync::Arc;

use super::background::Background;
use super::{LoadSettings, reload_dir};
use crate::mcp::announce::Changes;
use crate::mcp::dispatch::Dispatcher;
use crate::mcp::registry::{PluginEntry, PluginStatus, Registry};

/// Reads the settings again: the config and lock files as they are now.
pub type SettingsSource = Box<dyn Fn() -> Result<LoadSettings, String> + Send + Sync>;

/// Reloads one plugins folder into one dispatcher.
pub struct Reloader {
    dispatcher: Arc<Dispatcher>,
    dir: PathBuf,
    settings: SettingsSource,
    /// Plugins loading in the background, which reloads publish.
    background: Arc<Background>,
    /// One reload at a time; a reload asked for while one runs waits for it.
    running: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What a reload did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Plugins serving after it.
    pub loaded: usize,
    /// Plugins that failed (not serving).
    pub failed: usize,
    /// Plugins whose newest files failed while their previous version serves.
    pub kept_previous: usize,
}

impl Reloader {
    /// A reloader of `dir` into `dispatcher`, reading its settings from
    /// `settings` each time, and publishing what finishes in `background`.
    pub fn new(
        dispatcher: Arc<Dispatcher>,
        dir: PathBuf,
        settings: SettingsSource,
        background: Arc<Background>,
    ) -> Self {
        Self {
            dispatcher,
            dir,
            settings,
            background,
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// Loads the folder again and swaps the result in. Settings that do not
    /// parse, or a folder that cannot be read, change nothing (the error is
    /// logged and returned).
    pub async fn reload(&self, why: &str) -> Result<Reloaded, String> {
        let _publishing = self.background.publishing();
        let _one = self.running.lock().await;
        tracing::info!(reason = why, "reloading the plugins folder");
        let settings = (self.settings)().map_err(|error| {
            tracing::error!(
                error = %error,
                "cannot reload: the settings do not load; the plugins stay as they were"
            );
            crate::observe::metrics::reload_failed();
            error
        })?;
        // Plugins announcing a change wait for this swap, so that neither
        // undoes the other.
        let _swap = self.dispatcher.refresh_lock().await;
        let old = self.dispatcher.registry();
        let entries = reload_dir(
            self.dispatcher.sandbox(),
            &self.dir,
            &settings,
            &old,
            Some(&self.background),
        )
        .await
        .map_err(|e| {
            let error = format!("cannot read the plugins folder {}: {e}", self.dir.display());
            tracing::error!("cannot reload: {error}; the plugins stay as they were");
            crate::observe::metrics::reload_failed();
            error
        })?;
        let new = Registry::rebuilt(entries, &old);
        let changes = Changes::between(&old, &new);
        let reloaded = summary(new.plugins());
        self.dispatcher.replace_registry(new);
        crate::observe::metrics::plugins(reloaded.loaded, reloaded.failed);
        crate::observe::metrics::plugins_kept_previous(reloaded.kept_previous);
        tracing::info!(
            loaded = reloaded.loaded,
            failed = reloaded.failed,
            kept_previous = reloaded.kept_previous,
            tools = changes.tools,
            prompts = changes.prompts,
            resources = changes.resources,
            "plugins folder reloaded"
        );
        drop(_swap);
        if changes.any() {
            self.dispatcher.announcer().lists_changed(changes).await;
        }
        Ok(reloaded)
    }
}

fn summary(plugins: &[PluginEntry]) -> Reloaded {
    let mut reloaded = Reloaded::default();
    for entry in plugins {
        match entry.status {
            PluginStatus::Loaded(_) => reloaded.loaded += 1,
            PluginStatus::Failed(_) => reloaded.failed += 1,
        }
        if entry.replacement_error.is_some() {
            reloaded.kept_previous += 1;
        }
    }
    reloaded
}
