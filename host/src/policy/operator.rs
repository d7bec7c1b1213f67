//! The operator's policy for plugins: `[policy]` and `[plugins.NAME]` in
//! `warden.toml`. A plugin's effective grant is the intersection of its
//! manifest's requests and this policy (see [`crate::policy::grants`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::input::settings::{ConfigError, invalid, limit};
use crate::limits::{LimitsRequest, RawLimits};
use crate::policy::consent::{ConsentRules, ToolGlob};
use crate::policy::grants::OverlappingDirs;
use crate::policy::lock::{DefinitionsPolicy, NewPlugins};
use crate::policy::manifest::capabilities::{check_http_requests, check_http_response};
use crate::policy::manifest::{ClientFeature, EnvVarName, GuestPath, HttpOrigin, PluginName};

/// The operator's policy: what plugins may get, whatever their manifests ask.
/// The effective grant of a plugin is the intersection of its manifest's
/// requests and this policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorPolicy {
    /// `policy.allow_network`: when false, no plugin gets outgoing HTTP.
    pub allow_network: bool,
    /// `policy.allow_write`: when false, every granted directory is read-only.
    pub allow_write: bool,
    /// `policy.new_plugins`: what happens on the first sight of a plugin
    /// that the lock file has no approval for.
    pub new_plugins: NewPlugins,
    /// `policy.overlapping_dirs`: what happens to a plugin whose read-write
    /// directory overlaps another granted directory.
    pub overlapping_dirs: OverlappingDirs,
    /// `policy.ask`: a request for an HTTP origin the plugin was not granted,
    /// or a reach into a directory it requests but was not approved, asks
    /// the person (allow once, allow always, deny) instead of failing
    /// silently, when the client can ask them.
    pub ask: bool,
    /// `policy.definitions`: whether a plugin's changed tool, prompt and
    /// template definitions wait for approval (`pin`) or not (`trust`).
    pub definitions: DefinitionsPolicy,
    /// `[plugins.NAME]` tables, by plugin name.
    pub plugins: BTreeMap<String, PluginPolicy>,
}

impl Default for OperatorPolicy {
    fn default() -> Self {
        Self {
            allow_network: true,
            allow_write: true,
            new_plugins: NewPlugins::default(),
            overlapping_dirs: OverlappingDirs::default(),
            ask: false,
            definitions: DefinitionsPolicy::default(),
            plugins: BTreeMap::new(),
        }
    }
}

/// `[plugins.NAME]`: how the operator narrows one plugin. A key that is
/// absent leaves that capability as the manifest requests it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginPolicy {
    /// Origins the plugin may reach (`[]`: none).
    pub http: Option<Vec<HttpOrigin>>,
    /// Guest paths of the requested directories the plugin may have (`[]`: none).
    pub dirs: Option<Vec<GuestPath>>,
    /// Make every granted directory read-only.
    pub read_only: bool,
    /// Variables the plugin may read (`[]`: none).
    pub env: Option<Vec<EnvVarName>>,
    /// Client features the plugin may use (`[]`: none).
    pub client: Option<Vec<ClientFeature>>,
    /// Values for requested variables, instead of the host's; `${VAR}`
    /// references are expanded from the host environment at load.
    pub env_values: BTreeMap<String, String>,
    /// Tools (by their name inside the plugin) that are not exposed.
    pub disabled_tools: Vec<String>,
    /// Limits that override the manifest's requests (still under the ceilings).
    pub limits: LimitsRequest,
    /// `namespace = false`: expose the plugin's tools and prompts under their
    /// own names and its resources under their own URIs, without the
    /// plugin's name. For a server that hosts one plugin (or plugins that
    /// must keep fixed names); collisions are still resolved and reported.
    pub unprefixed: bool,
    /// `http_max_requests`: at most this many requests per call.
    pub http_max_requests: Option<u32>,
    /// `http_max_response`: at most this many bytes per response body.
    pub http_max_response: Option<u64>,
    /// `sequential`, `max_concurrent_calls`, `max_queued_calls`.
    pub concurrency: Concurrency,
    /// `confirm` and `auto_approve`: which calls ask the person first.
    pub consent: ConsentRules,
    /// `ask`: overrides `policy.ask` for this plugin.
    pub ask: Option<bool>,
    /// `allow_private`: granted names may resolve to loopback, private,
    /// link-local and the other ranges [`crate::policy::egress`] refuses.
    pub allow_private: bool,
    /// `credentials`: the values of the credentials the plugin requests, by
    /// name. A requested credential without a value here is not granted.
    pub credentials: BTreeMap<String, CredentialSource>,
    /// `definitions`: `[policy] definitions` for this plugin alone (`trust`
    /// for a plugin whose tools change as it runs).
    pub definitions: Option<DefinitionsPolicy>,
}

