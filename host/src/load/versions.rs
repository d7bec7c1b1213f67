//! The store of approved versions: every component the lock approved, with
//! its manifest and its definitions, kept under the cache directory by the
//! component's sha256. When a new file in the plugins folder changes its
//! definitions, the approved version is loaded from here and keeps serving,
//! so the new file never serves a call until `warden approve`; `warden
//! rollback` restores the version approved before the current one.
//!
//! ```text
//! CACHE_DIR/approved/versions/SHA256/component.wasm
//!                                   /manifest.toml     (when it had one)
//!                                   /definitions.json  (what `warden approve` compares)
//! CACHE_DIR/approved/history/NAME.json                 (the approvals of NAME, oldest first)
//! ```
//!
//! Content-addressed: a component is used only if its bytes still hash to
//! its name, so a damaged or altered file is refused, never run. Each file
//! is written through a temporary file and a rename. Each plugin's history
//! keeps its last [`HISTORY`] approvals; versions no history names are
//! removed. `warden cache clear` leaves the store alone.

use std::io::{self, Write as _};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::input::bounded_file::read_entry;
use crate::mcp::definitions::DefinitionSet;
use crate::policy::lock::{Approval, sha256_hex};

/// The folder of the store inside the cache directory.
const STORE: &str = "approved";
/// Approvals kept per plugin.
pub const HISTORY: usize = 10;
/// The largest manifest, definitions or history file read back.
const MAX_TEXT: u64 = 64 << 20;

/// The store of approved versions.
#[derive(Debug)]
pub struct VersionStore {
    dir: PathBuf,
    /// The largest component read back (`loading.max_component_size`).
    max_component: u64,
}

/// One approved version, read back.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    /// The component's bytes, which hash to the name they were stored under.
    pub component: Vec<u8>,
    /// The manifest approved with it, if it had one.
    pub manifest: Option<Vec<u8>>,
    /// Its definitions.
    pub definitions: Option<DefinitionSet>,
}

/// One approval in a plugin's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    approval: Approval,
}

