//! The lock file, `warden.lock`: per plugin, the sha256 of the component the
//! operator approved and the capabilities approved with it.
//!
//! No silent escalation: when a plugin requests more than its approval covers
//! (an update that asks for a new origin, variable, directory or client
//! feature, or for write access to a read-only one), the growth is held back and the plugin runs
//! with what was approved until the operator runs `warden approve NAME`. An
//! update that asks for no more is recorded without asking. A plugin seen for
//! the first time is trusted and recorded (trust on first use, the default) or
//! not loaded until approved (`policy.new_plugins = "require-approval"`).
//!
//! The lock records what manifests *request*; the operator's policy in
//! `warden.toml` still narrows what is granted.
//!
//! ```toml
//! version = 1
//!
//! [plugins.fetch]
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! http = ["https://example.com"]
//! env = ["API_TOKEN"]
//! dirs = [{ host = "docs", guest = "/docs", mode = "ro" }]
//! client = ["sampling"]
//! credentials = [{ name = "GITHUB_TOKEN", origin = "https://api.github.com", header = "authorization", format = "Bearer {}" }]
//! allowed_http = ["https://news.ycombinator.com"]
//!
//! [plugins.fetch.definitions]
//! "tool fetch" = "5d41402abc4b2a76b9719d911017c592ae2bd7b1e4a3a1a3f1c2e6b0d2a8b4c1"
//! ```
//!
//! `definitions` pins what the plugin shows clients and the model: the
//! sha256 of each tool, prompt and resource template definition as the
//! approved version described it (`"tool NAME"`, `"prompt NAME"`,
//! `"template URI-TEMPLATE"`). Under `[policy] definitions = "pin"` (the
//! default) a definition that differs is never served: a new component
//! whose definitions changed waits for `warden approve` while the approved
//! version keeps serving. Absent, the next version that loads is recorded
//! (trust on first use).
//!
//! `allowed_http` holds the origins a person allowed always when the plugin
//! reached for them and the client asked (`[policy] ask`): granted beyond
//! the manifest's request, still under the operator's policy, and kept
//! across updates and `warden approve` until the operator removes them. A
//! directory the manifest requests that a person allowed always is approved
//! among `dirs`, as `warden approve` would.

mod changes;
mod review;

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

pub use changes::{Change, changes};
pub use review::{Review, Verdict, review};

use crate::policy::manifest::{
    Capabilities, ClientFeature, CredentialRequest, DirGrant, DirMode, EnvVarName, GuestPath,
    HttpOrigin,
};

/// The lock file's default name, beside `warden.toml`.
pub const FILE_NAME: &str = "warden.lock";
/// The format version this host reads and writes.
const VERSION: u32 = 1;
/// The comment at the top of every lock file Warden writes.
const HEADER: &str = "# Capabilities the operator approved, per plugin. Written by Warden:\n\
                      # review changes with `warden approve NAME --dry-run`, approve with\n\
                      # `warden approve NAME`.\n\n";

/// `policy.new_plugins`: what happens on the first sight of a plugin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NewPlugins {
    /// Load it and record what it requests (for a local folder the operator fills).
    #[default]
    TrustOnFirstUse,
    /// Do not load it until `warden approve NAME`.
    RequireApproval,
}

/// `policy.definitions`: whether changed tool, prompt and template
/// definitions need approval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefinitionsPolicy {
    /// A definition that differs from the approved one is held until
    /// `warden approve NAME` (the first version is trusted and recorded).
    #[default]
    Pin,
    /// Changed definitions are recorded without asking.
    Trust,
}

/// The sha256 of each definition a plugin exposes, by key (`"tool NAME"`,
/// `"prompt NAME"`, `"template URI-TEMPLATE"`).
pub type Definitions = BTreeMap<String, String>;

/// What the operator approved for one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The sha256 of the approved component, in hex.
    pub sha256: String,
    /// Approved HTTP origins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpOrigin>,
    /// Approved environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVarName>,
    /// Approved directories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<ApprovedDir>,
    /// Approved client features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client: Vec<ClientFeature>,
    /// Approved credentials: each name with the origin, header and format
    /// it was requested for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<CredentialRequest>,
    /// Origins a person allowed always when asked, beyond the manifest's
    /// request (`[policy] ask`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_http: Vec<HttpOrigin>,
    /// The digests of the definitions the approved version exposes; `None`
    /// until a version has been described and recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definitions: Option<Definitions>,
}