/// Where the value of a credential comes from. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A string; `${VAR}` references are expanded from the host
    /// environment at load.
    Value(String),
    /// A file (absolute, or made so from the config file's folder), read at
    /// load; one trailing line break is dropped.
    File(std::path::PathBuf),
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::Value(_) => f.write_str("Value([redacted])"),
            CredentialSource::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// One `[plugins.NAME] credentials` value as written: a string or `{ file }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawCredentialSource {
    Value(String),
    File(RawCredentialFile),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCredentialFile {
    file: String,
}

/// How many calls of one plugin run at once, and how many more may wait
/// (`[plugins.NAME]` `sequential = true`, `max_concurrent_calls`,
/// `max_queued_calls`). Calls beyond both fail at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// Calls that run at once; `None`: as many as the server allows
    /// (`max_concurrent_calls` in `warden.toml`'s top level). `sequential`
    /// is 1: calls run one at a time, in the order they arrived.
    pub running: Option<u32>,
    /// Calls that may wait for a turn besides those running.
    pub queued: u32,
}

impl Concurrency {
    /// `max_queued_calls` when unset.
    pub const DEFAULT_QUEUED: u32 = 64;
    /// The largest `max_queued_calls`.
    pub const MAX_QUEUED: u32 = 10_000;
}

impl Default for Concurrency {
    fn default() -> Self {
        Self {
            running: None,
            queued: Self::DEFAULT_QUEUED,
        }
    }
}

/// `[policy]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    allow_network: Option<bool>,
    allow_write: Option<bool>,
    new_plugins: Option<NewPlugins>,
    overlapping_dirs: Option<OverlappingDirs>,
    ask: Option<bool>,
    definitions: Option<DefinitionsPolicy>,
}

/// One `[plugins.NAME]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPluginPolicy {
    http: Option<Vec<HttpOrigin>>,
    dirs: Option<Vec<GuestPath>>,
    #[serde(default)]
    read_only: bool,
    env: Option<Vec<EnvVarName>>,
    client: Option<Vec<ClientFeature>>,
    #[serde(default)]
    env_values: BTreeMap<EnvVarName, String>,
    #[serde(default)]
    disabled_tools: Vec<String>,
    #[serde(default)]
    limits: RawLimits,
    http_max_requests: Option<toml::Value>,
    http_max_response: Option<toml::Value>,
    namespace: Option<bool>,
    sequential: Option<bool>,
    max_concurrent_calls: Option<u32>,
    max_queued_calls: Option<u32>,
    #[serde(default)]
    confirm: Vec<ToolGlob>,
    #[serde(default)]
    auto_approve: Vec<ToolGlob>,
    ask: Option<bool>,
    #[serde(default)]
    allow_private: bool,
    #[serde(default)]
    credentials: BTreeMap<EnvVarName, RawCredentialSource>,
    definitions: Option<DefinitionsPolicy>,
}

impl RawPluginPolicy {
    /// `sequential`, `max_concurrent_calls` and `max_queued_calls`, checked.
    fn concurrency(&self, name: &str, path: &Path) -> Result<Concurrency, ConfigError> {
        let field = |key: &str| format!("plugins.{name}.{key}");
        let running = match (self.sequential, self.max_concurrent_calls) {
            (Some(true), Some(n)) if n != 1 => {
                return Err(invalid(
                    path,
                    &field("max_concurrent_calls"),
                    n.to_string(),
                    "`sequential = true` runs one call at a time; drop one of the two",
                ));
            }
            (Some(true), _) => Some(1),
            (_, Some(0)) => {
                return Err(invalid(
                    path,
                    &field("max_concurrent_calls"),
                    "0".into(),
                    "must be at least 1 (to turn tools off, use disabled_tools)",
                ));
            }
            (_, n) => n,
        };
        let queued = self.max_queued_calls.unwrap_or(Concurrency::DEFAULT_QUEUED);
        if queued > Concurrency::MAX_QUEUED {
            return Err(invalid(
                path,
                &field("max_queued_calls"),
                queued.to_string(),
                format!("must be at most {}", Concurrency::MAX_QUEUED),
            ));
        }
        Ok(Concurrency { running, queued })
    }
}

