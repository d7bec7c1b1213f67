//! Plugin manifests: the optional `NAME.toml` beside a `NAME.wasm`.
//!
//! ```toml
//! manifest_version = 1            # required, read first
//! name = "text"                   # optional, defaults to the file stem
//! version = "0.1.0"               # optional, semver
//! description = "Hashes, base64, UUIDs, JSON queries"
//!
//! [capabilities]                  # requested; the operator decides what is granted
//! http = ["https://api.example.com", "https://*.github.com:8443"]
//! env = ["API_TOKEN"]
//! [[capabilities.dirs]]
//! host = "data"                   # relative to the workspace root
//! guest = "/data"                 # absolute path in the guest
//! mode = "ro"                     # "ro" (default) or "rw"
//!
//! [limits]                        # requested; clamped to the operator's ceilings
//! fuel = 5_000_000_000
//! memory = "128MiB"
//! timeout = "5s"
//! max_output = "1MiB"
//! max_log = "64KiB"
//!
//! [build]                         # optional, read only by `warden build`
//! command = "./build"             # run by `sh -c` in the manifest's folder
//! output = "target/text.wasm"     # the component it writes, relative to it
//! ```
//!
//! Loading reads `manifest_version` alone first, then parses the file with the
//! schema of that version (`v1`), refusing unknown keys everywhere. Every
//! value is checked and turned into a type ([`PluginName`], [`HttpOrigin`],
//! [`EnvVarName`], [`DirGrant`], [`LimitsRequest`]); a [`ManifestError`] names
//! the file, the field and what is wrong with it.

pub(crate) mod capabilities;
mod credentials;
mod dirs;
mod name;
mod origin;
mod v1;

use crate::input::bounded_file::{ReadError, TEXT_LIMIT, read_entry_text};
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use self::capabilities::{Capabilities, ClientFeature, EnvVarName, EnvVarNameError};
pub use self::credentials::{CredentialFormat, CredentialHeader, CredentialRequest};
pub use self::dirs::{DirGrant, DirMode, GuestPath, GuestPathError};
pub use self::name::{PluginName, PluginNameError};
pub(crate) use self::origin::looks_like_legacy_ipv4;
pub use self::origin::{HostPattern, HttpOrigin, HttpOriginError, Scheme};
use crate::limits::LimitValueError;
pub use crate::limits::LimitsRequest;

/// The `manifest_version` values this host understands.
pub const SUPPORTED_VERSIONS: &[i64] = &[1];

/// A plugin's validated manifest.
///
/// Serializes (for `warden list --json`) without the file path; origins,
/// variable names and paths serialize as strings, limits with explicit units
/// (see [`LimitsRequest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// The file this was read from; `None` for a plugin without a manifest.
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// The plugin's name: `name`, or the file stem.
    pub name: PluginName,
    /// The plugin's own version.
    pub version: Option<semver::Version>,
    /// What the plugin does, for humans.
    pub description: Option<String>,
    /// Requested capabilities (`[capabilities]`).
    pub capabilities: Capabilities,
    /// Requested limits (`[limits]`).
    pub limits: LimitsRequest,
    /// How the plugin's project builds its component (`[build]`); only
    /// `warden build` reads it.
    pub build: Option<BuildRecipe>,
}

/// The `[build]` section of a plugin project's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildRecipe {
    /// The shell command that builds the component, run by `sh -c` in the
    /// manifest's folder.
    pub command: String,
    /// The component the command writes, relative to the manifest's folder.
    pub output: PathBuf,
}

impl Manifest {
    /// The manifest of a plugin that has no `NAME.toml`: no capabilities, no
    /// limit requests.
    pub fn for_name(name: PluginName) -> Manifest {
        Manifest {
            path: None,
            name,
            version: None,
            description: None,
            capabilities: Capabilities::default(),
            limits: LimitsRequest::default(),
            build: None,
        }
    }

    /// Where the manifest of the component at `wasm` lives: `NAME.toml` beside
    /// `NAME.wasm`.
    pub fn sidecar_path(wasm: &Path) -> PathBuf {
        wasm.with_extension("toml")
    }

