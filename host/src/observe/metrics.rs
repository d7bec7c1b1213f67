//! Prometheus metrics: this module owns every metric name and label, so the
//! exposition format stays in one place.
//!
//! Recording goes through the `metrics` facade and costs nothing until
//! [`install`] sets the Prometheus recorder (`warden serve` does). Labels are
//! bounded: plugin and tool names come from the registry, never from a
//! client, so an unknown tool name sent by a client creates no series.

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::observe::{CallRecord, Outcome};

/// Tool calls by `plugin`, `tool` and `outcome`.
pub const CALLS: &str = "warden_tool_calls_total";
/// Tool call duration in seconds, by `plugin` and `tool`.
pub const CALL_DURATION: &str = "warden_tool_call_duration_seconds";
/// Tool calls running now.
pub const CALLS_IN_FLIGHT: &str = "warden_tool_calls_in_flight";
/// Calls ended by a limit, by `plugin` and `kind` (fuel, memory, timeout,
/// output, stack, handles, host_memory, open_files, write).
pub const LIMIT_HITS: &str = "warden_limit_hits_total";
/// Capability uses refused by the sandbox, by `plugin` and `kind` (http, fs,
/// env, socket).
pub const DENIALS: &str = "warden_capability_denials_total";
/// Plugins serving.
pub const PLUGINS_LOADED: &str = "warden_plugins_loaded";
/// Plugins that failed to load.
pub const PLUGINS_FAILED: &str = "warden_plugins_failed";
/// Gauge: plugins whose newest files failed to load while the version loaded
/// before them keeps serving.
pub const PLUGINS_KEPT_PREVIOUS: &str = "warden_plugins_kept_previous";
/// Counter: reloads of the plugins folder that changed nothing because the
/// settings or the folder could not be read.
pub const RELOAD_FAILURES: &str = "warden_reload_failures_total";
/// HTTP requests refused before reaching MCP, by `reason` (unauthorized,
/// rate_limited, draining).
/// Tool calls per principal (HTTP with OAuth), by plugin and outcome.
pub const PRINCIPAL_CALLS: &str = "warden_principal_tool_calls_total";
/// Tool calls refused before they ran, per principal: `not_allowed`, `rate_limited`.
pub const PRINCIPAL_REFUSED: &str = "warden_principal_calls_refused_total";
/// Requests refused, by reason.
pub const HTTP_REJECTED: &str = "warden_http_requests_rejected_total";
/// HTTP connections open now.
pub const HTTP_CONNECTIONS: &str = "warden_http_connections_open";
/// HTTP connections refused at accept, by `reason` (max_connections,
/// max_connections_per_client).
pub const HTTP_CONNECTIONS_REFUSED: &str = "warden_http_connections_refused_total";
/// HTTP connections cut by the server, by `reason` (header_timeout,
/// idle_timeout, header_too_large).
pub const HTTP_CONNECTIONS_CUT: &str = "warden_http_connections_cut_total";

/// The server-wide memory budget, in bytes.
pub const MEMORY_BUDGET: &str = "warden_memory_budget_bytes";
/// Bytes of the budget reserved by requests in flight.
pub const MEMORY_RESERVED: &str = "warden_memory_reserved_bytes";
/// Requests waiting for memory.
pub const MEMORY_QUEUED: &str = "warden_memory_queued_requests";
/// Requests the budget refused, by `reason` (queue_full, deadline, too_large).
pub const MEMORY_REFUSED: &str = "warden_memory_refusals_total";
/// Gauge: instances made ahead of calls and not yet taken.
pub const READY_INSTANCES: &str = "warden_ready_instances";
/// Gauge: linear and host memory those instances hold.
pub const READY_BYTES: &str = "warden_ready_instance_bytes";

