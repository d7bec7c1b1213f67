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

mod budget;
mod wire;

pub(crate) use budget::ClientBudget;

use std::sync::Arc;
use std::time::Instant;

use super::bindings::client::{
    Answer, ClientError, ElicitationRequest, ElicitationResponse, Host, Request, Root,
    SamplingRequest, SamplingResponse,
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

impl ClientRequest {
    /// A form elicitation asking `message`, with one required field `field`
    /// whose JSON schema is `schema` (the host's own questions).
    pub fn form(message: String, field: &str, schema: serde_json::Value) -> Self {
        ClientRequest {
            method: ClientMethod::Elicit,
            params: serde_json::json!({
                "mode": "form",
                "message": message,
                "requestedSchema": {
                    "type": "object",
                    "properties": { field: schema },
                    "required": [field],
                },
            }),
        }
    }
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
    /// The client must be asked first, between two runs of the call (an
    /// `input_required` round): the call stops here and runs again later.
    Deferred,
}

/// The MCP client of one call, as the MCP layer reaches it.
#[async_trait::async_trait]
pub trait ClientPeer: Send + Sync + std::fmt::Debug {
    /// What the client declared.
    fn support(&self) -> ClientSupport;

    /// Sends each request, under the key the plugin chose, and returns the
    /// client's results (each its `result` object), in order.
    async fn ask(
        &self,
        batch: Vec<(String, ClientRequest)>,
    ) -> Vec<Result<serde_json::Value, PeerError>>;
}

/// The trap that stops a call whose client must be asked between runs
/// ([`PeerError::Deferred`]).
#[derive(Debug, thiserror::Error)]
#[error("the call waits for its client's answers")]
pub(crate) struct Deferred;

/// Checks that `answer` is a result the plugin could be handed for a
/// request of `method`.
pub fn check_answer(method: ClientMethod, answer: &serde_json::Value) -> Result<(), String> {
    let checked = match method {
        ClientMethod::CreateMessage => wire::sampling_response(answer.clone()).map(drop),
        ClientMethod::Elicit => wire::elicitation_response(answer.clone()).map(drop),
        ClientMethod::ListRoots => wire::roots(answer.clone()).map(drop),
    };
    checked.map_err(|e| error_message(&e).to_owned())
}

/// The message of a client error.
pub(super) fn error_message(error: &ClientError) -> &str {
    match error {
        ClientError::Failed(m)
        | ClientError::Denied(m)
        | ClientError::Unsupported(m)
        | ClientError::LimitExceeded(m) => m,
    }
}

/// What a request needs the client to have declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Sampling,
    FormElicitation,
    UrlElicitation,
    Roots,
}

impl Need {
    fn feature(self) -> ClientFeature {
        match self {
            Need::Sampling => ClientFeature::Sampling,
            Need::FormElicitation | Need::UrlElicitation => ClientFeature::Elicitation,
            Need::Roots => ClientFeature::Roots,
        }
    }

    fn declared_by(self, support: ClientSupport) -> bool {
        match self {
            Need::Sampling => support.sampling,
            Need::FormElicitation => support.elicitation_form,
            Need::UrlElicitation => support.elicitation_url,
            Need::Roots => support.roots,
        }
    }

    /// The prefix of the keys the host gives single requests.
    fn key_prefix(self) -> &'static str {
        match self {
            Need::Sampling => "sample",
            Need::FormElicitation | Need::UrlElicitation => "elicit",
            Need::Roots => "roots",
        }
    }
}

/// One request of a batch, as the plugin asked it.
struct Asked {
    key: String,
    need: Need,
    tokens: u64,
    request: Result<ClientRequest, ClientError>,
}

/// The most bytes of a request key.
const MAX_KEY_BYTES: usize = 64;

