//! The artifact cache: each component compiled once, and what it lists.
//!
//! An entry is two files named by the component's sha256 and a tag of the
//! engine that compiled it (its compatibility hash, Warden's version and
//! the world version), so an engine configured differently never finds
//! another's entry:
//!
//! - `KEY.cwasm`: the compiled component as wasmtime serializes it. A hit
//!   maps it from disk instead of compiling, so a warm start neither
//!   compiles nor copies code into memory.
//! - `KEY.json`: its length and CRC-32, the world version it was built
//!   against and which optional interfaces it exports, and the plugin's last
//!   description (tools, resources, templates, prompts), so a warm start
//!   lists a plugin without instantiating it, or even mapping its code.
//!
//! Beside the entries, [`Digests`] remembers the sha256 of each component
//! file by its stamp, so a warm start does not read and hash components
//! either; and `functions/` keeps the engine's compiled functions
//! ([`FunctionCache`]), so a component that shares code with one compiled
//! before compiles only what is new. They take at most a quarter of the
//! cache's bound, the entries the rest.
//!
//! The JSON file is written last, each file through a temporary one and a
//! rename, so a reader sees a whole entry or none; a server killed while
//! writing leaves at worst a temporary file. An entry whose JSON does not
//! parse, whose compiled file is missing, has another length or CRC, or
//! that this engine refuses, is removed and rebuilt: a bad cache costs a
//! compile, never the host. Mapping compiled code is unsafe by nature
//! (whoever writes the cache can run code in Warden), so the cache refuses
//! a directory that anyone but Warden's user may write to.

// Mapping compiled code and asking for the user id need `unsafe`; each use
// is commented.
#![allow(unsafe_code)]

use std::fs::File;
use std::hash::{Hash as _, Hasher as _};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{
    CompiledPlugin, Description, Digests, ExportSet, FunctionCache, Sandbox, WORLD_VERSION,
};

/// The folder of entries inside the cache directory.
const ENTRIES: &str = "artifacts";
/// The folder of remembered component digests.
const DIGESTS: &str = "digests";
/// The folder of compiled functions ([`FunctionCache`]).
const FUNCTIONS: &str = "functions";
/// The share of the cache's bound that compiled functions may take: one
/// part in this many.
const FUNCTIONS_SHARE: u64 = 4;
/// The folder wasmtime's own cache used before; `clear` removes it too.
const LEGACY: &str = "modules";
/// Bumped when the entry format changes.
const FORMAT: u32 = 2;
/// The largest JSON file read: far above what the descriptor caps let a
/// description reach.
const MAX_META: u64 = 64 << 20;
/// Temporary files older than this are left over from a killed writer.
const STALE_TEMP: Duration = Duration::from_secs(600);

/// A directory of compiled components and descriptions, bounded in size.
#[derive(Debug)]
pub struct ArtifactCache {
    dir: PathBuf,
    max_size: u64,
    tag: String,
    digests: Digests,
    /// The engine's compiled functions, written beside the entries.
    functions: Option<std::sync::Arc<FunctionCache>>,
    /// Entries being written off the loading path.
    writes: tokio_util::task::TaskTracker,
}

/// A loaded plugin's place in the cache: where a new description of it is
/// stored.
#[derive(Debug, Clone)]
pub struct CachedAs {
    /// The cache.
    pub cache: std::sync::Arc<ArtifactCache>,
    /// The component's sha256.
    pub sha256: String,
}

impl CachedAs {
    /// Stores `description` as the plugin's latest, logging a failure.
    pub fn store_description(&self, description: &Description) {
        if let Err(error) = self.cache.store_description(&self.sha256, description) {
            tracing::warn!("cannot cache a plugin's description: {error}");
        }
    }
}

/// What the cache holds for a component.
#[derive(Debug)]
pub enum Fetched {
    /// Its compiled form, and its last description if one was stored.
    Hit(Box<Cached>),
    /// Nothing usable: compile it.
    Miss,
}

/// A component found in the cache.
#[derive(Debug)]
pub struct Cached {
    /// The component, mapped from the cache.
    pub compiled: CompiledPlugin,
    /// What the plugin listed when it was last described.
    pub description: Option<Description>,
}

/// What a warm start lists a plugin from, without its code.
#[derive(Debug, Clone)]
pub struct Listed {
    /// What the plugin listed when it was last described.
    pub description: Description,
    /// Which optional interfaces the component exports.
    pub exports: ExportSet,
    /// The world version the component was built against.
    pub world_version: String,
}

/// The JSON file of an entry.
#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    cwasm_len: u64,
    cwasm_crc32: u32,
    exports: ExportSet,
    world_version: String,
    description: Option<Description>,
}

