//! The table of limits: one row per limit, from which [`LimitKind`],
//! [`Limits`] (with its defaults and ceilings), [`LimitsRequest`] and the
//! `[limits]` table parser are generated. A new limit is one new row.

use std::time::Duration;

use serde::Deserialize;
use serde::ser::{Serialize, SerializeStruct as _, Serializer};

use super::units::{Bytes, Count, Fuel, Time, Unit};
use super::{LimitValue, LimitValueError};

/// What to do with one limit when combining two [`Limits`] and a
/// [`LimitsRequest`] field by field (see [`Limits::merge`]).
pub(super) trait FieldMerge {
    /// The combined value of the limit `kind`.
    fn field<U: Unit>(
        &mut self,
        kind: LimitKind,
        a: U::Raw,
        b: U::Raw,
        requested: Option<U::Raw>,
    ) -> U::Raw;
}

/// Generates the limit types from the table below. Each row is a limit:
/// its doc comment, its key in `[limits]`, its field in [`Limits`], its unit
/// (how it is parsed, displayed and serialized), its key in JSON output, a
/// noun for messages, its default and its ceiling.
macro_rules! limits_table {
    ($(
        $(#[doc = $doc:literal])*
        $kind:ident {
            key: $key:ident,
            field: $field:ident: $ty:ty,
            unit: $unit:ident,
            json: $json:literal,
            noun: $noun:literal,
            default: $default:expr,
            ceiling: $ceiling:expr $(,)?
        }
    )*) => {
        /// The limits applied to every tool call.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum LimitKind {
            $($(#[doc = $doc])* $kind,)*
        }

        /// How many limits there are.
        const LIMIT_COUNT: usize = [$(stringify!($kind)),*].len();

        impl LimitKind {
            /// Every limit, in the order they appear in config files.
            pub const ALL: [LimitKind; LIMIT_COUNT] = [$(LimitKind::$kind),*];

            /// The key of this limit in a `[limits]` table, e.g. `"max_output"`.
            pub fn key(self) -> &'static str {
                match self {
                    $(LimitKind::$kind => stringify!($key),)*
                }
            }

            /// A noun phrase for messages, used as `"{noun} of {value}"`:
            /// `"memory limit of 256 MiB"`, `"timeout of 10 s"`.
            pub fn noun(self) -> &'static str {
                match self {
                    $(LimitKind::$kind => $noun,)*
                }
            }
        }

        /// Concrete limits for one tool call.
        ///
        /// Serializes with explicit units, for `warden list --json`:
        /// `{"fuel": 10000000000, "memory_bytes": 268435456, "timeout_ms": 10000,
        /// "max_output_bytes": 1048576, "max_log_bytes": 65536, "max_handles": 10000,
        /// "host_memory_bytes": 67108864, "max_open_files": 256,
        /// "max_write_bytes": 67108864, "max_client_requests": 8,
        /// "max_sampling_tokens": 16384, "client_wait_ms": 300000}`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct Limits {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        impl Limits {
            /// Limits used when neither the plugin nor the operator says
            /// otherwise (the `default` column of the table in
            /// `limits/table.rs`, which gives the reason for each).
            pub const DEFAULTS: Limits = Limits { $($field: $default,)* };

            /// The highest limits a plugin may request unless the operator
            /// raises them (the `ceiling` column of the table in
            /// `limits/table.rs`).
            pub const CEILINGS: Limits = Limits { $($field: $ceiling,)* };

            /// The value of one limit.
            pub fn get(&self, kind: LimitKind) -> LimitValue {
                match kind {
                    $(LimitKind::$kind => $unit::value(self.$field),)*
                }
            }

            /// Limits built field by field from `a`, `b` and `requested`
            /// by `merge`.
            pub(super) fn merge(
                a: &Limits,
                b: &Limits,
                requested: &LimitsRequest,
                merge: &mut impl FieldMerge,
            ) -> Limits {
                Limits {
                    $($field: merge.field::<$unit>(
                        LimitKind::$kind,
                        a.$field,
                        b.$field,
                        requested.$field,
                    ),)*
                }
            }
        }

        impl Serialize for Limits {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut out = s.serialize_struct("Limits", LIMIT_COUNT)?;
                $(out.serialize_field($json, &$unit::json(self.$field))?;)*
                out.end()
            }
        }

        /// Limits requested by a plugin's manifest (`[limits]`), or overrides
        /// in the host config. `None` means "not set". Values are never zero:
        /// the parser refuses zero limits. Serializes like [`Limits`], with
        /// `null` for what is not set.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct LimitsRequest {
            $($(#[doc = $doc])* pub $field: Option<$ty>,)*
        }

        impl LimitsRequest {
            /// The requested value of one limit, if set.
            pub fn get(&self, kind: LimitKind) -> Option<LimitValue> {
                match kind {
                    $(LimitKind::$kind => self.$field.map($unit::value),)*
                }
            }
        }

        impl Serialize for LimitsRequest {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut out = s.serialize_struct("LimitsRequest", LIMIT_COUNT)?;
                $(out.serialize_field($json, &self.$field.map($unit::json))?;)*
                out.end()
            }
        }

        /// A `[limits]` table as written in a manifest or config, before
        /// validation.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct RawLimits {
            $($key: Option<toml::Value>,)*
        }

        impl RawLimits {
            /// Validates every value; on error, returns the key and the reason.
            pub(crate) fn validate(&self) -> Result<LimitsRequest, (LimitKind, LimitValueError)> {
                Ok(LimitsRequest {
                    $($field: self
                        .$key
                        .as_ref()
                        .map($unit::parse)
                        .transpose()
                        .map_err(|e| (LimitKind::$kind, e))?,)*
                })
            }
        }
    };
}

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

