//! Resources: [`Resource`] (one URI), [`ResourceTemplate`] (a URI template
//! such as `docs://{path}`) and [`Resources`], what a plugin offers.
//!
//! URIs are the plugin's own; the host shows them to clients prefixed with
//! the plugin's name (`docs+docs://guide.md`) and strips the prefix again
//! before the plugin sees a read.

use std::collections::BTreeMap;
use std::fmt;

use crate::completion::{Arguments, Completers, Completion};

/// The body of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceBody {
    /// UTF-8 text.
    Text(String),
    /// Binary data.
    Blob(Vec<u8>),
}

/// What reading a resource returns.
///
/// ```
/// use warden_plugin::ResourceContent;
/// let page = ResourceContent::text("# Guide").mime_type("text/markdown");
/// # let _ = page;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceContent {
    /// The MIME type; `None` uses the one the resource or template declares.
    pub mime_type: Option<String>,
    /// The body.
    pub body: ResourceBody,
}

impl ResourceContent {
    /// A text body.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            mime_type: None,
            body: ResourceBody::Text(text.into()),
        }
    }

    /// A binary body.
    pub fn blob(data: impl Into<Vec<u8>>) -> Self {
        Self {
            mime_type: None,
            body: ResourceBody::Blob(data.into()),
        }
    }

    /// Sets the MIME type.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }
}

/// Why a resource could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceError {
    /// No resource has this URI (the host answers with MCP's
    /// resource-not-found error).
    NotFound(String),
    /// The resource exists but could not be read.
    Failed(String),
}

impl ResourceError {
    /// No resource has this URI; `message` says what exists instead.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// The resource could not be read.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(m) => write!(f, "not found: {m}"),
            Self::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

impl std::error::Error for ResourceError {}

type Reader = Box<dyn Fn(&str) -> Result<ResourceContent, ResourceError>>;
type TemplateReader = Box<dyn Fn(&UriMatch) -> Result<ResourceContent, ResourceError>>;

/// What `list-resources` reports for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDescriptor {
    /// The URI (the plugin's own).
    pub uri: String,
    /// A short name.
    pub name: String,
    /// A human-readable title.
    pub title: Option<String>,
    /// What it holds.
    pub description: Option<String>,
    /// Its MIME type.
    pub mime_type: Option<String>,
    /// Its size in bytes.
    pub size: Option<u64>,
}

/// One resource with a fixed URI. Without a reader it is read through the
/// first template that matches its URI.
pub struct Resource {
    descriptor: ResourceDescriptor,
    reader: Option<Reader>,
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("descriptor", &self.descriptor)
            .field("reader", &self.reader.is_some())
            .finish()
    }
}

impl Resource {
    /// A resource at `uri` (an absolute URI such as `docs://guide.md`).
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            descriptor: ResourceDescriptor {
                uri: uri.into(),
                name: name.into(),
                title: None,
                description: None,
                mime_type: None,
                size: None,
            },
            reader: None,
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.descriptor.title = Some(title.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.descriptor.description = Some(description.into());
        self
    }

    /// Sets the MIME type.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.descriptor.mime_type = Some(mime_type.into());
        self
    }

    /// Sets the size in bytes.
    pub fn size(mut self, size: u64) -> Self {
        self.descriptor.size = Some(size);
        self
    }

    /// Reads the resource with `reader` (it gets the URI).
    pub fn reader(
        mut self,
        reader: impl Fn(&str) -> Result<ResourceContent, ResourceError> + 'static,
    ) -> Self {
        self.reader = Some(Box::new(reader));
        self
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &ResourceDescriptor {
        &self.descriptor
    }
}

/// The variables a URI matched a template with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriMatch {
    /// The whole URI.
    pub uri: String,
    /// Each variable's (percent-decoded) value.
    pub vars: BTreeMap<String, String>,
}

impl UriMatch {
    /// The value of `name`; empty when the template has no such variable.
    pub fn var(&self, name: &str) -> &str {
        self.vars.get(name).map_or("", String::as_str)
    }
}

/// What `list-resource-templates` reports for one template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDescriptor {
    /// The URI template.
    pub uri_template: String,
    /// A short name.
    pub name: String,
    /// A human-readable title.
    pub title: Option<String>,
    /// What the resources hold.
    pub description: Option<String>,
    /// The MIME type of the resources.
    pub mime_type: Option<String>,
}

/// A family of resources addressed by a URI template.
///
/// Templates use `{name}` (or `{+name}`) variables; a variable matches any
/// non-empty text up to the literal that follows it, `/` included, so
/// `docs://{path}` matches `docs://guides/intro.md` with
/// `path = "guides/intro.md"`. Values are percent-decoded.
///
/// ```
/// use warden_plugin::{ResourceContent, ResourceTemplate};
/// let template = ResourceTemplate::new("docs://{path}", "doc", |m| {
///     Ok(ResourceContent::text(format!("contents of {}", m.var("path"))))
/// })
/// .mime_type("text/markdown")
/// .complete("path", |typed, _| warden_plugin::complete_from(["guide.md"], typed));
/// # let _ = template;
/// ```
pub struct ResourceTemplate {
    descriptor: TemplateDescriptor,
    parts: Result<Vec<Part>, String>,
    reader: TemplateReader,
    completers: Completers,
}

