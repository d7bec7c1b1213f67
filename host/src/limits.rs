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

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;

/// The limits applied to every tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// Instruction budget (wasmtime fuel).
    Fuel,
    /// Cap on the guest's linear memory.
    Memory,
    /// Wall-clock time for one call.
    Timeout,
    /// Cap on the size of the result returned to the client.
    MaxOutput,
    /// Cap on the guest's captured stdout and stderr per call.
    MaxLog,
    /// Cap on live WASI resources (handles: fields, streams, pollables,
    /// descriptors, ...) one call may hold in the host at once.
    MaxHandles,
    /// Cap on host memory allocated on behalf of one call, outside its
    /// linear memory (HTTP headers and bodies, stream buffers, handles).
    HostMemory,
    /// Cap on files and directories one call holds open at once.
    MaxOpenFiles,
    /// Cap on bytes one call writes to its read-write directory grants.
    MaxWrite,
}

impl LimitKind {
    /// Every limit, in the order they appear in config files.
    pub const ALL: [LimitKind; 9] = [
        LimitKind::Fuel,
        LimitKind::Memory,
        LimitKind::Timeout,
        LimitKind::MaxOutput,
        LimitKind::MaxLog,
        LimitKind::MaxHandles,
        LimitKind::HostMemory,
        LimitKind::MaxOpenFiles,
        LimitKind::MaxWrite,
    ];

    /// The key of this limit in a `[limits]` table, e.g. `"max_output"`.
    pub fn key(self) -> &'static str {
        match self {
            LimitKind::Fuel => "fuel",
            LimitKind::Memory => "memory",
            LimitKind::Timeout => "timeout",
            LimitKind::MaxOutput => "max_output",
            LimitKind::MaxLog => "max_log",
            LimitKind::MaxHandles => "max_handles",
            LimitKind::HostMemory => "host_memory",
            LimitKind::MaxOpenFiles => "max_open_files",
            LimitKind::MaxWrite => "max_write",
        }
    }

    /// A noun phrase for messages, used as `"{noun} of {value}"`:
    /// `"memory limit of 256 MiB"`, `"timeout of 10 s"`.
    pub fn noun(self) -> &'static str {
        match self {
            LimitKind::Fuel => "fuel limit",
            LimitKind::Memory => "memory limit",
            LimitKind::Timeout => "timeout",
            LimitKind::MaxOutput => "output size limit",
            LimitKind::MaxLog => "log size limit",
            LimitKind::MaxHandles => "handle limit",
            LimitKind::HostMemory => "host memory limit",
            LimitKind::MaxOpenFiles => "open file limit",
            LimitKind::MaxWrite => "write limit",
        }
    }
}

impl fmt::Display for LimitKind {
    /// Displays the config key, e.g. `max_output`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

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

/// Concrete limits for one tool call.
///
/// Serializes with explicit units, for `warden list --json`:
/// `{"fuel": 10000000000, "memory_bytes": 268435456, "timeout_ms": 10000,
/// "max_output_bytes": 1048576, "max_log_bytes": 65536, "max_handles": 10000,
/// "host_memory_bytes": 67108864, "max_open_files": 256,
/// "max_write_bytes": 67108864}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Limits {
    /// Instruction budget (wasmtime fuel) for one call.
    pub fuel: u64,
    /// Cap on the guest's linear memory, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time allowed for one call.
    #[serde(rename = "timeout_ms", serialize_with = "serialize_millis")]
    pub timeout: Duration,
    /// Cap on the size of the result returned to the client, in bytes.
    pub max_output_bytes: u64,
    /// Cap on the captured stdout and stderr of one call, in bytes.
    pub max_log_bytes: u64,
    /// Cap on live WASI resources (handles) of one call.
    pub max_handles: u64,
    /// Cap on host memory allocated on behalf of one call, in bytes.
    pub host_memory_bytes: u64,
    /// Cap on files and directories one call holds open at once.
    pub max_open_files: u64,
    /// Cap on bytes one call writes to read-write directory grants.
    pub max_write_bytes: u64,
}

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

