//! [`Tool`]: a typed function plus the metadata MCP clients see.

use std::collections::HashSet;
use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::ClientFeature;
use crate::output::{ToolError, ToolOutput};
use crate::schema::object_schema_for;

/// Behaviour hints shown to MCP clients as tool annotations. `None` leaves a
/// hint unset (MCP's defaults apply: not read-only, destructive, not
/// idempotent, open world). Clients treat them as hints from an untrusted
/// source; the sandbox is what enforces behaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Annotations {
    /// The tool does not modify its environment.
    pub read_only: Option<bool>,
    /// The tool may perform destructive updates.
    pub destructive: Option<bool>,
    /// Calling the tool again with the same arguments has no further effect.
    pub idempotent: Option<bool>,
    /// The tool interacts with an open world of external entities.
    pub open_world: Option<bool>,
}

/// What `list-tools` reports for one tool, as plain Rust data.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDescriptor {
    /// The tool's name.
    pub name: String,
    /// A short human-readable title.
    pub title: Option<String>,
    /// What the tool does.
    pub description: String,
    /// JSON Schema of the arguments (a JSON document with an object root).
    pub input_schema: String,
    /// JSON Schema of the structured output, if declared.
    pub output_schema: Option<String>,
    /// Behaviour hints.
    pub annotations: Annotations,
    /// Client features the tool cannot work without.
    pub requires: Vec<ClientFeature>,
}

type Handler = Box<dyn Fn(&str, &str) -> Result<ToolOutput, ToolError>>;
type SchemaFn = fn() -> Result<String, String>;

/// Where a tool's input schema comes from.
enum InputSchema {
    /// Derived from the handler's argument type.
    Derived(SchemaFn),
    /// Given as a JSON document, kept verbatim.
    Verbatim(&'static str),
}

/// One tool: a name, a description, a typed handler and optional metadata.
///
/// The handler takes one argument whose type implements
/// [`Deserialize`](serde::Deserialize) and [`JsonSchema`]; the tool's input
/// schema is derived from that type (doc comments become descriptions, serde
/// attributes such as `rename`, `default` and `deny_unknown_fields` are
/// honoured). The type must describe a JSON object: use a struct (or
/// [`NoArgs`](crate::NoArgs) for no arguments).
///
/// ```
/// use warden_plugin::{Deserialize, JsonSchema, Serialize, Tool, ToolError, ToolOutput};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct AddArgs {
///     /// First term.
///     a: i64,
///     /// Second term.
///     b: i64,
/// }
///
/// #[derive(Serialize, JsonSchema)]
/// struct Sum {
///     sum: i64,
/// }
///
/// let plain = Tool::new("add", "Add two integers", |args: AddArgs| {
///     Ok(ToolOutput::text((args.a + args.b).to_string()))
/// })
/// .read_only()
/// .idempotent();
///
/// // Same, returning structured content with a derived output schema.
/// let structured = Tool::structured("add_structured", "Add two integers", |args: AddArgs| {
///     Ok::<_, ToolError>(Sum { sum: args.a + args.b })
/// });
/// let out = warden_plugin::call_tool(&[plain, structured], "add_structured", r#"{"a":1,"b":2}"#)
///     .unwrap();
/// assert_eq!(out.structured.unwrap()["sum"], 3);
/// ```
pub struct Tool {
    name: String,
    title: Option<String>,
    description: String,
    input_schema: InputSchema,
    output_schema: Option<SchemaFn>,
    annotations: Annotations,
    requires: Vec<ClientFeature>,
    handler: Handler,
}

impl fmt::Debug for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("title", &self.title)
            .field("description", &self.description)
            .field("annotations", &self.annotations)
            .finish_non_exhaustive()
    }
}

