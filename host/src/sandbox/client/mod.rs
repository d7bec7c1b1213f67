//! The world's `client` import: a plugin asks the MCP client of its call to
//! sample its model, to elicit input from the person, or to list its roots.
//!
//! Everything is decided here, in this order, before anything is sent: the
//! plugin's grant of the feature (a refusal is recorded as a denial), a
//! client that can be asked and declared the feature, a well-formed request
//! within size caps (`wire`), and the call's caps (`max_client_requests`,
//! `max_sampling_tokens`, `client_wait`). The request then goes to the call's
//! [`ClientPeer`] in MCP's wire format, with the call's clock stopped
//! (`Deadline::pause`) for at most the `client_wait` left; the answer is
//! checked and converted back.

mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bindings::client::{
    ClientError, ElicitationRequest, ElicitationResponse, Host, Root, SamplingRequest,
    SamplingResponse,
};
use super::deadline::Deadline;
use super::denials::DenialLog;
use super::host::HostState;
use crate::limits::Limits;
use crate::policy::grants::ClientGrant;
use crate::policy::manifest::ClientFeature;

/// The most bytes a request to the client may carry (messages, system
/// prompt, schema), and the most an answer may.
pub(super) const MAX_EXCHANGE_BYTES: usize = 1 << 20;

/// One request to the MCP client, in MCP's wire format.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRequest {
    /// What is asked.
    pub method: ClientMethod,
    /// The request's `params`, as MCP defines them.
    pub params: serde_json::Value,
}

/// The requests a plugin can send to its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMethod {
    /// `sampling/createMessage`.
    CreateMessage,
    /// `elicitation/create`.
    Elicit,
    /// `roots/list`.
    ListRoots,
}

impl ClientMethod {
    /// The MCP method name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientMethod::CreateMessage => "sampling/createMessage",
            ClientMethod::Elicit => "elicitation/create",
            ClientMethod::ListRoots => "roots/list",
        }
    }
}

/// What the client declared it supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientSupport {
    /// `sampling`.
    pub sampling: bool,
    /// `elicitation` in form mode.
    pub elicitation_form: bool,
    /// `elicitation` in URL mode.
    pub elicitation_url: bool,
    /// `roots`.
    pub roots: bool,
}

impl ClientSupport {
    /// Whether the client declared `feature` (elicitation in either mode).
    pub fn declares(self, feature: ClientFeature) -> bool {
        match feature {
            ClientFeature::Sampling => self.sampling,
            ClientFeature::Elicitation => self.elicitation_form || self.elicitation_url,
            ClientFeature::Roots => self.roots,
        }
    }
}

/// Why the client gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// The client answered with an error, or the request could not be sent.
    Failed(String),
    /// The client cannot be sent requests at all (its protocol revision).
    Unsupported(String),
}

/// The MCP client of one call, as the MCP layer reaches it.
#[async_trait::async_trait]
pub trait ClientPeer: Send + Sync + std::fmt::Debug {
    /// What the client declared.
    fn support(&self) -> ClientSupport;

    /// Sends `request` and waits for the client's result (its `result`
    /// object).
    async fn request(&self, request: ClientRequest) -> Result<serde_json::Value, PeerError>;
}

impl From<super::bindings::ClientFeature> for ClientFeature {
    fn from(feature: super::bindings::ClientFeature) -> Self {
        use super::bindings::ClientFeature as Wit;
        match feature {
            Wit::Sampling => ClientFeature::Sampling,
            Wit::Elicitation => ClientFeature::Elicitation,
            Wit::Roots => ClientFeature::Roots,
        }
    }
}

/// A call's state for the `client` import.
pub(super) struct CallClient {
    plugin: Arc<str>,
    grant: ClientGrant,
    peer: Option<Arc<dyn ClientPeer>>,
    requests_left: u64,
    max_requests: u64,
    tokens_left: u64,
    max_tokens: u64,
    wait_left: Duration,
    max_wait: Duration,
    deadline: Arc<Deadline>,
    denials: DenialLog,
}

impl CallClient {
    pub(super) fn new(
        plugin: Arc<str>,
        grant: ClientGrant,
        peer: Option<Arc<dyn ClientPeer>>,
        limits: &Limits,
        deadline: Arc<Deadline>,
        denials: DenialLog,
    ) -> Self {
        Self {
            plugin,
            grant,
            peer,
            requests_left: limits.max_client_requests,
            max_requests: limits.max_client_requests,
            tokens_left: limits.max_sampling_tokens,
            max_tokens: limits.max_sampling_tokens,
            wait_left: limits.client_wait,
            max_wait: limits.client_wait,
            deadline,
            denials,
        }
    }

