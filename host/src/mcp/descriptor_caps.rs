//! Caps on what one plugin may describe: how many tools, prompts, resources
//! and templates, how large each name, title, description and schema is, and
//! how large the whole description is. Checked once, on every description a
//! plugin returns (at load and after it announces a change), before anything
//! is parsed, compiled or indexed.
//!
//! - A plugin over a count cap, or over the total, is refused as a whole: at
//!   load it fails with a load error; after an announcement its old lists
//!   stay. A plugin with that many items is broken or hostile, and exposing
//!   an arbitrary part of it would only hide that.
//! - One item with an oversized field is skipped with a notice (like an item
//!   whose schema does not compile); the plugin's other items are served. At
//!   most [`MAX_NOTICES`] such notices are kept per plugin, then one that
//!   counts the rest.

use crate::limits::ByteSize;
use crate::sandbox::{Description, PromptDescriptor};

/// Tools per plugin.
pub const MAX_TOOLS: usize = 1_000;
/// Prompts per plugin.
pub const MAX_PROMPTS: usize = 1_000;
/// Concrete resources per plugin.
pub const MAX_RESOURCES: usize = 10_000;
/// Resource templates per plugin.
pub const MAX_TEMPLATES: usize = 1_000;
/// Arguments per prompt.
pub const MAX_PROMPT_ARGUMENTS: usize = 64;
/// Bytes in a name (tool, prompt, argument, resource) or a MIME type.
pub const MAX_NAME: usize = 256;
/// Bytes in a resource URI or URI template.
pub const MAX_URI: usize = 2_048;
/// Bytes in a title.
pub const MAX_TITLE: usize = 512;
/// Bytes in a description.
pub const MAX_DESCRIPTION: usize = 16 << 10;
/// Bytes in one JSON Schema (input or output).
pub const MAX_SCHEMA: usize = 256 << 10;
/// Bytes of text in a plugin's whole description.
pub const MAX_TOTAL: usize = 8 << 20;
/// Skip notices kept per description.
pub const MAX_NOTICES: usize = 20;

/// Checks `description` against the caps: the description without its
/// oversized items, with a notice per skipped item; or why it is refused as
/// a whole.
pub fn check(mut description: Description) -> Result<(Description, Vec<String>), String> {
    let counts = [
        ("tools", description.tools.len(), MAX_TOOLS),
        ("prompts", description.prompts.len(), MAX_PROMPTS),
        ("resources", description.resources.len(), MAX_RESOURCES),
        (
            "resource templates",
            description.templates.len(),
            MAX_TEMPLATES,
        ),
    ];
    for (what, count, cap) in counts {
        if count > cap {
            return Err(format!(
                "the plugin describes {count} {what}; at most {cap} per plugin are accepted"
            ));
        }
    }
    let total = total_bytes(&description);
    if total > MAX_TOTAL {
        return Err(format!(
            "the plugin's description is {} of text; at most {} per plugin is accepted",
            ByteSize(total as u64),
            ByteSize(MAX_TOTAL as u64)
        ));
    }
    let mut notices = Notices::default();
    description.tools.retain(|t| {
        let fields = [
            ("name", t.name.len(), MAX_NAME),
            ("title", opt_len(&t.title), MAX_TITLE),
            ("description", t.description.len(), MAX_DESCRIPTION),
            ("input schema", t.input_schema.len(), MAX_SCHEMA),
            ("output schema", opt_len(&t.output_schema), MAX_SCHEMA),
        ];
        notices.keep("tool", &t.name, &fields)
    });
    description
        .prompts
        .retain(|p| notices.keep("prompt", &p.name, &prompt_fields(p)));
    description.resources.retain(|r| {
        let fields = [
            ("URI", r.uri.len(), MAX_URI),
            ("name", r.name.len(), MAX_NAME),
            ("title", opt_len(&r.title), MAX_TITLE),
            ("description", opt_len(&r.description), MAX_DESCRIPTION),
            ("MIME type", opt_len(&r.mime_type), MAX_NAME),
        ];
        notices.keep("resource", &r.uri, &fields)
    });
    description.templates.retain(|t| {
        let fields = [
            ("URI template", t.uri_template.len(), MAX_URI),
            ("name", t.name.len(), MAX_NAME),
            ("title", opt_len(&t.title), MAX_TITLE),
            ("description", opt_len(&t.description), MAX_DESCRIPTION),
            ("MIME type", opt_len(&t.mime_type), MAX_NAME),
        ];
        notices.keep("resource template", &t.uri_template, &fields)
    });
    Ok((description, notices.finish()))
}

/// The fields of a prompt and its arguments, with their caps; the argument
/// count counts as a field.
fn prompt_fields(p: &PromptDescriptor) -> Vec<(&'static str, usize, usize)> {
    let mut fields = vec![
        ("name", p.name.len(), MAX_NAME),
        ("title", opt_len(&p.title), MAX_TITLE),
        ("description", opt_len(&p.description), MAX_DESCRIPTION),
        ("argument count", p.arguments.len(), MAX_PROMPT_ARGUMENTS),
    ];
    for a in &p.arguments {
        fields.push(("argument name", a.name.len(), MAX_NAME));
        fields.push(("argument title", opt_len(&a.title), MAX_TITLE));
        fields.push((
            "argument description",
            opt_len(&a.description),
            MAX_DESCRIPTION,
        ));
    }
    fields
}

