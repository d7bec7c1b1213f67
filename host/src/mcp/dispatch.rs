//! Routes a tool call: registry lookup, argument validation, a per-call
//! sandbox, and the mapping of what happened to an MCP `CallToolResult`.
//!
//! Used by both the MCP server and `warden call`, so the two behave the same.

use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::{Instant, SystemTime};

use rmcp::model::{CallToolResult, JsonObject};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::budget::{Exhausted, MemoryBudget, Reservation, Wait};
use crate::mcp::call_result::{
    FailureCode, call_error_message, error_result, outcome_of, success, tool_error_message,
    with_denials,
};
use crate::mcp::consent::{self, Decision};
use crate::mcp::gate::Gates;
use crate::mcp::registry::{LoadedPlugin, Registry, ToolEntry};
use crate::observe::{CallRecord, CallStats, Caller, Denial, Observer, Outcome};
use crate::policy::access::Principal;
use crate::policy::consent::ConsentNeed;
use crate::sandbox::{CallContext, Captured, ClientLinks, ClientPeer, Sandbox};

/// How many schema violations a validation error lists.
const MAX_REPORTED_VIOLATIONS: usize = 8;
/// Plugins still loading (in the load stage, which serves this one): calls
/// to tools not listed yet wait for them.
pub trait PendingPlugins: Send + Sync + std::fmt::Debug {
    /// Whether a plugin is loading, or finished and not yet published.
    fn busy(&self) -> bool;
    /// A receiver that sees every change of [`PendingPlugins::busy`].
    fn watch(&self) -> tokio::sync::watch::Receiver<u64>;
    /// The names of the plugins loading.
    fn loading(&self) -> Vec<String>;
}

