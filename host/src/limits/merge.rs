//! Combining a plugin's request with the operator's defaults and ceilings:
//! [`Limits::resolve`], and the clamps and overrides the config applies.

use std::fmt;

use serde::Serialize;

use super::table::FieldMerge;
use super::units::Unit;
use super::{LimitKind, LimitValue, Limits, LimitsRequest};

impl Limits {
    /// The most host memory one call may use under these limits, in bytes:
    /// its linear memory plus what the host allocates on its behalf
    /// (`host_memory`). A server-wide memory budget reserves this much per
    /// running call. Memory the host needs for any call regardless of its
    /// limits (the instance itself, about a few hundred KiB) is counted in
    /// `host_memory` too, so nothing else is needed on top.
    pub fn host_bytes_ceiling(&self) -> u64 {
        self.memory_bytes.saturating_add(self.host_memory_bytes)
    }

    /// A phrase for messages such as `"memory limit of 256 MiB"` or
    /// `"timeout of 10 s"`.
    pub fn describe(&self, kind: LimitKind) -> String {
        format!("{} of {}", kind.noun(), self.get(kind))
    }

    /// Combines a plugin's request with the operator's defaults and ceilings.
    ///
    /// Each limit is the requested value, or the default when nothing is
    /// requested, and never more than the ceiling. A request above its ceiling
    /// is clamped and reported as a [`LimitNotice`]; a request below the
    /// default is granted as is (a plugin may always ask for less). A default
    /// above its ceiling (which [`crate::config::Config`] refuses) is clamped
    /// silently.
    pub fn resolve(
        defaults: &Limits,
        ceilings: &Limits,
        request: &LimitsRequest,
    ) -> (Limits, Vec<LimitNotice>) {
        let mut resolve = Resolve::default();
        let limits = Limits::merge(defaults, ceilings, request, &mut resolve);
        (limits, resolve.notices)
    }

    /// Each limit lowered to at most its ceiling.
    pub fn clamped_to(&self, ceilings: &Limits) -> Limits {
        Limits::merge(self, ceilings, &LimitsRequest::default(), &mut Lowest)
    }

    /// Replaces the limits set in `request`, keeping the others.
    pub fn with_overrides(self, request: &LimitsRequest) -> Limits {
        Limits::merge(&self, &self, request, &mut Requested)
    }
}

/// [`Limits::resolve`] for one limit: `(default, ceiling, requested)`.
#[derive(Debug, Default)]
struct Resolve {
    notices: Vec<LimitNotice>,
}

impl FieldMerge for Resolve {
    fn field<U: Unit>(
        &mut self,
        kind: LimitKind,
        default: U::Raw,
        ceiling: U::Raw,
        requested: Option<U::Raw>,
    ) -> U::Raw {
        match requested {
            Some(requested) if requested > ceiling => {
                self.notices.push(LimitNotice {
                    kind,
                    requested: U::value(requested),
                    granted: U::value(ceiling),
                });
                ceiling
            }
            Some(requested) => requested,
            None => default.min(ceiling),
        }
    }
}

/// The lower of the two limits.
#[derive(Debug)]
struct Lowest;

impl FieldMerge for Lowest {
    fn field<U: Unit>(&mut self, _: LimitKind, a: U::Raw, b: U::Raw, _: Option<U::Raw>) -> U::Raw {
        a.min(b)
    }
}

/// The requested limit, else the first.
#[derive(Debug)]
struct Requested;

impl FieldMerge for Requested {
    fn field<U: Unit>(
        &mut self,
        _: LimitKind,
        a: U::Raw,
        _: U::Raw,
        requested: Option<U::Raw>,
    ) -> U::Raw {
        requested.unwrap_or(a)
    }
}

/// The operator's defaults and ceilings (`[limits.default]` and
/// `[limits.ceiling]` in `warden.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LimitBounds {
    /// Limits granted when a plugin requests nothing.
    pub defaults: Limits,
    /// The most a plugin may be granted.
    pub ceilings: Limits,
}

impl LimitBounds {
    /// [`Limits::resolve`] with these defaults and ceilings.
    pub fn resolve(&self, request: &LimitsRequest) -> (Limits, Vec<LimitNotice>) {
        Limits::resolve(&self.defaults, &self.ceilings, request)
    }
}

impl Default for LimitBounds {
    /// [`Limits::DEFAULTS`] and [`Limits::CEILINGS`].
    fn default() -> Self {
        LimitBounds {
            defaults: Limits::DEFAULTS,
            ceilings: Limits::CEILINGS,
        }
    }
}

/// A requested limit that was above its ceiling and was clamped.
///
/// Displays as `memory: requested 8 GiB, above the ceiling; granted 4 GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitNotice {
    /// Which limit.
    pub kind: LimitKind,
    /// What the plugin asked for.
    pub requested: LimitValue,
    /// What it was granted (the ceiling).
    pub granted: LimitValue,
}

