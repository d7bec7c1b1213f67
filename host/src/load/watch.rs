//! Watches the plugins folder, the config file and the lock file, and
//! reloads (see [`super::reload`]) once changes have settled.
//!
//! Changes are debounced: a reload starts after [`QUIET`] without a new
//! change, or [`LONGEST_WAIT`] after the first one when changes keep coming
//! (a file copied slowly). A file caught half-written fails to load like any
//! broken file, and the previous version of that plugin keeps serving until
//! the write completes and the next reload picks it up. Only writes,
//! creations, renames and removals count; reads (Warden's own, while
//! loading) never trigger a reload.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

use super::reload::Reloader;

/// How long the files must be left alone before a reload starts.
pub const QUIET: Duration = Duration::from_millis(200);
/// The longest a reload waits for changes to settle.
pub const LONGEST_WAIT: Duration = Duration::from_secs(2);

/// The files a watch reacts to.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The plugins folder: its `.wasm` and `.toml` files.
    pub plugins_dir: PathBuf,
    /// `warden.toml` (whether it exists yet or not).
    pub config: PathBuf,
    /// `warden.lock` (whether it exists yet or not).
    pub lock: PathBuf,
}

/// A running watch; stops when dropped.
pub struct Watch {
    _watcher: RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `watched` and reloading through `reloader`.
pub fn watch(reloader: Arc<Reloader>, watched: &Watched) -> notify::Result<Watch> {
    let plugins_dir = absolute(&watched.plugins_dir);
    let files = [absolute(&watched.config), absolute(&watched.lock)];
    let changed = Arc::new(Notify::new());
    let signal = changed.clone();
    let (dir, names) = (plugins_dir.clone(), files.clone());
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<Event>| match event {
            Ok(event)
                if counts(&event) && event.paths.iter().any(|p| relevant(p, &dir, &names)) =>
            {
                signal.notify_one();
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!("watching the plugins folder: {error}");
                signal.notify_one();
            }
        })?;
    let mut folders = BTreeSet::from([plugins_dir.clone()]);
    folders.extend(
        files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf)),
    );
    for folder in &folders {
        match watcher.watch(folder, RecursiveMode::NonRecursive) {
            Ok(()) => {}
            // The folder of a config or lock file that does not exist yet.
            Err(error) if folder != &plugins_dir => {
                tracing::warn!(folder = %folder.display(), "not watched: {error}");
            }
            Err(error) => return Err(error),
        }
    }
    tracing::info!(plugins_dir = %plugins_dir.display(), "watching for changes");
    let task = tokio::spawn(async move {
        loop {
            changed.notified().await;
            settle(&changed).await;
            // Errors are logged by the reload itself.
            let _ = reloader.reload("files changed").await;
        }
    });
    Ok(Watch {
        _watcher: watcher,
        task,
    })
}

/// Waits until no change has come for [`QUIET`], or [`LONGEST_WAIT`].
async fn settle(changed: &Notify) {
    let deadline = tokio::time::Instant::now() + LONGEST_WAIT;
    loop {
        let quiet = tokio::time::sleep(QUIET);
        tokio::select! {
            () = changed.notified() => {
                if tokio::time::Instant::now() >= deadline {
                    return;
                }
            }
            () = quiet => return,
        }
    }
}

/// Whether the event is a change (not a read or a metadata update).
fn counts(event: &Event) -> bool {
    match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Any => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other => false,
    }
}

/// Whether `path` is a plugin file in `dir` or one of `files`.
fn relevant(path: &Path, dir: &Path, files: &[PathBuf]) -> bool {
    if files.iter().any(|f| f == path) {
        return true;
    }
    path.parent() == Some(dir)
        && path
            .extension()
            .is_some_and(|ext| ext == "wasm" || ext == "toml")
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plugin_files_and_the_settings_files_are_relevant() {
        let dir = Path::new("/srv/plugins");
        let files = [
            PathBuf::from("/srv/warden.toml"),
            PathBuf::from("/srv/warden.lock"),
        ];
        assert!(relevant(Path::new("/srv/plugins/a.wasm"), dir, &files));
        assert!(relevant(Path::new("/srv/plugins/a.toml"), dir, &files));
        assert!(relevant(Path::new("/srv/warden.lock"), dir, &files));
        assert!(!relevant(
            Path::new("/srv/plugins/.a.toml.swp"),
            dir,
            &files
        ));
        assert!(!relevant(Path::new("/srv/plugins/sub/a.wasm"), dir, &files));
        assert!(!relevant(Path::new("/srv/other.toml"), dir, &files));
    }

    #[test]
    fn reads_do_not_count() {
        let event = |kind| Event::new(kind);
        assert!(!counts(&event(EventKind::Access(AccessKind::Open(
            AccessMode::Read
        )))));
        assert!(!counts(&event(EventKind::Access(AccessKind::Close(
            AccessMode::Read
        )))));
        assert!(counts(&event(EventKind::Access(AccessKind::Close(
            AccessMode::Write
        )))));
        assert!(counts(&event(EventKind::Create(
            notify::event::CreateKind::File
        ))));
        assert!(counts(&event(EventKind::Modify(ModifyKind::Name(
            notify::event::RenameMode::To
        )))));
    }
}
