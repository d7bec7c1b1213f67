//! Rust SDK for Warden plugins.
//!
//! A Warden plugin is a WASI 0.2 component that implements the
//! `warden:plugin@0.2.0` world (see `wit/plugin.wit` in the Warden
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
//! Besides tools, a plugin may offer [`Resources`] (fixed URIs, listed URIs
//! and [`ResourceTemplate`]s) and [`Prompt`]s, with completion of template
//! variables and prompt arguments, and may ask the host to announce changes
//! ([`notify`]):
//!
//! ```ignore
//! fn tools() -> Vec<Tool> { /* ... */ }
//! fn resources() -> Resources { /* ... */ }
//! fn prompts() -> Vec<Prompt> { /* ... */ }
//! warden_plugin::export_plugin!(tools, resources = resources, prompts = prompts);
//! ```
//!
//! On targets other than `wasm32` (for example `cargo test` on the build
//! machine) the log helpers write to stderr and [`progress`] does nothing, so
//! tool functions can be unit-tested natively with [`call_tool`].

// Lets generated code and the exported macros use `warden_plugin::...` paths
// both inside this crate and in plugin crates.
extern crate self as warden_plugin;

pub mod client;
mod completion;
pub mod fs;
pub mod log;
pub mod notify;
mod output;
mod prompt;
mod resource;
mod schema;
mod tool;

