//! Warden: an MCP server that hosts tools as sandboxed WebAssembly components.
//!
//! The modules follow the stages of the data flow (see `ARCHITECTURE.md`);
//! data flows one way, and a stage imports only the stages below it:
//!
//! - [`input`]: capped file reads and the error every settings section reports;
//! - [`observe`]: logs, metrics, spans and the audit log, fed plain records;
//! - [`policy`]: what a plugin asks for ([`policy::manifest`]), what the
//!   operator allows, what was approved ([`policy::lock`]) and the resolved
//!   [`policy::grants`];
//! - [`sandbox`]: compiles components and runs each call in a fresh instance
//!   (the only user of wasmtime);
//! - [`budget`]: the host memory all instances may hold together;
//! - [`mcp`]: the registry of loaded plugins, dispatch and the MCP handler;
//! - [`load`]: the plugins folder read into registry entries;
//! - [`http`]: the Streamable HTTP transport;
//! - [`config`]: `warden.toml`, assembled from each stage's settings;
//! - [`cli`]: the command line.
//!
//! [`limits`] and [`loading`] are the per-call limits and the loading
//! settings, used by the policy and load stages.

pub mod budget;
pub mod cli;
pub mod config;
pub mod http;
pub mod input;
pub mod limits;
pub mod load;
pub mod loading;
pub mod mcp;
pub mod observe;
pub mod policy;
pub mod sandbox;
