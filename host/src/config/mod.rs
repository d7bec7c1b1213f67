//! The host configuration file, `warden.toml`.
//!
//! Every key is optional, and no file is needed at all:
//!
//! ```toml
//! plugins_dir = "plugins"        # default: "plugins"
//! max_concurrent_calls = 64      # default: 64
//! memory_budget = "8GiB"         # all calls together; default: from the machine
//! memory_budget_plugin_share = 0.5 # the most one plugin may hold; default: 0.5
//! max_wasm_stack = "1MiB"        # engine-wide; default: 1 MiB
//! cache_dir = "/var/cache/warden" # compiled components; default: unset (the host picks)
//! cache_max_size = "512MiB"      # the cache is trimmed above this; default: 512 MiB
//! cache_functions = true         # keep compiled functions for shared code; default: true
//! ready_instances = 1            # per plugin slow to instantiate, made ahead of calls; 0: off
//! ready_memory = "256MiB"        # what all ready instances may hold; default: 256 MiB
//! ready_threshold = "100us"      # instantiations at least this slow are made ahead
//! lock_file = "warden.lock"      # approvals; default: beside this file
//!
//! [policy]
//! new_plugins = "trust-on-first-use" # or "require-approval"
//! overlapping_dirs = "refuse"    # or "warn"
//! definitions = "pin"           # or "trust"
//!
//! [limits.default]               # the limits a plugin gets when it requests none
//! timeout = "10s"
//! [limits.ceiling]               # the most a plugin can get by requesting it
//! memory = "1GiB"
//! ```
//!
//! Relative paths resolve against the directory of the config file (against
//! the current directory when there is no file). `[limits.default]` and
//! `[limits.ceiling]` take the keys of a manifest's `[limits]` and override
//! [`Limits::DEFAULTS`] and [`Limits::CEILINGS`]. A default set above its
//! ceiling is an error; a built-in default above a lowered ceiling is lowered
//! to the ceiling.
//!
//! Each stage owns its section and validates it; this module only assembles
//! them: `[policy]` and `[plugins.NAME]` in [`crate::policy::operator`],
//! `[http]` in [`crate::http::settings`], `[telemetry]` and `[audit]` in
//! [`crate::observe::settings`], `[loading]` in [`crate::loading`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::budget::{MemoryBudget, Share};
use crate::http::oauth::settings::RawAuth;
use crate::http::settings::{HttpSettings, RawHttp};
use crate::input::bounded_file::{TEXT_LIMIT, read_operator_text};
use crate::limits::{
    ByteSize, LimitBounds, LimitKind, Limits, RawLimits, parse_duration_value, parse_size_value,
};
use crate::loading::{LoadingSettings, RawLoading};
use crate::observe::settings::{AuditSettings, RawAudit, RawTelemetry, TelemetrySettings};
use crate::policy::lock;
use crate::policy::manifest::PluginName;
use crate::policy::operator::{RawPluginPolicy, RawPolicy};

pub use crate::input::settings::ConfigError;
pub use crate::policy::operator::{OperatorPolicy, PluginPolicy, expand_references};

/// The file [`Config::discover`] looks for in the current directory.
pub const FILE_NAME: &str = "warden.toml";