impl fmt::Debug for ResourceTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceTemplate")
            .field("descriptor", &self.descriptor)
            .field("completers", &self.completers)
            .finish_non_exhaustive()
    }
}

impl ResourceTemplate {
    /// A template such as `docs://{path}`, read with `reader`.
    pub fn new(
        uri_template: impl Into<String>,
        name: impl Into<String>,
        reader: impl Fn(&UriMatch) -> Result<ResourceContent, ResourceError> + 'static,
    ) -> Self {
        let uri_template = uri_template.into();
        Self {
            parts: parse_template(&uri_template),
            descriptor: TemplateDescriptor {
                uri_template,
                name: name.into(),
                title: None,
                description: None,
                mime_type: None,
            },
            reader: Box::new(reader),
            completers: Completers::default(),
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.descriptor.title = Some(title.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.descriptor.description = Some(description.into());
        self
    }

    /// Sets the MIME type of every matching resource.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.descriptor.mime_type = Some(mime_type.into());
        self
    }

    /// Completes the variable `name`: `completer` gets the text typed so far
    /// and the variables already resolved.
    pub fn complete(
        mut self,
        name: impl Into<String>,
        completer: impl Fn(&str, &Arguments) -> Vec<String> + 'static,
    ) -> Self {
        self.completers.add(name.into(), Box::new(completer));
        self
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &TemplateDescriptor {
        &self.descriptor
    }

    /// The variables `uri` matches this template with, if it matches.
    pub fn matches(&self, uri: &str) -> Option<UriMatch> {
        let parts = self.parts.as_ref().ok()?;
        let mut vars = BTreeMap::new();
        match_parts(parts, uri, &mut vars).then(|| UriMatch {
            uri: uri.to_string(),
            vars,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(String),
}

fn parse_template(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Literal(rest[..open].to_string()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("URI template {template:?}: `{{` without `}}`"))?;
        let name = &rest[open + 1..open + close];
        let name = name.strip_prefix('+').unwrap_or(name);
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Err(format!(
                "URI template {template:?}: unsupported expression {{{name}}}; use {{name}} or {{+name}}"
            ));
        }
        if matches!(parts.last(), Some(Part::Var(_))) {
            return Err(format!(
                "URI template {template:?}: two variables need a literal between them"
            ));
        }
        parts.push(Part::Var(name.to_string()));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_string()));
    }
    Ok(parts)
}

fn match_parts(parts: &[Part], uri: &str, vars: &mut BTreeMap<String, String>) -> bool {
    match parts {
        [] => uri.is_empty(),
        [Part::Literal(lit), rest @ ..] => uri
            .strip_prefix(lit.as_str())
            .is_some_and(|tail| match_parts(rest, tail, vars)),
        [Part::Var(name)] => {
            if uri.is_empty() {
                return false;
            }
            vars.insert(name.clone(), percent_decode(uri));
            true
        }
        [Part::Var(name), rest @ ..] => {
            let Some(Part::Literal(next)) = rest.first() else {
                return false;
            };
            // The shortest value that lets the rest match.
            let mut from = 1;
            while let Some(pos) = uri.get(from..).and_then(|t| t.find(next.as_str())) {
                let end = from + pos;
                let mut attempt = vars.clone();
                attempt.insert(name.clone(), percent_decode(&uri[..end]));
                if match_parts(rest, &uri[end..], &mut attempt) {
                    *vars = attempt;
                    return true;
                }
                from = end + 1;
            }
            false
        }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

type Lister = Box<dyn Fn() -> Vec<Resource>>;

/// Everything a plugin offers as resources: fixed resources, a function that
/// lists resources when asked (for example the files in a directory), and
/// templates.
///
/// ```
/// use warden_plugin::{Resource, ResourceContent, ResourceTemplate, Resources};
/// let resources = Resources::new()
///     .resource(
///         Resource::new("notes://readme", "readme")
///             .mime_type("text/plain")
///             .reader(|_| Ok(ResourceContent::text("hello"))),
///     )
///     .template(ResourceTemplate::new("notes://{name}", "note", |m| {
///         Ok(ResourceContent::text(format!("note {}", m.var("name"))))
///     }));
/// let read = resources.read("notes://readme").unwrap();
/// assert_eq!(read.body, warden_plugin::ResourceBody::Text("hello".into()));
/// ```
#[derive(Default)]
pub struct Resources {
    fixed: Vec<Resource>,
    listers: Vec<Lister>,
    templates: Vec<ResourceTemplate>,
}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resources")
            .field("fixed", &self.fixed)
            .field("listers", &self.listers.len())
            .field("templates", &self.templates)
            .finish()
    }
}

impl Resources {
    /// No resources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a fixed resource.
    pub fn resource(mut self, resource: Resource) -> Self {
        self.fixed.push(resource);
        self
    }

