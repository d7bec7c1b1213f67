//! Rust SDK for Warden plugins.
//!
//! A Warden plugin is a WASI 0.2 component that implements the
//! `warden:plugin@0.1.0` world (see `wit/plugin.wit` in the Warden
//! repository). With this crate a plugin is a set of ordinary typed Rust
//! functions: the JSON Schema of each tool's arguments is derived from the
//! argument type with [`serde`] and [`schemars`], and the arguments are
//! deserialized into that type before the function runs.
//!
//! ```no_run
//! use warden_plugin::{Deserialize, JsonSchema, Tool, ToolError, ToolOutput};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct ShoutArgs {
//!     /// The text to shout.
//!     text: String,
//!     /// How many exclamation marks to add.
//!     #[serde(default)]
//!     bangs: u8,
//! }
//!
//! fn shout(args: ShoutArgs) -> Result<ToolOutput, ToolError> {
//!     if args.bangs > 10 {
//!         return Err(ToolError::invalid_arguments("at most 10 bangs, please"));
//!     }
//!     warden_plugin::info!("shouting {} bytes", args.text.len());
//!     let bangs = "!".repeat(args.bangs.into());
//!     Ok(ToolOutput::text(format!("{}{bangs}", args.text.to_uppercase())))
//! }
//!
//! fn tools() -> Vec<Tool> {
//!     vec![Tool::new("shout", "Upper-case a text", shout).title("Shout").read_only().idempotent()]
//! }
//!
//! warden_plugin::export_plugin!(tools);
//! ```
//!
//! A plugin crate depends on `warden-plugin`, `serde` (feature `derive`) and
//! `schemars` 1.x: the derive macros of serde and schemars refer to their
//! crates by name, so those must be direct dependencies even though the
//! traits are re-exported here.
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! warden-plugin = { path = "../sdk" }
//! serde = { version = "1", features = ["derive"] }
//! schemars = "1"
//! ```
//!
//! Build the crate as a `cdylib` for `wasm32-wasip2`
//! (`cargo build --release --target wasm32-wasip2`); the `.wasm` file is the
//! component the host loads.
//!
//! How calls map to the contract:
//!
//! - `list-tools` returns one descriptor per [`Tool`]: name, title,
//!   description, input schema (root `"type": "object"`), optional output
//!   schema and annotations.
//! - `call-tool` finds the tool by name (`tool-error::unknown-tool` when there
//!   is none), deserializes the arguments (`tool-error::invalid-arguments` with
//!   the field path and serde's message when they do not fit the type) and runs
//!   the function.
//! - A panic in a tool aborts the instance: the host sees a trap and reports it.
//!   Return [`ToolError`] for anything a caller can fix.
//!
//! The host runs every call in a fresh instance, so nothing kept in memory
//! survives between calls.
//!
//! On targets other than `wasm32` (for example `cargo test` on the build
//! machine) the log helpers write to stderr and [`progress`] does nothing, so
//! tool functions can be unit-tested natively with [`call_tool`].

// Lets generated code and the exported macros use `warden_plugin::...` paths
// both inside this crate and in plugin crates.
extern crate self as warden_plugin;

pub mod log;
mod output;
mod schema;
mod tool;

pub use output::{Content, ToolError, ToolOutput};
pub use tool::{Annotations, Tool, ToolDescriptor, call_tool, describe_tools};

pub use log::progress;

/// Derive macro and trait for argument and output types (re-exported from
/// [`schemars`]).
pub use schemars::JsonSchema;
/// Derive macros and traits for argument and output types (re-exported from
/// [`serde`]).
pub use serde::{Deserialize, Serialize};

pub use schemars;
pub use serde;
pub use serde_json;

/// Argument type for tools that take no arguments: an empty object.
///
/// ```
/// use warden_plugin::{NoArgs, Tool, ToolOutput};
/// let tool = Tool::new("ping", "Answer pong", |_: NoArgs| Ok(ToolOutput::text("pong")));
/// # let _ = tool;
/// ```
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
pub struct NoArgs {}

