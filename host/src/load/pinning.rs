//! Definitions pinned by the lock, at load (`[policy] definitions`): which
//! definitions a plugin may serve, whether a new version whose definitions
//! changed is held (and the approved version served from the store of
//! approved versions instead), and what the lock and the store record.

use std::sync::Arc;

use super::compile::{Caching, load_one};
use super::scan::ComponentFile;
use super::versions::{FolderFiles, VersionStore};
use super::{LoadSettings, decide};
use crate::mcp::definitions::{DefinitionSet, HeldUpdate, unpinned};
use crate::mcp::registry::{LoadedPlugin, PluginEntry, PluginStatus, Registry};
use crate::policy::lock::{Approval, Definitions, DefinitionsPolicy, Review, Verdict};
use crate::policy::manifest::Manifest;
use crate::sandbox::Sandbox;

/// What the lock pins for one plugin, settled before it loads.
#[derive(Debug, Clone)]
pub(super) struct Pinning {
    /// The definitions it may serve: the lock's, under `pin`.
    pub(super) pins: Option<Arc<Definitions>>,
    /// Whether definitions are pinned at all (`pin`, not `trust`).
    pin: bool,
    /// The lock's approval when the load began.
    approval: Option<Approval>,
    verdict: Verdict,
    sha256: String,
}

/// What loading a plugin leads to, once its definitions are known.
pub(super) enum AfterLoad {
    /// Serve it, recording this approval (with its definitions) if any.
    Serve(Option<Approval>),
    /// A new version whose definitions changed: serve the approved one.
    Hold(HeldUpdate),
}

impl Pinning {
    /// The pinning of the plugin `name`, whose component hashes to
    /// `sha256`, given the lock's `review` of it.
    pub(super) fn new(settings: &LoadSettings, name: &str, sha256: &str, review: &Review) -> Self {
        let approval = settings.lock.get(name).cloned();
        let policy = settings.policy.definitions_for(name);
        let pin = policy == DefinitionsPolicy::Pin;
        let pins = match policy {
            DefinitionsPolicy::Pin => approval
                .as_ref()
                .and_then(|a| a.definitions.clone())
                .map(Arc::new),
            DefinitionsPolicy::Trust => None,
        };
        Self {
            pins,
            pin,
            approval,
            verdict: review.verdict,
            sha256: sha256.to_string(),
        }
    }

    /// Decides on `plugin`, loaded: a new component whose definitions the
    /// pins do not cover is held; otherwise `to_record` (the lock's verdict)
    /// is recorded with the definitions it serves, and so are the
    /// definitions of an approved component the lock has none (or others)
    /// for, when they are not held.
    pub(super) fn after_load(
        &self,
        plugin: &LoadedPlugin,
        to_record: Option<Approval>,
    ) -> AfterLoad {
        let digests = plugin.described.digests();
        if let Some(pins) = &self.pins {
            let held = unpinned(pins, &plugin.described);
            if !held.is_empty() {
                let approved = self.approval.as_ref().map(|a| a.sha256.as_str());
                if approved != Some(self.sha256.as_str()) {
                    return AfterLoad::Hold(HeldUpdate {
                        sha256: self.sha256.clone(),
                        definitions: plugin.described.clone(),
                        held,
                    });
                }
                // The approved component itself describes something else
                // now: only what the pins cover is served; the pins stay.
                let pins = Some((**pins).clone());
                return AfterLoad::Serve(to_record.map(|a| a.with_definitions(pins)));
            }
        }
        let to_record = to_record.or_else(|| {
            let approval = self.approval.as_ref()?;
            (self.verdict == Verdict::Approved && approval.definitions.as_ref() != Some(&digests))
                .then(|| approval.clone())
        });
        AfterLoad::Serve(to_record.map(|a| a.with_definitions(Some(digests))))
    }

    /// The pins a plugin serves under once `record` (what
    /// [`Pinning::after_load`] decided to record) is in the lock: so that
    /// the next load finds it loaded under the lock's pins.
    pub(super) fn pins_once_recorded(&self, record: Option<&Approval>) -> Option<Arc<Definitions>> {
        if !self.pin {
            return None;
        }
        record
            .and_then(|a| a.definitions.clone())
            .map(Arc::new)
            .or_else(|| self.pins.clone())
    }

    /// The approved component's sha256.
    fn approved_sha256(&self) -> Option<&str> {
        self.approval.as_ref().map(|a| a.sha256.as_str())
    }
}

/// The entry that serves in place of `held_from`, a new version held for
/// its definitions: the approved version, from the store, with a notice
/// naming what is held; or, when the store cannot give it, a failure that
/// says so (the plugin then serves nothing new, and a reload keeps the
/// version that served before).
pub(super) async fn serve_approved(
    sandbox: &Arc<Sandbox>,
    settings: &LoadSettings,
    held_from: &PluginEntry,
    held: HeldUpdate,
    pinning: &Pinning,
) -> PluginEntry {
    let name = held_from.name.clone();
    let mut entry = PluginEntry::new(
        name.clone(),
        held_from.component_path.clone(),
        held_from.manifest_path.clone(),
    );
    let approved = pinning.approved_sha256().unwrap_or_default().to_string();
    let lead = format!(
        "{} (sha256 {}) changes definitions the lock approved: {}",
        held_from.component_path.display(),
        held.sha256,
        held.held.join(", ")
    );
    tracing::warn!(
        target: "warden::approval",
        plugin = %name,
        held = %crate::observe::render::escape(&held.held.join(", ")),
        sha256 = %held.sha256,
        approved = %approved,
        "a new version changes its definitions; it is held until approved"
    );
    if let Some(audit) = &settings.audit {
        audit.approval(&name, "held_definitions", &lead);
    }
    entry.held_update = Some(held);
    entry.files_at_fault = true;
    let loaded = match load_stored(sandbox, settings, &mut entry, &approved).await {
        Ok(plugin) => plugin,
        Err(error) => {
            entry.status = PluginStatus::Failed(format!(
                "{lead}; not served until `warden approve {name}`: {error}"
            ));
            return entry;
        }
    };
    entry.notices.insert(
        0,
        format!(
            "held: {lead}; the approved version (sha256 {approved}, from the store of approved \
             versions) serves until `warden approve {name}` (`--dry-run` shows the change)"
        ),
    );
    entry.status = PluginStatus::Loaded(Arc::new(loaded));
    entry
}