    /// Loads the manifest for the component at `wasm`: its
    /// [sidecar](Self::sidecar_path) if there is one, otherwise
    /// [`Manifest::for_name`] with the file stem as the name.
    pub fn load_for_component(wasm: &Path) -> Result<Manifest, ManifestError> {
        let sidecar = Self::sidecar_path(wasm);
        match read_entry_text(&sidecar, TEXT_LIMIT) {
            Ok(text) => Self::parse(&text, &sidecar),
            Err(e) if e.is_not_found() => Ok(Self::for_name(name_from_file(wasm)?)),
            Err(error) => Err(ManifestError::Read {
                path: sidecar,
                error,
            }),
        }
    }

    /// Reads and parses the manifest file at `path`, an entry of the plugins
    /// folder (a regular file of at most [`TEXT_LIMIT`] bytes, see
    /// [`crate::input::bounded_file`]).
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = read_entry_text(path, TEXT_LIMIT).map_err(|error| ManifestError::Read {
            path: path.to_owned(),
            error,
        })?;
        Self::parse(&text, path)
    }

    /// Parses a manifest's bytes (read by the caller, say to keep them),
    /// which must be UTF-8; `path` as for [`Manifest::parse`].
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ManifestError::Read {
            path: path.to_owned(),
            error: crate::input::bounded_file::ReadError::NotUtf8,
        })?;
        Self::parse(text, path)
    }

    /// Parses manifest text. `path` names the file in errors, gives the
    /// default name (its stem) and is kept in [`Manifest::path`].
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let toml_error = |error| ManifestError::Toml {
            path: path.to_owned(),
            error,
        };
        let probe: VersionProbe = toml::from_str(text).map_err(toml_error)?;
        match probe.manifest_version {
            None => Err(ManifestError::MissingVersion {
                path: path.to_owned(),
            }),
            Some(toml::Value::Integer(1)) => {
                let raw: v1::RawManifest = toml::from_str(text).map_err(toml_error)?;
                raw.validate(path)
            }
            Some(other) => Err(ManifestError::UnsupportedVersion {
                path: path.to_owned(),
                found: other.to_string(),
            }),
        }
    }
}

/// Reads only `manifest_version`, ignoring everything else.
#[derive(Debug, Deserialize)]
struct VersionProbe {
    manifest_version: Option<toml::Value>,
}

/// The default plugin name: the stem of `path`.
fn name_from_file(path: &Path) -> Result<PluginName, ManifestError> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    stem.parse().map_err(|e| ManifestError::Invalid {
        path: path.to_owned(),
        field: "name".into(),
        error: FieldError::NameFromFile(e),
    })
}

/// Why a manifest cannot be used. Every message starts with the file's path.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The file could not be read.
    #[error("{}: cannot read the manifest: {error}", path.display())]
    Read {
        /// The manifest file.
        path: PathBuf,
        /// Why it could not be read.
        error: ReadError,
    },
    /// The file is not valid TOML, or does not fit the schema (unknown key,
    /// wrong type, missing key). The message has the line and column.
    #[error("{}: {}", path.display(), error.to_string().trim_end())]
    Toml {
        /// The manifest file.
        path: PathBuf,
        /// The TOML parser's error.
        error: toml::de::Error,
    },
    /// There is no `manifest_version`.
    #[error(
        "{}: manifest_version is missing: add `manifest_version = 1` at the top of the file",
        path.display()
    )]
    MissingVersion {
        /// The manifest file.
        path: PathBuf,
    },
    /// `manifest_version` is not one this host understands.
    #[error(
        "{}: manifest_version: unsupported version {found} (this host supports {})",
        path.display(),
        SupportedVersions
    )]
    UnsupportedVersion {
        /// The manifest file.
        path: PathBuf,
        /// The value found, as written (strings quoted).
        found: String,
    },
    /// A value is not valid.
    #[error("{}: {field}: {error}", path.display())]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// The key, e.g. `capabilities.http[1]` or `limits.memory`.
        field: String,
        /// What is wrong.
        error: FieldError,
    },
}

impl ManifestError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ManifestError::Read { path, .. }
            | ManifestError::Toml { path, .. }
            | ManifestError::MissingVersion { path }
            | ManifestError::UnsupportedVersion { path, .. }
            | ManifestError::Invalid { path, .. } => path,
        }
    }
}

/// Displays [`SUPPORTED_VERSIONS`] as `manifest_version 1` or `manifest_version 1 and 2`.
struct SupportedVersions;

