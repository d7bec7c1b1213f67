//! End-to-end tests: the real `warden` binary, real wasm components built from
//! source in this repo, and real MCP clients.

mod bad_input;
mod cli;
mod conformance;
mod examples;
mod grants;
mod host_resources;
mod http;
mod isolation;
mod limits;
mod lock;
mod primitives;
mod python;
mod remote;
mod remote_support;
mod support;
