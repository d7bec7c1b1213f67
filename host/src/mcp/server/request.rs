//! What every request handler needs: a page of a list, the request's
//! revision, its client (the session, or a replay of `input_required`
//! rounds), cancellation before a run, and the JSON-RPC error of a failed
//! read, get or completion.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rmcp::model::{ErrorCode, InputResponses, JsonObject, PaginatedRequestParams, ProtocolVersion};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{Value, json};

use crate::mcp::access;
use crate::mcp::client_peer::SessionClient;
use crate::mcp::dispatch::Dispatcher;
use crate::mcp::primitives::PrimitiveError;
use crate::mcp::rounds::{self, Replay, Round};
use crate::observe::otlp::{Otlp, RequestRecord};
use crate::policy::access::Principal;
use crate::sandbox::{ClientPeer, ClientSupport};

/// Items per list page.
const PAGE_SIZE: usize = 200;

/// One page of `items`, from the offset in `cursor`; the cursor of the next
/// page when there is one.
pub(super) fn page<T: Clone>(
    items: &[T],
    request: Option<PaginatedRequestParams>,
) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let start = match request.and_then(|r| r.cursor) {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .ok()
            .filter(|start| *start <= items.len())
            .ok_or_else(|| ErrorData::invalid_params(format!("invalid cursor `{cursor}`"), None))?,
    };
    let end = (start + PAGE_SIZE).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

