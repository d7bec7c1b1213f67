//! The MCP server: a thin `ServerHandler` over the [`Dispatcher`].
//!
//! Two error channels, as MCP defines them: a tool that failed, hit a limit or
//! got arguments that fail its schema answers with a `CallToolResult` whose
//! `isError` is true; an unknown tool or a bad cursor is a JSON-RPC
//! `invalid_params` error. rmcp runs every request in its own task, so a slow
//! call never delays `tools/list` or other calls.
//!
//! Resources, prompts and completions are declared as capabilities only when
//! at least one loaded plugin offers them; otherwise their methods answer
//! `method not found`. A missing resource is `-32002` for 2025-11-25 clients
//! and `-32602` (invalid params) for 2026-07-28 clients, as each revision
//! specifies.

// MCP logging (`logging/setLevel`, `LoggingLevel`) is deprecated by SEP-2577, and still served.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestMethod, CompleteRequestParams,
    CompleteResult, GetPromptRequestMethod, GetPromptRequestParams, GetPromptResponse,
    Implementation, InitializeRequestParams, InitializeResult, ListPromptsRequestMethod,
    ListPromptsResult, ListResourceTemplatesRequestMethod, ListResourceTemplatesResult,
    ListResourcesRequestMethod, ListResourcesResult, ListToolsResult, LoggingLevel,
    PaginatedRequestParams, PromptsCapability, ReadResourceRequestMethod,
    ReadResourceRequestParams, ReadResourceResponse, ResourcesCapability, ServerCapabilities,
    ServerConfig, SetLevelRequestMethod, SetLevelRequestParams, SubscribeRequestMethod,
    SubscribeRequestParams, SubscriptionFilter, Tool, ToolsCapability, UnsubscribeRequestMethod,
    UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};

mod request;

use request::{
    cancellable, client_of, is_stateless_revision, not_served, page, primitive_error, round,
    traced, traceparent_of,
};

use crate::mcp::access::{self, Viewer};
use crate::mcp::announce::Session;
use crate::mcp::call_result::{FailureCode, error_result};
use crate::mcp::catalog::Offers;
use crate::mcp::client_peer;
use crate::mcp::dispatch::{CallOrigin, DispatchError, Dispatcher};
use crate::mcp::forward::Forwarders;
use crate::mcp::primitives::{self, PrimitiveError};
use crate::mcp::rounds::Round;
use crate::policy::access::AccessRules;
use crate::sandbox::ClientLinks;

/// Warden's MCP handler. Each instance is one client session; all sessions
/// share the dispatcher.
#[derive(Debug, Clone)]
pub struct WardenServer {
    dispatcher: Arc<Dispatcher>,
    session: Arc<Session>,
    /// The level the client set with `logging/setLevel` (2025-11-25); no
    /// log messages go to the client before it sets one.
    log_level: Arc<Mutex<Option<LoggingLevel>>>,
    /// What each principal sees (`[[auth.rules]]`; open by default).
    access: Arc<AccessRules>,
}

impl WardenServer {
    /// A handler (one session) serving the dispatcher's plugins.
    pub fn new(dispatcher: Arc<Dispatcher>) -> Self {
        let session = Arc::new(Session::default());
        dispatcher.announcer().add_session(&session);
        Self {
            dispatcher,
            session,
            log_level: Arc::default(),
            access: Arc::default(),
        }
    }

    /// The same handler, showing each request's principal only what
    /// `access` lets it use.
    pub fn with_access(mut self, access: Arc<AccessRules>) -> Self {
        self.access = access;
        self
    }

    /// Runs `request` (`method` on `target`), exporting its span when OTLP
    /// is on.
    async fn traced<T>(
        &self,
        context: &RequestContext<RoleServer>,
        method: &'static str,
        target: Option<&str>,
        request: impl std::future::Future<Output = Result<T, ErrorData>>,
    ) -> Result<T, ErrorData> {
        let traced = traced(&self.dispatcher, context, method, target);
        let result = request.await;
        if let Some(traced) = traced {
            traced.finish(&result);
        }
        result
    }

