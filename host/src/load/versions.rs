//! The store of approved versions: every component the lock approved, with
//! its manifest and its definitions, kept under the cache directory by the
//! component's sha256. When a new file in the plugins folder changes its
//! definitions, the approved version is loaded from here and keeps serving,
//! so the new file never serves a call until `warden approve`; `warden
//! rollback` restores the version approved before the current one.
//!
//! ```text
//! CACHE_DIR/approved/versions/SHA256/component.wasm
//!                                   /NAME.manifest.toml     (when it had one)
//!                                   /NAME.definitions.json  (what `warden approve` compares)
//! CACHE_DIR/approved/history/LOCK/NAME.json            (the approvals of NAME, oldest first)
//! ```
//!
//! Content-addressed: a component is used only if its bytes still hash to
//! its name, so a damaged or altered file is refused, never run. Each file
//! is written through a temporary file and a rename. Histories are kept per
//! lock file (`LOCK` is a hash of its path), so Wardens that share a cache
//! directory never mix their plugins' histories. Each history keeps its
//! last [`HISTORY`] approvals; a history whose lock file is gone is
//! removed, and so are versions no history names (after [`GRACE`], so a
//! version another process has just stored is never taken before its
//! history names it). `warden cache clear` leaves the store alone.

use std::io::{self, Write as _};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::input::bounded_file::read_entry;
use crate::mcp::definitions::DefinitionSet;
use crate::policy::lock::{Approval, sha256_hex};

/// The folder of the store inside the cache directory.
pub const STORE: &str = "approved";
/// Approvals kept per plugin.
pub const HISTORY: usize = 10;
/// The largest manifest, definitions or history file read back.
const MAX_TEXT: u64 = 64 << 20;
/// How old a version no history names must be before it is removed.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The store of approved versions.
#[derive(Debug)]
pub struct VersionStore {
    dir: PathBuf,
    /// The folder of this lock file's histories.
    histories: PathBuf,
    /// The lock file, recorded in each history.
    lock: PathBuf,
    /// The largest component read back (`loading.max_component_size`).
    max_component: u64,
}

/// The component file of each version.
const COMPONENT: &str = "component.wasm";

/// The files of one plugin's version.
struct VersionFiles {
    dir: PathBuf,
    component: PathBuf,
    manifest: PathBuf,
    definitions: PathBuf,
}

/// `plugin`, if it is a plugin name (so it can name a file).
fn checked_name(plugin: &str) -> io::Result<&str> {
    let valid = !plugin.is_empty()
        && plugin
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(plugin)
    } else {
        Err(io::Error::other(format!("`{plugin}` is not a plugin name")))
    }
}

/// One approved version, read back.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    /// The component's bytes, which hash to the name they were stored under.
    pub component: Vec<u8>,
    /// The manifest approved with it, if it had one.
    pub manifest: Option<Vec<u8>>,
    /// Where that manifest is kept (for errors).
    pub manifest_path: PathBuf,
    /// Its definitions.
    pub definitions: Option<DefinitionSet>,
}

/// A plugin's history as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct History {
    /// The lock file the approvals were recorded in.
    lock: PathBuf,
    /// The approvals, oldest first.
    approvals: Vec<Approval>,
}

