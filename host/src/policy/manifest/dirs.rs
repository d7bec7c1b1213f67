//! Directories a plugin may ask to open: the host path, the path the guest
//! sees, and the access mode.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A directory a plugin asks to open (`[[capabilities.dirs]]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DirGrant {
    /// The host directory, relative to the workspace root; it has no root,
    /// no `..` and is not empty. The host resolves and checks it later.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: GuestPath,
    /// Read-only unless `rw` was asked for.
    pub mode: DirMode,
}

/// Checks the `host` side of a directory grant; returns the reason it is not valid.
pub(crate) fn check_host_dir(dir: &str) -> Result<PathBuf, String> {
    if dir.is_empty() {
        return Err("the directory cannot be empty (use \".\" for the workspace root)".into());
    }
    if dir.starts_with('~') {
        return Err("'~' is not expanded: give a path relative to the workspace root".into());
    }
    let path = Path::new(dir);
    if path.is_absolute() || dir.starts_with(['/', '\\']) {
        return Err("it must be relative to the workspace root, not absolute".into());
    }
    for component in path.components() {
        match component {
            Component::ParentDir => {
                return Err("'..' is not allowed: it must stay inside the workspace".into());
            }
            Component::Prefix(_) | Component::RootDir => {
                return Err("it must be relative to the workspace root, not absolute".into());
            }
            Component::CurDir | Component::Normal(_) => {}
        }
    }
    Ok(path.to_path_buf())
}

/// An absolute path inside the guest, in normal form: starts with `/`, no
/// empty, `.` or `..` segments, no trailing `/` (except `/` itself).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GuestPath(String);

/// A string that is not a valid [`GuestPath`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{value:?} is not a valid guest path: {reason}")]
pub struct GuestPathError {
    /// The rejected path.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl GuestPath {
    /// The path as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn normalize(path: &str) -> Result<String, String> {
        if !path.starts_with('/') {
            return Err("it must be absolute (start with '/')".into());
        }
        if path.contains('\0') {
            return Err("it contains a NUL character".into());
        }
        let mut normal = String::with_capacity(path.len());
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            if segment == "." || segment == ".." {
                return Err(format!("{segment:?} segments are not allowed"));
            }
            normal.push('/');
            normal.push_str(segment);
        }
        if normal.is_empty() {
            normal.push('/');
        }
        Ok(normal)
    }
}

impl TryFrom<String> for GuestPath {
    type Error = GuestPathError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match GuestPath::normalize(&value) {
            Ok(normal) => Ok(GuestPath(normal)),
            Err(reason) => Err(GuestPathError { value, reason }),
        }
    }
}

impl FromStr for GuestPath {
    type Err = GuestPathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GuestPath::try_from(s.to_owned())
    }
}

impl From<GuestPath> for String {
    fn from(path: GuestPath) -> String {
        path.0
    }
}

impl AsRef<str> for GuestPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GuestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// Access to a granted directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DirMode {
    /// `ro`: read files and list directories (the default).
    #[default]
    #[serde(rename = "ro")]
    ReadOnly,
    /// `rw`: also create, write, rename and delete.
    #[serde(rename = "rw")]
    ReadWrite,
}

impl DirMode {
    /// `"ro"` or `"rw"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DirMode::ReadOnly => "ro",
            DirMode::ReadWrite => "rw",
        }
    }
}

impl fmt::Display for DirMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for DirMode {
    type Err = ();

    /// Parses exactly `"ro"` or `"rw"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ro" => Ok(DirMode::ReadOnly),
            "rw" => Ok(DirMode::ReadWrite),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_are_absolute_and_normalized() {
        for (input, normal) in [
            ("/data", "/data"),
            ("/data/", "/data"),
            ("//data//sub/", "/data/sub"),
            ("/", "/"),
            ("/a.b/..c", "/a.b/..c"),
        ] {
            assert_eq!(input.parse::<GuestPath>().expect(input).as_str(), normal);
        }
        for (bad, reason) in [
            ("data", "it must be absolute (start with '/')"),
            ("", "it must be absolute (start with '/')"),
            ("./data", "it must be absolute (start with '/')"),
            ("/data/../etc", "\"..\" segments are not allowed"),
            ("/./data", "\".\" segments are not allowed"),
            ("/da\0ta", "it contains a NUL character"),
        ] {
            assert_eq!(
                bad.parse::<GuestPath>().unwrap_err().reason,
                reason,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn host_dirs_stay_relative() {
        assert_eq!(check_host_dir("data"), Ok(PathBuf::from("data")));
        assert_eq!(
            check_host_dir("./data/sub"),
            Ok(PathBuf::from("./data/sub"))
        );
        assert_eq!(check_host_dir("."), Ok(PathBuf::from(".")));
        assert!(check_host_dir("").is_err());
        assert!(check_host_dir("/etc").unwrap_err().contains("not absolute"));
        assert!(
            check_host_dir("\\etc")
                .unwrap_err()
                .contains("not absolute")
        );
        assert!(check_host_dir("../secrets").unwrap_err().contains("'..'"));
        assert!(check_host_dir("data/../../x").unwrap_err().contains("'..'"));
        assert!(check_host_dir("~/data").unwrap_err().contains("'~'"));
    }

    #[test]
    fn dir_modes() {
        assert_eq!("ro".parse(), Ok(DirMode::ReadOnly));
        assert_eq!("rw".parse(), Ok(DirMode::ReadWrite));
        assert_eq!("RW".parse::<DirMode>(), Err(()));
        assert_eq!(DirMode::default(), DirMode::ReadOnly);
        assert_eq!(DirMode::ReadWrite.to_string(), "rw");
    }
}
