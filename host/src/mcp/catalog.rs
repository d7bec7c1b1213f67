//! The resources, resource templates and prompts of every loaded plugin, as
//! MCP clients see them.
//!
//! Namespacing: a plugin's resource URIs and URI templates are its own
//! (`docs://guide.md`, `docs://{path}`); they are exposed as `PLUGIN+URI`
//! (`docs+docs://guide.md`), which is still an absolute URI because plugin
//! names (`[a-z][a-z0-9-]*`) are valid URI-scheme characters, and which maps
//! back without ambiguity because plugin names contain no `+`. Prompts are
//! exposed as `PLUGIN_PROMPT`, with the same character rules and collision
//! suffixes as tools.
//!
//! With `plugins.NAME.namespace = false` the operator keeps a plugin's own
//! names and URIs; a read is then routed by the URI's scheme, which only one
//! such plugin may use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rmcp::model::{Prompt, PromptArgument, Resource, ResourceTemplate};

use crate::mcp::names::UniqueNames;
use crate::mcp::registry::{LoadedPlugin, PluginEntry, PluginStatus};

/// A resource as exposed over MCP.
#[derive(Debug, Clone)]
pub struct ResourceEntry {
    /// The plugin serving it.
    pub plugin: Arc<LoadedPlugin>,
    /// The MCP resource (with the exposed URI).
    pub resource: Resource,
}

/// A resource template as exposed over MCP.
#[derive(Debug, Clone)]
pub struct TemplateEntry {
    /// The plugin serving it.
    pub plugin: Arc<LoadedPlugin>,
    /// The URI template inside the plugin.
    pub local_template: String,
    /// The MCP template (with the exposed URI template).
    pub template: ResourceTemplate,
}

/// A prompt as exposed over MCP.
#[derive(Debug, Clone)]
pub struct PromptEntry {
    /// The plugin serving it.
    pub plugin: Arc<LoadedPlugin>,
    /// The prompt's name inside its plugin.
    pub local_name: String,
    /// The MCP prompt (with the exposed name).
    pub prompt: Prompt,
}

/// Which primitives besides tools at least one plugin offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offers {
    /// Resources or resource templates.
    pub resources: bool,
    /// Prompts.
    pub prompts: bool,
    /// Completions: a plugin exports `completions` and offers prompts or
    /// templates.
    pub completions: bool,
}

/// Every exposed resource, template and prompt.
#[derive(Debug, Default)]
pub struct Catalog {
    resources: Vec<ResourceEntry>,
    templates: Vec<TemplateEntry>,
    prompts: BTreeMap<String, PromptEntry>,
    prompt_order: Vec<String>,
    offers: Offers,
    /// URI schemes of plugins that are not namespaced, and the plugin that
    /// serves each.
    schemes: BTreeMap<String, String>,
    /// Assigns unique prompt names.
    prompt_names: UniqueNames,
}

/// `PLUGIN+URI`: a plugin-local URI or URI template as clients see it.
pub fn expose_uri(plugin: &str, uri: &str) -> String {
    format!("{plugin}+{uri}")
}

/// The plugin and its local URI behind an exposed URI.
pub fn split_uri(exposed: &str) -> Option<(&str, &str)> {
    let (plugin, local) = exposed.split_once('+')?;
    (!plugin.is_empty() && !local.is_empty()).then_some((plugin, local))
}

/// Whether `uri` starts with a URI scheme (`scheme:`).
fn has_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

impl Catalog {
    /// Builds the catalog from the loaded plugins (in `plugins` order); the
    /// second value holds notices per plugin about skipped or renamed items.
    pub fn build(plugins: &[PluginEntry]) -> (Self, BTreeMap<String, Vec<String>>) {
        let mut catalog = Catalog::default();
        let mut notices: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in plugins {
            let PluginStatus::Loaded(plugin) = &entry.status else {
                continue;
            };
            let mut note = |message: String| {
                notices.entry(entry.name.clone()).or_default().push(message);
            };
            catalog.add_resources(plugin, &mut note);
            catalog.add_prompts(plugin, &mut note);
            let exports = plugin.code.exports();
            if exports.completions && (!plugin.prompts.is_empty() || !plugin.templates.is_empty()) {
                catalog.offers.completions = true;
            }
        }
        catalog.offers.resources = !catalog.resources.is_empty() || !catalog.templates.is_empty();
        catalog.offers.prompts = !catalog.prompts.is_empty();
        (catalog, notices)
    }

    /// Claims the scheme of `uri` for a plugin that is not namespaced; the
    /// reason it cannot when another plugin has it (or it could be mistaken
    /// for a namespaced URI).
    fn claim_scheme(&mut self, plugin: &LoadedPlugin, uri: &str) -> Result<(), String> {
        if plugin.namespaced {
            return Ok(());
        }
        let scheme = uri.split_once(':').map_or(uri, |(scheme, _)| scheme);
        if scheme.contains('+') {
            return Err(format!(
                "its scheme `{scheme}` contains `+`, which Warden keeps for namespaced URIs"
            ));
        }
        match self.schemes.get(scheme) {
            Some(owner) if owner != &plugin.name => Err(format!(
                "its scheme `{scheme}` is already served by plugin `{owner}` (both have \
                 `namespace = false`)"
            )),
            _ => {
                self.schemes.insert(scheme.to_string(), plugin.name.clone());
                Ok(())
            }
        }
    }

