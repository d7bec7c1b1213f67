//! OpenTelemetry over OTLP/HTTP (protobuf), when `[telemetry]
//! otlp_endpoint` is set: a span per MCP request (`tools/call NAME`, kind
//! server) with child spans for the sandbox's phases (`instantiate`, `call`,
//! `teardown`) and each outgoing HTTP request (kind client), the call's limits and outcome as attributes, and its parent
//! taken from the request's W3C `traceparent` (`_meta`, or the HTTP
//! header); a server span for every other MCP request (`tools/list`,
//! `resources/read`, ...); and the call counter and duration histogram as OTLP metrics.
//!
//! Spans are built from each call's record after it ends, with the times the
//! sandbox measured, so nothing is added to a call's path but the record.
//! Exports run on the SDK's own threads (batched spans, periodic metrics);
//! their HTTP requests go through Warden's client ([`crate::input::remote`])
//! on the server's runtime. An export that fails is dropped, never retried
//! into memory without bound (the SDK's queue is bounded).

use std::collections::HashMap;

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{
    MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use serde_json::Value;

use crate::observe::settings::OtlpSettings;
use crate::observe::{CallRecord, Outcome};

/// An MCP request other than `tools/call`, for its span.
#[derive(Debug)]
pub struct RequestRecord<'a> {
    /// The method (`tools/list`, `resources/read`, ...).
    pub method: &'a str,
    /// What it names (a URI, a prompt), if anything.
    pub target: Option<&'a str>,
    /// When it began.
    pub started: std::time::SystemTime,
    /// How long it took.
    pub duration: std::time::Duration,
    /// The JSON-RPC error code it ended with, if it failed.
    pub error: Option<i32>,
    /// Who made it.
    pub principal: Option<&'a str>,
    /// The W3C trace context it came with.
    pub traceparent: Option<&'a str>,
}

/// The largest collector answer read.
const MAX_ANSWER: usize = 64 << 10;

/// Traces and metrics going to a collector.
#[derive(Debug)]
pub struct Otlp {
    traces: SdkTracerProvider,
    metrics: SdkMeterProvider,
    tracer: SdkTracer,
    calls: Counter<u64>,
    durations: Histogram<f64>,
}