/// An approved directory: the manifest's request as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovedDir {
    /// The host directory, relative to the workspace root.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: GuestPath,
    /// `ro` or `rw`.
    pub mode: DirMode,
}

impl Approval {
    /// Approves exactly `requested` for the component whose hash is `sha256`.
    pub fn new(sha256: String, requested: &Capabilities) -> Self {
        Self {
            sha256,
            http: requested.http.clone(),
            env: requested.env.clone(),
            dirs: requested
                .dirs
                .iter()
                .map(|d| ApprovedDir {
                    host: d.host.clone(),
                    guest: d.guest.clone(),
                    mode: d.mode,
                })
                .collect(),
            client: requested.client.clone(),
            credentials: requested.credentials.clone(),
            allowed_http: Vec::new(),
            definitions: None,
        }
    }

    /// This approval pinning `definitions`.
    pub fn with_definitions(mut self, definitions: Option<Definitions>) -> Self {
        self.definitions = definitions;
        self
    }

    /// This approval with the origins a person allowed in `earlier` kept.
    pub fn keeping_allowed(mut self, earlier: Option<&Approval>) -> Self {
        if let Some(earlier) = earlier {
            self.allowed_http = earlier.allowed_http.clone();
        }
        self
    }

    /// Whether this approval records exactly `requested` for `sha256`
    /// (whatever a person allowed besides, and whatever definitions).
    pub fn records_exactly(&self, sha256: &str, requested: &Capabilities) -> bool {
        Approval::new(sha256.into(), requested)
            .keeping_allowed(Some(self))
            .with_definitions(self.definitions.clone())
            == *self
    }

    /// The approved capabilities.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            http: self.http.clone(),
            env: self.env.clone(),
            dirs: self
                .dirs
                .iter()
                .map(|d| DirGrant {
                    host: d.host.clone(),
                    guest: d.guest.clone(),
                    mode: d.mode,
                })
                .collect(),
            client: self.client.clone(),
            credentials: self.credentials.clone(),
            ..Capabilities::default()
        }
    }
}

/// The sha256 of `bytes` (a component file, a request), in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The lock file: approvals by plugin name.
#[derive(Debug, Clone, Default)]
pub struct LockFile {
    path: PathBuf,
    plugins: BTreeMap<String, Approval>,
}

/// `warden.lock` as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLock {
    version: u32,
    #[serde(default)]
    plugins: BTreeMap<String, Approval>,
}