    /// Adds a function that lists resources each time the host asks (at load
    /// and after the plugin announces a change).
    pub fn list(mut self, lister: impl Fn() -> Vec<Resource> + 'static) -> Self {
        self.listers.push(Box::new(lister));
        self
    }

    /// Adds a template.
    pub fn template(mut self, template: ResourceTemplate) -> Self {
        self.templates.push(template);
        self
    }

    /// The resources the listers return now.
    fn listed(&self) -> Vec<Resource> {
        self.listers.iter().flat_map(|lister| lister()).collect()
    }

    /// Describes every resource (what `list-resources` returns).
    pub fn describe(&self) -> Vec<ResourceDescriptor> {
        self.fixed
            .iter()
            .map(|r| r.descriptor.clone())
            .chain(self.listed().into_iter().map(|r| r.descriptor))
            .collect()
    }

    /// Describes every template; fails on a template that cannot be parsed.
    pub fn describe_templates(&self) -> Result<Vec<TemplateDescriptor>, String> {
        self.templates
            .iter()
            .map(|t| {
                t.parts
                    .as_ref()
                    .map(|_| t.descriptor.clone())
                    .map_err(Clone::clone)
            })
            .collect()
    }

    /// Reads `uri`: a resource with its own reader, else the first template
    /// that matches; `NotFound` when nothing does.
    pub fn read(&self, uri: &str) -> Result<ResourceContent, ResourceError> {
        let with_default = |content: ResourceContent, mime: &Option<String>| ResourceContent {
            mime_type: content.mime_type.or_else(|| mime.clone()),
            body: content.body,
        };
        let listed = self.listed();
        let fixed = self.fixed.iter().chain(listed.iter());
        let mut declared_mime = None;
        for resource in fixed.filter(|r| r.descriptor.uri == uri) {
            declared_mime = resource.descriptor.mime_type.clone();
            if let Some(reader) = &resource.reader {
                return reader(uri).map(|c| with_default(c, &declared_mime));
            }
        }
        for template in &self.templates {
            if let Some(found) = template.matches(uri) {
                let mime = declared_mime.or_else(|| template.descriptor.mime_type.clone());
                return (template.reader)(&found).map(|c| with_default(c, &mime));
            }
        }
        Err(ResourceError::not_found(format!(
            "no resource has the URI {uri:?}"
        )))
    }

    /// Completes a variable of the template whose URI template is
    /// `uri_template`.
    pub fn complete(
        &self,
        uri_template: &str,
        argument: &str,
        typed: &str,
        context: &Arguments,
    ) -> Completion {
        self.templates
            .iter()
            .find(|t| t.descriptor.uri_template == uri_template)
            .map(|t| t.completers.complete(argument, typed, context))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(t: &str) -> ResourceTemplate {
        ResourceTemplate::new(t, "t", |m| {
            Ok(ResourceContent::text(format!("{:?}", m.vars)))
        })
    }

    #[test]
    fn templates_match_with_slashes_and_decoding() {
        let t = template("docs://{path}");
        assert_eq!(
            t.matches("docs://guides/intro.md").unwrap().var("path"),
            "guides/intro.md"
        );
        assert_eq!(t.matches("docs://a%20b.md").unwrap().var("path"), "a b.md");
        assert!(t.matches("docs://").is_none());
        assert!(t.matches("file://x").is_none());

        let t = template("repo://{owner}/{name}/readme");
        let m = t.matches("repo://me/warden/readme").unwrap();
        assert_eq!((m.var("owner"), m.var("name")), ("me", "warden"));
        assert!(t.matches("repo://me/warden/license").is_none());

        assert!(parse_template("x://{a}{b}").is_err());
        assert!(parse_template("x://{?q}").is_err());
        assert!(parse_template("x://{open").is_err());
        assert!(parse_template("x://{+path}").is_ok());
    }

    #[test]
    fn reads_fixed_then_templates_then_not_found() {
        let resources = Resources::new()
            .resource(
                Resource::new("n://fixed", "fixed")
                    .mime_type("text/plain")
                    .reader(|_| Ok(ResourceContent::text("fixed"))),
            )
            .list(|| vec![Resource::new("n://listed", "listed").mime_type("text/markdown")])
            .template(template("n://{name}").mime_type("application/json"));
        let fixed = resources.read("n://fixed").unwrap();
        assert_eq!(fixed.body, ResourceBody::Text("fixed".into()));
        assert_eq!(fixed.mime_type.as_deref(), Some("text/plain"));
        // A listed resource without a reader is read through the template,
        // keeping its own MIME type.
        let listed = resources.read("n://listed").unwrap();
        assert_eq!(listed.mime_type.as_deref(), Some("text/markdown"));
        let other = resources.read("n://other").unwrap();
        assert_eq!(other.mime_type.as_deref(), Some("application/json"));
        assert!(matches!(
            resources.read("zzz://nothing"),
            Err(ResourceError::NotFound(_))
        ));
        let uris: Vec<String> = resources.describe().into_iter().map(|d| d.uri).collect();
        assert_eq!(uris, ["n://fixed", "n://listed"]);
    }
}
