//! Compiled functions kept across components: Cranelift's incremental
//! compilation cache, on disk beside the artifact cache.
//!
//! Cranelift keys each function it compiles by the SHA-256 of its code and
//! the compiler's settings, and asks this store before compiling it. Plugins
//! built with the same toolchain share most of their functions: every
//! Python plugin embeds the same CPython, every JavaScript plugin the same
//! engine, and a plugin rebuilt after a small change keeps most of its code.
//! Such a plugin compiles in a fraction of a cold compile; a component with
//! nothing in common with earlier ones compiles as before.
//!
//! - **Packs.** The functions one compile made are kept in memory (at most
//!   [`MAX_PENDING`] bytes) and written as one pack file when the compiled
//!   component is cached, off the loading path: one file per compile, not
//!   one per function. A pack is a magic line, then records of key, length,
//!   CRC-32 and compiled function.
//! - **Index.** When a compile first needs them, the record headers of
//!   every pack are read into an index in memory (about 100 bytes per
//!   function); a start that compiles nothing reads none; a lookup reads one record and checks its CRC. A record whose
//!   CRC fails is a miss (Cranelift compiles the function); a pack whose
//!   records do not parse is removed.
//! - **Bound.** Packs are removed, least recently used first, above the
//!   size they are given (a share of the cache's bound).
//! - **Trust.** What a pack holds is run as code, like a compiled component:
//!   packs live in the artifact cache's private directory, and are only ever
//!   written whole, through a temporary file and a rename.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, FileExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::artifacts::{files, remove};
use std::time::SystemTime;

/// The first bytes of a pack.
const MAGIC: &[u8; 8] = b"WFNPACK1";
/// The most bytes of new functions kept for one pack; a compile that makes
/// more leaves the rest uncached.
pub const MAX_PENDING: usize = 128 << 20;
/// The longest key read from a pack (Cranelift's are 32 bytes).
const MAX_KEY: usize = 256;
/// The longest function read from a pack.
const MAX_VALUE: u32 = 64 << 20;

/// Cranelift's incremental compilation cache over a directory of packs.
#[derive(Debug, Default)]
pub struct FunctionCache {
    state: Mutex<State>,
    hits: AtomicU64,
    compiled: AtomicU64,
}

/// How many functions came from the cache, and how many were compiled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionCounts {
    /// Taken from the cache.
    pub hits: u64,
    /// Compiled (and offered to the cache).
    pub compiled: u64,
}

impl std::ops::Sub for FunctionCounts {
    type Output = Self;

