//! What `warden list` shows of each plugin: [`PluginSummary`], made from
//! the registry.

use std::path::PathBuf;

use serde::Serialize;

use crate::limits::Limits;
use crate::mcp::registry::{PluginStatus, Registry};
use crate::policy::grants::Grants;
use crate::policy::manifest::Capabilities;

/// What `warden list --json` prints for one plugin.
#[derive(Debug, Serialize)]
pub struct PluginSummary {
    /// The plugin's name.
    pub name: String,
    /// The component file.
    pub component: PathBuf,
    /// The manifest file, if any.
    pub manifest: Option<PathBuf>,
    /// `loaded` or `failed`.
    pub status: &'static str,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The plugin's own version, from its manifest.
    pub version: Option<String>,
    /// The plugin's description, from its manifest.
    pub description: Option<String>,
    /// The plugin world version the component was built against.
    pub world_version: Option<String>,
    /// Capabilities the manifest requests.
    pub requested: Option<Capabilities>,
    /// Capabilities the plugin actually gets (secret values left out).
    pub granted: Option<Grants>,
    /// Effective limits.
    pub limits: Option<Limits>,
    /// Load time in milliseconds.
    pub load_ms: Option<f64>,
    /// Exposed tools.
    pub tools: Vec<ToolSummary>,
    /// Exposed resource URIs.
    pub resources: Vec<String>,
    /// Exposed resource URI templates.
    pub templates: Vec<String>,
    /// Exposed prompt names.
    pub prompts: Vec<String>,
    /// Notices about this plugin.
    pub notices: Vec<String>,
}

/// One exposed tool in `warden list`.
#[derive(Debug, Serialize)]
pub struct ToolSummary {
    /// The name clients call.
    pub name: String,
    /// The name inside the plugin.
    pub local_name: String,
    /// The tool's title.
    pub title: Option<String>,
    /// The tool's description.
    pub description: String,
    /// Whether the plugin annotates it read-only (a hint, from the plugin).
    pub read_only: bool,
}

impl Registry {
    /// Summaries of every plugin, for `warden list`.
    pub fn summaries(&self) -> Vec<PluginSummary> {
        self.plugins()
            .iter()
            .map(|entry| {
                let loaded = match &entry.status {
                    PluginStatus::Loaded(plugin) => Some(plugin),
                    PluginStatus::Failed(_) => None,
                };
                PluginSummary {
                    name: entry.name.clone(),
                    component: entry.component_path.clone(),
                    manifest: entry.manifest_path.clone(),
                    status: if loaded.is_some() { "loaded" } else { "failed" },
                    error: entry.status.error().map(str::to_string),
                    version: entry
                        .manifest
                        .as_ref()
                        .and_then(|m| m.version.as_ref().map(ToString::to_string)),
                    description: entry.manifest.as_ref().and_then(|m| m.description.clone()),
                    world_version: loaded.map(|p| p.code.world_version().to_owned()),
                    requested: entry.manifest.as_ref().map(|m| m.capabilities.clone()),
                    granted: loaded.map(|p| (*p.grants).clone()),
                    limits: loaded.map(|p| p.limits),
                    load_ms: loaded.map(|p| p.load_time.as_secs_f64() * 1000.0),
                    tools: self
                        .tools_of(&entry.name)
                        .map(|t| ToolSummary {
                            name: t.tool.name.to_string(),
                            local_name: t.local_name.clone(),
                            title: t.tool.title.clone(),
                            description: t
                                .tool
                                .description
                                .as_deref()
                                .unwrap_or_default()
                                .to_string(),
                            read_only: t
                                .tool
                                .annotations
                                .as_ref()
                                .and_then(|a| a.read_only_hint)
                                .unwrap_or(false),
                        })
                        .collect(),
                    resources: self
                        .catalog()
                        .resources()
                        .iter()
                        .filter(|r| r.plugin.name == entry.name)
                        .map(|r| r.resource.uri.clone())
                        .collect(),
                    templates: self
                        .catalog()
                        .templates()
                        .iter()
                        .filter(|t| t.plugin.name == entry.name)
                        .map(|t| t.template.uri_template.clone())
                        .collect(),
                    prompts: self
                        .catalog()
                        .prompts()
                        .filter(|p| p.plugin.name == entry.name)
                        .map(|p| p.prompt.name.clone())
                        .collect(),
                    notices: entry
                        .notices
                        .iter()
                        .chain(self.built_notices(&entry.name))
                        .cloned()
                        .collect(),
                }
            })
            .collect()
    }
}
