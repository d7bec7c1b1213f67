//! The client of a call on protocol 2026-07-28, where a server cannot send
//! requests during a call: `input_required` rounds, served by replay.
//!
//! When the plugin asks something not answered yet, the run stops
//! ([`PeerError::Deferred`]) and the client gets every request of that ask
//! under its key, with a `requestState` sealed here: the answers so far and
//! the digests of the pending requests, bound to the request (method, name,
//! a digest of the arguments) and valid for the plugin's `client_wait`. The
//! retry runs the call again in a fresh instance; each request gets its
//! recorded answer in order while it is the same request under the same
//! key, then the new answers by key. The client's answers are checked
//! before the plugin sees them; a state that fails its seal, or an answer
//! of the wrong shape, is a JSON-RPC error (-32602).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::model::{
    ErrorData, InputRequest, InputRequests, InputRequiredResult, RequestStateCodec,
    RequestStateError, SealOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::policy::lock::sha256_hex;
use crate::sandbox::{ClientPeer, ClientRequest, ClientSupport, PeerError, check_answer};

/// The most bytes a sealed `requestState` may have: the answers collected
/// travel in it, and the retry must fit the HTTP body limit with them.
pub(crate) const MAX_STATE_BYTES: usize = 2 << 20;

/// The prefix of the keys of the host's own questions; a plugin's keys
/// cannot start with it.
pub(crate) const HOST_KEY_PREFIX: &str = "warden.";

/// This process's key for sealing `requestState`: random at start, so a
/// state outlives neither the process nor a restart (the client asks again).
fn codec() -> &'static RequestStateCodec {
    static CODEC: OnceLock<RequestStateCodec> = OnceLock::new();
    CODEC.get_or_init(|| {
        let mut key = [0u8; 32];
        if let Err(error) = getrandom::fill(&mut key) {
            // No usable randomness: no state can be trusted, so none opens.
            tracing::error!(%error, "no random key for requestState: input_required rounds fail");
        }
        RequestStateCodec::try_new(key.to_vec()).expect("a 32-byte key is long enough")
    })
}

/// What a sealed `requestState` carries.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Every answer so far, in the order the run asked.
    answers: Vec<Recorded>,
    /// The requests the client was asked to answer.
    pending: Vec<Mark>,
}

/// One answered request.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recorded {
    key: String,
    digest: String,
    answer: Value,
}

/// One request, by key and digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Mark {
    key: String,
    digest: String,
}

/// What a run of the call asked and got.
#[derive(Debug, Default)]
struct Run {
    /// The next recorded answer to match.
    next: usize,
    answers: Vec<Recorded>,
    asked: Vec<(String, ClientRequest, String)>,
    /// Why the client's answers cannot be used (a protocol error).
    invalid: Option<String>,
}

/// How a stopped run ends for the client.
#[derive(Debug)]
pub(crate) enum Round {
    /// Ask the client, then retry.
    Ask(InputRequiredResult),
    /// The answers collected outgrew [`MAX_STATE_BYTES`]: a tool error.
    TooLarge(String),
}

/// The client of one request on 2026-07-28.
#[derive(Debug)]
pub(crate) struct Replay {
    support: ClientSupport,
    binding: String,
    ttl: Duration,
    recorded: Vec<Recorded>,
    /// What the previous round asked; `None` on a first run.
    pending: Option<Vec<Mark>>,
    responses: BTreeMap<String, Value>,
    run: Mutex<Run>,
}

/// A request's digest; a URL elicitation's id is fresh each run and left out.
fn request_digest(request: &ClientRequest) -> String {
    let mut params = request.params.clone();
    if let Some(object) = params.as_object_mut() {
        object.remove("elicitationId");
    }
    sha256_hex(format!("{}\n{params}", request.method.as_str()).as_bytes())
}

/// What a state is bound to: the request's method, the name it names and a
/// digest of its arguments.
pub(crate) fn binding(method: &str, name: &str, arguments: &Value) -> String {
    format!(
        "warden/request-state/v1\n{method}\n{name}\n{}",
        sha256_hex(arguments.to_string().as_bytes())
    )
}

impl Replay {
    /// The client of a request bound to `binding`, with the state and the
    /// answers the client sent (none on a first run). A state that fails
    /// its seal or has expired is refused with -32602.
    pub(crate) fn open(
        binding: String,
        support: ClientSupport,
        ttl: Duration,
        request_state: Option<&str>,
        responses: Option<BTreeMap<String, Value>>,
    ) -> Result<Arc<Self>, ErrorData> {
        let state = match request_state {
            None => None,
            Some(sealed) => Some(
                codec()
                    .open_json_with::<State>(sealed, binding.as_bytes())
                    .map_err(state_error)?,
            ),
        };
        let (recorded, pending) = match state {
            None => (Vec::new(), None),
            Some(state) => (state.answers, Some(state.pending)),
        };
        Ok(Arc::new(Self {
            support,
            binding,
            ttl,
            recorded,
            pending,
            responses: responses.unwrap_or_default(),
            run: Mutex::new(Run::default()),
        }))
    }