/// The host's configuration, validated, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file this was read from; `None` for the built-in defaults.
    pub path: Option<PathBuf>,
    /// Where plugins (`NAME.wasm` + optional `NAME.toml`) live, resolved
    /// against the config file's directory.
    pub plugins_dir: PathBuf,
    /// How many tool calls may run at once (1 to [`Config::MAX_CONCURRENT_CALLS`]).
    pub max_concurrent_calls: u32,
    /// `memory_budget`: what all calls in flight may reserve together (see
    /// [`crate::budget`]); `None`: derived from the machine.
    pub memory_budget: Option<ByteSize>,
    /// `memory_budget_plugin_share`: the part of the budget one plugin may hold.
    pub memory_budget_plugin_share: Share,
    /// Maximum wasm stack, for `wasmtime::Config::max_wasm_stack` (an engine
    /// setting: the same for all plugins). Never zero. wasmtime refuses an
    /// engine whose `async_stack_size` is not above it, so raise that too.
    pub max_wasm_stack: ByteSize,
    /// Where compiled components are cached, resolved against the config
    /// file's directory; `None` lets the host pick (`~/.cache/warden/components`).
    pub cache_dir: Option<PathBuf>,
    /// `cache_max_size`: the compiled-component cache is trimmed (oldest
    /// first, in the background) when its files grow above this.
    pub cache_max_size: ByteSize,
    /// `cache_functions`: keep Cranelift's compiled functions in the cache,
    /// so that a component sharing code with one compiled before compiles
    /// only what is new (an engine setting, read at start).
    pub cache_functions: bool,
    /// `ready_instances`: how many fresh instances each plugin whose
    /// instantiation is slow (an interpreter's start code) keeps made ahead
    /// of its calls; 0 turns them off. Each still serves one call only.
    pub ready_instances: u32,
    /// `ready_memory`: the linear and host memory all ready instances may
    /// hold together, outside the calls' `memory_budget`.
    pub ready_memory: ByteSize,
    /// `ready_threshold`: plugins whose instantiation takes at least this
    /// long get ready instances; faster ones gain nothing from them.
    pub ready_threshold: Duration,
    /// Default and ceiling limits for tool calls.
    pub limits: LimitBounds,
    /// The directory that manifests' `capabilities.dirs[].host` paths are
    /// relative to and may not escape; resolved against the config file's
    /// directory. `None`: the directory Warden was started in.
    pub workspace_root: Option<PathBuf>,
    /// What the operator allows plugins (`[policy]` and `[plugins.NAME]`).
    pub policy: OperatorPolicy,
    /// `lock_file`: where approvals are recorded, resolved against the config
    /// file's directory. `None`: [`Config::lock_path`] picks.
    pub lock_file: Option<PathBuf>,
    /// `[http]`: Streamable HTTP serving.
    pub http: HttpSettings,
    /// `[telemetry]`: the spans file.
    pub telemetry: TelemetrySettings,
    /// `[audit]`: the audit log.
    pub audit: AuditSettings,
    /// `[loading]`: reading and describing plugins.
    pub loading: LoadingSettings,
}

impl Config {
    /// Where approvals are recorded: `lock_file` if set, else
    /// [`lock::FILE_NAME`] beside the config file (in the current directory
    /// when there is no config file).
    pub fn lock_path(&self) -> PathBuf {
        match (&self.lock_file, &self.path) {
            (Some(file), _) => file.clone(),
            (None, Some(config)) => config
                .parent()
                .unwrap_or(Path::new(""))
                .join(lock::FILE_NAME),
            (None, None) => PathBuf::from(lock::FILE_NAME),
        }
    }

    /// The default for `max_concurrent_calls`.
    pub const DEFAULT_MAX_CONCURRENT_CALLS: u32 = 64;
    /// The highest accepted `max_concurrent_calls`.
    pub const MAX_CONCURRENT_CALLS: u32 = 100_000;
    /// The default for `ready_instances`.
    pub const DEFAULT_READY_INSTANCES: u32 = 1;
    /// The highest accepted `ready_instances`.
    pub const MAX_READY_INSTANCES: u32 = 8;
    /// The default for `ready_memory`: 256 MiB.
    pub const DEFAULT_READY_MEMORY: ByteSize = ByteSize(256 << 20);
    /// The default for `ready_threshold`: 100 µs (a CPython component takes
    /// about 0.8 ms here, a Rust one about 20 µs).
    pub const DEFAULT_READY_THRESHOLD: Duration = Duration::from_micros(100);
    /// The default for `max_wasm_stack`: 1 MiB.
    pub const DEFAULT_MAX_WASM_STACK: ByteSize = ByteSize(1 << 20);
    /// The default for `cache_max_size`: 512 MiB.
    pub const DEFAULT_CACHE_MAX_SIZE: ByteSize = ByteSize(512 << 20);

    /// Finds the configuration: `explicit` if given (it must exist), else
    /// `./warden.toml` if present, else the built-in defaults.
    pub fn discover(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match explicit {
            Some(path) => Config::load(path),
            None => {
                let path = Path::new(".").join(FILE_NAME);
                match read_operator_text(&path, TEXT_LIMIT) {
                    Ok(text) => Config::parse(&text, &path),
                    Err(e) if e.is_not_found() => Ok(Config::default()),
                    Err(error) => Err(ConfigError::Read { path, error }),
                }
            }
        }
    }

    /// Reads and parses the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_operator_text(path, TEXT_LIMIT).map_err(|error| {
            if error.is_not_found() {
                ConfigError::NotFound {
                    path: path.to_owned(),
                }
            } else {
                ConfigError::Read {
                    path: path.to_owned(),
                    error,
                }
            }
        })?;
        Config::parse(&text, path)
    }

    /// Parses config text. `path` names the file in errors, and relative
    /// paths in the file resolve against its directory.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError::Toml {
            path: path.to_owned(),
            error,
        })?;
        raw.validate(path)
    }
}