/// How long a call to a tool not listed yet waits for plugins still
/// loading in the background (an interpreter plugin compiles for several
/// seconds; a busy machine takes longer).
const LOADING_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A call that could not be routed at all (a protocol error, not a tool error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// No tool with this name is exposed.
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The run stopped to ask the client between two runs (an
    /// `input_required` round); the call's peer holds what to ask.
    #[error("the call waits for its client's answers")]
    Deferred,
}

/// Why a request could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// The memory budget refused it.
    #[error(transparent)]
    Budget(#[from] Exhausted),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// What a request holds while its instance runs: its share of the memory
/// budget and a call slot.
#[derive(Debug)]
pub struct Admission<'a> {
    _memory: Reservation<'a>,
    _slot: tokio::sync::SemaphorePermit<'a>,
}

/// The shared state behind every call: the sandbox, the current registry,
/// the memory budget and the concurrency limit.
#[derive(Debug)]
pub struct Dispatcher {
    sandbox: Arc<Sandbox>,
    registry: RwLock<Arc<Registry>>,
    budget: Arc<MemoryBudget>,
    permits: Semaphore,
    /// Each plugin's own concurrency limit and queue, in front of `permits`.
    gates: Gates,
    observer: OnceLock<Observer>,
    /// Where a person's "allow always" answers are recorded.
    permission_lock: OnceLock<crate::mcp::permission::PermissionLock>,
    /// Plugins loading in the background, which calls to their tools wait for.
    background: OnceLock<Arc<dyn PendingPlugins>>,
    announcer: crate::mcp::announce::Announcer,
    /// Serializes registry swaps after a plugin announces a change.
    refresh: tokio::sync::Mutex<()>,
    /// This dispatcher, when shared ([`Dispatcher::shared`]).
    me: Weak<Dispatcher>,
}

/// Where a call came from: who made it and the trace it belongs to.
#[derive(Debug, Clone, Default)]
pub struct CallOrigin {
    /// The holder of the request's access token (HTTP with OAuth).
    pub principal: Option<Arc<Principal>>,
    /// The request's W3C `traceparent` (`_meta`, or the HTTP header).
    pub traceparent: Option<String>,
}

impl Dispatcher {
    /// A dispatcher serving `registry`, running at most `max_concurrent_calls`
    /// calls at once (others wait their turn), within `budget`.
    pub fn new(
        sandbox: Arc<Sandbox>,
        registry: Registry,
        max_concurrent_calls: usize,
        budget: Arc<MemoryBudget>,
    ) -> Self {
        Self {
            sandbox,
            registry: RwLock::new(Arc::new(registry)),
            budget,
            permits: Semaphore::new(max_concurrent_calls.max(1)),
            gates: Gates::new(u32::try_from(max_concurrent_calls).unwrap_or(u32::MAX)),
            observer: OnceLock::new(),
            permission_lock: OnceLock::new(),
            background: OnceLock::new(),
            announcer: crate::mcp::announce::Announcer::default(),
            refresh: tokio::sync::Mutex::new(()),
            me: Weak::new(),
        }
    }

    /// [`Dispatcher::new`], shared, and able to hand itself to work that
    /// outlives a call (acting on a plugin's announcements).
    pub fn shared(
        sandbox: Arc<Sandbox>,
        registry: Registry,
        max_concurrent_calls: usize,
        budget: Arc<MemoryBudget>,
    ) -> Arc<Self> {
        let dispatcher = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            ..Self::new(sandbox, registry, max_concurrent_calls, budget)
        });
        crate::mcp::primitives::revalidate_cached(&dispatcher);
        dispatcher
    }

    /// This dispatcher, when it was made by [`Dispatcher::shared`].
    pub(crate) fn handle(&self) -> Option<Arc<Dispatcher>> {
        self.me.upgrade()
    }

    /// The sandbox every call runs in.
    pub(crate) fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// The server-wide memory budget.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Admits one fresh instance of `plugin`: memory from the budget first
    /// (waiting at most the plugin's timeout), then a call slot.
    pub(crate) async fn admit(&self, plugin: &LoadedPlugin) -> Result<Admission<'_>, AdmitError> {
        let limits = &plugin.limits;
        let memory = self
            .budget
            .admit(&plugin.name, limits, Wait::Call(limits.timeout))
            .await?;
        let slot = self
            .permits
            .acquire()
            .await
            .map_err(|_| AdmitError::ShuttingDown)?;
        Ok(Admission {
            _memory: memory,
            _slot: slot,
        })
    }

    /// Who hears about changes.
    pub fn announcer(&self) -> &crate::mcp::announce::Announcer {
        &self.announcer
    }

    /// Held while a plugin's lists are swapped in.
    pub(crate) async fn refresh_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.refresh.lock().await
    }

    /// Sends every finished call to `observer` (spans, audit) besides the
    /// metrics; only the first observer set is kept.
    pub fn set_observer(&self, observer: Observer) {
        if self.observer.set(observer).is_err() {
            tracing::warn!("the call observer was already set");
        }
    }

    /// Records a person's "allow always" answers in `lock`; only the first
    /// one set is kept. Without it they hold for their call only.
    pub fn set_permission_lock(&self, lock: crate::mcp::permission::PermissionLock) {
        let _ = self.permission_lock.set(lock);
    }

    /// Where "allow always" answers are recorded, if anywhere.
    pub(crate) fn permission_lock(&self) -> Option<&crate::mcp::permission::PermissionLock> {
        self.permission_lock.get()
    }

    /// Makes calls to tools not listed yet wait while `background` loads
    /// plugins; only the first one set is kept.
    pub fn set_background(&self, background: Arc<dyn PendingPlugins>) {
        let _ = self.background.set(background);
    }

    /// The plugins loading in the background, if any are tracked.
    pub fn background(&self) -> Option<&Arc<dyn PendingPlugins>> {
        self.background.get()
    }

    /// The registry once it has the tool `name`: at once, or after waiting
    /// (at most [`LOADING_WAIT`]) for plugins still loading in the
    /// background, one of which may offer it.
    async fn registry_with_tool(&self, name: &str) -> Option<Arc<Registry>> {
        let registry = self.registry();
        if registry.tool(name).is_some() {
            return Some(registry);
        }
        let background = self.background.get()?;
        let mut changes = background.watch();
        let deadline = tokio::time::Instant::now() + LOADING_WAIT;
        let mut waited = false;
        while background.busy() {
            if !waited {
                tracing::info!(tool = name, "waiting for plugins still loading");
                waited = true;
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                break;
            }
            let registry = self.registry();
            if registry.tool(name).is_some() {
                return Some(registry);
            }
        }
        let registry = self.registry();
        registry.tool(name).is_some().then_some(registry)
    }

    /// The observer, once set.
    pub(crate) fn observer(&self) -> Option<&Observer> {
        self.observer.get()
    }

    fn observe(&self, record: &CallRecord<'_>) {
        match self.observer.get() {
            Some(observer) => observer.call_finished(record),
            None => crate::observe::metrics::call_finished(record),
        }
    }

    /// A snapshot of the current registry.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the registry; calls already running keep their snapshot.
    /// Plugins listed from the cache are described again in the background.
    pub fn replace_registry(&self, registry: Registry) {
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(registry);
        crate::mcp::primitives::revalidate_cached(self);
    }

    /// Calls the tool exposed as `name`. Tool failures, limit hits, bad
    /// arguments and a cancellation are `Ok` results with `isError: true`
    /// and a [`FailureCode`]; only an unknown tool is an `Err`. `client`
    /// carries the client's progress and log sinks and its cancellation;
    /// `origin`, who called and the trace the request belongs to (recorded
    /// with the call).
    pub async fn call(
        &self,
        name: &str,
        arguments: Option<JsonObject>,
        client: ClientLinks,
        origin: &CallOrigin,
    ) -> Result<CallToolResult, DispatchError> {
        let registry = self
            .registry_with_tool(name)
            .await
            .ok_or_else(|| DispatchError::UnknownTool(name.to_string()))?;
        let entry = registry
            .tool(name)
            .ok_or_else(|| DispatchError::UnknownTool(name.to_string()))?;
        let started = Instant::now();
        let started_at = SystemTime::now();
        let arguments = Value::Object(arguments.unwrap_or_default());
        let plugin = &entry.plugin;
        // Hands the call's record to the observers.
        let record = |outcome: Outcome, stats: Option<&CallStats>, denials: &[Denial]| {
            self.observe(&CallRecord {
                tool: name,
                plugin: &plugin.name,
                local_tool: &entry.local_name,
                duration: started.elapsed(),
                outcome,
                stats,
                denials,
                arguments: &arguments,
                principal: origin.principal.as_deref().map(|p| Caller {
                    id: &p.id,
                    label: &p.label,
                }),
                started: started_at,
                limits: &plugin.limits,
                traceparent: origin.traceparent.as_deref(),
            });
        };
        // A call that ends before its plugin runs: recorded, and answered
        // with `code` and `message`.
        let refused = |outcome: Outcome,
                       code: FailureCode,
                       message: String|
         -> Result<CallToolResult, DispatchError> {
            record(outcome, None, &[]);
            Ok(error_result(&code, message))
        };
        if let Some(message) = schema_violations(entry, &arguments) {
            tracing::info!(tool = name, "arguments rejected by the input schema");
            return refused(
                Outcome::InvalidArguments,
                FailureCode::InvalidArguments,
                message,
            );
        }
        if let Err(stopped) = self
            .confirm(
                entry,
                name,
                &arguments,
                client.peer.as_ref(),
                client.cancel.as_ref(),
            )
            .await
        {
            return match stopped {
                Stopped::Deferred => {
                    record(Outcome::InputRequired, None, &[]);
                    Err(DispatchError::Deferred)
                }
                Stopped::Refused(code, message) => {
                    tracing::info!(tool = name, "{message}");
                    let outcome = match code {
                        FailureCode::Cancelled => Outcome::Cancelled,
                        _ => Outcome::ConsentRefused,
                    };
                    refused(outcome, code, message)
                }
            };
        }
        let compiled = match plugin.code.get().await {
            Ok(compiled) => compiled,
            Err(error) => {
                tracing::error!(plugin = %plugin.name, %error, "the plugin's code cannot be had");
                let message = format!("the plugin `{}` cannot run: {error}", plugin.name);
                return refused(Outcome::Internal, FailureCode::Internal, message);
            }
        };
        let cancelled = || {
            tracing::info!(
                tool = name,
                "call cancelled by the client before it started"
            );
            let message = "the call was cancelled by the client before it started".to_owned();
            refused(Outcome::Cancelled, FailureCode::Cancelled, message)
        };
        let cancel = client.cancel.clone();
        let gate = self.gates.get(&plugin.name, plugin.concurrency);
        let _pass = match until_cancelled(cancel.as_ref(), gate.enter(&plugin.name)).await {
            None => return cancelled(),
            Some(Ok(pass)) => pass,
            Some(Err(busy)) => {
                tracing::warn!(tool = name, "{busy}");
                let code = FailureCode::LimitExceeded("queue");
                return refused(Outcome::Limit("queue"), code, busy.to_string());
            }
        };
        let _admission = match until_cancelled(cancel.as_ref(), self.admit(plugin)).await {
            None => return cancelled(),
            Some(Ok(admission)) => admission,
            Some(Err(AdmitError::ShuttingDown)) => return Err(DispatchError::ShuttingDown),
            Some(Err(AdmitError::Budget(exhausted))) => {
                let code = FailureCode::LimitExceeded("memory_budget");
                return refused(Outcome::Limit("memory_budget"), code, exhausted.to_string());
            }
        };
        let _in_flight = crate::observe::metrics::call_in_flight();
        let ctx = CallContext {
            plugin: plugin.name.as_str().into(),
            tool: Some(entry.local_name.as_str().into()),
            client,
            ahead: plugin.makes_ahead(),
        };
        let report = self
            .sandbox
            .call(
                compiled,
                &plugin.limits,
                &plugin.grants,
                ctx,
                &entry.local_name,
                &arguments.to_string(),
            )
            .await;
        log_guest_output(
            &plugin.name,
            Some(&entry.local_name),
            &report.stdout,
            &report.stderr,
        );
        let stats = &report.stats;
        let mut observed = outcome_of(&report.outcome);
        let result = match report.outcome {
            Ok(Ok(output)) => success(entry, output),
            Ok(Err(error)) => Err(tool_error_message(&error)),
            Err(error) => Err(call_error_message(&error)),
        };
        // A failure caused by a missing grant says so, whatever the plugin
        // made of the denied operation.
        let result = result.map_err(|message| with_denials(message, &report.denials));
        if result.is_err() && observed == Outcome::Ok {
            observed = Outcome::BadOutput;
        }
        record(observed, Some(stats), &report.denials);
        crate::mcp::permission::settle(self, name, plugin, &report.permissions);
        tracing::info!(
            target: "warden::call",
            tool = name,
            plugin = %plugin.name,
            outcome = observed.label(),
            total_us = started.elapsed().as_micros() as u64,
            instantiate_us = stats.instantiate.as_micros() as u64,
            ready = stats.ready,
            call_us = stats.call.as_micros() as u64,
            fuel_used = stats.fuel_used,
            peak_memory = stats.peak_memory,
            output_bytes = stats.output_bytes,
            "tool call finished"
        );
        crate::mcp::primitives::announce(self, plugin, &report.announcements).await;
        // The run stopped to ask its client: the client's retry runs it again.
        if observed == Outcome::InputRequired {
            return Err(DispatchError::Deferred);
        }
        Ok(result.unwrap_or_else(|message| {
            tracing::warn!(tool = name, plugin = %plugin.name, "tool call failed: {message}");
            error_result(&FailureCode::of(observed, &report.denials), message)
        }))
    }
}

