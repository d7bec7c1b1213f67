//! Logging into the host's log, and progress reports.
//!
//! Messages go to the host's log, tagged with the plugin and tool; they never
//! reach the MCP client's protocol stream. Use the functions
//! (`warden_plugin::log::info("...")`) or the formatting macros
//! (`warden_plugin::info!("{} rows", n)`).
//!
//! Outside `wasm32` (native unit tests) messages are written to stderr and
//! progress reports are dropped.

use std::fmt;

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the tool could handle.
    Warn,
    /// Something failed.
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

/// Records `message` at `level` in the host's log. Long messages are
/// truncated by the host.
pub fn log(level: Level, message: impl AsRef<str>) {
    imp::log(level, message.as_ref());
}

/// Logs at [`Level::Trace`].
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message);
}

/// Logs at [`Level::Debug`].
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message);
}

/// Logs at [`Level::Info`].
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message);
}

/// Logs at [`Level::Warn`].
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message);
}

/// Logs at [`Level::Error`].
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message);
}

/// Reports progress of the current call. `progress` should increase with
/// each report; `total` is the expected final value when known. The host
/// forwards reports to the client when it asked for progress and drops them
/// otherwise.
///
/// ```no_run
/// warden_plugin::progress(1.0, 3.0, "parsed the input");
/// warden_plugin::progress(2.0, None, None);
/// ```
pub fn progress<'a>(
    progress: f64,
    total: impl Into<Option<f64>>,
    message: impl Into<Option<&'a str>>,
) {
    imp::progress(progress, total.into(), message.into());
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::__bindings::warden::plugin::log as wit_log;
    use crate::__bindings::warden::plugin::progress as wit_progress;

    pub(super) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => wit_log::Level::Trace,
            Level::Debug => wit_log::Level::Debug,
            Level::Info => wit_log::Level::Info,
            Level::Warn => wit_log::Level::Warn,
            Level::Error => wit_log::Level::Error,
        };
        wit_log::log(level, message);
    }

    pub(super) fn progress(progress: f64, total: Option<f64>, message: Option<&str>) {
        wit_progress::report(progress, total, message);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;

    pub(super) fn log(level: Level, message: &str) {
        eprintln!("[{level}] {message}");
    }

    pub(super) fn progress(_progress: f64, _total: Option<f64>, _message: Option<&str>) {}
}

/// Logs a formatted message at trace level: `trace!("{} items", n)`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Trace, ::std::format!($($arg)+)) };
}

/// Logs a formatted message at debug level: `debug!("{} items", n)`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Debug, ::std::format!($($arg)+)) };
}

/// Logs a formatted message at info level: `info!("{} items", n)`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Info, ::std::format!($($arg)+)) };
}

/// Logs a formatted message at warn level: `warn!("{} items", n)`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Warn, ::std::format!($($arg)+)) };
}

/// Logs a formatted message at error level: `error!("{} items", n)`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Error, ::std::format!($($arg)+)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_fallbacks_do_not_panic() {
        info("hello");
        crate::warn!("{} warnings", 2);
        crate::error!("x");
        crate::trace!("x");
        crate::debug!("x");
        error(String::from("owned"));
        progress(1.0, 3.0, "one");
        progress(2.0, None, None);
        progress(3.0, Some(3.0), Some("three"));
        assert_eq!(Level::Warn.to_string(), "warn");
        assert!(Level::Error > Level::Info);
    }
}