impl Limits {
    /// Limits used when neither the plugin nor the operator says otherwise.
    ///
    /// - fuel: 10_000_000_000 instructions, a generous budget (fuel is not a
    ///   time proxy; the timeout bounds wall-clock time);
    /// - memory: 256 MiB of linear memory, enough for interpreter guests
    ///   (JavaScript, Python);
    /// - timeout: 10 s;
    /// - max_output: 1 MiB returned to the client;
    /// - max_log: 64 KiB of captured stdout/stderr per call;
    /// - max_handles: 10_000 live WASI resources (a plugin that reads files
    ///   and makes HTTP requests holds a few dozen);
    /// - host_memory: 64 MiB allocated by the host for the call (headers,
    ///   body buffers, handles), beside its linear memory;
    /// - max_open_files: 256 files and directories open at once (further
    ///   lowered so that every concurrent call fits the process's
    ///   descriptor limit, see `Sandbox::open_files_per_call`);
    /// - max_write: 64 MiB written to read-write grants per call.
    pub const DEFAULTS: Limits = Limits {
        fuel: 10_000_000_000,
        memory_bytes: 256 * MIB,
        timeout: Duration::from_secs(10),
        max_output_bytes: MIB,
        max_log_bytes: 64 * KIB,
        max_handles: 10_000,
        host_memory_bytes: 64 * MIB,
        max_open_files: 256,
        max_write_bytes: 64 * MIB,
    };

    /// The highest limits a plugin may request unless the operator raises them.
    ///
    /// - fuel: 1_000_000_000_000 instructions;
    /// - memory: 4 GiB (the whole 32-bit address space);
    /// - timeout: 300 s;
    /// - max_output: 16 MiB;
    /// - max_log: 1 MiB;
    /// - max_handles: 1_000_000 (wasmtime's own table limit);
    /// - host_memory: 1 GiB;
    /// - max_open_files: 4_096;
    /// - max_write: 64 GiB.
    pub const CEILINGS: Limits = Limits {
        fuel: 1_000_000_000_000,
        memory_bytes: 4 * GIB,
        timeout: Duration::from_secs(300),
        max_output_bytes: 16 * MIB,
        max_log_bytes: MIB,
        max_handles: 1_000_000,
        host_memory_bytes: GIB,
        max_open_files: 4_096,
        max_write_bytes: 64 * GIB,
    };

    /// The most host memory one call may use under these limits, in bytes:
    /// its linear memory plus what the host allocates on its behalf
    /// (`host_memory`). A server-wide memory budget reserves this much per
    /// running call. Memory the host needs for any call regardless of its
    /// limits (the instance itself, about a few hundred KiB) is counted in
    /// `host_memory` too, so nothing else is needed on top.
    pub fn host_bytes_ceiling(&self) -> u64 {
        self.memory_bytes.saturating_add(self.host_memory_bytes)
    }

    /// The value of one limit.
    pub fn get(&self, kind: LimitKind) -> LimitValue {
        match kind {
            LimitKind::Fuel => LimitValue::Fuel(self.fuel),
            LimitKind::Memory => LimitValue::Bytes(self.memory_bytes),
            LimitKind::Timeout => LimitValue::Duration(self.timeout),
            LimitKind::MaxOutput => LimitValue::Bytes(self.max_output_bytes),
            LimitKind::MaxLog => LimitValue::Bytes(self.max_log_bytes),
            LimitKind::MaxHandles => LimitValue::Count(self.max_handles),
            LimitKind::HostMemory => LimitValue::Bytes(self.host_memory_bytes),
            LimitKind::MaxOpenFiles => LimitValue::Count(self.max_open_files),
            LimitKind::MaxWrite => LimitValue::Bytes(self.max_write_bytes),
        }
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
        let mut notices = Vec::new();
        let mut pick =
            |kind: LimitKind, requested: Option<u64>, default: u64, ceiling: u64| match requested {
                Some(requested) if requested > ceiling => {
                    notices.push(LimitNotice {
                        kind,
                        requested: LimitValue::of(kind, requested),
                        granted: LimitValue::of(kind, ceiling),
                    });
                    ceiling
                }
                Some(requested) => requested,
                None => default.min(ceiling),
            };
        let fuel = pick(LimitKind::Fuel, request.fuel, defaults.fuel, ceilings.fuel);
        let memory_bytes = pick(
            LimitKind::Memory,
            request.memory_bytes,
            defaults.memory_bytes,
            ceilings.memory_bytes,
        );
        let timeout_nanos = pick(
            LimitKind::Timeout,
            request.timeout.map(saturating_nanos),
            saturating_nanos(defaults.timeout),
            saturating_nanos(ceilings.timeout),
        );
        let max_output_bytes = pick(
            LimitKind::MaxOutput,
            request.max_output_bytes,
            defaults.max_output_bytes,
            ceilings.max_output_bytes,
        );
        let max_log_bytes = pick(
            LimitKind::MaxLog,
            request.max_log_bytes,
            defaults.max_log_bytes,
            ceilings.max_log_bytes,
        );
        let max_handles = pick(
            LimitKind::MaxHandles,
            request.max_handles,
            defaults.max_handles,
            ceilings.max_handles,
        );
        let host_memory_bytes = pick(
            LimitKind::HostMemory,
            request.host_memory_bytes,
            defaults.host_memory_bytes,
            ceilings.host_memory_bytes,
        );
        let max_open_files = pick(
            LimitKind::MaxOpenFiles,
            request.max_open_files,
            defaults.max_open_files,
            ceilings.max_open_files,
        );
        let max_write_bytes = pick(
            LimitKind::MaxWrite,
            request.max_write_bytes,
            defaults.max_write_bytes,
            ceilings.max_write_bytes,
        );
        let limits = Limits {
            fuel,
            memory_bytes,
            timeout: Duration::from_nanos(timeout_nanos),
            max_output_bytes,
            max_log_bytes,
            max_handles,
            host_memory_bytes,
            max_open_files,
            max_write_bytes,
        };
        (limits, notices)
    }