/// Bindings generated from `wit/plugin.wit`. Not part of the public API.
#[doc(hidden)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_warden_plugin_world",
        default_bindings_module: "warden_plugin::__bindings",
        runtime_path: "warden_plugin::__private::wit_bindgen::rt",
    });
}

/// Glue used by [`export_plugin!`]. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    pub use crate::__bindings::exports::warden::plugin::tools::Guest;
    use crate::__bindings::warden::plugin::types as wit;

    pub use wit::ToolOutput as WitToolOutput;
    pub use wit::{ToolDescriptor as WitToolDescriptor, ToolError as WitToolError};

    use crate::{Content, Tool, ToolError, ToolOutput, describe_tools};

    /// Implements `list-tools`. Panics (a trap, which the host reports) when a
    /// tool is malformed: a bad name, a duplicate, or a schema whose root is not
    /// an object. Those are bugs in the plugin, found at load time.
    pub fn list_tools(tools: Vec<Tool>) -> Vec<WitToolDescriptor> {
        let descriptors = describe_tools(&tools).unwrap_or_else(|e| panic!("{e}"));
        descriptors
            .into_iter()
            .map(|d| WitToolDescriptor {
                name: d.name,
                title: d.title,
                description: d.description,
                input_schema: d.input_schema,
                output_schema: d.output_schema,
                annotations: wit::Annotations {
                    read_only: d.annotations.read_only,
                    destructive: d.annotations.destructive,
                    idempotent: d.annotations.idempotent,
                    open_world: d.annotations.open_world,
                },
            })
            .collect()
    }

    /// Implements `call-tool`.
    pub fn call_tool(
        tools: Vec<Tool>,
        name: &str,
        arguments: &str,
    ) -> Result<WitToolOutput, WitToolError> {
        crate::call_tool(&tools, name, arguments)
            .map(output_to_wit)
            .map_err(error_to_wit)
    }

    fn output_to_wit(output: ToolOutput) -> WitToolOutput {
        WitToolOutput {
            content: output
                .content
                .into_iter()
                .map(|c| match c {
                    Content::Text(text) => wit::Content::Text(text),
                    Content::Blob { data, mime_type } => {
                        wit::Content::Blob(wit::Blob { data, mime_type })
                    }
                })
                .collect(),
            structured: output.structured.map(|v| v.to_string()),
        }
    }

    fn error_to_wit(error: ToolError) -> WitToolError {
        match error {
            ToolError::InvalidArguments(m) => WitToolError::InvalidArguments(m),
            ToolError::Failed(m) => WitToolError::Failed(m),
            ToolError::UnknownTool(m) => WitToolError::UnknownTool(m),
        }
    }
}

/// Exports the plugin: implements the `warden:plugin/tools` interface with the
/// tools returned by the given function (`fn() -> Vec<Tool>`).
///
/// Use it once, in the plugin crate's root module:
///
/// ```ignore
/// fn tools() -> Vec<warden_plugin::Tool> { vec![/* ... */] }
/// warden_plugin::export_plugin!(tools);
/// ```
///
/// The function is called once per `list-tools` and once per `call-tool`
/// (every call runs in a fresh instance), so keep it cheap: build the
/// [`Tool`] values and nothing else. Schemas are only generated for
/// `list-tools`.
#[macro_export]
macro_rules! export_plugin {
    ($tools:path) => {
        #[doc(hidden)]
        struct __WardenPlugin;

        impl $crate::__private::Guest for __WardenPlugin {
            fn list_tools() -> ::std::vec::Vec<$crate::__private::WitToolDescriptor> {
                $crate::__private::list_tools($tools())
            }

            fn call_tool(
                name: ::std::string::String,
                arguments: ::std::string::String,
            ) -> ::std::result::Result<
                $crate::__private::WitToolOutput,
                $crate::__private::WitToolError,
            > {
                $crate::__private::call_tool($tools(), &name, &arguments)
            }
        }

        $crate::__bindings::__export_warden_plugin_world!(
            __WardenPlugin with_types_in $crate::__bindings
        );
    };
}