pub use client::ClientFeature;
pub use completion::{Arguments, Completion, MAX_COMPLETIONS, complete_from};
pub use output::{Content, ResourceLink, ToolError, ToolOutput};
pub use prompt::{
    Prompt, PromptArgument, PromptDescriptor, PromptError, PromptMessage, PromptOutput, Role,
    complete_prompt, describe_prompts, get_prompt,
};
pub use resource::{
    Resource, ResourceBody, ResourceContent, ResourceDescriptor, ResourceError, ResourceTemplate,
    Resources, TemplateDescriptor, UriMatch,
};
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
        world: "full-plugin",
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

    pub use crate::__bindings::exports::warden::plugin::completions::{
        Completion as WitCompletion, CompletionRef as WitCompletionRef, Guest as CompletionsGuest,
    };
    pub use crate::__bindings::exports::warden::plugin::prompts::{
        Guest as PromptsGuest, PromptDescriptor as WitPromptDescriptor,
        PromptError as WitPromptError, PromptResult as WitPromptResult,
    };
    pub use crate::__bindings::exports::warden::plugin::resources::{
        Guest as ResourcesGuest, ResourceContents as WitResourceContents,
        ResourceDescriptor as WitResourceDescriptor, ResourceError as WitResourceError,
        ResourceTemplate as WitResourceTemplate,
    };
    pub use crate::__bindings::exports::warden::plugin::tools::Guest;
    use crate::__bindings::exports::warden::plugin::{
        prompts as wit_prompts, resources as wit_res,
    };
    use crate::__bindings::warden::plugin::types as wit;

    pub use wit::ToolOutput as WitToolOutput;
    pub use wit::{ToolDescriptor as WitToolDescriptor, ToolError as WitToolError};

    use crate::{
        Arguments, Completion, Content, Prompt, PromptError, ResourceBody, ResourceError,
        Resources, Role, Tool, ToolError, ToolOutput, describe_tools,
    };

    /// The resources of a plugin that offers none.
    pub fn no_resources() -> Resources {
        Resources::new()
    }

    /// The prompts of a plugin that offers none.
    pub fn no_prompts() -> Vec<Prompt> {
        Vec::new()
    }

    /// Implements `list-resources`.
    pub fn list_resources(resources: Resources) -> Vec<WitResourceDescriptor> {
        resources
            .describe()
            .into_iter()
            .map(|d| WitResourceDescriptor {
                uri: d.uri,
                name: d.name,
                title: d.title,
                description: d.description,
                mime_type: d.mime_type,
                size: d.size,
            })
            .collect()
    }

    /// Implements `list-resource-templates`. Panics (a trap the host reports
    /// at load) on a template that cannot be parsed.
    pub fn list_resource_templates(resources: Resources) -> Vec<WitResourceTemplate> {
        resources
            .describe_templates()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|d| WitResourceTemplate {
                uri_template: d.uri_template,
                name: d.name,
                title: d.title,
                description: d.description,
                mime_type: d.mime_type,
            })
            .collect()
    }

    /// Implements `read-resource`.
    pub fn read_resource(
        resources: Resources,
        uri: &str,
    ) -> Result<Vec<WitResourceContents>, WitResourceError> {
        match resources.read(uri) {
            Ok(content) => Ok(vec![WitResourceContents {
                uri: uri.to_string(),
                mime_type: content.mime_type,
                body: match content.body {
                    ResourceBody::Text(text) => wit_res::ResourceBody::Text(text),
                    ResourceBody::Blob(data) => wit_res::ResourceBody::Blob(data),
                },
            }]),
            Err(ResourceError::NotFound(m)) => Err(WitResourceError::NotFound(m)),
            Err(ResourceError::Failed(m)) => Err(WitResourceError::Failed(m)),
        }
    }

    /// Implements `list-prompts`. Panics (a trap the host reports at load)
    /// on a malformed prompt.
    pub fn list_prompts(prompts: Vec<Prompt>) -> Vec<WitPromptDescriptor> {
        crate::describe_prompts(&prompts)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|d| WitPromptDescriptor {
                name: d.name,
                title: d.title,
                description: d.description,
                arguments: d
                    .arguments
                    .into_iter()
                    .map(|a| wit_prompts::PromptArgument {
                        name: a.name,
                        title: a.title,
                        description: a.description,
                        required: a.required,
                    })
                    .collect(),
            })
            .collect()
    }

    /// Implements `get-prompt`.
    pub fn get_prompt(
        prompts: Vec<Prompt>,
        name: &str,
        arguments: Vec<(String, String)>,
    ) -> Result<WitPromptResult, WitPromptError> {
        let arguments: Arguments = arguments.into_iter().collect();
        match crate::get_prompt(&prompts, name, &arguments) {
            Ok(output) => Ok(WitPromptResult {
                description: output.description,
                messages: output
                    .messages
                    .into_iter()
                    .map(|m| wit_prompts::PromptMessage {
                        role: match m.role {
                            Role::User => wit_prompts::Role::User,
                            Role::Assistant => wit_prompts::Role::Assistant,
                        },
                        content: content_to_wit(m.content),
                    })
                    .collect(),
            }),
            Err(PromptError::InvalidArguments(m)) => Err(WitPromptError::InvalidArguments(m)),
            Err(PromptError::Failed(m)) => Err(WitPromptError::Failed(m)),
            Err(PromptError::UnknownPrompt(m)) => Err(WitPromptError::UnknownPrompt(m)),
        }
    }

    /// Implements `complete`.
    pub fn complete(
        resources: Resources,
        prompts: Vec<Prompt>,
        reference: WitCompletionRef,
        argument: &str,
        value: &str,
        context: Vec<(String, String)>,
    ) -> Result<WitCompletion, String> {
        let context: Arguments = context.into_iter().collect();
        let Completion {
            values,
            total,
            has_more,
        } = match reference {
            WitCompletionRef::Prompt(name) => {
                crate::complete_prompt(&prompts, &name, argument, value, &context)
            }
            WitCompletionRef::ResourceTemplate(template) => {
                resources.complete(&template, argument, value, &context)
            }
        };
        Ok(WitCompletion {
            values,
            total,
            has_more,
        })
    }

    fn content_to_wit(content: Content) -> wit::Content {
        match content {
            Content::Text(text) => wit::Content::Text(text),
            Content::Blob { data, mime_type } => wit::Content::Blob(wit::Blob { data, mime_type }),
            Content::Link(link) => wit::Content::ResourceLink(wit::ResourceLink {
                uri: link.uri,
                name: link.name,
                title: link.title,
                description: link.description,
                mime_type: link.mime_type,
                size: link.size,
            }),
        }
    }

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
                requires: d.requires.into_iter().map(crate::client::to_wit).collect(),
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
            content: output.content.into_iter().map(content_to_wit).collect(),
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

