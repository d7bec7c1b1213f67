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

use crate::policy::manifest::{
    Capabilities, ClientFeature, CredentialHeader, DirGrant, DirMode, HostPattern, HttpOrigin,
};
use crate::policy::operator::{OperatorPolicy, expand_references};

mod asked;
mod credentials;
mod dirs;

pub use asked::{AskedDir, asked_conflict, asked_dirs};
pub use dirs::{DirClaim, DirConflict, DirPreopen, OverlappingDirs, conflicts, protected_inside};

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
    /// Held directories the person may be asked about (`[policy] ask`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub asked_dirs: Vec<AskedDir>,
    /// Environment variables, with their values.
    pub env: Vec<EnvGrant>,
    /// Features of the MCP client the plugin may use.
    pub client: ClientGrant,
}

/// The MCP client features a plugin may use through the world's `client`
/// import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientGrant {
    /// Granted features.
    pub features: Vec<ClientFeature>,
    /// Features requested by an update and allowed by the policy, held back
    /// until the operator approves them; named in the denial.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<ClientFeature>,
}

impl ClientGrant {
    /// Whether `feature` is granted.
    pub fn allows(&self, feature: ClientFeature) -> bool {
        self.features.contains(&feature)
    }
}

impl Grants {
    /// Whether `other` grants exactly the same, down to the identity of each
    /// held directory (see [`DirPreopen::same_grant`]).
    pub fn same_as(&self, other: &Self) -> bool {
        self.http == other.http
            && self.env == other.env
            && self.client == other.client
            && self.dirs.len() == other.dirs.len()
            && self
                .dirs
                .iter()
                .zip(&other.dirs)
                .all(|(a, b)| a.same_grant(b))
            && self.asked_dirs.len() == other.asked_dirs.len()
            && self
                .asked_dirs
                .iter()
                .zip(&other.asked_dirs)
                .all(|(a, b)| a.same_as(b))
    }

    /// Whether nothing at all is granted, nor may be when the person is asked.
    pub fn is_empty(&self) -> bool {
        self.http.origins.is_empty()
            && self.dirs.is_empty()
            && self.asked_dirs.is_empty()
            && self.env.is_empty()
            && self.client.features.is_empty()
    }
}

impl fmt::Display for Grants {
    /// One line for humans: `http https://api.example.com (16 requests/call,
    /// 8 MiB/response); env API_TOKEN; dirs /work/data -> /data (ro); client
    /// sampling`, or `none`.
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
            let dirs: Vec<String> = self.dirs.iter().map(ToString::to_string).collect();
            parts.push(format!("dirs {}", dirs.join(", ")));
        }
        if !self.asked_dirs.is_empty() {
            let dirs: Vec<String> = self.asked_dirs.iter().map(|a| a.dir.to_string()).collect();
            parts.push(format!("dirs if the person allows {}", dirs.join(", ")));
        }
        if !self.client.features.is_empty() {
            let features: Vec<&str> = self.client.features.iter().map(|c| c.as_str()).collect();
            parts.push(format!("client {}", features.join(", ")));
        }
        if !self.http.credentials.is_empty() {
            let credentials: Vec<String> = self
                .http
                .credentials
                .iter()
                .map(ToString::to_string)
                .collect();
            parts.push(format!("credentials {}", credentials.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Outgoing HTTP a plugin may make.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpGrant {
    /// Origins the plugin may reach; empty means no HTTP at all.
    pub origins: Vec<HttpOrigin>,
    /// At most this many requests per call.
    pub max_requests_per_call: u32,
    /// At most this many bytes per response body.
    pub max_response_bytes: u64,
    /// Origins the plugin requests and the operator's policy allows, held
    /// back until the operator approves them (see [`crate::policy::lock`]). Never
    /// reachable; named in the denial so the operator knows what to do.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<HttpOrigin>,
    /// Whether a request for an origin that is not granted asks the person
    /// (`[policy] ask`).
    #[serde(skip_serializing_if = "HttpAsk::is_never")]
    pub ask: HttpAsk,
    /// Whether a granted name may resolve to a private, loopback or other
    /// refused address ([`crate::policy::egress`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_private: bool,
    /// Credentials added to the requests for their origin.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<CredentialGrant>,
}

/// A credential Warden adds to a plugin's requests for one granted origin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CredentialGrant {
    /// The credential's name.
    pub name: String,
    /// The one origin whose requests carry it.
    pub origin: HttpOrigin,
    /// The header that carries it.
    pub header: CredentialHeader,
    /// The header's whole value (the format with the secret in it), marked
    /// sensitive; never printed, logged or serialized.
    #[serde(skip)]
    pub value: http::HeaderValue,
}

impl fmt::Display for CredentialGrant {
    /// `GITHUB_TOKEN -> https://api.github.com (authorization)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {} ({})", self.name, self.origin, self.header)
    }
}

/// Which requests for origins that are not granted ask the person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpAsk {
    /// None: they are refused (the default).
    #[default]
    Never,
    /// Any origin.
    Any,
    /// Only origins the operator's `[plugins.NAME] http` list covers.
    Within(Vec<HttpOrigin>),
}

