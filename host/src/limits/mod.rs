//! Resource limits for one tool call: what a plugin may request, what the host
//! grants, and the human formats used for sizes and durations.
//!
//! A plugin's manifest may *request* limits (`[limits]`, parsed into
//! [`LimitsRequest`]); the operator's config sets the *defaults* used when a
//! plugin requests nothing and the *ceilings* no request may exceed
//! ([`LimitBounds`]). [`Limits::resolve`] combines them into concrete
//! [`Limits`], clamping requests above a ceiling and reporting each clamp as a
//! [`LimitNotice`].
//!
//! Sizes are written like `"64MiB"`, `"1 GiB"`, `"500kB"` or a plain integer
//! number of bytes; durations like `"10s"`, `"500ms"`, `"2min"`. [`ByteSize`]
//! and [`HumanDuration`] parse these and display values in the same format
//! (`"256 MiB"`, `"10 s"`), so what the host prints can be pasted back into a
//! config file.
//!
//! - `table`: the limits, one row each (key, unit, default, ceiling), from
//!   which [`LimitKind`], [`Limits`], [`LimitsRequest`] and the `[limits]`
//!   parser are generated;
//! - `units`: how each kind of value (fuel, count, size, duration) is read,
//!   shown and serialized;
//! - `values`: [`LimitValue`], [`ByteSize`], [`HumanDuration`] and their
//!   display;
//! - `parse`: reading sizes, durations and counts, and [`LimitValueError`];
//! - `merge`: [`Limits::resolve`], clamps and overrides, [`LimitBounds`].

use std::fmt;

mod merge;
mod parse;
mod table;
mod units;
mod values;

pub use merge::{LimitBounds, LimitNotice};
pub use parse::LimitValueError;
pub(crate) use parse::{parse_duration_value, parse_size_value};
pub(crate) use table::RawLimits;
pub use table::{LimitKind, Limits, LimitsRequest};
pub use values::{ByteSize, HumanDuration, LimitValue};

impl fmt::Display for LimitKind {
    /// Displays the config key, e.g. `max_output`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Default for Limits {
    /// [`Limits::DEFAULTS`].
    fn default() -> Self {
        Limits::DEFAULTS
    }
}

impl fmt::Display for Limits {
    /// `fuel 10_000_000_000, memory 256 MiB, timeout 10 s, max_output 1 MiB, max_log 64 KiB,
    /// max_handles 10_000, host_memory 64 MiB, max_open_files 256, max_write 64 MiB`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, kind) in LimitKind::ALL.into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{kind} {}", self.get(kind))?;
        }
        Ok(())
    }
}

impl LimitsRequest {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == LimitsRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn limits_display_like_config_values() {
        assert_eq!(
            Limits::DEFAULTS.describe(LimitKind::Memory),
            "memory limit of 256 MiB"
        );
        assert_eq!(
            Limits::DEFAULTS.describe(LimitKind::Timeout),
            "timeout of 10 s"
        );
        assert_eq!(
            Limits::DEFAULTS.to_string(),
            "fuel 10_000_000_000, memory 256 MiB, timeout 10 s, max_output 1 MiB, max_log 64 KiB, \
             max_handles 10_000, host_memory 64 MiB, max_open_files 256, max_write 64 MiB, \
             max_client_requests 8, max_sampling_tokens 16_384, client_wait 5 min"
        );
        assert_eq!(
            Limits::CEILINGS.to_string(),
            "fuel 1_000_000_000_000, memory 4 GiB, timeout 5 min, max_output 16 MiB, max_log 1 MiB, \
             max_handles 1_000_000, host_memory 1 GiB, max_open_files 4_096, max_write 64 GiB, \
             max_client_requests 1_000, max_sampling_tokens 10_000_000, client_wait 1 h"
        );
        assert_eq!(
            Limits::DEFAULTS.describe(LimitKind::MaxOpenFiles),
            "open file limit of 256"
        );
        assert_eq!(
            Limits::DEFAULTS.host_bytes_ceiling(),
            (256 << 20) + (64 << 20)
        );
    }

