//! Directory grants: resolved once at load, held open for the life of the
//! server, and checked against each other.
//!
//! A granted directory is opened when the plugin loads, by resolving its path
//! inside the workspace root without ever leaving it (cap-std's sandboxed
//! lookup: `..` and symlinks that lead out are refused). The open handle is
//! kept, and every call is given *that* directory again through
//! `/proc/self/fd/N`, never the path: renaming the directory, or putting a
//! symlink where it was, changes nothing for later calls. A grant therefore
//! always means the directory that was checked.
//!
//! Handles do not stop a writer from changing what another plugin reads, so
//! [`conflicts`] finds grants that a read-write grant contains, or that
//! contain a read-write grant (of the same plugin or another): the operator
//! refuses those plugins (the default) or accepts them with a warning
//! (`policy.overlapping_dirs`). Paths are compared both as written (joined to
//! the workspace root) and as resolved, so a symlink that a plugin plants in
//! its own writable directory cannot route another grant through it, then
//! or after a restart.

use std::fmt;
use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::policy::manifest::DirMode;

use super::GrantError;

/// A host directory mapped into the guest.
#[derive(Clone, Serialize)]
pub struct DirPreopen {
    /// The host directory: absolute, resolved when it was opened, inside the
    /// workspace root.
    pub host: PathBuf,
    /// Where the guest sees it (an absolute guest path).
    pub guest: String,
    /// Read-only or read-write.
    pub mode: DirMode,
    /// The path as the manifest wrote it, joined to the workspace root and
    /// normalized (no symlinks followed).
    #[serde(skip)]
    pub written: PathBuf,
    #[serde(skip)]
    held: Arc<HeldDir>,
}

impl fmt::Debug for DirPreopen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirPreopen")
            .field("host", &self.host)
            .field("guest", &self.guest)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for DirPreopen {
    /// `/work/data -> /data (ro)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} ({})",
            self.host.display(),
            self.guest,
            self.mode.as_str()
        )
    }
}

impl PartialEq for DirPreopen {
    fn eq(&self, other: &Self) -> bool {
        self.host == other.host && self.guest == other.guest && self.mode == other.mode
    }
}

impl Eq for DirPreopen {}

impl DirPreopen {
    /// Opens `relative` inside the already open workspace `root` (at
    /// `root_path`) and holds it. Lookups never leave the root.
    pub fn open(
        root: &File,
        root_path: &Path,
        relative: &Path,
        guest: &str,
        mode: DirMode,
    ) -> std::io::Result<Self> {
        let dir = cap_primitives::fs::open_dir(root, relative)?;
        let held = HeldDir::new(dir)?;
        let host = std::fs::read_link(&held.open_path)?;
        if !host.starts_with(root_path) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("resolved to {}, outside the workspace", host.display()),
            ));
        }
        Ok(Self {
            host,
            guest: guest.to_string(),
            mode,
            written: normalize(&root_path.join(relative)),
            held: Arc::new(held),
        })
    }

    /// Opens an absolute host directory as it is (for benches and tools that
    /// build grants by hand; plugins' grants come from [`super::resolve`]).
    pub fn open_absolute(host: &Path, guest: &str, mode: DirMode) -> std::io::Result<Self> {
        let dir = cap_primitives::fs::open_ambient_dir(host, cap_primitives::ambient_authority())?;
        let held = HeldDir::new(dir)?;
        Ok(Self {
            host: std::fs::read_link(&held.open_path)?,
            guest: guest.to_string(),
            mode,
            written: normalize(host),
            held: Arc::new(held),
        })
    }

    /// Whether `other` grants the same directory the same way: equal paths
    /// and mode, and the held directory is the same one on disk (device and
    /// inode), so a directory swapped in under the same path differs.
    pub fn same_grant(&self, other: &Self) -> bool {
        self == other && self.written == other.written && self.held.id == other.held.id
    }

    /// The same grant with another mode (the operator narrowed it).
    pub fn with_mode(self, mode: DirMode) -> Self {
        Self { mode, ..self }
    }

    /// The path that opens the held directory itself (`/proc/self/fd/N`):
    /// what the sandbox preopens for each call.
    pub fn open_path(&self) -> &Path {
        &self.held.open_path
    }
}

