//! A client's JSON-RPC message decoded from its bytes, the frequent requests
//! in one direct pass.
//!
//! rmcp reads a message as untagged enums: the whole message is buffered,
//! its shape checked, and then each `ClientRequest` variant tried in turn;
//! `tools/call` is the fourteenth. For a `tools/call` with a 100-byte
//! argument that is several times the cost of reading the request directly.
//! [`decode`] reads the envelope (`jsonrpc`, `id`, `method`, whether
//! `result` or `error` is present, and `params` unread) and then the request
//! type its method names: `tools/call`'s params straight into their fields,
//! the others through rmcp's own reading of that one type. Anything else,
//! and anything the direct pass does not accept, is decoded by rmcp, so
//! every message means what it means to rmcp and every error is rmcp's; the
//! `wire` fuzz target checks that the two readings agree.

use std::borrow::Cow;
use std::fmt;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, InputResponses,
    JsonObject, JsonRpcRequest, RequestId, RequestMetaObject,
};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::value::RawValue;

/// `bytes` (one message, without its line ending) decoded as a client's
/// JSON-RPC message.
pub fn decode(bytes: &[u8]) -> Result<ClientJsonRpcMessage, serde_json::Error> {
    match frequent(bytes) {
        Some(message) => Ok(message),
        None => serde_json::from_slice(bytes),
    }
}

/// `bytes` read directly if they are one of the frequent requests; `None`
/// leaves the message (and any error in it) to rmcp's reading.
pub fn frequent(bytes: &[u8]) -> Option<ClientJsonRpcMessage> {
    let envelope: Envelope = serde_json::from_slice(bytes).ok()?;
    if !envelope.is_request() {
        return None;
    }
    let request = match envelope.method.as_deref()? {
        "tools/call" => ClientRequest::CallToolRequest(call(envelope.params?)?),
        "tools/list" => ClientRequest::ListToolsRequest(typed(bytes)?),
        "ping" => ClientRequest::PingRequest(typed(bytes)?),
        "resources/read" => ClientRequest::ReadResourceRequest(typed(bytes)?),
        "prompts/get" => ClientRequest::GetPromptRequest(typed(bytes)?),
        _ => return None,
    };
    Some(ClientJsonRpcMessage::Request(JsonRpcRequest::new(
        envelope.id?,
        request,
    )))
}

/// The request type `T` read from the whole message: rmcp's own reading of
/// it, which passes over `jsonrpc` and `id`.
fn typed<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

/// A `tools/call` request from its `params`, as rmcp reads it: `_meta` in
/// the request's extensions, the rest in its params.
fn call(params: &RawValue) -> Option<CallToolRequest> {
    let read: CallParams = serde_json::from_str(params.get()).ok()?;
    let mut params = CallToolRequestParams::new(read.name);
    params.arguments = read.arguments;
    params.input_responses = read.input_responses;
    params.request_state = read.request_state;
    let mut request = CallToolRequest::new(params);
    if let Some(meta) = read.meta {
        request.extensions.insert(RequestMetaObject::from(meta));
    }
    Some(request)
}

/// The members of `tools/call`'s params that rmcp 3.9 reads. Any other
/// member (one a later rmcp may read) sends the message to rmcp, and so does
/// a member named twice.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CallParams {
    #[serde(rename = "_meta")]
    meta: Option<JsonObject>,
    name: String,
    arguments: Option<JsonObject>,
    input_responses: Option<InputResponses>,
    request_state: Option<String>,
}

/// The members of a message that say what it is, and its `params` unread.
#[derive(Default)]
struct Envelope<'a> {
    version: Option<Cow<'a, str>>,
    method: Option<Cow<'a, str>>,
    id: Option<RequestId>,
    params: Option<&'a RawValue>,
    result: bool,
    error: bool,
}

