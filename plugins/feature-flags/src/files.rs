//! Locating and reading the flag file in the granted directories, with
//! actionable errors. Access is enforced by the host; this module explains
//! refusals.

use std::io;

use warden_plugin::ToolError;
use warden_plugin::fs::{FsFailure, outside_granted_dir};

/// Largest flag file read.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// A directory the host preopened for this plugin (its guest path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub path: String,
}

impl Root {
    pub fn new(path: impl Into<String>) -> Self {
        let path = path.into();
        let trimmed = path.trim_end_matches('/');
        Self {
            path: if trimmed.is_empty() {
                "/".into()
            } else {
                trimmed.into()
            },
        }
    }

    fn contains(&self, path: &str) -> bool {
        self.path == "/"
            || path == self.path
            || (path.starts_with(&self.path) && path.as_bytes().get(self.path.len()) == Some(&b'/'))
    }
}

/// The host's preopened directories (`wasi:filesystem/preopens`).
#[cfg(all(target_os = "wasi", target_env = "p2"))]
pub fn discover_roots() -> Vec<Root> {
    wasip2::filesystem::preopens::get_directories()
        .into_iter()
        .map(|(_, path)| Root::new(path))
        .collect()
}

/// Outside WASI 0.2 there is no preopen API: `/config` when it exists.
#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
pub fn discover_roots() -> Vec<Root> {
    ["/config"]
        .iter()
        .filter(|p| std::path::Path::new(p).is_dir())
        .map(|p| Root::new(*p))
        .collect()
}

/// The path of the flag file: `flags.json` in `config_dir` by default; a
/// relative `file` is relative to `config_dir`. `.` and empty components are
/// removed, `..` is kept (the host decides where it leads).
pub fn flag_file_path(file: Option<&str>, config_dir: &str) -> Result<String, ToolError> {
    let file = file.map(str::trim).unwrap_or("flags.json");
    if file.is_empty() {
        return Err(ToolError::invalid_arguments(format!(
            "`file` is empty: omit it to read {config_dir}/flags.json"
        )));
    }
    let absolute = if file.starts_with('/') {
        file.to_string()
    } else {
        format!("{config_dir}/{file}")
    };
    let parts: Vec<&str> = absolute
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    Ok(format!("/{}", parts.join("/")))
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn list_roots(roots: &[Root]) -> String {
    if roots.is_empty() {
        return "none is granted: a directory must be requested in the plugin's manifest \
                (`[[capabilities.dirs]]`) and allowed by the operator"
            .into();
    }
    roots
        .iter()
        .map(|r| r.path.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the flag file at `path` (from [`flag_file_path`]) as text.
pub fn read_text(path: &str, roots: &[Root]) -> Result<String, ToolError> {
    let Some(root) = roots
        .iter()
        .filter(|r| r.contains(path))
        .max_by_key(|r| r.path.len())
    else {
        return Err(ToolError::failed(format!(
            "no access to {path}: the plugin can only reach its granted directories ({})",
            list_roots(roots)
        )));
    };
    let read = std::fs::metadata(path).and_then(|meta| {
        if meta.is_dir() {
            Err(io::Error::from(io::ErrorKind::IsADirectory))
        } else if meta.len() > MAX_FILE {
            Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                meta.len().to_string(),
            ))
        } else {
            std::fs::read(path)
        }
    });
    let bytes = read.map_err(|e| read_error(path, &root.path, &e))?;
    String::from_utf8(bytes).map_err(|e| {
        ToolError::failed(format!(
            "malformed flag file {path}: it is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn read_error(path: &str, root: &str, error: &io::Error) -> ToolError {
    if !Root::new(root).contains(&normalize(path)) {
        return outside_granted_dir(path, root);
    }
    match FsFailure::of(error) {
        FsFailure::Denied => ToolError::failed(format!(
            "cannot read {path}: permission denied (read-only or not granted; symbolic links \
             cannot leave {root})"
        )),
        FsFailure::NotFound => {
            let dir = match path.rfind('/') {
                Some(0) | None => "/",
                Some(i) => &path[..i],
            };
            let hint = match json_files(dir) {
                Some(files) if files.is_empty() => format!("; {dir} has no .json files"),
                Some(files) => format!("; .json files in {dir}: {}", files.join(", ")),
                None => String::new(),
            };
            ToolError::failed(format!("flag file {path} does not exist{hint}"))
        }
        FsFailure::IsADirectory => ToolError::failed(format!(
            "cannot read {path}: it is a directory, not a flag file"
        )),
        FsFailure::TooLarge => ToolError::failed(format!(
            "flag file {path} is too large ({error} bytes; at most {MAX_FILE})"
        )),
        _ => ToolError::failed(format!("cannot read {path}: {error}")),
    }
}

/// The `.json` files in `dir`, sorted (at most 20), or `None` when it cannot
/// be listed.
fn json_files(dir: &str) -> Option<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names.truncate(20);
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(e: ToolError) -> String {
        match e {
            ToolError::Failed(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flag_file_paths() {
        assert_eq!(
            flag_file_path(None, "/config").unwrap(),
            "/config/flags.json"
        );
        assert_eq!(
            flag_file_path(Some("other.json"), "/config").unwrap(),
            "/config/other.json"
        );
        assert_eq!(
            flag_file_path(Some("/data//./f.json"), "/config").unwrap(),
            "/data/f.json"
        );
        assert_eq!(
            flag_file_path(Some("../etc/passwd"), "/config").unwrap(),
            "/config/../etc/passwd"
        );
        assert!(matches!(
            flag_file_path(Some(" "), "/config"),
            Err(ToolError::InvalidArguments(_))
        ));
    }

    #[test]
    fn refusals() {
        let roots = [Root::new("/config/")];
        assert_eq!(
            failed(read_text("/etc/passwd", &roots).unwrap_err()),
            "no access to /etc/passwd: the plugin can only reach its granted directories (/config)"
        );
        assert_eq!(
            failed(read_text("/config/flags.json", &[]).unwrap_err()),
            "no access to /config/flags.json: the plugin can only reach its granted directories \
             (none is granted: a directory must be requested in the plugin's manifest \
             (`[[capabilities.dirs]]`) and allowed by the operator)"
        );
        let nf = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(
            failed(read_error("/config/../etc/passwd", "/config", &nf)),
            "access denied to /config/../etc/passwd: the path leads outside the granted \
             directory /config (`..` cannot leave a granted directory)"
        );
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(
            failed(read_error("/config/link.json", "/config", &denied)),
            "cannot read /config/link.json: permission denied (read-only or not granted; \
             symbolic links cannot leave /config)"
        );
    }
}