limits_table! {
    /// Instruction budget (wasmtime fuel) for one call.
    Fuel {
        key: fuel,
        field: fuel: u64,
        unit: Fuel,
        json: "fuel",
        noun: "fuel limit",
        // Generous: fuel is not a time proxy; the timeout bounds wall-clock time.
        default: 10_000_000_000,
        ceiling: 1_000_000_000_000,
    }
    /// Cap on the guest's linear memory, in bytes.
    Memory {
        key: memory,
        field: memory_bytes: u64,
        unit: Bytes,
        json: "memory_bytes",
        noun: "memory limit",
        // Enough for interpreter guests (JavaScript, Python); the ceiling is
        // the whole 32-bit address space.
        default: 256 * MIB,
        ceiling: 4 * GIB,
    }
    /// Wall-clock time allowed for one call.
    Timeout {
        key: timeout,
        field: timeout: Duration,
        unit: Time,
        json: "timeout_ms",
        noun: "timeout",
        default: Duration::from_secs(10),
        ceiling: Duration::from_secs(300),
    }
    /// Cap on the size of the result returned to the client, in bytes.
    MaxOutput {
        key: max_output,
        field: max_output_bytes: u64,
        unit: Bytes,
        json: "max_output_bytes",
        noun: "output size limit",
        default: MIB,
        ceiling: 16 * MIB,
    }
    /// Cap on the guest's captured stdout and stderr per call, in bytes.
    MaxLog {
        key: max_log,
        field: max_log_bytes: u64,
        unit: Bytes,
        json: "max_log_bytes",
        noun: "log size limit",
        default: 64 * KIB,
        ceiling: MIB,
    }
    /// Cap on live WASI resources (handles: fields, streams, pollables,
    /// descriptors, ...) one call may hold in the host at once.
    MaxHandles {
        key: max_handles,
        field: max_handles: u64,
        unit: Count,
        json: "max_handles",
        noun: "handle limit",
        // A plugin that reads files and makes HTTP requests holds a few dozen;
        // the ceiling is wasmtime's own table limit.
        default: 10_000,
        ceiling: 1_000_000,
    }
    /// Cap on host memory allocated on behalf of one call, outside its
    /// linear memory (HTTP headers and bodies, stream buffers, handles), in
    /// bytes.
    HostMemory {
        key: host_memory,
        field: host_memory_bytes: u64,
        unit: Bytes,
        json: "host_memory_bytes",
        noun: "host memory limit",
        default: 64 * MIB,
        ceiling: GIB,
    }
    /// Cap on files and directories one call holds open at once.
    MaxOpenFiles {
        key: max_open_files,
        field: max_open_files: u64,
        unit: Count,
        json: "max_open_files",
        noun: "open file limit",
        // Further lowered so that every concurrent call fits the process's
        // descriptor limit, see `Sandbox::open_files_per_call`.
        default: 256,
        ceiling: 4_096,
    }
    /// Cap on bytes one call writes to its read-write directory grants.
    MaxWrite {
        key: max_write,
        field: max_write_bytes: u64,
        unit: Bytes,
        json: "max_write_bytes",
        noun: "write limit",
        default: 64 * MIB,
        ceiling: 64 * GIB,
    }
    /// Cap on requests one call sends to the MCP client (sampling,
    /// elicitation, roots).
    MaxClientRequests {
        key: max_client_requests,
        field: max_client_requests: u64,
        unit: Count,
        json: "max_client_requests",
        noun: "client request limit",
        // A tool that asks once or twice, with room for a retry or two.
        default: 8,
        ceiling: 1_000,
    }
    /// Cap on the tokens one call asks the client's model for in all (the
    /// sum of the sampling requests' `max-tokens`).
    MaxSamplingTokens {
        key: max_sampling_tokens,
        field: max_sampling_tokens: u64,
        unit: Count,
        json: "max_sampling_tokens",
        noun: "sampling token limit",
        default: 16_384,
        ceiling: 10_000_000,
    }
    /// Time one call may wait in all for the MCP client's answers (a person
    /// filling in a form, a model writing); not counted against `timeout`.
    ClientWait {
        key: client_wait,
        field: client_wait: Duration,
        unit: Time,
        json: "client_wait_ms",
        noun: "client wait limit",
        default: Duration::from_secs(300),
        ceiling: Duration::from_secs(3600),
    }
}
