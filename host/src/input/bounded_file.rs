//! Reads the files Warden takes from the plugins folder and from the operator
//! (components, manifests, `warden.toml`, `warden.lock`) without blocking on
//! special files and without reading without end.
//!
//! A file is first opened with `O_PATH`, which opens nothing (no FIFO
//! handshake, no device driver), and its type is checked on that handle. Only
//! a regular file is then opened for reading, with `O_NONBLOCK` and
//! `O_NOCTTY`; its type is checked again on the handle it is read from, which
//! must be the same file (device and inode) as the first. A file over its
//! limit is refused from its size, without reading it, and no read goes past
//! the limit even if the file grows meanwhile.
//!
//! Symbolic links:
//! - an entry of the plugins folder ([`read_entry`]) is resolved beneath the
//!   folder (`openat2` with `RESOLVE_BENEATH`): a link may name another file
//!   in the folder (`fetch.wasm -> fetch-1.2.wasm`, `x.wasm -> build/x.wasm`),
//!   never anything outside it (an absolute link, or `..` above the folder);
//!   on a kernel without `openat2` (before Linux 5.6) links are refused;
//! - an operator file ([`read_operator_file`]: the config and lock files the
//!   operator names) may be a link anywhere.
//!
//! Either way the file finally opened must be a regular file.

use std::fs::File;
use std::io::{self, Read as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use thiserror::Error;

use crate::limits::ByteSize;

/// The size limit of the small text files: manifests, `warden.toml` and
/// `warden.lock` (1 MiB).
pub const TEXT_LIMIT: u64 = 1 << 20;

/// Why a file could not be read. Messages read after the file's path
/// (`plugins/x.wasm: it is a named pipe (FIFO), not a regular file`).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The operating system refused (missing file, permissions, ...).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The path names something other than a regular file.
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    /// The file is larger than its limit; it was not read.
    #[error("it is {}, more than the limit of {}", ByteSize(*size), ByteSize(*limit))]
    TooLarge {
        /// The file's size in bytes (at least this much).
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A symbolic link in the plugins folder leads outside the folder.
    #[error(
        "it is a symbolic link that leads outside the plugins folder (links in the folder \
         must be relative and name a file inside it)"
    )]
    Escapes,
    /// The file was replaced between the type check and the open.
    #[error("it was replaced while it was being opened")]
    Replaced,
    /// A text file is not UTF-8.
    #[error("it is not UTF-8 text")]
    NotUtf8,
}

impl ReadError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// What tells one version of a file's content from another without reading
/// it: its device and inode, length, and modification and change times.
/// Every write moves the change time, which only the kernel sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
            len: metadata.len(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// The file's length.
    pub fn size(&self) -> u64 {
        self.len
    }

    /// Whether the file was last written at least `quiet` before `now`.
    /// File times move in clock ticks, so a write in the same tick as the
    /// stamp was taken can leave it unchanged; a settled file cannot have
    /// had such a write.
    pub fn settled(&self, now: std::time::SystemTime, quiet: std::time::Duration) -> bool {
        let latest = self.modified.max(self.changed);
        let Ok(since_epoch) = now.duration_since(std::time::UNIX_EPOCH) else {
            return false;
        };
        let Ok(now) = i64::try_from(since_epoch.saturating_sub(quiet).as_secs()) else {
            return false;
        };
        latest.0 < now
    }

    /// The stamp as bytes, for naming what is remembered about the file.
    pub fn to_bytes(&self) -> [u8; 56] {
        let mut bytes = [0; 56];
        let fields = [
            self.dev,
            self.ino,
            self.len,
            self.modified.0 as u64,
            self.modified.1 as u64,
            self.changed.0 as u64,
            self.changed.1 as u64,
        ];
        for (chunk, field) in bytes.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
        bytes
    }
}

/// Reads `path`, an entry of the plugins folder, resolving it beneath its
/// parent directory; at most `limit` bytes.
pub fn read_entry(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_entry_stamped(path, limit).map(|(bytes, _)| bytes)
}

/// [`read_entry`], with the file's stamp when the file did not change while
/// it was read.
pub fn read_entry_stamped(path: &Path, limit: u64) -> Result<(Vec<u8>, Option<Stamp>), ReadError> {
    let (dir, name) = parent_of(path)?;
    read_checked(limit, |flags| open_beneath(&dir, name, flags))
}

/// The stamp of `path`, an entry of the plugins folder resolved as
/// [`read_entry`] resolves it, without opening it for reading; fails as
/// `read_entry` would unless it is a regular file.
pub fn entry_stamp(path: &Path) -> Result<Stamp, ReadError> {
    let (dir, name) = parent_of(path)?;
    let metadata = open_beneath(&dir, name, OFlags::PATH | OFlags::CLOEXEC)?.metadata()?;
    regular(&metadata)?;
    Ok(Stamp::of(&metadata))
}

/// The parent directory of `path` (opened `O_PATH`) and its file name.
fn parent_of(path: &Path) -> Result<(rustix::fd::OwnedFd, &std::ffi::OsStr), ReadError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = rustix::fs::open(
        parent,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)?;
    Ok((dir, name))
}

/// Reads `path`, a file the operator names (it may be a symbolic link
/// anywhere, to a regular file); at most `limit` bytes.
pub fn read_operator_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_checked(limit, |flags| {
        rustix::fs::open(path, flags, Mode::empty())
            .map(File::from)
            .map_err(|e| ReadError::Io(e.into()))
    })
    .map(|(bytes, _)| bytes)
}

