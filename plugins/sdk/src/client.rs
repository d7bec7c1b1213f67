//! Requests to the MCP client during a tool call: ask its model
//! ([`sample`], [`ask_model`]), ask the person ([`elicit`],
//! [`elicit_url`]), list its roots ([`roots`]).
//!
//! Each feature is a capability: request it in the plugin's manifest
//! (`client = ["sampling", "elicitation", "roots"]` under `[capabilities]`)
//! and declare it on the tools that need it ([`Tool::requires`]); the host
//! refuses calls to those tools from clients that lack it. Every function
//! returns a [`ClientError`] instead of hanging: when the plugin was not
//! granted the feature, the client did not declare it, or a per-call limit
//! (`max_client_requests`, `max_sampling_tokens`, `client_wait`) is reached.
//! A `ClientError` converts into a [`ToolError`] with `?`.
//!
//! Clients on MCP 2026-07-28 cannot be asked during a call yet (requests
//! return [`ClientError::Unsupported`]); the planned support runs a tool
//! again from the start with the client's recorded answers, so ask before
//! changing anything, and ask the same things in the same order for the same
//! arguments.
//!
//! Outside `wasm32` (native unit tests) every function returns
//! [`ClientError::Unsupported`].
//!
//! [`Tool::requires`]: crate::Tool::requires

use std::fmt;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::output::{Content, ToolError};
use crate::prompt::Role;

/// A feature of the MCP client a plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientFeature {
    /// Asking the client's model for a completion ([`sample`]).
    Sampling,
    /// Asking the person for input ([`elicit`], [`elicit_url`]).
    Elicitation,
    /// Listing the client's roots ([`roots`]).
    Roots,
}

/// Why a request to the client got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The client did not declare the feature (or this elicitation mode), or
    /// no client can be asked here.
    Unsupported(String),
    /// The plugin was not granted the feature.
    Denied(String),
    /// A per-call limit was reached.
    LimitExceeded(String),
    /// The request was malformed, or the client answered with an error.
    Failed(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Unsupported(m) => write!(f, "the client cannot be asked: {m}"),
            ClientError::Denied(m) => write!(f, "asking the client was denied: {m}"),
            ClientError::LimitExceeded(m) => write!(f, "asking the client hit a limit: {m}"),
            ClientError::Failed(m) => write!(f, "asking the client failed: {m}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<ClientError> for ToolError {
    fn from(error: ClientError) -> Self {
        ToolError::failed(error.to_string())
    }
}

/// A request for one completion by the client's model.
///
/// ```
/// use warden_plugin::client::Sampling;
/// let request = Sampling::new(200)
///     .system("Answer in one word.")
///     .user("What colour is the sky?")
///     .hint("claude");
/// # let _ = request;
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sampling {
    /// The conversation, oldest first.
    pub messages: Vec<(Role, Content)>,
    /// A system prompt.
    pub system_prompt: Option<String>,
    /// The most tokens to generate (counts against `max_sampling_tokens`).
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Sequences that end generation.
    pub stop_sequences: Vec<String>,
    /// Model names or families, most preferred first.
    pub model_hints: Vec<String>,
    /// From 0 to 1: how much cost matters.
    pub cost_priority: Option<f64>,
    /// From 0 to 1: how much speed matters.
    pub speed_priority: Option<f64>,
    /// From 0 to 1: how much capability matters.
    pub intelligence_priority: Option<f64>,
}

impl Sampling {
    /// An empty conversation answered with at most `max_tokens` tokens.
    pub fn new(max_tokens: u32) -> Self {
        Self {
            max_tokens,
            ..Self::default()
        }
    }

    /// Appends a user message.
    pub fn user(mut self, text: impl Into<String>) -> Self {
        self.messages.push((Role::User, Content::Text(text.into())));
        self
    }

    /// Appends an assistant message.
    pub fn assistant(mut self, text: impl Into<String>) -> Self {
        self.messages
            .push((Role::Assistant, Content::Text(text.into())));
        self
    }

    /// Appends a message with any content (text, or an image or audio blob).
    pub fn message(mut self, role: Role, content: Content) -> Self {
        self.messages.push((role, content));
        self
    }

    /// Sets the system prompt.
    pub fn system(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(prompt.into());
        self
    }

    /// Sets the temperature.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Adds a model hint.
    pub fn hint(mut self, model: impl Into<String>) -> Self {
        self.model_hints.push(model.into());
        self
    }
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// Text, or an image or audio blob.
    pub content: Content,
    /// The model that answered.
    pub model: String,
    /// Why it stopped (`endTurn`, `maxTokens`, ...).
    pub stop_reason: Option<String>,
}

impl Sampled {
    /// The answer's text, when it is text.
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// The person's answer to an elicitation.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    /// Accepted, with what they entered.
    Accept(T),
    /// Explicitly declined.
    Decline,
    /// Dismissed without choosing.
    Cancel,
}

/// One root of the client (a folder or project it works in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// A `file://` URI.
    pub uri: String,
    /// Its name, when the client gives one.
    pub name: Option<String>,
}

