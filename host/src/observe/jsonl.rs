//! An append-only JSON Lines file that rotates by size. Each line is written
//! with one `write_all` under a lock, so concurrent writers never interleave
//! or split lines.
//!
//! Disk use is bounded: the file rotates before a line would take it past
//! its limit, and [`KEEP_ROTATED`] older files are kept: at most
//! `1 + KEEP_ROTATED` files of `max_bytes` each (a file passes its limit only
//! when it holds one line longer than the limit, alone).
//!
//! Rotation is written here rather than taken from the `file-rotate` crate
//! (0.8, the maintained one): its size limits either cut a line in two
//! (`ContentLimit::Bytes`) or let the file pass the limit before rotating
//! (`BytesSurpassed`); it panics when the folder cannot be created or a
//! rotated file appears meanwhile; when the file cannot be reopened after a
//! rotation it drops every later write silently (where this one returns the
//! error, which the caller logs); and it brings `chrono` and `flate2`
//! for time-based rotation and compression, which are not used here.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// How many rotated files are kept (`FILE.1` is the newest).
pub const KEEP_ROTATED: usize = 3;

/// A JSON Lines file rotated to `FILE.1`, `FILE.2`, ... when it would grow
/// past its size limit.
#[derive(Debug)]
pub struct JsonlFile {
    path: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    file: File,
    size: u64,
}

impl JsonlFile {
    /// Opens (creating it and its parent folders) `path` for appending.
    pub fn open(path: &Path, max_bytes: u64) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            max_bytes: max_bytes.max(1),
            state: Mutex::new(State { file, size }),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `value` as one line, rotating first if the line would take
    /// the file past its limit.
    pub fn append(&self, value: &impl Serialize) -> io::Result<()> {
        let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
        line.push(b'\n');
        let len = line.len() as u64;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.size > 0 && state.size + len > self.max_bytes {
            self.rotate(&mut state)?;
        }
        state.file.write_all(&line)?;
        state.size += len;
        Ok(())
    }

    fn rotate(&self, state: &mut State) -> io::Result<()> {
        for n in (1..KEEP_ROTATED).rev() {
            let from = rotated(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        state.file = open_append(&self.path)?;
        state.size = 0;
        Ok(())
    }
}

/// `FILE.N`.
pub fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let file = JsonlFile::open(&path, 100).unwrap();
        for i in 0..20 {
            file.append(&serde_json::json!({ "i": i, "pad": "0123456789" }))
                .unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.len() <= 100, "{}", current.len());
        assert!(rotated(&path, 1).exists());
        assert!(rotated(&path, KEEP_ROTATED).exists());
        assert!(!rotated(&path, KEEP_ROTATED + 1).exists());
        let last: Vec<u64> = current
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["i"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(last.last(), Some(&19));
    }

    #[test]
    fn concurrent_appends_are_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        let file = std::sync::Arc::new(JsonlFile::open(&path, u64::MAX).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let file = file.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        file.append(&serde_json::json!({ "t": t, "i": i, "pad": "x".repeat(500) }))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1600);
        for line in lines {
            serde_json::from_str::<serde_json::Value>(line).expect("whole JSON line");
        }
    }
}
