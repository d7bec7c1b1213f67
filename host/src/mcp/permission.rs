//! What becomes of a person's answers to a call's permission questions
//! (asked in the sandbox's HTTP hook under `[policy] ask`): each is logged
//! and audited, and an "allow always" is recorded in the lock file
//! (`allowed_http` of the plugin's approval), from where the next load
//! grants it.

use std::path::PathBuf;
use std::sync::Arc;

use crate::mcp::dispatch::Dispatcher;
use crate::observe::Permission;
use crate::policy::lock::LockFile;
use crate::policy::manifest::HttpOrigin;

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
/// `tool` into `plugin`.
pub(crate) fn settle(
    dispatcher: &Dispatcher,
    tool: &str,
    plugin: &str,
    permissions: &[Permission],
) {
    let mut changed = false;
    for permission in permissions {
        let recorded = if permission.decision == "always" {
            let (note, change) = record(dispatcher.permission_lock(), plugin, permission);
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
                target_origin = %permission.target,
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

/// Records an "allow always" in the lock; what happened, and whether the
/// lock changed.
fn record(lock: Option<&PermissionLock>, plugin: &str, permission: &Permission) -> (String, bool) {
    let Some(lock) = lock else {
        return ("not recorded: this server keeps no lock file".into(), false);
    };
    let origin: HttpOrigin = match permission.target.parse() {
        Ok(origin) => origin,
        Err(error) => return (format!("not recorded: {error}"), false),
    };
    let mut added = false;
    let mut known = true;
    let updated = LockFile::update(&lock.path, |file| {
        known = file.get(plugin).is_some();
        added = file.allow_http(plugin, &origin);
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