/// Loads the version `sha256` from the store into `entry`, as the lock and
/// the operator's settings give it.
async fn load_stored(
    sandbox: &Arc<Sandbox>,
    settings: &LoadSettings,
    entry: &mut PluginEntry,
    sha256: &str,
) -> Result<LoadedPlugin, String> {
    let store = settings.versions.clone().ok_or_else(|| {
        "there is no store of approved versions (no usable cache directory)".to_string()
    })?;
    let (plugin, wanted) = (entry.name.clone(), sha256.to_string());
    let fetched = tokio::task::spawn_blocking({
        let store = store.clone();
        move || store.get(&plugin, &wanted)
    })
    .await
    .map_err(|e| format!("reading the store panicked: {e}"))?;
    let version = fetched
        .map_err(|e| format!("the approved version cannot be read from the store: {e}"))?
        .ok_or_else(|| {
            format!(
                "the approved version (sha256 {sha256}) is not in the store of approved \
                 versions ({})",
                store.dir().display()
            )
        })?;
    entry.manifest = version
        .manifest
        .map(|bytes| Manifest::from_bytes(&bytes, &version.manifest_path))
        .transpose()
        .map_err(|e| e.to_string())?;
    if let Some(manifest) = &entry.manifest
        && manifest.name.as_ref() != entry.name
    {
        return Err(format!(
            "the stored manifest names another plugin (`{}`)",
            manifest.name.as_ref()
        ));
    }
    entry.sha256 = Some(sha256.to_string());
    let mut decided = decide(entry, sha256, settings)?;
    entry.notices.append(&mut decided.limit_notices);
    entry.notices.append(&mut decided.grant_notices);
    let plugin = decided.into_plugin(settings);
    let file = ComponentFile {
        sha256: sha256.to_string(),
        bytes: Some(version.component),
        listed: None,
    };
    let caching = Caching {
        cache: settings.cache.as_ref(),
        descriptions: false,
    };
    load_one(sandbox, &settings.budget, entry, file, plugin, caching).await
}

/// The entry held before for the same new file (`sha256` at the entry's
/// path) in `previous`, when it may go on as it is: the lock still approves
/// the version it serves, under the same settings.
pub(super) fn still_held(
    previous: Option<&Registry>,
    entry: &PluginEntry,
    sha256: &str,
    settings: &LoadSettings,
) -> Option<PluginEntry> {
    let same = previous?.entry_for(&entry.component_path)?;
    let held = same.held_update.as_ref()?;
    let (PluginStatus::Loaded(loaded), Some(served)) = (&same.status, &same.sha256) else {
        return None;
    };
    let approved = settings.lock.get(&entry.name)?;
    let unchanged = held.sha256 == sha256 && same.name == entry.name && approved.sha256 == *served;
    (unchanged && decide(same, served, settings).is_ok_and(|d| d.matches(loaded)))
        .then(|| same.clone())
}

/// Writes each recorded approval's version to the store (the component
/// read again and checked against the approval's sha256, the manifest,
/// the definitions) and its history, and fills in the store for approved
/// plugins it lacks. Failures are logged: the store serves held updates,
/// nothing else depends on it.
pub(super) fn store_versions(
    entries: &[PluginEntry],
    recorded: &std::collections::BTreeMap<String, Approval>,
    settings: &LoadSettings,
) {
    let Some(store) = &settings.versions else {
        return;
    };
    for entry in entries {
        let (PluginStatus::Loaded(plugin), Some(sha256)) = (&entry.status, &entry.sha256) else {
            continue;
        };
        let approval = match recorded.get(&entry.name) {
            Some(approval) => approval,
            None => match settings.lock.get(&entry.name) {
                Some(approval) if approval.sha256 == *sha256 && !store.has(&entry.name, sha256) => {
                    approval
                }
                _ => continue,
            },
        };
        if entry.held_update.is_some() || approval.sha256 != *sha256 {
            continue;
        }
        let kept = keep(store, entry, approval, &plugin.described, settings);
        if let Err(error) = kept {
            tracing::warn!(
                plugin = %entry.name,
                store = %store.dir().display(),
                "cannot keep the approved version in the store: {error}"
            );
        }
    }
}

fn keep(
    store: &VersionStore,
    entry: &PluginEntry,
    approval: &Approval,
    described: &DefinitionSet,
    settings: &LoadSettings,
) -> std::io::Result<()> {
    let files = FolderFiles::read(
        &entry.component_path,
        entry.manifest_path.as_deref(),
        settings.loading.max_component_size.0,
    )?;
    // The manifest must still be the one this load approved.
    if let (Some(bytes), Some(path)) = (&files.manifest, &entry.manifest_path)
        && Manifest::from_bytes(bytes, path).ok().as_ref() != entry.manifest.as_ref()
    {
        return Err(std::io::Error::other(
            "the manifest changed while it was stored",
        ));
    }
    store.record(
        &entry.name,
        approval,
        &files.component,
        files.manifest.as_deref(),
        described,
    )
}