    #[test]
    fn kinds_keys_and_nouns() {
        let keys: Vec<&str> = LimitKind::ALL.iter().map(|k| k.key()).collect();
        assert_eq!(
            keys,
            [
                "fuel",
                "memory",
                "timeout",
                "max_output",
                "max_log",
                "max_handles",
                "host_memory",
                "max_open_files",
                "max_write",
                "max_client_requests",
                "max_sampling_tokens",
                "client_wait"
            ]
        );
        for kind in LimitKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.key())
            );
            assert!(!kind.noun().is_empty());
        }
        assert_eq!(LimitKind::MaxOutput.noun(), "output size limit");
    }

    #[test]
    fn defaults_are_within_ceilings() {
        for kind in LimitKind::ALL {
            assert!(
                Limits::DEFAULTS.get(kind) <= Limits::CEILINGS.get(kind),
                "{kind}"
            );
        }
    }

    #[test]
    fn raw_limits_validate() {
        let raw: RawLimits = toml::from_str(
            r#"
            fuel = 5_000_000_000
            memory = "128MiB"
            timeout = "5s"
            max_output = 1048576
            max_log = "64KiB"
            max_handles = 500
            host_memory = "16MiB"
            max_open_files = 32
            max_write = "1GiB"
            max_client_requests = 4
            max_sampling_tokens = 2000
            client_wait = "1min"
            "#,
        )
        .expect("valid limits");
        assert_eq!(
            raw.validate(),
            Ok(LimitsRequest {
                fuel: Some(5_000_000_000),
                memory_bytes: Some(128 << 20),
                timeout: Some(Duration::from_secs(5)),
                max_output_bytes: Some(1 << 20),
                max_log_bytes: Some(64 << 10),
                max_handles: Some(500),
                host_memory_bytes: Some(16 << 20),
                max_open_files: Some(32),
                max_write_bytes: Some(1 << 30),
                max_client_requests: Some(4),
                max_sampling_tokens: Some(2000),
                client_wait: Some(Duration::from_secs(60)),
            })
        );
        assert!(RawLimits::default().validate().unwrap().is_empty());
    }

    #[test]
    fn raw_limits_refuse_zero_negative_and_wrong_types() {
        let check = |text: &str, kind: LimitKind, message: &str| {
            let raw: RawLimits = toml::from_str(text).expect("valid TOML");
            let (k, e) = raw.validate().expect_err(text);
            assert_eq!((k, e.to_string().as_str()), (kind, message), "{text}");
        };
        check(
            "fuel = 0",
            LimitKind::Fuel,
            "0 is not allowed: a zero limit would fail every call (remove the key to use the default)",
        );
        check(
            "fuel = -5",
            LimitKind::Fuel,
            "invalid number -5 (expected a positive integer such as 5_000_000_000)",
        );
        check(
            "fuel = \"5G\"",
            LimitKind::Fuel,
            "invalid number \"5G\" (expected a positive integer such as 5_000_000_000)",
        );
        check(
            "memory = \"0MiB\"",
            LimitKind::Memory,
            "\"0MiB\" is not allowed: a zero limit would fail every call (remove the key to use the default)",
        );
        check(
            "memory = -1",
            LimitKind::Memory,
            "invalid size -1 (expected a size such as \"64MiB\")",
        );
        check(
            "max_log = true",
            LimitKind::MaxLog,
            "invalid size true (expected a size such as \"64MiB\")",
        );
        check(
            "timeout = 5",
            LimitKind::Timeout,
            "invalid duration 5 (expected a duration such as \"10s\" or \"500ms\")",
        );
        check(
            "timeout = \"0ms\"",
            LimitKind::Timeout,
            "\"0ms\" is not allowed: a zero limit would fail every call (remove the key to use the default)",
        );
        check(
            "max_handles = 0",
            LimitKind::MaxHandles,
            "0 is not allowed: a zero limit would fail every call (remove the key to use the default)",
        );
        check(
            "max_write = \"1 megabyte\"",
            LimitKind::MaxWrite,
            "invalid size \"1 megabyte\" (expected a size such as \"64MiB\")",
        );
        let unknown = toml::from_str::<RawLimits>("cpu = 1")
            .expect_err("unknown key")
            .to_string();
        assert!(
            unknown.contains(
                "unknown field `cpu`, expected one of `fuel`, `memory`, `timeout`, `max_output`, \
                 `max_log`, `max_handles`, `host_memory`, `max_open_files`, `max_write`"
            ),
            "{unknown}"
        );
    }

    #[test]
    fn limits_serialize_with_units() {
        let json = serde_json::to_value(Limits::DEFAULTS).expect("serializable");
        assert_eq!(
            json,
            serde_json::json!({
                "fuel": 10_000_000_000u64,
                "memory_bytes": 268_435_456u64,
                "timeout_ms": 10_000u64,
                "max_output_bytes": 1_048_576u64,
                "max_log_bytes": 65_536u64,
                "max_handles": 10_000u64,
                "host_memory_bytes": 67_108_864u64,
                "max_open_files": 256u64,
                "max_write_bytes": 67_108_864u64,
                "max_client_requests": 8u64,
                "max_sampling_tokens": 16_384u64,
                "client_wait_ms": 300_000u64,
            })
        );
        let json = serde_json::to_value(LimitsRequest {
            timeout: Some(Duration::from_secs(5)),
            ..LimitsRequest::default()
        })
        .expect("serializable");
        assert_eq!(json["timeout_ms"], 5000);
        assert_eq!(json["fuel"], serde_json::Value::Null);
        assert_eq!(
            json.as_object().map(|o| o.len()),
            Some(LimitKind::ALL.len())
        );
    }
}