/// Duration buckets, in seconds: from a fast fresh-instance call (~50 us) to
/// the longest default timeout.
const DURATION_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// Installs the Prometheus recorder for the whole process and returns the
/// handle that renders the text format.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(CALL_DURATION.into()), DURATION_BUCKETS)?
        .install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    metrics::describe_counter!(CALLS, "Tool calls by plugin, tool and outcome.");
    metrics::describe_histogram!(
        CALL_DURATION,
        metrics::Unit::Seconds,
        "Tool call duration, from argument validation to the mapped result."
    );
    metrics::describe_gauge!(CALLS_IN_FLIGHT, "Tool calls running now.");
    metrics::describe_counter!(LIMIT_HITS, "Calls ended by a limit, by kind.");
    metrics::describe_counter!(DENIALS, "Capability uses refused by the sandbox, by kind.");
    metrics::describe_gauge!(PLUGINS_LOADED, "Plugins serving.");
    metrics::describe_gauge!(PLUGINS_FAILED, "Plugins that failed to load.");
    metrics::describe_gauge!(
        PLUGINS_KEPT_PREVIOUS,
        "Plugins serving their previous version because their newest files failed to load."
    );
    metrics::describe_counter!(
        RELOAD_FAILURES,
        "Reloads that changed nothing because the settings or the folder could not be read."
    );
    metrics::describe_counter!(
        HTTP_REJECTED,
        "HTTP requests refused before reaching MCP, by reason."
    );
    metrics::describe_gauge!(
        MEMORY_BUDGET,
        metrics::Unit::Bytes,
        "What all requests in flight may reserve together."
    );
    metrics::describe_gauge!(
        MEMORY_RESERVED,
        metrics::Unit::Bytes,
        "Bytes of the memory budget reserved by requests in flight."
    );
    metrics::describe_gauge!(MEMORY_QUEUED, "Requests waiting for memory.");
    metrics::describe_counter!(
        MEMORY_REFUSED,
        "Requests the memory budget refused, by reason."
    );
    metrics::describe_gauge!(
        READY_INSTANCES,
        "Instances made ahead of calls, not yet taken."
    );
    metrics::describe_gauge!(
        READY_BYTES,
        metrics::Unit::Bytes,
        "Linear and host memory held by ready instances."
    );
    metrics::describe_gauge!(HTTP_CONNECTIONS, "HTTP connections open now.");
    metrics::describe_counter!(
        HTTP_CONNECTIONS_REFUSED,
        "HTTP connections refused at accept, by reason."
    );
    metrics::describe_counter!(
        HTTP_CONNECTIONS_CUT,
        "HTTP connections closed by the server before or between requests, by reason."
    );
}

/// Records the ready instances held and the memory they hold.
pub fn ready_instances(held: u32, bytes: u64) {
    gauge!(READY_INSTANCES).set(f64::from(held));
    gauge!(READY_BYTES).set(bytes as f64);
}

/// Records the number of open HTTP connections.
pub fn http_connections(open: usize) {
    gauge!(HTTP_CONNECTIONS).set(open as f64);
}

/// Records an HTTP connection refused at accept.
pub fn http_connection_refused(reason: &'static str) {
    counter!(HTTP_CONNECTIONS_REFUSED, "reason" => reason).increment(1);
}

/// Records an HTTP connection cut before or between requests.
pub fn http_connection_cut(reason: &'static str) {
    counter!(HTTP_CONNECTIONS_CUT, "reason" => reason).increment(1);
}

/// Records a finished tool call.
pub fn call_finished(record: &CallRecord<'_>) {
    let plugin = record.plugin.to_owned();
    let tool = record.tool.to_owned();
    counter!(CALLS, "plugin" => plugin.clone(), "tool" => tool.clone(), "outcome" => record.outcome.label())
        .increment(1);
    histogram!(CALL_DURATION, "plugin" => plugin.clone(), "tool" => tool)
        .record(record.duration.as_secs_f64());
    if let Outcome::Limit(kind) = record.outcome {
        counter!(LIMIT_HITS, "plugin" => plugin.clone(), "kind" => kind).increment(1);
    }
    for denial in record.denials {
        counter!(DENIALS, "plugin" => plugin.clone(), "kind" => denial.capability).increment(1);
    }
    if let Some(caller) = record.principal {
        counter!(PRINCIPAL_CALLS, "principal" => caller.label.to_owned(), "plugin" => plugin, "outcome" => record.outcome.label())
            .increment(1);
    }
}

