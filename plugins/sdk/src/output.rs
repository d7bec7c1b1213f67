//! Tool results: [`ToolOutput`] and [`ToolError`].

use std::fmt;

use serde::Serialize;

/// One piece of a tool's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Plain or Markdown text.
    Text(String),
    /// Binary data with its MIME type. The host sends `image/*` as MCP image
    /// content, `audio/*` as audio content and anything else as an embedded
    /// blob resource.
    Blob {
        /// The bytes.
        data: Vec<u8>,
        /// Their MIME type, e.g. `image/png` or `application/octet-stream`.
        mime_type: String,
    },
    /// A link to a resource instead of its contents.
    Link(ResourceLink),
}

/// A link to a resource: one of this plugin's own resources (any URI but
/// `http`/`https`, exposed by the host as it exposes the plugin's
/// resources, so the client can read it) or a web page.
///
/// ```
/// use warden_plugin::{ResourceLink, ToolOutput};
/// let out = ToolOutput::text("saved")
///     .and_link(ResourceLink::new("notes:///a.md", "a.md").mime_type("text/markdown"));
/// assert_eq!(out.content.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceLink {
    /// The resource's URI.
    pub uri: String,
    /// A short name (for example a file name).
    pub name: String,
    /// A human-readable title.
    pub title: Option<String>,
    /// What the resource holds.
    pub description: Option<String>,
    /// Its MIME type, when known.
    pub mime_type: Option<String>,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
}

impl ResourceLink {
    /// A link to `uri`, named `name`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the MIME type.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// Sets the size in bytes.
    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }
}

/// A successful tool result: content blocks for the model and, optionally, a
/// structured JSON object.
///
/// ```
/// use warden_plugin::ToolOutput;
/// let out = ToolOutput::text("done").and_blob(vec![0x89, b'P'], "image/png");
/// assert_eq!(out.content.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolOutput {
    /// What the client shows the model, in order.
    pub content: Vec<Content>,
    /// Structured result (`structuredContent` in MCP). Always a JSON object
    /// when set; it should match the tool's output schema when one is
    /// declared.
    pub structured: Option<serde_json::Value>,
}

impl ToolOutput {
    /// An empty result (no content, no structured value).
    pub fn empty() -> Self {
        Self::default()
    }

    /// A result with one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            content: vec![Content::Text(text.into())],
            structured: None,
        }
    }

    /// A result with one binary block of the given MIME type.
    pub fn blob(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Self {
            content: vec![Content::Blob {
                data: data.into(),
                mime_type: mime_type.into(),
            }],
            structured: None,
        }
    }

    /// A structured result: `value` serialized with serde.
    ///
    /// When the value is a JSON object it becomes the structured result
    /// (MCP requires an object there) and its compact JSON text is added as a
    /// text block for clients that do not read structured content. Any other
    /// value (an array, a string, ...) only becomes the text block.
    ///
    /// Fails with [`ToolError::Failed`] when serde cannot serialize the value
    /// (for example a map with non-string keys).
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, ToolError> {
        let value = serde_json::to_value(value)
            .map_err(|e| ToolError::failed(format!("could not serialize the result: {e}")))?;
        let text = value.to_string();
        Ok(Self {
            content: vec![Content::Text(text)],
            structured: value.is_object().then_some(value),
        })
    }

    /// Appends a text block.
    pub fn and_text(mut self, text: impl Into<String>) -> Self {
        self.content.push(Content::Text(text.into()));
        self
    }

    /// Appends a binary block of the given MIME type.
    pub fn and_blob(mut self, data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        self.content.push(Content::Blob {
            data: data.into(),
            mime_type: mime_type.into(),
        });
        self
    }

    /// Appends a resource link.
    pub fn and_link(mut self, link: ResourceLink) -> Self {
        self.content.push(Content::Link(link));
        self
    }

    /// All text blocks joined with newlines (handy in tests).
    pub fn text_content(&self) -> String {
        self.content
            .iter()
            .filter_map(|c| match c {
                Content::Text(t) => Some(t.as_str()),
                Content::Blob { .. } | Content::Link(_) => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Why a tool call failed. The host turns every variant into an MCP result
/// with `isError: true` and the message, so write messages a person (or a
/// model) can act on: say what was wrong and what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The arguments passed the schema but cannot be used (an unknown time
    /// zone, a malformed query, ...).
    InvalidArguments(String),
    /// The tool ran and could not do its job.
    Failed(String),
    /// The plugin has no tool with this name. Produced by the SDK.
    UnknownTool(String),
}

impl ToolError {
    /// The arguments cannot be used; `message` says why and what would work.
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        Self::InvalidArguments(message.into())
    }

    /// The tool could not do its job.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidArguments(m) | Self::Failed(m) | Self::UnknownTool(m) => m,
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::InvalidArguments(_) => "invalid arguments",
            Self::Failed(_) => "failed",
            Self::UnknownTool(_) => "unknown tool",
        };
        write!(f, "{kind}: {}", self.message())
    }
}

impl std::error::Error for ToolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_object_sets_structured_and_text() {
        #[derive(Serialize)]
        struct Out {
            a: u32,
        }
        let out = ToolOutput::json(&Out { a: 1 }).unwrap();
        assert_eq!(out.structured, Some(serde_json::json!({"a": 1})));
        assert_eq!(out.text_content(), r#"{"a":1}"#);
    }

    #[test]
    fn json_non_object_is_text_only() {
        let out = ToolOutput::json(&[1, 2]).unwrap();
        assert_eq!(out.structured, None);
        assert_eq!(out.text_content(), "[1,2]");
    }

    #[test]
    fn json_serialization_error_is_failed() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let err = ToolOutput::json(&map).unwrap_err();
        assert!(matches!(err, ToolError::Failed(_)), "{err:?}");
    }

    #[test]
    fn builders_append() {
        let out = ToolOutput::text("a").and_text("b").and_blob(vec![1], "x/y");
        assert_eq!(out.content.len(), 3);
        assert_eq!(out.text_content(), "a\nb");
        assert_eq!(ToolOutput::empty().content, vec![]);
    }

    #[test]
    fn error_display() {
        assert_eq!(
            ToolError::invalid_arguments("bad zone").to_string(),
            "invalid arguments: bad zone"
        );
        assert_eq!(ToolError::failed("x").message(), "x");
    }
}
