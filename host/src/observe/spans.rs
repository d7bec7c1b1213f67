//! Telemetry spans: one JSON line per tool call in `DIR/mcp_tool_spans.jsonl`.
//!
//! ```json
//! {"timestamp_ms":1795000000000,"tool_name":"text_hash","plugin":"text",
//!  "method":"tools/call","duration_ms":0.41,"success":true,"error_code":null,
//!  "fuel_used":51234,"peak_memory_bytes":1114112,"output_bytes":80,
//!  "extra":{"outcome":"ok","denials":0,"peak_host_memory_bytes":40960,
//!  "peak_open_files":0,"written_bytes":0}}
//! ```
//!
//! `timestamp_ms` is when the call finished; `fuel_used`, `peak_memory_bytes`
//! and `output_bytes` are null when the plugin did not run (arguments that
//! fail the input schema). Arguments and results are never written.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::observe::CallRecord;
use crate::observe::jsonl::{JsonlFile, now_ms};

/// The spans file's name inside the spans folder.
pub const FILE_NAME: &str = "mcp_tool_spans.jsonl";
/// The default size at which the file rotates: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// Appends one span per call.
#[derive(Debug)]
pub struct SpanWriter {
    file: JsonlFile,
}

/// One line of the spans file.
#[derive(Debug, Serialize)]
pub struct Span<'a> {
    /// When the call finished, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The exposed tool name.
    pub tool_name: &'a str,
    /// The plugin serving it.
    pub plugin: &'a str,
    /// The MCP method: `tools/call`.
    pub method: &'a str,
    /// How long the call took, in milliseconds (fractional).
    pub duration_ms: f64,
    /// Whether the result was a success (`isError` false).
    pub success: bool,
    /// Why it failed: `tool_error`, `invalid_arguments`, `limit.KIND`,
    /// `crash`, `bad_output` or `internal`; null on success.
    pub error_code: Option<String>,
    /// Instructions consumed.
    pub fuel_used: Option<u64>,
    /// The largest linear memory reached.
    pub peak_memory_bytes: Option<u64>,
    /// Size of the plugin's result.
    pub output_bytes: Option<u64>,
    /// Further detail: `outcome`, the number of `denials`, and the host
    /// resources the call used (`peak_host_memory_bytes`, `peak_open_files`,
    /// `written_bytes`; null when the plugin did not run).
    pub extra: serde_json::Value,
}

impl SpanWriter {
    /// Opens `DIR/mcp_tool_spans.jsonl`, creating the folder if needed.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        Ok(Self {
            file: JsonlFile::open(&dir.join(FILE_NAME), max_bytes)?,
        })
    }

    /// The spans file.
    pub fn path(&self) -> PathBuf {
        self.file.path().to_owned()
    }

    /// Appends the span of a finished call; a write error is logged.
    pub fn record(&self, record: &CallRecord<'_>) {
        let span = Span {
            timestamp_ms: now_ms(),
            tool_name: record.tool,
            plugin: record.plugin,
            method: "tools/call",
            duration_ms: record.duration.as_secs_f64() * 1000.0,
            success: record.outcome == crate::observe::Outcome::Ok,
            error_code: record.outcome.error_code(),
            fuel_used: record.stats.map(|s| s.fuel_used),
            peak_memory_bytes: record.stats.map(|s| s.peak_memory),
            output_bytes: record.stats.map(|s| s.output_bytes),
            extra: json!({
                "outcome": record.outcome.label(),
                "denials": record.denials.len(),
                "peak_host_memory_bytes": record.stats.map(|s| s.peak_host_memory),
                "peak_open_files": record.stats.map(|s| s.peak_open_files),
                "written_bytes": record.stats.map(|s| s.written_bytes),
                "principal": record.principal.map(|c| c.id),
            }),
        };
        if let Err(e) = self.file.append(&span) {
            tracing::warn!(path = %self.file.path().display(), "cannot write a span: {e}");
        }
    }
}