impl Tool {
    /// A tool named `name` (use `[a-zA-Z0-9_-]`, 1 to 64 bytes) that runs
    /// `handler` with its arguments deserialized into `A`.
    pub fn new<A, F>(name: impl Into<String>, description: impl Into<String>, handler: F) -> Self
    where
        A: DeserializeOwned + JsonSchema,
        F: Fn(A) -> Result<ToolOutput, ToolError> + 'static,
    {
        Self {
            name: name.into(),
            title: None,
            description: description.into(),
            input_schema: InputSchema::Derived(object_schema_for::<A>),
            output_schema: None,
            annotations: Annotations::default(),
            requires: Vec::new(),
            handler: Box::new(move |name, arguments| handler(parse_arguments(name, arguments)?)),
        }
    }

    /// A tool whose handler returns a serializable value: the value becomes
    /// the structured result (with a JSON text block, see
    /// [`ToolOutput::json`]) and the output schema is derived from `O`, which
    /// must describe a JSON object.
    pub fn structured<A, O, F>(
        name: impl Into<String>,
        description: impl Into<String>,
        handler: F,
    ) -> Self
    where
        A: DeserializeOwned + JsonSchema,
        O: Serialize + JsonSchema,
        F: Fn(A) -> Result<O, ToolError> + 'static,
    {
        Self::new(name, description, move |args: A| {
            ToolOutput::json(&handler(args)?)
        })
        .output_schema::<O>()
    }

    /// Declares the input schema as `schema`, a JSON Schema document with an
    /// object root that is kept verbatim: for keywords a derived schema cannot
    /// express (`$defs` with `$anchor`, `if`/`then`/`else`, ...). The host
    /// still validates arguments against it, and the handler's argument type
    /// must accept everything the schema does.
    pub fn input_schema_json(mut self, schema: &'static str) -> Self {
        self.input_schema = InputSchema::Verbatim(schema);
        self
    }

    /// Sets a short human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Declares the schema of the structured output, derived from `O` (which
    /// must describe a JSON object). Return matching values with
    /// [`ToolOutput::json`].
    pub fn output_schema<O: JsonSchema>(mut self) -> Self {
        self.output_schema = Some(object_schema_for::<O>);
        self
    }

    /// Hint: the tool does not modify its environment.
    pub fn read_only(mut self) -> Self {
        self.annotations.read_only = Some(true);
        self
    }

    /// Hint: the tool may perform destructive updates.
    pub fn destructive(mut self) -> Self {
        self.annotations.destructive = Some(true);
        self
    }

    /// Hint: repeating a call with the same arguments has no further effect.
    pub fn idempotent(mut self) -> Self {
        self.annotations.idempotent = Some(true);
        self
    }

    /// Hint: the tool interacts with external entities (the web, ...).
    pub fn open_world(mut self) -> Self {
        self.annotations.open_world = Some(true);
        self
    }

    /// Hint: the tool does not interact with external entities.
    pub fn closed_world(mut self) -> Self {
        self.annotations.open_world = Some(false);
        self
    }

    /// Declares that the tool cannot work without a feature of the MCP
    /// client (the plugin's manifest must also request it in `client`): the
    /// host refuses a call from a client that did not declare it before the
    /// tool runs.
    pub fn requires(mut self, feature: ClientFeature) -> Self {
        if !self.requires.contains(&feature) {
            self.requires.push(feature);
        }
        self
    }

