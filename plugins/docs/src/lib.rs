//! `docs`: a Warden example plugin that serves a folder of Markdown as MCP
//! resources and offers prompts built on it.
//!
//! - Resources: every `.md`, `.markdown` and `.txt` file under the granted
//!   directory `/docs` as `docs://PATH`, and the template `docs://{path}` with
//!   completion of paths. Clients see them as `docs+docs://PATH` (the host
//!   prefixes the plugin's name).
//! - Prompts: `summarize` (a document for an audience) and `review_diff`
//!   (a unified diff, with an optional focus).
//! - Tools: `search` (find text in the documents) and `refresh` (ask the host
//!   to list the documents again and tell clients that the list changed,
//!   after files were added or removed).

mod library;

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden_plugin::notify::{self, ListKind};
use warden_plugin::{
    Arguments, Prompt, PromptError, PromptOutput, Resource, ResourceContent, ResourceError,
    ResourceTemplate, Resources, Tool, ToolError, ToolOutput, UriMatch, complete_from,
};

use library::DocError;

/// The granted directory of documents (see `examples/plugins/docs.toml`).
const ROOT: &str = "/docs";
/// Most search hits returned.
const MAX_HITS: usize = 50;
/// What `review_diff` may focus on.
const FOCUS: [&str; 6] = [
    "correctness",
    "security",
    "performance",
    "readability",
    "tests",
    "api-design",
];

fn root() -> &'static Path {
    Path::new(ROOT)
}

/// The tools of this plugin.
pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "search",
            "Search the documents for a text (case-insensitive). Returns matching lines as \
             `PATH:LINE: text`; read a whole document as the resource `docs+docs://PATH`.",
            |args: SearchArgs| search_in(root(), &args.query),
        )
        .title("Search the docs")
        .output_schema::<SearchResult>()
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::new(
            "refresh",
            "List the documents again after files were added or removed, and tell the client \
             that the resource list changed. Name documents whose contents changed in \
             `changed` to tell clients subscribed to them.",
            refresh,
        )
        .title("Refresh the document list")
        .read_only()
        .closed_world(),
    ]
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RefreshArgs {
    /// Paths of documents whose contents changed, such as `guides/setup.md`.
    #[serde(default)]
    changed: Vec<String>,
}

fn refresh(args: RefreshArgs) -> Result<ToolOutput, ToolError> {
    notify::list_changed(ListKind::Resources);
    for path in &args.changed {
        notify::resource_updated(&format!("docs://{path}"));
    }
    let count = library::list(root()).len();
    Ok(ToolOutput::text(format!(
        "{count} document(s); the client was told that the resource list changed"
    )))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    /// The text to find (case-insensitive).
    query: String,
}

#[derive(Serialize, JsonSchema)]
struct SearchResult {
    /// Matching lines, at most 50.
    hits: Vec<Hit>,
    /// Whether more lines matched than are listed.
    truncated: bool,
}

#[derive(Serialize, JsonSchema)]
struct Hit {
    /// The document's path.
    path: String,
    /// The line number (from 1).
    line: usize,
    /// The line's text.
    text: String,
}

fn search_in(root: &Path, query: &str) -> Result<ToolOutput, ToolError> {
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return Err(ToolError::invalid_arguments("`query` is empty"));
    }
    let mut hits = Vec::new();
    let mut truncated = false;
    for doc in library::list(root) {
        let Ok(text) = library::read(root, &doc.path) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            if !line.to_lowercase().contains(&needle) {
                continue;
            }
            if hits.len() == MAX_HITS {
                truncated = true;
                break;
            }
            hits.push(Hit {
                path: doc.path.clone(),
                line: index + 1,
                text: line.trim().to_string(),
            });
        }
    }
    let text = if hits.is_empty() {
        format!("no document mentions {query:?}")
    } else {
        hits.iter()
            .map(|h| format!("{}:{}: {}", h.path, h.line, h.text))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let structured = serde_json::to_value(SearchResult { hits, truncated })
        .map_err(|e| ToolError::failed(e.to_string()))?;
    Ok(ToolOutput {
        content: vec![warden_plugin::Content::Text(text)],
        structured: Some(structured),
    })
}

/// The resources of this plugin: every document, and the `docs://{path}`
/// template they are read through.
pub fn resources() -> Resources {
    Resources::new()
        .list(|| {
            library::list(root())
                .into_iter()
                .map(|doc| {
                    let mut resource = Resource::new(format!("docs://{}", doc.path), &doc.path)
                        .mime_type(library::mime_type(&doc.path))
                        .size(doc.size);
                    if let Some(title) = doc.title {
                        resource = resource.title(title);
                    }
                    resource
                })
                .collect()
        })
        .template(
            ResourceTemplate::new("docs://{path}", "document", read_doc)
                .title("A document")
                .description(
                    "A Markdown or text document of the docs folder, by its path relative \
                     to the folder (for example `writing-plugins.md`).",
                )
                .mime_type("text/markdown")
                .complete("path", complete_path),
        )
}