impl HttpAsk {
    /// For `plugin` under `policy`: `[plugins.NAME] ask` or `policy.ask`,
    /// within the operator's list of origins for it when there is one.
    pub fn of(policy: &OperatorPolicy, plugin: &str) -> Self {
        if !policy.asks(plugin) {
            return HttpAsk::Never;
        }
        match policy.plugins.get(plugin).and_then(|p| p.http.as_ref()) {
            Some(within) => HttpAsk::Within(within.clone()),
            None => HttpAsk::Any,
        }
    }

    /// Whether nothing asks.
    pub fn is_never(&self) -> bool {
        *self == HttpAsk::Never
    }

    /// Whether a request to `uri` (not granted) may ask.
    pub fn may_ask(&self, uri: &http::Uri) -> bool {
        match self {
            HttpAsk::Never => false,
            HttpAsk::Any => true,
            HttpAsk::Within(origins) => crate::policy::decide(origins, uri).is_allowed(),
        }
    }
}

impl Default for HttpGrant {
    fn default() -> Self {
        Self {
            origins: Vec::new(),
            max_requests_per_call: DEFAULT_HTTP_REQUESTS,
            max_response_bytes: DEFAULT_HTTP_RESPONSE_BYTES,
            pending: Vec::new(),
            ask: HttpAsk::Never,
            allow_private: false,
            credentials: Vec::new(),
        }
    }
}

