//! Routes `resources/read`, `prompts/get` and `completion/complete` to their
//! plugin, in the same per-call sandbox (fresh instance, limits, grants) as a
//! tool call, and re-describes a plugin that announced a change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rmcp::model::{
    ArgumentInfo, CompletionContext, CompletionInfo, GetPromptResult, JsonObject, PromptMessage,
    ReadResourceResult, Reference, ResourceContents,
};
use serde_json::Value;

use crate::mcp::announce::Changes;
use crate::mcp::call_result::content_block;
use crate::mcp::dispatch::{Admission, AdmitError, DispatchError, Dispatcher, log_guest_output};
use crate::mcp::registry::{LoadedPlugin, PluginStatus};
use crate::sandbox::{
    Announcements, CallContext, CallError, CallReport, ClientLinks, CompletionRef, PromptError,
    ResourceBody, ResourceError, Role,
};

/// Why a read, get or completion failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrimitiveError {
    /// No resource has this URI (MCP's resource-not-found).
    #[error("{message}")]
    ResourceNotFound {
        /// The URI asked for.
        uri: String,
        /// What the plugin or the host said.
        message: String,
    },
    /// Unknown prompt, missing argument, unknown completion reference.
    #[error("{0}")]
    InvalidParams(String),
    /// The plugin failed, trapped or hit a limit.
    #[error("{0}")]
    Failed(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The plugin asked its client something to be answered between two
    /// runs (an `input_required` round); the request's peer holds it.
    #[error("the request waits for its client's answers")]
    Deferred,
}

impl From<DispatchError> for PrimitiveError {
    fn from(_: DispatchError) -> Self {
        Self::ShuttingDown
    }
}

impl From<AdmitError> for PrimitiveError {
    fn from(error: AdmitError) -> Self {
        match error {
            AdmitError::Budget(refused) => Self::Failed(refused.to_string()),
            AdmitError::ShuttingDown => Self::ShuttingDown,
        }
    }
}

/// What is being run, for the guest's log lines.
fn context(plugin: &LoadedPlugin, what: String, client: ClientLinks) -> CallContext {
    CallContext {
        plugin: plugin.name.as_str().into(),
        tool: Some(what.into()),
        client,
        ahead: plugin.makes_ahead(),
    }
}

/// Logs the guest's output and the call, then announces what the plugin
/// asked for; returns the outcome.
async fn finish<T>(
    dispatcher: &Dispatcher,
    plugin: &Arc<LoadedPlugin>,
    what: &str,
    started: Instant,
    report: CallReport<T>,
    _admission: &Admission<'_>,
) -> Result<T, CallError> {
    log_guest_output(&plugin.name, Some(what), &report.stdout, &report.stderr);
    crate::mcp::permission::settle(dispatcher, what, plugin, &report.permissions);
    let stats = &report.stats;
    tracing::info!(
        target: "warden::call",
        request = what,
        plugin = %plugin.name,
        outcome = match &report.outcome {
            Ok(_) => "ok",
            Err(CallError::Cancelled) => "cancelled",
            Err(CallError::Deferred) => "input_required",
            Err(CallError::Limit(_)) => "limit",
            Err(_) => "error",
        },
        total_us = started.elapsed().as_micros() as u64,
        fuel_used = stats.fuel_used,
        peak_memory = stats.peak_memory,
        output_bytes = stats.output_bytes,
        "request finished"
    );
    announce(dispatcher, plugin, &report.announcements).await;
    report.outcome
}

fn failed(error: CallError) -> PrimitiveError {
    if matches!(error, CallError::Deferred) {
        return PrimitiveError::Deferred;
    }
    PrimitiveError::Failed(match error {
        CallError::Limit(limit) => format!("the call was stopped: {limit}"),
        other => other.to_string(),
    })
}