fn read_doc(found: &UriMatch) -> Result<ResourceContent, ResourceError> {
    let path = found.var("path");
    library::read(root(), path)
        .map(|text| ResourceContent::text(text).mime_type(library::mime_type(path)))
        .map_err(|e| match e {
            DocError::NotFound(m) => ResourceError::not_found(m),
            DocError::Failed(m) => ResourceError::failed(m),
        })
}

fn complete_path(typed: &str, _: &Arguments) -> Vec<String> {
    complete_from(library::list(root()).into_iter().map(|d| d.path), typed)
}

/// The prompts of this plugin.
pub fn prompts() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "summarize",
            "Summarize one document of the docs folder for a given audience.",
            |args: SummarizeArgs| summarize_in(root(), args),
        )
        .title("Summarize a document")
        .complete("path", complete_path)
        .complete("audience", |typed, _| {
            complete_from(
                ["engineers", "operators", "plugin authors", "newcomers"],
                typed,
            )
        }),
        Prompt::new(
            "review_diff",
            "Review a unified diff like a careful senior engineer, optionally focusing on one \
             concern.",
            review_diff,
        )
        .title("Review a diff")
        .complete("focus", |typed, _| complete_from(FOCUS, typed)),
    ]
}

#[derive(Deserialize, JsonSchema)]
struct SummarizeArgs {
    /// The document's path in the docs folder, such as `writing-plugins.md`.
    path: String,
    /// Who the summary is for (default: engineers new to the project).
    audience: Option<String>,
}

fn summarize_in(root: &Path, args: SummarizeArgs) -> Result<PromptOutput, PromptError> {
    let text = library::read(root, &args.path).map_err(|e| match e {
        DocError::NotFound(m) => PromptError::invalid_arguments(m),
        DocError::Failed(m) => PromptError::failed(m),
    })?;
    let audience = args
        .audience
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "engineers new to the project".into());
    Ok(PromptOutput::user(format!(
        "Summarize the document `{path}` for {audience}.\n\n\
         Start with one sentence that says what the document is for, then list the key \
         points (at most seven bullets), then any steps a reader must take. Keep the \
         document's terminology; do not invent details it does not contain.\n\n\
         <document path=\"{path}\">\n{text}\n</document>",
        path = args.path
    ))
    .description(format!("Summary of {} for {audience}", args.path)))
}

#[derive(Deserialize, JsonSchema)]
struct ReviewArgs {
    /// The unified diff to review (output of `git diff`).
    diff: String,
    /// One concern to focus on: correctness, security, performance, readability, tests or
    /// api-design.
    focus: Option<String>,
}

fn review_diff(args: ReviewArgs) -> Result<PromptOutput, PromptError> {
    if args.diff.trim().is_empty() {
        return Err(PromptError::invalid_arguments("`diff` is empty"));
    }
    let focus = match args.focus.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(f) if FOCUS.contains(&f) => Some(f),
        Some(other) => {
            return Err(PromptError::invalid_arguments(format!(
                "unknown focus `{other}`; use one of: {}",
                FOCUS.join(", ")
            )));
        }
    };
    let focus_line = match focus {
        Some(f) => format!("Focus on {f}; mention other problems only if they are serious."),
        None => "Cover correctness first, then security, tests and readability.".into(),
    };
    Ok(PromptOutput::user(format!(
        "Review this change as a careful senior engineer. {focus_line}\n\n\
         For each finding give the file and line, what is wrong, why it matters and a \
         concrete fix. Say which findings block merging. End with a one-line verdict.\n\n\
         ```diff\n{}\n```",
        args.diff.trim_end()
    ))
    .and_assistant("I will go through the diff hunk by hunk and list findings by severity."))
}

warden_plugin::export_plugin!(tools, resources = resources, prompts = prompts);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_checks_focus_and_diff() {
        let ok = review_diff(ReviewArgs {
            diff: "+a".into(),
            focus: Some("security".into()),
        })
        .unwrap();
        assert_eq!(ok.messages.len(), 2);
        let bad = review_diff(ReviewArgs {
            diff: "+a".into(),
            focus: Some("vibes".into()),
        })
        .unwrap_err();
        assert!(matches!(bad, PromptError::InvalidArguments(ref m) if m.contains("security")));
        assert!(
            review_diff(ReviewArgs {
                diff: " ".into(),
                focus: None
            })
            .is_err()
        );
    }

    #[test]
    fn describes_everything() {
        assert!(warden_plugin::describe_tools(&tools()).is_ok());
        let prompts = warden_plugin::describe_prompts(&prompts()).unwrap();
        let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["summarize", "review_diff"]);
        let templates = resources().describe_templates().unwrap();
        assert_eq!(templates[0].uri_template, "docs://{path}");
    }
}