/// Why the lock file cannot be used. A lock file that cannot be read is an
/// error, never an empty lock: that would approve everything anew.
#[derive(Debug, Error)]
pub enum LockError {
    /// The file exists but cannot be read.
    #[error("{}: cannot read the lock file: {error}", path.display())]
    Read {
        /// The lock file.
        path: PathBuf,
        /// Why it could not be read.
        error: crate::input::bounded_file::ReadError,
    },
    /// The file is not a lock file this host understands.
    #[error("{}: the lock file is not valid: {message}; fix it or remove it (every plugin is then new)", path.display())]
    Invalid {
        /// The lock file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// The file cannot be written.
    #[error("{}: cannot write the lock file: {error}", path.display())]
    Write {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
}

impl LockFile {
    /// Reads the lock file at `path`; a missing file is an empty lock.
    pub fn load(path: &Path) -> Result<Self, LockError> {
        let text = match crate::input::bounded_file::read_operator_text(
            path,
            crate::input::bounded_file::TEXT_LIMIT,
        ) {
            Ok(text) => text,
            Err(e) if e.is_not_found() => {
                return Ok(Self {
                    path: path.to_owned(),
                    plugins: BTreeMap::new(),
                });
            }
            Err(error) => {
                return Err(LockError::Read {
                    path: path.to_owned(),
                    error,
                });
            }
        };
        Self::parse(&text, path)
    }

    /// Parses lock file text. `path` names the file in errors and is where
    /// [`LockFile::save`] writes.
    pub fn parse(text: &str, path: &Path) -> Result<Self, LockError> {
        let invalid = |message: String| LockError::Invalid {
            path: path.to_owned(),
            message,
        };
        let raw: RawLock =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        if raw.version != VERSION {
            return Err(invalid(format!(
                "version {} is not supported (this Warden reads version {VERSION})",
                raw.version
            )));
        }
        Ok(Self {
            path: path.to_owned(),
            plugins: raw.plugins,
        })
    }

    /// Where this lock lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The approval recorded for `plugin`.
    pub fn get(&self, plugin: &str) -> Option<&Approval> {
        self.plugins.get(plugin)
    }

    /// Records `approval` for `plugin`, replacing any earlier one.
    pub fn set(&mut self, plugin: &str, approval: Approval) {
        self.plugins.insert(plugin.to_string(), approval);
    }

    /// Reads the lock at `path` again, lets `change` edit it, and writes it
    /// back; one update at a time in this process, so a person's answer and
    /// a load's records never write over each other.
    pub fn update(path: &Path, change: impl FnOnce(&mut LockFile)) -> Result<LockFile, LockError> {
        static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _writing = WRITING.lock().unwrap_or_else(|e| e.into_inner());
        let mut lock = Self::load(path)?;
        change(&mut lock);
        lock.save()?;
        Ok(lock)
    }

    /// Records that a person allowed `plugin` to reach `origin` always.
    /// `false` when it was recorded already.
    pub fn allow_http(&mut self, plugin: &str, origin: &HttpOrigin) -> bool {
        let Some(approval) = self.plugins.get_mut(plugin) else {
            return false;
        };
        if approval.allowed_http.contains(origin) {
            return false;
        }
        approval.allowed_http.push(origin.clone());
        true
    }

    /// Records that a person approved the directory `dir` the manifest of
    /// `plugin` requests, as `warden approve` would (replacing a read-only
    /// approval of the same directory). `false` when it was approved already
    /// or the plugin has no approval.
    pub fn approve_dir(&mut self, plugin: &str, dir: &DirGrant) -> bool {
        let Some(approval) = self.plugins.get_mut(plugin) else {
            return false;
        };
        let approved = ApprovedDir {
            host: dir.host.clone(),
            guest: dir.guest.clone(),
            mode: dir.mode,
        };
        if approval.dirs.contains(&approved) {
            return false;
        }
        approval
            .dirs
            .retain(|d| !(d.host == approved.host && d.guest == approved.guest));
        approval.dirs.push(approved);
        true
    }

    /// Writes the lock atomically: a temporary file beside it, then a rename,
    /// so a reader never sees half a lock.
    pub fn save(&self) -> Result<(), LockError> {
        let write_error = |error| LockError::Write {
            path: self.path.clone(),
            error,
        };
        let raw = RawLock {
            version: VERSION,
            plugins: self.plugins.clone(),
        };
        let body = toml::to_string(&raw).map_err(|e| write_error(io::Error::other(e)))?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(write_error)?;
        file.write_all(HEADER.as_bytes())
            .and_then(|()| file.write_all(body.as_bytes()))
            .and_then(|()| file.as_file().sync_all())
            .map_err(write_error)?;
        file.persist(&self.path).map_err(|e| write_error(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(http: &[&str], env: &[&str], dirs: &[(&str, &str, DirMode)]) -> Capabilities {
        Capabilities {
            http: http.iter().map(|o| o.parse().unwrap()).collect(),
            env: env.iter().map(|v| v.parse().unwrap()).collect(),
            dirs: dirs
                .iter()
                .map(|(host, guest, mode)| DirGrant {
                    host: PathBuf::from(host),
                    guest: guest.parse().unwrap(),
                    mode: *mode,
                })
                .collect(),
            ..Capabilities::default()
        }
    }

    #[test]
    fn first_sight_follows_the_mode() {
        let requested = caps(&["https://example.com"], &["TOKEN"], &[]);
        let tofu = review(None, "aa", &requested, NewPlugins::TrustOnFirstUse);
        assert_eq!(tofu.verdict, Verdict::TrustedOnFirstUse);
        assert_eq!(tofu.approved, requested);
        assert!(tofu.held.is_empty());
        let strict = review(None, "aa", &requested, NewPlugins::RequireApproval);
        assert_eq!(strict.verdict, Verdict::NotApproved);
        assert!(strict.approved.is_empty());
        assert_eq!(strict.held, requested);
    }

    #[test]
    fn an_unchanged_plugin_is_approved_and_a_quiet_update_is_recorded() {
        let requested = caps(&["https://example.com"], &[], &[]);
        let approval = Approval::new("aa".into(), &requested);
        let same = review(
            Some(&approval),
            "aa",
            &requested,
            NewPlugins::RequireApproval,
        );
        assert_eq!(same.verdict, Verdict::Approved);
        assert_eq!(same.approved, requested);
        let updated = review(
            Some(&approval),
            "bb",
            &requested,
            NewPlugins::RequireApproval,
        );
        assert_eq!(updated.verdict, Verdict::Updated);
        assert!(updated.held.is_empty());
        let shrunk = review(
            Some(&approval),
            "aa",
            &Capabilities::default(),
            NewPlugins::TrustOnFirstUse,
        );
        assert_eq!(shrunk.verdict, Verdict::Updated);
    }

    #[test]
    fn an_approved_plugin_keeps_its_http_settings() {
        let requested = Capabilities {
            http_max_requests: Some(128),
            http_max_response: Some(1 << 20),
            ..caps(&["https://example.com"], &[], &[])
        };
        let approval = Approval::new("aa".into(), &requested);
        let again = review(
            Some(&approval),
            "aa",
            &requested,
            NewPlugins::RequireApproval,
        );
        assert_eq!(again.verdict, Verdict::Approved);
        assert_eq!(again.approved, requested);
    }

    #[test]
    fn growth_is_held_and_the_rest_stays_granted() {
        let ro = DirMode::ReadOnly;
        let rw = DirMode::ReadWrite;
        let approval = Approval::new(
            "aa".into(),
            &caps(
                &["https://*.example.com"],
                &["TOKEN"],
                &[("notes", "/notes", ro), ("data", "/data", rw)],
            ),
        );
        let requested = caps(
            &["https://api.example.com", "https://evil.test"],
            &["TOKEN", "AWS_SECRET_ACCESS_KEY"],
            &[
                ("notes", "/notes", rw),
                ("data", "/data", rw),
                ("/", "/root", ro),
            ],
        );
        let review = review(
            Some(&approval),
            "aa",
            &requested,
            NewPlugins::TrustOnFirstUse,
        );
        assert_eq!(review.verdict, Verdict::Held);
        assert_eq!(
            review.approved,
            caps(
                &["https://api.example.com"],
                &["TOKEN"],
                &[("notes", "/notes", ro), ("data", "/data", rw)],
            )
        );
        assert_eq!(
            review.held,
            caps(
                &["https://evil.test"],
                &["AWS_SECRET_ACCESS_KEY"],
                &[("notes", "/notes", rw), ("/", "/root", ro)],
            )
        );
    }

    #[test]
    fn a_moved_directory_is_growth() {
        let approval = Approval::new(
            "aa".into(),
            &caps(&[], &[], &[("notes", "/notes", DirMode::ReadOnly)]),
        );
        let requested = caps(&[], &[], &[("secrets", "/notes", DirMode::ReadOnly)]);
        let review = review(
            Some(&approval),
            "aa",
            &requested,
            NewPlugins::TrustOnFirstUse,
        );
        assert_eq!(review.verdict, Verdict::Held);
        assert!(review.approved.is_empty());
    }

    #[test]
    fn changes_list_the_component_and_each_capability() {
        let old = Approval::new(
            "aa".into(),
            &caps(
                &["https://example.com"],
                &["OLD"],
                &[("notes", "/notes", DirMode::ReadOnly)],
            ),
        );
        let new = Approval::new(
            "bb".into(),
            &caps(
                &["https://example.com", "https://api.example.org:8443"],
                &[],
                &[("notes", "/notes", DirMode::ReadWrite)],
            ),
        );
        let lines: Vec<String> = changes(Some(&old), &new)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "component sha256 aa -> bb",
                "+ http https://api.example.org:8443",
                "+ dir notes -> /notes (rw)",
                "- env OLD",
                "- dir notes -> /notes (ro)",
            ]
        );
        assert!(changes(Some(&new), &new).is_empty());
        let first: Vec<String> = changes(None, &old)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            first,
            [
                "component sha256 aa",
                "+ http https://example.com",
                "+ env OLD",
                "+ dir notes -> /notes (ro)",
            ]
        );
    }

    #[test]
    fn the_lock_round_trips_and_refuses_what_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut lock = LockFile::load(&path).unwrap();
        assert!(lock.get("fetch").is_none());
        let approval = Approval::new(
            sha256_hex(b"component"),
            &caps(
                &["https://example.com"],
                &["TOKEN"],
                &[("docs", "/docs", DirMode::ReadOnly)],
            ),
        );
        lock.set("fetch", approval.clone());
        lock.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# Capabilities the operator approved"),
            "{text}"
        );
        assert_eq!(LockFile::load(&path).unwrap().get("fetch"), Some(&approval));

        std::fs::write(&path, "version = 2\n").unwrap();
        let error = LockFile::load(&path).unwrap_err().to_string();
        assert!(error.contains("version 2 is not supported"), "{error}");
        std::fs::write(&path, "version = 1\n[plugins.x]\nsha = 1\n").unwrap();
        let error = LockFile::load(&path).unwrap_err().to_string();
        assert!(error.contains("the lock file is not valid"), "{error}");
    }