/// Why a call stopped before its plugin ran.
enum Stopped {
    /// It waits for the person's answer (an `input_required` round).
    Deferred,
    /// Refused with this code and message.
    Refused(FailureCode, String),
}

impl Dispatcher {
    /// Asks the person to confirm the call when its tool needs it (see
    /// [`crate::policy::consent`]); every decision is recorded.
    async fn confirm(
        &self,
        entry: &ToolEntry,
        name: &str,
        arguments: &Value,
        peer: Option<&Arc<dyn ClientPeer>>,
        cancel: Option<&tokio_util::sync::CancellationToken>,
    ) -> Result<(), Stopped> {
        let plugin = &entry.plugin;
        let record = |decision: &str| {
            if let Some(observer) = self.observer.get() {
                observer.consent(name, &plugin.name, decision, arguments);
            } else {
                tracing::info!(target: "warden::consent", tool = name, decision, "consent decided");
            }
        };
        match plugin
            .consent
            .need(&entry.local_name, consent::claims(&entry.tool))
        {
            ConsentNeed::None => return Ok(()),
            ConsentNeed::AutoApproved => {
                record("auto_approved");
                return Ok(());
            }
            ConsentNeed::Ask => {}
        }
        let asking = consent::ask(
            peer,
            name,
            &plugin.name,
            &entry.local_name,
            arguments,
            plugin.limits.client_wait,
        );
        let Some(decision) = until_cancelled(cancel, asking).await else {
            return Err(Stopped::Refused(
                FailureCode::Cancelled,
                "the call was cancelled by the client while the person was asked to confirm it"
                    .into(),
            ));
        };
        record(decision.label());
        match decision {
            Decision::Approved => Ok(()),
            Decision::Deferred => Err(Stopped::Deferred),
            Decision::Declined(message) => {
                Err(Stopped::Refused(FailureCode::ConsentDeclined, message))
            }
            Decision::Required(message) => {
                Err(Stopped::Refused(FailureCode::ConsentRequired, message))
            }
        }
    }
}