    fn viewer(&self, context: &RequestContext<RoleServer>) -> Viewer<'_> {
        Viewer::of(&self.access, context)
    }

    /// The level of log messages this request's client wants: the
    /// request's `_meta` `io.modelcontextprotocol/logLevel` at 2026-07-28,
    /// the session's `logging/setLevel` before; `None` for none.
    fn log_level(&self, context: &RequestContext<RoleServer>) -> Option<LoggingLevel> {
        if is_stateless_revision(context) {
            context.meta.log_level()
        } else {
            *self.log_level.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// What the server offers: every list when it serves a plugins folder
    /// (lists stay empty until a plugin fills them, and clients ask again
    /// on `list_changed`); otherwise what its plugins offer.
    /// The client's log sink (at its level, messages from `logger`),
    /// progress and cancellation for a request of a plugin.
    fn links(
        &self,
        context: &RequestContext<RoleServer>,
        logger: Option<String>,
    ) -> (Forwarders, ClientLinks) {
        let level = self.log_level(context);
        let (forwarders, mut links) = Forwarders::start(context, level, level.and(logger));
        links.cancel = Some(context.ct.clone());
        (forwarders, links)
    }

    /// Whether the plugin serving `uri` (if any) is open to the request's
    /// principal.
    fn opens_uri(&self, uri: &str, context: &RequestContext<RoleServer>) -> bool {
        let registry = self.dispatcher.registry();
        let plugin = registry.resolve_uri(uri).map(|(p, _)| p.name.clone());
        plugin.is_none_or(|p| self.viewer(context).opens(&registry, &p))
    }

    fn offers(&self) -> Offers {
        // A server whose plugins folder can change (`serve`) offers every
        // list from the start: a plugin with resources, prompts or
        // completions may arrive with any reload, and a client learns a
        // server's capabilities only when it connects.
        if self.dispatcher.background().is_some() {
            return Offers {
                resources: true,
                prompts: true,
                completions: true,
            };
        }
        self.dispatcher.registry().catalog().offers()
    }
}

impl ServerHandler for WardenServer {
    fn get_info(&self) -> ServerConfig {
        let offers = self.offers();
        let mut capabilities = ServerCapabilities::default();
        let mut tools = ToolsCapability::default();
        tools.list_changed = Some(true);
        capabilities.tools = Some(tools);
        if offers.resources {
            let mut resources = ResourcesCapability::default();
            resources.list_changed = Some(true);
            resources.subscribe = Some(true);
            capabilities.resources = Some(resources);
        }
        if offers.prompts {
            let mut prompts = PromptsCapability::default();
            prompts.list_changed = Some(true);
            capabilities.prompts = Some(prompts);
        }
        if offers.completions {
            capabilities.completions = Some(Default::default());
        }
        // Plugin log messages, at the level the client asks for.
        capabilities.logging = Some(Default::default());
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("warden", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Warden hosts tools, resources and prompts from sandboxed WebAssembly \
                 plugins. Tool and prompt names are PLUGIN_NAME; resource URIs are \
                 PLUGIN+URI. A tool result with isError explains what went wrong, \
                 including limits the call hit.",
            )
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        // Sessions on the initialize lifecycle get list_changed
        // notifications on the session itself.
        self.session.attach(context.peer.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.traced(&context, "tools/list", None, async {
            let registry = self.dispatcher.registry();
            let viewer = self.viewer(&context);
            let tools: Vec<Tool> = registry
                .tools()
                .filter(|entry| viewer.sees_tool(&entry.tool.name))
                .map(|entry| entry.tool.clone())
                .collect();
            let (tools, next) = page(&tools, request)?;
            let mut result = ListToolsResult::with_all_items(tools);
            result.next_cursor = next;
            Ok(result)
        })
        .await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.traced(&context, "resources/list", None, async {
            let registry = self.dispatcher.registry();
            if !self.offers().resources {
                return Err(ErrorData::method_not_found::<ListResourcesRequestMethod>());
            }
            let open = self.viewer(&context).open_plugins(&registry);
            let resources: Vec<_> = registry
                .catalog()
                .resources()
                .iter()
                .filter(|r| open.contains(&r.plugin.name))
                .map(|r| r.resource.clone())
                .collect();
            let (resources, next) = page(&resources, request)?;
            let mut result = ListResourcesResult::with_all_items(resources);
            result.next_cursor = next;
            Ok(result)
        })
        .await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.traced(&context, "resources/templates/list", None, async {
            let registry = self.dispatcher.registry();
            if !self.offers().resources {
                return Err(ErrorData::method_not_found::<
                    ListResourceTemplatesRequestMethod,
                >());
            }
            let open = self.viewer(&context).open_plugins(&registry);
            let templates: Vec<_> = registry
                .catalog()
                .templates()
                .iter()
                .filter(|t| open.contains(&t.plugin.name))
                .map(|t| t.template.clone())
                .collect();
            let (templates, next) = page(&templates, request)?;
            let mut result = ListResourceTemplatesResult::with_all_items(templates);
            result.next_cursor = next;
            Ok(result)
        })
        .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let target = request.uri.clone();
        self.traced(&context, "resources/read", Some(target.as_str()), async {
            if !self.offers().resources {
                return Err(ErrorData::method_not_found::<ReadResourceRequestMethod>());
            }
            if !self.opens_uri(&request.uri, &context) {
                return Err(not_served(request.uri, &context));
            }
            let (forwarders, links) = self.links(&context, None);
            let read = primitives::read_resource(&self.dispatcher, &request.uri, links);
            let result = cancellable(&context, "resources/read", read).await;
            forwarders.finish().await;
            result?
                .map(Into::into)
                .map_err(|e| primitive_error(e, &context))
        })
        .await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if !self.offers().resources {
            return Err(ErrorData::method_not_found::<SubscribeRequestMethod>());
        }
        let registry = self.dispatcher.registry();
        let known = registry
            .resolve_uri(&request.uri)
            .is_some_and(|(plugin, _)| plugin.code.exports().resources)
            && self.opens_uri(&request.uri, &context);
        if !known {
            return Err(not_served(request.uri, &context));
        }
        self.session.subscribe(&request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if !self.offers().resources {
            return Err(ErrorData::method_not_found::<UnsubscribeRequestMethod>());
        }
        self.session.unsubscribe(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // rmcp narrows this to what the capabilities advertise.
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let sink = context.sink().clone();
        self.dispatcher.announcer().add_stream(sink.clone());
        context.cancelled().await;
        self.dispatcher.announcer().remove_stream(&sink);
        Ok(())
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.traced(&context, "prompts/list", None, async {
            let registry = self.dispatcher.registry();
            if !self.offers().prompts {
                return Err(ErrorData::method_not_found::<ListPromptsRequestMethod>());
            }
            let open = self.viewer(&context).open_plugins(&registry);
            let prompts: Vec<_> = registry
                .catalog()
                .prompts()
                .filter(|p| open.contains(&p.plugin.name))
                .map(|p| p.prompt.clone())
                .collect();
            let (prompts, next) = page(&prompts, request)?;
            let mut result = ListPromptsResult::with_all_items(prompts);
            result.next_cursor = next;
            Ok(result)
        })
        .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let target = request.name.to_string();
        self.traced(&context, "prompts/get", Some(target.as_str()), async {
            if !self.offers().prompts {
                return Err(ErrorData::method_not_found::<GetPromptRequestMethod>());
            }
            let support = client_peer::support_of(context.client_capabilities().as_ref());
            let (client_wait, logger) = {
                let registry = self.dispatcher.registry();
                let entry = registry.catalog().prompt(&request.name);
                if entry.is_some_and(|e| !self.viewer(&context).opens(&registry, &e.plugin.name)) {
                    return Err(ErrorData::invalid_params(
                        format!("unknown prompt `{}`", request.name),
                        None,
                    ));
                }
                (
                    entry.map(|e| e.plugin.limits.client_wait),
                    entry.map(|e| e.plugin.name.clone()),
                )
            };
            let (peer, replay) = client_of(
                &context,
                support,
                "prompts/get",
                &request.name,
                request.arguments.as_ref(),
                request.request_state.as_deref(),
                request.input_responses.as_ref(),
                client_wait.unwrap_or_default(),
            )?;
            let (forwarders, mut links) = self.links(&context, logger);
            links.peer = Some(peer);
            let get =
                primitives::get_prompt(&self.dispatcher, &request.name, request.arguments, links);
            let result = cancellable(&context, "prompts/get", get).await;
            forwarders.finish().await;
            match result? {
                Err(PrimitiveError::Deferred) => match round(replay)? {
                    Round::Ask(round) => Ok(GetPromptResponse::InputRequired(round)),
                    Round::TooLarge(message) => Err(ErrorData::internal_error(message, None)),
                },
                result => result
                    .map(Into::into)
                    .map_err(|e| primitive_error(e, &context)),
            }
        })
        .await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.traced(&context, "completion/complete", None, async {
            if !self.offers().completions {
                return Err(ErrorData::method_not_found::<CompleteRequestMethod>());
            }
            let registry = self.dispatcher.registry();
            if !self
                .viewer(&context)
                .opens_reference(&registry, &request.r#ref)
            {
                return Err(ErrorData::invalid_params(
                    "unknown completion reference",
                    None,
                ));
            }
            drop(registry);
            let (forwarders, links) = self.links(&context, None);
            let complete = primitives::complete(
                &self.dispatcher,
                &request.r#ref,
                &request.argument,
                request.context,
                links,
            );
            let result = cancellable(&context, "completion/complete", complete).await;
            forwarders.finish().await;
            result?
                .map(CompleteResult::new)
                .map_err(|e| primitive_error(e, &context))
        })
        .await
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
        let support = client_peer::support_of(context.client_capabilities().as_ref());
        let (logger, requires, client_wait) = {
            let registry = self.dispatcher.registry();
            let entry = registry.tool(&request.name);
            (
                entry.map(|e| e.plugin.name.clone()),
                entry.map(|e| e.requires.clone()).unwrap_or_default(),
                entry.map(|e| e.plugin.limits.client_wait),
            )
        };
        if let Some(error) = client_peer::missing_features(&requires, support) {
            return Err(error);
        }
        // On 2026-07-28 the client is asked in input_required rounds.
        let (peer, replay) = client_of(
            &context,
            support,
            "tools/call",
            &request.name,
            request.arguments.as_ref(),
            request.request_state.as_deref(),
            request.input_responses.as_ref(),
            client_wait.unwrap_or_default(),
        )?;
        // A cancelled call ends in the sandbox (the instance is dropped at
        // its next epoch tick) and is recorded like any other outcome.
        let (forwarders, mut links) = self.links(&context, logger);
        links.peer = Some(peer);
        let origin = CallOrigin {
            principal: access::principal_of(&context),
            traceparent: traceparent_of(&context),
        };
        let result = self
            .dispatcher
            .call(&request.name, request.arguments, links, &origin)
            .await;
        forwarders.finish().await;
        if context.ct.is_cancelled() {
            tracing::info!(tool = %request.name, "call cancelled by the client");
        }
        match result {
            Ok(result) => Ok(result.into()),
            Err(DispatchError::Deferred) => match round(replay)? {
                Round::Ask(round) => Ok(CallToolResponse::InputRequired(round)),
                Round::TooLarge(message) => {
                    Ok(error_result(&FailureCode::LimitExceeded("request_state"), message).into())
                }
            },
            Err(e @ DispatchError::UnknownTool(_)) => {
                Err(ErrorData::invalid_params(e.to_string(), None))
            }
            Err(e) => Err(ErrorData::internal_error(e.to_string(), None)),
        }
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if is_stateless_revision(&context) {
            // 2026-07-28 removed the method: a level comes with each request.
            return Err(ErrorData::method_not_found::<SetLevelRequestMethod>());
        }
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner()) = Some(request.level);
        Ok(())
    }
}
