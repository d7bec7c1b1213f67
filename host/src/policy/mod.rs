//! What a plugin may do: what it asks for ([`manifest`]), what the operator
//! allows ([`operator`]), what was approved ([`lock`]), and the resolved
//! [`grants`] the sandbox enforces, with the HTTP decision ([`http`]).

pub mod access;
pub mod consent;
pub mod egress;
pub mod grants;
pub mod http;
pub mod lock;
pub mod manifest;
pub mod operator;

pub use http::{Decision, NO_GRANT, decide};
