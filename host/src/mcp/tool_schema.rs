//! A tool's JSON Schemas: parsed, and compiled into validators whose regular
//! expressions are bounded.
//!
//! Every `pattern` and `patternProperties` key is a regular expression the
//! host compiles at load and runs on every call's arguments. A plugin could
//! otherwise make the host compile thousands of them, each as large as the
//! regex engine allows (10 MiB by default), or one that backtracks without
//! end. So: at most [`MAX_PATTERNS`] per schema and
//! [`MAX_PATTERNS_PER_PLUGIN`] per plugin; each compiled program at most
//! [`REGEX_SIZE_LIMIT`] with a lazy-DFA cache of at most
//! [`REGEX_DFA_SIZE_LIMIT`]; and matching gives up after
//! [`REGEX_BACKTRACK_LIMIT`] backtracking steps (the arguments then fail
//! validation). The engine stays `fancy-regex`, which JSON Schema's
//! ECMA-262 patterns (look-around, back-references) need.
//!
//! A schema is compiled when its tool is added, so a tool whose schema is
//! unusable is never listed; only a plugin listed from the artifact cache,
//! whose schemas compiled when it was last described, has its validators
//! compiled when first used instead (its lists are confirmed by describing
//! it again right after the start).

use std::sync::{Arc, OnceLock};

use jsonschema::PatternOptions;
use rmcp::model::JsonObject;
use serde_json::Value;

/// Regular expressions in one schema.
pub const MAX_PATTERNS: usize = 64;
/// Regular expressions in all of one plugin's schemas.
pub const MAX_PATTERNS_PER_PLUGIN: usize = 256;
/// Approximate size of one compiled regular expression (256 KiB).
pub const REGEX_SIZE_LIMIT: usize = 256 << 10;
/// Cache of one regular expression's lazy DFA (256 KiB).
pub const REGEX_DFA_SIZE_LIMIT: usize = 256 << 10;
/// Backtracking steps of one match.
pub const REGEX_BACKTRACK_LIMIT: usize = 100_000;

/// Parses a schema document, which must be a JSON object.
pub(crate) fn schema_object(text: &str, what: &str) -> Result<JsonObject, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(format!("the {what} is not a JSON object")),
        Err(e) => Err(format!("the {what} is not valid JSON: {e}")),
    }
}

/// A schema's validator: compiled, or compiled when first used.
#[derive(Debug)]
pub struct SchemaValidator {
    schema: Value,
    what: &'static str,
    compiled: OnceLock<Result<jsonschema::Validator, String>>,
}

impl SchemaValidator {
    /// The validator, compiled now if it was not yet; an error says why the
    /// schema is not usable.
    pub fn get(&self) -> Result<&jsonschema::Validator, &str> {
        self.compiled
            .get_or_init(|| build(&self.schema, self.what))
            .as_ref()
            .map_err(String::as_str)
    }
}

/// Makes a validator with bounded regular expressions for a schema,
/// charging its patterns to `budget` (what is left of the plugin's). The
/// schema is compiled now (and must compile) unless `later`.
pub(crate) fn compile_schema(
    schema: &JsonObject,
    what: &'static str,
    budget: &mut usize,
    later: bool,
) -> Result<Arc<SchemaValidator>, String> {
    let schema = Value::Object(schema.clone());
    let patterns = count_patterns(&schema);
    if patterns > MAX_PATTERNS {
        return Err(format!(
            "the {what} has {patterns} regular expressions (`pattern`, `patternProperties`); \
             at most {MAX_PATTERNS} per schema are accepted"
        ));
    }
    if patterns > *budget {
        return Err(format!(
            "the {what} has {patterns} regular expressions, and the plugin's schemas may have \
             at most {MAX_PATTERNS_PER_PLUGIN} in all"
        ));
    }
    *budget -= patterns;
    let validator = if later {
        SchemaValidator {
            compiled: OnceLock::new(),
            schema,
            what,
        }
    } else {
        // Compiled now: the schema is not kept twice (the tool holds it).
        SchemaValidator {
            compiled: OnceLock::from(Ok(build(&schema, what)?)),
            schema: Value::Null,
            what,
        }
    };
    Ok(Arc::new(validator))
}

