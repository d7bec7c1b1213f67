//! The flag file: parsing, validation and per-environment resolution. Pure
//! logic, no I/O.
//!
//! ```json
//! {
//!   "environments": ["dev", "staging", "prod"],
//!   "flags": {
//!     "checkout-v2": {
//!       "description": "New one-page checkout",
//!       "default": false,
//!       "environments": {
//!         "dev": { "value": true },
//!         "prod": { "rollout": { "percentage": 25, "value": true } }
//!       }
//!     }
//!   }
//! }
//! ```
//!
//! - `environments` (optional): the environment names. Without it the known
//!   environments are `dev`, `staging`, `prod` and any other named by a flag.
//!   With it, a flag naming another environment is an error (a typo guard).
//! - `flags`: flag name -> flag. A flag has a `default` (any JSON value), an
//!   optional `description`, and optional per-environment settings: a fixed
//!   `value` (an override), a percentage `rollout` of another value, or both
//!   (the rollout applies to users in it, the override to everyone else).
//!   Overrides and rollout values must have the JSON type of the default.
//! - A rollout puts a user in it when `bucket(flag, user) < percentage`,
//!   where the bucket (0.00 to 99.99) is `fnv1a64("{flag}:{user}") % 10000 /
//!   100`: deterministic, the same on every machine, and independent between
//!   flags.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The environments assumed when the file declares none.
pub const DEFAULT_ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    environments: Option<Vec<String>>,
    flags: BTreeMap<String, Flag>,
}

/// One flag as written in the file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    pub description: Option<String>,
    pub default: Value,
    #[serde(default)]
    pub environments: BTreeMap<String, Setting>,
}

/// A flag's setting for one environment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// Replaces the default in this environment.
    pub value: Option<Value>,
    /// Gives `rollout.value` to a percentage of users.
    pub rollout: Option<Rollout>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// 0 to 100; decimals allowed (to 0.01).
    pub percentage: f64,
    pub value: Value,
}

/// A validated flag file.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagFile {
    pub environments: Vec<String>,
    pub flags: BTreeMap<String, Flag>,
}

/// Why a flag file could not be used. `Display` gives the message without
/// the file name; see [`ConfigError::message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Not JSON, or JSON that does not fit the schema.
    Syntax {
        line: usize,
        column: usize,
        /// Where in the document, e.g. `flags.x.default` (empty when unknown).
        path: String,
        message: String,
    },
    /// Well-formed but inconsistent.
    Invalid(String),
}

impl ConfigError {
    /// The full message, naming the file.
    pub fn message(&self, file: &str) -> String {
        match self {
            ConfigError::Syntax {
                line,
                column,
                path,
                message,
            } => {
                let at = if path.is_empty() || path == "." {
                    String::new()
                } else {
                    format!(" (at `{path}`)")
                };
                format!("malformed flag file {file}: line {line}, column {column}: {message}{at}")
            }
            ConfigError::Invalid(message) => format!("invalid flag file {file}: {message}"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message("the flag file"))
    }
}

/// Parses and validates a flag file.
pub fn parse(text: &str) -> Result<FlagFile, ConfigError> {
    let syntax = |path: String, error: serde_json::Error| {
        let mut message = error.to_string();
        if let Some(pos) = message.rfind(" at line ") {
            message.truncate(pos);
        }
        // The document path helps for values of the wrong shape; for broken
        // JSON the line and column say it all.
        let path = match error.classify() {
            serde_json::error::Category::Data => path,
            _ => String::new(),
        };
        ConfigError::Syntax {
            line: error.line(),
            column: error.column(),
            path,
            message,
        }
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let raw: RawFile = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| syntax(e.path().to_string(), e.into_inner()))?;
    de.end().map_err(|e| syntax(String::new(), e))?;
    validate(raw)
}

fn validate(raw: RawFile) -> Result<FlagFile, ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    let declared = raw.environments.is_some();
    let mut environments = match raw.environments {
        Some(list) => list,
        None => DEFAULT_ENVIRONMENTS.iter().map(|e| e.to_string()).collect(),
    };
    if environments.is_empty() {
        return invalid("`environments` is empty: name at least one environment".into());
    }
    for (i, env) in environments.iter().enumerate() {
        if env.trim().is_empty() {
            return invalid("`environments` contains an empty name".into());
        }
        if environments[..i].contains(env) {
            return invalid(format!("environment '{env}' is listed twice"));
        }
    }
    for (name, flag) in &raw.flags {
        if name.trim().is_empty() {
            return invalid("a flag has an empty name".into());
        }
        for (env, setting) in &flag.environments {
            if !environments.contains(env) {
                if declared {
                    return invalid(format!(
                        "flag '{name}' has a setting for environment '{env}', which is not \
                         declared (declared environments: {})",
                        environments.join(", ")
                    ));
                }
                environments.push(env.clone());
            }
            let at = format!("flag '{name}', environment '{env}'");
            if setting.value.is_none() && setting.rollout.is_none() {
                return invalid(format!("{at}: set `value`, `rollout`, or both"));
            }
            if let Some(value) = &setting.value {
                check_type(&at, "value", value, &flag.default)?;
            }
            if let Some(rollout) = &setting.rollout {
                let p = rollout.percentage;
                if !(0.0..=100.0).contains(&p) {
                    return invalid(format!(
                        "{at}: `rollout.percentage` must be between 0 and 100, not {p}"
                    ));
                }
                check_type(&at, "rollout.value", &rollout.value, &flag.default)?;
            }
        }
    }
    Ok(FlagFile {
        environments,
        flags: raw.flags,
    })
}