impl RawPolicy {
    /// Validates `[policy]` with the `[plugins.NAME]` tables; `path` is the
    /// config file.
    pub(crate) fn validate(
        self,
        raw_plugins: BTreeMap<PluginName, RawPluginPolicy>,
        path: &Path,
    ) -> Result<OperatorPolicy, ConfigError> {
        let mut plugins = BTreeMap::new();
        for (name, raw) in raw_plugins {
            let concurrency = raw.concurrency(name.as_ref(), path)?;
            let limits = raw
                .limits
                .validate()
                .map_err(|(kind, e)| limit(path, &format!("plugins.{name}.limits.{kind}"), e))?;
            for (var, value) in &raw.env_values {
                check_references(value).map_err(|reason| {
                    invalid(
                        path,
                        &format!("plugins.{name}.env_values.{}", var.as_str()),
                        "(value not shown)".into(),
                        reason,
                    )
                })?;
            }
            let mut credentials = BTreeMap::new();
            for (credential, source) in raw.credentials {
                let field = format!("plugins.{name}.credentials.{}", credential.as_str());
                let source = match source {
                    RawCredentialSource::Value(value) => {
                        check_references(&value).map_err(|reason| {
                            invalid(path, &field, "(value not shown)".into(), reason)
                        })?;
                        CredentialSource::Value(value)
                    }
                    RawCredentialSource::File(RawCredentialFile { file }) => {
                        if file.is_empty() {
                            return Err(invalid(path, &field, "file = \"\"".into(), "name a file"));
                        }
                        let folder = path.parent().unwrap_or(Path::new("."));
                        CredentialSource::File(folder.join(file))
                    }
                };
                credentials.insert(String::from(credential), source);
            }
            let http_max_requests = raw
                .http_max_requests
                .as_ref()
                .map(|value| {
                    check_http_requests(value).map_err(|reason| {
                        invalid(
                            path,
                            &format!("plugins.{name}.http_max_requests"),
                            value.to_string(),
                            reason,
                        )
                    })
                })
                .transpose()?;
            let http_max_response = raw
                .http_max_response
                .as_ref()
                .map(|value| {
                    check_http_response(value).map_err(|reason| {
                        invalid(
                            path,
                            &format!("plugins.{name}.http_max_response"),
                            value.to_string(),
                            reason,
                        )
                    })
                })
                .transpose()?;
            plugins.insert(
                name.to_string(),
                PluginPolicy {
                    http: raw.http,
                    dirs: raw.dirs,
                    read_only: raw.read_only,
                    env: raw.env,
                    client: raw.client,
                    env_values: raw
                        .env_values
                        .into_iter()
                        .map(|(k, v)| (k.as_str().to_string(), v))
                        .collect(),
                    disabled_tools: raw.disabled_tools,
                    limits,
                    http_max_requests,
                    http_max_response,
                    unprefixed: raw.namespace == Some(false),
                    concurrency,
                    consent: ConsentRules {
                        confirm: raw.confirm,
                        auto_approve: raw.auto_approve,
                    },
                    ask: raw.ask,
                    allow_private: raw.allow_private,
                    credentials,
                    definitions: raw.definitions,
                },
            );
        }
        Ok(OperatorPolicy {
            allow_network: self.allow_network.unwrap_or(true),
            allow_write: self.allow_write.unwrap_or(true),
            new_plugins: self.new_plugins.unwrap_or_default(),
            overlapping_dirs: self.overlapping_dirs.unwrap_or_default(),
            ask: self.ask.unwrap_or(false),
            definitions: self.definitions.unwrap_or_default(),
            plugins,
        })
    }
}

impl OperatorPolicy {
    /// `[policy] definitions`, or the plugin's own `definitions`.
    pub fn definitions_for(&self, plugin: &str) -> DefinitionsPolicy {
        self.plugins
            .get(plugin)
            .and_then(|p| p.definitions)
            .unwrap_or(self.definitions)
    }

    /// Whether `plugin`'s requests for origins it was not granted ask the
    /// person: `[plugins.NAME] ask`, else `policy.ask`; never without
    /// network access.
    pub fn asks(&self, plugin: &str) -> bool {
        self.allow_network && self.asks_about_dirs(plugin)
    }

    /// Whether the person is asked about `plugin`'s held directories:
    /// `[plugins.NAME] ask`, else `policy.ask`.
    pub fn asks_about_dirs(&self, plugin: &str) -> bool {
        self.plugins
            .get(plugin)
            .and_then(|p| p.ask)
            .unwrap_or(self.ask)
    }
}

/// Checks that every `${` in an operator-provided value opens a well-formed
/// `${NAME}` reference.
fn check_references(value: &str) -> Result<(), String> {
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("a `${` is not closed: write `${NAME}`".into());
        };
        let name = &after[..end];
        if name.parse::<EnvVarName>().is_err() {
            return Err(format!(
                "`${{{name}}}` does not name an environment variable"
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// Expands `${NAME}` references from `lookup`; fails with the first name
/// that is not set.
pub fn expand_references(
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        out.push_str(&lookup(name).ok_or_else(|| name.to_string())?);
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}
