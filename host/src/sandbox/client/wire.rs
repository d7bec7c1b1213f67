//! The `client` import's requests and answers in MCP's wire format: built
//! from what the plugin passed (checked, and capped at
//! [`MAX_EXCHANGE_BYTES`]), and read back from what the client answered.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use super::{ClientMethod, ClientRequest, MAX_EXCHANGE_BYTES};
use crate::sandbox::bindings::client::{
    ClientError, ElicitationRequest, ElicitationResponse, Role, Root, SamplingRequest,
    SamplingResponse,
};
use crate::sandbox::bindings::{Blob, Content};

fn failed(message: impl Into<String>) -> ClientError {
    ClientError::Failed(message.into())
}

/// Fails when `size` bytes are more than a request may carry.
fn within_cap(size: usize, what: &str) -> Result<(), ClientError> {
    if size > MAX_EXCHANGE_BYTES {
        return Err(failed(format!(
            "the {what} is {size} bytes; at most {MAX_EXCHANGE_BYTES} may be sent to the client"
        )));
    }
    Ok(())
}

fn role(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// A content block of a sampling message: text, an image or audio.
fn sampling_content(content: &Content) -> Result<Value, ClientError> {
    match content {
        Content::Text(text) => Ok(json!({ "type": "text", "text": text })),
        Content::Blob(Blob { data, mime_type }) => {
            let kind = match mime_type.split('/').next() {
                Some("image") => "image",
                Some("audio") => "audio",
                _ => {
                    return Err(failed(format!(
                        "a sampling message can hold text, images or audio, not {mime_type:?}"
                    )));
                }
            };
            Ok(json!({ "type": kind, "data": BASE64.encode(data), "mimeType": mime_type }))
        }
        Content::ResourceLink(_) => Err(failed(
            "a sampling message can hold text, images or audio, not a resource link",
        )),
    }
}

fn priority(value: Option<f64>, name: &str) -> Result<Option<f64>, ClientError> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) => Err(failed(format!(
            "model-preferences.{name} is {v}; it must be from 0 to 1"
        ))),
        other => Ok(other),
    }
}

/// `sampling/createMessage` params.
pub(super) fn sampling_request(request: &SamplingRequest) -> Result<ClientRequest, ClientError> {
    if request.messages.is_empty() {
        return Err(failed("a sampling request needs at least one message"));
    }
    if request.max_tokens == 0 {
        return Err(failed("a sampling request's max-tokens must be at least 1"));
    }
    let size: usize = request
        .messages
        .iter()
        .map(|m| crate::sandbox::content_size(&m.content))
        .sum::<usize>()
        + request.system_prompt.as_ref().map_or(0, String::len)
        + request
            .stop_sequences
            .iter()
            .map(String::len)
            .sum::<usize>();
    within_cap(size, "sampling request")?;
    let messages = request
        .messages
        .iter()
        .map(|m| Ok(json!({ "role": role(m.role), "content": sampling_content(&m.content)? })))
        .collect::<Result<Vec<_>, ClientError>>()?;
    let mut params = Map::new();
    params.insert("messages".into(), Value::Array(messages));
    params.insert("maxTokens".into(), json!(request.max_tokens));
    if let Some(prompt) = &request.system_prompt {
        params.insert("systemPrompt".into(), json!(prompt));
    }
    if let Some(t) = request.temperature {
        if !t.is_finite() || t < 0.0 {
            return Err(failed(format!(
                "temperature {t} is not a usable temperature"
            )));
        }
        params.insert("temperature".into(), json!(t));
    }
    if !request.stop_sequences.is_empty() {
        params.insert("stopSequences".into(), json!(request.stop_sequences));
    }
    if let Some(p) = &request.model_preferences {
        let mut prefs = Map::new();
        if !p.hints.is_empty() {
            let hints: Vec<Value> = p.hints.iter().map(|h| json!({ "name": h })).collect();
            prefs.insert("hints".into(), Value::Array(hints));
        }
        for (key, value) in [
            ("costPriority", priority(p.cost_priority, "cost-priority")?),
            (
                "speedPriority",
                priority(p.speed_priority, "speed-priority")?,
            ),
            (
                "intelligencePriority",
                priority(p.intelligence_priority, "intelligence-priority")?,
            ),
        ] {
            if let Some(v) = value {
                prefs.insert(key.into(), json!(v));
            }
        }
        params.insert("modelPreferences".into(), Value::Object(prefs));
    }
    Ok(ClientRequest {
        method: ClientMethod::CreateMessage,
        params: Value::Object(params),
    })
}