/// What the cache holds, for `warden cache stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Compiled components.
    pub entries: u64,
    /// Bytes of every file in the cache directory.
    pub bytes: u64,
}

impl ArtifactCache {
    /// Opens (creating it if needed) the cache in `dir` for the engine of
    /// `sandbox`, trimmed above `max_size` bytes. Fails when the directory
    /// cannot be made or anyone but this user could write to it.
    pub fn open(dir: &Path, max_size: u64, sandbox: &Sandbox) -> Result<Self, String> {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let entries = dir.join(ENTRIES);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&entries)
            .map_err(|e| format!("cannot create {}: {e}", entries.display()))?;
        check_private(&dir)?;
        check_private(&entries)?;
        let digests = Digests::open(dir.join(DIGESTS))?;
        check_private(digests.dir())?;
        let functions = sandbox.functions().cloned();
        if let Some(functions) = &functions {
            let packs = dir.join(FUNCTIONS);
            // Without the folder, compiles go on uncached: not worth failing for.
            match functions.attach(&packs, max_size / FUNCTIONS_SHARE) {
                Ok(()) => check_private(&packs)?,
                Err(error) => tracing::warn!("compiled functions are not cached: {error}"),
            }
        }
        Ok(Self {
            dir,
            max_size,
            tag: engine_tag(sandbox),
            digests,
            functions,
            writes: tokio_util::task::TaskTracker::new(),
        })
    }

    /// Runs `write` (storing an entry) on the blocking pool, tracked so that
    /// [`flush`](Self::flush) can wait for it; then hands the serialized
    /// code's megabytes, free again, back to the kernel.
    pub fn spawn_write(
        &self,
        write: impl FnOnce() + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        self.writes.spawn_blocking(|| {
            write();
            super::account::release_free_memory();
        })
    }

    /// Waits for every write started so far: a command that exits right
    /// after loading calls it, so that what it compiled is not lost.
    pub async fn flush(&self) {
        self.writes.close();
        self.writes.wait().await;
        self.writes.reopen();
    }

    /// The remembered digests of component files.
    pub fn digests(&self) -> &Digests {
        &self.digests
    }

    /// What the entry of the component hashing to `sha256` lists, read from
    /// its JSON file alone: its compiled file is checked only when it is
    /// [fetched](Self::fetch). `None` without an entry or a description,
    /// or when the entry is not one this engine wrote.
    pub fn listed(&self, sha256: &str) -> Option<Listed> {
        let (_, json) = self.paths(sha256);
        let meta = read_meta(&json).ok()??;
        Some(Listed {
            description: meta.description.filter(|_| meta.format == FORMAT)?,
            exports: meta.exports,
            world_version: meta.world_version,
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size above which the oldest entries and compiled functions are
    /// removed.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// What the cache holds for the component hashing to `sha256`. A
    /// damaged or stale entry is removed (and logged) and reported as a miss.
    pub fn fetch(&self, sandbox: &Sandbox, sha256: &str) -> Fetched {
        let (cwasm, json) = self.paths(sha256);
        match self.read_entry(sandbox, &cwasm, &json) {
            Ok(Some((compiled, description))) => {
                // Recently used entries are the last to be trimmed.
                if let Ok(file) = File::options().append(true).open(&json) {
                    let _ = file.set_modified(SystemTime::now());
                }
                Fetched::Hit(Box::new(Cached {
                    compiled,
                    description,
                }))
            }
            Ok(None) => Fetched::Miss,
            Err(reason) => {
                tracing::warn!(
                    entry = %json.display(),
                    "cache entry damaged or stale ({reason}); removing it and compiling again"
                );
                remove(&cwasm);
                remove(&json);
                Fetched::Miss
            }
        }
    }

    fn read_entry(
        &self,
        sandbox: &Sandbox,
        cwasm: &Path,
        json: &Path,
    ) -> Result<Option<(CompiledPlugin, Option<Description>)>, String> {
        let Some(meta) = read_meta(json)? else {
            return Ok(None);
        };
        if meta.format != FORMAT {
            return Err(format!("format {} instead of {FORMAT}", meta.format));
        }
        let (len, crc) = checksum(cwasm).map_err(|e| format!("compiled file: {e}"))?;
        if (len, crc) != (meta.cwasm_len, meta.cwasm_crc32) {
            return Err(format!(
                "compiled file has {len} bytes with CRC {crc:08x}, expected {} with {:08x}",
                meta.cwasm_len, meta.cwasm_crc32
            ));
        }
        // SAFETY: the file was written by `store` from `Component::serialize`
        // with an engine of the same tag, and its length and CRC match what
        // was written; the directory is writable by this user only, and
        // files are only ever replaced by rename, never rewritten in place.
        let compiled = unsafe { map(sandbox, cwasm) }.map_err(|e| e.to_string())?;
        Ok(Some((compiled, meta.description)))
    }

    /// Stores the compiled component hashing to `sha256`, with its
    /// description when there is one, then trims the cache to its bound.
    pub fn store(
        &self,
        sha256: &str,
        compiled: &CompiledPlugin,
        description: Option<&Description>,
    ) -> Result<(), String> {
        let (cwasm, json) = self.paths(sha256);
        let bytes = compiled.serialize().map_err(|e| e.to_string())?;
        let meta = Meta {
            format: FORMAT,
            cwasm_len: bytes.len() as u64,
            cwasm_crc32: crc32fast::hash(&bytes),
            exports: compiled.exports(),
            world_version: compiled.world_version.clone(),
            description: description.cloned(),
        };
        self.write(&cwasm, &bytes)?;
        drop(bytes);
        self.write_meta(&json, &meta)?;
        tracing::debug!(entry = %json.display(), "compiled plugin cached");
        self.trim(&json);
        match &self.functions {
            Some(functions) => functions.flush(),
            None => Ok(()),
        }
    }

    /// Replaces the description stored with the component hashing to
    /// `sha256`, if the entry is there and held a different one.
    pub fn store_description(&self, sha256: &str, description: &Description) -> Result<(), String> {
        let (_, json) = self.paths(sha256);
        let Ok(Some(mut meta)) = read_meta(&json) else {
            return Ok(());
        };
        let new = serde_json::to_value(description).map_err(|e| e.to_string())?;
        let old = serde_json::to_value(&meta.description).map_err(|e| e.to_string())?;
        if new == old {
            return Ok(());
        }
        meta.description = Some(description.clone());
        self.write_meta(&json, &meta)?;
        tracing::debug!(entry = %json.display(), "plugin description cached");
        Ok(())
    }

    /// Entries and bytes held.
    pub fn usage(&self) -> std::io::Result<Usage> {
        let mut usage = Usage::default();
        for file in files(&self.dir.join(ENTRIES))? {
            usage.bytes += file.len;
            usage.entries += u64::from(file.path.extension().is_some_and(|e| e == "cwasm"));
        }
        for folder in [self.digests.dir().to_path_buf(), self.dir.join(FUNCTIONS)] {
            usage.bytes += files(&folder)?.iter().map(|f| f.len).sum::<u64>();
        }
        Ok(usage)
    }

    /// Removes every entry (and what wasmtime's own cache left before);
    /// returns what was removed.
    pub fn clear(&self) -> std::io::Result<Usage> {
        let usage = self.usage()?;
        for folder in [ENTRIES, DIGESTS, FUNCTIONS, LEGACY] {
            match std::fs::remove_dir_all(self.dir.join(folder)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        for folder in [ENTRIES, DIGESTS, FUNCTIONS] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(self.dir.join(folder))?;
        }
        Ok(usage)
    }

    fn paths(&self, sha256: &str) -> (PathBuf, PathBuf) {
        let base = self
            .dir
            .join(ENTRIES)
            .join(format!("{sha256}-{}", self.tag));
        (base.with_extension("cwasm"), base.with_extension("json"))
    }

    fn write_meta(&self, json: &Path, meta: &Meta) -> Result<(), String> {
        let text = serde_json::to_vec(meta).map_err(|e| e.to_string())?;
        self.write(json, &text)
    }

    /// Writes `bytes` to `path` through a temporary file and a rename.
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), String> {
        let context = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(self.dir.join(ENTRIES))
            .map_err(context)?;
        temp.write_all(bytes).map_err(context)?;
        temp.persist(path).map_err(|e| context(e.error))?;
        Ok(())
    }

    /// Removes the least recently used entries until they are within their
    /// share of the bound (compiled functions have the rest), never `keep`
    /// (the entry just written); also removes temporary files a killed
    /// writer left.
    fn trim(&self, keep: &Path) {
        let Ok(files) = files(&self.dir.join(ENTRIES)) else {
            return;
        };
        let now = SystemTime::now();
        let mut total: u64 = files.iter().map(|f| f.len).sum();
        let mut metas: Vec<&FileInfo> = Vec::new();
        for file in &files {
            if file.is_temporary() {
                if file.is_stale(now) {
                    remove(&file.path);
                    total = total.saturating_sub(file.len);
                }
            } else if file.path.extension().is_some_and(|e| e == "json") && file.path != keep {
                metas.push(file);
            }
        }
        metas.sort_by_key(|f| f.modified);
        for meta in metas {
            if total <= self.max_size - self.max_size / FUNCTIONS_SHARE {
                break;
            }
            let cwasm = meta.path.with_extension("cwasm");
            let cwasm_len = files.iter().find(|f| f.path == cwasm).map_or(0, |f| f.len);
            remove(&meta.path);
            remove(&cwasm);
            total = total.saturating_sub(meta.len + cwasm_len);
            tracing::debug!(entry = %meta.path.display(), "cache entry trimmed");
        }
    }
}

/// Maps a component that [`CompiledPlugin::serialize`] wrote and links it.
///
/// # Safety
///
/// `path` must hold exactly what `serialize` returned (wasmtime checks only
/// that an engine like this one made it, not that the code is intact), and
/// must not be written in place while the component lives.
unsafe fn map(sandbox: &Sandbox, path: &Path) -> Result<CompiledPlugin, super::LoadError> {
    // SAFETY: the caller's contract.
    let component =
        unsafe { wasmtime::component::Component::deserialize_file(&sandbox.parts.engine, path) }
            .map_err(|e| super::LoadError::Compile(format!("{e:#}")))?;
    sandbox.link(component)
}

/// The tag of everything besides the component that a compiled artifact
/// and a description depend on.
fn engine_tag(sandbox: &Sandbox) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    FORMAT.hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    WORLD_VERSION.hash(&mut hasher);
    sandbox
        .parts
        .engine
        .precompile_compatibility_hash()
        .hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The entry's JSON file, `None` when there is none.
fn read_meta(json: &Path) -> Result<Option<Meta>, String> {
    let file = match File::open(json) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut text = Vec::new();
    file.take(MAX_META + 1)
        .read_to_end(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_META {
        return Err(format!("description file over {MAX_META} bytes"));
    }
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| format!("description file: {e}"))
}

/// The length and CRC-32 of a file, read in blocks.
fn checksum(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut file = File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut block = vec![0u8; 256 << 10];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            return Ok((len, hasher.finalize()));
        }
        hasher.update(&block[..n]);
        len += n as u64;
    }
}

