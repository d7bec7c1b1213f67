//! The MCP client of a tool call, as the sandbox's `client` import reaches
//! it: what the client declared, and its requests sent as server-to-client
//! requests on the session (protocol 2025-11-25 and older; 2026-07-28 is
//! served by `rounds`).
//!
//! Requests travel in MCP's wire format (built and checked by the sandbox);
//! here they only become rmcp's typed requests and the client's results
//! become JSON again.
#![allow(deprecated)] // Sampling and roots are deprecated by SEP-2577, and still served.

use std::sync::Arc;

use rmcp::model::{ClientCapabilities, ErrorCode, ErrorData, ServerRequest};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use serde_json::{Value, json};

use crate::policy::manifest::ClientFeature;
use crate::sandbox::{ClientPeer, ClientRequest, ClientSupport, PeerError, WitClientFeature};

/// What `capabilities` declares.
pub(crate) fn support_of(capabilities: Option<&ClientCapabilities>) -> ClientSupport {
    let declared = capabilities
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or(Value::Null);
    let has = |value: &Value, key: &str| value.get(key).is_some_and(|v| !v.is_null());
    let elicitation = declared.get("elicitation").filter(|e| !e.is_null());
    // An `elicitation` without modes is form mode (2025-06-18).
    let form = elicitation.is_some_and(|e| has(e, "form") || !has(e, "url"));
    ClientSupport {
        sampling: has(&declared, "sampling"),
        elicitation_form: form,
        elicitation_url: elicitation.is_some_and(|e| has(e, "url")),
        roots: has(&declared, "roots"),
    }
}

/// The JSON-RPC error for a call to a tool that requires client features
/// the client did not declare (`-32021`, with the missing ones in `data`).
pub(crate) fn missing_features(
    required: &[WitClientFeature],
    support: ClientSupport,
) -> Option<ErrorData> {
    let names: Vec<&str> = required
        .iter()
        .map(|&f| ClientFeature::from(f))
        .filter(|&f| !support.declares(f))
        .map(ClientFeature::as_str)
        .collect();
    if names.is_empty() {
        return None;
    }
    let missing: serde_json::Map<String, Value> =
        names.iter().map(|&n| (n.to_string(), json!({}))).collect();
    Some(ErrorData::new(
        ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
        format!(
            "this tool needs the client capabilit{} {}, which the client did not declare",
            if names.len() == 1 { "y" } else { "ies" },
            names.join(", ")
        ),
        Some(json!({ "requiredCapabilities": missing })),
    ))
}

/// The session's client on protocol 2025-11-25 or older, asked with
/// server-to-client requests while the call waits.
#[derive(Debug)]
pub(crate) struct SessionClient {
    peer: Peer<RoleServer>,
    support: ClientSupport,
}

impl SessionClient {
    /// The client of a request on a session.
    pub(crate) fn of(
        context: &RequestContext<RoleServer>,
        support: ClientSupport,
    ) -> Arc<dyn ClientPeer> {
        Arc::new(SessionClient {
            peer: context.peer.clone(),
            support,
        })
    }

    async fn request(&self, request: ClientRequest) -> Result<Value, PeerError> {
        let message = json!({ "method": request.method.as_str(), "params": request.params });
        let typed: ServerRequest = serde_json::from_value(message).map_err(|e| {
            PeerError::Failed(format!("the request does not fit MCP's schema: {e}"))
        })?;
        let result = self
            .peer
            .send_request(typed)
            .await
            .map_err(|e| PeerError::Failed(e.to_string()))?;
        serde_json::to_value(result).map_err(|e| PeerError::Failed(e.to_string()))
    }
}

#[async_trait::async_trait]
impl ClientPeer for SessionClient {
    fn support(&self) -> ClientSupport {
        self.support
    }

    /// One request after the other, in order (the keys are not sent).
    async fn ask(&self, batch: Vec<(String, ClientRequest)>) -> Vec<Result<Value, PeerError>> {
        let mut answers = Vec::with_capacity(batch.len());
        for (_key, request) in batch {
            answers.push(self.request(request).await);
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(value: Value) -> ClientCapabilities {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn declared_features() {
        assert_eq!(support_of(None), ClientSupport::default());
        let all = support_of(Some(&caps(
            json!({"sampling": {}, "elicitation": {}, "roots": {"listChanged": true}}),
        )));
        assert!(all.sampling && all.elicitation_form && !all.elicitation_url && all.roots);
        let url = support_of(Some(&caps(json!({"elicitation": {"url": {}}}))));
        assert!(!url.elicitation_form && url.elicitation_url && !url.sampling);
    }

    #[test]
    fn missing_features_name_each() {
        let support = support_of(Some(&caps(json!({"roots": {}}))));
        assert!(missing_features(&[WitClientFeature::Roots], support).is_none());
        let error = missing_features(
            &[WitClientFeature::Sampling, WitClientFeature::Roots],
            support,
        )
        .unwrap();
        assert_eq!(error.code.0, -32021);
        assert_eq!(
            error.data.unwrap()["requiredCapabilities"],
            json!({"sampling": {}})
        );
    }
}
