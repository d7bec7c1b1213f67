//! `[telemetry]` (the spans file) and `[audit]` (the audit log) in
//! `warden.toml`.
//!
//! ```toml
//! [telemetry]
//! spans_dir = "spans"                # default: unset (no spans); `--spans-dir` overrides
//! spans_max_size = "64MiB"           # rotation size
//!
//! [audit]
//! file = "audit/warden-audit.jsonl"  # default: unset (no audit log); `--audit-file` overrides
//! max_size = "64MiB"                 # rotation size
//! log_arguments = ["text_hash"]      # tools whose arguments are written (secrets removed)
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::input::settings::{ConfigError, file_path, size};
use crate::limits::ByteSize;

/// `[telemetry]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// Where `mcp_tool_spans.jsonl` goes; `None`: no spans.
    pub spans_dir: Option<PathBuf>,
    /// Size at which the spans file rotates.
    pub spans_max_size: ByteSize,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            spans_dir: None,
            spans_max_size: ByteSize(crate::observe::spans::DEFAULT_MAX_BYTES),
        }
    }
}

/// `[audit]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// The audit file; `None`: no audit log.
    pub file: Option<PathBuf>,
    /// Size at which the audit file rotates.
    pub max_size: ByteSize,
    /// Exposed tool names whose arguments are written (secrets removed).
    pub log_arguments: BTreeSet<String>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            file: None,
            max_size: ByteSize(crate::observe::audit::DEFAULT_MAX_BYTES),
            log_arguments: BTreeSet::new(),
        }
    }
}

/// `[telemetry]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTelemetry {
    spans_dir: Option<String>,
    spans_max_size: Option<toml::Value>,
}

/// `[audit]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    file: Option<String>,
    max_size: Option<toml::Value>,
    #[serde(default)]
    log_arguments: Vec<String>,
}

impl RawTelemetry {
    /// Validates `[telemetry]`; `path` is the config file.
    pub(crate) fn validate(self, path: &Path) -> Result<TelemetrySettings, ConfigError> {
        let defaults = TelemetrySettings::default();
        Ok(TelemetrySettings {
            spans_dir: self
                .spans_dir
                .as_deref()
                .map(|dir| file_path(path, "telemetry.spans_dir", dir))
                .transpose()?,
            spans_max_size: match &self.spans_max_size {
                None => defaults.spans_max_size,
                Some(value) => size(path, "telemetry.spans_max_size", value)?,
            },
        })
    }
}

impl RawAudit {
    /// Validates `[audit]`; `path` is the config file.
    pub(crate) fn validate(self, path: &Path) -> Result<AuditSettings, ConfigError> {
        let defaults = AuditSettings::default();
        Ok(AuditSettings {
            file: self
                .file
                .as_deref()
                .map(|file| file_path(path, "audit.file", file))
                .transpose()?,
            max_size: match &self.max_size {
                None => defaults.max_size,
                Some(value) => size(path, "audit.max_size", value)?,
            },
            log_arguments: self.log_arguments.into_iter().collect(),
        })
    }
}