impl Otlp {
    /// Starts exporting to `settings.endpoint`; must be called on the
    /// server's runtime, which carries the exports' requests.
    pub fn start(settings: &OtlpSettings) -> Result<Self, String> {
        let client = || RuntimeClient {
            runtime: tokio::runtime::Handle::current(),
        };
        let headers: HashMap<String, String> = settings.headers.clone().into_iter().collect();
        let spans = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_http_client(client())
            .with_endpoint(format!("{}/v1/traces", settings.endpoint))
            .with_headers(headers.clone())
            .build()
            .map_err(|e| format!("cannot set up the OTLP span exporter: {e}"))?;
        let metrics = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_http_client(client())
            .with_endpoint(format!("{}/v1/metrics", settings.endpoint))
            .with_headers(headers)
            .build()
            .map_err(|e| format!("cannot set up the OTLP metric exporter: {e}"))?;
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let traces = SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource.clone())
            .build();
        let metrics = SdkMeterProvider::builder()
            .with_reader(
                PeriodicReader::builder(metrics)
                    .with_interval(settings.interval)
                    .build(),
            )
            .with_resource(resource)
            .build();
        let meter = metrics.meter("warden");
        let calls = meter
            .u64_counter("warden.tool.calls")
            .with_description("Tool calls, by plugin, tool and outcome")
            .build();
        let durations = meter
            .f64_histogram("warden.tool.call.duration")
            .with_unit("s")
            .with_description("Tool call duration, from dispatch to the result")
            .build();
        Ok(Self {
            tracer: traces.tracer("warden"),
            traces,
            metrics,
            calls,
            durations,
        })
    }

    /// Exports a finished call: its span (and its phases') and metrics.
    pub fn call(&self, record: &CallRecord<'_>) {
        let outcome = record.outcome.label();
        let labels = [
            KeyValue::new("plugin", record.plugin.to_owned()),
            KeyValue::new("tool", record.tool.to_owned()),
            KeyValue::new("outcome", outcome),
        ];
        self.calls.add(1, &labels);
        self.durations
            .record(record.duration.as_secs_f64(), &labels[..2]);

        let end = record.started + record.duration;
        let mut attributes = vec![
            KeyValue::new("mcp.method.name", "tools/call"),
            KeyValue::new("gen_ai.tool.name", record.tool.to_owned()),
            KeyValue::new("warden.plugin", record.plugin.to_owned()),
            KeyValue::new("warden.outcome", outcome),
            KeyValue::new("warden.denials", record.denials.len() as i64),
        ];
        if let Some(code) = record.outcome.error_code() {
            attributes.push(KeyValue::new("error.type", code));
        }
        if let Some(caller) = record.principal {
            attributes.push(KeyValue::new("enduser.id", caller.id.to_owned()));
        }
        if let Ok(Value::Object(limits)) = serde_json::to_value(record.limits) {
            for (name, value) in limits {
                if let Some(value) = value.as_u64() {
                    attributes.push(KeyValue::new(
                        format!("warden.limit.{name}"),
                        i64::try_from(value).unwrap_or(i64::MAX),
                    ));
                }
            }
        }
        if let Some(stats) = record.stats {
            attributes.extend([
                KeyValue::new("warden.fuel_used", stats.fuel_used as i64),
                KeyValue::new("warden.peak_memory_bytes", stats.peak_memory as i64),
                KeyValue::new("warden.output_bytes", stats.output_bytes as i64),
            ]);
        }
        let parent = parent_of(record.traceparent);
        let mut span = self
            .tracer
            .span_builder(format!("tools/call {}", record.tool))
            .with_kind(SpanKind::Server)
            .with_start_time(record.started)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        span.set_status(if record.outcome == Outcome::Ok {
            Status::Ok
        } else {
            Status::error(outcome)
        });
        let cx = parent.with_span(span);
        if let Some(stats) = record.stats
            && let Some(began) = stats.began
        {
            let mut at = began;
            for (name, took) in [
                ("instantiate", stats.instantiate),
                ("call", stats.call),
                ("teardown", stats.teardown),
            ] {
                let mut phase = self
                    .tracer
                    .span_builder(name)
                    .with_kind(SpanKind::Internal)
                    .with_start_time(at)
                    .start_with_context(&self.tracer, &cx);
                at += took;
                phase.end_with_timestamp(at);
            }
            for exchange in &stats.http {
                let mut attributes = vec![
                    KeyValue::new("http.request.method", exchange.method.clone()),
                    KeyValue::new("url.full", exchange.origin.clone()),
                ];
                if let Some(status) = exchange.status {
                    attributes.push(KeyValue::new(
                        "http.response.status_code",
                        i64::from(status),
                    ));
                }
                let mut request = self
                    .tracer
                    .span_builder(exchange.method.clone())
                    .with_kind(SpanKind::Client)
                    .with_start_time(exchange.began)
                    .with_attributes(attributes)
                    .start_with_context(&self.tracer, &cx);
                if exchange.status.is_none_or(|s| s >= 500) {
                    request.set_status(Status::error("no response"));
                }
                request.end_with_timestamp(exchange.began + exchange.took);
            }
        }
        cx.span().end_with_timestamp(end.max(record.started));
    }

    /// Exports the span of an MCP request other than `tools/call`.
    pub fn request(&self, record: &RequestRecord<'_>) {
        let name = match record.target {
            Some(target) => format!("{} {target}", record.method),
            None => record.method.to_owned(),
        };
        let mut attributes = vec![KeyValue::new("mcp.method.name", record.method.to_owned())];
        if let Some(error) = record.error {
            attributes.push(KeyValue::new("error.type", error.to_string()));
        }
        if let Some(principal) = record.principal {
            attributes.push(KeyValue::new("enduser.id", principal.to_owned()));
        }
        let mut span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_start_time(record.started)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent_of(record.traceparent));
        if record.error.is_some() {
            span.set_status(Status::error("the request failed"));
        }
        span.end_with_timestamp(record.started + record.duration);
    }

    /// Sends what is still queued, and stops (at shutdown).
    pub fn shutdown(&self) {
        if let Err(e) = self.traces.shutdown() {
            tracing::warn!("OTLP traces at shutdown: {e}");
        }
        if let Err(e) = self.metrics.shutdown() {
            tracing::warn!("OTLP metrics at shutdown: {e}");
        }
    }
}

/// The context a request's `traceparent` names; an empty one without it (or
/// with a malformed one: the span starts a new trace).
fn parent_of(traceparent: Option<&str>) -> Context {
    let Some(traceparent) = traceparent else {
        return Context::new();
    };
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// The exporters' HTTP client: each request runs on the server's runtime
/// (the SDK calls from threads of its own).
#[derive(Debug)]
struct RuntimeClient {
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let answer = self
            .runtime
            .spawn(crate::input::remote::exchange(request, MAX_ANSWER))
            .await
            .map_err(|e| HttpError::from(e.to_string()))?;
        answer.map_err(HttpError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_becomes_the_parent() {
        let cx = parent_of(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        let span = cx.span();
        let parent = span.span_context();
        assert!(parent.is_valid() && parent.is_remote());
        assert_eq!(
            parent.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(!parent_of(Some("garbage")).span().span_context().is_valid());
        assert!(!parent_of(None).span().span_context().is_valid());
    }
}