    /// Each limit lowered to at most its ceiling.
    pub fn clamped_to(&self, ceilings: &Limits) -> Limits {
        Limits {
            fuel: self.fuel.min(ceilings.fuel),
            memory_bytes: self.memory_bytes.min(ceilings.memory_bytes),
            timeout: self.timeout.min(ceilings.timeout),
            max_output_bytes: self.max_output_bytes.min(ceilings.max_output_bytes),
            max_log_bytes: self.max_log_bytes.min(ceilings.max_log_bytes),
            max_handles: self.max_handles.min(ceilings.max_handles),
            host_memory_bytes: self.host_memory_bytes.min(ceilings.host_memory_bytes),
            max_open_files: self.max_open_files.min(ceilings.max_open_files),
            max_write_bytes: self.max_write_bytes.min(ceilings.max_write_bytes),
        }
    }

    /// Replaces the limits set in `request`, keeping the others.
    pub fn with_overrides(mut self, request: &LimitsRequest) -> Limits {
        self.fuel = request.fuel.unwrap_or(self.fuel);
        self.memory_bytes = request.memory_bytes.unwrap_or(self.memory_bytes);
        self.timeout = request.timeout.unwrap_or(self.timeout);
        self.max_output_bytes = request.max_output_bytes.unwrap_or(self.max_output_bytes);
        self.max_log_bytes = request.max_log_bytes.unwrap_or(self.max_log_bytes);
        self.max_handles = request.max_handles.unwrap_or(self.max_handles);
        self.host_memory_bytes = request.host_memory_bytes.unwrap_or(self.host_memory_bytes);
        self.max_open_files = request.max_open_files.unwrap_or(self.max_open_files);
        self.max_write_bytes = request.max_write_bytes.unwrap_or(self.max_write_bytes);
        self
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

impl LimitValue {
    /// Wraps a raw value of `kind` (nanoseconds for the timeout).
    fn of(kind: LimitKind, raw: u64) -> LimitValue {
        match kind {
            LimitKind::Fuel => LimitValue::Fuel(raw),
            LimitKind::MaxHandles | LimitKind::MaxOpenFiles => LimitValue::Count(raw),
            LimitKind::Memory
            | LimitKind::MaxOutput
            | LimitKind::MaxLog
            | LimitKind::HostMemory
            | LimitKind::MaxWrite => LimitValue::Bytes(raw),
            LimitKind::Timeout => LimitValue::Duration(Duration::from_nanos(raw)),
        }
    }
}

fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn serialize_millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn serialize_opt_millis<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serialize_millis(d, s),
        None => s.serialize_none(),
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

/// Limits requested by a plugin's manifest (`[limits]`), or overrides in the
/// host config. `None` means "not set". Values are never zero: the parser
/// refuses zero limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct LimitsRequest {
    /// Instruction budget.
    pub fuel: Option<u64>,
    /// Linear memory cap, in bytes.
    pub memory_bytes: Option<u64>,
    /// Wall-clock time for one call.
    #[serde(rename = "timeout_ms", serialize_with = "serialize_opt_millis")]
    pub timeout: Option<Duration>,
    /// Result size cap, in bytes.
    pub max_output_bytes: Option<u64>,
    /// Captured stdout/stderr cap, in bytes.
    pub max_log_bytes: Option<u64>,
    /// Live WASI resources cap.
    pub max_handles: Option<u64>,
    /// Host memory cap, in bytes.
    pub host_memory_bytes: Option<u64>,
    /// Open files cap.
    pub max_open_files: Option<u64>,
    /// Bytes written to read-write grants cap.
    pub max_write_bytes: Option<u64>,
}

impl LimitsRequest {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == LimitsRequest::default()
    }