/// One environment variable a plugin may read.
#[derive(Clone, PartialEq, Serialize)]
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
    /// A requested directory exists inside the workspace but cannot be
    /// opened and held (permissions, or no `/proc` to pin it through).
    #[error("{field}: {host:?} cannot be opened: {error}")]
    DirUnusable {
        /// The manifest field.
        field: String,
        /// The path as written.
        host: PathBuf,
        /// The underlying error.
        error: std::io::Error,
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

/// Resolves requested capabilities into grants: the intersection of what the
/// manifest requests and what the operator's policy allows.
///
/// Directories resolve against `workspace_root` and must stay inside it after
/// following symlinks; variables take the operator's value (with `${VAR}`
/// expanded) or else the host's, via `lookup_env`. Everything requested but
/// not granted is explained in the returned notices.
pub fn resolve(
    requested: &Capabilities,
    policy: &OperatorPolicy,
    plugin: &str,
    workspace_root: &Path,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Grants, Vec<String>), GrantError> {
    let mut notices = Vec::new();
    let narrowing = policy.plugins.get(plugin);
    let mut refuse = |what: String, why: &str| notices.push(format!("{what} not granted: {why}"));

    let mut origins = Vec::new();
    for origin in &requested.http {
        match http_refusal(policy, plugin, origin) {
            Some(why) => refuse(format!("http {origin}"), &why),
            None => origins.push(origin.clone()),
        }
    }

    let mut dirs = Vec::new();
    let mut root = WorkspaceRoot::new(workspace_root);
    for (index, dir) in requested.dirs.iter().enumerate() {
        if let Some(why) = dir_refusal(policy, plugin, dir) {
            refuse(format!("directory {}", dir.guest.as_str()), &why);
            continue;
        }
        let opened = root.open(dir, format!("capabilities.dirs[{index}].host"))?;
        let mut mode = dir.mode;
        if mode == DirMode::ReadWrite
            && let Some(why) = write_refusal(policy, plugin)
        {
            refuse(
                format!("write access to {}", dir.guest.as_str()),
                &format!("{why}; granted read-only"),
            );
            mode = DirMode::ReadOnly;
        }
        dirs.push(opened.with_mode(mode));
    }

    let mut env = Vec::new();
    for name in &requested.env {
        let name = name.as_str();
        if let Some(allowed) = narrowing.and_then(|p| p.env.as_ref())
            && !allowed.iter().any(|a| a.as_str() == name)
        {
            refuse(
                format!("environment variable {name}"),
                &format!("not in plugins.{plugin}.env"),
            );
            continue;
        }
        let operator_value = narrowing.and_then(|p| p.env_values.get(name));
        let value = match operator_value {
            Some(template) => match expand_references(template, lookup_env) {
                Ok(value) => Some(value),
                Err(missing) => {
                    refuse(
                        format!("environment variable {name}"),
                        &format!(
                            "plugins.{plugin}.env_values.{name} refers to ${{{missing}}}, which is not set"
                        ),
                    );
                    continue;
                }
            },
            None => lookup_env(name),
        };
        match value {
            Some(value) => env.push(EnvGrant {
                name: name.to_string(),
                value: Secret::new(value),
            }),
            None => refuse(
                format!("environment variable {name}"),
                "it is requested but not set in the host environment",
            ),
        }
    }

    let mut client = ClientGrant::default();
    for &feature in &requested.client {
        match client_refusal(policy, plugin, feature) {
            Some(why) => refuse(format!("client {feature}"), &why),
            None => client.features.push(feature),
        }
    }

    let operator =
        |f: fn(&crate::policy::operator::PluginPolicy) -> Option<u64>| narrowing.and_then(f);
    let smallest = |manifest: Option<u64>, operator: Option<u64>, default: u64| {
        [manifest, operator]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(default)
    };
    let max_requests_per_call = smallest(
        requested.http_max_requests.map(u64::from),
        operator(|p| p.http_max_requests.map(u64::from)),
        u64::from(DEFAULT_HTTP_REQUESTS),
    );
    let credentials = credentials::resolve(
        &requested.credentials,
        &origins,
        narrowing,
        plugin,
        lookup_env,
        &mut notices,
    );
    let grants = Grants {
        http: HttpGrant {
            credentials,
            origins,
            max_requests_per_call: u32::try_from(max_requests_per_call).unwrap_or(u32::MAX),
            max_response_bytes: smallest(
                requested.http_max_response,
                operator(|p| p.http_max_response),
                DEFAULT_HTTP_RESPONSE_BYTES,
            ),
            pending: Vec::new(),
            ask: HttpAsk::of(policy, plugin),
            allow_private: narrowing.is_some_and(|p| p.allow_private),
        },
        dirs,
        asked_dirs: Vec::new(),
        env,
        client,
    };
    Ok((grants, notices))
}

/// Why a requested directory could not be opened inside the workspace, in
/// the terms of the manifest: missing, leading outside, or not a directory.
fn explain_dir(error: std::io::Error, field: String, host: &Path, root: &Path) -> GrantError {
    match root.join(host).canonicalize() {
        Err(error) => GrantError::DirMissing {
            field,
            host: host.to_path_buf(),
            root: root.to_path_buf(),
            error,
        },
        Ok(resolved) if !resolved.starts_with(root) => GrantError::DirEscapes {
            field,
            host: host.to_path_buf(),
            resolved,
            root: root.to_path_buf(),
        },
        Ok(resolved) if !resolved.is_dir() => GrantError::NotADirectory {
            field,
            host: host.to_path_buf(),
        },
        Ok(_) => GrantError::DirUnusable {
            field,
            host: host.to_path_buf(),
            error,
        },
    }
}

/// The workspace root, opened when the first directory is resolved in it.
pub(super) struct WorkspaceRoot<'a> {
    path: &'a Path,
    opened: Option<(PathBuf, std::fs::File)>,
}

