//! What becomes of a person's answers to a call's permission questions
//! (asked in the sandbox under `[policy] ask`): each is logged and audited,
//! and an "allow always" is recorded in the lock file (an origin in
//! `allowed_http` of the plugin's approval; a held directory among its
//! approved `dirs`, as `warden approve` would), from where the next load
//! grants it.

use std::path::PathBuf;
use std::sync::Arc;

use crate::mcp::dispatch::Dispatcher;
use crate::mcp::registry::LoadedPlugin;
use crate::observe::Permission;
use crate::policy::lock::LockFile;
use crate::policy::manifest::{DirGrant, HttpOrigin};

/// Where "allow always" answers are recorded, and what applies them.
#[derive(Clone)]
pub struct PermissionLock {
    /// The lock file.
    pub path: PathBuf,
    /// Called after a change was recorded (a reload, so the grant applies
    /// to the next call).
    pub changed: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for PermissionLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermissionLock")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Logs, audits and records each of `permissions`, answered in a call of
/// `tool` into `loaded`.
pub(crate) fn settle(
    dispatcher: &Dispatcher,
    tool: &str,
    loaded: &LoadedPlugin,
    permissions: &[Permission],
) {
    let plugin = loaded.name.as_str();
    let mut changed = false;
    for permission in permissions {
        let recorded = if permission.decision == "always" {
            let change = match permission.capability {
                "fs" => loaded
                    .grants
                    .asked_dirs
                    .iter()
                    .find(|a| a.dir.guest == permission.target)
                    .map(|a| Change::Dir(&a.request)),
                _ => permission.target.parse().ok().map(Change::Http),
            };
            let (note, change) = match change {
                Some(change) => record(dispatcher.permission_lock(), plugin, change),
                None => (
                    format!("not recorded: {} is not known", permission.target),
                    false,
                ),
            };
            changed |= change;
            note
        } else {
            String::new()
        };
        match dispatcher.observer() {
            Some(observer) => observer.permission(tool, plugin, permission, &recorded),
            None => tracing::info!(
                target: "warden::permission",
                tool,
                plugin,
                asked_for = %permission.target,
                decision = permission.decision,
                recorded,
                "permission decided"
            ),
        }
    }
    if changed && let Some(lock) = dispatcher.permission_lock() {
        (lock.changed)();
    }
}

/// What an "allow always" adds to the lock.
enum Change<'a> {
    Http(HttpOrigin),
    Dir(&'a DirGrant),
}

/// Records an "allow always" in the lock; what happened, and whether the
/// lock changed.
fn record(lock: Option<&PermissionLock>, plugin: &str, change: Change<'_>) -> (String, bool) {
    let Some(lock) = lock else {
        return ("not recorded: this server keeps no lock file".into(), false);
    };
    let mut added = false;
    let mut known = true;
    let updated = LockFile::update(&lock.path, |file| {
        known = file.get(plugin).is_some();
        added = match &change {
            Change::Http(origin) => file.allow_http(plugin, origin),
            Change::Dir(dir) => file.approve_dir(plugin, dir),
        };
    });
    match updated {
        Err(error) => {
            tracing::warn!(target: "warden::permission", plugin, "{error}");
            (format!("not recorded: {error}"), false)
        }
        Ok(_) if !known => (
            format!(
                "not recorded: {} has no approval for the plugin",
                lock.path.display()
            ),
            false,
        ),
        Ok(_) if !added => ("already recorded".into(), false),
        Ok(_) => (format!("recorded in {}", lock.path.display()), true),
    }
}