    fn sub(self, earlier: Self) -> Self {
        Self {
            hits: self.hits - earlier.hits,
            compiled: self.compiled - earlier.compiled,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// The pack directory and its bound, once attached.
    dir: Option<(PathBuf, u64)>,
    /// What the packs hold; `None` until first needed.
    index: Option<HashMap<Vec<u8>, Record>>,
    pending: HashMap<Vec<u8>, Vec<u8>>,
    pending_bytes: usize,
}

/// Where one function is.
#[derive(Debug, Clone)]
struct Record {
    pack: Arc<Pack>,
    offset: u64,
    len: u32,
    crc32: u32,
}

/// A pack file, opened for each lookup: holding packs open would spend
/// descriptors the calls' open files are counted against.
#[derive(Debug)]
struct Pack {
    path: PathBuf,
    /// Whether a hit marked it recently used yet.
    touched: AtomicBool,
}

impl FunctionCache {
    /// Keeps functions in packs in `dir` (created private if missing),
    /// trimmed above `max_size` bytes. The packs already there are indexed
    /// when first needed (by a compile), so that a start that compiles
    /// nothing neither reads them nor holds their index.
    pub fn attach(&self, dir: &Path, max_size: u64) -> Result<(), String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut state = self.lock();
        state.dir = Some((dir.to_path_buf(), max_size));
        state.index = None;
        Ok(())
    }

    /// Functions taken from the cache and compiled, since the start.
    pub fn counts(&self) -> FunctionCounts {
        FunctionCounts {
            hits: self.hits.load(Ordering::Relaxed),
            compiled: self.compiled.load(Ordering::Relaxed),
        }
    }

    /// Functions known, on disk and waiting to be written.
    pub fn len(&self) -> usize {
        let mut state = self.lock();
        state.index().len() + state.pending.len()
    }

    /// Whether no function is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the functions compiled since the last flush as one pack, then
    /// trims the packs to their bound.
    pub fn flush(&self) -> Result<(), String> {
        let (dir, max_size, pending) = {
            let mut state = self.lock();
            let Some((dir, max_size)) = state.dir.clone() else {
                return Ok(());
            };
            state.pending_bytes = 0;
            (dir, max_size, std::mem::take(&mut state.pending))
        };
        if pending.is_empty() {
            return Ok(());
        }
        let context = |e: std::io::Error| format!("cannot write a function pack: {e}");
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(context)?;
        let mut records = Vec::with_capacity(pending.len());
        {
            let mut out = std::io::BufWriter::new(temp.as_file_mut());
            out.write_all(MAGIC).map_err(context)?;
            let mut offset = MAGIC.len() as u64;
            for (key, value) in &pending {
                let (len, crc32) = (value.len() as u32, crc32fast::hash(value));
                out.write_all(&(key.len() as u16).to_le_bytes())
                    .and_then(|()| out.write_all(key))
                    .and_then(|()| out.write_all(&len.to_le_bytes()))
                    .and_then(|()| out.write_all(&crc32.to_le_bytes()))
                    .and_then(|()| out.write_all(value))
                    .map_err(context)?;
                let header = 2 + key.len() as u64 + 8;
                records.push((key.clone(), offset + header, len, crc32));
                offset += header + u64::from(len);
            }
            out.flush().map_err(context)?;
        }
        let name = format!(
            "{}-{}.pack",
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
            std::process::id()
        );
        let path = dir.join(name);
        temp.persist(&path).map_err(|e| context(e.error))?;
        let pack = Arc::new(Pack {
            path: path.clone(),
            touched: true.into(),
        });
        {
            let mut state = self.lock();
            let index = state.index();
            for (key, offset, len, crc32) in records {
                index.insert(
                    key,
                    Record {
                        pack: pack.clone(),
                        offset,
                        len,
                        crc32,
                    },
                );
            }
        }
        tracing::debug!(pack = %path.display(), functions = pending.len(), "compiled functions cached");
        self.trim(&dir, max_size, &path);
        Ok(())
    }

    /// Removes the least recently used packs until the rest fit in
    /// `max_size`, never `keep`; forgets what they held.
    fn trim(&self, dir: &Path, max_size: u64, keep: &Path) {
        let Ok(mut found) = packs(dir) else {
            return;
        };
        let mut total: u64 = found.iter().map(|p| p.1).sum();
        found.sort_by_key(|p| p.2);
        let mut removed = Vec::new();
        for (path, len, _) in found {
            if total <= max_size {
                break;
            }
            if path != keep {
                remove(&path);
                total = total.saturating_sub(len);
                removed.push(path);
            }
        }
        if !removed.is_empty() {
            self.lock()
                .index()
                .retain(|_, record| !removed.contains(&record.pack.path));
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// The index of the packs, read now if it was not yet.
    fn index(&mut self) -> &mut HashMap<Vec<u8>, Record> {
        let dir = self.dir.as_ref().map(|(dir, _)| dir);
        self.index.get_or_insert_with(|| {
            let mut index = HashMap::new();
            let Some(dir) = dir else {
                return index;
            };
            for (path, _, _) in packs(dir).unwrap_or_default() {
                if let Err(e) = read_index(&path, &mut index) {
                    tracing::warn!(pack = %path.display(), "function pack damaged ({e}); removing it");
                    remove(&path);
                }
            }
            tracing::debug!(functions = index.len(), "compiled functions indexed");
            index
        })
    }
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let record = {
            let mut state = self.lock();
            if let Some(value) = state.pending.get(key) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Some(Cow::Owned(value.clone()));
            }
            state.index().get(key)?.clone()
        };
        let mut value = vec![0; record.len as usize];
        File::open(&record.pack.path)
            .and_then(|file| file.read_exact_at(&mut value, record.offset))
            .ok()?;
        if crc32fast::hash(&value) != record.crc32 {
            tracing::warn!(pack = %record.pack.path.display(), "a compiled function is damaged; compiling it again");
            return None;
        }
        if !record.pack.touched.swap(true, Ordering::Relaxed)
            && let Ok(file) = File::options().append(true).open(&record.pack.path)
        {
            // Recently used packs are the last to be trimmed.
            let _ = file.set_modified(SystemTime::now());
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(Cow::Owned(value))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.compiled.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        if state.dir.is_none()
            || key.len() > MAX_KEY
            || state.pending_bytes + value.len() > MAX_PENDING
        {
            return false;
        }
        state.pending_bytes += value.len();
        state.pending.insert(key.to_vec(), value);
        true
    }
}

/// Indexes the records of the pack at `path`.
fn read_index(path: &Path, index: &mut HashMap<Vec<u8>, Record>) -> std::io::Result<()> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(256 << 10, file);
    let mut magic = [0u8; 8];
    reader.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(std::io::Error::other("not a function pack"));
    }
    let pack = Arc::new(Pack {
        path: path.to_path_buf(),
        touched: false.into(),
    });
    let mut offset = MAGIC.len() as u64;
    let mut records = Vec::new();
    while offset < size {
        let mut word = [0u8; 2];
        reader.read_exact(&mut word)?;
        let key_len = usize::from(u16::from_le_bytes(word));
        if key_len > MAX_KEY {
            return Err(std::io::Error::other("a key is too long"));
        }
        let mut key = vec![0; key_len];
        reader.read_exact(&mut key)?;
        let mut header = [0u8; 8];
        reader.read_exact(&mut header)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc32 = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let start = offset + 2 + key_len as u64 + 8;
        if len > MAX_VALUE || start + u64::from(len) > size {
            return Err(std::io::Error::other("a record runs past the end"));
        }
        reader.seek_relative(i64::from(len))?;
        records.push((
            key,
            Record {
                pack: pack.clone(),
                offset: start,
                len,
                crc32,
            },
        ));
        offset = start + u64::from(len);
    }
    index.extend(records);
    Ok(())
}