/// Exports the plugin: implements the `warden:plugin` interfaces with the
/// tools returned by the given function (`fn() -> Vec<Tool>`) and,
/// optionally, resources (`fn() -> Resources`) and prompts
/// (`fn() -> Vec<Prompt>`).
///
/// Use it once, in the plugin crate's root module:
///
/// ```ignore
/// fn tools() -> Vec<warden_plugin::Tool> { vec![/* ... */] }
/// warden_plugin::export_plugin!(tools);
///
/// // or, with resources and prompts (either may be left out):
/// fn resources() -> warden_plugin::Resources { /* ... */ }
/// fn prompts() -> Vec<warden_plugin::Prompt> { vec![/* ... */] }
/// warden_plugin::export_plugin!(tools, resources = resources, prompts = prompts);
/// ```
///
/// The functions are called once per call into the plugin (every call runs
/// in a fresh instance), so keep them cheap: build the values and nothing
/// else. Schemas are only generated for `list-tools` and `list-prompts`.
/// A plugin without resources or prompts still exports those interfaces,
/// with empty lists; the host then offers nothing of that kind for it.
#[macro_export]
macro_rules! export_plugin {
    ($tools:path $(,)?) => {
        $crate::export_plugin!(
            $tools,
            resources = $crate::__private::no_resources,
            prompts = $crate::__private::no_prompts
        );
    };
    ($tools:path, resources = $resources:path $(,)?) => {
        $crate::export_plugin!(
            $tools,
            resources = $resources,
            prompts = $crate::__private::no_prompts
        );
    };
    ($tools:path, prompts = $prompts:path $(,)?) => {
        $crate::export_plugin!(
            $tools,
            resources = $crate::__private::no_resources,
            prompts = $prompts
        );
    };
    ($tools:path, resources = $resources:path, prompts = $prompts:path $(,)?) => {
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

        impl $crate::__private::ResourcesGuest for __WardenPlugin {
            fn list_resources() -> ::std::vec::Vec<$crate::__private::WitResourceDescriptor> {
                $crate::__private::list_resources($resources())
            }

            fn list_resource_templates()
            -> ::std::vec::Vec<$crate::__private::WitResourceTemplate> {
                $crate::__private::list_resource_templates($resources())
            }

            fn read_resource(
                uri: ::std::string::String,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::__private::WitResourceContents>,
                $crate::__private::WitResourceError,
            > {
                $crate::__private::read_resource($resources(), &uri)
            }
        }

        impl $crate::__private::PromptsGuest for __WardenPlugin {
            fn list_prompts() -> ::std::vec::Vec<$crate::__private::WitPromptDescriptor> {
                $crate::__private::list_prompts($prompts())
            }

            fn get_prompt(
                name: ::std::string::String,
                arguments: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<
                $crate::__private::WitPromptResult,
                $crate::__private::WitPromptError,
            > {
                $crate::__private::get_prompt($prompts(), &name, arguments)
            }
        }

        impl $crate::__private::CompletionsGuest for __WardenPlugin {
            fn complete(
                reference: $crate::__private::WitCompletionRef,
                argument: ::std::string::String,
                value: ::std::string::String,
                context: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<$crate::__private::WitCompletion, ::std::string::String>
            {
                $crate::__private::complete(
                    $resources(),
                    $prompts(),
                    reference,
                    &argument,
                    &value,
                    context,
                )
            }
        }

        $crate::__bindings::__export_warden_plugin_world!(
            __WardenPlugin with_types_in $crate::__bindings
        );
    };
}
