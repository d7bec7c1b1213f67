//! Errors of loading a component and of running one call.

use std::time::Duration;

use crate::limits::{ByteSize, HumanDuration, LimitValue};

/// Why a `.wasm` file could not become a runnable plugin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read the component: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly file (it does not start with the `\\0asm` magic bytes)")]
    NotWasm,
    /// A core module where a component is required.
    #[error(
        "this is a core WebAssembly module, not a component: build the plugin for the \
         `wasm32-wasip2` target, or wrap the module with `wasm-tools component new`"
    )]
    CoreModule,
    /// Wasmtime rejected the component.
    #[error("invalid or unsupported component: {0}")]
    Compile(String),
    /// The component does not export the plugin world at all.
    #[error(
        "the component does not implement the Warden plugin world: it exports no \
         `warden:plugin/tools` interface (its exports: {exports})"
    )]
    NotAPlugin {
        /// The component's actual exports, comma-separated.
        exports: String,
    },
    /// The component was built against an incompatible version of the world.
    #[error(
        "the plugin was built against warden:plugin@{found}, but this host provides \
         warden:plugin@{expected}; rebuild the plugin against a compatible version"
    )]
    IncompatibleWorld {
        /// The version the plugin exports.
        found: String,
        /// The version the host implements.
        expected: String,
    },
    /// The component imports something the host does not provide, or its
    /// exports have the wrong types.
    #[error("the component cannot be linked: {0}")]
    Link(String),
    /// `list-tools` (or another `list-*` function) failed.
    #[error("describing the plugin (its tools, resources and prompts) failed: {0}")]
    Describe(CallError),
    /// A tool descriptor is unusable.
    #[error("tool `{tool}`: {reason}")]
    BadTool {
        /// The tool name as the plugin gave it.
        tool: String,
        /// What is wrong.
        reason: String,
    },
}

/// A limit that ended a call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LimitHit {
    /// The fuel (instruction) budget ran out.
    Fuel(u64),
    /// The wall-clock deadline passed.
    Timeout(Duration),
    /// A linear memory tried to grow past the cap.
    Memory {
        /// The cap, in bytes.
        limit: u64,
        /// The size the guest asked for, in bytes.
        requested: u64,
    },
    /// The wasm stack overflowed.
    Stack(usize),
    /// The result was larger than allowed.
    Output {
        /// The cap, in bytes.
        limit: u64,
        /// The result's size, in bytes.
        size: u64,
    },
    /// The call tried to hold more live WASI resources than allowed.
    Handles(u64),
    /// The host allocated more memory on behalf of the call than allowed.
    HostMemory {
        /// The cap, in bytes.
        limit: u64,
        /// What the call had made the host allocate when it was stopped.
        used: u64,
    },
    /// The call tried to hold more files and directories open than allowed.
    OpenFiles(u64),
    /// The call tried to write more to its read-write grants than allowed.
    Write(u64),
}

impl LimitHit {
    /// A short stable name: `fuel`, `timeout`, `memory`, `stack`, `output`,
    /// `handles`, `host_memory`, `open_files` or `write`.
    pub fn kind(&self) -> &'static str {
        match self {
            LimitHit::Fuel(_) => "fuel",
            LimitHit::Timeout(_) => "timeout",
            LimitHit::Memory { .. } => "memory",
            LimitHit::Stack(_) => "stack",
            LimitHit::Output { .. } => "output",
            LimitHit::Handles(_) => "handles",
            LimitHit::HostMemory { .. } => "host_memory",
            LimitHit::OpenFiles(_) => "open_files",
            LimitHit::Write(_) => "write",
        }
    }
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Fuel(fuel) => write!(
                f,
                "fuel limit exhausted: the call used its whole budget of {fuel} instructions"
            ),
            LimitHit::Timeout(t) => write!(
                f,
                "timeout: the call did not finish within {}",
                HumanDuration(*t)
            ),
            LimitHit::Memory { limit, requested } => write!(
                f,
                "memory limit exceeded: the plugin tried to grow its memory to {}, \
                 over the limit of {}",
                ByteSize(*requested),
                ByteSize(*limit)
            ),
            LimitHit::Stack(max) => write!(
                f,
                "stack overflow: the call exceeded the maximum wasm stack of {}",
                ByteSize(*max as u64)
            ),
            LimitHit::Output { limit, size } => write!(
                f,
                "output limit exceeded: the result is {}, over the limit of {}",
                ByteSize(*size),
                ByteSize(*limit)
            ),
            LimitHit::Handles(limit) => write!(
                f,
                "handle limit exceeded: the call tried to hold more than {} WASI resources \
                 (HTTP fields, requests and bodies, streams, pollables, files) at once \
                 (limit max_handles)",
                LimitValue::Count(*limit)
            ),
            LimitHit::HostMemory { limit, used } => write!(
                f,
                "host memory limit exceeded: the call made the host allocate {} (HTTP headers \
                 and bodies, stream buffers, handles), over the limit of {} (limit host_memory)",
                ByteSize(*used),
                ByteSize(*limit)
            ),
            LimitHit::OpenFiles(limit) => write!(
                f,
                "open file limit exceeded: the call tried to hold more than {} files and \
                 directories open at once (limit max_open_files)",
                LimitValue::Count(*limit)
            ),
            LimitHit::Write(limit) => write!(
                f,
                "write limit exceeded: the call tried to write more than {} to its read-write \
                 directories (limit max_write)",
                ByteSize(*limit)
            ),
        }
    }
}

/// A host-side limit hit inside a host function, carried by the trap it
/// raises so that [`crate::sandbox`] can report the limit instead of a crash.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HostLimit(pub(crate) LimitHit);

/// Why one call into a plugin failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// A limit ended the call.
    #[error("{0}")]
    Limit(LimitHit),
    /// The client cancelled the request; the instance was dropped.
    #[error("the client cancelled the call")]
    Cancelled,
    /// The plugin asked its client something that must be answered between
    /// two runs of the call (an `input_required` round); the instance was
    /// dropped.
    #[error("the call waits for its client's answers")]
    Deferred,
    /// The guest trapped (a panic, an out-of-bounds access, ...).
    #[error("the plugin crashed ({trap}){}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Trap {
        /// The trap, as wasmtime describes it.
        trap: String,
        /// The last line the guest wrote to stderr, typically its panic message.
        detail: Option<String>,
    },
    /// The host could not set up or run the call.
    #[error("internal error while running the plugin: {0}")]
    Internal(String),
}