impl fmt::Display for SupportedVersions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("manifest_version ")?;
        for (i, v) in SUPPORTED_VERSIONS.iter().enumerate() {
            match i {
                0 => {}
                _ if i + 1 == SUPPORTED_VERSIONS.len() => f.write_str(" and ")?,
                _ => f.write_str(", ")?,
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// What is wrong with one value of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FieldError {
    /// `name` is not a valid plugin name.
    #[error(transparent)]
    Name(#[from] PluginNameError),
    /// There is no `name` and the file stem is not a valid plugin name.
    #[error(
        "no name is set, and the file name {:?} is not a valid plugin name: {}; rename the file, or set `name` in the manifest",
        .0.value,
        .0.reason
    )]
    NameFromFile(PluginNameError),
    /// `version` is not a semantic version.
    #[error(
        "{value:?} is not a valid semantic version: {reason} (expected a version such as \"0.1.0\")"
    )]
    Version {
        /// The value as written.
        value: String,
        /// The semver parser's explanation.
        reason: String,
    },
    /// An entry of `capabilities.http`.
    #[error(transparent)]
    HttpOrigin(#[from] HttpOriginError),
    /// An entry of `capabilities.env`.
    #[error(transparent)]
    EnvVarName(#[from] EnvVarNameError),
    /// The `guest` of a directory grant.
    #[error(transparent)]
    GuestPath(#[from] GuestPathError),
    /// The `host` of a directory grant.
    #[error("{value:?} is not a valid host directory: {reason}")]
    HostDir {
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An entry of `capabilities.client`.
    #[error("{0}")]
    ClientFeature(String),
    /// An entry of `capabilities.credentials`.
    #[error("{0}")]
    Credential(String),
    /// The `mode` of a directory grant.
    #[error("unknown mode {value:?} (expected \"ro\" or \"rw\")")]
    DirMode {
        /// The value as written.
        value: String,
    },
    /// A `[limits]` value.
    #[error(transparent)]
    Limit(#[from] LimitValueError),
    /// `http_max_requests` or `http_max_response`.
    #[error("invalid value {value}: {reason}")]
    HttpLimit {
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The same entry twice (compared after normalization, so
    /// `https://a.com` and `https://a.com:443` are the same origin).
    #[error("{value:?} is listed twice (first at {first})")]
    Duplicate {
        /// The repeated entry as written.
        value: String,
        /// The key of the first occurrence, e.g. `capabilities.env[0]`.
        first: String,
    },
}

/// Remembers the first key of each entry; reports repeats.
#[derive(Debug)]
struct Seen<T>(HashMap<T, String>);

impl<T: Eq + Hash> Seen<T> {
    fn new() -> Self {
        Seen(HashMap::new())
    }

    /// Records `key` for `entry`, or returns the error for a repeat.
    fn check(&mut self, entry: T, value: &str, key: &str) -> Result<(), FieldError> {
        match self.0.get(&entry) {
            Some(first) => Err(FieldError::Duplicate {
                value: value.to_owned(),
                first: first.clone(),
            }),
            None => {
                self.0.insert(entry, key.to_owned());
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const FULL: &str = r#"
manifest_version = 1
name = "text"
version = "0.1.0"
description = "Hashes, base64, UUIDs, JSON queries"
[capabilities]
http = ["https://api.example.com", "https://*.github.com:8443", "http://127.0.0.1:8080"]
env = ["API_TOKEN"]
[[capabilities.dirs]]
host = "data"
guest = "/data"
mode = "ro"
[[capabilities.dirs]]
host = "out"
guest = "/out/"
mode = "rw"
[[capabilities.dirs]]
host = "cache"
guest = "/cache"
[limits]
fuel = 5_000_000_000
memory = "128MiB"
timeout = "5s"
max_output = "1MiB"
max_log = "64KiB"
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("plugins/demo.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).expect_err(text).to_string()
    }

    #[test]
    fn full_manifest() {
        let m = parse(FULL).expect("valid");
        assert_eq!(m.path.as_deref(), Some(Path::new("plugins/demo.toml")));
        assert_eq!(m.name.as_str(), "text");
        assert_eq!(m.version, Some(semver::Version::new(0, 1, 0)));
        assert_eq!(
            m.description.as_deref(),
            Some("Hashes, base64, UUIDs, JSON queries")
        );
        let http: Vec<String> = m.capabilities.http.iter().map(|o| o.to_string()).collect();
        assert_eq!(
            http,
            [
                "https://api.example.com",
                "https://*.github.com:8443",
                "http://127.0.0.1:8080"
            ]
        );
        assert_eq!(m.capabilities.env, ["API_TOKEN".parse().unwrap()]);
        assert_eq!(
            m.capabilities.dirs,
            [
                DirGrant {
                    host: "data".into(),
                    guest: "/data".parse().unwrap(),
                    mode: DirMode::ReadOnly
                },
                DirGrant {
                    host: "out".into(),
                    guest: "/out".parse().unwrap(),
                    mode: DirMode::ReadWrite
                },
                DirGrant {
                    host: "cache".into(),
                    guest: "/cache".parse().unwrap(),
                    mode: DirMode::ReadOnly
                },
            ]
        );
        assert_eq!(
            m.limits,
            LimitsRequest {
                fuel: Some(5_000_000_000),
                memory_bytes: Some(128 << 20),
                timeout: Some(Duration::from_secs(5)),
                max_output_bytes: Some(1 << 20),
                max_log_bytes: Some(64 << 10),
                ..LimitsRequest::default()
            }
        );
    }

    #[test]
    fn a_build_section_is_read_and_checked() {
        let m = parse(
            "manifest_version = 1\n[build]\ncommand = \"./build\"\noutput = \"target/x.wasm\"\n",
        )
        .expect("valid");
        assert_eq!(
            m.build,
            Some(BuildRecipe {
                command: "./build".into(),
                output: "target/x.wasm".into(),
            })
        );
        assert!(parse("manifest_version = 1\n[build]\ncommand = \"make\"\n").is_err());
        assert!(
            parse("manifest_version = 1\n[build]\ncommand = \"a\"\noutput = \"b\"\nlang = \"c\"\n")
                .is_err()
        );
    }

    #[test]
    fn minimal_manifest_takes_the_name_from_the_file() {
        let m = parse("manifest_version = 1").expect("valid");
        assert_eq!(m.name.as_str(), "demo");
        assert_eq!(
            Manifest { path: None, ..m },
            Manifest::for_name("demo".parse().unwrap())
        );
    }

    #[test]
    fn manifest_serializes_for_listing() {
        let json = serde_json::to_value(parse(FULL).unwrap()).unwrap();
        assert_eq!(json["name"], "text");
        assert_eq!(json["version"], "0.1.0");
        assert_eq!(json["capabilities"]["http"][1], "https://*.github.com:8443");
        assert_eq!(json["capabilities"]["env"][0], "API_TOKEN");
        assert_eq!(json["capabilities"]["dirs"][1]["guest"], "/out");
        assert_eq!(json["capabilities"]["dirs"][1]["mode"], "rw");
        assert_eq!(json["limits"]["memory_bytes"], 128 << 20);
        assert_eq!(json["limits"]["timeout_ms"], 5000);
        assert!(json.get("path").is_none());
    }

    #[test]
    fn version_is_read_first() {
        assert_eq!(
            error("name = \"x\""),
            "plugins/demo.toml: manifest_version is missing: add `manifest_version = 1` at the top of the file"
        );
        assert_eq!(
            error("manifest_version = 2\nfuture_key = true"),
            "plugins/demo.toml: manifest_version: unsupported version 2 (this host supports manifest_version 1)"
        );
        assert_eq!(
            error("manifest_version = \"1\""),
            "plugins/demo.toml: manifest_version: unsupported version \"1\" (this host supports manifest_version 1)"
        );
    }

    #[test]
    fn fields_are_named_in_errors() {
        assert_eq!(
            error("manifest_version = 1\nname = \"My_Plugin\""),
            "plugins/demo.toml: name: \"My_Plugin\" is not a valid plugin name: use '-' instead of '_' (the host joins plugin and tool names with '_')"
        );
        assert_eq!(
            error("manifest_version = 1\nversion = \"1.0\""),
            "plugins/demo.toml: version: \"1.0\" is not a valid semantic version: unexpected end of input while parsing minor version number (expected a version such as \"0.1.0\")"
        );
        assert_eq!(
            error(
                "manifest_version = 1\n[capabilities]\nhttp = [\"https://a.com\", \"ftp://b.com\"]"
            ),
            "plugins/demo.toml: capabilities.http[1]: \"ftp://b.com\" is not a valid HTTP origin: unsupported scheme \"ftp\": use \"http\" or \"https\""
        );
        assert_eq!(
            error("manifest_version = 1\n[limits]\nmemory = \"12 parsecs\""),
            "plugins/demo.toml: limits.memory: invalid size \"12 parsecs\" (expected a size such as \"64MiB\")"
        );
        assert_eq!(
            error("manifest_version = 1\n[[capabilities.dirs]]\nhost = \"/etc\"\nguest = \"/etc\""),
            "plugins/demo.toml: capabilities.dirs[0].host: \"/etc\" is not a valid host directory: it must be relative to the workspace root, not absolute"
        );
        assert_eq!(
            error(
                "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"a\"\nguest = \"/a\"\nmode = \"RW\""
            ),
            "plugins/demo.toml: capabilities.dirs[0].mode: unknown mode \"RW\" (expected \"ro\" or \"rw\")"
        );
    }

    #[test]
    fn duplicates_are_refused_after_normalization() {
        assert_eq!(
            error(
                "manifest_version = 1\n[capabilities]\nhttp = [\"https://a.com\", \"HTTPS://A.com:443\"]"
            ),
            "plugins/demo.toml: capabilities.http[1]: \"HTTPS://A.com:443\" is listed twice (first at capabilities.http[0])"
        );
        assert_eq!(
            error("manifest_version = 1\n[capabilities]\nenv = [\"A\", \"B\", \"A\"]"),
            "plugins/demo.toml: capabilities.env[2]: \"A\" is listed twice (first at capabilities.env[0])"
        );
        assert!(parse("manifest_version = 1\n[capabilities]\nenv = [\"a\", \"A\"]").is_ok());
        assert_eq!(
            error(
                "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"a\"\nguest = \"/data\"\n[[capabilities.dirs]]\nhost = \"b\"\nguest = \"/data/\""
            ),
            "plugins/demo.toml: capabilities.dirs[1].guest: \"/data/\" is listed twice (first at capabilities.dirs[0].guest)"
        );
        assert!(
            parse(
                "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"a\"\nguest = \"/a\"\n[[capabilities.dirs]]\nhost = \"a\"\nguest = \"/b\""
            )
            .is_ok(),
            "one host directory may appear at two guest paths"
        );
    }

    #[test]
    fn toml_errors_keep_line_and_column() {
        let e = error("manifest_version = 1\nname = \"text\"\ncolour = \"blue\"");
        assert!(
            e.starts_with("plugins/demo.toml: TOML parse error at line 3, column 1"),
            "{e}"
        );
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = error("manifest_version = 1\nname = ");
        assert!(
            e.starts_with("plugins/demo.toml: TOML parse error at line 2"),
            "{e}"
        );
    }

    #[test]
    fn component_without_manifest_is_named_after_the_file() {
        let dir = std::env::temp_dir().join(format!("warden-manifest-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wasm = dir.join("json-query.wasm");
        let m = Manifest::load_for_component(&wasm).expect("no sidecar is fine");
        assert_eq!(m, Manifest::for_name("json-query".parse().unwrap()));

        let bad = dir.join("Json_Query.wasm");
        let e = Manifest::load_for_component(&bad).unwrap_err().to_string();
        assert!(
            e.ends_with(": name: no name is set, and the file name \"Json_Query\" is not a valid plugin name: use '-' instead of '_' (the host joins plugin and tool names with '_'); rename the file, or set `name` in the manifest"),
            "{e}"
        );

        std::fs::write(
            dir.join("Json_Query.toml"),
            "manifest_version = 1\nname = \"jq\"",
        )
        .unwrap();
        let m = Manifest::load_for_component(&bad).expect("the manifest names it");
        assert_eq!(m.name.as_str(), "jq");
        assert_eq!(m.path, Some(dir.join("Json_Query.toml")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unreadable_manifest() {
        let e = Manifest::load(Path::new("/nonexistent/warden/x.toml")).unwrap_err();
        assert!(matches!(e, ManifestError::Read { .. }));
        assert_eq!(e.path(), Path::new("/nonexistent/warden/x.toml"));
        assert!(
            e.to_string()
                .starts_with("/nonexistent/warden/x.toml: cannot read the manifest: "),
            "{e}"
        );
    }
}
