//! Host bindings for the `warden:plugin` world, generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    exports: { default: async },
});

pub use self::exports::warden::plugin::tools::{ToolDescriptor, ToolError, ToolOutput};
pub use self::warden::plugin::log::Level;
pub use self::warden::plugin::types::{Annotations, Blob, Content};