    /// The peer to send a request for `feature` to, once the grant, the
    /// client's support and the request and token caps allow it.
    fn admit(
        &mut self,
        feature: ClientFeature,
        declared: impl Fn(ClientSupport) -> bool,
        tokens: u64,
    ) -> Result<Arc<dyn ClientPeer>, ClientError> {
        if !self.grant.allows(feature) {
            let (rule, reason) = if self.grant.pending.contains(&feature) {
                (
                    "awaiting-approval",
                    format!(
                        "the client feature `{feature}` is requested by an update of the plugin \
                         that the operator has not approved yet (run `warden approve {}`)",
                        self.plugin
                    ),
                )
            } else {
                (
                    "not-granted",
                    format!(
                        "the plugin is not granted the client feature `{feature}`: its manifest \
                         must request it (`client = [\"{feature}\"]` under [capabilities]) and \
                         the operator must allow it"
                    ),
                )
            };
            self.denials.record(
                &self.plugin,
                "client",
                rule,
                feature.to_string(),
                reason.clone(),
            );
            return Err(ClientError::Denied(reason));
        }
        let Some(peer) = &self.peer else {
            return Err(ClientError::Unsupported(
                "no MCP client can be asked during this operation: only tool calls from an \
                 MCP client can ask it"
                    .into(),
            ));
        };
        if !declared(peer.support()) {
            return Err(ClientError::Unsupported(format!(
                "the MCP client did not declare the `{feature}` capability"
            )));
        }
        if self.requests_left == 0 {
            let limit = self.max_requests;
            return Err(ClientError::LimitExceeded(format!(
                "the call already sent {limit} request{} to the client (max_client_requests = \
                 {limit})",
                if limit == 1 { "" } else { "s" }
            )));
        }
        if tokens > self.tokens_left {
            return Err(ClientError::LimitExceeded(format!(
                "the request asks for {tokens} tokens, but only {} of the call's \
                 max_sampling_tokens = {} are left",
                self.tokens_left, self.max_tokens
            )));
        }
        if self.wait_left.is_zero() {
            return Err(ClientError::LimitExceeded(format!(
                "the call already waited client_wait = {} for its client",
                humantime::format_duration(self.max_wait)
            )));
        }
        self.requests_left -= 1;
        self.tokens_left -= tokens;
        Ok(peer.clone())
    }

    /// Sends `request` to `peer` with the call's clock stopped, for at most
    /// the `client_wait` left.
    async fn send(
        &mut self,
        peer: Arc<dyn ClientPeer>,
        request: ClientRequest,
    ) -> Result<serde_json::Value, ClientError> {
        let wait = self.wait_left;
        let started = Instant::now();
        let answer = {
            let deadline = self.deadline.clone();
            let _paused = deadline.pause(wait);
            tokio::time::timeout(wait, peer.request(request)).await
        };
        self.wait_left = wait.saturating_sub(started.elapsed());
        match answer {
            Err(_elapsed) => Err(ClientError::LimitExceeded(format!(
                "the client did not answer within the call's client_wait = {}",
                humantime::format_duration(self.max_wait)
            ))),
            Ok(Err(PeerError::Failed(message))) => Err(ClientError::Failed(format!(
                "the client answered with an error: {message}"
            ))),
            Ok(Err(PeerError::Unsupported(message))) => Err(ClientError::Unsupported(message)),
            Ok(Ok(result)) => Ok(result),
        }
    }

    /// Admits, checks and sends one request for `feature`.
    async fn ask(
        &mut self,
        feature: ClientFeature,
        declared: impl Fn(ClientSupport) -> bool,
        tokens: u64,
        request: Result<ClientRequest, ClientError>,
    ) -> Result<serde_json::Value, ClientError> {
        let peer = self.admit(feature, declared, tokens)?;
        self.send(peer, request?).await
    }
}

impl Host for HostState {
    async fn sample(
        &mut self,
        request: SamplingRequest,
    ) -> wasmtime::Result<Result<SamplingResponse, ClientError>> {
        let tokens = u64::from(request.max_tokens);
        let answer = self
            .client
            .ask(
                ClientFeature::Sampling,
                |s| s.sampling,
                tokens,
                wire::sampling_request(&request),
            )
            .await;
        Ok(answer.and_then(wire::sampling_response))
    }

    async fn elicit(
        &mut self,
        request: ElicitationRequest,
    ) -> wasmtime::Result<Result<ElicitationResponse, ClientError>> {
        let url = matches!(request, ElicitationRequest::Url(_));
        let answer = self
            .client
            .ask(
                ClientFeature::Elicitation,
                |s| {
                    if url {
                        s.elicitation_url
                    } else {
                        s.elicitation_form
                    }
                },
                0,
                wire::elicitation_request(&request),
            )
            .await;
        Ok(answer.and_then(wire::elicitation_response))
    }

    async fn list_roots(&mut self) -> wasmtime::Result<Result<Vec<Root>, ClientError>> {
        let request = ClientRequest {
            method: ClientMethod::ListRoots,
            params: serde_json::json!({}),
        };
        let answer = self
            .client
            .ask(ClientFeature::Roots, |s| s.roots, 0, Ok(request))
            .await;
        Ok(answer.and_then(wire::roots))
    }
}
