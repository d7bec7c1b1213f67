//! Warden: an MCP server that hosts tools as sandboxed WebAssembly components.
//!
//! Data flows one way: plugins folder -> [`manifest`] + [`limits`] ->
//! [`sandbox`] (compiled component) -> [`registry`] -> [`server`] (MCP) ->
//! [`dispatch`] -> a fresh sandboxed instance per call.

pub mod announce;
pub mod audit;
pub mod bounded_file;
pub mod budget;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod descriptor_caps;
pub mod dispatch;
pub mod grants;
pub mod http;
pub mod jsonl;
pub mod limits;
pub mod loader;
pub mod loading;
pub mod lock;
pub mod manifest;
pub mod metrics;
pub mod names;
pub mod observe;
pub mod ops;
pub mod policy;
pub mod primitives;
pub mod registry;
pub mod render;
pub mod sandbox;
pub mod server;
pub mod spans;
pub mod telemetry;
pub mod tool_schema;