/// Reads the resource exposed as `uri`.
///
/// `links` carries the client's log sink and cancellation.
pub async fn read_resource(
    dispatcher: &Dispatcher,
    uri: &str,
    links: ClientLinks,
) -> Result<ReadResourceResult, PrimitiveError> {
    let not_found = |message: String| PrimitiveError::ResourceNotFound {
        uri: uri.to_string(),
        message,
    };
    let registry = dispatcher.registry();
    let (plugin, local) = registry
        .resolve_uri(uri)
        .filter(|(plugin, _)| plugin.code.exports().resources)
        .ok_or_else(|| {
            not_found(format!(
                "no resource has the URI `{uri}`: resource URIs are `PLUGIN+URI`, as \
                 resources/list and resources/templates/list show them"
            ))
        })?;
    let compiled = plugin.code.get().await.map_err(PrimitiveError::Failed)?;
    let admission = dispatcher.admit(&plugin).await?;
    let started = Instant::now();
    let what = format!("resource {local}");
    let report = dispatcher
        .sandbox()
        .read_resource(
            compiled,
            &plugin.limits,
            &plugin.grants,
            context(&plugin, what.clone(), links),
            &local,
        )
        .await;
    let contents = finish(dispatcher, &plugin, &what, started, report, &admission)
        .await
        .map_err(failed)?
        .map_err(|error| match error {
            ResourceError::NotFound(message) => not_found(message),
            ResourceError::Failed(message) => PrimitiveError::Failed(message),
        })?;
    let contents = contents
        .into_iter()
        .map(|c| {
            let exposed = plugin.expose_uri(&c.uri);
            let contents = match c.body {
                ResourceBody::Text(text) => ResourceContents::text(text, exposed),
                ResourceBody::Blob(data) => ResourceContents::blob(
                    base64::engine::general_purpose::STANDARD.encode(data),
                    exposed,
                ),
            };
            match c.mime_type {
                Some(mime) => contents.with_mime_type(mime),
                None => contents,
            }
        })
        .collect();
    Ok(ReadResourceResult::new(contents))
}

/// Fills in the prompt exposed as `name`.
///
/// `links` carries the client the prompt may ask (the world's `client`
/// import), its log sink and its cancellation.
pub async fn get_prompt(
    dispatcher: &Dispatcher,
    name: &str,
    arguments: Option<JsonObject>,
    links: ClientLinks,
) -> Result<GetPromptResult, PrimitiveError> {
    let registry = dispatcher.registry();
    let entry = registry
        .catalog()
        .prompt(name)
        .ok_or_else(|| PrimitiveError::InvalidParams(format!("unknown prompt `{name}`")))?;
    let arguments: Vec<(String, String)> = arguments
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(text) => text,
                other => other.to_string(),
            };
            (k, value)
        })
        .collect();
    let missing: Vec<&str> = entry
        .prompt
        .arguments
        .iter()
        .flatten()
        .filter(|a| a.required == Some(true) && !arguments.iter().any(|(k, _)| k == &a.name))
        .map(|a| a.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(PrimitiveError::InvalidParams(format!(
            "prompt `{name}` needs the argument(s) {}",
            missing.join(", ")
        )));
    }
    let plugin = entry.plugin.clone();
    let compiled = plugin.code.get().await.map_err(PrimitiveError::Failed)?;
    let admission = dispatcher.admit(&plugin).await?;
    let started = Instant::now();
    let what = format!("prompt {}", entry.local_name);
    let report = dispatcher
        .sandbox()
        .get_prompt(
            compiled,
            &plugin.limits,
            &plugin.grants,
            context(&plugin, what.clone(), links),
            &entry.local_name,
            &arguments,
        )
        .await;
    let result = finish(dispatcher, &plugin, &what, started, report, &admission)
        .await
        .map_err(failed)?
        .map_err(|error| match error {
            PromptError::InvalidArguments(m) => {
                PrimitiveError::InvalidParams(format!("invalid arguments: {m}"))
            }
            PromptError::UnknownPrompt(m) => {
                PrimitiveError::InvalidParams(format!("the plugin has no such prompt: {m}"))
            }
            PromptError::Failed(m) => PrimitiveError::Failed(m),
        })?;
    let messages = result
        .messages
        .into_iter()
        .enumerate()
        .map(|(index, m)| {
            let role = match m.role {
                Role::User => rmcp::model::Role::User,
                Role::Assistant => rmcp::model::Role::Assistant,
            };
            PromptMessage::new(
                role,
                content_block(m.content, &plugin, || {
                    format!("warden://{}/prompt/{name}/blob/{index}", plugin.name)
                }),
            )
        })
        .collect();
    let mut out = GetPromptResult::new(messages);
    out.description = result.description;
    Ok(out)
}

