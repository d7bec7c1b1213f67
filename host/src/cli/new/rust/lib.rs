//! The `{{name}}` Warden plugin: one tool, `greet`.
//!
//! The bindings of `wit/plugin.wit` (world `plugin`) are generated at build
//! time. Warden validates arguments against each tool's input schema before
//! the plugin runs, and runs every call in a fresh instance.

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use exports::warden::plugin::tools::Guest;
use warden::plugin::log::{Level, log};
use warden::plugin::types::{Annotations, Content, ToolDescriptor, ToolError, ToolOutput};

/// The arguments of `greet`.
#[derive(serde::Deserialize)]
struct GreetArgs {
    name: String,
}

/// `greet`'s work, a plain function.
fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

struct Plugin;

impl Guest for Plugin {
    fn list_tools() -> Vec<ToolDescriptor> {
        vec![ToolDescriptor {
            name: "greet".into(),
            title: Some("Greet".into()),
            description: "Greet someone by name".into(),
            input_schema: r#"{"type": "object", "properties": {"name": {"type": "string", "description": "Who to greet"}}, "required": ["name"]}"#.into(),
            output_schema: None,
            annotations: Annotations {
                read_only: Some(true),
                destructive: Some(false),
                idempotent: Some(true),
                open_world: Some(false),
            },
            requires: Vec::new(),
        }]
    }

    fn call_tool(name: String, arguments: String) -> Result<ToolOutput, ToolError> {
        match name.as_str() {
            "greet" => {
                let args: GreetArgs = serde_json::from_str(&arguments)
                    .map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
                log(Level::Info, &format!("greeting {}", args.name));
                Ok(ToolOutput {
                    content: vec![Content::Text(greet(&args.name))],
                    structured: None,
                })
            }
            other => Err(ToolError::UnknownTool(other.into())),
        }
    }
}

export!(Plugin);

#[cfg(test)]
mod tests {
    #[test]
    fn greets_by_name() {
        assert_eq!(super::greet("Ada"), "Hello, Ada!");
    }
}