    /// The plugin that is not namespaced and serves URIs with `scheme`.
    pub fn scheme_owner(&self, scheme: &str) -> Option<&str> {
        self.schemes.get(scheme).map(String::as_str)
    }

    fn add_resources(&mut self, plugin: &Arc<LoadedPlugin>, note: &mut impl FnMut(String)) {
        let mut seen = BTreeSet::new();
        for r in &plugin.resources {
            if !has_scheme(&r.uri) {
                note(format!(
                    "resource `{}` skipped: its URI must be absolute (`scheme:...`)",
                    r.uri
                ));
                continue;
            }
            if let Err(why) = self.claim_scheme(plugin, &r.uri) {
                note(format!("resource `{}` skipped: {why}", r.uri));
                continue;
            }
            if !seen.insert(r.uri.clone()) {
                note(format!("resource `{}` skipped: listed twice", r.uri));
                continue;
            }
            let mut resource = Resource::new(plugin.expose_uri(&r.uri), r.name.clone());
            resource.title = r.title.clone();
            resource.description = r.description.clone();
            resource.mime_type = r.mime_type.clone();
            resource.size = r.size;
            self.resources.push(ResourceEntry {
                plugin: plugin.clone(),
                resource,
            });
        }
        let mut seen = BTreeSet::new();
        for t in &plugin.templates {
            if !has_scheme(&t.uri_template) {
                note(format!(
                    "resource template `{}` skipped: it must start with a URI scheme",
                    t.uri_template
                ));
                continue;
            }
            if let Err(why) = self.claim_scheme(plugin, &t.uri_template) {
                note(format!(
                    "resource template `{}` skipped: {why}",
                    t.uri_template
                ));
                continue;
            }
            if !seen.insert(t.uri_template.clone()) {
                note(format!(
                    "resource template `{}` skipped: listed twice",
                    t.uri_template
                ));
                continue;
            }
            let mut template =
                ResourceTemplate::new(plugin.expose_uri(&t.uri_template), t.name.clone());
            template.title = t.title.clone();
            template.description = t.description.clone();
            template.mime_type = t.mime_type.clone();
            self.templates.push(TemplateEntry {
                plugin: plugin.clone(),
                local_template: t.uri_template.clone(),
                template,
            });
        }
    }

    fn add_prompts(&mut self, plugin: &Arc<LoadedPlugin>, note: &mut impl FnMut(String)) {
        for p in &plugin.prompts {
            if p.name.is_empty() {
                note("a prompt with an empty name was skipped".into());
                continue;
            }
            let wanted = plugin.exposed_name(&p.name);
            let exposed = self.prompt_names.assign(&wanted, &self.prompts);
            if exposed != wanted {
                note(format!(
                    "prompt `{}` is exposed as `{exposed}` (names must match \
                     ^[a-zA-Z0-9_-]{{1,64}}$ and be unique)",
                    p.name
                ));
            }
            let arguments: Vec<PromptArgument> = p
                .arguments
                .iter()
                .map(|a| {
                    let mut argument =
                        PromptArgument::new(a.name.clone()).with_required(a.required);
                    argument.title = a.title.clone();
                    argument.description = a.description.clone();
                    argument
                })
                .collect();
            let mut prompt = Prompt::new(
                exposed.clone(),
                p.description.clone(),
                (!arguments.is_empty()).then_some(arguments),
            );
            prompt.title = p.title.clone();
            self.prompt_order.push(exposed.clone());
            self.prompts.insert(
                exposed,
                PromptEntry {
                    plugin: plugin.clone(),
                    local_name: p.name.clone(),
                    prompt,
                },
            );
        }
    }

    /// Which primitives are offered.
    pub fn offers(&self) -> Offers {
        self.offers
    }

    /// Every exposed resource, in plugin order then the plugin's order.
    pub fn resources(&self) -> &[ResourceEntry] {
        &self.resources
    }

    /// Every exposed template.
    pub fn templates(&self) -> &[TemplateEntry] {
        &self.templates
    }

    /// The template exposed as `uri_template`.
    pub fn template(&self, uri_template: &str) -> Option<&TemplateEntry> {
        self.templates
            .iter()
            .find(|t| t.template.uri_template == uri_template)
    }

    /// Every exposed prompt, in order.
    pub fn prompts(&self) -> impl Iterator<Item = &PromptEntry> {
        self.prompt_order
            .iter()
            .filter_map(|name| self.prompts.get(name))
    }

    /// The prompt exposed as `name`.
    pub fn prompt(&self, name: &str) -> Option<&PromptEntry> {
        self.prompts.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_prefixed_and_split_back() {
        let exposed = expose_uri("docs", "docs://guide.md");
        assert_eq!(exposed, "docs+docs://guide.md");
        assert_eq!(split_uri(&exposed), Some(("docs", "docs://guide.md")));
        assert_eq!(
            split_uri("my-notes+note+x://a+b"),
            Some(("my-notes", "note+x://a+b"))
        );
        assert_eq!(split_uri("docs://guide.md"), None);
        assert_eq!(split_uri("+x://a"), None);
    }

    #[test]
    fn schemes() {
        assert!(has_scheme("docs://x"));
        assert!(has_scheme("urn:isbn:123"));
        assert!(has_scheme("a.b+c-d:x"));
        assert!(!has_scheme("/etc/passwd"));
        assert!(!has_scheme("1abc:x"));
        assert!(!has_scheme("guide.md"));
    }
}
