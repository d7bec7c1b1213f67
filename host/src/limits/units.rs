//! The kinds of limit values (instruction counts, counts, sizes, durations)
//! and, for each, how it is read from a config value, shown and serialized.

use std::time::Duration;

use super::parse::{parse_count, parse_duration_value, parse_size_value};
use super::{LimitValue, LimitValueError};

/// How the values of one kind of limit are read, shown and serialized.
pub(super) trait Unit {
    /// The value as [`super::Limits`] holds it.
    type Raw: Copy + Ord;
    /// The value for display and comparison.
    fn value(raw: Self::Raw) -> LimitValue;
    /// Reads a value from a manifest or config file; never zero.
    fn parse(value: &toml::Value) -> Result<Self::Raw, LimitValueError>;
    /// The value in JSON output (durations in milliseconds).
    fn json(raw: Self::Raw) -> u64;
}

/// An instruction count (wasmtime fuel), a TOML integer.
pub(super) enum Fuel {}
/// A number of things (handles, open files), a TOML integer.
pub(super) enum Count {}
/// A number of bytes: a size string or a TOML integer.
pub(super) enum Bytes {}
/// A duration string.
pub(super) enum Time {}

impl Unit for Fuel {
    type Raw = u64;
    fn value(raw: u64) -> LimitValue {
        LimitValue::Fuel(raw)
    }
    fn parse(value: &toml::Value) -> Result<u64, LimitValueError> {
        parse_count(value)
    }
    fn json(raw: u64) -> u64 {
        raw
    }
}

impl Unit for Count {
    type Raw = u64;
    fn value(raw: u64) -> LimitValue {
        LimitValue::Count(raw)
    }
    fn parse(value: &toml::Value) -> Result<u64, LimitValueError> {
        parse_count(value)
    }
    fn json(raw: u64) -> u64 {
        raw
    }
}

impl Unit for Bytes {
    type Raw = u64;
    fn value(raw: u64) -> LimitValue {
        LimitValue::Bytes(raw)
    }
    fn parse(value: &toml::Value) -> Result<u64, LimitValueError> {
        parse_size_value(value)
    }
    fn json(raw: u64) -> u64 {
        raw
    }
}

impl Unit for Time {
    type Raw = Duration;
    fn value(raw: Duration) -> LimitValue {
        LimitValue::Duration(raw)
    }
    fn parse(value: &toml::Value) -> Result<Duration, LimitValueError> {
        parse_duration_value(value)
    }
    fn json(raw: Duration) -> u64 {
        u64::try_from(raw.as_millis()).unwrap_or(u64::MAX)
    }
}