/// Completes a prompt argument or a template variable.
///
/// `links` carries the client's log sink and cancellation.
pub async fn complete(
    dispatcher: &Dispatcher,
    reference: &Reference,
    argument: &ArgumentInfo,
    context_args: Option<CompletionContext>,
    links: ClientLinks,
) -> Result<CompletionInfo, PrimitiveError> {
    let registry = dispatcher.registry();
    let catalog = registry.catalog();
    let (plugin, local) = match reference {
        Reference::Prompt(prompt) => {
            let entry = catalog.prompt(&prompt.name).ok_or_else(|| {
                PrimitiveError::InvalidParams(format!("unknown prompt `{}`", prompt.name))
            })?;
            (
                entry.plugin.clone(),
                CompletionRef::Prompt(entry.local_name.clone()),
            )
        }
        Reference::Resource(template) => {
            let entry = catalog.template(&template.uri).ok_or_else(|| {
                PrimitiveError::InvalidParams(format!(
                    "unknown resource template `{}`",
                    template.uri
                ))
            })?;
            (
                entry.plugin.clone(),
                CompletionRef::ResourceTemplate(entry.local_template.clone()),
            )
        }
        _ => {
            return Err(PrimitiveError::InvalidParams(
                "unsupported completion reference".into(),
            ));
        }
    };
    if !plugin.code.exports().completions {
        return Ok(CompletionInfo::default());
    }
    let mut resolved: Vec<(String, String)> = context_args
        .and_then(|c| c.arguments)
        .unwrap_or_default()
        .into_iter()
        .collect();
    resolved.sort();
    let compiled = plugin.code.get().await.map_err(PrimitiveError::Failed)?;
    let admission = dispatcher.admit(&plugin).await?;
    let started = Instant::now();
    let what = "complete".to_string();
    let report = dispatcher
        .sandbox()
        .complete(
            compiled,
            &plugin.limits,
            &plugin.grants,
            context(&plugin, what.clone(), links),
            &local,
            &argument.name,
            &argument.value,
            &resolved,
        )
        .await;
    let completion = finish(dispatcher, &plugin, &what, started, report, &admission)
        .await
        .map_err(failed)?
        .map_err(PrimitiveError::Failed)?;
    let mut values = completion.values;
    let has_more = completion.has_more || values.len() > CompletionInfo::MAX_VALUES;
    values.truncate(CompletionInfo::MAX_VALUES);
    CompletionInfo::with_pagination(values, completion.total, has_more)
        .map_err(PrimitiveError::Failed)
}

/// Least time between two rounds of one plugin's announcements: at most one
/// refresh of its lists, and one `resources/updated` per URI, per interval.
const ANNOUNCE_INTERVAL: Duration = Duration::from_millis(250);

/// Acts on what a plugin asked the host to announce during a call, coalesced
/// per plugin (see [`crate::mcp::announce`]): a worker describes the plugin again
/// in a fresh instance, swaps its lists in, and notifies clients of the
/// lists that actually changed and of the updated resources. The worker
/// runs in the background when the dispatcher is shared, else inline.
pub async fn announce(
    dispatcher: &Dispatcher,
    plugin: &Arc<LoadedPlugin>,
    announcements: &Announcements,
) {
    if announcements.is_empty() {
        return;
    }
    let start = dispatcher.announcer().queue(
        &plugin.name,
        announcements.lists_changed(),
        &announcements.updated,
    );
    if !start {
        return;
    }
    match dispatcher.handle() {
        Some(shared) => {
            let name = plugin.name.clone();
            tokio::spawn(async move { drain(&shared, &name).await });
        }
        None => drain(dispatcher, &plugin.name).await,
    }
}

/// The worker of one plugin's announcements: runs rounds until none is left.
async fn drain(dispatcher: &Dispatcher, name: &str) {
    while let Some(work) = dispatcher
        .announcer()
        .next_work(name, ANNOUNCE_INTERVAL)
        .await
    {
        if work.lists {
            let changes = refresh(dispatcher, name).await;
            if changes.any() {
                dispatcher.announcer().lists_changed(changes).await;
            }
        }
        let Some(plugin) = dispatcher.registry().plugin(name).cloned() else {
            continue;
        };
        for uri in &work.updated {
            dispatcher
                .announcer()
                .resource_updated(&plugin.expose_uri(uri))
                .await;
        }
    }
}

