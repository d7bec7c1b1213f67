//! What a tool call's outcome becomes for the client: a successful
//! `CallToolResult` (content mapped, structured content checked against the
//! output schema), or an error result whose text says what happened and
//! whose `_meta` carries a stable code a client or agent can act on
//! ([`FailureCode`], under [`ERROR_META_KEY`]).

use base64::Engine as _;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, MetaObject, ResourceContents};
use serde_json::{Value, json};

use crate::mcp::registry::{LoadedPlugin, ToolEntry};
use crate::mcp::tool_schema::SchemaValidator;
use crate::observe::{Denial, Outcome};
use crate::sandbox::{CallError, Content, ToolError, ToolOutput};

/// The `_meta` key of a failed call's code:
/// `{"code": "limit_exceeded", "limit": "fuel"}`.
pub const ERROR_META_KEY: &str = "dev.warden/error";

/// Why a call failed, as a stable code (the `code` under
/// [`ERROR_META_KEY`]). The text content says the same for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureCode {
    /// The plugin reached for a capability it was not granted (an HTTP
    /// origin, a directory, a variable); `denied` names each refusal.
    CapabilityDenied(Vec<String>),
    /// A limit stopped the call: `fuel`, `timeout`, `memory`, `stack`,
    /// `output`, `handles`, `host_memory`, `open_files`, `write`,
    /// `memory_budget` or `queue`.
    LimitExceeded(&'static str),
    /// The arguments failed the tool's schema, or the tool refused them.
    InvalidArguments,
    /// The tool ran and failed, crashed, or broke its own contract.
    PluginFailed,
    /// The client cancelled the call.
    Cancelled,
    /// The call needs the person's confirmation and the client cannot ask.
    ConsentRequired,
    /// The person did not allow the call.
    ConsentDeclined,
    /// Warden could not run the call.
    Internal,
}

impl FailureCode {
    /// The code for a call that ended with `outcome`, after the sandbox
    /// refused `denials`.
    pub fn of(outcome: Outcome, denials: &[Denial]) -> Self {
        match outcome {
            Outcome::Limit(kind) => Self::LimitExceeded(kind),
            Outcome::Cancelled => Self::Cancelled,
            Outcome::ConsentRefused => Self::ConsentRequired,
            _ if !denials.is_empty() => {
                Self::CapabilityDenied(denials.iter().map(|d| d.to_string()).collect())
            }
            Outcome::InvalidArguments => Self::InvalidArguments,
            Outcome::Internal => Self::Internal,
            Outcome::Ok
            | Outcome::ToolError
            | Outcome::Crash
            | Outcome::BadOutput
            | Outcome::InputRequired => Self::PluginFailed,
        }
    }

    /// The code's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CapabilityDenied(_) => "capability_denied",
            Self::LimitExceeded(_) => "limit_exceeded",
            Self::InvalidArguments => "invalid_arguments",
            Self::PluginFailed => "plugin_failed",
            Self::Cancelled => "cancelled",
            Self::ConsentRequired => "consent_required",
            Self::ConsentDeclined => "consent_declined",
            Self::Internal => "internal_error",
        }
    }

    fn meta(&self) -> Value {
        match self {
            Self::CapabilityDenied(denied) => json!({ "code": self.name(), "denied": denied }),
            Self::LimitExceeded(limit) => json!({ "code": self.name(), "limit": limit }),
            _ => json!({ "code": self.name() }),
        }
    }
}

/// An error result: `message` as text, `code` in `_meta`.
pub fn error_result(code: &FailureCode, message: String) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    let mut meta = JsonObject::new();
    meta.insert(ERROR_META_KEY.into(), code.meta());
    result.meta = Some(MetaObject(meta));
    result
}

/// How the sandbox's outcome classifies, before the result is mapped.
pub(crate) fn outcome_of<T>(outcome: &Result<Result<T, ToolError>, CallError>) -> Outcome {
    match outcome {
        Ok(Ok(_)) => Outcome::Ok,
        Ok(Err(ToolError::InvalidArguments(_))) => Outcome::InvalidArguments,
        Ok(Err(_)) => Outcome::ToolError,
        Err(CallError::Limit(limit)) => Outcome::Limit(limit.kind()),
        Err(CallError::Trap { .. }) => Outcome::Crash,
        Err(CallError::Cancelled) => Outcome::Cancelled,
        Err(CallError::Deferred) => Outcome::InputRequired,
        Err(CallError::Internal(_)) => Outcome::Internal,
    }
}

