//! What happens after a tool call: one [`CallRecord`] per call, fanned out to
//! metrics, the spans file and the audit log.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::audit::AuditLog;
use crate::grants::Denial;
use crate::sandbox::{CallError, CallStats, ToolError};
use crate::spans::SpanWriter;

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The tool returned a result.
    Ok,
    /// The arguments failed the tool's input schema; the plugin did not run.
    InvalidArguments,
    /// The tool returned an error.
    ToolError,
    /// A limit ended the call (`fuel`, `timeout`, `memory`, `stack`, `output`,
    /// `handles`, `host_memory`, `open_files`, `write`).
    Limit(&'static str),
    /// The guest trapped.
    Crash,
    /// The plugin's result broke the contract (bad structured content).
    BadOutput,
    /// The host failed to run the call.
    Internal,
}

impl Outcome {
    /// How the sandbox's outcome classifies, before the result is mapped.
    pub fn of<T>(outcome: &Result<Result<T, ToolError>, CallError>) -> Self {
        match outcome {
            Ok(Ok(_)) => Outcome::Ok,
            Ok(Err(ToolError::InvalidArguments(_))) => Outcome::InvalidArguments,
            Ok(Err(_)) => Outcome::ToolError,
            Err(CallError::Limit(limit)) => Outcome::Limit(limit.kind()),
            Err(CallError::Trap { .. }) => Outcome::Crash,
            Err(CallError::Internal(_)) => Outcome::Internal,
        }
    }

    /// The `outcome` metric label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::InvalidArguments => "invalid_arguments",
            Outcome::ToolError => "tool_error",
            Outcome::Limit(_) => "limit",
            Outcome::Crash => "crash",
            Outcome::BadOutput => "bad_output",
            Outcome::Internal => "internal",
        }
    }

    /// The spans' `error_code`: `None` for success, else a stable name such
    /// as `tool_error` or `limit.fuel`.
    pub fn error_code(self) -> Option<String> {
        match self {
            Outcome::Ok => None,
            Outcome::Limit(kind) => Some(format!("limit.{kind}")),
            other => Some(other.label().to_owned()),
        }
    }
}

/// One finished tool call.
#[derive(Debug)]
pub struct CallRecord<'a> {
    /// The tool's exposed name (`PLUGIN_TOOL`).
    pub tool: &'a str,
    /// The plugin's name.
    pub plugin: &'a str,
    /// The tool's name inside its plugin (what audit settings name).
    pub local_tool: &'a str,
    /// From the start of dispatch to the mapped result.
    pub duration: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// Resource use; `None` when the plugin did not run.
    pub stats: Option<&'a CallStats>,
    /// Capability uses the sandbox refused.
    pub denials: &'a [Denial],
    /// The validated arguments.
    pub arguments: &'a Value,
}

/// Where call records go besides metrics, which are always recorded.
#[derive(Debug, Clone, Default)]
pub struct Observer {
    /// The spans file, when enabled.
    pub spans: Option<Arc<SpanWriter>>,
    /// The audit log, when enabled.
    pub audit: Option<Arc<AuditLog>>,
}

impl Observer {
    /// Records a finished call everywhere it belongs. Never fails the call:
    /// a file that cannot be written is logged.
    pub fn call_finished(&self, record: &CallRecord<'_>) {
        crate::metrics::call_finished(record);
        if let Some(spans) = &self.spans {
            spans.record(record);
        }
        if let Some(audit) = &self.audit {
            audit.call(record);
        }
    }
}
