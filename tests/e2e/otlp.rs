//! OTLP export: `warden serve --http` with `[telemetry] otlp_endpoint` sends
//! real OTLP/HTTP (protobuf) to a receiver this test runs on 127.0.0.1,
//! decoded with the OpenTelemetry protocol's own types.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{Value, json};

use crate::http::{Reply, TestServer};
use crate::remote_support::{Remote, TOKEN, stateless_post};
use crate::support::Plugins;

/// What the receiver got.
#[derive(Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
    content_types: Vec<String>,
}

type Shared = Arc<Mutex<Received>>;

async fn traces(State(r): State<Shared>, headers: axum::http::HeaderMap, body: Bytes) {
    let mut r = r.lock().unwrap();
    r.content_types
        .push(headers["content-type"].to_str().unwrap().to_owned());
    r.traces
        .push(ExportTraceServiceRequest::decode(body).expect("OTLP traces"));
}

async fn metrics(State(r): State<Shared>, body: Bytes) {
    let request = ExportMetricsServiceRequest::decode(body).expect("OTLP metrics");
    r.lock().unwrap().metrics.push(request);
}

/// An OTLP/HTTP receiver on 127.0.0.1: its base URL and what it received.
async fn receiver() -> (String, Shared) {
    let shared = Shared::default();
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), shared)
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key)? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A stateless `tools/call` with an optional `_meta.traceparent` and HTTP
/// `traceparent` header.
async fn call(
    remote: &Remote,
    tool: &str,
    arguments: Value,
    meta: Option<&str>,
    header: Option<&str>,
) {
    let mut params = json!({ "name": tool, "arguments": arguments });
    if let Some(traceparent) = meta {
        params["_meta"] = json!({ "traceparent": traceparent });
    }
    let mut request =
        stateless_post(&remote.url("/mcp"), 1, "tools/call", Some(tool), params).bearer_auth(TOKEN);
    if let Some(traceparent) = header {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_are_exported_as_otlp_traces_and_metrics() {
    let (endpoint, received) = receiver().await;
    let site = TestServer::start().await;
    site.route("/page", Reply::ok("text/plain", "hello"));
    let origin = format!("http://127.0.0.1:{}", site.port());
    let dir = tempfile::tempdir().unwrap();
    let plugins = Plugins::new().examples().manifest(
        "fetch",
        &format!("manifest_version = 1\n[capabilities]\nhttp = [{origin:?}]\n"),
    );
    let config = format!(
        "[telemetry]\notlp_endpoint = \"{endpoint}\"\notlp_interval = \"1s\"\nservice_name = \"warden-e2e\"\n"
    );
    let mut remote = Remote::start(
        dir.path(),
        &config,
        plugins.path(),
        &[],
        &[("WARDEN_HTTP_TOKEN", TOKEN)],
    );
    let trace_a = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_a = "00f067aa0ba902b7";
    let trace_b = "0af7651916cd43dd8448eb211c80319c";
    let ok = json!({"text": "abc", "algorithm": "sha256"});
    let text = "text_hash";
    let first = format!("00-{trace_a}-{parent_a}-01");
    call(&remote, text, ok.clone(), Some(&first), None).await;
    let second = format!("00-{trace_b}-b7ad6b7169203331-01");
    call(&remote, text, ok, None, Some(&second)).await;
    call(&remote, text, json!({"text": 5}), None, None).await;
    let page = json!({"url": format!("{origin}/page")});
    call(&remote, "fetch_get", page, None, None).await;
    let trace_c = "5b8aa5a2d2c872e8321cf37308d69df2";
    let list = stateless_post(&remote.url("/mcp"), 2, "tools/list", None, json!({}))
        .header("traceparent", format!("00-{trace_c}-051581bf3cb55c13-01"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);

    // Metrics arrive every second; SIGTERM flushes the queued spans.
    let started = Instant::now();
    while received.lock().unwrap().metrics.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no metrics came:\n{}",
            remote.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    remote.terminate();
    assert!(remote.wait().success());

    let received = received.lock().unwrap();
    assert!(
        received
            .content_types
            .iter()
            .all(|t| t == "application/x-protobuf"),
        "{:?}",
        received.content_types
    );
    let mut spans: Vec<Span> = Vec::new();
    for request in &received.traces {
        for resource in &request.resource_spans {
            let attributes = &resource.resource.as_ref().unwrap().attributes;
            assert_eq!(
                string(attributes, "service.name").as_deref(),
                Some("warden-e2e")
            );
            for scope in &resource.scope_spans {
                spans.extend(scope.spans.iter().cloned());
            }
        }
    }
    let calls: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "tools/call text_hash")
        .collect();
    assert_eq!(calls.len(), 3, "{spans:#?}");

    // The first call continues the client's trace from `_meta`.
    let first = calls
        .iter()
        .find(|s| hex(&s.trace_id) == trace_a)
        .expect("a span in the client's trace");
    assert_eq!(hex(&first.parent_span_id), parent_a);
    assert_eq!(first.kind, 2, "server");
    assert_eq!(
        string(&first.attributes, "warden.outcome").as_deref(),
        Some("ok")
    );
    assert_eq!(
        string(&first.attributes, "gen_ai.tool.name").as_deref(),
        Some("text_hash")
    );
    assert!(attribute(&first.attributes, "warden.limit.fuel").is_some());
    assert!(attribute(&first.attributes, "warden.fuel_used").is_some());
    assert!(first.end_time_unix_nano >= first.start_time_unix_nano);
    // Its phases are its children, in order, inside it.
    let phases: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id == first.span_id)
        .collect();
    let names: Vec<&str> = phases.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in ["instantiate", "call", "teardown"] {
        assert!(names.contains(&name), "{names:?}");
    }
    for phase in &phases {
        assert_eq!(phase.trace_id, first.trace_id);
        assert!(phase.start_time_unix_nano >= first.start_time_unix_nano);
    }

    // The second from the HTTP header; the third starts a trace of its own
    // and says how it failed.
    assert!(calls.iter().any(|s| hex(&s.trace_id) == trace_b));
    let failed = calls
        .iter()
        .find(|s| string(&s.attributes, "warden.outcome").as_deref() == Some("invalid_arguments"))
        .expect("the failed call");
    assert!(failed.parent_span_id.is_empty());
    assert_eq!(failed.status.as_ref().unwrap().code, 2, "error status");
    assert!(string(&failed.attributes, "error.type").is_some());

    // Every other request has its span too.
    let listed = spans
        .iter()
        .find(|s| s.name == "tools/list")
        .expect("the tools/list span");
    assert_eq!(hex(&listed.trace_id), trace_c);
    assert_eq!(listed.kind, 2, "server");

    // A plugin's outgoing request is a client span under its call.
    let fetch = spans
        .iter()
        .find(|s| s.name == "tools/call fetch_get")
        .expect("the fetch call");
    let request = spans
        .iter()
        .find(|s| s.parent_span_id == fetch.span_id && s.name == "GET")
        .expect("the outgoing request's span");
    assert_eq!(request.kind, 3, "client");
    assert_eq!(
        string(&request.attributes, "url.full"),
        Some(origin.clone())
    );
    assert!(matches!(
        attribute(&request.attributes, "http.response.status_code"),
        Some(any_value::Value::IntValue(200))
    ));
    assert!(request.start_time_unix_nano >= fetch.start_time_unix_nano);

    // The call counter, by outcome.
    let mut counted = 0;
    for request in &received.metrics {
        for resource in &request.resource_metrics {
            for scope in &resource.scope_metrics {
                for metric in scope
                    .metrics
                    .iter()
                    .filter(|m| m.name == "warden.tool.calls")
                {
                    if let Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(sum)) =
                        &metric.data
                    {
                        counted = counted.max(
                            sum.data_points
                                .iter()
                                .filter(|p| string(&p.attributes, "tool").as_deref() == Some("text_hash"))
                                .map(|p| match p.value {
                                    Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(v)) => v,
                                    _ => 0,
                                })
                                .sum::<i64>(),
                        );
                    }
                }
            }
        }
    }
    assert_eq!(counted, 3);
}