    /// The `input_required` result of a stopped run, or the JSON-RPC error
    /// when the client's answers could not be used.
    pub(crate) fn finish(&self) -> Result<Round, ErrorData> {
        let run = std::mem::take(&mut *self.run.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(message) = run.invalid {
            return Err(ErrorData::invalid_params(message, None));
        }
        if run.asked.is_empty() {
            return Err(ErrorData::internal_error(
                "the call stopped to ask its client, but asked nothing",
                None,
            ));
        }
        let mut requests = InputRequests::new();
        let mut pending = Vec::with_capacity(run.asked.len());
        for (key, request, digest) in run.asked {
            let message = json!({ "method": request.method.as_str(), "params": request.params });
            let typed: InputRequest = serde_json::from_value(message).map_err(|e| {
                ErrorData::internal_error(
                    format!("the request {key:?} does not fit MCP's schema: {e}"),
                    None,
                )
            })?;
            requests.insert(key.clone(), typed);
            pending.push(Mark { key, digest });
        }
        let state = State {
            answers: run.answers,
            pending,
        };
        let options = SealOptions::new()
            .associated_data(self.binding.as_bytes())
            .ttl(self.ttl);
        let sealed = codec()
            .seal_json_with(&state, &options)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        if sealed.len() > MAX_STATE_BYTES {
            return Ok(Round::TooLarge(format!(
                "the client's answers to this call add up to more than a requestState may \
                 carry ({} bytes, at most {MAX_STATE_BYTES}): the tool asks for too much at once",
                sealed.len()
            )));
        }
        Ok(Round::Ask(InputRequiredResult::new(
            Some(requests),
            Some(sealed),
        )))
    }

    /// The answer to `request` under `key` in this run, if the client gave
    /// one; `Deferred` when it must be asked.
    fn answer(
        &self,
        run: &mut Run,
        key: String,
        request: ClientRequest,
    ) -> Result<Value, PeerError> {
        let digest = request_digest(&request);
        if run.invalid.is_some() {
            return Err(PeerError::Deferred);
        }
        if let Some(recorded) = self.recorded.get(run.next) {
            run.next += 1;
            if recorded.key == key && recorded.digest == digest {
                run.answers.push(recorded.clone());
                return Ok(recorded.answer.clone());
            }
            // The rest of the record no longer applies.
            run.next = self.recorded.len();
            return Err(PeerError::Failed(format!(
                "when the call ran again with the client's answers, the plugin asked {key:?} \
                 something other than what it asked before: a tool must ask the same things \
                 in the same order for the same arguments"
            )));
        }
        let mark = Mark {
            key: key.clone(),
            digest: digest.clone(),
        };
        // The host's own questions (consent) are only answered on a retry
        // whose sealed state shows they were asked.
        let expected = match &self.pending {
            None => !key.starts_with(HOST_KEY_PREFIX),
            Some(pending) => pending.contains(&mark),
        };
        let unused = !run.answers.iter().any(|r| r.key == key);
        if let Some(answer) = self.responses.get(&key).filter(|_| expected && unused) {
            if let Err(problem) = check_answer(request.method, answer) {
                run.invalid = Some(format!(
                    "inputResponses.{key} is not a usable answer to {}: {problem}",
                    request.method.as_str()
                ));
                return Err(PeerError::Deferred);
            }
            run.answers.push(Recorded {
                key,
                digest,
                answer: answer.clone(),
            });
            return Ok(answer.clone());
        }
        run.asked.push((key, request, digest));
        Err(PeerError::Deferred)
    }
}

/// The JSON-RPC error for a `requestState` that cannot be opened.
fn state_error(error: RequestStateError) -> ErrorData {
    let message = match error {
        RequestStateError::Expired => {
            "the requestState has expired: call again without requestState and \
             inputResponses to be asked anew"
                .to_owned()
        }
        other => format!(
            "the requestState was not issued by this server for this request, or was \
             altered ({other}): call again without requestState and inputResponses"
        ),
    };
    ErrorData::invalid_params(message, None)
}

#[async_trait::async_trait]
impl ClientPeer for Replay {
    fn support(&self) -> ClientSupport {
        self.support
    }

