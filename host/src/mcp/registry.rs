//! The registry: every loaded plugin and the MCP tools it exposes.
//!
//! Tool names are namespaced by plugin as `PLUGIN_TOOL` and restricted to what
//! MCP clients accept (`^[a-zA-Z0-9_-]{1,64}$`). Plugins are processed in name
//! order and tools in the order the plugin lists them, so collisions (after
//! character replacement or truncation) are resolved the same way every time:
//! the first keeps the name, later ones get a `_2`, `_3`, ... suffix, and each
//! rename is reported as a notice on its plugin (see [`crate::mcp::names`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::Value;

use crate::limits::Limits;
use crate::mcp::catalog::Catalog;
use crate::mcp::definitions::{DefinitionSet, HeldUpdate};
use crate::mcp::names::UniqueNames;
pub use crate::mcp::summary::{PluginSummary, ToolSummary};
use crate::mcp::tool_schema::{SchemaValidator, compile_schema, schema_object};
use crate::policy::consent::ConsentRules;
use crate::policy::grants::Grants;
use crate::policy::lock::Definitions;
use crate::policy::manifest::{ClientFeature, Manifest};
use crate::policy::operator::Concurrency;
use crate::sandbox::{
    CachedAs, Description, PluginCode, PromptDescriptor, ResourceDescriptor, ResourceTemplate,
    ToolDescriptor, WitClientFeature,
};

/// Longest tool name clients accept.
pub const MAX_TOOL_NAME: usize = crate::mcp::names::MAX_NAME;

/// Notices kept per plugin from building the registry (renamed or skipped
/// items); the rest are counted in one more.
const MAX_BUILT_NOTICES: usize = 50;

/// A plugin that loaded and can serve calls.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    /// The plugin's name (its namespace).
    pub name: String,
    /// The compiled component (perhaps mapped only when first needed).
    pub code: PluginCode,
    /// The limits every call of this plugin runs under.
    pub limits: Limits,
    /// The limits describing it runs under: [`Self::limits`] with the
    /// describe timeout (`loading.describe_timeout`) when that is shorter.
    pub describe_limits: Limits,
    /// The capabilities every call of this plugin gets.
    pub grants: Arc<Grants>,
    /// The tools as the plugin described them (minus disabled ones).
    pub tools: Vec<ToolDescriptor>,
    /// The concrete resources, with the plugin's own URIs.
    pub resources: Vec<ResourceDescriptor>,
    /// The resource templates, with the plugin's own URI templates.
    pub templates: Vec<ResourceTemplate>,
    /// The prompts, with the plugin's own names.
    pub prompts: Vec<PromptDescriptor>,
    /// Tools the operator disabled (`plugins.NAME.disabled_tools`).
    pub disabled_tools: Vec<String>,
    /// Whether names and URIs carry the plugin's name (`PLUGIN_TOOL`,
    /// `PLUGIN+URI`); `false` with `plugins.NAME.namespace = false`.
    pub namespaced: bool,
    /// How many of its calls run at once and may wait
    /// (`plugins.NAME.sequential`, `max_concurrent_calls`, `max_queued_calls`).
    pub concurrency: Concurrency,
    /// Which of its calls ask the person first (`plugins.NAME.confirm`,
    /// `auto_approve`).
    pub consent: ConsentRules,
    /// How long compiling and describing took.
    pub load_time: Duration,
    /// What checking its description against the caps skipped
    /// ([`crate::mcp::descriptor_caps`]).
    pub notices: Vec<String>,
    /// Its entry in the artifact cache, where new descriptions are stored.
    pub cached_as: Option<CachedAs>,
    /// Its lists come from the cache and have not been confirmed by
    /// describing it since it loaded.
    pub described_from_cache: bool,
    /// The digests of the definitions the lock approved, under `[policy]
    /// definitions = "pin"`: only these are served, whatever it describes.
    pub pins: Option<Arc<Definitions>>,
    /// Every definition of its latest description, pinned or not (what
    /// `warden approve` records).
    pub described: Arc<DefinitionSet>,
}

impl LoadedPlugin {
    /// Whether its instances may be made ahead of its calls: not when its
    /// calls run one at a time (`sequential`), since a start would run
    /// beside a call.
    pub fn makes_ahead(&self) -> bool {
        self.concurrency.running != Some(1)
    }