/// `elicitation/create` params, form or URL mode.
pub(super) fn elicitation_request(
    request: &ElicitationRequest,
) -> Result<ClientRequest, ClientError> {
    let params = match request {
        ElicitationRequest::Form(form) => {
            within_cap(
                form.message.len() + form.requested_schema.len(),
                "elicitation request",
            )?;
            let schema: Value = serde_json::from_str(&form.requested_schema)
                .map_err(|e| failed(format!("requested-schema is not JSON: {e}")))?;
            let is_object = schema.get("type").and_then(Value::as_str) == Some("object");
            if !is_object || !schema.get("properties").is_some_and(Value::is_object) {
                return Err(failed(
                    "requested-schema must be a JSON Schema object: \
                     {\"type\": \"object\", \"properties\": {...}}",
                ));
            }
            json!({ "mode": "form", "message": form.message, "requestedSchema": schema })
        }
        ElicitationRequest::Url(page) => {
            within_cap(page.message.len() + page.url.len(), "elicitation request")?;
            let uri: http::Uri = page
                .url
                .parse()
                .map_err(|e| failed(format!("{:?} is not a URL: {e}", page.url)))?;
            if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.authority().is_none() {
                return Err(failed(format!(
                    "{:?} is not an absolute http or https URL",
                    page.url
                )));
            }
            json!({
                "mode": "url",
                "message": page.message,
                "url": page.url,
                "elicitationId": elicitation_id(),
            })
        }
    };
    Ok(ClientRequest {
        method: ClientMethod::Elicit,
        params,
    })
}

/// A fresh id for a URL elicitation: unique in this process and across
/// restarts (not a secret).
fn elicitation_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos()) as u64;
    format!("{nanos:016x}{:08x}{count:08x}", std::process::id())
}