/// Whether the request's protocol revision is 2026-07-28 or later.
pub(super) fn is_stateless_revision(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// The error for a resource no plugin serves (to this request).
pub(super) fn not_served(uri: String, context: &RequestContext<RoleServer>) -> ErrorData {
    primitive_error(
        PrimitiveError::ResourceNotFound {
            message: format!("no plugin serves the resource `{uri}`"),
            uri,
        },
        context,
    )
}

/// A request being traced for the OTLP export (only when it is on).
#[derive(Debug)]
pub(super) struct Traced {
    otlp: Arc<Otlp>,
    method: &'static str,
    target: Option<String>,
    started: SystemTime,
    clock: Instant,
    traceparent: Option<String>,
    principal: Option<Arc<Principal>>,
}

/// Starts tracing a request of `method` on `target`, when spans are exported.
pub(super) fn traced(
    dispatcher: &Dispatcher,
    context: &RequestContext<RoleServer>,
    method: &'static str,
    target: Option<&str>,
) -> Option<Traced> {
    let otlp = dispatcher.observer()?.otlp.clone()?;
    Some(Traced {
        otlp,
        method,
        target: target.map(str::to_owned),
        started: SystemTime::now(),
        clock: Instant::now(),
        traceparent: traceparent_of(context),
        principal: access::principal_of(context),
    })
}

impl Traced {
    /// Exports the request's span, with how `result` ended.
    pub(super) fn finish<T>(self, result: &Result<T, ErrorData>) {
        self.otlp.request(&RequestRecord {
            method: self.method,
            target: self.target.as_deref(),
            started: self.started,
            duration: self.clock.elapsed(),
            error: result.as_ref().err().map(|e| e.code.0),
            principal: self.principal.as_ref().map(|p| p.id.as_str()),
            traceparent: self.traceparent.as_deref(),
        });
    }
}

/// The W3C `traceparent` of the request: its `_meta` (SEP-414), else the
/// HTTP request's header.
pub(super) fn traceparent_of(context: &RequestContext<RoleServer>) -> Option<String> {
    if let Some(value) = context.meta.get_traceparent() {
        return Some(value.to_owned());
    }
    context
        .extensions
        .get::<::http::request::Parts>()
        .and_then(|parts| parts.headers.get("traceparent"))
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The JSON-RPC error for a failed read, get or completion.
pub(super) fn primitive_error(
    error: PrimitiveError,
    context: &RequestContext<RoleServer>,
) -> ErrorData {
    match error {
        PrimitiveError::ResourceNotFound { uri, message } => {
            // 2025-11-25 defines -32002; 2026-07-28 (SEP-2164) uses invalid params.
            let code = if is_stateless_revision(context) {
                ErrorCode::INVALID_PARAMS
            } else {
                ErrorCode::RESOURCE_NOT_FOUND
            };
            ErrorData::new(code, message, Some(json!({ "uri": uri })))
        }
        PrimitiveError::InvalidParams(message) => ErrorData::invalid_params(message, None),
        PrimitiveError::Failed(message) => ErrorData::internal_error(message, None),
        PrimitiveError::ShuttingDown => {
            ErrorData::internal_error("the server is shutting down", None)
        }
        PrimitiveError::Deferred => ErrorData::internal_error(
            "the plugin asked its client something during a request that cannot ask",
            None,
        ),
    }
}

/// `request`'s output, or the error for a request the client cancelled
/// before it ran (one that runs ends in the sandbox, and is recorded there).
pub(super) async fn cancellable<T>(
    context: &RequestContext<RoleServer>,
    method: &str,
    request: impl std::future::Future<Output = T>,
) -> Result<T, ErrorData> {
    tokio::select! {
        biased;
        output = request => Ok(output),
        () = context.ct.cancelled() => {
            tracing::info!(target: "warden::call", request = method, outcome = "cancelled", "request cancelled");
            Err(ErrorData::internal_error("the request was cancelled", None))
        }
    }
}

/// The `input_required` round of a request whose run stopped to ask its
/// client (only a [`Replay`] stops a run).
pub(super) fn round(replay: Option<Arc<Replay>>) -> Result<Round, ErrorData> {
    match replay {
        Some(replay) => replay.finish(),
        None => Err(ErrorData::internal_error(
            "the request stopped to ask a client that cannot be asked",
            None,
        )),
    }
}

/// A request's client, and its replay on 2026-07-28.
pub(super) type RequestClient = (Arc<dyn ClientPeer>, Option<Arc<Replay>>);

/// What a request (`method` on `name`, with `arguments`) may ask its
/// client through: the session on 2025-11-25; on 2026-07-28 a [`Replay`]
/// of the retry's state and answers (also returned, to finish a round).
#[allow(clippy::too_many_arguments)]
pub(super) fn client_of(
    context: &RequestContext<RoleServer>,
    support: ClientSupport,
    method: &str,
    name: &str,
    arguments: Option<&JsonObject>,
    request_state: Option<&str>,
    input_responses: Option<&InputResponses>,
    client_wait: Duration,
) -> Result<RequestClient, ErrorData> {
    if !is_stateless_revision(context) {
        return Ok((SessionClient::of(context, support), None));
    }
    let arguments = Value::Object(arguments.cloned().unwrap_or_default());
    let replay = Replay::open(
        rounds::binding(method, name, &arguments),
        support,
        client_wait,
        request_state,
        input_responses.cloned(),
    )?;
    Ok((replay.clone(), Some(replay)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(c: &str) -> Option<PaginatedRequestParams> {
        Some(PaginatedRequestParams::default().with_cursor(Some(c.to_string())))
    }

    #[test]
    fn pages_by_offset() {
        let items: Vec<usize> = (0..450).collect();
        let (first, next) = page(&items, None).unwrap();
        assert_eq!((first.len(), next.as_deref()), (PAGE_SIZE, Some("200")));
        let (second, next) = page(&items, cursor("200")).unwrap();
        assert_eq!((second[0], next.as_deref()), (200, Some("400")));
        let (last, next) = page(&items, cursor("400")).unwrap();
        assert_eq!((last.len(), next), (50, None));
        let (empty, next) = page(&Vec::<usize>::new(), None).unwrap();
        assert!(empty.is_empty() && next.is_none());
    }

    #[test]
    fn bad_cursors_are_invalid_params() {
        let items = [1, 2, 3];
        for bad in ["x", "-1", "4"] {
            let error = page(&items, cursor(bad)).unwrap_err();
            assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{bad}");
        }
    }
}