    /// The requested value of one limit, if set.
    pub fn get(&self, kind: LimitKind) -> Option<LimitValue> {
        match kind {
            LimitKind::Fuel => self.fuel.map(LimitValue::Fuel),
            LimitKind::Memory => self.memory_bytes.map(LimitValue::Bytes),
            LimitKind::Timeout => self.timeout.map(LimitValue::Duration),
            LimitKind::MaxOutput => self.max_output_bytes.map(LimitValue::Bytes),
            LimitKind::MaxLog => self.max_log_bytes.map(LimitValue::Bytes),
            LimitKind::MaxHandles => self.max_handles.map(LimitValue::Count),
            LimitKind::HostMemory => self.host_memory_bytes.map(LimitValue::Bytes),
            LimitKind::MaxOpenFiles => self.max_open_files.map(LimitValue::Count),
            LimitKind::MaxWrite => self.max_write_bytes.map(LimitValue::Bytes),
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

/// A size in bytes, parsed from and displayed in the human format.
///
/// Parsing accepts a whole or decimal number, optional spaces, and a unit
/// (case-insensitive): `B`, `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024) or
/// `kB`, `MB`, `GB`, `TB` (powers of 1000); no unit means bytes. Fractions of
/// a byte are rounded down. Displays with the unit that gives the smallest
/// whole number (`268435456` → `256 MiB`, `1000000` → `1 MB`, `1500` → `1500 B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

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

impl FromStr for ByteSize {
    type Err = LimitValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || LimitValueError::InvalidSize {
            value: format!("{s:?}"),
        };
        let (number, unit) = split_number(s).ok_or_else(invalid)?;
        let multiplier = if unit.is_empty() {
            1
        } else {
            SIZE_UNITS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(unit))
                .map(|&(_, m)| m)
                .ok_or_else(invalid)?
        };
        let bytes = number
            .scale(u128::from(multiplier))
            .and_then(|b| u64::try_from(b).ok())
            .ok_or_else(|| LimitValueError::SizeTooLarge {
                value: format!("{s:?}"),
            })?;
        Ok(ByteSize(bytes))
    }
}

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
/// Parsing accepts a whole or decimal number, optional spaces and a unit:
/// `ns`, `us`/`µs`, `ms`, `s`/`sec`/`secs`/`second(s)`, `m`/`min`/`mins`/`minute(s)`,
/// `h`/`hr`/`hour(s)`. The unit is required. Displays with the largest unit
/// that gives a whole number: `10 s`, `500 ms`, `5 min`, `2 h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

const DURATION_UNITS: [(&[&str], u64); 6] = [
    (&["h", "hr", "hrs", "hour", "hours"], 3_600_000_000_000),
    (&["min", "m", "mins", "minute", "minutes"], 60_000_000_000),
    (&["s", "sec", "secs", "second", "seconds"], 1_000_000_000),
    (&["ms", "msec", "millisecond", "milliseconds"], 1_000_000),
    (&["us", "µs", "usec", "microsecond", "microseconds"], 1_000),
    (&["ns", "nsec", "nanosecond", "nanoseconds"], 1),
];

impl FromStr for HumanDuration {
    type Err = LimitValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || LimitValueError::InvalidDuration {
            value: format!("{s:?}"),
        };
        let (number, unit) = split_number(s).ok_or_else(invalid)?;
        let unit = unit.to_ascii_lowercase();
        let nanos_per_unit = DURATION_UNITS
            .iter()
            .find(|(names, _)| names.contains(&unit.as_str()))
            .map(|&(_, n)| n)
            .ok_or_else(invalid)?;
        let nanos = number
            .scale(u128::from(nanos_per_unit))
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| LimitValueError::DurationTooLong {
                value: format!("{s:?}"),
            })?;
        Ok(HumanDuration(Duration::from_nanos(nanos)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.pad("0 s");
        }
        let (quotient, unit) = DURATION_UNITS
            .iter()
            .find(|&&(_, n)| nanos.is_multiple_of(u128::from(n)))
            .map(|&(names, n)| (nanos / u128::from(n), names[0]))
            .unwrap_or((nanos, "ns"));
        f.pad(&format!("{quotient} {unit}"))
    }
}

