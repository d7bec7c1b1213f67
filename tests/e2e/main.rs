//! End-to-end tests: the real `warden` binary, real wasm components built from
//! source in this repo, and real MCP clients.

mod bad_input;
mod cli;
mod examples;
mod grants;
mod http;
mod isolation;
mod limits;
mod python;
mod support;