impl VersionStore {
    /// The store inside `cache_dir`, created (readable by Warden's user
    /// only) when missing.
    pub fn open(cache_dir: &Path, max_component: u64) -> io::Result<Self> {
        let dir = cache_dir.join(STORE);
        for sub in ["versions", "history"] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir.join(sub))?;
        }
        Ok(Self { dir, max_component })
    }

    /// Where the store is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn version_dir(&self, sha256: &str) -> io::Result<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(io::Error::other(format!("`{sha256}` is not a sha256")));
        }
        Ok(self.dir.join("versions").join(sha256.to_ascii_lowercase()))
    }

    fn history_file(&self, plugin: &str) -> io::Result<PathBuf> {
        let valid = !plugin.is_empty()
            && plugin
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(io::Error::other(format!("`{plugin}` is not a plugin name")));
        }
        Ok(self.dir.join("history").join(format!("{plugin}.json")))
    }

    /// Whether the store holds the version `sha256` with its definitions.
    pub fn has(&self, sha256: &str) -> bool {
        self.version_dir(sha256)
            .is_ok_and(|dir| dir.join("definitions.json").is_file())
    }

    /// Stores the version `approval` approved for `plugin` (see
    /// [`VersionStore::put`]) and adds it to the plugin's history; one
    /// record at a time in this process, so no record's version is
    /// collected before its history names it.
    pub fn record(
        &self,
        plugin: &str,
        approval: &Approval,
        component: &[u8],
        manifest: Option<&[u8]>,
        definitions: &DefinitionSet,
    ) -> io::Result<()> {
        static RECORDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _recording = RECORDING.lock().unwrap_or_else(|e| e.into_inner());
        self.put(&approval.sha256, component, manifest, definitions)?;
        self.remember(plugin, approval)
    }

    /// Stores a version: `component` must hash to `sha256`. The component
    /// is written once; the manifest and definitions are replaced.
    pub fn put(
        &self,
        sha256: &str,
        component: &[u8],
        manifest: Option<&[u8]>,
        definitions: &DefinitionSet,
    ) -> io::Result<()> {
        if sha256_hex(component) != sha256.to_ascii_lowercase() {
            return Err(io::Error::other(
                "the component changed while it was stored",
            ));
        }
        let dir = self.version_dir(sha256)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        if !dir.join("component.wasm").is_file() {
            write_atomic(&dir, "component.wasm", component)?;
        }
        match manifest {
            Some(manifest) => write_atomic(&dir, "manifest.toml", manifest)?,
            None => match std::fs::remove_file(dir.join("manifest.toml")) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
        let json = serde_json::to_vec(definitions).map_err(io::Error::other)?;
        write_atomic(&dir, "definitions.json", &json)
    }

    /// The version `sha256`, if the store holds it whole; a component that
    /// no longer hashes to its name is an error.
    pub fn get(&self, sha256: &str) -> io::Result<Option<StoredVersion>> {
        let dir = self.version_dir(sha256)?;
        let component = match read_entry(&dir.join("component.wasm"), self.max_component) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(io::Error::other(e.to_string())),
        };
        if sha256_hex(&component) != sha256.to_ascii_lowercase() {
            return Err(io::Error::other(format!(
                "{}: the stored component does not hash to its name; it is not used",
                dir.display()
            )));
        }
        let manifest = match read_entry(&dir.join("manifest.toml"), MAX_TEXT) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(io::Error::other(e.to_string())),
        };
        Ok(Some(StoredVersion {
            component,
            manifest,
            definitions: self.definitions(sha256),
        }))
    }

    /// The definitions stored with the version `sha256`, if any parse.
    pub fn definitions(&self, sha256: &str) -> Option<DefinitionSet> {
        let dir = self.version_dir(sha256).ok()?;
        let bytes = read_entry(&dir.join("definitions.json"), MAX_TEXT).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The approvals recorded for `plugin`, oldest first (none when the
    /// history is missing or unreadable).
    pub fn history(&self, plugin: &str) -> Vec<Approval> {
        let Ok(file) = self.history_file(plugin) else {
            return Vec::new();
        };
        read_entry(&file, MAX_TEXT)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Vec<Remembered>>(&bytes).ok())
            .map(|list| list.into_iter().map(|r| r.approval).collect())
            .unwrap_or_default()
    }

    /// Adds `approval` to `plugin`'s history (replacing the newest entry
    /// when it is for the same component), keeps the last [`HISTORY`], and
    /// removes versions no history names any more.
    pub fn remember(&self, plugin: &str, approval: &Approval) -> io::Result<()> {
        let mut history = self.history(plugin);
        if history
            .last()
            .is_some_and(|last| last.sha256 == approval.sha256)
        {
            history.pop();
        }
        history.push(approval.clone());
        let excess = history.len().saturating_sub(HISTORY);
        history.drain(..excess);
        self.write_history(plugin, &history)
    }

    /// Keeps only the first `keep` approvals of `plugin`'s history (after a
    /// rollback to the one at `keep - 1`).
    pub fn truncate_history(&self, plugin: &str, keep: usize) -> io::Result<()> {
        let mut history = self.history(plugin);
        history.truncate(keep);
        self.write_history(plugin, &history)
    }

    fn write_history(&self, plugin: &str, history: &[Approval]) -> io::Result<()> {
        let file = self.history_file(plugin)?;
        let list: Vec<Remembered> = history
            .iter()
            .map(|approval| Remembered {
                approval: approval.clone(),
            })
            .collect();
        let json = serde_json::to_vec_pretty(&list).map_err(io::Error::other)?;
        let dir = file.parent().unwrap_or(&self.dir);
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        write_atomic(dir, name, &json)?;
        self.collect_garbage();
        Ok(())
    }

    /// Removes the versions that no plugin's history names.
    fn collect_garbage(&self) {
        let Ok(histories) = std::fs::read_dir(self.dir.join("history")) else {
            return;
        };
        let mut named = std::collections::BTreeSet::new();
        for file in histories.flatten() {
            let path = file.path();
            let Some(plugin) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            named.extend(self.history(plugin).into_iter().map(|a| a.sha256));
        }
        let Ok(versions) = std::fs::read_dir(self.dir.join("versions")) else {
            return;
        };
        for version in versions.flatten() {
            let name = version.file_name();
            let Some(sha256) = name.to_str() else {
                continue;
            };
            if !named.contains(sha256)
                && let Err(error) = std::fs::remove_dir_all(version.path())
            {
                tracing::warn!(
                    path = %version.path().display(),
                    "cannot remove a version from the store: {error}"
                );
            }
        }
    }
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::manifest::Capabilities;

    fn store() -> (tempfile::TempDir, VersionStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = VersionStore::open(dir.path(), 1 << 20).unwrap();
        (dir, store)
    }

    fn approval(component: &[u8]) -> Approval {
        Approval::new(sha256_hex(component), &Capabilities::default())
    }

    #[test]
    fn a_version_comes_back_whole_and_checked() {
        let (_dir, store) = store();
        let component = b"component one".to_vec();
        let sha = sha256_hex(&component);
        assert!(store.get(&sha).unwrap().is_none());
        store
            .put(
                &sha,
                &component,
                Some(b"name = \"x\""),
                &DefinitionSet::default(),
            )
            .unwrap();
        assert!(store.has(&sha));
        let back = store.get(&sha).unwrap().unwrap();
        assert_eq!(back.component, component);
        assert_eq!(back.manifest.as_deref(), Some(&b"name = \"x\""[..]));
        assert_eq!(back.definitions, Some(DefinitionSet::default()));
        // Bytes that do not hash to the name are refused, stored or read.
        assert!(
            store
                .put(&sha, b"other", None, &DefinitionSet::default())
                .is_err()
        );
        let file = store.version_dir(&sha).unwrap().join("component.wasm");
        std::fs::write(&file, b"tampered").unwrap();
        let error = store.get(&sha).unwrap_err().to_string();
        assert!(error.contains("does not hash to its name"), "{error}");
        // Names are checked before they become paths.
        assert!(store.get("../../etc").is_err());
        assert!(store.remember("../x", &approval(b"a")).is_err());
    }

    #[test]
    fn history_is_ordered_bounded_and_unnamed_versions_are_removed() {
        let (_dir, store) = store();
        let mut shas = Vec::new();
        for i in 0..(HISTORY + 2) {
            let component = format!("component {i}").into_bytes();
            let sha = sha256_hex(&component);
            store
                .put(&sha, &component, None, &DefinitionSet::default())
                .unwrap();
            store.remember("echo", &approval(&component)).unwrap();
            // The same component again replaces its entry.
            store.remember("echo", &approval(&component)).unwrap();
            shas.push(sha);
        }
        let history: Vec<String> = store
            .history("echo")
            .into_iter()
            .map(|a| a.sha256)
            .collect();
        assert_eq!(history, shas[2..]);
        assert!(!store.has(&shas[0]) && !store.has(&shas[1]));
        assert!(store.has(&shas[2]));
        store.truncate_history("echo", 1).unwrap();
        assert_eq!(store.history("echo").len(), 1);
        assert!(store.has(&shas[2]) && !store.has(&shas[3]));
    }
}