    /// The same plugin with a new description (after it announced a change);
    /// disabled tools stay disabled. A description the caps refuse as a whole
    /// leaves the current lists, with a notice saying why.
    pub fn redescribed(&self, description: Description) -> Self {
        let (description, notices) = match crate::mcp::descriptor_caps::check(description) {
            Ok(checked) => checked,
            Err(reason) => {
                let mut same = self.with_lists(self.current_lists());
                same.notices = vec![format!("its new description was refused: {reason}")];
                return same;
            }
        };
        let (description, described, held) =
            crate::mcp::definitions::pin(&self.name, self.pins.as_deref(), description);
        let mut plugin = self.with_lists(description);
        plugin.notices = notices;
        plugin.notices.extend(held);
        plugin.described = Arc::new(described);
        plugin
    }

    fn current_lists(&self) -> Description {
        Description {
            tools: self.tools.clone(),
            resources: self.resources.clone(),
            templates: self.templates.clone(),
            prompts: self.prompts.clone(),
        }
    }

    fn with_lists(&self, description: Description) -> Self {
        let mut tools = description.tools;
        tools.retain(|tool| !self.disabled_tools.contains(&tool.name));
        Self {
            name: self.name.clone(),
            code: self.code.clone(),
            limits: self.limits,
            describe_limits: self.describe_limits,
            grants: self.grants.clone(),
            tools,
            resources: description.resources,
            templates: description.templates,
            prompts: description.prompts,
            disabled_tools: self.disabled_tools.clone(),
            namespaced: self.namespaced,
            concurrency: self.concurrency,
            consent: self.consent.clone(),
            load_time: self.load_time,
            notices: Vec::new(),
            cached_as: self.cached_as.clone(),
            described_from_cache: false,
            pins: self.pins.clone(),
            described: self.described.clone(),
        }
    }

    /// The name a tool or prompt of this plugin is exposed under, before
    /// sanitizing and collision suffixes: `PLUGIN_NAME`, or `NAME` when the
    /// plugin is not namespaced.
    pub fn exposed_name(&self, local: &str) -> String {
        if self.namespaced {
            format!("{}_{local}", self.name)
        } else {
            local.to_string()
        }
    }

    /// The URI (or URI template) a resource of this plugin is exposed under:
    /// `PLUGIN+URI`, or the URI itself when the plugin is not namespaced.
    pub fn expose_uri(&self, uri: &str) -> String {
        if self.namespaced {
            crate::mcp::catalog::expose_uri(&self.name, uri)
        } else {
            uri.to_string()
        }
    }
}

/// One plugin file and what became of it.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The plugin's name: the manifest's `name`, else the file stem.
    pub name: String,
    /// The `.wasm` file.
    pub component_path: PathBuf,
    /// The manifest, if one was found beside the component.
    pub manifest_path: Option<PathBuf>,
    /// The parsed manifest, when it parsed.
    pub manifest: Option<Manifest>,
    /// Things the operator should know: clamped limits, renamed or skipped tools.
    pub notices: Vec<String>,
    /// Loaded, or why not.
    pub status: PluginStatus,
    /// The sha256 of the component, when it was read.
    pub sha256: Option<String>,
    /// Whether a failure lies in the plugin's own files (unreadable, a bad
    /// manifest, not a component of Warden's world, describing failed)
    /// rather than in what the operator decided (policy, approval, budget).
    pub files_at_fault: bool,
    /// Why the newest files of this plugin did not load, while the version
    /// loaded before them keeps serving (a broken replacement).
    pub replacement_error: Option<String>,
    /// The newest file of this plugin, held back because its definitions
    /// changed, while the approved version (from the store) serves.
    pub held_update: Option<HeldUpdate>,
}

impl PluginEntry {
    /// An entry for the component at `component_path`, named `name` until
    /// its manifest says otherwise, not loaded yet.
    pub fn new(name: String, component_path: PathBuf, manifest_path: Option<PathBuf>) -> Self {
        Self {
            name,
            component_path,
            manifest_path,
            manifest: None,
            notices: Vec::new(),
            status: PluginStatus::Failed(String::new()),
            sha256: None,
            files_at_fault: false,
            replacement_error: None,
            held_update: None,
        }
    }