/// Fails when the client's answer is larger than a plugin may be handed.
fn answer_within_cap(answer: &Value) -> Result<(), ClientError> {
    let size = serde_json::to_vec(answer).map_or(usize::MAX, |v| v.len());
    if size > MAX_EXCHANGE_BYTES {
        return Err(failed(format!(
            "the client's answer is {size} bytes; at most {MAX_EXCHANGE_BYTES} are accepted"
        )));
    }
    Ok(())
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// One content block of the model's answer.
fn answer_content(block: &Value) -> Result<Content, ClientError> {
    match str_field(block, "type") {
        Some("text") => Ok(Content::Text(
            str_field(block, "text").unwrap_or_default().to_string(),
        )),
        Some("image" | "audio") => {
            let data = BASE64
                .decode(str_field(block, "data").unwrap_or_default())
                .map_err(|e| failed(format!("the client's answer holds bad base64 data: {e}")))?;
            Ok(Content::Blob(Blob {
                data,
                mime_type: str_field(block, "mimeType")
                    .unwrap_or("application/octet-stream")
                    .to_string(),
            }))
        }
        other => Err(failed(format!(
            "the client answered with {} content, which a plugin cannot be handed",
            other.unwrap_or("untyped")
        ))),
    }
}

/// A `sampling/createMessage` result.
pub(super) fn sampling_response(answer: Value) -> Result<SamplingResponse, ClientError> {
    answer_within_cap(&answer)?;
    let content = match answer.get("content") {
        Some(Value::Array(blocks)) => match blocks.as_slice() {
            [one] => answer_content(one)?,
            _ => {
                return Err(failed(format!(
                    "the client answered with {} content blocks; a plugin takes one",
                    blocks.len()
                )));
            }
        },
        Some(block) => answer_content(block)?,
        None => return Err(failed("the client's answer has no content")),
    };
    Ok(SamplingResponse {
        role: match str_field(&answer, "role") {
            Some("user") => Role::User,
            _ => Role::Assistant,
        },
        content,
        model: str_field(&answer, "model").unwrap_or_default().to_string(),
        stop_reason: str_field(&answer, "stopReason").map(str::to_string),
    })
}

/// An `elicitation/create` result.
pub(super) fn elicitation_response(answer: Value) -> Result<ElicitationResponse, ClientError> {
    answer_within_cap(&answer)?;
    match str_field(&answer, "action") {
        Some("accept") => Ok(ElicitationResponse::Accept(
            answer
                .get("content")
                .filter(|c| !c.is_null())
                .map(Value::to_string),
        )),
        Some("decline") => Ok(ElicitationResponse::Decline),
        Some("cancel") => Ok(ElicitationResponse::Cancel),
        other => Err(failed(format!(
            "the client answered with the unknown elicitation action {other:?}"
        ))),
    }
}

/// A `roots/list` result.
pub(super) fn roots(answer: Value) -> Result<Vec<Root>, ClientError> {
    answer_within_cap(&answer)?;
    let Some(Value::Array(roots)) = answer.get("roots") else {
        return Err(failed("the client's roots/list answer has no roots"));
    };
    roots
        .iter()
        .map(|root| {
            let uri = str_field(root, "uri")
                .ok_or_else(|| failed("a root in the client's answer has no uri"))?;
            Ok(Root {
                uri: uri.to_string(),
                name: str_field(root, "name").map(str::to_string),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::bindings::client::{FormRequest, Message, ModelPreferences, UrlRequest};

    fn text(role: Role, text: &str) -> Message {
        Message {
            role,
            content: Content::Text(text.into()),
        }
    }

    #[test]
    fn sampling_requests_in_mcp_form() {
        let request = SamplingRequest {
            messages: vec![text(Role::User, "hi")],
            system_prompt: Some("be brief".into()),
            model_preferences: Some(ModelPreferences {
                hints: vec!["claude".into()],
                cost_priority: Some(0.5),
                speed_priority: None,
                intelligence_priority: None,
            }),
            max_tokens: 100,
            temperature: None,
            stop_sequences: vec![],
        };
        let built = sampling_request(&request).unwrap();
        assert_eq!(built.method, ClientMethod::CreateMessage);
        assert_eq!(
            built.params,
            json!({
                "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
                "maxTokens": 100,
                "systemPrompt": "be brief",
                "modelPreferences": {"hints": [{"name": "claude"}], "costPriority": 0.5},
            })
        );
        let bad = [
            SamplingRequest {
                messages: vec![],
                ..request.clone()
            },
            SamplingRequest {
                max_tokens: 0,
                ..request.clone()
            },
            SamplingRequest {
                messages: vec![text(Role::User, &"x".repeat(MAX_EXCHANGE_BYTES + 1))],
                ..request.clone()
            },
            SamplingRequest {
                messages: vec![Message {
                    role: Role::User,
                    content: Content::Blob(Blob {
                        data: vec![1],
                        mime_type: "application/pdf".into(),
                    }),
                }],
                ..request.clone()
            },
            SamplingRequest {
                temperature: Some(f64::NAN),
                ..request.clone()
            },
        ];
        for request in bad {
            assert!(matches!(
                sampling_request(&request),
                Err(ClientError::Failed(_))
            ));
        }
    }

    #[test]
    fn elicitation_requests_are_checked() {
        let form = |schema: &str| {
            elicitation_request(&ElicitationRequest::Form(FormRequest {
                message: "name?".into(),
                requested_schema: schema.into(),
            }))
        };
        let ok = form(r#"{"type":"object","properties":{"name":{"type":"string"}}}"#).unwrap();
        assert_eq!(ok.params["mode"], "form");
        assert_eq!(
            ok.params["requestedSchema"]["properties"]["name"]["type"],
            "string"
        );
        for bad in ["", "[]", r#"{"type":"string"}"#, r#"{"type":"object"}"#] {
            assert!(form(bad).is_err(), "{bad:?}");
        }
        let url = |url: &str| {
            elicitation_request(&ElicitationRequest::Url(UrlRequest {
                message: "sign in".into(),
                url: url.into(),
            }))
        };
        let ok = url("https://example.com/login").unwrap();
        assert_eq!(ok.params["mode"], "url");
        assert_eq!(ok.params["elicitationId"].as_str().unwrap().len(), 32);
        assert_ne!(
            url("https://example.com/").unwrap().params["elicitationId"],
            ok.params["elicitationId"]
        );
        for bad in ["", "/login", "file:///etc/passwd", "javascript:alert(1)"] {
            assert!(url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answers_are_read_and_capped() {
        let answer = sampling_response(json!({
            "role": "assistant",
            "content": {"type": "text", "text": "4"},
            "model": "m",
            "stopReason": "endTurn",
        }))
        .unwrap();
        assert_eq!(answer.content, Content::Text("4".into()));
        assert_eq!(answer.model, "m");
        assert_eq!(answer.stop_reason.as_deref(), Some("endTurn"));
        let image = sampling_response(json!({
            "role": "assistant",
            "content": [{"type": "image", "data": "AQI=", "mimeType": "image/png"}],
            "model": "m",
        }))
        .unwrap();
        assert_eq!(
            image.content,
            Content::Blob(Blob {
                data: vec![1, 2],
                mime_type: "image/png".into()
            })
        );
        let huge = json!({
            "role": "assistant",
            "content": {"type": "text", "text": "x".repeat(MAX_EXCHANGE_BYTES)},
            "model": "m",
        });
        assert!(sampling_response(huge).is_err());
        assert!(sampling_response(json!({"content": {"type": "tool_use"}})).is_err());

        assert_eq!(
            elicitation_response(json!({"action": "accept", "content": {"a": 1}})).unwrap(),
            ElicitationResponse::Accept(Some(r#"{"a":1}"#.into()))
        );
        assert_eq!(
            elicitation_response(json!({"action": "decline"})).unwrap(),
            ElicitationResponse::Decline
        );
        assert!(elicitation_response(json!({"action": "maybe"})).is_err());

        let listed = roots(json!({"roots": [{"uri": "file:///work", "name": "work"}]})).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name.as_deref(), Some("work"));
        assert!(roots(json!({})).is_err());
    }
}
