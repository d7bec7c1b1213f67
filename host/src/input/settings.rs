//! The error every section of `warden.toml` reports, and the parsers of the
//! values several sections share (sizes, durations, counts, paths). Each
//! stage validates its own section with them; [`crate::config`] assembles
//! the sections.

use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::input::bounded_file::ReadError;
use crate::limits::{ByteSize, HumanDuration, LimitKind, LimitValue, LimitValueError};

/// Why the config cannot be used. Every message starts with the file's path.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An explicitly named config file does not exist.
    #[error("{}: config file not found", path.display())]
    NotFound {
        /// The config file.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error("{}: cannot read the config file: {error}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why it could not be read.
        error: ReadError,
    },
    /// The file is not valid TOML, or does not fit the schema (unknown key,
    /// wrong type). The message has the line and column.
    #[error("{}: {}", path.display(), error.to_string().trim_end())]
    Toml {
        /// The config file.
        path: PathBuf,
        /// The TOML parser's error.
        error: toml::de::Error,
    },
    /// A size, duration or count is not valid.
    #[error("{}: {field}: {error}", path.display())]
    Limit {
        /// The config file.
        path: PathBuf,
        /// The key, e.g. `limits.ceiling.memory` or `max_wasm_stack`.
        field: String,
        /// What is wrong.
        error: LimitValueError,
    },
    /// Another value is not valid.
    #[error("{}: {field}: invalid value {value}: {reason}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The key, e.g. `max_concurrent_calls`.
        field: String,
        /// The value as written (strings quoted).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A default limit is above its ceiling.
    #[error(
        "{}: limits.default.{kind}: {default} is above the ceiling of {ceiling}: lower the default or raise limits.ceiling.{kind}",
        path.display()
    )]
    DefaultAboveCeiling {
        /// The config file.
        path: PathBuf,
        /// Which limit.
        kind: LimitKind,
        /// The configured default.
        default: LimitValue,
        /// The ceiling, configured or built in.
        ceiling: LimitValue,
    },
}

impl ConfigError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::NotFound { path }
            | ConfigError::Read { path, .. }
            | ConfigError::Toml { path, .. }
            | ConfigError::Limit { path, .. }
            | ConfigError::Invalid { path, .. }
            | ConfigError::DefaultAboveCeiling { path, .. } => path,
        }
    }
}

/// A value that is not valid for `field` of the config file at `path`.
pub fn invalid(path: &Path, field: &str, value: String, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        field: field.to_owned(),
        value,
        reason: reason.into(),
    }
}

/// A size, duration or count that is not valid for `field`.
pub fn limit(path: &Path, field: &str, error: LimitValueError) -> ConfigError {
    ConfigError::Limit {
        path: path.to_owned(),
        field: field.to_owned(),
        error,
    }
}

/// A size (`"64MiB"` or a number of bytes) for `field`.
pub fn size(path: &Path, field: &str, value: &toml::Value) -> Result<ByteSize, ConfigError> {
    crate::limits::parse_size_value(value)
        .map(ByteSize)
        .map_err(|e| limit(path, field, e))
}

/// A duration (`"10s"`) for `field`.
pub fn duration(path: &Path, field: &str, value: &toml::Value) -> Result<Duration, ConfigError> {
    match value {
        toml::Value::String(s) => s
            .parse::<HumanDuration>()
            .map(|d| d.0)
            .map_err(|e| limit(path, field, e)),
        other => Err(limit(
            path,
            field,
            LimitValueError::InvalidDuration {
                value: other.to_string(),
            },
        )),
    }
}

/// A count for `field` that must not be zero.
pub fn at_least_one(path: &Path, field: &str, value: u32) -> Result<u32, ConfigError> {
    if value == 0 {
        return Err(invalid(path, field, "0".into(), "expected at least 1"));
    }
    Ok(value)
}

/// A path for `field`, resolved against the directory of the config file.
pub fn file_path(path: &Path, field: &str, value: &str) -> Result<PathBuf, ConfigError> {
    if value.is_empty() {
        return Err(invalid(
            path,
            field,
            format!("{value:?}"),
            "the path is empty",
        ));
    }
    if value.starts_with('~') {
        return Err(invalid(
            path,
            field,
            format!("{value:?}"),
            "'~' is not expanded: write the full path, or one relative to this file",
        ));
    }
    Ok(path.parent().unwrap_or(Path::new("")).join(value))
}
