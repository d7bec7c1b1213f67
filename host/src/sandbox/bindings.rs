//! Host bindings for the `warden:plugin` world, generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    exports: { default: async },
});

pub use exports::warden::plugin::tools::{ToolDescriptor, ToolError, ToolOutput};
pub use warden::plugin::log::Level;
pub use warden::plugin::types::{Annotations, Blob, Content};
