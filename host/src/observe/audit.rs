//! The audit log: a JSON Lines file, separate from the spans and the logs,
//! with one event per tool call, per capability use the sandbox refused, per
//! approval decision and per refused HTTP authentication.
//!
//! Arguments are written as `"[redacted]"` unless the tool is listed in
//! `audit.log_arguments`; even then, the value of every key that looks like a
//! secret (`token`, `password`, `secret`, `key`, `authorization`,
//! `credential`, `cookie`, ...) is replaced by `"[redacted]"`. Environment
//! values, bearer tokens and results are never written.

use std::collections::BTreeSet;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use serde_json::{Value, json};

use crate::observe::CallRecord;
use crate::observe::jsonl::{JsonlFile, now_ms};

/// What replaces a value that is not written.
pub const REDACTED: &str = "[redacted]";
/// The default size at which the audit file rotates: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// Key fragments whose values are never written, compared case-insensitively.
const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "key",
    "authorization",
    "credential",
    "cookie",
    "session",
    "private",
];

/// Appends audit events.
#[derive(Debug)]
pub struct AuditLog {
    file: JsonlFile,
    log_arguments: BTreeSet<String>,
}

impl AuditLog {
    /// Opens (creating) the audit file. `log_arguments` names the exposed
    /// tools (`PLUGIN_TOOL`) whose arguments are written, secrets removed.
    pub fn open(path: &Path, max_bytes: u64, log_arguments: BTreeSet<String>) -> io::Result<Self> {
        Ok(Self {
            file: JsonlFile::open(path, max_bytes)?,
            log_arguments,
        })
    }

    /// The audit file.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Records a finished tool call and each capability it was refused.
    pub fn call(&self, record: &CallRecord<'_>) {
        let arguments = if self.log_arguments.contains(record.tool) {
            redact_secrets(record.arguments)
        } else {
            Value::String(REDACTED.into())
        };
        let now = now_ms();
        self.write(&json!({
            "timestamp_ms": now,
            "event": "tool_call",
            "tool": record.tool,
            "plugin": record.plugin,
            "outcome": record.outcome.label(),
            "error_code": record.outcome.error_code(),
            "success": record.outcome == crate::observe::Outcome::Ok,
            "duration_ms": record.duration.as_secs_f64() * 1000.0,
            "arguments": arguments,
            "principal": record.principal.map(|c| c.id),
        }));
        for denial in record.denials {
            self.write(&json!({
                "timestamp_ms": now,
                "event": "capability_denied",
                "tool": record.tool,
                "plugin": record.plugin,
                "kind": denial.capability,
                "target": denial.target,
                "reason": denial.reason,
                "principal": record.principal.map(|c| c.id),
            }));
        }
    }

    /// Records a consent decision (`approved`, `auto_approved`, `declined`,
    /// `required`, `asked`), with a digest of the arguments it was for.
    pub fn consent(&self, tool: &str, plugin: &str, decision: &str, arguments: &Value) {
        use sha2::Digest as _;
        let arguments_sha256 = format!(
            "{:x}",
            sha2::Sha256::digest(arguments.to_string().as_bytes())
        );
        self.write(&json!({
            "timestamp_ms": now_ms(),
            "event": "consent",
            "tool": tool,
            "plugin": plugin,
            "decision": decision,
            "arguments_sha256": arguments_sha256,
        }));
    }

    /// Records a person's answer to a plugin's request for a capability it
    /// was not granted; `recorded` says what became of an `always`.
    pub fn permission(
        &self,
        tool: &str,
        plugin: &str,
        permission: &super::Permission,
        recorded: &str,
    ) {
        self.write(&json!({
            "timestamp_ms": now_ms(),
            "event": "permission",
            "tool": tool,
            "plugin": plugin,
            "capability": permission.capability,
            "target": permission.target,
            "decision": permission.decision,
            "recorded": recorded,
        }));
    }

    /// Records an operator's approval decision about a plugin (`decision`:
    /// e.g. `approved`, `refused`, `held_back`).
    pub fn approval(&self, plugin: &str, decision: &str, detail: &str) {
        self.write(&json!({
            "timestamp_ms": now_ms(),
            "event": "approval",
            "plugin": plugin,
            "decision": decision,
            "detail": detail,
        }));
    }

    /// Records a request an authenticated principal was refused before it
    /// ran: `no_rule` (no access rule applies), `not_allowed` (the tool),
    /// `rate_limited`.
    pub fn access_refused(&self, principal: &str, tool: Option<&str>, reason: &str) {
        self.write(&json!({
            "timestamp_ms": now_ms(),
            "event": "access_refused",
            "principal": principal,
            "tool": tool,
            "reason": reason,
        }));
    }

    /// Records an HTTP request refused for its credentials (`reason`:
    /// `missing_token`, `invalid_token`, or with OAuth why the
    /// access token was refused: `expired`, `wrong_audience`, ...). The presented token is never
    /// written.
    pub fn auth_refused(&self, client: Option<IpAddr>, reason: &str) {
        self.write(&json!({
            "timestamp_ms": now_ms(),
            "event": "auth_refused",
            "client": client.map(|ip| ip.to_string()),
            "reason": reason,
        }));
    }

    fn write(&self, event: &Value) {
        if let Err(e) = self.file.append(event) {
            tracing::warn!(path = %self.file.path().display(), "cannot write an audit event: {e}");
        }
    }
}

/// A copy of `value` with the value of every secret-looking key redacted, at
/// any depth.
pub fn redact_secrets(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let v = if SECRET_KEYS.iter().any(|s| lower.contains(s)) {
                        Value::String(REDACTED.into())
                    } else {
                        redact_secrets(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_secrets).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let value = json!({
            "query": "rust",
            "api_key": "sk-1",
            "nested": [{ "Authorization": "Bearer x", "page": 2 }],
            "auth": { "password": "p", "user": "u" },
        });
        assert_eq!(
            redact_secrets(&value),
            json!({
                "query": "rust",
                "api_key": REDACTED,
                "nested": [{ "Authorization": REDACTED, "page": 2 }],
                "auth": { "password": REDACTED, "user": "u" },
            })
        );
    }
}