    #[test]
    fn origins_a_person_allowed_are_kept_across_updates_and_never_flag_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let requested = caps(&["https://example.com"], &[], &[]);
        LockFile::update(&path, |lock| {
            lock.set("fetch", Approval::new("aa".into(), &requested));
        })
        .unwrap();
        let origin: HttpOrigin = "http://127.0.0.1:8080".parse().unwrap();
        let mut added = Vec::new();
        for _ in 0..2 {
            LockFile::update(&path, |lock| {
                added.push(lock.allow_http("fetch", &origin));
                assert!(!lock.allow_http("unknown", &origin));
            })
            .unwrap();
        }
        assert_eq!(added, [true, false]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(r#"allowed_http = ["http://127.0.0.1:8080"]"#),
            "{text}"
        );
        let lock = LockFile::load(&path).unwrap();
        let approval = lock.get("fetch").unwrap();
        // Unchanged otherwise: approved as it is, not an update.
        let same = review(
            Some(approval),
            "aa",
            &requested,
            NewPlugins::RequireApproval,
        );
        assert_eq!(same.verdict, Verdict::Approved);
        // A new version keeps what the person allowed.
        let renewed = Approval::new("bb".into(), &requested).keeping_allowed(Some(approval));
        assert_eq!(renewed.allowed_http, [origin]);
    }