    /// Replaces all annotations.
    pub fn annotations(mut self, annotations: Annotations) -> Self {
        self.annotations = annotations;
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Generates this tool's descriptor (including its schemas).
    pub fn descriptor(&self) -> Result<ToolDescriptor, String> {
        let name = &self.name;
        if !is_valid_name(name) {
            return Err(format!(
                "tool name {name:?} is invalid: use 1 to 64 characters from [a-zA-Z0-9_-]"
            ));
        }
        let input_schema = match self.input_schema {
            InputSchema::Derived(derive) => derive(),
            InputSchema::Verbatim(schema) => verbatim_object_schema(schema),
        }
        .map_err(|e| format!("tool '{name}': arguments: {e}"))?;
        let output_schema = self
            .output_schema
            .map(|f| f().map_err(|e| format!("tool '{name}': output: {e}")))
            .transpose()?;
        Ok(ToolDescriptor {
            name: self.name.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            input_schema,
            output_schema,
            annotations: self.annotations,
            requires: self.requires.clone(),
        })
    }

    /// Runs the tool with `arguments`, a JSON object as text.
    pub fn call(&self, arguments: &str) -> Result<ToolOutput, ToolError> {
        (self.handler)(&self.name, arguments)
    }
}

/// Describes every tool (what `list-tools` returns). Fails on an invalid or
/// duplicate name or on an argument/output type that does not describe a
/// JSON object; the exported `list-tools` panics with that message.
pub fn describe_tools(tools: &[Tool]) -> Result<Vec<ToolDescriptor>, String> {
    let mut seen = HashSet::new();
    tools
        .iter()
        .map(|tool| {
            if !seen.insert(tool.name.as_str()) {
                return Err(format!("tool name '{}' is used twice", tool.name));
            }
            tool.descriptor()
        })
        .collect()
}

/// Runs the tool called `name` (what `call-tool` does): `unknown-tool` when
/// there is none, `invalid-arguments` when `arguments` do not deserialize into
/// the tool's argument type.
pub fn call_tool(tools: &[Tool], name: &str, arguments: &str) -> Result<ToolOutput, ToolError> {
    match tools.iter().find(|t| t.name == name) {
        Some(tool) => tool.call(arguments),
        None => {
            let known: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            Err(ToolError::UnknownTool(format!(
                "this plugin has no tool named '{name}'; its tools are: {}",
                known.join(", ")
            )))
        }
    }
}

pub(crate) fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Deserializes `arguments` into `A`, mapping failures to `invalid-arguments`
/// with the path of the offending field.
fn parse_arguments<A: DeserializeOwned>(tool: &str, arguments: &str) -> Result<A, ToolError> {
    let arguments = match arguments.trim() {
        "" | "null" => "{}",
        other => other,
    };
    let mut de = serde_json::Deserializer::from_str(arguments);
    let parsed: A = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| argument_error(tool, &e.path().to_string(), e.into_inner()))?;
    de.end().map_err(|e| argument_error(tool, ".", e))?;
    Ok(parsed)
}

fn argument_error(tool: &str, path: &str, error: serde_json::Error) -> ToolError {
    let mut message = error.to_string();
    // serde_json appends " at line L column C"; for a one-line JSON object that
    // position helps nobody.
    if error.line() != 0
        && let Some(pos) = message.rfind(" at line ")
    {
        message.truncate(pos);
    }
    if path == "." {
        ToolError::invalid_arguments(format!("invalid arguments for '{tool}': {message}"))
    } else {
        ToolError::invalid_arguments(format!(
            "invalid arguments for '{tool}': `{path}`: {message}"
        ))
    }
}

