//! `[telemetry]` (the spans file) and `[audit]` (the audit log) in
//! `warden.toml`.
//!
//! ```toml
//! [telemetry]
//! spans_dir = "spans"                # default: unset (no spans); `--spans-dir` overrides
//! spans_max_size = "64MiB"           # rotation size
//! otlp_endpoint = "http://127.0.0.1:4318" # OTLP/HTTP (protobuf): traces and metrics; default off
//! otlp_headers = { "x-api-key" = "..." }  # sent with each export
//! otlp_interval = "60s"              # how often metrics are exported
//! service_name = "warden"            # the `service.name` resource attribute
//!
//! [audit]
//! file = "audit/warden-audit.jsonl"  # default: unset (no audit log); `--audit-file` overrides
//! max_size = "64MiB"                 # rotation size
//! log_arguments = ["text_hash"]      # tools whose arguments are written (secrets removed)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::input::settings::{ConfigError, duration, file_path, invalid, size};
use crate::limits::ByteSize;

/// `[telemetry]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// Where `mcp_tool_spans.jsonl` goes; `None`: no spans.
    pub spans_dir: Option<PathBuf>,
    /// Size at which the spans file rotates.
    pub spans_max_size: ByteSize,
    /// Where traces and metrics are exported over OTLP; `None`: off.
    pub otlp: Option<OtlpSettings>,
}

/// OTLP export: `otlp_*` and `service_name` in `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The collector's base URL (`/v1/traces` and `/v1/metrics` are added).
    pub endpoint: String,
    /// Headers sent with each export.
    pub headers: BTreeMap<String, String>,
    /// How often metrics are exported.
    pub interval: Duration,
    /// `service.name`.
    pub service_name: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            spans_dir: None,
            spans_max_size: ByteSize(crate::observe::spans::DEFAULT_MAX_BYTES),
            otlp: None,
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
    otlp_endpoint: Option<String>,
    #[serde(default)]
    otlp_headers: BTreeMap<String, String>,
    otlp_interval: Option<toml::Value>,
    service_name: Option<String>,
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
            otlp: self.otlp(path)?,
        })
    }

    fn otlp(&self, path: &Path) -> Result<Option<OtlpSettings>, ConfigError> {
        let Some(endpoint) = &self.otlp_endpoint else {
            if self.otlp_interval.is_some() || !self.otlp_headers.is_empty() {
                return Err(invalid(
                    path,
                    "telemetry.otlp_endpoint",
                    "(missing)".into(),
                    "otlp_headers and otlp_interval need an otlp_endpoint, such as \"http://127.0.0.1:4318\"",
                ));
            }
            return Ok(None);
        };
        let url = url::Url::parse(endpoint).map_err(|e| {
            invalid(
                path,
                "telemetry.otlp_endpoint",
                format!("{endpoint:?}"),
                format!("not a URL: {e}"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(invalid(
                path,
                "telemetry.otlp_endpoint",
                format!("{endpoint:?}"),
                "expected the collector's OTLP/HTTP base URL, such as \"http://127.0.0.1:4318\"",
            ));
        }
        for (name, value) in &self.otlp_headers {
            if http::HeaderName::try_from(name.as_str()).is_err()
                || http::HeaderValue::try_from(value.as_str()).is_err()
            {
                return Err(invalid(
                    path,
                    "telemetry.otlp_headers",
                    format!("{name:?}"),
                    "not a valid HTTP header name and value",
                ));
            }
        }
        let interval = match &self.otlp_interval {
            None => Duration::from_secs(60),
            Some(value) => duration(path, "telemetry.otlp_interval", value)?,
        };
        if interval < Duration::from_secs(1) {
            return Err(invalid(
                path,
                "telemetry.otlp_interval",
                format!("{interval:?}"),
                "at least 1 s",
            ));
        }
        Ok(Some(OtlpSettings {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            headers: self.otlp_headers.clone(),
            interval,
            service_name: self.service_name.clone().unwrap_or_else(|| "warden".into()),
        }))
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