/// Appends the capabilities the sandbox refused during the call.
pub(crate) fn with_denials(message: String, denials: &[Denial]) -> String {
    if denials.is_empty() {
        return message;
    }
    let lines: Vec<String> = denials.iter().map(|d| format!("- {d}")).collect();
    format!("{message}\n\nThe sandbox refused:\n{}", lines.join("\n"))
}

/// Maps a successful plugin output to MCP content, checking structured
/// content against the output schema.
pub(crate) fn success(entry: &ToolEntry, output: ToolOutput) -> Result<CallToolResult, String> {
    let mut content: Vec<ContentBlock> = output
        .content
        .into_iter()
        .enumerate()
        .map(|(index, part)| {
            content_block(part, &entry.plugin, || {
                format!(
                    "warden://{}/{}/blob/{index}",
                    entry.plugin.name, entry.local_name
                )
            })
        })
        .collect();
    let structured = match output.structured {
        None => None,
        Some(text) => Some(serde_json::from_str::<Value>(&text).map_err(|e| {
            format!(
                "the plugin returned structured content that is not valid JSON ({e}); \
                 this is a bug in the plugin `{}`",
                entry.plugin.name
            )
        })?),
    };
    let output_validator = entry
        .output_validator
        .as_deref()
        .map(SchemaValidator::get)
        .transpose()
        .map_err(|error| format!("`{}` cannot be checked: {error}", entry.tool.name))?;
    if let (Some(validator), Some(value)) = (output_validator, &structured)
        && let Some(error) = validator.iter_errors(value).next()
    {
        return Err(format!(
            "the plugin returned structured content that does not match its output \
             schema ({error}); this is a bug in the plugin `{}`",
            entry.plugin.name
        ));
    }
    if entry.output_validator.is_some() && structured.is_none() {
        return Err(format!(
            "the tool declares an output schema but returned no structured content; \
             this is a bug in the plugin `{}`",
            entry.plugin.name
        ));
    }
    if content.is_empty()
        && let Some(value) = &structured
    {
        content.push(ContentBlock::text(value.to_string()));
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = structured;
    Ok(result)
}

/// A plugin's content as an MCP content block: text as text, `image/*` and
/// `audio/*` blobs as images and audio, other blobs as embedded resources at
/// the URI `uri` makes, resource links with the plugin's own URIs exposed as
/// its resources are (`http` and `https` links as they are).
pub(crate) fn content_block(
    part: Content,
    plugin: &LoadedPlugin,
    uri: impl FnOnce() -> String,
) -> ContentBlock {
    match part {
        Content::ResourceLink(link) => {
            let uri = if link.uri.starts_with("https://") || link.uri.starts_with("http://") {
                link.uri
            } else {
                plugin.expose_uri(&link.uri)
            };
            let mut resource = rmcp::model::Resource::new(uri, link.name);
            resource.title = link.title;
            resource.description = link.description;
            resource.mime_type = link.mime_type;
            resource.size = link.size;
            ContentBlock::resource_link(resource)
        }
        Content::Text(text) => ContentBlock::text(text),
        Content::Blob(blob) => {
            let data = base64::engine::general_purpose::STANDARD.encode(&blob.data);
            let mime = blob.mime_type;
            if mime.starts_with("image/") {
                ContentBlock::image(data, mime)
            } else if mime.starts_with("audio/") {
                ContentBlock::audio(data, mime)
            } else {
                ContentBlock::resource(ResourceContents::blob(data, uri()).with_mime_type(mime))
            }
        }
    }
}

pub(crate) fn tool_error_message(error: &ToolError) -> String {
    match error {
        ToolError::InvalidArguments(message) => format!("invalid arguments: {message}"),
        ToolError::Failed(message) => message.clone(),
        ToolError::UnknownTool(message) => {
            format!("the plugin does not implement this tool: {message}")
        }
    }
}

pub(crate) fn call_error_message(error: &CallError) -> String {
    match error {
        CallError::Limit(limit) => format!("the call was stopped: {limit}"),
        CallError::Cancelled => "the call was cancelled by the client".to_owned(),
        other => other.to_string(),
    }
}
