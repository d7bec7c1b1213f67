//! The plugins folder: which components and manifests it holds, each read
//! under a size cap and a deadline, and each plugin's name settled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::input::bounded_file::{ReadError, read_entry};
use crate::limits::HumanDuration;
use crate::loading::LoadingSettings;
use crate::mcp::registry::PluginEntry;
use crate::policy::lock::sha256_hex;
use crate::policy::manifest::{Manifest, PluginName};

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

/// A plugin's manifest, parsed (`None` without one), and its component's
/// bytes with their sha256, or why each could not be read.
pub(super) type PluginFiles = (
    Result<Option<Manifest>, String>,
    Result<(Vec<u8>, String), String>,
);

/// Reads a plugin's manifest and component on a thread of its own and waits
/// at most `loading.read_timeout` for it. A read still stuck then (a
/// filesystem that does not answer) is left to its thread, which does not
/// keep Warden from exiting, and the entry fails.
pub(super) async fn read_files(
    component: &Path,
    manifest: Option<&Path>,
    loading: LoadingSettings,
) -> Result<PluginFiles, String> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let (component_path, manifest_path) = (component.to_owned(), manifest.map(Path::to_owned));
    let limit = loading.max_component_size.0;
    std::thread::Builder::new()
        .name("warden-read".into())
        .spawn(move || {
            let manifest = read_manifest(manifest_path.as_deref());
            let bytes = read_entry(&component_path, limit).map_err(|error| {
                let hint = match error {
                    ReadError::TooLarge { .. } => {
                        " (raise loading.max_component_size in warden.toml to load it)"
                    }
                    _ => "",
                };
                format!(
                    "{}: cannot read the component: {error}{hint}",
                    component_path.display()
                )
            });
            // Hashed here, so that components are hashed side by side.
            let bytes = bytes.map(|bytes| {
                let sha256 = sha256_hex(&bytes);
                (bytes, sha256)
            });
            // The receiver is gone when the read took too long.
            let _ = sender.send((manifest, bytes));
        })
        .map_err(|e| format!("{}: cannot start reading: {e}", component.display()))?;
    match tokio::time::timeout(loading.read_timeout, receiver).await {
        Ok(Ok(files)) => Ok(files),
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