/// `future`'s output, or `None` when `cancel` fires first.
async fn until_cancelled<F: std::future::Future>(
    cancel: Option<&tokio_util::sync::CancellationToken>,
    future: F,
) -> Option<F::Output> {
    match cancel {
        None => Some(future.await),
        Some(cancel) => tokio::select! {
            biased;
            () = cancel.cancelled() => None,
            output = future => Some(output),
        },
    }
}

/// `None` when the arguments satisfy the tool's input schema, else a message
/// listing the violations.
fn schema_violations(entry: &ToolEntry, arguments: &Value) -> Option<String> {
    let validator = match entry.input_validator.get() {
        Ok(validator) => validator,
        Err(error) => return Some(format!("`{}` cannot be called: {error}", entry.tool.name)),
    };
    let violations: Vec<String> = validator
        .iter_errors(arguments)
        .take(MAX_REPORTED_VIOLATIONS + 1)
        .map(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() {
                format!("- {e}")
            } else {
                format!("- at {path}: {e}")
            }
        })
        .collect();
    if violations.is_empty() {
        return None;
    }
    let shown = violations.len().min(MAX_REPORTED_VIOLATIONS);
    let mut message = format!(
        "invalid arguments for `{}`: they do not match the tool's input schema\n{}",
        entry.tool.name,
        violations[..shown].join("\n")
    );
    if violations.len() > shown {
        message.push_str("\n- ... and more");
    }
    Some(message)
}

/// Sends what a guest wrote to stdout and stderr to the host's log.
pub fn log_guest_output(plugin: &str, tool: Option<&str>, stdout: &Captured, stderr: &Captured) {
    let tool = tool.unwrap_or("");
    for (stream, captured) in [("stdout", stdout), ("stderr", stderr)] {
        if captured.bytes.is_empty() && captured.dropped == 0 {
            continue;
        }
        let text = String::from_utf8_lossy(&captured.bytes);
        // Escaped here too, not only by the text log's formatter, so that
        // the message is one line for every consumer of every log format.
        let text = crate::observe::render::escape(text.trim_end());
        tracing::info!(
            target: "warden::plugin",
            plugin,
            tool,
            stream,
            dropped_bytes = captured.dropped,
            "{text}"
        );
    }
}
