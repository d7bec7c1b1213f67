//! Granted directories ("roots"), guest path resolution and the mapping of
//! I/O errors to messages a person can act on.
//!
//! The plugin never enforces access itself: every operation is attempted and
//! the host (wasmtime's WASI implementation on top of cap-std) refuses what
//! was not granted. This module only explains the refusal well.

use std::io;
use std::path::Path;

use warden_plugin::ToolError;
use warden_plugin::fs::{FsFailure, outside_granted_dir};

/// Said instead of the list of granted directories when there is none.
pub const NONE_GRANTED: &str = "none is granted: a directory must be requested in the plugin's \
                                manifest (`[[capabilities.dirs]]`) and allowed by the operator";

/// A directory the host preopened for this plugin, as the guest sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// Absolute guest path, without a trailing `/` (except for `/` itself).
    pub path: String,
    /// Whether the host granted write access (`mode = "rw"`).
    pub writable: bool,
}

impl Root {
    pub fn new(path: impl Into<String>, writable: bool) -> Self {
        Self {
            path: trim_trailing_slash(&path.into()),
            writable,
        }
    }

    /// `read-only` or `read-write`.
    pub fn access(&self) -> &'static str {
        if self.writable {
            "read-write"
        } else {
            "read-only"
        }
    }

    /// Whether `path` (a clean absolute path) is this root or inside it.
    pub fn contains(&self, path: &str) -> bool {
        self.path == "/"
            || path == self.path
            || (path.starts_with(&self.path) && path.as_bytes().get(self.path.len()) == Some(&b'/'))
    }
}

/// The directories this instance can reach.
///
/// Under `wasm32-wasip2` they are the host's preopens
/// (`wasi:filesystem/preopens.get-directories`), and a directory is writable
/// when its descriptor has the `mutate-directory` flag.
#[cfg(all(target_os = "wasi", target_env = "p2"))]
pub fn discover_roots() -> Vec<Root> {
    use wasip2::filesystem::preopens::get_directories;
    use wasip2::filesystem::types::DescriptorFlags;

    let mut roots: Vec<Root> = Vec::new();
    for (descriptor, path) in get_directories() {
        let writable = descriptor
            .get_flags()
            .is_ok_and(|f| f.contains(DescriptorFlags::MUTATE_DIRECTORY));
        let root = Root::new(path, writable);
        if !roots.iter().any(|r| r.path == root.path) {
            roots.push(root);
        }
    }
    roots
}

/// The directories this instance can reach.
///
/// Outside WASI 0.2 there is no preopen API, so the roots are those of a
/// conventional set of guest paths that exist (used by native builds only).
#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
pub fn discover_roots() -> Vec<Root> {
    const CONVENTIONAL: [&str; 5] = ["/workspace", "/data", "/config", "/scratch", "/out"];
    CONVENTIONAL
        .iter()
        .filter_map(|p| {
            let meta = std::fs::metadata(p).ok()?;
            meta.is_dir()
                .then(|| Root::new(*p, !meta.permissions().readonly()))
        })
        .collect()
}

