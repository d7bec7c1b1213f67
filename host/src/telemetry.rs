//! Logging: tracing to stderr, filtered like `RUST_LOG`. Never stdout, which
//! carries the MCP protocol in stdio mode.

use tracing_subscriber::EnvFilter;

/// The filter used when neither `WARDEN_LOG` nor `RUST_LOG` is set.
pub const DEFAULT_FILTER: &str = "warn,warden=info";

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. The filter comes from `WARDEN_LOG`, else
/// `RUST_LOG`, else [`DEFAULT_FILTER`]; an invalid filter falls back to the
/// default with a warning.
pub fn init(format: LogFormat) {
    let spec = std::env::var("WARDEN_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| DEFAULT_FILTER.to_string());
    let (filter, bad_filter) = match EnvFilter::try_new(&spec) {
        Ok(filter) => (filter, None),
        Err(e) => (EnvFilter::new(DEFAULT_FILTER), Some(e)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if installed.is_ok()
        && let Some(e) = bad_filter
    {
        tracing::warn!("invalid log filter `{spec}` ({e}); using `{DEFAULT_FILTER}`");
    }
}