/// A directory kept open for the life of the server.
struct HeldDir {
    /// Keeps the descriptor that `open_path` names alive.
    _dir: File,
    open_path: PathBuf,
    /// Device and inode of the held directory.
    id: (u64, u64),
}

impl HeldDir {
    fn new(dir: File) -> std::io::Result<Self> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;

        let open_path = PathBuf::from(format!("{}/{}", FD_DIR, dir.as_raw_fd()));
        // The magic link must lead to this very directory; without procfs
        // a grant cannot be pinned, and is refused rather than served by path.
        let held = dir.metadata()?;
        let seen = std::fs::metadata(&open_path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot pin the directory through {FD_DIR} ({e}); is /proc mounted?"),
            )
        })?;
        if (held.dev(), held.ino()) != (seen.dev(), seen.ino()) {
            return Err(std::io::Error::other(format!(
                "{FD_DIR} does not lead to the opened directory; is /proc mounted?"
            )));
        }
        Ok(Self {
            _dir: dir,
            open_path,
            id: (held.dev(), held.ino()),
        })
    }
}

/// Where a process sees its own descriptors as paths.
#[cfg(target_os = "linux")]
const FD_DIR: &str = "/proc/self/fd";
#[cfg(not(target_os = "linux"))]
const FD_DIR: &str = "/dev/fd";

/// `path` with `.` and `..` components resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `policy.overlapping_dirs`: what happens to a plugin whose read-write
/// directory overlaps another granted directory (see [`conflicts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverlappingDirs {
    /// The plugin holding the read-write grant does not load.
    #[default]
    Refuse,
    /// It loads, with a warning in the log and in `warden list`.
    Warn,
}

/// One directory grant of one plugin, as [`conflicts`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct DirClaim<'a> {
    /// The plugin holding the grant.
    pub plugin: &'a str,
    /// The grant.
    pub dir: &'a DirPreopen,
}

/// Two grants that overlap while at least one of them is writable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirConflict {
    /// The plugin whose read-write grant overlaps the other grant.
    pub writer: String,
    /// The writable grant's host directory.
    pub writer_dir: PathBuf,
    /// The plugin holding the other grant (may be the writer itself).
    pub other: String,
    /// The other grant's host directory.
    pub other_dir: PathBuf,
    /// The other grant's mode.
    pub other_mode: DirMode,
}

impl fmt::Display for DirConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whose = if self.writer == self.other {
            "its own".to_string()
        } else {
            format!("plugin `{}`'s", self.other)
        };
        write!(
            f,
            "its read-write directory {} overlaps {whose} {} directory {}: a plugin that can \
             write there can change or move what the other grant shows",
            self.writer_dir.display(),
            self.other_mode.as_str(),
            self.other_dir.display(),
        )
    }
}

/// Every pair of grants where a read-write grant contains, equals or lies
/// inside another grant (as written or as resolved). A plugin with two
/// read-write grants that overlap is reported once per direction.
pub fn conflicts(claims: &[DirClaim<'_>]) -> Vec<DirConflict> {
    let mut found = Vec::new();
    for (i, writer) in claims.iter().enumerate() {
        if writer.dir.mode != DirMode::ReadWrite {
            continue;
        }
        for (j, other) in claims.iter().enumerate() {
            if i == j || !overlap(writer.dir, other.dir) {
                continue;
            }
            found.push(DirConflict {
                writer: writer.plugin.to_string(),
                writer_dir: writer.dir.host.clone(),
                other: other.plugin.to_string(),
                other_dir: other.dir.host.clone(),
                other_mode: other.dir.mode,
            });
        }
    }
    found
}

/// The first of Warden's own paths (plugins folder, config, lock, cache,
/// audit and spans files) that lies inside `dir`, as written or as resolved.
/// A plugin that can write there could replace other plugins, approve its
/// own growth or rewrite the audit trail.
pub fn protected_inside<'a>(dir: &DirPreopen, protected: &'a [PathBuf]) -> Option<&'a PathBuf> {
    protected.iter().find(|path| {
        let resolved = path.canonicalize().unwrap_or_else(|_| normalize(path));
        [&dir.host, &dir.written]
            .iter()
            .any(|grant| resolved.starts_with(grant) || normalize(path).starts_with(grant))
    })
}