/// [`read_entry`] for UTF-8 text.
pub fn read_entry_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_entry(path, limit)?).map_err(|_| ReadError::NotUtf8)
}

/// [`read_operator_file`] for UTF-8 text.
pub fn read_operator_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_operator_file(path, limit)?).map_err(|_| ReadError::NotUtf8)
}

/// Opens `name` in `dir` with `flags`, never resolving outside `dir`.
fn open_beneath(
    dir: &rustix::fd::OwnedFd,
    name: &std::ffi::OsStr,
    flags: OFlags,
) -> Result<File, ReadError> {
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let mut attempts = 0;
    loop {
        match rustix::fs::openat2(dir, name, flags, Mode::empty(), resolve) {
            Ok(fd) => return Ok(File::from(fd)),
            Err(rustix::io::Errno::XDEV) => return Err(ReadError::Escapes),
            // A rename elsewhere on the system raced the lookup.
            Err(rustix::io::Errno::AGAIN) if attempts < 3 => attempts += 1,
            // Before Linux 5.6: no resolution beneath a directory, so no links.
            Err(rustix::io::Errno::NOSYS) => {
                return rustix::fs::openat(dir, name, flags | OFlags::NOFOLLOW, Mode::empty())
                    .map(File::from)
                    .map_err(|e| ReadError::Io(e.into()));
            }
            Err(e) => return Err(ReadError::Io(e.into())),
        }
    }
}

/// Checks the type with an `O_PATH` handle, then opens the same regular file
/// for reading and reads at most `limit` bytes of it; with the file's stamp
/// when it was the same before and after reading.
fn read_checked(
    limit: u64,
    open: impl Fn(OFlags) -> Result<File, ReadError>,
) -> Result<(Vec<u8>, Option<Stamp>), ReadError> {
    let probe = open(OFlags::PATH | OFlags::CLOEXEC)?.metadata()?;
    regular(&probe)?;
    let file = open(OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC)?;
    let metadata = file.metadata()?;
    regular(&metadata)?;
    if (metadata.dev(), metadata.ino()) != (probe.dev(), probe.ino()) {
        return Err(ReadError::Replaced);
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge {
            size: metadata.len(),
            limit,
        });
    }
    let capacity = usize::try_from(metadata.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    let mut reader = (&file).take(limit.saturating_add(1));
    reader.read_to_end(&mut bytes)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(ReadError::TooLarge { size: read, limit });
    }
    let before = Stamp::of(&metadata);
    let after = file.metadata().map(|m| Stamp::of(&m)).ok();
    Ok((bytes, (after == Some(before)).then_some(before)))
}

/// Fails unless `metadata` is a regular file's, naming what it is instead.
fn regular(metadata: &std::fs::Metadata) -> Result<(), ReadError> {
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_symlink() {
        "a symbolic link (this kernel cannot resolve links safely inside the plugins folder)"
    } else {
        "a special file"
    };
    Err(ReadError::NotRegular(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn folder(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("warden-bounded-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn regular_files_are_read_within_their_limit() {
        let dir = folder("regular");
        std::fs::write(dir.join("a.toml"), "x = 1\n").unwrap();
        assert_eq!(
            read_entry_text(&dir.join("a.toml"), 100).unwrap(),
            "x = 1\n"
        );
        assert_eq!(
            read_operator_text(&dir.join("a.toml"), 100).unwrap(),
            "x = 1\n"
        );
        let error = read_entry(&dir.join("a.toml"), 3).unwrap_err();
        assert_eq!(error.to_string(), "it is 6 B, more than the limit of 3 B");
        assert!(
            read_entry(&dir.join("missing.toml"), 3)
                .unwrap_err()
                .is_not_found()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = folder("special");
        let fifo = dir.join("pipe.wasm");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let error = read_entry(&fifo, 100).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it is a named pipe (FIFO), not a regular file"
        );
        let error = read_operator_file(&fifo, 100).unwrap_err();
        assert!(matches!(error, ReadError::NotRegular(_)), "{error}");
        std::fs::create_dir(dir.join("d.wasm")).unwrap();
        let error = read_entry(&dir.join("d.wasm"), 100).unwrap_err();
        assert_eq!(error.to_string(), "it is a directory, not a regular file");
        let error = read_operator_file(Path::new("/dev/zero"), 100).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it is a character device, not a regular file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_stay_inside_the_folder() {
        let dir = folder("links");
        std::fs::create_dir(dir.join("build")).unwrap();
        std::fs::write(dir.join("build/real.wasm"), b"abc").unwrap();
        symlink("build/real.wasm", dir.join("inside.wasm")).unwrap();
        assert_eq!(read_entry(&dir.join("inside.wasm"), 10).unwrap(), b"abc");
        symlink(dir.join("build/real.wasm"), dir.join("absolute.wasm")).unwrap();
        symlink("/dev/zero", dir.join("zero.wasm")).unwrap();
        symlink("../outside.wasm", dir.join("up.wasm")).unwrap();
        for name in ["absolute.wasm", "zero.wasm", "up.wasm"] {
            let error = read_entry(&dir.join(name), 10).unwrap_err();
            assert!(matches!(error, ReadError::Escapes), "{name}: {error}");
        }
        symlink("/dev/zero", dir.join("zero.toml")).unwrap();
        let error = read_operator_file(&dir.join("zero.toml"), 10).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it is a character device, not a regular file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
