//! The plugins folder: which components and manifests it holds, each read
//! under a size cap and a deadline, and each plugin's name settled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::input::bounded_file::{ReadError, entry_stamp, read_entry, read_entry_stamped};
use crate::limits::HumanDuration;
use crate::loading::LoadingSettings;
use crate::mcp::registry::PluginEntry;
use crate::policy::lock::sha256_hex;
use crate::policy::manifest::{Manifest, PluginName};
use crate::sandbox::{ArtifactCache, Listed};

/// Folder entries read at the same time.
pub(super) const CONCURRENT_READS: usize = 16;

/// Files by stem: `NAME.wasm` components and `NAME.toml` manifests.
pub(super) type Files = BTreeMap<String, PathBuf>;

/// Finds the components and manifests in `dir`.
pub(super) fn scan(dir: &Path) -> std::io::Result<(Files, Files)> {
    let mut components = BTreeMap::new();
    let mut manifests = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("wasm") => {
                components.insert(stem, path);
            }
            Some("toml") => {
                manifests.insert(stem, path);
            }
            _ => {}
        }
    }
    Ok((components, manifests))
}

/// A component in the plugins folder, with its manifest read but nothing
/// compiled: what `warden approve` needs.
#[derive(Debug)]
pub struct FoundPlugin {
    /// The plugin's name (from the manifest, else the file name).
    pub name: String,
    /// The `.wasm` file.
    pub component_path: PathBuf,
    /// The manifest, when there is one.
    pub manifest: Option<Manifest>,
}

/// Every component in `dir` with its manifest; a plugin whose manifest or
/// name is broken is an `Err` with the reason.
pub fn find_plugins(dir: &Path) -> std::io::Result<Vec<Result<FoundPlugin, String>>> {
    let (components, mut manifests) = scan(dir)?;
    let mut names = BTreeMap::new();
    let mut found = Vec::new();
    for (stem, component_path) in components {
        let mut entry = PluginEntry::new(stem.clone(), component_path, manifests.remove(&stem));
        let manifest = read_manifest(entry.manifest_path.as_deref());
        found.push(
            prepare(&mut entry, &stem, &mut names, manifest).map(|()| FoundPlugin {
                name: entry.name,
                component_path: entry.component_path,
                manifest: entry.manifest,
            }),
        );
    }
    Ok(found)
}

/// A component file: its sha256, and its bytes when they had to be read to
/// hash it (not when the digest was remembered from an earlier read).
pub(crate) struct ComponentFile {
    /// The sha256 of the content.
    pub(crate) sha256: String,
    /// The content, if it was read.
    pub(crate) bytes: Option<Vec<u8>>,
    /// What the artifact cache lists for it, when asked for.
    pub(crate) listed: Option<Listed>,
}

/// The artifact cache, and whether to read what it lists for each
/// component.
pub(super) type Caching = Option<(Arc<ArtifactCache>, bool)>;

/// A plugin's manifest, parsed (`None` without one), and its component, or
/// why each could not be read.
pub(super) type PluginFiles = (
    Result<Option<Manifest>, String>,
    Result<ComponentFile, String>,
);

/// Reads a plugin's manifest and hashes its component, on a thread of its
/// own (see [`on_reader_thread`]). With a cache, a component unchanged
/// since its digest was remembered is not read at all, a digest made now is
/// remembered, and (if asked) what the cache lists for the component is
/// read too.
pub(super) async fn read_files(
    component: &Path,
    manifest: Option<&Path>,
    loading: LoadingSettings,
    caching: Caching,
) -> Result<PluginFiles, String> {
    let (component_path, manifest_path) = (component.to_owned(), manifest.map(Path::to_owned));
    on_reader_thread(component, loading, move || {
        let manifest = read_manifest(manifest_path.as_deref());
        let cache = caching.as_ref().map(|(cache, _)| &**cache);
        let component = hash_component(&component_path, loading, cache).map(|mut file| {
            if let Some((cache, true)) = &caching {
                file.listed = cache.listed(&file.sha256);
            }
            file
        });
        (manifest, component)
    })
    .await
}

/// Reads the component at `path` and checks that it is the one hashing to
/// `sha256` (it may have been replaced since it was hashed), on a thread
/// of its own.
pub(crate) async fn read_component(
    path: &Path,
    sha256: &str,
    loading: LoadingSettings,
) -> Result<Vec<u8>, String> {
    let (owned, expected) = (path.to_owned(), sha256.to_owned());
    let read = on_reader_thread(path, loading, move || {
        let bytes = read_entry(&owned, loading.max_component_size.0)
            .map_err(|error| cannot_read(&owned, &error))?;
        if sha256_hex(&bytes) != expected {
            return Err(format!(
                "{}: the component changed since it was loaded; it is loaded again when \
                 the folder settles",
                owned.display()
            ));
        }
        Ok(bytes)
    });
    read.await?
}

/// How long a component file must have been left alone before its digest
/// is remembered: file times move in clock ticks, so a write in the tick
/// its stamp was taken could otherwise go unseen. Any later write moves
/// the file's change time, which only the kernel sets, so a settled stamp
/// never names two contents.
pub(super) const QUIET: Duration = Duration::from_secs(2);

