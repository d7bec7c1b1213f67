//! The MCP server: a thin `ServerHandler` over the [`Dispatcher`].
//!
//! Two error channels, as MCP defines them: a tool that failed, hit a limit or
//! got arguments that fail its schema answers with a `CallToolResult` whose
//! `isError` is true; an unknown tool or a bad cursor is a JSON-RPC
//! `invalid_params` error. rmcp runs every request in its own task, so a slow
//! call never delays `tools/list` or other calls.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tokio::sync::mpsc;

use crate::dispatch::{DispatchError, Dispatcher};
use crate::sandbox::ProgressReport;

/// Tools per `tools/list` page.
const PAGE_SIZE: usize = 200;
/// Progress reports buffered per call before further ones are dropped.
const PROGRESS_BUFFER: usize = 64;

/// Warden's MCP handler.
#[derive(Debug, Clone)]
pub struct WardenServer {
    dispatcher: Arc<Dispatcher>,
}

impl WardenServer {
    /// A handler serving the dispatcher's tools.
    pub fn new(dispatcher: Arc<Dispatcher>) -> Self {
        Self { dispatcher }
    }
}

impl ServerHandler for WardenServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("warden", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Warden hosts tools from sandboxed WebAssembly plugins. Tool names are \
             PLUGIN_TOOL. A tool result with isError explains what went wrong, \
             including limits the call hit.",
            )
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let registry = self.dispatcher.registry();
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(cursor) => cursor.parse::<usize>().map_err(|_| {
                ErrorData::invalid_params(format!("invalid cursor `{cursor}`"), None)
            })?,
        };
        let tools: Vec<Tool> = registry
            .tools()
            .skip(start)
            .take(PAGE_SIZE)
            .map(|entry| entry.tool.clone())
            .collect();
        let end = start + tools.len();
        let mut result = ListToolsResult::with_all_items(tools);
        if registry.tools().nth(end).is_some() {
            result.next_cursor = Some(end.to_string());
        }
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.dispatcher
            .registry()
            .tool(name)
            .map(|entry| entry.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // Progress reports are forwarded by a task of their own; it ends when
        // the call's sandbox drops its sender, and is awaited so every report
        // reaches the client before the result does.
        let (progress, forwarder) = match context.meta.get_progress_token() {
            None => (None, None),
            Some(token) => {
                let (tx, mut rx) = mpsc::channel::<ProgressReport>(PROGRESS_BUFFER);
                let peer = context.peer.clone();
                let forwarder = tokio::spawn(async move {
                    while let Some(report) = rx.recv().await {
                        let mut param =
                            ProgressNotificationParam::new(token.clone(), report.progress);
                        param.total = report.total;
                        param.message = report.message;
                        if let Err(e) = peer.notify_progress(param).await {
                            tracing::debug!("progress notification not sent: {e}");
                            break;
                        }
                    }
                });
                (Some(tx), Some(forwarder))
            }
        };
        let call = self
            .dispatcher
            .call(&request.name, request.arguments, progress);
        let result = tokio::select! {
            result = call => result,
            () = context.ct.cancelled() => {
                tracing::info!(tool = %request.name, "call cancelled by the client");
                return Err(ErrorData::internal_error("the call was cancelled", None));
            }
        };
        if let Some(forwarder) = forwarder {
            let _ = forwarder.await;
        }
        match result {
            Ok(result) => Ok(result.into()),
            Err(e @ DispatchError::UnknownTool(_)) => {
                Err(ErrorData::invalid_params(e.to_string(), None))
            }
            Err(e) => Err(ErrorData::internal_error(e.to_string(), None)),
        }
    }
}