/// Counts a call of a principal refused before it ran.
pub fn principal_refused(label: &str, reason: &'static str) {
    counter!(PRINCIPAL_REFUSED, "principal" => label.to_owned(), "reason" => reason).increment(1);
}

/// Counts a call as running until the guard drops.
pub fn call_in_flight() -> InFlight {
    gauge!(CALLS_IN_FLIGHT).increment(1.0);
    InFlight(())
}

/// Decrements the in-flight gauge when dropped (also when the call's future
/// is cancelled).
#[derive(Debug)]
pub struct InFlight(());

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(CALLS_IN_FLIGHT).decrement(1.0);
    }
}

/// Records how many plugins loaded and failed.
pub fn plugins(loaded: usize, failed: usize) {
    gauge!(PLUGINS_LOADED).set(loaded as f64);
    gauge!(PLUGINS_FAILED).set(failed as f64);
}

/// Records how many plugins serve their previous version after a reload.
pub fn plugins_kept_previous(count: usize) {
    gauge!(PLUGINS_KEPT_PREVIOUS).set(count as f64);
}

/// Counts a reload that changed nothing.
pub fn reload_failed() {
    counter!(RELOAD_FAILURES).increment(1);
}

/// Records the size of the memory budget.
pub fn memory_budget(bytes: u64) {
    gauge!(MEMORY_BUDGET).set(bytes as f64);
}

/// Records what the memory budget has reserved and how many wait.
pub fn memory_usage(reserved: u64, queued: usize) {
    gauge!(MEMORY_RESERVED).set(reserved as f64);
    gauge!(MEMORY_QUEUED).set(queued as f64);
}

/// Counts a request the memory budget refused.
pub fn memory_refused(reason: &'static str) {
    counter!(MEMORY_REFUSED, "reason" => reason).increment(1);
}

/// Counts an HTTP request refused before MCP saw it.
pub fn http_rejected(reason: &'static str) {
    counter!(HTTP_REJECTED, "reason" => reason).increment(1);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::observe::Denial;

    #[test]
    fn a_call_records_its_outcome_duration_limit_and_denials() {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(CALL_DURATION.into()), DURATION_BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        let denials = [Denial {
            capability: "http",
            target: "https://example.com:443".into(),
            reason: "not granted".into(),
        }];
        let arguments = json!({});
        metrics::with_local_recorder(&recorder, || {
            call_finished(&CallRecord {
                tool: "p_t",
                plugin: "p",
                local_tool: "t",
                duration: Duration::from_millis(3),
                outcome: Outcome::Limit("fuel"),
                stats: None,
                denials: &denials,
                arguments: &arguments,
                principal: Some(crate::observe::Caller {
                    id: "alice@example.com",
                    label: "team-a",
                }),
                started: std::time::SystemTime::now(),
                limits: &crate::limits::Limits::DEFAULTS,
                traceparent: None,
            });
            principal_refused("team-a", "rate_limited");
            let _running = call_in_flight();
            plugins(2, 1);
            memory_budget(1 << 30);
            memory_usage(3 << 20, 2);
            memory_refused("deadline");
        });
        let text = handle.render();
        for line in [
            r#"warden_tool_calls_total{plugin="p",tool="p_t",outcome="limit"} 1"#,
            r#"warden_principal_tool_calls_total{principal="team-a",plugin="p",outcome="limit"} 1"#,
            r#"warden_principal_calls_refused_total{principal="team-a",reason="rate_limited"} 1"#,
            r#"warden_limit_hits_total{plugin="p",kind="fuel"} 1"#,
            r#"warden_capability_denials_total{plugin="p",kind="http"} 1"#,
            r#"warden_tool_call_duration_seconds_bucket{plugin="p",tool="p_t",le="0.005"} 1"#,
            r#"warden_tool_call_duration_seconds_bucket{plugin="p",tool="p_t",le="0.0025"} 0"#,
            "warden_tool_calls_in_flight 0",
            "warden_plugins_loaded 2",
            "warden_plugins_failed 1",
            "warden_memory_budget_bytes 1073741824",
            "warden_memory_reserved_bytes 3145728",
            "warden_memory_queued_requests 2",
            r#"warden_memory_refusals_total{reason="deadline"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing in:\n{text}"
            );
        }
    }
}