/// `/workspace, /scratch`, or an explanation when there is none.
pub fn list_roots(roots: &[Root]) -> String {
    if roots.is_empty() {
        return NONE_GRANTED.into();
    }
    roots
        .iter()
        .map(|r| r.path.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A path given by the caller, located in the granted directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The path as it is opened and shown: absolute, with `.` components and
    /// repeated `/` removed, `..` kept (the host decides where it leads).
    pub path: String,
    /// `path` with `..` resolved lexically.
    pub normalized: String,
    /// The granted directory `path` is opened in.
    pub root: Root,
}

impl Target {
    /// Whether `..` components lead out of the granted directory.
    pub fn escapes(&self) -> bool {
        !self.root.contains(&self.normalized)
    }

    /// Whether this is the granted directory itself.
    pub fn is_root(&self) -> bool {
        self.normalized == self.root.path
    }
}

/// Locates `input` in the granted directories. Absolute paths are taken as
/// they are; relative ones are relative to the first granted directory.
/// Fails when no granted directory contains the path.
pub fn resolve(input: &str, roots: &[Root]) -> Result<Target, ToolError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(ToolError::invalid_arguments(format!(
            "`path` is empty: give an absolute path inside a granted directory ({})",
            list_roots(roots)
        )));
    }
    let Some(first) = roots.first() else {
        return Err(no_access(input, roots));
    };
    let absolute = if input.starts_with('/') {
        input.to_string()
    } else {
        format!("{}/{input}", first.path)
    };
    let path = clean(&absolute);
    let normalized = normalize(&path);
    let root = roots
        .iter()
        .filter(|r| r.contains(&path))
        .max_by_key(|r| r.path.len())
        .cloned()
        .ok_or_else(|| no_access(&path, roots))?;
    Ok(Target {
        path,
        normalized,
        root,
    })
}

/// The error for a path that no granted directory contains.
pub fn no_access(path: &str, roots: &[Root]) -> ToolError {
    ToolError::failed(format!(
        "no access to {path}: the plugin can only reach its granted directories ({})",
        list_roots(roots)
    ))
}

/// Removes empty and `.` components; keeps `..`. `path` must be absolute.
pub fn clean(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// Resolves `..` lexically (`/a/../..` is `/`). `path` must be absolute.
pub fn normalize(path: &str) -> String {
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

/// `path` joined with `name`.
pub fn join(path: &str, name: &str) -> String {
    if path.ends_with('/') {
        format!("{path}{name}")
    } else {
        format!("{path}/{name}")
    }
}

/// The parent directory of a clean absolute path (`/` for `/x`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn trim_trailing_slash(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() && path.starts_with('/') {
        "/".into()
    } else {
        trimmed.into()
    }
}

/// What an operation does with a path, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    List,
    Stat,
    Search,
    Write,
    CreateDir,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::List => "list",
            Op::Stat => "stat",
            Op::Search => "search",
            Op::Write => "write",
            Op::CreateDir => "create directory",
        }
    }

    fn writes(self) -> bool {
        matches!(self, Op::Write | Op::CreateDir)
    }
}

/// Turns an I/O error on `target` into an actionable message.
///
/// `symlink` is the first symbolic link on the way to the target, if any
/// (see [`find_symlink`]), as `(link, its target)` (the target is empty when
/// it could not be read).
pub fn io_error(
    op: Op,
    target: &Target,
    error: &io::Error,
    symlink: Option<(String, String)>,
) -> ToolError {
    let path = &target.path;
    let root = &target.root.path;
    warden_plugin::log::debug(format!(
        "{} {path}: {error} (kind {:?}, os error {:?})",
        op.verb(),
        error.kind(),
        error.raw_os_error()
    ));
    if target.escapes() {
        return outside_granted_dir(path, root);
    }
    match FsFailure::of(error) {
        FsFailure::Denied => denied(op, target, symlink),
        FsFailure::NotFound if op == Op::Write => ToolError::failed(format!(
            "cannot write {path}: the directory {} does not exist (pass create_dirs: true to \
             create it)",
            parent(path)
        )),
        FsFailure::NotFound => ToolError::failed(format!(
            "{path} does not exist (list {} to see what is there)",
            parent(&target.normalized)
        )),
        FsFailure::IsADirectory => ToolError::failed(format!(
            "cannot {} {path}: it is a directory (use `list` to see its contents)",
            op.verb()
        )),
        FsFailure::NotADirectory if op == Op::List => {
            ToolError::failed(format!("cannot list {path}: it is a file, not a directory"))
        }
        FsFailure::NotADirectory => ToolError::failed(format!(
            "cannot {} {path}: a component of the path is a file, not a directory",
            op.verb()
        )),
        _ => ToolError::failed(format!("cannot {} {path}: {error}", op.verb())),
    }
}