    async fn ask(&self, batch: Vec<(String, ClientRequest)>) -> Vec<Result<Value, PeerError>> {
        let mut run = self.run.lock().unwrap_or_else(|e| e.into_inner());
        batch
            .into_iter()
            .map(|(key, request)| self.answer(&mut run, key, request))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::ClientMethod;

    fn elicit(message: &str) -> ClientRequest {
        ClientRequest {
            method: ClientMethod::Elicit,
            params: json!({
                "mode": "form",
                "message": message,
                "requestedSchema": {"type": "object", "properties": {}}
            }),
        }
    }

    fn accept(name: &str) -> Value {
        json!({"action": "accept", "content": {"name": name}})
    }

    fn first_round(binding: &str) -> (InputRequiredResult, String) {
        let replay = open(binding, None, None).unwrap();
        let answers = block_on(replay.ask(vec![("name".into(), elicit("Your name?"))]));
        assert_eq!(answers, vec![Err(PeerError::Deferred)]);
        let Round::Ask(result) = replay.finish().unwrap() else {
            panic!("expected a round")
        };
        let state = result.request_state.clone().unwrap();
        (result, state)
    }

    /// The replay of a request bound to `binding`, valid for a minute.
    fn open(
        binding: impl Into<String>,
        state: Option<&str>,
        responses: Option<BTreeMap<String, Value>>,
    ) -> Result<Arc<Replay>, ErrorData> {
        Replay::open(
            binding.into(),
            ClientSupport::default(),
            Duration::from_secs(60),
            state,
            responses,
        )
    }

    /// Runs a future that never waits.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_round_asks_then_the_retry_answers() {
        let bind = binding("tools/call", "greet", &json!({}));
        let (result, state) = first_round(&bind);
        let requests = result.input_requests.unwrap();
        assert!(requests.contains_key("name"));
        let responses = BTreeMap::from([("name".to_string(), accept("Ada"))]);
        let replay = open(bind, Some(&state), Some(responses)).unwrap();
        let answers = block_on(replay.ask(vec![("name".into(), elicit("Your name?"))]));
        assert_eq!(answers, vec![Ok(accept("Ada"))]);
    }

    #[test]
    fn the_hosts_questions_are_answered_only_after_they_were_asked() {
        let bind = binding("tools/call", "write", &json!({}));
        let consent = || vec![("warden.consent".to_string(), elicit("Allow?"))];
        let answer = BTreeMap::from([("warden.consent".to_string(), accept("yes"))]);
        let unasked = open(bind.clone(), None, Some(answer.clone())).unwrap();
        assert_eq!(
            block_on(unasked.ask(consent())),
            vec![Err(PeerError::Deferred)]
        );
        let Round::Ask(round) = unasked.finish().unwrap() else {
            panic!("expected a round")
        };
        let asked = open(bind, round.request_state.as_deref(), Some(answer)).unwrap();
        assert_eq!(block_on(asked.ask(consent())), vec![Ok(accept("yes"))]);
    }

    #[test]
    fn a_state_is_bound_to_its_request_and_sealed() {
        let bind = binding("tools/call", "greet", &json!({"a": 1}));
        let (_, state) = first_round(&bind);
        let other = binding("tools/call", "greet", &json!({"a": 2}));
        assert!(open(bind.as_str(), Some(&state), None).is_ok());
        assert_eq!(open(other, Some(&state), None).unwrap_err().code.0, -32602);
        let tampered = format!("{state}-TAMPERED");
        assert_eq!(
            open(bind, Some(&tampered), None).unwrap_err().code.0,
            -32602
        );
    }

    #[test]
    fn a_different_request_on_replay_fails_and_bad_answers_are_refused() {
        let bind = binding("tools/call", "greet", &json!({}));
        let (_, state) = first_round(&bind);
        let responses = BTreeMap::from([("name".to_string(), json!(12345))]);
        let replay = open(bind.clone(), Some(&state), Some(responses)).unwrap();
        let answers = block_on(replay.ask(vec![("name".into(), elicit("Your name?"))]));
        assert_eq!(answers, vec![Err(PeerError::Deferred)]);
        assert_eq!(replay.finish().unwrap_err().code.0, -32602);

        // A recorded answer only serves the same request.
        let responses = BTreeMap::from([("name".to_string(), accept("Ada"))]);
        let replay = open(bind.clone(), Some(&state), Some(responses)).unwrap();
        block_on(replay.ask(vec![("name".into(), elicit("Your name?"))]));
        let more = block_on(replay.ask(vec![("age".into(), elicit("Your age?"))]));
        assert_eq!(more, vec![Err(PeerError::Deferred)]);
        let Round::Ask(next) = replay.finish().unwrap() else {
            panic!("expected a round")
        };
        let replay = open(bind, next.request_state.as_deref(), None).unwrap();
        let changed = block_on(replay.ask(vec![("name".into(), elicit("Your NAME?"))]));
        assert!(matches!(&changed[0], Err(PeerError::Failed(m)) if m.contains("something other")));
    }
}