/// How long after a plugin starts serving from its cached description it is
/// described again: long enough that a client's first requests after start
/// do not compete with it.
const REVALIDATE_AFTER: Duration = Duration::from_millis(250);

/// Describes again, in the background, every plugin of the shared
/// `dispatcher` whose lists came from the artifact cache: what it lists now
/// replaces them (announced if clients see a difference), and a plugin that
/// no longer describes is taken out of service as if it had failed to load.
pub fn revalidate_cached(dispatcher: &Dispatcher) {
    let Some(shared) = dispatcher.handle() else {
        return;
    };
    let registry = dispatcher.registry();
    for entry in registry.plugins() {
        if let PluginStatus::Loaded(plugin) = &entry.status
            && plugin.described_from_cache
            && dispatcher.announcer().queue(&plugin.name, true, &[])
        {
            let (shared, name) = (shared.clone(), plugin.name.clone());
            tokio::spawn(async move {
                tokio::time::sleep(REVALIDATE_AFTER).await;
                drain(&shared, &name).await;
            });
        }
    }
}

/// Takes `plugin`, listed from the cache, out of service: its code could
/// not be had or describing it failed, with `error`, as it would have at
/// load.
async fn unload(dispatcher: &Dispatcher, plugin: &Arc<LoadedPlugin>, error: String) -> Changes {
    tracing::error!(
        plugin = %plugin.name,
        error = %error,
        "the plugin listed from the cache failed to load; it no longer serves"
    );
    let _guard = dispatcher.refresh_lock().await;
    let old = dispatcher.registry();
    let Some(new) = old.with_failed(plugin, error) else {
        return Changes::default();
    };
    let changes = Changes::between(&old, &new);
    dispatcher.replace_registry(new);
    changes
}

/// Re-describes the plugin called `name` and swaps the result into the
/// registry; returns which lists clients see differently. On failure the old
/// lists stay.
async fn refresh(dispatcher: &Dispatcher, name: &str) -> Changes {
    let Some(plugin) = dispatcher.registry().plugin(name).cloned() else {
        return Changes::default();
    };
    let compiled = match plugin.code.get().await {
        Ok(compiled) => compiled,
        Err(error) => return unload(dispatcher, &plugin, error).await,
    };
    // The description is a fresh instance like any other: it waits for
    // memory and a call slot.
    let _admission = match dispatcher.admit(&plugin).await {
        Ok(admission) => admission,
        Err(error) => {
            tracing::warn!(
                plugin = %plugin.name,
                "describing the plugin after its announcement was not admitted; keeping its old lists: {error}"
            );
            return Changes::default();
        }
    };
    let ctx = CallContext {
        plugin: plugin.name.as_str().into(),
        tool: None,
        client: Default::default(),
        ahead: plugin.makes_ahead(),
    };
    let report = dispatcher
        .sandbox()
        .describe_all(compiled, &plugin.describe_limits, &plugin.grants, ctx)
        .await;
    log_guest_output(&plugin.name, None, &report.stdout, &report.stderr);
    let description = match report.outcome {
        Ok(description) => description,
        Err(error) if plugin.described_from_cache => {
            let error = crate::sandbox::LoadError::Describe(error).to_string();
            return unload(dispatcher, &plugin, error).await;
        }
        Err(error) => {
            tracing::warn!(
                plugin = %plugin.name,
                "describing the plugin after its announcement failed; keeping its old lists: {error}"
            );
            return Changes::default();
        }
    };
    if let Some(cached_as) = plugin.cached_as.clone() {
        let description = description.clone();
        tokio::task::spawn_blocking(move || cached_as.store_description(&description));
    }
    let updated = Arc::new(plugin.redescribed(description));
    let _guard = dispatcher.refresh_lock().await;
    let old = dispatcher.registry();
    let Some(new) = old.with_plugin(&plugin, updated) else {
        tracing::info!(plugin = %plugin.name, "plugin reloaded meanwhile; not refreshed");
        return Changes::default();
    };
    let changes = Changes::between(&old, &new);
    dispatcher.replace_registry(new);
    tracing::info!(
        plugin = %plugin.name,
        tools = changes.tools,
        prompts = changes.prompts,
        resources = changes.resources,
        "plugin lists refreshed"
    );
    changes
}
