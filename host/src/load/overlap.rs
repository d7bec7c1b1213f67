//! Directories granted to more than one plugin, or containing Warden's own
//! files: `policy.overlapping_dirs` decides. A held directory that overlaps
//! one is withdrawn first: it is not asked about.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::LoadSettings;
use super::background::Running;
use crate::mcp::registry::{LoadedPlugin, PluginEntry, PluginStatus};
use crate::policy::grants::{self, Grants};
use crate::policy::manifest::DirMode;

/// Applies `policy.overlapping_dirs` to the loaded plugins: a plugin whose
/// read-write directory overlaps another granted directory (its own or
/// another plugin's) is refused, or loads with a warning.
/// A read-write directory that contains Warden's own files is always refused.
/// The grants of plugins still `loading` count as if they were loaded.
pub(super) fn refuse_overlapping_dirs(
    entries: &mut [PluginEntry],
    loading: &[Running],
    settings: &LoadSettings,
) {
    withdraw_overlapping_asked_dirs(entries, loading, settings);
    for entry in entries.iter_mut() {
        let PluginStatus::Loaded(plugin) = &entry.status else {
            continue;
        };
        let writable = plugin
            .grants
            .dirs
            .iter()
            .filter(|d| d.mode == DirMode::ReadWrite);
        let inside = writable
            .filter_map(|dir| Some((dir, grants::protected_inside(dir, &settings.protected)?)))
            .next();
        if let Some((dir, own)) = inside {
            entry.status = PluginStatus::Failed(format!(
                "{}: refused: its read-write directory {} contains {}, which belongs to Warden \
                 (a plugin that can write there could replace plugins, approve itself or \
                 rewrite the audit trail); grant it a directory that does not contain Warden's files",
                entry.component_path.display(),
                dir.host.display(),
                own.display()
            ));
        }
    }
    let mode = settings.policy.overlapping_dirs;
    let found = {
        let loaded: Vec<(&str, &Arc<Grants>)> = entries
            .iter()
            .filter_map(|e| match &e.status {
                PluginStatus::Loaded(p) => Some((e.name.as_str(), &p.grants)),
                PluginStatus::Failed(_) => None,
            })
            .collect();
        // A plugin loading a new version while its previous one serves
        // claims its directories once.
        let loading: Vec<(&str, &Arc<Grants>)> = loading
            .iter()
            .filter(|r| !loaded.iter().any(|(name, _)| *name == r.name))
            .map(|r| (r.name.as_str(), &r.grants))
            .collect();
        let loaded = [loaded, loading].concat();
        let claims: Vec<grants::DirClaim<'_>> = loaded
            .iter()
            .flat_map(|(name, grants)| {
                grants
                    .dirs
                    .iter()
                    .map(|dir| grants::DirClaim { plugin: name, dir })
            })
            .collect();
        grants::conflicts(&claims)
    };
    let mut by_writer: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for conflict in found {
        by_writer
            .entry(conflict.writer.clone())
            .or_default()
            .push(conflict.to_string());
    }
    for (writer, conflicts) in by_writer {
        let Some(entry) = entries.iter_mut().find(|e| e.name == writer) else {
            continue;
        };
        let conflicts = conflicts.join("; ");
        match mode {
            grants::OverlappingDirs::Refuse => {
                entry.status = PluginStatus::Failed(format!(
                    "{}: refused: {conflicts} (policy.overlapping_dirs = \"refuse\"; give the \
                     plugins directories that do not overlap, or set it to \"warn\")",
                    entry.component_path.display()
                ));
            }
            grants::OverlappingDirs::Warn => entry.notices.push(format!(
                "{conflicts} (allowed by policy.overlapping_dirs = \"warn\")"
            )),
        }
    }
}

/// Withdraws the held directories the person would be asked about
/// (`[policy] ask`) that overlap another directory, granted or held, of any
/// plugin where one of the two may be written, or that would let a plugin
/// write Warden's own files: each is not asked about, with a notice. A
/// request the operator has not approved never refuses a plugin, its own or
/// another.
fn withdraw_overlapping_asked_dirs(
    entries: &mut [PluginEntry],
    loading: &[Running],
    settings: &LoadSettings,
) {
    let asks = |e: &PluginEntry| matches!(&e.status, PluginStatus::Loaded(p) if !p.grants.asked_dirs.is_empty());
    if !entries.iter().any(asks) {
        return;
    }
    let withdrawn: Vec<(usize, Vec<(String, String)>)> = {
        let mut plugins: Vec<(&str, &Arc<Grants>)> = entries
            .iter()
            .filter_map(|e| match &e.status {
                PluginStatus::Loaded(p) => Some((e.name.as_str(), &p.grants)),
                PluginStatus::Failed(_) => None,
            })
            .collect();
        plugins.extend(
            loading
                .iter()
                .filter(|r| !plugins.iter().any(|(name, _)| *name == r.name))
                .map(|r| (r.name.as_str(), &r.grants))
                .collect::<Vec<_>>(),
        );
        let claims: Vec<grants::DirClaim<'_>> = plugins
            .iter()
            .flat_map(|(plugin, grants)| {
                let held = grants.asked_dirs.iter().map(|a| &a.dir);
                grants
                    .dirs
                    .iter()
                    .chain(held)
                    .map(|dir| grants::DirClaim { plugin, dir })
            })
            .collect();
        entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| {
                let PluginStatus::Loaded(plugin) = &entry.status else {
                    return None;
                };
                let found: Vec<(String, String)> = plugin
                    .grants
                    .asked_dirs
                    .iter()
                    .filter_map(|asked| {
                        let why = grants::asked_conflict(
                            &entry.name,
                            &asked.dir,
                            &claims,
                            &settings.protected,
                        )?;
                        Some((asked.dir.guest.clone(), why))
                    })
                    .collect();
                (!found.is_empty()).then_some((index, found))
            })
            .collect()
    };
    for (index, found) in withdrawn {
        let entry = &mut entries[index];
        let PluginStatus::Loaded(plugin) = &entry.status else {
            continue;
        };
        let mut grants = Grants::clone(&plugin.grants);
        grants
            .asked_dirs
            .retain(|a| !found.iter().any(|(guest, _)| *guest == a.dir.guest));
        let mut plugin = LoadedPlugin::clone(plugin);
        plugin.grants = Arc::new(grants);
        entry.status = PluginStatus::Loaded(Arc::new(plugin));
        for (guest, why) in found {
            entry
                .notices
                .push(format!("directory {guest} is not asked about: {why}"));
        }
    }
}
