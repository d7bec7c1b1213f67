//! `time`: a Warden example plugin for dates, times and time zones.
//!
//! Tools: `now`, `convert`, `parse`, `format` and `diff`. Time zones are IANA
//! names (the tz database is compiled in, via chrono-tz) or fixed offsets.
//! `now` reads the WASI wall clock; nothing else touches the outside world.

mod input;
mod zone;

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden_plugin::{Tool, ToolError, ToolOutput};

use input::{Parsed, TimeInput, parse_with_format, strftime_items};
use zone::Zone;

/// The tools of this plugin.
pub fn tools() -> Vec<Tool> {
    vec![
        Tool::structured(
            "now",
            "The current date and time, in UTC or in a given time zone.",
            now,
        )
        .title("Current time")
        .read_only()
        .closed_world(),
        Tool::structured(
            "convert",
            "Convert a point in time to another time zone. Times without an offset are read \
             in `from` (default UTC).",
            convert,
        )
        .title("Convert between time zones")
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::structured(
            "parse",
            "Parse a date/time string, automatically or with a strftime format, into RFC 3339 \
             and unix seconds.",
            parse,
        )
        .title("Parse a date/time")
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::new(
            "format",
            "Format a point in time with a strftime format (e.g. '%A %d %B %Y, %H:%M %Z') in a \
             time zone. The formats 'rfc3339' and 'rfc2822' are also accepted.",
            format,
        )
        .title("Format a date/time")
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::structured(
            "diff",
            "The duration from `start` to `end` (negative when `end` is earlier).",
            diff,
        )
        .title("Time between two dates")
        .read_only()
        .idempotent()
        .closed_world(),
    ]
}

warden_plugin::export_plugin!(tools);

/// A point in time as seen in a time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
struct TimeInfo {
    /// RFC 3339 date-time in `timezone`, e.g. `2024-05-01T14:00:00+02:00`.
    rfc3339: String,
    /// Seconds since the Unix epoch (1970-01-01T00:00:00Z), rounded down.
    unix: i64,
    /// Milliseconds since the Unix epoch, rounded down.
    unix_ms: i64,
    /// The time zone: an IANA name or a fixed offset.
    timezone: String,
    /// The offset from UTC at that instant, e.g. `+02:00`.
    offset: String,
    /// The zone's abbreviation at that instant (`CEST`, `EST`), for IANA zones.
    #[serde(skip_serializing_if = "Option::is_none")]
    abbreviation: Option<String>,
    /// Day of the week in `timezone`, e.g. `Wednesday`.
    weekday: String,
}

fn info(t: DateTime<Utc>, zone: &Zone, precision: SecondsFormat) -> TimeInfo {
    let view = zone.view(t);
    TimeInfo {
        rfc3339: view.local.to_rfc3339_opts(precision, true),
        unix: t.timestamp(),
        unix_ms: t.timestamp_millis(),
        timezone: zone.name(),
        offset: view.local.offset().to_string(),
        abbreviation: view.abbreviation,
        weekday: view.local.format("%A").to_string(),
    }
}

fn zone_or_utc(zone: Option<&str>) -> Result<Zone, ToolError> {
    zone.map_or(Ok(Zone::UTC), Zone::parse)
}

// ---------------------------------------------------------------- now

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NowArgs {
    /// Time zone: an IANA name such as `Europe/Paris`, `UTC` (the default), or a
    /// fixed offset such as `+05:30`.
    timezone: Option<String>,
}

fn now(args: NowArgs) -> Result<TimeInfo, ToolError> {
    let zone = zone_or_utc(args.timezone.as_deref())?;
    Ok(info(Utc::now(), &zone, SecondsFormat::Secs))
}

// ---------------------------------------------------------------- convert

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConvertArgs {
    /// The point in time: unix seconds, `now`, RFC 3339 (`2024-05-01T12:00:00Z`), RFC 2822,
    /// or a local `YYYY-MM-DD HH:MM[:SS]` read in `from`.
    time: TimeInput,
    /// Target time zone (IANA name or fixed offset such as `+05:30`).
    to: String,
    /// Time zone of `time` when it has no offset. Default: UTC.
    from: Option<String>,
}

fn convert(args: ConvertArgs) -> Result<TimeInfo, ToolError> {
    let from = zone_or_utc(args.from.as_deref())?;
    let to = Zone::parse(&args.to)?;
    let t = args.time.parse("time")?.resolve(&from)?;
    Ok(info(t, &to, SecondsFormat::AutoSi))
}

// ---------------------------------------------------------------- parse

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ParseArgs {
    /// The date/time text, e.g. `2024-05-01 14:30` or `01/05/2024`.
    text: String,
    /// strftime format of `text`, e.g. `%d/%m/%Y %H:%M`. When omitted, RFC 3339,
    /// RFC 2822, `YYYY-MM-DD[ HH:MM[:SS]]` and unix seconds are recognized.
    format: Option<String>,
    /// Time zone for a text without an offset, and of the result. Default: the
    /// text's own offset if it has one, else UTC.
    timezone: Option<String>,
}

