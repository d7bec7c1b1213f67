//! Time zones: IANA names (via chrono-tz) and fixed UTC offsets.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use chrono::format::Item;
use chrono::offset::LocalResult;
use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use warden_plugin::ToolError;

/// A time zone: an IANA zone or a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// An IANA time zone such as `Europe/Paris` (also `UTC`).
    Iana(Tz),
    /// A fixed offset such as `+05:30`.
    Fixed(FixedOffset),
}

/// An instant as seen in a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Zoned {
    /// The local date and time with its offset.
    pub(crate) local: DateTime<FixedOffset>,
    /// The zone's abbreviation at that instant (`CEST`, `EST`, `+03`), for
    /// IANA zones.
    pub(crate) abbreviation: Option<String>,
}

impl Zone {
    /// UTC.
    pub(crate) const UTC: Zone = Zone::Iana(Tz::UTC);

    /// Parses an IANA name (case-insensitive, spaces allowed for `_`), `Z`,
    /// or a fixed offset (`+05:30`, `-0800`, `+02`, `UTC+2`).
    pub(crate) fn parse(input: &str) -> Result<Zone, ToolError> {
        let s = input.trim();
        if s.eq_ignore_ascii_case("z") {
            return Ok(Zone::UTC);
        }
        if let Some(offset) = parse_fixed_offset(s) {
            return Ok(Zone::Fixed(offset));
        }
        let underscored = s.replace(' ', "_");
        for candidate in [s, underscored.as_str()] {
            if let Ok(tz) = Tz::from_str(candidate).or_else(|_| Tz::from_str_insensitive(candidate))
            {
                return Ok(Zone::Iana(tz));
            }
        }
        Err(ToolError::invalid_arguments(unknown_zone_message(input)))
    }

    /// The zone's name: the IANA name, or the offset (`+05:30`).
    pub(crate) fn name(&self) -> String {
        match self {
            Zone::Iana(tz) => tz.name().to_string(),
            Zone::Fixed(offset) => offset.to_string(),
        }
    }

    /// The instant `t` in this zone.
    pub(crate) fn view(&self, t: DateTime<Utc>) -> Zoned {
        match self {
            Zone::Iana(tz) => {
                let local = t.with_timezone(tz);
                Zoned {
                    abbreviation: Some(local.offset().to_string()),
                    local: local.fixed_offset(),
                }
            }
            Zone::Fixed(offset) => Zoned {
                local: t.with_timezone(offset),
                abbreviation: None,
            },
        }
    }

    /// The instant at which clocks in this zone show `local`. Fails when that
    /// local time does not exist (skipped by a daylight-saving change) or
    /// exists twice (repeated when clocks go back).
    pub(crate) fn resolve(&self, local: NaiveDateTime) -> Result<DateTime<Utc>, ToolError> {
        let result = match self {
            Zone::Iana(tz) => map_local(tz.from_local_datetime(&local)),
            Zone::Fixed(offset) => map_local(offset.from_local_datetime(&local)),
        };
        match result {
            LocalResult::Single(t) => Ok(t),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (
                    self.view(a).local.offset().fix(),
                    self.view(b).local.offset().fix(),
                );
                Err(ToolError::invalid_arguments(format!(
                    "{local} happens twice in {} (clocks go back); add an explicit offset, \
                     such as {}{a} or {}{b}",
                    self.name(),
                    local.format("%Y-%m-%dT%H:%M:%S"),
                    local.format("%Y-%m-%dT%H:%M:%S"),
                )))
            }
            LocalResult::None => Err(ToolError::invalid_arguments(format!(
                "{local} does not exist in {} (clocks skip it when daylight saving time starts); \
                 use a time outside the gap or add an explicit offset",
                self.name()
            ))),
        }
    }

    /// Formats the instant `t` in this zone with parsed strftime items.
    pub(crate) fn format(
        &self,
        t: DateTime<Utc>,
        items: &[Item<'_>],
    ) -> Result<String, fmt::Error> {
        match self {
            Zone::Iana(tz) => format_items(t.with_timezone(tz), items),
            Zone::Fixed(offset) => format_items(t.with_timezone(offset), items),
        }
    }
}

fn map_local<T: TimeZone>(r: LocalResult<DateTime<T>>) -> LocalResult<DateTime<Utc>> {
    match r {
        LocalResult::Single(t) => LocalResult::Single(t.to_utc()),
        LocalResult::Ambiguous(a, b) => LocalResult::Ambiguous(a.to_utc(), b.to_utc()),
        LocalResult::None => LocalResult::None,
    }
}

