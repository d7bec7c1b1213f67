//! What the principal of a request sees: with `[[auth.rules]]`, the tools it
//! may list and the resources, templates, prompts and completions of the
//! plugins it may call a tool of. Anything else looks absent to it: missing
//! from lists, and "unknown" when named. (Whether it may call a tool is
//! decided before the request reaches the handler, in `http::calls`.)
//!
//! The principal comes from the HTTP layer, in the extensions of the request
//! parts rmcp hands to the handler; stdio requests have none and see all.

use std::collections::HashSet;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::Reference;
use rmcp::service::RequestContext;

use crate::mcp::registry::Registry;
use crate::policy::access::{AccessRules, Principal};

/// The principal of `context`'s request, when an access token named one.
pub fn principal_of(context: &RequestContext<RoleServer>) -> Option<Arc<Principal>> {
    context
        .extensions
        .get::<::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Arc<Principal>>())
        .cloned()
}

/// The plugins open to a request's principal (all of them without one).
#[derive(Debug)]
pub struct OpenPlugins(Option<HashSet<String>>);

impl OpenPlugins {
    /// Whether `plugin` is open.
    pub fn contains(&self, plugin: &str) -> bool {
        self.0.as_ref().is_none_or(|open| open.contains(plugin))
    }
}

/// One request's view of the registry.
#[derive(Debug)]
pub struct Viewer<'a> {
    rules: &'a AccessRules,
    principal: Option<Arc<Principal>>,
}

impl<'a> Viewer<'a> {
    /// The view of `context`'s principal under `rules`.
    pub fn of(rules: &'a AccessRules, context: &RequestContext<RoleServer>) -> Self {
        Self {
            rules,
            principal: principal_of(context),
        }
    }

    /// Whether the view is everything (no principal, or no rules).
    fn sees_all(&self) -> bool {
        self.principal.is_none() || self.rules.is_open()
    }

    /// Whether `tools/list` shows the tool exposed as `tool`.
    pub fn sees_tool(&self, tool: &str) -> bool {
        match &self.principal {
            Some(principal) => self.rules.may_list(principal, tool),
            None => true,
        }
    }

    /// The plugins whose resources, templates, prompts and completions are
    /// open.
    pub fn open_plugins(&self, registry: &Registry) -> OpenPlugins {
        let Some(principal) = self.principal.as_ref().filter(|_| !self.sees_all()) else {
            return OpenPlugins(None);
        };
        OpenPlugins(Some(
            registry
                .tools()
                .filter(|t| self.rules.may_call(principal, &t.tool.name))
                .map(|t| t.plugin.name.clone())
                .collect(),
        ))
    }

    /// Whether `plugin`'s resources, prompts and completions are open: the
    /// principal may call one of its tools.
    pub fn opens(&self, registry: &Registry, plugin: &str) -> bool {
        match self.principal.as_ref().filter(|_| !self.sees_all()) {
            None => true,
            Some(principal) => registry
                .tools()
                .any(|t| t.plugin.name == plugin && self.rules.may_call(principal, &t.tool.name)),
        }
    }

    /// Whether the plugin a completion `reference` names is open (an
    /// unknown reference is left to the completion to report).
    pub fn opens_reference(&self, registry: &Registry, reference: &Reference) -> bool {
        let catalog = registry.catalog();
        let plugin = match reference {
            Reference::Prompt(p) => catalog.prompt(&p.name).map(|e| e.plugin.name.as_str()),
            Reference::Resource(r) => catalog.template(&r.uri).map(|e| e.plugin.name.as_str()),
            _ => None,
        };
        plugin.is_none_or(|plugin| self.opens(registry, plugin))
    }

    /// The principal's name for the audit log and spans.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_deref()
    }
}
