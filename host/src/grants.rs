//! Effective capability grants: what one plugin may actually reach.
//!
//! A plugin's manifest requests capabilities; the operator's policy allows or
//! narrows them; the effective grant is the intersection, resolved at load
//! time into these types. The sandbox turns a [`Grants`] into a WASI context
//! (preopens, environment) and the HTTP hooks consult [`HttpGrant`]; nothing
//! else is ever granted.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::manifest::{Capabilities, DirMode, HttpOrigin};

/// Default cap on outgoing HTTP requests per call.
pub const DEFAULT_HTTP_REQUESTS: u32 = 16;
/// Default cap on one HTTP response body, in bytes.
pub const DEFAULT_HTTP_RESPONSE_BYTES: u64 = 8 << 20;

/// Everything one plugin is granted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Grants {
    /// Outgoing HTTP.
    pub http: HttpGrant,
    /// Preopened directories.
    pub dirs: Vec<DirPreopen>,
    /// Environment variables, with their values.
    pub env: Vec<EnvGrant>,
}

impl Grants {
    /// Whether nothing at all is granted.
    pub fn is_empty(&self) -> bool {
        self.http.origins.is_empty() && self.dirs.is_empty() && self.env.is_empty()
    }
}

impl fmt::Display for Grants {
    /// One line for humans: `http https://api.example.com (16 requests/call,
    /// 8 MiB/response); env API_TOKEN; dirs /work/data -> /data (ro)`, or `none`.
    /// Variable values are never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut parts = Vec::new();
        if !self.http.origins.is_empty() {
            let origins: Vec<String> = self.http.origins.iter().map(ToString::to_string).collect();
            parts.push(format!(
                "http {} ({} requests/call, {}/response)",
                origins.join(", "),
                self.http.max_requests_per_call,
                crate::limits::ByteSize(self.http.max_response_bytes)
            ));
        }
        if !self.env.is_empty() {
            let names: Vec<&str> = self.env.iter().map(|e| e.name.as_str()).collect();
            parts.push(format!("env {}", names.join(", ")));
        }
        if !self.dirs.is_empty() {
            let dirs: Vec<String> = self
                .dirs
                .iter()
                .map(|d| format!("{} -> {} ({})", d.host.display(), d.guest, d.mode.as_str()))
                .collect();
            parts.push(format!("dirs {}", dirs.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Outgoing HTTP a plugin may make.
#[derive(Debug, Clone, Serialize)]
pub struct HttpGrant {
    /// Origins the plugin may reach; empty means no HTTP at all.
    pub origins: Vec<HttpOrigin>,
    /// At most this many requests per call.
    pub max_requests_per_call: u32,
    /// At most this many bytes per response body.
    pub max_response_bytes: u64,
}

impl Default for HttpGrant {
    fn default() -> Self {
        Self {
            origins: Vec::new(),
            max_requests_per_call: DEFAULT_HTTP_REQUESTS,
            max_response_bytes: DEFAULT_HTTP_RESPONSE_BYTES,
        }
    }
}

/// A host directory mapped into the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirPreopen {
    /// The host directory: absolute, canonical, inside the workspace root.
    pub host: PathBuf,
    /// Where the guest sees it (an absolute guest path).
    pub guest: String,
    /// Read-only or read-write.
    pub mode: DirMode,
}

/// One environment variable a plugin may read.
#[derive(Clone, Serialize)]
pub struct EnvGrant {
    /// The variable's name.
    pub name: String,
    /// Its value; never printed, logged or serialized.
    #[serde(skip)]
    pub value: Secret,
}

impl fmt::Debug for EnvGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvGrant")
            .field("name", &self.name)
            .field("value", &self.value)
            .finish()
    }
}

/// A capability a plugin tried to use without a grant, recorded by the
/// sandbox and reported with the call's result and in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// Which capability was missing: `http`, `fs`, `env` or `socket`.
    pub capability: &'static str,
    /// What was asked for, without secrets (for HTTP: `scheme://host:port`,
    /// never the path or query).
    pub target: String,
    /// Why it was refused, for a person.
    pub reason: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} access to {} denied: {}",
            self.capability, self.target, self.reason
        )
    }
}

/// A secret string whose `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for handing to the sandbox only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a requested capability cannot be granted at all; the plugin does not
/// load until the manifest or the workspace is fixed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// The workspace root itself is unusable.
    #[error("the workspace root {root} cannot be used: {error}")]
    Root {
        /// The configured or current directory.
        root: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A requested directory does not exist (or cannot be resolved).
    #[error("{field}: {host:?} does not exist in the workspace {root} ({error})")]
    DirMissing {
        /// The manifest field, e.g. `capabilities.dirs[0].host`.
        field: String,
        /// The path as written.
        host: PathBuf,
        /// The workspace root.
        root: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A requested directory resolves outside the workspace (a symlink out).
    #[error(
        "{field}: {host:?} resolves to {resolved}, outside the workspace {root}; \
         a plugin may only be granted directories inside the workspace"
    )]
    DirEscapes {
        /// The manifest field.
        field: String,
        /// The path as written.
        host: PathBuf,
        /// Where it leads.
        resolved: PathBuf,
        /// The workspace root.
        root: PathBuf,
    },
    /// A requested directory is a file.
    #[error("{field}: {host:?} is not a directory")]
    NotADirectory {
        /// The manifest field.
        field: String,
        /// The path as written.
        host: PathBuf,
    },
}