/// The message for a refusal by the host: a symbolic link leading out of the
/// granted directory, a write to a read-only one, or no grant.
fn denied(op: Op, target: &Target, symlink: Option<(String, String)>) -> ToolError {
    let path = &target.path;
    let root = &target.root.path;
    if let Some((link, to)) = symlink {
        let to = if to.is_empty() {
            String::new()
        } else {
            format!(" to {to}")
        };
        return ToolError::failed(format!(
            "access denied to {path}: {link} is a symbolic link{to}, which leads outside \
             the granted directory {root} (symbolic links cannot leave a granted directory)"
        ));
    }
    if op.writes() && !target.root.writable {
        return ToolError::failed(format!(
            "cannot {} {path}: this plugin has read-only access to {root}",
            op.verb()
        ));
    }
    ToolError::failed(format!(
        "cannot {} {path}: permission denied (read-only or not granted)",
        op.verb()
    ))
}

/// The first symbolic link on the way from the target's granted directory to
/// the target, with what it points to (empty when the host refuses to say).
pub fn find_symlink(target: &Target) -> Option<(String, String)> {
    let rest = target.path.strip_prefix(&target.root.path)?;
    let mut current = target.root.path.clone();
    for part in rest.split('/').filter(|p| !p.is_empty()) {
        if part == ".." {
            return None;
        }
        current = join(&current, part);
        let meta = std::fs::symlink_metadata(Path::new(&current)).ok()?;
        if meta.file_type().is_symlink() {
            // The host may refuse to read a link that points outside.
            let to = std::fs::read_link(&current)
                .map_or_else(|_| String::new(), |p| p.display().to_string());
            return Some((current, to));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Vec<Root> {
        vec![Root::new("/workspace", false), Root::new("/scratch/", true)]
    }

    fn failed(e: ToolError) -> String {
        match e {
            ToolError::Failed(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cleans_and_normalizes() {
        assert_eq!(clean("/a//./b/../c/"), "/a/b/../c");
        assert_eq!(normalize("/a//./b/../c/"), "/a/c");
        assert_eq!(normalize("/a/../../.."), "/");
        assert_eq!(clean("/"), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(Root::new("/", true).path, "/");
        assert_eq!(Root::new("/out//", true).path, "/out");
    }

    #[test]
    fn root_containment_is_by_component() {
        let r = Root::new("/work", false);
        assert!(r.contains("/work"));
        assert!(r.contains("/work/a"));
        assert!(!r.contains("/workspace"));
        assert!(Root::new("/", false).contains("/anything"));
    }

    #[test]
    fn resolves_paths() {
        let r = roots();
        let t = resolve("/workspace/./notes//a.md", &r).unwrap();
        assert_eq!(t.path, "/workspace/notes/a.md");
        assert_eq!(t.root.path, "/workspace");
        assert!(!t.escapes());
        assert!(!t.is_root());
        let t = resolve("notes/a.md", &r).unwrap();
        assert_eq!(t.path, "/workspace/notes/a.md");
        let t = resolve("/scratch", &r).unwrap();
        assert!(t.is_root() && t.root.writable);
        let t = resolve("/workspace/sub/../a.md", &r).unwrap();
        assert_eq!(t.path, "/workspace/sub/../a.md");
        assert_eq!(t.normalized, "/workspace/a.md");
        assert!(!t.escapes());
        let t = resolve("/workspace/../etc/passwd", &r).unwrap();
        assert!(t.escapes());
        assert_eq!(t.normalized, "/etc/passwd");
        let t = resolve("../etc/passwd", &r).unwrap();
        assert_eq!(t.path, "/workspace/../etc/passwd");
        assert!(t.escapes());
    }

    #[test]
    fn paths_outside_roots_are_refused() {
        let r = roots();
        assert_eq!(
            failed(resolve("/etc/passwd", &r).unwrap_err()),
            "no access to /etc/passwd: the plugin can only reach its granted directories \
             (/workspace, /scratch)"
        );
        assert!(failed(resolve("/workspacex/a", &r).unwrap_err()).starts_with("no access to"));
        assert_eq!(
            failed(resolve("/etc/passwd", &[]).unwrap_err()),
            "no access to /etc/passwd: the plugin can only reach its granted directories (none \
             is granted: a directory must be requested in the plugin's manifest \
             (`[[capabilities.dirs]]`) and allowed by the operator)"
        );
        let ToolError::InvalidArguments(m) = resolve("  ", &r).unwrap_err() else {
            panic!()
        };
        assert!(m.contains("`path` is empty"), "{m}");
    }

    #[test]
    fn maps_denials() {
        let r = roots();
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let ro = resolve("/workspace/x.md", &r).unwrap();
        assert_eq!(
            failed(io_error(Op::Write, &ro, &denied, None)),
            "cannot write /workspace/x.md: this plugin has read-only access to /workspace"
        );
        assert_eq!(
            failed(io_error(Op::CreateDir, &ro, &denied, None)),
            "cannot create directory /workspace/x.md: this plugin has read-only access to \
             /workspace"
        );
        let rw = resolve("/scratch/x.md", &r).unwrap();
        assert_eq!(
            failed(io_error(Op::Write, &rw, &denied, None)),
            "cannot write /scratch/x.md: permission denied (read-only or not granted)"
        );
        assert_eq!(
            failed(io_error(Op::Read, &ro, &denied, None)),
            "cannot read /workspace/x.md: permission denied (read-only or not granted)"
        );
        let esc = resolve("/workspace/../etc/passwd", &r).unwrap();
        for e in [&denied, &io::Error::from(io::ErrorKind::NotFound)] {
            assert_eq!(
                failed(io_error(Op::Read, &esc, e, None)),
                "access denied to /workspace/../etc/passwd: the path leads outside the granted \
                 directory /workspace (`..` cannot leave a granted directory)"
            );
        }
        let link = resolve("/workspace/link/passwd", &r).unwrap();
        let m = failed(io_error(
            Op::Read,
            &link,
            &denied,
            Some(("/workspace/link".into(), "/etc".into())),
        ));
        assert_eq!(
            m,
            "access denied to /workspace/link/passwd: /workspace/link is a symbolic link to \
             /etc, which leads outside the granted directory /workspace (symbolic links cannot \
             leave a granted directory)"
        );
        let m = failed(io_error(
            Op::Write,
            &link,
            &denied,
            Some(("/workspace/link".into(), String::new())),
        ));
        assert_eq!(
            m,
            "access denied to /workspace/link/passwd: /workspace/link is a symbolic link, which \
             leads outside the granted directory /workspace (symbolic links cannot leave a \
             granted directory)"
        );
        // Raw errno values count as denials too.
        #[cfg(not(target_os = "wasi"))]
        assert_eq!(
            failed(io_error(
                Op::Read,
                &ro,
                &io::Error::from_raw_os_error(13),
                None
            )),
            "cannot read /workspace/x.md: permission denied (read-only or not granted)"
        );
    }

    #[test]
    fn maps_other_errors() {
        let r = roots();
        let t = resolve("/scratch/a/b.md", &r).unwrap();
        let nf = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(
            failed(io_error(Op::Write, &t, &nf, None)),
            "cannot write /scratch/a/b.md: the directory /scratch/a does not exist (pass \
             create_dirs: true to create it)"
        );
        assert_eq!(
            failed(io_error(Op::Read, &t, &nf, None)),
            "/scratch/a/b.md does not exist (list /scratch/a to see what is there)"
        );
        let dir = io::Error::from(io::ErrorKind::IsADirectory);
        assert!(failed(io_error(Op::Read, &t, &dir, None)).contains("it is a directory"));
        let other = io::Error::other("disk on fire");
        assert_eq!(
            failed(io_error(Op::Stat, &t, &other, None)),
            "cannot stat /scratch/a/b.md: disk on fire"
        );
    }
}