fn parse(args: ParseArgs) -> Result<TimeInfo, ToolError> {
    let parsed: Parsed = match &args.format {
        Some(format) => parse_with_format(&args.text, format)?,
        None => input::parse_auto(&args.text, "text")?,
    };
    let zone = match (&args.timezone, parsed.offset()) {
        (Some(zone), _) => Zone::parse(zone)?,
        (None, Some(offset)) if offset.local_minus_utc() != 0 => Zone::Fixed(offset),
        (None, _) => Zone::UTC,
    };
    let t = parsed.resolve(&zone)?;
    Ok(info(t, &zone, SecondsFormat::AutoSi))
}

// ---------------------------------------------------------------- format

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FormatArgs {
    /// The point in time: unix seconds, `now`, RFC 3339, RFC 2822, or a local
    /// `YYYY-MM-DD HH:MM[:SS]` read in `timezone`.
    time: TimeInput,
    /// strftime format, e.g. `%Y-%m-%d %H:%M:%S %Z`, or `rfc3339` / `rfc2822`.
    format: String,
    /// Time zone to show the time in (IANA name or fixed offset). Default: UTC.
    timezone: Option<String>,
}

fn format(args: FormatArgs) -> Result<ToolOutput, ToolError> {
    let zone = zone_or_utc(args.timezone.as_deref())?;
    let t = args.time.parse("time")?.resolve(&zone)?;
    let text = match args.format.to_ascii_lowercase().as_str() {
        "rfc3339" => zone
            .view(t)
            .local
            .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "rfc2822" => zone.view(t).local.to_rfc2822(),
        _ => {
            let items = strftime_items(&args.format)?;
            zone.format(t, &items).map_err(|_| {
                ToolError::invalid_arguments(format!(
                    "`format` {:?} cannot be applied to this date",
                    args.format
                ))
            })?
        }
    };
    Ok(ToolOutput::text(text))
}

