//! Prompts: [`Prompt`], a typed function that fills in messages, and what it
//! returns.

use std::collections::HashSet;
use std::fmt;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::completion::{Arguments, Completers, Completion};
use crate::output::Content;
use crate::schema::object_schema_for;

/// Who speaks a prompt message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user.
    User,
    /// The assistant.
    Assistant,
}

/// One message of a filled-in prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptMessage {
    /// Who speaks it.
    pub role: Role,
    /// What it says.
    pub content: Content,
}

/// A filled-in prompt: messages for the model, optionally with a
/// description.
///
/// ```
/// use warden_plugin::PromptOutput;
/// let out = PromptOutput::user("Summarize this:").and_user("...document...");
/// assert_eq!(out.messages.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromptOutput {
    /// A description of the filled-in prompt.
    pub description: Option<String>,
    /// The messages, in order.
    pub messages: Vec<PromptMessage>,
}

impl PromptOutput {
    /// One user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::default().and_user(text)
    }

    /// Appends a user message.
    pub fn and_user(mut self, text: impl Into<String>) -> Self {
        self.messages.push(PromptMessage {
            role: Role::User,
            content: Content::Text(text.into()),
        });
        self
    }

    /// Appends an assistant message.
    pub fn and_assistant(mut self, text: impl Into<String>) -> Self {
        self.messages.push(PromptMessage {
            role: Role::Assistant,
            content: Content::Text(text.into()),
        });
        self
    }

    /// Appends a message with any content (for example a blob).
    pub fn and_message(mut self, role: Role, content: Content) -> Self {
        self.messages.push(PromptMessage { role, content });
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// Why a prompt could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptError {
    /// The arguments cannot be used.
    InvalidArguments(String),
    /// The prompt could not be filled in (a file could not be read, ...).
    Failed(String),
    /// The plugin has no prompt with this name. Produced by the SDK.
    UnknownPrompt(String),
}

impl PromptError {
    /// The arguments cannot be used; `message` says why and what would work.
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        Self::InvalidArguments(message.into())
    }

    /// The prompt could not be filled in.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

impl fmt::Display for PromptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidArguments(m) => write!(f, "invalid arguments: {m}"),
            Self::Failed(m) => write!(f, "failed: {m}"),
            Self::UnknownPrompt(m) => write!(f, "unknown prompt: {m}"),
        }
    }
}

impl std::error::Error for PromptError {}

/// One argument of a prompt, as `list-prompts` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptArgument {
    /// The argument's name.
    pub name: String,
    /// Its title (from `#[schemars(title = "...")]`).
    pub title: Option<String>,
    /// Its description (from the field's doc comment).
    pub description: Option<String>,
    /// Whether it must be given (a field that is not `Option` and has no
    /// `#[serde(default)]`).
    pub required: bool,
}

/// What `list-prompts` reports for one prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptDescriptor {
    /// The prompt's name.
    pub name: String,
    /// A short human-readable title.
    pub title: Option<String>,
    /// What the prompt is for.
    pub description: Option<String>,
    /// Its arguments.
    pub arguments: Vec<PromptArgument>,
}

type Handler = Box<dyn Fn(&str, &Arguments) -> Result<PromptOutput, PromptError>>;
type ArgumentsFn = fn() -> Result<Vec<PromptArgument>, String>;

/// One prompt: a name, a description and a handler whose argument type
/// declares the prompt's arguments.
///
/// The argument type is a struct of `String` (required) and `Option<String>`
/// (optional) fields; doc comments become the arguments' descriptions. MCP
/// prompt arguments are strings.
///
/// ```
/// use warden_plugin::{Deserialize, JsonSchema, Prompt, PromptOutput};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct ReviewArgs {
///     /// The unified diff to review.
///     diff: String,
///     /// What to focus on, such as "security".
///     focus: Option<String>,
/// }
///
/// let prompt = Prompt::new("review_diff", "Review a diff", |args: ReviewArgs| {
///     let focus = args.focus.unwrap_or_else(|| "correctness".into());
///     Ok(PromptOutput::user(format!("Review for {focus}:\n{}", args.diff)))
/// })
/// .complete("focus", |typed, _| {
///     warden_plugin::complete_from(["correctness", "security", "style"], typed)
/// });
/// # let _ = prompt;
/// ```
pub struct Prompt {
    name: String,
    title: Option<String>,
    description: String,
    arguments: ArgumentsFn,
    handler: Handler,
    completers: Completers,
}

impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("name", &self.name)
            .field("title", &self.title)
            .field("description", &self.description)
            .field("completers", &self.completers)
            .finish_non_exhaustive()
    }
}

