//! Parsing timestamps and date/time strings.

use chrono::format::{Item, ParseErrorKind, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use warden_plugin::ToolError;

use crate::zone::Zone;

/// A point in time as given by a caller.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum TimeInput {
    /// Seconds since the Unix epoch.
    Unix(i64),
    /// `now`, an RFC 3339 or RFC 2822 date-time, `YYYY-MM-DD[ HH:MM[:SS]]`
    /// (read in the given zone), or unix seconds as text (`1700000000.5`).
    Text(String),
}

/// What a date/time string said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A full instant with its UTC offset.
    Instant(DateTime<FixedOffset>),
    /// A wall-clock date and time without a zone.
    Local(NaiveDateTime),
}

impl Parsed {
    /// The instant, reading a local time in `zone`.
    pub(crate) fn resolve(self, zone: &Zone) -> Result<DateTime<Utc>, ToolError> {
        match self {
            Parsed::Instant(t) => Ok(t.to_utc()),
            Parsed::Local(local) => zone.resolve(local),
        }
    }

    /// The offset the input carried, if any.
    pub(crate) fn offset(self) -> Option<FixedOffset> {
        match self {
            Parsed::Instant(t) => Some(*t.offset()),
            Parsed::Local(_) => None,
        }
    }
}

pub(crate) const ACCEPTED: &str = "accepted: 'now', RFC 3339 ('2024-05-01T12:00:00Z', \
    '2024-05-01T14:00:00+02:00'), RFC 2822 ('Wed, 01 May 2024 12:00:00 +0000'), \
    '2024-05-01 12:00[:00]', '2024-05-01', or unix seconds";

impl TimeInput {
    /// Interprets the input; `field` names the argument in error messages.
    pub(crate) fn parse(&self, field: &str) -> Result<Parsed, ToolError> {
        match self {
            TimeInput::Unix(secs) => from_unix(*secs, 0, field),
            TimeInput::Text(text) => parse_auto(text, field),
        }
    }
}

fn from_unix(secs: i64, nanos: u32, field: &str) -> Result<Parsed, ToolError> {
    DateTime::from_timestamp(secs, nanos)
        .map(|t| Parsed::Instant(t.fixed_offset()))
        .ok_or_else(|| {
            ToolError::invalid_arguments(format!(
                "`{field}`: unix timestamp {secs} is out of range (seconds, not milliseconds, \
                 between -8334601228800 and 8210266876799)"
            ))
        })
}

/// Parses a date/time string in one of the formats listed in [`ACCEPTED`].
pub(crate) fn parse_auto(text: &str, field: &str) -> Result<Parsed, ToolError> {
    let s = text.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(Parsed::Instant(Utc::now().fixed_offset()));
    }
    if let Some(parsed) = parse_unix_text(s, field) {
        return parsed;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Parsed::Instant(t));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Ok(Parsed::Instant(t));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f %z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Ok(Parsed::Instant(t));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(Parsed::Local(t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Parsed::Local(d.and_time(Default::default())));
    }
    Err(ToolError::invalid_arguments(format!(
        "`{field}`: could not read {text:?} as a date/time; {ACCEPTED}"
    )))
}

/// `1700000000`, `@1700000000`, `-1.5`: unix seconds as text.
fn parse_unix_text(s: &str, field: &str) -> Option<Result<Parsed, ToolError>> {
    let s = s.strip_prefix('@').unwrap_or(s);
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 9 {
        return None;
    }
    let out_of_range = || {
        Some(Err(ToolError::invalid_arguments(format!(
            "`{field}`: unix timestamp {s} is out of range"
        ))))
    };
    let Ok(int) = int.parse::<i128>() else {
        return out_of_range();
    };
    let frac_nanos: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().unwrap_or(0)
    };
    let mut total = int * 1_000_000_000 + frac_nanos;
    if negative {
        total = -total;
    }
    let (Ok(secs), Ok(nanos)) = (
        i64::try_from(total.div_euclid(1_000_000_000)),
        u32::try_from(total.rem_euclid(1_000_000_000)),
    ) else {
        return out_of_range();
    };
    Some(from_unix(secs, nanos, field))
}

/// Parses `text` with a strftime `format`. The format may include an offset
/// (`%z`, `%:z`), giving an instant; without one the result is a local time;
/// a format with a date but no time gives midnight.
pub(crate) fn parse_with_format(text: &str, format: &str) -> Result<Parsed, ToolError> {
    let items = strftime_items(format)?;
    let mut parsed = chrono::format::Parsed::new();
    chrono::format::parse(&mut parsed, text, items.iter()).map_err(|e| {
        let hint = match e.kind() {
            ParseErrorKind::Invalid => "the text does not match the format",
            ParseErrorKind::TooShort => "the text ends before the format does",
            ParseErrorKind::TooLong => "the text goes on after the format ends",
            ParseErrorKind::OutOfRange => "a field is out of range",
            ParseErrorKind::Impossible => "the fields contradict each other",
            ParseErrorKind::NotEnough => "the format does not give enough fields for a date",
            _ => "the text does not match the format",
        };
        ToolError::invalid_arguments(format!(
            "could not parse {text:?} with format {format:?}: {hint} ({e})"
        ))
    })?;
    let not_enough = |e: chrono::ParseError| {
        ToolError::invalid_arguments(format!(
            "could not parse {text:?} with format {format:?}: {e}; the format needs at least \
             a full date (e.g. '%Y-%m-%d', '%d/%m/%Y') or '%s'"
        ))
    };
    if let Ok(t) = parsed.to_datetime() {
        return Ok(Parsed::Instant(t));
    }
    let date = parsed.to_naive_date().map_err(not_enough)?;
    match parsed.to_naive_time() {
        Ok(time) => Ok(Parsed::Local(date.and_time(time))),
        // A date without a time: midnight. Only when no time field was given.
        Err(_) if parsed.hour_div_12().is_none() && parsed.minute().is_none() => {
            Ok(Parsed::Local(date.and_time(Default::default())))
        }
        Err(e) => Err(not_enough(e)),
    }
}