impl<'a> WorkspaceRoot<'a> {
    pub(super) fn new(path: &'a Path) -> Self {
        Self { path, opened: None }
    }

    /// Opens the requested `dir` inside the root and holds it; `field`
    /// names it in the manifest for the error.
    pub(super) fn open(&mut self, dir: &DirGrant, field: String) -> Result<DirPreopen, GrantError> {
        let (root, root_dir) = match &self.opened {
            Some(open) => open,
            None => {
                let canonical = self.path.canonicalize().map_err(|error| GrantError::Root {
                    root: self.path.to_path_buf(),
                    error,
                })?;
                let file = dirs::open_root(&canonical)?;
                self.opened.insert((canonical, file))
            }
        };
        DirPreopen::open(root_dir, root, &dir.host, dir.guest.as_str(), dir.mode)
            .map_err(|error| explain_dir(error, field, &dir.host, root))
    }
}

/// Why the operator's policy refuses the directory `dir` to `plugin`;
/// `None` when it allows it.
pub(super) fn dir_refusal(policy: &OperatorPolicy, plugin: &str, dir: &DirGrant) -> Option<String> {
    let allowed = policy.plugins.get(plugin)?.dirs.as_ref()?;
    (!allowed.contains(&dir.guest)).then(|| format!("not in plugins.{plugin}.dirs"))
}

/// Why the operator's policy refuses `plugin` write access to directories;
/// `None` when it allows it.
pub(super) fn write_refusal(policy: &OperatorPolicy, plugin: &str) -> Option<String> {
    if !policy.allow_write {
        Some(
            "the operator refuses write access to every plugin (policy.allow_write = false)".into(),
        )
    } else if policy.plugins.get(plugin).is_some_and(|p| p.read_only) {
        Some(format!("plugins.{plugin}.read_only is set"))
    } else {
        None
    }
}

/// Why the operator's policy refuses `origin` to `plugin`; `None` when it allows it.
pub fn http_refusal(policy: &OperatorPolicy, plugin: &str, origin: &HttpOrigin) -> Option<String> {
    if !policy.allow_network {
        return Some(
            "the operator refuses network access to every plugin (policy.allow_network = false)"
                .into(),
        );
    }
    let allowed = policy.plugins.get(plugin)?.http.as_ref()?;
    (!allowed.iter().any(|a| covers(a, origin))).then(|| format!("not in plugins.{plugin}.http"))
}

/// Why the operator's policy refuses the client `feature` to `plugin`;
/// `None` when it allows it.
pub fn client_refusal(
    policy: &OperatorPolicy,
    plugin: &str,
    feature: ClientFeature,
) -> Option<String> {
    let allowed = policy.plugins.get(plugin)?.client.as_ref()?;
    (!allowed.contains(&feature)).then(|| format!("not in plugins.{plugin}.client"))
}