/// Checks that a verbatim schema is a JSON object and returns it unchanged.
fn verbatim_object_schema(schema: &str) -> Result<String, String> {
    match serde_json::from_str::<serde_json::Value>(schema) {
        Ok(serde_json::Value::Object(_)) => Ok(schema.to_string()),
        Ok(_) => Err("the schema must be a JSON object".into()),
        Err(e) => Err(format!("the schema is not valid JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoArgs;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct EchoArgs {
        /// The text to echo.
        text: String,
        #[serde(default)]
        times: Option<Times>,
    }

    #[derive(Deserialize, JsonSchema)]
    struct Times {
        n: u8,
    }

    #[derive(Serialize, JsonSchema)]
    struct Len {
        len: usize,
    }

    fn tools() -> Vec<Tool> {
        vec![
            Tool::new("echo", "Echo text", |a: EchoArgs| {
                let n = a.times.map_or(1, |t| t.n as usize);
                Ok(ToolOutput::text(a.text.repeat(n)))
            })
            .title("Echo")
            .read_only()
            .idempotent()
            .closed_world(),
            Tool::structured("len", "Length", |a: EchoArgs| Ok(Len { len: a.text.len() })),
            Tool::new("none", "No args", |_: NoArgs| Ok(ToolOutput::text("ok"))),
            Tool::new("fail", "Fails", |_: NoArgs| Err(ToolError::failed("nope"))),
        ]
    }

    #[test]
    fn describes_tools() {
        let d = describe_tools(&tools()).unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(d[0].name, "echo");
        assert_eq!(d[0].title.as_deref(), Some("Echo"));
        assert_eq!(
            d[0].annotations,
            Annotations {
                read_only: Some(true),
                destructive: None,
                idempotent: Some(true),
                open_world: Some(false)
            }
        );
        let schema: serde_json::Value = serde_json::from_str(&d[0].input_schema).unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], false);
        assert!(d[0].output_schema.is_none());
        let out: serde_json::Value =
            serde_json::from_str(d[1].output_schema.as_deref().unwrap()).unwrap();
        assert_eq!(out["type"], "object");
        let none: serde_json::Value = serde_json::from_str(&d[2].input_schema).unwrap();
        assert_eq!(none["type"], "object");
    }

    #[test]
    fn calls_tools() {
        let t = tools();
        let out = call_tool(&t, "echo", r#"{"text":"ab","times":{"n":2}}"#).unwrap();
        assert_eq!(out.text_content(), "abab");
        let out = call_tool(&t, "len", r#"{"text":"abc"}"#).unwrap();
        assert_eq!(out.structured, Some(serde_json::json!({"len": 3})));
        assert_eq!(call_tool(&t, "none", "").unwrap().text_content(), "ok");
        assert_eq!(call_tool(&t, "none", "null").unwrap().text_content(), "ok");
        assert_eq!(
            call_tool(&t, "fail", "{}").unwrap_err(),
            ToolError::failed("nope")
        );
    }

    #[test]
    fn unknown_tool() {
        let err = call_tool(&tools(), "nope", "{}").unwrap_err();
        let ToolError::UnknownTool(m) = err else {
            panic!("{err:?}")
        };
        assert!(m.contains("'nope'") && m.contains("echo, len"), "{m}");
    }

    #[test]
    fn bad_arguments_are_invalid_arguments_with_path() {
        let t = tools();
        let cases = [
            (r#"{}"#, "missing field `text`"),
            (
                r#"{"text": 1}"#,
                "`text`: invalid type: integer `1`, expected a string",
            ),
            (
                r#"{"text":"a","times":{"n":300}}"#,
                "`times.n`: invalid value",
            ),
            (r#"{"text":"a","extra":1}"#, "unknown field `extra`"),
            (r#"{"text":"a"} x"#, "trailing characters"),
            (r#"not json"#, "expected ident"),
        ];
        for (args, expected) in cases {
            let err = call_tool(&t, "echo", args).unwrap_err();
            let ToolError::InvalidArguments(m) = &err else {
                panic!("{args}: {err:?}")
            };
            assert!(m.starts_with("invalid arguments for 'echo': "), "{m}");
            assert!(m.contains(expected), "{args}: {m}");
            assert!(!m.contains("at line"), "{m}");
        }
    }

    #[test]
    fn rejects_bad_names_and_duplicates() {
        let bad = |name: &str| Tool::new(name, "x", |_: NoArgs| Ok(ToolOutput::empty()));
        for name in ["", "a.b", "a/b", "a b", &"x".repeat(65)] {
            let err = describe_tools(&[bad(name)]).unwrap_err();
            assert!(err.contains("invalid"), "{err}");
        }
        assert!(describe_tools(&[bad(&"x".repeat(64)), bad("a-b_C9")]).is_ok());
        let err = describe_tools(&[bad("a"), bad("a")]).unwrap_err();
        assert!(err.contains("used twice"), "{err}");
    }

    #[test]
    fn rejects_non_object_argument_type() {
        let t = Tool::new("s", "x", |_: String| Ok(ToolOutput::empty()));
        let err = describe_tools(&[t]).unwrap_err();
        assert!(err.contains("tool 's': arguments"), "{err}");
    }
}