/// Parses a strftime format, rejecting unknown specifiers.
pub(crate) fn strftime_items(format: &str) -> Result<Vec<Item<'_>>, ToolError> {
    if format.is_empty() {
        return Err(ToolError::invalid_arguments(
            "`format` is empty; use a strftime format such as '%Y-%m-%d %H:%M:%S'",
        ));
    }
    StrftimeItems::new(format).parse().map_err(|_| {
        ToolError::invalid_arguments(format!(
            "`format` {format:?} is not a valid strftime format; use specifiers such as %Y \
             (year), %m (month), %d (day), %H:%M:%S (time), %z (offset), %Z (zone \
             abbreviation), %A (weekday), %s (unix seconds); write %% for a literal %"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn local(s: &str) -> Parsed {
        Parsed::Local(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
    }

    fn err(r: Result<Parsed, ToolError>) -> String {
        match r {
            Err(ToolError::InvalidArguments(m)) => m,
            other => panic!("expected invalid-arguments, got {other:?}"),
        }
    }

    #[test]
    fn auto_formats() {
        let p = |s: &str| parse_auto(s, "time").unwrap();
        assert_eq!(
            p("2024-05-01T12:00:00Z"),
            Parsed::Instant(instant("2024-05-01T12:00:00Z"))
        );
        assert_eq!(
            p(" 2024-05-01T14:00:00+02:00 "),
            Parsed::Instant(instant("2024-05-01T14:00:00+02:00"))
        );
        assert_eq!(
            p("Wed, 01 May 2024 12:00:00 +0000"),
            Parsed::Instant(instant("2024-05-01T12:00:00Z"))
        );
        assert_eq!(
            p("2024-05-01 12:00:00+0200"),
            Parsed::Instant(instant("2024-05-01T12:00:00+02:00"))
        );
        assert_eq!(p("2024-05-01 12:30"), local("2024-05-01 12:30:00"));
        assert_eq!(p("2024-05-01T12:30:05"), local("2024-05-01 12:30:05"));
        assert_eq!(p("2024-05-01"), local("2024-05-01 00:00:00"));
        assert_eq!(p("0"), Parsed::Instant(instant("1970-01-01T00:00:00Z")));
        assert_eq!(
            p("@1700000000.25"),
            Parsed::Instant(instant("2023-11-14T22:13:20.25Z"))
        );
        assert_eq!(
            p("-1.5"),
            Parsed::Instant(instant("1969-12-31T23:59:58.5Z"))
        );
        assert!(matches!(p("now"), Parsed::Instant(_)));
    }

    #[test]
    fn auto_errors() {
        let m = err(parse_auto("next tuesday", "start"));
        assert!(
            m.starts_with("`start`: could not read \"next tuesday\""),
            "{m}"
        );
        assert!(m.contains("RFC 3339"), "{m}");
        let m = err(parse_auto("99999999999999999999", "time"));
        assert!(m.contains("out of range"), "{m}");
        let m = err(TimeInput::Unix(i64::MAX).parse("time"));
        assert!(m.contains("out of range"), "{m}");
    }

    #[test]
    fn with_format() {
        assert_eq!(
            parse_with_format("01/05/2024 14:03", "%d/%m/%Y %H:%M").unwrap(),
            local("2024-05-01 14:03:00")
        );
        assert_eq!(
            parse_with_format("01/05/2024", "%d/%m/%Y").unwrap(),
            local("2024-05-01 00:00:00")
        );
        assert_eq!(
            parse_with_format("2024-05-01 14:03 +0200", "%Y-%m-%d %H:%M %z").unwrap(),
            Parsed::Instant(instant("2024-05-01T14:03:00+02:00"))
        );
        assert_eq!(
            parse_with_format("1700000000", "%s").unwrap(),
            Parsed::Instant(instant("2023-11-14T22:13:20Z"))
        );
        let m = err(parse_with_format("2024-05-01", "%d/%m/%Y"));
        assert!(m.contains("does not match"), "{m}");
        let m = err(parse_with_format("14:03", "%H:%M"));
        assert!(m.contains("full date"), "{m}");
        let m = err(parse_with_format("x", "%Q"));
        assert!(m.contains("not a valid strftime format"), "{m}");
    }
}