impl MemoryBudget {
    /// The budget from `warden.toml` (or the machine).
    pub fn from_config(config: &Config) -> Self {
        Self::new(
            config.memory_budget.map(|b| b.0),
            config.memory_budget_plugin_share,
            config.max_concurrent_calls,
            // The sandbox gives each call's fiber the wasm stack plus 1 MiB.
            config.max_wasm_stack.0.saturating_add(crate::budget::MIB),
        )
    }
}

impl Default for Config {
    /// The configuration used when there is no `warden.toml`.
    fn default() -> Self {
        Config {
            path: None,
            plugins_dir: PathBuf::from("plugins"),
            max_concurrent_calls: Config::DEFAULT_MAX_CONCURRENT_CALLS,
            memory_budget: None,
            memory_budget_plugin_share: Share::DEFAULT,
            max_wasm_stack: Config::DEFAULT_MAX_WASM_STACK,
            cache_dir: None,
            cache_max_size: Config::DEFAULT_CACHE_MAX_SIZE,
            cache_functions: true,
            ready_instances: Config::DEFAULT_READY_INSTANCES,
            ready_memory: Config::DEFAULT_READY_MEMORY,
            ready_threshold: Config::DEFAULT_READY_THRESHOLD,
            limits: LimitBounds::default(),
            workspace_root: None,
            policy: OperatorPolicy::default(),
            lock_file: None,
            http: HttpSettings::default(),
            telemetry: TelemetrySettings::default(),
            audit: AuditSettings::default(),
            loading: LoadingSettings::default(),
        }
    }
}

/// `warden.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    plugins_dir: Option<String>,
    max_concurrent_calls: Option<toml::Value>,
    memory_budget: Option<toml::Value>,
    memory_budget_plugin_share: Option<toml::Value>,
    max_wasm_stack: Option<toml::Value>,
    cache_dir: Option<String>,
    cache_max_size: Option<toml::Value>,
    cache_functions: Option<bool>,
    ready_instances: Option<toml::Value>,
    ready_memory: Option<toml::Value>,
    ready_threshold: Option<toml::Value>,
    workspace_root: Option<String>,
    #[serde(default)]
    limits: RawLimitTables,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    plugins: BTreeMap<PluginName, RawPluginPolicy>,
    lock_file: Option<String>,
    #[serde(default)]
    http: RawHttp,
    auth: Option<RawAuth>,
    #[serde(default)]
    telemetry: RawTelemetry,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    loading: RawLoading,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimitTables {
    #[serde(default)]
    default: RawLimits,
    #[serde(default)]
    ceiling: RawLimits,
}