/// Resolves requested capabilities into grants.
///
/// Directories resolve against `workspace_root` and must stay inside it after
/// following symlinks; variables take their values from `lookup_env`. A
/// requested variable that is not set is not granted and is reported in the
/// returned notices.
pub fn resolve(
    requested: &Capabilities,
    workspace_root: &Path,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Grants, Vec<String>), GrantError> {
    let mut notices = Vec::new();
    let mut dirs = Vec::new();
    if !requested.dirs.is_empty() {
        let root = workspace_root
            .canonicalize()
            .map_err(|error| GrantError::Root {
                root: workspace_root.to_path_buf(),
                error,
            })?;
        for (index, dir) in requested.dirs.iter().enumerate() {
            let field = format!("capabilities.dirs[{index}].host");
            let resolved =
                root.join(&dir.host)
                    .canonicalize()
                    .map_err(|error| GrantError::DirMissing {
                        field: field.clone(),
                        host: dir.host.clone(),
                        root: root.clone(),
                        error,
                    })?;
            if !resolved.starts_with(&root) {
                return Err(GrantError::DirEscapes {
                    field,
                    host: dir.host.clone(),
                    resolved,
                    root,
                });
            }
            if !resolved.is_dir() {
                return Err(GrantError::NotADirectory {
                    field,
                    host: dir.host.clone(),
                });
            }
            dirs.push(DirPreopen {
                host: resolved,
                guest: dir.guest.as_str().to_string(),
                mode: dir.mode,
            });
        }
    }
    let mut env = Vec::new();
    for name in &requested.env {
        match lookup_env(name.as_str()) {
            Some(value) => env.push(EnvGrant {
                name: name.as_str().to_string(),
                value: Secret::new(value),
            }),
            None => notices.push(format!(
                "environment variable {} is requested but not set; the plugin will not see it",
                name.as_str()
            )),
        }
    }
    let grants = Grants {
        http: HttpGrant {
            origins: requested.http.clone(),
            ..HttpGrant::default()
        },
        dirs,
        env,
    };
    Ok((grants, notices))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(toml: &str) -> Capabilities {
        let text = format!("manifest_version = 1\n[capabilities]\n{toml}");
        crate::manifest::Manifest::parse(&text, Path::new("p.toml"))
            .expect("manifest")
            .capabilities
    }

    #[test]
    fn directories_resolve_inside_the_workspace() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("data/sub")).unwrap();
        let requested =
            caps("[[capabilities.dirs]]\nhost = \"data/sub\"\nguest = \"/d\"\nmode = \"rw\"\n");
        let (grants, notices) = resolve(&requested, root.path(), &|_| None).unwrap();
        assert!(notices.is_empty());
        assert_eq!(grants.dirs.len(), 1);
        assert!(grants.dirs[0].host.ends_with("data/sub"));
        assert_eq!(grants.dirs[0].guest, "/d");
        assert_eq!(grants.dirs[0].mode, DirMode::ReadWrite);
    }

    #[test]
    fn missing_directories_and_symlinks_out_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let missing = caps("[[capabilities.dirs]]\nhost = \"nope\"\nguest = \"/d\"\n");
        let error = resolve(&missing, root.path(), &|_| None).unwrap_err();
        assert!(
            error.to_string().contains("capabilities.dirs[0].host"),
            "{error}"
        );
        assert!(error.to_string().contains("does not exist"), "{error}");

        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let escape = caps("[[capabilities.dirs]]\nhost = \"link\"\nguest = \"/d\"\n");
        let error = resolve(&escape, root.path(), &|_| None).unwrap_err();
        assert!(matches!(error, GrantError::DirEscapes { .. }), "{error}");
        assert!(
            error.to_string().contains("outside the workspace"),
            "{error}"
        );
    }

    #[test]
    fn unset_variables_are_reported_not_granted() {
        let requested = caps("env = [\"SET_ONE\", \"UNSET_ONE\"]\n");
        let lookup = |name: &str| (name == "SET_ONE").then(|| "v".to_string());
        let (grants, notices) = resolve(&requested, Path::new("."), &lookup).unwrap();
        assert_eq!(grants.env.len(), 1);
        assert_eq!(grants.env[0].name, "SET_ONE");
        assert_eq!(notices.len(), 1);
        assert!(notices[0].contains("UNSET_ONE"), "{notices:?}");
        assert!(!grants.to_string().contains('v') || !grants.to_string().contains("=v"));
    }

    #[test]
    fn secrets_never_print() {
        let grant = EnvGrant {
            name: "TOKEN".into(),
            value: Secret::new("hunter2"),
        };
        assert!(!format!("{grant:?}").contains("hunter2"));
        assert!(!format!("{}", grant.value).contains("hunter2"));
        assert!(!serde_json::to_string(&grant).unwrap().contains("hunter2"));
        assert_eq!(grant.value.expose(), "hunter2");
    }
}
