//! The body of a `POST /mcp` with `Content-Type: application/json`: read up
//! to `http.max_body` (over it: 413; this is the one place the body size is
//! enforced), and answered as the MCP Streamable HTTP transport and JSON-RPC
//! ask when it is not a JSON-RPC message: HTTP 400 with a JSON-RPC error whose
//! id is null, `-32700` (parse error) for text that is not JSON, `-32600`
//! (invalid request) for JSON that is not a message. Other content types go
//! on to rmcp, which answers 415. A `tools/call` leaves its tool's name in
//! the request's extensions, for [`super::calls`].

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcRequest};
use serde_json::json;

use super::AppState;
use super::calls::ToolCall;
use crate::mcp::wire;

/// JSON-RPC: the body is not JSON.
const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the JSON is not a valid request.
const INVALID_REQUEST: i64 = -32600;

/// Checks the body of JSON POSTs before rmcp sees them.
pub async fn require_jsonrpc(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !is_json(request.headers()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, state.max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Payload Too Large: request body exceeds {} bytes\n",
                    state.max_body
                ),
            )
                .into_response();
        }
        Err(_) => {
            return (StatusCode::BAD_REQUEST, "cannot read the request body\n").into_response();
        }
    };
    let message = match wire::decode(&bytes) {
        Ok(message) => message,
        Err(e) if e.is_data() => {
            return error(
                INVALID_REQUEST,
                "Invalid Request: the body is not a JSON-RPC message",
            );
        }
        Err(_) => return error(PARSE_ERROR, "Parse error: the body is not valid JSON"),
    };
    let mut parts = parts;
    if let ClientJsonRpcMessage::Request(JsonRpcRequest {
        id,
        request: ClientRequest::CallToolRequest(call),
        ..
    }) = message
    {
        parts.extensions.insert(ToolCall {
            id,
            name: call.params.name.into_owned(),
        });
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether the request says its body is JSON.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let essence = value.split_once(';').map_or(value, |(essence, _)| essence);
            essence.trim().eq_ignore_ascii_case("application/json")
        })
}

/// HTTP 400 with a JSON-RPC error response without an id.
fn error(code: i64, message: &str) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    let mut response = (StatusCode::BAD_REQUEST, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(body: &str) -> Option<bool> {
        wire::decode(body.as_bytes()).err().map(|e| e.is_data())
    }

    #[test]
    fn parse_errors_and_invalid_requests_are_told_apart() {
        assert_eq!(kind("{oops"), Some(false));
        assert_eq!(kind(""), Some(false));
        assert_eq!(kind(r#"{"hello": 1}"#), Some(true));
        assert_eq!(kind("42"), Some(true));
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#),
            None
        );
    }
}