fn check_key(key: &str) -> Result<(), ClientError> {
    let valid = (1..=MAX_KEY_BYTES).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if key.starts_with("warden.") {
        Err(ClientError::Failed(format!(
            "the request key {key:?} starts with `warden.`, which is kept for the host's own \
             questions"
        )))
    } else if valid {
        Ok(())
    } else {
        Err(ClientError::Failed(format!(
            "the request key {key:?} is not 1 to {MAX_KEY_BYTES} letters, digits, `_`, `-` or `.`"
        )))
    }
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
    /// Requests asked so far (numbering the keys of single requests).
    asked: u64,
    budget: ClientBudget,
    tokens_left: u64,
    max_tokens: u64,
    deadline: Arc<Deadline>,
    denials: DenialLog,
}

impl CallClient {
    pub(super) fn new(
        plugin: Arc<str>,
        grant: ClientGrant,
        peer: Option<Arc<dyn ClientPeer>>,
        limits: &Limits,
        budget: ClientBudget,
        deadline: Arc<Deadline>,
        denials: DenialLog,
    ) -> Self {
        Self {
            plugin,
            grant,
            peer,
            asked: 0,
            budget,
            tokens_left: limits.max_sampling_tokens,
            max_tokens: limits.max_sampling_tokens,
            deadline,
            denials,
        }
    }

    /// The key of the next single request of `need`.
    fn next_key(&self, need: Need) -> String {
        format!("{}-{}", need.key_prefix(), self.asked + 1)
    }

    /// Whether the plugin may send a request for `need`, and the peer to
    /// send it to: the grant, the client's support and the request and
    /// token caps decide.
    fn admit(&mut self, need: Need, tokens: u64) -> Result<Arc<dyn ClientPeer>, ClientError> {
        let feature = need.feature();
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
        if !need.declared_by(peer.support()) {
            let mode = match need {
                Need::FormElicitation => " in form mode",
                Need::UrlElicitation => " in URL mode",
                _ => "",
            };
            return Err(ClientError::Unsupported(format!(
                "the MCP client did not declare the `{feature}` capability{mode}"
            )));
        }
        self.budget.check_requests()?;
        if tokens > self.tokens_left {
            return Err(ClientError::LimitExceeded(format!(
                "the request asks for {tokens} tokens, but only {} of the call's \
                 max_sampling_tokens = {} are left",
                self.tokens_left, self.max_tokens
            )));
        }
        self.budget.take()?;
        self.tokens_left -= tokens;
        Ok(peer.clone())
    }

    /// Admits and checks each request of a batch, sends the admitted ones
    /// together with the call's clock stopped (for at most the
    /// `client_wait` left), and returns the answers in order. `Err` stops
    /// the call: its client must be asked between two runs.
    async fn ask(
        &mut self,
        batch: Vec<Asked>,
    ) -> wasmtime::Result<Vec<Result<serde_json::Value, ClientError>>> {
        let mut answers: Vec<Result<serde_json::Value, ClientError>> =
            Vec::with_capacity(batch.len());
        let mut sent = Vec::new();
        let mut peer = None;
        for (index, asked) in batch.into_iter().enumerate() {
            self.asked += 1;
            let duplicate = sent.iter().any(|(_, (key, _))| *key == asked.key);
            let admitted = check_key(&asked.key)
                .and_then(|()| {
                    if duplicate {
                        Err(ClientError::Failed(format!(
                            "the request key {:?} is used twice in one batch",
                            asked.key
                        )))
                    } else {
                        Ok(())
                    }
                })
                .and_then(|()| self.admit(asked.need, asked.tokens))
                .and_then(|p| asked.request.map(|request| (p, request)));
            match admitted {
                Ok((p, request)) => {
                    peer = Some(p);
                    sent.push((index, (asked.key, request)));
                    answers.push(Ok(serde_json::Value::Null));
                }
                Err(error) => answers.push(Err(error)),
            }
        }
        let Some(peer) = peer else {
            return Ok(answers);
        };
        let (indices, requests): (Vec<usize>, Vec<_>) = sent.into_iter().unzip();
        let wait = self.budget.wait_left();
        let started = Instant::now();
        let results = {
            let deadline = self.deadline.clone();
            let _paused = deadline.pause(wait);
            tokio::time::timeout(wait, peer.ask(requests)).await
        };
        self.budget.waited(started.elapsed());
        let Ok(results) = results else {
            let late = self.budget.late();
            for index in indices {
                answers[index] = Err(late.clone());
            }
            return Ok(answers);
        };
        if results.contains(&Err(PeerError::Deferred)) {
            return Err(wasmtime::Error::new(Deferred));
        }
        for (index, result) in indices.into_iter().zip(results) {
            answers[index] = match result {
                Ok(value) => Ok(value),
                Err(PeerError::Failed(message)) => Err(ClientError::Failed(format!(
                    "the client answered with an error: {message}"
                ))),
                Err(PeerError::Unsupported(message)) => Err(ClientError::Unsupported(message)),
                Err(PeerError::Deferred) => unreachable!("handled above"),
            };
        }
        Ok(answers)
    }

