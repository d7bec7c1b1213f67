//! Observability: logs ([`telemetry`], with the escaping rule of [`render`]),
//! metrics, the spans file, the audit log and OTLP export ([`otlp`]).
//!
//! What happens after a tool call: the dispatcher builds one plain
//! [`CallRecord`] per call, fanned out to metrics, the spans file, the
//! audit log and the OTLP exporter. Nothing here reaches back into the sandbox or the dispatcher.

pub mod audit;
pub mod jsonl;
pub mod metrics;
pub mod otlp;
pub mod render;
pub mod settings;
pub mod spans;
pub mod telemetry;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::limits::Limits;

use audit::AuditLog;
use spans::SpanWriter;

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
    /// The client cancelled the call.
    Cancelled,
    /// The run stopped to ask the client (an `input_required` round); the
    /// client's retry runs the call again.
    InputRequired,
    /// The call needed the person's confirmation and did not get it.
    ConsentRefused,
}

impl Outcome {
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
            Outcome::Cancelled => "cancelled",
            Outcome::InputRequired => "input_required",
            Outcome::ConsentRefused => "consent_refused",
        }
    }

    /// The spans' `error_code`: `None` for success, else a stable name such
    /// as `tool_error` or `limit.fuel`.
    pub fn error_code(self) -> Option<String> {
        match self {
            Outcome::Ok | Outcome::InputRequired => None,
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
    /// Who called, when an access token named them.
    pub principal: Option<Caller<'a>>,
    /// When dispatch began.
    pub started: SystemTime,
    /// The call's limits.
    pub limits: &'a Limits,
    /// The W3C trace context the request came with.
    pub traceparent: Option<&'a str>,
}

/// The holder of the access token a call came with.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// Its name (the audit log and spans).
    pub id: &'a str,
    /// Its metrics label, from a bounded set.
    pub label: &'a str,
}

/// Where the time and resources of one call went.
#[derive(Debug, Clone, Default)]
pub struct CallStats {
    /// When the sandbox began (creating the store).
    pub began: Option<SystemTime>,
    /// Creating the store and instantiating the component (nothing when
    /// the call ran in a ready instance).
    pub instantiate: Duration,
    /// Whether the call ran in an instance made before it arrived.
    pub ready: bool,
    /// Running the exported function.
    pub call: Duration,
    /// Dropping the instance and its store.
    pub teardown: Duration,
    /// Fuel (instructions) consumed.
    pub fuel_used: u64,
    /// The largest linear memory size reached, in bytes.
    pub peak_memory: u64,
    /// Size of the result, in bytes.
    pub output_bytes: u64,
    /// The most host memory the call made the host hold at once, in bytes.
    pub peak_host_memory: u64,
    /// The most files and directories the call held open at once.
    pub peak_open_files: u64,
    /// Bytes written to read-write directory grants.
    pub written_bytes: u64,
    /// The outgoing HTTP requests that went out (at most
    /// `MAX_RECORDED_EXCHANGES`).
    pub http: Vec<HttpExchange>,
}

/// The most outgoing requests one call's record keeps.
pub const MAX_RECORDED_EXCHANGES: usize = 64;

/// One outgoing HTTP request of a call, as far as its response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExchange {
    /// `scheme://host:port`, never the path or query.
    pub origin: String,
    /// The method.
    pub method: String,
    /// The response status; `None` when no response came.
    pub status: Option<u16>,
    /// When it was sent.
    pub began: SystemTime,
    /// Until the response head came (or the request failed).
    pub took: Duration,
}

/// A capability a plugin tried to use without a grant, recorded by the
/// sandbox and reported with the call's result and in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// Which capability was missing: `http`, `fs`, `env` or `socket`.
    pub capability: &'static str,
    /// What was asked for, without secrets (for HTTP: `scheme://host:port`,
    /// never the path or query).
    pub target: String,
    /// Why it was refused, for a person.
    pub reason: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} access to {} denied: {}",
            self.capability, self.target, self.reason
        )
    }
}

/// A person's answer when a plugin reached for a capability it was not
/// granted and the client asked them (`[policy] ask`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    /// Which capability: `http` or `fs`.
    pub capability: &'static str,
    /// What was asked for (for HTTP: `scheme://host:port`; for a directory:
    /// its guest path).
    pub target: String,
    /// `once`, `always`, `denied`, or `asked` (a 2026-07-28 round was sent).
    pub decision: &'static str,
}

/// Where call records go besides metrics, which are always recorded.
#[derive(Debug, Clone, Default)]
pub struct Observer {
    /// The spans file, when enabled.
    pub spans: Option<Arc<SpanWriter>>,
    /// The audit log, when enabled.
    pub audit: Option<Arc<AuditLog>>,
    /// The OTLP exporter, when enabled.
    pub otlp: Option<Arc<otlp::Otlp>>,
}

impl Observer {
    /// Records a finished call everywhere it belongs. Never fails the call:
    /// a file that cannot be written is logged.
    pub fn call_finished(&self, record: &CallRecord<'_>) {
        metrics::call_finished(record);
        if let Some(spans) = &self.spans {
            spans.record(record);
        }
        if let Some(audit) = &self.audit {
            audit.call(record);
        }
        if let Some(otlp) = &self.otlp {
            otlp.call(record);
        }
    }

    /// Records the person's (or the operator's) decision about a call that
    /// needs confirmation.
    pub fn consent(&self, tool: &str, plugin: &str, decision: &str, arguments: &serde_json::Value) {
        tracing::info!(target: "warden::consent", tool, plugin, decision, "consent decided");
        if let Some(audit) = &self.audit {
            audit.consent(tool, plugin, decision, arguments);
        }
    }

    /// Records a person's answer to a plugin's request for a capability it
    /// was not granted, and whether an `always` reached the lock file.
    pub fn permission(&self, tool: &str, plugin: &str, permission: &Permission, recorded: &str) {
        tracing::info!(
            target: "warden::permission",
            tool,
            plugin,
            capability = permission.capability,
            asked_for = %permission.target,
            decision = permission.decision,
            recorded,
            "permission decided"
        );
        if let Some(audit) = &self.audit {
            audit.permission(tool, plugin, permission, recorded);
        }
    }
}
