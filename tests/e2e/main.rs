//! End-to-end tests: the real `warden` binary, real wasm components built from
//! source in this repo, and real MCP clients.

mod artifact_cache;
mod bad_input;
mod budget;
mod check;
mod cli;
mod client_io;
mod client_requests;
mod conformance;
mod consent;
mod credentials;
mod definitions;
mod describe;
mod dir_swap;
mod examples;
mod folder;
mod grants;
mod host_resources;
mod http;
mod http_limits;
mod isolation;
mod languages;
mod limits;
mod live;
mod lock;
mod oauth;
mod operator_text;
mod permission;
mod person;
mod primitives;
mod python;
mod remote;
mod remote_support;
mod scaffold;
mod setup;
mod support;