    /// The sha256 of the component file in the folder: the held one when a
    /// new version is held, else the one loaded.
    pub fn file_sha256(&self) -> Option<&str> {
        self.held_update
            .as_ref()
            .map(|h| h.sha256.as_str())
            .or(self.sha256.as_deref())
    }

    /// Fails the entry with `error`, naming the manifest if there is one,
    /// else the component.
    pub fn fail(&mut self, error: impl std::fmt::Display) {
        let file = self.manifest_path.as_ref().unwrap_or(&self.component_path);
        self.status = PluginStatus::Failed(format!("{}: {error}", file.display()));
    }
}

/// Whether a plugin is serving.
#[derive(Debug, Clone)]
pub enum PluginStatus {
    /// Loaded and serving.
    Loaded(Arc<LoadedPlugin>),
    /// Failed to load; the message names the cause.
    Failed(String),
}

impl PluginStatus {
    /// Why it failed to load, if it did.
    pub fn error(&self) -> Option<&str> {
        match self {
            PluginStatus::Failed(error) => Some(error),
            PluginStatus::Loaded(_) => None,
        }
    }
}

/// A tool as exposed over MCP.
#[derive(Debug, Clone)]
pub struct ToolEntry {
    /// The plugin serving it.
    pub plugin: Arc<LoadedPlugin>,
    /// The tool's name inside its plugin.
    pub local_name: String,
    /// The MCP tool definition (with the exposed name).
    pub tool: Tool,
    /// Validates arguments before the plugin runs.
    pub input_validator: Arc<SchemaValidator>,
    /// Validates structured results, when the tool declares an output schema.
    pub output_validator: Option<Arc<SchemaValidator>>,
    /// Client features the tool requires: a call from a client that did not
    /// declare one of them is refused before the plugin runs.
    pub requires: Vec<WitClientFeature>,
}

/// All plugins and their tools, resources and prompts; immutable once
/// built, swapped whole when a plugin's lists change.
#[derive(Debug, Default)]
pub struct Registry {
    plugins: Vec<PluginEntry>,
    tools: BTreeMap<String, ToolEntry>,
    order: Vec<String>,
    catalog: Catalog,
    /// Notices found while building (renamed or skipped items), per plugin;
    /// kept apart from the load notices so that a rebuild does not repeat
    /// them.
    built_notices: BTreeMap<String, Vec<String>>,
}