impl RawConfig {
    fn validate(self, path: &Path) -> Result<Config, ConfigError> {
        let base = path.parent().unwrap_or(Path::new(""));
        let invalid = |field: &str, value: String, reason: String| ConfigError::Invalid {
            path: path.to_owned(),
            field: field.to_owned(),
            value,
            reason,
        };
        let limit_error = |field: String, error| ConfigError::Limit {
            path: path.to_owned(),
            field,
            error,
        };
        let resolve = |field: &str, dir: &str| {
            check_dir(dir)
                .map(|()| base.join(dir))
                .map_err(|reason| invalid(field, format!("{dir:?}"), reason))
        };

        let defaults = Config::default();
        let plugins_dir = match &self.plugins_dir {
            Some(dir) => resolve("plugins_dir", dir)?,
            None => base.join(&defaults.plugins_dir),
        };
        let cache_dir = self
            .cache_dir
            .as_deref()
            .map(|dir| resolve("cache_dir", dir))
            .transpose()?;
        let workspace_root = self
            .workspace_root
            .as_deref()
            .map(|dir| resolve("workspace_root", dir))
            .transpose()?;

        let max_concurrent_calls = match &self.max_concurrent_calls {
            None => defaults.max_concurrent_calls,
            Some(value) => value
                .as_integer()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=Config::MAX_CONCURRENT_CALLS).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "max_concurrent_calls",
                        value.to_string(),
                        format!(
                            "expected an integer from 1 to {}",
                            Config::MAX_CONCURRENT_CALLS
                        ),
                    )
                })?,
        };

        let memory_budget = self
            .memory_budget
            .as_ref()
            .map(|value| parse_size_value(value).map(ByteSize))
            .transpose()
            .map_err(|e| limit_error("memory_budget".into(), e))?;
        let memory_budget_plugin_share = match &self.memory_budget_plugin_share {
            None => Share::DEFAULT,
            Some(value) => value
                .as_float()
                .or_else(|| value.as_integer().map(|n| n as f64))
                .and_then(Share::from_fraction)
                .ok_or_else(|| {
                    invalid(
                        "memory_budget_plugin_share",
                        value.to_string(),
                        "expected a fraction of the budget above 0 and at most 1, such as 0.5"
                            .into(),
                    )
                })?,
        };

        let max_wasm_stack = match &self.max_wasm_stack {
            None => defaults.max_wasm_stack,
            Some(value) => ByteSize(
                parse_size_value(value).map_err(|e| limit_error("max_wasm_stack".into(), e))?,
            ),
        };

        let ready_instances = match &self.ready_instances {
            None => defaults.ready_instances,
            Some(value) => value
                .as_integer()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= Config::MAX_READY_INSTANCES)
                .ok_or_else(|| {
                    invalid(
                        "ready_instances",
                        value.to_string(),
                        format!(
                            "expected an integer from 0 (off) to {}",
                            Config::MAX_READY_INSTANCES
                        ),
                    )
                })?,
        };
        let ready_memory = match &self.ready_memory {
            None => defaults.ready_memory,
            Some(value) => ByteSize(
                parse_size_value(value).map_err(|e| limit_error("ready_memory".into(), e))?,
            ),
        };

        let ready_threshold = match &self.ready_threshold {
            None => defaults.ready_threshold,
            Some(value) => {
                parse_duration_value(value).map_err(|e| limit_error("ready_threshold".into(), e))?
            }
        };

        let cache_max_size = match &self.cache_max_size {
            None => defaults.cache_max_size,
            Some(value) => ByteSize(
                parse_size_value(value).map_err(|e| limit_error("cache_max_size".into(), e))?,
            ),
        };

        let default_request = self
            .limits
            .default
            .validate()
            .map_err(|(kind, e)| limit_error(format!("limits.default.{kind}"), e))?;
        let ceiling_request = self
            .limits
            .ceiling
            .validate()
            .map_err(|(kind, e)| limit_error(format!("limits.ceiling.{kind}"), e))?;
        let ceilings = Limits::CEILINGS.with_overrides(&ceiling_request);
        for kind in LimitKind::ALL {
            if let Some(default) = default_request.get(kind)
                && default > ceilings.get(kind)
            {
                return Err(ConfigError::DefaultAboveCeiling {
                    path: path.to_owned(),
                    kind,
                    default,
                    ceiling: ceilings.get(kind),
                });
            }
        }
        let defaults_limits = Limits::DEFAULTS
            .clamped_to(&ceilings)
            .with_overrides(&default_request);

        let policy = self.policy.validate(self.plugins, path)?;
        let lock_file = self
            .lock_file
            .as_deref()
            .map(|file| resolve("lock_file", file))
            .transpose()?;
        let http = self.http.validate(self.auth, path)?;
        let telemetry = self.telemetry.validate(path)?;
        let audit = self.audit.validate(path)?;
        let loading = self.loading.validate(path)?;

        Ok(Config {
            path: Some(path.to_owned()),
            plugins_dir,
            max_concurrent_calls,
            memory_budget,
            memory_budget_plugin_share,
            max_wasm_stack,
            cache_dir,
            cache_max_size,
            cache_functions: self.cache_functions.unwrap_or(defaults.cache_functions),
            ready_instances,
            ready_memory,
            ready_threshold,
            limits: LimitBounds {
                defaults: defaults_limits,
                ceilings,
            },
            workspace_root,
            policy,
            lock_file,
            http,
            telemetry,
            audit,
            loading,
        })
    }
}

