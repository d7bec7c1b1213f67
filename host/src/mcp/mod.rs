//! The MCP side: the registry of loaded plugins and what they offer, the
//! dispatcher that runs one call in a fresh instance, and the rmcp handler.
//!
//! - [`registry`] (with [`catalog`], [`names`], [`descriptor_caps`] and
//!   [`tool_schema`]): the tools, resources and prompts clients see;
//! - [`definitions`]: those definitions hashed for the lock, held back when
//!   they differ from the approved ones, and compared for `warden approve`;
//! - [`dispatch`] and [`primitives`]: tool calls, resource reads and prompt
//!   gets, each in a fresh sandbox instance;
//! - [`client_peer`] and [`rounds`]: a plugin's requests to the client, sent
//!   during the call (2025-11-25) or asked in `input_required` rounds
//!   (2026-07-28);
//! - [`announce`]: list-changed notifications to sessions;
//! - [`permission`]: the person's answers to permission questions, audited
//!   and ("allow always") recorded in the lock;
//! - [`server`]: the rmcp `ServerHandler`, shared by stdio and HTTP.

pub mod access;
pub mod announce;
pub mod call_result;
pub mod catalog;
pub(crate) mod client_peer;
pub mod consent;
pub mod definitions;
pub mod descriptor_caps;
pub mod dispatch;
pub(crate) mod forward;
pub(crate) mod gate;
pub mod lines;
pub mod names;
pub mod permission;
pub mod primitives;
pub mod registry;
pub(crate) mod rounds;
pub mod server;
pub mod summary;
pub mod tool_schema;
pub mod wire;
