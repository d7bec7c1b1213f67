//! What Warden reads before any stage interprets it: files read with a size
//! cap ([`bounded_file`]) and the error every `warden.toml` section reports
//! ([`settings`]).

pub mod bounded_file;
pub mod settings;