// ---------------------------------------------------------------- diff

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DiffArgs {
    /// The earlier point in time (unix seconds, `now`, RFC 3339, RFC 2822, or a local
    /// `YYYY-MM-DD HH:MM[:SS]` read in `timezone`).
    start: TimeInput,
    /// The later point in time, in the same forms.
    end: TimeInput,
    /// Time zone for inputs without an offset. Default: UTC.
    timezone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
struct Difference {
    /// Whole seconds from start to end (negative when end is earlier).
    seconds: i64,
    /// Milliseconds from start to end.
    milliseconds: i64,
    /// The same duration in hours.
    hours: f64,
    /// The same duration in days of 24 hours.
    days: f64,
    /// The duration in words, e.g. `2 days, 3 hours and 4 minutes`.
    human: String,
}

fn diff(args: DiffArgs) -> Result<Difference, ToolError> {
    let zone = zone_or_utc(args.timezone.as_deref())?;
    let start = args.start.parse("start")?.resolve(&zone)?;
    let end = args.end.parse("end")?.resolve(&zone)?;
    let delta = end - start;
    let ms = delta.num_milliseconds();
    let mut human = humanize(ms.unsigned_abs());
    if ms < 0 {
        human.push_str(" (end is before start)");
    }
    Ok(Difference {
        seconds: delta.num_seconds(),
        milliseconds: ms,
        hours: ms as f64 / 3_600_000.0,
        days: ms as f64 / 86_400_000.0,
        human,
    })
}

fn humanize(ms: u64) -> String {
    let secs = ms / 1000;
    let units = [
        (secs / 86_400, "day"),
        (secs / 3600 % 24, "hour"),
        (secs / 60 % 60, "minute"),
    ];
    let mut parts: Vec<String> = units
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    let (s, frac) = (secs % 60, ms % 1000);
    if s > 0 || frac > 0 || parts.is_empty() {
        let number = if frac > 0 {
            format!("{s}.{frac:03}").trim_end_matches('0').to_string()
        } else {
            s.to_string()
        };
        let plural = if number == "1" { "" } else { "s" };
        parts.push(format!("{number} second{plural}"));
    }
    match parts.len() {
        1 => parts.remove(0),
        n => format!("{} and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use warden_plugin::{call_tool, describe_tools};

    fn call(name: &str, args: Value) -> Result<ToolOutput, ToolError> {
        call_tool(&tools(), name, &args.to_string())
    }

    fn structured(name: &str, args: Value) -> Value {
        call(name, args).unwrap().structured.unwrap()
    }

    fn invalid(name: &str, args: Value) -> String {
        match call(name, args) {
            Err(ToolError::InvalidArguments(m)) => m,
            other => panic!("expected invalid-arguments, got {other:?}"),
        }
    }

    #[test]
    fn descriptors_are_valid() {
        let d = describe_tools(&tools()).unwrap();
        let names: Vec<_> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["now", "convert", "parse", "format", "diff"]);
        for t in &d {
            let schema: Value = serde_json::from_str(&t.input_schema).unwrap();
            assert_eq!(schema["type"], "object", "{}", t.name);
        }
        let convert: Value = serde_json::from_str(&d[1].input_schema).unwrap();
        assert!(
            convert["properties"]["time"]["anyOf"].is_array(),
            "{convert}"
        );
    }

    #[test]
    fn now_in_zones() {
        let utc = structured("now", json!({}));
        assert!(utc["rfc3339"].as_str().unwrap().ends_with('Z'), "{utc}");
        assert_eq!(utc["timezone"], "UTC");
        assert!(utc["unix"].as_i64().unwrap() > 1_700_000_000);
        let tokyo = structured("now", json!({"timezone": "Asia/Tokyo"}));
        assert!(
            tokyo["rfc3339"].as_str().unwrap().ends_with("+09:00"),
            "{tokyo}"
        );
        assert_eq!(tokyo["abbreviation"], "JST");
        assert_eq!(
            invalid("now", json!({"timezone": "Mars/Base"})),
            "unknown time zone 'Mars/Base'; use an IANA name such as 'Europe/Paris' or \
             'America/New_York', 'UTC', or a fixed offset such as '+05:30'"
        );
    }

    #[test]
    fn converts() {
        let r = structured(
            "convert",
            json!({"time": "2024-07-01T12:00:00Z", "to": "America/New_York"}),
        );
        assert_eq!(r["rfc3339"], "2024-07-01T08:00:00-04:00");
        assert_eq!(r["abbreviation"], "EDT");
        assert_eq!(r["weekday"], "Monday");
        let r = structured(
            "convert",
            json!({"time": "2024-01-15 09:00", "from": "Europe/Paris", "to": "Asia/Kolkata"}),
        );
        assert_eq!(r["rfc3339"], "2024-01-15T13:30:00+05:30");
        let r = structured("convert", json!({"time": 0, "to": "+01:00"}));
        assert_eq!(r["rfc3339"], "1970-01-01T01:00:00+01:00");
        assert!(r.get("abbreviation").is_none());
        let m = invalid(
            "convert",
            json!({"time": "2024-03-31 02:30", "from": "Europe/Paris", "to": "UTC"}),
        );
        assert!(m.contains("does not exist"), "{m}");
        let m = invalid("convert", json!({"time": "yesterday", "to": "UTC"}));
        assert!(m.contains("`time`: could not read"), "{m}");
    }

    #[test]
    fn parses() {
        let r = structured("parse", json!({"text": "2024-05-01 14:30"}));
        assert_eq!(r["rfc3339"], "2024-05-01T14:30:00Z");
        assert_eq!(r["unix"], 1714573800);
        let r = structured(
            "parse",
            json!({"text": "01/05/2024 14:30", "format": "%d/%m/%Y %H:%M", "timezone": "Europe/Paris"}),
        );
        assert_eq!(r["rfc3339"], "2024-05-01T14:30:00+02:00");
        assert_eq!(r["unix"], 1714566600);
        let r = structured("parse", json!({"text": "2024-05-01T14:30:00+02:00"}));
        assert_eq!(r["rfc3339"], "2024-05-01T14:30:00+02:00");
        assert_eq!(r["timezone"], "+02:00");
        let m = invalid("parse", json!({"text": "2024-05-01", "format": "%d/%m/%Y"}));
        assert!(m.contains("could not parse"), "{m}");
    }

    #[test]
    fn formats() {
        let f = |args: Value| call("format", args).unwrap().text_content();
        assert_eq!(
            f(
                json!({"time": 1714573800, "format": "%A %d %B %Y, %H:%M %Z", "timezone": "Europe/Paris"})
            ),
            "Wednesday 01 May 2024, 16:30 CEST"
        );
        assert_eq!(
            f(json!({"time": "2024-05-01T14:30:00Z", "format": "rfc2822"})),
            "Wed, 1 May 2024 14:30:00 +0000"
        );
        assert_eq!(
            f(json!({"time": "1714573800", "format": "%s|%j|%%"})),
            "1714573800|122|%"
        );
        let m = invalid("format", json!({"time": 0, "format": "%Q"}));
        assert!(m.contains("not a valid strftime format"), "{m}");
        let m = invalid(
            "format",
            json!({"time": 0, "format": "%Y", "timezone": "Nowhere"}),
        );
        assert!(m.contains("unknown time zone 'Nowhere'"), "{m}");
    }

    #[test]
    fn diffs() {
        let r = structured(
            "diff",
            json!({"start": "2024-05-01T00:00:00Z", "end": "2024-05-03T03:04:05.5Z"}),
        );
        assert_eq!(r["seconds"], 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
        assert_eq!(r["human"], "2 days, 3 hours, 4 minutes and 5.5 seconds");
        let r = structured("diff", json!({"start": 3600, "end": 0}));
        assert_eq!(r["seconds"], -3600);
        assert_eq!(r["human"], "1 hour (end is before start)");
        assert_eq!(humanize(0), "0 seconds");
        assert_eq!(humanize(1000), "1 second");
        assert_eq!(humanize(61_000), "1 minute and 1 second");
    }
}