impl Envelope<'_> {
    /// A JSON-RPC 2.0 request, by rmcp's rule: `method` and `id`, and
    /// neither `result` nor `error`.
    fn is_request(&self) -> bool {
        self.version.as_deref() == Some("2.0")
            && self.method.is_some()
            && self.id.is_some()
            && !self.result
            && !self.error
    }
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON-RPC message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut envelope = Envelope::default();
        // A member named twice is an error for rmcp's reading; it goes there.
        let mut seen = [false; 6];
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let slot = match &*key {
                "jsonrpc" => 0,
                "method" => 1,
                "id" => 2,
                "result" => 3,
                "error" => 4,
                "params" => 5,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if std::mem::replace(&mut seen[slot], true) {
                return Err(de::Error::custom("a member named twice"));
            }
            match slot {
                0 => envelope.version = Some(map.next_value()?),
                1 => envelope.method = Some(map.next_value()?),
                2 => envelope.id = Some(map.next_value()?),
                3 => {
                    envelope.result = true;
                    map.next_value::<IgnoredAny>()?;
                }
                5 => envelope.params = Some(map.next_value()?),
                _ => {
                    envelope.error = true;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What rmcp makes of `line`, and what [`decode`] makes of it, as JSON
    /// (the messages have no `PartialEq`; their JSON carries every member,
    /// `_meta` included).
    fn both(
        line: &str,
    ) -> (
        Result<serde_json::Value, String>,
        Result<serde_json::Value, String>,
    ) {
        let as_json = |decoded: Result<ClientJsonRpcMessage, serde_json::Error>| {
            decoded
                .map(|message| serde_json::to_value(message).unwrap())
                .map_err(|e| format!("{:?}", e.classify()))
        };
        (
            as_json(serde_json::from_slice(line.as_bytes())),
            as_json(decode(line.as_bytes())),
        )
    }

    /// The first [`DIRECT`] are read directly, the rest by rmcp.
    const LINES: &[&str] = &[
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"text_base64_encode","arguments":{"text":"hello","n":1.5,"big":18446744073709551615}}}"#,
        r#"{"jsonrpc":"2.0","id":"a-string-id","method":"tools/call","params":{"name":"t","_meta":{"progressToken":3}}}"#,
        r#"{"jsonrpc":"2.0","id":1.0,"method":"tools/call","params":{"name":"t","arguments":{}}}"#,
        r#"{"method":"tools/call","params":{"name":"t"},"id":9,"jsonrpc":"2.0","extra":[1,2]}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"abc"}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"ping","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"warden://x"}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"prompts/get","params":{"name":"p","arguments":{"a":"b"}}}"#,
        r#"{"jsonrpc":"2.0","id":"\u0031","method":"tools\/call","params":{"name":"\u0074"}}"#,
        r#"{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"t","arguments":{"a":[1,{"b":null}]},"inputResponses":{"k":{"action":"accept"}},"requestState":"sealed","_meta":null}}"#,
        r#"{"jsonrpc":"2.0","id":13,"params":{"arguments":null,"name":"t"},"method":"tools/call"}"#,
        // Not accepted directly: rmcp decides.
        r#"{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"t","task":{"ttl":5}}}"#,
        r#"{"jsonrpc":"2.0","id":15,"method":"tools/call","params":null}"#,
        r#"{"jsonrpc":"2.0","id":16,"method":"tools/call","params":{"name":"t","name":"u"}}"#,
        r#"{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"t"},"params":{"name":"u"}}"#,
        r#"{"jsonrpc":"2.0","id":18,"method":"tools/call","params":{"name":7}}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call"}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"t"},"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"t"},"error":null}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"ping","method":"tools/call","params":{"name":"t"}}"#,
        r#"{"jsonrpc":"2.0","id":6,"id":7,"method":"ping"}"#,
        r#"{"jsonrpc":"1.0","id":6,"method":"ping"}"#,
        r#"{"id":6,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"t","arguments":"no"}}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/list","params":7}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"some/custom","params":{"x":1}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}"#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        r#"42"#,
        r#""#,
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
    ];

    const DIRECT: usize = 13;

    #[test]
    fn every_message_decodes_as_rmcp_decodes_it() {
        for line in LINES {
            let (rmcp, ours) = both(line);
            assert_eq!(ours, rmcp, "{line}");
        }
    }

    #[test]
    fn the_frequent_requests_are_read_directly() {
        for line in &LINES[..DIRECT] {
            assert!(frequent(line.as_bytes()).is_some(), "{line}");
        }
        for line in &LINES[DIRECT..] {
            assert!(frequent(line.as_bytes()).is_none(), "{line}");
        }
    }
}
