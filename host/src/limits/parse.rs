//! Reading sizes, durations and counts as written in manifests and config
//! files. The `parse-size` crate reads sizes and `humantime` durations; this
//! module sets the rules around them (a unit ends in `B`, units are
//! case-insensitive, no zero limits, at most `u64::MAX` nanoseconds) and
//! turns their errors into messages that show the value as written.

use std::str::FromStr;
use std::time::Duration;

use parse_size::{ByteSuffix, Config};
use thiserror::Error;

use super::{ByteSize, HumanDuration};

/// Why a limit value (or any size or duration) in a manifest or config is
/// not valid. `value` is the offending value as written (strings quoted).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LimitValueError {
    /// Not a size.
    #[error("invalid size {value} (expected a size such as \"64MiB\")")]
    InvalidSize {
        /// The value as written.
        value: String,
    },
    /// A size too large to represent.
    #[error("size {value} is too large")]
    SizeTooLarge {
        /// The value as written.
        value: String,
    },
    /// Not a duration.
    #[error("invalid duration {value} (expected a duration such as \"10s\" or \"500ms\")")]
    InvalidDuration {
        /// The value as written.
        value: String,
    },
    /// A duration too long to represent.
    #[error("duration {value} is too long")]
    DurationTooLong {
        /// The value as written.
        value: String,
    },
    /// A duration with a fraction finer than a nanosecond, or than a
    /// second for hours and longer units (or, with a fraction, too long).
    #[error(
        "duration {value} cannot be represented: a fraction must come to whole nanoseconds \
         (whole seconds for hours and longer units), such as \"1.5s\" or \"90min\""
    )]
    DurationInexact {
        /// The value as written.
        value: String,
    },
    /// Not a positive whole number.
    #[error("invalid number {value} (expected a positive integer such as 5_000_000_000)")]
    InvalidCount {
        /// The value as written.
        value: String,
    },
    /// Zero, which would fail every call.
    #[error(
        "{value} is not allowed: a zero limit would fail every call (remove the key to use the default)"
    )]
    Zero {
        /// The value as written.
        value: String,
    },
}

/// Sizes with a unit: the `B` is required, so that `64M` (MB or MiB?) is
/// refused rather than guessed.
const SIZE_WITH_UNIT: Config = Config::new().with_byte_suffix(ByteSuffix::Require);
/// Sizes without a unit: a number of bytes.
const SIZE_IN_BYTES: Config = Config::new();

impl FromStr for ByteSize {
    type Err = LimitValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let config = if text.bytes().any(|b| b.is_ascii_alphabetic()) {
            &SIZE_WITH_UNIT
        } else {
            &SIZE_IN_BYTES
        };
        match config.parse_size(text) {
            Ok(bytes) => Ok(ByteSize(bytes)),
            Err(parse_size::Error::PosOverflow) => Err(LimitValueError::SizeTooLarge {
                value: format!("{s:?}"),
            }),
            Err(_) => Err(LimitValueError::InvalidSize {
                value: format!("{s:?}"),
            }),
        }
    }
}

impl FromStr for HumanDuration {
    type Err = LimitValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value = || format!("{s:?}");
        // humantime's units are case-sensitive (`M` is a month); ours are not.
        let text = s.trim().to_ascii_lowercase();
        let duration = match humantime::parse_duration(&text) {
            Ok(duration) => duration,
            Err(humantime::DurationError::NumberOverflow) if text.contains('.') => {
                return Err(LimitValueError::DurationInexact { value: value() });
            }
            Err(humantime::DurationError::NumberOverflow) => {
                return Err(LimitValueError::DurationTooLong { value: value() });
            }
            Err(_) => return Err(LimitValueError::InvalidDuration { value: value() }),
        };
        // Deadlines are computed in nanoseconds; about 584 years is plenty.
        if u64::try_from(duration.as_nanos()).is_err() {
            return Err(LimitValueError::DurationTooLong { value: value() });
        }
        Ok(HumanDuration(duration))
    }
}

