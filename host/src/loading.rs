//! `[loading]` in `warden.toml`: how plugins are read from the folder and
//! described when they load.
//!
//! ```toml
//! [loading]
//! max_component_size = "256MiB" # larger .wasm files are refused unread
//! read_timeout = "10s"          # per folder entry (manifest + component)
//! describe_timeout = "5s"       # per plugin: list-tools and the other list-* exports
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::input::settings::ConfigError;
use crate::limits::{ByteSize, parse_duration_value, parse_size_value};

/// How plugins are read and described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadingSettings {
    /// The largest component file read; a larger one fails to load, unread.
    pub max_component_size: ByteSize,
    /// How long reading one entry of the folder (its manifest and component)
    /// may take before it is reported as failed; the others do not wait.
    pub read_timeout: Duration,
    /// How long describing one plugin (`list-tools`, `list-resources`,
    /// `list-resource-templates`, `list-prompts`, in one instance) may take,
    /// at load and after it announces a change; never more than the
    /// plugin's call timeout.
    pub describe_timeout: Duration,
}

impl LoadingSettings {
    /// 256 MiB: room for a Python or JavaScript component (18 MB and 12 MB
    /// here) many times over.
    pub const DEFAULT_MAX_COMPONENT_SIZE: ByteSize = ByteSize(256 << 20);
    /// 10 s per folder entry.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// 5 s per plugin.
    pub const DEFAULT_DESCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
}

impl Default for LoadingSettings {
    fn default() -> Self {
        Self {
            max_component_size: Self::DEFAULT_MAX_COMPONENT_SIZE,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
            describe_timeout: Self::DEFAULT_DESCRIBE_TIMEOUT,
        }
    }
}

/// `[loading]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoading {
    max_component_size: Option<toml::Value>,
    read_timeout: Option<toml::Value>,
    describe_timeout: Option<toml::Value>,
}

impl RawLoading {
    /// Validates `[loading]`; `path` is the config file.
    pub(crate) fn validate(self, path: &Path) -> Result<LoadingSettings, ConfigError> {
        let error = |field: &str, error| ConfigError::Limit {
            path: path.to_owned(),
            field: format!("loading.{field}"),
            error,
        };
        let defaults = LoadingSettings::default();
        Ok(LoadingSettings {
            max_component_size: match &self.max_component_size {
                None => defaults.max_component_size,
                Some(value) => {
                    ByteSize(parse_size_value(value).map_err(|e| error("max_component_size", e))?)
                }
            },
            read_timeout: match &self.read_timeout {
                None => defaults.read_timeout,
                Some(value) => parse_duration_value(value).map_err(|e| error("read_timeout", e))?,
            },
            describe_timeout: match &self.describe_timeout {
                None => defaults.describe_timeout,
                Some(value) => {
                    parse_duration_value(value).map_err(|e| error("describe_timeout", e))?
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoadingSettings, ConfigError> {
        let raw: RawLoading = toml::from_str(text).unwrap();
        raw.validate(Path::new("warden.toml"))
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse("").unwrap(), LoadingSettings::default());
        let settings = parse(
            "max_component_size = \"1MiB\"\nread_timeout = \"2s\"\ndescribe_timeout = \"500ms\"",
        )
        .unwrap();
        assert_eq!(settings.max_component_size, ByteSize(1 << 20));
        assert_eq!(settings.read_timeout, Duration::from_secs(2));
        assert_eq!(settings.describe_timeout, Duration::from_millis(500));
        let error = parse("describe_timeout = \"0s\"").unwrap_err().to_string();
        assert!(
            error.starts_with("warden.toml: loading.describe_timeout: "),
            "{error}"
        );
    }
}