fn opt_len(text: &Option<String>) -> usize {
    text.as_ref().map_or(0, String::len)
}

/// Bytes of text in the whole description.
fn total_bytes(d: &Description) -> usize {
    let tools = d.tools.iter().map(|t| {
        t.name.len()
            + opt_len(&t.title)
            + t.description.len()
            + t.input_schema.len()
            + opt_len(&t.output_schema)
    });
    let prompts = d.prompts.iter().map(|p| {
        p.name.len()
            + opt_len(&p.title)
            + opt_len(&p.description)
            + p.arguments
                .iter()
                .map(|a| a.name.len() + opt_len(&a.title) + opt_len(&a.description))
                .sum::<usize>()
    });
    let resources = d.resources.iter().map(|r| {
        r.uri.len()
            + r.name.len()
            + opt_len(&r.title)
            + opt_len(&r.description)
            + opt_len(&r.mime_type)
    });
    let templates = d.templates.iter().map(|t| {
        t.uri_template.len()
            + t.name.len()
            + opt_len(&t.title)
            + opt_len(&t.description)
            + opt_len(&t.mime_type)
    });
    tools.chain(prompts).chain(resources).chain(templates).sum()
}

/// Skip notices, at most [`MAX_NOTICES`] kept.
#[derive(Debug, Default)]
struct Notices {
    kept: Vec<String>,
    dropped: usize,
}

impl Notices {
    /// Whether an item passes its caps; notes why not.
    fn keep(&mut self, kind: &str, id: &str, fields: &[(&str, usize, usize)]) -> bool {
        let Some((field, len, cap)) = fields.iter().find(|(_, len, cap)| len > cap) else {
            return true;
        };
        if self.kept.len() < MAX_NOTICES {
            self.kept.push(format!(
                "{kind} `{}` skipped: its {field} is {}, more than the {} accepted",
                shorten(id),
                amount(field, *len),
                amount(field, *cap)
            ));
        } else {
            self.dropped += 1;
        }
        false
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.kept.push(format!(
                "{} more items were skipped for exceeding a size cap",
                self.dropped
            ));
        }
        self.kept
    }
}

/// A byte size, or a bare count for the argument count.
fn amount(field: &str, n: usize) -> String {
    if field == "argument count" {
        n.to_string()
    } else {
        ByteSize(n as u64).to_string()
    }
}

/// `id` cut to 64 characters for a notice (an oversized name is one of the
/// things being reported).
fn shorten(id: &str) -> String {
    const SHOWN: usize = 64;
    match id.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", id[..end].escape_debug()),
        None => id.escape_debug().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::ToolDescriptor;

    fn tool(name: &str, schema_len: usize) -> ToolDescriptor {
        let padding = " ".repeat(schema_len.saturating_sub(17));
        ToolDescriptor {
            name: name.into(),
            title: None,
            description: "d".into(),
            input_schema: format!("{{\"type\":\"object\"{padding}}}"),
            output_schema: None,
            annotations: crate::sandbox::Annotations {
                read_only: None,
                destructive: None,
                idempotent: None,
                open_world: None,
            },
            requires: Vec::new(),
        }
    }

    #[test]
    fn oversized_items_are_skipped_with_a_notice() {
        let description = Description {
            tools: vec![
                tool("ok", 20),
                tool("huge", MAX_SCHEMA + 1),
                tool(&"n".repeat(300), 20),
            ],
            ..Default::default()
        };
        let (description, notices) = check(description).unwrap();
        assert_eq!(description.tools.len(), 1);
        assert_eq!(description.tools[0].name, "ok");
        assert_eq!(
            notices[0],
            "tool `huge` skipped: its input schema is 262145 B, more than the 256 KiB accepted"
        );
        assert!(notices[1].starts_with(&format!(
            "tool `{}…` skipped: its name is 300 B",
            "n".repeat(64)
        )));
    }

    #[test]
    fn too_many_items_refuse_the_plugin() {
        let description = Description {
            tools: (0..=MAX_TOOLS)
                .map(|i| tool(&format!("t{i}"), 20))
                .collect(),
            ..Default::default()
        };
        assert_eq!(
            check(description).unwrap_err(),
            "the plugin describes 1001 tools; at most 1000 per plugin are accepted"
        );
    }

    #[test]
    fn the_total_is_capped_and_notices_are_bounded() {
        let description = Description {
            tools: (0..40)
                .map(|i| tool(&format!("t{i}"), MAX_SCHEMA))
                .collect(),
            ..Default::default()
        };
        assert!(
            check(description)
                .unwrap_err()
                .contains("at most 8 MiB per plugin")
        );
        let description = Description {
            tools: (0..30)
                .map(|i| tool(&format!("t{i}"), MAX_SCHEMA + 1))
                .collect(),
            ..Default::default()
        };
        let (description, notices) = check(description).unwrap();
        assert!(description.tools.is_empty());
        assert_eq!(notices.len(), MAX_NOTICES + 1);
        assert_eq!(
            notices[MAX_NOTICES],
            "10 more items were skipped for exceeding a size cap"
        );
    }
}
