//! The per-call host state and the plugin-world interfaces the host
//! implements for the guest: `log`, `progress` and `notify` (`client` is in
//! `client/`).

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::asked_dirs::CallDirs;
use super::bindings::{self, Level, ListKind};
use super::client::CallClient;
use super::files::CallFiles;
use super::limiter::CallLimiter;
use super::progress::ProgressReport;
use super::{Announcements, CallContext, MAX_LOG_MESSAGE, MAX_UPDATED_URIS, http, truncate};

/// The per-call host state stored in each `Store`.
pub(super) struct HostState {
    pub(super) wasi: WasiCtx,
    /// Every WASI resource of the call; capped at `max_handles` entries.
    pub(super) table: ResourceTable,
    pub(super) http: WasiHttpCtx,
    pub(super) http_hooks: http::OutboundHttp,
    pub(super) client: CallClient,
    pub(super) limiter: CallLimiter,
    pub(super) log_budget: u64,
    pub(super) announcements: Announcements,
    pub(super) ctx: CallContext,
    /// Declared after `table`, so that the call's descriptors are closed
    /// before it gives their share of the pool back.
    pub(super) files: CallFiles,
    /// Held directories the person may be asked about.
    pub(super) asked_dirs: CallDirs,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl bindings::warden::plugin::types::Host for HostState {}

impl bindings::warden::plugin::log::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let cost = message.len() as u64;
        if self.log_budget == 0 {
            return;
        }
        self.log_budget = self.log_budget.saturating_sub(cost);
        let message = truncate(&message, MAX_LOG_MESSAGE);
        if let Some(client) = &self.ctx.client.log {
            client.push(level, &message);
        }
        // One line in every log format, for every consumer of the log.
        let message = crate::observe::render::escape(&message);
        let plugin = &*self.ctx.plugin;
        let tool = self.ctx.tool.as_deref().unwrap_or("");
        match level {
            Level::Trace => tracing::trace!(target: "warden::plugin", plugin, tool, "{message}"),
            Level::Debug => tracing::debug!(target: "warden::plugin", plugin, tool, "{message}"),
            Level::Info => tracing::info!(target: "warden::plugin", plugin, tool, "{message}"),
            Level::Warn => tracing::warn!(target: "warden::plugin", plugin, tool, "{message}"),
            Level::Error => tracing::error!(target: "warden::plugin", plugin, tool, "{message}"),
        }
    }
}

impl bindings::warden::plugin::progress::Host for HostState {
    fn report(&mut self, progress: f64, total: Option<f64>, message: Option<String>) {
        if let Some(sink) = &self.ctx.client.progress {
            // Only the latest report is kept; the forwarder sends at most a
            // few per second.
            sink.report(ProgressReport {
                progress,
                total,
                message: message.map(|m| truncate(&m, MAX_LOG_MESSAGE)),
            });
        }
    }
}

impl bindings::warden::plugin::notify::Host for HostState {
    fn list_changed(&mut self, kind: ListKind) {
        let flag = match kind {
            ListKind::Tools => &mut self.announcements.tools,
            ListKind::Prompts => &mut self.announcements.prompts,
            ListKind::Resources => &mut self.announcements.resources,
        };
        *flag = true;
    }

    fn resource_updated(&mut self, uri: String) {
        let updated = &mut self.announcements.updated;
        if updated.len() < MAX_UPDATED_URIS && !updated.contains(&uri) {
            updated.push(truncate(&uri, MAX_LOG_MESSAGE));
        }
    }
}