/// Whether one grant's directory is inside (or is) the other's, comparing
/// every combination of written and resolved paths.
pub(super) fn overlap(a: &DirPreopen, b: &DirPreopen) -> bool {
    let paths = |d: &DirPreopen| [d.host.clone(), d.written.clone()];
    paths(a).iter().any(|pa| {
        paths(b)
            .iter()
            .any(|pb| pa.starts_with(pb) || pb.starts_with(pa))
    })
}

/// Opens the workspace root once per resolution.
pub(super) fn open_root(root: &Path) -> Result<File, GrantError> {
    cap_primitives::fs::open_ambient_dir(root, cap_primitives::ambient_authority()).map_err(
        |error| GrantError::Root {
            root: root.to_path_buf(),
            error,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(root: &Path, rel: &str, mode: DirMode) -> DirPreopen {
        let canonical = root.canonicalize().unwrap();
        let file = open_root(&canonical).unwrap();
        DirPreopen::open(&file, &canonical, Path::new(rel), "/g", mode).unwrap()
    }

    #[test]
    fn a_held_directory_survives_a_swap() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("data")).unwrap();
        std::fs::write(root.path().join("data/inside.txt"), "in").unwrap();
        std::fs::write(outside.path().join("secret.txt"), "out").unwrap();
        let grant = held(root.path(), "data", DirMode::ReadOnly);

        std::fs::rename(root.path().join("data"), root.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("data")).unwrap();

        let reopened = std::fs::read_dir(grant.open_path()).unwrap();
        let names: Vec<String> = reopened
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["inside.txt"]);
    }

    #[test]
    fn lookups_stay_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        let canonical = root.path().canonicalize().unwrap();
        let file = open_root(&canonical).unwrap();
        assert!(
            DirPreopen::open(&file, &canonical, Path::new("out"), "/g", DirMode::ReadOnly).is_err()
        );
    }

    #[test]
    fn writable_grants_may_not_overlap_others() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a/b")).unwrap();
        std::fs::create_dir_all(root.path().join("c")).unwrap();
        let a_rw = held(root.path(), "a", DirMode::ReadWrite);
        let b_ro = held(root.path(), "a/b", DirMode::ReadOnly);
        let c_ro = held(root.path(), "c", DirMode::ReadOnly);
        let c_ro2 = held(root.path(), "c", DirMode::ReadOnly);

        let claims = [
            DirClaim {
                plugin: "w",
                dir: &a_rw,
            },
            DirClaim {
                plugin: "r",
                dir: &b_ro,
            },
            DirClaim {
                plugin: "x",
                dir: &c_ro,
            },
            DirClaim {
                plugin: "y",
                dir: &c_ro2,
            },
        ];
        let found = conflicts(&claims);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].writer, "w");
        assert_eq!(found[0].other, "r");
        assert!(found[0].to_string().contains("plugin `r`'s ro directory"));
    }

    #[test]
    fn a_symlink_inside_a_writable_grant_counts_as_inside() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("w")).unwrap();
        std::fs::create_dir_all(root.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("../elsewhere", root.path().join("w/link")).unwrap();
        let writer = held(root.path(), "w", DirMode::ReadWrite);
        let routed = held(root.path(), "w/link", DirMode::ReadOnly);
        assert!(routed.host.ends_with("elsewhere"));
        let claims = [
            DirClaim {
                plugin: "w",
                dir: &writer,
            },
            DirClaim {
                plugin: "r",
                dir: &routed,
            },
        ];
        assert_eq!(conflicts(&claims).len(), 1);
    }
}
