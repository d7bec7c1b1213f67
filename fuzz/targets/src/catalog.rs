//! Resource URIs, URI templates and prompt names as plugins describe them,
//! through the registry's namespacing (`PLUGIN+URI`, `PLUGIN_PROMPT`) and
//! the routing of a client's URI back to a plugin.

use std::collections::BTreeSet;
use std::sync::Arc;

use warden::mcp::registry::{LoadedPlugin, PluginEntry, PluginStatus, Registry};
use warden::sandbox::{Description, PromptDescriptor, ResourceDescriptor, ResourceTemplate};

use crate::harness::{PLUGINS, harness};

/// Input lines: `PLUGIN r URI` (a resource), `PLUGIN t TEMPLATE` (a resource
/// template), `PLUGIN p NAME` (a prompt) for PLUGIN in `alpha`, `beta-2`
/// (namespaced), `raw`, `raw-too` (not); `? URI` is a URI a client reads.
///
/// Checks: exposed URIs, templates and prompt names are unique; prompt names
/// are what clients accept; every exposed URI routes back to its plugin and
/// local URI; any URI that routes somewhere is exactly what that plugin
/// exposes for the local URI it is routed as (no URI reaches a plugin it
/// was not exposed for); and two plugins without namespace never share a
/// scheme.
pub fn catalog(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut descriptions: Vec<Description> = PLUGINS.iter().map(|_| empty()).collect();
    let mut queries = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(who), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        let value = parts.next().unwrap_or_default().to_string();
        if who == "?" {
            queries.push(format!("{kind} {value}").trim_end().to_string());
            queries.push(kind.to_string());
            continue;
        }
        let Some(index) = PLUGINS.iter().position(|p| *p == who) else {
            continue;
        };
        let description = &mut descriptions[index];
        match kind {
            "r" => description.resources.push(ResourceDescriptor {
                uri: value.clone(),
                name: value,
                title: None,
                description: None,
                mime_type: None,
                size: None,
            }),
            "t" => description.templates.push(ResourceTemplate {
                uri_template: value.clone(),
                name: value,
                title: None,
                description: None,
                mime_type: None,
            }),
            "p" => description.prompts.push(PromptDescriptor {
                name: value,
                title: None,
                description: None,
                arguments: Vec::new(),
            }),
            _ => {}
        }
    }
    let base = &harness().plugins;
    let entries: Vec<PluginEntry> = base
        .iter()
        .zip(descriptions)
        .map(|(entry, description)| {
            let PluginStatus::Loaded(plugin) = &entry.status else {
                unreachable!("the harness loads every plugin");
            };
            PluginEntry {
                status: PluginStatus::Loaded(Arc::new(plugin.redescribed(description))),
                ..entry.clone()
            }
        })
        .collect();
    check(&Registry::build(entries), &queries);
}

fn empty() -> Description {
    Description {
        tools: Vec::new(),
        resources: Vec::new(),
        templates: Vec::new(),
        prompts: Vec::new(),
    }
}

fn check(registry: &Registry, queries: &[String]) {
    let catalog = registry.catalog();
    let mut uris = BTreeSet::new();
    for entry in catalog.resources() {
        let uri = &entry.resource.uri;
        assert!(uris.insert(uri.clone()), "resource URI {uri} exposed twice");
        let (plugin, local) = registry
            .resolve_uri(uri)
            .unwrap_or_else(|| panic!("exposed resource {uri} routes nowhere"));
        assert_eq!(
            plugin.name, entry.plugin.name,
            "{uri} routes to another plugin"
        );
        assert!(
            entry.plugin.resources.iter().any(|r| r.uri == local),
            "{uri} routes to {local}, which the plugin does not list"
        );
    }
    let mut templates = BTreeSet::new();
    for entry in catalog.templates() {
        let exposed = &entry.template.uri_template;
        assert!(
            templates.insert(exposed.clone()),
            "template {exposed} exposed twice"
        );
        assert_eq!(&entry.plugin.expose_uri(&entry.local_template), exposed);
        let found = catalog
            .template(exposed)
            .expect("an exposed template is found");
        assert_eq!(found.plugin.name, entry.plugin.name);
    }
    let mut prompts = BTreeSet::new();
    for entry in catalog.prompts() {
        let name: &str = &entry.prompt.name;
        assert!(
            prompts.insert(name.to_string()),
            "prompt {name} exposed twice"
        );
        assert!(
            (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "prompt name {name:?} is not ^[a-zA-Z0-9_-]{{1,64}}$"
        );
        assert_eq!(
            catalog.prompt(name).map(|p| &p.local_name),
            Some(&entry.local_name)
        );
    }
    let mut schemes: Vec<(&str, &str)> = Vec::new();
    for plugin in loaded(registry).filter(|p| !p.namespaced) {
        let owned: BTreeSet<&str> = plugin
            .resources
            .iter()
            .map(|r| r.uri.as_str())
            .chain(plugin.templates.iter().map(|t| t.uri_template.as_str()))
            .filter_map(|uri| uri.split_once(':').map(|(s, _)| s))
            .filter(|scheme| catalog.scheme_owner(scheme) == Some(plugin.name.as_str()))
            .collect();
        for scheme in owned {
            if let Some((_, other)) = schemes.iter().find(|(s, _)| *s == scheme) {
                panic!("scheme {scheme} owned by {other} and {}", plugin.name);
            }
            schemes.push((scheme, plugin.name.as_str()));
        }
    }
    for uri in queries
        .iter()
        .map(String::as_str)
        .chain(uris.iter().map(String::as_str))
    {
        if let Some((plugin, local)) = registry.resolve_uri(uri) {
            assert_eq!(
                plugin.expose_uri(&local),
                uri,
                "{uri} routes to {} as {local}, which that plugin exposes differently",
                plugin.name
            );
        }
    }
}

fn loaded(registry: &Registry) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
    registry
        .plugins()
        .iter()
        .filter_map(|entry| match &entry.status {
            PluginStatus::Loaded(plugin) => Some(plugin),
            PluginStatus::Failed(_) => None,
        })
}
