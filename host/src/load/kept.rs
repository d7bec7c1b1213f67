//! A plugin's previous version, kept serving while its new files do not
//! load or are still compiling, as long as the settings still give it
//! exactly what it runs under.

use std::path::Path;

use super::{LoadSettings, decide};
use crate::mcp::registry::{PluginEntry, PluginStatus, Registry};

/// A plugin whose newest files failed to load (a broken replacement) keeps
/// serving the version loaded before, as long as the settings still give
/// that version exactly the limits and grants it runs under; the failure is
/// kept on the entry. A removed component is never kept.
pub(super) fn keep_serving(
    entries: &mut [PluginEntry],
    previous: &Registry,
    settings: &LoadSettings,
) {
    for i in 0..entries.len() {
        let entry = &entries[i];
        let PluginStatus::Failed(error) = &entry.status else {
            continue;
        };
        if !entry.files_at_fault {
            continue;
        }
        let error = error.clone();
        let Some(old) = still_allowed(&entry.component_path, previous, settings, entries) else {
            continue;
        };
        tracing::warn!(
            plugin = %old.name,
            error = %error,
            "the plugin's new files did not load; the previous version keeps serving"
        );
        entries[i] = PluginEntry {
            replacement_error: Some(error),
            ..old
        };
    }
}

/// The version of the component at `path` loaded before (in `previous`), if
/// it may go on serving: its file is still there, no plugin in `entries`
/// took its name, and the settings still give it exactly the limits and
/// grants it runs under.
pub(super) fn still_allowed(
    path: &Path,
    previous: &Registry,
    settings: &LoadSettings,
    entries: &[PluginEntry],
) -> Option<PluginEntry> {
    let old = previous.entry_for(path)?;
    let (PluginStatus::Loaded(loaded), Some(sha256)) = (&old.status, &old.sha256) else {
        return None;
    };
    let taken = entries
        .iter()
        .any(|e| e.name == old.name && matches!(e.status, PluginStatus::Loaded(_)));
    if taken || !path.is_file() {
        return None;
    }
    decide(old, sha256, settings)
        .is_ok_and(|d| d.matches(loaded))
        .then(|| old.clone())
}