/// The component's sha256 (remembered, or read and hashed now; remembered
/// for next time if the file did not change while it was read and had
/// settled).
fn hash_component(
    path: &Path,
    loading: LoadingSettings,
    cache: Option<&ArtifactCache>,
) -> Result<ComponentFile, String> {
    let limit = loading.max_component_size.0;
    if let Some(digests) = cache.map(ArtifactCache::digests)
        && let Ok(stamp) = entry_stamp(path)
        && stamp.size() <= limit
        && let Some(sha256) = digests.get(&stamp.to_bytes())
    {
        return Ok(ComponentFile {
            sha256,
            bytes: None,
            listed: None,
        });
    }
    let (bytes, stamp) = read_entry_stamped(path, limit).map_err(|e| cannot_read(path, &e))?;
    // Hashed here, so that components are hashed side by side.
    let sha256 = sha256_hex(&bytes);
    if let Some((digests, stamp)) = cache.map(ArtifactCache::digests).zip(stamp)
        && stamp.settled(SystemTime::now(), QUIET)
    {
        digests.remember(&stamp.to_bytes(), &sha256);
    }
    Ok(ComponentFile {
        sha256,
        bytes: Some(bytes),
        listed: None,
    })
}

fn cannot_read(path: &Path, error: &ReadError) -> String {
    let hint = match error {
        ReadError::TooLarge { .. } => {
            " (raise loading.max_component_size in warden.toml to load it)"
        }
        _ => "",
    };
    format!(
        "{}: cannot read the component: {error}{hint}",
        path.display()
    )
}

/// Runs `read` on a thread of its own and waits at most
/// `loading.read_timeout` for it. A read still stuck then (a filesystem
/// that does not answer) is left to its thread, which does not keep Warden
/// from exiting, and the entry fails.
async fn on_reader_thread<T: Send + 'static>(
    component: &Path,
    loading: LoadingSettings,
    read: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("warden-read".into())
        .spawn(move || {
            // The receiver is gone when the read took too long.
            let _ = sender.send(read());
        })
        .map_err(|e| format!("{}: cannot start reading: {e}", component.display()))?;
    match tokio::time::timeout(loading.read_timeout, receiver).await {
        Ok(Ok(read)) => Ok(read),
        Ok(Err(_)) => Err(format!("{}: reading failed", component.display())),
        Err(_) => Err(format!(
            "{}: not read within {} (loading.read_timeout): the file or its manifest is on \
             a filesystem that does not answer",
            component.display(),
            HumanDuration(loading.read_timeout)
        )),
    }
}

/// Reads and parses the manifest at `path`, if there is one.
fn read_manifest(path: Option<&Path>) -> Result<Option<Manifest>, String> {
    path.map(|path| Manifest::load(path).map_err(|e| e.to_string()))
        .transpose()
}

/// Settles the plugin's name from its `manifest`; fails when the manifest
/// could not be read or the name is taken.
pub(super) fn prepare(
    entry: &mut PluginEntry,
    stem: &str,
    names: &mut BTreeMap<String, PathBuf>,
    manifest: Result<Option<Manifest>, String>,
) -> Result<(), String> {
    entry.manifest = manifest?;
    let name = match entry.manifest.as_ref().map(|m| m.name.clone()) {
        Some(name) => name,
        None => stem.parse::<PluginName>().map_err(|e| {
            format!(
                "{}: the file name is not a valid plugin name ({e}); rename the file \
                 or set `name` in a manifest beside it",
                entry.component_path.display()
            )
        })?,
    };
    entry.name = name.to_string();
    if let Some(other) = names.get(&entry.name) {
        return Err(format!(
            "{}: the plugin name `{}` is already used by {}",
            entry.component_path.display(),
            entry.name,
            other.display()
        ));
    }
    names.insert(entry.name.clone(), entry.component_path.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::ByteSize;

    fn cache() -> (tempfile::TempDir, ArtifactCache) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let sandbox = crate::sandbox::Sandbox::new(&crate::sandbox::EngineSettings {
            max_wasm_stack: 512 << 10,
            max_concurrent_calls: 2,
            memory_ceiling: 64 << 20,
            cache_functions: true,
            ready: crate::sandbox::ReadySettings::DEFAULT,
        })
        .unwrap();
        let cache = ArtifactCache::open(dir.path(), 1 << 20, &sandbox).unwrap();
        (dir, cache)
    }

    #[test]
    fn a_settled_unchanged_file_keeps_its_digest_and_any_write_loses_it() {
        let (_dir, cache) = cache();
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("a.wasm");
        std::fs::write(&file, b"one").unwrap();
        let loading = LoadingSettings {
            max_component_size: ByteSize(100),
            ..LoadingSettings::default()
        };
        let remembered = || cache.digests().get(&entry_stamp(&file).unwrap().to_bytes());

        // Just written: hashed, not remembered.
        let hashed = hash_component(&file, loading, Some(&cache)).unwrap();
        assert_eq!(hashed.sha256, sha256_hex(b"one"));
        assert!(hashed.bytes.is_some());
        assert_eq!(remembered(), None);

        // Settled: remembered, and the next time not read at all.
        std::thread::sleep(QUIET + Duration::from_millis(1100));
        hash_component(&file, loading, Some(&cache)).unwrap();
        assert_eq!(remembered(), Some(sha256_hex(b"one")));
        let again = hash_component(&file, loading, Some(&cache)).unwrap();
        assert_eq!(again.sha256, sha256_hex(b"one"));
        assert!(again.bytes.is_none());

        // Rewritten in place, same length, modification time set back: the
        // change time still moves, so it is read and hashed again.
        let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::fs::write(&file, b"two").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        let rewritten = hash_component(&file, loading, Some(&cache)).unwrap();
        assert_eq!(rewritten.sha256, sha256_hex(b"two"));
        assert!(rewritten.bytes.is_some());
    }
}