fn check_type(at: &str, field: &str, value: &Value, default: &Value) -> Result<(), ConfigError> {
    if default.is_null() || value.is_null() || type_name(value) == type_name(default) {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{at}: `{field}` is {} but the default is {}",
        type_name(value),
        type_name(default)
    )))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Why a flag has its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// The flag's default: no override applies.
    Default,
    /// The environment's `value`.
    Override,
    /// The environment's `rollout.value`: the user is in the rollout.
    Rollout,
}

/// A flag's value in one environment, with the explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub value: Value,
    pub reason: Reason,
    /// One sentence on how the value was chosen.
    pub detail: String,
}

/// The user's bucket for `flag`, in hundredths of a percent (0 to 9999).
pub fn bucket(flag: &str, user: &str) -> u64 {
    fnv1a64(format!("{flag}:{user}").as_bytes()) % 10_000
}

/// 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// `12.5` -> `12.5%`, `25` -> `25%`.
fn percent(p: f64) -> String {
    let text = format!("{p:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// Resolves `flag` (named `name`) in `environment` for `user`.
pub fn resolve(name: &str, flag: &Flag, environment: &str, user: Option<&str>) -> Resolution {
    let setting = flag.environments.get(environment);
    let (base, base_reason, base_detail) = match setting.and_then(|s| s.value.as_ref()) {
        Some(value) => (
            value.clone(),
            Reason::Override,
            format!("{environment} overrides the default ({})", flag.default),
        ),
        None => (
            flag.default.clone(),
            Reason::Default,
            format!("no override for {environment}"),
        ),
    };
    let base = |detail: String| Resolution {
        value: base.clone(),
        reason: base_reason,
        detail,
    };
    let Some(rollout) = setting.and_then(|s| s.rollout.as_ref()) else {
        return base(base_detail);
    };
    let pct = percent(rollout.percentage);
    let rolled = |detail: String| Resolution {
        value: rollout.value.clone(),
        reason: Reason::Rollout,
        detail,
    };
    // Buckets are in hundredths of a percent: 25% is buckets 0..2500.
    let threshold = (rollout.percentage * 100.0).round() as u64;
    match user {
        _ if threshold >= 10_000 => rolled(format!("{environment} rolls out to 100% of users")),
        None if threshold == 0 => base(format!("{base_detail}; the 0% rollout reaches no user")),
        None => base(format!(
            "{base_detail}; a {pct} rollout to {} applies per user: pass `user` to evaluate it",
            rollout.value
        )),
        Some(user) => {
            let b = bucket(name, user);
            let at = format!("bucket {}.{:02}", b / 100, b % 100);
            if b < threshold {
                rolled(format!(
                    "user {user:?} is in the {pct} rollout in {environment} ({at})"
                ))
            } else {
                base(format!(
                    "{base_detail}; user {user:?} is outside the {pct} rollout ({at})"
                ))
            }
        }
    }
}

/// The closest of `candidates` to `name` (case and `-`/`_` differences, or
/// up to 2 edits), for "did you mean" hints.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let fold = |s: &str| s.to_lowercase().replace('_', "-");
    let wanted = fold(name);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&wanted, &fold(c)), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SAMPLE: &str = r#"{
      "environments": ["dev", "staging", "prod"],
      "flags": {
        "checkout-v2": {
          "description": "New checkout",
          "default": false,
          "environments": {
            "dev": { "value": true },
            "prod": { "rollout": { "percentage": 25, "value": true } }
          }
        },
        "search-backend": {
          "default": "elastic",
          "environments": {
            "staging": { "value": "opensearch", "rollout": { "percentage": 50, "value": "vespa" } }
          }
        },
        "max-upload-mb": { "default": 25, "environments": { "prod": { "value": 100 } } }
      }
    }"#;

    fn sample() -> FlagFile {
        parse(SAMPLE).unwrap()
    }

    #[test]
    fn parses_the_sample() {
        let f = sample();
        assert_eq!(f.environments, ["dev", "staging", "prod"]);
        let names: Vec<&str> = f.flags.keys().map(String::as_str).collect();
        assert_eq!(names, ["checkout-v2", "max-upload-mb", "search-backend"]);
        assert_eq!(
            f.flags["checkout-v2"].description.as_deref(),
            Some("New checkout")
        );
    }

    #[test]
    fn default_environments_grow_with_use() {
        let f = parse(r#"{"flags": {"a": {"default": 1, "environments": {"qa": {"value": 2}}}}}"#)
            .unwrap();
        assert_eq!(f.environments, ["dev", "staging", "prod", "qa"]);
    }

    #[test]
    fn resolves_defaults_and_overrides() {
        let f = sample();
        let r = resolve("checkout-v2", &f.flags["checkout-v2"], "dev", None);
        assert_eq!(r.value, json!(true));
        assert_eq!(r.reason, Reason::Override);
        assert_eq!(r.detail, "dev overrides the default (false)");
        let r = resolve(
            "checkout-v2",
            &f.flags["checkout-v2"],
            "staging",
            Some("u1"),
        );
        assert_eq!((r.value, r.reason), (json!(false), Reason::Default));
        assert_eq!(r.detail, "no override for staging");
        let r = resolve("max-upload-mb", &f.flags["max-upload-mb"], "prod", None);
        assert_eq!((r.value, r.reason), (json!(100), Reason::Override));
    }

    #[test]
    fn resolves_rollouts() {
        let f = sample();
        let flag = &f.flags["checkout-v2"];
        let r = resolve("checkout-v2", flag, "prod", None);
        assert_eq!((r.value.clone(), r.reason), (json!(false), Reason::Default));
        assert_eq!(
            r.detail,
            "no override for prod; a 25% rollout to true applies per user: pass `user` to \
             evaluate it"
        );
        // Find one user inside and one outside the rollout.
        let inside = (0..)
            .map(|i| format!("user-{i}"))
            .find(|u| bucket("checkout-v2", u) < 2500);
        let outside = (0..)
            .map(|i| format!("user-{i}"))
            .find(|u| bucket("checkout-v2", u) >= 2500);
        let (inside, outside) = (inside.unwrap(), outside.unwrap());
        let r = resolve("checkout-v2", flag, "prod", Some(&inside));
        assert_eq!((r.value, r.reason), (json!(true), Reason::Rollout));
        assert!(
            r.detail.starts_with(&format!(
                "user \"{inside}\" is in the 25% rollout in prod (bucket "
            )),
            "{}",
            r.detail
        );
        let r = resolve("checkout-v2", flag, "prod", Some(&outside));
        assert_eq!((r.value, r.reason), (json!(false), Reason::Default));
        assert!(
            r.detail.contains("is outside the 25% rollout (bucket "),
            "{}",
            r.detail
        );

        // Override plus rollout: users outside get the override.
        let flag = &f.flags["search-backend"];
        let outside = (0..)
            .map(|i| format!("u{i}"))
            .find(|u| bucket("search-backend", u) >= 5000)
            .unwrap();
        let r = resolve("search-backend", flag, "staging", Some(&outside));
        assert_eq!((r.value, r.reason), (json!("opensearch"), Reason::Override));
    }

    #[test]
    fn rollout_edges() {
        let mut flag = sample().flags["checkout-v2"].clone();
        let prod = flag.environments.get_mut("prod").unwrap();
        prod.rollout.as_mut().unwrap().percentage = 100.0;
        let r = resolve("checkout-v2", &flag, "prod", None);
        assert_eq!((r.value, r.reason), (json!(true), Reason::Rollout));
        let prod = flag.environments.get_mut("prod").unwrap();
        prod.rollout.as_mut().unwrap().percentage = 0.0;
        for u in ["a", "b", "c", "d"] {
            assert_eq!(
                resolve("checkout-v2", &flag, "prod", Some(u)).reason,
                Reason::Default
            );
        }
    }

    #[test]
    fn buckets_are_deterministic_and_spread() {
        // FNV-1a 64 reference values.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(
            bucket("checkout-v2", "alice"),
            bucket("checkout-v2", "alice")
        );
        assert_eq!(bucket("f", "u"), fnv1a64(b"f:u") % 10_000);
        // About a quarter of 10 000 users fall under 25%.
        let n = (0..10_000)
            .filter(|i| bucket("checkout-v2", &format!("user-{i}")) < 2500)
            .count();
        assert!((2300..2700).contains(&n), "{n}");
        // Flags bucket users independently.
        let same = (0..1000)
            .filter(|i| {
                let u = format!("user-{i}");
                (bucket("a", &u) < 5000) == (bucket("b", &u) < 5000)
            })
            .count();
        assert!((400..600).contains(&same), "{same}");
        assert_eq!(percent(25.0), "25%");
        assert_eq!(percent(12.5), "12.5%");
        assert_eq!(percent(0.01), "0.01%");
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().message("/config/flags.json")
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        assert_eq!(
            error("{\n  \"flags\": {\n    \"a\": {\"default\": true,}\n  }\n}"),
            "malformed flag file /config/flags.json: line 3, column 27: trailing comma"
        );
        assert_eq!(
            error(
                "{\"flags\": {\"a\": {\"default\": 1, \"environments\": {\"dev\": {\"rollout\": {\"percentage\": \"x\", \"value\": 2}}}}}}"
            ),
            "malformed flag file /config/flags.json: line 1, column 85: invalid type: string \
             \"x\", expected f64 (at `flags.a.environments.dev.rollout.percentage`)"
        );
        assert_eq!(
            error("{\"flags\": {\"a\": {}}}"),
            "malformed flag file /config/flags.json: line 1, column 18: missing field `default` \
             (at `flags.a`)"
        );
        assert_eq!(
            error("{\"flags\": {\"a\": {\"default\": 1, \"enviroments\": {}}}}"),
            "malformed flag file /config/flags.json: line 1, column 44: unknown field \
             `enviroments`, expected one of `description`, `default`, `environments` (at \
             `flags.a.enviroments`)"
        );
        assert!(
            error("").contains("line 1, column 0: EOF while parsing"),
            "{}",
            error("")
        );
        assert!(error("{\"flags\": {}} x").contains("trailing characters"));
    }

    #[test]
    fn semantic_errors() {
        assert_eq!(
            error(
                r#"{"environments": ["dev", "prod"], "flags": {"a": {"default": 1, "environments": {"prd": {"value": 2}}}}}"#
            ),
            "invalid flag file /config/flags.json: flag 'a' has a setting for environment 'prd', \
             which is not declared (declared environments: dev, prod)"
        );
        assert_eq!(
            error(
                r#"{"flags": {"a": {"default": true, "environments": {"dev": {"value": "yes"}}}}}"#
            ),
            "invalid flag file /config/flags.json: flag 'a', environment 'dev': `value` is a \
             string but the default is a boolean"
        );
        assert_eq!(
            error(
                r#"{"flags": {"a": {"default": 1, "environments": {"dev": {"rollout": {"percentage": 120, "value": 2}}}}}}"#
            ),
            "invalid flag file /config/flags.json: flag 'a', environment 'dev': \
             `rollout.percentage` must be between 0 and 100, not 120"
        );
        assert!(
            error(r#"{"flags": {"a": {"default": 1, "environments": {"dev": {}}}}}"#)
                .ends_with("set `value`, `rollout`, or both")
        );
        assert!(error(r#"{"environments": [], "flags": {}}"#).contains("`environments` is empty"));
        assert!(error(r#"{"environments": ["a", "a"], "flags": {}}"#).contains("listed twice"));
    }

    #[test]
    fn suggestions() {
        let names = ["checkout-v2", "dark-mode", "max-upload-mb"];
        assert_eq!(suggest("checkout_v2", names), Some("checkout-v2"));
        assert_eq!(suggest("Dark-Mode", names), Some("dark-mode"));
        assert_eq!(suggest("checkout-v3", names), Some("checkout-v2"));
        assert_eq!(suggest("banana", names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