impl Registry {
    /// What building the registry noted about `plugin` (renamed or skipped
    /// items).
    pub(crate) fn built_notices(&self, plugin: &str) -> &[String] {
        self.built_notices
            .get(plugin)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Builds the registry from load results, assigning exposed tool names;
    /// logs every notice.
    pub fn build(plugins: Vec<PluginEntry>) -> Self {
        Self::assemble(plugins, true, None)
    }

    /// Builds the registry; logs the load notices only when `log_load_notices`
    /// (a rebuild after a refresh logs only what the rebuild found). Tools of
    /// plugins that are the same as in `previous` keep their compiled
    /// validators.
    fn assemble(
        mut plugins: Vec<PluginEntry>,
        log_load_notices: bool,
        previous: Option<&Registry>,
    ) -> Self {
        let reusable: std::collections::HashMap<(*const LoadedPlugin, &str), &ToolEntry> = previous
            .into_iter()
            .flat_map(|r| r.tools.values())
            .map(|e| ((Arc::as_ptr(&e.plugin), e.local_name.as_str()), e))
            .collect();
        plugins.sort_by(|a, b| {
            (a.name.as_str(), &a.component_path).cmp(&(b.name.as_str(), &b.component_path))
        });
        let mut tools = BTreeMap::new();
        let mut names = UniqueNames::default();
        let mut order = Vec::new();
        let (catalog, mut built_notices) = Catalog::build(&plugins);
        for entry in &plugins {
            let PluginStatus::Loaded(plugin) = &entry.status else {
                continue;
            };
            let plugin = plugin.clone();
            let notices = built_notices.entry(entry.name.clone()).or_default();
            notices.splice(0..0, plugin.notices.iter().cloned());
            let mut patterns = crate::mcp::tool_schema::MAX_PATTERNS_PER_PLUGIN;
            for descriptor in &plugin.tools {
                let reused = reusable
                    .get(&(Arc::as_ptr(&plugin), descriptor.name.as_str()))
                    .map(|e| {
                        Ok((
                            e.tool.clone(),
                            e.input_validator.clone(),
                            e.output_validator.clone(),
                        ))
                    });
                let later = plugin.described_from_cache;
                let tool =
                    match reused.unwrap_or_else(|| mcp_tool(descriptor, &mut patterns, later)) {
                        Ok(tool) => tool,
                        Err(reason) => {
                            notices.push(format!("tool `{}` skipped: {reason}", descriptor.name));
                            continue;
                        }
                    };
                let wanted = plugin.exposed_name(&descriptor.name);
                let exposed = names.assign(&wanted, &tools);
                if exposed != wanted {
                    notices.push(format!(
                        "tool `{}` is exposed as `{exposed}` (names must match \
                         ^[a-zA-Z0-9_-]{{1,64}}$ and be unique)",
                        descriptor.name
                    ));
                }
                let (mut tool, input_validator, output_validator) = tool;
                tool.name = exposed.clone().into();
                let mut requires = descriptor.requires.clone();
                requires.sort_by_key(|f| *f as u8);
                requires.dedup();
                for feature in &requires {
                    if !plugin.grants.client.allows(ClientFeature::from(*feature)) {
                        notices.push(format!(
                            "tool `{}` requires the client feature `{}`, which the plugin is \
                             not granted: its requests to the client will be denied",
                            descriptor.name,
                            ClientFeature::from(*feature)
                        ));
                    }
                }
                order.push(exposed.clone());
                tools.insert(
                    exposed,
                    ToolEntry {
                        plugin: plugin.clone(),
                        local_name: descriptor.name.clone(),
                        tool,
                        input_validator,
                        output_validator,
                        requires,
                    },
                );
            }
        }
        for notices in built_notices.values_mut() {
            if notices.len() > MAX_BUILT_NOTICES {
                let more = notices.len() - MAX_BUILT_NOTICES;
                notices.truncate(MAX_BUILT_NOTICES);
                notices.push(format!("and {more} more notices like these"));
            }
        }
        let kept = |entry: &PluginEntry| match &entry.status {
            PluginStatus::Loaded(p) => previous.is_some_and(|r| {
                r.plugins
                    .iter()
                    .any(|e| matches!(&e.status, PluginStatus::Loaded(q) if Arc::ptr_eq(p, q)))
            }),
            PluginStatus::Failed(_) => false,
        };
        for entry in &plugins {
            let built = built_notices.get(&entry.name).into_iter().flatten();
            let log_load = log_load_notices && !kept(entry);
            let loaded = entry.notices.iter().filter(|_| log_load);
            for notice in loaded.chain(built) {
                tracing::warn!(plugin = %entry.name, "{notice}");
            }
        }
        Self {
            plugins,
            tools,
            order,
            catalog,
            built_notices,
        }
    }

    /// The registry after the plugins folder was loaded again: plugins kept
    /// from `previous` keep their compiled validators, and only the notices
    /// of plugins that were loaded anew are logged.
    pub fn rebuilt(plugins: Vec<PluginEntry>, previous: &Registry) -> Self {
        Self::assemble(plugins, true, Some(previous))
    }

    /// The entry of the component at `path`.
    pub fn entry_for(&self, path: &std::path::Path) -> Option<&PluginEntry> {
        self.plugins.iter().find(|e| e.component_path == path)
    }

    /// This registry with the loaded plugin `was` replaced by `plugin` (after
    /// it announced a change); `None` when `was` is no longer loaded (the
    /// folder was reloaded meanwhile).
    pub fn with_plugin(&self, was: &Arc<LoadedPlugin>, plugin: Arc<LoadedPlugin>) -> Option<Self> {
        self.with_status(was, PluginStatus::Loaded(plugin))
    }

    /// This registry with the loaded plugin `was` failed with `error` (its
    /// lists came from the cache, and describing it failed); `None` when
    /// `was` is no longer loaded.
    pub fn with_failed(&self, was: &Arc<LoadedPlugin>, error: String) -> Option<Self> {
        self.with_status(was, PluginStatus::Failed(error))
    }

    fn with_status(&self, was: &Arc<LoadedPlugin>, status: PluginStatus) -> Option<Self> {
        let mut plugins = self.plugins.clone();
        let entry = plugins
            .iter_mut()
            .find(|e| matches!(&e.status, PluginStatus::Loaded(p) if Arc::ptr_eq(p, was)))?;
        entry.status = status;
        Some(Self::assemble(plugins, false, Some(self)))
    }

    /// The loaded plugin called `name`.
    pub fn plugin(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.plugins.iter().find_map(|e| match &e.status {
            PluginStatus::Loaded(p) if e.name == name => Some(p),
            _ => None,
        })
    }

    /// The plugin serving the resource exposed as `uri`, and the URI inside
    /// that plugin: `PLUGIN+URI` for a namespaced plugin, else the plugin
    /// that is not namespaced and serves the URI's scheme.
    pub fn resolve_uri(&self, uri: &str) -> Option<(Arc<LoadedPlugin>, String)> {
        if let Some((name, local)) = crate::mcp::catalog::split_uri(uri)
            && let Some(plugin) = self.plugin(name)
            && plugin.namespaced
        {
            return Some((plugin.clone(), local.to_string()));
        }
        let (scheme, _) = uri.split_once(':')?;
        let plugin = self.plugin(self.catalog.scheme_owner(scheme)?)?;
        Some((plugin.clone(), uri.to_string()))
    }

    /// The resources, templates and prompts.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Every plugin file, loaded or failed, in name order.
    pub fn plugins(&self) -> &[PluginEntry] {
        &self.plugins
    }

    /// The tool exposed under `name`.
    pub fn tool(&self, name: &str) -> Option<&ToolEntry> {
        self.tools.get(name)
    }

    /// All exposed tools, in plugin order then the plugin's own order.
    pub fn tools(&self) -> impl Iterator<Item = &ToolEntry> {
        self.order.iter().filter_map(|name| self.tools.get(name))
    }

    /// Exposed tool names of one plugin, in order.
    pub fn tools_of<'a>(&'a self, plugin: &'a str) -> impl Iterator<Item = &'a ToolEntry> + 'a {
        self.tools().filter(move |t| t.plugin.name == plugin)
    }