impl fmt::Display for LimitNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: requested {}, above the ceiling; granted {}",
            self.kind, self.requested, self.granted
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn resolve_uses_defaults_when_nothing_is_requested() {
        let (limits, notices) = Limits::resolve(
            &Limits::DEFAULTS,
            &Limits::CEILINGS,
            &LimitsRequest::default(),
        );
        assert_eq!(limits, Limits::DEFAULTS);
        assert!(notices.is_empty());
    }

    #[test]
    fn resolve_grants_requests_within_ceilings_including_lower_ones() {
        let request = LimitsRequest {
            fuel: Some(5),
            memory_bytes: Some(512 << 20),
            timeout: Some(Duration::from_secs(1)),
            max_output_bytes: Some(16 << 20),
            max_log_bytes: None,
            max_handles: Some(50),
            ..LimitsRequest::default()
        };
        let (limits, notices) = Limits::resolve(&Limits::DEFAULTS, &Limits::CEILINGS, &request);
        assert_eq!(
            limits,
            Limits {
                fuel: 5,
                memory_bytes: 512 << 20,
                timeout: Duration::from_secs(1),
                max_output_bytes: 16 << 20,
                max_log_bytes: 64 << 10,
                max_handles: 50,
                ..Limits::DEFAULTS
            }
        );
        assert!(
            notices.is_empty(),
            "a request equal to the ceiling is not clamped"
        );
    }

    #[test]
    fn resolve_clamps_requests_above_ceilings_and_reports_them() {
        let request = LimitsRequest {
            fuel: Some(u64::MAX),
            memory_bytes: Some(8 << 30),
            timeout: Some(Duration::from_secs(3600)),
            max_output_bytes: Some(1 << 20),
            max_log_bytes: Some(2 << 20),
            max_handles: Some(u64::MAX),
            host_memory_bytes: Some(2 << 30),
            max_open_files: Some(100_000),
            max_write_bytes: Some(128 << 30),
            max_client_requests: Some(5_000),
            max_sampling_tokens: Some(1_000),
            client_wait: Some(Duration::from_secs(7200)),
        };
        let (limits, notices) = Limits::resolve(&Limits::DEFAULTS, &Limits::CEILINGS, &request);
        assert_eq!(
            limits,
            Limits {
                max_output_bytes: 1 << 20,
                max_sampling_tokens: 1_000,
                ..Limits::CEILINGS
            }
        );
        let text: Vec<String> = notices.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "fuel: requested 18_446_744_073_709_551_615, above the ceiling; granted 1_000_000_000_000",
                "memory: requested 8 GiB, above the ceiling; granted 4 GiB",
                "timeout: requested 1 h, above the ceiling; granted 5 min",
                "max_log: requested 2 MiB, above the ceiling; granted 1 MiB",
                "max_handles: requested 18_446_744_073_709_551_615, above the ceiling; granted 1_000_000",
                "host_memory: requested 2 GiB, above the ceiling; granted 1 GiB",
                "max_open_files: requested 100_000, above the ceiling; granted 4_096",
                "max_write: requested 128 GiB, above the ceiling; granted 64 GiB",
                "max_client_requests: requested 5_000, above the ceiling; granted 1_000",
                "client_wait: requested 2 h, above the ceiling; granted 1 h",
            ]
        );
        assert_eq!(notices[1].kind, LimitKind::Memory);
        assert_eq!(notices[1].requested, LimitValue::Bytes(8 << 30));
        assert_eq!(notices[1].granted, LimitValue::Bytes(4 << 30));
    }

    #[test]
    fn resolve_clamps_a_default_above_its_ceiling_silently() {
        let ceilings = Limits {
            memory_bytes: 1 << 20,
            ..Limits::CEILINGS
        };
        let (limits, notices) =
            Limits::resolve(&Limits::DEFAULTS, &ceilings, &LimitsRequest::default());
        assert_eq!(limits.memory_bytes, 1 << 20);
        assert!(notices.is_empty());
    }

    #[test]
    fn clamps_and_overrides_work_on_every_limit() {
        let ones = LimitsRequest {
            fuel: Some(1),
            memory_bytes: Some(1),
            timeout: Some(Duration::from_nanos(1)),
            max_output_bytes: Some(1),
            max_log_bytes: Some(1),
            max_handles: Some(1),
            host_memory_bytes: Some(1),
            max_open_files: Some(1),
            max_write_bytes: Some(1),
            max_client_requests: Some(1),
            max_sampling_tokens: Some(1),
            client_wait: Some(Duration::from_nanos(1)),
        };
        let tiny = Limits::DEFAULTS.with_overrides(&ones);
        for kind in LimitKind::ALL {
            assert_eq!(Some(tiny.get(kind)), ones.get(kind), "{kind}");
        }
        assert_eq!(Limits::CEILINGS.clamped_to(&tiny), tiny);
        assert_eq!(tiny.clamped_to(&Limits::CEILINGS), tiny);
        assert_eq!(
            Limits::DEFAULTS.with_overrides(&LimitsRequest::default()),
            Limits::DEFAULTS
        );
        let partial = LimitsRequest {
            timeout: Some(Duration::from_secs(1)),
            ..LimitsRequest::default()
        };
        assert_eq!(
            Limits::DEFAULTS.with_overrides(&partial),
            Limits {
                timeout: Duration::from_secs(1),
                ..Limits::DEFAULTS
            }
        );
    }
}