impl VersionStore {
    /// The store inside `cache_dir`, created (readable by Warden's user
    /// only) when missing, keeping the histories of the approvals in the
    /// lock file `lock`.
    pub fn open(cache_dir: &Path, max_component: u64, lock: &Path) -> io::Result<Self> {
        let dir = cache_dir.join(STORE);
        let lock = std::path::absolute(lock)?;
        let scope = &sha256_hex(lock.as_os_str().as_encoded_bytes())[..16];
        let histories = dir.join("history").join(scope);
        for sub in [dir.join("versions"), histories.clone()] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(sub)?;
        }
        Ok(Self {
            dir,
            histories,
            lock,
            max_component,
        })
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
        Ok(self
            .histories
            .join(format!("{}.json", checked_name(plugin)?)))
    }

    /// Whether the store holds the version `sha256` of `plugin`, with its
    /// definitions.
    pub fn has(&self, plugin: &str, sha256: &str) -> bool {
        self.files(plugin, sha256)
            .is_ok_and(|f| f.definitions.is_file() && f.component.is_file())
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
        self.put(plugin, &approval.sha256, component, manifest, definitions)?;
        self.remember(plugin, approval)
    }

    /// Stores the version `sha256` of `plugin`: `component` must hash to
    /// `sha256`. The component is shared by every plugin that uses it and
    /// written when missing or damaged; the plugin's manifest and
    /// definitions are its own, and replaced.
    pub fn put(
        &self,
        plugin: &str,
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
        let files = self.files(plugin, sha256)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&files.dir)?;
        let intact = read_entry(&files.component, self.max_component)
            .is_ok_and(|bytes| sha256_hex(&bytes) == sha256.to_ascii_lowercase());
        if !intact {
            write_atomic(&files.component, component)?;
        }
        match manifest {
            Some(manifest) => write_atomic(&files.manifest, manifest)?,
            None => match std::fs::remove_file(&files.manifest) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
        let json = serde_json::to_vec(definitions).map_err(io::Error::other)?;
        write_atomic(&files.definitions, &json)
    }

    /// The version `sha256` of `plugin`, if the store holds it; a component
    /// that no longer hashes to its name is an error.
    pub fn get(&self, plugin: &str, sha256: &str) -> io::Result<Option<StoredVersion>> {
        let files = self.files(plugin, sha256)?;
        let component = match read_entry(&files.component, self.max_component) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(io::Error::other(e.to_string())),
        };
        if sha256_hex(&component) != sha256.to_ascii_lowercase() {
            return Err(io::Error::other(format!(
                "{}: the stored component does not hash to its name; it is not used",
                files.component.display()
            )));
        }
        let manifest = match read_entry(&files.manifest, MAX_TEXT) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(io::Error::other(e.to_string())),
        };
        Ok(Some(StoredVersion {
            component,
            manifest,
            manifest_path: files.manifest,
            definitions: self.definitions(plugin, sha256),
        }))
    }

    /// The definitions stored with the version `sha256` of `plugin`, if
    /// they parse.
    pub fn definitions(&self, plugin: &str, sha256: &str) -> Option<DefinitionSet> {
        let files = self.files(plugin, sha256).ok()?;
        let bytes = read_entry(&files.definitions, MAX_TEXT).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Where the version `sha256` of `plugin` is kept.
    fn files(&self, plugin: &str, sha256: &str) -> io::Result<VersionFiles> {
        let dir = self.version_dir(sha256)?;
        let plugin = checked_name(plugin)?;
        Ok(VersionFiles {
            component: dir.join(COMPONENT),
            manifest: dir.join(format!("{plugin}.manifest.toml")),
            definitions: dir.join(format!("{plugin}.definitions.json")),
            dir,
        })
    }

    /// The approvals recorded for `plugin`, oldest first (none when the
    /// history is missing or unreadable).
    pub fn history(&self, plugin: &str) -> Vec<Approval> {
        let Ok(file) = self.history_file(plugin) else {
            return Vec::new();
        };
        read_history(&file)
            .map(|history| history.approvals)
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
        let history = History {
            lock: self.lock.clone(),
            approvals: history.to_vec(),
        };
        let json = serde_json::to_vec_pretty(&history).map_err(io::Error::other)?;
        write_atomic(&file, &json)?;
        self.collect_garbage(GRACE);
        Ok(())
    }

    /// Removes the histories whose lock file is gone, then the versions
    /// older than `grace` that no history names.
    fn collect_garbage(&self, grace: std::time::Duration) {
        let mut named = std::collections::BTreeSet::new();
        let scopes = std::fs::read_dir(self.dir.join("history"));
        for scope in scopes.into_iter().flatten().flatten() {
            for file in std::fs::read_dir(scope.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let Some(history) = read_history(&file.path()) else {
                    continue;
                };
                if !history.lock.exists() {
                    remove(&file.path());
                    continue;
                }
                named.extend(history.approvals.into_iter().map(|a| a.sha256));
            }
        }
        let Ok(versions) = std::fs::read_dir(self.dir.join("versions")) else {
            return;
        };
        for version in versions.flatten() {
            let name = version.file_name();
            let Some(sha256) = name.to_str() else {
                continue;
            };
            let old = version
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= grace);
            if old
                && !named.contains(sha256)
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

/// A history file, if it reads and parses.
fn read_history(file: &Path) -> Option<History> {
    let bytes = read_entry(file, MAX_TEXT).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Removes a file, logging a failure.
fn remove(file: &Path) {
    if let Err(error) = std::fs::remove_file(file) {
        tracing::warn!(path = %file.display(), "cannot remove a file from the store: {error}");
    }
}

/// Writes `bytes` over `path` through a temporary file beside it and a
/// rename, so a reader (or a server watching the folder) never sees half a
/// file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A plugin's files as they are in its folder now.
#[derive(Debug)]
pub struct FolderFiles {
    /// The component's bytes.
    pub component: Vec<u8>,
    /// The manifest's bytes, when it has one.
    pub manifest: Option<Vec<u8>>,
}

impl FolderFiles {
    /// Reads the component at `component` (at most `max_component` bytes)
    /// and the manifest at `manifest`, as entries of the plugins folder;
    /// an error names the file.
    pub fn read(component: &Path, manifest: Option<&Path>, max_component: u64) -> io::Result<Self> {
        let read = |path: &Path, limit| {
            read_entry(path, limit)
                .map_err(|e| io::Error::other(format!("cannot read {}: {e}", path.display())))
        };
        Ok(Self {
            component: read(component, max_component)?,
            manifest: manifest
                .map(|path| read(path, crate::input::bounded_file::TEXT_LIMIT))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::manifest::Capabilities;

    fn store() -> (tempfile::TempDir, VersionStore) {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("warden.lock");
        std::fs::write(&lock, "version = 1\n").unwrap();
        let store = VersionStore::open(dir.path(), 1 << 20, &lock).unwrap();
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
        assert!(store.get("echo", &sha).unwrap().is_none());
        store
            .put(
                "echo",
                &sha,
                &component,
                Some(b"name = \"x\""),
                &DefinitionSet::default(),
            )
            .unwrap();
        assert!(store.has("echo", &sha));
        let back = store.get("echo", &sha).unwrap().unwrap();
        assert_eq!(back.component, component);
        assert_eq!(back.manifest.as_deref(), Some(&b"name = \"x\""[..]));
        assert_eq!(back.definitions, Some(DefinitionSet::default()));
        // Bytes that do not hash to the name are refused, stored or read.
        assert!(
            store
                .put("echo", &sha, b"other", None, &DefinitionSet::default())
                .is_err()
        );
        let file = store.version_dir(&sha).unwrap().join("component.wasm");
        std::fs::write(&file, b"tampered").unwrap();
        let error = store.get("echo", &sha).unwrap_err().to_string();
        assert!(error.contains("does not hash to its name"), "{error}");
        // Stored again, a damaged component is repaired; another plugin of
        // the same component keeps a manifest of its own.
        store
            .put("echo", &sha, &component, None, &DefinitionSet::default())
            .unwrap();
        store
            .put(
                "other",
                &sha,
                &component,
                Some(b"name = \"other\""),
                &DefinitionSet::default(),
            )
            .unwrap();
        let echo = store.get("echo", &sha).unwrap().unwrap();
        assert_eq!(echo.component, component);
        assert!(echo.manifest.is_none());
        let other = store.get("other", &sha).unwrap().unwrap();
        assert_eq!(other.manifest.as_deref(), Some(&b"name = \"other\""[..]));
        // Names are checked before they become paths.
        assert!(store.get("echo", "../../etc").is_err());
        assert!(store.get("../x", &sha).is_err());
        assert!(store.remember("../x", &approval(b"a")).is_err());
    }

    #[test]
    fn history_is_ordered_bounded_and_unnamed_versions_are_removed() {
        let (dir, store) = store();
        let mut shas = Vec::new();
        for i in 0..(HISTORY + 2) {
            let component = format!("component {i}").into_bytes();
            let sha = sha256_hex(&component);
            store
                .record(
                    "echo",
                    &approval(&component),
                    &component,
                    None,
                    &DefinitionSet::default(),
                )
                .unwrap();
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
        // Versions no history names go only after the grace period.
        assert!(store.has("echo", &shas[0]));
        store.collect_garbage(std::time::Duration::ZERO);
        assert!(!store.has("echo", &shas[0]) && !store.has("echo", &shas[1]));
        assert!(store.has("echo", &shas[2]));
        store.truncate_history("echo", 1).unwrap();
        assert_eq!(store.history("echo").len(), 1);
        store.collect_garbage(std::time::Duration::ZERO);
        assert!(store.has("echo", &shas[2]) && !store.has("echo", &shas[3]));

        // Another lock file has histories of its own.
        let other_lock = dir.path().join("other.lock");
        std::fs::write(&other_lock, "version = 1\n").unwrap();
        let other = VersionStore::open(dir.path(), 1 << 20, &other_lock).unwrap();
        assert!(other.history("echo").is_empty());
        other.remember("echo", &approval(b"component 5")).unwrap();
        assert_eq!(store.history("echo").len(), 1);
        // A history whose lock file is gone is removed, with what only it named.
        std::fs::remove_file(&other_lock).unwrap();
        store.collect_garbage(std::time::Duration::ZERO);
        assert!(!other.history_file("echo").unwrap().exists());
        assert!(store.has("echo", &shas[2]));
    }
}
