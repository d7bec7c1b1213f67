//! Logging: tracing to stderr, filtered like `RUST_LOG`. Never stdout, which
//! carries the MCP protocol in stdio mode.
//!
//! Log lines follow the rendering rule of [`crate::observe::render`] whatever wrote
//! their fields (a plugin's log message, its stderr, a tool name, an error
//! quoting a manifest): in the text format every field value is escaped, so
//! one event is one line; in the JSON format, which escapes control
//! characters itself, the remaining unsafe characters become `\uXXXX`
//! escapes. Warden writes no colour: ANSI is off in both formats, on a
//! terminal or not (tracing-subscriber would otherwise turn it on by
//! default, terminal or not, unless `NO_COLOR` is set).

use std::fmt;
use std::io;

use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

use crate::observe::render;

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
        .with_ansi(false);
    let installed = match format {
        LogFormat::Text => builder
            .fmt_fields(EscapedFields)
            .with_writer(io::stderr)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_writer(|| JsonSafe(io::stderr()))
            .try_init(),
    };
    if installed.is_ok()
        && let Some(e) = bad_filter
    {
        tracing::warn!("invalid log filter `{spec}` ({e}); using `{DEFAULT_FILTER}`");
    }
}

/// Formats the fields of events and spans for the text log: the message,
/// then `name=value` pairs, each value escaped by [`render::escape`].
#[derive(Debug, Default, Clone, Copy)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = EscapingVisitor {
            writer: &mut writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'a, 'writer> {
    writer: &'a mut Writer<'writer>,
    result: fmt::Result,
    first: bool,
}

impl EscapingVisitor<'_, '_> {
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let separator = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        let value = render::escape(value);
        self.result = match field.name() {
            "message" => write!(self.writer, "{separator}{value}"),
            name => write!(
                self.writer,
                "{separator}{}={value}",
                name.trim_start_matches("r#")
            ),
        };
    }
}

impl Visit for EscapingVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, value);
        } else {
            self.write(field, &format!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, &format!("{value:?}"));
    }
}

/// A writer for the JSON log: rewrites the unsafe characters serde_json
/// leaves raw (see [`render::json`]). tracing-subscriber writes each event
/// with one `write_all`, so every write is whole JSON text.
struct JsonSafe<W>(W);

impl<W: io::Write> io::Write for JsonSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => {
                self.0.write_all(render::json(text).as_bytes())?;
                Ok(buf.len())
            }
            Err(_) => self.0.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_event_is_one_line_whatever_its_fields_hold() {
        let buffer = Buffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .fmt_fields(EscapedFields)
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let text = "line\n2026-01-01 INFO warden: all plugins approved\x1b[2J\u{202e}";
            tracing::info!(plugin = %text, tool = text, "{text}");
        });
        let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1, "{log}");
        assert_eq!(
            log,
            " INFO warden::observe::telemetry::tests: line\\n2026-01-01 INFO warden: all plugins approved\\x1b[2J\\u{202e} \
             plugin=line\\n2026-01-01 INFO warden: all plugins approved\\x1b[2J\\u{202e} \
             tool=\"line\\n2026-01-01 INFO warden: all plugins approved\\u{1b}[2J\\u{202e}\"\n"
        );
    }
}
