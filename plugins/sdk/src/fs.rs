//! Explaining filesystem errors in granted directories.
//!
//! A plugin never enforces file access itself: it attempts the operation
//! and the host refuses what was not granted (a directory not requested or
//! not allowed, a write to a read-only grant, `..` or a symbolic link leading
//! outside a granted directory). [`FsFailure::of`] says what a
//! [`std::io::Error`] from such an operation means, so that a tool can tell
//! the caller what to do about it, and [`outside_granted_dir`] is the error for
//! a path whose `..` components leave its granted directory.
//!
//! ```
//! use std::io;
//! use warden_plugin::ToolError;
//! use warden_plugin::fs::FsFailure;
//!
//! fn read_error(path: &str, error: &io::Error) -> ToolError {
//!     match FsFailure::of(error) {
//!         FsFailure::Denied => ToolError::failed(format!("cannot read {path}: not granted")),
//!         FsFailure::NotFound => ToolError::failed(format!("{path} does not exist")),
//!         _ => ToolError::failed(format!("cannot read {path}: {error}")),
//!     }
//! }
//! # let denied = io::Error::from(io::ErrorKind::PermissionDenied);
//! # assert!(matches!(read_error("/data/x", &denied), ToolError::Failed(m) if m.ends_with("not granted")));
//! ```

use std::io;

use crate::ToolError;

/// What a failed filesystem operation in a granted directory means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsFailure {
    /// The host refused: the path is not granted, the grant is read-only,
    /// or a symbolic link leads outside the granted directory (`EACCES`,
    /// `EPERM`, `EROFS`, or WASI's `not-permitted` / `ENOTCAPABLE`).
    Denied,
    /// The file, or a directory on the way to it, does not exist.
    NotFound,
    /// The path is a directory where a file was expected.
    IsADirectory,
    /// The path, or a component of it, is a file where a directory was
    /// expected.
    NotADirectory,
    /// The file is too large (`EFBIG`, or a plugin's own size check
    /// reported as [`io::ErrorKind::FileTooLarge`]).
    TooLarge,
    /// Anything else: the error's own text says what happened.
    Other,
}

impl FsFailure {
    /// Classifies an error from a filesystem operation (`std::fs`), whether
    /// it carries an [`io::ErrorKind`] or only a raw `errno` value (wasi-libc
    /// numbers under WASI, Linux numbers natively).
    pub fn of(error: &io::Error) -> FsFailure {
        // wasi-libc errno values: EACCES 2, EPERM 63, EROFS 69, ENOTCAPABLE 76.
        #[cfg(target_os = "wasi")]
        const DENIED: [i32; 4] = [2, 63, 69, 76];
        // Linux errno values: EPERM 1, EACCES 13, EROFS 30.
        #[cfg(not(target_os = "wasi"))]
        const DENIED: [i32; 3] = [1, 13, 30];
        match error.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                FsFailure::Denied
            }
            _ if error.raw_os_error().is_some_and(|c| DENIED.contains(&c)) => FsFailure::Denied,
            io::ErrorKind::NotFound => FsFailure::NotFound,
            io::ErrorKind::IsADirectory => FsFailure::IsADirectory,
            io::ErrorKind::NotADirectory => FsFailure::NotADirectory,
            io::ErrorKind::FileTooLarge => FsFailure::TooLarge,
            _ => FsFailure::Other,
        }
    }
}

/// The error for `path`, whose `..` components lead outside the granted
/// directory `root` it was opened in (the host refuses such a path whatever
/// error the operation reported).
pub fn outside_granted_dir(path: &str, root: &str) -> ToolError {
    ToolError::failed(format!(
        "access denied to {path}: the path leads outside the granted directory {root} \
         (`..` cannot leave a granted directory)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_kinds() {
        for (kind, failure) in [
            (io::ErrorKind::PermissionDenied, FsFailure::Denied),
            (io::ErrorKind::ReadOnlyFilesystem, FsFailure::Denied),
            (io::ErrorKind::NotFound, FsFailure::NotFound),
            (io::ErrorKind::IsADirectory, FsFailure::IsADirectory),
            (io::ErrorKind::NotADirectory, FsFailure::NotADirectory),
            (io::ErrorKind::FileTooLarge, FsFailure::TooLarge),
            (io::ErrorKind::Other, FsFailure::Other),
        ] {
            assert_eq!(FsFailure::of(&io::Error::from(kind)), failure, "{kind:?}");
        }
        assert_eq!(
            FsFailure::of(&io::Error::other("disk on fire")),
            FsFailure::Other
        );
    }

    #[cfg(not(target_os = "wasi"))]
    #[test]
    fn classifies_raw_denials() {
        for code in [1, 13, 30] {
            assert_eq!(
                FsFailure::of(&io::Error::from_raw_os_error(code)),
                FsFailure::Denied,
                "{code}"
            );
        }
        assert_eq!(
            FsFailure::of(&io::Error::from_raw_os_error(2)),
            FsFailure::NotFound
        );
    }

    #[test]
    fn outside_message() {
        let ToolError::Failed(message) = outside_granted_dir("/data/../etc/passwd", "/data") else {
            panic!("not a failure");
        };
        assert_eq!(
            message,
            "access denied to /data/../etc/passwd: the path leads outside the granted directory \
             /data (`..` cannot leave a granted directory)"
        );
    }
}