/// A non-negative decimal number split into its whole and fractional digits.
#[derive(Debug, Clone, Copy)]
struct Decimal<'a> {
    whole: &'a str,
    fraction: &'a str,
}

impl Decimal<'_> {
    /// `self * multiplier`, rounded down; `None` on overflow.
    fn scale(self, multiplier: u128) -> Option<u128> {
        let whole: u128 = if self.whole.is_empty() {
            0
        } else {
            self.whole.parse().ok()?
        };
        let mut result = whole.checked_mul(multiplier)?;
        // Each fractional digit adds digit * multiplier / 10^position.
        let mut denominator: u128 = 1;
        let mut numerator: u128 = 0;
        for digit in self.fraction.bytes().take(18) {
            denominator = denominator.checked_mul(10)?;
            numerator = numerator.checked_mul(10)? + u128::from(digit - b'0');
        }
        result = result.checked_add(numerator.checked_mul(multiplier)? / denominator)?;
        Some(result)
    }
}

/// Splits `" 1.5 GiB "` into the number `1.5` and the unit `"GiB"`.
fn split_number(s: &str) -> Option<(Decimal<'_>, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(end);
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty()
        || !all_digits(whole)
        || !all_digits(fraction)
        || number.ends_with('.')
        || number.starts_with('.')
    {
        return None;
    }
    let unit = unit.trim_start();
    if !unit.chars().all(|c| c.is_alphabetic()) {
        return None;
    }
    Some((Decimal { whole, fraction }, unit))
}

/// A `[limits]` table as written in a manifest or config, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    fuel: Option<toml::Value>,
    memory: Option<toml::Value>,
    timeout: Option<toml::Value>,
    max_output: Option<toml::Value>,
    max_log: Option<toml::Value>,
    max_handles: Option<toml::Value>,
    host_memory: Option<toml::Value>,
    max_open_files: Option<toml::Value>,
    max_write: Option<toml::Value>,
}

impl RawLimits {
    /// Validates every value; on error, returns the key and the reason.
    pub(crate) fn validate(&self) -> Result<LimitsRequest, (LimitKind, LimitValueError)> {
        let at = |kind: LimitKind| move |e| (kind, e);
        Ok(LimitsRequest {
            fuel: self
                .fuel
                .as_ref()
                .map(parse_fuel)
                .transpose()
                .map_err(at(LimitKind::Fuel))?,
            memory_bytes: self
                .memory
                .as_ref()
                .map(parse_size_value)
                .transpose()
                .map_err(at(LimitKind::Memory))?,
            timeout: self
                .timeout
                .as_ref()
                .map(parse_duration_value)
                .transpose()
                .map_err(at(LimitKind::Timeout))?,
            max_output_bytes: self
                .max_output
                .as_ref()
                .map(parse_size_value)
                .transpose()
                .map_err(at(LimitKind::MaxOutput))?,
            max_log_bytes: self
                .max_log
                .as_ref()
                .map(parse_size_value)
                .transpose()
                .map_err(at(LimitKind::MaxLog))?,
            max_handles: self
                .max_handles
                .as_ref()
                .map(parse_fuel)
                .transpose()
                .map_err(at(LimitKind::MaxHandles))?,
            host_memory_bytes: self
                .host_memory
                .as_ref()
                .map(parse_size_value)
                .transpose()
                .map_err(at(LimitKind::HostMemory))?,
            max_open_files: self
                .max_open_files
                .as_ref()
                .map(parse_fuel)
                .transpose()
                .map_err(at(LimitKind::MaxOpenFiles))?,
            max_write_bytes: self
                .max_write
                .as_ref()
                .map(parse_size_value)
                .transpose()
                .map_err(at(LimitKind::MaxWrite))?,
        })
    }
}