/// The packs in `dir`: path, length and last use. Also removes temporary
/// files a killed writer left.
fn packs(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64, SystemTime)>> {
    let now = SystemTime::now();
    let mut found = Vec::new();
    for file in files(dir)? {
        if file.path.extension().is_some_and(|e| e == "pack") {
            found.push((file.path, file.len, file.modified));
        } else if file.is_temporary() && file.is_stale(now) {
            remove(&file.path);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use wasmtime::CacheStore as _;

    use super::*;

    fn key(n: u8) -> Vec<u8> {
        vec![n; 32]
    }

    #[test]
    fn functions_are_kept_only_once_attached_and_found_again_by_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FunctionCache::default();
        assert!(!cache.insert(&key(1), vec![1; 100]), "nowhere to keep it");
        cache.attach(dir.path(), 1 << 20).unwrap();
        assert!(cache.insert(&key(1), vec![1; 100]));
        assert!(cache.insert(&key(2), vec![2; 50]));
        // Found while still waiting to be written, and after.
        assert_eq!(cache.get(&key(1)).as_deref(), Some(&[1u8; 100][..]));
        cache.flush().unwrap();
        assert_eq!(cache.get(&key(2)).as_deref(), Some(&[2u8; 50][..]));
        assert_eq!(cache.get(&key(3)), None);
        assert_eq!(
            cache.counts(),
            FunctionCounts {
                hits: 2,
                compiled: 3
            }
        );

        let next = FunctionCache::default();
        next.attach(dir.path(), 1 << 20).unwrap();
        assert_eq!(next.len(), 2);
        assert_eq!(next.get(&key(1)).as_deref(), Some(&[1u8; 100][..]));
        // Nothing new: no pack is written.
        next.flush().unwrap();
        assert_eq!(packs(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn a_damaged_function_is_a_miss_and_a_pack_that_does_not_parse_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FunctionCache::default();
        cache.attach(dir.path(), 1 << 20).unwrap();
        cache.insert(&key(1), vec![1; 100]);
        cache.insert(&key(2), vec![2; 100]);
        cache.flush().unwrap();
        let pack = packs(dir.path()).unwrap().remove(0).0;
        let mut bytes = std::fs::read(&pack).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&pack, &bytes).unwrap();

        let next = FunctionCache::default();
        next.attach(dir.path(), 1 << 20).unwrap();
        let found = [next.get(&key(1)), next.get(&key(2))];
        assert_eq!(found.iter().filter(|f| f.is_some()).count(), 1, "{found:?}");

        // Cut inside a record: the pack does not parse.
        std::fs::write(&pack, &bytes[..bytes.len() - 10]).unwrap();
        let next = FunctionCache::default();
        next.attach(dir.path(), 1 << 20).unwrap();
        assert!(next.is_empty());
        assert!(!pack.exists());
    }

    #[test]
    fn packs_are_trimmed_least_recently_used_first_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FunctionCache::default();
        // Room for two packs of one 1000-byte function each.
        cache.attach(dir.path(), 2200).unwrap();
        for n in 1..=3 {
            cache.insert(&key(n), vec![n; 1000]);
            cache.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(packs(dir.path()).unwrap().len(), 2);
        assert_eq!(cache.get(&key(1)), None, "the oldest went");
        assert!(cache.get(&key(2)).is_some() && cache.get(&key(3)).is_some());
    }

    #[test]
    fn a_compile_keeps_at_most_its_share_of_memory_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FunctionCache::default();
        cache.attach(dir.path(), u64::MAX).unwrap();
        assert!(cache.insert(&key(1), vec![0; MAX_PENDING - 10]));
        assert!(!cache.insert(&key(2), vec![0; 11]));
        assert!(!cache.insert(&[0; MAX_KEY + 1], vec![0; 1]));
        cache.flush().unwrap();
        assert!(
            cache.insert(&key(2), vec![0; 11]),
            "room again once written"
        );
    }
}
