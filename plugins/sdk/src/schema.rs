//! JSON Schema generation for tool arguments and outputs.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// Generates the JSON Schema of `T` as a JSON document whose root is
/// `{"type": "object", ...}`.
///
/// Draft 2020-12, subschemas inlined where possible (no `$defs` for
/// non-recursive types, which some MCP clients do not resolve), without the
/// `$schema` keyword and without the Rust type name as the root `title`.
pub(crate) fn object_schema_for<T: JsonSchema>() -> Result<String, String> {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let mut value = Value::from(schema);
    ensure_object_root(&mut value, &T::schema_name())?;
    unwrap_descriptions(&mut value);
    Ok(value.to_string())
}

/// Doc comments wrap at ~100 columns and schemars keeps those line breaks;
/// join soft-wrapped lines so each paragraph reads as one line. Blank lines
/// (paragraph breaks) and Markdown list items are kept.
fn unwrap_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match (key.as_str(), child) {
                    ("description", Value::String(text)) => *text = unwrap_lines(text),
                    // Literal JSON values, not schemas.
                    ("default" | "const" | "enum" | "examples", _) => {}
                    (_, child) => unwrap_descriptions(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}

fn unwrap_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        let trimmed = line.trim();
        if i > 0 {
            let starts_block = trimmed.is_empty()
                || out.ends_with('\n')
                || trimmed.starts_with("- ")
                || trimmed.starts_with("* ")
                || trimmed.starts_with("```");
            out.push(if starts_block { '\n' } else { ' ' });
        }
        if trimmed.is_empty() {
            continue;
        }
        out.push_str(if out.ends_with(' ') {
            trimmed
        } else {
            line.trim_end()
        });
    }
    out
}

fn ensure_object_root(value: &mut Value, type_name: &str) -> Result<(), String> {
    let Value::Object(root) = value else {
        return Err(format!(
            "the schema of `{type_name}` is not an object schema; use a struct"
        ));
    };
    root.remove("title");
    match root.get("type") {
        Some(Value::String(t)) if t == "object" => Ok(()),
        Some(other) => Err(format!(
            "the schema of `{type_name}` has root type {other}, but tool arguments and \
             structured outputs must be JSON objects; use a struct"
        )),
        None => {
            // An enum whose every variant is an object (e.g. internally
            // tagged): the root may say "object" as well.
            let all_objects = ["oneOf", "anyOf"].iter().any(|k| {
                root.get(*k)
                    .and_then(Value::as_array)
                    .is_some_and(|branches| {
                        branches
                            .iter()
                            .all(|b| b.get("type").and_then(Value::as_str) == Some("object"))
                    })
            });
            if all_objects {
                root.insert("type".into(), Value::String("object".into()));
                Ok(())
            } else {
                Err(format!(
                    "the schema of `{type_name}` does not describe a JSON object; tool \
                     arguments and structured outputs must be objects; use a struct"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Top-level docs.
    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Args {
        /// A text.
        text: String,
        /// An optional number.
        count: Option<u32>,
        mode: Mode,
    }

    /// Which mode.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Mode {
        Fast,
        Slow,
    }

    #[derive(Deserialize, JsonSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Tagged {
        A { x: u32 },
        B { y: String },
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn struct_schema_is_object_inlined_without_title() {
        let schema = parse(&object_schema_for::<Args>().unwrap());
        assert_eq!(schema["type"], "object");
        assert!(schema.get("title").is_none(), "{schema}");
        assert!(schema.get("$schema").is_none(), "{schema}");
        assert!(schema.get("$defs").is_none(), "{schema}");
        assert_eq!(schema["description"], "Top-level docs.");
        assert_eq!(schema["properties"]["text"]["description"], "A text.");
        assert_eq!(
            schema["properties"]["mode"]["enum"],
            serde_json::json!(["fast", "slow"])
        );
        let required = schema["required"].as_array().unwrap();
        assert!(required.contains(&"text".into()));
        assert!(!required.contains(&"count".into()));
    }

    #[test]
    fn soft_wrapped_descriptions_are_joined() {
        assert_eq!(unwrap_lines("one\ntwo"), "one two");
        assert_eq!(unwrap_lines("one\n\ntwo\nthree"), "one\n\ntwo three");
        assert_eq!(unwrap_lines("list:\n- a\n- b"), "list:\n- a\n- b");
        let mut v = serde_json::json!({
            "description": "a\nb",
            "properties": {"x": {"description": "c\nd", "default": "e\nf"}}
        });
        unwrap_descriptions(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "description": "a b",
                "properties": {"x": {"description": "c d", "default": "e\nf"}}
            })
        );
    }

    #[test]
    fn tagged_enum_gets_object_root() {
        let schema = parse(&object_schema_for::<Tagged>().unwrap());
        assert_eq!(schema["type"], "object");
        assert!(schema["oneOf"].is_array());
    }

    #[test]
    fn non_object_is_rejected() {
        let err = object_schema_for::<String>().unwrap_err();
        assert!(err.contains("use a struct"), "{err}");
        let err = object_schema_for::<Mode>().unwrap_err();
        assert!(err.contains("Mode"), "{err}");
    }
}
