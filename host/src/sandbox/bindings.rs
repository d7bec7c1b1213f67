//! Host bindings for the `warden:plugin` worlds, generated from `wit/`.
//!
//! The bindings are generated for `full-plugin`, but only the linker half
//! (`FullPlugin::add_to_linker`) and the per-interface export indices are
//! used: `tools` is required, `resources`, `prompts` and `completions` are
//! looked up one by one, so a component may export any subset of them.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "full-plugin",
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub use self::exports::warden::plugin::completions::{Completion, CompletionRef};
pub use self::exports::warden::plugin::prompts::{
    PromptArgument, PromptDescriptor, PromptError, PromptMessage, PromptResult, Role,
};
pub use self::exports::warden::plugin::resources::{
    ResourceBody, ResourceContents, ResourceDescriptor, ResourceError, ResourceTemplate,
};
pub use self::exports::warden::plugin::tools::{ToolDescriptor, ToolError, ToolOutput};
pub use self::exports::warden::plugin::{completions, prompts, resources, tools};
pub use self::warden::plugin::log::Level;
pub use self::warden::plugin::notify::ListKind;
pub use self::warden::plugin::types::{Annotations, Blob, Content};