    /// Asks one request under a key of the host's.
    async fn ask_one(
        &mut self,
        need: Need,
        tokens: u64,
        request: Result<ClientRequest, ClientError>,
    ) -> wasmtime::Result<Result<serde_json::Value, ClientError>> {
        let key = self.next_key(need);
        let mut answers = self
            .ask(vec![Asked {
                key,
                need,
                tokens,
                request,
            }])
            .await?;
        Ok(answers
            .pop()
            .unwrap_or(Err(ClientError::Failed("the client gave no answer".into()))))
    }
}

/// What a request needs, the tokens it asks for, and its wire form.
fn sampling(request: &SamplingRequest) -> (Need, u64, Result<ClientRequest, ClientError>) {
    (
        Need::Sampling,
        u64::from(request.max_tokens),
        wire::sampling_request(request),
    )
}

fn elicitation(request: &ElicitationRequest) -> (Need, u64, Result<ClientRequest, ClientError>) {
    let need = match request {
        ElicitationRequest::Form(_) => Need::FormElicitation,
        ElicitationRequest::Url(_) => Need::UrlElicitation,
    };
    (need, 0, wire::elicitation_request(request))
}

fn list_roots() -> (Need, u64, Result<ClientRequest, ClientError>) {
    let request = ClientRequest {
        method: ClientMethod::ListRoots,
        params: serde_json::json!({}),
    };
    (Need::Roots, 0, Ok(request))
}

impl Host for HostState {
    async fn sample(
        &mut self,
        request: SamplingRequest,
    ) -> wasmtime::Result<Result<SamplingResponse, ClientError>> {
        let (need, tokens, request) = sampling(&request);
        let answer = self.client.ask_one(need, tokens, request).await?;
        Ok(answer.and_then(wire::sampling_response))
    }

    async fn elicit(
        &mut self,
        request: ElicitationRequest,
    ) -> wasmtime::Result<Result<ElicitationResponse, ClientError>> {
        let (need, tokens, request) = elicitation(&request);
        let answer = self.client.ask_one(need, tokens, request).await?;
        Ok(answer.and_then(wire::elicitation_response))
    }

    async fn list_roots(&mut self) -> wasmtime::Result<Result<Vec<Root>, ClientError>> {
        let (need, tokens, request) = list_roots();
        let answer = self.client.ask_one(need, tokens, request).await?;
        Ok(answer.and_then(wire::roots))
    }

    async fn ask(
        &mut self,
        requests: Vec<(String, Request)>,
    ) -> wasmtime::Result<Vec<Result<Answer, ClientError>>> {
        let batch: Vec<Asked> = requests
            .iter()
            .map(|(key, request)| {
                let (need, tokens, request) = match request {
                    Request::Sample(r) => sampling(r),
                    Request::Elicit(r) => elicitation(r),
                    Request::ListRoots => list_roots(),
                };
                Asked {
                    key: key.clone(),
                    need,
                    tokens,
                    request,
                }
            })
            .collect();
        let answers = self.client.ask(batch).await?;
        Ok(requests
            .iter()
            .zip(answers)
            .map(|((_, request), answer)| {
                answer.and_then(|value| match request {
                    Request::Sample(_) => wire::sampling_response(value).map(Answer::Sampled),
                    Request::Elicit(_) => wire::elicitation_response(value).map(Answer::Elicited),
                    Request::ListRoots => wire::roots(value).map(Answer::Roots),
                })
            })
            .collect())
    }
}
