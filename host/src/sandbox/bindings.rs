//! Host bindings for the `warden:plugin` worlds, generated from WIT.
//!
//! The current world (0.2, `wit/` at the repository's root) is generated for
//! `full-plugin`, but only the linker half (`FullPlugin::add_to_linker`) and
//! the per-interface export indices are used: `tools` is required,
//! `resources`, `prompts` and `completions` are looked up one by one, so a
//! component may export any subset of them. [`legacy`] holds the same for
//! world 0.1 (`host/wit/0.1.1`, frozen), whose plugins keep working; what
//! they return is converted to the current types (`sandbox/legacy.rs`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "full-plugin",
    imports: { "warden:plugin/client": async | trappable },
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});

/// World 0.1.x, frozen at 0.1.1.
pub mod legacy {
    wasmtime::component::bindgen!({
        path: "wit/0.1.1",
        world: "full-plugin",
        exports: { default: async },
    });

    pub use self::exports::warden::plugin::{completions, prompts, resources, tools};
}

pub use self::exports::warden::plugin::completions::{Completion, CompletionRef};
pub use self::exports::warden::plugin::prompts::{
    PromptArgument, PromptDescriptor, PromptError, PromptMessage, PromptResult, Role,
};
pub use self::exports::warden::plugin::resources::{
    ResourceBody, ResourceContents, ResourceDescriptor, ResourceError, ResourceTemplate,
};
pub use self::exports::warden::plugin::tools::{ToolDescriptor, ToolError, ToolOutput};
pub use self::exports::warden::plugin::{completions, prompts, resources, tools};
pub use self::warden::plugin::client;
pub use self::warden::plugin::log::Level;
pub use self::warden::plugin::notify::ListKind;
pub use self::warden::plugin::types::{Annotations, Blob, ClientFeature, Content, ResourceLink};
