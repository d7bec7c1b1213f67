//! What Warden reads before any stage interprets it: files read with a size
//! cap ([`bounded_file`]), the error every `warden.toml` section reports
//! ([`settings`]), and the answers to Warden's own HTTP requests, with a size
//! cap and a timeout ([`remote`]).

pub mod bounded_file;
pub mod remote;
pub mod settings;
