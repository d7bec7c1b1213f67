//! Remembered digests: the sha256 of each component file Warden hashed,
//! named by a key the loader makes of what identifies the file's content
//! (its stamp: device, inode, length, modification and change times), so
//! that a restart finds an unchanged component's digest (and through it the
//! artifact cache's entry) without reading and hashing the file again. The
//! loader decides what may be remembered (`load/scan.rs`). The folder lives
//! in the cache directory, under the same rule that no one but Warden's
//! user may write to it.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

/// Digests kept; when there are more, the oldest quarter is removed.
const MAX_DIGESTS: usize = 4096;
/// The length of a sha256 in hex.
const HEX_LEN: usize = 64;

/// The remembered digests in one folder of the cache directory.
#[derive(Debug)]
pub struct Digests {
    dir: PathBuf,
}

impl Digests {
    /// Opens (creating it `0700` if needed) the folder `dir`.
    pub(super) fn open(dir: PathBuf) -> Result<Self, String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Self { dir })
    }

    /// The sha256 remembered under `key`.
    pub fn get(&self, key: &[u8]) -> Option<String> {
        let text = std::fs::read(self.path(key)).ok()?;
        let valid = text.len() == HEX_LEN
            && text
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        valid.then(|| String::from_utf8_lossy(&text).into_owned())
    }

    /// Remembers `sha256` under `key`; a failure only costs a hash later.
    pub fn remember(&self, key: &[u8], sha256: &str) {
        if sha256.len() != HEX_LEN {
            return;
        }
        let path = self.path(key);
        let written = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .and_then(|mut temp| {
                std::io::Write::write_all(&mut temp, sha256.as_bytes())?;
                temp.persist(&path).map_err(|e| e.error)
            });
        match written {
            Ok(_) => self.trim(),
            Err(error) => tracing::debug!(%error, "cannot remember a component's digest"),
        }
    }

    /// Removes the oldest quarter of the digests when there are too many.
    fn trim(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(SystemTime, PathBuf)> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                Some((e.metadata().ok()?.modified().ok()?, e.path()))
            })
            .collect();
        if files.len() <= MAX_DIGESTS {
            return;
        }
        files.sort();
        for (_, path) in files.iter().take(MAX_DIGESTS / 4) {
            let _ = std::fs::remove_file(path);
        }
    }

    fn path(&self, key: &[u8]) -> PathBuf {
        let name = format!("{:x}", Sha256::digest(key));
        self.dir.join(&name[..32])
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "5f0c4e3ac1e8e3b3c0e5a1d6c7f0b2e4a9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4";

    #[test]
    fn digests_are_kept_by_key_and_a_damaged_one_is_not_believed() {
        let cache = tempfile::tempdir().unwrap();
        let digests = Digests::open(cache.path().join("digests")).unwrap();
        assert_eq!(digests.get(b"one"), None);
        digests.remember(b"one", SHA);
        assert_eq!(digests.get(b"one").as_deref(), Some(SHA));
        assert_eq!(digests.get(b"two"), None);
        digests.remember(b"two", &SHA[..40]);
        assert_eq!(digests.get(b"two"), None, "not a sha256: not kept");
        std::fs::write(digests.path(b"one"), &SHA[..40]).unwrap();
        assert_eq!(digests.get(b"one"), None);
        std::fs::write(digests.path(b"one"), SHA.to_uppercase()).unwrap();
        assert_eq!(digests.get(b"one"), None);
    }
}