/// Asks the client's model for a completion.
pub fn sample(request: &Sampling) -> Result<Sampled, ClientError> {
    imp::sample(request)
}

/// Asks the client's model `prompt` (one user message) and returns its text
/// answer.
pub fn ask_model(prompt: &str, max_tokens: u32) -> Result<String, ClientError> {
    let answer = sample(&Sampling::new(max_tokens).user(prompt))?;
    match answer.content {
        Content::Text(text) => Ok(text),
        _ => Err(ClientError::Failed(
            "the model answered with something other than text".into(),
        )),
    }
}

/// Asks the person to fill in a form for `T` (a struct of strings, numbers,
/// booleans and enums, as MCP restricts elicitation schemas), shown with
/// `message`; an accepted form is deserialized into `T`.
pub fn elicit<T: DeserializeOwned + JsonSchema>(message: &str) -> Result<Answer<T>, ClientError> {
    let schema = crate::schema::object_schema_for::<T>()
        .map_err(|e| ClientError::Failed(format!("the form's schema: {e}")))?;
    match elicit_with_schema(message, &schema)? {
        Answer::Accept(value) => serde_json::from_value(value)
            .map(Answer::Accept)
            .map_err(|e| ClientError::Failed(format!("the person's answer does not fit: {e}"))),
        Answer::Decline => Ok(Answer::Decline),
        Answer::Cancel => Ok(Answer::Cancel),
    }
}

/// Asks the person to fill in a form described by `schema` (a JSON Schema
/// document for an object); an accepted form is its JSON object.
pub fn elicit_with_schema(
    message: &str,
    schema: &str,
) -> Result<Answer<serde_json::Value>, ClientError> {
    imp::elicit_form(message, schema)
}

/// Asks the person to visit `url` (an `https` page: a sign-in, a payment);
/// `Accept` means they agreed to go, not that they finished there.
pub fn elicit_url(message: &str, url: &str) -> Result<Answer<()>, ClientError> {
    imp::elicit_url(message, url)
}

/// Lists the client's roots.
pub fn roots() -> Result<Vec<Root>, ClientError> {
    imp::roots()
}

/// One request of a batch sent with [`ask_all`].
#[derive(Debug, Clone)]
pub enum Request {
    /// A completion by the client's model.
    Sample(Sampling),
    /// A form for the person: `schema` is a JSON Schema document for an
    /// object.
    Form {
        /// What is asked and why.
        message: String,
        /// The form's JSON Schema.
        schema: String,
    },
    /// A page for the person to visit.
    Url {
        /// Why.
        message: String,
        /// An absolute `https` URL.
        url: String,
    },
    /// The client's roots.
    Roots,
}

impl Request {
    /// A form described by `schema`, shown with `message`.
    pub fn form(message: impl Into<String>, schema: impl Into<String>) -> Self {
        Request::Form {
            message: message.into(),
            schema: schema.into(),
        }
    }
}

/// The answer to one request of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The model's answer.
    Sampled(Sampled),
    /// The person's answer to a form (its JSON object) or a URL (`null`).
    Elicited(Answer<serde_json::Value>),
    /// The client's roots.
    Roots(Vec<Root>),
}

/// Asks several things at once, each under a key of yours (1 to 64 letters,
/// digits, `_`, `-` or `.`, unique in the batch); the answers come back in
/// order. On MCP 2026-07-28 the batch is one `input_required` round: the
/// call runs again from the start with the answers, so ask before acting,
/// and ask the same things for the same arguments.
pub fn ask_all(requests: &[(&str, Request)]) -> Vec<Result<Reply, ClientError>> {
    imp::ask_all(requests)
}