    #[test]
    fn a_directory_a_person_allowed_always_is_approved_as_requested() {
        let approved = caps(&[], &[], &[("out", "/out", DirMode::ReadOnly)]);
        let requested = caps(
            &[],
            &[],
            &[
                ("out", "/out", DirMode::ReadWrite),
                ("notes", "/notes", DirMode::ReadOnly),
            ],
        );
        let mut lock = LockFile::parse("version = 1\n", Path::new(FILE_NAME)).unwrap();
        lock.set("files", Approval::new("aa".into(), &approved));
        let held = review(
            lock.get("files"),
            "bb",
            &requested,
            NewPlugins::TrustOnFirstUse,
        );
        assert_eq!(held.verdict, Verdict::Held);
        assert_eq!(held.held.dirs.len(), 2);

        // The read-write request replaces the read-only approval; the other
        // stays held until it too is approved.
        assert!(lock.approve_dir("files", &requested.dirs[0]));
        assert!(!lock.approve_dir("files", &requested.dirs[0]));
        assert!(!lock.approve_dir("unknown", &requested.dirs[0]));
        assert_eq!(lock.get("files").unwrap().dirs.len(), 1);
        let still = review(
            lock.get("files"),
            "bb",
            &requested,
            NewPlugins::TrustOnFirstUse,
        );
        assert_eq!(still.verdict, Verdict::Held);
        assert_eq!(still.held.dirs, [requested.dirs[1].clone()]);

        assert!(lock.approve_dir("files", &requested.dirs[1]));
        let now = review(
            lock.get("files"),
            "bb",
            &requested,
            NewPlugins::TrustOnFirstUse,
        );
        assert_eq!(now.verdict, Verdict::Updated, "nothing is held any more");
        assert_eq!(now.approved.dirs, requested.dirs);
    }
}