fn format_items<T: TimeZone>(t: DateTime<T>, items: &[Item<'_>]) -> Result<String, fmt::Error>
where
    T::Offset: fmt::Display,
{
    let mut out = String::new();
    write!(out, "{}", t.format_with_items(items.iter()))?;
    Ok(out)
}

/// `+05:30`, `-0800`, `+02`, optionally after `UTC` or `GMT`.
fn parse_fixed_offset(s: &str) -> Option<FixedOffset> {
    let upper = s.to_ascii_uppercase();
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() > 2 => digits.split_at(digits.len() - 2),
        None => (digits, "0"),
    };
    let all_digits =
        |p: &str| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(hours) || !all_digits(minutes) {
        return None;
    }
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

fn unknown_zone_message(input: &str) -> String {
    // "Paris" -> "Europe/Paris": suggest zones whose last segment matches.
    let wanted = input.trim().replace(' ', "_");
    let last = wanted.rsplit('/').next().unwrap_or(&wanted);
    let suggestions: Vec<&str> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| {
            !last.is_empty()
                && name
                    .rsplit('/')
                    .next()
                    .is_some_and(|l| l.eq_ignore_ascii_case(last))
        })
        .take(3)
        .collect();
    let mut message = format!("unknown time zone '{input}'; ");
    if suggestions.is_empty() {
        message.push_str(
            "use an IANA name such as 'Europe/Paris' or 'America/New_York', 'UTC', \
             or a fixed offset such as '+05:30'",
        );
    } else {
        let quoted: Vec<String> = suggestions.iter().map(|s| format!("'{s}'")).collect();
        let _ = write!(message, "did you mean {}?", quoted.join(" or "));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn message(r: Result<impl fmt::Debug, ToolError>) -> String {
        match r {
            Err(ToolError::InvalidArguments(m)) => m,
            other => panic!("expected invalid-arguments, got {other:?}"),
        }
    }

    #[test]
    fn parses_zones() {
        assert_eq!(
            Zone::parse("Europe/Paris").unwrap(),
            Zone::Iana(Tz::Europe__Paris)
        );
        assert_eq!(
            Zone::parse("europe/paris").unwrap(),
            Zone::Iana(Tz::Europe__Paris)
        );
        assert_eq!(
            Zone::parse("America/New York").unwrap(),
            Zone::Iana(Tz::America__New_York)
        );
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::UTC);
        assert_eq!(Zone::parse("z").unwrap(), Zone::UTC);
        let fixed = |s: i32| Zone::Fixed(FixedOffset::east_opt(s).unwrap());
        assert_eq!(Zone::parse("+05:30").unwrap(), fixed(19800));
        assert_eq!(Zone::parse("-0800").unwrap(), fixed(-28800));
        assert_eq!(Zone::parse("UTC+2").unwrap(), fixed(7200));
        assert_eq!(Zone::parse("+05:30").unwrap().name(), "+05:30");
    }

    #[test]
    fn unknown_zone_messages_are_actionable() {
        assert_eq!(
            message(Zone::parse("Mars/Base")),
            "unknown time zone 'Mars/Base'; use an IANA name such as 'Europe/Paris' or \
             'America/New_York', 'UTC', or a fixed offset such as '+05:30'"
        );
        assert_eq!(
            message(Zone::parse("Paris")),
            "unknown time zone 'Paris'; did you mean 'Europe/Paris'?"
        );
        assert!(message(Zone::parse("+25:00")).contains("unknown time zone"));
    }

    #[test]
    fn views_and_abbreviations() {
        let t = DateTime::parse_from_rfc3339("2024-07-01T12:00:00Z")
            .unwrap()
            .to_utc();
        let z = Zone::parse("Europe/Paris").unwrap().view(t);
        assert_eq!(z.local.to_rfc3339(), "2024-07-01T14:00:00+02:00");
        assert_eq!(z.abbreviation.as_deref(), Some("CEST"));
    }

    #[test]
    fn resolves_local_times_and_reports_dst_edges() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        let at = |d: u32, h: u32, m: u32| {
            NaiveDate::from_ymd_opt(2024, 3, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
        };
        assert_eq!(
            paris.resolve(at(1, 12, 0)).unwrap().to_rfc3339(),
            "2024-03-01T11:00:00+00:00"
        );
        let m = message(paris.resolve(at(31, 2, 30)));
        assert!(m.contains("does not exist in Europe/Paris"), "{m}");
        let oct = NaiveDate::from_ymd_opt(2024, 10, 27)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        let m = message(paris.resolve(oct));
        assert!(
            m.contains("happens twice") && m.contains("+02:00") && m.contains("+01:00"),
            "{m}"
        );
    }
}