/// Compiles `schema` (the `what` of a tool).
fn build(schema: &Value, what: &str) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_pattern_options(
            PatternOptions::fancy_regex()
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
                .backtrack_limit(REGEX_BACKTRACK_LIMIT),
        )
        .build(schema)
        .map_err(|e| {
            format!(
                "the {what} is not a usable JSON Schema: {}",
                shorten(&e.to_string())
            )
        })
}

/// How many regular expressions a schema holds: string `pattern` values and
/// `patternProperties` keys, anywhere in it.
fn count_patterns(value: &Value) -> usize {
    match value {
        Value::Object(object) => object
            .iter()
            .map(|(key, value)| {
                let own = match (key.as_str(), value) {
                    ("pattern", Value::String(_)) => 1,
                    ("patternProperties", Value::Object(keys)) => keys.len(),
                    _ => 0,
                };
                own + count_patterns(value)
            })
            .sum(),
        Value::Array(items) => items.iter().map(count_patterns).sum(),
        _ => 0,
    }
}

/// A compiler message cut to 300 characters (it may quote the schema).
fn shorten(message: &str) -> String {
    match message.char_indices().nth(300) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(schema: &str, budget: &mut usize) -> Result<Arc<SchemaValidator>, String> {
        compile_schema(
            &schema_object(schema, "input schema")?,
            "input schema",
            budget,
            false,
        )
    }

    #[test]
    fn patterns_are_counted_and_capped() {
        let props: Vec<String> = (0..=MAX_PATTERNS)
            .map(|i| format!("\"p{i}\": {{\"type\": \"string\", \"pattern\": \"^a\"}}"))
            .collect();
        let schema = format!(
            "{{\"type\": \"object\", \"properties\": {{{}}}}}",
            props.join(",")
        );
        let mut budget = MAX_PATTERNS_PER_PLUGIN;
        let error = compile(&schema, &mut budget).unwrap_err();
        assert!(error.contains("65 regular expressions"), "{error}");
        let schema = r#"{"type": "object", "properties": {"pattern": {"type": "string"}},
                         "patternProperties": {"^x": {}, "^y": {}}}"#;
        assert!(compile(schema, &mut budget).is_ok());
        assert_eq!(budget, MAX_PATTERNS_PER_PLUGIN - 2);
        let mut budget = 1;
        assert!(
            compile(schema, &mut budget)
                .unwrap_err()
                .contains("at most 256 in all")
        );
    }

    #[test]
    fn huge_and_backtracking_patterns_are_bounded() {
        let mut budget = MAX_PATTERNS_PER_PLUGIN;
        let huge = r#"{"type": "object", "properties": {"a": {"type": "string", "pattern": "^[a-z]{20000}$"}}}"#;
        let error = compile(huge, &mut budget).unwrap_err();
        assert!(error.contains("not a usable JSON Schema"), "{error}");
        // The engine's own default (10 MiB) would have compiled it.
        let value: Value = serde_json::from_str(huge).unwrap();
        assert!(jsonschema::validator_for(&value).is_ok());
        let bomb = r#"{"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a|a)*(?=b)c$"}}}"#;
        let validator = compile(bomb, &mut budget).unwrap();
        let argument = serde_json::json!({"a": "a".repeat(64)});
        assert!(!validator.get().unwrap().is_valid(&argument));
    }

    #[test]
    fn a_schema_compiled_later_still_counts_its_patterns_and_says_why_it_is_unusable() {
        let huge = r#"{"type": "object", "properties": {"a": {"type": "string", "pattern": "^[a-z]{20000}$"}}}"#;
        let object = schema_object(huge, "input schema").unwrap();
        let mut budget = MAX_PATTERNS_PER_PLUGIN;
        let validator = compile_schema(&object, "input schema", &mut budget, true).unwrap();
        assert_eq!(budget, MAX_PATTERNS_PER_PLUGIN - 1);
        let error = validator.get().unwrap_err();
        assert!(error.contains("not a usable JSON Schema"), "{error}");
        let mut budget = 0;
        let error = compile_schema(&object, "input schema", &mut budget, true).unwrap_err();
        assert!(error.contains("at most 256 in all"), "{error}");
    }
}