/// Refuses a directory that group or others may write, or that a user
/// other than Warden's owns. Root may own it: a cache filled while a
/// container image was built, read by an unprivileged Warden, is written by
/// no one the plugins could reach.
fn check_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if meta.uid() != uid && meta.uid() != 0 {
        return Err(format!(
            "{} belongs to user {}, not to Warden's user {uid} or root: compiled code from it \
             could be anyone's",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} may be written by other users (mode {:o}): compiled code from it could be \
             anyone's; `chmod go-w` it",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// A file in one of the cache's folders.
pub(super) struct FileInfo {
    pub(super) path: PathBuf,
    pub(super) len: u64,
    pub(super) modified: SystemTime,
}

impl FileInfo {
    /// Whether it is a temporary file, written before being renamed.
    pub(super) fn is_temporary(&self) -> bool {
        self.path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".tmp-"))
    }

    /// Whether a temporary file is old enough to be a killed writer's.
    pub(super) fn is_stale(&self, now: SystemTime) -> bool {
        now.duration_since(self.modified).unwrap_or_default() > STALE_TEMP
    }
}

/// The regular files directly in `dir`.
pub(super) fn files(dir: &Path) -> std::io::Result<Vec<FileInfo>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_file() {
            found.push(FileInfo {
                path: entry.path(),
                len: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    Ok(found)
}

pub(super) fn remove(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), "cannot remove a cache file: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;
    use crate::sandbox::EngineSettings;

    fn sandbox() -> Sandbox {
        Sandbox::new(&EngineSettings {
            max_wasm_stack: 512 << 10,
            max_concurrent_calls: 2,
            memory_ceiling: 64 << 20,
            cache_functions: true,
            ready: crate::sandbox::ReadySettings::DEFAULT,
        })
        .unwrap()
    }

    fn compiled(sandbox: &Sandbox) -> (CompiledPlugin, String) {
        let bytes = std::fs::read(warden_test_artifacts::TOOLS_ONLY_WASM).unwrap();
        let sha256 = crate::policy::lock::sha256_hex(&bytes);
        (sandbox.compile(&bytes).unwrap(), sha256)
    }

    fn description(tool: &str) -> Description {
        serde_json::from_value(serde_json::json!({
            "tools": [{
                "name": tool, "title": null, "description": "d",
                "input_schema": "{\"type\":\"object\"}", "output_schema": null,
                "annotations": {"read_only": true, "destructive": null,
                                "idempotent": null, "open_world": null},
                "requires": []
            }],
            "resources": [], "templates": [], "prompts": []
        }))
        .unwrap()
    }

    fn hit(cache: &ArtifactCache, sandbox: &Sandbox, sha256: &str) -> Option<Option<String>> {
        match cache.fetch(sandbox, sha256) {
            Fetched::Hit(cached) => Some(cached.description.map(|d| d.tools[0].name.clone())),
            Fetched::Miss => None,
        }
    }

    #[test]
    fn entries_round_trip_and_descriptions_are_replaced_only_when_they_differ() {
        let (sandbox, dir) = (sandbox(), tempfile::tempdir().unwrap());
        let cache = ArtifactCache::open(dir.path(), 1 << 30, &sandbox).unwrap();
        let (plugin, sha256) = compiled(&sandbox);
        assert_eq!(hit(&cache, &sandbox, &sha256), None);

        cache.store(&sha256, &plugin, None).unwrap();
        assert_eq!(hit(&cache, &sandbox, &sha256), Some(None));
        cache.store_description(&sha256, &description("a")).unwrap();
        assert_eq!(hit(&cache, &sandbox, &sha256), Some(Some("a".into())));

        // The same description again leaves the file as it was.
        let (_, json) = cache.paths(&sha256);
        let before = std::fs::read(&json).unwrap();
        cache.store_description(&sha256, &description("a")).unwrap();
        assert_eq!(std::fs::read(&json).unwrap(), before);
        cache.store_description(&sha256, &description("b")).unwrap();
        assert_eq!(hit(&cache, &sandbox, &sha256), Some(Some("b".into())));

        let usage = cache.usage().unwrap();
        assert_eq!(usage.entries, 1);
        assert_eq!(cache.clear().unwrap(), usage);
        assert_eq!(cache.usage().unwrap(), Usage::default());
        assert_eq!(hit(&cache, &sandbox, &sha256), None);
    }

    #[test]
    fn a_damaged_entry_is_a_miss_and_is_removed() {
        let (sandbox, dir) = (sandbox(), tempfile::tempdir().unwrap());
        let cache = ArtifactCache::open(dir.path(), 1 << 30, &sandbox).unwrap();
        let (plugin, sha256) = compiled(&sandbox);
        let (cwasm, json) = cache.paths(&sha256);
        for damage in [
            |_: &Path, json: &Path| std::fs::write(json, b"not json").unwrap(),
            |cwasm: &Path, _: &Path| std::fs::remove_file(cwasm).unwrap(),
            |cwasm: &Path, _: &Path| {
                let mut bytes = std::fs::read(cwasm).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                std::fs::write(cwasm, bytes).unwrap();
            },
        ] {
            cache
                .store(&sha256, &plugin, Some(&description("a")))
                .unwrap();
            damage(&cwasm, &json);
            assert_eq!(hit(&cache, &sandbox, &sha256), None);
            assert!(!json.exists() && !cwasm.exists());
        }
    }

    #[test]
    fn the_cache_is_trimmed_to_its_bound_least_recently_used_first() {
        let (sandbox, dir) = (sandbox(), tempfile::tempdir().unwrap());
        let (plugin, _) = compiled(&sandbox);
        let size = plugin.serialize().unwrap().len() as u64;
        // Room for two entries, not three, in the entries' share.
        let bound = (size * 2 + 4096) * FUNCTIONS_SHARE / (FUNCTIONS_SHARE - 1);
        let cache = ArtifactCache::open(dir.path(), bound, &sandbox).unwrap();
        let keys = ["a".repeat(64), "b".repeat(64), "c".repeat(64)];
        cache.store(&keys[0], &plugin, None).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        cache.store(&keys[1], &plugin, None).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // Using the older entry makes the other the least recently used.
        assert!(hit(&cache, &sandbox, &keys[0]).is_some());
        std::thread::sleep(Duration::from_millis(20));
        cache.store(&keys[2], &plugin, None).unwrap();
        assert!(cache.usage().unwrap().bytes <= bound);
        assert!(hit(&cache, &sandbox, &keys[0]).is_some());
        assert!(hit(&cache, &sandbox, &keys[1]).is_none());
        assert!(hit(&cache, &sandbox, &keys[2]).is_some());
    }

    #[test]
    fn a_directory_others_may_write_is_refused() {
        let (sandbox, dir) = (sandbox(), tempfile::tempdir().unwrap());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = ArtifactCache::open(dir.path(), 1 << 30, &sandbox).unwrap_err();
        assert!(
            error.contains("may be written by other users (mode 777)"),
            "{error}"
        );
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(ArtifactCache::open(dir.path(), 1 << 30, &sandbox).is_ok());
    }
}