/// A positive integer (TOML integer): fuel, or a count of handles or files.
pub(super) fn parse_count(value: &toml::Value) -> Result<u64, LimitValueError> {
    match value {
        toml::Value::Integer(0) => Err(LimitValueError::Zero {
            value: value.to_string(),
        }),
        toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| LimitValueError::InvalidCount {
            value: value.to_string(),
        }),
        _ => Err(LimitValueError::InvalidCount {
            value: value.to_string(),
        }),
    }
}

/// A size string or a number of bytes; never zero.
pub(crate) fn parse_size_value(value: &toml::Value) -> Result<u64, LimitValueError> {
    let bytes = match value {
        toml::Value::String(s) => s.parse::<ByteSize>()?.0,
        toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| LimitValueError::InvalidSize {
            value: value.to_string(),
        })?,
        _ => {
            return Err(LimitValueError::InvalidSize {
                value: value.to_string(),
            });
        }
    };
    if bytes == 0 {
        return Err(LimitValueError::Zero {
            value: value.to_string(),
        });
    }
    Ok(bytes)
}

/// A duration string such as `"5s"`; never zero.
pub(crate) fn parse_duration_value(value: &toml::Value) -> Result<Duration, LimitValueError> {
    let toml::Value::String(s) = value else {
        return Err(LimitValueError::InvalidDuration {
            value: value.to_string(),
        });
    };
    let duration = s.parse::<HumanDuration>()?.0;
    if duration.is_zero() {
        return Err(LimitValueError::Zero {
            value: value.to_string(),
        });
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(s: &str) -> Result<u64, LimitValueError> {
        s.parse::<ByteSize>().map(|b| b.0)
    }

    fn duration(s: &str) -> Result<Duration, LimitValueError> {
        s.parse::<HumanDuration>().map(|d| d.0)
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(size("64MiB"), Ok(64 << 20));
        assert_eq!(size("64 MiB"), Ok(64 << 20));
        assert_eq!(size(" 1GiB "), Ok(1 << 30));
        assert_eq!(size("1gib"), Ok(1 << 30));
        assert_eq!(size("1.5KiB"), Ok(1536));
        assert_eq!(size("0.5 MiB"), Ok(512 * 1024));
        assert_eq!(size("500kB"), Ok(500_000));
        assert_eq!(size("500KB"), Ok(500_000));
        assert_eq!(size("2MB"), Ok(2_000_000));
        assert_eq!(size("1TiB"), Ok(1 << 40));
        assert_eq!(size("2PiB"), Ok(2 << 50));
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("4096B"), Ok(4096));
        assert_eq!(size("4096 b"), Ok(4096));
        assert_eq!(size("1_000 MiB"), Ok(1000 << 20), "digit groups as in TOML");
        assert_eq!(
            size("1.3 B"),
            Ok(1),
            "fractions of a byte round to the nearest"
        );
        assert_eq!(
            size("1.5 B"),
            Ok(2),
            "fractions of a byte round to the nearest"
        );
        assert_eq!(size("5.MiB"), Ok(5 << 20));
        assert_eq!(size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            size("0"),
            Ok(0),
            "zero is refused by the limit parser, not here"
        );
    }

    #[test]
    fn bad_sizes_are_refused() {
        for bad in [
            "",
            " ",
            "MiB",
            "12 parsecs",
            "1 megabyte",
            "-1MiB",
            "1..5MiB",
            ".5MiB",
            "1 Mi B",
            "1e6",
            "0x10",
            "1,000",
            "1 KiBs",
            "64M",
            "64 Ki",
            "+5B",
            "5 B B",
        ] {
            assert_eq!(
                size(bad),
                Err(LimitValueError::InvalidSize {
                    value: format!("{bad:?}")
                }),
                "{bad:?}"
            );
        }
        for huge in [
            "16777216TiB",
            "16 EiB",
            "18446744073709551616",
            "99999999999999999999999999999999999999999999",
        ] {
            assert_eq!(
                size(huge),
                Err(LimitValueError::SizeTooLarge {
                    value: format!("{huge:?}")
                }),
                "{huge:?}"
            );
        }
        assert_eq!(
            size("12 parsecs").unwrap_err().to_string(),
            r#"invalid size "12 parsecs" (expected a size such as "64MiB")"#
        );
        assert_eq!(
            size("16 EiB").unwrap_err().to_string(),
            r#"size "16 EiB" is too large"#
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("5 s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration(" 5 seconds "), Ok(Duration::from_secs(5)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("2M"), Ok(Duration::from_secs(120)), "not months");
        assert_eq!(duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("1 HOUR"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("0.5h"), Ok(Duration::from_secs(1800)));
        assert_eq!(duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
        assert_eq!(duration("0"), Ok(Duration::ZERO), "refused as zero later");
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in [
            "",
            " ",
            "5",
            "s",
            "5 parsecs",
            "5 fortnights",
            "forever",
            "-5s",
            "5 s s",
            "5sec!",
            ".5s",
            "5.s",
            "1e3ms",
            "1,5s",
        ] {
            assert_eq!(
                duration(bad),
                Err(LimitValueError::InvalidDuration {
                    value: format!("{bad:?}")
                }),
                "{bad:?}"
            );
        }
        for long in ["100000000000h", "600 years", "99999999999999999999s"] {
            assert_eq!(
                duration(long),
                Err(LimitValueError::DurationTooLong {
                    value: format!("{long:?}")
                }),
                "{long:?}"
            );
        }
        for inexact in ["0.5ns", "0.0000000001s", "0.123h"] {
            assert!(
                matches!(
                    duration(inexact),
                    Err(LimitValueError::DurationInexact { .. })
                ),
                "{inexact:?}: {:?}",
                duration(inexact)
            );
        }
        assert_eq!(
            duration("5 fortnights").unwrap_err().to_string(),
            r#"invalid duration "5 fortnights" (expected a duration such as "10s" or "500ms")"#
        );
        assert_eq!(
            duration("0.123h").unwrap_err().to_string(),
            "duration \"0.123h\" cannot be represented: a fraction must come to whole \
             nanoseconds (whole seconds for hours and longer units), such as \"1.5s\" or \"90min\""
        );
    }

    #[test]
    fn config_values_refuse_zero_negative_and_wrong_types() {
        let value = |text: &str| -> toml::Value {
            toml::from_str::<toml::Table>(&format!("v = {text}")).unwrap()["v"].clone()
        };
        let size = |text: &str| parse_size_value(&value(text)).map_err(|e| e.to_string());
        assert_eq!(size("\"1KiB\""), Ok(1024));
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(
            size("\"0MiB\""),
            Err(
                "\"0MiB\" is not allowed: a zero limit would fail every call (remove the key \
                 to use the default)"
                    .into()
            )
        );
        assert_eq!(
            size("-1"),
            Err("invalid size -1 (expected a size such as \"64MiB\")".into())
        );
        assert_eq!(
            size("1.5"),
            Err("invalid size 1.5 (expected a size such as \"64MiB\")".into())
        );
        let time = |text: &str| parse_duration_value(&value(text)).map_err(|e| e.to_string());
        assert_eq!(time("\"2s\""), Ok(Duration::from_secs(2)));
        assert_eq!(
            time("\"0\""),
            Err(
                "\"0\" is not allowed: a zero limit would fail every call (remove the key to \
                 use the default)"
                    .into()
            )
        );
        assert_eq!(
            time("5"),
            Err("invalid duration 5 (expected a duration such as \"10s\" or \"500ms\")".into())
        );
        let count = |text: &str| parse_count(&value(text)).map_err(|e| e.to_string());
        assert_eq!(count("1_000"), Ok(1000));
        assert_eq!(
            count("\"5G\""),
            Err("invalid number \"5G\" (expected a positive integer such as 5_000_000_000)".into())
        );
    }
}