/// Whether the `allowed` origin covers a requested one: the same origin, or a
/// wildcard that covers the requested host.
pub fn covers(allowed: &HttpOrigin, requested: &HttpOrigin) -> bool {
    if allowed.scheme != requested.scheme || allowed.port != requested.port {
        return false;
    }
    match (&allowed.host, &requested.host) {
        (a, r) if a == r => true,
        (HostPattern::Wildcard(suffix), HostPattern::Name(name)) => {
            name.ends_with(&format!(".{suffix}"))
        }
        (HostPattern::Wildcard(suffix), HostPattern::Wildcard(narrower)) => {
            narrower.ends_with(&format!(".{suffix}"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(toml: &str) -> Capabilities {
        let text = format!("manifest_version = 1\n[capabilities]\n{toml}");
        crate::policy::manifest::Manifest::parse(&text, Path::new("p.toml"))
            .expect("manifest")
            .capabilities
    }

    #[test]
    fn directories_resolve_inside_the_workspace() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("data/sub")).unwrap();
        let requested =
            caps("[[capabilities.dirs]]\nhost = \"data/sub\"\nguest = \"/d\"\nmode = \"rw\"\n");
        let (grants, notices) = resolve(
            &requested,
            &OperatorPolicy::default(),
            "p",
            root.path(),
            &|_| None,
        )
        .unwrap();
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
        let error = resolve(
            &missing,
            &OperatorPolicy::default(),
            "p",
            root.path(),
            &|_| None,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("capabilities.dirs[0].host"),
            "{error}"
        );
        assert!(error.to_string().contains("does not exist"), "{error}");

        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let escape = caps("[[capabilities.dirs]]\nhost = \"link\"\nguest = \"/d\"\n");
        let error = resolve(
            &escape,
            &OperatorPolicy::default(),
            "p",
            root.path(),
            &|_| None,
        )
        .unwrap_err();
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
        let (grants, notices) = resolve(
            &requested,
            &OperatorPolicy::default(),
            "p",
            Path::new("."),
            &lookup,
        )
        .unwrap();
        assert_eq!(grants.env.len(), 1);
        assert_eq!(grants.env[0].name, "SET_ONE");
        assert_eq!(notices.len(), 1);
        assert!(notices[0].contains("UNSET_ONE"), "{notices:?}");
        assert!(!grants.to_string().contains('v') || !grants.to_string().contains("=v"));
    }

    #[test]
    fn operator_origins_cover_requested_ones() {
        let o = |s: &str| s.parse::<HttpOrigin>().unwrap();
        assert!(covers(
            &o("https://a.example.com"),
            &o("https://a.example.com")
        ));
        assert!(covers(
            &o("https://*.example.com"),
            &o("https://a.example.com")
        ));
        assert!(covers(
            &o("https://*.example.com"),
            &o("https://*.api.example.com")
        ));
        assert!(!covers(
            &o("https://*.example.com"),
            &o("https://example.com")
        ));
        assert!(!covers(
            &o("https://a.example.com"),
            &o("https://*.example.com")
        ));
        assert!(!covers(
            &o("https://a.example.com"),
            &o("http://a.example.com")
        ));
        assert!(!covers(
            &o("https://a.example.com"),
            &o("https://a.example.com:8443")
        ));
        assert!(!covers(
            &o("http://localhost:80"),
            &o("http://127.0.0.1:80")
        ));
    }

    #[test]
    fn references_expand_from_the_host_environment() {
        let lookup = |name: &str| (name == "TOKEN").then(|| "t0k".to_string());
        assert_eq!(
            expand_references("Bearer ${TOKEN}", &lookup).unwrap(),
            "Bearer t0k"
        );
        assert_eq!(expand_references("plain", &lookup).unwrap(), "plain");
        assert_eq!(expand_references("${NOPE}x", &lookup).unwrap_err(), "NOPE");
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

    #[test]
    fn who_may_be_asked_follows_the_operator() {
        use crate::policy::operator::PluginPolicy;
        let uri = |u: &str| u.parse::<http::Uri>().unwrap();
        let mut policy = OperatorPolicy::default();
        assert_eq!(HttpAsk::of(&policy, "fetch"), HttpAsk::Never);
        policy.ask = true;
        assert_eq!(HttpAsk::of(&policy, "fetch"), HttpAsk::Any);
        assert!(HttpAsk::Any.may_ask(&uri("http://10.1.2.3:8080/x")));
        // One plugin opts out; another is bounded by its list.
        policy.plugins.insert(
            "quiet".into(),
            PluginPolicy {
                ask: Some(false),
                ..PluginPolicy::default()
            },
        );
        policy.plugins.insert(
            "fetch".into(),
            PluginPolicy {
                http: Some(vec!["https://*.example.org".parse().unwrap()]),
                ..PluginPolicy::default()
            },
        );
        assert_eq!(HttpAsk::of(&policy, "quiet"), HttpAsk::Never);
        let within = HttpAsk::of(&policy, "fetch");
        assert!(within.may_ask(&uri("https://a.example.org/")));
        assert!(!within.may_ask(&uri("https://example.com/")));
        // No network: nothing asks, whatever the plugin says.
        policy.allow_network = false;
        assert_eq!(HttpAsk::of(&policy, "fetch"), HttpAsk::Never);
    }
}