impl Prompt {
    /// A prompt named `name` (`[a-zA-Z0-9_-]`, 1 to 64 bytes) filled in by
    /// `handler` with its arguments deserialized into `A`.
    pub fn new<A, F>(name: impl Into<String>, description: impl Into<String>, handler: F) -> Self
    where
        A: DeserializeOwned + JsonSchema,
        F: Fn(A) -> Result<PromptOutput, PromptError> + 'static,
    {
        Self {
            name: name.into(),
            title: None,
            description: description.into(),
            arguments: arguments_of::<A>,
            handler: Box::new(move |name, arguments| handler(parse(name, arguments)?)),
            completers: Completers::default(),
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Completes the argument `name`: `completer` gets the text typed so far
    /// and the arguments already resolved.
    pub fn complete(
        mut self,
        name: impl Into<String>,
        completer: impl Fn(&str, &Arguments) -> Vec<String> + 'static,
    ) -> Self {
        self.completers.add(name.into(), Box::new(completer));
        self
    }

    /// Describes the prompt.
    pub fn descriptor(&self) -> Result<PromptDescriptor, String> {
        if !crate::tool::is_valid_name(&self.name) {
            return Err(format!(
                "prompt name {:?} is invalid: use 1 to 64 characters from [a-zA-Z0-9_-]",
                self.name
            ));
        }
        Ok(PromptDescriptor {
            name: self.name.clone(),
            title: self.title.clone(),
            description: Some(self.description.clone()),
            arguments: (self.arguments)()
                .map_err(|e| format!("prompt '{}': arguments: {e}", self.name))?,
        })
    }
}

/// The arguments of a prompt whose argument type is `A`.
fn arguments_of<A: JsonSchema>() -> Result<Vec<PromptArgument>, String> {
    let schema: Value = serde_json::from_str(&object_schema_for::<A>()?)
        .map_err(|e| format!("schema is not JSON: {e}"))?;
    let required: HashSet<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(schema["properties"]
        .as_object()
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| PromptArgument {
                    name: name.clone(),
                    title: text(property, "title"),
                    description: text(property, "description"),
                    required: required.contains(name.as_str()),
                })
                .collect()
        })
        .unwrap_or_default())
}

fn parse<A: DeserializeOwned>(prompt: &str, arguments: &Arguments) -> Result<A, PromptError> {
    let object: serde_json::Map<String, Value> = arguments
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    serde_json::from_value(Value::Object(object)).map_err(|e| {
        PromptError::invalid_arguments(format!("invalid arguments for prompt '{prompt}': {e}"))
    })
}

/// Describes every prompt (what `list-prompts` returns). Fails on an invalid
/// or duplicate name or an argument type that is not a struct.
pub fn describe_prompts(prompts: &[Prompt]) -> Result<Vec<PromptDescriptor>, String> {
    let mut seen = HashSet::new();
    prompts
        .iter()
        .map(|p| {
            if !seen.insert(p.name.as_str()) {
                return Err(format!("prompt name '{}' is used twice", p.name));
            }
            p.descriptor()
        })
        .collect()
}

/// Fills in the prompt called `name` (what `get-prompt` does).
pub fn get_prompt(
    prompts: &[Prompt],
    name: &str,
    arguments: &Arguments,
) -> Result<PromptOutput, PromptError> {
    match prompts.iter().find(|p| p.name == name) {
        Some(prompt) => (prompt.handler)(name, arguments),
        None => {
            let known: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
            Err(PromptError::UnknownPrompt(format!(
                "this plugin has no prompt named '{name}'; its prompts are: {}",
                known.join(", ")
            )))
        }
    }
}

/// Completes an argument of the prompt called `name`.
pub fn complete_prompt(
    prompts: &[Prompt],
    name: &str,
    argument: &str,
    typed: &str,
    context: &Arguments,
) -> Completion {
    prompts
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.completers.complete(argument, typed, context))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    struct SummarizeArgs {
        /// The document's path.
        path: String,
        /// Who will read the summary.
        audience: Option<String>,
    }

    fn prompts() -> Vec<Prompt> {
        vec![
            Prompt::new("summarize", "Summarize a document", |a: SummarizeArgs| {
                Ok(PromptOutput::user(format!(
                    "Summarize {} for {}",
                    a.path,
                    a.audience.as_deref().unwrap_or("anyone")
                )))
            })
            .title("Summarize")
            .complete("path", |typed, _| {
                crate::complete_from(["a.md", "b.md"], typed)
            }),
        ]
    }

    #[test]
    fn describes_arguments_from_the_type() {
        let d = describe_prompts(&prompts()).unwrap();
        assert_eq!(d[0].name, "summarize");
        assert_eq!(d[0].title.as_deref(), Some("Summarize"));
        let args: Vec<(&str, bool)> = d[0]
            .arguments
            .iter()
            .map(|a| (a.name.as_str(), a.required))
            .collect();
        assert_eq!(args, [("path", true), ("audience", false)]);
        assert_eq!(
            d[0].arguments[0].description.as_deref(),
            Some("The document's path.")
        );
    }

    #[test]
    fn gets_prompts_and_reports_errors() {
        let p = prompts();
        let mut args = Arguments::new();
        args.insert("path".into(), "a.md".into());
        let out = get_prompt(&p, "summarize", &args).unwrap();
        assert_eq!(
            out.messages[0].content,
            Content::Text("Summarize a.md for anyone".into())
        );
        let err = get_prompt(&p, "summarize", &Arguments::new()).unwrap_err();
        assert!(matches!(err, PromptError::InvalidArguments(ref m) if m.contains("path")));
        let err = get_prompt(&p, "nope", &args).unwrap_err();
        assert!(matches!(err, PromptError::UnknownPrompt(ref m) if m.contains("summarize")));
        assert_eq!(
            complete_prompt(&p, "summarize", "path", "b", &args).values,
            ["b.md"]
        );
    }

    #[test]
    fn rejects_bad_and_duplicate_names() {
        let ok = |n: &str| Prompt::new(n, "x", |_: crate::NoArgs| Ok(PromptOutput::default()));
        assert!(describe_prompts(&[ok("a.b")]).is_err());
        assert!(describe_prompts(&[ok("a"), ok("a")]).is_err());
    }
}