/// Checks a directory path written in the config.
fn check_dir(dir: &str) -> Result<(), String> {
    if dir.is_empty() {
        return Err("the path is empty".into());
    }
    if dir.starts_with('~') {
        return Err(
            "'~' is not expanded: write the full path, or one relative to this file".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("etc/warden.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).expect_err(text).to_string()
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../../examples/warden.toml");
        let config = parse(text).expect("examples/warden.toml");
        assert_eq!(config.cache_max_size, Config::DEFAULT_CACHE_MAX_SIZE);
        assert!(config.cache_functions);
        assert!(!parse("cache_functions = false").unwrap().cache_functions);
        assert!(error("cache_functions = \"no\"").contains("cache_functions"));
        assert_eq!(config.ready_instances, Config::DEFAULT_READY_INSTANCES);
        assert_eq!(config.ready_memory, Config::DEFAULT_READY_MEMORY);
        assert_eq!(config.ready_threshold, Config::DEFAULT_READY_THRESHOLD);
        let ready =
            parse("ready_instances = 0\nready_memory = \"1GiB\"\nready_threshold = \"2ms\"")
                .unwrap();
        assert_eq!(
            (
                ready.ready_instances,
                ready.ready_memory,
                ready.ready_threshold
            ),
            (0, ByteSize(1 << 30), Duration::from_millis(2))
        );
        assert!(error("ready_instances = 9").contains("from 0 (off) to 8"));
        assert!(error("ready_instances = -1").contains("ready_instances"));
        assert!(error("ready_threshold = \"0s\"").contains("ready_threshold"));
        assert_eq!(
            error("cache_max_size = \"big\""),
            "etc/warden.toml: cache_max_size: invalid size \"big\" (expected a size such as \"64MiB\")"
        );
    }

    #[test]
    fn empty_file_gives_defaults_relative_to_the_file() {
        let c = parse("").expect("valid");
        assert_eq!(
            c,
            Config {
                path: Some("etc/warden.toml".into()),
                plugins_dir: "etc/plugins".into(),
                ..Config::default()
            }
        );
        assert_eq!(c.limits.defaults, Limits::DEFAULTS);
        assert_eq!(c.limits.ceilings, Limits::CEILINGS);
        assert_eq!(c.max_concurrent_calls, 64);
        assert_eq!(c.max_wasm_stack, ByteSize(1 << 20));
        assert_eq!(c.cache_dir, None);
    }

    #[test]
    fn full_file() {
        let c = parse(
            r#"
            plugins_dir = "../plugins"
            max_concurrent_calls = 8
            max_wasm_stack = "2MiB"
            cache_dir = "/var/cache/warden"
            [limits.default]
            timeout = "30s"
            memory = "512MiB"
            [limits.ceiling]
            timeout = "1h"
            fuel = 5_000_000_000_000
            "#,
        )
        .expect("valid");
        assert_eq!(c.plugins_dir, Path::new("etc/../plugins"));
        assert_eq!(c.cache_dir.as_deref(), Some(Path::new("/var/cache/warden")));
        assert_eq!(c.max_concurrent_calls, 8);
        assert_eq!(c.max_wasm_stack, ByteSize(2 << 20));
        assert_eq!(
            c.limits.defaults,
            Limits {
                timeout: Duration::from_secs(30),
                memory_bytes: 512 << 20,
                ..Limits::DEFAULTS
            }
        );
        assert_eq!(
            c.limits.ceilings,
            Limits {
                timeout: Duration::from_secs(3600),
                fuel: 5_000_000_000_000,
                ..Limits::CEILINGS
            }
        );
    }

    #[test]
    fn file_in_the_current_directory_keeps_relative_paths() {
        let c = Config::parse("plugins_dir = \"p\"", Path::new("warden.toml")).unwrap();
        assert_eq!(c.plugins_dir, Path::new("p"));
        let c = Config::parse("", Path::new("./warden.toml")).unwrap();
        assert_eq!(c.plugins_dir, Path::new("./plugins"));
    }

    #[test]
    fn definitions_are_pinned_unless_trusted_globally_or_per_plugin() {
        use crate::policy::lock::DefinitionsPolicy::{Pin, Trust};
        let c = parse("[plugins.live]\ndefinitions = \"trust\"\n").unwrap();
        assert_eq!(c.policy.definitions_for("other"), Pin);
        assert_eq!(c.policy.definitions_for("live"), Trust);
        let c = parse("[policy]\ndefinitions = \"trust\"\n[plugins.x]\ndefinitions = \"pin\"\n")
            .unwrap();
        assert_eq!(c.policy.definitions_for("other"), Trust);
        assert_eq!(c.policy.definitions_for("x"), Pin);
        assert!(error("[policy]\ndefinitions = \"maybe\"").contains("maybe"));
    }

    #[test]
    fn default_above_ceiling_is_an_error() {
        assert_eq!(
            error("[limits.default]\nmemory = \"8GiB\""),
            "etc/warden.toml: limits.default.memory: 8 GiB is above the ceiling of 4 GiB: lower the default or raise limits.ceiling.memory"
        );
        assert_eq!(
            error("[limits.default]\ntimeout = \"2min\"\n[limits.ceiling]\ntimeout = \"1min\""),
            "etc/warden.toml: limits.default.timeout: 2 min is above the ceiling of 1 min: lower the default or raise limits.ceiling.timeout"
        );
        assert!(
            parse("[limits.default]\nmemory = \"4GiB\"").is_ok(),
            "equal is fine"
        );
    }

    #[test]
    fn lowering_a_ceiling_lowers_the_built_in_default() {
        let c = parse("[limits.ceiling]\nmemory = \"64MiB\"\ntimeout = \"1s\"").unwrap();
        assert_eq!(c.limits.defaults.memory_bytes, 64 << 20);
        assert_eq!(c.limits.defaults.timeout, Duration::from_secs(1));
        assert_eq!(c.limits.defaults.fuel, Limits::DEFAULTS.fuel);
    }

    #[test]
    fn bad_values_name_the_field() {
        assert_eq!(
            error("max_concurrent_calls = 0"),
            "etc/warden.toml: max_concurrent_calls: invalid value 0: expected an integer from 1 to 100000"
        );
        assert_eq!(
            error("max_concurrent_calls = -3"),
            "etc/warden.toml: max_concurrent_calls: invalid value -3: expected an integer from 1 to 100000"
        );
        assert_eq!(
            error("max_wasm_stack = \"lots\""),
            "etc/warden.toml: max_wasm_stack: invalid size \"lots\" (expected a size such as \"64MiB\")"
        );
        assert_eq!(
            error("max_wasm_stack = 0"),
            "etc/warden.toml: max_wasm_stack: 0 is not allowed: a zero limit would fail every call (remove the key to use the default)"
        );
        assert_eq!(
            error("cache_dir = \"~/.cache/warden\""),
            "etc/warden.toml: cache_dir: invalid value \"~/.cache/warden\": '~' is not expanded: write the full path, or one relative to this file"
        );
        assert_eq!(
            error("plugins_dir = \"\""),
            "etc/warden.toml: plugins_dir: invalid value \"\": the path is empty"
        );
        assert_eq!(
            error("[limits.ceiling]\nfuel = 0"),
            "etc/warden.toml: limits.ceiling.fuel: 0 is not allowed: a zero limit would fail every call (remove the key to use the default)"
        );
        let e = error("[limits.default]\ncpu = 1");
        assert!(
            e.starts_with("etc/warden.toml: TOML parse error at line 2, column 1"),
            "{e}"
        );
        assert!(e.contains("unknown field `cpu`"), "{e}");
        let e = error("[plugins.text]\nnetwork = false");
        assert!(e.contains("unknown field `network`"), "{e}");
    }

    #[test]
    fn memory_budget_keys() {
        let c = parse("memory_budget = \"8GiB\"\nmemory_budget_plugin_share = 0.25").unwrap();
        assert_eq!(c.memory_budget, Some(ByteSize(8 << 30)));
        assert_eq!(
            c.memory_budget_plugin_share,
            Share::from_fraction(0.25).unwrap()
        );
        let c = parse("memory_budget_plugin_share = 1").unwrap();
        assert_eq!(c.memory_budget_plugin_share, Share::WHOLE);
        assert_eq!(parse("").unwrap().memory_budget, None);
        assert_eq!(
            error("memory_budget = \"lots\""),
            "etc/warden.toml: memory_budget: invalid size \"lots\" (expected a size such as \"64MiB\")"
        );
        assert_eq!(
            error("memory_budget_plugin_share = 1.5"),
            "etc/warden.toml: memory_budget_plugin_share: invalid value 1.5: expected a fraction of the budget above 0 and at most 1, such as 0.5"
        );
    }

    #[test]
    fn explicit_config_must_exist() {
        let e = Config::discover(Some(Path::new("/nonexistent/warden.toml"))).unwrap_err();
        assert!(matches!(e, ConfigError::NotFound { .. }));
        assert_eq!(
            e.to_string(),
            "/nonexistent/warden.toml: config file not found"
        );
        assert_eq!(e.path(), Path::new("/nonexistent/warden.toml"));
    }

    #[test]
    fn explicit_config_is_loaded() {
        let dir = std::env::temp_dir().join(format!("warden-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("custom.toml");
        std::fs::write(&file, "max_concurrent_calls = 2").unwrap();
        let c = Config::discover(Some(&file)).unwrap();
        assert_eq!(c.max_concurrent_calls, 2);
        assert_eq!(c.plugins_dir, dir.join("plugins"));
        assert_eq!(c.path.as_deref(), Some(file.as_path()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