/// A positive integer (TOML integer): fuel, or a count of handles or files.
fn parse_fuel(value: &toml::Value) -> Result<u64, LimitValueError> {
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

/// A duration string; never zero.
fn parse_duration_value(value: &toml::Value) -> Result<Duration, LimitValueError> {
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
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("4096B"), Ok(4096));
        assert_eq!(size("1.3 B"), Ok(1), "fractions of a byte round down");
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
            "-1MiB",
            "1..5MiB",
            ".5MiB",
            "5.MiB",
            "1 Mi B",
            "1e6",
            "0x10",
            "1,000",
            "1 KiBs",
            "64M",
            "+5B",
        ] {
            assert_eq!(
                size(bad),
                Err(LimitValueError::InvalidSize {
                    value: format!("{bad:?}")
                }),
                "{bad:?}"
            );
        }
        assert!(matches!(
            size("16777216TiB"),
            Err(LimitValueError::SizeTooLarge { .. })
        ));
        assert!(matches!(
            size("99999999999999999999999999999999999999999999"),
            Err(LimitValueError::SizeTooLarge { .. })
        ));
        assert_eq!(
            size("12 parsecs").unwrap_err().to_string(),
            r#"invalid size "12 parsecs" (expected a size such as "64MiB")"#
        );
    }

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
            assert_eq!(size(text), Ok(bytes), "{text} round-trips");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("5 s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("5 seconds"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("1 HOUR"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in [
            "",
            "5",
            "s",
            "5 parsecs",
            "-5s",
            "5 s s",
            "1m30s",
            "5d",
            "5sec!",
            ".5s",
            "1e3ms",
        ] {
            assert_eq!(
                duration(bad),
                Err(LimitValueError::InvalidDuration {
                    value: format!("{bad:?}")
                }),
                "{bad:?}"
            );
        }
        assert!(matches!(
            duration("100000000000h"),
            Err(LimitValueError::DurationTooLong { .. })
        ));
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
            assert_eq!(duration(text), Ok(d), "{text} round-trips");
        }
    }

    #[test]
    fn limit_values_display_like_config_values() {
        assert_eq!(
            LimitValue::Fuel(10_000_000_000).to_string(),
            "10_000_000_000"
        );
        assert_eq!(LimitValue::Fuel(999).to_string(), "999");
        assert_eq!(LimitValue::Fuel(1000).to_string(), "1_000");
        assert_eq!(LimitValue::Fuel(0).to_string(), "0");
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
             max_handles 10_000, host_memory 64 MiB, max_open_files 256, max_write 64 MiB"
        );
        assert_eq!(
            Limits::CEILINGS.to_string(),
            "fuel 1_000_000_000_000, memory 4 GiB, timeout 5 min, max_output 16 MiB, max_log 1 MiB, \
             max_handles 1_000_000, host_memory 1 GiB, max_open_files 4_096, max_write 64 GiB"
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
    fn defaults_are_within_ceilings() {
        for kind in LimitKind::ALL {
            assert!(
                Limits::DEFAULTS.get(kind) <= Limits::CEILINGS.get(kind),
                "{kind}"
            );
        }
    }

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
        };
        let (limits, notices) = Limits::resolve(&Limits::DEFAULTS, &Limits::CEILINGS, &request);
        assert_eq!(
            limits,
            Limits {
                max_output_bytes: 1 << 20,
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
            })
        );
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
        assert!(toml::from_str::<RawLimits>("cpu = 1").is_err());
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
            })
        );
        let json = serde_json::to_value(LimitsRequest {
            timeout: Some(Duration::from_secs(5)),
            ..LimitsRequest::default()
        })
        .expect("serializable");
        assert_eq!(json["timeout_ms"], 5000);
        assert!(json["fuel"].is_null());
    }
}
