//! Plugins still compiling while the server already answers.
//!
//! A load waits for its plugins only up to [`PATIENCE`], extended by
//! [`ARRIVAL_GAP`] after each plugin that arrives (up to [`MOST_PATIENCE`]):
//! plugins from the compile cache arrive a few milliseconds apart, a cold
//! compile takes hundreds. Plugins not ready by then go on compiling and
//! describing here, in the background; the load
//! returns without them, and the server serves what is ready. Each one that
//! finishes is parked in [`Background`] and the server is asked to reload
//! ([`Background::on_finished`]); that reload adopts the finished plugin when
//! its component, limits and grants are still the ones it was loaded with
//! (else it loads it anew), and publishes it with `list_changed`.
//!
//! While anything is loading here (or a reload that will publish it is
//! under way), [`Background::busy`] is true: a call to a tool the registry
//! does not have yet waits for it instead of failing (see
//! `Dispatcher::call`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::mcp::registry::PluginEntry;
use crate::policy::grants::Grants;

/// How long a load waits for its first plugins before serving without the
/// ones still compiling.
pub const PATIENCE: Duration = Duration::from_millis(60);
/// While plugins keep arriving (from the compile cache, each within a few
/// milliseconds), a load waits this much longer after each one...
pub const ARRIVAL_GAP: Duration = Duration::from_millis(40);
/// ...but never longer than this in all.
pub const MOST_PATIENCE: Duration = Duration::from_millis(400);

/// A plugin loading in the background.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    /// Its name, as settled.
    pub name: String,
    /// The sha256 of the component being loaded.
    pub sha256: String,
    /// The grants it will have: counted when another plugin's directories
    /// are checked for overlaps, before it is ready.
    pub grants: Arc<Grants>,
}

/// What is loading in the background, shared by the loads of one server.
pub struct Background {
    running: Mutex<BTreeMap<PathBuf, Running>>,
    /// Plugins that finished loading (or failing) there, not yet published.
    finished: Mutex<BTreeMap<PathBuf, PluginEntry>>,
    /// Reloads under way or asked for; they publish what finished.
    publishing: Mutex<u32>,
    /// Bumped whenever any of the above changes.
    changed: watch::Sender<u64>,
    on_finished: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("loading", &self.loading())
            .finish_non_exhaustive()
    }
}

impl Default for Background {
    fn default() -> Self {
        Self {
            running: Mutex::default(),
            finished: Mutex::default(),
            publishing: Mutex::new(0),
            changed: watch::Sender::new(0),
            on_finished: OnceLock::new(),
        }
    }
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Background {
    /// Sets what to do when a plugin finishes (ask for a reload). Only the
    /// first call counts.
    pub fn on_finished(&self, f: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_finished.set(Box::new(f));
    }

    /// The names of the plugins loading in the background or finished and
    /// not yet published.
    pub fn loading(&self) -> Vec<String> {
        let mut names: Vec<String> = locked(&self.running)
            .values()
            .map(|r| r.name.clone())
            .chain(locked(&self.finished).values().map(|e| e.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether a plugin is loading, or finished and waiting to be published.
    pub fn busy(&self) -> bool {
        !locked(&self.running).is_empty()
            || !locked(&self.finished).is_empty()
            || *locked(&self.publishing) > 0
    }

    /// A receiver that sees every change of [`Background::busy`].
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A reload that will publish what finished is starting; the returned
    /// guard ends it.
    pub fn publishing(self: &Arc<Self>) -> Publishing {
        *locked(&self.publishing) += 1;
        self.bump();
        Publishing(self.clone())
    }

    /// The plugin at `path` if it is loading with component `sha256`.
    pub(crate) fn running(&self, path: &Path, sha256: &str) -> Option<Running> {
        locked(&self.running)
            .get(path)
            .filter(|r| r.sha256 == sha256)
            .cloned()
    }

    /// Every plugin loading, with its grants.
    pub(crate) fn all_running(&self) -> Vec<Running> {
        locked(&self.running).values().cloned().collect()
    }

    /// Records that the plugin at `path` goes on loading in the background.
    pub(crate) fn started(&self, path: PathBuf, running: Running) {
        locked(&self.running).insert(path, running);
        self.bump();
    }

    /// Parks a plugin that finished loading and asks for it to be published.
    pub(crate) fn finish(&self, finished: PluginEntry) {
        let path = finished.component_path.clone();
        let sha256 = finished.file_sha256().map(str::to_string);
        {
            let mut running = locked(&self.running);
            if running.get(&path).map(|r| Some(&r.sha256)) == Some(sha256.as_ref()) {
                running.remove(&path);
            }
            locked(&self.finished).insert(path, finished);
        }
        self.bump();
        if let Some(f) = self.on_finished.get() {
            f();
        }
    }

    /// Takes the finished plugin at `path` if it was loaded from component
    /// `sha256`.
    pub(crate) fn take_finished(&self, path: &Path, sha256: &str) -> Option<PluginEntry> {
        let mut finished = locked(&self.finished);
        if finished.get(path)?.file_sha256() != Some(sha256) {
            return None;
        }
        let taken = finished.remove(path);
        drop(finished);
        self.bump();
        taken
    }

    /// Drops finished plugins whose files are gone or were replaced since
    /// (`current` holds the component sha256 of every file in the folder).
    pub(crate) fn forget_stale(&self, current: &BTreeMap<PathBuf, String>) {
        locked(&self.finished)
            .retain(|path, e| current.get(path).map(String::as_str) == e.file_sha256());
        self.bump();
    }
}

impl crate::mcp::dispatch::PendingPlugins for Background {
    fn busy(&self) -> bool {
        Background::busy(self)
    }

    fn watch(&self) -> watch::Receiver<u64> {
        Background::watch(self)
    }

    fn loading(&self) -> Vec<String> {
        Background::loading(self)
    }
}

/// A reload publishing what finished in the background; see
/// [`Background::publishing`].
#[derive(Debug)]
pub struct Publishing(Arc<Background>);

impl Drop for Publishing {
    fn drop(&mut self) {
        let mut publishing = locked(&self.0.publishing);
        *publishing = publishing.saturating_sub(1);
        drop(publishing);
        self.0.bump();
    }
}
