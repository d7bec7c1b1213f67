//! One plugin compiled and described: its tools, resources and prompts,
//! under the describe timeout, the memory budget and the descriptor caps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::budget::{MemoryBudget, Wait};
use crate::limits::Limits;
use crate::mcp::registry::{LoadedPlugin, PluginEntry};
use crate::policy::grants::Grants;
use crate::sandbox::{CallContext, CallError, LimitHit, LoadError, Sandbox};

/// What the operator settled for one plugin before it is compiled.
pub(super) struct Plugin {
    pub(super) limits: Limits,
    pub(super) grants: Arc<Grants>,
    pub(super) disabled: Vec<String>,
    pub(super) namespaced: bool,
    pub(super) describe_timeout: Duration,
}

/// Compiles the component (`bytes`, read and hashed by the caller) and asks
/// it for its tools, under the describe timeout and the descriptor caps.
pub(super) async fn load_one(
    sandbox: &Arc<Sandbox>,
    budget: &MemoryBudget,
    entry: &mut PluginEntry,
    bytes: Vec<u8>,
    plugin: Plugin,
) -> Result<LoadedPlugin, String> {
    let Plugin {
        limits,
        grants,
        disabled,
        namespaced,
        describe_timeout,
    } = plugin;
    let started = Instant::now();
    let path = entry.component_path.clone();
    let name = entry.name.clone();
    let context = |e: LoadError| format!("{}: {e}", path.display());
    let compiler = sandbox.clone();
    let compiled = tokio::task::spawn_blocking(move || compiler.compile(&bytes))
        .await
        .map_err(|e| format!("{}: compiling panicked: {e}", path.display()))?
        .map_err(context)?;
    let ctx = CallContext {
        plugin: name.as_str().into(),
        tool: None,
        progress: None,
    };
    let describe_limits = Limits {
        timeout: limits.timeout.min(describe_timeout),
        ..limits
    };
    let reserved = budget
        .admit(&name, &describe_limits, Wait::Load)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let report = sandbox
        .describe_all(&compiled, &describe_limits, &grants, ctx)
        .await;
    drop(reserved);
    crate::mcp::dispatch::log_guest_output(&name, None, &report.stdout, &report.stderr);
    let description = report.outcome.map_err(|e| {
        let hint = match e {
            CallError::Limit(LimitHit::Timeout(t)) if t == describe_timeout => {
                " (loading.describe_timeout)"
            }
            _ => "",
        };
        format!("{}{hint}", context(LoadError::Describe(e)))
    })?;
    let (description, notices) = crate::mcp::descriptor_caps::check(description)
        .map_err(|reason| format!("{}: {reason}", path.display()))?;
    let tools = &description.tools;
    for tool in &disabled {
        entry
            .notices
            .push(if tools.iter().any(|t| &t.name == tool) {
                format!("tool `{tool}` is disabled by the operator (plugins.{name}.disabled_tools)")
            } else {
                format!(
                    "plugins.{name}.disabled_tools names `{tool}`, which the plugin does not offer"
                )
            });
    }
    let plugin = LoadedPlugin {
        name,
        compiled,
        limits,
        describe_limits,
        grants,
        tools: Vec::new(),
        resources: Vec::new(),
        templates: Vec::new(),
        prompts: Vec::new(),
        disabled_tools: disabled,
        namespaced,
        load_time: started.elapsed(),
        notices: Vec::new(),
    };
    let mut plugin = plugin.redescribed(description);
    plugin.notices.splice(0..0, notices);
    plugin.load_time = started.elapsed();
    Ok(plugin)
}