/// The WIT form of a feature, for `list-tools`.
#[doc(hidden)]
pub fn to_wit(feature: ClientFeature) -> crate::__bindings::warden::plugin::types::ClientFeature {
    use crate::__bindings::warden::plugin::types::ClientFeature as Wit;
    match feature {
        ClientFeature::Sampling => Wit::Sampling,
        ClientFeature::Elicitation => Wit::Elicitation,
        ClientFeature::Roots => Wit::Roots,
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{Answer, ClientError, Root, Sampled, Sampling};
    use crate::__bindings::warden::plugin::client as wit;
    use crate::__bindings::warden::plugin::types;
    use crate::output::Content;
    use crate::prompt::Role;

    fn error(e: wit::ClientError) -> ClientError {
        match e {
            wit::ClientError::Unsupported(m) => ClientError::Unsupported(m),
            wit::ClientError::Denied(m) => ClientError::Denied(m),
            wit::ClientError::LimitExceeded(m) => ClientError::LimitExceeded(m),
            wit::ClientError::Failed(m) => ClientError::Failed(m),
        }
    }

    fn content_to_wit(content: &Content) -> types::Content {
        match content {
            Content::Text(text) => types::Content::Text(text.clone()),
            Content::Blob { data, mime_type } => types::Content::Blob(types::Blob {
                data: data.clone(),
                mime_type: mime_type.clone(),
            }),
            Content::Link(link) => types::Content::ResourceLink(types::ResourceLink {
                uri: link.uri.clone(),
                name: link.name.clone(),
                title: link.title.clone(),
                description: link.description.clone(),
                mime_type: link.mime_type.clone(),
                size: link.size,
            }),
        }
    }

    fn content_from_wit(content: types::Content) -> Content {
        match content {
            types::Content::Text(text) => Content::Text(text),
            types::Content::Blob(b) => Content::Blob {
                data: b.data,
                mime_type: b.mime_type,
            },
            types::Content::ResourceLink(l) => Content::Link(crate::ResourceLink {
                uri: l.uri,
                name: l.name,
                title: l.title,
                description: l.description,
                mime_type: l.mime_type,
                size: l.size,
            }),
        }
    }

    fn sampling_to_wit(request: &Sampling) -> wit::SamplingRequest {
        let messages = request
            .messages
            .iter()
            .map(|(role, content)| wit::Message {
                role: match role {
                    Role::User => wit::Role::User,
                    Role::Assistant => wit::Role::Assistant,
                },
                content: content_to_wit(content),
            })
            .collect();
        let has_preferences = !request.model_hints.is_empty()
            || request.cost_priority.is_some()
            || request.speed_priority.is_some()
            || request.intelligence_priority.is_some();
        wit::SamplingRequest {
            messages,
            system_prompt: request.system_prompt.clone(),
            model_preferences: has_preferences.then(|| wit::ModelPreferences {
                hints: request.model_hints.clone(),
                cost_priority: request.cost_priority,
                speed_priority: request.speed_priority,
                intelligence_priority: request.intelligence_priority,
            }),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            stop_sequences: request.stop_sequences.clone(),
        }
    }

    fn sampled(answer: wit::SamplingResponse) -> Sampled {
        Sampled {
            content: content_from_wit(answer.content),
            model: answer.model,
            stop_reason: answer.stop_reason,
        }
    }

    pub(super) fn sample(request: &Sampling) -> Result<Sampled, ClientError> {
        let answer = wit::sample(&sampling_to_wit(request)).map_err(error)?;
        Ok(sampled(answer))
    }

    fn form_answer(
        response: wit::ElicitationResponse,
    ) -> Result<Answer<serde_json::Value>, ClientError> {
        Ok(match answer(response)? {
            Answer::Accept(content) => Answer::Accept(match content {
                Some(text) => serde_json::from_str(&text).map_err(|e| {
                    ClientError::Failed(format!("the person's answer is not JSON: {e}"))
                })?,
                None => serde_json::Value::Object(Default::default()),
            }),
            Answer::Decline => Answer::Decline,
            Answer::Cancel => Answer::Cancel,
        })
    }

    pub(super) fn ask_all(
        requests: &[(&str, super::Request)],
    ) -> Vec<Result<super::Reply, ClientError>> {
        use super::{Reply, Request};
        let batch: Vec<(String, wit::Request)> = requests
            .iter()
            .map(|(key, request)| {
                let request = match request {
                    Request::Sample(sampling) => wit::Request::Sample(sampling_to_wit(sampling)),
                    Request::Form { message, schema } => {
                        wit::Request::Elicit(wit::ElicitationRequest::Form(wit::FormRequest {
                            message: message.clone(),
                            requested_schema: schema.clone(),
                        }))
                    }
                    Request::Url { message, url } => {
                        wit::Request::Elicit(wit::ElicitationRequest::Url(wit::UrlRequest {
                            message: message.clone(),
                            url: url.clone(),
                        }))
                    }
                    Request::Roots => wit::Request::ListRoots,
                };
                (key.to_string(), request)
            })
            .collect();
        wit::ask(&batch)
            .into_iter()
            .map(|answer| match answer.map_err(error)? {
                wit::Answer::Sampled(answer) => Ok(Reply::Sampled(sampled(answer))),
                wit::Answer::Elicited(response) => form_answer(response).map(Reply::Elicited),
                wit::Answer::Roots(roots) => Ok(Reply::Roots(
                    roots
                        .into_iter()
                        .map(|r| Root {
                            uri: r.uri,
                            name: r.name,
                        })
                        .collect(),
                )),
            })
            .collect()
    }

    fn answer(response: wit::ElicitationResponse) -> Result<Answer<Option<String>>, ClientError> {
        Ok(match response {
            wit::ElicitationResponse::Accept(content) => Answer::Accept(content),
            wit::ElicitationResponse::Decline => Answer::Decline,
            wit::ElicitationResponse::Cancel => Answer::Cancel,
        })
    }

    pub(super) fn elicit_form(
        message: &str,
        schema: &str,
    ) -> Result<Answer<serde_json::Value>, ClientError> {
        let response = wit::elicit(&wit::ElicitationRequest::Form(wit::FormRequest {
            message: message.to_string(),
            requested_schema: schema.to_string(),
        }))
        .map_err(error)?;
        form_answer(response)
    }

    pub(super) fn elicit_url(message: &str, url: &str) -> Result<Answer<()>, ClientError> {
        let response = wit::elicit(&wit::ElicitationRequest::Url(wit::UrlRequest {
            message: message.to_string(),
            url: url.to_string(),
        }))
        .map_err(error)?;
        Ok(match answer(response)? {
            Answer::Accept(_) => Answer::Accept(()),
            Answer::Decline => Answer::Decline,
            Answer::Cancel => Answer::Cancel,
        })
    }

    pub(super) fn roots() -> Result<Vec<Root>, ClientError> {
        Ok(wit::list_roots()
            .map_err(error)?
            .into_iter()
            .map(|r| Root {
                uri: r.uri,
                name: r.name,
            })
            .collect())
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Answer, ClientError, Root, Sampled, Sampling};

    fn unsupported<T>() -> Result<T, ClientError> {
        Err(ClientError::Unsupported(
            "not running in Warden: the MCP client can only be asked from a component".into(),
        ))
    }

    pub(super) fn sample(_request: &Sampling) -> Result<Sampled, ClientError> {
        unsupported()
    }

    pub(super) fn elicit_form(
        _message: &str,
        _schema: &str,
    ) -> Result<Answer<serde_json::Value>, ClientError> {
        unsupported()
    }

    pub(super) fn elicit_url(_message: &str, _url: &str) -> Result<Answer<()>, ClientError> {
        unsupported()
    }

    pub(super) fn roots() -> Result<Vec<Root>, ClientError> {
        unsupported()
    }

    pub(super) fn ask_all(
        requests: &[(&str, super::Request)],
    ) -> Vec<Result<super::Reply, ClientError>> {
        requests.iter().map(|_| unsupported()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_become_tool_failures() {
        let error: ToolError = ClientError::Denied("no grant".into()).into();
        assert_eq!(
            error,
            ToolError::Failed("asking the client was denied: no grant".into())
        );
        assert!(matches!(
            ask_model("hi", 10),
            Err(ClientError::Unsupported(_))
        ));
    }
}
