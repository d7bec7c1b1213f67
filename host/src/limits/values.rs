//! Limit values and the human formats they are shown in: counts as TOML
//! integers (`10_000_000_000`), sizes as `256 MiB`, durations as `10 s`.
//! What is shown can be pasted back into a config file.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// The value of one limit, displayed in the human format of config files:
/// fuel and counts as `10_000_000_000`, sizes as `256 MiB`, durations as `10 s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LimitValue {
    /// An instruction count.
    Fuel(u64),
    /// A number of things (handles, open files).
    Count(u64),
    /// A number of bytes.
    Bytes(u64),
    /// A duration.
    Duration(Duration),
}

impl fmt::Display for LimitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LimitValue::Fuel(n) | LimitValue::Count(n) => write_grouped(f, n),
            LimitValue::Bytes(n) => ByteSize(n).fmt(f),
            LimitValue::Duration(d) => HumanDuration(d).fmt(f),
        }
    }
}

/// Writes `n` with `_` between groups of three digits, as a TOML integer.
fn write_grouped(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    f.pad(&out)
}

/// A size in bytes, parsed from and displayed in the human format.
///
/// Parsing (by the `parse-size` crate) accepts a whole or decimal number,
/// optional spaces, and a unit ending in `B` (case-insensitive): `B`, `KiB`,
/// `MiB`, `GiB`, `TiB`, `PiB`, `EiB` (powers of 1024) or `kB`, `MB`, `GB`,
/// `TB`, `PB`, `EB` (powers of 1000); a plain number is a number of bytes.
/// A unit without the `B` (`64M`) is refused as ambiguous. Fractions of a
/// byte are rounded to the nearest byte. Displays with the unit that gives
/// the smallest whole number (`268435456` → `256 MiB`, `1000000` → `1 MB`,
/// `1500` → `1500 B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// The units sizes are displayed in.
const SIZE_UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("kB", 1_000),
    ("KiB", 1 << 10),
    ("MB", 1_000_000),
    ("MiB", 1 << 20),
    ("GB", 1_000_000_000),
    ("GiB", 1 << 30),
    ("TB", 1_000_000_000_000),
    ("TiB", 1 << 40),
];

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (quotient, unit) = SIZE_UNITS
            .iter()
            .filter(|&&(_, m)| self.0.is_multiple_of(m))
            .map(|&(name, m)| (self.0 / m, name))
            .min_by_key(|&(q, _)| q)
            .unwrap_or((self.0, "B"));
        f.pad(&format!("{quotient} {unit}"))
    }
}

impl Serialize for ByteSize {
    /// Serializes as a number of bytes.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

/// A duration, parsed from and displayed in the human format.
///
/// Parsing (by the `humantime` crate, case-insensitive) accepts a whole or
/// decimal number, optional spaces and a unit: `ns`, `us`/`µs`, `ms`,
/// `s`/`sec`/`second(s)`, `m`/`min`/`minute(s)`, `h`/`hr`/`hour(s)`,
/// `d`/`day(s)`, `w`/`week(s)`, and sums such as `1m 30s`. The unit is
/// required. Displays with the largest unit that gives a whole number:
/// `10 s`, `500 ms`, `5 min`, `2 h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

/// The units durations are displayed in, largest first, in nanoseconds.
const DURATION_UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("min", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.pad("0 s");
        }
        let (quotient, unit) = DURATION_UNITS
            .iter()
            .find(|&&(_, n)| nanos.is_multiple_of(n))
            .map(|&(name, n)| (nanos / n, name))
            .unwrap_or((nanos, "ns"));
        f.pad(&format!("{quotient} {unit}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_display_in_the_smallest_whole_unit_and_round_trip() {
        for (bytes, text) in [
            (0, "0 B"),
            (1, "1 B"),
            (1500, "1500 B"),
            (1024, "1 KiB"),
            (1000, "1 kB"),
            (64 * 1024, "64 KiB"),
            (256 << 20, "256 MiB"),
            (1536 << 20, "1536 MiB"),
            (4 << 30, "4 GiB"),
            (1_000_000, "1 MB"),
            (3 << 40, "3 TiB"),
            (u64::MAX, "18446744073709551615 B"),
        ] {
            assert_eq!(ByteSize(bytes).to_string(), text);
            assert_eq!(text.parse(), Ok(ByteSize(bytes)), "{text} round-trips");
        }
    }

    #[test]
    fn durations_display_in_the_largest_whole_unit_and_round_trip() {
        for (d, text) in [
            (Duration::ZERO, "0 s"),
            (Duration::from_secs(10), "10 s"),
            (Duration::from_secs(90), "90 s"),
            (Duration::from_secs(300), "5 min"),
            (Duration::from_secs(7200), "2 h"),
            (Duration::from_millis(1500), "1500 ms"),
            (Duration::from_micros(3), "3 us"),
            (Duration::from_nanos(1_000_001), "1000001 ns"),
        ] {
            assert_eq!(HumanDuration(d).to_string(), text);
            assert_eq!(text.parse(), Ok(HumanDuration(d)), "{text} round-trips");
        }
    }

    #[test]
    fn counts_display_as_toml_integers() {
        assert_eq!(
            LimitValue::Fuel(10_000_000_000).to_string(),
            "10_000_000_000"
        );
        assert_eq!(LimitValue::Fuel(999).to_string(), "999");
        assert_eq!(LimitValue::Count(1000).to_string(), "1_000");
        assert_eq!(LimitValue::Fuel(0).to_string(), "0");
        assert_eq!(format!("{:>8}", LimitValue::Count(4096)), "   4_096");
    }
}