    /// How many plugins loaded and how many failed.
    pub fn counts(&self) -> (usize, usize) {
        let loaded = self
            .plugins
            .iter()
            .filter(|p| matches!(p.status, PluginStatus::Loaded(_)))
            .count();
        (loaded, self.plugins.len() - loaded)
    }
}

type CheckedTool = (Tool, Arc<SchemaValidator>, Option<Arc<SchemaValidator>>);

/// Checks a descriptor and turns it into an MCP tool with its validators;
/// `patterns` is what is left of the plugin's regular expression budget.
/// The schemas are compiled when first used if `later` (a description from
/// the artifact cache, whose schemas compiled before), else now.
fn mcp_tool(
    descriptor: &ToolDescriptor,
    patterns: &mut usize,
    later: bool,
) -> Result<CheckedTool, String> {
    if descriptor.name.is_empty() {
        return Err("the tool name is empty".into());
    }
    let input = schema_object(&descriptor.input_schema, "input schema")?;
    if input.get("type").and_then(Value::as_str) != Some("object") {
        return Err("the input schema's root must have \"type\": \"object\"".into());
    }
    let input_validator = compile_schema(&input, "input schema", patterns, later)?;
    let output = descriptor
        .output_schema
        .as_deref()
        .map(|s| schema_object(s, "output schema"))
        .transpose()?;
    let output_validator = output
        .as_ref()
        .map(|schema| compile_schema(schema, "output schema", patterns, later))
        .transpose()?;

    let a = &descriptor.annotations;
    let mut tool = Tool::new_with_raw(
        descriptor.name.clone(),
        Some(descriptor.description.clone().into()),
        Arc::new(input),
    );
    tool.title = descriptor.title.clone();
    tool.output_schema = output.map(Arc::new);
    if a.read_only.is_some()
        || a.destructive.is_some()
        || a.idempotent.is_some()
        || a.open_world.is_some()
    {
        tool.annotations = Some(ToolAnnotations::from_raw(
            None,
            a.read_only,
            a.destructive,
            a.idempotent,
            a.open_world,
        ));
    }
    Ok((tool, input_validator, output_validator))
}
