//! Warden: an MCP server that hosts tools as sandboxed WebAssembly components.
//!
//! Data flows one way: plugins folder -> [`manifest`] + [`limits`] ->
//! [`sandbox`] (compiled component) -> [`registry`] -> [`server`] (MCP) ->
//! [`dispatch`] -> a fresh sandboxed instance per call.

pub mod cli;
pub mod config;
pub mod dispatch;
pub mod grants;
pub mod limits;
pub mod loader;
pub mod manifest;
pub mod policy;
pub mod registry;
pub mod sandbox;
pub mod server;
pub mod telemetry;
